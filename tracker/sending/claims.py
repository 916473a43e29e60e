"""Claims: how several machines notifying one SharePoint workbook send each message once.

Every sender (notify, reminders, escalations) claims its messages here before handing them over, and settles
here, at the start of a run, the claims nobody will confirm."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tracker.config import Config
from tracker.errors import ConfigError, TrackerError, WorkbookInUse
from tracker.sending.ledger import instance_id
from tracker.sending.mail import Outgoing
from tracker.sending.sendlog import (
    CLAIMED,
    MESSAGE_KINDS,
    WITHDRAWN,
    is_claim,
    is_withdrawn,
    log_row,
    log_view,
    write_or_keep,
)
from tracker.store.backends import Store
from tracker.store.journal import Journal
from tracker.times import as_utc, iso, utcnow
from tracker.workbook.cell_values import raw_key
from tracker.workbook.edits import Edit, SetCells
from tracker.workbook.reading import Tracker

# --- claims: how several machines notifying one SharePoint workbook send each message once ----------------
#
# A local workbook's writers take turns on the lock beside it. On SharePoint, the Notifications table arbitrates:
# before sending, notify adds each message's log row as a claim (Transport "claimed: sending from HOST (process
# N, tracker T) until TIME"), planned on the newest version. In upload mode the If-Match upload makes that one
# decision: a second machine's upload fails (412) and its plan, run again on the first machine's version, finds
# the claim and backs off. In workbook-api mode the rows are added without a condition, then the table is read
# back: for each message the earliest row (table order, which the Excel service decides) wins, a later claim is
# withdrawn (Transport "withdrawn: ..."; the row stays, since Graph deletes rows only by position, which another
# machine's delete could have shifted). Once the server accepted the message, its claim row becomes the log row
# (same Message-ID).
#
# A claim is not a send. T names the tracker that claimed (this machine and its state folder: the one whose send
# ledger knows whether the message was handed to the mail server). When that tracker runs again it settles its
# own claims from its ledger: handed over without an answer -> "acceptance unknown" (someone must confirm);
# never handed over -> withdrawn and sent. Another tracker leaves the claim alone until TIME (CLAIM_TIMEOUT after
# the claim), then withdraws it and sends the message itself: the claimer never came back to say.
CLAIM_TIMEOUT = timedelta(minutes=15)
_CLAIM = re.compile(r"claimed: sending from (\S*) \(process (\d+)(?:, tracker ([0-9a-f]+))?\)(?: until (\S+))?")


def claim_marker(journal: Journal | None, now: datetime) -> str:
    """The Transport of this process's claims: who claims, and until when others leave the message to it."""
    mine = instance_id(journal)
    tracker = f", tracker {mine}" if mine else ""
    until = (as_utc(now) + CLAIM_TIMEOUT).strftime("%Y-%m-%dT%H:%MZ")
    return f"{CLAIMED} from {socket.gethostname()} (process {os.getpid()}{tracker}) until {until}"


def claimer(row: dict[str, Any]) -> str:
    """Who claimed a message, and where: "Alex on host-1"."""
    match = _CLAIM.fullmatch(str(row.get("transport") or ""))
    who = str(row.get("sent_by") or "someone")
    return f"{who} on {match.group(1)}" if match else who


def claim_expiry(row: dict[str, Any]) -> datetime | None:
    """Until when other trackers leave a claimed message to its claimer (a claim written before claims said so:
    CLAIM_TIMEOUT after it was made)."""
    match = _CLAIM.fullmatch(str(row.get("transport") or ""))
    if match is None:
        return None
    if match.group(4):
        try:
            return as_utc(datetime.fromisoformat(match.group(4).replace("Z", "+00:00")))
        except ValueError:
            pass
    claimed = row.get("sent_at")
    return as_utc(claimed) + CLAIM_TIMEOUT if isinstance(claimed, datetime) else None


def claimed_here(row: dict[str, Any], journal: Journal | None) -> bool:
    """Whether this tracker (this machine and state folder, any process, this one included: a watch's earlier
    tick) made the claim: its send ledger knows what became of it. Asked only before a run claims anything, under
    the notify lock, so such a claim is an earlier run's."""
    match = _CLAIM.fullmatch(str(row.get("transport") or ""))
    mine = instance_id(journal)
    return bool(match and mine and match.group(3) == mine)


def claim_dead(row: dict[str, Any], now: datetime) -> bool:
    """Whether another tracker's claim has expired (its sender never came back to say it was sent)."""
    expiry = claim_expiry(row)
    return expiry is not None and as_utc(now) >= expiry


def same_message(row: dict[str, Any], message: Outgoing) -> bool:
    """Whether a log row is about the same message: event, audience and the state the audience sees."""
    return (
        raw_key(row.get("event_id")) == raw_key(message.event_id)
        and raw_key(row.get("audience")) == raw_key(message.audience)
        and raw_key(row.get("state")) == raw_key(message.state)
    )


def before_us(
    rows: list[dict[str, Any]], message: Outgoing, force: bool, now: datetime, ours: bool = False
) -> dict[str, Any] | None:
    """The first row (in `rows`' order) that rules `message` out: the same message logged, being sent, or of
    unknown fate; with --force only a claim still being sent. With `ours`, our own claim counts too (read back
    after adding it: if it comes first, we won)."""
    for row in rows:
        if is_withdrawn(row) or not same_message(row, message):
            continue
        if raw_key(row.get("message_id")) == raw_key(message.message_id):
            if ours:
                return row
            continue
        if force and not (is_claim(row) and (ours or not claim_dead(row, now))):
            continue
        return row
    return None


def require_claims(tracker: Tracker) -> None:
    """Claims change a Notifications row found by its Message-ID: the schema must say so."""
    if tracker.schema["Notifications"].key != "message_id":
        raise ConfigError(
            'the schema\'s notifications.json lacks "x-key": "message_id", which tracker needs to claim messages on '
            "a SharePoint workbook before sending them; copy that line from tracker's default schema"
        )


@dataclass
class Claimed:
    """What `claim_messages` found: the Transport of this run's claims (None: the sheet could not take them, and the
    messages go out with this machine's lock only, as `warning` says) and, for each message another tracker logged
    or claimed first, that tracker's row."""

    marker: str | None
    first: dict[str, dict[str, Any]] = field(default_factory=dict)  # Message-ID -> the row that came before ours
    warning: str = ""


def claim_messages(
    store: Store,
    config: Config,
    event_id: str,
    messages: list[Outgoing],
    now: datetime,
    status: str,
    force: bool,
) -> Claimed:
    """Claim each message on the Notifications sheet; say which ones another tracker logged or claimed first."""
    marker = claim_marker(store.journal, utcnow())  # until when: from the moment it is claimed
    first: dict[str, dict[str, Any]] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        first.clear()  # planned again on a newer version (412): decide afresh
        kinds = (*MESSAGE_KINDS, *{m.kind for m in messages} - set(MESSAGE_KINDS))  # reminders too
        log = log_view(tracker, store.journal, event_id, kinds)
        claims: list[Edit] = []
        for message in messages:
            row = before_us(log, message, force, now)
            if row is not None:
                first[message.message_id] = row
            else:
                claims.append(log_row(message, config, marker, now, status))
        return claims

    def give_up() -> None:  # claims that may have landed must not stand for messages never sent
        why = f"{WITHDRAWN}: not sent (tracker could not finish claiming it)"
        mine = [m for m in messages if m.message_id not in first]
        edits: list[Edit] = [
            SetCells("Notifications", m.message_id, {"transport": why}, {"transport": marker}) for m in mine
        ]
        write_or_keep(store, edits, f"notify {event_id}: claims withdrawn")

    try:
        store.commit(plan, keep=False)
    except WorkbookInUse as busy:
        return Claimed(
            None,
            warning=f"{event_id}: could not claim the messages on the Notifications sheet before sending ({busy}); "
            "sent with this machine's lock only: a tracker on another machine notifying this event at this very "
            "moment could send them too",
        )
    except TrackerError:
        give_up()
        raise
    try:
        table = store.rows_now("Notifications") if len(first) < len(messages) else None
    except Exception:
        give_up()
        raise
    if table is not None:  # rows were added unconditionally: the earliest row for each message wins
        _withdraw_later_claims(store, event_id, messages, table, first, marker, force, now)
    return Claimed(marker, first)


def _withdraw_later_claims(
    store: Store,
    event_id: str,
    messages: list[Outgoing],
    table: list[dict[str, Any]],
    first: dict[str, dict[str, Any]],
    marker: str,
    force: bool,
    now: datetime,
) -> None:
    """Read back after adding our claims: where another tracker's row comes first, ours is withdrawn."""
    withdraw: list[Edit] = []
    for message in messages:
        if message.message_id in first:
            continue
        row = before_us(table, message, force, now, ours=True)
        if row is None or raw_key(row.get("message_id")) != raw_key(message.message_id):
            first[message.message_id] = row or {"transport": "", "sent_by": "another tracker"}
            who = claimer(row) if row else "someone"
            text = f"{WITHDRAWN}: {who} claimed it first; not sent from here"[:250]
            withdraw.append(SetCells("Notifications", message.message_id, {"transport": text}, {"transport": marker}))
    write_or_keep(store, withdraw, f"notify {event_id}: claims withdrawn")


def settle_claims(
    tracker: Tracker,
    journal: Journal | None,
    now: datetime,
    event_id: str | None = None,
    kinds: tuple[str, ...] | None = None,
) -> list[str]:
    """Claims nobody will confirm, on one event's rows or all of them, of these kinds (None: all): this tracker's
    own from an earlier run (`settle_ledger` ran first, so their messages were never handed to the mail server)
    and other trackers' that expired are withdrawn, so the message goes out again. Returns what was done, one
    line each."""
    if journal is None:
        return []
    rows = log_view(tracker, journal, event_id, kinds)
    edits: list[Edit] = []
    said: list[str] = []
    host = socket.gethostname()
    for row in rows:
        if not is_claim(row) or not row.get("message_id"):
            continue
        what = f"{row.get('event_id')} {row.get('audience')} ({row.get('kind')}: {row.get('subject')})"
        if claimed_here(row, journal):
            text = f"{WITHDRAWN}: never handed to the mail server (tracker stopped after claiming it); sent again"
            said.append(f"{what}: an earlier run claimed it and stopped before handing it over; sending it again")
        elif claim_dead(row, now):
            expiry = claim_expiry(row)
            until = iso(expiry) if expiry else "its time"
            text = f"{WITHDRAWN}: the claim of {claimer(row)} expired at {until} unconfirmed; sent again from {host}"
            said.append(
                f"{what}: {claimer(row)} claimed it and never confirmed it went out (the claim expired at {until}); "
                "sending it from here"
            )
        else:
            continue
        edits.append(
            SetCells(
                "Notifications", str(row["message_id"]), {"transport": text[:250]}, {"transport": row["transport"]}
            )
        )
    if edits:
        journal.add(edits, "claims nobody will confirm withdrawn: their messages go out again")
    return said

"""The Notifications log as every sender reads it: the sheet's rows with the journal's waiting ones, claims and
withdrawn rows told apart, which events an audience has heard of, and the messages of unknown acceptance (handed
to the mail server, no answer) with the send ledger that finds them and the word that settles them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tracker.config import Config
from tracker.sending.ledger import Attempt, SendLedger
from tracker.store.backends import Store
from tracker.store.engine import expected
from tracker.store.journal import Journal
from tracker.times import iso
from tracker.workbook.cell_values import raw_key
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.policy import is_open, update_interval
from tracker.workbook.reading import Tracker

if TYPE_CHECKING:
    from tracker.sending.mail import Outgoing  # (a plain `tracker due` loads no mail)

MESSAGE_KINDS = ("initial", "update", "resolved", "closed")  # the outage emails; reminders are kept apart


def log_view(
    tracker: Tracker, journal: Journal | None, event_id: str | None, kinds: tuple[str, ...] | None = MESSAGE_KINDS
) -> list[dict[str, Any]]:
    """The event's (None: every event's) Notifications rows of these kinds (None: all) as they will be once the
    journal is written (its rows added, its changes to rows made), without withdrawn claims: those messages were
    never sent."""
    key = event_id.casefold() if event_id is not None else None

    def ours(values: Mapping[str, Any]) -> bool:
        return key is None or str(values.get("event_id") or "").casefold() == key

    rows = [dict(r.values) for r in tracker.sheet("Notifications").rows if ours(r.values)]
    if journal is not None:
        by_id = {raw_key(r.get("message_id")): r for r in rows if r.get("message_id")}
        for edit in journal.edits():
            if edit.sheet != "Notifications":
                continue
            if isinstance(edit, AppendRow) and ours(edit.values):
                mid = raw_key(edit.values.get("message_id"))
                if mid and mid in by_id:
                    continue  # on the sheet already (as a claim the edit before this one turns into the log row)
                row = dict(edit.values)
                rows.append(row)
                if mid:
                    by_id[mid] = row
            elif isinstance(edit, SetCells) and raw_key(edit.key) in by_id:
                row = by_id[raw_key(edit.key)]
                if expected(row, edit.expect):  # as the write will apply it: not over what someone wrote since
                    row.update(edit.values)
    return [r for r in rows if not is_withdrawn(r) and (kinds is None or r.get("kind") in kinds or not r.get("kind"))]


def log_rows(tracker: Tracker, journal: Journal | None, event_id: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """The event's Notifications rows of these kinds, the journal's waiting ones included."""
    return log_view(tracker, journal, event_id, kinds)


CLAIMED = "claimed: sending"


WITHDRAWN = "withdrawn"


UNKNOWN = "acceptance unknown"


LEDGER_UNKNOWN = f"{UNKNOWN} (handed to the mail server, then tracker stopped before its answer)"


def is_claim(row: dict[str, Any]) -> bool:
    """A claim row: a message being sent, not yet confirmed as sent."""
    return str(row.get("transport") or "").startswith("claimed:")


def heard_of(tracker: Tracker, audience: str) -> set[str]:
    """The events (casefolded IDs) an audience has had an outage email about: an audience that heard of an event
    hears the rest of it (sticky audiences), on the status page and in reports too, whatever its severity now.
    The one answer notify, publish and report share: log rows still waiting in the journal count (an email sent
    while the workbook was busy was sent), claims and withdrawn rows do not."""
    if not tracker.sheet("Notifications").present:
        return set()
    wanted = audience.casefold()
    return {
        str(row.get("event_id")).casefold()
        for row in log_view(tracker, tracker.journal, None)
        if row.get("event_id") and str(row.get("audience") or "").casefold() == wanted and not is_claim(row)
    }


def is_withdrawn(row: dict[str, Any]) -> bool:
    """A claim another came before: that message was not sent."""
    return str(row.get("transport") or "").startswith(WITHDRAWN)


PART_STATE = re.compile(r"^(.*):(\d+)/(\d+)$")


def ledger_for(journal: Journal | None) -> SendLedger | None:
    """The send ledger beside the journal (so one per workbook, like it)."""
    return SendLedger(journal.companion("sending"), journal.lock_timeout) if journal else None


def settle_ledger(tracker: Tracker, journal: Journal | None, config: Config) -> list[Attempt]:
    """Forget attempts whose message is logged; log the others as "acceptance unknown" (handed to the mail server,
    no answer recorded: never resent without someone's word, see `unconfirmed`) and return them."""
    ledger = ledger_for(journal)
    if ledger is None or journal is None:
        return []
    with journal.locked():
        attempts = ledger.attempts()
        if not attempts:
            return []
        sheet = [r for r in tracker.sheet("Notifications").rows if r["message_id"]]
        logged = {str(r["message_id"]) for r in sheet if not is_claim(r.values)}  # a claim is not a log row yet
        claimed = {str(r["message_id"]): str(r["transport"]) for r in sheet if is_claim(r.values)}
        logged |= {
            str(e.values.get("message_id"))
            for e in journal.edits()
            if isinstance(e, AppendRow) and e.sheet == "Notifications"
        }
        unknown = [a for a in attempts if a.message_id not in logged]
        if unknown:
            journal.add(
                unknown_edits(unknown, claimed, config, LEDGER_UNKNOWN),
                "sent or not: tracker stopped between handing the message over and recording it",
            )
        ledger.forget({a.message_id for a in attempts})
    return unknown


def unknown_edits(attempts: list[Attempt], claimed: dict[str, str], config: Config, text: str) -> list[Edit]:
    """The Notifications rows of messages whose acceptance is unknown: the claim row turned into it (`claimed`:
    Message-ID -> the claim's Transport), else a new row."""
    edits: list[Edit] = [
        SetCells("Notifications", a.message_id, {"transport": text}, {"transport": claimed[a.message_id]})
        for a in attempts
        if a.message_id in claimed
    ]
    edits += [
        AppendRow(
            "Notifications",
            {
                "sent_at": datetime.fromisoformat(a.at.replace("Z", "+00:00")),
                "event_id": a.event_id,
                "audience": a.audience,
                "kind": a.kind,
                "subject": a.subject,
                "recipients": a.recipients,
                "message_id": a.message_id,
                "transport": text,
                "sent_by": config.user,
                "state": a.state,
            },
            unique="message_id",
        )
        for a in attempts
    ]
    return edits


@dataclass(frozen=True)
class Unconfirmed:
    """A message handed to the mail server whose answer never came: it may or may not have arrived. It is not sent
    again by itself (that could send it twice), and notify, watch and due say so (exit 1) until someone confirms."""

    event_id: str
    audience: str
    kind: str
    subject: str
    message_id: str
    at: datetime | None
    by: str
    transport: str
    state: str = ""

    def advice(self) -> str:
        """What to do about it."""
        return (
            f"ask a recipient or check the mail server's log, then `tracker notify {self.event_id} --confirm-sent` "
            f"if it arrived, or `tracker notify {self.event_id} --confirm-lost` to have it sent again"
        )


def unconfirmed(tracker: Tracker, journal: Journal | None, event_id: str | None = None) -> list[Unconfirmed]:
    """The messages of one event (None: all) whose acceptance is unknown and nobody has confirmed, nor sent again
    (--force) or superseded by a later message to the same person or audience (see `_thread`)."""
    if not tracker.sheet("Notifications").present:
        return []
    rows = log_view(tracker, journal, event_id, None)
    out = []
    for index, row in enumerate(rows):
        if not str(row.get("transport") or "").startswith(UNKNOWN):
            continue
        again = [
            r
            for r in rows[index + 1 :]
            if thread(r) == thread(row) and not is_claim(r) and not str(r.get("transport") or "").startswith(UNKNOWN)
        ]
        if again:
            continue
        when = row.get("sent_at")
        out.append(
            Unconfirmed(
                str(row.get("event_id") or ""),
                str(row.get("audience") or ""),
                str(row.get("kind") or ""),
                str(row.get("subject") or ""),
                str(row.get("message_id") or ""),
                when if isinstance(when, datetime) else None,
                str(row.get("sent_by") or ""),
                str(row.get("transport") or ""),
                str(row.get("state") or ""),
            )
        )
    return out


def thread(row: dict[str, Any]) -> tuple[str, str, str, str]:
    """Whose messages supersede one another: the event's outage emails to one audience (the newest carries all the
    news; a list sent in parts: to the same part), its reminders to one person, its escalations to one person."""
    kind = str(row.get("kind") or "")
    part = PART_STATE.match(str(row.get("state") or ""))
    return (
        raw_key(row.get("event_id")),
        raw_key(row.get("audience")),
        "outage" if kind in MESSAGE_KINDS else kind,
        f"{part[2]}/{part[3]}" if part else "",
    )


CONFIRMED = "sent: confirmed by"


def confirm_edits(tracker: Tracker, items: list[Unconfirmed], arrived: bool, user: str, now: datetime) -> list[Edit]:
    """Someone's word on messages of unknown acceptance: it arrived (logged as sent; an outage email also moves
    the event's Last Notified and, if it was due by then, Next Update Due, as its send would have), or it did not
    (withdrawn: the next run sends it again)."""
    stamp = iso(now) or ""
    if arrived:
        text = f"{CONFIRMED} {user} at {stamp} (acceptance was unknown)"
    else:
        text = f"{WITHDRAWN}: never arrived, said {user} at {stamp}; sent again by the next run"
    edits: list[Edit] = [
        SetCells("Notifications", item.message_id, {"transport": text[:250]}, {"transport": item.transport})
        for item in items
    ]
    sent: dict[str, datetime] = {}
    for item in items:
        if arrived and item.kind in MESSAGE_KINDS and item.at is not None:
            sent[item.event_id] = max(sent.get(item.event_id, item.at), item.at)
    for key, at in sent.items():
        event = tracker.sheet("Events").find(key)
        if event is None:
            continue
        changes: dict[str, Any] = {}
        last = event["last_notified_at"]
        if not isinstance(last, datetime) or last < at:
            changes["last_notified_at"] = at
        severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
        due = event["next_update_due"]
        if is_open(event["status"]) and severity is not None and (not isinstance(due, datetime) or due <= at):
            changes["next_update_due"] = at + timedelta(minutes=update_interval(severity))
        if changes:
            edits.append(SetCells("Events", str(event["id"]), changes, {name: event[name] for name in changes}))
    return edits


def log_row(message: Outgoing, config: Config, transport: str, now: datetime, status: str) -> AppendRow:
    """The Notifications row of one message sent."""
    return AppendRow(
        "Notifications",
        {
            "sent_at": now,
            "event_id": message.event_id,
            "audience": message.audience,
            "kind": message.kind,
            "event_status": status or None,
            "subject": message.subject,
            "recipients": len(message.recipients) - len(message.refused),
            "message_id": message.message_id,
            "transport": transport,
            "sent_by": config.user,
            "state": message.state,
        },
        unique="message_id",
    )


def write_or_keep(store: Store, edits: list[Edit], reason: str) -> None:
    """Write edits now if the workbook takes them, else keep them in the journal (best effort: on the way out)."""
    if not edits:
        return
    try:
        store.commit(lambda _tracker: edits)
    except Exception as exc:  # noqa: BLE001 - already failing: what matters is that the edits are not lost
        if store.journal is not None and not getattr(exc, "journaled", False):
            try:
                store.journal.add(edits, f"{reason}: {exc}")
            except OSError:
                pass

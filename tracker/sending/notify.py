"""`tracker notify`: the outage emails for one event, per audience, gated, sent once, logged."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tracker.config import Config
from tracker.errors import (
    ConfigError,
    DataError,
    NotifyInterrupted,
    TrackerError,
    UsageError,
    ValidationFailed,
    WorkbookInUse,
)
from tracker.sending.audience import Audience, build_context
from tracker.sending.audience import when as _when
from tracker.sending.ledger import attempt_for, instance_id
from tracker.sending.mail import (
    Outgoing,
    build_message,
    parse_sender,
    recipients_for,
    render,
    split_recipients,
    template_environment,
    template_reads,
)
from tracker.sending.sendlog import (
    CLAIMED,
    LEDGER_UNKNOWN,
    MESSAGE_KINDS,
    PART_STATE,
    UNKNOWN,
    WITHDRAWN,
    Unconfirmed,
    is_claim,
    is_withdrawn,
    ledger_for,
    log_view,
    settle_ledger,
    thread,
    unconfirmed,
    unknown_edits,
)
from tracker.store.backends import Store
from tracker.store.journal import Journal
from tracker.times import as_utc, iso, utcnow
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.policy import is_open, severity_audiences, update_interval
from tracker.workbook.reading import Row, Tracker, raw_key

# Fields an event needs before each kind of message can go out.
REQUIRED = {
    "initial": ("title", "severity", "status", "impact", "detected_at"),
    "update": ("title", "severity", "status", "impact", "detected_at"),
    "resolved": ("title", "severity", "status", "impact", "detected_at", "resolved_at"),
}
REQUIRED["closed"] = REQUIRED["resolved"]
# Row fields that tracker itself moves when it sends: not part of "the event's state".
_NOT_STATE = {"last_notified_at", "next_update_due", "last_update_at"}


@dataclass
class Skipped:
    """An audience whose message for this state was already sent (or is being sent: `claimed_by`)."""

    audience: str
    kind: str
    sent_at: datetime | None
    subject: str
    claimed_by: str = ""  # another tracker claimed it and has not said it was sent yet: "who on which machine"
    unknown: bool = False  # handed to the mail server, no answer: acceptance unknown


@dataclass
class NotifyResult:
    """What notify did."""

    event_id: str
    messages: list[Outgoing] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    preview: list[Path] = field(default_factory=list)
    next_update: datetime | None = None
    journal_reason: str | None = None
    transport: str = ""
    unknown: list[Unconfirmed] = field(default_factory=list)  # sends of unknown acceptance nobody has confirmed
    found_elsewhere: list[Unconfirmed] = field(default_factory=list)  # the same, of other events, found by this run
    warnings: list[str] = field(default_factory=list)

    @property
    def sent(self) -> list[Outgoing]:
        """Messages the transport accepted."""
        return [m for m in self.messages if m.sent]

    @property
    def failed(self) -> list[Outgoing]:
        """Messages that were not sent."""
        return [m for m in self.messages if not m.sent]


def event_state(
    tracker: Tracker, event: Row, reader: Audience | None = None, *, changes: bool = True, bookkeeping: bool = True
) -> str:
    """A fingerprint of everything an audience's email is built from (same state: same email): only the fields
    `reader` may read (all of them without a reader), whatever the rows' order or formatting; without `changes`,
    the Changes rows are left out (the audience's templates never show them); without `bookkeeping`, the timeline
    lines tracker writes itself (an escalation sent) are left out: they are not news to anyone. The defaults are
    the fingerprint tracker 0.2 logged."""
    key = str(event["id"]).casefold()
    values = reader.view("Events", dict(event.values)) if reader else _as_in_0_1(tracker, "Events", event.values)
    parts: list[Any] = [{k: _stable(v) for k, v in values.items() if k not in _NOT_STATE}]
    for sheet in ("Updates", "Changes"):
        if sheet == "Changes" and not changes:
            parts.append([])  # as for an audience that may not read changes: the same fingerprint then
            continue
        if reader is None:  # tracker 0.1's fingerprint: its columns only, every field, every row
            entries = [
                _as_in_0_1(tracker, sheet, r.values)
                for r in tracker.sheet(sheet).rows
                if str(r["event_id"] or "").casefold() == key
            ]
        else:
            entries = [  # an update that says nothing to this audience (no words, no ETA) is not news to it
                {k: v for k, v in e.items() if k not in ("kind", "text")}
                for e in reader.entries(sheet, key, "")
                if ((e["text"] or e.get("eta")) if sheet == "Updates" else _readable(e))
                and (bookkeeping or not is_bookkeeping(e))
            ]
        rows = [json.dumps({k: _stable(v) for k, v in e.items()}, sort_keys=True, default=str) for e in entries]
        parts.append(sorted(rows))  # the rows' order is not state: sorting the sheet in Excel changes nothing
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:16]


BOOKKEEPER = "tracker"  # the Author of the timeline lines tracker writes itself (escalations sent)


def is_bookkeeping(entry: dict[str, Any]) -> bool:
    """A timeline line tracker wrote itself (Author `tracker`, kept internal): a record, not news."""
    return str(entry.get("author") or "").strip().casefold() == BOOKKEEPER and entry.get("internal") == "Yes"


def _readable(entry: dict[str, Any]) -> bool:
    """Whether a row, as an audience sees it, holds anything but its event and time (a Changes row is all
    empty to an audience that may not read changes: not news to it)."""
    return any(v is not None for k, v in entry.items() if k not in ("kind", "text", "event_id", "at"))


def _as_in_0_1(tracker: Tracker, sheet: str, values: dict[str, Any]) -> dict[str, Any]:
    """A row's values as tracker 0.1 saw them: without the columns added since (`x-added`)."""
    fields = tracker.schema[sheet].fields
    return {k: v for k, v in values.items() if k not in fields or not fields[k].added}


def _stable(value: Any) -> Any:
    """A value as the fingerprint sees it: a time to the nearest millisecond (a re-saved workbook's serial
    numbers can come back a microsecond off)."""
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    return value


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


def _same_message(row: dict[str, Any], message: Outgoing) -> bool:
    """Whether a log row is about the same message: event, audience and the state the audience sees."""
    return (
        raw_key(row.get("event_id")) == raw_key(message.event_id)
        and raw_key(row.get("audience")) == raw_key(message.audience)
        and raw_key(row.get("state")) == raw_key(message.state)
    )


def _before_us(
    rows: list[dict[str, Any]], message: Outgoing, force: bool, now: datetime, ours: bool = False
) -> dict[str, Any] | None:
    """The first row (in `rows`' order) that rules `message` out: the same message logged, being sent, or of
    unknown fate; with --force only a claim still being sent. With `ours`, our own claim counts too (read back
    after adding it: if it comes first, we won)."""
    for row in rows:
        if is_withdrawn(row) or not _same_message(row, message):
            continue
        if raw_key(row.get("message_id")) == raw_key(message.message_id):
            if ours:
                return row
            continue
        if force and not (is_claim(row) and (ours or not claim_dead(row, now))):
            continue
        return row
    return None


def gate(tracker: Tracker, event: Row, kind: str, audiences: list[str]) -> None:
    """Refuse to send when the event (or a row sharing its ID), its timeline, its severity or the
    distribution rows of the audiences being sent have problems."""
    from tracker.rules.validation import validate_tracker

    key = str(event["id"]).casefold()
    wanted = {a.casefold() for a in audiences}
    relevant: dict[str, set[int] | None] = {
        "Events": {r.number for r in tracker.sheet("Events").rows if str(r["id"] or "").casefold() == key},
        "Distribution": {
            r.number
            for r in tracker.sheet("Distribution").rows
            if str(r["audience"] or "").casefold() in wanted and r["active"] != "No"
        },
    }
    for sheet in ("Updates", "Changes"):
        relevant[sheet] = {r.number for r in tracker.sheet(sheet).rows if str(r["event_id"] or "").casefold() == key}
    severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
    relevant["Severities"] = {severity.number} if severity else set()
    problems: list[Any] = []
    for problem in validate_tracker(tracker):
        if problem.level != "error" or problem.layout or problem.sheet not in relevant:
            continue
        rows = relevant[problem.sheet]
        if rows is None or problem.row is None or problem.row in rows:
            problems.append(problem)
    data = tracker.sheet("Events")
    for name in REQUIRED[kind]:
        if event[name] is None and name in data.columns and tracker.excel_error("Events", name, event.number) is None:
            spec = data.spec.fields[name]
            problems.append(
                f"{data.cell(name, event.number)} ({spec.title}) is empty, and {_a(KIND_NAMES[kind])} needs it; "
                f"fill it in: {fill_hint(str(event['id']), name)}"
            )
    if kind == "resolved" and not any(
        str(r["event_id"] or "").casefold() == key and r["status"] == "Resolved" for r in tracker.sheet("Updates").rows
    ):
        problems.append(
            f"Updates: no update with Status Resolved for {event['id']} (the resolution note); use `tracker resolve`"
        )
    if problems:
        lines = "\n  ".join(str(p) for p in problems)
        raise ValidationFailed(f"nothing was sent; fix these cells first:\n  {lines}", problems)


KIND_NAMES = {
    "initial": "Initial notification",
    "update": "Update",
    "resolved": "Resolved message",
    "closed": "Closed message",
}


def close_audiences(severity: Row | None) -> set[str]:
    """The audiences a severity tells when an event is Closed (Notify On Close; default: none)."""
    if severity is None:
        return set()
    return {a.strip().casefold() for a in str(severity.get("close_audiences") or "").split(",") if a.strip()}


def _a(noun: str) -> str:
    """`noun` with its indefinite article."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def fill_hint(event_id: str, name: str) -> str:
    """The command that fills an event field."""
    if name == "impact":
        return f'`tracker update {event_id} --note "..." --set impact="..."` (or `open --impact` next time)'
    if name == "resolved_at":
        return f'`tracker resolve {event_id} --note "..."`'
    return f'`tracker update {event_id} --note "..." --set {name}=...`'


def prepare(
    tracker: Tracker,
    config: Config,
    event_id: str,
    *,
    audiences: list[str] | None = None,
    force: bool = False,
    journal: Journal | None = None,
    now: datetime | None = None,
    no_change: bool = False,
) -> NotifyResult:
    """Gate, choose audiences, skip what was already sent, and render the rest. `no_change`: an update is due and
    nothing changed: tell each audience so, and when the next update comes (once per due time)."""
    tracker.require("Events", "Updates", "Changes", "Severities", "Services", "Distribution", "Notifications")
    now = now or utcnow()
    event = tracker.event(event_id)
    event_key = str(event["id"])
    status = str(event["status"] or "")
    severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
    if severity is None:  # the event's Severity cell is wrong: say which cell, as validate does
        gate(tracker, event, "update", [])
    told = severity_audiences(tracker, str(event["severity"] or "")) if severity else []
    log = log_view(tracker, journal, event_key)
    # Sticky: whoever heard of the event hears the rest of it, the resolution included, even if the
    # severity was lowered meanwhile.
    heard = list(dict.fromkeys(str(r.get("audience") or "") for r in log if r.get("audience")))
    listed = list(told)
    for audience in heard:
        if audience.casefold() not in {a.casefold() for a in listed}:
            listed.append(audience)
    if audiences:
        unknown = [a for a in audiences if a.casefold() not in {x.casefold() for x in listed}]
        if unknown:
            raise UsageError(
                f"--audience {', '.join(unknown)}: not notified for {event['severity']} "
                f"(Severities sheet lists: {', '.join(told) or 'none'}"
                + (f"; heard of it earlier: {', '.join(heard)}" if heard else "")
                + ")"
            )
        listed = [a for a in listed if a.casefold() in {x.casefold() for x in audiences}]
    if not listed:
        where = tracker.sheet("Severities").cell("audiences", severity.number) if severity else "Severities"
        raise DataError(
            f"{where} (Audiences Notified): {event['severity']} notifies no audience, so there is nothing to send "
            f"for {event_key}; list the audiences there (e.g. leadership, technical, customer)"
        )
    resolved = status in ("Resolved", "Closed")
    closing = close_audiences(severity)
    gate(tracker, event, "resolved" if resolved else ("update" if log else "initial"), listed)
    legacy = event_state(tracker, event)  # what tracker 0.1 logged: one fingerprint of every field for all audiences
    next_update = None
    if is_open(status) and severity is not None:
        due = event["next_update_due"]
        interval = timedelta(minutes=update_interval(severity))
        next_update = due if isinstance(due, datetime) and due > now else now + interval
        if no_change:  # this message is the update that was due: the cadence moves on from it
            next_update = max(due, now) + interval if isinstance(due, datetime) else now + interval
    result = NotifyResult(event_key, next_update=next_update)
    env = template_environment(_templates_dir(config), lambda v: _when(config, v))
    sender = parse_sender(config.mail.get("sender"))
    allowed = config.mail.get("allowed_domains") or None
    severity_listed = {a.casefold() for a in told}
    for audience in listed:
        previous = [r for r in log if str(r.get("audience", "")).casefold() == audience.casefold()]
        reader = Audience(tracker, audience, config.internal_audiences)
        shows_changes = template_reads(env, audience, "changes")
        state = event_state(tracker, event, reader, changes=shows_changes, bookkeeping=False)
        # The same state as earlier trackers fingerprinted it: 0.1 (one for all), 0.2 (the changes an audience may
        # read, and tracker's own timeline lines, counted).
        earlier_states = {legacy, event_state(tracker, event, reader)}
        if no_change:
            state = _no_change_state(
                event, audience, state, previous, status, now, config, severity, force, earlier_states
            )
        finals = _finals_since_reopen(previous)
        kind = "resolved" if resolved else "initial"
        if status == "Closed" and finals:
            # Closing is admin: whoever had the resolution hears no more, unless the severity says so (once).
            if audience.casefold() not in closing or any(r.get("kind") == "closed" for r in finals):
                if not force:
                    result.skipped.append(_skipped(audience, finals[-1]))
                    continue
            else:
                kind, state = "closed", f"{state} closed"
        earlier = [r for r in previous if not str(r.get("state") or "").startswith(state)]
        if kind == "initial" and earlier:
            kind = "update"
        recipients = recipients_for(tracker, audience, allowed)
        if not recipients:
            if audience.casefold() not in severity_listed:  # heard of it earlier; nobody to tell now
                result.warnings.append(
                    f"{audience} heard of {event_key} earlier but has no active rows on the Distribution sheet now; "
                    "nothing sent to it"
                )
                continue
            raise ValidationFailed(
                f"audience {audience!r} has no active rows on the Distribution sheet; nothing was sent "
                f"(add one, or remove {audience!r} from {event['severity']}'s Audiences Notified)"
            )
        parts = split_recipients(recipients, config.max_recipients, audience)
        done = _parts_done(previous, state, earlier_states if not no_change else set(), len(parts))
        if done is None and not force:  # sent already, whole (or in as many parts as there were then)
            last = [
                r for r in previous if str(r.get("state") or "").startswith(state) or r.get("state") in earlier_states
            ]
            result.skipped.append(_skipped(audience, last[-1]))
            continue
        rendered: tuple[str, str, str] | None = None
        for number, part in enumerate(parts, start=1):
            # Each part of a split list is its own message with its own state, so a stop after part 1 of 3
            # sends parts 2 and 3 next time, and only those.
            part_state = state if len(parts) == 1 else f"{state}:{number}/{len(parts)}"
            if done and number in done and not force:
                continue
            if rendered is None:
                context = build_context(tracker, event, audience, kind, config, next_update, now)
                if no_change:
                    context |= {"no_change": True, "kind_label": "Update: no change"}
                rendered = render(env, audience, context)
            subject, text, html = rendered
            message = build_message(
                sender=sender,
                recipients=part,
                subject=subject,
                text=text,
                html=html,
                sent_at=now,
                headers={"X-Tracker-Event": event_key, "X-Tracker-Audience": audience, "X-Tracker-Kind": kind},
            )
            outgoing = Outgoing(event_key, audience, kind, part_state, subject, text, html, part, message)
            result.messages.append(outgoing)
    return result


def _parts_done(previous: list[dict[str, Any]], state: str, earlier: set[str], count: int) -> set[int] | None:
    """Which parts of this state's message an audience has: None when it has the message (whole, or every part of
    however many parts it went out in then: a list that grew since does not make it news), else the part
    numbers logged (a stop between parts sends only the rest). `earlier`: how earlier trackers fingerprinted this
    same state."""
    logged: dict[int, set[int]] = {}
    for row in previous:
        text = str(row.get("state") or "")
        if text == state or text in earlier:
            return None
        match = PART_STATE.match(text)
        if match and match[1] == state:
            logged.setdefault(int(match[3]), set()).add(int(match[2]))
    if not logged:
        return set()
    for total, numbers in logged.items():
        if total != count or len(numbers) >= total:
            return None
    return logged.get(count, set())


def _finals_since_reopen(previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The final messages (resolved, closed) an audience got since the event was last open again."""
    finals: list[dict[str, Any]] = []
    for row in previous:
        if row.get("kind") in ("resolved", "closed"):
            finals.append(row)
        elif row.get("kind") in ("initial", "update"):
            finals = []
    return finals


def _no_change_state(
    event: Row,
    audience: str,
    state: str,
    previous: list[dict[str, Any]],
    status: str,
    now: datetime,
    config: Config,
    severity: Row | None,
    force: bool,
    earlier: set[str] | None = None,
) -> str:
    """The state a no-change message is logged with (once per due time), or a UsageError when there is news or
    the update is not due yet (within the reminder lead time; --force sends it anyway). `earlier`: the same state
    as earlier trackers fingerprinted it."""
    from tracker.rules.clock import duration, lead_time

    key = str(event["id"])
    if not is_open(status):
        raise UsageError(f"--no-change is for open events; {key} is {status}")
    if not any(str(r.get("state") or "").startswith(known) for r in previous for known in (state, *(earlier or ()))):
        raise UsageError(
            f"{audience} has not had the latest news about {key} yet: send it with `tracker notify {key}` "
            "(--no-change is for when nothing changed since the last message)"
        )
    due = event["next_update_due"]
    if isinstance(due, datetime) and due - now > lead_time(severity, config) and not force:
        raise UsageError(
            f"the next update of {key} is not due until {_when(config, due)} (in {duration(due - now)}); "
            "--no-change sends then (or pass --force to send it now)"
        )
    return f"{state} no-change {iso(due) if isinstance(due, datetime) else ''}".strip()


def _skipped(audience: str, row: dict[str, Any]) -> Skipped:
    unknown = str(row.get("transport") or "").startswith(UNKNOWN)
    return Skipped(audience, str(row.get("kind")), row.get("sent_at"), str(row.get("subject")), unknown=unknown)


def _templates_dir(config: Config) -> Path | None:
    folder = config.mail.get("templates")
    return (config.root / str(folder)) if folder else None


def log_edits(
    result: NotifyResult, config: Config, transport: str, now: datetime, status: str, event: Row | None = None
) -> list[Edit]:
    """Notifications rows for what was sent, and the event's last-notified and next-update times."""
    edits: list[Edit] = [log_row(message, config, transport, now, status) for message in result.sent]
    if result.sent:
        changes: dict[str, Any] = {"last_notified_at": now}
        if result.next_update is not None:
            changes["next_update_due"] = result.next_update
        expect = {name: event[name] for name in changes} if event is not None else None
        edits.append(SetCells("Events", result.event_id, changes, expect))
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


def notify(
    store: Store,
    config: Config,
    event_id: str,
    *,
    audiences: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    preview_dir: Path | None = None,
    no_change: bool = False,
) -> NotifyResult:
    """Render, send and log the emails for one event (see the module docstring)."""
    from filelock import FileLock, Timeout

    # One lock per workbook, whichever folder (and tracker.toml) the command runs from.
    lock = FileLock(str(store.notify_lock), timeout=config.lock_timeout)
    try:
        with lock:  # two notify runs at once must not both decide to send the same messages
            return _notify(store, config, event_id, audiences, dry_run, force, preview_dir, no_change)
    except Timeout:
        raise WorkbookInUse(
            f"another `tracker notify` has been running here for over {config.lock_timeout:.0f} s; try again"
        ) from None


def _notify(
    store: Store,
    config: Config,
    event_id: str,
    audiences: list[str] | None,
    dry_run: bool,
    force: bool,
    preview_dir: Path | None,
    no_change: bool = False,
) -> NotifyResult:
    from tracker.sending.teams import teams_settings
    from tracker.sending.transports import open_transport, write_eml
    from tracker.store.engine import check

    teams_settings(config)  # a [teams] section without its webhook URL stops here, before anything is sent
    now = utcnow()
    tracker = store.read()
    settled = settle(store, tracker, config, now, event_id, MESSAGE_KINDS)
    result = prepare(
        tracker, config, event_id, audiences=audiences, force=force, journal=store.journal, now=now, no_change=no_change
    )
    result.warnings += settled.said
    result.unknown = unconfirmed(tracker, store.journal, result.event_id)
    result.found_elsewhere = [u for u in settled.unknown if raw_key(u.event_id) != raw_key(result.event_id)]
    if store.claims:
        _note_claims(result, log_view(tracker, store.journal, result.event_id))
    event = tracker.event(event_id)
    status = str(event["status"] or "")
    # The log rows must be writable before anything is sent (e.g. a too-long sender name).
    # (and where they go must take them: a merged range there would only show after the mail went out)
    check(
        tracker,
        log_edits(_as_if_sent(result), config, "check", now, status, event),
        {},
        keep=False,
        layout=_layout(tracker, config),
    )
    if dry_run:
        folder = preview_dir or config.root / str(config.mail.get("preview", "preview"))
        for message in result.messages:
            eml = write_eml(folder, message, ".preview")
            html = eml.with_suffix(".html")
            html.write_text(message.html, encoding="utf-8")
            result.preview += [eml, html]
        return result
    if not result.messages:
        return result
    transport = open_transport(config)
    result.transport = transport.name
    claim = claim_messages(store, config, result, now, status, force) if store.claims else None
    if not result.messages:
        return result
    hooks = DurableHooks(store.journal, config, transport.name, now, status, claim)
    try:
        with transport:
            transport.send_messages(result.messages, hooks)
    except KeyboardInterrupt:
        hooks.release(result.messages)
        raise NotifyInterrupted(_interrupted(result, "interrupted")) from None
    except OSError as exc:  # the ledger or the journal could not be written (e.g. a full disk)
        hooks.release(result.messages)
        raise NotifyInterrupted(_interrupted(result, f"stopped: cannot record what was sent ({exc})")) from None
    except Exception:  # e.g. no connection to the mail server: nothing went out, the claims are withdrawn
        write_or_keep(store, hooks.unsent(result.messages), f"notify {result.event_id}: claims withdrawn")
        raise
    _post_to_teams(config, result)
    _count_unanswered(result, hooks, config)
    # Each message's Notifications row is in the journal already: this write puts them on the sheet.
    edits = log_edits(result, config, transport.name, now, status, event)
    rows: list[Edit] = [e for e in edits if not isinstance(e, AppendRow)]
    if store.journal is None:
        rows = [hooks.log(m)[0] for m in result.sent] + rows  # the claim becomes the log row, or a new row
    rows += hooks.unsent(result.messages)
    if not rows and not any(m.unanswered for m in result.messages):  # (an unanswered one's row is in the journal)
        return result
    try:
        store.commit(lambda _tracker: rows)
    except Exception as exc:  # noqa: BLE001 - the mail went out: whatever stops the log, keep it
        if store.journal is None:
            raise
        if not getattr(exc, "journaled", False):
            store.journal.add(rows, f"notify {result.event_id}: {exc}")
        result.journal_reason = str(exc) if isinstance(exc, TrackerError) else f"{type(exc).__name__}: {exc}"
    return result


def settle(
    store: Store,
    tracker: Tracker,
    config: Config,
    now: datetime,
    event_id: str | None = None,
    kinds: tuple[str, ...] | None = None,
) -> Settled:
    """Before sending: what earlier runs left half done. The send ledger's messages handed over without an answer
    become "acceptance unknown"; on a SharePoint workbook, the claims (of these kinds: those this command sends)
    nobody will confirm are withdrawn, so their messages go out again."""
    found = settle_ledger(tracker, store.journal, config)
    unknown = [
        Unconfirmed(
            a.event_id,
            a.audience,
            a.kind,
            a.subject,
            a.message_id,
            datetime.fromisoformat(a.at.replace("Z", "+00:00")) if a.at else None,
            config.user,
            LEDGER_UNKNOWN,
            a.state,
        )
        for a in found
    ]
    if not store.claims:
        return Settled([], unknown)
    _require_claims(tracker)
    return Settled(settle_claims(tracker, store.journal, now, event_id, kinds), unknown)


@dataclass
class Settled:
    """What `settle` did: lines about claims withdrawn (to be said), messages it found of unknown acceptance."""

    said: list[str]
    unknown: list[Unconfirmed]


def _count_unanswered(result: NotifyResult, hooks: DurableHooks, config: Config) -> None:
    """This run's messages handed over without an answer join the event's unconfirmed ones; a message sent again
    (--force) settles the earlier one of unknown acceptance."""
    sent = {thread(m.__dict__) for m in result.sent}
    result.unknown = [u for u in result.unknown if thread(u.__dict__) not in sent]
    for message in result.messages:
        if message.unanswered:
            result.unknown.append(
                Unconfirmed(
                    message.event_id,
                    message.audience,
                    message.kind,
                    message.subject,
                    message.message_id,
                    hooks.now,
                    config.user,
                    hooks.unknown_text,
                    message.state,
                )
            )


def _post_to_teams(config: Config, result: NotifyResult) -> None:
    """The audiences [teams] audiences names also get each message as a card in the channel (once per audience,
    however many parts its email went out in)."""
    from tracker.sending.teams import card, post, teams_settings

    settings = teams_settings(config)
    if settings is None or not settings.audiences:
        return
    posted: set[str] = set()
    for message in result.sent:
        if message.audience.casefold() not in settings.audiences or message.audience in posted:
            continue
        posted.add(message.audience)
        problem = post(settings, card(message.subject, message.text.strip()))
        if problem:
            result.warnings.append(f"{message.audience}: not posted to Teams: {problem}")


def _interrupted(result: NotifyResult, why: str) -> str:
    sent = [m.audience for m in result.messages if m.sent]
    left = [m.audience for m in result.messages if not m.sent]
    return (
        f"{result.event_id}: {why}. Sent: {', '.join(sent) or 'nothing'}; not sent: {', '.join(left) or 'nothing'}. "
        "What was sent is recorded and goes on the Notifications sheet with the next write (or `tracker sync`); "
        "`tracker notify` again sends only what was not sent"
    )


class DurableHooks:
    """Send hooks: the attempt in the ledger before each message, its log row in the journal right after.

    With a `claim` (the Transport of this run's claim rows), the log row is the claim row turned into it
    (same Message-ID), or a new row if the claim is not there.
    """

    def __init__(
        self,
        journal: Journal | None,
        config: Config,
        transport: str,
        now: datetime,
        status: str,
        claim: str | None = None,
    ) -> None:
        self.journal = journal
        self.ledger = ledger_for(journal)
        self.config, self.transport, self.now, self.status = config, transport, now, status
        self.claim = claim
        self.handed: set[str] = set()  # handed to the transport, fate not known yet

    def before(self, message: Outgoing) -> None:
        self.handed.add(message.message_id)
        if self.ledger is not None:
            self.ledger.record(attempt_for(message, self.now))

    def failed(self, message: Outgoing) -> None:
        self.handed.discard(message.message_id)
        if self.ledger is not None:
            self.ledger.forget({message.message_id})

    unknown_text = f"{UNKNOWN} (handed to the mail server, which never answered)"

    def unanswered(self, message: Outgoing) -> None:
        """Handed over, and the connection was lost before the server's answer: logged as acceptance unknown now."""
        self.handed.discard(message.message_id)
        if self.journal is None or self.ledger is None:
            return
        claimed = {message.message_id: self.claim} if self.claim else {}
        edits = unknown_edits([attempt_for(message, self.now)], claimed, self.config, self.unknown_text)
        self.journal.add(edits, f"{message.audience} {message.message_id}: handed over, no answer")
        self.ledger.forget({message.message_id})

    def sent(self, message: Outgoing) -> None:
        self.handed.discard(message.message_id)
        if self.journal is not None:
            self.journal.add(
                self.log(message), f"sent {message.audience} {message.message_id}; log not yet on the sheet"
            )

    def log(self, message: Outgoing) -> list[Edit]:
        """The edits that log a message the server accepted."""
        row = log_row(message, self.config, self.transport, self.now, self.status)
        if self.claim is None:
            return [row]
        # No condition: the server took the message, so this is the truth whatever became of the claim meanwhile
        # (another tracker may have found it expired and sent the message too: the sheet then shows both).
        done = {"transport": self.transport, "recipients": row.values["recipients"]}
        return [SetCells("Notifications", message.message_id, done), row]

    def unsent(self, messages: list[Outgoing]) -> list[Edit]:
        """Withdrawals of the claims on messages that certainly did not go out (a message handed over when tracker
        was stopped keeps its claim: its fate is unknown)."""
        if self.claim is None:
            return []
        return [
            SetCells(
                "Notifications",
                m.message_id,
                {"transport": f"{WITHDRAWN}: not sent ({m.error or 'stopped before sending it'})"[:250]},
                {"transport": self.claim},
            )
            for m in messages
            if not m.sent and not m.unanswered and m.message_id not in self.handed
        ]

    def release(self, messages: list[Outgoing]) -> None:
        """Stopped while sending: keep the withdrawals in the journal for the next write (no network now)."""
        if self.journal is not None:
            try:
                self.journal.add(self.unsent(messages), "notify stopped: claims on messages not sent withdrawn")
            except OSError:
                pass  # the disk is full: the claims stay, and count as of unknown fate


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


def _require_claims(tracker: Tracker) -> None:
    """Claims change a Notifications row found by its Message-ID: the schema must say so."""
    if tracker.schema["Notifications"].key != "message_id":
        raise ConfigError(
            'the schema\'s notifications.json lacks "x-key": "message_id", which tracker needs to claim messages on '
            "a SharePoint workbook before sending them; copy that line from tracker's default schema"
        )


def _note_claims(result: NotifyResult, log: list[dict[str, Any]]) -> None:
    """Say which skipped messages another tracker is sending right now (claimed, not yet confirmed)."""
    for skipped in result.skipped:
        for row in reversed(log):
            if raw_key(row.get("audience")) == raw_key(skipped.audience) and str(row.get("subject")) == skipped.subject:
                skipped.claimed_by = claimer(row) if is_claim(row) else ""
                break


def claim_messages(
    store: Store, config: Config, result: NotifyResult, now: datetime, status: str, force: bool
) -> str | None:
    """Claim each message on the Notifications sheet; drop from `result` those another tracker logged or claimed
    first. Returns the claims' Transport, or None when the sheet could not take them (someone holds the
    workbook): then the messages go out with this machine's lock only, and `result` says so."""
    marker = claim_marker(store.journal, utcnow())  # until when: from the moment it is claimed
    first: dict[str, dict[str, Any]] = {}  # message_id -> the row that came before ours

    def plan(tracker: Tracker) -> list[Edit]:
        first.clear()  # planned again on a newer version (412): decide afresh
        kinds = (*MESSAGE_KINDS, *{m.kind for m in result.messages} - set(MESSAGE_KINDS))  # reminders too
        log = log_view(tracker, store.journal, result.event_id, kinds)
        claims: list[Edit] = []
        for message in result.messages:
            row = _before_us(log, message, force, now)
            if row is not None:
                first[message.message_id] = row
            else:
                claims.append(log_row(message, config, marker, now, status))
        return claims

    def give_up() -> None:  # claims that may have landed must not stand for messages never sent
        why = f"{WITHDRAWN}: not sent (tracker could not finish claiming it)"
        mine = [m for m in result.messages if m.message_id not in first]
        edits: list[Edit] = [
            SetCells("Notifications", m.message_id, {"transport": why}, {"transport": marker}) for m in mine
        ]
        write_or_keep(store, edits, f"notify {result.event_id}: claims withdrawn")

    try:
        store.commit(plan, keep=False)
    except WorkbookInUse as busy:
        result.warnings.append(
            f"{result.event_id}: could not claim the messages on the Notifications sheet before sending ({busy}); "
            "sent with this machine's lock only: a tracker on another machine notifying this event at this very "
            "moment could send them too"
        )
        return None
    except TrackerError:
        give_up()
        raise
    try:
        table = store.read_back("Notifications") if len(first) < len(result.messages) else None
    except Exception:
        give_up()
        raise
    if table is not None:  # rows were added unconditionally: the earliest row for each message wins
        withdraw: list[Edit] = []
        for message in result.messages:
            if message.message_id in first:
                continue
            row = _before_us(table, message, force, now, ours=True)
            if row is None or raw_key(row.get("message_id")) != raw_key(message.message_id):
                first[message.message_id] = row or {"transport": "", "sent_by": "another tracker"}
                who = claimer(row) if row else "someone"
                text = f"{WITHDRAWN}: {who} claimed it first; not sent from here"[:250]
                withdraw.append(
                    SetCells("Notifications", message.message_id, {"transport": text}, {"transport": marker})
                )
        write_or_keep(store, withdraw, f"notify {result.event_id}: claims withdrawn")
    for message in list(result.messages):
        row = first.get(message.message_id)
        if row is None:
            continue
        result.messages.remove(message)
        when = row.get("sent_at")
        result.skipped.append(
            Skipped(
                message.audience,
                str(row.get("kind") or message.kind),
                when if isinstance(when, datetime) else now,
                str(row.get("subject") or message.subject),
                claimer(row) if is_claim(row) else "",
            )
        )
    return marker


def _layout(tracker: Tracker, config: Config) -> Any:
    """The workbook's layout as the writer will meet it (None when the reader kept no file)."""
    from tracker.store.xlsx import Layout

    content = tracker.content
    if content is None:
        return None
    above_totals = config.excel_service_writes
    data = content if isinstance(content, bytes) else Path(content).read_bytes()
    return Layout(data, totals_ok=above_totals)


def events_to_notify(tracker: Tracker, journal: Journal | None) -> list[str]:
    """What a scheduled `notify --open` covers: every open event, and every resolved one whose Resolved message
    has not reached every audience that heard of it."""
    from tracker.workbook.policy import OPEN_STATUSES

    tracker.require("Events", "Notifications")
    out = []
    for row in tracker.sheet("Events").rows:
        key = str(row["id"] or "")
        if not key:
            continue
        if row["status"] in OPEN_STATUSES:
            out.append(key)
            continue
        if row["status"] not in ("Resolved", "Closed"):
            continue
        log = [r for r in log_view(tracker, journal, key) if not is_claim(r)]  # a claim is not a send: the run
        # that notifies the event settles it (sent again when its claimer stopped)
        closing = close_audiences(tracker.sheet("Severities").find(str(row["severity"] or "")))
        by_audience: dict[str, list[dict[str, Any]]] = {}
        for entry in log:
            by_audience.setdefault(str(entry.get("audience") or "").casefold(), []).append(entry)
        for audience, rows in by_audience.items():  # the same rule as `prepare`: finals since the last reopen
            finals = _finals_since_reopen(rows)
            wants_close = row["status"] == "Closed" and audience in closing
            if not finals or (wants_close and not any(f.get("kind") == "closed" for f in finals)):
                out.append(key)
                break
    return out


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


def _as_if_sent(result: NotifyResult) -> NotifyResult:
    """A copy of `result` where every message counts as sent (to check the log rows early)."""
    import copy

    twin = copy.copy(result)
    twin.messages = [copy.copy(m) for m in result.messages]
    for message in twin.messages:
        message.sent = True
    return twin

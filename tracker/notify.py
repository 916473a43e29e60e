"""`tracker notify`: the outage emails for one event, per audience, gated, sent once, logged."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tracker.audience import Audience, build_context
from tracker.audience import when as _when
from tracker.config import Config
from tracker.edits import AppendRow, Edit, SetCells
from tracker.errors import DataError, NotifyInterrupted, TrackerError, UsageError, ValidationFailed, WorkbookInUse
from tracker.ledger import Attempt, SendLedger, attempt_for
from tracker.mail import (
    Outgoing,
    build_message,
    parse_sender,
    recipients_for,
    render,
    split_recipients,
    template_environment,
)
from tracker.policy import is_open, update_interval
from tracker.store import Store
from tracker.store.journal import Journal
from tracker.times import utcnow
from tracker.workbook import Row, Tracker

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
    """An audience whose message for this state was already sent."""

    audience: str
    kind: str
    sent_at: datetime | None
    subject: str


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
    unknown: list[Attempt] = field(default_factory=list)  # earlier sends whose acceptance is unknown

    @property
    def sent(self) -> list[Outgoing]:
        """Messages the transport accepted."""
        return [m for m in self.messages if m.sent]

    @property
    def failed(self) -> list[Outgoing]:
        """Messages that were not sent."""
        return [m for m in self.messages if not m.sent]


def event_state(tracker: Tracker, event: Row, reader: Audience | None = None) -> str:
    """A fingerprint of everything an audience's email is built from (same state: same email): only the fields
    `reader` may read (all of them without a reader), whatever the rows' order or formatting."""
    key = str(event["id"]).casefold()
    values = reader.view("Events", dict(event.values)) if reader else event.values
    parts: list[Any] = [{k: _stable(v) for k, v in values.items() if k not in _NOT_STATE}]
    for sheet in ("Updates", "Changes"):
        if reader is None:
            entries = [dict(r.values) for r in tracker.sheet(sheet).rows if str(r["event_id"] or "").casefold() == key]
        else:
            entries = [  # an update that says nothing to this audience (no words, no ETA) is not news to it
                {k: v for k, v in e.items() if k not in ("kind", "text")}
                for e in reader.entries(sheet, key, "")
                if sheet != "Updates" or e["text"] or e.get("eta")
            ]
        rows = [json.dumps({k: _stable(v) for k, v in e.items()}, sort_keys=True, default=str) for e in entries]
        parts.append(sorted(rows))  # the rows' order is not state: sorting the sheet in Excel changes nothing
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:16]


def _stable(value: Any) -> Any:
    """A value as the fingerprint sees it: a time to the nearest millisecond (a re-saved workbook's serial
    numbers can come back a microsecond off)."""
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    return value


def _log_rows(tracker: Tracker, journal: Journal | None, event_id: str) -> list[dict[str, Any]]:
    key = event_id.casefold()
    rows = [dict(r.values) for r in tracker.sheet("Notifications").rows if str(r["event_id"] or "").casefold() == key]
    if journal is not None:
        for edit in journal.edits():
            if (
                isinstance(edit, AppendRow)
                and edit.sheet == "Notifications"
                and str(edit.values.get("event_id", "")).casefold() == key
            ):
                rows.append(dict(edit.values))
    return rows


def gate(tracker: Tracker, event: Row, kind: str, audiences: list[str]) -> None:
    """Refuse to send when the event (or a row sharing its ID), its timeline, its severity or the
    distribution rows of the audiences being sent have problems."""
    from tracker.validation import validate_tracker

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
        if event[name] is None and name in data.columns:
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
) -> NotifyResult:
    """Gate, choose audiences, skip what was already sent, and render the rest."""
    tracker.require("Events", "Updates", "Changes", "Severities", "Services", "Distribution", "Notifications")
    now = now or utcnow()
    event = tracker.event(event_id)
    event_key = str(event["id"])
    status = str(event["status"] or "")
    severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
    if severity is None:  # the event's Severity cell is wrong: say which cell, as validate does
        gate(tracker, event, "update", [])
    listed = [a.strip() for a in str(severity["audiences"] or "").split(",") if a.strip()] if severity else []
    if audiences:
        unknown = [a for a in audiences if a.casefold() not in {x.casefold() for x in listed}]
        if unknown:
            raise UsageError(
                f"--audience {', '.join(unknown)}: not notified for {event['severity']} "
                f"(Severities sheet lists: {', '.join(listed) or 'none'})"
            )
        listed = [a for a in listed if a.casefold() in {x.casefold() for x in audiences}]
    log = _log_rows(tracker, journal, event_key)
    # Sticky: whoever heard of the event hears the rest of it, the resolution included, even if the
    # severity was lowered meanwhile.
    heard = list(dict.fromkeys(str(r.get("audience") or "") for r in log if r.get("audience")))
    wanted = {a.casefold() for a in audiences} if audiences else None
    for audience in heard:
        if audience.casefold() not in {a.casefold() for a in listed} and (
            wanted is None or audience.casefold() in wanted
        ):
            listed.append(audience)
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
    result = NotifyResult(event_key, next_update=next_update)
    env = template_environment(_templates_dir(config), lambda v: _when(config, v))
    sender = parse_sender(config.mail.get("sender"))
    allowed = config.mail.get("allowed_domains") or None
    for audience in listed:
        previous = [r for r in log if str(r.get("audience", "")).casefold() == audience.casefold()]
        kind = "resolved" if resolved else ("update" if previous else "initial")
        state = event_state(tracker, event, Audience(tracker, audience, config.internal_audiences))
        finals = [r for r in previous if r.get("kind") in ("resolved", "closed")]
        if status == "Closed" and finals and not force:
            # Closing is admin: whoever had the resolution hears no more, unless the severity says so (once).
            if audience.casefold() not in closing or any(r.get("kind") == "closed" for r in finals):
                result.skipped.append(_skipped(audience, finals[-1]))
                continue
            kind = "closed"
        recipients = recipients_for(tracker, audience, allowed)
        if not recipients:
            raise ValidationFailed(
                f"audience {audience!r} has no active rows on the Distribution sheet; nothing was sent "
                f"(add one, or remove {audience!r} from {event['severity']}'s Audiences Notified)"
            )
        parts = split_recipients(recipients, config.max_recipients, audience)
        rendered: tuple[str, str, str] | None = None
        for number, part in enumerate(parts, start=1):
            # Each part of a split list is its own message with its own state, so a stop after part 1 of 3
            # sends parts 2 and 3 next time, and only those.
            part_state = state if len(parts) == 1 else f"{state}:{number}/{len(parts)}"
            same = [r for r in previous if r.get("state") in (part_state, legacy)]
            if same and not force:
                result.skipped.append(_skipped(audience, same[-1]))
                continue
            if rendered is None:
                rendered = render(
                    env, audience, build_context(tracker, event, audience, kind, config, next_update, now)
                )
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


def _skipped(audience: str, row: dict[str, Any]) -> Skipped:
    return Skipped(audience, str(row.get("kind")), row.get("sent_at"), str(row.get("subject")))


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
) -> NotifyResult:
    """Render, send and log the emails for one event (see the module docstring)."""
    from filelock import FileLock, Timeout

    # One lock per workbook, whichever folder (and tracker.toml) the command runs from.
    lock = FileLock(str(store.notify_lock), timeout=config.lock_timeout)
    try:
        with lock:  # two notify runs at once must not both decide to send the same messages
            return _notify(store, config, event_id, audiences, dry_run, force, preview_dir)
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
) -> NotifyResult:
    from tracker.store.engine import check
    from tracker.transports import open_transport, write_eml

    now = utcnow()
    tracker = store.read()
    unknown = settle_ledger(tracker, store.journal, config)
    result = prepare(tracker, config, event_id, audiences=audiences, force=force, journal=store.journal, now=now)
    result.unknown = [a for a in unknown if a.event_id.casefold() == result.event_id.casefold()]
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
    hooks = _Durable(store.journal, config, transport.name, now, status)
    try:
        with transport:
            transport.send_messages(result.messages, hooks)
    except KeyboardInterrupt:
        raise NotifyInterrupted(_interrupted(result, "interrupted")) from None
    except OSError as exc:  # the ledger or the journal could not be written (e.g. a full disk)
        raise NotifyInterrupted(_interrupted(result, f"stopped: cannot record what was sent ({exc})")) from None
    # Each message's Notifications row is in the journal already: this write puts them on the sheet.
    edits = log_edits(result, config, transport.name, now, status, event)
    if not edits:
        return result
    rows: list[Edit] = edits if store.journal is None else [e for e in edits if not isinstance(e, AppendRow)]
    try:
        store.commit(lambda _tracker: rows)
    except Exception as exc:  # noqa: BLE001 - the mail went out: whatever stops the log, keep it
        if store.journal is None:
            raise
        if not getattr(exc, "journaled", False):
            store.journal.add(rows, f"notify {result.event_id}: {exc}")
        result.journal_reason = str(exc) if isinstance(exc, TrackerError) else f"{type(exc).__name__}: {exc}"
    return result


def _interrupted(result: NotifyResult, why: str) -> str:
    sent = [m.audience for m in result.messages if m.sent]
    left = [m.audience for m in result.messages if not m.sent]
    return (
        f"{result.event_id}: {why}. Sent: {', '.join(sent) or 'nothing'}; not sent: {', '.join(left) or 'nothing'}. "
        "What was sent is recorded and goes on the Notifications sheet with the next write (or `tracker sync`); "
        "`tracker notify` again sends only what was not sent"
    )


class _Durable:
    """Send hooks: the attempt in the ledger before each message, its log row in the journal right after."""

    def __init__(self, journal: Journal | None, config: Config, transport: str, now: datetime, status: str) -> None:
        self.journal = journal
        self.ledger = ledger_for(journal)
        self.config, self.transport, self.now, self.status = config, transport, now, status

    def before(self, message: Outgoing) -> None:
        if self.ledger is not None:
            self.ledger.record(attempt_for(message, self.now))

    def failed(self, message: Outgoing) -> None:
        if self.ledger is not None:
            self.ledger.forget({message.message_id})

    def sent(self, message: Outgoing) -> None:
        if self.journal is not None:
            row = log_row(message, self.config, self.transport, self.now, self.status)
            self.journal.add([row], f"sent {message.audience} {message.message_id}; log not yet on the sheet")


def _layout(tracker: Tracker, config: Config) -> Any:
    """The workbook's layout as the writer will meet it (None when the reader kept no file)."""
    from tracker.store.xlsx import Layout

    content = tracker.content
    if content is None:
        return None
    sharepoint = config.sharepoint
    above_totals = sharepoint is not None and str(sharepoint.get("write_mode", "workbook-api")) == "workbook-api"
    data = content if isinstance(content, bytes) else Path(content).read_bytes()
    return Layout(data, totals_ok=above_totals)


def events_to_notify(tracker: Tracker, journal: Journal | None) -> list[str]:
    """What a scheduled `notify --open` covers: every open event, and every resolved one whose Resolved message
    has not reached every audience that heard of it."""
    from tracker.policy import OPEN_STATUSES

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
        log = _log_rows(tracker, journal, key)
        heard = {str(r.get("audience") or "").casefold() for r in log}
        told = {str(r.get("audience") or "").casefold() for r in log if r.get("kind") in ("resolved", "closed")}
        if row["status"] == "Closed":
            closing = close_audiences(tracker.sheet("Severities").find(str(row["severity"] or "")))
            told -= {str(r.get("audience") or "").casefold() for r in log if r.get("kind") == "resolved"} & closing
            told |= {str(r.get("audience") or "").casefold() for r in log if r.get("kind") == "closed"}
        if heard - told:
            out.append(key)
    return out


def ledger_for(journal: Journal | None) -> SendLedger | None:
    """The send ledger beside the journal (so one per workbook, like it)."""
    return SendLedger(journal.companion("sending")) if journal else None


def settle_ledger(tracker: Tracker, journal: Journal | None, config: Config) -> list[Attempt]:
    """Forget attempts whose message is logged; log the others as "acceptance unknown" (never resent without
    --force) and return them."""
    ledger = ledger_for(journal)
    if ledger is None or journal is None:
        return []
    with journal.locked():
        attempts = ledger.attempts()
        if not attempts:
            return []
        logged = {str(r["message_id"]) for r in tracker.sheet("Notifications").rows if r["message_id"]}
        logged |= {
            str(e.values.get("message_id"))
            for e in journal.edits()
            if isinstance(e, AppendRow) and e.sheet == "Notifications"
        }
        unknown = [a for a in attempts if a.message_id not in logged]
        if unknown:
            rows: list[Edit] = [
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
                        "transport": "acceptance unknown (tracker stopped while sending)",
                        "sent_by": config.user,
                        "state": a.state,
                    },
                    unique="message_id",
                )
                for a in unknown
            ]
            journal.add(rows, "sent or not: tracker stopped between handing the message over and recording it")
        ledger.forget({a.message_id for a in attempts})
    return unknown


def _as_if_sent(result: NotifyResult) -> NotifyResult:
    """A copy of `result` where every message counts as sent (to check the log rows early)."""
    import copy

    twin = copy.copy(result)
    twin.messages = [copy.copy(m) for m in result.messages]
    for message in twin.messages:
        message.sent = True
    return twin

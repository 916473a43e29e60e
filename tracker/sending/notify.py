"""`tracker notify`: the outage emails for one event, per audience, gated, sent once, logged."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from tracker.config import Config
from tracker.errors import (
    DataError,
    UsageError,
    ValidationFailed,
)
from tracker.rules.categories import category_audiences, exercise_subject, is_drill
from tracker.rules.clock import duration, lead_time
from tracker.sending.audience import Audience, build_context
from tracker.sending.audience import when as _when
from tracker.sending.categories import drill_audience, drill_recipients, hold, nobody_marked
from tracker.sending.claims import claim_messages, claimer
from tracker.sending.delivery import DurableHooks, commit_log, hand_over, sending_lock, settle
from tracker.sending.fingerprint import event_state
from tracker.sending.gate import gate
from tracker.sending.mail import (
    Outgoing,
    Recipient,
    build_message,
    parse_sender,
    recipients_for,
    render,
    split_recipients,
    template_environment,
    template_reads,
)
from tracker.sending.sendlog import (
    MESSAGE_KINDS,
    PART_STATE,
    UNKNOWN,
    Unconfirmed,
    is_claim,
    log_row,
    log_view,
    thread,
    unconfirmed,
)
from tracker.sending.teams import post_outage_messages, teams_settings
from tracker.sending.transports import open_transport, write_eml
from tracker.store.backends import Store
from tracker.store.engine import check
from tracker.store.journal import Journal
from tracker.store.xlsx_layout import Layout
from tracker.times import iso, utcnow
from tracker.workbook.cell_values import raw_key
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.policy import CLOSED, FINISHED, OPEN_STATUSES, is_open, severity_audiences, update_interval
from tracker.workbook.reading import Row, Tracker


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
    teams: str = ""  # which audiences' cards the Teams flow took: handed over, not yet known to be posted

    @property
    def sent(self) -> list[Outgoing]:
        """Messages the transport accepted."""
        return [m for m in self.messages if m.sent]

    @property
    def failed(self) -> list[Outgoing]:
        """Messages that were not sent."""
        return [m for m in self.messages if not m.sent]


def close_audiences(tracker: Tracker, severity: Row | None) -> set[str]:
    """The audiences a severity tells when an event is Closed (Notify On Close; default: none)."""
    if severity is None or "close_audiences" not in tracker.sheet("Severities").columns:
        return set()
    return {a.casefold() for a in tracker.sheet("Severities").items(severity, "close_audiences")}


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
    log = log_view(tracker, journal, event_key)
    told, listed = _audiences(tracker, event, severity, log, audiences)
    listed, held = hold(tracker, event, listed, audiences)  # held: a line for each audience held
    resolved = status in FINISHED
    gate(tracker, event, "resolved" if resolved else ("update" if log else "initial"), listed)
    next_update = _next_update(event, severity, now, no_change)
    result = NotifyResult(event_key, next_update=next_update, warnings=held)
    env = template_environment(config.mail.templates, lambda v: _when(config, v))
    one = _Audiences(tracker, config, event, severity, log, env, result, now, force, no_change)
    one.drill = is_drill(tracker.schema, event)
    if one.drill and listed and not any(drill_recipients(tracker, a, config.mail.allowed_domains) for a in listed):
        raise nobody_marked(tracker, event, listed)  # (one audience without: drill_audience warns, the rest go)
    for audience in listed:
        one.prepare(audience, audience.casefold() in {a.casefold() for a in told})
    return result


@dataclass
class _Audiences:
    """What `prepare` knows of the event while it goes through its audiences, one `prepare(audience)` each."""

    tracker: Tracker
    config: Config
    event: Row
    severity: Row | None
    log: list[dict[str, Any]]
    env: Any
    result: NotifyResult
    now: datetime
    force: bool
    no_change: bool
    drill: bool = False  # a drill: only recipients marked Drill Yes

    @cached_property
    def legacy(self) -> str:
        """The state as tracker 0.1 logged it: one fingerprint of every field, for all audiences (once per event)."""
        return event_state(self.tracker, self.event)

    @cached_property
    def closing(self) -> set[str]:
        return close_audiences(self.tracker, self.severity)

    @cached_property
    def sender(self) -> tuple[str, str]:
        return parse_sender(self.config.mail.sender)

    def prepare(self, audience: str, listed: bool) -> None:
        """Skip the audience (sent already, or nobody to tell now) or add its messages to the result.
        `listed`: its severity lists it (else it heard of the event earlier)."""
        tracker, config, event, severity, log = self.tracker, self.config, self.event, self.severity, self.log
        env, result, now, force, no_change = self.env, self.result, self.now, self.force, self.no_change
        event_key = str(event["id"])
        status = str(event["status"] or "")
        resolved = status in FINISHED
        legacy, closing, next_update = self.legacy, self.closing, result.next_update
        previous = [r for r in log if str(r.get("audience", "")).casefold() == audience.casefold()]
        reader = Audience(tracker, audience, config.internal_audiences)
        shows_changes = template_reads(env, audience, "changes")
        state = event_state(tracker, event, reader, changes=shows_changes, bookkeeping=False, roles=False)
        # The same state as earlier trackers fingerprinted it: 0.1 (one for all), 0.2 (the changes an audience may
        # read, and tracker's own timeline lines, counted), 0.3 (who held the roles counted: a handover was news).
        earlier_states = {legacy, event_state(tracker, event, reader)}
        earlier_states.add(event_state(tracker, event, reader, changes=shows_changes, bookkeeping=False))
        if no_change:
            state = _no_change_state(
                event, audience, state, previous, status, now, config, severity, force, earlier_states
            )
        finals = _finals_since_reopen(previous)
        kind = "resolved" if resolved else "initial"
        if status == CLOSED and finals:
            # Closing is admin: whoever had the resolution hears no more, unless the severity says so (once).
            told_closed = any(r.get("kind") == "closed" for r in finals)
            if audience.casefold() in closing and not told_closed:
                kind, state = "closed", f"{state} closed"
            elif not force:
                result.skipped.append(_skipped(audience, finals[-1]))
                return
        earlier = [r for r in previous if not str(r.get("state") or "").startswith(state)]
        if kind == "initial" and earlier:
            kind = "update"
        allowed = config.mail.allowed_domains or None
        if self.drill:  # only who takes part in exercises: none, and drill_audience says which cells to mark
            recipients = drill_audience(tracker, event_key, audience, allowed, result.warnings)
            if not recipients:
                return
        else:
            recipients = _recipients(tracker, event, audience, allowed, listed)
        if not recipients:  # heard of it earlier; nobody to tell now
            result.warnings.append(
                f"{audience} heard of {event_key} earlier but has no active rows on the Distribution sheet now; "
                "nothing sent to it"
            )
            return
        parts = split_recipients(recipients, config.max_recipients, audience)
        done = _parts_done(previous, state, earlier_states if not no_change else set(), len(parts))
        if done is None and not force:  # sent already, whole (or in as many parts as there were then)
            last = [
                r for r in previous if str(r.get("state") or "").startswith(state) or r.get("state") in earlier_states
            ]
            result.skipped.append(_skipped(audience, last[-1]))
            return
        context = {"no_change": True, "kind_label": "Update: no change"} if no_change else {}
        draft = _Draft(tracker, event, audience, kind, config, next_update, now)
        result.messages += draft.messages(env, self.sender, parts, state, set() if force else done or set(), context)


def _recipients(tracker: Tracker, event: Row, audience: str, allowed: Any, listed: bool) -> list[Recipient]:
    """The audience's active Distribution rows. None for an audience its severity lists is a mistake to fix before
    anything goes; for one that only heard of the event earlier, nobody to tell now (empty)."""
    recipients = recipients_for(tracker, audience, allowed)
    if not recipients and listed:
        raise ValidationFailed(
            f"audience {audience!r} has no active rows on the Distribution sheet; nothing was sent "
            f"(add one, or remove {audience!r} from {event['severity']}'s Audiences Notified)"
        )
    return recipients


def _audiences(
    tracker: Tracker, event: Row, severity: Row | None, log: list[dict[str, Any]], asked: list[str] | None
) -> tuple[list[str], list[str]]:
    """Who hears of the event: the audiences its severity notifies and (sticky) every audience that heard of it
    before, even if the severity was lowered meanwhile; with --audience, those of them asked for. Returns the
    severity's audiences and those to notify."""
    told = category_audiences(tracker, event) or (
        severity_audiences(tracker, str(event["severity"] or "")) if severity else []
    )
    # Sticky: whoever heard of the event hears the rest of it, the resolution included, even if the
    # severity was lowered meanwhile.
    heard = list(dict.fromkeys(str(r.get("audience") or "") for r in log if r.get("audience")))
    listed = list(told)
    for audience in heard:
        if audience.casefold() not in {a.casefold() for a in listed}:
            listed.append(audience)
    if asked:
        unknown = [a for a in asked if a.casefold() not in {x.casefold() for x in listed}]
        if unknown:
            raise UsageError(
                f"--audience {', '.join(unknown)}: not notified for {event['severity']} "
                f"(Severities sheet lists: {', '.join(told) or 'none'}"
                + (f"; heard of it earlier: {', '.join(heard)}" if heard else "")
                + ")"
            )
        listed = [a for a in listed if a.casefold() in {x.casefold() for x in asked}]
    if not listed:
        where = tracker.sheet("Severities").cell("audiences", severity.number) if severity else "Severities"
        raise DataError(
            f"{where} (Audiences Notified): {event['severity']} notifies no audience, so there is nothing to send "
            f"for {event['id']}; list the audiences there (e.g. leadership, technical, customer)"
        )
    return told, listed


def _next_update(event: Row, severity: Row | None, now: datetime, no_change: bool) -> datetime | None:
    """When the audiences hear next, as this message tells them (None once the event is resolved)."""
    if not is_open(str(event["status"] or "")) or severity is None:
        return None
    due = event["next_update_due"]
    interval = timedelta(minutes=update_interval(severity))
    if no_change:  # this message is the update that was due: the cadence moves on from it
        return max(due, now) + interval if isinstance(due, datetime) else now + interval
    return due if isinstance(due, datetime) and due > now else now + interval


@dataclass
class _Draft:
    """One audience's message about an event, rendered once and sent in as many parts as its list is split into."""

    tracker: Tracker
    event: Row
    audience: str
    kind: str
    config: Config
    next_update: datetime | None
    now: datetime

    def messages(
        self,
        env: Any,
        sender: tuple[str, str],
        parts: list[list[Any]],
        state: str,
        done: set[int],
        extra: dict[str, Any],
    ) -> list[Outgoing]:
        """Each part of a split list is its own message with its own state, so a stop after part 1 of 3 sends parts
        2 and 3 next time, and only those (`done`: the parts sent already)."""
        todo = [(n, part) for n, part in enumerate(parts, start=1) if n not in done]
        if not todo:
            return []
        context = build_context(
            self.tracker, self.event, self.audience, self.kind, self.config, self.next_update, self.now
        )
        subject, text, html = render(env, self.audience, context | extra)
        if is_drill(self.tracker.schema, self.event):
            subject = exercise_subject(subject)
        key = str(self.event["id"])
        out = []
        for number, part in todo:
            part_state = state if len(parts) == 1 else f"{state}:{number}/{len(parts)}"
            about = (key, self.audience, self.kind)
            message = build_message(sender, part, (subject, text, html), about=about, sent_at=self.now)
            out.append(Outgoing(key, self.audience, self.kind, part_state, subject, text, html, part, message))
        return out


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
    with sending_lock(store, config):
        return _notify(store, config, event_id, audiences, dry_run, force, preview_dir, no_change)


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
    if store.shared:
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
        result.preview = _preview(result.messages, preview_dir or config.mail.preview)
        return result
    if not result.messages:
        return result
    return _send(store, config, result, event, now, force)


def _send(store: Store, config: Config, result: NotifyResult, event: Row, now: datetime, force: bool) -> NotifyResult:
    """Claim (on SharePoint), send through the configured transport with durable hooks, post Teams cards, and put
    the log and the event's notified times on the sheet (or keep them in the journal)."""

    status = str(event["status"] or "")
    transport = open_transport(config)
    result.transport = transport.name
    claim = _claim(store, config, result, now, status, force) if store.shared else None
    if not result.messages:
        return result
    hooks = DurableHooks(store.journal, config, transport.name, now, status, claim)
    hand_over(store, transport, result.messages, hooks, result.event_id, "`tracker notify`")
    posted = post_outage_messages(config, result.sent)
    result.teams, result.warnings = posted.said(), result.warnings + posted.problems
    # this run's messages handed over without an answer join the event's unconfirmed ones; one sent again (--force)
    # settles the earlier one of unknown acceptance
    sent = {thread(m.__dict__) for m in result.sent}
    result.unknown = [u for u in result.unknown if thread(u.__dict__) not in sent] + hooks.unconfirmed(result.messages)
    # Each message's Notifications row is in the journal already: this write puts them on the sheet.
    edits = log_edits(result, config, transport.name, now, status, event)
    rows: list[Edit] = [e for e in edits if not isinstance(e, AppendRow)]
    if store.journal is None:
        rows = [hooks.log(m)[0] for m in result.sent] + rows  # the claim becomes the log row, or a new row
    rows += hooks.unsent(result.messages)
    if not rows and not any(m.unanswered for m in result.messages):  # (an unanswered one's row is in the journal)
        return result
    result.journal_reason = commit_log(store, rows, f"notify {result.event_id}")
    return result


def _preview(messages: list[Outgoing], folder: Path) -> list[Path]:
    """--dry-run: each message as an .eml file and its HTML part beside it."""

    out = []
    for message in messages:
        eml = write_eml(folder, message, ".preview")
        html = eml.with_suffix(".html")
        html.write_text(message.html, encoding="utf-8")
        out += [eml, html]
    return out


def _note_claims(result: NotifyResult, log: list[dict[str, Any]]) -> None:
    """Say which skipped messages another tracker is sending right now (claimed, not yet confirmed)."""
    for skipped in result.skipped:
        for row in reversed(log):
            if raw_key(row.get("audience")) == raw_key(skipped.audience) and str(row.get("subject")) == skipped.subject:
                skipped.claimed_by = claimer(row) if is_claim(row) else ""
                break


def _claim(store: Store, config: Config, result: NotifyResult, now: datetime, status: str, force: bool) -> str | None:
    """Claim the messages on the Notifications sheet; those another tracker logged or claimed first leave `result`
    for its skipped ones. The claims' Transport, or None (sent with this machine's lock only)."""
    claimed = claim_messages(store, config, result.event_id, result.messages, now, status, force)
    if claimed.warning:
        result.warnings.append(claimed.warning)
    for message in list(result.messages):
        row = claimed.first.get(message.message_id)
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
    return claimed.marker


def _layout(tracker: Tracker, config: Config) -> Any:
    """The workbook's layout as the writer will meet it (None when the reader kept no file)."""

    content = tracker.content
    if content is None:
        return None
    above_totals = config.excel_service_writes
    data = content if isinstance(content, bytes) else Path(content).read_bytes()
    return Layout(data, totals_ok=above_totals)


def events_to_notify(tracker: Tracker, journal: Journal | None) -> list[str]:
    """What a scheduled `notify --open` covers: every open event, and every resolved one whose Resolved message
    has not reached every audience that heard of it."""

    tracker.require("Events", "Notifications")
    out = []
    for row in tracker.sheet("Events").rows:
        key = str(row["id"] or "")
        if not key:
            continue
        if row["status"] in OPEN_STATUSES:
            out.append(key)
            continue
        if row["status"] not in FINISHED:
            continue
        log = [r for r in log_view(tracker, journal, key) if not is_claim(r)]  # a claim is not a send: the run
        # that notifies the event settles it (sent again when its claimer stopped)
        closing = close_audiences(tracker, tracker.sheet("Severities").find(str(row["severity"] or "")))
        by_audience: dict[str, list[dict[str, Any]]] = {}
        for entry in log:
            by_audience.setdefault(str(entry.get("audience") or "").casefold(), []).append(entry)
        for audience, rows in by_audience.items():  # the same rule as `prepare`: finals since the last reopen
            finals = _finals_since_reopen(rows)
            wants_close = row["status"] == CLOSED and audience in closing
            if not finals or (wants_close and not any(f.get("kind") == "closed" for f in finals)):
                out.append(key)
                break
    return out


def _as_if_sent(result: NotifyResult) -> NotifyResult:
    """A copy of `result` where every message counts as sent (to check the log rows early)."""
    import copy

    twin = copy.copy(result)
    twin.messages = [copy.copy(m) for m in result.messages]
    for message in twin.messages:
        message.sent = True
    return twin

"""Post-incident reviews: the review draft (Markdown and Word), the Reviews sheet, and the gate before Closed.

`build_review` gathers one model from the workbook (summary, the whole timeline including internal updates,
notifications, reminders and escalations, SLA results, root cause, actions); `render_markdown` renders it with
the jinja2 template `templates/review/review.md.j2` and `render_docx` builds the same content with python-docx.
`write_drafts` never replaces a draft someone edited (each file carries a fingerprint of what tracker wrote)
unless forced. `record_review` adds or updates the event's Reviews row through the store's commit, and
`check_close` is the rule `update --status Closed` applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from tracker.errors import UsageError, ValidationFailed
from tracker.rules.actions import day_cell, day_of, list_actions
from tracker.rules.clock import TIMERS, duration, target_minutes, timers
from tracker.rules.review_rules import (
    SHEET,
    held_statuses,
)
from tracker.sending.sendlog import is_claim, is_withdrawn
from tracker.store.backends import Store
from tracker.times import format_time, utcnow
from tracker.window.event_facts import outage_spans, reopen_history
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.policy import BOOKKEEPER, FINISHED, flagged, is_open, placed_at, users_known
from tracker.workbook.reading import Row, Tracker

if TYPE_CHECKING:
    pass


FORMATS = ("md", "docx", "both")
BLANK_ACTION_ROWS = 3  # empty rows in the draft's action table, to fill in at the review
DAY_FORMAT = "%d %b %Y"


@dataclass(frozen=True)
class Recorded:
    """What `record_review` wrote: the Reviews row as it is now, and whether it was new."""

    values: dict[str, Any]
    created: bool


def record_review(
    store: Store,
    event_id: str,
    *,
    facilitator: str | None = None,
    day: date | None = None,
    link: str | None = None,
    status: str | None = None,
    note: str | None = None,
    default_link: str | None = None,
    tz: tzinfo = UTC,
    now: datetime | None = None,
) -> Recorded:
    """Add the event's Reviews row, or change the one there. A new row needs a facilitator; its date defaults to
    today (display timezone), its status to Held, its document to `default_link` (the draft, when written)."""
    if facilitator is not None and not facilitator.strip():
        raise UsageError("--facilitator must not be empty")
    result: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        if not tracker.layout(SHEET).present:
            raise ValidationFailed(
                "this workbook has no Reviews sheet (added in tracker 0.3), so the review cannot be recorded: add it "
                "(run `tracker init` in an empty folder and copy its Reviews and Actions sheets into this workbook)"
            )
        tracker.require("Events", SHEET)
        event = tracker.event(event_id)
        key = str(event["id"])
        at = now or utcnow()
        state = _status(tracker, status) if status else None
        current = tracker.sheet(SHEET).find(key)
        values = _given(facilitator, day, link, note, state)
        if current is None:
            if not facilitator:
                raise UsageError(f"{key} has no review recorded yet: give --facilitator (who ran the review)")
            values = {
                "event_id": key,
                "review_date": day_cell(at.astimezone(tz).date()),
                "status": "Held",
                "document": default_link,
                **values,
            }
            _check_review(tracker, event, values, at.astimezone(tz).date(), tz, given=day is not None)
            result.update(values=dict(values), created=True)
            return [AppendRow(SHEET, values)]
        if not values:
            raise UsageError("nothing to change: give --facilitator, --date, --link, --status or --note")
        _check_review(tracker, event, current.values | values, at.astimezone(tz).date(), tz, given=day is not None)
        result.update(values=current.values | values, created=False)
        return [SetCells(SHEET, key, values)]

    store.commit(plan)
    return Recorded(result["values"], result["created"])


def _given(
    facilitator: str | None, day: date | None, link: str | None, note: str | None, state: str | None
) -> dict[str, Any]:
    """The Reviews cells the options set (an empty --link or --note clears its cell)."""
    values: dict[str, Any] = {}
    if facilitator:
        values["facilitator"] = facilitator.strip()
    if day is not None:
        values["review_date"] = day_cell(day)
    if link is not None:
        values["document"] = link.strip() or None
    if note is not None:
        values["note"] = note.strip() or None
    if state:
        values["status"] = state
    return values


def _check_review(
    tracker: Tracker, event: Row, values: dict[str, Any], today: date, tz: tzinfo, *, given: bool
) -> None:
    """Refuse a Reviews row as it would be after the change (UsageError): a date before the event was detected, a
    Held or Done review dated in the future (it would unlock the Closed gate for a review not held yet), or a Held
    or Done review of an event still open (a review is of a finished outage). `given`: the date came from --date."""
    key = str(event["id"])
    the_day = day_of(values.get("review_date"))
    status = str(values.get("status") or "")
    detected = event["detected_at"]
    first = detected.astimezone(tz).date() if isinstance(detected, datetime) else None
    allowed = (
        f"a day from {first.isoformat()} (detected) to {today.isoformat()} (today)" if first else "today or before"
    )
    if the_day is None:
        where = ""
    elif given:
        where = f"--date {the_day.isoformat()}"
    else:
        where = f"the date of the {SHEET} row ({the_day.strftime(DAY_FORMAT)})"
    if the_day is not None and first is not None and the_day < first:
        raise UsageError(f"{where} is before {key} was detected; give {allowed}")
    held = held_statuses(tracker)
    if status in held and the_day is not None and the_day > today:
        raise UsageError(
            f"{where} is still to come, but {status} means the review took place; give {allowed}, or record a "
            "planned review with --status Draft"
        )
    if status in held and is_open(event["status"]):
        raise UsageError(
            f"{key} is still open ({event['status']}): a review is {' or '.join(held)} only once the outage is over "
            f"(resolve it first); until then record it with --status Draft"
        )


def _status(tracker: Tracker, value: str) -> str:
    allowed = tracker.schema[SHEET].fields["status"].enum
    for option in allowed:
        if option.casefold() == value.strip().casefold():
            return option
    raise UsageError(f"--status {value!r} is not allowed for a review; use one of: {', '.join(allowed)}")


# --- the review model ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of the review's timeline."""

    at: datetime | None
    when: str
    kind: str  # e.g. "Update (Monitoring)", "Change", "Email: update", "Reminder", "Escalation"
    who: str
    text: str
    internal: bool = False


@dataclass(frozen=True)
class ActionLine:
    """One action item as the draft shows it."""

    id: str
    action: str
    owner: str
    due: str
    status: str


@dataclass
class Review:
    """Everything a review draft says, already in words and display times (one model, two renderings)."""

    event_id: str
    title: str
    severity: str
    status: str
    generated: str
    summary: list[tuple[str, str]]
    record: list[tuple[str, str]]
    sla: list[str]
    timeline: list[Entry]
    cause: str
    public_cause: str
    actions: list[ActionLine]
    blank_actions: int = BLANK_ACTION_ROWS
    notes: list[str] = field(default_factory=list)
    still_open: str = ""  # for an event not yet resolved: the line the draft opens with, else ""


def display_format(time_format: str) -> str:
    """The display format, with the zone added when it shows none (a review document says its zone)."""
    bare = time_format.replace("%%", "")
    return time_format if ("%Z" in bare or "%z" in bare or "Z" in re.sub(r"%.", "", bare)) else time_format + " %Z"


def build_review(
    tracker: Tracker,
    event_id: str,
    *,
    tz: tzinfo = UTC,
    time_format: str = "%d %b %Y %H%MZ",
    at_risk: float = 0.75,
    now: datetime | None = None,
) -> Review:
    """The review model of one event, from the workbook as it is now."""
    names = ["Events", "Updates", "Changes", "Notifications", "Severities"]
    tracker.preload(*names, SHEET, "Actions")
    tracker.require("Events", "Updates", "Changes", "Severities")
    now = now or utcnow()
    fmt = display_format(time_format)

    def show(value: Any) -> str:
        return (
            format_time(value, tz=tz, fmt=fmt) if isinstance(value, datetime) else ("" if value is None else str(value))
        )

    event = tracker.event(event_id)
    key = str(event["id"])
    severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
    summary = _summary(event, show, tracker, now)
    sla = _sla_lines(event, severity, show, now, at_risk)
    record = _record_lines(tracker, key)
    actions = _action_lines(tracker, key)
    notes = []
    status = str(event["status"] or "")
    still_open = ""
    if is_open(status):
        still_open = f"Draft written while the event is still open (status {status}); the timeline ends at {show(now)}."
    if not tracker.layout("Actions").present:
        notes.append("This workbook has no Actions sheet (added in tracker 0.3): the action items are not recorded.")
    return Review(
        event_id=key,
        title=str(event["title"] or ""),
        severity=str(event["severity"] or ""),
        status=status,
        generated=show(now),
        summary=summary,
        record=record,
        sla=sla,
        timeline=timeline(tracker, key, show),
        cause=str(event["root_cause"] or ""),
        public_cause=str(event["public_cause"] or ""),
        actions=actions,
        notes=notes,
        still_open=still_open,
    )


def _record_lines(tracker: Tracker, key: str) -> list[tuple[str, str]]:
    """The event's Reviews row as the document's record: date, facilitator, status, document, note."""
    if not tracker.layout(SHEET).present:
        return []
    row = tracker.sheet(SHEET).find(key)
    if row is None:
        return []
    day = day_of(row["review_date"])
    record = [
        ("Review date", day.strftime(DAY_FORMAT) if day else ""),
        ("Facilitator", str(row["facilitator"] or "")),
        ("Status", str(row["status"] or "")),
        ("Document", str(row["document"] or "")),
    ]
    return record + ([("Note", str(row["note"]))] if row["note"] else [])


def _action_lines(tracker: Tracker, key: str) -> list[ActionLine]:
    """The event's review actions, as the document's action table lists them."""
    lines = []
    for row in list_actions(tracker, event_id=key):
        day = day_of(row["due_date"])
        lines.append(
            ActionLine(
                str(row["id"] or ""),
                str(row["action"] or ""),
                str(row["owner"] or ""),
                day.strftime(DAY_FORMAT) if day else "",
                str(row["status"] or ""),
            )
        )
    return lines


def _sla_lines(
    event: Row, severity: Row | None, show: Callable[[Any], str], now: datetime, at_risk: float
) -> list[str]:
    """The review's SLA section: each timer's result in words."""
    backwards = _backwards(event)
    found = timers(event, severity, now, at_risk)
    sla = [
        f"{t.name[0].upper() + t.name[1:]}: unknown, {t.verb} at the Resolved time {show(t.stopped)}, which is "
        f"before Detected {show(event['detected_at'])}; target {_sla_minutes(t.target)}"
        if backwards and t.stopped == event["resolved_at"]
        else f"{t.name[0].upper() + t.name[1:]}: {t.state}, {_sla_words(t)}"
        for t in found
    ]
    sla += _unstopped(event, severity, {t.name for t in found})
    return sla or [f"No SLA targets for {event['severity'] or 'this severity'} on the Severities sheet."]


def _unstopped(event: Row, severity: Row | None, shown: set[str]) -> list[str]:
    """For a Resolved or Closed event whose Resolved cell holds no time (validate names it): each timer it has a
    target for that nothing stopped (clock.timers gives it none), as unknown."""
    value = event["resolved_at"]
    if event["status"] not in FINISHED or isinstance(value, datetime):
        return []
    why = f"holds text, not a time ({value!r})" if value is not None else "holds no time"
    return [
        f"{name[0].upper() + name[1:]}: unknown, the Resolved cell {why}; target {_sla_minutes(timedelta(minutes=minutes))}"
        for name, _start, _stop, field_name, _verb in TIMERS
        if name not in shown and (minutes := target_minutes(severity, field_name)) is not None
    ]


def _sla_minutes(span: Any) -> str:
    """`65 min (1 h 5 min)`: minutes, and in hours when that reads better."""
    count = int(span.total_seconds() // 60)
    return f"{count} min" if count < 60 else f"{count} min ({duration(span)})"


def _backwards(event: Row) -> bool:
    """Whether the event's Resolved time is before its Detected time (typed so in Excel): no duration is made of it."""
    detected, resolved = event["detected_at"], event["resolved_at"]
    return isinstance(detected, datetime) and isinstance(resolved, datetime) and resolved < detected


def _sla_words(timer: Any) -> str:
    """`restored in 65 min (1 h 5 min); target 480 min (8 h)`: minutes, and in hours when that reads better."""
    minutes = _sla_minutes
    if timer.stopped is not None:
        return f"{timer.verb} in {minutes(timer.elapsed)}; target {minutes(timer.target)}"
    return f"running for {minutes(timer.elapsed)}; target {minutes(timer.target)}"


def _summary(event: Row, show: Callable[[Any], str], tracker: Tracker, now: datetime) -> list[tuple[str, str]]:
    users = event["users_affected"]
    out = [
        ("Title", event["title"]),
        ("Severity", event["severity"]),
        ("Status", event["status"]),
        ("Category", event["category"]),
        ("Services affected", event["services_affected"]),
        ("Sites affected", event["sites_affected"]),
        ("Users affected", f"{known:,}" if (known := users_known(users)) is not None else users),  # (TRUE: as typed)
        ("Impact", event["impact"]),
        ("Workaround", event["workaround"]),
        ("Detected", show(event["detected_at"])),
        ("Reported to event management", show(event["reported_at"])),
        ("Acknowledged", show(event["acknowledged_at"])),
        ("Mitigated", show(event["mitigated_at"])),
        ("Resolved", show(event["resolved_at"])),
        ("Closed", show(event["closed_at"])),
    ]
    detected, resolved = event["detected_at"], event["resolved_at"]
    if isinstance(detected, datetime) and isinstance(resolved, datetime) and resolved >= detected:
        key = str(event["id"]).casefold()
        spans, reopened = outage_spans(detected, reopen_history(tracker, {key}).get(key, []), resolved, now)
        if reopened:
            out_of_service = sum((b - a for a, b in spans), start=resolved - resolved)
            times = "once" if reopened == 1 else f"{reopened} times"
            out.append(
                (
                    "Outage duration",
                    f"{duration(out_of_service)} out of service, reopened {times} "
                    f"({duration(resolved - detected)} from detection to the final resolution)",
                )
            )
        else:
            out.append(("Outage duration", f"{duration(resolved - detected)} (detected to resolved)"))
    elif _backwards(event):
        out.append(("Outage duration", "unknown: Resolved is before Detected"))
    roles = [
        ("event manager", event["event_manager"]),
        ("incident lead", event["incident_lead"]),
        ("communication lead", event["communication_lead"]),
        ("change manager", event["change_manager"]),
    ]
    people = "; ".join(f"{role}: {name}" for role, name in roles if name)
    out.append(("People", people))
    out.append(("Response team", event["response_team"]))
    if event["vendor"] or event["vendor_case_number"]:
        case = f", case {event['vendor_case_number']}" if event["vendor_case_number"] else ""
        opened = f", opened {show(event['vendor_case_opened_at'])}" if event["vendor_case_opened_at"] else ""
        out.append(("Vendor", f"{event['vendor'] or 'vendor'}{case}{opened}"))
    return [(label, str(value)) for label, value in out if value not in (None, "")]


def timeline(tracker: Tracker, event_id: str, show: Callable[[Any], str]) -> list[Entry]:
    """Every update (internal ones included), change and message sent for the event, oldest first; messages a
    tracker only claimed and then withdrew were never sent and are left out."""
    key = {event_id.strip().casefold()}
    found: list[tuple[int, int, Entry]] = []
    placed: dict[tuple[int, int], datetime] = {}  # (sheet, row) -> where it falls in time (policy.placed_at)

    def rows_of(index: int, sheet: str, field: str = "at") -> list[Row]:
        rows = tracker.rows_where(sheet, "event_id", key)
        placed.update(((index, row.number), at) for row, at in zip(rows, placed_at(rows, field), strict=True))
        return rows

    for row in rows_of(0, "Updates"):
        internal = flagged(row["internal"])
        parts = [str(row["note"] or "")]
        if row["public_note"]:
            parts.append(f"(public: {row['public_note']})")
        if row["eta"]:
            parts.append(f"(ETA {show(row['eta'])})")
        if internal:
            parts.append("[internal]")
        kind = f"Update ({row['status']})" if row["status"] else "Update"
        entry = Entry(row["at"], show(row["at"]), kind, str(row["author"] or ""), " ".join(parts), internal)
        found.append((0, row.number, entry))
    for row in rows_of(1, "Changes"):
        text = f"on {row['system']}: {row['change']}"
        if row["approved_by"]:
            text += f" (approved by {row['approved_by']})"
        if row["rolled_back"] == "Yes":
            text += " [rolled back]"
        found.append((1, row.number, Entry(row["at"], show(row["at"]), "Change", str(row["by"] or ""), text, True)))
    if tracker.layout("Notifications").present:
        for row in rows_of(2, "Notifications", "sent_at"):
            if is_withdrawn(row.values):
                continue
            kind = str(row["kind"] or "")
            label = {"reminder": "Reminder", "escalation": "Escalation"}.get(
                kind, f"Email: {kind}" if kind else "Email"
            )
            count = row["recipients"]
            many = f", {count} recipient{'s' * (count != 1)}" if isinstance(count, int) else ""
            who = str(row["sent_by"] or "")
            if kind in ("reminder", "escalation"):  # sent by tracker on its own, from whoever's machine ran it
                many += f", from {who}'s tracker" if who else ""
                who = BOOKKEEPER
            text = f"to {row['audience'] or '?'}: {row['subject'] or ''} (via {row['transport'] or '?'}{many})"
            if is_claim(row.values):
                text = f"to {row['audience'] or '?'}: {row['subject'] or ''} (claimed, never confirmed as sent)"
            found.append(
                (
                    2,
                    row.number,
                    Entry(row["sent_at"], show(row["sent_at"]), label, who, text, True),
                )
            )
    return [entry for *_, entry in sorted(found, key=lambda item: (placed[item[0], item[1]], item[0], item[1]))]


# --- rendering -----------------------------------------------------------------------------------------------


# --- writing drafts ------------------------------------------------------------------------------------------

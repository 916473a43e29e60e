"""The rules across sheets `tracker validate` checks beyond each row's schema: who is on the Roster, the order of an
event's times, its update cadence, whom the Escalations sheet tells, and whether each audience has recipients and
templates."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tracker.config import ClockSettings
from tracker.rules.problem import Problem
from tracker.workbook.policy import (
    EVENT_ROLES,
    FINISHED,
    OPEN_STATUSES,
    RESOLVED,
    interval_minutes,
    is_bookkeeping,
    is_open,
    whole_minutes,
)
from tracker.workbook.reading import Row, SheetData, Tracker
from tracker.workbook.roster import coverage_problems


def roster(tracker: Tracker, timezone: str, now: datetime) -> list[Problem]:
    """Gaps in who answers (duty event manager or stand-by) over the next week, and overlapping duty shifts."""
    from zoneinfo import ZoneInfo

    data = tracker.sheet("Roster")
    out = []
    for row, words in coverage_problems(tracker, ZoneInfo(timezone), now, days=7):
        out.append(
            Problem(
                data.title,
                data.cell("role", row) if row else None,
                "Role" if row else None,
                None,
                words,
                "duty event manager or stand-by shifts covering every hour, one duty event manager at a time",
            )
        )
    return out


TIME_ORDER = (  # (earlier, later, what the later one measures from the earlier)
    ("detected_at", "resolved_at", "restoration"),
    ("reported_at", "acknowledged_at", "the first response"),
    ("resolved_at", "closed_at", "closing"),
)


def time_order(tracker: Tracker) -> list[Problem]:
    """An event's times in an order that cannot be (resolved before detected, acknowledged before reported, closed
    before resolved) make its SLA timers and reports wrong: an error naming the later cell."""
    events = tracker.sheet("Events")
    if not events.present:
        return []
    fields = events.spec.fields
    out: list[Problem] = []
    pairs = [pair for pair in TIME_ORDER if pair[0] in events.columns and pair[1] in events.columns]
    numbers, columns = events.typed_columns()  # (a column at a time: the rows need not be made)
    ids = columns.get("id", [None] * len(numbers))
    found = []  # (position, pair)
    for index, (earlier, later, _what) in enumerate(pairs):
        for position, (first, second) in enumerate(zip(columns[earlier], columns[later], strict=True)):
            if isinstance(first, datetime) and isinstance(second, datetime) and second < first:
                found.append((position, index))
    for position, index in sorted(found):  # each event's in turn, as its pairs come
        earlier, later, what = pairs[index]
        first, second = columns[earlier][position], columns[later][position]
        out.append(
            Problem(
                events.title,
                events.cell(later, numbers[position]),
                fields[later].title,
                second,
                f"{ids[position]}: {fields[later].title} is before {fields[earlier].title} "
                f"({first:%Y-%m-%d %H:%MZ}), so {what} would take less than no time",
                f"a time at or after {fields[earlier].title}",
            )
        )
    return out


def contradictions(tracker: Tracker) -> list[Problem]:
    """Facts of an event that disagree, so any message about it would say two things: an open Status other than
    its latest update's, a Resolved At on an open event, an ETA before Detected. Errors naming the cells and the fix
    (`tracker notify` refuses through the gate)."""
    events, updates = tracker.sheet("Events"), tracker.sheet("Updates")
    if not events.present or any(n not in events.columns for n in ("id", "status")):
        return []
    # Updates a column at a time (30,000 rows at 10,000 events, made rows only for the open events' timelines)
    numbers, columns = updates.typed_columns()
    timelines: dict[str, list[int]] = {}  # each event's updates, as positions in the columns
    if updates.present and all(n in updates.columns for n in ("event_id", "at", "status")):
        for position, named in enumerate(columns["event_id"]):
            timelines.setdefault(str(named or "").casefold(), []).append(position)
    out: list[Problem] = []
    etas = columns["eta"] if "eta" in updates.columns else None
    event_numbers, event_columns = events.typed_columns()  # (Events too: the rows need not be made)
    detected_at = event_columns.get("detected_at", [None] * len(event_numbers))
    for number, event_id, status, detected in zip(
        event_numbers, event_columns["id"], event_columns["status"], detected_at, strict=True
    ):
        if not event_id:
            continue
        timeline = timelines.get(str(event_id).casefold(), ())
        if status in OPEN_STATUSES:  # (a finished event contradicts nothing there)
            said = updates.rows_at(numbers[position] for position in timeline)
            out.extend(_status_contradictions(events, updates, events.rows_at([number])[0], said))
        if etas is not None and isinstance(detected, datetime):
            for position in timeline:
                eta = etas[position]
                if isinstance(eta, datetime) and eta < detected:
                    out.append(
                        Problem.at(
                            updates,
                            "eta",
                            numbers[position],
                            eta,
                            f"{event_id}: this ETA is before the event was detected "
                            f"({events.cell('detected_at', number)}, {detected:%Y-%m-%d %H:%MZ}); correct the "
                            f'cell, or give a new one with `tracker update {event_id} --eta HH:MM --note "..."`',
                            f"a time at or after {events.spec.fields['detected_at'].title}",
                        )
                    )
    return out


def _status_contradictions(events: SheetData, updates: SheetData, event: Row, timeline: list[Row]) -> list[Problem]:
    """An open event whose Status is not its latest update's (by time; tracker's own bookkeeping lines carry no
    news), or that has a Resolved At."""
    out: list[Problem] = []
    status, event_id = event["status"], event["id"]
    if not is_open(status):
        return out
    resolved = event.get("resolved_at")
    if resolved is not None and "resolved_at" in events.columns:
        out.append(
            Problem.at(
                events,
                "resolved_at",
                event.number,
                resolved,
                f"{event_id} has a {events.spec.fields['resolved_at'].title} but its Status "
                f"({events.cell('status', event.number)}) is {status}, still open; clear the cell, or "
                f'`tracker resolve {event_id} --note "..."` if it is restored',
                "empty while the event is open",
            )
        )
    said = [r for r in timeline if isinstance(r["at"], datetime) and r["status"] and not is_bookkeeping(r)]
    if not said:
        return out
    latest = max(said, key=lambda r: (r["at"], r.number))
    if latest["status"] != status and latest["status"] in (*OPEN_STATUSES, *FINISHED):  # else the schema says
        command = (
            f'`tracker resolve {event_id} --note "..."`'
            if latest["status"] == RESOLVED
            else f'`tracker update {event_id} --status {latest["status"]} --note "..."`'
        )
        out.append(
            Problem.at(
                events,
                "status",
                event.number,
                status,
                f"{event_id} is {status} here, but its latest update ({updates.cell('status', latest.number)}, "
                f"{latest['at']:%Y-%m-%d %H:%MZ}) says {latest['status']}; run {command}, or correct the cell",
                "the status of the event's latest update",
            )
        )
    return out


def cadence(tracker: Tracker) -> list[Problem]:
    """An open event whose Next Update Due lies further from its last update than its severity's Update Every (a
    severity raised by typing in the cell keeps the old, slower cadence): a note saying how to set it."""
    from datetime import timedelta

    events, severities = tracker.sheet("Events"), tracker.sheet("Severities")
    needed = ("next_update_due", "last_update_at", "severity", "status")
    if not events.present or not severities.present or any(n not in events.columns for n in needed):
        return []
    out: list[Problem] = []
    numbers, columns = events.typed_columns()  # (a column at a time: the rows of the open events are made)
    due_open = [
        number
        for number, due, status in zip(numbers, columns["next_update_due"], columns["status"], strict=True)
        if isinstance(due, datetime) and is_open(status)
    ]
    for event in events.rows_at(due_open):  # (most events: looked no further)
        due = event["next_update_due"]
        last = _last_word(event)
        minutes = (
            interval_minutes(severities.find(str(event["severity"] or ""))) if isinstance(last, datetime) else None
        )
        if not minutes:
            continue
        if due - last > timedelta(minutes=minutes + _lead_minutes(severities.find(str(event["severity"] or ""))) + 1):
            out.append(
                Problem.at(
                    events,
                    "next_update_due",
                    event.number,
                    due,
                    f"{event['id']} ({event['severity']}) is due an update every {minutes} min, but this is "
                    f"{int((due - last).total_seconds() // 60)} min after its last update or notification (a severity typed in the "
                    f'cell keeps the old cadence); the next `tracker update {event["id"]} --note "..."` sets it',
                    level="note",
                )
            )
    return out


def _lead_minutes(severity: Row | None) -> int:
    """How early a `notify --no-change` may go (its severity's Remind Before, else the default lead time): sent
    that early, the next update it promises is up to that much further than the cadence from it."""
    minutes = whole_minutes(severity, "Severities", "remind_before_minutes")
    return ClockSettings().remind_before if minutes is None else minutes


def _last_word(event: Row) -> Any:
    """When the audiences last heard of the event: its last update, or a later `notify --no-change`, which sets
    the next update due from the moment it was sent (Last Notified)."""
    times = [event[n] for n in ("last_update_at", "last_notified_at") if isinstance(event.get(n), datetime)]
    return max(times, default=None)


def escalation_tells(tracker: Tracker) -> list[Problem]:
    """Each choice of an Escalations Tell must name someone tracker can find: a role on the event, a role of the
    Roster sheet, or audience:NAME of the Distribution sheet (a typo would leave the step with nobody to tell)."""

    data = tracker.sheet("Escalations")
    if "tell" not in data.columns:
        return []
    roster = tracker.sheet("Roster")
    roles = (
        sorted({" ".join(str(r["role"] or "").split()).casefold() for r in roster.rows} - {""})
        if roster.present
        else []
    )
    distribution = tracker.sheet("Distribution")
    audiences = sorted({str(r["audience"] or "").strip().casefold() for r in distribution.rows} - {""})
    allowed = (
        f"a role on the event ({', '.join(EVENT_ROLES)}), a Roster role ({', '.join(roles) or 'none yet'}) or "
        f"audience:NAME ({', '.join(audiences) or 'no audiences yet'}); 'A or B' for a fallback"
    )
    out: list[Problem] = []
    for row in data.rows:
        tell = " ".join(str(row["tell"] or "").split())
        if not tell:
            continue
        for choice in re.split(r"\s+or\s+", tell, flags=re.IGNORECASE):
            text = choice.casefold()
            if text.startswith("audience:"):
                known = text.split(":", 1)[1].strip() in audiences
            else:  # without a Roster sheet (a 0.1 workbook) its roles cannot be checked
                known = text in EVENT_ROLES or text in roles or not roster.present
            if not known:
                what = (
                    "no audience of the Distribution sheet" if text.startswith("audience:") else "nobody tracker knows"
                )
                out.append(
                    Problem(
                        data.title, data.cell("tell", row.number), "Tell", row["tell"], f"{choice!r} is {what}", allowed
                    )
                )
    return out


def audiences_without_recipients(tracker: Tracker) -> list[Problem]:
    """Each audience a severity notifies needs an active Distribution row; a severity notifying nobody is noted."""
    severities, distribution = tracker.sheet("Severities"), tracker.sheet("Distribution")
    if not (severities.present and distribution.present and "audiences" in severities.columns):
        return []
    field = severities.spec.fields["audiences"]
    active = {str(r["audience"] or "").casefold() for r in distribution.rows if r["active"] == "Yes"}
    known = {str(r["audience"] or "").casefold() for r in distribution.rows}
    out: list[Problem] = []
    for row in distribution.rows:
        name = str(row["audience"] or "").strip()
        if name.casefold() in ("internal", "everyone"):
            out.append(
                Problem.at(
                    distribution,
                    "audience",
                    row.number,
                    name,
                    f"{name!r} is a word the schema uses for groups of audiences (x-audiences), not an audience name",
                    "another name, e.g. partners or staff",
                )
            )
    for row in severities.rows:
        cell = severities.cell("audiences", row.number)
        names = field.split(row.values.get("audiences"))
        if not names and row["name"] and tracker.excel_error("Severities", "audiences", row.number) is None:
            out.append(
                Problem(
                    severities.title,
                    cell,
                    field.title,
                    None,
                    f"{row['name']} notifies no audience: `tracker notify` sends nothing for its events",
                    "audiences from the Distribution sheet, separated by commas",
                    "info",
                )
            )
        for audience in names:
            if audience.casefold() in known and audience.casefold() not in active:
                out.append(
                    Problem(
                        severities.title,
                        cell,
                        field.title,
                        audience,
                        f"audience {audience!r} has no active recipient on the Distribution sheet (every row has "
                        "Active = No), so `tracker notify` would stop",
                        "an audience with at least one Distribution row whose Active is Yes",
                    )
                )
    return out


def audiences_without_templates(data: SheetData, has_templates: Callable[[str], bool]) -> list[Problem]:
    out: list[Problem] = []
    if not data.present or "audiences" not in data.columns:
        return out
    field = data.spec.fields["audiences"]
    for row in data.rows:
        for audience in field.split(row.values.get("audiences")):
            if not has_templates(audience):
                out.append(
                    Problem.at(
                        data,
                        "audiences",
                        row.number,
                        audience,
                        f"audience {audience!r} has no email templates, so `tracker notify` would stop",
                        f"an audience with templates/email/{audience}.subject.j2, .txt.j2 and .html.j2 "
                        "(in [mail] templates or tracker's defaults)",
                    )
                )
    return out

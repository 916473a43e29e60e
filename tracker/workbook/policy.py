"""Policy: when updates are due, from the severity's cadence; who a severity tells; the roles an event names."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tracker.errors import ValidationFailed
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.schema import load_schema

# The lifecycle, as the shipped schema's Events.status says it (x-lifecycle); a team's schema keeps it (load_schema).
VOCABULARY = load_schema().vocabulary
OPEN_STATUSES = VOCABULARY.open  # an event in these still owes updates
STATUSES = VOCABULARY.statuses
INITIAL = OPEN_STATUSES[0]  # a new event's status, and a reopened one's
MITIGATED, RESOLVED, CLOSED = VOCABULARY.mitigated, VOCABULARY.resolved, VOCABULARY.closed
FINISHED = VOCABULARY.finished  # resolved and closed
EVENT_ROLES = VOCABULARY.roles  # whom an event names (x-role)


def is_open(status: str | None) -> bool:
    """Whether an event in this status still owes updates."""
    return status in OPEN_STATUSES


def restored(event: Row | dict[str, Any]) -> bool:
    """Whether the event's service is back, so the last ETA given is history: it is Resolved or Closed, or has a
    Resolved time. Text in Resolved (validate names it) is no time: an open event with it is not restored."""
    return event["status"] in FINISHED or isinstance(event["resolved_at"], datetime)


EARLIEST = datetime.min.replace(tzinfo=UTC)
MAX_MINUTES = 525_600  # a year: the most any column of minutes allows (Restoration), and any rule uses


def placed_at(rows: Sequence[Row], field: str = "at") -> list[datetime]:
    """Where each of some rows of one sheet (an event's updates, changes, messages) falls in time, to put them in
    order: its own `field` when that is a time, else (empty, or text validate names) that of the nearest row above
    it in the sheet that has one: a row someone typed goes where they typed it. The earliest moment when none has."""
    order = sorted(range(len(rows)), key=lambda i: rows[i].number)
    placed = [EARLIEST] * len(rows)
    last = EARLIEST
    for i in order:
        at = rows[i][field]
        last = at if isinstance(at, datetime) else last
        placed[i] = last
    return placed


def in_time_order(rows: Sequence[Row], field: str = "at") -> list[Row]:
    """Rows of one sheet oldest first, by `placed_at` (then by their place in the sheet)."""
    return [row for _, _, row in sorted(zip(placed_at(rows, field), (r.number for r in rows), rows, strict=True))]


def updates_in_order(tracker: Tracker, keys: set[str]) -> dict[str, list[Row]]:
    """Each event's (trimmed, casefolded ID among `keys`) Updates rows, oldest first (`in_time_order`)."""
    if not keys or not tracker.layout("Updates").present:
        return {}
    given: dict[str, list[Row]] = {}
    for row in tracker.rows_where("Updates", "event_id", keys):
        given.setdefault(str(row["event_id"]).strip().casefold(), []).append(row)
    return {key: in_time_order(rows) for key, rows in given.items()}


def bare_address(value: Any) -> str:
    """An Email or Pager cell (Roster, Distribution) as an address a message may go to: one bare address, as
    validate checks it (the schema's pattern), trimmed; "" for anything else (a name with it, two addresses, a
    phone number), so whoever comes next is tried, as for an empty cell, while validate names the cell."""
    text = value.strip() if isinstance(value, str) else ""
    return text if text and schema_pattern("Roster", "email").fullmatch(text) else ""


@functools.cache
def schema_pattern(sheet: str, field: str) -> re.Pattern[str]:
    """The shipped schema's pattern for a column, compiled once: what validate checks the column's text against."""
    return re.compile(load_schema(None)[sheet].fields[field].schema["pattern"])


def flagged(value: Any) -> bool:
    """Whether a Yes/No flag that keeps a row from some readers (Internal Only) keeps it: Yes, and anything else
    than No or an empty cell (a "Y" validate names): kept from them until someone writes what they mean."""
    return value not in ("No", None, "")


def users_known(value: Any) -> int | None:
    """An event's Users Affected as a count a figure may use: a whole number, not TRUE or FALSE (Excel keeps those as
    booleans, which Python counts as 1 and 0); None otherwise."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def reported_or_detected(reported: Any, detected: Any) -> Any:
    """When an event was reported, which starts its first response (and the time to acknowledge, and pages): its
    Reported time, else (none there: empty, or text validate names) its Detected cell. Not a datetime when neither is."""
    return reported if isinstance(reported, datetime) else detected


def reported_at(event: Row | dict[str, Any]) -> Any:
    """`reported_or_detected` of one event."""
    return reported_or_detected(event["reported_at"], event["detected_at"])


def whole_minutes(row: Row | None, sheet: str, field: str) -> int | None:
    """A cell of minutes (Severities: Update Every, First Response, Restoration, Remind Before, Page Every;
    Escalations: After; Categories: Report Within) as a rule may use it: a whole number from the least the schema
    allows in the column to a year (`minutes_bounds`); None for an empty cell, TRUE or FALSE (which Python counts as
    1 and 0), a fraction, text, zero where the column starts at 1, a negative or past a year: each rule then does
    what it does for an empty cell."""
    value = row[field] if row is not None else None
    low, high = minutes_bounds(sheet, field)
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else None


@functools.cache
def minutes_bounds(sheet: str, field: str) -> tuple[int, int]:
    """The least minutes the shipped schema allows in a column of minutes, and a year (MAX_MINUTES). Not the
    column's own maximum: a team's schema may raise it (validate checks the team's), and a value past the shipped
    one still acts as typed, as it always did, while validate names it."""
    spec = load_schema(None)[sheet].fields.get(field)
    return int(spec.schema.get("minimum", 0)) if spec is not None else 0, MAX_MINUTES


def interval_minutes(severity: Row | None) -> int | None:
    """The severity's update interval in minutes, or None when its cell holds what validate refuses."""
    return whole_minutes(severity, "Severities", "update_interval_minutes")


def update_interval(severity: Row) -> int:
    """The severity's update interval in minutes, or a ValidationFailed naming its row."""
    minutes = interval_minutes(severity)
    if minutes is None:
        bounds = load_schema(None)["Severities"].fields["update_interval_minutes"].schema  # validate's words
        low, high = bounds["minimum"], bounds["maximum"]
        raise ValidationFailed(
            f"Severities row {severity.number} ({severity['name']}), Update Every (min): "
            f"{severity['update_interval_minutes']!r} is not a whole "
            f"number of minutes from {low:,} to {high:,}; fix it in the workbook (tracker validate shows "
            "the cell)"
        )
    return minutes


def next_update_due(severity: Row, at: datetime) -> datetime:
    """When the next update is due after one made at `at`."""
    return at + timedelta(minutes=update_interval(severity))


def severity_audiences(tracker: Tracker, severity: str) -> list[str]:
    """The audiences a severity notifies (Audiences Notified), or [] when it is not on the sheet."""
    severities = tracker.sheet("Severities")
    return severities.items(severities.find(severity), "audiences")


BOOKKEEPER = "tracker"  # the Author of the timeline lines tracker writes itself (escalations sent)


def is_bookkeeping(entry: Any) -> bool:
    """A timeline line tracker wrote itself (Author `tracker`, kept internal): a record, not news, and no change
    of status (it carries the status the event had when it was written)."""
    return str(entry.get("author") or "").strip().casefold() == BOOKKEEPER and entry.get("internal") == "Yes"


# Rows people type in Excel that tracker completes when it applies them (`tracker.rules.typed`): the cells it
# fills, so `tracker validate` does not call them missing meanwhile.
INTAKE_FILLS = ("id", "severity", "status", "category", "detected_at")
TYPED_UPDATE_FILLS = ("at",)


def awaits_intake(row: Any) -> bool:
    """An Events row typed without an ID but with a title: a report tracker takes in at its next write."""
    return not row.get("id") and bool(str(row.get("title") or "").strip())


def awaits_applying(data: Any, row: Any) -> bool:
    """An Updates row people typed that tracker has not applied yet: its Applied cell (the sheet's
    `x-applied-mark` column) is empty. None such when the workbook lacks that column."""
    mark = data.spec.applied_mark
    return mark is not None and mark in data.columns and not row.get(mark)

"""The Actions sheet: follow-up actions from post-incident reviews (what, who, by when), and the overdue ones.

Every write is a plan handed to the store's commit, as in `tracker.rules.events`, so it works the same on a local
workbook and on SharePoint. Due dates are calendar days: an action due on the 5th is overdue from the 6th in
the display timezone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from tracker.errors import UnknownAction, UsageError, ValidationFailed
from tracker.owed import Due
from tracker.store.backends import Store
from tracker.times import iso, utcnow
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.schema import next_id

SHEET = "Actions"
DATE_EXAMPLES = "e.g. 2026-12-05, today, tomorrow, +7d or +2w"
_RELATIVE_DAYS = re.compile(r"^([+-])\s*(\d{1,4})\s*(d|days?|w|weeks?)$", re.I)


def statuses(tracker: Tracker) -> tuple[str, ...]:
    """The Status values the schema allows on the Actions sheet."""
    return tracker.schema[SHEET].fields["status"].enum


def finished_statuses(tracker: Tracker) -> tuple[str, ...]:
    """Statuses that end an action (`x-action-finished` in the schema: Done, Won't do)."""
    return tuple(tracker.schema[SHEET].schema.get("x-action-finished", ("Done", "Won't do")))


def parse_date(text: str, *, tz: tzinfo = UTC, now: datetime | None = None, what: str = "date") -> date:
    """A calendar day a person typed: ISO (2026-12-05), today, tomorrow, yesterday, +7d, -2d, +2w; relative days
    count from today in the display timezone `tz`. Raises UsageError naming `what`."""
    raw = text.strip()
    today = (now or utcnow()).astimezone(tz).date()
    words = {"today": 0, "tomorrow": 1, "yesterday": -1}
    if raw.casefold() in words:
        return today + timedelta(days=words[raw.casefold()])
    match = _RELATIVE_DAYS.match(raw)
    if match:
        days = int(match[2]) * (7 if match[3][0].lower() == "w" else 1)
        return today + timedelta(days=days if match[1] == "+" else -days)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a date; {DATE_EXAMPLES}") from None
    if day.year < 1900:
        raise UsageError(f"{what}: {text!r} is before 1900, which Excel cannot store as a date")
    return day


def day_cell(day: date) -> datetime:
    """How a calendar day is stored: midnight, in a cell formatted yyyy-mm-dd."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_of(value: Any) -> date | None:
    """The calendar day a date cell holds (None when empty or not a date)."""
    return value.date() if isinstance(value, datetime) else None


def _require_sheet(tracker: Tracker, what: str) -> None:
    if not tracker.layout(SHEET).present:
        raise ValidationFailed(
            f"this workbook has no Actions sheet (added in tracker 0.3), so {what}: add it (run `tracker init` in an "
            "empty folder and copy its Reviews and Actions sheets into this workbook; `tracker validate` notes what "
            "is missing)"
        )
    tracker.require("Events", SHEET)


def next_action_id(tracker: Tracker, year: int) -> str:
    """ACT-<year>-<n> (the prefix is the schema's x-id-prefix), n one above the highest number used this year."""
    return next_id(tracker.schema.vocabulary.action_prefix, year, tracker.sheet(SHEET).column("id"))


def _choice(tracker: Tracker, value: str) -> str:
    allowed = statuses(tracker)
    for option in allowed:
        if option.casefold() == value.strip().casefold():
            return option
    raise UsageError(f"--status {value!r} is not allowed for an action; use one of: {', '.join(allowed)}")


def _action(tracker: Tracker, action_id: str) -> Row:
    row = tracker.sheet(SHEET).find(action_id.strip())
    if row is None:
        known = [str(v) for v in tracker.sheet(SHEET).column("id")][-3:]
        hint = f" (the latest: {', '.join(known)})" if known else " (it has none yet: `tracker action add` adds one)"
        raise UnknownAction(f"no action {action_id!r} on the Actions sheet{hint}; `tracker action list` shows them")
    return row


def given_text(value: str | None, option: str) -> str | None:
    """An option's text, trimmed (None when not given); an empty one is refused naming the option."""
    if value is None:
        return None
    if not value.strip():
        raise UsageError(f"{option} must not be empty")
    return value.strip()


def add_action(
    store: Store,
    event_id: str,
    *,
    action: str,
    owner: str,
    due: date,
    note: str | None = None,
    status: str = "Open",
    now: datetime | None = None,
) -> Row:
    """Add a follow-up action for an event; returns the new row (with its ID, ACT-<year>-<n>)."""
    action_text, owner_name = given_text(action, "--action"), given_text(owner, "--owner")
    added: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        _require_sheet(tracker, "actions cannot be recorded")
        event = tracker.event(event_id)
        at = now or utcnow()
        state = _choice(tracker, status)
        values = {
            "id": next_action_id(tracker, at.year),
            "event_id": str(event["id"]),
            "action": action_text,
            "owner": owner_name,
            "due_date": day_cell(due),
            "status": state,
            "completed_at": at if state in finished_statuses(tracker) else None,
            "note": note.strip() if note and note.strip() else None,
        }
        added.clear()
        added.update(values)
        return [AppendRow(SHEET, values)]

    edits = store.commit(plan)
    return Row(0, dict(edits[0].values) if edits else added)


def set_action(
    store: Store,
    action_id: str,
    *,
    status: str | None = None,
    owner: str | None = None,
    due: date | None = None,
    action: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Row:
    """Change an action's status, owner, due date, text or note; Done and Won't do record when. Returns the row as
    it is now."""
    changes: dict[str, Any] = {}
    for name, value, option in (("owner", owner, "--owner"), ("action", action, "--action")):
        text = given_text(value, option)
        if text is not None:
            changes[name] = text
    if due is not None:
        changes["due_date"] = day_cell(due)
    if note is not None:
        changes["note"] = note.strip() or None
    if status is None and not changes:
        raise UsageError("nothing to change: give --status, --owner, --due, --action or --note")
    result: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        _require_sheet(tracker, "actions cannot be changed")
        row = _action(tracker, action_id)
        values = dict(changes)
        if status is not None:
            state = _choice(tracker, status)
            values["status"] = state
            finished = state in finished_statuses(tracker)
            was_finished = row["status"] in finished_statuses(tracker)
            if finished and not was_finished:
                values["completed_at"] = now or utcnow()
            elif not finished:
                values["completed_at"] = None
        key = str(row["id"])
        result.clear()
        result.update(row.values | values)
        return [SetCells(SHEET, key, values)]

    store.commit(plan)
    return Row(0, result)


def list_actions(tracker: Tracker, *, event_id: str | None = None, open_only: bool = False) -> list[Row]:
    """Action rows in sheet order: of one event, and/or only those not finished. [] without an Actions sheet."""
    if not tracker.layout(SHEET).present:
        return []
    if event_id is not None:
        tracker.event(event_id)  # an unknown event is an error, not an empty list
    rows = [r for r in tracker.sheet(SHEET).rows if r["id"] or r["action"]]
    if event_id is not None:
        rows = [r for r in rows if str(r["event_id"] or "").strip().casefold() == event_id.strip().casefold()]
    if open_only:
        finished = finished_statuses(tracker)
        rows = [r for r in rows if r["status"] not in finished]
    return rows


def ignored_rows(tracker: Tracker, event_id: str | None = None) -> list[str]:
    """Unfinished actions that `tracker due` cannot track, each said with its cell: a Due Date that is empty or not
    a date (text such as 'next Friday', or a date typed after an apostrophe, which Excel keeps as text). `tracker
    validate` reports the same cells; this is for the commands that act on the Actions sheet (due, action list),
    as `tracker.workbook.roster.ignored_rows` is for the Roster. With `event_id`, only that event's actions."""
    if not tracker.layout(SHEET).present:
        return []
    data = tracker.sheet(SHEET)
    if "due_date" not in data.columns:
        return []
    title = data.spec.fields["due_date"].title
    finished = finished_statuses(tracker)
    out: list[str] = []
    for row in data.rows:
        if not (row["id"] or row["action"]) or row["status"] in finished or isinstance(row["due_date"], datetime):
            continue
        if event_id is not None and str(row["event_id"] or "").strip().casefold() != event_id.strip().casefold():
            continue
        value = row["due_date"]
        what = f"{title} is empty" if value in (None, "") else f"{title} {str(value)!r} is not a date"
        out.append(
            f"{data.cell('due_date', row.number)}: {what}, so this action is not tracked; type a date such as "
            "2026-12-11"
        )
    return out


def is_overdue(row: Row, finished: Sequence[str], today: date) -> bool:
    """Past its due date (a day in the display timezone) and neither Done nor Won't do."""
    day = day_of(row["due_date"])
    return day is not None and day < today and row["status"] not in finished


def action_json(row: Row, finished: Sequence[str], today: date) -> dict[str, Any]:
    """The stable JSON form of an action (see README, post-incident reviews)."""
    day = day_of(row["due_date"])
    completed = row["completed_at"]
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "action": row["action"],
        "owner": row["owner"],
        "due_date": day.isoformat() if day else None,
        "status": row["status"],
        "overdue": is_overdue(row, finished, today),
        "completed_at": iso(completed) if isinstance(completed, datetime) else None,
        "note": row["note"],
    }


@dataclass(frozen=True)
class ActionDue(Due):
    """A follow-up action owed: `Due` of kind "action", `responsible` its owner, `at` the end of its due day."""

    action_id: str = ""
    action: str = ""

    def to_json(self, now: datetime) -> dict[str, Any]:
        """Due's JSON plus `action_id` and `action` (see README, Keeping time)."""
        return super().to_json(now) | {"action_id": self.action_id, "action": self.action}


def due_actions(tracker: Tracker, tz: tzinfo, now: datetime, within: timedelta | None = None) -> list[ActionDue]:
    """Unfinished actions that are overdue (due before today, display timezone), due today ("due soon"), or with
    `within` due by then ("due"). None without an Actions sheet (a workbook from before tracker 0.3)."""
    if not tracker.layout(SHEET).present:
        return []
    finished = finished_statuses(tracker)
    today = now.astimezone(tz).date()
    out = []
    for row in tracker.sheet(SHEET).rows:
        day = day_of(row["due_date"])
        if day is None or not row["id"] or row["status"] in finished:
            continue
        ends = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz).astimezone(UTC)
        if day < today:
            state = "overdue"
        elif day == today:
            state = "due soon"
        elif within is not None and ends - now <= within:
            state = "due"
        else:
            continue
        out.append(
            ActionDue(
                event_id=str(row["event_id"] or ""),
                kind="action",
                state=state,
                at=ends,
                **tracker.about(str(row["event_id"] or "")),
                responsible=str(row["owner"] or ""),
                action_id=str(row["id"]),
                action=str(row["action"] or ""),
            )
        )
    return out

"""What an event's category changes: a drill (the category the schema marks `x-drill`, `exercise`) is marked
[EXERCISE], reaches only drill recipients and stays out of the figures; the Categories sheet lets a category tell
other audiences than its severity's, hold some until `tracker approve`, and set a reporting deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.errors import DataError, UsageError
from tracker.rules.problem import Problem
from tracker.store.backends import Store
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.policy import BOOKKEEPER
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.schema import Schema

EXERCISE = "[EXERCISE]"
"""What every message about a drill starts with: its subject, its Teams card's title."""


def drill_category(schema: Schema) -> str:
    """The category the schema marks as a drill (Events.category `x-drill`, e.g. "exercise"); "" for none."""
    value = schema["Events"].fields["category"].schema.get("x-drill")
    return value if isinstance(value, str) else ""


def is_drill(schema: Schema, event: Row | dict[str, Any]) -> bool:
    """Whether the event (a Row, or a dict of its values) is a drill."""
    drill = drill_category(schema)
    return bool(drill) and str(event.get("category") or "").strip().casefold() == drill.casefold()


def exercise_subject(subject: str) -> str:
    """A drill's subject: `[EXERCISE] ...` (once)."""
    return subject if subject.startswith(EXERCISE) else f"{EXERCISE} {subject}"


def category_row(tracker: Tracker, event: Row | dict[str, Any]) -> Row | None:
    """The Categories row of the event's category (None: the workbook has no Categories sheet, or no row for it)."""
    if "Categories" not in tracker.schema.sheets or not tracker.layout("Categories").present:
        return None
    name = str(event.get("category") or "").strip()
    return tracker.sheet("Categories").find(name) if name else None


def category_audiences(tracker: Tracker, event: Row) -> list[str] | None:
    """The audiences the event's category tells instead of its severity's (None: the severity's)."""
    row = category_row(tracker, event)
    named = tracker.sheet("Categories").items(row, "audiences") if row is not None else []
    return named or None


def held_audiences(tracker: Tracker, event: Row) -> list[str]:
    """The audiences the event's category holds until approved (Approval Before) that nobody approved yet."""
    row = category_row(tracker, event)
    if row is None:
        return []
    approved = {a.casefold() for a in approved_for(tracker, event)}
    return [a for a in tracker.sheet("Categories").items(row, "approval_before") if a.casefold() not in approved]


def is_held(tracker: Tracker, event: Row, audience: str) -> bool:
    """Whether the event's category holds `audience` until `tracker approve` (`held_audiences`)."""
    return audience.casefold() in {a.casefold() for a in held_audiences(tracker, event)}


def approved_for(tracker: Tracker, event: Row) -> list[str]:
    """The audiences released for the event (Events, Approved For)."""
    if "approved_for" not in tracker.layout("Events").columns:
        return []
    return tracker.sheet("Events").items(event, "approved_for")


@dataclass(frozen=True)
class Approval:
    """What `approve` did: the audience released, and whether it was released already."""

    event_id: str
    audience: str
    already: bool


def approve(store: Store, event_id: str, audience: str, author: str, now: datetime) -> Approval:
    """Release `audience` for the event (`tracker approve ID --audience NAME`): its Approved For cell names it and the
    timeline records who approved it; the next `notify` tells it. Refused for an audience the category does not
    hold, and on a workbook without the Approved For column (added in tracker 0.4)."""
    result: list[Approval] = []

    def plan(tracker: Tracker) -> list[Edit]:
        result.clear()
        event = tracker.event(event_id)
        key = str(event["id"])
        row = category_row(tracker, event)
        holds = tracker.sheet("Categories").items(row, "approval_before") if row is not None else []
        if audience.casefold() not in {a.casefold() for a in holds}:
            raise UsageError(
                f"--audience {audience}: {key}'s category {event['category'] or '(empty)'} holds no audience for "
                f"approval (Categories sheet, Approval Before: {', '.join(holds) or 'none'})"
            )
        if "approved_for" not in tracker.layout("Events").columns:
            raise DataError(
                "Events: this workbook has no 'Approved For' column yet (added in tracker 0.4); type 'Approved For' "
                "in the first empty header cell right of the EventsTable table, then approve again"
            )
        done = approved_for(tracker, event)
        result.append(Approval(key, audience, audience.casefold() in {a.casefold() for a in done}))
        if result[0].already:
            return []
        joined = tracker.schema["Events"].fields["approved_for"].join([*done, audience])
        note = f"Approved by {author}: {audience} may now be told of this {event['category']} event."
        line = {"event_id": key, "at": now, "author": BOOKKEEPER, "status": event["status"], "note": note}
        return [
            SetCells("Events", key, {"approved_for": joined}, {"approved_for": event["approved_for"]}),
            AppendRow("Updates", line | {"internal": "Yes"}),
        ]

    store.commit(plan)
    return result[0]


def category_problems(tracker: Tracker) -> list[Problem]:
    """The Categories sheet's rows against the rest (`tracker validate`): a category the Events sheet has, an
    audience held for approval that the row's Audiences Notified tells (else it is never told), and a reporting
    deadline with both its minutes and its audience."""
    data = tracker.sheet("Categories")
    known = tracker.schema.vocabulary.categories
    out: list[Problem] = []
    for row in data.rows:
        name = str(row["category"] or "").strip()
        if name and name.casefold() not in {c.casefold() for c in known}:
            message = f"{name!r} is no category of the Events sheet"
            out.append(Problem.at(data, "category", row.number, name, message, ", ".join(known)))
        told = {a.casefold() for a in data.items(row, "audiences")}
        for audience in data.items(row, "approval_before"):
            if told and audience.casefold() not in told:
                message = f"{audience!r} is held for approval but not in this row's Audiences Notified: never told"
                out.append(Problem.at(data, "approval_before", row.number, audience, message, ", ".join(sorted(told))))
        if bool(row["report_within_minutes"]) != bool(row["report_to"]):
            empty = "report_to" if row["report_within_minutes"] else "report_within_minutes"
            message = "is empty: a reporting deadline needs both Report Within (min) and Report To"
            out.append(Problem.at(data, empty, row.number, None, message, "fill both, or neither"))
    return out

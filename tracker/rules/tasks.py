"""The Tasks sheet: who is doing what on an open event (a line of work, its owner, the system it touches).

Two teams working on the same system without knowing it is what this sheet is for: `same_system` finds two open
tasks that name one system for different owners, which `task add` and `task claim` warn of and `tracker validate`
notes. Every write is a plan handed to the store's commit, as in `tracker.rules.actions`. Due times are times (a
task is due at 16:00, not on a day): `tracker due` lists an unfinished task once its time has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.errors import UnknownTask, UsageError, ValidationFailed
from tracker.owed import Due
from tracker.rules.actions import given_text
from tracker.rules.problem import Problem
from tracker.store.backends import Store
from tracker.times import iso, utcnow
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.schema import next_id

SHEET = "Tasks"


def finished_statuses(tracker: Tracker) -> tuple[str, ...]:
    """Statuses that end a task (`x-task-finished` in the schema: Done)."""
    return tuple(tracker.schema[SHEET].schema.get("x-task-finished", ("Done",)))


def _claimed_status(tracker: Tracker) -> str:
    return str(tracker.schema[SHEET].schema.get("x-task-claimed", "In progress"))


def _open_status(tracker: Tracker) -> str:
    return str(tracker.schema[SHEET].fields["status"].enum[0])


def _require_sheet(tracker: Tracker, what: str) -> None:
    if SHEET not in tracker.schema.sheets or not tracker.layout(SHEET).present:
        raise ValidationFailed(
            f"this workbook has no Tasks sheet (added in tracker 0.4), so {what}: add it (run `tracker init` in an "
            "empty folder and copy its Tasks sheet into this workbook; `tracker validate` notes what is missing)"
        )
    tracker.require("Events", SHEET)


def next_task_id(tracker: Tracker, year: int) -> str:
    """TASK-<year>-<n> (the prefix is the schema's x-id-prefix), n one above the highest number used this year."""
    prefix = str(tracker.schema[SHEET].fields["id"].schema.get("x-id-prefix", "TASK"))
    return next_id(prefix, year, tracker.sheet(SHEET).column("id"))


def _task(tracker: Tracker, task_id: str) -> Row:
    row = tracker.sheet(SHEET).find(task_id.strip())
    if row is None:
        known = [str(v) for v in tracker.sheet(SHEET).column("id") if v][-3:]
        hint = f" (the latest: {', '.join(known)})" if known else " (it has none yet: `tracker task add` adds one)"
        raise UnknownTask(f"no task {task_id!r} on the Tasks sheet{hint}; `tracker task list` shows them")
    return row


def add_task(
    store: Store,
    event_id: str,
    task: str,
    *,
    owner: str | None = None,
    system: str | None = None,
    due: datetime | None = None,
    now: datetime | None = None,
) -> Row:
    """Add a task to an open or closed event; with an owner it is claimed at once (In progress). Returns the new
    row (with its ID, TASK-<year>-<n>)."""
    text, person, where = given_text(task, "the task"), given_text(owner, "--owner"), given_text(system, "--system")
    added: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        _require_sheet(tracker, "tasks cannot be recorded")
        event = tracker.event(event_id)
        at = now or utcnow()
        values = {
            "id": next_task_id(tracker, at.year),
            "event_id": str(event["id"]),
            "task": text,
            "owner": person,
            "system": where,
            "status": _claimed_status(tracker) if person else _open_status(tracker),
            "due_at": due,
            "added_at": at,
            "claimed_at": at if person else None,
        }
        added.clear()
        added.update(values)
        return [AppendRow(SHEET, values)]

    edits = store.commit(plan)
    return Row(0, dict(edits[0].values) if edits else added)


def claim_task(store: Store, task_id: str, owner: str, *, now: datetime | None = None) -> Row:
    """`owner` takes the task: it is In progress, claimed now. Claiming a Done task is refused. Returns the row."""
    person = given_text(owner, "--owner")
    result: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        _require_sheet(tracker, "tasks cannot be claimed")
        row = _task(tracker, task_id)
        if row["status"] in finished_statuses(tracker):
            raise UsageError(f"{row['id']} is {row['status']} already; `tracker task add` records new work")
        values = {"owner": person, "status": _claimed_status(tracker), "claimed_at": now or utcnow()}
        result.clear()
        result.update(row.values | values)
        return [SetCells(SHEET, str(row["id"]), values)]

    store.commit(plan)
    return Row(0, result)


def finish_task(store: Store, task_id: str, *, note: str | None = None, now: datetime | None = None) -> Row:
    """Mark a task Done, now (a task Done already keeps its time; a note is still recorded). Returns the row."""
    result: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        _require_sheet(tracker, "tasks cannot be finished")
        row = _task(tracker, task_id)
        values: dict[str, Any] = {"status": finished_statuses(tracker)[0]}
        if row["status"] not in finished_statuses(tracker):
            values["done_at"] = now or utcnow()
        if note is not None and note.strip():
            values["note"] = note.strip()
        result.clear()
        result.update(row.values | values)
        return [SetCells(SHEET, str(row["id"]), values)]

    store.commit(plan)
    return Row(0, result)


def list_tasks(tracker: Tracker, *, event_id: str | None = None, open_only: bool = False) -> list[Row]:
    """Task rows in sheet order: of one event (or the one task `event_id` names), and/or only those not Done. []
    without a Tasks sheet."""
    if SHEET not in tracker.schema.sheets or not tracker.layout(SHEET).present:
        return []
    if event_id is not None:
        one = tracker.sheet(SHEET).find(event_id.strip())
        if one is not None:  # a task's own ID: that task
            return [one] if not open_only or one["status"] not in finished_statuses(tracker) else []
        tracker.event(event_id)  # an unknown event is an error, not an empty list
    rows = [r for r in tracker.sheet(SHEET).rows if r["id"] or r["task"]]
    if event_id is not None:
        rows = [r for r in rows if str(r["event_id"] or "").strip().casefold() == event_id.strip().casefold()]
    if open_only:
        finished = finished_statuses(tracker)
        rows = [r for r in rows if r["status"] not in finished]
    return rows


@dataclass(frozen=True)
class Overlap:
    """Two open tasks naming one system for different owners: two teams may be working on the same thing."""

    system: str
    first: Row
    second: Row

    def words(self) -> str:
        """One line saying which tasks, who and what to do."""
        a, b = self.first, self.second
        return (
            f"{a['id']} ({a['owner']}, {a['event_id']}) and {b['id']} ({b['owner']}, {b['event_id']}) both work on "
            f"{self.system}: agree who does what, or `tracker task claim` one of them"
        )


def same_system(tracker: Tracker, task_id: str | None = None) -> list[Overlap]:
    """Pairs of open tasks (any events) that name the same system (case and spaces ignored) for different owners;
    an unclaimed task overlaps nobody. With `task_id`, only the pairs that task is in."""
    rows = [r for r in list_tasks(tracker, open_only=True) if r["owner"] and r["system"]]
    out = []
    for index, first in enumerate(rows):
        for second in rows[index + 1 :]:
            system = " ".join(str(first["system"]).split()).casefold()
            if system != " ".join(str(second["system"]).split()).casefold():
                continue
            if str(first["owner"]).strip().casefold() == str(second["owner"]).strip().casefold():
                continue
            if task_id is None or task_id.strip().casefold() in (
                str(first["id"]).casefold(),
                str(second["id"]).casefold(),
            ):
                out.append(Overlap(str(first["system"]).strip(), first, second))
    return out


def overlap_problems(tracker: Tracker) -> list[Problem]:
    """`tracker validate`'s notes: each pair of open tasks on one system for different owners, at the second's
    System cell."""
    if SHEET not in tracker.schema.sheets or not tracker.layout(SHEET).present:
        return []
    data = tracker.sheet(SHEET)
    return [
        Problem.at(data, "system", o.second.number, o.second["system"], o.words(), level="info")
        for o in same_system(tracker)
    ]


def task_json(row: Row, finished: tuple[str, ...], now: datetime) -> dict[str, Any]:
    """The stable JSON form of a task (see README, "Who is doing what")."""
    due = row["due_at"] if isinstance(row["due_at"], datetime) else None
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "task": row["task"],
        "owner": row["owner"],
        "system": row["system"],
        "status": row["status"],
        "due_at": iso(due),
        "overdue": due is not None and due < now and row["status"] not in finished,
        "added_at": iso(row["added_at"]) if isinstance(row["added_at"], datetime) else None,
        "claimed_at": iso(row["claimed_at"]) if isinstance(row["claimed_at"], datetime) else None,
        "done_at": iso(row["done_at"]) if isinstance(row["done_at"], datetime) else None,
        "note": row["note"],
    }


@dataclass(frozen=True)
class TaskDue(Due):
    """A task past its due time: `Due` of kind "task", `responsible` its owner."""

    task_id: str = ""
    task: str = ""

    @property
    def late(self) -> bool:
        """A late task is listed but does not make `tracker due` exit non-zero (its exit codes are unchanged)."""
        return False

    def to_json(self, now: datetime) -> dict[str, Any]:
        """Due's JSON plus `task_id` and `task` (see README, "Who is doing what")."""
        return super().to_json(now) | {"task_id": self.task_id, "task": self.task}


def ignored_rows(tracker: Tracker) -> list[str]:
    """Unfinished tasks whose Due At holds text, not a time (validate names the cell): `due` cannot say when they
    are late, so it says which cell, as `tracker.rules.actions.ignored_rows` does for the actions."""
    rows = list_tasks(tracker, open_only=True)
    if not rows:
        return []
    data = tracker.sheet(SHEET)
    title = data.spec.fields["due_at"].title
    return [
        f"{data.cell('due_at', row.number)}: {title} {str(row['due_at'])!r} is not a date and time, so `tracker due` "
        "cannot tell when this task is late; type one such as 2026-12-11 14:00"
        for row in rows
        if row["due_at"] not in (None, "") and not isinstance(row["due_at"], datetime)
    ]


def due_tasks(tracker: Tracker, now: datetime) -> list[TaskDue]:
    """Unfinished tasks whose due time has passed (state "overdue"). [] without a Tasks sheet."""
    out = []
    for row in list_tasks(tracker, open_only=True):
        due = row["due_at"]
        if not row["id"] or not isinstance(due, datetime) or due >= now:
            continue
        out.append(
            TaskDue(
                event_id=str(row["event_id"] or ""),
                kind="task",
                state="overdue",
                at=due,
                **tracker.about(str(row["event_id"] or "")),
                responsible=str(row["owner"] or ""),
                task_id=str(row["id"]),
                task=str(row["task"] or ""),
            )
        )
    return out

"""Rows people type in Excel act as the matching command would.

An Updates row typed for an open event (Event ID, Status, Note; At may stay empty) is applied like `tracker
update`: the event's status, Last Update, Next Update Due (the severity's cadence) and Acknowledged follow, by
the same rules (`tracker.rules.events.update_changes`; Status Resolved as `tracker resolve` records it). An Events
row typed without an ID, with a title, is taken in (`tracker.rules.intake`). Each applied row gets its Applied
cell filled (the schema's `x-applied-mark`: every row tracker adds itself has it filled already), so it is never
applied twice, and tracker writes what it changed as a line on the timeline. What was typed stays as typed: only
empty cells are filled (At: when tracker first saw the row).

`TypedRows` is the plan the store runs ahead of every commit (`Store.before`), on the same newest workbook and
in the same write: a local workbook's lock and SharePoint's If-Match make one machine apply each row, as for
every other write. A row the rules refuse is left as it is and reported with its cell and the rule.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from tracker.config import DEFAULT_INTERNAL, DEFAULT_REVIEW_REQUIRED, Config
from tracker.errors import LifecycleError, TrackerError
from tracker.rules.events import Update, next_event_id, resolve_changes, update_changes
from tracker.rules.intake import IntakeRules, start_values, taken_in_line
from tracker.store.engine import APPLIED_BY_TRACKER
from tracker.times import format_time, utcnow
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.policy import (
    BOOKKEEPER,
    FINISHED,
    RESOLVED,
    STATUSES,
    awaits_applying,
    awaits_intake,
    flagged,
    is_bookkeeping,
)
from tracker.workbook.reading import ROW_KEY, Row, Tracker

FUTURE_SLACK = timedelta(minutes=5)  # an At this far ahead of the clock is a typing mistake, not an update
MARK_LIMIT = 250
HISTORY_WEIGHT = 0.2  # a row marked as history is two requests (check, patch), a row applied up to ten


@dataclass(frozen=True)
class TypedRules:
    """The settings the commands would use: intake's defaults, the review gate, the internal audiences, and how
    times are shown in what tracker writes."""

    intake: IntakeRules = field(default_factory=IntakeRules)
    review_required_for: Sequence[str] = DEFAULT_REVIEW_REQUIRED
    internal_audiences: Sequence[str] = DEFAULT_INTERNAL
    tz: tzinfo = UTC
    time_format: str = "%d %b %Y %H%MZ"

    @classmethod
    def of(cls, config: Config) -> TypedRules:
        """The rules `config` sets for the commands."""
        intake = IntakeRules(config.intake.severity, config.intake.category, config.display.tz)
        return cls(
            intake, config.review.required_for, config.internal_audiences, config.display.tz, config.display.time_format
        )


@dataclass(frozen=True)
class Applied:
    """A typed row tracker applied: where, which event, what changed (one line)."""

    cell: str
    event_id: str
    what: str
    new_event: bool = False


@dataclass(frozen=True)
class Line:
    """A timeline line a plan wrote for a typed row: its Applied mark (which write of which tracker), its note, and
    the row it is about ("update" or "intake", and that row's Excel row number); `cell` as `Applied.cell`."""

    marker: str
    event_id: str
    note: str
    kind: str
    row: int
    cell: str


@dataclass(frozen=True)
class Refused:
    """A typed row left as it is: where, which event, and the rule (one line, with the fix)."""

    cell: str
    event_id: str
    why: str


class TypedRows:
    """The plan of the rows people typed, run ahead of each commit; after the commit, `applied` and `refused` say
    what the written plan did (a plan run again on a newer workbook decides afresh)."""

    def __init__(self, rules: TypedRules, now: Any = None, per_write: float | None = None) -> None:
        self.rules = rules
        self.now = now  # a fixed clock (tests, rehearsals); None: the clock at each commit
        # At most this many rows applied by one write (None: all; a row marked as history counts HISTORY_WEIGHT).
        # Through the Excel service a write goes in Graph batches of 20 requests: a stop between two (kill -9)
        # would leave a row half applied; one row's requests fit in one batch, which the service runs whole.
        # `tracker.cli.state.apply_typed` writes until none waits.
        self.per_write = per_write
        self._used = 0.0
        self._more = False
        self.applied: list[Applied] = []
        self.refused: list[Refused] = []
        self.lines: list[Line] = []  # every plan's lines, until `tracker.rules.typed_once.settle` looks for them
        self.gave_way: list[str] = []  # rows another tracker applied first (`settle`), one line each
        self.marker = APPLIED_BY_TRACKER
        self._token = secrets.token_hex(3)
        self._plans = 0

    def __call__(self, tracker: Tracker) -> list[Edit]:
        self.applied, self.refused = [], []
        self._used, self._more = 0.0, False
        self._plans += 1  # each plan's lines carry their own mark: a second machine's lines are told apart
        where = f"{socket.gethostname()} (process {os.getpid()}, write {self._token}-{self._plans})"
        self.marker = f"{APPLIED_BY_TRACKER} on {where}"[:MARK_LIMIT]
        now = self.now or utcnow()
        edits = _intake_rows(tracker, now, self)
        return edits + _update_rows(tracker, now, self)

    def full(self) -> bool:
        """Whether this plan left rows for the next write (one write takes `per_write` rows)."""
        return self._more

    def take(self, weight: float = 1.0) -> bool:
        """Whether one more row fits in this write (counted if so; `weight`: a row marked as history is lighter)."""
        if self.per_write is not None and self._used + weight > self.per_write + 1e-9:
            self._more = True
            return False
        self._used += weight
        return True

    def show(self, when: datetime) -> str:
        """A time as the team reads it."""
        return format_time(when, tz=self.rules.tz, fmt=self.rules.time_format)


def typed_updates(tracker: Tracker) -> list[Row]:
    """The Updates rows people typed that tracker has not applied: the Applied column is empty (none when the
    workbook lacks that column: then every row counts as recorded). A write that only adds a row does not type
    the sheet's rows to find out (`SheetData.may_hold`)."""
    mark = tracker.schema["Updates"].applied_mark
    if mark is None or not tracker.may_hold("Updates", ("event_id",), mark):
        return []
    data = tracker.sheet("Updates")
    return [row for row in data.rows if awaits_applying(data, row)]


def waiting_intake(tracker: Tracker) -> list[Row]:
    """Events rows typed without an ID but with a title: reports waiting to be taken in."""
    if not tracker.may_hold("Events", ("title",), "id"):
        return []
    return [row for row in tracker.sheet("Events").rows if awaits_intake(row)]


def pending_rows(tracker: Tracker) -> bool:
    """Whether the workbook holds typed rows tracker would apply (finished Updates rows, reports to take in)."""
    return bool(waiting_intake(tracker)) or any(_complete(row) for row in typed_updates(tracker))


def _intake_rows(tracker: Tracker, now: datetime, typed: TypedRows) -> list[Edit]:
    waiting = waiting_intake(tracker)  # first: most writes find none, and then read no other sheet for it
    data = tracker.sheet("Events") if waiting else tracker.layout("Events")
    if not waiting or not tracker.sheet("Updates").present or not tracker.sheet("Severities").present:
        return []
    edits: list[Edit] = []
    taken: list[str] = []
    for row in waiting:
        if _text_time(data, row, ("detected_at", "reported_at"), "", typed):
            continue
        event_id = next_event_id(tracker, now.year, taken)
        try:
            start = start_values(tracker, event_id, row.values, now, typed.rules.intake, "")
        except TrackerError as exc:
            typed.refused.append(Refused(data.cell("id", row.number), "", str(exc)))
            continue
        if not typed.take():
            break
        taken.append(event_id)
        who = str(row["reported_by"] or "").strip()
        where = f"the Events sheet (row {row.number}{', reported by ' + who if who else ''})"
        status = str(start.values.get("status") or row["status"])
        anchor = {"id": None, "title": row["title"]}
        edits += [SetCells("Events", f"{ROW_KEY}{row.number}", start.values, anchor)]
        first = taken_in_line(event_id, now, status, where, start)
        line = Line(
            typed.marker, event_id, str(first.values["note"]), "intake", row.number, data.cell("id", row.number)
        )
        edits.append(_mark(tracker, first, typed, line))
        what = f"new event {event_id} ({start.values['severity']}, {status}): {row['title']}"
        typed.applied.append(Applied(data.cell("id", row.number), event_id, what, new_event=True))
    return edits


def _update_rows(tracker: Tracker, now: datetime, typed: TypedRows) -> list[Edit]:
    rows = [row for row in typed_updates(tracker) if _complete(row)]
    if not rows:
        return []
    data = tracker.sheet("Updates")
    far = now + timedelta(days=3650)
    rows.sort(key=lambda r: (r["at"] if isinstance(r["at"], datetime) else far, r.number))
    events: dict[str, Row] = {}  # each event as the rows applied so far left it
    edits: list[Edit] = []
    for row in rows:
        cell = data.cell("status", row.number)
        key = str(row["event_id"]).strip().casefold()
        found = tracker.rows_where("Events", "id", {key})
        if len(found) != 1:
            why = "is not on the Events sheet" if not found else "is on more than one Events row"
            typed.refused.append(
                Refused(data.cell("event_id", row.number), str(row["event_id"]), f"{row['event_id']!r} {why}")
            )
            continue
        event = events.setdefault(key, Row(found[0].number, dict(found[0].values)))
        if _text_time(data, row, ("at", "eta"), str(event["id"]), typed):
            continue
        at = row["at"] if isinstance(row["at"], datetime) else now
        last = event["last_update_at"]
        if isinstance(row["at"], datetime) and isinstance(last, datetime) and at <= last:
            if not typed.take(HISTORY_WEIGHT):
                break
            edits.append(_history(data, row, event, now, typed))  # the event moved on since: said, marked once
            continue
        if at > now + FUTURE_SLACK:
            why = f"At {typed.show(at)} is in the future; type the time of the update (or leave At empty: now)"
            typed.refused.append(Refused(data.cell("at", row.number), str(event["id"]), why))
            continue
        try:
            changes = _changes(tracker, event, row, at, typed.rules)
        except (LifecycleError, TrackerError) as exc:
            typed.refused.append(Refused(cell, str(event["id"]), f"{exc}; the row is left as it is"))
            continue
        if not typed.take():
            break
        before = dict(event.values)
        event.values.update(changes)
        edits += _applied_edits(tracker, row, event, before, changes, at, now, typed)
    return edits


def _text_time(data: Any, row: Row, names: tuple[str, ...], event_id: str, typed: TypedRows) -> bool:
    """Whether a time cell of the row holds text (a Text-formatted cell keeps `14:32` as text): then the row is left as
    typed (tracker never writes its own time over it, nor applies it as no time) and the cell named."""
    text = next((n for n in names if row[n] not in (None, "") and not isinstance(row[n], datetime)), None)
    if text is not None:
        why = f"{row[text]!r} is not a date and time; type one (e.g. 2026-11-21 14:32), or leave the cell empty"
        typed.refused.append(Refused(data.cell(text, row.number), event_id, why))
    return text is not None


def _history(data: Any, row: Row, event: Row, now: datetime, typed: TypedRows) -> Edit:
    """A row whose At is not after the event's last update (typed late, or written before the Applied column): it
    stays on the timeline as typed, the event is not moved back; said once and marked so."""
    last = typed.show(event["last_update_at"])
    why = (
        f"At {typed.show(row['at'])} is not after the event's last update ({last}): kept on the timeline as typed, "
        f"{event['id']} not changed (to change it, type a new row and leave At empty)"
    )
    typed.refused.append(Refused(data.cell("at", row.number), str(event["id"]), why))
    fill = {data.spec.applied_mark or "applied": f"not applied {typed.show(now)}: {why}"[:MARK_LIMIT]}
    expect = {data.spec.applied_mark or "applied": None, "note": row["note"], "event_id": row["event_id"]}
    return SetCells("Updates", f"{ROW_KEY}{row.number}", fill, expect)


def _complete(row: Row) -> bool:
    """A row someone finished typing: an Event ID, a Status and a Note (Excel saves a row while it is typed); not
    one of tracker's own lines (written before the workbook had an Applied column)."""
    return all(str(row[name] or "").strip() for name in ("event_id", "status", "note")) and not is_bookkeeping(row)


def _changes(tracker: Tracker, event: Row, row: Row, at: datetime, rules: TypedRules) -> dict[str, Any]:
    status = next((s for s in STATUSES if s.casefold() == str(row["status"]).strip().casefold()), None)
    if status is None:
        raise LifecycleError(f"Status {row['status']!r} is not one of {', '.join(STATUSES)}")
    current = str(event["status"] or "")
    if status == RESOLVED and current not in FINISHED:
        return resolve_changes(event, at, at)
    if current in FINISHED and status not in FINISHED:
        raise LifecycleError(
            f"{event['id']} is {current}; a typed row does not reopen it: run `tracker update {event['id']} "
            f'--status {status} --reopen --note "..."`'
        )
    internal = flagged(row["internal"])  # "Y" (validate names it) too: kept from outside readers
    update = Update(str(row["note"]), status, row["eta"], internal, False, row["public_note"])
    return update_changes(tracker, event, update, at, rules.review_required_for, rules.internal_audiences)


def _applied_edits(
    tracker: Tracker,
    row: Row,
    event: Row,
    before: dict[str, Any],
    changes: dict[str, Any],
    at: datetime,
    now: datetime,
    typed: TypedRows,
) -> list[Edit]:
    """The event's new cells, the typed row's Applied (and its empty At) filled, and the timeline line."""
    data = tracker.sheet("Updates")
    mark = data.spec.applied_mark or "applied"
    key = str(event["id"])
    moved = [f"status {before['status']} -> {changes['status']}"] if changes["status"] != before["status"] else []
    due = changes.get("next_update_due")
    if due != before.get("next_update_due"):
        moved.append(f"next update due {typed.show(due)}" if isinstance(due, datetime) else "no next update due")
    if changes.get("acknowledged_at") and not isinstance(before.get("acknowledged_at"), datetime):
        moved.append(f"acknowledged {typed.show(changes['acknowledged_at'])}")
    if changes.get("resolved_at") and not before.get("resolved_at"):
        moved.append(f"resolved {typed.show(changes['resolved_at'])}")
    what = ", ".join(moved) or "last update recorded"
    fill: dict[str, Any] = {mark: f"applied {typed.show(now)}: {what}"[:MARK_LIMIT]}
    if not isinstance(row["at"], datetime):
        fill["at"] = at
    expect = {mark: None, "note": row["note"], "event_id": row["event_id"]}
    who = str(row["author"] or "").strip() or "someone"
    note = f"Applied the Updates row typed by {who} at {typed.show(at)} (row {row.number}): {what}"
    line = {"event_id": key, "at": now, "author": BOOKKEEPER, "status": changes["status"], "note": note}
    typed.applied.append(Applied(data.cell("status", row.number), key, f"{key}: {what} (typed by {who})"))
    cell = data.cell("status", row.number)
    said = AppendRow("Updates", line | {"internal": "Yes"})
    return [
        SetCells("Events", key, changes),
        SetCells("Updates", f"{ROW_KEY}{row.number}", fill, expect),
        _mark(tracker, said, typed, Line(typed.marker, key, note, "update", row.number, cell)),
    ]


def _mark(tracker: Tracker, edit: AppendRow, typed: TypedRows, line: Line) -> AppendRow:
    """The timeline line with this plan's Applied mark, remembered for `tracker.rules.typed_once.settle`."""
    typed.lines.append(line)
    data = tracker.sheet("Updates")
    mark = data.spec.applied_mark
    return AppendRow(edit.sheet, {**edit.values, mark: typed.marker}) if mark and mark in data.columns else edit

"""The commit engine: every write of every store goes through `commit`.

    newest workbook -> pending journal fitted onto it -> the command's plan -> every edit
    checked once -> an applier moves the checked edits (surgical .xlsx, Excel service)

The rules live here, once: what a journal entry becomes on a newer workbook, `expect`
(leave a cell someone changed since), the schema's types, `x-unique`, Excel's cell limits.
A store only says how to get the newest workbook and how to move the edits; it raises
`Stale` when the workbook changed under it (the engine starts over) and `Busy` when
someone holds it (the edits wait in the journal).
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tracker import retry
from tracker.errors import ConflictError, RemoteError, TrackerError, UnknownEvent, ValidationFailed, WorkbookInUse
from tracker.store.journal import Journal, Pending
from tracker.store.xlsx_layout import Layout, SheetWrite
from tracker.times import CLOCK, as_utc
from tracker.workbook.cell_values import coerce
from tracker.workbook.edits import AppendRow, Edit, Plan, SetCells
from tracker.workbook.reading import Row, SheetData, Tracker
from tracker.workbook.schema import EXCEL_DIGITS, FieldSpec, beyond_excel

EXCEL_TEXT_LIMIT = 32_767
EARLIEST = datetime(1900, 3, 1)  # Excel's serial numbers are off by a day before this (the 1900 leap-year bug)
_ILLEGAL = {c for c in range(32) if c not in (9, 10, 13)}


class Stale(Exception):
    """The workbook changed between reading it and writing; the engine plans again on the newer one."""


class Busy(Exception):
    """Someone holds the workbook (open in Excel, edit lock); the edits wait in the journal."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Interrupted(Exception):
    """Part of a change was written, then the rest could not be; the rest waits in the journal."""

    def __init__(self, message: str, written: list[Any], rest: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.written = written
        self.rest = rest


@dataclass
class Snapshot:
    """The newest workbook as a store fetched it: the typed view and whatever the applier needs.

    `layout` (when the applier knows the file's layout) says why a row's cells cannot be
    written, e.g. a merged range over them: the command is refused, a journal entry set aside.
    """

    tracker: Tracker
    handle: Any = None
    layout: Layout | None = None


@dataclass
class Change:
    """A commit's checked edits: the journal's (fitted) first, then the command's."""

    replay: list[Edit]
    own: list[Edit]
    rows: dict[int, int] = field(default_factory=dict)  # id(edit) -> the Excel row it writes
    tracker: Tracker | None = None

    @property
    def edits(self) -> list[Edit]:
        """Everything to write, in order."""
        return self.replay + self.own

    def row(self, edit: Edit) -> int:
        """The Excel row number the edit writes (appended rows are numbered after the last)."""
        return self.rows[id(edit)]

    def sheet_writes(self) -> list[SheetWrite]:
        """The cells to set, per sheet, for an applier that writes cells (the surgical one)."""
        assert self.tracker is not None
        out: dict[str, SheetWrite] = {}
        for edit in self.edits:
            data = self.tracker.sheet(edit.sheet)
            write = out.get(edit.sheet)
            if write is None:
                write = out[edit.sheet] = SheetWrite(
                    data.title,
                    table=data.spec.table,
                    date_formats={
                        data.columns[name]: spec.number_format
                        for name, spec in data.spec.fields.items()
                        if spec.kind == "datetime" and spec.number_format and name in data.columns
                    },
                )
            number = self.row(edit)
            if isinstance(edit, AppendRow) and number not in write.appended:
                write.appended.append(number)
            for name, value in edit.values.items():
                write.set(number, data.columns[name], cell_value(value))
        return list(out.values())


class Applier(Protocol):
    """How a store fetches the newest workbook and moves checked edits into it."""

    def snapshot(self) -> Snapshot:
        """The newest workbook."""
        ...

    def write(self, snapshot: Snapshot, change: Change) -> None:
        """Write the change; raise Stale to be called again on a newer snapshot, Busy to journal it."""
        ...


@dataclass
class Committed:
    """What a commit wrote: the command's own edits (as written) and how many journal edits went with them."""

    edits: list[Edit]
    replayed: list[Edit]
    set_aside: list[tuple[list[Edit], str]] = field(default_factory=list)


WRITTEN: list[Edit] = []  # this process's own edits that reached the workbook: what a Ctrl-C now leaves written


def note_written(change: Change) -> None:
    """The change is in the workbook (called the moment it is: a Ctrl-C from here on must not say nothing was
    written, or the user runs the command again and adds its rows twice)."""
    known = {id(e) for e in WRITTEN}
    WRITTEN.extend(e for e in change.own if id(e) not in known)


def commit(
    applier: Applier,
    plan: Plan,
    journal: Journal | None,
    *,
    replays: int = 6,
    busy_hint: str = "",
    keep: bool = True,
    before: Plan | None = None,
) -> Committed:
    """Plan on the newest workbook (journal fitted first), check, write; again on a newer one if it moved.

    With `keep=False` the command's own edits are never kept in the journal (a workbook someone holds
    raises WorkbookInUse, a write cut short a RemoteError naming what was not written): for edits that
    mean something only now, such as notify's claim on a message it is about to send.

    `before` plans what goes in ahead of the command (rows people typed in Excel, applied): planned on the same
    newest workbook, written in the same write, never kept in the journal; when its edits are refused the command
    goes ahead without them.
    """
    lock = journal.locked() if journal is not None else contextlib.nullcontext()
    with lock, retry.deadline():  # every retry below (requests, batch parts, replays) shares one budget of waiting
        for attempt in range(replays):
            snapshot = applier.snapshot()
            tracker = snapshot.tracker
            change = Change([], [], tracker=tracker)
            pending = fit_journal(tracker, journal, change.rows, snapshot.layout)
            change.replay = pending.edits + _before(tracker, before, change.rows)
            own = plan(tracker)
            change.own = check(tracker, own, change.rows, layout=snapshot.layout)
            if not change.edits:
                if journal is not None:
                    journal.finish(pending)
                return Committed([], [], pending.rejected)
            try:
                applier.write(snapshot, change)
            except Stale:
                CLOCK.wait(random.uniform(0.02, 0.1 * 2**attempt))  # let the other writer finish, then plan again
                continue
            except Busy as busy:
                if journal is None or not keep:
                    raise WorkbookInUse(busy.message + busy_hint) from None
                journal.add(change.own, busy.message)  # what was pending stays where it is
                error = WorkbookInUse(
                    busy.message + "; your change is kept in the local journal and will be written by the next "
                    "command or `tracker sync` once it is free" + busy_hint
                )
                error.journaled = True
                raise error from None
            except Interrupted as cut:
                _keep_rest(journal, pending, change, cut, keep)
            note_written(change)
            if journal is not None:
                journal.finish(pending)
            return Committed(change.own, pending.edits, pending.rejected)
    raise ConflictError(
        f"the workbook kept changing while tracker was writing it ({replays} tries, each time someone else saved "
        "first); nothing was written, run the command again"
    )


def _before(tracker: Tracker, before: Plan | None, rows: dict[int, int]) -> list[Edit]:
    """The edits `before` plans, checked and shown in the view (none when the check refuses them)."""
    if before is None:
        return []
    try:
        return check(tracker, before(tracker), rows)
    except ValidationFailed:
        return []


def _keep_rest(journal: Journal | None, pending: Pending, change: Change, cut: Interrupted, keep: bool = True) -> None:
    """After a partial write: the journal holds exactly what is still to write (without the command's own
    edits unless `keep`); say what went where."""

    rest = cut.rest if cut.rest is not None else [e for e in change.edits if not any(e is w for w in cut.written)]
    if journal is not None and not keep:
        own = [(e.sheet, dict(e.values)) for e in change.own]
        dropped = [e for e in rest if (e.sheet, dict(e.values)) in own]
        rest = [e for e in rest if (e.sheet, dict(e.values)) not in own]
        journal.finish(pending, rest, f"interrupted: {cut.message}")
        error = RemoteError(
            f"{cut.message}. Already written: {describe(cut.written)}; NOT written: {describe(dropped)}"
            + (f"; waiting in the local journal: {describe(rest)}" if rest else "")
        )
        error.journaled = bool(rest)
        raise error from None
    if journal is None:
        raise RemoteError(f"{cut.message}. Already written: {describe(cut.written)}; NOT written: {describe(rest)}")
    journal.finish(pending, rest, f"interrupted: {cut.message}")  # one rewrite: nothing lost if it stops here
    error = RemoteError(
        f"{cut.message}. Already written: {describe(cut.written)}; waiting in the local journal: {describe(rest)} "
        "(`tracker sync` writes it)"
    )
    error.journaled = True
    raise error from None


def describe(edits: list[Edit]) -> str:
    """A short list of edits for a message."""
    return (
        ", ".join(f"a new {e.sheet} row" if isinstance(e, AppendRow) else f"{e.sheet} {e.key}" for e in edits)
        or "nothing"
    )


# --- fitting the journal ------------------------------------------------------------------


def fit_journal(
    tracker: Tracker, journal: Journal | None, rows: dict[int, int], layout: Layout | None = None
) -> Pending:
    """Journal edits still to write, fitted to the workbook as it is now.

    Appends already present (same `unique` value) are dropped; cell changes on rows that are
    gone are dropped; a cell someone changed since the edit was decided keeps their value.
    Every edit kept is checked like the command's own and shown in the view (its row number in
    `rows`), so the plan that follows sees it. A journal entry is one command's change: when
    the checks refuse any of its edits, the whole entry is set aside (an event's timeline rows
    never land without the event row, or on someone else's event that took the same ID).
    """
    pending = Pending()
    if journal is None:
        return pending
    poisoned: set[tuple[str, str]] = set()
    for line, batch in journal.entries():
        if batch is None:
            continue  # unreadable: left in the journal for a person to see
        pending.lines.append(line)
        undo: list[Callable[[], None]] = []
        kept: list[Edit] = []
        entry_rows: dict[int, int] = {}
        orphan = next((key for edit in batch.edits if (key := _refers_to(tracker, edit, poisoned))), None)
        if orphan is not None:
            reason = f"it belongs to {orphan[1]!r}, whose {orphan[0]} row was set aside"
            pending.rejected.append((batch.edits, reason))
            continue
        try:
            for edit in batch.edits:
                fitted = fit(tracker, edit)
                if fitted is not None:
                    kept += check(tracker, [fitted], entry_rows, layout=layout, undo=undo)
        except TrackerError as exc:
            for step in reversed(undo):
                step()
            pending.rejected.append((batch.edits, str(exc)))
            poisoned |= _new_keys(tracker, batch.edits)  # later entries about those rows go aside too
            continue
        pending.edits += kept
        rows.update(entry_rows)
    return pending


def _new_keys(tracker: Tracker, edits: list[Edit]) -> set[tuple[str, str]]:
    """(sheet, folded key) of the rows these edits add."""
    out = set()
    for edit in edits:
        key = tracker.schema[edit.sheet].key
        if isinstance(edit, AppendRow) and key and edit.values.get(key) is not None:
            out.add((edit.sheet, _folded(edit.values[key])))
    return out


def _refers_to(tracker: Tracker, edit: Edit, keys: set[tuple[str, str]]) -> tuple[str, str] | None:
    """The (sheet, key) among `keys` that the edit changes a row of or points at, if any."""
    if not keys:
        return None
    if isinstance(edit, SetCells) and (edit.sheet, _folded(edit.key)) in keys:
        return (edit.sheet, edit.key)
    spec = tracker.schema[edit.sheet]
    for name, value in edit.values.items():
        field_spec = spec.fields.get(name)
        if field_spec is not None and field_spec.ref and (field_spec.ref[0], _folded(value)) in keys:
            return (field_spec.ref[0], str(value))
    return None


def fit(tracker: Tracker, edit: Edit) -> Edit | None:
    """An edit decided on an older workbook, as it applies to this one (None: nothing left to do)."""
    data = tracker.sheet(edit.sheet)
    if isinstance(edit, AppendRow):
        if edit.unique:
            value = _folded(edit.values.get(edit.unique))
            if any(_folded(row.values.get(edit.unique)) == value for row in data.rows):
                return None
        if edit.if_absent and row_present(tracker, edit):
            return None
        return edit
    row = data.find(edit.key)
    if row is None:
        return None
    values = dict(edit.values)
    if edit.expect is not None:
        values = {k: v for k, v in values.items() if k not in edit.expect or _same(row.values.get(k), edit.expect[k])}
    if not values:
        return None
    return SetCells(edit.sheet, edit.key, values, edit.expect)


def row_present(tracker: Tracker, edit: AppendRow) -> bool:
    """Whether the sheet already has a row with every value this append would write."""
    data = tracker.sheet(edit.sheet)
    wanted = {n: typed_value(data.spec.fields[n], v) for n, v in edit.values.items() if n in data.spec.fields}
    return any(all(_same(row.values.get(n), v) for n, v in wanted.items()) for row in data.rows)


def expected(values: Mapping[str, Any], expect: Mapping[str, Any] | None) -> bool:
    """Whether a row's values still hold what a SetCells' `expect` says (no `expect`: yes), as `fit` decides it."""
    return expect is None or all(_same(values.get(k), v) for k, v in expect.items())


def _folded(value: Any) -> str:
    return str("" if value is None else value).strip().casefold()


def _same(current: Any, expected: Any) -> bool:
    if isinstance(current, datetime) and isinstance(expected, datetime):
        return abs((as_utc(current) - as_utc(expected)).total_seconds()) < 0.001
    return _folded(current) == _folded(expected)


# --- checks --------------------------------------------------------------------------------


def check(
    tracker: Tracker,
    edits: list[Edit],
    rows: dict[int, int],
    *,
    keep: bool = True,
    layout: Layout | None = None,
    undo: list[Callable[[], None]] | None = None,
) -> list[Edit]:
    """Check edits against the workbook as it will be, apply them to the view; refuse all if one is bad.

    Returns the edits as they will be written (a SetCells with `expect` loses the cells
    someone changed since). Row numbers go into `rows`. Raises ValidationFailed, nothing written.
    With `keep=False` the view is left as it was (a check before deciding, e.g. before sending mail);
    `undo` collects the steps that take the applied edits back out of the view.
    """
    problems: list[str] = []
    out: list[Edit] = []
    steps: list[Callable[[], None]] = []
    try:
        for edit in edits:
            edit = marked(tracker, edit)
            if isinstance(edit, SetCells) and edit.expect is not None:
                fitted = fit(tracker, edit)
                if fitted is None:
                    continue
                edit = fitted
            found = _check_one(tracker, edit, layout)
            if found:
                problems += found
                continue
            steps.append(_undoer(tracker, edit))
            rows[id(edit)] = apply_to_view(tracker, edit)
            out.append(edit)
    finally:
        if problems or not keep:
            for step in reversed(steps):
                step()
        elif undo is not None:
            undo += steps
    if problems:
        raise ValidationFailed("the change was not written: " + "; ".join(dict.fromkeys(problems)))
    return out


APPLIED_BY_TRACKER = "written by tracker"
# The sheets every write looks at (the typed-row check reads both; most commands write one of them): a local store's
# snapshot finds their rows in the XML as asked (Tracker.some_rows), the others parse them side by side.
WRITE_READS = ("Events", "Updates")


def marked(tracker: Tracker, edit: Edit) -> Edit:
    """A row tracker adds is applied already: its sheet's `x-applied-mark` column (Updates' Applied) says so, so
    only rows people type are applied as commands."""
    if not isinstance(edit, AppendRow):
        return edit
    data = tracker.sheet(edit.sheet)
    mark = data.spec.applied_mark
    if mark is None or mark not in data.columns or edit.values.get(mark):
        return edit
    return AppendRow(edit.sheet, {**edit.values, mark: APPLIED_BY_TRACKER}, edit.unique, edit.if_absent)


def _check_one(tracker: Tracker, edit: Edit, layout: Layout | None) -> list[str]:
    data = tracker.sheet(edit.sheet)
    if not data.present:
        return [f"the workbook has no {edit.sheet} sheet; run `tracker validate`"]
    unknown = [name for name in edit.values if name not in data.columns]
    newer = [data.spec.fields[n] for n in unknown if n in data.spec.fields and data.spec.fields[n].added]
    if newer and len(newer) == len(unknown):
        titles = " and ".join(repr(spec.title) for spec in newer)
        return [
            f"{data.title}: this workbook has no {titles} column yet (added in tracker {newer[0].added}); type "
            f"{titles} in the first empty header cell right of the {data.spec.table} table, then run this again"
        ]
    if unknown:
        titles = ", ".join(repr(data.spec.fields[n].title) if n in data.spec.fields else repr(n) for n in unknown)
        return [f"{data.title}: column {titles} is missing from the header row; run `tracker validate`"]
    if isinstance(edit, AppendRow):
        current: Row | None = None
        values = dict.fromkeys(data.spec.fields) | dict(edit.values)
        number = data.last_row + 1
    else:
        current = data.find(edit.key)
        if current is None:
            raise UnknownEvent(f"no row {edit.key!r} on the {data.title} sheet")
        values = dict(current.values) | dict(edit.values)
        number = current.number
    problems = []
    if layout is not None:
        refusal = layout.refusal(
            data.title, number, [data.columns[n] for n in edit.values], isinstance(edit, AppendRow), data.spec.table
        )
        if refusal:
            problems.append(refusal)
    typed = {name: typed_value(data.spec.fields[name], value) for name, value in values.items()}
    for name, message, allowed in data.spec.check_row(typed):
        if name in edit.values or isinstance(edit, AppendRow):
            hint = f"; allowed: {allowed}" if allowed else ""
            problems.append(f"{data.cell(name, number)} ({data.spec.fields[name].title}): {message}{hint}")
    for name, value in edit.values.items():
        spec = data.spec.fields[name]
        where = f"{data.cell(name, number)} ({spec.title})"
        limit = cell_limit_problem(value)
        if limit:
            problems.append(f"{where}: {limit}")
        if spec.unique and value is not None:
            other = _find(data, name, value)
            if other is not None and other is not current:
                problems.append(
                    f"{where}: {value!r} is already used on row {other.number}; each {spec.title} must be unique"
                )
    return problems


def _find(data: SheetData, name: str, value: Any) -> Row | None:
    folded = _folded(value)
    if not folded:  # blank: an empty cell counts as the same
        return next((row for row in data.rows if _folded(row.values.get(name)) == folded), None)
    return next(iter(data.where(name, {folded}, lambda cell: _folded(cell) == folded)), None)


def cell_limit_problem(value: Any) -> str | None:
    """Why a value cannot go into an Excel cell as it is (None when it can)."""
    if isinstance(value, str):
        if len(value) > EXCEL_TEXT_LIMIT:
            return (
                f"{len(value):,} characters, and an Excel cell holds at most {EXCEL_TEXT_LIMIT:,}; "
                "shorten it or put the long text in a document and link it"
            )
        bad = sorted({f"U+{ord(c):04X}" for c in value if ord(c) in _ILLEGAL or _not_xml(ord(c))})
        if bad:
            return f"holds characters ({', '.join(bad)}) that an Excel cell cannot keep; remove them"
    elif isinstance(value, bool):
        return None
    elif isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a number Excel can store"
    elif isinstance(value, int) and beyond_excel(value):
        return f"{value} has more than {EXCEL_DIGITS} digits; Excel would change it"
    elif isinstance(value, datetime):
        naive = as_utc(value).replace(tzinfo=None)
        if naive < EARLIEST:
            return f"{naive:%Y-%m-%d %H:%M} is before 1 March 1900, which Excel cannot show as a date"
    return None


def _not_xml(code: int) -> bool:
    """Code points XML (so an .xlsx) cannot carry: surrogates, U+FFFE and U+FFFF."""
    return 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF)


def typed_value(spec: FieldSpec, value: Any) -> Any:
    """A value as the schema check sees it."""
    if isinstance(value, datetime):
        return as_utc(value)
    return coerce(spec, value)


def cell_value(value: Any) -> Any:
    """What goes into a cell: naive UTC to the millisecond for times."""
    if isinstance(value, datetime):
        value = as_utc(value).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


# --- the view ------------------------------------------------------------------------------


def apply_to_view(tracker: Tracker, edit: Edit, at: int | None = None) -> int:
    """Make the typed view show the edit (so later plans and checks see it); return its Excel row.

    A new row goes after the last one, or on row `at` when that is further down (where the Excel
    service put it, with rows others added meanwhile in between).
    """
    data = tracker.sheet(edit.sheet)
    if isinstance(edit, AppendRow):
        number = max(data.last_row + 1, at or 0)
        typed = dict.fromkeys(data.spec.fields) | {
            n: typed_value(data.spec.fields[n], v) for n, v in edit.values.items() if n in data.spec.fields
        }
        data.add(Row(number, typed))
        return number
    row = data.find(edit.key)
    if row is None:
        raise UnknownEvent(f"no row {edit.key!r} on the {data.title} sheet")
    for name, value in edit.values.items():
        row.values[name] = typed_value(data.spec.fields[name], value)
    data._index = None
    return row.number


def _undoer(tracker: Tracker, edit: Edit) -> Callable[[], None]:
    data = tracker.sheet(edit.sheet)
    if isinstance(edit, AppendRow):
        last = data.last_row

        def undo_append() -> None:
            data.drop_after(last)

        return undo_append
    row = data.find(edit.key)
    before = dict(row.values) if row is not None else {}

    def undo_set() -> None:
        if row is not None:
            row.values.clear()
            row.values.update(before)
            data._index = None

    return undo_set

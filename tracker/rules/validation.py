"""`tracker validate`: every row of every sheet against the schema, plus structure and
cross-sheet references."""

from __future__ import annotations

import io
import re
import sys
import threading
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from tracker.cells import split_ref
from tracker.native import held_import
from tracker.rules import sheet_rules
from tracker.rules.categories import category_problems
from tracker.rules.problem import Problem, position
from tracker.rules.tasks import overlap_problems
from tracker.store.xlsx_layout import sheet_layout_problems
from tracker.times import utcnow
from tracker.workbook.overdue_highlight import Names, Rule, book_names, findings, overdue_rules
from tracker.workbook.policy import INTAKE_FILLS, TYPED_UPDATE_FILLS, awaits_applying, awaits_intake
from tracker.workbook.reading import Row, SheetData, Tracker, column_letter
from tracker.workbook.schema import FieldSpec
from tracker.workbook.typed_cells import gc_paused


def validate_tracker(
    tracker: Tracker,
    has_templates: Callable[[str], bool] | None = None,
    *,
    rows_above_totals: bool = False,
    display_timezone: str | None = None,
    now: datetime | None = None,
) -> list[Problem]:
    """Every problem in the workbook, errors and information, in sheet and row order.

    `has_templates(audience)` (optional) says whether email templates exist for an audience;
    an audience a severity notifies without templates would stop `tracker notify`.
    `rows_above_totals`: the writer adds table rows above a totals row (the Excel service does).
    `display_timezone` (optional): note when the red overdue highlight is not right for a
    viewer in that timezone at `now` (default: the current time).
    """
    # No garbage collection meanwhile, in any thread: the parsers' and the typing's ~100k lists and dicts (no
    # cycles among them) set off a hundred collections a run that find nothing (~40 ms at 10,000 events)
    with gc_paused():
        return _problems(tracker, has_templates, rows_above_totals, display_timezone, now)


def _problems(
    tracker: Tracker,
    has_templates: Callable[[str], bool] | None,
    rows_above_totals: bool,
    display_timezone: str | None,
    now: datetime | None,
) -> list[Problem]:
    problems: list[Problem] = []
    schema = tracker.schema
    tracker.preload(*schema.sheets)
    _import_validator_soon()
    files = _FileFacts(tracker, display_timezone is not None)  # one pass over each sheet's XML, in a thread
    # Started now, as the sheets parse: it is mostly over before they are typed, which then have the interpreter to
    # themselves (started after the first sheet parsed, its regular expressions slowed typing by a third)
    files.start()
    for spec in schema:
        data = tracker.sheet(spec.name)
        if not data.present:
            problems.append(_missing(spec))
            continue
        problems.extend(_structure(data))
        data.check_schema_as_typed()
        data.typed_columns()  # typed while the pass goes on; made rows only where a check needs them
        problems.extend(_rows(data, files.controls(spec.name)))
        problems.extend(_unique(data))
    listed: dict[tuple[str, str], dict[str, Any]] = {}  # what each referenced column lists, gathered once
    for spec in schema:
        data = tracker.sheet(spec.name)
        if data.present:
            problems.extend(_references(tracker, data, listed))
    files.wait()  # (the Excel error cells are the scan's)
    problems = _as_typed(tracker, _with_excel_errors(tracker, problems))
    problems.extend(_layout(files, rows_above_totals))
    if display_timezone is not None:
        problems.extend(_overdue_clock(files, display_timezone, now))
    if "Roster" in schema.sheets and tracker.layout("Roster").present and display_timezone:
        problems.extend(sheet_rules.roster(tracker, display_timezone, now or utcnow()))
    if "Severities" in schema.sheets and "Distribution" in schema.sheets:
        problems.extend(sheet_rules.audiences_without_recipients(tracker))
    if "Escalations" in schema.sheets and tracker.layout("Escalations").present:
        problems.extend(sheet_rules.escalation_tells(tracker))
    if "Categories" in schema.sheets and tracker.layout("Categories").present:
        problems.extend(category_problems(tracker))
    if "Events" in schema.sheets and "Severities" in schema.sheets:
        problems.extend(sheet_rules.cadence(tracker))
    if "Events" in schema.sheets:
        problems.extend(sheet_rules.time_order(tracker))
    problems.extend(overlap_problems(tracker))  # two open tasks on one system for different owners (a note)
    if "Events" in schema.sheets and "Updates" in schema.sheets:
        problems.extend(sheet_rules.contradictions(tracker))
    if has_templates is not None and "Severities" in schema.sheets:
        problems.extend(sheet_rules.audiences_without_templates(tracker.sheet("Severities"), has_templates))
    order = {name: index for index, name in enumerate(schema.sheets)}
    return sorted(problems, key=lambda p: (order.get(p.sheet, len(order)), *position(p.cell)))


def _import_validator_soon() -> None:
    """Import the schema validator (jsonschema_rs, ~40 ms with `decimal`) in a thread while the sheets are parsed,
    rather than when the first row is checked. Off the main thread a Ctrl-C cannot interrupt the import (the reason
    `held_import` holds it back); a failure here is left for the main thread's import to raise as it would."""

    def load() -> None:
        try:
            held_import("jsonschema_rs")
        except BaseException:  # noqa: BLE001, S110 - raised again, and reported, when the rows are checked
            pass

    if "jsonschema_rs" in sys.modules:
        return  # (imported by an earlier check in this process)
    # not a daemon: a Ctrl-C meanwhile ends the command, and the interpreter must not stop under a Rust import (it
    # aborts): it waits for the import (tens of ms) before it exits
    threading.Thread(target=load, name="validate-import", daemon=False).start()


def _missing(spec: Any) -> Problem:
    """A sheet the workbook lacks: an error, or a note for a sheet a later version added (the rest works)."""
    added = spec.schema.get("x-added")
    return Problem(
        spec.name,
        None,
        None,
        None,
        f"sheet {spec.name!r} is missing"
        + (f" (added in tracker {added}; everything else works without it)" if added else ""),
        "add it, or run `tracker init` in a new folder to see the layout",
        "info" if added else "error",
    )


def excel_error_problem(data: SheetData, field: FieldSpec, row: int, error: str) -> Problem:
    """The one wording, everywhere, for a cell showing an Excel error value such as #N/A or #REF!."""
    return Problem.at(
        data,
        field.name,
        row,
        error,
        f"shows the Excel error {error} (a formula or reference that no longer works); type the value itself",
        field.allowed(),
    )


def _with_excel_errors(tracker: Tracker, problems: list[Problem]) -> list[Problem]:
    """Each cell holding an Excel error reported as such, once, instead of what its emptiness looks like."""
    found: list[Problem] = []
    for spec in tracker.schema:
        data = tracker.layout(spec.name)
        if not data.present:
            continue
        by_column = {index: spec.fields[name] for name, index in data.columns.items()}
        for (row, column), error in sorted(tracker.excel_errors(spec.name).items()):
            if row > 1 and column in by_column:
                found.append(excel_error_problem(data, by_column[column], row, error))
    if not found:
        return problems
    cells = {p.cell for p in found}
    return [p for p in problems if p.cell not in cells] + found


def _as_typed(tracker: Tracker, problems: list[Problem]) -> list[Problem]:
    """A date-and-time cell holding a number Excel cannot show as a date (a serial below 1: the reader gives a bare
    time of day, '00:00:00' for -5) is reported with the number typed."""

    out = []
    for problem in problems:
        value = problem.value
        if isinstance(value, str) and problem.cell and value[:2].isdigit() and ":" in value:
            sheet = next((spec.name for spec in tracker.schema if tracker.actual_name(spec.name) == problem.sheet), "")
            try:
                row, column = split_ref(problem.cell.split("!")[-1])
            except ValueError:
                row, column = 0, -1
            data = tracker.layout(sheet) if sheet else None
            field = next((n for n, i in (data.columns.items() if data else ()) if i == column), None)
            typed = tracker.as_typed(sheet, field, row, value) if field else value
            if typed is not value:
                negative = isinstance(typed, int | float) and typed < 0
                shown = "a negative number: Excel shows it as ####" if negative else "a time on 0 January 1900"
                problem = replace(problem, value=typed, message=f"{typed} is {shown}, not a date and time")
        out.append(problem)
    return out


def cell_problems(tracker: Tracker, sheet: str, row: Row, name: str) -> list[Problem]:
    """What is wrong with one cell, worded as `tracker validate` words it (for commands that need the cell)."""
    data = tracker.sheet(sheet)
    field = data.spec.fields[name]
    error = tracker.excel_error(sheet, name, row.number)
    if error is not None:
        return [excel_error_problem(data, field, row.number, error)]
    out = [
        Problem.at(data, name, row.number, row.values.get(name), message, allowed)
        for found, message, allowed in data.spec.check_row(row.values)
        if found == name
    ]
    out = _as_typed(tracker, out)
    if not out and field.ref is not None:
        ref_sheet, ref_field = field.ref
        target = tracker.sheet(ref_sheet)
        known = [r.values[ref_field] for r in target.rows if r.values.get(ref_field) is not None]
        folded = {str(v).casefold() for v in known}
        for item in field.split(row.values.get(name)):
            if item.casefold() not in folded:
                out.append(
                    Problem.at(
                        data,
                        name,
                        row.number,
                        item,
                        _unknown_ref_message(item, ref_sheet, target, ref_field),
                        _allowed_refs(ref_sheet, target.spec.fields[ref_field], known),
                    )
                )
    return out


class _FileFacts:
    """What validate reads from the sheets' XML rather than their cells, in one pass (`Tracker.scan_sheets`, which
    also notes the Excel error cells and which sheets may hold control characters): merged ranges, totals rows and
    formula masters where tracker writes, and the overdue highlight's rules (`overdue`).

    The pass runs in a thread (`start`) while the sheets parse: most of it is inflating the XML, which lets the other
    threads run; before, every sheet's typing waited for it (~0.2 s at 10,000 events). Read its facts after `wait`;
    `controls` waits for its sheet only."""

    def __init__(self, tracker: Tracker, overdue: bool) -> None:
        self.layout: list[tuple[str, str]] = []
        self.names = Names(None, None)
        self.rules: dict[tuple[str, str], Rule] = {}
        self.headers: dict[str, dict[str, str]] = {}  # sheet title -> column letter -> header, of overdue columns
        self._tracker = tracker
        sheets = [data for spec in tracker.schema if (data := tracker.layout(spec.name)).present]
        columns = {data.title: set(data.columns.values()) for data in sheets}
        for data in sheets if overdue else []:
            due = [f for f in data.spec.fields.values() if f.schema.get("x-overdue-unless") and f.name in data.columns]
            if due:
                self.headers[data.title] = {column_letter(data.columns[f.name]): f.title for f in due}
        self._scanned: set[str] = set()  # the titles of the sheets the pass is over with
        self._over = False
        self._news = threading.Condition()
        self._thread: threading.Thread | None = threading.Thread(
            target=self._scan, args=(columns, overdue), name="validate-scan", daemon=True
        )

    def start(self) -> None:
        """Begin the pass (once)."""
        if self._thread is not None and self._thread.ident is None:
            self._thread.start()

    def _scan(self, columns: dict[str, set[int]], overdue: bool) -> None:
        tracker = self._tracker

        def visit(archive: zipfile.ZipFile, title: str, part: str, xml: bytes) -> None:
            self.layout += sheet_layout_problems(archive, title, part, xml, columns.get(title))
            if title in self.headers:
                self.rules.update(overdue_rules(title, xml, list(self.headers[title])))
            with self._news:
                self._scanned.add(title)
                self._news.notify_all()

        try:
            tracker.scan_sheets(visit)
            if overdue and tracker.content is not None:
                source = io.BytesIO(tracker.content) if isinstance(tracker.content, bytes) else tracker.content
                with zipfile.ZipFile(source) as archive:
                    self.names = book_names(archive)
        except Exception:  # noqa: BLE001 - a file calamine read but zipfile cannot: the read errors say more
            self.layout, self.rules = [], {}
        finally:
            with self._news:
                self._over = True
                self._news.notify_all()

    def wait(self) -> None:
        """Until the pass is over."""
        self.start()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def controls(self, name: str) -> bool:
        """Whether the text of schema sheet `name` may hold control characters (yes when the pass could not tell),
        once the pass is over with that sheet."""
        self.start()
        title = self._tracker.actual_name(name)
        with self._news:
            self._news.wait_for(lambda: self._over or title in self._scanned)
        return self._tracker.controls.get(name, True)


def _layout(files: _FileFacts, rows_above_totals: bool) -> list[Problem]:
    """Merged ranges, totals rows and formula masters where tracker writes: every write there would be refused."""
    return [
        Problem(title, None, None, None, message, layout=True)
        for title, message in files.layout
        if not (rows_above_totals and "totals row" in message)
    ]


def _overdue_clock(files: _FileFacts, timezone: str, now: datetime | None) -> list[Problem]:
    """Notes when the red overdue highlight is not right for a viewer in `timezone` (the display timezone)."""
    return [
        Problem(title, None, files.headers[title][letter], None, message, level="info")
        for (title, letter), rule in files.rules.items()
        for message in findings(files.names, rule, timezone, now or utcnow())
    ]


def _structure(data: SheetData) -> list[Problem]:
    out = []
    unknown = {header for _, header in data.unknown_columns}
    for spec in data.missing:
        letter = column_letter(spec.column)
        hint = ""
        if unknown:
            hint = f" (found {', '.join(repr(h) for h in sorted(unknown))}: renamed?)"
        out.append(
            Problem(
                data.title,
                f"{data.title}!{letter}1",
                spec.title,
                None,
                f"column {spec.title!r} is missing from the header row{hint}",
                f"a header named {spec.title!r}",
            )
        )
    for spec in data.missing_newer:
        meanwhile = (
            f"rows typed on {data.title} are not applied until it is there (`tracker update` works)"
            if spec.name == data.spec.applied_mark
            else "everything else works"
        )
        out.append(
            Problem(
                data.title,
                None,
                spec.title,
                None,
                f"column {spec.title!r} (added in tracker {spec.added}) is not in this workbook yet; {meanwhile}. To "
                f"use it, type {spec.title!r} in the first empty header cell right of the {data.spec.table} table "
                "(Excel extends the table)",
                f"a header named {spec.title!r}",
                "info",
            )
        )
    for index, header in data.unknown_columns:
        out.append(
            Problem(
                data.title,
                f"{data.title}!{column_letter(index)}1",
                header,
                None,
                f"column {header!r} is not in the schema; it is kept as it is",
                None,
                "info",
            )
        )
    return out


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _control_characters(data: SheetData, row: Row) -> list[Problem]:
    out: list[Problem] = []
    if not _CONTROL.search("\n".join(v for v in row.values.values() if isinstance(v, str))):
        return out  # one search for the whole row: nearly every row holds none (a newline is not one)
    for name, value in row.values.items():
        if isinstance(value, str) and (found := _CONTROL.search(value)):
            field = data.spec.fields[name]
            out.append(
                Problem.at(
                    data,
                    name,
                    row.number,
                    value,
                    f"holds the control character U+{ord(found[0]):04X} (no one types it; it came from a paste or "
                    "a program and would garble emails and terminals); retype the cell",
                    field.allowed(),
                )
            )
    return out


def _rows(data: SheetData, controls: bool = True) -> list[Problem]:
    """Each row's schema problems, and (when its sheet's text may hold any: `controls`) its control characters."""
    out = []
    spec = data.spec
    present = data.columns
    events = spec.name == "Events"  # (an Events row tracker takes in is noted, wrong or not)
    suspects = data.rows_to_check()  # (nearly every row breaks no rule: found a column at a time)
    if controls:
        rows = data.rows
    else:  # only the rows that might break a rule, and Events rows without an ID (intake's)
        numbers, columns = data.typed_columns()
        ids = columns.get("id", [None] * len(numbers))
        intake = [number for number, key in zip(numbers, ids, strict=True) if not key] if events else []
        rows = data.rows_at(suspects.union(intake))
    for row in rows:
        if controls:
            out.extend(_control_characters(data, row))
        found = spec.check_row(row.values) if row.number in suspects else []
        fills = _filled_by_tracker(data, row) if found or events else ()  # (nearly every row: nothing found)
        for name, message, allowed in found:
            if name not in present and row.values.get(name) is None:
                continue  # the missing column was already reported once
            if name in fills and row.values.get(name) is None:
                continue  # tracker fills it when it applies the row
            out.append(Problem.at(data, name, row.number, row.values.get(name), message, allowed))
        if events and fills:
            message = "typed without an ID: the next tracker write, `tracker sync` or `tracker watch` takes it in"
            out.append(Problem.at(data, "id", row.number, None, message, level="info"))
    return out


def _filled_by_tracker(data: SheetData, row: Row) -> tuple[str, ...]:
    """The empty cells of a typed row tracker fills when it applies it (none for other rows)."""
    if data.spec.name == "Events" and awaits_intake(row):
        return INTAKE_FILLS
    if data.spec.name == "Updates" and awaits_applying(data, row):
        return TYPED_UPDATE_FILLS
    return ()


def _unique(data: SheetData) -> list[Problem]:
    out = []
    for field in data.spec.fields.values():
        if not field.unique or field.name not in data.columns:
            continue
        seen: dict[str, int] = {}
        numbers, columns = data.typed_columns()
        for number, value in zip(numbers, columns[field.name], strict=True):
            if value is None:
                continue
            key = str(value).casefold()
            if key in seen:
                first = data.cell(field.name, seen[key])
                out.append(
                    Problem.at(
                        data,
                        field.name,
                        number,
                        value,
                        f"{value!r} is used twice (first at {first})",
                        f"a {field.title} not used on another row",
                    )
                )
            else:
                seen[key] = number
    return out


def _references(
    tracker: Tracker, data: SheetData, listed: dict[tuple[str, str], dict[str, Any]] | None = None
) -> list[Problem]:
    """Each item of a reference cell (an Event ID, a service) that its sheet does not list. `listed` keeps what each
    referenced column lists (case-folded -> as written) from one sheet's check to the next: six sheets name events."""
    out = []
    listed = {} if listed is None else listed
    for field in data.spec.fields.values():
        if field.ref is None or field.name not in data.columns:
            continue
        ref_sheet, ref_field = field.ref
        target = tracker.sheet(ref_sheet)
        if not target.present or ref_field not in target.columns:
            continue
        if field.ref not in listed:
            listed[field.ref] = {
                str(value).casefold(): value for value in target.typed_columns()[1][ref_field] if value is not None
            }
        known = listed[field.ref]
        # texts known to be listed: the values as their sheet writes them, then each cell found to list only those
        # (the same few lists of services come back); a text is never equal to another type, so this is exact
        fine = {value for value in known.values() if type(value) is str}
        numbers, columns = data.typed_columns()
        for number, value in zip(numbers, columns[field.name], strict=True):
            if value is None or value in fine:  # (nearly every cell)
                continue
            missing = [item for item in field.split(value) if item.casefold() not in known]
            if not missing and type(value) is str:
                fine.add(value)
            for item in missing:
                out.append(
                    Problem.at(
                        data,
                        field.name,
                        number,
                        item,
                        _unknown_ref_message(item, ref_sheet, target, ref_field),
                        _allowed_refs(ref_sheet, target.spec.fields[ref_field], list(known.values())),
                    )
                )
    return out


def _unknown_ref_message(item: str, ref_sheet: str, target: SheetData, ref_field: str) -> str:
    title = target.spec.fields[ref_field].title
    return f"{item!r} is not listed on the {ref_sheet} sheet ({title} column)"


def _allowed_refs(ref_sheet: str, field: FieldSpec, values: list[Any]) -> str:
    shown = ", ".join(str(v) for v in values[:12])
    if len(values) > 12:
        shown += f", ... ({len(values)} in all)"
    return f"a {field.title} listed on the {ref_sheet} sheet" + (f": {shown}" if shown else " (none listed yet)")

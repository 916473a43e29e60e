"""The tracker workbook: typed rows out of an .xlsx, row edits into it, new workbooks.

Reading for commands that only look uses python-calamine (about 10x faster than
openpyxl, see the shared Excel notes); writes load with openpyxl, which keeps tables,
validations and formatting.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.edits import AppendRow, Edit, SetCells
from tracker.errors import UnknownEvent, ValidationFailed, WorkbookError
from tracker.schema import FieldSpec, Schema, SheetSpec, normalize_header
from tracker.times import as_utc

if TYPE_CHECKING:
    from concurrent.futures import Future

    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    from tracker.roundtrip import Inspection

MAX_ROW = 1048576
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def column_letter(index: int) -> str:
    """0-based column index to Excel letters (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def coerce(spec: FieldSpec, value: Any) -> Any:
    """A cell's value as the field's Python type; what does not fit is left for validation."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if spec.enum:
            folded = value.casefold()
            for option in spec.enum:
                if option.casefold() == folded:
                    return option
        elif spec.kind == "integer" and value.isdigit():
            return int(value)
        return value
    if isinstance(value, bool):
        if spec.enum == ("Yes", "No"):
            return "Yes" if value else "No"
        return value
    if isinstance(value, datetime | date):
        if spec.kind == "datetime":
            return as_utc(value)
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer() and spec.kind != "datetime":
            value = int(value)
        if spec.kind == "text":
            return str(value)
        return value
    if isinstance(value, time | timedelta):
        return str(value)
    return str(value)


def converter(spec: FieldSpec) -> Callable[[Any], Any]:
    """`coerce` for one column, with a fast path for the common cell types (validate reads ~500k cells at 10k events)."""
    if spec.kind == "datetime":

        def datetime_cell(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return coerce(spec, value)

        return datetime_cell
    if spec.kind == "text":

        def text_cell(value: Any) -> Any:
            if type(value) is str:
                value = value.strip()
                return value or None
            return coerce(spec, value)

        return text_cell
    return lambda value: coerce(spec, value)


@dataclass
class Row:
    """One non-empty row of a sheet: Excel row number, typed values, user columns."""

    number: int
    values: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values.get(name)

    def get(self, name: str, default: Any = None) -> Any:
        """The field's value, or `default` when empty."""
        value = self.values.get(name)
        return default if value is None else value


@dataclass
class SheetData:
    """What one sheet holds: header layout and rows, as read."""

    spec: SheetSpec
    present: bool
    title: str = ""
    columns: dict[str, int] = field(default_factory=dict)
    unknown_columns: list[tuple[int, str]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    last_row: int = 1
    _index: dict[str, Row] | None = None

    def cell(self, name: str, row: int) -> str:
        """`Events!D7` for field `name` on Excel row `row`."""
        col = self.columns.get(name, self.spec.fields[name].column)
        return f"{self.title or self.spec.name}!{column_letter(col)}{row}"

    @property
    def missing(self) -> list[FieldSpec]:
        """Schema columns not found in the header row."""
        return [spec for name, spec in self.spec.fields.items() if name not in self.columns]

    def find(self, key: str) -> Row | None:
        """The first row whose key column holds `key` (case-insensitive)."""
        if self._index is None:
            keyname = self.spec.key
            self._index = {}
            for row in self.rows:
                value = row.values.get(keyname) if keyname else None
                if value is not None:
                    self._index.setdefault(str(value).casefold(), row)
        return self._index.get(str(key).casefold())


def raw_key(value: Any) -> str:
    """A raw cell as a lookup key, the way typed text compares: 1001.0 -> "1001", trimmed, case-folded."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str("" if value is None else value).strip().casefold()


def read_sheet(
    spec: SheetSpec,
    title: str,
    raw_rows: Iterable[Sequence[Any]],
    *,
    where: tuple[str, set[str]] | None = None,
    header_only: bool = False,
) -> SheetData:
    """Type the raw cell values of a sheet (first row: headers).

    `where` = (field, values) types only the rows whose cell in that field, trimmed and
    case-folded, is one of `values` (what `show` and `list --open` need); `header_only` reads
    just the layout.
    """
    data = SheetData(spec=spec, present=True, title=title)
    iterator = iter(raw_rows)
    header = next(iterator, None) or []
    plan: list[tuple[int, Callable[[Any], Any] | None, str, str, frozenset[str]]] = []
    for index, text in enumerate(header):
        if text is None or str(text).strip() == "":
            continue
        fspec = spec.by_header.get(normalize_header(text))
        if fspec is not None and fspec.name not in data.columns:
            data.columns[fspec.name] = index
            plan.append((index, converter(fspec), fspec.name, fspec.kind, frozenset(fspec.enum)))
        else:
            data.unknown_columns.append((index, str(text).strip()))
            plan.append((index, None, str(text).strip(), "extra", frozenset()))
    if header_only:
        return data
    with gc_paused():  # millions of short-lived values, no cycles: collecting only costs time
        _type_rows(data, spec, iterator, plan, where)
    return data


def _type_rows(
    data: SheetData,
    spec: SheetSpec,
    iterator: Iterator[Sequence[Any]],
    plan: list[tuple[int, Callable[[Any], Any] | None, str, str, frozenset[str]]],
    where: tuple[str, set[str]] | None,
) -> None:
    empty_fields = dict.fromkeys(spec.fields)
    position = data.columns.get(where[0], -1) if where else -1
    wanted = where[1] if where else set()
    for number, raw in enumerate(iterator, start=2):
        if where is not None:
            if position < 0 or position >= len(raw) or raw_key(raw[position]) not in wanted:
                continue
        values = dict(empty_fields)
        extra: dict[str, Any] = {}
        seen = False
        width = len(raw)
        for index, convert, name, kind, options in plan:
            if index >= width:
                continue
            cell = raw[index]
            if cell is None or cell == "":
                continue
            # Fast paths for the two commonest cells (inline: this loop runs ~500k times at 10k events).
            if kind == "text" and type(cell) is str:
                cell = cell.strip()
                if cell:
                    values[name] = cell
                    seen = True
                continue
            if kind == "datetime" and type(cell) is datetime:
                values[name] = cell.replace(tzinfo=UTC) if cell.tzinfo is None else cell
                seen = True
                continue
            if kind == "enum" and cell in options:
                values[name] = cell
                seen = True
                continue
            if kind == "integer" and type(cell) is float and cell.is_integer():
                values[name] = int(cell)
                seen = True
                continue
            if convert is None:
                extra[name] = cell
                seen = True
                continue
            typed = convert(cell)
            if typed is not None:
                values[name] = typed
                seen = True
        if seen:
            data.rows.append(Row(number, values, extra))
            data.last_row = number


class Tracker:
    """A tracker workbook as read: sheets are typed on first use."""

    def __init__(
        self,
        schema: Schema,
        sheet_names: list[str],
        loader: Callable[[str], Iterable[Sequence[Any]]],
        source: str = "",
        preload: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.schema = schema
        self.sheet_names = sheet_names
        self.source = source
        self._loader = loader
        self._preload = preload
        self._sheets: dict[str, SheetData] = {}

    def actual_name(self, name: str) -> str | None:
        """The workbook's own spelling of a sheet name, matched case-insensitively."""
        if name in self.sheet_names:
            return name
        folded = name.casefold()
        return next((n for n in self.sheet_names if n.casefold() == folded), None)

    def sheet(self, name: str) -> SheetData:
        """The typed contents of schema sheet `name` (present=False if absent)."""
        if name not in self._sheets:
            spec = self.schema[name]
            actual = self.actual_name(name)
            if actual is None:
                self._sheets[name] = SheetData(spec=spec, present=False, title=name)
            else:
                self._sheets[name] = read_sheet(spec, actual, self._loader(actual))
        return self._sheets[name]

    def _raw(self, name: str) -> tuple[SheetSpec, str | None]:
        return self.schema[name], self.actual_name(name)

    def preload(self, *names: str) -> None:
        """Parse these sheets now, in parallel where the reader allows (validate, show)."""
        if self._preload is not None:
            self._preload([actual for name in names if (actual := self.actual_name(name)) is not None])

    def layout(self, name: str) -> SheetData:
        """The header layout of a sheet, without typing its rows."""
        if name in self._sheets:
            return self._sheets[name]
        spec, actual = self._raw(name)
        if actual is None:
            return SheetData(spec=spec, present=False, title=name)
        return read_sheet(spec, actual, self._loader(actual), header_only=True)

    def rows_where(self, name: str, field: str, values: set[str]) -> list[Row]:
        """Only the rows whose `field` is one of `values` (case-insensitive), typed."""
        if name in self._sheets:
            return [r for r in self._sheets[name].rows if raw_key(r[field]) in values]
        spec, actual = self._raw(name)
        if actual is None:
            return []
        return read_sheet(spec, actual, self._loader(actual), where=(field, values)).rows

    def require(self, *names: str) -> None:
        """Stop with a clear error if a sheet or column a command needs is missing."""
        problems = []
        for name in names:
            data = self.layout(name)
            if not data.present:
                problems.append(f"sheet {name!r} is missing")
            for spec in data.missing:
                problems.append(f"{name}: column {spec.title!r} is missing from the header row")
        if problems:
            raise ValidationFailed(
                f"{self.source or 'the workbook'} is not a complete tracker workbook: "
                + "; ".join(problems)
                + " (run `tracker validate` for details)"
            )

    def event(self, event_id: str) -> Row:
        """The Events row with this ID, or UnknownEvent."""
        row = self.sheet("Events").find(event_id)
        if row is None:
            raise UnknownEvent(f"no event {event_id!r} on the Events sheet of {self.source or 'the workbook'}")
        return row


def _ensure_file(path: Path) -> None:
    if not path.exists():
        raise WorkbookError(f"workbook {path} does not exist; run `tracker init` to create one")
    if not path.is_file():
        raise WorkbookError(f"workbook {path} is not a file")


def _not_xlsx(path: Path, exc: Exception) -> WorkbookError:
    return WorkbookError(
        f"cannot read {path} as an Excel .xlsx workbook ({type(exc).__name__}: {exc}); "
        "is it an .xlsx file? If it was damaged, restore an earlier version (.tracker-backups/ beside a local "
        "workbook, version history in SharePoint)"
    )


def read_tracker(path: Path, schema: Schema, *, data: bytes | None = None, source: str = "") -> Tracker:
    """Open a workbook for reading with python-calamine (from `data` when given, else from `path`)."""
    import io

    import python_calamine

    if data is None:
        _ensure_file(path)
    try:
        if data is None:
            book = python_calamine.CalamineWorkbook.from_path(str(path))
        else:
            book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(book.sheet_names)
    except Exception as exc:  # noqa: BLE001 - calamine raises several unrelated types
        raise _not_xlsx(path, exc) from None

    parsed: dict[str, list[list[Any]]] = {}
    coming: dict[str, Future[list[list[Any]]]] = {}

    def parse(name: str, own: bool = False) -> list[list[Any]]:
        try:
            source_book = book
            if own:  # a workbook object per thread: calamine parses without holding the GIL
                source_book = (
                    python_calamine.CalamineWorkbook.from_path(str(path))
                    if data is None
                    else python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
                )
            return source_book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:  # noqa: BLE001
            raise _not_xlsx(path, exc) from None

    def load(name: str) -> list[list[Any]]:  # parsed once per command, however many views need it
        if name not in parsed:
            parsed[name] = coming.pop(name).result() if name in coming else parse(name)
        return parsed[name]

    def preload(names: list[str]) -> None:
        """Start parsing these sheets in threads; `load` waits for each one only when it needs it,
        so typing the first sheet overlaps parsing the others."""
        todo = [n for n in names if n not in parsed and n not in coming]
        if len(todo) < 2:
            return
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1))
        for name in todo:
            coming[name] = pool.submit(parse, name, True)
        pool.shutdown(wait=False)

    return Tracker(schema, names, load, source=source or str(path), preload=preload)


def tracker_from_openpyxl(book: Workbook, schema: Schema, source: str = "") -> Tracker:
    """A Tracker view of a workbook loaded with openpyxl (used by writes)."""

    def load(name: str) -> Iterable[Sequence[Any]]:
        return book[name].iter_rows(values_only=True)

    return Tracker(schema, list(book.sheetnames), load, source=source)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection while openpyxl builds or writes millions of cell objects.

    They are all alive until the save ends, so collecting finds nothing and costs ~17% of a
    load + save at 10,000 events (bench/).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_for_write(path: Path, inspection: Inspection) -> Workbook:
    """Load with openpyxl for a write, keeping rich text and macros where the file has them."""
    import warnings

    import openpyxl

    try:
        with warnings.catch_warnings(), gc_paused():
            warnings.simplefilter("ignore", UserWarning)
            return openpyxl.load_workbook(path, rich_text=inspection.rich_text, keep_vba=inspection.keep_vba)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for bad files
        raise WorkbookError(f"cannot open {path} for writing ({type(exc).__name__}: {exc})") from None


# --- writing ---------------------------------------------------------------------------


def cell_value(value: Any) -> Any:
    """What goes into a cell: naive UTC for times, text stripped of control characters."""
    if isinstance(value, datetime):
        value = as_utc(value).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, str):
        return _ILLEGAL.sub("", value)
    return value


def _write(ws: Worksheet, row: int, col: int, spec: FieldSpec, value: Any) -> None:
    cell = ws.cell(row=row, column=col + 1)
    value = cell_value(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
    if spec.number_format and value is not None:
        cell.number_format = spec.number_format


def check_edits(tracker: Tracker, edits: list[Edit]) -> None:
    """Refuse edits whose resulting rows break the schema (nothing is written)."""
    problems: list[str] = []
    for edit in edits:
        data = tracker.sheet(edit.sheet)
        if isinstance(edit, AppendRow):
            values = {name: None for name in data.spec.fields} | dict(edit.values)
        else:
            row = data.find(edit.key)
            if row is None:
                raise UnknownEvent(f"no row {edit.key!r} on the {edit.sheet} sheet")
            values = dict(row.values) | dict(edit.values)
        typed = {name: _typed(data.spec.fields[name], value) for name, value in values.items()}
        for name, message, allowed in data.spec.check_row(typed):
            if name in edit.values or isinstance(edit, AppendRow):
                hint = f"; allowed: {allowed}" if allowed else ""
                problems.append(f"{edit.sheet} {data.spec.fields[name].title}: {message}{hint}")
    if problems:
        raise ValidationFailed("the change was not written: " + "; ".join(problems))


def _typed(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value)
    return coerce(spec, value)


def apply_edits(book: Workbook, tracker: Tracker, edits: list[Edit]) -> None:
    """Apply row edits to an openpyxl workbook that `tracker` was read from."""
    for edit in edits:
        data = tracker.sheet(edit.sheet)
        ws = book[data.title]
        unknown = [name for name in edit.values if name not in data.columns]
        if unknown:
            titles = ", ".join(repr(data.spec.fields[n].title) for n in unknown)
            raise ValidationFailed(f"{data.title}: column {titles} is missing; run `tracker validate`")
        if isinstance(edit, AppendRow):
            number = data.last_row + 1
            _extend_table(ws, data, number)
            if number > 2:
                _copy_style(ws, number - 1, number)
            for name, value in edit.values.items():
                _write(ws, number, data.columns[name], data.spec.fields[name], value)
            typed = {n: None for n in data.spec.fields} | {
                n: _typed(data.spec.fields[n], v) for n, v in edit.values.items()
            }
            new_row = Row(number, typed)
            data.rows.append(new_row)
            data.last_row = number
            data._index = None
        elif isinstance(edit, SetCells):
            row = data.find(edit.key)
            if row is None:
                raise UnknownEvent(f"no row {edit.key!r} on the {data.title} sheet")
            for name, value in edit.values.items():
                _write(ws, row.number, data.columns[name], data.spec.fields[name], value)
                row.values[name] = _typed(data.spec.fields[name], value)


def _table(ws: Worksheet, spec: SheetSpec) -> Any:
    tables = ws.tables
    if spec.table in tables:
        return tables[spec.table]
    return next(iter(tables.values()), None)


def _extend_table(ws: Worksheet, data: SheetData, number: int) -> None:
    from openpyxl.worksheet.cell_range import CellRange

    table = _table(ws, data.spec)
    if table is None:
        return
    bounds = CellRange(table.ref)
    if number <= bounds.max_row:
        return
    bounds.expand(down=number - bounds.max_row)
    table.ref = bounds.coord
    if table.autoFilter is not None:
        table.autoFilter.ref = bounds.coord


def _copy_style(ws: Worksheet, source: int, target: int) -> None:
    for cell in ws[source]:
        if cell.has_style:
            ws.cell(row=target, column=cell.column)._style = copy(cell._style)


# --- building and formatting -------------------------------------------------------------

HEADER_FILL = "1F4E78"
OVERDUE_FILL = "FFC7CE"
OVERDUE_FONT = "9C0006"


def list_name(sheet: str, field_name: str) -> str:
    """Defined name holding the live list of a sheet's column (for dropdowns)."""
    return f"tracker_{sheet}_{field_name}".lower()


def apply_validations(book: Workbook, schema: Schema) -> None:
    """(Re)create dropdowns and help messages for every schema sheet present.

    LibreOffice clips whole-column validation ranges when it saves, so this runs on every
    write; validations on users' own columns are left alone.
    """
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    names = {name.casefold(): name for name in book.sheetnames}
    for sheet in schema:
        actual = names.get(sheet.name.casefold())
        if actual is None:
            continue
        ws = book[actual]
        columns = _header_columns(ws, sheet)
        managed = {column_letter(c) for c in columns.values()}
        kept = [dv for dv in ws.data_validations.dataValidation if not _within(dv, managed)]
        ws.data_validations.dataValidation = kept
        for name, col in columns.items():
            spec = sheet.fields[name]
            letter = column_letter(col)
            formula = None
            if spec.enum:
                formula = '"' + ",".join(spec.enum) + '"'
            elif spec.ref:
                ref_sheet, ref_field = spec.ref
                ref_actual = names.get(ref_sheet.casefold())
                ref_columns = _header_columns(book[ref_actual], schema[ref_sheet]) if ref_actual else {}
                if ref_actual and ref_field in ref_columns:
                    defined = list_name(ref_sheet, ref_field)
                    ref_letter = column_letter(ref_columns[ref_field])
                    quoted = "'" + ref_actual.replace("'", "''") + "'"
                    book.defined_names[defined] = DefinedName(
                        defined,
                        attr_text=(
                            f"OFFSET({quoted}!${ref_letter}$2,0,0,"
                            f"MAX(1,COUNTA({quoted}!${ref_letter}:${ref_letter})-1),1)"
                        ),
                    )
                    formula = defined
            if formula is not None:
                dv = DataValidation(
                    type="list",
                    formula1=formula,
                    allow_blank=True,
                    showErrorMessage=not spec.separator,
                    errorTitle=f"{spec.title}: not allowed",
                    error=f"Allowed: {spec.allowed()}"[:255],
                )
            else:
                dv = DataValidation(allow_blank=True)
            dv.promptTitle = spec.title[:32]
            dv.prompt = spec.description[:255]
            dv.showInputMessage = bool(spec.description)
            dv.add(f"{letter}2:{letter}{MAX_ROW}")
            ws.add_data_validation(dv)


def _within(dv: Any, letters: set[str]) -> bool:
    for cell_range in dv.sqref.ranges:
        coord = cell_range.coord
        first = re.match(r"[A-Z]+", coord)
        last = re.match(r"[A-Z]+", coord.split(":")[-1])
        if not first or not last or first[0] != last[0] or first[0] not in letters:
            return False
    return True


def _header_columns(ws: Worksheet, sheet: SheetSpec) -> dict[str, int]:
    """Field -> column index, matched the way every read matches headers."""
    return read_sheet(sheet, ws.title, ws.iter_rows(min_row=1, max_row=1, values_only=True), header_only=True).columns


def build_workbook(schema: Schema, rows: dict[str, list[dict[str, Any]]] | None = None) -> Workbook:
    """A new tracker workbook: one styled Excel table per sheet, dropdowns, help, formats."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.formatting.rule import CellIsRule, FormulaRule
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.table import Table, TableStyleInfo

    rows = rows or {}
    book = Workbook()
    book.remove(book.active)
    for sheet in schema:
        ws = book.create_sheet(sheet.name)
        fields = list(sheet.fields.values())
        for spec in fields:
            cell = ws.cell(row=1, column=spec.column + 1, value=spec.title)
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
            cell.alignment = Alignment(vertical="center", wrap_text=True)
            if spec.description:
                comment = Comment(spec.description, "tracker")
                comment.width, comment.height = 260, 90
                cell.comment = comment
            dim = ws.column_dimensions[column_letter(spec.column)]
            dim.width = spec.width
        ws.row_dimensions[1].height = 32
        ws.freeze_panes = sheet.schema.get("x-freeze", "A2")
        body = rows.get(sheet.name, [])
        for number, values in enumerate(body, start=2):
            for spec in fields:
                value = values.get(spec.name)
                if value is not None:
                    _write(ws, number, spec.column, spec, value)
        last = max(2, len(body) + 1)
        for spec in fields:
            if spec.number_format:
                for number in range(2, last + 1):
                    ws.cell(row=number, column=spec.column + 1).number_format = spec.number_format
        ref = f"A1:{column_letter(len(fields) - 1)}{last}"
        table = Table(displayName=sheet.table, ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(table)
        _add_conditional_formats(ws, sheet, CellIsRule, FormulaRule, PatternFill, Font)
    apply_validations(book, schema)
    return book


def _add_conditional_formats(ws: Worksheet, sheet: SheetSpec, CellIsRule, FormulaRule, PatternFill, Font) -> None:  # noqa: N803
    for spec in sheet.fields.values():
        letter = column_letter(spec.column)
        target = f"{letter}2:{letter}{MAX_ROW}"
        for value, colour in spec.schema.get("x-colours", {}).items():
            rule = CellIsRule(operator="equal", formula=[f'"{value}"'], fill=PatternFill("solid", fgColor=colour))
            ws.conditional_formatting.add(target, rule)
        overdue = spec.schema.get("x-overdue-unless")
        if overdue:
            status = column_letter(sheet.fields[overdue["field"]].column)
            unless = ",".join(f'${status}2<>"{value}"' for value in overdue["in"])
            rule = FormulaRule(
                formula=[f'AND(${letter}2<>"",${letter}2<NOW(),{unless})'],
                fill=PatternFill("solid", fgColor=OVERDUE_FILL),
                font=Font(color=OVERDUE_FONT, bold=True),
            )
            ws.conditional_formatting.add(target, rule)

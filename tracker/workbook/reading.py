"""Reading the tracker workbook: typed rows out of an .xlsx.

python-calamine parses the sheets (about 10x faster than openpyxl, see the shared Excel
notes); each sheet is typed on first use. Writing is `tracker.store` (the commit engine and
its appliers); building a new workbook is `tracker.rules.build`.
"""

from __future__ import annotations

import gc
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from tracker.cells import cell_text, column_letter, error_cells
from tracker.errors import UnknownEvent, ValidationFailed
from tracker.times import as_utc
from tracker.workbook.schema import FieldSpec, Schema, SheetSpec, normalize_header

_TIME_OF_DAY = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?$")  # how a time the reader gave reads as text


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
        if isinstance(value, float) and _whole(value) and spec.kind != "datetime":
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
    last_row: int = 1
    _index: dict[str, Row] | None = None
    _rows: list[Row] | None = field(default=None, repr=False)
    _typing: Callable[[], list[Row]] | None = field(default=None, repr=False)

    _added: list[Row] = field(default_factory=list, repr=False)  # rows added to the view before typing
    _raw: list[Sequence[Any]] | None = field(default=None, repr=False)  # the cells below the header, until typed

    @property
    def rows(self) -> list[Row]:
        """The non-empty rows, typed on first use (a write that only adds a row never types them)."""
        if self._rows is None:
            typing, self._typing = self._typing, None
            self._rows = (typing() if typing is not None else []) + self._added
            self._added = []
            self._raw = None
        return self._rows

    def column(self, name: str) -> list[Any]:
        """Every non-empty cell of one column, without typing the rows when they are not typed yet
        (typed values once they are; raw cells, e.g. numbers as floats, before)."""
        if self._raw is None:
            return [row[name] for row in self.rows if row[name] is not None]
        index = self.columns.get(name)
        if index is None:
            return []
        convert = converter(self.spec.fields[name])  # the same rule as typing: trimmed, blank is None
        cells = [convert(row[index]) for row in self._raw if index < len(row) and row[index] not in (None, "")]
        return [c for c in cells if c is not None] + [r[name] for r in self._added if r[name] is not None]

    def may_hold(self, filled: Sequence[str], empty: str) -> bool:
        """Whether some row may have every `filled` column non-empty and `empty` empty: exact once the rows are
        typed; before, a look at the raw cells that never types them (a blank-looking cell counts as filled, so
        the answer errs towards yes)."""
        if self._raw is None:
            return any(all(row[n] is not None for n in filled) and row[empty] is None for row in self.rows)
        if any(name not in self.columns for name in (*filled, empty)):
            return False
        wanted = [self.columns[n] for n in filled]
        blank = self.columns[empty]

        def cell(row: Sequence[Any], index: int) -> bool:
            return index < len(row) and row[index] not in (None, "")

        news = any(all(cell(row, i) for i in wanted) and not cell(row, blank) for row in self._raw)
        return news or any(all(r[n] is not None for n in filled) and r[empty] is None for r in self._added)

    def add(self, row: Row) -> None:
        """Show a new row at the end (without typing the others)."""
        (self._added if self._rows is None else self._rows).append(row)
        self.last_row = max(self.last_row, row.number)
        self._index = None

    def drop_after(self, number: int) -> None:
        """Take back the rows added after Excel row `number`."""
        for rows in (self._added, self._rows or []):
            while rows and rows[-1].number > number:
                rows.pop()
        self.last_row = number
        self._index = None

    def items(self, row: Row | None, name: str) -> list[str]:
        """A list-valued cell of `row` (e.g. Audiences Notified) as its items, split as the schema's x-separator
        says; [] for no row."""
        return self.spec.fields[name].split(row[name]) if row is not None else []

    def cell(self, name: str, row: int) -> str:
        """`Events!D7` for field `name` on Excel row `row`."""
        col = self.columns.get(name, self.spec.fields[name].column)
        return f"{self.title or self.spec.name}!{column_letter(col)}{row}"

    @property
    def missing(self) -> list[FieldSpec]:
        """Schema columns not found in the header row that every workbook has."""
        return [spec for name, spec in self.spec.fields.items() if name not in self.columns and not spec.added]

    @property
    def missing_newer(self) -> list[FieldSpec]:
        """Columns a newer tracker added that this workbook lacks: what needs them says so; the rest works."""
        return [spec for name, spec in self.spec.fields.items() if name not in self.columns and spec.added]

    def find(self, key: str) -> Row | None:
        """The first row whose key column holds `key` (case-insensitive); `ROW_KEY + "7"` is Excel row 7 (for
        sheets without a key column, e.g. `tracker validate --fix` on the Updates sheet)."""
        if key.startswith(ROW_KEY) and key[len(ROW_KEY) :].isdigit():
            number = int(key[len(ROW_KEY) :])
            return next((row for row in self.rows if row.number == number), None)
        if self._index is None:
            keyname = self.spec.key
            self._index = {}
            for row in self.rows:
                value = row.values.get(keyname) if keyname else None
                if value is not None:
                    self._index.setdefault(str(value).casefold(), row)
        return self._index.get(str(key).casefold())


def _whole(value: float) -> bool:
    """Whether a float cell is a whole number tracker shows as one: up to Excel's 15 digits. 1E+300 stays a float, so
    it is shown as Excel shows it (1e+300), not as 301 digits Excel never held."""
    return value.is_integer() and abs(value) < 1e15


ROW_KEY = "\x00row:"  # a SetCells key "\x00row:7" means Excel row 7 (no one types a NUL, no ID starts with one)


def raw_key(value: Any) -> str:
    """A raw cell as a lookup key, the way typed text compares: 1001.0 -> "1001", trimmed, case-folded."""
    if isinstance(value, float) and _whole(value):
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
    if where is not None:
        with gc_paused():  # millions of short-lived values, no cycles: collecting only costs time
            data._rows = _type_rows(data, spec, iterator, plan, where)
        return data
    rest = list(iterator)
    data.last_row = _last_row(rest, plan)
    data._raw = rest

    def type_rows() -> list[Row]:
        with gc_paused():
            return _type_rows(data, spec, iter(rest), plan, None)

    data._typing = type_rows
    return data


def _last_row(rows: list[Sequence[Any]], plan: list[tuple[int, Any, str, str, frozenset[str]]]) -> int:
    """The Excel number of the last row with a non-blank cell under a header (1: none), found from the end."""
    # The rule `_type_rows` applies: a schema cell counts when it is not blank after trimming,
    # a cell under a user's own header whenever it is not empty.
    columns = [(index, convert is None) for index, convert, *_ in plan]
    for position in range(len(rows) - 1, -1, -1):
        row = rows[position]
        width = len(row)
        for index, own in columns:
            if index < width:
                cell = row[index]
                if cell is None or cell == "":
                    continue
                if own or not (isinstance(cell, str) and not cell.strip()):
                    return position + 2
    return 1


def _type_rows(
    data: SheetData,
    spec: SheetSpec,
    iterator: Iterator[Sequence[Any]],
    plan: list[tuple[int, Callable[[Any], Any] | None, str, str, frozenset[str]]],
    where: tuple[str, set[str]] | None,
) -> list[Row]:
    out: list[Row] = []
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
            if kind == "integer" and type(cell) is float and _whole(cell):
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
            out.append(Row(number, values, extra))
    return out


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
        self.content: bytes | Path | None = None  # the .xlsx it was read from, for layout checks
        # the store's journal (tracker.store.journal.Journal), when a store read it: its rows waiting to be written
        # count as written for what the log says (which events an audience has heard of)
        self.journal: Any = None
        self._errors: dict[str, dict[tuple[int, int], str]] = {}

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

    def raw_rows(self, name: str) -> list[Sequence[Any]]:
        """The cells of schema sheet `name` below its header row as the file holds them (before typing): the
        item at index i is Excel row i + 2."""
        actual = self.actual_name(name)
        if actual is None:
            return []
        rows = iter(self._loader(actual))
        next(rows, None)
        return list(rows)

    def excel_errors(self, name: str) -> dict[tuple[int, int], str]:
        """Cells of schema sheet `name` holding an Excel error value such as #N/A or #REF! (they read as empty):
        (Excel row, 0-based column) -> the error. Read from the file on first use."""
        if not self._errors:  # every schema sheet in one pass over the file
            titles = {spec.name: self.actual_name(spec.name) for spec in self.schema}
            found: dict[str, dict[tuple[int, int], str]] = {}
            if self.content is not None:
                try:
                    found = error_cells(self.content, [t for t in titles.values() if t is not None])
                except Exception:  # noqa: BLE001 - a file the reader took but zipfile cannot: nothing to add
                    found = {}
            self._errors = {sheet: found.get(title or "", {}) for sheet, title in titles.items()}
        return self._errors.get(name, {})

    def as_typed(self, name: str, field: str, row: int, value: Any) -> Any:
        """`value` of a date-and-time cell as the file holds it when the reader could not show it: a date serial
        below 1 (Excel shows a negative one as ####) reads as a bare time of day, "00:00:00" for -5; this gives
        the number typed (-5) instead. Any other value is given back as it is."""
        spec = self.schema[name].fields.get(field)
        if spec is None or spec.kind != "datetime" or not isinstance(value, str) or not _TIME_OF_DAY.match(value):
            return value
        data = self.layout(name)
        actual = self.actual_name(name)
        if self.content is None or actual is None or field not in data.columns:
            return value

        try:
            text = cell_text(self.content, actual, data.cell(field, row).split("!")[-1])
            number = float(text) if text is not None else None
        except (ValueError, OSError, zipfile.BadZipFile):
            return value
        if number is None:
            return value
        return int(number) if number.is_integer() else number

    def excel_error(self, name: str, field: str, row: int) -> str | None:
        """The Excel error value in `field` of Excel row `row` of sheet `name`, if it holds one."""
        data = self.layout(name)
        column = data.columns.get(field)
        return None if column is None else self.excel_errors(name).get((row, column))

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
        """Stop with a clear error if a sheet or column a command needs is missing.

        The sheets are parsed in parallel now, since the command is about to read them.
        """
        problems = []
        self.preload(*names)
        for name in names:
            data = self.layout(name)
            if not data.present:
                problems.append(f"sheet {name!r} is missing{self._renamed(name)}")
                continue  # its columns are missing with it: one line, not thirty
            titles = [repr(spec.title) for spec in data.missing]
            if titles:
                shown = ", ".join(titles[:3]) + (f" and {len(titles) - 3} more" if len(titles) > 3 else "")
                problems.append(f"{name}: column{'s' * (len(titles) > 1)} {shown} missing from the header row")
        if problems:
            raise ValidationFailed(
                f"{self.source or 'the workbook'} is not a complete tracker workbook: "
                + "; ".join(problems)
                + " (run `tracker validate` for details)"
            )

    def _renamed(self, name: str) -> str:
        """` (is 'Events 2024' it, renamed?)` when a sheet the schema does not know has a name like `name`."""
        import difflib

        known = {n.casefold() for n in self.schema.sheets}
        others = [n for n in self.sheet_names if n.casefold() not in known]
        close = difflib.get_close_matches(name, others, n=1, cutoff=0.5)
        if not close:
            return ""
        return f" (is {close[0]!r} it, renamed? tracker finds sheets by name: name it {name!r} again)"

    def event(self, event_id: str) -> Row:
        """The Events row with this ID, or UnknownEvent; ValidationFailed naming both cells when two rows hold it (a
        row copied or typed by hand): a command would otherwise change whichever came first."""
        data = self.sheet("Events")
        row = data.find(event_id)
        if row is None:
            raise UnknownEvent(f"no event {event_id!r} on the Events sheet of {self.source or 'the workbook'}")
        key = data.spec.key
        if key and key in data.columns:
            wanted = str(event_id).strip().casefold()
            same = [r for r in data.rows if str(r.values.get(key) or "").strip().casefold() == wanted]
            if len(same) > 1:
                letter = column_letter(data.columns[key])
                cells = " and ".join(f"{data.title or 'Events'}!{letter}{r.number}" for r in same)
                raise ValidationFailed(
                    f"{cells} all hold the ID {event_id!r}; an event's ID must be on one row only: give the copy "
                    "another ID (or delete it) in Excel, then run the command again"
                )
        return row


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

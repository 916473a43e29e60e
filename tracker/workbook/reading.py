"""Reading the tracker workbook: typed rows out of an .xlsx.

python-calamine parses the sheets (about 10x faster than openpyxl, see the shared Excel
notes); each sheet is typed on first use. Writing is `tracker.store` (the commit engine and
its appliers); building a new workbook is `tracker.rules.build`.
"""

from __future__ import annotations

import gc
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracker.cells import cell_text, column_letter, error_cells, errors_in, may_hold_control, sheet_parts
from tracker.errors import UnknownEvent, ValidationFailed
from tracker.workbook.cell_values import ROW_KEY, TIME_OF_DAY, converter, raw_key, whole_number
from tracker.workbook.schema import FieldSpec, Schema, SheetSpec, normalize_header


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
    # rows typed one by one before the rest (`find`, `matching`), by Excel row: typing them all later keeps these
    # very objects, with whatever the view changed in them
    _early: dict[int, Row] = field(default_factory=dict, repr=False)
    _plan: list[tuple[int, Callable[[Any], Any] | None, str, str, frozenset[str]]] = field(
        default_factory=list, repr=False
    )

    @property
    def rows(self) -> list[Row]:
        """The non-empty rows, typed on first use (a write that only adds a row never types them)."""
        if self._rows is None:
            typing, self._typing = self._typing, None
            typed = typing() if typing is not None else []
            if self._early:
                typed = [self._early.get(row.number, row) for row in typed]
            self._rows = typed + self._added
            self._added = []
            self._raw = None
        return self._rows

    def _row_at(self, number: int) -> Row | None:
        """Excel row `number` typed alone, before the others (the same object once they are typed)."""
        if number not in self._early and self._raw is not None and 2 <= number < len(self._raw) + 2:
            typed = _type_rows(self, self.spec, [(number, self._raw[number - 2])], self._plan, None)
            if typed:
                self._early[number] = typed[0]
        return self._early.get(number)

    def matching(self, name: str, test: Callable[[Any], bool]) -> list[Row]:
        """The rows whose (typed, non-empty) `name` cell passes `test`, in sheet order; before the rows are typed,
        only those are (a write looking up one event among 100,000 types one row)."""
        if self._raw is None:
            return [row for row in self.rows if row.values.get(name) is not None and test(row.values[name])]
        index = self.columns.get(name)
        out: list[Row] = []
        if index is not None:
            convert = converter(self.spec.fields[name]) if name in self.spec.fields else (lambda v: v)
            for number, raw in enumerate(self._raw, start=2):
                early = self._early.get(number)
                if early is not None:  # typed already, maybe changed by the view since: its values count
                    value = early.values.get(name) if name in self.spec.fields else early.extra.get(name)
                elif index < len(raw) and raw[index] not in (None, ""):
                    value = convert(raw[index])
                else:
                    continue
                if value is not None and test(value) and (row := early or self._row_at(number)) is not None:
                    out.append(row)
        return out + [row for row in self._added if row.values.get(name) is not None and test(row.values[name])]

    def column(self, name: str) -> list[Any]:
        """Every non-empty cell of one column, without typing the rows when they are not typed yet
        (typed values once they are; raw cells, e.g. numbers as floats, before)."""
        if self._raw is None or self._early:  # (rows typed early may have changed in the view: type them all)
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
        if self._raw is None or self._early:  # (rows typed early may have changed in the view: type them all)
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
            if self._raw is not None and (early := self._row_at(number)) is not None:
                return early
            added = next((row for row in self._added if row.number == number), None)
            return added or next((row for row in self.rows if row.number == number), None)
        if self._raw is not None and self.spec.key:
            folded = str(key).casefold()
            found = self.matching(self.spec.key, lambda value: str(value).casefold() == folded)
            return found[0] if found else None
        if self._index is None:
            keyname = self.spec.key
            self._index = {}
            for row in self.rows:
                value = row.values.get(keyname) if keyname else None
                if value is not None:
                    self._index.setdefault(str(value).casefold(), row)
        return self._index.get(str(key).casefold())


def read_sheet(
    spec: SheetSpec,
    title: str,
    raw_rows: Iterable[Sequence[Any]],
    *,
    where: tuple[str, set[str]] | None = None,
    header_only: bool = False,
    numbered: Iterable[tuple[int, Sequence[Any]]] | None = None,
) -> SheetData:
    """Type the raw cell values of a sheet (first row: headers).

    `where` = (field, values) types only the rows whose cell in that field, trimmed and
    case-folded, is one of `values` (what `show` and `list --open` need); `header_only` reads
    just the layout. `numbered` gives the rows below the header with their Excel row numbers
    (some rows of a sheet, `tracker.workbook.sieve`), instead of the rest of `raw_rows`.
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
        pairs = numbered if numbered is not None else enumerate(iterator, start=2)
        with gc_paused():  # millions of short-lived values, no cycles: collecting only costs time
            data._rows = _type_rows(data, spec, pairs, plan, where)
        return data
    rest = list(iterator)
    data.last_row = _last_row(rest, plan)
    data._raw, data._plan = rest, plan

    def type_rows() -> list[Row]:
        with gc_paused():
            return _type_rows(data, spec, enumerate(rest, start=2), plan, None)

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
    pairs: Iterable[tuple[int, Sequence[Any]]],
    plan: list[tuple[int, Callable[[Any], Any] | None, str, str, frozenset[str]]],
    where: tuple[str, set[str]] | None,
) -> list[Row]:
    out: list[Row] = []
    empty_fields = dict.fromkeys(spec.fields)
    position = data.columns.get(where[0], -1) if where else -1
    wanted = where[1] if where else set()
    for number, raw in pairs:
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
            if kind == "integer" and type(cell) is float and whole_number(cell):
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
        sieve: Any = None,
        parsing: Callable[[str], bool] | None = None,
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
        self.controls: dict[str, bool] = {}  # sheet -> whether its text may hold control characters (scan_sheets)
        # some rows of a sheet without parsing all of it (tracker.workbook.sieve.SheetSieve), unless the whole
        # sheet is parsed or being parsed already (`parsing`)
        self._sieve = sieve
        self._parsing = parsing or (lambda actual: False)
        self._layouts: dict[str, SheetData] = {}
        self._some_rows: set[str] = set()  # sheets a command reads only some rows of (prefetch)
        self._where: dict[tuple[str, str, frozenset[str]], list[Row]] = {}  # rows_where, asked again

    def _sifted(self, actual: str) -> bool:
        """Whether rows of sheet `actual` are read by the sieve: the command said it reads only some rows of it
        (prefetch), and it is not parsed whole already."""
        return actual in self._some_rows and not self._parsing(actual)

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

    def scan_sheets(self, visit: Callable[[zipfile.ZipFile, str, str, bytes], None]) -> None:
        """One pass over the file for `tracker validate`: each schema sheet's XML is decompressed once, its Excel
        error cells noted (`excel_errors`), whether its text may hold control characters (`controls`), and the XML
        handed to `visit(archive, title, part, xml)`."""
        if self.content is None:
            return
        titles = {spec.name: self.actual_name(spec.name) for spec in self.schema}
        found: dict[str, dict[tuple[int, int], str]] = {}
        source = io.BytesIO(self.content) if isinstance(self.content, bytes) else self.content
        with zipfile.ZipFile(source) as archive:
            parts = sheet_parts(archive)
            shared = [n for n in archive.namelist() if n.casefold().endswith("sharedstrings.xml")]
            in_shared = any(may_hold_control(archive.read(n)) for n in shared)  # text every sheet may point at
            for name, title in titles.items():
                if title is not None and title in parts:
                    xml = archive.read(parts[title])
                    found[title] = errors_in(xml)
                    self.controls[name] = in_shared or may_hold_control(xml)
                    visit(archive, title, parts[title], xml)
        self._errors = {sheet: found.get(title or "", {}) for sheet, title in titles.items()}

    def as_typed(self, name: str, field: str, row: int, value: Any) -> Any:
        """`value` of a date-and-time cell as the file holds it when the reader could not show it: a date serial
        below 1 (Excel shows a negative one as ####) reads as a bare time of day, "00:00:00" for -5; this gives
        the number typed (-5) instead. Any other value is given back as it is."""
        spec = self.schema[name].fields.get(field)
        if spec is None or spec.kind != "datetime" or not isinstance(value, str) or not TIME_OF_DAY.match(value):
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
        if self._preload is not None:  # (not the sheets a command reads some rows of: see prefetch)
            self._preload([a for n in names if (a := self.actual_name(n)) is not None and a not in self._some_rows])

    def prefetch(self, *names: str) -> None:
        """A command that reads some rows of these sheets says so first: their XML inflates in threads meanwhile
        (tracker.workbook.sieve)."""
        if self._sieve is not None:
            titles = [a for n in names if (a := self.actual_name(n)) is not None and not self._parsing(a)]
            self._some_rows.update(titles)
            self._sieve.prefetch(*titles)

    def may_hold(self, name: str, filled: Sequence[str], empty: str) -> bool:
        """`SheetData.may_hold` of sheet `name`, answered from its XML when it is not parsed yet (the typed-row check
        every write makes: most find no typed row, and then parse neither sheet)."""
        actual = self.actual_name(name)
        if actual is None:
            return False
        if name not in self._sheets and not self._parsing(actual) and self._sieve is not None:
            layout = self.layout(name)
            if any(n not in layout.columns for n in (*filled, empty)):
                return False
            answer = self._sieve.may_hold(actual, [layout.columns[n] for n in filled], layout.columns[empty])
            if answer is not None:
                return answer
        return self.sheet(name).may_hold(filled, empty)

    def layout(self, name: str) -> SheetData:
        """The header layout of a sheet, without typing its rows."""
        if name in self._sheets:
            return self._sheets[name]
        spec, actual = self._raw(name)
        if actual is None:
            return SheetData(spec=spec, present=False, title=name)
        if name in self._layouts:
            return self._layouts[name]
        header = self._sieve.header(actual) if self._sifted(actual) else None
        raw = [header] if header is not None else self._loader(actual)
        self._layouts[name] = read_sheet(spec, actual, raw, header_only=True)
        return self._layouts[name]

    def rows_where(self, name: str, field: str, values: set[str]) -> list[Row]:
        """Only the rows whose `field` is one of `values` (case-insensitive), typed."""
        key = (name, field, frozenset(values))
        if name not in self._sheets and key in self._where:
            return self._where[key]
        self._where[key] = self._rows_where(name, field, values)
        return self._where[key]

    def _rows_where(self, name: str, field: str, values: set[str]) -> list[Row]:
        if name in self._sheets:
            return [r for r in self._sheets[name].rows if raw_key(r[field]) in values]
        spec, actual = self._raw(name)
        if actual is None:
            return []
        if self._sifted(actual) and field in (layout := self.layout(name)).columns:
            sifted = self._sieve.rows(actual, layout.columns[field], values)
            if sifted is not None:
                header, rows = sifted[0][1], sifted[1:]
                return read_sheet(spec, actual, [header], where=(field, values), numbered=rows).rows
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
        if "Events" not in self._sheets and self._sifted(self.actual_name("Events") or ""):
            return self._event_sifted(event_id)
        data = self.sheet("Events")
        row = data.find(event_id)
        if row is None:
            raise UnknownEvent(f"no event {event_id!r} on the Events sheet of {self.source or 'the workbook'}")
        key = data.spec.key
        if key and key in data.columns:
            wanted = str(event_id).strip().casefold()
            same = data.matching(key, lambda value: str(value).strip().casefold() == wanted)
            self._one_row(data, event_id, same)
        return row

    def _event_sifted(self, event_id: str) -> Row:
        """`event` from the rows holding the ID alone (tracker.workbook.sieve), the sheet left unparsed."""
        data = self.layout("Events")
        key = data.spec.key or ""
        wanted = str(event_id).strip().casefold()
        same = [r for r in self.rows_where("Events", key, {wanted}) if str(r[key] or "").strip().casefold() == wanted]
        row = next((r for r in same if str(r[key]).casefold() == str(event_id).casefold()), None)
        if row is None or not data.present:
            raise UnknownEvent(f"no event {event_id!r} on the Events sheet of {self.source or 'the workbook'}")
        self._one_row(data, event_id, same)
        return row

    def _one_row(self, data: SheetData, event_id: str, same: list[Row]) -> None:
        """ValidationFailed naming both cells when two rows hold one event's ID."""
        if len(same) > 1:
            letter = column_letter(data.columns[data.spec.key or ""])
            cells = " and ".join(f"{data.title or 'Events'}!{letter}{r.number}" for r in same)
            raise ValidationFailed(
                f"{cells} all hold the ID {event_id!r}; an event's ID must be on one row only: give the copy "
                "another ID (or delete it) in Excel, then run the command again"
            )


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

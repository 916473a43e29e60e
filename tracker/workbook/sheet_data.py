"""One sheet as read: its header layout and its rows, typed on first use (or one by one, for a write that looks up
one row among 100,000)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tracker.cells import column_letter
from tracker.errors import WorkbookError
from tracker.workbook.cell_forms import Starting
from tracker.workbook.cell_values import ROW_KEY, converter, raw_key
from tracker.workbook.schema import FieldSpec, SheetSpec, normalize_header
from tracker.workbook.schema_columns import SheetRules
from tracker.workbook.typed_cells import gc_paused, typed_column

# How a sheet's columns are typed: (column index, its converter (None: a user's own column), field, kind, dropdown)
_Plan = list[tuple[int, Callable[[Any], Any] | None, str, str, frozenset[str]]]


@dataclass(slots=True)
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


class Sifter(Protocol):
    """Rows of one sheet read from its XML (tracker.workbook.sieve) while the sheet is not parsed whole: each answer
    holds at least the rows asked for (numbered, cells as python-calamine reads them), or is None when the XML
    cannot tell (then the sheet is parsed whole)."""

    def rows(self, column: int, values: set[str] | Starting) -> list[tuple[int, Sequence[Any]]] | None:
        """The rows whose cell in `column` may hold one of `values` (trimmed, case-folded)."""
        ...

    def texts(self, column: int, wanted: Starting) -> list[tuple[int, Any]] | None:
        """Each row's cell in `column` that may start with `wanted`, numbered (cells as read, not typed)."""
        ...

    def blank(self, column: int) -> list[tuple[int, Sequence[Any]]] | None:
        """The rows whose cell in `column` may be empty."""
        ...


@dataclass
class SheetData:
    """What one sheet holds: header layout and rows, as read."""

    spec: SheetSpec
    present: bool
    title: str = ""
    columns: dict[str, int] = field(default_factory=dict)
    unknown_columns: list[tuple[int, str]] = field(default_factory=list)
    _last: int = field(default=1, repr=False)  # last_row
    _index: dict[str, Row] | None = None
    _rows: list[Row] | None = field(default=None, repr=False)
    _typing: Callable[[], list[Row]] | None = field(default=None, repr=False)

    _added: list[Row] = field(default_factory=list, repr=False)  # rows added to the view before typing
    _raw: list[Sequence[Any]] | None = field(default=None, repr=False)  # the cells below the header, until typed
    # rows typed one by one before the rest (`find`, `matching`), by Excel row: typing them all later keeps these
    # very objects, with whatever the view changed in them
    _early: dict[int, Row] = field(default_factory=dict, repr=False)
    _plan: _Plan = field(default_factory=list, repr=False)
    # A sheet a write looks at a few rows of (`some_rows_sheet`): `_sift` finds them in the XML, and the sheet is
    # parsed whole (`_load`) only when something needs every row
    _load: Callable[[], Iterable[Sequence[Any]]] | None = field(default=None, repr=False)
    _sift: Sifter | None = field(default=None, repr=False)
    _file_last: int | None = field(default=None, repr=False)  # its last row as its XML said, until it is parsed
    # how to read that last row from the end of its XML when first asked: (its last rows, whether all) or None
    _tail: Callable[[], tuple[list[tuple[int, Sequence[Any]]], bool] | None] | None = field(default=None, repr=False)
    _sifted: set[tuple[str, frozenset[str] | Starting]] = field(
        default_factory=set, repr=False
    )  # `where` asked of `_sift`
    # The schema's column rules (`check_schema_as_typed`), run on each column as the whole sheet is typed, its cells
    # still in the processor's cache; then the Excel numbers of the rows that might break one, taken once
    _column_rules: SheetRules | None = field(default=None, repr=False)
    _suspects: set[int] | None = field(default=None, repr=False)
    _typed: _Typed | None = field(default=None, repr=False)  # typed a column at a time, not made rows yet

    @property
    def last_row(self) -> int:
        """The Excel number of the last row with a non-blank cell under the header (1: none): where a new row goes
        below. On a sheet a write looks at a few rows of, read from the end of its XML when first asked."""
        if self._tail is not None:
            tail, self._tail = self._tail, None
            found = tail()
            rows, whole = found if found is not None else ([], False)
            last = next((number for number, row in reversed(rows) if _filled(row, self._plan)), None)
            if last is None and not whole:
                self._whole()  # the tail holds no filled row: only the whole sheet tells
            else:
                self._file_last = last or 1
                self._last = max(self._last, self._file_last)
        return self._last

    @last_row.setter
    def last_row(self, number: int) -> None:
        self._last = number

    @property
    def rows(self) -> list[Row]:
        """The non-empty rows, typed on first use (a write that only adds a row never types them)."""
        if self._rows is None:
            self._whole()
            typing, self._typing = self._typing, None
            typed = typing() if typing is not None else []
            if self._suspects is not None:  # rows typed before the others, or added: the view may have changed them
                self._suspects.update(self._early, (row.number for row in self._added))
            if self._early:
                typed = [self._early.get(row.number, row) for row in typed]
            self._rows = typed + self._added
            self._added = []
            self._raw = None
            self._column_rules = None
            self._typed = None
        return self._rows

    def typed_columns(self) -> tuple[list[int], dict[str, list[Any]]]:
        """Each row's Excel number and each field's typed cells, row by row, as `rows` holds them, without making
        the rows when they are not made yet (`tracker validate` reads the 30,000 rows of Updates so)."""
        self._whole()
        if self._rows is None and not self._added and (self._typed is not None or self._raw is not None):
            if self._typed is None:
                with gc_paused():
                    rest = self._raw or []
                    self._typed = _typed_columns(
                        self, self.spec, enumerate(rest, start=2), self._plan, None, self._column_rules
                    )
                self._column_rules = None
            typed = self._typed
            columns = dict(zip(typed.names, typed.columns, strict=True))
            for number, row in self._early.items():  # rows made before the others: as the view has them now
                position = typed.position(number)
                if position is not None:
                    for name, cells in columns.items():
                        cells[position] = row.values.get(name)
            return typed.numbers, columns
        rows = self.rows
        return [row.number for row in rows], {name: [row.values.get(name) for row in rows] for name in self.spec.fields}

    def rows_at(self, numbers: Iterable[int]) -> list[Row]:
        """The rows of these Excel numbers, in sheet order, without making the others when they are not made yet
        (the same objects once they are)."""
        typed = self._typed
        if typed is None or self._rows is not None:
            wanted = set(numbers)
            return [row for row in self.rows if row.number in wanted]
        out = []
        for number in sorted(set(numbers)):
            row = self._early.get(number)
            if row is None and (position := typed.position(number)) is not None:
                row = self._early[number] = typed.row(position)
            if row is not None:
                out.append(row)
        return out

    def check_schema_as_typed(self) -> None:
        """Ask for `rows_to_check` (`tracker validate`): when the rows are not typed yet, the schema's rules look at
        each column as it is typed, while its cells are fresh (~70 ms less at 10,000 events than each row checked
        alone)."""
        if self._rows is None:
            self._column_rules = self.spec.column_rules

    def rows_to_check(self) -> set[int]:
        """The Excel numbers of the rows `SheetSpec.check_row` might find a schema problem in: none in any other."""
        numbers, columns = self.typed_columns()
        suspects, self._suspects = self._suspects, None  # once: the view may change the rows after
        if suspects is None:  # typed before anyone asked: from the rows as they are now
            suspects = {numbers[i] for i in self.spec.column_rules.rows_to_check(columns, len(numbers))}
        else:  # and the rows made before the others, or added: the view may have changed them
            suspects.update(self._early, (row.number for row in self._added))
        return suspects

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
        self._whole()
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
        self._whole()
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
        typed; before, a look at the raw cells that never types them (a blank-looking cell counts as filled in
        `filled` and as empty in `empty`, so the answer errs towards yes). On a sheet read for some rows, only the
        rows whose `empty` cell may be empty are looked at."""
        known = all(name in self.columns for name in (*filled, empty))
        some = (
            self._sift.blank(self.columns[empty]) if known and self._sift and self._load and not self._early else None
        )
        if some is None:
            self._whole()
        if self._raw is None and some is None or self._early:  # (rows typed early may have changed: type them all)
            return any(all(row[n] is not None for n in filled) and row[empty] is None for row in self.rows)
        if not known:
            return False
        wanted = [self.columns[n] for n in filled]
        blank = self.columns[empty]

        def cell(row: Sequence[Any], index: int) -> bool:
            return index < len(row) and row[index] not in (None, "")

        def blank_looking(row: Sequence[Any], index: int) -> bool:  # (typing reads a cell of spaces as empty)
            return not cell(row, index) or isinstance(row[index], str) and not row[index].strip()

        raw = [row for _, row in some] if some is not None else self._raw or []
        news = any(all(cell(row, i) for i in wanted) and blank_looking(row, blank) for row in raw)
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

    def where(self, name: str, values: set[str] | Starting, test: Callable[[Any], bool] | None = None) -> list[Row]:
        """The rows whose `name` cell, trimmed and case-folded, is one of `values` (or starts so: `Starting`; or
        passes `test`, true only for such cells), in sheet order. On a sheet read for some rows, the rows that may
        hold them are typed alone."""
        test = test or (lambda value: raw_key(value) in values)
        index = self.columns.get(name)
        asked = (name, values if isinstance(values, Starting) else frozenset(values))
        if asked in self._sifted and self._load is not None:
            some: list[tuple[int, Sequence[Any]]] | None = []  # its rows are typed already (the view may change them)
        else:
            some = self._sift.rows(index, values) if self._sift and self._load and index is not None else None
        if some is None:
            return self.matching(name, test)
        self._sifted.add(asked)
        fresh = [(number, raw) for number, raw in some if number not in self._early]
        with gc_paused():
            self._early.update((row.number, row) for row in _type_rows(self, self.spec, fresh, self._plan, None))
        rows = [self._early[number] for number in sorted(self._early)] + self._added  # as the view shows them
        return [row for row in rows if row.values.get(name) is not None and test(row.values[name])]

    def starting(self, name: str, wanted: Starting) -> list[Any]:
        """The `name` cells that may start with `wanted` (trimmed, case-folded), as the rows show them (a superset:
        the caller tells which count): on a sheet read for some rows, read from its XML without typing any row."""
        index = self.columns.get(name)
        found = self._sift.texts(index, wanted) if self._sift and self._load and index is not None else None
        if found is None:
            return [row.values[name] for row in self.matching(name, lambda value: raw_key(value) in wanted)]
        cells = dict(found)
        cells.update((number, row.values.get(name)) for number, row in self._early.items())  # as the view has them
        cells.update((-position, row.values.get(name)) for position, row in enumerate(self._added, start=1))
        return [c.strip() if isinstance(c, str) else c for c in cells.values() if c is not None and c != ""]

    def _whole(self) -> None:
        """Parse the whole sheet now, when it was read for some rows until now: something needs every row."""
        if self._load is None:
            return
        load, self._load, self._sift, self._tail = self._load, None, None, None
        rows = iter(load())
        next(rows, None)
        rest = list(rows)
        told = self._file_last
        if told is not None and _last_row(rest, self._plan) != told:  # the XML's last row said otherwise: never write
            raise WorkbookError(
                f"sheet {self.title!r}: its last row could not be told for certain; nothing was written. Run the "
                "command again; if this stays, run `tracker validate` and report it"
            )
        _hold(self, rest)

    def find(self, key: str) -> Row | None:
        """The first row whose key column holds `key` (case-insensitive); `ROW_KEY + "7"` is Excel row 7 (for
        sheets without a key column, e.g. `tracker validate --fix` on the Updates sheet)."""
        if key.startswith(ROW_KEY) and key[len(ROW_KEY) :].isdecimal():
            self._whole()
            number = int(key[len(ROW_KEY) :])
            if self._raw is not None and (early := self._row_at(number)) is not None:
                return early
            added = next((row for row in self._added if row.number == number), None)
            return added or next((row for row in self.rows if row.number == number), None)
        if (self._raw is not None or self._load is not None) and self.spec.key:
            folded = str(key).casefold()
            found = self.where(self.spec.key, {folded.strip()}, lambda value: str(value).casefold() == folded)
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
    plan: _Plan = []
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
    data._plan = plan
    if header_only:
        return data
    if where is not None:
        pairs = numbered if numbered is not None else enumerate(iterator, start=2)
        with gc_paused():  # millions of short-lived values, no cycles: collecting only costs time
            data._rows = _type_rows(data, spec, pairs, plan, where)
        return data
    _hold(data, list(iterator))
    return data


def _hold(data: SheetData, rest: list[Sequence[Any]]) -> None:
    """Keep a sheet's raw cells below its header, to type on first use."""
    spec, plan = data.spec, data._plan
    data.last_row = max(data.last_row, _last_row(rest, plan))
    data._raw = rest

    def type_rows() -> list[Row]:
        with gc_paused():
            typed = data._typed or _typed_columns(data, spec, enumerate(rest, start=2), plan, None, data._column_rules)
            return _rows_of(typed)

    data._typing = type_rows


def some_rows_sheet(
    spec: SheetSpec,
    title: str,
    header: Sequence[Any],
    tail: Callable[[], tuple[list[tuple[int, Sequence[Any]]], bool] | None],
    load: Callable[[], Iterable[Sequence[Any]]],
    sift: Sifter,
) -> SheetData:
    """A sheet a write looks at a few rows of, without parsing it: its layout from `header`, its last row from
    `tail` when asked (its last rows numbered, and whether they are all of them; None: the XML cannot tell), rows
    found by `sift` as they are asked for, and the whole sheet from `load` when something needs every row."""
    data = read_sheet(spec, title, [header], header_only=True)
    data._load, data._sift, data._tail = load, sift, tail
    return data


def _last_row(rows: list[Sequence[Any]], plan: list[tuple[int, Any, str, str, frozenset[str]]]) -> int:
    """The Excel number of the last row with a non-blank cell under a header (1: none), found from the end."""
    # The rule `_type_rows` applies: a schema cell counts when it is not blank after trimming,
    # a cell under a user's own header whenever it is not empty.
    for position in range(len(rows) - 1, -1, -1):
        if _filled(rows[position], plan):
            return position + 2
    return 1


def _filled(row: Sequence[Any], plan: list[tuple[int, Any, str, str, frozenset[str]]]) -> bool:
    """Whether a row has a non-blank cell under a header."""
    width = len(row)
    for index, convert, *_ in plan:
        if index < width:
            cell = row[index]
            if cell is None or cell == "":
                continue
            if convert is None or not (isinstance(cell, str) and not cell.strip()):
                return True
    return False


@dataclass(slots=True)
class _Typed:
    """A sheet's rows typed a column at a time, before they are made rows: each row's Excel number, and each field's
    (then each user column's) cells, row by row; rows of blank cells are left out."""

    numbers: list[int]
    names: list[str]
    columns: list[list[Any]]
    extras: list[tuple[str, list[Any]]]
    _positions: dict[int, int] | None = None

    def position(self, number: int) -> int | None:
        """Where Excel row `number` is in the columns (None: not a row)."""
        if self._positions is None:
            self._positions = {n: i for i, n in enumerate(self.numbers)}
        return self._positions.get(number)

    def row(self, position: int) -> Row:
        """The row at `position`, made as `_rows_of` makes it."""
        extra = {name: cells[position] for name, cells in self.extras if cells[position] is not None}
        return Row(
            self.numbers[position], {n: c[position] for n, c in zip(self.names, self.columns, strict=True)}, extra
        )


def _type_rows(
    data: SheetData,
    spec: SheetSpec,
    pairs: Iterable[tuple[int, Sequence[Any]]],
    plan: _Plan,
    where: tuple[str, set[str]] | None,
) -> list[Row]:
    """The rows among `pairs` (Excel row number, raw cells) with a non-blank cell, typed by `plan`; with `where`
    = (field, values), only those whose cell in that field is one of `values` (trimmed, case-folded)."""
    return _rows_of(_typed_columns(data, spec, pairs, plan, where))


def _typed_columns(
    data: SheetData,
    spec: SheetSpec,
    pairs: Iterable[tuple[int, Sequence[Any]]],
    plan: _Plan,
    where: tuple[str, set[str]] | None,
    rules: SheetRules | None = None,
) -> _Typed:
    """`_type_rows`' typing, before the rows are made. With the schema's column `rules`, `data._suspects` is set
    to the rows that might break one.

    Typed a column at a time (one comprehension per column, the rows' dicts then zipped in C): at 10,000 events
    ~0.12 s for ~600k cells, where a Python loop over them took ~0.19 s."""
    if where is not None:
        position = data.columns.get(where[0], -1)
        wanted = where[1]
        pairs = [(n, raw) for n, raw in pairs if 0 <= position < len(raw) and raw_key(raw[position]) in wanted]
    pairs = pairs if isinstance(pairs, list) else list(pairs)
    raws = [raw for _, raw in pairs]
    whole = list(zip(*raws, strict=False))  # the columns every row reaches (all, from calamine): one pass in C
    typed: dict[str, list[Any]] = {}
    extras: list[tuple[str, list[Any]]] = []
    suspects: set[int] = set()
    for index, convert, name, kind, options in plan:
        cells = whole[index] if index < len(whole) else _column(raws, index)
        if convert is None:  # a user's own column: kept as the reader gave it, when not empty
            extras.append((name, [None if c is None or c == "" else c for c in cells]))
        else:
            typed[name] = typed_column(cells, convert, kind, options)
            if rules is not None:  # now, while the column's cells are in the processor's cache
                suspects |= rules.suspects_in(name, typed[name])
    names = list(spec.fields)
    columns = [typed[name] if name in typed else [None] * len(raws) for name in names]  # (each its own list)
    numbers = [number for number, _ in pairs]
    if rules is not None:
        for name, column in zip(names, columns, strict=True):
            if name not in typed:
                suspects |= rules.suspects_in(name, column)
        suspects |= rules.lacking(dict(zip(names, columns, strict=True)), len(raws))
        data._suspects = {numbers[i] for i in (range(len(pairs)) if rules.every_row else suspects)}
    width = len(names)
    if any(None not in column for column in columns) or not raws:  # a column filled on every row: none is blank
        return _Typed(numbers, names, columns, extras)
    rows = zip(*columns, strict=True) if width else ((),) * len(raws)
    kept = [  # a row of blank cells is no row (unless it holds a value in a user's own column)
        position
        for position, values in enumerate(rows)
        if values.count(None) != width or any(cells[position] is not None for _, cells in extras)
    ]
    if len(kept) == len(raws):
        return _Typed(numbers, names, columns, extras)
    return _Typed(
        [numbers[i] for i in kept],
        names,
        [[column[i] for i in kept] for column in columns],
        [(name, [cells[i] for i in kept]) for name, cells in extras],
    )


def _rows_of(typed: _Typed) -> list[Row]:
    """The rows of a typed sheet (each row's dict made in C from the columns zipped back into rows)."""
    names, extras = typed.names, typed.extras
    rows = zip(typed.numbers, zip(*typed.columns, strict=True) if names else [()] * len(typed.numbers), strict=True)
    if not extras:
        return [Row(number, dict(zip(names, values, strict=True)), {}) for number, values in rows]
    return [
        Row(number, dict(zip(names, values, strict=True)), {n: c[p] for n, c in extras if c[p] is not None})
        for p, (number, values) in enumerate(rows)
    ]


def _column(raws: list[Sequence[Any]], index: int) -> list[Any]:
    """Column `index` of rows not all of which reach it: None where a row is too short."""
    return [raw[index] if index < len(raw) else None for raw in raws]

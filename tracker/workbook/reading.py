"""Reading the tracker workbook: typed rows out of an .xlsx.

python-calamine parses the sheets (about 10x faster than openpyxl, see the shared Excel
notes); each sheet is typed on first use (`tracker.workbook.sheet_data`). Writing is
`tracker.store` (the commit engine and its appliers); building a new workbook is
`tracker.rules.build`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from tracker import zipped
from tracker.cells import cell_text, column_letter, error_cells, errors_in, may_hold_control, sheet_parts
from tracker.errors import UnknownEvent, ValidationFailed
from tracker.workbook.cell_forms import Starting
from tracker.workbook.cell_values import ROW_KEY, TIME_OF_DAY, raw_key
from tracker.workbook.schema import Schema, SheetSpec
from tracker.workbook.sheet_data import Row, SheetData, read_sheet, some_rows_sheet

_TAIL = 50  # rows read from the end of a sheet a write looks at a few rows of, for its last row

__all__ = ["ROW_KEY", "Row", "SheetData", "Tracker", "column_letter", "raw_key", "read_sheet"]


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
        parsed: Callable[[str], bool] | None = None,
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
        self._parsed = parsed or (lambda actual: False)  # parsed whole already: its header costs nothing more
        self._where: dict[tuple[str, str, frozenset[str]], list[Row]] = {}  # rows_where, asked again
        self._few: set[str] = set()  # sheets a write looks at a few rows of (some_rows)

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
                few = self._few_rows(spec, actual) if actual in self._few and not self._parsing(actual) else None
                self._sheets[name] = few or read_sheet(spec, actual, self._loader(actual))
        return self._sheets[name]

    def some_rows(self, *names: str) -> None:
        """A write says it looks at a few rows of these sheets (the event it changes, whether anyone typed a row,
        the last row): they are found in the sheet XML as asked (tracker.workbook.sieve), and a sheet is parsed
        whole only if something needs every row of it."""
        if self._sieve is not None:
            titles = [a for n in names if (a := self.actual_name(n)) is not None and not self._parsing(a)]
            self._few.update(titles)
            self._sieve.keep(*titles)
            self._sieve.prefetch(*titles)

    @property
    def sieve(self) -> Any:
        """The tracker.workbook.sieve.SheetSieve of this workbook (None for one read otherwise)."""
        return self._sieve

    def _few_rows(self, spec: SheetSpec, actual: str) -> SheetData | None:
        header = self._sieve.header(actual)
        if header is None:
            return None
        sift = _Sift(self._sieve, actual)
        return some_rows_sheet(spec, actual, header, sift.tail, lambda: self._loader(actual), sift)

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
                    xml = zipped.read(archive, parts[title])
                    found[title] = errors_in(xml)
                    self.controls[name] = in_shared or may_hold_control(xml)
                    visit(archive, title, parts[title], xml)
                    del xml  # (20 MB at 10,000 events: not kept while the next sheet inflates)
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
        """The command reads every row of these sheets: parse them now, in parallel where the reader allows
        (validate, report; `tracker open` reads every ID for the new one)."""
        if self._preload is not None:  # (not the sheets a command reads some rows of: see prefetch)
            self._preload([a for n in names if (a := self.actual_name(n)) is not None and a not in self._some_rows])

    def prefetch(self, *names: str) -> None:
        """A command that reads some rows of these sheets says so first: their XML inflates in threads meanwhile
        (tracker.workbook.sieve)."""
        if self._sieve is not None:
            titles = [a for n in names if (a := self.actual_name(n)) is not None and not self._parsing(a)]
            self._some_rows.update(titles)
            self._sieve.prefetch(*titles)

    def scan_ahead(self, name: str, field: str) -> None:
        """A command that will ask for some rows of sheet `name` by `field` (`rows_where`), and waits for another
        sheet meanwhile, scans its XML now (tracker.workbook.sieve.SheetSieve.scan_ahead)."""
        actual = self.actual_name(name)
        column = self._sifted_column(name, actual, field) if actual is not None else None
        if actual is not None and column is not None:
            self._sieve.scan_ahead(actual, column)

    def _sifted_column(self, name: str, actual: str, field: str) -> int | None:
        """The 0-based column of `field` when rows of sheet `name` (`actual` in the workbook) are read by the sieve;
        None when they are not, or the sheet has no such column."""
        return self.layout(name).columns.get(field) if self._sifted(actual) else None

    def may_hold(self, name: str, filled: Sequence[str], empty: str) -> bool:
        """`SheetData.may_hold` of sheet `name` (False when the workbook has no such sheet)."""
        if self.actual_name(name) is None:
            return False
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
        # the header row alone, unless the sheet is parsed whole already: a command that needs only the layout (or
        # some rows) never waits for the whole sheet, nor parses it
        header = self._sieve.header(actual) if self._sieve is not None and not self._parsed(actual) else None
        raw = [header] if header is not None else self._loader(actual)
        self._layouts[name] = read_sheet(spec, actual, raw, header_only=True)
        return self._layouts[name]

    def rows_where(self, name: str, field: str, values: set[str]) -> list[Row]:
        """Only the rows whose `field` is one of `values` (case-insensitive), typed."""
        key = (name, field, frozenset(values))
        if name not in self._sheets and key in self._where:
            return list(self._where[key])  # a copy: what a caller does to its list stays its own
        self._where[key] = self._rows_where(name, field, values)
        return list(self._where[key])

    def keys_where(self, name: str, field: str, where: str, values: set[str]) -> list[str]:
        """The key (cell_values.raw_key) of `field` in each row of sheet `name` whose `where` cell is text that,
        trimmed and case-folded, is one of `values`, in row order, without typing the sheet: read from its XML when the
        command said it reads some rows of it (prefetch; `tracker report` counts each event's resolutions so), else
        from its cells."""
        actual, layout = self.actual_name(name), self.layout(name)
        column, by = layout.columns.get(field), layout.columns.get(where)
        if actual is None or not layout.present or column is None or by is None:
            return []
        if self._sifted(actual):
            found = self._sieve.keys_where(actual, column, by, values)
            if found is not None:
                return found  # type: ignore[no-any-return]
        return [
            raw_key(cells[column] if column < len(cells) else None)
            for cells in self.raw_rows(name)
            if len(cells) > by and isinstance(cells[by], str) and cells[by].strip().casefold() in values
        ]

    def _rows_where(self, name: str, field: str, values: set[str]) -> list[Row]:
        if name in self._sheets:
            return self._sheets[name].where(field, values)
        spec, actual = self._raw(name)
        if actual is None:
            return []
        column = self._sifted_column(name, actual, field)
        if column is not None:
            sifted = self._sieve.rows(actual, column, values)
            if sifted is not None:
                header, rows = sifted[0][1], sifted[1:]
                return read_sheet(spec, actual, [header], where=(field, values), numbered=rows).rows
        return read_sheet(spec, actual, self._loader(actual), where=(field, values)).rows

    def require(self, *names: str) -> None:
        """Stop with a clear error if a sheet or column a command needs is missing.

        The sheets are parsed in parallel now, since the command is about to read them (not those a write looks at a
        few rows of: `some_rows`).
        """
        problems = []
        self.preload(*(n for n in names if self.actual_name(n) not in self._few))
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

    def find(self, name: str, key: str) -> Row | None:
        """`SheetData.find` on sheet `name`, through the rows holding the key alone when the command reads only some
        rows of it (prefetch)."""
        actual = self.actual_name(name)
        keyname = self.schema[name].key
        if name in self._sheets or actual is None or not keyname or not self._sifted(actual) or key.startswith(ROW_KEY):
            return self.sheet(name).find(key)
        folded = str(key).casefold()
        found = self.rows_where(name, keyname, {folded.strip()})
        return next((row for row in found if str(row[keyname]).casefold() == folded), None)

    def about(self, event_id: str) -> dict[str, str]:
        """The severity and title of the event with this ID, as what is owed about it shows them ("" for an event
        the Events sheet lacks)."""
        event = self.find("Events", event_id) if event_id else None
        return {name: str(event[name] or "") if event is not None else "" for name in ("severity", "title")}

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
            same = data.where(key, {wanted}, lambda value: str(value).strip().casefold() == wanted)
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


class _Sift:
    """tracker.workbook.sheet_data.Sifter over one sheet of a SheetSieve (the header row left out)."""

    def __init__(self, sieve: Any, title: str) -> None:
        self.sieve, self.title = sieve, title

    def rows(self, column: int, values: set[str] | Starting) -> list[tuple[int, Sequence[Any]]] | None:
        found = self.sieve.rows(self.title, column, values)
        return found[1:] if found is not None else None

    def texts(self, column: int, wanted: Starting) -> list[tuple[int, Any]] | None:
        return self.sieve.texts(self.title, column, wanted)  # type: ignore[no-any-return]

    def blank(self, column: int) -> list[tuple[int, Sequence[Any]]] | None:
        found = self.sieve.blank(self.title, column)
        return found[1:] if found is not None else None

    def tail(self) -> tuple[list[tuple[int, Sequence[Any]]], bool] | None:
        found = self.sieve.tail(self.title, _TAIL)
        return (found[0][1:], found[1]) if found is not None else None

"""The surgical .xlsx applier: row edits go into the XML of the sheets they touch, nothing else.

An .xlsx file is a zip of XML parts. A write changes the `<sheetData>` rows it concerns,
the sheet's `<dimension>` and the table's `ref` (for an appended row), and, only when a
date needs a date format no cell of its column has, one entry of styles.xml. Every other
part is copied unchanged, so whatever the file holds (threaded comments, shapes,
sparklines, slicers, pivot tables, x14 validations, protected ranges, custom views, VBA)
survives, whoever wrote it. Text goes in as inline strings, so sharedStrings.xml is never
rewritten; Excel turns them into shared strings on its next save.

What cannot be written without breaking the sheet (a merged range over a cell tracker
writes, a table with a totals row that would need rows moved, the master cell of a shared
formula) is refused with a message naming the sheet and range; `layout_problems` reports
the same things for `tracker validate`.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import IO, Any
from xml.parsers.expat import ExpatError

from tracker.cells import attributes as _attrs
from tracker.cells import column_letter, not_xlsx, sheet_parts, split_ref, unescape
from tracker.cells import related as _related
from tracker.errors import WorkbookError

DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    struct.error,
    UnicodeDecodeError,
    SyntaxError,  # xml.etree's ParseError
    ExpatError,
    ValueError,
    KeyError,  # a part the workbook's relationships name is missing
    IndexError,
    NotImplementedError,  # a zip member compressed a way zipfile cannot read
)
"""What reading a damaged .xlsx (cut, flipped or missing bytes and parts) raises from zipfile, zlib and the XML
parsers: a damaged workbook, said in one line, not a crash."""

EXCEL_EPOCH = datetime(1899, 12, 30)
MAX_ROW = 1048576
# zlib level for the parts a write changes: 3 is about twice as fast as the default 6 on sheet XML
# (0.07 s against 0.12 s for 17 MB) for a part about 20% bigger; Excel compresses again when it saves.
COMPRESS_LEVEL = 3

_ROW_TAG = r"<{p}row\b([^>]*?)(/?)>"
_CELL = r"<{p}c\b([^>]*?)(?:/>|>(.*?)</{p}c>)"
_ROW_NUMBER = re.compile(r"""\br\s*=\s*["'](\d+)["']""")
_BUILTIN_DATE_FORMATS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47}
_XML_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# --- addresses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """A rectangle of cells, rows 1-based and columns 0-based, both inclusive."""

    top: int
    left: int
    bottom: int
    right: int

    @classmethod
    def parse(cls, ref: str) -> Area:
        """`A1:C7` or `B4`."""
        first, _, last = ref.partition(":")
        top, left = split_ref(first)
        bottom, right = split_ref(last) if last else (top, left)
        return cls(min(top, bottom), min(left, right), max(top, bottom), max(left, right))

    def __str__(self) -> str:
        first = f"{column_letter(self.left)}{self.top}"
        last = f"{column_letter(self.right)}{self.bottom}"
        return first if first == last else f"{first}:{last}"

    def holds(self, row: int, col: int) -> bool:
        """Whether the cell lies inside."""
        return self.top <= row <= self.bottom and self.left <= col <= self.right

    def grown(self, row: int, col: int) -> Area:
        """The smallest area holding this one and the cell."""
        return Area(min(self.top, row), min(self.left, col), max(self.bottom, row), max(self.right, col))


# --- what to write -----------------------------------------------------------------------


@dataclass
class SheetWrite:
    """The cells one write sets on one sheet.

    `cells` maps an Excel row number to {0-based column: value}; a value is str, int, float,
    bool, a naive UTC datetime or None (clear the cell). `appended` lists the rows that are
    new (they take the styles and formulas of the row above and extend the table).
    `date_formats` gives, per column, the number format a date takes when no cell of the
    column has a date format yet.
    """

    title: str
    cells: dict[int, dict[int, Any]] = field(default_factory=dict)
    appended: list[int] = field(default_factory=list)
    table: str | None = None
    date_formats: dict[int, str] = field(default_factory=dict)

    def set(self, row: int, col: int, value: Any) -> None:
        """Set one cell."""
        self.cells.setdefault(row, {})[col] = value


# --- the package -------------------------------------------------------------------------


def _attr_text(attrs: dict[str, str]) -> str:
    """Attributes back as XML text (values as they were read: already escaped, quotes made safe)."""
    return "".join(f' {name}="{value.replace(chr(34), "&quot;")}"' for name, value in attrs.items())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class _Table:
    part: str
    xml: str
    name: str
    area: Area
    totals: int


def _tables(archive: zipfile.ZipFile, sheet_part: str) -> list[_Table]:
    out = []
    for kind, name in _related(archive, sheet_part).values():
        if not kind.endswith("/table"):
            continue
        xml = archive.read(name).decode("utf-8")
        match = re.search(r"<(?:\w+:)?table\b([^>]*)>", xml)
        if not match:
            continue
        attrs = _attrs(match[1])
        out.append(
            _Table(
                name,
                xml,
                attrs.get("displayName") or attrs.get("name", ""),
                Area.parse(attrs.get("ref", "A1")),
                int(attrs.get("totalsRowCount", "0") or 0),
            )
        )
    return out


def _merged(xml: str) -> list[Area]:
    out = []
    for ref in re.findall(r'<(?:\w+:)?mergeCell\b[^>]*\bref="([^"]+)"', xml):
        try:
            out.append(Area.parse(ref))
        except ValueError:
            continue
    return out


def layout_problems(
    source: Path | bytes | IO[bytes], titles: list[str], columns: dict[str, set[int]] | None = None
) -> list[tuple[str, str]]:
    """What stops tracker writing rows on these sheets, as (sheet, message): merged ranges over
    a table's rows or the row below it, totals rows, and (for the `columns` tracker writes, per
    sheet) the master cells of shared or array formulas on the table's rows. Each message names
    the range and says what to do.
    """
    problems = []
    with zipfile.ZipFile(BytesIO(source) if isinstance(source, bytes) else source) as archive:
        parts = sheet_parts(archive)
        for title in titles:
            part = parts.get(title)
            if part is None:
                continue
            xml = archive.read(part).decode("utf-8")
            tables = _tables(archive, part)
            for table in tables:
                if table.totals:
                    problems.append((title, _totals_message(title, table)))
            for area in _merged(xml) if "mergeCell" in xml else []:
                for table in tables:
                    body = Area(table.area.top + 1, table.area.left, table.area.bottom + 1, table.area.right)
                    if _overlap(area, body):
                        why = (
                            "it lies over the rows of the table"
                            if area.top <= table.area.bottom
                            else ("it lies on the row where tracker adds the next one")
                        )
                        problems.append((title, _merged_message(title, area, why)))
                        break
            written = (columns or {}).get(title, set())
            maybe = written and ("shared" in xml or "array" in xml) and _MASTER_MARKER.search(xml.encode())
            masters = _formula_masters(title, xml) if maybe else {}
            for (number, col), why in sorted(masters.items()):
                if col in written and any(t.area.top < number <= t.area.bottom for t in tables):
                    problems.append((title, why))
    return problems


def check_layout(source: Path | bytes, writes: list[SheetWrite], *, appends: bool = True) -> None:
    """Refuse writes into merged ranges, onto formula masters (and, with `appends`, rows added where a merged
    range or a totals row lies), the rules `Layout` applies, as one WorkbookError."""
    layout = Layout(source if isinstance(source, bytes) else Path(source).read_bytes())
    for write in writes:
        for number, values in write.cells.items():
            problem = layout.refusal(
                write.title, number, list(values), appends and number in write.appended, table=write.table
            )
            if problem:
                raise WorkbookError(problem + "; nothing was written")


def _refuse_merged(
    title: str, write: SheetWrite, merged: list[Area], *, appends: bool = True, span: tuple[int, int] | None = None
) -> None:
    for number, values in write.cells.items():
        problem = merged_refusal(title, merged, number, list(values), appends and number in write.appended, span)
        if problem:
            raise WorkbookError(problem + "; nothing was written")


def merged_refusal(
    title: str, merged: list[Area], number: int, cols: list[int], appended: bool, span: tuple[int, int] | None = None
) -> str | None:
    """Why cells `cols` of row `number` cannot be written for the merged ranges (None: they can).

    A new row (`appended`) may not cross a merged range anywhere across the table (`span`: its
    first and last column), since the table grows over the whole row.
    """
    for area in merged:
        if not area.top <= number <= area.bottom:
            continue
        left = min([*cols, *(span or ())], default=0)
        right = max([*cols, *(span or ())], default=0)
        if appended and (cols or span) and area.left <= right and area.right >= left:
            return _merged_message(title, area, f"tracker adds a new row on row {number}")
        for col in cols:
            if area.holds(number, col) and (number, col) != (area.top, area.left):
                return _merged_message(title, area, f"{column_letter(col)}{number} inside it is a cell tracker writes")
    return None


@dataclass
class _SheetLayout:
    merged: list[Area]
    tables: list[_Table]
    masters: dict[tuple[int, int], str]  # (row, col) of shared / array formula masters -> why


class Layout:
    """What a workbook's sheets allow tracker to write, read from its bytes on demand.

    The engine asks before it writes anything, so a command is refused by name and a
    journal entry that cannot be written is set aside instead of blocking later writes.
    """

    def __init__(self, source: bytes, *, totals_ok: bool = False, name: str = "the workbook") -> None:
        self._source, self.name = source, name
        try:
            self._archive = zipfile.ZipFile(BytesIO(source))
        except DAMAGED as exc:  # an .xls renamed .xlsx, cut bytes: the same line the read path gives
            raise not_xlsx(name, exc, source) from None
        self._parts: dict[str, str] | None = None
        self._sheets: dict[str, _SheetLayout] = {}
        self.totals_ok = totals_ok
        self.texts: dict[str, str] = {}  # the sheet parts it read, decoded: a patch of the same bytes reuses them

    def _sheet(self, title: str) -> _SheetLayout:
        try:
            return self._read_sheet(title)
        except DAMAGED as exc:  # a sheet's XML cut short or garbled: named, never "failed unexpectedly"
            raise not_xlsx(self.name, exc, self._source, sheet=title) from None

    def _read_sheet(self, title: str) -> _SheetLayout:
        if title not in self._sheets:
            if self._parts is None:
                self._parts = sheet_parts(self._archive)
            part = self._parts.get(title)
            if part is None:
                self._sheets[title] = _SheetLayout([], [], {})
            else:
                data = self._archive.read(part)
                xml = self.texts[part] = data.decode("utf-8")
                merged = _merged(xml) if b"mergeCell" in data else []
                maybe = (b"shared" in data or b"array" in data) and _MASTER_MARKER.search(
                    data
                )  # substrings first: fast
                masters = _formula_masters(title, xml) if maybe else {}
                self._sheets[title] = _SheetLayout(merged, _tables(self._archive, part), masters)
        return self._sheets[title]

    def table(self, title: str, name: str | None = None) -> tuple[str, Area] | None:
        """The sheet's table called `name` (else its first): its name as the file spells it, and its area."""
        tables = self._sheet(title).tables
        chosen = next((t for t in tables if name and t.name.casefold() == name.casefold()), None)
        chosen = chosen or next(iter(tables), None)
        return (chosen.name, chosen.area) if chosen is not None else None

    def refusal(self, title: str, number: int, cols: list[int], appended: bool, table: str | None = None) -> str | None:
        """Why these cells of a row cannot be written (None: they can)."""
        sheet = self._sheet(title)
        if appended and not self.totals_ok:
            for one in sheet.tables:
                if one.totals:
                    return _totals_message(title, one)
        for col in cols:
            why = sheet.masters.get((number, col))
            if why:
                return why
        found = self.table(title, table)
        span = (found[1].left, found[1].right) if found is not None else None
        return merged_refusal(title, sheet.merged, number, cols, appended, span)


_MASTER_MARKER = re.compile(rb"""\bt\s*=\s*["'](?:shared|array)["']""")


def _formula_masters(title: str, xml: str) -> dict[tuple[int, int], str]:
    """Cells holding the formula text of a shared formula or an array formula over several cells."""
    out = {}
    for match in re.finditer(r"<(\w+:)?f\b([^>]*)>", xml):
        attrs = _attrs(match[2])
        if attrs.get("t") not in ("shared", "array") or "ref" not in attrs:
            continue
        try:
            area = Area.parse(attrs["ref"])
        except ValueError:
            continue
        if area.top == area.bottom and area.left == area.right:
            continue
        start = xml.rfind(f"<{match[1] or ''}c ", 0, match.start())
        cell = _attrs(xml[start : xml.find(">", start)]) if start >= 0 else {}
        try:
            number, col = split_ref(cell.get("r", ""))
        except ValueError:
            continue
        kind = "a shared formula" if attrs["t"] == "shared" else "an array formula"
        out[(number, col)] = (
            f"{title}!{column_letter(col)}{number} holds {kind} that cells {area} use; tracker would have to "
            "overwrite it. Move the formula to a column tracker does not write"
        )
    return out


def _overlap(a: Area, b: Area) -> bool:
    return a.top <= b.bottom and b.top <= a.bottom and a.left <= b.right and b.left <= a.right


def _merged_message(title: str, area: Area, why: str) -> str:
    return (
        f"{title}!{area} is a merged range and {why}; tracker writes one value per cell there. "
        "Unmerge it in Excel (Home > Merge & Center) or move it off the table's rows"
    )


def _totals_message(title: str, table: _Table) -> str:
    last = table.area.bottom
    return (
        f"{title}!{column_letter(table.area.left)}{last}:{column_letter(table.area.right)}{last} is the totals row "
        f"of table {table.name}; tracker adds rows at the end of the table and cannot move it. "
        "Turn the totals row off (Table Design > Total Row)"
    )


# --- styles ------------------------------------------------------------------------------


class _Styles:
    """styles.xml, read only when a date needs a date format (and then changed at most by one entry per format)."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.part = next((n for n in archive.namelist() if n.lower() == "xl/styles.xml"), "xl/styles.xml")
        try:
            self.xml = archive.read(self.part).decode("utf-8")
        except KeyError:
            self.xml = ""
        self.changed = False
        self._parse()

    def _parse(self) -> None:
        self.formats = {
            int(m[1]): unescape(m[2])
            for m in re.finditer(r'<(?:\w+:)?numFmt\b[^>]*numFmtId="(\d+)"[^>]*formatCode="([^"]*)"', self.xml)
        }
        self.formats |= {
            int(m[2]): unescape(m[1])
            for m in re.finditer(r'<(?:\w+:)?numFmt\b[^>]*formatCode="([^"]*)"[^>]*numFmtId="(\d+)"', self.xml)
        }
        block = re.search(r"<(\w+:)?cellXfs\b[^>]*>(.*?)</(?:\w+:)?cellXfs>", self.xml, re.S)
        self.xfs = re.findall(r"<(?:\w+:)?xf\b[^>]*?(?:/>|>.*?</(?:\w+:)?xf>)", block[2], re.S) if block else []

    def is_date(self, index: int) -> bool:
        """Whether cell style `index` shows a number as a date or time."""
        if index >= len(self.xfs):
            return False
        match = re.search(r'numFmtId="(\d+)"', self.xfs[index])
        number = int(match[1]) if match else 0
        if number in _BUILTIN_DATE_FORMATS:
            return True
        code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", self.formats.get(number, ""))
        return bool(re.search(r"[dmyhs]", code, re.I))

    def with_format(self, index: int, code: str) -> int:
        """A cell style like `index` but with number format `code` (added to styles.xml if new)."""
        number = next((n for n, c in self.formats.items() if c == code), None)
        for position, xf in enumerate(self.xfs):
            if number is not None and re.search(rf'numFmtId="{number}"', xf) and position != index:
                base = self.xfs[index] if index < len(self.xfs) else ""
                if _strip_numfmt(xf) == _strip_numfmt(base):
                    return position
        if not self.xml or not self.xfs:
            raise WorkbookError("the workbook has no cell styles (xl/styles.xml) to give a date its format")
        prefix = re.match(r"<(\w+:)?", self.xfs[0])
        p = prefix[1] or "" if prefix else ""
        if number is None:
            number = max([163, *self.formats]) + 1
            entry = f'<{p}numFmt numFmtId="{number}" formatCode="{_escape(code).replace(chr(34), "&quot;")}"/>'
            self.xml = re.sub(r"<((?:\w+:)?numFmts)\b([^>]*?)\s*/>", r"<\1\2></\1>", self.xml, count=1)
            if re.search(r"<(?:\w+:)?numFmts\b", self.xml):
                self.xml = re.sub(r"(</(?:\w+:)?numFmts>)", lambda m: entry + m[1], self.xml, count=1)
            else:
                self.xml = re.sub(
                    r"(<(?:\w+:)?styleSheet\b[^>]*>)",
                    lambda m: f'{m[1]}<{p}numFmts count="1">{entry}</{p}numFmts>',
                    self.xml,
                    count=1,
                )
            self.xml = re.sub(
                r'(<(?:\w+:)?numFmts\b[^>]*count=")(\d+)(")',
                lambda m: f"{m[1]}{int(m[2]) + 1}{m[3]}" if m[2] != "1" or len(self.formats) else m[0],
                self.xml,
                count=1,
            )
        base = self.xfs[index] if index < len(self.xfs) else self.xfs[0]
        new = re.sub(r'\snumFmtId="\d+"', "", base, count=1)
        new = re.sub(r'\sapplyNumberFormat="\w+"', "", new, count=1)
        new = re.sub(r"<((?:\w+:)?xf)\b", lambda m: f'<{m[1]} numFmtId="{number}" applyNumberFormat="1"', new, count=1)
        position = len(self.xfs)
        self.xml = re.sub(
            r"(<(?:\w+:)?cellXfs\b[^>]*>)(.*?)(</(?:\w+:)?cellXfs>)",
            lambda m: m[1] + m[2] + new + m[3],
            self.xml,
            count=1,
            flags=re.S,
        )
        self.xml = re.sub(
            r'(<(?:\w+:)?cellXfs\b[^>]*count=")(\d+)(")', lambda m: f"{m[1]}{position + 1}{m[3]}", self.xml, count=1
        )
        self.changed = True
        self._parse()
        return position


def _strip_numfmt(xf: str) -> str:
    return re.sub(r'\s(numFmtId|applyNumberFormat)="[^"]*"', "", xf)


# --- cells -------------------------------------------------------------------------------


def excel_serial(value: datetime) -> float:
    """A naive UTC datetime as an Excel serial number (days since 1899-12-30), to the millisecond."""
    delta = value - EXCEL_EPOCH
    milliseconds = round(delta.total_seconds() * 1000)
    return milliseconds / 86_400_000


def _number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _text(value: str) -> str:
    # Excel reads _xHHHH_ as an escaped character: a literal one is escaped itself (every
    # underscore that starts one, even when two share it), and a carriage return is stored escaped.
    value = _XML_ESCAPE.sub("_x005F_", value)
    value = _NOT_IN_XML.sub(lambda m: f"_x{ord(m[0]):04X}_", value)  # CR, control characters, U+FFFE/F
    escaped = _escape(value)
    space = ' xml:space="preserve"' if value != value.strip() or "\n" in value else ""
    return f"<t{space}>{escaped}</t>"


@dataclass
class _Cell:
    col: int
    attrs: dict[str, str]
    body: str
    xml: str

    @property
    def style(self) -> str | None:
        return self.attrs.get("s")

    @property
    def formula(self) -> str | None:
        match = re.search(r"<(?:\w+:)?f\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?f>)", self.body, re.S)
        if not match:
            return None
        return match[0]


def _cells(inner: str, p: str, row: int) -> list[_Cell]:
    out = []
    col = -1
    for match in re.finditer(_CELL.format(p=p), inner, re.S):
        attrs = _attrs(match[1])
        ref = attrs.get("r")
        if ref:
            try:
                col = split_ref(ref)[1]
            except ValueError:
                col += 1
        else:
            col += 1
        out.append(_Cell(col, attrs, match[2] or "", match[0]))
    return out


class _SheetPatch:
    """The rows of one worksheet part, changed in place."""

    def __init__(
        self, title: str, xml: str, styles: _Styles | None, archive: zipfile.ZipFile, date_formats: dict[int, str]
    ) -> None:
        self.title = title
        self.date_formats = date_formats
        self.xml = xml
        root = re.search(r"<(\w+:)?worksheet\b", xml)
        if root is None:
            raise WorkbookError(f"sheet {title!r} is not a worksheet tracker can write (no <worksheet> element)")
        self.p = root[1] or ""
        self._styles = styles
        self._archive = archive
        self.formula_overwritten = False
        self.columns_style = self._column_styles()

    @property
    def styles(self) -> _Styles:
        if self._styles is None:
            self._styles = _Styles(self._archive)
        return self._styles

    def _column_styles(self) -> dict[int, str]:
        out = {}
        for match in re.finditer(rf"<{self.p}col\b([^>]*)>", self.xml):
            attrs = _attrs(match[1])
            if "style" in attrs and "min" in attrs and "max" in attrs:
                for col in range(int(attrs["min"]) - 1, min(int(attrs["max"]), 16384)):
                    out[col] = attrs["style"]
        return out

    def _rows(self, start: int, end: int) -> list[tuple[int, int, int, str, bool]]:
        """(row number, tag start, element end, open-tag attributes, self-closed) of every row."""
        out = []
        number = 0
        pattern = re.compile(_ROW_TAG.format(p=self.p))
        close = f"</{self.p}row>"
        position = start
        while True:
            match = pattern.search(self.xml, position, end)
            if match is None:
                break
            attrs = match[1]
            found = _ROW_NUMBER.search(attrs)
            number = int(found[1]) if found else number + 1
            if match[2]:
                element_end = match.end()
            else:
                element_end = self.xml.find(close, match.end(), end)
                if element_end < 0:
                    raise WorkbookError(f"sheet {self.title!r}: row {number} is not closed; the file is damaged")
                element_end += len(close)
            out.append((number, match.start(), element_end, attrs, bool(match[2])))
            position = element_end
        return out

    def apply(self, write: SheetWrite, table: _Table | None) -> Area | None:
        """Write the cells; return the area now used by table rows (for the table's ref)."""
        p = self.p
        data = re.search(rf"<{p}sheetData\b[^>]*?(/?)>", self.xml)
        if data is None:
            raise WorkbookError(f"sheet {self.title!r} has no <sheetData>; the file is damaged")
        if data[1]:  # <sheetData/>: open it up
            self.xml = self.xml[: data.start()] + f"<{p}sheetData></{p}sheetData>" + self.xml[data.end() :]
            data = re.search(rf"<{p}sheetData\b[^>]*>", self.xml)
            assert data is not None
        start = data.end()
        end = self.xml.find(f"</{p}sheetData>", start)
        rows = _RowFinder(self, start, end)
        merged = _merged(self.xml) if "mergeCell" in self.xml else []
        span = (table.area.left, table.area.right) if table is not None else None
        _refuse_merged(self.title, write, merged, span=span)
        edits: list[tuple[int, int, int, str]] = []  # (start, end, row, replacement)
        made: dict[int, tuple[str, list[_Cell]]] = {}  # rows this write built: their attributes and cells
        used: Area | None = None
        for number in sorted(write.cells):
            values = write.cells[number]
            existing = rows.get(number)
            appended = number in write.appended
            above: list[_Cell] = []
            above_attrs = ""
            if appended and number > 2:
                if number - 1 in made:  # several new rows: each follows the one just before it
                    above_attrs, above = made[number - 1]
                else:
                    above = self._row_cells(rows.get(number - 1))
                    above_attrs = self._new_row_attrs(rows.get(number - 1))
            if existing is not None:
                _, tag_start, element_end, attrs, closed = existing
                inner = "" if closed else self.xml[self.xml.find(">", tag_start) + 1 : element_end - len(f"</{p}row>")]
                new = self._row_xml(number, attrs, _cells(inner, p, number), values, above, appended)
                edits.append((tag_start, element_end, number, new))
            else:
                attrs = above_attrs if appended else ""
                new = self._row_xml(number, attrs, [], values, above, appended)
                position = rows.insert_at(number)
                edits.append((position, position, number, new))
            if appended:
                body = new[new.find(">") + 1 : new.rfind("<")] if not new.endswith("/>") else ""
                made[number] = (attrs if existing is None else self._new_row_attrs(existing), _cells(body, p, number))
            for col in values:
                used = Area(number, col, number, col) if used is None else used.grown(number, col)
        if used is not None:
            edits += self._dimension_edit(used)
        # One pass in document order (a copy per edit would cost 100 MB a time on a big sheet); new rows
        # that go in at one place follow each other in ascending order.
        pieces: list[str] = []
        position = 0
        for edit_start, edit_end, _number, text in sorted(edits, key=lambda e: (e[0], e[2])):
            pieces += [self.xml[position:edit_start], text]
            position = edit_end
        pieces.append(self.xml[position:])
        self.xml = "".join(pieces)
        return used

    def _row_cells(self, row: tuple[int, int, int, str, bool] | None) -> list[_Cell]:
        if row is None or row[4]:
            return []
        number, tag_start, element_end, _attrs_text, _closed = row
        inner = self.xml[self.xml.find(">", tag_start) + 1 : element_end - len(f"</{self.p}row>")]
        return _cells(inner, self.p, number)

    @staticmethod
    def _new_row_attrs(above: tuple[int, int, int, str, bool] | None) -> str:
        if above is None:
            return ""
        attrs = _attrs(above[3])
        kept = {k: v for k, v in attrs.items() if k in ("s", "customFormat")}
        return "".join(f' {k}="{v}"' for k, v in kept.items())

    def _row_xml(
        self,
        number: int,
        attrs: str,
        cells: list[_Cell],
        values: dict[int, Any],
        above: list[_Cell],
        appended: bool,
    ) -> str:
        p = self.p
        dropped = {"r", "spans", "hidden"} if appended else {"r", "spans"}
        attrs = _attr_text({k: v for k, v in _attrs(attrs).items() if k not in dropped})
        by_col = {cell.col: cell for cell in cells}
        above_by_col = {cell.col: cell for cell in above}
        out: dict[int, str] = {}
        for col, cell in by_col.items():
            if col in values:
                continue
            xml = cell.xml
            if "r" not in cell.attrs:  # implied position: make it explicit, order may change
                xml = re.sub(rf"^<{p}c\b", f'<{p}c r="{column_letter(col)}{number}"', xml)
            out[col] = xml
        if appended:
            for col, cell in above_by_col.items():
                if col in values or col in out:
                    continue
                formula = self._copied_formula(cell, number)
                if formula is None and cell.style is None:
                    continue
                style = f' s="{cell.style}"' if cell.style is not None else ""
                inner = f"<{p}f>{_escape(formula)}</{p}f>" if formula is not None else ""
                out[col] = f'<{p}c r="{column_letter(col)}{number}"{style}' + (f">{inner}</{p}c>" if inner else "/>")
        for col, value in values.items():
            old = by_col.get(col)
            if old is not None and old.formula is not None:
                self._check_formula_overwrite(old, number)
                self.formula_overwritten = True
            cell_style = old.style if old is not None else None
            if cell_style is None and appended:
                cell_style = above_by_col[col].style if col in above_by_col else self.columns_style.get(col)
            elif cell_style is None:
                cell_style = self.columns_style.get(col)
            written = self._cell_xml(number, col, value, cell_style)
            if written is not None:
                out[col] = written
        body = "".join(out[col] for col in sorted(out))
        open_tag = f'<{p}row r="{number}"{attrs}'
        return f"{open_tag}>{body}</{p}row>" if body else f"{open_tag}/>"

    def _check_formula_overwrite(self, cell: _Cell, number: int) -> None:
        formula = cell.formula or ""
        attrs = _attrs(formula.split(">", 1)[0])
        kind = attrs.get("t")
        if kind in ("shared", "array") and "ref" in attrs:
            area = Area.parse(attrs["ref"])
            if area.top != area.bottom or area.left != area.right:
                name = "a shared formula" if kind == "shared" else "an array formula"
                raise WorkbookError(
                    f"{self.title}!{column_letter(cell.col)}{number} holds {name} that cells {area} use; "
                    "tracker would have to overwrite it. Move the formula to a column tracker does not write; "
                    "nothing was written"
                )

    def _copied_formula(self, cell: _Cell, number: int) -> str | None:
        """The formula of the cell above, moved down to row `number` (as Excel fills a table column)."""
        formula = cell.formula
        if formula is None:
            return None
        attrs = _attrs(formula.split(">", 1)[0])
        text_match = re.search(r">(.*?)</(?:\w+:)?f>", formula, re.S)
        text = unescape(text_match[1]) if text_match else ""
        origin = f"{column_letter(cell.col)}{number - 1}"
        if attrs.get("t") == "shared" and not text:
            master = self._shared_master(attrs.get("si", ""))
            if master is None:
                return None
            text, origin = master
        elif attrs.get("t") == "array":
            return None
        if not text:
            return None
        from openpyxl.formula.translate import Translator

        try:
            moved = Translator("=" + text, origin=origin).translate_formula(f"{column_letter(cell.col)}{number}")
        except Exception:  # noqa: BLE001 - a formula the translator cannot read is not copied
            return None
        return moved[1:] if moved.startswith("=") else moved

    def _shared_master(self, index: str) -> tuple[str, str] | None:
        p = self.p
        cell = rf"<{p}c\b([^>]*?)(?<!/)>(?:(?!</{p}c>).)*?"  # a cell that is not self-closed
        for formula in (
            rf'<{p}f\b[^>]*\bt="shared"[^>]*\bsi="{index}"[^>]*>([^<]+)</{p}f>',
            rf'<{p}f\b[^>]*\bsi="{index}"[^>]*\bt="shared"[^>]*>([^<]+)</{p}f>',
        ):
            match = re.search(cell + formula, self.xml, re.S)
            if match is not None:
                ref = _attrs(match[1]).get("r")
                return (unescape(match[2]), ref) if ref else None
        return None

    def _cell_xml(self, number: int, col: int, value: Any, style: str | None) -> str | None:
        p = self.p
        ref = f"{column_letter(col)}{number}"
        if isinstance(value, datetime):
            if style is None or not self.styles.is_date(int(style)):
                style = str(self.styles.with_format(int(style or 0), self._date_format(col)))
            value = excel_serial(value)
        s = f' s="{style}"' if style is not None else ""
        if value is None or value == "":
            return f'<{p}c r="{ref}"{s}/>' if s else None
        if isinstance(value, bool):
            return f'<{p}c r="{ref}"{s} t="b"><{p}v>{int(value)}</{p}v></{p}c>'
        if isinstance(value, int | float):
            return f'<{p}c r="{ref}"{s}><{p}v>{_number(value)}</{p}v></{p}c>'
        text = _text(str(value))
        if p:
            text = text.replace("<t", f"<{p}t").replace("</t>", f"</{p}t>")
        return f'<{p}c r="{ref}"{s} t="inlineStr"><{p}is>{text}</{p}is></{p}c>'

    def _date_format(self, col: int) -> str:
        return self.date_formats.get(col, "yyyy-mm-dd hh:mm")

    def _dimension_edit(self, used: Area) -> list[tuple[int, int, int, str]]:
        """The sheet's <dimension> grown to take in the cells written (it comes before the rows)."""
        match = re.compile(rf"""<{self.p}dimension\b[^>]*\bref\s*=\s*["']([^"']+)["']""").search(self.xml, 0, 16384)
        if match is None:
            return []
        try:
            area = Area.parse(match[1])
        except ValueError:
            return []
        grown = area.grown(used.top, used.left).grown(used.bottom, used.right)
        return [] if grown == area else [(match.start(1), match.end(1), 0, str(grown))]


_RowTuple = tuple[int, int, int, str, bool]


class _RowFinder:
    """Rows of a sheet by number, found with one search each (a write touches a few of 100,000 rows).

    Falls back to reading every row tag when some row has no `r` attribute (rows numbered by position).
    """

    def __init__(self, sheet: _SheetPatch, start: int, end: int) -> None:
        self.sheet, self.start, self.end = sheet, start, end
        p = sheet.p
        self._tag = re.compile(_ROW_TAG.format(p=p))
        implicit = re.compile(rf"<{p}row\b(?![^>]*\br\s*=)").search(sheet.xml, start, end)
        self._all: dict[int, _RowTuple] | None = None
        self._ordered: list[_RowTuple] | None = None
        if implicit is not None:
            self._scan()

    def _scan(self) -> None:
        self._ordered = self.sheet._rows(self.start, self.end)
        self._all = {row[0]: row for row in self._ordered}

    def _element(self, match: re.Match[str], number: int) -> _RowTuple:
        close = f"</{self.sheet.p}row>"
        if match[2]:
            element_end = match.end()
        else:
            element_end = self.sheet.xml.find(close, match.end(), self.end)
            if element_end < 0:
                raise WorkbookError(f"sheet {self.sheet.title!r}: row {number} is not closed; the file is damaged")
            element_end += len(close)
        return (number, match.start(), element_end, match[1], bool(match[2]))

    def get(self, number: int) -> _RowTuple | None:
        """The row with this number, if the sheet has it."""
        if self._all is not None:
            return self._all.get(number)
        pattern = re.compile(rf"""<{self.sheet.p}row\b([^>]*?\br\s*=\s*["']{number}["'][^>]*?)(/?)>""")
        match = pattern.search(self.sheet.xml, self.start, self.end)
        return self._element(match, number) if match else None

    def insert_at(self, number: int) -> int:
        """Where a new row with this number goes: before the first row with a higher number."""
        if self._ordered is None:
            last = self.sheet.xml.rfind(f"<{self.sheet.p}row", self.start, self.end)
            tag = self.sheet.xml[last : self.sheet.xml.find(">", last) + 1] if last >= 0 else ""
            found = _ROW_NUMBER.search(tag)
            if last < 0 or (found is not None and int(found[1]) < number):
                return self.end  # the usual case: a new row after the last one
            self._scan()
        assert self._ordered is not None
        for row in self._ordered:
            if row[0] > number:
                return row[1]
        return self.end


# Main-namespace validations and formats keep their range in `sqref`; x14 ones in an <xm:sqref> inside
# their element. A sparkline's <xm:sqref> (one cell) is not theirs and is left alone.
_SQREF = re.compile(
    r"""(<(?:\w+:)?(?:dataValidation|conditionalFormatting)\b[^>]*\bsqref=")([^"]*)(")"""
    r"""|(<x14:(?:dataValidation|conditionalFormatting)\b(?:(?!</x14:(?:dataValidation|conditionalFormatting)>).)*?"""
    r"""<xm:sqref>)([^<]*)(</xm:sqref>)""",
    re.S,
)


def _grow_column_ranges(xml: str, table: Area, bottom: int) -> str:
    """Dropdowns and conditional formats over whole table columns reach the new rows too, as Excel does
    when a table grows: a range inside the table's columns, from its first data row to at least its last."""

    def grow(ref: str) -> str:
        try:
            area = Area.parse(ref)
        except ValueError:
            return ref
        inside = table.left <= area.left and area.right <= table.right
        if inside and area.top <= table.top + 1 and table.bottom <= area.bottom < bottom:
            return str(Area(area.top, area.left, bottom, area.right))
        return ref

    def swap(match: re.Match[str]) -> str:
        if match[1]:
            return match[1] + " ".join(grow(r) for r in match[2].split()) + match[3]
        return match[4] + " ".join(grow(r) for r in match[5].split()) + match[6]

    start = xml.rfind("</sheetData>")  # validations and formats come after the rows (and their extensions too)
    start = start if start >= 0 else 0
    if "sqref" not in xml[start:]:
        return xml
    return xml[:start] + _SQREF.sub(swap, xml[start:])


def _grow_table(table: _Table, bottom: int) -> str:
    """The table part with its ref (and its autoFilter's) reaching down to `bottom`."""
    if bottom <= table.area.bottom:
        return table.xml
    area = Area(table.area.top, table.area.left, bottom, table.area.right)
    old = str(table.area)

    def swap(match: re.Match[str]) -> str:
        return match[0].replace(f'ref="{old}"', f'ref="{area}"')

    xml = re.sub(r"<(?:\w+:)?table\b[^>]*>", swap, table.xml, count=1)
    return re.sub(r"<(?:\w+:)?autoFilter\b[^>]*>", swap, xml, count=1)


# --- the whole write ---------------------------------------------------------------------


def patch(
    source: Path | bytes, target: Path, writes: list[SheetWrite], texts: Mapping[str, str] | None = None
) -> list[str]:
    """Write `source` (a file or its bytes) plus `writes` to `target`; return the names of the parts that changed.

    `texts` may hold sheet parts of `source` already decoded (a `Layout` of the same bytes keeps them).
    Raises WorkbookError (nothing written) for a layout tracker cannot write into.
    """
    where = Path("the workbook") if isinstance(source, bytes) else Path(source)
    data = source if isinstance(source, bytes) else None
    try:
        archive = zipfile.ZipFile(BytesIO(source) if isinstance(source, bytes) else source)
    except OSError as exc:
        raise WorkbookError(f"cannot read {where.name} ({exc}); nothing was written") from None
    except DAMAGED as exc:
        raise not_xlsx(where, exc, data) from None
    with archive:
        try:
            changed = _changed_parts(archive, writes, texts or {})
            _copy(archive, target, changed)
        except DAMAGED as exc:  # a part the Layout did not read is damaged: the read path's line, nothing written
            raise not_xlsx(where, exc, data) from None
    return sorted(changed)


def _changed_parts(archive: zipfile.ZipFile, writes: list[SheetWrite], texts: Mapping[str, str]) -> dict[str, bytes]:
    parts = sheet_parts(archive)
    changed: dict[str, bytes] = {}
    styles: _Styles | None = None
    drop_calc_chain = False
    for write in writes:
        if not write.cells:
            continue
        part = parts.get(write.title)
        if part is None:
            raise WorkbookError(f"the workbook has no sheet {write.title!r}")
        if part in changed:
            xml = changed[part].decode("utf-8")
        else:
            xml = texts[part] if part in texts else archive.read(part).decode("utf-8")
        sheet = _SheetPatch(write.title, xml, styles, archive, write.date_formats)
        tables = _tables(archive, part)
        table = next((t for t in tables if write.table and t.name.casefold() == write.table.casefold()), None)
        table = table or (tables[0] if tables else None)
        if table is not None and write.appended:
            if table.totals:
                raise WorkbookError(_totals_message(write.title, table) + "; nothing was written")
        sheet.apply(write, table)
        styles = sheet._styles
        drop_calc_chain = drop_calc_chain or sheet.formula_overwritten
        if table is not None and write.appended:
            bottom = max(write.appended)
            if bottom > table.area.bottom:
                changed[table.part] = _grow_table(table, bottom).encode("utf-8")
                sheet.xml = _grow_column_ranges(sheet.xml, table.area, bottom)
        changed[part] = sheet.xml.encode("utf-8")
    if styles is not None and styles.changed:
        changed[styles.part] = styles.xml.encode("utf-8")
    if drop_calc_chain:
        changed.update(_without_calc_chain(archive))
    return changed


def _without_calc_chain(archive: zipfile.ZipFile) -> dict[str, bytes]:
    """A formula cell became a value: Excel calls a calc chain naming it corrupt, so the chain goes (Excel rebuilds it)."""
    names = archive.namelist()
    chain = next((n for n in names if n.lower() == "xl/calcchain.xml"), None)
    if chain is None:
        return {}
    out: dict[str, bytes] = {chain: b""}  # empty marks removal
    rels = "xl/_rels/workbook.xml.rels"
    if rels in names:
        text = archive.read(rels).decode("utf-8")
        out[rels] = re.sub(r"<(?:\w+:)?Relationship\b[^>]*calcChain[^>]*/>", "", text).encode("utf-8")
    types = "[Content_Types].xml"
    if types in names:
        text = archive.read(types).decode("utf-8")
        out[types] = re.sub(r'<Override\b[^>]*PartName="/xl/calcChain.xml"[^>]*/>', "", text, flags=re.I).encode(
            "utf-8"
        )
    return out


def _copy(archive: zipfile.ZipFile, target: Path, changed: dict[str, bytes]) -> None:
    """Every member in its order; unchanged ones byte for byte, compressed data included."""
    source = archive.fp
    assert source is not None
    with zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            if info.filename in changed:
                data = changed[info.filename]
                if not data and info.filename.lower() == "xl/calcchain.xml":
                    continue
                fresh = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                fresh.compress_type = zipfile.ZIP_DEFLATED
                fresh.external_attr = info.external_attr
                out.writestr(fresh, data, compresslevel=COMPRESS_LEVEL)
            else:
                _copy_raw(source, info, out)


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")


def _copy_raw(source: IO[bytes], info: zipfile.ZipInfo, out: zipfile.ZipFile) -> None:
    """Copy one member's compressed bytes as they are (no inflate and deflate again)."""
    source.seek(info.header_offset)
    header = _LOCAL_HEADER.unpack(source.read(_LOCAL_HEADER.size))
    if header[0] != b"PK\x03\x04":
        raise WorkbookError(f"{info.filename}: bad zip entry; the file is damaged")
    source.seek(header[10] + header[11], 1)  # file name and extra field
    data = source.read(info.compress_size)
    clone = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    clone.compress_type = info.compress_type
    clone.external_attr = info.external_attr
    clone.CRC = info.CRC
    clone.compress_size = info.compress_size
    clone.file_size = info.file_size
    clone.flag_bits = info.flag_bits & 0x800  # keep only "name is UTF-8": no data descriptor, not encrypted
    if info.file_size > zipfile.ZIP64_LIMIT or info.compress_size > zipfile.ZIP64_LIMIT:
        raise WorkbookError(f"{info.filename} is too large to copy")
    # zipfile has no public call to add already-compressed data; this is what its write path does.
    fp = out.fp
    assert fp is not None
    clone.header_offset = fp.tell()
    fp.write(clone.FileHeader(False))
    fp.write(data)
    out.filelist.append(clone)
    out.NameToInfo[clone.filename] = clone
    out.start_dir = fp.tell()  # type: ignore[attr-defined]
    out._didModify = True  # type: ignore[attr-defined]

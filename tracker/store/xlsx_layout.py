"""What an .xlsx file's layout allows tracker to write: merged ranges, tables (and their totals rows), the master cells of shared formulas; the refusals that name the sheet and range, and the growth of a table and its column ranges when a row is appended.

`layout_problems` reports the same things for `tracker validate`."""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import IO, Any
from xml.parsers.expat import ExpatError

from tracker import zipped
from tracker.cells import attributes as _attrs
from tracker.cells import column_letter, not_xlsx, sheet_parts, split_ref
from tracker.cells import related as _related
from tracker.errors import WorkbookError
from tracker.workbook.sieve import SheetSieve

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


@dataclass
class TablePart:
    part: str
    xml: str
    name: str
    area: Area
    totals: int


def table_parts(archive: zipfile.ZipFile, sheet_part: str) -> list[TablePart]:
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
            TablePart(
                name,
                xml,
                attrs.get("displayName") or attrs.get("name", ""),
                Area.parse(attrs.get("ref", "A1")),
                int(attrs.get("totalsRowCount", "0") or 0),
            )
        )
    return out


def merged_areas(xml: str) -> list[Area]:
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
            if part is not None:
                problems += sheet_layout_problems(archive, title, part, archive.read(part), (columns or {}).get(title))
    return problems


def sheet_layout_problems(
    archive: zipfile.ZipFile, title: str, part: str, data: bytes, written: set[int] | None
) -> list[tuple[str, str]]:
    """`layout_problems` for one sheet, from its XML `data` (decoded only when it holds merged ranges or shared
    formulas)."""
    problems = []
    tables = table_parts(archive, part)
    for table in tables:
        if table.totals:
            problems.append((title, totals_message(title, table)))
    cells_end = data.rfind(b"sheetData")  # </sheetData>, or an empty <sheetData/>
    tail = data[cells_end:] if cells_end >= 0 else data  # merged ranges follow the cells (the file format's order)
    for area in merged_areas(tail.decode("utf-8")) if b"mergeCell" in tail else []:
        for table in tables:
            body = Area(table.area.top + 1, table.area.left, table.area.bottom + 1, table.area.right)
            if overlap(area, body):
                why = (
                    "it lies over the rows of the table"
                    if area.top <= table.area.bottom
                    else ("it lies on the row where tracker adds the next one")
                )
                problems.append((title, merged_message(title, area, why)))
                break
    maybe = written and _may_hold_masters(data)
    masters = formula_masters(title, data.decode("utf-8")) if maybe else {}
    for (number, col), why in sorted(masters.items()):
        if written and col in written and any(t.area.top < number <= t.area.bottom for t in tables):
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


def refuse_merged(
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
            return merged_message(title, area, f"tracker adds a new row on row {number}")
        for col in cols:
            if area.holds(number, col) and (number, col) != (area.top, area.left):
                return merged_message(title, area, f"{column_letter(col)}{number} inside it is a cell tracker writes")
    return None


@dataclass
class SheetLayout:
    merged: list[Area]
    tables: list[TablePart]
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
        self._sheets: dict[str, SheetLayout] = {}
        self.totals_ok = totals_ok
        self.texts: dict[str, str] = {}  # the sheet parts it read, decoded: a patch of the same bytes reuses them
        self._early: SheetSieve | None = None  # where sheet XML already inflated comes from (`share`)

    def share(self, sieve: SheetSieve) -> None:
        """Take sheet XML from `sieve`, of the same bytes, which inflates and keeps it already (a write's view of
        the workbook): each sheet is inflated once."""
        self._early = sieve

    def _sheet(self, title: str) -> SheetLayout:
        try:
            return self._read_sheet(title)
        except DAMAGED as exc:  # a sheet's XML cut short or garbled: named, never "failed unexpectedly"
            raise not_xlsx(self.name, exc, self._source, sheet=title) from None

    def _read_sheet(self, title: str) -> SheetLayout:
        if title not in self._sheets:
            if self._parts is None:
                self._parts = sheet_parts(self._archive)
            part = self._parts.get(title)
            if part is None:
                self._sheets[title] = SheetLayout([], [], {})
            else:
                data = self._early.xml(title) if self._early is not None else None
                data = data if data is not None else zipped.read(self._archive, part)
                xml = self.texts[part] = data.decode("utf-8")
                merged = sheet_merged(xml)
                maybe = _may_hold_masters(data)
                masters = formula_masters(title, xml) if maybe else {}
                self._sheets[title] = SheetLayout(merged, table_parts(self._archive, part), masters)
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
                    return totals_message(title, one)
        for col in cols:
            why = sheet.masters.get((number, col))
            if why:
                return why
        found = self.table(title, table)
        span = (found[1].left, found[1].right) if found is not None else None
        return merged_refusal(title, sheet.merged, number, cols, appended, span)


def sheet_merged(xml: str) -> list[Area]:
    """A sheet's merged ranges. <mergeCells> sits outside its rows (inside them the word can only be cell text), so
    20 MB of rows are not searched for it."""
    start, end = xml.find("sheetData"), xml.rfind("sheetData")
    if start < 0:
        outside = "mergeCell" in xml
    else:
        outside = xml.find("mergeCell", 0, start) >= 0 or xml.find("mergeCell", end) >= 0
    return merged_areas(xml) if outside else []


MASTER_MARKER = re.compile(rb"""\bt\s*=\s*["'](?:shared|array)["']""")
_ROOT = re.compile(rb"<(\w+:)?worksheet\b")


def _may_hold_masters(data: bytes) -> bool:
    """Whether a formula element of a sheet's XML is marked shared or array: its formula elements looked at one by
    one, in one search (formulas are few; searching 20 MB for "shared" and "array" took two passes, 30 ms)."""
    root = _ROOT.search(data, 0, 4096)
    element = b"<" + (root[1] if root and root[1] else b"") + b"f"
    # <f ...>: attributes may make it a master (the regular expression finds these twice as fast as bytes.find
    # finds "<f", a pair of bytes 20 MB of XML is full of: 17 -> 8 ms)
    for start in re.finditer(re.escape(element) + rb"[ \t\n\r]", data):
        close = data.find(b">", start.end())
        if MASTER_MARKER.search(data, start.end() - 1, close if close >= 0 else len(data)):
            return True
    return False


def formula_masters(title: str, xml: str) -> dict[tuple[int, int], str]:
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


def overlap(a: Area, b: Area) -> bool:
    return a.top <= b.bottom and b.top <= a.bottom and a.left <= b.right and b.left <= a.right


def merged_message(title: str, area: Area, why: str) -> str:
    return (
        f"{title}!{area} is a merged range and {why}; tracker writes one value per cell there. "
        "Unmerge it in Excel (Home > Merge & Center) or move it off the table's rows"
    )


def totals_message(title: str, table: TablePart) -> str:
    last = table.area.bottom
    return (
        f"{title}!{column_letter(table.area.left)}{last}:{column_letter(table.area.right)}{last} is the totals row "
        f"of table {table.name}; tracker adds rows at the end of the table and cannot move it. "
        "Turn the totals row off (Table Design > Total Row)"
    )


# Main-namespace validations and formats keep their range in `sqref`; x14 ones in an <xm:sqref> inside
# their element. A sparkline's <xm:sqref> (one cell) is not theirs and is left alone.
SQREF = re.compile(
    r"""(<(?:\w+:)?(?:dataValidation|conditionalFormatting)\b[^>]*\bsqref=")([^"]*)(")"""
    r"""|(<x14:(?:dataValidation|conditionalFormatting)\b(?:(?!</x14:(?:dataValidation|conditionalFormatting)>).)*?"""
    r"""<xm:sqref>)([^<]*)(</xm:sqref>)""",
    re.S,
)


def grow_column_ranges(xml: str, table: Area, bottom: int) -> str:
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
    return xml[:start] + SQREF.sub(swap, xml[start:])


def grow_table(table: TablePart, bottom: int) -> str:
    """The table part with its ref (and its autoFilter's) reaching down to `bottom`."""
    if bottom <= table.area.bottom:
        return table.xml
    area = Area(table.area.top, table.area.left, bottom, table.area.right)
    old = str(table.area)

    def swap(match: re.Match[str]) -> str:
        return match[0].replace(f'ref="{old}"', f'ref="{area}"')

    xml = re.sub(r"<(?:\w+:)?table\b[^>]*>", swap, table.xml, count=1)
    return re.sub(r"<(?:\w+:)?autoFilter\b[^>]*>", swap, xml, count=1)

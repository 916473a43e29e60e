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
import zipfile
from collections.abc import MutableMapping
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from tracker import zipped
from tracker.cells import attributes as _attrs
from tracker.cells import column_letter, not_xlsx, sheet_parts, unescape
from tracker.errors import WorkbookError
from tracker.store.xlsx_cells import (
    DEFAULT_WIDTH,
    LINE_HEIGHT,
    CellXml,
    Styles,
    attr_text,
    cells_of,
    excel_serial,
    wrapped_height,
    xml_escape,
    xml_number,
    xml_text,
)
from tracker.store.xlsx_layout import (
    DAMAGED,
    Area,
    SheetWrite,
    TablePart,
    grow_column_ranges,
    grow_table,
    refuse_merged,
    sheet_merged,
    table_parts,
    totals_message,
)
from tracker.store.xlsx_zip import copy_members

MAX_ROW = 1048576

_ROW_TAG = r"<{p}row\b([^>]*?)(/?)>"
_ROW_NUMBER = re.compile(r"""\br\s*=\s*["'](\d+)["']""")


# --- addresses ---------------------------------------------------------------------------


# --- what to write -----------------------------------------------------------------------


# --- the package -------------------------------------------------------------------------


# --- styles ------------------------------------------------------------------------------


# --- cells -------------------------------------------------------------------------------


class _SheetPatch:
    """The rows of one worksheet part, changed in place."""

    def __init__(
        self, title: str, xml: str, styles: Styles | None, archive: zipfile.ZipFile, date_formats: dict[int, str]
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
        # <cols> comes before <sheetData> (the schema's order): looked for there, not in 20 MB of rows
        data = re.search(rf"<{self.p}sheetData\b", xml)
        head = xml[: data.start()] if data is not None else xml
        self.columns_style = self._column_styles(head)
        self.widths = self._column_widths(head)

    @property
    def styles(self) -> Styles:
        if self._styles is None:
            self._styles = Styles(self._archive)
        return self._styles

    def _column_styles(self, head: str) -> dict[int, str]:
        out = {}
        for match in re.finditer(rf"<{self.p}col\b([^>]*)>", head):
            attrs = _attrs(match[1])
            if "style" in attrs and "min" in attrs and "max" in attrs:
                for col in range(int(attrs["min"]) - 1, min(int(attrs["max"]), 16384)):
                    out[col] = attrs["style"]
        return out

    def _column_widths(self, head: str) -> dict[int, float]:
        out = {}
        for match in re.finditer(rf"<{self.p}col\b([^>]*)>", head):
            attrs = _attrs(match[1])
            try:
                for col in range(int(attrs["min"]) - 1, min(int(attrs["max"]), 16384)):
                    out[col] = float(attrs["width"])
            except (KeyError, ValueError):
                continue
        return out

    def _height(self, col: int, value: object, style: str | None) -> float:
        """The height a row needs for `value` in this cell: 0 when one line is enough or the cell does not wrap."""
        if not isinstance(value, str) or style is None or not style.isdecimal():
            return 0.0
        height = wrapped_height(value, self.widths.get(col, DEFAULT_WIDTH))
        return height if height > LINE_HEIGHT and self.styles.wraps(int(style)) else 0.0

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

    def apply(self, write: SheetWrite, table: TablePart | None) -> Area | None:
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
        end = self.xml.rfind(f"</{p}sheetData>", start)  # one closing tag (text cannot hold "<"): found from the end
        rows = _RowFinder(self, start, end)
        merged = sheet_merged(self.xml)
        span = (table.area.left, table.area.right) if table is not None else None
        refuse_merged(self.title, write, merged, span=span)
        edits: list[tuple[int, int, int, str]] = []  # (start, end, row, replacement)
        made: dict[int, tuple[str, list[CellXml]]] = {}  # rows this write built: their attributes and cells
        used: Area | None = None
        for number in sorted(write.cells):
            values = write.cells[number]
            existing = rows.get(number)
            appended = number in write.appended
            above: list[CellXml] = []
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
                new = self._row_xml(number, attrs, cells_of(inner, p, number), values, above, appended)
                edits.append((tag_start, element_end, number, new))
            else:
                attrs = above_attrs if appended else ""
                new = self._row_xml(number, attrs, [], values, above, appended)
                position = rows.insert_at(number)
                edits.append((position, position, number, new))
            if appended:
                body = new[new.find(">") + 1 : new.rfind("<")] if not new.endswith("/>") else ""
                made[number] = (attrs if existing is None else self._new_row_attrs(existing), cells_of(body, p, number))
            for col in values:
                used = Area(number, col, number, col) if used is None else used.grown(number, col)
        if used is not None:
            edits += self._dimension_edit(used)
        # One pass in document order (a copy per edit would cost 100 MB a time on a big sheet); new rows
        # that go in at one place follow each other in ascending order.
        pieces: list[str] = []
        position = 0
        for edit_start, edit_end, _order, text in sorted(edits, key=lambda e: (e[0], e[2])):
            pieces += [self.xml[position:edit_start], text]
            position = edit_end
        pieces.append(self.xml[position:])
        self.xml = "".join(pieces)
        return used

    def _row_cells(self, row: tuple[int, int, int, str, bool] | None) -> list[CellXml]:
        if row is None or row[4]:
            return []
        number, tag_start, element_end, _attrs_text, _closed = row
        inner = self.xml[self.xml.find(">", tag_start) + 1 : element_end - len(f"</{self.p}row>")]
        return cells_of(inner, self.p, number)

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
        cells: list[CellXml],
        values: dict[int, Any],
        above: list[CellXml],
        appended: bool,
    ) -> str:
        p = self.p
        dropped = {"r", "spans", "hidden"} if appended else {"r", "spans"}
        kept = {k: v for k, v in _attrs(attrs).items() if k not in dropped}
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
                inner = f"<{p}f>{xml_escape(formula)}</{p}f>" if formula is not None else ""
                out[col] = f'<{p}c r="{column_letter(col)}{number}"{style}' + (f">{inner}</{p}c>" if inner else "/>")
        tall = 0.0
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
            tall = max(tall, self._height(col, value, cell_style))
        attrs = attr_text(_grown(kept, tall))
        body = "".join(out[col] for col in sorted(out))
        open_tag = f'<{p}row r="{number}"{attrs}'
        return f"{open_tag}>{body}</{p}row>" if body else f"{open_tag}/>"

    def _check_formula_overwrite(self, cell: CellXml, number: int) -> None:
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

    def _copied_formula(self, cell: CellXml, number: int) -> str | None:
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
            return f'<{p}c r="{ref}"{s}><{p}v>{xml_number(value)}</{p}v></{p}c>'
        text = xml_text(str(value))
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


def _grown(attrs: dict[str, str], height: float) -> dict[str, str]:
    """A row's attributes with its height raised to `height` points, unless a person set it (customHeight). The
    height goes in without customHeight, so Excel still fits the row to what it holds."""
    if not height or attrs.get("customHeight") in ("1", "true"):
        return attrs
    try:
        before = float(attrs.get("ht", 0))
    except ValueError:
        before = 0.0
    return attrs | {"ht": xml_number(height)} if height > before else attrs


_RowTuple = tuple[int, int, int, str, bool]


class _RowFinder:
    """Rows of a sheet by number, found with one search each (a write touches a few of 100,000 rows).

    Falls back to reading every row tag when some row has no `r` attribute (rows numbered by position).
    """

    def __init__(self, sheet: _SheetPatch, start: int, end: int) -> None:
        self.sheet, self.start, self.end = sheet, start, end
        p = sheet.p
        self._tag = re.compile(_ROW_TAG.format(p=p))
        self._all: dict[int, _RowTuple] | None = None
        self._ordered: list[_RowTuple] | None = None
        self._plain: bool | None = None  # every row tag starts with its address (`plain`)

    def plain(self) -> bool:
        """Whether every row tag starts with its address, as Excel, LibreOffice and the Python writers put it: then a
        row is where a plain search finds `<row r="N"`, or nowhere. Asked when a row is not found that way (one pass,
        12 ms at 30,000 rows); when some row has no address at all, every row tag is read (rows numbered by
        position)."""
        if self._plain is None:
            p, xml = self.sheet.p, self.sheet.xml
            self._plain = re.compile(rf'<{p}row\b(?! r=")').search(xml, self.start, self.end) is None
            if not self._plain and re.compile(rf"<{p}row\b(?![^>]*\br\s*=)").search(xml, self.start, self.end):
                self._scan()
        return self._plain

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
        # the address first, as Excel and tracker write it: found by plain search from the end (a write's rows are
        # mostly the newest; a regex over every row's tag is ~30 ms at 10,000 rows); written another way, by the
        # regex (one number is on one row: Excel refuses a file with two)
        xml = self.sheet.xml
        at = xml.rfind(f'<{self.sheet.p}row r="{number}"', self.start, self.end)
        match = pattern.match(xml, at, self.end) if at >= 0 else None
        if match is None and not self.plain():
            if self._all is not None:  # rows without an address: every row tag was read
                return self._all.get(number)
            match = pattern.search(xml, self.start, self.end)
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


# --- the whole write ---------------------------------------------------------------------


def patch(
    source: Path | bytes, target: Path, writes: list[SheetWrite], texts: MutableMapping[str, str] | None = None
) -> list[str]:
    """Write `source` (a file or its bytes) plus `writes` to `target`; return the names of the parts that changed.

    `texts` may hold sheet parts of `source` already decoded (a `Layout` of the same bytes keeps them): each is
    taken out as its sheet is patched, so that the old text goes as the new one is made (100 MB a sheet at 50,000
    events); a part no longer there is read again.
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
            copy_members(archive, target, changed)
        except DAMAGED as exc:  # a part the Layout did not read is damaged: the read path's line, nothing written
            raise not_xlsx(where, exc, data) from None
    return sorted(changed)


def _changed_parts(
    archive: zipfile.ZipFile, writes: list[SheetWrite], texts: MutableMapping[str, str]
) -> dict[str, bytes]:
    parts = sheet_parts(archive)
    changed: dict[str, bytes] = {}
    styles: Styles | None = None
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
            xml = texts.pop(part) if part in texts else zipped.read(archive, part).decode("utf-8")
        sheet = _SheetPatch(write.title, xml, styles, archive, write.date_formats)
        del xml  # (the patch holds it until its new text is made)
        tables = table_parts(archive, part)
        table = next((t for t in tables if write.table and t.name.casefold() == write.table.casefold()), None)
        table = table or (tables[0] if tables else None)
        if table is not None and write.appended:
            if table.totals:
                raise WorkbookError(totals_message(write.title, table) + "; nothing was written")
        sheet.apply(write, table)
        styles = sheet._styles
        drop_calc_chain = drop_calc_chain or sheet.formula_overwritten
        if table is not None and write.appended:
            bottom = max(write.appended)
            if bottom > table.area.bottom:
                changed[table.part] = grow_table(table, bottom).encode("utf-8")
                sheet.xml = grow_column_ranges(sheet.xml, table.area, bottom)
        changed[part] = sheet.xml.encode("utf-8")
        del sheet  # its text, before the next sheet's is read
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

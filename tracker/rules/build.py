"""Building a new tracker workbook (`tracker init`) with openpyxl: one styled Excel table per
sheet, dropdowns and help messages, number formats, conditional formats.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tracker.store.engine import APPLIED_BY_TRACKER, cell_value
from tracker.store.xlsx_cells import LINE_HEIGHT, wrapped_height
from tracker.times import utcnow
from tracker.workbook.overdue_highlight import add_names
from tracker.workbook.reading import column_letter, read_sheet
from tracker.workbook.schema import FieldSpec, Schema, SheetSpec

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

MAX_ROW = 1048576
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def _write(ws: Worksheet, row: int, col: int, spec: FieldSpec, value: Any) -> None:
    cell = ws.cell(row=row, column=col + 1)
    value = cell_value(value)
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
    if spec.number_format and value is not None:
        cell.number_format = spec.number_format


HEADER_FILL = "1F4E78"
FONT = "Calibri"  # the body's font (the default style's)
FONT_SIZE = 11
OVERDUE_FILL = "FFC7CE"
OVERDUE_FONT = "9C0006"
DUE_SOON_FILL = "FFEB9C"
KEYS_NAME = "TrackerSeverities"  # the Severities sheet's Name column, for the due-soon highlight
REMIND_NAME = "TrackerRemindBefore"  # its Remind Before column
DUE_SOON_FONT = "9C5700"


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


def set_page_setup(ws: Worksheet, sheet: SheetSpec) -> None:
    """How a sheet prints: landscape, one page wide (as many pages down as it takes), the header row on every
    page, narrow margins, and a footer naming the sheet and the page. A sheet too wide to read on one page
    prints its columns up to `x-print-through` (Events: ID to Impact, the board a bridge call reads)."""
    from openpyxl.worksheet.properties import PageSetupProperties

    through = sheet.fields.get(str(sheet.schema.get("x-print-through", "")))
    if through is not None:
        ws.print_area = f"A1:{column_letter(through.column)}1048576"  # whole columns (openpyxl takes no "A:J")

    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # 0: as many pages down as the rows need
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = "1:1"
    ws.page_margins.left = ws.page_margins.right = 0.25  # Excel's "Narrow" margins, in inches
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.oddFooter.left.text = "&A"  # the sheet's name
    ws.oddFooter.right.text = "Page &P of &N"
    ws.HeaderFooter.scaleWithDoc = False  # the footer stays readable however small the sheet is printed


def build_workbook(
    schema: Schema,
    rows: dict[str, list[dict[str, Any]]] | None = None,
    *,
    timezone: str = "UTC",
    now: datetime | None = None,
    remind_before: int = 10,
) -> Workbook:
    """A new tracker workbook: one styled Excel table per sheet, dropdowns, help, formats.

    The overdue highlight is right for a viewer whose computer is in `timezone` (the display
    timezone), with its daylight saving changes from `now` (default: the current time) on.
    """
    from openpyxl import Workbook
    from openpyxl.formatting.rule import CellIsRule, FormulaRule
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.table import Table, TableStyleInfo

    rows = rows or {}
    book = Workbook()
    book.remove(book.active)
    clock = add_names(book, timezone, now or utcnow())
    for sheet in schema:
        ws = book.create_sheet(sheet.name)
        fields = list(sheet.fields.values())
        _write_header(ws, fields)
        ws.freeze_panes = sheet.schema.get("x-freeze", "A2")
        mark = sheet.applied_mark  # rows tracker writes are applied already (only typed rows act)
        body = [
            row if mark is None or row.get(mark) else {**row, mark: APPLIED_BY_TRACKER}
            for row in rows.get(sheet.name, [])
        ]
        last = _write_body(ws, fields, body)
        ref = f"A1:{column_letter(len(fields) - 1)}{last}"
        table = Table(displayName=sheet.table, ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(table)
        set_page_setup(ws, sheet)
        overdue = any("x-overdue-unless" in spec.schema for spec in fields)
        lead = _lead_minutes(book, schema, sheet, remind_before) if overdue else str(remind_before)
        _add_conditional_formats(ws, sheet, clock, CellIsRule, FormulaRule, PatternFill, Font, lead)
    apply_validations(book, schema)
    return book


def _lead_minutes(book: Workbook, schema: Schema, sheet: SheetSpec, remind_before: int) -> str:
    """The amber "due soon" highlight's lead time in minutes, as a formula on a row of `sheet`: its severity's
    Remind Before, else `remind_before` ([clock] remind_before), as `tracker list`, `due` and the reminders have
    it (`tracker.rules.clock.lead_time`). The Severities columns it looks in are defined names: Excel 2007 let a
    conditional format read another sheet only through a name."""
    from openpyxl.workbook.defined_name import DefinedName

    for spec in sheet.fields.values():
        target = schema.sheets.get(spec.ref[0]) if spec.ref else None
        remind = target.fields.get("remind_before_minutes") if target is not None else None
        if target is None or spec.ref is None or remind is None or spec.ref[1] not in target.fields:
            continue
        quoted = "'" + target.name.replace("'", "''") + "'"
        for name, column in ((KEYS_NAME, target.fields[spec.ref[1]].column), (REMIND_NAME, remind.column)):
            letter = column_letter(column)
            book.defined_names[name] = DefinedName(
                name, attr_text=f"{quoted}!${letter}:${letter}", comment="tracker: the due-soon highlight"
            )
        found = f"INDEX({REMIND_NAME},MATCH(${column_letter(spec.column)}2,{KEYS_NAME},0))"
        return f"IF(ISNUMBER({found}),{found},{remind_before})"  # an empty cell, or no such severity: the default
    return str(remind_before)


def _write_header(ws: Worksheet, fields: list[FieldSpec]) -> None:
    """Row 1: the titles, white on blue in the body's font (a font without a name prints in a serif in
    LibreOffice), each with its help as a comment; the columns' widths."""
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill

    for spec in fields:
        cell = ws.cell(row=1, column=spec.column + 1, value=spec.title)
        cell.font = Font(name=FONT, size=FONT_SIZE, bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        if spec.description:
            comment = Comment(spec.description, "tracker")
            comment.width, comment.height = 260, 90
            cell.comment = comment
        ws.column_dimensions[column_letter(spec.column)].width = spec.width
    ws.row_dimensions[1].height = 32


def _write_body(ws: Worksheet, fields: list[FieldSpec], body: list[dict[str, Any]]) -> int:
    """The rows, from row 2, with their formats and heights; returns the table's last row."""
    from openpyxl.styles import Alignment

    for number, values in enumerate(body, start=2):
        for spec in fields:
            value = values.get(spec.name)
            if value is not None:
                _write(ws, number, spec.column, spec, value)
        texts = [wrapped_height(str(values[s.name]), s.width) for s in fields if s.wrap and values.get(s.name)]
        if max(texts, default=0.0) > LINE_HEIGHT:  # openpyxl marks the height as set by hand (customHeight)
            ws.row_dimensions[number].height = max(texts)
    last = max(2, len(body) + 1)
    for spec in fields:
        for number in range(2, last + 1):
            cell = ws.cell(row=number, column=spec.column + 1)
            # Rows tracker adds take the styles of the row above: row 2 carries them even when empty.
            cell.alignment = Alignment(vertical="top", wrap_text=spec.wrap)
            if spec.number_format:
                cell.number_format = spec.number_format
    return last


def _add_conditional_formats(
    ws: Worksheet,
    sheet: SheetSpec,
    clock: str,
    CellIsRule,
    FormulaRule,
    PatternFill,
    Font,
    lead: str = "10",
) -> None:  # noqa: N803
    """Colours per value, red when a time is past, amber when it is `lead` minutes away or less (a number or a
    formula); `clock` is UTC now (NOW() or the name holding it)."""
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
                formula=[f'AND(${letter}2<>"",${letter}2<{clock},{unless})'],
                fill=PatternFill("solid", fgColor=OVERDUE_FILL),
                font=Font(color=OVERDUE_FONT, bold=True),
            )
            ws.conditional_formatting.add(target, rule)
            soon = FormulaRule(
                formula=[f'AND(${letter}2<>"",${letter}2>={clock},${letter}2-{clock}<={lead}/1440,{unless})'],
                fill=PatternFill("solid", fgColor=DUE_SOON_FILL),
                font=Font(color=DUE_SOON_FONT, bold=True),
            )
            ws.conditional_formatting.add(target, soon)

"""The surgical .xlsx applier (tracker/store/xlsx.py) at library level: values, styles, tables, formulas, refusals.

Starting workbooks are made with openpyxl and, where a feature needs it, changed by editing
their XML as text (shared formulas, a calc chain, a totals row, a namespace prefix). The
property test applies random edits through `patch` and through openpyxl and reads both
results back with python-calamine.
"""

from __future__ import annotations

import functools
import io
import math
import re
import tempfile
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.table import Table, TableStyleInfo
from python_calamine import CalamineWorkbook

from tests.test_sieve import _rewrite
from tracker.errors import WorkbookError
from tracker.store.xlsx import patch
from tracker.store.xlsx_layout import SheetWrite, check_layout, layout_problems

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
TABLE = "xl/tables/table1.xml"
WHEN_FORMAT = "yyyy-mm-dd hh:mm"  # column B of the starting workbook
NOTE_FORMAT = "dd.mm.yyyy hh:mm:ss"  # given to `patch` for column D, which has no date style
YELLOW = "00FFFF00"
HEADER = ["Name", "When", "Count", "Note", "Double"]  # A bold, B date + fill, C plain, D wrapped, E =C*2


# --- starting workbooks ------------------------------------------------------------------


def events_book() -> openpyxl.Workbook:
    """Sheet Events: header row, rows 2-4 styled per column, formula column E, table Events over A1:E4."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Events"
    sheet.append(HEADER)
    for row in range(2, 5):
        sheet.cell(row, 1, f"event {row}").font = Font(bold=True)
        when = sheet.cell(row, 2, datetime(2024, 1, row, 9, 30))
        when.number_format = WHEN_FORMAT
        when.fill = PatternFill("solid", fgColor=YELLOW)
        sheet.cell(row, 3, row * 10)
        sheet.cell(row, 4, f"note {row}").alignment = Alignment(wrap_text=True)
        sheet.cell(row, 5, f"=C{row}*2")
    table = Table(displayName="Events", ref="A1:E4")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    sheet.add_table(table)
    other = book.create_sheet("Other")
    other.append(["untouched", 1, 2.5])
    return book


@functools.cache
def events_bytes() -> bytes:
    """The Events workbook as .xlsx bytes (built once)."""
    out = io.BytesIO()
    events_book().save(out)
    return out.getvalue()


def make_events(path: Path) -> Path:
    """Write the Events workbook to `path`."""
    path.write_bytes(events_bytes())
    return path


def edit_zip(path: Path, changes: dict[str, str | Callable[[str], str]]) -> None:
    """Rewrite the .xlsx at `path` in member order: a str replaces or adds a part, a function edits its text."""
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members:
            change = changes.get(name)
            if callable(change):
                data = change(data.decode("utf-8")).encode("utf-8")
            elif isinstance(change, str):
                data = change.encode("utf-8")
            out.writestr(name, data)
        for name, change in changes.items():
            if name not in {n for n, _ in members}:
                assert isinstance(change, str)
                out.writestr(name, change)


def replace_once(old: str, new: str) -> Callable[[str], str]:
    """An edit replacing exactly one occurrence of `old`."""

    def edit(text: str) -> str:
        assert text.count(old) == 1, (old, text)
        return text.replace(old, new)

    return edit


def read_part(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode("utf-8")


def calamine_rows(path: Path, title: str = "Events") -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(title).to_python(skip_empty_area=False)


def sheet_cells(xml: str) -> list[tuple[int, list[str]]]:
    """(row number, [cell refs]) in document order, whatever the namespace prefix."""
    root = ElementTree.fromstring(xml)
    data = root.find(f"{{{MAIN}}}sheetData")
    assert data is not None
    return [(int(row.get("r", "0")), [c.get("r", "") for c in row]) for row in data]


def cell_element(xml: str, ref: str) -> ElementTree.Element:
    root = ElementTree.fromstring(xml)
    found = root.find(f".//{{{MAIN}}}c[@r='{ref}']")
    assert found is not None, ref
    return found


def row_element(xml: str, number: int) -> ElementTree.Element:
    root = ElementTree.fromstring(xml)
    found = root.find(f".//{{{MAIN}}}row[@r='{number}']")
    assert found is not None, number
    return found


def table_refs(path: Path) -> tuple[str, str]:
    """(table ref, the table's autoFilter ref)."""
    root = ElementTree.fromstring(read_part(path, TABLE))
    auto = root.find(f"{{{MAIN}}}autoFilter")
    assert auto is not None
    return root.get("ref", ""), auto.get("ref", "")


def append_write(row: int, values: dict[int, Any], **kw: Any) -> SheetWrite:
    write = SheetWrite("Events", table="Events", appended=[row], **kw)
    for col, value in values.items():
        write.set(row, col, value)
    return write


def cell_write(cells: dict[tuple[int, int], Any], **kw: Any) -> SheetWrite:
    write = SheetWrite("Events", table="Events", **kw)
    for (row, col), value in cells.items():
        write.set(row, col, value)
    return write


# --- reading values back, normalised -----------------------------------------------------


def excel_escaped(text: str) -> str:
    """Text as Excel stores it: an underscore that would start an `_xHHHH_` escape is itself escaped."""
    return re.sub(r"_(?=x[0-9A-Fa-f]{4}_)", "_x005F_", text)


def to_ms(value: datetime) -> datetime:
    return value.replace(microsecond=round(value.microsecond / 1000) * 1000 % 1_000_000)


def normal(value: Any) -> tuple[str, Any] | None:
    """A value as (kind, value): numbers as floats, dates as datetimes to the millisecond, '' and None as None."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, datetime):
        return ("date", to_ms(value))
    if isinstance(value, date):
        return ("date", datetime(value.year, value.month, value.day))
    if isinstance(value, str):
        return ("text", value)
    return ("other", value)


def grid(rows: list[list[Any]], height: int, width: int) -> list[list[tuple[str, Any] | None]]:
    """The calamine rows padded (or cut) to height x width, each value normalised."""
    out = []
    for r in range(height):
        row = rows[r] if r < len(rows) else []
        out.append([normal(row[c]) if c < len(row) else None for c in range(width)])
    return out


def differences(ours: list[list[Any]], theirs: list[list[Any]]) -> list[tuple[int, int, Any, Any]]:
    """(row, column, ours, theirs) where two normalised grids differ, numbers compared to Excel's 15 digits.

    openpyxl writes floats with 16 significant digits, `patch` with as many as round-trip.
    """
    out = []
    for r, (mine, other) in enumerate(zip(ours, theirs, strict=True), start=1):
        for c, (a, b) in enumerate(zip(mine, other, strict=True)):
            numbers = a is not None and b is not None and a[0] == b[0] == "number"
            if not (math.isclose(a[1], b[1], rel_tol=1e-15) if numbers else a == b):
                out.append((r, c, a, b))
    return out


# --- property: patch agrees with openpyxl --------------------------------------------------

# Columns get the kinds of value that read back without depending on their number format:
# numbers only go where no date format can be (A bold, C plain), because calamine turns a number
# in a date-formatted cell into a date (lossy for negatives and 60) or panics on large ones.
# \r and the characters XML cannot hold: the reference writer (openpyxl) cannot store them; the patch
# escapes them (tested on their own below).
ILLEGAL_XML = "".join(chr(c) for c in range(32) if c not in (9, 10, 13)) + "\r\ufffe\uffff"
OVERLAPPING_ESCAPES = re.compile(r"_x[0-9A-Fa-f]{4}_x[0-9A-Fa-f]{4}_")  # the reference cannot: tested below

escape_like = st.builds(
    lambda hex4, tail: f"_x{hex4}_{tail}",
    st.text("0123456789ABCDEFabcdef", min_size=4, max_size=4),
    st.sampled_from(["", "x", " ", "_", "_x0041"]),
)
plain_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=ILLEGAL_XML), max_size=12)
texts = st.one_of(
    plain_text,
    st.builds(
        lambda a, b, c: a + b + c,
        st.sampled_from([" ", "  ", "\t", "\n", ""]),
        plain_text,
        st.sampled_from([" ", "\n", "  ", ""]),
    ),
    st.builds(lambda a, b: a + b, st.sampled_from(["=", "+", "-", "@", "'", "="]), plain_text),
    st.builds(lambda a, b, c: a + b + c, plain_text, escape_like, plain_text),
    st.sampled_from(
        ["&<>\"'", "a & b < c > d", "line 1\nline 2", "  both  ", "=SUM(A1:A2)", "é ü 漢字 😀", "_x0041_", "x_x005F_"]
    ),
).filter(lambda t: not OVERLAPPING_ESCAPES.search(t))
numbers = st.one_of(
    st.integers(-(10**15) + 1, 10**15 - 1),
    st.floats(min_value=-1e307, max_value=1e307),  # Excel's range; openpyxl rounds 1.79e308 up to inf
)
datetimes = st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999000)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)
COLUMN_VALUES = {
    0: st.one_of(st.none(), texts, numbers, st.booleans()),
    1: st.one_of(st.none(), datetimes, texts, st.booleans()),
    2: st.one_of(st.none(), numbers, st.booleans(), texts),
    3: st.one_of(st.none(), datetimes, texts, st.booleans()),
}
set_op = st.sampled_from(sorted(COLUMN_VALUES)).flatmap(
    lambda col: st.tuples(st.just("set"), st.integers(0, 10**6), st.just(col), COLUMN_VALUES[col])
)
append_op = st.fixed_dictionaries({}, optional=COLUMN_VALUES).filter(bool).map(lambda values: ("append", values))
batch_one_append = (
    st.tuples(st.lists(set_op, max_size=3), st.lists(append_op, max_size=1), st.lists(set_op, max_size=3))
    .map(lambda parts: parts[0] + parts[1] + parts[2])
    .filter(bool)
)
batch_any_appends = st.lists(st.one_of(set_op, append_op), min_size=1, max_size=6)


def check_against_openpyxl(batches: list[list[tuple[Any, ...]]]) -> None:
    """Apply `batches` (one `patch` call each) and the same edits through openpyxl; compare everything."""
    with tempfile.TemporaryDirectory() as folder:
        current = make_events(Path(folder) / "start.xlsx")
        oracle = openpyxl.load_workbook(current)
        oracle_sheet = oracle["Events"]
        expected: dict[tuple[int, int], Any] = {(1, c): h for c, h in enumerate(HEADER)}
        for row in range(2, 5):
            expected |= {(row, 0): f"event {row}", (row, 1): datetime(2024, 1, row, 9, 30), (row, 2): row * 10}
            expected[(row, 3)] = f"note {row}"
        last = 4
        for index, batch in enumerate(batches):
            write = SheetWrite("Events", table="Events", date_formats={3: NOTE_FORMAT})
            for op in batch:
                if op[0] == "append":
                    last += 1
                    write.appended.append(last)
                    cells = [(last, col, value) for col, value in op[1].items()]
                else:
                    cells = [(2 + op[1] % (last - 1), op[2], op[3])]
                for row, col, value in cells:
                    write.set(row, col, value)
                    expected[(row, col)] = value
                    cell = oracle_sheet.cell(row, col + 1)
                    cell.value = excel_escaped(value) if isinstance(value, str) else value
                    if isinstance(value, str):
                        cell.data_type = "s"  # never a formula
            target = Path(folder) / f"step{index}.xlsx"
            assert set(patch(current, target, [write])) <= {SHEET, TABLE, "xl/styles.xml"}
            current = target
        oracle_path = Path(folder) / "oracle.xlsx"
        oracle.save(oracle_path)
        # openpyxl leaves out xml:space="preserve" on whitespace-only text, and readers then trim it to ''
        edit_zip(oracle_path, {SHEET: lambda xml: xml.replace("<t>", '<t xml:space="preserve">')})

        height, width = last, len(HEADER)
        patched = grid(calamine_rows(current), height, width)
        assert differences(patched, grid(calamine_rows(oracle_path), height, width)) == []
        model = [[normal(expected.get((r, c))) for c in range(width)] for r in range(1, height + 1)]
        assert patched == model

        # the file is well formed: rows and cells in order, each cell in its row
        xml = read_part(current, SHEET)
        layout = sheet_cells(xml)
        numbers_seen = [number for number, _ in layout]
        assert numbers_seen == sorted(set(numbers_seen)), numbers_seen
        for number, refs in layout:
            cols = [openpyxl.utils.cell.coordinate_from_string(ref) for ref in refs]
            assert all(row == number for _, row in cols), (number, refs)
            indexes = [openpyxl.utils.column_index_from_string(letter) for letter, _ in cols]
            assert indexes == sorted(set(indexes)), (number, refs)
        assert re.search(rf'<dimension ref="A1:E{last}"', xml), xml[:400]
        assert table_refs(current) == (f"A1:E{last}", f"A1:E{last}")

        # openpyxl reads it; appended rows carry the styles and formula of the rows above
        book = openpyxl.load_workbook(current)
        sheet = book["Events"]
        assert book["Events"].tables["Events"].ref == f"A1:E{last}"
        for row in range(2, last + 1):
            assert sheet.cell(row, 5).value == f"=C{row}*2", row
            assert sheet.cell(row, 1).font.b, row
            assert sheet.cell(row, 2).fill.fgColor.rgb == YELLOW, row
            assert sheet.cell(row, 4).alignment.wrap_text, row
        for (row, col), value in expected.items():
            if isinstance(value, datetime):
                assert sheet.cell(row, col + 1).number_format == (WHEN_FORMAT if col == 1 else NOTE_FORMAT)
        assert book.sheetnames == ["Events", "Other"]
        start = {m[0]: m for m in raw_members(Path(folder) / "start.xlsx")}
        for member in raw_members(current):
            if member[0] not in (SHEET, TABLE, "xl/styles.xml"):
                assert member == start[member[0]], member[0]


@settings(max_examples=60, deadline=None, database=None)
@given(batches=st.lists(batch_one_append, min_size=1, max_size=3))
def test_patch_agrees_with_openpyxl(batches: list[list[tuple[Any, ...]]]) -> None:
    """Random set/clear/append edits, at most one new row per call, read back the same from `patch` as from openpyxl."""
    check_against_openpyxl(batches)


@settings(max_examples=20, deadline=None, database=None)
@example(batches=[[("append", {0: "first"}), ("append", {0: "second"})]])
@given(batches=st.lists(batch_any_appends, min_size=1, max_size=3))
def test_patch_agrees_with_openpyxl_several_new_rows_per_call(batches: list[list[tuple[Any, ...]]]) -> None:
    """The same comparison holds when one `patch` call adds several rows."""
    check_against_openpyxl(batches)


# --- what changes and what does not ------------------------------------------------------


def raw_members(path: Path) -> list[tuple[str, int, int, int, bytes]]:
    """(name, compress type, CRC, size, compressed bytes) of every member, in order."""
    out = []
    with zipfile.ZipFile(path) as archive, path.open("rb") as handle:
        for info in archive.infolist():
            handle.seek(info.header_offset + 26)
            name_length, extra_length = (
                int.from_bytes(handle.read(2), "little"),
                int.from_bytes(handle.read(2), "little"),
            )
            handle.seek(name_length + extra_length, 1)
            out.append((info.filename, info.compress_type, info.CRC, info.file_size, handle.read(info.compress_size)))
    return out


def test_untouched_parts_are_copied_byte_for_byte(tmp_path: Path) -> None:
    """A cell set on one sheet changes only that sheet's part; every other member keeps its compressed bytes and order."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    changed = patch(source, target, [cell_write({(3, 0): "renamed", (2, 2): 7})])
    assert changed == [SHEET]
    before, after = raw_members(source), raw_members(target)
    assert [m[0] for m in before] == [m[0] for m in after]
    for old, new in zip(before, after, strict=True):
        if old[0] != SHEET:
            assert old == new, old[0]
    assert read_part(source, SHEET) != read_part(target, SHEET)
    other = SheetWrite("Other", cells={1: {0: "changed"}})
    assert patch(source, tmp_path / "other.xlsx", [other]) == ["xl/worksheets/sheet2.xml"]


def test_a_patch_takes_the_decoded_sheets_it_is_given_and_writes_what_it_writes_without(tmp_path: Path) -> None:
    """A write hands the patch the sheets its layout check decoded: the patch takes each out as it patches it (the
    old text goes as the new one is made) and writes the same file as when it reads the part itself; a part it is
    not given (taken by an earlier attempt) is read again."""
    source = make_events(tmp_path / "in.xlsx")
    writes = [cell_write({(3, 0): "renamed"}), append_write(5, {0: "new", 2: 5})]
    patch(source, tmp_path / "plain.xlsx", writes)
    texts = {SHEET: read_part(source, SHEET), "xl/worksheets/other.xml": "<kept/>"}
    patch(source, tmp_path / "given.xlsx", writes, texts)
    assert texts == {"xl/worksheets/other.xml": "<kept/>"}
    patch(source, tmp_path / "again.xlsx", writes, texts)
    for name in ("given", "again"):
        assert read_part(tmp_path / f"{name}.xlsx", SHEET) == read_part(tmp_path / "plain.xlsx", SHEET), name


def test_big_parts_are_deflated_side_by_side_and_read_back_whole(tmp_path: Path) -> None:
    """Two sheets of several megabytes changed by one write (Events and Updates at 10,000 events) are deflated in
    threads: each member's CRC, sizes and bytes are right (zipfile checks the CRC as it reads), whatever else the
    file holds is copied as it was, and the rows read back as written."""
    source = make_events(tmp_path / "in.xlsx")

    def rows(first: int, word: str) -> str:
        cells = '<c r="A{n}" t="inlineStr"><is><t>{word} {n} ' + "x" * 80 + "</t></is></c>"
        return "".join(f'<row r="{n}">{cells.format(n=n, word=word)}</row>' for n in range(first, 20_000))

    edit_zip(
        source,
        {
            "xl/worksheets/sheet2.xml": lambda xml: re.sub(
                r"<sheetData>.*</sheetData>|<sheetData/>",
                lambda _: f"<sheetData>{rows(2, 'row')}</sheetData>",
                xml,
                flags=re.S,
            ),
            SHEET: replace_once("</sheetData>", rows(10, "event") + "</sheetData>"),
        },
    )
    assert all(len(read_part(source, part)) > 1 << 21 for part in (SHEET, "xl/worksheets/sheet2.xml"))
    target = tmp_path / "out.xlsx"
    other = SheetWrite("Other", cells={20_000: {0: "last"}})
    changed = patch(source, target, [cell_write({(3, 0): "renamed"}), other])
    assert changed == [SHEET, "xl/worksheets/sheet2.xml"]
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
    assert calamine_rows(target)[2][0] == "renamed"
    assert calamine_rows(target, "Other")[-1][0] == "last" and calamine_rows(target, "Other")[1][0].startswith("row 2 ")
    before, after = raw_members(source), raw_members(target)
    assert [m for m in before if m[0] not in changed] == [m for m in after if m[0] not in changed]


def test_append_grows_table_and_takes_styles_of_row_above(tmp_path: Path) -> None:
    """An appended row takes the row and cell styles (`s`) of the row above; the table, autoFilter and dimension grow."""
    source = make_events(tmp_path / "in.xlsx")
    edit_zip(
        source, {SHEET: replace_once('<row r="4">', '<row r="4" s="1" customFormat="1" ht="30" customHeight="1">')}
    )
    target = tmp_path / "out.xlsx"
    changed = patch(source, target, [append_write(5, {0: "new", 2: 5})])
    assert changed == [TABLE, SHEET]
    xml = read_part(target, SHEET)
    row = row_element(xml, 5)
    assert (row.get("s"), row.get("customFormat"), row.get("ht")) == ("1", "1", None)
    for col in "ABCD":
        assert cell_element(xml, f"{col}5").get("s") == cell_element(xml, f"{col}4").get("s"), col
    assert table_refs(target) == ("A1:E5", "A1:E5")
    assert '<dimension ref="A1:E5"' in xml
    sheet = openpyxl.load_workbook(target)["Events"]
    assert sheet["A5"].font.b and sheet["A5"].value == "new"
    assert sheet["B5"].value is None and sheet["B5"].number_format == WHEN_FORMAT
    assert sheet["B5"].fill.fgColor.rgb == YELLOW


def test_datetime_without_date_style_gets_date_format(tmp_path: Path) -> None:
    """A datetime in a cell with no date style gets a style like the cell's with the column's date format added."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    when = datetime(2025, 6, 7, 8, 9, 10)
    write = cell_write({(2, 3): when, (3, 2): when}, date_formats={3: NOTE_FORMAT})
    changed = patch(source, target, [write])
    assert changed == ["xl/styles.xml", SHEET]
    sheet = openpyxl.load_workbook(target)["Events"]
    assert sheet["D2"].value == when and sheet["D2"].number_format == NOTE_FORMAT
    assert sheet["D2"].alignment.wrap_text  # the cell's other formatting stays
    assert sheet["C3"].value == when and sheet["C3"].number_format == WHEN_FORMAT  # the default format
    assert sheet["D3"].number_format == "General"  # the style the other cells use is unchanged
    assert calamine_rows(target)[1][3] == when


def test_datetime_in_date_styled_cell_keeps_its_style(tmp_path: Path) -> None:
    """A datetime written where the cell already shows dates keeps that style, and styles.xml is not touched."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    when = datetime(2030, 12, 31, 23, 59, 59, 999000)
    assert patch(source, target, [cell_write({(3, 1): when}, date_formats={1: NOTE_FORMAT})]) == [SHEET]
    assert cell_element(read_part(target, SHEET), "B3").get("s") == cell_element(read_part(source, SHEET), "B3").get(
        "s"
    )
    assert calamine_rows(target)[2][1] == when


def test_date_format_added_to_empty_number_formats(tmp_path: Path) -> None:
    """A workbook without custom number formats still gets the date format a datetime needs."""
    source = tmp_path / "in.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Plain"
    book.active.append(["Header"])
    book.save(source)
    assert '<numFmts count="0" />' in read_part(source, "xl/styles.xml")
    target = tmp_path / "out.xlsx"
    when = datetime(2025, 1, 2, 3, 4)
    patch(source, target, [SheetWrite("Plain", cells={2: {0: when}})])
    assert f'formatCode="{WHEN_FORMAT}"' in read_part(target, "xl/styles.xml")
    assert openpyxl.load_workbook(target)["Plain"]["A2"].number_format == WHEN_FORMAT
    assert calamine_rows(target, "Plain")[1][0] == when


# --- formulas ----------------------------------------------------------------------------


def test_append_copies_plain_formula_from_row_above(tmp_path: Path) -> None:
    """A formula in the row above is copied to the appended row, its relative references moved down."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    patch(source, target, [append_write(5, {0: "new", 2: 21})])
    sheet = openpyxl.load_workbook(target)["Events"]
    assert sheet["E5"].value == "=C5*2"
    assert sheet["E4"].value == "=C4*2"


def shared_formula(empty_d2: bool = False) -> Callable[[str], str]:
    """Column E as one shared formula: master E2 (ref E2:E4, text C2*2), E3 and E4 pointing at it."""

    def edit(xml: str) -> str:
        if empty_d2:  # D2 styled but empty: a self-closed cell just before the master
            xml = replace_once('<c r="D2" s="3" t="inlineStr"><is><t>note 2</t></is></c>', '<c r="D2" s="3"/>')(xml)
        xml = replace_once(
            '<c r="E2"><f>C2*2</f><v /></c>', '<c r="E2"><f t="shared" ref="E2:E4" si="0">C2*2</f><v>40</v></c>'
        )(xml)
        xml = replace_once('<c r="E3"><f>C3*2</f><v /></c>', '<c r="E3"><f t="shared" si="0"/><v>60</v></c>')(xml)
        return replace_once('<c r="E4"><f>C4*2</f><v /></c>', '<c r="E4"><f t="shared" si="0"/><v>80</v></c>')(xml)

    return edit


def test_append_copies_shared_formula_from_row_above(tmp_path: Path) -> None:
    """A shared formula's child in the row above is copied as the master's formula moved to the new row."""
    source = make_events(tmp_path / "in.xlsx")
    edit_zip(source, {SHEET: shared_formula()})
    target = tmp_path / "out.xlsx"
    patch(source, target, [append_write(5, {0: "new"})])
    sheet = openpyxl.load_workbook(target)["Events"]
    assert sheet["E5"].value == "=C5*2"
    assert 'ref="E2:E4" si="0">C2*2</f><v>40</v>' in read_part(target, SHEET)  # the shared formula itself is as it was


def test_append_copies_shared_formula_when_master_follows_empty_cell(tmp_path: Path) -> None:
    """The copied shared formula is moved from the master's own cell even when an empty styled cell precedes it."""
    source = make_events(tmp_path / "in.xlsx")
    edit_zip(source, {SHEET: shared_formula(empty_d2=True)})
    target = tmp_path / "out.xlsx"
    patch(source, target, [append_write(5, {0: "new"})])
    assert openpyxl.load_workbook(target)["Events"]["E5"].value == "=C5*2"


CALC_CHAIN = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<calcChain xmlns="{MAIN}"><c r="E2" i="1"/><c r="E3"/><c r="E4"/></calcChain>'
CALC_REL = '<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain" Target="calcChain.xml"/>'
CALC_TYPE = '<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/>'


def with_calc_chain(path: Path) -> Path:
    edit_zip(
        path,
        {
            "xl/calcChain.xml": CALC_CHAIN,
            "xl/_rels/workbook.xml.rels": lambda t: t.replace("</Relationships>", CALC_REL + "</Relationships>"),
            "[Content_Types].xml": lambda t: t.replace("</Types>", CALC_TYPE + "</Types>"),
        },
    )
    return path


@pytest.mark.parametrize("value", [99, None, "text"])
def test_overwriting_formula_drops_calc_chain(tmp_path: Path, value: Any) -> None:
    """Overwriting or clearing a formula cell removes xl/calcChain.xml with its relationship and content type entry."""
    source = with_calc_chain(make_events(tmp_path / "in.xlsx"))
    target = tmp_path / "out.xlsx"
    changed = patch(source, target, [cell_write({(3, 4): value})])
    assert changed == ["[Content_Types].xml", "xl/_rels/workbook.xml.rels", "xl/calcChain.xml", SHEET]
    with zipfile.ZipFile(target) as archive:
        assert "xl/calcChain.xml" not in archive.namelist()
        assert "calcChain" not in archive.read("xl/_rels/workbook.xml.rels").decode()
        assert "calcChain" not in archive.read("[Content_Types].xml").decode()
    sheet = openpyxl.load_workbook(target)["Events"]
    assert sheet["E3"].value == value and sheet["E2"].value == "=C2*2"


def test_writes_without_formula_keep_calc_chain(tmp_path: Path) -> None:
    """Writing plain cells and appending a row (which copies a formula) keeps the calc chain as it was."""
    source = with_calc_chain(make_events(tmp_path / "in.xlsx"))
    target = tmp_path / "out.xlsx"
    write = append_write(5, {0: "new"})
    write.set(2, 2, 1)
    assert patch(source, target, [write]) == [TABLE, SHEET]
    assert read_part(target, "xl/calcChain.xml") == CALC_CHAIN


def test_overwriting_shared_formula_master_is_refused(tmp_path: Path) -> None:
    """Writing the master cell of a shared formula other cells use fails naming the sheet and cell; nothing is written."""
    source = make_events(tmp_path / "in.xlsx")
    edit_zip(source, {SHEET: shared_formula()})
    target = tmp_path / "out.xlsx"
    with pytest.raises(WorkbookError, match=r"Events!E2 holds a shared formula that cells E2:E4 use") as raised:
        patch(source, target, [cell_write({(2, 4): 5})])
    assert "nothing was written" in str(raised.value)
    assert not target.exists()
    patch(source, target, [cell_write({(3, 4): 5})])  # a child cell can be overwritten
    assert openpyxl.load_workbook(target)["Events"]["E3"].value == 5


# --- refusals ----------------------------------------------------------------------------


def test_merged_range_over_written_cell_is_refused(tmp_path: Path) -> None:
    """A write into a merged range other than its top-left cell fails naming the range, in patch and check_layout."""
    book = events_book()
    book["Events"].merge_cells("C3:D3")
    source = tmp_path / "in.xlsx"
    book.save(source)
    target = tmp_path / "out.xlsx"
    write = cell_write({(3, 3): "x"})
    message = r"Events!C3:D3 is a merged range and D3 inside it is a cell tracker writes"
    with pytest.raises(WorkbookError, match=message):
        patch(source, target, [write])
    assert not target.exists()
    with pytest.raises(WorkbookError, match=message):
        check_layout(source, [write])
    top_left = cell_write({(3, 2): 1})
    check_layout(source, [top_left])
    patch(source, target, [top_left])
    assert openpyxl.load_workbook(target)["Events"]["C3"].value == 1


def test_merged_range_over_appended_row_is_refused(tmp_path: Path) -> None:
    """Appending a row where a merged range lies fails naming the range, in patch and check_layout."""
    book = events_book()
    book["Events"].merge_cells("A5:B6")
    source = tmp_path / "in.xlsx"
    book.save(source)
    write = append_write(5, {0: "x"})
    message = r"Events!A5:B6 is a merged range and tracker adds a new row on row 5"
    with pytest.raises(WorkbookError, match=message):
        patch(source, tmp_path / "out.xlsx", [write])
    with pytest.raises(WorkbookError, match=message):
        check_layout(source, [write])
    check_layout(source, [write], appends=False)  # only the top-left cell is written


def test_merged_range_on_appended_row_outside_written_columns_is_refused(tmp_path: Path) -> None:
    """Appending a row refuses a merged range on that row inside the table's columns even if its cells are not written."""
    book = events_book()
    book["Events"].merge_cells("C5:D5")
    source = tmp_path / "in.xlsx"
    book.save(source)
    assert [title for title, _ in layout_problems(source, ["Events"])] == ["Events"]
    with pytest.raises(WorkbookError, match=r"Events!C5:D5"):
        patch(source, tmp_path / "out.xlsx", [append_write(5, {0: "x"})])


def with_totals_row(path: Path) -> Path:
    """The Events table's last row (4) made its totals row."""
    edit_zip(
        path,
        {
            TABLE: lambda xml: replace_once('<autoFilter ref="A1:E4"', '<autoFilter ref="A1:E3"')(
                replace_once('displayName="Events" ref="A1:E4"', 'displayName="Events" ref="A1:E4" totalsRowCount="1"')(
                    xml
                )
            )
        },
    )
    return path


def test_totals_row_refuses_appends(tmp_path: Path) -> None:
    """A table with a totals row refuses an appended row naming the totals row; cell writes above it still work."""
    source = with_totals_row(make_events(tmp_path / "in.xlsx"))
    target = tmp_path / "out.xlsx"
    with pytest.raises(WorkbookError, match=r"Events!A4:E4 is the totals row of table Events") as raised:
        patch(source, target, [append_write(5, {0: "x"})])
    assert "nothing was written" in str(raised.value)
    assert not target.exists()
    assert patch(source, target, [cell_write({(3, 0): "ok"})]) == [SHEET]


def test_layout_problems_reports_merged_ranges_and_totals_rows(tmp_path: Path) -> None:
    """layout_problems names the sheet, the totals row and each merged range over the table's rows or the next row."""
    book = events_book()
    book["Events"].merge_cells("A3:B3")
    book["Events"].merge_cells("C5:D5")
    book["Events"].merge_cells("G2:H2")  # beside the table: no problem
    book["Other"].merge_cells("A1:B1")  # no table there
    source = tmp_path / "in.xlsx"
    book.save(source)
    with_totals_row(source)
    problems = layout_problems(source, ["Events", "Other", "Missing"])
    assert [title for title, _ in problems] == ["Events"] * 3
    messages = "\n".join(message for _, message in problems)
    assert "Events!A4:E4 is the totals row of table Events" in messages
    assert "Events!A3:B3 is a merged range and it lies over the rows of the table" in messages
    assert "Events!C5:D5 is a merged range" in messages
    assert "G2" not in messages and "Other!" not in messages
    assert layout_problems(make_events(tmp_path / "clean.xlsx"), ["Events", "Other"]) == []


# --- XML details -------------------------------------------------------------------------


def prefixed(xml: str) -> str:
    """The worksheet XML with the main namespace bound to prefix x: (`<x:worksheet xmlns:x=...>`)."""
    xml = re.sub(r"<(/?)([A-Za-z]\w*)(?=[\s/>])", r"<\1x:\2", xml)
    return xml.replace(f'xmlns="{MAIN}"', f'xmlns:x="{MAIN}"')


def test_namespace_prefixed_sheet_patches(tmp_path: Path) -> None:
    """A worksheet written with a namespace prefix gets prefixed rows and cells: values, styles and formulas read back."""
    source = make_events(tmp_path / "in.xlsx")
    edit_zip(source, {SHEET: prefixed})
    assert read_part(source, SHEET).startswith("<x:worksheet")
    target = tmp_path / "out.xlsx"
    when = datetime(2025, 3, 4, 5, 6, 7)
    write = append_write(5, {0: " padded ", 1: when, 2: 3.25, 3: when}, date_formats={3: NOTE_FORMAT})
    write.set(2, 0, "a\nb")
    write.set(3, 2, None)
    write.set(4, 3, True)
    patch(source, target, [write])
    xml = read_part(target, SHEET)
    assert re.findall(r"<(?!x:|/x:|\?)[^>]*>", xml) == []  # every element carries the prefix
    assert table_refs(target) == ("A1:E5", "A1:E5")
    assert '<x:dimension ref="A1:E5"' in xml
    rows = calamine_rows(target)
    assert rows[4][:4] == [" padded ", when, 3.25, when]
    assert rows[1][0] == "a\nb" and rows[2][2] == "" and rows[3][3] is True
    sheet = openpyxl.load_workbook(target)["Events"]
    assert sheet["A5"].value == " padded " and sheet["A5"].font.b
    assert sheet["B5"].number_format == WHEN_FORMAT and sheet["D5"].number_format == NOTE_FORMAT
    assert sheet["E5"].value == "=C5*2"


@pytest.mark.parametrize("text", [" leading", "trailing ", "  both  ", "\tTab", "line\nbreak", "   "])
def test_inline_strings_keep_surrounding_whitespace(tmp_path: Path, text: str) -> None:
    """Text with leading or trailing whitespace or a line break goes in as an inline string with xml:space="preserve"."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    patch(source, target, [cell_write({(2, 0): text})])
    cell = cell_element(read_part(target, SHEET), "A2")
    assert cell.get("t") == "inlineStr"
    t = cell.find(f"{{{MAIN}}}is/{{{MAIN}}}t")
    assert t is not None and t.text == text
    assert t.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"
    assert calamine_rows(target)[1][0] == text
    assert openpyxl.load_workbook(target)["Events"]["A2"].value == text


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@x", "&<>\"'", "_x0041_", "x_x0041_y", "é漢😀"])
def test_text_stays_text(tmp_path: Path, text: str) -> None:
    """Text that looks like a formula, markup or an Excel escape reads back exactly as written."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    patch(source, target, [cell_write({(2, 0): text})])
    assert cell_element(read_part(target, SHEET), "A2").find(f"{{{MAIN}}}f") is None
    assert calamine_rows(target)[1][0] == text


def test_adjacent_escape_like_sequences_stay_text(tmp_path: Path) -> None:
    """Two `_xHHHH_` look-alikes sharing an underscore read back as written."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    patch(source, target, [cell_write({(2, 0): "_x0041_x0042_"})])
    assert calamine_rows(target)[1][0] == "_x0041_x0042_"


def test_carriage_return_survives(tmp_path: Path) -> None:
    """A carriage return in text reads back as a carriage return (Excel stores it as _x000D_)."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    patch(source, target, [cell_write({(2, 0): "a\rb", (3, 0): "c\r\nd"})])
    rows = calamine_rows(target)
    assert [rows[1][0], rows[2][0]] == ["a\rb", "c\r\nd"]


@pytest.mark.parametrize("text", ["a\uffffb", "a\ufffeb"])
def test_noncharacter_does_not_break_sheet(tmp_path: Path, text: str) -> None:
    """Text with a character XML cannot hold is refused or encoded, never written as an unreadable sheet."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    try:
        patch(source, target, [cell_write({(2, 0): text})])
    except WorkbookError:
        return
    ElementTree.fromstring(read_part(target, SHEET))


# --- several new rows in one call ----------------------------------------------------------


@pytest.mark.parametrize("appended", [True, False])
def test_new_rows_in_one_call_stay_in_order(tmp_path: Path, appended: bool) -> None:
    """Several new rows written in one call appear in sheetData in ascending order (Excel requires it)."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    write = cell_write({(5, 0): "five", (6, 0): "six", (7, 0): "seven"})
    if appended:
        write.appended = [5, 6, 7]
    patch(source, target, [write])
    rows = [number for number, _ in sheet_cells(read_part(target, SHEET))]
    assert rows == list(range(1, 8))


def test_second_appended_row_takes_styles_and_formulas(tmp_path: Path) -> None:
    """Each of several rows appended in one call takes the styles and formulas of the row above it."""
    source = make_events(tmp_path / "in.xlsx")
    target = tmp_path / "out.xlsx"
    write = append_write(5, {0: "five", 1: datetime(2025, 1, 5)})
    write.appended.append(6)
    write.set(6, 0, "six")
    write.set(6, 1, datetime(2025, 1, 6))
    patch(source, target, [write])
    sheet = openpyxl.load_workbook(target)["Events"]
    assert sheet["A6"].font.b
    assert sheet["B6"].fill.fgColor.rgb == YELLOW
    assert sheet["E6"].value == "=C6*2"


@pytest.mark.parametrize("form", ["r='{n}'", 'r = "{n}"'])
def test_rows_written_with_other_attribute_quoting_are_found(tmp_path: Path, form: str) -> None:
    """Row attributes in single quotes or with spaces around `=` (other writers): the row is found and
    rewritten once, the appended row follows it, and openpyxl reads the result."""
    source = make_events(tmp_path / "in.xlsx")
    edit_zip(source, {SHEET: lambda xml: re.sub(r'<row r="(\d+)"', lambda m: "<row " + form.format(n=m[1]), xml)})
    assert form.format(n=3) in read_part(source, SHEET)
    target = tmp_path / "out.xlsx"
    patch(source, target, [cell_write({(3, 2): 42}), append_write(5, {0: "five"})])
    xml = read_part(target, SHEET)
    numbers = [number for number, _cells in sheet_cells(xml)]
    assert numbers == sorted(set(numbers)) and 5 in numbers
    book = openpyxl.load_workbook(target)
    assert book["Events"]["C3"].value == 42 and book["Events"]["A5"].value == "five"


@pytest.mark.parametrize("without", ["every row", "row 3 only"])
def test_rows_without_their_address_are_found_by_position(tmp_path: Path, without: str) -> None:
    """Rows written without `r` (numbered by position, as some writers do): the row a write changes is found where a
    reader places it, whether or not other rows carry their address, and the new row goes after the last."""
    source = make_events(tmp_path / "in.xlsx")

    def strip(xml: str) -> str:
        if without == "every row":
            return re.sub(r'<row r="\d+"', "<row", xml)
        return xml.replace('<row r="3"', "<row", 1)

    edit_zip(source, {SHEET: strip})
    assert '<row r="3"' not in read_part(source, SHEET)
    target = tmp_path / "out.xlsx"
    patch(source, target, [cell_write({(3, 2): 42, (4, 2): 43}), append_write(5, {0: "five"})])
    rows = calamine_rows(target)
    assert rows[2][2] == 42 and rows[3][2] == 43 and rows[4][0] == "five"
    assert [row[0] for row in rows[1:4]] == [row[0] for row in calamine_rows(source)[1:4]]
    assert read_part(target, SHEET).count("<row") == read_part(source, SHEET).count("<row") + 1  # changed in place


def test_dropdowns_and_formats_over_table_columns_follow_new_rows(tmp_path: Path) -> None:
    """A dropdown or conditional format over a whole table column (as LibreOffice leaves it, clipped to the
    rows it had) reaches the appended row, as Excel grows them with the table; other ranges stay as they are."""
    source = make_events(tmp_path / "in.xlsx")
    rules = (
        '<conditionalFormatting sqref="C2:C4"><cfRule type="cellIs" priority="1" operator="equal">'
        "<formula>1</formula></cfRule></conditionalFormatting>"
        '<dataValidations count="2"><dataValidation type="list" allowBlank="1" sqref="D2:D4 F2:F4">'
        '<formula1>"a,b"</formula1></dataValidation>'
        '<dataValidation type="list" allowBlank="1" sqref="A2:A3"><formula1>"x"</formula1></dataValidation>'
        "</dataValidations>"
    )
    edit_zip(source, {SHEET: replace_once("</sheetData>", "</sheetData>" + rules)})
    target = tmp_path / "out.xlsx"
    patch(source, target, [append_write(5, {0: "five"})])
    xml = read_part(target, SHEET)
    assert 'sqref="C2:C5"' in xml and 'sqref="D2:D5 F2:F4"' in xml and 'sqref="A2:A3"' in xml
    sheet = openpyxl.load_workbook(target)["Events"]
    assert any("D2:D5" in str(dv.sqref) for dv in sheet.data_validations.dataValidation)


@pytest.mark.parametrize("spelling", ['t="shared"', 't = "shared"', "t='shared'"])
def test_layout_knows_shared_formula_masters_however_written(tmp_path: Path, spelling: str) -> None:
    """The layout check (which decides before anything is written) finds a shared formula's master cell however
    its attribute is spelled, and lets its child cells be written."""
    from tracker.store.xlsx_layout import Layout

    source = make_events(tmp_path / "in.xlsx")
    edit_zip(source, {SHEET: lambda xml: shared_formula()(xml).replace('t="shared"', spelling)})
    layout = Layout(source.read_bytes())
    assert "Events!E2 holds a shared formula" in (layout.refusal("Events", 2, [4], False) or "")
    assert layout.refusal("Events", 3, [4], False) is None


@pytest.mark.parametrize("form", ["prefixed", "formulas with other attributes", "the words in text"])
def test_layout_finds_shared_formula_masters_among_other_formulas(tmp_path: Path, form: str) -> None:
    """The layout check looks at each formula element's attributes (not for the words anywhere in 20 MB): it finds
    a master in a prefixed sheet, among formulas LibreOffice marks `aca="false"`, and none in cell text."""
    from tracker.store.xlsx_layout import Layout

    source = make_events(tmp_path / "in.xlsx")
    if form == "the words in text":
        edit_zip(source, {SHEET: replace_once("<t>note 2</t>", "<t>a shared t=&quot;array&quot; drive</t>")})
        assert Layout(source.read_bytes()).refusal("Events", 2, [4], False) is None
        return
    edit = shared_formula()
    if form == "prefixed":
        edit_zip(source, {SHEET: lambda xml: prefixed(edit(xml))})
    else:
        edit_zip(source, {SHEET: lambda xml: edit(xml).replace("<f>", '<f aca="false">')})
    assert "Events!E2 holds a shared formula" in (Layout(source.read_bytes()).refusal("Events", 2, [4], False) or "")


def test_a_sparkline_is_not_stretched_over_new_rows(tmp_path: Path) -> None:
    """A table with one data row and a sparkline in its column: the new row does not stretch the sparkline's
    one-cell location (an x14 validation over the same column does grow)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Events"
    sheet.append(["A", "B", "C"])
    sheet.append(["one", 1, 2])
    sheet.add_table(Table(displayName="Events", ref="A1:C2"))
    source = tmp_path / "in.xlsx"
    book.save(source)
    ext = (
        '<extLst><ext uri="{05C60535-1F16-4fd2-B633-F4F36F0B64E0}" '
        'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        '<x14:sparklineGroups xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"><x14:sparklineGroup>'
        "<x14:sparklines><x14:sparkline><xm:f>Events!B2:B2</xm:f><xm:sqref>C2</xm:sqref></x14:sparkline>"
        "</x14:sparklines></x14:sparklineGroup></x14:sparklineGroups></ext>"
        '<ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
        'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        '<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
        '<x14:dataValidation type="list"><x14:formula1><xm:f>Other!$A$1:$A$3</xm:f></x14:formula1>'
        "<xm:sqref>B2:B2</xm:sqref></x14:dataValidation></x14:dataValidations></ext></extLst>"
    )
    edit_zip(source, {SHEET: lambda xml: xml.replace("</worksheet>", ext + "</worksheet>")})
    target = tmp_path / "out.xlsx"
    patch(source, target, [append_write(3, {0: "two"})])
    xml = read_part(target, SHEET)
    assert "<xm:sqref>C2</xm:sqref>" in xml and "<xm:sqref>B2:B3</xm:sqref>" in xml


def _layout_case(path: Path, change: Callable[[bytes], bytes]) -> None:
    """A sheet with a table over A1:C5 and B3:C3 merged, its XML then changed."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Events"
    sheet.append(["ID", "Title", "Status"])
    for number in range(2, 6):
        sheet.append([f"EVT-{number}", f"t{number}", "Open"])
    sheet.add_table(Table(displayName="T1", ref="A1:C5"))
    sheet.merge_cells("B3:C3")
    book.save(path)
    _rewrite(path, change)


def test_validate_finds_a_merged_range_and_a_formula_master_however_the_sheet_is_written(tmp_path: Path) -> None:
    """Issue 23 made validate look for merged ranges only after the cells, and for formulas quickly: a sheet whose
    cells are an empty <sheetData/>, and a shared formula's master written without its text, are still found (both
    would stop a write)."""
    from tracker.store.xlsx_layout import layout_problems

    empty = tmp_path / "empty.xlsx"
    _layout_case(empty, lambda xml: re.sub(rb"<sheetData>.*</sheetData>", b"<sheetData/>", xml, flags=re.S))
    assert any("B3:C3" in message for _, message in layout_problems(empty, ["Events"]))

    def master(xml: bytes) -> bytes:
        xml = re.sub(rb"<mergeCells.*?</mergeCells>", b"", xml, flags=re.S)
        cell = re.search(rb'<c r="B3"[^>]*>.*?</c>', xml, re.S)
        assert cell is not None
        return xml.replace(cell[0], b'<c r="B3"><f t="shared" ref="B3:B5" si="0"/><v>1</v></c>')

    shared = tmp_path / "shared.xlsx"
    _layout_case(shared, master)
    assert any("B3" in message for _, message in layout_problems(shared, ["Events"], {"Events": {1}}))

"""Reading some rows of a big sheet (issue 23): `list --open`, `show ID` and the commands like them scan the sheet
XML for the rows they need and hand only those to python-calamine (tracker.workbook.sieve). Whatever the file holds
and however it was written, the rows they get must be exactly the rows a whole-sheet read gives: same Excel row
numbers, same typed values. Each case here reads one workbook both ways and compares.

Files come from openpyxl (inline strings), xlsxwriter (shared strings, rich text, Excel's _xHHHH_ escapes) and, for
the shapes no library writes but a hand-edited or foreign file may hold, the same XML rewritten: attributes in
another order, cells and rows without their address, CDATA sections, prefixed elements.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter

from tracker.workbook.opening import read_tracker
from tracker.workbook.policy import OPEN_STATUSES
from tracker.workbook.schema import load_schema

SCHEMA = load_schema()
EVENTS = SCHEMA["Events"]
HEADERS = [spec.title for spec in EVENTS.fields.values()]
ID_COLUMN = list(EVENTS.fields).index("id")
STATUS_COLUMN = list(EVENTS.fields).index("status")
TITLE_COLUMN = list(EVENTS.fields).index("title")
OPEN = {s.casefold() for s in OPEN_STATUSES}
IDS = ["EVT-1", "evt-2", "EVT-3", "Evt-10"]

# What a key cell may hold: the values looked for, in other cases and with spaces around; other words; numbers,
# booleans, dates; text with entities, escapes, line ends and a character whose case-folding is plain ASCII.
KEY_CELLS = st.one_of(
    st.sampled_from([*OPEN_STATUSES, "Resolved", "Closed", "investigating", " IDENTIFIED ", "Monitoring\n"]),
    st.sampled_from([*IDS, " evt-1", "EVT-1 ", "EVT-11", "EVT-1&2", "Mon<itoring", "Inveſtigating", "_x0041_"]),
    st.sampled_from([None, "", " ", 1, 1.5, 1e20, True, False, datetime(2030, 1, 2, 3, 4, 5), "#N/A"]),
    st.text(alphabet="EVTeI-1 &<>_x0tnv", max_size=8),
)
# How many generated workbooks each comparison of both reads tries (a workbook written and read twice each)
EXAMPLES = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ROWS = st.lists(st.tuples(KEY_CELLS, KEY_CELLS, st.booleans()), min_size=0, max_size=12)


def _openpyxl(path: Path, rows: list[tuple[Any, Any, bool]], rich: bool) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Events"
    sheet.append(HEADERS)
    for number, (key, status, blank) in enumerate(rows, start=2):
        if blank:
            continue  # an empty row between the others
        for column, value in ((ID_COLUMN, key), (STATUS_COLUMN, status), (TITLE_COLUMN, f"row {number}")):
            sheet.cell(number, column + 1, value)
    book.save(path)


def _xlsxwriter(path: Path, rows: list[tuple[Any, Any, bool]], rich: bool) -> None:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Events")
    bold = book.add_format({"bold": True})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, HEADERS)
    for number, (key, status, blank) in enumerate(rows, start=1):
        if blank:
            continue
        for column, value in ((ID_COLUMN, key), (STATUS_COLUMN, status)):
            if isinstance(value, datetime):
                sheet.write_datetime(number, column, value, stamp)
            elif rich and isinstance(value, str) and len(value.strip()) > 2:
                sheet.write_rich_string(number, column, bold, value[:2], value[2:])  # "Iden" + "tified" in two runs
            elif value is not None:
                sheet.write(number, column, value)
        sheet.write(number, TITLE_COLUMN, f"row {number + 1}")
    book.close()


WRITERS: dict[str, Callable[[Path, list[tuple[Any, Any, bool]], bool], None]] = {
    "openpyxl": _openpyxl,
    "xlsxwriter": _xlsxwriter,
}


def _rewrite(path: Path, change: Callable[[bytes], bytes]) -> None:
    """Rewrite the Events sheet's XML in place."""
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    name = next(n for n in parts if n.startswith("xl/worksheets/sheet") and n.endswith(".xml"))
    parts[name] = change(parts[name])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, data in parts.items():
            archive.writestr(part, data)
    path.write_bytes(buffer.getvalue())


SHAPES: dict[str, Callable[[bytes], bytes]] = {
    "as written": lambda xml: xml,
    # <c s="1" r="D5" t="s">: the address after the other attributes
    "address last": lambda xml: re.sub(rb'<c r="([A-Z]+\d+)"([^>]*?)(/?)>', rb'<c\2 r="\1"\3>', xml),
    # a cell without its address: placed after the one before it
    "cells without address": lambda xml: re.sub(rb'<c r="[B-Z]\d+"', b"<c", xml, count=3),
    "rows without address": lambda xml: re.sub(rb'<row r="\d+"', b"<row", xml, count=2),
    "CDATA": lambda xml: re.sub(rb"<t>([^<]*)</t>", rb"<t><![CDATA[\1]]></t>", xml, count=4),
    "prefixed": lambda xml: re.sub(rb"<(/?)(worksheet|sheetData|row|c|is|t|v)\b", rb"<\1x:\2", xml).replace(
        b'<x:worksheet xmlns="', b'<x:worksheet xmlns:x="'
    ),
    # the shapes a review of the scan found it misread (issue 23), each now kept for python-calamine or read whole
    "type single-quoted": lambda xml: re.sub(rb' t="(\w+)"', rb" t='\1'", xml),
    "type spaced": lambda xml: xml.replace(b' t="', b' t = "'),
    "tab before the address": lambda xml: xml.replace(b'<c r="', b'<c\tr="'),
    "comment between rows": lambda xml: xml.replace(b'<row r="3"', b'<!-- <row r="3"> --><row r="3"', 1),
    "rows reversed": lambda xml: _reversed_rows(xml),
    "header last": lambda xml: _header_last(xml),
    "text in number cells": lambda xml: re.sub(
        rb'<c r="([A-Z]+\d+)"([^>]*?) t="inlineStr"><is><t>([^<]*)</t></is></c>', rb'<c r="\1"\2><v>\3</v></c>', xml
    ),
    "escape spelt by an entity": lambda xml: xml.replace(b"EVT-1<", b"EVT&#95;x002D_1<").replace(
        b"EVT-1 <", b"EVT-1 <"
    ),
    "value with attributes": lambda xml: re.sub(rb"<is><t>([^<]*)</t></is>", rb'<is><t xml:lang="en">\1</t></is>', xml),
    # XML laid out for people to read: rows and cells on lines of their own
    "pretty-printed": lambda xml: re.sub(rb"(<row |<c |</row>)", rb"\n    \1", xml),
    # a key cell written twice in its row (python-calamine shows the last), or at the end of the row before its own
    "key cells twice": lambda xml: _at_rows_end(xml, 0),
    "key cells a row early": lambda xml: _at_rows_end(xml, 1),
}
# The generated workbooks every comparison of both reads draws: rows, the program that wrote them, the XML's shape,
# and whether texts are rich (runs of formatting)
WORKBOOKS = {
    "rows": ROWS,
    "writer": st.sampled_from(sorted(WRITERS)),
    "shape": st.sampled_from(sorted(SHAPES)),
    "rich": st.booleans(),
}


def _at_rows_end(xml: bytes, ahead: int) -> bytes:
    """Each data row ends with a second ID and status cell, an open event's, addressed `ahead` rows below it."""

    def more(row: re.Match[bytes]) -> bytes:
        number = int(row[1]) + ahead
        cells = b"".join(
            b'<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>' % (get_column_letter(column + 1).encode(), number, text)
            for column, text in ((STATUS_COLUMN, b"Monitoring"), (ID_COLUMN, b"EVT-1"))
        )
        return row[0][: -len(b"</row>")] + cells + b"</row>"

    return re.sub(
        rb'<row r="(\d+)"(?:(?!</row>).)*</row>', lambda row: more(row) if row[1] != b"1" else row[0], xml, flags=re.S
    )


def _data_rows(xml: bytes) -> tuple[bytes, list[bytes], bytes]:
    start, end = xml.index(b"<sheetData>") + len(b"<sheetData>"), xml.index(b"</sheetData>")
    rows = re.findall(rb"<row\b.*?</row>|<row\b[^>]*/>", xml[start:end], re.S)
    return xml[:start], rows, xml[end:]


def _reversed_rows(xml: bytes) -> bytes:
    head, rows, tail = _data_rows(xml)
    return head + rows[0] + b"".join(reversed(rows[1:])) + tail


def _header_last(xml: bytes) -> bytes:
    head, rows, tail = _data_rows(xml)
    return head + b"".join(rows[1:]) + rows[0] + tail


def _both_ways(path: Path, field: str, wanted: set[str]) -> tuple[list[Any], list[Any]]:
    """rows_where read by the sieve (the command declares it reads some rows) and by a whole-sheet read."""
    sifted = read_tracker(path, SCHEMA)
    sifted.prefetch("Events")
    whole = read_tracker(path, SCHEMA)
    whole.sheet("Events")  # parsed whole first: rows_where filters the typed rows

    def seen(rows: list[Any]) -> list[Any]:
        return [(row.number, row.values, row.extra) for row in rows]

    return seen(sifted.rows_where("Events", field, wanted)), seen(whole.rows_where("Events", field, wanted))


@contextmanager
def _in_place(always: bool) -> Iterator[None]:
    """Kept rows handed to python-calamine at their own numbers however few (`always`), or as the sieve decides
    (renumbered 2, 3, ... unless there are hundreds of them)."""
    from tracker.workbook import row_scan

    if not always:
        yield
        return
    with mock.patch.object(row_scan, "IN_PLACE", 1), mock.patch.object(row_scan, "SPREAD", 10**9):
        yield


@EXAMPLES
@given(
    **WORKBOOKS,
    wanted=st.sampled_from(["open", "one ID", "two IDs"]),
    in_place=st.booleans(),
)
def test_some_rows_read_by_the_sieve_are_the_rows_a_whole_read_gives(
    tmp_path: Path, rows: list[tuple[Any, Any, bool]], writer: str, shape: str, rich: bool, wanted: str, in_place: bool
) -> None:
    """Whichever way the kept rows go to python-calamine: renumbered (a few rows) or at their own numbers."""
    path = tmp_path / f"{writer}.xlsx"
    WRITERS[writer](path, rows, rich)
    _rewrite(path, SHAPES[shape])
    field, values = {
        "open": ("status", OPEN),
        "one ID": ("id", {"evt-1"}),
        "two IDs": ("id", {"evt-1", "evt-10"}),
    }[wanted]
    with _in_place(in_place):
        sifted, whole = _both_ways(path, field, values)
    assert sifted == whole


def test_hundreds_of_rows_kept_are_read_where_they_are_as_a_whole_read_reads_them(tmp_path: Path) -> None:
    """Hundreds of rows kept (an Updates status a third of the sheet holds; `list` of many open events) go to
    python-calamine at their own numbers: renumbering each cell of 10,000 rows cost more than parsing them. The rows
    are what a whole read of the sheet gives."""
    from bench.rowgen import write_workbook
    from tracker.workbook.row_scan import IN_PLACE

    path = tmp_path / "events.xlsx"
    write_workbook(600, path)
    sifted, whole = read_tracker(path, SCHEMA), read_tracker(path, SCHEMA)
    sifted.prefetch("Updates")
    whole.sheet("Updates")  # parsed whole first: rows_where filters the typed rows
    for status in ({"resolved"}, {"resolved", "closed"}):
        found = [(r.number, r.values) for r in sifted.rows_where("Updates", "status", status)]
        assert len(found) >= IN_PLACE
        assert found == [(r.number, r.values) for r in whole.rows_where("Updates", "status", status)]


def test_hundreds_of_rows_kept_whose_cells_sit_on_other_rows_are_read_whole(tmp_path: Path) -> None:
    """A hand-made sheet whose Title cells are each written inside the row above (`<row r="3">...<c r="E4">`):
    python-calamine puts each on its own address, so a row kept by its status gets its title from a row the scan did
    not keep. Hundreds of rows kept, handed to python-calamine at their own numbers, must still be what a whole read
    gives: the sheet is read whole, as when a few are renumbered."""
    path = tmp_path / "events.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Events"
    sheet.append(HEADERS)
    for number in range(2, 1202):
        sheet.cell(number, ID_COLUMN + 1, f"EVT-{number}")
        sheet.cell(number, STATUS_COLUMN + 1, "Investigating" if number % 2 == 0 else "Closed")
        sheet.cell(number, TITLE_COLUMN + 1, f"title of row {number - 1}")
    book.save(path)
    title = get_column_letter(TITLE_COLUMN + 1).encode()

    def one_row_up(xml: bytes) -> bytes:  # each row's title cell moved to the end of the row above it
        head, rows, tail = _data_rows(xml)
        cells = [None] + [re.search(rb'<c r="%s\d+".*?</c>' % title, row, re.S) for row in rows[1:]]  # not the header
        moved = [row.replace(cell[0], b"") if cell else row for row, cell in zip(rows, cells, strict=True)]
        for index in range(1, len(rows) - 1):
            below = cells[index + 1]
            if below is not None:
                moved[index] = moved[index].replace(b"</row>", below[0] + b"</row>")
        return head + b"".join(moved) + tail

    _rewrite(path, one_row_up)
    sifted, whole = _both_ways(path, "status", {"investigating"})
    assert len(whole) == 600 and sifted == whole
    assert whole[1][1]["title"] == "title of row 3"


@pytest.mark.parametrize("window", [None, 150])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_show_and_list_open_see_every_matching_row_however_written(
    tmp_path: Path, writer: str, window: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fixed case with every awkward key cell at once, in each writer and shape: nothing is lost or added. The scan
    reads a big sheet a megabyte at a time; with a window of 150 bytes these small sheets are read in many too, each
    cut where a row begins."""
    from tracker.workbook.sieve import SheetSieve

    if window is not None:
        monkeypatch.setattr("tracker.workbook.row_scan.WINDOW", window)
    rows = [
        ("EVT-1", "Investigating", False),
        (" evt-1 ", " IDENTIFIED ", False),
        ("EVT-2", "Resolved", False),
        ("EVT-3", None, True),
        ("Evt-10", "Monitoring", False),
        ("EVT-1&2", "Mon<itoring", False),
        ("_x0041_", "Inveſtigating", False),
        (1, datetime(2030, 1, 2, 3, 4, 5), False),
        ("EVT-11", "Closed", False),
    ]
    for shape, change in SHAPES.items():
        path = tmp_path / f"{writer}-{shape}.xlsx"
        WRITERS[writer](path, rows, True)
        _rewrite(path, change)
        for field, values in (("status", OPEN), ("id", {"evt-1"}), ("id", {"evt-10", "evt-2"})):
            sifted, whole = _both_ways(path, field, values)
            assert sifted == whole, (shape, field, values)
            assert whole or field == "id", shape  # every shape still holds open events
        if shape == "as written":  # read by the sieve, not handed to the whole read
            column = {"status": STATUS_COLUMN, "id": ID_COLUMN}
            assert SheetSieve(path).rows("Events", column[field], values) is not None


def test_an_event_looked_up_by_the_sieve_is_refused_when_two_rows_hold_its_id(tmp_path: Path) -> None:
    """`tracker show ID` reads only the rows holding the ID; two of them are still named, as a whole read names
    them."""
    path = tmp_path / "twice.xlsx"
    _openpyxl(path, [("EVT-1", "Investigating", False), ("evt-1 ", "Identified", False)], False)
    messages = []
    for declared in (True, False):
        tracker = read_tracker(path, SCHEMA)
        if declared:
            tracker.prefetch("Events")
        with pytest.raises(Exception) as refused:
            tracker.event("EVT-1")
        messages.append(str(refused.value))
    assert messages[0] == messages[1]
    assert "Events!A2 and Events!A3 all hold the ID 'EVT-1'" in messages[0]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_the_sieve_answers_for_the_files_people_have_and_steps_aside_for_the_rest(tmp_path: Path, writer: str) -> None:
    """The comparisons above would pass if the sieve never answered: it does answer for files as Excel's libraries
    write them, and hands over to the whole-sheet read (None) for rows it could not place."""
    from tracker.workbook.sieve import SheetSieve

    answered = {}
    for shape, change in SHAPES.items():
        path = tmp_path / f"{shape}.xlsx"
        WRITERS[writer](path, [("EVT-1", "Investigating", False), ("EVT-2", "Closed", False)], False)
        _rewrite(path, change)
        found = SheetSieve(path).rows("Events", STATUS_COLUMN, OPEN)
        answered[shape] = None if found is None else [number for number, _ in found]
    assert answered["as written"] == [1, 2]  # the header and the open event, not the closed one
    assert answered["address last"] is None  # cells written another way: python-calamine places them
    assert answered["rows without address"] is None
    assert answered["prefixed"] is None
    assert answered["pretty-printed"] == [1, 2]
    assert answered["key cells twice"] is None  # a second cell of the column: python-calamine shows the last
    assert answered["key cells a row early"] is None


# The forms a key cell is written in, each as its writer puts it: the scan decides some of them itself without decoding
# (plain inline text, a shared string's index), the rest as it decodes them; the forms just outside the plain one (text
# kept with xml:space, entities, one more attribute, a formula's cached text) must be read as carefully.
FORMS = {
    "inline": '<c r="{ref}" s="0" t="inlineStr"><is><t>{text}</t></is></c>',
    "inline without style": '<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>',
    "inline preserved": '<c r="{ref}" s="0" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>',
    "inline as entities": '<c r="{ref}" s="0" t="inlineStr"><is><t>{entities}</t></is></c>',
    "inline, one more attribute": '<c r="{ref}" s="0" t="inlineStr" ph="1"><is><t>{text}</t></is></c>',
    "shared": '<c r="{ref}" s="0" t="s"><v>{index}</v></c>',
    "shared without style": '<c r="{ref}" t="s"><v>{index}</v></c>',
    "formula text": '<c r="{ref}" t="str"><f>"x"</f><v>{text}</v></c>',
}
# Cells of the column between the ID and the status: the scan steps over them to reach the status.
BETWEEN = [
    "",
    '<c r="{ref}" s="0" />',
    '<c r="{ref}"><v>3</v></c>',
    '<c r="{ref}" t="inlineStr"><is><r><t>a</t></r><r><rPr><b/><color rgb="FF0000FF"/></rPr><t>&lt;/c&gt;b</t></r></is></c>',
]
# Key text near the scan's edges: spaces and other characters str.strip() removes (\x1c, \x85, no-break space), mixed
# case, letters that case-fold to ASCII (long s, Kelvin sign), Excel's _xHHHH_ escapes, markup characters.
EDGE_TEXTS = [
    *["EVT-1", "evt-1", " Evt-1 ", "EVT-1\x1c", "\x1cevt-1", "\xa0EVT-1\x85", "EVT_x002D_1", "_x0045_VT-1", "EVT-1&"],
    *["KS-1", "\u212a\u017f-1", "k\u017f-1", "EVT-11", "evt-1\t", "EVT-\r1", "KS_1", "EVT-1 ", "evt-1 x", ""],
    *[" INVESTIGATING ", "Identified\x1f", "Monitoring\t", "Closed", "identified", "MONITORINg", "Inve\u017ftigating"],
]
KEY_TEXTS = st.one_of(
    st.sampled_from(EDGE_TEXTS), st.text(alphabet=" EVTevt-1_x0KkSs\u212a\u017f\x1c\x85\xa0\t&<", max_size=8)
)
KEY_CELL = st.tuples(KEY_TEXTS, st.sampled_from(sorted(FORMS)))


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _written_cells(path: Path, rows: list[tuple[tuple[str, str], str, tuple[str, str]]]) -> None:
    """An Events sheet whose ID and status cells are written in the FORMS given, the cells between them as BETWEEN
    says (its sheet XML and shared strings written here, the rest of the file by xlsxwriter)."""
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("Events").write_row(0, 0, HEADERS)
    book.close()
    shared: list[str] = []
    xml = ['<row r="1">']
    xml += [_cell(get_column_letter(n + 1) + "1", title, "inline", shared) for n, title in enumerate(HEADERS)]
    xml.append("</row>")
    for number, ((key, key_form), between, (status, status_form)) in enumerate(rows, start=2):
        xml.append(f'<row r="{number}">{_cell(f"A{number}", key, key_form, shared)}')
        xml.append(between.format(ref=f"{get_column_letter(STATUS_COLUMN)}{number}"))
        xml.append(f"{_cell(get_column_letter(STATUS_COLUMN + 1) + str(number), status, status_form, shared)}</row>")
    items = "".join(f'<si><t xml:space="preserve">{_escaped(text)}</t></si>' for text in shared)

    def change(name: str, part: bytes) -> bytes:
        if name.endswith("sharedStrings.xml"):
            return re.sub(rb"<si>.*</si>", items.encode(), part, flags=re.S)
        if name.startswith("xl/worksheets/"):
            return re.sub(
                rb"<sheetData>.*</sheetData>", f"<sheetData>{''.join(xml)}</sheetData>".encode(), part, flags=re.S
            )
        return part

    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: change(info.filename, archive.read(info.filename)) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def _cell(ref: str, text: str, form: str, shared: list[str]) -> str:
    shared.append(text)
    entities = "".join(f"&#{ord(c)};" if c in "-Ee" else _escaped(c) for c in text)
    return FORMS[form].format(ref=ref, text=_escaped(text), entities=entities, index=len(shared) - 1)


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(KEY_CELL, st.sampled_from(BETWEEN), KEY_CELL), max_size=10))
def test_each_form_of_a_key_cell_is_read_as_a_whole_read_reads_it(
    tmp_path: Path, rows: list[tuple[tuple[str, str], str, tuple[str, str]]]
) -> None:
    """The scan decides plain text and shared strings without decoding them: whatever the text, in whatever form it
    is written, it keeps every row a whole-sheet read shows holding a wanted value, and it does answer."""
    from tracker.workbook.sieve import SheetSieve

    path = tmp_path / "forms.xlsx"
    _written_cells(path, rows)
    for field, column, values in (("id", ID_COLUMN, {"evt-1", "ks-1"}), ("status", STATUS_COLUMN, OPEN)):
        sifted, whole = _both_ways(path, field, values)
        assert sifted == whole, field
        assert SheetSieve(path).rows("Events", column, values) is not None, field


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_edge_text_in_every_form_is_read_as_a_whole_read_reads_it(tmp_path: Path, form: str) -> None:
    """Each of the texts near the scan's edges, as an ID and as a status, in each form: the rows kept are the rows a
    whole read keeps (the hypothesis case above mixes them; this one sees every pair, every run)."""
    from tracker.workbook.sieve import SheetSieve

    path = tmp_path / "edges.xlsx"
    _written_cells(
        path, [((text, form), BETWEEN[number % len(BETWEEN)], (text, form)) for number, text in enumerate(EDGE_TEXTS)]
    )
    for field, column, values in (("id", ID_COLUMN, {"evt-1", "ks-1"}), ("status", STATUS_COLUMN, OPEN)):
        sifted, whole = _both_ways(path, field, values)
        assert sifted == whole, field
        assert whole, field  # some rows of each form hold a wanted value
        assert SheetSieve(path).rows("Events", column, values) is not None, field


def _panicking(folder: Path, cells: dict[tuple[int, int], Any] | None = None) -> Path:
    """Events with EVT-1 on row 2 and EVT-2 on row 3, whose Detected cell holds a date serial python-calamine
    panics on (-10^15, date-formatted), and any other `cells` ((row, 1-based column) -> value)."""
    path = folder / "events.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Events"
    sheet.append(HEADERS)
    for number, key in ((2, "EVT-1"), (3, "EVT-2")):
        sheet.cell(number, ID_COLUMN + 1, key)
        sheet.cell(number, TITLE_COLUMN + 1, f"row {number}")
    for (row, column), value in (cells or {}).items():
        sheet.cell(row, column, value)
    sheet.cell(3, HEADERS.index("Detected (UTC)") + 1, -1e15).number_format = "yyyy-mm-dd hh:mm"
    book.save(path)
    return path


def test_a_row_python_calamine_panics_on_is_read_as_the_whole_read_reads_it(tmp_path: Path) -> None:
    """A date serial python-calamine cannot turn into a time (-10^15 in a date-formatted cell: it panics, a
    BaseException) in a row the scan keeps: the read falls back to the whole sheet, as a whole read does, instead of
    failing (found by the fuzz suite on another day's clock)."""
    path = _panicking(tmp_path)
    sifted, whole = _both_ways(path, "id", {"evt-2"})
    assert sifted == whole and len(whole) == 1


def test_an_excel_error_reads_empty_in_a_sheet_python_calamine_panics_on_as_in_the_rows_the_sieve_keeps(
    tmp_path: Path,
) -> None:
    """A date serial python-calamine panics on in a row the scan does not keep, and #N/A in a row it keeps: the
    whole read falls back to openpyxl, which used to read the error cell as the text "#N/A" where python-calamine,
    reading the kept rows, reads it empty; `show` printed "Sites Affected #N/A" or nothing depending on the path.
    Both read it empty now (validate names the error from the file)."""
    sites = HEADERS.index(EVENTS.fields["sites_affected"].title) + 1
    path = _panicking(tmp_path, {(2, sites): "PLACEHOLDER"})
    address = f"{openpyxl.utils.get_column_letter(sites)}2"
    _rewrite(
        path,
        lambda xml: re.sub(
            rf'<c r="{address}"[^>]*>.*?</c>'.encode(),
            f'<c r="{address}" t="e"><v>#N/A</v></c>'.encode(),
            xml,
            count=1,
            flags=re.S,
        ),
    )
    sifted, whole = _both_ways(path, "id", {"evt-1"})
    assert sifted == whole and len(whole) == 1
    assert whole[0][1]["sites_affected"] is None
    assert read_tracker(path, SCHEMA).excel_error("Events", "sites_affected", 2) == "#N/A"


def _keys_both_ways(path: Path, wanted: set[str]) -> tuple[list[str], list[str], Any]:
    """Tracker.keys_where (the IDs of the rows whose status is wanted) read from the XML (the command said it reads
    some rows of the sheet) and from a whole-sheet read; and what the sieve itself answered (None: read whole)."""
    from tracker.workbook.sieve import SheetSieve

    sifted, whole = read_tracker(path, SCHEMA), read_tracker(path, SCHEMA)
    sifted.prefetch("Events")
    whole.sheet("Events")
    answered = SheetSieve(path).keys_where("Events", ID_COLUMN, STATUS_COLUMN, wanted)
    return (
        sifted.keys_where("Events", "id", "status", wanted),
        whole.keys_where("Events", "id", "status", wanted),
        answered,
    )


@EXAMPLES
@given(
    **WORKBOOKS,
    wanted=st.sampled_from([OPEN, {"resolved"}, {"closed", "resolved"}]),
)
def test_keys_counted_from_the_xml_are_the_keys_a_whole_read_counts(
    tmp_path: Path, rows: list[tuple[Any, Any, bool]], writer: str, shape: str, rich: bool, wanted: set[str]
) -> None:
    """`tracker report` counts each event's resolutions from the Updates XML (Tracker.keys_where): whatever the cells
    hold and however the file is written, the IDs counted are the IDs a whole read of the sheet counts, in row
    order, or the sieve steps aside and the sheet is read whole."""
    path = tmp_path / f"{writer}.xlsx"
    WRITERS[writer](path, rows, rich)
    _rewrite(path, SHAPES[shape])
    sifted, whole, answered = _keys_both_ways(path, wanted)
    assert sifted == whole
    assert answered is None or answered == whole


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(KEY_CELL, st.sampled_from(BETWEEN), KEY_CELL), max_size=10))
def test_keys_of_each_form_of_cell_are_counted_as_a_whole_read_counts_them(
    tmp_path: Path, rows: list[tuple[tuple[str, str], str, tuple[str, str]]]
) -> None:
    """The ID and the status in every form a writer puts them in, with the texts near the scan's edges."""
    path = tmp_path / "forms.xlsx"
    _written_cells(path, rows)
    sifted, whole, answered = _keys_both_ways(path, OPEN)
    assert sifted == whole
    assert answered is None or answered == whole


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_keys_are_read_from_the_files_people_have_and_left_to_the_whole_read_for_the_rest(
    tmp_path: Path, writer: str
) -> None:
    """The comparisons above would pass if the sieve never answered: it answers for a file as tracker, openpyxl
    (plain inline text) and Excel's libraries (shared strings) write it, and steps aside for cells it cannot place as
    python-calamine does (the address after other attributes, a second cell of the column on a row)."""
    rows = [("EVT-1", "Resolved", False), ("EVT-2", "Investigating", False), (" evt-1", "resolved ", False)]
    answered = {}
    for shape in ("as written", "pretty-printed", "address last", "key cells twice", "prefixed", "CDATA"):
        path = tmp_path / f"{shape}.xlsx"
        WRITERS[writer](path, rows, False)
        _rewrite(path, SHAPES[shape])
        answered[shape] = _keys_both_ways(path, {"resolved"})[2]
    assert answered["as written"] == answered["pretty-printed"] == ["evt-1", "evt-1"]
    assert [answered[shape] for shape in ("address last", "key cells twice", "prefixed")] == [None] * 3
    assert answered["CDATA"] is None or writer == "xlsxwriter"  # (its text is in shared strings: no CDATA written)


def test_keys_are_counted_the_same_from_a_workbook_downloaded_as_bytes(tmp_path: Path) -> None:
    """On SharePoint the workbook is read from the bytes downloaded, not a file: the counts a report reads from the
    XML are the same there, and come from the XML (the sieve answers)."""
    from bench.rowgen import write_workbook
    from tracker.workbook.sieve import SheetSieve

    path = tmp_path / "events.xlsx"
    write_workbook(300, path)
    data = path.read_bytes()
    downloaded, whole = read_tracker(path, SCHEMA, data=data), read_tracker(path, SCHEMA)
    downloaded.prefetch("Updates")
    whole.sheet("Updates")
    keys = downloaded.keys_where("Updates", "event_id", "status", {"resolved"})
    assert keys == whole.keys_where("Updates", "event_id", "status", {"resolved"})
    assert len(keys) > 100
    columns = whole.layout("Updates").columns
    assert SheetSieve(data).keys_where("Updates", columns["event_id"], columns["status"], {"resolved"}) == keys

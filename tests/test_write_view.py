"""A write's view of a big workbook (issue 23): `tracker update` looks at a few rows of the Events and Updates sheets
(the event it changes, whether anyone typed a row to apply, the last row), so a local write finds them in the sheet
XML (tracker.workbook.sieve) and parses a sheet whole only when something needs every row. Whatever the file holds,
every answer must be the one a whole-sheet read gives: the last row (a new row goes below it), the row holding an ID,
whether a row waits to be applied, and every row once something asks for all of them."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import suite_clock
from tests.test_sieve import EXAMPLES, SCHEMA, SHAPES, STATUS_COLUMN, WORKBOOKS, WRITERS, _rewrite
from tracker.workbook.opening import read_tracker


def _styled_empty_rows(xml: bytes, count: int) -> bytes:
    """`count` rows below the last holding only styled empty cells (as Excel leaves a formatted table area)."""
    numbers = [int(n) for n in re.findall(rb'<row r="(\d+)"', xml)] or [1]
    start = max(numbers) + 1
    rows = b"".join(
        b'<row r="%d"><c r="A%d" s="1"/><c r="B%d" s="1"/></row>' % (n, n, n) for n in range(start, start + count)
    )
    return xml.replace(b"</sheetData>", rows + b"</sheetData>", 1)


TAILS = {"none": 0, "a few": 3, "more than the tail read": 60}


def _views(path: Path) -> tuple[Any, Any]:
    """Events as a write sees it (some rows) and as a whole-sheet read does."""
    few = read_tracker(path, SCHEMA)
    few.some_rows("Events")
    return few.sheet("Events"), read_tracker(path, SCHEMA).sheet("Events")


def _seen(rows: list[Any]) -> list[Any]:
    return [(row.number, row.values, row.extra) for row in rows]


@EXAMPLES
@given(
    **WORKBOOKS,
    tail=st.sampled_from(sorted(TAILS)),
)
def test_a_write_sees_a_few_rows_as_a_whole_read_does(
    tmp_path: Path, rows: list[tuple[Any, Any, bool]], writer: str, shape: str, rich: bool, tail: str
) -> None:
    path = tmp_path / f"{writer}.xlsx"
    WRITERS[writer](path, rows, rich)
    _rewrite(path, lambda xml: _styled_empty_rows(SHAPES[shape](xml), TAILS[tail]))
    few, whole = _views(path)
    assert few.last_row == whole.last_row
    for filled, empty in ((("title",), "id"), (("id",), "status"), (("status",), "title")):
        assert few.may_hold(filled, empty) == whole.may_hold(filled, empty), (filled, empty)
    for key in ("EVT-1", "evt-10", " EVT-1", "EVT-3"):
        found, expected = few.find(key), whole.find(key)
        assert _seen([found] if found else []) == _seen([expected] if expected else []), key
    assert _seen(few.where("id", {"evt-1", "evt-2"})) == _seen(whole.where("id", {"evt-1", "evt-2"}))
    assert _seen(few.rows) == _seen(whole.rows)  # parsed whole at last: the same rows, the same last row
    assert few.last_row == whole.last_row


def test_a_write_finds_its_rows_without_parsing_the_sheet_and_the_view_keeps_its_changes(tmp_path: Path) -> None:
    """On a file as Excel's libraries write it the rows are found in the XML (the sheet stays unparsed); a row the
    view changed or added is what later lookups and the whole read show."""
    from tracker.workbook.sheet_data import Row

    path = tmp_path / "events.xlsx"
    WRITERS["openpyxl"](path, [("EVT-1", "Investigating", False), ("EVT-2", "Closed", False)], False)
    few, whole = _views(path)
    assert few.last_row == whole.last_row == 3
    assert not few.may_hold(("title",), "id")
    event = few.find("evt-1")
    assert event is not None and event.number == 2 and few._load is not None  # not parsed whole
    event.values["status"] = "Monitoring"  # as the engine shows an edit in the view
    few.add(Row(4, {"id": "EVT-3", "status": "Investigating", "title": "new"}))
    assert few.find("EVT-1") is event and few.find("EVT-3").number == 4 and few.last_row == 4
    assert few._load is not None
    assert [(r.number, r["status"]) for r in few.rows] == [(2, "Monitoring"), (3, "Closed"), (4, "Investigating")]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_row_typed_without_an_id_is_seen_by_a_write(tmp_path: Path, writer: str) -> None:
    """A report typed on the Events sheet (a title, no ID) is what the typed-row check looks for: a write that reads
    a few rows sees it, whichever library wrote the file."""
    path = tmp_path / "typed.xlsx"
    WRITERS[writer](path, [("EVT-1", "Investigating", False), (None, None, False)], False)
    few, whole = _views(path)
    assert few.may_hold(("title",), "id") and whole.may_hold(("title",), "id")
    assert few._load is not None  # answered from the XML


BLANKISH = [None, "", " ", "#N/A", "#DIV/0!", 0, 1.5, False, True, datetime(2030, 1, 2), "EVT-1", "_x0041_", "a&b"]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_whether_a_row_waits_is_told_from_each_kind_of_cell_as_a_whole_read_tells_it(
    tmp_path: Path, writer: str
) -> None:
    """The typed-row check asks whether some row has a title and no ID: an ID cell that reads as empty (none, empty
    text, an Excel error) says yes, one holding anything else says no, however the file spells the cell."""
    for value in BLANKISH:
        for shape, change in SHAPES.items():
            path = tmp_path / f"{shape}.xlsx"
            WRITERS[writer](path, [(value, "Investigating", False)], True)
            _rewrite(path, change)
            few, whole = _views(path)
            asked = (("title",), "id")
            assert few.may_hold(*asked) == whole.may_hold(*asked), (value, shape)


YEAR = suite_clock.NOW.year  # the suite's (pinned) year: the ID's year is the one asked for, never the machine's
THIS, OTHER = f"EVT-{YEAR}-", f"EVT-{YEAR - 1}-"
FULLWIDTH = str.maketrans("0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19")
# What an ID cell may hold when a new event's ID is worked out: this year's and last year's IDs in any case and with
# spaces around; digits the regular expression takes that are not ASCII (fullwidth, Arabic-Indic); text with an
# entity, an Excel escape or a character that folds to ASCII; numbers, dates, booleans, empty cells.
AWKWARD_IDS = [
    f"{THIS}\uff10\uff17\uff17",
    f"EVT-{str(YEAR).translate(FULLWIDTH)}-0900",
    f"{THIS}\u0661\u0662",
    f"{THIS}0042 ",
    f"{THIS}00&4",
    f"{THIS}1_x0030_",
    f"{THIS}99x",
    f"EVT-{YEAR}_x002D_0500",
    f"\u212aEVT-{YEAR}-0700",
    f"EVT-{YEAR}0800",
    "EVT-1",
]
ID_CELLS = st.one_of(
    st.builds(
        lambda head, n: f"{head}{n:04d}",
        st.sampled_from([THIS, OTHER, THIS.lower(), f" {THIS}"]),
        st.integers(0, 12000),
    ),
    st.sampled_from(AWKWARD_IDS),
    st.sampled_from([None, "", " ", 1, 7e3, True, datetime(2030, 1, 2, 3, 4, 5), "#N/A"]),
)


@EXAMPLES
@given(
    ids=st.lists(st.tuples(ID_CELLS, st.just("Closed"), st.booleans()), max_size=12),
    writer=st.sampled_from(sorted(WRITERS)),
    shape=st.sampled_from(sorted(SHAPES)),
    rich=st.booleans(),
)
def test_a_new_event_gets_the_id_a_whole_read_gives(
    tmp_path: Path, ids: list[tuple[Any, Any, bool]], writer: str, shape: str, rich: bool
) -> None:
    """`tracker open` works out the next ID from the IDs of the year read from the XML, without parsing Events: the
    same ID a whole read gives, however the file spells each ID cell."""
    from tracker.rules.events import next_event_id

    path = tmp_path / f"{writer}.xlsx"
    WRITERS[writer](path, ids, rich)
    _rewrite(path, SHAPES[shape])
    few = read_tracker(path, SCHEMA)
    few.some_rows("Events")
    assert next_event_id(few, YEAR) == next_event_id(read_tracker(path, SCHEMA), YEAR)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_new_event_id_is_worked_out_without_parsing_the_events(tmp_path: Path, writer: str) -> None:
    """On a file as the libraries write it, the next ID comes from the ID cells in the XML: Events is not parsed,
    and an ID typed in the view (a row the same write added) counts."""
    from tracker.rules.events import next_event_id
    from tracker.workbook.sheet_data import Row

    path = tmp_path / "events.xlsx"
    WRITERS[writer](path, [(f"{THIS}0041", "Closed", False), (f"{OTHER}0100", "Closed", False)], False)
    few = read_tracker(path, SCHEMA)
    few.some_rows("Events")
    assert next_event_id(few, YEAR) == f"{THIS}0042"
    events = few.sheet("Events")
    assert events._load is not None  # still unparsed
    events._added.append(Row(9, {"id": f"{THIS}0050"}))
    assert next_event_id(few, YEAR) == f"{THIS}0051"
    assert next_event_id(few, YEAR, taken=[f"{THIS}0060"]) == f"{THIS}0061"


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("awkward", AWKWARD_IDS)
def test_each_awkward_id_counts_for_the_next_id_as_a_whole_read_counts_it(
    tmp_path: Path, writer: str, awkward: str
) -> None:
    """Each ID spelling alone beside a plain one: digits that are not ASCII (in the year too), escapes, entities."""
    from tracker.rules.events import next_event_id

    for rich in (False, True):
        path = tmp_path / f"{rich}.xlsx"
        WRITERS[writer](path, [(f"{THIS}0001", "Closed", False), (awkward, "Closed", False)], rich)
        few = read_tracker(path, SCHEMA)
        few.some_rows("Events")
        assert next_event_id(few, YEAR) == next_event_id(read_tracker(path, SCHEMA), YEAR), (awkward, rich)


def _status_cell_moved(xml: bytes) -> bytes:
    """Row 3's Status cell taken out and put in row 2 addressed to row 9: as many Status cells as rows, but row 3
    has none (python-calamine places the moved cell on a row 9 of its own)."""
    cell = re.search(rb'<c r="D3"[^>]*>.*?</c>', xml)
    assert cell is not None
    moved = cell[0].replace(b'r="D3"', b'r="D9"')
    xml = xml.replace(cell[0], b"", 1)
    return re.sub(rb'(<row r="2"[^>]*>.*?)(</row>)', lambda m: m[1] + moved + m[2], xml, count=1, flags=re.S)


COUNTED_CASES = {
    "every status written": ("openpyxl", [("EVT-1", "Closed", False), ("EVT-2", "Investigating", False)], None),
    "a status of spaces, shared": ("xlsxwriter", [("EVT-1", "Closed", False), ("EVT-2", "   ", False)], None),
    "a status shared, every one written": (
        "xlsxwriter",
        [("EVT-1", "Closed", False), ("EVT-2", "Closed", False)],
        None,
    ),
    "a status cell on another row": (
        "openpyxl",
        [("EVT-1", "Closed", False), ("EVT-2", "Closed", False), ("EVT-3", "Closed", False)],
        _status_cell_moved,
    ),
    "a row without a status": ("openpyxl", [("EVT-1", "Closed", False), ("EVT-2", None, False)], None),
    "a second status cell, empty, spelt otherwise": (
        "openpyxl",
        [("EVT-1", "Closed", False), ("EVT-2", "Closed", False)],
        lambda xml: re.sub(rb'(<row r="2"[^>]*>.*?)(</row>)', rb'\1<c s="0" r="D2"/>\2', xml, count=1, flags=re.S),
    ),
}


@pytest.mark.parametrize("case", sorted(COUNTED_CASES))
def test_whether_a_column_far_in_the_row_has_an_empty_cell_is_told_by_counting_as_a_whole_read_tells_it(
    tmp_path: Path, case: str
) -> None:
    """From the fourth column on (Updates' Applied is the ninth), a write first counts the rows and the column's
    visible cells instead of stepping over each row's cells: when every row has one, no row waits; a cell that only
    looks filled (spaces in a shared string) or sits on another row's number sends it to the row-by-row look."""
    writer, rows, change = COUNTED_CASES[case]
    path = tmp_path / "events.xlsx"
    WRITERS[writer](path, rows, False)
    if change is not None:
        _rewrite(path, change)
    tracker = read_tracker(path, SCHEMA)
    tracker.some_rows("Events")
    asked = (("title",), "status")
    assert tracker.sheet("Events").may_hold(*asked) == read_tracker(path, SCHEMA).sheet("Events").may_hold(*asked)
    if case.startswith("a second"):  # not counted, nor scanned: the sheet is read whole
        assert tracker.sheet("Events")._load is None
        return
    counted = not any(column == STATUS_COLUMN for _, column in tracker.sieve._scans)
    assert counted == case.startswith(("every", "a status shared")), case


def test_a_view_that_let_go_of_its_xml_for_the_patch_reads_it_again_when_asked(tmp_path: Path) -> None:
    """A write lets go of its view's XML and scans before it patches (a few hundred MB on a big workbook); anything
    asked of the view afterwards is read again, and answered as a whole read answers it."""
    path = tmp_path / "events.xlsx"
    WRITERS["openpyxl"](
        path, [("EVT-1", "Closed", False), ("EVT-2", "Investigating", False), (None, "Closed", False)], False
    )
    tracker = read_tracker(path, SCHEMA)
    tracker.some_rows("Events")
    events, whole = tracker.sheet("Events"), read_tracker(path, SCHEMA).sheet("Events")
    assert _seen(events.where("id", {"evt-2"})) == _seen(whole.where("id", {"evt-2"}))
    tracker.sieve.forget()
    assert tracker.sieve._scans == {} and set(tracker.sieve._keep.values()) == {None}
    assert events.may_hold(("title",), "id") == whole.may_hold(("title",), "id") is True
    assert _seen(events.where("id", {"evt-1"})) == _seen(whole.where("id", {"evt-1"}))


# A second cell on row 2's ID address, spelt so that no count of `<c r="A...` cells sees it: python-calamine keeps the
# last cell on an address, so its ID is the row's (found by a review of `SheetSieve.texts`)
SECOND_SPELLINGS = {
    "single quotes": b"<c r='A2' t=\"inlineStr\"><is><t>%s</t></is></c>",
    "style before the address": b'<c s="0" r="A2" t="inlineStr"><is><t>%s</t></is></c>',
    "two spaces": b'<c  r="A2" t="inlineStr"><is><t>%s</t></is></c>',
    "lower-case column": b'<c r="a2" t="inlineStr"><is><t>%s</t></is></c>',
}


@pytest.mark.parametrize("spelling", sorted(SECOND_SPELLINGS))
def test_an_id_cell_written_twice_otherwise_counts_as_a_whole_read_counts_it(tmp_path: Path, spelling: str) -> None:
    """The next ID is never one the whole read sees in use, however a second cell on an ID's address is spelt."""
    from tracker.rules.events import next_event_id

    cell = SECOND_SPELLINGS[spelling] % f"{THIS}0003".encode()
    path = tmp_path / "events.xlsx"
    WRITERS["openpyxl"](path, [(f"{THIS}0001", "Closed", False), (f"{THIS}0002", "Closed", False)], False)
    row_two = re.compile(rb'(<row r="2"[^>]*>.*?)(</row>)', re.S)
    _rewrite(path, lambda xml: row_two.sub(lambda m: m[1] + cell + m[2], xml, count=1))
    few = read_tracker(path, SCHEMA)
    few.some_rows("Events")
    assert next_event_id(few, YEAR) == next_event_id(read_tracker(path, SCHEMA), YEAR) == f"{THIS}0004"


def test_a_write_does_not_take_early_sheets_when_the_file_is_saved_again_as_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write takes the file's signature, then reads its bytes: a save by someone else in between (an atomic
    replace) makes the bytes another file's, so the XML inflated as the command began is not taken with them."""
    import os

    from tracker.store.local import LocalStore
    from tracker.workbook import sieve

    path, newer = tmp_path / "events.xlsx", tmp_path / "newer.xlsx"
    WRITERS["xlsxwriter"](path, [(f"{THIS}0001", "Closed", False)], False)
    WRITERS["xlsxwriter"](newer, [(f"{THIS}0002", "Investigating", False), (f"{THIS}0001", "Closed", False)], False)
    sieve.prefetch_file(path, ("Events", "Updates"))
    reading = Path.read_bytes

    def saved_meanwhile(self: Path) -> bytes:  # another machine's save lands between the signature and the read
        if self == path and newer.exists():
            os.replace(newer, path)
        return reading(self)

    monkeypatch.setattr(Path, "read_bytes", saved_meanwhile)
    snapshot = LocalStore(path, SCHEMA).snapshot()
    found = snapshot.tracker.sheet("Events").find(f"{THIS}0001")
    assert found is not None and found.number == 3


# The same second cells on row 2's status and ID addresses, for the rows a write finds (the event it changes, whether a
# typed row waits): each must be the row a whole read has (a read of some rows does not look: see SheetSieve._addressed)
@pytest.mark.parametrize("spelling", sorted(SECOND_SPELLINGS))
@pytest.mark.parametrize("column", ["A", "D"])
def test_a_cell_written_twice_otherwise_is_read_as_a_whole_read_reads_it(
    tmp_path: Path, spelling: str, column: str
) -> None:
    """Row 2 holds EVT-1, Closed; a second cell on its ID (A) or status (D) address, spelt otherwise, says EVT-9 or
    Investigating. python-calamine keeps the last, so row 2 is EVT-9 or an open event to a whole read: the write's
    view must find it too (it read the first spelling alone before)."""
    value = b"EVT-9" if column == "A" else b"Investigating"
    cell = (
        SECOND_SPELLINGS[spelling].replace(b"A2", column.encode() + b"2").replace(b"a2", column.lower().encode() + b"2")
    )
    path = tmp_path / "events.xlsx"
    WRITERS["openpyxl"](path, [("EVT-1", "Closed", False), ("EVT-2", "Closed", False)], False)
    row_two = re.compile(rb'(<row r="2"[^>]*>.*?)(</row>)', re.S)
    _rewrite(path, lambda xml: row_two.sub(lambda m: m[1] + cell % value + m[2], xml, count=1))
    whole = read_tracker(path, SCHEMA)
    few = read_tracker(path, SCHEMA)
    few.some_rows("Events")
    if column == "A":
        assert _seen([few.sheet("Events").find("EVT-9")]) == _seen([whole.sheet("Events").find("EVT-9")])
    else:
        open_rows = whole.sheet("Events").where("status", {"investigating"})
        assert [row.number for row in open_rows] == [2]
        assert _seen(few.sheet("Events").where("status", {"investigating"})) == _seen(open_rows)


def _header_last(xml: bytes) -> bytes:
    """The header row's element moved below every other row (no program writes it so; a hand-made file may)."""
    start, end = xml.index(b"<sheetData>") + len(b"<sheetData>"), xml.index(b"</sheetData>")
    rows = re.findall(rb"<row\b.*?</row>|<row\b[^>]*/>", xml[start:end], re.S)
    assert b"".join(rows) == xml[start:end]
    return xml[:start] + b"".join(rows[1:]) + rows[0] + xml[end:]


def test_a_header_row_stored_after_hundreds_of_rows_is_read_as_a_whole_read_reads_it(tmp_path: Path) -> None:
    """Row 1 written after the rows below it, beyond the first bytes a write reads for the header: the view read
    the header as empty, so every column was "missing from the header row" and `update` refused to write."""
    path = tmp_path / "events.xlsx"
    WRITERS["openpyxl"](path, [(f"EVT-{n}", "Investigating", False) for n in range(1, 1500)], False)
    _rewrite(path, _header_last)
    few, whole = _views(path)
    assert few.columns == whole.columns and "id" in few.columns
    assert few.last_row == whole.last_row == 1500
    found, expected = few.find("EVT-700"), whole.find("EVT-700")
    assert found is not None and expected is not None and _seen([found]) == _seen([expected])


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("blank", [" ", "\u00a0", "\t "])
def test_a_cell_of_spaces_counts_as_empty_for_whether_a_row_waits(tmp_path: Path, writer: str, blank: str) -> None:
    """An ID (or Applied) cell holding only spaces reads as empty once typed, so its row waits to be taken in; the
    look at the raw cells said no such row (the space counted as filled), and `tracker sync` left the row alone
    unless another typed row opened the gate."""
    path = tmp_path / f"{writer}.xlsx"
    WRITERS[writer](path, [("EVT-1", "Investigating", False), (blank, "Investigating", False)], False)
    few, whole = _views(path)
    assert few.may_hold(("title",), "id") and whole.may_hold(("title",), "id")
    assert whole.rows[1].values["id"] is None  # (as typed: the rule the raw look must not contradict)


def test_sheets_inflated_as_a_write_began_are_not_taken_from_a_file_rewritten_in_place_since(tmp_path: Path) -> None:
    """The file rewritten in place after the command began inflating it, with its size, time and inode kept (a tool
    that keeps the time; a mount with coarse times or made-up inodes): the signature matched, so the write took the
    old sheet's XML and patched it into the new file, undoing the other person's change. Now an inflated part is
    taken only if the zip directory of the bytes read states it, CRC and sizes."""
    import os
    import zipfile

    from tracker import files
    from tracker.workbook import sieve

    old, new = tmp_path / "old.xlsx", tmp_path / "new.xlsx"
    WRITERS["openpyxl"](old, [("EVT-1", "Investigating", False)], False)
    WRITERS["openpyxl"](new, [("EVT-1", "Resolved", False)], False)
    for path, other in ((old, new), (new, old)):  # the same size: a zip comment pads the smaller one
        padding = other.stat().st_size - path.stat().st_size
        if padding > 0:
            with zipfile.ZipFile(path, "a") as archive:
                archive.comment = b" " * padding
    assert old.stat().st_size == new.stat().st_size
    path = tmp_path / "events.xlsx"
    path.write_bytes(old.read_bytes())
    sieve.prefetch_file(path, ("Events",))
    done, _box = sieve._EARLY[str(path.resolve())][1]._coming["Events"]
    done.wait()  # inflated from the old file
    before = path.stat()
    with open(path, "r+b") as handle:  # in place: the same inode
        handle.write(new.read_bytes())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    signature = files.signature(path)
    assert signature == (before.st_mtime_ns, before.st_size, before.st_ino)
    view = read_tracker(path, SCHEMA, data=path.read_bytes())
    view.sieve.adopt(path, signature)  # as the local store's snapshot does
    view.some_rows("Events")
    found = view.sheet("Events").find("EVT-1")
    assert found is not None and found.values["status"] == "Resolved"

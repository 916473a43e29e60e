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

from tests.test_sieve import EXAMPLES, ROWS, SCHEMA, SHAPES, WRITERS, _rewrite
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
    rows=ROWS,
    writer=st.sampled_from(sorted(WRITERS)),
    shape=st.sampled_from(sorted(SHAPES)),
    rich=st.booleans(),
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

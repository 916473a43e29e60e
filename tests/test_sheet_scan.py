"""The quick looks `tracker validate` takes at a sheet's XML (tracker.cells) give the answers of the plain searches they
replace, whatever the bytes."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tracker.cells import _ALL_BUT_CONTROL, _ENCODED, errors_in, may_hold_control
from tracker.store.xlsx_layout import MASTER_MARKER, _may_hold_masters


def reference_may_hold_control(xml: bytes) -> bool:
    """`may_hold_control` as it was written first: each search in turn."""
    if xml.translate(None, _ALL_BUT_CONTROL):
        return True
    if re.search(rb"\xc2[\x80-\x9f]", xml):
        return True
    if b"&#" in xml:
        return True
    if b"_x00" not in xml and b"_X00" not in xml:
        return False
    for reference, escape in _ENCODED.findall(xml):
        code = (int(reference[1:], 16) if reference[:1] == b"x" else int(reference)) if reference else int(escape, 16)
        if code < 0x20 and code not in (0x09, 0x0A, 0x0D) or 0x7F <= code <= 0x9F:
            return True
    return False


PIECES = st.sampled_from(
    [b"<c r=\"A1\" t=\"inlineStr\"><is><t>", b"</t></is></c>", b"_", b"x", b"X", b"0", b"00", b"1", b"f", b"_x00",
     b"_X00", b"_x0001_", b"_X001F_", b"_x0009_", b"_x007F_", b"_x0041_", b"_x00", b"&#", b"&#1;", b"&#x9;", b"#",
     b"\xc2\x85", b"\xc2\xa0", b"\xc2", b"\x01", b"\t", b"\n", b"\x7f", b"text", b"\xe2\x82\xac",
     b"a_b" * 40, b"_" * 70, b"snake_case_name"]
)  # fmt: skip


@settings(max_examples=600, deadline=None, database=None)
@given(st.lists(st.one_of(PIECES, st.binary(max_size=4)), max_size=12).map(b"".join))
@example(b"a_x0001_b")
@example(b"a_X000B_b")
@example(b"_x00 and _x0041_")
def test_may_hold_control_answers_as_the_plain_searches_do(xml: bytes) -> None:
    assert may_hold_control(xml) == reference_may_hold_control(xml)


def test_an_escaped_control_character_is_seen_in_either_case() -> None:
    assert may_hold_control(b"<t>a_x0001_</t>") and may_hold_control(b"<t>a_X0001_</t>")
    assert not may_hold_control(b"<t>a_x0041_ and _X0009_</t>")


def test_an_escape_after_many_underscores_is_seen() -> None:
    """A sheet whose text is full of underscores (snake_case names) is searched whole, past the first few."""
    many = b"<t>" + b"a_b " * 500
    assert not may_hold_control(many + b"</t>")
    assert may_hold_control(many + b"_x0001_</t>") and may_hold_control(b"_" * 65 + b"x0002_")


def reference_errors_in(xml: bytes) -> dict[tuple[int, int], str]:
    """The error cells as a plain search finds them: every cell of type e, whatever its value holds."""
    cells = re.finditer(rb'<c r="([A-Z]+)([0-9]+)"[^>]*t="e"[^>]*><v>([^<]*)</v></c>', xml)
    column = {b"A": 0, b"B": 1, b"C": 2}
    return {(int(m[2]), column[m[1]]): m[3].decode().replace("&amp;", "&") for m in cells if b"#" in m[3]}


ERRORS = st.sampled_from(["#N/A", "#REF!", "#DIV/0!", "#NAME?", "#VALUE!", "#SPILL!", "#GETTING_DATA", ""])
CELLS = st.one_of(
    st.builds(lambda e: f"<v>{e}</v></c>".encode(), ERRORS).map(lambda v: (b' t="e">', v)),
    st.sampled_from([(b' t="inlineStr">', b"<is><t>ticket #12 &#10;</t></is></c>"), (b">", b"<v>4</v></c>")]),
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from([b"A", b"B", b"C"]), CELLS), max_size=6))
def test_errors_in_finds_each_error_cell_and_only_those(cells: list[tuple[bytes, tuple[bytes, bytes]]]) -> None:
    """A sheet without a # holds no error cell: looked for first, with a one-byte search."""
    xml = (
        b"<sheetData>"
        + b"".join(
            b'<row r="%d"><c r="%s%d"%s%s</row>' % (n, col, n, kind, rest)
            for n, (col, (kind, rest)) in enumerate(cells, 2)
        )
        + b"</sheetData>"
    )
    assert errors_in(xml) == reference_errors_in(xml)


def reference_may_hold_masters(data: bytes) -> bool:
    """`_may_hold_masters` as it was written first: each "<f" found in turn."""
    root = re.search(rb"<(\w+:)?worksheet\b", data[:4096])
    element = b"<" + (root[1] if root and root[1] else b"") + b"f"
    at = data.find(element)
    while at >= 0:
        after = at + len(element)
        if data[after : after + 1] in (b" ", b"\t", b"\n", b"\r"):
            close = data.find(b">", after)
            if MASTER_MARKER.search(data, after, close if close >= 0 else len(data)):
                return True
        at = data.find(element, after)
    return False


FORMULA_PIECES = st.sampled_from(
    [b"<worksheet>", b"<x:worksheet>", b"<c r=\"E2\">", b"<x:c r=\"E2\">", b"<f", b"<x:f", b" ", b"\t", b"\n", b">",
     b"/>", b't="shared"', b"t='array'", b't="normal"', b' ref="E2:E4"', b"</f>", b"<formula>", b"<fill>", b"C2*2",
     b"t = \"shared\"", b"<v>40</v>", b"</c>"]
)  # fmt: skip


@settings(max_examples=600, deadline=None, database=None)
@given(st.lists(FORMULA_PIECES, max_size=14).map(b"".join))
@example(b'<x:worksheet><x:c r="E2"><x:f\tt="array" ref="E2:E4">C2*2</x:f></x:c>')
def test_may_hold_masters_answers_as_the_first_search_did(xml: bytes) -> None:
    assert _may_hold_masters(xml) == reference_may_hold_masters(xml)

"""The quick looks `tracker validate` takes at a sheet's XML (tracker.cells) give the answers of the plain searches they
replace, whatever the bytes."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tracker.cells import _ALL_BUT_CONTROL, _ENCODED, may_hold_control


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
     b"\xc2\x85", b"\xc2\xa0", b"\xc2", b"\x01", b"\t", b"\n", b"\x7f", b"text", b"\xe2\x82\xac"]
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

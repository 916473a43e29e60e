"""tracker.zipped: the big parts of a workbook inflated with ISA-L must read exactly as zipfile reads them, and a
part the fast path cannot read to the byte must fail as zipfile fails (same exception, nothing half-read)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker import zipped


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED, level: int | None = None) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method, compresslevel=level) as out:
        for name, data in members.items():
            out.writestr(name, data)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))


@settings(max_examples=60, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=5000), st.text(max_size=3000).map(str.encode)),
    repeat=st.integers(1, 300),
    level=st.integers(0, 9),
    method=st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]),
)
def test_every_member_reads_as_zipfile_reads_it(data: bytes, repeat: int, level: int, method: int) -> None:
    archive = _zip({"xl/worksheets/sheet1.xml": data * repeat, "[Content_Types].xml": b"<Types/>"}, method, level)
    for name in archive.namelist():
        assert zipped.read(archive, name) == archive.read(name)


def test_a_workbook_from_init_reads_the_same(example: Path) -> None:
    archive = zipfile.ZipFile(example)
    for name in archive.namelist():
        assert zipped.read(archive, name) == archive.read(name)


def test_what_a_write_packs_zipfile_reads_back() -> None:
    xml = b"<row><c r='A1'><v>1</v></c></row>" * 20_000
    packed, crc = zipped.pack(xml)
    assert crc == zlib.crc32(xml) and len(packed) < len(xml) // 10
    assert zlib.decompress(packed, -15) == xml
    empty, empty_crc = zipped.pack(b"")
    assert empty_crc == 0 and zlib.decompress(empty, -15) == b""


_SHEET = b"<sheetData>" + b"<row/>" * 5000 + b"</sheetData>"


@pytest.mark.parametrize("where", [0, 3, -1])
def test_a_damaged_part_fails_as_zipfile_fails(where: int) -> None:
    """One byte of the sheet's compressed data flipped (first, fourth, last): an inflate or CRC-32 failure."""
    good = _zip({"xl/worksheets/sheet1.xml": _SHEET})
    info = good.getinfo("xl/worksheets/sheet1.xml")
    raw = bytearray(good.fp.getvalue())  # type: ignore[union-attr]
    name_length, extra_length = struct.unpack("<2H", raw[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    raw[start + (where % info.compress_size)] ^= 0xFF
    archive = zipfile.ZipFile(io.BytesIO(bytes(raw)))
    expected = _outcome(archive.read)
    assert _outcome(lambda name: zipped.read(archive, name)) == expected
    assert where == -1 or isinstance(expected, tuple)  # (the last byte may be the final block's padding)


def _outcome(read: Callable[[str], bytes]) -> object:
    """What reading the sheet gives: its bytes, or the exception's type and message."""
    try:
        return read("xl/worksheets/sheet1.xml")
    except Exception as exc:  # noqa: BLE001 - whatever zipfile raises, ours must too
        return (type(exc), str(exc))


def test_a_size_the_directory_misstates_is_left_to_zipfile() -> None:
    """The central directory claims a size the data does not have (bigger, smaller, absurd): the fast path never
    trusts it, and the read fails or succeeds exactly as zipfile's does."""
    xml = _SHEET
    for claimed in (len(xml) + 1, len(xml) - 1, 1 << 40):
        archive = _zip({"xl/worksheets/sheet1.xml": xml})
        archive.getinfo("xl/worksheets/sheet1.xml").file_size = claimed
        expected = _outcome(archive.read)
        assert _outcome(lambda name: zipped.read(archive, name)) == expected, claimed  # noqa: B023 - called here


def test_a_local_header_that_names_another_part_is_left_to_zipfile() -> None:
    archive = _zip({"xl/worksheets/sheet1.xml": b"<x/>" * 100})
    raw = bytearray(archive.fp.getvalue())  # type: ignore[union-attr]
    at = raw.index(b"xl/worksheets/sheet1.xml")  # the local header's copy comes first
    raw[at : at + 5] = b"xl/XX"
    damaged = zipfile.ZipFile(io.BytesIO(bytes(raw)))
    with pytest.raises(zipfile.BadZipFile, match="differ"):
        zipped.read(damaged, "xl/worksheets/sheet1.xml")


def test_a_crc_that_does_not_hold_fails_as_zipfile_fails() -> None:
    """The data inflates whole, but not to what the CRC-32 says: zipfile's "Bad CRC-32", never the bytes."""
    archive = _zip({"xl/worksheets/sheet1.xml": _SHEET})
    archive.getinfo("xl/worksheets/sheet1.xml").CRC ^= 1
    with pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"):
        zipped.read(archive, "xl/worksheets/sheet1.xml")

"""The package side of a write: the new .xlsx gets every member of the old one in its order, the changed parts
deflated (the big ones side by side in threads) and the others copied as they are, compressed bytes included."""

from __future__ import annotations

import contextlib
import threading
import zipfile
from pathlib import Path
from typing import IO

from tracker import zipped
from tracker.errors import WorkbookError


def copy_members(archive: zipfile.ZipFile, target: Path, changed: dict[str, bytes]) -> None:
    """Every member in its order; unchanged ones byte for byte, compressed data included."""
    source = archive.fp
    assert source is not None
    packed = _deflate(changed)
    with zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            if info.filename in changed:
                data = changed[info.filename]
                if not data and info.filename.lower() == "xl/calcchain.xml":
                    continue
                compressed, crc = packed[info.filename]
                fresh = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                fresh.compress_type = zipfile.ZIP_DEFLATED
                fresh.external_attr = info.external_attr
                fresh.CRC, fresh.compress_size, fresh.file_size = crc, len(compressed), len(data)
                _add_compressed(out, fresh, compressed)
            else:
                _copy_raw(source, info, out)


_DEFLATE_ALONE = 1 << 20  # parts from a megabyte up are deflated each in its own thread


def _deflate(parts: dict[str, bytes]) -> dict[str, tuple[bytes, int]]:
    """Each part deflated raw, as a zip member holds it (tracker.zipped.pack), and its CRC-32. The big ones (Events
    and Updates at 10,000 events: 20 MB each) side by side in threads: ISA-L lets go of the interpreter while it
    works, so two sheets take the time of one on two cores."""
    out: dict[str, tuple[bytes, int]] = {}

    def one(name: str) -> None:
        out[name] = zipped.pack(parts[name])

    def aside(name: str) -> None:
        with contextlib.suppress(BaseException):  # out of memory...: deflated again below, and raised there
            one(name)

    big = [name for name, data in parts.items() if len(data) >= _DEFLATE_ALONE]
    threads = [threading.Thread(target=aside, args=(name,), daemon=True) for name in big[1:]]
    for thread in threads:
        thread.start()
    try:
        for name in [*big[:1], *(name for name in parts if name not in big)]:
            one(name)
    finally:
        for thread in threads:
            thread.join()
    for name in [name for name in parts if name not in out]:
        one(name)
    return out


def _copy_raw(source: IO[bytes], info: zipfile.ZipInfo, out: zipfile.ZipFile) -> None:
    """Copy one member's compressed bytes as they are (no inflate and deflate again)."""
    try:
        _, data = zipped.raw(source, info)
    except zipfile.BadZipFile:
        raise WorkbookError(f"{info.filename}: bad zip entry; the file is damaged") from None
    clone = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    clone.compress_type = info.compress_type
    clone.external_attr = info.external_attr
    clone.CRC = info.CRC
    clone.compress_size = info.compress_size
    clone.file_size = info.file_size
    clone.flag_bits = info.flag_bits & 0x800  # keep only "name is UTF-8": no data descriptor, not encrypted
    if info.file_size > zipfile.ZIP64_LIMIT or info.compress_size > zipfile.ZIP64_LIMIT:
        raise WorkbookError(f"{info.filename} is too large to copy")
    _add_compressed(out, clone, data)


def _add_compressed(out: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes) -> None:
    """Add a member whose compressed bytes, sizes and CRC are known already."""
    # zipfile has no public call to add already-compressed data; this is what its write path does.
    fp = out.fp
    assert fp is not None
    info.header_offset = fp.tell()
    fp.write(info.FileHeader(False))
    fp.write(data)
    out.filelist.append(info)
    out.NameToInfo[info.filename] = info
    out.start_dir = fp.tell()  # type: ignore[attr-defined]
    out._didModify = True  # type: ignore[attr-defined]

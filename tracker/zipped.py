"""The big parts of an .xlsx inflated and deflated with ISA-L (the `isal` package) instead of zlib: at 10,000 events
Events and Updates (20 MB of XML each) inflate in about 35 ms instead of 80 ms through zipfile, and a write deflates
each in 17 ms instead of 116 ms at zlib's level 3, for a part about 10% bigger (bench/, issue 23). ISA-L lets go of
the interpreter while it works, as zlib does. A member the fast path cannot read exactly as zipfile does (stored,
encrypted, a header that disagrees, a size or CRC-32 that does not hold) is read by zipfile itself, which names what
is wrong."""

from __future__ import annotations

import contextlib
import io
import struct
import threading
import zipfile
from pathlib import Path
from typing import IO, Any, cast

from isal import isal_zlib

from tracker import files

# ISA-L's level for the parts a write changes (0-3): 1 deflates Events in 17 ms at 10,000 events, zlib's 3 in
# 116 ms, for 6% (Events) to 18% (Updates) more bytes; ISA-L's 3 takes 60 ms. Excel compresses again when it saves.
COMPRESS_LEVEL = 1
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
# what ISA-L raises on data that does not inflate (isal's stub calls it an instance; it is the class IsalError)
_BROKEN = cast("type[Exception]", isal_zlib.error)
_MOST = 1032  # deflate never shrinks data more than 1032:1: a member claiming more is left to zipfile


def raw(source: IO[bytes], info: zipfile.ZipInfo) -> tuple[bytes, bytes]:
    """The member's name as its local header spells it and its compressed bytes, as they are in `source`."""
    source.seek(info.header_offset)
    header = _LOCAL_HEADER.unpack(source.read(_LOCAL_HEADER.size))
    if header[0] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{info.filename}: bad zip entry")
    name = source.read(header[10])
    source.seek(header[11], 1)  # the extra field
    return name, source.read(info.compress_size)


def read(archive: zipfile.ZipFile, name: str) -> bytes:
    """Member `name` of `archive`, inflated: what `archive.read(name)` gives, faster."""
    info = archive.getinfo(name)
    if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 1 and archive.fp is not None:
        lock = getattr(archive, "_lock", None) or contextlib.nullcontext()  # zipfile's own, around each seek + read
        try:
            with lock:
                spelt, packed = raw(archive.fp, info)
            data = _inflate(info, spelt, packed)
        except (OSError, ValueError, struct.error, zipfile.BadZipFile, _BROKEN, MemoryError):
            data = None
        if data is not None:
            return data
    return archive.read(name)


def _inflate(info: zipfile.ZipInfo, spelt: bytes, packed: bytes) -> bytes | None:
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if not 0 < info.file_size <= _MOST * len(packed) + 64 or spelt.decode(encoding, "replace") != info.orig_filename:
        return None
    inflater = isal_zlib.decompressobj(-15)
    data = inflater.decompress(packed, info.file_size)  # at most the size the directory gives: no bomb
    whole = inflater.eof and not inflater.unconsumed_tail and len(data) == info.file_size
    return data if whole and isal_zlib.crc32(data) == info.CRC else None


def pack(data: bytes) -> tuple[bytes, int]:
    """`data` deflated raw, as a zip member holds it, and its CRC-32."""
    return isal_zlib.compress(data, COMPRESS_LEVEL, -15), isal_zlib.crc32(data)


def inflate_parts(
    content: bytes | Path,
    jobs: list[tuple[str, threading.Event, list[Any]]],
    signature: tuple[int, int, int] | None,
) -> None:
    """Decompress parts of the .xlsx, each into its box, its event set once it is there (its own file handle: threads
    do not share one); an error instead when the file was saved again meanwhile (`signature`: as it was when asked)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content) if isinstance(content, bytes) else content) as archive:
            for part, done, box in jobs:
                data = read(archive, part)  # (its CRC-32 checked against the directory read here)
                if isinstance(content, Path) and signature is not None and files.signature(content) != signature:
                    raise OSError("the file changed while it was read")
                box.extend((data, files.part_identity(archive.getinfo(part))))
                done.set()
    except Exception as exc:  # noqa: BLE001 - xml() reads it again in the caller's thread, and raises there
        for _, done, box in jobs:
            if not box:
                box.append(exc)
            done.set()

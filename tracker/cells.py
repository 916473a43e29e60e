"""Excel files at their simplest, below the readers and the writer: cell addresses, and the one clear error for a
file that is not a readable .xlsx."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from pathlib import Path, PurePosixPath

from tracker.errors import WorkbookError
from tracker.text import printable


def column_letter(index: int) -> str:
    """0-based column index to Excel letters (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the Compound File header of .xls files and encrypted .xlsx


def not_xlsx(path: Path | str, exc: Exception, data: bytes | None = None, *, sheet: str | None = None) -> WorkbookError:
    """The one clear error for a file that is not a readable .xlsx (an .xls, an encrypted file, damaged bytes or a
    damaged `sheet`), for reads and writes alike (a write passes the name and the bytes it holds)."""
    path = Path(path)
    head = b""
    if data is not None:
        head = data[:262144]
    else:
        try:
            with path.open("rb") as file:
                head = file.read(262144)
        except OSError:
            pass
    if head.startswith(_OLE) and "EncryptedPackage".encode("utf-16-le") in head:
        return WorkbookError(
            f"{path.name} is password-protected (encrypted), so tracker cannot read it. Open it in Excel, "
            "File > Info > Protect Workbook > Encrypt with Password, clear the password and save; keep it safe "
            "with SharePoint permissions instead"
        )
    if head.startswith(_OLE):
        return WorkbookError(
            f"{path.name} is an Excel 97-2003 (.xls) file, not .xlsx; open it in Excel and Save As "
            "Excel Workbook (.xlsx)"
        )
    what = f"sheet {sheet!r} of {path}" if sheet else str(path)
    return WorkbookError(
        f"cannot read {what} as an Excel .xlsx workbook ({type(exc).__name__}: {_one_line(exc)}); "
        "is it an .xlsx file? If it was damaged, restore an earlier version (.tracker-backups/ beside a local "
        "workbook, version history in SharePoint)"
    )


def _one_line(exc: Exception) -> str:
    """An exception's text as one printable line of at most 200 characters (a parser may quote raw bytes)."""

    text = printable(" ".join(str(exc).split()))
    return text if len(text) <= 200 else text[:199] + "…"


# --- the package's parts, read without a reader (for what readers turn into something else) ---------------


_ATTR = re.compile(r"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def column_index(letters: str) -> int:
    """Excel letters to a 0-based column index (A -> 0)."""
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def split_ref(ref: str) -> tuple[int, int]:
    """`AB12` -> (row 12, column 27)."""
    match = _REF.match(ref.strip())
    if not match:
        raise ValueError(ref)
    return int(match[2]), column_index(match[1])


def attributes(text: str) -> dict[str, str]:
    return {name: double if double else single for name, double, single in _ATTR.findall(text)}


def related(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """rId -> (type, part name) for what `part` points at."""
    path = PurePosixPath(part)
    try:
        text = archive.read(str(path.parent / "_rels" / (path.name + ".rels"))).decode("utf-8")
    except KeyError:
        return {}
    out = {}
    for match in re.finditer(r"<(?:\w+:)?Relationship\b([^>]*)>", text):
        attrs = attributes(match[1])
        target = attrs.get("Target", "")
        if attrs.get("TargetMode") == "External" or not target:
            continue
        name = target[1:] if target.startswith("/") else _normalize(str(path.parent / target))
        out[attrs.get("Id", "")] = (attrs.get("Type", ""), name)
    return out


def _normalize(path: str) -> str:
    parts: list[str] = []
    for piece in path.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> its worksheet part (e.g. `Events` -> `xl/worksheets/sheet1.xml`)."""
    book_part = "xl/workbook.xml"
    for _rid, (kind, name) in related(archive, "").items():
        if kind.endswith("/officeDocument"):
            book_part = name
    try:
        book = archive.read(book_part).decode("utf-8")
    except KeyError as exc:
        raise WorkbookError(f"the file has no workbook part ({exc})") from None
    rels = related(archive, book_part)
    out = {}
    for match in re.finditer(r"<(?:\w+:)?sheet\b([^>]*)>", book):
        attrs = attributes(match[1])
        rid = next((v for k, v in attrs.items() if k.endswith(":id")), None)
        if rid in rels and "name" in attrs:
            out[unescape(attrs["name"])] = rels[rid][1]
    return out


_ERROR_CELL = re.compile(r"<c\b([^>]*\bt=\"e\"[^>]*)>(.*?)</c>", re.S)


def error_cells(source: bytes | Path, titles: list[str]) -> dict[str, dict[tuple[int, int], str]]:
    """The cells of each sheet in `titles` that hold an Excel error (#N/A, #REF!, ...): title -> {(row, 0-based
    column): the error}, from one opening of the file.

    Readers turn these into empty cells; tracker reports them as what they are.
    """
    out: dict[str, dict[tuple[int, int], str]] = {title: {} for title in titles}
    with zipfile.ZipFile(BytesIO(source) if isinstance(source, bytes) else source) as archive:
        parts = sheet_parts(archive)
        for title in titles:
            if title in parts:
                out[title] = errors_in(archive.read(parts[title]))
    return out


def errors_in(xml: bytes) -> dict[tuple[int, int], str]:
    """The Excel error cells of one sheet's XML: (row, 0-based column) -> the error (#N/A, #REF!...: an error cell
    holds its error's text, which starts with #; one holding no # shows no error)."""
    out: dict[tuple[int, int], str] = {}
    # most sheets hold none: the bytes are not even decoded. A # first: a one-byte search (memchr) is 30x faster on
    # 20 MB than the attribute's, and a sheet without one holds no error (nor a character reference)
    if b"#" not in xml or b't="e"' not in xml:
        return out
    for match in _ERROR_CELL.finditer(xml.decode("utf-8", "replace")):
        ref = attributes(match[1]).get("r")
        value = re.search(r"<v>([^<]*)</v>", match[2])
        if ref and value and "#" in value[1]:
            out[split_ref(ref)] = unescape(value[1])
    return out


_ALL_BUT_CONTROL = bytes([*range(0x20, 0x7F), *range(0x80, 0x100)]) + b"\t\n\r"
_ENCODED = re.compile(rb"&#(x[0-9a-fA-F]+|[0-9]+);|_[xX]([0-9a-fA-F]{4})_")
_ESCAPE_START = re.compile(rb"_[xX]00")  # how an _xHHHH_ escape of a control character starts


def _escape_starts(xml: bytes) -> bool:
    """Whether the XML holds the start of an _xHHHH_ escape of a control character (_x00): each "_" looked at in
    turn (a one-byte search, memchr: a sheet holds a few, in its names and formulas), or the regular expression's one
    pass once there are many (a literal "_" first lets it skip fast: 2-4x two finds)."""
    at = xml.find(b"_")
    for _ in range(64):
        if at < 0:
            return False
        if xml[at + 1 : at + 4] in (b"x00", b"X00"):
            return True
        at = xml.find(b"_", at + 1)
    return _ESCAPE_START.search(xml, at) is not None


def may_hold_control(xml: bytes) -> bool:
    """Whether text in this XML part may read as holding a control character (U+0000-U+001F but tab, line feed and
    carriage return; U+007F-U+009F): a raw byte, a character reference, Excel's _xHHHH_ escape, or a C1 character in
    UTF-8. No means certainly none; yes, maybe (the cells are then looked at one by one)."""
    if xml.translate(None, _ALL_BUT_CONTROL):
        return True  # a raw control byte, or DEL
    if b"\xc2" in xml and re.search(rb"\xc2[\x80-\x9f]", xml):
        return True
    # a one-byte search first (memchr, ten times faster on 20 MB): a character reference needs a #; one may spell
    # a control character, or an escape (&#95;x0001_ reads as _x0001_, then as U+0001): then, maybe
    if b"#" in xml and b"&#" in xml:
        return True
    if not _escape_starts(xml):
        return False
    for reference, escape in _ENCODED.findall(xml):
        if reference:
            code = int(reference[1:], 16) if reference[:1] == b"x" else int(reference)
        else:
            code = int(escape, 16)
        if code < 0x20 and code not in (0x09, 0x0A, 0x0D) or 0x7F <= code <= 0x9F:
            return True
    return False


def cell_text(source: bytes | Path, title: str, ref: str) -> str | None:
    """What one cell of sheet `title` holds in the file (its `<v>`: a number exactly as typed), or None."""
    with zipfile.ZipFile(BytesIO(source) if isinstance(source, bytes) else source) as archive:
        part = sheet_parts(archive).get(title)
        if part is None:
            return None
        xml = archive.read(part).decode("utf-8", "replace")
    match = re.search(rf'<c\b[^>]*\br="{re.escape(ref)}"[^>]*>(.*?)</c>', xml, re.S)
    value = re.search(r"<v>([^<]*)</v>", match[1]) if match else None
    return unescape(value[1]) if value else None


def unescape(text: str) -> str:
    """XML character entities back to text."""
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )

"""Reading some rows of a big sheet without parsing all of it (issue 23).

`list --open` needs the open events, `show ID` one event and its updates: a few rows of sheets
that hold tens of thousands. A sheet's XML is scanned for the cells of one column that may hold
one of the wanted values (an event ID, an open status); only those rows, with the header row, are
handed to python-calamine, so every cell is typed exactly as a whole-sheet read types it. The scan
errs towards yes (a row it cannot judge is kept, and the typed rows are filtered again), and when
the XML is in a shape it does not know (prefixed elements, cells without addresses, CDATA) it
answers None and the caller reads the whole sheet.

Every pass over 20 MB of XML costs 10-20 ms, so the scan makes two: one finds each row with its cell in the column
(cell_forms.patterns), one counts the column's cells (a second one in a row, or one in another row's place, sends the sheet to
the whole read). Plain text, most cells, is judged as bytes, each distinct text once; any other form is decoded.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import operator
import re
import threading
import zipfile
from pathlib import Path
from typing import Any

from tracker import files, zipped
from tracker.cells import column_letter, related, sheet_parts
from tracker.workbook.cell_forms import (
    INLINE,
    NUMBER,
    SHARED_ITEM,
    TAG,
    TEXT,
    TYPE,
    UNKNOWN,
    VALUE,
    Starting,
    column_keys,
    every_cell_visible,
    key,
    patterns,
    plain,
    read,
    renumber,
    row_number,
    sheet_body,
    visible,
)
from tracker.workbook.early import native_stderr_quiet
from tracker.workbook.row_scan import Scan, in_place, scan_rows
from tracker.workbook.typed_cells import gc_paused

_ROW_START = re.compile(rb"<row[\s>/]")
_SHARED = "/sharedStrings"
_SHARED_INDEX = b">s"  # in place of a cell's attributes: no attributes are written with a ">"
_UNADDRESSED = re.compile(rb'<c(?=[\s>/])(?! r="[A-Z]{1,3}\d+")')  # a cell not written `<c r="D7"`
# From this column (D) on, whether no cell of it is empty is first told by counting (cell_forms.every_cell_visible): the
# row-by-row scan steps over every cell before it (Updates' Applied, the ninth, took 100 ms at 10,000 events)
_COUNTED = 3


class SheetSieve:
    """The sheets of one .xlsx, scanned for the rows whose cell in one column holds one of some values."""

    def __init__(self, content: bytes | Path) -> None:
        self._content = content
        self._archive: zipfile.ZipFile | None = None
        self._parts: dict[str, str] = {}
        self._shared: list[tuple[int, int]] | None = None  # each shared string's span in its part
        self._shared_xml = b""
        self._shared_part = ""  # its name, once read: the reads of some rows hand python-calamine the same bytes
        # sheets inflating in a thread: (set when done, [the XML, files.part_identity of its part] or [what went wrong])
        self._coming: dict[str, tuple[threading.Event, list[Any]]] = {}
        self._keep: dict[str, bytes | None] = {}  # sheets scanned more than once (a write's): their XML, once read
        self._scans: dict[tuple[str, int], Scan] = {}  # and their scans, by column
        self._canonical: dict[str, bool] = {}  # and whether every cell of theirs is written with its address first
        if isinstance(content, Path):
            self.adopt(content)
            with contextlib.suppress(Exception):  # opened now, as python-calamine opens it: one version of it
                self._open()

    def adopt(self, path: Path, signature: tuple[int, int, int] | None = None) -> None:
        """Take the sheets a command started inflating as it began (prefetch_file) from the file at `path`, when it
        is still that one (`signature`: the file's when the bytes this sieve reads were read from it; default now)."""
        early = _EARLY.pop(str(path.resolve()), None)
        if early is not None and early[0] == (signature or files.signature(path)):
            self._coming = early[1]._coming

    def _open(self) -> zipfile.ZipFile:
        if self._archive is None:
            if isinstance(self._content, Path) and not self._content.is_file():  # opening a FIFO waits for a writer
                raise OSError(f"{self._content} is not a file")  # (the whole read says so to the user)
            source = io.BytesIO(self._content) if isinstance(self._content, bytes) else self._content
            self._archive = zipfile.ZipFile(source)
            self._parts = sheet_parts(self._archive)
        return self._archive

    def prefetch(self, *titles: str) -> None:
        """Start decompressing these sheets' XML, one after the other in one thread (zlib lets go of the interpreter
        meanwhile), for a command that will scan them: it imports, reads and scans while they inflate. One thread,
        so the command itself keeps a core of its own."""
        try:
            self._open()
        except Exception:  # noqa: BLE001 - a damaged file: the whole-sheet read names what is wrong
            return
        todo = [(title, self._parts[title]) for title in titles if title in self._parts and title not in self._coming]
        if not todo:
            return
        signature = files.signature(self._content) if isinstance(self._content, Path) else None
        jobs: list[tuple[str, threading.Event, list[Any]]] = [(part, threading.Event(), []) for _, part in todo]
        threading.Thread(target=zipped.inflate_parts, args=(self._content, jobs, signature), daemon=True).start()
        for (title, _), (_, done, box) in zip(todo, jobs, strict=True):
            self._coming[title] = (done, box)

    def keep(self, *titles: str) -> None:
        """Keep these sheets' XML and scans once read: a write scans them several times (the row it changes,
        whether a typed row waits, the last row)."""
        self._keep.update((title, self._keep.get(title)) for title in titles)

    def forget(self) -> None:
        """Let go of the XML and scans kept so far (a write's view, once planned: 300 MB at 50,000 events, before the
        patch builds the new sheets); a sheet asked of again is inflated again."""
        self._keep = dict.fromkeys(self._keep)
        self._scans.clear()

    def xml(self, title: str) -> bytes | None:
        """The XML of sheet `title`, decompressed (None: no such part). Not kept unless asked (`keep`): a read
        command scans it once."""
        if self._keep.get(title) is not None:
            return self._keep[title]
        xml = self._inflated(title)
        if title in self._keep:
            self._keep[title] = xml
        return xml

    def _inflated(self, title: str) -> bytes | None:
        archive = self._open()
        part = self._parts.get(title)
        if title in self._coming:
            done, box = self._coming.pop(title)
            done.wait()
            # inflated from the file as the command began: taken only if it is this part, byte for byte (a file
            # rewritten in place with its size, time and inode kept passes the signature check: a write would
            # patch the old sheet into the new file, undoing someone's change)
            if (
                part is not None
                and box[1:] == [files.part_identity(archive.getinfo(part))]
                and isinstance(box[0], bytes)
            ):
                return box[0]
        return zipped.read(archive, part) if part is not None else None

    def _head(self, title: str) -> bytes | None:
        """The start of sheet `title`'s XML, up to the end of its first row: a header without inflating it all."""
        archive = self._open()
        part = self._parts.get(title)
        if part is None:
            return None
        out = b""
        with archive.open(part) as stream:
            while chunk := stream.read(1 << 16):
                out += chunk
                first = _ROW_START.search(out, max(out.find(b"<sheetData"), 0))
                if first is not None and _ROW_START.search(out, first.end()) or b"</sheetData>" in out:
                    break
        return out

    def rows(self, title: str, column: int, wanted: set[str] | Starting) -> list[tuple[int, list[Any]]] | None:
        """The header row (number 1) and each row whose cell in 0-based `column` may hold one of `wanted`
        (trimmed, case-folded text; or text `Starting` so), as (Excel row number, cells as python-calamine reads
        them); None when the scan cannot answer and the whole sheet must be read (a damaged file too: that read
        names what is wrong)."""
        if not (isinstance(wanted, Starting) or plain(wanted)):
            return None
        try:
            return self._rows(title, column, wanted)
        except Exception:  # noqa: BLE001 - zipfile, zlib and calamine raise many types; the whole read explains
            return None

    def _rows(self, title: str, column: int, wanted: set[str] | Starting) -> list[tuple[int, list[Any]]] | None:
        with gc_paused():  # a match object per row, all gone when _spans returns: collecting them finds nothing
            scan = self._scanned(title, column)
            spans = scan.spans(*self._kept(scan.rows, wanted)) if scan is not None else None
        return None if spans is None or scan is None else self._parse(title, scan.xml, scan.body, spans)

    def scan_ahead(self, title: str, column: int) -> None:
        """Scan sheet `title` for its rows and their cell in 0-based `column` now, and keep the scan for the `rows`
        asked of that column later: a command that waits for another sheet to parse meanwhile (`publish` scans
        Updates as Events parses, on the other core) does this part of the work while it waits."""
        try:
            with gc_paused():
                scan = self._scanned(title, column)
        except Exception:  # noqa: BLE001 - `rows` asks again, and steps aside for the whole read
            return
        if scan is not None:
            self._scans[title, column] = scan

    def _scanned(self, title: str, column: int) -> Scan | None:
        """Sheet `title` scanned for its rows and their cell in `column` (kept for a kept sheet); None when the
        scan cannot place its rows as python-calamine does (the sheet is read whole)."""
        if (title, column) in self._scans:
            return self._scans[title, column]
        xml = self.xml(title)
        body = xml.find(b"<sheetData") if xml is not None else -1
        if xml is None or body < 0:
            return None  # no sheet, or its elements carry a namespace prefix (<x:sheetData>)
        finish = xml.rfind(b"</sheetData>", body)
        finish = finish if finish >= 0 else len(xml)
        if b"!" in xml and (b"<!--" in xml or b"<![CDATA[" in xml):
            return None  # a comment or CDATA section could hide or fake a row: read whole
        if not self._addressed(title, xml):
            return None
        rows, cells = scan_rows(patterns(column_letter(column)), xml, body, finish)
        numbers = [row[1] for row in rows]
        if None in numbers:
            return None  # a row without its address first: only a whole-sheet read places it
        ordered = list(map(int, numbers))
        if any(map(operator.ge, ordered, itertools.islice(ordered, 1, None))):
            return None  # rows out of order, or one number twice: python-calamine places them, not the scan
        scan = Scan(xml, body, finish, rows, numbers, cells)
        if title in self._keep:
            self._scans[title, column] = scan
        return scan

    def _addressed(self, title: str, xml: bytes) -> bool:
        """For a write's sheets (kept): whether every cell is written `<c r="D7"` first, as Excel, LibreOffice,
        openpyxl and xlsxwriter write it (~25 ms a 20 MB sheet, once). Else a second cell spelt otherwise may sit on
        an address a scan or count read, and python-calamine keeps the last: the sheet is read whole. A read of some
        rows (`list --open`, `show`) does not look (it would cost it a fifth of its time): on such a hand-made file it
        may miss the row such a cell changes, which a write, whose changes stay, never does."""
        if title not in self._keep:
            return True
        if title not in self._canonical:
            body, finish = xml.find(b"<sheetData"), xml.rfind(b"</sheetData>")
            self._canonical[title] = 0 <= body < finish and not _UNADDRESSED.search(xml, body, finish)
        return self._canonical[title]

    def blank(self, title: str, column: int) -> list[tuple[int, list[Any]]] | None:
        """The header row and each row whose cell in 0-based `column` may read as empty (None or ""), as `rows`
        gives them: every row but those whose cell the scan knows holds text, a number or a boolean."""
        try:
            with gc_paused():
                xml = self.xml(title) if column >= _COUNTED and (title, column) not in self._scans else None
                if xml is not None and self._addressed(title, xml):
                    if every_cell_visible(xml, column_letter(column), self._visible_shared):
                        return self._parse(title, xml, xml.find(b"<sheetData"), [])  # no row's cell is empty
                scan = self._scanned(title, column)
                if scan is None:
                    return None
                kept, judged = self._maybe_blank_rows(scan.rows)
                spans = scan.spans(kept, judged)
            return None if spans is None else self._parse(title, scan.xml, scan.body, spans)
        except Exception:  # noqa: BLE001 - zipfile, zlib and calamine raise many types; the whole read explains
            return None

    def texts(self, title: str, column: int, wanted: Starting) -> list[tuple[int, Any]] | None:
        """Each row whose cell in 0-based `column` may start with `wanted`, with that cell (Excel row number, text
        trimmed as it is typed; any other value as python-calamine reads it): plain ASCII text read from the XML,
        a row whose cell the scan cannot read to the byte parsed. None: read the whole sheet."""
        try:
            with gc_paused():
                scan = self._scanned(title, column)
                found, unsure, judged = self._texts(scan, wanted) if scan is not None else ([], [], -1)
                spans = scan.spans(unsure, judged) if scan is not None else None
            parsed = None if spans is None or scan is None else self._parse(title, scan.xml, scan.body, spans)
        except Exception:  # noqa: BLE001 - as in `rows`
            return None
        if parsed is None:
            return None
        found += [(number, cells[column]) for number, cells in parsed[1:] if column < len(cells)]
        return sorted(found, key=operator.itemgetter(0))

    def keys_where(self, title: str, column: int, where: int, wanted: set[str]) -> list[str] | None:
        """The key (cell_values.raw_key: trimmed, case-folded) of the cell in 0-based `column` of each row whose cell
        in `where` is text that, trimmed and case-folded, is one of `wanted`, in row order: `tracker report` counts
        each event's resolutions so, without parsing 30,000 updates. Read from the XML when every cell of the sheet is
        addressed and every cell of the two columns is plain inline text or a shared string (as tracker, openpyxl and
        Excel write them: cell_forms.column_keys); None otherwise: read the whole sheet."""
        if not plain(wanted):
            return None
        try:
            with gc_paused():
                xml = self.xml(title)
                found = sheet_body(xml) if xml is not None else None
                if xml is None or found is None or _UNADDRESSED.search(xml, *found):
                    return None  # a cell placed by its position, not its address: python-calamine places it
                by, of = (column_keys(xml, column_letter(c), self._shared_key) for c in (where, column))
        except Exception:  # noqa: BLE001 - as in `rows`
            return None
        if by is None or of is None or UNKNOWN in by.values() or UNKNOWN in of.values():
            return None
        return [str(of.get(number, "")) for number, key in sorted(by.items()) if number != 1 and key in wanted]

    def _texts(self, scan: Scan, wanted: Starting) -> tuple[list[tuple[int, Any]], list[int], int]:
        """For `texts`: the cells read from the XML, the indexes of the rows left to python-calamine, and how many
        rows had the cell where the scan looks for it."""
        found: list[tuple[int, Any]] = []
        unsure: list[int] = []
        judged = 0
        shared: dict[bytes, object] = {}
        for index, row in enumerate(scan.rows):
            form = row.lastindex
            judged += form is not None and form >= 2
            if scan.numbers[index] == b"1":
                continue  # the header
            if form == 2:
                if wanted.plain(row[2]):
                    found.append((int(scan.numbers[index]), row[2].decode().strip()))
                continue
            if form == 3:
                if row[3] not in shared:
                    text = self._shared_text(row[3])
                    shared[row[3]] = UNKNOWN if text is None else read(text)
                value = shared[row[3]]
                if isinstance(value, str) and value.isascii():
                    if value.strip().casefold() in wanted:
                        found.append((int(scan.numbers[index]), value.strip()))
                    continue
            elif form is not None and form >= 4:
                value = self._value(row[4], row[6])
                if value is None or (isinstance(value, str) and value not in wanted):
                    continue  # no text, or text that does not start so
            unsure.append(index)
        return found, unsure, judged

    def _maybe_blank_rows(self, rows: list[re.Match[bytes]]) -> tuple[list[int], int]:
        """As `_kept`, for the rows whose cell in the column may read as empty."""
        kept: list[int] = []
        judged = 0
        decided: dict[tuple[bytes, bytes], bool] = {}
        for index, row in enumerate(rows):
            form = row.lastindex
            if form == 2:
                blank = not row[2].strip()  # plain text: as python-calamine reads it, to the byte
            elif form == 3:
                blank = self._blank_cell(decided, _SHARED_INDEX, row[3])
            elif form is not None and form >= 4:
                blank = self._blank_cell(decided, row[4], row[6])
            else:
                blank = True  # no cell where the scan looks: none, or one a whole read may place
                judged -= 1
            judged += 1
            if blank:
                kept.append(index)
        return kept, judged

    def _visible_shared(self, index: bytes) -> bool:
        return visible(self._shared_text(index) or b"")

    def _blank_cell(self, decided: dict[tuple[bytes, bytes], bool], tag: bytes, inner: bytes | None) -> bool:
        verdict = decided.get((tag, inner or b""))
        if verdict is None:
            shared = tag is _SHARED_INDEX
            verdict = not self._visible_shared(inner or b"") if shared else self._maybe_blank(tag, inner)
            decided[tag, inner or b""] = verdict
        return verdict

    def tail(self, title: str, count: int) -> tuple[list[tuple[int, list[Any]]], bool] | None:
        """The header row and the last `count` rows of sheet `title` as `rows` gives them, and whether those are
        all its rows; None when the scan cannot tell."""
        try:
            with gc_paused():
                done = [found for (sheet, _), found in self._scans.items() if sheet == title]
                scan = done[0] if done else self._scanned(title, 0)  # any column's scan places the rows
                if scan is None:
                    return None
                kept = [i for i, number in enumerate(scan.numbers) if number != b"1"]
                spans = scan.spans(kept[-count:] if count else [], None)
            found = self._parse(title, scan.xml, scan.body, spans or [])
        except Exception:  # noqa: BLE001 - as in `rows`
            return None
        return (found, len(kept) <= count) if found is not None else None

    def _maybe_blank(self, tag: bytes, inner: bytes | None) -> bool:
        """Whether a cell may read as empty: False only for one written exactly as the scan knows, holding text
        (shared or inline), a number or a boolean."""
        if not TAG.fullmatch(tag) or not inner:
            return True
        kind = TYPE.search(tag)
        kind_name = kind[1] if kind else b"n"
        if kind_name == b"inlineStr":
            text = INLINE.fullmatch(inner)
            return not (text and visible(b"".join(TEXT.findall(text[1]))))
        value = VALUE.fullmatch(inner)
        if value is None:
            return True
        if kind_name == b"s":
            return not (value[1].isdigit() and visible(self._shared_text(value[1]) or b""))
        if kind_name == b"str":
            return not visible(value[1])
        if kind_name == b"b":
            return value[1] not in (b"0", b"1")
        return not (kind_name == b"n" and NUMBER.fullmatch(value[1]))

    def _kept(self, rows: list[re.Match[bytes]], wanted: set[str] | Starting) -> tuple[list[int], int]:
        """The indexes of the rows (matches of cell_forms.patterns' row pattern) whose cell in the column may hold one of
        `wanted`, and how many rows had that cell where the scan looks for it. Plain inline text (group 2), most
        cells of a big sheet, is decided in bulk, each distinct text once; the rest cell by cell."""
        texts = [row[2] for row in rows]
        if isinstance(wanted, Starting):
            hits = {text for text in set(texts) if text is None or wanted.plain(text)}
        else:
            folded = {text.encode() for text in wanted}  # printable ASCII folds as bytes.lower() does: no decoding
            hits = {text for text in set(texts) if text is None or text.strip().lower() in folded}
        kept: list[int] = []
        missing = 0  # rows without the cell (kept: a whole-sheet read may find it elsewhere)
        decided: dict[tuple[bytes, bytes], bool] = {}  # most cells repeat a few values (statuses, IDs)
        for index in [i for i, text in enumerate(texts) if text in hits]:
            row = rows[index]
            form = row.lastindex
            if form == 2:
                verdict = True
            elif form == 3:  # a shared string: its index, decided once
                verdict = self._decide(decided, _SHARED_INDEX, row[3], wanted)
            elif form is not None and form >= 4:
                verdict = self._decide(decided, row[4], row[6], wanted)
            else:
                missing += 1
                verdict = True
            if verdict:
                kept.append(index)
        return kept, len(rows) - missing

    def _decide(
        self, decided: dict[tuple[bytes, bytes], bool], tag: bytes, inner: bytes | None, wanted: set[str] | Starting
    ) -> bool:
        """Whether a cell (its attributes after the address and its content, or _SHARED_INDEX and a shared string's
        index) may hold one of `wanted`: UNKNOWN keeps it."""
        verdict = decided.get((tag, inner or b""))
        if verdict is None:
            value = self._shared_key(inner or b"") if tag is _SHARED_INDEX else self._value(tag, inner)
            verdict = decided[tag, inner or b""] = value is UNKNOWN or (isinstance(value, str) and value in wanted)
        return verdict

    def header(self, title: str) -> list[Any] | None:
        """The header row of sheet `title` as python-calamine reads it; None when the scan cannot tell."""
        try:
            xml = self._head(title)
            if xml is None or xml.find(b"<sheetData") < 0:
                return None
            parsed = self._parse(title, xml, xml.find(b"<sheetData"), [])
        except Exception:  # noqa: BLE001 - a damaged file: the whole-sheet read names what is wrong
            return None
        return parsed[0][1] if parsed else None

    def _value(self, tag: bytes, inner: bytes | None) -> object:
        """A cell's value as a lookup key (trimmed, case-folded text), None for one that reads as no text with a
        letter in it (empty, a number, an error), or UNKNOWN: anything not written exactly as the scan knows it
        (its row is then kept, and python-calamine decides)."""
        if not TAG.fullmatch(tag):
            return UNKNOWN  # t='s', t = "s", another attribute form: not guessed at
        if not inner:
            return None
        kind = TYPE.search(tag)
        kind_name = kind[1] if kind else b"n"
        if kind_name == b"inlineStr":
            text = INLINE.fullmatch(inner)
            return key(b"".join(TEXT.findall(text[1]))) if text else UNKNOWN
        value = VALUE.fullmatch(inner)
        if value is None:
            return UNKNOWN  # <v> with attributes, a prefix, a processing instruction...
        if kind_name == b"s":
            return self._shared_key(value[1]) if value[1].isdigit() else UNKNOWN
        if kind_name == b"str":
            return key(value[1])
        if kind_name == b"b":
            return {b"1": "true", b"0": "false"}.get(value[1], UNKNOWN)
        if kind_name == b"e":
            return None  # an error reads as an empty cell
        if kind_name == b"n" and NUMBER.fullmatch(value[1]):
            return None  # a number or a date serial: never text with a letter (see cell_forms.plain)
        return UNKNOWN  # text in a number cell, a t="d" date: read by python-calamine

    def _shared_key(self, index: bytes) -> object:
        text = self._shared_text(index)
        return key(text) if text is not None else UNKNOWN

    def _shared_text(self, index: bytes) -> bytes | None:
        """The text of shared string `index` as the file spells it, when written as the scan knows (else None)."""
        spans = self._shared_spans()
        try:
            start, end = spans[int(index)]
        except (ValueError, IndexError):
            return None
        item = self._shared_xml[start:end]
        close = item.find(b"</si>")
        text = SHARED_ITEM.fullmatch(item[: close + 5]) if close >= 0 else None
        return b"".join(TEXT.findall(text[1])) if text else None

    def _shared_spans(self) -> list[tuple[int, int]]:
        if self._shared is None:
            archive = self._open()
            book = next((name for kind, name in related(archive, "").values() if kind.endswith("/officeDocument")), "")
            part = next((name for kind, name in related(archive, book).values() if kind.endswith(_SHARED)), None)
            self._shared_xml = archive.read(part) if part else b""
            self._shared_part = part or ""
            starts = list(map(re.Match.start, re.finditer(rb"<si[ >/]", self._shared_xml)))
            self._shared = list(zip(starts, [*starts[1:], len(self._shared_xml)], strict=True))
        return self._shared

    def _parse(
        self, title: str, xml: bytes, body: int, spans: list[tuple[int, int]]
    ) -> list[tuple[int, list[Any]]] | None:
        """Hand the header and the rows at `spans` to python-calamine, renumbered 2, 3, ... (or where they are, when
        there are hundreds: row_scan.in_place); give each row back with its own number."""
        first = _ROW_START.search(xml, body)
        head = b""
        if first is not None:
            number = row_number(xml, first.start())
            if number != 1:  # rows without their address, or the header row not first (or not there): read whole.
                return None  # (A header's bytes may end before the header row they hold: row 1 after the data.)
            following = _ROW_START.search(xml, first.end())
            finish = following.start() if following else xml.find(b"</sheetData>", first.end())  # (not a pass)
            head = xml[first.start() : finish if finish >= 0 else len(xml)]
        numbers = [row_number(xml, start) for start, _ in spans]
        if any(n is None for n in numbers):
            return None
        # where each goes: its own number (row_scan.in_place), else 2, 3, ...
        places = [int(n or 0) for n in numbers] if in_place(numbers) else list(range(2, len(numbers) + 2))
        pieces = [head]
        for (start, end), number, place in zip(spans, numbers, places, strict=True):
            moved = renumber(xml[start:end], int(number or 0), place)
            if moved is None:
                return None
            pieces.append(moved)
        root = xml.find(b"<worksheet")
        if root < 0:
            return None
        root_end = xml.find(b">", root) + 1
        sheet = xml[:root_end] + b"<sheetData>" + b"".join(pieces) + b"</sheetData></worksheet>"
        cells = self._calamine(title, sheet)
        if cells is None:
            return None
        header = cells[0] if cells else []
        out: list[tuple[int, list[Any]]] = [(1, header)]
        for number, place in zip(numbers, places, strict=True):
            out.append((int(number or 0), cells[place - 1] if place - 1 < len(cells) else []))
        return out

    def _calamine(self, title: str, sheet: bytes) -> list[list[Any]] | None:
        """python-calamine's cells of a workbook like this one whose sheet `title` holds `sheet`."""
        import python_calamine

        archive = self._open()
        target = self._parts[title]
        mini = io.BytesIO()
        with zipfile.ZipFile(mini, "w", zipfile.ZIP_STORED) as out:
            for name in self._book_parts(target):
                kept = sheet if name == target else self._shared_xml if name == self._shared_part else None
                out.writestr(name, kept if kept is not None else archive.read(name))
        try:
            book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(mini.getvalue()))
            with native_stderr_quiet():  # a panic's message would reach the user's terminal raw
                return book.get_sheet_by_name(title).to_python(skip_empty_area=False)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - whatever calamine refuses, or panics on (a BaseException: a date
            return None  # serial below -10^14), the whole sheet is read instead, where openpyxl reads it

    def _book_parts(self, target: str) -> list[str]:
        """The parts python-calamine needs besides sheet XML: content types, the workbook, its relationships,
        styles (which numbers are dates) and shared strings; every sheet part but the one read left out."""
        archive = self._open()
        names = set(archive.namelist())
        book = next((name for kind, name in related(archive, "").values() if kind.endswith("/officeDocument")), "")
        rels = f"{book.rpartition('/')[0]}/_rels/{book.rpartition('/')[2]}.rels"
        sheets = set(self._parts.values())
        wanted = ["[Content_Types].xml", "_rels/.rels", book, rels]
        wanted += [name for kind, name in related(archive, book).values() if name not in sheets]
        return [name for name in dict.fromkeys(wanted) if name in names] + [target]


# Sheets of a workbook file a command started inflating as it began, before it opened its store: path -> (the file's
# signature then, the sieve holding the threads). The Tracker read from the same unchanged file takes them over.
_EARLY: dict[str, tuple[tuple[int, int, int], SheetSieve]] = {}


def prefetch_file(path: Path, titles: tuple[str, ...]) -> None:
    """Start inflating these sheets of the workbook file at `path` now, in threads, while the command goes on
    loading (`tracker list --open` and the like say so as they start)."""
    try:
        signature = files.signature(path)
        asked = _EARLY.get(str(path.resolve()))
        if asked is not None and asked[0] == signature:
            return  # already inflating
        sieve = SheetSieve(path)
        sieve.prefetch(*titles)
    except OSError:
        return  # no such file: the read says so, as always
    _EARLY[str(path.resolve())] = (signature, sieve)

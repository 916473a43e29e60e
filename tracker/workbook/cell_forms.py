"""How a cell is spelt in sheet XML, as the scan of some rows reads it (tracker.workbook.sieve): the forms Excel,
LibreOffice and the Python writers use, the text that reads as itself to the byte, and a cell's text as a lookup key.
A cell in any other form is not guessed at: its row is kept for python-calamine."""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

UNKNOWN = object()  # a cell whose value the scan cannot tell: its row is kept

TYPE = re.compile(rb'(?<![\w:.-])t="([^"]*)"')
# A cell's attributes after its address as Excel, LibreOffice and the Python writers put them: name="value", one
# space before each; a cell's content in the forms the scan reads (anything else keeps its row for python-calamine).
TAG = re.compile(rb'(?: [A-Za-z][\w:.-]*="[^"<>]*")*\s*')
_RUN = rb'(?:<t(?: xml:space="preserve")?>[^<&]*(?:&(?:#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot|apos);[^<&]*)*</t>)'
INLINE = re.compile(rb"<is>(" + _RUN + rb"|(?:<r>(?:<rPr>(?:(?!</rPr>)[^!?])*</rPr>)?" + _RUN + rb"</r>)+)</is>")
SHARED_ITEM = re.compile(rb"<si>(" + _RUN + rb"|(?:<r>(?:<rPr>(?:(?!</rPr>)[^!?])*</rPr>)?" + _RUN + rb"</r>)+)</si>")
VALUE = re.compile(rb"(?:<f(?: [^<>]*)?(?:/>|>[^<]*</f>))?<v>([^<]*)</v>")
NUMBER = re.compile(rb"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
TEXT = re.compile(rb"<t(?: xml:space=\"preserve\")?>([^<]*)</t>")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
# Text that reads as itself, to the byte, however python-calamine decodes it: printable ASCII but for "<", "&" (markup
# and entities) and "_" (Excel's _xHHHH_ escapes). Its key is bytes.lower() of it trimmed of spaces.
PLAIN = rb"[\x20-\x25\x27-\x3b\x3d-\x5e\x60-\x7e]*"


@functools.cache
def patterns(letter: str) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """For column `letter`: a pattern matching each row element's start with, when the scan finds it, the row's own
    cell of the column; and one matching every cell addressed in that column.

    Groups of the row pattern: 1 the row's number (None: no address first); then the cell, in the first form it is
    written in: 2 plain inline text (`<c r="D5" s="2" t="inlineStr"><is><t>Closed</t></is></c>`, what this tracker and
    openpyxl write); 3 a shared string's index (`<c r="D5" s="2" t="s"><v>7</v></c>`, what Excel writes); else 4 its
    other attributes, 5 its end and 6 its content, read by SheetSieve._value. To reach the cell the pattern steps over
    the row's cells of other columns written `<c r="B5" ...>...</c>` (and any white space between): at anything else
    it stops, the row has no cell where the scan looks (and is kept). Only the row's first cell of the column is seen: the cell count of the second pattern
    tells when there are others."""
    column = re.escape(letter).encode()
    other = rb'(?><c r="(?!' + column + rb'\d)[A-Z]+\d+"[^>/]*(?:/>|>[^<]*+(?:<(?!/c>)[^<]*+)*+</c>)\s*+)'
    cell = rb'<c r="' + column + rb'\1"'
    forms = (
        cell + rb'(?: s="\d+")? t="inlineStr"><is><t>(' + PLAIN + rb")</t></is></c>",
        cell + rb'(?: s="\d+")? t="s"><v>(\d+)</v></c>',
        cell + rb"([^>]*?)(/>|>(.*?)</c>)",
    )
    row = rb'<row(?: r="(\d+)")?(?=[\s>/])(?:[^>]*+>\s*+(?:' + other + rb"*+(?:" + b"|".join(forms) + rb"))?)?"
    return re.compile(row, re.S), re.compile(rb'<c r="' + column + rb"\d")


_ROW = re.compile(rb'<row(?: r="(\d+)")?[\s>/]')
_VISIBLE = rb"[\x21-\x25\x27-\x3b\x3d-\x5e\x60-\x7e]"  # PLAIN but the space


@functools.cache
def _column_cells(letter: str) -> re.Pattern[bytes]:
    """Every cell addressed in column `letter`: with its row number when it holds plain inline text that reads as
    something (group 1), or a shared string (1, and its index: 2); any other cell matches with no groups."""
    column = re.escape(letter).encode()
    text = rb't="(?:inlineStr"><is><t> *' + _VISIBLE + PLAIN + rb'</t></is>|s"><v>(\d+)</v>)</c>'
    return re.compile(rb'<c r="' + column + rb'(?:(\d+)"(?: s="\d+")? ' + text + rb"|\d)")


def sheet_body(xml: bytes) -> tuple[int, int] | None:
    """Where a sheet's XML holds its rows (the start of <sheetData, the start of </sheetData>), for a scan that reads
    cells by their addresses; None when it cannot: no such element (prefixed ones: <x:sheetData>), or a comment or
    CDATA section that could hide or fake a cell."""
    body, finish = xml.find(b"<sheetData"), xml.rfind(b"</sheetData>")
    if body < 0 or finish < body or (b"!" in xml and (b"<!--" in xml or b"<![CDATA[" in xml)):
        return None
    return body, finish


def every_cell_visible(xml: bytes, letter: str, shared_visible: Callable[[bytes], bool]) -> bool:
    """Whether every row of a sheet's XML holds, in column `letter`, one cell of text that reads as something: plain
    inline text, or a shared string `shared_visible` says so of, addressed to its own row; and the column holds no
    other cell. Told in two passes (the rows, the column's cells) without stepping over each row's cells: a write
    asks it of sheets whose every row tracker filled. False: maybe not (the rows are then looked at one by one)."""
    found = sheet_body(xml)
    if found is None:
        return False
    body, finish = found
    rows = _ROW.findall(xml, body, finish)
    cells = _column_cells(letter).findall(xml, body, finish)
    if not rows or b"" in rows or [number for number, _ in cells] != rows:
        return False  # a row without its address first or without the cell, or a cell that is not visible text
    numbers = list(map(int, rows))
    if any(map(operator.ge, numbers, itertools.islice(numbers, 1, None))):
        return False  # rows out of order: python-calamine places them
    return all(shared_visible(index) for index in {index for _, index in cells if index})


ROW_NUMBER = re.compile(rb'<row r="(\d+)"')


def row_number(xml: bytes, start: int) -> int | None:
    """The number of the row element at `start` when written `<row r="7"` (else None)."""
    match = ROW_NUMBER.match(xml, start)
    return int(match[1]) if match else None


ROW_R = re.compile(rb'^<row r="\d+"')
CELL_TAG = re.compile(rb"<c[\s>/]")
CELL_R = re.compile(rb'<c r="([A-Z]+)(\d+)"')


def renumber(row: bytes, number: int, position: int) -> bytes | None:
    """A row element (Excel row `number`) moved to row `position` (left as it is when that is its own), its cells
    with it; None when a cell's address is written another way than `<c r="D7"` on the row's own number
    (python-calamine would place it elsewhere, on a row a read of some rows may not see)."""
    found = CELL_R.findall(row)
    if len(found) != len(CELL_TAG.findall(row)) or any(int(digits) != number for _, digits in found):
        return None
    if position == number:
        return row
    row = ROW_R.sub(b'<row r="%d"' % position, row, count=1)
    return CELL_R.sub(lambda m: b'<c r="%s%d"' % (m[1], position), row)


def plain(wanted: set[str]) -> bool:
    """Whether the scan can look for these values: each has a letter (so no number, date or time reads as it) and
    is not a number itself (1E5), nor empty."""
    for value in wanted:
        if not value or not any(c.isalpha() for c in value):
            return False
        try:
            float(value)
        except ValueError:
            continue
        return False
    return True


@dataclass(frozen=True)
class Starting:
    """What a scan may look for instead of some values: text that, trimmed and case-folded, starts with `prefix`
    (printable ASCII holding a letter: "evt-2026-"). Text that is not ASCII is kept too, since a reader may fold it
    otherwise (a Unicode digit, the long s). As `in` tells for a set of values: `key in starting`."""

    prefix: str
    _folded: bytes = field(init=False, repr=False, compare=False)  # the prefix folded, as bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", self.prefix.casefold())
        object.__setattr__(self, "_folded", self.prefix.encode())

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and (value.startswith(self.prefix) or not value.isascii())

    def plain(self, text: bytes) -> bool:
        """Whether plain inline text (cell_forms.PLAIN, read as itself) is one the scan looks for."""
        return text.strip().lower().startswith(self._folded)


def key(text: bytes) -> object:
    """Cell text as a lookup key, or UNKNOWN for text the scan does not decode itself."""
    value = read(text)
    return value if value is UNKNOWN else str(value).strip().casefold()


def read(text: bytes) -> object:
    """Cell text as the file spells it, read as a reader reads it; UNKNOWN for text the scan does not decode itself."""
    try:
        value = text.decode("utf-8")
    except UnicodeDecodeError:
        return UNKNOWN
    if "&" in value:
        value = _ENTITY.sub(_entity, value)  # first: an entity may spell an escape (&#95;x002D_ is _x002D_)
    if "_x" in value or "_X" in value or "\r" in value:
        return UNKNOWN  # Excel's _x000D_ escapes, and line ends an XML parser normalizes
    return value


_ESCAPE = re.compile(r"_x[0-9a-fA-F]{4}_", re.I)


def visible(text: bytes) -> bool:
    """Whether cell text as the file spells it holds a character that is not white space once read (a reader may
    trim text that is only spaces); an escape (_x0020_) or a character reference (&#32;) may be one, so they do
    not count."""
    try:
        value = text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if "&" in value:
        value = _ENTITY.sub(_entity, value)
    return bool(_ESCAPE.sub("", value).strip())


def _entity(match: re.Match[str]) -> str:
    name = match[1]
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return _NAMED[name]


@functools.cache
def _column_texts(letter: str) -> re.Pattern[bytes]:
    """Every cell of column `letter`, by its own address (python-calamine places a cell so): its row number, and when
    it holds plain inline text, ">" and that text (2), or a shared string's index (3); neither for any other form."""
    column = re.escape(letter).encode()
    text = rb'<is><t(?: xml:space="preserve")?(>' + PLAIN + rb")</t></is></c>"
    return re.compile(
        rb'<c r="'
        + column
        + rb'(\d+)"(?: s="\d+")?(?: t="inlineStr">'
        + text
        + rb'| t="s"><v>(\d+)</v></c>|(?=[\s>/]))'
    )


def column_keys(xml: bytes, letter: str, shared_key: Callable[[bytes], object]) -> dict[int, object] | None:
    """Each cell of column `letter` of a sheet's XML by its row number: its key (trimmed, case-folded text) when
    plain inline text or a shared string (`shared_key`: a shared string's key by its index, or UNKNOWN), else
    UNKNOWN. One pass, no row stepped over (SheetSieve.keys_where). None when a cell is written twice (python-calamine
    keeps the last) or the XML is in a shape the scan does not read (`sheet_body`)."""
    found = sheet_body(xml)
    if found is None:
        return None
    cells = _column_texts(letter).findall(xml, *found)
    keys: dict[int, object] = {}
    shared: dict[bytes, object] = {}
    for number, text, index in cells:
        if index:
            if index not in shared:
                shared[index] = shared_key(index)
            keys[int(number)] = shared[index]
        else:  # plain text reads as itself: ASCII, whose case-folding is lower()
            keys[int(number)] = text[1:].strip().lower().decode() if text else UNKNOWN
    return keys if len(keys) == len(cells) else None

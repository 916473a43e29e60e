"""What a PDF that LibreOffice exported from a workbook shows, read back without a PDF library: its pages in
order, which sheet each belongs to (LibreOffice writes one bookmark per sheet, pointing at its first page), each
page's size, the fill colours it paints, and its text with the position of each piece.

It reads what LibreOffice 7 writes (uncompressed object syntax, Flate-compressed page streams, simple TrueType
fonts with a ToUnicode map, text placed with Td or Tm); it is not a general PDF reader.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

_OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
_STREAM_START = re.compile(rb"stream\r?\n")
_TOKEN = re.compile(rb"\[(?:[^\]\\]|\\.)*\]|<[0-9A-Fa-f\s]*>|\((?:[^)\\]|\\.)*\)|/[^\s/\[\]<>()]+|[^\s/\[\]<>()]+")


@dataclass
class Text:
    """One piece of text as placed on the page: its left edge and baseline in points from the page's
    bottom-left corner, its font size (after the page's scaling), its characters and its colour."""

    x: float
    y: float
    size: float
    text: str
    colour: str  # "r g b" as the PDF writes it: "1 1 1" is white


@dataclass
class Page:
    """One printed page."""

    width: float
    height: float
    fills: set[str] = field(default_factory=set)  # "r g b" of every fill colour used, as the PDF writes it
    texts: list[Text] = field(default_factory=list)

    def line(self, y: float, *, within: float = 1.0) -> str:
        """The text whose baseline lies within `within` points of `y`, left to right."""
        found = sorted((t for t in self.texts if abs(t.y - y) <= within), key=lambda t: t.x)
        return "".join(t.text for t in found)

    def lines(self) -> list[str]:
        """Every line of text, top to bottom."""
        heights = sorted({round(t.y, 1) for t in self.texts}, reverse=True)
        return [self.line(y, within=0.05) for y in heights]


@dataclass
class Pdf:
    """The pages, and each sheet's pages."""

    pages: list[Page]
    sheets: dict[str, list[Page]]
    fonts: set[str]  # the fonts' names, without the subset prefix (DejaVuSans-Bold)


def read_pdf(path: Path) -> Pdf:
    """The PDF LibreOffice exported at `path`."""
    data = path.read_bytes()
    objects = {int(m[1]): m[2] for m in _OBJECT.finditer(data)}
    fonts = {name.decode(): _cmap(objects, int(ref)) for name, ref in _font_names(objects)}
    kids = next(o for o in objects.values() if re.match(rb"<</Type/Pages\b", o))
    order = [int(n) for n in re.findall(rb"(\d+) 0 R", re.search(rb"/Kids\s*\[([^\]]*)\]", kids)[1])]
    pages = [_page(objects, objects[number], fonts) for number in order]
    starts = []
    for item in objects.values():
        title = re.search(rb"/Title\s*<FEFF([0-9A-Fa-f]*)>", item)
        dest = re.search(rb"/Dest\s*\[\s*(\d+) 0 R", item)
        if title and dest:
            starts.append((order.index(int(dest[1])), bytes.fromhex(title[1].decode()).decode("utf-16-be")))
    starts.sort()
    sheets = {}
    for index, (first, title) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(pages)
        sheets[title] = pages[first:end]
    names = {m.decode().split("+", 1)[-1] for m in re.findall(rb"/BaseFont\s*/([^\s/\[<>]+)", data)}
    return Pdf(pages, sheets, names)


def _font_names(objects: dict[int, bytes]) -> list[tuple[bytes, bytes]]:
    out = []
    for item in objects.values():
        for block in re.findall(rb"/Font\s*<<(.*?)>>", item, re.S):
            out += re.findall(rb"/(\w+)\s+(\d+) 0 R", block)
        if re.match(rb"<</F\d+ \d+ 0 R", item):  # a font dictionary of its own, which /Font refers to
            out += re.findall(rb"/(\w+)\s+(\d+) 0 R", item)
    return out


def _stream(objects: dict[int, bytes], item: bytes) -> bytes:
    """A stream object's data, decompressed. Its /Length says where the data ends (a number, or a reference to an
    object holding one): the data's own last byte may be a carriage return, which an end-of-line search would take
    as part of the line ending before `endstream`."""
    head, _, _ = item.partition(b"stream")
    length = re.search(rb"/Length\s+(\d+)(\s+0\s+R)?", head)
    start = _STREAM_START.search(item)
    assert length is not None and start is not None
    size = int(objects[int(length[1])].strip()) if length[2] else int(length[1])
    raw = item[start.end() : start.end() + size]
    return zlib.decompress(raw) if b"FlateDecode" in head else raw


def _cmap(objects: dict[int, bytes], number: int) -> dict[int, str]:
    """A font's codes and the characters they stand for (its ToUnicode map)."""
    ref = re.search(rb"/ToUnicode (\d+) 0 R", objects[number])
    if ref is None:
        return {}
    text = _stream(objects, objects[int(ref[1])]).decode("latin-1")
    out = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for code, chars in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[int(code, 16)] = bytes.fromhex(chars).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for low, high, first in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            for offset in range(int(high, 16) - int(low, 16) + 1):
                out[int(low, 16) + offset] = chr(int(first, 16) + offset)
    return out


def _page(objects: dict[int, bytes], item: bytes, fonts: dict[str, dict[int, str]]) -> Page:
    box = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", item)
    if box is None:  # inherited from the page tree
        box = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", b"".join(objects.values()))
    assert box is not None
    page = Page(float(box[3]) - float(box[1]), float(box[4]) - float(box[2]))
    contents = re.search(rb"/Contents\s*(\d+) 0 R", item)
    assert contents is not None
    stack: list[bytes] = []
    font, size, x, y, scale, colour = "", 0.0, 0.0, 0.0, 1.0, "0 0 0"
    saved: list[str] = []
    for token in _TOKEN.findall(_stream(objects, objects[int(contents[1])])):
        if token == b"rg":
            colour = " ".join(t.decode() for t in stack[-3:])
            page.fills.add(colour)
        elif token == b"q":
            saved.append(colour)
        elif token == b"Q" and saved:
            colour = saved.pop()
        elif token == b"Tf":
            font, size = stack[-2].decode().lstrip("/"), float(stack[-1])
        elif token == b"Td":
            x, y = float(stack[-2]), float(stack[-1])
        elif token == b"Tm":
            scale, x, y = float(stack[-6]), float(stack[-2]), float(stack[-1])
        elif token == b"BT":
            scale = 1.0
        elif token in (b"Tj", b"TJ"):
            codes = b"".join(bytes.fromhex(h.decode()) for h in re.findall(rb"<([0-9A-Fa-f\s]*)>", stack[-1]))
            text = "".join(fonts.get(font, {}).get(code, "?") for code in codes)
            page.texts.append(Text(x, y, size * scale, text, colour))
        if re.fullmatch(rb"[A-Za-z*'\"]+", token) and token not in (b"true", b"false", b"null"):
            stack = []
        else:
            stack.append(token)
    return page

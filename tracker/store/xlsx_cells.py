"""Cells as the sheet XML holds them: values written as Excel stores them (numbers, inline strings, date serials), the styles a date needs (styles.xml number formats), and a row's cells read back."""

from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime

from tracker.cells import attributes as _attrs
from tracker.cells import split_ref, unescape
from tracker.errors import WorkbookError

EXCEL_EPOCH = datetime(1899, 12, 30)


BUILTIN_DATE_FORMATS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47}

LINE_HEIGHT = 15.0  # points: one line of 11-point Calibri, Excel's default row
# Characters of running text per unit of column width (a unit is a digit, wider than most letters): LibreOffice,
# drawing Calibri as DejaVu Sans, fitted about 1.3; less leaves room for words that wrap early.
CHARS_PER_WIDTH = 1.2
MAX_HEIGHT = 409.0  # Excel's tallest row
DEFAULT_WIDTH = 8.43  # a column without a width of its own


def wrapped_height(text: str, width: float) -> float:
    """About how tall, in points, a row must be to show `text` wrapped in a column `width` characters wide.

    Only an estimate, on the generous side. Excel fits a row whose height was not set by hand to its text
    again when the text changes; LibreOffice (7.4, measured) shows the height the file states, and a row
    stating none is one line tall, its wrapped text cut off."""
    per_line = max(1, int(width * CHARS_PER_WIDTH))
    lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
    return min(MAX_HEIGHT, lines * LINE_HEIGHT)


XML_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")


NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def attr_text(attrs: dict[str, str]) -> str:
    """Attributes back as XML text (values as they were read: already escaped, quotes made safe)."""
    return "".join(f' {name}="{value.replace(chr(34), "&quot;")}"' for name, value in attrs.items())


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Styles:
    """styles.xml, read only when a date needs a date format (and then changed at most by one entry per format) or
    a long text may need a wrapping cell's row to grow."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.part = next((n for n in archive.namelist() if n.lower() == "xl/styles.xml"), "xl/styles.xml")
        try:
            self.xml = archive.read(self.part).decode("utf-8")
        except KeyError:
            self.xml = ""
        self.changed = False
        self._parse()

    def _parse(self) -> None:
        self.formats = {
            int(m[1]): unescape(m[2])
            for m in re.finditer(r'<(?:\w+:)?numFmt\b[^>]*numFmtId="(\d+)"[^>]*formatCode="([^"]*)"', self.xml)
        }
        self.formats |= {
            int(m[2]): unescape(m[1])
            for m in re.finditer(r'<(?:\w+:)?numFmt\b[^>]*formatCode="([^"]*)"[^>]*numFmtId="(\d+)"', self.xml)
        }
        block = re.search(r"<(\w+:)?cellXfs\b[^>]*>(.*?)</(?:\w+:)?cellXfs>", self.xml, re.S)
        self.xfs = re.findall(r"<(?:\w+:)?xf\b[^>]*?(?:/>|>.*?</(?:\w+:)?xf>)", block[2], re.S) if block else []

    def is_date(self, index: int) -> bool:
        """Whether cell style `index` shows a number as a date or time."""
        if index >= len(self.xfs):
            return False
        match = re.search(r'numFmtId="(\d+)"', self.xfs[index])
        number = int(match[1]) if match else 0
        if number in BUILTIN_DATE_FORMATS:
            return True
        code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", self.formats.get(number, ""))
        return bool(re.search(r"[dmyhs]", code, re.I))

    def wraps(self, index: int) -> bool:
        """Whether cell style `index` wraps text inside the cell."""
        return index < len(self.xfs) and bool(re.search(r'\bwrapText="(?:1|true)"', self.xfs[index]))

    def with_format(self, index: int, code: str) -> int:
        """A cell style like `index` but with number format `code` (added to styles.xml if new)."""
        number = next((n for n, c in self.formats.items() if c == code), None)
        for position, xf in enumerate(self.xfs):
            if number is not None and re.search(rf'numFmtId="{number}"', xf) and position != index:
                base = self.xfs[index] if index < len(self.xfs) else ""
                if strip_numfmt(xf) == strip_numfmt(base):
                    return position
        if not self.xml or not self.xfs:
            raise WorkbookError("the workbook has no cell styles (xl/styles.xml) to give a date its format")
        prefix = re.match(r"<(\w+:)?", self.xfs[0])
        p = prefix[1] or "" if prefix else ""
        if number is None:
            number = max([163, *self.formats]) + 1
            entry = f'<{p}numFmt numFmtId="{number}" formatCode="{xml_escape(code).replace(chr(34), "&quot;")}"/>'
            self.xml = re.sub(r"<((?:\w+:)?numFmts)\b([^>]*?)\s*/>", r"<\1\2></\1>", self.xml, count=1)
            if re.search(r"<(?:\w+:)?numFmts\b", self.xml):
                self.xml = re.sub(r"(</(?:\w+:)?numFmts>)", lambda m: entry + m[1], self.xml, count=1)
            else:
                self.xml = re.sub(
                    r"(<(?:\w+:)?styleSheet\b[^>]*>)",
                    lambda m: f'{m[1]}<{p}numFmts count="1">{entry}</{p}numFmts>',
                    self.xml,
                    count=1,
                )
            self.xml = re.sub(
                r'(<(?:\w+:)?numFmts\b[^>]*count=")(\d+)(")',
                lambda m: f"{m[1]}{int(m[2]) + 1}{m[3]}" if m[2] != "1" or len(self.formats) else m[0],
                self.xml,
                count=1,
            )
        base = self.xfs[index] if index < len(self.xfs) else self.xfs[0]
        new = re.sub(r'\snumFmtId="\d+"', "", base, count=1)
        new = re.sub(r'\sapplyNumberFormat="\w+"', "", new, count=1)
        new = re.sub(r"<((?:\w+:)?xf)\b", lambda m: f'<{m[1]} numFmtId="{number}" applyNumberFormat="1"', new, count=1)
        position = len(self.xfs)
        self.xml = re.sub(
            r"(<(?:\w+:)?cellXfs\b[^>]*>)(.*?)(</(?:\w+:)?cellXfs>)",
            lambda m: m[1] + m[2] + new + m[3],
            self.xml,
            count=1,
            flags=re.S,
        )
        self.xml = re.sub(
            r'(<(?:\w+:)?cellXfs\b[^>]*count=")(\d+)(")', lambda m: f"{m[1]}{position + 1}{m[3]}", self.xml, count=1
        )
        self.changed = True
        self._parse()
        return position


def strip_numfmt(xf: str) -> str:
    return re.sub(r'\s(numFmtId|applyNumberFormat)="[^"]*"', "", xf)


def excel_serial(value: datetime) -> float:
    """A naive UTC datetime as an Excel serial number (days since 1899-12-30), to the millisecond."""
    delta = value - EXCEL_EPOCH
    milliseconds = round(delta.total_seconds() * 1000)
    return milliseconds / 86_400_000


def xml_number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def xml_text(value: str) -> str:
    # Excel reads _xHHHH_ as an escaped character: a literal one is escaped itself (every
    # underscore that starts one, even when two share it), and a carriage return is stored escaped.
    value = XML_ESCAPE.sub("_x005F_", value)
    value = NOT_IN_XML.sub(lambda m: f"_x{ord(m[0]):04X}_", value)  # CR, control characters, U+FFFE/F
    escaped = xml_escape(value)
    space = ' xml:space="preserve"' if value != value.strip() or "\n" in value else ""
    return f"<t{space}>{escaped}</t>"


CELL_XML = r"<{p}c\b([^>]*?)(?:/>|>(.*?)</{p}c>)"


@dataclass
class CellXml:
    col: int
    attrs: dict[str, str]
    body: str
    xml: str

    @property
    def style(self) -> str | None:
        return self.attrs.get("s")

    @property
    def formula(self) -> str | None:
        match = re.search(r"<(?:\w+:)?f\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?f>)", self.body, re.S)
        if not match:
            return None
        return match[0]


def cells_of(inner: str, p: str, row: int) -> list[CellXml]:
    out = []
    col = -1
    for match in re.finditer(CELL_XML.format(p=p), inner, re.S):
        attrs = _attrs(match[1])
        ref = attrs.get("r")
        if ref:
            try:
                col = split_ref(ref)[1]
            except ValueError:
                col += 1
        else:
            col += 1
        out.append(CellXml(col, attrs, match[2] or "", match[0]))
    return out

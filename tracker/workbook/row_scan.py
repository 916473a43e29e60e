"""A big sheet's XML scanned for its rows and their cell in one column (tracker.workbook.sieve): the row pattern and
the column's cell count of cell_forms.patterns, a megabyte at a time."""

from __future__ import annotations

import re
from typing import Any

WINDOW = 1 << 20


def scan_rows(
    patterns: tuple[re.Pattern[bytes], re.Pattern[bytes]], xml: bytes, start: int, end: int
) -> tuple[list[re.Match[bytes]], int]:
    """Each row of xml[start:end] as cell_forms.patterns' row pattern matches it, and how many cells are addressed in the
    column; a window of about a megabyte at a time, each cut where a row begins (no row, and no cell, is cut in two):
    between windows the interpreter may switch threads, so the sheet inflating beside the scan goes on (one call over
    20 MB would hold it for 30 ms)."""
    rows, cells = patterns
    out: list[re.Match[bytes]] = []
    count = 0
    while start < end:
        cut = xml.find(b"<row", min(start + WINDOW, end), end) if start + WINDOW < end else -1
        stop = cut if cut > start else end
        out += rows.finditer(xml, start, stop)
        count += len(cells.findall(xml, start, stop))
        start = stop
    return out, count


class Scan:
    """A sheet's XML scanned for one column: each row's match (cell_forms.patterns) and number, and the column's cell count."""

    def __init__(
        self, xml: bytes, body: int, finish: int, rows: list[re.Match[bytes]], numbers: list[Any], cells: int
    ) -> None:
        self.xml, self.body, self.finish, self.rows, self.numbers, self.cells = xml, body, finish, rows, numbers, cells

    def spans(self, kept: list[int], judged: int | None) -> list[tuple[int, int]] | None:
        """Where the rows at `kept` (indexes, the header's left out) start and end; None when the rows judged are
        not every cell of the column (a cell outside its row's place: read whole)."""
        if judged is not None and judged != self.cells:
            return None  # a cell of the column outside its row's place (a second one, another row's): read whole
        rows, finish = self.rows, self.finish
        return [
            (rows[i].start(), rows[i + 1].start() if i + 1 < len(rows) else finish)
            for i in kept
            if self.numbers[i] != b"1"
        ]


# Kept rows handed to python-calamine where they are (not renumbered 2, 3, ...) when there are this many, and they are
# at least a quarter of the rows up to the last of them: renumbering every cell of 10,000 rows (a third of Updates, by
# status) cost 60 ms, the empty rows between them far less. Each cell must still be on its own row's number
# (cell_forms.renumber checks it, moving a row or not), so it lands where a whole-sheet read puts it.
IN_PLACE, SPREAD = 500, 4


def in_place(numbers: list[int | None]) -> bool:
    """Whether the kept rows go to python-calamine at their own numbers (see IN_PLACE)."""
    return bool(numbers) and len(numbers) >= IN_PLACE and SPREAD * len(numbers) >= max(int(n or 0) for n in numbers)

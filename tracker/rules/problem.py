"""A finding of `tracker validate`: where (sheet, cell, column header), the value, what is wrong and allowed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.text import printable
from tracker.times import iso
from tracker.workbook.reading import SheetData


@dataclass(frozen=True)
class Problem:
    """One finding: where (sheet, cell, column header), the value, what is wrong and allowed."""

    sheet: str
    cell: str | None
    column: str | None
    value: Any
    message: str
    allowed: str | None = None
    level: str = "error"
    layout: bool = False  # about where tracker can write (merged ranges, totals rows), not a cell's value

    @classmethod
    def at(
        cls, data: SheetData, name: str, row: int, value: Any, message: str, allowed: str | None = None, **more: Any
    ) -> Problem:
        """A finding about field `name` on Excel row `row` of a sheet as read: its cell and column header."""
        return cls(data.title, data.cell(name, row), data.spec.fields[name].title, value, message, allowed, **more)

    @property
    def row(self) -> int | None:
        """The Excel row number of the cell, or None for a whole-sheet finding."""
        number = position(self.cell)[0]
        return number or None

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (see README, `tracker validate --json`)."""
        value = iso(self.value) if isinstance(self.value, datetime) else self.value
        return {
            "level": self.level,
            "sheet": self.sheet,
            "cell": self.cell,
            "column": self.column,
            "value": value,
            "message": self.message,
            "allowed": self.allowed,
        }

    def __str__(self) -> str:
        where = self.cell or self.sheet
        if self.column:
            where += f" ({self.column})"
        text = f"{where}: {self.message}"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        return printable(text)  # a header or value from the workbook never prints raw control characters


def position(cell: str | None) -> tuple[int, int]:
    """(row, column) of `Sheet!AB12`, for sorting; whole-sheet findings first."""
    if not cell:
        return (0, 0)
    match = re.search(r"!([A-Z]+)(\d+)$", cell)
    if not match:
        return (0, 0)
    column = 0
    for letter in match[1]:
        column = column * 26 + ord(letter) - 64
    return (int(match[2]), column)

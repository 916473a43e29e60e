"""A column of cells typed as tracker types a sheet (`typed_column`), and the garbage collector paused while
millions of short-lived cells are made (`gc_paused`): the one rule for a sheet read whole (tracker.workbook.sheet_data)
and for the columns a report reads (tracker.window.event_facts)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from tracker.workbook.cell_values import whole_number

# A naive date and time in UTC: combine(its date, its time (fold kept), UTC) is the value .replace(tzinfo=UTC)
# gives, ~4x faster (replace parses keywords; it dominated typing at 10,000 events: 140k cells).
_combine = datetime.combine


def typed_column(cells: Sequence[Any], convert: Callable[[Any], Any], kind: str, options: frozenset[str]) -> list[Any]:
    """One schema column's cells typed as `convert` types them (None for blank), with the commonest cells (text,
    a naive date and time, a dropdown value, a whole number) typed inline: the one rule for a sheet read whole and
    for the columns a report reads (tracker.window.event_facts)."""
    if kind == "text":
        return [(c.strip() or None) if type(c) is str else None if c is None else convert(c) for c in cells]
    if kind == "datetime":
        return [
            (_combine(c, c.time(), UTC) if c.tzinfo is None else c)
            if type(c) is datetime
            else None
            if c is None or c == ""
            else convert(c)
            for c in cells
        ]
    if kind == "enum":
        return [None if c is None or c == "" else c if c in options else convert(c) for c in cells]
    if kind == "integer":
        return [
            None if c is None or c == "" else int(c) if type(c) is float and whole_number(c) else convert(c)
            for c in cells
        ]
    return [None if c is None or c == "" else convert(c) for c in cells]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection while openpyxl builds or writes millions of cell objects.

    They are all alive until the save ends, so collecting finds nothing and costs ~17% of a
    load + save at 10,000 events (bench/).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

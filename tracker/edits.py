"""Row edits: the small, explicit unit every write is made of.

A command looks at the current workbook and returns a list of edits; a store applies
them (and, after a conflict, asks the command again on the newest version).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.workbook import Tracker


@dataclass(frozen=True)
class AppendRow:
    """Add a row to the end of a sheet's table."""

    sheet: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class SetCells:
    """Set some cells of the row whose key column holds `key`."""

    sheet: str
    key: str
    values: Mapping[str, Any]


Edit = AppendRow | SetCells

Plan = Callable[["Tracker"], list[Edit]]
"""Computes a change from the current workbook; called again on a newer version."""

"""What every write does to a workbook file, whichever store it lives in: open it for
writing, let the command plan its row edits on it (plus what waits in the journal), check
them, and save the result without losing anything the original held.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracker import roundtrip
from tracker.edits import Edit, Plan
from tracker.journal import Journal, Replay, pending_edits
from tracker.schema import Schema
from tracker.workbook import (
    Tracker,
    apply_edits,
    apply_validations,
    check_edits,
    gc_paused,
    load_for_write,
    tracker_from_openpyxl,
)

if TYPE_CHECKING:
    from openpyxl import Workbook


@dataclass
class Draft:
    """A command's change, planned on a workbook opened for writing."""

    path: Path
    schema: Schema
    inspection: roundtrip.Inspection
    book: Workbook
    tracker: Tracker
    edits: list[Edit]
    replay: Replay

    @property
    def all_edits(self) -> list[Edit]:
        """What waits in the journal, then the command's own edits."""
        return self.replay.edits + self.edits

    def save(self, target: Path) -> None:
        """Apply every edit and save to `target`; refuse if the saved file lost anything the original had."""
        apply_edits(self.book, self.tracker, self.all_edits)
        apply_validations(self.book, self.schema)
        with gc_paused():
            self.book.save(target)
        roundtrip.compare_saved(self.path, self.inspection, target)


def draft(
    path: Path, schema: Schema, plan: Plan, journal: Journal | None, *, source: str, refuse_risky: bool = True
) -> Draft:
    """Open `path` for writing and plan the change on it; the edits are checked against the schema."""
    inspection = roundtrip.inspect(path)
    if refuse_risky:
        roundtrip.refuse_if_risky(path, inspection)
    book = load_for_write(path, inspection)
    tracker = tracker_from_openpyxl(book, schema, source=source)
    edits = plan(tracker)
    replay = pending_edits(tracker, journal)
    result = Draft(path, schema, inspection, book, tracker, edits, replay)
    if result.all_edits:
        check_edits(tracker, result.all_edits)
    return result

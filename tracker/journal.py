"""The local journal: row edits that were decided (e.g. emails already sent) but could not
be written to the workbook yet. The store writes them with its next successful write.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.edits import AppendRow, Edit, SetCells, edit_from_json, edit_to_json
from tracker.times import iso, utcnow

if TYPE_CHECKING:
    from tracker.workbook import Tracker


@dataclass(frozen=True)
class Pending:
    """One batch of edits waiting in the journal, with why it is waiting."""

    recorded_at: str
    reason: str
    edits: list[Edit]


class Journal:
    """An append-only JSON-lines file of pending edits, beside tracker.toml."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _lines(self) -> tuple[list[Pending], list[str]]:
        if not self.path.exists():
            return [], []
        good, bad = [], []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                data: dict[str, Any] = json.loads(line)
                edits = [edit_from_json(e) for e in data["edits"]]
            except (ValueError, KeyError, TypeError):
                bad.append(line)
                continue
            good.append(Pending(data.get("recorded_at", ""), data.get("reason", ""), edits))
        return good, bad

    def pending(self) -> list[Pending]:
        """Every readable batch still waiting, oldest first."""
        return self._lines()[0]

    def edits(self) -> list[Edit]:
        """All pending edits in order."""
        return [edit for batch in self.pending() for edit in batch.edits]

    def add(self, edits: list[Edit], reason: str, path: Path | None = None) -> None:
        """Record edits that could not be written (durably, before returning)."""
        if not edits:
            return
        line = json.dumps({"recorded_at": iso(utcnow()), "reason": reason, "edits": [edit_to_json(e) for e in edits]})
        with open(path or self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    @property
    def rejected_path(self) -> Path:
        """Where edits that can no longer be applied are set aside (kept for a person to look at)."""
        return self.path.with_name(self.path.stem + ".rejected.jsonl")

    def clear(self) -> None:
        """Forget what was written to the workbook; lines that could not be read stay for a person to see."""
        _, bad = self._lines()
        if bad:
            self.path.write_text("\n".join(bad) + "\n", encoding="utf-8")
        else:
            self.path.unlink(missing_ok=True)


def pending_edits(tracker: Tracker, journal: Journal | None) -> list[Edit]:
    """Journal edits still to write, fitted to the workbook as it is now.

    Appends already present (same `unique` value) are dropped; cell changes on rows that are
    gone are dropped; a cell someone changed since the edit was decided keeps their value; an
    edit the schema now refuses is set aside in the rejected file with its reason.
    """
    from tracker.errors import TrackerError
    from tracker.workbook import check_edits

    if journal is None:
        return []
    out: list[Edit] = []
    for edit in journal.edits():
        data = tracker.sheet(edit.sheet)
        if isinstance(edit, AppendRow):
            if edit.unique:
                value = str(edit.values.get(edit.unique))
                if any(str(row.values.get(edit.unique)) == value for row in data.rows):
                    continue
        else:
            row = data.find(edit.key)
            if row is None:
                continue
            if edit.expect is not None:
                values = {
                    k: v for k, v in edit.values.items() if k not in edit.expect or row.values.get(k) == edit.expect[k]
                }
                if not values:
                    continue
                edit = SetCells(edit.sheet, edit.key, values)
        try:
            check_edits(tracker, [edit])
        except TrackerError as exc:
            journal.add([edit], f"set aside: {exc}", journal.rejected_path)
            continue
        out.append(edit)
    return out

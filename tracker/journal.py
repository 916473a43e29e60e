"""The local journal: row edits that were decided (e.g. emails already sent) but could not
be written to the workbook yet. The store writes them with its next successful write.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.edits import AppendRow, Edit, edit_from_json, edit_to_json
from tracker.times import iso, utcnow


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

    def pending(self) -> list[Pending]:
        """Every batch still waiting, oldest first (an unreadable line is kept, not lost)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                data: dict[str, Any] = json.loads(line)
                edits = [edit_from_json(e) for e in data["edits"]]
            except (ValueError, KeyError, TypeError):
                continue
            out.append(Pending(data.get("recorded_at", ""), data.get("reason", ""), edits))
        return out

    def edits(self) -> list[Edit]:
        """All pending edits in order."""
        return [edit for batch in self.pending() for edit in batch.edits]

    def add(self, edits: list[Edit], reason: str) -> None:
        """Record edits that could not be written (durably, before returning)."""
        line = json.dumps({"recorded_at": iso(utcnow()), "reason": reason, "edits": [edit_to_json(e) for e in edits]})
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def clear(self) -> None:
        """Forget everything pending (after it was written to the workbook)."""
        self.path.unlink(missing_ok=True)


def unique_values(edits: list[Edit]) -> set[tuple[str, str, str]]:
    """(sheet, field, value) of every append that identifies its row."""
    return {
        (e.sheet, e.unique, str(e.values.get(e.unique)))
        for e in edits
        if isinstance(e, AppendRow) and e.unique and e.values.get(e.unique) is not None
    }

"""The local journal: row edits that were decided (e.g. emails already sent) but could not
be written to the workbook yet. The store writes them with its next successful write.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
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

    def _read(self) -> list[tuple[str, Pending | None]]:
        """Every non-empty line with its batch (None when the line cannot be read)."""
        if not self.path.exists():
            return []
        out: list[tuple[str, Pending | None]] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                data: dict[str, Any] = json.loads(line)
                edits = [edit_from_json(e) for e in data["edits"]]
            except (ValueError, KeyError, TypeError):
                out.append((line, None))
                continue
            out.append((line, Pending(data.get("recorded_at", ""), data.get("reason", ""), edits)))
        return out

    def pending(self) -> list[Pending]:
        """Every readable batch still waiting, oldest first."""
        return [batch for _, batch in self._read() if batch is not None]

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

    def remove(self, lines: list[str]) -> None:
        """Drop exactly these lines (those a write consumed); lines added meanwhile stay."""
        if not lines or not self.path.exists():
            return
        done = list(lines)
        keep = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line in done:
                done.remove(line)
            elif line.strip():
                keep.append(line)
        if keep:
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text("\n".join(keep) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        else:
            self.path.unlink(missing_ok=True)

    def finish(self, replay: Replay) -> None:
        """After a successful write: forget what it consumed, set aside what the schema refused."""
        for edit, reason in replay.rejected:
            self.add([edit], f"set aside: {reason}", self.rejected_path)
        self.remove(replay.lines)


@dataclass
class Replay:
    """What a write takes from the journal: the edits to apply, the lines it consumes, the refused edits."""

    edits: list[Edit] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    rejected: list[tuple[Edit, str]] = field(default_factory=list)


def pending_edits(tracker: Tracker, journal: Journal | None) -> Replay:
    """Journal edits still to write, fitted to the workbook as it is now.

    Appends already present, or already taken from an earlier line (same `unique` value), are
    dropped; cell changes on rows that are gone are dropped; a cell someone changed since the
    edit was decided keeps their value; an edit the schema now refuses is set aside.
    """
    from tracker.errors import TrackerError
    from tracker.workbook import check_edits

    replay = Replay()
    if journal is None:
        return replay
    seen: set[tuple[str, str, str]] = set()
    for line, batch in journal._read():
        if batch is None:
            continue  # unreadable: left in the journal for a person to see
        replay.lines.append(line)
        for edit in batch.edits:
            data = tracker.sheet(edit.sheet)
            if isinstance(edit, AppendRow):
                if edit.unique:
                    value = str(edit.values.get(edit.unique))
                    marker = (edit.sheet, edit.unique, value)
                    if marker in seen or any(str(row.values.get(edit.unique)) == value for row in data.rows):
                        continue
                    seen.add(marker)
            else:
                row = data.find(edit.key)
                if row is None:
                    continue
                if edit.expect is not None:
                    values = {
                        k: v
                        for k, v in edit.values.items()
                        if k not in edit.expect or row.values.get(k) == edit.expect[k]
                    }
                    if not values:
                        continue
                    edit = SetCells(edit.sheet, edit.key, values)
            try:
                check_edits(tracker, [edit])
            except TrackerError as exc:
                replay.rejected.append((edit, str(exc)))
                continue
            replay.edits.append(edit)
    return replay

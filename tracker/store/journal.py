"""The local journal: row edits that were decided (e.g. emails already sent) but could not
be written to the workbook yet. The commit engine writes them with its next successful write.

It is read and rewritten only under its lock, which every commit holds from reading the
workbook to finishing the write: two processes never replay the same entry, and an entry
added meanwhile is never lost by a rewrite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracker import jsonlines
from tracker.edits import Edit, edit_from_json, edit_to_json
from tracker.errors import WorkbookInUse
from tracker.times import iso, utcnow

if TYPE_CHECKING:
    from tracker.store.engine import Pending

LOCK_TIMEOUT = 120.0


@dataclass(frozen=True)
class Batch:
    """One batch of edits waiting in the journal, with why it is waiting."""

    recorded_at: str
    reason: str
    edits: list[Edit]


class Journal:
    """An append-only JSON-lines file of pending edits, beside tracker.toml."""

    def __init__(self, path: Path, lock_timeout: float = LOCK_TIMEOUT) -> None:
        from filelock import FileLock

        self.path = path
        self.lock_timeout = lock_timeout
        # One lock object per journal: it counts re-entries, so a commit holding it can still add.
        self._lock = FileLock(str(path.with_name(path.name + ".lock")), timeout=lock_timeout)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the journal's lock (shared by every tracker process using this journal)."""
        from filelock import Timeout

        try:
            with self._lock:
                yield
        except Timeout:
            raise WorkbookInUse(
                f"another tracker command has held the journal lock ({self._lock.lock_file}) for over "
                f"{self.lock_timeout:.0f} s; try again"
            ) from None

    def entries(self) -> list[tuple[str, Batch | None]]:
        """Every non-empty line with its batch (None when the line cannot be read)."""
        out: list[tuple[str, Batch | None]] = []
        for line, data in jsonlines.read(self.path):
            try:
                edits = [edit_from_json(e) for e in data["edits"]]
            except (ValueError, KeyError, TypeError):
                out.append((line, None))
                continue
            out.append((line, Batch(data.get("recorded_at", ""), data.get("reason", ""), edits)))
        return out

    def pending(self) -> list[Batch]:
        """Every readable batch still waiting, oldest first."""
        return [batch for _, batch in self.entries() if batch is not None]

    def edits(self) -> list[Edit]:
        """All pending edits in order."""
        return [edit for batch in self.pending() for edit in batch.edits]

    def add(self, edits: list[Edit], reason: str, path: Path | None = None) -> None:
        """Record edits that could not be written (durably, before returning)."""
        if not edits:
            return
        with self.locked():
            jsonlines.append(path or self.path, self._line(edits, reason))

    @property
    def rejected_path(self) -> Path:
        """Where edits that can no longer be applied are set aside (kept for a person to look at)."""
        return self.path.with_name(self.path.stem + ".rejected.jsonl")

    def remove(self, lines: list[str]) -> None:
        """Drop exactly these lines (those a write consumed); lines added meanwhile stay."""
        with self.locked():
            self._remove(lines)

    @staticmethod
    def _line(edits: list[Edit], reason: str) -> str:
        return json.dumps({"recorded_at": iso(utcnow()), "reason": reason, "edits": [edit_to_json(e) for e in edits]})

    def _remove(self, lines: list[str], added: list[str] | None = None) -> None:
        added = added or []
        if not lines and not added:
            return
        done = list(lines)
        keep = []
        for line, _data in jsonlines.read(self.path):
            if line in done:
                done.remove(line)
            else:
                keep.append(line)
        jsonlines.rewrite(self.path, keep + added)

    def finish(self, pending: Pending, rest: list[Edit] | None = None, reason: str = "") -> None:
        """After a write: forget what it consumed, set aside what the checks refused, keep `rest` (not written).

        The journal is rewritten once, atomically, so a crash leaves either the old or the new list.
        """
        with self.locked():
            for edits, why in pending.rejected:
                self.add(edits, f"set aside: {why}", self.rejected_path)
            self._remove(pending.lines, [self._line(rest, reason)] if rest else [])

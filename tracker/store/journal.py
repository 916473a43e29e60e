"""The local journal: row edits that were decided (e.g. emails already sent) but could not
be written to the workbook yet. The commit engine writes them with its next successful write.

It is read and rewritten only under its lock, which every commit holds from reading the
workbook to finishing the write: two processes never replay the same entry, and an entry
added meanwhile is never lost by a rewrite.

There is one journal per workbook, whatever folder (and tracker.toml) a command runs from,
so every tracker.toml naming a workbook sees what waits for it (`journal_path`):

- a local workbook's journal is beside it, as its locks are: `.events.xlsx.tracker-journal.jsonl`
  (shared by everyone who can write the workbook there, on a shared drive too);
- a SharePoint workbook's is in this user's state folder, under a hash of the file's URL
  (site origin + server-relative path): `~/.local/state/tracker/sharepoint/<hash>/journal.jsonl`
  (`%LOCALAPPDATA%\\tracker\\...` on Windows; TRACKER_STATE_DIR overrides the folder).

Files that belong to the journal (the send ledger, entries set aside, recent Excel-service
writes) are named after it. Journals tracker 0.1 kept beside tracker.toml are moved into the
workbook's on first use (`Journal.adopt`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker import files, jsonlines
from tracker.config import DEFAULT_LOCK_TIMEOUT
from tracker.errors import WorkbookInUse
from tracker.times import iso, utcnow
from tracker.workbook.edits import Edit, edit_from_json, edit_to_json


@dataclass
class Pending:
    """What a commit takes from the journal: edits to write, the lines it consumes, refused edits."""

    edits: list[Edit] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    rejected: list[tuple[list[Edit], str]] = field(default_factory=list)  # whole journal entries


LOCK_TIMEOUT = DEFAULT_LOCK_TIMEOUT  # (the stores pass [workbook] lock_timeout)
LEGACY_NAME = ".tracker-journal.jsonl"  # tracker 0.1: beside tracker.toml
COMPANIONS = ("sending", "rejected", "recent")  # files named after the journal: ledger, set aside, recent writes


def state_dir() -> Path:
    """This user's folder for tracker's state that must outlive a reboot (not a cache: nothing here may be lost)."""
    override = os.environ.get("TRACKER_STATE_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Application Support")
    else:
        base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "tracker"


def url_digest(url: str) -> str:
    """A short, stable name for a workbook URL (case does not matter to SharePoint)."""
    return hashlib.sha256(url.casefold().encode()).hexdigest()[:16]


def journal_path(workbook: Path | None = None, url: str | None = None) -> Path:
    """The journal of a local workbook (beside it) or of a SharePoint workbook (its URL, in the state folder)."""
    if url is not None:
        return state_dir() / "sharepoint" / url_digest(url) / "journal.jsonl"
    assert workbook is not None
    workbook = workbook.resolve()
    return workbook.parent / f".{workbook.name}.tracker-journal.jsonl"


@dataclass(frozen=True)
class Batch:
    """One batch of edits waiting in the journal, with why it is waiting."""

    recorded_at: str
    reason: str
    edits: list[Edit]


class Journal:
    """An append-only JSON-lines file of pending edits, one per workbook (see `journal_path`)."""

    def __init__(self, path: Path, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path
        self.lock_timeout = lock_timeout

    @property
    def _lock(self) -> Any:
        """One lock object per journal file in the process: it counts re-entries, so a commit holding it can add.
        Made when first held (a command that only reads never loads filelock)."""
        return files.file_lock(self.path.with_name(self.path.name + ".lock"))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the journal's lock (shared by every tracker process using this journal)."""
        from filelock import Timeout

        try:
            with self._lock.acquire(timeout=self.lock_timeout):
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
        return self.companion("rejected")

    def companion(self, name: str) -> Path:
        """A file that belongs to this journal, e.g. `companion("sending")`: the send ledger."""
        return self.path.with_name(f"{self.path.stem}.{name}.jsonl")

    def adopt(self, old: Path, about: str = "") -> int:
        """Move the journal at `old` (and its companion files) into this one; return the lines moved.

        Lines already here are not added twice, so a crash between writing this journal and
        removing the old one loses nothing and duplicates nothing. `about` (e.g. the
        workbook's URL) is written beside a journal in the state folder, for a person to see
        whose it is.
        """
        if (
            old.resolve() == self.path.resolve()
            or not old.exists()
            and not any(old.with_name(f"{old.stem}.{name}.jsonl").exists() for name in COMPANIONS)
        ):
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        moved = 0
        with self.locked():
            for source, target in [(old, self.path)] + [
                (old.with_name(f"{old.stem}.{name}.jsonl"), self.companion(name)) for name in COMPANIONS
            ]:
                lines = [line for line, _data in jsonlines.read(source)]
                if not lines:
                    source.unlink(missing_ok=True)
                    continue
                have = [line for line, _data in jsonlines.read(target)]
                new = [line for line in lines if line not in have]
                if new:
                    jsonlines.rewrite(target, have + new)
                moved += len(new)
                source.unlink()
        if about:
            self.describe(about)
        return moved

    def describe(self, about: str) -> None:
        """Say in a small text file beside the journal which workbook it belongs to."""
        note = self.path.with_name("workbook.txt")
        if not note.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            note.write_text(about + "\n", encoding="utf-8")

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

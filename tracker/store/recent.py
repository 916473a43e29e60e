"""What this machine wrote through the Excel service lately: the file SharePoint serves may show it only a moment
later (the service saves on its own schedule), so a read shows this machine's own recent writes until then. And
what the Excel service needs of the SharePoint store it writes for."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tracker import jsonlines
from tracker.errors import UnknownEvent
from tracker.store.engine import apply_to_view, row_present
from tracker.workbook.edits import AppendRow, Edit, edit_from_json, edit_to_json
from tracker.workbook.reading import Tracker

if TYPE_CHECKING:
    from tracker.microsoft365.remote import Remote
    from tracker.sharepoint_config import SharePointSettings
    from tracker.store.journal import Journal
    from tracker.workbook.schema import Schema


class SharePointWorkbook(Protocol):
    """What the Excel service needs of the SharePoint store it writes for (tracker.store.sharepoint)."""

    settings: SharePointSettings
    schema: Schema
    journal: Journal | None
    remote: Remote
    location: str

    @property
    def name(self) -> str: ...

    def download(self) -> tuple[bytes, str]: ...


RECENT_FOR = 3600.0  # seconds a recent write is shown at most, whatever the ETag says


class RecentWrites:
    """Edits this machine wrote through the Excel service, until the file's ETag shows a save after them."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: list[dict[str, Any]] = []

    def _entries(self) -> list[dict[str, Any]]:
        if self.path is None:
            return list(self._memory)
        return [data for _line, data in jsonlines.read(self.path) if isinstance(data, dict)]

    def _save(self, entries: list[dict[str, Any]]) -> None:
        if self.path is None:
            self._memory = entries
            return
        jsonlines.rewrite(self.path, [json.dumps(e) for e in entries])

    def add(self, etag: str, edits: list[Edit], placed: dict[int, int] | None = None) -> None:
        """Remember edits written on the version with this ETag (`placed`: id of a new row's edit -> the sheet
        row the Excel service put it on, which rows other machines added meanwhile may have pushed down)."""
        if not edits:
            return
        entries = self._entries()
        entry: dict[str, Any] = {"etag": etag, "at": time.time(), "edits": [edit_to_json(e) for e in edits]}
        rows = {str(n): placed[id(e)] for n, e in enumerate(edits) if placed and id(e) in placed}
        if rows:
            entry["rows"] = rows
        entries.append(entry)
        self._save(entries)

    def show(self, tracker: Tracker, etag: str, *, prune: bool = False) -> list[Edit]:
        """Show in `tracker` the recent writes its version (ETag) does not hold yet.

        With `prune` (only under the journal lock) the others are forgotten. A row already there
        is not shown twice (the download may be a moment newer than its ETag).
        """

        entries = self._entries()
        keep = [e for e in entries if e.get("etag") == etag and time.time() - float(e.get("at", 0)) < RECENT_FOR]
        if prune and len(keep) != len(entries):
            self._save(keep)
        shown = []
        for entry in keep:
            rows = entry.get("rows") or {}
            for n, data in enumerate(entry.get("edits", [])):
                try:
                    edit = edit_from_json(data)
                    if isinstance(edit, AppendRow) and row_present(tracker, edit):
                        continue
                    apply_to_view(tracker, edit, rows.get(str(n)))
                except UnknownEvent:  # the row is gone meanwhile (deleted in Excel): the file is what counts
                    continue
                except (KeyError, TypeError, ValueError):  # an entry this version cannot read: left to expire
                    continue
                shown.append(edit)
        return shown


def recent_writes(store: SharePointWorkbook) -> RecentWrites:
    """The store's record of recent Excel-service writes (beside the journal)."""
    journal = store.journal
    return RecentWrites(journal.companion("recent") if journal else None)

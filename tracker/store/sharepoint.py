"""The workbook in a SharePoint Online document library (commercial and US government clouds).

Requests go through `tracker.microsoft365.remote` (office365-rest-python-client with tracker's retries).
Writes go through the commit engine, applied in one of two modes:
- `workbook-api` (default): through the Excel service in Microsoft Graph
  (`tracker.store.excel_service`), which works while other people have the file open in Excel;
- `upload`: the surgical applier patches the downloaded file, which goes back with If-Match;
  a 412 means someone saved meanwhile, so the engine plans again on their version; a 423
  (open in Excel) keeps the edits in the local journal for `tracker sync`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracker import retry
from tracker.microsoft365 import remote
from tracker.microsoft365.remote import Remote
from tracker.sharepoint_config import SharePointSettings
from tracker.store import xlsx
from tracker.store.engine import WRITE_READS, Busy, Change, Snapshot, Stale, commit
from tracker.store.excel_service import ExcelService
from tracker.store.journal import Journal
from tracker.store.read_cache import ReadCache
from tracker.store.recent import recent_writes
from tracker.store.xlsx_layout import Layout
from tracker.workbook.edits import Edit, Plan
from tracker.workbook.opening import read_tracker
from tracker.workbook.reading import Tracker
from tracker.workbook.schema import Schema

REPLAYS = 6


class SharePointStore:
    """The workbook in a SharePoint document library."""

    def __init__(
        self,
        settings: SharePointSettings,
        schema: Schema,
        *,
        remote: remote.Remote | None = None,
        journal: Journal | None = None,
        verbose: bool = False,
    ) -> None:

        self.settings = settings
        self.schema = schema
        # label -> a callback shown the bytes moved so far and the total (None: nothing shown); the CLI renders one
        self.progress: Callable[[str], Callable[[int, int], None] | None] = lambda _label: None
        self.remote = remote or Remote(settings, verbose=verbose)
        self.journal = journal
        self.location = settings.file_url
        self.cache = ReadCache(settings.file_url)
        self.replayed: list[Edit] = []
        self.before: Plan | None = None
        self.set_aside: list[tuple[list[Edit], str]] = []
        self.shared = True  # other machines write it without this machine's locks
        self.last_read: Tracker | None = None
        self._folder: Path | None = None
        self._service: Any = None  # the last commit's Excel-service applier (it knows the table's layout)

    def lock_path(self, purpose: str) -> Path:
        """One per workbook URL on this machine, whichever folder tracker runs from."""
        import hashlib

        digest = hashlib.sha256(self.settings.file_url.casefold().encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"tracker-{purpose}-{digest}.lock"

    @property
    def name(self) -> str:
        """The workbook's file name."""
        return Path(self.settings.path).name

    def download(self) -> tuple[bytes, str]:
        """The workbook's bytes and the ETag they belong to: this machine's cached bytes when SharePoint still has
        their ETag (asked every time, for reads and writes alike), else downloaded and cached."""
        cached = self.cache.load()
        data, etag = self.remote.download(self.progress("downloading"), have=cached)
        if cached is None or cached[0] != etag:
            self.cache.save(etag, data)
        return data, etag

    def read(self) -> Tracker:
        """Download once and read with the fast reader (with this machine's recent writes the file may not show yet)."""
        with retry.deadline():  # a read's waits share one deadline, as a commit's do
            data, etag = self.download()
        tracker = read_tracker(Path(self.settings.path), self.schema, data=data, source=self.location)
        if self.settings.write_mode == "workbook-api":
            recent_writes(self).show(tracker, etag)
        tracker.journal = self.journal
        self.last_read = tracker
        return tracker

    def commit(self, plan: Plan, *, keep: bool = True) -> list[Edit]:
        """Plan on the newest version (journal fitted first), check, write; plan again if someone saved meanwhile."""
        applier: Any = self
        hint = ""
        if self.settings.write_mode == "workbook-api":
            applier = self._service = ExcelService(self)
        else:
            hint = ' (write_mode = "workbook-api" writes while others have it open'
            # Microsoft documents the Excel API for delegated sign-in only (graph/api/table-post-rows, permissions)
            hint += ', with auth = "device-code")' if self.settings.auth == "certificate" else ")"
        with tempfile.TemporaryDirectory(prefix="tracker-") as folder:
            self._folder = Path(folder)
            try:
                result = commit(
                    applier, plan, self.journal, replays=REPLAYS, busy_hint=hint, keep=keep, before=self.before
                )
            finally:
                self._folder = None
        self.replayed = result.replayed
        self.set_aside = result.set_aside
        return result.edits

    def rows_now(self, sheet: str) -> list[dict[str, Any]] | None:
        """Through the Excel service, the sheet's table as it is this moment, other machines' rows included
        (upload mode: None, since If-Match already made the last commit win or plan again)."""
        if self.settings.write_mode != "workbook-api":
            return None

        service = self._service or ExcelService(self)
        return service.table_rows(sheet)

    # -- the upload applier ------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Download the newest version into the commit's temporary folder."""
        assert self._folder is not None
        data, etag = self.download()
        path = self._folder / self.name
        path.write_bytes(data)

        tracker = read_tracker(path, self.schema, data=data, source=self.location)
        tracker.preload(*WRITE_READS)
        return Snapshot(tracker, (path, etag), Layout(data, name=self.name))

    def write(self, snapshot: Snapshot, change: Change) -> None:
        """Patch the downloaded file and upload it if SharePoint still has the version it came from."""

        path, etag = snapshot.handle
        saved = path.with_name("new-" + path.name)
        xlsx.patch(path, saved, change.sheet_writes(), snapshot.layout.texts if snapshot.layout else None)
        try:
            self.remote.upload(saved.read_bytes(), etag, self.progress("uploading"))
        except remote.Stale:
            raise Stale() from None
        except remote.Locked as exc:
            raise Busy(f"SharePoint refused the upload: {self.name} is open in Excel by {exc.owner}") from None

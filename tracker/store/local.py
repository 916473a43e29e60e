"""The local store: the workbook is a file on disk (or a shared drive).

Reads use the fast reader. Writes go through the commit engine under a file lock; the
surgical applier writes the new version beside the file, which replaces it atomically
(after a backup of the previous version) only if nobody saved it meanwhile; otherwise the
engine plans again on their version.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker import files
from tracker.errors import WorkbookError, WorkbookInUse
from tracker.store.journal import Journal
from tracker.text import printable
from tracker.workbook.edits import Edit, Plan
from tracker.workbook.opening import ensure_file, read_tracker
from tracker.workbook.reading import Tracker
from tracker.workbook.schema import Schema

if TYPE_CHECKING:  # the commit engine and the writer load when a command writes: a read needs neither
    from tracker.store.engine import Change, Snapshot

BACKUP_DIR = ".tracker-backups"
REPLAYS = 3


def office_lock_files(path: Path) -> list[Path]:
    """Lock files Excel (`~$name`) or LibreOffice (`.~lock.name#`) keep beside an open file."""
    names = [f"~${path.name}", f"~${path.name[2:]}", f".~lock.{path.name}#"]
    return [path.parent / name for name in dict.fromkeys(names) if (path.parent / name).exists()]


def lock_owner(lock: Path) -> str:
    """Who holds an office lock file, as well as it can be told, as printable text (the file is anyone's)."""

    return printable(_lock_owner(lock))


def _lock_owner(lock: Path) -> str:
    try:
        data = lock.read_bytes()[:512]
    except OSError:
        return "someone"
    if lock.name.startswith(".~lock."):
        parts = data.decode("utf-8", "replace").split(",")
        if len(parts) >= 3:
            who = parts[1] or parts[0]
            return f"{who} on {parts[2]}" + (f" since {parts[3]}" if len(parts) > 3 and parts[3] else "")
        return "someone (LibreOffice)"
    if data:
        size = data[0]
        name = data[1 : 1 + size].decode("latin-1", "replace").strip("\x00 ")
        if name:
            return name
    return "someone (Excel)"


def check_writable(path: Path) -> None:
    """Refuse to replace a workbook someone made read-only (the atomic rename would ignore its permissions)."""
    import stat

    if not path.stat().st_mode & stat.S_IWUSR:
        raise WorkbookError(
            f"{path.name} is read-only (its file permissions), so tracker will not change it; nothing was written. "
            "Make it writable (chmod u+w, or clear Read-only in its Properties) and run the command again"
        )


def check_not_open(path: Path) -> None:
    """Refuse to write while Excel or LibreOffice has the file open here."""
    locks = office_lock_files(path)
    if locks:
        lock = locks[0]
        raise WorkbookInUse(
            f"{path.name} is open in {'LibreOffice' if lock.name.startswith('.~lock.') else 'Excel'} "
            f"by {lock_owner(lock)} (lock file {lock.name}); close it there and run the command again. "
            f"If nobody has it open, the lock file is left over from a crash: delete {lock}"
        )


def atomic_write(path: Path, write: Callable[[Path], object], *, check: Callable[[Path], None] | None = None) -> Path:
    """Write a new version of `path` to a temporary file beside it; return that file.

    `write` fills the temporary file; `check` may refuse it. On any failure the temporary
    file is removed and `path` is untouched. The caller replaces `path` with `replace_file`.
    Every member of the new zip is read back to check its CRC, except those `write` says (a
    list of their names) it deflated itself from bytes in memory: their headers are checked,
    and 40 MB of sheet XML is not inflated again (60 ms of an update at 10,000 events).
    """
    from tracker.store.xlsx_layout import DAMAGED  # lazy: a write

    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        fresh = write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        try:
            with zipfile.ZipFile(tmp) as archive:
                bad = _bad_member(archive, set(fresh) if isinstance(fresh, list) else set())
        except DAMAGED as exc:  # a damaged part the write copied as it was: testzip raises zlib's error, not a name
            raise WorkbookError(
                f"the new version of {path.name} failed its zip check ({type(exc).__name__}: {exc}): the workbook "
                "holds a damaged part; nothing was written. Restore an earlier version (.tracker-backups/ beside "
                "the workbook)"
            ) from None
        if bad is not None:
            raise WorkbookError(f"the new version of {path.name} failed its zip check at {bad}; nothing written")
        if check is not None:
            check(tmp)
        if path.exists():
            shutil.copymode(path, tmp)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _bad_member(archive: zipfile.ZipFile, fresh: set[str]) -> str | None:
    """`ZipFile.testzip` leaving out the CRC of the `fresh` members: their local headers are still read and matched
    against the directory (zipfile raises on a mismatch)."""
    for info in archive.infolist():
        try:
            with archive.open(info) as member:
                while info.filename not in fresh and member.read(1 << 20):
                    pass
        except zipfile.BadZipFile:
            return info.filename
    return None


def replace_file(tmp: Path, path: Path) -> None:
    """Move `tmp` over `path` atomically and make the rename durable."""
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def keep_backup(path: Path, keep: int) -> Path | None:
    """Keep the current version in `.tracker-backups/`, the newest `keep` only."""
    if keep <= 0 or not path.exists():
        return None
    folder = path.parent / BACKUP_DIR
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    backup = folder / f"{path.stem}.{stamp}{path.suffix}"
    try:
        os.link(path, backup)  # the old inode stays behind when the file is replaced: no copy
    except OSError:
        shutil.copy2(path, backup)
    olds = sorted(folder.glob(f"{path.stem}.*{path.suffix}"))
    for old in olds[: max(0, len(olds) - keep)]:
        old.unlink(missing_ok=True)
    return backup


class LocalStore:
    """A workbook file on a local or shared drive."""

    def __init__(
        self,
        path: Path,
        schema: Schema,
        *,
        backups: int = 5,
        lock_timeout: float = 60.0,
        journal: Journal | None = None,
    ) -> None:
        self.path = path
        self.schema = schema
        self.backups = backups
        self.lock_timeout = lock_timeout
        self.location = str(path)
        self.journal = journal
        self.replayed: list[Edit] = []
        self.before: Plan | None = None
        self.set_aside: list[tuple[list[Edit], str]] = []
        self.shared = False  # every writer takes the lock beside the file
        self.last_read: Tracker | None = None

    def lock_path(self, purpose: str) -> Path:
        """Beside the workbook: every tracker.toml that names this file shares it."""
        return self.path.parent / f".{self.path.name}.tracker-{purpose}.lock"

    def read(self) -> Tracker:
        """Read the workbook with the fast reader."""
        self.last_read = read_tracker(self.path, self.schema)
        self.last_read.journal = self.journal
        return self.last_read

    def _lock(self):  # type: ignore[no-untyped-def]
        return files.file_lock(self.path.parent / f".{self.path.name}.tracker-lock").acquire(timeout=self.lock_timeout)

    def rows_now(self, sheet: str) -> list[dict[str, Any]] | None:
        """None: the lock beside the file already makes writers take turns."""
        return None

    def commit(self, plan: Plan, *, keep: bool = True) -> list[Edit]:
        """Write `plan`'s edits under the lock; plan again on a newer version if the file moved."""
        from filelock import Timeout

        from tracker.store import engine  # lazy: a write

        ensure_file(self.path)
        check_not_open(self.path)
        check_writable(self.path)
        try:
            with self._lock():
                self._clean_temp_files()
                result = engine.commit(self, plan, self.journal, replays=REPLAYS, keep=keep, before=self.before)
        except Timeout:
            raise WorkbookInUse(
                f"another tracker command has held the lock on {self.path.name} for over "
                f"{self.lock_timeout:.0f} s; try again, or raise [workbook] lock_timeout"
            ) from None
        self.replayed = result.replayed
        self.set_aside = result.set_aside
        return result.edits

    def _clean_temp_files(self) -> None:
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)

    # -- the engine's applier --------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The file as it is now, and its signature (to notice a save by someone else)."""
        from tracker.store.engine import WRITE_READS, Snapshot  # lazy: a write
        from tracker.store.xlsx_layout import Layout  # lazy: a write

        signature = files.signature(self.path)
        data = self.path.read_bytes()  # one read: the plan and the patch see exactly these bytes

        tracker = read_tracker(self.path, self.schema, data=data)
        if files.signature(self.path) == signature:  # (saved again before the read: its bytes are another file's)
            tracker.sieve.adopt(self.path, signature)  # the sheets inflated as the command began, if still that file
        tracker.some_rows(*WRITE_READS)  # found in the XML as the write asks for them, not parsed whole
        layout = Layout(data, name=self.path.name)
        layout.share(tracker.sieve)  # the XML the view inflates (some_rows), inflated once
        return Snapshot(tracker, (signature, data), layout)

    def write(self, snapshot: Snapshot, change: Change) -> None:
        """Patch the sheets the change touches into a new file and move it over the old one."""
        from tracker.store import xlsx  # lazy: a write
        from tracker.store.engine import Stale, note_written  # lazy: a write

        writes = change.sheet_writes()
        signature, data = snapshot.handle
        texts = snapshot.layout.texts if snapshot.layout is not None else None
        if snapshot.tracker.sieve is not None:
            snapshot.tracker.sieve.forget()  # the view is planned: its XML goes before the patch builds the new sheets
        tmp = atomic_write(self.path, lambda target: xlsx.patch(data, target, writes, texts))
        try:
            check_not_open(self.path)
            # saved by someone since it was read: its signature, or (rewritten in place, time, size and inode kept)
            # its parts: the patch of the bytes read would undo their change
            if files.signature(self.path) != signature or files.zip_directory(self.path) != files.zip_directory(data):
                raise Stale()
            keep_backup(self.path, self.backups)
            try:
                replace_file(tmp, self.path)
            finally:
                if not tmp.exists():  # moved into place: the change is in the workbook, whatever stops us now
                    note_written(change)
        finally:
            tmp.unlink(missing_ok=True)

"""Writing small local files safely: whole or not at all, durable, under a lock when several processes share one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` in one atomic, durable step: a reader never sees half of it, a crash leaves the
    old file or the new one. `mode`: e.g. 0o600 for a file only its owner may read; default, as any file the user
    makes (0o666 less the umask)."""

    def write(target: Path) -> None:
        with open(target, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())

    write_through(path, write, mode=mode)


def write_through(path: Path, write: Callable[[Path], object], *, mode: int | None = None) -> None:
    """Have `write(temporary path)` make the new file beside `path` (private while it is written), then give it
    `mode` (see `write_atomic`) and rename it over `path`."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    temp = Path(name)
    try:
        write(temp)
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


_LOCKS: dict[str, Any] = {}


def file_lock(path: Path) -> Any:
    """The process's one FileLock object for the lock file `path`. Kept for the life of the process: a lock object
    dropped mid-command runs filelock's finalizer at whatever moment, and a Ctrl-C landing in a finalizer is
    swallowed ("Exception ignored in ... KeyboardInterrupt"; CI's kill matrix caught it). One object per file
    also lets a holder take it again (it counts re-entries per thread). Acquire with `.acquire(timeout=...)`."""
    from filelock import FileLock

    key = str(path)
    if key not in _LOCKS:
        _LOCKS[key] = FileLock(key)
    return _LOCKS[key]


@contextmanager
def locked(path: Path, timeout: float, busy: Callable[[str], Exception]) -> Iterator[None]:
    """Hold the lock beside `path` (`path.lock`) that every process changing it takes; `busy(lock file)` is raised
    when another holds it past `timeout` seconds."""
    from filelock import Timeout

    lock = file_lock(path.with_name(path.name + ".lock"))
    try:
        with lock.acquire(timeout=timeout):
            yield
    except Timeout:
        raise busy(str(lock.lock_file)) from None


def signature(path: Path) -> tuple[int, int, int]:
    """What changes when a file is saved again (modification time, size, inode): a read that took a while, or began
    early, checks that it read the file as it still is."""
    found = path.stat()
    return found.st_mtime_ns, found.st_size, found.st_ino


def part_identity(info: Any) -> tuple[int, int, int]:
    """A zip member as its directory states it (a zipfile.ZipInfo: CRC-32, compressed and plain sizes): another
    version of the part differs."""
    return info.CRC, info.compress_size, info.file_size


def zip_directory(source: Path | bytes) -> list[tuple[str, int, int, int]] | None:
    """Each member of a zip file as its central directory states it (name, CRC-32, compressed and plain sizes),
    read from the directory alone (a few kB at the file's end); None when it is no readable zip file. Two versions
    of a workbook that differ in any part differ here, which a signature (time, size, inode) may not show: a file
    rewritten in place can keep all three."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
            return [(info.filename, *part_identity(info)) for info in archive.infolist()]
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return None

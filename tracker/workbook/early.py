"""Sheets a command starts parsing as it begins, before the command line loads (`tracker report`, `publish`,
`validate`): python-calamine parses in threads, and lets go of the interpreter meanwhile. Kept light (no
dataclasses or concurrent.futures: ~35 ms at start) so that the parse starts as early as it can; the native stderr
is silenced while calamine runs, since its Rust panics print below Python."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tracker.files import signature


def calamine(path: Any, data: bytes | None) -> Any:
    """A python-calamine workbook of `data` when given, else of the file at `path`."""
    import python_calamine

    if data is None:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    import io

    return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))


class Parsing:
    """One sheet being parsed in its own thread; `result()` waits for its cells (None: parse it again, as the file
    changed meanwhile or calamine panicked), or raises what the parse raised."""

    def __init__(self, work: Callable[[], list[list[Any]] | None]) -> None:
        self._done = threading.Event()
        self._cells: list[list[Any]] | None = None
        self._error: BaseException | None = None
        self._work = work
        # The parser threads of its file held back until the command first waits for a sheet: started with the
        # first, they shared two cores with the command's own imports and reads, and the first sheet, the one it
        # reads first, came ~40 ms later (`report`, `validate` at 10,000 events, bench/). Shared by the file's jobs.
        self.held: list[Callable[[], None]] = []

    def run(self) -> None:
        try:
            self._cells = self._work()
        except BaseException as exc:  # noqa: BLE001 - raised again in the thread that asks (`result`)
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> list[list[Any]] | None:
        while self.held:  # the command waits: the core its own work had is free for the other parsers
            try:
                start = self.held.pop(0)
            except IndexError:  # another thread took the last one meanwhile
                break
            with contextlib.suppress(RuntimeError):  # no thread to be had: the started ones take its sheets
                start()
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._cells


# Sheets of a workbook file a command started parsing as it began: the file's path -> (the file's signature then,
# sheet -> its parse). The first read of that file, unchanged, takes them (tracker.workbook.opening).
_EARLY: dict[str, tuple[tuple[int, int, int], dict[str, Parsing]]] = {}


def _key(path: Any) -> str:
    return os.path.realpath(path)


def taken_early(path: Any) -> dict[str, Parsing]:
    """The sheets of the file at `path` a command started parsing as it began, if the file is still that one."""
    early = _EARLY.pop(_key(path), None)
    try:
        return early[1] if early is not None and early[0] == signature(path) else {}
    except OSError:
        return {}


def parse_file_early(path: Any, names: tuple[str, ...]) -> None:
    """Start parsing these sheets of the workbook file at `path`, in this order, for a command that will read them
    whole: the first now, the others (two at a time at most on two processors) once the command waits for a sheet. A
    sheet is matched by name as the Tracker matches it (case aside); nothing is started for a file that cannot be
    opened (the command says why)."""
    path = Path(path)
    try:
        before = signature(path)
        titles = {title.casefold(): title for title in calamine(path, None).sheet_names}
    except Exception:  # noqa: BLE001 - a missing or damaged file: the command's own read names what is wrong
        return
    todo = [titles[n.casefold()] for n in names if n.casefold() in titles]
    if len(todo) < 2 or _key(path) in _EARLY:
        return

    def parse(title: str) -> list[list[Any]] | None:
        try:
            with native_stderr_quiet():
                cells = calamine(path, None).get_sheet_by_name(title).to_python(skip_empty_area=False)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - calamine panics (a BaseException) on some dates: parsed again when
            return None  # needed, where a panic falls back to openpyxl and a damaged sheet is named
        return cells if signature(path) == before else None  # saved again meanwhile: parsed again when needed

    own_stderr()  # now, in the main thread: a parser thread moving it could race a line the command prints
    jobs = {title: Parsing(functools.partial(parse, title)) for title in todo}
    queue = list(jobs.values())
    lock = threading.Lock()

    def worker() -> None:
        while threading.main_thread().is_alive():  # the command ended (Python's exit waits for this thread): no more
            with lock:
                if not queue:
                    return
                job = queue.pop(0)
            job.run()

    _EARLY[_key(path)] = (before, jobs)
    # not daemons: the interpreter must not stop under a parse (Rust aborts); its exit waits for them
    threads = [
        threading.Thread(target=worker, name=f"parse-early-{number}", daemon=False)
        for number in range(min(len(todo), os.cpu_count() or 1))
    ]
    held = [thread.start for thread in threads[1:]]
    for job in jobs.values():
        job.held = held  # started by the first `result` asked of any: the command waits for a sheet
    threads[0].start()  # the first sheet now, with a core to itself


def _stderr_at_start() -> bool:
    """Whether descriptor 2 was the process's stderr as it began: Python leaves `sys.__stderr__` None when it was
    closed (`2>&-`), and the next file opened (a module's source, the workbook) then takes number 2, which silencing
    would swap for /dev/null under the reader's feet."""
    try:
        return sys.__stderr__ is not None and sys.__stderr__.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


_STDERR_AT_START = _stderr_at_start()
_QUIET_LOCK = threading.Lock()
_quiet_state: list[int] = [0, -1]  # how many parsers run quietly now; the saved stderr descriptor


@contextmanager
def native_stderr_quiet() -> Iterator[None]:
    """Silence file descriptor 2 while native code runs (python-calamine's Rust panics print there, below
    Python); sheets parsed in parallel share one silence, restored when the last ends. What Python itself writes
    to stderr meanwhile (the command's notes and warnings, printed while a sheet parses in a thread) is not
    silenced: `sys.stderr` is first moved to a descriptor of its own (`own_stderr`)."""
    if not _STDERR_AT_START:  # descriptor 2 closed as the process began (`2>&-`): the number is another file's now
        yield
        return
    with _QUIET_LOCK:
        _quiet_state[0] += 1
        if _quiet_state[0] == 1:  # (after restore_native_stderr the count stays negative: no more silencing)
            try:
                own_stderr()
                saved = os.dup(2)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
                _quiet_state[1] = saved
            except OSError:
                _quiet_state[1] = -1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_state[0] -= 1
            if _quiet_state[0] == 0 and _quiet_state[1] >= 0:
                os.dup2(_quiet_state[1], 2)
                os.close(_quiet_state[1])
                _quiet_state[1] = -1


def own_stderr() -> None:
    """Point `sys.stderr` at a copy of descriptor 2, once, with the same encoding, error handling and line
    buffering: the silence of descriptor 2 then leaves what Python writes alone (it used to swallow a note the
    command printed while an early parse ran: "rehearsing at TRACKER_NOW", a warning). A stream on another
    descriptor (a test's capture, pythonw's None) is left as it is."""
    stream = sys.stderr
    try:
        if stream is None or stream.fileno() != 2:
            return
        stream.flush()
        copy = os.dup(2)
    except (AttributeError, OSError, ValueError):  # (io.UnsupportedOperation: no descriptor at all)
        return
    sys.stderr = open(  # noqa: SIM115 - Python's stderr from now on, open until the process ends
        copy,
        "w",
        encoding=stream.encoding,
        errors=stream.errors,
        buffering=1,
        closefd=True,
    )


def restore_native_stderr() -> None:
    """Give file descriptor 2 back now (Ctrl-C may arrive while parser threads still hold it silenced): the
    command's last words must reach the terminal."""
    with _QUIET_LOCK:
        if _quiet_state[1] >= 0:
            os.dup2(_quiet_state[1], 2)
            os.close(_quiet_state[1])
        _quiet_state[:] = [-(10**9), -1]  # threads still running never silence it again in this process

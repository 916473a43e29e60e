"""Opening a workbook file for reading: python-calamine parses the sheets (in threads, each when first needed), openpyxl the cells calamine cannot take; the native stderr silenced meanwhile, since calamine's Rust panics print below Python."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.cells import not_xlsx
from tracker.errors import WorkbookError
from tracker.files import signature
from tracker.workbook.reading import Tracker
from tracker.workbook.schema import Schema
from tracker.workbook.sieve import SheetSieve

if TYPE_CHECKING:
    from concurrent.futures import Future


def ensure_file(path: Path) -> None:
    if not path.exists():
        raise WorkbookError(f"workbook {path} does not exist; run `tracker init` to create one")
    if not path.is_file():
        raise WorkbookError(f"workbook {path} is not a file")


def _calamine(path: Path, data: bytes | None) -> Any:
    """A python-calamine workbook of `data` when given, else of the file at `path`."""
    import io

    import python_calamine

    if data is None:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))


def read_tracker(path: Path, schema: Schema, *, data: bytes | None = None, source: str = "") -> Tracker:
    """Open a workbook for reading with python-calamine (from `data` when given, else from `path`)."""
    if data is None:
        ensure_file(path)
    try:
        book = _calamine(path, data)
        names = list(book.sheet_names)
    except Exception as exc:  # noqa: BLE001 - calamine raises several unrelated types
        raise not_xlsx(path, exc, data) from None

    parsed: dict[str, list[list[Any]]] = {}
    coming: dict[str, Future[list[list[Any]] | None]] = _taken_early(path) if data is None else {}

    def parse(name: str, own: bool = False) -> list[list[Any]]:
        try:
            # a workbook object per thread: calamine parses without holding the GIL
            source_book = _calamine(path, data) if own else book
            with _native_stderr_quiet():  # a panic's message would reach the user's terminal raw
                return source_book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - calamine panics (a BaseException) on e.g. a date serial < -10^14
            return _parse_slowly(path, data, name)

    def load(name: str) -> list[list[Any]]:  # parsed once per command, however many views need it
        if name not in parsed:
            try:  # a sheet parsed in a thread (preload) raises here, when it is needed, as one parsed now would
                early = coming.pop(name).result() if name in coming else None
                parsed[name] = early if early is not None else parse(name)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - a damaged sheet: calamine and openpyxl raise many types
                raise not_xlsx(path, exc, data, sheet=name) from None
        return parsed[name]

    def preload(names: list[str]) -> None:
        """Start parsing these sheets in threads; `load` waits for each one only when it needs it,
        so typing the first sheet overlaps parsing the others."""
        todo = [n for n in names if n not in parsed and n not in coming]
        if len(todo) < 2:
            return
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1))
        for name in todo:
            coming[name] = pool.submit(parse, name, True)
        pool.shutdown(wait=False)

    tracker = Tracker(
        schema,
        names,
        load,
        source=source or str(path),
        preload=preload,
        sieve=SheetSieve(data if data is not None else path),
        parsing=lambda name: name in parsed or name in coming,
        parsed=lambda name: name in parsed,
    )
    tracker.content = data if data is not None else path
    return tracker


# Sheets of a workbook file a command started parsing as it began (parse_file_early): the file's path -> (the file's
# signature then, sheet -> its parse: None when the file changed meanwhile, parsed again). The first Tracker read
# from that file, unchanged, takes them.
_EARLY: dict[str, tuple[tuple[int, int, int], dict[str, Future[list[list[Any]] | None]]]] = {}


def _key(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path)


def _taken_early(path: Path) -> dict[str, Future[list[list[Any]] | None]]:
    """The sheets of the file at `path` a command started parsing as it began, if the file is still that one."""
    early = _EARLY.pop(_key(path), None)
    try:
        return early[1] if early is not None and early[0] == signature(path) else {}
    except OSError:
        return {}


def parse_file_early(path: Path, names: tuple[str, ...]) -> None:
    """Start parsing these sheets of the workbook file at `path` in threads (python-calamine lets go of the
    interpreter), for a command that will read them whole (`tracker report`, `publish`, `validate`), while the
    command line loads. A sheet is matched by name as the Tracker matches it (case aside); nothing is started for a
    file that cannot be opened (the command says why)."""
    from concurrent.futures import ThreadPoolExecutor

    try:
        before = signature(path)
        titles = {title.casefold(): title for title in _calamine(path, None).sheet_names}
    except Exception:  # noqa: BLE001 - a missing or damaged file: the command's own read names what is wrong
        return
    todo = [titles[n.casefold()] for n in names if n.casefold() in titles]
    if len(todo) < 2 or _key(path) in _EARLY:
        return

    def parse(title: str) -> list[list[Any]] | None:
        try:
            with _native_stderr_quiet():
                cells = _calamine(path, None).get_sheet_by_name(title).to_python(skip_empty_area=False)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - calamine panics (a BaseException) on some dates: parsed again when
            return None  # needed, where a panic falls back to openpyxl and a damaged sheet is named
        return cells if signature(path) == before else None  # saved again meanwhile: parsed again when needed

    pool = ThreadPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1))
    _EARLY[_key(path)] = (before, {title: pool.submit(parse, title) for title in todo})
    pool.shutdown(wait=False)


_QUIET_LOCK = threading.Lock()


_quiet_state: list[int] = [0, -1]  # how many parsers run quietly now; the saved stderr descriptor


@contextmanager
def _native_stderr_quiet() -> Iterator[None]:
    """Silence file descriptor 2 while native code runs (python-calamine's Rust panics print there, below
    Python); sheets parsed in parallel share one silence, restored when the last ends."""
    with _QUIET_LOCK:
        _quiet_state[0] += 1
        if _quiet_state[0] == 1:  # (after restore_native_stderr the count stays negative: no more silencing)
            try:
                sys.stderr.flush()
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


def restore_native_stderr() -> None:
    """Give file descriptor 2 back now (Ctrl-C may arrive while parser threads still hold it silenced): the
    command's last words must reach the terminal."""
    with _QUIET_LOCK:
        if _quiet_state[1] >= 0:
            os.dup2(_quiet_state[1], 2)
            os.close(_quiet_state[1])
        _quiet_state[:] = [-(10**9), -1]  # threads still running never silence it again in this process


def _parse_slowly(path: Path, data: bytes | None, name: str) -> list[list[Any]]:
    """One sheet read with openpyxl, for the cells python-calamine cannot take (it panics on some dates out of
    Excel's range; openpyxl shows those as #VALUE!, which validation then names)."""
    import io
    import warnings

    import openpyxl

    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        warnings.simplefilter("ignore")  # "the serial value is outside the limits for dates": validate says it
        # the file opened here, so it is closed also when openpyxl gives up on a damaged workbook half-way
        source = io.BytesIO(data) if data is not None else stack.enter_context(open(path, "rb"))
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
        try:
            return [list(row) for row in book[name].iter_rows(values_only=True)]
        finally:
            book.close()

"""Opening a workbook file for reading: python-calamine parses the sheets (in threads, each when first needed), openpyxl the cells calamine cannot take; the native stderr silenced meanwhile, since calamine's Rust panics print below Python."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.cells import error_cells, not_xlsx
from tracker.errors import WorkbookError
from tracker.workbook.early import calamine as _calamine
from tracker.workbook.early import native_stderr_quiet as _native_stderr_quiet
from tracker.workbook.early import own_stderr as _own_stderr
from tracker.workbook.early import taken_early as _taken_early
from tracker.workbook.reading import Tracker
from tracker.workbook.schema import Schema
from tracker.workbook.sieve import SheetSieve

if TYPE_CHECKING:
    from concurrent.futures import Future

    from tracker.workbook.early import Parsing


def ensure_file(path: Path) -> None:
    if not path.exists():
        raise WorkbookError(f"workbook {path} does not exist; run `tracker init` to create one")
    if not path.is_file():
        raise WorkbookError(f"workbook {path} is not a file")


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
    coming: dict[str, Future[list[list[Any]] | None] | Parsing] = {**_taken_early(path)} if data is None else {}

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
        """Start parsing these sheets in threads; `load` waits for each when it needs it (typing overlaps parsing)."""
        todo = [n for n in names if n not in parsed and n not in coming]
        if len(todo) < 2:
            return
        from concurrent.futures import ThreadPoolExecutor

        _own_stderr()  # in this thread, before the parsers silence descriptor 2 (tracker.workbook.early)
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


def _parse_slowly(path: Path, data: bytes | None, name: str) -> list[list[Any]]:
    """One sheet read with openpyxl, for the cells python-calamine cannot take (it panics on some dates out of
    Excel's range; openpyxl shows those as #VALUE!, which validation then names). A cell holding an Excel error
    (#N/A, ...) reads empty, as python-calamine reads it, and as the rows of the sheet it reads without the
    panicking one read it (tracker.workbook.sieve): validate names the error from the file (`Tracker.excel_errors`)."""
    import io
    import warnings

    import openpyxl

    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        warnings.simplefilter("ignore")  # "the serial value is outside the limits for dates": validate says it
        # the file opened here, so it is closed also when openpyxl gives up on a damaged workbook half-way
        source = io.BytesIO(data) if data is not None else stack.enter_context(open(path, "rb"))
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
        try:
            rows = [list(row) for row in book[name].iter_rows(values_only=True)]
        finally:
            book.close()
    for (number, column), _error in error_cells(data if data is not None else path, [name]).get(name, {}).items():
        if number <= len(rows) and column < len(rows[number - 1]):
            rows[number - 1][column] = ""
    return rows

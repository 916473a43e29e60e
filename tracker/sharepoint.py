"""The workbook in a SharePoint Online document library (commercial and US government clouds).

Requests go through `tracker.remote` (office365-rest-python-client with tracker's retries).

Writes apply a command's row edits to the newest version of the workbook, in one of two modes:
- `workbook-api` (default): through the Excel service in Microsoft Graph (add table rows,
  patch cells), which works while other people have the file open in Excel;
- `upload`: a whole-file upload with If-Match; a 412 means someone saved meanwhile, so the
  file is downloaded again and the same edits are re-applied; a 423 (open in Excel) keeps the
  edits in the local journal for `tracker sync`.
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tracker.auth import SharePointSettings
from tracker.edits import AppendRow, Edit, Plan, SetCells
from tracker.errors import ConflictError, RemoteError, WorkbookError, WorkbookInUse
from tracker.journal import Journal, Replay
from tracker.remote import Locked, Remote, Stale
from tracker.schema import Schema
from tracker.workbook import Tracker, column_letter, raw_key

REPLAYS = 6


def excel_value(value: Any) -> Any:
    """A value for the Excel service: times as serial numbers, text always as text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        from tracker.workbook import cell_value

        naive = cell_value(value)
        epoch = datetime(1899, 12, 30)
        return round((naive - epoch).total_seconds() / 86400, 8)
    if isinstance(value, bool) or isinstance(value, int | float):
        return value
    text = str(value)
    # A leading apostrophe makes Excel keep the text as typed: never a formula, a number or a date.
    return "'" + text


def progress_printer(label: str, stream: Any = None, minimum: int = 1_000_000) -> Callable[[int, int], None] | None:
    """A progress line for transfers of at least `minimum` bytes, on a terminal only."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total < minimum:
            return
        percent = 100 * done // max(total, 1)
        end = "" if done < total else "\n"
        print(f"\r{label} {done / 1e6:.1f} / {total / 1e6:.1f} MB ({percent}%)", end=end, file=stream, flush=True)

    return show


class SharePointStore:
    """The workbook in a SharePoint document library."""

    def __init__(
        self,
        settings: SharePointSettings,
        schema: Schema,
        *,
        remote: Remote | None = None,
        journal: Journal | None = None,
        verbose: bool = False,
    ) -> None:
        self.settings = settings
        self.schema = schema
        self.remote = remote or Remote(settings, verbose=verbose)
        self.journal = journal
        self.location = settings.file_url
        self.replayed: list[Edit] = []

    def read(self) -> Tracker:
        """Download once and read with the fast reader."""
        from tracker.workbook import read_tracker

        data, _ = self.remote.download(progress_printer("downloading"))
        return read_tracker(Path(self.settings.path), self.schema, data=data, source=self.location)

    def apply(self, plan: Plan) -> list[Edit]:
        """Apply the plan's edits to the newest version (replayed on conflict)."""
        with tempfile.TemporaryDirectory(prefix="tracker-") as folder:
            return self._apply(plan, Path(folder))

    def _apply(self, plan: Plan, folder: Path) -> list[Edit]:
        from tracker import roundtrip
        from tracker.writes import draft

        for attempt in range(REPLAYS):
            data, etag = self.remote.download(progress_printer("downloading"))
            path = folder / Path(self.settings.path).name
            path.write_bytes(data)
            # The Excel service never rewrites the file, so content openpyxl would drop is only a
            # reason to refuse in upload mode.
            change = draft(path, self.schema, plan, self.journal, source=self.location, refuse_risky=False)
            pending = change.replay.edits
            if not change.all_edits:
                self._done(change.replay)
                return []
            if self.settings.write_mode == "workbook-api":
                written = self._write_through_excel(change.tracker, change.all_edits, change.replay)
                return written[len(pending) :]
            roundtrip.refuse_if_risky(path, change.inspection)
            saved = path.with_name("new-" + path.name)
            change.save(saved)
            try:
                self.remote.upload(saved.read_bytes(), etag, progress_printer("uploading"))
            except Stale:
                time.sleep(random.uniform(0.05, 0.25 * 2**attempt))  # let the other writer finish, then replay
                continue
            except Locked as exc:
                if self.journal is None:
                    raise WorkbookInUse(self._locked_message(exc.owner, kept=False)) from None
                self.journal.add(change.edits, f"workbook open in Excel by {exc.owner}")  # `pending` is there already
                error = WorkbookInUse(self._locked_message(exc.owner, kept=True))
                error.journaled = True
                raise error from None
            self._done(change.replay)
            return change.edits
        raise ConflictError(
            f"the workbook kept changing on SharePoint ({REPLAYS} tries, each saved over by someone else first); "
            "nothing was written, run the command again"
        )

    def _done(self, replay: Replay) -> None:
        if self.journal is not None:
            self.journal.finish(replay)
        self.replayed = replay.edits

    def _locked_message(self, owner: str, *, kept: bool) -> str:
        text = f"SharePoint refused the upload: {Path(self.settings.path).name} is open in Excel by {owner}"
        if kept:
            text += (
                "; your change is kept in the local journal and will be written by the next command or "
                "`tracker sync` once the file is closed"
            )
        return text + ' (write_mode = "workbook-api" writes while others have it open)'

    def _write_through_excel(self, tracker: Tracker, edits: list[Edit], replay: Replay) -> list[Edit]:
        """Map row edits onto the Excel service: add table rows, patch the cells of one row.

        Returns the edits as written (a new row's key is renumbered if someone else added the
        same key meanwhile). If a request fails midway, what was not written waits in the journal.
        """
        from tracker.errors import TrackerError

        drive, item = self.remote.drive_item()
        base = f"/drives/{drive}/items/{item}/workbook"
        for edit in edits:  # every row to patch is checked before anything is written
            if isinstance(edit, SetCells):
                data = tracker.sheet(edit.sheet)
                target = data.find(edit.key)
                if target is None:
                    raise WorkbookError(f"no row {edit.key!r} on the {edit.sheet} sheet")
                self._check_row(base, data.title, data.columns[data.spec.key or ""], target.number, edit.key)
        written: list[Edit] = []
        rows: list[tuple[Edit, int]] = []  # appended rows and their sheet row numbers
        for index, edit in enumerate(edits):
            try:
                number = self._write_one(base, tracker, edit)
            except TrackerError as exc:
                rest = edits[index:]
                if self.journal is None or not written:
                    raise
                self.journal.remove(replay.lines)  # the journal now holds exactly what is still to write
                self.journal.add(rest, f"interrupted: {exc}")
                error = RemoteError(
                    f"{exc}. Already written: {_describe(written)}; waiting in the local journal: {_describe(rest)} "
                    "(`tracker sync` writes it)"
                )
                error.journaled = True
                raise error from None
            written.append(edit)
            if number is not None:
                rows.append((edit, number))
        self._done(replay)
        return self._renumber_clashes(base, tracker, edits, rows)

    def _write_one(self, base: str, tracker: Tracker, edit: Edit) -> int | None:
        data = tracker.sheet(edit.sheet)
        width = max([*data.columns.values(), *(i for i, _ in data.unknown_columns)], default=0) + 1
        if isinstance(edit, AppendRow):
            row = [""] * width
            for name, value in edit.values.items():
                row[data.columns[name]] = excel_value(value)
            body = self.remote.graph(
                "POST",
                f"{base}/tables/{quote(data.spec.table)}/rows",
                {"values": [row]},
                what=f"adding a row to the {edit.sheet} table",
            )
            index = (body or {}).get("index")
            return int(index) + 2 if isinstance(index, int) else None  # header on row 1
        assert isinstance(edit, SetCells)
        target = data.find(edit.key)
        assert target is not None
        self._patch(base, data.title, target.number, {data.columns[n]: excel_value(v) for n, v in edit.values.items()})
        return None

    def _patch(self, base: str, sheet: str, number: int, cells: dict[int, Any]) -> None:
        """Set cells of one sheet row ({column index: Excel value}), adjacent columns in one request."""
        for start, values in _runs(cells):
            end = start + len(values) - 1
            address = f"{column_letter(start)}{number}:{column_letter(end)}{number}"
            self.remote.graph(
                "PATCH",
                f"{base}/worksheets/{quote(sheet)}/range(address='{address}')",
                {"values": [values]},
                idempotent=True,
                what=f"updating {sheet}!{address}",
            )

    def _renumber_clashes(
        self, base: str, tracker: Tracker, edits: list[Edit], rows: list[tuple[Edit, int]]
    ) -> list[Edit]:
        """Give a new key to a row we added whose key someone else added first (two `open`s at once).

        The earlier row keeps the key; a later one takes the next free number and checks again
        until no earlier row holds its key, so several writers at once settle on distinct keys.
        """
        out = list(edits)
        for edit, number in rows:
            data = tracker.sheet(edit.sheet)
            keyname = data.spec.key
            if not keyname or keyname not in edit.values or keyname not in data.columns:
                continue
            original = current = str(edit.values[keyname])
            letter = column_letter(data.columns[keyname])
            for _ in range(20):
                body = self.remote.graph(
                    "GET",
                    f"{base}/worksheets/{quote(data.title)}/range(address='{letter}2:{letter}{number + 50}')?$select=values",
                    idempotent=True,
                    what=f"checking the {keyname} column of {data.title}",
                )
                column = [str(r[0]) if r and r[0] is not None else "" for r in (body or {}).get("values", [])]
                if current.casefold() not in (v.casefold() for v in column[: number - 2]):
                    break
                current = _next_key(current, column + _referenced(tracker, edit.sheet, keyname))
                self._patch(base, data.title, number, {data.columns[keyname]: excel_value(current)})
                time.sleep(random.uniform(0.0, 0.2))
            else:
                raise ConflictError(
                    f"{data.title}!{letter}{number}: could not settle on a free {keyname}; fix it by hand"
                )
            if current == original:
                continue
            for other, other_number in rows:  # rows of this batch that point at the old key
                other_data = tracker.sheet(other.sheet)
                for name, value in other.values.items():
                    spec = other_data.spec.fields.get(name)
                    if other is not edit and spec and spec.ref == (edit.sheet, keyname) and str(value) == original:
                        self._patch(
                            base, other_data.title, other_number, {other_data.columns[name]: excel_value(current)}
                        )
            out = [_replace_value(e, original, current) for e in out]
        return out

    def _check_row(self, base: str, sheet: str, key_column: int, number: int, key: str) -> None:
        """Make sure the row still holds this key (nobody sorted or inserted rows meanwhile)."""
        address = f"{column_letter(key_column)}{number}"
        body = self.remote.graph(
            "GET",
            f"{base}/worksheets/{quote(sheet)}/range(address='{address}')?$select=values",
            idempotent=True,
            what=f"checking {sheet}!{address}",
        )
        values = (body or {}).get("values") or [[None]]
        if raw_key(values[0][0]) != raw_key(key):
            raise ConflictError(
                f"{sheet}!{address} no longer holds {key!r} (rows were moved while tracker was writing); "
                "nothing more was written, run the command again"
            )


def _describe(edits: list[Edit]) -> str:
    return ", ".join(
        f"{'a new ' + e.sheet + ' row' if isinstance(e, AppendRow) else e.sheet + ' ' + e.key}" for e in edits
    )


def _referenced(tracker: Tracker, sheet: str, keyname: str) -> list[str]:
    """Every value other sheets use to point at `sheet`'s key: those IDs are taken too."""
    out = []
    for spec in tracker.schema:
        for field in spec.fields.values():
            if field.ref == (sheet, keyname) and tracker.sheet(spec.name).present:
                out += [str(r[field.name]) for r in tracker.sheet(spec.name).rows if r[field.name] is not None]
    return out


def _next_key(old: str, taken: list[str]) -> str:
    """`old` with its trailing number raised above every taken key of the same form."""
    match = re.match(r"^(.*?)(\d+)$", old)
    if not match:
        raise ConflictError(f"someone else added {old!r} at the same moment; run the command again")
    prefix, digits = match.groups()
    highest = max(
        (int(v[len(prefix) :]) for v in taken if v.startswith(prefix) and v[len(prefix) :].isdigit()), default=0
    )
    return f"{prefix}{highest + 1:0{len(digits)}d}"


def _replace_value(edit: Edit, old: str, new: str) -> Edit:
    values = {k: (new if isinstance(v, str) and v == old else v) for k, v in edit.values.items()}
    if isinstance(edit, AppendRow):
        return AppendRow(edit.sheet, values, edit.unique)
    return SetCells(edit.sheet, edit.key, values, edit.expect)


def _runs(cells: dict[int, Any]) -> list[tuple[int, list[Any]]]:
    """Group {column: value} into runs of adjacent columns."""
    runs: list[tuple[int, list[Any]]] = []
    for column in sorted(cells):
        if runs and runs[-1][0] + len(runs[-1][1]) == column:
            runs[-1][1].append(cells[column])
        else:
            runs.append((column, [cells[column]]))
    return runs

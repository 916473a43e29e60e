"""The Excel-service applier: a commit's checked edits go to the workbook through Microsoft Graph.

The Excel service writes into the file while other people have it open in Excel, so this is
the SharePoint default. One commit is one Graph JSON batch, its requests chained with
`dependsOn` so they run in order: first a read of every row about to be patched (its key
must still be there: nobody sorted the table meanwhile), then the patches, then the new
table rows, then a read of the key column when new rows carry a unique key. The batch runs in
one workbook session, as Microsoft recommends for more than one or two calls: createSession
before it, closeSession as its last request (sent again on its own if the batch stopped before
it). With the drive item id cached, a write command makes four requests (properties, download,
createSession, the batch with closeSession last in it).

The Excel service saves the file a moment after a write (Microsoft does not promise when a
download shows it), so each commit's edits are also kept in a small local file of recent
writes, tied to the ETag of the version they were written on: until SharePoint's copy has a
newer ETag, every read on this machine shows them (read your own writes), a new row on the
row the service put it on (rows other machines added meanwhile may have pushed it down).
`table_rows` reads a table back through the service itself, other clients' rows included.

A 409 (another client holds the workbook for edit) or a 423 keeps the edits in the journal.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tracker import retry
from tracker.errors import ConflictError, RemoteError, TrackerError, WorkbookError
from tracker.microsoft365.remote import error_text, lock_owner
from tracker.store.engine import WRITE_READS, Busy, Change, Interrupted, Snapshot
from tracker.store.excel_batch import (
    Answer,
    ItemGone,
    Request,
    WorkbookSession,
    anchored,
    batch_body,
    column_runs,
    error_codes,
    excel_value,
    filled_first,
    key_column,
    leave_out,
    next_key,
    referenced,
)
from tracker.store.recent import SharePointWorkbook, recent_writes
from tracker.store.xlsx_layout import Layout
from tracker.times import CLOCK
from tracker.workbook.cell_values import raw_key
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.opening import read_tracker
from tracker.workbook.reading import ROW_KEY, SheetData, column_letter

BATCH_LIMIT = 20  # Microsoft Graph JSON batching: at most 20 requests per batch
_RETRY = {429, 503, 504}


# --- the applier ----------------------------------------------------------------------------


class ExcelService:
    """Applier for `write_mode = "workbook-api"`."""

    def __init__(self, store: SharePointWorkbook) -> None:
        self.store = store
        self.remote = store.remote
        self.recent = recent_writes(store)
        self.last: Snapshot | None = None  # the newest snapshot this applier took
        self.session = WorkbookSession(self.remote, self._busy_message)

    # -- engine hooks -------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Download and read with calamine; recent writes the file does not show yet are shown too."""
        data, etag = self.store.download()
        tracker = read_tracker(Path(self.store.settings.path), self.store.schema, data=data, source=self.store.location)
        tracker.preload(*WRITE_READS)  # parsed side by side (the typed-row check reads both)
        self.recent.show(tracker, etag, prune=True)  # under the journal lock: the commit holds it
        layout = Layout(data, totals_ok=True, name=Path(self.store.settings.path).name)  # it adds rows above totals
        self.last = Snapshot(tracker, (data, etag), layout)
        return self.last

    def table_rows(self, sheet: str) -> list[dict[str, Any]]:
        """The sheet's table rows as the Excel service has them now (its unsaved writes and other clients'
        included), in table order, each as {field: value as Excel shows it} (graph/api/table-list-rows)."""
        snapshot = self.last or self.snapshot()
        _data, etag = snapshot.handle
        data = snapshot.tracker.sheet(sheet)
        assert snapshot.layout is not None
        found = snapshot.layout.table(data.title, data.spec.table)
        if found is None:
            raise WorkbookError(f"sheet {data.title!r} has no Excel table; run `tracker validate`")
        table, area = found
        path = f"{self._base(etag)}/tables/{quote(table)}/rows?$select=index,values"
        items: list[dict[str, Any]] = []
        while path:
            page = (
                self.remote.graph(
                    "GET", path, idempotent=True, what=f"reading the {table} table", permission="workbook"
                )
                or {}
            )
            items += [item for item in page.get("value", []) if isinstance(item, dict)]
            link = str(page.get("@odata.nextLink") or "")
            path = link[len(self.store.settings.graph_url) :] if link.startswith(self.store.settings.graph_url) else ""
        out = []
        for item in sorted(items, key=lambda i: int(i.get("index", 0))):
            values = (item.get("values") or [[]])[0]
            out.append(
                {
                    name: values[col - area.left]
                    for name, col in data.columns.items()
                    if 0 <= col - area.left < len(values)
                }
            )
        return out

    def write(self, snapshot: Snapshot, change: Change) -> None:
        """One workbook session: one batch (check rows, patch, add rows, check keys, close the session), the
        session closed on its own if the batch did not; then remember the edits until the file shows them."""
        try:
            self._write(snapshot, change)
        finally:
            self.session.close()

    def _write(self, snapshot: Snapshot, change: Change) -> None:
        _data, etag = snapshot.handle
        layout = snapshot.layout
        assert layout is not None
        for attempt in range(2):
            base = self._base(etag)
            requests = self._plan(change, base, layout)
            try:
                self.session.open(base)
                # closeSession rides last in the batch: one request fewer (graph/workbook-best-practice, step 4)
                close = Request("POST", f"{base}/closeSession", {}, what="closing the workbook session", kind="close")
                answers = self._send([*requests, close])
                break
            except ItemGone as gone:
                self.session.close()
                self._forget_item()
                if attempt:
                    raise WorkbookError(
                        f"{gone.what}: Microsoft Graph cannot find it in {self.store.name} (404: {gone.detail}); "
                        "check that the sheet and table names match the schema (`tracker validate`)"
                    ) from None
            except Interrupted as cut:
                self.recent.add(etag, cut.written)
                raise
        placed: dict[int, int] = {}
        try:
            self._settle(change, requests, answers, base, placed)
        except Interrupted as cut:
            self.recent.add(etag, cut.written, placed)
            raise
        except BaseException:
            self.recent.add(etag, change.edits, placed)  # all was written; only tidying up after it failed
            raise
        self.recent.add(etag, change.edits, placed)

    # -- building the batch ---------------------------------------------------------------------

    def _plan(self, change: Change, base: str, layout: Layout) -> list[Request]:
        """The requests of a change: a check of each row it patches, the patches (a request per run of adjacent
        cells), the rows it adds (a request per table), and a read of each key column rows were added to."""
        assert change.tracker is not None
        tracker = change.tracker
        appended: dict[tuple[str, int], dict[str, Any]] = {}
        adds: dict[str, list[tuple[AppendRow, dict[str, Any]]]] = {}
        patches: dict[tuple[str, int], tuple[str, dict[str, Any], list[Edit]]] = {}
        for edit in change.edits:
            number = change.row(edit)
            if isinstance(edit, AppendRow):
                values = dict(edit.values)
                appended[(edit.sheet, number)] = values
                adds.setdefault(edit.sheet, []).append((edit, values))
            elif (edit.sheet, number) in appended:  # a row added in this commit: one request carries both
                appended[(edit.sheet, number)].update(edit.values)
            else:
                key, values, edits = patches.setdefault((edit.sheet, number), (edit.key, {}, []))
                values.update(edit.values)
                edits.append(edit)
        checks: list[Request] = []
        writes: list[Request] = []
        for (sheet, number), (key, values, edits) in patches.items():
            check, patched = _patch_requests(tracker.sheet(sheet), base, number, key, values, edits)
            checks.append(check)
            writes += patched
        keys: list[Request] = []
        for sheet, rows in adds.items():
            add, read_keys = _add_requests(tracker.sheet(sheet), base, layout, rows)
            writes.append(add)
            keys += read_keys
        return checks + writes + keys

    # -- sending ----------------------------------------------------------------------------------

    def _send(self, requests: list[Request]) -> list[Answer]:
        """Send in batches of at most 20, each chained in order; retry what throttling stopped.

        Raises Busy (nothing written yet), Interrupted (part written: the rest to journal) or a
        TrackerError (nothing written).
        """
        answers: list[Answer] = []
        position = 0
        tries = retry.Retries()
        while position < len(requests):
            chunk = requests[position : position + BATCH_LIMIT]
            try:
                raw = self.remote.graph(
                    "POST",
                    "/$batch",
                    batch_body(chunk, self.session.headers),
                    what="writing to the workbook (Graph batch)",
                    permission="workbook",
                )
            except TrackerError as exc:  # the whole batch may or may not have run
                self._stop(str(exc), requests, position, uncertain_until=position + len(chunk))
                raise
            by_id = {str(r.get("id")): Answer(r) for r in (raw or {}).get("responses", [])}
            done, renewed = 0, False
            for index, request in enumerate(chunk):
                answer = by_id.get(str(index + 1))
                if answer is None:  # Graph said nothing about it: it may or may not have run
                    message = f"{request.what}: Microsoft Graph gave no answer for it in the batch"
                    self._stop(message, requests, position + index, uncertain_until=position + len(chunk))
                    raise RemoteError(message + "; nothing was written")
                if answer.status_code == 424:  # an earlier one failed: that one is handled below or retried
                    break
                if request.kind == "close":  # a failed close is sent again on its own, after the batch
                    self.session.closed(answer.status_code < 400)
                    answers.append(answer)
                    done += 1
                    continue
                if answer.status_code == 404 and not renewed and self._renew(answer, requests, position + index):
                    renewed = True  # the session expired: the rest goes again in a new one
                    break
                if answer.status_code >= 400:
                    # a row add that timed out (504) may have landed: retrying it could add the row twice
                    again = answer.status_code in _RETRY and not (answer.status_code == 504 and request.kind == "add")
                    if again and tries.made < tries.attempts:
                        break
                    self._fail(request, answer, requests, position + index, tries.said)
                answers.append(answer)
                done += 1
            refused = by_id.get(str(done + 1))
            if done < len(chunk) and not renewed and not tries.again(retry.retry_after(refused, tries.made)):
                message = f"{chunk[done].what}: Microsoft Graph did not run it {tries.said}"
                if tries.out_of_time and retry.asked(refused) is not None:
                    message = f"{chunk[done].what}: {tries.too_long('the Excel service', 'throttled or busy')}"
                self._stop(message, requests, position + done)
                raise RemoteError(message + "; nothing was written, try again later")
            position += done
        return answers

    def _renew(self, answer: Answer, requests: list[Request], index: int) -> bool:
        """A new session for the rest of the batch when the service says this one is gone; if that fails after part
        of the batch was written, the rest goes to the journal (Interrupted), never the whole change."""
        try:
            return self.session.renew(answer)
        except (Busy, ItemGone, TrackerError) as exc:
            self._stop(f"the workbook session ended and a new one could not be opened: {exc}", requests, index)
            raise

    def _follow_up(self, base: str) -> dict[str, str]:
        """The session header for a request after the batch (a key another writer took, a row put back): the
        batch closed its session, so these rare ones open another; sessionless if that cannot be had."""
        try:
            self.session.open(base)
        except (Busy, ItemGone, TrackerError):
            return {}
        return self.session.headers

    def _stop(self, message: str, requests: list[Request], stopped: int, uncertain_until: int = 0) -> None:
        """Part of the batch went through: raise Interrupted with what was written and what was not.

        The requests from `stopped` up to `uncertain_until` may have been applied (a timeout, a
        batch without an answer): the rows they add are journaled to be added only if absent,
        and so they are journaled even when nothing before them was written.
        """
        written = [e for r in requests[:stopped] if r.kind in ("patch", "add") for e in r.edits]  # not "close"
        rest: list[Edit] = []
        uncertain = False
        for index, request in enumerate(requests[stopped:], start=stopped):
            if request.kind not in ("patch", "add"):
                continue
            maybe = index < uncertain_until
            uncertain |= maybe
            rest += [
                AppendRow(e.sheet, e.values, e.unique, True) if maybe and isinstance(e, AppendRow) else e
                for e in request.edits
            ]
        if written or uncertain:
            raise Interrupted(message, written, rest)

    def _fail(self, request: Request, answer: Answer, requests: list[Request], index: int, said: str) -> None:
        status = answer.status_code
        code = error_codes(answer.body)
        written = any(r.kind in ("patch", "add") for r in requests[:index])
        if status == 404 and "itemnotfound" in code and not written:
            raise ItemGone(request.what, error_text(answer))
        if status in (409, 423) and not written:
            raise Busy(self._busy_message(status, answer))
        error = self.remote.failure("graph", status, answer, request.what, "workbook")
        if status == 504 and request.kind == "add":
            error = RemoteError(
                f"{request.what}: Microsoft Graph timed out (504); the rows may have been added all the same, so "
                "they are kept to be added only if they are not there"
            )
        elif status in _RETRY:
            error = RemoteError(
                f"{request.what}: still throttled or unavailable ({status}) {said}; "
                "nothing more was written, try again later"
            )
        self._stop(str(error), requests, index, uncertain_until=index + 1 if status == 504 else 0)
        raise error

    def _busy_message(self, status: int, answer: Answer) -> str:

        name = self.store.name
        owner = lock_owner(answer)
        who = f" by {owner}" if owner != "someone" else ""
        if status == 409:
            return (
                f"the Excel service could not write {name}: another client holds the workbook for editing{who} "
                f"(409: {error_text(answer) or 'conflict'})"
            )
        return f"the Excel service could not write {name}: it is locked{who} (423)"

    # -- after the batch ----------------------------------------------------------------------------

    def _settle(
        self, change: Change, requests: list[Request], answers: list[Answer], base: str, placed: dict[int, int]
    ) -> None:
        """Check what the batch answered; `placed` gets id(AppendRow of the change) -> the sheet row the Excel
        service put it on. A row-addressed patch finding a cell it expected empty filled gives way (no error)."""
        moved: list[tuple[Request, Answer]] = []
        given_way: list[tuple[Request, Answer]] = []
        for request, answer in zip(requests, answers, strict=False):
            if request.kind == "check":
                found = anchored(answer.body, request.data["left"], request.data["anchors"])
                if found != request.data["anchors"]:  # moved, or filled by another tracker first: it gives way
                    gave = request.data["row_key"] and filled_first(request.data["anchors"], found)
                    (given_way if gave else moved).append((request, answer))
            elif request.kind == "add":
                index = answer.body.get("index")
                if isinstance(index, int):
                    for offset, (edit, _values) in enumerate(request.data["rows"]):
                        placed[id(edit)] = request.data["top"] + 1 + index + offset
            elif request.kind == "keys":
                self._settle_keys(change, request, answer, base, placed)
        self._put_back(moved + given_way, base)
        leave_out(change, [r for r, _ in given_way])
        if moved:
            rows = {(r.data["sheet"], r.data["number"]) for r, _ in moved}
            rest = [e for request, _ in moved for e in request.edits]
            written = [
                e
                for r in requests
                if r.kind in ("patch", "add") and (r.data.get("sheet"), r.data.get("number")) not in rows
                for e in r.edits
            ]
            raise Interrupted(
                "rows were moved (sorted?) on "
                + ", ".join(sorted({sheet for sheet, _ in rows}))
                + " while tracker was writing; the cells it had written on the wrong row were put back",
                written,
                rest,
            )

    def _put_back(self, moved: list[tuple[Request, Answer]], base: str) -> None:
        for request, answer in moved:
            formulas = answer.body.get("formulas") or answer.body.get("values")
            if not formulas:
                continue
            number, left = request.data["number"], request.data["left"]
            kind = "formulas" if answer.body.get("formulas") else "values"
            self._set(base, request.data["sheet"], left, number, formulas[0], kind, "putting back")

    def _set(self, base: str, sheet: str, col: int, number: int, values: list[Any], kind: str, what: str) -> None:
        address = f"{column_letter(col)}{number}:{column_letter(col + len(values) - 1)}{number}"
        self.remote.graph(
            "PATCH",
            f"{base}/worksheets/{quote(sheet)}/range(address='{address}')",
            {kind: [values]},
            idempotent=True,
            what=f"{what} {sheet}!{address}",
            headers=self._follow_up(base),
            permission="workbook",
        )

    def _settle_keys(self, change: Change, request: Request, answer: Answer, base: str, placed: dict[int, int]) -> None:
        """A new row whose key another writer added on an earlier row meanwhile (two `open`s at once)
        takes the next free key; the writer whose row is later gives way. A row that gave way checks its new key
        against the column read again after writing it, and gives way again while any other row holds it: two
        writers that both gave way never keep the same key (they chose it from reads taken before either wrote)."""
        assert change.tracker is not None
        tracker = change.tracker
        data = tracker.sheet(request.data["sheet"])
        keyname = data.spec.key or ""
        column = key_column(answer.body)
        for edit, _values in request.data["rows"]:
            original = current = str(edit.values.get(keyname, ""))
            number = placed.get(id(edit))
            if not original or number is None:
                continue
            for attempt in range(20):
                rivals = range(number - 1) if attempt == 0 else (i for i in range(len(column)) if i != number - 1)
                if not any(column[i].casefold() == current.casefold() for i in rivals if i < len(column)):
                    break
                current = next_key(current, column + referenced(tracker, request.data["sheet"], keyname))
                self._set(
                    base, data.title, data.columns[keyname], number, [excel_value(current)], "values", "renumbering"
                )
                CLOCK.wait(random.uniform(0.0, 0.2))  # let a rival that read the same column write its choice
                column = key_column(
                    self.remote.graph(
                        "GET",
                        request.url,
                        idempotent=True,
                        what=f"checking the {keyname} column again",
                        headers=self._follow_up(base),
                        permission="workbook",
                    )
                )
            else:
                raise ConflictError(
                    f"{data.title}: could not settle on a free {keyname} for {original!r}; fix it by hand"
                )
            if current != original:
                self._renumbered(change, edit, keyname, original, current, base, placed)

    def _renumbered(
        self, change: Change, edit: AppendRow, keyname: str, old: str, new: str, base: str, placed: dict[int, int]
    ) -> None:
        """Rows of this commit that point at the renumbered key follow it; so do the edits reported back."""
        assert change.tracker is not None
        tracker = change.tracker
        pointing = {
            (spec.name, f.name)
            for spec in tracker.schema
            for f in spec.fields.values()
            if f.ref == (edit.sheet, keyname) or (spec.name == edit.sheet and f.name == keyname)
        }

        def moved(one: Edit) -> Edit:
            values = {
                k: (new if (one.sheet, k) in pointing and isinstance(v, str) and v == old else v)
                for k, v in one.values.items()
            }
            if values == dict(one.values):
                return one
            if isinstance(one, AppendRow):
                return AppendRow(one.sheet, values, one.unique, one.if_absent)
            return SetCells(one.sheet, new if one.key == old else one.key, values, one.expect)

        for other in change.edits:
            number = placed.get(id(other))
            if other is edit or not isinstance(other, AppendRow) or number is None:
                continue
            data = tracker.sheet(other.sheet)
            for name, value in other.values.items():
                if (other.sheet, name) in pointing and name != keyname and value == old:
                    self._set(base, data.title, data.columns[name], number, [excel_value(new)], "values", "updating")
        change.own = [moved(e) for e in change.own]
        change.replay = [moved(e) for e in change.replay]

    # -- the drive item ---------------------------------------------------------------------------

    @property
    def _ids_path(self) -> Path | None:
        journal = self.store.journal
        return journal.path.with_name(".tracker-graph-items.json") if journal else None

    def _base(self, etag: str) -> str:
        """The workbook's Graph path; the drive item id is remembered for the file the ETag names."""
        url = self.store.settings.file_url
        file_id = etag.strip('"').split(",")[0]  # SharePoint's ETag: "{UniqueId},version"
        cache: dict[str, Any] = {}
        path = self._ids_path
        if path is not None:
            try:
                cache = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                cache = {}
        ids = cache.get(url)
        if not (isinstance(ids, list) and len(ids) == 3 and ids[2] == file_id):  # a new file at the same path
            ids = [*self.remote.drive_item(), file_id]
            cache[url] = ids
            if path is not None:
                try:
                    path.write_text(json.dumps(cache), encoding="utf-8")
                except OSError:
                    pass
        return f"/drives/{ids[0]}/items/{ids[1]}/workbook"

    def _forget_item(self) -> None:
        path = self._ids_path
        if path is not None:
            path.unlink(missing_ok=True)


def _patch_requests(
    data: SheetData, base: str, number: int, key: str, values: dict[str, Any], edits: list[Edit]
) -> tuple[Request, list[Request]]:
    """A check of the row's key and cells (still the row we mean, no formula), and the patches of its runs."""
    sheet = data.spec.name
    anchors = _anchors(data, key, edits)
    names = {data.columns[n]: n for n in values}
    left, right = min([*anchors, *names]), max([*anchors, *names])
    address = f"{column_letter(left)}{number}:{column_letter(right)}{number}"
    where = {"sheet": data.title, "number": number}
    check = Request(
        "GET",
        f"{base}/worksheets/{quote(data.title)}/range(address='{address}')?$select=values,formulas",
        what=f"checking {data.title}!{address}",
        edits=edits,
        kind="check",
        data=where | {"left": left, "anchors": anchors, "row_key": key.startswith(ROW_KEY)},
    )
    writes = []
    for start, run in column_runs({col: excel_value(values[name]) for col, name in names.items()}):
        run_address = f"{column_letter(start)}{number}:{column_letter(start + len(run) - 1)}{number}"
        part = {names[col]: values[names[col]] for col in range(start, start + len(run))}
        writes.append(
            Request(
                "PATCH",
                f"{base}/worksheets/{quote(data.title)}/range(address='{run_address}')",
                {"values": [run]},
                what=f"updating {data.title}!{run_address}",
                edits=[SetCells(sheet, key, part)],  # exactly the cells this request writes
                kind="patch",
                data=where,
            )
        )
    return check, writes


def _anchors(data: SheetData, key: str, edits: list[Edit]) -> dict[int, str]:
    """The cells that say the row is still the one meant (column -> folded value): its key; for a row named by its
    number (`ROW_KEY`), the cells its edits' `expect` holds (e.g. a typed row's Note and empty Applied)."""
    if not key.startswith(ROW_KEY):
        return {data.columns[data.spec.key or ""]: raw_key(key)}
    out: dict[int, str] = {}
    for edit in edits:
        if isinstance(edit, SetCells) and edit.expect:
            out |= {data.columns[n]: raw_key(v) for n, v in edit.expect.items() if n in data.columns}
    return out


def _add_requests(
    data: SheetData, base: str, layout: Layout, rows: list[tuple[AppendRow, dict[str, Any]]]
) -> tuple[Request, list[Request]]:
    """The request adding `rows` to the sheet's table, and a read of its key column when the key is unique."""
    sheet = data.spec.name
    found = layout.table(data.title, data.spec.table)
    if found is None:
        raise WorkbookError(f"sheet {data.title!r} has no Excel table to add rows to; run `tracker validate`")
    table, area = found
    matrix = []
    for _edit, values in rows:
        row: list[Any] = [""] * (area.right - area.left + 1)
        for name, value in values.items():
            col = data.columns[name]
            if not area.left <= col <= area.right:
                raise WorkbookError(
                    f"{data.title}: column {data.spec.fields[name].title!r} ({column_letter(col)}) is outside "
                    f"table {table} ({area}); widen the table to take it in"
                )
            row[col - area.left] = excel_value(value)
        matrix.append(row)
    added: list[Edit] = [AppendRow(edit.sheet, values, edit.unique, edit.if_absent) for edit, values in rows]
    add = Request(
        "POST",
        f"{base}/tables/{quote(table)}/rows",
        {"index": None, "values": matrix},
        what=f"adding {len(matrix)} row(s) to the {table} table",
        edits=added,  # with the cells later edits of this commit set on those rows
        kind="add",
        data={"sheet": sheet, "rows": rows, "top": area.top},
    )
    keyname = data.spec.key
    if not (keyname and data.spec.fields[keyname].unique and keyname in data.columns):
        return add, []
    letter = column_letter(data.columns[keyname])
    last = max(data.last_row, area.bottom + len(rows)) + 50
    keys = Request(
        "GET",
        f"{base}/worksheets/{quote(data.title)}/range(address='{letter}1:{letter}{last}')?$select=values",
        what=f"checking the {keyname} column of {data.title}",
        kind="keys",
        data={"sheet": sheet, "rows": rows},
    )
    return add, [keys]

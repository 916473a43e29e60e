"""The workbook in a SharePoint Online document library (commercial and US government clouds).

Requests go through office365-rest-python-client (sign-in, form digest, transport), one
request at a time, with tracker's own retry loop: 429/503 honour Retry-After with bounded,
jittered backoff; timeouts and dropped connections are retried when the request is safe to
repeat; an expired token is refreshed once; 401/403 name the permission to grant.

Writes apply a command's row edits to the newest version of the workbook, in one of two modes:
- `workbook-api` (default): through the Excel service in Microsoft Graph (add table rows,
  patch cells), which works while other people have the file open in Excel;
- `upload`: a whole-file upload with If-Match; a 412 means someone saved meanwhile, so the
  file is downloaded again and the same edits are re-applied; a 423 (open in Excel) keeps the
  edits in the local journal for `tracker sync`.
"""

from __future__ import annotations

import base64
import logging
import random
import re
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tracker.auth import SharePointSettings, Tokens, tokens_for
from tracker.edits import AppendRow, Edit, Plan, SetCells
from tracker.errors import AuthError, ConfigError, ConflictError, RemoteError, WorkbookError, WorkbookInUse
from tracker.journal import Journal
from tracker.schema import Schema
from tracker.workbook import Tracker, column_letter

if TYPE_CHECKING:
    import requests

log = logging.getLogger("tracker.http")

MAX_ATTEMPTS = 5
MAX_WAIT = 60.0
REPLAYS = 6

PERMISSIONS = {
    "sharepoint": "Sites.ReadWrite.All (or Sites.Selected with write access to this site) for SharePoint",
    "graph": "Files.ReadWrite.All or Sites.ReadWrite.All (or Sites.Selected) for Microsoft Graph",
    "mail": "Mail.Send for Microsoft Graph",
}


class Stale(Exception):
    """The file changed since it was downloaded (412); the caller replays."""


class Locked(Exception):
    """SharePoint refuses the upload: the file is open for co-authoring (423)."""

    def __init__(self, owner: str) -> None:
        super().__init__(owner)
        self.owner = owner


def _retry_after(response: Any, attempt: int) -> float:
    """Seconds to wait: the server's Retry-After (seconds or HTTP date), else exponential; jittered, bounded."""
    value = response.headers.get("Retry-After") if response is not None else None
    wait = None
    if value:
        try:
            wait = float(value)
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                wait = (
                    parsedate_to_datetime(value) - datetime.now(parsedate_to_datetime(value).tzinfo)
                ).total_seconds()
            except (TypeError, ValueError):
                wait = None
    if wait is None:
        wait = min(2.0**attempt, 30.0)
    wait = max(0.0, min(wait, MAX_WAIT))
    return wait + random.uniform(0, min(1.0, wait * 0.1 + 0.05))


def _error_text(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "")[:200]
    error: Any = body.get("error") or body.get("odata.error") or {} if isinstance(body, dict) else {}
    if not isinstance(error, dict):
        return str(error)[:300]
    message = error.get("message", "")
    if isinstance(message, dict):
        message = message.get("value", "")
    return str(message or error.get("code", ""))[:300]


def _lock_owner(response: Any) -> str:
    text = _error_text(response)
    marker = "locked for shared use by "
    if marker in text:
        return text.split(marker, 1)[1].rstrip(". ")
    marker = "locked for exclusive use by "
    if marker in text:
        return text.split(marker, 1)[1].rstrip(". ")
    return "someone"


@dataclass
class HttpLog:
    """Logs each request (method, path, status, time) to stderr with --verbose; never headers."""

    enabled: bool = False

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A requests response hook."""
        if not self.enabled:
            return
        from urllib.parse import urlsplit

        parts = urlsplit(response.request.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        size = response.headers.get("Content-Length", "?")
        elapsed = response.elapsed.total_seconds() * 1000
        print(
            f"http: {response.request.method} {parts.netloc}{path} -> {response.status_code} ({elapsed:.0f} ms, {size} B)",
            file=sys.stderr,
        )


class Remote:
    """One sign-in to SharePoint and Graph, and every request tracker makes to them."""

    def __init__(self, settings: SharePointSettings, tokens: Tokens | None = None, *, verbose: bool = False) -> None:
        self.settings = settings
        self.tokens = tokens or tokens_for(settings)
        self.http_log = HttpLog(verbose)
        self._ctx: Any = None
        self._graph: Any = None
        logging.getLogger("office365").setLevel(logging.CRITICAL)  # its token-hook tracebacks would reach users

    def _session(self) -> requests.Session:
        import requests

        session = requests.Session()
        session.hooks["response"].append(self.http_log.hook)
        session.trust_env = True
        return session

    def client(self, api: str) -> Any:
        """The office365 client for `sharepoint` or `graph` (built on first use)."""
        if api == "sharepoint":
            if self._ctx is None:
                from office365.sharepoint.client_context import ClientContext

                self._ctx = (
                    ClientContext(self.settings.site_url)
                    .with_access_token(self.tokens.sharepoint)
                    .with_transport(session=self._session(), timeout=self.settings.timeout)
                )
                # Requests signed with an OAuth token need no form digest (Microsoft's REST docs); dropping
                # it saves a round trip and keeps the client's own, unbounded digest retries out of the way.
                pending = self._ctx.pending_request()
                pending.beforeExecute -= pending.ensure_form_digest
            return self._ctx
        if self._graph is None:
            from office365.graph_client import GraphClient

            self._graph = GraphClient(token_callback=self.tokens.graph).with_transport(
                session=self._session(), timeout=self.settings.timeout
            )
        return self._graph

    def _reset(self, api: str) -> None:
        if api == "sharepoint":
            self._ctx = None
        else:
            self._graph = None

    def request(
        self,
        api: str,
        method: str,
        url: str,
        *,
        data: bytes | str | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
        what: str = "",
        permission: str | None = None,
    ) -> requests.Response:
        """Send one request with retries; SharePoint's 412 and 423 come back as Stale / Locked."""
        import requests
        from office365.runtime.client_request_exception import ClientRequestException
        from office365.runtime.http.http_method import HttpMethod
        from office365.runtime.http.request_options import RequestOptions

        refreshed = False
        what = what or f"{method} {url}"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            options = RequestOptions(url)
            options.method = HttpMethod(method)
            for name, value in (headers or {}).items():
                options.set_header(name, value)
            if json_body is not None:
                options.data = json_body  # the client serializes it
                options.set_header("Content-Type", "application/json")
            elif data is not None:
                options.data = data
            if api == "sharepoint":
                options.set_header("Accept", "application/json;odata=nometadata")
            try:
                return self.client(api).pending_request().execute_request_direct(options)
            except ClientRequestException as exc:
                response = exc.response
                status = response.status_code if response is not None else 0
                self._reset(api)
                if status in (429, 503):
                    if attempt < MAX_ATTEMPTS:
                        time.sleep(_retry_after(response, attempt))
                        continue
                    raise RemoteError(
                        f"{what}: still throttled or unavailable ({status}) after {MAX_ATTEMPTS} attempts; "
                        "nothing was written, try again later"
                    ) from None
                if status == 504 and idempotent and attempt < MAX_ATTEMPTS:
                    time.sleep(_retry_after(response, attempt))
                    continue
                if status == 401 and not refreshed:
                    refreshed = True
                    self.tokens.refresh()
                    continue
                if status == 412:
                    raise Stale() from None
                if status == 423:
                    raise Locked(_lock_owner(response)) from None
                raise self._failure(api, status, response, what, permission) from None
            except AuthError:
                raise
            except (requests.Timeout, requests.ConnectionError) as exc:
                self._reset(api)
                if idempotent and attempt < MAX_ATTEMPTS:
                    time.sleep(_retry_after(None, attempt))
                    continue
                raise RemoteError(
                    f"{what}: no answer from {self.settings.origin if api == 'sharepoint' else self.settings.graph_url} "
                    f"({type(exc).__name__}); "
                    + (
                        "gave up after retries"
                        if idempotent
                        else "not retried since it may have been applied; check, then run again"
                    )
                ) from None
        raise RemoteError(
            f"{what}: still throttled after {MAX_ATTEMPTS} attempts; nothing was written, try again later"
        )

    def _failure(self, api: str, status: int, response: Any, what: str, permission: str | None) -> Exception:
        detail = _error_text(response) if response is not None else ""
        if status == 401:
            hint = (
                "set a fresh token in TRACKER_SHAREPOINT_TOKEN / TRACKER_GRAPH_TOKEN"
                if self.settings.auth == "token-env"
                else "run `tracker login` again"
                if self.settings.auth == "device-code"
                else "check the app registration and certificate"
            )
            return AuthError(f"{what}: {api} refused the sign-in (401{': ' + detail if detail else ''}); {hint}")
        if status == 403:
            need = PERMISSIONS[permission or api]
            return AuthError(f"{what}: access denied (403{': ' + detail if detail else ''}); the sign-in needs {need}")
        if status == 404:
            return ConfigError(
                f"{what}: not found (404){': ' + detail if detail else ''}; check [sharepoint] site_url and path"
            )
        return RemoteError(
            f"{what}: {api} answered {status}{': ' + detail if detail else ''}; nothing more was written"
        )

    # --- SharePoint REST ---------------------------------------------------------------

    def file_url(self, suffix: str = "") -> str:
        """REST URL of the workbook file (with an optional /$value or method suffix)."""
        path = self.settings.path.replace("'", "''")
        return f"{self.settings.site_url}/_api/web/getFileByServerRelativePath(DecodedUrl='{quote(path)}'){suffix}"

    def properties(self) -> dict[str, Any]:
        """ETag and Length of the workbook."""
        response = self.request(
            "sharepoint",
            "GET",
            self.file_url("?$select=ETag,Length,TimeLastModified"),
            what="reading the workbook's properties",
        )
        body = response.json()
        return body.get("d", body)

    def download(self, progress: Callable[[int, int], None] | None = None) -> tuple[bytes, str]:
        """The workbook's bytes and the ETag they belong to."""
        props = self.properties()
        etag = str(props.get("ETag", ""))
        length = int(props.get("Length") or 0)
        chunk = self.settings.chunk_size
        if length <= chunk:
            data = self.request("sharepoint", "GET", self.file_url("/$value"), what="downloading the workbook").content
            if progress:
                progress(len(data), len(data))
            return data, etag
        parts = []
        received = 0
        while received < length:
            end = min(received + chunk, length) - 1
            part = self.request(
                "sharepoint",
                "GET",
                self.file_url("/$value"),
                headers={"Range": f"bytes={received}-{end}"},
                what="downloading the workbook",
            ).content
            if not part:
                break
            parts.append(part)
            received += len(part)
            if progress:
                progress(received, length)
        return b"".join(parts), etag

    def upload(self, data: bytes, etag: str, progress: Callable[[int, int], None] | None = None) -> None:
        """Replace the workbook if it is still at `etag` (If-Match); big files go up in chunks."""
        chunk = self.settings.chunk_size
        match = {"If-Match": etag}
        if len(data) <= chunk:
            self.request(
                "sharepoint",
                "POST",
                self.file_url("/$value"),
                data=data,
                headers={"X-HTTP-Method": "PUT", **match},
                idempotent=False,
                what="uploading the workbook",
            )
            if progress:
                progress(len(data), len(data))
            return
        upload_id = str(uuid.uuid4())
        offset = 0
        total = len(data)
        while offset < total:
            piece = data[offset : offset + chunk]
            last = offset + len(piece) >= total
            if offset == 0:
                suffix, headers = f"/startUpload(uploadId=guid'{upload_id}')", match
            elif last:
                suffix, headers = f"/finishUpload(uploadId=guid'{upload_id}',fileOffset={offset})", match
            else:
                suffix, headers = f"/continueUpload(uploadId=guid'{upload_id}',fileOffset={offset})", {}
            try:
                self.request(
                    "sharepoint",
                    "POST",
                    self.file_url(suffix),
                    data=piece,
                    headers=headers,
                    idempotent=False,
                    what="uploading the workbook",
                )
            except BaseException:
                if offset:
                    self._cancel(upload_id)
                raise
            offset += len(piece)
            if progress:
                progress(offset, total)

    def _cancel(self, upload_id: str) -> None:
        try:
            self.request(
                "sharepoint",
                "POST",
                self.file_url(f"/cancelUpload(uploadId=guid'{upload_id}')"),
                idempotent=False,
                what="cancelling the upload",
            )
        except Exception:  # noqa: BLE001 - the original failure is what the user needs to see
            pass

    # --- Microsoft Graph -------------------------------------------------------------------

    def drive_item(self) -> tuple[str, str]:
        """(drive id, item id) of the workbook, resolved through its sharing URL."""
        encoded = base64.urlsafe_b64encode(self.settings.file_url.encode()).decode().rstrip("=")
        response = self.request(
            "graph",
            "GET",
            f"{self.settings.graph_url}/shares/u!{encoded}/driveItem?$select=id,parentReference",
            what="finding the workbook in Microsoft Graph",
        )
        body = response.json()
        return str(body["parentReference"]["driveId"]), str(body["id"])

    def graph(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        idempotent: bool = False,
        what: str = "",
        permission: str = "graph",
    ) -> Any:
        """A Graph request relative to graph_url; returns the parsed JSON (or None)."""
        response = self.request(
            "graph",
            method,
            f"{self.settings.graph_url}{path}",
            json_body=body,
            idempotent=idempotent,
            what=what,
            permission=permission,
        )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None


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
        from tracker.journal import pending_edits
        from tracker.workbook import (
            apply_edits,
            apply_validations,
            check_edits,
            load_for_write,
            tracker_from_openpyxl,
        )

        for _ in range(REPLAYS):
            data, etag = self.remote.download(progress_printer("downloading"))
            path = folder / Path(self.settings.path).name
            path.write_bytes(data)
            try:
                inspection = roundtrip.inspect(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise WorkbookError(
                    f"{self.location} is not an .xlsx workbook ({exc}); restore an earlier version in SharePoint's version history"
                ) from None
            book = load_for_write(path, inspection)
            tracker = tracker_from_openpyxl(book, self.schema, source=self.location)
            edits = plan(tracker)
            pending = pending_edits(tracker, self.journal)
            if not edits and not pending:
                return []
            check_edits(tracker, pending + edits)
            if self.settings.write_mode == "workbook-api":
                written = self._write_through_excel(tracker, pending + edits)
                self._done(pending)
                return written[len(pending) :]
            roundtrip.refuse_if_risky(path, inspection)
            apply_edits(book, tracker, pending + edits)
            apply_validations(book, self.schema)
            saved = path.with_name("new-" + path.name)
            book.save(saved)
            roundtrip.compare_saved(path, inspection, saved)
            try:
                self.remote.upload(saved.read_bytes(), etag, progress_printer("uploading"))
            except Stale:
                time.sleep(random.uniform(0.05, 0.5))  # let the other writer finish before replaying
                continue
            except Locked as exc:
                if self.journal is None:
                    raise WorkbookInUse(self._locked_message(exc.owner, kept=False)) from None
                self.journal.add(edits, f"workbook open in Excel by {exc.owner}")  # `pending` is there already
                raise WorkbookInUse(self._locked_message(exc.owner, kept=True)) from None
            self._done(pending)
            return edits
        raise ConflictError(
            f"the workbook kept changing on SharePoint ({REPLAYS} tries, each saved over by someone else first); "
            "nothing was written, run the command again"
        )

    def _done(self, pending: list[Edit]) -> None:
        if self.journal is not None and pending:
            self.journal.clear()
        self.replayed = pending

    def _locked_message(self, owner: str, *, kept: bool) -> str:
        text = f"SharePoint refused the upload: {Path(self.settings.path).name} is open in Excel by {owner}"
        if kept:
            text += (
                "; your change is kept in the local journal and will be written by the next command or "
                "`tracker sync` once the file is closed"
            )
        return text + ' (write_mode = "workbook-api" writes while others have it open)'

    def _write_through_excel(self, tracker: Tracker, edits: list[Edit]) -> list[Edit]:
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
                self.journal.add(rest, f"interrupted: {exc}")
                raise RemoteError(
                    f"{exc}. Already written: {_describe(written)}; waiting in the local journal: {_describe(rest)} "
                    "(`tracker sync` writes it)"
                ) from None
            written.append(edit)
            if number is not None:
                rows.append((edit, number))
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
                current = _next_key(current, column)
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
        if str(values[0][0]).casefold() != str(key).casefold():
            raise ConflictError(
                f"{sheet}!{address} no longer holds {key!r} (rows were moved while tracker was writing); "
                "nothing more was written, run the command again"
            )


def _describe(edits: list[Edit]) -> str:
    return ", ".join(
        f"{'a new ' + e.sheet + ' row' if isinstance(e, AppendRow) else e.sheet + ' ' + e.key}" for e in edits
    )


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

"""A stand-in for SharePoint Online REST and Microsoft Graph on 127.0.0.1, for tests.

It implements only what `tracker` needs: file properties, download (ranges, If-Match, If-Range),
overwrite (with If-Match), chunked upload, the Excel workbook endpoints (table rows, ranges,
sessions), JSON batching, sendMail, and modern site pages with pictures in a Site Assets library
(`pages`, `assets`), keeping real .xlsx bytes. Requests are answered in the
shapes office365-rest-python-client 3.3.0 parses (SharePoint: `odata=verbose` unless the client
asks for nometadata; Graph: plain JSON). Faults (throttling, failures, shared locks, someone else
saving, another client holding the workbook for edit) are injected request by request, and
racing writers can be lined up (`hold_writes`, `before_next_write`).

The Excel service can be told to save late (`save_late`): its writes then live in its own copy,
which workbook reads see at once, while the file (download, properties, ETag) keeps the old
bytes until `persist` (or closeSession of a persistChanges session).

    with StandIn() as sp:
        sp.put_file("/sites/ops/Shared Documents/Event Tracker.xlsx", data)
        ctx = ClientContext(sp.site_url).with_access_token(...)
        graph = GraphClient(token_callback=...).with_transport(session=sp.graph_session())
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import requests
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.worksheet import Worksheet
from requests.adapters import HTTPAdapter

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
DRIVE_ID = "DRIVE-1"
ASSETS_DRIVE_ID = "DRIVE-ASSETS"
# graph/api/sitepage-create, "Supported web parts": the standard web parts Graph accepts on a page
WEB_PART_TYPES = {
    "e377ea37-9047-43b9-8cdb-a761be2f8e09": "Bing Maps",
    "0f087d7f-520e-42b7-89c0-496aaf979d58": "Button",
    "df8e44e7-edd5-46d5-90da-aca1539313b8": "Call To Action",
    "2161a1c6-db61-4731-b97c-3cdb303f7cbb": "Divider",
    "b7dd04e1-19ce-4b24-9132-b60a1c2b910d": "Document Embed",
    "d1d91016-032f-456d-98a4-721247c305e8": "Image",
    "af8be689-990e-492a-81f7-ba3e4cd3ed9c": "Image Gallery",
    "6410b3b6-d440-4663-8744-378976dc041e": "Link Preview",
    "e84a8ca2-f63c-4fb9-bc0b-d8eef5ccb22b": "Org Chart",
    "7f718435-ee4d-431c-bdbf-9c4ff326f46e": "People",
    "c70391ea-0b10-4ee9-b2b4-006d3fcad0cd": "Quick Links",
    "8654b779-4886-46d4-8ffb-b5ed960ee986": "Spacer",
    "544dd15b-cf3c-441b-96da-004d5a8cea1d": "Youtube Embed",
}
IMAGE_WEB_PART = "d1d91016-032f-456d-98a4-721247c305e8"
# graph/api/resources/horizontalsection: horizontalSectionLayoutType and sectionEmphasisType
SECTION_LAYOUTS = {
    "none",
    "oneColumn",
    "twoColumns",
    "threeColumns",
    "oneThirdLeftColumn",
    "oneThirdRightColumn",
    "fullWidth",
    "flexible",
}
SECTION_EMPHASIS = {"none", "neutral", "netural", "soft", "strong"}
PAGE_WRITABLE = {  # graph/api/sitepage-create and sitepage-update: the properties a request body may carry
    "@odata.type",
    "name",
    "title",
    "description",
    "pageLayout",
    "showComments",
    "showRecommendedPages",
    "titleArea",
    "canvasLayout",
    "thumbnailWebUrl",
    "promotionKind",
}
LOCKING_CALLS = {"$value", "startupload", "continueupload", "finishupload", "checkout"}
MAIL_REQUEST_BYTES = 4 * 1024 * 1024  # sendMail's request limit (see _send_mail)
MAX_BATCH = 20  # graph/json-batching: "JSON batch requests are currently limited to 20 individual requests"

_FILE = re.compile(
    r"web/(?:getFileByServerRelative(?:Path\(DecodedUrl=|Url\()|(getFileById)\((?:guid)?)'((?:[^']|'')*)'\)(?:/(.*))?",
    re.I,
)
_FOLDER_ADD = re.compile(
    r"web/getFolderByServerRelative(?:Path\(DecodedUrl=|Url\()'((?:[^']|'')*)'\)/Files/add\((.*)\)", re.I
)
_CALL = re.compile(r"(\$?\w*)(?:\((.*)\))?")
_PARAM = re.compile(r"(\w+)=(?:guid)?('(?:[^']|'')*'|[^,]*)")
_WORKBOOK = re.compile(
    r"tables(?:/|\(')([^/']+)'?\)?/rows(/add)?"
    r"|worksheets(?:/|\(')([^/']+)'?\)?/range\(address='([^']*)'\)",
    re.I,
)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}( \d{1,2}:\d{2}(:\d{2})?)?")


class HttpError(Exception):
    """An error answer: status, error code and message, optional extra headers and Graph innerError fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        inner: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        self.inner = inner or {}


@dataclass
class StoredFile:
    """One file in the document library, with the version counter SharePoint keeps."""

    path: str
    data: bytes
    item_id: str
    unique_id: str = field(default_factory=lambda: str(uuid.uuid4()).upper())
    version: int = 1
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def etag(self) -> str:
        """SharePoint's ETag: quotes included, fixed GUID, number bumped by every change."""
        return f'"{{{self.unique_id}}},{self.version}"'

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Session:
    """A workbook session: the file it belongs to and whether it was created with persistChanges."""

    path: str
    persist: bool


@dataclass
class Request:
    """What the handler read from the socket (or one request out of a JSON batch)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Reply:
    """What to send back; `after` runs once the reply is made, before it is sent (see `_serve`)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None


class StandIn:
    """SharePoint REST under `site_url`, Graph under `graph_url`, both on one loopback port."""

    def __init__(self, site_path: str = "/sites/ops", library: str = "Shared Documents") -> None:
        self.site_path = "/" + site_path.strip("/")
        self.library = library
        self.tokens: set[str] = {"sp-token", "graph-token"}
        self.requests: list[dict[str, Any]] = []  # one entry per HTTP request (a $batch is one)
        self.batched: list[dict[str, Any]] = []  # the requests inside batches, with "batch": its number (1, 2, ...)
        self.sent_mail: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[Exception] = []  # the stand-in's own crashes (answered 500)
        self.site_id = f"127.0.0.1,{uuid.uuid4()},{uuid.uuid4()}"
        self.pages: dict[str, dict[str, Any]] = {}  # page id → the sitePage as Graph keeps it (canvasLayout included)
        self.assets: dict[str, StoredFile] = {}  # lower-cased path in Site Assets → the file
        self.has_site_assets = True  # False: the site has no Site Assets library until EnsureSiteAssetsLibrary
        self.page_list_size = 200  # site pages per answer to a list (Graph paginates with @odata.nextLink)
        self.page_filter_ignored = False  # True: a list's $filter is ignored, as reported on some tenants
        # Site Assets carries the `system` facet, so a plain drive list leaves it out
        # (https://learn.microsoft.com/en-us/graph/api/drive-list, remarks: drives with the system facet are hidden)
        self.assets_system = True
        # True: a Graph sign-in without Sites.Read.All / Sites.ReadWrite.All, which getting a site needs
        # (https://learn.microsoft.com/en-us/graph/api/site-getbypath, permissions): the site answers 403
        self.sites_read_denied = False
        # True: nor Files.ReadWrite.All / Sites.ReadWrite.All, which /shares needs (graph/api/shares-get): 403 there
        self.shares_denied = False
        self.assets_list_id = str(uuid.uuid4())
        self.asset_types: dict[str, str] = {}  # item id → the Content-Type it was uploaded with
        self._page_refusals: list[int] = []
        self._before_page_write: Callable[[StandIn], None] | None = None
        self._files: dict[str, StoredFile] = {}
        self._uploads: dict[str, tuple[str, bytearray]] = {}
        self._sessions: dict[str, Session] = {}
        self._close_failures: list[int] = []  # statuses for the next closeSession calls (see fail_close_sessions)
        # True: the Excel endpoints refuse app-only tokens, as their pages document ("Application: Not supported",
        # graph/api/table-post-rows, range-update, workbook-createsession). False (default): they serve them, as
        # real tenants are reported to (microsoft-graph-docs-contrib issue 8691).
        self.refuse_app_only_excel = False
        self._locks: dict[str, str] = {}
        self._faults: list[tuple[str, int, str | None]] = []  # (kind, status, retry_after), consumed in order
        self._rows_add_failure: int | None = None
        self._rows_add_lands = False
        self._workbook_faults: list[tuple[int, str | None]] = []  # (status, retry_after) for the next writes
        self._held: dict[str, str] = {}  # path → top-level error code while another client holds it for edit
        self._late: set[str] = set()  # paths whose Excel-service writes wait for persist()
        self._live: dict[str, bytes] = {}  # path → the Excel service's copy, not yet saved into the file
        # path → (bytes, the workbook parsed from them): the Excel service keeps a workbook open between requests;
        # parsing ~50 KB with openpyxl for every inner request of a batch was most of the stand-in's time
        self._parsed: dict[str, tuple[bytes, Any]] = {}
        # path → (file, workbook): Excel-service writes of the batch being answered, saved into the file once it
        # ends (or before a request of it reads the file) rather than once per write: a batch is answered under the
        # stand-in's lock, so no other client can tell, and the file gets one new version per batch rather than one
        # per write (the service saves its work, not each request). An openpyxl save per write was most of the
        # stand-in's time (13.8 of 27 s of CPU in a kill matrix trial set, 5.4 s after)
        self._deferred: dict[str, tuple[StoredFile, Any]] = {}
        self._in_batch = 0
        self._mail_refusals: list[int] = []
        self._mail_timeouts = 0
        # The team mailboxes intake reads: "mailbox/folder" (lower case) -> its messages as Graph keeps them, each
        # with the sequence number of its last change; the delta query's state tokens (skip and delta) -> the round
        # they continue (see _messages_delta); every delta call as (kind, token): ("initial", ""), ("skiptoken", t),
        # ("deltatoken", t).
        self.mail_folders: dict[str, list[dict[str, Any]]] = {}
        self._mail_changes = itertools.count(1)
        self._delta_states: dict[str, dict[str, Any]] = {}
        self.delta_calls: list[tuple[str, str]] = []
        # A page of a delta round holds at most this many messages whatever the client prefers: odata.maxpagesize is
        # a preference, and "the service MAY apply a smaller page size" (OData 4.01 Part 1, 8.2.8.3)
        self.mail_page_cap: int | None = None
        self._before_send_mail: Callable[[StandIn], None] | None = None
        self.identities: dict[str, dict[str, Any]] = {}  # token → its claims (user_token, app_token)
        self.mailbox_rights: dict[str, dict[str, set[str]]] = {}  # mailbox → user → Exchange rights (grant_mailbox)
        self._after_download: Callable[[StandIn], None] | None = None
        self._after_properties: Callable[[StandIn], None] | None = None
        self._during_download: tuple[Callable[[StandIn], None], int] | None = None  # (callback, chunks to go)
        self._batches = 0
        self._write_gate: tuple[threading.Barrier, list[int]] | None = None  # (barrier, [writes still to hold])
        self._before_write: Callable[[StandIn], None] | None = None
        self.gate_timeouts = 0
        self._ids = itertools.count(1)
        self._state = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sharepoint-standin", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.site_url = self.url + self.site_path
        self.graph_url = self.url + "/graph/v1.0"

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the server and its thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def graph_session(self) -> requests.Session:
        """A requests session that sends https://graph.microsoft.com/v1.0/... here instead.

        Pass it to `GraphClient(...).with_transport(session=...)`.
        """
        session = requests.Session()
        session.trust_env = False  # no proxy from the environment, ever
        session.mount(GRAPH_ROOT, _RewriteAdapter(GRAPH_ROOT, self.graph_url))
        return session

    # -- files, as the test sets them up and reads them back ---------------------------------------

    def put_file(self, server_relative_path: str, data: bytes) -> StoredFile:
        """Create the file or save a new version of it (someone else saving, as far as the client knows).

        A whole new file replaces the Excel service's unsaved copy too (see `save_late`): the
        service reopens the new version and workbook writes it had not saved yet are lost.
        """
        with self._state:
            self._deferred.pop(server_relative_path.lower(), None)  # the new version replaces what waited too
            self._live.pop(server_relative_path.lower(), None)
            stored = self._files.get(server_relative_path.lower())
            if stored is None:
                stored = StoredFile(server_relative_path, bytes(data), f"ITEM-{next(self._ids)}")
                self._files[server_relative_path.lower()] = stored
            else:
                stored.data, stored.version, stored.modified = bytes(data), stored.version + 1, datetime.now(UTC)
            return stored

    def get_file(self, path: str) -> bytes:
        """The stored bytes."""
        return self._file(path).data

    def _file(self, path: str) -> StoredFile:
        with self._state:
            self._save_deferred()
            stored = self._files.get(path.lower())
        if stored is None:
            raise HttpError(404, "-2147024894, System.IO.FileNotFoundException", f"File Not Found: {path}")
        return stored

    def etag(self, path: str) -> str:
        """The file's current ETag, e.g. `"{GUID},7"`."""
        return self._file(path).etag

    def version(self, path: str) -> int:
        """The file's version counter."""
        return self._file(path).version

    # -- the Excel service's copy ------------------------------------------------------------------

    def save_late(self, path: str, late: bool = True) -> None:
        """Whether Excel-service writes to `path` wait in the service's own copy until `persist`.

        Without a session Microsoft says changes "are persisted to the file" but not when a
        download shows them (learn.microsoft.com/graph/api/workbook-createsession; Q&A 1190202:
        the download lagged until closeSession). With `late`, workbook reads see each write at
        once; the file's bytes, properties and ETag stay as they were until `persist(path)` or a
        closeSession of a persistChanges session. Turning it off saves what is pending.
        """
        with self._state:
            if late:
                self._late.add(path.lower())
            else:
                self._late.discard(path.lower())
                self.persist(path)

    def persist(self, path: str) -> StoredFile:
        """The Excel service saves its copy into the file: a new version (new ETag). No-op if nothing is pending."""
        with self._state:
            stored = self._file(path)  # (what the batch being answered wrote, saved first)
            live = self._live.get(path.lower())
            return stored if live is None else self.put_file(stored.path, live)

    def live_copy(self, path: str) -> bytes:
        """The workbook as the Excel service sees it (its unsaved copy, else the file)."""
        with self._state:
            stored = self._file(path)
            return self._live.get(path.lower(), stored.data)

    def hold_for_edit(self, path: str, code: str = "conflict") -> None:
        """Another client holds the workbook for edit: Excel-service writes answer 409, reads still work.

        The error is Microsoft's documented one: top-level `conflict` (graph/workbook-error-codes,
        409) with innerError `accessConflict`, "for example, another client has locked the
        workbook for edit" (graph/workbook-error-handling). Real answers have been seen with the
        top-level code `EditModeCannotAcquireLock`: pass `code=` to send that instead.
        """
        with self._state:
            self._held[path.lower()] = code

    def release_edit(self, path: str) -> None:
        """The other client lets go of the workbook."""
        with self._state:
            self._held.pop(path.lower(), None)

    # -- faults ------------------------------------------------------------------------------------

    def expire(self, token: str) -> None:
        """From now on requests carrying `token` get 401."""
        self.tokens.discard(token)

    def throttle(self, count: int, retry_after: str = "1", status: int = 429) -> None:
        """The next `count` requests get `status` with a Retry-After header."""
        self._faults += [("throttle", status, retry_after)] * count

    def fail(self, count: int, status: int = 503) -> None:
        """The next `count` requests get `status`, without Retry-After."""
        self._faults += [("fail", status, None)] * count

    def lock(self, path: str, owner: str = "Jane Doe") -> None:
        """Hold a shared (co-authoring) lock: REST uploads get 423, Graph workbook calls still work."""
        self._locks[path.lower()] = owner

    def unlock(self, path: str) -> None:
        self._locks.pop(path.lower(), None)

    def after_download(self, callback: Callable[[StandIn], None] | None) -> None:
        """Call `callback(self)` once, right after the next download to the end of the file is made, before it is
        sent (None: no longer)."""
        self._after_download = callback

    def after_properties(self, callback: Callable[[StandIn], None]) -> None:
        """Call `callback(self)` once, right after the next answer to a file's properties (REST) is made, before it is
        sent."""
        self._after_properties = callback

    def during_download(self, callback: Callable[[StandIn], None], after_chunks: int = 1) -> None:
        """Call `callback(self)` once, right after the `after_chunks`-th range chunk (206) has been sent.

        E.g. save a new version in the middle of a download made of `Range` requests.
        """
        if after_chunks < 1:
            raise ValueError("after_chunks must be at least 1")
        with self._state:
            self._during_download = (callback, after_chunks)

    def fail_workbook_writes(self, count: int, status: int = 423, retry_after: str | None = None) -> None:
        """The next `count` Excel-service writes (row adds, range PATCHes) answer `status` and change nothing.

        The body is Graph's error shape with the workbook codes for that status (see
        `_WORKBOOK_ERRORS`); 429 and 503 carry Retry-After (`retry_after`, 429 defaults to "1").
        """
        if status == 429 and retry_after is None:
            retry_after = "1"
        with self._state:
            self._workbook_faults += [(status, retry_after)] * count

    @property
    def open_sessions(self) -> list[str]:
        """The ids of the workbook sessions created and not closed (nor expired)."""
        with self._state:
            return list(self._sessions)

    def expire_sessions(self) -> None:
        """Every open workbook session ends: a request that names one answers 404 with innerError
        invalidSessionReCreatable, "does not exist or is invalid due to a transient error. The Microsoft Graph
        client can try to recreate a session" (graph/workbook-error-handling). Persistent sessions' writes stay."""
        with self._state:
            self._sessions.clear()

    def fail_close_sessions(self, count: int, status: int = 500) -> None:
        """The next `count` closeSession calls answer `status` (graph/workbook-best-practice shows a 500 internalServerError)
        and leave the session open (and, under `save_late`, its writes unsaved)."""
        with self._state:
            self._close_failures += [status] * count

    def fail_next_rows_add(self, status: int = 504, *, after_adding: bool = False) -> None:
        """The next table-row add answers `status` and changes nothing (with `after_adding`: it adds the rows,
        then answers `status`, as a gateway that timed out while the service went on)."""
        self._rows_add_failure = status
        self._rows_add_lands = after_adding

    def hold_writes(self, parties: int = 2, timeout: float = 60.0) -> None:
        """A start line for racing writers: each of the next `parties` writes (an upload, a Graph batch) waits until
        all of them have arrived, then all go on at once. Two clients that read the same version each hold
        their write back until the other has made its own: they truly collide. (A gate that times out lets
        everyone through and counts in `gate_timeouts`.)"""
        with self._state:
            self._write_gate = (threading.Barrier(parties, timeout=timeout), [parties])

    def before_next_write(self, callback: Callable[[StandIn], None]) -> None:
        """Call `callback(self)` once, when the next write (see `hold_writes`) arrives and before it is handled:
        e.g. someone else's write that lands just before it, whichever connection either comes on."""
        with self._state:
            self._before_write = callback

    def _wait_at_gate(self, request: Request) -> None:
        """Run the `before_next_write` callback, or hold a write at the start line set by `hold_writes` (outside the
        state lock: the others must get in)."""
        with self._state:
            hook = self._before_write if _is_write(request) else None
            if hook is not None:
                self._before_write = None
        if hook is not None:
            hook(self)
        with self._state:
            gate = self._write_gate
            if gate is None or not _is_write(request) or gate[1][0] <= 0:
                return
            gate[1][0] -= 1
        try:
            gate[0].wait()
        except threading.BrokenBarrierError:
            self.gate_timeouts += 1

    def refuse_mail(self, count: int, status: int = 400) -> None:
        """The next `count` sendMail calls answer `status` and send nothing."""
        self._mail_refusals += [status] * count

    def time_out_mail(self, count: int) -> None:
        """The next `count` sendMail calls send the message, then answer 504 Gateway Timeout: Graph's gateway gave
        up waiting for the mail service, which may have done the work (Microsoft Graph error responses: "504
        Gateway Timeout ... didn't receive a timely response from the upstream server")."""
        self._mail_timeouts += count

    def before_next_send_mail(self, callback: Callable[[StandIn], None]) -> None:
        """Call `callback(self)` once, when the next sendMail arrives and before it is handled (e.g. the sender is
        killed: an exception from it answers 500 and sends nothing)."""
        self._before_send_mail = callback

    def user_token(self, upn: str, scopes: str = "Mail.Send") -> str:
        """A Graph token the stand-in accepts for a person (a device-code sign-in): JWT-shaped as the Microsoft
        identity platform issues it, with the claims `upn` and the delegated `scp` (unsigned: nothing checks it)."""
        return self._token({"upn": upn, "scp": scopes})

    def app_token(self, roles: str = "Mail.Send") -> str:
        """A Graph token the stand-in accepts for an app signed in as itself (a certificate): application `roles`.
        The plain "graph-token" is such a token too, holding every role."""
        return self._token({"roles": roles.split()})

    def _token(self, claims: dict[str, Any]) -> str:
        def part(obj: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        token = f"{part({'typ': 'JWT', 'alg': 'none'})}.{part(claims)}.unsigned"
        self.tokens.add(token)
        self.identities[token] = claims
        return token

    def grant_mailbox(self, mailbox: str, user: str, *rights: str) -> None:
        """Exchange mailbox permissions of `user` on `mailbox` (a shared mailbox): "FullAccess", "SendAs",
        "SendOnBehalf"."""
        self.mailbox_rights.setdefault(mailbox.lower(), {}).setdefault(user.lower(), set()).update(rights)

    def drop_message(
        self,
        mailbox: str,
        *,
        sender: tuple[str, str],
        subject: str,
        body: str,
        received: datetime,
        content_type: str = "text",
        folder: str = "inbox",
        internet_message_id: str | None = None,
    ) -> str:
        """A message arrives in `folder` of `mailbox` (sender: (name, address)); returns its Graph id. Its shape is
        graph/api/resources/message: id, internetMessageId, subject, from/sender {emailAddress {name, address}},
        body {contentType, content}, receivedDateTime."""
        with self._state:
            message_id = f"AAMkAD{uuid.uuid4().hex}"
            name, address = sender
            message = {
                "@odata.type": "#microsoft.graph.message",
                "@odata.etag": f'W/"{uuid.uuid4().hex}"',
                "id": message_id,
                "internetMessageId": internet_message_id or f"<{uuid.uuid4().hex}@mail.example.com>",
                "subject": subject,
                "from": {"emailAddress": {"name": name, "address": address}},
                "sender": {"emailAddress": {"name": name, "address": address}},
                "body": {"contentType": content_type, "content": body},
                "bodyPreview": body[:255],
                "receivedDateTime": _iso(received),
                "isRead": False,
                "_change": next(self._mail_changes),
            }
            self.mail_folders.setdefault(f"{mailbox}/{folder}".lower(), []).append(message)
            return message_id

    def mark_read(self, mailbox: str, message_id: str, folder: str = "inbox") -> None:
        """Someone opens a message: it changes (isRead), so the next delta round returns it again as updated."""
        with self._state:
            for message in self.mail_folders.get(f"{mailbox}/{folder}".lower(), []):
                if message["id"] == message_id:
                    message["isRead"] = True
                    message["_change"] = next(self._mail_changes)

    def expire_delta_links(self) -> None:
        """Every delta link given so far expires: its next use answers 410 Gone (syncStateNotFound)."""
        with self._state:
            for token in [t for t, state in self._delta_states.items() if state["kind"] == "deltatoken"]:
                del self._delta_states[token]

    def refuse_page_writes(self, count: int, status: int = 403) -> None:
        """The next `count` site-page writes (create, update, publish) and Site Assets uploads answer `status`
        and change nothing: 403 is Graph's accessDenied, as for a sign-in that may read the site but lacks
        Sites.ReadWrite.All; 423 is a page someone holds checked out."""
        self._page_refusals += [status] * count

    def before_next_page_write(self, callback: Callable[[StandIn], None]) -> None:
        """Call `callback(self)` once, when the next site-page write (create, update, publish) arrives and before it
        is handled: e.g. another publish that creates the same page just before this one."""
        self._before_page_write = callback

    def add_page(self, name: str, title: str, description: str = "", html: str = "<p>Someone's own page</p>") -> str:
        """A page made by someone else (in the browser): returns its id."""
        with self._state:
            page = self._new_page({"name": name, "title": title, "description": description, "pageLayout": "article"})
            page["canvasLayout"] = {
                "horizontalSections": [
                    {
                        "id": "1",
                        "layout": "oneColumn",
                        "emphasis": "none",
                        "columns": [
                            {"id": "1", "width": 12, "webparts": [{"id": str(uuid.uuid4()), "innerHtml": html}]}
                        ],
                    }
                ]
            }
            return str(page["id"])

    # -- dispatch ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request; errors become SharePoint- or Graph-shaped JSON bodies."""
        graph = request.path.startswith("/graph/v1.0/")
        try:
            with self._state:
                return self._route(request, graph)
        except HttpError as e:
            error = e
        except Exception as e:  # noqa: BLE001 - a stand-in bug must fail the test, not drop the connection
            self.errors.append(e)
            error = HttpError(500, "standInError", f"{type(e).__name__}: {e}")
        return _error_reply(error, graph or error.code.startswith("InvalidAuth"))

    def _route(self, request: Request, graph: bool) -> Reply:
        self._authorize(request)
        if graph and unquote(request.path.split("?", 1)[0]) == "/graph/v1.0/$batch" and request.method == "POST":
            return self._batch(request)  # faults apply to the requests inside, one by one
        if self._deferred and "/workbook/" not in request.path:
            self._save_deferred()  # a request of the batch that reads or replaces the file sees what it wrote
        if self._faults:
            kind, status, retry_after = self._faults.pop(0)
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            code = "TooManyRequests" if status == 429 else "serviceNotAvailable"
            raise HttpError(status, code, f"Injected {kind} ({status}).", headers)
        path = request.path.split("?", 1)[0]
        if graph:
            return self._graph(request, unquote(path[len("/graph/v1.0/") :]))
        api = self.site_path + "/_api/"
        if path.lower().startswith(api.lower()):
            return self._sharepoint(request, path[len(api) :])
        raise HttpError(404, "notFound", f"The stand-in does not serve {path}.")

    def _authorize(self, request: Request) -> None:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme != "Bearer" or token not in self.tokens:
            raise HttpError(401, "InvalidAuthenticationToken", "Access token is missing, invalid or expired.")

    def _by_unique_id(self, unique_id: str) -> StoredFile:
        found = [f for f in self._files.values() if f.unique_id.lower() == unique_id.strip("{}").lower()]
        if not found:
            raise HttpError(404, "-2147024894, System.IO.FileNotFoundException", f"File Not Found: {unique_id}")
        return found[0]

    # -- SharePoint REST ---------------------------------------------------------------------------

    def _sharepoint(self, request: Request, rest: str) -> Reply:
        if rest.lower() == "contextinfo" and request.method == "POST":
            info = {"FormDigestValue": f"0x{uuid.uuid4().hex.upper()},{_now()}", "FormDigestTimeoutSeconds": 1800}
            return _sp_json(request, {"GetContextWebInformation": info})
        if rest.lower() == "web/lists/ensuresiteassetslibrary()" and request.method == "POST":
            self.has_site_assets = True
            return _sp_json(request, {"Id": self.assets_list_id, "Title": "Site Assets", "BaseTemplate": 101})
        if match := _FOLDER_ADD.fullmatch(rest):
            params = _params(match.group(2))
            path = _literal(match.group(1)).rstrip("/") + "/" + params.get("url", "")
            return self._files_add(request, path, params.get("overwrite", "false").lower() == "true")
        match = _FILE.fullmatch(rest)
        if not match:
            raise HttpError(404, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException", f"Unknown: {rest}")
        by_id, key, call_text = match.groups()
        stored = self._by_unique_id(key) if by_id else self._file(_literal(key))
        call = _CALL.fullmatch(call_text or "")
        if call is None:
            raise HttpError(400, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException", f"Bad call: {rest}")
        name, params = call.group(1).lower(), _params(call.group(2) or "")
        method = (request.header("X-HTTP-Method") or request.method).upper()
        if name in LOCKING_CALLS and method != "GET" and stored.path.lower() in self._locks:
            raise _locked(stored.path, self._locks[stored.path.lower()])
        if name == "" and method == "GET":
            reply = _sp_json(request, _file_properties(stored, request.query.get("$select")))
            hook, self._after_properties = self._after_properties, None
            reply.after = (lambda: hook(self)) if hook else None
            return reply
        if name == "$value" and method == "GET":
            # Reported to ignore Range on real tenants and answer 200 with the whole file
            # (https://github.com/OneDrive/onedrive-api-docs/issues/529)
            return self._download(request, stored, ranges=False)
        if name == "$value" and method == "PUT":
            _check_if_match(request, stored)
            self.put_file(stored.path, request.body)
            return Reply(204)
        if name in ("startupload", "continueupload", "finishupload", "cancelupload") and method == "POST":
            return self._chunk(request, stored, name, params)
        if name in ("checkout", "checkin", "undocheckout") and method == "POST":
            return _sp_json(request, {})
        if name == "" and method == "DELETE":  # SP.File delete: POST with X-HTTP-Method: DELETE (REST file docs)
            _check_if_match(request, stored)
            del self._files[stored.path.lower()]
            return Reply(200)
        raise HttpError(405, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException", f"{method} {name}")

    def _download(self, request: Request, stored: StoredFile, ranges: bool = True) -> Reply:
        """The bytes, or one `Range` of them (206), under HTTP's conditional-request rules (RFC 9110).

        `ranges=False` (SharePoint REST `$value`): Range is ignored, the whole file comes with 200.

        - If-Match with another ETag: 412 and no bytes (RFC 9110 section 13.1.1).
        - If-Range names the current ETag (or the exact Last-Modified date): the range (206).
          Anything else (another version, a weak ETag): the Range is ignored and the whole
          current file comes back with 200 (RFC 9110 section 13.1.5). Without Range, If-Range
          is ignored.
        - `bytes=a-b`, `bytes=a-` and `bytes=-n` (the last n bytes); a range starting past the
          end is 416 with `Content-Range: bytes */size` (RFC 9110 section 15.5.17).
        The after-download hook fires once the end of file has been sent; the during-download
        hook after its N-th 206 chunk.
        """
        size = len(stored.data)
        headers = {"ETag": stored.etag, "Last-Modified": _http_date(stored.modified), "Accept-Ranges": "bytes"}
        _check_if_match(request, stored, graph=request.path.startswith("/graph/"))
        start, end = 0, size - 1
        wanted = _RANGE.fullmatch((request.header("Range") or "").replace(" ", "")) if ranges else None
        if wanted and (
            not (wanted.group(1) or wanted.group(2))
            or (wanted.group(1) and wanted.group(2) and int(wanted.group(2)) < int(wanted.group(1)))
        ):
            wanted = None  # "bytes=-" or "bytes=9-3" is not a valid range: ignored (RFC 9110 section 14.2)
        if wanted and not _if_range_holds(request.header("If-Range"), stored.etag, headers["Last-Modified"]):
            wanted = None
        if wanted:
            first, last = wanted.groups()
            if first:
                start, end = int(first), min(int(last or size - 1), size - 1)
            else:
                start = max(size - int(last), 0)
            if start >= size:
                headers = {"Content-Range": f"bytes */{size}"}
                raise HttpError(
                    416, "-1, System.ArgumentOutOfRangeException", f"Range starts past {size} bytes.", headers
                )
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        hooks: list[Callable[[StandIn], None]] = []
        if end == size - 1 and self._after_download is not None:
            hooks.append(self._after_download)
            self._after_download = None
        if "Content-Range" in headers and self._during_download is not None:
            callback, to_go = self._during_download
            self._during_download = None if to_go <= 1 else (callback, to_go - 1)
            if to_go <= 1:
                hooks.append(callback)

        def run_hooks() -> None:
            for hook in hooks:
                hook(self)

        status = 206 if "Content-Range" in headers else 200
        return Reply(status, stored.data[start : end + 1], "application/octet-stream", headers, run_hooks)

    def _files_add(self, request: Request, path: str, overwrite: bool) -> Reply:
        stored = self._files.get(path.lower())
        if stored is not None:
            if path.lower() in self._locks:
                raise _locked(stored.path, self._locks[path.lower()])
            if not overwrite:
                raise HttpError(400, "-2130575257, Microsoft.SharePoint.SPException", f"A file named {path} exists.")
            _check_if_match(request, stored)
        elif request.header("If-Match") not in (None, "*"):
            raise HttpError(412, "-1, Microsoft.SharePoint.Client.ClientServiceException", f"{path} does not exist.")
        return _sp_json(request, _file_properties(self.put_file(path, request.body)))

    def _chunk(self, request: Request, stored: StoredFile, name: str, params: dict[str, str]) -> Reply:
        """startUpload/continueUpload/finishUpload: the stored bytes change only at finishUpload."""
        upload_id = params.get("uploadid", "").strip("{}").lower()
        if name == "startupload":
            _check_if_match(request, stored)
            self._uploads[upload_id] = (stored.path, bytearray(request.body))
            return _sp_json(request, {"StartUpload": str(len(request.body))})
        if upload_id not in self._uploads or self._uploads[upload_id][0].lower() != stored.path.lower():
            raise HttpError(400, "-2147024809, System.ArgumentException", f"No upload session {upload_id}.")
        received = self._uploads[upload_id][1]
        if name == "cancelupload":
            del self._uploads[upload_id]
            return Reply(204)
        if int(params.get("fileoffset", "-1")) != len(received):
            raise HttpError(
                400, "-2147024809, System.ArgumentException", "fileOffset does not match the bytes received."
            )
        received += request.body
        if name == "continueupload":
            return _sp_json(request, {"ContinueUpload": str(len(received))})
        _check_if_match(request, stored)
        del self._uploads[upload_id]
        return _sp_json(request, _file_properties(self.put_file(stored.path, bytes(received))))

    # -- Microsoft Graph ---------------------------------------------------------------------------

    def _graph(self, request: Request, rest: str) -> Reply:
        if match := re.fullmatch(r"users/([^/]+)/sendMail", rest, re.I):
            return self._send_mail(request, match.group(1))
        if match := re.fullmatch(r"users/([^/]+)/mailFolders(?:/([^/(]+)|\('([^']+)'\))/messages/delta", rest, re.I):
            return self._messages_delta(request, match.group(1), match.group(2) or match.group(3))
        if match := re.fullmatch(r"shares/([^/]+)/driveItem", rest, re.I):
            if self.shares_denied:
                raise HttpError(403, "accessDenied", "Access denied")
            return _json(200, self._drive_item(self._file(_shared_url_path(match.group(1)))))
        if rest.startswith("sites/"):
            rest = self._site(rest[len("sites/") :])
            if self.sites_read_denied:
                raise HttpError(403, "accessDenied", "Access denied")
            if rest == "":
                site = {"id": self.site_id, "webUrl": self.site_url, "name": self.site_path.rsplit("/")[-1]}
                return _json(200, _select(site, request.query.get("$select")))
            if rest.startswith("site/"):
                return self._site_part(request, rest[len("site/") :])
        if rest.startswith(f"drives/{ASSETS_DRIVE_ID}") and self.has_site_assets:
            return self._assets(request, rest[len(f"drives/{ASSETS_DRIVE_ID}") :])
        if not rest.startswith(f"drives/{DRIVE_ID}"):
            raise HttpError(404, "itemNotFound", f"The stand-in does not serve {rest}.")
        rest = rest[len(f"drives/{DRIVE_ID}") :]
        if rest == "":
            return _json(200, {"id": DRIVE_ID, "driveType": "documentLibrary", "name": self.library})
        if match := re.fullmatch(r"/root:/(.+?):?/?", rest):
            return _json(200, self._drive_item(self._file(f"{self.site_path}/{self.library}/{match.group(1)}")))
        match = re.fullmatch(r"/items/([^/]+)(?:/(content|workbook)(?:/(.*))?)?", rest)
        stored = next((f for f in self._files.values() if match and f.item_id == match.group(1)), None)
        if match is None or stored is None:
            raise HttpError(404, "itemNotFound", "The resource could not be found.")
        if match.group(2) is None and request.method == "GET":
            return _json(200, self._drive_item(stored))
        if match.group(2) == "content" and request.method == "GET":
            return self._download(request, stored)
        return self._workbook(request, stored, match.group(3) or "")

    def _site(self, rest: str) -> str:
        """Resolve `{id}...` or `{host}:{site path}[:...]`; return what follows as `drives/DRIVE-1...` or ""."""
        if rest.startswith(self.site_id):
            tail = rest[len(self.site_id) :]
        else:
            host, _, after = rest.partition(":")
            if host not in ("127.0.0.1", urlsplit(self.url).netloc) or not after.lower().startswith(
                self.site_path.lower()
            ):
                raise HttpError(404, "itemNotFound", f"Requested site could not be found: {rest}")
            tail = after[len(self.site_path) :]
            if tail.startswith("/"):  # Graph reads `host:/sites/ops/drive/root` as one site path
                raise HttpError(404, "itemNotFound", f"Requested site could not be found: {after}")
            tail = tail.removeprefix(":")
        if tail in ("", "/"):
            return ""
        if tail == "/drives" or tail.startswith(("/pages", "/lists/")):
            return "site" + tail
        if tail.startswith("/drive"):
            return f"drives/{DRIVE_ID}" + tail[len("/drive") :]
        raise HttpError(404, "itemNotFound", f"The stand-in does not serve sites/{rest}.")

    def _drive_item(self, stored: StoredFile) -> dict[str, Any]:
        return {
            "id": stored.item_id,
            "name": stored.name,
            "eTag": stored.etag,
            "cTag": stored.etag,
            "size": len(stored.data),
            "webUrl": self.url + stored.path.replace(" ", "%20"),
            "lastModifiedDateTime": _iso(stored.modified),
            "file": {"mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
            "parentReference": {"driveId": DRIVE_ID, "driveType": "documentLibrary"},
        }

    def _workbook(self, request: Request, stored: StoredFile, rest: str) -> Reply:
        """The Excel service: sessions, table rows (add, list) and ranges (read, PATCH).

        Writes go into the file at once, or into the service's own copy under `save_late`;
        reads see the service's copy. Another client holding the workbook for edit, and
        injected write faults, refuse writes before anything changes.
        """
        if self.refuse_app_only_excel and _app_only(request):
            raise HttpError(403, "accessDenied", "The caller does not have permission to perform the action.")
        key = stored.path.lower()
        session = request.header("workbook-session-id")
        if session is not None and session not in self._sessions:
            # graph/workbook-error-handling: an unknown or expired session is innerError invalidSessionReCreatable
            raise HttpError(
                404,
                "invalidSession",
                "The workbook session is closed or does not exist.",
                inner={"code": "invalidSessionReCreatable"},
            )
        if rest == "createSession" and request.method == "POST":
            persist = bool(request.json().get("persistChanges", True))
            if persist:  # a persistent session edits the workbook; a view-mode session only reads
                self._check_edit(stored)
            session = f"SESSION-{next(self._ids)}"
            self._sessions[session] = Session(stored.path, persist)
            return _json(201, {"id": session, "persistChanges": persist})
        if rest in ("closeSession", "refreshSession") and request.method == "POST":
            if rest == "closeSession" and self._close_failures:
                raise HttpError(self._close_failures.pop(0), "internalServerError", "Injected closeSession failure.")
            if rest == "closeSession" and session is not None:
                closed = self._sessions.pop(session)
                if closed.persist:  # graph/workbook-best-practice, Q&A 1190202: closeSession saves the session's work
                    self.persist(closed.path)
            return Reply(204)
        match = _WORKBOOK.fullmatch(rest)
        if match is None:
            raise HttpError(404, "itemNotFound", f"The stand-in does not serve workbook/{rest}.")
        table, add, sheet_name, address = match.groups()
        current = self._live.get(key, stored.data)
        cached = self._parsed.pop(key, None)  # taken: a request that fails part-way leaves no half-changed copy
        workbook = cached[1] if cached is not None and cached[0] == current else load_workbook(BytesIO(current))
        try:
            return self._workbook_request(request, stored, key, workbook, table, add, sheet_name, address)
        except Exception:
            if key in self._deferred:  # earlier writes of this batch stand (a refused write changed nothing)
                self._parsed[key] = (current, self._deferred[key][1])
            raise

    def _workbook_request(
        self,
        request: Request,
        stored: StoredFile,
        key: str,
        workbook: Any,
        table: str | None,
        add: str | None,
        sheet_name: str | None,
        address: str | None,
    ) -> Reply:
        current = self._live.get(key, stored.data)
        if table is not None and request.method == "GET" and add is None:
            rows = _table_rows(workbook, table)  # `$select` applies to each row of the collection
            self._parsed[key] = (current, workbook)
            return _json(200, {"value": [_select(row, request.query.get("$select")) for row in rows["value"]]})
        if table is not None and request.method == "POST":
            self._check_write(stored)
            late_failure = None
            if self._rows_add_failure is not None:
                status, self._rows_add_failure = self._rows_add_failure, None
                if not self._rows_add_lands:
                    raise HttpError(status, "gatewayTimeout", "Injected rows/add failure.")
                late_failure = status
            body = request.json()
            if body.get("index") is not None:
                raise HttpError(501, "notImplemented", "The stand-in only appends rows (index must be null).")
            answer = _add_rows(workbook, table, body["values"])
            # graph/api/table-post-rows answers 201 Created; the older rows/add 200 OK (graph/api/tablerowcollection-add)
            status = 200 if add else 201
        elif sheet_name is not None and request.method in ("GET", "PATCH"):
            sheet = next((ws for ws in workbook.worksheets if ws.title.lower() == sheet_name.lower()), None)
            if sheet is None:
                raise HttpError(404, "itemNotFound", f"No worksheet named {sheet_name}.")
            values = request.json().get("values") if request.method == "PATCH" else None
            if values is not None:
                self._check_write(stored)
            answer = _range(sheet, address, values)
            if values is None:  # graph/api/range-get; `$select=values` → just {"values": [[...]]}
                self._parsed[key] = (current, workbook)
                return _json(200, _select(answer, request.query.get("$select")))
            status = 200  # graph/api/range-update: 200 OK with the range
        else:
            raise HttpError(405, "methodNotAllowed", f"{request.method} workbook/{table or sheet_name}")
        if self._in_batch:
            self._deferred[key] = (stored, workbook)
            self._parsed[key] = (current, workbook)
        else:
            self._save(key, stored, workbook)
        if table is not None and request.method == "POST" and late_failure is not None:
            raise HttpError(late_failure, "gatewayTimeout", "Injected rows/add failure after the rows were added.")
        return _json(status, answer)

    def _save(self, key: str, stored: StoredFile, workbook: Any) -> None:
        """The Excel service's copy after a write: into the file, or held back under `save_late`."""
        out = BytesIO()
        workbook.save(out)
        saved = out.getvalue()
        if key in self._late:
            self._live[key] = saved
        else:
            self.put_file(stored.path, saved)
        self._parsed[key] = (saved, workbook)

    def _save_deferred(self) -> None:
        """Save what the batch being answered wrote (before the file is read, or as the batch ends)."""
        while self._deferred:
            key, (stored, workbook) = self._deferred.popitem()
            self._save(key, stored, workbook)

    def _check_write(self, stored: StoredFile) -> None:
        """Refuse an Excel-service write: an injected fault first, then another client's edit hold."""
        if self._workbook_faults:
            status, retry_after = self._workbook_faults.pop(0)
            raise _workbook_error(status, retry_after)
        self._check_edit(stored)

    def _check_edit(self, stored: StoredFile) -> None:
        code = self._held.get(stored.path.lower())
        if code is not None:
            # graph/workbook-error-codes: 409 "conflict"; innerError accessConflict, which
            # graph/workbook-error-handling explains as "another client has locked the workbook for
            # edit" and says not to resend until the conflict is resolved.
            raise HttpError(
                409,
                code,
                "The current state conflicts with what the request expects.",
                inner={
                    "code": "accessConflict",
                    "message": "The request failed due to conflicts with other clients that are accessing the workbook.",
                },
            )

    # -- JSON batching -----------------------------------------------------------------------------

    def _batch(self, request: Request) -> Reply:
        """`POST /v1.0/$batch` as learn.microsoft.com/graph/json-batching describes it.

        Up to 20 requests, ids unique (case-insensitive), `dependsOn` orders them; anything
        malformed is 400 for the whole batch. Each request goes through the same routing as a
        direct one (faults, locks, throttling apply to it alone: a throttled one is an inner 429
        with Retry-After in its headers). A request whose dependency failed answers 424 without
        running. The batch itself answers 200; responses come in the order the requests ran
        (dependencies first, otherwise as listed): correlate them by id. Inner requests are
        logged in `self.batched`; `self.requests` gets one entry for the batch.
        """
        try:
            body = request.json()
        except ValueError:
            raise HttpError(400, "invalidRequest", "Invalid batch payload: the body is not JSON.") from None
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise HttpError(400, "invalidRequest", "Invalid batch payload: `requests` must be a non-empty array.")
        if len(items) > MAX_BATCH:
            raise HttpError(
                400, "invalidRequest", f"Invalid batch payload: {len(items)} requests, at most {MAX_BATCH} are allowed."
            )
        by_id: dict[str, dict[str, Any]] = {}
        for item in items:
            if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("id", "method", "url")):
                raise HttpError(400, "invalidRequest", "Invalid batch payload: each request needs id, method and url.")
            if item["id"].lower() in by_id:
                raise HttpError(400, "invalidRequest", f"Invalid batch payload: duplicate id {item['id']!r}.")
            by_id[item["id"].lower()] = item
        for item in items:
            depends = item.get("dependsOn") or []
            if not isinstance(depends, list) or any(str(d).lower() not in by_id for d in depends):
                raise HttpError(400, "invalidRequest", f"Invalid batch payload: bad dependsOn in {item['id']!r}.")
        order = _batch_order(items)
        self._batches += 1
        self._in_batch += 1
        try:
            return self._run_batch(request, order)
        finally:
            self._in_batch -= 1
            self._save_deferred()

    def _run_batch(self, request: Request, order: list[dict[str, Any]]) -> Reply:
        statuses: dict[str, int] = {}
        responses: list[dict[str, Any]] = []
        afters: list[Callable[[], None]] = []
        for item in order:
            inner = self._inner_request(request, item)
            failed = [d for d in item.get("dependsOn") or [] if statuses[str(d).lower()] >= 400]
            if unquote(inner.path.split("?", 1)[0]).lower().startswith("/graph/v1.0/$batch"):
                reply = _error_reply(HttpError(400, "invalidRequest", "A batch cannot contain a batch."), graph=True)
            elif failed:
                reply = _error_reply(
                    HttpError(424, "failedDependency", f"Request {item['id']} depends on {failed[0]}, which failed."),
                    graph=True,
                )
            else:
                reply = self.handle(inner)
            statuses[item["id"].lower()] = reply.status
            self.batched.append(
                {
                    "batch": self._batches,
                    "id": item["id"],
                    "method": inner.method,
                    "path": inner.path,
                    "status": reply.status,
                    "headers": inner.headers,
                    "body_size": len(inner.body),
                }
            )
            responses.append(_batch_response(item["id"], reply))
            if reply.after is not None:
                afters.append(reply.after)

        def run_afters() -> None:
            for after in afters:
                after()

        answer = _json(200, {"responses": responses})
        answer.after = run_afters
        return answer

    def _inner_request(self, batch: Request, item: dict[str, Any]) -> Request:
        """One request of a batch as if it had come on its own (with the batch's Authorization)."""
        url = item["url"].removeprefix(GRAPH_ROOT)
        path = "/graph/v1.0" + ("" if url.startswith("/") else "/") + url
        headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()}
        if (authorization := batch.header("Authorization")) is not None:
            headers["Authorization"] = authorization
        body = item.get("body")
        if body is None:
            data = b""
        elif isinstance(body, str):  # json-batching: a body may be a base64-encoded value (e.g. an image)
            try:
                data = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_")
            except (binascii.Error, ValueError):
                data = body.encode()
        else:
            data = json.dumps(body).encode()
        return Request(item["method"].upper(), path, parse_qs(urlsplit(path).query), headers, data)

    # -- site pages and the Site Assets library (graph/api/resources/sitepage) ----------------------

    def _site_part(self, request: Request, rest: str) -> Reply:
        """`drives`, `pages`, `pages/microsoft.graph.sitePage`, `pages/{id}/microsoft.graph.sitePage[/publish]`."""
        method = request.method
        if rest == "drives" and method == "GET":
            drives = [{"id": DRIVE_ID, "name": self.library, "webUrl": f"{self.site_url}/{quote(self.library)}"}]
            if self.has_site_assets:
                assets = {"id": ASSETS_DRIVE_ID, "name": "Site Assets", "webUrl": f"{self.site_url}/SiteAssets"}
                drives.append({**assets, "system": {}} if self.assets_system else assets)
            # graph/api/drive-list (remarks): drives with the system facet are hidden unless $select names `system`
            select = [f.strip().lower() for s in request.query.get("$select", []) for f in s.split(",")]
            drives = [{**d, "driveType": "documentLibrary"} for d in drives if "system" not in d or "system" in select]
            return _json(200, {"value": [_select(d, request.query.get("$select")) for d in drives]})
        if rest == f"lists/{self.assets_list_id}/drive" and method == "GET" and self.has_site_assets:
            # graph/api/resources/list (relationship `drive`: a document library as a drive)
            drive = {"id": ASSETS_DRIVE_ID, "name": "Site Assets", "webUrl": f"{self.site_url}/SiteAssets"}
            return _json(200, _select({**drive, "driveType": "documentLibrary"}, request.query.get("$select")))
        parts = rest.split("/")
        typed = len(parts) > 1 and parts[-1].lower() == "microsoft.graph.sitepage"
        if parts == ["pages"] and method == "POST":
            return self._create_page(request)
        if parts[0] == "pages" and (len(parts) == 1 or (len(parts) == 2 and typed)) and method == "GET":
            if request.query.get("$filter") and request.query.get("$select"):
                # $filter with $select answers 200 and an empty list (microsoft-graph-docs-contrib issue 8887)
                return _json(200, {"value": []})
            wanted = _page_filter(None if self.page_filter_ignored else request.query.get("$filter"))
            pages = sorted((p for p in self.pages.values() if wanted(p)), key=lambda p: str(p["name"]).lower())
            skip = int((request.query.get("$skiptoken") or ["0"])[0])
            answer: dict[str, Any] = {
                "value": [
                    _select(_page_view(p), request.query.get("$select"))
                    for p in pages[skip : skip + self.page_list_size]
                ]
            }
            if skip + self.page_list_size < len(pages):  # the rest on the next page, the query kept
                query = {k: v[0] for k, v in request.query.items() if k != "$skiptoken"}
                query["$skiptoken"] = str(skip + self.page_list_size)
                here = urlsplit(request.path).path.removeprefix("/graph/v1.0")
                answer["@odata.nextLink"] = f"{self.graph_url}{here}?{urlencode(query)}"
            return _json(200, answer)
        if len(parts) >= 3 and parts[0] == "pages" and parts[2].lower() == "microsoft.graph.sitepage":
            page = self.pages.get(parts[1].lower())
            if page is None:
                raise HttpError(404, "itemNotFound", f"The page {parts[1]} could not be found.")
            if len(parts) == 3 and method == "GET":
                expand = ",".join(request.query.get("$expand", [])).lower()
                view = _page_view(page, canvas="canvaslayout" in expand)
                return _json(200, _select(view, request.query.get("$select")))
            if len(parts) == 3 and method == "PATCH":
                self._refuse_page_write()
                body = _page_body(request, create=False)
                page.update(body)
                page["publishingState"] = {
                    "level": "checkout",
                    "versionId": _minor(page["publishingState"]["versionId"]),
                }
                page["lastModifiedDateTime"] = _now()
                return _json(200, _page_view(page))
            if len(parts) == 4 and parts[3].lower() == "publish" and method == "POST":
                self._refuse_page_write()
                if request.body.strip():
                    raise HttpError(400, "invalidRequest", "Don't supply a request body for this method.")
                page["publishingState"] = {
                    "level": "published",
                    "versionId": _major(page["publishingState"]["versionId"]),
                }
                page["published"] = json.loads(json.dumps(page.get("canvasLayout") or {}))  # what readers see now
                page["published_title"] = page.get("title")
                return Reply(204)
        raise HttpError(400, "invalidRequest", f"The stand-in does not serve {method} sites/{{site}}/{rest}.")

    def _refuse_page_write(self) -> None:
        hook, self._before_page_write = self._before_page_write, None
        if hook is not None:
            hook(self)
        if self._page_refusals:
            status = self._page_refusals.pop(0)
            if status == 403:
                raise HttpError(
                    403, "accessDenied", "Access denied. You do not have permission to perform this action."
                )
            if status == 423:
                raise HttpError(423, "resourceLocked", "The page is locked for shared use by Jane Doe.")
            raise HttpError(status, "generalException", f"Injected refusal ({status}).")

    def _new_page(self, body: dict[str, Any]) -> dict[str, Any]:
        page_id = str(uuid.uuid4())
        page: dict[str, Any] = {
            "id": page_id,
            "eTag": f'"{{{page_id.upper()}}},1"',
            "webUrl": f"{self.site_url}/SitePages/{quote(str(body['name']))}",
            "pageLayout": "article",
            "promotionKind": "page",
            "showComments": True,
            "showRecommendedPages": False,
            "createdDateTime": _now(),
            "lastModifiedDateTime": _now(),
            "parentReference": {"siteId": self.site_id.split(",")[1]},
            "publishingState": {"level": "checkout", "versionId": "0.1"},
            **body,
        }
        page.pop("@odata.type", None)
        self.pages[page_id] = page
        return page

    def _create_page(self, request: Request) -> Reply:
        self._refuse_page_write()
        body = _page_body(request, create=True)
        if any(str(p["name"]).lower() == str(body["name"]).lower() for p in self.pages.values()):
            raise HttpError(409, "nameAlreadyExists", f"A page named {body['name']} already exists in the site.")
        self._check_canvas(body.get("canvasLayout"))
        return _json(201, _page_view(self._new_page(body)))

    def _check_canvas(self, canvas: Any) -> None:
        """The canvasLayout shape of graph/api/resources/canvaslayout, horizontalsection(column), textwebpart,
        standardwebpart and webpartdata. Stricter than SharePoint in one way, on purpose: an image web part must
        point at a file in Site Assets (SharePoint would take the page and show a broken picture)."""
        if canvas is None:
            return
        _shape(canvas, {"horizontalSections", "verticalSection"}, "canvasLayout")
        for section in _items(canvas.get("horizontalSections", []), "horizontalSections"):
            _shape(section, {"id", "layout", "emphasis", "columns"}, "horizontalSection")
            if section.get("layout", "oneColumn") not in SECTION_LAYOUTS:
                _bad(f"horizontalSection layout {section.get('layout')!r} is not a horizontalSectionLayoutType")
            if section.get("emphasis", "none") not in SECTION_EMPHASIS:
                _bad(f"horizontalSection emphasis {section.get('emphasis')!r} is not a sectionEmphasisType")
            for column in _items(section.get("columns", []), "columns"):
                _shape(column, {"id", "width", "webparts"}, "horizontalSectionColumn")
                width = column.get("width", 12)
                if not isinstance(width, int) or isinstance(width, bool) or not 0 <= width <= 12:
                    _bad(f"horizontalSectionColumn width {width!r} is not 0 to 12")
                for part in _items(column.get("webparts", []), "webparts"):
                    self._check_web_part(part)

    def _check_web_part(self, part: Any) -> None:
        if isinstance(part, dict) and "innerHtml" in part:
            _shape(part, {"@odata.type", "id", "innerHtml"}, "textWebPart")
            if part.get("@odata.type", "#microsoft.graph.textWebPart") != "#microsoft.graph.textWebPart":
                _bad(f"a web part with innerHtml cannot be {part['@odata.type']}")
            if not isinstance(part["innerHtml"], str):
                _bad("textWebPart innerHtml must be a string")
            return
        if not isinstance(part, dict) or "webPartType" not in part:
            _bad(f"a web part must be a textWebPart (innerHtml) or a standardWebPart (webPartType): {part!r:.200}")
        _shape(part, {"@odata.type", "id", "webPartType", "data", "containerTextWebPartId"}, "standardWebPart")
        if part.get("@odata.type", "#microsoft.graph.standardWebPart") != "#microsoft.graph.standardWebPart":
            _bad(f"a web part with webPartType cannot be {part['@odata.type']}")
        if str(part["webPartType"]).lower() not in WEB_PART_TYPES:
            _bad(f"webPartType {part['webPartType']} is not a supported web part")
        data = part.get("data") or {}
        _shape(
            data, {"dataVersion", "description", "title", "properties", "serverProcessedContent", "audiences"}, "data"
        )
        if str(part["webPartType"]).lower() != IMAGE_WEB_PART:
            return
        props = data.get("properties") or {}
        stored = next(
            (f for f in self.assets.values() if f.unique_id.lower() == str(props.get("uniqueid", "")).lower()), None
        )
        if stored is None or str(props.get("listid", "")).lower() != self.assets_list_id:
            _bad(f"the image web part's uniqueid/listid {props.get('uniqueid')!r} name no file in Site Assets")
        sources = (data.get("serverProcessedContent") or {}).get("imageSources") or []
        if [s.get("value") for s in sources if s.get("key") == "imageSource"] != [stored.path]:
            _bad(f"the image web part's imageSource {sources!r:.200} is not {stored.path}")

    def _assets(self, request: Request, rest: str) -> Reply:
        """The Site Assets drive: upload by path (`/root:/{path}:/content`), an item, an item's content."""
        if match := re.fullmatch(r"/root:/(.+?):/content", rest):
            if request.method != "PUT":
                raise HttpError(405, "invalidRequest", f"{request.method} is not allowed here.")
            self._refuse_page_write()
            path = f"{self.site_path}/SiteAssets/{match.group(1)}"
            stored = self.assets.get(path.lower())
            status = 200 if stored is not None else 201  # graph/api/driveitem-put-content: 201 new, 200 replaced
            if stored is None:
                stored = StoredFile(path, request.body, f"ASSET-{next(self._ids)}")
                self.assets[path.lower()] = stored
            else:
                stored.data, stored.version, stored.modified = request.body, stored.version + 1, datetime.now(UTC)
            self.asset_types[stored.item_id] = request.header("Content-Type") or "application/octet-stream"
            return _json(status, self._asset_item(stored))
        match = re.fullmatch(r"/items/([^/]+)(/content)?", rest)
        stored = next((f for f in self.assets.values() if match and f.item_id == match.group(1)), None)
        if match is None or stored is None or request.method != "GET":
            raise HttpError(404, "itemNotFound", "The resource could not be found.")
        if match.group(2):
            return Reply(200, stored.data, self.asset_types.get(stored.item_id, "application/octet-stream"))
        item = {**self._asset_item(stored), "sharepointIds": self._sharepoint_ids(stored)}
        return _json(200, _select(item, request.query.get("$select")))

    def _asset_item(self, stored: StoredFile) -> dict[str, Any]:
        return {
            "id": stored.item_id,
            "name": stored.name,
            "eTag": stored.etag,
            "size": len(stored.data),
            "webUrl": self.url + quote(stored.path),
            "lastModifiedDateTime": _iso(stored.modified),
            "file": {"mimeType": self.asset_types.get(stored.item_id, "application/octet-stream")},
            "parentReference": {"driveId": ASSETS_DRIVE_ID, "driveType": "documentLibrary"},
        }

    def _sharepoint_ids(self, stored: StoredFile) -> dict[str, str]:
        """graph/api/resources/sharepointids."""
        _, site, web = self.site_id.split(",")
        return {
            "listId": self.assets_list_id,
            "listItemId": stored.item_id.rsplit("-", 1)[-1],
            "listItemUniqueId": stored.unique_id.lower(),
            "siteId": site,
            "siteUrl": self.site_url,
            "webId": web,
        }

    def asset(self, path: str) -> bytes:
        """A file in Site Assets by its path inside the library, e.g. `SitePages/Event Status/chart.png`."""
        return self.assets[f"{self.site_path}/SiteAssets/{path}".lower()].data

    def _send_mail(self, request: Request, upn: str) -> Reply:
        if len(request.body) > MAIL_REQUEST_BYTES:
            # Graph's 4 MB request limit: 413 "The maximum request length supported is 4MB." (reported in
            # O365/python-o365 issue 472; not on graph/api/user-sendmail, microsoft-graph-docs issue 9834; graph/errors:
            # "413 Request Entity Too Large"). The code is not documented.
            raise HttpError(413, "RequestEntityTooLarge", "The maximum request length supported is 4MB.")
        self._check_send_as(request, upn)
        hook, self._before_send_mail = self._before_send_mail, None
        if hook is not None:
            hook(self)
        if self._mail_refusals:
            status = self._mail_refusals.pop(0)
            raise HttpError(status, "ErrorInvalidRecipients", "Injected refusal: at least one recipient is not valid.")
        self.sent_mail.append((upn, request.json()))
        if self._mail_timeouts:
            self._mail_timeouts -= 1
            raise HttpError(504, "UnknownError", "Injected gateway timeout: the message was sent, no answer came.")
        return Reply(202)

    def _messages_delta(self, request: Request, mailbox: str, folder: str) -> Reply:
        """graph/api/message-delta and graph/delta-query-messages: the first request of a round (query options
        only there: $select, $filter on receivedDateTime ge/gt only) lists the folder's messages; pages of
        `Prefer: odata.maxpagesize` (default 10; said back in Preference-Applied) follow by @odata.nextLink
        ($skiptoken), the last page carries @odata.deltaLink ($deltatoken); the next round from that link returns
        what changed since (new messages, and changed ones again). A delta link Graph no longer holds answers 410
        Gone, syncStateNotFound (graph/delta-query-overview: "If the state token is expired, the service should
        respond with 40X-series error with error codes such as syncStateNotFound"). Reading needs Mail.Read
        (Mail.ReadBasic leaves out the body): application, or delegated for one's own mailbox, Mail.Read.Shared
        and Full Access for another's (graph/outlook-share-messages-folders)."""
        self._check_read(request, mailbox)
        key = f"{mailbox}/{folder}".lower()
        if key not in self.mail_folders:
            raise HttpError(404, "ErrorInvalidIdMalformed", "The specified folder could not be found in the store.")
        for kind in ("skiptoken", "deltatoken"):
            token = (request.query.get(f"${kind}") or [""])[0]
            if token:
                self.delta_calls.append((kind, token))
                state = self._delta_states.get(token)
                if state is None or state["kind"] != kind:
                    raise HttpError(410, "SyncStateNotFound", "The sync state generation is invalid or expired.")
                return self._delta_page(request, mailbox, folder, dict(state))
        self.delta_calls.append(("initial", ""))
        since = None
        for text in request.query.get("$filter", []):
            match = re.fullmatch(r"\s*receivedDateTime\s+(ge|gt)\s+(\S+)\s*", text)
            if match is None:
                raise HttpError(
                    400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
                )
            since = (match.group(1), match.group(2))
        select = request.query.get("$select")
        state = {"kind": "", "after": 0, "upto": None, "since": since, "select": select, "sent": []}
        return self._delta_page(request, mailbox, folder, state)

    def _delta_page(self, request: Request, mailbox: str, folder: str, state: dict[str, Any]) -> Reply:
        """One page of a round: the changes after `after` up to the round's end (`upto`, fixed at its first page)."""
        messages = self.mail_folders[f"{mailbox}/{folder}".lower()]
        if state["upto"] is None:
            state["upto"] = max((m["_change"] for m in messages), default=state["after"])
        since = state["since"]

        def wanted(m: dict[str, Any]) -> bool:
            if not state["after"] < m["_change"] <= state["upto"] or m["id"] in state["sent"]:
                return False
            return since is None or (
                m["receivedDateTime"] >= since[1] if since[0] == "ge" else m["receivedDateTime"] > since[1]
            )

        preferred = re.search(r"odata\.maxpagesize=(\d+)", request.header("Prefer") or "")
        size = int(preferred.group(1)) if preferred else 10
        size = min(size, self.mail_page_cap or size)
        changes = sorted((m for m in messages if wanted(m)), key=lambda m: m["_change"])
        page, more = changes[:size], changes[size:]
        shown = [
            {"@odata.type": m["@odata.type"], "@odata.etag": m["@odata.etag"], "id": m["id"]}
            | _select({k: v for k, v in m.items() if not k.startswith(("_", "@"))}, state["select"])
            for m in page
        ]
        link = f"{self.graph_url}/users/{quote(mailbox)}/mailFolders('{quote(folder)}')/messages/delta"
        body: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#Collection(message)", "value": shown}
        token = uuid.uuid4().hex
        if more:
            self._delta_states[token] = state | {"kind": "skiptoken", "sent": state["sent"] + [m["id"] for m in page]}
            body["@odata.nextLink"] = f"{link}?%24skiptoken={token}"
        else:
            self._delta_states[token] = state | {"kind": "deltatoken", "after": state["upto"], "upto": None, "sent": []}
            body["@odata.deltaLink"] = f"{link}?%24deltatoken={token}"
        headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if preferred else {}
        return _json(200, body, headers=headers)

    def _check_read(self, request: Request, mailbox: str) -> None:
        """May this token read `mailbox`'s messages? As `_check_send_as`, for Mail.Read (graph/api/message-delta,
        permissions) and, for another person's or a shared mailbox, Mail.Read.Shared plus Full Access."""
        claims = self.identities.get((request.header("Authorization") or "").partition(" ")[2])
        denied = HttpError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if claims is None:
            return  # "graph-token": an app's token holding every role
        if "scp" not in claims:
            if not {"Mail.Read", "Mail.ReadWrite"} & set(claims["roles"]):
                raise denied
            return
        scopes, user = set(claims["scp"].split()), str(claims["upn"]).lower()
        if user == mailbox.lower():
            if not scopes & {"Mail.Read", "Mail.ReadWrite"}:
                raise denied
            return
        rights = self.mailbox_rights.get(mailbox.lower(), {}).get(user, set())
        if not scopes & {"Mail.Read.Shared", "Mail.ReadWrite.Shared"} or "FullAccess" not in rights:
            raise denied

    def _check_send_as(self, request: Request, mailbox: str) -> None:
        """May this token send as `mailbox` through /users/{mailbox}/sendMail? graph/api/user-sendmail (permissions:
        Mail.Send, delegated or application); graph/outlook-send-mail-from-other-user: an app's token with Mail.Send
        sends as any mailbox; a person's token sends as another mailbox only with Mail.Send.Shared and Send As or
        Send on Behalf on it (else 403 ErrorSendAsDenied, that page's example 2), and through that mailbox's own
        /users/{id}/sendMail also Full Access. A token without the permission: 403 ErrorAccessDenied, "Access is
        denied. Check credentials and try again." (as reported, e.g. RogerSelwyn/MS365-Mail issue 5)."""
        claims = self.identities.get((request.header("Authorization") or "").partition(" ")[2])
        denied = HttpError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if claims is None:
            return  # "graph-token": an app's token holding every role
        if "scp" not in claims:
            if "Mail.Send" not in claims["roles"]:
                raise denied
            return
        scopes, user = set(claims["scp"].split()), str(claims["upn"]).lower()
        if user == mailbox.lower():
            if not scopes & {"Mail.Send", "Mail.Send.Shared"}:
                raise denied
            return
        rights = self.mailbox_rights.get(mailbox.lower(), {}).get(user, set())
        if "Mail.Send.Shared" not in scopes:
            raise denied
        if not rights & {"SendAs", "SendOnBehalf"}:
            raise HttpError(
                403,
                "ErrorSendAsDenied",
                "The user account which was used to submit this request does not have the right to send mail on "
                "behalf of the specified sending account. Cannot submit message.",
            )
        if "FullAccess" not in rights:
            raise denied


# -- helpers --------------------------------------------------------------------------------------


class _RewriteAdapter(HTTPAdapter):
    """Send requests for one URL prefix to another (Graph's fixed base URL → the stand-in)."""

    def __init__(self, prefix: str, target: str) -> None:
        super().__init__()
        self.prefix, self.target = prefix, target

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = self.target + request.url[len(self.prefix) :]
        return super().send(request, *args, **kwargs)


def _handler_for(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as requests' pool expects

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:
                # The client died before its body was all sent (a kill -9 mid-upload): an incomplete message is
                # never processed (RFC 9112, 6.3: the server closes the connection), so SharePoint keeps the file
                # it had. The stand-in stored the cut body, leaving an empty workbook for the next reader.
                self.close_connection = True
                return
            query = parse_qs(urlsplit(self.path).query)
            request = Request(self.command, self.path, query, dict(self.headers.items()), body)
            standin._wait_at_gate(request)
            reply = standin.handle(request)
            standin.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "status": reply.status,
                    "headers": request.headers,
                    "body_size": len(body),
                }
            )
            if reply.after is not None:
                # Before a byte is sent, so that what it does lands before the client's next request, however slow
                # it is: the client cannot tell (the reply is made), and a test's "someone saves right after the
                # download" is never still saving when tracker writes (run after the send, it raced tracker).
                reply.after()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.body or reply.status not in (202, 204):
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Quiet: the request log is `standin.requests`."""

    return Handler


def _now() -> str:
    return _iso(datetime.now(UTC))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_date(moment: datetime) -> str:
    """An HTTP-date (RFC 9110 section 5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _app_only(request: Request) -> bool:
    """Whether the bearer token is an application's own (Microsoft identity platform access token claims: `idtyp`
    "app", or `roles` without `scp`); the stand-in reads a JWT's claims without checking its signature."""
    token = (request.header("Authorization") or "").partition(" ")[2]
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return False
    return claims.get("idtyp") == "app" or ("roles" in claims and "scp" not in claims)


def _is_write(request: Request) -> bool:
    """An upload (whole file, a new file, the chunks of one) or a Graph batch (the Excel service's writes)."""
    path = unquote(request.path.split("?", 1)[0]).lower()
    if path.startswith("/graph/v1.0/"):
        return request.method == "POST" and path.endswith("/$batch")
    method = (request.header("X-HTTP-Method") or request.method).upper()
    return request.method == "POST" and (
        (path.endswith("/$value") and method == "PUT") or "/files/add(" in path or "upload(" in path
    )


def _error_reply(error: HttpError, graph: bool) -> Reply:
    """An error body: Graph's `{"error": {code, message, innerError}}` or SharePoint's `{"error": {code, message: {lang, value}}}`.

    Graph: learn.microsoft.com/graph/errors; the Excel service puts its more specific code in
    `innerError.code` (graph/workbook-error-handling).
    """
    if graph:
        inner = {**error.inner, "date": _now(), "request-id": str(uuid.uuid4())}
        body: dict[str, Any] = {"code": error.code, "message": error.message, "innerError": inner}
    else:
        body = {"code": error.code, "message": {"lang": "en-US", "value": error.message}}
    return _json(error.status, {"error": body}, headers=error.headers)


# Top-level code and first-level innerError code per status, from learn.microsoft.com/graph/workbook-error-codes
# (messages as listed there). 423 is not in that table: graph/errors lists "423 Locked: The resource that is being
# accessed is locked", and Graph answers a locked file with code notAllowed, innerError resourceLocked
# (github.com/microsoftgraph/microsoft-graph-explorer-v4/issues/3435).
_WORKBOOK_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("badRequest", "badRequestUncategorized", "The request is malformed or incorrect."),
    403: ("forbidden", "forbiddenUncategorized", "The caller doesn't have permission to perform the action."),
    404: ("notFound", "notFoundUncategorized", "The resource could not be found."),
    409: ("conflict", "conflictUncategorized", "The current state conflicts with what the request expects."),
    413: ("payloadTooLarge", "payloadTooLargeUncategorized", "The request size exceeds the maximum limit."),
    423: ("notAllowed", "resourceLocked", "The resource you are attempting to access is locked."),
    429: ("tooManyRequests", "tooManyRequestsUncategorized", "The app or user has been throttled."),
    500: ("internalServerError", "internalServerErrorUncategorized", "An internal server error occurred."),
    501: ("notImplemented", "notImplementedUncategorized", "The requested feature isn't implemented."),
    502: ("badGateway", None, "The server encountered a temporary error and could not complete your request."),
    503: ("serviceUnavailable", "serviceUnavailableUncategorized", "The service is not available. Try again."),
    504: ("gatewayTimeout", "gatewayTimeoutUncategorized", "The service wasn't able to complete the request in time."),
}


def _workbook_error(status: int, retry_after: str | None) -> HttpError:
    """An injected Excel-service error with the documented codes for `status` (Retry-After: graph/workbook-error-handling step 5)."""
    code, inner, message = _WORKBOOK_ERRORS.get(status, ("generalException", None, f"Injected failure ({status})."))
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return HttpError(status, code, message, headers, {"code": inner, "message": message} if inner else None)


def _batch_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch's requests in an order where every request comes after what it depends on (else as listed)."""
    done: set[str] = set()
    order: list[dict[str, Any]] = []
    pending = list(items)
    while pending:
        ready = next(
            (i for i in pending if all(str(d).lower() in done for d in i.get("dependsOn") or [])),
            None,
        )
        if ready is None:
            raise HttpError(400, "invalidRequest", "Invalid batch payload: dependsOn forms a cycle.")
        pending.remove(ready)
        done.add(ready["id"].lower())
        order.append(ready)
    return order


def _batch_response(request_id: str, reply: Reply) -> dict[str, Any]:
    """One entry of `responses`: id, status, headers, body (JSON as JSON, other bytes base64; none for 204)."""
    headers = dict(reply.headers)
    answer: dict[str, Any] = {"id": request_id, "status": reply.status, "headers": headers}
    if reply.body:
        headers["Content-Type"] = reply.content_type
        if "json" in reply.content_type:
            answer["body"] = json.loads(reply.body)
        else:
            answer["body"] = base64.b64encode(reply.body).decode()
    return answer


def _select(obj: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """OData `$select`: only the named properties (learn.microsoft.com/graph/query-parameters#select)."""
    if not select:
        return obj
    wanted = {name.strip().lower() for part in select for name in part.split(",")}
    return {k: v for k, v in obj.items() if k.lower() in wanted}


def _json(
    status: int, obj: Any, content_type: str = "application/json", headers: dict[str, str] | None = None
) -> Reply:
    return Reply(status, json.dumps(obj).encode(), f"{content_type};charset=utf-8", headers or {})


def _sp_json(request: Request, obj: dict[str, Any]) -> Reply:
    """SharePoint's answer in the metadata level the client asked for (verbose: in `d`, with `__metadata`)."""
    if "odata=verbose" in (request.header("Accept") or ""):
        if "ETag" in obj:
            obj = {"__metadata": {"type": "SP.File", "etag": obj["ETag"]}, **obj}
        return _json(200, {"d": obj}, "application/json;odata=verbose")
    return _json(200, obj, "application/json;odata=nometadata")


def _literal(value: str) -> str:
    """An OData string literal from the URL: percent-decoded, doubled quotes undone."""
    return unquote(value).replace("''", "'")


def _params(text: str) -> dict[str, str]:
    """`uploadID='x',fileOffset=4` → {"uploadid": "x", "fileoffset": "4"}."""
    return {
        name.lower(): _literal(value[1:-1]) if value.startswith("'") else value for name, value in _PARAM.findall(text)
    }


def _file_properties(stored: StoredFile, select: list[str] | None = None) -> dict[str, Any]:
    """SP.File properties; `$select` narrows them as SharePoint does."""
    props: dict[str, Any] = {
        "ETag": stored.etag,
        "Exists": True,
        "Length": str(len(stored.data)),
        "Name": stored.name,
        "ServerRelativeUrl": stored.path,
        "ServerRelativePath": {"DecodedUrl": stored.path},
        "TimeLastModified": _iso(stored.modified),
        "UIVersion": stored.version * 512,
        "UIVersionLabel": f"{stored.version}.0",
        "UniqueId": stored.unique_id.lower(),
    }
    if select:
        wanted = {name.strip().lower() for part in select for name in part.split(",")}
        props = {k: v for k, v in props.items() if k.lower() in wanted}
    return props


def _check_if_match(request: Request, stored: StoredFile, graph: bool = False) -> None:
    """412 when If-Match names another ETag (Graph's code: resourceModified, learn.microsoft.com/graph/errors)."""
    expected = request.header("If-Match")
    if expected not in (None, "*") and expected != stored.etag:
        raise HttpError(
            412,
            "resourceModified" if graph else "-1, Microsoft.SharePoint.Client.ClientServiceException",
            f"The request ETag value '{expected}' does not match the object's ETag value '{stored.etag}'.",
        )


def _if_range_holds(if_range: str | None, etag: str, last_modified: str) -> bool:
    """Whether If-Range lets the Range through (RFC 9110 section 13.1.5).

    Absent: yes. An entity tag: only the current one, compared strongly (a weak `W/` tag never
    matches). A date: only exactly the Last-Modified sent with the file.
    """
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return if_range == etag
    return if_range == last_modified


def _locked(path: str, owner: str) -> HttpError:
    return HttpError(
        423,
        "-2147018894, Microsoft.SharePoint.SPFileLockException",
        f'The file "{path}" is locked for shared use by {owner}.',
    )


def _shared_url_path(share_id: str) -> str:
    """`u!` + base64url(absolute URL) → the server-relative path.

    Graph takes "a properly encoded sharing URL" (https://learn.microsoft.com/en-us/graph/api/shares-get): a URL
    with raw spaces is not one (RFC 3986), so it is refused as Graph refuses a malformed share id."""
    encoded = share_id.removeprefix("u!").replace("-", "+").replace("_", "/")
    url = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    if re.search(r"\s", url):
        raise HttpError(400, "invalidRequest", "Invalid shares key.")
    return unquote(urlsplit(url).path)


def _set_cell(cell: Cell, value: Any) -> None:
    """Store a value as typing it into Excel would."""
    if value is None or value == "":
        cell.value = None
    elif not isinstance(value, str):
        cell.value = value
    elif value.startswith("'") or cell.number_format == "@":
        cell.value = value.removeprefix("'")
        cell.data_type = "s"  # text, even if it looks like a formula
    elif value.startswith("="):
        cell.value = value
    elif value.upper() in ("TRUE", "FALSE"):
        cell.value = value.upper() == "TRUE"
    elif _NUMBER.fullmatch(value):
        number = float(value)
        cell.value = int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    elif _DATE.fullmatch(value):
        cell.value = datetime.fromisoformat(value)
        if cell.number_format == "General":
            cell.number_format = "yyyy-mm-dd hh:mm" if " " in value else "yyyy-mm-dd"
    else:
        cell.value = value


def _add_rows(workbook: Any, table_name: str, rows: list[list[Any]]) -> dict[str, Any]:
    """Append rows to an Excel table as Excel does: after its last non-empty row, growing the table."""
    found = [(ws, t) for ws in workbook.worksheets for t in ws.tables.values() if t.name.lower() == table_name.lower()]
    if not found:
        raise HttpError(404, "itemNotFound", f"No table named {table_name}.")
    sheet, table = found[0]
    if table.totalsRowCount:
        raise HttpError(501, "notImplemented", "The stand-in cannot add rows above a totals row.")
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    first_data = min_row + (1 if table.headerRowCount is None else table.headerRowCount)
    if any(len(row) != max_col - min_col + 1 for row in rows):
        raise HttpError(400, "InvalidArgument", "Each row needs one value per table column.")

    def empty(r: int) -> bool:
        return all(sheet.cell(r, c).value is None for c in range(min_col, max_col + 1))

    target = max_row + 1
    while target > first_data and empty(target - 1):
        target -= 1
    for offset, values in enumerate(rows):
        row = target + offset
        if row > max_row and not empty(row):
            raise HttpError(501, "notImplemented", "The stand-in cannot shift cells below the table.")
        for column, value in zip(range(min_col, max_col + 1), values, strict=True):
            cell = sheet.cell(row, column)
            if row > first_data:
                cell._style = copy(sheet.cell(row - 1, column)._style)  # style, font, border, number format
            _set_cell(cell, value)
    last = max(max_row, target + len(rows) - 1)
    table.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last}"
    if table.autoFilter is not None:
        table.autoFilter.ref = table.ref
    return {
        "index": target - first_data,
        "values": [[_shown(sheet.cell(target + i, c)) for c in range(min_col, max_col + 1)] for i in range(len(rows))],
    }


def _table_rows(workbook: Any, table_name: str) -> dict[str, Any]:
    """`GET .../tables/{t}/rows`: the data rows as workbookTableRow objects (graph/api/table-list-rows)."""
    found = [(ws, t) for ws in workbook.worksheets for t in ws.tables.values() if t.name.lower() == table_name.lower()]
    if not found:
        raise HttpError(404, "itemNotFound", f"No table named {table_name}.")
    sheet, table = found[0]
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    first = min_row + (1 if table.headerRowCount is None else table.headerRowCount)
    last = max_row - (table.totalsRowCount or 0)
    return {
        "value": [
            {"index": r - first, "values": [[_shown(sheet.cell(r, c)) for c in range(min_col, max_col + 1)]]}
            for r in range(first, last + 1)
        ]
    }


def _range(sheet: Worksheet, address: str, values: list[list[Any]] | None) -> dict[str, Any]:
    """Read a range, or write `values` into it first (same typing as row add; `null` leaves a cell alone).

    The answer carries the workbookRange properties the stand-in can know (graph/resources/range);
    `$select` narrows it, e.g. `?$select=values` → `{"values": [[...]]}`.
    """
    address = address.rsplit("!", 1)[-1]
    min_col, min_row, max_col, max_row = range_boundaries(address)
    cells = [[sheet.cell(r, c) for c in range(min_col, max_col + 1)] for r in range(min_row, max_row + 1)]
    if values is not None:
        if len(values) != len(cells) or any(len(v) != len(row) for v, row in zip(values, cells, strict=True)):
            raise HttpError(400, "InvalidArgument", f"The values do not match the size of {address}.")
        for row_cells, row_values in zip(cells, values, strict=True):
            for cell, value in zip(row_cells, row_values, strict=True):
                # null leaves the cell as it is, "" clears it (learn.microsoft.com/office/dev/add-ins/excel/
                # excel-add-ins-blank-null-values, the Excel API semantics Graph's range PATCH shares)
                if value is not None:
                    _set_cell(cell, value)
    return {
        "address": f"{sheet.title}!{address}",
        "addressLocal": f"{sheet.title}!{address}",
        "cellCount": len(cells) * len(cells[0]),
        "columnCount": len(cells[0]),
        "columnIndex": min_col - 1,
        "rowCount": len(cells),
        "rowIndex": min_row - 1,
        "formulas": [[cell.value if _is_formula(cell) else _shown(cell) for cell in row] for row in cells],
        "numberFormat": [[cell.number_format for cell in row] for row in cells],
        "values": [[_shown(cell) for cell in row] for row in cells],
    }


def _is_formula(cell: Cell) -> bool:
    return cell.data_type == "f" or (
        isinstance(cell.value, str) and cell.value.startswith("=") and cell.data_type != "s"
    )


def _shown(cell: Cell) -> Any:
    """A cell's value as Graph returns it (formulas as text: the stand-in does not calculate)."""
    if cell.value is None:
        return ""
    if isinstance(cell.value, datetime):
        return to_excel(cell.value)  # Graph gives dates as serial numbers
    return cell.value


# -- site pages ------------------------------------------------------------------------------------


def _bad(message: str) -> None:
    """Graph's answer to a body it cannot take (seen answering bad page bodies: invalidRequest / badArgument)."""
    raise HttpError(400, "invalidRequest", message, inner={"code": "badArgument"})


def _shape(obj: Any, allowed: set[str], what: str) -> None:
    if not isinstance(obj, dict):
        _bad(f"{what} must be an object, not {obj!r:.100}")
    unknown = set(obj) - allowed
    if unknown:
        _bad(f"Property '{sorted(unknown)[0]}' does not exist on type 'microsoft.graph.{what}'.")


def _items(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        _bad(f"{what} must be a collection")
    return value


def _page_body(request: Request, *, create: bool) -> dict[str, Any]:
    """The request body of a page create or update, checked as graph/api/sitepage-create and sitepage-update say."""
    try:
        body = request.json()
    except ValueError:
        _bad("The request body is not JSON.")
    if not isinstance(body, dict):
        _bad("The request body must be a sitePage object.")
    if body.get("@odata.type") != "#microsoft.graph.sitePage":
        _bad('"@odata.type": "#microsoft.graph.sitePage" must be included in the request body.')
    allowed = PAGE_WRITABLE if create else PAGE_WRITABLE - {"name", "pageLayout"}
    _shape(body, allowed, "sitePage")
    if create:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            _bad("name is required to create a page.")
        if not name.lower().endswith(".aspx") or re.search(r'["*:<>?/\\|]', name):
            _bad(f"name {name!r} is not a page file name (NAME.aspx).")
        if body.get("pageLayout", "article") not in ("article", "home", "microsoftReserved"):
            _bad(f"pageLayout {body.get('pageLayout')!r} is not a pageLayoutType.")
    if "title" in body and not isinstance(body["title"], str):
        _bad("title must be a string.")
    return body


def _page_view(page: dict[str, Any], canvas: bool = False) -> dict[str, Any]:
    """The page as Graph answers it: typed, canvasLayout only when expanded, web parts typed."""
    view = {k: v for k, v in page.items() if k not in ("canvasLayout", "published", "published_title")}
    view = {"@odata.type": "#microsoft.graph.sitePage", **view}
    if canvas:
        layout = json.loads(json.dumps(page.get("canvasLayout") or {"horizontalSections": []}))
        for section in layout.get("horizontalSections", []):
            for column in section.get("columns", []):
                for part in column.get("webparts", []):
                    kind = "textWebPart" if "innerHtml" in part else "standardWebPart"
                    part["@odata.type"] = f"#microsoft.graph.{kind}"
        view["canvasLayout"] = layout
    return view


def _page_filter(filters: list[str] | None) -> Callable[[dict[str, Any]], bool]:
    """`$filter=name eq 'x'`; any other is 400 as Graph answers an unsupported one."""
    if not filters:
        return lambda page: True
    match = re.fullmatch(r"\s*name\s+eq\s+'((?:[^']|'')*)'\s*", filters[0])
    if match is None:
        raise HttpError(400, "invalidRequest", f"Invalid filter clause: {filters[0]}")
    wanted = match.group(1).replace("''", "'").lower()
    return lambda page: str(page.get("name", "")).lower() == wanted


def _minor(version: str) -> str:
    major, _, minor = version.partition(".")
    return f"{major}.{int(minor or 0) + 1}"


def _major(version: str) -> str:
    return f"{int(version.partition('.')[0]) + 1}.0"

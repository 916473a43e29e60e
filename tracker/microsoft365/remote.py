"""HTTP to SharePoint REST and Microsoft Graph, through office365-rest-python-client.

One request at a time, with tracker's own retry loop: 429/503 honour Retry-After with
bounded, jittered backoff; timeouts and dropped connections are retried when the request is
safe to repeat; an expired token is refreshed once; 401/403 name the permission to grant;
SharePoint's 412 and 423 come back as `Stale` and `Locked` for the store to handle.
Used by the SharePoint store and the graph mail transport.
"""

from __future__ import annotations

import base64
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from tracker import retry
from tracker.errors import AuthError, ConfigError, RemoteError
from tracker.microsoft365.auth import Tokens, app_only, tokens_for
from tracker.sharepoint_config import SharePointSettings, user_agent
from tracker.text import printable
from tracker.times import CLOCK

if TYPE_CHECKING:
    import requests

log = logging.getLogger("tracker.http")

DOWNLOAD_RESTARTS = 6

PERMISSIONS = {
    "sharepoint": "Sites.ReadWrite.All (or Sites.Selected with write access to this site) for SharePoint",
    "graph": "Files.ReadWrite.All or Sites.ReadWrite.All (or Sites.Selected) for Microsoft Graph",
    # graph/outlook-send-mail-from-other-user; the graph transport names the one its sign-in needs (mail_permission)
    "mail": "Mail.Send for Microsoft Graph (application for app-only; delegated for a person's own mailbox, Mail.Send.Shared plus Exchange Send As for a shared one)",
    # graph/api/site-getbypath lists Sites.Read.All or Sites.ReadWrite.All; graph/api/shares-get (the fallback)
    # Files.ReadWrite.All or Sites.ReadWrite.All (application), Files.ReadWrite (delegated)
    "find-workbook": (
        "Sites.Read.All or Sites.ReadWrite.All for Microsoft Graph (to find the workbook through its site), "
        "or Files.ReadWrite.All (through its sharing URL)"
    ),
    # graph/api/sitepage-create and sitepage-update accept no lesser permission (Sites.Selected is not listed)
    "site-page": "Sites.ReadWrite.All for Microsoft Graph (to create, update and publish the status page)",
    # graph/api/table-post-rows, range-update, workbook-createsession: delegated Files.ReadWrite only (it reaches
    # the user's own files; a file in a team site needs Files.ReadWrite.All); Application: "Not supported"
    "workbook": "Files.ReadWrite.All (delegated) for the Excel API in Microsoft Graph, and write access to the workbook",
}


SERVICES = {"sharepoint": "SharePoint", "graph": "Microsoft Graph"}


class Stale(Exception):
    """The file changed since it was downloaded (412); the caller replays."""


class Locked(Exception):
    """SharePoint refuses the upload: the file is open for co-authoring (423)."""

    def __init__(self, owner: str) -> None:
        super().__init__(owner)
        self.owner = owner


def _options(
    api: str, method: str, url: str, data: bytes | str | None, json_body: Any, headers: dict[str, str] | None
) -> Any:
    """One request as the office365 client takes it: JSON serialized by the client, SharePoint answering plain JSON."""
    from office365.runtime.http.http_method import HttpMethod
    from office365.runtime.http.request_options import RequestOptions

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
    return options


def error_text(response: Any) -> str:
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


def lock_owner(response: Any) -> str:
    """Who holds the file locked, from SharePoint's error text (printable: it comes from the server)."""

    return printable(_lock_owner(response))


def _lock_owner(response: Any) -> str:
    text = error_text(response)
    marker = "locked for shared use by "
    if marker in text:
        return text.split(marker, 1)[1].rstrip(". ")
    marker = "locked for exclusive use by "
    if marker in text:
        return text.split(marker, 1)[1].rstrip(". ")
    return "someone"


@dataclass
class HttpLog:
    """Logs each request (method, path, status, time) to the `tracker.http` logger when enabled, or while the command
    line's --verbose shows the `tracker` log on stderr (for every sign-in the command makes: the mail sent through
    Graph and the page `watch --publish` writes as well as the workbook's); never headers."""

    enabled: bool = False

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A requests response hook."""
        if not self.enabled and not _verbose_cli():
            return
        parts = urlsplit(response.request.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        size = response.headers.get("Content-Length", "?")
        elapsed = response.elapsed.total_seconds() * 1000
        log.info(
            "http: %s %s%s -> %s (%.0f ms, %s B)",
            response.request.method,
            parts.netloc,
            path,
            response.status_code,
            elapsed,
            size,
        )


def _verbose_cli() -> bool:
    """Whether the command line's --verbose handler is on the `tracker` logger (tracker.cli.commands marks it)."""
    return any(getattr(handler, "tracker_cli", False) for handler in logging.getLogger("tracker").handlers)


class Remote:
    """One sign-in to SharePoint and Graph, and every request tracker makes to them."""

    def __init__(self, settings: SharePointSettings, tokens: Tokens | None = None, *, verbose: bool = False) -> None:
        self.settings = settings
        self.tokens = tokens or tokens_for(settings)
        self.http_log = HttpLog(verbose)
        self._sharepoint: Any = None
        self._graph: Any = None
        logging.getLogger("office365").setLevel(logging.CRITICAL)  # its token-hook tracebacks would reach users

    def _session(self) -> requests.Session:
        import requests

        session = requests.Session()
        session.hooks["response"].append(self.http_log.hook)
        session.headers["User-Agent"] = user_agent(self.settings)
        session.trust_env = True
        return session

    def client(self, api: str) -> Any:
        """The office365 client's request for `sharepoint` or `graph` (built on first use): what
        `ClientContext(site_url).pending_request()` and `GraphClient(token_callback=...).pending_request()` give,
        made without importing the façades' ~2,400 entity modules (0.85 s of every command on SharePoint; the two
        requests import ~750, 0.3 s). Each signs, retries its token and sends exactly as under the façade."""
        if api == "sharepoint":
            if self._sharepoint is None:
                from office365.sharepoint.request import SharePointRequest

                request = SharePointRequest(self.settings.site_url.rstrip("/"))
                request.authentication_context.with_access_token(self.tokens.sharepoint)
                self._sharepoint = request.with_transport(session=self._session(), timeout=self.settings.timeout)
                # Requests signed with an OAuth token need no form digest (Microsoft's REST docs); dropping
                # it saves a round trip and keeps the client's own, unbounded digest retries out of the way.
                request.beforeExecute -= request.ensure_form_digest
            return self._sharepoint
        if self._graph is None:
            from office365.graph_request import GraphRequest

            self._graph = (
                GraphRequest()
                .with_access_token(self.tokens.graph)
                .with_transport(session=self._session(), timeout=self.settings.timeout)
            )
        return self._graph

    def _reset(self, api: str) -> None:
        if api == "sharepoint":
            self._sharepoint = None
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
        answered: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send one request with retries; SharePoint's 412 and 423 come back as Stale / Locked, and a status in
        `answered` comes back as the response for the caller to read."""
        import requests
        from office365.runtime.client_request_exception import ClientRequestException

        refreshed = False
        what = what or f"{method} {url}"
        tries = retry.Retries()
        while True:
            try:
                options = _options(api, method, url, data, json_body, headers)
                return self.client(api).execute_request_direct(options)
            except ClientRequestException as exc:
                response = exc.response
                status = response.status_code if response is not None else 0
                self._reset(api)
                if status in answered and response is not None:
                    return response
                if status in (429, 503) or (status == 504 and idempotent):
                    if self._wait_again(api, status, response, tries, what):
                        continue
                if status == 401 and not refreshed:
                    refreshed = True
                    self.tokens.refresh()
                    continue
                if status == 412:
                    raise Stale() from None
                if status == 423:
                    raise Locked(lock_owner(response)) from None
                failure = self.failure(api, status, response, what, permission)
                if status == 504 and not idempotent and isinstance(failure, RemoteError):
                    failure.unanswered = True  # the gateway gave up waiting: the service may have done it
                raise failure from None
            except AuthError:
                raise
            except (requests.Timeout, requests.ConnectionError) as exc:
                self._reset(api)
                if idempotent and tries.again(retry.retry_after(None, tries.made)):
                    continue
                silence = self._no_answer(api, what, exc, idempotent, tries.said)
                raise silence from None

    @staticmethod
    def _wait_again(api: str, status: int, response: Any, tries: retry.Retries, what: str) -> bool:
        """Throttled or unavailable: True after waiting its Retry-After (in full, within the deadline); a wait
        longer than the deadline allows, or tries used up, is a RemoteError (a 504 after its tries: False)."""
        if tries.again(retry.retry_after(response, tries.made)):
            return True
        if tries.out_of_time and retry.asked(response) is not None:
            why = "throttled" if status == 429 else f"unavailable, {status}"
            raise RemoteError(f"{what}: {tries.too_long(SERVICES[api], why)}")
        if status != 504:
            raise RemoteError(
                f"{what}: still throttled or unavailable ({status}) {tries.said}; nothing was written, try again later"
            )
        return False

    def _no_answer(self, api: str, what: str, exc: Exception, idempotent: bool, said: str) -> RemoteError:
        """No answer at all (a timeout, a refused connection): retried if it is safe to, else of unknown effect."""
        where = self.settings.origin if api == "sharepoint" else self.settings.graph_url
        why = f"gave up {said}" if idempotent else "not retried since it may have been applied; check, then run again"
        silence = RemoteError(f"{what}: no answer from {where} ({type(exc).__name__}); {why}")
        silence.unanswered = not idempotent
        return silence

    def failure(self, api: str, status: int, response: Any, what: str, permission: str | None) -> Exception:
        detail = error_text(response) if response is not None else ""
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
            need = "the sign-in needs " + (PERMISSIONS.get(permission or api) or str(permission))  # a key, or words
            if permission == "workbook" and app_only(self.settings):
                need = self.settings.undocumented(True, refused=not self.settings.app_only_excel) or (
                    "the app needs Files.ReadWrite.All or Sites.ReadWrite.All (application), which Microsoft does not "
                    "document for the Excel API (delegated only)"
                )
            return AuthError(f"{what}: access denied (403{': ' + detail if detail else ''}); {need}")
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

    def download(
        self, progress: Callable[[int, int], None] | None = None, *, have: tuple[str, bytes] | None = None
    ) -> tuple[bytes, str]:
        """The workbook's bytes and the ETag they belong to (`have`: bytes already at hand and their ETag, returned
        without a download when the file still has that ETag).

        A big file comes in ranges, each asked for only if the file still has the ETag of the
        first (If-Match, and If-Range as HTTP's own guard): a save in the middle of the download
        starts it over, so the bytes are never spliced from two versions.
        """
        for attempt in range(DOWNLOAD_RESTARTS):
            if attempt:  # saved meanwhile: others are writing it now; let them finish, at a jittered pace
                CLOCK.wait(random.uniform(0.05, 0.2 * 2**attempt))
            props = self.properties()
            etag = str(props.get("ETag", ""))
            length = int(props.get("Length") or 0)
            if have is not None and etag and have[0] == etag and len(have[1]) == length:
                return have[1], etag
            chunk = self.settings.chunk_size
            try:
                if length <= chunk:
                    data = self.request(
                        "sharepoint",
                        "GET",
                        self.file_url("/$value"),
                        headers={"If-Match": etag} if etag else None,  # the bytes belong to this ETag
                        what="downloading the workbook",
                    ).content
                    if progress:
                        progress(len(data), len(data))
                    return data, etag
                return self._download_ranges(etag, length, chunk, progress), etag
            except Stale:
                continue  # saved meanwhile: start over on the new version
        raise RemoteError(
            f"downloading the workbook: it changed {DOWNLOAD_RESTARTS} times while it was being downloaded; "
            "try again in a moment"
        )

    def _download_ranges(
        self, etag: str, length: int, chunk: int, progress: Callable[[int, int], None] | None
    ) -> bytes:
        parts = []
        received = 0
        while received < length:
            end = min(received + chunk, length) - 1
            response = self.request(
                "sharepoint",
                "GET",
                self.file_url("/$value"),
                headers={"Range": f"bytes={received}-{end}", "If-Match": etag, "If-Range": etag},
                what="downloading the workbook",
            )
            if response.status_code == 200:
                return self._whole(response, etag, length, progress)
            if response.status_code != 206 or response.headers.get("ETag", etag) != etag:
                raise Stale()  # not the range of this version: it changed
            part = response.content
            if not part:
                break
            parts.append(part)
            received += len(part)
            if progress:
                progress(received, length)
        return b"".join(parts)

    def _whole(self, response: Any, etag: str, length: int, progress: Callable[[int, int], None] | None) -> bytes:
        """A 200 to a Range request: the whole file. SharePoint REST's `$value` is reported to ignore Range
        (github.com/OneDrive/onedrive-api-docs/issues/529), and Graph's download URL may too ("the Range header may
        be ignored and an HTTP 200 response would be returned with the full contents", driveitem-get-content).
        Kept when it is the version asked for (its ETag, else the file's ETag unchanged since); else Stale."""
        data = response.content
        sent = response.headers.get("ETag")
        if sent is None:
            sent = str(self.properties().get("ETag", ""))  # the bytes are `etag`'s if no save came between
        if sent != etag or len(data) != length:
            raise Stale()
        if progress:
            progress(length, length)
        return bytes(data)

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
        """(drive id, item id) of the workbook, found through its site: the site by host and path
        (graph/api/site-getbypath), the library holding the workbook by its webUrl among the site's drives
        (graph/api/drive-list, `system` selected: drives with that facet are hidden otherwise), then the file by its
        path in that library (graph/api/driveitem-get, `root:/{path}`).

        A sign-in refused the site (403: no Sites.Read.All) falls back to the workbook's sharing URL
        (graph/api/shares-get, which documents Files.ReadWrite.All or Sites.ReadWrite.All), encoded properly."""
        what = "finding the workbook in Microsoft Graph"
        try:
            site = self.graph(
                "GET", f"/sites/{self.site_ref()}?$select=id", idempotent=True, what=what, permission="find-workbook"
            )
        except AuthError:
            return self._shared_drive_item(what)
        drives = self.graph(
            "GET",
            f"/sites/{site['id']}/drives?$select=id,name,webUrl,system",
            idempotent=True,
            what=what,
            permission="find-workbook",
        )
        path = self.settings.path
        libraries = [
            (unquote(urlsplit(str(d.get("webUrl", ""))).path).rstrip("/"), str(d.get("id", "")))
            for d in (drives or {}).get("value", [])
        ]
        holding = [(root, drive) for root, drive in libraries if drive and path.lower().startswith(root.lower() + "/")]
        if not holding:
            raise ConfigError(
                f"{what}: no document library of {self.settings.site_url} holds {path}; "
                "check [sharepoint] path (the workbook's server-relative path, library folder included)"
            )
        root, drive = max(holding, key=lambda held: len(held[0]))
        return self._item_at(f"/drives/{drive}/root:/{quote(path[len(root) + 1 :])}", what)

    def site_ref(self) -> str:
        """The site as Graph addresses it by path: `{host}:{server-relative path}` (graph/api/site-getbypath)."""
        path = urlsplit(self.settings.site_url).path.rstrip("/")
        return f"{self.settings.host}:{quote(path)}" if path else self.settings.host

    def _shared_drive_item(self, what: str) -> tuple[str, str]:
        """The workbook through `/shares/u!{base64url of its URL}`; the URL is percent-encoded first (spaces as %20),
        as Graph takes "a properly encoded sharing URL" (graph/api/shares-get)."""
        url = self.settings.origin + quote(self.settings.path)
        encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
        return self._item_at(f"/shares/u!{encoded}/driveItem", what)

    def _item_at(self, path: str, what: str) -> tuple[str, str]:
        """(drive id, item id) of the drive item Graph finds at `path`."""
        item = self.graph(
            "GET", f"{path}?$select=id,parentReference", idempotent=True, what=what, permission="find-workbook"
        )
        return str(item["parentReference"]["driveId"]), str(item["id"])

    def graph(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        idempotent: bool = False,
        what: str = "",
        permission: str = "graph",
        headers: dict[str, str] | None = None,
    ) -> Any:
        """A Graph request relative to graph_url; returns the parsed JSON (or None). `permission` is a key of
        PERMISSIONS or, in words, what the sign-in needs: a 403 names it."""
        response = self.request(
            "graph",
            method,
            f"{self.settings.graph_url}{path}",
            json_body=body,
            headers=headers,
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

"""The Excel service's pieces: values as Excel takes them, the parts of a JSON batch and their answers, the error codes Graph nests, and the next free key when another writer took ours."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tracker.errors import ConflictError, TrackerError
from tracker.microsoft365.remote import error_text
from tracker.store.engine import Busy, Change, cell_value
from tracker.store.xlsx_cells import excel_serial
from tracker.workbook.cell_values import raw_key
from tracker.workbook.edits import Edit
from tracker.workbook.reading import Tracker

if TYPE_CHECKING:
    from tracker.microsoft365.remote import Remote

log = logging.getLogger("tracker.http")


def excel_value(value: Any) -> Any:
    """A value for the Excel service: times as serial numbers, text always as text."""

    if value is None:
        return ""
    if isinstance(value, datetime):
        return excel_serial(cell_value(value))
    if isinstance(value, bool | int | float):
        return value
    # A leading apostrophe makes Excel keep the text as typed: never a formula, a number or a date.
    return "'" + str(value)


@dataclass
class Request:
    method: str
    url: str
    body: Any = None
    what: str = ""
    edits: list[Edit] = field(default_factory=list)  # what a write request writes
    kind: str = ""  # check | patch | add | keys | close
    data: dict[str, Any] = field(default_factory=dict)


def anchored(body: dict[str, Any], left: int, anchors: dict[int, str]) -> dict[int, str]:
    """The anchor columns' cells as a row check read them (column -> folded value), to compare with `anchors`."""
    values = (body.get("values") or [[None]])[0]
    return {col: raw_key(values[col - left] if col - left < len(values) else None) for col in anchors}


def filled_first(anchors: dict[int, str], found: dict[int, str]) -> bool:
    """Whether a cell the write expected empty was filled meanwhile: another writer did it first (two trackers
    applying one typed row), so this one gives way."""
    return any(expected == "" and found.get(col) for col, expected in anchors.items())


def leave_out(change: Change, requests: list[Request]) -> None:
    """Take the edits of `requests` out of the change: not written (put back), so never remembered as written."""
    gone = {id(e) for r in requests for e in r.edits}
    change.replay, change.own = [[e for e in edits if id(e) not in gone] for edits in (change.replay, change.own)]


def batch_body(chunk: list[Request], session: dict[str, str]) -> dict[str, Any]:
    """A JSON batch of the requests, each after the one before (`dependsOn`), each with the session header
    (graph/json-batching: a request in a batch carries its own headers)."""
    items = []
    for index, request in enumerate(chunk):
        headers = dict(session)
        item: dict[str, Any] = {"id": str(index + 1), "method": request.method, "url": request.url}
        if request.body is not None:
            item["body"] = request.body
            headers["Content-Type"] = "application/json"
        if headers:
            item["headers"] = headers
        if index:
            item["dependsOn"] = [str(index)]
        items.append(item)
    return {"requests": items}


class Answer:
    """An inner batch response, shaped like a `requests` response for the error helpers."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.status_code = int(raw.get("status", 0))
        self.headers = {str(k): str(v) for k, v in (raw.get("headers") or {}).items()}
        body = raw.get("body")
        if isinstance(body, str):
            try:
                body = json.loads(base64.b64decode(body)) if body and not body.startswith("{") else json.loads(body)
            except ValueError:
                body = {"error": {"message": body}}
        self.body = body if isinstance(body, dict) else {}
        self.text = json.dumps(self.body)

    def json(self) -> Any:
        return self.body


class ItemGone(Exception):
    """Graph cannot find the item (a cached id of a moved or replaced file, or a missing table)."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(what)
        self.what, self.detail = what, detail


def error_codes(body: dict[str, Any]) -> str:
    out = []
    error: Any = body.get("error") if isinstance(body, dict) else None
    while isinstance(error, dict):
        out.append(str(error.get("code", "")).casefold())
        error = error.get("innerError") or error.get("innererror")
    return " ".join(out)


def referenced(tracker: Tracker, sheet: str, keyname: str) -> list[str]:
    """Every value other sheets use to point at `sheet`'s key: those IDs are taken too."""
    out = []
    for spec in tracker.schema:
        for one in spec.fields.values():
            if one.ref == (sheet, keyname) and tracker.sheet(spec.name).present:
                out += [str(r[one.name]) for r in tracker.sheet(spec.name).rows if r[one.name] is not None]
    return out


def key_column(body: Any) -> list[str]:
    """The key column of a range read (`values`, one cell a row) as text, '' for an empty cell."""
    return [str(r[0]) if r and r[0] is not None else "" for r in (body or {}).get("values", [])]


def next_key(old: str, taken: list[str]) -> str:
    """`old` with its trailing number raised above every taken key of the same form."""
    match = re.match(r"^(.*?)(\d+)$", old)
    if not match:
        raise ConflictError(f"someone else added {old!r} at the same moment; run the command again")
    prefix, digits = match.groups()
    highest = max(
        (int(v[len(prefix) :]) for v in taken if v.startswith(prefix) and v[len(prefix) :].isdecimal()), default=0
    )
    return f"{prefix}{highest + 1:0{len(digits)}d}"


def column_runs(cells: dict[int, Any]) -> list[tuple[int, list[Any]]]:
    """Group {column: value} into runs of adjacent columns."""
    runs: list[tuple[int, list[Any]]] = []
    for column in sorted(cells):
        if runs and runs[-1][0] + len(runs[-1][1]) == column:
            runs[-1][1].append(cells[column])
        else:
            runs.append((column, [cells[column]]))
    return runs


class WorkbookSession:
    """One persistent workbook session for a commit's requests.

    Microsoft: "If your application needs to make more than one or two calls to the Excel API, create a
    session and pass the session ID with each request" (graph/excel-manage-sessions); createSession with
    persistChanges true, the `workbook-session-id` header on every later request, closeSession when all are done
    (graph/workbook-best-practice). A session the service calls `invalidSessionReCreatable` ("does not exist or
    is invalid due to a transient error": graph/workbook-error-handling) is created again, once.
    """

    def __init__(self, remote: Remote, busy: Callable[[int, Any], str]) -> None:
        self.remote = remote
        self.busy = busy  # the message for a 409/423 (another client holds the workbook)
        self.id: str | None = None
        self.base = ""
        self.renewed = False

    @property
    def headers(self) -> dict[str, str]:
        """The header every request of the session carries (none before it is open)."""
        return {"workbook-session-id": self.id} if self.id else {}

    def open(self, base: str) -> None:
        """Create the session on the workbook at `base` (no-op when one is open there)."""
        if self.id and self.base == base:
            return
        self.close()
        response = self.remote.request(
            "graph",
            "POST",
            f"{self.remote.settings.graph_url}{base}/createSession",
            json_body={"persistChanges": True},
            idempotent=True,  # workbook-createsession: "occasionally ... a 504 ... repeat the request"
            what="opening a workbook session",
            permission="workbook",
            answered=(404, 409, 423),
        )
        status = response.status_code
        body = _body(response)
        if status == 404 and "itemnotfound" in error_codes(body):
            raise ItemGone("opening a workbook session", error_text(response))
        if status in (409, 423):
            raise Busy(self.busy(status, response))
        if status >= 400 or not body.get("id"):
            raise self.remote.failure("graph", status, response, "opening a workbook session", "workbook")
        self.id, self.base = str(body["id"]), base

    def renew(self, answer: Any) -> bool:
        """After an answer saying the session is gone: a new one (once per commit); False if not that, or done."""
        if self.renewed or "invalidsessionrecreatable" not in error_codes(getattr(answer, "body", {})):
            return False
        self.renewed = True
        base, self.id = self.base, None
        self.open(base)
        return True

    def closed(self, ok: bool) -> None:
        """A closeSession sent in a batch answered: done if `ok`, else `close` sends it again."""
        if ok:
            self.id = None

    def close(self) -> None:
        """closeSession; a failure is only logged: a persistent session's writes are saved, and it expires."""
        if not self.id:
            return
        headers, self.id = self.headers, None
        try:
            self.remote.request(
                "graph",
                "POST",
                f"{self.remote.settings.graph_url}{self.base}/closeSession",
                json_body={},
                headers=headers,
                idempotent=True,
                what="closing the workbook session",
                answered=(404,),
            )
        except TrackerError as exc:
            log.warning("closing the workbook session: %s", exc)


def _body(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

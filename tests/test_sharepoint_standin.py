"""The real office365 client against the SharePoint / Graph stand-in, over HTTP on 127.0.0.1.

These pin down what the client sends and how it reacts (ETags, locks, throttling, chunked
uploads, the Excel service, sendMail), so the SharePoint store can be tested against the stand-in.
The last section talks plain HTTP (`requests`) to pin down what the stand-in models of Microsoft's
documentation: JSON batching, the Excel service saving late or being held by another client, and
conditional range downloads.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from io import BytesIO
from typing import Any
from urllib.parse import quote

import pytest
import requests
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.worksheet.table import Table

from tests import suite_clock
from tests.sharepoint_standin import DRIVE_ID, StandIn

FIRST = suite_clock.event_id()  # the ID in the stand-in's own test workbook

LIBRARY = "/sites/ops/Shared Documents"
PATH = f"{LIBRARY}/Event Tracker.xlsx"
TOKENS = ("sp-token", "graph-token")


def sp_token() -> dict[str, Any]:
    return {"access_token": "sp-token", "token_type": "Bearer", "expires_in": 3600}


def graph_token() -> dict[str, Any]:
    return {"access_token": "graph-token", "token_type": "Bearer", "expires_in": 3600}


def tracker_workbook() -> bytes:
    """Sheet Events with table EventsTable (A1:E2): a header row and one styled data row."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Events"
    ws.append(["ID", "Title", "Opened", "Severity", "Notes"])
    ws.append([FIRST, "Mail outage", None, 2, "first"])
    ws["C2"].value = datetime(2024, 5, 1, 9, 30)
    ws["C2"].number_format = "yyyy-mm-dd hh:mm"
    ws["A2"].font = Font(bold=True)
    ws.add_table(Table(displayName="EventsTable", ref="A1:E2"))
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def sp() -> Iterator[StandIn]:
    """A stand-in holding the tracker workbook."""
    with StandIn() as standin:
        standin.put_file(PATH, tracker_workbook())
        yield standin
    assert standin.errors == []


@pytest.fixture
def ctx(sp: StandIn) -> Any:
    from office365.sharepoint.client_context import ClientContext

    return ClientContext(sp.site_url).with_access_token(sp_token)


@pytest.fixture
def graph(sp: StandIn) -> Any:
    from office365.graph_client import GraphClient

    return GraphClient(token_callback=graph_token).with_transport(session=sp.graph_session())


def calls(sp: StandIn) -> list[str]:
    """`METHOD path status` for every request the stand-in answered."""
    return [f"{r['method']} {r['path']} {r['status']}" for r in sp.requests]


def assert_no_token(error: BaseException) -> None:
    for token in TOKENS:
        assert token not in str(error) and token not in repr(error.args)


FILE_URL = (
    "/sites/ops/_api/Web/getFileByServerRelativePath(DecodedUrl='/sites/ops/Shared%20Documents/Event%20Tracker.xlsx')"
)
ADD_URL = (
    "/sites/ops/_api/Web/getFolderByServerRelativePath(DecodedUrl='/sites/ops/Shared%20Documents')"
    "/Files/add(overwrite=true,url='Event%20Tracker.xlsx')"
)


# -- SharePoint REST --------------------------------------------------------------------------------


def test_properties_and_download(sp: StandIn, ctx: Any) -> None:
    """Properties come back with SharePoint's ETag, and the download is the stored bytes."""
    select = ["ETag", "TimeLastModified", "UIVersionLabel", "Length", "ServerRelativeUrl", "Name", "UniqueId"]
    file = ctx.web.get_file_by_server_relative_path(PATH).get().select(select).execute_query()
    content = file.get_content().execute_query()

    assert file.properties["ETag"] == sp.etag(PATH)
    assert file.properties["UIVersionLabel"] == "1.0"
    assert file.length == len(sp.get_file(PATH))
    assert content.value == sp.get_file(PATH)
    assert calls(sp) == [
        "POST /sites/ops/_api/contextInfo 200",
        f"GET {FILE_URL}?$select={','.join(select)} 200",
        f"GET /sites/ops/_api/Web/GetFileById('{file.unique_id}')/$value 200",  # UniqueId loaded → by id
    ]
    assert sp.requests[1]["headers"]["Accept"] == "application/json;odata=verbose"


def test_raw_requests_nometadata_and_ranges(sp: StandIn, ctx: Any) -> None:
    """Hand-built RequestOptions work too: nometadata JSON has no `d`; `$value` ignores `Range` and answers the whole
    file with 200, as reported of real tenants (github.com/OneDrive/onedrive-api-docs/issues/529)."""
    from office365.runtime.http.request_options import RequestOptions

    def get(suffix: str, **headers: str) -> Any:
        request = RequestOptions(f"{sp.url}{FILE_URL}{suffix}")
        request.set_header("Accept", "application/json;odata=nometadata")
        for name, value in headers.items():
            request.set_header(name, value)
        return ctx.pending_request().execute_request_direct(request)

    props = get("?$select=ETag,Length").json()
    assert props == {"ETag": sp.etag(PATH), "Length": str(len(sp.get_file(PATH)))}
    first = get("/$value", Range="bytes=0-99")
    assert first.status_code == 200 and first.content == sp.get_file(PATH)
    assert first.headers["ETag"] == sp.etag(PATH) and "Content-Range" not in first.headers


def test_missing_file_is_404(sp: StandIn, ctx: Any) -> None:
    """A file that is not there answers 404 with a SharePoint error."""
    with pytest.raises(Exception) as caught:
        ctx.web.get_file_by_server_relative_path(f"{LIBRARY}/Nope.xlsx").get().execute_query()
    assert caught.value.response.status_code == 404
    assert_no_token(caught.value)


def test_upload_with_if_match(sp: StandIn, ctx: Any) -> None:
    """Files/add with the current ETag succeeds and returns the new ETag; a stale one gets 412."""
    folder = ctx.web.get_folder_by_server_relative_path(LIBRARY)
    etag = sp.etag(PATH)
    added = folder.files.add("Event Tracker.xlsx", b"version 2", overwrite=True)
    ctx.before_execute(lambda request: request.set_header("If-Match", etag))
    ctx.execute_query()

    assert added.properties["ETag"] == sp.etag(PATH) != etag
    assert sp.get_file(PATH) == b"version 2" and sp.version(PATH) == 2
    assert sp.requests[-1]["path"] == ADD_URL and sp.requests[-1]["headers"]["If-Match"] == etag

    folder.files.add("Event Tracker.xlsx", b"version 3", overwrite=True)
    ctx.before_execute(lambda request: request.set_header("If-Match", etag))
    with pytest.raises(Exception) as caught:
        ctx.execute_query()
    assert caught.value.response.status_code == 412
    assert sp.get_file(PATH) == b"version 2"
    assert_no_token(caught.value)


def test_put_value_with_if_match_after_someone_else_saved(sp: StandIn, ctx: Any) -> None:
    """POST $value + X-HTTP-Method: PUT honours If-Match: a save between our download and upload gives 412."""
    from office365.runtime.http.http_method import HttpMethod
    from office365.runtime.http.request_options import RequestOptions

    original = sp.get_file(PATH)
    file = ctx.web.get_file_by_server_relative_path(PATH).get().select(["ETag"]).execute_query()
    sp.after_download(lambda standin: standin.put_file(PATH, b"saved by Jane"))
    assert file.get_content().execute_query().value == original
    assert sp.get_file(PATH) == b"saved by Jane"

    request = RequestOptions(f"{sp.url}{FILE_URL}/$value")
    request.method = HttpMethod.Post
    request.set_header("X-HTTP-Method", "PUT")
    request.set_header("If-Match", file.properties["ETag"])
    request.data = b"our version"
    with pytest.raises(Exception) as caught:
        ctx.pending_request().execute_request_direct(request)
    assert caught.value.response.status_code == 412
    assert sp.get_file(PATH) == b"saved by Jane"
    assert_no_token(caught.value)

    request.set_header("If-Match", sp.etag(PATH))
    assert ctx.pending_request().execute_request_direct(request).status_code == 204
    assert sp.get_file(PATH) == b"our version"


def test_locked_file_refuses_uploads(sp: StandIn, ctx: Any, graph: Any) -> None:
    """While someone co-authors in Excel, REST uploads get 423 naming them; the Excel service still works."""
    from office365.runtime.exceptions import FileLockedException

    sp.lock(PATH, owner="Jane Doe")
    with pytest.raises(FileLockedException) as caught:
        ctx.web.get_folder_by_server_relative_path(LIBRARY).files.add(
            "Event Tracker.xlsx", b"x", overwrite=True
        ).execute_query()
    assert caught.value.response.status_code == 423
    assert "locked for shared use by Jane Doe" in caught.value.message
    assert caught.value.lock_owner is None  # the client's regex wants "NAME [login]"; parse the message yourself
    assert_no_token(caught.value)

    graph.drives[DRIVE_ID].items["ITEM-1"].workbook.tables["EventsTable"].rows.add(
        [["EVT-2", "b", None, 1, ""]]
    ).execute_query()
    assert sp.version(PATH) == 2

    sp.unlock(PATH)
    ctx.web.get_folder_by_server_relative_path(LIBRARY).files.add(
        "Event Tracker.xlsx", b"x", overwrite=True
    ).execute_query()
    assert sp.get_file(PATH) == b"x"


def test_throttled_then_retried(sp: StandIn, ctx: Any) -> None:
    """429 with Retry-After: execute_query_with_incremental_retry waits and succeeds."""
    sp.throttle(1, retry_after="1")
    started = time.monotonic()
    file = ctx.web.get_file_by_server_relative_path(PATH).get().select(["ETag"])
    ctx.execute_query_with_incremental_retry()

    assert file.properties["ETag"] == sp.etag(PATH)
    assert time.monotonic() - started >= 1
    assert [r["status"] for r in sp.requests] == [429, 200, 200]  # the throttled one was contextInfo


def test_retried_upload_loses_if_match_unless_hook_persists(sp: StandIn, ctx: Any) -> None:
    """The client's retry re-sends a throttled upload WITHOUT a once-only If-Match; once=False keeps it."""
    folder = ctx.web.get_folder_by_server_relative_path(LIBRARY)
    ctx.web.get_file_by_server_relative_path(PATH).get().execute_query()  # contextInfo out of the way
    etag = sp.etag(PATH)

    sp.throttle(1)
    folder.files.add("Event Tracker.xlsx", b"v2", overwrite=True)
    ctx.before_execute(lambda request: request.set_header("If-Match", etag))
    ctx.execute_query_with_incremental_retry()
    assert [r["headers"].get("If-Match") for r in sp.requests[-2:]] == [etag, None]

    stale = etag
    sp.throttle(1)
    folder.files.add("Event Tracker.xlsx", b"v3", overwrite=True)
    ctx.before_execute(lambda request: request.set_header("If-Match", stale), once=False)
    with pytest.raises(Exception) as caught:
        ctx.execute_query_with_incremental_retry()
    assert [r["status"] for r in sp.requests[-2:]] == [429, 412]
    assert sp.get_file(PATH) == b"v2"
    assert_no_token(caught.value)


def test_chunked_upload_on_existing_file(sp: StandIn, ctx: Any) -> None:
    """start/continue/finishUpload on the existing File replaces it only at finishUpload, byte for byte."""
    data = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    chunk = 2 * 1024 * 1024
    upload_id = str(uuid.uuid4())
    old, etag = sp.get_file(PATH), sp.etag(PATH)
    file = ctx.web.get_file_by_server_relative_path(PATH)

    offset = file.start_upload(upload_id, data[:chunk])
    ctx.before_execute(lambda request: request.set_header("If-Match", etag))
    ctx.execute_query()
    offset = file.continue_upload(upload_id, int(offset.value), data[chunk : 2 * chunk]).execute_query()
    assert int(offset.value) == 2 * chunk and sp.get_file(PATH) == old
    file.finish_upload(upload_id, int(offset.value), data[2 * chunk :])
    ctx.before_execute(lambda request: request.set_header("If-Match", etag))
    ctx.execute_query()

    assert sp.get_file(PATH) == data
    assert file.properties["ETag"] == sp.etag(PATH) and sp.version(PATH) == 2
    assert [r["path"].removeprefix(FILE_URL) for r in sp.requests[-3:]] == [
        f"/startUpload(uploadID='{upload_id}')",
        f"/continueUpload(uploadID='{upload_id}',fileOffset={chunk})",
        f"/finishUpload(uploadID='{upload_id}',fileOffset={2 * chunk})",
    ]
    assert [r["headers"].get("If-Match") for r in sp.requests[-3:]] == [etag, None, etag]


def test_expired_token_gets_401(sp: StandIn, ctx: Any) -> None:
    """An expired token answers 401; the error message does not carry the token."""
    ctx.web.get_file_by_server_relative_path(PATH).get().execute_query()
    sp.expire("sp-token")
    with pytest.raises(Exception) as caught:
        ctx.web.get_file_by_server_relative_path(PATH).get().execute_query()
    assert caught.value.response.status_code == 401
    assert_no_token(caught.value)


# -- Microsoft Graph --------------------------------------------------------------------------------


def test_resolve_drive_item(sp: StandIn, graph: Any) -> None:
    """The workbook's drive item resolves by sharing URL (properly encoded), by site + path, and by drive + path."""
    by_share = graph.shares.by_url(sp.url + quote(PATH)).drive_item.get().execute_query()
    site = graph.sites.get_by_url(sp.site_url).execute_query()
    by_site_path = site.drive.root.get_by_path("Event Tracker.xlsx").get().execute_query()
    by_drive_path = graph.drives[DRIVE_ID].root.get_by_path("Event Tracker.xlsx").get().execute_query()

    for item in (by_share, by_site_path, by_drive_path):
        assert item.id == "ITEM-1"
        assert item.parent_reference.driveId == DRIVE_ID
        assert item.properties["eTag"] == sp.etag(PATH)
    assert [r["path"] for r in sp.requests] == [
        "/graph/v1.0/shares/u!" + base64.b64encode((sp.url + quote(PATH)).encode()).decode().rstrip("=") + "/driveItem",
        "/graph/v1.0/sites/127.0.0.1:/sites/ops",
        f"/graph/v1.0/sites/{sp.site_id}/drive/root:/Event%20Tracker.xlsx:/",
        "/graph/v1.0/drives/DRIVE-1/root:/Event%20Tracker.xlsx:/",
    ]


def test_add_table_row(sp: StandIn, graph: Any) -> None:
    """rows/add appends inside the table, grows its ref, copies the style above and types values like Excel."""
    workbook = graph.drives[DRIVE_ID].items["ITEM-1"].workbook
    session = workbook.create_session(persist_changes=True).execute_query().value
    sp.fail_next_rows_add(504)
    row = workbook.tables["EventsTable"].rows.add([["'00042", "=1+1", "2024-06-01 08:00", 3, None]])
    graph.before_execute(lambda request: request.set_header("workbook-session-id", session.id), once=False)
    graph.execute_query_retry(max_retry=2, timeout_secs=0)
    workbook.close_session(session.id).execute_query()

    assert row.properties["index"] == 1
    assert [r["status"] for r in sp.requests if r["path"].endswith("/rows")] == [504, 201]
    sheet = load_workbook(BytesIO(sp.get_file(PATH)))["Events"]
    assert sheet.tables["EventsTable"].ref == "A1:E3"
    assert sheet.tables["EventsTable"].autoFilter.ref == "A1:E3"
    assert [c.value for c in sheet[3]][:2] == ["00042", "=1+1"]
    assert sheet["C3"].value == datetime(2024, 6, 1, 8, 0)
    assert sheet["D3"].value == 3 and sheet["E3"].value is None
    assert sheet["A3"].font.bold and sheet["C3"].number_format == "yyyy-mm-dd hh:mm"
    assert sp.version(PATH) == 2
    assert sp.requests[-2]["headers"]["workbook-session-id"] == session.id


def test_patch_range(sp: StandIn, graph: Any) -> None:
    """PATCH worksheets/{ws}/range(address=...) writes the cells (after the client's GET of the range)."""
    sheet = graph.drives[DRIVE_ID].items["ITEM-1"].workbook.worksheets["Events"]
    target = sheet.range("D2:E2").execute_query()
    target.set_property("values", [[1, "'=not a formula"]])
    target.update().execute_query()

    written = load_workbook(BytesIO(sp.get_file(PATH)))["Events"]
    assert (written["D2"].value, written["E2"].value) == (1, "=not a formula")
    assert [f"{r['method']} {r['status']}" for r in sp.requests] == ["GET 200", "PATCH 200"]
    assert (
        sp.requests[-1]["path"]
        == "/graph/v1.0/drives/DRIVE-1/items/ITEM-1/workbook/worksheets/Events/range(address='D2:E2')"
    )


def test_send_mail(sp: StandIn, graph: Any) -> None:
    """sendMail carries to/cc/bcc, the HTML body and saveToSentItems; a refusal raises with the status."""
    user = graph.users["ops@example.com"]
    user.send_mail(
        "Outage: mail",
        "<p>Down</p>",
        ["a@example.com"],
        cc_recipients=["b@example.com"],
        bcc_recipients=["c@example.com"],
        save_to_sent_items=True,
        body_type="HTML",
    ).execute_query()

    upn, body = sp.sent_mail[0]
    message = body["message"]
    assert upn == "ops@example.com" and body["saveToSentItems"] is True
    assert message["body"] == {
        "content": "<p>Down</p>",
        "contentType": "html",
        "@odata.type": "#microsoft.graph.ItemBody",
    }
    assert [r["emailAddress"]["address"] for r in message["toRecipients"]] == ["a@example.com"]
    assert [r["emailAddress"]["address"] for r in message["ccRecipients"]] == ["b@example.com"]
    assert [r["emailAddress"]["address"] for r in message["bccRecipients"]] == ["c@example.com"]
    assert sp.requests[0]["path"] == "/graph/v1.0/users/ops@example.com/sendmail"

    sp.refuse_mail(1)
    with pytest.raises(Exception) as caught:
        user.send_mail("s", "b", ["a@example.com"]).execute_query()
    assert caught.value.response.status_code == 400
    assert len(sp.sent_mail) == 1
    assert_no_token(caught.value)


# -- plain HTTP: what the stand-in models of Microsoft's documentation ------------------------------

WORKBOOK = f"/drives/{DRIVE_ID}/items/ITEM-1/workbook"
ROW = ["EVT-2", "Disk full", "", 1, "x"]


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A plain requests session that never uses a proxy from the environment."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


def graph_call(sp: StandIn, http: requests.Session, method: str, path: str, body: Any = None, **headers: str) -> Any:
    headers = {"Authorization": "Bearer graph-token", **headers}
    return http.request(method, sp.graph_url + path, json=body, headers=headers, timeout=10)


def sp_download(sp: StandIn, http: requests.Session, **headers: str) -> requests.Response:
    """A download through Graph, which documents Range (driveitem-get-content; REST `$value` ignores it)."""
    headers = {"Authorization": "Bearer graph-token", **headers}
    return http.get(
        f"{sp.graph_url}/drives/{DRIVE_ID}/items/ITEM-1/content",
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def cell(data: bytes, address: str) -> Any:
    return load_workbook(BytesIO(data))["Events"][address].value


def test_send_mail_answers_as_graph_documents(sp: StandIn, http: requests.Session) -> None:
    """sendMail: 413 over 4 MB; a person's token sends as their own mailbox with Mail.Send, as a shared one only
    with Mail.Send.Shared (else 403 ErrorAccessDenied), Send As or Send on Behalf (else 403 ErrorSendAsDenied) and
    Full Access; an app's token needs the Mail.Send role; 202 and nothing else sent otherwise."""
    small = {"message": {"subject": "s", "toRecipients": [{"emailAddress": {"address": "a@example.com"}}]}}
    big = {"message": {**small["message"], "body": {"contentType": "HTML", "content": "x" * (4 * 1024 * 1024)}}}

    def send(token: str, mailbox: str = "team@example.com", body: Any = small) -> tuple[int, str]:
        answer = graph_call(sp, http, "POST", f"/users/{mailbox}/sendMail", body, Authorization=f"Bearer {token}")
        return answer.status_code, answer.json()["error"]["code"] if answer.content else ""

    assert send("graph-token", body=big)[0] == 413
    jane = sp.user_token("jane@example.com", "Mail.Send")
    assert send(jane, "jane@example.com") == (202, "")
    assert send(jane) == (403, "ErrorAccessDenied")  # Mail.Send covers her own mailbox only
    shared = sp.user_token("jane@example.com", "Mail.Send.Shared")
    assert send(shared) == (403, "ErrorSendAsDenied")
    sp.grant_mailbox("team@example.com", "jane@example.com", "SendAs")
    assert send(shared) == (403, "ErrorAccessDenied")  # /users/{mailbox}/sendMail also needs Full Access
    sp.grant_mailbox("team@example.com", "jane@example.com", "FullAccess")
    assert send(shared) == (202, "")
    assert send(sp.app_token("Sites.ReadWrite.All")) == (403, "ErrorAccessDenied")
    assert send(sp.app_token("Mail.Send")) == (202, "")
    assert [mailbox for mailbox, _ in sp.sent_mail] == ["jane@example.com", "team@example.com", "team@example.com"]


def test_batch_runs_requests_in_dependency_order_as_one_http_request(sp: StandIn, http: requests.Session) -> None:
    """A $batch runs each request like a direct one, dependencies first, and counts as one HTTP request."""
    batch = {
        "requests": [
            {"id": "3", "method": "GET", "url": f"{WORKBOOK}/tables/EventsTable/rows", "dependsOn": ["2"]},
            {
                "id": "1",
                "method": "POST",
                "url": f"{WORKBOOK}/tables/EventsTable/rows",
                "headers": {"Content-Type": "application/json"},
                "body": {"values": [ROW]},
            },
            {
                "id": "2",
                "method": "PATCH",
                "url": f"{WORKBOOK}/worksheets/Events/range(address='E3')",
                "headers": {"Content-Type": "application/json"},
                "body": {"values": [["patched"]]},
                "dependsOn": ["1"],
            },
        ]
    }
    answer = graph_call(sp, http, "POST", "/$batch", batch)

    assert answer.status_code == 200
    responses = answer.json()["responses"]
    assert [(r["id"], r["status"]) for r in responses] == [("1", 201), ("2", 200), ("3", 200)]
    assert responses[0]["body"] == {"index": 1, "values": [["EVT-2", "Disk full", "", 1, "x"]]}
    assert responses[0]["headers"]["Content-Type"].startswith("application/json")
    assert responses[2]["body"]["value"][1]["values"] == [["EVT-2", "Disk full", "", 1, "patched"]]
    assert cell(sp.get_file(PATH), "E3") == "patched"
    assert calls(sp) == ["POST /graph/v1.0/$batch 200"]
    assert [(r["batch"], r["id"], r["method"], r["status"]) for r in sp.batched] == [
        (1, "1", "POST", 201),
        (1, "2", "PATCH", 200),
        (1, "3", "GET", 200),
    ]
    assert sp.batched[0]["path"] == f"/graph/v1.0{WORKBOOK}/tables/EventsTable/rows"


def test_batch_failed_dependency_is_424_and_faults_hit_single_requests(sp: StandIn, http: requests.Session) -> None:
    """Inside a batch a throttled request is an inner 429 with Retry-After, and what depends on it is 424 unrun."""
    original = sp.get_file(PATH)
    sp.throttle(1, retry_after="7")
    batch = {
        "requests": [
            {"id": "a", "method": "POST", "url": f"{WORKBOOK}/tables/EventsTable/rows", "body": {"values": [ROW]}},
            {
                "id": "b",
                "method": "PATCH",
                "url": f"{WORKBOOK}/worksheets/Events/range(address='E2')",
                "body": {"values": [["not written"]]},
                "dependsOn": ["a"],
            },
            {"id": "c", "method": "GET", "url": f"{WORKBOOK}/worksheets/Events/range(address='A2')?$select=values"},
        ]
    }
    answer = graph_call(sp, http, "POST", "/$batch", batch)

    assert answer.status_code == 200
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    assert by_id["a"]["status"] == 429 and by_id["a"]["headers"]["Retry-After"] == "7"
    assert by_id["b"]["status"] == 424 and by_id["b"]["body"]["error"]["code"]
    assert by_id["c"] == {
        "id": "c",
        "status": 200,
        "headers": {"Content-Type": "application/json;charset=utf-8"},
        "body": {"values": [[FIRST]]},
    }
    assert sp.get_file(PATH) == original and sp.version(PATH) == 1
    assert [r["status"] for r in sp.batched] == [429, 424, 200]


def test_batch_over_20_requests_or_with_duplicate_ids_is_400(sp: StandIn, http: requests.Session) -> None:
    """A batch of more than 20 requests, or with an id twice, is refused whole with 400 and runs nothing."""
    read = {"method": "GET", "url": f"{WORKBOOK}/worksheets/Events/range(address='A1')"}
    too_many = graph_call(sp, http, "POST", "/$batch", {"requests": [{"id": str(i), **read} for i in range(21)]})
    twice = graph_call(sp, http, "POST", "/$batch", {"requests": [{"id": "x", **read}, {"id": "X", **read}]})
    twenty = graph_call(sp, http, "POST", "/$batch", {"requests": [{"id": str(i), **read} for i in range(20)]})

    assert (too_many.status_code, twice.status_code, twenty.status_code) == (400, 400, 200)
    assert too_many.json()["error"]["code"] == "invalidRequest"
    assert "20" in too_many.json()["error"]["message"]
    assert len(sp.batched) == 20


def test_excel_service_saving_late(sp: StandIn, http: requests.Session) -> None:
    """Under save_late, workbook reads see a write at once; the file, its ETag and downloads only after persist."""
    etag, original = sp.etag(PATH), sp.get_file(PATH)
    sp.save_late(PATH)
    added = graph_call(sp, http, "POST", f"{WORKBOOK}/tables/EventsTable/rows", {"values": [ROW]})
    read = graph_call(sp, http, "GET", f"{WORKBOOK}/worksheets/Events/range(address='A2:A5')?$select=values")

    assert added.status_code == 201 and added.json()["index"] == 1
    assert read.json() == {"values": [[FIRST], ["EVT-2"], [""], [""]]}
    assert sp_download(sp, http).content == original and sp.get_file(PATH) == original
    assert graph_call(sp, http, "GET", "/drives/DRIVE-1/items/ITEM-1").json()["eTag"] == etag == sp.etag(PATH)
    assert cell(sp.live_copy(PATH), "A3") == "EVT-2"

    sp.persist(PATH)
    assert sp.etag(PATH) != etag and sp.version(PATH) == 2
    assert cell(sp_download(sp, http).content, "A3") == "EVT-2"
    sp.persist(PATH)  # nothing pending: no new version
    assert sp.version(PATH) == 2


def test_close_session_saves_late_writes(sp: StandIn, http: requests.Session) -> None:
    """Under save_late, closeSession of a persistChanges session saves the session's writes into the file."""
    sp.save_late(PATH)
    session = graph_call(sp, http, "POST", f"{WORKBOOK}/createSession", {"persistChanges": True}).json()["id"]
    patched = graph_call(
        sp,
        http,
        "PATCH",
        f"{WORKBOOK}/worksheets/Events/range(address='E2')",
        {"values": [["in session"]]},
        **{"workbook-session-id": session},
    )
    assert patched.status_code == 200 and patched.json()["values"] == [["in session"]]
    assert sp.version(PATH) == 1

    closed = graph_call(sp, http, "POST", f"{WORKBOOK}/closeSession", {}, **{"workbook-session-id": session})
    assert closed.status_code == 204
    assert sp.version(PATH) == 2 and cell(sp.get_file(PATH), "E2") == "in session"


def test_upload_drops_the_excel_services_unsaved_copy(sp: StandIn, http: requests.Session) -> None:
    """A whole-file save while the Excel service holds unsaved writes replaces them: the service reopens the new file."""
    sp.save_late(PATH)
    graph_call(sp, http, "PATCH", f"{WORKBOOK}/worksheets/Events/range(address='E2')", {"values": [["unsaved"]]})
    newer = load_workbook(BytesIO(sp.get_file(PATH)))
    newer["Events"]["E2"] = "saved by Jane"
    out = BytesIO()
    newer.save(out)
    sp.put_file(PATH, out.getvalue())

    read = graph_call(sp, http, "GET", f"{WORKBOOK}/worksheets/Events/range(address='E2')?$select=values")
    assert read.json() == {"values": [["saved by Jane"]]}
    sp.persist(PATH)
    assert sp.version(PATH) == 2 and cell(sp.get_file(PATH), "E2") == "saved by Jane"


def test_workbook_held_for_edit_by_another_client(sp: StandIn, http: requests.Session) -> None:
    """While another client holds the workbook for edit, writes get Microsoft's 409 accessConflict; reads work."""
    sp.hold_for_edit(PATH)
    row = graph_call(sp, http, "POST", f"{WORKBOOK}/tables/EventsTable/rows", {"values": [ROW]})
    patch = graph_call(sp, http, "PATCH", f"{WORKBOOK}/worksheets/Events/range(address='E2')", {"values": [["x"]]})
    session = graph_call(sp, http, "POST", f"{WORKBOOK}/createSession", {"persistChanges": True})
    view = graph_call(sp, http, "POST", f"{WORKBOOK}/createSession", {"persistChanges": False})
    read = graph_call(sp, http, "GET", f"{WORKBOOK}/worksheets/Events/range(address='E2')?$select=values")

    assert [row.status_code, patch.status_code, session.status_code] == [409, 409, 409]
    error = row.json()["error"]
    assert error["code"] == "conflict" and error["message"]
    assert error["innerError"]["code"] == "accessConflict"
    assert "date" in error["innerError"] and "request-id" in error["innerError"]
    assert view.status_code == 201 and read.json() == {"values": [["first"]]}
    assert sp.version(PATH) == 1

    sp.hold_for_edit(PATH, code="EditModeCannotAcquireLock")  # the top-level code seen in real answers
    again = graph_call(sp, http, "POST", f"{WORKBOOK}/tables/EventsTable/rows", {"values": [ROW]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "EditModeCannotAcquireLock"
    assert again.json()["error"]["innerError"]["code"] == "accessConflict"

    sp.release_edit(PATH)
    assert graph_call(sp, http, "POST", f"{WORKBOOK}/tables/EventsTable/rows", {"values": [ROW]}).status_code == 201
    assert sp.version(PATH) == 2


def test_injected_workbook_write_failures(sp: StandIn, http: requests.Session) -> None:
    """fail_workbook_writes refuses the next writes only (423 notAllowed/resourceLocked, 503 with Retry-After)."""
    sp.fail_workbook_writes(1, status=423)
    sp.fail_workbook_writes(1, status=503, retry_after="3")
    read = graph_call(sp, http, "GET", f"{WORKBOOK}/worksheets/Events/range(address='A2')")
    locked = graph_call(sp, http, "POST", f"{WORKBOOK}/tables/EventsTable/rows", {"values": [ROW]})
    busy = graph_call(sp, http, "PATCH", f"{WORKBOOK}/worksheets/Events/range(address='E2')", {"values": [["x"]]})
    written = graph_call(sp, http, "PATCH", f"{WORKBOOK}/worksheets/Events/range(address='E2')", {"values": [["x"]]})

    assert read.status_code == 200  # reads do not use up an injected write failure
    assert locked.status_code == 423
    assert locked.json()["error"]["code"] == "notAllowed"
    assert locked.json()["error"]["innerError"]["code"] == "resourceLocked"
    assert "locked" in locked.json()["error"]["message"]
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "3"
    assert busy.json()["error"]["innerError"]["code"] == "serviceUnavailableUncategorized"
    assert written.status_code == 200 and sp.version(PATH) == 2


def test_range_download_honours_if_range_and_if_match(sp: StandIn, http: requests.Session) -> None:
    """If-Range with the current ETag gets the range (206), a stale one the whole new file (200); a stale If-Match 412."""
    etag, original = sp.etag(PATH), sp.get_file(PATH)
    first = sp_download(sp, http, Range="bytes=0-99", If_Range=etag)
    assert first.status_code == 206 and first.content == original[:100]
    assert first.headers["Content-Range"] == f"bytes 0-99/{len(original)}" and first.headers["ETag"] == etag
    tail = sp_download(sp, http, Range="bytes=-10", If_Match=etag)
    assert tail.status_code == 206 and tail.content == original[-10:]

    sp.put_file(PATH, b"version 2 of the file")
    stale = sp_download(sp, http, Range="bytes=100-", If_Range=etag)
    assert stale.status_code == 200 and stale.content == b"version 2 of the file"
    assert stale.headers["ETag"] == sp.etag(PATH) and "Content-Range" not in stale.headers
    refused = sp_download(sp, http, Range="bytes=100-", If_Match=etag)
    assert refused.status_code == 412
    assert refused.json()["error"]["code"] == "resourceModified"
    past_end = sp_download(sp, http, Range="bytes=500-")
    assert past_end.status_code == 416 and past_end.headers["Content-Range"] == "bytes */21"


def test_new_version_saved_in_the_middle_of_a_range_download(sp: StandIn, http: requests.Session) -> None:
    """during_download runs after the N-th chunk, so the next chunk with If-Range gets the whole new version."""
    etag, original = sp.etag(PATH), sp.get_file(PATH)
    seen: list[int] = []
    sp.during_download(lambda standin: seen.append(standin.put_file(PATH, b"saved by Jane").version), after_chunks=2)
    sp.after_download(lambda standin: seen.append(-1))

    chunks = [sp_download(sp, http, Range=f"bytes={a}-{a + 99}", If_Range=etag) for a in (0, 100)]
    assert [c.status_code for c in chunks] == [206, 206] and seen == [2]
    assert chunks[0].content + chunks[1].content == original[:200]
    rest = sp_download(sp, http, Range="bytes=200-", If_Range=etag)
    assert rest.status_code == 200 and rest.content == b"saved by Jane"
    assert seen == [2, -1]  # after_download still fires when a download reaches the end of file


def test_a_hook_lands_before_the_client_has_the_reply(sp: StandIn, http: requests.Session) -> None:
    """after_download runs once the reply is made and before it is sent: a save that takes a while "right after the
    download" has landed before the client can send its next request (run after the send, it raced the client)."""
    original, answered, client_had_it = sp.get_file(PATH), threading.Event(), []

    def slow_save(standin: StandIn) -> None:
        client_had_it.append(answered.wait(timeout=0.5))  # never set in time: the client is still waiting
        standin.put_file(PATH, b"saved by Jane")

    sp.after_download(slow_save)
    first = sp_download(sp, http)
    answered.set()
    second = sp_download(sp, http)
    assert client_had_it == [False]
    assert first.content == original and second.content == b"saved by Jane"


def test_range_select_values_and_row_answers(sp: StandIn, http: requests.Session) -> None:
    """range(...)?$select=values is just {"values": [[...]]}; PATCH null keeps a cell; rows 201, older rows/add 200."""
    selected = graph_call(sp, http, "GET", f"{WORKBOOK}/worksheets('Events')/range(address='A1:B2')?$select=values")
    full = graph_call(sp, http, "GET", f"{WORKBOOK}/worksheets/Events/range(address='B2:C2')").json()
    added = graph_call(sp, http, "POST", f"{WORKBOOK}/tables/EventsTable/rows", {"values": [ROW]})
    older = graph_call(sp, http, "POST", f"{WORKBOOK}/tables/EventsTable/rows/add", {"values": [ROW]})

    assert selected.json() == {"values": [["ID", "Title"], [FIRST, "Mail outage"]]}
    assert full["address"] == "Events!B2:C2" and (full["rowIndex"], full["columnIndex"]) == (1, 1)
    assert full["values"][0][0] == "Mail outage" and full["numberFormat"][0][1] == "yyyy-mm-dd hh:mm"
    assert added.status_code == 201 and added.json() == {"index": 1, "values": [["EVT-2", "Disk full", "", 1, "x"]]}
    assert older.status_code == 200 and older.json()["index"] == 2

    patched = graph_call(
        sp, http, "PATCH", f"{WORKBOOK}/worksheets/Events/range(address='D2:E2')", {"values": [[None, ""]]}
    )
    assert patched.json()["values"] == [[2, ""]]  # null leaves D2 alone, "" clears E2

"""The real office365 client against the SharePoint / Graph stand-in, over HTTP on 127.0.0.1.

These pin down what the client sends and how it reacts (ETags, locks, throttling, chunked
uploads, the Excel service, sendMail), so the SharePoint store can be tested against the stand-in.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from io import BytesIO
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.worksheet.table import Table

from tests.sharepoint_standin import DRIVE_ID, StandIn

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
    ws.append(["EVT-2024-0001", "Mail outage", None, 2, "first"])
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
    """Hand-built RequestOptions work too: nometadata JSON has no `d`, and `Range` gets 206 pieces."""
    from office365.runtime.http.request_options import RequestOptions

    def get(suffix: str, **headers: str) -> Any:
        request = RequestOptions(f"{sp.url}{FILE_URL}{suffix}")
        request.set_header("Accept", "application/json;odata=nometadata")
        for name, value in headers.items():
            request.set_header(name, value)
        return ctx.pending_request().execute_request_direct(request)

    props = get("?$select=ETag,Length").json()
    assert props == {"ETag": sp.etag(PATH), "Length": str(len(sp.get_file(PATH)))}
    first, rest = get("/$value", Range="bytes=0-99"), get("/$value", Range="bytes=100-")
    assert (first.status_code, rest.status_code) == (206, 206)
    assert first.content + rest.content == sp.get_file(PATH)


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
    """The workbook's drive item resolves by sharing URL, by site + path, and by drive + path."""
    by_share = graph.shares.by_url(sp.url + PATH).drive_item.get().execute_query()
    site = graph.sites.get_by_url(sp.site_url).execute_query()
    by_site_path = site.drive.root.get_by_path("Event Tracker.xlsx").get().execute_query()
    by_drive_path = graph.drives[DRIVE_ID].root.get_by_path("Event Tracker.xlsx").get().execute_query()

    for item in (by_share, by_site_path, by_drive_path):
        assert item.id == "ITEM-1"
        assert item.parent_reference.driveId == DRIVE_ID
        assert item.properties["eTag"] == sp.etag(PATH)
    assert [r["path"] for r in sp.requests] == [
        "/graph/v1.0/shares/u!" + base64.b64encode((sp.url + PATH).encode()).decode().rstrip("=") + "/driveItem",
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

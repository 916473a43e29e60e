"""The commit engine against the SharePoint stand-in: request counts of the Excel-service mode, reading
our own writes while the Excel service saves late, another client's edit lock, the journal-before-plan
duplicate-ID case in upload mode, and downloads tied to one ETag."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run
from tests.sharepoint_standin import StandIn
from tests.test_store_sharepoint import PATH, _config

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


@pytest.fixture
def mode() -> str:
    """The Excel-service mode unless a test says otherwise."""
    return "workbook-api"


def rows(book_bytes: bytes, sheet: str) -> list[tuple]:
    """The non-empty data rows of a sheet."""
    book = openpyxl.load_workbook(io.BytesIO(book_bytes))
    return [r for r in book[sheet].iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)]


def test_update_and_open_make_four_requests(run: Run, sp: StandIn, event_id: str) -> None:
    """Without conflicts, `update` and `open` each make 4 HTTP requests once the drive item id is cached
    (properties, download, createSession, the batch that ends with closeSession); the first write on a machine finds
    the workbook in Graph through its site first (site, drives, file: 3 requests)."""
    counts = {}
    for name, args in (
        ("first update", ["update", event_id, "--note", "one", "--status", "Monitoring"]),
        ("update", ["update", event_id, "--note", "two"]),
        ("open", ["open", "--title", "VPN down", "--severity", "Sev 2", "--service", "VPN"]),
    ):
        sp.requests.clear()
        result = run(*args)
        assert result.exit_code == 0, result.stderr
        counts[name] = len(sp.requests)
    assert counts == {"first update": 7, "update": 4, "open": 4}, counts
    notes = [r[4] for r in rows(sp.get_file(PATH), "Updates")]
    assert "one" in notes and "two" in notes


def _sessions(sp: StandIn) -> list[tuple[str, str, str | None]]:
    """The workbook requests in order, direct or batched: (method, what follows /workbook/, workbook-session-id)."""
    out = []
    for entry in sorted(sp.requests + sp.batched, key=lambda e: e.get("batch", 0)):
        path = entry["path"].split("?", 1)[0]
        if "/workbook/" in path:
            session = next((v for k, v in entry["headers"].items() if k.lower() == "workbook-session-id"), None)
            out.append((entry["method"], path.split("/workbook/", 1)[1], session))
    return out


def test_a_write_is_one_workbook_session(run: Run, sp: StandIn, event_id: str) -> None:
    """An `update` opens one persistent workbook session, every request of its batch carries that session's id, and
    the batch's last request closes it (graph/workbook-best-practice)."""
    run("update", event_id, "--note", "warm-up")  # the drive item id is found and remembered
    sp.requests.clear()
    sp.batched.clear()
    assert run("update", event_id, "--note", "in a session", "--status", "Monitoring").exit_code == 0
    created = [r for r in sp.requests if r["path"].endswith("/workbook/createSession")]
    assert len(created) == 1 and created[0]["method"] == "POST"
    batched = [r for r in sp.batched if "/workbook/" in r["path"]]
    ids = {next((v for k, v in r["headers"].items() if k.lower() == "workbook-session-id"), None) for r in batched}
    assert len(ids) == 1 and None not in ids, ids
    assert batched[-1]["path"].endswith("/workbook/closeSession") and batched[-1]["status"] == 204
    assert all(r["status"] < 400 for r in sp.batched)
    assert sp.open_sessions == []
    assert "in a session" in [r[4] for r in rows(sp.get_file(PATH), "Updates")]


def test_an_expired_session_is_created_again_once(run: Run, sp: StandIn, event_id: str) -> None:
    """The session ends between createSession and the batch (404 invalidSessionReCreatable): a new session is
    created and the batch sent again in it; the note is written once and no session is left open."""
    sp.before_next_write(lambda standin: standin.expire_sessions())
    result = run("update", event_id, "--note", "after expiry")
    assert result.exit_code == 0, result.stderr
    calls = _sessions(sp)
    assert len([c for c in calls if c[1] == "createSession"]) == 2, calls
    sessions = [c[2] for c in calls if c[1] != "createSession"]
    assert None not in sessions and len(set(sessions)) == 2, calls
    assert sessions[-1] == sessions[-2] and calls[-1][1] == "closeSession"
    assert sp.open_sessions == []
    assert [r[4] for r in rows(sp.get_file(PATH), "Updates")].count("after expiry") == 1


def test_a_session_that_cannot_be_created_again_keeps_the_edit(run: Run, sp: StandIn, event_id: str) -> None:
    """The session expires and, before a new one, another client takes the workbook for edit (createSession 409):
    nothing was written, so one line says so and the edit waits in the journal; `sync` writes it once later."""

    def expire_and_hold(standin: StandIn) -> None:
        standin.expire_sessions()
        standin.hold_for_edit(PATH)

    sp.before_next_write(expire_and_hold)
    result = run("update", event_id, "--note", "kept after expiry")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "another client holds the workbook for editing" in result.stderr
    assert "kept in the local journal" in result.stderr
    created = [r["status"] for r in sp.requests if r["path"].endswith("/workbook/createSession")]
    assert created == [201, 409]
    sp.release_edit(PATH)
    assert run("sync").exit_code == 0
    assert [r[4] for r in rows(sp.get_file(PATH), "Updates")].count("kept after expiry") == 1


def test_a_failed_batch_still_closes_its_session(run: Run, sp: StandIn, event_id: str) -> None:
    """A write refused in the batch (423) stops before closeSession: the session is closed on its own request,
    with its id, and the edit waits in the journal."""
    sp.fail_workbook_writes(1, status=423)
    result = run("update", event_id, "--note", "refused")
    assert result.exit_code == 1 and "kept in the local journal" in result.stderr
    direct = [r for r in sp.requests if r["path"].endswith("/workbook/closeSession")]
    assert len(direct) == 1 and direct[0]["status"] == 204
    assert sp.open_sessions == []


def test_a_close_that_fails_does_not_fail_the_command(run: Run, sp: StandIn, event_id: str) -> None:
    """closeSession answering 500 (in the batch and again on its own) leaves the command's write done: exit 0."""
    sp.fail_close_sessions(2)
    result = run("update", event_id, "--note", "close failed")
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    closes = [r for r in sp.requests + sp.batched if r["path"].endswith("/workbook/closeSession")]
    assert [r["status"] for r in closes] == [500, 500]  # in the batch, then once more on its own
    assert "close failed" in [r[4] for r in rows(sp.live_copy(PATH), "Updates")]


def test_reads_see_our_writes_while_the_excel_service_saves_late(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path
) -> None:
    """The file does not show the write yet (the Excel service saves late and closeSession fails, so the session
    stays open): `show`, `list` and `notify` still see it; a second `open` takes a new ID."""
    sp.save_late(PATH)
    sp.fail_close_sessions(1000)  # with closeSession answered, the service saves (Q&A 1190202)
    before = sp.get_file(PATH)
    assert run("update", event_id, "--note", "written late", "--status", "Monitoring").exit_code == 0
    first = run("open", "--title", "first", "--severity", "Sev 2", "--service", "VPN").stdout.strip()
    second = run("open", "--title", "second", "--severity", "Sev 2", "--service", "VPN").stdout.strip()
    assert sp.get_file(PATH) == before  # SharePoint's file has not caught up
    assert first != second
    shown = json.loads(run("show", event_id, "--json").stdout)
    assert shown["event"]["status"] == "Monitoring"
    assert "written late" in [e.get("note") for e in shown["timeline"]]
    assert {first, second} <= {e["id"] for e in json.loads(run("list", "--json").stdout)}
    preview = run("notify", event_id, "--dry-run")
    assert preview.exit_code == 0, preview.stderr
    html = "".join(p.read_text() for p in (tmp_path / "preview").glob("*.html"))
    assert "written late" in html
    sent = run("notify", event_id)
    assert sent.exit_code == 0, sent.stderr
    mail = "".join(p.read_text() for p in (tmp_path / "outbox").glob("*.eml"))
    assert "written late" in mail.replace("=\n", "")
    assert run("notify", event_id).stdout.count("already sent") == 3  # its own log is seen before the save too
    sp.persist(PATH)  # the Excel service saves: the file holds it all, each row once
    after = sp.get_file(PATH)
    assert [r[4] for r in rows(after, "Updates")].count("written late") == 1
    assert len(rows(after, "Notifications")) == 3
    assert sorted(r[0] for r in rows(after, "Events")) == sorted([event_id, first, second])
    shown = json.loads(run("show", event_id, "--json").stdout)
    assert [e.get("note") for e in shown["timeline"]].count("written late") == 1


def test_edit_lock_keeps_the_edit_for_sync(run: Run, sp: StandIn, event_id: str) -> None:
    """409 (another client holds the workbook for edit): exit 1 saying so, the edit kept; `sync` writes it once."""
    sp.hold_for_edit(PATH)
    result = run("update", event_id, "--note", "while held")
    assert result.exit_code == 1
    assert "another client holds the workbook for editing" in result.stderr
    assert "kept in the local journal" in result.stderr and "Traceback" not in result.stderr
    assert "while held" not in [r[4] for r in rows(sp.get_file(PATH), "Updates")]
    sp.release_edit(PATH)
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    assert [r[4] for r in rows(sp.get_file(PATH), "Updates")].count("while held") == 1
    assert run("sync").stdout.strip() == "nothing pending"


def test_locked_workbook_path_journals_without_traceback(run: Run, sp: StandIn, event_id: str) -> None:
    """A 423 from the Excel service: one error line, the edit kept and written by the next command."""
    sp.fail_workbook_writes(1, status=423)
    result = run("update", event_id, "--note", "after the lock")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "locked" in result.stderr and "kept in the local journal" in result.stderr
    assert run("update", event_id, "--note", "next one").exit_code == 0
    notes = [r[4] for r in rows(sp.get_file(PATH), "Updates")]
    assert notes.count("after the lock") == 1 and notes.count("next one") == 1


@pytest.mark.parametrize("mode", ["upload"])
def test_open_while_locked_then_open_again_gives_distinct_ids(run: Run, sp: StandIn, mode: str) -> None:
    """Upload mode: an `open` kept in the journal while the file is open in Excel, then another `open`: two IDs."""
    sp.lock(PATH)
    kept = run("open", "--title", "kept", "--severity", "Sev 2", "--service", "VPN")
    assert kept.exit_code == 1 and "kept in the local journal" in kept.stderr
    sp.unlock(PATH)
    second = run("open", "--title", "second", "--severity", "Sev 2", "--service", "VPN")
    assert second.exit_code == 0, second.stderr
    ids = [r[0] for r in rows(sp.get_file(PATH), "Events")]
    assert len(ids) == len(set(ids)) == 3, ids
    assert second.stdout.strip() in ids
    assert run("validate").exit_code == 0


@pytest.mark.parametrize("mode", ["upload"])
def test_a_save_during_a_chunked_download_starts_it_over(run: Run, sp: StandIn, event_id: str, tmp_path: Path) -> None:
    """Someone saves between tracker reading the file's ETag and its download (which SharePoint answers whole,
    ignoring Range): tracker starts over and writes onto their version."""
    (tmp_path / "tracker.toml").write_text(
        _config(sp, "upload").replace('write_mode = "upload"', 'write_mode = "upload"\nchunk_size = 8192')
    )
    book = openpyxl.load_workbook(io.BytesIO(sp.get_file(PATH)))
    book["Services"]["A7"] = "Printing"
    theirs = io.BytesIO()
    book.save(theirs)
    sp.after_properties(lambda standin: standin.put_file(PATH, theirs.getvalue()))
    result = run("update", event_id, "--note", "after their save")
    assert result.exit_code == 0, result.stderr
    final = sp.get_file(PATH)
    assert "Printing" in [r[0] for r in rows(final, "Services")]
    assert "after their save" in [r[4] for r in rows(final, "Updates")]
    assert any(r["status"] == 412 for r in sp.requests if "Range" in r["headers"])


def test_recent_writes_are_not_shown_twice(
    run: Run, sp: StandIn, event_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service saves between tracker reading the ETag and the download: each row still shows once."""
    import tracker.microsoft365.remote

    sp.save_late(PATH)
    assert run("update", event_id, "--note", "late note").exit_code == 0
    opened = run("open", "--title", "late open", "--severity", "Sev 2", "--service", "VPN").stdout.strip()
    original = tracker.microsoft365.remote.Remote.properties
    saved: list[int] = []

    def properties(self):  # type: ignore[no-untyped-def]
        answer = original(self)
        if not saved:
            saved.append(1)
            sp.persist(PATH)
        return answer

    monkeypatch.setattr(tracker.microsoft365.remote.Remote, "properties", properties)
    shown = json.loads(run("show", event_id, "--json").stdout)
    assert [e.get("note") for e in shown["timeline"]].count("late note") == 1
    assert [e["id"] for e in json.loads(run("list", "--json").stdout)].count(opened) == 1


@pytest.mark.parametrize("theirs_first", [True, False])
def test_the_later_of_two_rows_with_one_id_is_renumbered(
    run: Run, sp: StandIn, monkeypatch: pytest.MonkeyPatch, theirs_first: bool
) -> None:
    """Another writer adds the same new ID at the same moment: whichever row is later takes the next ID (here
    tracker's when theirs landed first), the earlier keeps its own, and tracker prints the ID its row holds."""
    import tracker.microsoft365.remote
    import tracker.store.excel_service as excel_service

    monkeypatch.setattr(excel_service, "BATCH_LIMIT", 2)  # [add Events, add Updates], then [read IDs]
    original = tracker.microsoft365.remote.Remote.graph
    batches: list[dict] = []

    def graph(self, method, path, body=None, **kw):  # type: ignore[no-untyped-def]
        if path == "/$batch":
            batches.append(body)
            if len(batches) == (1 if theirs_first else 2):  # the other writer's add of the same ID lands now
                theirs = json.loads(json.dumps(batches[0]["requests"][0]))
                theirs["body"]["values"][0][1] = "their event"
                original(self, "POST", "/$batch", {"requests": [theirs]}, what="the other writer")
        return original(self, method, path, body, **kw)

    monkeypatch.setattr(tracker.microsoft365.remote.Remote, "graph", graph)
    result = run("open", "--title", "my event", "--severity", "Sev 2", "--service", "VPN")
    assert result.exit_code == 0, result.stderr
    events = {r[1]: r[0] for r in rows(sp.get_file(PATH), "Events")}
    mine = suite_clock.event_id(3 if theirs_first else 2)
    assert events["my event"] == result.stdout.strip() == mine
    assert events["their event"] == suite_clock.event_id(2)  # the other writer settles its own row if it was later
    opened = [r for r in rows(sp.get_file(PATH), "Updates") if r[4] == "Event opened: my event"]
    assert [r[0] for r in opened] == [mine]


_REAL_CHECK_WRITE = StandIn._check_write


def _failing_writes(monkeypatch: pytest.MonkeyPatch, fail: Callable[[int], int | None]) -> None:
    """Make the stand-in's n-th workbook write (1-based) answer the status `fail(n)` gives (None: succeed)."""
    from tests import sharepoint_standin

    original = _REAL_CHECK_WRITE
    count = [0]

    def check_write(self, stored):  # type: ignore[no-untyped-def]
        count[0] += 1
        status = fail(count[0])
        if status is not None:
            raise sharepoint_standin._workbook_error(status, "1" if status == 429 else None)
        return original(self, stored)

    monkeypatch.setattr(StandIn, "_check_write", check_write)


def test_throttled_after_a_row_landed_keeps_the_rest(run: Run, sp: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Events row is added, the Updates row stays throttled: the user hears what was written, the rest is
    kept, and `sync` adds it once (no second event from running `open` again)."""
    _failing_writes(monkeypatch, lambda n: 429 if n >= 2 else None)
    result = run("open", "--title", "throttled", "--severity", "Sev 2", "--service", "VPN")
    assert result.exit_code == 1
    assert "Already written: a new Events row" in result.stderr
    assert "waiting in the local journal: a new Updates row" in result.stderr
    _failing_writes(monkeypatch, lambda n: None)
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    assert [r[1] for r in rows(sp.get_file(PATH), "Events")].count("throttled") == 1
    assert [r[4] for r in rows(sp.get_file(PATH), "Updates")].count("Event opened: throttled") == 1


def test_a_failed_second_patch_keeps_exactly_its_cells(
    run: Run, sp: StandIn, event_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update patching the event row in two runs of columns, the second refused: only those cells wait in
    the journal, and `sync` writes them, so every field of the update lands."""
    _failing_writes(monkeypatch, lambda n: 400 if n == 2 else None)
    result = run("update", event_id, "--note", "split", "--status", "Monitoring")
    assert result.exit_code == 1 and "Already written: Events" in result.stderr
    _failing_writes(monkeypatch, lambda n: None)
    assert run("sync").exit_code == 0
    shown = json.loads(run("show", event_id, "--json").stdout)
    assert shown["event"]["status"] == "Monitoring"
    assert shown["event"]["last_update_at"] == [e for e in shown["timeline"] if e.get("note") == "split"][0]["at"]


def test_a_renamed_table_is_found_by_its_sheet(run: Run, sp: StandIn) -> None:
    """Someone renamed the Events table in Excel: rows still go into the sheet's table, no traceback."""
    import zipfile

    data = sp.get_file(PATH)
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            part = source.read(info)
            if info.filename.startswith("xl/tables/") and b'displayName="EventsTable"' in part:
                part = part.replace(b'"EventsTable"', b'"MyEvents"')
            target.writestr(info, part)
    sp.put_file(PATH, out.getvalue())
    result = run("open", "--title", "into MyEvents", "--severity", "Sev 2", "--service", "VPN")
    assert result.exit_code == 0, result.stderr
    assert "into MyEvents" in [r[1] for r in rows(sp.get_file(PATH), "Events")]


def test_an_open_whose_row_add_timed_out_after_landing_makes_one_event(run: Run, sp: StandIn) -> None:
    """The Events row add answers 504 though the row went in: the change is kept to be added only if absent, and
    `sync` completes the event (its first update) without a second Events row."""
    sp.fail_next_rows_add(504, after_adding=True)
    first = run("open", "--title", "timed out", "--severity", "Sev 2", "--service", "VPN")
    assert first.exit_code == 1 and "may have been added" in first.stderr
    assert "waiting in the local journal" in first.stderr
    assert run("sync").exit_code == 0
    assert [r[1] for r in rows(sp.get_file(PATH), "Events")].count("timed out") == 1
    assert [r[4] for r in rows(sp.get_file(PATH), "Updates")].count("Event opened: timed out") == 1


def test_throttled_writes_wait_at_most_the_deadline_in_all(run: Run, sp: StandIn, event_id: str) -> None:
    """The Excel service keeps answering 429 with Retry-After: 60 for the batch's parts. tracker's retries (each
    request's, each batch part's, the commit's) share one deadline of waiting, so the command gives up after 90 s
    of waits, saying so, instead of 4 x 60 s while it holds the journal's lock (issue 18: the retries nested)."""
    from tracker import retry

    sp.fail_workbook_writes(50, status=429, retry_after="60")
    suite_clock.WAITS.clear()
    result = run("update", event_id, "--note", "throttled all along")
    assert result.exit_code == 1, result.stderr
    assert sum(suite_clock.WAITS) <= retry.DEADLINE, suite_clock.WAITS
    assert len([w for w in suite_clock.WAITS if w >= 60]) == 1, suite_clock.WAITS
    assert "the Excel service asks to wait 60 s (throttled or busy); more than the 30 s left of this command's " in (
        result.stderr
    )
    assert f"{retry.DEADLINE:.0f} s deadline: try again in a minute" in result.stderr
    assert "Traceback" not in result.stderr
    assert "throttled all along" not in [r[4] for r in rows(sp.get_file(PATH), "Updates")]


def test_a_throttled_server_is_waited_for_at_most_the_deadline(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path
) -> None:
    """Every request answered 429 with Retry-After: 60 (upload mode): one wait of a minute, then the command stops
    with one line, well before other commands give up on the journal's lock."""
    from tracker import retry

    (tmp_path / "tracker.toml").write_text(_config(sp, "upload"))
    sp.throttle(50, retry_after="60")
    suite_clock.WAITS.clear()
    result = run("update", event_id, "--note", "throttled")
    assert result.exit_code == 1, result.stderr
    assert sum(suite_clock.WAITS) <= retry.DEADLINE, suite_clock.WAITS
    assert "SharePoint asks to wait 60 s (throttled); more than the 30 s left of this command's 90 s deadline" in (
        result.stderr
    )


def _jwt(claims: dict[str, object]) -> str:
    """An unsigned JWT carrying `claims` (tracker and the stand-in read claims, never check signatures)."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2ln"


APP_TOKEN = _jwt({"aud": "https://graph.microsoft.com", "idtyp": "app", "roles": ["Files.ReadWrite.All"]})
USER_TOKEN = _jwt({"aud": "https://graph.microsoft.com", "scp": "Files.ReadWrite.All", "upn": "alex@example.com"})


def _graph_token(sp: StandIn, monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    sp.tokens.add(token)
    monkeypatch.setenv("TRACKER_GRAPH_TOKEN", token)


def test_app_only_with_the_excel_service_is_named_undocumented(
    run: Run, sp: StandIn, event_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app-only Graph token with write_mode = "workbook-api": one warning line says Microsoft documents the
    Excel API for delegated sign-in only and names the documented set-ups; the write goes through, as real tenants
    are reported to allow (microsoft-graph-docs-contrib issue 8691)."""
    _graph_token(sp, monkeypatch, APP_TOKEN)
    result = run("update", event_id, "--note", "app-only")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert "undocumented" in warnings[0] and "delegated sign-in only" in warnings[0]
    assert 'write_mode = "upload"' in warnings[0] and 'auth = "device-code"' in warnings[0]
    assert "app_only_excel = true" in warnings[0]
    assert "app-only" in [r[4] for r in rows(sp.get_file(PATH), "Updates")]


def test_app_only_excel_refused_as_documented_names_the_change(
    run: Run, sp: StandIn, event_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tenant that refuses app-only Excel calls as the pages document (403): one error line naming the documented
    set-ups, no traceback, nothing written."""
    _graph_token(sp, monkeypatch, APP_TOKEN)
    sp.refuse_app_only_excel = True
    result = run("update", event_id, "--note", "refused app-only")
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "403" in line]
    assert len(errors) == 1, result.stderr
    assert 'write_mode = "upload"' in errors[0] and 'auth = "device-code"' in errors[0]
    assert "app_only_excel" not in errors[0]  # accepting it is no way out of a refusal
    assert "refused app-only" not in [r[4] for r in rows(sp.get_file(PATH), "Updates")]


def test_documented_or_accepted_set_ups_give_no_warning(
    run: Run, sp: StandIn, event_id: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No warning for a delegated token with the Excel service, for app-only with upload, nor for app-only with the
    Excel service once tracker.toml says app_only_excel = true (the administrator accepts it)."""
    config = tmp_path / "tracker.toml"
    original = config.read_text()
    for token, mode, accepted in [
        (USER_TOKEN, "workbook-api", False),
        (APP_TOKEN, "upload", False),
        (APP_TOKEN, "workbook-api", True),
    ]:
        _graph_token(sp, monkeypatch, token)
        text = original.replace('write_mode = "workbook-api"', f'write_mode = "{mode}"')
        config.write_text(text.replace("[sharepoint]\n", "[sharepoint]\napp_only_excel = true\n") if accepted else text)
        result = run("update", event_id, "--note", f"quiet {mode}")
        assert result.exit_code == 0, result.stderr
        assert "warning:" not in result.stderr, (token == APP_TOKEN, mode, accepted)

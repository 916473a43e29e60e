"""Every command on a workbook in a SharePoint library: the real office365 client over HTTP
against the stand-in on 127.0.0.1, in both write modes."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run, copy_example, process_env, run_at_once, start_process
from tests.sharepoint_standin import StandIn
from tracker.config import load_config
from tracker.store.backends import journal_for
from tracker.times import CLOCK

PATH = "/sites/ops/Shared Documents/Event Tracker.xlsx"
TOKENS = {"TRACKER_SHAREPOINT_TOKEN": "sp-token", "TRACKER_GRAPH_TOKEN": "graph-token"}


def _config(sp: StandIn, mode: str, extra: str = "") -> str:
    return (
        f'[sharepoint]\nsite_url = "{sp.site_url}"\npath = "{PATH}"\ncloud = "global"\nauth = "token-env"\n'
        f'write_mode = "{mode}"\ngraph_url = "{sp.graph_url}"\n\n'
        '[mail]\ntransport = "outbox"\nsender = "Event Management <event.management@example.com>"\n'
        f'outbox = "outbox"\n{extra}'
    )


@pytest.fixture(params=["workbook-api", "upload"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both write modes."""
    return str(request.param)


def _remote_book(sp: StandIn) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(sp.get_file(PATH)))


def _rows(sp: StandIn, sheet: str) -> list[tuple]:
    return [r for r in _remote_book(sp)[sheet].iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)]


def _calls(sp: StandIn) -> list[str]:
    return [f"{r['method']} {r['status']}" for r in sp.requests]


def test_lifecycle_and_notify_on_sharepoint(run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str) -> None:
    """open, update, change, resolve, list, show, validate and notify give the same results as locally."""
    new_id = run(
        "open", "--title", "VPN down at HQ", "--severity", "Sev 2", "--service", "VPN", "--impact", "No VPN"
    ).stdout.strip()
    assert new_id.endswith("-0002")
    assert run("update", new_id, "--note", "=failover started", "--status", "Monitoring").exit_code == 0
    assert run("change", new_id, "--system", "fw-01", "--change", "Rebooted").exit_code == 0
    assert run("resolve", new_id, "--note", "Tunnels up", "--cause", "Firmware bug").exit_code == 0
    validate = run("validate")
    assert validate.exit_code == 0, validate.stdout
    shown = json.loads(run("show", new_id, "--json").stdout)
    assert shown["event"]["status"] == "Resolved" and shown["event"]["root_cause"] == "Firmware bug"
    assert shown["event"]["resolved_at"] and shown["event"]["next_update_due"] is None
    assert [e["note"] for e in shown["timeline"] if e["kind"] == "update"] == [
        "Event opened: VPN down at HQ",
        "=failover started",
        "Tunnels up",
    ]
    assert [e["system"] for e in shown["timeline"] if e["kind"] == "change"] == ["fw-01"]
    listed = json.loads(run("list", "--open", "--json").stdout)
    assert [e["id"] for e in listed] == [event_id]
    # what SharePoint holds is a real workbook: the note is text, the table grew, times are dates
    book = _remote_book(sp)
    notes = [c for c in book["Updates"]["E"] if c.value == "=failover started"]
    assert notes and notes[0].data_type == "s"
    assert book["Updates"].tables["UpdatesTable"].ref == "A1:I6"  # Event ID .. Applied
    assert isinstance(book["Events"]["K3"].value, __import__("datetime").datetime)
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    assert [r[2] for r in _rows(sp, "Notifications")] == ["leadership", "technical", "customer"]
    assert run("notify", event_id).stdout.count("already sent") == 3
    methods = _calls(sp)
    if mode == "workbook-api":
        assert not any(r["method"] == "POST" and r["path"].endswith("/$value") for r in sp.requests)
        assert any(r["method"] == "PATCH" for r in sp.batched)
        assert any(r["method"] == "POST" and r["path"].endswith("/$batch") for r in sp.requests)
    else:
        assert any(r["method"] == "POST" and "$value" in r["path"] for r in sp.requests)
    assert all(not c.startswith("POST 5") for c in methods)


def test_read_only_commands_never_upload(run: Run, sp: StandIn, event_id: str) -> None:
    """validate, list and show only read: no upload, no Graph write, version unchanged."""
    before = sp.version(PATH)
    for args in (["validate"], ["list"], ["show", event_id], ["notify", event_id, "--dry-run"]):
        assert run(*args).exit_code == 0
    assert sp.version(PATH) == before
    assert {r["method"] for r in sp.requests} <= {"GET", "POST"}
    assert all(r["method"] == "GET" for r in sp.requests)


def _retitle(sp: StandIn, event_id: str, title: str) -> None:
    """Another client saves the workbook with the event's title changed."""
    book = _remote_book(sp)
    sheet = book["Events"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == event_id)
    row[header.index("Title")].value = title
    out = io.BytesIO()
    book.save(out)
    sp.put_file(PATH, out.getvalue())


def test_an_unchanged_workbook_is_read_with_one_request(run: Run, sp: StandIn, event_id: str, mode: str) -> None:
    """The last downloaded workbook is kept in the user's cache folder (private) under its ETag: `list` on an
    unchanged workbook asks for its properties only, one request; after another client's save it downloads again,
    and a write after that checks the ETag and writes onto their version."""
    assert run("list").exit_code == 0
    assert [r["path"].endswith("/$value") for r in sp.requests] == [False, True]
    cached = list((Path(os.environ["TRACKER_STATE_DIR"]) / "cache").rglob("workbook.cache"))
    assert len(cached) == 1 and cached[0].stat().st_mode & 0o777 == 0o600

    sp.requests.clear()
    again = run("list")
    assert again.exit_code == 0 and event_id in again.stdout
    assert len(sp.requests) == 1 and "$select=" in sp.requests[0]["path"]

    _retitle(sp, event_id, "Retitled by a colleague")
    sp.requests.clear()
    changed = run("list")
    assert "Retitled by a colleague" in changed.stdout
    assert [r["path"].endswith("/$value") for r in sp.requests] == [False, True]

    sp.requests.clear()
    _retitle(sp, event_id, "Retitled again")
    assert run("update", event_id, "--note", "onto their version").exit_code == 0
    assert any(r["path"].endswith("/$value") and r["method"] == "GET" for r in sp.requests)
    assert "onto their version" in [r[4] for r in _rows(sp, "Updates")]
    assert "Retitled again" in [r[1] for r in _rows(sp, "Events")]


@pytest.mark.parametrize("mode", ["upload"])
def test_a_damaged_read_cache_is_downloaded_again(run: Run, sp: StandIn, event_id: str) -> None:
    """A cache file whose bytes no longer match its header (a disk error, a hand edit) is not read: tracker downloads."""
    assert run("list").exit_code == 0
    (cached,) = (Path(os.environ["TRACKER_STATE_DIR"]) / "cache").rglob("workbook.cache")
    raw = cached.read_bytes()
    cached.write_bytes(raw[:-10] + b"0123456789")
    sp.requests.clear()
    again = run("list")
    assert again.exit_code == 0 and event_id in again.stdout
    assert [r["path"].endswith("/$value") for r in sp.requests] == [False, True]
    assert cached.read_bytes() == raw


@pytest.mark.parametrize("mode", ["workbook-api"])
def test_a_write_on_a_workbook_read_before_does_not_download_it(run: Run, sp: StandIn, event_id: str) -> None:
    """Through the Excel service, an update on a workbook unchanged since this machine read it checks the ETag and
    writes: no download, at most 4 requests (the properties, the batch, and room for a workbook session)."""
    assert run("update", event_id, "--note", "first").exit_code == 0  # the Graph id is remembered from here on
    assert run("list").exit_code == 0
    sp.requests.clear()
    assert run("update", event_id, "--note", "second").exit_code == 0
    assert not any(r["path"].endswith("/$value") for r in sp.requests), [r["path"] for r in sp.requests]
    assert len(sp.requests) <= 4
    assert "second" in [r[4] for r in _rows(sp, "Updates")]


def test_concurrent_edit_is_replayed(run: Run, sp: StandIn, event_id: str, mode: str) -> None:
    """Someone saves between tracker's download and its write: both changes are in the workbook."""

    book = openpyxl.load_workbook(io.BytesIO(sp.get_file(PATH)))
    book["Services"]["A7"] = "Printing"
    theirs = io.BytesIO()
    book.save(theirs)

    def someone_else_saves(standin: StandIn) -> None:  # made beforehand: the save lands before tracker's write
        standin.put_file(PATH, theirs.getvalue())

    sp.after_download(someone_else_saves)
    result = run("update", event_id, "--note", "after the race")
    assert result.exit_code == 0, result.stderr
    assert "Printing" in [r[0] for r in _rows(sp, "Services")]
    assert "after the race" in [r[4] for r in _rows(sp, "Updates")]
    if mode == "upload":
        assert any(r["status"] == 412 for r in sp.requests)


def test_a_workbook_that_keeps_changing_is_one_clear_error_and_nothing_written(
    run: Run, sp: StandIn, event_id: str, mode: str
) -> None:
    """Someone saves the whole file after every download, however often tracker plans again. An upload (If-Match on
    the file's ETag) loses each time: after its tries, one line says the workbook kept changing and that nothing was
    written, and the note is not in the workbook; the next update, once the saving stops, writes its own note only.
    Through the Excel service the rows go into the file as it is, each save kept: the note lands once."""
    saves: list[str] = []

    def someone_else_saves(standin: StandIn) -> None:
        book = openpyxl.load_workbook(io.BytesIO(standin.get_file(PATH)))
        book["Services"]["A7"] = f"Printing {len(saves)}"
        theirs = io.BytesIO()
        book.save(theirs)
        standin.put_file(PATH, theirs.getvalue())
        saves.append(f"Printing {len(saves)}")
        standin.after_download(someone_else_saves)  # and again after the next download

    sp.after_download(someone_else_saves)
    result = run("update", event_id, "--note", "first try")
    sp.after_download(None)
    assert "Traceback" not in result.stderr
    notes = [r[4] for r in _rows(sp, "Updates")]
    if mode == "upload":
        assert result.exit_code == 1, result.stdout + result.stderr
        assert "the workbook kept changing while tracker was writing it" in result.stderr
        assert "nothing was written, run the command again" in result.stderr
        assert len(saves) >= 2 and "first try" not in notes
    else:
        assert result.exit_code == 0, result.stderr
        assert notes.count("first try") == 1
    assert saves[-1] in [r[0] for r in _rows(sp, "Services")]  # their last save is kept
    again = run("update", event_id, "--note", "second try")
    assert again.exit_code == 0, again.stderr
    notes = [r[4] for r in _rows(sp, "Updates")]
    assert notes.count("second try") == 1 and notes.count("first try") == (mode != "upload")


@pytest.mark.slow
def test_two_processes_write_at_once(run: Run, sp: StandIn, event_id: str, tmp_path: Path) -> None:
    """Two processes adding updates at the same moment: both updates are present."""
    results = run_at_once(
        [["update", event_id, "--note", f"writer {n}"] for n in range(2)], tmp_path, process_env(**TOKENS)
    )
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    notes = [r[4] for r in _rows(sp, "Updates")]
    assert "writer 0" in notes and "writer 1" in notes


def test_open_in_excel(run: Run, sp: StandIn, event_id: str, mode: str) -> None:
    """423 while someone has it open: the Excel-service write succeeds; the upload mode journals, and sync applies it."""
    sp.lock(PATH, "Jane Doe")
    result = run("update", event_id, "--note", "written while open")
    if mode == "workbook-api":
        assert result.exit_code == 0, result.stderr
        assert "written while open" in [r[4] for r in _rows(sp, "Updates")]
        return
    assert result.exit_code == 1
    assert "open in Excel by Jane Doe" in result.stderr and "kept in the local journal" in result.stderr
    assert "written while open" not in [r[4] for r in _rows(sp, "Updates")]
    pending = run("sync")
    assert pending.exit_code == 1 and "pending since" in pending.stdout
    sp.unlock(PATH)
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    assert "written while open" in [r[4] for r in _rows(sp, "Updates")]
    assert run("sync").stdout.strip() == "nothing pending"


def test_throttling_honours_retry_after(run: Run, sp: StandIn, event_id: str) -> None:
    """429 with Retry-After: tracker waits that long (and a little more, never less), then succeeds."""
    sp.throttle(2, retry_after="1")
    result = run("update", event_id, "--note", "after throttling")
    assert result.exit_code == 0, result.stderr
    assert len(suite_clock.WAITS) == 2 and all(1.0 <= s <= 1.2 for s in suite_clock.WAITS), suite_clock.WAITS
    assert [r["status"] for r in sp.requests[:2]] == [429, 429]
    assert "after throttling" in [r[4] for r in _rows(sp, "Updates")]


def test_a_retry_after_of_90_seconds_is_waited_in_full(run: Run, sp: StandIn, event_id: str, mode: str) -> None:
    """SharePoint asks for 90 s: tracker waits all of it (never cut to a minute), within the command's deadline,
    for a read and for a write."""
    sp.throttle(1, retry_after="90")
    assert run("list").exit_code == 0
    assert suite_clock.WAITS == [90.0]
    sp.throttle(1, retry_after="90")
    result = run("update", event_id, "--note", "after a long throttle")
    assert result.exit_code == 0, result.stderr
    assert suite_clock.WAITS == [90.0, 90.0]
    assert "after a long throttle" in [r[4] for r in _rows(sp, "Updates")]


def test_a_retry_after_past_the_deadline_stops_at_once(run: Run, sp: StandIn) -> None:
    """SharePoint asks for 120 s, more than the command's 90 s deadline: tracker does not wait, and says when to try
    again, in one line."""
    sp.throttle(1, retry_after="120")
    result = run("list")
    assert result.exit_code == 1
    assert suite_clock.WAITS == []
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "SharePoint asks to wait 120 s (throttled); more than this command's 90 s deadline: try again in 2 minutes"
        )
    )
    assert "Traceback" not in result.stderr


def test_every_request_says_who_sends_it(run: Run, sp: StandIn, event_id: str, mode: str) -> None:
    """Every request to SharePoint and Graph carries the User-Agent SharePoint's throttling guidance asks for:
    NONISV|organization|tracker/version."""
    import tracker

    assert run("list").exit_code == 0
    assert run("update", event_id, "--note", "decorated").exit_code == 0
    agents = {next((v for k, v in r["headers"].items() if k.lower() == "user-agent"), "") for r in sp.requests}
    assert agents == {f"NONISV|Unknown|tracker/{tracker.__version__}"}
    assert any(r["path"].startswith("/graph/") for r in sp.requests) == (mode == "workbook-api")


@pytest.mark.parametrize(
    ("section", "org"),
    [
        ({"auth": "device-code", "tenant": "contoso.onmicrosoft.com", "client_id": "app"}, "contoso"),
        (
            {"auth": "token-env", "cloud": "usgov-high", "site_url": "https://fabrikam.sharepoint.us/sites/ops"},
            "fabrikam",
        ),
    ],
    ids=["tenant", "host"],
)
def test_the_user_agent_names_the_organization(section: dict, org: str) -> None:
    """The organization in the User-Agent is the tenant's name, else the SharePoint host's first label."""
    import tracker
    from tracker.sharepoint_config import sharepoint_settings, user_agent

    base = {"site_url": "https://contoso.sharepoint.com/sites/ops", "path": PATH}
    settings = sharepoint_settings(base | section, Path("."))
    assert user_agent(settings) == f"NONISV|{org}|tracker/{tracker.__version__}"


def test_persistent_server_error_leaves_workbook_intact(
    run: Run, sp: StandIn, event_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 that never ends gives one clear message; the workbook is unchanged."""
    from tracker.retry import BACKOFF_MAX

    before = sp.get_file(PATH)
    sp.fail(50, status=503)
    result = run("update", event_id, "--note", "never written")
    assert result.exit_code == 1
    assert "still throttled or unavailable (503) after 5 attempts; nothing was written" in result.stderr
    assert len(suite_clock.WAITS) == 4 and all(0 < s <= BACKOFF_MAX + 1 for s in suite_clock.WAITS), (
        suite_clock.WAITS
    )  # backoff between tries
    assert "Traceback" not in result.stderr
    assert sp.get_file(PATH) == before


def test_expired_token_is_refreshed_once(run: Run, sp: StandIn, event_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token that expires mid-command is fetched again once; a bad one gives a clear 401 message."""

    def rotate(standin: StandIn) -> None:
        standin.tokens.add("sp-token-2")
        standin.expire("sp-token")
        os.environ["TRACKER_SHAREPOINT_TOKEN"] = "sp-token-2"

    sp.after_download(rotate)
    result = run("update", event_id, "--note", "with a fresh token")
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("TRACKER_SHAREPOINT_TOKEN", "not-a-token")
    bad = run("list")
    assert bad.exit_code == 2
    assert "refused the sign-in (401" in bad.stderr and "TRACKER_SHAREPOINT_TOKEN" in bad.stderr
    assert "not-a-token" not in bad.stderr


def test_verbose_logs_requests_never_tokens(run: Run, sp: StandIn, event_id: str) -> None:
    """--verbose prints method, path, status and time per request, and never a token."""
    result = run("--verbose", "update", event_id, "--note", "logged")
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("http: ")]
    assert lines and all(" -> " in line and " ms, " in line for line in lines)
    assert any("/$value -> 200" in line for line in lines)
    everything = result.stdout + result.stderr
    assert "sp-token" not in everything and "graph-token" not in everything


def test_whoami_shows_the_sign_in(run: Run, sp: StandIn) -> None:
    """whoami names cloud, site, sign-in mode and whether the workbook is reachable, without the token."""
    result = run("whoami")
    assert result.exit_code == 0, result.stderr
    assert "cloud:     global" in result.stdout and "sign-in:   token-env" in result.stdout
    assert "reachable: yes" in result.stdout and "sp-token" not in result.stdout
    assert run("logout").stdout.startswith("nothing cached")


def test_graph_mail_transport(run: Run, sp: StandIn, event_id: str, tmp_path: Path) -> None:
    """transport = "graph" sends each audience through sendMail as the mailbox, HTML, saved to Sent Items."""
    (tmp_path / "tracker.toml").write_text(
        _config(sp, "workbook-api").replace('transport = "outbox"', 'transport = "graph"')
        + '\n[mail.graph]\nmailbox = "event.management@example.com"\n'
    )
    sp.refuse_mail(1, status=400)
    result = run("notify", event_id)
    assert result.exit_code == 1
    assert "error: leadership: not sent:" in result.stderr
    assert len(sp.sent_mail) == 2
    upn, body = sp.sent_mail[0]
    assert upn == "event.management@example.com" and body["saveToSentItems"] is True
    message = body["message"]
    assert message["body"]["contentType"] == "HTML" and "<table" in message["body"]["content"]
    logged = {r[2]: r[8] for r in _rows(sp, "Notifications")}  # audience -> transport
    assert logged["technical"] == logged["customer"] == "graph"
    assert logged["leadership"].startswith("withdrawn: not sent (")  # its claim, given up: it can go out later
    retry = run("notify", event_id)
    assert retry.exit_code == 0 and len(sp.sent_mail) == 3
    assert sorted(r[2] for r in _rows(sp, "Notifications") if r[8] == "graph") == [
        "customer",
        "leadership",
        "technical",
    ]


def test_graph_send_without_an_answer_is_acceptance_unknown(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path
) -> None:
    """sendMail answers 504 after the mail service took the message: that message may have arrived. It is logged
    as acceptance unknown, not sent again by later runs (it was withdrawn and sent twice), and notify exits 1 over
    it until someone confirms; --confirm-sent moves the event's Last Notified."""
    (tmp_path / "tracker.toml").write_text(
        _config(sp, "workbook-api").replace('transport = "outbox"', 'transport = "graph"')
        + '\n[mail.graph]\nmailbox = "event.management@example.com"\n'
    )
    sp.time_out_mail(1)
    result = run("notify", event_id, "--audience", "leadership")
    assert result.exit_code == 1
    assert f"error: {event_id} leadership: initial " in result.stderr and "no answer came" in result.stderr
    assert re.search(r"leadership +initial +\d+ .* UNKNOWN", result.stdout), result.stdout
    assert len(sp.sent_mail) == 1
    logged = {r[2]: r[8] for r in _rows(sp, "Notifications")}
    assert logged["leadership"].startswith("acceptance unknown")
    again = run("notify", event_id)
    assert again.exit_code == 1 and len(sp.sent_mail) == 3, again.stderr  # the other two; leadership not again
    assert f"{event_id} leadership: handed to the mail server at " in again.stdout
    before = run("show", event_id, "--json")
    assert json.loads(before.stdout)["event"]["last_notified_at"] is not None  # the other two moved it
    confirmed = run("notify", event_id, "--confirm-sent")
    assert confirmed.exit_code == 0 and "logged as sent" in confirmed.stdout, confirmed.stderr
    assert run("notify", event_id).exit_code == 0 and len(sp.sent_mail) == 3


def test_confirming_the_only_message_sent_moves_the_events_times(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path
) -> None:
    """Every message of a notify went without an answer, so the event's Last Notified and Next Update Due did not
    move; --confirm-sent moves them as the send would have (it left the update overdue, reminders going)."""
    (tmp_path / "tracker.toml").write_text(
        _config(sp, "workbook-api").replace('transport = "outbox"', 'transport = "graph"')
        + '\n[mail.graph]\nmailbox = "event.management@example.com"\n'
    )
    from datetime import timedelta

    sent = suite_clock.NOW + timedelta(minutes=30)  # the example's next update (in 20 minutes) is overdue by then
    CLOCK.pin(sent)
    sp.time_out_mail(3)
    assert run("notify", event_id).exit_code == 1
    shown = json.loads(run("show", event_id, "--json").stdout)["event"]
    assert shown["last_notified_at"] is None and shown["next_update_due"] < sent.strftime("%Y-%m-%dT%H:%M:00Z")
    CLOCK.pin(sent + timedelta(minutes=10))  # someone checked with a recipient, ten minutes later
    confirmed = run("notify", event_id, "--confirm-sent")
    assert confirmed.exit_code == 0, confirmed.stderr
    after = json.loads(run("show", event_id, "--json").stdout)["event"]
    assert after["last_notified_at"] == sent.strftime("%Y-%m-%dT%H:%M:00Z")
    assert after["next_update_due"] == (sent + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:00Z")  # Sev 1: 30 min


def test_reminders_and_escalations_go_through_graph(  # type: ignore[no-untyped-def]
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str, at
) -> None:
    """transport = "graph": three hours after the example Sev 1 opened, its overdue reminder and its escalations go
    through sendMail, are logged on the SharePoint workbook as kinds reminder and escalation, and go once."""
    from datetime import timedelta

    (tmp_path / "tracker.toml").write_text(
        _config(sp, mode).replace('transport = "outbox"', 'transport = "graph"')
        + '\n[mail.graph]\nmailbox = "event.management@example.com"\n'
    )
    at(CLOCK.now() + timedelta(hours=3))
    first = run("due", "--remind", "--escalate")
    assert "reminded" in first.stdout and "escalated" in first.stdout, first.stdout + first.stderr
    subjects = [body["message"]["subject"] for _upn, body in sp.sent_mail]
    assert any(s.startswith("[OVERDUE]") for s in subjects), subjects
    logged = [(r[3], r[8]) for r in _rows(sp, "Notifications") if r[3] in ("reminder", "escalation")]
    assert {kind for kind, _ in logged} == {"reminder", "escalation"}
    assert {transport for _, transport in logged} == {"graph"}
    assert len(logged) == len(sp.sent_mail)
    again = run("due", "--remind", "--escalate")
    assert "reminded" not in again.stdout and "escalated" not in again.stdout
    assert len(sp.sent_mail) == len(logged)


def _padded(data: bytes, size: int) -> bytes:
    """The workbook with an incompressible part added (as a picture would), so that it weighs `size` bytes or more."""
    import random
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            new.writestr(item, old.read(item.filename))
        new.writestr("customXml/padding.bin", random.Random(7).randbytes(size), zipfile.ZIP_STORED)
    return out.getvalue()


def test_a_6_mb_workbook_is_read_and_written(run: Run, sp: StandIn, event_id: str, mode: str) -> None:
    """A workbook over the 4 MB chunk size, with SharePoint ignoring Range on its download as reported
    (onedrive-api-docs issue 529): list reads it, update writes it (in chunks when uploaded, never truncated first)."""
    sp.put_file(PATH, _padded(sp.get_file(PATH), 6 * 1024 * 1024))
    assert run("list").exit_code == 0
    result = run("update", event_id, "--note", "on a big workbook")
    assert result.exit_code == 0, result.stderr
    assert "on a big workbook" in [r[4] for r in _rows(sp, "Updates")]
    paths = [r["path"] for r in sp.requests]
    assert not any("Files/add" in p for p in paths)
    if mode == "upload":
        assert any("startUpload" in p for p in paths) and any("finishUpload" in p for p in paths)
        assert len(sp.get_file(PATH)) > 6 * 1024 * 1024  # the padding part came back too


def test_progress_shows_on_a_terminal_only() -> None:
    """Large transfers print a progress line on a terminal; nothing when output is not a terminal."""
    from tracker.cli.state import progress_printer

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    show = progress_printer("uploading", screen, minimum=10)
    assert show is not None
    show(5, 20)
    show(20, 20)
    assert "uploading 0.0 / 0.0 MB (25%)" in screen.getvalue() and screen.getvalue().endswith("(100%)\n")
    assert progress_printer("uploading", io.StringIO()) is None


def test_device_code_cache_is_private(tmp_path: Path) -> None:
    """The device-code token cache file is readable by the user only, and logout removes the sign-in."""
    import msal

    from tracker.microsoft365.auth import forget_token_cache, load_token_cache, save_token_cache
    from tracker.sharepoint_config import sharepoint_settings

    settings = sharepoint_settings(
        {
            "site_url": "https://contoso.sharepoint.com/sites/ops",
            "path": "/sites/ops/Shared Documents/T.xlsx",
            "auth": "device-code",
            "tenant": "contoso.onmicrosoft.com",
            "client_id": "app",
            "token_cache": str(tmp_path / "c.json"),
        },
        tmp_path,
    )
    cache = msal.SerializableTokenCache()
    cache.deserialize('{"AccessToken": {"k": {"secret": "x", "credential_type": "AccessToken"}}}')
    cache.has_state_changed = True
    where = save_token_cache(settings, cache)
    assert where == str(tmp_path / "c.json")
    assert (tmp_path / "c.json").stat().st_mode & 0o777 == 0o600
    assert '"k"' in load_token_cache(settings).serialize()
    forget_token_cache(settings)
    assert '"k"' not in load_token_cache(settings).serialize()


def test_forbidden_names_the_permission(run: Run, sp: StandIn, event_id: str) -> None:
    """A 403 says which permission the sign-in needs (exit 2), without a traceback."""
    sp.fail(1, status=403)
    result = run("list")
    assert result.exit_code == 2
    assert "access denied (403" in result.stderr and "Sites.ReadWrite.All" in result.stderr


def test_unreachable_graph_is_retried_then_reported(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused connection is retried (safe requests) and then reported in one line; nothing is written."""
    import tracker.retry
    from tests.smtp_server import refusing_port

    monkeypatch.setattr(tracker.retry, "retry_after", lambda response, attempt: 0.01)
    before = sp.get_file(PATH)
    with refusing_port() as port:
        dead = f"http://127.0.0.1:{port}/graph/v1.0"
        (tmp_path / "tracker.toml").write_text(_config(sp, "workbook-api").replace(sp.graph_url, dead))
        result = run("update", event_id, "--note", "not written")
    assert result.exit_code == 1
    assert (
        "finding the workbook in Microsoft Graph: no answer from" in result.stderr
        and "gave up after 5 attempts" in result.stderr
    )
    assert sp.get_file(PATH) == before


@pytest.mark.slow
def test_simultaneous_opens_get_different_ids(run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str) -> None:
    """Four processes opening events at once each get their own ID, and each first update points at it."""
    results = run_at_once(
        [["open", "--title", f"parallel {n}", "--severity", "Sev 2"] for n in range(4)], tmp_path, process_env(**TOKENS)
    )
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    printed = [r.stdout.strip() for r in results]
    assert len(set(printed)) == 4
    events = {r[0]: r[1] for r in _rows(sp, "Events")}
    assert len(events) == len(_rows(sp, "Events")) == 5
    for new_id in printed:
        title = events[new_id]
        first = [r for r in _rows(sp, "Updates") if r[0] == new_id]
        assert len(first) == 1 and first[0][4] == f"Event opened: {title}"


def test_interrupted_excel_write_keeps_the_rest(
    run: Run, sp: StandIn, event_id: str, mode: str, tmp_path: Path
) -> None:
    """A failing row add (504: it may have landed, so it is not retried) after the event row was patched: the user
    is told what was written, the rest waits in the journal, and after another interrupted write `sync` writes each
    waiting row exactly once."""
    if mode != "workbook-api":
        pytest.skip("only the Excel-service mode writes in several requests")
    sp.fail_next_rows_add(504)
    first = run("update", event_id, "--note", "first note", "--status", "Monitoring")
    assert first.exit_code == 1
    assert (
        "Already written: Events" in first.stderr and "waiting in the local journal: a new Updates row" in first.stderr
    )
    sp.fail_next_rows_add(504)  # the rows (the journal's and this update's) go in one request, which fails
    second = run("update", event_id, "--note", "second note")
    assert second.exit_code == 1 and "timed out (504); the rows may have been added" in second.stderr
    assert "waiting in the local journal: a new Updates row, a new Updates row" in second.stderr
    assert run("sync").exit_code == 0
    notes = [r[4] for r in _rows(sp, "Updates")]
    assert notes.count("first note") == 1 and notes.count("second note") == 1
    assert run("sync").stdout.strip() == "nothing pending"


def test_damaged_token_cache_means_sign_in_again(tmp_path: Path) -> None:
    """A damaged cache file is treated as no sign-in, not a traceback; saving replaces it."""
    from tracker.microsoft365.auth import load_token_cache
    from tracker.sharepoint_config import sharepoint_settings

    (tmp_path / "cache.json").write_text("{")
    settings = sharepoint_settings(
        {
            "site_url": "https://contoso.sharepoint.com/sites/ops",
            "path": "/sites/ops/Shared Documents/T.xlsx",
            "auth": "device-code",
            "tenant": "t",
            "client_id": "c",
            "token_cache": "cache.json",
        },
        tmp_path,
    )
    assert settings.token_cache == tmp_path / "cache.json"
    import msal

    assert list(load_token_cache(settings).search(msal.TokenCache.CredentialType.ACCOUNT)) == []


def test_notify_log_refused_after_sending_is_journalled(run: Run, sp: StandIn, event_id: str, mode: str) -> None:
    """The mail went out but writing the log is forbidden (403): the log waits in the journal and nothing is resent."""
    # the second write is the log's (after the claims'): it gets 403
    sp.before_next_write(lambda a: a.before_next_write(lambda b: b.fail(1, status=403)))
    result = run("notify", event_id)
    assert result.exit_code == 1 and "kept in the local journal" in result.stderr, result.stderr
    again = run("notify", event_id)
    assert again.stdout.count("already sent for this state") == 3


def test_notify_while_open_in_excel_logs_once(run: Run, sp: StandIn, event_id: str, mode: str, tmp_path: Path) -> None:
    """Notify while the file is open in Excel (upload mode): each message's log row waits in the journal (recorded
    as it was sent), and sync writes each log row once."""
    if mode != "upload":
        pytest.skip("the Excel-service mode writes while the file is open")
    sp.lock(PATH)
    result = run("notify", event_id)
    assert result.exit_code == 1 and "kept in the local journal" in result.stderr, result.stderr
    # an outage email matters more than the claim: sent all the same, and said
    assert "could not claim the messages" in result.stderr and "open in Excel by Jane Doe" in result.stderr
    waiting = journal_for(load_config(tmp_path / "tracker.toml")).path.read_text()
    assert waiting.count('"sheet": "Notifications"') == 3 and waiting.count('"sheet": "Events"') == 1
    sp.unlock(PATH)
    assert run("sync").exit_code == 0
    ids = [r[7] for r in _rows(sp, "Notifications")]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_journal_is_the_workbooks_whatever_the_folder(
    run: Run, sp: StandIn, event_id: str, mode: str, tmp_path: Path
) -> None:
    """An update kept in the journal while someone holds the workbook, made from one folder, is written by `sync`
    from another folder whose tracker.toml names the same workbook (the journal is keyed by its URL)."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "tracker.toml").write_text((tmp_path / "tracker.toml").read_text())
    if mode == "upload":
        sp.lock(PATH)
    else:
        sp.hold_for_edit(PATH)
    kept = run("update", event_id, "--note", "kept while held")
    assert kept.exit_code == 1 and "kept in the local journal" in kept.stderr
    assert not list(tmp_path.glob(".tracker-journal*"))  # not beside tracker.toml any more
    sp.unlock(PATH)
    sp.release_edit(PATH)
    synced = run("--config", str(other / "tracker.toml"), "sync")
    assert synced.exit_code == 0 and "wrote 2 pending edit(s)" in synced.stdout, synced.stdout
    assert "kept while held" in [r[4] for r in _rows(sp, "Updates")]
    journal = journal_for(load_config(other / "tracker.toml"))
    assert journal.path == journal_for(load_config(tmp_path / "tracker.toml")).path
    assert (journal.path.parent / "workbook.txt").read_text().strip() == sp.url + PATH


class FakePublicClient:
    """Stands in for msal.PublicClientApplication (the identity provider is not reachable in tests)."""

    flows: list[str] = []

    def __init__(self, client_id: str, authority: str, token_cache: object, http_client: object = None) -> None:
        self.authority = authority
        self.cache = token_cache
        self.http_client = http_client

    def initiate_device_flow(self, scopes: list[str]) -> dict:
        self.flows.append(scopes[0])
        return {
            "user_code": "ABCD-1234",
            "message": "To sign in, open https://microsoft.com/devicelogin and enter ABCD-1234",
        }

    def acquire_token_by_device_flow(self, flow: dict) -> dict:
        self.cache.deserialize('{"Account": {"a": {"username": "alex.morgan@contoso.com"}}}')
        self.cache.has_state_changed = True
        return {"access_token": "device-token", "id_token_claims": {"preferred_username": "alex.morgan@contoso.com"}}

    def get_accounts(self) -> list[dict]:
        return [{"username": "alex.morgan@contoso.com"}] if '"a"' in self.cache.serialize() else []

    def acquire_token_silent(self, scopes: list[str], account: dict) -> dict:
        return {"access_token": "sp-token", "expires_in": 3600}


def test_device_code_login_caches_the_sign_in(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tracker login` shows the device code, caches the sign-in (0600); later commands use it; logout forgets it."""
    import msal

    monkeypatch.setattr(msal, "PublicClientApplication", FakePublicClient)
    with StandIn() as standin:
        assert run("init", "--example").exit_code == 0
        standin.put_file(PATH, (tmp_path / "events.xlsx").read_bytes())
        (tmp_path / "tracker.toml").write_text(
            _config(standin, "upload").replace(
                'auth = "token-env"',
                'auth = "device-code"\ntenant = "contoso.onmicrosoft.com"\n'
                'client_id = "app"\ntoken_cache = "cache.json"',
            )
        )
        before = run("list")
        assert before.exit_code == 2 and "run `tracker login`" in before.stderr
        login = run("login")
        assert login.exit_code == 0, login.stderr
        assert "enter ABCD-1234" in login.stderr and "signed in as alex.morgan@contoso.com" in login.stdout
        assert (tmp_path / "cache.json").stat().st_mode & 0o777 == 0o600
        assert FakePublicClient.flows[-1] == f"{standin.url}/.default"
        listed = run("list")
        assert listed.exit_code == 0, listed.stderr
        assert run("logout").exit_code == 0
        after = run("list")
        assert after.exit_code == 2 and "run `tracker login`" in after.stderr


class FakeConfidentialClient:
    """Stands in for msal.ConfidentialClientApplication; records what tracker hands to MSAL."""

    seen: dict = {}

    def __init__(self, client_id: str, authority: str, client_credential: dict, http_client: object = None) -> None:
        agent = getattr(http_client, "headers", {}).get("User-Agent", "")  # MSAL's own requests carry it too
        FakeConfidentialClient.seen = {
            "client_id": client_id,
            "authority": authority,
            **client_credential,
            "user_agent": agent,
        }

    def acquire_token_for_client(self, scopes: list[str]) -> dict:
        FakeConfidentialClient.seen.setdefault("scopes", []).append(scopes[0])
        return {"access_token": "sp-token", "expires_in": 3600}


def test_certificate_sign_in_uses_key_and_thumbprint(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """auth = "certificate" gives MSAL the PEM key, the thumbprint and the cloud's authority, and uses the app token."""
    import msal

    monkeypatch.setattr(msal, "ConfidentialClientApplication", FakeConfidentialClient)
    with StandIn() as standin:
        assert run("init", "--example").exit_code == 0
        standin.put_file(PATH, (tmp_path / "events.xlsx").read_bytes())
        (tmp_path / "app.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n")
        (tmp_path / "tracker.toml").write_text(
            _config(standin, "upload").replace(
                'auth = "token-env"',
                'auth = "certificate"\ntenant = "contoso.onmicrosoft.com"\nclient_id = "app-id"\n'
                f'certificate_path = "app.pem"\ncertificate_thumbprint = "{"ab" * 20}"',
            )
        )
        result = run("list")
        assert result.exit_code == 0, result.stderr
    seen = FakeConfidentialClient.seen
    assert seen["authority"] == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert seen["thumbprint"] == "AB" * 20 and "not a real key" in seen["private_key"]
    assert seen["scopes"] == [f"{standin.url}/.default"]
    assert seen["user_agent"].startswith("NONISV|contoso|tracker/")  # the sign-in's requests are decorated too


MACHINES = int(os.environ.get("TRACKER_TEST_MACHINES", "8"))
ROUNDS = int(os.environ.get("TRACKER_TEST_ROUNDS", "1"))  # .ci/run also runs 3


@pytest.mark.slow
def test_many_machines_opening_at_once_get_distinct_ids(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str
) -> None:
    """Eight machines (own folder, tracker.toml, temp and state folders: no shared lock or journal) run `tracker
    open` at the same moment, round after round (one here; .ci/run runs five): every open prints its own ID, the
    Events sheet holds each once, and each event's first timeline line is its own (in workbook-api mode 28 of 48
    opens shared an ID)."""
    machines = []
    for n in range(MACHINES):
        folder = tmp_path / f"machine-{n}"
        (folder / "tmp").mkdir(parents=True)
        (folder / "tracker.toml").write_text(_config(sp, mode))
        machines.append(folder)
    printed: list[str] = []
    for round_ in range(ROUNDS):
        procs = [
            start_process(
                "open", "--title", f"round {round_} machine {n}", "--severity", "Sev 2", "--service", "VPN",
                cwd=folder,
                env=process_env(**TOKENS, TMPDIR=str(folder / "tmp"), TRACKER_STATE_DIR=str(folder / "state")),
            )
            for n, folder in enumerate(machines)
        ]  # fmt: skip
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
            printed.append(out.strip())
    assert len(printed) == MACHINES * ROUNDS and len(set(printed)) == len(printed), sorted(printed)
    events = _rows(sp, "Events")
    ids = [r[0] for r in events]
    assert len(ids) == len(set(ids)) == MACHINES * ROUNDS + 1, sorted(ids)
    titles = {r[0]: r[1] for r in events}
    for new_id in printed:
        opened = [r[4] for r in _rows(sp, "Updates") if r[0] == new_id]
        assert opened == [f"Event opened: {titles[new_id]}"], (new_id, opened)


def test_two_sign_ins_saved_at_once_both_stay(tmp_path: Path) -> None:
    """Two apps' device-code sign-ins (a watch and a command, each refreshing) saved into one cache file at the
    same time, 100 times each: both stay, and the file is never empty or half written (each truncated and rewrote
    it in place: one sign-in was lost, "not signed in")."""
    import threading

    from tracker.microsoft365.auth import _cache_file, save_token_cache
    from tracker.sharepoint_config import sharepoint_settings

    class Cache:
        has_state_changed = True

        def __init__(self, name: str) -> None:
            self.name = name

        def serialize(self) -> str:
            return json.dumps({"account": self.name})

    def settings(client: str):  # type: ignore[no-untyped-def]
        section = {
            "site_url": "https://contoso.sharepoint.com/sites/ops",
            "path": "/sites/ops/Shared Documents/T.xlsx",
            "auth": "device-code",
            "tenant": "contoso.onmicrosoft.com",
            "client_id": client,
            "token_cache": str(tmp_path / "c.json"),
        }
        return sharepoint_settings(section, tmp_path)

    apps = [settings("app-a"), settings("app-b")]
    seen: list[int] = []

    def save(which: int) -> None:
        for _ in range(100):
            save_token_cache(apps[which], Cache(f"person-{which}"))
            seen.append(len(_cache_file(apps[which])))

    threads = [threading.Thread(target=save, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(json.loads(v)["account"] for v in _cache_file(apps[0]).values()) == ["person-0", "person-1"]
    assert 0 not in seen


SPACED = "/sites/ops/Ops Files/Event Logs/Event Tracker 2.xlsx"


@pytest.fixture
def spaced(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_template: Path) -> Iterator[StandIn]:
    """The example workbook at SPACED (spaces in its library, folder and name) in workbook-api mode."""
    copy_example(example_template, tmp_path)
    with StandIn(library="Ops Files") as standin:
        standin.put_file(SPACED, (tmp_path / "events.xlsx").read_bytes())
        (tmp_path / "events.xlsx").unlink()
        (tmp_path / "tracker.toml").write_text(_config(standin, "workbook-api").replace(PATH, SPACED))
        for name, value in TOKENS.items():
            monkeypatch.setenv(name, value)
        yield standin
    assert standin.errors == []


def _noted(sp: StandIn, path: str) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(sp.get_file(path)))
    return [str(c.value) for c in book["Updates"]["E"] if c.value]


def test_a_workbook_with_spaces_is_found_through_its_site(run: Run, spaced: StandIn, event_id: str) -> None:
    """A workbook with spaces in its library, folder and name is found in Graph through its site: the site by its
    path, the library among the site's drives by its web address, the file by its path in that library (no sharing
    URL); the update is written through the Excel service."""
    result = run("update", event_id, "--note", "Found through the site")
    assert result.exit_code == 0, result.stderr
    assert "Found through the site" in _noted(spaced, SPACED)
    graph = [unquote(r["path"]) for r in spaced.requests if r["path"].startswith("/graph/") and r["method"] == "GET"]
    assert graph[:3] == [
        "/graph/v1.0/sites/127.0.0.1:/sites/ops?$select=id",
        f"/graph/v1.0/sites/{spaced.site_id}/drives?$select=id,name,webUrl,system",
        "/graph/v1.0/drives/DRIVE-1/root:/Event Logs/Event Tracker 2.xlsx?$select=id,parentReference",
    ]
    assert not any("/shares/" in r["path"] for r in spaced.requests)


def test_a_sign_in_that_may_not_read_sites_finds_the_workbook_by_its_encoded_url(
    run: Run, spaced: StandIn, event_id: str
) -> None:
    """Without Sites.Read.All (the site answers 403) the workbook is found through its sharing URL, percent-encoded
    (spaces as %20) before the base64 Graph asks for; the update is written."""
    spaced.sites_read_denied = True
    result = run("update", event_id, "--note", "Found by its URL")
    assert result.exit_code == 0, result.stderr
    assert "Found by its URL" in _noted(spaced, SPACED)
    shared = [r["path"] for r in spaced.requests if "/shares/u!" in r["path"]]
    assert len(shared) == 1
    token = shared[0].split("/shares/u!", 1)[1].split("/", 1)[0]
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    assert url == spaced.url + "/sites/ops/Ops%20Files/Event%20Logs/Event%20Tracker%202.xlsx"


def test_a_sign_in_that_may_read_neither_the_site_nor_the_file_is_told_what_to_grant(
    run: Run, spaced: StandIn, event_id: str
) -> None:
    """Refused by the site and by the sharing URL (403 both): one line naming the permissions that find the workbook
    (Sites.Read.All through its site, or Files.ReadWrite.All through its URL), exit 2, no traceback."""
    spaced.sites_read_denied = spaced.shares_denied = True
    result = run("update", event_id, "--note", "Not written")
    assert result.exit_code == 2, result.stderr
    assert "Sites.Read.All" in result.stderr and "Files.ReadWrite.All" in result.stderr and "403" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "Not written" not in _noted(spaced, SPACED)


def test_a_command_after_a_verbose_one_in_the_same_process_logs_no_requests(
    run: Run, sp: StandIn, event_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """--verbose set the `tracker` logger to INFO and the next command in the process (tests, tools) kept it: each of
    its requests, paths and mailbox addresses in them, went to whatever the application logs to."""
    assert run("--verbose", "list").exit_code == 0
    caplog.clear()
    assert run("update", event_id, "--note", "quiet").exit_code == 0
    assert [r.getMessage() for r in caplog.records if r.name == "tracker.http"] == []

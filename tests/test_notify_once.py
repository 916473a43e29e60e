"""Each outage email goes out once, whatever stops `tracker notify` (kill -9, Ctrl-C, a full disk) and
whoever else notifies at the same moment (another folder naming the workbook, another machine).

Every message is written down before it is handed to the transport (the send ledger) and
its Notifications row right after the server accepted it (the journal, one per workbook), so
the next run never sends it again and the log is completed by the next write. On SharePoint
each message is first claimed on the Notifications sheet, and only the earliest claim is sent.
"""

from __future__ import annotations

import errno
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import Run, process_env, run_process, start_process
from tests.sharepoint_standin import StandIn
from tests.smtp_server import smtp_server
from tests.test_cli_notify import _use_smtp
from tracker.config import load_config
from tracker.store.backends import journal_for, open_store
from tracker.times import CLOCK


def log_rows(run: Run) -> list[dict]:
    """The Notifications rows as `tracker show --json` cannot give them: read the sheet directly."""
    import openpyxl

    book = openpyxl.load_workbook(Path("events.xlsx"))
    sheet = book["Notifications"]
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, row, strict=False)) for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)]


def told(output: str) -> int:
    """How many audiences `notify --open --verbose` says had nothing new ("EVT-...: nothing new for a, b (...)")."""
    return sum(len(m.split(", ")) for m in re.findall(r": nothing new for (.+?)(?: \(last told .*)?$", output, re.M))


def outbox(tmp_path: Path) -> list[str]:
    """The audiences of the messages in outbox/, one per file."""
    import email

    return sorted(
        str(email.message_from_bytes(p.read_bytes())["X-Tracker-Audience"]) for p in (tmp_path / "outbox").glob("*.eml")
    )


def ctrl_c_at_message(monkeypatch: pytest.MonkeyPatch, number: int) -> object:
    """Make the outbox transport raise KeyboardInterrupt (Ctrl-C) as it is handed message `number`; returns the
    real send_one, to put back."""
    from tracker.sending.transports import OutboxTransport

    original = OutboxTransport.send_one
    calls = [0]

    def send_one(self, message):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == number:
            raise KeyboardInterrupt
        return original(self, message)

    monkeypatch.setattr(OutboxTransport, "send_one", send_one)
    return original


def test_ctrl_c_while_sending_says_what_went_out(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the second message: exit 130 naming what was sent and not; the next run sends only the third;
    the second (handed over: it may have gone out) is logged as acceptance unknown, not sent again by itself, and
    every run exits 1 over it until someone says: here, --force sends it anew."""
    from tracker.sending.transports import OutboxTransport

    original = ctrl_c_at_message(monkeypatch, 2)
    stopped = run("notify", event_id)
    assert stopped.exit_code == 130
    assert "interrupted. Sent: leadership; not sent: technical, customer" in stopped.stderr
    monkeypatch.setattr(OutboxTransport, "send_one", original)
    for _ in range(2):  # not a warning said once: every run until someone confirms
        again = run("notify", event_id)
        assert again.exit_code == 1, again.stderr
        assert f"error: {event_id} technical: initial " in again.stderr
        assert "was handed to the mail server" in again.stderr and "--confirm-sent" in again.stderr
        assert outbox(tmp_path) == ["customer", "leadership"]
    forced = run("notify", event_id, "--audience", "technical", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert outbox(tmp_path) == ["customer", "leadership", "technical"]
    quiet = run("notify", event_id)
    assert quiet.exit_code == 0 and quiet.stdout.count("already sent") == 3, quiet.stderr


def test_full_disk_after_a_send_never_resends(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills right after the first message went out: one clear error (no traceback), and no message is
    ever sent twice; the log is completed by the next run."""
    from tracker.store.journal import Journal

    original = Journal.add

    def full(self, edits, reason, path=None):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Journal, "add", full)
    stopped = run("notify", event_id)
    assert stopped.exit_code == 130 and "Traceback" not in stopped.stderr
    assert "cannot record what was sent" in stopped.stderr and "No space left on device" in stopped.stderr
    assert "Sent: leadership; not sent: technical, customer" in stopped.stderr
    monkeypatch.setattr(Journal, "add", original)
    again = run("notify", event_id)  # leadership's answer was never recorded: someone must say it arrived
    assert again.exit_code == 1, again.stderr
    assert f"{event_id} leadership: initial " in again.stderr and "--confirm-sent" in again.stderr
    assert outbox(tmp_path) == ["customer", "leadership", "technical"]
    logged = log_rows(run)
    assert sorted(r["Audience"] for r in logged) == ["customer", "leadership", "technical"]
    assert [r["Transport"] for r in logged if r["Audience"] == "leadership"][0].startswith("acceptance unknown")
    confirmed = run("notify", event_id, "--confirm-sent")
    assert confirmed.exit_code == 0, confirmed.stderr
    assert f"{event_id} leadership: initial " in confirmed.stdout and "logged as sent" in confirmed.stdout
    assert [r["Transport"] for r in log_rows(run) if r["Audience"] == "leadership"][0].startswith("sent: confirmed by")
    quiet = run("notify", event_id)
    assert quiet.exit_code == 0 and quiet.stdout.count("already sent") == 3, quiet.stderr
    assert outbox(tmp_path) == ["customer", "leadership", "technical"]


def test_two_folders_naming_one_workbook_send_once(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Two folders whose tracker.toml name the same workbook, `notify --open` in both at once: each message once."""
    other = tmp_path / "other"
    other.mkdir()
    config = (tmp_path / "tracker.toml").read_text().replace('path = "events.xlsx"', 'path = "../events.xlsx"')
    (other / "tracker.toml").write_text(config)
    for n in range(3):
        opened = run("open", "--title", f"outage {n}", "--severity", "Sev 2", "--service", "VPN", "--impact", "x")
        assert opened.exit_code == 0
    procs = [
        start_process("notify", "--open", "--verbose", cwd=folder, env=process_env()) for folder in (tmp_path, other)
    ]
    outputs = [proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert sum(told(out) for out, _err in outputs) == 12  # the second run found them all sent
    sent = outbox(tmp_path) + outbox(other)
    assert len(sent) == 12, sent  # 4 open events x 3 audiences, once
    assert len(log_rows(run)) == 12


def _second_folder(tmp_path: Path) -> Path:
    """A folder beside the workbook's whose tracker.toml names the same workbook."""
    other = tmp_path / "other"
    other.mkdir()
    config = (tmp_path / "tracker.toml").read_text().replace('path = "events.xlsx"', 'path = "../events.xlsx"')
    (other / "tracker.toml").write_text(config)
    return other


def test_two_folders_share_the_workbooks_journal(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Sent from one folder while the workbook is open in Excel: from a second folder naming the same workbook,
    notify sees the log waiting in the journal (nothing resent) and `sync` writes it."""
    other = _second_folder(tmp_path)
    lock = tmp_path / f"~${example.name}"
    lock.write_bytes(b"\x05Jamie" + b"\x00" * 50)
    first = run("notify", event_id)
    assert first.exit_code == 1 and "kept in the local journal" in first.stderr
    again = run_process("notify", event_id, cwd=other)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already sent for this state") == 3
    assert outbox(tmp_path) == ["customer", "leadership", "technical"] and outbox(other) == []
    lock.unlink()
    synced = run_process("sync", cwd=other)
    assert synced.returncode == 0 and "wrote 4 pending edit(s)" in synced.stdout, synced.stdout
    assert len(log_rows(run)) == 3
    assert run("sync").stdout.strip() == "nothing pending"


def test_journal_and_ledger_beside_tracker_toml_are_moved(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A journal and a send ledger tracker 0.1 left beside tracker.toml are moved into the workbook's, once:
    the waiting log row is written, the message being sent is logged as acceptance unknown, neither is resent."""
    from tracker.sending.ledger import attempt_for
    from tracker.sending.notify import prepare
    from tracker.sending.sendlog import log_row
    from tracker.times import iso, utcnow
    from tracker.workbook.edits import edit_to_json

    config = load_config(tmp_path / "tracker.toml")
    prepared = prepare(open_store(config).read(), config, event_id, audiences=["leadership", "technical"])
    leadership, technical = prepared.messages
    row = log_row(leadership, config, "outbox", utcnow(), "Identified")
    entry = {"recorded_at": iso(utcnow()), "reason": "sent; log not yet on the sheet", "edits": [edit_to_json(row)]}
    (tmp_path / ".tracker-journal.jsonl").write_text(json.dumps(entry) + "\n")
    (tmp_path / ".tracker-journal.sending.jsonl").write_text(attempt_for(technical, utcnow()).to_json() + "\n")
    result = run("notify", event_id)
    assert result.exit_code == 1, result.stderr  # technical may not have arrived: someone must say
    assert f"{event_id} technical: initial " in result.stderr and "no answer came" in result.stderr
    assert not (tmp_path / ".tracker-journal.jsonl").exists()
    assert not (tmp_path / ".tracker-journal.sending.jsonl").exists()
    assert outbox(tmp_path) == ["customer"]  # leadership was sent (logged), technical maybe: neither again
    logged = {r["Audience"]: r["Transport"] for r in log_rows(run)}
    assert logged["leadership"] == "outbox" and logged["technical"].startswith("acceptance unknown")
    assert logged["customer"] == "outbox"


def _sheet_rows(data: bytes, sheet: str) -> list[dict]:
    """A sheet's rows by header, read from workbook bytes."""
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    header = [c.value for c in book[sheet][1]]
    rows = book[sheet].iter_rows(min_row=2, values_only=True)
    return [dict(zip(header, row, strict=False)) for row in rows if any(v is not None for v in row)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["upload", "workbook-api", "workbook-api, saved late"])
def test_eight_machines_notifying_one_sharepoint_workbook_send_once(
    run: Run, example: Path, event_id: str, tmp_path: Path, mode: str
) -> None:
    """Eight trackers on eight "machines" (own folder and tracker.toml, own temp and state folders: no shared lock
    or journal) run `notify --open` against one SharePoint workbook, their first writes released together: each
    message reaches the SMTP server once, and the Notifications sheet has exactly one log row per message (in
    workbook-api mode the losing claims stay, marked withdrawn, none of them sent). "Saved late": the Excel
    service's writes reach the file (download, ETag) only at the end, as Microsoft allows."""
    from tests.test_store_sharepoint import MACHINES, PATH, TOKENS, _config

    for n in range(3):
        opened = run("open", "--title", f"outage {n}", "--severity", "Sev 2", "--service", "VPN", "--impact", "x")
        assert opened.exit_code == 0, opened.stderr
    with StandIn() as standin, smtp_server() as (server, port):
        standin.put_file(PATH, example.read_bytes())
        standin.save_late(PATH, mode.endswith("saved late"))
        machines = []
        for name in (f"machine-{n}" for n in range(MACHINES)):
            folder = tmp_path / name
            (folder / "tmp").mkdir(parents=True)
            (folder / "tracker.toml").write_text(_config(standin, mode.split(",")[0]))
            _use_smtp(folder, port)
            machines.append(folder)
        standin.hold_writes(MACHINES)  # all read the same version, then claim at the same moment
        procs = [
            start_process(
                "notify",
                "--open",
                "--verbose",
                cwd=folder,
                env=process_env(**TOKENS, TMPDIR=str(folder / "tmp"), TRACKER_STATE_DIR=str(folder / "state")),
            )
            for folder in machines
        ]
        outputs = [proc.communicate(timeout=180) for proc in procs]
        assert [proc.returncode for proc in procs] == [0] * MACHINES, outputs
        assert standin.gate_timeouts == 0 and standin.errors == []
        collided = any(r["status"] == 412 for r in standin.requests)  # the second upload of one version
        rows = _sheet_rows(standin.live_copy(PATH), "Notifications")
    received = [m.message for m in server.received]
    sent = sorted((str(m["X-Tracker-Event"]), str(m["X-Tracker-Audience"])) for m in received)
    assert len(sent) == 12 and len(set(sent)) == 12, sent  # 4 open events x 3 audiences, each once
    logged = [r for r in rows if not str(r["Transport"]).startswith("withdrawn")]
    assert sorted(str(r["Message-ID"]) for r in logged) == sorted(str(m["Message-ID"]) for m in received)
    assert {r["Transport"] for r in logged} == {"smtp"}
    withdrawn = [r for r in rows if str(r["Transport"]).startswith("withdrawn")]
    assert not {str(r["Message-ID"]) for r in withdrawn} & {str(m["Message-ID"]) for m in received}
    if mode == "upload":
        assert collided and withdrawn == []  # the later claim planned again on the other's version and backed off
    else:
        assert withdrawn, "the claims were added at the same moment: one of each pair was withdrawn"
    said = "".join(out for out, _err in outputs)
    # each message was sent by one machine and skipped by the others: already logged, or claimed and being sent
    skipped = told(said) + said.count("; not sent from here")
    assert skipped == 12 * (MACHINES - 1), outputs
    print(json.dumps({"mode": mode, "received": len(received), "withdrawn": len(withdrawn)}))


# --- claims, one step at a time (in-process, against the SharePoint stand-in) -----------------------------


def _rival_claim(tmp_path: Path, audience: str, transport: str, at: datetime | None = None) -> dict:
    """The Notifications row another tracker ("Rival") would write for this audience's next message."""
    from tracker.sending.notify import prepare
    from tracker.sending.sendlog import log_row
    from tracker.times import utcnow

    config = load_config(tmp_path / "tracker.toml")
    event_id = f"EVT-{utcnow().year}-0001"
    message = next(m for m in prepare(open_store(config).read(), config, event_id).messages if m.audience == audience)
    values = dict(log_row(message, config, transport, at or utcnow(), "Identified").values)
    return values | {"message_id": "<rival@other-host>", "sent_by": "Rival"}


def _write_row(tmp_path: Path, values: dict) -> None:
    """Add a Notifications row as another machine's tracker would (its own store: no journal or lock shared)."""
    from tracker.workbook.edits import AppendRow

    store = open_store(load_config(tmp_path / "tracker.toml"))
    store.journal = None
    store.commit(lambda _t: [AppendRow("Notifications", values)])


def _notifications(sp: StandIn) -> list[dict]:
    from tests.test_store_sharepoint import PATH

    return _sheet_rows(sp.live_copy(PATH), "Notifications")


@pytest.mark.parametrize("mode", ["upload"])
def test_upload_claim_backs_off_when_its_412_replay_finds_another_claim(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str
) -> None:
    """Another tracker claims leadership's message after this run read the newest version, just before its upload:
    the upload gets 412, the claims are planned again on that version, leadership backs off (nothing written for
    it, nothing sent); the others are claimed, sent and logged."""
    rival = _rival_claim(tmp_path, "leadership", "claimed: sending from other-host (process 7)")
    sp.before_next_write(lambda _standin: _write_row(tmp_path, rival))
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert f"{event_id} leadership: being sent by Rival on other-host" in result.stdout
    assert outbox(tmp_path) == ["customer", "technical"]
    assert any(r["status"] == 412 for r in sp.requests)
    rows = {r["Audience"]: r for r in _notifications(sp)}
    assert rows["leadership"]["Message-ID"] == "<rival@other-host>" and len(_notifications(sp)) == 3
    assert rows["technical"]["Transport"] == rows["customer"]["Transport"] == "outbox"


@pytest.mark.parametrize("mode", ["workbook-api"])
def test_excel_service_claim_after_another_is_withdrawn(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str
) -> None:
    """Another tracker's claim on leadership's message lands just before this run's claims: read back, the
    earlier row wins; this run marks its own leadership claim withdrawn and sends the other two."""
    rival = _rival_claim(tmp_path, "leadership", "claimed: sending from other-host (process 7)")
    sp.before_next_write(lambda _standin: _write_row(tmp_path, rival))
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert f"{event_id} leadership: being sent by Rival on other-host" in result.stdout
    assert outbox(tmp_path) == ["customer", "technical"]
    rows = _notifications(sp)
    leadership = [r for r in rows if r["Audience"] == "leadership"]
    assert [r["Message-ID"] for r in leadership][0] == "<rival@other-host>"
    assert leadership[1]["Transport"] == "withdrawn: Rival on other-host claimed it first; not sent from here"
    assert sorted(r["Audience"] for r in rows if r["Transport"] == "outbox") == ["customer", "technical"]
    again = run("notify", event_id)  # the withdrawn claim is not a message: leadership is still another's
    assert "leadership: being sent by Rival on other-host" in again.stdout and outbox(tmp_path) == [
        "customer",
        "technical",
    ]


@pytest.mark.parametrize("mode", ["upload", "workbook-api"])
def test_another_trackers_claim_is_left_to_it_until_it_expires_then_sent_from_here(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str
) -> None:
    """Claims by another tracker, unconfirmed: being sent, not sent from here, until the claim expires (its own
    `until`, or 15 minutes for a claim of tracker 0.3 that did not say); then whoever finds it expired withdraws it,
    says so, and sends the message: the claimer never came back to say it went (issue 17: an expired claim used to be
    logged as sent, "acceptance unknown", and never sent)."""
    from datetime import timedelta

    start = CLOCK.now()
    until = (start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%MZ")
    rival = _rival_claim(tmp_path, "leadership", "claimed: sending from other-host (process 7)", start)
    _write_row(tmp_path, rival)
    newer = _rival_claim(
        tmp_path, "technical", f"claimed: sending from other-host (process 8, tracker 0a1b2c3d4e) until {until}", start
    )
    _write_row(tmp_path, newer | {"message_id": "<rival-2@other-host>"})
    CLOCK.pin(start + timedelta(minutes=1))
    soon = run("notify", event_id)
    assert soon.exit_code == 0, soon.stderr
    assert f"{event_id} leadership: being sent by Rival on other-host" in soon.stdout
    assert f"{event_id} technical: being sent by Rival on other-host" in soon.stdout
    assert outbox(tmp_path) == ["customer"]
    CLOCK.pin(start + timedelta(minutes=6))  # technical's claim said until start + 5 min
    later = run("notify", event_id)
    assert later.exit_code == 0, later.stderr
    assert f"{event_id} technical (initial: " in later.stderr and "never confirmed it went out" in later.stderr
    assert f"{event_id} leadership: being sent by Rival on other-host" in later.stdout
    assert outbox(tmp_path) == ["customer", "technical"]
    CLOCK.pin(start + timedelta(minutes=16))
    last = run("notify", event_id)
    assert last.exit_code == 0, last.stderr
    assert outbox(tmp_path) == ["customer", "leadership", "technical"]
    assert run("sync").exit_code == 0
    rows = {r["Message-ID"]: r for r in _notifications(sp)}
    assert rows["<rival@other-host>"]["Transport"].startswith("withdrawn: the claim of Rival on other-host expired")
    assert rows["<rival-2@other-host>"]["Transport"].startswith("withdrawn: the claim of Rival on other-host expired")
    quiet = run("notify", event_id)
    assert quiet.exit_code == 0 and quiet.stdout.count("already sent") == 3, quiet.stderr


@pytest.mark.parametrize("mode", ["upload"])
def test_an_expired_claim_confirmed_just_before_this_run_writes_is_not_sent_again(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path
) -> None:
    """Another tracker's claim on leadership has expired, so this run means to withdraw it and send; just before its
    claims are uploaded the slow claimer confirms the send (the row becomes "smtp"). The upload gets 412, the
    claims are planned again on that version, where the withdrawal no longer applies: leadership is already sent
    and is not sent again (the journal's withdrawal was applied without its condition, and it went twice)."""
    from datetime import timedelta

    from tracker.workbook.edits import SetCells

    start = CLOCK.now()
    _write_row(tmp_path, _rival_claim(tmp_path, "leadership", "claimed: sending from other-host (process 7)", start))
    CLOCK.pin(start + timedelta(minutes=16))

    def confirmed(_standin: StandIn) -> None:
        store = open_store(load_config(tmp_path / "tracker.toml"))
        store.journal = None
        store.commit(lambda _t: [SetCells("Notifications", "<rival@other-host>", {"transport": "smtp"})])

    sp.before_next_write(confirmed)
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert any(r["status"] == 412 for r in sp.requests)
    assert outbox(tmp_path) == ["customer", "technical"]
    assert f"{event_id} leadership: already sent for this state" in result.stdout
    rows = _notifications(sp)
    assert [r["Transport"] for r in rows if r["Audience"] == "leadership"] == ["smtp"]


@pytest.mark.parametrize("mode", ["workbook-api"])
def test_a_dead_claim_on_a_resolved_events_message_is_sent_by_notify_open(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path
) -> None:
    """The event is resolved and leadership and customer have the Resolved message; technical's was claimed by a
    run of this tracker that stopped before handing it over. `notify --open` (the scheduled job) lists the event
    and sends it (a claim counted as the final message sent: the event was never listed, the claim stood)."""
    from tracker.sending.claims import claim_marker
    from tracker.store.backends import journal_for

    assert run("notify", event_id).exit_code == 0  # everyone heard of it
    assert run("resolve", event_id, "--note", "fixed").exit_code == 0
    assert run("notify", event_id, "--audience", "leadership", "--audience", "customer").exit_code == 0
    config = load_config(tmp_path / "tracker.toml")
    claim = _rival_claim(tmp_path, "technical", claim_marker(journal_for(config), CLOCK.now()))
    _write_row(tmp_path, claim | {"sent_by": config.user})
    result = run("notify", "--open")
    assert result.exit_code == 0, result.stderr
    assert outbox(tmp_path) == ["customer", "customer", "leadership", "leadership", "technical", "technical"]
    assert "stopped before handing it over; sending it again" in result.stderr


@pytest.mark.parametrize("mode", ["upload", "workbook-api"])
def test_a_claim_this_tracker_never_handed_over_is_sent_by_the_next_run(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str
) -> None:
    """A claim this tracker (this machine, this state folder) made in a run that stopped before handing the message
    to the mail server (no line in its send ledger), in another process or this one (a watch's earlier tick): the
    next run withdraws it and sends the message, at once, exit 0 (issue 17: 5 of 10 kills after claiming lost all three messages of an event for good)."""
    from tracker.sending.claims import claim_marker
    from tracker.store.backends import journal_for

    config = load_config(tmp_path / "tracker.toml")
    mine = claim_marker(journal_for(config), CLOCK.now())  # this very process: as a watch's earlier tick
    _write_row(tmp_path, _rival_claim(tmp_path, "technical", mine) | {"sent_by": config.user})
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert "an earlier run claimed it and stopped before handing it over; sending it again" in result.stderr
    assert outbox(tmp_path) == ["customer", "leadership", "technical"]
    assert run("sync").exit_code == 0
    claim = next(r for r in _notifications(sp) if r["Message-ID"] == "<rival@other-host>")
    assert claim["Transport"].startswith("withdrawn: never handed to the mail server")


@pytest.mark.parametrize("mode", ["workbook-api"])
def test_withdrawn_claim_does_not_count_as_sent(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str
) -> None:
    """A withdrawn claim is not a message sent: it neither makes its message "already sent" nor makes its audience
    one that heard of the event (sticky) when the severity is lowered."""
    _write_row(tmp_path, _rival_claim(tmp_path, "leadership", "withdrawn: someone claimed it first"))
    lowered = run("update", event_id, "--note", "contained", "--severity", "Sev 3")
    assert lowered.exit_code == 0, lowered.stderr
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert outbox(tmp_path) == ["technical"]  # Sev 3 tells technical only; leadership never heard of it


@pytest.mark.parametrize("mode", ["upload"])
def test_withdrawn_claim_of_this_very_message_is_sent(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str
) -> None:
    """A withdrawn claim on exactly this message (same audience and state) does not stop it going out."""
    _write_row(tmp_path, _rival_claim(tmp_path, "leadership", "withdrawn: someone claimed it first"))
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert outbox(tmp_path) == ["customer", "leadership", "technical"]


@pytest.mark.parametrize("mode", ["workbook-api"])
def test_claims_whose_write_timed_out_are_withdrawn_and_nothing_is_sent(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path, mode: str
) -> None:
    """The claims' row add times out (504) after the rows landed: nothing is sent, the claims are not kept in the
    journal to be written later, the ones that landed are withdrawn; the next run claims and sends all three."""
    sp.fail_next_rows_add(504, after_adding=True)
    failed = run("notify", event_id)
    assert failed.exit_code == 1 and "504" in failed.stderr and "Traceback" not in failed.stderr
    assert not (tmp_path / "outbox").exists()
    waiting = journal_for(load_config(tmp_path / "tracker.toml")).edits()
    assert not [e for e in waiting if str(e.values.get("transport", "")).startswith("claimed:")]
    assert {r["Transport"] for r in _notifications(sp)} == {
        "withdrawn: not sent (tracker could not finish claiming it)"
    }
    again = run("notify", event_id)
    assert again.exit_code == 0, again.stderr
    assert outbox(tmp_path) == ["customer", "leadership", "technical"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["upload", "workbook-api"])
def test_two_machines_reminding_from_one_sharepoint_workbook_send_once(
    run: Run, example: Path, event_id: str, tmp_path: Path, mode: str
) -> None:
    """Two machines' `due --remind --escalate` against one SharePoint workbook, their first writes released
    together, three hours after three Sev 2 events opened: every reminder and escalation reaches the SMTP server
    once, each has one log row (the losing claims withdrawn, never sent), and neither machine reports a failure."""
    from datetime import timedelta

    from tests.test_store_sharepoint import PATH, TOKENS, _config

    for n in range(3):
        opened = run(
            "open",
            "--title",
            f"outage {n}",
            "--severity",
            "Sev 2",
            "--service",
            "VPN",
            "--set",
            "event_manager=Ravi Menon",
        )
        assert opened.exit_code == 0, opened.stderr
    later = (CLOCK.now() + timedelta(hours=3)).isoformat()
    with StandIn() as standin, smtp_server() as (server, port):
        standin.put_file(PATH, example.read_bytes())
        machines = []
        for name in ("machine-a", "machine-b"):
            folder = tmp_path / name
            (folder / "tmp").mkdir(parents=True)
            (folder / "tracker.toml").write_text(_config(standin, mode))
            _use_smtp(folder, port)
            machines.append(folder)
        standin.hold_writes(2)  # both read the same version, then claim at the same moment
        procs = [
            start_process(
                "due",
                "--remind",
                "--escalate",
                cwd=folder,
                env=process_env(
                    **TOKENS,
                    TMPDIR=str(folder / "tmp"),
                    TRACKER_STATE_DIR=str(folder / "state"),
                    TRACKER_NOW=later,
                    TRACKER_REHEARSAL_SEND="yes",
                ),
            )
            for folder in machines
        ]
        outputs = [proc.communicate(timeout=180) for proc in procs]
        assert [proc.returncode for proc in procs] == [4, 4], outputs  # 4: updates overdue (not a send failure: 1)
        assert standin.gate_timeouts == 0 and standin.errors == []
        rows = _sheet_rows(standin.live_copy(PATH), "Notifications")
    received = [m.message for m in server.received]
    # (a shift that ends then, on a weekday, also has its [HANDOVER] message: a reminder about no event)
    kinds = Counter(str(m["X-Tracker-Kind"]) for m in received if str(m["X-Tracker-Event"]))
    keys = [(str(m["X-Tracker-Event"]), str(m["X-Tracker-Audience"]), str(m["Subject"])) for m in received]
    assert len(set(keys)) == len(keys), (sorted(keys), outputs)
    # 4 open events, each overdue and escalated; the 3 opened without Impact also get their blocked-first-notice one,
    # and the example event, whose ETA has passed by then, its ask for a new ETA
    new_eta = sum("[NEW ETA]" in str(m["Subject"]) for m in received)
    assert new_eta == 1 and kinds["reminder"] == 4 + 3 + new_eta and kinds["escalation"] >= 4, kinds
    sent = [(str(m["X-Tracker-Event"]), str(m["X-Tracker-Audience"]), str(m["Subject"])) for m in received]
    assert len(set(sent)) == len(sent), sent  # nothing twice
    logged = [r for r in rows if not str(r["Transport"]).startswith("withdrawn") and r["Kind"] in kinds]
    assert sorted(str(r["Message-ID"]) for r in logged) == sorted(str(m["Message-ID"]) for m in received)
    assert "not sent" not in "".join(err for _out, err in outputs), outputs

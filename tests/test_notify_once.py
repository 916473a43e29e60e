"""Each outage email goes out once, whatever stops `tracker notify`: kill -9, Ctrl-C or a full disk.

Every message is written down before it is handed to the transport (the send ledger) and
its Notifications row right after the server accepted it (the journal), so the next run
never sends it again and the log is completed by the next write.
"""

from __future__ import annotations

import errno
import json
import random
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import Run, process_env, run_process, start_process
from tests.smtp_server import smtp_server
from tests.test_cli_notify import _use_smtp
from tracker.config import load_config
from tracker.events import update_event
from tracker.store import open_store


def log_rows(run: Run) -> list[dict]:
    """The Notifications rows as `tracker show --json` cannot give them: read the sheet directly."""
    import openpyxl

    book = openpyxl.load_workbook(Path("events.xlsx"))
    sheet = book["Notifications"]
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, row, strict=False)) for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)]


def outbox(tmp_path: Path) -> list[str]:
    """The audiences of the messages in outbox/, one per file."""
    import email

    return sorted(
        str(email.message_from_bytes(p.read_bytes())["X-Tracker-Audience"]) for p in (tmp_path / "outbox").glob("*.eml")
    )


def test_ctrl_c_while_sending_says_what_went_out(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the second message: exit 130 naming what was sent and not; the next run sends only the third;
    the second (it may have gone out) is logged as acceptance unknown and sent again only with --force."""
    from tracker.transports import OutboxTransport

    original = OutboxTransport.send_one
    calls = [0]

    def send_one(self, message):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return original(self, message)

    monkeypatch.setattr(OutboxTransport, "send_one", send_one)
    stopped = run("notify", event_id)
    assert stopped.exit_code == 130
    assert "interrupted. Sent: leadership; not sent: technical, customer" in stopped.stderr
    monkeypatch.setattr(OutboxTransport, "send_one", original)
    again = run("notify", event_id)
    assert again.exit_code == 0, again.stderr
    assert "technical: tracker stopped while sending" in again.stderr and "--force" in again.stderr
    assert outbox(tmp_path) == ["customer", "leadership"]
    forced = run("notify", event_id, "--audience", "technical", "--force")
    assert forced.exit_code == 0
    assert outbox(tmp_path) == ["customer", "leadership", "technical"]
    assert run("notify", event_id).stdout.count("already sent") == 3


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
    again = run("notify", event_id)
    assert again.exit_code == 0, again.stderr
    assert outbox(tmp_path) == ["customer", "leadership", "technical"]
    logged = log_rows(run)
    assert sorted(r["Audience"] for r in logged) == ["customer", "leadership", "technical"]
    assert [r["Transport"] for r in logged if r["Audience"] == "leadership"][0].startswith("acceptance unknown")


@pytest.mark.slow
def test_kill_at_random_points_sends_each_message_once(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """kill -9 or Ctrl-C (10 each) at random moments of `notify --open` (new updates between runs), then one more
    run and `sync`:
    no event state reaches an audience twice, and every message the server accepted is on the Notifications sheet."""
    for n in range(3):
        opened = run("open", "--title", f"outage {n}", "--severity", "Sev 2", "--service", "VPN", "--impact", "x")
        assert opened.exit_code == 0, opened.stderr
    store = open_store(load_config(tmp_path / "tracker.toml"))
    ids = [event_id] + [f"EVT-2026-{n:04d}" for n in range(2, 5)]
    chance = random.Random(7)
    with smtp_server() as (server, port):
        _use_smtp(tmp_path, port)
        for trial in range(20):
            for key in ids:
                update_event(store, key, note=f"trial {trial}")
            proc = start_process("notify", "--open", cwd=tmp_path, env=process_env())
            time.sleep(chance.uniform(0.05, 1.5))  # a stop at a random point: before, during or after sending
            stop = signal.SIGKILL if trial % 2 == 0 else signal.SIGINT  # kill -9, or Ctrl-C
            proc.send_signal(stop)
            _, err = proc.communicate()
            if stop == signal.SIGINT:
                assert "Traceback" not in err, err
                # 130: stopped and said what went out; -SIGINT: stopped before Python set up its handler
                assert proc.returncode in (0, 1, 130, -signal.SIGINT), err
        final = run_process("notify", "--open", cwd=tmp_path)
        assert final.returncode in (0, 1), final.stderr
        assert run_process("sync", cwd=tmp_path).returncode == 0
    logged = {str(r["Message-ID"]): r for r in log_rows(run)}
    received = [str(m.message["Message-ID"]) for m in server.received]
    assert len(received) == len(set(received))
    missing = [mid for mid in received if mid not in logged]
    assert missing == [], f"accepted by the server but not logged: {missing}"
    states = [(logged[mid]["Event ID"], logged[mid]["Audience"], logged[mid]["State"]) for mid in received]
    twice = {s for s in states if states.count(s) > 1}
    assert twice == set(), f"sent twice: {twice}"
    assert len(received) >= 20, "the trials should have sent a fair number of messages"
    print(json.dumps({"received": len(received), "logged": len(logged)}))


def test_two_folders_naming_one_workbook_send_once(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Two folders whose tracker.toml name the same workbook, `notify --open` in both at once: each message once."""
    other = tmp_path / "other"
    other.mkdir()
    config = (tmp_path / "tracker.toml").read_text().replace('path = "events.xlsx"', 'path = "../events.xlsx"')
    (other / "tracker.toml").write_text(config)
    for n in range(3):
        opened = run("open", "--title", f"outage {n}", "--severity", "Sev 2", "--service", "VPN", "--impact", "x")
        assert opened.exit_code == 0
    procs = [start_process("notify", "--open", cwd=folder, env=process_env()) for folder in (tmp_path, other)]
    outputs = [proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert sum(out.count("already sent") for out, _err in outputs) == 12  # the second run found them all sent
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
    from tracker.edits import edit_to_json
    from tracker.ledger import attempt_for
    from tracker.notify import log_row, prepare
    from tracker.times import iso, utcnow

    config = load_config(tmp_path / "tracker.toml")
    prepared = prepare(open_store(config).read(), config, event_id, audiences=["leadership", "technical"])
    leadership, technical = prepared.messages
    row = log_row(leadership, config, "outbox", utcnow(), "Identified")
    entry = {"recorded_at": iso(utcnow()), "reason": "sent; log not yet on the sheet", "edits": [edit_to_json(row)]}
    (tmp_path / ".tracker-journal.jsonl").write_text(json.dumps(entry) + "\n")
    (tmp_path / ".tracker-journal.sending.jsonl").write_text(attempt_for(technical, utcnow()).to_json() + "\n")
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert "technical: tracker stopped while sending" in result.stderr
    assert not (tmp_path / ".tracker-journal.jsonl").exists()
    assert not (tmp_path / ".tracker-journal.sending.jsonl").exists()
    assert outbox(tmp_path) == ["customer"]  # leadership was sent (logged), technical maybe: neither again
    logged = {r["Audience"]: r["Transport"] for r in log_rows(run)}
    assert logged["leadership"] == "outbox" and logged["technical"].startswith("acceptance unknown")
    assert logged["customer"] == "outbox"

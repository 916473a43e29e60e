"""Careless and hostile input (issue 9): a clear error every time, never a traceback, never silent acceptance."""

from __future__ import annotations

import email
import email.policy
import subprocess
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Run, run_process
from tests.smtp_server import Recorder, smtp_server
from tests.test_cli_notify import _use_smtp


def add_distribution(path: Path, rows: list[list[object]]) -> None:
    """Append Distribution rows and grow the table over them, as Excel does when someone pastes a list."""
    book = openpyxl.load_workbook(path)
    ws = book["Distribution"]
    for row in rows:
        ws.append(row)
    table = ws.tables["DistributionTable"]
    table.ref = f"{table.ref.split(':')[0]}:{table.ref.split(':')[1].rstrip('0123456789')}{ws.max_row}"
    book.save(path)


def test_a_long_list_goes_out_in_messages_of_at_most_500(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """1,200 Bcc rows for the customer: messages of at most 500 recipients (a server refusing more, like Exchange
    Online, refuses none), each with the same To and Cc, the Bcc spread evenly; each logged; a rerun sends none."""
    add_distribution(
        example, [["customer", f"Reader {n}", f"reader{n}@example.com", "Bcc", "Yes"] for n in range(1200)]
    )
    with smtp_server(Recorder(max_recipients=500)) as (server, port):
        _use_smtp(tmp_path, port)
        result = run("notify", event_id, "--audience", "customer")
        assert result.exit_code == 0, result.stderr
        again = run("notify", event_id, "--audience", "customer")
    assert again.exit_code == 0 and again.stdout.count("already sent") == 3
    assert len(server.received) == 3
    envelopes = [sorted(r.rcpt_tos) for r in server.received]
    assert all(len(e) <= 500 for e in envelopes)
    wanted = {f"reader{n}@example.com" for n in range(1200)} | {
        "customer-ops@example.com",
        "account.manager@example.com",
    }
    assert set().union(*envelopes) == wanted
    assert sorted(len(e) for e in envelopes) == [401, 401, 402]  # 1 To + 1,201 Bcc: 401, 400, 400
    visible = {str(r.message["To"]) for r in server.received}
    assert len(visible) == 1 and "customer-ops@example.com" in visible.pop()
    assert all(r.message["Bcc"] is None for r in server.received)
    book = openpyxl.load_workbook(example)
    logged = [row for row in book["Notifications"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert len(logged) == 3 and len({row[7] for row in logged}) == 3


def test_a_stop_after_the_first_part_sends_only_the_rest(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after part 1 of 3 went out: the next run sends parts 2 and 3, not part 1 again."""
    from tracker.transports import OutboxTransport

    add_distribution(
        example, [["customer", f"Reader {n}", f"reader{n}@example.com", "Bcc", "Yes"] for n in range(1200)]
    )
    original = OutboxTransport.send_one
    calls = [0]

    def send_one(self, message):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return original(self, message)

    monkeypatch.setattr(OutboxTransport, "send_one", send_one)
    assert run("notify", event_id, "--audience", "customer").exit_code == 130
    monkeypatch.setattr(OutboxTransport, "send_one", original)
    rest = run("notify", event_id, "--audience", "customer")
    assert rest.exit_code == 0, rest.stderr
    assert "tracker stopped while sending" in rest.stderr  # part 2: handed over when stopped, not resent
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2  # part 1 before the stop, part 3 now
    bccs = [
        {a.addr_spec for a in email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Bcc"].addresses}  # type: ignore[union-attr]
        for p in files
    ]
    assert (len(bccs[0]), len(bccs[1])) == (401, 400) and not bccs[0] & bccs[1]


def test_more_to_and_cc_than_fit_one_message_is_refused(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """600 To rows: nothing is sent, and the error says to make most of them Bcc."""
    add_distribution(example, [["customer", f"Reader {n}", f"reader{n}@example.com", "To", "Yes"] for n in range(600)])
    result = run("notify", event_id, "--audience", "customer")
    assert result.exit_code == 1
    assert "more than fit one message ([mail] max_recipients = 500)" in result.stderr and "Bcc" in result.stderr
    assert not list((tmp_path / "outbox").glob("*.eml"))


def test_an_unexpected_failure_is_one_line_and_a_private_report(
    run: Run, example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (here: the store raising what no code expects) prints one line naming the command and the report file
    under the user's cache folder, exit 3; --verbose prints the report; the report is readable only by the user."""
    from tracker.cli import State

    def broken(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("something no one foresaw")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(State, "store", broken)
    result = run("list")
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "`tracker list` failed unexpectedly (RuntimeError: something no one foresaw)" in result.stderr
    (report,) = (tmp_path / "cache" / "tracker" / "crash-reports").iterdir()
    assert str(report) in result.stderr
    assert "Traceback" in report.read_text() and "RuntimeError" in report.read_text()
    assert report.stat().st_mode & 0o077 == 0
    verbose = run("--verbose", "list")
    assert verbose.exit_code == 3 and "Traceback" in verbose.stderr


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def test_a_full_disk_during_update_is_one_line_and_loses_nothing(run: Run, tmp_path: Path) -> None:
    """The tracker's folder is a small tmpfs, filled up: `update` says the disk is full in one line, exit 1, and the
    workbook is exactly as it was."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        assert run_process("init", "--example", "--name", "A B", cwd=disk).returncode == 0
        before = (disk / "events.xlsx").read_bytes()
        filler = disk / "filler"
        with filler.open("wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        full = run_process("update", "EVT-2026-0001", "--note", "x" * 5000, cwd=disk)
        assert full.returncode == 1, full.stderr
        assert "Traceback" not in full.stderr and "No space left on device" in full.stderr
        assert len(full.stderr.strip().splitlines()) == 1, full.stderr
        assert (disk / "events.xlsx").read_bytes() == before
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def _set_title(path: Path, event_id: str, title: str) -> None:
    book = openpyxl.load_workbook(path)
    ws = book["Events"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == event_id:
            row[1].value = title
    book.save(path)


def test_control_characters_from_the_workbook_reach_no_header_and_no_terminal(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A title holding ESC and BEL as Excel stores them (`_x001B_`, `_x0007_`): the email Subject carries neither,
    and `list` and `show` print them as visible escapes, not raw."""
    _set_title(example, event_id, "Email _x001B_[2J_x001B_[31moutage _x0007_now")
    listed = run("list")
    shown = run("show", event_id)
    for output in (listed.stdout, shown.stdout):
        assert "\x1b" not in output and "\x07" not in output and "\\x1b[31moutage" in output
    run("notify", event_id, "--audience", "leadership")
    for path in (tmp_path / "outbox").glob("*.eml"):
        subject = str(email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Subject"])
        assert not any(ord(ch) < 32 for ch in subject), repr(subject)


def test_a_lock_file_cannot_forge_lines_or_colours(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A LibreOffice lock file whose owner name holds CR/LF and ESC: one `error:` line, the owner shown escaped."""
    lock = tmp_path / f".~lock.{example.name}#"
    lock.write_bytes(b"M,Mallory\r\nerror: all data deleted\x1b[2J,host,21.11.2026 14:00,file:///x;")
    result = run("update", event_id, "--note", "x")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "\x1b" not in result.stderr
    assert "Mallory\\r\\nerror: all data deleted\\x1b[2J" in result.stderr

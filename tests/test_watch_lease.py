"""A watch that never silently stops: its heartbeat, `due` saying when reminders last ran, and the lease that lets
two or more `tracker watch` share one SharePoint workbook."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run, process_env, start_process
from tests.sharepoint_standin import StandIn
from tests.smtp_server import smtp_server
from tests.test_cli_notify import _use_smtp
from tests.test_store_sharepoint import PATH, TOKENS, _config

SPEED = 100  # rehearsal seconds per real second: a 10-minute interval lasts 6 real seconds
EVERY = timedelta(minutes=10)
TRIALS = 5


def _watch_rows(content: bytes) -> list[dict]:
    sheet = openpyxl.load_workbook(io.BytesIO(content))["Watch"]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:] if any(v is not None for v in row)]


@pytest.mark.parametrize("mode", ["upload", "workbook-api"])
def test_a_watch_on_sharepoint_holds_the_lease_and_beats(run: Run, sp: StandIn, tmp_path: Path, mode: str) -> None:
    """The only watch of a SharePoint workbook says it is active, adds one Watch row for term 1 and renews its
    Heartbeat each tick; `due` then says when reminders last ran."""
    result = run("watch", "--ticks", "3", "--every", "10m")
    assert "watch: active (term 1)" in result.stdout, result.output
    rows = _watch_rows(sp.live_copy(PATH))
    assert [(r["Term"], r["Every (min)"]) for r in rows] == [(1, 10)]
    assert rows[0]["Heartbeat (UTC)"] - rows[0]["Claimed (UTC)"] == 2 * EVERY  # three ticks, ten minutes apart
    due = run("due")
    assert "reminders last ran at" in due.stdout and "WARNING" not in due.output


@pytest.mark.parametrize("mode", ["upload"])
def test_a_workbook_without_the_watch_sheet_is_watched_as_before(
    run: Run, sp: StandIn, tmp_path: Path, mode: str
) -> None:
    """A SharePoint workbook made before the Watch sheet: the watch says once that it has no lease and sends as
    before (the outage emails of its open event)."""
    book = openpyxl.load_workbook(io.BytesIO(sp.get_file(PATH)))
    del book["Watch"]
    data = io.BytesIO()
    book.save(data)
    sp.put_file(PATH, data.getvalue())
    result = run("watch", "--ticks", "2", "--notify")
    assert result.stdout.count("watch: warning: the workbook has no Watch sheet (added in tracker 0.4)") == 1
    assert result.stdout.count(": sent") == 3, result.stdout


class _Watch:
    """A `tracker watch` process on its own "machine" (folder, temp and state folders), its output read as it
    comes."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.lines: list[str] = []
        self.proc = start_process("watch", "--every", "10m", "--notify", cwd=folder, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        self._reader.join(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def beats(self) -> int:
        """How many ticks this watch finished as the active one (its local heartbeat file, rewritten each)."""
        return len(list((self.folder / "tmp").glob("tracker-heartbeat-*.json")))

    def heartbeat(self) -> str:
        found = list((self.folder / "tmp").glob("tracker-heartbeat-*.json"))
        return found[0].read_text() if found else ""


def _until(condition: object, what: str, procs: list[_Watch], seconds: float = 60) -> None:
    """Poll for a process's output (the only waiting these tests do)."""
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds}s for {what}: " + repr([w.lines for w in procs]))
        time.sleep(0.05)


def _machine(tmp_path: Path, name: str, standin: StandIn, port: int, mode: str) -> Path:
    folder = tmp_path / name
    (folder / "tmp").mkdir(parents=True)
    (folder / "tracker.toml").write_text(_config(standin, mode))
    _use_smtp(folder, port)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["upload", "workbook-api"])
def test_two_watches_one_active_the_other_takes_over_after_kill_9(example: Path, tmp_path: Path, mode: str) -> None:
    """Two watches on one SharePoint workbook, five times: exactly one is active (the other says once it stands
    by); kill -9 of the active one and the other claims the next term within two intervals of the kill and sends
    what became due (an event opened meanwhile); every message reaches the mail server once. The five trials run
    at once, each with its own SharePoint site and mail server: most of a trial is waiting for the lease to age."""
    with ThreadPoolExecutor(max_workers=TRIALS) as pool:
        trials = [pool.submit(_trial, example, tmp_path / f"trial-{trial}", mode) for trial in range(TRIALS)]
        for trial in trials:
            trial.result()


def _trial(example: Path, folder: Path, mode: str) -> None:
    with StandIn() as standin, smtp_server() as (server, port):
        standin.put_file(PATH, example.read_bytes())
        folders = [_machine(folder, name, standin, port, mode) for name in ("m1", "m2")]
        (folder / "tracker.toml").write_text(_config(standin, mode))
        origin = time.time()
        env = {"TRACKER_NOW_SPEED": str(SPEED), "TRACKER_NOW_FROM": str(origin), "PYTHONUNBUFFERED": "1"}
        watches = [
            _Watch(f, process_env(**TOKENS, **env, TMPDIR=str(f / "tmp"), TRACKER_STATE_DIR=str(f / "state")))
            for f in folders
        ]
        try:
            _until(lambda: sum(w.beats() for w in watches) == 1, "the active watch's first tick", watches)
            _until(lambda: any(w.said("watch: standby") for w in watches), "the standby", watches)
            active = next(w for w in watches if w.said("watch: active (term 1)"))
            standby = next(w for w in watches if w is not active)
            assert active.beats() == 1 and not standby.said("watch: active"), [w.lines for w in watches]
            # The active watch is frozen before a third machine opens an event, and killed after: its next tick
            # (one interval after its first, 6 s here) must not see the new event before the kill, which left
            # running through the `open` (1-6 s on a busy machine) it sometimes would, and send it itself
            os.kill(active.proc.pid, signal.SIGSTOP)
            killed = suite_clock.NOW + timedelta(seconds=(time.time() - origin) * SPEED)
            opening = ("open", "--title", "VPN down", "--severity", "Sev 2", "--service", "VPN", "--impact", "x")
            third = process_env(**TOKENS, **env, TRACKER_STATE_DIR=str(folder / "state"))  # a third machine
            opened = start_process(*opening, cwd=folder, env=third)
            out, err = opened.communicate(timeout=60)
            assert opened.returncode == 0, out + err
            second = out.strip()  # its ID: of the year the fast clock has reached (a new one after 31 December)
            os.kill(active.proc.pid, signal.SIGKILL)
            active.proc.wait(timeout=30)
            _until(lambda: standby.said("watch: active (term 2)"), "the take-over", watches)
            _until(lambda: standby.beats() == 1, "the new active watch's first tick", watches)
            standby.proc.send_signal(signal.SIGTERM)
            standby.proc.wait(timeout=60)
        finally:
            for watch in watches:
                if watch.proc.poll() is None:
                    watch.proc.kill()
                watch.proc.wait()
                watch.close()
        assert len([line for line in standby.lines if "watch: standby" in line]) == 1  # said once
        rows = _watch_rows(standin.live_copy(PATH))
        assert standin.errors == []
    holders: dict[int, dict] = {}  # the earliest row of each term holds it (workbook-api: a losing claim stays)
    for row in rows:
        holders.setdefault(row["Term"], row)
    assert sorted(holders) == [1, 2] and (mode == "workbook-api" or len(rows) == 2), rows
    took_over = holders[2]["Claimed (UTC)"].replace(tzinfo=UTC)
    assert took_over - killed <= 2 * EVERY, (took_over, killed)
    assert took_over - holders[1]["Heartbeat (UTC)"].replace(tzinfo=UTC) > EVERY  # not while the first still beat
    received = [m.message for m in server.received]
    sent = [(str(m["X-Tracker-Event"]), str(m["X-Tracker-Audience"]), str(m["Subject"])) for m in received]
    assert len(sent) == len(set(sent)), sent  # nothing twice (a shift's [HANDOVER] either, when one changes meanwhile)
    first = suite_clock.event_id(1)
    assert {event for event, _audience, _subject in sent if event} == {first, second}, sent
    assert all(subject.startswith("[HANDOVER]") for event, _audience, subject in sent if not event), sent
    assert active.said(f"notify {first} ") and not active.said(f"notify {second} ")  # the first watch, then
    assert standby.said(f"notify {second} ") and not standby.said(f"notify {first} ")  # the one that took over


def _weekday_morning() -> datetime:
    """The suite clock's next Monday at 10:00 UTC: the example Roster's operations manager is on duty."""
    day = suite_clock.NOW + timedelta(days=(7 - suite_clock.NOW.weekday()) % 7 or 7)
    return day.replace(hour=10, minute=0, second=0, microsecond=0)


def test_due_says_when_reminders_last_ran_and_heartbeat_tells_operations_once(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """A local watch's tick leaves a heartbeat beside the workbook; `due` says when reminders last ran, in capitals
    once that is more than three intervals ago; `due --heartbeat` then exits 1 and mails the operations manager on
    duty once, however often it runs."""
    start = _weekday_morning()
    at(start)
    assert run("watch", "--ticks", "1").exit_code == 0
    assert (tmp_path / ".events.xlsx.tracker-heartbeat.json").exists()
    due = run("due")
    assert f"reminders last ran at {start:%d %b %Y %H%MZ}" in due.stdout and "WARNING" not in due.output
    assert run("due", "--heartbeat").exit_code == 0
    at(start + timedelta(minutes=3))  # three intervals of 1 min: not yet quiet
    assert "WARNING" not in run("due").output and run("due", "--heartbeat").exit_code == 0
    at(start + timedelta(minutes=4))
    assert f"WARNING: reminders and escalations last ran at {start:%d %b %Y %H%MZ}" in run("due").stdout
    first = run("due", "--heartbeat")
    assert first.exit_code == 1 and "WARNING" in first.stderr
    assert "told the operations manager Ravi Menon <ravi.menon@example.com>" in first.stderr
    again = run("due", "--heartbeat")
    assert again.exit_code == 1 and "was told already" in again.stderr
    told = [p for p in (tmp_path / "outbox").glob("*.eml") if "WATCH STOPPED" in p.read_text()]
    assert len(told) == 1
    at(start + timedelta(minutes=5))
    assert run("watch", "--ticks", "1").exit_code == 0  # running again: not quiet
    assert run("due", "--heartbeat").exit_code == 0


def test_the_status_page_says_when_reminders_last_ran_loudly_once_quiet(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """The leadership page says when the watch last ran reminders, as an alert once that is more than three
    intervals ago; the customer's page never mentions the watch."""
    start = _weekday_morning()
    at(start)
    assert run("watch", "--ticks", "1", "--every", "5m").exit_code == 0
    assert run("publish").exit_code == 0
    page = (tmp_path / "status" / "index.html").read_text()
    assert f"reminders last ran at {start:%d %b %Y %H%MZ}" in page and "WARNING" not in page
    at(start + timedelta(minutes=16))
    assert run("publish").exit_code == 0
    assert run("publish", "--audience", "customer", "--out", "customer.html").exit_code == 0
    page = (tmp_path / "status" / "index.html").read_text()
    assert 'role="alert">WARNING: reminders and escalations last ran at' in page
    assert "reminders" not in (tmp_path / "customer.html").read_text()


def test_a_rehearsal_speed_that_is_not_a_number_is_refused_in_one_line(
    run: Run, example: Path, monkeypatch: pytest.MonkeyPatch, at: Callable[[datetime], None]
) -> None:
    """TRACKER_NOW_SPEED must be a positive number: anything else is one line saying what to write."""
    monkeypatch.setenv("TRACKER_NOW_SPEED", "fast")
    at(suite_clock.NOW)
    result = run("due")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: TRACKER_NOW_SPEED='fast' or TRACKER_NOW_FROM is not a number; e.g. TRACKER_NOW_SPEED=60 (a "
        "rehearsal minute each real second)"
    )

"""A first notice blocked by an empty field (Impact) is loud: `due` lists it and exits 4, `due --remind` tells the
event manager and communication lead once with the command that fills it, `watch` says it once."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run

OPENED = suite_clock.NOW + timedelta(hours=2)


def _outbox(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((folder / "outbox").glob("*.eml"))
    ]


@pytest.fixture
def blocked(run: Run, example: Path, event_id: str, at: Callable[[datetime], None]) -> str:
    """The example event resolved (so nothing else is late), then a Sev 2 opened at OPENED without Impact, Alex
    Morgan its event manager and Priya Shah its communication lead (pinned); the clock 5 minutes later. Returns its
    ID."""
    at(OPENED - timedelta(minutes=1))
    assert run("resolve", event_id, "--note", "done", "--force").exit_code == 0
    at(OPENED)
    opened = run(
        "open",
        *("--title", "Mail down", "--severity", "Sev 2", "--service", "VPN"),
        *("--set", "event_manager=Alex Morgan", "--set", "communication_lead=Priya Shah"),
    )
    assert opened.exit_code == 0, opened.stderr
    key = opened.stdout.strip()
    pinned = run(  # they keep the event whoever is on the Roster at the suite's moment
        "update",
        key,
        *("--note", "Alex and Priya keep this one", "--internal", "--pin"),
        *("--set", "event_manager=Alex Morgan", "--set", "communication_lead=Priya Shah"),
    )
    assert pinned.exit_code == 0, pinned.stderr
    at(OPENED + timedelta(minutes=5))
    return key


def _command(key: str) -> str:
    return f'tracker update {key} --note "Impact recorded" --set impact="..."'


def test_due_lists_a_blocked_first_notice_and_exits_4(run: Run, blocked: str) -> None:
    """`due` lists the event's first notice as blocked on Impact, owed by its event manager and communication lead,
    prints the command that fills it, and exits 4 (as urgent as an overdue update); `--json` says the same."""
    due = run("due")
    assert due.exit_code == 4, due.stdout + due.stderr
    line = next(line for line in due.stdout.splitlines() if line.startswith(blocked) and "first notice" in line)
    assert "first notice blocked: Impact" in line and "blocked" in line
    assert "Alex Morgan, Priya Shah" in line
    assert _command(blocked) in due.stdout
    payload = json.loads(run("due", "--json").stdout)
    item = next(i for i in payload["items"] if i["kind"] == "first notice")
    assert item["event_id"] == blocked and item["state"] == "blocked" and item["fields"] == ["Impact"]
    assert item["commands"] == [_command(blocked)] and payload["exit_code"] == 4


def test_due_remind_tells_the_event_manager_and_communication_lead_once(
    run: Run, blocked: str, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """`due --remind` sends one reminder to Alex Morgan and Priya Shah naming Impact and the exact command (not
    `--no-change`), logged on the Notifications sheet; a second run sends none; the overdue reminder an hour later
    gives the same command instead of `--no-change`."""
    first = run("due", "--remind")
    assert f"[BLOCKED] {blocked}" in first.stdout, first.stdout + first.stderr
    messages = [m for m in _outbox(tmp_path) if f"[BLOCKED] {blocked}" in str(m["Subject"])]
    assert len(messages) == 1
    assert {a.addr_spec for a in messages[0]["To"].addresses} == {"alex.morgan@example.com", "priya.shah@example.com"}
    body = messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Impact is empty" in body and _command(blocked) in body and "--no-change" not in body
    again = run("due", "--remind")
    assert "[BLOCKED]" not in again.stdout
    assert len([m for m in _outbox(tmp_path) if "[BLOCKED]" in str(m["Subject"])]) == 1
    log = openpyxl.load_workbook(tmp_path / "events.xlsx")["Notifications"]
    states = [str(c.value) for row in log.iter_rows() for c in row if c.value == "reminder blocked Impact"]
    assert states == ["reminder blocked Impact"]
    at(OPENED + timedelta(minutes=62))
    assert "[OVERDUE]" in run("due", "--remind").stdout
    overdue = [m for m in _outbox(tmp_path) if f"[OVERDUE] {blocked}" in str(m["Subject"])]
    text = overdue[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "--no-change" not in text and _command(blocked) in text


def test_watch_says_a_blocked_first_notice_once(run: Run, blocked: str) -> None:
    """`watch --notify` ticking every hour says the blocked first notice (with the command) on its first tick
    only (the one reminder goes too)."""
    watched = run("watch", "--notify", "--ticks", "3", "--every", "60m")
    lines = [line for line in watched.stdout.splitlines() if f"notify {blocked}" in line]
    assert len(lines) == 1, watched.stdout
    assert "first notice blocked: Impact" in lines[0] and _command(blocked) in lines[0]
    assert watched.stdout.count(f"[BLOCKED] {blocked}") == 1


def test_once_impact_is_set_the_first_notice_goes_and_due_no_longer_lists_it(
    run: Run, blocked: str, tmp_path: Path
) -> None:
    """After `tracker update --set impact=...`, `notify` sends the Initial notification and `due` lists no
    blocked first notice."""
    assert "first notice blocked" in run("due").stdout
    updated = run("update", blocked, "--note", "Impact recorded", "--set", "impact=Nobody can send mail")
    assert updated.exit_code == 0, updated.stderr
    notified = run("notify", blocked)
    assert notified.exit_code == 0, notified.stderr
    assert any(str(m["X-Tracker-Kind"]) == "initial" and blocked in str(m["Subject"]) for m in _outbox(tmp_path))
    due = run("due")
    assert "first notice" not in due.stdout and due.exit_code == 0, due.stdout


def test_the_library_lists_a_blocked_first_notice_as_due_does(run: Run, blocked: str, tmp_path: Path) -> None:
    """`EventTracker.due()` has the same blocked first notice `tracker due --json` lists."""
    from tracker import EventTracker

    owed = [d for d in EventTracker.open(tmp_path / "tracker.toml").due() if d.kind == "first notice"]
    payload = json.loads(run("due", "--json").stdout)
    cli = [i for i in payload["items"] if i["kind"] == "first notice"]
    assert [d.to_json(suite_clock.parse(payload["now"])) for d in owed] == cli
    assert [(d.event_id, d.state) for d in owed] == [(blocked, "blocked")]

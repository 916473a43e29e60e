"""Drills (category exercise, `open --drill`): [EXERCISE] subjects, only drill recipients, counted in no figure."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run

DRILL = ("open", "--drill", "--title", "DR drill - mail failover", "--severity", "Sev 2", "--service", "Email")
DRILL_ID = suite_clock.event_id(2)


def _outbox(folder: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((folder / "outbox").glob("*.eml"))
    ]


def _addresses(message: EmailMessage) -> set[str]:
    return {a.addr_spec for name in ("To", "Cc", "Bcc") if message[name] for a in message[name].addresses}


def _open_drill(run: Run) -> None:
    result = run(*DRILL, "--impact", "None: this is an exercise")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == DRILL_ID


def test_drill_goes_only_to_drill_recipients_with_exercise_subjects(run: Run, example: Path, tmp_path: Path) -> None:
    """A drill's outage emails go only to Distribution rows marked Drill Yes, every subject starting [EXERCISE];
    an audience with nobody marked gets nothing and notify names the cells to mark."""
    _open_drill(run)
    result = run("notify", DRILL_ID)
    assert result.exit_code == 0, result.output
    mails = _outbox(tmp_path)
    assert {str(m["X-Tracker-Audience"]) for m in mails} == {"leadership", "technical"}
    assert all(str(m["Subject"]).startswith("[EXERCISE] ") for m in mails)
    assert set().union(*(_addresses(m) for m in mails)) == {"it-leadership@example.com", "tech-leads@example.com"}
    assert (
        f"warning: {DRILL_ID} is an exercise and customer has nobody marked Drill Yes: nothing sent to it (mark "
        "Distribution!F6, Distribution!F7 (Drill) Yes for who takes part)"
    ) in result.stderr


def test_drill_with_nobody_marked_sends_nothing(run: Run, example: Path, tmp_path: Path) -> None:
    """With no Distribution row marked Drill Yes, nothing goes, and notify says in one line which cells to mark."""
    book = openpyxl.load_workbook(example)
    for row in range(2, book["Distribution"].max_row + 1):
        book["Distribution"][f"F{row}"] = "No"
    book.save(example)
    _open_drill(run)
    result = run("notify", DRILL_ID)
    assert result.exit_code == 1
    assert not (tmp_path / "outbox").exists() or _outbox(tmp_path) == []
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error")]
    assert "none of leadership, technical, customer has one; nothing was sent" in line
    assert "Distribution!F2, Distribution!F3, Distribution!F4" in line and "(Drill)" in line


def test_drill_without_the_drill_column_is_refused(run: Run, example: Path, tmp_path: Path) -> None:
    """A workbook made before the Drill column (tracker 0.4) never sends a drill to the real lists."""
    book = openpyxl.load_workbook(example)
    sheet = book["Distribution"]
    sheet.delete_cols(6)
    (table,) = sheet.tables.values()
    table.ref = table.ref.replace("F", "E")
    table.tableColumns = table.tableColumns[:5]
    book.save(example)
    _open_drill(run)
    result = run("notify", DRILL_ID)
    assert result.exit_code == 1
    assert "no 'Drill' column yet (added in tracker 0.4)" in result.stderr
    assert not (tmp_path / "outbox").exists() or _outbox(tmp_path) == []


def test_drill_reminder_says_exercise(run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]) -> None:
    """The reminder about a drill's update (rehearsal clock) starts [EXERCISE] too."""
    _open_drill(run)
    assert run("notify", DRILL_ID).exit_code == 0
    at(suite_clock.NOW + timedelta(minutes=55))
    result = run("due", "--remind")
    reminders = [m for m in _outbox(tmp_path) if str(m["X-Tracker-Kind"]) == "reminder"]
    assert [str(m["Subject"]) for m in reminders if DRILL_ID in str(m["Subject"])], result.output
    assert all(str(m["Subject"]).startswith("[EXERCISE] [REMINDER]") for m in reminders if DRILL_ID in m["Subject"])


def test_drill_is_out_of_report_and_status_page(run: Run, example: Path, tmp_path: Path) -> None:
    """A drill counts in no report figure (JSON) and is not on the status page; `publish --drills` shows it in a
    section of its own."""
    before = json.loads(run("report", "--json").stdout)
    _open_drill(run)
    after = json.loads(run("report", "--json").stdout)
    assert after["totals"] == before["totals"] and after["groups"] == before["groups"]
    assert DRILL_ID not in json.dumps(after)
    assert run("publish", "--out", "page.html").exit_code == 0
    page = (tmp_path / "page.html").read_text()
    assert DRILL_ID not in page and suite_clock.event_id(1) in page
    assert run("publish", "--drills", "--out", "drills.html").exit_code == 0
    drills = (tmp_path / "drills.html").read_text()
    section = drills[drills.index('id="drills-heading"') :]
    assert DRILL_ID in section and DRILL_ID not in drills[: drills.index('id="drills-heading"')]
    assert "1 open event" in drills


def test_drill_option_is_the_exercise_category(run: Run, example: Path) -> None:
    """`open --drill` records the category exercise; `--category exercise` is accepted too."""
    _open_drill(run)
    assert run("open", "--category", "exercise", "--title", "Tabletop", "--severity", "Sev 3").exit_code == 0
    events = json.loads(run("list", "--json").stdout)
    assert [e["category"] for e in events[1:]] == ["exercise", "exercise"]


def test_a_drill_replayed_on_the_rehearsal_clock_has_its_own_timeline_report(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """A drill replayed on the rehearsal clock (open, notify, update, resolve) gets its own timeline report from
    `tracker review ID`: the category, each step at its rehearsed time and each [EXERCISE] email sent."""
    _open_drill(run)
    assert run("notify", DRILL_ID).exit_code == 0
    at(suite_clock.NOW + timedelta(minutes=20))
    assert run("update", DRILL_ID, "--note", "Failover to the second site started").exit_code == 0
    at(suite_clock.NOW + timedelta(minutes=40))
    assert run("resolve", DRILL_ID, "--note", "Drill over: failover worked").exit_code == 0
    result = run("review", DRILL_ID)
    assert result.exit_code == 0, result.output
    review = (tmp_path / "reviews" / f"{DRILL_ID}-review.md").read_text()
    assert "| **Category** | exercise |" in review
    for minutes, words in ((20, "Failover to the second site started"), (40, "Drill over: failover worked")):
        moment = suite_clock.NOW + timedelta(minutes=minutes)
        line = next(x for x in review.splitlines() if words in x)
        assert f"{moment:%d %b %Y %H%M}Z" in line
    assert f"to leadership: [EXERCISE] [SEV 2][Investigating] {DRILL_ID}: DR drill - mail failover" in review


def test_a_drills_teams_cards_say_exercise(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Teams cards of a drill (its outage message, its reminder) carry the [EXERCISE] subject as their title."""
    from tests.test_teams import webhook

    config = tmp_path / "tracker.toml"
    config.write_text(
        config.read_text() + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\naudiences = ["technical"]\n'
    )
    _open_drill(run)
    with webhook(throttle_first=0) as flow:
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", flow.url)
        assert run("notify", DRILL_ID).exit_code == 0
        at(suite_clock.NOW + timedelta(minutes=55))
        run("due", "--remind")
    titles = [c["body"][0]["text"] for c in flow.cards if DRILL_ID in c["body"][0]["text"]]
    assert len(titles) == 2, titles
    assert titles[0].startswith("[EXERCISE] [SEV 2][Investigating]") and titles[1].startswith("[EXERCISE] [REMINDER]")


def test_a_drills_escalation_to_an_audience_reaches_only_its_drill_recipients(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """An escalation step that tells an audience (Sev 1 restoration at risk: audience:leadership) reaches only the
    audience's drill recipients for a drill, its subject starting [EXERCISE]."""
    result = run("open", "--drill", "--title", "Sev 1 drill", "--severity", "Sev 1", "--service", "Email")
    assert result.exit_code == 0, result.output
    assert run("ack", DRILL_ID).exit_code == 0
    at(suite_clock.NOW + timedelta(minutes=181))
    escalated = run("due", "--escalate")
    mails = [m for m in _outbox(tmp_path) if str(m["X-Tracker-Kind"]) == "escalation" and DRILL_ID in m["Subject"]]
    to_leadership = [m for m in mails if "restoration at risk" in str(m["Subject"])]
    assert len(to_leadership) == 1, escalated.output
    assert _addresses(to_leadership[0]) == {"it-leadership@example.com"}
    assert all(str(m["Subject"]).startswith("[EXERCISE] [ESCALATION]") for m in mails)

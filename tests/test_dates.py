"""The calendar as tracker sees it, on the suite's clock: IDs, due dates, the display day and the report period.

Every expectation is computed here from the moment the suite runs at (`--clock`), so CI runs this module again at
the next 1 January and on 29 February 2028 (`.ci/run`): a new year's numbering and a leap day are tried on every run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests import suite_clock
from tests.conftest import Run

pytestmark = pytest.mark.dateshift

NEW_YORK = ZoneInfo("America/New_York")


def _shown(when: datetime, fmt: str = "%d %b %Y %H%MZ") -> str:
    return when.astimezone(UTC).strftime(fmt)


def _open(run: Run, title: str, *extra: str) -> str:
    opened = run("open", "--title", title, "--severity", "Sev 2", "--service", "VPN", "--impact", "x", *extra)
    assert opened.exit_code == 0, opened.stderr
    return opened.stdout.strip()


def test_ids_take_the_year_of_the_moment_in_utc_and_start_again_each_year(run: Run, at, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The example made a day before the suite's moment carries that day's year; an event opened at the suite's
    moment is numbered in its own UTC year: 0001 when the year turned in between, else the next number. A display
    timezone where it is still the old year changes nothing."""
    yesterday = suite_clock.ago(days=1)
    at(yesterday)
    assert run("init", "--example").exit_code == 0
    at(suite_clock.NOW)
    first = _open(run, "first")
    expected = 1 if yesterday.year != suite_clock.NOW.year else 2
    assert first == suite_clock.event_id(expected)
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace('timezone = "UTC"', 'timezone = "America/New_York"', 1))
    second = _open(run, "second")
    assert second == suite_clock.event_id(expected + 1)


def test_times_are_shown_on_their_calendar_day(run: Run, at) -> None:  # type: ignore[no-untyped-def]
    """An event detected 45 minutes before the suite's moment shows that day, month and year, and its next update
    (Sev 2: an hour after it was reported) the day it falls on, across midnight, a month's end or a leap day."""
    at(suite_clock.NOW)
    assert run("init", "--example").exit_code == 0
    detected = suite_clock.ago(minutes=45)
    event = _open(run, "VPN down", "--detected", _shown(detected, "%Y-%m-%d %H:%MZ"))
    shown = run("show", event)
    assert shown.exit_code == 0, shown.stderr
    assert f"Detected                  {_shown(detected)}" in shown.stdout
    assert f"Next Update Due           {_shown(suite_clock.NOW + timedelta(hours=1))}" in shown.stdout
    data = json.loads(run("show", event, "--json").stdout)["event"]
    assert data["detected_at"] == detected.strftime("%Y-%m-%dT%H:%M:00Z")


@pytest.mark.parametrize(("typed", "days"), [("tomorrow", 1), ("+1d", 1), ("+2w", 14), ("+366d", 366)])
def test_an_action_due_date_counts_calendar_days(run: Run, at, event_id: str, typed: str, days: int) -> None:  # type: ignore[no-untyped-def]
    """`action add --due tomorrow` (or +1d, +2w, +366d) is that many calendar days after today, whatever month
    or year that lands in (29 February included), and the action is not overdue."""
    at(suite_clock.NOW)
    assert run("init", "--example").exit_code == 0
    added = run("action", "add", event_id, "--action", "Check", "--owner", "Ravi Menon", "--due", typed)
    assert added.exit_code == 0, added.stderr
    due = (suite_clock.NOW + timedelta(days=days)).date()
    assert added.stdout.strip().startswith(f"{suite_clock.action_id(1)}: added to {event_id}")
    assert added.stdout.strip().endswith(f"due {due:%d %b %Y}")
    (listed,) = json.loads(run("action", "list", "--json").stdout)
    assert listed["due_date"] == due.isoformat() and listed["id"] == suite_clock.action_id(1)
    assert "OVERDUE" not in run("action", "list").stdout


def test_the_report_of_the_last_30_days_spans_the_turn_of_a_month_or_year(run: Run, at) -> None:  # type: ignore[no-untyped-def]
    """Events detected 40 days, 20 days and an hour before the suite's moment: the default report (30 days) counts
    the last two and the example, and `--by month` puts each in the month it was detected in."""
    at(suite_clock.NOW)
    assert run("init", "--example").exit_code == 0
    for days, title in ((40, "older"), (20, "recent")):
        detected = suite_clock.ago(days=days)
        _open(run, title, "--detected", _shown(detected, "%Y-%m-%d %H:%MZ"))
    _open(run, "today", "--detected", "-1h")
    report = run("report", "--json")
    assert report.exit_code == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["totals"]["events"] == 3, data["totals"]
    by_month = json.loads(run("report", "--by", "month", "--json", "--since", "-45d").stdout)
    months = {
        suite_clock.ago(days=40).strftime("%Y-%m"),
        suite_clock.ago(days=20).strftime("%Y-%m"),
        suite_clock.ago(hours=1).strftime("%Y-%m"),
    }
    assert {group["key"] for group in by_month["groups"]} == months, by_month["groups"]


def test_a_pinned_clock_stays_until_unpinned_and_tracker_now_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clock.pin starts the rehearsal clock in this process (sleep moves it, reset goes back to the pin);
    TRACKER_NOW, when set, wins; pin(None) is the machine's clock again; a naive time is refused."""
    from tracker.times import Clock

    clock = Clock()
    moment = suite_clock.ago(days=400)
    clock.pin(moment)
    assert clock.now() == moment and clock.simulated
    clock.sleep(90)
    assert clock.now() == moment + timedelta(seconds=90)
    clock.reset()
    assert clock.now() == moment
    monkeypatch.setenv("TRACKER_NOW", "2030-06-01T12:00Z")
    clock.reset()
    assert clock.now() == datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    monkeypatch.delenv("TRACKER_NOW")
    clock.pin(None)
    assert not clock.simulated and abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(ValueError, match="aware"):
        clock.pin(moment.replace(tzinfo=None))


def test_waits_for_others_are_real_time_even_on_a_pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clock.wait (a server's Retry-After, a backoff) sleeps for real by default, pinned or not, and leaves the
    rehearsal clock where it was; a pinned clock alone still refuses real sends unless TRACKER_REHEARSAL_SEND=yes."""
    import time

    from tracker.errors import UsageError
    from tracker.times import Clock

    clock = Clock()
    assert clock.waiter is time.sleep
    asked: list[float] = []
    clock.waiter = asked.append
    clock.pin(suite_clock.NOW)
    clock.wait(2.5)
    clock.wait(-1)
    assert asked == [2.5, 0.0] and clock.now() == suite_clock.NOW
    monkeypatch.delenv("TRACKER_REHEARSAL_SEND")
    with pytest.raises(UsageError, match=r"\(a pinned clock\): tracker sends no mail through smtp while rehearsing"):
        clock.check_real_sends("mail through smtp")

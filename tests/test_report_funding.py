"""The report's figures that fund a team (issue 22, point 8): the share of updates sent on time per severity and per
communication lead, and events by hour of day, weekday and out of hours, checked against a week whose every time is
chosen here and whose figures are worked out by hand below."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import suite_clock
from tests.conftest import Run


def _monday() -> datetime:
    """A Monday 00:00 UTC a week or so after the suite's moment: after the example's own events."""
    later = suite_clock.NOW + timedelta(days=7)
    return (later - timedelta(days=later.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def _ok(result) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.stdout + result.stderr


def _open(run: Run, at, when: datetime, title: str, severity: str, lead: str) -> str:  # type: ignore[no-untyped-def]
    at(when)
    opened = run(
        "open", "--title", title, "--severity", severity, "--service", "Email", "--site", "HQ", "--users", "10",
        "--impact", "No mail", "--set", f"communication_lead={lead}",
    )  # fmt: skip
    _ok(opened)
    return opened.stdout.split()[0].rstrip(":")


def _notify(run: Run, at, when: datetime, event: str) -> None:  # type: ignore[no-untyped-def]
    at(when)
    _ok(run("notify", event))


@pytest.fixture
def week(run: Run, example: Path, at) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Three events in one week (UTC; the example's Roster has duty event managers Mon 07:00 to Sat 07:00):

    A, Sev 1 (Update Every 30 min), communication lead Priya Shah, detected Monday 10:00 (in hours):
      notified 10:05, promising 10:30 (opened 10:00 + 30); updated 10:20, notified 10:25: on time, promising
      10:50 (10:20 + 30); updated 11:00, notified 11:02: late (after 10:50), promising 11:30; resolved 11:20,
      notified 11:25: on time. 2 on time, 1 late.
    B, Sev 2 (60 min), Sam Rivera, detected Saturday 12:00 (out of hours): notified 12:10, promising 13:00;
      nothing sent since, the report made at 14:00: late. 0 on time, 1 late.
    C, Sev 2, Priya Shah, detected Saturday 13:30 (out of hours): notified 13:31, promising 14:30: pending at
      14:00, in no share.
    """
    monday = _monday()
    saturday = monday + timedelta(days=5)
    a = _open(run, at, monday + timedelta(hours=10), "Mail down", "Sev 1", "Priya Shah")
    _notify(run, at, monday + timedelta(hours=10, minutes=5), a)
    at(monday + timedelta(hours=10, minutes=20))
    _ok(run("update", a, "--note", "Gateway restarting"))
    _notify(run, at, monday + timedelta(hours=10, minutes=25), a)
    at(monday + timedelta(hours=11))
    _ok(run("update", a, "--note", "Gateway back, queues draining"))
    _notify(run, at, monday + timedelta(hours=11, minutes=2), a)
    at(monday + timedelta(hours=11, minutes=20))
    _ok(run("resolve", a, "--note", "Mail flowing"))
    _notify(run, at, monday + timedelta(hours=11, minutes=25), a)
    b = _open(run, at, saturday + timedelta(hours=12), "VPN down", "Sev 2", "Sam Rivera")
    _notify(run, at, saturday + timedelta(hours=12, minutes=10), b)
    c = _open(run, at, saturday + timedelta(hours=13, minutes=30), "Wiki slow", "Sev 2", "Priya Shah")
    _notify(run, at, saturday + timedelta(hours=13, minutes=31), c)
    at(saturday + timedelta(hours=14))
    return {
        "a": a,
        "b": b,
        "c": c,
        "since": f"{monday:%Y-%m-%dT%H:%MZ}",
        "until": f"{saturday + timedelta(days=2):%Y-%m-%dT%H:%MZ}",
    }


def _report(run: Run, week: dict[str, str], *more: str):  # type: ignore[no-untyped-def]
    result = run("report", "--since", week["since"], "--until", week["until"], *more)
    _ok(result)
    return result


def test_on_time_share_and_out_of_hours_match_the_hand_computed_week(run: Run, week: dict[str, str]) -> None:
    """`report --json`: per severity Sev 1 2 on time, 1 late (66.67%), Sev 2 0 on time, 1 late, 1 pending (0%); per
    communication lead Priya Shah 2/1/1, Sam Rivera 0/1/0; totals 2 on time, 2 late (50%); events by hour (10, 12,
    13) and weekday (Mon 1, Sat 2); out of hours B and C, 2 of 3, by the Roster."""
    data = json.loads(_report(run, week, "--json").stdout)
    figures = ("key", "updates_on_time", "updates_late", "updates_pending", "updates_share_on_time")
    by_severity = [tuple(e[k] for k in figures) for e in data["updates_on_time"]["by_severity"]]
    assert by_severity == [("Sev 1", 2, 1, 0, 0.6667), ("Sev 2", 0, 1, 1, 0.0)]
    by_lead = [tuple(e[k] for k in figures) for e in data["updates_on_time"]["by_communication_lead"]]
    assert by_lead == [("Priya Shah", 2, 1, 1, 0.6667), ("Sam Rivera", 0, 1, 0, 0.0)]
    totals = data["totals"]
    assert (totals["updates_on_time"], totals["updates_late"], totals["updates_share_on_time"]) == (2, 2, 0.5)
    assert totals["out_of_hours"] == 2
    when = data["when"]
    assert {h["hour"]: h["events"] for h in when["by_hour"] if h["events"]} == {10: 1, 12: 1, 13: 1}
    assert len(when["by_hour"]) == 24
    assert [d["events"] for d in when["by_weekday"]] == [1, 0, 0, 0, 0, 2, 0]
    assert when["out_of_hours"] == {
        "basis": "roster",
        "events": 2,
        "share": 0.6667,
        "event_ids": [week["b"], week["c"]],
    }
    groups = {g["key"]: (g["updates_on_time"], g["updates_late"], g["out_of_hours"]) for g in data["groups"]}
    assert groups == {"Sev 1": (2, 1, 0), "Sev 2": (0, 1, 2)}
    weekend = dict(week, since=f"{_monday() + timedelta(days=5):%Y-%m-%dT%H:%MZ}")  # no duty shift that day
    outside = json.loads(_report(run, weekend, "--json").stdout)["when"]["out_of_hours"]
    assert (outside["basis"], outside["events"], outside["share"]) == ("roster", 2, 1.0)


def test_the_text_csv_and_html_reports_say_the_same(run: Run, week: dict[str, str], tmp_path: Path) -> None:
    """The text report's tables, the CSV's new columns (per group, and `--by communication_lead`, `--by weekday`)
    and the HTML page carry the same figures."""
    text = _report(run, week).stdout
    assert "UPDATES ON TIME  ON TIME  LATE  PENDING  SHARE\nSev 1            2        1     0        67%\n" in text
    assert "Sev 2            0        1     1        0%\n" in text
    assert (
        "COMMUNICATION LEAD  ON TIME  LATE  PENDING  SHARE\nPriya Shah          2        1     1        67%\n" in text
    )
    assert "WEEKDAY  MON  TUE  WED  THU  FRI  SAT  SUN\nEVENTS   1    0    0    0    0    2    0\n" in text
    assert text.rstrip().endswith("Out of hours: 2 of 3 events (67%), outside the Roster's duty event manager shifts")
    rows = list(csv.DictReader(io.StringIO(_report(run, week, "--csv").stdout)))
    columns = ("key", "updates_on_time", "updates_late", "updates_share_on_time", "out_of_hours")
    assert [tuple(r[c] for c in columns) for r in rows] == [
        ("Sev 1", "2", "1", "0.6667", "0"),
        ("Sev 2", "0", "1", "0.0", "2"),
    ]
    leads = list(csv.DictReader(io.StringIO(_report(run, week, "--csv", "--by", "communication_lead").stdout)))
    assert [tuple(r[c] for c in columns) for r in leads] == [
        ("Priya Shah", "2", "1", "0.6667", "1"),
        ("Sam Rivera", "0", "1", "0.0", "1"),
    ]
    days = list(csv.DictReader(io.StringIO(_report(run, week, "--csv", "--by", "weekday").stdout)))
    assert [(r["key"], r["events"], r["out_of_hours"]) for r in days] == [("Mon", "1", "0"), ("Sat", "2", "2")]
    _report(run, week, "--html", "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Updates sent on time, per severity" in page and "Updates sent on time, per communication lead" in page
    assert "Out of hours: 2 of 3 events (67%), outside the Roster&#39;s duty event manager shifts" in page


def test_without_duty_shifts_out_of_hours_follows_the_clock_setting(
    run: Run, week: dict[str, str], example: Path, tmp_path: Path
) -> None:
    """A Roster without a duty event manager: out of hours is outside [clock] office_hours (Mon-Fri 09:00-10:30
    here: A at Monday 10:00 is in, B and C are out; then 10:30-18:00: A is out too); without the setting it is
    unknown (null, said in the text); a malformed setting is refused in one line (exit 2)."""
    book = openpyxl.load_workbook(example)
    roster = book["Roster"]
    role = [c.value for c in roster[1]].index("Role") + 1
    for row in range(2, roster.max_row + 1):
        if roster.cell(row, role).value == "duty event manager":
            roster.cell(row, role).value = "night cover"
    book.save(example)
    unknown = json.loads(_report(run, week, "--json").stdout)["when"]["out_of_hours"]
    assert unknown == {"basis": None, "events": None, "share": None, "event_ids": []}
    assert "Out of hours: unknown (no duty event manager on the Roster" in _report(run, week).stdout
    config = tmp_path / "tracker.toml"
    plain = config.read_text()
    config.write_text(plain + '\n[clock]\noffice_hours = "Mon-Fri 09:00-10:30"\n')
    inside = json.loads(_report(run, week, "--json").stdout)["when"]["out_of_hours"]
    assert (inside["basis"], inside["events"], inside["event_ids"]) == ("clock", 2, [week["b"], week["c"]])
    config.write_text(plain + '\n[clock]\noffice_hours = "Mon-Fri 10:30-18:00"\n')
    assert json.loads(_report(run, week, "--json").stdout)["when"]["out_of_hours"]["events"] == 3
    config.write_text(plain + '\n[clock]\noffice_hours = "weekdays 9 to 5"\n')
    refused = run("report")
    assert (
        refused.exit_code == 2 and "[clock] office_hours 'weekdays 9 to 5' is not weekdays and hours" in refused.stderr
    )


def test_the_customer_report_withholds_the_update_figures(run: Run, week: dict[str, str]) -> None:
    """An external audience may not read the Notifications log or who leads communication: its report has no
    on-time figures (null, empty lists) and `--by communication_lead` is refused; the hours are still given."""
    data = json.loads(_report(run, week, "--json", "--audience", "customer").stdout)
    assert data["updates_on_time"] == {"by_severity": [], "by_communication_lead": []}
    assert data["totals"]["updates_share_on_time"] is None and "updates_on_time" in data["withheld"]
    assert sum(h["events"] for h in data["when"]["by_hour"]) == data["totals"]["events"]
    refused = run("report", "--by", "communication_lead", "--audience", "customer")
    assert refused.exit_code == 2 and "--by communication_lead" in refused.stderr


_MOMENT = st.integers(0, 40).map(lambda m: datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=m))  # small: ties


@given(st.lists(_MOMENT, max_size=12), _MOMENT)
def test_the_latest_update_before_a_send_is_the_one_a_scan_finds(updates: list[datetime], sent: datetime) -> None:
    """`latest` (a bisection) finds the update a scan of every update at or before the send finds."""
    from tracker.window.report_funding import latest

    times = sorted(updates)
    before = [u for u in times if u <= sent]
    assert latest(times, sent) == (before[-1] if before else None)

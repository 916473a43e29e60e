"""`tracker report` (issue 11, point 2): figures checked against a workbook whose numbers were worked out by hand,
the HTML report in a real browser, and the report emailed to an audience."""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import io
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests import suite_clock
from tests.conftest import BuiltOnce, Run

NOV = ("--since", "2026-11-01", "--until", "2026-12-01")
REPORT_AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # when the report is made: EVT-<year>-0006 still open then


def evt(number: int) -> str:
    """The ID of the number-th event opened in REPORT_AT's year (this module's pinned rehearsal clock)."""
    return suite_clock.event_id(number, when=REPORT_AT)


INTERNAL_NOTE = "Vendor engineer rotated the gateway admin credentials"
VENDOR_CASE = "2611210040001234"  # the example event's vendor case number


def _ok(result: Any) -> str:
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def _clear(book: Path, sheet: str, key_header: str, key: str, header: str) -> None:
    """Empty one cell, found by headers, as someone editing the workbook in Excel would."""
    wb = openpyxl.load_workbook(book)
    ws = wb[sheet]
    headers = {c.value: c.column for c in ws[1]}
    for row in range(2, ws.max_row + 1):
        if ws.cell(row, headers[key_header]).value == key:
            ws.cell(row, headers[header]).value = None
    wb.save(book)


@pytest.fixture
def book(run: Run, tmp_path: Path, at: Any, built_once: BuiltOnce) -> Path:
    """The hand-computed workbook (see `_build_book`), built once per session; the clock at REPORT_AT."""
    built_once("report-book", lambda: _build_book(run, tmp_path, at))
    at(REPORT_AT)
    return tmp_path / "events.xlsx"


def _build_book(run: Run, tmp_path: Path, at: Any) -> None:
    """The hand-computed workbook. Severities (example): Sev 1 first response 10 min / restoration 240 min, Sev 2
    30 / 480, Sev 3 60 / 1440; Sev 4's targets are cleared (a severity without targets).

    0001 Sev 1 Email, 4,200 users (the example event): detected 11-02 08:08, reported 08:12, acknowledged 08:15,
         resolved 10:08; an internal update planted; vendor case 2611210040001234.
    0002 Sev 3 Wi-Fi: detected 10-28 10:00, resolved 10-28 12:00 (October: outside November).
    0003 Sev 1 VPN, 300 users: detected 11-05 09:50, reported 10:00, resolved 14:00, never acknowledged.
    0004 Sev 2 ERP, 1,000 users: detected 11-10 09:00, acknowledged 09:20, resolved 11:00, reopened 13:00,
         resolved again 14:30.
    0005 Sev 4 Wi-Fi, users unknown: detected 11-15 10:00, acknowledged 10:30, resolved 16:00.
    0006 Sev 3 VPN, 50 users: detected 11-25 08:00, acknowledged 08:05, still open.
    0007 Sev 2 Email and Active Directory, 2,000 users: detected 11-30 22:00, acknowledged 22:40, resolved 12-01
         02:00 (spans two months).
    """

    def when(text: str) -> None:
        at(datetime.fromisoformat(text + "+00:00"))

    when("2026-11-02T09:00")
    _ok(run("init", "--example"))
    when("2026-11-02T09:05")
    _ok(
        run(
            "open", "--title", "Wi-Fi drops in Building 4", "--severity", "Sev 3", "--service", "Wi-Fi",
            "--detected", "2026-10-28 10:00",
        )
    )  # fmt: skip
    when("2026-11-02T09:10")
    _ok(run("resolve", evt(2), "--note", "Access point replaced", "--at", "2026-10-28 12:00"))
    when("2026-11-02T09:30")
    _ok(run("update", evt(1), "--note", INTERNAL_NOTE, "--internal"))
    when("2026-11-02T10:08")
    _ok(
        run(
            "resolve", evt(1), "--note", "Renewed certificate installed; mail flows again",
            "--cause", "Expired TLS certificate on mail-gw-01", "--public-cause", "An expired security certificate",
        )
    )  # fmt: skip
    when("2026-11-05T10:00")
    _ok(
        run(
            "open", "--title", "VPN down at Plant 2", "--severity", "Sev 1", "--service", "VPN",
            "--detected", "2026-11-05 09:50", "--users", "300",
        )
    )  # fmt: skip
    when("2026-11-05T14:00")
    _ok(run("resolve", evt(3), "--note", "Tunnel re-keyed"))
    when("2026-11-10T09:00")
    _ok(run("open", "--title", "ERP slow", "--severity", "Sev 2", "--service", "ERP", "--users", "1000"))
    when("2026-11-10T09:20")
    _ok(run("ack", evt(4)))
    when("2026-11-10T11:00")
    _ok(run("resolve", evt(4), "--note", "Index rebuilt"))
    when("2026-11-10T13:00")
    _ok(run("update", evt(4), "--note", "Slow again", "--status", "Investigating", "--reopen"))
    when("2026-11-10T14:30")
    _ok(run("resolve", evt(4), "--note", "Database failed over"))
    when("2026-11-15T10:00")
    _ok(run("open", "--title", "Guest Wi-Fi down", "--severity", "Sev 4", "--service", "Wi-Fi"))
    when("2026-11-15T10:30")
    _ok(run("ack", evt(5)))
    when("2026-11-15T16:00")
    _ok(run("resolve", evt(5), "--note", "Controller restarted"))
    when("2026-11-25T08:00")
    _ok(run("open", "--title", "VPN slow for remote staff", "--severity", "Sev 3", "--service", "VPN", "--users", "50"))
    when("2026-11-25T08:05")
    _ok(run("ack", evt(6)))
    when("2026-11-30T22:00")
    _ok(
        run(
            "open", "--title", "Sign-in and email failing", "--severity", "Sev 2",
            "--service", "Email", "--service", "Active Directory", "--users", "2000",
        )
    )  # fmt: skip
    when("2026-11-30T22:40")
    _ok(run("ack", evt(7)))
    when("2026-12-01T02:00")
    _ok(run("resolve", evt(7), "--note", "Domain controller restored"))
    workbook = tmp_path / "events.xlsx"
    _clear(workbook, "Events", "ID", evt(3), "Acknowledged (UTC)")  # resolve filled it in; never acked
    for header in ("First Response (min)", "Restoration (min)"):
        _clear(workbook, "Severities", "Name", "Sev 4", header)


def _report(run: Run, *args: str) -> dict[str, Any]:
    return json.loads(_ok(run("report", *args, "--json")))  # type: ignore[no-any-return]


def test_november_figures_are_the_hand_computed_ones(run: Run, book: Path) -> None:
    """report --json for November equals the figures worked out by hand (the arithmetic is in the comments)."""
    data = _report(run, *NOV)
    assert data["period"] == {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z", "events": "detected"}
    assert data["withheld"] == [] and data["skipped"] == [] and data["audience"] is None
    assert data["totals"] == {
        "key": None,
        "label": None,
        "events": 6,  # 0001, 0003-0007 detected in November; 0002 (October) is not
        "open": 1,  # 0006
        "resolved": 5,
        "reopened": 1,  # 0004
        "not_acknowledged": 1,  # 0003
        # acknowledged (reported -> acknowledged): 3 (0001: 08:12->08:15), 20, 30, 5, 40 -> 98 / 5 = 19.6; median 20
        "time_to_acknowledge_mean_minutes": 19.6,
        "time_to_acknowledge_median_minutes": 20,
        # restored (detected -> final resolution): 120, 250 (09:50->14:00), 330 (09:00->14:30, reopened), 360, 240
        # -> 1300 / 5 = 260; sorted 120 240 250 330 360 -> median 250; the open 0006 is not in it
        "time_to_restore_mean_minutes": 260,
        "time_to_restore_median_minutes": 250,
        # outage: 120 + 250 + 210 (0004: 120 to the first resolution + 90 after the reopening) + 360 + 240
        # + 10320 (0006 open: 11-25 08:00 -> report time 12-02 12:00 = 7 d 4 h) = 11500
        "outage_minutes": 11500,
        # users x outage: 4200x120 = 504000, 300x250 = 75000, 1000x210 = 210000, 0005 unknown, 50x10320 = 516000,
        # 2000x240 = 480000 -> 1785000
        "user_minutes": 1785000,
        # first response: met 0001 (3 <= 10), 0004 (20 <= 30), 0006 (5 <= 60); breached 0003 (never acknowledged:
        # stopped at its resolution, 10:00 -> 14:00 = 240 > 10, as `tracker show` says), 0007 (40 > 30); 0005 none
        "first_response_met": 3,
        "first_response_breached": 2,
        "first_response_share_met": 0.6,
        # restoration: met 0001 (120 <= 240), 0004 (330 <= 480), 0007 (240 <= 480); breached 0003 (250 > 240),
        # 0006 (open, 10320 > 1440 already); 0005 none
        "restoration_met": 3,
        "restoration_breached": 2,
        "restoration_share_met": 0.6,
        # no outage email was sent in this book: no promise of a next update (tests/test_report_funding.py)
        "updates_on_time": 0,
        "updates_late": 0,
        "updates_pending": 0,
        "updates_share_on_time": None,
        # the Roster's duty event managers cover Monday 07:00 to Saturday 07:00: only 0005 (Sunday 10:00) is outside
        "out_of_hours": 1,
    }
    sla = {s["severity"]: s for s in data["sla"]}
    assert list(sla) == ["Sev 1", "Sev 2", "Sev 3", "Sev 4"]
    assert sla["Sev 1"]["first_response"] == {
        "target_minutes": 10, "met": 1, "breached": 1, "pending": 0, "no_target": 0, "unknown": 0,
        "share_met": 0.5,
    }  # fmt: skip
    assert sla["Sev 2"]["restoration"] == {
        "target_minutes": 480, "met": 2, "breached": 0, "pending": 0, "no_target": 0, "unknown": 0,
        "share_met": 1.0,
    }  # fmt: skip
    assert sla["Sev 3"]["restoration"]["breached"] == 1 and sla["Sev 3"]["first_response"]["share_met"] == 1.0
    assert sla["Sev 4"]["first_response"] == {
        "target_minutes": None, "met": 0, "breached": 0, "pending": 0, "no_target": 1, "unknown": 0,
        "share_met": None,
    }  # fmt: skip
    groups = {g["key"]: g for g in data["groups"]}
    assert [g["key"] for g in data["groups"]] == ["Sev 1", "Sev 2", "Sev 3", "Sev 4"]
    # Sev 1: restore 120 and 250 -> mean and median 185; acknowledged only 0001 (3); outage 370; 504000 + 75000
    assert (groups["Sev 1"]["time_to_restore_mean_minutes"], groups["Sev 1"]["time_to_acknowledge_mean_minutes"]) == (
        185,
        3,
    )
    assert (groups["Sev 1"]["outage_minutes"], groups["Sev 1"]["user_minutes"]) == (370, 579000)
    # Sev 2: acknowledge 20 and 40 -> 30; restore 330 and 240 -> 285; outage 210 + 240 = 450
    assert groups["Sev 2"]["time_to_acknowledge_median_minutes"] == 30
    assert (groups["Sev 2"]["time_to_restore_median_minutes"], groups["Sev 2"]["outage_minutes"]) == (285, 450)
    # Sev 3: only the open 0006: no time to restore; Sev 4: users unknown -> user-minutes null
    assert groups["Sev 3"]["time_to_restore_mean_minutes"] is None and groups["Sev 3"]["open"] == 1
    assert groups["Sev 4"]["user_minutes"] is None and groups["Sev 4"]["outage_minutes"] == 360
    assert data["services"] == [
        # VPN: 0003 250 + 0006 10320; Email: 0001 120 + 0007 240; 0007 counts for Active Directory too
        {"service": "VPN", "events": 2, "open": 1, "outage_minutes": 10570, "user_minutes": 591000},
        {"service": "Email", "events": 2, "open": 0, "outage_minutes": 360, "user_minutes": 984000},
        {"service": "Wi-Fi", "events": 1, "open": 0, "outage_minutes": 360, "user_minutes": None},
        {"service": "Active Directory", "events": 1, "open": 0, "outage_minutes": 240, "user_minutes": 480000},
        {"service": "ERP", "events": 1, "open": 0, "outage_minutes": 210, "user_minutes": 210000},
    ]
    longest = [(e["id"], e["time_to_restore_minutes"]) for e in data["worst"]["longest_restoration"]]
    assert longest == [
        (evt(5), 360),
        (evt(4), 330),
        (evt(3), 250),
        (evt(7), 240),
        (evt(1), 120),
    ]
    assert [e["id"] for e in data["worst"]["most_users"]][:3] == [evt(1), evt(7), evt(4)]
    reopened = next(e for e in data["worst"]["longest_restoration"] if e["id"] == evt(4))
    assert (reopened["reopened"], reopened["outage_minutes"]) == (1, 210)
    assert [(e["id"], e["resolved_at"], e["outage_minutes"]) for e in data["open"]] == [(evt(6), None, 10320)]


def test_by_month_counts_an_event_whole_in_the_month_it_was_detected(run: Run, book: Path) -> None:
    """0002 is October's; 0007 (30 Nov 22:00 to 1 Dec 02:00) counts whole in November, nothing in December."""
    data = _report(run, "--since", "2026-10-01", "--until", "2027-01-01", "--by", "month")
    months = {g["key"]: g for g in data["groups"]}
    assert list(months) == ["2026-10", "2026-11"]
    assert (months["2026-10"]["events"], months["2026-10"]["time_to_restore_mean_minutes"]) == (1, 120)
    assert (months["2026-11"]["events"], months["2026-11"]["outage_minutes"]) == (6, 11500)
    december = _report(run, "--since", "2026-12-01", "--until", "2027-01-01")
    assert december["totals"]["events"] == 0 and december["totals"]["time_to_restore_mean_minutes"] is None


def test_by_service_counts_an_event_for_each_of_its_services(run: Run, book: Path) -> None:
    """0007 affects Email and Active Directory: it is one of Email's two events and Active Directory's one; the CSV
    has a header and one row per group, empty where unknown."""
    data = _report(run, *NOV, "--by", "service")
    groups = {g["key"]: g for g in data["groups"]}
    assert groups["Email"]["events"] == 2 and groups["Active Directory"]["events"] == 1
    assert sum(g["events"] for g in data["groups"]) == 7  # six events, one of them counted twice
    rows = list(csv.DictReader(io.StringIO(_ok(run("report", *NOV, "--by", "service", "--csv")))))
    assert [r["key"] for r in rows] == ["Active Directory", "Email", "ERP", "VPN", "Wi-Fi"]
    assert rows[4]["user_minutes"] == "" and rows[3]["outage_minutes"] == "10570"


def test_the_text_report_is_a_readable_table(run: Run, book: Path) -> None:
    """The default output: the period's line, the medians per severity, SLA, services, worst and open events."""
    out = _ok(run("report", *NOV))
    assert out.splitlines()[0] == (
        "Events detected 01 Nov 2026 0000Z to 01 Dec 2026 0000Z: 6 (1 open, 1 reopened, 1 never acknowledged)"
    )
    assert "Time to acknowledge: mean 19.6 min, median 20 min" in out
    assert "Time to restore:     mean 4 h 20 min, median 4 h 10 min (5 resolved)" in out
    assert "Sev 1  1 met, 1 breached (50%)   1 met, 1 breached (50%)" in out
    assert "Sev 3  1 met, 0 breached (100%)  0 met, 1 breached (0%)" in out
    assert "Sev 4  1 no target               1 no target" in out
    assert f"{evt(6)}  Sev 3  7 d 4 h" in out


def test_the_customer_gets_only_what_the_schema_lets_it_read(run: Run, book: Path) -> None:
    """For the customer (external): no acknowledgement times, SLA targets, users or root cause; the public cause."""
    data = _report(run, *NOV, "--audience", "customer")
    assert data["withheld"] == [
        "category",
        "communication_lead",
        "first_response",
        "restoration",
        "time_to_acknowledge",
        "updates_on_time",
        "user_minutes",
    ]
    assert data["totals"]["time_to_restore_median_minutes"] == 245 and data["totals"]["user_minutes"] is None
    assert data["sla"][0]["first_response"] is None and data["worst"]["most_users"] == []
    email_event = next(e for e in data["worst"]["longest_restoration"] if e["id"] == evt(1))
    assert email_event["cause"] == "An expired security certificate" and email_event["users_affected"] is None
    leadership = _report(run, *NOV, "--audience", "leadership")
    assert leadership["withheld"] == [] and leadership["totals"]["user_minutes"] == 1785000
    refused = run("report", *NOV, "--audience", "customer", "--by", "category")
    assert refused.exit_code == 2 and "--by category: the customer audience may not read" in refused.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "2026-12-01", "--until", "2026-11-01"), "is not before --until"),
        (("--since", "last week"), "--since: 'last week' is not a time I understand"),
        (
            ("--audience", "board"),
            "audience 'board' is not on the Distribution sheet; use one of: customer, leadership",
        ),
        (("--json", "--csv"), "--json and --csv each print the report; choose one"),
    ],
)
def test_bad_options_get_one_line(run: Run, book: Path, args: tuple[str, ...], message: str) -> None:
    """A bad period, an unknown audience or two outputs at once: exit 2 and one line naming it."""
    result = run("report", *args)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 2
    assert "Traceback" not in result.stderr


def test_a_bad_detected_cell_is_left_out_and_named(run: Run, book: Path) -> None:
    """An event whose Detected cell is not a time is left out, with a warning naming the cell; the rest counts."""
    wb = openpyxl.load_workbook(book)
    ws = wb["Events"]
    headers = {c.value: c.column for c in ws[1]}
    ws.cell(3, headers["Detected (UTC)"]).value = "last tuesday"
    wb.save(book)
    result = run("report", *NOV, "--json")
    assert result.exit_code == 0
    assert f"warning: {evt(2)} left out: Events!" in result.stderr and "'last tuesday'" in result.stderr
    assert json.loads(result.stdout)["totals"]["events"] == 6


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5000),  # detected, minutes after the start
            st.one_of(st.none(), st.integers(0, 600)),  # acknowledged after
            st.one_of(st.none(), st.integers(0, 5000)),  # resolved after
            st.sampled_from(["Sev 1", "Sev 2", "Sev 9"]),
        ),
        max_size=25,
    )
)
def test_invariants_hold_for_any_events(events: list[tuple[int, int | None, int | None, str]]) -> None:
    """met + breached + pending + no_target + unknown is the count per timer; each median lies between min and max."""
    from tracker.window.event_facts import Period
    from tracker.window.report import Report
    from tracker.workbook.reading import Tracker
    from tracker.workbook.schema import load_schema

    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows: dict[str, list[dict[str, Any]]] = {
        "Severities": [
            {"name": "Sev 1", "update_interval_minutes": 30, "first_response_minutes": 10, "restoration_minutes": 240},
            {"name": "Sev 2", "update_interval_minutes": 60, "first_response_minutes": 30},
        ],
        "Events": [],
        "Updates": [],
    }
    for n, (detected, ack, resolved, severity) in enumerate(events, 1):
        d = start + timedelta(minutes=detected)
        rows["Events"].append(
            {
                "id": evt(n),
                "severity": severity,
                "status": "Resolved" if resolved is not None else "Investigating",
                "detected_at": d,
                "acknowledged_at": d + timedelta(minutes=ack) if ack is not None else None,
                "resolved_at": d + timedelta(minutes=resolved) if resolved is not None else None,
            }
        )
    schema = load_schema(None)

    def cells(name: str) -> list[list[Any]]:  # the sheet as a reader gives it: header row, then the rows
        fields = schema[name].fields
        return [[f.title for f in fields.values()]] + [[v.get(f) for f in fields] for v in rows[name]]

    tracker = Tracker(schema, list(rows), cells)
    report = Report(tracker, Period(start, start + timedelta(days=30)), start + timedelta(days=10))
    totals = report.totals()
    assert totals["events"] == len(events) == totals["open"] + totals["resolved"]
    for entry in report.attainment():
        for timer in ("first_response", "restoration"):
            t = entry[timer]
            assert t["met"] + t["breached"] + t["pending"] + t["no_target"] + t["unknown"] == entry["events"]
    restores = [f.restore for f in report.facts if f.restore is not None]
    if restores:
        assert min(restores) - 0.05 <= totals["time_to_restore_median_minutes"] <= max(restores) + 0.05
        assert min(restores) - 0.05 <= totals["time_to_restore_mean_minutes"] <= max(restores) + 0.05
    else:
        assert totals["time_to_restore_median_minutes"] is None


_TIME = st.one_of(
    st.none(),
    st.integers(0, 90).map(lambda m: datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=m)),  # small: ties
    st.just("yesterday"),  # a cell the workbook could not read as a time
)


_AT = datetime(2026, 11, 1, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@example(  # on the targets exactly: met (acknowledged after 10 of 10 min, restored after 30 of 30)
    _AT, _AT, _AT + timedelta(minutes=10), _AT + timedelta(minutes=30), "Resolved", 10, 30, 60
)
@example(None, _AT, None, None, "Investigating", 10, 30, 30)  # open, exactly at its restoration target: pending
@given(
    reported=_TIME,
    detected=_TIME,
    acknowledged=_TIME,
    resolved=_TIME,
    status=st.sampled_from([None, "Investigating", "Identified", "Monitoring", "Resolved", "Closed"]),
    first_response=st.one_of(st.none(), st.just(True), st.integers(-1, 60), st.just("10")),
    restoration=st.one_of(st.none(), st.integers(0, 90)),
    now_after=st.integers(0, 180),
)
def test_the_report_counts_each_sla_timer_as_clock_timers_decides_it(
    reported: Any,
    detected: Any,
    acknowledged: Any,
    resolved: Any,
    status: str | None,
    first_response: Any,
    restoration: Any,
    now_after: int,
) -> None:
    """The report's SLA results (computed without building Timer objects) are tracker.rules.clock.timers()'s for any
    event: met and breached as they are, running and at risk as pending, a timer it does not start as no target."""
    from tracker.rules.clock import timers
    from tracker.window.event_facts import sla_states, sla_targets
    from tracker.workbook.reading import Row

    event = Row(
        2,
        {
            "reported_at": reported,
            "detected_at": detected,
            "acknowledged_at": acknowledged,
            "resolved_at": resolved,
            "status": status,
        },
    )
    severity = Row(2, {"name": "Sev 1", "first_response_minutes": first_response, "restoration_minutes": restoration})
    now = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=now_after)
    decided = {
        t.name: ("pending" if t.state in ("running", "at risk") else t.state) for t in timers(event, severity, now)
    }
    expected = {name: decided.get(name, "no target") for name in ("first response", "restoration")}
    assert sla_states(event.values, sla_targets(severity), now) == expected


def _facts_one_at_a_time(tracker: Any, row: Any, now: datetime) -> tuple[Any, ...] | str:
    """One event's facts as the report read them one event at a time (the code before the column-wise reading):
    (detected, severity, open, services, acknowledge, restore, outage, users, sla, targets, restore unknown, id,
    key), or why the event is left out."""
    from tracker.rules.clock import SPANS, timer_span
    from tracker.window.event_facts import minutes, sla_states, sla_targets
    from tracker.workbook.policy import FINISHED

    values = row.values
    detected, status = values["detected_at"], values.get("status")
    still_open = str(status or "") not in FINISHED
    resolved_at = values.get("resolved_at")
    resolved = resolved_at if isinstance(resolved_at, datetime) and not still_open else None
    if not still_open and resolved is None:
        return f"{row.number}: unresolved"
    reported = values.get("reported_at")
    reported = reported if isinstance(reported, datetime) else detected
    acknowledged = values.get("acknowledged_at")
    backwards = resolved is not None and resolved < detected
    severity = str(values.get("severity") or "")
    targets = sla_targets(tracker.sheet("Severities").find(severity))
    sla = sla_states(values, targets, now)
    for timer in SPANS if backwards else ():
        span = timer_span(values, timer)
        if sla[timer] != "no target" and span is not None and span[1] == resolved:
            sla[timer] = "unknown"
    users = values.get("users_affected")
    shown = str(values.get("id") or "")
    return (
        detected,
        severity,
        still_open,
        tracker.layout("Events").spec.fields["services_affected"].split(str(values.get("services_affected") or "")),
        minutes(acknowledged - reported) if isinstance(acknowledged, datetime) else None,
        minutes(resolved - detected) if resolved is not None and not backwards else None,
        0.0 if backwards else minutes(max(resolved or now, detected) - detected),
        users if isinstance(users, int) and not isinstance(users, bool) else None,  # (TRUE is no count)
        sla,
        targets,
        backwards,
        shown,
        shown.strip().casefold(),
    )


_EVENT = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["EVT-1", " evt-2 ", "EVT-3", "", None]),
        "severity": st.sampled_from(["Sev 1", "Sev 2", "Sev 9", "", None]),
        "status": st.sampled_from([None, "Investigating", "Monitoring", "Resolved", "Closed", "odd"]),
        "category": st.sampled_from([None, "outage", "exercise"]),
        "services_affected": st.sampled_from([None, "", "VPN", "VPN, Wi-Fi", " Wi-Fi ,VPN,"]),
        "users_affected": st.one_of(st.none(), st.integers(0, 10**6), st.just(2.5), st.just("many"), st.booleans()),
        "reported_at": _TIME,
        "detected_at": _TIME,
        "acknowledged_at": _TIME,
        "resolved_at": _TIME,
    }
)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(_EVENT, max_size=12), now_after=st.integers(0, 180))
def test_the_report_reads_each_events_facts_a_column_at_a_time_as_one_event_at_a_time(
    events: list[dict[str, Any]], now_after: int
) -> None:
    """The report reads the facts of 10,000 events a column at a time: each event's are the ones reading it alone
    gives (times, SLA results, outage minutes, a backwards resolution, services, users), in sheet order, and the
    same events are left out (no Detected time; resolved without a Resolved time) or counted in no figure (drills)."""
    from tracker.window.event_facts import Period, event_facts, event_rows
    from tracker.workbook.reading import Tracker
    from tracker.workbook.schema import load_schema

    schema = load_schema(None)
    rows = {
        "Severities": [
            {"name": "Sev 1", "update_interval_minutes": 30, "first_response_minutes": 10, "restoration_minutes": 40},
            {"name": "Sev 2", "update_interval_minutes": 60, "restoration_minutes": 20},
        ],
        "Events": events,
        "Updates": [],
    }

    def cells(name: str) -> list[list[Any]]:
        fields = schema[name].fields
        return [[f.title for f in fields.values()]] + [[v.get(f) for f in fields] for v in rows[name]]

    tracker = Tracker(schema, list(rows), cells)
    now = _AT + timedelta(minutes=now_after)
    period = Period(_AT, _AT + timedelta(days=1))
    facts, skipped, _unmatched = event_facts(tracker, period, now)
    chosen, undated = event_rows(tracker, period)
    expected = {row.number: _facts_one_at_a_time(tracker, row, now) for row in chosen if row["category"] != "exercise"}
    read = {
        f.row.number: (
            f.detected, f.severity, f.open, f.services, f.acknowledge, f.restore, f.outage, f.users, f.sla,
            f.targets, bool(f.restore_problem), f.id, f.key,
        )
        for f in facts
    }  # fmt: skip
    assert read == {number: one for number, one in expected.items() if not isinstance(one, str)}
    assert [f.row.values for f in facts] == [r.values for r in chosen if r.number in read]
    assert [f.value("status") for f in facts] == [r["status"] for r in chosen if r.number in read]
    left_out = [r for r in undated if r["category"] != "exercise"]
    left_out += [r for r in chosen if isinstance(expected.get(r.number), str)]
    assert [s["event_id"] for s in skipped] == [str(r["id"]) for r in left_out]


def test_the_html_report_reads_well_in_a_browser_at_both_widths(run: Run, book: Path, tmp_path: Path) -> None:
    """Headless Chromium at 1280 and 375 px: no console errors, nothing leaves the machine, no sideways scrolling at
    375 px, charts with alt text; for leadership and the customer no internal update, and for the customer no vendor
    case number or root cause (the schema's x-audiences)."""
    from tests.browser import Browser, require_chromium

    require_chromium()
    shots = Path(os.environ["REPORT_SCREENSHOTS"]) if os.environ.get("REPORT_SCREENSHOTS") else None
    for audience in ("leadership", "customer"):
        page = tmp_path / f"{audience}.html"
        result = run("report", *NOV, "--html", str(page), "--audience", audience)
        assert result.exit_code == 0, result.stderr
        html = page.read_text(encoding="utf-8")
        first = "Major outage" if audience == "customer" else "Sev 1"  # the customer's wording of Sev 1
        assert INTERNAL_NOTE not in html and "<svg" in html and f">Events by severity: {first} 2" in html
        with Browser() as browser:
            for width in (1280, 375):
                shot = shots / f"report-{width}.png" if shots and audience == "leadership" else None
                seen = browser.open(page, width=width, screenshot=shot)
                assert seen.errors == [] and seen.blocked == [], (seen.errors, seen.blocked)
                assert not seen.overflows, seen.overflowing
                assert INTERNAL_NOTE not in seen.text
                # 0006 is a Sev 3, of which the customer is never told
                assert (evt(6) in seen.text) == (audience == "leadership")
                if audience == "customer":
                    assert VENDOR_CASE not in seen.text and "Expired TLS certificate" not in seen.text
                    assert "An expired security certificate" in seen.text and "User-minutes" not in seen.text
                else:
                    assert "Expired TLS certificate on mail-gw-01" in seen.text and "1,785,000" not in seen.text


def test_the_report_emailed_to_leadership_has_charts_inline_and_a_text_part(
    run: Run, book: Path, tmp_path: Path
) -> None:
    """--email leadership: one message to leadership's active Distribution rows, an HTML part with its CSS inline and
    each chart as a related CID image, a plain-text part with the same tables; nothing written to the workbook."""
    before = book.read_bytes()
    result = run("report", *NOV, "--email", "leadership")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("sent the report to leadership (2 recipients): Event management report: 01 Nov")
    [path] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "IT Leadership <it-leadership@example.com>" and message["X-Tracker-Kind"] == "report"
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 3 and all(f'src="cid:{p["Content-ID"].strip("<>")}"' in html for p in images)
    assert 'style="' in html and "<style" not in html.split("</head>")[1]
    assert INTERNAL_NOTE not in html and "Expired TLS certificate on mail-gw-01" in html
    assert "Time to restore:     mean 4 h 20 min, median 4 h 10 min" in text_part.get_content()
    assert book.read_bytes() == before  # a report is not an event's message: not logged on Notifications


def test_the_report_to_the_customer_leaves_out_what_it_may_not_read(run: Run, book: Path, tmp_path: Path) -> None:
    """--email customer: no vendor case, root cause, users or SLA targets in either part; Bcc kept off the headers."""
    assert run("report", *NOV, "--email", "customer").exit_code == 0
    [path] = (tmp_path / "outbox").glob("*.eml")
    raw = path.read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    for part in (html, text):
        assert VENDOR_CASE not in part and "Expired TLS certificate" not in part and "1,785,000" not in part
        assert "4,200" not in part and INTERNAL_NOTE not in part
    assert "account.manager@example.com" not in str(message["To"]) + str(message["Cc"])
    charts = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert "target" not in html, html[html.find("target") - 200 : html.find("target") + 40]
    assert len(charts) == 2  # events and time to restore; no attainment, no targets


def test_the_report_sent_through_graph_carries_its_charts_as_inline_attachments(
    run: Run, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """transport = "graph" (the workbook on the SharePoint stand-in): the one sendMail request carries each chart as
    an inline file attachment (Graph's fileAttachment: isInline, the PNG in base64) whose contentId is a cid: the HTML
    shows, so Outlook shows the charts in place; nothing goes to the outbox."""
    from tests.sharepoint_standin import StandIn
    from tests.test_store_sharepoint import PATH, TOKENS, _config

    with StandIn() as sp:
        sp.put_file(PATH, book.read_bytes())
        book.unlink()
        (tmp_path / "tracker.toml").write_text(
            _config(sp, "upload").replace('transport = "outbox"', 'transport = "graph"')
            + '\n[mail.graph]\nmailbox = "event.management@example.com"\n'
        )
        for name, value in TOKENS.items():
            monkeypatch.setenv(name, value)
        result = run("report", *NOV, "--email", "leadership")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("sent the report to leadership (2 recipients)") and sp.errors == []
    [(mailbox, body)] = sp.sent_mail
    message = body["message"]
    html = message["body"]["content"]
    shown = re.findall(r'src="cid:([^"]+)"', html)
    attachments = message["attachments"]
    assert len(shown) == 3 and sorted(a["contentId"] for a in attachments) == sorted(shown)
    for attachment in attachments:
        assert attachment["@odata.type"] == "#microsoft.graph.fileAttachment" and attachment["isInline"] is True
        assert attachment["contentType"] == "image/png" and attachment["name"].endswith(".png")
        assert base64.b64decode(attachment["contentBytes"], validate=True).startswith(b"\x89PNG\r\n\x1a\n")
    assert mailbox == "event.management@example.com" and INTERNAL_NOTE not in html
    assert not (tmp_path / "outbox").exists()


def test_graph_refuses_images_over_its_request_limit_before_sending() -> None:
    """An HTML email whose inline images, base64-encoded, take its sendMail request past Graph's 4 MB is not sent,
    with a line saying so."""
    from email.message import EmailMessage

    from tracker.errors import MailError
    from tracker.sending.mail import Outgoing, Recipient
    from tracker.sending.transports import graph_message

    message = EmailMessage()
    message.set_content("text")
    message.add_alternative('<p><img src="cid:big@tracker" alt="big"></p>', subtype="html")
    html = message.get_body(("html",))
    assert html is not None
    html.add_related(b"\x89PNG" + bytes(3_500_000), "image", "png", cid="<big@tracker>", filename="big.png")
    recipient = Recipient(email="it-leadership@example.com", name="IT Leadership", send_as="To", cell="Distribution!B2")
    outgoing = Outgoing("report", "leadership", "report", "", "Report", "text", "", [recipient], message)
    with pytest.raises(
        MailError, match=r"leadership email is 4\.5 MB as a Graph sendMail request \(3\.3 MB of images, base64-enc"
    ):
        graph_message(outgoing)


def test_email_to_an_audience_without_recipients_is_refused(run: Run, book: Path) -> None:
    """An audience with no active Distribution rows: exit 1, one line, nothing sent."""
    wb = openpyxl.load_workbook(book)
    ws = wb["Distribution"]
    headers = {c.value: c.column for c in ws[1]}
    for row in range(2, ws.max_row + 1):
        if ws.cell(row, headers["Audience"]).value == "technical":
            ws.cell(row, headers["Active"]).value = "No"
    wb.save(book)
    result = run("report", *NOV, "--email", "technical")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: audience 'technical' has no active rows on the Distribution sheet; nothing was sent"
    )


def test_report_help_has_an_example() -> None:
    """`tracker report --help` explains the period and shows examples."""
    from click.testing import CliRunner

    from tracker.cli.commands import main

    out = CliRunner().invoke(main, ["report", "--help"]).output
    assert "Example:" in out and "tracker report --email leadership" in out and "detected in it" in out
    words = " ".join(out.split())
    assert "severity notifies it (Severities sheet, Audiences Notified)" in words and "internal_audiences" in words


def test_docs_screenshots_exist() -> None:
    """The README's screenshots of the report are in docs/images."""
    root = Path(__file__).resolve().parent.parent
    for width in (1280, 375):
        assert (root / "docs" / "images" / f"report-{width}.png").stat().st_size > 10_000


PHISH = "SECURITY-PHISH finance mailbox compromise"
PHISH_IMPACT = "Attacker read CFO mailbox"
PHISH_AT = datetime(2026, 11, 21, 15, 54, tzinfo=UTC)


@pytest.fixture
def phished(run: Run, at: Any) -> str:
    """`init --example`, then a Sev 3 security event opened (Sev 3 notifies the technical team only); its ID."""
    at(PHISH_AT)
    _ok(run("init", "--example"))
    opened = _ok(
        run(
            "open", "--title", PHISH, "--severity", "Sev 3", "--category", "security", "--service", "Email",
            "--impact", PHISH_IMPACT,
        )
    )  # fmt: skip
    return opened.split()[0]


def test_the_customer_report_leaves_out_events_the_customer_is_never_told_about(
    run: Run, phished: str, tmp_path: Path
) -> None:
    """A Sev 3 security event notifies the technical team only (Severities, Audiences Notified): it is nowhere in the
    customer's report (text, JSON, HTML, email), not in a count, a service or a list; leadership, an internal audience,
    and the team (no --audience) see it."""
    text = _ok(run("report", "--audience", "customer", "--until", "+1h"))
    assert PHISH not in text and phished not in text and "Sev 3" not in text
    assert text.splitlines()[0].endswith(": 1 (1 open, 0 reopened)")
    data = _report(run, "--audience", "customer", "--until", "+1h")
    assert PHISH not in json.dumps(data) and phished not in json.dumps(data)
    assert (data["totals"]["events"], data["totals"]["open"]) == (1, 1)
    assert [g["key"] for g in data["groups"]] == ["Sev 1"] and [s["severity"] for s in data["sla"]] == ["Sev 1"]
    assert [(s["service"], s["events"]) for s in data["services"]] == [("Email", 1)]
    assert [e["id"] for e in data["open"]] == [evt(1)]
    _ok(run("report", "--audience", "customer", "--until", "+1h", "--html", "customer.html"))
    html = (tmp_path / "customer.html").read_text(encoding="utf-8")
    assert PHISH not in html and PHISH_IMPACT not in html and phished not in html and "Sev 3" not in html
    _ok(run("report", "--email", "customer", "--until", "+1h"))
    [path] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    for kind in ("html", "plain"):
        part = message.get_body((kind,)).get_content()  # type: ignore[union-attr]
        assert PHISH not in part and phished not in part
    for audience in ("leadership", None):
        seen = _report(run, "--until", "+1h", *(["--audience", audience] if audience else []))
        assert seen["totals"]["events"] == 2 and phished in [e["id"] for e in seen["open"]]


def test_the_customer_figures_count_only_the_events_it_is_told_about(run: Run, book: Path) -> None:
    """In the hand-computed November, the customer is told of the Sev 1 and Sev 2 events only (0001, 0003, 0004,
    0007): the open Sev 3 (0006) and the Sev 4 (0005) are in none of its figures."""
    data = _report(run, *NOV, "--audience", "customer")
    totals = data["totals"]
    assert (totals["events"], totals["open"], totals["resolved"], totals["reopened"]) == (4, 0, 4, 1)
    # restored: 120, 250, 330, 240 -> mean 940 / 4 = 235; median (240 + 250) / 2 = 245; outage 120+250+210+240
    assert (totals["time_to_restore_mean_minutes"], totals["time_to_restore_median_minutes"]) == (235, 245)
    assert totals["outage_minutes"] == 820
    assert [g["key"] for g in data["groups"]] == ["Sev 1", "Sev 2"]
    assert [s["service"] for s in data["services"]] == ["Email", "VPN", "Active Directory", "ERP"]
    assert [e["id"] for e in data["worst"]["longest_restoration"]] == [
        evt(4), evt(3), evt(7), evt(1),
    ]  # fmt: skip
    assert data["open"] == []


def test_the_customer_report_names_severities_in_the_customer_wording(run: Run, book: Path, tmp_path: Path) -> None:
    """The customer reads each severity as its status page and emails word it (Severities, Customer Wording: Sev 1
    'Major outage', Sev 2 'Service disruption') in the text, the HTML, the email, the charts' text and --json (its
    `label` and `severity_label`; `key` and `severity` keep the severity's name); leadership reads the names."""
    data = _report(run, *NOV, "--audience", "customer")
    assert [(g["key"], g["label"]) for g in data["groups"]] == [
        ("Sev 1", "Major outage"), ("Sev 2", "Service disruption"),
    ]  # fmt: skip
    assert [(s["severity"], s["label"]) for s in data["sla"]] == [
        ("Sev 1", "Major outage"), ("Sev 2", "Service disruption"),
    ]  # fmt: skip
    first = data["worst"]["longest_restoration"][0]
    assert (first["id"], first["severity"], first["severity_label"]) == (evt(4), "Sev 2", "Service disruption")
    text = _ok(run("report", *NOV, "--audience", "customer"))
    assert "Sev " not in text and "Major outage" in text and f"{evt(4)}  Service disruption" in text
    _ok(run("report", *NOV, "--audience", "customer", "--html", "customer.html"))
    html = (tmp_path / "customer.html").read_text(encoding="utf-8")
    assert "Sev " not in html and ">Events by severity: Major outage 2, Service disruption 2</desc>" in html
    _ok(run("report", *NOV, "--email", "customer"))
    [path] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    for kind in ("html", "plain"):
        part = message.get_body((kind,)).get_content()  # type: ignore[union-attr]
        assert "Sev " not in part and "Major outage" in part
    leadership = _report(run, *NOV, "--audience", "leadership")
    assert [g["label"] for g in leadership["groups"]] == ["Sev 1", "Sev 2", "Sev 3", "Sev 4"]
    assert leadership["worst"]["longest_restoration"][0]["severity_label"] == "Sev 4"
    rows = list(csv.DictReader(io.StringIO(_ok(run("report", *NOV, "--audience", "customer", "--csv")))))
    assert [(r["key"], r["label"]) for r in rows] == [("Sev 1", "Major outage"), ("Sev 2", "Service disruption")]


LONG_TITLE = "Mailbox" + "X" * 186 + "Outage"  # 199 characters, no space: a pasted log line or URL
_TABLES_JS = """
() => [...document.querySelectorAll('table.data')].map(t => ({
  caption: t.caption ? t.caption.textContent.trim() : '',
  width: Math.round(t.getBoundingClientRect().width),
  box: t.parentElement.clientWidth,
}))
"""


def test_a_long_unbroken_title_wraps_inside_its_table_at_both_widths(
    run: Run, example: Path, tmp_path: Path, at: Any
) -> None:
    """A 199-character title without a space (most users affected, still open) wraps inside its cell: every table
    of the HTML report fits its box at 1280 and 375 px, so no column is pushed off-screen; the title is all there."""
    from tests.browser import Browser, require_chromium

    require_chromium()
    _ok(run("open", "--title", LONG_TITLE, "--severity", "Sev 1", "--service", "VPN", "--users", "9000"))
    _ok(run("report", "--until", "+1h", "--html", "long.html"))
    with Browser() as browser:
        for width in (1280, 375):
            seen = browser.open(tmp_path / "long.html", width=width, measure=_TABLES_JS)
            tables = {t["caption"]: t for t in seen.measured}
            assert {"Most users affected", "Events of the period still open"} <= set(tables)
            wide = [t for t in seen.measured if t["width"] > t["box"] + 1]
            assert wide == [], (width, wide)
            assert not seen.overflows, seen.overflowing
            assert LONG_TITLE in seen.text.replace("\n", "")


def test_an_empty_period_says_so_and_shows_no_empty_table(run: Run, book: Path, tmp_path: Path) -> None:
    """December has no event: the text, the HTML page and the email say 'No events were detected in this period'
    and show no table headings without rows and no chart; --json keeps its shape with zero events."""
    december = ("--since", "2026-12-01", "--until", "2027-01-01")
    text = _ok(run("report", *december))
    assert text == "No events were detected in this period: 01 Dec 2026 0000Z to 01 Jan 2027 0000Z.\n"
    _ok(run("report", *december, "--html", "empty.html"))
    html = (tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "No events were detected in this period." in html
    assert "<table" not in html and "<svg" not in html and "<th" not in html
    _ok(run("report", *december, "--email", "leadership"))
    [path] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "No events were detected in this period." in body and "<th" not in body and "<img" not in body
    plain = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert plain.startswith("No events were detected in this period: 01 Dec 2026 0000Z")
    assert [p for p in message.walk() if p.get_content_type() == "image/png"] == []
    data = _report(run, *december)
    assert data["totals"]["events"] == 0 and data["groups"] == [] and data["open"] == []


# Per chart of the page: its caption's box, the chart's box, and each text of the chart with its box and the size it
# renders at (the computed font size times the drawing's scale on screen); the boxes of its bars.
_CHARTS_JS = """
() => [...document.querySelectorAll('figure')].map(f => {
  const box = (r) => [r.left, r.top, r.right, r.bottom];
  const chart = f.querySelector('svg, img');
  return {
    caption: f.querySelector('figcaption').textContent.trim(),
    captionBox: box(f.querySelector('figcaption').getBoundingClientRect()),
    chartBox: box(chart.getBoundingClientRect()),
    texts: [...f.querySelectorAll('svg text')].map(t => ({
      text: t.textContent, box: box(t.getBoundingClientRect()),
      px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
    })),
    bars: [...f.querySelectorAll('svg rect')].map(r => box(r.getBoundingClientRect())),
  };
})
"""


def _apart(a: list[float], b: list[float]) -> bool:
    """Whether two boxes (left, top, right, bottom) do not overlap (touching edges are apart)."""
    return a[2] <= b[0] + 0.5 or b[2] <= a[0] + 0.5 or a[3] <= b[1] + 0.5 or b[3] <= a[1] + 0.5


def test_the_charts_read_at_1280_and_375_px(run: Run, book: Path, tmp_path: Path) -> None:
    """In Chromium at 1280 and 375 px every word of the report's charts (labels, figures, legends, the target mark)
    renders at 11 px or more, lies inside its chart and overlaps no other word and no bar; each chart's caption
    sits right above it, flush with its left edge, level with the captions beside it; the time-to-restore chart
    has a bar per event against its own target, the furthest past it first (it was one bar per severity, and a
    single bar when one severity had restored events)."""
    from tests.browser import WIDTHS, Browser

    _ok(run("report", *NOV, "--html", "report.html"))
    with Browser() as browser:
        for width in WIDTHS:
            seen = browser.open(tmp_path / "report.html", width=width, measure=_CHARTS_JS)
            assert seen.errors == [] and not seen.overflows, (seen.errors, seen.overflowing)
            figures = seen.measured
            assert [f["caption"] for f in figures] == [
                "Events by severity", "Time to restore against target", "Restoration target met or breached",
            ]  # fmt: skip
            for figure in figures:
                assert figure["texts"], f"{figure['caption']}: no text to measure (a picture of text scales with it)"
                chart, caption = figure["chartBox"], figure["captionBox"]
                assert abs(caption[0] - chart[0]) <= 1 and 0 <= chart[1] - caption[3] <= 12, (width, figure["caption"])
                for text in figure["texts"]:
                    assert text["px"] >= 11, (width, figure["caption"], text["text"], round(text["px"], 1))
                    box = text["box"]
                    assert chart[0] <= box[0] and box[2] <= chart[2] and chart[1] <= box[1] and box[3] <= chart[3]
                    assert all(_apart(box, bar) for bar in figure["bars"]), (width, text["text"])
                boxes = [t["box"] for t in figure["texts"]]
                assert all(_apart(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]), (
                    width,
                    figure["caption"],
                )
            rows = {round(f["captionBox"][1]) for f in figures}  # side by side at 1280 px, one above the other at 375
            assert len(rows) == (1 if width == 1280 else 3), (width, rows)
            words = [t["text"] for t in figures[1]["texts"]]
            labels = [w for w in words if w.startswith("EVT-")]
            # against its target: 0006 open 10320 of 1440 min, 0003 250 of 240, 0004 330 of 480, 0001 120 of 240,
            # 0007 240 of 480 (0001 and 0007 both half: by ID); 0005 is a Sev 4, which sets no target
            assert labels == [f"{evt(n)} · Sev {s}" for n, s in ((6, 3), (3, 1), (4, 2), (1, 1), (7, 2))]
            assert {"target", "7 d 4 h so far of 1 d", "4 h 10 min of 4 h", "met", "breached"} <= set(words)


def test_the_emailed_charts_are_inline_parts(run: Run, book: Path, tmp_path: Path) -> None:
    """Each chart of --email is an inline part (Content-Disposition: inline, with its file name) in the HTML's
    multipart/related, so mail clients show it in place and do not list it as an attachment."""
    _ok(run("report", *NOV, "--email", "leadership"))
    [path] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 3
    assert [(p.get_content_disposition(), p.get_filename()) for p in images] == [
        ("inline", "events-by-group.png"), ("inline", "time-to-restore.png"), ("inline", "restoration-attainment.png"),
    ]  # fmt: skip
    assert list(message.iter_attachments()) == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing/r.html", "--html missing/r.html: the folder missing does not exist"),
        ("out", "--html out: is a folder; give a file name, e.g. out/report.html"),
        ("tracker.toml/r.html", "--html tracker.toml/r.html: tracker.toml is a file, not a folder"),
    ],
)
def test_an_html_path_that_cannot_be_written_is_refused_before_anything(
    run: Run, book: Path, tmp_path: Path, target: str, message: str
) -> None:
    """--html into a missing folder, onto a folder, or below a file: exit 2 and one line naming the option and the
    path, before the report is worked out or printed (it printed the whole text report, then the OS error)."""
    (tmp_path / "out").mkdir()
    result = run("report", *NOV, "--html", target)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert "Traceback" not in result.stderr and "Errno" not in result.stderr


def test_a_resolution_typed_before_detection_makes_no_restore_figure(run: Run, book: Path, tmp_path: Path) -> None:
    """EVT-<year>-0007's Resolved cell typed an hour before its Detected cell (in Excel): the report counts the event
    but leaves its restore time out of every figure (not -60 in the mean, not under LONGEST, its SLA result and
    outage unknown), with one warning naming the cell; the status page and the review show no made-up duration."""
    wb = openpyxl.load_workbook(book)
    ws = wb["Events"]
    headers = {c.value: c.column for c in ws[1]}
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, headers["ID"]).value == evt(7))
    ws.cell(row, headers["Resolved (UTC)"]).value = datetime(2026, 11, 30, 21, 0)  # detected 22:00
    wb.save(book)
    cell = f"Events!{openpyxl.utils.get_column_letter(headers['Resolved (UTC)'])}{row}"
    result = run("report", *NOV, "--json")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: {evt(7)} restore time unknown: {cell} ")
    assert "is before Detected" in warnings[0]
    data = json.loads(result.stdout)
    totals = data["totals"]
    assert totals["events"] == 6 and totals["resolved"] == 5
    # restored: 120, 250, 330, 360 (0007 unknown) -> 1060 / 4 = 265; median (250 + 330) / 2 = 290
    assert (totals["time_to_restore_mean_minutes"], totals["time_to_restore_median_minutes"]) == (265, 290)
    assert totals["outage_minutes"] == 11500 - 240  # 0007's 240 left out
    assert totals["restoration_met"] == 2  # 0007 neither met nor breached
    sev2 = next(s for s in data["sla"] if s["severity"] == "Sev 2")["restoration"]
    assert (sev2["met"], sev2["unknown"]) == (1, 1)
    assert evt(7) not in [e["id"] for e in data["worst"]["longest_restoration"]]
    assert data["restore_unknown"] == [{"event_id": evt(7), "problem": warnings[0].split(": ", 2)[2]}]
    text = run("report", *NOV)
    assert "mean 4 h 25 min, median 4 h 50 min (5 resolved, 1 of them with no restore time)" in text.stdout
    assert evt(7) not in text.stdout.split("LONGEST", 1)[1].split("\n\n", 1)[0]
    assert "Active Directory  1       -" in text.stdout  # its only event's outage is unknown, not 0 min
    published = run("publish")
    assert published.exit_code == 0, published.stderr
    page = (tmp_path / "status" / "index.html").read_text(encoding="utf-8")
    resolved = page.split('id="resolved-heading"', 1)[1].split("</section>", 1)[0]
    row_html = next(r for r in resolved.split("<tr") if evt(7) in r)
    assert 'Time to restore">unknown</td>' in row_html and "Met" not in row_html and "1 h" not in row_html
    assert f"warning: {evt(7)} restore time unknown: {cell} " in published.stderr
    assert run("review", evt(7), "--format", "md").exit_code == 0
    review = (tmp_path / "reviews" / f"{evt(7)}-review.md").read_text(encoding="utf-8")
    assert "restored in 0 min" not in review and "Restoration: met" not in review
    assert "- Restoration: unknown" in review
    assert "| **Outage duration** | unknown: Resolved is before Detected |" in review


def test_a_backdated_resolution_ends_the_outage_span_of_a_reopened_event(run: Run, example: Path, at) -> None:  # type: ignore[no-untyped-def]
    """Detected 10:00, recorded next morning as resolved at 12:00 (--at), then reopened and resolved again 30 min
    later: the outage is 120 + 30 minutes, not the 22 hours until the first resolution was typed."""
    from datetime import UTC, datetime, timedelta

    day = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    at(day)
    opened = run("open", "--title", "Wi-Fi down", "--severity", "Sev 3", "--service", "Wi-Fi", "--impact", "x")
    event = opened.stdout.strip()
    at(day + timedelta(hours=22))
    assert run("resolve", event, "--note", "fixed", "--at", "2026-11-22 12:00").exit_code == 0
    assert run("update", event, "--note", "again", "--status", "Investigating", "--reopen").exit_code == 0
    at(day + timedelta(hours=22, minutes=30))
    assert run("resolve", event, "--note", "fixed again").exit_code == 0
    figures = json.loads(run("report", "--since", "2026-11-22", "--until", "2026-11-24", "--json").stdout)
    services = {s["service"]: s for s in figures["services"]}
    assert services["Wi-Fi"]["outage_minutes"] == 150, services["Wi-Fi"]


def test_the_customer_report_words_each_status_as_its_status_page_does(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """The example's open event is Identified: the customer's status page says "The cause has been identified and a
    fix is in progress." and so does the customer's report, in its still-open list (text, HTML, email) and as the
    event's `status_label` in --json (`status` keeps the workbook's word, as `severity` does); the word Identified
    is nowhere the customer reads it. Leadership's report says Identified."""
    words = "The cause has been identified and a fix is in progress."
    assert run("publish", "--audience", "customer").exit_code == 0
    assert words in (tmp_path / "status" / "index-customer.html").read_text(encoding="utf-8")
    period = ("--until", "+1h")
    [event] = _report(run, *period, "--audience", "customer")["open"]
    assert (event["id"], event["status"], event["status_label"]) == (event_id, "Identified", words)
    text = _ok(run("report", *period, "--audience", "customer"))
    still_open = text.split("STILL OPEN", 1)[1]
    assert words in still_open and "Identified" not in text
    _ok(run("report", *period, "--audience", "customer", "--html", "customer.html"))
    html = (tmp_path / "customer.html").read_text(encoding="utf-8")
    assert f'data-label="Status" class="text">{words}</td>' in html and "Identified" not in html
    _ok(run("report", *period, "--email", "customer"))
    [path] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    for kind in ("html", "plain"):
        part = message.get_body((kind,)).get_content()  # type: ignore[union-attr]
        assert words in part and "Identified" not in part, kind
    [event] = _report(run, *period, "--audience", "leadership")["open"]
    assert event["status_label"] == "Identified"
    leadership = _ok(run("report", *period, "--audience", "leadership")).split("STILL OPEN", 1)[1]
    assert "STATUS" in leadership and "Identified" in leadership and words not in leadership


def test_a_team_copy_of_an_older_report_template_is_one_clear_line(run: Run, book: Path, tmp_path: Path) -> None:
    """A team's templates folder holding a copy of an earlier tracker's report tables (its `events` macro takes no
    `status`) crashed the report with a bug report (exit 3); it is a configuration error naming the folder."""
    from tracker.resources import data_dir

    ours = tmp_path / "my_templates" / "report"
    ours.mkdir(parents=True)
    tables = (data_dir("templates") / "report" / "_tables.html.j2").read_text(encoding="utf-8")
    assert "shows, status=false) -%}" in tables
    (ours / "_tables.html.j2").write_text(tables.replace("shows, status=false) -%}", "shows) -%}"), encoding="utf-8")
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace("[mail]\n", '[mail]\ntemplates = "my_templates"\n', 1))
    result = run("report", "--html", "report.html")
    assert result.exit_code == 2, result.output
    assert "may be from an earlier tracker" in result.stderr and "Traceback" not in result.output


def test_a_label_with_dollar_signs_draws_as_words() -> None:
    """A service or category named with two $ ("$CORE $EDGE") crashed the emailed chart: matplotlib read it as TeX
    ("Unknown symbol"). It is drawn as the words it is."""
    from tracker.window.drawing import Drawing, Words

    chart = Drawing("c", 300, 40, "Outage by service", "one label", [Words(10, 20, "$CORE\\x $EDGE")])
    assert chart.png(300).startswith(b"\x89PNG") and "$CORE" in chart.svg()


_RAW = st.one_of(  # a cell as a reader gives it, of every kind a workbook may hold
    st.none(),
    st.sampled_from(
        ["", "  ", " EVT-1 ", "evt-2", "Sev 1", " resolved ", "Closed", "exercise", "outage", "Wi-Fi, VPN"]
    ),
    st.text(max_size=4),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.floats(allow_nan=False),
    st.integers(-(10**16), 10**16),
    st.booleans(),
    st.dates(),
    st.times(),
)


def _cell_by_cell(tracker: Any, period: Any) -> tuple[list[Any], list[Any]]:
    """`event_rows` as it was: each row typed cell by cell over the plan (the reference the column-wise one keeps)."""
    from tracker.window.event_facts import EVENT_FIELDS
    from tracker.workbook.cell_values import converter, whole_number
    from tracker.workbook.reading import Row

    layout = tracker.layout("Events")
    fields = layout.spec.fields
    plan = [
        (name, layout.columns[name], fields[name].kind, frozenset(fields[name].enum), converter(fields[name]))
        for name in EVENT_FIELDS
        if name in layout.columns
    ]

    def typed(cells: list[Any], steps: list[Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, index, kind, options, convert in steps:
            cell = cells[index] if index < len(cells) else None
            if cell is None:
                values[name] = None
            elif kind == "text" and type(cell) is str:
                values[name] = cell.strip() or None
            elif kind == "datetime" and type(cell) is datetime and cell.tzinfo is None:
                values[name] = cell.replace(tzinfo=UTC)
            elif kind == "integer" and type(cell) is float and whole_number(cell):
                values[name] = int(cell)
            elif options and cell in options:
                values[name] = cell
            else:
                values[name] = convert(cell)
        return values

    first = [step for step in plan if step[0] in ("id", "detected_at")]
    rest = [step for step in plan if step[0] not in ("id", "detected_at")]
    chosen, undated = [], []
    for offset, cells in enumerate(tracker.raw_rows("Events")):
        values = typed(cells, first)
        if not values.get("id"):
            continue
        detected = values.get("detected_at")
        if not isinstance(detected, datetime):
            undated.append(Row(offset + 2, values | typed(cells, rest)))
        elif period is None or period.since <= detected < period.until:
            chosen.append(Row(offset + 2, values | typed(cells, rest)))
    return chosen, undated


def _shown(rows: list[Any]) -> list[Any]:
    """Rows as compared: number, and each value's repr in order (an int is no float, a time keeps its zone); a
    time's fold, which no UTC time shows, left out."""
    return [
        (r.number, [(k, repr(v.replace(fold=0) if isinstance(v, datetime) else v)) for k, v in r.values.items()])
        for r in rows
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.lists(_RAW, min_size=34, max_size=34), st.integers(0, 34)), max_size=8),
    st.booleans(),
)
def test_events_typed_a_column_at_a_time_read_as_typed_cell_by_cell(
    rows: list[tuple[list[Any], int]], bounded: bool
) -> None:
    """`event_rows` types the Events columns a column at a time (datetimes by epoch arithmetic): every value, of
    any cell a reader may give, rows cut short included, is the one typing each cell over the plan gave."""
    from tracker.window.event_facts import Period, event_rows
    from tracker.workbook.reading import Tracker
    from tracker.workbook.schema import load_schema

    schema = load_schema(None)
    header = [f.title for f in schema["Events"].fields.values()]
    raw = [cells[:width] for cells, width in rows]
    tracker = Tracker(schema, ["Events"], lambda name: [header, *raw])
    period = Period(datetime(1950, 1, 1, tzinfo=UTC), datetime(2050, 1, 1, tzinfo=UTC)) if bounded else None
    new, old = event_rows(tracker, period), _cell_by_cell(tracker, period)
    assert [_shown(rows) for rows in new] == [_shown(rows) for rows in old]


@example([(["EVT-1"] + [None] * 7 + [1e15] + [None] * 25, 34)])  # Users Affected 1e15: a float, not 10^15
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(
                st.one_of(_RAW, st.sampled_from([1e15, -1e15, 2.0**60, 1e300, 999999999999999.0])),
                min_size=34,
                max_size=34,
            ),
            st.integers(0, 34),
        ),
        max_size=8,
    )
)
def test_the_events_a_report_reads_are_typed_as_the_workbook_types_them(rows: list[tuple[list[Any], int]]) -> None:
    """A report types the Events columns it reads itself (`event_rows`), and must give each cell the value the
    workbook's own typing gives it (`Tracker.sheet`): Users Affected typed 1e15 (a whole float, not a whole number
    the workbook takes: it keeps it a float, which no figure counts) became the int 10^15 in the report, and
    40,000,000,000,470,400 user-minutes."""
    from tracker.window.event_facts import EVENT_FIELDS, event_rows
    from tracker.workbook.reading import Row, Tracker
    from tracker.workbook.schema import load_schema

    schema = load_schema(None)
    header = [f.title for f in schema["Events"].fields.values()]
    raw = [cells[:width] for cells, width in rows]
    tracker = Tracker(schema, ["Events"], lambda name: [header, *raw])
    chosen, undated = event_rows(tracker, None)
    typed = {row.number: row for row in Tracker(schema, ["Events"], lambda name: [header, *raw]).sheet("Events").rows}
    for row in [*chosen, *undated]:
        assert set(row.values) == set(EVENT_FIELDS)
        workbook = {name: typed[row.number].values[name] for name in row.values}
        assert _shown([row]) == _shown([Row(row.number, workbook)])


def test_the_column_wise_facts_guard_what_they_share() -> None:
    """The facts of 10,000 events share what they can (an event's cells in one EventColumns, SLA results and targets
    by value): shared results cannot be changed through one event, a reordered or repeated choice of events is
    taken as asked, a field no report reads is refused by name, and a report over facts of two readings groups
    each by its own cells."""
    from tracker.window.event_facts import EventColumns, Period, event_facts, sla_states
    from tracker.window.report import Report
    from tracker.workbook.reading import Tracker
    from tracker.workbook.schema import load_schema

    schema = load_schema(None)
    severities = [{"name": "Sev 1", "update_interval_minutes": 30, "first_response_minutes": 10}]

    def tracker(lead: str) -> Any:
        rows = {
            "Severities": severities,
            "Events": [
                {"id": f"EVT-{n}", "severity": "Sev 1", "status": "Investigating", "detected_at": _AT,
                 "communication_lead": f"{lead}{n}"}
                for n in (1, 2)
            ],
            "Updates": [],
        }  # fmt: skip

        def cells(name: str) -> list[list[Any]]:
            fields = schema[name].fields
            return [[f.title for f in fields.values()]] + [[v.get(f) for f in fields] for v in rows[name]]

        return Tracker(schema, list(rows), cells)

    period, now = Period(_AT, _AT + timedelta(days=1)), _AT + timedelta(minutes=5)
    first, _skipped, _unmatched = event_facts(tracker("Ana "), period, now)
    assert first[0].sla is first[1].sla and first[0].targets is first[1].targets  # (shared by value)
    with pytest.raises(TypeError):
        first[0].sla["first response"] = "met"  # type: ignore[index]
    with pytest.raises(TypeError):
        first[0].targets["first response"] = 1  # type: ignore[index]
    assert first[1].sla["first response"] == "pending"
    one = sla_states(first[0].row.values, dict(first[0].targets), now)
    one["first response"] = "met"  # (one event's own: a plain dict)
    with pytest.raises(KeyError, match="title_typo"):
        first[0].value("title_typo")
    events = EventColumns([2, 3], {"id": ["EVT-1", "EVT-2"]})
    assert events.take([1, 0]).column("id") == ["EVT-2", "EVT-1"]
    assert events.take([1, 1]).numbers == [3, 3] and events.take([0, 1]) is events

    report = Report(tracker("Ana "), period, now, by="communication_lead")
    other, _skipped, _unmatched = event_facts(tracker("Bo "), period, now)
    report.facts = [report.facts[0], other[1]]  # two readings' facts in one report
    assert [g["key"] for g in report.groups()] == ["Ana 1", "Bo 2"]


def test_users_affected_typed_true_counts_no_users() -> None:
    """TRUE typed in Users Affected (Excel keeps a boolean, which Python counts as 1) is no number of users: the
    report counted it as one user, in user-minutes and the most users, where the status page already shows none."""
    from tracker.window.event_facts import Period
    from tracker.window.report import Report
    from tracker.workbook.reading import Tracker
    from tracker.workbook.schema import load_schema

    schema = load_schema(None)
    rows = {
        "Severities": [{"name": "Sev 1", "update_interval_minutes": 30}],
        "Events": [
            {"id": "EVT-1", "severity": "Sev 1", "status": "Resolved", "detected_at": _AT, "resolved_at": _AT
             + timedelta(minutes=90), "users_affected": True},
            {"id": "EVT-2", "severity": "Sev 1", "status": "Resolved", "detected_at": _AT, "resolved_at": _AT
             + timedelta(minutes=30), "users_affected": 40},
        ],
        "Updates": [],
    }  # fmt: skip

    def cells(name: str) -> list[list[Any]]:
        fields = schema[name].fields
        return [[f.title for f in fields.values()]] + [[v.get(f) for f in fields] for v in rows[name]]

    report = Report(Tracker(schema, list(rows), cells), Period(_AT, _AT + timedelta(days=1)), _AT + timedelta(days=1))
    data = report.to_json()
    assert data["totals"]["user_minutes"] == 40 * 30
    assert [e["id"] for e in data["worst"]["most_users"]] == ["EVT-2"]
    assert [e["users_affected"] for e in data["worst"]["longest_restoration"]] == [None, 40]

"""The millisecond-level rule tests, beside the CLI tests: the rules tracker's commands follow (reading a typed time,
waiting out a throttled server, SLA timers and the process review, who is on duty, when an audience has news, which
status may follow which, fitting the journal onto a newer workbook), called as library functions on workbooks held
in memory: no CLI, no files, no network, no sleeps.

Every moment is the suite's (`suite_clock.NOW`, tracker's pinned rehearsal clock) or one computed from it inside the
test, so CI runs this module again at the next 1 January and on 29 February 2028 (`--clock`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import suite_clock
from tests.test_store_engine import new_event
from tracker import retry
from tracker.config import DEFAULT_INTERNAL, ClockSettings, Config
from tracker.errors import LifecycleError, UsageError
from tracker.rules.clock import due_items, lead_time, process_review_due, target_minutes, timer_state, timers
from tracker.rules.events import next_event_id, resolve_event, update_event
from tracker.sending.audience import Audience
from tracker.sending.fingerprint import event_state
from tracker.store.backends import Store
from tracker.store.engine import fit, fit_journal
from tracker.store.journal import Batch
from tracker.times import format_time, iso, parse_time
from tracker.workbook.edits import AppendRow, Edit, Plan, SetCells
from tracker.workbook.policy import OPEN_STATUSES, STATUSES
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import DUTY, STANDBY, duty_manager, next_shifts, on_duty, weekdays
from tracker.workbook.schema import load_schema

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028

NOW = suite_clock.NOW  # set by conftest before this module is imported (pytest_configure)
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")  # the display timezone tracker.toml gives by default
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30 all year: no daylight saving to trip over at any suite moment
AUDIENCES = ("leadership", "technical", "customer")  # the example's; leadership and technical are internal


def workbook(**sheets: list[dict[str, Any]]) -> Tracker:
    """A tracker workbook held in memory with these sheets (rows by field name), as the reader hands one over."""
    schema = load_schema()

    def cells(name: str) -> list[list[Any]]:
        fields = schema[name].fields
        return [[spec.title for spec in fields.values()], *([row.get(key) for key in fields] for row in sheets[name])]

    return Tracker(schema, list(sheets), cells)


def to_minute(moment: datetime) -> datetime:
    """The moment as a bare clock time names it (seconds dropped)."""
    return moment.replace(second=0, microsecond=0)


def clock_changes(zone: ZoneInfo) -> tuple[date, date]:
    """The first day, on or after the suite's UTC date, on which `zone`'s clocks go forward, and the first on which
    they go back."""
    forward = back = None
    day = NOW.date()
    while forward is None or back is None:
        before = datetime.combine(day - timedelta(days=1), time(12), tzinfo=zone).utcoffset()
        after = datetime.combine(day, time(12), tzinfo=zone).utcoffset()
        assert before is not None and after is not None
        if after > before and forward is None:
            forward = day
        if after < before and back is None:
            back = day
        day += timedelta(days=1)
    return forward, back


# --- reading typed times: tracker.times ------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [-90, -10, 10, 90])
def test_a_bare_time_is_its_latest_past_or_next_occurrence_on_the_rehearsal_clock(minutes: int) -> None:
    """A clock time typed without a date, on the suite's clock: for something that happened it is the latest such
    time not ahead of now (yesterday's when today's is still to come), for an ETA the next one (tomorrow's when
    today's has passed), whatever day, month or year that lands on."""
    moment = to_minute(NOW + timedelta(minutes=minutes))
    typed = f"{moment:%H:%M}"
    happened = parse_time(typed, what="--detected", when="past")
    coming = parse_time(typed, what="--eta", when="future")
    if minutes < 0:
        assert (happened, coming) == (moment, moment + timedelta(days=1))
    else:
        assert (happened, coming) == (moment - timedelta(days=1), moment)


def test_a_bare_time_just_after_local_midnight_is_last_nights_in_the_display_timezone() -> None:
    """At 00:20 in New York on the suite's local day, `--detected 23:50` is 23:50 New York time the evening
    before (the day before in New York, not in UTC), and `--eta 00:10` is tomorrow's 00:10."""
    today = NOW.astimezone(NEW_YORK).date()
    now = datetime.combine(today, time(0, 20), tzinfo=NEW_YORK).astimezone(UTC)
    evening = datetime.combine(today - timedelta(days=1), time(23, 50), tzinfo=NEW_YORK).astimezone(UTC)
    tomorrow = datetime.combine(today + timedelta(days=1), time(0, 10), tzinfo=NEW_YORK).astimezone(UTC)
    assert parse_time("23:50", tz=NEW_YORK, now=now, what="--detected", when="past") == evening
    assert parse_time("0010", tz=NEW_YORK, now=now, what="--eta", when="future") == tomorrow


@pytest.mark.parametrize(
    ("typed", "delta"),
    [
        ("now", timedelta(0)),
        ("+2h", timedelta(hours=2)),
        ("-15m", timedelta(minutes=-15)),
        ("+ 90 minutes", timedelta(minutes=90)),
        ("-3 hours", timedelta(hours=-3)),
        ("+1d", timedelta(days=1)),
        ("+2H", timedelta(hours=2)),
    ],
)
def test_a_relative_time_counts_from_the_rehearsal_clock(typed: str, delta: timedelta) -> None:
    """`now`, `+2h`, `-15m`, `+ 90 minutes`, `+1d` are that far from tracker's clock (the suite's moment), not
    from the machine's."""
    assert parse_time(typed) == NOW + delta


def test_a_time_on_the_wrong_side_of_now_is_refused_unless_forced() -> None:
    """A detection two hours ahead is refused as in the future, an ETA a quarter of an hour ago as already passed;
    the message points at --force only where the command has one, --force takes them, and a minute of clock skew
    is no reason to refuse."""
    with pytest.raises(
        UsageError, match=r"--detected: .* is in the future; give the time it happened \(or add --force"
    ):
        parse_time("+2h", what="--detected", when="past")
    with pytest.raises(UsageError, match=r"--eta: .* has already passed; give a time to come, e\.g\. \+2h \(or add"):
        parse_time("-15m", what="--eta", when="future")
    with pytest.raises(UsageError, match=r"already passed; give a time to come, e\.g\. \+2h$"):
        parse_time("-15m", what="--until", when="future", forceable=False)
    assert parse_time("+2h", what="--detected", when="past", force=True) == NOW + timedelta(hours=2)
    assert parse_time("-15m", what="--eta", when="future", force=True) == NOW - timedelta(minutes=15)
    assert parse_time("+1m", what="--detected", when="past") == NOW + timedelta(minutes=1)
    assert parse_time("-1m", what="--eta", when="future") == NOW - timedelta(minutes=1)


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        (f"{NOW:%Y-%m-%dT%H:%M:%S}Z", NEW_YORK),
        (f"{NOW:%Y-%m-%dT%H:%M:%S}z", NEW_YORK),
        (f"{NOW:%Y-%m-%d %H:%M:%S}Z", NEW_YORK),
        (f"{NOW:%Y-%m-%dT%H:%M:%S}+00:00", NEW_YORK),
        (f"{NOW.astimezone(KOLKATA):%Y-%m-%dT%H:%M:%S}+05:30", UTC),
        (f"{NOW.astimezone(KOLKATA):%Y-%m-%d %H:%M:%S}", KOLKATA),
        (f"{NOW:%Y-%m-%d %H:%M:%S}", UTC),
    ],
    ids=["Z", "z", "space+Z", "offset", "other offset", "local", "utc"],
)
def test_an_iso_time_says_its_own_zone_else_the_display_timezone(typed: str, zone: ZoneInfo) -> None:
    """An ISO time ending in Z (or z, or an offset) is that instant whatever the display timezone; one without is
    read in the display timezone; each is stored as the same UTC moment."""
    assert parse_time(typed, tz=zone, when="past") == NOW.replace(microsecond=0)


def test_a_bare_time_with_z_is_utc_whatever_the_display_timezone() -> None:
    """A clock time typed with Z (e.g. `1432Z`) while New York is the display timezone is that time in UTC: the
    latest one for a detection, the next one for an ETA."""
    earlier = to_minute(NOW - timedelta(minutes=5))
    assert parse_time(f"{earlier:%H%M}Z", tz=NEW_YORK, when="past") == earlier
    assert parse_time(f"{earlier:%H%M}z", tz=NEW_YORK, when="future") == earlier + timedelta(days=1)


def test_a_bare_time_the_clocks_skip_is_refused_with_both_readings() -> None:
    """On the night New York's clocks go forward (the next one after the suite's day), at 01:30 EST an ETA of
    `02:30` is refused (that time does not exist), naming 0730Z and 0630Z and how to type one; 03:30 is 03:30 EDT."""
    forward, _ = clock_changes(NEW_YORK)
    now = datetime.combine(forward, time(1, 30), tzinfo=NEW_YORK).astimezone(UTC)
    assert now.strftime("%H%M") == "0630"
    with pytest.raises(UsageError, match=r"--eta: '02:30' does not exist in America/New_York.*0730Z.*0630Z.*with Z"):
        parse_time("02:30", tz=NEW_YORK, now=now, what="--eta", when="future")
    with pytest.raises(UsageError, match="does not exist in America/New_York"):
        parse_time("0230", tz=NEW_YORK, now=now + timedelta(hours=1), what="--detected", when="past")
    assert parse_time("03:30", tz=NEW_YORK, now=now, what="--eta", when="future") == now + timedelta(hours=1)


def test_a_bare_time_the_clocks_show_twice_is_refused_with_both_readings() -> None:
    """On the night New York's clocks go back (the next one after the suite's day), at 00:30 EDT an ETA of `01:30`
    is refused (it happens twice), naming 0530Z and 0630Z."""
    _, back = clock_changes(NEW_YORK)
    now = datetime.combine(back, time(0, 30), tzinfo=NEW_YORK).astimezone(UTC)
    with pytest.raises(UsageError, match=r"'01:30' happens twice in America/New_York.*\(0530Z\) or .*\(0630Z\)"):
        parse_time("01:30", tz=NEW_YORK, now=now, what="--eta", when="future")


def test_a_stored_time_is_shown_in_the_display_timezone_with_its_zone() -> None:
    """The suite's moment shows as e.g. `21 Nov 2026 1554Z` by default, in New York's wall time with EST or EDT
    when that is the display timezone, an empty cell as nothing, a naive cell as UTC, and in JSON as ISO with a Z."""
    local = NOW.astimezone(NEW_YORK)
    assert format_time(NOW) == NOW.strftime("%d %b %Y %H%MZ")
    assert format_time(NOW, tz=NEW_YORK, fmt="%Y-%m-%d %H:%M %Z") == f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    assert local.tzname() in ("EST", "EDT")
    assert format_time(None) == ""
    assert format_time(NOW.replace(tzinfo=None), tz=KOLKATA, fmt="%H:%M") == f"{NOW.astimezone(KOLKATA):%H:%M}"
    assert iso(NOW) == NOW.strftime("%Y-%m-%dT%H:%M:%SZ") and iso(None) is None


# --- waiting out a throttled server: tracker.retry.retry_after ------------------------------------------------------------


@dataclass
class Answer:
    """A server's answer as `retry_after` reads it: its headers only."""

    headers: dict[str, str] = field(default_factory=dict)


class SteadyJitter:
    """`random` with the jitter at one end of its range (`high`: the most it may add)."""

    def __init__(self, high: bool = False) -> None:
        self.high = high

    def uniform(self, low: float, high: float) -> float:
        return high if self.high else low


class ServerDatetime(datetime):
    """`datetime` whose `now` is the suite's moment (as if the server's and this machine's clocks said so)."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return NOW.astimezone(tz) if tz is not None else NOW.replace(tzinfo=None)


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """retry_after without its random jitter, and reading the suite's moment as the time now (never the machine's)."""
    monkeypatch.setattr(retry, "random", SteadyJitter())
    monkeypatch.setattr(retry, "datetime", ServerDatetime)


def http_date(moment: datetime) -> str:
    """A moment as an HTTP date (`Sat, 21 Nov 2026 15:54:20 GMT`)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


@pytest.mark.parametrize(("header", "wait"), [("7", 7.0), ("0", 0.0), ("2.5", 2.5), ("60", 60.0)])
def test_retry_after_in_seconds_is_waited_out(no_jitter: None, header: str, wait: float) -> None:
    """A 429 saying `Retry-After: 7` makes tracker wait 7 seconds before the next attempt, whatever attempt it is."""
    assert retry.retry_after(Answer({"Retry-After": header}), 0) == wait
    assert retry.retry_after(Answer({"Retry-After": header}), 4) == wait


def test_retry_after_as_an_http_date_waits_until_then_and_never_less_than_nothing(no_jitter: None) -> None:
    """`Retry-After: <20 s from now as an HTTP date>` waits 20 s; a date already past waits nothing (not a
    negative time)."""
    assert retry.retry_after(Answer({"Retry-After": http_date(NOW + timedelta(seconds=20))}), 0) == 20.0
    assert retry.retry_after(Answer({"Retry-After": http_date(NOW - timedelta(minutes=5))}), 3) == 0.0
    assert retry.retry_after(Answer({"Retry-After": "-5"}), 3) == 0.0


@pytest.mark.parametrize("answer", [None, Answer(), Answer({"Retry-After": ""}), Answer({"Retry-After": "soon"})])
def test_without_a_usable_retry_after_the_wait_doubles_up_to_30_seconds(no_jitter: None, answer: Answer | None) -> None:
    """No answer (a timeout), no Retry-After, or one that is neither seconds nor a date: 1, 2, 4, 8, 16 s, then 30 s
    each time."""
    assert [retry.retry_after(answer, attempt) for attempt in range(7)] == [1, 2, 4, 8, 16, 30, 30]


@pytest.mark.parametrize(("header", "wait"), [("3600", 3600.0), (http_date(NOW + timedelta(days=1)), 86400.0)])
def test_a_long_retry_after_is_asked_in_full(no_jitter: None, header: str, wait: float) -> None:
    """A server asking for an hour (or until tomorrow) is asked to be waited in full, never cut short (SharePoint's
    and Graph's throttling guidance: waiting less brings more throttling); the deadline decides whether tracker
    waits it or stops at once. A Retry-After of "inf" is no usable answer: tracker's own backoff."""
    assert retry.retry_after(Answer({"Retry-After": header}), 1) == wait
    assert retry.retry_after(Answer({"Retry-After": "inf"}), 1) == 2.0


def test_the_jitter_adds_at_most_a_tenth_and_at_most_a_second_to_trackers_own_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two clients that got no Retry-After do not retry in step: each wait gets up to a tenth more (plus 50 ms),
    never more than a second; a server's Retry-After is waited exactly as asked."""
    monkeypatch.setattr(retry, "random", SteadyJitter(high=True))
    assert retry.retry_after(Answer({"Retry-After": "2"}), 0) == 2.0
    assert retry.retry_after(Answer({"Retry-After": "90"}), 0) == 90.0
    assert retry.retry_after(None, 0) == pytest.approx(1.15)
    assert retry.retry_after(None, 3) == pytest.approx(8.85)
    assert retry.retry_after(None, 9) == pytest.approx(31.0)


def test_a_wait_past_the_deadline_stops_at_once_and_says_when_to_try_again() -> None:
    """Within one deadline, a Retry-After longer than what is left is not waited at all; the message names the wait,
    the deadline and when to try again."""
    with retry.deadline(90):
        whole = retry.Retries()
        assert not whole.again(120) and whole.out_of_time
        assert whole.too_long("SharePoint", "throttled") == (
            "SharePoint asks to wait 120 s (throttled); more than this command's 90 s deadline: try again in 2 minutes"
        )
        assert retry.Retries().again(60)
        rest = retry.Retries()
        assert not rest.again(45)
        assert rest.too_long("SharePoint", "throttled").endswith(
            "more than the 30 s left of this command's 90 s deadline: try again in a minute"
        )


# --- SLA timers and the process review: tracker.rules.clock ----------------------------------------------------------

SEV2 = {"name": "Sev 2", "update_interval_minutes": 60, "first_response_minutes": 30, "restoration_minutes": 480}


def severity(**values: Any) -> Row:
    """A Severities row: Sev 2's (update every 60 min, first response 30 min, restoration 8 h), changed by
    `values`."""
    return Row(2, SEV2 | values)


def event(**values: Any) -> Row:
    """An Events row of a Sev 2 investigated since the suite's moment, changed by `values`."""
    base = {
        "id": suite_clock.event_id(1),
        "title": "VPN down at HQ",
        "severity": "Sev 2",
        "status": "Investigating",
        "category": "outage",
        "detected_at": NOW,
        "reported_at": NOW,
        "impact": "No VPN",
    }
    return Row(2, base | values)


@pytest.mark.parametrize(
    ("field", "value", "minutes"),
    [("first_response_minutes", v, m) for v, m in [(30, 30), (1, 1), (20_160, 20_160), (525_601, None)]]
    + [("restoration_minutes", v, m) for v, m in [(525_600, 525_600), (525_601, None)]]
    + [("first_response_minutes", v, None) for v in [0, -5, True, 30.5, "30", None, 1_440_000_000_000]],
)
def test_only_a_whole_target_from_a_minute_to_a_year_makes_a_timer(field: str, value: Any, minutes: int | None) -> None:
    """A Severities target is kept when it is a whole number of minutes from 1 to a year (past the shipped schema's
    week for a first response: validate names it, and a team's schema may allow it); text, a fraction, zero, a
    negative, TRUE, past a year or a number Python's timedelta cannot hold sets no target (no timer, no crash)."""
    assert target_minutes(severity(**{field: value}), field) == minutes
    assert target_minutes(None, field) is None


@pytest.mark.parametrize(
    ("elapsed", "stopped", "state"),
    [
        (timedelta(minutes=22, seconds=29), False, "running"),
        (timedelta(minutes=22, seconds=30), False, "at risk"),
        (timedelta(minutes=30), False, "at risk"),
        (timedelta(minutes=30, seconds=1), False, "breached"),
        (timedelta(minutes=30), True, "met"),
        (timedelta(minutes=30, seconds=1), True, "breached"),
        (timedelta(0), True, "met"),
    ],
)
def test_a_timer_is_at_risk_from_three_quarters_of_its_target_and_breached_past_it(
    elapsed: timedelta, stopped: bool, state: str
) -> None:
    """Against 30 min: running until 22 min 30 s, at risk from then through the 30th minute, breached after; once
    stopped, met on or before the target, else breached."""
    assert timer_state(elapsed, timedelta(minutes=30), stopped) == state


def test_a_running_first_response_counts_down_on_the_suite_clock() -> None:
    """A Sev 2 reported 25 minutes before the suite's moment and not acknowledged: the first response is at risk
    (25 min of 30, breaching 5 min from now) and the restoration running; 31 minutes after, it is breached."""
    reported = NOW - timedelta(minutes=25)
    first, restoration = timers(event(detected_at=reported, reported_at=reported), severity(), NOW)
    assert (first.name, first.state, first.left) == ("first response", "at risk", timedelta(minutes=5))
    assert first.started + first.target == NOW + timedelta(minutes=5) and first.stopped is None
    assert first.words() == "25 min of 30 min: at risk"
    assert (restoration.name, restoration.state, restoration.words()) == (
        "restoration",
        "running",
        "25 min of 8 h: running",
    )
    late = timers(event(detected_at=reported, reported_at=reported), severity(), NOW + timedelta(minutes=6))[0]
    assert late.state == "breached" and late.left == timedelta(minutes=-1)
    assert late.to_json() | {"started": None} == {
        "name": "first response",
        "state": "breached",
        "target_minutes": 30,
        "elapsed_minutes": 31,
        "started": None,
        "stopped": None,
    }


def test_acknowledging_or_resolving_stops_the_first_response() -> None:
    """Acknowledged 4 minutes after being reported: `acknowledged in 4 min, target 30 min: met`, whatever the time
    now; resolved 20 minutes in without an acknowledgement, the resolution stopped it, and the words say nobody
    acknowledged; the restoration then says how long restoring took."""
    reported = NOW - timedelta(hours=3)
    acked = event(reported_at=reported, detected_at=reported, acknowledged_at=reported + timedelta(minutes=4))
    first = timers(acked, severity(), NOW)[0]
    assert first.words() == "acknowledged in 4 min, target 30 min: met" and first.stopped is not None
    resolved = event(
        reported_at=reported,
        detected_at=reported - timedelta(hours=3, minutes=12),
        status="Resolved",
        resolved_at=reported + timedelta(minutes=20),
    )
    first, restoration = timers(resolved, severity(), NOW)
    assert first.words() == "not acknowledged; resolved in 20 min, target 30 min: met"
    assert restoration.words() == "restored in 3 h 32 min, target 8 h: met"


def test_no_target_or_no_start_makes_no_timer() -> None:
    """A severity without a restoration target shows only the first response; an event without detection or report
    times (typed as text in Excel) has no timer at all."""
    assert [t.name for t in timers(event(), severity(restoration_minutes=None), NOW)] == ["first response"]
    assert timers(event(detected_at="21/11 15:54", reported_at=None), severity(), NOW) == []
    assert timers(event(), None, NOW) == []


def config(**clock: Any) -> Config:
    """tracker.toml's settings with these [clock] keys (nothing read from disk)."""
    return Config(path=None, root=Path("."), workbook_path=Path("events.xlsx"), clock=ClockSettings(**clock))


def test_an_update_is_due_due_soon_within_its_lead_time_then_overdue() -> None:
    """Open events whose next updates are 40 min ahead, 8 min ahead (within the 10 min lead) and 5 min behind the
    suite's moment: due, due soon, overdue (late ones first, owed by the communication lead); with `within` 15 min
    only the two that matter now; a resolved event owes nothing."""
    rows = []
    for n, minutes in enumerate((40, 8, -5), start=1):
        due = NOW + timedelta(minutes=minutes)
        row = event(
            id=suite_clock.event_id(n), next_update_due=due, communication_lead="Priya Shah", acknowledged_at=NOW
        )
        rows.append(row.values)
    rows.append(event(id=suite_clock.event_id(4), status="Resolved", next_update_due=NOW - timedelta(hours=1)).values)
    tracker = workbook(Events=rows, Severities=[SEV2])
    items = due_items(tracker, config(), NOW)
    assert [(d.event_id[-4:], d.kind, d.state, d.minutes(NOW)) for d in items] == [
        ("0003", "update", "overdue", -5),
        ("0002", "update", "due soon", 8),
        ("0001", "update", "due", 40),
    ]
    assert {d.responsible for d in items} == {"Priya Shah"} and [d.late for d in items] == [True, False, False]
    soon = due_items(tracker, config(), NOW, within=timedelta(minutes=15))
    assert [d.state for d in soon] == ["overdue", "due soon"]


def test_a_severitys_remind_before_sets_the_lead_unless_validate_refuses_it() -> None:
    """Remind Before 15 on the severity: reminders 15 min ahead; empty, negative or TRUE: [clock] remind_before."""
    settings = config(remind_before=10)
    assert lead_time(severity(remind_before_minutes=15), settings) == timedelta(minutes=15)
    assert lead_time(severity(remind_before_minutes=0), settings) == timedelta(0)
    for refused in (None, -5, True, "15", 10**12):
        assert lead_time(severity(remind_before_minutes=refused), settings) == timedelta(minutes=10)
    assert lead_time(None, settings) == timedelta(minutes=10)


def test_the_process_review_is_listed_from_a_month_before_it_is_due() -> None:
    """Reviewed on the suite's day of the month (the 28th at most) with a review every 3 months: not listed until
    31 days before the same day three months on (the year turned if need be), then due, then overdue; never
    reviewed: not listed."""
    last = NOW.date().replace(day=min(NOW.day, 28))
    months = last.month - 1 + 3
    due_day = date(last.year + months // 12, months % 12 + 1, last.day)
    due = datetime.combine(due_day, time(0), tzinfo=UTC)
    settings = config(process_reviewed=last, review_every_months=3)
    assert process_review_due(settings, due - timedelta(days=31, minutes=1)) is None
    assert process_review_due(settings, due - timedelta(days=31)) == due
    assert process_review_due(settings, due + timedelta(days=400)) == due  # overdue stays listed
    assert process_review_due(config(), NOW) is None


def test_a_review_on_31_january_is_due_in_february_and_one_on_29_february_a_year_on_in_february() -> None:
    """Reviewed on 31 January of the suite's year, every month: due at the end of February, not in March; reviewed
    on a 29 February (the first leap year from the suite's), every 12 months: due 28 February the year after."""
    year = NOW.year
    due = process_review_due(
        config(process_reviewed=date(year, 1, 31), review_every_months=1), datetime(year, 2, 1, tzinfo=UTC)
    )
    assert due is not None and due.month == 2 and 28 <= due.day <= calendar.monthrange(year, 2)[1]
    leap = next(y for y in range(NOW.year, NOW.year + 8) if calendar.isleap(y))
    later = process_review_due(
        config(process_reviewed=date(leap, 2, 29), review_every_months=12), datetime(leap + 1, 2, 1, tzinfo=UTC)
    )
    assert later == datetime(leap + 1, 2, 28, tzinfo=UTC)


# --- who is on duty: tracker.workbook.roster ----------------------------------------------------------------------------

ROSTER = [  # the example's weekly pattern (tracker init --example)
    {"person": "Alex Morgan", "role": "duty event manager", "days": "Mon-Fri", "start": "07:00", "end": "15:00"},
    {"person": "Sam Rivera", "role": "duty event manager", "days": "Mon-Fri", "start": "15:00", "end": "23:00"},
    {"person": "Jordan Lee", "role": "duty event manager", "days": "Mon-Fri", "start": "23:00", "end": "07:00"},
    {"person": "Casey Nguyen", "role": "stand-by", "days": "Sat, Sun", "start": "07:00", "end": "07:00"},
    {"person": "Ravi Menon", "role": "operations manager", "days": "Mon-Fri", "start": "08:00", "end": "18:00"},
    {"person": "Priya Shah", "role": "communication lead", "days": "Mon-Fri", "start": "08:00", "end": "17:00"},
]
MONDAY = NOW.date() + timedelta(days=7 - NOW.weekday())  # the first Monday after the suite's day


def wall(day: date, clock: str, zone: ZoneInfo = UTC_ZONE) -> datetime:
    """`day` at wall-clock time `clock` (e.g. "09:00") in `zone`, as UTC."""
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=zone).astimezone(UTC)


def who(tracker: Tracker, moment: datetime, zone: ZoneInfo = UTC_ZONE) -> dict[str, str]:
    """Role -> person on duty at `moment`."""
    return {shift.role: shift.person for shift in on_duty(tracker, zone, moment)}


def test_who_is_on_duty_through_a_weekday() -> None:
    """On the Monday after the suite's day: 09:00 Alex on duty, Ravi operations manager, Priya communication lead;
    16:00 Sam; 02:00 on Tuesday Jordan, whose Monday 23:00 shift runs past midnight to 07:00."""
    roster = workbook(Roster=ROSTER)
    assert who(roster, wall(MONDAY, "09:00")) == {
        DUTY: "Alex Morgan",
        "operations manager": "Ravi Menon",
        "communication lead": "Priya Shah",
    }
    assert who(roster, wall(MONDAY, "16:00"))[DUTY] == "Sam Rivera"
    tuesday = MONDAY + timedelta(days=1)
    (night,) = on_duty(roster, UTC_ZONE, wall(tuesday, "02:00"), DUTY)
    assert (night.person, night.start, night.end) == ("Jordan Lee", wall(MONDAY, "23:00"), wall(tuesday, "07:00"))


def test_a_handover_moment_belongs_to_whoever_comes_on() -> None:
    """At 15:00 Sam has taken over from Alex; at 07:00 on Monday the weekend stand-by has handed over to Alex."""
    roster = workbook(Roster=ROSTER)
    assert [s.person for s in on_duty(roster, UTC_ZONE, wall(MONDAY, "15:00"), DUTY)] == ["Sam Rivera"]
    assert who(roster, wall(MONDAY, "07:00")) == {DUTY: "Alex Morgan"}
    assert who(roster, wall(MONDAY, "06:59")) == {STANDBY: "Casey Nguyen"}


def test_at_the_weekend_the_stand_by_answers() -> None:
    """Saturday 03:00 is still Jordan's Friday night shift; Saturday noon only Casey (stand-by) is on, and the duty
    event manager who answers is Casey; Monday 03:00 Casey still (Sunday's 24-hour shift); the next duty event
    manager after Saturday noon is Alex on Monday at 07:00."""
    roster = workbook(Roster=ROSTER)
    saturday = MONDAY - timedelta(days=2)
    assert who(roster, wall(saturday, "03:00")) == {DUTY: "Jordan Lee"}
    assert who(roster, wall(saturday, "12:00")) == {STANDBY: "Casey Nguyen"}
    answers = duty_manager(roster, UTC_ZONE, wall(saturday, "12:00"))
    assert answers is not None and (answers.person, answers.role) == ("Casey Nguyen", STANDBY)
    assert who(roster, wall(MONDAY, "03:00")) == {STANDBY: "Casey Nguyen"}
    (coming,) = next_shifts(roster, UTC_ZONE, wall(saturday, "12:00"), DUTY)
    assert (coming.person, coming.start) == ("Alex Morgan", wall(MONDAY, "07:00"))


def test_a_dated_entry_replaces_the_pattern_for_its_role_while_it_lasts() -> None:
    """Dana covers Alex's Tuesday (07:00-15:00): Tuesday 09:00 is Dana's, the operations manager unchanged; 15:30
    Sam's as every day; Wednesday 09:00 Alex's again."""
    tuesday = MONDAY + timedelta(days=1)
    cover = {"person": "Dana Whitfield", "role": "duty event manager", "date": datetime.combine(tuesday, time(0))}
    roster = workbook(Roster=[*ROSTER, cover | {"start": "07:00", "end": "15:00", "note": "covers Alex (leave)"}])
    assert who(roster, wall(tuesday, "09:00"))[DUTY] == "Dana Whitfield"
    assert who(roster, wall(tuesday, "09:00"))["operations manager"] == "Ravi Menon"
    assert who(roster, wall(tuesday, "15:30"))[DUTY] == "Sam Rivera"
    assert who(roster, wall(tuesday + timedelta(days=1), "09:00"))[DUTY] == "Alex Morgan"


def test_shifts_keep_local_time_across_daylight_saving() -> None:
    """In New York, Alex's 07:00 shift on the first Monday of next January starts at 12:00Z, on the first Monday of
    next July at 11:00Z."""
    roster = workbook(Roster=ROSTER)
    for month, utc_start in ((1, "12:00"), (7, "11:00")):
        first = date(NOW.year + 1, month, 1)
        monday = first + timedelta(days=-first.weekday() % 7)
        (shift,) = on_duty(roster, NEW_YORK, wall(monday, "09:00", NEW_YORK), DUTY)
        assert (shift.person, shift.start) == ("Alex Morgan", wall(monday, utc_start))


@pytest.mark.parametrize(
    ("days", "numbers"),
    [
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        ("Sat, Sun", {5, 6}),
        ("Fri-Mon", {4, 5, 6, 0}),
        ("Monday\u2013Wednesday", {0, 1, 2}),
        ("tue", {1}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("", set()),
        ("weekends", None),
        ("Mon to Fri", None),  # was Mondays only, and nothing said
    ],
)
def test_roster_days_read_as_people_type_them(days: str, numbers: set[int] | None) -> None:
    """`Mon-Fri`, `Sat, Sun`, a range wrapping the weekend (`Fri-Mon`), Excel's en dash, any case and full names are
    the days they say, as validate reads them; text validate refuses is None (its row is ignored, and said)."""
    assert weekdays(days) == numbers


def test_a_shift_ending_at_24_00_ends_at_midnight() -> None:
    """A late shift typed 16:00 to 24:00 on Mondays is on at 23:59 and off at midnight."""
    roster = workbook(Roster=[{"person": "Kim Park", "role": DUTY, "days": "Mon", "start": "16:00", "end": "24:00"}])
    (shift,) = on_duty(roster, UTC_ZONE, wall(MONDAY, "23:59"), DUTY)
    assert shift.end == wall(MONDAY + timedelta(days=1), "00:00")
    assert on_duty(roster, UTC_ZONE, wall(MONDAY + timedelta(days=1), "00:00")) == []


# --- when an audience has news: tracker.sending.notify.event_state ------------------------------------------------------

OPENED = NOW - timedelta(hours=1)


def outage(
    changed: dict[str, Any] | None = None,
    updates: list[dict[str, Any]] | None = None,
    changes: list[dict[str, Any]] | None = None,
) -> tuple[Tracker, Row]:
    """A workbook with one open Sev 1 outage opened an hour before the suite's moment and one update, the event's
    cells changed by `changed`, more Updates and Changes rows; and its Events row."""
    key = suite_clock.event_id(1)
    row = {
        "id": key,
        "title": "Email outage",
        "severity": "Sev 1",
        "status": "Identified",
        "category": "outage",
        "detected_at": OPENED,
        "reported_at": OPENED,
        "impact": "No mail at any site",
        "event_manager": "Alex Morgan",
        "next_update_due": NOW + timedelta(minutes=30),
        "last_update_at": NOW,
    } | (changed or {})
    first = {"event_id": key, "at": OPENED, "status": "Investigating", "note": "Event opened", "internal": "No"}
    tracker = workbook(Events=[row], Updates=[first, *(updates or [])], Changes=changes or [])
    return tracker, tracker.event(key)


def fingerprints(built: tuple[Tracker, Row], *, changes: bool = True, bookkeeping: bool = False) -> dict[str, str]:
    """Audience -> the state fingerprint notify logs for it."""
    tracker, row = built
    return {
        name: event_state(
            tracker, row, Audience(tracker, name, DEFAULT_INTERNAL), changes=changes, bookkeeping=bookkeeping
        )
        for name in AUDIENCES
    }


def news(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The audiences whose fingerprint changed."""
    return [name for name in AUDIENCES if before[name] != after[name]]


def update(note: str | None = None, **values: Any) -> dict[str, Any]:
    """An Updates row of the outage, 10 minutes before the suite's moment."""
    row = {"event_id": suite_clock.event_id(1), "at": NOW - timedelta(minutes=10), "status": "Identified"}
    return row | {"note": note, "internal": "No"} | values


def test_the_same_state_gives_the_same_fingerprint_however_the_sheet_is_kept() -> None:
    """The same event and timeline again, with the Updates rows in another order (Excel's sort), the cells tracker
    moves itself when it sends (next update due, last notified) moved, and a time re-saved a microsecond off: no
    audience has news."""
    more = [update("Gateway certificate found", public_note="We found the cause"), update("Renewing", eta=NOW)]
    before = fingerprints(outage(updates=more))
    moved = {
        "next_update_due": NOW + timedelta(hours=1),
        "last_notified_at": NOW,
        "last_update_at": NOW + timedelta(minutes=1),
        "detected_at": OPENED + timedelta(microseconds=1),
    }
    assert fingerprints(outage(moved, updates=list(reversed(more)))) == before
    assert len(set(before.values())) == len(AUDIENCES)  # each audience reads its own part of the event


@pytest.mark.parametrize(
    ("changed", "told"),
    [
        ({"impact": "No mail at HQ only"}, ["leadership", "technical", "customer"]),
        ({"workaround": "Use webmail"}, ["leadership", "technical", "customer"]),
        ({"vendor_case_number": "CASE-2"}, ["leadership", "technical"]),
        ({"root_cause": "Expired certificate"}, ["leadership", "technical"]),
        ({"technical_bridge": "https://meet.example.com/tech"}, ["technical"]),
        ({"management_bridge": "https://meet.example.com/mgmt"}, ["leadership"]),
    ],
    ids=["impact", "workaround", "vendor case", "root cause", "technical bridge", "management bridge"],
)
def test_a_changed_field_is_news_only_to_the_audiences_that_read_it(changed: dict[str, Any], told: list[str]) -> None:
    """A new impact or workaround is news to everyone; a vendor case number or root cause only to the internal
    audiences; a bridge only to the audience it is for."""
    assert news(fingerprints(outage()), fingerprints(outage(changed))) == told


@pytest.mark.parametrize(
    ("added", "told"),
    [
        (update("Vendor escalated"), ["leadership", "technical"]),
        (update("Fix tested", public_note="A fix is being rolled out"), ["leadership", "technical", "customer"]),
        (update(None, eta=NOW + timedelta(hours=2)), ["leadership", "technical", "customer"]),
        (update("Firewall logs attached", internal="Yes"), ["technical"]),
    ],
    ids=["internal note", "public note", "eta only", "internal only"],
)
def test_an_update_is_news_only_to_the_audiences_it_says_something_to(added: dict[str, Any], told: list[str]) -> None:
    """An update with only a Note says nothing to the customer; a Public Note or a new ETA does; an update marked
    Internal Only reaches the technical audience alone."""
    assert news(fingerprints(outage()), fingerprints(outage(updates=[added]))) == told


def test_trackers_own_timeline_lines_and_unshown_changes_are_not_news() -> None:
    """An escalation line tracker wrote itself (Author tracker, internal) is not news to anyone (though tracker
    0.2's fingerprint counted it); a Changes row is news to the internal audiences whose emails show changes, never
    to the customer."""
    before = fingerprints(outage())
    escalated = outage(updates=[update("Escalated to Ravi Menon", author="tracker", internal="Yes")])
    assert news(before, fingerprints(escalated)) == []
    assert news(fingerprints(outage(), bookkeeping=True), fingerprints(escalated, bookkeeping=True)) == ["technical"]
    change = {"event_id": suite_clock.event_id(1), "at": NOW, "system": "mail-gw-02", "change": "Restarted transport"}
    assert news(before, fingerprints(outage(changes=[change]))) == ["leadership", "technical"]
    assert news(fingerprints(outage(), changes=False), fingerprints(outage(changes=[change]), changes=False)) == []


# --- which status may follow which: tracker.rules.events -------------------------------------------------------------


class PlanOnly:
    """A store that runs a command's plan on a workbook held in memory and returns the edits it decided (it
    writes nothing)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.journal = None

    def commit(self, plan: Plan, *, keep: bool = True) -> list[Edit]:
        return plan(self.tracker)


SEVERITIES = [
    {"name": "Sev 1", "update_interval_minutes": 30, "audiences": "leadership, technical, customer"},
    {"name": "Sev 3", "update_interval_minutes": 240, "audiences": "technical"},
]


def lifecycle(
    status: str, severity_name: str = "Sev 3", reviews: list[dict[str, Any]] | None = None, **values: Any
) -> Store:
    """A store holding one event in `status` (resolved an hour before the suite's moment if Resolved or Closed)."""
    done = status in ("Resolved", "Closed")
    row = {
        "id": suite_clock.event_id(1),
        "title": "Printers down",
        "severity": severity_name,
        "status": status,
        "category": "outage",
        "detected_at": NOW - timedelta(hours=3),
        "reported_at": NOW - timedelta(hours=3),
        "acknowledged_at": NOW - timedelta(hours=3),
        "resolved_at": NOW - timedelta(hours=1) if done else None,
        "closed_at": NOW - timedelta(minutes=30) if status == "Closed" else None,
    } | values
    sheets: dict[str, list[dict[str, Any]]] = {"Events": [row], "Updates": [], "Severities": SEVERITIES}
    if reviews is not None:
        sheets["Reviews"] = reviews
    return cast(Store, PlanOnly(workbook(**sheets)))


def refusal(current: str, new: str) -> str | None:
    """What `tracker update --status NEW` says when an event in `current` may not take `new` (None: it may)."""
    if current == "Closed" and new != "Closed":
        return "the event is Closed; to record a new status pass --reopen"
    if new == "Resolved" and current != "Resolved":
        return "use `tracker resolve ID --note ...` to resolve an event"
    if new == "Closed" and current != "Resolved" and current != "Closed":
        return f"only a Resolved event can be closed; this one is {current}; resolve it first"
    if current == "Resolved" and new != "Resolved" and new != "Closed":
        return f"the event is Resolved; to set it back to {new} pass --reopen"
    return None


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_which_status_an_update_may_give(current: str, new: str) -> None:
    """Between Investigating, Identified and Monitoring any way; Resolved only through `resolve`; Closed only from
    Resolved; a Resolved or Closed event goes back to an open status only with --reopen."""
    store, words = lifecycle(current), refusal(current, new)
    if words is None:
        outcome = update_event(store, suite_clock.event_id(1), note="x", status=new, now=NOW)
        assert outcome.status == new
        assert outcome.next_update_due == (NOW + timedelta(minutes=240) if new in OPEN_STATUSES else None)
    else:
        with pytest.raises(LifecycleError, match=re.escape(words)):
            update_event(store, suite_clock.event_id(1), note="x", status=new, now=NOW)
    allowed = {(a, b) for a in OPEN_STATUSES for b in OPEN_STATUSES}
    allowed |= {("Resolved", "Resolved"), ("Resolved", "Closed"), ("Closed", "Closed")}
    assert (words is None) == ((current, new) in allowed)


@pytest.mark.parametrize("current", ["Resolved", "Closed"])
def test_a_reopened_event_is_open_again_with_its_resolution_cleared(current: str) -> None:
    """`--reopen` on a Resolved or Closed event: Investigating (the default) or the status given, its resolution and
    closing times cleared, the next update due a cadence from now; --reopen on an open event is refused."""
    edits = update_event(lifecycle(current), suite_clock.event_id(1), note="it is back", reopen=True, now=NOW).edits
    changed = next(e for e in edits if isinstance(e, SetCells)).values
    assert changed["status"] == "Investigating" and changed["resolved_at"] is None and changed["closed_at"] is None
    assert changed["next_update_due"] == NOW + timedelta(minutes=240)
    again = update_event(
        lifecycle(current), suite_clock.event_id(1), note="x", status="Identified", reopen=True, now=NOW
    )
    assert again.status == "Identified"
    with pytest.raises(LifecycleError, match="--reopen is only for Resolved or Closed events; this one is Monitoring"):
        update_event(lifecycle("Monitoring"), suite_clock.event_id(1), note="x", reopen=True, now=NOW)


def test_closing_a_sev_1_waits_for_its_review_to_be_held() -> None:
    """A resolved Sev 1 is not closed while its post-incident review is missing or only a draft (lowering it to
    Sev 3 in the same update skips nothing); once the review is held it closes, stamped now, no update due."""
    key = suite_clock.event_id(1)
    with pytest.raises(LifecycleError, match=r"need a post-incident review before Closed .*; none is recorded"):
        update_event(lifecycle("Resolved", "Sev 1", reviews=[]), key, note="done", status="Closed", now=NOW)
    draft = [{"event_id": key, "status": "Draft"}]
    with pytest.raises(LifecycleError, match=r"its review \(Reviews row 2\) is Draft: once it is held"):
        update_event(lifecycle("Resolved", "Sev 1", reviews=draft), key, note="done", status="Closed", now=NOW)
    with pytest.raises(LifecycleError, match=r"was Sev 1 \(Sev 3 from this update\)"):
        update_event(
            lifecycle("Resolved", "Sev 1", reviews=[]),
            key,
            note="x",
            status="Closed",
            fields={"severity": "Sev 3"},
            now=NOW,
        )
    held = [{"event_id": key, "status": "Held", "review_date": NOW - timedelta(minutes=5)}]
    closed = update_event(lifecycle("Resolved", "Sev 1", reviews=held), key, note="done", status="Closed", now=NOW)
    changed = next(e for e in closed.edits if isinstance(e, SetCells)).values
    assert changed["status"] == "Closed" and changed["closed_at"] == NOW and changed["next_update_due"] is None


def test_resolving_records_when_service_came_back_once() -> None:
    """`resolve` of an open event: Resolved at the suite's moment (or the earlier --at given), no update due; a
    resolution before the detection is refused; an event already Resolved is refused, naming when."""
    key = suite_clock.event_id(1)
    outcome = resolve_event(lifecycle("Monitoring"), key, note="Printing again", now=NOW)
    changed = next(e for e in outcome.edits if isinstance(e, SetCells)).values
    assert (outcome.status, changed["resolved_at"], changed["next_update_due"]) == ("Resolved", NOW, None)
    earlier = resolve_event(lifecycle("Monitoring"), key, note="x", resolved_at=NOW - timedelta(hours=2), now=NOW)
    assert earlier.at == NOW - timedelta(hours=2)
    with pytest.raises(UsageError, match="is before the event was detected"):
        resolve_event(lifecycle("Monitoring"), key, note="x", resolved_at=NOW - timedelta(hours=4), now=NOW)
    resolved = (NOW - timedelta(hours=1)).strftime("%Y-%m-%d %H:%MZ")
    with pytest.raises(LifecycleError, match=f"{key} is already Resolved \\(at {resolved}\\)"):
        resolve_event(lifecycle("Resolved"), key, note="again", now=NOW)


# --- fitting the journal onto a newer workbook: tracker.store.engine -------------------------------------------


class HeldJournal:
    """A journal held in memory: the entries (batches of edits) that waited while the workbook was busy."""

    def __init__(self, *entries: list[Edit]) -> None:
        self.batches = [Batch(suite_clock.NOW.isoformat(), "held", list(edits)) for edits in entries]

    def entries(self) -> list[tuple[str, Batch | None]]:
        return [(f"line {n}", batch) for n, batch in enumerate(self.batches, start=1)]


def timeline(event_id: str, note: str) -> dict[str, Any]:
    """An Updates row of `event_id`, 25 minutes before the suite's moment."""
    return {
        "event_id": event_id,
        "at": NOW - timedelta(minutes=25),
        "status": "Investigating",
        "note": note,
        "internal": "No",
    }


def snapshot(events: list[dict[str, Any]], notifications: list[dict[str, Any]] | None = None) -> Tracker:
    """The workbook as it is now: these events, no timeline rows, these Notifications rows."""
    return workbook(Events=events, Updates=[], Notifications=notifications or [], Severities=[SEV2])


def test_a_journal_entry_whose_id_was_taken_meanwhile_is_set_aside_with_what_follows_it() -> None:
    """When an `open` of the year's second event and then an update of it wait in the journal while someone else
    opens that ID, both entries are set aside whole (the first as a duplicate ID, the second as belonging to it),
    nothing lands on the other person's event, and an unrelated entry behind them is still written."""
    mine, first = suite_clock.event_id(2), suite_clock.event_id(1)
    journal = HeldJournal(
        [AppendRow("Events", new_event(mine, "mine")), AppendRow("Updates", timeline(mine, "opened"))],
        [SetCells("Events", mine, {"status": "Identified"}), AppendRow("Updates", timeline(mine, "my update"))],
        [AppendRow("Updates", timeline(first, "still written"))],
    )
    tracker = snapshot([new_event(first, "first"), new_event(mine, "theirs")])
    rows: dict[int, int] = {}
    pending = fit_journal(tracker, journal, rows)  # type: ignore[arg-type]
    (taken, why_taken), (follows, why_follows) = pending.rejected
    assert taken == journal.batches[0].edits and follows == journal.batches[1].edits
    assert re.search(rf"Events!A\d+ \(ID\): '{mine}' is already used on row 3", why_taken), why_taken
    assert why_follows == f"it belongs to {mine!r}, whose Events row was set aside"
    written = [AppendRow(e.sheet, {**e.values, "applied": "written by tracker"}) for e in journal.batches[2].edits]
    assert pending.edits == written and list(rows.values()) == [2]  # tracker's row, marked applied (not typed)
    assert pending.lines == ["line 1", "line 2", "line 3"]  # all three consumed: two set aside, one written
    theirs = tracker.event(mine)
    assert (theirs["title"], theirs["status"]) == ("theirs", "Investigating")
    assert [r["note"] for r in tracker.sheet("Updates").rows] == ["still written"]


def test_a_replayed_journal_entry_is_seen_by_the_plan_that_follows() -> None:
    """An event kept in the journal is fitted into the view first, so the next `open` in the suite's year is
    numbered after it, on the row below it."""
    journal = HeldJournal([AppendRow("Events", new_event(suite_clock.event_id(2), "kept while locked"))])
    tracker = snapshot([new_event(suite_clock.event_id(1), "first")])
    rows: dict[int, int] = {}
    pending = fit_journal(tracker, journal, rows)  # type: ignore[arg-type]
    assert pending.rejected == [] and list(rows.values()) == [3]
    assert next_event_id(tracker, NOW.year) == suite_clock.event_id(3)
    assert next_event_id(tracker, NOW.year + 1) == suite_clock.event_id(
        1, when=datetime(NOW.year + 1, 1, 1, tzinfo=UTC)
    )


def test_what_a_journal_edit_still_has_to_do_on_a_newer_workbook() -> None:
    """A logged message already on the sheet (same Message-ID, any case) or a row that may have landed (same cells)
    is not added twice; a change to an event that is gone is dropped; a cell someone changed since the edit was
    decided keeps their value while the rest of the edit applies."""
    key = suite_clock.event_id(1)
    sent = {"event_id": key, "audience": "technical", "kind": "initial", "message_id": "<A1@tracker>", "sent_at": NOW}
    tracker = snapshot([new_event(key, "first") | {"impact": "Edited by a person"}], [sent])
    assert fit(tracker, AppendRow("Notifications", sent | {"message_id": "<a1@TRACKER>"}, unique="message_id")) is None
    again = AppendRow("Notifications", sent | {"message_id": "<A2@tracker>"}, unique="message_id")
    assert fit(tracker, again) == again
    assert fit(tracker, AppendRow("Notifications", sent, if_absent=True)) is None
    assert fit(tracker, SetCells("Events", suite_clock.event_id(9), {"status": "Identified"})) is None
    kept = fit(
        tracker, SetCells("Events", key, {"impact": "tracker's", "title": "New"}, {"impact": None, "title": "first"})
    )
    assert kept is not None and dict(kept.values) == {"title": "New"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 20), st.just("23/11/2026 08:20"), st.none()), max_size=12))
def test_updates_are_put_in_time_order_with_a_timeless_row_where_it_was_typed(ats: list[Any]) -> None:
    """policy.in_time_order, which every view uses: rows with a time in time order (then sheet order), as before;
    a row whose At is text or empty right after the row above it in the sheet, wherever that one goes."""
    from tracker.workbook.policy import in_time_order

    rows = [Row(n + 2, {"at": NOW + timedelta(minutes=a) if isinstance(a, int) else a}) for n, a in enumerate(ats)]
    ordered = in_time_order(list(reversed(rows)))
    timed = [r for r in rows if isinstance(r["at"], datetime)]
    assert [r for r in ordered if isinstance(r["at"], datetime)] == sorted(timed, key=lambda r: (r["at"], r.number))
    for row in rows:
        if not isinstance(row["at"], datetime) and row.number > 2:
            above = rows[row.number - 3]
            assert ordered.index(row) > ordered.index(above)


@pytest.mark.parametrize(
    ("cell", "address"),
    [
        (" sam.rivera@example.com ", "sam.rivera@example.com"),
        ("5550100@sms.example.com", "5550100@sms.example.com"),
        ("Sam Rivera <sam.rivera@example.com>", ""),  # was written to as "Sam Rivera <sam.rivera"@example.com
        ("a@example.com; b@example.com", ""),
        ("555 0100", ""),  # was paged as <@555 0100>
        (True, ""),
        (None, ""),
    ],
)
def test_only_one_bare_address_is_an_address_to_write_to(cell: Any, address: str) -> None:
    """policy.bare_address, which reminders, escalations to a role and pages use for Roster and Distribution Email
    and Pager cells: what validate refuses is no address, so the next person is tried as for an empty cell."""
    from tracker.workbook.policy import bare_address

    assert bare_address(cell) == address

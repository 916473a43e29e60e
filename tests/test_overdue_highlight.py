"""The red overdue highlight compares UTC cells with UTC now as a viewer in the display timezone sees it."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import suite_clock
from tests.conftest import Run, soffice
from tracker.rules.build import build_workbook
from tracker.workbook.overdue_highlight import (
    ALWAYS_UTC,
    PLAIN_NOW,
    TIMEZONE_NAME,
    UTC_NOW_NAME,
    Names,
    Rule,
    _first_disagreement,
    findings,
    is_utc,
    local_minute,
    offset_at,
    offset_table,
    parse_table,
    table_for,
    utc_now_formula,
)
from tracker.workbook.schema import load_schema

NEW_YORK = "America/New_York"
BUILT = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
EXCEL_EPOCH = datetime(1899, 12, 30)
ZONES = [NEW_YORK, "Europe/London", "Australia/Sydney", "Pacific/Chatham", "Asia/Kolkata", "Africa/Casablanca"]
OVERDUE_RULE = re.compile(r"\$E2<(NOW\(\)|TrackerUtcNow)")


def minute(text: str) -> int:
    """A New York wall-clock time as NOW()*1440 reads it."""
    return round((datetime.fromisoformat(text) - EXCEL_EPOCH) / timedelta(minutes=1))


def estimate(moment: datetime, timezone: str, table: tuple[tuple[int, int], ...]) -> datetime:
    """What TrackerUtcNow gives at `moment` on a computer whose clock is in `timezone`."""
    wall = local_minute(moment, timezone)
    return EXCEL_EPOCH.replace(tzinfo=UTC) + timedelta(minutes=wall - offset_at(table, wall))


def ambiguous(moment: datetime, timezone: str) -> bool:
    """Whether the wall clock shows this time twice (the hour repeated when clocks go back)."""
    zone = ZoneInfo(timezone)
    wall = moment.astimezone(zone).replace(tzinfo=None)
    return wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset()


def overdue_formula(book: openpyxl.Workbook) -> str:
    rules = [r for cf in book["Events"].conditional_formatting for r in cf.rules if r.type == "expression"]
    return next(r.formula[0] for r in rules if OVERDUE_RULE.search(r.formula[0]))


# --- the table of offsets ----------------------------------------------------------------


def test_new_york_table_changes_at_both_daylight_saving_changes() -> None:
    """New York's table: EST from the start, EDT from 02:00 on 8 March 2026, EST again from the repeated 01:00 on 1 November."""
    table = table_for(NEW_YORK, BUILT)
    assert table[0] == (0, -300)
    assert (minute("2026-03-08 02:00"), -240) in table
    assert (minute("2026-11-01 01:00"), -300) in table
    assert (minute("2055-11-07 01:00"), -300) == table[-1]  # 30 years ahead
    assert len(table) == 1 + 2 * 30


@pytest.mark.parametrize(
    ("moment", "utc_now"),
    [
        ("2026-03-08T06:59:00Z", "2026-03-08T06:59:00Z"),  # 01:59 EST
        ("2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z"),  # 03:00 EDT: the clock skipped 02:00-03:00
        ("2026-07-01T12:00:00Z", "2026-07-01T12:00:00Z"),
        ("2026-11-01T04:59:00Z", "2026-11-01T04:59:00Z"),  # 00:59 EDT
        ("2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"),  # 01:30 EDT, the first of two: an hour early
        ("2026-11-01T06:30:00Z", "2026-11-01T06:30:00Z"),  # 01:30 EST, the second
        ("2026-11-01T07:00:00Z", "2026-11-01T07:00:00Z"),  # 02:00 EST
        ("2027-01-15T12:00:00Z", "2027-01-15T12:00:00Z"),
    ],
)
def test_utc_now_around_new_york_changes(moment: str, utc_now: str) -> None:
    """A New York clock gives true UTC now, except in the repeated hour's first pass (an hour early, never late)."""
    table = table_for(NEW_YORK, BUILT)
    assert estimate(datetime.fromisoformat(moment), NEW_YORK, table) == datetime.fromisoformat(utc_now)


@settings(max_examples=300, deadline=None, database=None)
@given(
    zone=st.sampled_from(ZONES),
    moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2055, 12, 31), timezones=st.just(UTC)),
)
def test_utc_now_is_true_except_an_early_repeated_hour(zone: str, moment: datetime) -> None:
    """For any moment of the table's 30 years, the table turns the zone's wall clock into true UTC now;
    only while clocks show a time for the second time may it run ahead (the highlight early), never behind."""
    table = table_for(zone, BUILT.replace(month=1, day=1))
    error = estimate(moment, zone, table) - moment
    if ambiguous(moment, zone):
        assert timedelta(0) <= error <= timedelta(hours=2)
    else:
        assert error == timedelta(0)


def test_formula_reads_back_and_utc_keeps_now() -> None:
    """The name's formula holds the table and reads back; a zone that is UTC all along keeps plain NOW()."""
    table = table_for(NEW_YORK, BUILT)
    formula = utc_now_formula(table)
    assert formula.startswith("NOW()-LOOKUP(NOW()*1440,{0,") and formula.endswith("})/1440")
    assert parse_table(formula) == table
    assert utc_now_formula(table_for("UTC", BUILT)) == "NOW()"
    assert utc_now_formula(table_for("Africa/Abidjan", BUILT)) == "NOW()"
    assert parse_table("NOW()") == ()
    assert parse_table("NOW()+1") is None


# --- the workbook tracker builds ---------------------------------------------------------


def test_new_workbook_for_new_york_compares_with_utc_now(tmp_path: Path) -> None:
    """A workbook built for New York defines TrackerUtcNow and TrackerTimezone and the rule compares with the name."""
    path = tmp_path / "events.xlsx"
    build_workbook(load_schema(None), timezone=NEW_YORK, now=BUILT).save(path)
    book = openpyxl.load_workbook(path)
    assert overdue_formula(book) == 'AND($E2<>"",$E2<TrackerUtcNow,$D2<>"Resolved",$D2<>"Closed")'
    assert book.defined_names[UTC_NOW_NAME].attr_text == utc_now_formula(table_for(NEW_YORK, BUILT))
    assert book.defined_names[TIMEZONE_NAME].attr_text == '"America/New_York"'


def test_new_workbook_for_utc_keeps_now(tmp_path: Path) -> None:
    """With the display timezone UTC the rule keeps NOW() and no name is added."""
    path = tmp_path / "events.xlsx"
    build_workbook(load_schema(None), now=BUILT).save(path)
    book = openpyxl.load_workbook(path)
    assert "$E2<NOW()" in overdue_formula(book)
    assert UTC_NOW_NAME not in book.defined_names and TIMEZONE_NAME not in book.defined_names


def test_init_builds_for_the_timezone_in_an_existing_tracker_toml(run: Run, tmp_path: Path) -> None:
    """`tracker init` with a tracker.toml naming New York builds the highlight for New York; validate is quiet about it."""
    (tmp_path / "tracker.toml").write_text('[display]\ntimezone = "America/New_York"\n', encoding="utf-8")
    assert run("init", "--example").exit_code == 0
    book = openpyxl.load_workbook(tmp_path / "events.xlsx")
    assert "$E2<TrackerUtcNow" in overdue_formula(book)
    result = run("validate", "--json")
    assert result.exit_code == 0
    assert not [p for p in json.loads(result.stdout) if "overdue highlight" in p["message"]]


# --- what validate says about an existing workbook ---------------------------------------


def _notes(run: Run) -> list[dict]:
    result = run("validate", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return [p for p in json.loads(result.stdout) if "overdue highlight" in p["message"]]


def _set_timezone(folder: Path, timezone: str) -> None:
    config = folder / "tracker.toml"
    text = re.sub(r'timezone = "[^"]*"', f'timezone = "{timezone}"', config.read_text(encoding="utf-8"))
    text = re.sub(r"^time_format = .*$", "", text, flags=re.M)  # the Z format is refused with another timezone
    config.write_text(text, encoding="utf-8")


def test_validate_notes_a_workbook_whose_highlight_ignores_the_display_timezone(
    run: Run, example: Path, tmp_path: Path
) -> None:
    """A workbook built for UTC (or before this) with the display timezone changed to New York: a note naming sheet, column and rule, and the fix."""
    assert _notes(run) == []
    _set_timezone(tmp_path, NEW_YORK)
    [note] = _notes(run)
    assert note["level"] == "info" and note["sheet"] == "Events" and note["column"] == "Next Update Due (UTC)"
    message = note["message"]
    assert 'AND($E2<>"",$E2<NOW(),' in message and "for a viewer in America/New_York" in message
    assert re.search(r"turns red [45] h late", message)
    assert "tracker init" in message and "tracker validate --formulas" in message and "LOOKUP" not in message
    text = run("validate").stdout
    assert "note: Events (Next Update Due (UTC)): the red overdue highlight" in text


def test_the_fix_validate_gives_is_one_validate_accepts(run: Run, example: Path, tmp_path: Path) -> None:
    """Doing what the note says (the name with its formula, the rule using it) leaves nothing to note."""
    _set_timezone(tmp_path, NEW_YORK)
    [note] = _notes(run)
    assert "tracker validate --formulas" in note["message"]
    said = run("validate", "--formulas").stdout
    assert "in place of NOW()" in said
    formula = _pasted(said)[UTC_NOW_NAME].removeprefix("=")
    book = openpyxl.load_workbook(example)
    from openpyxl.workbook.defined_name import DefinedName

    book.defined_names[UTC_NOW_NAME] = DefinedName(UTC_NOW_NAME, attr_text=formula)
    for cf in book["Events"].conditional_formatting:
        for rule in cf.rules:
            if rule.formula and "<NOW()" in rule.formula[0]:
                rule.formula = [rule.formula[0].replace("<NOW()", f"<{UTC_NOW_NAME}")]
    book.save(example)
    assert _notes(run) == []


def test_validate_notes_a_display_timezone_other_than_the_workbooks(run: Run, tmp_path: Path) -> None:
    """Built for New York, tracker.toml now says Europe/Paris (or UTC): the note names both and how far off the highlight is."""
    (tmp_path / "tracker.toml").write_text('[display]\ntimezone = "America/New_York"\n', encoding="utf-8")
    assert run("init").exit_code == 0
    _set_timezone(tmp_path, "Europe/Paris")
    [note] = _notes(run)
    assert "set for viewers in America/New_York" in note["message"]
    assert "display timezone is Europe/Paris" in note["message"]
    assert re.search(r"turns red [5-7] h early", note["message"])
    assert _pasted(run("validate", "--formulas").stdout)["TrackerTimezone"] == '="Europe/Paris"'
    _set_timezone(tmp_path, "UTC")
    [note] = _notes(run)
    assert "display timezone is UTC" in note["message"]
    assert _pasted(run("validate", "--formulas").stdout)[UTC_NOW_NAME] == "=NOW()"


def _pasted(said: str) -> dict[str, str]:
    """The name and formula lines of `validate --formulas` (tab between)."""
    return dict(line.split("\t", 1) for line in said.splitlines() if "\t" in line)


def test_a_table_running_out_is_noted_a_year_ahead() -> None:
    """The table reaches 30 years ahead; within a year of its end validate says from when it is wrong."""
    rule = Rule('AND($E2<>"",$E2<TrackerUtcNow)', UTC_NOW_NAME)
    names = Names(utc_now_formula(table_for(NEW_YORK, BUILT)), '"America/New_York"')
    assert findings(names, rule, NEW_YORK, BUILT + timedelta(days=365 * 20)) == []
    [message] = findings(names, rule, NEW_YORK, datetime(2055, 6, 1, tzinfo=UTC))
    assert "disagrees with the tz database from 2056-03-12 on" in message and "1 h early" in message


@pytest.mark.parametrize(
    "zone", [*ZONES, "Australia/Lord_Howe", "Antarctica/Troll", "America/Santiago", "Asia/Kathmandu", "Europe/Dublin"]
)
def test_a_fresh_table_agrees_with_the_tz_database_for_the_coming_year(zone: str) -> None:
    """What validate's quick look rests on: a table looked up afresh gives the tz database's offsets all year."""
    now = suite_clock.NOW
    assert _first_disagreement(table_for(zone, now), zone, now) is None


@pytest.mark.parametrize("zone", sorted(ALWAYS_UTC))
def test_the_names_of_utc_validate_skips_are_utc_all_along(zone: str) -> None:
    """The table of these zones is given without looking 30 years of offsets up: the one the look-ups give."""
    now = suite_clock.NOW
    assert zone in available_timezones()
    assert offset_table(zone, now, now + timedelta(days=3 * 366)) == reference_offset_table(
        zone, now, now + timedelta(days=3 * 366)
    )
    assert is_utc(table_for(zone, now))
    assert findings(Names(None, None), Rule("$E2<NOW()", PLAIN_NOW), zone, now) == []


OVERDUE_RULE_NAMED = Rule('AND($E2<>"",$E2<TrackerUtcNow)', UTC_NOW_NAME)
NEW_YORK_NAME = '"America/New_York"'


def _spring_moved(minutes: int) -> tuple[Names, str]:
    """The names of a New York table built at BUILT (pinned) whose change to summer time two years on comes
    `minutes` late, and the day the clocks change then (YYYY-MM-DD)."""
    table = table_for(NEW_YORK, BUILT)
    spring = next(i for i, (start, _) in enumerate(table) if start > minute(f"{BUILT.year + 2}-03-01T00:00"))
    start, offset = table[spring]  # 02:00 local that day: the first minute a clock reads with the new offset is 03:00
    late = (*table[:spring], (start + minutes, offset), *table[spring + 1 :])
    day = (EXCEL_EPOCH + timedelta(minutes=start)).date().isoformat()
    return Names(utc_now_formula(late), NEW_YORK_NAME), day


def test_a_table_from_an_earlier_year_is_checked_for_the_coming_one() -> None:
    """A workbook made years ago keeps its table: nothing to note while it still agrees for the coming year, and
    a change of offset it places a day late is named."""
    table = table_for(NEW_YORK, BUILT)
    agreeing = Names(utc_now_formula(table), NEW_YORK_NAME)
    assert findings(agreeing, OVERDUE_RULE_NAMED, NEW_YORK, BUILT + timedelta(days=3 * 365)) == []
    late, day = _spring_moved(1440)
    [message] = findings(late, OVERDUE_RULE_NAMED, NEW_YORK, datetime(BUILT.year + 1, 6, 1, tzinfo=UTC))
    assert f"disagrees with the tz database from {day} on" in message
    assert findings(late, OVERDUE_RULE_NAMED, NEW_YORK, datetime(BUILT.year + 2, 6, 1, tzinfo=UTC)) == []


def test_a_change_of_offset_an_hour_late_is_named() -> None:
    """A table that puts a change of offset an hour after the clocks change disagrees for that hour only; the
    year is looked at every 3 hours and at each change, so the hour is not missed between two looks."""
    late, day = _spring_moved(120)  # from 04:00, an hour after the clocks show 03:00
    [message] = findings(late, OVERDUE_RULE_NAMED, NEW_YORK, datetime(BUILT.year + 1, 6, 1, tzinfo=UTC))
    assert f"disagrees with the tz database from {day} on" in message and "1 h" in message


# --- LibreOffice as the viewer -----------------------------------------------------------

needs_libreoffice = pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
OVERDUE_FILL = "1 0.7803921568 0.8078431372"  # FFC7CE as LibreOffice's PDF paints it
OVERDUE_FONT = "0.6117647058 0 0.0235294117"  # 9C0006


def _event(due: datetime) -> dict[str, list[dict]]:
    return {
        "Events": [
            {
                "id": suite_clock.event_id(when=due),
                "title": "VPN down",
                "severity": "Sev 3",
                "status": "Investigating",
                "next_update_due": due,
            }
        ]
    }


def _pdf_colours(path: Path) -> set[str]:
    """Every fill colour (`r g b`, as the PDF writes it) the PDF's pages use."""
    from tests.pdf_text import read_pdf

    return {colour for page in read_pdf(path).pages for colour in page.fills}


@pytest.mark.libreoffice
@needs_libreoffice
def test_libreoffice_in_new_york_shows_red_exactly_when_overdue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LibreOffice on a computer in New York: red for an update due 90 min ago, not for one due in 90 min;
    the NOW() rule of older workbooks shows no red for the overdue one (five hours late)."""
    from tests.test_libreoffice import libreoffice

    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    schema = load_schema(None)
    cases = {
        "overdue": build_workbook(schema, _event(now - timedelta(minutes=90)), timezone=NEW_YORK),
        "due-later": build_workbook(schema, _event(now + timedelta(minutes=90)), timezone=NEW_YORK),
        "old-rule": build_workbook(schema, _event(now - timedelta(minutes=90))),
    }
    for name, book in cases.items():
        book.save(tmp_path / f"{name}.xlsx")
    monkeypatch.setenv("TZ", NEW_YORK)
    red = {}
    for name in cases:
        libreoffice(tmp_path / f"{name}.xlsx", "pdf", tmp_path / "pdf", tmp_path / "lo-profile")
        colours = _pdf_colours(tmp_path / "pdf" / f"{name}.pdf")
        red[name] = OVERDUE_FILL in colours and OVERDUE_FONT in colours
    assert red == {"overdue": True, "due-later": False, "old-rule": False}


@pytest.mark.libreoffice
@needs_libreoffice
def test_libreoffice_evaluates_the_name_and_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LibreOffice computes TrackerUtcNow as UTC now in New York (and shifted by the offsets' difference in Paris),
    and the table's LOOKUP at chosen New York clock readings around both changes gives the expected UTC."""
    from tests.test_libreoffice import sheets_as_csv

    table = table_for(NEW_YORK, BUILT)
    path = tmp_path / "events.xlsx"
    build_workbook(load_schema(None), timezone=NEW_YORK, now=BUILT).save(path)
    book = openpyxl.load_workbook(path)
    check = book.create_sheet("Check")
    check.append(["utc now", "now"])
    check.append([f"={UTC_NOW_NAME}", "=NOW()"])
    moments = [
        "2026-03-08T06:59:30Z",
        "2026-03-08T07:00:30Z",
        "2026-11-01T04:59:30Z",
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:30:00Z",
        "2026-11-01T07:00:30Z",
        "2027-03-14T07:00:30Z",
        "2041-08-01T12:00:00Z",
        "2055-12-31T23:00:00Z",
    ]
    expected = {}
    for number, text in enumerate(moments, start=4):
        moment = datetime.fromisoformat(text)
        check.cell(number, 1, local_minute(moment, NEW_YORK) / 1440)
        check.cell(number, 2, "=" + utc_now_formula(table, now=f"A{number}"))
        expected[number] = estimate(moment, NEW_YORK, table)
        if not ambiguous(moment, NEW_YORK):
            assert expected[number] == moment
    for row in check.iter_rows(min_row=2):
        for cell in row:
            cell.number_format = "0.0000000000"  # a number in the CSV, whatever LibreOffice would guess
    book.save(path)

    def serial_time(text: str) -> datetime:
        """A cell LibreOffice exported: a serial number, or a date and time if it chose a date format."""
        try:
            return EXCEL_EPOCH.replace(tzinfo=UTC) + timedelta(days=float(text))
        except ValueError:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)

    monkeypatch.setenv("TZ", NEW_YORK)
    before = datetime.now(UTC)
    rows = sheets_as_csv(path, tmp_path / "ny")["Check"]
    after = datetime.now(UTC)
    utc_now, local_now = serial_time(rows[1][0]), serial_time(rows[1][1])
    # the model of what TrackerUtcNow gives (an hour early in the hour New York's clocks repeat), at the real time
    # LibreOffice evaluated it: a change of the clocks may fall while it ran
    assert _near(utc_now, [estimate(before, NEW_YORK, table), estimate(after, NEW_YORK, table)], before, after)
    walls = [moment.astimezone(ZoneInfo(NEW_YORK)).replace(tzinfo=UTC) for moment in (before, after)]
    assert _near(local_now, walls, before, after)  # TZ reached LibreOffice: NOW() is New York's wall clock
    for number, moment in expected.items():
        assert abs(serial_time(rows[number - 1][1]) - moment) < timedelta(seconds=1), rows[number - 1]

    monkeypatch.setenv("TZ", "Europe/Paris")
    before = datetime.now(UTC)
    rows = sheets_as_csv(path, tmp_path / "paris")["Check"]
    after = datetime.now(UTC)
    paris_now = serial_time(rows[1][0])
    # Paris's wall clock read against New York's table of changes: six hours out (five or seven while one city has
    # changed its clocks and the other not yet, and in the hours Paris's clock shows a New York change still to come)
    paris = [estimate(before, "Europe/Paris", table), estimate(after, "Europe/Paris", table)]
    assert _near(paris_now, paris, before, after)
    assert timedelta(hours=5) - timedelta(minutes=2) <= paris_now - after <= timedelta(hours=7)


def _near(value: datetime, expected: list[datetime], before: datetime, after: datetime) -> bool:
    """Whether `value` (NOW() as a formula turned it, evaluated between `before` and `after`) is within a minute
    of what the model gave at either end, plus the time LibreOffice took."""
    slack = after - before + timedelta(minutes=1)
    return any(abs(value - moment) <= slack for moment in expected)


DUE_SOON_FONT = "0.6117647058 0.3411764705 0"  # 9C5700, the amber rule's text, as LibreOffice's PDF paints it


@pytest.mark.libreoffice
@needs_libreoffice
def test_libreoffice_shows_due_soon_by_each_severitys_remind_before(
    run: Run, example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at
) -> None:  # type: ignore[no-untyped-def]
    """Sev 1 reminds 30 min ahead, Sev 3 5 min, Sev 2 says nothing ([clock] remind_before, 10 min): LibreOffice
    shows in amber exactly the updates `tracker list` marks DUE SOON (it used 10 min for every severity)."""
    from tests.pdf_text import read_pdf
    from tests.test_libreoffice import libreoffice
    from tracker.rules.init import example_rows

    now = datetime.now(UTC).replace(microsecond=0)  # LibreOffice's NOW() is the real clock
    schema = load_schema(None)
    rows = example_rows(schema, now)
    for severity in rows["Severities"]:
        severity["remind_before_minutes"] = {"Sev 1": 30, "Sev 3": 5}.get(severity["name"])
    due = {1: ("Sev 1", 20), 2: ("Sev 3", 8), 3: ("Sev 2", 8), 4: ("Sev 1", 45)}  # severity, minutes ahead
    rows["Events"] = [
        {
            "id": suite_clock.event_id(number, when=now),
            "title": f"Event {number}",
            "severity": severity,
            "status": "Investigating",
            "category": "outage",
            "detected_at": now.replace(tzinfo=None) - timedelta(hours=1),
            "next_update_due": now.replace(tzinfo=None) + timedelta(minutes=minutes),
        }
        for number, (severity, minutes) in due.items()
    ]
    build_workbook(schema, rows, now=now).save(example)
    at(now)
    listed = run("list", "--open")
    assert listed.exit_code == 0, listed.stderr
    soon = {line.split()[0] for line in listed.stdout.splitlines() if "DUE SOON" in line}
    assert soon == {suite_clock.event_id(1, when=now), suite_clock.event_id(3, when=now)}

    monkeypatch.setenv("TZ", "UTC")  # the workbook is built for UTC viewers
    libreoffice(example, "pdf", tmp_path / "pdf", tmp_path / "lo-profile")
    [page] = read_pdf(tmp_path / "pdf" / "events.pdf").sheets["Events"]
    amber = set()
    for number in due:
        [event] = [t for t in page.texts if t.text == suite_clock.event_id(number, when=now)]
        if any(t.colour == DUE_SOON_FONT for t in page.texts if abs(t.y - event.y) < 0.3):
            amber.add(event.text)
    assert amber == soon


def test_formulas_is_asked_alone(run: Run, example: Path) -> None:
    """`validate --formulas` checks nothing, so `--fix` beside it would be silently skipped: refused instead."""
    refused = run("validate", "--formulas", "--fix")
    assert refused.exit_code == 2 and "run it alone" in refused.stderr


def reference_offset_table(timezone: str, start: datetime, end: datetime) -> tuple[tuple[int, int], ...]:
    """`offset_table` as first written: both ends of each day's step looked up afresh."""
    zone = ZoneInfo(timezone)

    def offset(seconds: int) -> int:
        delta = datetime.fromtimestamp(seconds, tz=zone).utcoffset()
        return int(delta.total_seconds() // 60) if delta is not None else 0

    first, last = int(start.timestamp()), int(end.timestamp())
    entries = [(0, offset(first))]
    at = first
    while at < last:
        ahead = min(at + 24 * 3600, last)
        before, after = offset(at), offset(ahead)
        if before != after:
            low, high = at, ahead
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == before else (low, middle)
            new = offset(high)
            local_seconds = high + 60 * min(before, new) - int(EXCEL_EPOCH.replace(tzinfo=UTC).timestamp())
            entries.append((math.ceil(local_seconds / 60), new))
        at = ahead
    return tuple(entries)


@settings(max_examples=40, deadline=None, database=None)
@given(
    st.sampled_from([*ZONES, "UTC", "Pacific/Apia", "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Tehran"]),
    st.datetimes(
        min_value=BUILT.replace(tzinfo=None) - timedelta(days=40 * 365),
        max_value=BUILT.replace(tzinfo=None) + timedelta(days=70 * 365),
        timezones=st.just(UTC),
    ),
    st.integers(0, 3 * 366 * 24 * 3600),
)
def test_the_table_of_offsets_is_the_one_each_day_looked_up_afresh_gives(
    zone: str, start: datetime, seconds: int
) -> None:
    end = start + timedelta(seconds=seconds)
    assert offset_table(zone, start, end) == reference_offset_table(zone, start, end)

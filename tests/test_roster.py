"""The Roster sheet (issue 10, point 1): who is on duty, dated entries over the weekly pattern, true local times
across DST, coverage checks, and `open` giving the event to the duty event manager. Rehearsal clock, no sleeps."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Run

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


def roster_rows(path: Path, *rows: dict[str, object], drop: str | None = None) -> None:
    """Add rows to the Roster table (by header), optionally dropping the rows of one person first."""
    book = openpyxl.load_workbook(path)
    sheet = book["Roster"]
    headers = [c.value for c in sheet[1]]
    kept = [
        [c.value for c in row]
        for row in sheet.iter_rows(min_row=2)
        if any(c.value is not None for c in row) and row[0].value != drop
    ]
    sheet.delete_rows(2, sheet.max_row)
    for values in kept:
        sheet.append(values)
    for row in rows:
        sheet.append([row.get(h) for h in headers])
    table = sheet.tables["RosterTable"]
    table.ref = f"A1:{openpyxl.utils.get_column_letter(len(headers))}{sheet.max_row}"
    book.save(path)


def on_duty(run: Run, when: str) -> dict[str, str]:
    data = json.loads(run("roster", "--at", when, "--json").stdout)
    return {s["role"]: s["person"] for s in data["on_duty"]}


def test_who_is_on_duty_through_the_week(run: Run, example: Path) -> None:
    """Mon 09:00 Alex (duty) and Ravi (operations); Mon 16:00 Sam; Tue 02:00 Jordan; Sat 12:00 and Mon 03:00
    Casey on stand-by; the next duty event manager after Saturday noon is Alex on Monday 07:00."""
    assert on_duty(run, "2026-11-23 09:00")["duty event manager"] == "Alex Morgan"
    assert on_duty(run, "2026-11-23 09:00")["operations manager"] == "Ravi Menon"
    assert on_duty(run, "2026-11-23 16:00")["duty event manager"] == "Sam Rivera"
    assert on_duty(run, "2026-11-24 02:00")["duty event manager"] == "Jordan Lee"
    assert on_duty(run, "2026-11-28 12:00") == {"stand-by": "Casey Nguyen"}
    assert on_duty(run, "2026-11-30 03:00") == {"stand-by": "Casey Nguyen"}
    weekend = json.loads(run("roster", "--at", "2026-11-28 12:00", "--json").stdout)
    assert [(s["person"], s["start"]) for s in weekend["next"]["duty event manager"]] == [
        ("Alex Morgan", "2026-11-30T07:00:00Z")
    ]


def test_a_dated_entry_replaces_the_pattern_while_it_lasts(run: Run, example: Path) -> None:
    """Dana covers Alex's Tuesday shift (leave): Tuesday 09:00 is Dana's, Wednesday 09:00 Alex's again."""
    roster_rows(
        example,
        {
            "Person": "Dana Whitfield",
            "Role": "duty event manager",
            "Date": datetime(2026, 11, 24),
            "Start": "07:00",
            "End": "15:00",
            "Note": "covers Alex (leave)",
        },
    )
    assert on_duty(run, "2026-11-24 09:00")["duty event manager"] == "Dana Whitfield"
    assert on_duty(run, "2026-11-25 09:00")["duty event manager"] == "Alex Morgan"
    assert run("validate").exit_code == 0  # a replacement is not an overlap


def test_shifts_follow_local_time_across_daylight_saving(run: Run, example: Path, tmp_path: Path) -> None:
    """In New York a 07:00 shift starts at 12:00Z in winter and 11:00Z in summer."""
    config = tmp_path / "tracker.toml"
    config.write_text(re.sub(r"\[display\][^\[]*", '[display]\ntimezone = "America/New_York"\n\n', config.read_text()))
    assert on_duty(run, "2026-11-23 07:30")["duty event manager"] == "Alex Morgan"  # local time
    winter = json.loads(run("roster", "--at", "2026-11-23 07:30", "--json").stdout)["on_duty"]
    summer = json.loads(run("roster", "--at", "2026-07-13 07:30", "--json").stdout)["on_duty"]
    start = {s["role"]: s["start"] for s in winter}["duty event manager"]
    assert start == "2026-11-23T12:00:00Z"
    assert {s["role"]: s["start"] for s in summer}["duty event manager"] == "2026-07-13T11:00:00Z"


def test_validate_reports_gaps_and_two_managers_at_once(run: Run, example: Path) -> None:
    """Without the night shift nobody answers from 23:00; a second duty manager 10:00-12:00 overlaps Alex."""
    roster_rows(
        example,
        {"Person": "Lee Park", "Role": "duty event manager", "Days": "Mon-Fri", "Start": "10:00", "End": "12:00"},
        drop="Jordan Lee",
    )
    checked = run("validate")
    assert checked.exit_code == 1
    assert re.search(r"Roster: nobody on duty or stand-by from \w{3} \d\d \w{3} 23:00 UTC to", checked.stdout)
    assert "two duty event managers at once: Alex Morgan (row 2) and Lee Park (row" in checked.stdout


def test_overlaps_are_found_beyond_the_next_shift(run: Run, example: Path) -> None:
    """Tim's long Tuesday (06:00-20:00) overlaps Jordan's night, Alex's morning and, past Alex, Sam's evening: the
    overlap with Sam is reported too, not only those with the shifts next to Tim's in time."""
    roster_rows(
        example, {"Person": "Tim Doe", "Role": "duty event manager", "Days": "Tue", "Start": "06:00", "End": "20:00"}
    )
    checked = run("validate")
    assert checked.exit_code == 1
    overlaps = [line for line in checked.stdout.splitlines() if "two duty event managers at once" in line]
    for other in ("Jordan Lee", "Alex Morgan", "Sam Rivera"):
        assert any("Tim Doe" in line and other in line for line in overlaps), (other, overlaps)


def test_open_gives_the_event_to_whoever_is_on_duty(run: Run, example: Path, at) -> None:  # type: ignore[no-untyped-def]
    """Opened on Monday 16:00 the event manager is Sam Rivera; on Saturday, Casey (stand-by); --set wins."""
    at(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))
    first = run("open", "--title", "a", "--severity", "Sev 3", "--service", "VPN", "--impact", "x").stdout.strip()
    at(datetime(2026, 11, 28, 16, 0, tzinfo=UTC))
    second = run("open", "--title", "b", "--severity", "Sev 3", "--service", "VPN", "--impact", "x").stdout.strip()
    third = run(
        "open",
        "--title",
        "c",
        "--severity",
        "Sev 3",
        "--service",
        "VPN",
        "--impact",
        "x",
        "--set",
        "event_manager=Alex Morgan",
    ).stdout.strip()
    managers = {e["id"]: e["event_manager"] for e in json.loads(run("list", "--json").stdout)}
    assert (managers[first], managers[second], managers[third]) == ("Sam Rivera", "Casey Nguyen", "Alex Morgan")


def test_open_in_a_gap_of_the_roster_says_who_leads(run: Run, example: Path, at) -> None:  # type: ignore[no-untyped-def]
    """Jordan's night shift ends Thursday morning (no Thu-Fri night): an event opened at 23:30 on Thursday has nobody
    on duty to lead it, so its author does, and open says so and how to name someone."""
    roster_rows(
        example,
        {"Person": "Jordan Lee", "Role": "duty event manager", "Days": "Mon-Wed", "Start": "23:00", "End": "07:00"},
        drop="Jordan Lee",
    )
    at(datetime(2026, 11, 26, 23, 30, tzinfo=UTC))
    opened = run("open", "--title", "a", "--severity", "Sev 3", "--service", "VPN", "--impact", "x", "--author", "Dana")
    assert opened.exit_code == 0, opened.stderr
    assert "warning: nobody is on duty on the Roster sheet now, so Dana leads" in opened.stderr
    assert "--set event_manager=NAME" in opened.stderr
    event = json.loads(run("show", opened.stdout.strip(), "--json").stdout)["event"]
    assert event["event_manager"] == "Dana"


def test_a_workbook_without_a_roster_still_works(run: Run, example: Path) -> None:
    """The Roster sheet removed (a workbook from tracker 0.1): validate notes it, roster says how to add it, open
    falls back to whoever typed the command."""
    book = openpyxl.load_workbook(example)
    del book["Roster"]
    book.save(example)
    checked = run("validate")
    assert checked.exit_code == 0 and "sheet 'Roster' is missing (added in tracker 0.2" in checked.stdout
    roster = run("roster")
    assert roster.exit_code == 2 and "no Roster sheet" in roster.stderr
    opened = run("open", "--title", "a", "--severity", "Sev 3", "--service", "VPN", "--impact", "x")
    assert opened.exit_code == 0
    event = json.loads(run("show", opened.stdout.strip(), "--json").stdout)["event"]
    assert event["event_manager"] == "Test Manager"


def test_days_typed_with_an_en_dash_mean_the_range(run: Run, example: Path) -> None:
    """Excel's AutoCorrect turns Mon-Fri into Mon–Fri: still Monday to Friday, and validate accepts it."""
    book = openpyxl.load_workbook(example)
    sheet = book["Roster"]
    column = [c.value for c in sheet[1]].index("Days") + 1
    sheet.cell(2, column).value = "Mon\u2013Fri"
    book.save(example)
    assert run("validate").exit_code == 0
    assert on_duty(run, "2026-11-26 09:00")["duty event manager"] == "Alex Morgan"  # a Thursday


def test_a_roster_row_whose_date_is_text_is_said_by_the_commands_that_use_it(run: Run, example: Path) -> None:
    """Dana's swap typed as the text '24/11/2026' (another locale's date, kept as words by Excel) does not apply,
    and roster, due and watch each say which cell is ignored instead of silently keeping Alex on duty."""
    roster_rows(
        example,
        {"Person": "Dana Whitfield", "Role": "duty event manager", "Date": "24/11/2026", "Start": "07:00", "End": "15"},
    )
    shown = run("roster", "--at", "2026-11-24 09:00")
    assert "Alex Morgan" in shown.stdout
    for words in ("Date '24/11/2026' is not a date, so this row is ignored", "End '15' is not a time"):
        assert words in shown.stderr
        assert words in run("due").stderr
        assert words in run("watch", "--ticks", "1").stdout
    assert re.search(r"warning: Roster![A-Z]+\d+: Date '24/11/2026'", shown.stderr), shown.stderr


@pytest.mark.parametrize(
    ("start", "end", "warned"),
    [("07:00", "3pm", "End '3pm' is not a time"), ("24:00", "07:00", "Start '24:00' is not a time")],
)
def test_a_row_said_to_be_ignored_is_ignored(run: Run, example: Path, start: str, end: str, warned: str) -> None:
    """Alex's weekday row with an End of "3pm", or a Start of "24:00", is said to be ignored, and it is: Sam alone
    is the duty event manager at 19:00 (before, "3pm" read as midnight and kept Alex on duty beside Sam until then,
    and a Start of 24:00 dropped the row without a word)."""
    book = openpyxl.load_workbook(example)
    sheet = book["Roster"]
    headers = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "Alex Morgan")
    row[headers.index("Start")].value, row[headers.index("End")].value = start, end
    book.save(example)
    shown = run("roster", "--at", "2026-11-23 19:00", "--json")
    assert warned in shown.stderr, shown.stderr
    duty = [s["person"] for s in json.loads(shown.stdout)["on_duty"] if s["role"] == "duty event manager"]
    assert duty == ["Sam Rivera"]
    assert on_duty(run, "2026-11-23 09:00").get("duty event manager") is None  # the row is ignored all day


def test_24_00_as_excel_keeps_it_ends_the_shift_at_midnight_without_a_warning(run: Run, example: Path) -> None:
    """An End of 24:00 typed in a time cell, which Excel keeps as a duration of one day: Sam's shift runs to
    midnight and nothing calls the row ignored (before, it was warned "ignored" and used)."""
    from datetime import timedelta

    book = openpyxl.load_workbook(example)
    sheet = book["Roster"]
    headers = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "Sam Rivera")
    row[headers.index("End")].value = timedelta(days=1)
    book.save(example)
    shown = run("roster", "--at", "2026-11-23 23:30", "--json")
    assert "ignored" not in shown.stderr, shown.stderr
    assert "Sam Rivera" in [s["person"] for s in json.loads(shown.stdout)["on_duty"]]


def test_days_validate_refuses_are_said_and_days_it_takes_work(run: Run, example: Path) -> None:
    """Alex's Days typed "Mon to Fri" (validate: not a list of weekdays) is said to be ignored, and is: nobody
    holds the duty on Tuesday 09:00 (before, it silently meant Mondays only); "mon-fri", which the commands always
    read as Monday to Friday, is no longer an error to validate."""
    book = openpyxl.load_workbook(example)
    sheet = book["Roster"]
    headers = [c.value for c in sheet[1]]
    rows = {r[0].value: r for r in sheet.iter_rows(min_row=2)}
    rows["Alex Morgan"][headers.index("Days")].value = "Mon to Fri"
    rows["Sam Rivera"][headers.index("Days")].value = "mon-fri"
    book.save(example)
    shown = run("roster", "--at", "2026-11-23 09:00")
    assert "Days 'Mon to Fri' is not a list of weekdays, so this row is ignored" in shown.stderr, shown.stderr
    assert on_duty(run, "2026-11-23 09:00").get("duty event manager") is None
    assert on_duty(run, "2026-11-24 16:00")["duty event manager"] == "Sam Rivera"
    checked = run("validate").stdout
    assert "'Mon to Fri' is not a list of weekdays" in checked and "'mon-fri'" not in checked, checked

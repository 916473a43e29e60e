"""Reaching the stand-by: an unacknowledged event of a paged severity pages the stand-by on duty at their Pager,
again every Page Every minutes until `tracker ack`, each page logged once."""

from __future__ import annotations

import email
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run

PAGER = "5550104@sms.example.com"


def _saturday_morning() -> datetime:
    """The suite clock's next Saturday at 10:00 UTC: the example Roster's weekend stand-by (Casey Nguyen) is on."""
    day = suite_clock.NOW + timedelta(days=(5 - suite_clock.NOW.weekday()) % 7 or 7)
    return day.replace(hour=10, minute=0, second=0, microsecond=0)


def _set(book: openpyxl.Workbook, sheet: str, match: tuple[str, str], column: str, value: object) -> None:
    """Type a value in a row's cell, as someone would in Excel."""
    rows = book[sheet]
    header = [c.value for c in rows[1]]
    for row in rows.iter_rows(min_row=2):
        if row[header.index(match[0])].value == match[1]:
            row[header.index(column)].value = value
            return
    raise AssertionError(f"no {sheet} row with {match}")


def _pages(tmp_path: Path, event_id: str) -> list[str]:
    found = []
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        if str(message["Subject"]).startswith("[PAGE") and event_id in str(message["Subject"]):
            assert str(message["To"]).endswith(f"<{PAGER}>")
            found.append(str(message["Subject"]))
    return found


def _paged_sev1(
    run: Run, example: Path, at: Callable[[datetime], None], pager: str, every: object
) -> tuple[datetime, str]:
    """The weekend stand-by (Casey Nguyen) given `pager`, Sev 1 pages every `every` minutes, and a Sev 1 opened on
    the next Saturday morning: (that moment, the event's ID)."""
    book = openpyxl.load_workbook(example)
    _set(book, "Roster", ("Person", "Casey Nguyen"), "Pager", pager)
    _set(book, "Severities", ("Name", "Sev 1"), "Page Every (min)", every)
    book.save(example)
    start = _saturday_morning()
    at(start)
    opened = run("open", "--title", "Core switch down", "--severity", "Sev 1", "--service", "VPN", "--impact", "x")
    assert opened.exit_code == 0, opened.output
    return start, suite_clock.opened_id(start)


@pytest.mark.dateshift
def test_the_stand_by_is_paged_every_interval_until_ack_then_never(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """A Sev 1 opened on a Saturday pages the weekend stand-by at once and every 10 minutes (Page Every) while
    nobody acknowledges it: four pages in 30 minutes of watch ticks every 5 minutes, one per interval, and one for
    its escalation (not acknowledged after 10 minutes); a watch started again in the same interval sends none, the
    Notifications log has one row each; after `tracker ack`, no more repeats (a later escalation, the update
    overdue, pages once)."""
    start, event_id = _paged_sev1(run, example, at, PAGER, 10)
    watched = run("watch", "--every", "5m", "--ticks", "7")
    assert watched.stdout.count(f"page {event_id}: Casey Nguyen <{PAGER}>") == 5, watched.stdout
    repeats = [f"[PAGE {n}] {event_id} Sev 1 unacknowledged {n * 10 - 10} min" for n in range(1, 5)]
    escalated = f"[PAGE] {event_id} Sev 1 escalated: not acknowledged (since 10 min)"
    assert sorted(_pages(tmp_path, event_id)) == sorted([*repeats, escalated])
    at(start + timedelta(minutes=30))
    assert f"page {event_id}" not in run("watch", "--ticks", "1").stdout  # this interval's page went already
    at(start + timedelta(minutes=31))
    assert run("ack", event_id).exit_code == 0
    after = run("watch", "--every", "5m", "--ticks", "6").stdout
    assert f"[PAGE 5] {event_id}" not in after  # acknowledged: no more repeats
    late = f"[PAGE] {event_id} Sev 1 escalated: update overdue (since 16 min)"  # an escalation still pages, once
    assert after.count(f"page {event_id}: ") == 1 and late in after, after
    assert sorted(_pages(tmp_path, event_id)) == sorted([*repeats, escalated, late])
    log = openpyxl.load_workbook(example)["Notifications"]
    header = [c.value for c in log[1]]
    kinds = [(r[header.index("Event ID")], r[header.index("Kind")]) for r in log.iter_rows(min_row=2, values_only=True)]
    assert kinds.count((event_id, "page")) == 6
    figures = json.loads(run("report", "--json").stdout)["when"]  # pages by hour and weekday, for funding
    paged = [k for k in kinds if k[1] == "page"]  # this event's six, and the example event's (a Sev 1 too)
    assert sum(h["pages"] for h in figures["by_hour"]) == len(paged) >= 6
    assert [d["pages"] for d in figures["by_weekday"]] == [0, 0, 0, 0, 0, len(paged), 0]  # all on the Saturday
    assert [h["hour"] for h in figures["by_hour"] if h["pages"]] == [10]  # between 10:00 and 11:00, as paged


@pytest.mark.dateshift
def test_without_a_stand_by_the_duty_event_manager_is_paged_and_nobody_to_page_is_said_once(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """On a weekday (no stand-by on the example Roster) with no Pager anywhere, the watch says once that nobody can
    be paged and exits 1; with a Pager for the duty event manager on duty (Alex Morgan), they are paged."""
    book = openpyxl.load_workbook(example)
    _set(book, "Severities", ("Name", "Sev 1"), "Page Every (min)", 10)
    book.save(example)
    start = _saturday_morning() + timedelta(days=2)  # Monday 10:00
    at(start)
    assert (
        run("open", "--title", "Core switch down", "--severity", "Sev 1", "--service", "VPN", "--impact", "x").exit_code
        == 0
    )
    event_id = suite_clock.opened_id(start)
    alone = run("watch", "--every", "5m", "--ticks", "3")
    assert alone.exit_code == 1
    assert alone.stdout.count(f"page {event_id} : nobody to page: no stand-by or duty event manager with a Pager") == 1
    book = openpyxl.load_workbook(example)
    _set(book, "Roster", ("Person", "Alex Morgan"), "Pager", PAGER)
    book.save(example)
    at(start + timedelta(minutes=20))
    paged = run("watch", "--ticks", "1")
    assert f"page {event_id}: Alex Morgan <{PAGER}>: [PAGE 3] {event_id} Sev 1 unacknowledged 20 min" in paged.stdout


def test_true_typed_in_page_every_pages_nobody(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """TRUE typed in Page Every (validate names it: not a whole number) is no interval: the severity is not paged,
    as every other cell of minutes reads TRUE (before, Python counted it as 1: a page every minute)."""
    start, event_id = _paged_sev1(run, example, at, PAGER, True)
    assert "Page Every (min)" in run("validate").stdout
    for minute in range(3):
        at(start + timedelta(minutes=minute))
        assert run("watch", "--ticks", "1").exit_code == 0
    assert _pages(tmp_path, event_id) == []


def test_a_pager_that_is_no_address_is_no_pager(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """The weekend stand-by's Pager typed as a phone number ("555 0100", validate names it) is no Pager: nobody is
    paged at it and the watch says nobody can be paged, as when the cell is empty (before, a page went to
    "<@555 0100>", was logged as sent, and nobody else was tried)."""
    _, event_id = _paged_sev1(run, example, at, "555 0100", 10)
    paged = run("watch", "--ticks", "1")
    assert f"page {event_id} : nobody to page: no stand-by or duty event manager with a Pager" in paged.stdout
    assert _pages(tmp_path, event_id) == [] and "555 0100" not in paged.stdout, paged.stdout

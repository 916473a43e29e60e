"""What people type in the workbook acts: an Updates row typed in Excel is applied like `tracker update`, an Events
row typed without an ID becomes an event (intake), each once, by `tracker sync`, every write, notify, `due --remind`
and each `watch` tick. Rows are typed the way people's tools write them (tests/typing_rows.py)."""

from __future__ import annotations

import email
import email.policy
import json
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run, soffice
from tests.typing_rows import WRITERS, type_rows

NOW = suite_clock.NOW
SEV1_CADENCE = timedelta(minutes=30)  # the example's Severities sheet: Sev 1 updates every 30 minutes


def _writers() -> list[Any]:
    return [
        pytest.param(w, marks=pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed"))
        if w == "libreoffice"
        else w
        for w in WRITERS
    ]


def _show(run: Run, event_id: str) -> dict[str, Any]:
    shown = run("show", event_id, "--json")
    assert shown.exit_code == 0, shown.stderr
    payload = json.loads(shown.stdout)
    return payload["event"] | {"timeline": payload["timeline"]}


def _time(text: str | None) -> datetime | None:
    return suite_clock.parse(text) if text else None


def _updates(workbook: Path) -> list[dict[str, Any]]:
    with warnings.catch_warnings():  # LibreOffice's print area as a defined name: openpyxl warns, and that is all
        warnings.simplefilter("ignore")
        ws = openpyxl.load_workbook(workbook)["Updates"]
    headers = [c.value for c in ws[1]]
    return [dict(zip(headers, row, strict=False)) for row in ws.iter_rows(min_row=2, values_only=True) if any(row)]


def _outbox(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((folder / "outbox").glob("*.eml"))
    ]


def _text(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


@pytest.mark.parametrize("writer", _writers())
def test_an_updates_row_typed_with_monitoring_moves_the_event(
    run: Run, example: Path, event_id: str, at: Callable[[datetime], None], writer: str
) -> None:
    """An Updates row typed in Excel (Event ID, Status Monitoring, Note, Author; At left empty) is applied by
    `tracker sync` as `tracker update` would: the event goes to Monitoring, Last Update is when tracker saw the row,
    Next Update Due moves by Sev 1's 30 minutes; the row keeps what was typed, gets its At and Applied filled, and a
    timeline line says what tracker changed. A second sync applies nothing."""
    assert _show(run, event_id)["status"] == "Identified"
    typed = {"Event ID": event_id, "Status": "Monitoring", "Note": "VPN is working again", "Author": "Dana Lee"}
    type_rows(example, writer, {"Updates": [typed]})
    seen = NOW + timedelta(minutes=7)
    at(seen)
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    assert "applied the row typed in Updates!" in synced.stdout
    assert "status Identified -> Monitoring" in synced.stdout and "typed by Dana Lee" in synced.stdout
    event = _show(run, event_id)
    assert event["status"] == "Monitoring"
    assert _time(event["last_update_at"]) == seen
    assert _time(event["next_update_due"]) == seen + SEV1_CADENCE
    assert _time(event["mitigated_at"]) == seen
    rows = _updates(example)
    mine = next(r for r in rows if r["Note"] == "VPN is working again")
    assert mine["Status"] == "Monitoring" and mine["Author"] == "Dana Lee"  # as typed
    assert mine["At (UTC)"] == seen.replace(tzinfo=None)  # filled: when tracker first saw it
    assert str(mine["Applied"]).startswith("applied ")
    line = next(r for r in rows if str(r["Note"]).startswith("Applied the Updates row typed by Dana Lee"))
    assert line["Author"] == "tracker" and line["Internal Only"] == "Yes"
    again = run("sync")
    assert again.exit_code == 0 and again.stdout.strip() == "nothing pending"
    assert len(_updates(example)) == len(rows)


def test_the_next_customer_email_after_a_typed_row_is_consistent(
    run: Run, example: Path, event_id: str, at: Callable[[datetime], None]
) -> None:
    """The customer's next email after a typed Monitoring row says Monitoring's words and the typed update, never
    "cause identified, a fix is in progress" beside it: notify applies the typed row before building the emails."""
    typed = {"Event ID": event_id, "Status": "Monitoring", "Note": "VPN is working again", "Author": "Dana Lee"}
    type_rows(example, "openpyxl", {"Updates": [typed]})
    at(NOW + timedelta(minutes=10))
    sent = run("notify", event_id, "--audience", "customer")
    assert sent.exit_code == 0, sent.stdout + sent.stderr
    text = _text(_outbox(example.parent)[-1])
    assert "A fix has been applied and we are monitoring the service." in text
    assert "fix is in progress" not in text
    assert _show(run, event_id)["status"] == "Monitoring"


def test_any_write_applies_typed_rows_first(
    run: Run, example: Path, event_id: str, at: Callable[[datetime], None]
) -> None:
    """A command that writes (here `tracker update` of the same event) applies the typed row first, in the same
    write: the command then sees the event at Monitoring."""
    typed = {"Event ID": event_id, "Status": "Monitoring", "Note": "VPN is working again", "Author": "Dana Lee"}
    type_rows(example, "openpyxl", {"Updates": [typed]})
    at(NOW + timedelta(minutes=5))
    done = run("update", event_id, "--note", "Watching the queues")
    assert done.exit_code == 0, done.stderr
    assert "applied the row typed in Updates!" in done.stderr
    assert _show(run, event_id)["status"] == "Monitoring"  # the update kept the status the typed row set


def test_a_typed_row_the_lifecycle_refuses_is_left_as_typed_and_reported(
    run: Run, example: Path, event_id: str, at: Callable[[datetime], None]
) -> None:
    """A row typed for a Resolved event with an open status is not applied (reopening needs --reopen): sync names
    the cell and the command; the row and the event stay as they were, and the next sync says it again."""
    assert run("resolve", event_id, "--note", "fixed", "--force").exit_code == 0
    typed = {"Event ID": event_id, "Status": "Investigating", "Note": "it is back", "Author": "Dana Lee"}
    type_rows(example, "openpyxl", {"Updates": [typed]})
    at(NOW + timedelta(minutes=5))
    synced = run("sync")
    assert synced.exit_code == 0
    row = next(i for i, r in enumerate(_updates(example), start=2) if r["Note"] == "it is back")
    assert f"warning: Updates!D{row}:" in synced.stdout
    assert "--status Investigating --reopen" in synced.stdout
    assert _show(run, event_id)["status"] == "Resolved"
    mine = next(r for r in _updates(example) if r["Note"] == "it is back")
    assert mine["Applied"] is None and mine["At (UTC)"] is None
    assert f"warning: Updates!D{row}:" in run("sync").stdout


def _duty(run: Run) -> str:
    """Who takes a new event now: the Roster's duty event manager, else the stand-by (on a weekday a communication
    lead may be on duty too, listed first)."""
    on_duty = {on["role"]: str(on["person"]) for on in json.loads(run("roster", "--json").stdout)["on_duty"]}
    return on_duty.get("duty event manager") or on_duty["stand-by"]


@pytest.mark.parametrize("writer", _writers())
def test_events_rows_with_only_a_title_become_events(
    run: Run, example: Path, at: Callable[[datetime], None], writer: str
) -> None:
    """Two Events rows typed at the same moment with only a title: validate says they wait (no error), sync takes
    both in with distinct IDs, Reported to EM when tracker saw them, Investigating, the least severe severity and the
    duty event manager; each has a first timeline line saying where it came from."""
    type_rows(example, writer, {"Events": [{"Title": "Printers down on floor 3"}, {"Title": "Wifi slow in B"}]})
    checked = run("validate")
    assert checked.exit_code == 0, checked.stdout
    assert "typed without an ID" in checked.stdout
    seen = NOW + timedelta(minutes=3)
    at(seen)
    duty = _duty(run)
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    first, second = suite_clock.event_id(2), suite_clock.event_id(3)
    assert f"new event {first}" in synced.stdout and f"new event {second}" in synced.stdout
    for key, title in ((first, "Printers down on floor 3"), (second, "Wifi slow in B")):
        event = _show(run, key)
        assert event["title"] == title
        assert event["status"] == "Investigating" and event["severity"] == "Sev 4"
        assert _time(event["reported_at"]) == seen and _time(event["detected_at"]) == seen
        assert event["event_manager"] == duty
        assert event["acknowledged_at"] is None  # the first-response clock runs
        notes = [entry["note"] for entry in event["timeline"]]
        assert any(n.startswith("Taken in from the Events sheet (row ") and key in n for n in notes)
    assert run("validate").exit_code == 0
    assert run("sync").stdout.strip() == "nothing pending"


def test_the_duty_event_manager_is_told_once_of_an_event_taken_in(
    run: Run, example: Path, event_id: str, at: Callable[[datetime], None]
) -> None:
    """`due --remind` sends the duty event manager one [NEW EVENT] message about an event taken in, naming the empty
    Impact and the command that fills it, and no separate [BLOCKED] reminder; a second run sends nothing more."""
    type_rows(example, "openpyxl", {"Events": [{"Title": "Printers down on floor 3", "Reported By": "Sam Reyes"}]})
    at(NOW + timedelta(minutes=3))
    duty = _duty(run)
    run("due", "--remind")
    new = suite_clock.event_id(2)
    told = [m for m in _outbox(example.parent) if new in str(m["Subject"])]
    assert [str(m["Subject"]) for m in told] == [f"[NEW EVENT] {new}: Printers down on floor 3 (Sev 4)"]
    assert duty in str(told[0]["To"])
    text = _text(told[0])
    assert "reported by Sam Reyes" in text
    assert f'Impact: tracker update {new} --note "Impact recorded" --set impact="..."' in text
    assert f"tracker ack {new}" in text
    at(NOW + timedelta(minutes=20))
    run("due", "--remind")
    assert len([m for m in _outbox(example.parent) if new in str(m["Subject"])]) == 1


@pytest.mark.parametrize("reported", ["this morning", None])
def test_a_new_event_whose_reported_cell_holds_no_time_is_told_from_its_detection(
    run: Run, example: Path, event_id: str, at: Callable[[datetime], None], reported: str | None
) -> None:
    """An event taken in, then its Reported cell typed over with text (validate names it) or cleared: `due --remind`
    still tells the duty event manager, with the first-response clock running from Detected, as `due` and `show`
    count it (before: a traceback for the text; the moment of the reminder for the empty cell)."""
    type_rows(example, "openpyxl", {"Events": [{"Title": "Printers down on floor 3"}]})
    seen = NOW + timedelta(minutes=3)
    at(seen)
    assert run("sync").exit_code == 0
    new = suite_clock.event_id(2)
    book = openpyxl.load_workbook(example)
    events = book["Events"]
    header = [c.value for c in events[1]]
    row = next(r for r in events.iter_rows(min_row=2) if r[0].value == new)
    row[header.index("Reported to EM (UTC)")].value = reported
    book.save(example)
    at(seen + timedelta(minutes=10))
    reminded = run("due", "--remind")
    assert reminded.exit_code == 4, reminded.stderr  # 4: its first notice waits for an Impact; no crash (3)
    (told,) = [m for m in _outbox(example.parent) if new in str(m["Subject"])]
    detected = seen.strftime("%d %b %Y %H%MZ")  # the display format of the example's tracker.toml
    assert f"reported to event management (detected at {detected});" in _text(told)
    assert f"(the first-response clock runs from {detected})" in _text(told)


def test_watch_applies_typed_rows_each_tick(run: Run, example: Path, event_id: str) -> None:
    """One `watch` tick applies a typed Updates row and takes in a typed Events row, and says so."""
    type_rows(
        example,
        "openpyxl",
        {
            "Updates": [{"Event ID": event_id, "Status": "Monitoring", "Note": "VPN is back", "Author": "Dana Lee"}],
            "Events": [{"Title": "Printers down on floor 3"}],
        },
    )
    watched = run("watch", "--ticks", "1")
    assert watched.exit_code == 0, watched.stderr
    assert "applied the row typed in Updates!" in watched.stdout
    assert f"new event {suite_clock.event_id(2)}" in watched.stdout
    assert _show(run, event_id)["status"] == "Monitoring"


def _drop_applied(workbook: Path) -> None:
    """The workbook as tracker 0.3 made it: no Applied column on Updates."""
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Updates"]
    column = [c.value for c in ws[1]].index("Applied") + 1
    ws.delete_cols(column)
    table = ws.tables["UpdatesTable"]
    first, last = table.ref.split(":")
    table.ref = f"{first}:{openpyxl.utils.get_column_letter(column - 1)}{''.join(c for c in last if c.isdigit())}"
    table.tableColumns = table.tableColumns[: column - 1]
    table.autoFilter = None
    wb.save(workbook)


def test_a_workbook_without_the_applied_column_applies_nothing_until_it_is_added(
    run: Run, example: Path, event_id: str, at: Callable[[datetime], None]
) -> None:
    """A workbook made before the Applied column: validate says typed rows wait for it, and sync changes nothing.
    Once someone types the header, the rows already there (tracker's own lines among them) stay history, and the row
    typed after acts."""
    _drop_applied(example)
    at(NOW + timedelta(minutes=2))
    assert run("update", event_id, "--note", "Still on it").exit_code == 0
    typed = {"Event ID": event_id, "Status": "Monitoring", "Note": "VPN is working again", "Author": "Dana Lee"}
    type_rows(example, "openpyxl", {"Updates": [typed]})
    checked = run("validate")
    assert "rows typed on Updates are not applied until it is there" in checked.stdout
    at(NOW + timedelta(minutes=4))
    assert run("sync").stdout.strip() == "nothing pending"
    assert _show(run, event_id)["status"] == "Identified"
    wb = openpyxl.load_workbook(example)
    ws = wb["Updates"]
    column = ws.max_column + 1
    ws.cell(1, column, "Applied")
    table = ws.tables["UpdatesTable"]
    first, last = table.ref.split(":")
    table.ref = f"{first}:{openpyxl.utils.get_column_letter(column)}{''.join(c for c in last if c.isdigit())}"
    table.tableColumns = []  # openpyxl writes them again from the header row
    table._initialise_columns()
    wb.save(example)
    before = _show(run, event_id)
    at(NOW + timedelta(minutes=6))
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    event = _show(run, event_id)
    assert event["status"] == "Monitoring"  # the typed row (typed after the last update) acted, once
    assert synced.stdout.count("applied the row typed in") == 1
    assert event["acknowledged_at"] == before["acknowledged_at"]

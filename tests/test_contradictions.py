"""No contradiction goes out: facts of an event that disagree (its Status and its latest update, a Resolved time on
an open event, an ETA before detection), typed in Excel, are named by `validate` and stop `notify`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Run

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


def _type_update(path: Path, status: str, *, author: str = "Sam Lee", internal: str = "No") -> None:
    """An Updates row at the end of the table, as Excel extends it, ten minutes after the latest one, its Applied cell
    filled: a row tracker has recorded (a typed row is applied instead: tests/test_typed_rows.py), so the Events row
    disagreeing with it is a contradiction someone typed there."""
    book = openpyxl.load_workbook(path)
    sheet = book["Updates"]
    last = max(row[1] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0])
    row = [sheet["A2"].value, last + timedelta(minutes=10), author, status, "VPN is working again", None, internal]
    sheet.append([*row, None, "written by tracker"])
    table = sheet.tables["UpdatesTable"]
    table.ref = f"A1:{table.ref.split(':')[1][0]}{sheet.max_row}"
    book.save(path)


def _type(path: Path, sheet: str, cell: str, value: object) -> None:
    book = openpyxl.load_workbook(path)
    book[sheet][cell] = value
    book.save(path)


def _log(path: Path) -> list[tuple]:
    return [r for r in openpyxl.load_workbook(path)["Notifications"].iter_rows(min_row=2, values_only=True) if any(r)]


def _refused(run: Run, example: Path, event_id: str, tmp_path: Path, *cells: str) -> str:
    """`notify` exits 1 naming `cells`, with no outbox file and no Notifications row; returns its stderr."""
    result = run("notify", event_id)
    assert result.exit_code == 1, result.stdout
    assert "nothing was sent; fix these cells first" in result.stderr and "Traceback" not in result.stderr
    for cell in cells:
        assert cell in result.stderr
    assert not (tmp_path / "outbox").exists() and _log(example) == []
    return result.stderr


def test_a_typed_update_with_another_status_is_reported_and_stops_notify(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A Monitoring update typed while the Events row says Identified (then a later line tracker writes itself,
    which carries no news): validate names both cells and the command, notify refuses; after the command, and
    through resolve and reopen, both agree and notify sends."""
    _type_update(example, "Monitoring")
    _type_update(example, "Identified", author="tracker", internal="Yes")
    result = run("validate")
    assert result.exit_code == 1
    line = next(x for x in result.stdout.splitlines() if "Events!D2 (Status)" in x)
    assert f"{event_id} is Identified here, but its latest update (Updates!D4, " in line
    assert (
        f'says Monitoring; run `tracker update {event_id} --status Monitoring --note "..."`, or correct the cell'
        in line
    )
    _refused(run, example, event_id, tmp_path, "Events!D2 (Status)", "Updates!D4", "--status Monitoring")
    steps = [
        ("update", event_id, "--status", "Monitoring", "--note", "Watching mail flow"),
        ("resolve", event_id, "--note", "Mail flows again"),
        ("update", event_id, "--status", "Investigating", "--reopen", "--note", "Failing again"),
    ]
    for step in steps:
        done = run(*step)
        assert done.exit_code == 0, done.stderr
        assert run("validate").exit_code == 0, step
        sent = run("notify", event_id)
        assert sent.exit_code == 0, sent.stderr


def test_a_resolved_time_on_an_open_event_stops_notify(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A Resolved time typed while the status is Identified: validate and notify name the cell and the fix; so
    does the other way round, Resolved typed in Status without a Resolved time."""
    book = openpyxl.load_workbook(example)
    detected = book["Events"]["K2"].value
    _type(example, "Events", "O2", detected + timedelta(hours=1))
    result = run("validate")
    assert result.exit_code == 1
    assert (
        f"Events!O2 (Resolved (UTC)): {event_id} has a Resolved (UTC) but its Status (Events!D2) is Identified, still "
        f'open; clear the cell, or `tracker resolve {event_id} --note "..."` if it is restored' in result.stdout
    )
    _refused(run, example, event_id, tmp_path, "Events!O2 (Resolved (UTC))")
    _type(example, "Events", "O2", None)
    _type(example, "Events", "D2", "Resolved")
    _refused(run, example, event_id, tmp_path, "Events!O2 (Resolved (UTC))")


def test_an_eta_before_detection_stops_notify(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """An ETA typed before the Detected time: validate and notify name the ETA cell, the Detected cell, the fix."""
    book = openpyxl.load_workbook(example)
    detected = book["Events"]["K2"].value
    _type(example, "Updates", "F3", detected - timedelta(hours=1))
    result = run("validate")
    assert result.exit_code == 1
    line = next(x for x in result.stdout.splitlines() if "Updates!F3 (ETA (UTC))" in x)
    assert f"{event_id}: this ETA is before the event was detected (Events!K2, " in line
    assert f'correct the cell, or give a new one with `tracker update {event_id} --eta HH:MM --note "..."`' in line
    _refused(run, example, event_id, tmp_path, "Updates!F3 (ETA (UTC))", "Events!K2")

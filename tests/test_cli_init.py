"""`tracker init`: a workbook that is pleasant to edit in Excel, built from the schema."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run
from tracker.entry import SCHEMA_SHEETS
from tracker.workbook.schema import load_schema

SHEETS = list(SCHEMA_SHEETS)  # the shipped schema's sheets, in its order (tests/test_startup.py checks them)


def test_init_creates_config_and_every_sheet(run: Run, tmp_path: Path) -> None:
    """Without --example, init writes tracker.toml and an empty workbook with one table per sheet."""
    result = run("init")
    assert result.exit_code == 0, result.stderr
    assert "created tracker.toml" in result.stdout and "created events.xlsx" in result.stdout
    config = tomllib.loads((tmp_path / "tracker.toml").read_text())
    assert config["workbook"]["path"] == "events.xlsx" and config["mail"]["transport"] == "outbox"
    book = openpyxl.load_workbook(tmp_path / "events.xlsx")
    assert book.sheetnames == SHEETS
    schema = load_schema()
    for name in SHEETS:
        ws = book[name]
        titles = [c.value for c in ws[1] if c.value]
        assert titles == [f.title for f in schema[name].fields.values()]
        assert list(ws.tables) == [f"{name}Table"]
        assert ws.freeze_panes in ("A2", "C2")
    assert run("validate").exit_code == 0
    assert run("list").stdout.strip() == "no events"


def test_workbook_helps_the_person_editing_it(run: Run, example: Path) -> None:
    """Headers carry help, enums and references are dropdowns, dates have a format, widths are set."""
    book = openpyxl.load_workbook(example)
    ws = book["Events"]
    headers = {c.value: c for c in ws[1]}
    assert "Severity name from the Severities sheet" in headers["Severity"].comment.text
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    status = validations["D2:D1048576"]
    assert status.type == "list" and status.formula1 == '"Investigating,Identified,Monitoring,Resolved,Closed"'
    severity = validations["C2:C1048576"]
    assert severity.formula1 == "tracker_severities_name"
    defined = book.defined_names["tracker_severities_name"].attr_text
    assert defined.startswith("OFFSET('Severities'!$A$2") and "COUNTA" in defined  # grows with the sheet
    assert severity.prompt.startswith("Severity name")
    assert ws["K2"].number_format == "yyyy-mm-dd hh:mm"
    assert ws.column_dimensions["B"].width == 30  # Title: wraps, so narrow enough for the printed board
    rules = [r for cf in ws.conditional_formatting for r in cf.rules]
    assert any(r.type == "cellIs" and r.formula == ['"Sev 1"'] for r in rules)
    overdue = next(r for r in rules if r.type == "expression")
    assert "NOW()" in overdue.formula[0] and '"Resolved"' in overdue.formula[0]


def test_example_data_is_realistic(run: Run, example: Path, event_id: str) -> None:
    """--example adds Sev 1-4 with cadences and targets, services, distribution lists and an open event."""
    book = openpyxl.load_workbook(example)
    sev = [[c.value for c in row] for row in book["Severities"].iter_rows(min_row=2, max_col=5)]
    assert [r[0] for r in sev] == ["Sev 1", "Sev 2", "Sev 3", "Sev 4"]
    assert sev[0][2:5] == [30, 10, 240]
    emails = [c.value for c in book["Distribution"]["C"][1:]]
    assert emails and all(e.endswith("@example.com") for e in emails)
    updates = [r for r in book["Updates"].iter_rows(min_row=2, values_only=True) if r[0] == event_id]
    assert len(updates) == 2
    assert book["Events"]["A2"].value == event_id and book["Events"]["D2"].value == "Identified"


def test_dropdowns_survive_writes(run: Run, example: Path, event_id: str) -> None:
    """After an update the dropdowns are there once each, not lost and not doubled."""
    assert run("update", event_id, "--note", "x").exit_code == 0
    ws = openpyxl.load_workbook(example)["Events"]
    refs = [str(dv.sqref) for dv in ws.data_validations.dataValidation]
    assert refs.count("C2:C1048576") == 1 and refs.count("D2:D1048576") == 1


def test_init_name_goes_in_user_section(run: Run, tmp_path: Path) -> None:
    """`init --name` writes [user] name (quotes and all, as valid TOML); validate has no note about it."""
    result = run("init", "--example", "--name", 'Alex "AM" Morgan')
    assert result.exit_code == 0, result.stderr
    config = tomllib.loads((tmp_path / "tracker.toml").read_text())
    assert config["user"]["name"] == 'Alex "AM" Morgan'
    assert "show your login name" not in run("validate").stdout


def test_validate_notes_a_login_name_as_contact(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without [user] name or TRACKER_USER, validate says emails would show the login name (a note, exit 0)."""
    monkeypatch.delenv("TRACKER_USER", raising=False)
    assert run("init", "--example").exit_code == 0
    result = run("validate")
    assert result.exit_code == 0
    assert "note: tracker.toml: emails (Contact) and the timeline show your login name" in result.stdout


@pytest.mark.dateshift
@pytest.mark.parametrize("years_on", [0, 2])
def test_init_writes_the_clock_and_teams_settings_commented(
    run: Run, tmp_path: Path, at: Callable[[datetime], None], years_on: int
) -> None:
    """tracker.toml from init carries [clock] and [teams] commented; uncommented as written, they load (Teams then
    wants its webhook URL in the variable it names, and says so). Its process review date is the day of init, so on
    any date the example does not say the yearly review is overdue (a fixed date in it did, a year on)."""
    at(suite_clock.NOW + timedelta(days=365 * years_on))
    assert run("init", "--example").exit_code == 0
    config = tmp_path / "tracker.toml"
    text = config.read_text(encoding="utf-8")
    assert "# [clock]" in text and "# [teams]" in text
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("# [clock]")))
    end = lines.index(next(line for line in lines if line.startswith("# [publish]")))
    lines[start:end] = [line[2:] if line.startswith("# ") else line for line in lines[start:end]]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run("validate").exit_code == 0
    due = run("due")
    assert due.exit_code in (0, 4, 6) and "TRACKER_TEAMS_WEBHOOK" not in due.stderr  # due alone posts nothing
    assert "process review" not in due.stdout, due.stdout
    remind = run("due", "--remind")
    assert remind.exit_code == 2 and "TRACKER_TEAMS_WEBHOOK" in remind.stderr

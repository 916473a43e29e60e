"""`tracker validate`: every cell against the schema, structure and cross-sheet references."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


def _edit(path: Path, sheet: str, cell: str, value: object) -> None:
    book = openpyxl.load_workbook(path)
    book[sheet][cell] = value
    book.save(path)


def _problems(run: Run) -> tuple[int, list[dict]]:
    result = run("validate", "--json")
    return result.exit_code, json.loads(result.stdout)


def test_bad_severity_names_the_cell(run: Run, example: Path) -> None:
    """A severity not on the Severities sheet fails with its cell, header, value and the allowed list."""
    _edit(example, "Events", "C2", "Sev 9")
    result = run("validate")
    assert result.exit_code == 1
    assert (
        "error: Events!C2 (Severity): 'Sev 9' is not listed on the Severities sheet (Name column); allowed: a Name listed on the Severities sheet: Sev 1, Sev 2, Sev 3, Sev 4"
        in result.stdout
    )
    assert "problems found (1 error)" in result.stdout


def test_json_problem_list_is_stable(run: Run, example: Path) -> None:
    """`--json` is a list of objects with level, sheet, cell, column, value, message, allowed."""
    _edit(example, "Events", "D2", "Sleeping")
    code, problems = _problems(run)
    assert code == 1
    assert problems == [
        {
            "level": "error",
            "sheet": "Events",
            "cell": "Events!D2",
            "column": "Status",
            "value": "Sleeping",
            "message": "'Sleeping' is not one of the allowed values",
            "allowed": "one of: Investigating, Identified, Monitoring, Resolved, Closed",
        }
    ]


def test_every_problem_in_a_row_is_reported(run: Run, example: Path) -> None:
    """Three bad cells in one row give three problems, not just the first."""
    book = openpyxl.load_workbook(example)
    ws = book["Events"]
    ws["F2"] = "meltdown"  # category
    ws["I2"] = "lots"  # users affected
    ws["K2"] = "yesterday"  # detected at
    book.save(example)
    code, problems = _problems(run)
    assert code == 1
    assert {p["cell"] for p in problems} == {"Events!F2", "Events!I2", "Events!K2"}
    detected = next(p for p in problems if p["cell"] == "Events!K2")
    assert detected["message"] == "'yesterday' is not a date and time"
    assert "2026-11-21 14:32" in detected["allowed"]


def test_required_and_conditional_fields(run: Run, example: Path) -> None:
    """An empty title, and Resolved without a resolution time, are errors naming the cell."""
    book = openpyxl.load_workbook(example)
    book["Events"]["B2"] = None
    book["Events"]["D2"] = "Resolved"
    book.save(example)
    code, problems = _problems(run)
    messages = {p["cell"]: p["message"] for p in problems}
    assert code == 1
    assert messages["Events!B2"] == "Title is required"
    assert messages["Events!O2"] == "Resolved (UTC) is required when Status is Resolved or Closed"


def test_references_duplicates_and_emails(run: Run, example: Path, event_id: str) -> None:
    """Unknown event IDs on Updates, duplicate event IDs, unknown services and bad emails are all found."""
    book = openpyxl.load_workbook(example)
    book["Updates"]["A3"] = suite_clock.event_id(999)
    book["Events"]["G2"] = "Email, Teleporter"
    book["Distribution"]["C2"] = "not-an-address"
    ws = book["Events"]
    ws["A3"], ws["B3"], ws["C3"], ws["D3"], ws["F3"], ws["K3"] = (
        event_id,
        "Copy",
        "Sev 1",
        "Investigating",
        "outage",
        datetime(2026, 1, 1),
    )
    book.save(example)
    code, problems = _problems(run)
    assert code == 1
    by_cell = {p["cell"]: p for p in problems}
    assert (
        f"'{suite_clock.event_id(999)}' is not listed on the Events sheet (ID column)"
        in by_cell["Updates!A3"]["message"]
    )
    assert by_cell["Events!G2"]["value"] == "Teleporter"
    assert "is used twice (first at Events!A2)" in by_cell["Events!A3"]["message"]
    assert (
        by_cell["Distribution!C2"]["allowed"]
        == "one bare address such as name@example.com (the name goes in the Name column; one row per address)"
    )


def test_missing_sheet_and_renamed_header(run: Run, example: Path) -> None:
    """A deleted sheet and a renamed header are structural errors; the renamed header is named."""
    book = openpyxl.load_workbook(example)
    del book["Changes"]
    book["Services"]["B1"] = "Team"
    book.save(example)
    code, problems = _problems(run)
    assert code == 1
    messages = [p["message"] for p in problems]
    assert "sheet 'Changes' is missing" in messages
    renamed = next(p for p in problems if p["cell"] == "Services!B1" and p["level"] == "error")
    assert "column 'Owning Team' is missing from the header row (found 'Team': renamed?)" == renamed["message"]


def test_user_columns_are_information_and_kept(run: Run, example: Path, event_id: str) -> None:
    """A column the team added is reported as a note (exit 0) and survives writes."""
    book = openpyxl.load_workbook(example)
    ws = book["Events"]
    ws.cell(row=1, column=40, value="Bridge Line")
    ws.cell(row=2, column=40, value="+1 555 0100")
    book.save(example)
    result = run("validate")
    assert result.exit_code == 0
    assert (
        "note: Events!AN1 (Bridge Line): column 'Bridge Line' is not in the schema; it is kept as it is"
        in result.stdout
    )
    assert run("update", event_id, "--note", "still down").exit_code == 0
    assert openpyxl.load_workbook(example)["Events"].cell(row=2, column=40).value == "+1 555 0100"
    shown = json.loads(run("show", event_id, "--json").stdout)
    assert shown["event"]["extra"] == {"Bridge Line": "+1 555 0100"}


def test_excel_typed_values_are_accepted(run: Run, example: Path) -> None:
    """Lower-case enum values, TRUE/FALSE flags and numbers typed as text are read as intended."""
    book = openpyxl.load_workbook(example)
    book["Events"]["D2"] = "identified"
    book["Distribution"]["E2"] = True
    book["Severities"]["C2"] = "30"
    book.save(example)
    assert run("validate").exit_code == 0


def test_audience_without_templates_is_an_error(run: Run, example: Path) -> None:
    """A severity that notifies an audience with no email templates is reported where it is named."""
    book = openpyxl.load_workbook(example)
    book["Severities"]["F3"] = "leadership, ops"
    book["Distribution"].append(["ops", "Ops", "ops@example.com", "To", "Yes"])
    book.save(example)
    code, problems = _problems(run)
    assert code == 1
    (problem,) = problems
    assert problem["cell"] == "Severities!F3" and problem["value"] == "ops"
    assert "has no email templates" in problem["message"]


def test_bad_time_format_is_a_configuration_error(run: Run, example: Path, tmp_path: Path) -> None:
    """A time_format with an unknown directive is refused with exit 2, naming the setting."""
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace('# time_format = "%d %b %Y %H%MZ"', 'time_format = "%Q %"'))
    result = run("list")
    assert result.exit_code == 2 and "[display] time_format '%Q %' has an unknown % directive" in result.stderr


def test_a_huge_number_is_shown_as_excel_shows_it(run: Run, example: Path, event_id: str) -> None:
    """1E+300 typed as Users Affected: validate says `1e+300 is too large` naming the cell and `show` prints
    1e+300, as Excel shows it (both printed the 301 digits of the float, which Excel never held)."""
    book = openpyxl.load_workbook(example)
    headers = {cell.value: cell.column for cell in book["Events"][1]}
    book["Events"].cell(2, headers["Users Affected"]).value = 1e300
    book.save(example)
    checked = run("validate")
    assert checked.exit_code == 1
    assert "Events!I2 (Users Affected): 1e+300 is too large" in checked.stdout
    shown = run("show", event_id)
    assert "Users Affected            1e+300" in shown.stdout
    assert max(len(line) for line in checked.stdout.splitlines() + shown.stdout.splitlines()) < 250


@pytest.mark.parametrize(
    ("typed", "words"),
    [(-5, "-5 is a negative number: Excel shows it as ####"), (0.5, "0.5 is a time on 0 January 1900")],
)
def test_a_date_cell_holding_a_serial_below_one_is_shown_as_typed(
    run: Run, example: Path, event_id: str, typed: float, words: str
) -> None:
    """-5 (or 0.5) in a date-formatted Detected cell: validate and update name the number typed, and show prints it
    (all said '00:00:00', the time of day the reader made of it)."""
    book = openpyxl.load_workbook(example)
    headers = {cell.value: cell.column for cell in book["Events"][1]}
    book["Events"].cell(2, headers["Detected (UTC)"]).value = typed
    book.save(example)
    checked = run("validate")
    assert checked.exit_code == 1
    assert f"Events!K2 (Detected (UTC)): {words}, not a date and time; allowed: a date and time" in checked.stdout
    assert f"Detected                  {typed}" in run("show", event_id).stdout
    notified = run("notify", event_id)
    assert notified.exit_code == 1 and words in notified.stderr and "00:00:00" not in notified.stderr

"""Bad input gets one clear line on stderr, the right exit code, and changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests import suite_clock
from tests.conftest import Run

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (
            ["update", suite_clock.event_id(9999), "--note", "x"],
            1,
            f"no event '{suite_clock.event_id(9999)}' on the Events sheet",
        ),
        (["show", suite_clock.event_id(9999)], 1, f"no event '{suite_clock.event_id(9999)}'"),
        (
            ["open", "--title", "x", "--severity", "Sev 7"],
            2,
            "severity 'Sev 7' is not on the Severities sheet; use one of: Sev 1, Sev 2, Sev 3, Sev 4",
        ),
        (
            ["open", "--title", "x", "--severity", "Sev 1", "--service", "Fax"],
            2,
            "service 'Fax' is not on the Services sheet",
        ),
        (
            ["open", "--title", "x", "--severity", "Sev 1", "--category", "boom"],
            2,
            "category 'boom' is not allowed; use one of: outage, degradation, security, other",
        ),
        (
            ["open", "--title", "x", "--severity", "Sev 1", "--detected", "last tuesday"],
            2,
            "--detected: 'last tuesday' is not a time I understand",
        ),
        (["update", "{id}", "--note", "x", "--eta", "soonish"], 2, "--eta: 'soonish' is not a time I understand"),
        (["update", "{id}", "--note", "x", "--status", "Sleeping"], 2, "status 'Sleeping' is not allowed"),
        (["update", "{id}", "--note", "  "], 2, "--note must not be empty"),
        (
            ["update", "{id}", "--note", "x", "--set", "users_affected=many"],
            2,
            "--set users_affected: 'many' is not a whole number",
        ),
        (["resolve", "{id}", "--note", "x", "--at", "2000-01-01 00:00"], 2, "is before the event was detected"),
        (
            ["update", "{id}", "--note", "x", "--severity", "Sev 9"],
            2,
            "severity 'Sev 9' is not on the Severities sheet",
        ),
    ],
)
def test_bad_values_change_nothing(
    run: Run, example: Path, event_id: str, args: list[str], code: int, expected: str
) -> None:
    """Each bad value is named in one error line with the right exit code; the workbook is unchanged."""
    before = _digest(example)
    result = run(*[a.replace("{id}", event_id) for a in args])
    assert result.exit_code == code
    assert expected in _one_error(result.stderr)
    assert _digest(example) == before


def test_missing_config(run: Run) -> None:
    """Without tracker.toml, commands say how to create one (exit 2)."""
    result = run("list")
    assert result.exit_code == 2
    assert "no tracker.toml in" in _one_error(result.stderr) and "tracker init" in result.stderr


def test_bad_config(run: Run, tmp_path: Path) -> None:
    """Invalid TOML and an unknown timezone are configuration errors (exit 2)."""
    (tmp_path / "tracker.toml").write_text("[workbook\npath = 1")
    assert run("list").exit_code == 2
    (tmp_path / "tracker.toml").write_text('[display]\ntimezone = "Mars/Olympus"\n')
    result = run("list")
    assert result.exit_code == 2 and "'Mars/Olympus' is not a known timezone" in result.stderr


def test_missing_workbook(run: Run, tmp_path: Path) -> None:
    """A tracker.toml whose workbook does not exist says so and suggests init."""
    (tmp_path / "tracker.toml").write_text('[workbook]\npath = "gone.xlsx"\n')
    for args in (["validate"], ["list"], ["update", suite_clock.event_id(), "--note", "x"]):
        result = run(*args)
        assert result.exit_code == 1
        assert "gone.xlsx does not exist; run `tracker init`" in _one_error(result.stderr)


@pytest.mark.parametrize("content", [b"", b"just some text\n", b"PK\x03\x04truncated"])
def test_not_an_xlsx(run: Run, example: Path, content: bytes) -> None:
    """An empty, text or corrupt file in place of the workbook is a clear error for reads and writes."""
    example.write_bytes(content)
    for args in (["validate"], ["list"], ["update", suite_clock.event_id(), "--note", "x"]):
        result = run(*args)
        assert result.exit_code == 1, (args, result.stderr)
        assert "as an .xlsx workbook" in _one_error(result.stderr) or "as an Excel .xlsx workbook" in result.stderr
        assert example.read_bytes() == content


def test_init_refuses_to_overwrite(run: Run, example: Path) -> None:
    """A second `init` leaves the existing workbook alone (exit 2)."""
    before = _digest(example)
    result = run("init", "--example")
    assert result.exit_code == 2
    assert "already exists; tracker init never overwrites a workbook" in _one_error(result.stderr)
    assert _digest(example) == before


def test_bad_cells_a_command_depends_on(run: Run, example: Path, event_id: str) -> None:
    """A text update interval, or a text resolution time, gives a clear error, not a traceback."""
    import openpyxl

    book = openpyxl.load_workbook(example)
    book["Severities"]["C2"] = "thirty"
    book.save(example)
    result = run("update", event_id, "--note", "x")
    assert result.exit_code == 1
    assert "Severities row 2 (Sev 1), Update Every (min): 'thirty' is not a whole number" in _one_error(result.stderr)
    book = openpyxl.load_workbook(example)
    book["Severities"]["C2"] = 30
    book["Events"]["D2"], book["Events"]["O2"] = "Resolved", "yesterday"
    book.save(example)
    result = run("resolve", event_id, "--note", "x")
    assert result.exit_code == 1 and "is already Resolved" in _one_error(result.stderr)


def test_cleared_id_is_not_reused(run: Run, example: Path, event_id: str) -> None:
    """An ID cleared on the Events sheet but still named by updates is not given to a new event."""
    import openpyxl

    book = openpyxl.load_workbook(example)
    book["Events"]["A2"] = None
    book.save(example)
    result = run("open", "--title", "x", "--severity", "Sev 3")
    assert result.exit_code == 0 and result.stdout.strip() != event_id


def test_a_renamed_sheet_is_one_short_line_naming_the_lookalike(run: Run, example: Path) -> None:
    """The Events sheet renamed 'Events 2026' in Excel: update, notify and list say in one short line that sheet
    'Events' is missing and that 'Events 2026' looks like it (a 1,914-character line listed all 31 columns)."""
    import openpyxl

    book = openpyxl.load_workbook(example)
    book["Events"].title = "Events 2026"
    book.save(example)
    for command in (["update", suite_clock.event_id(), "--note", "x"], ["notify", suite_clock.event_id()], ["list"]):
        result = run(*command)
        assert result.exit_code == 1, (command, result.stderr)
        line = _one_error(result.stderr)
        assert "sheet 'Events' is missing (is 'Events 2026' it, renamed?" in line and len(line) < 300, line
        assert "column" not in line

"""Issue 19: what each person sees is right (the points fixed so far, one test each, failing on the main before)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Run


def test_list_shows_a_restoration_breach_when_first_response_is_breached_too(run: Run, example: Path) -> None:
    """Point 3: both timers breached: the SLA column names restoration (the outage itself), not the first listed."""
    opened = run("open", "--title", "Long outage", "--severity", "Sev 1", "--service", "VPN", "--detected", "-10h")
    assert opened.exit_code == 0, opened.stderr
    import openpyxl

    book = openpyxl.load_workbook(example)  # reported 10 h ago too, never acknowledged: both timers breached
    sheet = book["Events"]
    headers = {cell.value: cell.column for cell in sheet[1]}
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == opened.stdout.strip())
    sheet.cell(row, headers["Reported to EM (UTC)"]).value = sheet.cell(row, headers["Detected (UTC)"]).value
    book.save(example)
    line = next(line for line in run("list").stdout.splitlines() if opened.stdout.strip() in line)
    assert "restoration breached" in line, line


def test_init_name_with_a_tracker_toml_already_there_is_written_to_it(run: Run, tmp_path: Path) -> None:
    """Point 4: `init --name` where tracker.toml exists set nothing, and validate then said the emails show the
    login name; now the name goes into its [user] section (comments kept) and init says so."""
    (tmp_path / "tracker.toml").write_text('# our team\n[workbook]\npath = "ops.xlsx"\n', encoding="utf-8")
    created = run("init", "--name", "Alex Morgan")
    assert created.exit_code == 0, created.stderr
    assert "set [user] name in tracker.toml: Alex Morgan" in created.stdout
    text = (tmp_path / "tracker.toml").read_text(encoding="utf-8")
    assert "# our team" in text and 'name = "Alex Morgan"' in text
    assert "login name" not in run("validate").stdout


def test_update_status_lists_only_what_update_takes(run: Run, example: Path, event_id: str) -> None:
    """Point 14: `update --status Fixed` listed Resolved as allowed, and `--status Resolved` was then refused; the
    list leaves it out and points at `tracker resolve`."""
    wrong = run("update", event_id, "--note", "x", "--status", "Fixed")
    assert wrong.exit_code == 2
    assert "Investigating, Identified, Monitoring, Closed" in wrong.stderr and "tracker resolve" in wrong.stderr
    resolved = run("update", event_id, "--note", "x", "--status", "Resolved")
    assert resolved.exit_code != 0 and "tracker resolve" in resolved.stderr


def test_a_severity_typed_without_its_space_is_understood(run: Run, example: Path) -> None:
    """Point 14: `--severity sev1` was refused while "sev 3" was accepted."""
    opened = run("open", "--title", "Typed fast", "--severity", "sev1", "--service", "VPN", "--impact", "x")
    assert opened.exit_code == 0, opened.stderr
    assert "Sev 1" in run("show", opened.stdout.strip()).stdout

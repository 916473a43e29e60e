"""Open, update, resolve, change, list and show through the real CLI on a real workbook."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Run
from tracker.times import CLOCK

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


def _show(run: Run, event_id: str) -> dict:
    result = run("show", event_id, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_example_validates_clean(run: Run, example: Path) -> None:
    """`init --example` then `validate` exits 0."""
    result = run("validate")
    assert result.exit_code == 0, result.stdout
    assert "ok (0 errors)" in result.stdout  # the verdict is output, on stdout


def test_open_prints_new_id_and_list_shows_it(run: Run, example: Path, event_id: str) -> None:
    """`open` prints a fresh ID that `list --json` then shows, with a first timeline entry."""
    result = run("open", "--title", "VPN down at HQ", "--severity", "sev 2", "--service", "VPN,Wi-Fi", "--site", "HQ")
    assert result.exit_code == 0, result.stderr
    new_id = result.stdout.strip()
    assert new_id != event_id and new_id.endswith("-0002")
    listed = json.loads(run("list", "--json").stdout)
    assert [e["id"] for e in listed] == [event_id, new_id]
    shown = _show(run, new_id)
    event = shown["event"]
    assert event["severity"] == "Sev 2" and event["status"] == "Investigating"
    assert event["services_affected"] == "VPN, Wi-Fi" and event["sites_affected"] == "HQ"
    # the example Roster covers every hour: whoever is on duty now leads the event (tests/test_roster.py)
    assert event["event_manager"] in {"Alex Morgan", "Sam Rivera", "Jordan Lee", "Casey Nguyen"}
    assert [e["note"] for e in shown["timeline"]] == ["Event opened: VPN down at HQ"]
    # Sev 2 updates every 60 minutes
    assert _at(event["next_update_due"]) - _at(event["reported_at"]) == timedelta(minutes=60)
    assert run("validate").exit_code == 0


def test_update_moves_next_update_due_and_appends_timeline(run: Run, example: Path, event_id: str) -> None:
    """Each update is timestamped, appended in order, and moves `next update due` by the cadence."""
    before = CLOCK.now() - timedelta(seconds=1)
    result = run("update", event_id, "--note", "Certificate installed", "--status", "Monitoring", "--eta", "+30m")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{event_id}: Monitoring; next update due ")
    shown = _show(run, event_id)
    event, timeline = shown["event"], shown["timeline"]
    last = [e for e in timeline if e["kind"] == "update"][-1]
    assert last["note"] == "Certificate installed" and last["status"] == "Monitoring"
    assert _at(last["at"]) >= before
    assert _at(last["eta"]) - _at(last["at"]) == timedelta(minutes=30)
    assert _at(event["next_update_due"]) - _at(last["at"]) == timedelta(minutes=30)  # Sev 1 cadence
    assert event["last_update_at"] == last["at"] and event["mitigated_at"] == last["at"]
    assert [e["kind"] for e in timeline][-1] == "update"
    times = [_at(e["at"]) for e in timeline]
    assert times == sorted(times)


def test_severity_change_changes_cadence(run: Run, example: Path, event_id: str) -> None:
    """Downgrading to Sev 3 makes the next update due 240 minutes after the update."""
    assert run("update", event_id, "--note", "Only one site left", "--severity", "Sev 3").exit_code == 0
    event = _show(run, event_id)["event"]
    assert event["severity"] == "Sev 3"
    assert _at(event["next_update_due"]) - _at(event["last_update_at"]) == timedelta(minutes=240)


def test_resolve_records_time_cause_and_final_update(run: Run, example: Path, event_id: str) -> None:
    """`resolve` sets Resolved, the resolution time and root cause, clears the due time, adds the final update."""
    result = run("resolve", event_id, "--note", "Mail flow restored", "--cause", "Expired gateway certificate")
    assert result.exit_code == 0, result.stderr
    shown = _show(run, event_id)
    event = shown["event"]
    assert event["status"] == "Resolved" and event["root_cause"] == "Expired gateway certificate"
    assert event["resolved_at"] and event["next_update_due"] is None
    assert shown["timeline"][-1]["note"] == "Mail flow restored"
    assert run("list", "--open", "--json").stdout.strip() == "[]"
    assert run("validate").exit_code == 0
    again = run("resolve", event_id, "--note", "again")
    assert again.exit_code == 1 and "already Resolved" in again.stderr


def test_lifecycle_rules(run: Run, example: Path, event_id: str) -> None:
    """Closed needs Resolved first; a Closed event only reopens with --reopen."""
    early = run("update", event_id, "--note", "close it", "--status", "Closed")
    assert early.exit_code == 1 and "only a Resolved event can be closed" in early.stderr
    via_update = run("update", event_id, "--note", "done", "--status", "Resolved")
    assert via_update.exit_code == 1 and "tracker resolve" in via_update.stderr
    assert run("resolve", event_id, "--note", "fixed").exit_code == 0
    assert run("review", event_id, "--record", "--facilitator", "Alex Morgan").exit_code == 0  # Sev 1: the gate
    assert run("update", event_id, "--note", "reviewed", "--status", "Closed").exit_code == 0
    assert _show(run, event_id)["event"]["closed_at"]
    refused = run("update", event_id, "--note", "it is back", "--status", "Investigating")
    assert refused.exit_code == 1 and "--reopen" in refused.stderr
    reopened = run("update", event_id, "--note", "it is back", "--status", "Investigating", "--reopen")
    assert reopened.exit_code == 0, reopened.stderr
    event = _show(run, event_id)["event"]
    assert event["status"] == "Investigating" and event["closed_at"] is None and event["resolved_at"] is None
    assert event["next_update_due"]
    assert run("validate").exit_code == 0


def test_change_appears_in_timeline(run: Run, example: Path, event_id: str) -> None:
    """A recorded change shows in `show` among the updates, in time order."""
    result = run(
        "change", event_id, "--system", "mail-gw-02", "--change", "Restarted transport", "--approved-by", "Dana"
    )
    assert result.exit_code == 0, result.stderr
    text = run("show", event_id).stdout
    assert "CHANGE" in text and "Test Manager on mail-gw-02: Restarted transport (approved by Dana)" in text
    assert text.index("mail-gw-01") < text.index("mail-gw-02")


def test_list_and_show_tables_for_people(run: Run, example: Path, event_id: str) -> None:
    """`list` prints a header and one line per event; `show` prints fields then the timeline."""
    listed = run("list").stdout.splitlines()
    assert listed[0].split() == ["ID", "SEV", "STATUS", "NEXT", "UPDATE", "DUE", "SLA", "TITLE"]
    assert listed[1].startswith(event_id) and "Email outage - all sites" in listed[1]
    shown = run("show", event_id).stdout
    assert shown.startswith(f"{event_id}  Email outage - all sites")
    assert "Timeline" in shown and "Severity" in shown


def test_display_time_format_and_timezone(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Times show in the configured timezone and format; input times are read in that timezone."""
    config = tmp_path / "tracker.toml"
    text = config.read_text().replace('timezone = "UTC"', 'timezone = "America/New_York"')
    config.write_text(text.replace('# time_format = "%d %b %Y %H%MZ"', 'time_format = "%Y-%m-%d %H:%M %Z"'))
    assert run("update", event_id, "--note", "eta given", "--eta", "2099-07-01 09:00").exit_code == 0
    last = _show(run, event_id)["timeline"]
    eta = [e for e in last if e["kind"] == "update"][-1]["eta"]
    assert eta == "2099-07-01T13:00:00Z"  # 09:00 EDT stored as UTC
    assert "2099-07-01 09:00 EDT" in run("show", event_id).stdout


def test_formula_like_text_is_stored_as_text(run: Run, example: Path, event_id: str) -> None:
    """Notes starting with =, +, - or @ stay literal text in the cell, never formulas."""
    notes = ['=HYPERLINK("http://evil","x")', "+1+1", "-2", "@SUM(A1)"]
    for note in notes:
        assert run("update", event_id, "--note", note).exit_code == 0
    book = openpyxl.load_workbook(example)
    cells = [row[4] for row in book["Updates"].iter_rows(min_row=2)]
    stored = [c for c in cells if c.value in notes]
    assert [c.value for c in stored] == notes
    assert all(c.data_type == "s" for c in stored)
    timeline = [e["note"] for e in _show(run, event_id)["timeline"] if e["kind"] == "update"]
    assert timeline[-4:] == notes


def test_set_other_fields(run: Run, example: Path, event_id: str) -> None:
    """`--set FIELD=VALUE` fills other Events columns, checked against the schema."""
    ok = run(
        "update",
        event_id,
        "--note",
        "vendor engaged",
        "--set",
        "vendor_case_number=98765",
        "--set",
        "Users Affected=5000",
    )
    assert ok.exit_code == 0, ok.stderr
    event = _show(run, event_id)["event"]
    assert event["vendor_case_number"] == "98765" and event["users_affected"] == 5000
    bad = run("update", event_id, "--note", "x", "--set", "colour=blue")
    assert bad.exit_code == 2 and "Events field" in bad.stderr


def test_show_finds_numeric_ids(run: Run, example: Path, event_id: str) -> None:
    """An ID typed as a number in Excel is found by `show`, with its timeline."""
    book = openpyxl.load_workbook(example)
    book["Events"]["A2"] = 1001
    for row in book["Updates"].iter_rows(min_row=2, max_row=3):
        row[0].value = 1001
    book.save(example)
    shown = _show(run, "1001")
    assert shown["event"]["id"] == "1001" and [e["kind"] for e in shown["timeline"]] == ["update", "update"]


def test_an_id_on_two_rows_is_refused_naming_both_cells(run: Run, example: Path, event_id: str) -> None:
    """The example's Events row copied below itself in Excel (same ID twice): update, resolve, notify and show
    refuse, exit 1, naming both cells, and the workbook is left as it was (update changed the first row silently)."""
    from openpyxl.utils import get_column_letter

    book = openpyxl.load_workbook(example)
    sheet = book["Events"]
    sheet.append([cell.value for cell in sheet[2]])
    table = next(iter(sheet.tables.values()))
    table.ref = f"A1:{get_column_letter(sheet.max_column)}{sheet.max_row}"
    book.save(example)
    before = example.read_bytes()
    for command in (
        ["update", event_id, "--note", "which one?"],
        ["resolve", event_id, "--note", "fixed"],
        ["notify", event_id],
        ["show", event_id],
    ):
        result = run(*command)
        assert result.exit_code == 1, (command, result.stdout, result.stderr)
        assert f"Events!A2 and Events!A3 all hold the ID {event_id!r}" in result.stderr, result.stderr
    assert example.read_bytes() == before

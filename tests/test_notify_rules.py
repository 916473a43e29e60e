"""Who hears what from `tracker notify`, over the life of an event: sorting the sheet is not news, the scheduled
run announces resolutions, audiences that heard of an event hear its end, and closing sends no second final email."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from tests.conftest import Run


def audiences_in_outbox(tmp_path: Path) -> list[str]:
    """The audience of every .eml in outbox/, in the order written."""
    import email

    files = sorted((tmp_path / "outbox").glob("*.eml"))
    return [str(email.message_from_bytes(p.read_bytes())["X-Tracker-Audience"]) for p in files]


def test_sorting_the_updates_sheet_sends_nothing(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """The rows of Updates put in another order (as Excel's sort does): the scheduled run sends nothing new."""
    assert run("notify", "--open").exit_code == 0
    book = openpyxl.load_workbook(example)
    sheet = book["Updates"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2) if any(c.value for c in row)]
    for number, values in enumerate(reversed(rows), start=2):
        for col, value in enumerate(values, start=1):
            sheet.cell(number, col).value = value  # (cell(..., value=None) would leave the old value)
    book.save(example)
    again = run("notify", "--open")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.count("already sent") == 3
    assert len(audiences_in_outbox(tmp_path)) == 3


def test_the_scheduled_run_announces_a_resolution(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Resolve, then `notify --open`: every audience that heard of the event gets the Resolved message, once."""
    assert run("notify", "--open").exit_code == 0
    assert run("resolve", event_id, "--note", "Mail flows again").exit_code == 0
    resolved = run("notify", "--open")
    assert resolved.exit_code == 0, resolved.stderr
    assert "resolved" in resolved.stdout
    assert sorted(audiences_in_outbox(tmp_path)[3:]) == ["customer", "leadership", "technical"]
    assert run("notify", "--open").stdout.strip() == "no open events"


def test_audiences_that_heard_of_an_event_hear_its_end(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Sent at Sev 1 to three audiences, lowered to Sev 3 (technical only), resolved: all three hear it is over."""
    assert run("notify", event_id).exit_code == 0
    lowered = run("update", event_id, "--note", "Contained", "--severity", "Sev 3")
    assert lowered.exit_code == 0, lowered.stderr
    assert run("resolve", event_id, "--note", "Fixed").exit_code == 0
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert sorted(audiences_in_outbox(tmp_path)[3:]) == ["customer", "leadership", "technical"]


def test_closing_sends_no_second_final_email(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Resolved and announced, then closed with an admin note: nobody gets another "final" email."""
    assert run("resolve", event_id, "--note", "Fixed").exit_code == 0
    assert run("notify", event_id).exit_code == 0
    assert run("update", event_id, "--note", "Post-incident review done", "--status", "Closed").exit_code == 0
    closed = run("notify", event_id)
    assert closed.exit_code == 0, closed.stderr
    assert closed.stdout.count("already sent") == 3
    assert len(audiences_in_outbox(tmp_path)) == 3


def test_the_gate_names_the_kind_the_cell_and_the_command_that_fills_it(run: Run, example: Path) -> None:
    """A new event without Impact: `open` warns that the first notification needs it; notify names the Initial
    notification, the cell and the command to fill it."""
    opened = run("open", "--title", "VPN down", "--severity", "Sev 2", "--service", "VPN")
    assert opened.exit_code == 0
    assert "warning: the first notification needs Impact" in opened.stderr and "--set impact=" in opened.stderr
    new_id = opened.stdout.strip()
    refused = run("notify", new_id)
    assert refused.exit_code == 1
    assert "Events!J3 (Impact) is empty, and an Initial notification needs it" in refused.stderr
    assert f'tracker update {new_id} --note "..." --set impact="..."' in refused.stderr
    filled = run("update", new_id, "--note", "Scope known", "--set", "impact=No remote access")
    assert filled.exit_code == 0, filled.stderr
    assert run("notify", new_id).exit_code == 0
    quiet = run("open", "--title", "Wi-Fi slow", "--severity", "Sev 3", "--service", "VPN", "--impact", "Slow Wi-Fi")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_what_an_audience_cannot_read_is_not_news_to_it(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """An internal note and a new vendor case number: leadership and technical hear of it, the customer, who would
    read the very same email again, does not; a public note then reaches the customer."""
    assert run("notify", "--open").exit_code == 0
    internal = run("update", event_id, "--note", "Vendor escalated", "--set", "vendor_case_number=CASE-2")
    assert internal.exit_code == 0, internal.stderr
    again = run("notify", "--open")
    assert again.exit_code == 0, again.stderr
    assert sorted(audiences_in_outbox(tmp_path)[3:]) == ["leadership", "technical"]
    assert "customer: already sent for this state" in again.stdout
    public = run("update", event_id, "--note", "Fix tested", "--public-note", "A fix is being rolled out")
    assert public.exit_code == 0, public.stderr
    assert run("notify", "--open").exit_code == 0
    assert sorted(audiences_in_outbox(tmp_path)[5:]) == ["customer", "leadership", "technical"]


def test_messages_logged_by_the_previous_version_are_not_sent_again(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """tracker 0.1 logged one fingerprint of the whole event for every audience: after upgrading, the scheduled run
    does not take those for new states and resend everything."""
    from tracker.config import load_config
    from tracker.notify import event_state
    from tracker.store import open_store

    assert run("notify", "--open").exit_code == 0
    tracker = open_store(load_config(tmp_path / "tracker.toml")).read()
    legacy = event_state(tracker, tracker.event(event_id))
    book = openpyxl.load_workbook(example)
    sheet = book["Notifications"]
    column = [c.value for c in sheet[1]].index("State") + 1
    for number in range(2, sheet.max_row + 1):
        if sheet.cell(number, column).value:
            sheet.cell(number, column).value = legacy
    book.save(example)
    again = run("notify", "--open")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.count("already sent") == 3 and len(audiences_in_outbox(tmp_path)) == 3

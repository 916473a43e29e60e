"""Who hears what from `tracker notify`, over the life of an event: sorting the sheet is not news, the scheduled
run announces resolutions, audiences that heard of an event hear its end, and closing sends no second final email."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import V0_1_MADE, V0_3_MADE, Run

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


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
    again = run("notify", "--open", "--verbose")
    assert again.exit_code == 0, again.stderr
    assert "nothing new for leadership, technical, customer (last told" in again.stdout
    assert len(audiences_in_outbox(tmp_path)) == 3


def test_the_scheduled_run_announces_a_resolution(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Resolve, then `notify --open`: every audience that heard of the event gets the Resolved message, once."""
    assert run("notify", "--open").exit_code == 0
    assert run("resolve", event_id, "--note", "Mail flows again").exit_code == 0
    resolved = run("notify", "--open")
    assert resolved.exit_code == 0, resolved.stderr
    assert "resolved" in resolved.stdout
    assert sorted(audiences_in_outbox(tmp_path)[3:]) == ["customer", "leadership", "technical"]
    assert run("notify", "--open", "--verbose").stdout.strip() == "no open events"


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
    assert run("review", event_id, "--record", "--facilitator", "Alex Morgan").exit_code == 0  # Sev 1: the gate
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
    again = run("notify", event_id)
    assert again.exit_code == 0, again.stderr
    assert sorted(audiences_in_outbox(tmp_path)[3:]) == ["leadership", "technical"]
    assert "customer: already sent for this state" in again.stdout
    public = run("update", event_id, "--note", "Fix tested", "--public-note", "A fix is being rolled out")
    assert public.exit_code == 0, public.stderr
    assert run("notify", "--open").exit_code == 0
    assert sorted(audiences_in_outbox(tmp_path)[5:]) == ["customer", "leadership", "technical"]


def test_messages_logged_by_the_previous_version_are_not_sent_again(run: Run, tmp_path: Path, v0_1: Path) -> None:
    """tests/data/v0_1 is a tracker made and notified by tracker 0.1 (init --example, notify): its workbook lacks
    0.2's columns and its Notifications rows hold 0.1's whole-event fingerprint. After upgrading, the scheduled run
    sends nothing, and the first real change reaches every audience."""
    again = run("notify", "--open", "--verbose")
    assert again.exit_code == 0, again.stderr
    assert "nothing new for" in again.stdout and not (tmp_path / "outbox").exists()
    updated = run("update", suite_clock.event_id(when=V0_1_MADE), "--note", "Certificate installed")
    assert updated.exit_code == 0, updated.stderr
    news = run("notify", "--open")
    assert news.exit_code == 0 and news.stdout.count(" sent\n") == 3


def test_messages_logged_by_tracker_0_3_are_not_sent_again(run: Run, tmp_path: Path, v0_3: Path) -> None:
    """tests/data/v0_3 was made and notified by tracker 0.3: its workbook lacks the columns 0.4 added (Reported By,
    Approved For, Applied...) and its Notifications rows hold 0.3's fingerprints. After upgrading, the scheduled run
    sends nothing (0.4's empty new columns are no news), and the first real change reaches every audience."""
    again = run("notify", "--open", "--verbose")
    assert again.exit_code == 0, again.stderr
    assert "nothing new for" in again.stdout and not (tmp_path / "outbox").exists()
    key = suite_clock.event_id(when=V0_3_MADE)
    updated = run("update", key, "--note", "Certificate installed", "--public-note", "The fix is going in")
    assert updated.exit_code == 0, updated.stderr
    news = run("notify", "--open")
    assert news.exit_code == 0 and news.stdout.count(" sent\n") == 3


def test_a_change_row_is_news_only_to_audiences_whose_email_shows_changes(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A change recorded on the Changes sheet: technical, whose email lists the changes made, hears of it; the
    customer (may not read changes) and leadership (may, but its email never shows them) do not get the same email
    again. A team's leadership template that shows changes makes them news to leadership too."""
    assert run("notify", event_id).exit_code == 0
    assert run("change", event_id, "--system", "fw-hq-01", "--change", "Restarted").exit_code == 0
    again = run("notify", event_id)
    assert again.exit_code == 0 and "customer: already sent for this state" in again.stdout
    assert "leadership: already sent for this state" in again.stdout
    assert sorted(audiences_in_outbox(tmp_path)[3:]) == ["technical"]
    own = tmp_path / "my_templates" / "email"
    own.mkdir(parents=True)
    base = Path(__file__).parent.parent / "templates" / "email"
    text = (base / "leadership.txt.j2").read_text(encoding="utf-8")
    (own / "leadership.txt.j2").write_text(text + "{% for c in changes %}Change: {{ c.change }}\n{% endfor %}")
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace("[mail]\n", '[mail]\ntemplates = "my_templates"\n', 1))
    shown = run("notify", event_id)
    assert shown.exit_code == 0, shown.stderr
    assert sorted(audiences_in_outbox(tmp_path)[4:]) == ["leadership"]


def test_emails_logged_by_0_2_with_changes_in_their_state_are_not_sent_again(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """Upgrading from 0.2, whose leadership fingerprint counted the Changes rows: an event notified after a change
    (logged with that fingerprint) is not sent to leadership again by this version."""
    from tracker.config import load_config
    from tracker.sending.audience import Audience
    from tracker.sending.fingerprint import event_state
    from tracker.store.backends import open_store

    assert run("change", event_id, "--system", "fw-hq-01", "--change", "Restarted").exit_code == 0
    assert run("notify", event_id).exit_code == 0
    config = load_config(tmp_path / "tracker.toml")
    tracker = open_store(config).read()
    event = tracker.event(event_id)
    as_0_2 = event_state(tracker, event, Audience(tracker, "leadership", config.internal_audiences))
    book = openpyxl.load_workbook(example)
    sheet = book["Notifications"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[header.index("Audience")].value == "leadership":
            row[header.index("State")].value = as_0_2
    book.save(example)
    again = run("notify", event_id)
    assert "leadership: already sent for this state" in again.stdout, again.stdout


def test_sticky_audiences_can_be_named_and_may_have_left(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """Heard at Sev 1, lowered to Sev 3 (technical only): `--audience customer` still reaches the customer; once
    every customer row is inactive, the others are told and the customer is skipped with a warning."""
    assert run("notify", event_id).exit_code == 0
    assert run("update", event_id, "--note", "Contained", "--severity", "Sev 3").exit_code == 0
    named = run("notify", event_id, "--audience", "customer")
    assert named.exit_code == 0, named.stderr
    assert audiences_in_outbox(tmp_path)[3:] == ["customer"]
    assert run("update", event_id, "--note", "Still contained").exit_code == 0
    book = openpyxl.load_workbook(example)
    for row in book["Distribution"].iter_rows(min_row=2):
        if row[0].value == "customer":
            row[4].value = "No"
    book.save(example)
    rest = run("notify", event_id)
    assert rest.exit_code == 0, rest.stderr
    assert sorted(audiences_in_outbox(tmp_path)[4:]) == ["leadership", "technical"]
    assert "customer heard of" in rest.stdout + rest.stderr


def test_closing_after_a_reopen_tells_the_close_audience_again(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """Notify On Close = technical: resolve, notify, close, notify (closed), reopen, notify, resolve, notify, close,
    notify: technical gets a second Closed message; resolving and closing before any notify sends the Resolved
    message and then the Closed one, and the scheduled run then has nothing left to do."""
    book = openpyxl.load_workbook(example)
    sheet = book["Severities"]
    column = [c.value for c in sheet[1]].index("Notify On Close")
    sheet.cell(2, column + 1).value = "technical"
    book.save(example)
    steps = [
        ("resolve", event_id, "--note", "Fixed"),
        ("notify", event_id),
        ("review", event_id, "--record", "--facilitator", "Alex Morgan"),  # Sev 1: closing needs a held review
        ("update", event_id, "--note", "Reviewed", "--status", "Closed"),
        ("notify", event_id),
        ("update", event_id, "--note", "It is back", "--status", "Investigating", "--reopen"),
        ("notify", event_id),
        ("resolve", event_id, "--note", "Fixed again"),
        ("notify", event_id),
        ("update", event_id, "--note", "Reviewed again", "--status", "Closed"),
        ("notify", event_id),
    ]
    for step in steps:
        result = run(*step)
        assert result.exit_code == 0, (step, result.stderr)
    kinds = [k for a, k in _kinds(tmp_path) if a == "technical"]
    assert kinds == ["resolved", "closed", "update", "resolved", "closed"]
    assert run("notify", "--open", "--verbose").stdout.strip() == "no open events"


def _kinds(tmp_path: Path) -> list[tuple[str, str]]:
    import email

    files = sorted((tmp_path / "outbox").glob("*.eml"))
    return [
        (str(m["X-Tracker-Audience"]), str(m["X-Tracker-Kind"]))
        for m in (email.message_from_bytes(p.read_bytes()) for p in files)
    ]

"""Security events: the Categories sheet tells the security audience instead of the severity's, holds the customer
until `tracker approve`, and runs a reporting deadline with at-risk and breach like the SLA timers."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import openpyxl

from tests import suite_clock
from tests.conftest import Run

SECURITY_ID = suite_clock.event_id(2)
OPEN = ("open", "--category", "security", "--title", "Phishing - mailbox takeover", "--severity", "Sev 2")


def _outbox(folder: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((folder / "outbox").glob("*.eml"))
    ]


def _open(run: Run) -> None:
    result = run(*OPEN, "--service", "Email", "--impact", "Two mailboxes sent phishing mail")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == SECURITY_ID


def _deadline(run: Run) -> list[dict[str, object]]:
    items = json.loads(run("due", "--json").stdout)
    items = items["items"] if isinstance(items, dict) else items
    return [i for i in items if i["kind"] == "reporting deadline" and i["event_id"] == SECURITY_ID]


def test_security_event_reaches_only_security_until_approved(run: Run, example: Path, tmp_path: Path) -> None:
    """A security event goes to the security audience only; the customer is held (notify says how to release it,
    and refuses --audience customer) until `tracker approve`, after which notify tells the customer."""
    _open(run)
    result = run("notify", SECURITY_ID)
    assert result.exit_code == 0, result.output
    assert [str(m["X-Tracker-Audience"]) for m in _outbox(tmp_path)] == ["security"]
    assert [a.addr_spec for a in _outbox(tmp_path)[0]["To"].addresses] == ["soc@example.com"]
    text = _outbox(tmp_path)[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Reporting deadline" in text and "0 min of 1 h: running" in text
    assert (
        f"warning: {SECURITY_ID} customer: held until approved: tracker approve {SECURITY_ID} --audience customer"
    ) in result.stderr.splitlines()
    refused = run("notify", SECURITY_ID, "--audience", "customer")
    assert refused.exit_code == 2
    assert f"customer is held for {SECURITY_ID} (security event) until approved" in refused.stderr
    assert len(_outbox(tmp_path)) == 1

    approved = run("approve", SECURITY_ID, "--audience", "customer")
    assert approved.exit_code == 0, approved.output
    assert approved.stdout == f"{SECURITY_ID}: customer approved; `tracker notify {SECURITY_ID}` tells it\n"
    again = run("notify", SECURITY_ID)
    assert again.exit_code == 0, again.output
    assert [str(m["X-Tracker-Audience"]) for m in _outbox(tmp_path)] == ["security", "customer"]
    book = openpyxl.load_workbook(example)
    notes = [str(r[4].value) for r in book["Updates"].iter_rows(min_row=2) if r[0].value == SECURITY_ID]
    assert any(n.startswith("Approved by Test Manager: customer may now be told") for n in notes)
    assert run("approve", SECURITY_ID, "--audience", "customer").stdout.endswith("approved already; nothing changed\n")


def test_approve_refuses_an_audience_not_held(run: Run, example: Path, event_id: str) -> None:
    """Approving an audience the event's category does not hold is one clear line, exit 2."""
    result = run("approve", event_id, "--audience", "customer")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --audience customer: {event_id}'s category outage holds no audience for approval (Categories "
        "sheet, Approval Before: none)"
    )


def test_reporting_deadline_at_risk_then_breached(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """The 60-minute reporting deadline (detection to the customer's first email) shows at risk after 45 minutes
    and breached after 60 in `due`, `show` and the status page; the customer's email stops it."""
    _open(run)
    assert run("notify", SECURITY_ID).exit_code == 0
    assert _deadline(run) == []  # running: nothing owed yet
    at(suite_clock.NOW + timedelta(minutes=46))
    (item,) = _deadline(run)
    assert item["state"] == "at risk" and item["minutes"] == 14
    assert "Reporting deadline at risk" in _page(run, tmp_path)
    at(suite_clock.NOW + timedelta(minutes=61))
    (item,) = _deadline(run)
    assert item["state"] == "breached"
    assert "SLA reporting deadline    1 h 1 min of 1 h: breached" in run("show", SECURITY_ID).stdout
    assert "Reporting deadline breached" in _page(run, tmp_path)
    assert run("approve", SECURITY_ID, "--audience", "customer").exit_code == 0
    assert run("notify", SECURITY_ID).exit_code == 0
    assert _deadline(run) == []
    assert "reported to customer in 1 h 1 min, target 1 h: breached" in run("show", SECURITY_ID).stdout


def _page(run: Run, tmp_path: Path) -> str:
    assert run("publish", "--out", "page.html").exit_code == 0
    return (tmp_path / "page.html").read_text()


def test_validate_checks_the_categories_sheet(run: Run, example: Path) -> None:
    """validate names a Categories row whose category the Events sheet lacks, an audience held for approval that
    the row never tells, and a reporting deadline without its audience."""
    book = openpyxl.load_workbook(example)
    sheet = book["Categories"]
    sheet["A2"], sheet["B2"], sheet["E2"] = "securty", "security", None
    book.save(example)
    result = run("validate")
    assert result.exit_code == 1
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    assert any(
        x.startswith("error: Categories!A2 (Category): 'securty' is no category of the Events sheet") for x in lines
    )
    assert any(
        x.startswith(
            "error: Categories!C2 (Approval Before): 'customer' is held for approval but not in this row's Audiences"
        )
        for x in lines
    )
    assert any(
        x.startswith("error: Categories!E2 (Report To): is empty: a reporting deadline needs both") for x in lines
    )


def test_a_workbook_without_the_categories_sheet_routes_by_severity(run: Run, v0_1: Path, tmp_path: Path) -> None:
    """A workbook made before the Categories sheet (tracker 0.1): a security event goes where its severity says,
    validate notes the sheet is missing, and approve says the category holds nobody."""
    assert "sheet 'Categories' is missing (added in tracker 0.4" in run("validate").stdout + run("validate").stderr
    opened = run(*OPEN, "--service", "Email", "--impact", "Phishing")
    assert opened.exit_code == 0, opened.output
    key = opened.stdout.strip()
    assert run("notify", key).exit_code == 0
    assert {str(m["X-Tracker-Audience"]) for m in _outbox(tmp_path) if key in str(m["Subject"])} == {
        "leadership",
        "technical",
        "customer",
    }
    assert run("approve", key, "--audience", "customer").exit_code == 2


def test_a_held_audience_hears_of_the_event_nowhere_until_approved(
    run: Run, example: Path, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """The customer, held for a security event until `tracker approve`, does not see it on its status page nor get
    an escalation addressed to audience:customer (before, the page showed the event and its public note, and the
    escalation went to customer-ops@); the step says why; once approved, the page shows it."""
    start = suite_clock.NOW
    at(start)
    _open(run)
    book = openpyxl.load_workbook(example)
    sheet = book["Escalations"]
    sheet.append(["Sev 2", "open longer than", 5, "audience:customer", None])
    sheet.tables["EscalationsTable"].ref = f"A1:E{sheet.max_row}"
    for row in book["Severities"].iter_rows(min_row=2):  # the customer hears of Sev 2 events
        if row[0].value == "Sev 2":
            row[[c.value for c in book["Severities"][1]].index("Audiences Notified")].value = "leadership, customer"
    book.save(example)
    assert run("update", SECURITY_ID, "--note", "x", "--public-note", "Mailbox access is being restored").exit_code == 0
    page = tmp_path / "customer.html"
    assert run("publish", "--audience", "customer", "--out", str(page)).exit_code == 0
    assert SECURITY_ID not in page.read_text() and "Mailbox access" not in page.read_text()
    at(start + timedelta(minutes=10))
    escalated = run("due", "--escalate")
    assert f"customer is held for {SECURITY_ID} until approved" in escalated.stderr, escalated.stderr
    assert not [m for m in _outbox(tmp_path) if "customer-ops@example.com" in str(m["To"])]
    assert run("approve", SECURITY_ID, "--audience", "customer").exit_code == 0
    assert run("publish", "--audience", "customer", "--out", str(page)).exit_code == 0
    assert SECURITY_ID in page.read_text()


def test_the_reporting_deadline_is_owed_by_whoever_owes_the_updates(
    run: Run, example: Path, at: Callable[[datetime], None]
) -> None:
    """A security event whose Communication Lead cell names Priya Shah, off shift (the Roster gives her 08:00-17:00
    on weekdays): its reporting deadline at risk is owed by whoever owes its updates now, as `due` says for the
    update (before, by the off-shift name in the cell)."""
    at(suite_clock.NOW)
    result = run(*OPEN, "--service", "Email", "--impact", "x", "--set", "communication_lead=Priya Shah")
    assert result.exit_code == 0, result.output
    evening = suite_clock.NOW.replace(hour=19, minute=0) + timedelta(days=(4 - suite_clock.NOW.weekday()) % 7 or 7)
    at(evening)
    assert (
        run(
            "update",
            SECURITY_ID,
            "--note",
            "Still looking",
            "--set",
            "detected_at=" + evening.strftime("%Y-%m-%d %H:%M"),
        ).exit_code
        == 0
    )
    at(evening + timedelta(minutes=50))
    items = json.loads(run("due", "--json").stdout)["items"]
    owes = {i["kind"]: i["responsible"] for i in items if i["event_id"] == SECURITY_ID}
    assert owes["reporting deadline"] == owes["update"] != "Priya Shah", owes

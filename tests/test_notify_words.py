"""Words per audience, from the schema: each field says who may read it (`x-audiences`), so a new external
audience is safe by default; public notes and a public cause for the customer; bridges; the customer's start time
and severity wording; what closing an event sends; workbooks made before these columns existed."""

from __future__ import annotations

import email
import shutil
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Run
from tracker.errors import SchemaError
from tracker.resources import data_dir

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028

# What only internal audiences may read in the example event (and what this module adds to it).
INTERNAL = {
    "vendor case": "2611210040001234",
    "incident lead": "Dana Whitfield",
    "communication lead": "Priya Shah",
    "change manager": "Chris Lee",
    "response team": "Messaging, Network",
    "vendor": "Microsoft",
    "users affected": "4,200",
    "internal note": "Vendor blames firmware on mail-gw-01",
    "note": "Cert renewed on mail-gw-01 by Chris",
    "root cause": "Expired certificate on mail-gw-01",
    "technical bridge": "meetup-join/email-outage-tech",
    "management bridge": "ext 4412",
    "change": "Installed renewed certificate",
    "technology lead": "Sam Ortiz",
}


def outbox(tmp_path: Path) -> list[EmailMessage]:
    """The messages in outbox/, in the order written."""
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    ]


def body(message: EmailMessage) -> str:
    """Subject, text and HTML of a message, as one string to search."""
    parts = [str(message["Subject"])]
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            parts.append(part.get_content())
    return "\n".join(parts)


def by_audience(tmp_path: Path) -> dict[str, EmailMessage]:
    """The latest message of each audience."""
    return {str(m["X-Tracker-Audience"]): m for m in outbox(tmp_path)}


def add_rows(path: Path, sheet: str, *rows: list[object]) -> None:
    """Append rows to a sheet as a person would in Excel (the table grows with them)."""
    book = openpyxl.load_workbook(path)
    ws = book[sheet]
    for row in rows:
        ws.append(row)
    table = next(iter(ws.tables.values()))
    first, _ = table.ref.split(":")
    table.ref = f"{first}:{openpyxl.utils.get_column_letter(ws.max_column)}{ws.max_row}"
    book.save(path)


def set_cell(path: Path, sheet: str, header: str, key: str, value: object) -> None:
    """Set the cell in `header`'s column of the row whose first cell is `key`, as a person would in Excel."""
    book = openpyxl.load_workbook(path)
    ws = book[sheet]
    column = [c.value for c in ws[1]].index(header) + 1
    for row in ws.iter_rows(min_row=2):
        if row[0].value == key:
            ws.cell(row[0].row, column).value = value
    book.save(path)


@pytest.fixture
def full_event(run: Run, example: Path, event_id: str) -> str:
    """The example event with every kind of internal detail on it, resolved with public words."""
    ok = [
        run("update", event_id, "--note", INTERNAL["internal note"], "--internal"),
        run("update", event_id, "--note", INTERNAL["note"], "--public-note", "A fix is being applied"),
        run("change", event_id, "--system", "mail-gw-01", "--change", INTERNAL["change"]),
    ]
    assert all(r.exit_code == 0 for r in ok), [r.stderr for r in ok]
    set_cell(example, "Services", "Technology Lead", "Email", INTERNAL["technology lead"])
    return event_id


def test_a_new_external_audience_reads_no_internal_field(
    run: Run, example: Path, full_event: str, tmp_path: Path
) -> None:
    """An audience added only on the Distribution sheet (and to the severity) is external: even with the technical
    template, which prints every field, it reads no internal field, no internal or private note, no change."""
    add_rows(example, "Distribution", ["partner", "Partner NOC", "noc@example.com", "To", "Yes"])
    set_cell(example, "Severities", "Audiences Notified", "Sev 1", "leadership, technical, customer, partner")
    folder = tmp_path / "mytemplates" / "email"
    folder.mkdir(parents=True)
    for part in ("subject", "txt", "html"):
        shutil.copy(data_dir("templates") / "email" / f"technical.{part}.j2", folder / f"partner.{part}.j2")
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace("[mail]\n", '[mail]\ntemplates = "mytemplates"\n', 1))
    assert run("update", full_event, "--note", "x", "--set", f"root_cause={INTERNAL['root cause']}").exit_code == 0
    opened = run("notify", full_event)
    assert opened.exit_code == 0, opened.stderr
    technical = body(by_audience(tmp_path)["technical"])
    assert [name for name, text in INTERNAL.items() if text not in technical] == ["management bridge"]
    resolved = run("resolve", full_event, "--note", "Fixed", "--public-cause", "A certificate")
    assert resolved.exit_code == 0, resolved.stderr
    sent = run("notify", full_event)
    assert sent.exit_code == 0, sent.stderr
    partner = [body(m) for m in outbox(tmp_path) if m["X-Tracker-Audience"] == "partner"]
    assert len(partner) == 2
    leaks = [name for name, text in INTERNAL.items() if any(text in b for b in partner)]
    assert leaks == []
    assert "A fix is being applied" in partner[0] and "A certificate" in partner[1]  # what it may read, it reads


def test_leadership_and_customer_read_different_words(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """The note goes to leadership, the public note to the customer; each bridge to its own audience; the
    customer's email has the start time and the severity in its own words."""
    updated = run("update", event_id, "--note", INTERNAL["note"], "--public-note", "We are applying a fix")
    assert updated.exit_code == 0, updated.stderr
    assert run("notify", event_id).exit_code == 0
    mails = by_audience(tmp_path)
    leadership, customer, technical = (body(mails[a]) for a in ("leadership", "customer", "technical"))
    assert INTERNAL["note"] in leadership and "We are applying a fix" not in leadership
    assert "We are applying a fix" in customer and INTERNAL["note"] not in customer
    assert INTERNAL["management bridge"] in leadership and INTERNAL["technical bridge"] not in leadership
    assert INTERNAL["technical bridge"] in technical and INTERNAL["management bridge"] not in technical
    assert "bridge" not in customer.casefold()
    assert "Started:" in customer and "Started" in customer.split("<body", 1)[1]
    assert mails["customer"]["Subject"].startswith("[MAJOR OUTAGE]")
    assert mails["leadership"]["Subject"].startswith("[SEV 1]")


def test_update_says_when_the_customer_will_not_read_the_note(run: Run, example: Path, event_id: str) -> None:
    """A note without --public-note on an event the customer hears of: a note saying so and how to fix it."""
    result = run("update", event_id, "--note", "Rebooting mail-gw-01")
    assert result.exit_code == 0
    assert 'customer will not read this note (Updates Note is for internal audiences); add --public-note "..."' in (
        result.stderr
    )
    assert "will not read" not in run("update", event_id, "--note", "x", "--public-note", "y").stderr
    internal = run("update", event_id, "--note", "x", "--internal", "--public-note", "y")
    assert internal.exit_code == 2 and "--internal" in internal.stderr


def test_closing_tells_only_the_audiences_the_severity_names(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """Notify On Close = leadership: closing sends leadership a Closed message carrying the resolution note and
    time, never the admin note written when closing; the customer and technical get nothing more."""
    assert run("resolve", event_id, "--note", "Mail flows", "--public-note", "Email works again").exit_code == 0
    assert run("notify", event_id).exit_code == 0
    set_cell(example, "Severities", "Notify On Close", "Sev 1", "leadership")
    assert run("review", event_id, "--record", "--facilitator", "Alex Morgan").exit_code == 0  # Sev 1: the gate
    closed = run("update", event_id, "--note", "Post-incident review done", "--status", "Closed")
    assert closed.exit_code == 0, closed.stderr
    result = run("notify", "--open")
    assert result.exit_code == 0, result.stderr
    mails = outbox(tmp_path)
    assert [str(m["X-Tracker-Audience"]) for m in mails[3:]] == ["leadership"]
    last = body(mails[-1])
    assert str(mails[-1]["X-Tracker-Kind"]) == "closed" and "[Closed]" in str(mails[-1]["Subject"])
    assert "Mail flows" in last and "Post-incident review done" not in last and "Restoration ETA:  restored " in last
    assert run("notify", "--open", "--verbose").stdout.strip() == "no open events"


def test_a_final_email_carries_the_resolution_note_not_a_later_one(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A note added after resolving (before anyone was told) does not replace the resolution note."""
    assert run("resolve", event_id, "--note", "Mail flows", "--public-note", "Email works again").exit_code == 0
    assert (
        run("update", event_id, "--note", "Ticket linked", "--public-note", "Thanks for your patience").exit_code == 0
    )
    assert run("notify", event_id).exit_code == 0
    mails = by_audience(tmp_path)
    assert "Email works again" in body(mails["customer"]) and "patience" not in body(mails["customer"])
    assert "Mail flows" in body(mails["leadership"]) and "Ticket linked" not in body(mails["leadership"])


def test_a_workbook_made_before_the_new_columns_still_works(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """Without Public Note, Public Cause, the bridges and the Severities' new columns: validate notes each, notify
    works, and only writing to a missing column is refused, saying how to add it."""
    book = openpyxl.load_workbook(example)
    for sheet, header in (
        ("Updates", "Public Note"),
        ("Events", "Public Cause"),
        ("Events", "Technical Bridge"),
        ("Events", "Management Bridge"),
        ("Severities", "Customer Wording"),
        ("Severities", "Notify On Close"),
    ):
        ws = book[sheet]
        for cell in ws[1]:
            if cell.value == header:
                cell.value = None
                for row in ws.iter_rows(min_row=2, min_col=cell.column, max_col=cell.column):
                    row[0].value = None
    book.save(example)
    checked = run("validate")
    assert checked.exit_code == 0, checked.stdout
    assert checked.stdout.count("(added in tracker 0.2) is not in this workbook yet") == 6
    assert run("update", event_id, "--note", "Working on it").exit_code == 0
    sent = run("notify", event_id)
    assert sent.exit_code == 0, sent.stderr
    assert by_audience(tmp_path)["customer"]["Subject"].startswith("[SEV 1]")
    refused = run("update", event_id, "--note", "x", "--public-note", "y")
    assert refused.exit_code == 1
    assert "no 'Public Note' column yet" in refused.stderr and "UpdatesTable" in refused.stderr


def test_a_schema_with_a_bad_audience_list_is_refused(tmp_path: Path) -> None:
    """x-audiences must name audiences: anything else is a schema error naming the file and property."""
    from tracker.workbook.schema import load_schema

    folder = tmp_path / "schema"
    shutil.copytree(data_dir("workbook_schema"), folder)
    path = folder / "events.json"
    path.write_text(path.read_text().replace('"x-audiences": "everyone"', '"x-audiences": 7', 1))
    with pytest.raises(SchemaError, match="x-audiences must be an audience name"):
        load_schema(folder)

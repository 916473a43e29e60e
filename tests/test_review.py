"""Post-incident reviews (issue 11, point 3): the review draft (Markdown and Word, read back with python-docx and
LibreOffice), the Reviews and Actions sheets, overdue actions in `tracker due`, and the gate before Closed. Every
test drives the CLI on a workbook `tracker init --example` made, on the rehearsal clock."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from click.testing import Result

from tests import suite_clock
from tests.conftest import BuiltOnce, Run, error_lines, soffice

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday morning


def evt(number: int) -> str:
    """The ID of the number-th event opened in START's year (this module's pinned rehearsal clock)."""
    return suite_clock.event_id(number, when=START)


def act(number: int) -> str:
    """The ID of the number-th action added in START's year."""
    return suite_clock.action_id(number, when=START)


EXAMPLE = evt(1)  # the example Sev 1, made an hour before START
SEV2 = evt(2)
INTERNAL_NOTE = "Vendor says firmware 9.1.4 leaks sessions; do not tell the customer yet"
At = Callable[[datetime], None]


@pytest.fixture
def example(run: Run, tmp_path: Path, at: At) -> Path:
    """`tracker init --example` an hour before START (the example event is then older than every moment used)."""
    at(START - timedelta(hours=1))
    assert run("init", "--example").exit_code == 0
    return tmp_path / "events.xlsx"


@pytest.fixture
def outage(run: Run, example: Path, at: At, built_once: BuiltOnce) -> str:
    """A Sev 2 opened at START: an internal update at +10 min, a change at +20 min, the emails at +25 min, resolved
    at +65 min with a cause; the example Sev 1 resolved before it, so nothing else is open (built once per
    session); the clock at +65 min."""
    sev2: str = built_once("review-outage", lambda: _outage(run, at))
    at(START + timedelta(minutes=65))
    return sev2


def _outage(run: Run, at: At) -> str:
    at(START)
    assert run("resolve", EXAMPLE, "--note", "Certificate renewed", "--force").exit_code == 0
    steps = [
        (
            0,
            ["open", "--title", "VPN down at HQ", "--severity", "Sev 2", "--service", "VPN", "--site", "HQ"]
            + ["--users", "300", "--impact", "No VPN from HQ"],
        ),
        (10, ["update", SEV2, "--note", INTERNAL_NOTE, "--internal"]),
        (20, ["change", SEV2, "--system", "fw-hq-01", "--change", "Failed over to fw-hq-02"]),
        (25, ["notify", SEV2]),
        (65, ["resolve", SEV2, "--note", "All tunnels up", "--cause", "Firmware bug", "--public-cause", "A fault"]),
    ]
    for minutes, args in steps:
        at(START + timedelta(minutes=minutes))
        done = run(*args)
        assert done.exit_code == 0, (args, done.stderr)
    return SEV2


def _one_error(result: Result) -> str:
    """The one line a refusal prints on stderr (besides the rehearsal clock's note), starting `error: `."""
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _docx(path: Path):  # type: ignore[no-untyped-def]
    import docx

    return docx.Document(str(path))


def _headings(document) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]


def _table_after(document, heading: str):  # type: ignore[no-untyped-def]
    """The first table after the heading `heading` in the document body."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    seen = False
    for block in document.element.body.iterchildren():
        if block.tag.endswith("}p") and Paragraph(block, document).text == heading:
            seen = True
        elif seen and block.tag.endswith("}tbl"):
            return Table(block, document)
    raise AssertionError(f"no table after {heading!r}")


def _md_table(markdown: str, heading: str) -> list[list[str]]:
    """The rows (header and separator left out) of the Markdown table under `## heading`."""
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


# --- the draft ---------------------------------------------------------------------------------------------------


def test_the_draft_holds_the_whole_story_in_markdown_and_word(run: Run, outage: str, tmp_path: Path, at: At) -> None:
    """`review ID` writes reviews/ID-review.md and .docx beside tracker.toml: the summary, every timeline entry
    in time order (the internal update included: the review is internal), SLA results with minutes and targets, the
    root cause, and the sections to fill in; the Word timeline table has one row per entry."""
    at(START + timedelta(days=1))
    result = run("review", outage)
    assert result.exit_code == 0, result.stderr
    md, word = tmp_path / "reviews" / f"{outage}-review.md", tmp_path / "reviews" / f"{outage}-review.docx"
    assert result.stdout.splitlines() == [f"wrote {Path('reviews') / md.name}", f"wrote {Path('reviews') / word.name}"]
    text = md.read_text(encoding="utf-8")
    assert text.startswith(f"# Post-incident review: {outage} VPN down at HQ\n")
    assert "| **Users affected** | 300 |" in text and "| **Impact** | No VPN from HQ |" in text
    assert "- First response: met, acknowledged in 10 min; target 30 min" in text
    assert "- Restoration: met, restored in 65 min (1 h 5 min); target 480 min (8 h)" in text
    assert "**Cause (internal):** Firmware bug" in text and "**Public cause:** A fault" in text
    timeline = _md_table(text, "Timeline")
    assert [row[0] for row in timeline] == sorted(row[0] for row in timeline)  # times in order
    assert timeline[0][:2] == ["23 Nov 2026 0800Z", "Update (Investigating)"]
    assert timeline[1] == ["23 Nov 2026 0810Z", "Update (Investigating)", "Test Manager", INTERNAL_NOTE + " [internal]"]
    assert timeline[2] == ["23 Nov 2026 0820Z", "Change", "Test Manager", "on fw-hq-01: Failed over to fw-hq-02"]
    emails = [row for row in timeline if row[1] == "Email: initial"]
    assert sorted(row[3].split(":")[0] for row in emails) == ["to customer", "to leadership", "to technical"]
    assert timeline[-1][:2] == ["23 Nov 2026 0905Z", "Update (Resolved)"]
    for heading in ("What went well", "What did not go well", "Action items"):
        assert f"\n## {heading}\n" in text
    document = _docx(word)
    headings = _headings(document)
    assert headings[0] == f"Post-incident review: {outage}"
    assert {
        "Summary",
        "Review",
        "SLA results",
        "Timeline",
        "Root cause",
        "What went well",
        "What did not go well",
        "Action items",
    } <= set(headings)
    table = _table_after(document, "Timeline")
    assert [c.text for c in table.rows[0].cells] == ["Time", "What", "Who", "Details"]
    assert len(table.rows) - 1 == len(timeline)
    assert [c.text for c in table.rows[2].cells] == timeline[1]
    assert document.styles["Normal"].font.name == "Calibri"


def test_times_are_in_the_display_timezone_with_its_zone(run: Run, outage: str, tmp_path: Path, at: At) -> None:
    """With [display] timezone America/New_York the draft's times are local and say EST."""
    config = tmp_path / "tracker.toml"
    text = config.read_text().replace('timezone = "UTC"', 'timezone = "America/New_York"')
    config.write_text(text.replace('# time_format = "%d %b %Y %H%MZ"', 'time_format = "%d %b %Y %H:%M"'))
    at(START + timedelta(days=1))
    assert run("review", outage, "--format", "md").exit_code == 0
    timeline = _md_table((tmp_path / "reviews" / f"{outage}-review.md").read_text(encoding="utf-8"), "Timeline")
    assert timeline[0][0] == "23 Nov 2026 03:00 EST"
    assert not (tmp_path / "reviews" / f"{outage}-review.docx").exists()


def test_reminders_and_escalations_are_on_the_timeline(run: Run, example: Path, tmp_path: Path, at: At) -> None:
    """The example Sev 1's update goes overdue; `due --remind --escalate` reminds and escalates: the review lists
    both messages (kinds on the Notifications sheet) and the internal escalation line."""
    at(START + timedelta(hours=2))
    assert run("due", "--remind", "--escalate").exit_code == 4  # overdue
    at(START + timedelta(hours=3))
    assert run("review", EXAMPLE, "--format", "md").exit_code == 0
    timeline = _md_table((tmp_path / "reviews" / f"{EXAMPLE}-review.md").read_text(encoding="utf-8"), "Timeline")
    kinds = [row[1] for row in timeline]
    assert "Reminder" in kinds and "Escalation" in kinds
    assert any(row[3].startswith("Escalated to ") and row[3].endswith("[internal]") for row in timeline)


def test_automatic_messages_are_tracker_s_and_a_late_restore_time_is_no_reopening(
    run: Run, example: Path, tmp_path: Path, at: At
) -> None:
    """Issue 19 point 10: the draft said "Escalation | Jordan Lee | to ..." for an escalation `due --escalate`
    sent by itself (the Updates line it wrote says tracker), and "reopened once" for an event restored with
    `resolve --at` before the escalation lines were logged, where the report counts it never reopened."""
    at(START + timedelta(hours=2))
    assert run("due", "--remind", "--escalate").exit_code == 4  # overdue: reminded and escalated
    at(START + timedelta(hours=3))
    restored = (START + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")
    assert run("resolve", EXAMPLE, "--note", "Mail flows", "--at", restored, "--force").exit_code == 0
    assert run("review", EXAMPLE, "--format", "md").exit_code == 0
    draft = (tmp_path / "reviews" / f"{EXAMPLE}-review.md").read_text(encoding="utf-8")
    timeline = _md_table(draft, "Timeline")
    automatic = [row for row in timeline if row[1] in ("Reminder", "Escalation")]
    assert automatic and all(row[2] == "tracker" for row in automatic), automatic
    assert "reopened" not in draft
    report = run("report", "--json")
    assert report.exit_code == 0, report.stderr
    assert '"reopened": 0' in report.stdout or '"reopened"' not in report.stdout, report.stdout


def test_the_draft_lists_the_event_actions_and_rows_to_fill(run: Run, outage: str, tmp_path: Path, at: At) -> None:
    """Actions recorded for the event appear in the draft's action table, followed by three empty rows; another
    event's actions do not."""
    at(START + timedelta(days=1))
    assert (
        run(
            "action",
            "add",
            outage,
            "--action",
            "Alert on firmware advisories",
            "--owner",
            "Ravi Menon",
            "--due",
            "+14d",
        ).exit_code
        == 0
    )
    assert (
        run(
            "action", "add", EXAMPLE, "--action", "Monitor certificates", "--owner", "Dana Whitfield", "--due", "+7d"
        ).exit_code
        == 0
    )
    assert run("review", outage).exit_code == 0
    rows = _md_table((tmp_path / "reviews" / f"{outage}-review.md").read_text(encoding="utf-8"), "Action items")
    assert rows[0] == [f"ACT-{START.year}-0001", "Alert on firmware advisories", "Ravi Menon", "08 Dec 2026", "Open"]
    assert rows[1:] == [["", "", "", "", ""]] * 3
    table = _table_after(_docx(tmp_path / "reviews" / f"{outage}-review.docx"), "Action items")
    assert len(table.rows) == 1 + 1 + 3 and table.rows[1].cells[1].text == "Alert on firmware advisories"


def test_an_edited_draft_is_never_replaced_without_force(run: Run, outage: str, tmp_path: Path, at: At) -> None:
    """An unedited draft is rewritten with what is new; once someone edits the Markdown (or the Word document),
    `review` writes nothing and says so, naming the file and --force; --force replaces it."""
    at(START + timedelta(days=1))
    assert run("review", outage).exit_code == 0
    md, word = tmp_path / "reviews" / f"{outage}-review.md", tmp_path / "reviews" / f"{outage}-review.docx"
    assert run("update", outage, "--note", "Vendor confirmed the bug", "--internal").exit_code == 0
    again = run("review", outage)
    assert again.exit_code == 0, again.stderr
    assert "Vendor confirmed the bug" in md.read_text(encoding="utf-8")
    md.write_text(md.read_text(encoding="utf-8").replace("## What went well\n\n- ", "## What went well\n\n- Fast"))
    word_before = word.read_bytes()
    refused = run("review", outage)
    assert refused.exit_code == 2 and refused.stdout == ""
    assert f"{outage}-review.md was edited" in _one_error(refused)
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert "- Fast" in md.read_text(encoding="utf-8") and word.read_bytes() == word_before  # nothing written
    assert run("review", outage, "--format", "docx").exit_code == 0  # the Word draft alone is not edited
    document = _docx(word)
    document.add_paragraph("Decided: keep the spare firewall warm")
    document.save(str(word))
    assert "docx was edited" in run("review", outage, "--format", "docx").stderr
    forced = run("review", outage, "--force")
    assert forced.exit_code == 0
    assert "- Fast" not in md.read_text(encoding="utf-8")
    assert "Decided" not in "\n".join(p.text for p in _docx(word).paragraphs)


@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_the_word_draft(run: Run, outage: str, tmp_path: Path, at: At) -> None:
    """LibreOffice (headless, private profile) converts the .docx to PDF, and to text holding the headings, the
    internal update and the timeline."""
    at(START + timedelta(days=1))
    assert run("review", outage, "--format", "docx").exit_code == 0
    source = tmp_path / "reviews" / f"{outage}-review.docx"
    out = tmp_path / "converted"
    for target in ("pdf", "txt:Text (encoded):UTF8"):
        command = [
            str(soffice()),
            f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            target,
            "--outdir",
            str(out),
            str(source),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    pdf = out / f"{outage}-review.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5000
    text = (out / f"{outage}-review.txt").read_text(encoding="utf-8-sig")
    for expected in (
        f"Post-incident review: {outage}",
        "Timeline",
        "What did not go well",
        INTERNAL_NOTE,
        "on fw-hq-01: Failed over to fw-hq-02",
    ):
        assert expected in text


def test_review_of_an_unknown_event_is_one_line(run: Run, example: Path) -> None:
    """An unknown event ID: exit 1, one line naming it; a --record option without --record: exit 2."""
    result = run("review", suite_clock.event_id(9999))
    assert result.exit_code == 1 and _one_error(result)
    assert f"no event '{suite_clock.event_id(9999)}' on the Events sheet" in result.stderr
    stray = run("review", EXAMPLE, "--facilitator", "Alex Morgan")
    assert stray.exit_code == 2 and "--facilitator go with --record" in stray.stderr


# --- recording the review and the gate -----------------------------------------------------------------------


def _status(run: Run, event_id: str) -> str:
    return str(json.loads(run("show", event_id, "--json").stdout)["event"]["status"])


def test_closing_a_sev2_needs_a_held_review(run: Run, outage: str, example: Path, at: At) -> None:
    """Closing the resolved Sev 2 is refused, in one line saying how to record the review; a Draft review is not
    enough; once recorded as held (with a facilitator and a date), the event closes."""
    at(START + timedelta(days=2))
    refused = run("update", outage, "--note", "Review done", "--status", "Closed")
    assert refused.exit_code == 1 and _one_error(refused)
    assert f"{outage} is Sev 2" in refused.stderr
    assert f'`tracker review {outage} --record --facilitator "NAME" --date YYYY-MM-DD`' in refused.stderr
    assert _status(run, outage) == "Resolved"
    draft = run("review", outage, "--record", "--facilitator", "Alex Morgan", "--status", "draft", "--date", "+2d")
    assert draft.exit_code == 0, draft.stderr
    assert draft.stdout == f"{outage}: review recorded (Draft, 27 Nov 2026, facilitator Alex Morgan)\n"
    still = run("update", outage, "--note", "Review done", "--status", "Closed")
    assert still.exit_code == 1 and "is Draft" in still.stderr and "--record --status Held" in still.stderr
    future = run("review", outage, "--record", "--status", "Held")  # the row's date (27 Nov) is still to come
    assert future.exit_code == 2 and "(27 Nov 2026) is still to come" in _one_error(future)
    held = run("review", outage, "--record", "--date", "2026-11-24", "--status", "Held")
    assert held.exit_code == 0, held.stderr
    held = run("review", outage, "--record", "--link", "https://contoso.example/r.docx")
    assert held.exit_code == 0
    assert held.stdout == (
        f"{outage}: review updated (Held, 24 Nov 2026, facilitator Alex Morgan, document https://contoso.example/r.docx)\n"
    )
    closed = run("update", outage, "--note", "Review done", "--status", "Closed")
    assert closed.exit_code == 0, closed.stderr
    assert _status(run, outage) == "Closed"
    sheet = openpyxl.load_workbook(example)["Reviews"]
    headers = [c.value for c in sheet[1]]
    row = dict(zip(headers, [c.value for c in sheet[2]], strict=True))
    assert row["Event ID"] == outage and row["Status"] == "Held" and row["Facilitator"] == "Alex Morgan"
    assert row["Review Date"] == datetime(2026, 11, 24) and row["Document"] == "https://contoso.example/r.docx"
    assert run("validate").exit_code == 0


def test_recording_links_the_draft_and_refuses_bad_input(run: Run, outage: str, at: At) -> None:
    """A first record without --link points at the draft written; no facilitator, a bad date, a Held review in the
    future or an unknown status are one-line usage errors; the event must exist."""
    at(START + timedelta(days=1))
    assert run("review", outage).exit_code == 0
    assert run("review", outage, "--record").stderr.count("give --facilitator") == 1
    bad_date = run("review", outage, "--record", "--facilitator", "A", "--date", "31/11/2026")
    assert bad_date.exit_code == 2 and "--date: '31/11/2026' is not a date; e.g. 2026-12-05" in bad_date.stderr
    future = run("review", outage, "--record", "--facilitator", "A", "--date", "tomorrow")
    assert future.exit_code == 2 and "--status Draft" in future.stderr
    status = run("review", outage, "--record", "--facilitator", "A", "--status", "Finished")
    assert status.exit_code == 2 and "use one of: Draft, Held, Done" in status.stderr
    unknown = run("review", suite_clock.event_id(4242), "--record", "--facilitator", "A")
    assert unknown.exit_code == 1 and f"no event '{suite_clock.event_id(4242)}'" in unknown.stderr
    recorded = run("review", outage, "--record", "--facilitator", "Alex Morgan")
    assert recorded.exit_code == 0
    assert f"document {Path('reviews') / (outage + '-review.docx')}" in recorded.stdout


def test_severities_the_setting_does_not_list_close_freely(run: Run, outage: str, tmp_path: Path, at: At) -> None:
    """A Sev 3 closes without a review; with [review] required_for = ["Sev 3"], the Sev 2 closes freely and a
    Sev 3 needs one; a required_for that is not a list is a configuration error."""
    at(START + timedelta(hours=2))
    sev3 = run("open", "--title", "Printer queue slow", "--severity", "Sev 3", "--service", "ERP").stdout.strip()
    assert run("resolve", sev3, "--note", "Queue cleared").exit_code == 0
    assert run("update", sev3, "--note", "No review needed", "--status", "Closed").exit_code == 0
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + '\n[review]\nrequired_for = ["Sev 3"]\n')
    freely = run("update", outage, "--note", "Closed", "--status", "Closed")
    assert freely.exit_code == 0, freely.stderr
    other = run("open", "--title", "Scanner", "--severity", "Sev 3", "--service", "ERP").stdout.strip()
    assert run("resolve", other, "--note", "Fixed").exit_code == 0
    refused = run("update", other, "--note", "x", "--status", "Closed")
    assert refused.exit_code == 1 and f"{other} is Sev 3" in refused.stderr
    config.write_text(config.read_text().replace('required_for = ["Sev 3"]', 'required_for = "Sev 3"'))
    broken = run("list")
    assert broken.exit_code == 2 and "[review] required_for must be a list of text values" in broken.stderr


def test_a_workbook_from_before_reviews_says_to_add_the_sheets(run: Run, tmp_path: Path, v0_1: Path) -> None:
    """tests/data/v0_1 (made by tracker 0.1, no Reviews or Actions sheet): validate notes both as missing, closing
    its Sev 1 is refused with how to add the sheet (no traceback), recording says the same, due and action list
    work, and the draft is still written."""
    checked = run("validate")
    assert checked.exit_code == 0
    assert "sheet 'Reviews' is missing (added in tracker 0.3" in checked.stdout
    assert "sheet 'Actions' is missing (added in tracker 0.3" in checked.stdout
    assert run("resolve", evt(1), "--note", "Fixed", "--force").exit_code == 0
    refused = run("update", evt(1), "--note", "Reviewed", "--status", "Closed")
    assert refused.exit_code == 1 and _one_error(refused) and "Traceback" not in refused.stderr
    assert "no Reviews sheet (added in tracker 0.3)" in refused.stderr and "tracker init" in refused.stderr
    record = run("review", evt(1), "--record", "--facilitator", "Alex Morgan")
    assert record.exit_code == 1 and "no Reviews sheet" in record.stderr
    assert run("action", "list").stdout == "no actions (this workbook has no Actions sheet)\n"
    added = run("action", "add", evt(1), "--action", "x", "--owner", "y", "--due", "+1d")
    assert added.exit_code == 1 and "no Actions sheet" in added.stderr
    assert run("due").exit_code in (0, 4, 6, 7)
    draft = run("review", evt(1))
    assert draft.exit_code == 0, draft.stderr
    assert "no Actions sheet" in (tmp_path / "reviews" / f"{evt(1)}-review.md").read_text(encoding="utf-8")


# --- actions -------------------------------------------------------------------------------------------------


def test_actions_are_added_listed_changed_and_done(run: Run, outage: str, example: Path, at: At) -> None:
    """`action add` allocates ACT-<year>-0001, -0002; `list` shows them, `--open` leaves out Done and Won't do,
    `--json` is the documented form; `done` records when; `set` changes status, owner and due date."""
    at(START + timedelta(days=1))
    first = run(
        "action",
        "add",
        outage,
        "--action",
        "Alert on firmware advisories",
        "--owner",
        "Ravi Menon",
        "--due",
        "2026-12-08",
    )
    assert first.exit_code == 0, first.stderr
    assert first.stdout == f"{act(1)}: added to {outage} for Ravi Menon, due 08 Dec 2026\n"
    second = run(
        "action",
        "add",
        outage.lower(),
        "--action",
        "Spare firewall",
        "--owner",
        "Dana Whitfield",
        "--due",
        "+1w",
        "--note",
        "budget",
    )
    assert second.stdout.startswith(f"{act(2)}: added to {outage} for Dana Whitfield, due 01 Dec 2026")
    listed = run("action", "list").stdout.splitlines()
    assert listed[0].split() == ["ID", "EVENT", "STATUS", "DUE", "OWNER", "ACTION"]
    assert listed[1].startswith(f"{act(1)}  " + outage + "  Open")
    done = run("action", "done", act(1).lower(), "--note", "Feed wired to the network team")
    assert done.exit_code == 0 and done.stdout.startswith(f"{act(1)}: Done, owner Ravi Menon")
    moved = run("action", "set", act(2), "--status", "in progress", "--owner", "Sofia Alvarez", "--due", "+3w")
    assert moved.stdout == f"{act(2)}: In progress, owner Sofia Alvarez, due 15 Dec 2026 ({outage})\n"
    assert [line.split()[0] for line in run("action", "list", "--open").stdout.splitlines()[1:]] == [act(2)]
    items = json.loads(run("action", "list", outage, "--json").stdout)
    assert items[0] == {
        "id": act(1),
        "event_id": outage,
        "action": "Alert on firmware advisories",
        "owner": "Ravi Menon",
        "due_date": "2026-12-08",
        "status": "Done",
        "overdue": False,
        "completed_at": "2026-11-24T08:00:00Z",
        "note": "Feed wired to the network team",
    }
    assert items[1]["status"] == "In progress" and items[1]["completed_at"] is None
    assert run("action", "list", EXAMPLE).stdout == "no actions\n"
    assert run("validate").exit_code == 0
    book = openpyxl.load_workbook(example)
    assert [c.value for c in book["Actions"]["A"][1:]] == [act(1), act(2)]


def test_bad_action_input_is_one_line(run: Run, outage: str, at: At) -> None:
    """Unknown action ID (exit 1), unknown event (exit 1), a date that is not one, a due date past, an unknown
    status, nothing to change (exit 2): each one line on stderr, nothing on stdout, nothing written."""
    at(START + timedelta(days=1))
    cases = [
        (["action", "done", act(42)], 1, f"no action '{act(42)}' on the Actions sheet"),
        (
            ["action", "add", evt(999), "--action", "a", "--owner", "b", "--due", "+1d"],
            1,
            f"no event '{evt(999)}' on the Events sheet",
        ),
        (
            ["action", "add", outage, "--action", "a", "--owner", "b", "--due", "next week"],
            2,
            "--due: 'next week' is not a date; e.g. 2026-12-05, today, tomorrow, +7d or +2w",
        ),
        (
            ["action", "add", outage, "--action", "a", "--owner", "b", "--due", "2026-11-01"],
            2,
            "--due 2026-11-01 has already passed",
        ),
        (["action", "add", outage, "--action", " ", "--owner", "b", "--due", "+1d"], 2, "--action must not be empty"),
        (
            ["action", "add", outage, "--action", "a", "--owner", "b", "--due", "+1d", "--status", "Later"],
            2,
            "use one of: Open, In progress, Done, Won't do",
        ),
        (["action", "set", act(1)], 2, "nothing to change"),
    ]
    for args, code, message in cases:
        result = run(*args)
        assert (result.exit_code, result.stdout) == (code, ""), (args, result.stdout, result.stderr)
        assert message in _one_error(result), (args, result.stderr)
    assert run("action", "list").stdout == "no actions\n"


def test_validate_names_a_bad_actions_cell(run: Run, outage: str, example: Path, at: At) -> None:
    """A Status typed by hand that is not allowed, and a duplicated Action ID: validate names the cell, the value
    and what is allowed."""
    at(START + timedelta(days=1))
    for text in ("One", "Two"):
        assert run("action", "add", outage, "--action", text, "--owner", "R", "--due", "+3d").exit_code == 0
    book = openpyxl.load_workbook(example)
    sheet = book["Actions"]
    headers = [c.value for c in sheet[1]]
    sheet.cell(2, headers.index("Status") + 1).value = "Finished"
    sheet.cell(3, headers.index("Action ID") + 1).value = act(1)
    book.save(example)
    result = run("validate")
    assert result.exit_code == 1
    status_letter = openpyxl.utils.get_column_letter(headers.index("Status") + 1)
    assert f"Actions!{status_letter}2" in result.stdout and "'Finished'" in result.stdout
    assert "Open, In progress, Done, Won't do" in result.stdout
    assert "Actions!A3" in result.stdout and act(1) in result.stdout


# --- overdue actions in `tracker due` ---------------------------------------------------------------------------


def test_an_overdue_action_makes_due_exit_1_until_done(run: Run, outage: str, at: At) -> None:
    """Nothing else is owed: an action due Wednesday is not listed on Monday, is "due soon" on Wednesday, and
    from Thursday (display timezone) is overdue: `due` lists it (owner owes it) and exits 1, `due --json` has
    kind action; done, `due` is quiet and exits 0."""
    at(START + timedelta(hours=3))
    assert (
        run(
            "action", "add", outage, "--action", "Patch fw-hq-01", "--owner", "Ravi Menon", "--due", "2026-11-25"
        ).exit_code
        == 0
    )
    quiet = run("due")
    assert quiet.exit_code == 0 and "action" not in quiet.stdout
    at(datetime(2026, 11, 25, 16, 0, tzinfo=UTC))
    soon = run("due")
    assert soon.exit_code == 0 and f"action {act(1)}  due soon" in soon.stdout
    at(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    late = run("due")
    assert late.exit_code == 7  # paperwork overdue
    row = late.stdout.splitlines()[1].split("  ")
    assert [cell.strip() for cell in row if cell.strip()] == [
        outage,
        "Sev 2",
        f"action {act(1)}",
        "overdue",
        "overdue by 9 h",
        "26 Nov 2026 0000Z",
        "Ravi Menon",
    ]
    items = json.loads(run("due", "--json").stdout)["items"]
    assert items == [
        {
            "event_id": outage,
            "kind": "action",
            "state": "overdue",
            "at": "2026-11-26T00:00:00Z",
            "minutes": -540,
            "severity": "Sev 2",
            "title": "VPN down at HQ",
            "responsible": "Ravi Menon",
            "action_id": act(1),
            "action": "Patch fw-hq-01",
        }
    ]
    assert "OVERDUE" in run("action", "list").stdout
    assert run("action", "done", act(1)).exit_code == 0
    after = run("due")
    assert after.exit_code == 0 and "action" not in after.stdout


def test_due_within_shows_actions_coming(run: Run, outage: str, at: At) -> None:
    """`due --within 3d` lists an action due in two days as "due"; a Won't do action never shows."""
    at(START + timedelta(hours=3))
    assert run("action", "add", outage, "--action", "A", "--owner", "R", "--due", "+2d").exit_code == 0
    assert run("action", "add", outage, "--action", "B", "--owner", "R", "--due", "-1d", "--force").exit_code == 0
    assert run("action", "set", act(2), "--status", "Won't do", "--note", "not needed").exit_code == 0
    items = json.loads(run("due", "--within", "3d", "--json").stdout)["items"]
    assert [(i["action_id"], i["state"]) for i in items] == [(act(1), "due")]


# --- on SharePoint ---------------------------------------------------------------------------------------------


@pytest.fixture
def mode() -> str:
    """The SharePoint write mode the `sp` fixture uses here: the Excel service (Graph)."""
    return "workbook-api"


def test_reviews_and_actions_on_sharepoint(run: Run, sp, event_id: str) -> None:  # type: ignore[no-untyped-def]
    """On the SharePoint stand-in (Excel service writes): record the review, add and finish an action, close the
    event; the workbook SharePoint holds has the rows."""
    assert run("resolve", event_id, "--note", "Fixed").exit_code == 0
    assert run("update", event_id, "--note", "x", "--status", "Closed").exit_code == 1
    recorded = run("review", event_id, "--record", "--facilitator", "Alex Morgan")
    assert recorded.exit_code == 0, recorded.stderr
    added = run("action", "add", event_id, "--action", "Monitor certificates", "--owner", "Dana", "--due", "+7d")
    assert added.exit_code == 0, added.stderr
    action_id = added.stdout.split(":")[0]
    assert run("action", "done", action_id).exit_code == 0
    assert run("update", event_id, "--note", "Reviewed", "--status", "Closed").exit_code == 0
    items = json.loads(run("action", "list", "--json").stdout)
    assert [(i["id"], i["status"]) for i in items] == [(action_id, "Done")]
    assert _status(run, event_id) == "Closed"


def test_pipes_and_line_breaks_stay_in_their_cell(run: Run, outage: str, tmp_path: Path, at: At) -> None:
    """A note holding a pipe, a line break and what looks like a formula keeps the Markdown table's four columns
    (pipe escaped, break as <br>) and reads back whole from the Word table."""
    at(START + timedelta(hours=2))
    note = "=cmd | calc\nsecond line"
    assert run("update", outage, "--note", note, "--internal", "--force").exit_code == 0
    assert run("review", outage).exit_code == 0
    timeline = _md_table((tmp_path / "reviews" / f"{outage}-review.md").read_text(encoding="utf-8"), "Timeline")
    assert all(len(row) == 4 for row in timeline)
    assert timeline[-1][3] == "=cmd \\| calc<br>second line [internal]"
    table = _table_after(_docx(tmp_path / "reviews" / f"{outage}-review.docx"), "Timeline")
    assert table.rows[-1].cells[3].text == note + " [internal]"


def _set_cell(path: Path, sheet: str, row: int, header: str, value: object) -> str:
    """Type `value` into the cell under `header` on Excel row `row` (as a person would in Excel); its address."""
    book = openpyxl.load_workbook(path)
    headers = [c.value for c in book[sheet][1]]
    cell = book[sheet].cell(row, headers.index(header) + 1)
    cell.value = value
    book.save(path)
    return f"{sheet}!{cell.coordinate}"


def _warnings(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning: ")]


def test_a_due_date_typed_as_text_is_said_by_due_and_action_list(run: Run, outage: str, example: Path, at: At) -> None:
    """An action whose Due Date cell holds text ('next Friday', or a date typed after an apostrophe) would count
    for nothing: `due` (also with --json) and `action list` each say so in one warning line naming the cell, and
    list the action with a blank due date; a Done action's text date is not mentioned."""
    at(START + timedelta(days=1))
    for text in ("One", "Two", "Three"):
        assert run("action", "add", outage, "--action", text, "--owner", "R", "--due", "+3d").exit_code == 0
    assert run("action", "done", act(3)).exit_code == 0
    friday = _set_cell(example, "Actions", 2, "Due Date", "next Friday")
    typed = _set_cell(example, "Actions", 3, "Due Date", "2026-11-01")
    _set_cell(example, "Actions", 4, "Due Date", "someday")
    expected = [
        f"warning: {friday}: Due Date 'next Friday' is not a date, so this action is not tracked; "
        "type a date such as 2026-12-11",
        f"warning: {typed}: Due Date '2026-11-01' is not a date, so this action is not tracked; "
        "type a date such as 2026-12-11",
    ]
    due = run("due")
    assert due.exit_code == 0 and _warnings(due) == expected, due.stderr
    assert _warnings(run("due", "--json")) == expected
    listed = run("action", "list")
    assert listed.exit_code == 0 and _warnings(listed) == expected
    assert act(1) in listed.stdout
    assert _warnings(run("action", "list", "--json")) == expected
    assert _warnings(run("action", "list", EXAMPLE)) == []  # another event's actions are not its business
    watched = run("watch", "--ticks", "1")
    assert all(line in watched.stdout for line in expected), watched.stdout  # said once as the watch starts


def test_lowering_the_severity_while_closing_does_not_skip_the_review(run: Run, outage: str, at: At) -> None:
    """`update ID --status Closed --severity "Sev 3"` on the resolved Sev 2 without a review is refused (the gate
    looks at the severity the event had as well as the new one), naming both, and writes nothing; raising a Sev 3
    to Sev 2 while closing it is refused too."""
    at(START + timedelta(days=1))
    refused = run("update", outage, "--note", "x", "--status", "Closed", "--severity", "Sev 3")
    assert refused.exit_code == 1, refused.stderr
    assert f"{outage} was Sev 2 (Sev 3 from this update), and Sev 2 events need a post-incident review" in _one_error(
        refused
    )
    shown = json.loads(run("show", outage, "--json").stdout)["event"]
    assert (shown["status"], shown["severity"]) == ("Resolved", "Sev 2")
    sev3 = run("open", "--title", "Printer queue slow", "--severity", "Sev 3", "--service", "ERP").stdout.strip()
    assert run("resolve", sev3, "--note", "Queue cleared").exit_code == 0
    raised = run("update", sev3, "--note", "x", "--status", "Closed", "--severity", "sev 2")
    assert raised.exit_code == 1 and f"{sev3} is Sev 2" in _one_error(raised)
    assert _status(run, sev3) == "Resolved"


def test_required_for_matches_names_loosely_and_validate_names_the_others(
    run: Run, outage: str, tmp_path: Path, at: At
) -> None:
    """[review] required_for matches severity names ignoring case and spaces ("sev2" is Sev 2, so its gate holds);
    a name that is on no Severities row ("Severity 1") is an error of `tracker validate` naming tracker.toml
    [review] required_for and the sheet's severities, instead of silently switching the gate off."""
    at(START + timedelta(days=1))
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + '\n[review]\nrequired_for = ["Severity 1", "sev2"]\n')
    refused = run("update", outage, "--note", "x", "--status", "Closed")
    assert refused.exit_code == 1 and f"{outage} is Sev 2" in _one_error(refused)
    checked = run("validate")
    assert checked.exit_code == 1
    errors = [line for line in checked.stdout.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: tracker.toml: [review] required_for names 'Severity 1', which is not on the Severities sheet, so "
        "no event needs a review for it; allowed: severity names from the Severities sheet: Sev 1, Sev 2, Sev 3, "
        "Sev 4"
    ]
    found = [p for p in json.loads(run("validate", "--json").stdout) if p["sheet"] == "tracker.toml"]
    assert [(p["level"], p["value"]) for p in found] == [("error", "Severity 1")]
    config.write_text(config.read_text().replace('"Severity 1"', '"SEV 1"'))
    assert run("validate").exit_code == 0


def test_a_draft_of_an_event_still_open_says_so(run: Run, outage: str, tmp_path: Path, at: At) -> None:
    """`review ID` on an event not yet resolved still writes the draft, but its top (Markdown and Word) says it was
    written while the event was open and when its timeline ends, and the command warns on stderr; a resolved
    event's draft says nothing of the kind."""
    at(START + timedelta(hours=2))
    sev3 = run("open", "--title", "Printer queue slow", "--severity", "Sev 3", "--service", "ERP").stdout.strip()
    result = run("review", sev3)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"wrote {Path('reviews') / (sev3 + '-review.md')}"
    assert _warnings(result) == [
        f"warning: {sev3} is still open (Investigating): the draft's timeline ends at 23 Nov 2026 1000Z; run "
        f"`tracker review {sev3}` again once it is resolved"
    ]
    line = "Draft written while the event is still open (status Investigating); the timeline ends at 23 Nov 2026 1000Z."
    text = (tmp_path / "reviews" / f"{sev3}-review.md").read_text(encoding="utf-8")
    assert text.split("\n\n")[1] == f"**{line}**"  # right under the title
    paragraphs = [p.text for p in _docx(tmp_path / "reviews" / f"{sev3}-review.docx").paragraphs]
    assert paragraphs[2] == line  # after the title and the event's title
    closed = run("review", outage)
    assert closed.exit_code == 0 and _warnings(closed) == []
    assert "still open" not in (tmp_path / "reviews" / f"{outage}-review.md").read_text(encoding="utf-8")


def test_html_typed_into_the_workbook_is_text_in_the_markdown(run: Run, example: Path, tmp_path: Path, at: At) -> None:
    """A title, note and cause holding HTML (`<b>`, `<img onerror>`, `&`) are escaped in review.md, so a Markdown
    viewer shows them as typed and runs nothing; the pipe and line break of a cell are still handled; the Word
    document holds the text exactly as typed."""
    at(START)
    title = "Mail <img src=x onerror=alert(1)> R&D"
    event = run("open", "--title", title, "--severity", "Sev 3", "--service", "ERP").stdout.strip()
    note = "<b>bold</b> | a & b\n<script>alert(2)</script>"
    assert run("update", event, "--note", note, "--internal").exit_code == 0
    at(START + timedelta(hours=1))
    assert run("resolve", event, "--note", "Fixed", "--cause", "<i>typo</i> in a rule").exit_code == 0
    assert run("review", event).exit_code == 0
    text = (tmp_path / "reviews" / f"{event}-review.md").read_text(encoding="utf-8")
    body = text.split("\n<!-- tracker review draft ")[0]
    assert "<b>" not in body and "<img" not in body and "<script>" not in body and "<i>" not in body
    assert body.startswith(f"# Post-incident review: {event} Mail &lt;img src=x onerror=alert(1)&gt; R&amp;D\n")
    assert "| **Title** | Mail &lt;img src=x onerror=alert(1)&gt; R&amp;D |" in body
    assert "**Cause (internal):** &lt;i&gt;typo&lt;/i&gt; in a rule" in body
    timeline = _md_table(text, "Timeline")
    assert timeline[1][3] == (
        "&lt;b&gt;bold&lt;/b&gt; \\| a &amp; b<br>&lt;script&gt;alert(2)&lt;/script&gt; [internal]"
    )
    word = _docx(tmp_path / "reviews" / f"{event}-review.docx")
    assert word.paragraphs[1].text == title
    assert _table_after(word, "Timeline").rows[2].cells[3].text == note + " [internal]"


def test_validate_words_a_date_only_column_as_a_date(run: Run, outage: str, example: Path, at: At) -> None:
    """A Due Date typed as words, or as text that reads as a day, is reported by validate as not a date, with a
    date as the allowed value (not "a date and time in UTC"); a time column of the Events sheet keeps its words."""
    at(START + timedelta(days=1))
    for text in ("One", "Two"):
        assert run("action", "add", outage, "--action", text, "--owner", "R", "--due", "+3d").exit_code == 0
    words = _set_cell(example, "Actions", 2, "Due Date", "next Friday")
    typed = _set_cell(example, "Actions", 3, "Due Date", "2026-11-01")
    detected = _set_cell(example, "Events", 2, "Detected (UTC)", "yesterday")
    result = run("validate")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"error: {words} (Due Date): 'next Friday' is not a date; allowed: a date, e.g. 2026-12-11" in lines
    assert any(
        line.startswith(f"error: {typed} (Due Date): '2026-11-01' is text that looks like a date: Excel keeps it")
        and line.endswith("; allowed: a date, e.g. 2026-12-11")
        for line in lines
    ), lines
    assert (
        f"error: {detected} (Detected (UTC)): 'yesterday' is not a date and time; allowed: a date and time in UTC, "
        "e.g. 2026-11-21 14:32"
    ) in lines


def _toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown, flags=re.S)


def test_init_writes_the_publish_and_review_settings_commented(run: Run, tmp_path: Path) -> None:
    """The tracker.toml `init` writes shows [publish] and [review] commented out, with the README's values; once
    uncommented they are the README's sections exactly, and tracker reads the file."""
    assert run("init").exit_code == 0
    config = tmp_path / "tracker.toml"
    written = config.read_text(encoding="utf-8")
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for section in ("publish", "review"):
        lines = written.splitlines()
        start = lines.index(next(line for line in lines if line.startswith(f"# [{section}]")))
        block = []
        for line in lines[start:]:
            if not line.startswith("# "):
                break
            block.append(line[2:])
        readme_block = next(b for b in _toml_blocks(readme) if b.startswith(f"[{section}]\n"))
        assert tomllib.loads("\n".join(block)) == tomllib.loads(readme_block), section
        written = written.replace("\n".join("# " + line for line in block), "\n".join(block))
    config.write_text(written, encoding="utf-8")
    assert tomllib.loads(written)["review"]["required_for"] == ["Sev 1", "Sev 2"]
    assert run("validate").exit_code == 0


def test_a_review_date_to_come_or_before_detection_and_a_held_review_of_an_open_event_are_refused(
    run: Run, outage: str, at: At
) -> None:
    """A Held review dated in the future (even on a row already there) or a review dated before the event was
    detected is refused in one line saying which days are allowed (exit 2), so it cannot unlock the Closed gate; a
    Held or Done review of an event still open is refused (the review is of a finished outage); Draft is fine."""
    at(START + timedelta(days=2))
    assert run("review", outage, "--record", "--facilitator", "Alex Morgan", "--status", "Draft").exit_code == 0
    future = run("review", outage, "--record", "--date", "2026-12-30", "--status", "Held")
    assert future.exit_code == 2
    assert (
        "2026-12-30" in _one_error(future) and "a day from 2026-11-23 (detected) to 2026-11-25 (today)" in future.stderr
    )
    assert run("update", outage, "--note", "Review done", "--status", "Closed").exit_code == 1
    before = run("review", outage, "--record", "--date", "2026-11-20")
    assert before.exit_code == 2
    assert f"before {evt(2)} was detected" in _one_error(before) and "2026-11-23 (detected)" in before.stderr
    first = run("review", outage, "--record", "--status", "Held", "--date", "2026-11-22")
    assert first.exit_code == 2 and f"before {evt(2)} was detected" in first.stderr
    sev3 = run("open", "--title", "Printer queue slow", "--severity", "Sev 3", "--service", "ERP").stdout.strip()
    held = run("review", sev3, "--record", "--facilitator", "Alex Morgan")  # a new record is Held by default
    assert held.exit_code == 2
    assert f"{sev3} is still open (Investigating)" in _one_error(held) and "--status Draft" in held.stderr
    done = run("review", sev3, "--record", "--facilitator", "Alex Morgan", "--status", "Done")
    assert done.exit_code == 2 and "still open" in done.stderr
    draft = run("review", sev3, "--record", "--facilitator", "Alex Morgan", "--status", "Draft")
    assert draft.exit_code == 0, draft.stderr
    again = run("review", sev3, "--record", "--status", "Held")
    assert again.exit_code == 2 and "still open" in again.stderr


def test_the_help_examples_of_review_and_action_run_as_written(run: Run, example: Path) -> None:
    """Each line of `review --help`'s and `action --help`'s Example block, in order, on the example tracker with a
    second event (EVT-<year>-0002) open: every one succeeds."""
    import shlex

    assert run("open", "--title", "VPN down", "--severity", "Sev 2", "--service", "VPN", "--impact", "x").exit_code == 0
    for command in ("review", "action"):
        text = run(command, "--help").stdout
        lines = text.split("Example:", 1)[1].splitlines()
        examples = [line.strip() for line in lines if line.strip().startswith("tracker ")]
        assert examples, text
        for line in examples:
            result = run(*shlex.split(line)[1:])
            assert result.exit_code == 0, (line, result.stdout, result.stderr)


def test_a_reopened_event_review_gives_the_outage_as_the_report_does(
    run: Run, outage: str, tmp_path: Path, at: At
) -> None:
    """Resolved at +65 min, reopened at +120, resolved again at +150: the review says 95 min out of service,
    reopened once, the same minutes `report --json` counts for it."""
    at(START + timedelta(minutes=120))
    assert run("update", outage, "--note", "Down again", "--status", "Investigating", "--reopen").exit_code == 0
    at(START + timedelta(minutes=150))
    assert run("resolve", outage, "--note", "Up again").exit_code == 0
    assert run("review", outage, "--format", "md").exit_code == 0
    text = (tmp_path / "reviews" / f"{outage}-review.md").read_text(encoding="utf-8")
    assert "1 h 35 min out of service, reopened once (2 h 30 min from detection to the final resolution)" in text
    figures = json.loads(run("report", "--since", "2026-11-23", "--until", "2026-11-24", "--json").stdout)
    assert {s["service"]: s["outage_minutes"] for s in figures["services"]}["VPN"] == 95

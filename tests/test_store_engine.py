"""The commit engine on a local workbook: one set of rules for every write (journal fitted first,
checks, Excel limits, layouts it cannot write into), and nothing the workbook holds is dropped."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import pytest

from tests import suite_clock
from tests.conftest import Run, process_env, run_at_once
from tests.test_store_safety import edit_zip, sheet_part
from tracker.config import load_config
from tracker.store.backends import journal_for
from tracker.store.journal import Journal
from tracker.workbook.edits import AppendRow, SetCells

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


def digest(path: Path) -> str:
    """SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def merge(workbook: Path, sheet: str, ref: str) -> None:
    """Add a merged range to a sheet, the way Excel writes it."""
    part = sheet_part(workbook, sheet)

    def edit(xml: str) -> str:
        if "<mergeCells" in xml:
            return xml.replace("</mergeCells>", f'<mergeCell ref="{ref}"/></mergeCells>')
        anchor = re.search(r"</sheetData>", xml)
        assert anchor
        return xml.replace(
            "</sheetData>", f'</sheetData><mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>', 1
        )

    edit_zip(workbook, {part: edit})


def new_event(event_id: str, title: str) -> dict[str, object]:
    """The fields a valid new Events row needs."""
    now = suite_clock.ago(minutes=30)
    return {
        "id": event_id,
        "title": title,
        "severity": "Sev 2",
        "status": "Investigating",
        "category": "outage",
        "detected_at": now,
        "reported_at": now,
        "last_update_at": now,
    }


def journal(tmp_path: Path) -> Journal:
    """The journal the CLI in `tmp_path` uses."""
    return journal_for(load_config(tmp_path / "tracker.toml"))


def test_merged_range_over_a_written_cell_is_refused_by_name(run: Run, example: Path, event_id: str) -> None:
    """A merged range over cells `update` writes: exit 1 naming sheet and range, the file unchanged, validate says so."""
    merge(example, "Events", "D2:E2")
    before = digest(example)
    result = run("update", event_id, "--note", "x", "--status", "Monitoring")
    assert result.exit_code == 1, result.stdout
    assert "Events!D2:E2 is a merged range" in result.stderr and "Unmerge it" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert digest(example) == before
    validate = run("validate")
    assert validate.exit_code == 1 and "Events!D2:E2 is a merged range" in validate.stdout


def test_merged_range_below_the_table_blocks_only_what_it_covers(run: Run, example: Path, event_id: str) -> None:
    """A merged range where the next event would go: `open` is refused naming it, updates of other rows still work."""
    merge(example, "Events", "A3:C3")
    opened = run("open", "--title", "x", "--severity", "Sev 2", "--service", "VPN")
    assert opened.exit_code == 1 and "Events!A3:C3 is a merged range" in opened.stderr
    assert "adds a new row on row 3" in opened.stderr
    updated = run("update", event_id, "--note", "still writable")
    assert updated.exit_code == 0, updated.stderr
    assert "still writable" in run("show", event_id).stdout


def test_journal_entry_blocked_by_a_merged_range_is_set_aside(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A waiting journal entry the layout refuses is set aside for a person, and later writes go on."""
    merge(example, "Notifications", "A2:B2")
    pending = journal(tmp_path)
    pending.add(
        [AppendRow("Notifications", {"event_id": event_id, "audience": "technical"}, unique="message_id")], "test"
    )
    result = run("update", event_id, "--note", "goes on")
    assert result.exit_code == 0, result.stderr
    assert "warning: a waiting journal entry was set aside in " in result.stderr
    assert f"{tmp_path / '.events.xlsx.tracker-journal.rejected.jsonl'}: " in result.stderr
    assert "Notifications!A2:B2 is a merged range" in result.stderr
    assert "goes on" in run("show", event_id).stdout
    assert pending.pending() == []
    assert "Notifications!A2:B2 is a merged range" in pending.rejected_path.read_text()


def test_a_note_over_excels_cell_limit_is_refused_not_truncated(run: Run, example: Path, event_id: str) -> None:
    """A 40,000-character note: exit 1 naming the cell and Excel's 32,767 limit; nothing written."""
    before = digest(example)
    result = run("update", event_id, "--note", "y" * 40_000)
    assert result.exit_code == 1
    assert "40,000 characters" in result.stderr and "32,767" in result.stderr
    assert re.search(r"Updates!E\d+ \(Note\)", result.stderr), result.stderr
    assert digest(example) == before


SHEET_ELEMENTS = {
    "protectedRanges": '<protectedRanges><protectedRange name="Impact" sqref="J2:J50"/></protectedRanges>',
    "customSheetViews": '<customSheetViews><customSheetView guid="{6F0F1A52-3F5B-4C43-9E34-0C1C9A1E8D10}" '
    'scale="90"><selection activeCell="A1" sqref="A1"/></customSheetView></customSheetViews>',
    "ignoredErrors": '<ignoredErrors><ignoredError sqref="A2:A50" numberStoredAsText="1"/></ignoredErrors>',
}
BOOK_ELEMENTS = {
    "fileSharing": '<fileSharing readOnlyRecommended="1"/>',
    "customWorkbookViews": '<customWorkbookViews><customWorkbookView name="EM view" '
    'guid="{2B4C3E1D-0A9F-4E7B-8C6D-5F4E3D2C1B0A}" windowWidth="1000" windowHeight="600" activeSheetId="1"/>'
    "</customWorkbookViews>",
}


def test_elements_openpyxl_dropped_are_kept(run: Run, example: Path, event_id: str) -> None:
    """Protected ranges, custom sheet and workbook views, ignored errors and read-only-recommended survive writes."""
    events = sheet_part(example, "Events")

    def sheet(xml: str) -> str:
        xml = xml.replace("</sheetData>", "</sheetData>" + SHEET_ELEMENTS["protectedRanges"], 1)
        xml = re.sub(
            r"(<pageMargins|<tableParts|</worksheet>)", SHEET_ELEMENTS["customSheetViews"] + r"\1", xml, count=1
        )
        return re.sub(r"(<tableParts|</worksheet>)", SHEET_ELEMENTS["ignoredErrors"] + r"\1", xml, count=1)

    def book(xml: str) -> str:
        xml = re.sub(r"(<workbookPr)", BOOK_ELEMENTS["fileSharing"] + r"\1", xml, count=1)
        return xml.replace("<sheets>", BOOK_ELEMENTS["customWorkbookViews"] + "<sheets>", 1)

    edit_zip(example, {events: sheet, "xl/workbook.xml": book})
    with zipfile.ZipFile(example) as archive:
        workbook_xml = archive.read("xl/workbook.xml")
    for args in (
        ["update", event_id, "--note", "kept", "--status", "Monitoring"],
        ["open", "--title", "second", "--severity", "Sev 2", "--service", "VPN"],
        ["resolve", event_id, "--note", "done"],
    ):
        result = run(*args)
        assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(example) as archive:
        assert archive.read("xl/workbook.xml") == workbook_xml
        xml = archive.read(events).decode()
    for name, element in SHEET_ELEMENTS.items():
        assert element in xml, f"{name} lost"
    assert run("validate").exit_code == 0


def test_two_processes_replaying_one_journal_write_each_entry_once(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """Two `sync`s at once over the same journal (rows without a unique key): every waiting row lands exactly once."""
    pending = journal(tmp_path)
    for n in range(6):
        pending.add(
            [
                AppendRow(
                    "Updates",
                    {
                        "event_id": event_id,
                        "at": suite_clock.ago(minutes=60 - n).replace(tzinfo=None),
                        "note": f"waiting {n}",
                        "status": "Identified",
                        "internal": "No",
                    },
                )
            ],
            "test",
        )
    results = run_at_once([["sync"], ["sync"]], tmp_path, process_env())
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    shown = json.loads(run("show", event_id, "--json").stdout)
    notes = [entry.get("note") for entry in shown["timeline"]]
    for n in range(6):
        assert notes.count(f"waiting {n}") == 1, notes
    assert pending.pending() == []


def test_plan_sees_what_the_journal_holds(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """An event waiting in the journal is fitted before `open` plans: the new event gets the next ID."""
    pending = journal(tmp_path)
    waiting = suite_clock.event_id(2)
    pending.add([AppendRow("Events", new_event(waiting, "kept while locked"))], "test")
    opened = run("open", "--title", "after", "--severity", "Sev 2", "--service", "VPN")
    assert opened.exit_code == 0, opened.stderr
    assert opened.stdout.strip() == suite_clock.event_id(3)
    listed = json.loads(run("list", "--json").stdout)
    assert sorted(e["id"] for e in listed) == [event_id, waiting, suite_clock.event_id(3)]
    assert run("validate").exit_code == 0


def test_expect_keeps_a_cell_someone_changed(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A SetCells whose `expect` no longer matches leaves that cell as the person wrote it, on a direct write too."""
    from tracker.store.backends import open_store

    store = open_store(load_config(tmp_path / "tracker.toml"))
    store.commit(lambda t: [SetCells("Events", event_id, {"impact": "Edited by a person"})])
    written = store.commit(
        lambda t: [
            SetCells("Events", event_id, {"impact": "tracker's", "title": "New"}, {"impact": "old", "title": None})
        ]
    )
    shown = json.loads(run("show", event_id, "--json").stdout)["event"]
    assert shown["impact"] == "Edited by a person"
    assert [dict(e.values) for e in written] == [{"title": "New"}] or shown["title"] != "New"


@pytest.mark.parametrize("value", [suite_clock.event_id(1), suite_clock.event_id(1) + " "], ids=["id", "id+space"])
def test_x_unique_is_checked_on_every_write(run: Run, example: Path, event_id: str, tmp_path: Path, value: str) -> None:
    """An edit that would give two rows the same unique key is refused naming the cell, whatever the spelling."""
    from tracker.errors import ValidationFailed
    from tracker.store.backends import open_store

    store = open_store(load_config(tmp_path / "tracker.toml"))
    before = digest(example)
    with pytest.raises(ValidationFailed, match=r"Events!A3 \(ID\): .* is already used on row 2"):
        store.commit(lambda t: [AppendRow("Events", new_event(value, "dup"))])
    assert digest(example) == before


def test_a_refused_journal_entry_takes_its_own_rows_with_it(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """An `open` kept in the journal whose ID someone else took meanwhile is set aside whole, and so is a later
    journaled update of that event: nothing lands on the other person's event."""
    pending = journal(tmp_path)
    mine = suite_clock.event_id(2)
    update = {
        "event_id": mine,
        "at": suite_clock.ago(minutes=25).replace(tzinfo=None),
        "status": "Investigating",
        "internal": "No",
    }
    pending.add([AppendRow("Events", new_event(mine, "mine")), AppendRow("Updates", update | {"note": "opened"})], "t")
    pending.add(
        [SetCells("Events", mine, {"status": "Identified"}), AppendRow("Updates", update | {"note": "my update"})], "t"
    )
    pending.path.rename(tmp_path / "held")  # someone else opens the same ID meanwhile
    assert run("open", "--title", "theirs", "--severity", "Sev 3", "--service", "VPN").stdout.strip() == mine
    (tmp_path / "held").rename(pending.path)
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    assert "4 could no longer be written and were set aside" in synced.stdout
    assert mine in synced.stderr and "already used" in synced.stderr
    shown = json.loads(run("show", mine, "--json").stdout)
    assert shown["event"]["title"] == "theirs" and shown["event"]["status"] == "Investigating"
    assert [e.get("note") for e in shown["timeline"] if e.get("note") in ("opened", "my update")] == []
    assert len(pending.rejected_path.read_text().splitlines()) == 2


def test_notify_checks_where_its_log_goes_before_sending(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A merged range where the Notifications log goes: notify sends nothing and names it (no mail without a log)."""
    merge(example, "Notifications", "A2:C2")
    result = run("notify", event_id)
    assert result.exit_code == 1 and "Notifications!A2:C2 is a merged range" in result.stderr
    assert not list((tmp_path / "outbox").glob("*.eml"))


def test_a_maybe_written_row_is_added_only_if_absent(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A journaled row that may have landed (its request timed out) is not added a second time."""
    row = {
        "event_id": event_id,
        "at": suite_clock.ago(minutes=23).replace(tzinfo=None),
        "status": "Identified",
        "note": "maybe",
    }
    pending = journal(tmp_path)
    pending.add([AppendRow("Updates", row | {"internal": "No"}, if_absent=True)], "timed out")
    assert run("sync").exit_code == 0
    pending.add([AppendRow("Updates", row | {"internal": "No"}, if_absent=True)], "timed out again")
    synced = run("sync")
    assert "wrote 0 pending edit(s)" in synced.stdout and "already in the workbook" in synced.stdout
    notes = [e.get("note") for e in json.loads(run("show", event_id, "--json").stdout)["timeline"]]
    assert notes.count("maybe") == 1


def test_ids_named_with_stray_spaces_are_never_reused(run: Run, example: Path) -> None:
    """An ID typed with a trailing space on an old timeline row still counts as taken: `open` gives the next one."""
    import openpyxl

    book = openpyxl.load_workbook(example)
    book["Updates"]["A4"] = suite_clock.event_id(2) + " "
    book["Updates"]["E4"] = "an old update of a deleted event"
    book.save(example)
    opened = run("open", "--title", "next", "--severity", "Sev 2", "--service", "VPN")
    assert opened.exit_code == 0, opened.stderr
    assert opened.stdout.strip() == suite_clock.event_id(3)


def test_last_row_agrees_with_the_typed_rows() -> None:
    """The last row found from the end (without typing) is the last row typing keeps, whitespace and users'
    own columns included, so a new row never lands on a row someone uses."""
    from tracker.workbook.reading import read_sheet
    from tracker.workbook.schema import load_schema

    spec = load_schema()["Events"]
    header = [f.title for f in spec.fields.values()] + ["My notes"]
    width = len(header)
    blank = [None] * width
    cases = {
        "spaces in a user column": [blank, [*blank[:-1], "   "]],
        "spaces in a schema column": [[suite_clock.event_id(), *blank[1:]], ["  ", *blank[1:]]],
        "empty strings": [[suite_clock.event_id(), *blank[1:]], ["", *blank[1:]]],
    }
    for name, body in cases.items():
        data = read_sheet(spec, "Events", [header, *body])
        assert data.last_row == max([1, *(r.number for r in data.rows)]), name


def test_a_shared_formula_in_a_column_tracker_writes_is_named_by_validate(
    run: Run, example: Path, event_id: str
) -> None:
    """A shared formula whose master sits in a schema column on the table's rows: validate names the cell, a
    write to it is refused naming it, and other writes go on."""
    opened = run("open", "--title", "second", "--severity", "Sev 2", "--service", "VPN", "--impact", "x")
    assert opened.exit_code == 0
    part = sheet_part(example, "Events")

    def shared(xml: str) -> str:
        xml = re.sub(r'<c r="J2"[^>]*?(?:/>|>.*?</c>)', '<c r="J2"><f t="shared" ref="J2:J3" si="0">B2</f></c>', xml)
        return re.sub(r'<c r="J3"[^>]*?(?:/>|>.*?</c>)', '<c r="J3"><f t="shared" si="0"/></c>', xml)

    edit_zip(example, {part: shared})
    validate = run("validate")
    assert "Events!J2 holds a shared formula that cells J2:J3 use" in validate.stdout, validate.stdout
    refused = run("update", event_id, "--note", "x", "--set", "impact=changed")
    assert refused.exit_code == 1 and "Events!J2 holds a shared formula" in refused.stderr
    assert run("update", event_id, "--note", "other cells are fine").exit_code == 0


def test_adopting_an_old_journal_twice_adds_each_line_once(tmp_path: Path) -> None:
    """Moving tracker 0.1's journal (beside tracker.toml) into the workbook's keeps every line once, even when a
    crash left some of them in both; the old files are gone after."""
    old = tmp_path / ".tracker-journal.jsonl"
    old.write_text('{"edits": [], "n": 1}\n{"edits": [], "n": 2}\n')
    old.with_name(".tracker-journal.sending.jsonl").write_text('{"message_id": "<a@b>"}\n')
    new = Journal(tmp_path / "book" / ".events.xlsx.tracker-journal.jsonl")
    new.path.parent.mkdir()
    new.path.write_text('{"edits": [], "n": 1}\n')  # moved once already, then the old file was not removed
    assert new.adopt(old) == 2
    assert new.path.read_text().splitlines() == ['{"edits": [], "n": 1}', '{"edits": [], "n": 2}']
    assert new.companion("sending").read_text() == '{"message_id": "<a@b>"}\n'
    assert not old.exists() and not old.with_name(".tracker-journal.sending.jsonl").exists()
    assert new.adopt(old) == 0

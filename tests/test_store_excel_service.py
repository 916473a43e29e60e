"""The commit engine against the SharePoint stand-in: request counts of the Excel-service mode, reading
our own writes while the Excel service saves late, another client's edit lock, the journal-before-plan
duplicate-ID case in upload mode, and downloads tied to one ETag."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Run
from tests.sharepoint_standin import StandIn
from tests.test_store_sharepoint import PATH, TOKENS, _config


@pytest.fixture
def mode() -> str:
    """The Excel-service mode unless a test says otherwise."""
    return "workbook-api"


@pytest.fixture
def sp(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> Iterator[StandIn]:
    """A stand-in holding the example workbook; tracker.toml in tmp_path points at it."""
    assert run("init", "--example").exit_code == 0
    with StandIn() as standin:
        standin.put_file(PATH, (tmp_path / "events.xlsx").read_bytes())
        (tmp_path / "events.xlsx").unlink()
        (tmp_path / "tracker.toml").write_text(_config(standin, mode))
        for name, value in TOKENS.items():
            monkeypatch.setenv(name, value)
        yield standin
    assert standin.errors == []


def rows(book_bytes: bytes, sheet: str) -> list[tuple]:
    """The non-empty data rows of a sheet."""
    book = openpyxl.load_workbook(io.BytesIO(book_bytes))
    return [r for r in book[sheet].iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)]


def test_update_and_open_make_at_most_four_requests(run: Run, sp: StandIn, event_id: str) -> None:
    """Without conflicts, `update` and `open` each make at most 4 HTTP requests (the drive item id is cached)."""
    counts = {}
    for name, args in (
        ("first update", ["update", event_id, "--note", "one", "--status", "Monitoring"]),
        ("update", ["update", event_id, "--note", "two"]),
        ("open", ["open", "--title", "VPN down", "--severity", "Sev 2", "--service", "VPN"]),
    ):
        sp.requests.clear()
        result = run(*args)
        assert result.exit_code == 0, result.stderr
        counts[name] = len(sp.requests)
    assert counts["first update"] <= 4 and counts["update"] <= 4 and counts["open"] <= 4, counts
    assert counts["update"] == 3  # properties, download, one batch
    notes = [r[4] for r in rows(sp.get_file(PATH), "Updates")]
    assert "one" in notes and "two" in notes


def test_reads_see_our_writes_while_the_excel_service_saves_late(
    run: Run, sp: StandIn, event_id: str, tmp_path: Path
) -> None:
    """The file does not show the write yet: `show`, `list` and `notify` still see it; a second `open` takes a new ID."""
    sp.save_late(PATH)
    before = sp.get_file(PATH)
    assert run("update", event_id, "--note", "written late", "--status", "Monitoring").exit_code == 0
    first = run("open", "--title", "first", "--severity", "Sev 2", "--service", "VPN").stdout.strip()
    second = run("open", "--title", "second", "--severity", "Sev 2", "--service", "VPN").stdout.strip()
    assert sp.get_file(PATH) == before  # SharePoint's file has not caught up
    assert first != second
    shown = json.loads(run("show", event_id, "--json").stdout)
    assert shown["event"]["status"] == "Monitoring"
    assert "written late" in [e.get("note") for e in shown["timeline"]]
    assert {first, second} <= {e["id"] for e in json.loads(run("list", "--json").stdout)}
    preview = run("notify", event_id, "--dry-run")
    assert preview.exit_code == 0, preview.stderr
    html = "".join(p.read_text() for p in (tmp_path / "preview").glob("*.html"))
    assert "written late" in html
    sp.persist(PATH)  # the Excel service saves: the file holds it all, each row once
    after = sp.get_file(PATH)
    assert [r[4] for r in rows(after, "Updates")].count("written late") == 1
    assert sorted(r[0] for r in rows(after, "Events")) == sorted([event_id, first, second])
    shown = json.loads(run("show", event_id, "--json").stdout)
    assert [e.get("note") for e in shown["timeline"]].count("written late") == 1


def test_edit_lock_keeps_the_edit_for_sync(run: Run, sp: StandIn, event_id: str) -> None:
    """409 (another client holds the workbook for edit): exit 1 saying so, the edit kept; `sync` writes it once."""
    sp.hold_for_edit(PATH)
    result = run("update", event_id, "--note", "while held")
    assert result.exit_code == 1
    assert "another client holds the workbook for editing" in result.stderr
    assert "kept in the local journal" in result.stderr and "Traceback" not in result.stderr
    assert "while held" not in [r[4] for r in rows(sp.get_file(PATH), "Updates")]
    sp.release_edit(PATH)
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    assert [r[4] for r in rows(sp.get_file(PATH), "Updates")].count("while held") == 1
    assert run("sync").stdout.strip() == "nothing pending"


def test_locked_workbook_path_journals_without_traceback(run: Run, sp: StandIn, event_id: str) -> None:
    """A 423 from the Excel service: one error line, the edit kept and written by the next command."""
    sp.fail_workbook_writes(1, status=423)
    result = run("update", event_id, "--note", "after the lock")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "locked" in result.stderr and "kept in the local journal" in result.stderr
    assert run("update", event_id, "--note", "next one").exit_code == 0
    notes = [r[4] for r in rows(sp.get_file(PATH), "Updates")]
    assert notes.count("after the lock") == 1 and notes.count("next one") == 1


@pytest.mark.parametrize("mode", ["upload"])
def test_open_while_locked_then_open_again_gives_distinct_ids(run: Run, sp: StandIn, mode: str) -> None:
    """Upload mode: an `open` kept in the journal while the file is open in Excel, then another `open`: two IDs."""
    sp.lock(PATH)
    kept = run("open", "--title", "kept", "--severity", "Sev 2", "--service", "VPN")
    assert kept.exit_code == 1 and "kept in the local journal" in kept.stderr
    sp.unlock(PATH)
    second = run("open", "--title", "second", "--severity", "Sev 2", "--service", "VPN")
    assert second.exit_code == 0, second.stderr
    ids = [r[0] for r in rows(sp.get_file(PATH), "Events")]
    assert len(ids) == len(set(ids)) == 3, ids
    assert second.stdout.strip() in ids
    assert run("validate").exit_code == 0


@pytest.mark.parametrize("mode", ["upload"])
def test_a_save_during_a_chunked_download_starts_it_over(run: Run, sp: StandIn, event_id: str, tmp_path: Path) -> None:
    """Someone saves between two chunks of a download: tracker starts over and writes onto their version."""
    (tmp_path / "tracker.toml").write_text(
        _config(sp, "upload").replace('write_mode = "upload"', 'write_mode = "upload"\nchunk_size = 8192')
    )
    book = openpyxl.load_workbook(io.BytesIO(sp.get_file(PATH)))
    book["Services"]["A7"] = "Printing"
    theirs = io.BytesIO()
    book.save(theirs)
    sp.during_download(lambda standin: standin.put_file(PATH, theirs.getvalue()), after_chunks=1)
    result = run("update", event_id, "--note", "after their save")
    assert result.exit_code == 0, result.stderr
    final = sp.get_file(PATH)
    assert "Printing" in [r[0] for r in rows(final, "Services")]
    assert "after their save" in [r[4] for r in rows(final, "Updates")]
    assert any("If-Match" in r["headers"] for r in sp.requests if "Range" in r["headers"])

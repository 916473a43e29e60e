"""The local store: atomic, serialized, backed up, replayed; never a half-written workbook."""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Run, run_at_once, run_process, start_process
from tracker.config import load_config
from tracker.rules.events import update_event
from tracker.store.backends import open_store
from tracker.store.local import BACKUP_DIR, atomic_write
from tracker.workbook.edits import AppendRow


def _updates(path: Path, event_id: str) -> list[str]:
    book = openpyxl.load_workbook(path, read_only=True)
    return [r[4] for r in book["Updates"].iter_rows(min_row=2, values_only=True) if r[0] == event_id]


@pytest.mark.slow
def test_concurrent_processes_lose_nothing(example: Path, event_id: str, tmp_path: Path) -> None:
    """Eight processes updating and eight opening at the same moment: every update present, IDs unique."""
    commands = []
    for n in range(8):
        commands += [
            ["update", event_id, "--note", f"parallel {n}"],
            ["open", "--title", f"parallel {n}", "--severity", "Sev 3"],
        ]
    results = run_at_once(commands, tmp_path)
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    notes = _updates(example, event_id)
    assert sorted(n for n in notes if n.startswith("parallel")) == sorted(f"parallel {n}" for n in range(8))
    new_ids = [r.stdout.strip() for r in results if "open" in r.args]
    assert len(set(new_ids)) == 8
    listed = json.loads(run_process("list", "--json", cwd=tmp_path, check=True).stdout)
    assert len({e["id"] for e in listed}) == len(listed) == 9
    assert run_process("validate", cwd=tmp_path).returncode == 0


@pytest.mark.slow
def test_killed_mid_write_leaves_a_valid_workbook(example: Path, event_id: str, tmp_path: Path) -> None:
    """A process killed at any moment of a write leaves either the old or the new workbook, never a broken one."""
    for delay in (0.05, 0.15, 0.25, 0.35, 0.45, 0.6):
        proc = start_process("update", event_id, "--note", f"kill {delay}", cwd=tmp_path)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()  # reap it and close its pipes
        result = run_process("validate", cwd=tmp_path)
        assert result.returncode == 0, (delay, result.stdout, result.stderr)
    after = run_process("update", event_id, "--note", "after the crashes", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert _updates(example, event_id)[-1] == "after the crashes"
    assert not list(tmp_path.glob(".events.xlsx.*.tmp"))  # stale temporary files are cleaned


def test_failed_save_leaves_original(tmp_path: Path) -> None:
    """A failure while writing the new version removes the temporary file and keeps the original."""
    original = tmp_path / "book.xlsx"
    original.write_bytes(b"original")

    def half_write(tmp: Path) -> None:
        tmp.write_bytes(b"PK\x03\x04 half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(original, half_write)
    assert original.read_bytes() == b"original"
    assert list(tmp_path.iterdir()) == [original]

    def not_a_zip(tmp: Path) -> None:
        tmp.write_bytes(b"garbage")

    with pytest.raises(Exception):  # noqa: B017 - any zip failure; what matters is the file
        atomic_write(original, not_a_zip)
    assert list(tmp_path.iterdir()) == [original]


def test_backups_are_kept_and_rotated(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Each write keeps the previous version; only the newest five (the default) remain."""
    for n in range(7):
        assert run("update", event_id, "--note", f"update {n}").exit_code == 0
    backups = sorted((tmp_path / BACKUP_DIR).iterdir())
    assert len(backups) == 5
    newest = _updates(backups[-1], event_id)
    assert newest[-1] == "update 5"  # the version before the last write


def test_timezone_aware_times_are_stored_as_utc(example: Path, event_id: str, tmp_path: Path) -> None:
    """An ETA given with another offset through the Python API is stored as naive UTC and reads back equal."""
    store = open_store(load_config(tmp_path / "tracker.toml"))
    eta = datetime(2026, 11, 21, 18, 0, tzinfo=timezone(timedelta(hours=5)))
    update_event(store, event_id, note="from the API", eta=eta)
    cell = [
        r
        for r in openpyxl.load_workbook(example)["Updates"].iter_rows(min_row=2, values_only=True)
        if r[4] == "from the API"
    ][0]
    assert cell[5] == datetime(2026, 11, 21, 13, 0)
    row = [r for r in store.read().sheet("Updates").rows if r["note"] == "from the API"][0]
    assert row["eta"] == eta


def test_change_on_disk_during_write_is_replayed(example: Path, event_id: str, tmp_path: Path) -> None:
    """If someone saves the file between tracker's read and its replace, the edits are replayed on their version."""
    store = open_store(load_config(tmp_path / "tracker.toml"))
    calls = []

    def plan(tracker):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:  # someone else saves a new row meanwhile
            book = openpyxl.load_workbook(example)
            book["Services"]["A7"] = "Printing"
            book.save(example)
        return [AppendRow("Services", {"name": f"Added {len(calls)}"})]

    store.commit(plan)
    names = [r["name"] for r in store.read().sheet("Services").rows]
    assert len(calls) == 2
    assert "Printing" in names and "Added 2" in names and "Added 1" not in names


def test_table_grows_with_appended_rows(run: Run, example: Path, event_id: str) -> None:
    """Appended rows are inside the sheet's Excel table (ref and autofilter), with the row style."""
    assert run("update", event_id, "--note", "one more").exit_code == 0
    ws = openpyxl.load_workbook(example)["Updates"]
    table = ws.tables["UpdatesTable"]
    assert table.ref == "A1:I4" and table.autoFilter.ref == "A1:I4"  # Event ID .. Applied
    assert ws["B4"].number_format == "yyyy-mm-dd hh:mm"


def test_lock_held_too_long_is_reported(example: Path, event_id: str, tmp_path: Path) -> None:
    """When another tracker holds the lock past the timeout, the command says so and writes nothing."""
    from filelock import FileLock

    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace("backups = 5", "backups = 5\nlock_timeout = 0.5"))
    with FileLock(str(tmp_path / ".events.xlsx.tracker-lock")):
        result = run_process("update", event_id, "--note", "blocked", cwd=tmp_path)
    assert result.returncode == 1
    assert "another tracker command has held the lock" in result.stderr
    assert "blocked" not in _updates(example, event_id)


def test_two_journals_of_one_file_in_one_process_share_its_lock(tmp_path: Path) -> None:
    """A program holding two stores of one workbook (two EventTracker objects) takes the journal's lock through
    one lock object per file, which counts re-entries: the second waited for the first until it gave up. Lock
    objects live as long as the process, so none is finalized mid-command (a Ctrl-C landing in filelock's
    finalizer was swallowed with "Exception ignored ... KeyboardInterrupt")."""
    from tracker import files
    from tracker.store.journal import Journal

    first, second = Journal(tmp_path / "journal.jsonl", 0.2), Journal(tmp_path / "journal.jsonl", 0.2)
    with first.locked(), second.locked():
        pass
    assert files.file_lock(tmp_path / "x.lock") is files.file_lock(tmp_path / "x.lock")

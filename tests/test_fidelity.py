"""Fidelity: a workbook holding Excel features that openpyxl cannot keep goes through every write
command (`open`, `update`, `change`, `resolve`, `notify`, `sync`) and comes out with every part the
edits did not concern byte-identical, every feature in place, the new rows readable by openpyxl,
python-calamine and LibreOffice, and LibreOffice re-saving the file without complaint.

Layouts tracker cannot write into (a merged range over cells it writes, a totals row under the rows
it adds) are refused by name instead, in `validate` too, without blocking the writes they do not
concern. The workbooks are built by tests/fidelity.py from raw XML parts.
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from tests import fidelity, suite_clock
from tests.conftest import Run, soffice
from tracker.config import load_config
from tracker.store.backends import journal_for
from tracker.workbook.edits import AppendRow

LAYOUTS = {"merged_cells_in_table", "merged_cells_below_table", "totals_row"}
KEPT = [name for name in fidelity.FEATURES if name not in LAYOUTS]
WRITTEN_SHEETS = ("Events", "Updates", "Changes", "Notifications")


def sheet_parts(path: Path) -> dict[str, str]:
    """Sheet title -> worksheet part."""
    from tracker.store.xlsx import sheet_parts as parts_of

    with zipfile.ZipFile(path) as archive:
        return parts_of(archive)


def table_parts(path: Path, sheet_part: str) -> set[str]:
    """The table parts of a worksheet."""
    from tracker.store.xlsx_layout import table_parts

    with zipfile.ZipFile(path) as archive:
        return {table.part for table in table_parts(archive, sheet_part)}


def write_everything(run: Run, folder: Path, event_id: str) -> str:
    """Every write command once (sync with a journal entry waiting); returns the new event's ID."""
    opened = run(
        "open", "--title", "Fidelity check", "--severity", "Sev 2", "--service", "VPN", "--impact", "No VPN at HQ"
    )
    assert opened.exit_code == 0, opened.stderr
    new_id = opened.stdout.strip()
    for args in (
        ["update", new_id, "--note", "fidelity note", "--status", "Identified"],
        ["change", new_id, "--system", "fw-01", "--change", "Rebooted the firewall"],
        ["resolve", new_id, "--note", "fidelity resolved"],
        ["notify", new_id],
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
    journal_for(load_config(folder / "tracker.toml")).add(
        [
            AppendRow(
                "Updates",
                {
                    "event_id": event_id,
                    "at": suite_clock.ago(minutes=5).replace(tzinfo=None),
                    "status": "Identified",
                    "note": "fidelity journal entry",
                    "internal": "No",
                },
            )
        ],
        "test",
    )
    synced = run("sync")
    assert synced.exit_code == 0 and "wrote 1 pending edit" in synced.stdout, synced.stdout + synced.stderr
    return new_id


def outside_rows(xml: bytes) -> bytes:
    """A worksheet part without its rows and its dimension: views, columns, merges, conditional formats,
    validations, extensions, drawings and table parts, all of which a write must leave as they are."""
    import re

    xml = re.sub(rb"<((?:\w+:)?sheetData)\b[^>]*>.*</\1>", b"", xml, flags=re.S)
    return re.sub(rb"<((?:\w+:)?dimension)\b[^>]*/>", b"", xml)


def calamine_rows(path: Path, sheet: str) -> list[list[object]]:
    """A sheet's cells as python-calamine reads them."""
    return python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def assert_rows_readable(path: Path, new_id: str) -> None:
    """The new event and its notes are there for openpyxl and python-calamine."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about the extensions it does not read
        book = openpyxl.load_workbook(path)
    assert new_id in [c.value for c in book["Events"]["A"]]
    notes = [c.value for c in book["Updates"]["E"]]
    assert "fidelity note" in notes and "fidelity journal entry" in notes
    assert new_id in [row[0] for row in calamine_rows(path, "Events")]
    assert "fidelity resolved" in [row[4] for row in calamine_rows(path, "Updates")]


@pytest.mark.parametrize("feature", KEPT)
def test_every_write_keeps_the_feature(run: Run, tmp_path: Path, event_id: str, feature: str) -> None:
    """open/update/change/resolve/notify/sync on a workbook with the feature: untouched parts byte-identical."""
    workbook = fidelity.make_tracker(tmp_path, extra_events=2)
    info = fidelity.FEATURES[feature](workbook)
    workbook = info.path
    before = fidelity.parts(workbook)
    new_id = write_everything(run, tmp_path, event_id)
    after = fidelity.parts(workbook)
    sheets = sheet_parts(workbook)
    concerned = {sheets[s] for s in WRITTEN_SHEETS}
    concerned |= {t for s in WRITTEN_SHEETS for t in table_parts(workbook, sheets[s])}
    concerned |= {"xl/styles.xml"}  # a date in a column without a date style adds one cell format
    assert set(after) <= set(before)
    assert set(before) - set(after) <= {"xl/calcChain.xml"}
    changed = sorted(name for name in after if after[name] != before[name] and name not in concerned)
    assert changed == [], f"parts the writes did not concern changed: {changed}"
    for name in sorted({sheets[s] for s in WRITTEN_SHEETS}):
        assert outside_rows(after[name]) == outside_rows(before[name]), f"{name} changed outside its rows"
    assert fidelity.missing(workbook, info) == []
    assert_rows_readable(workbook, new_id)
    validate = run("validate")
    assert validate.exit_code == 0, validate.stdout + validate.stderr


@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_reads_and_resaves_after_writes(tmp_path: Path) -> None:
    """For every kept feature: after every write, LibreOffice opens and re-saves the file, and the new rows are in
    what it saved. One LibreOffice start re-saves all of them (a start per feature took 1.4 s each); a failure
    names each feature it concerns."""
    from click.testing import CliRunner

    from tracker.cli.commands import main

    written: dict[str, tuple[Path, str]] = {}
    problems: dict[str, str] = {}
    for feature in KEPT:
        folder = tmp_path / feature

        def here(*args: str, folder: Path = folder):  # type: ignore[no-untyped-def]
            with contextlib.chdir(folder):
                return CliRunner().invoke(main, list(args), catch_exceptions=False)

        try:
            info = fidelity.FEATURES[feature](fidelity.make_tracker(folder, extra_events=2))
            new_id = write_everything(here, folder, suite_clock.event_id())
        except AssertionError as exc:
            problems[feature] = f"the writes failed: {exc}"
            continue
        copy = tmp_path / "in" / f"{feature}{info.path.suffix}"
        copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(info.path, copy)
        written[feature] = (copy, new_id)
    saved = fidelity.libreoffice_resave_all([copy for copy, _ in written.values()], tmp_path / "out")
    for feature, (copy, new_id) in written.items():
        if new_id not in [row[0] for row in calamine_rows(saved[copy], "Events")]:
            problems[feature] = f"{new_id} is not on the Events sheet LibreOffice saved"
        elif "fidelity note" not in [row[4] for row in calamine_rows(saved[copy], "Updates")]:
            problems[feature] = "the update's note is not on the Updates sheet LibreOffice saved"
    assert not problems, problems
    assert len(written) == len(KEPT)


def test_merged_range_inside_the_table_refuses_only_the_cells_it_covers(
    run: Run, tmp_path: Path, event_id: str
) -> None:
    """A merge over N2:O2 (Mitigated, Resolved): resolving that event names the range; other writes go on."""
    workbook = fidelity.make_tracker(tmp_path)
    fidelity.FEATURES["merged_cells_in_table"](workbook)
    resolved = run("resolve", event_id, "--note", "done")
    assert resolved.exit_code == 1 and "Events!N2:O2 is a merged range" in resolved.stderr
    assert "Traceback" not in resolved.stderr
    validate = run("validate")
    assert validate.exit_code == 1 and "Events!N2:O2" in validate.stdout
    assert run("update", event_id, "--note", "still fine").exit_code == 0
    assert run("open", "--title", "next", "--severity", "Sev 2", "--service", "VPN").exit_code == 0


def test_merged_range_below_the_table_refuses_open_by_name(run: Run, tmp_path: Path, event_id: str) -> None:
    """A merge on the row where the next event goes: `open` names it, `update` of existing events works."""
    workbook = fidelity.make_tracker(tmp_path)
    fidelity.FEATURES["merged_cells_below_table"](workbook)
    opened = run("open", "--title", "next", "--severity", "Sev 2", "--service", "VPN")
    assert opened.exit_code == 1 and "is a merged range" in opened.stderr and "Events!A3" in opened.stderr
    assert "merged range" in run("validate").stdout
    assert run("update", event_id, "--note", "still fine").exit_code == 0


def test_totals_row_refuses_new_rows_by_name(run: Run, tmp_path: Path, event_id: str) -> None:
    """A totals row under the Events table: `open` says to turn it off; updates of existing rows work."""
    workbook = fidelity.make_tracker(tmp_path)
    fidelity.FEATURES["totals_row"](workbook)
    opened = run("open", "--title", "next", "--severity", "Sev 2", "--service", "VPN")
    assert opened.exit_code == 1 and "totals row of table EventsTable" in opened.stderr
    assert "Total Row" in opened.stderr
    validate = run("validate")
    assert validate.exit_code == 1 and "totals row" in validate.stdout
    assert run("update", event_id, "--note", "still fine").exit_code == 0

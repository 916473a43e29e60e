"""LibreOffice as an independent reader and writer of the tracker workbook.

LibreOffice converts what tracker wrote to CSV (one file per sheet), and re-saves the
workbook the way a colleague without Excel would; tracker must keep working on that file.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Run, soffice
from tests.test_store_safety import add_pivot_table

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed"),
]

# Tokens: comma, double quote, UTF-8, from line 1, default cell formats, default language,
# no quoting of every text cell, (import only), contents as shown (token 9), values not
# formulas, no space trimming, every sheet (-1: LibreOffice 7.2+ writes NAME-SHEET.csv each).
CSV_RAW = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
CSV_AS_SHOWN = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"
XLSX = "xlsx:Calc MS Excel 2007 XML"
NOTE = "=1+1"  # a formula would show 2; text must come back exactly as typed


def libreoffice(source: Path, target: str, outdir: Path, profile: Path) -> None:
    """Convert `source` with headless LibreOffice into `outdir` (private profile, timeout)."""
    binary = soffice()
    assert binary is not None
    command = [
        binary,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        target,
        "--outdir",
        str(outdir),
        str(source),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def sheets_as_csv(workbook: Path, tmp_path: Path, *, as_shown: bool = False) -> dict[str, list[list[str]]]:
    """Every sheet of `workbook` as LibreOffice exports it to CSV, by sheet name."""
    outdir = tmp_path / ("csv-shown" if as_shown else "csv-raw")
    libreoffice(workbook, CSV_AS_SHOWN if as_shown else CSV_RAW, outdir, tmp_path / "lo-profile")
    sheets = {}
    for path in outdir.glob(f"{workbook.stem}-*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            sheets[path.stem.removeprefix(f"{workbook.stem}-")] = list(csv.reader(handle))
    assert {"Events", "Updates", "Changes"} <= set(sheets), sorted(p.name for p in outdir.iterdir())
    return sheets


def records(rows: list[list[str]]) -> list[dict[str, str]]:
    """A sheet's CSV rows as dicts keyed by the header row's text."""
    header = rows[0]
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


def utc(text: str) -> datetime:
    """An ISO time from `tracker ... --json` (ends in Z) as an aware datetime."""
    assert text.endswith("Z"), f"not a UTC time: {text!r}"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_date(raw: str, shown: str, expected: str) -> None:
    """LibreOffice holds a date: the raw export has the seconds, the shown one the cell's yyyy-mm-dd hh:mm."""
    want = utc(expected)
    got = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs(got - want) <= timedelta(seconds=1), (raw, expected)
    # Text would be exported the same both ways; a number formatted as a date drops the seconds.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", shown), (shown, raw)
    assert abs(datetime.strptime(shown, "%Y-%m-%d %H:%M").replace(tzinfo=UTC) - want) < timedelta(minutes=1)


def show(run: Run, event_id: str) -> dict:
    """`tracker show ID --json`, parsed."""
    result = run("show", event_id, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_libreoffice_reads_what_the_lifecycle_wrote(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """After open, update, resolve and change, LibreOffice reads the ids, titles, a note starting with "=" as text, and dates as dates."""
    opened = run("open", "--title", "VPN down at HQ", "--severity", "Sev 2", "--service", "VPN")
    assert opened.exit_code == 0, opened.stderr
    new_id = opened.stdout.strip()
    steps = [
        ("update", event_id, "--note", NOTE, "--status", "Monitoring"),
        ("resolve", event_id, "--note", "Mail flow restored", "--cause", "Expired gateway certificate"),
        ("change", new_id, "--system", "vpn-gw-02", "--change", "Restarted IKE daemon", "--approved-by", "Ravi Menon"),
        ("update", new_id, "--note", "Tunnels re-established for HQ"),
    ]
    for args in steps:
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
    first, second = show(run, event_id), show(run, new_id)

    raw = {name: records(rows) for name, rows in sheets_as_csv(example, tmp_path).items()}
    shown = {name: records(rows) for name, rows in sheets_as_csv(example, tmp_path, as_shown=True).items()}

    events = {row["ID"]: row for row in raw["Events"] if row["ID"]}
    assert list(events) == [event_id, new_id]
    assert events[event_id]["Title"] == "Email outage - all sites"
    assert events[new_id]["Title"] == "VPN down at HQ"
    assert events[event_id]["Status"] == "Resolved"
    assert events[event_id]["Root Cause"] == "Expired gateway certificate"
    shown_events = {row["ID"]: row for row in shown["Events"] if row["ID"]}
    for key, data in ((event_id, first), (new_id, second)):
        for header, field in (("Detected (UTC)", "detected_at"), ("Last Update (UTC)", "last_update_at")):
            assert_date(events[key][header], shown_events[key][header], data["event"][field])
    assert_date(
        events[event_id]["Resolved (UTC)"], shown_events[event_id]["Resolved (UTC)"], first["event"]["resolved_at"]
    )

    updates = [row for row in raw["Updates"] if row["Event ID"]]
    notes = [row["Note"] for row in updates if row["Event ID"] == event_id]
    assert NOTE in notes, notes
    assert [row for row in shown["Updates"] if row["Note"] == NOTE], "the note is not shown as typed"
    assert len(notes) == sum(entry["kind"] == "update" for entry in first["timeline"])
    ours = next(row for row in updates if row["Note"] == NOTE)
    entry = next(e for e in first["timeline"] if e.get("note") == NOTE)
    assert ours["Status"] == "Monitoring"
    shown_ours = next(row for row in shown["Updates"] if row["Note"] == NOTE)
    assert_date(ours["At (UTC)"], shown_ours["At (UTC)"], entry["at"])

    changes = [row for row in raw["Changes"] if row["Event ID"] == new_id]
    assert [(row["System"], row["Change Made"], row["Approved By"]) for row in changes] == [
        ("vpn-gw-02", "Restarted IKE daemon", "Ravi Menon")
    ]


def test_workbook_resaved_by_libreoffice_stays_usable(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A workbook re-saved by LibreOffice validates, accepts update and open, and still validates with the new rows."""
    libreoffice(example, XLSX, tmp_path / "resaved", tmp_path / "lo-profile")
    shutil.copyfile(tmp_path / "resaved" / example.name, example)

    validate = run("validate")
    assert validate.exit_code == 0, validate.stdout + validate.stderr

    updated = run("update", event_id, "--note", "Edited in LibreOffice, updated by tracker")
    assert updated.exit_code == 0, updated.stderr
    opened = run("open", "--title", "Wi-Fi slow on floor 3", "--severity", "Sev 3", "--service", "Wi-Fi")
    assert opened.exit_code == 0, opened.stderr
    new_id = opened.stdout.strip()

    validate = run("validate")
    assert validate.exit_code == 0, validate.stdout + validate.stderr
    notes = [e.get("note") for e in show(run, event_id)["timeline"]]
    assert notes[-1] == "Edited in LibreOffice, updated by tracker"
    assert show(run, new_id)["event"]["title"] == "Wi-Fi slow on floor 3"

    events = sheets_as_csv(example, tmp_path)["Events"]
    assert [row[0] for row in events[1:] if row[0]] == [event_id, new_id]


def test_pivot_table_kept_by_tracker_still_opens_in_libreoffice(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A pivot table that went through `update` is still a working pivot table for LibreOffice."""
    add_pivot_table(example, "Severities")
    result = run("update", event_id, "--note", "pivot stays")
    assert result.exit_code == 0, result.stderr
    severities = sheets_as_csv(example, tmp_path)["Severities"]
    column_j = [row[9] if len(row) > 9 else "" for row in severities]
    assert column_j[:3] == ["Name", "Sev 1", "Sev 2"], column_j
    assert column_j[3], "no grand total row under the pivot table"

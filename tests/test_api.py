"""The library's public face: `tracker.__all__`, and EventTracker answering as the commands do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl

from tests.conftest import Run, process_env


def test_the_package_lists_its_public_names() -> None:
    """`import tracker` lists the public API, and importing it loads none of it until used."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, tracker; print(tracker.__all__); print('tracker.api' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == [
        "['AppendRow', 'EventTracker', 'Problem', 'SetCells', 'TrackerError', '__version__', 'check']",
        "False",
    ]


def test_validate_answers_as_the_command_does(run: Run, example: Path, tmp_path: Path) -> None:
    """EventTracker.open(...).validate() returns exactly the findings `tracker validate --json` prints, on the example
    workbook and on a broken one (the README's validate_tracker left out what the command adds: [mail] sender, the
    login name, [review] required_for, templates, the overdue highlight)."""
    from tracker import EventTracker

    def both() -> tuple[list[dict], list[dict]]:
        command = subprocess.run(
            [sys.executable, "-m", "tracker", "validate", "--json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=process_env(),
        )
        library = [p.to_dict() for p in EventTracker.open(tmp_path / "tracker.toml").validate()]
        return json.loads(command.stdout), json.loads(json.dumps(library, default=str))

    printed, returned = both()
    assert printed == returned
    book = openpyxl.load_workbook(example)
    headers = {cell.value: cell.column for cell in book["Events"][1]}
    book["Events"].cell(2, headers["Severity"]).value = "Sev 9"
    book["Events"].cell(2, headers["Users Affected"]).value = "many"
    book.save(example)
    config = tmp_path / "tracker.toml"
    lines = [
        line if not line.startswith("sender = ") else 'sender = "Event Management"'
        for line in config.read_text().splitlines()
    ]
    config.write_text("\n".join(lines) + "\n")
    printed, returned = both()
    assert printed == returned and len(printed) >= 3
    assert {p["column"] for p in printed} >= {"Severity", "Users Affected", "[mail] sender"}

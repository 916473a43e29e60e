"""Validate's findings pinned (issue 23): a fixed set of damaged workbooks, and exactly what `tracker validate --json`
reported on each (every problem's level, sheet, cell, column, value, message and allowed values, in order, and the
exit code), recorded in tests/data/validate_golden.json. A faster read path must find the same problems.

The workbooks are made the way tests/test_fuzz.py makes its cases, but from a seeded `random.Random` (case N uses
seed N), so every run builds the same ones: the example tracker made at the pinned rehearsal clock
(suite_clock.PINNED, whatever --clock says), then random values in random cells of every sheet and column kind,
Excel error values (#N/A, #REF!, #DIV/0! ... stored as error cells), control characters, dates out of Excel's range,
negative and huge numbers, duplicated IDs and names, rows naming events or severities that do not exist, times out
of order, blank, renamed and missing header cells and columns, missing sheets and odd Roster rows. Validate runs at
the pinned clock too.

Regenerate the golden file only when validate's words or checks change on purpose (never to make a faster read
path pass): `REGENERATE_VALIDATE_GOLDEN=1 pytest tests/test_validate_golden.py`, then read the diff of
tests/data/validate_golden.json before committing it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.workbook.workbook import Workbook

from tests import suite_clock
from tracker.cli.commands import main

GOLDEN = Path(__file__).parent / "data" / "validate_golden.json"
CASES = 64
PINNED = suite_clock.PINNED
EVENT = suite_clock.event_id(1, when=PINNED)
NAIVE = PINNED.replace(tzinfo=None)
ERRORS = ["#N/A", "#REF!", "#DIV/0!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!"]
CONTROL = ["\x07", "\x1b", "\x00", "\x0b", "\x7f", "\u200b", "\r\n", "\t"]
VALUES: list[object] = [
    None,
    "",
    "   ",
    "Sev 1",
    " sev 1 ",
    "SEV 2",
    "yes",
    "No",
    "4,200",
    "lots",
    "=1/0",
    EVENT,
    suite_clock.event_id(999, when=PINNED),
    "EVT-1",
    f"{NAIVE:%Y-%m-%d %H:%M}",
    f"{NAIVE:%d/%m/%Y}",
    "tomorrow",
    "Résumé 🙂 " * 12,
    0,
    -1,
    -3600,
    10**20,
    2.5,
    -0.5,
    1e300,
    True,
    False,
    NAIVE,
    NAIVE - timedelta(days=3, hours=5),
    NAIVE + timedelta(days=400),
    NAIVE - timedelta(days=365 * 140),  # before Excel's first day
    datetime.max.replace(microsecond=0),  # Excel's last day, to the second
    "Investigating",
    "Closed",
    "technical",
    "nobody@example",
    "CEO <evil@evil.test>",
]


def as_cell(value: object) -> object:
    """A value openpyxl will write: characters XML cannot hold go in as Excel's _xHHHH_ escapes (as the fuzz tests)."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"_x{ord(m[0]):04X}_", value)
    return value


def _cell(rng: random.Random, book: Workbook, kinds: tuple[str, ...] = ()) -> tuple[Any, int, int]:
    """A random sheet, a data row (one past the last too) and a column (of one of `kinds` when given)."""
    from tracker.workbook.schema import load_schema

    fields = [
        (sheet.name, spec.column + 1)
        for sheet in load_schema()
        for spec in sheet.fields.values()
        if sheet.name in book.sheetnames and (not kinds or spec.kind in kinds)
    ]
    name, column = rng.choice(fields)
    sheet = book[name]
    return sheet, rng.randint(2, max(sheet.max_row, 2) + 1), column


def random_values(rng: random.Random, book: Workbook) -> str:
    done = []
    for _ in range(rng.randint(1, 4)):
        sheet, row, column = _cell(rng, book)
        value = rng.choice(VALUES)
        sheet.cell(row, column).value = as_cell(value)
        done.append(f"{sheet.title}!{sheet.cell(row, column).coordinate}={value!r}")
    return "values " + ", ".join(done)


def error_values(rng: random.Random, book: Workbook) -> str:
    done = []
    for _ in range(rng.randint(1, 3)):
        sheet, row, column = _cell(rng, book)
        row = min(row, max(sheet.max_row, 2))
        sheet.cell(row, column).value = error = rng.choice(ERRORS)  # openpyxl writes these as error cells
        done.append(f"{sheet.title}!{sheet.cell(row, column).coordinate}={error}")
    return "excel errors " + ", ".join(done)


def control_characters(rng: random.Random, book: Workbook) -> str:
    sheet, row, column = _cell(rng, book, ("text",))
    value = f"broken {rng.choice(CONTROL)} text{rng.choice(CONTROL)}"
    sheet.cell(row, column).value = as_cell(value)
    return f"control characters {sheet.title}!{sheet.cell(row, column).coordinate}={value!r}"


def out_of_range(rng: random.Random, book: Workbook) -> str:
    sheet, row, column = _cell(rng, book, ("datetime", "integer"))
    value = rng.choice([-1, -3600, 10**20, 1e300, NAIVE - timedelta(days=365 * 140), datetime.max.replace(second=0)])
    sheet.cell(row, column).value = value
    return f"out of range {sheet.title}!{sheet.cell(row, column).coordinate}={value!r}"


def duplicate_ids(rng: random.Random, book: Workbook) -> str:
    name = rng.choice(["Events", "Actions", "Tasks", "Severities", "Services", "Distribution", "Categories"])
    sheet = book[name]
    source = rng.randint(2, sheet.max_row)
    target = sheet.max_row + 1 if rng.random() < 0.5 else rng.randint(2, sheet.max_row)
    for column in range(1, sheet.max_column + 1):
        sheet.cell(target, column).value = sheet.cell(source, column).value
    if rng.random() < 0.5:  # the same ID in another case and with spaces
        sheet.cell(target, 1).value = f" {str(sheet.cell(source, 1).value).lower()} "
    return f"duplicate {name} row {source} as row {target}"


def unknown_references(rng: random.Random, book: Workbook) -> str:
    name, column, value = rng.choice(
        [
            ("Updates", 1, suite_clock.event_id(777, when=PINNED)),
            ("Updates", 1, "not an id"),
            ("Changes", 1, suite_clock.event_id(778, when=PINNED)),
            ("Actions", 2, suite_clock.event_id(779, when=PINNED)),
            ("Tasks", 2, suite_clock.event_id(780, when=PINNED)),
            ("Reviews", 1, suite_clock.event_id(781, when=PINNED)),
            ("Notifications", 2, suite_clock.event_id(782, when=PINNED)),
            ("Events", 3, "Sev 7"),
            ("Events", 7, "Mainframe, Email"),
            ("Escalations", 1, "Sev 9"),
            ("Severities", 6, "leadership, martians"),
            ("Categories", 2, "nobody"),
            ("Distribution", 1, "martians"),
            ("Roster", 4, "chief wizard"),
        ]
    )
    sheet = book[name]
    row = sheet.max_row + 1 if rng.random() < 0.4 else rng.randint(2, max(sheet.max_row, 2))
    sheet.cell(row, column).value = value
    if name == "Updates" and row > 3:
        sheet.cell(row, 2).value = NAIVE - timedelta(minutes=rng.randint(1, 300))
        sheet.cell(row, 5).value = "typed by someone"
    return f"reference {name}!{sheet.cell(row, column).coordinate}={value!r}"


def times_out_of_order(rng: random.Random, book: Workbook) -> str:
    events = book["Events"]
    columns = [11, 12, 13, 14, 15, 16, 17, 26]  # Detected ... Last Update, Vendor Case Opened
    done = []
    for column in rng.sample(columns, rng.randint(1, 3)):
        when = NAIVE - timedelta(days=rng.choice([-2, 1, 5, 40]), minutes=rng.randint(0, 600))
        events.cell(2, column).value = when
        done.append(f"{events.cell(2, column).coordinate}={when:%d %H:%M}")
    if rng.random() < 0.5:
        events.cell(2, 4).value = rng.choice(["Resolved", "Closed", "Monitoring"])
        done.append(f"D2={events.cell(2, 4).value}")
    if rng.random() < 0.5:  # an update before the event was detected, or a status going back
        updates = book["Updates"]
        updates.cell(2, 2).value = NAIVE - timedelta(days=30)
        updates.cell(3, 4).value = rng.choice(["Investigating", "Closed", "Resolved"])
        done.append("Updates B2, D3")
    return "time order " + ", ".join(done)


def headers(rng: random.Random, book: Workbook) -> str:
    sheet = book[rng.choice(book.sheetnames)]
    column = rng.randint(1, sheet.max_column)
    old = sheet.cell(1, column).value
    how = rng.choice(["blank", "renamed", "case", "deleted", "extra", "moved"])
    if how == "blank":
        sheet.cell(1, column).value = None
    elif how == "renamed":
        sheet.cell(1, column).value = f"{old} (old)"
    elif how == "case":
        sheet.cell(1, column).value = f" {str(old).upper()} "
    elif how == "deleted":
        sheet.delete_cols(column)
    elif how == "extra":
        sheet.cell(1, sheet.max_column + 1).value = "My Notes"
        sheet.cell(2, sheet.max_column).value = "mine"
    else:
        other = rng.randint(1, sheet.max_column)
        sheet.cell(1, column).value, sheet.cell(1, other).value = sheet.cell(1, other).value, old
    return f"header {how} {sheet.title} column {column} ({old})"


def missing_sheet(rng: random.Random, book: Workbook) -> str:
    name = rng.choice(book.sheetnames)
    del book[name]
    return f"sheet {name} removed"


ROSTER_ROWS = [
    ("Dana Fox", "dana@example.com", "", "duty event manager", "Mon-Fri", None, "09:00", "17:00"),
    ("Dana Fox", "dana@example.com", "", "duty event manager", "Mon–Sun", None, "25:00", "07:00"),
    ("Eli Park", "eli@example.com", "", "duty event manager", "Funday", None, "07:00", "15:00"),
    ("Eli Park", "eli@example.com", "", "stand-by", "", f"{NAIVE + timedelta(days=3):%d/%m/%Y}", "07:00", "15:00"),
    ("", "", "", "duty event manager", "Sat", None, "07:00", "07:00"),
    ("Max Roe", "not-an-email", "", "operations manager", "Sat, Sun", None, "08:00", "07:59"),
    ("Max Roe", "max@example.com", "", "duty event manager", "Mon", NAIVE + timedelta(days=2), "noon", "18:00"),
    ("Jo Kim", "jo@example.com", "", "wizard", "Tue", NAIVE - timedelta(days=1), "10:00", "10:00"),
]


def roster(rng: random.Random, book: Workbook) -> str:
    sheet = book["Roster"]
    done = []
    for values in rng.sample(ROSTER_ROWS, rng.randint(1, 3)):
        row = sheet.max_row + 1 if rng.random() < 0.5 else rng.randint(2, sheet.max_row)
        for column, value in enumerate(values, start=1):
            sheet.cell(row, column).value = value
        done.append(f"row {row}={values[0]!r} {values[4]!r}")
    if rng.random() < 0.3:  # nobody covers the night shift: a gap
        sheet.cell(4, 5).value = "Mon"
        done.append("gap")
    return "roster " + ", ".join(done)


DAMAGES: list[Callable[[random.Random, Workbook], str]] = [
    random_values,
    error_values,
    control_characters,
    out_of_range,
    duplicate_ids,
    unknown_references,
    times_out_of_order,
    roster,
    headers,
    error_values,
    unknown_references,
    random_values,
    missing_sheet,
]


def damage(case: int, book: Workbook) -> list[str]:
    """Case N's damage: DAMAGES[N % len] (so every kind is made several times), then up to two more at random."""
    rng = random.Random(case)
    chosen = [DAMAGES[case % len(DAMAGES)], *rng.sample(DAMAGES, rng.randint(0, 2))]
    return [harm(rng, book) for harm in chosen]


def validate(folder: Path) -> dict[str, Any]:
    """`tracker validate --json` in `folder`: the exit code and the problems."""
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(main, ["validate", "--json"], catch_exceptions=False)
    finally:
        os.chdir(cwd)
    problems = json.loads(result.stdout) if result.stdout.strip() else result.stderr
    return {"exit": result.exit_code, "problems": problems}


def findings(tmp_path: Path, at: Callable[[datetime], None]) -> dict[str, Any]:
    """Every case's damage (in words, to read the golden file by) and what validate said of it."""
    at(PINNED)
    template = tmp_path / "template"
    template.mkdir()
    cwd = Path.cwd()
    os.chdir(template)
    try:
        assert CliRunner().invoke(main, ["init", "--example", "--name", "Golden"]).exit_code == 0
    finally:
        os.chdir(cwd)
    found: dict[str, Any] = {}
    for case in range(CASES):
        folder = tmp_path / f"case-{case}"
        folder.mkdir()
        shutil.copyfile(template / "tracker.toml", folder / "tracker.toml")
        book = openpyxl.load_workbook(template / "events.xlsx")
        made = damage(case, book)
        book.save(folder / "events.xlsx")
        found[str(case)] = {"damage": made, **validate(folder)}
    return found


def golden_text(found: dict[str, Any]) -> str:
    """The golden file: one line per case's damage and one per problem, so a change reads well in a diff."""

    def line(value: object) -> str:
        return json.dumps(value, ensure_ascii=False)

    cases = []
    for case, seen in found.items():
        problems = seen["problems"]
        listed = "[\n" + ",\n".join(f"   {line(problem)}" for problem in problems) + "\n  ]" if problems else "[]"
        body = line(problems) if isinstance(problems, str) else listed
        cases.append(
            f' {line(case)}: {{\n  "damage": {line(seen["damage"])},\n  "exit": {seen["exit"]},\n  "problems": {body}\n }}'
        )
    return "{\n" + ",\n".join(cases) + "\n}\n"


def test_validate_finds_the_same_problems_as_recorded(tmp_path: Path, at: Callable[[datetime], None]) -> None:
    """On each of the damaged workbooks, validate reports exactly the recorded problems (same cells, values, words,
    order) and exits with the recorded code."""
    found = findings(tmp_path, at)
    if os.environ.get("REGENERATE_VALIDATE_GOLDEN"):
        GOLDEN.write_text(golden_text(found), encoding="utf-8")
        pytest.skip(f"regenerated {GOLDEN.name}: read its diff before committing")
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(found, key=int) == sorted(recorded, key=int)
    for case, expected in recorded.items():
        assert found[case]["damage"] == expected["damage"], f"case {case} was built differently: {found[case]}"
        assert found[case] == expected, f"case {case} ({'; '.join(expected['damage'])})"

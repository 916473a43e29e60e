"""Fuzzing (issue 9, point 6): random cell values of every column type, random tracker.toml documents, random
time strings and random Distribution rows. The property: every command exits 0, 1 or 2 (never 3, the last-resort
"failed unexpectedly", never a traceback) and the workbook still opens.

The default run is short (it runs in CI); `HYPOTHESIS_PROFILE=long pytest tests/test_fuzz.py` runs ten times more.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from tests import suite_clock
from tests.conftest import suite_environment
from tracker.cli.commands import main
from tracker.workbook.schema import load_schema

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028

# profiles of their own: registering Hypothesis's "default" here changed it for every test module imported after
settings.register_profile("fuzz", max_examples=12, deadline=None, database=None)
settings.register_profile("long", max_examples=120, deadline=None, database=None)
FUZZ = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz"))
COMMON = {"suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}
EVENT = suite_clock.event_id()  # the example event; its year is the suite clock's, in UTC
SCHEMA = load_schema()
COLUMNS = [(sheet.name, spec.column + 1, spec.kind) for sheet in SCHEMA for spec in sheet.fields.values()]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One example tracker made at the suite's moment, copied for each fuzzed case."""
    folder = tmp_path_factory.mktemp("template")
    with suite_environment(tmp_path_factory.mktemp("state")), contextlib.chdir(folder):
        assert CliRunner().invoke(main, ["init", "--example", "--name", "Fuzz"]).exit_code == 0
    return folder


@contextmanager
def copy_of(template: Path, tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the example tracker folder, as the current folder."""
    folder = tmp_path / f"case-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(template, folder)
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(cwd)


def run(*args: str) -> tuple[int, str]:
    """Run a command in-process; its exit code and everything it printed."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        code = -1  # escaped even the last resort
    return code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def assert_calm(code: int, output: str, what: object) -> None:
    """0, 1 or 2 (for `due` also 4 to 7: what is late, README's exit codes), and no traceback."""
    args = what[0] if isinstance(what, tuple) and what and isinstance(what[0], tuple) else what
    late = (4, 5, 6, 7) if isinstance(args, tuple) and args[:1] == ("due",) else ()
    assert code in (0, 1, 2, *late), (what, code, output[-2000:])
    assert "Traceback" not in output, (what, output[-2000:])


def still_opens(path: Path) -> None:
    """The workbook is an intact zip that tracker reads (openpyxl itself refuses some values the cases write)."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
    assert_calm(*run("list"), path)


def as_cell(value: object) -> object:
    """A value openpyxl will write: characters XML cannot hold go in as Excel's _xHHHH_ escapes."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"_x{ord(m[0]):04X}_", value)
    return value


CELL_VALUES = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=20),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(["#N/A", "=1/0", "Sev 1", " sev 1 ", EVENT, "yes", "2026-11-21 14:32", "4,200", ""]),
)


@settings(FUZZ, **COMMON)
@given(cells=st.lists(st.tuples(st.sampled_from(COLUMNS), st.integers(2, 4), CELL_VALUES), min_size=1, max_size=6))
def test_random_cells_never_crash_a_command(template: Path, tmp_path: Path, cells: list) -> None:
    """Random values in random cells of every sheet: validate, list, show, notify --dry-run, due, publish, report,
    review and update each end with 0, 1 or 2 and no traceback, and the workbook still opens."""
    with copy_of(template, tmp_path) as folder:
        book = openpyxl.load_workbook(folder / "events.xlsx")
        for (sheet, column, _kind), row, value in cells:
            book[sheet].cell(row, column).value = as_cell(value)
        book.save(folder / "events.xlsx")
        for args in (
            ("validate",),
            ("list",),
            ("show", EVENT),
            ("notify", EVENT, "--dry-run"),
            ("due", "--json"),
            ("publish", "--out", "page.html"),
            ("report", "--json"),
            ("review", EVENT, "--format", "md", "--force"),
            ("update", EVENT, "--note", "fuzz"),
            ("validate", "--fix"),
        ):
            assert_calm(*run(*args), (args, cells))
        still_opens(folder / "events.xlsx")


TOML_VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.text(max_size=10), max_size=3),
)
KNOWN_NAMES = [
    "path",
    "backups",
    "lock_timeout",
    "schema",
    "transport",
    "sender",
    "outbox",
    "timezone",
    "time_format",
    "name",
    "max_recipients",
    "internal_audiences",
    "site_url",
    "auth",
    "password",
]
SECTIONS = ["workbook", "mail", "display", "user", "sharepoint", "mail.smtp", "workbok", "Mail"]


@settings(FUZZ, **COMMON)
@given(
    document=st.dictionaries(
        st.sampled_from(SECTIONS),
        st.dictionaries(
            st.one_of(st.sampled_from(KNOWN_NAMES), st.text(min_size=1, max_size=12)), TOML_VALUES, max_size=4
        ),
        max_size=4,
    )
)
def test_random_tracker_toml_never_crashes(template: Path, tmp_path: Path, document: dict) -> None:
    """Any TOML document as tracker.toml: validate and notify --dry-run end with 0, 1 or 2, never a traceback."""
    import tomlkit

    with copy_of(template, tmp_path) as folder:
        nested: dict = {}
        for section, values in document.items():
            head, _, tail = section.partition(".")
            target = nested.setdefault(head, {})
            if tail:
                target = target.setdefault(tail, {}) if isinstance(target, dict) else target
            if isinstance(target, dict):
                target.update(values)
        (folder / "tracker.toml").write_text(tomlkit.dumps(nested), encoding="utf-8")
        for args in (("validate",), ("notify", EVENT, "--dry-run"), ("list", "--json")):
            assert_calm(*run(*args), (args, nested))


TIME_TEXT = st.one_of(
    st.text(max_size=25),
    st.from_regex(r"\A[+-]\d{1,12}[mhd]\Z"),
    st.from_regex(r"\A\d{1,5}-\d{1,3}-\d{1,3}[ T]\d{1,3}:\d{1,3}Z?\Z"),
    st.from_regex(r"\A\d{1,4}Z?\Z"),
    st.sampled_from(["now", "24:00", "2026-02-30 10:00", "2026-03-08 02:30", "1899-12-30 00:00", "+0m", "-0m"]),
)


@settings(FUZZ, **COMMON)
@given(text=TIME_TEXT, option=st.sampled_from(["--eta", "--detected", "--at"]))
def test_random_time_strings_never_crash(template: Path, tmp_path: Path, text: str, option: str) -> None:
    """Whatever a person types as a time, in any time option: a time, or a one-line error (exit 1 or 2)."""
    with copy_of(template, tmp_path):
        if option == "--eta":
            args: tuple[str, ...] = ("update", EVENT, "--note", "x", "--eta", text)
        elif option == "--detected":
            args = ("open", "--title", "t", "--severity", "Sev 2", "--service", "VPN", "--detected", text)
        else:
            args = ("resolve", EVENT, "--note", "x", "--at", text)
        assert_calm(*run(*args), args)


ADDRESSES = st.one_of(
    st.emails(),
    st.text(max_size=40),
    st.sampled_from(["CEO <evil@evil.test>", "a@b", "a@example.com, b@example.com", "", " x@example.com "]),
)


@settings(FUZZ, **COMMON)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["customer", "leadership", "technical", "Customer", "partner", ""]),
            st.text(max_size=20),
            ADDRESSES,
            st.sampled_from(["To", "Cc", "Bcc", "bcc", "From", "", None]),
            st.sampled_from(["Yes", "No", "yes", "", None, True]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_random_distribution_rows_never_crash(template: Path, tmp_path: Path, rows: list) -> None:
    """Random Distribution rows: validate and notify (dry run and to the outbox) end calmly; the workbook opens."""
    with copy_of(template, tmp_path) as folder:
        book = openpyxl.load_workbook(folder / "events.xlsx")
        sheet = book["Distribution"]
        for row in rows:
            sheet.append([as_cell(v) for v in row])
        table = sheet.tables["DistributionTable"]
        table.ref = f"A1:{table.ref.split(':')[1].rstrip('0123456789')}{sheet.max_row}"
        book.save(folder / "events.xlsx")
        for args in (("validate",), ("notify", EVENT, "--dry-run"), ("notify", EVENT)):
            assert_calm(*run(*args), (args, rows))
        still_opens(folder / "events.xlsx")

"""The README's console examples: found, run against the real CLI, and compared with what it prints.

A ```console block is a transcript: `$ tracker ...` lines are commands, the lines up to the next
`$` line are what the command prints (stdout and stderr, in the order a terminal shows them).
`$ echo $?` prints the exit code of the command before it. An HTML comment on the line before
the block's fence tells the docs test how to run it:

    <!-- docs-test: skip (needs SharePoint) -->                   not run; skips are counted
    <!-- docs-test: set Events row 2 Severity="Sev 9" for this block -->  cells typed by hand first,
                                                                 by header; undone after the block
    <!-- docs-test: sharepoint stand-in -->                       run in a folder whose workbook is
                                                                 on the tests' SharePoint stand-in

Blocks without a marker run in one folder, in README order (the README's flow: `tracker init
--example` comes first). In each folder tracker's rehearsal clock starts at CLOCK and moves on one
second per command, so times need no normalising; what still varies (the stand-in's port and file GUID,
request durations, the compressed workbook's size) is replaced by the narrow patterns in NORMALISE,
on both sides. Trailing spaces are ignored.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import json
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests import suite_clock
from tracker.cli.commands import main
from tracker.times import CLOCK as CLOCK_OF_TRACKER

CLOCK = suite_clock.PINNED
"""When the README's first console command runs (the suite's pinned moment, whatever --clock says: the README shows
what tracker printed then); each later one runs a second after the one before."""

_FENCE = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)
_MARKER = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->")
_SET = re.compile(r"^set (\w+) row (\d+) (.+) for this block$")
_TYPE = re.compile(r"^type (.+) for this block$")  # type SHEET row H="v", ...; SHEET row ... : new rows in the tables
_TYPED_ROW = re.compile(r"^(\w+) row (.+)$")
_CELL = re.compile(r'\s*([^=,"]+?)\s*=\s*"([^"]*)"\s*(?:,|$)')
_CELLS = re.compile(rf"(?:{_CELL.pattern})+")
_SHARE = re.compile(r"(shares/u!)([A-Za-z0-9_-]+)")
_PORT = re.compile(r"(127\.0\.0\.1):\d+")


def _share_url(match: re.Match[str]) -> str:
    """Graph's sharing token is the base64url of the file's URL, which holds the stand-in's port."""
    token = match[2]
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    return match[1] + "<base64url of " + _PORT.sub(r"\1:PORT", url) + ">"


NORMALISE: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (_SHARE, _share_url),  # before the port: the token encodes it
    (_PORT, r"\1:PORT"),  # the stand-in listens on a free port
    (re.compile(r"\{[0-9A-F]{8}(?:-[0-9A-F]{4}){3}-[0-9A-F]{12}\}"), "{GUID}"),  # the stand-in's file GUID
    # the stand-in's Graph site id: host,site collection GUID,web GUID (fresh each run)
    (re.compile(r"(/sites/127\.0\.0\.1),[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12},[0-9a-f-]{36}"), r"\1,{SITE}"),
    (re.compile(r"(^http: .*\()\d+( ms, )", re.M), r"\1N\2"),  # how long a request took
    # the workbook's size: a zip, so it depends on the zlib build as well as on what tracker wrote
    (re.compile(r"(^reachable: yes \()[\d,]+( bytes, )", re.M), r"\1N\2"),
    (re.compile(r"(^ok +workbook .*: read, \d+ events?, )[\d,]+( bytes, )", re.M), r"\1N\2"),  # doctor's line
    (re.compile(r"(^http: GET .*/\$value -> 200 \(N ms, )\d+( B\))", re.M), r"\1N\2"),
]


@dataclass
class Step:
    """One `$` line of a block and the lines the README shows after it."""

    line: int
    command: str
    expected: list[str]


@dataclass
class Block:
    """One ```console block: where it starts, its marker (if any) and its steps."""

    line: int
    marker: str | None
    steps: list[Step] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return self.marker is not None and self.marker.startswith("skip")

    @property
    def text(self) -> list[str]:
        return [out for step in self.steps for out in [f"$ {step.command}", *step.expected]]


def parse_blocks(readme: str) -> list[Block]:
    """Every ```console block of the README, with its marker and README line numbers."""
    lines = readme.split("\n")
    blocks = []
    for match in _FENCE.finditer(readme):
        fence = readme.count("\n", 0, match.start()) + 1  # 1-based line of the opening fence
        before = [text for text in lines[: fence - 1] if text.strip()]
        marker = _MARKER.fullmatch(before[-1].strip()) if before else None
        block = Block(fence, marker[1] if marker else None)
        for offset, text in enumerate(match[1].rstrip("\n").split("\n"), start=fence + 1):
            if text.startswith("$ "):
                block.steps.append(Step(offset, text[2:], []))
            elif not block.steps:
                raise AssertionError(f"README.md:{offset}: a console block must start with a `$` command")
            else:
                block.steps[-1].expected.append(text)
        blocks.append(block)
    return blocks


def markers(readme: str) -> list[str]:
    """Every docs-test marker in the README, attached to a block or not."""
    return _MARKER.findall(readme)


def normalise(lines: list[str]) -> list[str]:
    """The lines with what varies from run to run replaced, and trailing spaces dropped."""
    text = "\n".join(line.rstrip() for line in lines)
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text.split("\n")


class TerminalRunner(CliRunner):
    """CliRunner whose stdout and stderr are line-buffered like a terminal's, so `output` interleaves
    them in the order a user sees (print() to stderr would otherwise arrive after every click.echo)."""

    @contextlib.contextmanager
    def isolation(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with super().isolation(*args, **kwargs) as streams:
            sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
            sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
            yield streams


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([part(b'{"alg":"none"}'), part(json.dumps(claims).encode()), "signature"])


class Session:
    """A folder the README's commands run in, one after the other: the first at CLOCK, each later one a
    second after the one before (as if typed briskly: rows keep their order, times show one minute)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.at = CLOCK
        self.runner = TerminalRunner()
        self.env: dict[str, str] = {}
        self.last_exit: int | None = None
        folder.mkdir()

    def invoke(self, args: list[str], monkeypatch: pytest.MonkeyPatch) -> Result:
        """`tracker ARGS` in this folder, at this session's next second."""
        monkeypatch.chdir(self.folder)
        CLOCK_OF_TRACKER.pin(self.at)  # the rehearsal clock, as TRACKER_NOW would set it, without its note
        self.at += timedelta(seconds=1)
        result = self.runner.invoke(main, args, env=self.env, catch_exceptions=False)
        self.last_exit = result.exit_code
        return result

    def run(self, step: Step, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int | None]:
        """What the step's command prints, and its exit code (None for `echo $?`)."""
        words = shlex.split(step.command)
        if words == ["echo", "$?"]:
            return [str(self.last_exit)], None
        if not words or words[0] != "tracker":
            raise AssertionError(f"README.md:{step.line}: the docs test runs only `tracker ...` and `echo $?`")
        result = self.invoke(words[1:], monkeypatch)
        return result.output.rstrip("\n").split("\n") if result.output else [], result.exit_code


def sharepoint_session(folder: Path, monkeypatch: pytest.MonkeyPatch, stack: contextlib.ExitStack) -> Session:
    """The README's set-up, then its workbook moved to a SharePoint stand-in, signed in with tokens for
    alex.morgan@contoso.com that expire an hour after CLOCK."""
    from tests.sharepoint_standin import StandIn

    session = Session(folder)
    result = session.invoke(["init", "--example", "--name", "Alex Morgan"], monkeypatch)
    assert result.exit_code == 0, result.output
    standin = stack.enter_context(StandIn())
    stack.callback(lambda: _no_standin_errors(standin))
    path = "/sites/ops/Shared Documents/Event Tracker.xlsx"
    standin.put_file(path, (folder / "events.xlsx").read_bytes())
    (folder / "events.xlsx").unlink()
    with (folder / "tracker.toml").open("a", encoding="utf-8") as config:
        config.write(
            f'\n[sharepoint]\nsite_url = "{standin.site_url}"\npath = "{path}"\ncloud = "global"\n'
            f'auth = "token-env"\ngraph_url = "{standin.graph_url}"\n'
        )
    exp = int((CLOCK + timedelta(hours=1)).timestamp())
    tokens = {
        name: _jwt({"upn": "alex.morgan@contoso.com", "aud": aud, "exp": exp})
        for name, aud in (("TRACKER_SHAREPOINT_TOKEN", "sharepoint"), ("TRACKER_GRAPH_TOKEN", "graph"))
    }
    standin.tokens |= set(tokens.values())
    session.env = tokens
    return session


def _no_standin_errors(standin: Any) -> None:
    assert standin.errors == [], standin.errors


@contextlib.contextmanager
def cells_set(workbook: Path, marker: str, line: int) -> Iterator[None]:
    """The cells a `set SHEET row N Header="value", ... for this block` marker names, typed into the
    workbook (found by header, as a person would) and put back afterwards."""
    import openpyxl

    typed = _TYPE.match(marker)
    if typed and not marker.startswith("set "):
        with rows_typed(workbook, typed[1], line):
            yield
        return
    match = _SET.match(marker)
    if not match or not _CELLS.fullmatch(match[3]):
        raise AssertionError(f"README.md:{line}: unknown docs-test marker {marker!r}")
    sheet, row, values = match[1], int(match[2]), dict(_CELL.findall(match[3]))
    saved = workbook.with_name(workbook.name + ".docs-test")
    shutil.copy2(workbook, saved)
    book = openpyxl.load_workbook(workbook)
    headers = {cell.value: cell.column for cell in book[sheet][1]}
    for header, value in values.items():
        assert header in headers, f"README.md:{line}: no column {header!r} on {sheet} (found {sorted(headers)})"
        book[sheet].cell(row=row, column=headers[header], value=value)
    book.save(workbook)
    try:
        yield
    finally:
        saved.replace(workbook)


@contextlib.contextmanager
def rows_typed(workbook: Path, text: str, line: int) -> Iterator[None]:
    """New rows typed inside the tables (`SHEET row Header="value", ...`, several joined by "; "), as a person types
    them in Excel, for one block; the workbook put back afterwards."""
    from tests.typing_rows import type_rows

    rows: dict[str, list[dict[str, Any]]] = {}
    for part in text.replace("<year>", str(CLOCK.year)).split("; "):  # IDs in a marker: the docs clock's year
        match = _TYPED_ROW.match(part.strip())
        if not match or not _CELLS.fullmatch(match[2]):
            raise AssertionError(f"README.md:{line}: unknown docs-test row {part!r}")
        rows.setdefault(match[1], []).append(dict(_CELL.findall(match[2])))
    saved = workbook.with_name(workbook.name + ".docs-test")
    shutil.copy2(workbook, saved)
    type_rows(workbook, "openpyxl", rows)
    try:
        yield
    finally:
        saved.replace(workbook)


def run_block(block: Block, session: Session, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """The block's commands run in the session: the transcript they print, and a note for each command
    that failed where the README does not show its exit code."""
    transcript: list[str] = []
    notes: list[str] = []
    for number, step in enumerate(block.steps):
        output, code = session.run(step, monkeypatch)
        transcript += [f"$ {step.command}", *output]
        shown = number + 1 < len(block.steps) and block.steps[number + 1].command == "echo $?"
        if code and not shown:
            notes.append(f"README.md:{step.line}: `{step.command}` exited {code}; show it with `$ echo $?`")
    return transcript, notes


def run_blocks(readme: str, blocks: list[Block], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run every block that is not skipped; a unified diff per block whose output differs from the README,
    numbered as README lines (the README's lines up to the block's fence lead both sides)."""
    before = readme.split("\n")
    failures = []
    with contextlib.ExitStack() as stack:
        local = Session(tmp_path / "readme")
        standin: Session | None = None
        for block in blocks:
            if block.skipped:
                continue
            if block.marker == "sharepoint stand-in":
                standin = standin or sharepoint_session(tmp_path / "sharepoint", monkeypatch, stack)
                actual, notes = run_block(block, standin, monkeypatch)
            elif block.marker:
                with cells_set(local.folder / "events.xlsx", block.marker, block.line - 1):
                    actual, notes = run_block(block, local, monkeypatch)
            else:
                actual, notes = run_block(block, local, monkeypatch)
            expected, got = normalise(block.text), normalise(actual)
            if expected != got or notes:
                lead = before[: block.line]
                diff = difflib.unified_diff(
                    lead + expected, lead + got, "README.md", "what tracker prints", lineterm=""
                )
                failures.append("\n".join([*notes, *diff]))
    return failures

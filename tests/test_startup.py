"""Starting quickly (issue 23): `import tracker`, `tracker --help`, `tracker` alone and `tracker --version` load none
of the heavy libraries, nor any command's module; the command list `--help` shows comes from a table in
tracker/cli/commands.py that must say what the commands themselves say. No timing here: bench/ measures."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import tracker.cli
from tests.conftest import process_env
from tracker.cli.commands import COMMANDS, HIDDEN, main
from tracker.cli.help_text import TEXTS

HEAVY = (
    "openpyxl",
    "jinja2",
    "matplotlib",
    "docx",
    "office365",
    "msal",
    "requests",
    "css_inline",
    "python_calamine",
    "jsonschema_rs",
    "lxml",
    "PIL",
)
COMMAND_MODULES = sorted({f"tracker.cli.{target.split(':')[0]}" for target, _ in COMMANDS.values()})
ROOT = Path(__file__).resolve().parent.parent

# A fresh interpreter runs the snippet, then prints the modules it loaded (at exit: after `--help` has exited too).
PROLOGUE = "import atexit, sys\natexit.register(lambda: sys.stderr.write('\\nMODULES ' + repr(sorted(sys.modules))))\n"
STARTS = {
    "import tracker": "import tracker",
    "import tracker.entry": "import tracker.entry",
    "import tracker.cli.commands": "import tracker.cli.commands",
    "tracker --help": "sys.argv = ['tracker', '--help']\nfrom tracker.entry import main\nmain()",
    "tracker": "sys.argv = ['tracker']\nfrom tracker.entry import main\nmain()",
    "tracker --version": "sys.argv = ['tracker', '--version']\nfrom tracker.entry import main\nmain()",
}


def loaded_by(snippet: str, cwd: Path = ROOT, **env: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules a fresh interpreter has loaded after `snippet` (run in `cwd`), and how it ended."""
    done = subprocess.run(
        [sys.executable, "-c", PROLOGUE + snippet],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=process_env(**env),
        timeout=60,
    )
    marker = done.stderr.rpartition("\nMODULES ")
    assert marker[1], done.stderr
    return set(eval(marker[2])), done  # noqa: S307 - the repr of a list of module names, printed just above


@pytest.mark.parametrize("start", STARTS)
def test_starting_loads_no_heavy_library(start: str) -> None:
    """Importing tracker or its command line, `tracker --help`, `tracker` and `tracker --version` import none of
    openpyxl, jinja2, matplotlib, python-docx, office365, msal, requests, css-inline, calamine, jsonschema-rs, lxml,
    Pillow: only the commands that use one load it."""
    modules, done = loaded_by(STARTS[start])
    assert done.returncode in (0, 2), done.stderr  # `tracker` alone shows the help and exits 2, as click does
    heavy = sorted(name for name in modules if name.split(".")[0] in HEAVY)
    assert heavy == [], f"{start} imported {heavy}"


@pytest.mark.parametrize("start", ["tracker --help", "tracker", "tracker --version"])
def test_the_command_list_loads_no_command_module(start: str) -> None:
    """`tracker --help` (and `tracker`, `tracker --version`) list the commands without importing their modules;
    `tracker validate --help` imports validate's."""
    modules, _ = loaded_by(STARTS[start])
    assert sorted(set(COMMAND_MODULES) & modules) == []
    one, done = loaded_by("sys.argv = ['tracker', 'validate', '--help']\nfrom tracker.entry import main\nmain()")
    assert done.returncode == 0 and "tracker validate --fix" in done.stdout
    assert "tracker.cli.setup" in one and "tracker.cli.events" not in one


def first_paragraph(text: str | None) -> str:
    """What click makes a command's short help from: its help's first paragraph (its words, on one line)."""
    text = text or ""
    end = text.find("\n\n")
    return " ".join((text if end == -1 else text[:end]).split())


def real_commands() -> dict[str, tuple[str, click.Command]]:
    """The top-level commands the tracker.cli modules define (a group's subcommands left out): name -> (their
    "module:attribute", the command)."""
    found: dict[int, tuple[str, click.Command]] = {}
    inside: set[int] = set()
    for info in pkgutil.iter_modules(tracker.cli.__path__):
        module = importlib.import_module(f"tracker.cli.{info.name}")
        for attribute, value in vars(module).items():
            if isinstance(value, click.Command) and value is not main:
                home = value.callback.__module__ if value.callback else module.__name__
                if home == module.__name__:
                    found[id(value)] = (f"{info.name}:{attribute}", value)
                if isinstance(value, click.Group):
                    inside.update(id(sub) for sub in value.commands.values())
    return {command.name or "": (target, command) for key, (target, command) in found.items() if key not in inside}


def test_the_command_table_says_what_the_commands_say() -> None:
    """COMMANDS (what `tracker --help` lists without importing the commands) names every command the modules define,
    where it is, and its help's first paragraph; HIDDEN names the hidden ones. On a difference the message is the
    table as it should be."""
    commands = real_commands()
    expected = {name: (target, first_paragraph(command.help)) for name, (target, command) in sorted(commands.items())}
    table = "\n".join(f"    {name!r}: {entry!r}," for name, entry in expected.items())
    assert COMMANDS == expected, f"tracker/cli/commands.py's COMMANDS should be (then run ruff format):\n{table}"
    assert HIDDEN == {name for name, (_, command) in commands.items() if command.hidden}
    odd = [name for name, (_, command) in commands.items() if command.short_help or command.deprecated]
    assert odd == [], "COMMANDS holds the help's first paragraph: a short_help= or deprecated= would not show"


def eager_help(columns: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """`tracker --help` as click writes it with every command loaded (as tracker did before its table), at a terminal
    `columns` wide."""
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(click.formatting, "FORCED_WIDTH", None)
    group = click.Group(
        "tracker",
        commands={name: command for name, (_, command) in real_commands().items()},
        params=main.params,
        help=main.help,
        context_settings=main.context_settings,
    )
    return group.get_help(click.Context(group, info_name="tracker", **main.context_settings)) + "\n"


@pytest.mark.parametrize("columns", [40, 80, 100, 160])
def test_help_is_what_click_writes_with_every_command_loaded(columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tracker --help` in a terminal of any width is byte for byte the help click writes with every command
    imported: the table changes when the help is written, not what it says."""
    expected = eager_help(columns, monkeypatch)
    _, shown = loaded_by(STARTS["tracker --help"], COLUMNS=str(columns))
    assert shown.stdout == expected
    _, bare = loaded_by(STARTS["tracker"], COLUMNS=str(columns))
    assert bare.stderr.rpartition("\nMODULES ")[0] == expected  # click shows it on stderr, as a usage error


def test_the_help_kept_for_common_widths_is_what_click_writes_now() -> None:
    """tracker/cli/help_text.py keeps `tracker --help` for 80 columns and for 100 or more: after a change to a
    command's help it must be written again (the message says how)."""
    for width, kept in TEXTS.items():
        context = click.Context(main, info_name="tracker", terminal_width=width, **main.context_settings)
        assert kept == main.get_help(context) + "\n", (
            "run `python -c 'from tracker.cli.commands import write_kept_help; write_kept_help()'`"
        )


@pytest.mark.parametrize(("columns", "kept"), [(80, True), (100, True), (160, True), (60, False)])
def test_help_at_common_widths_prints_without_loading_click(columns: int, kept: bool) -> None:
    """`tracker --help` in a terminal 80 or at least 100 columns wide (and in a pipe) prints the kept help without
    importing click (issue 23: click alone is more than twice Python's start); at other widths click writes it."""
    modules, done = loaded_by(STARTS["tracker --help"], COLUMNS=str(columns))
    assert done.returncode == 0 and done.stdout.startswith("Usage: tracker [OPTIONS] COMMAND [ARGS]...")
    assert ("click" not in modules) is kept
    modules, done = loaded_by("sys.argv = ['tracker', '-h']\nfrom tracker.entry import main\nmain()")
    assert "click" not in modules and "Commands:" in done.stdout


@pytest.mark.parametrize("command", [["list", "--open"], ["show", "EVT-1"], ["due"]])
def test_reading_a_local_workbook_loads_no_writer(command: list[str], example: Path) -> None:
    """`list`, `show` and `due` on a local workbook only read: none loads the typed-rows plan (that is for writes),
    and list and show load neither the commit engine and the writer nor anything of SharePoint or Microsoft 365
    (issue 23: 20 ms of every read; `due` may send reminders)."""
    modules, done = loaded_by(
        f"sys.argv = ['tracker', *{command!r}]\nfrom tracker.entry import main\nmain()", example.parent
    )
    assert done.returncode in (0, 1), done.stderr
    assert "tracker.rules.clock" in modules  # the command ran
    assert "tracker.rules.typed" not in modules
    if command[0] != "due":
        writer = {"tracker.store.engine", "tracker.store.xlsx", "tracker.store.sharepoint", "tracker.microsoft365"}
        assert sorted(writer & modules) == []
    # nor does any of them load the mail stack (a plain `due` sends nothing: 22 ms of its start-up, issue 23)
    mail = {"smtplib", "ssl", "email.message", "tracker.sending.mail", "tracker.sending.transports"}
    mail |= {"tracker.sending.delivery", "tracker.sending.teams", "tracker.microsoft365.remote"}
    assert sorted(mail & modules) == []


@pytest.mark.parametrize(
    "command", [["list", "--open"], ["show", "EVT-1"], ["due"], ["update", "EVT-1", "--note", "x"]]
)
def test_reading_early_starts_on_the_workbook_and_leaves_mistakes_to_the_command(
    command: list[str], example: Path, tmp_path: Path
) -> None:
    """`tracker list`, `show` and `due` start inflating the sheets they read before the command line loads: on the
    example workbook the sieve module is loaded by then, and a broken tracker.toml is still told once, by the
    command, as without the early start."""
    early = f"sys.argv = ['tracker', *{command!r}]\nfrom tracker import entry\nentry._read_early()"
    modules, done = loaded_by(early, example.parent)
    assert done.returncode == 0 and "tracker.workbook.sieve" in modules and "click" not in modules
    (tmp_path / "tracker.toml").write_text("[workbook\n", encoding="utf-8")
    _, done = loaded_by(f"sys.argv = ['tracker', *{command!r}]\nfrom tracker.entry import main\nmain()", tmp_path)
    told = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(told) == 1 and "is not valid TOML" in told[0], done.stderr


@pytest.mark.parametrize("command", [["validate"], ["report", "--json"], ["publish"]])
def test_a_whole_read_starts_parsing_before_the_configuration_module_loads(command: list[str], example: Path) -> None:
    """`validate`, `report` and `publish` start parsing their sheets from what tracker.toml says with tomllib alone:
    tracker.config (~35 ms to import) and the reading modules load while the sheets parse."""
    early = f"sys.argv = ['tracker', *{command!r}]\nfrom tracker import entry\nentry._read_early()\n"
    early += "from tracker.workbook import early\nprint(sorted(early._EARLY))"
    modules, done = loaded_by(early, example.parent)
    assert done.returncode == 0, done.stderr
    assert str((example.parent / "events.xlsx").resolve()) in done.stdout
    assert not {"tracker.config", "tracker.workbook.opening", "tracker.workbook.reading", "click"} & modules


def test_the_early_read_finds_the_workbook_tracker_config_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workbook the early start parses is the one the command reads: tracker.toml in a folder above, a relative
    path through a symbolic link, an absolute path; none for a workbook on SharePoint. Its list of the schema's
    sheets is the shipped schema's."""
    from tracker import entry
    from tracker.config import load_config
    from tracker.store.engine import WRITE_READS
    from tracker.workbook.schema import load_schema

    assert tuple(load_schema().sheets) == entry.SCHEMA_SHEETS
    assert entry.WRITE_SHEETS == WRITE_READS  # what a write's view reads, started on early
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    deep = tmp_path / "link" / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    for name in ("real/events.xlsx", "real/a/book.xlsx", "x.xlsx"):
        (tmp_path / name).write_bytes(b"")
    for text in ("", '[workbook]\npath = "a/book.xlsx"\n', f'[workbook]\npath = "{tmp_path}/x.xlsx"\nschema = "s"\n'):
        (tmp_path / "real" / "tracker.toml").write_text(text, encoding="utf-8")
        config = load_config(None)
        assert entry._workbook_early() == (str(config.workbook_path), config.schema_dir is not None)
    (tmp_path / "real" / "tracker.toml").write_text('[workbook]\npath = "none.xlsx"\n', encoding="utf-8")
    assert entry._workbook_early() is None  # no such file: the command says so
    (tmp_path / "real" / "tracker.toml").write_text('[sharepoint]\nsite_url = "https://x"\n', encoding="utf-8")
    assert entry._workbook_early() is None


@pytest.mark.parametrize("command", [["update", "EVT-1", "--note", "x"], ["list", "--open"], ["report", "--json"]])
def test_a_workbook_that_is_not_a_file_is_told_not_waited_on(command: list[str], tmp_path: Path) -> None:
    """tracker.toml naming a FIFO (or anything but a regular file): the command says it is not a file; the early
    start does not open it (opening a FIFO waits for a writer, for ever)."""
    os.mkfifo(tmp_path / "events.xlsx")
    (tmp_path / "tracker.toml").write_text('[workbook]\npath = "events.xlsx"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tracker", *command],
        cwd=tmp_path,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "is not a file" in done.stderr, done.stderr


def test_sheets_parsed_early_are_read_only_from_the_file_as_it_still_is(example: Path) -> None:
    """Sheets a command started parsing as it began (`report`, `publish`, `validate`) are what its read of the same
    file gives; a file saved again in between is read as it is now."""
    import openpyxl

    from tracker.workbook import early, opening
    from tracker.workbook.schema import load_schema

    schema = load_schema()
    whole = opening.read_tracker(example, schema).sheet("Events")
    early.parse_file_early(example, ("Events", "Updates", "Severities"))
    assert str(example.resolve()) in early._EARLY
    taken = opening.read_tracker(example, schema).sheet("Events")
    assert early._EARLY == {} and [r.values for r in taken.rows] == [r.values for r in whole.rows]
    early.parse_file_early(example, ("Events", "Updates", "Severities"))
    book = openpyxl.load_workbook(example)
    book["Events"].cell(2, 2, "saved again meanwhile")
    book.save(example)
    assert opening.read_tracker(example, schema).sheet("Events").rows[0]["title"] == "saved again meanwhile"


def test_a_write_takes_the_sheets_inflated_early_only_from_the_file_as_it_still_is(example: Path) -> None:
    """A write (`tracker update`) starts inflating Events and Updates as it begins, and reads the file's bytes once it
    holds the lock: it takes the early XML only when the file is still the one inflated."""
    import zipfile

    import openpyxl

    from tracker import files
    from tracker.cells import sheet_parts
    from tracker.workbook import sieve

    sieve.prefetch_file(example, ("Events", "Updates"))
    taken = sieve.SheetSieve(example.read_bytes())
    taken.adopt(example, files.signature(example))
    assert sorted(taken._coming) == ["Events", "Updates"]
    with zipfile.ZipFile(example) as archive:
        assert taken.xml("Events") == archive.read(sheet_parts(archive)["Events"])
    sieve.prefetch_file(example, ("Events", "Updates"))
    book = openpyxl.load_workbook(example)
    book["Events"].cell(2, 2, "saved again meanwhile")
    book.save(example)
    later = sieve.SheetSieve(example.read_bytes())
    later.adopt(example, files.signature(example))
    assert later._coming == {} and b"saved again meanwhile" in (later.xml("Events") or b"")


def test_unknown_commands_are_told_the_close_names() -> None:
    """A mistyped command is refused with the commands it may mean, though none is loaded yet."""
    _, done = loaded_by("sys.argv = ['tracker', 'valdate']\nfrom tracker.entry import main\nmain()")
    assert done.returncode == 2
    assert "Error: No such command 'valdate'. (Did you mean one of: 'update', 'validate'?)" in done.stderr
    _, done = loaded_by("sys.argv = ['tracker', 'lst']\nfrom tracker.entry import main\nmain()")
    assert "Error: No such command 'lst'. Did you mean 'list'?" in done.stderr


def complete(words: str) -> list[str]:
    """What the shell completion offers after `words` (bash), one `type,value` per item."""
    env = {"_TRACKER_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
    result = CliRunner().invoke(main, [], env=env, prog_name="tracker", catch_exceptions=False)
    return result.stdout.split()


def test_shell_completion_offers_commands_options_and_subcommands() -> None:
    """Tab completion completes command names, a command's options and a group's subcommands."""
    assert complete("tracker val") == ["plain,validate"]
    assert complete("tracker re") == ["plain,report", "plain,resolve", "plain,review"]
    assert complete("tracker validate --f") == ["plain,--fix", "plain,--formulas"]
    assert complete("tracker action ") == ["plain,add", "plain,done", "plain,list", "plain,set"]


def test_no_command_module_imports_the_command_line() -> None:
    """The command modules never import tracker.cli.commands (the table imports them, not the other way)."""
    for name in COMMAND_MODULES:
        text = (ROOT / (name.replace(".", os.sep) + ".py")).read_text(encoding="utf-8")
        assert "tracker.cli.commands" not in text.replace('"""', ""), name


def test_the_shipped_schema_compiles_though_a_command_no_longer_checks_it_as_it_starts() -> None:
    """Loading the shipped schema skips compiling each sheet's JSON Schema (issue 23: ~20 ms of every command);
    compiled here instead, so a broken shipped schema still fails."""
    from tracker.workbook.schema import load_schema

    for sheet in load_schema():
        assert sheet.validator.is_valid({}) in (True, False), sheet.name


def _python(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter run with these arguments in `cwd`, on the test's clock."""
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=process_env(), capture_output=True, text=True, timeout=60
    )


# Run after the command in a fresh interpreter: an exit function says it ran, an object of __main__ says when the
# interpreter tears its modules down, and the exit status is printed by the parent.
ENDING = """import atexit, gc, sys
atexit.register(lambda: sys.stderr.write("\\nEXIT FUNCTIONS RAN\\n"))
atexit.register(lambda: sys.stderr.write("\\nCOLLECTOR " + ("ON" if gc.isenabled() else "OFF") + "\\n"))
class Teardown:
    def __del__(self):
        sys.stderr.write("\\nTORN DOWN\\n")
kept = Teardown()
sys.argv = ["tracker", *{command!r}]
from tracker.entry import main
main()
"""


@pytest.mark.parametrize(
    ("command", "code", "quick"),
    [
        (["list", "--open"], 0, True),
        (["report", "--json"], 0, True),
        (["publish", "--json"], 0, True),
        (["validate", "--json"], 0, True),
        (["show", "EVT-0-0000"], 1, True),
        (["update", "{event}", "--note", "x"], 0, False),
        (["validate", "--fix"], 0, False),
    ],
)
def test_a_read_only_command_leaves_without_the_teardown_and_with_its_output(
    command: list[str], code: int, quick: bool, example: Path, event_id: str
) -> None:
    """`list`, `show`, `report`, `publish` and `validate` end without the interpreter's teardown, which frees every
    cell read one object at a time (bench/: tens of ms at 10,000 events): their output is whole, their exit status and
    error lines as before, and the exit functions run (logging's, temporary folders'). They run without the cyclic
    garbage collector, which would only walk the cells read (~30 ms of `validate`). A write, or `validate --fix`,
    ends as Python ends, and collects as usual."""
    command = [word.format(event=event_id) for word in command]
    done = _python(example.parent, "-c", ENDING.format(command=command))
    assert done.returncode == code, done.stderr
    assert "EXIT FUNCTIONS RAN" in done.stderr
    assert ("TORN DOWN" in done.stderr) is not quick
    assert ("COLLECTOR OFF" if quick else "COLLECTOR ON") in done.stderr
    if "--json" in command:
        json.loads(done.stdout)  # the whole of it
    if command[0] == "list":
        assert event_id in done.stdout and done.stdout.endswith("\n")
    if command[0] == "show":
        assert "no event 'EVT-0-0000'" in done.stderr


def test_a_profiled_read_still_writes_its_profile(example: Path, tmp_path: Path) -> None:
    """Under cProfile (`bench.py --profile`), which writes what it saw once the program returns, a read-only command
    ends as Python ends: the profile is written."""
    import pstats

    stats = tmp_path / "profile.out"
    done = _python(example.parent, "-m", "cProfile", "-o", str(stats), "-m", "tracker", "list", "--open")
    assert done.returncode == 0, done.stderr
    assert pstats.Stats(str(stats)).total_calls > 0


def test_the_other_parsers_start_once_the_command_waits_for_a_sheet(example: Path) -> None:
    """A whole read (`validate`, `report`, `publish`) starts parsing its first sheet at once, and holds the other
    parsers back until the command first waits for a sheet: meanwhile its imports and reads have the second core.
    Every sheet is then what a whole read gives."""
    from tracker.workbook import early, opening
    from tracker.workbook.schema import load_schema

    schema = load_schema()
    whole = opening.read_tracker(example, schema)
    sheets = ("Events", "Updates", "Severities")
    early.parse_file_early(example, sheets)
    jobs = early._EARLY[str(example.resolve())][1]
    held = next(iter(jobs.values())).held
    assert len(held) == min(len(sheets), os.cpu_count() or 1) - 1 and all(job.held is held for job in jobs.values())
    taken = opening.read_tracker(example, schema)
    assert [r.values for r in taken.sheet("Severities").rows] == [r.values for r in whole.sheet("Severities").rows]
    assert held == [] and early._EARLY == {}
    for name in sheets:
        assert [r.values for r in taken.sheet(name).rows] == [r.values for r in whole.sheet(name).rows]


@pytest.mark.parametrize("command", [["list", "--open"], ["publish"], ["validate"]])
def test_a_read_only_command_without_output_streams_ends_as_before(command: list[str], example: Path) -> None:
    """Run with no standard output or error (pythonw on Windows, a scheduled task; `tracker list >&-`), a read-only
    command that skips the teardown still ends with its own exit status, as Python's exit gave it."""
    snippet = f"import sys\nsys.stdout = sys.stderr = None\nsys.argv = ['tracker', *{command!r}]\n"
    snippet += "from tracker.entry import main\nmain()"
    done = _python(example.parent, "-c", snippet)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


# While python-calamine parses (in a thread, as a command starts), descriptor 2 is silenced for its Rust panics;
# the command meanwhile prints a note on stderr, and then the panic's own text reaches descriptor 2.
QUIET_PARSE = """import os, sys
from tracker.workbook.early import native_stderr_quiet
print("before", file=sys.stderr)
with native_stderr_quiet():
    print("note: said while a sheet parses", file=sys.stderr)
    os.write(2, b"thread '<unnamed>' panicked at calamine\\n")
print("after", file=sys.stderr)
"""


def test_what_a_command_prints_on_stderr_while_a_sheet_parses_reaches_the_user_and_a_panic_does_not(
    tmp_path: Path,
) -> None:
    """A parse silences descriptor 2 for python-calamine's panics, process-wide. A note the command printed
    meanwhile (`report` and `validate` lost "note: rehearsing at TRACKER_NOW=..." on every run at 2,000 events,
    `publish` on some) went with it; Python's stderr now has a descriptor of its own."""
    result = _python(tmp_path, "-c", QUIET_PARSE)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["before", "note: said while a sheet parses", "after"]


QUIET_LOG = """import logging, sys
from tracker.cli.commands import _log_to_stderr
from tracker.workbook.early import native_stderr_quiet
_log_to_stderr(True)
with native_stderr_quiet():
    logging.getLogger("tracker.sharepoint").info("GET /sites/ops/_api/web 200")
print("after", file=sys.stderr)
"""


def test_a_request_logged_under_verbose_while_a_sheet_parses_reaches_the_user(tmp_path: Path) -> None:
    """`--verbose` logs each SharePoint and Graph request to stderr; its handler, made before a parse moved Python's
    stderr off the silenced descriptor 2, kept writing to descriptor 2, so a request logged meanwhile was lost."""
    result = _python(tmp_path, "-c", QUIET_LOG)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["GET /sites/ops/_api/web 200", "after"]


# Run with descriptor 2 closed (`2>&-`): the file opened first takes number 2, and is read while a parse silences.
CLOSED_STDERR = """import sys
assert sys.stderr is None
handle = open(sys.argv[1], "rb")
assert handle.fileno() == 2, handle.fileno()
from tracker.workbook.early import native_stderr_quiet
with native_stderr_quiet():
    data = handle.read()
print(len(data))
"""


def test_a_parse_started_with_stderr_closed_leaves_the_file_holding_descriptor_2_alone(tmp_path: Path) -> None:
    """With stderr closed as tracker starts, descriptor 2 is the next file opened (a module's source, the workbook).
    Silencing it for a parse swapped that file for /dev/null under its reader: `report`, `publish` and `validate`
    failed at random ("Bad file descriptor", "No module named 'email.header'"), and said so nowhere."""
    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * 5000)
    result = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" 2>&-', sys.executable, "-c", CLOSED_STDERR, str(source)],
        cwd=tmp_path,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == "5000", result.stdout


@pytest.mark.parametrize("mode", ["upload", "workbook-api"])
def test_a_command_on_sharepoint_loads_the_clients_requests_not_its_facades(
    sp: Any, tmp_path: Path, mode: str, event_id: str
) -> None:
    """A write to a SharePoint workbook goes through the office365 client's own requests (SharePointRequest,
    GraphRequest: signing, token refresh and sending as before) without importing ClientContext and GraphClient,
    which bring ~2,400 entity modules no command uses (0.85 s of every command on SharePoint)."""
    from tests.test_store_sharepoint import PATH, TOKENS

    snippet = f"sys.argv = ['tracker', 'update', {event_id!r}, '--note', 'from a lighter client']\n"
    modules, done = loaded_by(snippet + "from tracker.entry import main\nmain()", tmp_path, **TOKENS)
    assert done.returncode == 0, done.stderr
    assert _holds(sp.live_copy(PATH), b"from a lighter client")  # the update landed
    assert "office365.runtime.client_request" in modules
    assert not {"office365.graph_client", "office365.sharepoint.client_context"} & modules


def _holds(workbook: bytes, text: bytes) -> bool:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        return any(text in archive.read(name) for name in archive.namelist() if name.endswith(".xml"))


def test_a_report_of_good_rows_loads_no_validation(example: Path) -> None:
    """`report` names a bad Detected or Resolved cell as validate words it, and loads validate's checks only then: a
    workbook of good rows needs none of them (3 ms of imports, issue 23)."""
    modules, done = loaded_by(
        "sys.argv = ['tracker', 'report', '--json']\nfrom tracker.entry import main\nmain()", example.parent
    )
    assert done.returncode == 0, done.stderr
    assert "tracker.window.event_facts" in modules  # the report's facts were read
    assert "tracker.rules.validation" not in modules

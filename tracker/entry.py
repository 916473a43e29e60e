"""The `tracker` console script: Ctrl-C while the command line is still loading, or once the command has
finished and Python waits for its threads to end, ends calmly too."""

from __future__ import annotations

import sys


def main() -> None:
    """Load the command line and run it; a Ctrl-C before it could take over is one line and exit 130, and one
    after the command finished is ignored (the command's exit code stands). `tracker --help` prints the help kept
    for this terminal's width without loading the command line (tracker.cli.help_text)."""
    if sys.argv[1:] in (["--help"], ["-h"]):
        from tracker.cli.help_text import print_kept_help

        if print_kept_help():
            return
    pass_on_ctrl_c_from_finalizers()
    import signal

    if _reads_only():
        # One short pass that ends without the teardown: the cyclic collector would only walk the cells read, all
        # alive until the end (~30 ms of `validate` at 10,000 events: a full collection once the sheets are typed)
        import gc

        gc.disable()
    try:
        _read_early()
        _load_native()
        from tracker.cli.commands import main as command_line
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted (Ctrl-C) while starting; nothing was done\n")
        sys.exit(130)
    try:
        command_line()
    except SystemExit as done:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if _reads_only():
            _leave(done.code)
        raise
    finally:  # done: what is left is Python's exit, which waits for the sheet parsers' threads
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def pass_on_ctrl_c_from_finalizers() -> None:
    """A Ctrl-C that lands while Python frees an object runs in that object's finalizer (`__del__`: a zip file's, a
    lock's, whenever its last reference goes), where Python cannot raise it: it printed "Exception ignored in ...
    Traceback ... KeyboardInterrupt" and dropped the Ctrl-C, so the command went on (CI's kill matrix caught it in
    zipfile's). From now on such a Ctrl-C is sent again a moment later, without a word: the command stops as at any
    other moment (or not at all where Ctrl-C is ignored: once it has finished)."""
    import signal
    import threading

    default = sys.unraisablehook

    def again() -> None:
        if not callable(signal.getsignal(signal.SIGINT)):
            return  # ignored (the command has finished), or left to the system: as a Ctrl-C would be now
        if hasattr(signal, "pthread_kill"):  # a real SIGINT to the main thread, which also ends a wait, as Ctrl-C does
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        else:
            import _thread

            _thread.interrupt_main(signal.SIGINT)

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            default(unraisable)
            return
        # Sent from this hook it would land in it, and be dropped again: from a thread, once the finalizer is over
        later = threading.Timer(0.01, again)
        later.daemon = True
        try:
            later.start()
        except RuntimeError:  # the interpreter is ending: nothing is left to stop
            pass

    sys.unraisablehook = hook


# The commands that only read the workbook and print (or write a page or report file, closed before they return):
# once done they leave without the interpreter's teardown, which frees every cell read one object at a time (15 ms of
# `list --open`, 55 ms of `validate` at 10,000 events). Not `validate --fix`, which writes the workbook.
READ_ONLY = ("list", "show", "report", "publish", "validate")


def _reads_only() -> bool:
    """Whether this command may leave without the teardown: one of READ_ONLY, and nothing watching the interpreter
    that writes what it saw as the program returns (cProfile, `bench.py --profile`; coverage; a debugger)."""
    watched = sys.gettrace() is not None or sys.getprofile() is not None
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+: coverage and profilers may use it instead
    if monitoring is not None:
        watched = watched or any(monitoring.get_tool(tool) is not None for tool in range(6))
    return sys.argv[1:2] != [] and sys.argv[1] in READ_ONLY and "--fix" not in sys.argv[2:] and not watched


def _leave(code: object) -> None:
    """End the process now with the exit status SystemExit(code) gives, once what Python's own exit does first is
    done: the threads the command started have ended (threading's shutdown, as the interpreter calls it), the exit
    functions have run (atexit: logging's flush, temporary folders) and the output is written. Returns, for the
    interpreter's usual exit, when the code is not a number or the output cannot be written (a closed pipe: Python
    says so as it always did)."""
    import atexit
    import os
    import threading

    shutdown = getattr(threading, "_shutdown", None)  # CPython's: runs threading's exit hooks, joins the threads
    if not (code is None or isinstance(code, int)) or shutdown is None:
        return
    shutdown()
    atexit._run_exitfuncs()  # noqa: SLF001 - the interpreter's own exit runs them here; cleared once run
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # (none under pythonw, or with the descriptor closed: `tracker list >&-`)
                stream.flush()
    except Exception:  # noqa: BLE001 - a closed pipe, a stream replaced by something odd: Python's exit tells
        return
    os._exit(code or 0)


# The commands that read some rows of a few sheets (tracker.workbook.sieve), with those sheets, and those that read
# sheets whole: written first (`tracker list ...`), they start on them before the command line loads, as its modules
# import meanwhile (inflating or parsing lets go of the interpreter).
READS_SOME = {"list": ("Events", "Updates"), "show": ("Events", "Updates", "Changes"), "due": ("Events", "Updates")}
# The writes that look at a few rows of Events and Updates (tracker.store.engine.WRITE_READS, the view of
# tracker.store.local) and patch them: started on the same way (not `task` and `action`, whose `list` reads other
# sheets)
WRITES = ("open", "update", "resolve", "ack", "change")
WRITE_SHEETS = ("Events", "Updates")
READS_WHOLE = {"report": ("Events", "Severities"), "publish": ("Events", "Severities")}
# and the sheets they read some rows of (tracker.workbook.sieve): `publish` finds the open events' updates in the XML
# as the other core parses Events; `report` counts each event's resolutions there (Tracker.keys_where)
READS_SIFTED = {"publish": ("Updates",), "report": ("Updates",)}
ALL_SHEETS = "validate"  # every sheet of the schema (not with --fix, which writes first, nor --formulas)
# The sheets of tracker's own schema, biggest first (tests/test_startup.py checks them against workbook_schema/)
SCHEMA_SHEETS = (
    "Events",
    "Updates",
    "Changes",
    "Severities",
    "Services",
    "Distribution",
    "Notifications",
    "Roster",
    "Escalations",
    "Reviews",
    "Actions",
    "Tasks",
    "Categories",
    "Watch",
)


def _read_early() -> None:
    """Start on the sheets `tracker list`, `show`, `due`, `report`, `publish`, `validate` or a write (`WRITES`)
    reads, from a local workbook, as early as its tracker.toml says where it is (the command itself reads tracker.toml again, and says
    what is wrong with it)."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    rest = set(sys.argv[2:])
    if (
        command not in (*READS_SOME, *WRITES, *READS_WHOLE, ALL_SHEETS)
        or {"-h", "--help", "--fix", "--formulas"} & rest
    ):
        return
    try:
        found = _workbook_early()
        if found is None:
            return
        path, own_schema = found
        if command in READS_WHOLE or command == ALL_SHEETS:
            _parse_early(command, path, own_schema)
        sifted = READS_SOME.get(command) or (WRITE_SHEETS if command in WRITES else READS_SIFTED.get(command))
        if sifted:
            from pathlib import Path

            from tracker.workbook.sieve import prefetch_file

            prefetch_file(Path(path), sifted)
    except Exception:  # noqa: BLE001 - the command reads tracker.toml again and names what is wrong
        return


def _parse_early(command: str, path: str, own_schema: bool) -> None:
    """Start parsing the sheets `validate` (every sheet of the schema) or `report` and `publish` read whole."""
    _load_native()  # python-calamine imported with Ctrl-C held back, before a thread parses with it
    from tracker.workbook.early import parse_file_early

    if command == ALL_SHEETS and own_schema:
        from tracker.config import load_config
        from tracker.workbook.schema import load_schema

        parse_file_early(path, tuple(load_schema(load_config(None).schema_dir).sheets))
    else:
        parse_file_early(path, SCHEMA_SHEETS if command == ALL_SHEETS else READS_WHOLE[command])


def _workbook_early() -> tuple[str, bool] | None:
    """Where tracker.toml (in the current folder or the nearest above, as tracker.config finds it) says the local
    workbook is, read with tomllib alone (tracker.config takes ~35 ms to import): (its resolved path, whether the
    team has a schema of its own); None for a workbook on SharePoint, or no tracker.toml."""
    import os
    import tomllib

    from tracker.config_place import config_file, named_path

    config = config_file()
    if config is None:
        return None
    with open(config, "rb") as handle:
        raw = tomllib.load(handle)
    workbook = raw.get("workbook", {})
    if "sharepoint" in raw or not isinstance(workbook, dict):
        return None
    path = workbook.get("path", "events.xlsx")
    if not isinstance(path, str) or not path.strip():
        return None
    found = named_path(config, path)
    if not os.path.isfile(found):
        return None  # none, or not a file (a FIFO would block the early read): the command says what is wrong
    return found, workbook.get("schema") is not None


def _load_native() -> None:
    """Import python-calamine with Ctrl-C held back (`tracker.native`: a Rust extension interrupted while it starts
    may panic); jsonschema_rs is imported so when first needed. Not for --help and --version."""
    if len(sys.argv) < 2 or {"-h", "--help", "--version"} & set(sys.argv[1:]):
        return
    import signal

    hold = hasattr(signal, "pthread_sigmask")  # POSIX; on Windows Ctrl-C is a console event, not this signal
    if hold:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        import python_calamine  # noqa: F401
    finally:
        if hold:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

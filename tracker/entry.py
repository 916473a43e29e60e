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
    import signal

    try:
        _read_early()
        _load_native()
        from tracker.cli.commands import main as command_line
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted (Ctrl-C) while starting; nothing was done\n")
        sys.exit(130)
    try:
        command_line()
    finally:  # done: what is left is Python's exit, which waits for the sheet parsers' threads
        signal.signal(signal.SIGINT, signal.SIG_IGN)


# The commands that read some rows of a few sheets (tracker.workbook.sieve), with those sheets, and those that read
# sheets whole: written first (`tracker list ...`), they start on them before the command line loads, as its modules
# import meanwhile (inflating or parsing lets go of the interpreter).
READS_SOME = {"list": ("Events", "Updates"), "show": ("Events", "Updates", "Changes"), "due": ("Events", "Updates")}
READS_WHOLE = {"report": ("Events", "Severities", "Updates"), "publish": ("Events", "Updates", "Severities")}
ALL_SHEETS = "validate"  # every sheet of the schema (not with --fix, which writes first, nor --formulas)


def _read_early() -> None:
    """Start on the sheets `tracker list`, `show`, `due`, `report`, `publish` or `validate` reads, from a local
    workbook, as early as its tracker.toml says where it is (the command itself reads tracker.toml again, and says
    what is wrong with it)."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    rest = set(sys.argv[2:])
    if command not in (*READS_SOME, *READS_WHOLE, ALL_SHEETS) or {"-h", "--help", "--fix", "--formulas"} & rest:
        return
    try:
        from tracker.config import load_config

        config = load_config(None)
        if config.sharepoint is not None:
            return
        if command in READS_SOME:
            from tracker.workbook.sieve import prefetch_file

            prefetch_file(config.workbook_path, READS_SOME[command])
            return
        _load_native()  # python-calamine imported with Ctrl-C held back, before a thread parses with it
        from tracker.workbook.opening import parse_file_early

        if command == ALL_SHEETS:
            from tracker.workbook.schema import load_schema

            parse_file_early(config.workbook_path, tuple(load_schema(config.schema_dir).sheets))
        else:
            parse_file_early(config.workbook_path, READS_WHOLE[command])
    except Exception:  # noqa: BLE001 - the command reads tracker.toml again and names what is wrong
        return


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

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
        _load_native()
        from tracker.cli.commands import main as command_line
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted (Ctrl-C) while starting; nothing was done\n")
        sys.exit(130)
    try:
        command_line()
    finally:  # done: what is left is Python's exit, which waits for the sheet parsers' threads
        signal.signal(signal.SIGINT, signal.SIG_IGN)


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

"""The `tracker` console script: Ctrl-C while the command line is still loading, or once the command has
finished and Python waits for its threads to end, ends calmly too."""

from __future__ import annotations

import signal
import sys


def main() -> None:
    """Load the command line and run it; a Ctrl-C before it could take over is one line and exit 130, and one
    after the command finished is ignored (the command's exit code stands)."""
    try:
        from tracker.cli.commands import main as command_line
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted (Ctrl-C) while starting; nothing was done\n")
        sys.exit(130)
    try:
        command_line()
    finally:  # done: what is left is Python's exit, which waits for the sheet parsers' threads
        signal.signal(signal.SIGINT, signal.SIG_IGN)

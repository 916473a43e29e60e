"""The `tracker` console script: Ctrl-C while the command line is still loading ends calmly too."""

from __future__ import annotations

import sys


def main() -> None:
    """Load the command line and run it; a Ctrl-C before it could take over is one line and exit 130."""
    try:
        from tracker.cli.commands import main as command_line
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted (Ctrl-C) while starting; nothing was done\n")
        sys.exit(130)
    command_line()

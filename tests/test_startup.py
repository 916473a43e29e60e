"""Starting quickly (issue 23): `import tracker`, `tracker --help`, `tracker` alone and `tracker --version` load none
of the heavy libraries. No timing here: bench/ measures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import process_env

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


def loaded_by(snippet: str, **env: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules a fresh interpreter has loaded after `snippet`, and how it ended."""
    done = subprocess.run(
        [sys.executable, "-c", PROLOGUE + snippet],
        capture_output=True,
        text=True,
        cwd=ROOT,
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

"""The bench scripts still start (they are run by hand and print figures; no test times anything)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import process_env

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py") if "ArgumentParser(" in path.read_text(encoding="utf-8"))


def test_the_bench_scripts_are_found() -> None:
    """The bench's table script is among the scripts checked below."""
    assert "bench.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_answers_help(script: str) -> None:
    """`python bench/<script> --help` imports the script and its helpers and prints its options, exit 0."""
    result = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, env=process_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")

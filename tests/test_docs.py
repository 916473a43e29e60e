"""Every command has help text with an example, and the README documents it with examples that run."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tracker.cli.commands import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(main.list_commands(click.Context(main)))


def test_contract_commands_exist() -> None:
    """The commands MISSION.md fixes for this stage are all there."""
    assert {"init", "validate", "open", "update", "resolve", "list", "show"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_has_example_and_readme_mentions_it(name: str) -> None:
    """`tracker NAME --help` shows an example, and the README shows `tracker NAME`."""
    result = CliRunner().invoke(main, [name, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Example:" in result.stdout and f"tracker {name}" in result.stdout
    assert f"tracker {name}" in README


def test_top_level_help_works_without_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tracker --help` needs no tracker.toml and lists the commands."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--help"], catch_exceptions=False)
    assert result.exit_code == 0 and "validate" in result.stdout and "Example:" in result.stdout


def test_readme_python_api_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python API examples run as written on the example tracker."""
    import re

    section = README.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["init", "--example"], catch_exceptions=False).exit_code == 0
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own examples
    store = namespace["store"]
    names = [row["name"] for row in store.read().sheet("Services").rows]  # type: ignore[attr-defined]
    assert "Printing" in names


SKIPPED_CONSOLE_BLOCKS = 0
"""README console blocks marked `<!-- docs-test: skip (needs ...) -->`; raising it is a decision, not a drift."""


def test_readme_console_examples_show_real_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```console block of the README, run in order on a controlled clock, prints what the README shows."""
    from tests.readme_console import parse_blocks, run_blocks

    blocks = parse_blocks(README)
    assert len(blocks) == README.count("```console") and len(blocks) >= 8
    failures = run_blocks(README, blocks, tmp_path, monkeypatch)
    assert not failures, "the README's console output is not what tracker prints:\n\n" + "\n\n".join(failures)


def test_readme_console_skips_are_counted() -> None:
    """Every docs-test marker sits on a console block, and exactly SKIPPED_CONSOLE_BLOCKS blocks are skipped."""
    from collections import Counter

    from tests.readme_console import markers, parse_blocks

    blocks = parse_blocks(README)
    stray = Counter(markers(README)) - Counter(block.marker for block in blocks if block.marker is not None)
    assert not stray, f"docs-test markers not on the line before a ```console fence: {sorted(stray)}"
    skipped = [f"README.md:{block.line}: {block.marker}" for block in blocks if block.skipped]
    assert len(skipped) == SKIPPED_CONSOLE_BLOCKS, (
        f"{len(skipped)} console block(s) skipped, SKIPPED_CONSOLE_BLOCKS says {SKIPPED_CONSOLE_BLOCKS}: "
        "run the block (the SharePoint stand-in serves most), or change the count in the same commit:\n"
        + "\n".join(skipped)
    )


def test_ci_runs_the_readme_test_command_then_the_date_shift_check() -> None:
    """.ci/run runs the README's test command exactly, then the `dateshift` tests on the suite clock moved to the
    next 1 January, to 23:55 on 31 December and to 29 February 2028 (the rehearsal clock, not the machine's)."""
    import re

    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"```sh\n(python3 -m venv .venv && [^\n]*pytest[^\n]*)\n```", README)
    assert command is not None and command[1] in ci.splitlines()
    after = ci.split(command[1], 1)[1]
    assert '"${next_year}-01-01T00:05Z" "${this_year}-12-31T23:55Z" "2028-02-29T23:50Z"' in after
    assert "-m dateshift --clock" in after and "faketime" not in ci

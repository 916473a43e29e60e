"""The words tracker's rules are written in come from the schema (issue 18): the lifecycle of Events.status
(x-lifecycle), the ID formats (x-id-prefix), the categories (the enum) and the roles an event names (x-role). A
team's copied schema that lacks one is refused at load, naming the keyword; one that rewords categories or the
ID prefix is followed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests import suite_clock
from tests.conftest import Run
from tracker.resources import data_dir


def _own_schema(tmp_path: Path, change: object) -> None:
    """Copy tracker's schema into my_schema/, let `change(events, actions)` edit it, and point tracker.toml at it."""
    folder = tmp_path / "my_schema"
    shutil.copytree(data_dir("workbook_schema"), folder)
    events = json.loads((folder / "events.json").read_text(encoding="utf-8"))
    actions = json.loads((folder / "actions.json").read_text(encoding="utf-8"))
    change(events["properties"], actions["properties"])  # type: ignore[operator]
    (folder / "events.json").write_text(json.dumps(events), encoding="utf-8")
    (folder / "actions.json").write_text(json.dumps(actions), encoding="utf-8")
    toml = tmp_path / "tracker.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[workbook]\n", '[workbook]\nschema = "my_schema"\n'))


def test_the_rules_use_the_words_the_schema_gives() -> None:
    """The statuses, the open ones, the roles and the ID prefixes tracker uses are those of the shipped schema."""
    from tracker.workbook import policy
    from tracker.workbook.schema import load_schema

    vocabulary = load_schema().vocabulary
    events = json.loads((data_dir("workbook_schema") / "events.json").read_text(encoding="utf-8"))["properties"]
    assert policy.STATUSES == tuple(events["status"]["enum"])
    assert policy.OPEN_STATUSES == tuple(events["status"]["x-lifecycle"]["open"])
    assert (policy.RESOLVED, policy.CLOSED) == policy.FINISHED == ("Resolved", "Closed")
    assert policy.EVENT_ROLES == ("event manager", "incident lead", "communication lead", "change manager")
    assert vocabulary.categories == tuple(events["category"]["enum"])
    assert (vocabulary.event_prefix, vocabulary.action_prefix) == ("EVT", "ACT")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda e, a: e["status"].pop("x-lifecycle"), 'events.json status needs "x-lifecycle"'),
        (lambda e, a: e["id"].pop("x-id-prefix"), 'the Events sheet\'s id needs "x-id-prefix"'),
        (lambda e, a: a["id"].pop("x-id-prefix"), 'the Actions sheet\'s id needs "x-id-prefix"'),
        (
            lambda e, a: e["status"].update(enum=["Open", "Identified", "Monitoring", "Resolved", "Closed"]),
            "x-lifecycle names a status its enum lacks",
        ),
        (
            lambda e, a: e["status"].update(
                enum=["Open", "Identified", "Monitoring", "Resolved", "Closed"],
                **{
                    "x-lifecycle": {
                        "open": ["Open", "Identified", "Monitoring"],
                        "mitigated": "Monitoring",
                        "resolved": "Resolved",
                        "closed": "Closed",
                    }
                },
            ),
            "must keep tracker's statuses",
        ),
    ],
    ids=["no lifecycle", "no event prefix", "no action prefix", "lifecycle not in enum", "renamed status"],
)
def test_a_copied_schema_missing_a_word_is_refused_at_load(
    run: Run, example: Path, tmp_path: Path, change: object, words: str
) -> None:
    """Every command stops before reading the workbook (exit 2), naming the schema keyword and where it goes."""
    _own_schema(tmp_path, change)
    result = run("validate")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


def test_a_teams_own_category_and_id_prefix_are_followed(run: Run, example: Path, tmp_path: Path) -> None:
    """A team whose schema adds the category "maintenance" and numbers events INC-<year>-<n> opens one as such
    (the categories and the ID format were restated in Python, which refused the category and wrote EVT-)."""

    def change(events: dict, actions: dict) -> None:
        events["category"]["enum"].append("maintenance")
        events["id"]["x-id-prefix"] = "INC"
        events["id"]["pattern"] = "^(INC|EVT)-[0-9]{4}-[0-9]{4,}$"

    _own_schema(tmp_path, change)
    opened = run(
        "open",
        "--title",
        "Patch window",
        "--severity",
        "Sev 3",
        "--service",
        "VPN",
        "--category",
        "maintenance",
        "--impact",
        "VPN restarts once",
    )
    assert opened.exit_code == 0, opened.stderr
    year = suite_clock.NOW.year
    assert opened.stdout.strip() == f"INC-{year}-0001"
    shown = json.loads(run("show", opened.stdout.strip(), "--json").stdout)
    assert shown["event"]["category"] == "maintenance"

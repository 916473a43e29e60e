"""Who is doing what (issue 22, point 3): the Tasks sheet, `tracker task add|claim|done|list`, open tasks in the
technical email, its Teams card and `tracker show`, the warning when two teams work on the same system, and tasks
past their due time in `tracker due`."""

from __future__ import annotations

import email
import json
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from click.testing import Result

from tests import suite_clock
from tests.conftest import Run
from tests.test_teams import _lines_as_teams_shows_them, webhook


def task_id(number: int) -> str:
    """The ID `tracker task add` gives the `number`th task of the suite's year."""
    return f"TASK-{suite_clock.year()}-{number:04d}"


def _warnings(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning:")]


def _bodies(outbox: Path, audience: str) -> tuple[str, str]:
    """The plain-text and HTML bodies of the one outage email `audience` got in the outbox."""
    [path] = [p for p in outbox.glob("*.eml") if p.stem.endswith(f"-{audience}")]
    message = email.message_from_bytes(path.read_bytes())
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in message.walk() if not p.is_multipart()}
    return parts["text/plain"].replace("\r\n", "\n"), parts["text/html"]


def test_tasks_are_added_claimed_done_and_listed(run: Run, example: Path, event_id: str) -> None:
    """`task add` allocates TASK-<year>-0001 (Open, nobody yet, or In progress with --owner); `claim` gives it to
    the person running tracker (or --owner) with the time; `done` records when and the note; `list --open` leaves
    Done out; `list --json` is the documented form; the rows are on the workbook's Tasks sheet."""
    added = run("task", "add", event_id, "Fail over the Toronto tunnel", "--system", "core-fw-01", "--due", "+30m")
    assert added.exit_code == 0, added.stderr
    due = (suite_clock.NOW + timedelta(minutes=30)).strftime("%d %b %Y %H%MZ")
    assert added.stdout == (
        f"{task_id(1)}: Open, nobody yet, on core-fw-01, due {due} ({event_id}): Fail over the Toronto tunnel\n"
    )
    second = run("task", "add", event_id.lower(), "Call the carrier", "--owner", "Dana Whitfield")
    assert second.stdout == f"{task_id(2)}: In progress, Dana Whitfield ({event_id}): Call the carrier\n"
    claimed = run("task", "claim", task_id(1).lower())
    assert claimed.exit_code == 0 and claimed.stdout.startswith(f"{task_id(1)}: In progress, Test Manager, on core")
    taken = run("task", "claim", task_id(1), "--owner", "Ravi Menon")
    assert taken.stdout.startswith(f"{task_id(1)}: In progress, Ravi Menon, on core-fw-01")
    done = run("task", "done", task_id(2), "--note", "Carrier ticket 4471 opened")
    assert done.stdout == f"{task_id(2)}: Done, Dana Whitfield ({event_id}): Call the carrier\n"
    listed = run("task", "list").stdout.splitlines()
    assert listed[0].split() == ["ID", "EVENT", "STATUS", "OWNER", "SYSTEM", "DUE", "TASK"]
    assert [line.split()[0] for line in listed[1:]] == [task_id(1), task_id(2)]
    assert [line.split()[0] for line in run("task", "list", "--open").stdout.splitlines()[1:]] == [task_id(1)]
    items = json.loads(run("task", "list", event_id, "--json").stdout)
    now = suite_clock.NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert items[1] == {
        "id": task_id(2),
        "event_id": event_id,
        "task": "Call the carrier",
        "owner": "Dana Whitfield",
        "system": None,
        "status": "Done",
        "due_at": None,
        "overdue": False,
        "added_at": now,
        "claimed_at": now,
        "done_at": now,
        "note": "Carrier ticket 4471 opened",
    }
    assert items[0]["status"] == "In progress" and items[0]["owner"] == "Ravi Menon" and items[0]["done_at"] is None
    assert json.loads(run("task", "list", task_id(2).lower(), "--json").stdout) == [items[1]]
    assert run("validate").exit_code == 0
    book = openpyxl.load_workbook(example)
    assert [c.value for c in book["Tasks"]["A"][1:]] == [task_id(1), task_id(2)]
    assert "TasksTable" in book["Tasks"].tables


def test_bad_task_input_is_one_line(run: Run, example: Path, event_id: str) -> None:
    """An unknown event or task, an empty task, a due time already past, claiming a Done task: exit 1 or 2 with one
    line saying what to do, no traceback."""
    cases = [
        (("task", "add", suite_clock.event_id(9), "x"), 1, "no event"),
        (("task", "add", event_id, "  "), 2, "the task must not be empty"),
        (("task", "add", event_id, "x", "--due", "-1h"), 2, "has already passed"),
        (("task", "claim", task_id(7)), 1, "no task"),
    ]
    for args, code, words in cases:
        result = run(*args)
        assert result.exit_code == code and words in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    run("task", "add", event_id, "Restart the gateway", "--owner", "Chris Lee")
    run("task", "done", task_id(1))
    again = run("task", "claim", task_id(1), "--owner", "Ravi Menon")
    assert again.exit_code == 2 and f"{task_id(1)} is Done already" in again.stderr


def test_two_owners_on_one_system_are_warned_of(run: Run, example: Path, event_id: str) -> None:
    """Two open tasks naming the same system (case and spaces aside) for different owners: `task add` and `task
    claim` warn on stderr naming both tasks and owners, `validate` notes it at the System cell (exit 0); one owner
    twice, an unclaimed task or a Done one is no overlap."""
    first = run("task", "add", event_id, "Swap the PSU", "--owner", "Ravi Menon", "--system", "core-fw-01")
    assert _warnings(first) == []
    same_owner = run("task", "add", event_id, "Check logs", "--owner", "ravi menon", "--system", "Core-FW-01")
    assert _warnings(same_owner) == []
    unclaimed = run("task", "add", event_id, "Fail over", "--system", " CORE-FW-01 ")
    assert _warnings(unclaimed) == []
    claimed = run("task", "claim", task_id(3), "--owner", "Priya Shah")
    assert claimed.exit_code == 0
    assert _warnings(claimed) == [
        f"warning: {task_id(1)} (Ravi Menon, {event_id}) and {task_id(3)} (Priya Shah, {event_id}) both work on "
        "core-fw-01: agree who does what, or `tracker task claim` one of them",
        f"warning: {task_id(2)} (ravi menon, {event_id}) and {task_id(3)} (Priya Shah, {event_id}) both work on "
        "Core-FW-01: agree who does what, or `tracker task claim` one of them",
    ]
    checked = run("validate", "--json")
    assert checked.exit_code == 0
    notes = [p for p in json.loads(checked.stdout) if p["sheet"] == "Tasks"]
    assert [(n["level"], n["cell"], n["column"]) for n in notes] == [("info", "Tasks!E4", "System")] * 2
    run("task", "done", task_id(1))
    run("task", "done", task_id(2))
    assert _warnings(run("task", "claim", task_id(3), "--owner", "Priya Shah")) == []
    assert [p for p in json.loads(run("validate", "--json").stdout) if p["sheet"] == "Tasks"] == []


def test_open_tasks_are_in_the_technical_email_only_and_in_show(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """The technical email (text and HTML) lists the event's open tasks under "Who is doing what": owner, system,
    due time; a Done task is not there, and leadership and the customer read nothing of them. `show` lists the
    open tasks; `show --json` gives all of the event's tasks as `task list --json` does."""
    run("task", "add", event_id, "Fail over the tunnel", "--owner", "Ravi Menon", "--system", "core-fw-01")
    run("task", "add", event_id, "Call the carrier", "--due", "+45m")
    run("task", "add", event_id, "Reboot the old gateway", "--owner", "Chris Lee")
    run("task", "done", task_id(3))
    assert run("notify", event_id).exit_code == 0
    text, html = _bodies(tmp_path / "outbox", "technical")
    due = (suite_clock.NOW + timedelta(minutes=45)).strftime("%d %b %Y %H%MZ")
    assert (
        "\nWho is doing what\n"
        f"  {task_id(1)}  Ravi Menon on core-fw-01: Fail over the tunnel\n"
        f"  {task_id(2)}  nobody yet: Call the carrier (due {due})\n\nTimeline\n"
    ) in text
    assert "Who is doing what" in html and "Fail over the tunnel (core-fw-01)" in html and "Reboot" not in html
    for audience in ("leadership", "customer"):
        other_text, other_html = _bodies(tmp_path / "outbox", audience)
        assert "Fail over the tunnel" not in other_text + other_html and task_id(1) not in other_text + other_html
    shown = run("show", event_id).stdout
    assert shown.endswith(
        "\nOpen tasks\n"
        f"  {task_id(1)}  In progress Ravi Menon on core-fw-01: Fail over the tunnel\n"
        f"  {task_id(2)}  Open        nobody yet: Call the carrier (due {due})\n"
    )
    tasks = json.loads(run("show", event_id, "--json").stdout)["tasks"]
    assert [(t["id"], t["status"]) for t in tasks] == [
        (task_id(1), "In progress"),
        (task_id(2), "Open"),
        (task_id(3), "Done"),
    ]
    assert tasks == json.loads(run("task", "list", event_id, "--json").stdout)


def test_the_technical_teams_card_lists_the_open_tasks(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With [teams] audiences = ["technical"], the card posted for the outage email carries who is doing what."""
    config = tmp_path / "tracker.toml"
    config.write_text(
        config.read_text() + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\naudiences = ["technical"]\n'
    )
    run("task", "add", event_id, "Fail over the tunnel", "--owner", "Ravi Menon", "--system", "core-fw-01")
    with webhook(throttle_first=0) as flow:
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", flow.url)
        assert run("notify", event_id).exit_code == 0
    [card] = flow.cards
    lines = _lines_as_teams_shows_them(card)
    heading = lines.index("Who is doing what")
    assert lines[heading + 1] == f"- {task_id(1)} Ravi Menon on core-fw-01: Fail over the tunnel"


def test_due_lists_a_task_past_its_time_without_changing_the_exit_code(
    run: Run, example: Path, event_id: str, at
) -> None:  # type: ignore[no-untyped-def]
    """`tracker due` lists an unfinished task once its due time has passed (kind "task", owed by its owner, in the
    JSON with its ID), not before and not once Done; the exit code is what it would be without it."""
    run("task", "add", event_id, "Fail over the tunnel", "--owner", "Ravi Menon", "--due", "+20m")
    before = run("due", "--json")
    assert [i for i in json.loads(before.stdout)["items"] if i["kind"] == "task"] == []
    at(suite_clock.NOW + timedelta(minutes=25))
    late = run("due", "--json")
    [item] = [i for i in json.loads(late.stdout)["items"] if i["kind"] == "task"]
    assert item["state"] == "overdue" and item["task_id"] == task_id(1) and item["responsible"] == "Ravi Menon"
    assert item["minutes"] == -5 and item["task"] == "Fail over the tunnel"
    table = run("due").stdout
    assert f"task {task_id(1)}: Fail over the tunnel  overdue  overdue by 5 min" in table
    run("task", "done", task_id(1))
    after = run("due", "--json")
    assert [i for i in json.loads(after.stdout)["items"] if i["kind"] == "task"] == []
    assert late.exit_code == after.exit_code


def test_a_workbook_without_a_tasks_sheet_says_how_to_add_it(run: Run, v0_1: Path) -> None:
    """A workbook made before tracker 0.4: validate notes the missing Tasks sheet (exit 0), `task add` refuses in
    one line saying how to add it, `task list` says there is none, and notify, show and due work."""
    from tests.conftest import V0_1_MADE, error_lines

    first = suite_clock.event_id(1, when=V0_1_MADE)
    checked = run("validate")
    assert checked.exit_code == 0 and "sheet 'Tasks' is missing (added in tracker 0.4" in checked.stdout
    added = run("task", "add", first, "Fail over")
    assert added.exit_code == 1 and "no Tasks sheet (added in tracker 0.4)" in added.stderr
    assert len(error_lines(added.stderr)) == 1 and "tracker init" in added.stderr
    assert run("task", "list").stdout.startswith("no tasks (this workbook has no Tasks sheet")
    assert run("show", first).exit_code == 0
    assert json.loads(run("show", first, "--json").stdout)["tasks"] == []
    assert run("notify", first, "--force").exit_code == 0
    assert run("due").exit_code in (0, 4, 6, 7)


@pytest.fixture(params=["workbook-api", "upload"])
def mode(request: pytest.FixtureRequest) -> str:
    """The SharePoint write modes the `sp` fixture uses here: the Excel service (Graph) and whole-file upload."""
    return str(request.param)


def test_tasks_on_sharepoint(run: Run, sp, event_id: str) -> None:  # type: ignore[no-untyped-def]
    """On the SharePoint stand-in, in both write modes: add, claim and finish tasks; the overlap warning and `show`
    read the workbook SharePoint holds."""
    added = run("task", "add", event_id, "Fail over the tunnel", "--system", "core-fw-01")
    assert added.exit_code == 0, added.stderr
    assert run("task", "add", event_id, "Patch", "--owner", "Chris Lee", "--system", "core-fw-01").exit_code == 0
    claimed = run("task", "claim", task_id(1), "--owner", "Ravi Menon")
    assert claimed.exit_code == 0 and len(_warnings(claimed)) == 1
    assert run("task", "done", task_id(2)).exit_code == 0
    items = json.loads(run("task", "list", "--json").stdout)
    assert [(i["id"], i["status"], i["owner"]) for i in items] == [
        (task_id(1), "In progress", "Ravi Menon"),
        (task_id(2), "Done", "Chris Lee"),
    ]
    assert f"  {task_id(1)}  In progress Ravi Menon on core-fw-01: Fail over the tunnel" in run("show", event_id).stdout


def test_a_due_at_typed_as_text_is_said_by_due_and_watch(run: Run, example: Path, event_id: str) -> None:
    """A task's Due At typed over as "tomorrow 5pm" (validate names it): `due` cannot tell when it is late, and says
    which cell, as it does for an action's due date (before, the task silently dropped out of `due`)."""
    assert run("task", "add", event_id, "Fail over the Toronto tunnel", "--due", "+30m").exit_code == 0
    book = openpyxl.load_workbook(example)
    sheet = book["Tasks"]
    headers = [c.value for c in sheet[1]]
    sheet.cell(2, headers.index("Due (UTC)") + 1).value = "tomorrow 5pm"
    book.save(example)
    words = "Due (UTC) 'tomorrow 5pm' is not a date and time, so `tracker due` cannot tell when this task is late"
    assert words in run("due").stderr
    assert words in run("watch", "--ticks", "1").stdout

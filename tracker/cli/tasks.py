"""`tracker task`: who is doing what on an event (the Tasks sheet): add, claim, done, list."""

from __future__ import annotations

import json
from typing import Any

import click

from tracker.cli import output
from tracker.cli.state import State, pass_state
from tracker.text import printable


@click.group("task")
def task_cmd() -> None:
    """Who is doing what on an event (the Tasks sheet): add, claim, done, list.

    Open tasks show in the technical email (and its Teams card) and in
    `tracker show`. Two open tasks naming the same system for different
    owners are warned of (`task add`, `task claim`, and a note in
    `tracker validate`). A task past its due time is listed by `tracker due`
    (without changing its exit code).

    \b
    Example:
      tracker task add EVT-2026-0001 "Fail over the Toronto tunnel" --system core-fw-01 --due +30m
      tracker task claim TASK-2026-0001 --owner "Ravi Menon"
      tracker task done TASK-2026-0001 --note "Tunnel up on the standby unit"
      tracker task list EVT-2026-0001
    """


def _line(state: State, row: Any) -> str:
    owner = f", {row['owner']}" if row["owner"] else ", nobody yet"
    system = f", on {row['system']}" if row["system"] else ""
    due = f", due {state.show_time(row['due_at'])}" if row["due_at"] else ""
    return printable(f"{row['id']}: {row['status']}{owner}{system}{due} ({row['event_id']}): {row['task']}")


def _warn_overlaps(state: State, task_id: str) -> None:
    """The same-system warning for the task just added or claimed, read back as the workbook is now."""
    from tracker.rules.tasks import same_system

    for overlap in same_system(state.store().read(), task_id):
        click.echo(printable(f"warning: {overlap.words()}"), err=True)


@task_cmd.command("add")
@click.argument("event_id", metavar="ID")
@click.argument("text", metavar="TASK")
@click.option("--owner", metavar="NAME", help="Who does it (claims it at once); without it the task waits for a claim.")
@click.option("--system", metavar="NAME", help="The system it touches (a host, device or service).")
@click.option("--due", metavar="TIME", help="When it should be done: e.g. +30m, 16:00 or 2026-12-05T16:00.")
@click.option("--force", is_flag=True, help="Accept a due time already past.")
@pass_state
def task_add(
    state: State, event_id: str, text: str, owner: str | None, system: str | None, due: str | None, force: bool
) -> None:
    """Add a task to an event; prints its new ID (TASK-<year>-<n>).

    \b
    Example:
      tracker task add EVT-2026-0001 "Fail over the Toronto tunnel" --owner "Ravi Menon" --system core-fw-01 --due +30m
    """
    from tracker.rules.tasks import add_task

    when = state.time(due, "--due", when="future", force=force)
    row = add_task(state.store(), event_id, text, owner=owner, system=system, due=when)
    click.echo(_line(state, row))
    _warn_overlaps(state, str(row["id"]))


@task_cmd.command("claim")
@click.argument("task_id", metavar="TASK-ID")
@click.option("--owner", metavar="NAME", help="Who takes it (default: you, as [user] name or TRACKER_USER says).")
@pass_state
def task_claim(state: State, task_id: str, owner: str | None) -> None:
    """Take a task: it becomes In progress with its owner and the time.

    \b
    Example:
      tracker task claim TASK-2026-0001 --owner "Ravi Menon"
    """
    from tracker.rules.tasks import claim_task

    row = claim_task(state.store(), task_id, owner or state.config.user)
    click.echo(_line(state, row))
    _warn_overlaps(state, str(row["id"]))


@task_cmd.command("done")
@click.argument("task_id", metavar="TASK-ID")
@click.option("--note", help="What was done (kept on the Tasks row).")
@pass_state
def task_done(state: State, task_id: str, note: str | None) -> None:
    """Mark a task Done (the time is recorded).

    \b
    Example:
      tracker task done TASK-2026-0001 --note "Tunnel up on the standby unit"
    """
    from tracker.rules.tasks import finish_task

    click.echo(_line(state, finish_task(state.store(), task_id, note=note)))


@task_cmd.command("list")
@click.argument("event_id", metavar="[ID|TASK-ID]", required=False)
@click.option("--open", "open_only", is_flag=True, help="Only tasks not Done.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of tasks (see README).")
@pass_state
def task_list(state: State, event_id: str | None, open_only: bool, as_json: bool) -> None:
    """List tasks (of one event, or one task, if given): ID, event, status, owner, system, due time, task.

    \b
    Example:
      tracker task list EVT-2026-0001
      tracker task list TASK-2026-0001 --json
      tracker task list --open --json
    """
    from tracker.rules.tasks import SHEET, finished_statuses, list_tasks, task_json
    from tracker.times import utcnow

    tracker = state.store().read()
    rows = list_tasks(tracker, event_id=event_id, open_only=open_only)
    present = SHEET in tracker.schema.sheets and tracker.layout(SHEET).present
    finished = finished_statuses(tracker) if present else ()
    now = utcnow()
    if as_json:
        click.echo(json.dumps([task_json(r, finished, now) for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        missing = "" if present else " (this workbook has no Tasks sheet: `tracker validate` says how to add it)"
        click.echo(("no open tasks" if open_only else "no tasks") + missing)
        return
    table = [
        [
            str(r["id"] or ""),
            str(r["event_id"] or ""),
            str(r["status"] or ""),
            str(r["owner"] or "-"),
            str(r["system"] or "-"),
            state.show_time(r["due_at"]) + (" OVERDUE" if task_json(r, finished, now)["overdue"] else ""),
            str(r["task"] or ""),
        ]
        for r in rows
    ]
    click.echo(output.table(table, ["ID", "EVENT", "STATUS", "OWNER", "SYSTEM", "DUE", "TASK"]))

"""`tracker review` and `tracker action`: post-incident review drafts, the Reviews row, and follow-up actions."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import click

from tracker.cli.state import State, pass_state, say_ignored
from tracker.errors import UsageError
from tracker.text import printable


def _day(state: State, text: str | None, what: str) -> date | None:
    if text is None:
        return None
    from tracker.rules.actions import parse_date

    return parse_date(text, tz=state.config.display.tz, what=what)


def _columns(rows: list[list[str]], headers: list[str]) -> str:
    """Rows as aligned columns under their headers (cells made printable)."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def _shown(path: Path) -> str:
    """A path as the user would type it from here (relative when it is below the current folder)."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _show_day(value: Any) -> str:
    from tracker.rules.actions import day_of
    from tracker.window.review import DAY_FORMAT

    day = day_of(value)
    return day.strftime(DAY_FORMAT) if day else ""


def _draft(state: State, event_id: str, out_dir: str | None, fmt: str, force: bool) -> None:
    """`tracker review ID`: write the draft (Markdown, Word or both), and say when the event is still open."""
    from tracker.times import utcnow

    config = state.config
    from tracker.window.review import build_review
    from tracker.window.review_document import draft_paths, write_drafts

    tracker = state.store().read()
    display = config.display
    review = build_review(
        tracker, event_id, tz=display.tz, time_format=display.time_format, at_risk=config.clock.at_risk, now=utcnow()
    )
    folder = Path(out_dir) if out_dir else config.root / config.review.folder
    paths = write_drafts(
        review,
        draft_paths(folder, review.event_id, fmt),
        force=force,
        templates=config.mail.templates,
    )
    for path in paths:
        click.echo(printable(f"wrote {_shown(path)}"))
    if review.still_open:
        click.echo(
            printable(
                f"warning: {review.event_id} is still open ({review.status}): the draft's timeline ends at "
                f"{review.generated}; run `tracker review {review.event_id}` again once it is resolved"
            ),
            err=True,
        )


def _record(state: State, event_id: str, given: dict[str, str | None]) -> None:
    """`tracker review ID --record` with the options `given` (facilitator, day, link, status, note): the Reviews row,
    its link defaulting to the draft written earlier."""
    from tracker.window.review import record_review
    from tracker.window.review_document import draft_paths

    config = state.config
    facilitator, day, link, status, note = (given[k] for k in ("facilitator", "day", "link", "status", "note"))

    folder = config.root / config.review.folder
    drafts = [p for p in draft_paths(folder, event_id.strip().upper(), "both") if p.exists()]
    default_link = os.path.relpath(drafts[-1], config.root) if drafts else None
    recorded = record_review(
        state.store(),
        event_id,
        facilitator=facilitator,
        day=_day(state, day, "--date"),
        link=link,
        status=status,
        note=note,
        default_link=default_link,
        tz=config.display.tz,
    )
    values = recorded.values
    what = "recorded" if recorded.created else "updated"
    parts = [str(values.get("status") or ""), _show_day(values.get("review_date"))]
    if values.get("facilitator"):
        parts.append(f"facilitator {values['facilitator']}")
    if values.get("document"):
        parts.append(f"document {values['document']}")
    click.echo(printable(f"{values['event_id']}: review {what} ({', '.join(p for p in parts if p)})"))


@click.command("review")
@click.argument("event_id", metavar="ID")
@click.option("--out", "out_dir", metavar="DIR", help="Folder for the draft (default: [review] folder, reviews/).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "docx", "both"]),
    default="both",
    show_default=True,
    help="Markdown, Word, or both.",
)
@click.option("--force", is_flag=True, help="Replace a draft even if someone edited it.")
@click.option("--record", is_flag=True, help="Record the review on the Reviews sheet instead of writing a draft.")
@click.option("--facilitator", metavar="NAME", help="With --record: who ran the review (needed the first time).")
@click.option(
    "--date", "day", metavar="DATE", help="With --record: the day it was held (default: today), e.g. -2d or YYYY-MM-DD."
)
@click.option("--link", metavar="URL|PATH", help="With --record: the review document, a SharePoint link or a path.")
@click.option("--status", metavar="STATUS", help="With --record: Draft, Held or Done (default for a new record: Held).")
@click.option("--note", help="With --record: a note on the Reviews row.")
@pass_state
def review_cmd(
    state: State,
    event_id: str,
    out_dir: str | None,
    fmt: str,
    force: bool,
    record: bool,
    facilitator: str | None,
    day: str | None,
    link: str | None,
    status: str | None,
    note: str | None,
) -> None:
    """Write the post-incident review draft of an event, or record the review (--record).

    The draft (Markdown and Word) is prefilled from the workbook: summary and impact, the
    whole timeline (internal updates, changes, emails, reminders, escalations), SLA results,
    root cause, what went well and what did not, and the action items. It goes to
    reviews/ID-review.md and .docx beside tracker.toml; a draft someone edited is never
    replaced without --force. Closing a Sev 1 or Sev 2 event needs the review recorded.

    \b
    Example:
      tracker resolve EVT-2026-0002 --note "Tunnels up after the failover"
      tracker review EVT-2026-0002
      tracker review EVT-2026-0002 --record --facilitator "Alex Morgan"
      tracker update EVT-2026-0002 --note "Review held, actions tracked" --status Closed
    """
    with_record = {"--facilitator": facilitator, "--date": day, "--link": link, "--status": status, "--note": note}
    if record:
        if out_dir or force or fmt != "both":
            raise UsageError("--record writes the Reviews row only; --out, --format and --force are for the draft")
        _record(state, event_id, dict(facilitator=facilitator, day=day, link=link, status=status, note=note))
        return
    given = [name for name, value in with_record.items() if value is not None]
    if given:
        raise UsageError(f"{' and '.join(given)} go with --record (to record the review on the Reviews sheet)")
    _draft(state, event_id, out_dir, fmt, force)


@click.group("action")
def action_cmd() -> None:
    """Follow-up actions from post-incident reviews (the Actions sheet): add, list, set, done.

    Overdue actions (past their due date, not Done or Won't do) show in `tracker due` and
    make it exit 1.

    \b
    Example:
      tracker action add EVT-2026-0002 --action "Alert on firewall firmware advisories" --owner "Ravi Menon" --due +14d
      tracker action list --open
      tracker action done ACT-2026-0001
    """


def _action_line(state: State, row: Any) -> str:
    return printable(
        f"{row['id']}: {row['status']}, owner {row['owner']}, due {_show_day(row['due_date'])} ({row['event_id']})"
    )


@action_cmd.command("add")
@click.argument("event_id", metavar="ID")
@click.option("--action", "text", required=True, help="What is to be done.")
@click.option("--owner", required=True, metavar="NAME", help="Who sees it done.")
@click.option("--due", required=True, metavar="DATE", help="By when: e.g. tomorrow, +7d, +2w or YYYY-MM-DD.")
@click.option("--status", default="Open", show_default=True, help="Open, In progress, Done or Won't do.")
@click.option("--note", help="A note on the action.")
@click.option("--force", is_flag=True, help="Accept a due date already past.")
@pass_state
def action_add(
    state: State, event_id: str, text: str, owner: str, due: str, status: str, note: str | None, force: bool
) -> None:
    """Add a follow-up action to an event; prints its new ID (ACT-<year>-<n>).

    \b
    Example:
      tracker action add EVT-2026-0002 --action "Alert on firewall firmware advisories" --owner "Ravi Menon" --due +14d
    """
    from tracker.rules.actions import add_action, parse_date
    from tracker.times import utcnow

    day = parse_date(due, tz=state.config.display.tz, what="--due")
    today = utcnow().astimezone(state.config.display.tz).date()
    if day < today and not force:
        raise UsageError(f"--due {day.isoformat()} has already passed; give a day to come (or --force if meant)")
    row = add_action(state.store(), event_id, action=text, owner=owner, due=day, note=note, status=status)
    click.echo(
        printable(f"{row['id']}: added to {row['event_id']} for {row['owner']}, due {_show_day(row['due_date'])}")
    )


@action_cmd.command("done")
@click.argument("action_id", metavar="ACT-ID")
@click.option("--note", help="What was done (kept on the Actions row).")
@pass_state
def action_done(state: State, action_id: str, note: str | None) -> None:
    """Mark an action Done (the time is recorded).

    \b
    Example:
      tracker action done ACT-2026-0001 --note "Advisory feed alerts the network team"
    """
    from tracker.rules.actions import set_action

    row = set_action(state.store(), action_id, status="Done", note=note)
    click.echo(_action_line(state, row))


@action_cmd.command("set")
@click.argument("action_id", metavar="ACT-ID")
@click.option("--status", help="Open, In progress, Done or Won't do.")
@click.option("--owner", help="A new owner.")
@click.option("--due", help="A new due date, e.g. +7d or YYYY-MM-DD.")
@click.option("--action", "text", help="New wording of the action.")
@click.option("--note", help="The note on the action (empty clears it).")
@pass_state
def action_set(
    state: State,
    action_id: str,
    status: str | None,
    owner: str | None,
    due: str | None,
    text: str | None,
    note: str | None,
) -> None:
    """Change an action: status, owner, due date, wording or note.

    \b
    Example:
      tracker action set ACT-2026-0001 --status "In progress" --due +7d
      tracker action set ACT-2026-0002 --status "Won't do" --note "Covered by the new monitoring"
    """
    from tracker.rules.actions import set_action

    row = set_action(
        state.store(),
        action_id,
        status=status,
        owner=owner,
        due=_day(state, due, "--due"),
        action=text,
        note=note,
    )
    click.echo(_action_line(state, row))


@action_cmd.command("list")
@click.argument("event_id", metavar="[ID]", required=False)
@click.option("--open", "open_only", is_flag=True, help="Only actions not Done or Won't do.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of actions (see README).")
@pass_state
def action_list(state: State, event_id: str | None, open_only: bool, as_json: bool) -> None:
    """List follow-up actions (of one event, if given): ID, event, status, due date, owner, action.

    \b
    Example:
      tracker action list --open
      tracker action list EVT-2026-0002 --json
    """
    from tracker.rules.actions import action_json, finished_statuses, ignored_rows, is_overdue, list_actions
    from tracker.times import utcnow

    tracker = state.store().read()
    say_ignored(ignored_rows(tracker, event_id))
    rows = list_actions(tracker, event_id=event_id, open_only=open_only)
    today = utcnow().astimezone(state.config.display.tz).date()
    finished = finished_statuses(tracker) if tracker.layout("Actions").present else ()
    if as_json:
        click.echo(json.dumps([action_json(r, finished, today) for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        missing = "" if tracker.layout("Actions").present else " (this workbook has no Actions sheet)"
        click.echo(("no open actions" if open_only else "no actions") + missing)
        return
    table = [
        [
            str(r["id"] or ""),
            str(r["event_id"] or ""),
            str(r["status"] or ""),
            _show_day(r["due_date"]) + (" OVERDUE" if is_overdue(r, finished, today) else ""),
            str(r["owner"] or ""),
            str(r["action"] or ""),
        ]
        for r in rows
    ]
    click.echo(_columns(table, ["ID", "EVENT", "STATUS", "DUE", "OWNER", "ACTION"]))

"""`tracker publish`: the status page for leadership (or another audience), as a local file or a SharePoint page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tracker.cli.state import State, pass_state
from tracker.text import printable


@click.command("publish")
@click.option(
    "--audience",
    metavar="NAME",
    help="Publish what this audience may read (default: [publish] audience, leadership), e.g. customer.",
)
@click.option(
    "--out",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the page to this HTML file instead (even when [publish] to = sharepoint).",
)
@click.option("--json", "as_json", is_flag=True, help="Print where it went and what it counted as JSON (see README).")
@click.option("--drills", is_flag=True, help="Add a section of exercises (category exercise); otherwise left out.")
@pass_state
def publish_cmd(state: State, audience: str | None, out: Path | None, as_json: bool, drills: bool) -> None:
    """Publish the status page: open events worst first, SLAs missed, the last 7 days, two charts.

    Only what the audience may read appears (the schema's x-audiences): never an internal-only update, a vendor
    case number or a field kept from it. An external audience (not in [mail] internal_audiences, e.g. customer)
    sees only the events whose severity notifies it (Severities sheet, Audiences Notified); internal audiences
    such as leadership see every event. Where it goes is [publish] in tracker.toml: a self-contained HTML file
    (default status/index.html) or, with to = "sharepoint", a modern page on the SharePoint site. Drills
    (category exercise) are never counted; --drills shows them in a section of their own.

    \b
    Example:
      tracker publish
      tracker publish --audience customer --out status/customer.html
      tracker publish --json
      tracker publish --drills --out status/drills.html
    """
    from tracker.times import utcnow
    from tracker.window.publish import publish_status
    from tracker.window.status_render import prepare_page

    tracker = state.read_some("Updates", store=state.store())  # the updates of the open events, found in the XML
    tracker.scan_ahead("Updates", "event_id")  # while Events parses, as the page's template compiles
    prepare_page(state.config)
    now = utcnow()
    result = publish_status(
        state.config, tracker, now, audience=audience, out=out, verbose=state.verbose, drills=drills
    )
    others = []
    if audience is None and out is None:  # [publish] also_for: the other audiences' pages, kept beside it
        others = [
            publish_status(state.config, tracker, now, audience=name, verbose=state.verbose, drills=drills)
            for name in state.config.publish.audiences[1:]
        ]
    for done in (result, *others):
        for warning in done.warnings:
            click.echo(printable(f"warning: {warning}"), err=True)
    if as_json:
        payload = _as_json(result) | {"also": [_as_json(done) for done in others]}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for done in (result, *others):
        click.echo(published_line(done))


def _as_json(result: Any) -> dict[str, Any]:
    from tracker.times import iso

    return {
        "to": result.to,
        "where": _shown(Path(result.where)) if result.to == "local" else result.where,
        "audience": result.audience,
        "open_events": result.open_events,
        "sla_breached": result.breached,
        "resolved_last_7_days": result.resolved_recent,
        "published_at": iso(result.published_at),
    }


def published_line(result: Any) -> str:
    """The one line saying where the page went and what it counted (publish, and notify with after_notify)."""
    where = _shown(Path(result.where)) if result.to == "local" else result.where
    events = f"{result.open_events} open event{'s' if result.open_events != 1 else ''}"
    breached = f", {result.breached} past an SLA target" if result.breached else ""
    return printable(f"published the status page for {result.audience} to {where}: {events}{breached}")


def _shown(path: Path) -> str:
    """The page's path as the user would type it: relative to the current folder when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)

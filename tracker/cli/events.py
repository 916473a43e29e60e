"""The event's life: `tracker open`, `update`, `resolve`, `change`, `ack`, `list`, `show`.

The library is imported inside each command, deliberately: `tracker --help` and a mistyped option answer without
loading openpyxl."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from tracker.cli import output
from tracker.cli.state import State, pass_state
from tracker.entry import READS_SOME
from tracker.errors import UsageError
from tracker.text import printable as _printable

if TYPE_CHECKING:
    from tracker.workbook.reading import Row


def _fields(state: State, pairs: tuple[str, ...]) -> dict[str, Any]:
    """--set FIELD=VALUE pairs for the Events sheet, typed by the schema."""
    from tracker.workbook.schema import load_schema, normalize_header

    if not pairs:
        return {}
    events = load_schema(state.config.schema_dir)["Events"]
    protected = {"id", "status", "severity", "next_update_due", "last_update_at", "resolved_at", "closed_at"}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        spec = events.by_header.get(normalize_header(name))  # field name or header, any case
        if not sep or spec is None:
            raise UsageError(
                f"--set {pair!r}: use FIELD=VALUE with an Events field such as vendor_case_number, "
                f"workaround or incident_lead (fields: {', '.join(events.fields)})"
            )
        if spec.name in protected:
            raise UsageError(f"--set {spec.name}: this field is set by tracker itself; use the command's own option")
        value = value.strip()
        if spec.kind == "datetime" and value:
            out[spec.name] = state.time(value, f"--set {spec.name}")
        elif spec.kind == "integer" and value:
            if not value.replace(",", "").isdecimal():
                raise UsageError(f"--set {spec.name}: {value!r} is not a whole number")
            out[spec.name] = int(value.replace(",", ""))
        else:
            out[spec.name] = value or None
    return out


SET_HELP = "Also set an Events field, e.g. --set vendor_case_number=12345 (repeatable)."

# Options several commands take, worded once.
PUBLIC_NOTE = click.option(
    "--public-note", help="The update in words external audiences (the customer) may read; they never see --note."
)
AUTHOR = click.option("--author", help="Who is recording this (default: [user] name in tracker.toml, or your login).")
SET_FIELDS = click.option("--set", "pairs", multiple=True, metavar="FIELD=VALUE", help=SET_HELP)
FORCE_TIME = click.option(
    "--force",
    is_flag=True,
    help="Accept a time that looks wrong: a detection or resolution in the future, an ETA already past.",
)


def _event_fields(sites: tuple[str, ...], users: int | None, given: dict[str, str | None]) -> dict[str, Any]:
    """The Events cells open's own options set: sites (joined), users affected, and each text option given."""
    fields: dict[str, Any] = {name: value for name, value in given.items() if value}
    if sites:
        fields["sites_affected"] = ", ".join(sites)
    if users is not None:
        fields["users_affected"] = users
    return fields


@click.command("open")
@click.option("--title", required=True, help="Short headline, used in email subjects.")
@click.option("--severity", required=True, help="A severity from the Severities sheet, e.g. 'Sev 1'.")
@click.option(
    "--service",
    "services",
    multiple=True,
    help="Affected service from the Services sheet (repeatable, or comma-separated).",
)
@click.option(
    "--category", default="outage", show_default=True, help="outage, degradation, security, other or exercise."
)
@click.option("--drill", is_flag=True, help="An exercise: --category exercise ([EXERCISE] subjects, drill recipients).")
@click.option("--status", default="Investigating", show_default=True, help="Investigating, Identified or Monitoring.")
@click.option("--detected", help="When it started (default: now), e.g. 14:05, 1405Z, -20m.")
@click.option("--site", "sites", multiple=True, help="Affected site (repeatable).")
@click.option("--users", type=click.IntRange(min=0), help="Estimated number of users affected.")
@click.option("--impact", help="What users cannot do, in plain language.")
@click.option("--note", help="First timeline entry (default: 'Event opened: TITLE').")
@PUBLIC_NOTE
@click.option("--technical-bridge", help="Where the technical team joins: phone number and/or meeting link.")
@click.option("--management-bridge", help="Where leadership joins: phone number and/or meeting link.")
@AUTHOR
@SET_FIELDS
@FORCE_TIME
@pass_state
def open_cmd(
    state: State,
    title: str,
    severity: str,
    services: tuple[str, ...],
    category: str,
    status: str,
    detected: str | None,
    sites: tuple[str, ...],
    users: int | None,
    impact: str | None,
    note: str | None,
    public_note: str | None,
    technical_bridge: str | None,
    management_bridge: str | None,
    author: str | None,
    pairs: tuple[str, ...],
    force: bool,
    drill: bool = False,
) -> None:
    """Record a new event; prints its new ID.

    The next update is due after the severity's update interval.

    \b
    Example:
      tracker open --title "Email outage - all sites" --severity "Sev 1" --service Email --site "All sites"
      tracker open --drill --title "DR drill - mail failover" --severity "Sev 2" --service Email
    """
    from tracker.rules.events import open_event

    given = {"impact": impact, "technical_bridge": technical_bridge, "management_bridge": management_bridge}
    fields = _fields(state, pairs) | _event_fields(sites, users, given)
    names = [name.strip() for value in services for name in value.split(",") if name.strip()]
    notes: list[str] = []
    event_id = open_event(
        state.store(),
        title=title,
        severity=severity,
        services=names,
        category=_drill_category(state) if drill else category,
        status=status,
        detected_at=state.time(detected, "--detected", when="past", force=force),
        author=author or state.config.user,
        note=note,
        public_note=public_note,
        fields=fields,
        zone=state.config.display.tz,
        notes=notes,
    )
    click.echo(event_id)
    for line in notes:
        click.echo(_printable(f"warning: {line}"), err=True)
    if not fields.get("impact"):
        click.echo(
            f"warning: the first notification needs Impact (what users cannot do): add it with "
            f'`tracker update {event_id} --note "..." --set impact="..."`, or use --impact when opening',
            err=True,
        )


def _drill_category(state: State) -> str:
    """The category --drill stands for: the one the schema marks x-drill (exercise)."""
    from tracker.errors import UsageError
    from tracker.rules.categories import drill_category
    from tracker.workbook.schema import load_schema

    name = drill_category(load_schema(state.config.schema_dir))
    if not name:
        raise UsageError('--drill: the schema marks no category as a drill (events.json category "x-drill")')
    return name


def _public_hint(state: State, audiences: list[str], given: str | None, option: str) -> None:
    """Say so when an external audience will not read what was just written (the schema keeps it internal)."""
    from tracker.workbook.schema import load_schema

    external = [a for a in audiences if a.casefold() not in state.config.internal_audiences]
    sheet, name = ("Events", "root_cause") if option == "--public-cause" else ("Updates", "note")
    spec = load_schema(state.config.schema_dir)[sheet].fields[name]
    hidden = [a for a in external if not spec.visible_to(a, state.config.internal_audiences)]
    if hidden and not given:
        what = "the cause" if option == "--public-cause" else "this note"
        click.echo(
            f"note: {', '.join(hidden)} will not read {what} ({sheet} {spec.title} is for internal audiences); "
            f'add {option} "..." with words they may read',
            err=True,
        )


@click.command()
@click.argument("event_id", metavar="ID")
@click.option("--note", required=True, help="What happened, what is being done, what comes next.")
@click.option("--status", help="New status: Investigating, Identified, Monitoring or Closed.")
@click.option(
    "--eta", help="Estimated restoration time, e.g. 16:30, 1630Z, +2h, or a date and time (YYYY-MM-DD HH:MM)."
)
@click.option("--severity", help="Change the severity (the update cadence follows).")
@click.option("--internal", is_flag=True, help="Keep this update out of customer and leadership emails.")
@PUBLIC_NOTE
@click.option("--reopen", is_flag=True, help="Allow a Resolved or Closed event to become open again.")
@AUTHOR
@SET_FIELDS
@click.option(
    "--pin",
    is_flag=True,
    help="Keep the person --set names in a role (e.g. event_manager): that role stops following the Roster.",
)
@FORCE_TIME
@pass_state
def update(
    state: State,
    event_id: str,
    note: str,
    status: str | None,
    eta: str | None,
    severity: str | None,
    internal: bool,
    public_note: str | None,
    reopen: bool,
    author: str | None,
    pairs: tuple[str, ...],
    pin: bool,
    force: bool,
) -> None:
    """Add a timestamped update to an event's timeline; the event row follows.

    The next update due time moves on by the severity's interval, except that an
    update an audience already told will not read (an internal note, for the
    customer) keeps the time that audience was promised.

    \b
    Example:
      tracker update EVT-2026-0001 --note "Certificate replaced on mail-gw-01" --status Monitoring --eta +30m \\
        --public-note "A fix is in place; email is flowing again"
      tracker update EVT-2026-0001 --note "Alex keeps it" --set event_manager="Alex Morgan" --pin
    """
    from tracker.rules.events import update_event

    fields = _fields(state, pairs)
    if severity:
        fields["severity"] = severity
    outcome = update_event(
        state.store(),
        event_id,
        note=note,
        status=status,
        eta=state.time(eta, "--eta", when="future", force=force),
        author=author or state.config.user,
        internal=internal,
        reopen=reopen,
        public_note=public_note,
        fields=fields,
        review_required_for=state.config.review.required_for,
        internal_audiences=state.config.internal_audiences,
        pin=pin,
    )
    due = f"; next update due {state.show_time(outcome.next_update_due)}" if outcome.next_update_due else ""
    if outcome.promised_to and outcome.next_update_due:
        due += f", as promised to {', '.join(outcome.promised_to)} (this update is not news to them)"
    click.echo(f"{outcome.event_id}: {outcome.status}{due}")
    if not internal:
        _public_hint(state, outcome.audiences, public_note, "--public-note")


@click.command()
@click.argument("event_id", metavar="ID")
@click.option("--note", required=True, help="The final update: what fixed it.")
@click.option("--cause", help="Root cause, if known (internal audiences only).")
@click.option("--public-cause", help="The cause in words the customer may read (Resolved emails to every audience).")
@PUBLIC_NOTE
@click.option("--at", "resolved_at", help="When service was restored (default: now).")
@click.option("--author", help="Who is recording this.")
@FORCE_TIME
@pass_state
def resolve(
    state: State,
    event_id: str,
    note: str,
    cause: str | None,
    public_cause: str | None,
    public_note: str | None,
    resolved_at: str | None,
    author: str | None,
    force: bool,
) -> None:
    """Mark an event Resolved: resolution time, root cause and the final update.

    \b
    Example:
      tracker resolve EVT-2026-0001 --note "Mail flow restored" --cause "Expired certificate on mail-gw-01" \\
        --public-cause "An expired security certificate on our mail gateway"
    """
    from tracker.rules.events import resolve_event

    outcome = resolve_event(
        state.store(),
        event_id,
        note=note,
        cause=cause,
        public_cause=public_cause,
        public_note=public_note,
        resolved_at=state.time(resolved_at, "--at", when="past", force=force),
        author=author or state.config.user,
    )
    click.echo(f"{outcome.event_id}: Resolved at {state.show_time(outcome.at)}")
    _public_hint(state, outcome.audiences, public_note, "--public-note")
    if cause and not public_cause:
        _public_hint(state, outcome.audiences, None, "--public-cause")


@click.command()
@click.argument("event_id", metavar="ID")
@click.option("--system", required=True, help="System or device changed.")
@click.option("--change", "change_made", required=True, help="What was changed, precisely enough to undo it.")
@click.option("--approved-by", help="Who approved the change.")
@click.option("--by", help="Who made the change (default: you).")
@click.option("--at", help="When (default: now).")
@pass_state
def change(
    state: State, event_id: str, system: str, change_made: str, approved_by: str | None, by: str | None, at: str | None
) -> None:
    """Record a change made while troubleshooting (the Changes sheet).

    \b
    Example:
      tracker change EVT-2026-0001 --system mail-gw-01 --change "Restarted transport service" --approved-by "Dana Whitfield"
    """
    from tracker.rules.events import record_change

    key = record_change(
        state.store(),
        event_id,
        system=system,
        change=change_made,
        by=by or state.config.user,
        approved_by=approved_by,
        at=state.time(at, "--at"),
    )
    click.echo(f"{key}: change recorded")


@click.command()
@click.argument("event_id", metavar="ID")
@click.option("--at", help="When it was acknowledged (default: now), e.g. 14:05, 1405Z, -3m.")
@pass_state
def ack(state: State, event_id: str, at: str | None) -> None:
    """Record that event management acknowledged the event: the first-response SLA stops.

    The first `update` of an event records it too, when `ack` was not used.

    \b
    Example:
      tracker ack EVT-2026-0002
    """
    from tracker.rules.clock import timers
    from tracker.rules.events import acknowledge_event
    from tracker.times import utcnow

    store = state.store()
    outcome = acknowledge_event(store, event_id, at=state.time(at, "--at", when="past"))
    tracker = store.read()
    event = tracker.event(outcome.event_id)
    severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
    first = [t for t in timers(event, severity, utcnow(), state.config.clock.at_risk) if t.name == "first response"]
    sla = f" (first response {first[0].words()})" if first else ""
    if not outcome.edits:
        click.echo(f"{outcome.event_id}: already acknowledged at {state.show_time(outcome.at)}{sla}; nothing changed")
        return
    click.echo(f"{outcome.event_id}: acknowledged at {state.show_time(outcome.at)}{sla}")


@click.command()
@click.argument("event_id", metavar="ID")
@click.option("--audience", required=True, metavar="NAME", help="The held audience to release, e.g. customer.")
@AUTHOR
@pass_state
def approve(state: State, event_id: str, audience: str, author: str | None) -> None:
    """Release an audience the event's category holds (Categories sheet, Approval Before), e.g. a security
    event's customer: the event's Approved For names it, the timeline records who approved, and the next
    `notify` tells it.

    \b
    Example:
      tracker approve EVT-2026-0003 --audience customer
    """
    from tracker.rules.categories import approve as release
    from tracker.times import utcnow

    done = release(state.store(), event_id, audience, author or state.config.user, utcnow())
    if done.already:
        click.echo(f"{done.event_id}: {done.audience} was approved already; nothing changed")
        return
    click.echo(f"{done.event_id}: {done.audience} approved; `tracker notify {done.event_id}` tells it")


def _timers(state: State, tracker: Any, event: Row) -> list[Any]:
    """The event's SLA timers as of now, and its category's reporting deadline (Categories sheet)."""
    from tracker.rules.clock import deadline_timer, timers
    from tracker.times import utcnow

    now, at_risk = utcnow(), state.config.clock.at_risk
    severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
    deadline = deadline_timer(tracker, event, now, at_risk)
    return timers(event, severity, now, at_risk) + ([deadline] if deadline else [])


def _event_json(row: Row, spec: Any) -> dict[str, Any]:
    """A row as JSON: times as ISO 8601 UTC, Yes/No columns (e.g. `internal`) as booleans."""
    from tracker.times import iso

    flags = {name for name, field in spec.fields.items() if field.enum == ("Yes", "No")}
    out: dict[str, Any] = {}
    for name, value in row.values.items():
        if name in flags and value in ("Yes", "No"):
            out[name] = value == "Yes"
            continue
        out[name] = iso(value) if isinstance(value, datetime) else value
    if row.extra:
        out["extra"] = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in row.extra.items()}
    return out


@click.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only events that are not Resolved or Closed.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of event objects (see README).")
@pass_state
def list_cmd(state: State, open_only: bool, as_json: bool) -> None:
    """List events: ID, severity, status, when the next update is due, the SLA most at stake, title.

    \b
    Example:
      tracker list --open
      tracker list --json | jq -r '.[] | .id'
    """
    tracker = state.read_some(*READS_SOME["list"])  # the open events and their latest ETAs
    from tracker.rules.events import list_events
    from tracker.times import utcnow
    from tracker.workbook.policy import is_open

    rows = list_events(tracker, open_only=open_only)
    if as_json:
        spec = tracker.schema["Events"]
        events = [_event_json(r, spec) | {"slas": [t.to_json() for t in _timers(state, tracker, r)]} for r in rows]
        click.echo(json.dumps(events, indent=2, ensure_ascii=False))
        return
    from tracker.rules.clock import eta_passed, is_late, latest_etas, lead_time

    now = utcnow()
    table = []
    severities = tracker.sheet("Severities")
    etas = latest_etas(tracker, now)
    for row in rows:
        sla = _worst_sla(_timers(state, tracker, row))
        eta = etas.get(str(row["id"] or "").strip().casefold())
        stale = " (ETA passed)" if eta_passed(eta, now, row) else ""
        due = row["next_update_due"]
        mark = ""
        if is_open(row["status"]) and isinstance(due, datetime):
            if is_late(due, now):
                mark = " OVERDUE"
            elif due - now <= lead_time(severities.find(str(row["severity"] or "")), state.config):
                mark = " DUE SOON"  # within the reminder lead time
        table.append(
            [
                str(row["id"] or ""),
                str(row["severity"] or ""),
                str(row["status"] or "") + stale,
                state.show_time(due) + mark,
                sla,
                str(row["title"] or ""),
            ]
        )
    if not table:
        click.echo("no open events" if open_only else "no events")
        return
    click.echo(output.table(table, ["ID", "SEV", "STATUS", "NEXT UPDATE DUE", "SLA", "TITLE"]))


def _show_eta(state: State, event: Any, updates: list[Any], width: int) -> None:
    """show: the restoration ETA last given, marked once the clock has overtaken it (rules.clock.ETA_PASSED)."""
    from tracker.rules.clock import ETA_PASSED, current_eta, eta_passed
    from tracker.times import utcnow
    from tracker.workbook.policy import restored

    eta = current_eta(updates)
    if eta is not None and not restored(event):
        mark = f" ({ETA_PASSED})" if eta_passed(eta, utcnow(), event) else ""
        click.echo(f"  {'ETA'.ljust(width)}  {state.show_time(eta)}{mark}")


_SLA_ORDER = {"breached": 0, "at risk": 1, "running": 2, "met": 3}


def _worst_sla(timers: list[Any]) -> str:
    """The timer that most needs attention, in two words (`restoration at risk`), or "" without targets."""
    if not timers:
        return ""
    if all(t.state == "met" for t in timers):
        return "met"
    # the worst state; between two alike, restoration (the outage itself) before first response
    worst = min(timers, key=lambda t: (_SLA_ORDER.get(t.state, 9), t.name != "restoration"))
    return f"{worst.name} {worst.state}"


@click.command()
@click.argument("event_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the event and its timeline as JSON (see README).")
@pass_state
def show(state: State, event_id: str, as_json: bool) -> None:
    """Show one event and its timeline (updates and changes, oldest first).

    \b
    Example:
      tracker show EVT-2026-0001
    """
    tracker = state.read_some(*READS_SOME["show"])  # the event's rows
    from tracker.rules.events import event_timeline
    from tracker.workbook.policy import flagged

    timeline = event_timeline(tracker, event_id)
    if as_json:
        sheets = {"update": tracker.schema["Updates"], "change": tracker.schema["Changes"]}
        entries = [{"kind": kind, **_event_json(row, sheets[kind])} for kind, row in timeline.entries]
        shown = _event_json(timeline.event, tracker.schema["Events"])
        sla = [t.to_json() for t in _timers(state, tracker, timeline.event)]
        tasks = _event_tasks(tracker, str(timeline.event["id"]))
        payload = {"event": shown, "timeline": entries, "sla": sla, "tasks": tasks}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    event = timeline.event
    spec = tracker.schema["Events"]
    click.echo(_printable(f"{event['id']}  {event['title']}"))
    width = max(len(f.title) for f in spec.fields.values())
    for name, field in spec.fields.items():
        if name in ("id", "title") or event[name] is None:
            continue
        title = field.title.replace(" (UTC)", "")  # the time shown says its own zone
        value = tracker.as_typed("Events", name, event.number, event[name])  # -5 in a date cell: -5, not 00:00:00
        click.echo(f"  {title.ljust(width)}  {state.show_time(value)}")
    for header, value in event.extra.items():
        click.echo(f"  {header.ljust(width)}  {state.show_time(value)}")
    _show_eta(state, event, [row for kind, row in timeline.entries if kind == "update"], width)
    for timer in _timers(state, tracker, event):
        click.echo(f"  {('SLA ' + timer.name).ljust(width)}  {timer.words()}")
    click.echo("\nTimeline")
    if not timeline.entries:
        click.echo("  (no updates yet)")
    for kind, row in timeline.entries:
        when = state.show_time(row["at"])
        if kind == "update":
            flags = " [internal]" if flagged(row["internal"]) else ""
            eta = f" (ETA {state.show_time(row['eta'])})" if row["eta"] else ""
            who = f"{row['author']}: " if row["author"] else ""
            line = f"  {when}  {str(row['status'] or '').ljust(13)} {who}{row['note']}{eta}{flags}"
            click.echo(_printable(line))
        else:
            who = f"{row['by']} " if row["by"] else ""
            approved = f" (approved by {row['approved_by']})" if row["approved_by"] else ""
            undone = " [rolled back]" if row["rolled_back"] == "Yes" else ""
            line = f"  {when}  {'CHANGE'.ljust(13)} {who}on {row['system']}: {row['change']}{approved}{undone}"
            click.echo(_printable(line))
    _show_tasks(state, tracker, str(event["id"]))


def _event_tasks(tracker: Any, event_id: str) -> list[dict[str, Any]]:
    """The event's tasks as `task list --json` gives them (open and done; [] without a Tasks sheet)."""
    from tracker.rules.tasks import finished_statuses, list_tasks, task_json
    from tracker.times import utcnow

    rows = list_tasks(tracker, event_id=event_id)
    return [task_json(r, finished_statuses(tracker), utcnow()) for r in rows]


def _show_tasks(state: State, tracker: Any, event_id: str) -> None:
    """`tracker show`'s Tasks section: the event's open tasks (who, on what, due when); nothing when it has none."""
    from tracker.rules.tasks import list_tasks

    rows = list_tasks(tracker, event_id=event_id, open_only=True)
    if rows:
        click.echo("\nOpen tasks")
    for row in rows:
        owner = row["owner"] or "nobody yet"
        system = f" on {row['system']}" if row["system"] else ""
        due = f" (due {state.show_time(row['due_at'])})" if row["due_at"] else ""
        click.echo(_printable(f"  {row['id']}  {str(row['status']).ljust(11)} {owner}{system}: {row['task']}{due}"))

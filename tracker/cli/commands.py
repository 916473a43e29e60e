"""The `tracker` command line: parse options, call one library function, show the result."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracker import __version__
from tracker.cli.publish import publish_cmd as _publish_cmd
from tracker.cli.report import report as _report
from tracker.cli.review import action_cmd as _action_cmd
from tracker.cli.review import review_cmd as _review_cmd
from tracker.cli.state import State, pass_state, say_ignored
from tracker.errors import TrackerError, UsageError
from tracker.text import printable as _printable

if TYPE_CHECKING:
    from tracker.store.backends import Store
    from tracker.workbook.reading import Row


class TrackerGroup(click.Group):
    """Turns tracker's own errors into one line on stderr and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        engine = sys.modules.get("tracker.store.engine")
        if engine is not None:  # a command run in the same process as an earlier one (tests, tools) starts afresh
            engine.WRITTEN.clear()
        try:
            try:
                return super().invoke(ctx)
            except BaseException:  # noqa: BLE001 - re-raised: only stderr is given back first
                if "tracker.workbook.reading" in sys.modules:  # parser threads may still hold stderr silenced
                    sys.modules["tracker.workbook.reading"].restore_native_stderr()
                raise
        except BrokenPipeError:  # `tracker show ... | head`: the reader has all it wanted
            _quiet_stdout()
            ctx.exit(0)
        except TrackerError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except PermissionError as exc:
            click.echo(f"error: permission denied: {_printable(exc.filename or exc)}", err=True)
            ctx.exit(1)
        except OSError as exc:  # a full disk, a vanished folder, an unplugged share: the workbook is replaced whole
            where = f" ({_printable(exc.filename)})" if exc.filename else ""
            click.echo(f"error: {exc.strerror or exc}{where}; nothing was written", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo(f"error: interrupted (Ctrl-C); {_what_was_written()}", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - the last resort: one line and a report, never a bare traceback
            report = write_crash_report(exc, ctx.invoked_subcommand or "")
            verbose = isinstance(ctx.obj, State) and ctx.obj.verbose
            if verbose:
                click.echo(report.read_text(encoding="utf-8") if report else "", err=True)
            where = f"the full report is in {report}" if report else "no report could be written"
            click.echo(
                f"error: `tracker {ctx.invoked_subcommand or ''}` failed unexpectedly "
                f"({type(exc).__name__}: {_printable(exc)}); {where}. Please report it (--verbose prints it)",
                err=True,
            )
            ctx.exit(INTERNAL_ERROR)
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.report_set_aside()


def _what_was_written() -> str:
    """After a Ctrl-C: whether the command's change is in the workbook already (then running it again would do it
    twice), or nothing was written."""
    engine = sys.modules.get("tracker.store.engine")
    written = list(getattr(engine, "WRITTEN", []))
    if not written:
        return "nothing was written"
    return (
        f"the workbook was written before it: it has this command's change ({engine.describe(written)}); "  # type: ignore[union-attr]
        "do not run the command again (`tracker show ID` shows it)"
    )


def _quiet_stdout() -> None:
    """Point stdout at nothing, so flushing it at exit does not fail again on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


INTERNAL_ERROR = 3  # exit code of an unexpected failure (a bug): see README, "What tracker refuses, and why"


def crash_folder() -> Path:
    """Where reports of unexpected failures go: the user's cache folder."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "tracker" / "crash-reports"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tracker" / "crash-reports"


def write_crash_report(exc: BaseException, command: str) -> Path | None:
    """Write the traceback and context of an unexpected failure to a private file; its path, or None."""
    import platform
    import traceback
    from datetime import UTC

    folder = crash_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = folder / f"tracker-{stamp}-{os.getpid()}.txt"
        text = (
            f"tracker {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
            f"command: tracker {command} (its arguments are left out: they may hold event details)\n"
            f"cwd: {Path.cwd()}\n\n" + "".join(traceback.format_exception(exc))
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        return path
    except OSError:
        return None


@click.group(cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config", "config_path", metavar="PATH", help="tracker.toml to use (default: found in this folder or above)."
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Log every SharePoint / Graph request (method, path, status, time) to stderr."
)
@click.version_option(__version__, prog_name="tracker")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Keep the event tracker workbook schema-checked and safe, and send its outage emails.

    \b
    Example:
      tracker init --example
      tracker open --title "VPN down at HQ" --severity "Sev 2" --service VPN
      tracker update EVT-2026-0002 --note "Firewall rebooted" --status Monitoring
      tracker notify EVT-2026-0002
    """
    ctx.obj = State(config_path, verbose)
    _log_to_stderr(verbose)
    rehearsal = os.environ.get("TRACKER_NOW", "").strip()
    if rehearsal and ctx.invoked_subcommand not in (None, "init"):
        click.echo(
            f"note: rehearsing at TRACKER_NOW={_printable(rehearsal)}: times written and sent are that moment's "
            "(unset TRACKER_NOW for real work)",
            err=True,
        )


def _log_to_stderr(verbose: bool) -> None:
    """--verbose: what the library logs (the `tracker` loggers: each SharePoint and Graph request) goes to stderr,
    one line each. The library itself never writes to the terminal."""
    import logging

    logger = logging.getLogger("tracker")
    for handler in [h for h in logger.handlers if getattr(h, "tracker_cli", False)]:
        logger.removeHandler(handler)  # an earlier command in this process (tests, tools) had its own stderr
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.tracker_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@main.command()
@click.option("--example", is_flag=True, help="Add sample severities, services, distribution lists and one open event.")
@click.option("--workbook", "workbook_name", help="File name of the new workbook (default: events.xlsx).")
@click.option("--name", help="Your name as emails (Contact) and the timeline show it; asked on a terminal.")
def init(example: bool, workbook_name: str | None, name: str | None) -> None:
    """Create tracker.toml and a new tracker workbook in the current folder.

    Each sheet is an Excel table with dropdowns, help text and formatting. An existing
    workbook is never overwritten; an existing tracker.toml is kept and used.

    \b
    Example:
      tracker init --example
    """
    from tracker.config import CONFIG_NAME
    from tracker.rules.init import init_tracker

    if name is None and sys.stdin.isatty() and not (Path.cwd() / CONFIG_NAME).exists():
        import getpass

        try:
            login = getpass.getuser()
        except (KeyError, OSError):  # no user name in the environment or the password database
            login = ""
        default = os.environ.get("TRACKER_USER") or login or None
        name = click.prompt("Your name, as emails and the timeline show it", default=default, show_default=True)
    created = init_tracker(Path.cwd(), example=example, workbook_name=workbook_name, name=name)
    if created.config_created:
        click.echo(f"created {created.config.name}")
    click.echo(f"created {created.workbook.name}" + (" with example data" if example else ""))
    if created.example_events:
        click.echo(f"example event: {', '.join(created.example_events)}")
    if example:
        click.echo("next: tracker validate, then tracker open --title ... --severity ... --service ...")
    else:
        click.echo(
            f"next: open {created.workbook.name} and fill the Severities, Services and Distribution sheets (each "
            "column's note says what goes in it), then tracker validate, then tracker open --title ... --severity "
            "... --service ..."
        )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list (see README).")
@click.option(
    "--fix",
    is_flag=True,
    help="First correct what has one reading only (a date or number typed as text, a dropdown value with stray "
    "spaces or another case) and list each cell corrected.",
)
@pass_state
def validate(state: State, as_json: bool, fix: bool) -> None:
    """Check every row of every sheet against the schema, cross-sheet references included.

    Exit code 0 when there are no errors, 1 when there are. Columns you added
    yourself are reported as information, not errors.

    \b
    Example:
      tracker validate
      tracker validate --fix
      tracker validate --json | jq '.[] | select(.level == "error") | .cell'
    """
    from tracker.checks import check

    store = state.store()
    if fix:
        from tracker.workbook.fixes import Fix, plan_fixes

        if state.config.excel_service_writes:
            raise UsageError(
                'validate --fix needs write_mode = "upload" (the Excel service addresses rows by their key, and '
                "several sheets have none); fix the cells validate names in Excel, or switch write_mode for the fix"
            )
        if store.journal is not None and store.journal.edits():
            raise UsageError(
                "edits wait in the journal; run `tracker sync` first, so --fix sees the workbook as it will be"
            )

        done: list[Fix] = []

        def plan(current: Any) -> list[Any]:
            edits, fixes = plan_fixes(current)
            done[:] = fixes
            return edits

        store.commit(plan)
        for item in done:
            after = state.show_time(item.after)
            click.echo(_printable(f"fixed {item.cell} ({item.column}): {item.before!r} -> {after} ({item.why})"))
        if not done:
            click.echo("nothing to fix: no cell has a single obvious correction")
    tracker = store.read()
    problems = check(state.config, tracker)
    errors = [p for p in problems if p.level == "error"]
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in problems], indent=2, ensure_ascii=False))
    else:
        for problem in problems:
            click.echo(("error: " if problem.level == "error" else "note: ") + str(problem))
        infos = len(problems) - len(errors)
        summary = f"{len(errors)} error{'s' * (len(errors) != 1)}"
        if infos:
            summary += f", {infos} note{'s' * (infos != 1)}"
        click.echo(f"{Path(tracker.source).name}: {'ok' if not errors else 'problems found'} ({summary})")
    if errors:
        sys.exit(1)


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
            if not value.replace(",", "").isdigit():
                raise UsageError(f"--set {spec.name}: {value!r} is not a whole number")
            out[spec.name] = int(value.replace(",", ""))
        else:
            out[spec.name] = value or None
    return out


SET_HELP = "Also set an Events field, e.g. --set vendor_case_number=12345 (repeatable)."


@main.command("open")
@click.option("--title", required=True, help="Short headline, used in email subjects.")
@click.option("--severity", required=True, help="A severity from the Severities sheet, e.g. 'Sev 1'.")
@click.option(
    "--service",
    "services",
    multiple=True,
    help="Affected service from the Services sheet (repeatable, or comma-separated).",
)
@click.option("--category", default="outage", show_default=True, help="outage, degradation, security or other.")
@click.option("--status", default="Investigating", show_default=True, help="Investigating, Identified or Monitoring.")
@click.option("--detected", help="When it started (default: now), e.g. 14:05, 1405Z, -20m.")
@click.option("--site", "sites", multiple=True, help="Affected site (repeatable).")
@click.option("--users", type=click.IntRange(min=0), help="Estimated number of users affected.")
@click.option("--impact", help="What users cannot do, in plain language.")
@click.option("--note", help="First timeline entry (default: 'Event opened: TITLE').")
@click.option(
    "--public-note", help="The update in words external audiences (the customer) may read; they never see --note."
)
@click.option("--technical-bridge", help="Where the technical team joins: phone number and/or meeting link.")
@click.option("--management-bridge", help="Where leadership joins: phone number and/or meeting link.")
@click.option("--author", help="Who is recording this (default: [user] name in tracker.toml, or your login).")
@click.option("--set", "pairs", multiple=True, metavar="FIELD=VALUE", help=SET_HELP)
@click.option(
    "--force",
    is_flag=True,
    help="Accept a time that looks wrong: a detection or resolution in the future, an ETA already past.",
)
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
) -> None:
    """Record a new event; prints its new ID.

    The next update is due after the severity's update interval.

    \b
    Example:
      tracker open --title "Email outage - all sites" --severity "Sev 1" --service Email --site "All sites"
    """
    from tracker.rules.events import open_event

    fields = _fields(state, pairs)
    if sites:
        fields["sites_affected"] = ", ".join(sites)
    if users is not None:
        fields["users_affected"] = users
    if impact:
        fields["impact"] = impact
    for name, value in (("technical_bridge", technical_bridge), ("management_bridge", management_bridge)):
        if value:
            fields[name] = value
    names = [name.strip() for value in services for name in value.split(",") if name.strip()]
    notes: list[str] = []
    event_id = open_event(
        state.store(),
        title=title,
        severity=severity,
        services=names,
        category=category,
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


@main.command()
@click.argument("event_id", metavar="ID")
@click.option("--note", required=True, help="What happened, what is being done, what comes next.")
@click.option("--status", help="New status: Investigating, Identified, Monitoring or Closed.")
@click.option(
    "--eta", help="Estimated restoration time, e.g. 16:30, 1630Z, +2h, or a date and time (YYYY-MM-DD HH:MM)."
)
@click.option("--severity", help="Change the severity (the update cadence follows).")
@click.option("--internal", is_flag=True, help="Keep this update out of customer and leadership emails.")
@click.option(
    "--public-note", help="The update in words external audiences (the customer) may read; they never see --note."
)
@click.option("--reopen", is_flag=True, help="Allow a Resolved or Closed event to become open again.")
@click.option("--author", help="Who is recording this (default: [user] name in tracker.toml, or your login).")
@click.option("--set", "pairs", multiple=True, metavar="FIELD=VALUE", help=SET_HELP)
@click.option(
    "--force",
    is_flag=True,
    help="Accept a time that looks wrong: a detection or resolution in the future, an ETA already past.",
)
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
    force: bool,
) -> None:
    """Add a timestamped update to an event's timeline; the event row follows.

    The next update due time moves on by the severity's interval.

    \b
    Example:
      tracker update EVT-2026-0001 --note "Certificate replaced on mail-gw-01" --status Monitoring --eta +30m \\
        --public-note "A fix is in place; email is flowing again"
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
    )
    due = f"; next update due {state.show_time(outcome.next_update_due)}" if outcome.next_update_due else ""
    click.echo(f"{outcome.event_id}: {outcome.status}{due}")
    if not internal:
        _public_hint(state, outcome.audiences, public_note, "--public-note")


@main.command()
@click.argument("event_id", metavar="ID")
@click.option("--note", required=True, help="The final update: what fixed it.")
@click.option("--cause", help="Root cause, if known (internal audiences only).")
@click.option("--public-cause", help="The cause in words the customer may read (Resolved emails to every audience).")
@click.option(
    "--public-note", help="The update in words external audiences (the customer) may read; they never see --note."
)
@click.option("--at", "resolved_at", help="When service was restored (default: now).")
@click.option("--author", help="Who is recording this.")
@click.option(
    "--force",
    is_flag=True,
    help="Accept a time that looks wrong: a detection or resolution in the future, an ETA already past.",
)
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


@main.command()
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


@main.command()
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


@main.command()
@click.option("--within", help="Only updates due within this time (e.g. 15m, 2h); late ones always show.")
@click.option("--json", "as_json", is_flag=True, help="Print what is due as JSON (see README, Keeping time).")
@click.option("--remind", is_flag=True, help="Remind whoever owes each update due soon or overdue (once each).")
@click.option("--escalate", is_flag=True, help="Send each escalation step (Escalations sheet) that is due, once.")
@pass_state
def due(state: State, within: str | None, as_json: bool, remind: bool, escalate: bool) -> None:
    """What the team owes now: each open event's next update, SLAs at risk or breached, the process review.

    Exit code 0 when nothing is overdue or breached, 1 otherwise, so a monitor can alert on it. An email handed
    to the mail server that never answered is listed too (exit 1) until `tracker notify ID --confirm-sent` or
    `--confirm-lost`.

    \b
    Example:
      tracker due
      tracker due --within 15m --json
      tracker due --remind --escalate
    """
    from tracker.rules.clock import due_items
    from tracker.times import utcnow

    span = _span(within, "--within") if within else None
    store = state.store()
    tracker = store.read()
    from tracker.rules.actions import ignored_rows as ignored_actions
    from tracker.workbook.roster import ignored_rows

    say_ignored([*ignored_rows(tracker), *ignored_actions(tracker)])
    now = utcnow()
    items = due_items(tracker, state.config, now, span)
    sent: list[Any] = []
    escalated: list[Any] = []
    if remind:
        from tracker.sending.reminders import send_reminders

        sent = send_reminders(store, state.config, now)
    if escalate:
        from tracker.sending.escalations import send_escalations

        escalated = send_escalations(store, state.config, now)
    if remind or escalate:
        tracker = store.read()  # as the sends left it: a message just handed over without an answer is listed
    from tracker.rules.clock import unconfirmed_emails
    from tracker.sending.sendlog import unconfirmed

    unknown = unconfirmed(tracker, store.journal)
    items = unconfirmed_emails(tracker, unknown) + items
    if as_json:
        payload = {
            "now": _iso(now),
            "items": [i.to_json(now) for i in items],
            "reminders": [r.to_json() for r in sent],
            "escalations": [e.to_json() for e in escalated],
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        rows = []
        for item in items:
            minutes = item.minutes(now)
            if minutes is None:
                when = ""
            elif item.state == "unconfirmed":
                when = f"{_minutes(-minutes)} ago"
            elif item.state in ("overdue", "breached"):
                when = f"{item.state} by {_minutes(-minutes)}" if minutes < 0 else item.state
            else:
                when = f"in {_minutes(minutes)}"
            what = item.kind if item.kind != "update" else "next update"
            if item.kind == "action":  # a review action (tracker.rules.actions.ActionDue): which one
                what = f"action {getattr(item, 'action_id', '')}".strip()
            if item.kind == "email":  # handed to the mail server, no answer (tracker.rules.clock.EmailDue)
                what = f"email to {getattr(item, 'audience', '')}: did it arrive?"
            rows.append(
                [
                    item.event_id or "-",
                    item.severity,
                    what,
                    item.state,
                    when,
                    state.show_time(item.at),
                    item.responsible,
                ]
            )
        if rows:
            click.echo(_table(rows, ["ID", "SEV", "WHAT", "STATE", "WHEN", "AT", "OWED BY"]))
        else:
            click.echo("nothing due: no open events")
        for reminder in sent:
            if reminder.problem:
                who = f" {reminder.person}" if reminder.person else ""
                click.echo(
                    _printable(f"warning: could not remind{who} ({reminder.event_id}): {reminder.problem}"), err=True
                )
            else:
                click.echo(_printable(f"reminded {reminder.person} <{reminder.address}>: {reminder.subject}"))
        for step in escalated:
            if step.problem:
                click.echo(_printable(f"warning: could not escalate {step.event_id}: {step.problem}"), err=True)
            else:
                click.echo(_printable(f"escalated to {step.person} <{step.address}>: {step.subject}"))
        say_unconfirmed(state, unknown)
    if any(item.late for item in items):
        sys.exit(1)


@main.command()
@click.option("--at", "at_text", help="Another moment than now, e.g. +8h, +3d or a date and time (YYYY-MM-DD HH:MM).")
@click.option("--json", "as_json", is_flag=True, help="Print the roster at that moment as JSON (see README).")
@pass_state
def roster(state: State, at_text: str | None, as_json: bool) -> None:
    """Who is on duty now (every role on the Roster sheet), and who comes next as duty event manager and stand-by.

    \b
    Example:
      tracker roster
      tracker roster --at +3d --json
    """
    from tracker.times import utcnow
    from tracker.workbook.roster import DUTY, STANDBY, next_shifts, on_duty

    tracker = state.store().read()
    from tracker.workbook.roster import ignored_rows

    say_ignored(ignored_rows(tracker))
    if not tracker.sheet("Roster").present:
        raise UsageError(
            "this workbook has no Roster sheet (added in tracker 0.2); `tracker validate` says how to add it"
        )
    at = (state.time(at_text, "--at") if at_text else None) or utcnow()
    zone = state.config.display.tz
    now_on = on_duty(tracker, zone, at)
    coming = {role: next_shifts(tracker, zone, at, role) for role in (DUTY, STANDBY)}
    if as_json:
        payload = {
            "at": _iso(at),
            "on_duty": [s.to_json() for s in now_on],
            "next": {role: [s.to_json() for s in found] for role, found in coming.items()},
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    click.echo(f"on duty at {state.show_time(at)}:")
    if now_on:
        rows = [[s.role, s.person, s.email, s.phone, state.show_time(s.end)] for s in now_on]
        click.echo(_indent(_table(rows, ["ROLE", "PERSON", "EMAIL", "PHONE", "UNTIL"])))
    else:
        click.echo("  nobody (the Roster sheet has no shift now)")
    for role, found in coming.items():
        for shift in found:
            click.echo(_printable(f"next {role}: {shift.person} from {state.show_time(shift.start)}"))


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


@main.command("watch")
@click.option("--every", default="1m", show_default=True, help="How often to look: e.g. 1m, 5m.")
@click.option("--notify", "with_notify", is_flag=True, help="Also send the outage emails of `notify --open` each tick.")
@click.option("--until", "until_text", help="Stop at this time (e.g. 18:00, +8h); default: run until stopped.")
@click.option("--ticks", type=click.IntRange(min=1), help="Stop after this many ticks.")
@click.option(
    "--publish",
    "with_publish",
    is_flag=True,
    help="Also republish the status page when the workbook changed (and every 15 min); on with [publish] after_notify.",
)
@pass_state
def watch_cmd(
    state: State, every: str, with_notify: bool, until_text: str | None, ticks: int | None, with_publish: bool
) -> None:
    """Keep time in a loop: reminders and escalations (and with --notify the outage emails) as they fall due.

    One watch per workbook. Logs one line per action; a workbook open in Excel or a network
    fault is said and tried again next tick. Ctrl-C or SIGTERM stops it. Exit code 1 when the
    last tick met an error or could not send a message, 0 otherwise.

    \b
    Example:
      tracker watch --every 1m --notify --publish
      TRACKER_NOW=2026-11-23T08:00Z tracker watch --until "2026-11-23 20:00"   # rehearse a day
    """
    from datetime import timedelta

    from tracker.cli.watch import watch

    span = _span(every, "--every")
    if span < timedelta(minutes=1):
        raise UsageError(f"--every {every}: at least 1m (a tick reads the workbook)")
    until = state.time(until_text, "--until", when="future") if until_text else None
    summary = watch(
        state.store(),
        state.config,
        every=span,
        notify=with_notify,
        escalate=True,
        until=until,
        ticks=ticks,
        say=lambda line: click.echo(_printable(line)),
        show=state.show_time,
        publish=with_publish or state.config.publish.after_notify,
    )
    if not summary.healthy:  # a service manager or cron sees that the last tick left something undone
        sys.exit(1)


def _iso(value: datetime) -> str:
    from tracker.times import iso

    return iso(value) or ""


def _minutes(count: int) -> str:
    from datetime import timedelta

    from tracker.rules.clock import duration

    return duration(timedelta(minutes=count))


def _span(text: str, what: str) -> Any:
    """`15m`, `2h`, `1d` as a timedelta, or a UsageError."""
    import re
    from datetime import timedelta

    match = re.fullmatch(r"\s*(\d{1,5})\s*(m|min|h|d)\s*", text, re.I)
    if not match:
        raise UsageError(f"{what} {text!r}: use minutes, hours or days, e.g. 15m, 2h or 1d")
    unit = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}[match[2].lower()]
    return timedelta(**{unit: int(match[1])})


def _timers(state: State, tracker: Any, event: Row) -> list[Any]:
    """The event's SLA timers as of now."""
    from tracker.rules.clock import timers
    from tracker.times import utcnow

    severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
    return timers(event, severity, utcnow(), state.config.clock.at_risk)


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


def _table(rows: list[list[str]], headers: list[str]) -> str:
    rows = [[_printable(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


@main.command("list")
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
    from tracker.rules.events import list_events
    from tracker.times import utcnow
    from tracker.workbook.policy import is_open

    tracker = state.store().read()
    rows = list_events(tracker, open_only=open_only)
    if as_json:
        spec = tracker.schema["Events"]
        events = [_event_json(r, spec) | {"slas": [t.to_json() for t in _timers(state, tracker, r)]} for r in rows]
        click.echo(json.dumps(events, indent=2, ensure_ascii=False))
        return
    from tracker.rules.clock import lead_time

    now = utcnow()
    table = []
    severities = tracker.sheet("Severities")
    for row in rows:
        sla = _worst_sla(_timers(state, tracker, row))
        due = row["next_update_due"]
        mark = ""
        if is_open(row["status"]) and isinstance(due, datetime):
            if due < now:
                mark = " OVERDUE"
            elif due - now <= lead_time(severities.find(str(row["severity"] or "")), state.config):
                mark = " DUE SOON"  # within the reminder lead time
        table.append(
            [
                str(row["id"] or ""),
                str(row["severity"] or ""),
                str(row["status"] or ""),
                state.show_time(due) + mark,
                sla,
                str(row["title"] or ""),
            ]
        )
    if not table:
        click.echo("no open events" if open_only else "no events")
        return
    click.echo(_table(table, ["ID", "SEV", "STATUS", "NEXT UPDATE DUE", "SLA", "TITLE"]))


_SLA_ORDER = {"breached": 0, "at risk": 1, "running": 2, "met": 3}


def _worst_sla(timers: list[Any]) -> str:
    """The timer that most needs attention, in two words (`restoration at risk`), or "" without targets."""
    if not timers:
        return ""
    if all(t.state == "met" for t in timers):
        return "met"
    worst = min(timers, key=lambda t: _SLA_ORDER.get(t.state, 9))
    return f"{worst.name} {worst.state}"


@main.command()
@click.argument("event_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the event and its timeline as JSON (see README).")
@pass_state
def show(state: State, event_id: str, as_json: bool) -> None:
    """Show one event and its timeline (updates and changes, oldest first).

    \b
    Example:
      tracker show EVT-2026-0001
    """
    from tracker.rules.events import event_timeline

    tracker = state.store().read()
    timeline = event_timeline(tracker, event_id)
    if as_json:
        sheets = {"update": tracker.schema["Updates"], "change": tracker.schema["Changes"]}
        entries = [{"kind": kind, **_event_json(row, sheets[kind])} for kind, row in timeline.entries]
        shown = _event_json(timeline.event, tracker.schema["Events"])
        sla = [t.to_json() for t in _timers(state, tracker, timeline.event)]
        click.echo(json.dumps({"event": shown, "timeline": entries, "sla": sla}, indent=2, ensure_ascii=False))
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
    for timer in _timers(state, tracker, event):
        click.echo(f"  {('SLA ' + timer.name).ljust(width)}  {timer.words()}")
    click.echo("\nTimeline")
    if not timeline.entries:
        click.echo("  (no updates yet)")
    for kind, row in timeline.entries:
        when = state.show_time(row["at"])
        if kind == "update":
            flags = " [internal]" if row["internal"] == "Yes" else ""
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


@main.command()
@click.argument("event_id", metavar="[ID]", required=False)
@click.option(
    "--open",
    "all_open",
    is_flag=True,
    help="The scheduled job: every open event, and every resolved one whose Resolved message has not gone to "
    "everyone who heard of it (only what changed since it was last sent goes out).",
)
@click.option("--audience", "audiences", multiple=True, help="Only this audience, e.g. leadership (repeatable).")
@click.option(
    "--dry-run", is_flag=True, help="Render every message into the preview folder; send nothing, write nothing."
)
@click.option("--force", is_flag=True, help="Send even if this event state was already sent to the audience.")
@click.option(
    "--no-change",
    is_flag=True,
    help="An update is due and nothing changed: tell every audience so, and when the next update comes.",
)
@click.option(
    "--confirm-sent",
    "confirm",
    flag_value="sent",
    help="The event's messages of unknown acceptance (handed to the mail server, no answer) did arrive: log them "
    "as sent.",
)
@click.option(
    "--confirm-lost",
    "confirm",
    flag_value="lost",
    help="They did not arrive: the next `notify` (or `due --remind`, `due --escalate`) sends them again.",
)
@pass_state
def notify(
    state: State,
    event_id: str | None,
    all_open: bool,
    audiences: tuple[str, ...],
    dry_run: bool,
    force: bool,
    no_change: bool,
    confirm: str | None,
) -> None:
    """Send the outage emails for an event to every audience its severity lists.

    Each audience gets its own wording from the templates; recipients come from the
    Distribution sheet; every message sent is logged on the Notifications sheet. The
    same event state is never sent twice unless --force.

    \b
    Example:
      tracker notify EVT-2026-0001 --dry-run
      tracker notify EVT-2026-0001
      tracker notify EVT-2026-0001 --audience leadership --force
      tracker notify EVT-2026-0001 --no-change
      tracker notify --open
      tracker notify EVT-2026-0001 --confirm-sent

    A message handed to the mail server that never answered may or may not have
    arrived: it is not sent again by itself, and notify, watch and due exit 1 over
    it until --confirm-sent or --confirm-lost (or --force sends it anew).
    """
    from tracker.errors import NotifyInterrupted
    from tracker.sending.notify import events_to_notify
    from tracker.sending.notify import notify as run_notify
    from tracker.sending.sendlog import unconfirmed

    if bool(event_id) == all_open:
        raise UsageError("give an event ID, or --open for every open event (not both)")
    store = state.store()
    if confirm:
        if all_open or dry_run or force or no_change:
            raise UsageError(f"--confirm-{confirm} takes an event ID and --audience only")
        _confirm(state, store, str(event_id), confirm == "sent", audiences)
        return
    first = None if event_id else store.read()
    ids = events_to_notify(first, store.journal) if first is not None else [str(event_id)]
    if not ids:
        click.echo("no open events")
    failed = sent_any = False
    reported: set[str] = set()
    found: list[Any] = []  # messages of unknown acceptance a run found, of events other than its own
    for key in ids:
        try:
            result = run_notify(
                store,
                state.config,
                key,
                audiences=list(audiences) or None,
                dry_run=dry_run,
                force=force,
                no_change=no_change,
            )
        except TrackerError as exc:
            if not all_open or isinstance(exc, NotifyInterrupted):
                raise
            click.echo(f"error: {key}: {exc}", err=True)  # the other open events still go out
            failed = True
            continue
        failed |= _report_notify(state, result, dry_run)
        reported.add(result.event_id.casefold())
        found += result.found_elsewhere
        sent_any = sent_any or bool(result.sent and not dry_run)
    if first is not None:  # the other events' messages of unknown acceptance: a scheduled job must not stay green
        others = {u.message_id: u for u in [*unconfirmed(first, store.journal), *found]}
        failed |= say_unconfirmed(state, [u for u in others.values() if u.event_id.casefold() not in reported])
    if sent_any and state.config.publish.after_notify:
        _republish(state, store)
    if failed:
        sys.exit(1)


def say_unconfirmed(state: State, items: list[Any]) -> bool:
    """One error line for each message of unknown acceptance nobody has confirmed (`tracker.sending.notify.Unconfirmed`);
    True when there is any (exit 1)."""
    for item in items:
        when = state.show_time(item.at) if item.at else "earlier"
        click.echo(
            _printable(
                f"error: {item.event_id} {item.audience}: {item.kind} {item.subject!r} was handed to the mail server "
                f"at {when} and no answer came, so it may not have arrived; {item.advice()}"
            ),
            err=True,
        )
    return bool(items)


def _confirm(state: State, store: Store, event_id: str, arrived: bool, audiences: tuple[str, ...]) -> None:
    """--confirm-sent / --confirm-lost: someone's word on the event's messages of unknown acceptance."""
    from tracker.sending.sendlog import confirm_edits, unconfirmed
    from tracker.times import utcnow

    tracker = store.read()
    wanted = {a.casefold() for a in audiences}
    items = [u for u in unconfirmed(tracker, store.journal, event_id) if not wanted or u.audience.casefold() in wanted]
    if not items:  # (a message about an event whose row was deleted since can still be confirmed)
        key = str(tracker.event(event_id)["id"])
        click.echo(f"{key}: no message of unknown acceptance to confirm")
        return
    key = items[0].event_id
    store.commit(lambda now_tracker: confirm_edits(now_tracker, items, arrived, state.config.user, utcnow()))
    again = {"reminder": "due --remind", "escalation": "due --escalate"}
    for item in items:
        when = state.show_time(item.at) if item.at else "earlier"
        if arrived:
            outcome = "logged as sent"
        elif item.kind in again:
            outcome = f"logged as never arrived; the next `tracker {again[item.kind]}` sends it again if still due"
        else:
            outcome = f"logged as never arrived; the next `tracker notify {key}` sends it again"
        click.echo(_printable(f"{key} {item.audience}: {item.kind} {item.subject!r} ({when}): {outcome}"))


def _republish(state: State, store: Store) -> None:
    """[publish] after_notify: the status page follows what was just sent. The emails went: a page that cannot be
    published is a warning, and `tracker publish` tries again."""
    from tracker.cli.publish import published_line
    from tracker.times import utcnow
    from tracker.window.publish import publish_status

    tracker, now = store.read(), utcnow()
    for audience in state.config.publish.audiences:  # the main page, and [publish] also_for's beside it
        try:
            result = publish_status(state.config, tracker, now, audience=audience, verbose=state.verbose)
        except (TrackerError, OSError) as exc:
            warning = f"warning: the status page was not republished: {exc} (`tracker publish` again)"
            click.echo(_printable(warning), err=True)
            return
        click.echo(published_line(result))


def _report_notify(state: State, result: Any, dry_run: bool) -> bool:
    """Print what notify did; True when something needs attention (exit 1)."""
    rows = [[m.audience, m.kind, str(len(m.recipients)), m.subject] for m in result.messages]
    if dry_run:
        click.echo(f"{result.event_id}: {len(result.messages)} message(s) rendered, nothing sent (dry run)")
        if rows:
            click.echo(_table(rows, ["AUDIENCE", "KIND", "RCPTS", "SUBJECT"]))
        if result.preview:
            click.echo(f"preview: {os.path.relpath(Path(result.preview[0]).parent)}{os.sep}")
    elif result.messages:
        click.echo(
            f"{result.event_id}: sent {len(result.sent)} of {len(result.messages)} message(s) via {result.transport}"
        )
        outcome = [
            r + ["sent" if m.sent else "UNKNOWN" if m.unanswered else "FAILED"]
            for r, m in zip(rows, result.messages, strict=True)
        ]
        click.echo(_table(outcome, ["AUDIENCE", "KIND", "RCPTS", "SUBJECT", "RESULT"]))
        for message in result.messages:
            for address, reason in message.refused.items():
                click.echo(f"warning: {message.audience}: {address} refused: {reason}", err=True)
            if message.error and not message.unanswered:  # an unanswered one is said below, with what to do
                click.echo(f"error: {message.audience}: not sent: {message.error}", err=True)
        if result.next_update is not None and result.sent:
            click.echo(f"next update due {state.show_time(result.next_update)}")
    unknown = say_unconfirmed(state, result.unknown)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for skipped in result.skipped:
        when = state.show_time(skipped.sent_at) if skipped.sent_at else "earlier"
        if skipped.claimed_by:
            click.echo(
                f"{result.event_id} {skipped.audience}: being sent by {skipped.claimed_by} (claimed at {when}: "
                f"{skipped.kind}: {skipped.subject}); not sent from here"
            )
            continue
        if skipped.unknown:
            click.echo(
                f"{result.event_id} {skipped.audience}: handed to the mail server at {when} with no answer "
                f"({skipped.kind}: {skipped.subject}); not sent again until someone says whether it arrived"
            )
            continue
        click.echo(
            f"{result.event_id} {skipped.audience}: already sent for this state at {when} "
            f"({skipped.kind}: {skipped.subject}); use --force to send again"
        )
    if result.journal_reason:
        click.echo(
            f"error: the messages went out but the Notifications log could not be written ({result.journal_reason}); "
            "it is kept in the local journal and written with the next successful write (or `tracker sync`)",
            err=True,
        )
        return True
    return bool(not dry_run and result.failed) or unknown


@main.command()
@pass_state
def sync(state: State) -> None:
    """Write edits waiting in the local journal (e.g. the log of emails already sent) to the workbook.

    \b
    Example:
      tracker sync
    """
    store = state.store()
    journal = store.journal
    pending = journal.pending() if journal else []
    if not pending:
        click.echo("nothing pending")
        return
    for batch in pending:
        click.echo(f"pending since {batch.recorded_at}: {len(batch.edits)} edit(s) ({batch.reason})")
    store.commit(lambda _tracker: [])
    total = sum(len(batch.edits) for batch in pending)
    written = len(store.replayed)
    set_aside = sum(len(edits) for edits, _reason in store.set_aside)
    click.echo(f"wrote {written} pending edit(s) to {Path(store.location).name}")
    if total - written - set_aside > 0:
        click.echo(f"{total - written - set_aside} were already in the workbook or no longer apply")
    if set_aside:
        click.echo(f"{set_aside} could no longer be written and were set aside (see below)")


def _sharepoint_settings(state: State) -> Any:
    from tracker.microsoft365.auth import sharepoint_settings

    if state.config.sharepoint is None:
        raise UsageError(
            "this tracker.toml has no [sharepoint] section: the workbook is a local file, no sign-in needed"
        )
    return sharepoint_settings(state.config.sharepoint, state.config.root)


@main.command()
@pass_state
def login(state: State) -> None:
    """Sign in to SharePoint (device code for people; checks the certificate or token otherwise).

    With auth = "device-code" this prints a code to enter at the Microsoft sign-in page; the
    token is cached in the OS keyring (or a file only you can read), so later commands do not ask.

    \b
    Example:
      tracker login
    """
    from tracker.microsoft365.auth import device_code_login

    settings = _sharepoint_settings(state)
    if settings.auth == "device-code":
        who = device_code_login(settings, lambda text: click.echo(text, err=True))
        click.echo(f"signed in as {who}")
        return
    _whoami(state, settings)


@main.command()
@pass_state
def logout(state: State) -> None:
    """Forget the cached device-code sign-in.

    \b
    Example:
      tracker logout
    """
    from tracker.microsoft365.auth import forget_token_cache

    settings = _sharepoint_settings(state)
    if settings.auth != "device-code":
        click.echo(f'nothing cached: auth = "{settings.auth}" keeps no sign-in')
        return
    click.echo(f"signed out (removed the cached sign-in from {forget_token_cache(settings)})")


@main.command()
@pass_state
def whoami(state: State) -> None:
    """Show who tracker signs in as, in which cloud, and whether the workbook is reachable.

    \b
    Example:
      tracker whoami
    """
    if state.config.sharepoint is None:  # nothing to sign in to: say what there is, and that it is fine
        where = state.config.workbook_path
        found = "" if where.exists() else " (it does not exist yet: run `tracker init`)"
        click.echo(f"local workbook {where}{found}; no sign-in needed (you are {state.config.user})")
        return
    _whoami(state, _sharepoint_settings(state))


def _whoami(state: State, settings: Any) -> None:
    from tracker.microsoft365.auth import token_identity, tokens_for
    from tracker.microsoft365.remote import Remote

    tokens = tokens_for(settings)
    claims = token_identity(tokens.sharepoint()["access_token"])
    who = claims.get("upn") or claims.get("preferred_username") or claims.get("app_displayname") or claims.get("appid")
    click.echo(f"cloud:     {settings.cloud.name}")
    click.echo(f"site:      {settings.site_url}")
    click.echo(f"workbook:  {settings.path}")
    click.echo(f"sign-in:   {settings.auth}" + (f" as {who}" if who else ""))
    if "exp" in claims:
        from datetime import UTC

        click.echo(f"expires:   {state.show_time(datetime.fromtimestamp(int(claims['exp']), UTC))}")
    props = Remote(settings, tokens, verbose=state.verbose).properties()
    click.echo(f"reachable: yes ({int(props.get('Length') or 0):,} bytes, version {props.get('ETag', '?')})")


main.add_command(_report)
main.add_command(_publish_cmd)
main.add_command(_review_cmd)
main.add_command(_action_cmd)

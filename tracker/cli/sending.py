"""What the team owes and sends: `tracker notify`, `due`, `roster`, `watch`.

The library is imported inside each command, deliberately: `tracker --help` and a mistyped option answer without
loading openpyxl or the mail and SharePoint clients."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracker.cli import output
from tracker.cli.state import State, pass_state, say_ignored
from tracker.entry import READS_SOME
from tracker.errors import TrackerError, UsageError
from tracker.text import printable as _printable

if TYPE_CHECKING:
    from tracker.store.backends import Store


def _due_table(state: State, items: list[Any], now: Any) -> str:
    """What is due, as `tracker due` shows it: one row each, the soonest first."""
    rows = []
    for item in items:
        minutes = item.minutes(now)
        if minutes is None:
            when = ""
        elif item.state == "unconfirmed":
            when = f"{output.minutes(-minutes)} ago"
        elif item.state == "blocked":
            when = f"for {output.minutes(-minutes)}" if minutes < 0 else "now"
        elif item.state in ("overdue", "breached"):
            when = f"{item.state} by {output.minutes(-minutes)}" if minutes < 0 else item.state
        else:
            when = f"in {output.minutes(minutes)}"
        what = item.kind if item.kind != "update" else "next update"
        if item.kind == "action":  # a review action (tracker.rules.actions.ActionDue): which one
            what = f"action {getattr(item, 'action_id', '')}".strip()
        if item.kind == "task":  # a task past its due time (tracker.rules.tasks.TaskDue): which one
            what = f"task {getattr(item, 'task_id', '')}: {getattr(item, 'task', '')}"
        if item.kind == "eta":  # the restoration ETA last given has passed: a new one is owed
            what, when = "new ETA (the last passed)", f"passed {output.minutes(-minutes)} ago" if minutes else "passed"
        if item.kind == "email":  # handed to the mail server, no answer (tracker.rules.clock.EmailDue)
            what = f"email to {getattr(item, 'audience', '')}: did it arrive?"
        if item.kind == "first notice":  # tracker.rules.clock.FirstNoticeDue: which fields are empty or not valid
            what = f"first notice blocked: {', '.join(getattr(item, 'fields', ()))}"
        at = state.show_time(item.at)
        rows.append([item.event_id or "-", item.severity, what, item.state, when, at, item.responsible])
    if not rows:
        return "nothing due: no open events"
    fills = [  # what fills each field a first notice waits for
        _printable(f"{item.event_id}: the first notice waits for this: {command}")
        for item in items
        for command in getattr(item, "commands", ())
    ]
    return "\n".join([output.table(rows, ["ID", "SEV", "WHAT", "STATE", "WHEN", "AT", "OWED BY"]), *fills])


def _say_sent(sent: list[Any], escalated: list[Any]) -> None:
    """The reminders and escalations sent, and those that could not be (as warnings)."""
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


def _say_ignored(tracker: Any) -> None:
    """The Roster rows, actions and tasks `due` cannot count (a date or time typed as text), each with its cell."""
    from tracker.rules.actions import ignored_rows as ignored_actions
    from tracker.rules.tasks import ignored_rows as ignored_tasks
    from tracker.workbook.roster import ignored_rows

    say_ignored([*ignored_rows(tracker), *ignored_actions(tracker), *ignored_tasks(tracker)])


@click.command()
@click.option("--within", help="Only updates due within this time (e.g. 15m, 2h); late ones always show.")
@click.option("--json", "as_json", is_flag=True, help="Print what is due as JSON (see README, Keeping time).")
@click.option("--remind", is_flag=True, help="Remind whoever owes each update due soon or overdue (once each).")
@click.option("--escalate", is_flag=True, help="Send each escalation step (Escalations sheet) that is due, once.")
@click.option(
    "--heartbeat",
    is_flag=True,
    help="Only check that `tracker watch` runs: exit 1, and tell the operations manager once, when it has gone quiet.",
)
@pass_state
def due(state: State, within: str | None, as_json: bool, remind: bool, escalate: bool, heartbeat: bool) -> None:
    """What the team owes now: each open event's next update, SLAs at risk or breached, the process review.

    An open event whose first notice cannot go (a field it needs, such as
    Impact, is empty or holds what validate refuses) is listed as "first
    notice blocked", with the command that fills the field.

    The exit code says the most urgent thing found, so a monitor can tell them
    apart: 0 nothing late; 4 an update is overdue or a first notice is
    blocked; 5 an email handed to the
    mail server got no answer (until `tracker notify ID --confirm-sent` or
    `--confirm-lost`); 6 an SLA is breached; 1 a reminder or escalation could
    not be sent (the mail server down, nobody with an email), or any other
    error; 7 paperwork is overdue (a review action, the process review).

    It also says when `tracker watch` last ran reminders and escalations, in
    capitals when that is more than three intervals ago. With --heartbeat (for
    a second scheduler) it checks only that: exit 1 when the watch has gone
    quiet, and the operations manager on duty (Roster) is told once.

    \b
    Example:
      tracker due
      tracker due --within 15m --json
      tracker due --remind --escalate
      tracker due --heartbeat
    """
    from tracker.rules.clock import blocked_notices, due_items, unconfirmed_emails
    from tracker.sending.gate import blocked_first_notices
    from tracker.sending.watch_lease import last_heartbeat
    from tracker.times import utcnow

    span = output.span(within, "--within") if within else None
    state.prefetch(*READS_SOME["due"])  # the open events and their latest ETAs, read while the rest loads
    store = state.store(read_only=not (heartbeat or remind or escalate))  # a plain `due` only reads
    if heartbeat:
        from tracker.cli.watch import due_heartbeat

        sys.exit(due_heartbeat(state, store, as_json))
    if remind or escalate:
        state.apply_typed(store)  # what people typed in Excel acts before anyone is reminded of it
    tracker = state.read_some(*READS_SOME["due"], store=store)
    _say_ignored(tracker)
    now = utcnow()
    items = due_items(tracker, state.config, now, span)
    sent, escalated, down = _send_owed(state, store, now, remind, escalate)
    if remind or escalate:
        tracker = store.read()  # as the sends left it: a message just handed over without an answer is listed
    from tracker.sending.sendlog import unconfirmed

    unknown = unconfirmed(tracker, store.journal)
    blocked = blocked_notices(tracker, state.config, now, blocked_first_notices(tracker, store.journal))
    items = unconfirmed_emails(tracker, unknown) + blocked + items
    code = due_exit_code(items, [*sent, *escalated], down)
    _show_due(state, last_heartbeat(store, tracker), now, items, (sent, escalated), unknown, code, as_json)
    if code:
        sys.exit(code)


def _show_due(
    state: State,
    beat: Any,
    now: Any,
    items: list[Any],
    sends: tuple[list[Any], list[Any]],
    unknown: list[Any],
    code: int,
    as_json: bool,
) -> None:
    """What `tracker due` prints: the table (or JSON), when the watch last ran, what was sent."""
    sent, escalated = sends
    if as_json:
        payload = {
            "now": output.iso_text(now),
            "items": [i.to_json(now) for i in items],
            "reminders": [r.to_json() for r in sent],
            "escalations": [e.to_json() for e in escalated],
            "exit_code": code,
        }
        payload |= {"watch": beat.to_json(now)} if beat else {}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    click.echo(_due_table(state, items, now))
    if beat is not None:  # a watch ran for this workbook: when, loudly if it has stopped
        click.echo(_printable(beat.line(now, state.show_time)))
    _say_sent(sent, escalated)
    say_unconfirmed(state, unknown)


DUE_EXIT_CODES = (  # (exit code, what `due` found), most urgent first; README, "What tracker refuses, and why"
    (4, "update overdue or first notice blocked"),
    (5, "email unanswered"),
    (6, "SLA breached"),
    (1, "could not send"),
    (7, "paperwork overdue"),
)


def due_exit_code(items: list[Any], sends: list[Any], down: bool = False) -> int:
    """`tracker due`'s exit code: the most urgent of what it found (DUE_EXIT_CODES), 0 when nothing is late. What
    is late comes first: a reminder that could not go is why a monitor must say the update is overdue."""
    late = {item.kind for item in items if item.late}
    found = [
        bool(late & {"update", "first notice"}),
        "email" in late,
        bool(late & {"first response", "restoration", "reporting deadline"}),
        down or any(send.problem for send in sends),
        bool(late & {"action", "process review"}),
    ]
    return next((code for (code, _what), hit in zip(DUE_EXIT_CODES, found, strict=True) if hit), 0)


def _send_owed(state: State, store: Store, now: Any, remind: bool, escalate: bool) -> tuple[list[Any], list[Any], bool]:
    """due --remind / --escalate: the reminders and escalation steps sent (or not, each with its problem), and
    whether the mail server could not be reached, said on stderr: what is owed is still listed (and as JSON)."""
    from tracker.errors import MailError

    sent: list[Any] = []
    escalated: list[Any] = []
    try:
        if remind:
            from tracker.sending.handover import send_handovers
            from tracker.sending.reminders import send_reminders

            sent = send_handovers(store, state.config, now)  # a shift change first: who is told next is new
            sent += send_reminders(store, state.config, now)
        if escalate:
            from tracker.sending.escalations import send_escalations

            escalated = send_escalations(store, state.config, now)
    except MailError as exc:
        click.echo(_printable(f"error: reminders and escalations not sent: {exc}"), err=True)
        return sent, escalated, True
    return sent, escalated, False


@click.command()
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
            "at": output.iso_text(at),
            "on_duty": [s.to_json() for s in now_on],
            "next": {role: [s.to_json() for s in found] for role, found in coming.items()},
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    click.echo(f"on duty at {state.show_time(at)}:")
    if now_on:
        rows = [[s.role, s.person, s.email, s.phone, state.show_time(s.end)] for s in now_on]
        click.echo(output.indent(output.table(rows, ["ROLE", "PERSON", "EMAIL", "PHONE", "UNTIL"])))
    else:
        click.echo("  nobody (the Roster sheet has no shift now)")
    for role, found in coming.items():
        for shift in found:
            click.echo(_printable(f"next {role}: {shift.person} from {state.show_time(shift.start)}"))


@click.command("watch")
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

    With an [intake] source, each tick first takes in new mail to the team
    mailbox (as `tracker intake`).

    One watch per workbook. Logs one line per action; a workbook open in Excel or a network
    fault is said and tried again next tick. Ctrl-C or SIGTERM stops it. Exit code 130 after
    Ctrl-C, 1 when the last tick met an error or could not send a message, 0 otherwise.

    \b
    Example:
      tracker watch --every 1m --notify --publish
      TRACKER_NOW=2026-11-23T08:00Z tracker watch --until "2026-11-23 20:00"   # rehearse a day
    """
    from datetime import timedelta

    from tracker.cli.watch import watch

    span = output.span(every, "--every")
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
    if summary.interrupted:  # as every command stopped by Ctrl-C (README, "What tracker refuses, and why")
        sys.exit(130)
    if not summary.healthy:  # a service manager or cron sees that the last tick left something undone
        sys.exit(1)


@click.command()
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
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="With --open: also say which events had nothing new (quiet by default). (`tracker --verbose notify` logs "
    "each SharePoint and Graph request instead.)",
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
    verbose: bool,
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
      tracker notify --open --verbose
      tracker notify EVT-2026-0001 --confirm-sent

    With --open (the scheduled job) an event with nothing new prints nothing, so a
    cron log holds only what was sent and what needs attention; --verbose adds one
    line per event with nothing new.

    A message handed to the mail server that never answered may or may not have
    arrived: it is not sent again by itself, and notify, watch and due exit 1 over
    it until --confirm-sent or --confirm-lost (or --force sends it anew).
    """
    from tracker.sending.notify import events_to_notify
    from tracker.sending.sendlog import unconfirmed

    if bool(event_id) == all_open:
        raise UsageError("give an event ID, or --open for every open event (not both)")
    store = state.store()
    if confirm:
        return _confirm(state, store, str(event_id), confirm, audiences, all_open or dry_run or force or no_change)
    state.apply_typed(store, unless=dry_run)  # a row typed in Excel moves the event before its emails are built
    first = None if event_id else store.read()
    ids = events_to_notify(first, store.journal) if first is not None else [str(event_id)]
    if not ids and (verbose or not all_open):
        click.echo("no open events")
    options = {"audiences": list(audiences) or None, "dry_run": dry_run, "force": force, "no_change": no_change}
    failed, sent_any, reported, found = _notify_each(state, store, ids, all_open, options, all_open and not verbose)
    if first is not None:  # the other events' messages of unknown acceptance: a scheduled job must not stay green
        others = {u.message_id: u for u in [*unconfirmed(first, store.journal), *found]}
        failed |= say_unconfirmed(state, [u for u in others.values() if u.event_id.casefold() not in reported])
    if sent_any and state.config.publish.after_notify:
        _republish(state, store)
    if failed:
        sys.exit(1)


def _notify_each(
    state: State, store: Store, ids: list[str], all_open: bool, options: dict[str, Any], quiet: bool
) -> tuple[bool, bool, set[str], list[Any]]:
    """Notify each event; with --open an event that fails is said and the others still go out (`quiet`: the
    audiences already told are not listed). Returns whether any failed, whether anything was sent, the events reported, and the messages of unknown acceptance the runs
    found of other events."""
    from tracker.errors import NotifyInterrupted
    from tracker.sending.notify import notify as run_notify

    failed = sent_any = False
    reported: set[str] = set()
    found: list[Any] = []
    for key in ids:
        try:
            result = run_notify(store, state.config, key, **options)
        except TrackerError as exc:
            if not all_open or isinstance(exc, NotifyInterrupted):
                raise
            click.echo(f"error: {key}: {exc}", err=True)  # the other open events still go out
            failed = True
            continue
        failed |= _report_notify(state, result, options["dry_run"], quiet, all_open)
        reported.add(result.event_id.casefold())
        found += result.found_elsewhere
        sent_any = sent_any or bool(result.sent and not options["dry_run"])
    return failed, sent_any, reported, found


def say_unconfirmed(state: State, items: list[Any]) -> bool:
    """One error line for each message of unknown acceptance nobody has confirmed (`tracker.sending.sendlog.Unconfirmed`);
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


def _confirm(
    state: State, store: Store, event_id: str, confirm: str, audiences: tuple[str, ...], other_options: bool
) -> None:
    """--confirm-sent / --confirm-lost: someone's word on the event's messages of unknown acceptance."""
    from tracker.sending.sendlog import confirm_edits, unconfirmed
    from tracker.times import utcnow

    if other_options:
        raise UsageError(f"--confirm-{confirm} takes an event ID and --audience only")
    arrived = confirm == "sent"

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


def _report_notify(state: State, result: Any, dry_run: bool, quiet: bool = False, summary: bool = False) -> bool:
    """Print what notify did; True when something needs attention (exit 1). `quiet`: say nothing of the audiences
    already told; `summary`: one line for them all (--open --verbose), not one each."""
    rows = [[m.audience, m.kind, str(len(m.recipients)), m.subject] for m in result.messages]
    if dry_run:
        click.echo(f"{result.event_id}: {len(result.messages)} message(s) rendered, nothing sent (dry run)")
        if rows:
            click.echo(output.table(rows, ["AUDIENCE", "KIND", "RCPTS", "SUBJECT"]))
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
        click.echo(output.table(outcome, ["AUDIENCE", "KIND", "RCPTS", "SUBJECT", "RESULT"]))
        for message in result.messages:
            for address, reason in message.refused.items():
                click.echo(f"warning: {message.audience}: {address} refused: {reason}", err=True)
            if message.error and not message.unanswered:  # an unanswered one is said below, with what to do
                click.echo(f"error: {message.audience}: not sent: {message.error}", err=True)
        if result.next_update is not None and result.sent:
            click.echo(f"next update due {state.show_time(result.next_update)}")
        if result.teams:
            click.echo(result.teams)
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
        if not summary:
            click.echo(
                f"{result.event_id} {skipped.audience}: already sent for this state at {when} "
                f"({skipped.kind}: {skipped.subject}); nothing new to send (--force sends it again)"
            )
    if summary and not quiet:
        _say_told(state, result)
    if result.journal_reason:
        click.echo(
            f"error: the messages went out but the Notifications log could not be written ({result.journal_reason}); "
            "it is kept in the local journal and written with the next successful write (or `tracker sync`)",
            err=True,
        )
        return True
    return bool(not dry_run and result.failed) or unknown


def _say_told(state: State, result: Any) -> None:
    """notify --open --verbose: one line for the audiences of an event that had nothing new."""
    told = [s for s in result.skipped if not (s.claimed_by or s.unknown)]
    if told:
        last = max((s.sent_at for s in told if s.sent_at), default=None)
        since = f" (last told {state.show_time(last)})" if last else ""
        click.echo(f"{result.event_id}: nothing new for {', '.join(s.audience for s in told)}{since}")

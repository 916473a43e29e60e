"""`tracker watch`: the loop for a terminal or a service. Each tick takes in the team mailbox's new messages (with
an [intake] source), sends what is due (optionally the outage emails of `notify --open`, then the shift handover, reminders and
escalations), logs one line per action, and survives a workbook briefly
open in Excel or a network fault: the next tick tries again. One watch per workbook; Ctrl-C or SIGTERM stops it
between ticks."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker import files
from tracker.config import Config
from tracker.errors import NotifyInterrupted, TrackerError, UsageError
from tracker.store.backends import Store
from tracker.text import printable
from tracker.times import CLOCK, utcnow

if TYPE_CHECKING:
    from tracker.cli.state import State

PUBLISH_REFRESH = timedelta(minutes=15)  # the status page's durations age: republished at least this often
SAY_AGAIN = timedelta(hours=1)  # a problem that lasts is said again this often
BLOCKED = ": first notice blocked: "  # said once while it lasts (due and the one reminder keep telling)


class _Stop(Exception):
    """SIGTERM while waiting for the next tick."""


@dataclass
class WatchSummary:
    """What a watch did until it stopped."""

    ticks: int = 0
    actions: int = 0
    errors: int = 0
    failed: int = 0  # messages that could not be sent (reminders, escalations, outage emails)
    last_tick_ok: bool = True  # the latest tick sent everything it had to and met no error
    interrupted: bool = False  # stopped by Ctrl-C (or a send stopped part way): the command exits 130
    said: dict[str, datetime] = field(default_factory=dict)  # a problem line -> when it was last said

    def repeat(self, line: str, now: datetime) -> bool:
        """Whether to say a problem line again: once, then at most every SAY_AGAIN while it lasts (a reminder
        nobody can receive is not news every minute)."""
        last = self.said.get(line)
        if last is not None and (now - last < SAY_AGAIN or BLOCKED in line):
            return False
        self.said[line] = now
        return True

    @property
    def healthy(self) -> bool:
        """What the exit code says: the watch ended with nothing left failing (an earlier tick's fault that a later
        tick mended does not count; a send that never went out does)."""
        return self.last_tick_ok


def watch(
    store: Store,
    config: Config,
    *,
    every: timedelta,
    notify: bool,
    escalate: bool,
    until: datetime | None,
    ticks: int | None,
    say: Callable[[str], None],
    show: Callable[[Any], str],
    publish: bool = False,
) -> WatchSummary:
    """Run ticks every `every` until `until`, `ticks` ticks, Ctrl-C or SIGTERM (on SharePoint, as the active watch
    of the lease; a standby only looks at it). With `publish`, each tick also republishes the status page when the
    workbook changed since the last publish, and at least every PUBLISH_REFRESH ("next update in" ages)."""
    lock = _only_watch(store)
    stop = {"now": False, "sleeping": False}

    def on_term(_signum: int, _frame: Any) -> None:
        stop["now"] = True
        if stop["sleeping"]:  # between ticks: stop at once; during a tick: when it ends (a send is never cut)
            raise _Stop()

    previous = signal.signal(signal.SIGTERM, on_term)
    summary = WatchSummary()
    page = _Page()
    lease = _lease(store, every)
    try:
        stops = f" until {show(until)}" if until is not None else ""
        say(f"{show(utcnow())} watching every {int(every.total_seconds() // 60)} min{stops} (Ctrl-C stops)")
        _ignored_rows_warnings(store, say)
        while not stop["now"]:
            now = utcnow()
            if until is not None and now >= until:
                break
            if active := _take_turn(store, lease, now, say, show, summary):
                _tick(store, config, now, notify, escalate, say, show, summary, page if publish else None, lease)
                _beat(store, lease, now, every, say, show, summary)
            summary.ticks += 1
            if stop["now"] or (ticks is not None and summary.ticks >= ticks):  # enough, or SIGTERM during the tick
                break
            stop["sleeping"] = True
            try:
                if not stop["now"]:  # a SIGTERM just before `sleeping` was set would otherwise wait a whole interval
                    CLOCK.sleep(_pause(every, active, now))
            finally:
                stop["sleeping"] = False
    except KeyboardInterrupt:
        summary.interrupted = True
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        lock.release()
    failed = f", {summary.failed} not sent" if summary.failed else ""
    errors = f", {summary.errors} error(s)" if summary.errors else ""
    say(f"{show(utcnow())} watch stopped after {summary.ticks} tick(s), {summary.actions} action(s){failed}{errors}")
    return summary


def _pause(every: timedelta, active: bool, began: datetime) -> float:
    """Seconds until the next tick: ticks start `every` apart (a standby looks twice as often), however long one took,
    so the active watch's heartbeat keeps its rhythm and a standby does not take over from a slow tick."""
    return max(0.0, (every / (1 if active else 2) - (utcnow() - began)).total_seconds())


def _lease(store: Store, every: timedelta) -> Any:
    """The lease of a SharePoint workbook's Watch sheet (several machines may watch it); None for a local one."""
    from tracker.sending.watch_lease import Lease

    return Lease(store, every) if store.shared else None


def _take_turn(
    store: Store, lease: Any, now: datetime, say: Callable[[str], None], show: Callable[[Any], str], summary: Any
) -> bool:
    """Whether this watch is the active one this tick (a local workbook's always is); a change is said once."""
    if lease is None:
        return True
    try:
        active, line = lease.tick(now)
    except (TrackerError, OSError) as exc:  # the lease unknown: nothing is sent; the next tick looks again
        summary.errors += 1
        summary.last_tick_ok = False
        problem = f"watch: error: the lease could not be checked: {_one_line(str(exc))} (the next tick tries again)"
        if summary.repeat(problem, now):
            say(f"{show(now)} {problem}")
        return False
    if line:
        say(f"{show(now)} {line}")
    return bool(active)


def _beat(
    store: Store,
    lease: Any,
    now: datetime,
    every: timedelta,
    say: Callable[[str], None],
    show: Callable[[Any], str],
    summary: Any,
) -> None:
    """The local heartbeat file (a SharePoint workbook's is the lease's row, renewed as the tick began)."""
    from tracker.sending.watch_lease import write_local

    try:
        write_local(store, now, every)
    except OSError as exc:
        if lease is None and summary.repeat(f"heartbeat: {exc}", now):
            say(f"{show(now)} heartbeat: error: {_one_line(str(exc))}; `tracker due` cannot tell when this ran")


def _only_watch(store: Store) -> Any:
    """The lock that makes this the one `tracker watch` of the workbook on this machine (held until it stops)."""
    from filelock import Timeout

    lock = files.file_lock(Path(str(store.lock_path("notify")) + ".watch"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UsageError("another `tracker watch` is running for this workbook; one is enough") from None
    return lock


class _Page:
    """When the status page was last published, and from which workbook content."""

    def __init__(self) -> None:
        self.fingerprint = ""
        self.at: datetime | None = None

    def publish(self, store: Store, config: Config, now: datetime) -> list[tuple[str, bool]]:
        import hashlib

        from tracker.window.publish import publish_status

        tracker = store.read()
        content = tracker.content
        data = content if isinstance(content, bytes) else Path(content).read_bytes() if content else b""
        fingerprint = hashlib.sha256(data).hexdigest()
        if fingerprint == self.fingerprint and self.at is not None and now - self.at < PUBLISH_REFRESH:
            return []
        lines = []
        for audience in config.publish.audiences:  # the main page, and [publish] also_for's beside it
            result = publish_status(config, tracker, now, audience=audience)
            lines.append(
                (f"publish: status page for {result.audience} to {result.where} ({result.open_events} open)", True)
            )
        self.fingerprint, self.at = fingerprint, now
        return lines


def _ignored_rows_warnings(store: Store, say: Callable[[str], None]) -> None:
    """Roster rows and actions that count for nothing (a date typed as text), said once as the watch starts."""
    from tracker.rules import actions, tasks
    from tracker.workbook import roster

    try:
        tracker = store.read()
        lines = roster.ignored_rows(tracker) + actions.ignored_rows(tracker) + tasks.ignored_rows(tracker)
    except (TrackerError, OSError):
        return  # the first tick says what is wrong with the workbook
    for line in lines:
        say(f"warning: {line}")


def _tick(
    store: Store,
    config: Config,
    now: datetime,
    notify: bool,
    escalate: bool,
    say: Callable[[str], None],
    show: Callable[[Any], str],
    summary: WatchSummary,
    page: _Page | None = None,
    lease: Any = None,
) -> None:
    stamp = show(now)
    summary.last_tick_ok = True
    steps: list[tuple[str, Callable[[], list[tuple[str, bool]]]]] = [("apply", lambda: _apply_typed(store))]
    if config.intake.folder is not None or config.intake.mailbox:  # first: the duty manager hears of it this tick
        steps.append(("intake", lambda: _intake(store, config, now)))
    if notify:
        steps.append(("notify", lambda: _notify_open(store, config)))
    steps.append(("handover", lambda: _handover(store, config, now)))  # a shift change first: who is told is new
    steps.append(("remind", lambda: _remind(store, config, now)))
    if escalate:
        steps.append(("escalate", lambda: _escalate(store, config, now)))
        steps.append(("page", lambda: _page_standby(store, config, now)))
    if page is not None:
        steps.append(("publish", lambda: page.publish(store, config, now)))
    steps.append(("check", lambda: _unconfirmed(store, show)))
    for name, step in steps:
        if lease is not None:  # a long tick keeps the heartbeat going
            lease.keep_up()
        try:
            lines = step()
        except NotifyInterrupted:  # Ctrl-C while sending: what went out is recorded; the watch stops
            raise KeyboardInterrupt from None
        except (TrackerError, OSError) as exc:  # open in Excel, a network or share fault: tried again next tick
            summary.errors += 1
            summary.last_tick_ok = False
            problem = f"{name}: error: {_one_line(str(exc))} (the next tick tries again)"
            if summary.repeat(problem, now):
                say(f"{stamp} {problem}")
            continue
        for line, ok in lines:
            line = _one_line(line)
            summary.actions += 1
            if not ok:
                summary.failed += 1
                summary.last_tick_ok = False
                if not summary.repeat(line, now):
                    continue
            say(f"{stamp} {line}")


def _one_line(text: str) -> str:
    """A log line stays one line (a message that lists several cells comes with line breaks)."""
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def _apply_typed(store: Store) -> list[tuple[str, bool]]:
    """The rows people typed in Excel, applied as the commands would; a row left as it is is said once."""
    from tracker.cli.state import apply_typed, typed_of

    typed = typed_of(store)
    if typed is None:
        return []
    apply_typed(store)
    lines = [(f"applied the row typed in {done.cell}: {done.what}", True) for done in typed.applied]
    lines += [(f"typed row {refused.cell} left as it is: {refused.why}", False) for refused in typed.refused]
    lines += [(f"typed row {line}", True) for line in typed.gave_way]
    typed.applied, typed.refused, typed.gave_way = [], [], []
    return lines


def _notify_open(store: Store, config: Config) -> list[tuple[str, bool]]:
    from tracker.sending.gate import blocked_first_notices
    from tracker.sending.notify import events_to_notify, notify

    out: list[tuple[str, bool]] = []
    tracker = store.read()
    blocked = {b.event_id: b for b in blocked_first_notices(tracker, store.journal)}
    for key in events_to_notify(tracker, store.journal):
        if key in blocked:  # the gate would refuse it: said once, with the command that fills the field
            notice = blocked[key]
            fill = "; ".join(notice.commands)
            out.append((f"notify {key}{BLOCKED}{', '.join(notice.fields)} empty; fill it: {fill}", False))
            continue
        try:
            result = notify(store, config, key)
        except NotifyInterrupted:
            raise
        except TrackerError as exc:
            out.append((f"notify {key}: error: {exc}", False))
            continue
        for message in result.messages:
            if message.sent:
                state = "sent"
            elif message.unanswered:
                state = f"acceptance unknown ({message.error})"
            else:
                state = f"NOT sent ({message.error})"
            out.append((f"notify {key} {message.audience} ({message.kind}): {state}", message.sent))
    return out


def _unconfirmed(store: Store, show: Callable[[Any], str]) -> list[tuple[str, bool]]:
    """Emails handed to the mail server that never answered, nobody has confirmed: a failure each tick until someone
    does (as the workbook was last read this tick: no extra download)."""
    from tracker.sending.sendlog import unconfirmed

    tracker = store.last_read or store.read()
    return [
        (
            f"check {u.event_id} {u.audience}: {u.kind} {u.subject!r} was handed to the mail server at "
            f"{show(u.at) if u.at else 'earlier'} and no answer came; {u.advice()}",
            False,
        )
        for u in unconfirmed(tracker, store.journal)
    ]


def _intake(store: Store, config: Config, now: datetime) -> list[tuple[str, bool]]:
    from tracker.sending.intake_mail import take_in_mail

    return [(f"intake {taken.line()}", not taken.owed) for taken in take_in_mail(store, config, now)]


def _handover(store: Store, config: Config, now: datetime) -> list[tuple[str, bool]]:
    from tracker.sending.handover import send_handovers

    return [_line("handover", r) for r in send_handovers(store, config, now)]


def _remind(store: Store, config: Config, now: datetime) -> list[tuple[str, bool]]:
    from tracker.sending.reminders import send_reminders

    return [_line("remind", r) for r in send_reminders(store, config, now)]


def _escalate(store: Store, config: Config, now: datetime) -> list[tuple[str, bool]]:
    from tracker.sending.escalations import send_escalations

    return [_line("escalate", r) for r in send_escalations(store, config, now)]


def _page_standby(store: Store, config: Config, now: datetime) -> list[tuple[str, bool]]:
    from tracker.sending.paging import send_pages

    return [_line("page", p) for p in send_pages(store, config, now)]


def _line(verb: str, item: Any) -> tuple[str, bool]:
    """The log line of a reminder or escalation, and whether all is well (a note about messages that went out,
    such as a log waiting in the journal, is)."""
    about = f"{verb} {item.event_id}".rstrip()  # a handover is about no one event
    if item.problem:
        return f"{about} {item.person}: {item.problem}", not (item.event_id or item.person)
    return f"{about}: {item.person} <{item.address}>: {item.subject}", True


def due_heartbeat(state: State, store: Store, as_json: bool) -> int:
    """`tracker due --heartbeat`: when the watch last ran; 1 when it has gone quiet (or never ran), the operations manager
    told once."""
    import json

    import click

    from tracker.cli import output
    from tracker.sending.watch_lease import last_heartbeat, tell_quiet

    now = utcnow()
    beat = last_heartbeat(store, store.read())
    quiet = beat is None or beat.quiet(now)
    told = tell_quiet(store, state.config, now, beat) if quiet else ""
    if as_json:
        payload = {"now": output.iso_text(now), "watch": beat.to_json(now) if beat else None, "told": told}
        click.echo(json.dumps(payload | {"exit_code": int(quiet)}, indent=2, ensure_ascii=False))
        return int(quiet)
    line = beat.line(now, state.show_time) if beat else "WARNING: no `tracker watch` has run for this workbook"
    click.echo(printable(line), err=quiet)
    if told:
        click.echo(printable(told), err=True)
    return int(quiet)

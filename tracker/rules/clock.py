"""The team's clock: SLA timers, what is due, and the reminders that keep the cadence.

Every time here comes from `tracker.times.utcnow()`, so `TRACKER_NOW` rehearses any moment.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tracker.config import Config
from tracker.owed import Due
from tracker.rules.actions import due_actions
from tracker.rules.categories import category_row
from tracker.rules.tasks import due_tasks
from tracker.times import iso
from tracker.workbook.duty import holder, leads_now
from tracker.workbook.policy import (
    FINISHED,
    OPEN_STATUSES,
    is_open,
    reported_at,
    reported_or_detected,
    restored,
    updates_in_order,
    whole_minutes,
)
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import duty_manager

# (name, started by, stopped by, Severities target column, words when stopped)
TIMERS = (
    ("first response", "reported_at", "acknowledged_at", "first_response_minutes", "acknowledged"),
    ("restoration", "detected_at", "resolved_at", "restoration_minutes", "restored"),
)


SPANS = {name: (start, stop) for name, start, stop, _target, _verb in TIMERS}


@dataclass(frozen=True)
class Timer:
    """One SLA timer of one event."""

    name: str
    target: timedelta
    started: datetime
    stopped: datetime | None
    elapsed: timedelta
    state: str  # met, running, at risk, breached
    verb: str

    @property
    def left(self) -> timedelta:
        """Time left before the target (negative once breached)."""
        return self.target - self.elapsed

    def words(self) -> str:
        """E.g. `restored in 3 h 12 min, target 4 h: met` or `running 1 h 5 min of 4 h: at risk`."""
        if self.stopped is not None:
            return f"{self.verb} in {duration(self.elapsed)}, target {duration(self.target)}: {self.state}"
        return f"{duration(self.elapsed)} of {duration(self.target)}: {self.state}"

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (see README, "Keeping time")."""
        return {
            "name": self.name,
            "state": self.state,
            "target_minutes": int(self.target.total_seconds() // 60),
            "elapsed_minutes": int(self.elapsed.total_seconds() // 60),
            "started": iso(self.started),
            "stopped": iso(self.stopped) if self.stopped else None,
        }


def duration(span: timedelta) -> str:
    """A span as people say it: `45 min`, `3 h 12 min`, `2 d 4 h`."""
    minutes = int(abs(span.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def timer_span(event: Any, name: str) -> tuple[datetime, datetime | None] | None:
    """When SLA timer `name` of an event (a Row, or a dict of its typed values) started, and stopped (None while it
    runs); None when it has not started (`timer_spans` of one event)."""
    starts, stops = timer_spans(lambda field: (event.get(field),), name)
    return (starts[0], stops[0]) if isinstance(starts[0], datetime) else None


def timer_spans(column: Callable[[str], Sequence[Any]], name: str) -> tuple[list[Any], list[datetime | None]]:
    """When SLA timer `name` of each of many events started and stopped, a column at a time (`column(field)`: the
    field's typed values, one per event; a report times 10,000 events): the starts (not a datetime: the timer has
    not started) and the stops (None while it runs). The first response starts when the event was reported, else
    (no time there: empty, or text validate names) detected, and stops at the resolution if nobody acknowledged.
    A Resolved or Closed event's timer that nothing stopped (its Resolved cell empty, or text validate names) has
    no start: it runs no longer, and when it stopped is unknown (the report leaves such an event out)."""
    start_field, stop_field = SPANS[name]
    if start_field == "reported_at":
        starts = list(map(reported_or_detected, column("reported_at"), column("detected_at")))
    else:
        starts = list(column(start_field))
    stops = [s if isinstance(s, datetime) else None for s in column(stop_field)]
    finished = [status in FINISHED for status in column("status")]
    if name == "first response":
        stops = [
            r if s is None and done and isinstance(r, datetime) else s
            for s, done, r in zip(stops, finished, column("resolved_at"), strict=True)
        ]
    if any(map(operator.and_, finished, map(operator.not_, stops))):
        starts = [
            None if done and stop is None else start for start, stop, done in zip(starts, stops, finished, strict=True)
        ]
    return starts, stops


def target_minutes(severity: Row | None, field: str, sheet: str = "Severities") -> int | None:
    """A severity's SLA target in minutes (or a category's reporting deadline: `sheet` Categories), or None when it
    sets none or one validate refuses (policy.whole_minutes): such a target makes no timer rather than a crash."""
    return whole_minutes(severity, sheet, field)


def timer_state(elapsed: timedelta, target: timedelta, stopped: bool, at_risk: float = 0.75) -> str:
    """met or breached once stopped; running, at risk (past `at_risk` of the target) or breached while it runs."""
    return timer_states((elapsed,), (target,), (stopped,), at_risk)[0]


def timer_states(
    elapsed: Sequence[timedelta], targets: Sequence[timedelta], stopped: Sequence[bool], at_risk: float = 0.75
) -> list[str]:
    """`timer_state` of many timers at once, a column at a time (a report decides 20,000)."""
    # stopped: met or breached; running: breached past the target, else at risk past `at_risk` of it, else running
    return [
        ("met" if e <= t else "breached")
        if s
        else "breached"
        if e > t
        else "at risk"
        if e >= t * at_risk
        else "running"
        for e, t, s in zip(elapsed, targets, stopped, strict=True)
    ]


def timers(event: Row, severity: Row | None, now: datetime, at_risk: float = 0.75) -> list[Timer]:
    """The event's SLA timers its severity sets a target for (first response, restoration), once started
    (`timer_spans`)."""
    out = []
    for name, _start, _stop, target_field, verb in TIMERS:
        minutes = target_minutes(severity, target_field)
        span = timer_span(event, name)
        if minutes is None or span is None:
            continue
        target = timedelta(minutes=minutes)
        started, stopped = span
        elapsed = max((stopped or now) - started, timedelta(0))
        state = timer_state(elapsed, target, stopped is not None, at_risk)
        if name == "first response" and stopped is not None and not isinstance(event["acknowledged_at"], datetime):
            verb = "not acknowledged; resolved"  # the resolution stopped it: nobody acknowledged the event
        out.append(Timer(name, target, started, stopped, elapsed, state, verb))
    return out


@dataclass(frozen=True)
class EmailDue(Due):
    """An email handed to the mail server that never answered (kind "email", state "unconfirmed"): someone must
    find out whether it arrived (`tracker notify ID --confirm-sent` or `--confirm-lost`). `at`: when it was handed
    over; `responsible`: who sent it."""

    audience: str = ""
    subject: str = ""

    def to_json(self, now: datetime) -> dict[str, Any]:
        """Due's JSON plus `audience` and `subject` (see README, Keeping time)."""
        return super().to_json(now) | {"audience": self.audience, "subject": self.subject}


def unconfirmed_emails(tracker: Tracker, items: list[Any]) -> list[EmailDue]:
    """`tracker.sending.sendlog.unconfirmed` as due items."""
    out = []
    for item in items:
        about = tracker.about(item.event_id)
        out.append(
            EmailDue(
                item.event_id,
                "email",
                "unconfirmed",
                item.at,
                about["severity"],
                about["title"],
                item.by,
                item.audience,
                item.subject,
            )
        )
    return out


@dataclass(frozen=True)
class FirstNoticeDue(Due):
    """An open event whose first notice cannot go (kind "first notice", state "blocked"): `fields` are the empty
    ones it needs, `commands` the command that fills each. `at`: when the event was reported (else detected);
    `responsible`: its event manager and communication lead."""

    fields: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()

    def to_json(self, now: datetime) -> dict[str, Any]:
        """Due's JSON plus `fields` and `commands` (see README, Keeping time)."""
        return super().to_json(now) | {"fields": list(self.fields), "commands": list(self.commands)}


def blocked_notices(tracker: Tracker, config: Config, now: datetime, blocked: list[Any]) -> list[FirstNoticeDue]:
    """`tracker.sending.gate.blocked_first_notices` as due items, owed by the event manager and communication
    lead (the duty event manager when neither is named)."""
    out = []
    for item in blocked:
        event = item.event
        people = ", ".join(leads_now(tracker, config.display.tz, event, now))  # as the Roster has them now
        if not people:
            shift = duty_manager(tracker, config.display.tz, now)
            people = shift.person if shift is not None else ""
        when = reported_at(event)
        at = when if isinstance(when, datetime) else None
        severity, title = str(event["severity"] or ""), str(event["title"] or "")
        out.append(
            FirstNoticeDue(
                item.event_id, "first notice", "blocked", at, severity, title, people, item.fields, item.commands
            )
        )
    return out


def responsible(event: Row) -> str:
    """Who owes the next update, as the event's cells name them: the communication lead, else the event manager."""
    return str(event["communication_lead"] or event["event_manager"] or "")


def responsible_now(tracker: Tracker, config: Config, event: Row, at: datetime) -> str:
    """Who owes the next update at `at`: the communication lead holding the role then, else the event manager
    (roles that follow the Roster are whoever is on duty in them at `at`, see `tracker.workbook.duty`)."""
    zone = config.display.tz
    return holder(tracker, zone, event, "communication lead", at) or holder(tracker, zone, event, "event manager", at)


LATE = timedelta(minutes=1)
"""An update is overdue a whole minute after its due time: at the due minute itself it is due now ("overdue by
0 min" was no news to anyone). `due`, `list`, the status page, the reminders and escalations all say so."""


def is_late(due: datetime, now: datetime) -> bool:
    """Whether an update due at `due` is overdue at `now` (LATE)."""
    return now - due >= LATE


ETA_PASSED = "passed, new ETA not yet given"  # how every view marks an estimate the clock has overtaken


def current_eta(updates: list[Any]) -> Any:
    """The last ETA the event's updates gave (rows or dicts with "eta", oldest first), or None."""
    return next((u["eta"] for u in reversed(updates) if u["eta"]), None)


def eta_passed(eta: Any, now: datetime, event: Row | dict[str, Any]) -> bool:
    """Whether the restoration ETA last given has passed with the event still open and no new one given: the
    emails, the status page, `list`, `show` and `due` mark it (ETA_PASSED), and `due --remind` asks for one."""
    return isinstance(eta, datetime) and is_late(eta, now) and is_open(event["status"]) and not restored(event)


def open_events(tracker: Tracker) -> list[Row]:
    """The Events rows whose status is an open one, in sheet order, typed alone (the rest of the sheet is not)."""
    return tracker.rows_where("Events", "status", {s.casefold() for s in OPEN_STATUSES})


def latest_etas(tracker: Tracker, now: datetime) -> dict[str, datetime]:
    """The last ETA given for each open event (casefolded ID), from its Updates rows in time order."""
    keys = {str(e["id"]).strip().casefold() for e in open_events(tracker) if e["id"] and is_open(e["status"])}
    given = updates_in_order(tracker, keys)
    return {key: eta for key, rows in given.items() if isinstance(eta := current_eta(rows), datetime)}


def lead_time(severity: Row | None, config: Config) -> timedelta:
    """How long before an update is due its reminder goes: the severity's Remind Before, else [clock] (also when
    the cell holds what validate refuses, such as a negative number: a reminder still goes)."""
    minutes = whole_minutes(severity, "Severities", "remind_before_minutes")
    return timedelta(minutes=config.clock.remind_before if minutes is None else minutes)


def due_items(tracker: Tracker, config: Config, now: datetime, within: timedelta | None = None) -> list[Due]:
    """Everything owed, soonest first: each open event's next update (with `within`, only those due by then, the
    late ones always), each SLA at risk or breached, the process review when its interval has passed, and each
    review action overdue or due today (kind "action", see `tracker.rules.actions.due_actions`)."""
    out: list[Due] = []
    severities, zone = tracker.sheet("Severities"), config.display.tz
    duty: list[str] = []  # the duty event manager now, looked up once when an item names nobody

    def owed_by(person: str) -> str:
        if person:
            return person
        if not duty:
            shift = duty_manager(tracker, zone, now)
            duty.append(shift.person if shift is not None else "")
        return duty[0]

    etas = latest_etas(tracker, now)
    for event in open_events(tracker):
        if not event["id"] or not is_open(event["status"]):
            continue
        severity = severities.find(str(event["severity"] or ""))
        common = {
            "event_id": str(event["id"]),
            "severity": str(event["severity"] or ""),
            "title": str(event["title"] or ""),
        }
        owes = responsible_now(tracker, config, event, now)
        manager = holder(tracker, zone, event, "event manager", now)
        due = event["next_update_due"]
        if isinstance(due, datetime):
            if is_late(due, now):
                state = "overdue"
            elif due - now <= lead_time(severity, config):
                state = "due soon"
            else:
                state = "due"
            if within is None or due - now <= within or state != "due":
                out.append(Due(kind="update", state=state, at=due, responsible=owed_by(owes), **common))
        eta = etas.get(str(event["id"]).strip().casefold())
        if eta_passed(eta, now, event):  # who owes the update owes a new ETA
            out.append(Due(kind="eta", state="passed", at=eta, responsible=owed_by(owes), **common))
        for timer in timers(event, severity, now, config.clock.at_risk):
            if timer.stopped is None and timer.state in ("at risk", "breached"):  # a stopped one is history
                lead = manager if timer.name == "first response" else None
                person = owed_by(lead or holder(tracker, zone, event, "incident lead", now) or manager)
                at = timer.started + timer.target
                out.append(Due(kind=timer.name, state=timer.state, at=at, responsible=person, **common))
        out += _deadline_due(tracker, event, now, config.clock.at_risk, owed_by(owes), common)
    review = process_review_due(config, now)
    if review is not None:
        out.append(Due("", "process review", "overdue" if review <= now else "due", review))

    out.extend(due_actions(tracker, config.display.tz, now, within))
    out.extend(due_tasks(tracker, now))
    return sorted(out, key=lambda d: (not d.late, d.at or now, d.event_id))


def process_review_due(config: Config, now: datetime) -> datetime | None:
    """When the event management process is next due for review, if that is within a month (or past)."""
    last = config.clock.process_reviewed
    if last is None:
        return None
    months = last.month - 1 + config.clock.review_every_months
    year, month = last.year + months // 12, months % 12 + 1
    day = min(last.day, 28)
    when = datetime.combine(date(year, month, day), datetime.min.time(), tzinfo=now.tzinfo)
    return when if when - now <= timedelta(days=31) else None


DEADLINE = "reporting deadline"  # the timer a category's Report Within sets (Categories sheet)


def _deadline_due(
    tracker: Tracker, event: Row, now: datetime, at_risk: float, person: str, common: dict[str, str]
) -> list[Due]:
    """The event's reporting deadline as a due item while it runs at risk or breached, owed by `person`: whoever owes
    the updates now (`responsible_now`, the roles as the Roster has them; the duty event manager when nobody)."""
    deadline = deadline_timer(tracker, event, now, at_risk)
    if deadline is None or deadline.stopped is not None or deadline.state not in ("at risk", "breached"):
        return []
    return [
        Due(kind=DEADLINE, state=deadline.state, at=deadline.started + deadline.target, responsible=person, **common)
    ]


_NOT_SENT = ("claimed:", "withdrawn")  # Notifications rows that are no message sent: a claim, a withdrawn one


def deadline_timer(tracker: Tracker, event: Row, now: datetime, at_risk: float = 0.75) -> Timer | None:
    """The event's reporting deadline (its category's Report Within, from detection), stopped by the first message
    to the category's Report To audience on the Notifications sheet; None when its category sets none."""
    row = category_row(tracker, event)
    minutes = target_minutes(row, "report_within_minutes", "Categories") if row is not None else None
    audience = str(row["report_to"] or "").strip().casefold() if row is not None else ""
    started = event["detected_at"]
    if minutes is None or not audience or not isinstance(started, datetime):
        return None
    logged = tracker.layout("Notifications").present
    sent = (
        [
            r["sent_at"]
            for r in tracker.rows_where("Notifications", "event_id", {str(event["id"]).strip().casefold()})
            if str(r["audience"] or "").strip().casefold() == audience
            and isinstance(r["sent_at"], datetime)
            and not str(r["transport"] or "").startswith(_NOT_SENT)
        ]
        if logged
        else []
    )
    stopped = min(sent) if sent else None
    target = timedelta(minutes=minutes)
    elapsed = max((stopped or now) - started, timedelta(0))
    state = timer_state(elapsed, target, stopped is not None, at_risk)
    return Timer(DEADLINE, target, started, stopped, elapsed, state, f"reported to {audience}")

"""The Escalations sheet and `tracker due --escalate`: when a trigger has lasted long enough, tell someone more
senior, once per event and occurrence, and put it on the event's timeline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tracker.config import Config
from tracker.errors import ValidationFailed
from tracker.rules.categories import held_audiences, is_drill, is_held
from tracker.rules.clock import duration, is_late, timers
from tracker.sending.categories import drill_rows, marked
from tracker.sending.delivery import deliver, personal_json, sending_lock, settle
from tracker.sending.mail import (
    Outgoing,
    Recipient,
    build_message,
    domain_allowed,
    parse_sender,
    recipients_for,
    split_recipients,
)
from tracker.sending.sendlog import log_rows
from tracker.sending.teams import teams_settings
from tracker.store.backends import Store
from tracker.times import format_time, iso
from tracker.workbook.duty import holder
from tracker.workbook.edits import AppendRow, Edit
from tracker.workbook.policy import BOOKKEEPER, EVENT_ROLES, is_open, reported_at, whole_minutes
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import address_of, on_duty

TRIGGERS = ("not acknowledged", "update overdue", "restoration at risk", "restoration breached", "open longer than")


@dataclass(frozen=True)
class Step:
    """An escalation step that is due for an event: which rule, since when."""

    event: Row
    rule: Row
    trigger: str
    since: datetime  # when the trigger started
    fires: datetime  # since + after

    @property
    def state(self) -> str:
        """What makes it once-only: what the rule says (not its row: sorting the sheet changes rows) and the
        occurrence of its trigger."""
        import hashlib

        said = "|".join(
            str(self.rule[n] or "").strip().casefold() for n in ("severity", "trigger", "after_minutes", "tell")
        )
        return f"escalation {hashlib.sha256(said.encode()).hexdigest()[:8]} {iso(self.since)}"


@dataclass(frozen=True)
class Escalation:
    """One escalation sent (or that could not be: `problem`)."""

    event_id: str
    person: str
    address: str
    trigger: str
    subject: str = ""
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (see README, "Keeping time")."""
        return personal_json(self, trigger=self.trigger)


def due_steps(tracker: Tracker, config: Config, now: datetime) -> list[Step]:
    """Every escalation step whose trigger has lasted its minutes, for open events."""
    sheet = tracker.sheet("Escalations")
    if not sheet.present or not sheet.rows:
        return []
    severities = tracker.sheet("Severities")
    out = []
    for event in tracker.sheet("Events").rows:
        if not event["id"] or not is_open(event["status"]):
            continue
        severity = severities.find(str(event["severity"] or ""))
        for rule in sheet.rows:
            if str(rule["severity"] or "").casefold() != str(event["severity"] or "").casefold():
                continue
            after = whole_minutes(rule, "Escalations", "after_minutes")
            if after is None:
                continue  # a rule validate reports (After not a whole number of minutes in range) never fires
            if rule["trigger"] not in TRIGGERS:
                continue  # nor one with an unknown trigger
            since = _since(event, severity, str(rule["trigger"] or ""), now, config)
            if since is not None and since + timedelta(minutes=after) <= now:
                out.append(Step(event, rule, str(rule["trigger"]), since, since + timedelta(minutes=after)))
    return out


def _since(event: Row, severity: Row | None, trigger: str, now: datetime, config: Config) -> datetime | None:
    """When the trigger started for this event, or None when it is not on."""
    if trigger == "not acknowledged":
        started = reported_at(event)
        acknowledged = isinstance(event["acknowledged_at"], datetime)  # a time typed as text is not one
        return started if not acknowledged and isinstance(started, datetime) else None
    if trigger == "update overdue":
        due = event["next_update_due"]
        return due if isinstance(due, datetime) and is_late(due, now) else None
    if trigger == "open longer than":
        return event["detected_at"] if isinstance(event["detected_at"], datetime) else None
    for timer in timers(event, severity, now, config.clock.at_risk):
        if timer.name != "restoration" or timer.stopped is not None:
            continue
        if trigger == "restoration at risk" and timer.state in ("at risk", "breached"):
            return timer.started + timer.target * config.clock.at_risk
        if trigger == "restoration breached" and timer.state == "breached":
            return timer.started + timer.target
    return None


def whom(tracker: Tracker, config: Config, event: Row, tell: str, now: datetime) -> tuple[list[Recipient], str]:
    """Everyone a step tells, and the audience when they are one: a role on the event, an audience (its
    Distribution rows, To, Cc and Bcc as there), or a Roster role on duty; without an email, `email` is empty.

    `A or B` tells B when A is nobody at that moment, or nobody with an email (an operations manager on the Roster
    only by day: "operations manager or duty event manager" reaches someone at night)."""
    first: tuple[list[Recipient], str] = ([], "")
    for choice in re.split(r"\s+or\s+", " ".join(tell.split()), flags=re.IGNORECASE):
        people = _whom(tracker, config, event, choice, now)
        audience = choice.split(":", 1)[1].strip() if choice.casefold().startswith("audience:") else ""
        if any(r.email for r in people):
            return people, audience
        if not first[0]:  # someone without an email: told only if no later choice reaches anyone
            first = (people, audience)
    return first


def _whom(tracker: Tracker, config: Config, event: Row, text: str, now: datetime) -> list[Recipient]:
    if text.casefold().startswith("audience:"):
        audience = text.split(":", 1)[1].strip()
        if is_held(tracker, event, audience):
            return []  # held by the event's category until `tracker approve`, as notify holds it: nobody yet
        rows = drill_rows(tracker, audience) if is_drill(tracker.schema, event) else recipients_for(tracker, audience)
        return [Recipient(r.email, r.name or r.email, r.send_as, r.cell) for r in rows]
    if text.casefold() in EVENT_ROLES:  # whoever holds the role now: on duty in it (Roster), unless pinned
        person = holder(tracker, config.display.tz, event, text.casefold(), now)
        return [Recipient(address_of(tracker, person), person, "To", "")] if person else []
    return [
        Recipient(s.email or address_of(tracker, s.person), s.person, "To", "")
        for s in on_duty(tracker, config.display.tz, now, text.casefold())
    ]


def send_escalations(store: Store, config: Config, now: datetime) -> list[Escalation]:
    """Send every due escalation step once (per event and trigger occurrence), log it, add it to the timeline."""

    teams_settings(config)  # a [teams] section without its webhook URL stops here, before anything is sent
    with sending_lock(store, config):
        return _send(store, config, now)


_TOLD_NOBODY: set[str] = set()  # steps already reported as having nobody to tell (once per process)


def _told(
    tracker: Tracker, config: Config, step: Step, now: datetime, out: list[Escalation]
) -> tuple[list[Recipient], str]:
    """Whom a due step tells now, and its audience (`whom`); nobody, with the reason added to `out`, when nobody
    holds the role (said once per process) or the audience has a Distribution row validate refuses (the other
    steps still go)."""
    key = str(step.event["id"])
    try:
        people, audience = whom(tracker, config, step.event, str(step.rule["tell"] or ""), now)
    except ValidationFailed as exc:
        fix = "; ".join(map(str, exc.problems)) or str(exc)
        out.append(Escalation(key, "", "", step.trigger, problem=f"nothing was sent; fix {fix}"))
        return [], ""
    if not people and f"{key} {step.state}" not in _TOLD_NOBODY:
        _TOLD_NOBODY.add(f"{key} {step.state}")
        tell = str(step.rule["tell"] or "")
        held = [a for a in held_audiences(tracker, step.event) if f"audience:{a}".casefold() in tell.casefold()]
        nobody = (
            f"{held[0]} is held for {key} until approved (tracker approve {key} --audience {held[0]}), and nobody "
            f"else to tell for {tell!r}"
            if held
            else f"nobody to tell for {tell!r} now (not on the Roster at this hour); it goes when someone holds the role"
        )
        out.append(Escalation(key, "", "", step.trigger, problem=nobody))
    return people, audience


def _send(store: Store, config: Config, now: datetime) -> list[Escalation]:
    tracker = store.read()
    settle(store, tracker, config, now, kinds=("escalation",))  # what earlier runs left half done
    out: list[Escalation] = []
    outgoing: list[Outgoing] = []
    timeline: list[Edit] = []
    for step in due_steps(tracker, config, now):
        key = str(step.event["id"])
        logged = log_rows(tracker, store.journal, key, ("escalation",))
        if any(r.get("state") == step.state for r in logged):
            continue
        people, audience = _told(tracker, config, step, now, out)
        if not people:
            continue
        reachable = _reachable(key, step, people, config, out)
        try:
            messages = _messages_for(reachable, audience, config.max_recipients)
        except ValidationFailed as exc:  # more To and Cc than one message takes: said, the other steps still go
            out.append(Escalation(key, audience, "", step.trigger, problem=str(exc)))
            continue
        for name, recipients in messages:
            message = marked(tracker, _message(step, name, recipients, now, config))
            outgoing.append(message)
            shown = ", ".join(r.email for r in recipients if r.send_as != "Bcc") or recipients[0].email
            out.append(Escalation(key, name, shown, step.trigger, message.subject))
        told = ", ".join(r.name for r in reachable)
        if told:
            timeline.append(
                AppendRow(
                    "Updates",
                    {
                        "event_id": key,
                        "at": now,
                        "author": BOOKKEEPER,
                        "status": step.event["status"],
                        "note": f"Escalated to {told}: {step.trigger} ({_ago(step, now)}; Escalations row "
                        f"{step.rule.number})",
                        "internal": "Yes",
                    },
                )
            )
    if not outgoing:
        return out
    delivery = deliver(store, config, now, outgoing, timeline)
    return delivery.settle(out, outgoing, lambda person, why: Escalation("", person, "", "", problem=why))


def _reachable(key: str, step: Step, people: list[Recipient], config: Config, out: list[Escalation]) -> list[Recipient]:
    """The people tracker may write to; each other one is a problem in `out`."""
    allowed = config.mail.allowed_domains or None
    reachable = []
    for person in people:
        if person.email and allowed and not domain_allowed(person.email, allowed):
            problem = f"{person.email} is outside allowed_domains"
            out.append(Escalation(key, person.name, "", step.trigger, problem=problem))
        elif not person.email:
            out.append(Escalation(key, person.name, "", step.trigger, problem=f"no email for {person.name!r} (Roster)"))
        else:
            reachable.append(person)
    return reachable


def _messages_for(people: list[Recipient], audience: str, limit: int) -> list[tuple[str, list[Recipient]]]:
    """(whom the message greets, its recipients): an audience's rows together, as its Distribution rows send them
    (a Cc member is copied, not sent their own; past [mail] max_recipients, in parts as notify sends them); anyone
    else a message of their own."""
    if audience and people:
        return [(audience, part) for part in split_recipients(people, limit, audience)]
    return [(r.name, [Recipient(r.email, r.name, "To", "")]) for r in people]


def _ago(step: Step, now: datetime) -> str:
    return f"since {duration(now - step.since)}" if now > step.since else "now"


def _message(step: Step, name: str, recipients: list[Recipient], now: datetime, config: Config) -> Outgoing:
    event = step.event
    key, title = str(event["id"]), str(event["title"] or "")
    since = format_time(step.since, tz=config.display.tz, fmt=config.display.time_format)
    subject = f"[ESCALATION] {key}: {step.trigger} ({_ago(step, now)}) - {event['severity']} {title}"
    note = f"\n{step.rule['note']}\n" if step.rule["note"] else ""
    text = (
        f"{name},\n\n{key} ({event['severity']}, {event['status']}): {title}\n"
        f"{step.trigger[0].upper() + step.trigger[1:]} since {since}.\n{note}\n"
        f"Event manager: {event['event_manager'] or '-'}\nIncident lead: {event['incident_lead'] or '-'}\n\n"
        "-- \ntracker (escalation rule on the Escalations sheet)\n"
    )
    sender = parse_sender(config.mail.sender)
    message = build_message(sender, recipients, (subject, text, None), about=(key, name, "escalation"), sent_at=now)
    return Outgoing(key, name, "escalation", step.state, subject, text, "", recipients, message)

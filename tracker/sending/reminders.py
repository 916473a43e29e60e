"""`tracker due --remind`: a short reminder to whoever owes an event's next update, before it is late and again
when it is, each once per due time, sent and logged with the same exactly-once care as the outage emails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tracker.config import Config
from tracker.rules.clock import duration, eta_passed, is_late, latest_etas, lead_time, responsible_now
from tracker.rules.intake import is_taken_in
from tracker.sending.categories import marked
from tracker.sending.delivery import deliver, personal_json, sending_lock, settle
from tracker.sending.gate import BlockedNotice, blocked_first_notices
from tracker.sending.mail import Outgoing, Recipient, build_message, domain_allowed, parse_sender
from tracker.sending.sendlog import log_rows
from tracker.sending.teams import teams_settings
from tracker.store.backends import Store
from tracker.times import format_time, iso
from tracker.workbook.duty import holder, leads_now
from tracker.workbook.policy import is_open, reported_at
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import address_of, duty_manager


@dataclass(frozen=True)
class Reminder:
    """One reminder sent (or that could not be: `address` empty, `problem` says why)."""

    event_id: str
    person: str
    address: str
    stage: str  # before | overdue | blocked (the first notice cannot go: a field it needs is empty)
    due_at: datetime
    subject: str = ""
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (see README, "Keeping time")."""
        return personal_json(self, stage=self.stage, due_at=iso(self.due_at))


def reminder_state(stage: str, due_at: datetime) -> str:
    """What makes a reminder once-only: its stage and the due time it is about."""
    return f"reminder {stage} {iso(due_at)}"


def send_reminders(store: Store, config: Config, now: datetime) -> list[Reminder]:
    """Remind, once each, the person owing each open event's next update: `before` within the lead time,
    `overdue` once it is late. Returns what was sent and what could not be."""
    with sending_lock(store, config):
        return _send(store, config, now)


def _send(store: Store, config: Config, now: datetime) -> list[Reminder]:

    teams_settings(config)  # a [teams] section without its webhook URL stops here, before anything is sent
    tracker = store.read()
    settle(store, tracker, config, now, kinds=("reminder",))  # what earlier runs left half done
    severities = tracker.sheet("Severities")
    blocked = {b.event_id: b for b in blocked_first_notices(tracker, store.journal)}
    out, outgoing = _intake(tracker, store, config, now, blocked)
    told = {message.event_id for message in outgoing}  # the intake notice names the empty fields already
    more, outgoing_blocked = _blocked(tracker, store, config, now, [b for k, b in blocked.items() if k not in told])
    out += more
    outgoing += outgoing_blocked
    etas = latest_etas(tracker, now)
    for event, stage, due in _stages(tracker, severities, config, now, etas):
        key = str(event["id"])
        state = reminder_state(stage, due)
        if any(r.get("state") == state for r in log_rows(tracker, store.journal, key, ("reminder",))):
            continue
        named = person = responsible_now(tracker, config, event, now)  # whoever holds the role now (Roster)
        address = address_of(tracker, person) if person else ""
        if not address:  # nobody named on the event, or nobody we can write to: whoever is on duty now
            duty = duty_manager(tracker, config.display.tz, now)
            duty_address = (duty.email or address_of(tracker, duty.person)) if duty is not None else ""
            if duty is not None and (duty_address or not person):
                person, address = duty.person, duty_address
        allowed = config.mail.allowed_domains or None
        if address and allowed and not domain_allowed(address, allowed):
            out.append(
                Reminder(key, person, "", stage, due, problem=f"{address} is outside [mail] allowed_domains; not sent")
            )
            continue
        if not address:
            problem = (
                f"no email for {person!r}: add them (Person and Email) to the Roster sheet, or (Name and Email) to "
                "the Distribution sheet"
                if person
                else "the event has no communication lead or event manager, and nobody is on the Roster now"
            )
            out.append(Reminder(key, person, "", stage, due, problem=problem))
            continue
        fill = blocked[key].commands if key in blocked else ()
        message = _reminder(event, person, address, stage, due, now, config, named if named != person else "", fill)
        message = marked(tracker, message)  # a drill: [EXERCISE]
        outgoing.append(message)
        out.append(Reminder(key, person, address, stage, due, message.subject))
    if not outgoing:
        return out
    delivery = deliver(store, config, now, outgoing, [])
    return delivery.settle(out, outgoing, lambda person, why: Reminder("", person, "", "", now, problem=why))


def _stages(
    tracker: Tracker, severities: Any, config: Config, now: datetime, etas: dict[str, datetime]
) -> list[tuple[Row, str, datetime]]:
    """(event, stage, the moment it is about) of each reminder owed now: `before` within the lead time, `overdue`
    once the update is late, `eta` once the restoration ETA last given has passed (a new one is owed)."""
    out = []
    for event in tracker.sheet("Events").rows:
        if not event["id"] or not is_open(event["status"]):
            continue
        due = event["next_update_due"]
        if isinstance(due, datetime):
            if is_late(due, now):
                out.append((event, "overdue", due))
            elif due - now <= lead_time(severities.find(str(event["severity"] or "")), config):  # (or "due now")
                out.append((event, "before", due))
        eta = etas.get(str(event["id"]).strip().casefold())
        if eta is not None and eta_passed(eta, now, event):
            out.append((event, "eta", eta))
    return out


def _reminder(
    event: Row,
    person: str,
    address: str,
    stage: str,
    due: datetime,
    now: datetime,
    config: Config,
    instead_of: str = "",
    fill: tuple[str, ...] = (),
) -> Outgoing:
    when = format_time(due, tz=config.display.tz, fmt=config.display.time_format)
    key, title = str(event["id"]), str(event["title"] or "")
    state = f"({event['severity']}, {event['status']})"
    if stage == "eta":
        subject = f"[NEW ETA] {key}: the restoration ETA {when} has passed - {title}"
        opening = (
            f"The restoration ETA given for {key} {state} was {when}: it passed {duration(now - due)} ago and no "
            "new one has been given. The emails and the status page say so."
        )
    elif stage == "before":
        until = f"in {duration(due - now)}" if due - now >= timedelta(minutes=1) else "now"
        subject = f"[REMINDER] {key}: update due {when} ({until}) - {title}"
        opening = f"The next update for {key} {state} is due at {when}, {until}."
    else:
        subject = f"[OVERDUE] {key}: update was due {when} ({duration(now - due)} ago) - {title}"
        opening = f"The update for {key} {state} was due at {when}: {duration(now - due)} ago."
    if instead_of:
        opening += (
            f"\nIt is for {instead_of}, who has no email on the Roster or Distribution sheet: you get it as the duty "
            "event manager."
        )
    text = f"{person},\n\n{opening}\n\n{_advice(key, stage, fill)}\n\n-- \ntracker\n"
    sender = parse_sender(config.mail.sender)
    recipient = Recipient(address, person, "To", "")
    message = build_message(sender, [recipient], (subject, text, None), about=(key, person, "reminder"), sent_at=now)
    return Outgoing(key, person, "reminder", reminder_state(stage, due), subject, text, "", [recipient], message)


def _advice(key: str, stage: str, fill: tuple[str, ...]) -> str:
    """What a reminder asks for: a new ETA; the fields a blocked first notice waits for (`--no-change` would be
    refused); else an update with news, or a no-change message."""
    if stage == "eta":
        return f'New ETA:  tracker update {key} --note "..." --eta +1h   then  tracker notify {key}'
    if fill:
        commands = "\n".join(f"  {command}" for command in fill)
        return (
            "The first notice has not gone: fields it needs are empty or not valid. Fill them in:\n"
            f"{commands}\nthen  tracker notify {key}"
        )
    return (
        f'With news:     tracker update {key} --note "..." --public-note "..."  then  tracker notify {key}\n'
        f"Without news:  tracker notify {key} --no-change   (tells the audiences there is no change and when the "
        "next update comes)"
    )


def blocked_state(notice: BlockedNotice) -> str:
    """What makes a blocked-first-notice reminder once-only: the fields it is about (empty, or not valid)."""
    return f"reminder blocked {', '.join(notice.fields)}"


def _blocked(
    tracker: Tracker, store: Store, config: Config, now: datetime, blocked: list[BlockedNotice]
) -> tuple[list[Reminder], list[Outgoing]]:
    """One reminder per event and set of missing fields (empty, or not valid) to its event manager and communication lead (the duty event
    manager when neither can be written to), naming each field and the command that fills it."""
    out: list[Reminder] = []
    outgoing: list[Outgoing] = []
    allowed = config.mail.allowed_domains or None
    for notice in blocked:
        state = blocked_state(notice)
        logged = log_rows(tracker, store.journal, notice.event_id, ("reminder",))
        if any(r.get("state") in (state, INTAKE_STATE) for r in logged):  # the intake notice named the fields
            continue
        owed_by = leads_now(tracker, config.display.tz, notice.event, now)  # as the Roster has them now
        people = [(p, address_of(tracker, p)) for p in owed_by]
        people = [(p, a) for p, a in people if a and (not allowed or domain_allowed(a, allowed))]
        if not people:
            duty = duty_manager(tracker, config.display.tz, now)
            address = (duty.email or address_of(tracker, duty.person)) if duty is not None else ""
            if duty is None or not address:
                why = "nobody named on the event or on duty has an email (Roster or Distribution sheet)"
                out.append(Reminder(notice.event_id, ", ".join(owed_by), "", "blocked", now, problem=why))
                continue
            people = [(duty.person, address)]
        message = marked(tracker, _blocked_message(notice, people, state, now, config))
        outgoing.append(message)
        names, addresses = ", ".join(p for p, _ in people), ", ".join(a for _, a in people)
        out.append(Reminder(notice.event_id, names, addresses, "blocked", now, message.subject))
    return out, outgoing


def _blocked_message(
    notice: BlockedNotice, people: list[tuple[str, str]], state: str, now: datetime, config: Config
) -> Outgoing:
    key, title = notice.event_id, str(notice.event["title"] or "")
    fields = ", ".join(notice.fields)
    subject = f"[BLOCKED] {key}: first notice waits for {fields} - {title}"
    names = ", ".join(p for p, _ in people)
    empty = "\n".join(f"  {field}: {command}" for field, command in zip(notice.fields, notice.commands, strict=True))
    text = (
        f"{names},\n\nThe first notice (Initial notification) for {key} ({notice.event['severity']}, "
        f"{notice.event['status']}) cannot go: {fields} {'is' if len(notice.fields) == 1 else 'are'} empty or not "
        f"valid. Fill {'it' if len(notice.fields) == 1 else 'them'} in:\n{empty}\n"
        f"then  tracker notify {key}\n\n-- \ntracker\n"
    )
    sender = parse_sender(config.mail.sender)
    recipients = [Recipient(address, person, "To", "") for person, address in people]
    message = build_message(sender, recipients, (subject, text, None), about=(key, names, "reminder"), sent_at=now)
    return Outgoing(key, names, "reminder", state, subject, text, "", recipients, message)


INTAKE_STATE = "reminder intake"  # what makes the duty event manager's notice of an event taken in once-only


def _intake(
    tracker: Tracker, store: Store, config: Config, now: datetime, blocked: dict[str, BlockedNotice]
) -> tuple[list[Reminder], list[Outgoing]]:
    """One notice per event taken in (from the Events sheet or the team mailbox) to its event manager (the duty
    event manager tracker named), or whoever is on duty now: what came in, and what the first notice needs."""
    out: list[Reminder] = []
    outgoing: list[Outgoing] = []
    updates = tracker.sheet("Updates")
    firsts = {str(r["event_id"] or "").strip().casefold(): r for r in updates.rows if is_taken_in(r)}
    for event in tracker.sheet("Events").rows:
        key = str(event["id"] or "")
        line = firsts.get(key.strip().casefold())
        if line is None or not is_open(event["status"]):
            continue
        if any(r.get("state") == INTAKE_STATE for r in log_rows(tracker, store.journal, key, ("reminder",))):
            continue
        person = holder(tracker, config.display.tz, event, "event manager", now)
        address = address_of(tracker, person) if person else ""
        if not address:
            duty = duty_manager(tracker, config.display.tz, now)
            person, address = (duty.person, duty.email or address_of(tracker, duty.person)) if duty else (person, "")
        allowed = config.mail.allowed_domains or None
        if not address or (allowed and not domain_allowed(address, allowed)):
            why = f"{address} is outside [mail] allowed_domains" if address else "nobody on duty has an email"
            out.append(Reminder(key, person, "", "intake", now, problem=f"new event not told: {why}"))
            continue
        message = marked(tracker, _intake_message(event, line, person, address, blocked.get(key), now, config))
        outgoing.append(message)
        out.append(Reminder(key, person, address, "intake", now, message.subject))
    return out, outgoing


def _intake_message(
    event: Row, line: Row, person: str, address: str, notice: BlockedNotice | None, now: datetime, config: Config
) -> Outgoing:
    key, title = str(event["id"]), str(event["title"] or "")
    start = reported_at(event)  # the first response's start, as `due` and `show` give it (none: not started)
    when = (
        format_time(start, tz=config.display.tz, fmt=config.display.time_format) if isinstance(start, datetime) else ""
    )
    subject = f"[NEW EVENT] {key}: {title} ({event['severity']})"
    came = str(line["note"] or "")
    needs = ""
    if notice is not None:
        fill = "\n".join(f"  {field}: {command}" for field, command in zip(notice.fields, notice.commands, strict=True))
        needs = f"Before the first notice can go, fill in what is missing:\n{fill}\nthen  tracker notify {key}\n\n"
    reported = f" at {when}" if isinstance(event["reported_at"], datetime) else f" (detected at {when})" if when else ""
    clock = f" (the first-response clock runs from {when})" if when else ""
    text = (
        f"{person},\n\nA new event was reported to event management{reported}; you lead it as the event manager on "
        f"duty.\n\n  {key}  {title}\n  Severity {event['severity']}, {event['status']}\n  {came}\n\n{needs}"
        f"Acknowledge it{clock}:  tracker ack {key}\n"
        f'Triage it:  tracker update {key} --severity "..." --status Identified --note "..."\n\n-- \ntracker\n'
    )
    sender = parse_sender(config.mail.sender)
    recipient = Recipient(address, person, "To", "")
    message = build_message(sender, [recipient], (subject, text, None), about=(key, person, "reminder"), sent_at=now)
    return Outgoing(key, person, "reminder", INTAKE_STATE, subject, text, "", [recipient], message)

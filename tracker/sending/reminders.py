"""`tracker due --remind`: a short reminder to whoever owes an event's next update, before it is late and again
when it is, each once per due time, sent and logged with the same exactly-once care as the outage emails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tracker.config import Config
from tracker.rules.clock import duration, eta_passed, is_late, latest_etas, lead_time, responsible
from tracker.sending.delivery import deliver, personal_json, sending_lock, settle
from tracker.sending.mail import Outgoing, Recipient, build_message, domain_allowed, parse_sender
from tracker.sending.sendlog import log_rows
from tracker.sending.teams import teams_settings
from tracker.store.backends import Store
from tracker.times import format_time, iso
from tracker.workbook.policy import is_open
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import address_of, duty_manager


@dataclass(frozen=True)
class Reminder:
    """One reminder sent (or that could not be: `address` empty, `problem` says why)."""

    event_id: str
    person: str
    address: str
    stage: str  # before | overdue
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
    out: list[Reminder] = []
    outgoing: list[Outgoing] = []
    etas = latest_etas(tracker, now)
    for event, stage, due in _stages(tracker, severities, config, now, etas):
        key = str(event["id"])
        state = reminder_state(stage, due)
        if any(r.get("state") == state for r in log_rows(tracker, store.journal, key, ("reminder",))):
            continue
        named = person = responsible(event)
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
        message = _reminder(
            event, person, address, stage, due, now, config, instead_of=named if named != person else ""
        )
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
) -> Outgoing:
    when = format_time(due, tz=config.display.tz, fmt=config.display.time_format)
    key, title = str(event["id"]), str(event["title"] or "")
    if stage == "eta":
        subject = f"[NEW ETA] {key}: the restoration ETA {when} has passed - {title}"
        opening = (
            f"The restoration ETA given for {key} ({event['severity']}, {event['status']}) was {when}: it passed "
            f"{duration(now - due)} ago and no new one has been given. The emails and the status page say so."
        )
        text = (
            f"{person},\n\n{opening}\n\n"
            f'New ETA:  tracker update {key} --note "..." --eta +1h   then  tracker notify {key}\n\n-- \ntracker\n'
        )
        return _outgoing(event, person, address, stage, due, now, config, subject, text)
    if stage == "before":
        until = f"in {duration(due - now)}" if due - now >= timedelta(minutes=1) else "now"
        subject = f"[REMINDER] {key}: update due {when} ({until}) - {title}"
        opening = f"The next update for {key} ({event['severity']}, {event['status']}) is due at {when}, {until}."
    else:
        subject = f"[OVERDUE] {key}: update was due {when} ({duration(now - due)} ago) - {title}"
        opening = f"The update for {key} ({event['severity']}, {event['status']}) was due at {when}: {duration(now - due)} ago."
    if instead_of:
        opening += (
            f"\nIt is for {instead_of}, who has no email on the Roster or Distribution sheet: you get it as the duty "
            "event manager."
        )
    text = (
        f"{person},\n\n{opening}\n\n"
        f'With news:     tracker update {key} --note "..." --public-note "..."  then  tracker notify {key}\n'
        f"Without news:  tracker notify {key} --no-change   (tells the audiences there is no change and when the "
        "next update comes)\n\n-- \ntracker\n"
    )
    return _outgoing(event, person, address, stage, due, now, config, subject, text)


def _outgoing(
    event: Row,
    person: str,
    address: str,
    stage: str,
    due: datetime,
    now: datetime,
    config: Config,
    subject: str,
    text: str,
) -> Outgoing:
    """One reminder to one person, once-only by its stage and the moment it is about."""
    key = str(event["id"])
    sender = parse_sender(config.mail.sender)
    recipient = Recipient(address, person, "To", "")
    message = build_message(sender, [recipient], (subject, text, None), about=(key, person, "reminder"), sent_at=now)
    return Outgoing(key, person, "reminder", reminder_state(stage, due), subject, text, "", [recipient], message)

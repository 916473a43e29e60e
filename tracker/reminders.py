"""`tracker due --remind`: a short reminder to whoever owes an event's next update, before it is late and again
when it is, each once per due time, sent and logged with the same exactly-once care as the outage emails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.clock import duration, lead_time, responsible
from tracker.config import Config
from tracker.errors import TrackerError, WorkbookInUse
from tracker.mail import Outgoing, Recipient, build_message, domain_allowed, parse_sender
from tracker.policy import is_open
from tracker.roster import address_of, duty_manager
from tracker.store import Store
from tracker.times import format_time, iso
from tracker.workbook import Row


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
        return {
            "event_id": self.event_id,
            "person": self.person or None,
            "address": self.address or None,
            "stage": self.stage,
            "due_at": iso(self.due_at),
            "subject": self.subject or None,
            "problem": self.problem or None,
        }


def reminder_state(stage: str, due_at: datetime) -> str:
    """What makes a reminder once-only: its stage and the due time it is about."""
    return f"reminder {stage} {iso(due_at)}"


def send_reminders(store: Store, config: Config, now: datetime) -> list[Reminder]:
    """Remind, once each, the person owing each open event's next update: `before` within the lead time,
    `overdue` once it is late. Returns what was sent and what could not be."""
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(store.notify_lock), timeout=config.lock_timeout):
            return _send(store, config, now)
    except Timeout:
        raise WorkbookInUse(
            f"another `tracker notify` or `due --remind` has run here for over {config.lock_timeout:.0f} s; try again"
        ) from None


def _send(store: Store, config: Config, now: datetime) -> list[Reminder]:
    from tracker.notify import log_rows, settle_ledger
    from tracker.teams import teams_settings

    teams_settings(config)  # a [teams] section without its webhook URL stops here, before anything is sent
    tracker = store.read()
    settle_ledger(tracker, store.journal, config)
    severities = tracker.sheet("Severities")
    out: list[Reminder] = []
    outgoing: list[Outgoing] = []
    for event in tracker.sheet("Events").rows:
        due = event["next_update_due"]
        if not event["id"] or not is_open(event["status"]) or not isinstance(due, datetime):
            continue
        severity = severities.find(str(event["severity"] or ""))
        if due <= now:
            stage = "overdue"
        elif due - now <= lead_time(severity, config):
            stage = "before"
        else:
            continue
        key = str(event["id"])
        state = reminder_state(stage, due)
        if any(r.get("state") == state for r in log_rows(tracker, store.journal, key, ("reminder",))):
            continue
        person = responsible(event)
        if not person:  # nobody named on the event: whoever is on duty now
            duty = duty_manager(tracker, config.display.tz, now)
            person = duty.person if duty is not None else ""
        address = address_of(tracker, person) if person else ""
        allowed = config.mail.get("allowed_domains") or None
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
        message = _reminder(event, person, address, stage, due, now, config)
        outgoing.append(message)
        out.append(Reminder(key, person, address, stage, due, message.subject))
    if not outgoing:
        return out
    failures = deliver(store, config, now, outgoing, [])
    for why in (failures.get(""), failures.get("teams")):
        if why:
            out.append(Reminder("", "", "", "", now, problem=why))
    messages = iter(outgoing)  # in the order of the reminders that have an address
    result = []
    for reminder in out:
        if reminder.address:
            message = next(messages)
            if not message.sent:
                reminder = Reminder(
                    reminder.event_id,
                    reminder.person,
                    reminder.address,
                    reminder.stage,
                    reminder.due_at,
                    reminder.subject,
                    message.error or "not sent",
                )
        result.append(reminder)
    return result


def deliver(store: Store, config: Config, now: datetime, outgoing: list[Outgoing], edits: list[Any]) -> dict[str, str]:
    """Send personal messages (reminders, escalations) with the outage emails' care: each written down before it
    goes, its Notifications row journaled once the server took it; then the journal and `edits` go on the sheet.
    Returns {"": why} when the log could only be journaled."""
    from tracker.notify import NotifyInterrupted, _Durable
    from tracker.transports import open_transport

    transport = open_transport(config)
    hooks = _Durable(store.journal, config, transport.name, now, "")
    try:
        with transport:
            transport.send_messages(outgoing, hooks)
    except KeyboardInterrupt:
        raise NotifyInterrupted("interrupted; what was sent is recorded and not sent again") from None
    from tracker.teams import post_messages

    sent = {m.event_id for m in outgoing if m.sent}
    todo = [e for e in edits if str(getattr(e, "values", {}).get("event_id", "")) in sent]
    out: dict[str, str] = {}
    try:
        store.commit(lambda _tracker: todo)  # the journaled log rows, and the timeline entries
    except TrackerError as exc:
        if store.journal is None:
            raise
        if not getattr(exc, "journaled", False) and todo:
            store.journal.add(todo, f"timeline entries of messages sent: {exc}")
        out[""] = f"the log waits in the journal ({exc}); `tracker sync`"
    teams = post_messages(config, outgoing, outgoing[0].kind) if outgoing else []  # after the log is safe
    if teams:
        out["teams"] = "; ".join(teams)
    return out


def _reminder(
    event: Row, person: str, address: str, stage: str, due: datetime, now: datetime, config: Config
) -> Outgoing:
    when = format_time(due, tz=config.display.tz, fmt=config.display.time_format)
    key, title = str(event["id"]), str(event["title"] or "")
    if stage == "before":
        subject = f"[REMINDER] {key}: update due {when} (in {duration(due - now)}) - {title}"
        opening = f"The next update for {key} ({event['severity']}, {event['status']}) is due at {when}, in {duration(due - now)}."
    else:
        subject = f"[OVERDUE] {key}: update was due {when} ({duration(now - due)} ago) - {title}"
        opening = f"The update for {key} ({event['severity']}, {event['status']}) was due at {when}: {duration(now - due)} ago."
    text = (
        f"{person},\n\n{opening}\n\n"
        f'With news:     tracker update {key} --note "..." --public-note "..."  then  tracker notify {key}\n'
        f"Without news:  tracker notify {key} --no-change   (tells the audiences there is no change and when the "
        "next update comes)\n\n-- \ntracker\n"
    )
    html = '<html><body><pre style="font-family: Segoe UI, Arial, sans-serif; white-space: pre-wrap">{}</pre></body></html>'
    import html as html_lib

    sender = parse_sender(config.mail.get("sender"))
    recipient = Recipient(address, person, "To", "")
    message = build_message(
        sender=sender,
        recipients=[recipient],
        subject=subject,
        text=text,
        html=html.format(html_lib.escape(text)),
        sent_at=now,
        headers={"X-Tracker-Event": key, "X-Tracker-Audience": person, "X-Tracker-Kind": "reminder"},
    )
    return Outgoing(key, person, "reminder", reminder_state(stage, due), subject, text, "", [recipient], message)

"""`tracker due --remind`: a short reminder to whoever owes an event's next update, before it is late and again
when it is, each once per due time, sent and logged with the same exactly-once care as the outage emails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tracker.config import Config
from tracker.errors import TrackerError, WorkbookInUse
from tracker.rules.clock import duration, lead_time, responsible
from tracker.sending.mail import Outgoing, Recipient, build_message, domain_allowed, parse_sender
from tracker.store.backends import Store
from tracker.times import format_time, iso
from tracker.workbook.policy import is_open
from tracker.workbook.reading import Row
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
        return {
            "event_id": self.event_id,
            "person": self.person or None,
            "address": self.address or None,
            "stage": self.stage,
            "due_at": iso(self.due_at),
            "subject": self.subject or None,
            "problem": self.problem or None,
        }


TEAMS = "Teams channel"  # the "person" of a card that could not be posted


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
    from tracker.sending.notify import settle
    from tracker.sending.sendlog import log_rows
    from tracker.sending.teams import teams_settings

    teams_settings(config)  # a [teams] section without its webhook URL stops here, before anything is sent
    tracker = store.read()
    settle(store, tracker, config, now, kinds=("reminder",))  # what earlier runs left half done
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
        named = person = responsible(event)
        address = address_of(tracker, person) if person else ""
        if not address:  # nobody named on the event, or nobody we can write to: whoever is on duty now
            duty = duty_manager(tracker, config.display.tz, now)
            duty_address = (duty.email or address_of(tracker, duty.person)) if duty is not None else ""
            if duty is not None and (duty_address or not person):
                person, address = duty.person, duty_address
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
        message = _reminder(
            event, person, address, stage, due, now, config, instead_of=named if named != person else ""
        )
        outgoing.append(message)
        out.append(Reminder(key, person, address, stage, due, message.subject))
    if not outgoing:
        return out
    delivery = deliver(store, config, now, outgoing, [])
    return delivery.settle(out, outgoing, lambda person, why: Reminder("", person, "", "", now, problem=why))


@dataclass
class Delivery:
    """What `deliver` did beyond each message's own `sent`/`error`."""

    notes: list[str] = field(default_factory=list)  # sent, but: the log only journaled, claimed with a lock only
    teams: str = ""  # why cards were not posted to the Teams channel
    elsewhere: dict[str, str] = field(default_factory=dict)  # Message-ID -> who logged or claimed it first

    def outcome(self, message: Outgoing) -> str | None:
        """None when `message` went out; "" when another tracker has it; else why it did not go."""
        if message.message_id in self.elsewhere:
            return ""
        return None if message.sent else (message.error or "not sent")

    def settle(self, items: list[Any], outgoing: list[Outgoing], note: Callable[[str, str], Any]) -> list[Any]:
        """`items` (reminders or escalations; those with an address went out as `outgoing`, in that order) as they
        ended: one another tracker sends is dropped, one not sent says why; then a `note(person, why)` for each
        note and for cards the Teams channel did not take."""
        messages = iter(outgoing)
        result = []
        for item in items:
            if item.address:
                why = self.outcome(next(messages))
                if why == "":
                    continue  # another tracker (another machine watching this workbook) sends it
                if why is not None:
                    item = replace(item, problem=why)
            result.append(item)
        result += [note("", text) for text in self.notes]
        if self.teams:
            result.append(note(TEAMS, self.teams))
        return result


def deliver(store: Store, config: Config, now: datetime, outgoing: list[Outgoing], edits: list[Any]) -> Delivery:
    """Send personal messages (reminders, escalations) with the outage emails' care: on a SharePoint workbook each
    is first claimed on the Notifications sheet (two machines watching one workbook send it once), each is written
    down before it goes, its Notifications row journaled once the server took it; then the journal and `edits`
    (those of the events whose messages went) go on the sheet."""
    from tracker.sending.notify import DurableHooks, NotifyInterrupted, NotifyResult, claim_messages, write_or_keep
    from tracker.sending.transports import open_transport

    delivery = Delivery()
    claim: str | None = None
    todo_messages = list(outgoing)
    if store.claims:
        by_event: dict[str, list[Outgoing]] = {}
        for message in outgoing:
            by_event.setdefault(message.event_id, []).append(message)
        for event_id, messages in by_event.items():
            claimed = NotifyResult(event_id, messages=list(messages))
            claim = claim_messages(store, config, claimed, now, "", force=False) or claim
            kept = {m.message_id for m in claimed.messages}
            delivery.elsewhere.update({m.message_id: "another tracker" for m in messages if m.message_id not in kept})
            delivery.notes += claimed.warnings
        todo_messages = [m for m in outgoing if m.message_id not in delivery.elsewhere]
    if not todo_messages:
        return delivery
    transport = open_transport(config)
    hooks = DurableHooks(store.journal, config, transport.name, now, "", claim)
    try:
        with transport:
            transport.send_messages(todo_messages, hooks)
    except KeyboardInterrupt:
        hooks.release(todo_messages)
        raise NotifyInterrupted("interrupted; what was sent is recorded and not sent again") from None
    except Exception:  # e.g. no connection to the mail server: nothing went out, the claims are withdrawn
        write_or_keep(store, hooks.unsent(todo_messages), "reminders and escalations: claims withdrawn")
        raise
    from tracker.sending.teams import post_messages

    sent = {m.event_id for m in todo_messages if m.sent}
    todo = [e for e in edits if str(getattr(e, "values", {}).get("event_id", "")) in sent]
    if store.journal is None:
        todo = [hooks.log(m)[0] for m in todo_messages if m.sent] + todo  # as notify does
    todo += hooks.unsent(todo_messages)
    try:
        store.commit(lambda _tracker: todo)  # the journaled log rows, and the timeline entries
    except TrackerError as exc:
        if store.journal is None:
            raise
        if not getattr(exc, "journaled", False) and todo:
            store.journal.add(todo, f"timeline entries of messages sent: {exc}")
        delivery.notes.append(f"the log waits in the journal ({exc}); `tracker sync`")
    delivery.teams = "; ".join(post_messages(config, todo_messages, todo_messages[0].kind))  # after the log is safe
    return delivery


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
    if stage == "before":
        subject = f"[REMINDER] {key}: update due {when} (in {duration(due - now)}) - {title}"
        opening = f"The next update for {key} ({event['severity']}, {event['status']}) is due at {when}, in {duration(due - now)}."
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

"""`tracker intake`: new messages to the team mailbox become events, and replies naming one add to it.

A new message opens an event (`tracker.rules.intake.take_in`): the sender reports it, the subject is its title,
the text its first internal update; its first timeline line names the message by its Message-ID, so a run stopped
before it remembered the message finds the event and does not take it twice. The reporter gets one reply (the
event ID, its title, where to follow it), sent and logged as reminders are (`delivery.deliver`: exactly once,
on the Notifications sheet as a `reminder` whose state is "intake reply"). A message whose subject names an event
adds its text to that event as an internal note by the sender (`add_reported_note`). tracker's own messages and
automatic replies are never taken in (no loops)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

from tracker.config import Config
from tracker.errors import TrackerError, UnknownEvent
from tracker.rules.intake import IntakeRules, add_reported_note, marked_event, take_in
from tracker.sending.delivery import deliver, sending_lock, settle
from tracker.sending.mail import Outgoing, Recipient, build_message, domain_allowed, parse_sender
from tracker.sending.mailbox import Incoming, IntakeMemory, Source, intake_lock, memory_path, note_text, open_source
from tracker.sending.sendlog import log_rows
from tracker.store.backends import Store
from tracker.workbook.policy import FINISHED
from tracker.workbook.reading import Tracker

REPLY_STATE = "intake reply"  # the Notifications row's State of the one reply to a reporter
NOT_SENT = "reply not sent: "  # how a reply the mail server did not take begins (tried again on the next run)
_PREFIXES = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|tr|rif|enc)\s*(\[\d+\])?\s*:\s*)+", re.I)


@dataclass(frozen=True)
class Taken:
    """What became of one message: `new` (an event), `update` (a note on one), `ignored` (tracker's own, an
    automatic reply); `note` says more (the reply not sent, the event finished...)."""

    kind: str
    event_id: str
    sender: str
    subject: str
    note: str = ""
    replied: bool = False
    owed: bool = False  # the reply could not go (the mail server down): the next run tries again

    def line(self) -> str:
        """The one line `tracker intake` and watch say about it."""
        if self.kind == "ignored":
            return f"ignored message from {self.sender}: {self.subject} ({self.note})"
        more = f" ({self.note})" if self.note else ""
        if self.kind == "reply":
            return f"{self.event_id} reply to {self.sender}: {self.subject}{more}"
        return f"{self.event_id} {self.kind} from {self.sender}: {self.subject}{more}"

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (`tracker intake --json`)."""
        return {
            "kind": self.kind,
            "event_id": self.event_id or None,
            "sender": self.sender,
            "subject": self.subject,
            "replied": self.replied,
            "reply_owed": self.owed,
            "note": self.note or None,
        }


def intake_rules(config: Config) -> IntakeRules:
    """What an event taken in starts with, from [intake] and [display]."""
    return IntakeRules(config.intake.severity, config.intake.category, config.display.tz)


def take_in_mail(store: Store, config: Config, now: datetime) -> list[Taken]:
    """Take in every new message of the [intake] source, each once; UsageError when [intake] names none."""
    source = open_source(config)
    with intake_lock(store, config):
        memory = IntakeMemory(memory_path(store))
        done = _replies_owed(store, config, memory, now)
        messages = source.fetch(memory)
        if messages:
            tracker = store.read()
            done += [_one(store, config, tracker, source, memory, message, now) for message in messages]
        source.finish(memory)
        return done


def _replies_owed(store: Store, config: Config, memory: IntakeMemory, now: datetime) -> list[Taken]:
    """The replies earlier runs could not send (the mail server down), tried again; never one already logged."""
    out = []
    for key, owed in list(memory.owed.items()):
        message = Incoming(key, "", owed.get("name", ""), owed.get("address", ""), "", "")
        event_id, title = owed.get("event_id", ""), owed.get("title", "")
        replied, problem = send_reply(store, config, event_id, title, message, now)
        still = problem.startswith(NOT_SENT)
        if not still:
            memory.replied(key)
        out.append(Taken("reply", event_id, message.address, title, problem or "sent now", replied, still))
    return out


def title_of(subject: str) -> str:
    """A message's subject as an event title: reply and forward prefixes (RE:, FW:, AW: ...) off, one line."""
    return " ".join(_PREFIXES.sub("", subject).split())[:200]


def named_event(tracker: Tracker, subject: str) -> str | None:
    """The event ID a subject names (<prefix>-<year>-<n>, the schema's event prefix), written as IDs are."""
    prefix = tracker.schema.vocabulary.event_prefix
    match = re.search(rf"\b{re.escape(prefix)}-(\d{{4}})-(\d+)\b", subject, re.I)
    return f"{prefix}-{match.group(1)}-{int(match.group(2)):04d}" if match else None


def own_addresses(config: Config) -> set[str]:
    """tracker's own addresses: [mail] sender, [mail.graph] mailbox, [intake] mailbox (their mail is never taken)."""
    found = {parseaddr(str(config.mail.sender or ""))[1], config.intake.mailbox}
    graph = config.mail.graph.get("mailbox") if isinstance(config.mail.graph, dict) else None
    found.add(str(graph or ""))
    return {address.casefold() for address in found if address}


def _one(
    store: Store,
    config: Config,
    tracker: Tracker,
    source: Source,
    memory: IntakeMemory,
    message: Incoming,
    now: datetime,
) -> Taken:
    """Take one message in and remember it (after its event is written: the timeline's marker covers a stop)."""
    sender = message.address or message.name or "an unknown sender"
    why = ""
    if message.address.casefold() in own_addresses(config):
        why = "sent by tracker's own address: never taken in"
    elif message.automatic:
        why = "an automatic reply: not taken in"
    if why:
        memory.remember(message, "", now)
        return Taken("ignored", "", sender, message.subject, why)
    marker = f"message {message.key}"
    named = named_event(tracker, message.subject)
    done: Taken | None = None
    if named is not None:
        done = _added(store, message, named, marker, now)
    if done is None:
        done = _opened(store, config, source, message, (marker, named), now, marked_event(tracker, marker))
    owed = {"event_id": done.event_id, "title": done.subject, "name": message.name, "address": message.address}
    memory.remember(message, done.event_id, now, owed if done.owed else None)
    return done


def _added(store: Store, message: Incoming, named: str, marker: str, now: datetime) -> Taken | None:
    """The message's text as an internal note on the event its subject names; None when there is no such event."""
    text = note_text(message.text) or title_of(message.subject)
    try:
        added = add_reported_note(
            store, named, note=f"By mail ({marker}): {text}", author=message.reporter, marker=marker, now=now
        )
    except UnknownEvent:
        return None
    note = "added before tracker stopped; not added twice" if added.already else ""
    if added.status in FINISHED:
        reopen = f'tracker update {added.event_id} --status Investigating --reopen --note "..."'
        note = "; ".join(
            filter(None, [note, f"the event is {added.status}: kept as an internal note; if it is back: {reopen}"])
        )
    return Taken("update", added.event_id, message.address, title_of(message.subject), note)


def _opened(
    store: Store,
    config: Config,
    source: Source,
    message: Incoming,
    about: tuple[str, str | None],
    now: datetime,
    earlier: str | None,
) -> Taken:
    """A new event for the message (`earlier`: the one a stopped run opened for it), and the reporter's one reply.
    `about`: the message's marker, and the event its subject names that is not on the Events sheet."""
    marker, named = about
    title = title_of(message.subject) or "(no subject)"
    where = f"{source.where} ({marker} from {message.address})"
    event_id = earlier or take_in(
        store,
        title=title,
        reporter=message.reporter,
        note=note_text(message.text) or title,
        where=where,
        rules=intake_rules(config),
        now=now,
        marker=marker,
    )
    notes = [f"{named} is not on the Events sheet: taken in as a new event"] if named else []
    if earlier:
        notes.append("taken in before tracker stopped; not taken twice")
    replied, problem = send_reply(store, config, event_id, title, message, now)
    if problem:
        notes.append(problem + ("; the next run tries again" if problem.startswith(NOT_SENT) else ""))
    return Taken("new", event_id, message.address, title, "; ".join(notes), replied, problem.startswith(NOT_SENT))


def follow_at(config: Config) -> str:
    """Where a reporter follows the event: the SharePoint status page, or the local one once published; else ""."""
    publish = config.publish
    if publish.to == "sharepoint" and config.sharepoint is not None:
        return f"{config.sharepoint.site_url.rstrip('/')}/SitePages/{quote(publish.page_name)}"
    if publish.path is not None and publish.path.exists():
        return str(publish.path)
    return ""


def reply_message(config: Config, event_id: str, title: str, message: Incoming, now: datetime) -> Outgoing:
    """The one reply to a reporter: the event ID, its title, where to follow it, how to add information."""
    subject = f"[{event_id}] Taken in: {title}"
    follow = follow_at(config)
    lines = [
        f"{message.name or message.address},",
        "",
        f"Event management has taken in your report as {event_id}: {title}.",
        "The duty event manager leads it from here.",
        "",
    ]
    if follow:
        lines += [f"Follow it on the status page: {follow}", ""]
    lines += [
        f"To add information, reply to this message with {event_id} in the subject.",
        "",
        "-- ",
        "tracker",
        "",
    ]
    text = "\n".join(lines)
    recipient = Recipient(message.address, message.name, "To", "")
    built = build_message(
        parse_sender(config.mail.sender),
        [recipient],
        (subject, text, None),
        about=(event_id, message.address, "reminder"),
        sent_at=now,
    )
    built["In-Reply-To"] = message.key
    built["References"] = message.key
    return Outgoing(event_id, message.address, "reminder", REPLY_STATE, subject, text, "", [recipient], built)


def send_reply(
    store: Store, config: Config, event_id: str, title: str, message: Incoming, now: datetime
) -> tuple[bool, str]:
    """Send the reporter's one reply (not again once logged, whatever stopped a run before); (sent, why not)."""
    allowed = config.mail.allowed_domains or None
    if not message.address or "@" not in message.address:
        return False, "no reply: the sender has no address"
    if allowed and not domain_allowed(message.address, allowed):
        return False, f"no reply: {message.address} is outside [mail] allowed_domains"
    try:
        outgoing = reply_message(config, event_id, title, message, now)
    except (ValueError, TypeError) as exc:  # an address the email package cannot write in a header
        return False, f"no reply: {message.address!r} cannot be written to ({exc})"
    except TrackerError as exc:  # no [mail] sender
        return False, f"{NOT_SENT}{exc}"
    try:
        with sending_lock(store, config):
            tracker = store.read()
            settle(store, tracker, config, now, event_id, ("reminder",))
            if any(r.get("state") == REPLY_STATE for r in log_rows(tracker, store.journal, event_id, ("reminder",))):
                return False, "the reply went before tracker stopped; not sent twice"
            delivery = deliver(store, config, now, [outgoing], [], again="`tracker intake`", teams=False)
    except TrackerError as exc:
        return False, f"{NOT_SENT}{exc}"
    why = delivery.outcome(outgoing)
    if why is None:
        return True, ""
    return False, "" if why == "" else f"{NOT_SENT}{why}"

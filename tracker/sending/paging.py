"""Reaching the stand-by: an open event of a severity with a Page Every (Severities sheet) that nobody has
acknowledged pages the stand-by on duty at their Pager (Roster: an email-to-SMS gateway address) at once and
again every Page Every minutes until `tracker ack`; each escalation such an event has pages them once too. Each page is one short plain message, logged on the
Notifications sheet as kind `page` once per interval (the state names the interval), so a second run, a second
machine or a restarted watch never pages twice for one interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tracker.config import Config
from tracker.rules.clock import duration
from tracker.sending.delivery import deliver, personal_json, sending_lock, settle
from tracker.sending.mail import Outgoing, Recipient, build_message, parse_sender
from tracker.sending.sendlog import is_claim, is_withdrawn, log_rows
from tracker.store.backends import Store
from tracker.times import as_utc, iso
from tracker.workbook.policy import bare_address, is_open, reported_at, whole_minutes
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import DUTY, STANDBY, on_duty

KIND = "page"


@dataclass(frozen=True)
class Page:
    """One page sent (or that could not be: `problem`)."""

    event_id: str
    person: str
    address: str
    subject: str = ""
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form, as reminders and escalations."""
        return personal_json(self)


def _every(tracker: Tracker, event: Row) -> timedelta | None:
    """The event's severity's Page Every (None: its severity is never paged, or the sheet predates the column)."""
    row = tracker.sheet("Severities").find(str(event["severity"] or ""))
    minutes = whole_minutes(row, "Severities", "page_every_minutes")  # TRUE (validate names it) pages nobody
    return timedelta(minutes=minutes) if minutes is not None else None


def owed_pages(tracker: Tracker, journal: Any, now: datetime) -> list[tuple[Row, str, str]]:
    """(event, state, what the page says) of each page owed now, for open events of a paged severity: while it is
    unacknowledged, one per interval since it was reported; and one for each escalation it has had."""
    out = []
    for event in tracker.sheet("Events").rows:
        every = _every(tracker, event) if event["id"] and is_open(event["status"]) else None
        start = reported_at(event)
        if every is None or not isinstance(start, datetime) or as_utc(start) > as_utc(now):
            continue
        if not isinstance(event["acknowledged_at"], datetime):
            number = int((as_utc(now) - as_utc(start)) // every)
            since = as_utc(start) + number * every
            waiting = duration(as_utc(now) - as_utc(start))
            out.append((event, f"page {number + 1} {iso(since)}", f"[PAGE {number + 1}] unacknowledged {waiting}"))
        escalated: dict[str, str] = {}
        for row in log_rows(tracker, journal, str(event["id"]), ("escalation",)):
            if not is_claim(row) and not is_withdrawn(row) and row.get("state"):
                trigger = str(row.get("subject") or "").split(": ", 1)[-1].split(" - ", 1)[0]
                escalated.setdefault(f"page for {row['state']}", f"[PAGE] escalated: {trigger}")
        out += [(event, state, what) for state, what in escalated.items()]
    return out


def _pager(tracker: Tracker, config: Config, now: datetime) -> tuple[str, str]:
    """(person, pager address) of the stand-by on duty with a Pager, else of the duty event manager with one (the
    hours a roster has no stand-by); ("", "") when there is none."""
    roster = tracker.sheet("Roster")
    for role in (STANDBY, DUTY):
        for shift in on_duty(tracker, config.display.tz, now, role):
            row = next((r for r in roster.rows if r.number == shift.row), None)
            pager = bare_address(row.get("pager")) if row is not None else ""  # "555 0100": the next one
            if pager:
                return shift.person, pager
    return "", ""


def send_pages(store: Store, config: Config, now: datetime) -> list[Page]:
    """Page the stand-by for each open, unacknowledged event its severity pages, once per interval."""
    with sending_lock(store, config):
        tracker = store.read()
        settle(store, tracker, config, now, kinds=(KIND,))
        owed = owed_pages(tracker, store.journal, now)
        if not owed:
            return []
        person, address = _pager(tracker, config, now)
        out: list[Page] = []
        outgoing: list[Outgoing] = []
        for event, state, what in owed:
            key = str(event["id"])
            if any(r.get("state") == state for r in log_rows(tracker, store.journal, key, (KIND,))):
                continue
            if not address:
                why = "nobody to page: no stand-by or duty event manager with a Pager (Roster) is on duty now"
                out.append(Page(key, person, "", problem=why))
                continue
            message = _page(event, person, address, what, now, config, state)
            outgoing.append(message)
            out.append(Page(key, person, address, message.subject))
        if not outgoing:
            return out
        delivery = deliver(store, config, now, outgoing, [], again="`tracker watch`", teams=False)
        return delivery.settle(out, outgoing, lambda who, why: Page("", who, "", problem=why))


def _page(event: Row, person: str, address: str, what: str, now: datetime, config: Config, state: str) -> Outgoing:
    """A page: short and plain, for a phone's text message."""
    key = str(event["id"])
    tag, _, why = what.partition("] ")
    subject = f"{tag}] {key} {event['severity']} {why}"
    text = f"{key} {event['severity']}: {str(event['title'] or '')[:80]}. {why[:1].upper()}{why[1:]}. Ack: tracker ack {key}\n"
    recipient = Recipient(address, person, "To", "")
    message = build_message(
        parse_sender(config.mail.sender), [recipient], (subject, text, None), about=(key, person, KIND), sent_at=now
    )
    return Outgoing(key, person, KIND, state, subject, text, "", [recipient], message)

"""Reaching the stand-by: an open event of a severity with a Page Every (Severities sheet) that nobody has
acknowledged pages the stand-by on duty at their Pager (Roster: an email-to-SMS gateway address) at once and
again every Page Every minutes until `tracker ack`. Each page is one short plain message, logged on the
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
from tracker.sending.sendlog import log_rows
from tracker.store.backends import Store
from tracker.times import as_utc, iso
from tracker.workbook.policy import is_open
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import STANDBY, on_duty

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
    minutes = row.get("page_every_minutes") if row is not None else None
    return timedelta(minutes=minutes) if isinstance(minutes, int) and minutes > 0 else None


def owed_pages(tracker: Tracker, now: datetime) -> list[tuple[Row, int, datetime]]:
    """(event, interval number, the interval's start) of each open, unacknowledged event its severity pages."""
    out = []
    for event in tracker.sheet("Events").rows:
        if not event["id"] or not is_open(event["status"]) or isinstance(event["acknowledged_at"], datetime):
            continue
        every = _every(tracker, event)
        start = event["reported_at"] if isinstance(event["reported_at"], datetime) else event["detected_at"]
        if every is None or not isinstance(start, datetime) or as_utc(start) > as_utc(now):
            continue
        number = int((as_utc(now) - as_utc(start)) // every)
        out.append((event, number, as_utc(start) + number * every))
    return out


def _pager(tracker: Tracker, config: Config, now: datetime) -> tuple[str, str]:
    """(person, pager address) of the stand-by on duty with a Pager; ("", "") when there is none."""
    roster = tracker.sheet("Roster")
    for shift in on_duty(tracker, config.display.tz, now, STANDBY):
        row = next((r for r in roster.rows if r.number == shift.row), None)
        pager = str(row.get("pager") or "").strip() if row is not None else ""
        if pager:
            return shift.person, pager
    return "", ""


def send_pages(store: Store, config: Config, now: datetime) -> list[Page]:
    """Page the stand-by for each open, unacknowledged event its severity pages, once per interval."""
    with sending_lock(store, config):
        tracker = store.read()
        settle(store, tracker, config, now, kinds=(KIND,))
        owed = owed_pages(tracker, now)
        if not owed:
            return []
        person, address = _pager(tracker, config, now)
        out: list[Page] = []
        outgoing: list[Outgoing] = []
        for event, number, since in owed:
            key = str(event["id"])
            state = f"page {number + 1} {iso(since)}"
            if any(r.get("state") == state for r in log_rows(tracker, store.journal, key, (KIND,))):
                continue
            if not address:
                why = "nobody to page: no stand-by with a Pager (Roster) is on duty now"
                out.append(Page(key, person, "", problem=why))
                continue
            message = _page(event, person, address, number + 1, now, config, state)
            outgoing.append(message)
            out.append(Page(key, person, address, message.subject))
        if not outgoing:
            return out
        delivery = deliver(store, config, now, outgoing, [], again="`tracker watch`", teams=False)
        return delivery.settle(out, outgoing, lambda who, why: Page("", who, "", problem=why))


def _page(event: Row, person: str, address: str, number: int, now: datetime, config: Config, state: str) -> Outgoing:
    """A page: short and plain, for a phone's text message."""
    key = str(event["id"])
    start = event["reported_at"] if isinstance(event["reported_at"], datetime) else event["detected_at"]
    waiting = duration(as_utc(now) - as_utc(start))
    subject = f"[PAGE {number}] {key} {event['severity']} unacknowledged {waiting}"
    text = f"{key} {event['severity']}: {str(event['title'] or '')[:80]}. Unacknowledged {waiting}. Ack: tracker ack {key}\n"
    recipient = Recipient(address, person, "To", "")
    message = build_message(
        parse_sender(config.mail.sender), [recipient], (subject, text, None), about=(key, person, KIND), sent_at=now
    )
    return Outgoing(key, person, KIND, state, subject, text, "", [recipient], message)

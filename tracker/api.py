"""`tracker.EventTracker`: tracker for a program, one object for one tracker.toml and the workbook it names. Each
method does what the command of the same name does, with the same rules and the same answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tracker.checks import check
from tracker.config import Config, load_config
from tracker.rules.clock import Due, blocked_notices, due_items, unconfirmed_emails
from tracker.rules.events import Outcome, list_events, open_event, resolve_event, update_event
from tracker.rules.problem import Problem
from tracker.sending.gate import blocked_first_notices
from tracker.sending.intake_mail import Taken, take_in_mail
from tracker.sending.notify import NotifyResult, notify
from tracker.sending.sendlog import unconfirmed
from tracker.store.backends import Store, open_store
from tracker.times import utcnow
from tracker.window.publish import publish_status
from tracker.window.status_page import Published
from tracker.workbook.reading import Row, Tracker


class EventTracker:
    """One tracker: its configuration and its workbook (local or on SharePoint).

    tracker = EventTracker.open("tracker.toml")
    for problem in tracker.validate():  # what `tracker validate` prints
        print(problem)
    """

    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.store = store or open_store(config)

    @classmethod
    def open(cls, config: str | Path = "tracker.toml") -> EventTracker:
        """The tracker tracker.toml at `config` describes."""
        return cls(load_config(str(config)))

    def read(self) -> Tracker:
        """The workbook as it is now, for looking only."""
        return self.store.read()

    def validate(self) -> list[Problem]:
        """Every finding `tracker validate` reports (`tracker validate --json` prints their `to_dict()`)."""
        return check(self.config, self.store.read())

    def events(self, *, open_only: bool = False) -> list[Row]:
        """The Events rows, in sheet order (`tracker list`)."""
        return list_events(self.store.read(), open_only=open_only)

    def open_event(self, *, title: str, severity: str, services: Sequence[str] = (), **options: Any) -> str:
        """Open an event (`tracker open`); returns its ID. `options`: open_event's (category, status, detected_at,
        note, public_note, fields)."""
        options.setdefault("author", self.config.user)
        options.setdefault("zone", self.config.display.tz)
        return open_event(self.store, title=title, severity=severity, services=services, **options)

    def update(self, event_id: str, *, note: str, **options: Any) -> Outcome:
        """Add an update (`tracker update`). `options`: update_event's (status, eta, internal, public_note, fields)."""
        options.setdefault("author", self.config.user)
        options.setdefault("review_required_for", self.config.review.required_for)
        options.setdefault("internal_audiences", self.config.internal_audiences)
        return update_event(self.store, event_id, note=note, **options)

    def resolve(self, event_id: str, *, note: str, **options: Any) -> Outcome:
        """Resolve an event (`tracker resolve`). `options`: resolve_event's (cause, public_cause, resolved_at)."""
        options.setdefault("author", self.config.user)
        return resolve_event(self.store, event_id, note=note, **options)

    def notify(self, event_id: str, **options: Any) -> NotifyResult:
        """Send the event's outage emails (`tracker notify`). `options`: audiences, dry_run, force, no_change."""
        return notify(self.store, self.config, event_id, **options)

    def due(self, within: timedelta | None = None) -> list[Due]:
        """What the team owes now (`tracker due`): emails nobody knows arrived, first notices blocked by an empty
        field, then updates, SLAs, reviews."""
        tracker, now, journal = self.store.read(), utcnow(), self.store.journal
        blocked = blocked_notices(tracker, self.config, now, blocked_first_notices(tracker, journal))
        return (
            unconfirmed_emails(tracker, unconfirmed(tracker, journal))
            + blocked
            + due_items(tracker, self.config, now, within)
        )

    def publish(self, audience: str | None = None, out: Path | None = None, now: datetime | None = None) -> Published:
        """Publish the status page (`tracker publish`) for `audience` (default: [publish] audience), to `out` or
        where [publish] says."""
        return publish_status(self.config, self.store.read(), now or utcnow(), audience=audience, out=out)

    def intake(self, now: datetime | None = None) -> list[Taken]:
        """Take in the team mailbox's new messages (`tracker intake`): what became of each (`Taken.line()` is the
        command's line)."""
        return take_in_mail(self.store, self.config, now or utcnow())

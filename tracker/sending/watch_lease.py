"""The watch's heartbeat and lease: when reminders last ran, and which of several `tracker watch` sends them.

Every tick of `tracker watch` records a heartbeat. For a local workbook it is a small file beside the workbook's
other local state (`heartbeat_path`). For a SharePoint workbook it is the Watch sheet (schema `x-added` 0.4), which
is also the lease: each watch that claims the job adds a row for a term (1, 2, ...); the earliest row of the
highest term holds it (in upload mode If-Match lets one plan add it; in workbook-api mode rows are added without a
condition and the table's order decides, as the message claims of `tracker.sending.claims` do). The holder sets
its row's Heartbeat once per tick; the others stand by, look at the lease every half interval, and claim the next
term when the holder's heartbeat is older than TAKE_OVER_AFTER intervals, so a watch stopped by kill -9 is
replaced within two intervals. Messages a dying holder had claimed stay its own until their claims expire, so
none goes out twice.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker import files
from tracker.config import Config
from tracker.errors import TrackerError
from tracker.sending.ledger import instance_id
from tracker.store.backends import Store
from tracker.times import as_utc, iso, utcnow
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.reading import Tracker
from tracker.workbook.roster import address_of, on_duty

if TYPE_CHECKING:
    from tracker.sending.mail import Outgoing

SHEET = "Watch"
TAKE_OVER_AFTER = 1.5  # intervals without a heartbeat before a standby claims the next term
QUIET_AFTER = 3  # intervals without a heartbeat: `due` and the status page say the watch has gone quiet


@dataclass(frozen=True)
class Heartbeat:
    """When a watch last ticked, its interval and where it runs."""

    at: datetime
    every: timedelta
    where: str

    def quiet(self, now: datetime) -> bool:
        """Whether the watch has gone quiet: no tick for more than QUIET_AFTER intervals."""
        return as_utc(now) - as_utc(self.at) > QUIET_AFTER * self.every

    def line(self, now: datetime, show: Any) -> str:
        """What `due` and the status page say: when reminders last ran, loudly when that is too long ago."""
        minutes = int(self.every.total_seconds() // 60)
        if self.quiet(now):
            return (
                f"WARNING: reminders and escalations last ran at {show(self.at)} ({self.where}), more than "
                f"{QUIET_AFTER} intervals of {minutes} min ago: the watch has stopped; start `tracker watch` again"
            )
        return f"reminders last ran at {show(self.at)} ({self.where}, every {minutes} min)"

    def to_json(self, now: datetime) -> dict[str, Any]:
        """As `due --json` shows it."""
        return {
            "at": as_utc(self.at).isoformat().replace("+00:00", "Z"),
            "every_minutes": int(self.every.total_seconds() // 60),
            "where": self.where,
            "quiet": self.quiet(now),
        }


def heartbeat_path(store: Store) -> Path:
    """The local heartbeat file: beside the workbook's lock files (one per workbook on this machine)."""
    return store.lock_path("heartbeat").with_suffix(".json")


def write_local(store: Store, now: datetime, every: timedelta) -> None:
    """Record this tick in the local heartbeat file (written whole, then renamed: a reader never sees half)."""
    where = f"{socket.gethostname()}, process {os.getpid()}"
    data = {"at": as_utc(now).isoformat(), "every_minutes": every.total_seconds() / 60, "where": where}
    files.write_atomic(heartbeat_path(store), json.dumps(data))


def last_heartbeat(store: Store, tracker: Tracker) -> Heartbeat | None:
    """When a watch last ticked: the Watch sheet's holder for a SharePoint workbook (any machine's watch), else the
    local file; None when no watch ever ran."""
    return heartbeat_in(tracker, heartbeat_path(store))


def heartbeat_in(tracker: Tracker, path: Path | None = None) -> Heartbeat | None:
    """When a watch last ticked, from the workbook: the Watch sheet's holder, else the heartbeat file `path` (by
    default the one beside a local workbook)."""
    if tracker.sheet(SHEET).present:
        holder = holder_of([dict(row.values) for row in tracker.sheet(SHEET).rows])
        if holder is not None and holder.heartbeat is not None:
            return Heartbeat(holder.heartbeat, holder.every, f"watch on {holder.host}")
    if path is None and isinstance(tracker.content, Path):  # as the local store's lock_path names it
        path = tracker.content.parent / f".{tracker.content.name}.tracker-heartbeat.json"
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Heartbeat(
            datetime.fromisoformat(data["at"]), timedelta(minutes=float(data["every_minutes"])), data["where"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Holder:
    """The row that holds the lease: the earliest of the highest term."""

    claim: str
    term: int
    host: str
    heartbeat: datetime | None
    every: timedelta


def _term(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def holder_of(rows: list[dict[str, Any]]) -> Holder | None:
    """Who holds the lease, from the Watch sheet's rows in table order."""
    best: dict[str, Any] | None = None
    for row in rows:
        if row.get("claim") and (best is None or _term(row.get("term")) > _term(best.get("term"))):
            best = row
    if best is None:
        return None
    beat = best.get("heartbeat")
    minutes = _term(best.get("every")) or 1
    return Holder(
        str(best["claim"]),
        _term(best.get("term")),
        str(best.get("host") or "?"),
        as_utc(beat) if isinstance(beat, datetime) else None,
        timedelta(minutes=minutes),
    )


class Lease:
    """This watch's part in the lease of a SharePoint workbook: `tick` says whether it is the active watch now."""

    def __init__(self, store: Store, every: timedelta) -> None:
        self.store = store
        self.every = every
        self.claim: str | None = None  # the Watch row this watch added, while it holds the lease
        self.active: bool | None = None  # what the last tick found (None: not yet looked)
        self.beat: datetime | None = None  # when this watch last renewed its heartbeat

    def _me(self) -> str:
        mine = instance_id(self.store.journal)
        tracker = f", tracker {mine}" if mine else ""
        return f"{socket.gethostname()} (process {os.getpid()}{tracker})"

    def _stale(self, holder: Holder, now: datetime) -> bool:
        beat = holder.heartbeat
        return beat is None or as_utc(now) - beat > TAKE_OVER_AFTER * max(holder.every, self.every)

    def tick(self, now: datetime) -> tuple[bool, str]:
        """Renew the lease or look at it: (whether this watch is active, a line to say when that changed)."""
        found: dict[str, Holder | None] = {}

        def plan(tracker: Tracker) -> list[Edit]:
            found.clear()  # planned again on a newer version (412): decide afresh
            sheet = tracker.sheet(SHEET)
            if not sheet.present:  # an older workbook: this watch works alone, as before the lease
                found["absent"] = None
                return []
            holder = holder_of([dict(row.values) for row in sheet.rows])
            found["holder"] = holder
            minutes = max(1, int(self.every.total_seconds() // 60))
            if holder is not None and holder.claim == self.claim:  # ours: the heartbeat, once per tick
                return [SetCells(SHEET, holder.claim, {"heartbeat": now, "every": minutes})]
            if holder is not None and not self._stale(holder, now):
                return []
            term = (holder.term if holder else 0) + 1
            claim = f"term {term} by {self._me()}"[:250]
            found["claimed"] = Holder(claim, term, socket.gethostname(), now, self.every)
            values = {"claim": claim, "term": term, "host": socket.gethostname(), "claimed_at": now}
            return [AppendRow(SHEET, values | {"heartbeat": now, "every": minutes}, unique="claim")]

        self.store.commit(plan, keep=False)
        active, line = self._decide(found)
        self.beat = now if active else None
        return active, line

    def keep_up(self) -> None:
        """Between the steps of a long tick: renew the heartbeat once half an interval has passed since the last,
        so that a slow tick (a large workbook, a slow mail server) does not look like a dead watch. A fault here
        waits for the next tick."""
        now = utcnow()
        if self.claim is None or self.beat is None or now - self.beat < self.every / 2:
            return
        try:
            self.tick(now)
        except (TrackerError, OSError):
            return

    def _decide(self, found: dict[str, Holder | None]) -> tuple[bool, str]:
        holder, claimed = found.get("holder"), found.get("claimed")
        was = self.active
        if "absent" in found:
            self.active = True
            return True, "" if was else (
                "watch: warning: the workbook has no Watch sheet (added in tracker 0.4): no heartbeat in the "
                "workbook and no lease, so a second `tracker watch` on it would not stand by (messages still go "
                "once); `tracker validate` says how to add the sheet"
            )
        if claimed is not None:
            table = self.store.rows_now(SHEET)  # workbook-api: rows added without a condition; the first one wins
            winner = holder_of(table) if table is not None else claimed
            won = winner is not None and winner.claim == claimed.claim
            self.claim = claimed.claim if won else None
            if won:
                self.active = True
                before = f" from the watch on {holder.host}, silent since {iso(holder.heartbeat)}" if holder else ""
                return True, f"watch: active (term {claimed.term}){before}"
            holder = winner
        elif holder is not None and holder.claim == self.claim:
            self.active = True
            return True, ""
        else:
            self.claim = None
        self.active = False
        if was is False:
            return False, ""
        who = f"the watch on {holder.host} (term {holder.term})" if holder else "another watch"
        return False, f"watch: standby: {who} is active; this one takes over if it stops"


OPERATIONS = "operations manager"  # the Roster role told when the watch has gone quiet


def tell_quiet(store: Store, config: Config, now: datetime, beat: Heartbeat | None) -> str:
    """`due --heartbeat` found the watch quiet: tell the operations manager on duty (Roster), once per silence (a
    file beside the heartbeat's records which silence was told; a personal message with no event, so not on the
    Notifications sheet). Returns what was done, one line."""
    from tracker.sending.delivery import sending_lock  # lazy: a plain `due` reads the heartbeat, loads no mail
    from tracker.sending.transports import open_transport  # lazy: as above (smtplib, ssl, email: 22 ms)

    state = f"watch quiet since {iso(beat.at) if beat else 'never'}"
    record = store.lock_path("heartbeat-told").with_suffix(".json")
    with sending_lock(store, config):
        try:
            if json.loads(record.read_text(encoding="utf-8")).get("told") == state:
                return f"the {OPERATIONS} was told already ({state})"
        except (OSError, ValueError, AttributeError):
            pass
        tracker = store.read()
        shifts = on_duty(tracker, config.display.tz, now, OPERATIONS)
        found = [(s.person, s.email or address_of(tracker, s.person)) for s in shifts]
        person, address = next(((p, a) for p, a in found if a), ("", ""))
        if not address:
            return f"nobody told: no {OPERATIONS} with an email is on duty; add one to the Roster sheet (Role column)"
        outgoing = _quiet_message(store, config, now, beat, person, address, state)
        files.write_atomic(record, json.dumps({"told": state}))  # before it goes: a crash never tells twice
        with open_transport(config) as transport:
            transport.send_messages([outgoing])
        if not outgoing.sent:
            record.unlink(missing_ok=True)  # the next run tries again
            return f"the {OPERATIONS} {person} <{address}> could not be told: {outgoing.error}"
    return f"told the {OPERATIONS} {person} <{address}>"


def _quiet_message(
    store: Store, config: Config, now: datetime, beat: Heartbeat | None, person: str, address: str, state: str
) -> Outgoing:
    from tracker.sending.mail import Outgoing, Recipient, build_message, parse_sender  # lazy: as in tell_quiet

    last = f"last ran at {iso(beat.at)}" if beat else "never ran"
    subject = f"[WATCH STOPPED] reminders and escalations {last} - {store.location}"[:200]
    text = (
        f"{person},\n\nThe `tracker watch` that sends reminders and escalations for {store.location} {last}: "
        "nobody is reminded of updates due and no SLA breach is escalated until it runs again.\n\n"
        "Start it again (`tracker watch`), or send what is owed by hand: `tracker due --remind --escalate`.\n\n"
        "-- \ntracker\n"
    )
    recipient = Recipient(address, person, "To", "")
    sender = parse_sender(config.mail.sender)
    message = build_message(sender, [recipient], (subject, text, None), about=("", person, "escalation"), sent_at=now)
    return Outgoing("", person, "escalation", state, subject, text, "", [recipient], message)

"""The shift handover: at each Roster shift change (`tracker due --remind` and every `watch` tick) the outgoing and
incoming people get one summary of what is open (`tracker handover` prints it at any time), once per shift change,
sent and logged as reminders are (Notifications: kind reminder, State `handover ROLE TIME`); the timeline of each
event whose role follows the Roster records the handover, and its role cell names the incoming person."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tracker.config import Config
from tracker.rules.actions import list_actions
from tracker.rules.clock import due_items
from tracker.rules.typed import waiting_intake
from tracker.sending.delivery import commit_log, deliver, sending_lock, settle
from tracker.sending.mail import Outgoing, Recipient, build_message, domain_allowed, parse_sender
from tracker.sending.reminders import Reminder
from tracker.sending.sendlog import log_rows
from tracker.sending.teams import teams_settings
from tracker.store.backends import Store
from tracker.times import format_time, iso
from tracker.workbook.duty import EVENT_MANAGER, ShiftChange, follows, holder, role_fields, shift_changes
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.policy import BOOKKEEPER, is_bookkeeping, is_open, updates_in_order
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import address_of, person_key

WINDOW = timedelta(minutes=30)
"""A shift change is handed over by the first `due --remind` or `watch` tick within this time after it; one missed
for longer (nothing ran) is not sent late: `tracker handover` shows the same summary at any time."""

SLA_KINDS = ("first response", "restoration")


@dataclass(frozen=True)
class EventLine:
    """One open event as the handover tells it."""

    event_id: str
    title: str
    severity: str
    status: str
    event_manager: str
    communication_lead: str
    acknowledged: bool
    latest: dict[str, Any] | None  # the latest update: at, author, note
    next: dict[str, Any] | None  # what is due next: what, state, at

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (see README, "Shift handover")."""
        return {
            "id": self.event_id,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "event_manager": self.event_manager or None,
            "communication_lead": self.communication_lead or None,
            "acknowledged": self.acknowledged,
            "latest_update": self.latest,
            "next_due": self.next,
        }


@dataclass(frozen=True)
class Handover:
    """What the incoming people need: open events, SLA timers at risk, unacknowledged events, open review actions
    and reports waiting to be taken in."""

    at: datetime
    on_duty: dict[str, str]  # event role -> who holds it now (Roster)
    events: list[EventLine]
    at_risk: list[dict[str, Any]]
    unacknowledged: list[str]
    actions: list[dict[str, Any]]
    intake: list[dict[str, Any]]
    change: ShiftChange | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (see README, "Shift handover")."""
        change = None
        if self.change is not None:
            out, inc = self.change.outgoing, self.change.incoming
            change = {
                "role": self.change.role,
                "at": iso(self.change.at),
                "outgoing": out.person if out else None,
                "incoming": inc.person if inc else None,
            }
        return {
            "at": iso(self.at),
            "shift_change": change,
            "on_duty": {role: person or None for role, person in self.on_duty.items()},
            "open_events": [e.to_json() for e in self.events],
            "sla_at_risk": self.at_risk,
            "unacknowledged": self.unacknowledged,
            "open_actions": self.actions,
            "pending_intake": self.intake,
        }


def _iso(value: Any) -> str | None:
    """A time in the summary's JSON form; None for a cell that holds none (text validate names)."""
    return iso(value) if isinstance(value, datetime) else None


def _latest(tracker: Tracker, keys: set[str]) -> dict[str, Row]:
    """Each event's (casefolded ID) latest update that is news (tracker's own bookkeeping lines left out)."""
    given = updates_in_order(tracker, keys)  # placed in time as every view places them
    return {key: news[-1] for key, rows in given.items() if (news := [r for r in rows if not is_bookkeeping(r)])}


def handover_summary(tracker: Tracker, config: Config, now: datetime, change: ShiftChange | None = None) -> Handover:
    """The handover at `now` (for `change`, when a shift change is what it is for)."""
    zone = config.display.tz
    opened = [e for e in tracker.sheet("Events").rows if e["id"] and is_open(e["status"])]
    latest = _latest(tracker, {str(e["id"]).strip().casefold() for e in opened})
    owed = due_items(tracker, config, now)
    lines = []
    for event in opened:
        key = str(event["id"])
        update = latest.get(key.strip().casefold())
        mine = [d for d in owed if d.event_id == key]
        lines.append(
            EventLine(
                key,
                str(event["title"] or ""),
                str(event["severity"] or ""),
                str(event["status"] or ""),
                holder(tracker, zone, event, EVENT_MANAGER, now),
                holder(tracker, zone, event, "communication lead", now),
                isinstance(event["acknowledged_at"], datetime),
                {"at": _iso(update["at"]), "author": update["author"], "note": update["note"]} if update else None,
                {"what": mine[0].kind, "state": mine[0].state, "at": iso(mine[0].at), "owed_by": mine[0].responsible}
                if mine
                else None,
            )
        )
    risky = [
        {"event_id": d.event_id, "timer": d.kind, "state": d.state, "at": iso(d.at)}
        for d in owed
        if d.kind in SLA_KINDS
    ]
    actions = [
        {"id": r["id"], "event_id": r["event_id"], "action": r["action"], "owner": r["owner"], "due_date": _day(r)}
        for r in list_actions(tracker, open_only=True)
    ]
    intake = [{"row": r.number, "title": str(r["title"] or "")} for r in waiting_intake(tracker)]
    nobody = Row(0, {})  # an event naming nobody: each role's holder is whoever is on duty in it
    on_duty = {role: holder(tracker, zone, nobody, role, now) for role in role_fields(tracker)}
    on_duty = {role: person for role, person in on_duty.items() if person or role == EVENT_MANAGER}
    unacked = [line.event_id for line in lines if not line.acknowledged]
    return Handover(now, on_duty, lines, risky, unacked, actions, intake, change)


def _day(row: Row) -> str | None:
    value = row["due_date"]
    return value.date().isoformat() if isinstance(value, datetime) else None


def handover_text(summary: Handover, config: Config) -> str:
    """The summary as the email, the Teams card and `tracker handover` say it."""
    zone, fmt = config.display.tz, config.display.time_format

    def when(text: str | None) -> str:
        return format_time(datetime.fromisoformat(text.replace("Z", "+00:00")), tz=zone, fmt=fmt) if text else "-"

    head = f"Handover at {format_time(summary.at, tz=zone, fmt=fmt)}"
    if summary.change is not None:
        out, inc = summary.change.outgoing, summary.change.incoming
        head += (
            f": {summary.change.role} {out.person if out else 'nobody'} -> {inc.person if inc else 'nobody'} "
            f"(Roster shift change at {format_time(summary.change.at, tz=zone, fmt=fmt)})"
        )
    duty = ", ".join(f"{role} {person}" for role, person in summary.on_duty.items() if person) or "nobody"
    lines = [head, f"On duty now: {duty}", "", f"Open events ({len(summary.events)}):"]
    for e in summary.events:
        lines.append(f"  {e.event_id}  {e.severity}  {e.status}  {e.title}")
        lines.append(f"    event manager {e.event_manager or '-'}, communication lead {e.communication_lead or '-'}")
        if e.latest:
            lines.append(f"    latest update {when(e.latest['at'])} ({e.latest['author'] or '-'}): {e.latest['note']}")
        if e.next:
            owed = f", owed by {e.next['owed_by']}" if e.next["owed_by"] else ""
            lines.append(f"    next: {e.next['what']} {e.next['state']} {when(e.next['at'])}{owed}")
    sections = (
        (
            "SLA timers at risk",
            [f"  {r['event_id']}  {r['timer']} {r['state']} ({when(r['at'])})" for r in summary.at_risk],
        ),
        ("Not acknowledged", [f"  {key}  (tracker ack {key})" for key in summary.unacknowledged]),
        (
            "Open review actions",
            [
                f"  {a['id']}  {a['event_id']}  {a['action']} ({a['owner'] or '-'}, due {a['due_date'] or '-'})"
                for a in summary.actions
            ],
        ),
        (
            "Reports waiting to be taken in (Events rows without an ID)",
            [f"  row {i['row']}: {i['title']}" for i in summary.intake],
        ),
    )
    for title, items in sections:
        lines += ["", f"{title}: {'none' if not items else len(items)}", *items]
    return "\n".join(lines) + "\n"


def _timeline(tracker: Tracker, change: ShiftChange, now: datetime, config: Config) -> list[Edit]:
    """For each open event whose role follows the Roster and passes to someone else: a bookkeeping line on its
    timeline, and its role cell naming the incoming person (empty when nobody holds the role now)."""
    name = role_fields(tracker).get(change.role)
    if name is None:
        return []
    zone = config.display.tz
    at = format_time(change.at, tz=zone, fmt=config.display.time_format)
    edits: list[Edit] = []
    for event in tracker.sheet("Events").rows:
        if not event["id"] or not is_open(event["status"]) or not follows(tracker, event, change.role):
            continue
        before = holder(tracker, zone, event, change.role, change.at - timedelta(seconds=1))
        after = holder(tracker, zone, event, change.role, change.at)
        if person_key(before) == person_key(after):
            continue
        key = str(event["id"])
        said = after or "nobody on the Roster (the event manager owes the updates)"
        note = f"Handover: {change.role} {before or 'nobody'} -> {said} (Roster shift change at {at})"
        values = {"event_id": key, "at": now, "author": BOOKKEEPER, "status": event["status"], "note": note}
        edits.append(AppendRow("Updates", values | {"internal": "Yes"}))
        if person_key(event[name]) != person_key(after):
            edits.append(SetCells("Events", key, {name: after or None}, {name: event[name]}))
    return edits


def _logged(tracker: Tracker, store: Store, state: str) -> bool:
    return any(r.get("state") == state for r in log_rows(tracker, store.journal, "", ("reminder",)))


def due_changes(tracker: Tracker, config: Config, now: datetime) -> list[ShiftChange]:
    """The shift changes to hand over now: the latest of each role within WINDOW before `now`."""
    latest: dict[str, ShiftChange] = {}
    for change in shift_changes(tracker, config.display.tz, now - WINDOW, now):
        latest[change.role] = change
    return list(latest.values())


def send_handovers(store: Store, config: Config, now: datetime) -> list[Reminder]:
    """Send each shift change's handover once (to the outgoing and incoming people), log it, and record it on the
    timelines of the events whose role follows the Roster. Returns what was sent and what could not be."""
    teams_settings(config)  # a [teams] section without its webhook URL stops here, before anything is sent
    with sending_lock(store, config):
        tracker = store.read()
        settle(store, tracker, config, now, kinds=("reminder",))
        todo = [c for c in due_changes(tracker, config, now) if not _logged(tracker, store, c.state)]
        if not todo:
            return []
        out: list[Reminder] = []
        outgoing: list[Outgoing] = []
        edits: dict[str, list[Edit]] = {}
        for change in todo:
            people = _people(tracker, config, change)
            if not people:
                why = "nobody outgoing or incoming has an email (Roster or Distribution sheet)"
                out.append(Reminder("", change.role, "", "handover", change.at, problem=f"handover not sent: {why}"))
                continue
            text = handover_text(handover_summary(tracker, config, now, change), config)
            message = _message(change, people, text, now, config)
            outgoing.append(message)
            edits[message.message_id] = _timeline(tracker, change, now, config)
            names, addresses = ", ".join(p for p, _ in people), ", ".join(a for _, a in people)
            out.append(Reminder("", names, addresses, "handover", change.at, message.subject))
        if not outgoing:
            return out
        delivery = deliver(store, config, now, outgoing, [])
        timeline = [e for m in outgoing if delivery.outcome(m) is None for e in edits[m.message_id]]
        if timeline:
            reason = commit_log(store, timeline, "the handover on the events' timelines")
            if reason:
                delivery.notes.append(f"the handover's timeline lines wait in the journal ({reason}); `tracker sync`")
        return delivery.settle(out, outgoing, lambda person, why: Reminder("", person, "", "", now, problem=why))


def _people(tracker: Tracker, config: Config, change: ShiftChange) -> list[tuple[str, str]]:
    """(person, address) of the outgoing and incoming people tracker may write to."""
    allowed = config.mail.allowed_domains or None
    out: list[tuple[str, str]] = []
    for shift in (change.outgoing, change.incoming):
        if shift is None or any(person_key(person) == person_key(shift.person) for person, _ in out):
            continue
        address = shift.email or address_of(tracker, shift.person)
        if address and (not allowed or domain_allowed(address, allowed)):
            out.append((shift.person, address))
    return out


def _message(change: ShiftChange, people: list[tuple[str, str]], text: str, now: datetime, config: Config) -> Outgoing:
    at = format_time(change.at, tz=config.display.tz, fmt=config.display.time_format)
    names = ", ".join(p for p, _ in people)
    subject = f"[HANDOVER] {change.role} at {at}: " + " -> ".join(
        shift.person if shift else "nobody" for shift in (change.outgoing, change.incoming)
    )
    body = f"{names},\n\n{text}\n-- \ntracker (shift handover)\n"
    sender = parse_sender(config.mail.sender)
    recipients = [Recipient(address, person, "To", "") for person, address in people]
    message = build_message(sender, recipients, (subject, body, None), about=("", names, "reminder"), sent_at=now)
    return Outgoing("", names, "reminder", change.state, subject, body, "", recipients, message)


def send_handover_now(store: Store, config: Config, now: datetime) -> list[Reminder]:
    """`tracker handover --send`: the summary now to whoever is on duty as event manager and communication lead
    (once per minute: the Notifications State `handover sent TIME`)."""
    teams_settings(config)
    with sending_lock(store, config):
        tracker = store.read()
        settle(store, tracker, config, now, kinds=("reminder",))
        state = f"handover sent {iso(now.replace(second=0, microsecond=0))}"
        if _logged(tracker, store, state):
            return []
        summary = handover_summary(tracker, config, now)
        allowed = config.mail.allowed_domains or None
        people: list[tuple[str, str]] = []
        for person in dict.fromkeys(p for p in summary.on_duty.values() if p):
            address = address_of(tracker, person)
            if address and (not allowed or domain_allowed(address, allowed)):
                people.append((person, address))
        if not people:
            return [Reminder("", "", "", "handover", now, problem="nobody on duty has an email (Roster sheet)")]
        names = ", ".join(p for p, _ in people)
        at = format_time(now, tz=config.display.tz, fmt=config.display.time_format)
        subject = f"[HANDOVER] open events at {at}"
        body = f"{names},\n\n{handover_text(summary, config)}\n-- \ntracker (shift handover)\n"
        recipients = [Recipient(address, person, "To", "") for person, address in people]
        sender = parse_sender(config.mail.sender)
        message = build_message(sender, recipients, (subject, body, None), about=("", names, "reminder"), sent_at=now)
        outgoing = [Outgoing("", names, "reminder", state, subject, body, "", recipients, message)]
        delivery = deliver(store, config, now, outgoing, [])
        sent = [Reminder("", names, ", ".join(a for _, a in people), "handover", now, subject)]
        return delivery.settle(sent, outgoing, lambda person, why: Reminder("", person, "", "", now, problem=why))

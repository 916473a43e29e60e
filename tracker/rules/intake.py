"""Intake: how an event reported to event management starts, from an Events row typed without an ID or from a
message to the team mailbox.

Both take the next ID under the same lock as `tracker open`, set Reported to EM to when tracker first saw the
report (the first-response timer starts there), name the duty event manager from the Roster, start at
Investigating with the severity given or the triage severity ([intake] severity), and write a first timeline
line by tracker saying where the event came from. That line marks the event as taken in: the duty event manager
is told once (`tracker.sending.reminders`), with what the first notice still needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from tracker.errors import UsageError
from tracker.rules.events import _event_manager, _severity, next_event_id
from tracker.store.backends import Store
from tracker.times import utcnow
from tracker.workbook.edits import AppendRow, Edit
from tracker.workbook.policy import BOOKKEEPER, INITIAL, OPEN_STATUSES, next_update_due
from tracker.workbook.reading import Row, Tracker

TAKEN_IN = "Taken in"  # how the first timeline line of an event taken in begins


@dataclass(frozen=True)
class IntakeRules:
    """What a new report gets when it does not say: the triage severity (empty: the least severe on the
    Severities sheet), the category, and the display zone for the Roster."""

    severity: str = ""
    category: str = "outage"
    zone: tzinfo | None = None


@dataclass
class Start:
    """The cells an event taken in starts with, and what tracker chose for it (said on its first timeline line)."""

    values: dict[str, Any]
    chosen: list[str] = field(default_factory=list)


def triage_severity(tracker: Tracker, rules: IntakeRules, typed: Any = None) -> tuple[Row, str]:
    """The Severities row of a new report: as typed when it names one, else the triage severity; and how it was
    chosen, in words ("" when as typed)."""
    data = tracker.sheet("Severities")
    if typed not in (None, ""):
        try:
            return _severity(tracker, str(typed)), ""
        except UsageError:
            pass
    if rules.severity:
        try:
            row = _severity(tracker, rules.severity)
            return row, f"severity {row['name']} ([intake] triage severity)"
        except UsageError:
            pass
    named = [row for row in data.rows if row["name"]]
    if not named:
        raise UsageError("the Severities sheet lists no severity, so a reported event cannot start; add one")
    why = f"{typed!r} is not on the Severities sheet, so " if typed not in (None, "") else ""
    return named[-1], f"{why}severity {named[-1]['name']} (the least severe: set [intake] severity to choose)"


def start_values(
    tracker: Tracker, event_id: str, typed: dict[str, Any], at: datetime, rules: IntakeRules, reporter: str
) -> Start:
    """The cells of a reported event, given what was typed (kept) and when tracker first saw it."""
    severity, chosen = triage_severity(tracker, rules, typed.get("severity"))
    start = Start({"id": event_id, "severity": severity["name"]}, [chosen] if chosen else [])
    status = str(typed.get("status") or "")
    if status not in OPEN_STATUSES:
        start.values["status"] = INITIAL
    if not typed.get("category"):
        start.values["category"] = rules.category if rules.category in tracker.schema.vocabulary.categories else None
    for name in ("detected_at", "reported_at"):
        if not isinstance(typed.get(name), datetime):
            start.values[name] = at
    start.values["last_update_at"] = at
    start.values["next_update_due"] = next_update_due(severity, at)
    if not typed.get("event_manager"):
        start.values["event_manager"] = _event_manager(tracker, event_id, at, rules.zone, "", None)
        if start.values["event_manager"]:
            start.chosen.append(f"duty event manager {start.values['event_manager']}")
        else:
            start.chosen.append("nobody on duty on the Roster to lead it")
    if reporter and "reported_by" in tracker.sheet("Events").columns and not typed.get("reported_by"):
        start.values["reported_by"] = reporter
    return start


def taken_in_line(event_id: str, at: datetime, status: str, where: str, start: Start) -> AppendRow:
    """The first timeline line of an event taken in: where it came from and what tracker chose."""
    chose = f"; tracker chose {', '.join(start.chosen)}" if start.chosen else ""
    note = f"{TAKEN_IN} from {where} as {event_id}{chose}"
    values = {"event_id": event_id, "at": at, "author": BOOKKEEPER, "status": status, "note": note}
    return AppendRow("Updates", values | {"internal": "Yes"})


def is_taken_in(entry: Any) -> bool:
    """Whether a timeline line is the one that starts an event taken in."""
    return str(entry.get("author") or "").casefold() == BOOKKEEPER and str(entry.get("note") or "").startswith(
        TAKEN_IN + " from "
    )


def take_in(
    store: Store,
    *,
    title: str,
    reporter: str,
    note: str,
    where: str,
    rules: IntakeRules,
    severity: str | None = None,
    now: datetime | None = None,
    marker: str = "",
) -> str:
    """Open an event from a report (a message to the team mailbox): `title`, who reported it, what they wrote (the
    first internal update, by the reporter), `where` it came from ("the team mailbox (message from ...)"). Returns
    the new ID. With a `marker` (words `where` holds, naming the message), a report already taken in (its timeline
    holds the marker: a run stopped before it remembered the message) is not taken again: its ID is returned."""
    if not title.strip():
        raise UsageError("a reported event needs a title (the message's subject)")
    found: dict[str, str] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        tracker.require("Events", "Updates", "Severities")
        earlier = marked_event(tracker, marker) if marker else None
        if earlier is not None:  # decided on the newest workbook, under the write's lock: two runs take it once
            found["id"] = earlier
            return []
        at = now or utcnow()
        event_id = next_event_id(tracker, at.year)
        start = start_values(tracker, event_id, {"severity": severity}, at, rules, reporter)
        row = {"title": " ".join(title.split())[:200]} | start.values
        first = taken_in_line(event_id, at, str(row["status"]), where, start)
        said = {"event_id": event_id, "at": at, "author": reporter[:200] or None, "status": row["status"]}
        report = AppendRow("Updates", said | {"note": note.strip() or title.strip(), "internal": "Yes"})
        return [AppendRow("Events", row), first, report]

    edits = store.commit(plan)
    return found.get("id") or str(edits[0].values["id"])


def marked_event(tracker: Tracker, marker: str, event_id: str | None = None) -> str | None:
    """The event (of those with this ID, if given) whose timeline holds `marker` in a note (e.g. "message <id>":
    the message that reported it or added to it), the journal's waiting rows included; None if none does."""
    updates = tracker.sheet("Updates")
    wanted = event_id.strip().casefold() if event_id else None
    for row in updates.rows:
        key = str(row["event_id"] or "").strip()
        if marker in str(row["note"] or "") and key and (wanted is None or key.casefold() == wanted):
            return key
    return None


@dataclass(frozen=True)
class NoteAdded:
    """What `add_reported_note` did: the event, its status, and whether the note was there already."""

    event_id: str
    status: str
    already: bool = False


def add_reported_note(
    store: Store, event_id: str, *, note: str, author: str, marker: str, now: datetime | None = None
) -> NoteAdded:
    """Add what a reporter wrote later (a reply to the team mailbox naming the event) to the event's timeline as an
    internal note by them. It is information, not the team's update: the status, Last Update, Next Update Due and
    Acknowledged stay as they are (a reporter's message acknowledges nothing), on a Resolved or Closed event too.
    A note whose `marker` (in `note`) the event's timeline holds already is not added twice."""
    result: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        tracker.require("Events", "Updates")
        event = tracker.event(event_id)
        key, status = str(event["id"]), str(event["status"] or INITIAL)
        result.update(event_id=key, status=status)
        if marked_event(tracker, marker, key) is not None:
            result["already"] = True
            return []
        at = now or utcnow()
        said = {"event_id": key, "at": at, "author": author[:200] or None, "status": status}
        return [AppendRow("Updates", said | {"note": note.strip(), "internal": "Yes"})]

    store.commit(plan)
    return NoteAdded(**result)

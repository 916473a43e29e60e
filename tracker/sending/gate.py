"""The gate: what an event needs before a message about it may go out (its fields, a clean row, timeline,
severity and the distribution rows of the audiences it goes to), each refusal naming the cell and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.errors import ValidationFailed
from tracker.rules.clock import open_events
from tracker.rules.validation import validate_tracker
from tracker.sending.sendlog import is_claim, log_view
from tracker.store.journal import Journal
from tracker.workbook.policy import RESOLVED, is_open
from tracker.workbook.reading import Row, Tracker

# Fields an event needs before each kind of message can go out.
REQUIRED = {
    "initial": ("title", "severity", "status", "impact", "detected_at"),
    "update": ("title", "severity", "status", "impact", "detected_at"),
    "resolved": ("title", "severity", "status", "impact", "detected_at", "resolved_at"),
}


REQUIRED["closed"] = REQUIRED["resolved"]


def gate(tracker: Tracker, event: Row, kind: str, audiences: list[str]) -> None:
    """Refuse to send when the event (or a row sharing its ID), its timeline, its severity or the
    distribution rows of the audiences being sent have problems."""

    key = str(event["id"]).casefold()
    wanted = {a.casefold() for a in audiences}
    relevant: dict[str, set[int] | None] = {
        "Events": {r.number for r in tracker.sheet("Events").rows if str(r["id"] or "").casefold() == key},
        "Distribution": {
            r.number
            for r in tracker.sheet("Distribution").rows
            if str(r["audience"] or "").casefold() in wanted and r["active"] != "No"
        },
    }
    for sheet in ("Updates", "Changes"):
        relevant[sheet] = {r.number for r in tracker.sheet(sheet).rows if str(r["event_id"] or "").casefold() == key}
    severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
    relevant["Severities"] = {severity.number} if severity else set()
    problems: list[Any] = []
    for problem in validate_tracker(tracker):
        if problem.level != "error" or problem.layout or problem.sheet not in relevant:
            continue
        rows = relevant[problem.sheet]
        if rows is None or problem.row is None or problem.row in rows:
            problems.append(problem)
    data = tracker.sheet("Events")
    for name in REQUIRED[kind]:
        if event[name] is None and name in data.columns and tracker.excel_error("Events", name, event.number) is None:
            spec = data.spec.fields[name]
            problems.append(
                f"{data.cell(name, event.number)} ({spec.title}) is empty, and {_a(KIND_NAMES[kind])} needs it; "
                f"fill it in: {fill_hint(str(event['id']), name)}"
            )
    if kind == "resolved" and not any(
        str(r["event_id"] or "").casefold() == key and r["status"] == RESOLVED for r in tracker.sheet("Updates").rows
    ):
        problems.append(
            f"Updates: no update with Status Resolved for {event['id']} (the resolution note); use `tracker resolve`"
        )
    if problems:
        lines = "\n  ".join(str(p) for p in problems)
        raise ValidationFailed(f"nothing was sent; fix these cells first:\n  {lines}", problems)


KIND_NAMES = {
    "initial": "Initial notification",
    "update": "Update",
    "resolved": "Resolved message",
    "closed": "Closed message",
}


def _a(noun: str) -> str:
    """`noun` with its indefinite article."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def fill_hint(event_id: str, name: str) -> str:
    """The command that fills an event field."""
    if name == "impact":
        return f'`tracker update {event_id} --note "..." --set impact="..."` (or `open --impact` next time)'
    if name == "resolved_at":
        return f'`tracker resolve {event_id} --note "..."`'
    return f'`tracker update {event_id} --note "..." --set {name}=...`'


@dataclass(frozen=True)
class BlockedNotice:
    """An open event whose first notice (the Initial notification) has not gone and cannot: fields it needs are
    empty, or hold what validate refuses (text in Detected, an Excel error), which `gate` refuses as well. `fields`
    are their headers (e.g. Impact), `commands` the command that fills each."""

    event_id: str
    fields: tuple[str, ...]
    commands: tuple[str, ...]
    event: Row

    @property
    def owed_by(self) -> tuple[str, ...]:
        """Who is told: the event manager and the communication lead (each once)."""
        names = (str(self.event["event_manager"] or ""), str(self.event["communication_lead"] or ""))
        return tuple(dict.fromkeys(n for n in names if n))


def blocked_first_notices(tracker: Tracker, journal: Journal | None) -> list[BlockedNotice]:
    """Each open event no audience has had an outage email about (claims do not count) whose fields
    REQUIRED["initial"] are empty or hold what validate refuses (so `gate` would refuse the notice): what `due`
    lists, `due --remind` tells and `watch` says once."""
    data = tracker.layout("Events")
    out = []
    for event in open_events(tracker):  # typed alone: the rest of the sheet is not
        key = str(event["id"] or "")
        if not key or not is_open(event["status"]):
            continue
        wrong = _refused(data, event)
        missing = [
            name
            for name in REQUIRED["initial"]
            if name in data.columns
            and (event[name] is None or name in wrong or tracker.excel_error("Events", name, event.number) is not None)
        ]
        if not missing or any(not is_claim(r) for r in log_view(tracker, journal, key)):
            continue
        fields = tuple(data.spec.fields[name].title for name in missing)
        out.append(BlockedNotice(key, fields, tuple(fill_command(key, name) for name in missing), event))
    return out


def _refused(data: Any, event: Row) -> set[str]:
    """The fields of REQUIRED["initial"] whose value validate refuses (text in Detected, say). The schema check (a
    few milliseconds to load) runs only when one holds a value of another type than its column's."""
    fields = data.spec.fields
    odd = [
        name
        for name in REQUIRED["initial"]
        if name in fields
        and event[name] is not None
        and not isinstance(event[name], datetime if fields[name].kind == "datetime" else str)
    ]
    if not odd:
        return set()
    return {found for found, _message, _allowed in data.spec.check_row(event.values)} & set(REQUIRED["initial"])


def fill_command(event_id: str, name: str) -> str:
    """The one command that fills an empty event field."""
    if name == "impact":
        return f'tracker update {event_id} --note "Impact recorded" --set impact="..."'
    if name == "severity":  # `update` has an option for it (the cadence follows)
        return f'tracker update {event_id} --note "Severity set" --severity "..."'
    return f'tracker update {event_id} --note "Details recorded" --set {name}="..."'

"""The event lifecycle: open, update, resolve, and looking at events.

Each change is a plan: a function from the current workbook to row edits, handed to the
store, which may call it again on a newer version (ids are allocated inside the plan).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from tracker.config import DEFAULT_INTERNAL, DEFAULT_REVIEW_REQUIRED
from tracker.errors import LifecycleError, UsageError, ValidationFailed
from tracker.rules.clock import open_events
from tracker.rules.review_rules import check_close
from tracker.rules.validation import cell_problems
from tracker.store.backends import Store
from tracker.times import as_utc, utcnow
from tracker.workbook.cell_forms import Starting
from tracker.workbook.duty import pin_roles
from tracker.workbook.edits import AppendRow, Edit, SetCells
from tracker.workbook.policy import (
    CLOSED,
    FINISHED,
    INITIAL,
    MITIGATED,
    OPEN_STATUSES,
    RESOLVED,
    STATUSES,
    is_open,
    next_update_due,
    placed_at,
    reported_at,
    severity_audiences,
)
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import duty_manager
from tracker.workbook.schema import next_id


def _choice(value: str, options: Sequence[str], what: str) -> str:
    for option in options:
        if option.casefold() == value.strip().casefold():
            return option
    raise UsageError(f"{what} {value!r} is not allowed; use one of: {', '.join(options)}")


def _squeezed(value: Any) -> str:
    return "".join(str(value or "").split()).casefold()


def _update_status(value: str) -> str:
    """--status of `tracker update`. An unknown one is refused listing the statuses update sets, not Resolved:
    `tracker resolve` records that, with its time (the list named Resolved, which update then refused)."""
    if value.strip().casefold() == RESOLVED.casefold():
        return RESOLVED  # a note on a Resolved event keeps it Resolved; on an open one the lifecycle refuses it
    sets = [s for s in STATUSES if s != RESOLVED]
    found = [s for s in sets if s.casefold() == value.strip().casefold()]
    if not found:
        raise UsageError(
            f"status {value!r} is not allowed; use one of: {', '.join(sets)} "
            "(to resolve the event: `tracker resolve ID --note ...`)"
        )
    return found[0]


def _severity(tracker: Tracker, name: str, *, given: bool = True, event: Row | None = None) -> Row:
    """The Severities row; an unknown name typed on the command line is a usage error (exit 2), one read from the
    event's Severity cell a data problem naming that cell, worded as `tracker validate` words it."""
    data = tracker.sheet("Severities")
    row = data.find(name)
    if row is None and given:  # typed as people type it: "sev1" for "Sev 1"
        squeezed = [r for r in data.rows if _squeezed(r["name"]) == _squeezed(name)]
        row = squeezed[0] if len(squeezed) == 1 else None
    if row is None and not given and event is not None:
        problems = cell_problems(tracker, "Events", event, "severity")
        if problems:
            raise ValidationFailed("nothing was written: " + "; ".join(str(p) for p in problems), problems)
    if row is None:
        known = [str(r["name"]) for r in data.rows if r["name"]]
        raise (UsageError if given else ValidationFailed)(
            f"severity {name!r} is not on the Severities sheet; use one of: {', '.join(known) or '(none listed)'}"
        )
    return row


def _services(tracker: Tracker, names: Sequence[str]) -> list[str]:
    data = tracker.sheet("Services")
    out = []
    for name in names:
        row = data.find(name.strip())
        if row is None:
            known = [str(r["name"]) for r in data.rows if r["name"]]
            raise UsageError(
                f"service {name!r} is not on the Services sheet; use one of: {', '.join(known) or '(none listed)'}"
            )
        out.append(str(row["name"]))
    return out


def _timeline(
    key: str,
    at: datetime,
    author: str,
    status: str,
    note: str,
    public_note: str | None,
    **more: Any,
) -> AppendRow:
    """The Updates row of an entry on the event's timeline (`more`: other cells, e.g. eta, internal). Its Public
    Note cell only when there is one (older workbooks lack the column)."""
    values: dict[str, Any] = {"event_id": key, "at": at, "author": author or None, "status": status, "note": note}
    values |= {"internal": "No", **more}
    if public_note and public_note.strip():
        values["public_note"] = public_note.strip()
    return AppendRow("Updates", values)


def next_event_id(tracker: Tracker, year: int, taken: Sequence[str] = ()) -> str:
    """EVT-<year>-<n> (the prefix is the schema's x-id-prefix), n one above the highest number used this year,
    on any sheet (never reused), or among `taken` (IDs this plan gave already)."""
    prefix = tracker.schema.vocabulary.event_prefix
    # The IDs that count. A write's view reads them from the XML of Events and Updates, without parsing either;
    # the smaller sheets are parsed side by side meanwhile
    tracker.preload("Changes", "Notifications")
    this_year = Starting(f"{prefix}-{year}-")
    used = tracker.sheet("Events").starting("id", this_year) + list(taken)
    for sheet in ("Updates", "Changes", "Notifications"):  # an ID cleared on Events is still taken
        data = tracker.sheet(sheet)
        if data.present and "event_id" in data.columns:
            used += data.starting("event_id", this_year)
    return next_id(prefix, year, used)


def _event_manager(
    tracker: Tracker, event_id: str, at: datetime, zone: tzinfo | None, author: str, notes: list[str] | None
) -> str | None:
    """Who leads a new event that names nobody: with a Roster (and `zone`), the duty event manager or stand-by;
    else, or with nobody on duty (said in `notes`), the author."""
    duty = None
    if zone is not None:
        duty = duty_manager(tracker, zone, at)  # type: ignore[arg-type]
        if duty is None and notes is not None and tracker.sheet("Roster").present:
            notes[:] = [
                f"nobody is on duty on the Roster sheet now, so {author or 'nobody'} leads {event_id} as "
                "event manager; name someone with --set event_manager=NAME (or `tracker update "
                f"{event_id} --set event_manager=NAME`), and fill the Roster's gap"
            ]
    return duty.person if duty is not None else (author or None)


def open_event(
    store: Store,
    *,
    title: str,
    severity: str,
    services: Sequence[str] = (),
    category: str = "outage",
    status: str = INITIAL,
    detected_at: datetime | None = None,
    author: str = "",
    note: str | None = None,
    public_note: str | None = None,
    fields: dict[str, Any] | None = None,
    now: datetime | None = None,
    zone: tzinfo | None = None,
    notes: list[str] | None = None,
) -> str:
    """Record a new event (and its first timeline entry); return its new ID. `notes` gets what the caller should
    say (a Roster with nobody on duty now, so the author leads the event)."""
    if not title.strip():
        raise UsageError("--title must not be empty")
    status = _choice(status, OPEN_STATUSES, "status of a new event")
    extra = dict(fields or {})

    def plan(tracker: Tracker) -> list[Edit]:
        tracker.require("Events", "Updates", "Severities", "Services")
        at = now or utcnow()
        sev = _severity(tracker, severity)
        event_id = next_event_id(tracker, at.year)
        kind = _choice(category, tracker.schema.vocabulary.categories, "category")
        row = {
            **extra,
            "id": event_id,
            "title": title.strip(),
            "severity": sev["name"],
            "status": status,
            "category": kind,
            "services_affected": tracker.schema["Events"].fields["services_affected"].join(_services(tracker, services))
            or None,
            "detected_at": as_utc(detected_at) if detected_at else at,
            "reported_at": at,
            "last_update_at": at,
            "next_update_due": next_update_due(sev, at),
        }
        if not row.get("event_manager"):
            row["event_manager"] = _event_manager(tracker, event_id, at, zone, author, notes)
        first = _timeline(event_id, at, author, status, note or f"Event opened: {title.strip()}", public_note)
        return [AppendRow("Events", row), first]

    edits = store.commit(plan)
    return str(edits[0].values["id"])


@dataclass
class Outcome:
    """What a change did, for the CLI to report."""

    event_id: str
    status: str
    next_update_due: datetime | None
    at: datetime
    edits: list[Edit] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)  # whom the event's severity notifies
    promised_to: list[str] = field(default_factory=list)  # told to expect the next update by then; not news to them


def _transition(current: str, new: str, reopen: bool) -> None:
    if current == CLOSED and new != CLOSED and not reopen:
        raise LifecycleError(
            "the event is Closed; to record a new status pass --reopen (e.g. --status Investigating --reopen)"
        )
    if reopen and current not in FINISHED:
        raise LifecycleError(f"--reopen is only for Resolved or Closed events; this one is {current}")
    if new == RESOLVED and current != RESOLVED:
        raise LifecycleError("use `tracker resolve ID --note ...` to resolve an event (it records the resolution time)")
    if new == CLOSED and current not in FINISHED:
        raise LifecycleError(f"only a Resolved event can be closed; this one is {current}; resolve it first")
    if current == RESOLVED and new in OPEN_STATUSES and not reopen:
        raise LifecycleError(f"the event is Resolved; to set it back to {new} pass --reopen")


def _times(
    tracker: Tracker, event: Row, target: str, at: datetime, reopen: bool, severity: Any, given: bool
) -> dict[str, Any]:
    """The event's times an update to status `target` at `at` moves: the next update due (none once resolved), a
    reopening's resolution cleared, mitigated at Monitoring, closed at Closed, acknowledged by any update."""
    changes: dict[str, Any] = {}
    if is_open(target):
        found = _severity(tracker, str(severity or event["severity"] or ""), given=given, event=event)
        changes["next_update_due"] = next_update_due(found, at)
        if reopen:
            changes["resolved_at"] = None
            changes["closed_at"] = None
        if target == MITIGATED and not event["mitigated_at"]:
            changes["mitigated_at"] = at
    else:
        changes["next_update_due"] = None
    if target == CLOSED and not event["closed_at"]:
        changes["closed_at"] = at
    if not isinstance(event["acknowledged_at"], datetime):  # empty, or text validate names: no acknowledgement
        changes["acknowledged_at"] = at
    return changes


def update_event(
    store: Store,
    event_id: str,
    *,
    note: str,
    status: str | None = None,
    eta: datetime | None = None,
    author: str = "",
    internal: bool = False,
    reopen: bool = False,
    public_note: str | None = None,
    fields: dict[str, Any] | None = None,
    now: datetime | None = None,
    review_required_for: Sequence[str] = DEFAULT_REVIEW_REQUIRED,
    internal_audiences: Sequence[str] = DEFAULT_INTERNAL,
    pin: bool = False,
) -> Outcome:
    """Append a timestamped update; the event row's status and due times follow. Closing an event whose severity
    `review_required_for` lists ([review] required_for) needs its review recorded as held (Reviews sheet).

    An update an audience already told of the event will not read (an internal note, for the customer) leaves
    the next update due no later than the time that audience was promised: their next update is still owed then.
    With `pin`, the roles `fields` names a person for are pinned (Pinned Roles): they no longer follow the Roster."""
    if not note.strip():
        raise UsageError("--note must not be empty")
    if internal and public_note:
        raise UsageError("--internal keeps the update out of external emails; it cannot have a --public-note")
    new_status = _update_status(status) if status else None
    extra = dict(fields or {})
    result: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        tracker.require("Events", "Updates", "Severities")
        at = now or utcnow()
        event = tracker.event(event_id)
        cells = extra | ({"pinned_roles": pin_roles(tracker, event, extra)} if pin else {})  # the role stays put
        update = Update(note, new_status, eta, internal, reopen, public_note, cells)
        changes = update_changes(tracker, event, update, at, review_required_for, internal_audiences, result)
        key, target = str(event["id"]), str(changes["status"])
        flag = "Yes" if internal else "No"
        line = _timeline(key, at, author, target, note, public_note, eta=as_utc(eta) if eta else None, internal=flag)
        return [SetCells("Events", key, changes), line]

    edits = store.commit(plan)
    return Outcome(edits=edits, **result)


@dataclass(frozen=True)
class Update:
    """What one update says: its note, the status it sets (None: the event's), ETA, whether it is internal, a
    reopening, its public note and other cells of the event it sets."""

    note: str
    status: str | None = None
    eta: datetime | None = None
    internal: bool = False
    reopen: bool = False
    public_note: str | None = None
    cells: dict[str, Any] = field(default_factory=dict)


def update_changes(
    tracker: Tracker,
    event: Row,
    update: Update,
    at: datetime,
    review_required_for: Sequence[str] = DEFAULT_REVIEW_REQUIRED,
    internal_audiences: Sequence[str] = DEFAULT_INTERNAL,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The cells of the event row an update at `at` changes, by the rules of `tracker update`: the lifecycle, the
    review gate, the cadence, the acknowledgement, a promise to an audience that will not read it. Raises
    LifecycleError (or ValidationFailed) when the rules refuse it; `result` gets what the Outcome reports."""
    current = str(event["status"] or INITIAL)
    target = update.status or (current if not update.reopen else INITIAL)
    _transition(current, target, update.reopen)
    extra = update.cells
    changes: dict[str, Any] = {**extra, "status": target, "last_update_at": at}
    if "severity" in extra:
        changes["severity"] = _severity(tracker, str(extra["severity"]))["name"]
    if target == CLOSED and current != CLOSED:  # the review gate
        lowered = changes.get("severity")
        check_close(tracker, str(event["id"]), str(event["severity"] or ""), review_required_for, new_severity=lowered)
    changes |= _times(tracker, event, target, at, update.reopen, changes.get("severity"), "severity" in extra)
    audiences = severity_audiences(tracker, str(changes.get("severity") or event["severity"] or ""))
    news = {
        "note": update.note,
        "public_note": update.public_note,
        "eta": update.eta,
        "status": target != current,
        "cells": extra,
    }
    waiting = _promised(tracker, event, tuple(internal_audiences), update.internal, news)
    if waiting and isinstance(changes.get("next_update_due"), datetime):
        changes["next_update_due"] = min(changes["next_update_due"], event["next_update_due"])
    due = changes.get("next_update_due")
    if result is not None:
        result.update(
            event_id=str(event["id"]),
            status=target,
            next_update_due=due,
            at=at,
            audiences=audiences,
            promised_to=waiting,
        )
    return changes


def _promised(
    tracker: Tracker, event: Row, internal_audiences: tuple[str, ...], internal: bool, news: dict[str, Any]
) -> list[str]:
    """The audiences already told of the event (so promised its next update by Next Update Due: the severity may
    have dropped them since, and they still hear the rest) that will not read this update: a row flagged internal
    for an audience that may not read the flag (the customer, leadership), else a note it may not read (the
    customer: no public note) with no field it may read changed in `news` (status, ETA, other cells)."""
    if not isinstance(event["next_update_due"], datetime):
        return []
    fields = tracker.schema["Updates"].fields
    flags = [spec for spec in fields.values() if spec.schema.get("x-internal-flag")]
    events = tracker.schema["Events"].fields

    changed = [events[n] for n in [*news["cells"], *(["status"] if news["status"] else [])] if n in events]
    written = [fields[n] for n in ("note", "public_note", "eta") if n in fields and news.get(n)]

    def reads(audience: str) -> bool:
        if any(spec.visible_to(audience, internal_audiences) for spec in changed):
            return True  # the event row it reads changed
        if internal:
            return all(flag.visible_to(audience, internal_audiences) for flag in flags)
        return any(spec.visible_to(audience, internal_audiences) for spec in written)

    return [audience for audience in told_of(tracker, str(event["id"])) if not reads(audience)]


def told_of(tracker: Tracker, event_id: str) -> list[str]:
    """The audiences an outage email of the event went to (Notifications rows; not reminders or escalations, nor a
    claim never sent), in the order first told."""
    log, key = tracker.sheet("Notifications"), event_id.casefold()
    told: dict[str, str] = {}
    for row in log.rows if log.present else []:
        transport = str(row["transport"] or "").casefold()
        if str(row["event_id"] or "").strip().casefold() != key or row["kind"] in ("reminder", "escalation"):
            continue
        if not transport.startswith(("claimed", "withdrawn")) and row["audience"]:
            told.setdefault(str(row["audience"]).casefold(), str(row["audience"]))
    return list(told.values())


def resolve_event(
    store: Store,
    event_id: str,
    *,
    note: str,
    cause: str | None = None,
    public_cause: str | None = None,
    public_note: str | None = None,
    resolved_at: datetime | None = None,
    author: str = "",
    now: datetime | None = None,
) -> Outcome:
    """Mark the event Resolved: resolution time, root cause (internal) and public cause, and the final update."""
    if not note.strip():
        raise UsageError("--note must not be empty")
    result: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        tracker.require("Events", "Updates")
        at = now or utcnow()
        event = tracker.event(event_id)
        current = str(event["status"] or "")
        if current in FINISHED:
            resolved = event["resolved_at"]
            since = f" (at {resolved:%Y-%m-%d %H:%MZ})" if isinstance(resolved, datetime) else ""
            raise LifecycleError(f"{event['id']} is already {current}{since}")
        when = as_utc(resolved_at) if resolved_at else at
        detected = event["detected_at"]
        if isinstance(detected, datetime) and when < detected:
            raise UsageError(
                f"resolution time {when:%Y-%m-%d %H:%MZ} is before the event was detected ({detected:%Y-%m-%d %H:%MZ})"
            )
        key = str(event["id"])
        changes = resolve_changes(event, when, at)
        if cause:
            changes["root_cause"] = cause
        if public_cause and public_cause.strip():
            changes["public_cause"] = public_cause.strip()
        result.update(event_id=key, at=when, audiences=severity_audiences(tracker, str(event["severity"] or "")))
        # at when service came back (--at), so a reopened event's outage spans end there
        final = _timeline(key, when, author, RESOLVED, note, public_note)
        return [SetCells("Events", key, changes), final]

    edits = store.commit(plan)
    return Outcome(result["event_id"], RESOLVED, None, result["at"], edits, result["audiences"])


def resolve_changes(event: Row, when: datetime, at: datetime) -> dict[str, Any]:
    """The cells of the event row a resolution changes: restored `when`, recorded `at` (`tracker resolve`'s rules)."""
    changes: dict[str, Any] = {"status": RESOLVED, "resolved_at": when, "last_update_at": at, "next_update_due": None}
    if not isinstance(event["acknowledged_at"], datetime):  # the resolution was the first response
        changes["acknowledged_at"] = when
    if not event["mitigated_at"]:
        changes["mitigated_at"] = when
    return changes


def acknowledge_event(
    store: Store, event_id: str, *, at: datetime | None = None, now: datetime | None = None
) -> Outcome:
    """Record when event management acknowledged the event (the first-response SLA stops there); an event
    acknowledged already keeps its time (the Outcome's `at` is that time, and `edits` is empty)."""
    result: dict[str, Any] = {}

    def plan(tracker: Tracker) -> list[Edit]:
        tracker.require("Events")
        event = tracker.event(event_id)
        key = str(event["id"])
        current = event["acknowledged_at"]
        if isinstance(current, datetime):
            result.update(event_id=key, status=str(event["status"] or ""), at=current)
            return []
        if event["status"] in FINISHED:
            raise LifecycleError(
                f"{key} is {event['status']}: its first response stopped at the resolution; nothing to acknowledge"
            )
        when = as_utc(at) if at else (now or utcnow())
        started = reported_at(event)
        if isinstance(started, datetime) and when < started:
            raise UsageError(
                f"acknowledgement time {when:%Y-%m-%d %H:%MZ} is before the event was reported "
                f"({started:%Y-%m-%d %H:%MZ})"
            )
        result.update(event_id=key, status=str(event["status"] or ""), at=when)
        # unless someone acknowledges meanwhile: the cell as read (empty, or text that is no time) is what it replaces
        return [SetCells("Events", key, {"acknowledged_at": when}, {"acknowledged_at": current})]

    edits = store.commit(plan)
    return Outcome(result["event_id"], result["status"], None, result["at"], edits)


def record_change(
    store: Store,
    event_id: str,
    *,
    system: str,
    change: str,
    by: str = "",
    approved_by: str | None = None,
    at: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """Add a row to the Changes sheet for the event (what the change manager records)."""
    if not change.strip() or not system.strip():
        raise UsageError("--system and --change must not be empty")

    def plan(tracker: Tracker) -> list[Edit]:
        tracker.require("Events", "Changes")
        event = tracker.event(event_id)
        row = {
            "event_id": str(event["id"]),
            "at": as_utc(at) if at else (now or utcnow()),
            "by": by or None,
            "system": system,
            "change": change,
            "approved_by": approved_by,
            "rolled_back": "No",
        }
        return [AppendRow("Changes", row)]

    edits = store.commit(plan)
    return str(edits[0].values["event_id"])


def list_events(tracker: Tracker, *, open_only: bool = False) -> list[Row]:
    """Event rows in sheet order, optionally only those still open."""
    tracker.require("Events")
    if open_only:
        return open_events(tracker)
    return tracker.sheet("Events").rows


@dataclass
class Timeline:
    """One event with its updates and changes, in time order."""

    event: Row
    entries: list[tuple[str, Row]]


def event_timeline(tracker: Tracker, event_id: str) -> Timeline:
    """The event row plus every update and change for it, oldest first."""
    tracker.prefetch("Events", "Updates", "Changes")
    tracker.require("Events", "Updates", "Changes")
    key = event_id.strip().casefold()
    found = tracker.rows_where("Events", "id", {key})
    event = found[0] if len(found) == 1 else tracker.event(event_id)  # raises for no row, or two with this ID
    placed: list[tuple[datetime, int, int, tuple[str, Row]]] = []
    for index, (kind, sheet) in enumerate((("update", "Updates"), ("change", "Changes"))):
        rows = tracker.rows_where(sheet, "event_id", {key})
        placed += [(at, index, row.number, (kind, row)) for at, row in zip(placed_at(rows), rows, strict=True)]
    return Timeline(event, [entry for *_, entry in sorted(placed, key=lambda item: item[:3])])

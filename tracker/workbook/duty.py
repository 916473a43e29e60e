"""Roles follow the Roster: an event's event manager, communication lead (and any role the Roster names) is whoever
holds that role on duty at the moment, unless someone pinned a person to it. A role is pinned when the event's
Pinned Roles cell names it (`tracker update --set event_manager=... --pin`), or when its cell names someone the
Roster never gives that role (a name a person typed: the Roster cannot have put it there)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tracker.errors import UsageError, ValidationFailed
from tracker.times import iso
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import COVER, Shift, on_duty, person_key, roster_rows, shifts

EVENT_MANAGER = "event manager"
ROSTER_OF = {EVENT_MANAGER: COVER}  # an event role -> the Roster roles that hold it, first found first; others: itself


def _key(text: Any) -> str:
    return person_key(text)  # roles and people alike: case and spacing aside


def roster_roles(role: str) -> tuple[str, ...]:
    """The Roster roles that hold an event's `role` (the event manager: the duty event manager, else the stand-by)."""
    return ROSTER_OF.get(_key(role), (_key(role),))


def role_fields(tracker: Tracker) -> dict[str, str]:
    """The event roles (the Events fields' x-role) -> their field name: {"event manager": "event_manager", ...}."""
    fields = tracker.schema["Events"].fields
    return {_key(spec.schema["x-role"]): name for name, spec in fields.items() if spec.schema.get("x-role")}


def pinned(tracker: Tracker, event: Row) -> set[str]:
    """The roles the event's Pinned Roles cell names (none in a workbook without that column)."""
    data = tracker.layout("Events")
    if "pinned_roles" not in data.columns:
        return set()
    return {_key(item) for item in data.items(event, "pinned_roles")}


def _named(tracker: Tracker) -> dict[str, set[str]]:
    """Each Roster role -> the people (casefolded) the Roster gives it."""
    out: dict[str, set[str]] = {}
    for row in roster_rows(tracker):
        if row["person"] and row["role"]:
            out.setdefault(_key(row["role"]), set()).add(_key(row["person"]))
    return out


def follows(tracker: Tracker, event: Row, role: str) -> bool:
    """Whether the event's `role` follows the Roster: the Roster names the role, it is not pinned, and its cell is
    empty or names someone the Roster gives that role."""
    named = _named(tracker)
    holders = [named[r] for r in roster_roles(role) if r in named]
    if not holders or _key(role) in pinned(tracker, event):
        return False
    field = role_fields(tracker).get(_key(role))
    cell = _key(event[field]) if field else ""
    return not cell or any(cell in people for people in holders)


def on_duty_in(tracker: Tracker, zone: ZoneInfo, role: str, at: datetime) -> Shift | None:
    """The shift holding an event `role` at `at` on the Roster (the first of its Roster roles someone holds)."""
    for name in roster_roles(role):
        found = on_duty(tracker, zone, at, name)
        if found:
            return found[0]
    return None


def holder(tracker: Tracker, zone: ZoneInfo, event: Row, role: str, at: datetime) -> str:
    """Who holds the event's `role` at `at`: the person on duty in it when the role follows the Roster (nobody: ""
    for a role such as the communication lead, whose duty then falls to the event manager; the event manager keeps
    its cell when the Roster has a gap), else the person its cell names."""
    field = role_fields(tracker).get(_key(role))
    if field is None:
        return ""  # the team's schema has no such role
    cell = str(event[field] or "").strip()
    if not follows(tracker, event, role):
        return cell
    shift = on_duty_in(tracker, zone, role, at)
    if shift is not None:
        return shift.person
    return cell if _key(role) == EVENT_MANAGER else ""


def roles_now(tracker: Tracker, zone: ZoneInfo, event: Row, at: datetime) -> dict[str, str]:
    """Each role field of the event -> who holds it at `at` (`holder`)."""
    return {field: holder(tracker, zone, event, role, at) for role, field in role_fields(tracker).items()}


@dataclass(frozen=True)
class ShiftChange:
    """A moment the Roster hands an event role from one person to another (either may be None: nobody)."""

    role: str  # the event role: "event manager", "communication lead", ...
    at: datetime
    outgoing: Shift | None
    incoming: Shift | None

    @property
    def state(self) -> str:
        """What makes its handover once-only (the Notifications row's State)."""
        return f"handover {self.role} {iso(self.at)}"


def shift_changes(tracker: Tracker, zone: ZoneInfo, start: datetime, end: datetime) -> list[ShiftChange]:
    """Every moment in (start, end] at which an event role the Roster names passes to someone else, in time order."""
    named = _named(tracker)
    roles = [role for role in role_fields(tracker) if any(r in named for r in roster_roles(role))]
    found = shifts(tracker, zone, start, end + timedelta(minutes=1))
    out = []
    for role in roles:
        wanted = roster_roles(role)
        moments = sorted({t for s in found if s.role in wanted for t in (s.start, s.end) if start < t <= end})
        for moment in moments:
            before = on_duty_in(tracker, zone, role, moment - timedelta(seconds=1))
            after = on_duty_in(tracker, zone, role, moment)
            if person_key(before.person if before else None) != person_key(after.person if after else None):
                out.append(ShiftChange(role, moment, before, after))
    return sorted(out, key=lambda c: (c.at, c.role))


def pin_roles(tracker: Tracker, event: Row, fields: dict[str, Any]) -> str:
    """The event's Pinned Roles cell with the roles whose fields `fields` sets added (`update --set ... --pin`).
    Refused when no role field is set, or the workbook has no Pinned Roles column (added in tracker 0.4)."""
    by_field = {field: role for role, field in role_fields(tracker).items()}
    roles = [by_field[name] for name in fields if name in by_field]
    if not roles:
        raise UsageError("--pin keeps a role's person: give one with --set, e.g. --set event_manager=NAME")
    data = tracker.sheet("Events")
    if "pinned_roles" not in data.columns:
        raise ValidationFailed(
            "Events has no Pinned Roles column (added in tracker 0.4), so --pin cannot record the pin: type 'Pinned "
            f"Roles' in the first empty header cell right of the {data.spec.table} table, then run this again"
        )
    kept = [item for item in data.items(event, "pinned_roles") if _key(item) not in roles]
    return data.spec.fields["pinned_roles"].join([*kept, *roles])


def leads_now(tracker: Tracker, zone: ZoneInfo, event: Row, at: datetime) -> tuple[str, ...]:
    """The event manager and the communication lead holding the roles at `at` (each once, nobody left out)."""
    names = (holder(tracker, zone, event, EVENT_MANAGER, at), holder(tracker, zone, event, "communication lead", at))
    return tuple(dict.fromkeys(n for n in names if n))

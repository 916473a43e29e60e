"""The report's figures that fund a team: updates sent on time (per severity, per communication lead) and when events
come in (hour of day, weekday, out of hours). Pure functions over a Tracker, as `tracker.window.report`.

The definitions (README, "`tracker report`", "Updates on time" and "When events come in"):

- An event's **sends** are its outage messages on the Notifications log (Kind initial, update, resolved or closed;
  claims and withdrawn rows are not sends): the rows of one notify run (one Sent time) count once, whatever the
  audiences.
- Each send made while the event was open (Kind initial or update) **promised** the next by the Next Update Due it
  printed: the event's latest Updates row at or before the send (At `u`) plus its severity's Update Every, when that
  is after the send; else the send's time plus Update Every (as `tracker notify` words "Next update: by ...").
- The promise is kept **on time** when the event's next send (of any kind) went out no later than it; **late**
  when the next send went out after it, or none has and the promise has passed; **pending** (in no share) while it
  has not passed and nothing was sent since.
- **Out of hours**: detected outside every Roster shift of the duty event manager; with no such shift on the
  Roster, outside `[clock] office_hours` (e.g. "Mon-Fri 08:00-18:00", display timezone); with neither, unknown.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from tracker.errors import ConfigError, TrackerError
from tracker.sending.sendlog import MESSAGE_KINDS, is_claim, log_view
from tracker.window.event_facts import Facts
from tracker.workbook.policy import update_interval
from tracker.workbook.reading import Row, Tracker
from tracker.workbook.roster import DUTY, roster_rows, shifts, weekdays

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PROMISING = ("initial", "update")  # the sends made while the event was open: each promised the next
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)[a-z]*"
_HOURS = re.compile(
    rf"^\s*(?P<days>{_DAY}(\s*[-,]\s*{_DAY})*)\s+(?P<start>([01]?\d|2[0-3]):[0-5]\d)\s*-\s*"
    r"(?P<end>([01]?\d|2[0-3]):[0-5]\d|24:00)\s*$",
    re.I,
)


@dataclass(frozen=True)
class Promise:
    """One Next Update Due an event's message promised, and whether the next message kept it."""

    event_id: str
    sent_at: datetime  # the message that promised
    due: datetime  # the Next Update Due it printed
    kept_at: datetime | None  # the next message, None while none was sent
    state: str  # on time | late | pending


def _key(value: Any) -> str:
    return str(value or "").strip().casefold()


def _sends(tracker: Tracker) -> dict[str, list[tuple[datetime, str]]]:
    """Each event's sends (Sent, Kind), oldest first, one per Sent time (one notify run)."""
    if "Notifications" not in tracker.schema.sheets or not tracker.sheet("Notifications").present:
        return {}
    out: dict[str, dict[datetime, str]] = {}
    for row in log_view(tracker, tracker.journal, None, MESSAGE_KINDS):
        sent = row.get("sent_at")
        if not isinstance(sent, datetime) or is_claim(row) or not row.get("event_id"):
            continue
        kinds = out.setdefault(_key(row["event_id"]), {})
        kind = str(row.get("kind") or "")
        if kinds.get(sent) not in PROMISING:  # a run that sent an update to one audience promised
            kinds[sent] = kind
    return {event: sorted(kinds.items()) for event, kinds in out.items()}


def _updates(tracker: Tracker, events: set[str]) -> dict[str, list[datetime]]:
    """The Updates times of these events (casefolded IDs), oldest first; only their rows are typed."""
    out: dict[str, list[datetime]] = {}
    if not events or not tracker.layout("Updates").present:
        return out
    for row in tracker.rows_where("Updates", "event_id", events):
        if isinstance(row["at"], datetime) and row["event_id"]:
            out.setdefault(_key(row["event_id"]), []).append(row["at"])
    return {event: sorted(times) for event, times in out.items()}


def promises(tracker: Tracker, facts: list[Facts], now: datetime) -> dict[str, list[Promise]]:
    """Each event's promises (casefolded ID -> list), by the module's definition. An event whose severity has no
    valid Update Every promised nothing."""
    sends = _sends(tracker)
    updates = _updates(tracker, {f.key for f in facts if f.key in sends})
    severities = tracker.sheet("Severities")
    every_of: dict[str, timedelta | None] = {}  # a severity as typed -> its Update Every (a handful of severities)
    out: dict[str, list[Promise]] = {}
    for f in facts:
        name = f.severity
        if name not in every_of:
            every_of[name] = _every(severities.find(name))
        every = every_of[name]
        if every is None:
            continue
        mine = sends.get(f.key, [])
        made = []
        for index, (sent, kind) in enumerate(mine):
            if kind not in PROMISING:
                continue
            before = latest(updates.get(f.key, []), sent)
            due = before + every if before is not None and before + every > sent else sent + every
            kept = mine[index + 1][0] if index + 1 < len(mine) else None
            if kept is not None:
                state = "on time" if kept <= due else "late"
            else:
                state = "late" if due < now else "pending"
            made.append(Promise(f.id, sent, due, kept, state))
        out[f.key] = made
    return out


def latest(times: list[datetime], at: datetime) -> datetime | None:
    """The latest of these times (sorted, oldest first) at or before `at`, None when none is."""
    index = bisect_right(times, at)
    return times[index - 1] if index else None


def _every(severity: Row | None) -> timedelta | None:
    """A severity's Update Every, None when it has no valid one."""
    try:
        return timedelta(minutes=update_interval(severity)) if severity is not None else None
    except TrackerError:
        return None


def _share(kept: int, late: int) -> float | None:
    return round(kept / (kept + late), 4) if kept + late else None


def tally(made: list[Promise]) -> tuple[int, int, int]:
    """How many of these promises were kept on time, late, and are pending."""
    return (
        sum(p.state == "on time" for p in made),
        sum(p.state == "late" for p in made),
        sum(p.state == "pending" for p in made),
    )


def counted(kept: int, late: int, pending: int) -> dict[str, Any]:
    """A group's counts from its tally (each event's promises tallied once, summed per group): updates_on_time,
    updates_late, updates_pending, updates_share_on_time."""
    return {
        "updates_on_time": kept,
        "updates_late": late,
        "updates_pending": pending,
        "updates_share_on_time": _share(kept, late),
    }


def group_tally(facts: list[Facts], tallies: dict[str, tuple[int, int, int]]) -> tuple[int, int, int]:
    """The summed tallies of these events (an event's own by its casefolded ID; none for an event without)."""
    found = [counts for f in facts if (counts := tallies.get(f.key)) is not None]
    if not found:
        return 0, 0, 0
    kept, late, pending = map(sum, zip(*found, strict=True))
    return kept, late, pending


def on_time_by(
    facts: list[Facts],
    tallies: dict[str, tuple[int, int, int]],
    keys: list[str],
    order: list[str] | None = None,
) -> list[dict[str, Any]]:
    """On-time counts per group of events (`keys`: each event's group, in the order of `facts`): `order` first, then
    the rest by name; `tallies`: each event's promises tallied (casefolded ID -> `tally`)."""
    groups: dict[str, list[Facts]] = {}
    for group, f in zip(keys, facts, strict=True):
        groups.setdefault(group, []).append(f)
    first = [k for k in order or [] if k in groups]
    names = first + sorted((k for k in groups if k not in first), key=str.casefold)
    return [{"key": name, "events": len(groups[name])} | counted(*group_tally(groups[name], tallies)) for name in names]


def office_hours(text: str) -> tuple[set[int], time, time | None] | None:
    """`[clock] office_hours` ("Mon-Fri 08:00-18:00") as weekdays, start and end (None: midnight); None if empty.
    Checked here, where it is used (tracker.config holds it as written): a malformed one is a ConfigError."""
    if not text:
        return None
    match = _HOURS.match(text)
    if match is None:
        raise ConfigError(
            f"tracker.toml: [clock] office_hours {text!r} is not weekdays and hours; e.g. office_hours = "
            '"Mon-Fri 08:00-18:00" (display timezone)'
        )
    days = weekdays(match["days"])
    if days is None:
        raise ConfigError(
            f"tracker.toml: [clock] office_hours {text!r}: {match['days']!r} are not weekdays; e.g. office_hours = "
            '"Mon-Fri 08:00-18:00" (display timezone)'
        )
    start_h, start_m = map(int, match["start"].split(":"))
    start = time(start_h, start_m)
    end_h, end_m = map(int, match["end"].split(":"))
    return days, start, None if end_h == 24 else time(end_h, end_m)


def _in_office(at: datetime, tz: tzinfo, hours: tuple[set[int], time, time | None]) -> bool:
    local = at.astimezone(tz)
    days, start, end = hours
    return local.weekday() in days and start <= local.time() and (end is None or local.time() < end)


def out_of_hours(tracker: Tracker, facts: list[Facts], tz: tzinfo, setting: str = "") -> dict[str, Any]:
    """How many of the events were detected out of hours, and by what measure (`basis`: roster, clock or None)."""
    detected = [f.detected for f in facts]
    rostered = "Roster" in tracker.schema.sheets and isinstance(tz, ZoneInfo)
    rostered = rostered and any(
        row["person"] and " ".join(str(row["role"] or "").split()).casefold() == DUTY for row in roster_rows(tracker)
    )
    duty: list[Any] = []
    if rostered and detected and isinstance(tz, ZoneInfo):
        first, last = min(detected) - timedelta(days=2), max(detected) + timedelta(minutes=1)
        duty = [s for s in shifts(tracker, tz, first, last) if s.role == DUTY]  # sorted by start
    hours = office_hours(setting)
    if rostered:
        basis = "roster"
        starts = [s.start for s in duty]

        def on(at: datetime) -> bool:  # a shift lasts a day at most: only those starting in the two days before
            return any(
                s.holds(at) for s in duty[bisect_left(starts, at - timedelta(days=2)) : bisect_right(starts, at)]
            )

        outside = [f for f in facts if not on(f.detected)]
    elif hours is not None:
        basis = "clock"
        outside = [f for f in facts if not _in_office(f.detected, tz, hours)]
    else:
        return {"basis": None, "events": None, "share": None, "event_ids": []}
    return {
        "basis": basis,
        "events": len(outside),
        "share": round(len(outside) / len(facts), 4) if facts else None,
        "event_ids": [f.id for f in outside],
    }


def pages_sent(tracker: Tracker, facts: list[Facts]) -> list[datetime]:
    """When the stand-by was paged about these events (Notifications rows of kind `page`; claims never sent left out)."""
    keys = {f.key for f in facts}
    log = tracker.sheet("Notifications")
    rows = log.rows if log.present else []
    return [
        r["sent_at"]
        for r in rows
        if r["kind"] == "page"
        and _key(r["event_id"]) in keys
        and isinstance(r["sent_at"], datetime)
        and not str(r["transport"] or "").casefold().startswith(("claimed", "withdrawn"))
    ]


def by_hour(local: list[datetime], tz: tzinfo, pages: list[datetime] | None = None) -> list[dict[str, int]]:
    """Events detected (`local`: their Detected times in the display timezone), and pages sent, in each hour of the
    day (display timezone), 0 to 23, every hour listed."""
    counts, paged = [0] * 24, [0] * 24
    for at in local:
        counts[at.hour] += 1
    for at in pages or []:
        paged[at.astimezone(tz).hour] += 1
    return [{"hour": hour, "events": count, "pages": paged[hour]} for hour, count in enumerate(counts)]


def by_weekday(local: list[datetime], tz: tzinfo, pages: list[datetime] | None = None) -> list[dict[str, Any]]:
    """Events detected (`local`: their Detected times in the display timezone), and pages sent, on each weekday
    (display timezone), Monday first, every day listed."""
    counts, paged = [0] * 7, [0] * 7
    for at in local:
        counts[at.weekday()] += 1
    for at in pages or []:
        paged[at.astimezone(tz).weekday()] += 1
    return [{"weekday": WEEKDAYS[day], "events": count, "pages": paged[day]} for day, count in enumerate(counts)]


def group_key(f: Facts, by: str, tz: tzinfo) -> str:
    """An event's group for `--by hour` ("00" to "23") and `--by weekday` ("Mon" to "Sun")."""
    local = f.detected.astimezone(tz)
    return f"{local.hour:02d}" if by == "hour" else WEEKDAYS[local.weekday()]

"""The Roster sheet: who is on duty when. A weekly pattern of shifts (rows with Days) and dated entries (rows with a
Date) that replace the pattern for their role while they last: weekend stand-by, leave, swaps. Shift times are in
the display timezone, so a 07:00 shift starts at 07:00 local time summer and winter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tracker.times import iso
from tracker.workbook.policy import bare_address, schema_pattern
from tracker.workbook.reading import Row, Tracker

DUTY = "duty event manager"
STANDBY = "stand-by"
COVER = (DUTY, STANDBY)  # who answers when an event comes in
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Shift:
    """One shift of one person in one role, as UTC instants."""

    person: str
    role: str
    start: datetime
    end: datetime
    email: str
    phone: str
    dated: bool  # from a dated entry (it replaces the pattern for its role while it lasts)
    row: int

    def holds(self, at: datetime) -> bool:
        """Whether the shift is on at `at`."""
        return self.start <= at < self.end

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (see README, "Keeping time")."""
        return {
            "person": self.person,
            "role": self.role,
            "start": iso(self.start),
            "end": iso(self.end),
            "email": self.email or None,
            "phone": self.phone or None,
        }


def weekdays(text: str) -> set[int] | None:
    """`Mon-Fri` or `Sat, Sun` as weekday numbers (Monday 0); ranges may wrap (`Fri-Mon`); names whole or short, in
    any case. None for text validate refuses (the schema's pattern: "Mon to Fri", "weekends"), whose row counts
    for nothing (ignored_rows says so); an empty set for an empty cell."""
    if not str(text).strip():
        return set()
    if not schema_pattern("Roster", "days").fullmatch(str(text)):
        return None
    out: set[int] = set()
    text = str(text).replace("\u2013", "-").replace("\u2014", "-")  # Excel's AutoCorrect turns - into an en dash
    for part in text.split(","):
        ends = [p.strip()[:3].casefold() for p in part.split("-")]
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        day = first
        while True:
            out.add(day)
            if day == last:
                break
            day = (day + 1) % 7
    return out


END_OF_DAY = "end of day"  # an End of 24:00
NO_TIME = "no time"  # a Start or End that is not a time: its row counts for nothing (ignored_rows says so)


def person_key(name: Any) -> str:
    """Who a name (a Roster Person, an event's role cell, a Distribution Name) means: case and spacing aside, so
    "sam  rivera" and "Sam Rivera" are one person everywhere (shift changes, handovers, overlaps, addresses)."""
    return " ".join(str(name or "").split()).casefold()


def _clock(text: Any) -> time | str | None:
    """A Start or End cell: a time of day; END_OF_DAY for 24:00 (typed, or as Excel keeps it: a day); None when
    empty; NO_TIME for anything else. The one reading the shifts and the warnings share."""
    if isinstance(text, timedelta):  # Excel keeps 24:00 typed in a time cell as a duration of one day
        return END_OF_DAY if text == timedelta(days=1) else NO_TIME
    value = str(text if text is not None else "").strip()
    if not value:
        return None
    if value in ("24:00", "24:00:00", str(timedelta(days=1))):  # the last as a text column reads Excel's duration
        return END_OF_DAY
    try:
        hours, minutes = value.split(":")[:2]
        return time(int(hours), int(minutes))
    except ValueError:
        return NO_TIME


def _span(day: date, start_text: Any, end_text: Any, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    start, end = _clock(start_text), _clock(end_text)
    if not isinstance(start, time) or end == NO_TIME:
        return None  # no Start, or one or an End that is not a time of day: the row counts for nothing
    end = end if isinstance(end, time) else None  # empty, or 24:00: to the end of the day
    begin = datetime.combine(day, start, tzinfo=zone)
    if end is None or end == start:
        finish = datetime.combine(day + timedelta(days=1), start if end == start else time(0), tzinfo=zone)
    elif end < start:
        finish = datetime.combine(day + timedelta(days=1), end, tzinfo=zone)
    else:
        finish = datetime.combine(day, end, tzinfo=zone)
    return begin.astimezone(UTC), finish.astimezone(UTC)


def shifts(tracker: Tracker, zone: ZoneInfo, start: datetime, end: datetime) -> list[Shift]:
    """Every shift overlapping [start, end): the weekly pattern, with each dated entry replacing the pattern's
    shifts of its role for the time it covers."""
    data = tracker.sheet("Roster")
    if not data.present:
        return []
    pattern: list[Shift] = []
    dated: list[Shift] = []
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    for row in data.rows:
        person, role = str(row["person"] or "").strip(), " ".join(str(row["role"] or "").split()).casefold()
        if not person or not role:
            continue
        common = {"person": person, "role": role, "email": bare_address(row["email"]), "phone": str(row["phone"] or "")}
        when = row["date"]
        if isinstance(when, datetime):
            span = _span(when.date(), row["start"], row["end"], zone)
            if span and span[1] > start and span[0] < end:
                dated.append(Shift(start=span[0], end=span[1], dated=True, row=row.number, **common))
            continue
        days = weekdays(row["days"] or "") or set()  # None: not weekdays, the row counts for nothing (said)
        day = first
        while day <= last:
            if day.weekday() in days:
                span = _span(day, row["start"], row["end"], zone)
                if span and span[1] > start and span[0] < end:
                    pattern.append(Shift(start=span[0], end=span[1], dated=False, row=row.number, **common))
            day += timedelta(days=1)
    kept: list[Shift] = []
    for shift in pattern:
        pieces = [(shift.start, shift.end)]
        for override in dated:
            if override.role != shift.role:
                continue
            pieces = [
                piece
                for a, b in pieces
                for piece in ((a, min(b, override.start)), (max(a, override.end), b))
                if piece[0] < piece[1]
            ]
        kept += [Shift(shift.person, shift.role, a, b, shift.email, shift.phone, False, shift.row) for a, b in pieces]
    return sorted(kept + dated, key=lambda s: (s.start, s.role, s.person))


def on_duty(tracker: Tracker, zone: ZoneInfo, at: datetime, role: str | None = None) -> list[Shift]:
    """The shifts on at `at` (of one role)."""
    found = shifts(tracker, zone, at - timedelta(days=1), at + timedelta(minutes=1))
    return [s for s in found if s.holds(at) and (role is None or s.role == role)]


def duty_manager(tracker: Tracker, zone: ZoneInfo, at: datetime) -> Shift | None:
    """Who answers at `at`: the duty event manager, else the stand-by."""
    for role in COVER:
        found = on_duty(tracker, zone, at, role)
        if found:
            return found[0]
    return None


def next_shifts(tracker: Tracker, zone: ZoneInfo, at: datetime, role: str) -> list[Shift]:
    """The next shift of `role` starting after `at` (within two weeks), and any starting at the same moment."""
    later = [s for s in shifts(tracker, zone, at, at + timedelta(days=14)) if s.role == role and s.start > at]
    if not later:
        return []
    first = min(s.start for s in later)
    return [s for s in later if s.start == first]


def address_of(tracker: Tracker, person: str) -> str:
    """A person's email address: their Roster row, else their row on the Distribution sheet."""
    key = person_key(person)
    for sheet, column in (("Roster", "person"), ("Distribution", "name")):
        data = tracker.sheet(sheet)
        if not data.present:
            continue
        for row in data.rows:
            if person_key(row[column]) == key and bare_address(row["email"]):
                return bare_address(row["email"])
    return ""


def coverage_problems(tracker: Tracker, zone: ZoneInfo, now: datetime, days: int = 14) -> list[tuple[int | None, str]]:
    """Gaps in who answers (duty event manager or stand-by) and overlapping duty shifts, over the coming weeks:
    (a Roster row or None, the words)."""
    data = tracker.sheet("Roster")
    if not data.present or not data.rows:
        return []
    end = now + timedelta(days=days)
    found = shifts(tracker, zone, now, end)
    out: list[tuple[int | None, str]] = []
    covering = sorted((s for s in found if s.role in COVER), key=lambda s: s.start)
    cursor = now
    for shift in covering:
        if shift.start > cursor:
            out.append((None, f"nobody on duty or stand-by from {_local(cursor, zone)} to {_local(shift.start, zone)}"))
        cursor = max(cursor, shift.end)
    if cursor < end:
        out.append((None, f"nobody on duty or stand-by from {_local(cursor, zone)} (for the next {days} days)"))
    duty = sorted((s for s in found if s.role == DUTY), key=lambda s: s.start)
    seen: set[tuple[int, int]] = set()
    pairs = [  # every earlier shift still running when a later one starts, not only the one just before it
        (a, b) for i, b in enumerate(duty) for a in duty[:i] if b.start < a.end
    ]
    for a, b in pairs:
        if person_key(b.person) != person_key(a.person) and (a.row, b.row) not in seen:
            seen.add((a.row, b.row))
            out.append(
                (
                    b.row,
                    f"two duty event managers at once: {a.person} (row {a.row}) and {b.person} (row {b.row}) "
                    f"from {_local(b.start, zone)}",
                )
            )
    return out[:20]


def _local(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%a %d %b %H:%M %Z")


def roster_rows(tracker: Tracker) -> list[Row]:
    """The Roster sheet's rows ([] without the sheet)."""
    data = tracker.sheet("Roster")
    return data.rows if data.present else []


def ignored_rows(tracker: Tracker) -> list[str]:
    """Roster rows that count for nothing at run time, each said with its cell: a Date typed as text (Excel keeps
    '28/11/2026' typed in another locale as words) or a Start or End that is not a time. `tracker validate` reports
    the same cells; this is for the commands that act on the Roster (roster, due, watch) so nobody is surprised
    that a swap or a leave entry did not apply."""
    data = tracker.sheet("Roster")
    if not data.present or "date" not in data.columns:
        return []
    out: list[str] = []
    for row in data.rows:
        if not str(row["person"] or "").strip() or not str(row["role"] or "").strip():
            continue
        when = row["date"]
        if when not in (None, "") and not isinstance(when, datetime):
            out.append(
                f"{data.cell('date', row.number)}: Date {str(when)!r} is not a date, so this row is "
                "ignored; type it as a date (e.g. 2026-11-28)"
            )
        if not isinstance(when, datetime) and weekdays(row["days"] or "") is None:
            out.append(
                f"{data.cell('days', row.number)}: Days {str(row['days'])!r} is not a list of weekdays, so this row "
                "is ignored; type weekdays such as Mon-Fri, or Sat, Sun"
            )
        for name, title in (("start", "Start"), ("end", "End")):
            value = row[name]
            read = _clock(value)
            if read == NO_TIME or (name == "start" and read == END_OF_DAY):
                out.append(
                    f"{data.cell(name, row.number)}: {title} {str(value)!r} is not a time, so this row "
                    "is ignored; type a time such as 07:00"
                )
    return out

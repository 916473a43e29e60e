"""Times: parsing what people type, storing UTC, showing it the configured way."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo

from tracker.errors import UsageError

TIME_EXAMPLES = "e.g. 2026-11-21 14:32, 2026-11-21T14:32Z, 14:32, 1432Z, now, +2h or -15m"

_RELATIVE = re.compile(r"^([+-])\s*(\d+)\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?)$", re.I)
_CLOCK = re.compile(r"^(\d{1,2}):?(\d{2})\s*(z)?$", re.I)


class Clock:
    """What time it is. Normally the system clock; with `TRACKER_NOW` set (an ISO time in UTC, e.g.
    `TRACKER_NOW=2026-11-23T08:00Z`) a rehearsal clock that starts there and moves only when tracker waits
    (`sleep`), so a whole day of `tracker watch` replays in seconds and tests never sleep."""

    def __init__(self) -> None:
        self._start: datetime | None = None
        self._elapsed = timedelta(0)
        self._read = False
        self._pinned: datetime | None = None
        self._speed: float | None = None  # TRACKER_NOW_SPEED: the rehearsal clock runs on by itself
        self._from = 0.0  # the real moment (time.time()) the rehearsal clock stood at its start
        self.waiter: Callable[[float], None] = time.sleep

    def pin(self, start: datetime | None) -> None:
        """Start the rehearsal clock at `start` (aware) in this process, as `TRACKER_NOW` does for a command;
        `None` goes back to the system clock. `TRACKER_NOW`, when set, still wins. For tests and programs that
        replay a moment; the rehearsal rules (no real sends without TRACKER_REHEARSAL_SEND=yes) apply."""
        if start is not None and start.tzinfo is None:
            raise ValueError("Clock.pin needs an aware datetime (e.g. tzinfo=UTC)")
        self._pinned = None if start is None else start.astimezone(UTC)
        self.reset()

    @property
    def pinned(self) -> datetime | None:
        """The moment `pin` set, if any (TRACKER_NOW aside)."""
        return self._pinned

    def _rehearsal(self) -> datetime | None:
        if not self._read:
            start = self._pinned
            text = os.environ.get("TRACKER_NOW", "").strip()
            if text:
                try:
                    start = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
                except ValueError:
                    raise UsageError(
                        f"TRACKER_NOW={text!r} is not a time; use an ISO time in UTC, e.g. 2026-11-23T08:00Z"
                    ) from None
                start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
            self._speed, self._from = _speed() if start is not None else (None, 0.0)
            self._start = start  # before _read: another thread never sees "read" with no start yet
            self._read = True
        return self._start

    @property
    def simulated(self) -> bool:
        """Whether this is the rehearsal clock."""
        return self._rehearsal() is not None

    def check_real_sends(self, what: str) -> None:
        """While rehearsing, refuse to reach real people (`what`: "mail through smtp", a Teams channel) unless
        TRACKER_REHEARSAL_SEND=yes says so: a rehearsal on the team's own folder would mail reminders and
        escalations now about a made-up moment."""
        start = self._rehearsal()
        if start is None or os.environ.get("TRACKER_REHEARSAL_SEND", "").strip().casefold() in ("yes", "1", "true"):
            return
        moment = f"{start:%Y-%m-%dT%H:%MZ}"
        where = f"TRACKER_NOW={moment}" if os.environ.get("TRACKER_NOW", "").strip() else f"{moment} (a pinned clock)"
        raise UsageError(
            f"rehearsing at {where}: tracker sends no {what} while rehearsing; rehearse in "
            'a copy of the folder with [mail] transport = "outbox" (and no [teams]), or set TRACKER_REHEARSAL_SEND=yes '
            "to send anyway"
        )

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        start = self._rehearsal()
        if start is None:
            return datetime.now(UTC)
        if self._speed is not None:  # several processes on one rehearsal clock (TRACKER_NOW_SPEED)
            return start + timedelta(seconds=(time.time() - self._from) * self._speed)
        return start + self._elapsed

    def sleep(self, seconds: float) -> None:
        """Wait: really, or on the rehearsal clock by moving it on (with TRACKER_NOW_SPEED, really, that much
        faster)."""
        if self._rehearsal() is None:
            time.sleep(seconds)
        elif self._speed is not None:
            time.sleep(max(0.0, seconds) / self._speed)
        else:
            self._elapsed += timedelta(seconds=seconds)

    def wait(self, seconds: float) -> None:
        """Wait for someone else: a server's Retry-After, the backoff between retries, another writer finishing.
        Real time even on the rehearsal clock (the server and the other writer live in real time). Every such
        wait in tracker goes through here, so `waiter` (time.sleep) is the one place a test makes them instant."""
        self.waiter(max(0.0, seconds))

    def reset(self) -> None:
        """Read TRACKER_NOW again on next use (tests that change it); a pinned start stays, back at its start."""
        self._start, self._elapsed, self._read = None, timedelta(0), False


def _speed() -> tuple[float | None, float]:
    """TRACKER_NOW_SPEED=N: the rehearsal clock runs by itself, N times faster than real time, from the real moment
    TRACKER_NOW_FROM (Unix seconds; default: when the process first asks the time), so that processes started
    with the same two values share one rehearsal clock (several `tracker watch` taking turns)."""
    text = os.environ.get("TRACKER_NOW_SPEED", "").strip()
    if not text:
        return None, 0.0
    try:
        speed = float(text)
        start = float(os.environ.get("TRACKER_NOW_FROM", "").strip() or time.time())
    except ValueError:
        raise UsageError(
            f"TRACKER_NOW_SPEED={text!r} or TRACKER_NOW_FROM is not a number; e.g. TRACKER_NOW_SPEED=60 "
            "(a rehearsal minute each real second)"
        ) from None
    if not speed > 0:
        raise UsageError(f"TRACKER_NOW_SPEED={text!r}: more than 0, e.g. 60 (a rehearsal minute each real second)")
    return speed, start


CLOCK = Clock()


def utcnow() -> datetime:
    """The current time in UTC, to the millisecond (what a workbook cell keeps); see `Clock`."""
    now = CLOCK.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(value: datetime | date, tz: tzinfo = UTC) -> datetime:
    """An aware UTC datetime; naive values are taken to be in `tz`."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
        if tz is UTC:
            return value
    return value.astimezone(UTC)


def parse_time(
    text: str,
    *,
    tz: tzinfo = UTC,
    now: datetime | None = None,
    what: str = "time",
    when: str = "any",
    force: bool = False,
    forceable: bool = True,
) -> datetime:
    """Parse a time a person typed; naive times are in the display timezone `tz`.

    `when="past"` (a detection, a resolution): a bare clock time is its latest past occurrence
    and a time in the future is refused; `when="future"` (an ETA, watch --until): a bare clock
    time is its next occurrence and a time already past is refused. `force` accepts them anyway (`forceable`: the
    command has a --force the refusal may suggest). A local time the clocks skip or pass twice (daylight
    saving) is refused with its possible readings. Raises UsageError naming `what`.
    """
    now = now or utcnow()
    try:
        value = _parse(text, tz, now, what, when)
    except OverflowError:
        raise UsageError(f"{what}: {text!r} is too far away; {TIME_EXAMPLES}") from None
    if value.year < 1900:
        raise UsageError(f"{what}: {text!r} is before 1900, which Excel cannot store as a date")
    if not force and when == "past" and value > now + timedelta(minutes=1):
        raise UsageError(
            f"{what}: {format_time(value, tz=tz, fmt=_SHOWN)} is in the future; give the time it happened"
            + (" (or add --force if that is really meant)" if forceable else "")
        )
    if not force and when == "future" and value < now - timedelta(minutes=1):
        raise UsageError(
            f"{what}: {format_time(value, tz=tz, fmt=_SHOWN)} has already passed; give a time to come, e.g. +2h"
            + (" (or add --force if that is really meant)" if forceable else "")
        )
    return value


_SHOWN = "%Y-%m-%d %H:%M %Z"


def _parse(text: str, tz: tzinfo, now: datetime, what: str, when: str) -> datetime:
    raw = text.strip()
    if raw.lower() == "now":
        return now
    match = _RELATIVE.match(raw)
    if match:
        sign, amount, unit = match.groups()
        unit = unit[0].lower()
        delta = timedelta(
            minutes=int(amount) if unit == "m" else 0,
            hours=int(amount) if unit == "h" else 0,
            days=int(amount) if unit == "d" else 0,
        )
        return now + delta if sign == "+" else now - delta
    match = _CLOCK.match(raw)
    if match:
        hour, minute, zulu = int(match[1]), int(match[2]), match[3]
        if hour < 24 and minute < 60:
            zone = UTC if zulu else tz
            day = now.astimezone(zone).replace(tzinfo=None)
            naive = day.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if when == "past" and _local(naive, zone, what, text) > now + timedelta(minutes=1):
                naive -= timedelta(days=1)  # 23:50 typed at 01:35 means last night
            elif when == "future" and _local(naive, zone, what, text) < now - timedelta(minutes=1):
                naive += timedelta(days=1)  # 07:00 typed at 20:00 means tomorrow morning
            return _local(naive, zone, what, text)
    candidate = raw.replace(" ", "T", 1) if " " in raw else raw
    if candidate[-1:] in "zZ":
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a time I understand; {TIME_EXAMPLES}") from None
    if parsed.tzinfo is None:
        return _local(parsed.replace(microsecond=0), tz, what, text)
    return as_utc(parsed).replace(microsecond=0)


def _local(naive: datetime, zone: tzinfo, what: str, text: str) -> datetime:
    """A wall-clock time in `zone` as UTC; refuse one the clocks skip or show twice."""
    if zone is UTC:
        return naive.replace(tzinfo=UTC)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    readings = " or ".join(f"{d.strftime('%H:%M %Z')} ({d.astimezone(UTC).strftime('%H%MZ')})" for d in (first, second))
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise UsageError(
            f"{what}: {text!r} does not exist in {zone}: the clocks skip that hour that night; "
            f"did you mean {readings}? Type it with Z in UTC, e.g. 0730Z"
        )
    raise UsageError(
        f"{what}: {text!r} happens twice in {zone} (the clocks go back that night): {readings}; "
        "type the one you mean with Z in UTC"
    )


def format_time(value: datetime | None, *, tz: tzinfo = UTC, fmt: str = "%d %b %Y %H%MZ") -> str:
    """Show a stored time in the display timezone and format; empty for None."""
    if value is None:
        return ""
    return as_utc(value).astimezone(tz).strftime(fmt)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, the form used in JSON output."""
    if value is None:
        return None
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")

"""Times: parsing what people type, storing UTC, showing it the configured way."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo

from tracker.errors import UsageError

TIME_EXAMPLES = "e.g. 2026-11-21 14:32, 2026-11-21T14:32Z, 14:32, 1432Z, now, +2h or -15m"

_RELATIVE = re.compile(r"^([+-])\s*(\d+)\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?)$", re.I)
_CLOCK = re.compile(r"^(\d{1,2}):?(\d{2})\s*(z)?$", re.I)


def utcnow() -> datetime:
    """The current time in UTC, to the millisecond (what a workbook cell keeps)."""
    now = datetime.now(UTC)
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


def parse_time(text: str, *, tz: tzinfo = UTC, now: datetime | None = None, what: str = "time") -> datetime:
    """Parse a time a person typed; naive times are in the display timezone `tz`.

    Raises UsageError naming `what` and the accepted forms.
    """
    now = now or utcnow()
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
            local = now.astimezone(zone)
            return local.replace(hour=hour, minute=minute, second=0).astimezone(UTC)
    candidate = raw.replace(" ", "T", 1) if " " in raw else raw
    if candidate[-1:] in "zZ":
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a time I understand; {TIME_EXAMPLES}") from None
    return as_utc(parsed, tz).replace(microsecond=0)


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

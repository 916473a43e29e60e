"""How the commands write times, spans and tables on the terminal (shared by the command modules)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from tracker.errors import UsageError
from tracker.text import table


def iso_text(value: datetime) -> str:
    """A moment in the JSON output's form (UTC, ISO 8601)."""
    from tracker.times import iso

    return iso(value) or ""


def minutes(count: int) -> str:
    """A whole number of minutes as people read it: `45 min`, `2 h 5 min`."""
    from tracker.rules.clock import duration  # lazy, as every library import of the command line

    return duration(timedelta(minutes=count))


def span(text: str, what: str) -> timedelta:
    """`15m`, `2h`, `1d` as a timedelta, or a UsageError naming the option."""
    match = re.fullmatch(r"\s*(\d{1,5})\s*(m|min|h|d)\s*", text, re.I)
    if not match:
        raise UsageError(f"{what} {text!r}: use minutes, hours or days, e.g. 15m, 2h or 1d")
    unit = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}[match[2].lower()]
    return timedelta(**{unit: int(match[1])})


def indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


__all__ = ["indent", "iso_text", "minutes", "span", "table"]

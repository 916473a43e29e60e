"""The suite's clock: the moment every test starts at (tracker's rehearsal clock, pinned), unless the test
rehearses another with the `at` fixture.

It is `PINNED` unless pytest runs with `--clock ISO-TIME` (CI also runs the date-sensitive tests at the next
1 January, at 23:55 on 31 December and on 29 February 2028). Tests take every year, ID and date from it (`year()`,
`event_id(n)`, `opened_id(when)`), never from the machine's clock, so the suite passes on any day.
"""

from __future__ import annotations

from datetime import UTC, datetime

PINNED = datetime(2026, 11, 21, 15, 54, 0, tzinfo=UTC)
"""A Saturday afternoon: the README's transcripts (the docs test) and, by default, every test start here."""

NOW = PINNED
"""The moment tests start at in this run (`--clock`, else PINNED); set once by conftest.pytest_configure."""

WAITS: list[float] = []
"""The waits for someone else (Retry-After, backoff, another writer: `Clock.wait`) tracker asked for in this test, in
seconds, in order; the tests' own process sleeps none of them (conftest.clean_environment)."""


def parse(text: str) -> datetime:
    """An ISO time, UTC when no offset is given (`2027-01-01T00:05Z`, `2028-02-29 23:50`)."""
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def year() -> int:
    """The year tests start in: the year of the example event's ID and of every `open`'s."""
    return NOW.year


def event_id(number: int = 1, *, when: datetime | None = None) -> str:
    """The ID `tracker open` gives the `number`th event of the year the suite runs in (or `when`'s)."""
    return f"EVT-{(when or NOW).year}-{number:04d}"


def opened_id(when: datetime, earlier: int = 1) -> str:
    """The ID `tracker open` gives at `when` after `earlier` events of the suite's year (the example's is one):
    the next of that year, or the first of a new one when the clock has moved into the next year (a run that
    starts on 31 December at 23:55)."""
    return event_id(earlier + 1 if when.year == NOW.year else 1, when=when)


def action_id(number: int = 1, *, when: datetime | None = None) -> str:
    """The ID `tracker action add` gives the `number`th action of the year the suite runs in (or `when`'s)."""
    return f"ACT-{(when or NOW).year}-{number:04d}"


def ago(**delta: float) -> datetime:
    """A moment before the suite's, e.g. `ago(minutes=5)` (aware, UTC); `naive=` is not taken: use .replace."""
    from datetime import timedelta

    return NOW - timedelta(**delta)

"""One retry policy for tracker's calls to Microsoft 365: how many attempts, how long to wait (a server's Retry-After
in full), and one deadline that all the waiting of an operation shares, however its retries nest.

A write retries at three places: a request throttled (429, 503) or unanswered (microsoft365.remote), a part of an
Excel-service batch (store.excel_service), and the whole commit when another writer came first (store.engine).
Nested, their waits once multiplied (up to 5 x 60 s a request, 5 tries a batch part, 6 commits: minutes) while the
writer held the journal's lock, which other commands wait for [workbook] lock_timeout (60 s) before saying so.
Now the outermost `deadline()` gives one budget of waiting to everything inside it, and a retry that would wait
past it gives up at once, with its own layer's message.

Every wait goes through `CLOCK.wait`, which tests make instant and record."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from tracker.times import CLOCK

ATTEMPTS = 5  # tries of one request or batch part, the first included
BACKOFF_MAX = 30.0  # tracker's own backoff (no Retry-After) doubles up to this
DEADLINE = 90.0  # all the waiting of one operation (a commit and all its requests)

_budget: ContextVar[list[float] | None] = ContextVar("tracker_retry_budget", default=None)


@contextmanager
def deadline(seconds: float | None = None) -> Iterator[None]:
    """Everything retried inside shares `seconds` (default DEADLINE) of waiting. Nested, the outer one holds."""
    if _budget.get() is not None:
        yield
        return
    total = DEADLINE if seconds is None else seconds
    token = _budget.set([total, total])
    try:
        yield
    finally:
        _budget.reset(token)


class Retries:
    """The attempts at one thing. After a failure, `again(wait)` waits and says to try once more, or says to give
    up: the attempts are spent, or the wait would pass the deadline (`out_of_time`)."""

    def __init__(self, attempts: int | None = None) -> None:
        self.attempts = ATTEMPTS if attempts is None else attempts
        self.made = 1
        self.out_of_time = False
        self.refused = 0.0  # the wait that would have passed the deadline
        shared = _budget.get()
        self._budget = shared if shared is not None else [DEADLINE, DEADLINE]  # outside any deadline(): its own

    def again(self, wait: float) -> bool:
        """Wait `wait` seconds (see `retry_after`) and return True, or return False at once to give up."""
        if self.made >= self.attempts:
            return False
        wait = max(0.0, wait)
        if wait > self._budget[0]:
            self.out_of_time = True
            self.refused = wait
            return False
        self._budget[0] -= wait
        CLOCK.wait(wait)
        self.made += 1
        return True

    @property
    def said(self) -> str:
        """How the retries ended, for a message: "after 5 attempts" (and why it stopped sooner)."""
        attempts = "1 attempt" if self.made == 1 else f"{self.made} attempts"
        if self.out_of_time:
            return f"after {attempts} (tracker waits at most {DEADLINE:.0f} s in all for one command)"
        return f"after {attempts}"

    def too_long(self, who: str, why: str) -> str:
        """After `again` refused a server's Retry-After longer than what is left of the deadline, one line to say
        so: "SharePoint asks to wait 120 s (throttled); more than this command's 90 s deadline: try again in 2
        minutes"."""
        left, total = self._budget
        limit = f"this command's {total:.0f} s deadline"
        if left < total:
            limit = f"the {left:.0f} s left of {limit}"
        minutes = max(1, math.ceil(self.refused / 60))
        later = "a minute" if minutes == 1 else f"{minutes} minutes"
        return f"{who} asks to wait {self.refused:.0f} s ({why}); more than {limit}: try again in {later}"


def asked(response: Any) -> float | None:
    """The server's Retry-After in seconds (given as seconds or as an HTTP date), or None when it gave none."""
    value = response.headers.get("Retry-After") if response is not None else None
    wait = None
    if value:
        try:
            wait = float(value)
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                wait = (
                    parsedate_to_datetime(value) - datetime.now(parsedate_to_datetime(value).tzinfo)
                ).total_seconds()
            except (TypeError, ValueError):
                wait = None
    if wait is None or not math.isfinite(wait):
        return None
    return max(0.0, wait)


def retry_after(response: Any, attempt: int) -> float:
    """Seconds to wait: the server's Retry-After in full (SharePoint's and Microsoft Graph's throttling guidance:
    waiting less brings more throttling, and can get the app blocked), else tracker's own exponential backoff,
    jittered so that clients throttled together do not come back in step. A wait longer than the deadline is not
    waited: `Retries.again` gives up at once (`too_long` says so)."""
    wait = asked(response)
    if wait is not None:
        return wait
    wait = min(2.0**attempt, BACKOFF_MAX)
    return wait + random.uniform(0, min(1.0, wait * 0.1 + 0.05))

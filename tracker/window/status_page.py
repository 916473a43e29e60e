"""What a status page shows, as its templates read it: the open events (facts, SLAs, leads), those resolved lately, the counts per severity, the charts' data; and what publishing did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tracker.window.charts import Trend, WeeklyCounts

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Fact:
    """One labelled value of an event (`Services`, `Email, VPN`)."""

    label: str
    value: str


@dataclass(frozen=True)
class Sla:
    """One SLA timer as the page shows it."""

    name: str
    words: str  # e.g. `2 h 5 min of 4 h: at risk`
    state: str  # met | running | at risk | breached


@dataclass(frozen=True)
class OpenEvent:
    """An open event as the audience may read it; empty strings where it may not (or nothing is known)."""

    id: str
    title: str
    severity: str  # the audience's wording
    colour: str
    status: str
    status_text: str  # the status in a sentence, for external audiences
    impact: str
    facts: tuple[Fact, ...]
    latest_at: str
    latest: str
    slas: tuple[Sla, ...]
    next_update_state: str  # overdue | due soon | "" (on time, unknown, or an external audience's page)

    @property
    def breached(self) -> bool:
        """Whether one of its SLA targets is already missed."""
        return any(s.state == "breached" for s in self.slas)


@dataclass(frozen=True)
class ResolvedEvent:
    """An event restored in the last 7 days: how long it took against its target."""

    id: str
    title: str
    severity: str
    colour: str
    resolved: str
    restored_in: str
    target: str  # "" when the audience may not read the target or the severity sets none
    result: str  # met | breached | ""


@dataclass(frozen=True)
class SeverityCount:
    """How many open events have one severity."""

    name: str
    colour: str
    count: int


@dataclass(frozen=True)
class StatusPage:
    """Everything the status page shows, already filtered for its audience."""

    title: str
    audience: str
    external: bool
    now: datetime
    published_at: str
    published_iso: str  # the same moment in UTC, for the page's own staleness check in the reader's browser
    stale_after_minutes: int  # the page says it may be out of date once it is older than this
    timezone: str
    counts: tuple[SeverityCount, ...]
    open_events: tuple[OpenEvent, ...]
    resolved: tuple[ResolvedEvent, ...] | None  # None: the audience may not read resolution times
    weekly: WeeklyCounts | None  # None: the audience may not read when events started
    trend: Trend | None
    notes: tuple[str, ...] = field(default=())
    # One line per shown event whose restore time is unknown (its Resolved cell is before its Detected cell).
    warnings: tuple[str, ...] = field(default=())
    drills: tuple[OpenEvent, ...] | None = None  # the drills section (`publish --drills`); None: not asked for
    watch: str = ""  # when reminders last ran (internal pages), loudly when the watch has gone quiet
    watch_quiet: bool = False

    @property
    def breached(self) -> int:
        """Open events with an SLA target missed."""
        return sum(1 for e in self.open_events if e.breached)


@dataclass(frozen=True)
class Published:
    """Where a status page went and what it said."""

    to: str  # local | sharepoint
    where: str  # the file's path or the page's URL
    audience: str
    open_events: int
    breached: int
    resolved_recent: int
    published_at: datetime
    warnings: tuple[str, ...] = ()  # the page's warnings (`StatusPage.warnings`), for the CLI to say

"""The figures of `tracker report`: counts, time to acknowledge and to restore, SLA attainment, outage minutes.

Pure functions over a Tracker: nothing here prints, sends or draws. The definitions (README, "`tracker report`"):

- An event belongs to the period [since, until) when it was **detected** in it, so consecutive periods never count
  an event twice; grouped by month, an event counts whole in the month (display timezone) it was detected in.
- Time to acknowledge: reported (else detected) to acknowledged; time to restore: detected to the final
  resolution. The SLA results are `tracker.clock.timers()`'s, the same `tracker show` and the emails give.
- A reopened event restores at its final resolution (its SLA result); its **outage minutes** leave out the time
  it spent resolved before it was reopened. An open event is not in the time to restore; its outage minutes run
  to the moment the report is made.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from tracker.audience import Audience
from tracker.clock import timers
from tracker.errors import UsageError
from tracker.policy import OPEN_STATUSES, is_open
from tracker.times import iso
from tracker.workbook import Row, Tracker, converter

GROUPINGS = ("severity", "service", "month", "category")
WORST = 5  # events in each "worst" list
# What each figure is made from: an audience that may not read one of these fields does not get the figure.
NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "time_to_acknowledge": (("Events", "reported_at"), ("Events", "acknowledged_at")),
    "time_to_restore": (("Events", "detected_at"), ("Events", "resolved_at")),
    "first_response": (("Events", "acknowledged_at"), ("Severities", "first_response_minutes")),
    "restoration": (("Events", "resolved_at"), ("Severities", "restoration_minutes")),
    "user_minutes": (("Events", "users_affected"),),
    "category": (("Events", "category"),),
}


@dataclass(frozen=True)
class Period:
    """The events detected from `since` (included) to `until` (excluded)."""

    since: datetime
    until: datetime


def default_period(now: datetime, days: int = 30) -> Period:
    """The last `days` days up to now."""
    return Period(now - timedelta(days=days), now)


@dataclass
class Facts:
    """One event's measured times, in minutes (None when unknown)."""

    row: Row
    open: bool
    services: list[str]
    month: str
    acknowledge: float | None
    restore: float | None
    outage: float
    users: int | None
    reopened: int
    sla: dict[str, str] = field(default_factory=dict)  # timer name -> met | breached | pending | no target
    targets: dict[str, int] = field(default_factory=dict)  # timer name -> target minutes

    @property
    def user_minutes(self) -> float | None:
        """Outage minutes times users affected, when the users are known."""
        return None if self.users is None else self.outage * self.users


def minutes(span: timedelta) -> float:
    """A span in minutes."""
    return span.total_seconds() / 60


def _rounded(value: float | None) -> float | int | None:
    if value is None:
        return None
    value = round(value, 1)
    return int(value) if value == int(value) else value


def _reopen_history(tracker: Tracker, candidates: set[str]) -> dict[str, list[tuple[datetime, str]]]:
    """(at, status) of every update of the candidate events, oldest first, keyed by casefolded event ID."""
    out: dict[str, list[tuple[datetime, str]]] = {}
    if not candidates or not tracker.sheet("Updates").present:
        return out
    for row in tracker.rows_where("Updates", "event_id", candidates):
        if isinstance(row["at"], datetime) and row["status"]:
            out.setdefault(str(row["event_id"]).casefold(), []).append((row["at"], str(row["status"])))
    for history in out.values():
        history.sort(key=lambda item: item[0])
    return out


def outage_spans(
    detected: datetime, history: list[tuple[datetime, str]], resolved: datetime | None, now: datetime
) -> tuple[list[tuple[datetime, datetime]], int]:
    """The spans an event was out (detected to a resolution, a reopening to the next, ...) and how often it was
    reopened, from its updates' statuses in time order; the last span ends at `resolved` (None: still open, `now`)."""
    spans: list[tuple[datetime, datetime]] = []
    start: datetime | None = detected
    reopened = 0
    for at, status in history:
        if status in ("Resolved", "Closed") and start is not None:
            spans.append((start, max(at, start)))
            start = None
        elif status in OPEN_STATUSES and start is None:
            start, reopened = at, reopened + 1
    if start is not None:
        spans.append((start, max(resolved or now, start)))
    elif resolved is not None and spans:  # the final resolution's own time (`resolve --at`) ends the last span
        spans[-1] = (spans[-1][0], max(resolved, spans[-1][0]))
    return spans, reopened


# The Events columns a report reads: typing only these keeps `report --json` near `list --open` at 10,000 events.
EVENT_FIELDS = (
    "id",
    "title",
    "severity",
    "status",
    "category",
    "services_affected",
    "users_affected",
    "detected_at",
    "reported_at",
    "acknowledged_at",
    "resolved_at",
    "root_cause",
    "public_cause",
)


def event_rows(tracker: Tracker) -> list[Row]:
    """The Events rows that have an ID, typed as the workbook types them but only in the columns a report reads."""
    layout = tracker.layout("Events")
    plan = [
        (name, layout.columns[name], converter(layout.spec.fields[name]))
        for name in EVENT_FIELDS
        if name in layout.columns
    ]
    out = []
    for offset, cells in enumerate(tracker.raw_rows("Events")):
        width = len(cells)
        values = {name: convert(cells[index]) if index < width else None for name, index, convert in plan}
        if values.get("id") is not None:
            out.append(Row(offset + 2, values))
    return out


def event_facts(
    tracker: Tracker, period: Period, now: datetime, tz: tzinfo = UTC, at_risk: float = 0.75
) -> tuple[list[Facts], list[dict[str, Any]]]:
    """The facts of every event detected in the period, and the events left out for a bad cell (each with the
    cell and what is wrong, worded as `tracker validate` words it)."""
    from tracker.validation import cell_problems

    if tracker.actual_name("Updates") is not None:
        tracker.preload("Events", "Severities", "Updates")  # parsed side by side: reopenings are read from Updates
    tracker.require("Events", "Severities")
    events = tracker.layout("Events")
    severities = tracker.sheet("Severities")
    chosen: list[Row] = []
    skipped: list[dict[str, Any]] = []
    for row in event_rows(tracker):
        if not row["id"]:
            continue
        detected = row["detected_at"]
        if not isinstance(detected, datetime):
            problems = cell_problems(tracker, "Events", row, "detected_at")
            where = f"{events.cell('detected_at', row.number)} (Detected (UTC)): empty"
            skipped.append({"event_id": str(row["id"]), "problem": str(problems[0]) if problems else where})
            continue
        if period.since <= detected < period.until:
            chosen.append(row)
    resolutions = tracker.rows_where("Updates", "status", {"resolved"}) if tracker.sheet("Updates").present else []
    resolved_count: dict[str, int] = {}
    for update in resolutions:
        key = str(update["event_id"] or "").casefold()
        resolved_count[key] = resolved_count.get(key, 0) + 1
    wanted = {str(r["id"]).casefold(): r for r in chosen}
    candidates = {  # reopened: resolved twice, or resolved once and open again
        key for key, count in resolved_count.items() if key in wanted and (count > 1 or is_open(wanted[key]["status"]))
    }
    history = _reopen_history(tracker, candidates)
    out: list[Facts] = []
    for row in chosen:
        detected = row["detected_at"]
        still_open = str(row["status"] or "") not in ("Resolved", "Closed")
        resolved = row["resolved_at"] if isinstance(row["resolved_at"], datetime) and not still_open else None
        if not still_open and resolved is None:
            problems = cell_problems(tracker, "Events", row, "resolved_at")
            where = str(problems[0]) if problems else f"{events.cell('resolved_at', row.number)} (Resolved (UTC))"
            skipped.append({"event_id": str(row["id"]), "problem": f"{where}: empty, but the event is {row['status']}"})
            continue
        reported = row["reported_at"] if isinstance(row["reported_at"], datetime) else detected
        acknowledged = row["acknowledged_at"] if isinstance(row["acknowledged_at"], datetime) else None
        spans, reopened = outage_spans(detected, history.get(str(row["id"]).casefold(), []), resolved, now)
        severity = severities.find(str(row["severity"] or ""))
        facts = Facts(
            row=row,
            open=still_open,
            services=[s.strip() for s in str(row["services_affected"] or "").split(",") if s.strip()],
            month=detected.astimezone(tz).strftime("%Y-%m"),
            acknowledge=minutes(acknowledged - reported) if acknowledged is not None else None,
            restore=minutes(resolved - detected) if resolved is not None else None,
            outage=sum(minutes(end - start) for start, end in spans),
            users=row["users_affected"] if isinstance(row["users_affected"], int) else None,
            reopened=reopened,
        )
        found = {t.name: t for t in timers(row, severity, now, at_risk)}
        for name in ("first response", "restoration"):
            timer = found.get(name)
            if timer is None:
                facts.sla[name] = "no target"
            else:
                facts.sla[name] = timer.state if timer.state in ("met", "breached") else "pending"
                facts.targets[name] = int(timer.target.total_seconds() // 60)
        out.append(facts)
    return out, skipped


def _mean(values: list[float]) -> float | int | None:
    return _rounded(statistics.fmean(values)) if values else None


def _median(values: list[float]) -> float | int | None:
    return _rounded(statistics.median(values)) if values else None


def _share(met: int, breached: int) -> float | None:
    return round(met / (met + breached), 4) if met + breached else None


def summarise(key: str | None, facts: list[Facts]) -> dict[str, Any]:
    """One group's figures (the same shape for the whole period, whose key is None)."""
    acknowledge = [f.acknowledge for f in facts if f.acknowledge is not None]
    restore = [f.restore for f in facts if f.restore is not None]
    known_users = [f.user_minutes for f in facts if f.user_minutes is not None]
    out: dict[str, Any] = {
        "key": key,
        "events": len(facts),
        "open": sum(f.open for f in facts),
        "resolved": sum(not f.open for f in facts),
        "reopened": sum(f.reopened > 0 for f in facts),
        "not_acknowledged": sum(f.acknowledge is None for f in facts),
        "time_to_acknowledge_mean_minutes": _mean(acknowledge),
        "time_to_acknowledge_median_minutes": _median(acknowledge),
        "time_to_restore_mean_minutes": _mean(restore),
        "time_to_restore_median_minutes": _median(restore),
        "outage_minutes": _rounded(sum(f.outage for f in facts)),
        "user_minutes": _rounded(sum(known_users)) if known_users else None,
    }
    for name, prefix in (("first response", "first_response"), ("restoration", "restoration")):
        met = sum(f.sla[name] == "met" for f in facts)
        breached = sum(f.sla[name] == "breached" for f in facts)
        out[f"{prefix}_met"] = met
        out[f"{prefix}_breached"] = breached
        out[f"{prefix}_share_met"] = _share(met, breached)
    return out


def attainment(facts: list[Facts], severity_order: list[str]) -> list[dict[str, Any]]:
    """Per severity (Severities sheet order), per SLA timer: met, breached, pending (still running, within or past
    nothing yet decided), no_target (the severity sets none); met + breached + pending + no_target = events."""
    by: dict[str, list[Facts]] = {}
    for f in facts:
        by.setdefault(str(f.row["severity"] or ""), []).append(f)
    order = [s for s in severity_order if s in by] + sorted(s for s in by if s not in severity_order)
    out = []
    for severity in order:
        group = by[severity]
        entry: dict[str, Any] = {"severity": severity, "events": len(group)}
        for name, prefix in (("first response", "first_response"), ("restoration", "restoration")):
            counts = {state: sum(f.sla[name] == state for f in group) for state in ("met", "breached", "pending")}
            targets = {f.targets[name] for f in group if name in f.targets}
            entry[prefix] = {
                "target_minutes": targets.pop() if len(targets) == 1 else None,
                **counts,
                "no_target": sum(f.sla[name] == "no target" for f in group),
                "share_met": _share(counts["met"], counts["breached"]),
            }
        out.append(entry)
    return out


def services(facts: list[Facts]) -> list[dict[str, Any]]:
    """Per service, most outage minutes first: an event with several services counts whole for each."""
    by: dict[str, list[Facts]] = {}
    for f in facts:
        for name in f.services or ["(none)"]:
            by.setdefault(name, []).append(f)
    out = []
    for name, group in by.items():
        known = [f.user_minutes for f in group if f.user_minutes is not None]
        out.append(
            {
                "service": name,
                "events": len(group),
                "open": sum(f.open for f in group),
                "outage_minutes": _rounded(sum(f.outage for f in group)),
                "user_minutes": _rounded(sum(known)) if known else None,
            }
        )
    return sorted(out, key=lambda s: (-(s["outage_minutes"] or 0), s["service"].casefold()))


def _group_keys(f: Facts, by: str) -> list[str]:
    if by == "service":
        return f.services or ["(none)"]
    if by == "month":
        return [f.month]
    return [str(f.row[by] or "(none)")]


class Report:
    """The figures of one period, grouped one way, as one audience may read them (None: the team, everything)."""

    def __init__(
        self,
        tracker: Tracker,
        period: Period,
        now: datetime,
        *,
        by: str = "severity",
        tz: tzinfo = UTC,
        audience: Audience | None = None,
        at_risk: float = 0.75,
    ) -> None:
        if by not in GROUPINGS:
            raise UsageError(f"--by {by!r}: use one of {', '.join(GROUPINGS)}")
        self.period, self.now, self.by, self.tz, self.audience = period, now, by, tz, audience
        self.facts, self.skipped = event_facts(tracker, period, now, tz, at_risk)
        self.severity_order = [str(r["name"]) for r in tracker.sheet("Severities").rows if r["name"]]
        self.withheld = sorted(
            name
            for name, needs in NEEDS.items()
            if audience is not None and not all(audience.may_read(sheet, f) for sheet, f in needs)
        )
        if by != "severity" and not self.shows(by):
            raise UsageError(
                f"--by {by}: the {audience.name if audience else ''} audience may not read the Events column it "
                f"needs (schema x-audiences); use --by severity, service or month"
            )

    def shows(self, figure: str) -> bool:
        """Whether this report's audience may read the figure (see NEEDS)."""
        return figure not in self.withheld

    def groups(self) -> list[dict[str, Any]]:
        """One summary per group, in a stable order (severities as on their sheet, months in time order,
        services and categories by name)."""
        by: dict[str, list[Facts]] = {}
        for f in self.facts:
            for key in _group_keys(f, self.by):
                by.setdefault(key, []).append(f)
        if self.by == "severity":
            keys = [s for s in self.severity_order if s in by] + sorted(k for k in by if k not in self.severity_order)
        else:
            keys = sorted(by, key=str.casefold)
        return [self._hide(summarise(key, by[key])) for key in keys]

    def totals(self) -> dict[str, Any]:
        """The whole period's summary."""
        return self._hide(summarise(None, self.facts))

    def attainment(self) -> list[dict[str, Any]]:
        """SLA attainment per severity, the timers this audience may read."""
        out = []
        for entry in attainment(self.facts, self.severity_order):
            for prefix in ("first_response", "restoration"):
                if not self.shows(prefix):
                    entry[prefix] = None
            out.append(entry)
        return out

    def services(self) -> list[dict[str, Any]]:
        """Outage minutes and user-minutes per service."""
        rows = services(self.facts)
        if not self.shows("user_minutes"):
            for row in rows:
                row["user_minutes"] = None
        return rows

    def event(self, f: Facts) -> dict[str, Any]:
        """One event as this audience may read it."""
        values = dict(f.row.values)
        if self.audience is not None:
            values = self.audience.view("Events", values)
        external = self.audience is not None and self.audience.external
        cause = values.get("public_cause") if external else (values.get("root_cause") or values.get("public_cause"))
        return {
            "id": values.get("id"),
            "title": values.get("title"),
            "severity": values.get("severity"),
            "status": values.get("status"),
            "services": f.services,
            "detected_at": iso(f.row["detected_at"]),
            "resolved_at": iso(f.row["resolved_at"]) if not f.open else None,
            "time_to_acknowledge_minutes": _rounded(f.acknowledge) if self.shows("time_to_acknowledge") else None,
            "time_to_restore_minutes": _rounded(f.restore),
            "outage_minutes": _rounded(f.outage),
            "users_affected": f.users if self.shows("user_minutes") else None,
            "reopened": f.reopened,
            "restoration": f.sla["restoration"] if self.shows("restoration") else None,
            "cause": cause or None,
        }

    def worst(self) -> dict[str, list[dict[str, Any]]]:
        """The longest restorations (resolved events) and, where the audience may read it, the most users."""
        resolved = sorted((f for f in self.facts if f.restore is not None), key=lambda f: (-(f.restore or 0), _id(f)))
        out = {"longest_restoration": [self.event(f) for f in resolved[:WORST]], "most_users": []}
        if self.shows("user_minutes"):
            users = sorted((f for f in self.facts if f.users), key=lambda f: (-(f.users or 0), _id(f)))
            out["most_users"] = [self.event(f) for f in users[:WORST]]
        return out

    def open_events(self) -> list[dict[str, Any]]:
        """Events of the period still open, the longest running first."""
        running = sorted((f for f in self.facts if f.open), key=lambda f: (-f.outage, _id(f)))
        return [self.event(f) for f in running]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (README, "`tracker report`")."""
        return {
            "period": {"since": iso(self.period.since), "until": iso(self.period.until), "events": "detected"},
            "generated_at": iso(self.now),
            "audience": self.audience.name if self.audience is not None else None,
            "by": self.by,
            "totals": self.totals(),
            "groups": self.groups(),
            "sla": self.attainment(),
            "services": self.services(),
            "worst": self.worst(),
            "open": self.open_events(),
            "withheld": self.withheld,
            "skipped": self.skipped,
        }

    def _hide(self, summary: dict[str, Any]) -> dict[str, Any]:
        hidden = {
            "time_to_acknowledge": ("time_to_acknowledge_mean_minutes", "time_to_acknowledge_median_minutes"),
            "first_response": ("first_response_met", "first_response_breached", "first_response_share_met"),
            "restoration": ("restoration_met", "restoration_breached", "restoration_share_met"),
            "user_minutes": ("user_minutes",),
        }
        for figure, keys in hidden.items():
            if not self.shows(figure):
                for key in keys:
                    summary[key] = None
        if not self.shows("time_to_acknowledge"):
            summary["not_acknowledged"] = None
        return summary


def _id(f: Facts) -> str:
    return str(f.row["id"] or "")


CSV_COLUMNS = (
    "key",
    "events",
    "open",
    "resolved",
    "reopened",
    "not_acknowledged",
    "time_to_acknowledge_mean_minutes",
    "time_to_acknowledge_median_minutes",
    "time_to_restore_mean_minutes",
    "time_to_restore_median_minutes",
    "outage_minutes",
    "user_minutes",
    "first_response_met",
    "first_response_breached",
    "first_response_share_met",
    "restoration_met",
    "restoration_breached",
    "restoration_share_met",
)


def csv_rows(groups: Iterable[dict[str, Any]]) -> list[list[Any]]:
    """The groups as CSV rows (the header first): one row per group, empty where unknown or withheld."""
    rows: list[list[Any]] = [list(CSV_COLUMNS)]
    rows += [["" if g[c] is None else g[c] for c in CSV_COLUMNS] for g in groups]
    return rows

"""The figures of `tracker report`: counts, time to acknowledge and to restore, SLA attainment, outage minutes.

Pure functions over a Tracker: nothing here prints, sends or draws. The definitions (README, "`tracker report`"):

- An event belongs to the period [since, until) when it was **detected** in it, so consecutive periods never count
  an event twice; grouped by month, an event counts whole in the month (display timezone) it was detected in.
- Time to acknowledge: reported (else detected) to acknowledged; time to restore: detected to the final
  resolution. The SLA results are `tracker.rules.clock.timers()`'s, the same `tracker show` and the emails give.
- A reopened event restores at its final resolution (its SLA result); its **outage minutes** leave out the time
  it spent resolved before it was reopened. An open event is not in the time to restore; its outage minutes run
  to the moment the report is made.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from tracker.errors import UsageError
from tracker.rules.clock import SPANS, TIMERS, target_minutes, timer_span, timer_state
from tracker.times import iso
from tracker.workbook.policy import OPEN_STATUSES, is_open
from tracker.workbook.reading import Row, Tracker, converter, raw_key

if TYPE_CHECKING:
    from tracker.sending.audience import Audience

GROUPINGS = ("severity", "service", "month", "category")
WORST = 5  # events in each "worst" list
SLA_TIMERS = (("first response", "first_response"), ("restoration", "restoration"))  # clock.timers() name, JSON
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


@dataclass
class Facts:
    """One event's measured times, in minutes (None when unknown)."""

    row: Row
    open: bool
    services: list[str]
    acknowledge: float | None
    restore: float | None
    outage: float
    users: int | None
    reopened: int
    sla: dict[str, str] = field(default_factory=dict)  # timer name -> met | breached | pending | no target | unknown
    targets: dict[str, int | None] = field(default_factory=dict)  # timer name -> target minutes (None: none)
    # Why its restore time is unknown although it is resolved (its Resolved cell is before its Detected cell): its
    # restore time, outage minutes and the SLA results that stop at the resolution are in no figure. "" when known.
    restore_problem: str = ""

    @property
    def user_minutes(self) -> float | None:
        """Outage minutes times users affected, when the users are known."""
        return None if self.users is None else self.outage * self.users


def minutes(span: timedelta) -> float:
    """A span in minutes."""
    return span.total_seconds() / 60


def sla_targets(severity: Row | None) -> dict[str, int | None]:
    """The severity's target in minutes per SLA timer (None: it sets none), read as `tracker.rules.clock.timers()`
    reads them (`tracker.rules.clock.target_minutes`)."""
    return {name: target_minutes(severity, target_field) for name, _start, _stop, target_field, _verb in TIMERS}


def sla_states(event: dict[str, Any], targets: dict[str, int | None], now: datetime) -> dict[str, str]:
    """Each SLA timer's result as a report counts it: met, breached, pending (running or at risk) or no target.

    The rules are `tracker.rules.clock.timers()`'s own (`timer_span`, `timer_state`), without building a Timer per
    event, which a report of 10,000 events cannot afford; tests/test_report.py checks that the two agree."""
    out: dict[str, str] = {}
    for name in SPANS:
        target, span = targets[name], timer_span(event, name)
        if target is None or span is None:
            out[name] = "no target"
            continue
        started, stopped = span
        elapsed = max((stopped or now) - started, timedelta(0))
        state = timer_state(elapsed, timedelta(minutes=target), stopped is not None)
        out[name] = state if state in ("met", "breached") else "pending"
    return out


def _rounded(value: float | None) -> float | int | None:
    if value is None:
        return None
    value = round(value, 1)
    return int(value) if value == int(value) else value


def _resolution_counts(tracker: Tracker, wanted: set[str]) -> dict[str, int]:
    """How many Updates rows of each wanted event (casefolded ID) have the status Resolved, read from the raw cells
    (as `Tracker.rows_where` matches them: trimmed, case-insensitive) without typing the sheet."""
    layout = tracker.layout("Updates")
    ident, status = layout.columns.get("event_id"), layout.columns.get("status")
    counts: dict[str, int] = {}
    if not wanted or not layout.present or ident is None or status is None:
        return counts
    resolutions = [  # no cell type but text reads as a word
        cells
        for cells in tracker.raw_rows("Updates")
        if len(cells) > status and isinstance(cells[status], str) and cells[status].strip().casefold() == "resolved"
    ]
    for cells in resolutions:
        key = raw_key(cells[ident] if ident < len(cells) else None)
        if key in wanted:
            counts[key] = counts.get(key, 0) + 1
    return counts


def reopen_history(tracker: Tracker, candidates: set[str]) -> dict[str, list[tuple[datetime, str]]]:
    """(at, status) of every update of the candidate events, oldest first, keyed by casefolded event ID."""
    out: dict[str, list[tuple[datetime, str]]] = {}
    if not candidates or not tracker.layout("Updates").present:
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

# (field, column index, kind, enum options, the workbook's converter)
_Plan = list[tuple[str, int, str, frozenset[str], Callable[[Any], Any]]]


def _typed(cells: Sequence[Any], plan: _Plan) -> dict[str, Any]:
    """One raw row typed in the planned columns as the workbook types them (`converter`); the commonest cells
    (trimmed text, naive datetimes, whole numbers) inline, since this runs for every event of the period."""
    values: dict[str, Any] = {}
    width = len(cells)
    for name, index, kind, options, convert in plan:
        cell = cells[index] if index < width else None
        if cell is None:
            values[name] = None
        elif kind == "text" and type(cell) is str:
            values[name] = cell.strip() or None
        elif kind == "datetime" and type(cell) is datetime and cell.tzinfo is None:
            values[name] = cell.replace(tzinfo=UTC)
        elif kind == "integer" and type(cell) is float and cell.is_integer():
            values[name] = int(cell)
        elif options and cell in options:  # an enum cell spelled as the schema spells it
            values[name] = cell
        else:
            values[name] = convert(cell)
    return values


def event_rows(tracker: Tracker, period: Period | None = None) -> tuple[list[Row], list[Row]]:
    """(the Events rows with an ID detected in the period (all of them when None), the rows with an ID whose
    Detected cell is not a time), typed as the workbook types them but only in the columns a report reads; a row
    detected outside the period is typed no further than its ID and Detected cells."""
    layout = tracker.layout("Events")
    fields = layout.spec.fields
    plan: _Plan = [
        (name, layout.columns[name], fields[name].kind, frozenset(fields[name].enum), converter(fields[name]))
        for name in EVENT_FIELDS
        if name in layout.columns
    ]
    first = [step for step in plan if step[0] in ("id", "detected_at")]
    rest = [step for step in plan if step[0] not in ("id", "detected_at")]
    chosen: list[Row] = []
    undated: list[Row] = []
    for offset, cells in enumerate(tracker.raw_rows("Events")):
        values = _typed(cells, first)
        if not values.get("id"):
            continue
        detected = values.get("detected_at")
        if not isinstance(detected, datetime):
            values.update(_typed(cells, rest))
            undated.append(Row(offset + 2, values))
        elif period is None or period.since <= detected < period.until:
            values.update(_typed(cells, rest))
            chosen.append(Row(offset + 2, values))
    return chosen, undated


def event_facts(
    tracker: Tracker, period: Period, now: datetime, told: set[str] | None = None, heard: set[str] | None = None
) -> tuple[list[Facts], list[dict[str, Any]]]:
    """The facts of every event detected in the period, and the events left out for a bad cell (each with the
    cell and what is wrong, worded as `tracker validate` words it). `told`: only the events whose severity
    (casefolded) is in it, or whose ID (casefolded) is in `heard` (the audience had an email about it), also among
    those left out (None: every event)."""
    if tracker.actual_name("Updates") is not None:
        tracker.preload("Events", "Severities", "Updates")  # parsed side by side: reopenings are read from Updates
    tracker.require("Events", "Severities")
    events = tracker.layout("Events")
    severities = tracker.sheet("Severities")
    chosen, undated = event_rows(tracker, period)
    if told is not None:
        known = heard or set()
        chosen = [r for r in chosen if str(r["severity"] or "").casefold() in told or str(r["id"]).casefold() in known]
        undated = [
            r for r in undated if str(r["severity"] or "").casefold() in told or str(r["id"]).casefold() in known
        ]
    skipped: list[dict[str, Any]] = []
    if undated:
        from tracker.rules.validation import cell_problems

        for row in undated:
            problems = cell_problems(tracker, "Events", row, "detected_at")
            where = f"{events.cell('detected_at', row.number)} (Detected (UTC)): empty"
            skipped.append({"event_id": str(row["id"]), "problem": str(problems[0]) if problems else where})
    targets_of: dict[str, dict[str, int | None]] = {}  # severity as typed -> its SLA targets
    services_in: dict[str, list[str]] = {}  # Services Affected as typed -> the services (a few hundred kinds)
    out: list[Facts] = []
    for row in chosen:
        values = row.values
        detected = values["detected_at"]
        status = values.get("status")
        still_open = str(status or "") not in ("Resolved", "Closed")
        resolved_at = values.get("resolved_at")
        resolved = resolved_at if isinstance(resolved_at, datetime) and not still_open else None
        if not still_open and resolved is None:
            from tracker.rules.validation import cell_problems

            problems = cell_problems(tracker, "Events", row, "resolved_at")
            where = str(problems[0]) if problems else f"{events.cell('resolved_at', row.number)} (Resolved (UTC))"
            skipped.append({"event_id": str(row["id"]), "problem": f"{where}: empty, but the event is {status}"})
            continue
        reported = values.get("reported_at")
        if not isinstance(reported, datetime):
            reported = detected
        acknowledged = values.get("acknowledged_at")
        if not isinstance(acknowledged, datetime):
            acknowledged = None
        backwards = ""
        if resolved is not None and resolved < detected:  # typed in Excel: no restore time can be made of it
            backwards = (
                f"{events.cell('resolved_at', row.number)} (Resolved (UTC)): {iso(resolved)} is before Detected (UTC) "
                f"{iso(detected)}; its restore time is left out of every figure"
            )
        name = str(values.get("severity") or "")
        if name not in targets_of:
            targets_of[name] = sla_targets(severities.find(name))
        targets = targets_of[name]
        users = values.get("users_affected")
        text = str(values.get("services_affected") or "")
        if text not in services_in:
            services_in[text] = [s.strip() for s in text.split(",") if s.strip()]
        sla = sla_states(values, targets, now)
        if backwards:  # a timer the backwards resolution stopped has no result either
            for name in SPANS:
                span = timer_span(values, name)
                if sla[name] != "no target" and span is not None and span[1] == resolved:
                    sla[name] = "unknown"
        out.append(
            Facts(
                row=row,
                open=still_open,
                services=list(services_in[text]),
                acknowledge=minutes(acknowledged - reported) if acknowledged is not None else None,
                restore=minutes(resolved - detected) if resolved is not None and not backwards else None,
                # one span, detected to the resolution (or now), as outage_spans gives it without a reopening
                outage=0.0 if backwards else minutes(max(resolved or now, detected) - detected),
                users=users if isinstance(users, int) else None,
                reopened=0,
                sla=sla,
                targets=targets,
                restore_problem=backwards,
            )
        )
    wanted = {str(r["id"]).casefold(): r for r in chosen}
    resolved_count = _resolution_counts(tracker, set(wanted))
    candidates = {  # reopened: resolved twice, or resolved once and open again
        key for key, count in resolved_count.items() if count > 1 or is_open(wanted[key]["status"])
    }
    history = reopen_history(tracker, candidates)
    for facts in out if history else []:
        key = str(facts.row["id"]).casefold()
        if key in history and not facts.restore_problem:
            resolved = None if facts.open else facts.row["resolved_at"]
            spans, facts.reopened = outage_spans(facts.row["detected_at"], history[key], resolved, now)
            facts.outage = sum(minutes(end - start) for start, end in spans)
    return out, skipped


def _mean(values: list[float]) -> float | int | None:
    return _rounded(statistics.fmean(values)) if values else None


def _median(values: list[float]) -> float | int | None:
    return _rounded(statistics.median(values)) if values else None


def _share(met: int, breached: int) -> float | None:
    return round(met / (met + breached), 4) if met + breached else None


def summarise(key: str | None, facts: list[Facts], label: str | None = None) -> dict[str, Any]:
    """One group's figures (the same shape for the whole period, whose key is None); `label`: the key as the
    audience reads it (default: the key)."""
    acknowledge: list[float] = []
    restore: list[float] = []
    outage: list[float] = []
    known_users: list[float] = []
    still_open = reopened = 0
    states = {name: {"met": 0, "breached": 0} for name, _ in SLA_TIMERS}
    for f in facts:  # one pass: a report sums 10,000 events into several groups
        if f.acknowledge is not None:
            acknowledge.append(f.acknowledge)
        if f.restore is not None:
            restore.append(f.restore)
        if not f.restore_problem:  # its outage is unknown: in no sum
            outage.append(f.outage)
            if f.users is not None:
                known_users.append(f.outage * f.users)
        still_open += f.open
        reopened += f.reopened > 0
        for name, counts in states.items():
            state = f.sla[name]
            if state in counts:
                counts[state] += 1
    out: dict[str, Any] = {
        "key": key,
        "label": key if label is None else label,
        "events": len(facts),
        "open": still_open,
        "resolved": len(facts) - still_open,
        "reopened": reopened,
        "not_acknowledged": len(facts) - len(acknowledge),
        "time_to_acknowledge_mean_minutes": _mean(acknowledge),
        "time_to_acknowledge_median_minutes": _median(acknowledge),
        "time_to_restore_mean_minutes": _mean(restore),
        "time_to_restore_median_minutes": _median(restore),
        "outage_minutes": _rounded(sum(outage)) if outage or not facts else None,
        "user_minutes": _rounded(sum(known_users)) if known_users else None,
    }
    for name, prefix in SLA_TIMERS:
        met, breached = states[name]["met"], states[name]["breached"]
        out[f"{prefix}_met"] = met
        out[f"{prefix}_breached"] = breached
        out[f"{prefix}_share_met"] = _share(met, breached)
    return out


def attainment(facts: list[Facts], severity_order: list[str]) -> list[dict[str, Any]]:
    """Per severity (Severities sheet order), per SLA timer: met, breached, pending (still running, within or past
    nothing yet decided), no_target (the severity sets none), unknown (stopped by a Resolved time before the
    Detected one); met + breached + pending + no_target + unknown = events."""
    by: dict[str, list[Facts]] = {}
    for f in facts:
        by.setdefault(str(f.row["severity"] or ""), []).append(f)
    order = [s for s in severity_order if s in by] + sorted(s for s in by if s not in severity_order)
    out = []
    for severity in order:
        group = by[severity]
        entry: dict[str, Any] = {"severity": severity, "events": len(group)}
        for name, prefix in SLA_TIMERS:
            counts = {"met": 0, "breached": 0, "pending": 0, "no target": 0, "unknown": 0}
            targets = set()
            for f in group:
                state = f.sla[name]
                if state in counts:
                    counts[state] += 1
                if state != "no target":
                    targets.add(f.targets[name])
            entry[prefix] = {
                "target_minutes": targets.pop() if len(targets) == 1 else None,
                "met": counts["met"],
                "breached": counts["breached"],
                "pending": counts["pending"],
                "no_target": counts["no target"],
                "unknown": counts["unknown"],
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
        measured = [f for f in group if not f.restore_problem]  # an unknown outage is in no sum
        known = [f.outage * f.users for f in measured if f.users is not None]
        out.append(
            {
                "service": name,
                "events": len(group),
                "open": sum(f.open for f in group),
                "outage_minutes": _rounded(sum([f.outage for f in measured])) if measured else None,
                "user_minutes": _rounded(sum(known)) if known else None,
            }
        )
    return sorted(out, key=lambda s: (-(s["outage_minutes"] or 0), s["service"].casefold()))


def _group_keys(f: Facts, by: str, tz: tzinfo) -> list[str]:
    if by == "service":
        return f.services or ["(none)"]
    if by == "month":  # the month (display timezone) it was detected in
        return [f.row["detected_at"].astimezone(tz).strftime("%Y-%m")]
    return [str(f.row[by] or "(none)")]


def told_severities(tracker: Tracker, audience: Audience | None, severities: list[str]) -> set[str] | None:
    """The severities (casefolded) whose events an external audience is told about: those whose Audiences Notified
    names it, as `notify` and the status page decide (`tracker.workbook.policy.severity_audiences`). None for the team and
    for an internal audience (`[mail] internal_audiences`): they see every event."""
    if audience is None or not audience.external:
        return None
    from tracker.workbook.policy import severity_audiences

    reader = audience.name.casefold()
    return {
        name.casefold() for name in severities if reader in {a.casefold() for a in severity_audiences(tracker, name)}
    }


def severity_labels(tracker: Tracker, audience: Audience | None) -> dict[str, str]:
    """Casefolded severity name -> the words an external audience reads for it: the Severities sheet's Customer
    Wording where it has one and the audience may read it (the rule of `tracker.sending.audience.build_context` and the
    status page). Empty for the team and internal audiences, who read the names."""
    if audience is None or not audience.external:
        return {}
    out = {}
    for row in tracker.sheet("Severities").rows:
        wording = audience.view("Severities", dict(row.values)).get("customer_wording")
        if row["name"] and wording:
            out[str(row["name"]).casefold()] = str(wording)
    return out


class Report:
    """The figures of one period, grouped one way, as one audience may read them (None: the team, everything).
    An external audience's figures count only the events whose severity notifies it (`told_severities`)."""

    def __init__(
        self,
        tracker: Tracker,
        period: Period,
        now: datetime,
        *,
        by: str = "severity",
        tz: tzinfo = UTC,
        audience: Audience | None = None,
    ) -> None:
        if by not in GROUPINGS:
            raise UsageError(f"--by {by!r}: use one of {', '.join(GROUPINGS)}")
        self.period, self.now, self.by, self.tz, self.audience = period, now, by, tz, audience
        self.severity_order = [str(r["name"]) for r in tracker.sheet("Severities").rows if r["name"]]
        self.told = told_severities(tracker, audience, self.severity_order)
        self.labels = severity_labels(tracker, audience)
        heard = None
        if self.told is not None and audience is not None:
            from tracker.sending.sendlog import heard_of

            heard = heard_of(tracker, audience.name)
        self.facts, self.skipped = event_facts(tracker, period, now, self.told, heard)
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

    def label(self, severity: Any) -> str:
        """A severity as this audience reads it: its Customer Wording for an external audience (as the status
        page and the emails word it), else its name."""
        name = str(severity or "")
        return self.labels.get(name.casefold(), name)

    def shows(self, figure: str) -> bool:
        """Whether this report's audience may read the figure (see NEEDS)."""
        return figure not in self.withheld

    def groups(self) -> list[dict[str, Any]]:
        """One summary per group, in a stable order (severities as on their sheet, months in time order,
        services and categories by name)."""
        by: dict[str, list[Facts]] = {}
        for f in self.facts:
            for key in _group_keys(f, self.by, self.tz):
                by.setdefault(key, []).append(f)
        if self.by == "severity":
            keys = [s for s in self.severity_order if s in by] + sorted(k for k in by if k not in self.severity_order)
        else:
            keys = sorted(by, key=str.casefold)
        return [self._hide(summarise(key, by[key], self._key_label(key))) for key in keys]

    def totals(self) -> dict[str, Any]:
        """The whole period's summary."""
        return self._hide(summarise(None, self.facts))

    def attainment(self) -> list[dict[str, Any]]:
        """SLA attainment per severity, the timers this audience may read."""
        out = []
        for entry in attainment(self.facts, self.severity_order):
            entry["label"] = self.label(entry["severity"])
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
            "severity_label": self.label(values.get("severity")) if values.get("severity") is not None else None,
            "status": values.get("status"),
            "services": f.services,
            "detected_at": iso(f.row["detected_at"]),
            "resolved_at": iso(f.row["resolved_at"]) if not f.open else None,
            "time_to_acknowledge_minutes": _rounded(f.acknowledge) if self.shows("time_to_acknowledge") else None,
            "time_to_restore_minutes": _rounded(f.restore),
            "outage_minutes": None if f.restore_problem else _rounded(f.outage),
            "users_affected": f.users if self.shows("user_minutes") else None,
            "reopened": f.reopened,
            "restoration": f.sla["restoration"] if self.shows("restoration") else None,
            "cause": cause or None,
        }

    def worst(self) -> dict[str, list[dict[str, Any]]]:
        """The longest restorations (resolved events) and, where the audience may read it, the most users."""
        resolved = heapq.nsmallest(
            WORST, (f for f in self.facts if f.restore is not None), key=lambda f: (-(f.restore or 0), _id(f))
        )
        out = {"longest_restoration": [self.event(f) for f in resolved], "most_users": []}
        if self.shows("user_minutes"):
            users = heapq.nsmallest(WORST, (f for f in self.facts if f.users), key=lambda f: (-(f.users or 0), _id(f)))
            out["most_users"] = [self.event(f) for f in users]
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
            "restore_unknown": self.restore_unknown(),
        }

    def restore_unknown(self) -> list[dict[str, Any]]:
        """The resolved events of the period counted without a restore time, each with the cell that makes it
        unknown (a Resolved time before the Detected one)."""
        return [{"event_id": _id(f), "problem": f.restore_problem} for f in self.facts if f.restore_problem]

    def _key_label(self, key: str) -> str:
        return self.label(key) if self.by == "severity" else key

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
    "label",
)


def csv_rows(groups: Iterable[dict[str, Any]]) -> list[list[Any]]:
    """The groups as CSV rows (the header first): one row per group, empty where unknown or withheld."""
    rows: list[list[Any]] = [list(CSV_COLUMNS)]
    rows += [["" if g[c] is None else g[c] for c in CSV_COLUMNS] for g in groups]
    return rows

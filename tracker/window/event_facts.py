"""The facts of each event that the report counts: its times, SLA results, outage minutes (a reopened event's time resolved left out), reopen history, and the event rows as an audience may read them.

Pure functions over a Tracker: nothing here prints, sends or draws."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import Any

from tracker.rules.categories import is_drill
from tracker.rules.clock import SPANS, TIMERS, target_minutes, timer_span, timer_state
from tracker.rules.validation import cell_problems
from tracker.times import iso
from tracker.workbook.cell_values import converter
from tracker.workbook.policy import FINISHED, OPEN_STATUSES, is_bookkeeping, is_open
from tracker.workbook.reading import Row, SheetData, Tracker
from tracker.workbook.typed_cells import typed_column

_Plan = list[tuple[str, int, str, frozenset[str], Callable[[Any], Any]]]


SLA_TIMERS = (("first response", "first_response"), ("restoration", "restoration"))  # clock.timers() name, JSON


@dataclass(frozen=True)
class Period:
    """The events detected from `since` (included) to `until` (excluded)."""

    since: datetime
    until: datetime


@dataclass(slots=True)
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
    id: str = ""  # the event's ID as the report shows it (str(ID))
    key: str = ""  # and as the report's lookups compare it: trimmed, case-folded

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
        target = targets[name]
        span = None if target is None else timer_span(event, name)
        if target is None or span is None:
            out[name] = "no target"
            continue
        started, stopped = span
        elapsed = max((stopped or now) - started, _NO_TIME)
        state = timer_state(elapsed, _span(target), stopped is not None)
        out[name] = state if state in ("met", "breached") else "pending"
    return out


_NO_TIME = timedelta(0)


@cache
def _span(minutes: int) -> timedelta:
    """A target's minutes as a span, made once per target (a report asks for it twice per event)."""
    return timedelta(minutes=minutes)


def rounded(value: float | None) -> float | int | None:
    if value is None:
        return None
    value = round(value, 1)
    return int(value) if value == int(value) else value


def resolutions(tracker: Tracker) -> dict[str, int]:
    """How many Updates rows of each event (casefolded ID) have the status Resolved (as `Tracker.rows_where` matches
    them: trimmed, case-insensitive), read without typing the sheet: from its XML when the report said it reads
    some rows of Updates (`Tracker.keys_where`), while Events parses."""
    counts: dict[str, int] = {}
    if tracker.actual_name("Updates") is None:
        return counts
    for key in tracker.keys_where("Updates", "event_id", "status", {"resolved"}):
        counts[key] = counts.get(key, 0) + 1
    return counts


def reopen_history(tracker: Tracker, candidates: set[str]) -> dict[str, list[tuple[datetime, str]]]:
    """(at, status) of every update of the candidate events, oldest first, keyed by casefolded event ID."""
    out: dict[str, list[tuple[datetime, str]]] = {}
    if not candidates or not tracker.layout("Updates").present:
        return out
    for row in tracker.rows_where("Updates", "event_id", candidates):
        if isinstance(row["at"], datetime) and row["status"] and not is_bookkeeping(row):  # (a record, not a status)
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
        if status in FINISHED and start is not None:
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
    "communication_lead",  # the report's on-time updates per communication lead
)


def _columns(rows: list[Sequence[Any]], plan: _Plan) -> list[list[Any]]:
    """The planned columns of these raw rows, typed (a row shorter than a column reads as empty there)."""
    if not rows or not plan:
        return [[] for _ in plan]
    indices = [index for _name, index, _kind, _options, _convert in plan]
    if min(map(len, rows)) <= max(indices):  # a reader that leaves trailing empty cells out
        rows = [list(r) + [None] * (max(indices) + 1 - len(r)) for r in rows]
    return [
        typed_column(list(map(itemgetter(index), rows)), convert, kind, options)
        for _name, index, kind, options, convert in plan
    ]


def event_rows(tracker: Tracker, period: Period | None = None) -> tuple[list[Row], list[Row]]:
    """(the Events rows with an ID detected in the period (all of them when None), the rows with an ID whose
    Detected cell is not a time), typed as the workbook types them but only in the columns a report reads; a row
    detected outside the period is typed no further than its ID and Detected cells. Typed a column at a time."""
    layout = tracker.layout("Events")
    fields = layout.spec.fields
    plan: _Plan = [
        (name, layout.columns[name], fields[name].kind, frozenset(fields[name].enum), converter(fields[name]))
        for name in EVENT_FIELDS
        if name in layout.columns
    ]
    first = [step for step in plan if step[0] in ("id", "detected_at")]
    rest = [step for step in plan if step[0] not in ("id", "detected_at")]
    raw = tracker.raw_rows("Events")
    firsts = dict(zip([step[0] for step in first], _columns(raw, first), strict=True))
    ids, times = firsts.get("id", [None] * len(raw)), firsts.get("detected_at", [None] * len(raw))
    wanted: list[int] = []  # the offsets of the chosen and undated rows, in sheet order
    dated: list[bool] = []
    for offset, (ident, detected) in enumerate(zip(ids, times, strict=True)):
        if not ident:
            continue
        if not isinstance(detected, datetime):
            wanted.append(offset)
            dated.append(False)
        elif period is None or period.since <= detected < period.until:
            wanted.append(offset)
            dated.append(True)
    names = [step[0] for step in first] + [step[0] for step in rest]
    columns = [[c[o] for o in wanted] for c in firsts.values()] + _columns([raw[o] for o in wanted], rest)
    chosen: list[Row] = []
    undated: list[Row] = []
    for offset, is_dated, values in zip(wanted, dated, zip(*columns, strict=True), strict=True):
        (chosen if is_dated else undated).append(Row(offset + 2, dict(zip(names, values, strict=True))))
    return chosen, undated


def unknown_severities(tracker: Tracker, rows: Sequence[Row], audience: str, heard: set[str], where: str) -> list[str]:
    """A warning for each event whose severity is on no Severities row (renamed there, say), so that no Audiences
    Notified says whether the external `audience` is told of it: `where` (e.g. "the customer status page") leaves
    it out, or, when the audience had an email about it (its casefolded ID in `heard`), shows it under its severity
    as typed, without the severity's Customer Wording. The rows of other severities are passed over."""
    sheet = tracker.sheet("Severities")
    names = ", ".join(str(r["name"]) for r in sheet.rows if r["name"])
    layout = tracker.layout("Events")
    out = []
    for row in rows:
        severity = str(row["severity"] or "")
        if severity and sheet.find(severity) is not None:
            continue
        typed = f"{severity!r} is not on the Severities sheet ({names})" if severity else "is empty"
        if str(row["id"]).casefold() in heard:
            fate = (
                f"{where} shows the event, since {audience} had an email about it, but names its severity as typed, "
                "without a Customer Wording"
            )
        else:
            fate = f"no Audiences Notified says whether {audience} is told of it, so {where} leaves the event out"
        out.append(
            f"{row['id']}: {layout.cell('severity', row.number)} (Severity) {typed}: {fate}; correct the event's "
            "severity, or the Severities sheet if it was renamed there (tracker validate lists every such cell)"
        )
    return out


def event_facts(
    tracker: Tracker, period: Period, now: datetime, told: set[str] | None = None, heard: set[str] | None = None
) -> tuple[list[Facts], list[dict[str, Any]], list[Row]]:
    """The facts of every event detected in the period, the events left out for a bad cell (each with the cell and
    what is wrong, worded as `tracker validate` words it), and the period's events whose severity is on no
    Severities row. `told`: only the events whose severity (casefolded) is in it, or whose ID (casefolded) is in
    `heard` (the audience had an email about it), also among those left out (None: every event)."""
    tracker.preload("Events", "Severities")  # parsed side by side
    tracker.prefetch("Updates")  # some rows: the reopenings, read from its XML
    resolved = resolutions(tracker)  # counted as Events parses
    tracker.require("Events", "Severities")
    drill: dict[Any, bool] = {}  # a category as typed -> whether it is a drill (a handful of categories)
    chosen, undated = (
        [r for r in rows if not _is_drill(tracker, r.values.get("category"), drill)]
        for rows in event_rows(tracker, period)
    )  # a drill (category exercise) is no outage: it counts in no figure
    severities = tracker.sheet("Severities")
    found: dict[str, bool] = {}  # a severity as typed -> whether a Severities row has it
    unmatched = [r for r in chosen if not _on_sheet(severities, str(r.values.get("severity") or ""), found)]
    if told is not None:
        known = heard or set()
        chosen, undated = (
            [r for r in rows if str(r["severity"] or "").casefold() in told or str(r["id"]).casefold() in known]
            for rows in (chosen, undated)
        )
    skipped = [{"event_id": str(row["id"]), "problem": _undated(tracker, row)} for row in undated]
    reader = _FactReader(tracker, now)
    out: list[Facts] = []
    for row in chosen:
        facts = reader.facts(row)
        if isinstance(facts, str):
            skipped.append({"event_id": str(row["id"]), "problem": facts})
        else:
            out.append(facts)
    _count_reopenings(tracker, chosen, out, now, resolved)
    return out, skipped, unmatched


def _is_drill(tracker: Tracker, category: Any, known: dict[Any, bool]) -> bool:
    """`is_drill` of an event in this category, asked once per category."""
    if category not in known:
        known[category] = is_drill(tracker.schema, {"category": category})
    return known[category]


def _on_sheet(severities: SheetData, name: str, known: dict[str, bool]) -> bool:
    """Whether a Severities row has this name, looked up once per name."""
    if name not in known:
        known[name] = severities.find(name) is not None
    return known[name]


def _undated(tracker: Tracker, row: Row) -> str:
    """Why an event without a Detected time is left out, as validate says it."""

    problems = cell_problems(tracker, "Events", row, "detected_at")
    where = f"{tracker.layout('Events').cell('detected_at', row.number)} (Detected (UTC)): empty"
    return str(problems[0]) if problems else where


class _FactReader:
    """Reads each event's facts, looking up each severity's targets and each Services Affected text once."""

    def __init__(self, tracker: Tracker, now: datetime) -> None:
        self.tracker, self.now = tracker, now
        self.events = tracker.layout("Events")
        self.severities = tracker.sheet("Severities")
        self.targets_of: dict[str, dict[str, int | None]] = {}  # severity as typed -> its SLA targets
        self.services_in: dict[str, list[str]] = {}  # Services Affected as typed -> the services (a few hundred)

    def facts(self, row: Row) -> Facts | str:
        """The event's facts, or why it is left out (a resolved event without its resolution time)."""
        values, now = row.values, self.now
        detected = values["detected_at"]
        status = values.get("status")
        still_open = str(status or "") not in FINISHED
        resolved_at = values.get("resolved_at")
        resolved = resolved_at if isinstance(resolved_at, datetime) and not still_open else None
        if not still_open and resolved is None:
            problems = cell_problems(self.tracker, "Events", row, "resolved_at")
            where = str(problems[0]) if problems else f"{self.events.cell('resolved_at', row.number)} (Resolved (UTC))"
            return f"{where}: empty, but the event is {status}"
        reported = values.get("reported_at")
        reported = reported if isinstance(reported, datetime) else detected
        acknowledged = values.get("acknowledged_at")
        acknowledged = acknowledged if isinstance(acknowledged, datetime) else None
        backwards = ""
        if resolved is not None and resolved < detected:  # typed in Excel: no restore time can be made of it
            backwards = (
                f"{self.events.cell('resolved_at', row.number)} (Resolved (UTC)): {iso(resolved)} is before "
                f"Detected (UTC) {iso(detected)}; its restore time is left out of every figure"
            )
        name = str(values.get("severity") or "")
        if name not in self.targets_of:
            self.targets_of[name] = sla_targets(self.severities.find(name))
        targets = self.targets_of[name]
        sla = sla_states(values, targets, now)
        if backwards:  # a timer the backwards resolution stopped has no result either
            for timer in SPANS:
                span = timer_span(values, timer)
                if sla[timer] != "no target" and span is not None and span[1] == resolved:
                    sla[timer] = "unknown"
        users = values.get("users_affected")
        return Facts(
            row=row,
            open=still_open,
            services=self._services(values.get("services_affected")),
            acknowledge=minutes(acknowledged - reported) if acknowledged is not None else None,
            restore=minutes(resolved - detected) if resolved is not None and not backwards else None,
            # one span, detected to the resolution (or now), as outage_spans gives it without a reopening
            outage=0.0 if backwards else minutes(max(resolved or now, detected) - detected),
            users=users if isinstance(users, int) else None,
            reopened=0,
            sla=sla,
            targets=targets,
            restore_problem=backwards,
            id=(shown := str(values.get("id") or "")),
            key=shown.strip().casefold(),
        )

    def _services(self, value: Any) -> list[str]:
        """Services Affected as a list, split as the schema's x-separator says."""
        text = str(value or "")
        if text not in self.services_in:
            self.services_in[text] = self.events.spec.fields["services_affected"].split(text)
        return list(self.services_in[text])


def _count_reopenings(
    tracker: Tracker, chosen: list[Row], out: list[Facts], now: datetime, counts: dict[str, int]
) -> None:
    """A reopened event (resolved twice, or resolved once and open again: `counts` of its Resolved updates, by
    casefolded ID): its outage leaves out the time it spent resolved, and its facts say how often it was reopened."""
    wanted = {str(r["id"]).casefold(): r for r in chosen}
    candidates = {
        key for key, count in counts.items() if key in wanted and (count > 1 or is_open(wanted[key]["status"]))
    }
    history = reopen_history(tracker, candidates)
    for facts in out if history else []:
        key = str(facts.row["id"]).casefold()
        if key in history and not facts.restore_problem:
            resolved = None if facts.open else facts.row["resolved_at"]
            spans, facts.reopened = outage_spans(facts.row["detected_at"], history[key], resolved, now)
            facts.outage = sum(minutes(end - start) for start, end in spans)

"""The facts of each event that the report counts: its times, SLA results, outage minutes (a reopened event's time resolved left out), reopen history, and the event rows as an audience may read them.

Pure functions over a Tracker: nothing here prints, sends or draws."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from itertools import repeat
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from tracker.rules.categories import is_drill
from tracker.rules.clock import SPANS, TIMERS, target_minutes, timer_span, timer_spans, timer_states
from tracker.times import iso
from tracker.workbook.cell_values import converter
from tracker.workbook.policy import FINISHED, OPEN_STATUSES, is_bookkeeping, is_open, reported_or_detected, users_known
from tracker.workbook.reading import Row, SheetData, Tracker
from tracker.workbook.typed_cells import typed_column

_Plan = list[tuple[str, int, str, frozenset[str], Callable[[Any], Any]]]


SLA_TIMERS = (("first response", "first_response"), ("restoration", "restoration"))  # clock.timers() name, JSON


@dataclass(frozen=True)
class Period:
    """The events detected from `since` (included) to `until` (excluded)."""

    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class EventColumns:
    """Some Events rows typed in the columns a report reads (`EVENT_FIELDS` the sheet has), a column at a time, in
    sheet order: a report of 10,000 events makes no row it does not show."""

    numbers: list[int]  # each event's Excel row number
    columns: dict[str, list[Any]]  # field -> its typed values, one per event

    def __len__(self) -> int:
        return len(self.numbers)

    def column(self, name: str) -> list[Any]:
        """A field's values, one per event (all None when the sheet has no such column)."""
        found = self.columns.get(name)
        return found if found is not None else [None] * len(self.numbers)

    def row(self, at: int) -> Row:
        """The event at this offset as a row."""
        return Row(self.numbers[at], {name: column[at] for name, column in self.columns.items()})

    def rows(self) -> list[Row]:
        """Every event as a row."""
        return [self.row(at) for at in range(len(self.numbers))]

    def take(self, offsets: list[int]) -> EventColumns:
        """The events at these offsets (in order)."""
        if offsets == list(range(len(self.numbers))):  # (the commonest: every event, nothing to copy)
            return self
        columns = {name: [column[at] for at in offsets] for name, column in self.columns.items()}
        return EventColumns([self.numbers[at] for at in offsets], columns)


@dataclass(slots=True)
class Facts:
    """One event's measured times, in minutes (None when unknown)."""

    events: EventColumns = field(repr=False, compare=False)  # the event's typed cells: `row`, `value`
    at: int  # its offset there
    detected: datetime
    severity: str  # as typed ("" when empty)
    open: bool
    services: list[str]
    acknowledge: float | None
    restore: float | None
    outage: float
    users: int | None
    reopened: int
    # each read-only, shared by the events with the same results, and with the same severity
    sla: Mapping[str, str]  # timer name -> met | breached | pending | no target | unknown
    targets: Mapping[str, int | None]  # timer name -> target minutes (None: none)
    # Why its restore time is unknown although it is resolved (its Resolved cell is before its Detected cell): its
    # restore time, outage minutes and the SLA results that stop at the resolution are in no figure. "" when known.
    restore_problem: str
    id: str  # the event's ID as the report shows it (str(ID))
    key: str  # and as the report's lookups compare it: trimmed, case-folded

    @property
    def row(self) -> Row:
        """The event's row (made on demand: the report shows a few)."""
        return self.events.row(self.at)

    def value(self, name: str) -> Any:
        """One of the event's typed cells (`EVENT_FIELDS`; None when empty, or when the sheet has no such column)."""
        if name not in _READ:
            raise KeyError(f"{name!r}: a report reads only {', '.join(EVENT_FIELDS)}")
        column = self.events.columns.get(name)
        return None if column is None else column[self.at]

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

    The rules are `tracker.rules.clock.timers()`'s own (`timer_spans`, `timer_state`), without building a Timer per
    event, which a report of 10,000 events cannot afford; tests/test_report.py checks that the two agree."""
    return dict(_sla_results(lambda name: (event.get(name),), [targets], now)[0])


def _sla_results(
    column: Callable[[str], Sequence[Any]], targets: Sequence[Mapping[str, int | None]], now: datetime
) -> list[Mapping[str, str]]:
    """`sla_states` of many events, a column at a time (`column(field)`: its values, one per event)."""
    results = []
    for name in SPANS:
        starts, stops = timer_spans(column, name)
        # a timer with a target that has started: decided by timer_state; running and at risk count pending
        timed = [
            (at, start, stop, target)
            for at, (start, stop, targets_of) in enumerate(zip(starts, stops, targets, strict=True))
            if (target := targets_of[name]) is not None and isinstance(start, datetime)
        ]
        states = timer_states(
            [max((stop or now) - start, _NO_TIME) for _at, start, stop, _target in timed],
            [_span(target) for _at, _start, _stop, target in timed],
            [stop is not None for _at, _start, stop, _target in timed],
        )
        result = ["no target"] * len(starts)
        for (at, _start, _stop, _target), state in zip(timed, states, strict=True):
            result[at] = state if state in _DECIDED else "pending"
        results.append(result)
    # one read-only mapping per event, shared by the events with the same results (a handful)
    shared: dict[tuple[str, ...], Mapping[str, str]] = {}
    return [
        shared.get(states) or shared.setdefault(states, MappingProxyType(dict(zip(SPANS, states, strict=True))))
        for states in zip(*results, strict=True)
    ]


_DECIDED = ("met", "breached")
_NO_TIME = timedelta(0)


@cache
def _span(minutes: int) -> timedelta:
    """A target's minutes as a span, made once per target (a report asks for it twice per event)."""
    return timedelta(minutes=minutes)


def _minutes_each(later: Sequence[datetime | None], earlier: Sequence[datetime]) -> list[float | None]:
    """`minutes(later - earlier)` of each pair, None where `later` is None: a column at a time (10,000 events)."""
    return [(a - b).total_seconds() / 60 if a is not None else None for a, b in zip(later, earlier, strict=True)]


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

_READ = frozenset(EVENT_FIELDS)


def _columns(rows: list[Sequence[Any]], plan: _Plan) -> list[list[Any]]:
    """The planned columns of these raw rows, typed (a row shorter than a column reads as empty there)."""
    if not rows or not plan:
        return [[] for _ in plan]
    indices = [index for _name, index, _kind, _options, _convert in plan]
    if min(map(len, rows)) <= max(indices):  # a reader that leaves trailing empty cells out
        rows = [list(r) + [None] * (max(indices) + 1 - len(r)) for r in rows]
    # the cells of every planned column at once, a row at a time in C: half the time of one pass per column
    cells = (
        zip(*map(itemgetter(*indices), rows), strict=True)
        if len(indices) > 1
        else [list(map(itemgetter(indices[0]), rows))]
    )
    return [
        typed_column(column, convert, kind, options)
        for column, (_name, _index, kind, options, convert) in zip(cells, plan, strict=True)
    ]


def event_columns(tracker: Tracker, period: Period | None = None) -> tuple[EventColumns, EventColumns]:
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
    chosen: list[int] = []  # the offsets of the chosen rows, and of the undated ones, in sheet order
    undated: list[int] = []
    for offset, (ident, detected) in enumerate(zip(ids, times, strict=True)):
        if not ident:
            continue
        if not isinstance(detected, datetime):
            undated.append(offset)
        elif period is None or period.since <= detected < period.until:
            chosen.append(offset)

    def typed(offsets: list[int]) -> EventColumns:
        every = len(offsets) == len(raw)  # (the commonest report: every row)
        columns = {name: column if every else [column[at] for at in offsets] for name, column in firsts.items()}
        typed = _columns(raw if every else [raw[at] for at in offsets], rest)
        columns.update(zip([step[0] for step in rest], typed, strict=True))
        return EventColumns([at + 2 for at in offsets], columns)

    return typed(chosen), typed(undated)


def event_rows(tracker: Tracker, period: Period | None = None) -> tuple[list[Row], list[Row]]:
    """`event_columns` as rows."""
    chosen, undated = event_columns(tracker, period)
    return chosen.rows(), undated.rows()


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
    `heard` (the audience had an email about it), also among those left out (None: every event). The facts share
    one EventColumns (`Facts.events`), in sheet order."""
    tracker.preload("Events", "Severities")  # parsed side by side
    tracker.prefetch("Updates")  # some rows: the reopenings, read from its XML
    resolved = resolutions(tracker)  # counted as Events parses
    tracker.require("Events", "Severities")
    drill: dict[Any, bool] = {}  # a category as typed -> whether it is a drill (a handful of categories)
    chosen, undated = (
        events.take([at for at, c in enumerate(events.column("category")) if not _is_drill(tracker, c, drill)])
        for events in event_columns(tracker, period)
    )  # a drill (category exercise) is no outage: it counts in no figure
    severities = tracker.sheet("Severities")
    found: dict[str, bool] = {}  # a severity as typed -> whether a Severities row has it
    names = [str(name or "") for name in chosen.column("severity")]
    unmatched = [chosen.row(at) for at, name in enumerate(names) if not _on_sheet(severities, name, found)]
    if told is not None:
        known = heard or set()
        chosen, undated = (
            events.take(
                [
                    at
                    for at, (name, ident) in enumerate(zip(events.column("severity"), events.column("id"), strict=True))
                    if str(name or "").casefold() in told or str(ident).casefold() in known
                ]
            )
            for events in (chosen, undated)
        )
    skipped = [{"event_id": str(row["id"]), "problem": _undated(tracker, row)} for row in undated.rows()]
    out, unresolved = _FactReader(tracker, now).facts(chosen)
    skipped += unresolved
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
    from tracker.rules.validation import cell_problems  # lazy: 3 ms of imports a report of good rows never needs

    problems = cell_problems(tracker, "Events", row, "detected_at")
    where = f"{tracker.layout('Events').cell('detected_at', row.number)} (Detected (UTC)): empty"
    return str(problems[0]) if problems else where


class _FactReader:
    """Reads the events' facts a column at a time, looking up each severity's targets and each Services Affected
    text once."""

    def __init__(self, tracker: Tracker, now: datetime) -> None:
        self.tracker, self.now = tracker, now
        self.events = tracker.layout("Events")
        self.severities = tracker.sheet("Severities")
        self.targets_of: dict[str, Mapping[str, int | None]] = {}  # severity as typed -> its SLA targets
        self.services_in: dict[str, list[str]] = {}  # Services Affected as typed -> the services (a few hundred)

    def facts(self, events: EventColumns) -> tuple[list[Facts], list[dict[str, Any]]]:
        """The events' facts, and those left out, each with why (a resolved event without its resolution time)."""
        now, column = self.now, events.column
        detected = column("detected_at")
        still_open = [str(status or "") not in FINISHED for status in column("status")]
        resolved = [
            r if not o and isinstance(r, datetime) else None
            for r, o in zip(column("resolved_at"), still_open, strict=True)
        ]
        reported = list(map(reported_or_detected, column("reported_at"), detected))
        acknowledged = [a if isinstance(a, datetime) else None for a in column("acknowledged_at")]
        acknowledge = _minutes_each(acknowledged, reported)
        restore = _minutes_each(resolved, detected)
        outage = _minutes_each([max(r or now, d) for r, d in zip(resolved, detected, strict=True)], detected)
        names = [str(name or "") for name in column("severity")]
        targets = [self.targets_of.get(name) or self._targets(name) for name in names]
        sla = _sla_results(column, targets, now)
        backwards = [""] * len(events)  # why its restore time is unknown ("" when known)
        left_out: dict[int, str] = {}  # offset -> why it is in no figure
        for at in [at for at, (o, r) in enumerate(zip(still_open, resolved, strict=True)) if r is None and not o]:
            left_out[at] = self._unresolved(events.row(at))
        for at in [at for at, (r, d) in enumerate(zip(resolved, detected, strict=True)) if r is not None and r < d]:
            own = dict(sla[at])  # (its own: the others with the same results share theirs)
            backwards[at] = self._backwards(events.row(at), own)
            sla[at] = MappingProxyType(own)
            restore[at], outage[at] = None, 0.0
        shown = [str(ident or "") for ident in column("id")]
        out = list(
            map(
                Facts,
                repeat(events),
                range(len(events)),
                detected,
                names,
                still_open,
                map(self._services, column("services_affected")),
                acknowledge,
                restore,
                outage,
                map(users_known, column("users_affected")),
                repeat(0),
                sla,
                targets,
                backwards,
                shown,
                [ident.strip().casefold() for ident in shown],
            )
        )
        if left_out:
            out = [facts for facts in out if facts.at not in left_out]
        return out, [{"event_id": str(events.row(at)["id"]), "problem": why} for at, why in left_out.items()]

    def _targets(self, severity: str) -> Mapping[str, int | None]:
        """A severity's SLA targets (looked up once per severity)."""
        self.targets_of[severity] = MappingProxyType(sla_targets(self.severities.find(severity)))
        return self.targets_of[severity]

    def _unresolved(self, row: Row) -> str:
        """Why a resolved event without its resolution time is left out, as validate says it."""
        from tracker.rules.validation import cell_problems  # lazy: as in _undated

        problems = cell_problems(self.tracker, "Events", row, "resolved_at")
        if problems:  # text that is no time: validate's words for it
            return f"{problems[0]}; the event is {row['status']}, so when it was restored is unknown"
        return (
            f"{self.events.cell('resolved_at', row.number)} (Resolved (UTC)): empty, but the event is {row['status']}"
        )

    def _backwards(self, row: Row, sla: dict[str, str]) -> str:
        """Why a resolution typed before the detection (in Excel) gives no restore time; the timers it stopped get no
        result either (`sla` changed)."""
        values, resolved, detected = row.values, row["resolved_at"], row["detected_at"]
        for timer in SPANS:
            span = timer_span(values, timer)
            if sla[timer] != "no target" and span is not None and span[1] == resolved:
                sla[timer] = "unknown"
        return (
            f"{self.events.cell('resolved_at', row.number)} (Resolved (UTC)): {iso(resolved)} is before "
            f"Detected (UTC) {iso(detected)}; its restore time is left out of every figure"
        )

    def _services(self, value: Any) -> list[str]:
        """Services Affected as a list, split as the schema's x-separator says."""
        text = str(value or "")
        if text not in self.services_in:
            self.services_in[text] = self.events.spec.fields["services_affected"].split(text)
        return list(self.services_in[text])


def _count_reopenings(
    tracker: Tracker, chosen: EventColumns, out: list[Facts], now: datetime, counts: dict[str, int]
) -> None:
    """A reopened event (resolved twice, or resolved once and open again: `counts` of its Resolved updates, by
    casefolded ID): its outage leaves out the time it spent resolved, and its facts say how often it was reopened."""
    status = {
        str(ident).casefold(): status
        for ident, status in zip(chosen.column("id"), chosen.column("status"), strict=True)
    }
    candidates = {key for key, count in counts.items() if key in status and (count > 1 or is_open(status[key]))}
    history = reopen_history(tracker, candidates)
    for facts in out if history else []:
        key = facts.id.casefold()
        if key in history and not facts.restore_problem:
            resolved = None if facts.open else facts.value("resolved_at")
            spans, facts.reopened = outage_spans(facts.detected, history[key], resolved, now)
            facts.outage = sum(minutes(end - start) for start, end in spans)

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
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from tracker.errors import UsageError
from tracker.rules.clock import duration
from tracker.sending.sendlog import heard_of
from tracker.times import iso
from tracker.window import report_funding as funding
from tracker.window.event_facts import SLA_TIMERS, Facts, Period, event_facts, minutes, rounded, unknown_severities
from tracker.workbook.policy import severity_audiences
from tracker.workbook.reading import Tracker

if TYPE_CHECKING:
    from tracker.sending.audience import Audience

GROUPINGS = ("severity", "service", "month", "category", "communication_lead", "hour", "weekday")
WORST = 5  # events in each "worst" list
# What each figure is made from: an audience that may not read one of these fields does not get the figure.
NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "time_to_acknowledge": (("Events", "reported_at"), ("Events", "acknowledged_at")),
    "time_to_restore": (("Events", "detected_at"), ("Events", "resolved_at")),
    "first_response": (("Events", "acknowledged_at"), ("Severities", "first_response_minutes")),
    "restoration": (("Events", "resolved_at"), ("Severities", "restoration_minutes")),
    "user_minutes": (("Events", "users_affected"),),
    "category": (("Events", "category"),),
    "communication_lead": (("Events", "communication_lead"),),
    "updates_on_time": (("Notifications", "sent_at"), ("Updates", "at")),
}


def minutes_text(value: float | None) -> str:
    """Minutes as people read them: `19.6 min`, `4 h 10 min`, `-` when unknown."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:g} min"
    return duration(timedelta(minutes=value))


def _mean(values: list[float]) -> float | int | None:
    return rounded(statistics.fmean(values)) if values else None


def _median(values: list[float]) -> float | int | None:
    return rounded(statistics.median(values)) if values else None


def _share(met: int, breached: int) -> float | None:
    return round(met / (met + breached), 4) if met + breached else None


def summarise(key: str | None, facts: list[Facts], label: str | None = None) -> dict[str, Any]:
    """One group's figures (the same shape for the whole period, whose key is None); `label`: the key as the
    audience reads it (default: the key)."""
    # a pass per figure, each a comprehension or a C count: a report sums 10,000 events into several groups
    acknowledge = [value for f in facts if (value := f.acknowledge) is not None]
    restore = [value for f in facts if (value := f.restore) is not None]
    measured = [f for f in facts if not f.restore_problem]  # an unknown outage is in no sum
    outage = [f.outage for f in measured]
    known_users = [f.outage * f.users for f in measured if f.users is not None]
    still_open = sum([f.open for f in facts])
    reopened = len([f for f in facts if f.reopened > 0])
    states = {name: Counter([f.sla[name] for f in facts]) for name, _ in SLA_TIMERS}
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
        "outage_minutes": rounded(sum(outage)) if outage or not facts else None,
        "user_minutes": rounded(sum(known_users)) if known_users else None,
    }
    for name, prefix in SLA_TIMERS:
        met, breached = states[name]["met"], states[name]["breached"]  # (a Counter: 0 when none)
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
        by.setdefault(f.severity, []).append(f)
    order = [s for s in severity_order if s in by] + sorted(s for s in by if s not in severity_order)
    out = []
    for severity in order:
        group = by[severity]
        entry: dict[str, Any] = {"severity": severity, "events": len(group)}
        for name, prefix in SLA_TIMERS:
            counts = Counter([f.sla[name] for f in group])
            targets = {f.targets[name] for f in group if f.sla[name] != "no target"}
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
                "outage_minutes": rounded(sum([f.outage for f in measured])) if measured else None,
                "user_minutes": rounded(sum(known)) if known else None,
            }
        )
    return sorted(out, key=lambda s: (-(s["outage_minutes"] or 0), s["service"].casefold()))


def _group_keys(f: Facts, by: str, tz: tzinfo) -> list[str]:
    if by == "service":
        return f.services or ["(none)"]
    if by == "month":  # the month (display timezone) it was detected in
        return [f.detected.astimezone(tz).strftime("%Y-%m")]
    if by in ("hour", "weekday"):  # when it was detected (display timezone)
        return [funding.group_key(f, by, tz)]
    return [str(f.value(by) or "(none)")]


def told_severities(tracker: Tracker, audience: Audience | None, severities: list[str]) -> set[str] | None:
    """The severities (casefolded) whose events an external audience is told about: those whose Audiences Notified
    names it, as `notify` and the status page decide (`tracker.workbook.policy.severity_audiences`). None for the team and
    for an internal audience (`[mail] internal_audiences`): they see every event."""
    if audience is None or not audience.external:
        return None

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
        office_hours: str = "",
    ) -> None:
        if by not in GROUPINGS:
            raise UsageError(f"--by {by!r}: use one of {', '.join(GROUPINGS)}")
        self.period, self.now, self.by, self.tz, self.audience = period, now, by, tz, audience
        self.severity_order = [str(r["name"]) for r in tracker.sheet("Severities").rows if r["name"]]
        self.told = told_severities(tracker, audience, self.severity_order)
        self.labels = severity_labels(tracker, audience)
        heard = None
        if self.told is not None and audience is not None:
            heard = heard_of(tracker, audience.name)
        self.facts, self.skipped, unmatched = event_facts(tracker, period, now, self.told, heard)
        # Said on stderr, not in the JSON: an event the audience is not told of stays out of what it reads.
        self.unknown_severity = (
            unknown_severities(tracker, unmatched, audience.name, heard or set(), f"the {audience.name} report")
            if self.told is not None and audience is not None
            else []
        )
        self.promises = funding.promises(tracker, self.facts, now)
        # each event's promises tallied once, summed per group (an event that promised nothing counts none)
        self.tallies = {key: funding.tally(made) for key, made in self.promises.items() if made}
        self.out_of_hours = funding.out_of_hours(tracker, self.facts, tz, office_hours)
        self._outside = set(self.out_of_hours["event_ids"])  # (IDs detected out of hours, for each group)
        self.pages = funding.pages_sent(tracker, self.facts) if audience is None else []  # the team's own figure
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
        if self.by in ("service", "month", "hour", "weekday"):
            for f in self.facts:
                for key in _group_keys(f, self.by, self.tz):
                    by.setdefault(key, []).append(f)
        else:  # an Events column as typed (`_group_keys`), read straight from the column: 10,000 calls fewer
            for value, f in zip(self._column(self.by), self.facts, strict=True):
                by.setdefault(str(value or "(none)"), []).append(f)
        if self.by == "severity":
            keys = [s for s in self.severity_order if s in by] + sorted(k for k in by if k not in self.severity_order)
        elif self.by == "weekday":
            keys = [day for day in funding.WEEKDAYS if day in by]
        else:
            keys = sorted(by, key=str.casefold)
        return [self._hide(summarise(key, by[key], self._key_label(key)) | self._funded(by[key])) for key in keys]

    def _column(self, name: str) -> list[Any]:
        """An Events column (typed, `EVENT_FIELDS`) of the report's events, in the order of `facts`."""
        events = self.facts[0].events if self.facts else None
        if events is None or any(f.events is not events for f in self.facts):  # (event_facts gives one: never)
            return [f.value(name) for f in self.facts]
        column = events.column(name)
        return [column[f.at] for f in self.facts]

    def totals(self) -> dict[str, Any]:
        """The whole period's summary."""
        return self._hide(summarise(None, self.facts) | self._funded(self.facts))

    def _funded(self, facts: list[Facts]) -> dict[str, Any]:
        """A group's on-time updates and events out of hours (see `tracker.window.report_funding`)."""
        counts: dict[str, Any] = funding.counted(*funding.group_tally(facts, self.tallies))
        if not self.shows("updates_on_time"):
            counts = dict.fromkeys(counts)
        outside, known = self._outside, self.out_of_hours["basis"] is not None
        return counts | {"out_of_hours": sum(f.id in outside for f in facts) if known else None}

    def updates_on_time(self) -> dict[str, list[dict[str, Any]]]:
        """The share of updates sent on time per severity and per communication lead ([] where withheld)."""
        if not self.shows("updates_on_time"):
            return {"by_severity": [], "by_communication_lead": []}
        severity = funding.on_time_by(self.facts, self.tallies, [f.severity for f in self.facts], self.severity_order)
        for entry in severity:
            entry["label"] = self.label(entry["key"])
        lead: list[dict[str, Any]] = []
        if self.shows("communication_lead"):
            leads = [str(lead or "(none)") for lead in self._column("communication_lead")]
            lead = funding.on_time_by(self.facts, self.tallies, leads)
        return {"by_severity": severity, "by_communication_lead": lead}

    def when(self) -> dict[str, Any]:
        """Events by hour of day and weekday of detection (display timezone), and out of hours."""
        local = [f.detected.astimezone(self.tz) for f in self.facts]
        return {
            "by_hour": funding.by_hour(local, self.tz, self.pages),
            "by_weekday": funding.by_weekday(local, self.tz, self.pages),
            "out_of_hours": {k: v for k, v in self.out_of_hours.items()},
        }

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
        detected, resolved = values["detected_at"], values.get("resolved_at")
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
            "status_label": self._status_label(values.get("status")),
            "services": f.services,
            "detected_at": iso(detected),
            "resolved_at": iso(resolved) if not f.open else None,
            "time_to_acknowledge_minutes": rounded(f.acknowledge) if self.shows("time_to_acknowledge") else None,
            "time_to_restore_minutes": rounded(f.restore),
            "outage_minutes": None if f.restore_problem else rounded(f.outage),
            "users_affected": f.users if self.shows("user_minutes") else None,
            "reopened": f.reopened,
            "restoration": f.sla["restoration"] if self.shows("restoration") else None,
            "cause": cause or None,
        }

    def against_target(self) -> list[dict[str, Any]]:
        """The period's events with a restoration target and a result, each with its time to restore (an open one:
        its time so far) against that target, the furthest past it first; [] when this audience may not read the
        targets. Each: id, label (its severity as the audience reads it), minutes, target_minutes, state (met,
        breached, pending) and open."""
        if not self.shows("restoration"):
            return []
        out: list[dict[str, Any]] = []
        for f in self.facts:
            state, target = f.sla["restoration"], f.targets["restoration"]
            spent = max(minutes(self.now - f.detected), 0.0) if f.open else f.restore
            if state not in ("met", "breached", "pending") or not target or spent is None:
                continue
            label = self.label(f.severity)
            out.append(
                {"id": f.id, "label": label, "minutes": rounded(spent), "target_minutes": target, "state": state,
                 "open": f.open}
            )  # fmt: skip
        out.sort(key=lambda e: (-e["minutes"] / e["target_minutes"], e["id"]))
        return out

    def worst(self) -> dict[str, list[dict[str, Any]]]:
        """The longest restorations (resolved events) and, where the audience may read it, the most users."""
        resolved = heapq.nsmallest(
            WORST, (f for f in self.facts if f.restore is not None), key=lambda f: (-(f.restore or 0), f.id)
        )
        out = {"longest_restoration": [self.event(f) for f in resolved], "most_users": []}
        if self.shows("user_minutes"):
            users = heapq.nsmallest(WORST, (f for f in self.facts if f.users), key=lambda f: (-(f.users or 0), f.id))
            out["most_users"] = [self.event(f) for f in users]
        return out

    def open_events(self) -> list[dict[str, Any]]:
        """Events of the period still open, the longest running first."""
        running = sorted((f for f in self.facts if f.open), key=lambda f: (-f.outage, f.id))
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
            "updates_on_time": self.updates_on_time(),
            "when": self.when(),
        }

    def restore_unknown(self) -> list[dict[str, Any]]:
        """The resolved events of the period counted without a restore time, each with the cell that makes it
        unknown (a Resolved time before the Detected one)."""
        return [{"event_id": f.id, "problem": f.restore_problem} for f in self.facts if f.restore_problem]

    def _status_label(self, status: Any) -> str | None:
        """A status as this audience reads it: for an external audience the words of its status page and emails
        (`Audience.status_words`), else the status."""
        if status is None or self.audience is None:
            return None if status is None else str(status)
        return self.audience.status_words(str(status))

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
    "updates_on_time",
    "updates_late",
    "updates_share_on_time",
    "out_of_hours",
)


def csv_rows(groups: Iterable[dict[str, Any]]) -> list[list[Any]]:
    """The groups as CSV rows (the header first): one row per group, empty where unknown or withheld."""
    rows: list[list[Any]] = [list(CSV_COLUMNS)]
    rows += [["" if g[c] is None else g[c] for c in CSV_COLUMNS] for g in groups]
    return rows

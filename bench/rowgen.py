"""Realistic tracker rows for the benchmarks: events, their updates and changes.

Deterministic for a given size and seed. Severities, services and distribution lists
are the ones `tracker init --example` writes. Run as a script to write a workbook:

    python bench/rowgen.py 10000 bench/out/events-10000.xlsx
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

UPDATES_PER_EVENT = 3
EVENTS_PER_CHANGE = 5
OPEN_SHARE = 0.01
RESOLVED_SHARE = 0.04
SPAN_DAYS = 3 * 365
# A fixed reference time keeps generated files identical run to run (and cacheable).
REFERENCE_NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

PEOPLE = [
    "Alex Morgan",
    "Priya Shah",
    "Chris Lee",
    "Dana Whitfield",
    "Ravi Menon",
    "Sofia Alvarez",
    "Tom Becker",
    "Jordan Kim",
    "Maria Rossi",
    "Sam O'Neill",
    "Li Wei",
    "Fatima Haddad",
]
SITES = ["All sites", "HQ", "Plant 2", "Warehouse North", "Remote users", "HQ, Plant 2", "Branch offices"]
TEAMS = ["Messaging", "Network", "Service Desk", "Identity", "Business Applications", "Security Operations"]
VENDORS = ["Microsoft", "Cisco", "Palo Alto Networks", "SAP", "Okta", "Fortinet"]
SYMPTOMS = [
    ("outage", "{svc} outage - {site}", "Users cannot use {svc} at {site}."),
    ("degradation", "{svc} slow for {site}", "{svc} responds slowly; some requests time out at {site}."),
    ("security", "Suspicious sign-ins on {svc}", "Possible compromised accounts; {svc} access is being reviewed."),
    ("other", "{svc} planned maintenance overrun", "{svc} maintenance window ran long; partial service at {site}."),
]
CAUSES = [
    "Expired TLS certificate on the gateway",
    "Failed firmware upgrade on the core switch",
    "Database log volume full",
    "Misconfigured conditional-access policy",
    "Upstream provider fibre cut",
    "Memory leak in the application server after patching",
]
WORKAROUNDS = [
    "Use the web client until the service is restored.",
    "Connect through the backup VPN concentrator.",
    "Log tickets by phone with the Service Desk.",
    "Use the mobile app; desktop sign-in is affected.",
]
NOTES = {
    "Investigating": "Event opened: {title}. {team} team engaged and investigating.",
    "Identified": "Cause identified: {cause}. Fix in progress; next update at the due time.",
    "Monitoring": "Fix applied ({cause}); monitoring for recurrence before resolving.",
    "Resolved": "Service restored for all users. Root cause: {cause}.",
    "Closed": "Post-incident review done; actions tracked in the problem record.",
}
PROGRESS_NOTE = "Still working with the {team} team; no change for users yet."
SEVERITY_WEIGHTS = {"Sev 1": 5, "Sev 2": 20, "Sev 3": 45, "Sev 4": 30}


def _minutes(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(minutes=rng.randint(low, high))


def _whole_seconds(value: datetime) -> datetime:
    """Truncate to whole seconds (what people type, and what round-trips exactly)."""
    return value.replace(microsecond=0)


def event_rows(
    count: int, severities: list[dict[str, Any]], services: list[str], seed: int = 1
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` events, UPDATES_PER_EVENT updates each, and one change per EVENTS_PER_CHANGE events.

    Events are in time order (as `tracker open` appends them); the newest OPEN_SHARE are
    still open, the RESOLVED_SHARE before them Resolved, the rest Closed. Every column a
    real event of that status would have is filled.
    """
    rng = random.Random(seed)
    interval = {str(s["name"]): int(s["update_interval_minutes"]) for s in severities}
    names = list(SEVERITY_WEIGHTS)
    weights = list(SEVERITY_WEIGHTS.values())
    start = REFERENCE_NOW - timedelta(days=SPAN_DAYS)
    detected = sorted(start + timedelta(seconds=rng.randint(0, SPAN_DAYS * 86400 - 7200)) for _ in range(count))
    open_from = count - max(3, int(count * OPEN_SHARE)) if count >= 3 else 0
    resolved_from = max(0, open_from - int(count * RESOLVED_SHARE))
    sequence: dict[int, int] = {}
    events: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for index, when in enumerate(detected):
        when = _whole_seconds(when)
        if index >= open_from:
            # open events happened in the last few hours
            when = _whole_seconds(REFERENCE_NOW - _minutes(rng, 30, 600))
            status = rng.choice(["Investigating", "Identified", "Monitoring"])
        elif index >= resolved_from:
            status = "Resolved"
        else:
            status = "Closed"
        sequence[when.year] = sequence.get(when.year, 0) + 1
        event_id = f"EVT-{when.year}-{sequence[when.year]:04d}"
        severity = rng.choices(names, weights)[0]
        category, title_t, impact_t = rng.choice(SYMPTOMS)
        affected = rng.sample(services, rng.randint(1, min(3, len(services))))
        site = rng.choice(SITES)
        title = title_t.format(svc=affected[0], site=site)
        cause = rng.choice(CAUSES)
        team = rng.choice(TEAMS)
        reported = when + _minutes(rng, 2, 15)
        acknowledged = reported + _minutes(rng, 1, 10)
        mitigated = acknowledged + _minutes(rng, 10, 120)
        resolved = mitigated + _minutes(rng, 10, 240) if status in ("Resolved", "Closed") else None
        closed = resolved + timedelta(days=rng.randint(1, 5)) if status == "Closed" and resolved else None
        if status in ("Resolved", "Closed"):
            assert resolved is not None
            stamps = [acknowledged, mitigated, resolved]
            steps = ["Investigating", "Identified", "Resolved"]
        else:
            stamps = [acknowledged, acknowledged + _minutes(rng, 5, 15), acknowledged + _minutes(rng, 16, 25)]
            steps = {
                "Investigating": ["Investigating", "Investigating", "Investigating"],
                "Identified": ["Investigating", "Identified", "Identified"],
                "Monitoring": ["Investigating", "Identified", "Monitoring"],
            }[status]
            mitigated = stamps[2]
        last_update = stamps[-1]
        due = last_update + timedelta(minutes=interval[severity]) if status not in ("Resolved", "Closed") else None
        event = {
            "id": event_id,
            "title": title,
            "severity": severity,
            "status": status,
            "next_update_due": due,
            "category": category,
            "services_affected": ", ".join(affected),
            "sites_affected": site,
            "users_affected": rng.randint(5, 5000),
            "impact": impact_t.format(svc=affected[0], site=site),
            "detected_at": when,
            "reported_at": reported,
            "acknowledged_at": acknowledged,
            "mitigated_at": mitigated if status in ("Monitoring", "Resolved", "Closed") else None,
            "resolved_at": resolved,
            "closed_at": closed,
            "last_update_at": last_update,
            "last_notified_at": last_update + _minutes(rng, 1, 5),
            "event_manager": rng.choice(PEOPLE),
            "incident_lead": rng.choice(PEOPLE),
            "communication_lead": rng.choice(PEOPLE),
            "change_manager": rng.choice(PEOPLE),
            "response_team": ", ".join(rng.sample(TEAMS, 2)),
            "vendor": rng.choice(VENDORS),
            "vendor_case_number": str(rng.randint(10**15, 10**16 - 1)),
            "vendor_case_opened_at": reported + _minutes(rng, 5, 30),
            "workaround": rng.choice(WORKAROUNDS),
            "root_cause": cause if status in ("Resolved", "Closed") else None,
        }
        events.append(event)
        previous = ""
        for at, step in zip(stamps, steps, strict=True):
            note = NOTES[step] if step != previous else PROGRESS_NOTE
            previous = step
            updates.append(
                {
                    "event_id": event_id,
                    "at": at,
                    "author": event["event_manager"],
                    "status": step,
                    "note": note.format(title=title, team=team, cause=cause.lower()),
                    "eta": at + _minutes(rng, 30, 180) if step != "Resolved" else None,
                    "internal": "Yes" if rng.random() < 0.1 else "No",
                }
            )
        if index % EVENTS_PER_CHANGE == 0:
            changes.append(
                {
                    "event_id": event_id,
                    "at": stamps[1] + _minutes(rng, 1, 4),
                    "by": event["change_manager"],
                    "system": f"{affected[0].lower().replace(' ', '-')}-{rng.randint(1, 9):02d}",
                    "change": f"Applied fix for: {cause.lower()}",
                    "approved_by": event["incident_lead"],
                    "rolled_back": "No",
                }
            )
    updates.sort(key=lambda row: row["at"])
    changes.sort(key=lambda row: row["at"])
    return events, updates, changes


def workbook_rows(count: int, seed: int = 1) -> dict[str, list[dict[str, Any]]]:
    """Rows for `build_workbook`: the example reference sheets plus `count` generated events."""
    from tracker.rules.init import example_rows
    from tracker.workbook.schema import load_schema

    example = example_rows(load_schema(), now=REFERENCE_NOW)
    services = [str(row["name"]) for row in example["Services"]]
    events, updates, changes = event_rows(count, example["Severities"], services, seed)
    return {
        "Severities": example["Severities"],
        "Services": example["Services"],
        "Distribution": example["Distribution"],
        "Events": events,
        "Updates": updates,
        "Changes": changes,
    }


def typed_events(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """Events rows as tracker holds them after reading: every field present, empty ones None."""
    from tracker.rules.init import example_rows
    from tracker.workbook.schema import load_schema

    schema = load_schema()
    example = example_rows(schema, now=REFERENCE_NOW)
    services = [str(row["name"]) for row in example["Services"]]
    events, _, _ = event_rows(count, example["Severities"], services, seed)
    empty = dict.fromkeys(schema["Events"].fields)
    return [empty | event for event in events]


def event_instances(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """Events rows as `tracker` checks them: `tracker.workbook.schema.row_instance` of each row's values."""
    from tracker.workbook.schema import row_instance

    return [row_instance(values) for values in typed_events(count, seed)]


def write_workbook(count: int, target: Path, seed: int = 1) -> float:
    """Build a tracker workbook with `count` events at `target` (atomically); return seconds taken."""
    from tracker.rules.build import build_workbook
    from tracker.workbook.schema import load_schema

    started = time.perf_counter()
    book = build_workbook(load_schema(), workbook_rows(count, seed))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        book.save(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return time.perf_counter() - started


if __name__ == "__main__":
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        sys.exit("usage: rowgen.py COUNT TARGET.xlsx")
    seconds = write_workbook(int(sys.argv[1]), Path(sys.argv[2]))
    print(f"{seconds:.1f}")

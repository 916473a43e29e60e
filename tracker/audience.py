"""What each audience may read: the template context of one message, filtered for its audience."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracker.config import Config
from tracker.mail import CUSTOMER_STATUS, KIND_LABELS, parse_sender
from tracker.times import format_time, utcnow
from tracker.workbook import Row, Tracker


def _entries(tracker: Tracker, sheet: str, key: str, kind: str) -> list[dict[str, Any]]:
    rows = [r for r in tracker.sheet(sheet).rows if str(r["event_id"] or "").casefold() == key]
    rows.sort(key=lambda r: (r["at"] if isinstance(r["at"], datetime) else utcnow(), r.number))
    return [dict(r.values, kind=kind) for r in rows]


def build_context(
    tracker: Tracker,
    event: Row,
    audience: str,
    kind: str,
    config: Config,
    next_update: datetime | None,
    sent_at: datetime,
) -> dict[str, Any]:
    """Everything a template may use, already filtered for the audience."""
    key = str(event["id"]).casefold()
    updates = _entries(tracker, "Updates", key, "update")
    public = [u for u in updates if u.get("internal") != "Yes"]
    technical = audience == "technical"
    shown = updates if technical else public
    latest = shown[-1] if shown else None
    eta = next((u["eta"] for u in reversed(shown) if u.get("eta")), None)
    services = tracker.sheet("Services")
    names = [s.strip() for s in str(event["services_affected"] or "").split(",") if s.strip()]
    leads = []
    for name in names:
        row = services.find(name)
        if row and row["technology_lead"]:
            contact = f"{row['technology_lead']}" + (f" <{row['lead_email']}>" if row["lead_email"] else "")
            leads.append((str(row["name"]), contact))
    severity = tracker.sheet("Severities").find(str(event["severity"] or ""))
    interval = severity["update_interval_minutes"] if severity else None
    sender_name, sender_address = parse_sender(config.mail.get("sender"))
    values = dict(event.values)
    customer = audience == "customer"
    if customer:
        # The customer never sees internal fields.
        for name in (
            "vendor",
            "vendor_case_number",
            "vendor_case_opened_at",
            "incident_lead",
            "communication_lead",
            "change_manager",
            "response_team",
        ):
            values[name] = None
        if kind != "resolved":
            values["root_cause"] = None
    if next_update is not None:
        line = f"Next update: by {when(config, next_update)}"
        if interval:
            line += f" (every {interval} minutes while this event is open)"
    else:
        line = "This is the final update for this event unless the issue recurs."
    users = event["users_affected"]
    return {
        "event": values,
        "kind": kind,
        "kind_label": KIND_LABELS[kind],
        "audience": audience,
        "updates": shown,
        "changes": _entries(tracker, "Changes", key, "change") if technical else [],
        "latest": latest,
        "eta": eta,
        "services_text": ", ".join(names),
        "users_text": f"about {users:,}" if isinstance(users, int) else "",
        "service_leads": leads if technical else [],
        "status_text": CUSTOMER_STATUS.get(str(event["status"]), str(event["status"])),
        "severity": dict(severity.values) if severity else {},
        "next_update": next_update,
        "next_update_line": line,
        "contact": event["event_manager"] or "",
        "sender_name": sender_name,
        "sender_address": sender_address,
        "sent_at": sent_at,
        "banner_class": _banner(event),
    }


def _banner(event: Row) -> str:
    if event["status"] in ("Resolved", "Closed"):
        return "resolved"
    number = "".join(ch for ch in str(event["severity"] or "") if ch.isdigit())
    return f"sev-{number}" if number in ("1", "2", "3", "4") else "sev-other"


def when(config: Config, value: Any) -> str:
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    return format_time(value, tz=config.display.tz, fmt=config.display.time_format)

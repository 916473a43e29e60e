"""What each audience may read: the template context of one message, filtered for its audience."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracker.config import Config
from tracker.rules.clock import ETA_PASSED, current_eta, deadline_timer, eta_passed, timers
from tracker.rules.tasks import SHEET as TASKS
from tracker.rules.tasks import list_tasks
from tracker.sending.mail import CUSTOMER_STATUS, KIND_LABELS, parse_sender
from tracker.times import format_time
from tracker.workbook.policy import FINISHED, RESOLVED, flagged, in_time_order, restored, users_known
from tracker.workbook.reading import Row, Tracker


class Audience:
    """One audience and what the schema lets it read (`x-audiences` on every field)."""

    def __init__(self, tracker: Tracker, name: str, internal: tuple[str, ...]) -> None:
        self.tracker, self.name, self.internal = tracker, name, internal
        self.external = name.casefold() not in internal

    def may_read(self, sheet: str, name: str) -> bool:
        """Whether this audience may read the field `name` of `sheet`."""
        spec = self.tracker.schema[sheet].fields.get(name)
        return spec is not None and spec.visible_to(self.name, self.internal)

    def status_words(self, status: str) -> str:
        """An event's status as this audience reads it: an external audience gets the customer's words of the
        outage emails (`mail.CUSTOMER_STATUS`, e.g. "We are investigating the cause."), everyone else the status."""
        return CUSTOMER_STATUS.get(status, status) if self.external else status

    def view(self, sheet: str, values: dict[str, Any]) -> dict[str, Any]:
        """A row's values with every field this audience may not read set to None."""
        fields = self.tracker.schema[sheet].fields
        return {
            name: values.get(name) if spec.visible_to(self.name, self.internal) else None
            for name, spec in fields.items()
        }

    def entries(self, sheet: str, key: str, kind: str, rows: list[Row] | None = None) -> list[dict[str, Any]]:
        """The event's rows of `sheet`, oldest first, as this audience may read them: rows flagged internal
        (`x-internal-flag`) only for audiences that may read the flag. `rows`: the event's rows when the caller
        has already picked them (the status page, for many events at once), else read from the sheet."""
        source = self.tracker.sheet(sheet).rows if rows is None else rows
        rows = in_time_order([r for r in source if str(r["event_id"] or "").casefold() == key])
        flags = [s.name for s in self.tracker.schema[sheet].fields.values() if s.schema.get("x-internal-flag")]
        out = []
        for row in rows:
            if any(flagged(row[f]) and not self.may_read(sheet, f) for f in flags):
                continue
            entry = self.view(sheet, dict(row.values)) | {"kind": kind}
            entry["text"] = self.words(entry)
            out.append(entry)
        return out

    def words(self, entry: dict[str, Any]) -> str:
        """What an update says to this audience: external audiences read the Public Note first, internal ones
        the Note first; each falls back to the other only where the schema lets the audience read it."""
        order = ("public_note", "note") if self.external else ("note", "public_note")
        return next((str(entry[n]).strip() for n in order if entry.get(n) and str(entry[n]).strip()), "")


def build_context(
    tracker: Tracker,
    event: Row,
    audience: str,
    kind: str,
    config: Config,
    next_update: datetime | None,
    sent_at: datetime,
) -> dict[str, Any]:
    """Everything a template may use, already filtered for the audience: a field the schema does not let the
    audience read is None, whatever the template asks for."""
    reader = Audience(tracker, audience, config.internal_audiences)
    key = str(event["id"]).casefold()
    values = reader.view("Events", dict(event.values))
    said, latest, resolution, eta = _story(reader.entries("Updates", key, "update"), kind)
    names = tracker.schema["Events"].fields["services_affected"].split(values["services_affected"])
    leads = _service_leads(tracker, reader, names)
    found = tracker.sheet("Severities").find(str(event["severity"] or ""))
    severity = reader.view("Severities", dict(found.values)) if found else {}
    interval = severity.get("update_interval_minutes")
    label = (severity.get("customer_wording") if reader.external else None) or values["severity"] or ""
    sender_name, sender_address = parse_sender(config.mail.sender)
    line = _next_update_line(config, next_update, interval)
    final = kind in ("resolved", "closed")
    cause = (
        values.get("root_cause") or values.get("public_cause") if not reader.external else values.get("public_cause")
    )
    users = users_known(values["users_affected"])  # (TRUE typed there is no count)
    changes = reader.entries("Changes", key, "change") if reader.may_read("Changes", "change") else []
    slas = _slas(reader, event, found, sent_at, config) if found is not None else []
    return {
        "event": values,
        "kind": "resolved" if kind == "closed" else kind,  # a Closed message reads like the final one
        "kind_label": KIND_LABELS[kind],
        "audience": audience,
        "external": reader.external,
        "updates": said,
        "changes": changes,
        "latest": latest,
        "resolution": resolution,
        "eta": None if restored(event) else eta,  # once restored, the last ETA given is history
        "eta_mark": _eta_mark(eta, sent_at, event, reader.external),
        "cause": cause if final else (values.get("root_cause") or None),
        "bridges": [] if final else _bridges(tracker, values),
        "slas": slas,
        "severity_label": label,
        "services_text": ", ".join(names),
        "users_text": f"about {users:,}" if users is not None else "",
        "service_leads": leads,
        "status_text": CUSTOMER_STATUS.get(str(event["status"]), str(event["status"])),
        "severity": severity,
        "next_update": next_update,
        "next_update_line": line,
        "contact": values["event_manager"] or "",
        "sender_name": sender_name,
        "sender_address": sender_address,
        "sent_at": sent_at,
        "banner_class": _banner(event),
        "tasks": _open_tasks(tracker, reader, key),
    }


def _open_tasks(tracker: Tracker, reader: Audience, key: str) -> list[dict[str, Any]]:
    """The event's open tasks (who is doing what), for an audience the schema lets read them (`x-audiences` on the
    Tasks sheet: the technical one); [] for the others and for a workbook without a Tasks sheet."""
    if TASKS not in tracker.schema.sheets or not reader.may_read(TASKS, "task"):
        return []
    return [reader.view(TASKS, dict(r.values)) for r in list_tasks(tracker, event_id=key, open_only=True)]


def _story(updates: list[dict[str, Any]], kind: str) -> tuple[list[dict[str, Any]], Any, Any, Any]:
    """The timeline as the email tells it: the updates with words, the latest of them (the final email carries the
    resolution note: not a later admin note, not an older one), the resolution, the last ETA given."""
    said = [u for u in updates if u["text"]]
    resolution = _resolution(updates)
    latest = resolution if kind in ("resolved", "closed") else (said[-1] if said else None)
    eta = current_eta(updates)
    return said, latest, resolution, eta


def _eta_mark(eta: Any, sent_at: datetime, event: Row, external: bool) -> str:
    """What follows an ETA the clock has overtaken (rules.clock.eta_passed), in the audience's words; else ""."""
    if not eta_passed(eta, sent_at, event):
        return ""
    return " (this time has passed; we will give a new one)" if external else f" ({ETA_PASSED})"


def _bridges(tracker: Tracker, values: dict[str, Any]) -> list[tuple[str, Any]]:
    """(title, where to join) of each bridge field the event fills in and the audience may read."""
    fields = tracker.schema["Events"].fields.items()
    return [
        (_sentence_case(spec.title), values[name])
        for name, spec in fields
        if name.endswith("_bridge") and values.get(name)
    ]


def _sentence_case(title: str) -> str:
    """ "Management Bridge" as the email's other labels read: "Management bridge" (an acronym stays as it is)."""
    first, *rest = title.split(" ")
    return " ".join([first, *(w.lower() if w[1:].islower() else w for w in rest)])


def _resolution(updates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The update that resolved the event: the first of the last run of Resolved/Closed rows (None without words)."""
    resolution = None
    for entry in reversed(updates):
        if entry.get("status") not in FINISHED:
            break
        if entry.get("status") == RESOLVED:
            resolution = entry if entry["text"] else None
    return resolution


def _service_leads(tracker: Tracker, reader: Audience, names: list[str]) -> list[tuple[str, str]]:
    """(service, its technology lead and, if the audience may read it, the lead's email) of the services named."""
    if not reader.may_read("Services", "technology_lead"):
        return []
    services = tracker.sheet("Services")
    leads = []
    for name in names:
        row = services.find(name)
        if row and row["technology_lead"]:
            email = f" <{row['lead_email']}>" if row["lead_email"] and reader.may_read("Services", "lead_email") else ""
            leads.append((str(row["name"]), f"{row['technology_lead']}{email}"))
    return leads


def _next_update_line(config: Config, next_update: datetime | None, interval: Any) -> str:
    if next_update is None:
        return "This is the final update for this event unless the issue recurs."
    line = f"Next update: by {when(config, next_update)}"
    return line + (f" (every {interval} minutes while this event is open)" if interval else "")


def _slas(reader: Audience, event: Row, severity: Row, sent_at: datetime, config: Config) -> list[tuple[str, str]]:
    """The SLA lines the email shows: restoration always, first response once it is not plainly met."""
    if not reader.may_read("Severities", "restoration_minutes"):
        return []

    deadline = None if reader.external else deadline_timer(reader.tracker, event, sent_at, config.clock.at_risk)
    return [
        (timer.name.capitalize(), timer.words())
        for timer in timers(event, severity, sent_at, config.clock.at_risk) + ([deadline] if deadline else [])
        if timer.name == "restoration" or timer.state != "met"
    ]


def _banner(event: Row) -> str:
    if event["status"] in FINISHED:
        return "resolved"
    number = "".join(ch for ch in str(event["severity"] or "") if ch.isdigit())
    return f"sev-{number}" if number in ("1", "2", "3", "4") else "sev-other"


def when(config: Config, value: Any) -> str:
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    return format_time(value, tz=config.display.tz, fmt=config.display.time_format)

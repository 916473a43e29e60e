"""The status page: what is broken now, what was restored this week, and two charts, for one audience.

`build_page` turns the workbook into a `StatusPage` holding only what the audience may read (the schema's
`x-audiences`, through `tracker.sending.audience.Audience`: internal-only updates never, a field the audience may not
read never); `render_html` makes the self-contained local page and `sharepoint_sections` the same content as
SharePoint web parts; `publish_status` does the whole job for the CLI, `notify` and `watch`.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import re
import statistics
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from tracker import files
from tracker.config import Config
from tracker.errors import ConfigError, TrackerError, UsageError
from tracker.microsoft365.sitepage import publish_site_page
from tracker.rules.categories import is_drill, is_held
from tracker.rules.clock import (
    ETA_PASSED,
    TIMERS,
    Timer,
    current_eta,
    deadline_timer,
    duration,
    eta_passed,
    is_late,
    lead_time,
    timers,
)
from tracker.sending.audience import Audience, when
from tracker.sending.sendlog import heard_of
from tracker.sending.watch_lease import heartbeat_in
from tracker.store.journal import state_dir
from tracker.times import iso
from tracker.window.charts import (
    FALLBACK_COLOURS,
    Series,
    Trend,
    WeeklyCounts,
    strong,
)
from tracker.window.event_facts import unknown_severities
from tracker.window.status_page import Fact, OpenEvent, Published, ResolvedEvent, SeverityCount, Sla, StatusPage
from tracker.window.status_render import render_html, sharepoint_sections
from tracker.workbook.policy import (
    FINISHED,
    OPEN_STATUSES,
    interval_minutes,
    is_open,
    restored,
    severity_audiences,
    users_known,
)
from tracker.workbook.reading import Row, Tracker, raw_key

log = logging.getLogger(__name__)

WEEKS = 12  # the charts' span
RECENT = timedelta(days=7)  # "resolved in the last 7 days"
# A page older than twice its audience's quickest update cadence warns its reader (in the reader's browser): two
# updates may have gone out since. Never under two of `watch --publish`'s 15-minute refreshes; an hour when no
# severity the audience is told of sets a cadence.
STALE_FLOOR_MINUTES = 30
STALE_DEFAULT_MINUTES = 60
LEAD_FIELDS = ("incident_lead", "communication_lead", "event_manager")


def build_page(
    tracker: Tracker, config: Config, now: datetime, audience: str | None = None, *, title: str | None = None
) -> StatusPage:
    """The status page's content for `audience` (default: [publish] audience) as of `now` (drills: `drill_section`)."""
    name = audience or config.publish.audience
    tracker.require("Events", "Updates", "Severities")
    check_audience(tracker, config, name, "--audience" if audience else "tracker.toml [publish] audience")
    reader = Audience(tracker, name, config.internal_audiences)
    severities = _Severities(tracker, reader)
    events = _not_held(tracker, _without_drills(tracker, _recent_events(tracker, config, now))[0], name)
    warnings: list[str] = []
    if reader.external:  # an external audience sees only the events it is told about, in every part of the page
        heard = heard_of(tracker, name)  # and those it heard of, whatever their severity now (sticky audiences)
        warnings += unknown_severities(tracker, events, name, heard, f"the {name} status page")
        events = [e for e in events if severities.notifies(e) or str(e["id"]).casefold() in heard]
    opened = [e for e in events if is_open(e["status"])]
    keys = {str(e["id"]).casefold() for e in opened}
    grouped: dict[str, list[Row]] = {}
    for row in tracker.rows_where("Updates", "event_id", keys) if keys else []:
        grouped.setdefault(str(row["event_id"]).casefold(), []).append(row)
    opened.sort(key=lambda e: (severities.rank(e), _started(e) or now, str(e["id"])))
    open_events = tuple(_open_event(e, reader, severities, config, now, grouped) for e in opened)
    counts: dict[str, SeverityCount] = {}
    for event in open_events:
        seen = counts.get(event.severity)
        counts[event.severity] = SeverityCount(event.severity, event.colour, (seen.count if seen else 0) + 1)
    resolved = None
    if reader.may_read("Events", "resolved_at") and reader.may_read("Events", "detected_at"):
        resolved = tuple(_resolved(events, reader, severities, config, now))
        warnings += [
            f"{e['id']} restore time unknown: {tracker.layout('Events').cell('resolved_at', e.number)} (Resolved "
            f"(UTC)): {iso(e['resolved_at'])} is before Detected (UTC) {iso(e['detected_at'])}; the page shows no "
            "time to restore for it"
            for e in events
            if _backwards(e) and e["status"] in FINISHED
        ]
    weekly = trend = None
    if reader.may_read("Events", "detected_at") and reader.may_read("Events", "severity"):
        weekly = _weekly(events, severities, config, now)
        if reader.may_read("Events", "resolved_at"):
            trend = _trend(events, config, now)
    beat = None if reader.external else heartbeat_in(tracker)  # the team's own pages: is the watch running?
    return StatusPage(
        title=title or config.publish.title,
        audience=name,
        external=reader.external,
        now=now,
        published_at=when(config, now),
        published_iso=iso(now) or "",
        stale_after_minutes=stale_after(severities.shown()),
        timezone=config.display.timezone,
        counts=tuple(counts.values()),
        open_events=open_events,
        resolved=resolved,
        weekly=weekly,
        trend=trend,
        warnings=tuple(warnings),
        watch=beat.line(now, lambda at: when(config, at)) if beat else "",
        watch_quiet=bool(beat and beat.quiet(now)),
    )


def _not_held(tracker: Tracker, events: list[Row], audience: str) -> list[Row]:
    """The events but those whose category holds `audience` until `tracker approve` (rules.categories, as notify
    holds it), unless it was told already: such an event is on no part of its page."""
    held = {str(e["id"]).casefold() for e in events if e["category"] and is_held(tracker, e, audience)}
    held -= heard_of(tracker, audience) if held else set()
    return [e for e in events if str(e["id"]).casefold() not in held]


def _without_drills(tracker: Tracker, events: list[Row]) -> tuple[list[Row], list[Row]]:
    """(the events, the drills among them): a drill is no outage, on no part of the page but its own section."""
    return [e for e in events if not is_drill(tracker.schema, e)], [e for e in events if is_drill(tracker.schema, e)]


def drill_section(
    tracker: Tracker, config: Config, now: datetime, audience: str | None = None
) -> tuple[OpenEvent, ...]:
    """The drills section (`publish --drills`): each drill in the page's weeks, open or over, as this audience may
    read it (an external audience: those it had an email about)."""
    reader = Audience(tracker, audience or config.publish.audience, config.internal_audiences)
    severities = _Severities(tracker, reader)
    drills = _without_drills(tracker, _recent_events(tracker, config, now))[1]
    if reader.external:
        heard = heard_of(reader.tracker, reader.name)
        drills = [d for d in drills if str(d["id"]).casefold() in heard]
    keys = {str(d["id"]).casefold() for d in drills}
    grouped: dict[str, list[Row]] = {}
    for row in reader.tracker.rows_where("Updates", "event_id", keys) if keys else []:
        grouped.setdefault(str(row["event_id"]).casefold(), []).append(row)
    drills.sort(key=lambda e: (_started(e) or now, str(e["id"])))
    return tuple(_open_event(e, reader, severities, config, now, grouped) for e in drills)


def stale_after(severities: Sequence[Row]) -> int:
    """After how many minutes the page warns that it may be out of date: twice the quickest Update Every of these
    severities (those the audience is told of), at least STALE_FLOOR_MINUTES; STALE_DEFAULT_MINUTES when none sets
    one."""
    cadences = [m for m in (interval_minutes(row) for row in severities) if m is not None]
    return max(2 * min(cadences), STALE_FLOOR_MINUTES) if cadences else STALE_DEFAULT_MINUTES


def _backwards(event: Row) -> bool:
    """Whether the event's Resolved time is before its Detected time (typed so in Excel): no duration can be made
    of the two, and none is shown (`tracker.rules.clock.duration` would show the gap's size as if it were one)."""
    started, resolved = _started(event), event["resolved_at"]
    return started is not None and isinstance(resolved, datetime) and resolved < started


def _recent_events(tracker: Tracker, config: Config, now: datetime) -> list[Row]:
    """The Events rows the page can show: open ones and those detected or resolved within the charts' weeks.
    Years of history are left untyped (picked by their raw cells; a cell that is not a date yet, such as text
    typed by hand, is typed and judged like the rest)."""
    columns = tracker.layout("Events").columns
    where = [columns.get(name) for name in ("detected_at", "resolved_at")]
    status, ident = columns.get("status"), columns.get("id")
    if ident is None:
        return []
    zone = config.display.tz
    since = datetime.combine(_weeks(config, now)[0], time(), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    since -= timedelta(days=1)
    opened = {s.casefold() for s in OPEN_STATUSES}

    def cell(raw: Sequence[Any], index: int | None) -> Any:
        return raw[index] if index is not None and index < len(raw) else None

    def recent(value: Any) -> bool:
        if isinstance(value, datetime):
            return value.replace(tzinfo=None) >= since
        return value not in (None, "")

    keys = set()
    detected, resolved = where
    for raw in tracker.raw_rows("Events"):  # (years of closed events: the ID read only of a row that is shown)
        if raw_key(cell(raw, status)) in opened or recent(cell(raw, detected)) or recent(cell(raw, resolved)):
            keys.add(raw_key(cell(raw, ident)))
    keys.discard("")
    return [e for e in tracker.rows_where("Events", "id", keys) if e["id"]] if keys else []


def check_audience(tracker: Tracker, config: Config, audience: str, source: str = "--audience") -> None:
    """Refuse an audience that is neither internal nor on the Distribution sheet (a typo would publish a page
    with the fields of an unknown audience: next to nothing), saying where the name came from (`source`:
    --audience, a usage error, or tracker.toml [publish] audience, a configuration error)."""
    import difflib

    known = {a.casefold() for a in config.internal_audiences}
    if tracker.actual_name("Distribution") is not None:
        known |= {str(a).strip().casefold() for a in tracker.sheet("Distribution").column("audience")}
    known.discard("")
    if audience.casefold() in ("internal", "everyone") or audience.casefold() not in known:
        close = difflib.get_close_matches(audience.casefold(), sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? Use one of" if close else "use one of"
        error = UsageError if source.startswith("--") else ConfigError
        raise error(
            f"audience {audience!r} ({source}) is not on the Distribution sheet nor in [mail] internal_audiences; "
            f"{hint}: {', '.join(sorted(known))}"
        )


class _Severities:
    """The Severities sheet as the page needs it: order (worst first), wording and colour per severity."""

    def __init__(self, tracker: Tracker, reader: Audience) -> None:
        self.reader = reader
        self.rows = [r for r in tracker.sheet("Severities").rows if r["name"]]
        self.sheet = tracker.sheet("Severities")
        spec = tracker.schema["Severities"].fields.get("name")
        given = {str(k).casefold(): str(v) for k, v in ((spec.schema.get("x-colours") or {}) if spec else {}).items()}
        self.colours: dict[str, str] = {}
        for i, row in enumerate(self.rows):
            fill = given.get(str(row["name"]).casefold())
            valid = fill is not None and re.fullmatch(r"#?[0-9A-Fa-f]{6}", fill)
            self.colours[str(row["name"]).casefold()] = (
                strong(fill) if valid and fill else FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)]
            )
        # The severities that notify this audience (Audiences Notified), decided as notify decides them.
        self.told = {
            str(r["name"]).casefold()
            for r in self.rows
            if reader.name.casefold() in {a.casefold() for a in severity_audiences(tracker, str(r["name"]))}
        }

    def notifies(self, event: Row) -> bool:
        """Whether the event's severity notifies this audience (the Severities sheet's Audiences Notified)."""
        found = self.row(event)
        return found is not None and str(found["name"]).casefold() in self.told

    def shown(self) -> list[Row]:
        """The severities this audience's page may name: all for an internal audience, else those it is told of."""
        if not self.reader.external:
            return self.rows
        return [r for r in self.rows if str(r["name"]).casefold() in self.told]

    def row(self, event: Row) -> Row | None:
        return self.sheet.find(str(event["severity"] or ""))

    def rank(self, event: Row) -> int:
        found = self.row(event)
        return self.rows.index(found) if found in self.rows else len(self.rows)

    def colour(self, name: str) -> str:
        return self.colours.get(name.casefold(), "#4b5563")

    def label(self, event: Row) -> str:
        """The severity as this audience reads it: external audiences get the Customer Wording if there is one."""
        raw = str(self.reader.view("Events", dict(event.values)).get("severity") or "")
        found = self.row(event)
        if found is not None and self.reader.external:
            wording = self.reader.view("Severities", dict(found.values)).get("customer_wording")
            if wording:
                return str(wording)
        return raw


def _started(event: Row) -> datetime | None:
    value = event["detected_at"]
    return value if isinstance(value, datetime) else None


def _open_event(
    event: Row, reader: Audience, severities: _Severities, config: Config, now: datetime, grouped: dict[str, list[Row]]
) -> OpenEvent:
    values = reader.view("Events", dict(event.values))
    key = str(event["id"]).casefold()
    updates = reader.entries("Updates", key, "update", rows=grouped.get(key, []))
    said = [u for u in updates if u["text"]]
    latest = said[-1] if said else None
    eta = None if restored(event) else current_eta(updates)  # once restored, the last ETA given is history
    spec = reader.tracker.schema["Events"].fields
    facts: list[Fact] = []

    def add(label: str, value: Any) -> None:
        text = when(config, value) if isinstance(value, datetime) else str(value or "").strip()
        if text:
            facts.append(Fact(label, text))

    add("Services", ", ".join(spec["services_affected"].split(values.get("services_affected"))))
    add("Sites", values.get("sites_affected"))
    started = values.get("detected_at")
    add("Started", started)
    if isinstance(started, datetime):
        add("Duration", duration(now - started))
    passed = " (this time has passed; a new one will follow)" if reader.external else f" ({ETA_PASSED})"
    add("ETA", f"{when(config, eta)}{passed}" if eta_passed(eta, now, event) else eta)
    due = values.get("next_update_due")
    # a promise to an outside reader, shown while it stands (how late the team is stays the team's business; text
    # typed there, which validate names, promises nothing); the team's own page shows whatever the cell holds
    if not reader.external or (isinstance(due, datetime) and not is_late(due, now)):
        add("Next update", due)
    state = ""
    if isinstance(due, datetime) and not reader.external:
        if is_late(due, now):
            state = "overdue"
        elif due - now <= lead_time(severities.row(event), config):
            state = "due soon"
    for name in LEAD_FIELDS:
        if name in spec and reader.may_read("Events", name):
            add(spec[name].title, values.get(name))
    add("Workaround", values.get("workaround"))
    users = users_known(values.get("users_affected"))
    if users is not None and users > 0:  # 0: none known, nothing to say
        add("Users affected", f"about {users:,}")
    label = severities.label(event)
    return OpenEvent(
        id=str(values.get("id") or ""),
        title=str(values.get("title") or ""),
        severity=label,
        colour=severities.colour(str(event["severity"] or "")),
        status=str(values.get("status") or ""),
        status_text=reader.status_words(str(values.get("status"))) if reader.external and values.get("status") else "",
        impact=str(values.get("impact") or ""),
        facts=tuple(facts),
        latest_at=when(config, latest["at"]) if latest else "",
        latest=str(latest["text"]) if latest else "",
        slas=tuple(_slas(event, severities.row(event), reader, config, now)),
        next_update_state=state,
    )


def _timers(event: Row, severity: Row | None, reader: Audience, config: Config, now: datetime) -> list[Timer]:
    """The event's SLA timers whose target and times this audience may read."""
    readable = {
        name
        for name, start, stop, target, _verb in TIMERS
        if reader.may_read("Severities", target)
        and reader.may_read("Events", stop)
        and reader.may_read("Events", "detected_at")
        and (start == "detected_at" or reader.may_read("Events", start))
    }
    return [t for t in timers(event, severity, now, config.clock.at_risk) if t.name in readable]


def _slas(event: Row, severity: Row | None, reader: Audience, config: Config, now: datetime) -> list[Sla]:
    shown = _timers(event, severity, reader, config, now)
    deadline = None if reader.external else deadline_timer(reader.tracker, event, now, config.clock.at_risk)
    return [Sla(t.name.capitalize(), t.words(), t.state) for t in shown + ([deadline] if deadline else [])]


def _resolved(
    events: list[Row], reader: Audience, severities: _Severities, config: Config, now: datetime
) -> list[ResolvedEvent]:
    out = []
    recent = [
        e
        for e in events
        if e["status"] in FINISHED
        and isinstance(e["resolved_at"], datetime)
        and now - RECENT <= e["resolved_at"] <= now
    ]
    recent.sort(key=lambda e: e["resolved_at"], reverse=True)
    for event in recent:
        values = reader.view("Events", dict(event.values))
        started = _started(event)
        restoration = next(
            (t for t in _timers(event, severities.row(event), reader, config, now) if t.name == "restoration"), None
        )
        unknown = _backwards(event)
        out.append(
            ResolvedEvent(
                id=str(values.get("id") or ""),
                title=str(values.get("title") or ""),
                severity=severities.label(event),
                colour=severities.colour(str(event["severity"] or "")),
                resolved=when(config, event["resolved_at"]),
                restored_in="unknown" if unknown else duration(event["resolved_at"] - started) if started else "",
                target=duration(restoration.target) if restoration else "",
                result=restoration.state if restoration and not unknown else "",
            )
        )
    return out


def _weeks(config: Config, now: datetime) -> list[date]:
    """The first days (Mondays, display timezone) of the last WEEKS weeks, this one last."""
    today = now.astimezone(config.display.tz).date()
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]


def _week_index(value: Any, weeks: list[date], config: Config, now: datetime) -> int | None:
    if not isinstance(value, datetime) or value > now:
        return None
    day = value.astimezone(config.display.tz).date()
    index = (day - weeks[0]).days // 7
    return index if 0 <= index < len(weeks) else None


def _weekly(events: list[Row], severities: _Severities, config: Config, now: datetime) -> WeeklyCounts:
    weeks = _weeks(config, now)
    counts: dict[str, list[int]] = {str(r["name"]): [0] * len(weeks) for r in severities.shown()}
    other = [0] * len(weeks)
    for event in events:
        index = _week_index(event["detected_at"], weeks, config, now)
        if index is None:
            continue
        found = severities.row(event)
        if found is None:
            other[index] += 1
        else:  # a severity not shown to this audience still counts an event it heard of (lowered since)
            counts.setdefault(str(found["name"]), [0] * len(weeks))[index] += 1
    labels = {name: severities.label(Row(0, {"severity": name})) for name in counts}
    # a severity with no event in these weeks has no bar, so no place in the legend either
    series = [Series(labels[n], severities.colour(n), tuple(v)) for n, v in counts.items() if any(v)]
    if any(other):
        series.append(Series("Other", "#4b5563", tuple(other)))
    return WeeklyCounts(tuple(weeks), tuple(series))


def _trend(events: list[Row], config: Config, now: datetime) -> Trend:
    weeks = _weeks(config, now)
    spans: list[list[float]] = [[] for _ in weeks]
    for event in events:
        started, resolved = _started(event), event["resolved_at"]
        if event["status"] not in FINISHED or started is None or not isinstance(resolved, datetime):
            continue
        index = _week_index(resolved, weeks, config, now)
        if index is not None and resolved >= started:
            spans[index].append((resolved - started).total_seconds() / 3600)
    hours = tuple(round(statistics.median(s), 1) if s else None for s in spans)
    return Trend(tuple(weeks), hours, tuple(len(s) for s in spans))


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all: a reader (a browser refreshing) never sees half a page."""

    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomic(path, text)


def _not_written(config: Config, target: Path, from_out: bool, beside: bool, exc: OSError) -> TrackerError:
    """One line for a page that could not be written: the path as the user gave it and where it came from, never
    the temporary file beside it (`beside`: another audience's page, named after [publish] path). A place that
    cannot take the page is a setting to change (exit 2); a full disk or a failing device is not (exit 1)."""
    root = config.root.resolve()

    def shown(path: Path) -> str:
        if from_out:
            return str(path)
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)

    source = "--out" if from_out else "beside tracker.toml [publish] path" if beside else "tracker.toml [publish] path"
    above = next((p for p in reversed(target.parents) if p.exists() and not p.is_dir()), None)
    if target.is_dir() or exc.errno == errno.EISDIR:
        reason = "it is a folder"
    elif above is not None:
        reason = f"{shown(above)} is a file, not a folder"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    elif exc.errno == errno.EROFS:
        reason = "the file system is read-only"
    elif exc.errno == errno.ENOENT:
        reason = f"no file can be made in {shown(target.parent)}"
    else:
        reason = (exc.strerror or str(exc)).lower()
    message = f"cannot write the status page to {shown(target)} ({source}): {reason}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
        return TrackerError(message)
    return UsageError(message) if from_out else ConfigError(message)


def target_for(config: Config, audience: str) -> tuple[Path, str]:
    """(local file, SharePoint page name) for `audience`: [publish] path and page_name for the configured audience,
    a sibling named after any other (so `--audience leadership` never overwrites the customer's page)."""
    settings = config.publish
    path = settings.path or (config.root / "status" / "index.html")
    if audience.casefold() == settings.audience.casefold():
        return path, settings.page_name
    slug = re.sub(r"[^a-z0-9]+", "-", audience.casefold()).strip("-") or "audience"
    stem = settings.page_name.removesuffix(".aspx")
    return path.with_name(f"{path.stem}-{slug}{path.suffix}"), f"{stem}-{slug}.aspx"


def publish_status(
    config: Config,
    tracker: Tracker,
    now: datetime,
    *,
    audience: str | None = None,
    out: Path | None = None,
    verbose: bool = False,
    drills: bool = False,
) -> Published:
    """Build the status page for `audience` (default [publish] audience) and publish it: to `out` if given, else
    where [publish] says (a local file, or the SharePoint site page)."""
    name = audience or config.publish.audience
    page = build_page(tracker, config, now, audience)
    page = dataclasses.replace(page, drills=drill_section(tracker, config, now, audience)) if drills else page
    path, page_name = target_for(config, name)
    resolved = len(page.resolved or ())
    if out is not None or config.publish.to == "local":
        target = out or path
        try:
            write_atomic(target, render_html(page, config))
        except OSError as exc:
            beside = name.casefold() != config.publish.audience.casefold()
            raise _not_written(config, target, out is not None, beside, exc) from None
        log.info("status page for %s written to %s", name, target)
        return Published("local", str(target), name, len(page.open_events), page.breached, resolved, now, page.warnings)

    sections = sharepoint_sections(page, config, prefix=page_name.removesuffix(".aspx"))
    memory = state_dir() / "sharepoint" / "site-pages.json"  # the page's id, so the next publish finds it at once
    url = publish_site_page(
        config, page_name=page_name, title=page.title, sections=sections, verbose=verbose, memory=memory
    )
    return Published("sharepoint", url, name, len(page.open_events), page.breached, resolved, now, page.warnings)

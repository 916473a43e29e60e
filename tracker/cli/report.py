"""`tracker report`: the period's figures as a table, JSON, CSV, an HTML page or an email to an audience."""

from __future__ import annotations

import csv
import gc
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from tracker.cli.state import State, pass_state
from tracker.errors import UsageError
from tracker.text import printable, table

DAYS = 30


def minutes_text(value: float | None) -> str:
    """Minutes as the report words them (`19.6 min`, `4 h 10 min`, `-`)."""
    from tracker.window.report import minutes_text as words  # lazy: `tracker --help` loads no report code

    return words(value)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _share(met: int | None, breached: int | None, share: float | None) -> str:
    if met is None:
        return "withheld"
    if share is None:
        return "-"
    return f"{met} met, {breached} breached ({share:.0%})"


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cycle collector off while the report is worked out: the report makes some 100,000 containers and no
    cycles, and each collection walked the parsed sheets (half a million cells) for nothing, 50 ms of a 0.6 s report
    at 10,000 events. After, what it made moves to the oldest generation (freeze, unfreeze: no walk), so that the
    next young collection does not walk it all once more, and the collector is on again, whatever happened."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was:
            gc.enable()


def html_target(given: str) -> Path:
    """The --html FILE as a path that can take the page, checked before the report is worked out: one line naming
    the option and the path when its folder is missing or a file, or when it is a folder itself."""
    path = Path(given)
    if path.is_dir():
        raise UsageError(f"--html {given}: is a folder; give a file name, e.g. {path / 'report.html'}")
    above = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
    if above is not None:
        raise UsageError(f"--html {given}: {above} is a file, not a folder")
    if not path.parent.exists():
        raise UsageError(f"--html {given}: the folder {path.parent} does not exist")
    return path


def _show(state: State, data: dict[str, Any], fmt: str, html_path: str | None, email_to: str | None) -> None:
    """Print the report as JSON, CSV or text (nothing for --email alone), and where --html wrote it."""
    from tracker.window.report import csv_rows

    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(csv_rows(data["groups"]))
        click.echo(out.getvalue(), nl=False)
    elif not email_to:
        click.echo(text_report(data, state.show_time))
    if html_path is not None:
        click.echo(f"wrote {html_path}", err=fmt != "text")


def _email(state: State, tracker: Any, result: Any, data: dict[str, Any], now: Any) -> None:
    """--email: the report to the audience's Distribution rows, said in one line."""
    from tracker.window.report_html import send_report

    sent = send_report(tracker, result, data, state.config, now, text_report(data, state.show_time))
    count = sum(len(m.recipients) for m in sent)
    click.echo(printable(f"sent the report to {sent[0].audience} ({count} recipients): {sent[0].subject}"))


def _period(state: State, since: str | None, until: str | None, now: Any) -> tuple[Any, Any]:
    """--since and --until (default: the last DAYS days up to now), refused when the period would be empty."""
    end = state.time(until, "--until") or now
    start = state.time(since, "--since") or end - timedelta(days=DAYS)
    if start >= end:
        raise UsageError(
            f"--since {state.show_time(start)} is not before --until {state.show_time(end)}; the period would be empty"
        )
    return start, end


def _write_html(target: Path, given: str, result: Any, data: dict[str, Any], config: Any) -> None:
    """--html: the report as a page, or one line naming the option and why it could not be written."""
    from tracker.window.report_html import report_page

    page = report_page(result, data, config)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--html {given}: {(exc.strerror or str(exc)).lower()}") from None


def _figures(state: State, period: tuple[Any, Any], now: Any, by: str, audience: str | None) -> tuple[Any, Any, Any]:
    """The workbook as read, the report of the period (since, until) for the audience, and its JSON form."""
    config = state.config
    with _collector_paused():
        tracker = state.store(read_only=True).read()  # a report writes nothing (--email sends, and logs no row)
        tracker.preload("Events", "Severities")  # parsed in threads while the report's code loads
        tracker.prefetch("Updates")  # some rows: its XML inflates meanwhile (each event's resolutions, reopenings)
        from tracker.window.event_facts import Period  # lazy: `tracker --help` loads no report code
        from tracker.window.report import Report  # lazy: as above

        reader = _reader(tracker, audience, config.internal_audiences)
        hours, tz = config.clock.office_hours, config.display.tz
        result = Report(tracker, Period(*period), now, by=by, tz=tz, audience=reader, office_hours=hours)
        return tracker, result, result.to_json()


def _reader(tracker: Any, name: str | None, internal: Any) -> Any:
    """The audience --audience or --email names, as the Distribution sheet spells it; None for the whole report."""
    if not name:
        return None
    known = sorted({str(r["audience"]).strip() for r in tracker.sheet("Distribution").rows if r["audience"]})
    match = next((k for k in known if k.casefold() == name.strip().casefold()), None)
    if match is None:
        raise UsageError(
            f"audience {name!r} is not on the Distribution sheet; use one of: {', '.join(known) or '(none)'}"
        )
    from tracker.sending.audience import Audience  # (its email imports only when an audience reads the report)

    return Audience(tracker, match, internal)


def text_report(data: dict[str, Any], show_time: Any) -> str:
    """The report as readable tables."""
    totals = data["totals"]
    period = data["period"]
    from tracker.times import as_utc

    def when(text: str) -> str:
        from datetime import datetime

        return str(show_time(as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))))

    if not totals["events"]:
        return f"No events were detected in this period: {when(period['since'])} to {when(period['until'])}."
    lines = [
        f"Events detected {when(period['since'])} to {when(period['until'])}: {totals['events']} "
        f"({totals['open']} open, {totals['reopened']} reopened"
        + (f", {totals['not_acknowledged']} never acknowledged)" if totals["not_acknowledged"] is not None else ")"),
    ]
    if "time_to_acknowledge" not in data["withheld"]:
        lines.append(
            f"Time to acknowledge: mean {minutes_text(totals['time_to_acknowledge_mean_minutes'])}, "
            f"median {minutes_text(totals['time_to_acknowledge_median_minutes'])}"
        )
    lines.append(
        f"Time to restore:     mean {minutes_text(totals['time_to_restore_mean_minutes'])}, "
        f"median {minutes_text(totals['time_to_restore_median_minutes'])} ({totals['resolved']} resolved"
        + (f", {len(data['restore_unknown'])} of them with no restore time)" if data["restore_unknown"] else ")")
    )
    return "\n".join(lines + _tables(data) + _funding_tables(data) if data["groups"] else lines)


BASIS = {
    "roster": "outside the Roster's duty event manager shifts",
    "clock": "outside [clock] office_hours",
}


def _funding_tables(data: dict[str, Any]) -> list[str]:
    """Updates sent on time per severity and per communication lead; events by hour, weekday and out of hours."""
    lines: list[str] = []
    on_time = data["updates_on_time"]
    for entries, title, label in (
        (on_time["by_severity"], "UPDATES ON TIME", "label"),
        (on_time["by_communication_lead"], "COMMUNICATION LEAD", "key"),
    ):
        if entries:
            rows = [
                [str(e[label]), str(e["updates_on_time"]), str(e["updates_late"]), str(e["updates_pending"]),
                 "-" if e["updates_share_on_time"] is None else f"{e['updates_share_on_time']:.0%}"]
                for e in entries
            ]  # fmt: skip
            lines += ["", table(rows, [title, "ON TIME", "LATE", "PENDING", "SHARE"])]
    when = data["when"]
    hours = [f"{h['hour']:02d}" for h in when["by_hour"]]
    counts = [[name.upper(), *(str(h[name]) for h in when["by_hour"])] for name in ("events", "pages")]
    lines += ["", table(counts, ["HOUR", *hours])]
    days = [d["weekday"].upper() for d in when["by_weekday"]]
    counts = [[name.upper(), *(str(d[name]) for d in when["by_weekday"])] for name in ("events", "pages")]
    lines += ["", table(counts, ["WEEKDAY", *days])]
    outside = when["out_of_hours"]
    if outside["basis"] is None:
        lines += ["", "Out of hours: unknown (no duty event manager on the Roster, no [clock] office_hours)"]
    else:
        share = "" if outside["share"] is None else f" ({outside['share']:.0%})"
        lines += [
            "",
            f"Out of hours: {outside['events']} of {data['totals']['events']} events{share}, {BASIS[outside['basis']]}",
        ]
    return lines


def _tables(data: dict[str, Any]) -> list[str]:
    """The report's tables, each after a blank line: the groups, SLA attainment, services, the worst events."""
    rows = [
        [
            str(g["label"]),
            str(g["events"]),
            str(g["open"]),
            minutes_text(g["time_to_acknowledge_median_minutes"]),
            minutes_text(g["time_to_restore_median_minutes"]),
            minutes_text(g["outage_minutes"]),
            _number(g["user_minutes"]),
        ]
        for g in data["groups"]
    ]
    headers = [data["by"].upper(), "EVENTS", "OPEN", "ACK (MEDIAN)", "RESTORE (MEDIAN)", "OUTAGE", "USER-MIN"]
    lines = ["", table(rows, headers)]
    sla = [s for s in data["sla"] if s["first_response"] is not None or s["restoration"] is not None]
    if sla:
        rows = [[s["label"], *(_attainment(s[name]) for name in ("first_response", "restoration"))] for s in sla]
        lines += ["", table(rows, ["SLA", "FIRST RESPONSE", "RESTORATION"])]
    rows = [
        [s["service"], str(s["events"]), minutes_text(s["outage_minutes"]), _number(s["user_minutes"])]
        for s in data["services"]
    ]
    if data["by"] != "service":  # else the groups above are these
        lines += ["", table(rows, ["SERVICE", "EVENTS", "OUTAGE", "USER-MIN"])]
    worst = (
        (
            data["worst"]["longest_restoration"],
            "LONGEST",
            "RESTORED IN",
            lambda e: minutes_text(e["time_to_restore_minutes"]),
        ),
        (data["worst"]["most_users"], "MOST USERS", "USERS", lambda e: _number(e["users_affected"])),
        (data["open"], "STILL OPEN", "RUNNING FOR", lambda e: minutes_text(e["outage_minutes"])),
    )
    for events, title, measure, figure in worst:
        if events:
            rows = [[e["id"] or "", e["severity_label"] or "", figure(e), e["title"] or ""] for e in events]
            headers = [title, "SEV", measure, "TITLE"]
            if events is data["open"]:  # where it stands, worded for the audience (the customer's words for it)
                rows = [row + [e["status_label"] or ""] for row, e in zip(rows, events, strict=True)]
                headers.append("STATUS")
            lines += ["", table(rows, headers)]
    return lines


def _attainment(timer: dict[str, Any] | None) -> str:
    """One SLA timer's results in a period: "4 met, 1 breached (80%)", and what has no result yet."""
    if timer is None:
        return "withheld"
    parts = [_share(timer["met"], timer["breached"], timer["share_met"])] if timer["share_met"] is not None else []
    parts += [f"{timer[k]} {k.replace('_', ' ')}" for k in ("pending", "no_target", "unknown") if timer[k]]
    return ", ".join(parts) or "-"


@click.command("report")
@click.option("--since", help=f"Start of the period (included), e.g. 2026-11-01 (default: {DAYS} days before --until).")
@click.option("--until", help="End of the period (excluded), e.g. 2026-12-01 (default: now).")
@click.option(
    "--by",
    type=click.Choice(["severity", "service", "month", "category", "communication_lead", "hour", "weekday"]),
    default="severity",
    show_default=True,
    help="How to group the events.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (stable; see README).")
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per group.")
@click.option("--html", "html_path", metavar="FILE", help="Also write a self-contained HTML report with charts.")
@click.option("--email", "email_to", metavar="AUDIENCE", help="Send the report to this audience (Distribution sheet).")
@click.option("--audience", help="Only what this audience may read (default: everything, for the team).")
@pass_state
def report(
    state: State,
    since: str | None,
    until: str | None,
    by: str,
    as_json: bool,
    as_csv: bool,
    html_path: str | None,
    email_to: str | None,
    audience: str | None,
) -> None:
    """Figures of a period: events, time to acknowledge and to restore (mean, median), SLA attainment per
    severity, outage minutes and user-minutes per service, the worst events, the events still open, the share
    of updates sent on time (per severity and communication lead), events by hour, weekday and out of hours.

    An event belongs to the period when it was detected in it (default: the last 30 days); see the README,
    "tracker report", for every definition.

    --audience and --email show only what the schema lets that audience read. An external audience (not in
    [mail] internal_audiences, e.g. customer) also counts only the events whose severity notifies it (Severities
    sheet, Audiences Notified); internal audiences such as leadership, and the report without --audience, count
    every event.

    \b
    Example:
      tracker report
      tracker report --since 2026-11-01 --until 2026-12-01 --by service
      tracker report --by month --json
      tracker report --by communication_lead --csv
      tracker report --html report.html --audience leadership
      tracker report --email leadership
    """
    from tracker.times import utcnow

    if as_json and as_csv:
        raise UsageError("--json and --csv each print the report; choose one")
    if email_to and audience and email_to.casefold() != audience.casefold():
        raise UsageError(f"--email {email_to} sends what {email_to} may read; leave out --audience {audience}")
    html_file = html_target(html_path) if html_path else None
    config, now = state.config, utcnow()
    start, end = _period(state, since, until, now)
    tracker, result, data = _figures(state, (start, end), now, by, email_to or audience)
    if html_file is not None:  # written before anything is printed: a refusal comes alone
        _write_html(html_file, str(html_path), result, data, config)
    for item in data["skipped"]:  # each event left out, and each without a restore time, said once
        click.echo(printable(f"warning: {item['event_id']} left out: {item['problem']}"), err=True)
    for item in data["restore_unknown"]:
        click.echo(printable(f"warning: {item['event_id']} restore time unknown: {item['problem']}"), err=True)
    for line in result.unknown_severity:
        click.echo(printable(f"warning: {line}"), err=True)
    fmt = "json" if as_json else "csv" if as_csv else "text"
    _show(state, data, fmt, html_path if html_file is not None else None, email_to)
    if email_to:
        _email(state, tracker, result, data, now)

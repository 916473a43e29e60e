"""`tracker report --html` and `--email`: the report as a self-contained page and as an Outlook-friendly email.

Templates: `templates/report/page.html.j2`, `email.html.j2`, `email.subject.j2` (a team's `[mail] templates`
folder overrides them like the outage emails). Charts come from `tracker.window.report_charts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracker.config import Config
from tracker.errors import ConfigError, MailError, ValidationFailed
from tracker.sending.mail import (
    Outgoing,
    build_message,
    parse_sender,
    recipients_for,
    split_recipients,
    template_environment,
)
from tracker.sending.transports import open_transport
from tracker.text import header_text
from tracker.times import format_time
from tracker.window.report import Report, minutes_text
from tracker.window.report_charts import charts
from tracker.workbook.reading import Tracker


def _environment(config: Config) -> Any:
    def when(value: Any) -> str:
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if not isinstance(value, datetime):
            return "" if value is None else str(value)
        return format_time(value, tz=config.display.tz, fmt=config.display.time_format)

    env = template_environment(config.mail.templates, when)
    env.filters["minutes"] = minutes_text
    env.filters["number"] = lambda v: "-" if v is None else f"{v:,.0f}"
    env.filters["share"] = lambda v: "-" if v is None else f"{v:.0%}"
    return env


def _render(config: Config, name: str, context: dict[str, Any]) -> str:
    import jinja2

    env = _environment(config)
    try:
        return str(env.get_template(name).render(context))
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"no report template {exc.name}; copy it from tracker's templates/report/") from None
    except jinja2.TemplateError as exc:
        raise ConfigError(f"report template {name} failed: {exc}") from None
    except TypeError as exc:  # a team's copy calling a macro the way an earlier tracker's templates did
        own = config.mail.templates
        if own is None or not any((own / "report").glob("*.j2")):
            raise
        raise ConfigError(
            f"report template {name} failed: {exc}; the copies in {own / 'report'} may be from an earlier tracker: "
            "compare them with tracker's templates/report/ (or remove them to use tracker's own)"
        ) from None


def _context(result: Report, data: dict[str, Any], config: Config) -> dict[str, Any]:
    return {
        "data": data,
        "report": result,
        "shows": result.shows,
        "sender_name": parse_sender(config.mail.sender)[0] if config.mail.sender else "Event Management",
    }


def report_page(result: Report, data: dict[str, Any], config: Config) -> str:
    """The report as one HTML page: CSS in the page, charts as inline SVG; it opens from disk anywhere."""
    from markupsafe import Markup

    drawn = [(c, Markup(c.svg)) for c in charts(data, result.against_target())]
    return _render(config, "report/page.html.j2", _context(result, data, config) | {"charts": drawn})


def send_report(
    tracker: Tracker, result: Report, data: dict[str, Any], config: Config, now: datetime, text: str
) -> list[Outgoing]:
    """Email the report to its audience's active Distribution rows through the configured transport: one HTML
    part (tables, inline CSS, charts as related CID images) and a plain-text part. Returns the messages sent."""
    import css_inline

    audience = data["audience"]
    recipients = recipients_for(tracker, audience, config.mail.allowed_domains or None)
    if not recipients:
        raise ValidationFailed(f"audience {audience!r} has no active rows on the Distribution sheet; nothing was sent")
    drawn = charts(data, result.against_target())
    context = _context(result, data, config) | {"charts": [(c, f"cid:{c.name}@tracker") for c in drawn]}
    subject = header_text(_render(config, "report/email.subject.j2", context).strip())
    html = css_inline.inline(_render(config, "report/email.html.j2", context))
    sender = parse_sender(config.mail.sender)
    messages = []
    for part in split_recipients(recipients, config.max_recipients, audience):
        message = build_message(sender, part, (subject, text, html), about=("report", audience, "report"), sent_at=now)
        body = message.get_body(("html",))
        assert body is not None  # build_message always adds the HTML alternative
        for chart in drawn:  # inline: with a filename alone the email package marks the part an attachment
            body.add_related(
                chart.png,
                "image",
                "png",
                cid=f"<{chart.name}@tracker>",
                filename=f"{chart.name}.png",
                disposition="inline",
            )
        messages.append(Outgoing("report", audience, "report", "", subject, text, html, part, message))
    transport = open_transport(config)
    with transport:
        transport.send_messages(messages)
    failed = [m for m in messages if not m.sent]
    if failed:
        raise MailError(f"the report to {audience} was not sent: {failed[0].error or 'refused'}")
    return messages

"""Outage emails: recipients from the Distribution sheet, rendering from jinja2 templates.

Templates live in `templates/email/` (`<audience>.subject.j2`, `.txt.j2`, `.html.j2`); a
team's own folder (`[mail] templates`) overrides any of them, the rest fall back.
"""

from __future__ import annotations

import email.header
import email.policy
import email.utils
import html as html_lib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address, UnstructuredHeader
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError, ValidationFailed
from tracker.resources import data_dir
from tracker.text import header_text
from tracker.workbook.reading import Row, Tracker

KIND_LABELS = {"initial": "Initial notification", "update": "Update", "resolved": "Resolved", "closed": "Closed"}
CUSTOMER_STATUS = {
    "Investigating": "We are investigating the cause.",
    "Identified": "The cause has been identified and a fix is in progress.",
    "Monitoring": "A fix has been applied and we are monitoring the service.",
    "Resolved": "Resolved: normal service has been restored.",
    "Closed": "Resolved: normal service has been restored.",
}


@dataclass(frozen=True)
class Recipient:
    """One address of a distribution list row."""

    email: str
    name: str
    send_as: str
    cell: str


@dataclass
class Outgoing:
    """One rendered message for one audience, and what happened when it was sent."""

    event_id: str
    audience: str
    kind: str
    state: str
    subject: str
    text: str
    html: str
    recipients: list[Recipient]
    message: EmailMessage
    sent: bool = False
    error: str | None = None
    refused: dict[str, str] = field(default_factory=dict)
    unanswered: bool = False  # handed to the server, then no answer came: it may or may not have arrived

    @property
    def message_id(self) -> str:
        """The Message-ID header."""
        return str(self.message["Message-ID"])

    @property
    def envelope(self) -> list[str]:
        """Every address the message goes to (To, Cc and Bcc)."""
        return [r.email for r in self.recipients]


def sender_problem(value: Any) -> str | None:
    """What is wrong with `[mail] sender` (None: nothing), for validate and for `parse_sender`."""
    if "@" not in email.utils.parseaddr(str(value or ""))[1]:
        return (
            f"[mail] sender {value!r} is not an email address; "
            'use e.g. sender = "Event Management <event.management@example.com>"'
        )
    return None


def parse_sender(value: Any) -> tuple[str, str]:
    """(display name, address) of `[mail] sender`, or a ConfigError."""
    problem = sender_problem(value)
    if problem:
        raise ConfigError(f"tracker.toml: {problem}")
    name, address = email.utils.parseaddr(str(value or ""))
    return name or address, address


def domain_allowed(address: str, allowed: Sequence[str]) -> bool:
    """Whether the address is in one of the allowed domains (or a subdomain of one)."""
    return _domain_allowed(address, allowed)


def _domain_allowed(address: str, allowed: Sequence[str]) -> bool:
    domain = address.rpartition("@")[2].casefold()
    return any(domain == d.casefold().lstrip("@") or domain.endswith("." + d.casefold().lstrip("@")) for d in allowed)


def recipients_for(tracker: Tracker, audience: str, allowed_domains: Sequence[str] | None = None) -> list[Recipient]:
    """Active Distribution rows of `audience`: To before Cc before Bcc, each address once. A ValidationFailed
    naming the cells when a row of the audience not marked inactive holds what validate refuses in its Email,
    To/Cc/Bcc or Active (`notify`'s gate refuses the same rows): nobody is left out or written to wrongly."""
    data = tracker.sheet("Distribution")
    order = {"To": 0, "Cc": 1, "Bcc": 2}
    chosen: dict[str, Recipient] = {}
    mine = [row for row in data.rows if str(row["audience"] or "").casefold() == audience.casefold()]
    problems = [p for row in mine if row["active"] != "No" for p in _unusable(tracker, data, row)]
    if problems:
        lines = "\n  ".join(problems)
        raise ValidationFailed(
            f"audience {audience}: nothing was sent; fix these Distribution cells first:\n  {lines}", problems
        )
    for row in mine:
        if row["active"] != "Yes":
            continue
        address = str(row["email"] or "").strip()
        cell = data.cell("email", row.number)
        if allowed_domains and not _domain_allowed(address, allowed_domains):
            raise ValidationFailed(
                f"{cell} (Email): {address!r} is outside [mail] allowed_domains "
                f"({', '.join(allowed_domains)}); nothing was sent. Fix the Distribution row or the setting"
            )
        recipient = Recipient(address, header_text(row["name"] or ""), str(row["send_as"] or "To"), cell)
        key = address.casefold()
        if key not in chosen or order[recipient.send_as] < order[chosen[key].send_as]:
            chosen[key] = recipient
    return sorted(chosen.values(), key=lambda r: order[r.send_as])


_USED = ("email", "send_as", "active")  # the cells of a Distribution row a message reads


def _unusable(tracker: Tracker, data: Any, row: Row) -> list[str]:
    """What validate says of the cells of a Distribution row a message reads (none: the row is usable)."""
    wrong = {found for found, _message, _allowed in data.spec.check_row(row.values)} & set(_USED)
    wrong |= {name for name in _USED if tracker.excel_error("Distribution", name, row.number) is not None}
    if not wrong:
        return []
    from tracker.rules.validation import cell_problems  # lazy: only for a row validate refuses

    return [str(p) for name in _USED if name in wrong for p in cell_problems(tracker, "Distribution", row, name)]


def split_recipients(recipients: list[Recipient], limit: int, audience: str) -> list[list[Recipient]]:
    """The recipients of one audience in messages of at most `limit` addresses (Exchange Online takes 500):
    every part has all the To and Cc recipients, so each reader sees the same list, and a share of the Bcc."""
    if len(recipients) <= limit:
        return [recipients]
    shown = [r for r in recipients if r.send_as != "Bcc"]
    hidden = [r for r in recipients if r.send_as == "Bcc"]
    room = limit - len(shown)
    if room < 1:
        raise ValidationFailed(
            f"audience {audience!r} has {len(shown)} To and Cc recipients, more than fit one message "
            f"([mail] max_recipients = {limit}); nothing was sent. Make most of them Bcc on the Distribution sheet "
            "(Bcc recipients are spread over several messages)"
        )
    count = -(-len(hidden) // room)
    size, extra = divmod(len(hidden), count)  # even shares: sizes differ by one at most
    parts, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        parts.append(shown + hidden[start:end])
        start = end
    return parts


def template_environment(override: Path | None, when: Callable[[Any], str]) -> Any:
    """A jinja2 environment: the team's folder first, then the defaults; HTML autoescaped."""
    import jinja2

    folders = [str(override)] if override else []
    folders.append(str(data_dir("templates")))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=_autoescape,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["when"] = when
    env.filters["joinable"] = joinable
    return env


_LINK = re.compile(
    r"(?P<url>https?://[^\s<>\"']+)"
    r"|(?<![\w+])(?P<phone>\+\d[\d ().-]{5,}\d)"  # an international number: +1 555 0100 (never a date, an IP, a PIN)
    r"(?:\s*(?:ext\.?|x)\s*(?P<number>\d+)|(?P<tap>,+\d+#?))?"  # its extension, or a Teams one-tap ",,123456#"
)


def joinable(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """(label, where to join) pairs for HTML: each web address a link, each international phone number (+...) a
    `tel:` link, with its extension (RFC 3966 `;ext=`) or one-tap conference ID, so a leader on a phone taps to join
    the bridge; the rest of the words escaped. A number without its + (a meeting ID, a PIN) stays words."""
    from markupsafe import Markup, escape

    def linked(value: Any) -> Markup:
        text, out, start = str(value), [], 0
        for match in _LINK.finditer(text):
            shown = match[0]
            if match["url"]:
                shown = target = _url_end(shown)
            else:
                target = "tel:" + re.sub(r"[^\d+]", "", match["phone"])
                target += f";ext={match['number']}" if match["number"] else ""
                target += (match["tap"] or "").replace("#", "%23")
            out += [escape(text[start : match.start()]), Markup('<a href="{}">{}</a>').format(target, shown)]
            start = match.start() + len(shown)
        out.append(escape(text[start:]))
        return Markup("").join(out)

    return [(label, linked(value)) for label, value in pairs]


def _url_end(url: str) -> str:
    """A web address without the punctuation that ends the sentence around it: "(see https://x/y)." ends at y."""
    while url and (url[-1] in ".,;:!?'" or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def _autoescape(name: str | None) -> bool:
    """Escape HTML everywhere except in plain-text bodies and subjects (safe by default)."""
    return not (name or "").endswith((".txt.j2", ".subject.j2"))


def audience_templates(env: Any, audience: str) -> tuple[Any, Any, Any]:
    """The subject, text and HTML templates of an audience, or a clear error."""
    import jinja2

    names = [f"email/{audience}.{part}.j2" for part in ("subject", "txt", "html")]
    try:
        return tuple(env.get_template(name) for name in names)  # type: ignore[return-value]
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"no email template {exc.name} for audience {audience!r}; add it to your [mail] templates folder "
            "(copy the leadership, technical or customer ones from tracker's templates/email/)"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"email template {exc.filename or exc.name}, line {exc.lineno}: {exc.message}") from None


def template_reads(env: Any, audience: str, name: str) -> bool:
    """Whether an audience's email templates, or any template they extend, include or import, use the variable
    `name`: what an audience's email never shows is not news to it. A template named only at run time, or one
    that cannot be read, counts as using it (render says what is wrong)."""
    import jinja2
    import jinja2.meta

    todo = [f"email/{audience}.{part}.j2" for part in ("subject", "txt", "html")]
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            tree = env.parse(env.loader.get_source(env, current)[0])
        except (jinja2.TemplateNotFound, jinja2.TemplateSyntaxError):
            return True
        if name in jinja2.meta.find_undeclared_variables(tree):
            return True
        for reference in jinja2.meta.find_referenced_templates(tree):
            if reference is None:
                return True
            todo.append(reference)
    return False


def render(env: Any, audience: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) for one audience; the HTML gets its CSS inlined."""
    import css_inline
    import jinja2

    subject_t, text_t, html_t = audience_templates(env, audience)
    try:
        subject = header_text(subject_t.render(context))  # a newline or ESC in a cell never reaches a header
        text = text_t.render(context)
        html = html_t.render(context | {"subject": subject})
    except jinja2.TemplateError as exc:
        raise ConfigError(f"email template for {audience!r} failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a team's template may raise anything while rendering
        raise ConfigError(f"email template for {audience!r} failed: {type(exc).__name__}: {exc}") from None
    html = css_inline.inline(html)
    return subject, text, html


_PLAIN_HTML = (
    '<html><body><pre style="font-family: Segoe UI, Arial, sans-serif; white-space: pre-wrap">{}</pre></body></html>'
)


def build_message(
    sender: tuple[str, str],
    recipients: list[Recipient],
    content: tuple[str, str, str | None],
    *,
    about: tuple[str, str, str],
    sent_at: datetime,
) -> EmailMessage:
    """An RFC 5322 message of `content` (subject, plain text, HTML) with a plain-text part and an HTML alternative
    (with no HTML given, the text as preformatted HTML: a personal reminder's form), labelled with what it is
    `about` (event, audience, kind: the X-Tracker-Event, -Audience and -Kind headers)."""
    subject, text, html = content
    if html is None:
        html = _PLAIN_HTML.format(html_lib.escape(text))
    headers = dict(zip(("X-Tracker-Event", "X-Tracker-Audience", "X-Tracker-Kind"), about, strict=True))
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = Address(display_name=sender[0], addr_spec=sender[1])
    for kind in ("To", "Cc", "Bcc"):
        addresses = [_address(r) for r in recipients if r.send_as == kind]
        if addresses:
            message[kind] = addresses
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(sent_at)
    message["Message-ID"] = email.utils.make_msgid(domain=sender[1].rpartition("@")[2])
    for name, value in headers.items():
        message[name] = header_text(value)
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def fold_header(name: str, value: str, *, width: int = 78, linesep: str = "\r\n") -> str:
    """The header `name: value` in lines of at most `width` characters where its words allow, each fold before a
    space (RFC 5322 2.2.3), so that unfolding gives `value` exactly; the first word always on the header's own line.
    A value beyond ASCII, or one a reader could take for an RFC 2047 encoded word, goes whole as UTF-8 encoded words
    (email.header splits them between characters)."""
    if value.isascii() and "=?" not in value:
        words = value.split(" ")
        lines, line = [], f"{name}: {words[0]}"
        for word in words[1:]:
            if word and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = " " + word
            else:
                line += " " + word
        lines.append(line)
        if max(len(line) for line in lines) <= 998:  # RFC 5322's limit; a longer word goes encoded, in pieces
            return linesep.join(lines) + linesep
    encoded = email.header.Header(value, "utf-8", header_name=name).encode(linesep=linesep, maxlinelen=width)
    return f"{name}: {encoded}{linesep}"


class _MailPolicy(email.policy.EmailPolicy):
    """email.policy.SMTP, but text headers (Subject, X-Tracker-*) are folded by `fold_header`. Python's own folder
    (3.11) put a subject of 70 to 77 characters on the line after `Subject:`, which parsers read with a leading
    space, and in a longer one with an accent or a dash lost spaces or left an encoded word half decoded
    (`=?utf-8?q?Z=C3=BCric h?=`)."""

    def fold(self, name: str, value: str) -> str:
        if isinstance(value, UnstructuredHeader) and self.max_line_length:
            return fold_header(name, str(value), width=self.max_line_length, linesep=self.linesep)
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if isinstance(value, UnstructuredHeader) and self.max_line_length:
            return self.fold(name, value).encode("ascii")
        return super().fold_binary(name, value)


MAIL_POLICY = _MailPolicy(linesep="\r\n")
"""The policy of every message tracker builds: email.policy.SMTP with `fold_header` for text headers."""


def _address(recipient: Recipient) -> Address:
    user, _, domain = recipient.email.rpartition("@")
    return Address(display_name=recipient.name, username=user, domain=domain)

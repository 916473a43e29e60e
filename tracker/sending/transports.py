"""Mail transports, chosen by `[mail] transport`: `outbox` (default) and `smtp`.

A transport is a context manager with `send_messages(messages) -> int`; one SMTP session
serves a whole batch. Each message records its own outcome (`sent`, `error`, `refused`):
what was sent stays sent when a later message fails.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from tracker.config import Config
from tracker.errors import ConfigError, MailError, TrackerError
from tracker.files import write_atomic
from tracker.microsoft365.auth import token_identity
from tracker.microsoft365.remote import Remote
from tracker.sending.mail import Outgoing, parse_sender
from tracker.times import CLOCK


class Transport(Protocol):
    """Sends rendered messages."""

    name: str

    def __enter__(self) -> Any: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def send_messages(self, messages: list[Outgoing], hooks: SendHooks | None = None) -> int:
        """Send each message; return how many were sent. `hooks` runs around each one (see SendHooks)."""
        ...


class SendHooks(Protocol):
    """What the sender does around each message: notify records them durably."""

    def before(self, message: Outgoing) -> None:
        """Right before the message goes out (an exception here stops the batch: nothing more is sent)."""
        ...

    def sent(self, message: Outgoing) -> None:
        """Right after the server accepted it (an exception here stops the batch too)."""
        ...

    def failed(self, message: Outgoing) -> None:
        """The message was certainly not sent (`message.error` says why)."""
        ...

    def unanswered(self, message: Outgoing) -> None:
        """The message was handed over and no answer came (`message.unanswered`): it may or may not have arrived."""
        ...


def write_eml(folder: Path, message: Outgoing, suffix: str = "") -> Path:
    """Write one message as an .eml file named so files sort by time; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    base = folder / f"{stamp}-{message.event_id}-{message.audience}{suffix}"
    path = base.with_name(base.name + ".eml")
    write_atomic(path, message.message.as_bytes())  # whole or not at all; readable as any file the user makes (umask)
    return path


class OneByOne:
    """A transport that sends messages one at a time, recording each failure on its message."""

    name = ""
    failures: tuple[type[BaseException], ...] = ()

    def __enter__(self) -> OneByOne:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def send_one(self, message: Outgoing) -> None:
        """Send one message or raise one of `failures`."""
        raise NotImplementedError

    def describe(self, exc: BaseException) -> str:
        """The failure as the user reads it."""
        return str(exc)

    def send_messages(self, messages: list[Outgoing], hooks: SendHooks | None = None) -> int:
        """Send each message; a failure is recorded on that message and the rest go on."""
        count = 0
        for message in messages:
            if hooks is not None:
                hooks.before(message)
            try:
                self.send_one(message)
            except self.failures as exc:
                message.error = self.describe(exc)
                message.unanswered = bool(getattr(exc, "unanswered", False))  # handed over, no answer came
                if hooks is not None:
                    (hooks.unanswered if message.unanswered else hooks.failed)(message)
                continue
            message.sent = True
            count += 1
            if hooks is not None:
                hooks.sent(message)
        return count


class OutboxTransport(OneByOne):
    """Writes each message as an RFC 5322 .eml file in a folder (the offline default)."""

    name = "outbox"
    failures = (OSError,)

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: list[Path] = []

    def send_one(self, message: Outgoing) -> None:
        """Write the message's .eml file."""
        self.written.append(write_eml(self.folder, message))

    def describe(self, exc: BaseException) -> str:
        """Which folder could not be written."""
        return f"cannot write to {self.folder}: {getattr(exc, 'strerror', None) or exc}"


class _HandOver:
    """An SMTP connection that says when a message is handed over: right before DATA. Until then (MAIL FROM, RCPT
    TO) a lost connection certainly sent nothing; from then until the server's answer, the message may have
    arrived."""

    hand_over: Callable[[], None] | None = None
    handed = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        if self.hand_over is not None:
            self.hand_over()  # an exception here (the ledger cannot be written) stops before the message goes
        self.handed = True
        return super().data(msg)  # type: ignore[misc]


class _Smtp(_HandOver, smtplib.SMTP):
    pass


class _SmtpSsl(_HandOver, smtplib.SMTP_SSL):
    pass


class SmtpTransport:
    """Sends through an SMTP server: STARTTLS, implicit TLS or plain; optional login."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        sender: str = "",
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self.sender = sender
        self.connection: _Smtp | _SmtpSsl | None = None

    def _connect(self) -> _Smtp | _SmtpSsl:
        context = ssl.create_default_context()
        try:
            if self.security == "tls":
                connection: _Smtp | _SmtpSsl = _SmtpSsl(self.host, self.port, timeout=self.timeout, context=context)
            else:
                connection = _Smtp(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    connection.starttls(context=context)
            if self.username:
                connection.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"SMTP server {self.host}:{self.port} refused the login of {self.username!r}: {_reply(exc)}; nothing was sent"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise MailError(
                f'SMTP server {self.host}:{self.port} does not offer STARTTLS; set [mail.smtp] security = "tls" or "none"'
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(
                f"cannot connect to SMTP server {self.host}:{self.port} ({_reply(exc)}); nothing was sent"
            ) from None
        return connection

    def __enter__(self) -> SmtpTransport:
        self.connection = self._connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (OSError, smtplib.SMTPException):
                self.connection.close()
            self.connection = None

    def send_messages(self, messages: list[Outgoing], hooks: SendHooks | None = None) -> int:
        """Send the batch over one connection; reconnect once if the server drops it before a message is handed over
        (after that, a lost connection leaves the message's fate unknown: it is not sent again)."""
        count = 0
        reconnected = False
        for message in messages:
            for attempt in (1, 2):
                try:
                    if self.connection is None:
                        self.connection = self._connect()
                    self.connection.handed = False
                    self.connection.hand_over = (lambda m=message: hooks.before(m)) if hooks is not None else None
                    refused = self.connection.send_message(
                        message.message, from_addr=self.sender, to_addrs=message.envelope
                    )
                    message.refused = {addr: _reply(err) for addr, err in refused.items()}
                    message.sent = True
                    count += 1
                    break
                except smtplib.SMTPRecipientsRefused as exc:
                    message.refused = {addr: _reply(err) for addr, err in exc.recipients.items()}
                    message.error = "every recipient was refused"
                    break
                except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                    handed = self.connection is not None and self.connection.handed
                    self.connection = None
                    if handed:
                        message.unanswered = True
                        message.error = f"no answer from the mail server after handing it over ({_reply(exc)})"
                        break
                    if attempt == 1 and not reconnected:
                        reconnected = True
                        continue
                    message.error = f"connection lost: {_reply(exc)}"
                    break
                except MailError as exc:
                    message.error = str(exc)
                    break
                except smtplib.SMTPException as exc:
                    message.error = _reply(exc)
                    break
            if hooks is not None:  # outside the SMTP error handling: a failure of the hook stops the batch
                if message.sent:
                    hooks.sent(message)
                elif message.unanswered:
                    hooks.unanswered(message)
                else:
                    hooks.failed(message)
        return count


def _reply(exc: Any) -> str:
    if isinstance(exc, tuple) and len(exc) == 2:
        code, text = exc
        return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
    code = getattr(exc, "smtp_code", None)
    text = getattr(exc, "smtp_error", None)
    if code is not None and text is not None:
        return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
    return str(exc) or type(exc).__name__


def _outbox(config: Config) -> Transport:
    return OutboxTransport(config.mail.outbox)


def _smtp(config: Config) -> Transport:

    settings = config.mail.smtp
    if not isinstance(settings, dict) or not settings.get("host"):
        raise ConfigError('tracker.toml: transport "smtp" needs [mail.smtp] host (and port, security)')
    security = str(settings.get("security", "starttls"))
    if security not in ("starttls", "tls", "none"):
        raise ConfigError(f"tracker.toml: [mail.smtp] security {security!r} is not one of: starttls, tls, none")
    port = settings.get("port", 465 if security == "tls" else 587)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"tracker.toml: [mail.smtp] port {port!r} is not a port number")
    if "password" in settings:
        raise ConfigError(
            "tracker.toml must not hold secrets: remove [mail.smtp] password and set password_env instead"
        )
    username = settings.get("username")
    password = None
    if username:
        variable = str(settings.get("password_env", "TRACKER_SMTP_PASSWORD"))
        password = os.environ.get(variable)
        if password is None:
            raise ConfigError(
                f"[mail.smtp] username is set but the environment variable {variable} (password_env) is not"
            )
    return SmtpTransport(
        str(settings["host"]),
        port,
        security=security,
        username=username,
        password=password,
        timeout=float(settings.get("timeout", 30)),
        sender=parse_sender(config.mail.sender)[1],
    )


class GraphTransport(OneByOne):
    """Sends through Microsoft Graph sendMail as the configured mailbox (saved to that mailbox's Sent Items)."""

    name = "graph"

    def __init__(self, remote: Any, mailbox: str) -> None:

        self.remote = remote
        self.mailbox = mailbox
        self.failures = (TrackerError,)
        self._permission: str | None = None

    def permission(self) -> str:
        """What this sign-in needs to send as the mailbox (named by a 403), from its Graph token's claims."""
        if self._permission is None:
            token = str(self.remote.tokens.graph().get("access_token", ""))
            self._permission = mail_permission(self.remote.settings.auth, self.mailbox, token_identity(token))
        return self._permission

    def send_one(self, message: Outgoing) -> None:
        """One sendMail request (refused before it is made when Graph would refuse its size)."""
        from urllib.parse import quote

        body = graph_message(message)
        self.remote.graph(
            "POST",
            f"/users/{quote(self.mailbox)}/sendMail",
            body,
            what=f"sending the {message.audience} email",
            permission=self.permission(),
        )


def mail_permission(auth: str, mailbox: str, claims: dict[str, Any]) -> str:
    """What a sign-in needs to send as `mailbox` through `/users/{mailbox}/sendMail`, in words: app-only tokens
    (`roles`, or auth = "certificate") need the application permission; a person's token (`scp`) needs delegated
    Mail.Send for their own mailbox, and for any other one (a shared team mailbox) Mail.Send.Shared plus Exchange
    rights on it (graph/outlook-send-mail-from-other-user: Send As or Send on Behalf, and Full Access when
    sending through that mailbox's own /users/{id}/sendMail)."""
    application = (
        f"the application permission Mail.Send for Microsoft Graph, with admin consent (it can send as any mailbox: "
        f"limit it to {mailbox} with Exchange RBAC for Applications or an application access policy)"
    )
    if ("roles" in claims and "scp" not in claims) or (not claims and auth == "certificate"):
        return application
    user = str(claims.get("upn") or claims.get("preferred_username") or claims.get("unique_name") or "")
    if user and user.lower() == mailbox.lower():
        return "the delegated permission Mail.Send for Microsoft Graph (sending as the signed-in user's own mailbox)"
    shared = (
        f"the delegated permission Mail.Send.Shared for Microsoft Graph, and Exchange Full Access plus Send As "
        f"(or Send on Behalf) on {mailbox} for {user or 'the signed-in user'}"
    )
    if "scp" in claims or auth == "device-code":
        return shared
    return f"for an app-only token {application}; for a person's token {shared}"


# Graph refuses a sendMail request over 4 MB with 413 ("The maximum request length supported is 4MB": reported in
# O365/python-o365 issue 472; the limit is missing from graph/api/user-sendmail, microsoft-graph-docs issue 9834).
# The whole JSON body counts: the HTML and every image in base64 (a third larger than its bytes). A larger message
# needs a draft with attachment upload sessions (graph/outlook-large-attachments), which tracker does not make.
GRAPH_REQUEST_BYTES = 4 * 1024 * 1024


def graph_attachments(message: EmailMessage) -> list[dict[str, Any]]:
    """The message's related MIME parts (the images its HTML shows as `cid:` links) as Graph inline file
    attachments: each with the contentId its `cid:` link names, isInline and the bytes in base64."""
    import base64

    out: list[dict[str, Any]] = []
    for part in message.walk():
        if not isinstance(part, MIMEPart) or part.get_content_type() != "multipart/related":
            continue
        children = list(part.iter_parts())
        start = part.get_param("start")  # RFC 2387: the root (the HTML) is the first part unless `start` names it
        root = next((c for c in children if start and c["Content-ID"] == start), children[0] if children else None)
        for child in children:
            content_id = str(child["Content-ID"] or "").strip().strip("<>")
            data = child.get_payload(decode=True)
            if child is root or not content_id or not isinstance(data, bytes):
                continue
            out.append(
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": child.get_filename() or content_id,
                    "contentType": child.get_content_type(),
                    "contentId": content_id,
                    "isInline": True,
                    "contentBytes": base64.b64encode(data).decode("ascii"),
                }
            )
    return out


def graph_message(message: Outgoing) -> dict[str, Any]:
    """The sendMail body: HTML, To/Cc/Bcc, tracker's headers, saved to Sent Items; the images the HTML shows
    (related MIME parts, `cid:` links) as inline attachments."""

    def people(kind: str) -> list[dict[str, Any]]:
        return [
            {"emailAddress": {"address": r.email, "name": r.name or r.email}}
            for r in message.recipients
            if r.send_as == kind
        ]

    html = message.html
    if not html:  # a personal message (reminder, escalation, intake reply) keeps its HTML only in the MIME message
        part = message.message.get_body(("html",))
        html = str(part.get_content()) if part is not None else ""
    body: dict[str, Any] = {
        "subject": message.subject,
        "body": {"contentType": "HTML", "content": html},
        "toRecipients": people("To"),
        "ccRecipients": people("Cc"),
        "bccRecipients": people("Bcc"),
        "internetMessageHeaders": [
            {"name": name, "value": str(message.message[name])}
            for name in ("X-Tracker-Event", "X-Tracker-Audience", "X-Tracker-Kind")
        ],
    }
    attachments = graph_attachments(message.message)
    if attachments:
        body["attachments"] = attachments
    request = {"message": body, "saveToSentItems": True}
    size = len(json.dumps(request).encode("utf-8"))  # as requests serializes it (json=, ASCII-escaped)
    if size > GRAPH_REQUEST_BYTES:
        images = sum(len(a["contentBytes"]) for a in attachments) * 3 // 4
        raise MailError(
            f"the {message.audience} email is {size / 1048576:.1f} MB as a Graph sendMail request "
            f"({images / 1048576:.1f} MB of images, base64-encoded in it); Graph takes at most "
            f"{GRAPH_REQUEST_BYTES // 1048576} MB in one request (larger needs a draft with upload sessions, which "
            'tracker does not make); use [mail] transport "smtp" for it, or send fewer or smaller images'
        )
    return request


def _graph(config: Config) -> Transport:

    if config.sharepoint is None:
        raise ConfigError(
            'transport "graph" uses the Microsoft sign-in of [sharepoint]; add that section, or use "outbox" or "smtp"'
        )
    settings = config.mail.graph
    mailbox = settings.get("mailbox") if isinstance(settings, dict) else None
    if not mailbox or "@" not in str(mailbox):
        raise ConfigError(
            'transport "graph" needs [mail.graph] mailbox = "event.management@contoso.com" (the mailbox it sends as)'
        )
    return GraphTransport(Remote(config.sharepoint), str(mailbox))


TRANSPORTS: dict[str, Callable[[Config], Transport]] = {"outbox": _outbox, "smtp": _smtp, "graph": _graph}


def open_transport(config: Config) -> Transport:
    """The transport `[mail] transport` names (default: outbox)."""
    name = config.mail.transport
    if name not in TRANSPORTS:
        raise ConfigError(f"tracker.toml: [mail] transport {name!r} is unknown; use one of: {', '.join(TRANSPORTS)}")
    if name != "outbox":
        CLOCK.check_real_sends(f"mail through {name}")
    return TRANSPORTS[name](config)

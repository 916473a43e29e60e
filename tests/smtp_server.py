"""A real SMTP server for tests: aiosmtpd on a free 127.0.0.1 port, recording what it receives."""

from __future__ import annotations

import asyncio
import email
import email.policy
import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes = b""  # the message as it came, before parsing


@dataclass
class Recorder:
    """aiosmtpd handler: refuses listed recipients, can drop the connection after N messages."""

    refuse: set[str] = field(default_factory=set)
    max_recipients: int | None = None  # like Exchange Online (500): later RCPTs of a message are refused
    drop_after: int | None = None  # after this many messages, the next one's connection is closed...
    drop_at: str = "MAIL"  # ... when it starts (MAIL FROM: nothing handed over) or at its end (DATA: no answer)
    drops: int = 1
    data_delay: float = 0.0  # seconds between getting a message whole and answering (a kill can fall there)
    received: list[Received] = field(default_factory=list)
    unanswered: list[Received] = field(default_factory=list)  # got whole, connection closed instead of answering

    def _drop(self, server: Any, stage: str) -> bool:
        if self.drop_at != stage or self.drop_after is None or len(self.received) < self.drop_after:
            return False
        self.drops -= 1
        if self.drops <= 0:
            self.drop_after = None  # later connections work
        server.transport.close()
        return True

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]) -> str:  # noqa: N802
        if self._drop(server, "MAIL"):
            return "421 4.3.0 closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        if self.max_recipients is not None and len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self._drop(server, "DATA"):  # the whole message came; the answer never goes
            self.unanswered.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, envelope.content))  # type: ignore[arg-type]
            return "421 4.3.0 closing connection"
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, envelope.content))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port nobody listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port held bound on 127.0.0.1 with nothing listening, for the block: a connection to it is refused (a
    server that is down), and no other test's server can take it meanwhile, as it could a port freed at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


@contextmanager
def smtp_server(recorder: Recorder | None = None) -> Iterator[tuple[Recorder, int]]:
    """Run an SMTP server on 127.0.0.1 for the duration of the block."""
    recorder = recorder or Recorder()
    for attempt in range(5):  # a port free a moment ago may be taken meanwhile (another xdist worker's server)
        port = free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port)
        try:
            controller.start()
            break
        except OSError as error:
            # the server that could not start made an event loop (and its self-pipe sockets): closed now, or the
            # collector finds them open later, in whatever test runs then, which fails on the ResourceWarnings
            controller.loop.close()
            if error.errno != errno.EADDRINUSE or attempt == 4:
                raise
    try:
        yield recorder, port
    finally:
        controller.stop()

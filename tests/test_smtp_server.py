"""The tests' SMTP server (tests/smtp_server.py): a port taken between choosing it and starting on it (another
xdist worker's server) is given up for another, and leaves nothing open behind, which the collector would otherwise
find later in whatever test runs then, failing it on the ResourceWarnings (the suite turns warnings into errors)."""

from __future__ import annotations

import gc
import smtplib
import socket

import pytest

from tests import smtp_server as server_module
from tests.smtp_server import smtp_server


def test_a_server_whose_port_is_taken_starts_on_another_and_leaves_nothing_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = int(taken.getsockname()[1])
        offered = iter([busy])
        free = server_module.free_port
        monkeypatch.setattr(server_module, "free_port", lambda: next(offered, None) or free())
        with smtp_server() as (recorder, port):
            assert port != busy
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.sendmail("a@example.com", ["b@example.com"], "Subject: x\r\n\r\nbody\r\n")
            assert len(recorder.received) == 1
    gc.collect()  # the first server's event loop and self-pipe, were they left open, warn now, in this test

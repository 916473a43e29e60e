"""The graph mail transport as Microsoft documents sendMail: the 4 MB request limit (the real office365 client over
HTTP against the stand-in)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.sharepoint_standin import StandIn
from tests.test_store_sharepoint import _config
from tracker.config import load_config
from tracker.sending.mail import Outgoing, Recipient
from tracker.sending.transports import open_transport

MAILBOX = "event.management@example.com"


@pytest.fixture
def mode() -> str:
    """The write mode of the `sp` fixture's tracker.toml (mail does not depend on it)."""
    return "upload"


def _graph_config(sp: StandIn, tmp_path: Path) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(
        _config(sp, "upload").replace('transport = "outbox"', 'transport = "graph"')
        + f'\n[mail.graph]\nmailbox = "{MAILBOX}"\n'
    )
    return path


def _big_message(image_bytes: int, html_chars: int) -> Outgoing:
    message = EmailMessage()
    message["X-Tracker-Event"], message["X-Tracker-Audience"], message["X-Tracker-Kind"] = "report", "leadership", "r"
    message.set_content("text")
    html = '<p><img src="cid:big@tracker" alt="chart"></p><p>' + "x" * html_chars + "</p>"
    message.add_alternative(html, subtype="html")
    part = message.get_body(("html",))
    assert part is not None
    part.add_related(b"\x89PNG" + bytes(image_bytes), "image", "png", cid="<big@tracker>", filename="big.png")
    recipient = Recipient(email="it-leadership@example.com", name="IT Leadership", send_as="To", cell="Distribution!B2")
    return Outgoing("report", "leadership", "report", "", "Report", "text", html, [recipient], message)


def test_a_send_over_graphs_4_mb_request_limit_is_refused_before_the_request(
    sp: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An email whose images are under 3 MB but whose sendMail request (images in base64, and the HTML) is over 4 MB
    is not sent: no request is made (Graph would answer 413), and the message names its size and the limit; one
    just under the limit goes."""
    monkeypatch.chdir(tmp_path)
    config = load_config(_graph_config(sp, tmp_path))
    too_big = _big_message(3_000_000, 250_000)  # 4.0 MB of base64 + 0.25 MB of HTML
    fits = _big_message(2_900_000, 100_000)
    with open_transport(config) as transport:
        assert transport.send_messages([too_big, fits]) == 1
    assert not too_big.sent and too_big.error is not None
    assert too_big.error.startswith("the leadership email is 4.1 MB as a Graph sendMail request (2.9 MB of images")
    assert "Graph takes at most 4 MB in one request (larger needs a draft with upload sessions" in too_big.error
    assert '[mail] transport "smtp"' in too_big.error
    assert fits.sent and len(sp.sent_mail) == 1
    assert [r["path"].rsplit("/", 1)[-1] for r in sp.requests] == ["sendMail"]  # only the one that fits went

"""The graph mail transport as Microsoft documents sendMail: the 4 MB request limit, and which permission each kind of
sign-in needs to send as the team mailbox (the real office365 client over HTTP against the stand-in)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import Run
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


def _notify_leadership(run: Run, sp: StandIn, tmp_path: Path, token: str, monkeypatch: pytest.MonkeyPatch) -> str:
    _graph_config(sp, tmp_path)
    monkeypatch.setenv("TRACKER_GRAPH_TOKEN", token)
    from tests import suite_clock

    result = run("notify", suite_clock.event_id(1), "--audience", "leadership")
    return result.stderr if result.exit_code else ""


def test_a_person_sending_as_the_team_mailbox_is_told_mail_send_shared_and_send_as(
    run: Run, sp: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person's sign-in (device code: a delegated token) with Mail.Send sending as the shared team mailbox gets
    Graph's 403 ErrorSendAsDenied; the line names Mail.Send.Shared and Exchange Full Access plus Send As on that
    mailbox for that person. With the permission and the rights granted, the same send goes."""
    token = sp.user_token("jane.doe@example.com", "Files.ReadWrite.All Mail.Send.Shared")
    stderr = _notify_leadership(run, sp, tmp_path, token, monkeypatch)
    assert "access denied (403: The user account which was used to submit this request does not have the right" in (
        stderr
    )
    assert stderr.rstrip().endswith(
        "the sign-in needs the delegated permission Mail.Send.Shared for Microsoft Graph, and Exchange Full Access "
        f"plus Send As (or Send on Behalf) on {MAILBOX} for jane.doe@example.com"
    ), stderr
    assert sp.sent_mail == []
    sp.grant_mailbox(MAILBOX, "jane.doe@example.com", "FullAccess", "SendAs")
    assert _notify_leadership(run, sp, tmp_path, token, monkeypatch) == ""
    assert [mailbox for mailbox, _ in sp.sent_mail] == [MAILBOX]


def test_a_person_with_only_mail_send_is_told_mail_send_shared(
    run: Run, sp: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delegated Mail.Send covers only the signed-in person's own mailbox: sending as the team mailbox with it is
    denied, and the line names Mail.Send.Shared, not the Mail.Send the person already has."""
    sp.grant_mailbox(MAILBOX, "jane.doe@example.com", "FullAccess", "SendAs")
    stderr = _notify_leadership(run, sp, tmp_path, sp.user_token("jane.doe@example.com", "Mail.Send"), monkeypatch)
    assert "access denied (403: Access is denied. Check credentials and try again.)" in stderr
    assert "the sign-in needs the delegated permission Mail.Send.Shared for Microsoft Graph" in stderr, stderr
    assert sp.sent_mail == []


def test_a_person_sending_as_their_own_mailbox_is_told_mail_send(
    run: Run, sp: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mailbox is the signed-in person's own: without Mail.Send the line names delegated Mail.Send only."""
    stderr = _notify_leadership(run, sp, tmp_path, sp.user_token(MAILBOX, "Files.ReadWrite.All"), monkeypatch)
    assert stderr.rstrip().endswith(
        "the sign-in needs the delegated permission Mail.Send for Microsoft Graph (sending as the signed-in user's "
        "own mailbox)"
    ), stderr
    assert "Mail.Send.Shared" not in stderr


def test_an_app_signed_in_as_itself_is_told_the_application_permission(
    run: Run, sp: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app-only token (certificate sign-in) without the application permission: the line names application
    Mail.Send with admin consent, and how to limit it to the team mailbox in Exchange."""
    stderr = _notify_leadership(run, sp, tmp_path, sp.app_token("Sites.ReadWrite.All"), monkeypatch)
    assert stderr.rstrip().endswith(
        "the sign-in needs the application permission Mail.Send for Microsoft Graph, with admin consent (it can send "
        f"as any mailbox: limit it to {MAILBOX} with Exchange RBAC for Applications or an application access policy)"
    ), stderr
    assert sp.sent_mail == []
    assert _notify_leadership(run, sp, tmp_path, sp.app_token("Sites.ReadWrite.All Mail.Send"), monkeypatch) == ""
    assert len(sp.sent_mail) == 1


@pytest.mark.parametrize(
    ("auth", "named"),
    [
        ("certificate", "the application permission Mail.Send for Microsoft Graph, with admin consent"),
        ("device-code", "the delegated permission Mail.Send.Shared for Microsoft Graph, and Exchange Full Access"),
        ("token-env", "for an app-only token the application permission Mail.Send for Microsoft Graph, with admin"),
    ],
)
def test_a_token_that_says_nothing_of_itself_gets_the_hint_of_its_sign_in_method(auth: str, named: str) -> None:
    """A Graph token whose claims cannot be read: the hint follows [sharepoint] auth (a certificate signs in an app,
    device code a person, a token from the environment could be either, so both are named)."""
    from tracker.sending.transports import mail_permission

    assert mail_permission(auth, MAILBOX, {}).startswith(named)


def test_the_readme_permissions_table_names_what_the_hints_name() -> None:
    """README's sign-in table gives, per sign-in method, the mail permission the 403 hint names: application
    Mail.Send limited in Exchange for a certificate; Mail.Send.Shared with Full Access and Send As on a shared
    mailbox for a person."""
    from tracker.sending.transports import mail_permission

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in readme.splitlines() if line.startswith("| `")}
    certificate, person = rows["certificate"], rows["device-code"]
    assert "Graph `Mail.Send` (application, admin consent)" in certificate and "RBAC for Applications" in certificate
    assert "RBAC for Applications" in mail_permission("certificate", MAILBOX, {})
    assert "`Mail.Send.Shared` when it is a shared team mailbox" in person
    assert "Full Access plus Send As (or Send on Behalf)" in person
    assert "Full Access plus Send As (or Send on Behalf)" in mail_permission("device-code", MAILBOX, {})
    assert "Graph `Mail.Send` when `[mail.graph] mailbox` is the person's own mailbox" in person


def test_a_reminder_through_graph_carries_its_text(
    run: Run, sp: StandIn, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """A personal message (here an overdue reminder) keeps its HTML only in its MIME message; the sendMail request
    carries it as the body, not an empty one."""
    from tests import suite_clock

    _graph_config(sp, tmp_path)
    at(suite_clock.NOW + timedelta(hours=3))
    result = run("due", "--remind")
    assert "reminded" in result.stdout, result.stdout + result.stderr
    bodies = [m["message"]["body"] for _mailbox, m in sp.sent_mail]
    assert bodies and all(b["contentType"] == "HTML" and b["content"].strip() for b in bodies)
    reminders = [
        m["message"]["body"] for _mailbox, m in sp.sent_mail if suite_clock.event_id(1) in m["message"]["subject"]
    ]
    assert reminders and all(f"tracker notify {suite_clock.event_id(1)}" in b["content"] for b in reminders), bodies


def test_verbose_logs_the_mail_sent_through_graph(
    run: Run, sp: StandIn, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """--verbose shows each SharePoint and Graph request: the sendMail requests were never among them (the mail's
    sign-in was made without the flag)."""
    from tests import suite_clock

    _graph_config(sp, tmp_path)
    at(suite_clock.NOW + timedelta(hours=3))
    result = run("--verbose", "due", "--remind")
    assert "reminded" in result.stdout, result.stdout + result.stderr
    sent = [line for line in result.stderr.splitlines() if line.startswith("http: POST") and "/sendMail -> " in line]
    assert len(sent) == len(sp.sent_mail) > 0, result.stderr

"""`tracker notify`: per-audience outage emails from tracker rows, gated, sent once, logged."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Run
from tests.smtp_server import Recorder, smtp_server

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


def _outbox(folder: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((folder / "outbox").glob("*.eml"))
    ]


def _by_audience(messages: list[EmailMessage]) -> dict[str, EmailMessage]:
    return {str(m["X-Tracker-Audience"]): m for m in messages}


def _text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def _html(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def _log(path: Path) -> list[tuple]:
    return [r for r in openpyxl.load_workbook(path)["Notifications"].iter_rows(min_row=2, values_only=True) if any(r)]


def _use_smtp(tmp_path: Path, port: int, extra: str = "") -> None:
    config = tmp_path / "tracker.toml"
    text = config.read_text().replace('transport = "outbox"', 'transport = "smtp"')
    config.write_text(text + f'\n[mail.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n{extra}')


def test_outbox_one_message_per_audience_then_nothing(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """The example event gives one .eml per audience and a Notifications row each; a rerun sends nothing."""
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert "sent 3 of 3 message(s) via outbox" in result.stdout
    messages = _outbox(tmp_path)
    assert sorted(_by_audience(messages)) == ["customer", "leadership", "technical"]
    for message in messages:
        # external audiences see the severity in the Severities sheet's Customer Wording
        label = "MAJOR OUTAGE" if message["X-Tracker-Audience"] == "customer" else "SEV 1"
        assert message["Subject"] == f"[{label}][Identified] {event_id}: Email outage - all sites"
        assert message["From"].addresses[0].addr_spec == "event.management@example.com"
        assert message["Message-ID"] and message["Date"]
        assert message.is_multipart() and _text(message) and "<table" in _html(message)
    log = _log(example)
    assert [(r[1], r[2], r[3], r[4]) for r in log] == [
        (event_id, "leadership", "initial", "Identified"),
        (event_id, "technical", "initial", "Identified"),
        (event_id, "customer", "initial", "Identified"),
    ]
    assert {r[7] for r in log} == {str(m["Message-ID"]) for m in messages}
    again = run("notify", event_id)
    assert again.exit_code == 0
    assert again.stdout.count("already sent for this state") == 3
    assert len(_outbox(tmp_path)) == 3 and len(_log(example)) == 3
    assert run("validate").exit_code == 0


def test_force_sends_again_and_update_makes_update_kind(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """--force resends; after a new update the next notify is an 'update' message."""
    assert run("notify", event_id).exit_code == 0
    assert run("notify", event_id, "--audience", "leadership", "--force").exit_code == 0
    assert len(_outbox(tmp_path)) == 4
    note = "Certificate installed on mail-gw-01; mail flowing again"
    public = "A fix is in place and email is flowing again"
    updated = run("update", event_id, "--note", note, "--public-note", public, "--status", "Monitoring")
    assert updated.exit_code == 0, updated.stderr
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    kinds = [r[3] for r in _log(example)]
    assert kinds[-3:] == ["update", "update", "update"]
    latest = _by_audience(_outbox(tmp_path)[-3:])
    assert "[Monitoring]" in latest["customer"]["Subject"]
    customer = _text(latest["customer"]) + _html(latest["customer"])
    assert public in customer and "mail-gw-01" not in customer  # the customer reads the public note only
    leadership = _text(latest["leadership"])
    assert note in leadership and public not in leadership  # leadership reads the note itself


def test_audiences_see_what_they_should(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Technical gets vendor case, changes and timeline; the customer never gets internal fields or notes."""
    assert run("update", event_id, "--note", "Vendor says gateway firmware bug", "--internal").exit_code == 0
    assert run("notify", event_id).exit_code == 0
    mails = _by_audience(_outbox(tmp_path))
    technical = _text(mails["technical"])
    assert (
        "2611210040001234" in technical
        and "mail-gw-01" in technical
        and "Vendor says gateway firmware bug" in technical
    )
    assert "Dana Whitfield" in technical
    for audience in ("customer", "leadership"):
        body = _text(mails[audience]) + _html(mails[audience])
        assert "Vendor says gateway firmware bug" not in body
        assert "2611210040001234" not in body
    customer = _text(mails["customer"]) + _html(mails["customer"])
    for name in ("Dana Whitfield", "Priya Shah", "Chris Lee", "Microsoft"):
        assert name not in customer
    assert "Alex Morgan" in customer  # the event manager is the customer's contact
    leadership = _text(mails["leadership"])
    assert "Business impact:" in leadership and "Incident lead:    Dana Whitfield" in leadership


def test_every_email_states_next_update(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Each open-event email says when the next update comes, on the severity cadence, in the display format."""
    assert run("notify", event_id).exit_code == 0
    for message in _outbox(tmp_path):
        assert "Next update: by " in _text(message) and "(every 30 minutes while this event is open)" in _text(message)
        assert "Next update: by " in _html(message)


def test_resolved_email_has_no_next_update_and_cause_for_customer(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A resolved event sends 'resolved' messages; the customer sees the public cause, never the internal root
    cause; no next update."""
    resolved = run(
        "resolve",
        event_id,
        "--note",
        "Mail flow restored",
        "--cause",
        "Firmware bug on fw-hq-01",
        "--public-cause",
        "Expired gateway certificate",
    )
    assert resolved.exit_code == 0, resolved.stderr
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    mails = _by_audience(_outbox(tmp_path))
    customer = _text(mails["customer"])
    assert mails["customer"]["Subject"].startswith("[MAJOR OUTAGE][Resolved]")
    assert "has been resolved" in customer and "Expired gateway certificate" in customer
    assert "fw-hq-01" not in customer + _html(mails["customer"])
    assert "Firmware bug on fw-hq-01" in _text(mails["leadership"]) and "fw-hq-01" in _text(mails["technical"])
    assert "final update" in customer and "Next update" not in customer
    assert {r[3] for r in _log(example)} == {"resolved"}


def test_recipients_from_distribution_sheet(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """To/Cc/Bcc follow the sheet, inactive rows are skipped, a duplicate address appears once."""
    book = openpyxl.load_workbook(example)
    ws = book["Distribution"]
    ws.append(["customer", "Ops again", "CUSTOMER-OPS@example.com", "Cc", "Yes"])
    book.save(example)
    assert run("notify", event_id, "--audience", "customer").exit_code == 0
    (message,) = _outbox(tmp_path)
    assert [a.addr_spec for a in message["To"].addresses] == ["customer-ops@example.com"]
    assert message["Cc"] is None
    assert [a.addr_spec for a in message["Bcc"].addresses] == ["account.manager@example.com"]
    assert "former.contact@example.com" not in message.as_string()


def test_allowed_domains_refuses_and_names_row(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A recipient outside mail.allowed_domains stops the send and names the Distribution cell."""
    book = openpyxl.load_workbook(example)
    book["Distribution"]["C3"] = "cio@gmail.com"
    book.save(example)
    config = tmp_path / "tracker.toml"
    config.write_text(
        config.read_text().replace('# allowed_domains = ["example.com"]', 'allowed_domains = ["example.com"]')
    )
    result = run("notify", event_id)
    assert result.exit_code == 1
    assert "Distribution!C3 (Email): 'cio@gmail.com' is outside [mail] allowed_domains" in result.stderr
    assert not (tmp_path / "outbox").exists() and _log(example) == []


def test_gate_lists_cells_and_sends_nothing(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A bad cell in the event, its updates or the lists stops the send and names the cells."""
    book = openpyxl.load_workbook(example)
    book["Events"]["J2"] = None  # impact, needed by every message
    book["Distribution"]["D2"] = "Sometimes"
    book["Updates"]["B3"] = "soon"
    book.save(example)
    result = run("notify", event_id)
    assert result.exit_code == 1
    assert "nothing was sent; fix these cells first" in result.stderr
    for cell in ("Events!J2 (Impact)", "Distribution!D2 (To/Cc/Bcc)", "Updates!B3 (At (UTC))"):
        assert cell in result.stderr
    assert not (tmp_path / "outbox").exists() and _log(example) == []


def test_dry_run_previews_and_writes_nothing(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """--dry-run renders .eml and .html previews and prints a summary; no outbox, no log."""
    before = example.read_bytes()
    result = run("notify", event_id, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "3 message(s) rendered, nothing sent (dry run)" in result.stdout
    assert "leadership  initial  2" in result.stdout
    assert len(list((tmp_path / "preview").glob("*.eml"))) == 3
    assert len(list((tmp_path / "preview").glob("*.html"))) == 3
    assert not (tmp_path / "outbox").exists() and example.read_bytes() == before


def test_outbox_files_open_for_the_team(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """The outbox's .eml files and --dry-run's previews are made as any file the user makes (umask 022: readable by
    the team sharing the folder, 0644), not readable by their writer alone."""
    import os

    umask = os.umask(0o022)
    try:
        assert run("notify", event_id, "--dry-run").exit_code == 0
        assert run("notify", event_id).exit_code == 0
    finally:
        os.umask(umask)
    written = sorted((tmp_path / "outbox").glob("*.eml")) + sorted((tmp_path / "preview").glob("*"))
    assert len(written) == 9
    assert {path.name: oct(path.stat().st_mode & 0o777) for path in written} == {path.name: "0o644" for path in written}


def test_html_escapes_and_headers_cannot_be_split(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A <script> title arrives as text; a newline in the title cannot add a header."""
    book = openpyxl.load_workbook(example)
    book["Events"]["B2"] = "<script>alert(1)</script> down\nBcc: attacker@evil.test"
    book["Events"]["J2"] = "<img src=x onerror=alert(2)> no mail"
    book.save(example)
    assert run("notify", event_id, "--audience", "customer").exit_code == 0
    (message,) = _outbox(tmp_path)
    html = _html(message)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(2)&gt; no mail" in html
    assert "\n" not in message["Subject"] and "attacker@evil.test" not in str(message["Bcc"])
    assert all("attacker" not in a.addr_spec for a in message["Bcc"].addresses)


def test_templates_override_with_fallback(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A team's template folder overrides one template; the others come from the defaults."""
    folder = tmp_path / "my_templates" / "email"
    folder.mkdir(parents=True)
    (folder / "customer.txt.j2").write_text(
        "Dear customer, {{ event.title }} is being handled.\n{{ next_update_line }}\n"
    )
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace('outbox = "outbox"', 'outbox = "outbox"\ntemplates = "my_templates"'))
    assert run("notify", event_id).exit_code == 0
    mails = _by_audience(_outbox(tmp_path))
    assert _text(mails["customer"]).startswith("Dear customer, Email outage - all sites is being handled.")
    assert "Business impact:" in _text(mails["leadership"])


def test_military_time_format(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """time_format '%H%MZ' gives military times like 1432Z in the emails."""
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace('# time_format = "%d %b %Y %H%MZ"', 'time_format = "%H%MZ"'))
    assert run("notify", event_id, "--audience", "leadership").exit_code == 0
    (message,) = _outbox(tmp_path)

    assert re.search(r"Next update: by \d{4}Z \(every 30 minutes", _text(message))


def test_smtp_delivers_each_audience(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Through a real SMTP server: envelope recipients per audience include Bcc, headers do not."""
    with smtp_server() as (server, port):
        _use_smtp(tmp_path, port)
        result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert "via smtp" in result.stdout
    got = {str(r.message["X-Tracker-Audience"]): r for r in server.received}
    assert sorted(got["leadership"].rcpt_tos) == ["cio.office@example.com", "it-leadership@example.com"]
    assert sorted(got["customer"].rcpt_tos) == ["account.manager@example.com", "customer-ops@example.com"]
    assert got["customer"].message["Bcc"] is None
    assert got["leadership"].mail_from == "event.management@example.com"
    assert [r[8] for r in _log(example)] == ["smtp", "smtp", "smtp"]


LONG_TITLES = (
    "VPN down for remote staff at all HQs",  # the subject is 74 characters: too long after "Subject: ", not for a line
    "VPN and the customer portal – unreachable for users at the Zürich, Montréal and São Paulo sites since the firewall change",
    "Email, VPN and the customer portal unreachable at every site of the northern region since the firewall change at HQ",
)


@pytest.mark.parametrize("transport", ["outbox", "smtp"])
def test_long_subjects_read_back_whole(run: Run, example: Path, tmp_path: Path, transport: str) -> None:
    """A subject too long for one header line reads back exactly as sent, with no leading space and whole words and
    accents, from the outbox's .eml files and from what an SMTP server receives; each header line fits 78
    characters."""
    ids = {}
    for title in LONG_TITLES:
        opened = run("open", "--title", title, "--severity", "Sev 3", "--service", "VPN", "--impact", "No VPN")
        ids[opened.stdout.strip()] = title
    with smtp_server() as (server, port):
        if transport == "smtp":
            _use_smtp(tmp_path, port)
        for event in ids:
            assert run("notify", event).exit_code == 0
    if transport == "smtp":
        raw = [r.raw for r in server.received]
        messages = [r.message for r in server.received]
    else:
        raw = [p.read_bytes() for p in sorted((tmp_path / "outbox").glob("*.eml"))]
        messages = _outbox(tmp_path)
    subjects = {str(m["X-Tracker-Event"]): str(m["Subject"]) for m in messages}
    assert subjects == {event: f"[SEV 3][Investigating] {event}: {title}" for event, title in ids.items()}
    assert len(subjects[next(iter(ids))]) in range(70, 78)
    for data in raw:
        head = data.split(b"\r\n\r\n" if b"\r\n\r\n" in data else b"\n\n", 1)[0]
        assert max(len(line) for line in head.splitlines()) <= 78, head.decode()


def test_smtp_refused_recipient_is_reported(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """One refused address is reported; the message still goes to the others and the log counts them."""
    with smtp_server(Recorder(refuse={"cio.office@example.com"})) as (server, port):
        _use_smtp(tmp_path, port)
        result = run("notify", event_id)
    assert result.exit_code == 0
    assert "leadership: cio.office@example.com refused: 550" in result.stderr
    leadership = [r for r in _log(example) if r[2] == "leadership"][0]
    assert leadership[6] == 1  # one recipient accepted
    assert len(server.received) == 3


def test_smtp_dropped_connection_is_retried_once(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """The server drops the connection mid-batch once: tracker reconnects and every message arrives, once."""
    with smtp_server(Recorder(drop_after=1)) as (server, port):
        _use_smtp(tmp_path, port)
        result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert sorted(str(r.message["X-Tracker-Audience"]) for r in server.received) == [
        "customer",
        "leadership",
        "technical",
    ]
    assert len(_log(example)) == 3


def test_smtp_dropped_twice_log_matches_delivery(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Dropped again after the reconnect: that message is reported not sent, and the log lists exactly what arrived."""
    with smtp_server(Recorder(drop_after=1, drops=2)) as (server, port):
        _use_smtp(tmp_path, port)
        result = run("notify", event_id)
        first_log = sorted(r[2] for r in _log(example))
        retry = run("notify", event_id)  # only the missing audience goes out now
    delivered = sorted(str(r.message["X-Tracker-Audience"]) for r in server.received[:2])
    assert delivered == ["customer", "leadership"] == first_log
    assert result.exit_code == 1
    assert "error: technical: not sent: connection lost" in result.stderr
    assert re.search(r"technical +initial +2 .* FAILED", result.stdout)
    assert sorted(r[2] for r in _log(example)) == ["customer", "leadership", "technical"]  # after the retry
    assert retry.exit_code == 0 and retry.stdout.count("already sent for this state") == 2
    assert [str(r.message["X-Tracker-Audience"]) for r in server.received[2:]] == ["technical"]


def test_smtp_answer_lost_after_handing_over_asks_someone_until_confirmed(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """The server takes the second message whole, then the connection drops before its answer: that message may
    have arrived. It is not sent again (no retry, no resend by later runs), it shows as UNKNOWN, and `notify`, `due`
    and `watch` exit 1 naming it until someone says; `--confirm-lost` has the next run send it (issue 17: a scheduled
    job stayed green over a possibly lost email)."""
    with smtp_server(Recorder(drop_after=1, drop_at="DATA")) as (server, port):
        _use_smtp(tmp_path, port)
        result = run("notify", event_id)
        assert result.exit_code == 1, result.stderr
        assert re.search(r"technical +initial +2 .* UNKNOWN", result.stdout), result.stdout
        assert f"error: {event_id} technical: initial " in result.stderr and "no answer came" in result.stderr
        assert [str(m.message["X-Tracker-Audience"]) for m in server.unanswered] == ["technical"]
        assert sorted(str(m.message["X-Tracker-Audience"]) for m in server.received) == ["customer", "leadership"]
        technical = [r for r in _log(example) if r[2] == "technical"]
        assert len(technical) == 1 and str(technical[0][8]).startswith("acceptance unknown")
        for command in (["notify", event_id], ["notify", "--open"], ["due"], ["watch", "--ticks", "1"]):
            again = run(*command)
            assert again.exit_code == (5 if command == ["due"] else 1), (command, again.output)  # due: 5, unanswered
            assert "technical" in again.output and "--confirm-sent" in again.output, (command, again.output)
        due = run("due")
        assert re.search(rf"{event_id} .*email to technical: did it arrive\? +unconfirmed", due.stdout), due.stdout
        assert len(server.received) == 2  # nothing was sent again meanwhile
        lost = run("notify", event_id, "--confirm-lost", "--audience", "technical")
        assert lost.exit_code == 0, lost.stderr
        assert f"the next `tracker notify {event_id}` sends it again" in lost.stdout
        resent = run("notify", event_id)
        assert resent.exit_code == 0, resent.stderr
        assert [str(m.message["X-Tracker-Audience"]) for m in server.received[2:]] == ["technical"]
        assert run("due").stdout.count("did it arrive") == 0
        assert (
            run("notify", event_id, "--confirm-sent")
            .stdout.strip()
            .endswith("no message of unknown acceptance to confirm")
        )


def test_smtp_server_down_sends_nothing(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """No server listening: one clear error, nothing logged."""
    from tests.smtp_server import refusing_port

    with refusing_port() as port:
        _use_smtp(tmp_path, port)
        result = run("notify", event_id)
    assert result.exit_code == 1
    assert "cannot connect to SMTP server 127.0.0.1" in result.stderr and "nothing was sent" in result.stderr
    assert _log(example) == []


def test_smtp_password_only_from_environment(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A password in tracker.toml is refused; a username without the variable set is a clear config error."""
    original = (tmp_path / "tracker.toml").read_text()
    _use_smtp(tmp_path, 2525, 'username = "svc"\npassword = "hunter2"\n')
    result = run("notify", event_id)
    assert result.exit_code == 2 and "must not hold secrets" in result.stderr
    (tmp_path / "tracker.toml").write_text(original)
    _use_smtp(tmp_path, 2525, 'username = "svc"\npassword_env = "TRACKER_SMTP_PASSWORD"\n')
    result = run("notify", event_id)
    assert result.exit_code == 2 and "TRACKER_SMTP_PASSWORD" in result.stderr


def test_log_kept_in_journal_when_workbook_locked(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Sent while the workbook is open in Excel: the log waits in the journal, nothing is resent, sync writes it."""
    lock = tmp_path / f"~${example.name}"
    lock.write_bytes(b"\x05Jamie" + b"\x00" * 50)
    result = run("notify", event_id)
    assert result.exit_code == 1
    assert "kept in the local journal" in result.stderr and "Jamie" in result.stderr
    assert len(_outbox(tmp_path)) == 3 and _log(example) == []
    again = run("notify", event_id)
    assert again.stdout.count("already sent for this state") == 3 and len(_outbox(tmp_path)) == 3
    pending = run("sync")
    assert pending.exit_code == 1 and "pending since" in pending.stdout
    lock.unlink()
    synced = run("sync")
    assert synced.exit_code == 0 and "wrote 4 pending edit(s)" in synced.stdout
    assert len(_log(example)) == 3
    assert run("sync").stdout.strip() == "nothing pending"


@pytest.mark.parametrize("audience", ["vendors"])
def test_unknown_audience_is_usage_error(run: Run, example: Path, event_id: str, audience: str) -> None:
    """--audience not listed for the severity names the ones that are."""
    result = run("notify", event_id, "--audience", audience)
    assert result.exit_code == 2
    assert "Severities sheet lists: leadership, technical, customer" in result.stderr


def test_notify_open_sends_what_changed(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """`notify --open` covers every open event, and later only the events whose state changed."""
    new_id = run(
        "open", "--title", "Wi-Fi slow in HQ", "--severity", "Sev 3", "--service", "Wi-Fi", "--impact", "Slow Wi-Fi"
    ).stdout.strip()
    first = run("notify", "--open")
    assert first.exit_code == 0, first.stderr
    assert (
        f"{event_id}: sent 3 of 3" in first.stdout and f"{new_id}: sent 1 of 1" in first.stdout
    )  # Sev 3: technical only
    assert run("update", new_id, "--note", "Access point replaced").exit_code == 0
    second = run("notify", "--open")
    assert f"{new_id}: sent 1 of 1" in second.stdout and f"{event_id}: sent" not in second.stdout
    assert run("notify", event_id, "--open").exit_code == 2


def test_journal_is_written_by_the_next_write(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Any later successful write (here an update) also writes the waiting Notifications log."""
    lock = tmp_path / f"~${example.name}"
    lock.write_bytes(b"\x05Jamie" + b"\x00" * 50)
    assert run("notify", event_id).exit_code == 1
    lock.unlink()
    assert run("update", event_id, "--note", "still working on it").exit_code == 0
    assert len(_log(example)) == 3
    assert run("sync").stdout.strip() == "nothing pending"


@pytest.mark.slow
def test_two_notify_runs_at_once_send_once(example: Path, event_id: str, tmp_path: Path) -> None:
    """Two `notify` processes at the same moment: each audience gets one message, logged once."""
    from tests.conftest import run_at_once

    results = run_at_once([["notify", event_id], ["notify", event_id]], tmp_path)
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert len(_outbox(tmp_path)) == 3 and len(_log(example)) == 3


def test_gate_checks_only_rows_that_matter(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A bad inactive row of another audience does not block the send; a duplicate of the event's ID does."""
    book = openpyxl.load_workbook(example)
    book["Distribution"].append(["vendors", "n/a", "not-an-address", "To", "No"])
    book.save(example)
    assert run("notify", event_id, "--audience", "leadership", "--dry-run").exit_code == 0
    book = openpyxl.load_workbook(example)
    ws = book["Events"]
    for column in range(1, 12):
        ws.cell(row=3, column=column, value=ws.cell(row=2, column=column).value)
    book.save(example)
    result = run("notify", event_id, "--dry-run")
    assert result.exit_code == 1 and f"Events!A2 and Events!A3 all hold the ID {event_id!r}" in result.stderr


def test_notify_open_goes_on_after_a_bad_event(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """With --open, an event that cannot be sent is reported and the other open events still go out."""
    good = run("open", "--title", "Printers down", "--severity", "Sev 3", "--impact", "No printing").stdout.strip()
    result = run("notify", "--open")  # the new event's impact is fine; make the example one fail
    book = openpyxl.load_workbook(example)
    book["Events"]["J2"] = None
    book.save(example)
    assert run("update", good, "--note", "vendor engaged").exit_code == 0
    result = run("notify", "--open")
    assert result.exit_code == 1
    assert f"error: {event_id}: nothing was sent" in result.stderr
    assert f"{good}: sent 1 of 1" in result.stdout


def test_template_error_is_a_clear_message(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A team template that fails while rendering names the audience and the error, exit 2."""
    folder = tmp_path / "mine" / "email"
    folder.mkdir(parents=True)
    (folder / "leadership.subject.j2").write_text("{{ 1 / 0 }}")
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace('outbox = "outbox"', 'outbox = "outbox"\ntemplates = "mine"'))
    result = run("notify", event_id, "--dry-run")
    assert result.exit_code == 2 and "email template for 'leadership' failed: ZeroDivisionError" in result.stderr


def test_journal_replay_keeps_later_edits(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A journalled log written later does not undo a Next Update Due someone typed meanwhile."""
    from datetime import datetime

    lock = tmp_path / f"~${example.name}"
    lock.write_bytes(b"\x05Jamie" + b"\x00" * 50)
    assert run("notify", event_id).exit_code == 1
    lock.unlink()
    book = openpyxl.load_workbook(example)
    book["Events"]["E2"] = datetime(2030, 1, 1, 18, 0)
    book.save(example)
    assert run("sync").exit_code == 0
    book = openpyxl.load_workbook(example)
    assert book["Events"]["E2"].value == datetime(2030, 1, 1, 18, 0)
    assert book["Events"]["R2"].value is not None  # last notified was still written
    assert len(_log(example)) == 3


def test_unwritable_log_is_refused_before_sending(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log row the schema would refuse (a 300-character sender) stops the send before any mail goes out."""
    monkeypatch.setenv("TRACKER_USER", "x" * 300)
    result = run("notify", event_id)
    assert result.exit_code == 1 and "Sent By" in result.stderr
    assert not (tmp_path / "outbox").exists()


def test_refused_journal_entry_is_set_aside_once(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A journal entry the schema now refuses is set aside once, and the journal empties."""
    import json as _json

    journal = tmp_path / ".tracker-journal.jsonl"
    entry = {"op": "set", "sheet": "Events", "key": event_id, "values": {"users_affected": -5}}
    journal.write_text(_json.dumps({"recorded_at": "", "reason": "test", "edits": [entry]}) + "\n")
    for n in range(3):
        assert run("update", event_id, "--note", f"n{n}").exit_code == 0
    assert not journal.exists()
    rejected = tmp_path / ".events.xlsx.tracker-journal.rejected.jsonl"  # the workbook's (moved from tracker 0.1's)
    assert len(rejected.read_text().splitlines()) == 1

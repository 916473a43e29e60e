"""Intake from the team mailbox: messages in an [intake] folder of .eml files (the embedded default) or a Microsoft
Graph mailbox folder (the stand-in's messages delta query, with the real client) become events once each; the
reporter gets one reply; a reply naming an event adds to it."""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from tests import suite_clock
from tests.conftest import Run, process_env, start_process
from tests.sharepoint_standin import HttpError, StandIn

MAILBOX = "event.management@example.com"
DANA = ("Dana Scully", "dana@example.com")


@pytest.fixture
def mode() -> str:
    """The write mode of the `sp` fixture's tracker.toml (intake does not depend on it)."""
    return "upload"


def _eml_intake(folder: Path, extra: str = "") -> Path:
    """[intake] folder = "intake" in the example's tracker.toml; the folder, made."""
    with (folder / "tracker.toml").open("a") as toml:
        toml.write(f'\n[intake]\nfolder = "intake"\n{extra}')
    (folder / "intake").mkdir(exist_ok=True)
    return folder / "intake"


def _write_eml(
    folder: Path,
    name: str,
    subject: str,
    text: str,
    *,
    sender: tuple[str, str] = DANA,
    message_id: str | None = None,
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    """A message as a mail client saves it (the email package); returns its Message-ID."""
    message = EmailMessage()
    message["From"] = f"{sender[0]} <{sender[1]}>"
    message["To"] = MAILBOX
    message["Subject"] = subject
    message["Message-ID"] = message_id or f"<{name}.{len(text)}@mail.example.com>"
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    (folder / f"{name}.eml").write_bytes(bytes(message))
    return str(message["Message-ID"])


def _outbox(folder: Path) -> list[EmailMessage]:
    paths = sorted((folder / "outbox").glob("*.eml")) if (folder / "outbox").exists() else []
    return [BytesParser(policy=default_policy).parsebytes(p.read_bytes()) for p in paths]  # type: ignore[misc]


def _show(run: Run, event_id: str) -> dict[str, Any]:
    result = run("show", event_id, "--json")
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def _events(run: Run) -> list[str]:
    return [e["id"] for e in json.loads(run("list", "--json").stdout)]


def test_a_message_in_the_intake_folder_becomes_an_event_and_its_sender_gets_one_reply(
    run: Run, example: Path, tmp_path: Path
) -> None:
    """A .eml file in [intake] folder becomes the next event: the subject (RE:/FW: off) its title, the sender its
    reporter, Reported to EM the moment it was taken in, the duty event manager, Investigating; the first timeline
    line says it was taken in from the folder, the message's text (not the quoted thread) is the first internal
    update by the sender. The sender gets one reply naming the event and how to add to it; the file stays where it
    is; running intake again takes nothing twice."""
    inbox = _eml_intake(tmp_path)
    text = "The VPN is down since 09:00.\nNobody at HQ can connect.\n\n-----Original Message-----\nFrom: x\nold thread"
    message_id = _write_eml(inbox, "vpn", "FW: RE: VPN down at HQ", text)
    new_id = suite_clock.event_id(2)

    first = run("intake")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == f"{new_id} new from dana@example.com: VPN down at HQ\n"
    shown = _show(run, new_id)
    event = shown["event"]
    assert event["title"] == "VPN down at HQ" and event["status"] == "Investigating"
    assert event["reported_by"] == "Dana Scully <dana@example.com>"
    assert event["reported_at"] == suite_clock.NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    roster = json.loads(run("roster", "--json").stdout)
    assert event["event_manager"] and event["event_manager"] in {p["person"] for p in roster["on_duty"]}
    assert event["acknowledged_at"] is None  # nobody of the team has answered yet: the first-response clock runs
    taken, said = shown["timeline"][:2]
    assert taken["author"] == "tracker" and taken["internal"] is True
    assert taken["note"].startswith(f"Taken in from the .eml folder intake (message {message_id} from dana")
    assert said["author"] == "Dana Scully <dana@example.com>" and said["internal"] is True
    assert said["note"] == "The VPN is down since 09:00.\nNobody at HQ can connect."

    replies = _outbox(tmp_path)
    assert len(replies) == 1
    reply = replies[0]
    assert reply["To"] == "Dana Scully <dana@example.com>" and reply["In-Reply-To"] == message_id
    assert reply["Subject"] == f"[{new_id}] Taken in: VPN down at HQ"
    body = reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"taken in your report as {new_id}: VPN down at HQ" in body
    assert f"reply to this message with {new_id} in the subject" in body
    assert (inbox / "vpn.eml").exists()  # the user's file is read where it is, never moved

    again = run("intake")
    assert again.exit_code == 0 and again.stdout == "nothing new\n"
    assert _events(run) == [suite_clock.event_id(1), new_id] and len(_outbox(tmp_path)) == 1


def test_a_reply_naming_an_event_adds_an_internal_note_and_changes_nothing_else(
    run: Run, example: Path, tmp_path: Path, event_id: str
) -> None:
    """A message whose subject names an event (RE: [EVT-...] ..., the ID written any case, its number without the
    zeros) adds its text (the HTML part turned to text when that is all there is) to that event as an internal note
    by the sender; the event's status, Last Update, Next Update Due and Acknowledged stay; no reply goes."""
    inbox = _eml_intake(tmp_path)
    before = _show(run, event_id)["event"]
    short = event_id.lower().replace("-0001", "-1")
    message_id = _write_eml(inbox, "more", f"RE: [{short}] Email outage - all sites", "Also the shared calendars.")
    result = run("intake")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{event_id} update from dana@example.com: [{short}] Email outage - all sites\n"
    shown = _show(run, event_id)
    for cell in ("status", "last_update_at", "next_update_due", "acknowledged_at"):
        assert shown["event"][cell] == before[cell], cell
    note = shown["timeline"][-1]
    assert note["author"] == "Dana Scully <dana@example.com>" and note["internal"] is True
    assert note["note"] == f"By mail (message {message_id}): Also the shared calendars."
    assert _outbox(tmp_path) == [] and _events(run) == [event_id]


def test_a_reply_naming_a_resolved_event_is_kept_and_an_unknown_id_is_taken_in_as_new(
    run: Run, example: Path, tmp_path: Path, event_id: str
) -> None:
    """A message naming a Resolved event is kept on its timeline as an internal note, and intake says how to reopen
    it; a message naming an ID that is on no event is taken in as a new event, and intake says so."""
    assert run("resolve", event_id, "--note", "Mail flows again", "--cause", "Disk full").exit_code == 0
    inbox = _eml_intake(tmp_path)
    _write_eml(inbox, "a", f"RE: {event_id} still broken", "Still no mail here.")
    unknown = suite_clock.event_id(99)
    _write_eml(inbox, "b", f"RE: {unknown} printers", "All printers offline.")
    result = run("intake")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{event_id} update from dana@example.com: {event_id} still broken (the event is Resolved: kept as an "
        f'internal note; if it is back: tracker update {event_id} --status Investigating --reopen --note "...")',
        f"{suite_clock.event_id(2)} new from dana@example.com: {unknown} printers ({unknown} is not on the Events "
        "sheet: taken in as a new event)",
    ]
    shown = _show(run, event_id)
    assert shown["event"]["status"] == "Resolved" and shown["timeline"][-1]["note"].endswith("Still no mail here.")


def test_a_stop_between_the_event_written_and_the_message_remembered_takes_it_once(
    run: Run, example: Path, tmp_path: Path
) -> None:
    """tracker stopped after writing the event but before remembering the message (its memory beside the journal
    lost: as a kill -9 between the two leaves it): the next run finds the event by the Message-ID on its timeline,
    opens no second event and sends no second reply; a note added the same way is not added twice."""
    inbox = _eml_intake(tmp_path)
    _write_eml(inbox, "vpn", "VPN down at HQ", "No VPN.")
    assert run("intake").exit_code == 0
    new_id = suite_clock.event_id(2)
    _write_eml(inbox, "more", f"RE: [{new_id}] Taken in: VPN down at HQ", "Since 09:00.")
    before = _show(run, new_id)["event"]
    assert run("intake").stdout.startswith(f"{new_id} update from")
    after = _show(run, new_id)["event"]
    assert after["acknowledged_at"] is None  # the reporter writing again is no answer from the team
    assert (after["last_update_at"], after["next_update_due"]) == (before["last_update_at"], before["next_update_due"])
    memory = tmp_path / ".events.xlsx.tracker-journal.intake.jsonl"
    assert memory.exists()
    memory.unlink()

    result = run("intake")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{new_id} new from dana@example.com: VPN down at HQ (taken in before tracker stopped")
    assert "the reply went before tracker stopped; not sent twice" in lines[0]
    assert lines[1].endswith("(added before tracker stopped; not added twice)")
    assert _events(run) == [suite_clock.event_id(1), new_id]
    assert len(_outbox(tmp_path)) == 1
    assert [e["note"] for e in _show(run, new_id)["timeline"]].count(
        "By mail (message <more.12@mail.example.com>): Since 09:00."
    ) == 1
    assert run("intake").stdout == "nothing new\n"


def test_trackers_own_mail_and_automatic_replies_are_not_taken_and_outside_domains_get_no_reply(
    run: Run, example: Path, tmp_path: Path
) -> None:
    """A message from tracker's own sender address (an outage email the team mailbox is on the list for) and an
    automatic reply are ignored, said once; a report from outside [mail] allowed_domains becomes an event but gets no
    reply, said once."""
    toml = tmp_path / "tracker.toml"
    toml.write_text(toml.read_text().replace("# allowed_domains", 'allowed_domains = ["example.com"]\n#'))
    inbox = _eml_intake(tmp_path)
    _write_eml(inbox, "a", "[EVT] Update", "x", sender=("Event Management", MAILBOX))
    _write_eml(inbox, "b", "Automatic reply: VPN", "I am away", headers={"Auto-Submitted": "auto-replied"})
    _write_eml(inbox, "c", "Printer on fire", "Smoke.", sender=("Vendor", "ops@vendor.test"))
    result = run("intake")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"ignored message from {MAILBOX}: [EVT] Update (sent by tracker's own address: never taken in)",
        "ignored message from dana@example.com: Automatic reply: VPN (an automatic reply: not taken in)",
        f"{suite_clock.event_id(2)} new from ops@vendor.test: Printer on fire (no reply: ops@vendor.test is outside "
        "[mail] allowed_domains)",
    ]
    assert _outbox(tmp_path) == []
    assert run("intake").stdout == "nothing new\n"


def test_a_reply_the_mail_transport_did_not_take_is_sent_by_the_next_run_once(
    run: Run, example: Path, tmp_path: Path
) -> None:
    """The reply cannot go (the outbox cannot be written): the event is taken in all the same, intake says the reply
    was not sent and exits 1; the next run, the transport mended, sends that reply (once) and takes nothing twice."""
    inbox = _eml_intake(tmp_path)
    _write_eml(inbox, "vpn", "VPN down at HQ", "No VPN.")
    (tmp_path / "outbox").write_text("not a folder")
    new_id = suite_clock.event_id(2)
    failed = run("intake")
    assert failed.exit_code == 1
    assert failed.stdout.startswith(f"{new_id} new from dana@example.com: VPN down at HQ (reply not sent: cannot write")
    assert failed.stdout.rstrip().endswith("; the next run tries again)")
    (tmp_path / "outbox").unlink()
    mended = run("intake")
    assert mended.exit_code == 0, mended.stderr
    assert mended.stdout == f"{new_id} reply to dana@example.com: VPN down at HQ (sent now)\n"
    assert [m["Subject"] for m in _outbox(tmp_path)] == [f"[{new_id}] Taken in: VPN down at HQ"]
    assert run("intake").stdout == "nothing new\n" and len(_outbox(tmp_path)) == 1
    assert _events(run) == [suite_clock.event_id(1), new_id]


def test_the_python_api_takes_in_mail_as_the_command_does(example: Path, tmp_path: Path) -> None:
    """`EventTracker.intake()` takes in the folder's new messages, answering what `tracker intake` prints."""
    from tracker import EventTracker

    _write_eml(_eml_intake(tmp_path), "vpn", "VPN down at HQ", "No VPN.")
    taken = EventTracker.open(tmp_path / "tracker.toml").intake()
    assert [t.line() for t in taken] == [f"{suite_clock.event_id(2)} new from dana@example.com: VPN down at HQ"]
    assert taken[0].replied and EventTracker.open(tmp_path / "tracker.toml").intake() == []


def test_a_message_with_characters_a_cell_cannot_keep_is_taken_in_without_them(
    run: Run, example: Path, tmp_path: Path
) -> None:
    """A message whose sender name, subject and text hold control characters (a bell, an escape, a NUL), which an
    Excel cell cannot keep, is taken in without them instead of being refused (and tried again every tick)."""
    inbox = tmp_path / "intake"
    _eml_intake(tmp_path)
    raw = (
        "From: =?utf-8?q?Dana=07_Scully?= <dana@example.com>\r\nTo: event.management@example.com\r\n"
        "Subject: =?utf-8?q?VPN=1B_down=00?=\r\nMessage-ID: <odd@mail.example.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nNo\x07 VPN\x1b[31m here.\r\n"
    )
    (inbox / "odd.eml").write_bytes(raw.encode())
    result = run("intake")
    assert result.exit_code == 0, result.stderr
    new_id = suite_clock.event_id(2)
    assert result.stdout == f"{new_id} new from dana@example.com: VPN down\n"
    shown = _show(run, new_id)
    assert shown["event"]["reported_by"] == "Dana Scully <dana@example.com>"
    assert shown["timeline"][1]["note"] == "No VPN[31m here."
    assert len(_outbox(tmp_path)) == 1


def test_intake_without_a_source_says_how_to_set_one(run: Run, example: Path) -> None:
    """With no [intake] folder or mailbox, `tracker intake` exits 2 with one line saying how to set either."""
    result = run("intake")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: tracker.toml: [intake] has neither folder nor mailbox; set folder = ")
    assert 'mailbox = "event.management@contoso.com"' in result.stderr


def test_each_watch_tick_takes_in_new_mail(run: Run, example: Path, tmp_path: Path) -> None:
    """`tracker watch` takes in the intake folder's new messages on each tick, one line each."""
    inbox = _eml_intake(tmp_path)
    _write_eml(inbox, "vpn", "VPN down at HQ", "No VPN.")
    result = run("watch", "--ticks", "1")
    assert f"intake {suite_clock.event_id(2)} new from dana@example.com: VPN down at HQ" in result.stdout
    assert [m["Subject"] for m in _outbox(tmp_path) if "dana" in str(m["To"])] == [
        f"[{suite_clock.event_id(2)}] Taken in: VPN down at HQ"
    ]


# --- the Graph mailbox ---------------------------------------------------------------------------


def _graph_intake(sp: StandIn, tmp_path: Path, transport: str = "graph") -> None:
    """[intake] mailbox on the stand-in's Graph; replies through the graph transport as the team mailbox."""
    toml = tmp_path / "tracker.toml"
    text = toml.read_text().replace('transport = "outbox"', f'transport = "{transport}"')
    toml.write_text(text + f'\n[mail.graph]\nmailbox = "{MAILBOX}"\n\n[intake]\nmailbox = "{MAILBOX}"\n')
    sp.mail_folders.setdefault(f"{MAILBOX}/inbox", [])


def _received(minutes: float = 1) -> datetime:
    return suite_clock.NOW + timedelta(minutes=minutes)


def test_a_message_in_the_graph_mailbox_becomes_an_event_once_with_one_reply(
    run: Run, sp: StandIn, tmp_path: Path
) -> None:
    """Through the messages delta query: the first run starts from that moment (mail already in the folder is left
    alone) and keeps the round's delta link; a message arriving after becomes an event on the next run, which asks
    with that delta link, and its sender gets one reply through Graph's sendMail as the team mailbox; a third run
    (delta link again) takes nothing twice."""
    _graph_intake(sp, tmp_path)
    sp.drop_message(MAILBOX, sender=DANA, subject="Old news", body="from last week", received=_received(-7 * 24 * 60))
    first = run("intake")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == "nothing new\n"
    assert sp.delta_calls == [("initial", "")]
    html = "<html><body><p>The VPN is <b>down</b>.</p><p>Since 09:00.</p></body></html>"
    sp.drop_message(
        MAILBOX, sender=DANA, subject="RE: VPN down at HQ", body=html, content_type="html", received=_received()
    )

    second = run("intake")
    assert second.exit_code == 0, second.stderr
    new_id = suite_clock.event_id(2)
    assert second.stdout == f"{new_id} new from dana@example.com: VPN down at HQ\n"
    assert sp.delta_calls[1][0] == "deltatoken"  # the link the first run kept
    shown = _show(run, new_id)
    assert shown["event"]["reported_by"] == "Dana Scully <dana@example.com>"
    assert shown["timeline"][0]["note"].startswith(f"Taken in from the team mailbox {MAILBOX} (message <")
    assert shown["timeline"][1]["note"] == "The VPN is down.\n\nSince 09:00."
    assert [(mailbox, m["message"]["subject"]) for mailbox, m in sp.sent_mail] == [
        (MAILBOX, f"[{new_id}] Taken in: VPN down at HQ")
    ]
    assert sp.sent_mail[0][1]["message"]["toRecipients"][0]["emailAddress"]["address"] == "dana@example.com"
    page = f"{sp.site_url}/SitePages/tracker-status.aspx"  # [publish] goes to the SharePoint site: the reply says where
    assert f"Follow it on the status page: {page}" in sp.sent_mail[0][1]["message"]["body"]["content"]

    third = run("intake")
    assert third.stdout == "nothing new\n" and sp.delta_calls[2][0] == "deltatoken"
    assert len(sp.sent_mail) == 1 and _events(run) == [suite_clock.event_id(1), new_id]


def test_an_expired_delta_link_starts_over_without_taking_a_message_twice(
    run: Run, sp: StandIn, tmp_path: Path, event_id: str
) -> None:
    """Graph forgets the delta link (410 Gone, syncStateNotFound): the run starts the round over from the first
    run's moment; the messages it already took (one seen again because someone opened it) are not taken again, a
    new one is; a reply naming an event becomes an internal note of it."""
    _graph_intake(sp, tmp_path, transport="outbox")
    assert run("intake").stdout == "nothing new\n"
    taken = sp.drop_message(MAILBOX, sender=DANA, subject="VPN down at HQ", body="No VPN.", received=_received())
    assert run("intake").stdout.startswith(f"{suite_clock.event_id(2)} new from")
    sp.mark_read(MAILBOX, taken)
    sp.expire_delta_links()
    sp.drop_message(MAILBOX, sender=DANA, subject=f"RE: {event_id} mail", body="Calendars too.", received=_received(2))
    result = run("intake")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{event_id} update from dana@example.com: {event_id} mail\n"
    assert [kind for kind, _ in sp.delta_calls[-2:]] == ["deltatoken", "initial"]
    assert _show(run, event_id)["timeline"][-1]["note"].endswith("): Calendars too.")
    assert _events(run) == [event_id, suite_clock.event_id(2)] and len(_outbox(tmp_path)) == 1


def test_a_sign_in_that_may_not_read_the_team_mailbox_is_told_the_permission(
    run: Run, sp: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person's sign-in without Mail.Read.Shared and Full Access on the team mailbox gets Graph's 403; the line
    names what it needs; with both, the same run reads the mailbox."""
    _graph_intake(sp, tmp_path, transport="outbox")
    monkeypatch.setenv("TRACKER_GRAPH_TOKEN", sp.user_token("jane.doe@example.com", "Files.ReadWrite.All Mail.Read"))
    result = run("intake")
    assert result.exit_code == 2
    assert "access denied (403: Access is denied. Check credentials and try again.)" in result.stderr
    assert result.stderr.rstrip().endswith(
        f"the delegated permission Mail.Read.Shared for Microsoft Graph, and Exchange Full Access on {MAILBOX} for "
        "jane.doe@example.com"
    ), result.stderr
    monkeypatch.setenv(
        "TRACKER_GRAPH_TOKEN", sp.user_token("jane.doe@example.com", "Files.ReadWrite.All Mail.Read.Shared")
    )
    sp.grant_mailbox(MAILBOX, "jane.doe@example.com", "FullAccess")
    assert run("intake").stdout == "nothing new\n"


def test_a_round_of_several_pages_is_followed_to_its_delta_link(run: Run, sp: StandIn, tmp_path: Path) -> None:
    """Graph pages a round (tracker prefers 50 a page; the service may give fewer): every page is followed by its
    @odata.nextLink, each message taken once, and the delta link of the last page is the one the next run uses."""
    _graph_intake(sp, tmp_path, transport="outbox")
    assert run("intake").stdout == "nothing new\n"
    sp.mail_page_cap = 2
    for number in range(3):
        sp.drop_message(MAILBOX, sender=DANA, subject=f"Printer {number} jammed", body="Paper.", received=_received())
    result = run("intake")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{suite_clock.event_id(2 + n)} new from dana@example.com: Printer {n} jammed" for n in range(3)
    ]
    assert [kind for kind, _ in sp.delta_calls] == ["initial", "deltatoken", "skiptoken"]
    delta = [r for r in sp.requests if "/messages/delta" in r["path"]]
    assert {r["headers"].get("Prefer") for r in delta} == {"odata.maxpagesize=50"}
    assert run("intake").stdout == "nothing new\n"
    assert [kind for kind, _ in sp.delta_calls][-1] == "deltatoken" and len(_outbox(tmp_path)) == 3


def _doctor_intake(run: Run) -> dict[str, str]:
    result = run("doctor", "--json")
    return next(step for step in json.loads(result.stdout) if step["name"] == "intake")


def test_doctor_checks_the_intake_source(
    run: Run, sp: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tracker doctor` reads the team mailbox as intake would (nothing taken, no delta link kept): a sign-in without
    the permission is a problem naming it; with it, ok; the next `tracker intake` still starts its own round."""
    _graph_intake(sp, tmp_path, transport="outbox")
    monkeypatch.setenv("TRACKER_GRAPH_TOKEN", sp.user_token("jane.doe@example.com", "Files.ReadWrite.All Mail.Read"))
    step = _doctor_intake(run)
    assert step["status"] == "problem"
    assert "Mail.Read.Shared for Microsoft Graph, and Exchange Full Access on" in step["detail"]
    monkeypatch.setenv("TRACKER_GRAPH_TOKEN", "graph-token")
    step = _doctor_intake(run)
    assert step == {
        "name": "intake",
        "status": "ok",
        "detail": f"the inbox folder of {MAILBOX} answers the messages delta query",
        "fix": "",
    }
    assert run("intake").stdout == "nothing new\n"
    assert [kind for kind, _ in sp.delta_calls][-1] == "initial"


def test_doctor_counts_the_new_messages_of_the_eml_folder(run: Run, example: Path, tmp_path: Path) -> None:
    """With an .eml folder, `tracker doctor` says how many of its messages are not taken in yet."""
    inbox = _eml_intake(tmp_path)
    _write_eml(inbox, "vpn", "VPN down at HQ", "No VPN.")
    assert _doctor_intake(run)["detail"] == "the .eml folder intake: 1 message(s) not taken in yet"
    assert run("intake").exit_code == 0
    assert _doctor_intake(run)["detail"] == "the .eml folder intake: 0 message(s) not taken in yet"


def test_a_kill_between_the_event_written_and_the_message_remembered_takes_it_once(
    run: Run, sp: StandIn, tmp_path: Path
) -> None:
    """`tracker intake` killed (-9) when its reply is on the way, after the event was written and before the message
    was remembered: the next run opens no second event and sends no second reply (the reply was handed over, so its
    fate is unknown: logged as such, never sent again)."""
    from tests.test_store_sharepoint import TOKENS

    _graph_intake(sp, tmp_path)
    assert run("intake").stdout == "nothing new\n"
    sp.drop_message(MAILBOX, sender=DANA, subject="VPN down at HQ", body="No VPN.", received=_received())
    proc = start_process("intake", cwd=tmp_path, env=process_env(**TOKENS))

    def kill(_standin: StandIn) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        raise HttpError(503, "serviceNotAvailable", "the sender was killed: nothing sent")

    sp.before_next_send_mail(kill)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    new_id = suite_clock.event_id(2)
    assert _events(run) == [suite_clock.event_id(1), new_id]  # the event was written before the kill

    result = run("intake")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"{new_id} new from dana@example.com: VPN down at HQ (taken in before tracker stopped; not taken twice; "
        "the reply went before tracker stopped; not sent twice)\n"
    )
    assert _events(run) == [suite_clock.event_id(1), new_id] and sp.sent_mail == []
    assert run("intake").stdout == "nothing new\n"

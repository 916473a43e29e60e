"""The team's clock (issue 10): SLA timers, `tracker ack`, `tracker due`, reminders, all on the rehearsal clock
(`TRACKER_NOW`), never with sleeps."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday morning


def _outbox(tmp_path: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    ]


def _set_cells(path: Path, sheet: str, key: str, values: dict[str, object]) -> None:
    """Type `values` (by header) into the row of `sheet` whose first cell is `key`, as someone would in Excel."""
    book = openpyxl.load_workbook(path)
    table = book[sheet]
    header = [c.value for c in table[1]]
    row = next(r for r in range(2, table.max_row + 1) if table.cell(r, 1).value == key)
    for name, value in values.items():
        table.cell(row, header.index(name) + 1).value = value
    book.save(path)


@pytest.fixture
def example(run: Run, tmp_path: Path, at) -> Path:  # type: ignore[no-untyped-def]
    """`tracker init --example` an hour before START, so the example event is older than every rehearsed moment
    whatever day the tests run on."""
    at(START - timedelta(hours=1))
    assert run("init", "--example").exit_code == 0
    return tmp_path / "events.xlsx"


@pytest.fixture
def event_id() -> str:
    """The example event: made on START's day, so its ID has START's year."""
    return suite_clock.event_id(1, when=START)


@pytest.fixture
def sev2(run: Run, example: Path, at) -> str:  # type: ignore[no-untyped-def]
    """A Sev 2 (update every 60 min, first response 30 min, restoration 8 h) opened at START, reported at START;
    its communication lead has an address on the Distribution sheet."""
    at(START)
    resolved = run("resolve", suite_clock.event_id(1, when=START), "--note", "done", "--force")
    assert resolved.exit_code == 0, resolved.stderr  # the example event, so only this one is open
    opened = run(
        "open",
        "--title",
        "VPN down at HQ",
        "--severity",
        "Sev 2",
        "--service",
        "VPN",
        "--impact",
        "No VPN",
        "--set",
        "communication_lead=Priya Shah",
    )
    assert opened.exit_code == 0, opened.stderr
    book = openpyxl.load_workbook(example)
    sheet = book["Distribution"]
    sheet.append(["technical", "Priya Shah", "priya.shah@example.com", "Cc", "Yes"])
    table = sheet.tables["DistributionTable"]
    table.ref = f"A1:E{sheet.max_row}"
    book.save(example)
    return opened.stdout.strip()


def test_the_rehearsal_clock_is_what_tracker_calls_now(run: Run, example: Path, at) -> None:  # type: ignore[no-untyped-def]
    """TRACKER_NOW sets 'now' for every command: an event opened then is reported then."""
    moment = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
    at(moment)
    opened = run("open", "--title", "t", "--severity", "Sev 3", "--service", "VPN", "--impact", "x")
    shown = json.loads(run("show", opened.stdout.strip(), "--json").stdout)["event"]
    assert shown["reported_at"] == "2027-01-04T09:30:00Z" and opened.stdout.strip() == suite_clock.event_id(
        1, when=moment
    )


def test_due_counts_down_and_exits_1_once_late(run: Run, sev2: str, at) -> None:  # type: ignore[no-untyped-def]
    """At 08:30 the 09:00 update is due in 30 min (exit 0); at 08:52 due soon; at 09:05 overdue by 5 min (exit 1);
    the first response, unacknowledged, is at risk from 08:22 (75% of 30 min) and breached after 08:30."""
    at(START + timedelta(minutes=20))
    early = run("due", "--json")
    assert early.exit_code == 0
    items = {i["kind"]: i for i in json.loads(early.stdout)["items"] if i["event_id"] == sev2}
    assert items["update"]["state"] == "due" and items["update"]["minutes"] == 40
    assert "first response" not in items
    at(START + timedelta(minutes=25))
    risky = {i["kind"]: i for i in json.loads(run("due", "--json").stdout)["items"] if i["event_id"] == sev2}
    assert risky["first response"]["state"] == "at risk" and risky["first response"]["at"] == "2026-11-23T08:30:00Z"
    at(START + timedelta(minutes=52))
    soon = run("due")
    assert soon.exit_code == 6  # the first response is breached by now (an SLA breached: 6)
    assert f"{sev2}  Sev 2  next update     due soon  in 8 min" in soon.stdout
    assert "first response  breached  breached by 22 min" in soon.stdout
    assert run("ack", sev2).exit_code == 0
    at(START + timedelta(minutes=65))
    late = run("due")
    assert late.exit_code == 4 and "next update  overdue  overdue by 5 min" in late.stdout  # update overdue: 4
    assert "first response" not in late.stdout  # acknowledged (late): no longer owed
    within = json.loads(run("due", "--within", "15m", "--json").stdout)["items"]
    assert {i["state"] for i in within if i["event_id"] == sev2} == {"overdue"}


def test_ack_records_the_first_response_once(run: Run, sev2: str, at) -> None:  # type: ignore[no-untyped-def]
    """ack at 08:04: first response 4 min of 30: met; a second ack changes nothing; show gives the SLA lines."""
    at(START + timedelta(minutes=4))
    acked = run("ack", sev2)
    assert acked.exit_code == 0
    assert (
        acked.stdout.strip()
        == f"{sev2}: acknowledged at 23 Nov 2026 0804Z (first response acknowledged in 4 min, target 30 min: met)"
    )
    at(START + timedelta(minutes=9))
    again = run("ack", sev2)
    assert "already acknowledged at 23 Nov 2026 0804Z" in again.stdout
    shown = run("show", sev2)
    assert re.search(r"SLA first response +acknowledged in 4 min, target 30 min: met", shown.stdout)
    assert re.search(r"SLA restoration +9 min of 8 h: running", shown.stdout)
    data = json.loads(run("show", sev2, "--json").stdout)
    assert [(t["name"], t["state"]) for t in data["sla"]] == [("first response", "met"), ("restoration", "running")]


def test_the_resolved_email_says_how_restoration_went(
    run: Run,
    sev2: str,
    at,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """Resolved 3 h 12 min after detection against 8 h: the Resolved email to leadership says 'met'."""
    at(START + timedelta(hours=3, minutes=12))
    assert run("resolve", sev2, "--note", "Tunnels up", "--public-note", "VPN works again").exit_code == 0
    assert run("notify", sev2).exit_code == 0
    leadership = [m for m in _outbox(tmp_path) if m["X-Tracker-Audience"] == "leadership"][-1]
    text = leadership.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Restoration:      restored in 3 h 12 min, target 8 h: met" in text


def test_no_overdue_reminder_at_the_due_minute_itself(run: Run, sev2: str, at, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 19 point 8: at 09:00, the minute the 09:00 update is due, the overdue reminder went out saying "update
    was due 0900Z (0 min ago)". At the due minute it is due now: a reminder that says so if none went before, the
    overdue one from 09:01 ("1 min ago")."""
    at(START + timedelta(hours=1))
    now = run("due", "--remind")
    assert "[OVERDUE]" not in now.stdout and "[REMINDER]" in now.stdout, now.stdout
    assert "update due 23 Nov 2026 0900Z (now)" in str(_outbox(tmp_path)[-1]["Subject"])
    states = {i["kind"]: i["state"] for i in json.loads(run("due", "--json").stdout)["items"] if i["event_id"] == sev2}
    assert states["update"] == "due soon" and "OVERDUE" not in run("list", "--open").stdout  # as the reminder says
    at(START + timedelta(hours=1, seconds=59))
    assert "reminded" not in run("due", "--remind").stdout
    at(START + timedelta(hours=1, minutes=1))
    late = run("due", "--remind")
    assert "[OVERDUE]" in late.stdout and "(1 min ago)" in str(_outbox(tmp_path)[-1]["Subject"])
    assert late.exit_code == 4 and "0900Z OVERDUE" in run("list", "--open").stdout


def test_reminders_go_once_before_and_once_when_late(
    run: Run,
    sev2: str,
    at,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The 09:00 update: at 08:52 (lead 10 min) Priya gets a reminder; at 08:55 nothing more; at 09:03 an overdue
    one; at 09:10 nothing more. Each is a Notifications row of kind reminder; outage audiences get nothing."""
    at(START + timedelta(minutes=45))
    assert "reminded" not in run("due", "--remind").stdout
    at(START + timedelta(minutes=52))
    first = run("due", "--remind")
    assert "reminded Priya Shah <priya.shah@example.com>: [REMINDER]" in first.stdout
    at(START + timedelta(minutes=55))
    assert "reminded" not in run("due", "--remind").stdout
    at(START + timedelta(minutes=63))
    late = run("due", "--remind")
    assert late.exit_code == 4 and "[OVERDUE]" in late.stdout
    at(START + timedelta(minutes=70))
    assert "reminded" not in run("due", "--remind").stdout
    mails = _outbox(tmp_path)
    assert [str(m["X-Tracker-Kind"]) for m in mails] == ["reminder", "reminder"]
    assert all([a.addr_spec for a in m["To"].addresses] == ["priya.shah@example.com"] for m in mails)
    assert "due 23 Nov 2026 0900Z (in 8 min)" in str(mails[0]["Subject"])
    assert "tracker notify " + sev2 + " --no-change" in mails[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    book = openpyxl.load_workbook(tmp_path / "events.xlsx")
    kinds = [row[3] for row in book["Notifications"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert kinds == ["reminder", "reminder"]
    sent = run("notify", sev2)  # the reminders are not outage messages: every audience still gets its initial
    assert sent.exit_code == 0 and "initial" in sent.stdout


def test_a_reminder_for_someone_without_an_email_goes_to_the_duty_event_manager(  # type: ignore[no-untyped-def]
    run: Run, example: Path, event_id: str, at, tmp_path: Path
) -> None:
    """The event's communication lead has no address anywhere: the duty event manager on the Roster gets the
    reminder, saying whom it was for; with nobody on the Roster either, due --remind says so, naming the fix."""
    assert run("update", event_id, "--note", "handover", "--set", "communication_lead=Pat Doe").exit_code == 0
    shown = json.loads(run("show", event_id, "--json").stdout)["event"]
    due = datetime.fromisoformat(shown["next_update_due"].replace("Z", "+00:00"))
    at(due - timedelta(minutes=3))
    duty = [s for s in json.loads(run("roster", "--json").stdout)["on_duty"] if s["role"] == "duty event manager"]
    result = run("due", "--remind")
    assert f"reminded {duty[0]['person']}" in result.stdout, result.stdout + result.stderr
    (message,) = [m for m in _outbox(tmp_path) if not str(m["Subject"]).startswith("[HANDOVER]")]  # 07:00 handover
    assert message["To"].addresses[0].addr_spec == duty[0]["email"]
    assert "It is for Pat Doe, who has no email" in message.get_body(("plain",)).get_content()
    book = openpyxl.load_workbook(example)
    book.remove(book["Roster"])
    book.save(example)
    at(due + timedelta(minutes=1))
    nobody = run("due", "--remind")
    assert "warning: could not remind Pat Doe" in nobody.stderr
    assert "no email for 'Pat Doe': add them (Person and Email) to the Roster sheet" in nobody.stderr


@pytest.mark.parametrize("text", ["15", "15x", "-5m", "999999m"])
def test_due_within_wants_a_span(run: Run, example: Path, text: str) -> None:
    """--within takes 15m, 2h or 1d; anything else is a usage error naming the option."""
    result = run("due", "--within", text)
    assert result.exit_code == 2 and "--within" in result.stderr


def test_no_change_keeps_the_promised_cadence_once_per_due_time(
    run: Run,
    sev2: str,
    at,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The initial went out at 08:00; at 09:00 nothing changed: --no-change tells every audience so and moves the
    next update to 10:00; again at once: nothing; with news not yet sent it is refused, saying to send the news."""
    assert run("notify", sev2).exit_code == 0
    at(START + timedelta(minutes=60))
    quiet = run("notify", sev2, "--no-change")
    assert quiet.exit_code == 0, quiet.stderr
    assert "next update due 23 Nov 2026 1000Z" in quiet.stdout
    mails = _outbox(tmp_path)[3:]
    assert len(mails) == 3
    for mail in mails:
        text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "No change since our last update" in text and "Next update: by 23 Nov 2026 1000Z" in text
    again = run("notify", sev2, "--no-change")  # the next one is not due until 10:00
    assert again.exit_code == 2 and "not due until 23 Nov 2026 1000Z (in 1 h)" in again.stderr
    assert len(_outbox(tmp_path)) == 6
    assert run("update", sev2, "--note", "Firewall rebooted", "--public-note", "Working on it").exit_code == 0
    news = run("notify", sev2, "--no-change")
    assert news.exit_code == 2 and f"send it with `tracker notify {sev2}`" in news.stderr


def test_list_marks_updates_due_soon_and_overdue(run: Run, sev2: str, at) -> None:  # type: ignore[no-untyped-def]
    """08:30: nothing; 08:52 (within the 10 min lead): DUE SOON; 09:01: OVERDUE."""
    at(START + timedelta(minutes=30))
    assert "DUE SOON" not in run("list", "--open").stdout and "OVERDUE" not in run("list", "--open").stdout
    at(START + timedelta(minutes=52))
    assert "23 Nov 2026 0900Z DUE SOON" in run("list", "--open").stdout
    at(START + timedelta(minutes=61))
    assert "23 Nov 2026 0900Z OVERDUE" in run("list", "--open").stdout


def test_the_events_sheet_colours_updates_due_soon(run: Run, example: Path) -> None:
    """A new workbook has, beside the red overdue rule, an amber rule for updates due within the lead time: the
    severity's Remind Before, else [clock] remind_before (10 min)."""
    book = openpyxl.load_workbook(example)
    formulas = [
        (rule.formula[0], rule.dxf.fill.fgColor.rgb if rule.dxf and rule.dxf.fill else None)
        for rules in book["Events"].conditional_formatting
        for rule in rules.rules
        if rule.formula
    ]
    soon = [f for f in formulas if "/1440" in f[0] and f[1] and f[1].endswith("FFEB9C")]
    assert soon and "TrackerRemindBefore" in soon[0][0] and ",10)/1440" in soon[0][0]
    assert book.defined_names["TrackerRemindBefore"].attr_text == "'Severities'!$I:$I"  # Remind Before (min)


def test_watch_survives_a_workbook_open_in_excel_and_runs_once_per_workbook(
    run: Run,
    sev2: str,
    at,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The workbook open in LibreOffice: each tick says so and the next tries again (no crash); a second watch
    on the same workbook is refused while the first runs."""
    from filelock import FileLock

    from tracker.config import load_config
    from tracker.store.backends import open_store

    at(START + timedelta(minutes=52))  # a reminder is due, but the log cannot be written
    lock = tmp_path / ".~lock.events.xlsx#"
    lock.write_text("Dana,dana,host,23.11.2026 08:00,file:///x;")
    watched = run("watch", "--every", "1m", "--ticks", "2")
    assert watched.exit_code == 0, watched.stdout
    assert "the log waits in the journal" in watched.stdout and "is open in LibreOffice by" in watched.stdout
    assert watched.stdout.count("[REMINDER]") == 1  # sent once: the journal knows it went
    assert "watch stopped after 2 tick(s)" in watched.stdout
    lock.unlink()
    assert run("sync").exit_code == 0
    book = openpyxl.load_workbook(tmp_path / "events.xlsx")
    kinds = sorted(r[3] for r in book["Notifications"].iter_rows(min_row=2, values_only=True) if r[0])
    assert kinds == ["escalation", "reminder"]  # the reminder, and the Sev 2 not acknowledged since 08:30
    store = open_store(load_config(tmp_path / "tracker.toml"))
    with FileLock(str(store.lock_path("notify")) + ".watch", timeout=0):
        second = run("watch", "--ticks", "1")
    assert second.exit_code == 2 and "another `tracker watch` is running" in second.stderr


@pytest.mark.parametrize(("stop", "code"), [("SIGTERM", 0), ("SIGINT", 130)], ids=["service manager", "ctrl-c"])
def test_watch_stops_cleanly(run: Run, example: Path, tmp_path: Path, stop: str, code: int) -> None:
    """A service manager's SIGTERM while watch waits for its next tick: it says it stopped, exit 0, at once. Ctrl-C
    in a terminal: the same words, and exit 130 as every command stopped by Ctrl-C (the README's exit codes; it
    exited 0). No traceback either way."""
    import signal
    import subprocess

    from tests.conftest import process_env, tracker_command

    process = subprocess.Popen(
        [*tracker_command(), "watch", "--every", "5m"],
        cwd=tmp_path,
        env=process_env(real_clock=True),  # a real 5-minute wait: the rehearsal clock would tick on at once
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert "watching every 5 min" in process.stdout.readline()  # the watch has started (and its first tick runs)
    process.send_signal(getattr(signal, stop))  # during the first tick (it ends first) or while waiting (at once)
    rest, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert re.search(r"watch stopped after [01] tick\(s\)", rest) and "Traceback" not in err  # (0: before the first)


def _escalation_rows(path: Path, *rows: list[object], first: bool = False) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book["Escalations"]
    kept = [[c.value for c in row] for row in sheet.iter_rows(min_row=2) if any(c.value is not None for c in row)]
    sheet.delete_rows(2, sheet.max_row)
    for values in [*rows, *kept] if first else [*kept, *rows]:
        sheet.append(list(values))
    sheet.tables["EscalationsTable"].ref = f"A1:E{sheet.max_row}"
    book.save(path)


@pytest.mark.parametrize(("bcc", "parts"), [(0, 1), (2, 2)], ids=["one email", "in parts past max_recipients"])
def test_an_escalation_to_an_audience_is_its_emails_with_their_copies(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, tmp_path: Path, example: Path, bcc: int, parts: int
) -> None:
    """Issue 19 point 15: escalating to audience:leadership sent each of its Distribution rows its own email, the
    Cc member (CIO Office) addressed To as if the escalation were theirs to act on. One email now, To and Cc as
    the Distribution sheet says; past [mail] max_recipients, in parts as notify sends the audience's emails, each
    with the To and Cc and a share of the Bcc (one message a mail server refuses was the alternative)."""
    if bcc:
        config = tmp_path / "tracker.toml"
        config.write_text(config.read_text().replace("[mail]\n", "[mail]\nmax_recipients = 3\n", 1))
        book = openpyxl.load_workbook(example)
        sheet = book["Distribution"]
        for n in range(1, bcc + 1):
            sheet.append(["leadership", f"Director {n}", f"director.{n}@example.com", "Bcc", "Yes"])
        sheet.tables["DistributionTable"].ref = f"A1:E{sheet.max_row}"
        book.save(example)
    _escalation_rows(example, ["Sev 2", "update overdue", 10, "audience:leadership", None], first=True)
    at(START + timedelta(minutes=71))  # the 09:00 update 11 min late
    escalated = run("due", "--escalate")
    assert escalated.stdout.count("escalated to leadership") == parts, escalated.stdout + escalated.stderr
    leadership = {"it-leadership@example.com", "cio.office@example.com"}

    def addressed(message: email.message.EmailMessage) -> set[str]:
        return {a.addr_spec for h in ("To", "Cc") if message[h] for a in message[h].addresses}

    sent = [m for m in _outbox(tmp_path) if m["X-Tracker-Kind"] == "escalation" and addressed(m) & leadership]
    assert len(sent) == parts, [str(m["To"]) for m in sent]
    assert all([a.addr_spec for a in m["To"].addresses] == ["it-leadership@example.com"] for m in sent)
    assert all([a.addr_spec for a in m["Cc"].addresses] == ["cio.office@example.com"] for m in sent)


@pytest.mark.parametrize(
    ("cell", "value", "wording"),
    [
        ("D3", "Copy", "Distribution!D3 (To/Cc/Bcc)"),  # was a KeyError: the watch loop died
        ("E2", "Y", "Distribution!E2 (Active)"),  # was: the To row left out, the escalation sent to the Cc alone
        ("C2", "it-leadership@example.com; cio@example.com", "is not one bare email address"),  # was: sent to it
    ],
)
def test_an_escalation_or_report_to_an_audience_with_a_row_validate_refuses_sends_nothing_and_says_why(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, tmp_path: Path, example: Path, cell: str, value: str, wording: str
) -> None:
    """A leadership row of the Distribution sheet holding what validate refuses (To/Cc/Bcc "Copy", Active "Y", two
    addresses in one Email cell): `notify` refuses the audience, and so now do an escalation to audience:leadership
    and `report --email leadership`, naming the cell, without a traceback; the other steps still go."""
    book = openpyxl.load_workbook(example)
    book["Distribution"][cell].value = value
    book.save(example)
    _escalation_rows(example, ["Sev 2", "update overdue", 10, "audience:leadership", None], first=True)
    at(START + timedelta(minutes=71))  # the 09:00 update 11 min late
    escalated = run("due", "--escalate")
    assert escalated.exit_code == 4, escalated.stderr  # the update overdue says first; no crash (3)
    assert "could not escalate" in escalated.stderr and wording in escalated.stderr, escalated.stderr
    assert "escalated to Ravi Menon" in escalated.stdout  # the Sev 2's other step (not acknowledged) still goes
    reported = run("report", "--email", "leadership")
    assert reported.exit_code == 1 and wording in reported.stderr, reported.stderr
    sent = [m for m in _outbox(tmp_path) if m["X-Tracker-Kind"] in ("escalation", "report")]
    assert not [m for m in sent if "leadership" in str(m["To"]) + str(m["Cc"])], [str(m["To"]) for m in sent]


def test_due_exit_codes_tell_a_monitor_what_is_late(run: Run, sev2: str, at, tmp_path: Path, example: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 19 point 15: `due` exited 1 alike for an overdue update, a breached SLA, overdue paperwork and a mail
    server down. Now what is late says first: 4 an update overdue, 6 an SLA breached; then 1, a reminder that could
    not go (the mail server down), which still lists what is owed, as JSON too; --json carries the code."""
    from tests.smtp_server import refusing_port
    from tests.test_cli_notify import _use_smtp

    at(START + timedelta(minutes=20))
    assert run("due").exit_code == 0  # nothing late yet
    at(START + timedelta(minutes=52))  # the first response (30 min) is breached; the 09:00 update not yet due
    breached = run("due")
    assert breached.exit_code == 6, breached.stdout
    assert json.loads(run("due", "--json").stdout)["exit_code"] == 6
    assert run("ack", sev2).exit_code == 0  # acknowledged (late): a stopped timer is history, nothing is late now
    with refusing_port() as port:  # the mail server is down
        _use_smtp(tmp_path, port)
        soon = run("due", "--remind")  # the 09:00 update's reminder (lead 10 min) cannot go
        assert soon.exit_code == 1 and "error: reminders and escalations not sent" in soon.stderr, soon.stderr
        at(START + timedelta(minutes=65))
        down = run("due", "--remind", "--json")
    assert down.exit_code == 4, down.stdout + down.stderr  # the update is overdue: that comes first
    assert "error: reminders and escalations not sent" in down.stderr
    owed = json.loads(down.stdout)
    assert owed["exit_code"] == 4 and any(i["kind"] == "update" and i["state"] == "overdue" for i in owed["items"])


@pytest.mark.parametrize("how", ["ack", "update"])
def test_an_acknowledgement_typed_as_text_is_replaced_by_a_real_one(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, example: Path, how: str
) -> None:
    """'23/11/2026 08:05' typed as text in Acknowledged is no acknowledgement (`due` says the first response runs):
    `tracker ack`, or any update, records one over it (before, ack said "already acknowledged" and changed nothing,
    and an update left the text, so the first response stayed breached and the escalation went on firing)."""
    _set_cells(example, "Events", sev2, {"Acknowledged (UTC)": "23/11/2026 08:05"})
    at(START + timedelta(minutes=10))
    if how == "ack":
        acked = run("ack", sev2)
        assert acked.exit_code == 0, acked.stderr
        assert acked.stdout.strip() == (
            f"{sev2}: acknowledged at 23 Nov 2026 0810Z (first response acknowledged in 10 min, target 30 min: met)"
        )
    else:
        assert run("update", sev2, "--note", "Network team engaged").exit_code == 0
    shown = json.loads(run("show", sev2, "--json").stdout)
    assert shown["event"]["acknowledged_at"] == "2026-11-23T08:10:00Z"
    at(START + timedelta(minutes=40))
    assert "first response" not in run("due").stdout
    assert "escalated" not in run("due", "--escalate").stdout


def test_an_escalation_is_sent_once_even_if_the_sheet_is_sorted(
    run: Run,
    sev2: str,
    at,
    tmp_path: Path,
    example: Path,  # type: ignore[no-untyped-def]
) -> None:
    """Sev 2 not acknowledged for 30 min: escalated at 08:31; a rule inserted above it (its row moves): nothing
    again at 08:32; a rule whose After is text never fires (validate names it)."""
    at(START + timedelta(minutes=31))
    first = run("due", "--escalate")
    assert "escalated to Ravi Menon" in first.stdout
    _escalation_rows(example, ["Sev 3", "update overdue", 5, "event manager", None], first=True)
    _escalation_rows(example, ["Sev 2", "open longer than", "4h", "operations manager", None])
    at(START + timedelta(minutes=32))
    again = run("due", "--escalate")
    assert "escalated" not in again.stdout, again.stdout
    assert "Escalations!C" in run("validate").stdout


def test_no_change_moves_the_cadence_on(run: Run, sev2: str, at, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A no-change message sent 8 min before the 09:00 update is that update: the next is due at 10:00."""
    assert run("notify", sev2).exit_code == 0
    at(START + timedelta(minutes=52))
    quiet = run("notify", sev2, "--no-change")
    assert quiet.exit_code == 0 and "next update due 23 Nov 2026 1000Z" in quiet.stdout
    at(START + timedelta(minutes=61))
    assert "overdue" not in run("due").stdout


def test_reminders_respect_allowed_domains(run: Run, sev2: str, at, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """[mail] allowed_domains = other.test: Priya's example.com address gets no reminder; the warning says why."""
    config = tmp_path / "tracker.toml"
    config.write_text(
        config.read_text().replace('outbox = "outbox"', 'outbox = "outbox"\nallowed_domains = ["other.test"]', 1)
    )
    at(START + timedelta(minutes=52))
    result = run("due", "--remind")
    assert "priya.shah@example.com is outside [mail] allowed_domains; not sent" in result.stderr
    assert not list((tmp_path / "outbox").glob("*.eml"))


def test_watch_exit_code_says_whether_its_last_tick_left_a_message_unsent(
    run: Run,
    sev2: str,
    at,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """A reminder that cannot go out (its address is outside allowed_domains) makes the watch end with exit 1 and
    says how many were not sent; once the setting is mended, a tick with nothing failing ends with exit 0."""
    config = tmp_path / "tracker.toml"
    original = config.read_text()
    config.write_text(original.replace('outbox = "outbox"', 'outbox = "outbox"\nallowed_domains = ["other.test"]', 1))
    at(START + timedelta(minutes=52))
    failing = run("watch", "--ticks", "1")
    assert failing.exit_code == 1, failing.stdout
    assert "outside [mail] allowed_domains; not sent" in failing.stdout
    assert re.search(r"watch stopped after 1 tick\(s\), \d+ action\(s\), [1-9]\d* not sent", failing.stdout)
    again = run("watch", "--ticks", "5")  # the same problem each minute: said once, counted each time
    assert again.exit_code == 1 and again.stdout.count("outside [mail] allowed_domains") == 1, again.stdout
    assert "5 tick(s), 10 action(s), 10 not sent" in again.stdout  # a reminder and an escalation, each tick
    config.write_text(original)
    mended = run("watch", "--ticks", "1")
    assert mended.exit_code == 0, mended.stdout
    assert "[REMINDER]" in mended.stdout and "not sent" not in mended.stdout


def test_ack_after_resolution_changes_nothing(run: Run, sev2: str, at) -> None:  # type: ignore[no-untyped-def]
    """Resolved without an acknowledgement: the resolution is the first response; a later ack changes nothing."""
    at(START + timedelta(minutes=20))
    assert run("resolve", sev2, "--note", "x", "--public-note", "y").exit_code == 0
    at(START + timedelta(minutes=50))
    later = run("ack", sev2)
    assert later.exit_code == 0 and "already acknowledged at 23 Nov 2026 0820Z" in later.stdout


def test_reminders_and_escalations_go_through_smtp(run: Run, sev2: str, at, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Through a real SMTP server (aiosmtpd on 127.0.0.1): Priya's reminder and Ravi's escalation, each once."""
    from tests.smtp_server import smtp_server
    from tests.test_cli_notify import _use_smtp

    with smtp_server() as (server, port):
        _use_smtp(tmp_path, port)
        at(START + timedelta(minutes=52))
        first = run("due", "--remind", "--escalate")
        assert first.exit_code == 6, first.stderr  # the first response is breached by now
        again = run("due", "--remind", "--escalate")
        assert "reminded" not in again.stdout and "escalated" not in again.stdout
    got = sorted((str(r.message["X-Tracker-Kind"]), tuple(r.rcpt_tos)) for r in server.received)
    assert got == [("escalation", ("ravi.menon@example.com",)), ("reminder", ("priya.shah@example.com",))]


def test_an_escalation_to_someone_off_duty_goes_to_the_next_choice(run: Run, example: Path, at) -> None:  # type: ignore[no-untyped-def]
    """The example Sev 2 rule tells "operations manager or duty event manager or stand-by": at 22:00 on a Monday the
    operations manager (weekdays 08-18) is off, so the duty event manager on the Roster then is told, once; on
    Saturday, with no duty shift, the weekend stand-by is."""
    night = START.replace(hour=22)
    for opened_at, expected in ((night, "duty event manager"), (START + timedelta(days=5, hours=2), "stand-by")):
        at(opened_at)
        assert run("open", "--title", "Printers down", "--severity", "Sev 2", "--service", "VPN").exit_code == 0
        at(opened_at + timedelta(minutes=31))
        duty = json.loads(run("roster", "--json").stdout)["on_duty"]
        names = [shift["person"] for shift in duty if shift["role"] == expected]
        assert names and "Ravi Menon" not in names
        escalated = run("due", "--escalate")
        assert f"escalated to {names[0]}" in escalated.stdout, escalated.stdout
        assert "Ravi Menon" not in escalated.stdout and "nobody to tell" not in escalated.stderr
        assert "escalated" not in run("due", "--escalate").stdout  # once
        newest = max(str(e["id"]) for e in json.loads(run("list", "--open", "--json").stdout))
        assert run("resolve", newest, "--note", "fixed", "--force").exit_code == 0


def test_an_escalation_the_mail_server_refuses_is_not_reported_as_sent(run: Run, sev2: str, at, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The SMTP server refuses Ravi's address: `due --escalate` says the escalation was not sent (no "escalated
    to"), logs nothing for it, and sends it on the next run once the server takes it."""
    from tests.smtp_server import Recorder, smtp_server
    from tests.test_cli_notify import _use_smtp

    with smtp_server(Recorder(refuse={"ravi.menon@example.com"})) as (server, port):
        _use_smtp(tmp_path, port)
        at(START + timedelta(minutes=31))
        refused = run("due", "--escalate")
        assert "escalated to Ravi Menon" not in refused.stdout, refused.stdout
        assert "Ravi Menon" in refused.stderr and "not sent" in refused.stderr.casefold() or "refused" in refused.stderr
        server.refuse.clear()
        at(START + timedelta(minutes=33))
        again = run("due", "--escalate")
        assert "escalated to Ravi Menon" in again.stdout, again.stdout + again.stderr
    assert [str(r.message["X-Tracker-Kind"]) for r in server.received] == ["escalation"]


def test_watch_republishes_the_status_page_when_the_workbook_changes(
    run: Run, example: Path, at, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`watch --publish`: the first tick publishes; quiet ticks do not, until 15 min have passed (durations age);
    a change to the workbook (an event opened by someone else between ticks) is on the page by the next tick."""
    at(START)
    assert run("resolve", f"EVT-{START.year}-0001", "--note", "done", "--force").exit_code == 0
    page = tmp_path / "status" / "index.html"
    stopping = run("watch", "--until", "07:00", "--ticks", "1")  # 07:00 has passed at 08:00: tomorrow's
    assert "watching every 1 min until 24 Nov 2026 0700Z" in stopping.stdout, stopping.stdout
    quiet = run("watch", "--publish", "--every", "1m", "--ticks", "17")
    assert quiet.exit_code == 0, quiet.stdout
    published = [line for line in quiet.stdout.splitlines() if "publish: status page" in line]
    assert len(published) == 2, quiet.stdout  # 08:00 and 08:15
    assert "0815Z" in published[1] and page.exists()
    at(START + timedelta(hours=1))
    assert run("open", "--title", "Badge readers down", "--severity", "Sev 3", "--service", "VPN").exit_code == 0
    again = run("watch", "--publish", "--ticks", "1")
    assert "publish: status page for leadership" in again.stdout and "(1 open)" in again.stdout
    assert "Badge readers down" in page.read_text()


def test_an_escalation_is_not_news_and_does_not_move_the_cadence(run: Run, sev2: str, at, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The escalation's own timeline line (Escalated to ...) is a record, not news: `notify --open` after it sends
    nothing (the update stays overdue, its cadence unmoved), and the owner can still send `--no-change`."""
    assert run("notify", sev2).exit_code == 0
    before = len(_outbox(tmp_path))
    at(START + timedelta(minutes=95))  # the 09:00 update is 35 min late: 'update overdue' escalates (30 min)
    escalated = run("due", "--escalate")
    assert "escalated to" in escalated.stdout, escalated.stdout
    quiet = run("notify", "--open")
    assert "sent" not in quiet.stdout.replace("already sent", ""), quiet.stdout
    assert [m["X-Tracker-Kind"] for m in _outbox(tmp_path)[before:]] == ["escalation"] * (
        len(_outbox(tmp_path)) - before
    )
    assert "overdue" in run("list", "--open").stdout.casefold()
    nothing_new = run("notify", sev2, "--no-change")
    assert nothing_new.exit_code == 0, nothing_new.stderr
    assert "next update due 23 Nov 2026 1035Z" in nothing_new.stdout, nothing_new.stdout


def test_an_escalation_skips_a_choice_nobody_can_write_to(run: Run, sev2: str, at, example: Path) -> None:  # type: ignore[no-untyped-def]
    """Tell "event manager or duty event manager" with an event manager who has no email anywhere: the duty event
    manager is told instead of nobody."""
    assert run("update", sev2, "--note", "handover", "--set", "event_manager=Pat Doe").exit_code == 0
    _escalation_rows(example, ["Sev 2", "open longer than", 60, "event manager or duty event manager", None])
    at(START + timedelta(minutes=61))
    duty = [s for s in json.loads(run("roster", "--json").stdout)["on_duty"] if s["role"] == "duty event manager"]
    escalated = run("due", "--escalate")
    assert f"escalated to {duty[0]['person']}" in escalated.stdout, escalated.stdout + escalated.stderr
    assert "Pat Doe" not in escalated.stderr


def test_an_acknowledgement_typed_as_text_does_not_stop_the_escalation(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, example: Path
) -> None:
    """'23/11/2026 08:05' typed in another locale stays text in the Acknowledged cell: it is no acknowledgement, so
    the 'not acknowledged' step still fires (the SLA timer already said breached; the two agree)."""
    _set_cells(example, "Events", sev2, {"Acknowledged (UTC)": "23/11/2026 08:05"})
    at(START + timedelta(minutes=31))
    escalated = run("due", "--escalate")
    assert "escalated to Ravi Menon" in escalated.stdout, escalated.stdout + escalated.stderr


def test_list_shows_the_sla_most_at_stake(run: Run, sev2: str, at) -> None:  # type: ignore[no-untyped-def]
    """08:25, not acknowledged (target 30 min): the first response is at risk, in the SLA column and in --json."""
    at(START + timedelta(minutes=25))
    listed = run("list", "--open")
    assert re.search(rf"{sev2}.*first response at risk", listed.stdout), listed.stdout
    (event,) = [e for e in json.loads(run("list", "--json").stdout) if e["id"] == sev2]
    states = {t["name"]: t["state"] for t in event["slas"]}
    assert states == {"first response": "at risk", "restoration": "running"}


def test_a_rehearsal_sends_no_real_mail_unless_told_to(run: Run, sev2: str, at, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """TRACKER_NOW on a folder whose mail goes through SMTP: reminders and notify refuse in one line (nothing sent,
    nothing logged) and say how to rehearse; the outbox is fine; TRACKER_REHEARSAL_SEND=yes sends."""
    from tests.smtp_server import smtp_server
    from tests.test_cli_notify import _use_smtp

    with smtp_server() as (server, port):
        _use_smtp(tmp_path, port)
        at(START + timedelta(minutes=52))
        monkeypatch.delenv("TRACKER_REHEARSAL_SEND")
        for command in (["due", "--remind"], ["notify", sev2], ["watch", "--ticks", "1"]):
            refused = run(*command)
            assert "tracker sends no mail through smtp while rehearsing" in refused.stdout + refused.stderr, command
            assert "Traceback" not in refused.stderr
        assert server.received == []
        monkeypatch.setenv("TRACKER_REHEARSAL_SEND", "yes")
        assert "reminded Priya Shah" in run("due", "--remind").stdout
    assert len(server.received) == 1


def test_a_refused_time_suggests_force_only_where_the_command_has_it(run: Run, sev2: str, at) -> None:  # type: ignore[no-untyped-def]
    """`ack --at` in the future and `watch --until` in the past are refused without pointing at a --force they do not
    have; `open --detected` in the future points at its --force."""
    at(START + timedelta(minutes=10))
    for command in (["ack", sev2, "--at", "2026-11-23 12:00"], ["watch", "--until", "2026-11-23 07:00"]):
        refused = run(*command)
        assert refused.exit_code == 2 and "--force" not in refused.stderr, refused.stderr
    opened = run("open", "--title", "x", "--severity", "Sev 3", "--service", "VPN", "--detected", "2026-11-23 12:00")
    assert opened.exit_code == 2 and "add --force if that is really meant" in opened.stderr


def test_validate_names_a_tell_nobody_can_be_found_for(run: Run, example: Path) -> None:
    """A typo in Tell ('opperations manager', an unknown audience) is an error naming the cell and what is allowed;
    the example's own rules ('A or B' chains of real roles) are fine."""
    assert run("validate").exit_code == 0
    _escalation_rows(example, ["Sev 2", "update overdue", 10, "opperations manager or stand-by", None])
    _escalation_rows(example, ["Sev 3", "update overdue", 10, "audience:bosses", None])
    checked = run("validate")
    assert checked.exit_code == 1
    assert re.search(r"Escalations![A-Z]+\d+ \(Tell\): 'opperations manager' is nobody tracker knows", checked.stdout)
    assert "'audience:bosses' is no audience of the Distribution sheet" in checked.stdout
    assert "a Roster role (communication lead, duty event manager, operations manager, stand-by)" in checked.stdout


def test_a_remind_before_validate_refuses_falls_back_to_the_default_lead(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, example: Path
) -> None:
    """Sev 2's Remind Before typed as -5 (validate names it): the reminder still goes, [clock]'s 10 min before."""
    _set_cells(example, "Severities", "Sev 2", {"Remind Before (min)": -5})
    assert run("validate").exit_code == 1
    at(START + timedelta(minutes=51))
    assert "reminded Priya Shah" in run("due", "--remind").stdout


def test_due_says_who_owes_each_sla(run: Run, sev2: str, at) -> None:  # type: ignore[no-untyped-def]
    """08:25: the first response at risk is owed by the event manager (the duty event manager who got the event);
    the update by the communication lead."""
    at(START + timedelta(minutes=25))
    items = json.loads(run("due", "--json").stdout)["items"]
    owed = {i["kind"]: i["responsible"] for i in items if i["event_id"] == sev2}
    manager = json.loads(run("show", sev2, "--json").stdout)["event"]["event_manager"]
    assert owed == {"update": "Priya Shah", "first response": manager} and manager


def test_validate_notes_a_cadence_a_typed_severity_left_behind(run: Run, sev2: str, at, example: Path) -> None:  # type: ignore[no-untyped-def]
    """Sev 2 (every 60 min) raised to Sev 1 (every 30 min) by typing in the cell: validate notes that the next
    update is 60 min after the last one and how to set it; after an update the note is gone."""
    _set_cells(example, "Events", sev2, {"Severity": "Sev 1"})
    noted = run("validate")
    assert noted.exit_code == 0
    assert (
        f"{sev2} (Sev 1) is due an update every 30 min, but this is 60 min after its last update or notification"
        in noted.stdout
    )
    at(START + timedelta(minutes=5))
    assert run("update", sev2, "--note", "Raised to Sev 1").exit_code == 0
    assert "is due an update every" not in run("validate").stdout


@pytest.mark.parametrize("column", ["Remind Before (min)", "First Response (min)", "Restoration (min)"])
def test_a_huge_target_typed_in_excel_is_no_crash(run: Run, sev2: str, at, example: Path, column: str) -> None:  # type: ignore[no-untyped-def]
    """1,440,000,000,000 minutes (found by the fuzz suite: Python's timedelta cannot hold it) in a Severities
    column: validate names the cell; list, due and show go on without that timer or lead time."""
    _set_cells(example, "Severities", "Sev 2", {column: 1_440_000_000_000})
    assert run("validate").exit_code == 1
    at(START + timedelta(minutes=20))
    for command in (["list", "--open"], ["due"], ["show", sev2], ["due", "--remind", "--escalate"]):
        result = run(*command)
        assert result.exit_code in (0, 1) and "unexpectedly" not in result.stderr, (command, result.stderr)


def test_validate_refuses_times_in_an_order_that_cannot_be(run: Run, sev2: str, at, example: Path) -> None:  # type: ignore[no-untyped-def]
    """Resolved before Detected, or Acknowledged before Reported, typed in Excel: errors naming the cell."""
    at(START + timedelta(minutes=20))
    assert run("resolve", sev2, "--note", "done", "--public-note", "ok").exit_code == 0
    _set_cells(
        example,
        "Events",
        sev2,
        {"Resolved (UTC)": datetime(2026, 11, 23, 7, 0), "Acknowledged (UTC)": datetime(2026, 11, 23, 7, 30)},
    )
    checked = run("validate")
    assert checked.exit_code == 1
    assert f"{sev2}: Resolved (UTC) is before Detected (UTC) (2026-11-23 08:00Z)" in checked.stdout
    assert f"{sev2}: Acknowledged (UTC) is before Reported to EM (UTC) (2026-11-23 08:00Z)" in checked.stdout


def test_resolve_at_an_earlier_time_says_that_time_and_acknowledges_then(run: Run, sev2: str, at) -> None:  # type: ignore[no-untyped-def]
    """Recorded at 10:00 that service came back at 08:40, never acknowledged: resolve prints 08:40, and the first
    response stopped at 08:40 (not at 10:00, when it was typed)."""
    at(START + timedelta(hours=2))
    resolved = run("resolve", sev2, "--note", "done", "--public-note", "ok", "--at", "2026-11-23 08:40")
    assert resolved.exit_code == 0 and "Resolved at 23 Nov 2026 0840Z" in resolved.stdout, resolved.stdout
    event = json.loads(run("show", sev2, "--json").stdout)["event"]
    assert event["acknowledged_at"] == "2026-11-23T08:40:00Z"


def test_a_full_disk_while_reminding_says_what_went_and_never_resends(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills as the reminder goes out: reminders stop as notify does (exit 130, one line saying what
    went and what did not), not with "nothing was written" after a message went; the reminder is never sent
    twice (issue 18: reminders and escalations had their own copy of the send, without this case)."""
    import errno

    from tracker.store.journal import Journal

    original = Journal.add

    def full(self, edits, reason, path=None):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    at(START + timedelta(minutes=52))
    monkeypatch.setattr(Journal, "add", full)
    stopped = run("due", "--remind")
    assert stopped.exit_code == 130 and "Traceback" not in stopped.stderr, stopped.stderr
    assert "cannot record what was sent" in stopped.stderr and "Sent: Priya Shah" in stopped.stderr
    assert "nothing was written" not in stopped.stderr
    monkeypatch.setattr(Journal, "add", original)
    at(START + timedelta(minutes=53))
    again = run("due", "--remind")
    assert "reminded" not in again.stdout, again.stdout
    assert [str(m["X-Tracker-Kind"]) for m in _outbox(tmp_path)] == ["reminder"]


def test_a_passed_eta_is_marked_everywhere_and_a_new_one_asked_for_once(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, tmp_path: Path
) -> None:
    """Issue 21 point 3: an ETA of 08:30 still read "Expected restoration 0830Z" at 08:45 in the emails and on the
    status page, and nobody was asked for a new one. Once passed it is marked in each audience's email (text and
    HTML), on the status page, in `list` and `show`; `due` lists the new ETA owed and `due --remind` asks once."""
    at(START + timedelta(minutes=10))
    given = run("update", sev2, "--note", "Fix under way", "--public-note", "A fix is under way", "--eta", "+20m")
    assert given.exit_code == 0, given.stderr
    at(START + timedelta(minutes=45))
    assert run("update", sev2, "--note", "Still testing", "--public-note", "Still testing the fix").exit_code == 0
    assert run("notify", sev2).exit_code == 0
    mails = {str(m["X-Tracker-Audience"]): m for m in _outbox(tmp_path)}
    assert "technical" in mails
    for audience, message in mails.items():
        words = "(this time has passed; we will give a new one)" if audience == "customer" else "0830Z (passed, new ETA"
        for kind in ("plain", "html"):
            assert words in message.get_body((kind,)).get_content(), (audience, kind)  # type: ignore[union-attr]
    assert "(ETA passed)" in run("list", "--open").stdout
    assert "0830Z (passed, new ETA not yet given)" in run("show", sev2).stdout
    assert run("publish").exit_code == 0
    assert "passed, new ETA not yet given" in (tmp_path / "status" / "index.html").read_text()
    owed = [i for i in json.loads(run("due", "--json").stdout)["items"] if i["event_id"] == sev2 and i["kind"] == "eta"]
    assert [(i["state"], i["responsible"]) for i in owed] == [("passed", "Priya Shah")]
    asked = run("due", "--remind")
    assert "[NEW ETA]" in asked.stdout and "--eta" in _outbox(tmp_path)[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "[NEW ETA]" not in run("due", "--remind").stdout  # once
    assert run("update", sev2, "--note", "New estimate", "--eta", "+1h").exit_code == 0
    assert (
        "ETA passed" not in run("list", "--open").stdout
        and "passed" not in run("show", sev2).stdout.split("Timeline")[0]
    )


def test_a_reported_cell_that_is_no_time_starts_the_first_response_at_detection(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, example: Path, at
) -> None:
    """Someone types "this morning" over Reported (validate names the cell): the first response still runs, from
    when the event was detected, as the report's time to acknowledge counts it, so `due` and `list` keep warning,
    the 'not acknowledged' escalation fires and an acknowledgement before detection is refused (before, the timer
    and the escalation silently never started, and any acknowledgement time was taken)."""
    _set_cells(example, "Events", sev2, {"Reported to EM (UTC)": "this morning"})
    at(START + timedelta(minutes=25))
    (event,) = [e for e in json.loads(run("list", "--json").stdout) if e["id"] == sev2]
    assert {t["name"]: t["state"] for t in event["slas"]} == {"first response": "at risk", "restoration": "running"}
    at(START + timedelta(minutes=40))
    assert "first response  breached  breached by 10 min" in run("due").stdout
    escalated = run("due", "--escalate")
    assert "escalated to Ravi Menon" in escalated.stdout, escalated.stdout + escalated.stderr
    early = run("ack", sev2, "--at", (START - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%MZ"))
    assert early.exit_code == 2 and "before the event was reported" in early.stderr, early.stdout + early.stderr


def test_text_in_resolved_of_an_open_event_leaves_its_eta_standing_everywhere(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, example: Path, tmp_path: Path
) -> None:
    """A still-open event with "23/11/2026 09:10" typed as text in Resolved (validate names it) is not restored: its
    passed ETA is marked in `list` and `show` and asked for by `due`, as on the status page (before, they hid it
    while the page showed it unmarked; the emails wait, as notify refuses while validate names a cell)."""
    at(START + timedelta(minutes=10))
    assert run("update", sev2, "--note", "Fix under way", "--eta", "+20m").exit_code == 0
    _set_cells(example, "Events", sev2, {"Resolved (UTC)": "23/11/2026 09:10"})
    at(START + timedelta(minutes=45))
    assert "(ETA passed)" in run("list", "--open").stdout
    assert "0830Z (passed, new ETA not yet given)" in run("show", sev2).stdout
    owed = [i for i in json.loads(run("due", "--json").stdout)["items"] if i["event_id"] == sev2 and i["kind"] == "eta"]
    assert [i["state"] for i in owed] == ["passed"]
    assert run("publish").exit_code == 0
    assert "passed, new ETA not yet given" in (tmp_path / "status" / "index.html").read_text()


def test_a_resolved_event_whose_resolved_cell_holds_text_has_no_running_timer(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, example: Path
) -> None:
    """A Resolved event whose Resolved cell holds text (validate names it): nothing says its restoration still runs
    or is breached a day later; the review says it is unknown, and the report says why it leaves it out (before,
    `show`, `list` and the review counted the restoration running, breached, and the report called the cell empty)."""
    at(START + timedelta(minutes=5))
    assert run("ack", sev2).exit_code == 0
    assert run("resolve", sev2, "--note", "Fixed").exit_code == 0
    _set_cells(example, "Events", sev2, {"Resolved (UTC)": "23/11/2026 09:10"})
    at(START + timedelta(days=1))
    shown = json.loads(run("show", sev2, "--json").stdout)
    assert [t["name"] for t in shown["sla"]] == ["first response"]  # stopped by the acknowledgement: known
    (listed,) = [e for e in json.loads(run("list", "--json").stdout) if e["id"] == sev2]
    assert "restoration" not in {t["name"] for t in listed["slas"]}
    assert "breached" not in run("show", sev2).stdout
    review = run("review", sev2)
    assert review.exit_code == 0, review.stderr
    text = review.stdout + "".join(p.read_text() for p in example.parent.glob("**/*.md"))
    assert "Restoration: unknown, the Resolved cell holds text, not a time ('23/11/2026 09:10')" in text, text
    report = run("report", "--since", START.strftime("%Y-%m-%d"), "--json")
    assert "so when it was restored is unknown" in report.stderr and "empty, but" not in report.stderr, report.stderr


def test_an_update_whose_at_holds_text_is_placed_where_it_was_typed_by_every_view(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, example: Path, tmp_path: Path
) -> None:
    """An Updates row typed below the 08:10 update, its At "23/11/2026 08:20" text (validate names it), gives a new
    ETA of 09:30: every view places it after the 08:10 one, so at 08:45 the ETA standing is 09:30 and has not passed
    (before, `list` and `due` placed it first and said the 08:30 ETA had passed and asked for a new one, while
    `show` and the status page gave 09:30)."""
    at(START + timedelta(minutes=10))
    assert run("update", sev2, "--note", "Fix under way", "--eta", "+20m").exit_code == 0
    book = openpyxl.load_workbook(example)
    updates = book["Updates"]
    header = [c.value for c in updates[1]]
    typed = {"Event ID": sev2, "At (UTC)": "23/11/2026 08:20", "Author": "Priya Shah", "Status": "Identified"}
    typed |= {
        "Note": "Cause found",
        "ETA (UTC)": (START + timedelta(minutes=90)).replace(tzinfo=None),
        "Internal Only": "No",
    }
    typed |= {"Applied": "written by tracker"}
    updates.append([typed.get(name) for name in header])
    updates.tables["UpdatesTable"].ref = f"A1:{updates.cell(1, len(header)).column_letter}{updates.max_row}"
    book.save(example)
    at(START + timedelta(minutes=45))
    assert "ETA passed" not in run("list", "--open").stdout
    shown = run("show", sev2).stdout
    assert re.search(r"ETA +23 Nov 2026 0930Z\n", shown), shown
    owed = [i for i in json.loads(run("due", "--json").stdout)["items"] if i["event_id"] == sev2 and i["kind"] == "eta"]
    assert owed == []
    timeline = [e["note"] for e in json.loads(run("show", sev2, "--json").stdout)["timeline"]]
    assert timeline.index("Cause found") == timeline.index("Fix under way") + 1
    assert run("publish").exit_code == 0
    page = (tmp_path / "status" / "index.html").read_text()
    assert "0930Z" in page and "passed, new ETA" not in page
    handover = run("handover")
    assert handover.exit_code == 0 and "latest update - (Priya Shah): Cause found" in handover.stdout, handover.stdout


@pytest.mark.parametrize(("header", "value"), [("Detected (UTC)", "this morning"), ("Impact", "#N/A")])
def test_a_first_notice_notify_would_refuse_is_listed_as_blocked(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, example: Path, header: str, value: str
) -> None:
    """A new event's Detected typed as text, or an Excel error in its Impact (validate names both): `notify` refuses
    its first notice, and `due` now says so, as it does for an empty cell: "first notice blocked", exit code 4, with
    the command that fixes it (before, `due` listed nothing and the notice silently waited)."""
    if value == "#N/A":  # a broken lookup, as Excel saves it: the formula and its error
        from openpyxl.utils import get_column_letter

        from tests.test_hostile_input import _error_cell

        events = openpyxl.load_workbook(example)["Events"]
        row = next(r for r in events.iter_rows(min_row=2) if r[0].value == sev2)[0].row
        letter = get_column_letter([c.value for c in events[1]].index(header) + 1)
        _error_cell(example, "xl/worksheets/sheet1.xml", f"{letter}{row}", value)
    else:
        _set_cells(example, "Events", sev2, {header: value})
    at(START + timedelta(minutes=5))
    refused = run("notify", sev2)
    assert refused.exit_code != 0 and "nothing was sent" in refused.stderr, refused.stdout + refused.stderr
    due = run("due")
    assert due.exit_code == 4, due.stdout + due.stderr
    assert re.search(rf"{sev2}.*first notice blocked: {re.escape(header)}", due.stdout), due.stdout


def test_an_update_whose_internal_only_holds_another_word_is_kept_from_outside_readers(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, example: Path, tmp_path: Path
) -> None:
    """Internal Only typed "Y" (validate names it) on an update: `notify` refuses, and the status pages keep the note
    from the audiences that may not read internal updates, as for "Yes" (before, the customer's page and the
    leadership page showed it: only the exact "Yes" hid a note); `show` marks it [internal]."""
    at(START + timedelta(minutes=10))
    assert run("update", sev2, "--note", "SECRET vendor blamed", "--public-note", "Work continues").exit_code == 0
    book = openpyxl.load_workbook(example)
    updates = book["Updates"]
    header = [c.value for c in updates[1]]
    row = next(r for r in updates.iter_rows(min_row=2) if r[header.index("Note")].value == "SECRET vendor blamed")
    row[header.index("Internal Only")].value = "Y"
    book.save(example)
    assert "nothing was sent" in run("notify", sev2).stderr
    for audience in ("leadership", "customer"):
        page = tmp_path / f"{audience}.html"
        assert run("publish", "--audience", audience, "--out", str(page)).exit_code == 0
        assert "SECRET" not in page.read_text(), audience
    assert re.search(r"SECRET vendor blamed.*\[internal\]", run("show", sev2).stdout)


def test_text_in_next_update_due_is_no_promise_to_the_customer(  # type: ignore[no-untyped-def]
    run: Run, sev2: str, at, example: Path, tmp_path: Path
) -> None:
    """ "after lunch" typed in Next Update Due (validate names it) is on the team's status page as typed, and not on
    the customer's, which shows only a time still to come (before, the customer read "Next update after lunch")."""
    book = openpyxl.load_workbook(example)
    severities = book["Severities"]
    header = [c.value for c in severities[1]]
    for row in severities.iter_rows(min_row=2):
        if row[0].value == "Sev 2":
            row[header.index("Audiences Notified")].value = "leadership, technical, customer"
    book.save(example)
    _set_cells(example, "Events", sev2, {"Next Update Due (UTC)": "after lunch"})
    at(START + timedelta(minutes=5))
    for audience, shown in (("leadership", True), ("customer", False)):
        page = tmp_path / f"{audience}.html"
        assert run("publish", "--audience", audience, "--out", str(page)).exit_code == 0
        text = page.read_text()
        assert sev2 in text and ("after lunch" in text) is shown, audience

"""Roles follow the Roster and shifts hand over (issue 22, points 1 and 2): on a rehearsed Friday with two shift
changes and a weekend, every reminder and escalation goes to whoever holds the role at its moment, each shift change
sends one handover to the outgoing and incoming people and records it on the timeline, and a pinned role stays put.
Rehearsal clock, the outbox, no sleeps."""

from __future__ import annotations

import email
import email.message
import email.policy
import json
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run

pytestmark = pytest.mark.dateshift

ADDRESS = {
    "alex": "alex.morgan@example.com",
    "sam": "sam.rivera@example.com",
    "jordan": "jordan.lee@example.com",
    "casey": "casey.nguyen@example.com",
    "priya": "priya.shah@example.com",
}


def friday(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    """The first Friday after the suite's day, at this time (UTC, the example's display timezone), `days` later."""
    ahead = (4 - suite_clock.NOW.weekday()) % 7 or 7
    day = suite_clock.NOW.date() + timedelta(days=ahead + days)
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _mails(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((folder / "outbox").glob("*.eml"))  # named by the time each was written, to the microsecond
    ]


class Day:
    """The rehearsed day: the clock, the CLI, and the mail each moment sent."""

    def __init__(self, run: Run, at: Callable[[datetime], None], folder: Path) -> None:
        self.run, self.at, self.folder = run, at, folder
        self.seen = 0

    def tick(self, when: datetime) -> list[tuple[str, str, set[str]]]:
        """`due --remind --escalate`, then a `watch` tick at the same moment (which must send nothing more): each new
        message as (kind, subject, the people it is to, by first name)."""
        self.at(when)
        self.run("due", "--remind", "--escalate")
        assert self.run("watch", "--ticks", "1").exit_code == 0
        mails = _mails(self.folder)
        new, self.seen = mails[self.seen :], len(mails)
        names = {v: k for k, v in ADDRESS.items()}
        return [
            (
                str(m["X-Tracker-Kind"]),
                str(m["Subject"]),
                {names.get(a.addr_spec, a.addr_spec) for a in m["To"].addresses},
            )
            for m in new
        ]


def _opened(run: Run, *args: str) -> str:
    result = run("open", "--severity", *args, "--service", "VPN", "--impact", "Remote staff cannot connect")
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def day(run: Run, example: Path, at: Callable[[datetime], None], tmp_path: Path) -> tuple[Day, str, str]:
    """Friday 14:00: the example event resolved; A (Sev 2, acknowledged) opened by Alex on duty, its communication
    lead left to the Roster; B (Sev 3) pinned to Alex as its event manager. Returns the day, A and B."""
    at(friday(13))
    assert run("resolve", suite_clock.event_id(1), "--note", "Certificate renewed").exit_code == 0
    at(friday(14))
    first = _opened(run, "Sev 2", "--title", "VPN drops every few minutes")
    run("ack", first)
    second = _opened(run, "Sev 3", "--title", "Print queue stuck at HQ")
    run("ack", second)
    pinned = run("update", second, "--note", "Alex keeps this one", "--set", "event_manager=Alex Morgan", "--pin")
    assert pinned.exit_code == 0, pinned.stderr
    days = Day(run, at, tmp_path)
    days.tick(friday(14))
    return days, first, second


def _timeline(run: Run, key: str) -> list[str]:
    shown = json.loads(run("show", key, "--json").stdout)
    return [u["note"] for u in shown["timeline"] if u.get("author") == "tracker" and u["note"].startswith("Handover")]


def test_reminders_and_escalations_go_to_whoever_is_on_duty_then(day: tuple[Day, str, str], run: Run) -> None:
    """A's update reminders go to Priya (communication lead, 08:00-17:00), then, once her shift ends, to the event
    manager on duty (Sam, then Casey at the weekend); its escalation to "event manager" reaches Sam at 15:35, not
    Alex whose shift ended at 15:00; each shift change sends one handover to the outgoing and incoming people."""
    days, a, b = day
    before = days.tick(friday(14, 55))
    assert [(s.split(":")[0], who) for _k, s, who in before] == [(f"[REMINDER] {a}", {"priya"})]
    got = {}
    got["15:05"] = days.tick(friday(15, 5))
    assert [(k, who) for k, _s, who in got["15:05"]] == [("reminder", {"alex", "sam"}), ("reminder", {"priya"})]
    assert got["15:05"][0][1].startswith("[HANDOVER] event manager") and "[OVERDUE] " + a in got["15:05"][1][1]
    assert [(k, who) for k, _s, who in days.tick(friday(15, 35))] == [("escalation", {"sam"})]
    days.at(friday(16))
    assert run("update", a, "--note", "Tunnel keepalive changed").exit_code == 0
    assert [(s.split(":")[0], who) for _k, s, who in days.tick(friday(16, 55))] == [(f"[REMINDER] {a}", {"priya"})]
    late = days.tick(friday(17, 5))
    assert [(s.split(":")[0], who) for _k, s, who in late] == [
        ("[HANDOVER] communication lead at " + friday(17).strftime("%d %b %Y 1700Z"), {"priya"}),
        (f"[OVERDUE] {a}", {"sam"}),
    ]
    assert [(k, who) for k, _s, who in days.tick(friday(17, 35))] == [("escalation", {"sam"})]
    night = days.tick(friday(23, 5))
    assert [(s.split(":")[0], who) for _k, s, who in night] == [
        ("[HANDOVER] event manager at " + friday(23).strftime("%d %b %Y 2300Z"), {"sam", "jordan"}),
        (f"[OVERDUE] {b}", {"alex"}),  # B's event manager is pinned: Alex, off duty, still owes it
    ]
    days.at(friday(6, 30, days=1))
    assert run("update", a, "--note", "Monitoring over the weekend").exit_code == 0
    weekend = days.tick(friday(7, 5, days=1))
    assert [(k, who) for k, _s, who in weekend] == [("reminder", {"jordan", "casey"})]
    assert weekend[0][1].startswith("[HANDOVER] event manager")
    assert [(s.split(":")[0], who) for _k, s, who in days.tick(friday(7, 25, days=1))] == [
        (f"[REMINDER] {a}", {"casey"})
    ]
    assert [(s.split(":")[0], who) for _k, s, who in days.tick(friday(7, 35, days=1))] == [
        (f"[OVERDUE] {a}", {"casey"})
    ]
    assert [(k, who) for k, _s, who in days.tick(friday(8, 5, days=1))] == [("escalation", {"casey"})]


def _handovers(folder: Path) -> list[tuple[str, list[str]]]:
    """The Notifications rows of handovers: (State, recipients' addresses)."""
    sheet = openpyxl.load_workbook(folder / "events.xlsx")["Notifications"]
    headers = [c.value for c in sheet[1]]
    rows = [dict(zip(headers, (c.value for c in r), strict=False)) for r in sheet.iter_rows(min_row=2)]
    return [(str(r["State"]), []) for r in rows if str(r["State"] or "").startswith("handover")]


def test_each_shift_change_hands_over_once_and_the_timeline_records_it(
    day: tuple[Day, str, str], run: Run, tmp_path: Path
) -> None:
    """Through 15:00 (Alex -> Sam), 17:00 (Priya's shift ends), 23:00 (Sam -> Jordan) and the weekend (Jordan ->
    Casey), ticks several times each: one handover per shift change, logged once (kind reminder, State naming the
    change); A's timeline records each handover (Author tracker, internal) and its Event Manager cell follows; B,
    pinned to Alex, keeps Alex and records no event manager handover."""
    days, a, b = day
    for when in (friday(15, 5), friday(15, 6), friday(17, 5), friday(17, 50), friday(23, 5), friday(7, 5, days=1)):
        days.tick(when)
    days.tick(friday(7, 6, days=1))
    states = [state for state, _ in _handovers(tmp_path)]
    assert states == [
        f"handover event manager {friday(15):%Y-%m-%dT%H:%M:%SZ}",
        f"handover communication lead {friday(17):%Y-%m-%dT%H:%M:%SZ}",
        f"handover event manager {friday(23):%Y-%m-%dT%H:%M:%SZ}",
        f"handover event manager {friday(7, days=1):%Y-%m-%dT%H:%M:%SZ}",
    ]
    handovers = [m for m in _mails(tmp_path) if str(m["Subject"]).startswith("[HANDOVER]")]
    assert len(handovers) == 4
    body = handovers[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Alex Morgan -> Sam Rivera" in body and "Open events (2):" in body
    assert f"{a}  Sev 2  Investigating  VPN drops every few minutes" in body
    assert "event manager Sam Rivera, communication lead Priya Shah" in body  # A follows the Roster
    assert "event manager Alex Morgan, communication lead Priya Shah" in body  # B is pinned to Alex
    assert "latest update" in body and "Alex keeps this one" in body
    assert f"next: update overdue {friday(15):%d %b %Y 1500Z}, owed by Priya Shah" in body
    assert _timeline(run, a) == [
        f"Handover: event manager Alex Morgan -> Sam Rivera (Roster shift change at {friday(15):%d %b %Y 1500Z})",
        "Handover: communication lead Priya Shah -> nobody on the Roster (the event manager owes the updates) "
        f"(Roster shift change at {friday(17):%d %b %Y 1700Z})",
        f"Handover: event manager Sam Rivera -> Jordan Lee (Roster shift change at {friday(23):%d %b %Y 2300Z})",
        "Handover: event manager Jordan Lee -> Casey Nguyen (Roster shift change at "
        f"{friday(7, days=1):%d %b %Y 0700Z})",
    ]
    assert [note for note in _timeline(run, b) if note.startswith("Handover: event manager")] == []
    managers = {e["id"]: e["event_manager"] for e in json.loads(run("list", "--json").stdout)}
    assert (managers[a], managers[b]) == ("Casey Nguyen", "Alex Morgan")
    shown = json.loads(run("show", a, "--json").stdout)["timeline"]
    assert all(u["internal"] for u in shown if u["note"].startswith("Handover"))
    assert run("validate").exit_code == 0  # a handover's log row names no event, and that is valid


def test_handover_summary_at_any_time(run: Run, example: Path, at: Callable[[datetime], None]) -> None:
    """`tracker handover` lists the open events with their latest update and what is due next, SLA timers at risk,
    unacknowledged events, open review actions and reports typed in Excel waiting to be taken in; `--json` the
    same in its documented form; `--send` mails it to whoever is on duty, once."""
    from tests.typing_rows import type_rows

    at(friday(9))
    key = _opened(run, "Sev 2", "--title", "VPN drops every few minutes")
    run("action", "add", key, "--action", "Add a VPN capacity alert", "--owner", "Dana Whitfield", "--due", "+7d")
    type_rows(example, "openpyxl", {"Events": [{"Title": "Wi-Fi down in building C"}]})
    at(friday(9, 25))
    shown = run("handover")
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[1] == "On duty now: event manager Alex Morgan, communication lead Priya Shah"
    assert f"  {key}  Sev 2  Investigating  VPN drops every few minutes" in lines
    assert f"  {key}  first response at risk ({friday(9, 30):%d %b %Y 0930Z})" in lines
    assert f"  {key}  (tracker ack {key})" in lines
    assert any("Add a VPN capacity alert (Dana Whitfield" in line for line in lines)
    assert any(line.endswith(": Wi-Fi down in building C") for line in lines)
    data = json.loads(run("handover", "--json").stdout)
    assert sorted(data) == [
        "at",
        "on_duty",
        "open_actions",
        "open_events",
        "pending_intake",
        "shift_change",
        "sla_at_risk",
        "unacknowledged",
    ]
    assert [e["id"] for e in data["open_events"]] == [suite_clock.event_id(1), key]
    assert data["unacknowledged"] == [key] and data["pending_intake"][0]["title"] == "Wi-Fi down in building C"
    risk = {"event_id": key, "timer": "first response", "state": "at risk", "at": f"{friday(9, 30):%Y-%m-%dT%H:%M:%SZ}"}
    assert risk in data["sla_at_risk"]
    sent = run("handover", "--send")
    assert "sent the handover to Alex Morgan, Priya Shah" in sent.stdout
    assert "sent the handover" not in run("handover", "--send").stdout  # once a minute
    (mail,) = [m for m in _mails(example.parent) if str(m["Subject"]).startswith("[HANDOVER]")]
    assert {a.addr_spec for a in mail["To"].addresses} == {ADDRESS["alex"], ADDRESS["priya"]}


def test_pin_needs_a_role_and_the_column(run: Run, example: Path, event_id: str) -> None:
    """`--pin` without a role set is refused in one line; so is a pin on a workbook made before Pinned Roles
    existed, which says how to add the column; a role typed in Pinned Roles pins it as --pin does."""
    refused = run("update", event_id, "--note", "x", "--pin")
    assert refused.exit_code == 2 and refused.stderr.strip().splitlines()[-1].startswith("error: --pin keeps")
    book = openpyxl.load_workbook(example)
    sheet = book["Events"]
    headers = [c.value for c in sheet[1]]
    sheet.cell(1, headers.index("Pinned Roles") + 1).value = None
    table = sheet.tables["EventsTable"]
    table.ref = f"A1:{openpyxl.utils.get_column_letter(len(headers) - 1)}{sheet.max_row}"
    book.save(example)
    old = run("update", event_id, "--note", "x", "--set", "event_manager=Alex Morgan", "--pin")
    assert old.exit_code == 1
    assert "Events has no Pinned Roles column (added in tracker 0.4)" in old.stderr and "Traceback" not in old.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["upload", "workbook-api"])
def test_two_machines_hand_over_once_from_one_sharepoint_workbook(
    run: Run, example: Path, at: Callable[[datetime], None], tmp_path: Path, mode: str
) -> None:
    """Two machines' `due --remind` at 15:05 on one SharePoint workbook, their first writes released together: the
    15:00 handover reaches the SMTP server once, has one log row (the losing claim withdrawn, never sent), and the
    event's timeline records the handover once."""
    from tests.conftest import process_env, start_process
    from tests.sharepoint_standin import StandIn
    from tests.smtp_server import smtp_server
    from tests.test_cli_notify import _use_smtp
    from tests.test_notify_once import _sheet_rows
    from tests.test_store_sharepoint import PATH, TOKENS, _config

    at(friday(13))
    assert run("resolve", suite_clock.event_id(1), "--note", "Certificate renewed").exit_code == 0
    at(friday(14))
    key = _opened(run, "Sev 4", "--title", "A dashboard shows stale figures")
    run("ack", key)
    with StandIn() as standin, smtp_server() as (server, port):
        standin.put_file(PATH, example.read_bytes())
        machines = []
        for name in ("machine-a", "machine-b"):
            folder = tmp_path / name
            (folder / "tmp").mkdir(parents=True)
            (folder / "tracker.toml").write_text(_config(standin, mode))
            _use_smtp(folder, port)
            machines.append(folder)
        standin.hold_writes(2)  # both read the same version, then claim at the same moment
        env = {"TRACKER_NOW": friday(15, 5).isoformat(), "TRACKER_REHEARSAL_SEND": "yes", **TOKENS}
        procs = [
            start_process(
                "due",
                "--remind",
                cwd=folder,
                env=process_env(**env, TMPDIR=str(folder / "tmp"), TRACKER_STATE_DIR=str(folder / "state")),
            )
            for folder in machines
        ]
        outputs = [proc.communicate(timeout=180) for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], outputs
        assert standin.errors == []
        book = standin.live_copy(PATH)
    received = [m.message for m in server.received]
    assert [str(m["Subject"]).split(":")[0] for m in received] == [
        f"[HANDOVER] event manager at {friday(15):%d %b %Y 1500Z}"
    ]
    rows = _sheet_rows(book, "Notifications")
    logged = [
        r
        for r in rows
        if str(r["State"] or "").startswith("handover") and not str(r["Transport"]).startswith("withdrawn")
    ]
    assert [str(r["Message-ID"]) for r in logged] == [str(received[0]["Message-ID"])]
    lines = [r for r in _sheet_rows(book, "Updates") if str(r["Note"] or "").startswith("Handover")]
    assert [(r["Event ID"], r["Author"]) for r in lines] == [(key, "tracker")]


def _type_cells(path: Path, key: str, values: dict[str, object]) -> None:
    """Type `values` (by header) into the Events row of `key`, as someone would in Excel."""
    book = openpyxl.load_workbook(path)
    sheet = book["Events"]
    headers = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == key)
    for header, value in values.items():
        row[headers.index(header)].value = value
    book.save(path)


def test_a_role_typed_in_excel_is_pinned(run: Run, example: Path, at: Callable[[datetime], None]) -> None:
    """A name the Roster never gives the role, typed in the Event Manager cell, stays through the 15:00 shift change
    and owes the updates after Priya's shift; so does a Roster name once `event manager` is typed in Pinned Roles."""
    at(friday(13))
    assert run("resolve", suite_clock.event_id(1), "--note", "Certificate renewed").exit_code == 0
    at(friday(14))
    typed = _opened(run, "Sev 3", "--title", "Wiki slow")
    pinned = _opened(run, "Sev 3", "--title", "Badge readers offline")
    following = _opened(run, "Sev 3", "--title", "Scanner offline")  # Alex on duty: it follows the Roster
    for key in (typed, pinned, following):
        run("ack", key)
    _type_cells(example, typed, {"Event Manager": "Dana Whitfield"})
    _type_cells(example, pinned, {"Event Manager": "Alex Morgan", "Pinned Roles": "event manager"})
    for when in (friday(15, 5), friday(17, 5)):
        at(when)
        assert run("due", "--remind").exit_code == 0
    owed = {i["event_id"]: i["responsible"] for i in json.loads(run("due", "--json").stdout)["items"]}
    assert [owed[typed], owed[pinned], owed[following]] == ["Dana Whitfield", "Alex Morgan", "Sam Rivera"]
    managers = {e["id"]: e["event_manager"] for e in json.loads(run("list", "--json").stdout)}
    assert [managers[typed], managers[pinned], managers[following]] == ["Dana Whitfield", "Alex Morgan", "Sam Rivera"]
    assert [n for n in _timeline(run, typed) + _timeline(run, pinned) if n.startswith("Handover: event")] == []
    assert [n for n in _timeline(run, following) if n.startswith("Handover: event")] != []


def test_the_handover_reaches_the_teams_channel_once(
    run: Run, example: Path, at: Callable[[datetime], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With [teams] reminders = true the 15:00 handover is posted once as a card naming the outgoing and incoming
    people, whatever the number of ticks."""
    from tests.test_teams import webhook

    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\nreminders = true\n')
    at(friday(13))
    assert run("resolve", suite_clock.event_id(1), "--note", "Certificate renewed").exit_code == 0
    at(friday(14))
    _opened(run, "Sev 4", "--title", "A dashboard shows stale figures")
    with webhook(throttle_first=0) as flow:
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", flow.url)
        for minute in (1, 2, 3):
            at(friday(15, minute))
            assert run("due", "--remind").exit_code == 0
    handovers = [c for c in flow.cards if c["body"][0]["text"].startswith("[HANDOVER]")]
    assert len(handovers) == 1
    assert handovers[0]["body"][1] == {
        "type": "FactSet",
        "facts": [{"title": "For", "value": "Alex Morgan, Sam Rivera"}],
    }


def test_a_blocked_first_notice_is_owed_by_whoever_is_on_duty(
    run: Run, example: Path, at: Callable[[datetime], None], tmp_path: Path
) -> None:
    """An event opened by Alex at 14:00 without Impact: at 17:05 (Alex and Priya gone home) `due` says Sam owes its
    first notice, and `due --remind` tells Sam."""
    at(friday(13))
    assert run("resolve", suite_clock.event_id(1), "--note", "Certificate renewed").exit_code == 0
    at(friday(14))
    opened = run("open", "--title", "Mail down", "--severity", "Sev 2", "--service", "VPN")
    key = opened.stdout.strip()
    at(friday(17, 5))
    items = json.loads(run("due", "--json").stdout)["items"]
    assert [i["responsible"] for i in items if i["kind"] == "first notice"] == ["Sam Rivera"]
    run("due", "--remind")
    blocked = [m for m in _mails(tmp_path) if str(m["Subject"]).startswith(f"[BLOCKED] {key}")]
    assert [{a.addr_spec for a in m["To"].addresses} for m in blocked] == [{ADDRESS["sam"]}]


def _outage_mails(folder: Path) -> list[email.message.EmailMessage]:
    return [m for m in _mails(folder) if str(m["Subject"]).startswith(("[SEV", "[MAJOR"))]


def test_a_shift_change_is_no_news_to_the_audiences(run: Run, example: Path, event_id: str, at: Callable) -> None:
    """The handover moves the event's Event Manager cell to the incoming person (every audience reads it), but a
    shift change is not news: the scheduled `notify --open` after it sends nothing; the next real update does, and
    shows the new event manager."""
    at(friday(14, 50))
    assert run("notify", "--open").exit_code == 0
    told = len(_outage_mails(example.parent))
    at(friday(15, 5))
    run("due", "--remind")
    assert json.loads(run("show", event_id, "--json").stdout)["event"]["event_manager"] == "Sam Rivera"
    assert any("[HANDOVER]" in str(m["Subject"]) for m in _mails(example.parent))
    at(friday(15, 6))
    quiet = run("notify", "--open", "--verbose")
    assert quiet.exit_code == 0 and "nothing new for" in quiet.stdout, quiet.stdout
    assert len(_outage_mails(example.parent)) == told
    at(friday(15, 8))
    assert run("update", event_id, "--note", "Queues draining", "--public-note", "Mail is flowing again").exit_code == 0
    assert run("notify", "--open").stdout.count(" sent\n") == 3
    latest = _outage_mails(example.parent)[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Sam Rivera" in latest


def test_one_person_spelt_two_ways_hands_over_to_nobody(
    day: tuple[Day, str, str], run: Run, example: Path, tmp_path: Path
) -> None:
    """A dated Roster row gives "sam  rivera" (lower case, two spaces) Friday's 23:00-07:00 shift after Sam Rivera's
    15:00-23:00: one person, so at 23:00 no handover is sent, none is recorded and A's Event Manager cell is left as
    it is (before, "Sam Rivera -> sam  rivera" was mailed to Sam twice and written on A's timeline and cell)."""
    days, first, _ = day
    book = openpyxl.load_workbook(example)
    sheet = book["Roster"]
    headers = [c.value for c in sheet[1]]
    cells = {"Person": "sam  rivera", "Role": "duty event manager", "Date": friday(0).replace(tzinfo=None)}
    sheet.append([{**cells, "Start": "23:00", "End": "07:00"}.get(h) for h in headers])
    sheet.tables["RosterTable"].ref = f"A1:{openpyxl.utils.get_column_letter(len(headers))}{sheet.max_row}"
    book.save(example)
    days.tick(friday(15, 5))
    assert _opened_manager(run, first) == "Sam Rivera"
    sent = days.tick(friday(23, 5))
    assert not [s for kind, s, _ in sent if s.startswith("[HANDOVER] event manager")], sent
    assert not [n for n in _timeline(run, first) if "sam  rivera" in n]
    assert _opened_manager(run, first) == "Sam Rivera"


def _opened_manager(run: Run, key: str) -> str:
    return str(json.loads(run("show", key, "--json").stdout)["event"]["event_manager"])

"""A scripted outage day (issue 10's acceptance), replayed on the rehearsal clock while `tracker watch` ticks every
minute: a Sev 1 and two Sev 2 events opened, updated, escalated and resolved across the 15:00 and 23:00 shift
changes and into the weekend stand-by. Every update due gets its reminder before it is late, the SLA at risk is
flagged before it is breached, every escalation fires once to whoever holds the role at that moment, and nothing
is sent twice. The test prints the day's timeline (pytest -s shows it)."""

from __future__ import annotations

import email
import email.policy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Run
from tracker.times import CLOCK

FRIDAY = datetime(2026, 11, 27, tzinfo=UTC)


def at(monkeypatch: pytest.MonkeyPatch, hour: float) -> datetime:
    """Set the rehearsal clock to Friday `hour` (24+ is Saturday)."""
    when = FRIDAY + timedelta(hours=hour)
    monkeypatch.setenv("TRACKER_NOW", when.isoformat())
    monkeypatch.setenv("TRACKER_REHEARSAL_SEND", "yes")  # the outbox and the test's own channel
    CLOCK.reset()
    return when


def hm(hour: float) -> str:
    when = FRIDAY + timedelta(hours=hour)
    return when.strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def example(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`tracker init --example` on Friday morning, so its event is older than the day whatever day the test runs."""
    at(monkeypatch, 9)
    assert run("init", "--example").exit_code == 0
    return tmp_path / "events.xlsx"


def test_an_outage_day(run: Run, example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = openpyxl.load_workbook(example)
    sheet = book["Escalations"]
    for row in (
        ["Sev 2", "open longer than", 480, "duty event manager", "Still open after 8 h"],
        ["Sev 2", "open longer than", 600, "stand-by", "Still open after 10 h: weekend stand-by"],
    ):
        sheet.append(row)
    sheet.tables["EscalationsTable"].ref = f"A1:E{sheet.max_row}"
    book.save(example)

    def step(hour: float, *args: str) -> str:
        at(monkeypatch, hour)
        result = run(*args)
        assert result.exit_code in (0, 1), (hm(hour), args, result.stderr)
        return result.stdout

    def watch(start: float, end: float) -> None:
        at(monkeypatch, start)
        result = run("watch", "--every", "1m", "--until", hm(end))
        assert "error" not in result.stdout, result.stdout

    example_id = f"EVT-{FRIDAY.year}-0001"
    step(13.9, "resolve", example_id, "--note", "done", "--force")
    sev1 = step(
        14.0,
        "open",
        "--title",
        "Email down",
        "--severity",
        "Sev 1",
        "--service",
        "Email",
        "--impact",
        "No mail",
        "--set",
        "communication_lead=Priya Shah",
    ).strip()
    step(14.0, "notify", sev1)
    step(14.05, "ack", sev1)
    watch(14.05, 14.45)
    step(14.45, "update", sev1, "--note", "Gateway restarted", "--public-note", "Working on it")
    step(14.45, "notify", sev1)
    sev2 = step(
        14.5, "open", "--title", "VPN slow", "--severity", "Sev 2", "--service", "VPN", "--impact", "Slow VPN"
    ).strip()
    step(14.5, "notify", sev2)
    watch(14.5, 15.75)  # sev1 misses its 15:15 update; sev2 is not acknowledged for 30 min; 15:00 shift change
    step(15.75, "update", sev1, "--note", "Certificate found", "--public-note", "Cause found")
    step(15.75, "notify", sev1)
    step(15.75, "ack", sev2)
    watch(15.75, 17.25)  # sev1 restoration at risk at 17:00 (75% of 4 h)
    step(17.25, "resolve", sev1, "--note", "Mail flows", "--public-note", "Email works again")
    step(17.25, "notify", sev1)
    step(17.25, "resolve", sev2, "--note", "VPN fine", "--public-note", "VPN is fast again")
    step(17.25, "notify", sev2)
    sev2b = step(
        22.8,
        "open",
        "--title",
        "ERP down",
        "--severity",
        "Sev 2",
        "--service",
        "ERP",
        "--impact",
        "No orders",
    ).strip()
    step(22.8, "notify", sev2b)
    step(22.9, "ack", sev2b)
    watch(22.9, 33.0)  # through the 23:00 shift change into Saturday's stand-by; updates owed hourly all night
    step(33.0, "resolve", sev2b, "--note", "Printers back", "--public-note", "Printing works")
    step(33.0, "notify", sev2b)

    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    ]
    book = openpyxl.load_workbook(example)
    head = [c.value for c in book["Notifications"][1]]
    log = [
        dict(zip(head, r, strict=False)) for r in book["Notifications"].iter_rows(min_row=2, values_only=True) if r[0]
    ]
    print("\nThe day, as the Notifications sheet has it:")
    for row in log:
        print(
            f"  {row['Sent (UTC)']:%a %H:%M}  {row['Event ID']}  {row['Kind']:<10} {row['Audience']:<14} {row['Subject']}"
        )

    # nothing sent twice: one message per (kind, audience or person, state)
    sent = Counter((r["Kind"], r["Audience"], r["State"], r["Event ID"]) for r in log)
    assert [k for k, n in sent.items() if n > 1] == []
    assert len({str(m["Message-ID"]) for m in mails}) == len(mails)
    assert len(log) == len(mails)

    def rows(kind: str, event: str) -> list[dict]:
        return [r for r in log if r["Kind"] == kind and r["Event ID"] == event]

    # every overdue reminder was preceded by a reminder before the same due time
    for event in (sev1, sev2, sev2b):
        reminders = rows("reminder", event)
        befores = {r["State"].split()[-1] for r in reminders if "before" in r["State"]}
        lates = {r["State"].split()[-1] for r in reminders if "overdue" in r["State"]}
        assert lates <= befores, event
    assert rows("reminder", sev1) and rows("reminder", sev2b)
    # the night's hourly updates were each owed by whoever held the role then (issue 22): Sam opened it at 22:48,
    # and from 23:00 the night shift's Jordan owes them (the Roster's communication lead went home at 17:00)
    assert {r["Audience"] for r in rows("reminder", sev2b)} == {"Jordan Lee"}
    # each shift change the watch saw was handed over once, to the outgoing and incoming people (issue 22)
    handovers = [(r["Audience"], f"{r['Sent (UTC)']:%a %H:%M}") for r in log if str(r["State"]).startswith("handover")]
    assert handovers == [
        ("Alex Morgan, Sam Rivera", "Fri 15:00"),
        ("Priya Shah", "Fri 17:00"),
        ("Sam Rivera, Jordan Lee", "Fri 23:00"),
        ("Jordan Lee, Casey Nguyen", "Sat 07:00"),
    ]

    def escalated(event: str) -> list[tuple[str, str]]:
        return [(r["Audience"], f"{r['Sent (UTC)']:%a %H:%M}") for r in rows("escalation", event)]

    # Sev 1: its update due 14:57 still owed 15 min later: the operations manager on duty (15:12), again for the
    # update due 16:15 (16:30); restoration at risk at 17:00 (75% of 4 h): leadership; each once
    assert escalated(sev1) == [
        ("Ravi Menon", "Fri 15:12"),
        ("Ravi Menon", "Fri 16:30"),
        ("leadership", "Fri 17:00"),  # one email to the audience, its Cc copied
    ]
    # Sev 2: not acknowledged for 30 min: the operations manager (15:00); its update overdue 30 min: the event
    # manager on duty then, Sam (Alex, who opened it, went home at 15:00: the role follows the Roster, issue 22)
    assert escalated(sev2) == [("Ravi Menon", "Fri 15:00"), ("Sam Rivera", "Fri 16:00")]
    # the night event: its event manager on duty (Jordan, from 23:00) when the update is 30 min late; after 8 h the
    # duty event manager of the night shift (Jordan), after 10 h the weekend stand-by (Casey)
    assert escalated(sev2b) == [("Jordan Lee", "Sat 00:18"), ("Jordan Lee", "Sat 06:48"), ("Casey Nguyen", "Sat 08:48")]
    # the SLA at risk was flagged before it was breached: escalated at 17:00, resolved 17:15 (target 18:00)
    shown = json.loads(run("show", sev1, "--json").stdout)
    assert {t["name"]: t["state"] for t in shown["sla"]}["restoration"] == "met"

"""Microsoft Teams (issue 10, point 6; issue 20, points 6 and 8): reminders, escalations and an audience's outage
messages posted to a channel's Workflows webhook as Adaptive Cards; tested against a local HTTP server that answers
as the Workflows trigger does (429 once, retried; then 202 whatever it is sent) and keeps the flow's run history,
where a card over 28 KB fails."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests import suite_clock
from tests.conftest import Run
from tracker.times import CLOCK


@dataclass
class Flow:
    """A Workflows flow "Post to a channel when a webhook request is received": what reached the channel and the
    runs that failed inside the flow (its run history), where the webhook's answer says nothing."""

    url: str = ""
    requests: int = 0
    cards: list[dict] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)  # each request's User-Agent


MESSAGE_LIMIT = 28 * 1024  # "about 28 KB": https://learn.microsoft.com/en-us/connectors/teams/ (known issues)


@contextmanager
def webhook(throttle_first: int = 1, anyone: bool = True) -> Iterator[Flow]:
    """A Workflows-like webhook on 127.0.0.1: 429 for the first requests, then 202 for whatever it is sent; the
    flow's run then posts the card, or fails where only the run history shows it."""
    flow = Flow()
    state = {"left": throttle_first}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            flow.requests += 1
            flow.agents.append(self.headers.get("User-Agent", ""))
            if state["left"] > 0:  # more than four requests a second are throttled (add-incoming-webhook, note)
                state["left"] -= 1
                self.send_response(429)
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            if not anyone and not self.headers.get("Authorization", "").startswith("Bearer "):
                # https://learn.microsoft.com/en-us/power-automate/oauth-authentication: a trigger set to "Any user
                # in my tenant" (the default for new flows) takes only requests with a token; the status is assumed
                self.send_response(401)
                self.end_headers()
                return
            self.send_response(202)  # the trigger fired; the "Post card in a chat or channel" action runs after
            self.end_headers()
            flow.failed_runs.extend(_run(json.loads(raw), flow.cards))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    flow.url = f"http://127.0.0.1:{server.server_address[1]}/workflows/abc"
    try:
        yield flow
    finally:
        server.shutdown()
        server.server_close()


def _run(body: dict, channel: list[dict]) -> list[str]:
    """The flow's run: the template posts attachments[0].content as an Adaptive Card; why the run failed, if it did."""
    try:
        attachment = body["attachments"][0]
        content = attachment["content"]
        ok = (
            body["type"] == "message"
            and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
            and content["type"] == "AdaptiveCard"
            and content["version"] == "1.4"
            and all(block["type"] in ("TextBlock", "FactSet") for block in content["body"])
        )
    except (KeyError, IndexError, TypeError):
        ok = False
    if not ok:
        return ["not an Adaptive Card message"]
    if len(json.dumps(content).encode()) > MESSAGE_LIMIT:
        return ["RequestEntityTooLarge"]  # the action fails: "Request Entity too large"
    channel.append(content)
    return []


def _lines_as_teams_shows_them(card: dict) -> list[str]:
    """The card's text as Teams breaks it into lines: a blank line (\\n\\n) or \\r in a list breaks a line, a single
    \\n does not (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format)."""
    lines = []
    for block in card["body"]:
        if block["type"] == "FactSet":
            lines += [f"{fact['title']}: {fact['value']}" for fact in block["facts"]]
        else:
            lines += [" ".join(part.split("\n")) for part in block["text"].replace("\r", "\n\n").split("\n\n")]
    return lines


def _pin_priya(run: Run, event_id: str) -> None:
    """Priya Shah keeps the example event's updates whoever is on the Roster at the suite's moment (--pin)."""
    pinned = run(
        "update",
        event_id,
        "--note",
        "Priya keeps the updates",
        "--internal",
        "--pin",
        "--set",
        "communication_lead=Priya Shah",
    )
    assert pinned.exit_code == 0, pinned.stderr


def _about(cards: list[dict[str, Any]], event_id: str) -> list[dict[str, Any]]:
    """The cards about the event, in order. Any other is the [HANDOVER] card of a shift that changes while the test
    runs (its clock at the start of a weekday shift: 08:00 on a Monday brings a communication lead)."""
    about = [card for card in cards if event_id in card["body"][0]["text"]]
    others = [card["body"][0]["text"] for card in cards if card not in about]
    assert all(title.startswith("[HANDOVER]") for title in others), others
    return about


def test_reminders_and_an_audience_reach_the_teams_channel(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[teams] with the URL in TRACKER_TEAMS_WEBHOOK: the technical audience's outage email and a reminder each
    arrive once as a card, after one 429; the URL is never in tracker.toml; notify says the card was handed to the
    flow, not that it was posted."""
    config = tmp_path / "tracker.toml"
    config.write_text(
        config.read_text() + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\naudiences = ["technical"]\n'
    )
    _pin_priya(run, event_id)
    with webhook() as flow:
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", flow.url)
        sent = run("notify", event_id)
        assert sent.exit_code == 0, sent.stderr
        assert "Teams: the card for technical handed to the channel's flow (202" in sent.stdout
        assert "posted" not in sent.stdout.replace("whether it posted", "")
        shown = json.loads(run("show", event_id, "--json").stdout)["event"]
        due = datetime.fromisoformat(shown["next_update_due"].replace("Z", "+00:00"))
        monkeypatch.setenv("TRACKER_NOW", (due - timedelta(minutes=5)).astimezone(UTC).isoformat())
        monkeypatch.setenv("TRACKER_REHEARSAL_SEND", "yes")  # the channel is the test's own
        CLOCK.reset()
        reminded = run("due", "--remind")
        assert "reminded Priya Shah" in reminded.stdout and "Teams" not in reminded.stderr
    cards = _about(flow.cards, event_id)
    titles = [c["body"][0]["text"] for c in cards]
    assert len(cards) == 2 and not flow.failed_runs
    assert titles[0].startswith("[SEV 1][Identified]") and titles[1].startswith("[REMINDER]")
    assert "webhook" not in config.read_text().rsplit("[teams]", 1)[1].replace("webhook_env", "")


def test_a_card_reads_as_facts_and_paragraphs_without_the_signature(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outage card is a FactSet of the email's aligned fields and paragraphs Teams shows on lines of their own
    (no single newlines, no column padding), without the email's signature; the reminder and escalation cards say
    whom they are for, without the greeting or signature, the escalation's people as facts of their own."""
    config = tmp_path / "tracker.toml"
    config.write_text(
        config.read_text() + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\naudiences = ["technical", "customer"]\n'
    )
    _pin_priya(run, event_id)
    with webhook(throttle_first=0) as flow:
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", flow.url)
        assert run("notify", event_id).exit_code == 0
        shown = json.loads(run("show", event_id, "--json").stdout)["event"]
        due = datetime.fromisoformat(shown["next_update_due"].replace("Z", "+00:00"))
        monkeypatch.setenv("TRACKER_NOW", (due - timedelta(minutes=5)).astimezone(UTC).isoformat())
        monkeypatch.setenv("TRACKER_REHEARSAL_SEND", "yes")
        CLOCK.reset()
        assert run("due", "--remind").exit_code == 0
        monkeypatch.setenv("TRACKER_NOW", (due + timedelta(minutes=40)).astimezone(UTC).isoformat())
        CLOCK.reset()
        escalated = run("due", "--escalate")
        assert "escalated to" in escalated.stdout, escalated.stdout + escalated.stderr
    technical, customer, reminder, escalation = _about(flow.cards, event_id)
    for card in (technical, customer, reminder, escalation):
        lines = _lines_as_teams_shows_them(card)
        assert all("  " not in line and not line.startswith("-- ") for line in lines), lines
        assert "Event Management" not in lines and "tracker" not in lines  # the signatures
        assert any(block["type"] == "FactSet" for block in card["body"])
    facts = {f["title"]: f["value"] for b in technical["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert facts["Impact"] == shown["impact"] and facts["Services"].startswith("Email")
    lines = _lines_as_teams_shows_them(technical)
    assert lines.index("Timeline") < next(i for i, line in enumerate(lines) if line.startswith("Next update"))
    assert "Current status" in {f["title"] for b in customer["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert reminder["body"][1] == {"type": "FactSet", "facts": [{"title": "For", "value": "Priya Shah"}]}
    assert not any(line.startswith("Priya Shah,") for line in _lines_as_teams_shows_them(reminder))
    told = {f["title"]: f["value"] for b in escalation["body"] if b["type"] == "FactSet" for f in b["facts"]}
    # the event as it is when escalated: its event manager follows the Roster (at 15:00 Sam Rivera takes over from
    # Alex Morgan, between the notice and the escalation when the suite's clock starts at 14:55)
    then = json.loads(run("show", event_id, "--json").stdout)["event"]
    assert told["Event manager"] == then["event_manager"] and told["Incident lead"] == then["incident_lead"]


def test_a_card_over_the_teams_message_limit_is_not_posted(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card over Teams' 28 KB message limit (which the flow would accept with 202 and then fail in its run
    history) is not sent; notify says so with its size, and the email still goes."""
    folder = tmp_path / "my_templates" / "email"
    folder.mkdir(parents=True)
    standing = "Standing instructions for the technical team. " * 700  # about 32 KB of text
    (folder / "technical.txt.j2").write_text("{{ event.title }}\n\n" + standing + "\n\n{{ next_update_line }}\n")
    config = tmp_path / "tracker.toml"
    config.write_text(
        config.read_text().replace('outbox = "outbox"', 'outbox = "outbox"\ntemplates = "my_templates"')
        + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\naudiences = ["technical"]\n'
    )
    with webhook(throttle_first=0) as flow:
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", flow.url)
        sent = run("notify", event_id)
    assert flow.requests == 0 and not flow.failed_runs
    assert re.search(r"technical: not posted to Teams: the card is 3\d\.\d KB, over Teams' 28 KB", sent.stderr)
    assert "handed to the channel's flow" not in sent.stdout
    assert re.search(r"technical\s.*\ssent$", sent.stdout, re.MULTILINE)


def test_a_flow_not_open_to_anyone_says_which_setting_to_change(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flow whose trigger is left at "Any user in my tenant" refuses tracker's post: the warning names the
    trigger setting "Who can trigger the flow" and the value Anyone."""
    config = tmp_path / "tracker.toml"
    config.write_text(
        config.read_text() + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\naudiences = ["technical"]\n'
    )
    with webhook(throttle_first=0, anyone=False) as flow:
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", flow.url)
        sent = run("notify", event_id)
    assert not flow.cards
    (warning,) = [line for line in sent.stderr.splitlines() if "Teams" in line]
    assert 'answered 401: set the flow\'s trigger "Who can trigger the flow" to Anyone' in warning


def test_a_missing_webhook_url_is_a_configuration_error(run: Run, example: Path, tmp_path: Path) -> None:
    """[teams] without its environment variable: exit 2 naming the variable, before anything is sent."""
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + '\n[teams]\nwebhook_env = "TEAMS_HOOK"\naudiences = ["technical"]\n')
    result = run("notify", suite_clock.event_id())
    assert result.exit_code == 2 and "TEAMS_HOOK" in result.stderr

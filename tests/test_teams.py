"""Microsoft Teams (issue 10, point 6): reminders, escalations and an audience's outage messages posted to a
channel's incoming webhook as Adaptive Cards; tested against a local HTTP server that checks the payload and
answers 429 once (retried, as Graph calls are)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests import suite_clock
from tests.conftest import Run
from tracker.times import CLOCK


@contextmanager
def webhook(throttle_first: int = 1) -> Iterator[tuple[list[dict], str]]:
    """A Workflows-like webhook on 127.0.0.1: 429 for the first requests, then 202; it keeps valid cards."""
    cards: list[dict] = []
    state = {"left": throttle_first}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state["left"] > 0:
                state["left"] -= 1
                self.send_response(429)
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            attachment = body["attachments"][0]
            assert body["type"] == "message"
            assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
            content = attachment["content"]
            assert content["type"] == "AdaptiveCard" and content["version"] == "1.4"
            assert all(block["type"] in ("TextBlock", "FactSet") for block in content["body"])
            cards.append(content)
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cards, f"http://127.0.0.1:{server.server_address[1]}/workflows/abc"
    finally:
        server.shutdown()
        server.server_close()


def test_reminders_and_an_audience_reach_the_teams_channel(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[teams] with the URL in TRACKER_TEAMS_WEBHOOK: the technical audience's outage email and a reminder each
    arrive once as a card, after one 429; the URL is never in tracker.toml."""
    config = tmp_path / "tracker.toml"
    config.write_text(
        config.read_text() + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\naudiences = ["technical"]\n'
    )
    with webhook() as (cards, url):
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", url)
        sent = run("notify", event_id)
        assert sent.exit_code == 0, sent.stderr
        shown = json.loads(run("show", event_id, "--json").stdout)["event"]
        due = datetime.fromisoformat(shown["next_update_due"].replace("Z", "+00:00"))
        monkeypatch.setenv("TRACKER_NOW", (due - timedelta(minutes=5)).astimezone(UTC).isoformat())
        monkeypatch.setenv("TRACKER_REHEARSAL_SEND", "yes")  # the channel is the test's own
        CLOCK.reset()
        reminded = run("due", "--remind")
        assert "reminded Priya Shah" in reminded.stdout and "Teams" not in reminded.stderr
    titles = [c["body"][0]["text"] for c in cards]
    assert len(cards) == 2
    assert titles[0].startswith("[SEV 1][Identified]") and titles[1].startswith("[REMINDER]")
    assert "webhook" not in config.read_text().rsplit("[teams]", 1)[1].replace("webhook_env", "")


def test_a_missing_webhook_url_is_a_configuration_error(run: Run, example: Path, tmp_path: Path) -> None:
    """[teams] without its environment variable: exit 2 naming the variable, before anything is sent."""
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + '\n[teams]\nwebhook_env = "TEAMS_HOOK"\naudiences = ["technical"]\n')
    result = run("notify", suite_clock.event_id())
    assert result.exit_code == 2 and "TEAMS_HOOK" in result.stderr

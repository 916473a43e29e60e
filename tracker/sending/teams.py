"""Microsoft Teams: reminders, escalations and (per audience, optional) outage messages posted to a channel through
an incoming webhook (a Workflows "post to a channel when a webhook request is received" flow), as Adaptive Cards.

The webhook URL is a secret (whoever has it can post to the channel): it comes from the environment variable
that `[teams] webhook_env` names, never from tracker.toml. 429 and 5xx answers are retried like Graph calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tracker import retry
from tracker.config import Config
from tracker.errors import ConfigError
from tracker.times import CLOCK

ATTEMPTS = 4


@dataclass(frozen=True)
class Channel:
    """The Teams channel of [teams]: its webhook URL (from the environment) and which messages go there."""

    url: str
    reminders: bool
    escalations: bool
    audiences: tuple[str, ...]


def teams_settings(config: Config) -> Channel | None:
    """The Teams channel, or None when tracker.toml has no [teams] section; a section whose webhook URL is not in
    its environment variable is a ConfigError (said before anything is sent)."""
    teams = config.teams
    if teams is None:
        return None
    variable = teams.webhook_env
    url = os.environ.get(variable, "").strip()
    if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
        raise ConfigError(
            f"[teams] needs the channel's webhook URL in the environment variable {variable} (webhook_env); "
            f"it is {'not set' if not url else 'not an https:// URL'}"
        )
    CLOCK.check_real_sends("Teams cards")
    return Channel(url, teams.reminders, teams.escalations, teams.audiences)


def card(title: str, text: str, facts: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The webhook payload: one message with one Adaptive Card (title, text, facts)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": text, "wrap": True},
    ]
    if facts:
        body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]})
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                },
            }
        ],
    }


def post(settings: Channel, payload: dict[str, Any], timeout: float = 30.0) -> str | None:
    """Post one card; None when the channel took it, else why not (after retrying 429 and 5xx)."""
    import requests

    tries = retry.Retries(ATTEMPTS)
    while True:
        try:
            response = requests.post(settings.url, json=payload, timeout=timeout)
        except requests.RequestException as exc:
            if tries.again(retry.retry_after(None, tries.made - 1)):
                continue
            return f"Teams webhook unreachable ({type(exc).__name__})"
        if response.status_code < 300:
            return None
        if (response.status_code == 429 or response.status_code >= 500) and tries.again(
            retry.retry_after(response, tries.made - 1)
        ):
            continue
        return f"Teams webhook answered {response.status_code}"


def post_messages(config: Config, messages: list[Any], kind: str) -> list[str]:
    """Post sent personal messages (`reminder`, `escalation`) to the channel when [teams] asks for them; the
    problems, if any."""
    settings = teams_settings(config)
    if settings is None or not getattr(settings, f"{kind}s", False):
        return []
    problems = []
    posted: dict[tuple[str, str], list[str]] = {}
    for message in messages:  # one card per step, naming everyone told
        if message.sent:
            posted.setdefault((message.event_id, message.state), []).append(message.audience)
    done: set[tuple[str, str]] = set()
    for message in messages:
        key = (message.event_id, message.state)
        if not message.sent or key in done:
            continue
        done.add(key)
        body = message.text.split("\n-- \n")[0].strip()
        payload = card(message.subject, body, [("For", ", ".join(posted[key]))])
        problem = post(settings, payload)
        if problem:
            problems.append(f"{message.subject}: {problem}")
    return problems


def post_outage_messages(config: Config, messages: list[Any]) -> list[str]:
    """The audiences [teams] audiences names also get each outage message sent as a card in the channel (once per
    audience, however many parts its email went out in). The problems, one line each."""
    settings = teams_settings(config)
    if settings is None or not settings.audiences:
        return []
    posted: set[str] = set()
    problems = []
    for message in messages:
        if message.audience.casefold() not in settings.audiences or message.audience in posted:
            continue
        posted.add(message.audience)
        problem = post(settings, card(message.subject, message.text.strip()))
        if problem:
            problems.append(f"{message.audience}: not posted to Teams: {problem}")
    return problems

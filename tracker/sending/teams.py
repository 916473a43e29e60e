"""Microsoft Teams: reminders, escalations and (per audience, optional) outage messages posted to a channel through
an incoming webhook (a Workflows "post to a channel when a webhook request is received" flow), as Adaptive Cards.

The webhook URL is a secret (whoever has it can post to the channel): it comes from the environment variable
that `[teams] webhook_env` names, never from tracker.toml. 429 and 5xx answers are retried like Graph calls.
A card is laid out from the message's plain text (`card_blocks`). The webhook's 202 says only that the flow started:
the card is posted, or not, in the flow's run, so a card over Teams' size limit is never sent (`MAX_CARD_BYTES`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from tracker import retry
from tracker.config import Config
from tracker.errors import ConfigError
from tracker.sharepoint_config import user_agent
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


MAX_CARD_BYTES = 28 * 1024
"""Teams' message size limit: "about 28 KB" for the Workflows action "Post card in a chat or channel"
(https://learn.microsoft.com/en-us/connectors/teams/, known issues and limitations: message size limit), 28 KB for
webhooks (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook).
Over it the flow's run fails ("Request Entity too large") after the webhook has answered 202, where nobody looks."""

HANDED = "handed to the channel's flow (202: the flow started; its run history in Workflows says whether it posted)"

# A line of the templates' aligned columns: "Impact:              Users cannot connect".
_FACT = re.compile(r"(?P<label>[^\s:][^:]{0,39}):\s+(?P<value>\S.*)")
_SIGNATURE = "\n-- \n"  # the signature delimiter (RFC 3676, 4.3) the templates sign with


def card(title: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The webhook payload: one message with one Adaptive Card 1.4 (the version Workflows posts), a bold title over
    `blocks` (from `card_blocks`)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True},
        *blocks,
    ]
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


def card_blocks(text: str) -> list[dict[str, Any]]:
    """The card body of a plain-text message, written the way Teams renders card text: one newline is no line break,
    a blank line (\\n\\n) is, and a list's items are separated by \\r
    (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format, "Newlines
    for Adaptive Cards"). The signature (from the line "-- ") is left out. Each paragraph (lines between blank lines)
    after the first whose every line is `Label: value` (the templates' aligned columns) becomes a FactSet; a line over indented lines
    a heading and a list; any other paragraph a TextBlock, its lines kept apart."""
    body = text.replace("\r\n", "\n").split(_SIGNATURE, 1)[0]
    blocks: list[dict[str, Any]] = []
    for number, paragraph in enumerate(re.split(r"\n[ \t]*\n", body.strip("\n"))):
        lines = [line.rstrip() for line in paragraph.split("\n") if line.strip()]
        facts = [_FACT.fullmatch(line) for line in lines]
        if not lines:
            continue
        if all(facts) and number > 0:  # the first paragraph is the message's opening words
            pairs = [{"title": m["label"], "value": _words(m["value"])} for m in facts if m]
            blocks.append({"type": "FactSet", "facts": pairs})
        elif len(lines) > 1 and not lines[0][0].isspace() and all(line[0].isspace() for line in lines[1:]):
            blocks.append(_text(_words(lines[0]), weight="Bolder"))
            blocks.append(_text("\r".join(f"- {_words(line)}" for line in lines[1:])))
        else:
            blocks.append(_text("\n\n".join(_words(line) for line in lines)))
    return blocks


def _text(text: str, **style: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _words(line: str) -> str:
    """A line without its column padding (runs of spaces are one space)."""
    return " ".join(line.split())


def card_size(payload: dict[str, Any]) -> int:
    """The bytes of the payload as posted (UTF-8 JSON)."""
    return len(json.dumps(payload).encode())


def post(settings: Channel, payload: dict[str, Any], timeout: float = 30.0) -> str | None:
    """Post one card; None when the flow took it (which is not yet "posted": see HANDED), else why not (after
    retrying 429 and 5xx). A card over Teams' message limit is not sent at all."""
    import requests

    size = card_size(payload)
    if size > MAX_CARD_BYTES:
        return (
            f"the card is {size / 1024:.1f} KB, over Teams' {MAX_CARD_BYTES // 1024} KB message limit; not posted "
            "(the flow would fail after accepting it)"
        )
    tries = retry.Retries(ATTEMPTS)
    while True:
        try:
            response = requests.post(settings.url, json=payload, timeout=timeout, headers={"User-Agent": user_agent()})
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
        if response.status_code in (401, 403):
            # https://learn.microsoft.com/en-us/power-automate/oauth-authentication: a flow's webhook trigger takes
            # requests without a token only when "Who can trigger the flow" is Anyone (new flows: any user in my tenant)
            return (
                f'Teams webhook answered {response.status_code}: set the flow\'s trigger "Who can trigger the flow" '
                "to Anyone (tracker posts without a sign-in)"
            )
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
        told = {"type": "FactSet", "facts": [{"title": "For", "value": ", ".join(posted[key])}]}
        problem = post(settings, card(message.subject, [told, *card_blocks(_without_greeting(message.text))]))
        if problem:
            problems.append(f"{message.subject}: {problem}")
    return problems


def _without_greeting(text: str) -> str:
    """A personal message without its first line when that is the greeting ("Priya Shah,"): the card says whom
    it is for."""
    first, _, rest = text.partition("\n\n")
    return rest if "\n" not in first and first.rstrip().endswith(",") else text


@dataclass
class Posted:
    """What became of the outage messages' cards: the audiences whose card the flow took (HANDED), the problems."""

    handed: list[str]
    problems: list[str]

    def said(self) -> str:
        """The line that says which cards went to the flow ("" for none): handed over, not known to be posted."""
        return f"Teams: the card for {', '.join(self.handed)} {HANDED}" if self.handed else ""


def post_outage_messages(config: Config, messages: list[Any]) -> Posted:
    """The audiences [teams] audiences names also get each outage message sent as a card in the channel (once per
    audience, however many parts its email went out in), built from the audience's plain-text email (`card_blocks`)."""
    done = Posted([], [])
    settings = teams_settings(config)
    if settings is None or not settings.audiences:
        return done
    seen: set[str] = set()
    for message in messages:
        if message.audience.casefold() not in settings.audiences or message.audience in seen:
            continue
        seen.add(message.audience)
        problem = post(settings, card(message.subject, card_blocks(message.text)))
        if problem:
            done.problems.append(f"{message.audience}: not posted to Teams: {problem}")
        else:
            done.handed.append(message.audience)
    return done

"""The team mailbox as intake reads it: new messages from one of two sources behind one interface, and what was
taken in, remembered.

- `EmlFolder` ([intake] folder, the embedded default): a folder of .eml files standing in for the mailbox; each
  file is read where it is (never moved or deleted) and taken once.
- `GraphMailbox` ([intake] mailbox): Microsoft Graph's messages delta query on
  `/users/{mailbox}/mailFolders/{mail_folder}/messages/delta` (graph/api/message-delta,
  graph/delta-query-messages): pages followed by `@odata.nextLink`, the round's `@odata.deltaLink` kept for the next
  run; the first run starts from that moment (`receivedDateTime ge`), so the mail already in the folder is left
  alone; a delta link Graph no longer knows (410 Gone, syncStateNotFound) starts the round over from that moment.

`IntakeMemory` is a JSON-lines file beside the workbook's journal (`journal.companion("intake")`): each message
taken (its Message-ID, the event), the delta link, the moment the mailbox is read from. A message is remembered
after its event is written; a run stopped in between finds the event by the Message-ID on its timeline
(`tracker.rules.intake.marked_event`) and does not take the message twice."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from tracker import files, jsonlines
from tracker.config import Config
from tracker.errors import ConfigError, RemoteError, UsageError, WorkbookInUse
from tracker.microsoft365.auth import token_identity
from tracker.microsoft365.remote import Remote, error_text
from tracker.store.backends import Store
from tracker.store.journal import state_dir
from tracker.times import iso, utcnow

NOTE_LIMIT = 4000  # characters of a message's text kept as its note (a long thread's quotes are cut first)
PAGE_SIZE = 50  # Prefer: odata.maxpagesize (Graph's default page of a messages delta is 10)
NOT_SET = (
    'tracker.toml: [intake] has neither folder nor mailbox; set folder = "intake" (a folder of .eml files standing in '
    'for the team mailbox) or mailbox = "event.management@contoso.com" (read through Microsoft Graph)'
)


@dataclass(frozen=True)
class Incoming:
    """One message from the mailbox, as intake reads it."""

    key: str  # its Message-ID (<...>), or a stand-in when it has none: what the event's timeline names it by
    ref: str  # where it is: the .eml file's name, or the Graph message id
    name: str  # the sender's display name ("" when none)
    address: str  # the sender's address
    subject: str
    text: str  # the plain text (an HTML body turned to text)
    automatic: bool = False  # an automatic reply (out of office, a delivery report): never taken in or answered

    @property
    def reporter(self) -> str:
        """The sender as the Reported By cell shows them: "Name <address>", or the address."""
        return f"{self.name} <{self.address}>" if self.name and self.name != self.address else self.address


class Source(Protocol):
    """Where intake's messages come from."""

    where: str  # in words, for the first timeline line ("the team mailbox ...")

    def fetch(self, memory: IntakeMemory) -> list[Incoming]:
        """The messages not taken yet (those `memory` holds are left out)."""
        ...

    def finish(self, memory: IntakeMemory) -> None:
        """Every message fetched is taken: remember where the next run starts (the delta link)."""
        ...


class IntakeMemory:
    """What intake took, and where the mailbox is read from next: one JSON-lines file, appended and fsynced per
    message, rewritten atomically when the delta link moves."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.taken: dict[str, str] = {}  # message key (and Graph id) -> the event it became or went to
        self.marks: dict[str, str] = {}  # source -> its delta link / "since" moment, as "kind:value"
        self.owed: dict[str, dict[str, str]] = {}  # message key -> the reply its reporter is still owed
        for _line, data in jsonlines.read(path):
            if not isinstance(data, dict):
                continue
            if "taken" in data:
                self.taken[str(data["taken"])] = str(data.get("event_id") or "")
                if data.get("ref"):
                    self.taken[str(data["ref"])] = str(data.get("event_id") or "")
                if isinstance(data.get("owed"), dict):
                    self.owed[str(data["taken"])] = {str(k): str(v) for k, v in data["owed"].items()}
            elif "replied" in data:
                self.owed.pop(str(data["replied"]), None)
            elif "source" in data:
                self.marks[f"{data['source']}:{data.get('mark', '')}"] = str(data.get("value") or "")

    def knows(self, message: Incoming) -> bool:
        """Whether the message was taken (by its Message-ID or where it is)."""
        return message.key in self.taken or message.ref in self.taken

    def remember(self, message: Incoming, event_id: str, at: datetime, owed: dict[str, str] | None = None) -> None:
        """The message is taken (durably before returning); `owed`: its reporter's reply could not go yet (the
        event, title, name and address to send it with on a later run)."""
        line: dict[str, Any] = {"taken": message.key, "ref": message.ref, "event_id": event_id, "at": iso(at)}
        if owed:
            line["owed"] = owed
            self.owed[message.key] = owed
        self._append(line)
        self.taken[message.key] = self.taken[message.ref] = event_id

    def replied(self, key: str) -> None:
        """The reply owed for message `key` went (or is no longer owed)."""
        self._append({"replied": key})
        self.owed.pop(key, None)

    def _append(self, line: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        jsonlines.append(self.path, json.dumps(line))

    def mark(self, source: str, mark: str) -> str:
        """The value kept for `source` (e.g. its "delta" link), "" when none."""
        return self.marks.get(f"{source}:{mark}", "")

    def set_mark(self, source: str, mark: str, value: str) -> None:
        """Keep `value` for `source` (the file rewritten whole: one line per mark)."""
        self.marks[f"{source}:{mark}"] = value
        lines = [
            line
            for line, data in jsonlines.read(self.path)
            if isinstance(data, dict) and ("taken" in data or "replied" in data)
        ]
        for key, kept in self.marks.items():
            name, _, which = key.rpartition(":")
            lines.append(json.dumps({"source": name, "mark": which, "value": kept}))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        jsonlines.rewrite(self.path, lines)


def memory_path(store: Store) -> Path:
    """Intake's memory: beside the workbook's journal (one per workbook, as the send ledger), else the state folder."""
    return store.journal.companion("intake") if store.journal is not None else state_dir() / "intake.jsonl"


@contextmanager
def intake_lock(store: Store, config: Config) -> Iterator[None]:
    """One intake at a time per workbook on this machine (`tracker intake` and a watch tick)."""
    from filelock import Timeout

    lock = files.file_lock(store.lock_path("intake"))
    try:
        lock.acquire(timeout=config.lock_timeout)
    except Timeout:
        raise WorkbookInUse(
            f"another `tracker intake` (or a watch) has been taking in mail here for over {config.lock_timeout:.0f} s; "
            "try again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def open_source(config: Config) -> Source:
    """The source [intake] names: the Graph mailbox when `mailbox` is set, else the .eml folder; UsageError when
    neither is."""
    settings = config.intake
    if settings.mailbox:
        if config.sharepoint is None:
            raise ConfigError(
                "[intake] mailbox is read through Microsoft Graph with the sign-in of [sharepoint]; add that section, "
                'or use [intake] folder = "intake" (a folder of .eml files)'
            )
        if "@" not in settings.mailbox:
            raise ConfigError(
                f'[intake] mailbox {settings.mailbox!r} is not an address; e.g. mailbox = "event.management@contoso.com"'
            )
        return GraphMailbox(Remote(config.sharepoint), settings.mailbox, settings.mail_folder)
    if settings.folder is not None:
        return EmlFolder(settings.folder)
    raise UsageError(NOT_SET)


# --- the .eml folder ---------------------------------------------------------------------------------


class EmlFolder:
    """A folder of .eml files standing in for the team mailbox: each file read where it is, taken once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where = f"the .eml folder {folder.name}"

    def fetch(self, memory: IntakeMemory) -> list[Incoming]:
        """The .eml files not taken yet, oldest first (by the time the file was written, then its name)."""
        if not self.folder.is_dir():
            raise ConfigError(f"[intake] folder {self.folder} does not exist; create it or fix the setting")
        found = [(path, path.stat()) for path in self.folder.glob("*.eml")]
        out = []
        for path, stat in sorted(found, key=lambda found: (found[1].st_mtime, found[0].name)):
            ref = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"  # a file taken and unchanged is not read again
            if ref in memory.taken:
                continue
            message = read_eml(path.read_bytes(), ref)
            if not memory.knows(message):
                out.append(message)
        return out

    def finish(self, memory: IntakeMemory) -> None:
        """Nothing to keep: the files stay where they are, remembered by Message-ID."""


def read_eml(data: bytes, name: str) -> Incoming:
    """One RFC 5322 message: its sender, subject, Message-ID and text (the plain part, else the HTML as text)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    sender = message["From"]
    addresses = getattr(sender, "addresses", ()) if sender is not None else ()
    address = addresses[0].addr_spec if addresses else str(sender or "")
    display = addresses[0].display_name if addresses else ""
    key = str(message["Message-ID"] or "").strip() or f"<sha256-{hashlib.sha256(data).hexdigest()[:32]}@eml>"
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        try:
            content = body.get_content()
        except (LookupError, ValueError):  # an unknown charset: the bytes as best read
            payload = body.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        text = html_text(content) if body.get_content_type() == "text/html" else str(content)
    auto = str(message["Auto-Submitted"] or "no").strip().casefold() not in ("", "no")
    subject = str(message["Subject"] or "")
    return incoming(key, name, display, address, subject, text, auto or is_auto_subject(subject))


# --- the Graph mailbox -------------------------------------------------------------------------------

SELECT = "internetMessageId,subject,from,body,receivedDateTime"


class GraphMailbox:
    """A mailbox folder through Microsoft Graph's messages delta query."""

    def __init__(self, remote: Any, mailbox: str, folder: str) -> None:
        self.remote = remote
        self.mailbox, self.folder = mailbox, folder
        self.where = f"the team mailbox {mailbox}"
        self.source = f"graph {mailbox.casefold()}/{folder.casefold()}"
        self.delta = ""  # the link the round ended with
        self._permission: str | None = None

    def start(self, since: str) -> str:
        """The first request of a round: the folder's messages received since `since` (graph/delta-query-messages:
        query options go on the first request only; Graph carries them in the links it returns)."""
        base = f"{self.remote.settings.graph_url}/users/{quote(self.mailbox)}/mailFolders/{quote(self.folder)}"
        query = urlencode({"$select": SELECT, "$filter": f"receivedDateTime ge {since}"}, quote_via=quote)
        return f"{base}/messages/delta?{query}"

    def fetch(self, memory: IntakeMemory) -> list[Incoming]:
        """Every page of this round (from the delta link kept, else from the start); the messages not taken yet."""
        since = memory.mark(self.source, "since")
        if not since:
            since = iso(utcnow()) or ""
            memory.set_mark(self.source, "since", since)
        url = memory.mark(self.source, "delta") or self.start(since)
        out: list[Incoming] = []
        restarted = False
        while True:
            response = self._get(url)
            if response.status_code == 410 and not restarted:  # the delta link expired: the round starts over
                restarted, url = True, self.start(since)
                continue
            if response.status_code == 410:
                raise RemoteError(
                    f"reading the {self.folder} folder of {self.mailbox}: Microsoft Graph lost the round it had just "
                    "started (410 Gone); nothing was taken in, try again"
                )
            if response.status_code == 404:
                raise ConfigError(self._not_found(response))
            page = response.json()
            out += [m for m in (graph_message(item) for item in page.get("value", [])) if m and not memory.knows(m)]
            if page.get("@odata.nextLink"):
                url = str(page["@odata.nextLink"])
                continue
            self.delta = str(page.get("@odata.deltaLink") or "")
            return out

    def check(self, since: str) -> str:
        """One request of a round from `since` (nothing taken, nothing kept): what `tracker doctor` says."""
        response = self._get(self.start(since))
        if response.status_code in (404, 410):
            raise ConfigError(self._not_found(response))
        return f"the {self.folder} folder of {self.mailbox} answers the messages delta query"

    def finish(self, memory: IntakeMemory) -> None:
        """Keep the round's delta link: the next run asks only for what is new since."""
        if self.delta:
            memory.set_mark(self.source, "delta", self.delta)

    def _get(self, url: str) -> Any:
        return self.remote.request(
            "graph",
            "GET",
            url,
            headers={"Prefer": f"odata.maxpagesize={PAGE_SIZE}", "Accept": "application/json"},
            idempotent=True,
            what=f"reading the {self.folder} folder of {self.mailbox}",
            permission=self.permission(),
            answered=(404, 410),
        )

    def _not_found(self, response: Any) -> str:
        return (
            f"Microsoft Graph does not find the {self.folder!r} folder of {self.mailbox} ({response.status_code}: "
            f"{error_text(response)}); check [intake] mailbox and mail_folder (a well-known name such as inbox, or "
            "the folder's id)"
        )

    def permission(self) -> str:
        """What this sign-in needs to read the mailbox (named by a 403), from its Graph token's claims."""
        if self._permission is None:
            token = str(self.remote.tokens.graph().get("access_token", ""))
            self._permission = read_permission(self.remote.settings.auth, self.mailbox, token_identity(token))
        return self._permission


def read_permission(auth: str, mailbox: str, claims: dict[str, Any]) -> str:
    """What a sign-in needs to read `mailbox`'s messages (graph/api/message-delta, permissions: Mail.Read; Mail.
    ReadBasic leaves the body out): app-only tokens the application permission; a person's token delegated Mail.Read
    for their own mailbox, Mail.Read.Shared plus Exchange Full Access for another (a shared team mailbox)."""
    application = (
        f"the application permission Mail.Read for Microsoft Graph, with admin consent (it can read every mailbox: "
        f"limit it to {mailbox} with Exchange RBAC for Applications or an application access policy)"
    )
    if ("roles" in claims and "scp" not in claims) or (not claims and auth == "certificate"):
        return application
    user = str(claims.get("upn") or claims.get("preferred_username") or claims.get("unique_name") or "")
    if user and user.casefold() == mailbox.casefold():
        return "the delegated permission Mail.Read for Microsoft Graph (the signed-in user's own mailbox)"
    shared = (
        f"the delegated permission Mail.Read.Shared for Microsoft Graph, and Exchange Full Access on {mailbox} for "
        f"{user or 'the signed-in user'}"
    )
    if "scp" in claims or auth == "device-code":
        return shared
    return f"for an app-only token {application}; for a person's token {shared}"


def graph_message(item: dict[str, Any]) -> Incoming | None:
    """A message of a delta page (None for a removal: `@removed`, graph/delta-query-messages)."""
    if "@removed" in item or not item.get("id"):
        return None
    sender = (item.get("from") or {}).get("emailAddress") or {}
    body = item.get("body") or {}
    content = str(body.get("content") or "")
    text = html_text(content) if str(body.get("contentType") or "").casefold() == "html" else content
    key = str(item.get("internetMessageId") or "").strip() or f"<graph-{item['id']}>"
    subject = str(item.get("subject") or "")
    return incoming(
        key,
        str(item["id"]),
        str(sender.get("name") or ""),
        str(sender.get("address") or ""),
        subject,
        text,
        is_auto_subject(subject),
    )


# --- text --------------------------------------------------------------------------------------------

_AUTO = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoreply|out of (the )?office|undeliverable|delivery status)\b", re.I
)


def cell_text(text: str) -> str:
    """Text from a message as a workbook cell can keep it: control characters other than tab and line breaks,
    surrogates and U+FFFE/U+FFFF left out (the commit would refuse the whole event for one of them)."""
    return "".join(
        c
        for c in text
        if (ord(c) >= 32 or c in "\t\n\r") and not 0xD800 <= ord(c) <= 0xDFFF and ord(c) not in (0xFFFE, 0xFFFF)
    )


def incoming(key: str, ref: str, name: str, address: str, subject: str, text: str, automatic: bool) -> Incoming:
    """A message as intake keeps it: every part a cell may show made safe for one (`cell_text`); the one-line parts
    (sender, subject, Message-ID) on one line."""
    line = lambda value: " ".join(cell_text(value).split())  # noqa: E731 - four uses, one line each
    return Incoming(line(key), ref, line(name), line(address), line(subject), cell_text(text), automatic)


def is_auto_subject(subject: str) -> bool:
    """Whether a subject is an automatic reply's or a delivery report's (Exchange's "Automatic reply: ...")."""
    return bool(_AUTO.match(subject))


class _Text(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_text(html: str) -> str:
    """An HTML body as plain text: block elements on their own lines, scripts and styles left out."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_QUOTED = re.compile(r"^(-{2,}\s*original message\s*-{2,}|_{10,}|from:\s.+|on .+ wrote:|.+ schrieb:)\s*$", re.I)


def note_text(text: str, limit: int = NOTE_LIMIT) -> str:
    """What a message says, as a note: without the quoted thread below it (lines after "-----Original Message-----",
    "On ... wrote:", "From: ..."; lines starting ">"), cut to `limit` characters (saying so)."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTED.match(line.strip()) and any(k.strip() for k in kept):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
    said = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    if len(said) > limit:
        said = said[:limit].rstrip() + f" [cut: the message has {len(said)} characters]"
    return said

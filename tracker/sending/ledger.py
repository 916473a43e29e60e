"""The send ledger: what `tracker notify` is about to send, written down before each message.

Sending a message and recording it can never be one step, so notify makes both sides
durable around the send: a line here (fsync'd) before the message goes to the transport,
and the message's Notifications row in the journal (fsync'd) as soon as the server accepted
it. A crash, Ctrl-C or full disk anywhere in between leaves one of three things:

- no line: the message was not sent;
- a line and a journal row: sent, and the next write puts the row on the Notifications sheet;
- a line alone: the server may or may not have accepted it. The next notify records it on
  the Notifications sheet as "acceptance unknown" and does not send it again without --force.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker import files, jsonlines
from tracker.config import DEFAULT_LOCK_TIMEOUT
from tracker.errors import WorkbookInUse
from tracker.times import iso

if TYPE_CHECKING:
    from tracker.store.journal import Journal


@dataclass(frozen=True)
class Attempt:
    """A message notify was about to send."""

    message_id: str
    event_id: str
    audience: str
    kind: str
    state: str
    subject: str
    recipients: int
    at: str

    def to_json(self) -> str:
        """One ledger line."""
        return json.dumps(self.__dict__, sort_keys=True)


class SendLedger:
    """An append-only file of send attempts beside the journal. Every change takes the ledger's own lock (two
    processes: an append must not fall between another's read and rewrite); reading needs none (a rewrite
    replaces the file whole)."""

    def __init__(self, path: Path, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self.lock_timeout = lock_timeout

    def _locked(self) -> AbstractContextManager[None]:
        def busy(lock_file: str) -> Exception:
            return WorkbookInUse(
                f"another tracker has held the send ledger's lock ({lock_file}) for over {self.lock_timeout:.0f} s; "
                "nothing more was sent, try again"
            )

        return files.locked(self.path, self.lock_timeout, busy)

    def attempts(self) -> list[Attempt]:
        """Every readable attempt, oldest first."""
        out = []
        for _line, data in jsonlines.read(self.path):
            try:
                out.append(Attempt(**{k: data[k] for k in Attempt.__dataclass_fields__}))
            except (KeyError, TypeError):
                continue
        return out

    def record(self, attempt: Attempt) -> None:
        """Write the attempt down for good before the message is handed to the transport."""
        with self._locked():
            jsonlines.append(self.path, attempt.to_json())

    def forget(self, message_ids: set[str]) -> None:
        """Drop the attempts whose outcome is now recorded elsewhere (atomically)."""
        with self._locked():
            attempts = self.attempts()
            kept = [a.to_json() for a in attempts if a.message_id not in message_ids]
            if len(kept) != len(attempts):  # (nothing to drop: no rewrite)
                jsonlines.rewrite(self.path, kept)


def attempt_for(message: Any, at: datetime) -> Attempt:
    """The ledger line for an Outgoing message."""
    return Attempt(
        message_id=message.message_id,
        event_id=message.event_id,
        audience=message.audience,
        kind=message.kind,
        state=message.state,
        subject=message.subject,
        recipients=len(message.recipients),
        at=iso(at) or "",
    )


def instance_id(journal: Journal | None) -> str:
    """Which tracker this is: a random name kept beside its journal and send ledger, in its state folder (a name
    from the host alone would be shared by cloned machines and containers); "" without a journal."""
    if journal is None:
        return ""
    path = journal.path.with_name(f"{journal.path.stem}.instance")
    if path not in _INSTANCES:  # read once per process: settling asks it of every claim row
        _INSTANCES[path] = _instance_name(path)
    return _INSTANCES[path]


_INSTANCES: dict[Path, str] = {}


def _instance_name(path: Path) -> str:
    try:
        if not path.exists():
            name = os.urandom(5).hex()
            draft = path.with_name(f"{path.name}.{name}")
            draft.write_text(name + "\n", encoding="ascii")
            try:
                os.link(draft, path)  # whole or not at all; two processes at once: the first one's name stands
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        return path.read_text(encoding="ascii").strip()[:10]
    except OSError:  # a state folder that cannot keep it: a name that at least differs per machine and folder
        return hashlib.sha256(f"{socket.gethostname()}\0{path}".encode()).hexdigest()[:10]

"""Delivery: what every sender (notify, reminders, escalations) does around handing messages over, written once.

- `sending_lock`: one sender at a time per workbook on this machine;
- `settle`: what earlier runs left half done (the ledger's messages of unknown acceptance, claims nobody will
  confirm);
- `DurableHooks`: each message in the send ledger before it goes, its log row in the journal once the server took it;
- `deliver`: claim, send and log personal messages (reminders, escalations)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tracker import files
from tracker.config import Config
from tracker.errors import NotifyInterrupted, TrackerError, WorkbookInUse
from tracker.sending.claims import claim_messages, require_claims, settle_claims
from tracker.sending.ledger import attempt_for
from tracker.sending.mail import Outgoing
from tracker.sending.sendlog import (
    LEDGER_UNKNOWN,
    UNKNOWN,
    WITHDRAWN,
    Unconfirmed,
    ledger_for,
    log_row,
    settle_ledger,
    unknown_edits,
    write_or_keep,
)
from tracker.sending.teams import post_messages
from tracker.sending.transports import open_transport
from tracker.store.backends import Store
from tracker.store.journal import Journal
from tracker.workbook.edits import Edit, SetCells
from tracker.workbook.reading import Tracker


@contextmanager
def sending_lock(store: Store, config: Config) -> Iterator[None]:
    """Hold this workbook's send lock (one per workbook, whichever folder and tracker.toml a command runs from): two
    senders at once must not both decide to send the same messages."""
    from filelock import Timeout

    try:
        lock = files.file_lock(store.lock_path("notify"))
        lock.acquire(timeout=config.lock_timeout)
    except Timeout:
        raise WorkbookInUse(
            f"another `tracker notify`, `due --remind` or `due --escalate` has been sending here for over "
            f"{config.lock_timeout:.0f} s; try again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def settle(
    store: Store,
    tracker: Tracker,
    config: Config,
    now: datetime,
    event_id: str | None = None,
    kinds: tuple[str, ...] | None = None,
) -> Settled:
    """Before sending: what earlier runs left half done. The send ledger's messages handed over without an answer
    become "acceptance unknown"; on a SharePoint workbook, the claims (of these kinds: those this command sends)
    nobody will confirm are withdrawn, so their messages go out again."""
    found = settle_ledger(tracker, store.journal, config)
    unknown = [
        Unconfirmed(
            a.event_id,
            a.audience,
            a.kind,
            a.subject,
            a.message_id,
            datetime.fromisoformat(a.at.replace("Z", "+00:00")) if a.at else None,
            config.user,
            LEDGER_UNKNOWN,
            a.state,
        )
        for a in found
    ]
    if not store.shared:
        return Settled([], unknown)
    require_claims(tracker)
    return Settled(settle_claims(tracker, store.journal, now, event_id, kinds), unknown)


def commit_log(store: Store, rows: list[Edit], reason: str) -> str | None:
    """After sending: put the log rows (and the edits that go with them) on the sheet. The mail went out, so
    whatever stops the write, the rows are kept in the journal for the next write; then why, else None. (With no
    rows it still writes what the journal holds: the log rows of the messages sent.)"""
    try:
        store.commit(lambda _tracker: rows)
    except Exception as exc:  # noqa: BLE001 - the mail went out: whatever stops the log, keep it
        if store.journal is None:
            raise
        if not getattr(exc, "journaled", False) and rows:
            store.journal.add(rows, f"{reason}: {exc}")
        return str(exc) if isinstance(exc, TrackerError) else f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class Settled:
    """What `settle` did: lines about claims withdrawn (to be said), messages it found of unknown acceptance."""

    said: list[str]
    unknown: list[Unconfirmed]


class DurableHooks:
    """Send hooks: the attempt in the ledger before each message, its log row in the journal right after.

    With a `claim` (the Transport of this run's claim rows), the log row is the claim row turned into it
    (same Message-ID), or a new row if the claim is not there.
    """

    def __init__(
        self,
        journal: Journal | None,
        config: Config,
        transport: str,
        now: datetime,
        status: str,
        claim: str | None = None,
    ) -> None:
        self.journal = journal
        self.ledger = ledger_for(journal)
        self.config, self.transport, self.now, self.status = config, transport, now, status
        self.claim = claim
        self.handed: set[str] = set()  # handed to the transport, fate not known yet

    def before(self, message: Outgoing) -> None:
        self.handed.add(message.message_id)
        if self.ledger is not None:
            self.ledger.record(attempt_for(message, self.now))

    def failed(self, message: Outgoing) -> None:
        self.handed.discard(message.message_id)
        if self.ledger is not None:
            self.ledger.forget({message.message_id})

    unknown_text = f"{UNKNOWN} (handed to the mail server, which never answered)"

    def unanswered(self, message: Outgoing) -> None:
        """Handed over, and the connection was lost before the server's answer: logged as acceptance unknown now."""
        self.handed.discard(message.message_id)
        if self.journal is None or self.ledger is None:
            return
        claimed = {message.message_id: self.claim} if self.claim else {}
        edits = unknown_edits([attempt_for(message, self.now)], claimed, self.config, self.unknown_text)
        self.journal.add(edits, f"{message.audience} {message.message_id}: handed over, no answer")
        self.ledger.forget({message.message_id})

    def sent(self, message: Outgoing) -> None:
        self.handed.discard(message.message_id)
        if self.journal is not None:
            self.journal.add(
                self.log(message), f"sent {message.audience} {message.message_id}; log not yet on the sheet"
            )

    def log(self, message: Outgoing) -> list[Edit]:
        """The edits that log a message the server accepted."""
        row = log_row(message, self.config, self.transport, self.now, self.status)
        if self.claim is None:
            return [row]
        # No condition: the server took the message, so this is the truth whatever became of the claim meanwhile
        # (another tracker may have found it expired and sent the message too: the sheet then shows both).
        done = {"transport": self.transport, "recipients": row.values["recipients"]}
        return [SetCells("Notifications", message.message_id, done), row]

    def unsent(self, messages: list[Outgoing]) -> list[Edit]:
        """Withdrawals of the claims on messages that certainly did not go out (a message handed over when tracker
        was stopped keeps its claim: its fate is unknown)."""
        if self.claim is None:
            return []
        return [
            SetCells(
                "Notifications",
                m.message_id,
                {"transport": f"{WITHDRAWN}: not sent ({m.error or 'stopped before sending it'})"[:250]},
                {"transport": self.claim},
            )
            for m in messages
            if not m.sent and not m.unanswered and m.message_id not in self.handed
        ]

    def unconfirmed(self, messages: list[Outgoing]) -> list[Unconfirmed]:
        """The messages handed over without an answer, as messages of unknown acceptance nobody has confirmed."""
        return [
            Unconfirmed(
                m.event_id,
                m.audience,
                m.kind,
                m.subject,
                m.message_id,
                self.now,
                self.config.user,
                self.unknown_text,
                m.state,
            )
            for m in messages
            if m.unanswered
        ]

    def release(self, messages: list[Outgoing]) -> None:
        """Stopped while sending: keep the withdrawals in the journal for the next write (no network now)."""
        if self.journal is not None:
            try:
                self.journal.add(self.unsent(messages), "notify stopped: claims on messages not sent withdrawn")
            except OSError:
                pass  # the disk is full: the claims stay, and count as of unknown fate


def hand_over(
    store: Store, transport: Any, messages: list[Outgoing], hooks: DurableHooks, label: str, again: str
) -> None:
    """Send `messages` through `transport` with `hooks`, and record what a stop leaves the same way for every
    sender: after Ctrl-C, or when the ledger or the journal cannot be written (a full disk), the withdrawals wait
    in the journal and NotifyInterrupted says what went and what did not; after any other failure (no connection
    to the mail server) the claims on the messages that did not go are withdrawn and the failure goes on."""
    try:
        with transport:
            transport.send_messages(messages, hooks)
    except KeyboardInterrupt:
        hooks.release(messages)
        raise NotifyInterrupted(stopped(label, messages, "interrupted", again)) from None
    except OSError as exc:  # the ledger or the journal could not be written
        hooks.release(messages)
        why = f"stopped: cannot record what was sent ({exc})"
        raise NotifyInterrupted(stopped(label, messages, why, again)) from None
    except Exception:  # e.g. no connection to the mail server: nothing went out, the claims are withdrawn
        write_or_keep(store, hooks.unsent(messages), f"{label}: claims withdrawn")
        raise


def stopped(label: str, messages: list[Outgoing], why: str, again: str) -> str:
    """What a stopped send says: what went, what did not, and that running it again sends only the rest."""
    sent = [m.audience for m in messages if m.sent]
    left = [m.audience for m in messages if not m.sent]
    return (
        f"{label}: {why}. Sent: {', '.join(sent) or 'nothing'}; not sent: {', '.join(left) or 'nothing'}. "
        "What was sent is recorded and goes on the Notifications sheet with the next write (or `tracker sync`); "
        f"{again} again sends only what was not sent"
    )


def personal_json(item: Any, **middle: Any) -> dict[str, Any]:
    """The stable JSON form of a reminder or escalation (see README, "Keeping time"): who, to which address, what
    `middle` says of its kind, the subject, and the problem when it could not go."""
    return {
        "event_id": item.event_id,
        "person": item.person or None,
        "address": item.address or None,
        **middle,
        "subject": item.subject or None,
        "problem": item.problem or None,
    }


TEAMS = "Teams channel"  # the "person" of a card that could not be posted


@dataclass
class Delivery:
    """What `deliver` did beyond each message's own `sent`/`error`."""

    notes: list[str] = field(default_factory=list)  # sent, but: the log only journaled, claimed with a lock only
    teams: str = ""  # why cards were not posted to the Teams channel
    elsewhere: dict[str, str] = field(default_factory=dict)  # Message-ID -> who logged or claimed it first

    def outcome(self, message: Outgoing) -> str | None:
        """None when `message` went out; "" when another tracker has it; else why it did not go."""
        if message.message_id in self.elsewhere:
            return ""
        return None if message.sent else (message.error or "not sent")

    def settle(self, items: list[Any], outgoing: list[Outgoing], note: Callable[[str, str], Any]) -> list[Any]:
        """`items` (reminders or escalations; those with an address went out as `outgoing`, in that order) as they
        ended: one another tracker sends is dropped, one not sent says why; then a `note(person, why)` for each
        note and for cards the Teams channel did not take."""
        messages = iter(outgoing)
        result = []
        for item in items:
            if item.address:
                why = self.outcome(next(messages))
                if why == "":
                    continue  # another tracker (another machine watching this workbook) sends it
                if why is not None:
                    item = replace(item, problem=why)
            result.append(item)
        result += [note("", text) for text in self.notes]
        if self.teams:
            result.append(note(TEAMS, self.teams))
        return result


def deliver(
    store: Store,
    config: Config,
    now: datetime,
    outgoing: list[Outgoing],
    edits: list[Any],
    *,
    again: str = "",
    teams: bool = True,
) -> Delivery:
    """Send personal messages (reminders, escalations, intake replies) with the outage emails' care: on a SharePoint
    workbook each is first claimed on the Notifications sheet (two machines watching one workbook send it once),
    each is written down before it goes, its Notifications row journaled once the server took it; then the journal
    and `edits` (those of the events whose messages went) go on the sheet. `again` is the command that sends what a
    stop left (said when stopped); `teams=False`: never posted to the Teams channel (a reply to a reporter)."""

    delivery = Delivery()
    claim: str | None = None
    todo_messages = list(outgoing)
    if store.shared:
        by_event: dict[str, list[Outgoing]] = {}
        for message in outgoing:
            by_event.setdefault(message.event_id, []).append(message)
        for event_id, messages in by_event.items():
            claimed = claim_messages(store, config, event_id, messages, now, "", force=False)
            claim = claimed.marker or claim
            delivery.elsewhere.update({key: "another tracker" for key in claimed.first})
            delivery.notes += [claimed.warning] if claimed.warning else []
        todo_messages = [m for m in outgoing if m.message_id not in delivery.elsewhere]
    if not todo_messages:
        return delivery
    transport = open_transport(config)
    kind = todo_messages[0].kind
    hooks = DurableHooks(store.journal, config, transport.name, now, "", claim)
    again = again or ("`tracker due --remind`" if kind == "reminder" else "`tracker due --escalate`")
    hand_over(store, transport, todo_messages, hooks, f"{kind}s", again)

    sent = {m.event_id for m in todo_messages if m.sent}
    todo = [e for e in edits if str(getattr(e, "values", {}).get("event_id", "")) in sent]
    if store.journal is None:
        todo = [hooks.log(m)[0] for m in todo_messages if m.sent] + todo  # as notify does
    todo += hooks.unsent(todo_messages)
    reason = commit_log(store, todo, "timeline entries of messages sent")  # the journaled log rows, the timeline
    if reason:
        delivery.notes.append(f"the log waits in the journal ({reason}); `tracker sync`")
    if teams:
        delivery.teams = "; ".join(post_messages(config, todo_messages, kind))  # after the log is safe
    return delivery

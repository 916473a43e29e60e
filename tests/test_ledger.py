"""The send ledger: what notify is about to send, written down before each message."""

from __future__ import annotations

import threading
from pathlib import Path

from tracker.sending.ledger import Attempt, SendLedger


def _attempt(n: int) -> Attempt:
    return Attempt(f"<{n}@example.com>", "EVT-1", "leadership", "update", f"s{n}", "subject", 3, "2026-11-21T15:54Z")


def test_appends_and_forgets_at_once_lose_no_line(tmp_path: Path) -> None:
    """One writer records 300 attempts while another (its own ledger object, as another process has) keeps
    forgetting the even ones: every odd attempt is still there at the end (an append that fell between the other's
    read and rewrite was lost: the ledger took no lock of its own)."""
    path = tmp_path / "journal.sending.jsonl"
    done = threading.Event()

    def record() -> None:
        ledger = SendLedger(path)
        for n in range(300):
            ledger.record(_attempt(n))
        done.set()

    def forget() -> None:
        ledger = SendLedger(path)
        while not done.is_set():
            ledger.forget({f"<{n}@example.com>" for n in range(0, 300, 2)})

    threads = [threading.Thread(target=record), threading.Thread(target=forget)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    ledger = SendLedger(path)
    ledger.forget({f"<{n}@example.com>" for n in range(0, 300, 2)})
    assert [a.message_id for a in ledger.attempts()] == [f"<{n}@example.com>" for n in range(1, 300, 2)]

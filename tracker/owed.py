"""Something the team owes (`tracker due` lists them): an update, an SLA about to be missed, the process review,
a review action, an email nobody knows arrived. Below the modules that find them (clock, actions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.times import iso


@dataclass(frozen=True)
class Due:
    """Something the team owes: an update, an SLA about to be missed, the process review."""

    event_id: str
    kind: str  # update | first response | restoration | process review | action | email | first notice
    state: str  # due | due soon | overdue | at risk | breached | unconfirmed | blocked
    at: datetime | None  # when it is (was) due or breaches
    severity: str = ""
    title: str = ""
    responsible: str = ""

    def minutes(self, now: datetime) -> int | None:
        """Minutes until it is due (negative: overdue by)."""
        if self.at is None:
            return None
        return int((self.at - now).total_seconds() // 60)

    @property
    def late(self) -> bool:
        """Overdue, breached, a first notice blocked, or an email that may not have arrived: what makes `tracker
        due` exit non-zero."""
        return self.state in ("overdue", "breached", "unconfirmed", "blocked")

    def to_json(self, now: datetime) -> dict[str, Any]:
        """The stable JSON form (see README, "Keeping time")."""
        return {
            "event_id": self.event_id or None,
            "kind": self.kind,
            "state": self.state,
            "at": iso(self.at) if self.at else None,
            "minutes": self.minutes(now),
            "severity": self.severity or None,
            "title": self.title or None,
            "responsible": self.responsible or None,
        }

"""Policy: when updates are due, from the severity's cadence."""

from __future__ import annotations

from datetime import datetime, timedelta

from tracker.workbook import Row

OPEN_STATUSES = ("Investigating", "Identified", "Monitoring")
STATUSES = (*OPEN_STATUSES, "Resolved", "Closed")


def is_open(status: str | None) -> bool:
    """Whether an event in this status still owes updates."""
    return status in OPEN_STATUSES


def next_update_due(severity: Row, at: datetime) -> datetime:
    """When the next update is due after one made at `at`."""
    minutes = int(severity.get("update_interval_minutes", 60))
    return at + timedelta(minutes=minutes)

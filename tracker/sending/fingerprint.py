"""What an audience's news is: the fingerprint of an event's state as one audience sees it (a message goes out again
only when it changed), and the timeline lines tracker writes itself, which are no news."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from tracker.sending.audience import Audience
from tracker.workbook.policy import is_bookkeeping
from tracker.workbook.reading import Row, Tracker

# (approved_for: an audience released by `tracker approve` is no news to the others)
_NOT_STATE = {"last_notified_at", "next_update_due", "last_update_at", "approved_for", "pinned_roles"}


def event_state(
    tracker: Tracker,
    event: Row,
    reader: Audience | None = None,
    *,
    changes: bool = True,
    bookkeeping: bool = True,
    roles: bool = True,
) -> str:
    """A fingerprint of everything an audience's email is built from (same state: same email): only the fields
    `reader` may read (all of them without a reader), whatever the rows' order or formatting; without `changes`,
    the Changes rows are left out (the audience's templates never show them); without `bookkeeping`, the timeline
    lines tracker writes itself (an escalation sent) are left out: they are not news to anyone. The defaults are
    the fingerprint tracker 0.2 logged. Without `roles`, who holds the event's roles (the Events fields marked
    `x-role`: they follow the Roster, and a shift change is no news to the audiences) is left out too."""
    key = str(event["id"]).casefold()
    values = reader.view("Events", dict(event.values)) if reader else _as_in_0_1(tracker, "Events", event.values)
    values = _as_in_0_3(tracker, "Events", values)
    if not roles:
        fields = tracker.schema["Events"].fields
        values = {k: v for k, v in values.items() if not (k in fields and fields[k].schema.get("x-role"))}
    parts: list[Any] = [{k: _stable(v) for k, v in values.items() if k not in _NOT_STATE}]
    for sheet in ("Updates", "Changes"):
        if sheet == "Changes" and not changes:
            parts.append([])  # as for an audience that may not read changes: the same fingerprint then
            continue
        if reader is None:  # tracker 0.1's fingerprint: its columns only, every field, every row
            entries = [
                _as_in_0_1(tracker, sheet, r.values)
                for r in tracker.sheet(sheet).rows
                if str(r["event_id"] or "").casefold() == key
            ]
        else:
            entries = [  # an update that says nothing to this audience (no words, no ETA) is not news to it
                {k: v for k, v in _as_in_0_3(tracker, sheet, e).items() if k not in ("kind", "text")}
                for e in reader.entries(sheet, key, "")
                if ((e["text"] or e.get("eta")) if sheet == "Updates" else _readable(e))
                and (bookkeeping or not is_bookkeeping(e))
            ]
        rows = [json.dumps({k: _stable(v) for k, v in e.items()}, sort_keys=True, default=str) for e in entries]
        parts.append(sorted(rows))  # the rows' order is not state: sorting the sheet in Excel changes nothing
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:16]


def _readable(entry: dict[str, Any]) -> bool:
    """Whether a row, as an audience sees it, holds anything but its event and time (a Changes row is all
    empty to an audience that may not read changes: not news to it)."""
    return any(v is not None for k, v in entry.items() if k not in ("kind", "text", "event_id", "at"))


def _as_in_0_1(tracker: Tracker, sheet: str, values: dict[str, Any]) -> dict[str, Any]:
    """A row's values as tracker 0.1 saw them: without the columns added since (`x-added`)."""
    fields = tracker.schema[sheet].fields
    return {k: v for k, v in values.items() if k not in fields or not fields[k].added}


LAST_RELEASE = (0, 3)  # the fingerprints logged on workbooks today were made by this version's rules


def _as_in_0_3(tracker: Tracker, sheet: str, values: dict[str, Any]) -> dict[str, Any]:
    """A row's values without what the last release's fingerprint did not hold: the columns added since while
    empty (an older workbook lacks them; upgrading is no news), and the mark tracker fills on the rows it applied
    (bookkeeping, never news). A column added since that someone filled is news as any cell is."""
    spec = tracker.schema[sheet]
    fields = spec.fields

    def newer(name: str) -> bool:
        added = fields[name].added if name in fields else None
        return bool(added) and tuple(int(p) for p in str(added).split(".") if p.isdecimal()) > LAST_RELEASE

    return {k: v for k, v in values.items() if k != spec.applied_mark and not (v is None and newer(k))}


def _stable(value: Any) -> Any:
    """A value as the fingerprint sees it: a time to the nearest millisecond (a re-saved workbook's serial
    numbers can come back a microsecond off)."""
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    return value

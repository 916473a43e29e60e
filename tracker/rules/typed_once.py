"""Each typed row applied once when two trackers apply it at the same moment through the Excel service.

In workbook-api mode rows are added without a condition (the Excel service has no If-Match), so two machines that
read the workbook before either wrote both apply a typed row: the event's cells and the row's Applied cell get the
same values (harmless), but each adds its timeline line. As for notify's claims (`tracker.sending.claims`), the
table is read back after the write (`Store.rows_now`): for each typed row the earliest line wins (for an Events row
taken in, the earliest naming the ID the row holds), and a later line of this tracker is withdrawn by rewriting its
note to "withdrawn: <who> applied it first" (rows are never deleted: Graph deletes rows only by position). Each
line carries the Applied mark of the write that added it, so a tracker withdraws only its own.
"""

from __future__ import annotations

import re
from typing import Any

from tracker.rules.typed import Line, TypedRows
from tracker.store.backends import Store
from tracker.workbook.cell_values import raw_key
from tracker.workbook.edits import Edit, SetCells
from tracker.workbook.policy import BOOKKEEPER
from tracker.workbook.reading import ROW_KEY

WITHDRAWN = "withdrawn: "
FIRST_ROW = 2  # a table's first data row: tracker's sheets have their header on row 1
_ABOUT = {
    "update": re.compile(r"Applied the Updates row typed by .* \(row (\d+)\)"),
    "intake": re.compile(r"Taken in from the Events sheet \(row (\d+)\b"),
}


def settle(store: Store, typed: TypedRows) -> list[str]:
    """After writes that applied typed rows: withdraw this tracker's lines another tracker's came before. Returns
    one line per withdrawn line ("Updates!D4: another tracker applied it first"); nothing in a workbook whose
    writers take turns (a local file's lock, SharePoint's If-Match: `rows_now` is None)."""
    said: list[str] = []
    for _round in range(3):  # withdrawing writes again, and that write may apply rows typed meanwhile
        lines, typed.lines = typed.lines, []
        if not lines:
            break
        table = store.rows_now("Updates")
        if table is None:
            break
        events = store.rows_now("Events") if any(line.kind == "intake" for line in lines) else None
        edits: list[Edit] = []
        for line, number, winner in _losers(lines, table, events or []):
            who = str(winner.get("applied") or "").removeprefix("written by ") or "another tracker"
            done = "took it in" if line.kind == "intake" else "applied it"
            text = f"{WITHDRAWN}{who} {done} first"
            edits.append(SetCells("Updates", f"{ROW_KEY}{number}", {"note": text}, {"note": line.note}))
            typed.applied = [a for a in typed.applied if a.cell != line.cell]
            said.append(f"{line.cell}: {who} {done} first; this tracker's timeline line about it is withdrawn")
        if edits:
            store.commit(lambda _tracker, edits=edits: edits)  # type: ignore[misc]
    typed.gave_way += said
    return said


def _losers(
    lines: list[Line], table: list[dict[str, Any]], events: list[dict[str, Any]]
) -> list[tuple[Line, int, dict[str, Any]]]:
    """This tracker's lines found in the table with an earlier line about the same typed row: each with its Excel
    row number and the line that came first."""
    groups: dict[tuple[str, str, int], list[tuple[int, dict[str, Any]]]] = {}
    for index, row in enumerate(table):
        about = _about(row)
        if about is not None:
            groups.setdefault(about, []).append((index, row))
    out = []
    for line in lines:
        group = groups.get((line.kind, raw_key(line.event_id) if line.kind == "update" else "", line.row), [])
        mine = next((i for i, row in group if row.get("applied") == line.marker and row.get("note") == line.note), None)
        if mine is None:
            continue  # not written (a plan made again on a newer workbook), or withdrawn already
        holder = _holder(events, line.row) if line.kind == "intake" else None
        naming = [(i, row) for i, row in group if holder is None or raw_key(row.get("event_id")) == holder]
        first = (naming or group)[0]
        if first[0] != mine:
            out.append((line, mine + FIRST_ROW, first[1]))
    return out


def _about(row: dict[str, Any]) -> tuple[str, str, int] | None:
    """Which typed row a timeline line says tracker applied: ("update", event, row) or ("intake", "", row)."""
    if str(row.get("author") or "").strip().casefold() != BOOKKEEPER:
        return None
    note = str(row.get("note") or "")
    for kind, pattern in _ABOUT.items():
        match = pattern.match(note)
        if match:
            return kind, raw_key(row.get("event_id")) if kind == "update" else "", int(match.group(1))
    return None


def _holder(events: list[dict[str, Any]], number: int) -> str | None:
    """The ID the Events row `number` holds now, folded (None: no such row, or no ID)."""
    index = number - FIRST_ROW
    found = raw_key(events[index].get("id")) if 0 <= index < len(events) else ""
    return found or None

"""Row edits: the small, explicit unit every write is made of.

A command looks at the current workbook and returns a list of edits; a store applies
them (and, after a conflict, asks the command again on the newest version).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.workbook.reading import Tracker


@dataclass(frozen=True)
class AppendRow:
    """Add a row to the end of a sheet's table.

    `unique` names a field whose value identifies the row (e.g. a Message-ID): a store
    replaying the edit skips it when a row with that value is already there. `if_absent`
    marks a row that may have been added already (a request that timed out): it is skipped
    when a row with the same values is there.
    """

    sheet: str
    values: Mapping[str, Any]
    unique: str | None = None
    if_absent: bool = False


@dataclass(frozen=True)
class SetCells:
    """Set some cells of the row whose key column holds `key`.

    `expect` (used when an edit waits in the journal) holds what those cells held when the
    edit was decided: a cell someone changed since then is left as they wrote it.
    """

    sheet: str
    key: str
    values: Mapping[str, Any]
    expect: Mapping[str, Any] | None = None


Edit = AppendRow | SetCells

Plan = Callable[["Tracker"], list[Edit]]
"""Computes a change from the current workbook; called again on a newer version."""


def _dump(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ({"$datetime": v.isoformat()} if isinstance(v, datetime) else v) for k, v in values.items()}


def _load(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (datetime.fromisoformat(v["$datetime"]) if isinstance(v, dict) and "$datetime" in v else v)
        for k, v in values.items()
    }


def edit_to_json(edit: Edit) -> dict[str, Any]:
    """A JSON-safe form of an edit (times tagged so they come back as times)."""
    if isinstance(edit, AppendRow):
        data: dict[str, Any] = {
            "op": "append",
            "sheet": edit.sheet,
            "values": _dump(edit.values),
            "unique": edit.unique,
        }
        if edit.if_absent:
            data["if_absent"] = True
        return data
    data = {"op": "set", "sheet": edit.sheet, "key": edit.key, "values": _dump(edit.values)}
    if edit.expect is not None:
        data["expect"] = _dump(edit.expect)
    return data


def edit_from_json(data: dict[str, Any]) -> Edit:
    """The edit `edit_to_json` wrote."""
    if data["op"] == "append":
        return AppendRow(data["sheet"], _load(data["values"]), data.get("unique"), bool(data.get("if_absent")))
    expect = data.get("expect")
    return SetCells(data["sheet"], data["key"], _load(data["values"]), _load(expect) if expect is not None else None)

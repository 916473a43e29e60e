"""`tracker validate --fix`: what can be corrected without a doubt, corrected through the normal write path.

Unambiguous means one reading only: a date and time or a number typed as text in a column
of that type (an ISO date, a number with or without thousands separators), and a dropdown
value with stray spaces or another case than the dropdown's entry. Everything else stays a
reported problem for a person to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracker.workbook.cell_values import coerce
from tracker.workbook.edits import Edit, SetCells
from tracker.workbook.reading import ROW_KEY, SheetData, Tracker
from tracker.workbook.schema import FieldSpec, text_as


@dataclass(frozen=True)
class Fix:
    """One cell corrected (or that would be)."""

    cell: str
    column: str
    before: Any
    after: Any
    why: str


def plan_fixes(tracker: Tracker) -> tuple[list[Edit], list[Fix]]:
    """The edits that correct every unambiguous cell, and what each does. A row whose other cells still break
    the schema after its fixes is left alone (the write would be refused whole)."""
    edits: list[Edit] = []
    fixes: list[Fix] = []
    for spec in tracker.schema:
        data = tracker.sheet(spec.name)
        if not data.present or not data.rows:
            continue
        raw = tracker.raw_rows(spec.name)
        canon = _canonical_refs(tracker, data)
        for row in data.rows:
            position = row.number - 2
            cells = raw[position] if 0 <= position < len(raw) else []
            changes: dict[str, Any] = {}
            found: list[Fix] = []
            for name, field in spec.fields.items():
                column = data.columns.get(name)
                if column is None or column >= len(cells) or not isinstance(cells[column], str):
                    continue
                if coerce(field, cells[column]) != row.values.get(name):
                    continue  # the view holds a waiting edit for this cell: the file's text is not what counts
                after, why = _fixed(field, cells[column], row.values.get(name), canon.get(name))
                if after is not None:
                    changes[name] = after
                    found.append(Fix(data.cell(name, row.number), field.title, cells[column], after, why))
            if changes and not spec.check_row(dict(row.values) | changes):
                edits.append(
                    SetCells(spec.name, f"{ROW_KEY}{row.number}", changes, {n: row.values.get(n) for n in changes})
                )
                fixes.extend(found)
    return edits, fixes


def _fixed(field: FieldSpec, raw: str, typed: Any, names: dict[str, str] | None) -> tuple[Any, str]:
    """(the corrected value, why) for one text cell, or (None, "")."""
    value = text_as(field, raw)
    if value is not None:
        return value, f"text that looked like {field.what}"
    if field.enum and typed in field.enum and raw != typed:
        return typed, "the dropdown's own spelling"
    if names is not None:
        items = field.split(raw)
        spelled = [names.get(item.casefold(), item) for item in items]
        joined = f"{field.separator} ".join(spelled) if field.separator else (spelled[0] if spelled else "")
        if spelled and all(item.casefold() in names for item in items) and joined != raw:
            return joined, "the dropdown's own spelling"
    return None, ""


def _canonical_refs(tracker: Tracker, data: SheetData) -> dict[str, dict[str, str]]:
    """For each column referring to another sheet: its values by case-folded spelling."""
    out: dict[str, dict[str, str]] = {}
    for name, field in data.spec.fields.items():
        if field.ref is None or name not in data.columns:
            continue
        sheet, key = field.ref
        target = tracker.sheet(sheet)
        if target.present and key in target.columns:
            out[name] = {str(r[key]).casefold(): str(r[key]) for r in target.rows if r[key] is not None}
    return out

"""Sheets are typed a column at a time (tracker.workbook.sheet_data), for speed: the rows must be exactly the rows the
plain row-by-row typing gives (kept below as the reference), whatever the cells, the headers and the row widths."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests import suite_clock
from tracker.workbook.cell_values import raw_key, whole_number
from tracker.workbook.schema import SheetSpec, load_schema
from tracker.workbook.sheet_data import Row, SheetData, read_sheet

SCHEMA = load_schema()
Plan = list[tuple[int, Callable[[Any], Any] | None, str, str, frozenset[str]]]


def reference_rows(
    data: SheetData, spec: SheetSpec, pairs: Iterable[tuple[int, Sequence[Any]]], plan: Plan, where: Any
) -> list[Row]:
    """Typing as tracker did it before typing by columns: each row, each cell in turn."""
    out: list[Row] = []
    position = data.columns.get(where[0], -1) if where else -1
    for number, raw in pairs:
        if where is not None and (position < 0 or position >= len(raw) or raw_key(raw[position]) not in where[1]):
            continue
        values: dict[str, Any] = dict.fromkeys(spec.fields)
        extra: dict[str, Any] = {}
        for index, convert, name, kind, options in plan:
            cell = raw[index] if index < len(raw) else None
            if cell is None or cell == "":
                continue
            if kind == "text" and type(cell) is str:
                if cell.strip():
                    values[name] = cell.strip()
            elif kind == "datetime" and type(cell) is datetime:
                values[name] = cell.replace(tzinfo=UTC) if cell.tzinfo is None else cell
            elif kind == "enum" and cell in options:
                values[name] = cell
            elif kind == "integer" and type(cell) is float and whole_number(cell):
                values[name] = int(cell)
            elif convert is None:
                extra[name] = cell
            elif (typed := convert(cell)) is not None:
                values[name] = typed
        if extra or any(v is not None for v in values.values()):
            out.append(Row(number, values, extra))
    return out


def shown(rows: list[Row]) -> list[str]:
    """Rows as text: every value with its type and order (a NaN equals itself here, as it would not in ==)."""
    return [repr((r.number, [(k, type(v), v) for k, v in r.values.items()], list(r.extra.items()))) for r in rows]


def _fold(value: datetime, fold: int) -> datetime:
    return value.replace(fold=fold)


TEXT = st.sampled_from(["", " ", "  x ", "Yes", "no", " Closed", "Sev 1", "EVT-0001", "Ä ß", "1001", "\t", "a\nb"])
CELLS = st.one_of(
    st.none(),
    TEXT,
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, -3.0, 1e15, 1e14 + 1, 1e300, 2.5]),
    st.integers(-(10**16), 10**16),
    st.booleans(),
    st.builds(_fold, st.datetimes(), st.integers(0, 1)),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])),
    st.dates(),
    st.times(),
    st.timedeltas(),
)


@st.composite
def sheets(draw: st.DrawFn) -> tuple[SheetSpec, list[Any], list[list[Any]]]:
    """A schema sheet, a header row (some of its columns, in any order, some twice; headers of a user's own, some
    twice; blank ones) and rows of any cells, of any widths or all of one width."""
    spec = draw(st.sampled_from(list(SCHEMA)))
    titles = [f.title for f in spec.fields.values()]
    pool = titles + ["Notes", "Notes", "Mine", "", None, "  "]
    header = draw(st.lists(st.sampled_from(pool), max_size=len(titles) + 4))
    enums = [option for f in spec.fields.values() for option in f.enum]
    cell = st.one_of(CELLS, st.sampled_from(enums or [""]), st.sampled_from([f" {o.upper()} " for o in enums] or [""]))
    rows = draw(st.lists(st.lists(cell, max_size=len(header) + 2), max_size=8))
    if rows and draw(st.booleans()):  # as wide as the sheet, as calamine gives them
        width = max(map(len, rows))
        rows = [row + [draw(st.sampled_from([None, ""]))] * (width - len(row)) for row in rows]
    return spec, header, rows


@settings(max_examples=400, deadline=None, database=None)
@given(sheets())
def test_typing_by_columns_gives_the_rows_typing_row_by_row_gives(sheet: Any) -> None:
    spec, header, rows = sheet
    data = read_sheet(spec, spec.name, [header, *rows])
    expected = reference_rows(data, spec, enumerate(rows, start=2), data._plan, None)
    assert shown(data.rows) == shown(expected)
    assert [r.number for r in data.rows] == [r.number for r in expected]


@settings(max_examples=200, deadline=None, database=None)
@given(sheets(), st.data())
def test_the_rows_some_values_select_are_typed_as_the_whole_sheet_types_them(sheet: Any, draw: st.DataObject) -> None:
    spec, header, rows = sheet
    data = read_sheet(spec, spec.name, [header, *rows])
    field = draw.draw(st.sampled_from(list(spec.fields)))
    keys = {raw_key(cell) for row in rows for cell in row}
    values = set(draw.draw(st.lists(st.sampled_from(sorted(keys) or [""]), max_size=3)))
    some = read_sheet(spec, spec.name, [header, *rows], where=(field, values))
    expected = reference_rows(data, spec, enumerate(rows, start=2), data._plan, (field, values))
    assert shown(some.rows) == shown(expected)


@given(st.builds(_fold, st.datetimes(), st.integers(0, 1)))
def test_a_date_and_time_is_put_in_utc_as_replace_does_it(value: datetime) -> None:
    spec = SCHEMA["Updates"]
    at = spec.fields["at"].title
    typed = read_sheet(spec, "Updates", [[at], [value]]).rows[0].values["at"]
    assert repr(typed) == repr(value.replace(tzinfo=UTC))
    assert typed.fold == value.fold and typed.tzinfo is UTC


def test_a_plain_sheet_is_typed_alike_both_ways() -> None:
    """(The property tests compare with the reference: it must type rows at all.)"""
    spec = SCHEMA["Updates"]
    header = [f.title for f in spec.fields.values()]
    row = ["EVT-1", suite_clock.NOW.replace(tzinfo=None), " Ann ", "Monitoring", "note", "", "No", None, 1.0, time(1)]
    rows = [row, [None] * 9, ["", "  "]]
    data = read_sheet(spec, "Updates", [header, *rows])
    assert [r.number for r in data.rows] == [2]
    assert data.rows[0].values["author"] == "Ann" and data.rows[0].values["at"].tzinfo is UTC
    assert shown(data.rows) == shown(reference_rows(data, spec, enumerate(rows, start=2), data._plan, None))


@settings(max_examples=300, deadline=None, database=None)
@given(sheets(), st.data())
def test_the_columns_validate_reads_are_the_rows_made_later(sheet: Any, draw: st.DataObject) -> None:
    """`tracker validate` reads a sheet a column at a time and makes only some of its rows (`rows_at`): the columns
    are the rows' values, the rows made early are the very rows the sheet holds later, and a change the view made
    to one of them is in the columns asked for after it."""
    spec, header, rows = sheet
    data = read_sheet(spec, spec.name, [header, *rows])
    expected = reference_rows(data, spec, enumerate(rows, start=2), data._plan, None)
    numbers, columns = data.typed_columns()
    assert numbers == [r.number for r in expected]
    assert repr(columns) == repr({name: [r.values[name] for r in expected] for name in spec.fields})
    chosen = draw.draw(st.lists(st.sampled_from(numbers or [2]), max_size=3))
    early = data.rows_at(chosen)
    assert [r.number for r in early] == sorted(set(chosen) & set(numbers))
    changed = spec.fields[draw.draw(st.sampled_from(list(spec.fields)))].name
    for row in early:
        row.values[changed] = "changed by the view"
    again = data.typed_columns()[1][changed]
    assert all(again[numbers.index(row.number)] == "changed by the view" for row in early)
    made = data.rows
    assert all(any(row is m for m in made) for row in early)  # the same objects
    assert shown(made) == shown([next((e for e in early if e.number == r.number), r) for r in expected])

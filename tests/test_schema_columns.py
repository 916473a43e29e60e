"""`tracker validate` checks a sheet's schema a column at a time (tracker.workbook.schema_columns) and then only the
rows that might break a rule, one by one: a row it leaves out must be a row the row-by-row check finds nothing in,
whatever the cells and whatever rules a team's own schema uses."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests import suite_clock
from tests.test_typing_columns import CELLS
from tracker.workbook.schema import SheetSpec, load_schema, row_instance
from tracker.workbook.schema_columns import SheetRules
from tracker.workbook.sheet_data import read_sheet

SCHEMA = load_schema()
DAY = suite_clock.NOW.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)  # a day of the suite's clock
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _near_misses(spec: SheetSpec) -> list[Any]:
    """Cells that sit on a rule's edge in this sheet: the dropdown's values and their near misses, IDs right and
    wrong, texts at and over a length limit, numbers at and past a bound."""
    good, year = suite_clock.event_id(), suite_clock.year()
    out: list[Any] = [good, f"EVT-{year % 100}-1", f"{good}\n", f"TASK-{year}-0001", suite_clock.action_id(), "x" * 501]
    for field in spec.fields.values():
        schema = field.schema
        for option in field.enum:
            out += [option, f" {option}", option.lower(), option.upper()]
        for key in ("maxLength", "minLength"):
            if key in schema:
                out += ["y" * schema[key], "y" * (schema[key] + 1), "y" * max(schema[key] - 1, 0)]
        for key in ("minimum", "maximum"):
            if key in schema:
                out += [schema[key], schema[key] - 1, schema[key] + 1, float(schema[key]) + 0.5]
    return out


@st.composite
def sheets(draw: st.DrawFn) -> tuple[SheetSpec, list[list[Any]]]:
    """A shipped sheet's header and a few rows of raw cells, as python-calamine gives them."""
    spec = draw(st.sampled_from(list(SCHEMA)))
    header = [field.title for field in spec.fields.values()]
    cells = st.one_of(CELLS, st.sampled_from(_near_misses(spec)), st.none(), st.none())
    rows = draw(st.lists(st.lists(cells, min_size=len(header), max_size=len(header)), max_size=6))
    return spec, [header, *rows]


def _found(spec: SheetSpec, values: dict[str, Any]) -> list[Any] | str:
    """What the row-by-row check says of a row (its problems, or what it raised)."""
    try:
        return spec.check_row(values)
    except Exception as exc:  # noqa: BLE001 - raised: the row must be one to check
        return f"raised {exc!r}"


@given(sheets())
@settings(max_examples=400)
def test_a_row_left_out_breaks_no_rule_of_the_shipped_schema(sheet: tuple[SheetSpec, list[list[Any]]]) -> None:
    spec, raw = sheet
    typed_first = read_sheet(spec, spec.name, raw)
    typed_first.check_schema_as_typed()  # the rules run on each column as it is typed (validate's way)
    rows = typed_first.rows
    as_typed = typed_first.rows_to_check()
    after = read_sheet(spec, spec.name, raw)
    later = after.rows_to_check()  # asked once the rows are typed: found from the rows
    assert as_typed & {row.number for row in rows} == later  # (a blank row is no row: what is said of it is moot)
    with_problems = {row.number for row in rows if _found(spec, row.values)}
    assert with_problems <= as_typed, [(row.number, _found(spec, row.values)) for row in rows]
    assert after.rows_to_check() == later  # asked again (the view may have changed the rows): found again


def test_the_rows_to_check_are_the_rows_with_problems_in_a_realistic_sheet() -> None:
    """Nearly every row of a real tracker breaks no rule: the checks look at those that do, and only a few more."""
    spec = SCHEMA["Events"]
    header = [field.title for field in spec.fields.values()]
    good = {
        "id": suite_clock.event_id(),
        "title": "VPN down",
        "severity": "Sev 1",
        "status": "Closed",
        "category": "outage",
        "detected_at": DAY.replace(hour=9),
        "resolved_at": DAY.replace(hour=10),
        "closed_at": DAY.replace(hour=11),
    }
    rows = []
    for number in range(1, 201):
        values = dict(good, id=suite_clock.event_id(number))
        rows.append([values.get(name) for name in spec.fields])
    rows[10][list(spec.fields).index("status")] = "Closd"  # row 12: not a status
    rows[20][list(spec.fields).index("closed_at")] = None  # row 22: Closed without a closing time
    rows[30][list(spec.fields).index("id")] = f"EVT-{suite_clock.year() % 100}-31"  # row 32: not an ID
    data = read_sheet(spec, "Events", [header, *rows])
    data.check_schema_as_typed()
    assert len(data.rows) == 200
    assert data.rows_to_check() == {12, 22, 32}


# A team's own schema: the rules a property may use, the checks here reading some and handing the rest to
# jsonschema-rs value by value
KEYWORDS: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(["string", "integer", "number", "boolean", "null", ["string", "null"], "array"]),
    "enum": st.lists(st.sampled_from(["a", "b", "Sev 1", 1, 2.5, None, True]), min_size=1, max_size=3, unique=True),
    "const": st.sampled_from(["a", 1, None]),
    "maxLength": st.integers(0, 4),
    "minLength": st.integers(0, 3),
    "minimum": st.sampled_from([0, 1, -2.5, 10**20]),
    "maximum": st.sampled_from([0, 5, 7.5, 2**60]),
    "exclusiveMinimum": st.sampled_from([0, 1.5]),
    "multipleOf": st.sampled_from([2, 0.5]),
    "pattern": st.sampled_from(["^a", "^[0-9]+$", "b$", "^\\d+$", "^\\w$"]),
    "format": st.sampled_from(["date-time", "email", "date"]),
    "title": st.just("A column"),
    "x-width": st.just(12),
}
COMMON = ["type", "enum", "maxLength", "minLength", "minimum", "maximum", "pattern", "format", "title"]


def _now_and_then(draw: st.DrawFn, percent: int) -> bool:
    """True about `percent` times in a hundred (not at a bound: hypothesis draws the bounds of a range often)."""
    return draw(st.integers(1, 1000)) in range(400, 400 + percent * 10)


@st.composite
def properties(draw: st.DrawFn) -> dict[str, Any]:
    """A property with a few rules, mostly of those the checks read, now and then one they do not (or a $ref)."""
    names = draw(st.lists(st.sampled_from(COMMON), max_size=3, unique=True))
    if _now_and_then(draw, 20):
        names.append(draw(st.sampled_from(sorted(set(KEYWORDS) - set(COMMON)))))
    prop = {name: draw(KEYWORDS[name]) for name in names}
    if _now_and_then(draw, 3):
        prop["$ref"] = "#/$defs/short"
    return prop


VALUES = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.none(),
    st.sampled_from(["a", "b", "Sev 1", "1", "x@example.com", f"{suite_clock.year()}-01-04T09:00:00Z"]),
    st.sampled_from([0, 1, 2, 5, 7, 2.5]),
    st.sampled_from(
        ["", "a", "b", "ab", "Sev 1", "1", "١٢", "a\n", "x@example.com", f"{suite_clock.year()}-01-04T09:00:00Z", "é"]
    ),
    st.text(max_size=5),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2, 5, 7, 2**53, 2**53 + 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 2.5, 7.5, -2.5, math.nan, math.inf]),
    st.booleans(),
    st.builds(datetime, st.integers(1, 9999), st.integers(1, 12), st.integers(1, 28), tzinfo=st.just(UTC)),
    st.dates(),
    st.lists(st.integers(0, 3), max_size=2),
)


# The ifs of a team's `if ... then: required`: a dropdown's test (read column by column), and others that are not
IFS = st.sampled_from(
    [
        {"properties": {"a": {"const": "a"}}, "required": ["a"]},
        {"properties": {"a": {"enum": ["a", "Sev 1"]}}, "required": ["a"]},
        {"properties": {"a": {"enum": ["b", ""]}}},  # without `required`: a row without an `a` meets it
        {"properties": {"a": {"const": 1}}, "required": ["a"]},  # a number: JSON's equality is not Python's
        {"properties": {"a": {"enum": ["a", None]}}, "required": ["a"]},
        {"properties": {"a": {"enum": ["a"], "type": "string"}}, "required": ["a"]},
        {"properties": {"a": {"const": "a"}, "b": {"const": "b"}}, "required": ["a"]},
        {"properties": {"z": {"const": "a"}}, "required": ["z"]},  # a field no column holds
        {"required": ["a"]},
        {"properties": {"a": {"maxLength": 1}}},
        # a time cell reaches the validator as this text (schema.row_instance): a time may meet it
        {"properties": {"a": {"enum": ["2000-01-01T00:00:00Z", "b"]}}, "required": ["a"]},
        # before 2019-09 a $ref makes its siblings ignored: the if is the $ref's, not the properties'
        {"properties": {"a": {"const": "zz"}}, "required": ["a"], "$ref": "#/$defs/short"},
        {"properties": {"b": {"enum": ["a", "b"]}}, "required": ["b"]},
    ]
)
DRAFTS = st.sampled_from([DRAFT, DRAFT, "http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-06/schema#",
                          "http://json-schema.org/draft-04/schema#"])  # fmt: skip


@st.composite
def team_schemas(draw: st.DrawFn) -> dict[str, Any]:
    names = ["a", "b", "c"]
    schema: dict[str, Any] = {
        "$schema": draw(DRAFTS),
        "title": "Mine",
        "type": "object",
        "$defs": {"short": {"maxLength": 1}},
    }
    schema["properties"] = {name: draw(properties()) for name in names}
    schema["required"] = draw(st.lists(st.sampled_from(names), unique=True, max_size=1))
    if draw(st.booleans()):
        then = draw(st.sampled_from([{"required": ["c"]}, {"required": ["b", "c"]}]))
        if _now_and_then(draw, 10):
            then = {"properties": {"c": {"maxLength": 1}}}
        rule = {"if": draw(IFS), "then": then}
        if _now_and_then(draw, 10):
            rule["else"] = {"required": ["b"]}
        schema["allOf"] = [rule]
        if draw(st.booleans()):  # a second rule asking for the same field, or another, under another if
            schema["allOf"].append({"if": draw(IFS), "then": draw(st.sampled_from([{"required": ["c"]}, then]))})
    if _now_and_then(draw, 10):  # a sheet-level rule the checks do not read, or a keyword of tracker's own
        key, value = draw(st.sampled_from([("additionalProperties", False), ("minProperties", 2), ("x-table", "T")]))
        schema[key] = value
    return schema


@given(team_schemas(), st.lists(st.fixed_dictionaries({n: VALUES for n in "abc"}), min_size=1, max_size=6))
@settings(max_examples=600)
def test_a_row_left_out_breaks_no_rule_of_a_teams_own_schema(schema: dict[str, Any], rows: list[dict]) -> None:
    try:
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    except Exception:  # noqa: BLE001 - not a schema tracker would load
        assume(False)
    columns = {name: [row[name] for row in rows] for name in "abc"}
    left_out = set(range(len(rows))) - set(SheetRules(schema).rows_to_check(columns, len(rows)))
    for position in left_out:
        try:
            valid = validator.is_valid(row_instance(rows[position]))
        except Exception as exc:  # noqa: BLE001
            valid = f"raised {exc!r}"
        assert valid is True, (rows[position], valid)


def test_text_in_a_date_column_is_checked_and_a_clean_row_is_not() -> None:
    spec = SCHEMA["Updates"]
    header = [field.title for field in spec.fields.values()]
    base = {"event_id": suite_clock.event_id(), "at": DAY.replace(hour=9), "status": "Investigating", "note": "n"}
    rows = [[values.get(name) for name in spec.fields] for values in (base, dict(base, at="yesterday"))]
    data = read_sheet(spec, "Updates", [header, *rows])
    data.check_schema_as_typed()
    assert data.rows_to_check() == {3}
    assert spec.check_row(data.rows[1].values)


def test_only_the_rows_an_if_applies_to_must_fill_what_it_requires() -> None:
    """An open event without its Resolved time meets `if Resolved or Closed then required Resolved time`: the checks
    leave it out (at 10,000 events, 500 rows fewer to check one by one); a Resolved one without it is checked, as is
    a row an if without `required` applies to for lacking the field it tests."""
    rules = SheetRules(SCHEMA["Events"].schema)
    statuses = ["Investigating", "Resolved", "Closed", "Closed", "resolved", None, "Monitoring"]
    resolved = [None, None, None, DAY, None, None, DAY]
    closed = [None, None, None, None, None, None, None]
    columns = {"status": statuses, "resolved_at": resolved, "closed_at": closed}
    assert rules.lacking(columns, len(statuses)) == {1, 2, 3}  # (row 5's status, row 6's emptiness: their own rules)
    team = SheetRules(
        {
            "$schema": DRAFT,
            "type": "object",
            "properties": {"a": {"type": "string"}, "c": {"type": "string"}},
            "allOf": [{"if": {"properties": {"a": {"enum": ["b"]}}}, "then": {"required": ["c"]}}],
        }
    )
    assert team.rows_to_check({"a": [None, "b", "x", "x"], "c": [None, None, None, "y"]}, 4) == [0, 1]
    old = SheetRules({**SCHEMA["Events"].schema, "$schema": "http://json-schema.org/draft-06/schema#"})
    assert old.lacking(columns, len(statuses)) == set()  # (no `if` before draft 7: checked on every row lacking it)
    assert {"resolved_at", "closed_at"} <= old.needed


def _left_out_but_invalid(schema: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows the column checks leave out that jsonschema-rs, as check_row asks it, finds a problem in."""
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    columns = {name: [row.get(name) for row in rows] for name in schema["properties"]}
    kept = set(SheetRules(schema).rows_to_check(columns, len(rows)))
    return [row for i, row in enumerate(rows) if i not in kept and not validator.is_valid(row_instance(row))]


def _team(*rules: dict[str, Any], draft: str = DRAFT) -> dict[str, Any]:
    properties = {name: {} for name in "abc"}
    return {"$schema": draft, "type": "object", "$defs": {"short": {"maxLength": 1}}, "properties": properties,
            "allOf": list(rules)}  # fmt: skip


def test_the_ifs_that_catch_a_row_lacking_a_field_are_each_read() -> None:
    """Rows an `if` applies to, found where a shortcut would miss them: the second of two ifs asking for the same
    field; a time cell (the validator reads it as a fixed date-time text) under an if listing that text; an if
    whose `$ref` hides its other keywords (draft 7)."""
    lacking_c = {"required": ["c"]}
    second = _team(
        {"if": {"properties": {"a": {"const": "x"}}, "required": ["a"]}, "then": lacking_c},
        {"if": {"properties": {"b": {"const": "y"}}, "required": ["b"]}, "then": lacking_c},
    )
    assert _left_out_but_invalid(second, [{"a": "q", "b": "y", "c": None}, {"a": "q", "b": "n", "c": None}]) == []
    assert SheetRules(second).rows_to_check({"a": ["q", "q"], "b": ["y", "n"], "c": [None, None]}, 2) == [0]
    when = datetime(suite_clock.year(), 1, 4, 9, tzinfo=UTC)
    timed = _team(
        {"if": {"properties": {"a": {"enum": ["2000-01-01T00:00:00Z"]}}, "required": ["a"]}, "then": lacking_c}
    )
    assert _left_out_but_invalid(timed, [{"a": when, "c": None}]) == []
    hidden = {"properties": {"a": {"const": "zz"}}, "required": ["a"], "$ref": "#/$defs/short"}
    draft7 = _team({"if": hidden, "then": lacking_c}, draft="http://json-schema.org/draft-07/schema#")
    assert _left_out_but_invalid(draft7, [{"a": "q", "c": None}]) == []

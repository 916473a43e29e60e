"""Which rows of a sheet the schema check needs to look at, found a column at a time.

`SheetSpec.check_row` checks one row with jsonschema-rs; for `tracker validate` on a sheet of 40,000 rows, building
each row's JSON instance cost more than the checks themselves (~90 ms at 10,000 events). Here each column is looked
at whole, mostly by C-level passes (the set of its value types, the longest text, the values outside a dropdown's
list), and only the rows that might break a rule are then checked one by one, by `check_row`, which words the
problems. The promise, tested against `check_row` on generated rows: a row left out has no schema problem.

Where a rule is not one of the few read here (types, lengths, lists of values, bounds, a `required` and a
`required` that only applies to some rows), the column's values are checked with jsonschema-rs itself, each
distinct value once; a sheet rule not read here makes every row one to check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tracker.native import held_import

# The keywords of a property read here; any other sends the column's values to jsonschema-rs, one distinct value
# at a time, as are text cells under a "pattern" or a "format".
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated"})
_READ = frozenset({"type", "enum", "maxLength", "minLength", "minimum", "maximum"}) | _ANNOTATIONS
# The sheet-level keywords read here: the rest make every row one to check.
_SHEET = frozenset(
    {"$schema", "$id", "title", "description", "type", "properties", "required", "allOf", "$comment", "$defs"}
)

_VALID_TIME = "2000-01-01T00:00:00Z"  # what check_row gives the validator for a date cell (schema.row_instance)
_BIGGEST = 2**53  # whole numbers at most this far from 0 compare the same in Python and in jsonschema-rs
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float)}
_NONE = type(None)
_JSON = frozenset({str, int, float, bool, list, tuple, dict})  # the Python types jsonschema-rs takes as JSON


class ColumnRule:
    """The schema of one property, compiled to answer "which of these cells might break it?"."""

    def __init__(self, prop: dict[str, Any], draft: str | None) -> None:
        self._prop = prop
        self._draft = draft
        keywords = {k for k in prop if not k.startswith("x-")}
        kind = prop.get("type")
        self.fast = keywords <= _READ | {"format", "pattern"} and (kind is None or str(kind) in _PYTHON_TYPES)
        self._types: tuple[type, ...] | None = _PYTHON_TYPES.get(kind) if isinstance(kind, str) else None
        enum = prop.get("enum")
        self._enum = frozenset(enum) if isinstance(enum, list) and all(type(v) is str for v in enum) else None
        if enum is not None and self._enum is None:
            self.fast = False  # a list with numbers or null: JSON's equality is not Python's
        self._each = "pattern" in prop or "format" in prop  # (text in a date-time column: what jsonschema-rs says)
        rules = keywords - _ANNOTATIONS - {"type"}
        self._types_only = self.fast and not rules  # its cells' types are all there is to check
        # a dropdown's texts, when they are the column's one rule
        self._dropdown = self._enum if self.fast and rules == {"enum"} and kind is None else None
        self._validator: Any = None
        self._dates_valid: bool | None = None

    def suspects(self, cells: Sequence[Any]) -> set[int]:
        """The positions of the cells that might break this property's rules (None: an empty cell, never)."""
        if self._dropdown is not None:  # a cell holding one of the dropdown's texts is valid, whatever else it holds
            try:
                if set(cells) - {None} <= self._dropdown:
                    return set()
            except TypeError:  # an unhashable value (not one the reader gives): looked at below
                pass
        types = set(map(type, cells))
        types.discard(_NONE)
        every = len(types)
        out: set[int] = set()
        foreign = {t for t in types - _JSON if not issubclass(t, datetime)}
        if foreign:  # a value jsonschema-rs cannot take (a date alone, a time of day): check_row says what it does
            out.update(i for i, c in enumerate(cells) if type(c) in foreign)
            types -= foreign
        dates = {t for t in types if issubclass(t, datetime)}
        if dates:  # check_row gives the validator one valid date-time for each: valid, or none is
            types -= dates
            if self._dates_valid is None:
                self._dates_valid = _safely(self._all_valid, [_VALID_TIME])
            if not self._dates_valid:
                out.update(i for i, c in enumerate(cells) if isinstance(c, datetime))
        allowed = set(self._types) if self._types is not None else {str, int, float}
        if not types or self._types_only and types <= allowed and float not in types:  # (NaN is no JSON number)
            return out
        if not self.fast or types - allowed:
            if self.fast and self._types is not None:  # of a type the rule does not allow: checked row by row
                out.update(i for i, c in enumerate(cells) if type(c) in types - allowed)
            else:  # of a type the rules here do not read, or rules they do not: jsonschema-rs looks at them
                out |= self._by_value(cells, types - allowed if self.fast else types)
            types &= allowed
            if not self.fast or not types:
                return out
        try:
            if len(types) == every:  # (nothing of another type, which a set could merge with these: True == 1)
                distinct = set(cells)
                distinct.discard(None)
            else:
                distinct = {c for c in cells if type(c) in types}
        except TypeError:  # an unhashable value (not one the reader gives)
            return out | self._by_value(cells, types)
        wrong = self._texts(distinct if types == {str} else {v for v in distinct if type(v) is str})
        if types & {int, float}:
            wrong |= self._numbers({v for v in distinct if type(v) is not str})
        if wrong:
            out.update(i for i, c in enumerate(cells) if type(c) in types and c in wrong)
        return out

    def _texts(self, texts: set[str]) -> set[Any]:
        """The distinct texts that might break the rules."""
        if not texts:
            return set()
        prop = self._prop
        wrong: set[Any] = set()
        longest, shortest = prop.get("maxLength"), prop.get("minLength")
        if isinstance(longest, int) and max(map(len, texts)) > longest:
            wrong |= {t for t in texts if len(t) > longest}
        if isinstance(shortest, int) and min(map(len, texts)) < shortest:
            wrong |= {t for t in texts if len(t) < shortest}
        if self._enum is not None:
            wrong |= texts - self._enum
        if self._each and not _safely(self._all_valid, list(texts)):
            wrong |= {t for t in texts if not _safely(self._all_valid, [t])}
        return wrong

    def _numbers(self, numbers: set[Any]) -> set[Any]:
        """The distinct numbers that might break the rules."""
        if not numbers:
            return set()
        if self._enum is not None:
            return numbers  # a number is never in a list of text
        lowest, highest = self._prop.get("minimum"), self._prop.get("maximum")
        bounds = [b for b in (lowest, highest) if b is not None]
        low, high = min(numbers), max(numbers)
        if (
            all(type(b) in (int, float) for b in bounds)
            and not any(n != n for n in numbers)  # (a NaN: min and max may not see it)
            and -_BIGGEST <= low
            and high <= _BIGGEST
            and (lowest is None or low >= lowest)
            and (highest is None or high <= highest)
        ):
            return set()
        return {n for n in numbers if not _safely(self._all_valid, [n])}

    def _by_value(self, cells: Sequence[Any], types: set[type]) -> set[int]:
        """The positions of the cells of these types jsonschema-rs finds invalid, each distinct value checked once
        (an unhashable one: every time)."""
        verdicts: dict[tuple[type, Any], bool] = {}
        out: set[int] = set()
        for position, cell in enumerate(cells):
            if type(cell) not in types:
                continue
            try:
                verdict = verdicts.get((type(cell), cell))
                if verdict is None:
                    verdict = verdicts[(type(cell), cell)] = _safely(self._all_valid, [cell])
            except TypeError:  # unhashable
                verdict = _safely(self._all_valid, [cell])
            if not verdict:
                out.add(position)
        return out

    def _all_valid(self, values: list[Any]) -> bool:
        """Whether jsonschema-rs finds every one of these values valid under the property's schema (one call)."""
        if self._validator is None:
            items = {"type": "array", "items": self._prop}
            schema = items if self._draft is None else {"$schema": self._draft, **items}
            self._validator = held_import("jsonschema_rs").validator_for(schema, validate_formats=True)
        return bool(self._validator.is_valid(values))


def _refers(node: Any) -> bool:
    """Whether a schema holds a reference ($ref and its kin) anywhere."""
    if isinstance(node, dict):
        return any(key in ("$ref", "$dynamicRef", "$recursiveRef") or _refers(v) for key, v in node.items())
    return isinstance(node, list) and any(_refers(v) for v in node)


def _safely(check: Callable[[Any], bool], value: Any) -> bool:
    """The validator's verdict, False (check the row) when it cannot take the value at all."""
    try:
        return check(value)
    except Exception:  # noqa: BLE001 - check_row then raises or words it, as it would have
        return False


class SheetRules:
    """A sheet's schema, compiled to find the rows its check needs to look at (`rows_to_check`)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        draft = schema.get("$schema") if isinstance(schema.get("$schema"), str) else None
        found = schema.get("properties")
        props: dict[str, Any] = found if isinstance(found, dict) else {}
        self.columns = {name: ColumnRule(prop, draft) for name, prop in props.items() if isinstance(prop, dict)}
        keywords = {k for k in schema if not k.startswith("x-")}
        required = schema.get("required", [])
        self.every_row = (
            not keywords <= _SHEET
            or schema.get("type", "object") != "object"
            or len(self.columns) != len(props)
            or not isinstance(required, list)
            or any(_refers(prop) for prop in props.values())  # (its column's values checked alone would not resolve)
        )
        needed = [str(name) for name in required] if isinstance(required, list) else []
        # an `if ... then: required` applies to some rows: a row holding what it requires meets it, whatever the if;
        # a row lacking it meets it too when the if is a dropdown's test (`_condition`) the row's value fails
        self.when: dict[str, list[tuple[str, frozenset[str], bool]]] = {}  # field -> the tests requiring it
        rules = schema.get("allOf", [])
        self.every_row |= not isinstance(rules, list)
        for rule in rules if isinstance(rules, list) else []:
            then = rule.get("then") if isinstance(rule, dict) else None
            if (
                not isinstance(rule, dict)
                or set(rule) - {"if", "then", "$comment"}
                or not isinstance(then, dict)
                or set(then) != {"required"}
                or not isinstance(then["required"], list)
            ):
                self.every_row = True
                break
            test = _condition(rule.get("if"), draft)
            for name in map(str, then["required"]):
                if test is None:
                    needed.append(name)
                else:
                    self.when.setdefault(name, []).append(test)
        self.needed = frozenset(needed)  # the fields every row, or a row whose if is not read here, must fill
        self.when = {name: tests for name, tests in self.when.items() if name not in self.needed}
        if not (self.needed | set(self.when)) <= set(self.columns):
            self.every_row = True  # a field no column can hold: every row lacks it

    def rows_to_check(self, columns: Mapping[str, Sequence[Any]], count: int) -> list[int]:
        """The positions, in order, of the rows (`columns`: each field's cells, row by row; a field left out is
        empty on every row) that might break a rule: `check_row` finds nothing in any other."""
        if self.every_row:
            return list(range(count))
        out: set[int] = set()
        for name in self.columns:
            out |= self.suspects_in(name, columns.get(name, (None,) * count))
        return sorted(out | self.lacking(columns, count))

    def suspects_in(self, name: str, cells: Sequence[Any]) -> set[int]:
        """The positions of the cells of field `name` (row by row) whose row might break a rule for the field: an
        empty cell every row must fill, a value its own rules may refuse (an empty cell only some rows must fill:
        `lacking`, once every column is there)."""
        out: set[int] = set()
        if name in self.needed and None in cells:
            out.update(i for i, c in enumerate(cells) if c is None)
        rule = self.columns.get(name)
        return out | rule.suspects(cells) if rule is not None else out

    def lacking(self, columns: Mapping[str, Sequence[Any]], count: int) -> set[int]:
        """The positions of the rows lacking a field that an `if` requires of them, where the row's value might
        meet the if (a Resolved event without its Resolved time); an open event lacking it meets the rule."""
        out: set[int] = set()
        for name, tests in self.when.items():
            cells = columns.get(name, (None,) * count)
            empty = [i for i, c in enumerate(cells) if c is None] if None in cells else []
            for field, options, present in tests if empty else ():
                values = columns.get(field, (None,) * count)
                out.update(i for i in empty if _may_meet(values[i], options, present))
        return out


def _condition(test: Any, draft: str | None) -> tuple[str, frozenset[str], bool] | None:
    """An `if` read here, as (field, the texts it is met by, whether the field must be there): the test of one
    field's value against a list of texts (`const` or `enum`), e.g. {"properties": {"status": {"enum": ["Resolved",
    "Closed"]}}, "required": ["status"]}; None for any other (the field it requires is then checked on every row
    lacking it), and in a schema of a draft before 7, which has no `if` (nor `const` before 6)."""
    if draft is not None and any(old in draft for old in ("draft-03", "draft-04", "draft-06")):
        return None
    if not isinstance(test, dict) or set(test) - {"properties", "required", "$comment"}:
        return None
    props, required = test.get("properties"), test.get("required", [])
    if not isinstance(props, dict) or len(props) != 1 or not isinstance(required, list):
        return None
    ((field, prop),) = props.items()
    if not isinstance(prop, dict) or len(prop) != 1 or set(required) - {field}:
        return None
    options = [prop["const"]] if "const" in prop else prop.get("enum")
    if not isinstance(options, list) or not all(type(option) is str for option in options):
        return None  # (a number or null: JSON's equality is not Python's)
    return str(field), frozenset(options), field in required


def _may_meet(value: Any, options: frozenset[str], present: bool) -> bool:
    """Whether a cell's typed value might meet a test of `_condition`: not when empty and the test requires the
    field, nor when it is a text not in the list (a text equals no number or other value in JSON)."""
    if value is None:
        return not present
    return type(value) is not str or value in options

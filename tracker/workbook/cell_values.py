"""A cell's value as tracker types it: the column's Python type, trimmed text, the key a lookup compares."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tracker.times import as_utc
from tracker.workbook.schema import FieldSpec, beyond_excel

TIME_OF_DAY = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?$")  # how a time the reader gave reads as text


def coerce(spec: FieldSpec, value: Any) -> Any:
    """A cell's value as the field's Python type; what does not fit is left for validation."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if spec.enum:
            folded = value.casefold()
            for option in spec.enum:
                if option.casefold() == folded:
                    return option
        elif spec.kind == "integer" and value.isdecimal():  # (not isdigit: int() refuses "¹")
            number = int(value)
            return value if beyond_excel(number) else number  # (more digits than Excel keeps: text, as typed)
        return value
    if isinstance(value, bool):
        if spec.enum == ("Yes", "No"):
            return "Yes" if value else "No"
        return value
    if isinstance(value, datetime | date):
        if spec.kind == "datetime":
            return as_utc(value)
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, int | float):
        if isinstance(value, float) and whole_number(value) and spec.kind != "datetime":
            value = int(value)
        if spec.kind == "text":
            return str(value)
        return value
    if isinstance(value, time | timedelta):
        return str(value)
    return str(value)


def converter(spec: FieldSpec) -> Callable[[Any], Any]:
    """`coerce` for one column, with a fast path for the common cell types (validate reads ~500k cells at 10k events)."""
    if spec.kind == "datetime":

        def datetime_cell(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return coerce(spec, value)

        return datetime_cell
    if spec.kind == "text":

        def text_cell(value: Any) -> Any:
            if type(value) is str:
                value = value.strip()
                return value or None
            return coerce(spec, value)

        return text_cell
    return lambda value: coerce(spec, value)


def whole_number(value: float) -> bool:
    """Whether a float cell is a whole number tracker shows as one: up to Excel's 15 digits. 1E+300 stays a float, so
    it is shown as Excel shows it (1e+300), not as 301 digits Excel never held."""
    return value.is_integer() and not beyond_excel(value)


ROW_KEY = "\x00row:"  # a SetCells key "\x00row:7" means Excel row 7 (no one types a NUL, no ID starts with one)


def raw_key(value: Any) -> str:
    """A raw cell as a lookup key, the way typed text compares: 1001.0 -> "1001", trimmed, case-folded."""
    if isinstance(value, float) and whole_number(value):
        value = int(value)
    return str("" if value is None else value).strip().casefold()

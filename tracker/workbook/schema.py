"""The workbook schema: one JSON Schema file per sheet in `workbook_schema/`.

Property keys are the field names code and templates use; `title` is the Excel header;
`description` is the help shown in Excel; `enum` becomes a dropdown; `x-` keywords carry
what JSON Schema lacks (`x-width`, `x-wrap`, `x-print-through`, `x-number-format`, `x-ref` "Sheet.field" for
cross-sheet references, `x-separator` for comma lists, `x-unique`, `x-colours`,
`x-audiences` for who may read a field in emails and pages, `x-applied-mark` for the column tracker fills on each
row it applied (a row typed in Excel without it acts as a command), `x-added` for a column newer than
some workbooks, which they may lack until someone adds it). The words tracker's rules are written in are read
from the schema too (`Vocabulary`): `x-lifecycle` on Events.status, `x-id-prefix` on the ID fields, `x-role` on
the fields naming who leads, and the categories' `enum`.
Rows are checked with jsonschema-rs, which reports every problem in a row (see README,
"Performance", for why this implementation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from tracker.errors import SchemaError
from tracker.native import held_import
from tracker.resources import data_dir
from tracker.times import iso
from tracker.workbook.schema_columns import SheetRules

DATE_TIME_EXAMPLE = "a date and time in UTC, e.g. 2026-11-21 14:32"
DATE_EXAMPLE = "a date, e.g. 2026-12-11"


def normalize_header(text: object) -> str:
    """Headers match ignoring case, spacing and underscores."""
    return re.sub(r"[\s_]+", " ", str(text)).strip().casefold()


@dataclass(frozen=True)
class FieldSpec:
    """One column of a sheet, as the schema describes it."""

    name: str
    title: str
    description: str
    schema: dict[str, Any]
    required: bool
    column: int

    @cached_property
    def kind(self) -> str:
        """datetime, integer, number, enum or text."""
        if self.schema.get("format") == "date-time":
            return "datetime"
        if "enum" in self.schema:
            return "enum"
        if self.schema.get("type") in ("integer", "number"):
            return str(self.schema["type"])
        return "text"

    @cached_property
    def date_only(self) -> bool:
        """A date-time column that holds calendar days (Due Date, Review Date): its number format shows no time."""
        return self.kind == "datetime" and not re.search(r"[hs]", self.number_format or "h", re.I)

    @property
    def what(self) -> str:
        """What a value of this column is, in words: "a date", "a date and time", "a whole number", "a number",
        "text"."""
        if self.kind == "datetime":
            return "a date" if self.date_only else "a date and time"
        return {"integer": "a whole number", "number": "a number"}.get(self.kind, "text")

    @cached_property
    def enum(self) -> tuple[str, ...]:
        """The allowed values of an enumeration, else ()."""
        return tuple(self.schema.get("enum", ()))

    @cached_property
    def ref(self) -> tuple[str, str] | None:
        """(sheet, field) this column must name a row of, if any."""
        ref = self.schema.get("x-ref")
        if not ref:
            return None
        sheet, _, name = ref.partition(".")
        return sheet, name

    @cached_property
    def separator(self) -> str | None:
        """Separator of a list-valued cell (e.g. ","), else None."""
        return self.schema.get("x-separator")

    @cached_property
    def unique(self) -> bool:
        """Whether two rows may not share a value in this column."""
        return bool(self.schema.get("x-unique"))

    @cached_property
    def audiences(self) -> tuple[str, ...]:
        """Who may read this field in an email or on a page (`x-audiences`): audience names, `internal` (every
        internal audience) or `everyone`. Without the keyword: internal audiences only, so a new external
        audience sees nothing it was not meant to."""
        value = self.schema.get("x-audiences", "internal")
        return tuple(str(v).strip().casefold() for v in ([value] if isinstance(value, str) else value))

    def visible_to(self, audience: str, internal: tuple[str, ...]) -> bool:
        """Whether `audience` may read this field, `internal` being the internal audiences (casefolded)."""
        name = audience.casefold()
        tokens = self.audiences
        if "everyone" in tokens or ("internal" in tokens and name in internal):
            return True
        return name in tokens and name not in ("internal", "everyone")  # the keywords are never audience names

    @property
    def added(self) -> str | None:
        """The tracker version that added this column (`x-added`): a workbook made before may lack it."""
        value = self.schema.get("x-added")
        return str(value) if value is not None else None

    @property
    def width(self) -> float:
        """Excel column width."""
        return float(self.schema.get("x-width", 16))

    @property
    def wrap(self) -> bool:
        """Whether the column's text wraps inside its width (`x-wrap`: long free text), on screen and on paper."""
        return bool(self.schema.get("x-wrap"))

    @property
    def number_format(self) -> str | None:
        """Excel number format for the column's cells."""
        return self.schema.get("x-number-format")

    def split(self, value: Any) -> list[str]:
        """The items of a list-valued cell (or the one value)."""
        if value is None:
            return []
        if not self.separator:
            return [str(value)]
        return [item.strip() for item in str(value).split(self.separator) if item.strip()]

    def join(self, items: list[str]) -> str:
        """Items as a list-valued cell holds them: separated by the x-separator and a space (one item: as is)."""
        return f"{self.separator} ".join(items) if self.separator else (items[0] if items else "")

    def allowed(self) -> str:
        """What a person may put in this column, in words."""
        schema = self.schema
        if "x-allowed" in schema:
            return str(schema["x-allowed"])
        if self.enum:
            return "one of: " + ", ".join(self.enum)
        if self.ref:
            many = f", several separated by '{self.separator}'" if self.separator else ""
            return f"a value listed on the {self.ref[0]} sheet (the dropdown's list){many}"
        if self.kind == "datetime":
            return DATE_EXAMPLE if self.date_only else DATE_TIME_EXAMPLE
        if self.kind in ("integer", "number"):
            word = "a whole number" if self.kind == "integer" else "a number"
            if "minimum" in schema and "maximum" in schema:
                word += f" from {schema['minimum']:,} to {schema['maximum']:,}"
            elif "minimum" in schema:
                word += f" of at least {schema['minimum']:,}"
            elif "maximum" in schema:
                word += f" of at most {schema['maximum']:,}"
            return word
        if schema.get("format") == "email":
            return "an email address such as name@example.com"
        if "maxLength" in schema:
            return f"text of at most {schema['maxLength']} characters"
        return "text"


@dataclass(frozen=True)
class SheetSpec:
    """One sheet of the workbook: its table, key and columns in order."""

    name: str
    table: str
    key: str | None
    description: str
    order: int
    fields: dict[str, FieldSpec]
    schema: dict[str, Any] = field(repr=False)

    @cached_property
    def applied_mark(self) -> str | None:
        """The column tracker fills on each row it applied (`x-applied-mark`: Updates' Applied); None: no such."""
        return next((n for n, spec in self.fields.items() if spec.schema.get("x-applied-mark")), None)

    @cached_property
    def by_header(self) -> dict[str, FieldSpec]:
        """Fields by normalized header text (title or field name)."""
        out: dict[str, FieldSpec] = {}
        for spec in self.fields.values():
            out[normalize_header(spec.title)] = spec
            out[normalize_header(spec.name)] = spec
        return out

    @cached_property
    def validator(self) -> Any:
        """The compiled jsonschema-rs validator for a row of this sheet."""
        jsonschema_rs = held_import("jsonschema_rs")  # not loaded by commands that only read
        return jsonschema_rs.validator_for(self.schema, validate_formats=True)

    @cached_property
    def column_rules(self) -> SheetRules:
        """The schema's rules compiled to find, a column at a time, the rows `check_row` might find a problem in."""
        return SheetRules(self.schema)

    def check_row(self, values: dict[str, Any]) -> list[tuple[str, str, str | None]]:
        """Every schema problem of one row as (field, message, allowed)."""
        instance = row_instance(values)
        validator = self.validator
        if validator.is_valid(instance):
            return []
        return [self._describe(error, values) for error in validator.iter_errors(instance)]

    def _describe(self, error: Any, values: dict[str, Any]) -> tuple[str, str, str | None]:
        kind = type(error.kind).__name__
        if kind == "Required":
            name = error.kind.property
            spec = self.fields[name]
            when = _condition_text(self, list(error.schema_path))
            return name, f"{spec.title} is required{when}", spec.allowed()
        name = str(error.instance_path[0]) if error.instance_path else self.key or ""
        spec = self.fields[name]
        value = values.get(name)
        shown = _show(value)
        messages = {
            "Enum": f"{shown} is not one of the allowed values",
            "Format": f"{shown} is not {spec.what if spec.kind == 'datetime' else 'valid'}",
            "Pattern": f"{shown} {spec.schema.get('x-pattern-message', 'is not in the expected form')}",
            "MinLength": f"{spec.title} is empty",
            "MaxLength": f"{shown} is too long",
            "Minimum": f"{shown} is too small",
            "Maximum": f"{shown} is too large",
        }
        if kind == "Type":
            message = f"{shown} is not {spec.what}"
            typed = number_in(value) if spec.kind == "integer" and isinstance(value, str) else None
            if typed is not None and beyond_excel(typed):
                message += f": it has more than {EXCEL_DIGITS} digits, which Excel would change, so it stays text"
        else:
            message = messages.get(kind, f"{shown}: {error.message}")
        if kind in ("Type", "Format") and text_as(spec, value) is not None:
            message = (
                f"{shown} is text that looks like {spec.what}: Excel keeps it as text (the cell is formatted as Text, "
                "or the value was typed after an apostrophe), so it does not sort, compare or count as one; retype "
                "it in the cell, or run `tracker validate --fix`"
            )
        return name, message, spec.allowed()


EXCEL_DIGITS = 15  # the digits of a whole number Excel keeps: tracker reads and writes whole numbers below 10**15


def beyond_excel(number: float) -> bool:
    """Whether a number is too big for a whole number Excel keeps as typed (more than EXCEL_DIGITS digits): written,
    12345678901234567890 reads back as 12345678901234567168; the one rule the reader, the writer and --fix use."""
    return abs(number) >= 10**EXCEL_DIGITS


def number_in(text: str) -> float | None:
    """The number a text cell spells (with or without thousands separators), or None."""
    text = text.strip()
    if not re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?|-?\d+(\.\d+)?", text):
        return None
    return float(text.replace(",", ""))


_TEXT_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def text_as(spec: FieldSpec, value: Any) -> Any:
    """What a text cell unambiguously means in a date-time or number column (ISO dates and times in UTC, numbers
    with or without thousands separators), or None."""
    if not isinstance(value, str) or spec.kind not in ("datetime", "integer", "number"):
        return None
    text = value.strip()
    if spec.kind == "datetime":
        from datetime import UTC

        bare = text.removesuffix("Z").removesuffix("UTC").strip()
        for fmt in _TEXT_DATE_FORMATS:
            try:
                return datetime.strptime(bare, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
        return None
    number = number_in(text)
    if number is not None and spec.kind == "integer":  # a whole number Excel keeps as typed, or none
        return int(number) if number.is_integer() and not beyond_excel(number) else None
    return number


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return iso(value) or ""
    return repr(value)


def _condition_text(sheet: SheetSpec, schema_path: list[Any]) -> str:
    """For a required-if rule, ' when Status is Resolved or Closed'."""
    if len(schema_path) < 2 or schema_path[0] != "allOf":
        return ""
    rule = sheet.schema["allOf"][schema_path[1]].get("if", {}).get("properties", {})
    parts = []
    for name, cond in rule.items():
        options = cond.get("enum") or [cond.get("const")]
        title = sheet.fields[name].title if name in sheet.fields else name
        parts.append(f"{title} is {' or '.join(str(o) for o in options)}")
    return " when " + " and ".join(parts) if parts else ""


_VALID_TIME = "2000-01-01T00:00:00Z"


def row_instance(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON instance for a row: empty cells left out.

    A time read from a date cell is valid by construction, so it is given to the validator
    as a fixed valid date-time instead of being formatted (a third of validation's time);
    text in a date column is passed as it is and fails the format check.
    """
    return {
        name: (_VALID_TIME if isinstance(value, datetime) else value)
        for name, value in values.items()
        if value is not None
    }


@dataclass(frozen=True)
class Vocabulary:
    """The words tracker's rules are written in, as the schema's x- keywords give them."""

    statuses: tuple[str, ...]  # Events.status enum, in order
    open: tuple[str, ...]  # x-lifecycle open: the statuses of an event that still owes updates
    mitigated: str  # x-lifecycle mitigated: the status that records Mitigated at
    resolved: str  # x-lifecycle resolved
    closed: str  # x-lifecycle closed
    event_prefix: str  # Events.id x-id-prefix: EVT in EVT-2026-0042
    action_prefix: str  # Actions.id x-id-prefix (ACT); "" in a schema without an Actions sheet
    categories: tuple[str, ...]  # Events.category enum
    roles: tuple[str, ...]  # x-role of the Events fields that name who leads: "event manager", ...

    @property
    def finished(self) -> tuple[str, str]:
        """The statuses of an event that no longer owes updates: resolved and closed."""
        return (self.resolved, self.closed)

    @classmethod
    def of(cls, schema: Schema) -> Vocabulary:
        """Read from the schema; a keyword it lacks is a SchemaError naming it and where it goes."""
        where = f"schema folder {schema.folder}"
        events = schema.sheets.get("Events")
        if events is None or not {"id", "status", "category"} <= set(events.fields):
            raise SchemaError(f"{where}: the Events sheet needs its id, status and category fields")
        status = events.fields["status"]
        life = status.schema.get("x-lifecycle")
        keys = {"open", "mitigated", "resolved", "closed"}
        if not isinstance(life, dict) or set(life) != keys or not isinstance(life["open"], list):
            raise SchemaError(
                f'{where}: events.json status needs "x-lifecycle" with open (a list), mitigated, resolved and closed; '
                "copy it from tracker's own workbook_schema/events.json"
            )
        named = [*life["open"], life["mitigated"], life["resolved"], life["closed"]]
        if any(word not in (status.enum or ()) for word in named):
            raise SchemaError(f"{where}: events.json status x-lifecycle names a status its enum lacks")
        actions = schema.sheets.get("Actions")
        return cls(
            statuses=tuple(status.enum or ()),
            open=tuple(life["open"]),
            mitigated=str(life["mitigated"]),
            resolved=str(life["resolved"]),
            closed=str(life["closed"]),
            event_prefix=_id_prefix(events, where),
            action_prefix=_id_prefix(actions, where) if actions is not None else "",
            categories=tuple(events.fields["category"].enum or ()),
            roles=tuple(str(f.schema["x-role"]) for f in events.fields.values() if f.schema.get("x-role")),
        )


def next_id(prefix: str, year: int, used: Iterable[object]) -> str:
    """PREFIX-<year>-<n> (EVT-2026-0042): n one above the highest number `used` that year (an ID is never reused),
    at least four digits."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d{{4}})-(\d+)$", re.I)
    highest = 0
    for value in used:
        match = pattern.match(str(value or "").strip())
        if match and int(match[1]) == year:
            highest = max(highest, int(match[2]))
    return f"{prefix}-{year}-{highest + 1:04d}"


def _id_prefix(sheet: SheetSpec, where: str) -> str:
    prefix = sheet.fields["id"].schema.get("x-id-prefix") if "id" in sheet.fields else None
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Z]{2,8}", prefix):
        raise SchemaError(
            f'{where}: the {sheet.name} sheet\'s id needs "x-id-prefix" (letters, e.g. "EVT"); copy it from '
            "tracker's own workbook_schema"
        )
    return prefix


class Schema:
    """All sheets of the tracker workbook, in workbook order."""

    def __init__(self, sheets: list[SheetSpec], folder: Path) -> None:
        self.sheets = {sheet.name: sheet for sheet in sorted(sheets, key=lambda s: s.order)}
        self.folder = folder
        self.vocabulary = Vocabulary.of(self)

    def __getitem__(self, name: str) -> SheetSpec:
        return self.sheets[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.sheets.values())


def _sheet_from_file(path: Path, compile_check: bool = True) -> SheetSpec:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"schema file {path} cannot be read: {exc}") from None
    try:
        if compile_check:
            held_import("jsonschema_rs").validator_for(raw)
    except Exception as exc:  # noqa: BLE001 - any compile failure is a schema error
        raise SchemaError(f"schema file {path} is not a valid JSON Schema: {exc}") from None
    name = raw.get("title")
    props = raw.get("properties")
    if not isinstance(name, str) or not isinstance(props, dict) or not props:
        raise SchemaError(f"schema file {path} needs a 'title' (the sheet name) and 'properties'")
    required = set(raw.get("required", []))
    fields = {}
    for column, (key, prop) in enumerate(props.items()):
        if not isinstance(prop, dict) or not isinstance(prop.get("title"), str):
            raise SchemaError(f"schema file {path}: property {key!r} needs a 'title' (its Excel header)")
        seen = prop.get("x-audiences", "internal")
        if not isinstance(seen, str) and not (
            isinstance(seen, list) and seen and all(isinstance(a, str) and a.strip() for a in seen)
        ):
            raise SchemaError(
                f"schema file {path}: property {key!r}: x-audiences must be an audience name, a list of them, "
                f'"internal" or "everyone", not {seen!r}'
            )
        fields[key] = FieldSpec(
            name=key,
            title=prop["title"],
            description=str(prop.get("description", "")),
            schema=prop,
            required=key in required,
            column=column,
        )
    key = raw.get("x-key")
    if key is not None and key not in fields:
        raise SchemaError(f"schema file {path}: x-key {key!r} is not a property")
    through = raw.get("x-print-through")
    if through is not None and through not in fields:
        raise SchemaError(
            f"schema file {path}: x-print-through {through!r} is not a property (the last column printed)"
        )
    return SheetSpec(
        name=name,
        table=str(raw.get("x-table", name + "Table")),
        key=key,
        description=str(raw.get("description", "")),
        order=int(raw.get("x-order", 100)),
        fields=fields,
        schema=raw,
    )


_CACHE: dict[Path, Schema] = {}


def load_schema(folder: Path | None = None) -> Schema:
    """Read every `*.json` sheet schema in `folder` (default: the shipped schema)."""
    folder = (folder or data_dir("workbook_schema")).resolve()
    if folder in _CACHE:
        return _CACHE[folder]
    if not folder.is_dir():
        raise SchemaError(f"schema folder {folder} does not exist")
    shipped = folder == data_dir("workbook_schema").resolve()  # compiled by the tests: not again at each start
    sheets = [_sheet_from_file(path, compile_check=not shipped) for path in sorted(folder.glob("*.json"))]
    if not sheets:
        raise SchemaError(f"schema folder {folder} holds no *.json sheet schemas")
    schema = Schema(sheets, folder)
    if folder != data_dir("workbook_schema").resolve():
        _same_lifecycle(schema)
    for sheet in schema:
        for spec in sheet.fields.values():
            if spec.ref and (spec.ref[0] not in schema.sheets or spec.ref[1] not in schema[spec.ref[0]].fields):
                raise SchemaError(
                    f"schema: {sheet.name}.{spec.name} refers to {'.'.join(spec.ref)}, which is not in the schema"
                )
    _CACHE[folder] = schema
    return schema


def _same_lifecycle(schema: Schema) -> None:
    """A team's schema may reword categories and ID prefixes, not the statuses: tracker's rules, emails and pages
    are written for its own lifecycle."""
    mine, theirs = load_schema().vocabulary, schema.vocabulary
    if (theirs.statuses, theirs.open, theirs.mitigated, theirs.resolved, theirs.closed) != (
        mine.statuses,
        mine.open,
        mine.mitigated,
        mine.resolved,
        mine.closed,
    ):
        raise SchemaError(
            f"schema folder {schema.folder}: events.json status must keep tracker's statuses "
            f"({', '.join(mine.statuses)}; open: {', '.join(mine.open)}) and their x-lifecycle"
        )

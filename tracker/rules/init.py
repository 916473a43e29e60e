"""`tracker init`: tracker.toml and a new workbook built from the schema."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tracker import files
from tracker.config import CONFIG_NAME, load_config
from tracker.errors import UsageError
from tracker.resources import data_dir
from tracker.rules.build import build_workbook
from tracker.store.local import atomic_write, replace_file
from tracker.times import utcnow
from tracker.workbook.schema import Schema, load_schema

_RELATIVE = re.compile(r"^now([+-])(\d+)([mhd])$")


@dataclass
class Created:
    """What init made."""

    config: Path
    workbook: Path
    config_created: bool
    example_events: list[str]
    name_set: bool = False  # --name written into the tracker.toml that was already there


def example_rows(schema: Schema, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """The example data with its relative times and `{year}` filled in."""
    now = now or utcnow()
    raw = json.loads((data_dir("workbook_schema") / "examples" / "example.json").read_text(encoding="utf-8"))
    out: dict[str, list[dict[str, Any]]] = {}
    for sheet in schema:
        rows = []
        for row in raw.get(sheet.name, []):
            values: dict[str, Any] = {}
            for name, value in row.items():
                if isinstance(value, str):
                    value = value.replace("{year}", str(now.year))
                    match = _RELATIVE.match(value)
                    if match:
                        delta = timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[match[3]]: int(match[2])})
                        value = now + delta if match[1] == "+" else now - delta
                values[name] = value
            rows.append(values)
        out[sheet.name] = rows
    return out


def _with_values(text: str, workbook: str, name: str) -> str:
    """The tracker.toml text with the workbook path and the user's name set by a TOML library (comments kept), so
    any name, quotes, backslashes or newlines included, reads back as written."""
    import tomlkit

    if any(not ch.isprintable() for ch in workbook) or not workbook.strip():
        raise UsageError(f"--workbook {workbook!r}: a file name cannot be empty or hold control characters")
    if any(not ch.isprintable() for ch in name):
        raise UsageError(f"--name {name!r}: a name cannot hold control characters")
    document = tomlkit.parse(text)
    document["workbook"]["path"] = workbook  # type: ignore[index]
    if name:
        document["user"]["name"] = name  # type: ignore[index]
    return tomlkit.dumps(document)


def init_tracker(
    folder: Path, *, example: bool = False, workbook_name: str | None = None, name: str | None = None
) -> Created:
    """Create tracker.toml (unless present) and the workbook it names in `folder`; `name` goes in [user]."""

    folder = folder.resolve()
    config_path = folder / CONFIG_NAME
    config_created = not config_path.exists()
    if not config_created and workbook_name is not None:
        named = load_config(config_path).workbook_path
        if named != (folder / workbook_name).resolve():
            raise UsageError(
                f"{CONFIG_NAME} here already names the workbook {named.name!r}, so --workbook {workbook_name!r} "
                f"would be ignored; change [workbook] path in {CONFIG_NAME}, or run init in another folder"
            )
    workbook_name = workbook_name or "events.xlsx"
    if config_created:
        import jinja2

        template = (data_dir("templates") / "tracker.toml.j2").read_text(encoding="utf-8")
        # The review date is the day init ran: uncommented, the example never says a review is already overdue
        today = utcnow().date().isoformat()
        text = jinja2.Template(template, keep_trailing_newline=True).render(
            name=bool((name or "").strip()), today=today
        )
        text = _with_values(text, workbook_name, (name or "").strip())
    config = load_config(config_path) if not config_created else None
    workbook = config.workbook_path if config else folder / workbook_name
    if workbook.exists():
        raise UsageError(f"{workbook} already exists; tracker init never overwrites a workbook (move it away first)")
    schema = load_schema(config.schema_dir if config else None)
    rows = example_rows(schema) if example else {}
    book = build_workbook(
        schema,
        rows,
        timezone=config.display.timezone if config else "UTC",
        remind_before=config.clock.remind_before if config else 10,
    )
    workbook.parent.mkdir(parents=True, exist_ok=True)
    replace_file(atomic_write(workbook, book.save), workbook)
    if config_created:
        config_path.write_text(text, encoding="utf-8")
    name_set = not config_created and bool((name or "").strip()) and _set_name(config_path, (name or "").strip())
    events = [str(r["id"]) for r in rows.get("Events", [])]
    return Created(config_path, workbook, config_created, events, name_set)


def _set_name(config_path: Path, name: str) -> bool:
    """--name with a tracker.toml already there: its [user] name, set (comments kept); False when it says so already."""
    import tomlkit

    if any(not ch.isprintable() for ch in name):
        raise UsageError(f"--name {name!r}: a name cannot hold control characters")
    document = tomlkit.parse(config_path.read_text(encoding="utf-8"))
    user = document.setdefault("user", tomlkit.table())
    if user.get("name") == name:  # type: ignore[union-attr]
        return False
    user["name"] = name  # type: ignore[index]
    files.write_atomic(config_path, tomlkit.dumps(document))
    return True

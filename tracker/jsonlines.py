"""Small local files of JSON lines (the journal, the send ledger, recent Excel-service writes):
read them, append a line durably, rewrite them atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tracker.files import write_atomic


def read(path: Path) -> list[tuple[str, Any]]:
    """Every non-empty line with its parsed value (None when the line is not JSON); [] without a file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out: list[tuple[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            out.append((line, json.loads(line)))
        except ValueError:
            out.append((line, None))
    return out


def append(path: Path, line: str) -> None:
    """Add one line and make it durable (fsync) before returning."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def rewrite(path: Path, lines: list[str]) -> None:
    """Replace the file with these lines in one atomic, durable step (no lines: no file)."""
    if not lines:
        path.unlink(missing_ok=True)
        return
    write_atomic(path, "".join(line + "\n" for line in lines), mode=0o600)

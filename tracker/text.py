"""Text from outside (workbook cells, lock files, server replies) made safe to print or put in a header."""

from __future__ import annotations


def printable(value: object) -> str:
    """`value` as one line of plain text: control characters (CR, LF, ESC, BEL, NUL, ...) shown as `\\xHH` escapes,
    so nothing read from a file can move the cursor, recolour the terminal or forge another line."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(value))


def header_text(value: object) -> str:
    """`value` for an email header: whitespace and control characters become single spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())

"""Text from outside (workbook cells, lock files, server replies) made safe to print or put in a header."""

from __future__ import annotations


def printable(value: object) -> str:
    """`value` as one line of plain text: control characters (CR, LF, ESC, BEL, NUL, ...) shown as `\\xHH` escapes,
    so nothing read from a file can move the cursor, recolour the terminal or forge another line."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(value))


def header_text(value: object) -> str:
    """`value` for an email header: whitespace and control characters become single spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())


def table(rows: list[list[str]], headers: list[str]) -> str:
    """Rows as the terminal shows them: columns padded to their widest cell, two spaces apart, cells printable."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)

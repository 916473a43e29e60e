"""Rows typed into the workbook the way people's tools write them, for the tests of what tracker does with them.

`type_rows(workbook, writer, {sheet: [row, ...]})` adds rows inside each sheet's table (a row dict maps header text
to the value typed; cells left out stay empty), written by one of:
- "openpyxl": the rows set in the cells below the table, the table's range grown over them (what Excel does when
  you type in the row under a table);
- "xlsxwriter": the whole workbook written anew by xlsxwriter, each sheet's table over its rows and the new ones;
- "libreoffice": the openpyxl edit, then the file saved again by headless LibreOffice (its own writer).
"""

from __future__ import annotations

import re
import shutil
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl

WRITERS = ("openpyxl", "xlsxwriter", "libreoffice")


def _grow(ws: Any, name: str, last: int) -> None:
    table = ws.tables[name]
    first, end = table.ref.split(":")
    table.ref = f"{first}:{re.match('[A-Z]+', end).group()}{max(last, int(re.sub('[A-Z]+', '', end)))}"  # type: ignore[union-attr]


def _headers(ws: Any) -> list[str]:
    return [str(c.value) if c.value is not None else "" for c in ws[1]]


def _load(workbook: Path) -> Any:
    with warnings.catch_warnings():  # a workbook LibreOffice saved: its print areas make openpyxl warn
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(workbook)


def _openpyxl(workbook: Path, rows: dict[str, list[dict[str, Any]]]) -> None:
    wb = _load(workbook)
    for sheet, typed in rows.items():
        ws = wb[sheet]
        headers = _headers(ws)
        name = next(iter(ws.tables))
        last = int(re.sub("[A-Z]+", "", ws.tables[name].ref.split(":")[1]))
        for values in typed:
            last += 1
            for header, value in values.items():
                ws.cell(last, headers.index(header) + 1, value)
        _grow(ws, name, last)
    wb.save(workbook)


def _xlsxwriter(workbook: Path, rows: dict[str, list[dict[str, Any]]]) -> None:
    import xlsxwriter

    source = _load(workbook)
    target = xlsxwriter.Workbook(str(workbook) + ".new", {"remove_timezone": True})
    when = target.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for ws in source.worksheets:
        out = target.add_worksheet(ws.title)
        headers = _headers(ws)
        body = [list(r) for r in ws.iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)]
        for values in rows.get(ws.title, []):
            body.append([values.get(h) for h in headers])
        for r, row in enumerate(body, start=1):
            for c, value in enumerate(row):
                if isinstance(value, datetime):
                    out.write_datetime(r, c, value, when)
                elif value is not None:
                    out.write(r, c, value)
        if ws.tables and headers:
            name = next(iter(ws.tables))
            columns = [{"header": h or f"Column{i + 1}"} for i, h in enumerate(headers)]
            out.add_table(0, 0, max(len(body), 1), len(headers) - 1, {"name": name, "columns": columns})
        else:
            for c, header in enumerate(headers):
                out.write(0, c, header)
    target.close()
    Path(str(workbook) + ".new").replace(workbook)


def _libreoffice(workbook: Path, rows: dict[str, list[dict[str, Any]]]) -> None:
    from tests.fidelity import libreoffice_roundtrip

    _openpyxl(workbook, rows)
    saved = libreoffice_roundtrip(workbook, workbook.parent / "lo-out")
    assert saved is not None, "LibreOffice is not installed"
    shutil.move(saved, workbook)


def type_rows(workbook: Path, writer: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Type `rows` ({sheet: [{header: value}]}) into the workbook's tables, written by `writer` (see WRITERS)."""
    {"openpyxl": _openpyxl, "xlsxwriter": _xlsxwriter, "libreoffice": _libreoffice}[writer](workbook, rows)

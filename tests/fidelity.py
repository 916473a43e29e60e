"""Excel features added to a tracker workbook by editing its zip, the raw material of the fidelity tests.

Each `add_*` function takes a workbook made by `tracker init --example` (see `make_tracker`), adds one
feature the way Excel stores it -- worksheet and workbook XML, new parts, relationships and
[Content_Types].xml entries, all edited as text so that every other byte stays as it was -- and
returns a `FeatureInfo`: the parts it added or changed and the XML elements a writer has to keep.
openpyxl is never used to save (a load + save drops several of these features); zipfile rewrites
the package. `FEATURES` maps a short name to each function.

Helpers: `parts(path)` (every zip member, decompressed), `missing(path, info)` (what of a feature is
gone), `make_tracker(folder)` and `libreoffice_roundtrip(path, out_dir)`.

Every function edits the workbook in place (except `add_vba`, which renames it to .xlsm) and can be
combined with the others on the same workbook; the features that add a table column, a totals row
or a merge below the table read the table's current size first. This module holds no tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import posixpath
import re
import struct
import subprocess
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape, unescape

# --- namespaces, relationship types, content types ----------------------------------------

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
X15 = "http://schemas.microsoft.com/office/spreadsheetml/2010/11/main"
XM = "http://schemas.microsoft.com/office/excel/2006/main"
XR = "http://schemas.microsoft.com/office/spreadsheetml/2014/revision"
XR10 = "http://schemas.microsoft.com/office/spreadsheetml/2016/revision10"
XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
TC = "http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"
SLE = "http://schemas.microsoft.com/office/drawing/2010/slicer"
SLE15 = "http://schemas.microsoft.com/office/drawing/2012/slicer"
VML = "urn:schemas-microsoft-com:vml"
VML_OFFICE = "urn:schemas-microsoft-com:office:office"
VML_EXCEL = "urn:schemas-microsoft-com:office:excel"

#: Prefixes for the ElementTree paths in `FeatureInfo.elements`.
NS = {
    "main": MAIN,
    "r": R,
    "rel": PACKAGE_RELS,
    "ct": CONTENT_TYPES,
    "mc": MC,
    "x14": X14,
    "x15": X15,
    "xm": XM,
    "xdr": XDR,
    "a": A,
    "c": C,
    "tc": TC,
    "v": VML,
    "o": VML_OFFICE,
    "x": VML_EXCEL,
}

REL_WORKSHEET = f"{R}/worksheet"
REL_TABLE = f"{R}/table"
REL_DRAWING = f"{R}/drawing"
REL_CHART = f"{R}/chart"
REL_COMMENTS = f"{R}/comments"
REL_VML = f"{R}/vmlDrawing"
REL_PIVOT_TABLE = f"{R}/pivotTable"
REL_PIVOT_CACHE = f"{R}/pivotCacheDefinition"
REL_PIVOT_RECORDS = f"{R}/pivotCacheRecords"
REL_THREADED = "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment"
REL_PERSON = "http://schemas.microsoft.com/office/2017/10/relationships/person"
REL_SLICER = "http://schemas.microsoft.com/office/2007/relationships/slicer"
REL_SLICER_CACHE = "http://schemas.microsoft.com/office/2007/relationships/slicerCache"
REL_VBA = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"

SML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
CT_XLSX_MAIN = f"{SML}.sheet.main+xml"
CT_XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
CT_WORKSHEET = f"{SML}.worksheet+xml"
CT_COMMENTS = f"{SML}.comments+xml"
CT_PIVOT_TABLE = f"{SML}.pivotTable+xml"
CT_PIVOT_CACHE = f"{SML}.pivotCacheDefinition+xml"
CT_PIVOT_RECORDS = f"{SML}.pivotCacheRecords+xml"
CT_DRAWING = "application/vnd.openxmlformats-officedocument.drawing+xml"
CT_CHART = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CT_THREADED = "application/vnd.ms-excel.threadedcomments+xml"
CT_PERSON = "application/vnd.ms-excel.person+xml"
CT_SLICER = "application/vnd.ms-excel.slicer+xml"
CT_SLICER_CACHE = "application/vnd.ms-excel.slicerCache+xml"
CT_VBA = "application/vnd.ms-office.vbaProject"

# extLst <ext> URIs, in the order Excel writes them.
URI_X14_CONDITIONAL_FORMATS = "{78C0D931-6437-407d-A8EE-F0AAD7539E65}"
URI_X14_DATA_VALIDATIONS = "{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}"
URI_SPARKLINES = "{05C60535-1F16-4fd2-B633-F4F36F0B64E0}"
URI_X14_SLICER_LIST = "{A8765BA9-456A-4dab-B4F3-ACF838C121DE}"
URI_X15_TABLE_SLICER_LIST = "{3A4CF648-6AED-40f4-86FF-DC5316D8AED3}"
URI_X14_SLICER_CACHES = "{BBE1A952-AA13-448e-AADC-164F8A28A991}"
URI_X15_SLICER_CACHES = "{46BE6895-7355-4a93-B00E-2C351335B9C9}"
URI_X15_TABLE_SLICER_CACHE = "{2F2917AC-EB37-4324-AD4E-5DD8C200BD13}"
URI_DATA_BAR_ID = "{B025F937-C7B1-47D3-B67F-A62EFF666E3E}"
SHEET_EXT_ORDER = (
    URI_X14_CONDITIONAL_FORMATS,
    URI_X14_DATA_VALIDATIONS,
    URI_SPARKLINES,
    URI_X14_SLICER_LIST,
    URI_X15_TABLE_SLICER_LIST,
)
WORKBOOK_EXT_ORDER = (URI_X14_SLICER_CACHES, URI_X15_SLICER_CACHES)

# Child order of the elements we insert into (ECMA-376 Part 1, CT_Worksheet, CT_Workbook, CT_Table).
WORKSHEET_ORDER = (
    "sheetPr",
    "dimension",
    "sheetViews",
    "sheetFormatPr",
    "cols",
    "sheetData",
    "sheetCalcPr",
    "sheetProtection",
    "protectedRanges",
    "scenarios",
    "autoFilter",
    "sortState",
    "dataConsolidate",
    "customSheetViews",
    "mergeCells",
    "phoneticPr",
    "conditionalFormatting",
    "dataValidations",
    "hyperlinks",
    "printOptions",
    "pageMargins",
    "pageSetup",
    "headerFooter",
    "rowBreaks",
    "colBreaks",
    "customProperties",
    "cellWatches",
    "ignoredErrors",
    "smartTags",
    "drawing",
    "legacyDrawing",
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
)
WORKBOOK_ORDER = (
    "fileVersion",
    "fileSharing",
    "workbookPr",
    "workbookProtection",
    "bookViews",
    "sheets",
    "functionGroups",
    "externalReferences",
    "definedNames",
    "calcPr",
    "oleSize",
    "customWorkbookViews",
    "pivotCaches",
    "smartTagPr",
    "smartTagTypes",
    "webPublishing",
    "fileRecoveryPr",
    "webPublishObjects",
    "extLst",
)
TABLE_ORDER = ("autoFilter", "sortState", "tableColumns", "tableStyleInfo", "extLst")

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
EXCEL_EPOCH = datetime(1899, 12, 30)


# --- public API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureInfo:
    """What one feature put into a workbook: enough for a test to check that it survived a write.

    `path` is the workbook (the new .xlsm for `vba`), `sheet` the sheet the feature sits on ("" for
    workbook-level ones). `added` are the zip members the feature created: a writer that has no
    reason to touch them must keep them byte for byte. `edited` are members that existed and were
    changed (the worksheet, its .rels, workbook.xml, [Content_Types].xml, ...). `elements` maps a
    member to ElementTree paths (prefixes from `NS`, relative to the member's root element) that must
    each still find an element after a write, e.g. `{"xl/workbook.xml": ("main:fileSharing",)}`.
    """

    name: str
    path: Path
    sheet: str
    added: tuple[str, ...]
    edited: tuple[str, ...]
    elements: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""


def parts(path: Path) -> dict[str, bytes]:
    """Every member of the zip package at `path`, decompressed, by name."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def missing(path: Path, info: FeatureInfo) -> list[str]:
    """What of the feature `info` describes is gone from the workbook at `path` (empty: all there)."""
    found = parts(path)
    problems = [f"{name} is gone" for name in info.added if name not in found]
    for name, paths in info.elements.items():
        if name not in found:
            if name not in info.added:
                problems.append(f"{name} is gone")
            continue
        root = ElementTree.fromstring(found[name])
        problems += [f"{name}: nothing at {p}" for p in paths if root.find(p, NS) is None]
    return problems


def make_tracker(folder: Path, *, workbook: str = "events.xlsx", extra_events: int = 0) -> Path:
    """Run `tracker init --example` in `folder` (created if needed) and return the workbook's path.

    `extra_events` more events are opened with `tracker open` (Sev 3, VPN, status Investigating),
    so that features about several data rows (shared formulas, filters) have rows to work on.
    Runs in-process through click's CliRunner, like the `run` fixture in conftest.py.
    """
    from click.testing import CliRunner

    from tracker.cli.commands import main

    folder.mkdir(parents=True, exist_ok=True)
    env = {"TRACKER_USER": os.environ.get("TRACKER_USER") or "Test Manager"}
    commands = [["init", "--example", "--workbook", workbook]]
    commands += [
        ["open", "--title", f"Example event {n}", "--severity", "Sev 3", "--service", "VPN", "--users", str(10 * n)]
        for n in range(1, extra_events + 1)
    ]
    with contextlib.chdir(folder):
        for args in commands:
            result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
            if result.exit_code != 0:
                raise RuntimeError(f"tracker {' '.join(args)} failed ({result.exit_code}): {result.output}")
    return folder / workbook


def libreoffice_roundtrip(
    path: Path, out_dir: Path, *, profile: Path | None = None, timeout: float = 180
) -> Path | None:
    """Re-save `path` with headless LibreOffice into `out_dir`; the new file, or None without soffice.

    Same command as tests/test_libreoffice.py (private profile via -env:UserInstallation,
    --norestore). An .xlsx is converted with "Calc MS Excel 2007 XML", an .xlsm with the VBA
    variant, so the result keeps the suffix. `profile` defaults to `out_dir`/lo-profile (reuse one
    to save LibreOffice's first-start time). Raises RuntimeError when the conversion fails.
    """
    from tests.conftest import soffice

    binary = soffice()
    if binary is None:
        return None
    suffix = path.suffix.lower()
    target = "xlsm:Calc MS Excel 2007 VBA XML" if suffix == ".xlsm" else "xlsx:Calc MS Excel 2007 XML"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = out_dir / f"{path.stem}{'.xlsm' if suffix == '.xlsm' else '.xlsx'}"
    if result.resolve() == path.resolve():
        raise ValueError(f"LibreOffice would overwrite {path}: choose another out_dir")
    result.unlink(missing_ok=True)
    profile = profile or out_dir / "lo-profile"
    done = _convert(binary, profile, target, out_dir, [path], timeout)
    if done.returncode != 0 or not result.exists():
        raise RuntimeError(f"LibreOffice could not convert {path.name} ({done.returncode}): {done.stdout}{done.stderr}")
    return result


def _convert(
    binary: str, profile: Path, target: str, out_dir: Path, paths: list[Path], timeout: float
) -> subprocess.CompletedProcess[str]:
    """One headless LibreOffice start converting `paths` to `target` into `out_dir`, with a private profile."""
    command = [
        binary,
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        target,
        "--outdir",
        str(out_dir),
        *map(str, paths),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def libreoffice_resave_all(paths: list[Path], out_dir: Path, *, timeout: float = 300) -> dict[Path, Path]:
    """Re-save every file of `paths` (distinct names) with one headless LibreOffice start per kind (.xlsx, .xlsm),
    as `libreoffice_roundtrip` does one: each path -> its re-saved file in `out_dir`. Starting LibreOffice costs
    about a second, so a batch of 20 takes a few seconds instead of half a minute. Raises RuntimeError naming the
    files LibreOffice did not write."""
    from tests.conftest import soffice

    binary = soffice()
    if binary is None:
        raise RuntimeError("LibreOffice (soffice) is not installed")
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [path.name for path in paths]
    if len(set(names)) != len(names):
        raise ValueError(f"LibreOffice writes each file under its own name into {out_dir}: names repeat in {names}")
    results: dict[Path, Path] = {}
    for suffix, target in ((".xlsx", "xlsx:Calc MS Excel 2007 XML"), (".xlsm", "xlsm:Calc MS Excel 2007 VBA XML")):
        batch = [path for path in paths if path.suffix.lower() == suffix]
        if not batch:
            continue
        done = _convert(binary, out_dir / f"lo-profile{suffix}", target, out_dir, batch, timeout)
        missing = [path.name for path in batch if not (out_dir / path.name).exists()]
        if done.returncode != 0 or missing:
            raise RuntimeError(f"LibreOffice did not convert {missing} ({done.returncode}): {done.stdout}{done.stderr}")
        results |= {path: out_dir / path.name for path in batch}
    return results


# --- a small XML text editor ----------------------------------------------------------------
# Parts are edited as text so that everything around an edit keeps its bytes, prefixes and
# namespace declarations (ElementTree would rename prefixes, which breaks mc:Ignorable).

_TOKEN = re.compile(
    r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!DOCTYPE[^>]*>"
    r"|<(/?)([^\s/>!?]+)((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(/?)>",
    re.S,
)


@dataclass(frozen=True)
class _El:
    """One element's position in a text: whole span, and the span between its tags."""

    name: str
    start: int
    end: int
    inner_start: int
    inner_end: int
    empty: bool

    @property
    def local(self) -> str:
        return self.name.rpartition(":")[2]


def _elements(xml: str, start: int = 0, end: int | None = None) -> list[_El]:
    """The top-level elements of xml[start:end]."""
    out: list[_El] = []
    stack: list[tuple[str, int, int]] = []
    for m in _TOKEN.finditer(xml, start, len(xml) if end is None else end):
        if m.group(2) is None:
            continue
        if m.group(1):
            name, begin, inner = stack.pop()
            if not stack:
                out.append(_El(name, begin, m.end(), inner, m.start(), False))
        elif m.group(4):
            if not stack:
                out.append(_El(m.group(2), m.start(), m.end(), m.end(), m.end(), True))
        else:
            stack.append((m.group(2), m.start(), m.end()))
    return out


def _root(xml: str) -> _El:
    (root,) = _elements(xml)
    return root


def _kids(xml: str, el: _El) -> list[_El]:
    return [] if el.empty else _elements(xml, el.inner_start, el.inner_end)


def _find(xml: str, el: _El, local: str) -> _El | None:
    return next((k for k in _kids(xml, el) if k.local == local), None)


def _find_all(xml: str, el: _El, local: str) -> list[_El]:
    return [k for k in _kids(xml, el) if k.local == local]


def _path(xml: str, *locals_: str) -> _El | None:
    """The element reached from the root through children with these local names."""
    el: _El | None = _root(xml)
    for local in locals_:
        if el is None:
            return None
        el = _find(xml, el, local)
    return el


def _start_tag(xml: str, el: _El) -> str:
    return xml[el.start : el.end] if el.empty else xml[el.start : el.inner_start]


def _attr_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\s{re.escape(name)}\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _attr(xml: str, el: _El, name: str) -> str | None:
    m = _attr_pattern(name).search(_start_tag(xml, el))
    if not m:
        return None
    return _unesc(m[1] if m[1] is not None else m[2])


def _set_attrs(xml: str, el: _El, **attrs: str) -> str:
    """Set (or add) attributes on el's start tag; `xr_uid` style names map `_` to `:`."""
    tag = _start_tag(xml, el)
    for key, value in attrs.items():
        name = key.replace("__", ":")
        text = f' {name}="{_esc(value)}"'
        m = _attr_pattern(name).search(tag)
        if m:
            tag = tag[: m.start()] + text + tag[m.end() :]
        else:
            close = re.search(r"\s*/?>$", tag)
            assert close
            tag = tag[: close.start()] + text + tag[close.start() :]
    return xml[: el.start] + tag + xml[el.start + len(_start_tag(xml, el)) :]


def _text(xml: str, el: _El) -> str:
    return _unesc(xml[el.inner_start : el.inner_end])


def _splice(xml: str, at: int, text: str) -> str:
    return xml[:at] + text + xml[at:]


def _replace(xml: str, el: _El, text: str) -> str:
    return xml[: el.start] + text + xml[el.end :]


def _append_into(xml: str, el: _El, fragment: str) -> str:
    """Add `fragment` as el's last child (opening `<el/>` into `<el>...</el>`)."""
    if el.empty:
        opened = re.sub(r"\s*/>$", ">", xml[el.start : el.end])
        return xml[: el.start] + opened + fragment + f"</{el.name}>" + xml[el.end :]
    return _splice(xml, el.inner_end, fragment)


def _insert_ordered(xml: str, parent: _El, fragment: str, local: str, order: tuple[str, ...]) -> str:
    """Add `fragment` (a `local` element) to parent at its place in the schema's child order."""
    rank = order.index(local)
    for kid in _kids(xml, parent):
        if kid.local in order and order.index(kid.local) > rank:
            return _splice(xml, kid.start, fragment)
    return _append_into(xml, parent, fragment)


def _esc(value: object) -> str:
    return escape(str(value), {'"': "&quot;"})


def _unesc(value: str) -> str:
    return unescape(value, {"&quot;": '"', "&apos;": "'"})


def _declares(xml: str, prefix: str, uri: str) -> bool:
    """Whether the root element binds `prefix` to `uri`."""
    return f'xmlns:{prefix}="{uri}"' in _start_tag(xml, _root(xml))


def _r_decl(xml: str) -> str:
    """` xmlns:r="..."` for an element we add, unless the root already binds r."""
    return "" if _declares(xml, "r", R) else f' xmlns:r="{R}"'


def _ignorable(xml: str, prefix: str, uri: str) -> str:
    """Declare `prefix` on the root and list it in mc:Ignorable (as Excel does for xr, x14ac, ...)."""
    root = _root(xml)
    extra = {}
    if not _declares(xml, "mc", MC):
        extra["xmlns__mc"] = MC
    if not _declares(xml, prefix, uri):
        extra[f"xmlns__{prefix}"] = uri
    ignorable = _attr(xml, root, "mc:Ignorable")
    tokens = (ignorable or "").split()
    if prefix not in tokens:
        extra["mc__Ignorable"] = " ".join([*tokens, prefix])
    return _set_attrs(xml, root, **extra) if extra else xml


# --- cell references ------------------------------------------------------------------------


def _letters(col: int) -> str:
    out = ""
    while col:
        col, rest = divmod(col - 1, 26)
        out = chr(65 + rest) + out
    return out


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _cell(ref: str) -> tuple[int, int]:
    m = re.fullmatch(r"\$?([A-Za-z]+)\$?(\d+)", ref)
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    return _col_number(m[1]), int(m[2])


def _area(ref: str) -> tuple[int, int, int, int]:
    first, _, last = ref.partition(":")
    c1, r1 = _cell(first)
    c2, r2 = _cell(last or first)
    return c1, r1, c2, r2


def _ref(c1: int, r1: int, c2: int | None = None, r2: int | None = None) -> str:
    start = f"{_letters(c1)}{r1}"
    return start if c2 is None or r2 is None else f"{start}:{_letters(c2)}{r2}"


def _quote_sheet(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) else "'" + name.replace("'", "''") + "'"


def _guid(*key: object) -> str:
    """A GUID in Excel's spelling, stable for the same key (so workbooks are reproducible)."""
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "tracker-fidelity/" + "/".join(map(str, key)))).upper() + "}"


def _serial(value: Any) -> float | None:
    """A calamine cell value as Excel's number (dates as serial days)."""
    if isinstance(value, datetime):
        return (value - EXCEL_EPOCH).total_seconds() / 86400
    if isinstance(value, date):
        return float((value - EXCEL_EPOCH.date()).days)
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _inline(ref: str, text: str, style: str | None = None) -> str:
    s = f' s="{style}"' if style else ""
    space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{_esc(text)}</t></is></c>'


# --- the package ------------------------------------------------------------------------------


@dataclass
class _Sheet:
    name: str
    sheet_id: int
    index: int
    part: str


@dataclass
class _Table:
    part: str
    id: int
    name: str
    c1: int
    r1: int
    c2: int
    r2: int
    header_rows: int
    totals_rows: int
    columns: list[tuple[int, str]]

    @property
    def first_data(self) -> int:
        return self.r1 + self.header_rows

    @property
    def last_data(self) -> int:
        return self.r2 - self.totals_rows

    def column(self, name: str) -> tuple[int, int]:
        """(position in the sheet, tableColumn id) of the column called `name`."""
        for offset, (column_id, title) in enumerate(self.columns):
            if title == name:
                return self.c1 + offset, column_id
        raise KeyError(f"{self.name} has no column {name!r}")


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _resolve(source: str, target: str) -> str:
    if target.startswith("/"):
        return target[1:]
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


class _Package:
    """An .xlsx read into memory; parts edited as text, written back with zipfile."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with zipfile.ZipFile(path) as archive:
            self.infos = {info.filename: info for info in archive.infolist()}
            self.data = {name: archive.read(name) for name in self.infos}
        self.original = dict(self.data)
        self.elements: dict[str, list[str]] = {}

    # parts
    def text(self, name: str) -> str:
        return self.data[name].decode("utf-8")

    def put(self, name: str, content: str | bytes) -> None:
        self.data[name] = content.encode("utf-8") if isinstance(content, str) else content

    def edit(self, name: str, change: Callable[[str], str]) -> None:
        self.put(name, change(self.text(name)))

    def free(self, pattern: str) -> str:
        """The first unused part name from a pattern like 'xl/charts/chart{}.xml'."""
        n = 1
        while pattern.format(n) in self.data:
            n += 1
        return pattern.format(n)

    def expect(self, part: str, *paths: str) -> None:
        self.elements.setdefault(part, []).extend(paths)

    # relationships and content types
    def relationships(self, part: str) -> list[dict[str, str]]:
        name = _rels_part(part)
        if name not in self.data:
            return []
        return [dict(el.attrib) for el in ElementTree.fromstring(self.data[name])]

    def targets(self, part: str, kind: str) -> list[str]:
        return [
            _resolve(part, rel["Target"])
            for rel in self.relationships(part)
            if rel.get("Type") == kind and rel.get("TargetMode") != "External"
        ]

    def add_rel(self, part: str, kind: str, target: str) -> str:
        """Relate `part` to the part `target` (relative Target, as Excel writes); returns the new Id."""
        name = _rels_part(part)
        if name not in self.data:
            self.put(name, f'{XML_DECLARATION}<Relationships xmlns="{PACKAGE_RELS}"></Relationships>')
        taken = {rel["Id"] for rel in self.relationships(part)}
        n = len(taken) + 1
        while f"rId{n}" in taken:
            n += 1
        rid = f"rId{n}"
        relative = posixpath.relpath(target, posixpath.dirname(part) or ".")
        rel = f'<Relationship Id="{rid}" Type="{kind}" Target="{_esc(relative)}"/>'
        self.edit(name, lambda xml: _append_into(xml, _root(xml), rel))
        self.expect(name, f"rel:Relationship[@Type='{kind}']")
        return rid

    def override(self, part: str, content_type: str) -> None:
        def change(xml: str) -> str:
            for el in _find_all(xml, _root(xml), "Override"):
                if _attr(xml, el, "PartName") == f"/{part}":
                    return _set_attrs(xml, el, ContentType=content_type)
            return _append_into(xml, _root(xml), f'<Override PartName="/{part}" ContentType="{content_type}"/>')

        self.edit("[Content_Types].xml", change)
        self.expect("[Content_Types].xml", f"ct:Override[@PartName='/{part}']")

    def default(self, extension: str, content_type: str) -> None:
        def change(xml: str) -> str:
            root = _root(xml)
            if any(_attr(xml, el, "Extension") == extension for el in _find_all(xml, root, "Default")):
                return xml
            first = _kids(xml, root)
            fragment = f'<Default Extension="{extension}" ContentType="{content_type}"/>'
            return _splice(xml, first[0].start, fragment) if first else _append_into(xml, root, fragment)

        self.edit("[Content_Types].xml", change)
        self.expect("[Content_Types].xml", f"ct:Default[@Extension='{extension}']")

    # workbook structure
    @property
    def workbook_part(self) -> str:
        (part,) = self.targets("", f"{R}/officeDocument") or ["xl/workbook.xml"]
        return part

    def sheets(self) -> list[_Sheet]:
        book = self.workbook_part
        xml = self.text(book)
        rels = {rel["Id"]: _resolve(book, rel["Target"]) for rel in self.relationships(book)}
        sheets_el = _path(xml, "sheets")
        assert sheets_el, "workbook without <sheets>"
        out = []
        for index, el in enumerate(_find_all(xml, sheets_el, "sheet")):
            rid = re.search(r"\s[\w.-]+:id\s*=\s*\"([^\"]*)\"", _start_tag(xml, el))
            assert rid, _start_tag(xml, el)
            out.append(_Sheet(_attr(xml, el, "name") or "", int(_attr(xml, el, "sheetId") or 0), index, rels[rid[1]]))
        return out

    def sheet(self, name: str) -> _Sheet:
        for sheet in self.sheets():
            if sheet.name == name:
                return sheet
        raise KeyError(f"no sheet {name!r} in {self.path.name}")

    def table(self, sheet: str) -> _Table:
        """The (first) table on `sheet`."""
        tables = self.targets(self.sheet(sheet).part, REL_TABLE)
        if not tables:
            raise KeyError(f"no table on sheet {sheet!r}")
        part = tables[0]
        xml = self.text(part)
        root = _root(xml)
        c1, r1, c2, r2 = _area(_attr(xml, root, "ref") or "")
        columns_el = _find(xml, root, "tableColumns")
        assert columns_el
        columns = [
            (int(_attr(xml, el, "id") or 0), _attr(xml, el, "name") or "")
            for el in _find_all(xml, columns_el, "tableColumn")
        ]
        return _Table(
            part=part,
            id=int(_attr(xml, root, "id") or 0),
            name=_attr(xml, root, "displayName") or _attr(xml, root, "name") or "",
            c1=c1,
            r1=r1,
            c2=c2,
            r2=r2,
            header_rows=int(_attr(xml, root, "headerRowCount") or 1),
            totals_rows=int(_attr(xml, root, "totalsRowCount") or 0),
            columns=columns,
        )

    def values(self, sheet: str) -> list[list[Any]]:
        """Cell values of `sheet` (row 1 first) as python-calamine reads the current parts."""
        import io

        from python_calamine import CalamineWorkbook

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in self.data.items():
                archive.writestr(name, data)
        book = CalamineWorkbook.from_filelike(io.BytesIO(buffer.getvalue()))
        return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)

    # writing
    def finish(self, name: str, sheet: str, note: str = "", target: Path | None = None) -> FeatureInfo:
        target = target or self.path
        building = target.with_name(target.name + ".building")
        with zipfile.ZipFile(building, "w") as archive:
            for part, data in self.data.items():
                old = self.infos.get(part)
                info = zipfile.ZipInfo(part, date_time=old.date_time if old else (1980, 1, 1, 0, 0, 0))
                info.compress_type = old.compress_type if old else zipfile.ZIP_DEFLATED
                info.external_attr = old.external_attr if old else 0o600 << 16
                archive.writestr(info, data)
        os.replace(building, target)
        added = tuple(p for p in self.data if p not in self.original)
        edited = tuple(p for p in self.original if p in self.data and self.data[p] != self.original[p])
        elements = {part: tuple(dict.fromkeys(paths)) for part, paths in self.elements.items()}
        return FeatureInfo(name, target, sheet, added, edited, elements, note)


# --- worksheet edits ----------------------------------------------------------------------------


def _ws_insert(xml: str, fragment: str, local: str) -> str:
    root = _root(xml)
    if ":" in root.name:
        raise NotImplementedError("worksheets with a prefixed main namespace are not supported")
    return _insert_ordered(xml, root, fragment, local, WORKSHEET_ORDER)


def _rows(xml: str) -> tuple[_El, list[_El]]:
    sheet_data = _path(xml, "sheetData")
    assert sheet_data, "worksheet without <sheetData>"
    return sheet_data, _find_all(xml, sheet_data, "row")


def _row(xml: str, number: int) -> tuple[str, _El]:
    """The <row r=number> element, created (empty, in order) when missing."""
    sheet_data, rows = _rows(xml)
    for el in rows:
        r = int(_attr(xml, el, "r") or 0)
        if r == number:
            return xml, el
        if r > number:
            xml = _splice(xml, el.start, f'<row r="{number}"/>')
            return _row(xml, number)
    xml = _append_into(xml, sheet_data, f'<row r="{number}"/>')
    return _row(xml, number)


def _cell_el(xml: str, ref: str) -> _El | None:
    col, row = _cell(ref)
    _, rows = _rows(xml)
    for el in rows:
        if int(_attr(xml, el, "r") or 0) == row:
            for c in _find_all(xml, el, "c"):
                if _cell(_attr(xml, c, "r") or "")[0] == col:
                    return c
    return None


def _raw_value(xml: str, ref: str) -> str | None:
    """The <v> text of a cell (None when empty or absent)."""
    el = _cell_el(xml, ref)
    v = _find(xml, el, "v") if el else None
    return _text(xml, v) if v and not v.empty else None


def _put_cell(xml: str, ref: str, cell_xml: str) -> str:
    """Write a whole <c> element at `ref`, replacing what is there, keeping cells in column order."""
    col, row = _cell(ref)
    xml, row_el = _row(xml, row)
    for c in _find_all(xml, row_el, "c"):
        here = _cell(_attr(xml, c, "r") or "")[0]
        if here == col:
            return _widen_dimension(_replace(xml, c, cell_xml), ref)
        if here > col:
            return _widen_dimension(_splice(xml, c.start, cell_xml), ref)
    xml = _append_into(xml, row_el, cell_xml)
    xml, row_el = _row(xml, row)
    spans = _attr(xml, row_el, "spans")
    if spans and ":" in spans:
        low, high = (int(x) for x in spans.split(":"))
        xml = _set_attrs(xml, row_el, spans=f"{min(low, col)}:{max(high, col)}")
    return _widen_dimension(xml, ref)


def _widen_dimension(xml: str, ref: str) -> str:
    el = _path(xml, "dimension")
    if not el:
        return xml
    c1, r1, c2, r2 = _area(_attr(xml, el, "ref") or "A1")
    col, row = _cell(ref)
    return _set_attrs(xml, el, ref=_ref(min(c1, col), min(r1, row), max(c2, col), max(r2, row)))


def _style(xml: str, ref: str) -> str | None:
    el = _cell_el(xml, ref)
    return _attr(xml, el, "s") if el else None


def _add_ext(xml: str, ext: str, uri: str, order: tuple[str, ...], root_order: tuple[str, ...]) -> str:
    """Add an <ext uri=...> to the root's extLst (created when missing), in Excel's order."""
    root = _root(xml)
    ext_lst = _find(xml, root, "extLst")
    if ext_lst is None:
        return _insert_ordered(xml, root, f"<extLst>{ext}</extLst>", "extLst", root_order)
    rank = order.index(uri)
    for el in _find_all(xml, ext_lst, "ext"):
        other = _attr(xml, el, "uri")
        if other == uri:
            raise ValueError(f"the part already has an extension {uri}; adding a second one is not supported")
        if other in order and order.index(other) > rank:
            return _splice(xml, el.start, ext)
    return _append_into(xml, ext_lst, ext)


def _sheet_ext(xml: str, ext: str, uri: str) -> str:
    return _add_ext(xml, ext, uri, SHEET_EXT_ORDER, WORKSHEET_ORDER)


def _ext_path(uri: str) -> str:
    return f"main:extLst/main:ext[@uri='{uri}']"


# --- tables -------------------------------------------------------------------------------------


def _set_table_ref(xml: str, table: _Table, c2: int, r2: int) -> str:
    """Widen a table: its ref, and without the totals row its autoFilter and sortState refs."""
    xml = _set_attrs(xml, _root(xml), ref=_ref(table.c1, table.r1, c2, r2))
    auto = _find(xml, _root(xml), "autoFilter")
    if auto:
        xml = _set_attrs(xml, auto, ref=_ref(table.c1, table.r1, c2, r2 - table.totals_rows))
    sort = _find(xml, _root(xml), "sortState")
    if sort:
        xml = _set_attrs(xml, sort, ref=_ref(table.c1, table.first_data, c2, r2 - table.totals_rows))
    return xml


def _add_table_column(
    pkg: _Package,
    sheet: str,
    header: str,
    cell: Callable[[str, int], str | None],
    calculated: str | None = None,
) -> tuple[str, str, _Table]:
    """Add a column right of the table on `sheet`: header cell, `cell(ref, row)` for each data row.

    The table's ref and autoFilter are widened and a tableColumn is added (with a
    calculatedColumnFormula when `calculated` is given). Returns the new column's letters, its
    name (`header`, numbered when the table has that name already) and the widened table.
    """
    table = pkg.table(sheet)
    taken = {name for _, name in table.columns}
    n, unique = 1, header
    while unique in taken:  # Excel numbers a repeated column name: "Minutes to Ack2"
        n += 1
        unique = f"{header}{n}"
    header = unique
    col = table.c2 + 1
    letters = _letters(col)
    new_id = max((cid for cid, _ in table.columns), default=0) + 1
    inner = f"<calculatedColumnFormula>{_esc(calculated)}</calculatedColumnFormula>" if calculated else ""
    column = f'<tableColumn id="{new_id}" name="{_esc(header)}"' + (f">{inner}</tableColumn>" if inner else "/>")

    def change_table(xml: str) -> str:
        xml = _set_table_ref(xml, table, col, table.r2)
        columns = _find(xml, _root(xml), "tableColumns")
        assert columns
        xml = _set_attrs(xml, columns, count=str(len(table.columns) + 1))
        columns = _find(xml, _root(xml), "tableColumns")
        assert columns
        return _append_into(xml, columns, column)

    pkg.edit(table.part, change_table)
    part = pkg.sheet(sheet).part

    def change_sheet(xml: str) -> str:
        header_ref = _ref(col, table.r1)
        xml = _put_cell(xml, header_ref, _inline(header_ref, header, _style(xml, _ref(table.c2, table.r1))))
        for row in range(table.first_data, table.last_data + 1):
            ref = _ref(col, row)
            made = cell(ref, row)
            if made:
                xml = _put_cell(xml, ref, made)
        return xml

    pkg.edit(part, change_sheet)
    pkg.expect(table.part, f"main:tableColumns/main:tableColumn[@name='{header}']")
    pkg.expect(part, f"main:sheetData/main:row[@r='{table.r1}']/main:c[@r='{letters}{table.r1}']")
    return letters, header, pkg.table(sheet)


# --- drawings and comments ------------------------------------------------------------------------


def _drawing(pkg: _Package, sheet: str) -> str:
    """The sheet's DrawingML drawing part; a new one is created and wired in when it has none."""
    part = pkg.sheet(sheet).part
    existing = pkg.targets(part, REL_DRAWING)
    if existing:
        return existing[0]
    drawing = pkg.free("xl/drawings/drawing{}.xml")
    pkg.put(drawing, f'{XML_DECLARATION}<xdr:wsDr xmlns:xdr="{XDR}" xmlns:a="{A}"></xdr:wsDr>')
    pkg.override(drawing, CT_DRAWING)
    rid = pkg.add_rel(part, REL_DRAWING, drawing)
    pkg.edit(part, lambda xml: _ws_insert(xml, f'<drawing{_r_decl(xml)} r:id="{rid}"/>', "drawing"))
    pkg.expect(part, "main:drawing")
    return drawing


def _anchor(pkg: _Package, drawing: str, frm: tuple[int, int], to: tuple[int, int], body: str) -> int:
    """Append a twoCellAnchor (0-based (col, row) corners) holding `body`, whose cNvPr id is `{id}`.

    Returns the id used (one more than the drawing's highest).
    """
    xml = pkg.text(drawing)
    shape_id = max([1, *(int(x) for x in re.findall(r"<(?:\w+:)?cNvPr\s[^>]*?\bid=\"(\d+)\"", xml))]) + 1
    decl = "" if _declares(xml, "xdr", XDR) and _declares(xml, "a", A) else f' xmlns:xdr="{XDR}" xmlns:a="{A}"'

    def corner(tag: str, col: int, row: int) -> str:
        return (
            f"<xdr:{tag}><xdr:col>{col}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:{tag}>"
        )

    anchor = (
        f'<xdr:twoCellAnchor{decl} editAs="oneCell">{corner("from", *frm)}{corner("to", *to)}'
        f"{body.replace('{id}', str(shape_id))}<xdr:clientData/></xdr:twoCellAnchor>"
    )
    pkg.put(drawing, _append_into(xml, _root(xml), anchor))
    return shape_id


_NOTE_SHAPE_TYPE = (
    '<{v}:shapetype id="_x0000_t202" coordsize="21600,21600" {o}:spt="202" path="m,l,21600r21600,l21600,xe">'
    '<{v}:stroke joinstyle="miter"/><{v}:path gradientshapeok="t" {o}:connecttype="rect"/></{v}:shapetype>'
)


def _legacy_comments(pkg: _Package, sheet: str) -> tuple[str, str]:
    """The sheet's comments part and VML drawing, created and wired in when missing."""
    part = pkg.sheet(sheet).part
    comments = pkg.targets(part, REL_COMMENTS)
    vml = pkg.targets(part, REL_VML)
    if comments:
        comments_part = comments[0]
    else:
        comments_part = pkg.free("xl/comments{}.xml")
        pkg.put(comments_part, f'{XML_DECLARATION}<comments xmlns="{MAIN}"><authors/><commentList/></comments>')
        pkg.override(comments_part, CT_COMMENTS)
        pkg.add_rel(part, REL_COMMENTS, comments_part)
    if vml:
        vml_part = vml[0]
    else:
        vml_part = pkg.free("xl/drawings/vmlDrawing{}.vml")
        taken = [
            int(x) for name in pkg.data if name.endswith(".vml") for x in re.findall(rb'data="(\d+)', pkg.data[name])
        ]
        block = max([0, *taken]) + 1
        pkg.put(
            vml_part,
            f'<xml xmlns:v="{VML}" xmlns:o="{VML_OFFICE}" xmlns:x="{VML_EXCEL}">'
            f'<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{block}"/></o:shapelayout>'
            + _NOTE_SHAPE_TYPE.format(v="v", o="o")
            + "</xml>",
        )
        pkg.default("vml", CT_VML)
        rid = pkg.add_rel(part, REL_VML, vml_part)
        pkg.edit(part, lambda xml: _ws_insert(xml, f'<legacyDrawing{_r_decl(xml)} r:id="{rid}"/>', "legacyDrawing"))
        pkg.expect(part, "main:legacyDrawing")
    return comments_part, vml_part


def _vml_prefix(xml: str, uri: str) -> str:
    m = re.search(rf'xmlns:([\w.-]+)="{re.escape(uri)}"', xml)
    if not m:
        raise NotImplementedError(f"VML part without a prefix for {uri}")
    return m[1]


def _add_note_shape(pkg: _Package, vml_part: str, ref: str) -> None:
    """The hidden yellow box Excel draws for the note on `ref` (VML, as Excel 2016+ writes it)."""
    col, row = _cell(ref)
    xml = pkg.text(vml_part)
    v, o, x = (_vml_prefix(xml, uri) for uri in (VML, VML_OFFICE, VML_EXCEL))
    if 'id="_x0000_t202"' not in xml:
        xml = xml.replace("</xml>", _NOTE_SHAPE_TYPE.format(v=v, o=o) + "</xml>")
    used = [int(n) for name in pkg.data if name.endswith(".vml") for n in re.findall(rb"_x0000_s(\d+)", pkg.data[name])]
    block = re.search(r'data="(\d+)', xml)
    shape = max([*used, (int(block[1]) if block else 1) * 1024]) + 1
    anchor = f"{col}, 15, {max(row - 2, 0)}, 10, {col + 2}, 15, {max(row - 2, 0) + 4}, 4"
    box = (
        f'<{v}:shape id="_x0000_s{shape}" type="#_x0000_t202" style="position:absolute;margin-left:59.25pt;'
        f'margin-top:1.5pt;width:108pt;height:59.25pt;z-index:{shape};visibility:hidden" fillcolor="#ffffe1" '
        f'{o}:insetmode="auto"><{v}:fill color2="#ffffe1"/><{v}:shadow on="t" color="black" obscured="t"/>'
        f'<{v}:path {o}:connecttype="none"/><{v}:textbox style="mso-direction-alt:auto">'
        f'<div style="text-align:left"></div></{v}:textbox><{x}:ClientData ObjectType="Note"><{x}:MoveWithCells/>'
        f"<{x}:SizeWithCells/><{x}:Anchor>{anchor}</{x}:Anchor><{x}:AutoFill>False</{x}:AutoFill>"
        f"<{x}:Row>{row - 1}</{x}:Row><{x}:Column>{col - 1}</{x}:Column></{x}:ClientData></{v}:shape>"
    )
    end = xml.rfind("</xml>")
    pkg.put(vml_part, xml[:end] + box + xml[end:])
    pkg.expect(vml_part, f"v:shape/x:ClientData[x:Row='{row - 1}'][x:Column='{col - 1}']")


def _add_comment(pkg: _Package, comments_part: str, ref: str, author: str, body: str, uid: str | None) -> None:
    """A legacy comment on `ref` (`body`: the <text> children), its author added when new."""

    def change(xml: str) -> str:
        root = _root(xml)
        listed = _find(xml, root, "commentList")
        assert listed is not None
        if any(_attr(xml, el, "ref") == ref for el in _find_all(xml, listed, "comment")):
            raise ValueError(f"{ref} already has a comment")
        authors = _find(xml, root, "authors")
        assert authors is not None
        names = [_text(xml, el) for el in _find_all(xml, authors, "author")]
        if author not in names:
            xml = _append_into(xml, authors, f"<author>{_esc(author)}</author>")
            names.append(author)
        extra = ""
        if uid:
            xml = _ignorable(xml, "xr", XR)
            extra = f' xr:uid="{uid}"'
        listed = _find(xml, _root(xml), "commentList")
        assert listed is not None
        comment = (
            f'<comment ref="{ref}" authorId="{names.index(author)}" shapeId="0"{extra}><text>{body}</text></comment>'
        )
        return _append_into(xml, listed, comment)

    pkg.edit(comments_part, change)
    pkg.expect(comments_part, f"main:commentList/main:comment[@ref='{ref}']")


_NOTE_FONT = '<sz val="9"/><color indexed="81"/><rFont val="Tahoma"/><family val="2"/>'


# --- the features ---------------------------------------------------------------------------------


def add_threaded_comment(path: Path, sheet: str = "Events", cell: str = "B2") -> FeatureInfo:
    """An Excel 365 threaded comment with one reply on `cell`, as Excel 365 saves it.

    Parts: xl/threadedComments/threadedCommentN.xml (related from the sheet), xl/persons/person.xml
    (related from the workbook), and the legacy note Excel writes beside every thread for older
    readers: author "tc={thread id}", "[Threaded comment]" boilerplate text, xr:uid = thread id, and
    its VML box. The tracker workbook already has a comments part and a VML drawing for its header
    notes on every sheet, so the note goes into those (a sheet without them gets
    xl/commentsN.xml + xl/drawings/vmlDrawingN.vml).
    """
    pkg = _Package(path)
    part = pkg.sheet(sheet).part
    thread, reply = _guid("thread", sheet, cell), _guid("reply", sheet, cell)
    people = [
        ("Jane Doe", _guid("person", "jane"), "jane.doe@example.com", "AD"),
        ("Ravi Menon", _guid("person", "ravi"), "Ravi Menon", "None"),
    ]

    book = pkg.workbook_part
    persons = pkg.targets(book, REL_PERSON)
    if persons:
        persons_part = persons[0]
    else:
        persons_part = "xl/persons/person.xml"
        pkg.put(persons_part, f'{XML_DECLARATION}<personList xmlns="{TC}" xmlns:x="{MAIN}"></personList>')
        pkg.override(persons_part, CT_PERSON)
        pkg.add_rel(book, REL_PERSON, persons_part)
    for name, pid, user, provider in people:
        if pid.encode() not in pkg.data[persons_part]:
            person = f'<person displayName="{name}" id="{pid}" userId="{_esc(user)}" providerId="{provider}"/>'
            pkg.edit(persons_part, lambda xml, p=person: _append_into(xml, _root(xml), p))
        pkg.expect(persons_part, f"tc:person[@id='{pid}']")

    threads = pkg.targets(part, REL_THREADED)
    if threads:
        threads_part = threads[0]
    else:
        threads_part = pkg.free("xl/threadedComments/threadedComment{}.xml")
        pkg.put(threads_part, f'{XML_DECLARATION}<ThreadedComments xmlns="{TC}" xmlns:x="{MAIN}"></ThreadedComments>')
        pkg.override(threads_part, CT_THREADED)
        pkg.add_rel(part, REL_THREADED, threads_part)
    question, answer = "Is the vendor case escalated to Sev A?", "Yes, Microsoft confirmed at 02:10 UTC."
    entries = (
        f'<threadedComment ref="{cell}" dT="2026-11-21T14:00:00.00" personId="{people[0][1]}" id="{thread}">'
        f"<text>{_esc(question)}</text></threadedComment>"
        f'<threadedComment ref="{cell}" dT="2026-11-21T14:12:30.50" personId="{people[1][1]}" id="{reply}" '
        f'parentId="{thread}"><text>{_esc(answer)}</text></threadedComment>'
    )
    pkg.edit(threads_part, lambda xml: _append_into(xml, _root(xml), entries))
    pkg.expect(threads_part, f"tc:threadedComment[@id='{thread}']", f"tc:threadedComment[@parentId='{thread}']")

    comments_part, vml_part = _legacy_comments(pkg, sheet)
    legacy = (
        "[Threaded comment]\n\nYour version of Excel allows you to read this threaded comment; however, any edits "
        "to it will get removed if the file is opened in a newer version of Excel. Learn more: "
        f"https://go.microsoft.com/fwlink/?linkid=870924\n\nComment:\n    {question}\nReply:\n    {answer}"
    )
    _add_comment(pkg, comments_part, cell, f"tc={thread}", f'<t xml:space="preserve">{_esc(legacy)}</t>', thread)
    _add_note_shape(pkg, vml_part, cell)
    return pkg.finish("threaded_comment", sheet)


def add_note(
    path: Path, sheet: str = "Events", cell: str = "A2", text: str = "Bridge opened at 01:40 UTC by Jane."
) -> FeatureInfo:
    """A legacy note (what Excel 365 calls a Note) on a data cell, in Excel's rich-text style.

    `tracker init` already writes notes on every header cell (xl/comments/commentN.xml and
    xl/drawings/commentsDrawingN.vml, openpyxl's names); the new note is added to those parts, with
    a second author and a new VML shape whose id follows the highest one in the workbook. On a sheet
    without notes the parts are created as xl/commentsN.xml and xl/drawings/vmlDrawingN.vml with a
    <legacyDrawing> in the sheet.
    """
    pkg = _Package(path)
    comments_part, vml_part = _legacy_comments(pkg, sheet)
    author = "Jane Doe"
    body = (
        f"<r><rPr><b/>{_NOTE_FONT}</rPr><t>{author}:</t></r>"
        f'<r><rPr>{_NOTE_FONT}</rPr><t xml:space="preserve">\n{_esc(text)}</t></r>'
    )
    _add_comment(pkg, comments_part, cell, author, body, None)
    _add_note_shape(pkg, vml_part, cell)
    return pkg.finish("note", sheet)


def add_text_box(path: Path, sheet: str = "Events", text: str = "Bridge call: +1 555 0100") -> FeatureInfo:
    """A text box (DrawingML <xdr:sp txBox="1">) in the sheet's drawing, right of the Events columns."""
    pkg = _Package(path)
    drawing = _drawing(pkg, sheet)
    body = (
        '<xdr:sp macro="" textlink=""><xdr:nvSpPr><xdr:cNvPr id="{id}" name="TextBox {id}"/>'
        '<xdr:cNvSpPr txBox="1"/></xdr:nvSpPr><xdr:spPr><a:xfrm><a:off x="0" y="0"/>'
        '<a:ext cx="2743200" cy="762000"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom>'
        '<a:solidFill><a:schemeClr val="lt1"/></a:solidFill><a:ln w="9525" cmpd="sng"><a:solidFill>'
        '<a:schemeClr val="lt1"><a:shade val="50000"/></a:schemeClr></a:solidFill></a:ln></xdr:spPr>'
        '<xdr:style><a:lnRef idx="0"><a:scrgbClr r="0" g="0" b="0"/></a:lnRef><a:fillRef idx="0">'
        '<a:scrgbClr r="0" g="0" b="0"/></a:fillRef><a:effectRef idx="0"><a:scrgbClr r="0" g="0" b="0"/>'
        '</a:effectRef><a:fontRef idx="minor"><a:schemeClr val="dk1"/></a:fontRef></xdr:style>'
        '<xdr:txBody><a:bodyPr vertOverflow="clip" horzOverflow="clip" wrap="square" rtlCol="0" anchor="t"/>'
        f'<a:lstStyle/><a:p><a:r><a:rPr lang="en-GB" sz="1100"/><a:t>{_esc(text)}</a:t></a:r></a:p>'
        "</xdr:txBody></xdr:sp>"
    )
    shape_id = _anchor(pkg, drawing, (31, 1), (35, 5), body)
    pkg.expect(drawing, f"xdr:twoCellAnchor/xdr:sp/xdr:nvSpPr/xdr:cNvPr[@name='TextBox {shape_id}']")
    return pkg.finish("text_box", sheet)


def add_chart(path: Path, sheet: str = "Events", source: str = "Severities") -> FeatureInfo:
    """A clustered column chart of the severities' update and first-response minutes.

    xl/charts/chartN.xml (with cached values read from `source`) in a graphicFrame of the sheet's
    drawing, related from xl/drawings/_rels/drawingN.xml.rels.
    """
    pkg = _Package(path)
    rows = pkg.values(source)
    header, data = rows[0], [r for r in rows[1:] if r and r[0] not in (None, "")]
    sheet_ref = _quote_sheet(source)
    last = len(data) + 1

    def str_cache(values: Iterable[Any]) -> str:
        values = list(values)
        points = "".join(f'<c:pt idx="{i}"><c:v>{_esc(v)}</c:v></c:pt>' for i, v in enumerate(values))
        return f'<c:strCache><c:ptCount val="{len(values)}"/>{points}</c:strCache>'

    def series(index: int, col: int) -> str:
        letters = _letters(col)
        numbers = [_serial(r[col - 1]) for r in data]
        points = "".join(
            f'<c:pt idx="{i}"><c:v>{_number(v)}</c:v></c:pt>' for i, v in enumerate(numbers) if v is not None
        )
        return (
            f'<c:ser><c:idx val="{index}"/><c:order val="{index}"/>'
            f"<c:tx><c:strRef><c:f>{sheet_ref}!${letters}$1</c:f>{str_cache([header[col - 1]])}</c:strRef></c:tx>"
            '<c:invertIfNegative val="0"/>'
            f"<c:cat><c:strRef><c:f>{sheet_ref}!$A$2:$A${last}</c:f>{str_cache(r[0] for r in data)}</c:strRef></c:cat>"
            f"<c:val><c:numRef><c:f>{sheet_ref}!${letters}$2:${letters}${last}</c:f><c:numCache>"
            f'<c:formatCode>General</c:formatCode><c:ptCount val="{len(data)}"/>{points}</c:numCache></c:numRef></c:val>'
            "</c:ser>"
        )

    chart = pkg.free("xl/charts/chart{}.xml")
    pkg.put(
        chart,
        f'{XML_DECLARATION}<c:chartSpace xmlns:c="{C}" xmlns:a="{A}" xmlns:r="{R}">'
        '<c:date1904 val="0"/><c:lang val="en-US"/><c:roundedCorners val="0"/><c:chart>'
        "<c:title><c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:r><a:t>Minutes by severity</a:t></a:r></a:p>"
        '</c:rich></c:tx><c:overlay val="0"/></c:title><c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>'
        '<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/><c:varyColors val="0"/>'
        f"{series(0, 3)}{series(1, 4)}"
        '<c:gapWidth val="150"/><c:axId val="50010001"/><c:axId val="50010002"/></c:barChart>'
        '<c:catAx><c:axId val="50010001"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        '<c:axPos val="b"/><c:numFmt formatCode="General" sourceLinked="1"/><c:tickLblPos val="nextTo"/>'
        '<c:crossAx val="50010002"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/>'
        '<c:lblOffset val="100"/></c:catAx><c:valAx><c:axId val="50010002"/><c:scaling>'
        '<c:orientation val="minMax"/><c:min val="0"/></c:scaling><c:delete val="0"/><c:axPos val="l"/>'
        '<c:majorGridlines/><c:numFmt formatCode="General" sourceLinked="1"/><c:tickLblPos val="nextTo"/>'
        '<c:crossAx val="50010001"/><c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>'
        '</c:plotArea><c:legend><c:legendPos val="r"/><c:overlay val="0"/></c:legend><c:plotVisOnly val="1"/>'
        '<c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>',
    )
    pkg.override(chart, CT_CHART)
    drawing = _drawing(pkg, sheet)
    rid = pkg.add_rel(drawing, REL_CHART, chart)
    body = (
        '<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{id}" name="Chart {id}"/>'
        '<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/>'
        '</xdr:xfrm><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
        f'<c:chart xmlns:c="{C}" xmlns:r="{R}" r:id="{rid}"/></a:graphicData></a:graphic></xdr:graphicFrame>'
    )
    shape_id = _anchor(pkg, drawing, (31, 7), (39, 22), body)
    pkg.expect(drawing, f"xdr:twoCellAnchor/xdr:graphicFrame/xdr:nvGraphicFramePr/xdr:cNvPr[@name='Chart {shape_id}']")
    pkg.expect(chart, "c:chart/c:plotArea/c:barChart/c:ser")
    return pkg.finish("chart", sheet)


def add_sparklines(path: Path, sheet: str = "Events", cell: str = "AE2") -> FeatureInfo:
    """A line sparkline group (x14:sparklineGroups in the sheet's extLst) in `cell`.

    It draws the first data row's Detected / Reported / Acknowledged times (K:M of the same row),
    with the colours Excel's default sparkline style writes.
    """
    pkg = _Package(path)
    part = pkg.sheet(sheet).part
    row = _cell(cell)[1]
    ext = (
        f'<ext uri="{URI_SPARKLINES}" xmlns:x14="{X14}"><x14:sparklineGroups xmlns:xm="{XM}">'
        '<x14:sparklineGroup displayEmptyCellsAs="gap" markers="1">'
        '<x14:colorSeries theme="4" tint="-0.499984740745262"/><x14:colorNegative theme="5"/>'
        '<x14:colorAxis rgb="FF000000"/><x14:colorMarkers theme="4" tint="-0.499984740745262"/>'
        '<x14:colorFirst theme="4" tint="0.39997558519241921"/><x14:colorLast theme="4" tint="0.39997558519241921"/>'
        '<x14:colorHigh theme="4"/><x14:colorLow theme="4"/><x14:sparklines><x14:sparkline>'
        f"<xm:f>{_quote_sheet(sheet)}!K{row}:M{row}</xm:f><xm:sqref>{cell}</xm:sqref></x14:sparkline>"
        "</x14:sparklines></x14:sparklineGroup></x14:sparklineGroups></ext>"
    )
    pkg.edit(part, lambda xml: _sheet_ext(xml, ext, URI_SPARKLINES))
    pkg.expect(part, f"{_ext_path(URI_SPARKLINES)}/x14:sparklineGroups/x14:sparklineGroup/x14:sparklines/x14:sparkline")
    return pkg.finish("sparklines", sheet)


def add_table_slicer(path: Path, sheet: str = "Events", column: str = "Status") -> FeatureInfo:
    """An Excel 2013+ table slicer on the sheet's table column `column`.

    Parts: xl/slicers/slicerN.xml (x14:slicers, related from the sheet, listed in the sheet's extLst
    under the x15 URI {3A4CF648-...} as x14:slicerList) and xl/slicerCaches/slicerCacheN.xml
    (x14:slicerCacheDefinition with an x15:tableSlicerCache extension pointing at the table id and
    tableColumn id, related from the workbook and listed in workbook.xml's extLst under
    {46BE6895-...} as x15:slicerCaches), the defined name Slicer_<column> = #N/A that Excel adds for
    every slicer cache, and the slicer's shape in the sheet's drawing (mc:AlternateContent requiring
    sle15, with the fallback box older Excel shows).
    """
    pkg = _Package(path)
    table = pkg.table(sheet)
    _, column_id = table.column(column)
    cache_name = "Slicer_" + re.sub(r"\W", "_", column)
    part = pkg.sheet(sheet).part
    book = pkg.workbook_part

    cache = pkg.free("xl/slicerCaches/slicerCache{}.xml")
    pkg.put(
        cache,
        f'{XML_DECLARATION}<slicerCacheDefinition xmlns="{X14}" xmlns:mc="{MC}" mc:Ignorable="x xr10" '
        f'xmlns:x="{MAIN}" xmlns:xr10="{XR10}" name="{cache_name}" xr10:uid="{_guid("cache", cache_name)}" '
        f'sourceName="{_esc(column)}"><extLst><x:ext uri="{URI_X15_TABLE_SLICER_CACHE}" xmlns:x15="{X15}">'
        f'<x15:tableSlicerCache tableId="{table.id}" column="{column_id}"/></x:ext></extLst></slicerCacheDefinition>',
    )
    pkg.override(cache, CT_SLICER_CACHE)
    cache_rid = pkg.add_rel(book, REL_SLICER_CACHE, cache)

    slicers = pkg.free("xl/slicers/slicer{}.xml")
    pkg.put(
        slicers,
        f'{XML_DECLARATION}<slicers xmlns="{X14}" xmlns:mc="{MC}" mc:Ignorable="x xr10" xmlns:x="{MAIN}" '
        f'xmlns:xr10="{XR10}"><slicer name="{_esc(column)}" xr10:uid="{_guid("slicer", column)}" '
        f'cache="{cache_name}" caption="{_esc(column)}" rowHeight="241300"/></slicers>',
    )
    pkg.override(slicers, CT_SLICER)
    slicer_rid = pkg.add_rel(part, REL_SLICER, slicers)

    def change_sheet(xml: str) -> str:
        ext = (
            f'<ext uri="{URI_X15_TABLE_SLICER_LIST}" xmlns:x15="{X15}"><x14:slicerList xmlns:x14="{X14}">'
            f'<x14:slicer{_r_decl(xml)} r:id="{slicer_rid}"/></x14:slicerList></ext>'
        )
        return _sheet_ext(xml, ext, URI_X15_TABLE_SLICER_LIST)

    pkg.edit(part, change_sheet)
    pkg.expect(part, f"{_ext_path(URI_X15_TABLE_SLICER_LIST)}/x14:slicerList/x14:slicer")

    def change_book(xml: str) -> str:
        xml = _add_defined_name(xml, cache_name, "#N/A")
        ext = (
            f'<ext uri="{URI_X15_SLICER_CACHES}" xmlns:x15="{X15}"><x15:slicerCaches xmlns:x14="{X14}">'
            f'<x14:slicerCache{_r_decl(xml)} r:id="{cache_rid}"/></x15:slicerCaches></ext>'
        )
        return _add_ext(xml, ext, URI_X15_SLICER_CACHES, WORKBOOK_EXT_ORDER, WORKBOOK_ORDER)

    pkg.edit(book, change_book)
    pkg.expect(
        book,
        f"main:definedNames/main:definedName[@name='{cache_name}']",
        f"{_ext_path(URI_X15_SLICER_CACHES)}/x15:slicerCaches/x14:slicerCache",
    )

    drawing = _drawing(pkg, sheet)
    body = (
        f'<mc:AlternateContent xmlns:mc="{MC}"><mc:Choice xmlns:sle15="{SLE15}" Requires="sle15">'
        '<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{id}" name="'
        f'{_esc(column)}"/><xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/>'
        f'<a:ext cx="0" cy="0"/></xdr:xfrm><a:graphic><a:graphicData uri="{SLE}"><sle:slicer xmlns:sle="{SLE}" '
        f'name="{_esc(column)}"/></a:graphicData></a:graphic></xdr:graphicFrame></mc:Choice>'
        '<mc:Fallback><xdr:sp macro="" textlink=""><xdr:nvSpPr><xdr:cNvPr id="0" name=""/><xdr:cNvSpPr>'
        '<a:spLocks noTextEdit="1"/></xdr:cNvSpPr></xdr:nvSpPr><xdr:spPr><a:xfrm><a:off x="0" y="0"/>'
        '<a:ext cx="1828800" cy="2524125"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom>'
        '<a:solidFill><a:prstClr val="white"/></a:solidFill><a:ln w="1"><a:solidFill><a:prstClr val="green"/>'
        '</a:solidFill></a:ln></xdr:spPr><xdr:txBody><a:bodyPr vertOverflow="clip" horzOverflow="clip"/>'
        '<a:lstStyle/><a:p><a:r><a:rPr lang="en-GB" sz="1100"/><a:t>This shape represents a table slicer. '
        "Table slicers are supported in Excel or later versions.</a:t></a:r></a:p></xdr:txBody></xdr:sp>"
        "</mc:Fallback></mc:AlternateContent>"
    )
    _anchor(pkg, drawing, (31, 23), (34, 36), body)
    pkg.expect(drawing, "xdr:twoCellAnchor/mc:AlternateContent")
    return pkg.finish("table_slicer", sheet, note="LibreOffice has no slicers: it drops them when it saves.")


def add_pivot_table(path: Path, source: str = "Services", group_by: str = "Owning Team") -> FeatureInfo:
    """A pivot table on a new sheet "Pivot": count of `source` rows by `group_by`, as Excel lays it out.

    Parts: xl/pivotCache/pivotCacheDefinitionN.xml (worksheetSource ref + sheet, refreshOnLoad,
    shared items for every field) with its pivotCacheRecordsN.xml, xl/pivotTables/pivotTableN.xml
    related from the new sheet, <pivotCaches> in workbook.xml, and the rendered values in the sheet
    (row labels from A3, "Grand Total" last).
    """
    pkg = _Package(path)
    rows = pkg.values(source)
    header = [str(h) for h in rows[0] if h not in (None, "")]
    records = [r[: len(header)] for r in rows[1:] if any(v not in (None, "") for v in r[: len(header)])]
    key = header.index(group_by)
    book = pkg.workbook_part

    shared: list[list[Any]] = []
    for i in range(len(header)):
        seen: list[Any] = []
        for r in records:
            if r[i] not in seen:
                seen.append(r[i])
        shared.append(seen)

    def item(value: Any) -> str:
        if value in (None, ""):
            return "<m/>"
        number = _serial(value)
        return f'<n v="{_number(number)}"/>' if number is not None else f'<s v="{_esc(value)}"/>'

    fields = "".join(
        f'<cacheField name="{_esc(name)}" numFmtId="0"><sharedItems count="{len(shared[i])}">'
        + "".join(item(v) for v in shared[i])
        + "</sharedItems></cacheField>"
        for i, name in enumerate(header)
    )
    cache = pkg.free("xl/pivotCache/pivotCacheDefinition{}.xml")
    records_part = pkg.free("xl/pivotCache/pivotCacheRecords{}.xml")
    pivot = pkg.free("xl/pivotTables/pivotTable{}.xml")
    taken = [int(x) for x in re.findall(r'cacheId="(\d+)"', pkg.text(book))]
    cache_id = max([0, *taken]) + 1
    last_row, last_col = len(records) + 1, _letters(len(header))
    pkg.put(
        cache,
        f'{XML_DECLARATION}<pivotCacheDefinition xmlns="{MAIN}" xmlns:r="{R}" r:id="rId1" refreshOnLoad="1" '
        'refreshedBy="Jane Doe" refreshedDate="46347.5" createdVersion="6" refreshedVersion="6" '
        f'minRefreshableVersion="3" recordCount="{len(records)}"><cacheSource type="worksheet">'
        f'<worksheetSource ref="A1:{last_col}{last_row}" sheet="{_esc(source)}"/></cacheSource>'
        f'<cacheFields count="{len(header)}">{fields}</cacheFields></pivotCacheDefinition>',
    )
    body = "".join("<r>" + "".join(f'<x v="{shared[i].index(v)}"/>' for i, v in enumerate(r)) + "</r>" for r in records)
    pkg.put(
        records_part,
        f'{XML_DECLARATION}<pivotCacheRecords xmlns="{MAIN}" xmlns:r="{R}" count="{len(records)}">{body}'
        "</pivotCacheRecords>",
    )
    pkg.add_rel(cache, REL_PIVOT_RECORDS, records_part)

    labels = sorted(shared[key], key=lambda v: str(v).lower())
    counts = {label: sum(1 for r in records if r[key] == label) for label in labels}
    first, top = 3, f"A3:B{3 + len(labels) + 1}"
    pivot_fields = ""
    for i in range(len(header)):
        if i == key:
            items = "".join(f'<item x="{shared[i].index(v)}"/>' for v in labels)
            pivot_fields += (
                f'<pivotField axis="axisRow" showAll="0"><items count="{len(labels) + 1}">{items}'
                '<item t="default"/></items></pivotField>'
            )
        elif i == 0:
            pivot_fields += '<pivotField dataField="1" showAll="0"/>'
        else:
            pivot_fields += '<pivotField showAll="0"/>'
    row_items = "<i><x/></i>" + "".join(f'<i><x v="{n}"/></i>' for n in range(1, len(labels))) + '<i t="grand"><x/></i>'
    data_name = f"Count of {header[0]}"
    pkg.put(
        pivot,
        f'{XML_DECLARATION}<pivotTableDefinition xmlns="{MAIN}" name="ServicesPivot" cacheId="{cache_id}" '
        'applyNumberFormats="0" applyBorderFormats="0" applyFontFormats="0" applyPatternFormats="0" '
        'applyAlignmentFormats="0" applyWidthHeightFormats="1" dataCaption="Values" updatedVersion="6" '
        'minRefreshableVersion="3" useAutoFormatting="1" itemPrintTitles="1" createdVersion="6" indent="0" '
        f'outline="1" outlineData="1" multipleFieldFilters="0"><location ref="{top}" firstHeaderRow="1" '
        f'firstDataRow="1" firstDataCol="1"/><pivotFields count="{len(header)}">{pivot_fields}</pivotFields>'
        f'<rowFields count="1"><field x="{key}"/></rowFields><rowItems count="{len(labels) + 1}">{row_items}'
        '</rowItems><colItems count="1"><i/></colItems><dataFields count="1">'
        f'<dataField name="{_esc(data_name)}" fld="0" subtotal="count" baseField="0" baseItem="0"/></dataFields>'
        '<pivotTableStyleInfo name="PivotStyleLight16" showRowHeaders="1" showColHeaders="1" showRowStripes="0" '
        'showColStripes="0" showLastColumn="1"/></pivotTableDefinition>',
    )
    pkg.add_rel(pivot, REL_PIVOT_CACHE, cache)

    cells = [(_inline("A3", "Row Labels"), _inline("B3", data_name))]
    for n, label in enumerate(labels, start=first + 1):
        cells.append((_inline(f"A{n}", str(label)), f'<c r="B{n}"><v>{counts[label]}</v></c>'))
    end = first + len(labels) + 1
    cells.append((_inline(f"A{end}", "Grand Total"), f'<c r="B{end}"><v>{len(records)}</v></c>'))
    sheet_data = "".join(f'<row r="{n}">{a}{b}</row>' for n, (a, b) in enumerate(cells, start=first))
    sheet_part = pkg.free("xl/worksheets/sheet{}.xml")
    pkg.put(
        sheet_part,
        f'{XML_DECLARATION}<worksheet xmlns="{MAIN}" xmlns:r="{R}"><dimension ref="A3:B{end}"/><sheetViews>'
        '<sheetView workbookViewId="0"><selection activeCell="A3" sqref="A3"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/><cols><col min="1" max="1" width="24" customWidth="1"/>'
        f'<col min="2" max="2" width="16" customWidth="1"/></cols><sheetData>{sheet_data}</sheetData>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>',
    )
    pkg.override(sheet_part, CT_WORKSHEET)
    pkg.override(cache, CT_PIVOT_CACHE)
    pkg.override(records_part, CT_PIVOT_RECORDS)
    pkg.override(pivot, CT_PIVOT_TABLE)
    pkg.add_rel(sheet_part, REL_PIVOT_TABLE, pivot)
    sheet_rid = pkg.add_rel(book, REL_WORKSHEET, sheet_part)
    cache_rid = pkg.add_rel(book, REL_PIVOT_CACHE, cache)
    sheet_id = max(s.sheet_id for s in pkg.sheets()) + 1

    def change_book(xml: str) -> str:
        sheets = _path(xml, "sheets")
        assert sheets
        xml = _append_into(xml, sheets, f'<sheet name="Pivot" sheetId="{sheet_id}"{_r_decl(xml)} r:id="{sheet_rid}"/>')
        entry = f'<pivotCache cacheId="{cache_id}"{_r_decl(xml)} r:id="{cache_rid}"/>'
        caches = _path(xml, "pivotCaches")
        if caches:
            return _append_into(xml, caches, entry)
        return _insert_ordered(xml, _root(xml), f"<pivotCaches>{entry}</pivotCaches>", "pivotCaches", WORKBOOK_ORDER)

    pkg.edit(book, change_book)
    pkg.expect(
        book, "main:sheets/main:sheet[@name='Pivot']", f"main:pivotCaches/main:pivotCache[@cacheId='{cache_id}']"
    )
    pkg.expect(pivot, "main:location", "main:dataFields/main:dataField")
    pkg.expect(cache, f"main:cacheSource/main:worksheetSource[@sheet='{source}']")
    return pkg.finish("pivot_table", "Pivot")


def _password_hash(password: str, salt: bytes, spin: int = 100_000) -> tuple[str, str]:
    """(hashValue, saltValue) as Excel 2013+ writes them for SHA-512 (ISO/IEC 29500 agile hashing)."""
    digest = hashlib.sha512(salt + password.encode("utf-16-le")).digest()
    for n in range(spin):
        digest = hashlib.sha512(digest + struct.pack("<I", n)).digest()
    return base64.b64encode(digest).decode(), base64.b64encode(salt).decode()


def add_protected_ranges(path: Path, sheet: str = "Events", protect_sheet: bool = False) -> FeatureInfo:
    """Two "Allow Users to Edit Ranges" entries (<protectedRanges>), the second with a password.

    Excel keeps these while the sheet is unprotected; `protect_sheet=True` also adds a
    <sheetProtection> (password "tracker", SHA-512). Placed per CT_Worksheet (after sheetProtection,
    before autoFilter / mergeCells / conditionalFormatting / dataValidations).
    """
    pkg = _Package(path)
    part = pkg.sheet(sheet).part
    hash_value, salt = _password_hash("tracker", hashlib.sha256(b"tracker-fidelity").digest()[:16])
    ranges = (
        '<protectedRanges><protectedRange sqref="J2:J1048576" name="ImpactNotes"/>'
        f'<protectedRange algorithmName="SHA-512" hashValue="{hash_value}" saltValue="{salt}" spinCount="100000" '
        'sqref="AA2:AB1048576" name="WorkaroundAndCause"/></protectedRanges>'
    )

    def change(xml: str) -> str:
        if protect_sheet:
            protection = (
                f'<sheetProtection algorithmName="SHA-512" hashValue="{hash_value}" saltValue="{salt}" '
                'spinCount="100000" sheet="1" objects="1" scenarios="1" autoFilter="0" sort="0"/>'
            )
            xml = _ws_insert(xml, protection, "sheetProtection")
        return _ws_insert(xml, ranges, "protectedRanges")

    pkg.edit(part, change)
    pkg.expect(
        part,
        "main:protectedRanges/main:protectedRange[@name='ImpactNotes']",
        "main:protectedRanges/main:protectedRange[@name='WorkaroundAndCause']",
    )
    if protect_sheet:
        pkg.expect(part, "main:sheetProtection")
    return pkg.finish("protected_ranges", sheet)


def add_custom_views(path: Path, name: str = "Triage") -> FeatureInfo:
    """A custom view: <customWorkbookViews> in workbook.xml and a <customSheetView> in every sheet.

    Excel writes one customSheetView per sheet for each custom view (same guid). Note that Excel
    greys out View > Custom Views in a workbook that has tables, so Excel itself would not produce
    this file (it still opens it).
    """
    pkg = _Package(path)
    guid = _guid("view", name)
    book = pkg.workbook_part
    sheets = pkg.sheets()
    active = sheets[0].sheet_id
    view = (
        f'<customWorkbookViews><customWorkbookView name="{_esc(name)}" guid="{guid}" maximized="1" '
        f'xWindow="-8" yWindow="-8" windowWidth="1936" windowHeight="1048" tabRatio="600" activeSheetId="{active}"/>'
        "</customWorkbookViews>"
    )
    pkg.edit(book, lambda xml: _insert_ordered(xml, _root(xml), view, "customWorkbookViews", WORKBOOK_ORDER))
    pkg.expect(book, f"main:customWorkbookViews/main:customWorkbookView[@guid='{guid}']")
    for sheet in sheets:
        pane = ""
        if sheet.index == 0:
            pane = (
                '<pane xSplit="2" ySplit="1" topLeftCell="C2" activePane="bottomRight" state="frozen"/>'
                '<selection pane="bottomRight" activeCell="D2" sqref="D2"/>'
            )
        else:
            pane = '<selection activeCell="A2" sqref="A2"/>'
        sheet_view = (
            f'<customSheetViews><customSheetView guid="{guid}" scale="90" showGridLines="0" fitToPage="1" '
            f'topLeftCell="A1">{pane}<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
            'footer="0.3"/><pageSetup paperSize="9" orientation="landscape"/><headerFooter/>'
            "</customSheetView></customSheetViews>"
        )
        pkg.edit(sheet.part, lambda xml, v=sheet_view: _ws_insert(xml, v, "customSheetViews"))
        pkg.expect(sheet.part, f"main:customSheetViews/main:customSheetView[@guid='{guid}']")
    return pkg.finish("custom_views", "")


def add_ignored_errors(path: Path, sheet: str = "Events") -> FeatureInfo:
    """<ignoredErrors>: "number stored as text" switched off for the Vendor Case column (Y)."""
    pkg = _Package(path)
    part = pkg.sheet(sheet).part
    fragment = (
        '<ignoredErrors><ignoredError sqref="Y2:Y1048576" numberStoredAsText="1"/>'
        '<ignoredError sqref="A1:AB1" unlockedFormula="1"/></ignoredErrors>'
    )
    pkg.edit(part, lambda xml: _ws_insert(xml, fragment, "ignoredErrors"))
    pkg.expect(part, "main:ignoredErrors/main:ignoredError[@numberStoredAsText='1']")
    return pkg.finish("ignored_errors", sheet)


def add_file_sharing(path: Path) -> FeatureInfo:
    """<fileSharing readOnlyRecommended="1"> in workbook.xml, placed before workbookPr (schema order)."""
    pkg = _Package(path)
    book = pkg.workbook_part
    fragment = '<fileSharing readOnlyRecommended="1" userName="Jane Doe"/>'
    pkg.edit(book, lambda xml: _insert_ordered(xml, _root(xml), fragment, "fileSharing", WORKBOOK_ORDER))
    pkg.expect(book, "main:fileSharing[@readOnlyRecommended='1']")
    return pkg.finish("file_sharing", "")


def _add_defined_name(xml: str, name: str, value: str, local_sheet: int | None = None, *, replace: bool = False) -> str:
    """Add <definedName> to workbook.xml (creating <definedNames> in schema order); with `replace`, one already
    there (same name and sheet) takes the new value, as Excel's Name Manager or Page Setup does."""
    local = f' localSheetId="{local_sheet}"' if local_sheet is not None else ""
    entry = f'<definedName name="{_esc(name)}"{local}>{_esc(value)}</definedName>'
    names = _path(xml, "definedNames")
    if names is None:
        return _insert_ordered(xml, _root(xml), f"<definedNames>{entry}</definedNames>", "definedNames", WORKBOOK_ORDER)
    for el in _find_all(xml, names, "definedName"):
        if _attr(xml, el, "name") == name and _attr(xml, el, "localSheetId") == (
            None if local_sheet is None else str(local_sheet)
        ):
            if replace:
                return _replace(xml, el, entry)
            raise ValueError(f"defined name {name} exists already")
    return _append_into(xml, names, entry)


def add_defined_names(path: Path, sheet: str = "Events") -> FeatureInfo:
    """A workbook name (BridgeNumber, a constant), a sheet-scoped name (OpenStatuses on `sheet`),
    a print area (_xlnm.Print_Area, A:J of the table) and print titles (_xlnm.Print_Titles: columns A:B and
    row 1, in place of the row 1 tracker's new workbooks print on every page)."""
    pkg = _Package(path)
    book = pkg.workbook_part
    target = pkg.sheet(sheet)
    table = pkg.table(sheet)
    ref = _quote_sheet(sheet)
    names = [
        ("BridgeNumber", '"+1 555 0100"', None),
        ("OpenStatuses", f"{ref}!$D${table.first_data}:$D${table.last_data}", target.index),
        ("_xlnm.Print_Area", f"{ref}!$A${table.r1}:$J${table.last_data}", target.index),
        ("_xlnm.Print_Titles", f"{ref}!$A:$B,{ref}!${table.r1}:${table.r1}", target.index),
    ]

    def change(xml: str) -> str:
        for name, value, local in names:
            xml = _add_defined_name(xml, name, value, local, replace=name.startswith("_xlnm."))
        return xml

    pkg.edit(book, change)
    pkg.expect(book, *(f"main:definedNames/main:definedName[@name='{name}']" for name, _, _ in names))
    return pkg.finish("defined_names", sheet)


def _empty_compound_file() -> bytes:
    """A valid, empty OLE2 compound file (MS-CFB v3: header, one FAT sector, one directory sector)."""
    free, end, fat_sector, no_stream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    header = struct.pack(
        "<8s16s5H6s9I",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"\0" * 16,
        0x003E,  # minor version
        0x0003,  # major version 3: 512-byte sectors
        0xFFFE,  # little-endian
        9,  # sector shift (512)
        6,  # mini sector shift (64)
        b"\0" * 6,
        0,  # directory sectors (0 in version 3)
        1,  # FAT sectors
        1,  # first directory sector
        0,  # transaction signature
        0x1000,  # mini stream cutoff
        end,  # first mini FAT sector
        0,  # mini FAT sectors
        end,  # first DIFAT sector
        0,  # DIFAT sectors
    )
    header += struct.pack("<109I", 0, *([free] * 108))
    fat = struct.pack("<128I", fat_sector, end, *([free] * 126))
    name = "Root Entry".encode("utf-16-le") + b"\0\0"
    root = struct.pack(
        "<64sHBB3I16sI8s8sIQ", name, len(name), 5, 1, no_stream, no_stream, no_stream, b"\0" * 16, 0, b"", b"", end, 0
    )
    unused = struct.pack("<64sHBB3I16sI8s8sIQ", b"", 0, 0, 0, no_stream, no_stream, no_stream, b"", 0, b"", b"", 0, 0)
    return header + fat + root + unused * 3


def add_vba(path: Path) -> FeatureInfo:
    """Make the workbook macro-enabled: returns an .xlsm (`FeatureInfo.path`).

    The workbook's content type becomes application/vnd.ms-excel.sheet.macroEnabled.main+xml,
    xl/vbaProject.bin is added with its workbook relationship and a Default content type for .bin,
    and workbookPr gets codeName="ThisWorkbook". The .bin is a placeholder: a structurally valid
    but empty OLE2 compound file with no VBA storage (no macros could be written without Excel);
    Excel would report the VBA project as damaged, LibreOffice ignores it. An .xlsx path is renamed
    to .xlsm (the .xlsx is removed) and a tracker.toml beside it that names the old file is pointed
    at the new one; an .xlsm path (e.g. from `make_tracker(folder, workbook="events.xlsm")`) is
    converted in place.
    """
    pkg = _Package(path)
    book = pkg.workbook_part
    pkg.put("xl/vbaProject.bin", _empty_compound_file())
    pkg.default("bin", CT_VBA)
    pkg.override(book, CT_XLSM_MAIN)
    pkg.add_rel(book, REL_VBA, "xl/vbaProject.bin")

    def change(xml: str) -> str:
        pr = _path(xml, "workbookPr")
        if pr is None:
            return _insert_ordered(
                xml, _root(xml), '<workbookPr codeName="ThisWorkbook"/>', "workbookPr", WORKBOOK_ORDER
            )
        return _set_attrs(xml, pr, codeName="ThisWorkbook")

    pkg.edit(book, change)
    pkg.expect(book, "main:workbookPr[@codeName='ThisWorkbook']")
    pkg.expect("[Content_Types].xml", f"ct:Override[@ContentType='{CT_XLSM_MAIN}']")
    target = path.with_suffix(".xlsm")
    info = pkg.finish(
        "vba", "", note="xl/vbaProject.bin is an empty OLE2 container, not a real VBA project.", target=target
    )
    if target != path:
        path.unlink()
        config = path.parent / "tracker.toml"
        if config.exists():
            text = config.read_text(encoding="utf-8")
            config.write_text(text.replace(f'"{path.name}"', f'"{target.name}"'), encoding="utf-8")
    return info


def _add_merge(pkg: _Package, sheet: str, ref: str) -> None:
    part = pkg.sheet(sheet).part

    def change(xml: str) -> str:
        merges = _path(xml, "mergeCells")
        if merges is None:
            return _ws_insert(xml, f'<mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>', "mergeCells")
        count = len(_find_all(xml, merges, "mergeCell")) + 1
        xml = _append_into(xml, merges, f'<mergeCell ref="{ref}"/>')
        merges = _path(xml, "mergeCells")
        assert merges
        return _set_attrs(xml, merges, count=str(count))

    pkg.edit(part, change)
    pkg.expect(part, f"main:mergeCells/main:mergeCell[@ref='{ref}']")


def add_merged_cells_in_table(path: Path, sheet: str = "Events", ref: str = "N2:O2") -> FeatureInfo:
    """Merge two cells of the first data row (default N2:O2, Mitigated + Resolved, both empty).

    Excel itself refuses to merge cells inside a table ("This operation is not allowed"), so this
    is a hand-made file: it tests a writer that has to set O2 (Resolved) while O2 is covered by a
    merge -- openpyxl's MergedCell is read-only there.
    """
    pkg = _Package(path)
    _add_merge(pkg, sheet, ref)
    return pkg.finish("merged_cells_in_table", sheet, note="Excel would not create a merge inside a table.")


def add_merged_cells_below_table(path: Path, sheet: str = "Events", width: int = 4) -> FeatureInfo:
    """Merge `width` empty cells (from column A) on the row just below the table: where an appended
    event would go."""
    pkg = _Package(path)
    table = pkg.table(sheet)
    row = table.r2 + 1
    _add_merge(pkg, sheet, _ref(table.c1, row, table.c1 + width - 1, row))
    return pkg.finish("merged_cells_below_table", sheet)


def add_hidden_row(path: Path, sheet: str = "Events", row: int | None = None) -> FeatureInfo:
    """Hide a data row of the table (default: the first), <row hidden="1">."""
    pkg = _Package(path)
    table = pkg.table(sheet)
    number = row or table.first_data
    part = pkg.sheet(sheet).part

    def change(xml: str) -> str:
        xml, el = _row(xml, number)
        return _set_attrs(xml, el, hidden="1")

    pkg.edit(part, change)
    pkg.expect(part, f"main:sheetData/main:row[@r='{number}'][@hidden='1']")
    return pkg.finish("hidden_row", sheet)


def add_filter_and_sort(
    path: Path,
    sheet: str = "Events",
    column: str = "Status",
    keep: tuple[str, ...] = ("Identified", "Monitoring"),
    sort_by: str = "Detected (UTC)",
) -> FeatureInfo:
    """Filter the table on `column` (values `keep`) and record a sort by `sort_by`, as Excel does.

    The table's autoFilter gets a <filterColumn> with <filters>, rows that fail the filter get
    hidden="1" (with `make_tracker(..., extra_events=n)` the extra events are Investigating, so
    their rows are hidden; the example event is Identified and stays visible), and a <sortState> (ascending by Detected, the order tracker appends in, so the rows
    really are sorted) follows the autoFilter inside the table part.
    """
    pkg = _Package(path)
    table = pkg.table(sheet)
    filter_col, _ = table.column(column)
    sort_col, _ = table.column(sort_by)
    position = filter_col - table.c1
    values = pkg.values(sheet)
    filters = "".join(f'<filter val="{_esc(v)}"/>' for v in keep)

    def change_table(xml: str) -> str:
        auto = _find(xml, _root(xml), "autoFilter")
        if auto is None:
            ref = _ref(table.c1, table.r1, table.c2, table.last_data)
            xml = _insert_ordered(xml, _root(xml), f'<autoFilter ref="{ref}"/>', "autoFilter", TABLE_ORDER)
            auto = _find(xml, _root(xml), "autoFilter")
            assert auto
        xml = _append_into(xml, auto, f'<filterColumn colId="{position}"><filters>{filters}</filters></filterColumn>')
        sort = (
            f'<sortState ref="{_ref(table.c1, table.first_data, table.c2, table.last_data)}">'
            f'<sortCondition ref="{_ref(sort_col, table.first_data, sort_col, table.last_data)}"/></sortState>'
        )
        return _insert_ordered(xml, _root(xml), sort, "sortState", TABLE_ORDER)

    pkg.edit(table.part, change_table)
    part = pkg.sheet(sheet).part
    hidden = [
        row
        for row in range(table.first_data, table.last_data + 1)
        if row - 1 < len(values) and values[row - 1][filter_col - 1] not in keep
    ]

    def change_sheet(xml: str) -> str:
        for row in hidden:
            xml, el = _row(xml, row)
            xml = _set_attrs(xml, el, hidden="1")
        return xml

    pkg.edit(part, change_sheet)
    pkg.expect(table.part, f"main:autoFilter/main:filterColumn[@colId='{position}']/main:filters", "main:sortState")
    return pkg.finish("filter_and_sort", sheet, note=f"rows hidden by the filter: {hidden}")


def _minutes_to_ack(xml: str, row: int) -> str:
    """Cached value of the formula columns: minutes from Detected (K) to Acknowledged (M)."""
    detected, acknowledged = _raw_value(xml, f"K{row}"), _raw_value(xml, f"M{row}")
    if detected is None or acknowledged is None:
        return ""
    return _number(round((float(acknowledged) - float(detected)) * 1440))


def _formula_cell(ref: str, formula: str, value: str, shared: str = "") -> str:
    f = f"<f{shared}>{_esc(formula)}</f>" if formula else f"<f{shared}/>"
    return f'<c r="{ref}" t="str">{f}<v></v></c>' if value == "" else f'<c r="{ref}">{f}<v>{value}</v></c>'


def _formula_column(path: Path, sheet: str, variant: str) -> FeatureInfo:
    pkg = _Package(path)
    xml = pkg.text(pkg.sheet(sheet).part)
    table = pkg.table(sheet)
    header = {"formulas": "Minutes to Ack", "shared_formulas": "Minutes to Ack", "calculated_column": "Ack Minutes"}[
        variant
    ]
    structured = (
        f'IF({table.name}[[#This Row],[Acknowledged (UTC)]]="","",ROUND(({table.name}[[#This Row],'
        f"[Acknowledged (UTC)]]-{table.name}[[#This Row],[Detected (UTC)]])*1440,0))"
    )
    si = max([-1, *(int(x) for x in re.findall(r'<f[^>]*\bsi="(\d+)"', xml))]) + 1
    first, last = table.first_data, table.last_data
    col_letters = _letters(table.c2 + 1)

    def cell(ref: str, row: int) -> str:
        value = _minutes_to_ack(xml, row)
        plain = f'IF(M{row}="","",ROUND((M{row}-K{row})*1440,0))'
        if variant == "formulas":
            return _formula_cell(ref, plain, value)
        if variant == "calculated_column":
            return _formula_cell(ref, structured, value)
        if row == first:
            return _formula_cell(
                ref, plain, value, f' t="shared" ref="{col_letters}{first}:{col_letters}{last}" si="{si}"'
            )
        return _formula_cell(ref, "", value, f' t="shared" si="{si}"')

    letters, header, _ = _add_table_column(
        pkg, sheet, header, cell, calculated=structured if variant == "calculated_column" else None
    )
    part = pkg.sheet(sheet).part
    pkg.expect(part, f"main:sheetData/main:row[@r='{first}']/main:c[@r='{letters}{first}']/main:f")
    if variant == "shared_formulas" and last > first:
        pkg.expect(part, f"main:sheetData/main:row[@r='{last}']/main:c[@r='{letters}{last}']/main:f[@si='{si}']")
    if variant == "calculated_column":
        pkg.expect(table.part, f"main:tableColumns/main:tableColumn[@name='{header}']/main:calculatedColumnFormula")
    return pkg.finish(variant, sheet, note=f"new column {letters}")


def add_formula_column(path: Path, sheet: str = "Events") -> FeatureInfo:
    """A user column "Minutes to Ack" right of the table, one plain A1 formula per data row.

    =IF(M2="","",ROUND((M2-K2)*1440,0)) with its cached value; the table ref and autoFilter are
    widened and a tableColumn added (no calculatedColumnFormula: typed cell by cell).
    """
    return _formula_column(path, sheet, "formulas")


def add_shared_formula_column(path: Path, sheet: str = "Events") -> FeatureInfo:
    """The same column as `add_formula_column`, stored as one shared formula the way Excel fills down.

    The first data row holds <f t="shared" ref="AC2:AC<last>" si="N">...</f>, the others
    <f t="shared" si="N"/>. Needs two or more data rows to be interesting: use
    `make_tracker(folder, extra_events=2)`.
    """
    return _formula_column(path, sheet, "shared_formulas")


def add_calculated_column(path: Path, sheet: str = "Events") -> FeatureInfo:
    """A calculated table column "Ack Minutes": structured-reference formula in every data cell and
    in the tableColumn's <calculatedColumnFormula> (what Excel makes when a formula is typed into a
    table column); a writer appending a row should fill it in."""
    return _formula_column(path, sheet, "calculated_column")


def add_totals_row(path: Path, sheet: str = "Events") -> FeatureInfo:
    """Show the table's totals row: "Total" label, count of Title, sum of Users Affected.

    The table ref grows by the totals row (totalsRowCount="1" totalsRowShown="1"), the autoFilter
    ref does not; the tableColumns get totalsRowLabel / totalsRowFunction and the sheet gets the
    row with SUBTOTAL(103, ...) and SUBTOTAL(109, ...) formulas and their cached values.
    """
    pkg = _Package(path)
    table = pkg.table(sheet)
    if table.totals_rows:
        raise ValueError("the table has a totals row already")
    part = pkg.sheet(sheet).part
    row = table.r2 + 1
    xml = pkg.text(part)
    _, rows = _rows(xml)
    if any(int(_attr(xml, el, "r") or 0) == row and _find_all(xml, el, "c") for el in rows):
        raise ValueError(f"row {row} below the table is not empty")
    values = pkg.values(sheet)
    title_col, _ = table.column("Title")
    users_col, _ = table.column("Users Affected")
    data = values[table.first_data - 1 : table.last_data]
    count = sum(1 for r in data if r[title_col - 1] not in (None, ""))
    total = sum(_serial(r[users_col - 1]) or 0 for r in data)

    def change_table(xml: str) -> str:
        xml = _set_attrs(xml, _root(xml), ref=_ref(table.c1, table.r1, table.c2, row), totalsRowCount="1")
        xml = _set_attrs(xml, _root(xml), totalsRowShown="1")
        columns = _find(xml, _root(xml), "tableColumns")
        assert columns
        changes = {table.columns[0][1]: {"totalsRowLabel": "Total"}}
        changes["Title"] = {"totalsRowFunction": "count"}
        changes["Users Affected"] = {"totalsRowFunction": "sum"}
        for name, attrs in changes.items():
            columns = _find(xml, _root(xml), "tableColumns")
            assert columns
            el = next(e for e in _find_all(xml, columns, "tableColumn") if _attr(xml, e, "name") == name)
            xml = _set_attrs(xml, el, **attrs)
        return xml

    pkg.edit(table.part, change_table)

    def change_sheet(xml: str) -> str:
        style = _style(xml, _ref(table.c1, table.r1))
        xml = _put_cell(xml, _ref(table.c1, row), _inline(_ref(table.c1, row), "Total", style))
        formula = f"SUBTOTAL(103,{table.name}[Title])"
        xml = _put_cell(xml, _ref(title_col, row), f'<c r="{_ref(title_col, row)}"><f>{formula}</f><v>{count}</v></c>')
        formula = f"SUBTOTAL(109,{table.name}[Users Affected])"
        users = _ref(users_col, row)
        return _put_cell(xml, users, f'<c r="{users}"><f>{_esc(formula)}</f><v>{_number(total)}</v></c>')

    pkg.edit(part, change_sheet)
    pkg.expect(table.part, "main:tableColumns/main:tableColumn[@totalsRowFunction='sum']")
    pkg.expect(part, f"main:sheetData/main:row[@r='{row}']/main:c[@r='{_ref(users_col, row)}']/main:f")
    return pkg.finish("totals_row", sheet, note=f"totals in row {row}")


def add_x14_data_validation(path: Path, sheet: str = "Events", source: str = "Services") -> FeatureInfo:
    """A user column "Resolver Team" right of the table with an Excel 2010 cross-sheet list
    validation (x14:dataValidation in the sheet's extLst, formula Services!$B$2:$B$<last>)."""
    pkg = _Package(path)
    last = len([r for r in pkg.values(source)[1:] if r and r[0] not in (None, "")]) + 1
    first_data = pkg.table(sheet).first_data

    def cell(ref: str, row: int) -> str | None:
        return _inline(ref, "Messaging") if row == first_data else None

    letters, _, table = _add_table_column(pkg, sheet, "Resolver Team", cell)
    sqref = f"{letters}{table.first_data}:{letters}1048576"
    ext = (
        f'<ext uri="{URI_X14_DATA_VALIDATIONS}" xmlns:x14="{X14}"><x14:dataValidations count="1" xmlns:xm="{XM}">'
        '<x14:dataValidation type="list" allowBlank="1" showInputMessage="1" showErrorMessage="1" '
        'errorTitle="Resolver Team" error="Pick an owning team from the Services sheet." '
        'promptTitle="Resolver Team" prompt="Team working on the fix.">'
        f"<x14:formula1><xm:f>{_quote_sheet(source)}!$B$2:$B${last}</xm:f></x14:formula1><xm:sqref>{sqref}</xm:sqref>"
        "</x14:dataValidation></x14:dataValidations></ext>"
    )
    part = pkg.sheet(sheet).part
    pkg.edit(part, lambda xml: _sheet_ext(xml, ext, URI_X14_DATA_VALIDATIONS))
    pkg.expect(part, f"{_ext_path(URI_X14_DATA_VALIDATIONS)}/x14:dataValidations/x14:dataValidation")
    return pkg.finish("x14_data_validation", sheet, note=f"new column {letters}")


def add_x14_conditional_format(path: Path, sheet: str = "Events", sqref: str = "I2:I1048576") -> FeatureInfo:
    """An Excel 2010 data bar on Users Affected: a <conditionalFormatting> dataBar rule whose extLst
    carries an x14:id, and the matching x14:cfRule (gradient off, negative colours, axis) in the
    sheet's extLst under {78C0D931-...}."""
    pkg = _Package(path)
    part = pkg.sheet(sheet).part
    rule_id = _guid("databar", sheet, sqref)

    def change(xml: str) -> str:
        priority = max([0, *(int(p) for p in re.findall(r'<cfRule[^>]*\bpriority="(\d+)"', xml))]) + 1
        main = (
            f'<conditionalFormatting sqref="{sqref}"><cfRule type="dataBar" priority="{priority}"><dataBar>'
            '<cfvo type="min"/><cfvo type="max"/><color rgb="FF638EC6"/></dataBar><extLst>'
            f'<ext uri="{URI_DATA_BAR_ID}" xmlns:x14="{X14}"><x14:id>{rule_id}</x14:id></ext></extLst></cfRule>'
            "</conditionalFormatting>"
        )
        xml = _ws_insert(xml, main, "conditionalFormatting")
        ext = (
            f'<ext uri="{URI_X14_CONDITIONAL_FORMATS}" xmlns:x14="{X14}"><x14:conditionalFormattings>'
            f'<x14:conditionalFormatting xmlns:xm="{XM}"><x14:cfRule type="dataBar" id="{rule_id}">'
            '<x14:dataBar minLength="0" maxLength="100" gradient="0" border="1" negativeBarBorderColorSameAsPositive="0">'
            '<x14:cfvo type="autoMin"/><x14:cfvo type="autoMax"/><x14:borderColor rgb="FF638EC6"/>'
            '<x14:negativeFillColor rgb="FFFF0000"/><x14:negativeBorderColor rgb="FFFF0000"/>'
            f'<x14:axisColor rgb="FF000000"/></x14:dataBar></x14:cfRule><xm:sqref>{sqref}</xm:sqref>'
            "</x14:conditionalFormatting></x14:conditionalFormattings></ext>"
        )
        return _sheet_ext(xml, ext, URI_X14_CONDITIONAL_FORMATS)

    pkg.edit(part, change)
    pkg.expect(
        part,
        f"main:conditionalFormatting[@sqref='{sqref}']/main:cfRule[@type='dataBar']",
        f"{_ext_path(URI_X14_CONDITIONAL_FORMATS)}/x14:conditionalFormattings/x14:conditionalFormatting/x14:cfRule",
    )
    return pkg.finish("x14_conditional_format", sheet)


#: Every feature by name. Each function takes the workbook path (keyword arguments optional).
FEATURES: dict[str, Callable[[Path], FeatureInfo]] = {
    "threaded_comment": add_threaded_comment,
    "note": add_note,
    "text_box": add_text_box,
    "chart": add_chart,
    "sparklines": add_sparklines,
    "table_slicer": add_table_slicer,
    "pivot_table": add_pivot_table,
    "protected_ranges": add_protected_ranges,
    "custom_views": add_custom_views,
    "ignored_errors": add_ignored_errors,
    "file_sharing": add_file_sharing,
    "x14_data_validation": add_x14_data_validation,
    "x14_conditional_format": add_x14_conditional_format,
    "defined_names": add_defined_names,
    "vba": add_vba,
    "merged_cells_in_table": add_merged_cells_in_table,
    "merged_cells_below_table": add_merged_cells_below_table,
    "hidden_row": add_hidden_row,
    "filter_and_sort": add_filter_and_sort,
    "formulas": add_formula_column,
    "shared_formulas": add_shared_formula_column,
    "calculated_column": add_calculated_column,
    "totals_row": add_totals_row,
}

__all__ = ["FEATURES", "NS", "FeatureInfo", "libreoffice_roundtrip", "make_tracker", "missing", "parts"]

"""What an openpyxl load + save would drop from a workbook, found before anything is written.

Two checks: the original .xlsx is searched for parts and Excel extensions that openpyxl
is known to lose (see the shared Excel notes), and the file openpyxl saved is compared
with the original so that anything else that went missing is caught too.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tracker.errors import UnsafeWorkbook

# Excel 2010+ extensions inside a worksheet's <extLst>, by their fixed URI.
_EXT_NAMES = {
    "{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}": "data validations stored as an Excel 2010 extension "
    "(typically a dropdown list that points at another sheet)",
    "{05C60535-1F16-4fd2-B633-F4F36F0B64E0}": "sparklines",
    "{78C0D931-6437-407d-A8EE-F0AAD7539E65}": "conditional formats stored as an Excel 2010 extension",
    "{A8765BA9-456A-4dab-B4F3-ACF838C121DE}": "slicers",
    "{3A4CF648-6AED-40f4-86FF-DC5316D8AED3}": "table slicers",
    "{7E03D99C-DC04-49d9-9315-930204A7B6E9}": "timelines",
}
# Parts whose loss does not change what anyone sees (Excel rebuilds or ignores them).
_HARMLESS = re.compile(
    r"^(xl/calcChain\.xml|xl/printerSettings/.*|docProps/thumbnail\..*|docProps/app\.xml|"
    r"docProps/core\.xml|docProps/custom\.xml|\[Content_Types\]\.xml|.*\.rels|xl/sharedStrings\.xml)$"
)
_PART_NAMES = [
    (re.compile(r"^xl/threadedComments/"), "threaded comments (Excel 365 comments with replies)"),
    (re.compile(r"^xl/persons/"), "the people list of threaded comments"),
    (re.compile(r"^xl/vbaProject\.bin$"), "macros (VBA project)"),
    (re.compile(r"^xl/pivotTables/"), "pivot tables"),
    (re.compile(r"^xl/pivotCache/"), "pivot table caches"),
    (re.compile(r"^xl/slicers/|^xl/slicerCaches/"), "slicers"),
    (re.compile(r"^xl/timelines/|^xl/timelineCaches/"), "timelines"),
    (re.compile(r"^xl/embeddings/"), "embedded objects"),
    (re.compile(r"^xl/ctrlProps/"), "form controls"),
    (re.compile(r"^xl/activeX/"), "ActiveX controls"),
    (re.compile(r"^customXml/"), "custom XML parts"),
    (re.compile(r"^xl/richData/"), "rich data types (images in cells, linked data types)"),
    (re.compile(r"^xl/webextensions/|^xl/webExtensions/"), "Office add-in data"),
    (re.compile(r"^xl/model/"), "a data model (Power Pivot)"),
    (re.compile(r"^xl/queryTables/|^xl/connections\.xml$"), "data connections / queries"),
    (re.compile(r"^xl/media/"), "pictures"),
    (re.compile(r"^xl/drawings/"), "drawings"),
    (re.compile(r"^xl/charts/"), "charts"),
    (re.compile(r"^xl/comments"), "cell notes"),
]
_EXT_URI = re.compile(rb'<(?:\w+:)?ext\b[^>]*\buri="(\{[^"]+\})"')


@dataclass
class Inspection:
    """What the original workbook holds that matters for a safe save."""

    risks: list[str] = field(default_factory=list)
    rich_text: bool = False
    keep_vba: bool = False
    sheet_exts: dict[str, set[str]] = field(default_factory=dict)
    parts: set[str] = field(default_factory=set)


def _sheet_titles(archive: zipfile.ZipFile) -> dict[str, str]:
    """Map worksheet part names (xl/worksheets/sheet1.xml) to sheet titles."""
    try:
        book = archive.read("xl/workbook.xml").decode("utf-8", "replace")
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    except KeyError:
        return {}
    targets = {}
    for rel in re.finditer(r"<Relationship\b[^>]*>", rels):
        text = rel[0]
        rid = re.search(r'\bId="([^"]+)"', text)
        target = re.search(r'\bTarget="([^"]+)"', text)
        if rid and target:
            path = target[1].lstrip("/")
            targets[rid[1]] = path if path.startswith("xl/") else f"xl/{path}"
    titles = {}
    for sheet in re.finditer(r"<(?:\w+:)?sheet\b[^>]*>", book):
        text = sheet[0]
        name = re.search(r'\bname="([^"]*)"', text)
        rid = re.search(r'\br:id="([^"]+)"|\b\w+:id="([^"]+)"', text)
        if name and rid:
            key = rid[1] or rid[2]
            if key in targets:
                titles[str(PurePosixPath(targets[key]))] = _unescape(name[1])
    return titles


def _unescape(text: str) -> str:
    return (
        text.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
    )


def _owners(archive: zipfile.ZipFile, titles: dict[str, str]) -> dict[str, str]:
    """Map parts related from a worksheet (drawings, threaded comments, ...) to its title."""
    owners = {}
    for sheet_part, title in titles.items():
        part = PurePosixPath(sheet_part)
        rel = str(part.parent / "_rels" / (part.name + ".rels"))
        try:
            text = archive.read(rel).decode("utf-8", "replace")
        except KeyError:
            continue
        for target in re.findall(r'Target="([^"]+)"', text):
            resolved = (
                posixpath.normpath(posixpath.join(str(part.parent), target))
                if not target.startswith("/")
                else target[1:]
            )
            owners[resolved] = title
    return owners


def inspect(path: Path) -> Inspection:
    """Find what openpyxl would lose from the workbook at `path`."""
    result = Inspection()
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        result.parts = set(names)
        titles = _sheet_titles(archive)
        owners = _owners(archive, titles)
        try:
            import PIL  # noqa: F401

            has_pillow = True
        except ImportError:
            has_pillow = False
        for name in names:
            if name.startswith("xl/threadedComments/"):
                where = f"sheet {owners[name]!r}" if name in owners else "a sheet"
                result.risks.append(f"threaded comments (Excel 365 comments with replies) on {where}")
            elif name == "xl/vbaProject.bin":
                result.keep_vba = True
            elif name.startswith("xl/media/") and not has_pillow:
                result.risks.append("pictures (install Pillow so they can be kept)")
            elif re.match(r"xl/drawings/drawing\d+\.xml$", name):
                text = archive.read(name)
                where = f"sheet {owners[name]!r}" if name in owners else "a sheet"
                if re.search(rb"<(?:\w+:)?(sp|grpSp|cxnSp)\b", text):
                    result.risks.append(f"shapes or text boxes on {where}")
            elif name in titles:
                exts = set(uri.decode() for uri in _EXT_URI.findall(archive.read(name)))
                result.sheet_exts[titles[name]] = exts
                for uri in sorted(exts):
                    if uri in _EXT_NAMES:
                        result.risks.append(f"{_EXT_NAMES[uri]} on sheet {titles[name]!r}")
            elif name == "xl/sharedStrings.xml":
                result.rich_text = b"<r>" in archive.read(name) or b"<x:r>" in archive.read(name)
    result.risks = list(dict.fromkeys(result.risks))
    return result


def refuse_if_risky(path: Path, inspection: Inspection) -> None:
    """Stop before loading when the workbook holds content a save would strip."""
    if inspection.risks:
        raise UnsafeWorkbook(_message(path, inspection.risks))


def compare_saved(original: Path, inspection: Inspection, saved: Path) -> None:
    """Stop when the file openpyxl saved lacks parts or extensions the original had."""
    with zipfile.ZipFile(saved) as archive:
        new_parts = set(archive.namelist())
        new_titles = _sheet_titles(archive)
        lost = []
        kinds_new = {_kind(n) for n in new_parts}
        for part in sorted(inspection.parts):
            if _HARMLESS.match(part) or _kind(part) in kinds_new:
                continue
            label = next((label for rx, label in _PART_NAMES if rx.search(part)), f"the part {part}")
            lost.append(label)
        if any(inspection.sheet_exts.values()):
            by_title = {title: part for part, title in new_titles.items()}
            for title, uris in inspection.sheet_exts.items():
                new_part = by_title.get(title)
                kept = {u.decode() for u in _EXT_URI.findall(archive.read(new_part))} if new_part else set()
                for uri in sorted(uris - kept):
                    lost.append(f"{_EXT_NAMES.get(uri, 'Excel extension ' + uri)} on sheet {title!r}")
    if lost:
        raise UnsafeWorkbook(_message(original, list(dict.fromkeys(lost))))


def _kind(part: str) -> str:
    return re.sub(r"\d+", "#", part)


def _message(path: Path, what: list[str]) -> str:
    return (
        f"not writing {path.name}: saving it would lose " + "; ".join(what) + ". "
        "Nothing was changed. Remove or convert that content in Excel (e.g. turn threaded "
        "comments into notes, or move it to a separate workbook), then run the command again"
    )

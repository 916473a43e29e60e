"""What an openpyxl load + save would drop from a workbook, found before anything is written.

Two checks: the original .xlsx is searched for parts and Excel extensions that openpyxl
is known to lose (see the shared Excel notes), and the file openpyxl saved is compared
with the original so that anything else that went missing is caught too.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tracker.errors import UnsafeWorkbook, WorkbookError

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
_EXT_URI = re.compile(rb'<(?:\w+:)?ext\b[^>]*\buri="(\{[^"]+\})"')


@dataclass
class Inspection:
    """What the original workbook holds that matters for a safe save."""

    risks: list[str] = field(default_factory=list)
    rich_text: bool = False
    keep_vba: bool = False
    sheet_exts: dict[str, set[str]] = field(default_factory=dict)
    types: Counter[str] = field(default_factory=Counter)


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


def _related(archive: zipfile.ZipFile, part: str) -> list[str]:
    """Parts that `part` points at through its .rels file."""
    path = PurePosixPath(part)
    try:
        text = archive.read(str(path.parent / "_rels" / (path.name + ".rels"))).decode("utf-8", "replace")
    except KeyError:
        return []
    out = []
    for target in re.findall(r'Target="([^"]+)"', text):
        if target.startswith("/"):
            out.append(target[1:])
        elif "://" not in target:
            out.append(posixpath.normpath(posixpath.join(str(path.parent), target)))
    return out


def _owners(archive: zipfile.ZipFile, titles: dict[str, str]) -> dict[str, str]:
    """Map parts hanging off a worksheet (drawings, their pictures, threaded comments...) to its title."""
    owners: dict[str, str] = {}
    for sheet_part, title in titles.items():
        queue = _related(archive, sheet_part)
        while queue:
            part = queue.pop()
            if part in owners:
                continue
            owners[part] = title
            queue.extend(_related(archive, part))
    return owners


def inspect(path: Path) -> Inspection:
    """Find what openpyxl would lose from the workbook at `path`."""
    result = Inspection()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkbookError(
            f"cannot read {path.name} as an .xlsx workbook ({exc}); if it was damaged, restore an earlier version "
            "(.tracker-backups/ beside a local workbook, version history in SharePoint)"
        ) from None
    with archive:
        names = archive.namelist()
        result.types = content_types(archive)
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
                if path.suffix.lower() in (".xlsm", ".xltm"):
                    result.keep_vba = True
                else:
                    result.risks.append(
                        f"macros (a VBA project, which a {path.suffix} file cannot hold: save the workbook "
                        "as .xlsm and point [workbook] path at it)"
                    )
            elif name.startswith("xl/media/") and not has_pillow:
                where = f"sheet {owners[name]!r}" if name in owners else "a sheet"
                result.risks.append(f"pictures on {where} (install Pillow so they can be kept)")
            elif re.match(r"xl/drawings/drawing\d+\.xml$", name):
                text = archive.read(name)
                where = f"sheet {owners[name]!r}" if name in owners else "a sheet"
                if re.search(rb"<(?:\w+:)?(sp|grpSp|cxnSp)\b", text):
                    result.risks.append(f"shapes or text boxes on {where}")
            elif name in titles:
                data = archive.read(name)
                if re.search(rb"<(?:\w+:)?is>\s*<(?:\w+:)?r>", data):
                    result.rich_text = True  # openpyxl writes rich text as inline strings, not shared ones
                exts = {uri.decode() for uri in _EXT_URI.findall(data)}
                result.sheet_exts[titles[name]] = exts
                for uri in sorted(exts):
                    if uri in _EXT_NAMES:
                        result.risks.append(f"{_EXT_NAMES[uri]} on sheet {titles[name]!r}")
            elif name == "xl/sharedStrings.xml":
                text = archive.read(name)
                result.rich_text = result.rich_text or b"<r>" in text or b"<x:r>" in text
    result.risks = list(dict.fromkeys(result.risks))
    return result


def refuse_if_risky(path: Path, inspection: Inspection) -> None:
    """Stop before loading when the workbook holds content a save would strip."""
    if inspection.risks:
        raise UnsafeWorkbook(_message(path, inspection.risks))


def content_types(archive: zipfile.ZipFile) -> Counter[str]:
    """How many parts of each content type the package holds (names differ between writers)."""
    try:
        text = archive.read("[Content_Types].xml").decode("utf-8", "replace")
    except KeyError:
        return Counter()
    defaults = {
        m[1].casefold(): m[2]
        for m in re.finditer(r'<Default\b[^>]*Extension="([^"]+)"[^>]*ContentType="([^"]+)"', text)
    }
    defaults |= {
        m[2].casefold(): m[1]
        for m in re.finditer(r'<Default\b[^>]*ContentType="([^"]+)"[^>]*Extension="([^"]+)"', text)
    }
    overrides = {}
    for match in re.finditer(r"<Override\b[^>]*>", text):
        name = re.search(r'PartName="([^"]+)"', match[0])
        declared = re.search(r'ContentType="([^"]+)"', match[0])
        if name and declared:
            overrides[name[1].lstrip("/")] = declared[1]
    counts: Counter[str] = Counter()
    for part in archive.namelist():
        if part.endswith("/") or part == "[Content_Types].xml":
            continue
        kind = overrides.get(part) or defaults.get(part.rpartition(".")[2].casefold())
        if kind:
            counts[kind] += 1
    return counts


# Content types whose loss changes nothing anyone sees (Excel rebuilds or ignores them).
_HARMLESS_TYPES = re.compile(
    r"(calcChain|printerSettings|extended-properties|core-properties|custom-properties|relationships|"
    r"sharedStrings|styles|theme|image/jpeg.*thumbnail)",
    re.I,
)
_TYPE_LABELS = [
    (re.compile(r"threadedComments", re.I), "threaded comments (Excel 365 comments with replies)"),
    (re.compile(r"person", re.I), "the people list of threaded comments"),
    (re.compile(r"spreadsheetml\.comments", re.I), "cell notes"),
    (re.compile(r"vmlDrawing", re.I), "note boxes or legacy controls"),
    (re.compile(r"drawing\+xml", re.I), "drawings (pictures, shapes or charts)"),
    (re.compile(r"chart", re.I), "charts"),
    (re.compile(r"^image/", re.I), "pictures"),
    (re.compile(r"pivot", re.I), "pivot tables"),
    (re.compile(r"vbaProject|macroEnabled", re.I), "macros (VBA project)"),
    (re.compile(r"slicer", re.I), "slicers"),
    (re.compile(r"timeline", re.I), "timelines"),
    (re.compile(r"oleObject|package", re.I), "embedded objects"),
    (re.compile(r"ctrlProps|activeX", re.I), "form controls"),
    (re.compile(r"customXml", re.I), "custom XML parts"),
    (re.compile(r"table\+xml", re.I), "Excel tables"),
    (re.compile(r"worksheet", re.I), "worksheets"),
    (re.compile(r"connections|queryTable", re.I), "data connections / queries"),
]


def compare_saved(original: Path, inspection: Inspection, saved: Path) -> None:
    """Stop when the file openpyxl saved has fewer parts of some kind, or fewer extensions, than the original."""
    with zipfile.ZipFile(saved) as archive:
        new_types = content_types(archive)
        new_titles = _sheet_titles(archive)
        lost = []
        for kind, count in sorted(inspection.types.items()):
            if new_types.get(kind, 0) >= count or _HARMLESS_TYPES.search(kind):
                continue
            label = next((label for rx, label in _TYPE_LABELS if rx.search(kind)), f"parts of type {kind}")
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


def _message(path: Path, what: list[str]) -> str:
    return (
        f"not writing {path.name}: saving it would lose " + "; ".join(what) + ". "
        "Nothing was changed. Remove or convert that content in Excel (e.g. turn threaded "
        "comments into notes, or move it to a separate workbook), then run the command again"
    )

"""Writes keep everything the workbook holds (the surgical applier), and bad or locked workbooks fail cleanly.

Each risky workbook is the `init --example` workbook with parts added by editing its zip,
the way Excel would have written them; nothing binary is committed.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import suite_clock
from tests.conftest import Run

R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
XM = "http://schemas.microsoft.com/office/excel/2006/main"
XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
TC = "http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"

Change = str | bytes | Callable[[str], str]


# --- building workbooks by editing the zip -----------------------------------------------


def edit_zip(path: Path, changes: dict[str, Change]) -> None:
    """Rewrite the .xlsx at `path`: a str/bytes replaces (or adds) a part, a function edits its text."""
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    for name, change in changes.items():
        if callable(change):
            parts[name] = change(parts[name].decode("utf-8")).encode("utf-8")
        else:
            parts[name] = change if isinstance(change, bytes) else change.encode("utf-8")
    building = path.with_name(path.name + ".building")
    with zipfile.ZipFile(building, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    building.replace(path)


def insert_before(marker: str, text: str) -> Callable[[str], str]:
    """An edit that puts `text` just before the first `marker` (which must be there)."""

    def edit(xml: str) -> str:
        assert marker in xml, f"{marker!r} not found"
        return xml.replace(marker, text + marker, 1)

    return edit


def chain(*edits: Callable[[str], str]) -> Callable[[str], str]:
    """Several text edits applied in order."""

    def edit(xml: str) -> str:
        for step in edits:
            xml = step(xml)
        return xml

    return edit


def add_rel(rid: str, kind: str, target: str) -> Callable[[str], str]:
    """An edit of a .rels part adding one relationship."""
    return insert_before("</Relationships>", f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>')


def add_override(part: str, content_type: str) -> Callable[[str], str]:
    """An edit of [Content_Types].xml declaring one part's content type."""
    return insert_before("</Types>", f'<Override PartName="/{part}" ContentType="{content_type}"/>')


def add_default(extension: str, content_type: str) -> Callable[[str], str]:
    """An edit of [Content_Types].xml declaring the content type of an extension."""
    return insert_before("</Types>", f'<Default Extension="{extension}" ContentType="{content_type}"/>')


def sheet_part(workbook: Path, title: str) -> str:
    """The zip part of the worksheet called `title` (xl/worksheets/sheetN.xml)."""
    with zipfile.ZipFile(workbook) as archive:
        book = archive.read("xl/workbook.xml").decode()
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'<sheet [^>]*name="{title}"[^>]*r:id="([^"]+)"', book)
    assert rid, title
    target = re.search(rf'<Relationship (?=[^>]*Id="{rid[1]}")[^>]*Target="([^"]+)"', rels)
    assert target, rid[1]
    path = target[1].lstrip("/")
    return path if path.startswith("xl/") else f"xl/{path}"


def sheet_rels(part: str) -> str:
    """The relationships part of a worksheet part."""
    folder, name = part.rsplit("/", 1)
    return f"{folder}/_rels/{name}.rels"


def add_drawing(workbook: Path, title: str, anchor: str, extra: dict[str, Change] | None = None) -> None:
    """Give sheet `title` a DrawingML drawing (xl/drawings/drawing1.xml) holding `anchor`."""
    part = sheet_part(workbook, title)
    drawing = f'<xdr:wsDr xmlns:xdr="{XDR}" xmlns:a="{A}" xmlns:r="{R_NS}">{anchor}</xdr:wsDr>'
    edit_zip(
        workbook,
        {
            "xl/drawings/drawing1.xml": drawing,
            sheet_rels(part): add_rel("rIdDrawing1", f"{REL}/drawing", "../drawings/drawing1.xml"),
            part: insert_before("<legacyDrawing", f'<drawing xmlns:r="{R_NS}" r:id="rIdDrawing1"/>'),
            "[Content_Types].xml": add_override(
                "xl/drawings/drawing1.xml", "application/vnd.openxmlformats-officedocument.drawing+xml"
            ),
            **(extra or {}),
        },
    )


def add_sheet_extension(workbook: Path, title: str, ext: str) -> None:
    """Append an <extLst> holding `ext` to sheet `title` (Excel 2010+ features)."""
    edit_zip(workbook, {sheet_part(workbook, title): insert_before("</worksheet>", f"<extLst>{ext}</extLst>")})


def add_threaded_comment(workbook: Path, title: str) -> None:
    """An Excel 365 threaded comment on B2 of sheet `title`, with its persons part."""
    part = sheet_part(workbook, title)
    person = "{6B2A5D2C-1A2B-4C3D-8E9F-0A1B2C3D4E5F}"
    persons = (
        f'<personList xmlns="{TC}" xmlns:x="{MAIN}">'
        f'<person displayName="Jane Doe" id="{person}" userId="jane.doe@example.com" providerId="AD"/>'
        "</personList>"
    )
    comments = (
        f'<ThreadedComments xmlns="{TC}" xmlns:x="{MAIN}">'
        f'<threadedComment ref="B2" dT="2026-11-21T14:00:00.00" personId="{person}" '
        'id="{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}"><text>Is the vendor case escalated?</text>'
        "</threadedComment></ThreadedComments>"
    )
    edit_zip(
        workbook,
        {
            "xl/threadedComments/threadedComment1.xml": comments,
            "xl/persons/person.xml": persons,
            sheet_rels(part): add_rel(
                "rIdThreaded1",
                "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment",
                "../threadedComments/threadedComment1.xml",
            ),
            "xl/_rels/workbook.xml.rels": add_rel(
                "rIdPersons", "http://schemas.microsoft.com/office/2017/10/relationships/person", "persons/person.xml"
            ),
            "[Content_Types].xml": chain(
                add_override(
                    "xl/threadedComments/threadedComment1.xml", "application/vnd.ms-excel.threadedcomments+xml"
                ),
                add_override("xl/persons/person.xml", "application/vnd.ms-excel.person+xml"),
            ),
        },
    )


TEXT_BOX = (
    "<xdr:twoCellAnchor>"
    "<xdr:from><xdr:col>1</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>5</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
    "<xdr:to><xdr:col>4</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>9</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
    '<xdr:sp macro="" textlink=""><xdr:nvSpPr><xdr:cNvPr id="2" name="TextBox 1"/><xdr:cNvSpPr txBox="1"/></xdr:nvSpPr>'
    '<xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="1905000" cy="762000"/></a:xfrm>'
    '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr>'
    '<xdr:txBody><a:bodyPr wrap="square" anchor="t"/><a:lstStyle/>'
    '<a:p><a:r><a:rPr lang="en-GB" sz="1100"/><a:t>Bridge call: +1 555 0100</a:t></a:r></a:p></xdr:txBody>'
    "</xdr:sp><xdr:clientData/></xdr:twoCellAnchor>"
)

PICTURE = (
    "<xdr:oneCellAnchor>"
    "<xdr:from><xdr:col>3</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>8</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
    '<xdr:ext cx="381000" cy="381000"/>'
    '<xdr:pic><xdr:nvPicPr><xdr:cNvPr id="2" name="Picture 1" descr="network diagram"/>'
    '<xdr:cNvPicPr><a:picLocks noChangeAspect="1"/></xdr:cNvPicPr></xdr:nvPicPr>'
    '<xdr:blipFill><a:blip r:embed="rIdImage1"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill>'
    '<xdr:spPr><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr></xdr:pic>'
    "<xdr:clientData/></xdr:oneCellAnchor>"
)

SPARKLINES = (
    f'<ext uri="{{05C60535-1F16-4fd2-B633-F4F36F0B64E0}}" xmlns:x14="{X14}">'
    f'<x14:sparklineGroups xmlns:xm="{XM}"><x14:sparklineGroup displayEmptyCellsAs="gap">'
    '<x14:colorSeries rgb="FF376092"/><x14:colorNegative rgb="FFD00000"/><x14:colorAxis rgb="FF000000"/>'
    '<x14:colorMarkers rgb="FFD00000"/><x14:colorFirst rgb="FFD00000"/><x14:colorLast rgb="FFD00000"/>'
    '<x14:colorHigh rgb="FFD00000"/><x14:colorLow rgb="FFD00000"/>'
    "<x14:sparklines><x14:sparkline><xm:f>Severities!C2:E2</xm:f><xm:sqref>H2</xm:sqref></x14:sparkline>"
    "</x14:sparklines></x14:sparklineGroup></x14:sparklineGroups></ext>"
)

X14_VALIDATION = (
    f'<ext uri="{{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}}" xmlns:x14="{X14}">'
    f'<x14:dataValidations count="1" xmlns:xm="{XM}">'
    '<x14:dataValidation type="list" allowBlank="1" showInputMessage="1" showErrorMessage="1">'
    "<x14:formula1><xm:f>Services!$A$2:$A$6</xm:f></x14:formula1><xm:sqref>AC2:AC500</xm:sqref>"
    "</x14:dataValidation></x14:dataValidations></ext>"
)


def png() -> bytes:
    """A small real PNG image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def add_picture(workbook: Path, title: str) -> bytes:
    """A PNG picture placed on sheet `title`; returns the image bytes."""
    image = png()
    add_drawing(
        workbook,
        title,
        PICTURE,
        {
            "xl/media/image1.png": image,
            "xl/drawings/_rels/drawing1.xml.rels": (
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                f'<Relationship Id="rIdImage1" Type="{REL}/image" Target="../media/image1.png"/></Relationships>'
            ),
        },
    )
    edit_zip(workbook, {"[Content_Types].xml": add_default("png", "image/png")})
    return image


def add_vba(workbook: Path) -> bytes:
    """A VBA project part as Excel stores it in a macro workbook; returns its bytes."""
    project = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 2  # OLE signature, then filler
    edit_zip(
        workbook,
        {
            "xl/vbaProject.bin": project,
            "xl/_rels/workbook.xml.rels": add_rel(
                "rIdVba", "http://schemas.microsoft.com/office/2006/relationships/vbaProject", "vbaProject.bin"
            ),
            "[Content_Types].xml": add_default("bin", "application/vnd.ms-office.vbaProject"),
        },
    )
    return project


# --- what a refused write must leave behind ----------------------------------------------


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_listing(folder: Path) -> set[str]:
    """Every name in `folder` and below, except tracker's own (persistent, empty) lock file."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.name.endswith(".tracker-lock")}


def assert_one_error_line(stderr: str) -> None:
    """stderr is exactly one `error: ...` line (no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr


def assert_refused_untouched(run: Run, workbook: Path, event_id: str) -> str:
    """`update` exits 1 with one error line, changes no byte and leaves no new file; returns stderr."""
    before, listing = digest(workbook), folder_listing(workbook.parent)
    result = run("update", event_id, "--note", "x")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert_one_error_line(result.stderr)
    assert digest(workbook) == before
    assert folder_listing(workbook.parent) == listing
    assert not list(workbook.parent.glob("*.tmp")) and not list(workbook.parent.glob(".*.tmp"))
    return result.stderr


def assert_reads_still_work(run: Run, event_id: str) -> None:
    """`validate` and `list` work on the workbook (reads need no round trip)."""
    validate = run("validate")
    assert validate.exit_code == 0, validate.stdout + validate.stderr
    listed = run("list")
    assert listed.exit_code == 0, listed.stderr
    assert event_id in listed.stdout


# --- content openpyxl would drop ---------------------------------------------------------

RISKY = {
    "threaded comments": (
        lambda book: add_threaded_comment(book, "Updates"),
        r"threaded comment",
        "Updates",
    ),
    "text box": (lambda book: add_drawing(book, "Changes", TEXT_BOX), r"text box|shape", "Changes"),
    "sparklines": (lambda book: add_sheet_extension(book, "Severities", SPARKLINES), r"sparkline", "Severities"),
    "x14 data validations": (
        lambda book: add_sheet_extension(book, "Events", X14_VALIDATION),
        r"data validation",
        "Events",
    ),
}


def assert_kept_around_update(run: Run, workbook: Path, event_id: str, note: str) -> dict[str, bytes]:
    """`update` succeeds; every part but the Events and Updates sheets and their tables is byte-identical."""
    with zipfile.ZipFile(workbook) as archive:
        before = {name: archive.read(name) for name in archive.namelist()}
    result = run("update", event_id, "--note", note)
    assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(workbook) as archive:
        after = {name: archive.read(name) for name in archive.namelist()}
    touched = {sheet_part(workbook, "Events"), sheet_part(workbook, "Updates")}
    assert set(after) == set(before)
    changed = {name for name in before if before[name] != after[name]}
    assert changed <= touched | {n for n in before if n.startswith("xl/tables/")}, changed
    shown = run("show", event_id)
    assert note in shown.stdout
    return after


@pytest.mark.parametrize("kind", list(RISKY))
def test_update_keeps_content_openpyxl_would_drop(run: Run, example: Path, event_id: str, kind: str) -> None:
    """Content openpyxl would drop (threaded comments, text boxes, sparklines, x14 validations) survives `update`."""
    build, _what, sheet = RISKY[kind]
    build(example)
    with zipfile.ZipFile(example) as archive:
        sheet_xml = archive.read(sheet_part(example, sheet))
    after = assert_kept_around_update(run, example, event_id, f"kept {kind}")
    for uri in re.findall(rb'uri="(\{[^"]+\})"', sheet_xml):
        assert uri in after[sheet_part(example, sheet)], f"{uri!r} lost from {sheet}"
    assert_reads_still_work(run, event_id)


def test_vba_project_in_xlsx_is_left_as_it_is(run: Run, example: Path, event_id: str) -> None:
    """A VBA project inside an .xlsx is neither refused nor rewritten: writes leave it byte for byte."""
    project = add_vba(example)
    after = assert_kept_around_update(run, example, event_id, "macro part untouched")
    assert after["xl/vbaProject.bin"] == project
    assert_reads_still_work(run, event_id)


def test_vba_project_in_xlsm_is_kept_byte_for_byte(run: Run, example: Path, event_id: str) -> None:
    """In an .xlsm workbook the VBA project survives an update unchanged and the file stays macro-enabled."""
    xlsm = example.with_suffix(".xlsm")
    example.rename(xlsm)
    config = example.parent / "tracker.toml"
    config.write_text(config.read_text().replace('path = "events.xlsx"', 'path = "events.xlsm"'))
    project = add_vba(xlsm)
    edit_zip(
        xlsm,
        {
            "[Content_Types].xml": lambda xml: xml.replace(
                XLSX_MAIN, "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
            )
        },
    )
    result = run("update", event_id, "--note", "macro workbook")
    assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(xlsm) as archive:
        assert archive.read("xl/vbaProject.bin") == project
        assert "macroEnabled.main+xml" in archive.read("[Content_Types].xml").decode()


def test_pictures_are_kept_with_pillow(run: Run, example: Path, event_id: str) -> None:
    """With Pillow installed a picture survives an update byte for byte, still on its sheet."""
    image = add_picture(example, "Services")
    result = run("update", event_id, "--note", "picture stays")
    assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(example) as archive:
        media = [name for name in archive.namelist() if name.startswith("xl/media/")]
        assert [archive.read(name) for name in media] == [image]
        rels = archive.read(sheet_rels(sheet_part(example, "Services"))).decode()
        drawing = re.search(r'Target="([^"]*drawing\d+\.xml)"', rels)
        assert drawing, rels
        assert "pic>" in archive.read("xl/drawings/" + drawing[1].rsplit("/", 1)[-1]).decode()


def test_pictures_kept_without_pillow(run: Run, example: Path, event_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes no longer go through openpyxl: without Pillow a picture still survives byte for byte."""
    image = add_picture(example, "Services")
    monkeypatch.setitem(sys.modules, "PIL", None)
    after = assert_kept_around_update(run, example, event_id, "picture stays without Pillow")
    assert image in after.values()


# --- rich text ---------------------------------------------------------------------------

RICH = (
    f'<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si>'
    '<r><rPr><b/><sz val="11"/><color rgb="FFC00000"/><rFont val="Calibri"/></rPr><t>Use Outlook on the web</t></r>'
    '<r><rPr><sz val="11"/><rFont val="Calibri"/></rPr><t xml:space="preserve"> (webmail) for urgent messages.</t></r>'
    "</si></sst>"
)


def add_rich_text(workbook: Path) -> None:
    """Make Events!AA2 (Workaround) a shared string of two runs, the first bold and red."""
    part = sheet_part(workbook, "Events")
    edit_zip(
        workbook,
        {
            "xl/sharedStrings.xml": RICH,
            "xl/_rels/workbook.xml.rels": add_rel("rIdStrings", f"{REL}/sharedStrings", "sharedStrings.xml"),
            "[Content_Types].xml": add_override(
                "xl/sharedStrings.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
            ),
            part: lambda xml: re.sub(r'<c r="AA2"[^>]*>.*?</c>', '<c r="AA2" t="s"><v>0</v></c>', xml, count=1),
        },
    )


def rich_runs(workbook: Path) -> list[str]:
    """The runs (<r>...</r>) of the string holding the Workaround text, wherever the file keeps it."""
    with zipfile.ZipFile(workbook) as archive:
        texts = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/") and n.endswith(".xml")]
    for xml in texts:
        for string in re.findall(r"<(?:\w+:)?(?:si|is)>(.*?)</(?:\w+:)?(?:si|is)>", xml, re.S):
            if "Use Outlook" in string:
                return re.findall(r"<(?:\w+:)?r>(.*?)</(?:\w+:)?r>", string, re.S)
    raise AssertionError("the Workaround text is gone")


def assert_rich(workbook: Path) -> None:
    """The Workaround cell still has its bold first run and its plain second run."""
    runs = rich_runs(workbook)
    assert len(runs) == 2, runs
    assert re.search(r"<(?:\w+:)?b\b(?! val=\"0\")", runs[0]) and "Use Outlook on the web" in runs[0], runs
    assert "(webmail) for urgent messages." in runs[1] and "<b" not in runs[1], runs


def test_rich_text_is_kept_after_update(run: Run, example: Path, event_id: str) -> None:
    """A cell with rich-text runs keeps them (bold stays bold) after `update` rewrites the workbook."""
    add_rich_text(example)
    assert_rich(example)
    result = run("update", event_id, "--note", "first")
    assert result.exit_code == 0, result.stderr
    assert_rich(example)


def test_rich_text_is_kept_after_two_updates(run: Run, example: Path, event_id: str) -> None:
    """Rich-text runs survive a second write too, when the first write stored them as inline strings."""
    add_rich_text(example)
    for note in ("first", "second"):
        result = run("update", event_id, "--note", note)
        assert result.exit_code == 0, result.stderr
        assert_rich(example)


# --- office lock files -------------------------------------------------------------------


def excel_owner_file(name: str) -> bytes:
    """An Excel `~$` owner file: the user name as a length byte plus 8-bit text, then UTF-16."""
    ansi = bytes([len(name)]) + name.encode("latin-1").ljust(53, b" ")
    wide = len(name).to_bytes(2, "little") + name.encode("utf-16-le")
    return (ansi + wide).ljust(165, b"\x00")


def test_excel_owner_file_refuses_writes(run: Run, example: Path, event_id: str) -> None:
    """With Excel's `~$events.xlsx` beside the workbook, `update` names the owner and changes nothing."""
    (example.parent / "~$events.xlsx").write_bytes(excel_owner_file("Jane Doe"))
    stderr = assert_refused_untouched(run, example, event_id)
    assert "Jane Doe" in stderr and "Excel" in stderr, stderr
    assert_reads_still_work(run, event_id)


def test_libreoffice_lock_refuses_writes(run: Run, example: Path, event_id: str) -> None:
    """With LibreOffice's `.~lock.events.xlsx#` beside the workbook, `update` names Jane Doe and changes nothing."""
    lock = example.parent / ".~lock.events.xlsx#"
    lock.write_text(",Jane Doe,host1,21.11.2026 14:00,file:///home/jane/.config/libreoffice/4;")
    stderr = assert_refused_untouched(run, example, event_id)
    assert "Jane Doe" in stderr and "LibreOffice" in stderr, stderr
    assert "host1" in stderr, stderr
    assert_reads_still_work(run, event_id)


# --- files that are not workbooks ----------------------------------------------------------

BROKEN: dict[str, Callable[[Path], None]] = {
    "text file": lambda book: book.write_text(f"ID,Title\n{suite_clock.event_id()},Email outage\n"),
    "empty file": lambda book: book.write_bytes(b""),
    "truncated zip": lambda book: book.write_bytes(book.read_bytes()[: book.stat().st_size // 2]),
    "missing workbook": lambda book: book.unlink(),
}


@pytest.mark.parametrize("command", ["validate", "list", "update"])
@pytest.mark.parametrize("kind", list(BROKEN))
def test_unreadable_workbook_gives_one_error_line(
    run: Run, example: Path, event_id: str, kind: str, command: str
) -> None:
    """A text file, empty file, truncated zip or missing workbook gives exit 1 and one `error:` line, no traceback."""
    BROKEN[kind](example)
    before = example.read_bytes() if example.exists() else None
    args = ["update", event_id, "--note", "x"] if command == "update" else [command]
    result = run(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert_one_error_line(result.stderr)
    assert "events.xlsx" in result.stderr
    assert (example.read_bytes() if example.exists() else None) == before
    assert not list(example.parent.glob(".*.tmp"))


# --- pivot tables --------------------------------------------------------------------------
# openpyxl reads and rewrites pivot tables, so the right outcome is "kept", not "refused".

PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
SPREADSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def add_pivot_table(workbook: Path, title: str = "Severities") -> None:
    """A pivot table at J1 of sheet `title` counting severities, with its cache and records."""
    part = sheet_part(workbook, title)
    cache = (
        f'<pivotCacheDefinition xmlns="{MAIN}" xmlns:r="{R_NS}" r:id="rId1" refreshOnLoad="1" recordCount="2">'
        f'<cacheSource type="worksheet"><worksheetSource ref="A1:B3" sheet="{title}"/></cacheSource>'
        '<cacheFields count="2">'
        '<cacheField name="Name" numFmtId="0"><sharedItems count="2"><s v="Sev 1"/><s v="Sev 2"/></sharedItems></cacheField>'
        '<cacheField name="Definition" numFmtId="0"><sharedItems/></cacheField>'
        "</cacheFields></pivotCacheDefinition>"
    )
    records = (
        f'<pivotCacheRecords xmlns="{MAIN}" xmlns:r="{R_NS}" count="2">'
        '<r><x v="0"/><s v="critical"/></r><r><x v="1"/><s v="major"/></r></pivotCacheRecords>'
    )
    table = (
        f'<pivotTableDefinition xmlns="{MAIN}" name="SeverityPivot" cacheId="7" dataCaption="Values" '
        'updatedVersion="6" minRefreshableVersion="3" createdVersion="6" outline="1" outlineData="1" '
        'useAutoFormatting="1" itemPrintTitles="1" indent="0">'
        '<location ref="J1:J4" firstHeaderRow="1" firstDataRow="1" firstDataCol="0"/>'
        '<pivotFields count="2"><pivotField axis="axisRow" showAll="0"><items count="3">'
        '<item x="0"/><item x="1"/><item t="default"/></items></pivotField><pivotField showAll="0"/></pivotFields>'
        '<rowFields count="1"><field x="0"/></rowFields>'
        '<rowItems count="3"><i><x/></i><i><x v="1"/></i><i t="grand"><x/></i></rowItems>'
        '<colItems count="1"><i/></colItems>'
        '<pivotTableStyleInfo name="PivotStyleLight16" showRowHeaders="1" showColHeaders="1" '
        'showRowStripes="0" showColStripes="0" showLastColumn="1"/></pivotTableDefinition>'
    )

    def rels(kind: str, target: str) -> str:
        return f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" Type="{REL}/{kind}" Target="{target}"/></Relationships>'

    edit_zip(
        workbook,
        {
            "xl/pivotCache/pivotCacheDefinition1.xml": cache,
            "xl/pivotCache/pivotCacheRecords1.xml": records,
            "xl/pivotCache/_rels/pivotCacheDefinition1.xml.rels": rels("pivotCacheRecords", "pivotCacheRecords1.xml"),
            "xl/pivotTables/pivotTable1.xml": table,
            "xl/pivotTables/_rels/pivotTable1.xml.rels": rels(
                "pivotCacheDefinition", "../pivotCache/pivotCacheDefinition1.xml"
            ),
            sheet_rels(part): add_rel("rIdPivot1", f"{REL}/pivotTable", "../pivotTables/pivotTable1.xml"),
            "xl/_rels/workbook.xml.rels": add_rel(
                "rIdCache1", f"{REL}/pivotCacheDefinition", "pivotCache/pivotCacheDefinition1.xml"
            ),
            "xl/workbook.xml": insert_before(
                "</workbook>", f'<pivotCaches><pivotCache xmlns:r="{R_NS}" cacheId="7" r:id="rIdCache1"/></pivotCaches>'
            ),
            "[Content_Types].xml": chain(
                add_override("xl/pivotCache/pivotCacheDefinition1.xml", f"{SPREADSHEET_CT}.pivotCacheDefinition+xml"),
                add_override("xl/pivotCache/pivotCacheRecords1.xml", f"{SPREADSHEET_CT}.pivotCacheRecords+xml"),
                add_override("xl/pivotTables/pivotTable1.xml", f"{SPREADSHEET_CT}.pivotTable+xml"),
            ),
        },
    )


def test_pivot_table_is_kept_after_update(run: Run, example: Path, event_id: str) -> None:
    """A pivot table (openpyxl round-trips them) is still on its sheet, with its cache, after `update`."""
    add_pivot_table(example)
    result = run("update", event_id, "--note", "pivot stays")
    assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(example) as archive:
        rels = archive.read(sheet_rels(sheet_part(example, "Severities"))).decode()
        target = re.search(r'Type="[^"]*/pivotTable" Target="([^"]+)"', rels)
        assert target, rels
        pivot = archive.read(target[1].lstrip("/").replace("../", "xl/")).decode()
        assert 'name="SeverityPivot"' in pivot and 'ref="J1:J4"' in pivot
        assert "<pivotCache " in archive.read("xl/workbook.xml").decode()
        caches = [n for n in archive.namelist() if n.startswith("xl/pivotCache/pivotCacheDefinition")]
        assert len(caches) == 1 and 'sheet="Severities"' in archive.read(caches[0]).decode()


def test_a_save_in_place_that_keeps_time_size_and_inode_during_a_write_is_not_undone(
    run: Run, example: Path, event_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone saves the workbook in place while `update` patches it, and the file keeps its modification time,
    size and inode (a tool that keeps the time; a mount with coarse times or made-up inodes): the signature check
    passed, and the patch of the bytes read replaced their save. The write now compares the zip directory too,
    and plans again on their version: both notes are in."""
    import os
    import shutil
    import zipfile

    import openpyxl

    import tracker.store.xlsx

    before = example.parent / "before.xlsx"
    shutil.copy(example, before)
    assert run("update", event_id, "--note", "theirs").exit_code == 0
    theirs = example.parent / "theirs.xlsx"
    shutil.copy(example, theirs)
    for path, other in ((before, theirs), (theirs, before)):  # the same size: a zip comment pads the smaller one
        padding = other.stat().st_size - path.stat().st_size
        if padding > 0:
            with zipfile.ZipFile(path, "a") as archive:
                archive.comment = b" " * padding
    example.write_bytes(before.read_bytes())
    original, saved = tracker.store.xlsx.patch, []

    def saved_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not saved:  # once: their save lands while this write builds its file
            kept = example.stat()
            with open(example, "r+b") as handle:
                handle.write(theirs.read_bytes())
            os.utime(example, ns=(kept.st_atime_ns, kept.st_mtime_ns))
            saved.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(tracker.store.xlsx, "patch", saved_meanwhile)
    result = run("update", event_id, "--note", "mine")
    assert result.exit_code == 0, result.stderr
    notes = [r[4] for r in openpyxl.load_workbook(example)["Updates"].iter_rows(min_row=2, values_only=True)]
    assert notes.count("theirs") == 1 and notes.count("mine") == 1

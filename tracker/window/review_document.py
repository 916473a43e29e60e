"""The post-incident review document: the draft as Markdown and as a Word document, written beside each other, and whether the team has edited a draft since tracker wrote it (then it is kept)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker import files
from tracker.errors import ConfigError, UsageError
from tracker.resources import data_dir
from tracker.rules.review_rules import (
    how_to_record,
)
from tracker.window.review import FORMATS, Review

if TYPE_CHECKING:
    from docx.document import Document
    from markupsafe import Markup


MD_MARK = re.compile(r"\n<!-- tracker review draft ([0-9a-f]{64}):.*-->\n?\Z")
DOCX_MARK = "tracker-review-draft:"


def _md_text(value: Any) -> str:
    """Text as Markdown shows it, never as HTML: `&`, `<` and `>` escaped (a Markdown viewer renders raw HTML)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_cell(value: Any) -> Markup:
    """Text safe inside a Markdown table cell: HTML escaped, pipes escaped, line breaks kept as <br>."""
    from markupsafe import Markup

    text = _md_text(value or "").replace("\\", "\\\\").replace("|", "\\|")
    return Markup(re.sub(r"\r\n|\r|\n", "<br>", text).strip())


def _md_finalize(value: Any) -> Any:
    """Every value the template prints is escaped (`_md_text`) unless a filter made it safe already (`| cell`)."""
    from markupsafe import Markup

    return value if isinstance(value, Markup) or value is None else _md_text(value)


def render_markdown(review: Review, templates: Path | None = None) -> str:
    """The review as Markdown, from `review/review.md.j2` (a team's templates folder first, then the default)."""
    import jinja2

    folders = [str(templates)] if templates else []
    folders.append(str(data_dir("templates")))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=False,  # Markdown, not HTML: _md_finalize escapes only what a Markdown viewer would render
        finalize=_md_finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = _md_cell
    try:
        text = env.get_template("review/review.md.j2").render(review=review)
    except jinja2.TemplateError as exc:
        raise ConfigError(f"the review template review/review.md.j2 cannot be rendered: {exc}") from None
    return text.rstrip("\n") + "\n"


def docx_text(document: Document) -> str:
    """The visible text of a Word document (paragraphs, then table cells), what its fingerprint is taken of."""
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _a4_document(review: Review) -> Document:
    """An empty A4 portrait document, 2 cm side margins, Calibri 11 pt, its properties naming the review."""
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt

    document = docx.Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)  # A4
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    core = document.core_properties
    core.title = f"Post-incident review: {review.event_id} {review.title}"
    core.subject = review.event_id
    core.author = "tracker"
    core.comments = "Internal: includes internal-only updates."
    return document


def render_docx(review: Review) -> Document:
    """The review as a Word document: real headings, a summary table, the timeline and the action items as
    tables with a repeating header row, Calibri 11 pt (10 pt in tables)."""
    from docx.shared import Cm

    document = _a4_document(review)
    document.add_heading(f"Post-incident review: {review.event_id}", level=0)
    document.add_paragraph(review.title, style="Subtitle")
    if review.still_open:
        document.add_paragraph().add_run(review.still_open).bold = True
    intro = document.add_paragraph()
    intro.add_run(
        f"Draft written by tracker on {review.generated} from the tracker workbook. Internal document: it "
        "includes internal-only updates, changes and the messages sent."
    ).italic = True
    for note in review.notes:
        document.add_paragraph(note).runs[0].italic = True

    document.add_heading("Summary", level=1)
    _table(document, ["", ""], [list(pair) for pair in review.summary], [Cm(5.0), Cm(12.0)], header=False)

    document.add_heading("Review", level=1)
    if review.record:
        _table(document, ["", ""], [list(pair) for pair in review.record], [Cm(5.0), Cm(12.0)], header=False)
    else:
        document.add_paragraph(f"Not recorded yet: {how_to_record(review.event_id)}")

    document.add_heading("SLA results", level=1)
    for line in review.sla:
        document.add_paragraph(line, style="List Bullet")

    document.add_heading("Timeline", level=1)
    rows = [[e.when, e.kind, e.who, e.text] for e in review.timeline]
    _table(document, ["Time", "What", "Who", "Details"], rows, [Cm(3.2), Cm(3.0), Cm(2.8), Cm(8.0)])

    document.add_heading("Root cause", level=1)
    cause = document.add_paragraph()
    cause.add_run("Cause (internal): ").bold = True
    cause.add_run(review.cause or "(not recorded: add it with resolve --cause, or here)")
    public = document.add_paragraph()
    public.add_run("Public cause: ").bold = True
    public.add_run(review.public_cause or "(not recorded)")

    for heading in ("What went well", "What did not go well"):
        document.add_heading(heading, level=1)
        for _ in range(3):
            document.add_paragraph("", style="List Bullet")

    document.add_heading("Action items", level=1)
    rows = [[a.id, a.action, a.owner, a.due, a.status] for a in review.actions]
    rows += [["", "", "", "", ""] for _ in range(review.blank_actions)]
    _table(document, ["ID", "Action", "Owner", "Due", "Status"], rows, [Cm(2.8), Cm(7.2), Cm(3.0), Cm(2.4), Cm(1.6)])
    document.add_paragraph(
        f"Record each new action with `tracker action add {review.event_id} --action ... --owner ... --due ...`."
    ).runs[0].italic = True
    return document


def _table(
    document: Document, headers: list[str], rows: list[list[str]], widths: list[Any], *, header: bool = True
) -> None:
    from docx.oxml import OxmlElement
    from docx.shared import Pt

    table = document.add_table(rows=(1 if header else 0) + len(rows), cols=len(headers))
    table.style = "Table Grid"
    table.autofit = False
    offset = 0
    if header:
        offset = 1
        cells = table.rows[0].cells
        for cell, text in zip(cells, headers, strict=True):
            cell.text = ""
            run = cell.paragraphs[0].add_run(text)
            run.bold = True
        repeat = OxmlElement("w:tblHeader")
        table.rows[0]._tr.get_or_add_trPr().append(repeat)  # the header row repeats on every page
    for number, values in enumerate(rows):
        cells = table.rows[number + offset].cells
        for index, (cell, text) in enumerate(zip(cells, values, strict=True)):
            cell.text = text
            if not header and index == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(10)


def draft_paths(folder: Path, event_id: str, fmt: str) -> list[Path]:
    """Where the drafts of an event go: `<ID>-review.md` and/or `.docx` in `folder`."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    suffixes = {"md": [".md"], "docx": [".docx"], "both": [".md", ".docx"]}[fmt]
    return [folder / f"{event_id}-review{suffix}" for suffix in suffixes]


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def edited(path: Path) -> bool:
    """Whether a draft file was changed since tracker wrote it (or was not written by tracker at all)."""
    if not path.exists():
        return False
    if path.suffix == ".md":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return True
        match = MD_MARK.search(text)
        return match is None or _fingerprint(text[: match.start()] + "\n") != match[1]
    try:
        import docx

        document = docx.Document(str(path))
    except Exception:  # noqa: BLE001 - any file python-docx cannot open is not a draft tracker can judge
        return True
    mark = document.core_properties.identifier or ""
    return not mark.startswith(DOCX_MARK) or mark[len(DOCX_MARK) :] != _fingerprint(docx_text(document))


def write_drafts(
    review: Review, paths: list[Path], *, force: bool = False, templates: Path | None = None
) -> list[Path]:
    """Write the drafts (Markdown and/or Word); refuse, writing nothing, when one of them was edited since tracker
    wrote it, unless `force`. Each file is replaced whole or not at all."""
    if not force:
        changed = [path for path in paths if edited(path)]
        if changed:
            names = " and ".join(str(p) for p in changed)
            raise UsageError(
                f"{names} {'was' if len(changed) == 1 else 'were'} edited since tracker wrote {'it' if len(changed) == 1 else 'them'} "
                "(or not written by tracker); nothing was written: keep the edits, or pass --force to replace "
                "with a new draft (or --out another folder)"
            )
    writers: list[tuple[Path, Callable[[Path], object]]] = []
    for path in paths:  # everything rendered before anything is written
        if path.suffix == ".md":
            text = render_markdown(review, templates)
            mark = (
                f"<!-- tracker review draft {_fingerprint(text)}: tracker will not replace this file once it is "
                "edited (unless --force) -->\n"
            )
            writers.append((path, partial(_write_text, text=text + mark)))
        else:
            document = render_docx(review)
            document.core_properties.identifier = DOCX_MARK + _fingerprint(docx_text(document))
            writers.append((path, partial(_save_docx, document=document)))
    for path, write in writers:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, write)
    return paths


def _write_text(path: Path, *, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _save_docx(path: Path, *, document: Document) -> None:
    document.save(str(path))


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    """Write `path` through a temporary file beside it, renamed over it once complete."""

    files.write_through(path, write)

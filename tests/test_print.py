"""The workbook prints: every sheet landscape and one page wide, its header row on every page in the body's font,
long text wrapped inside its column, a footer naming the sheet and the page; and tracker's writes keep it so."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import BuiltOnce, Run, soffice
from tests.pdf_text import Page, Pdf, read_pdf
from tracker.rules.build import build_workbook
from tracker.rules.init import example_rows
from tracker.workbook.schema import load_schema

needs_libreoffice = pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
LONG_NOTE = (
    "Mail flow is partly restored: the renewed gateway certificate is installed on both nodes, the inbound "
    "connectors are being restarted one site at a time, and queued messages are draining; expect delays of up "
    "to an hour before the last queues in Frankfurt clear"
)
WHITE = "1 1 1"  # the header's text, on its blue band


def _day_of_writes(run: Run, event_id: str) -> None:
    """Three more events opened and a long update: the example's four events, as tracker's writer leaves them."""
    for site in ("HQ", "Plant 2", "Warehouse"):
        result = run("open", "--title", f"VPN down at {site}", "--severity", "Sev 2", "--service", "VPN")
        assert result.exit_code == 0, result.stderr
    result = run("update", event_id, "--note", LONG_NOTE)
    assert result.exit_code == 0, result.stderr


def _printed(workbook: Path, folder: Path) -> Pdf:
    """The workbook as LibreOffice prints it to PDF."""
    from tests.test_libreoffice import libreoffice

    libreoffice(workbook, "pdf", folder / "pdf", folder / "lo-profile")
    return read_pdf(folder / "pdf" / f"{workbook.stem}.pdf")


def _header_words(page: Page) -> set[str]:
    return {word for text in page.texts if text.colour == WHITE for word in text.text.split()}


def test_page_setup_and_fonts_hold_after_writes(run: Run, example: Path, event_id: str) -> None:
    """After open and update wrote to it, every sheet still prints landscape, one page wide with the header row
    as print titles, the headers are Calibri 11 bold, and the rows tracker added wrap their long text and are
    tall enough to show it; a row height set by hand stays."""
    book = openpyxl.load_workbook(example)
    book["Events"].row_dimensions[2].height = 40  # the example event's row, made taller by hand
    book.save(example)
    _day_of_writes(run, event_id)
    result = run("update", event_id, "--note", "Impact reworded", "--set", f"impact={LONG_NOTE}")
    assert result.exit_code == 0, result.stderr
    book = openpyxl.load_workbook(example)
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
        assert "&A" in ws.oddFooter.left.text and "&P" in ws.oddFooter.right.text, ws.title
        fonts = {(c.font.name, c.font.sz, c.font.b) for c in ws[1] if c.value}
        assert fonts == {("Calibri", 11, True)}, ws.title
    updates = book["Updates"]
    note = next(c.column for c in updates[1] if c.value == "Note")
    long = updates.cell(updates.max_row - 1, note)
    assert long.value == LONG_NOTE and long.alignment.wrap_text
    assert updates.row_dimensions[long.row].height >= 4 * 15  # four lines of 11-point text at least
    events = book["Events"]
    impact = next(c.column for c in events[1] if c.value == "Impact")
    assert events.print_area == f"'Events'!$A$1:${events.cell(1, impact).column_letter}$1048576"  # ID to Impact
    assert events.cell(5, 1).value == suite_clock.event_id(4)  # a row tracker added
    assert events.cell(5, impact).alignment.wrap_text
    assert events.cell(2, impact).value == LONG_NOTE and events.row_dimensions[2].height == 40


@pytest.fixture
def printed_day(run: Run, example: Path, event_id: str, built_once: BuiltOnce, tmp_path: Path) -> Pdf:
    """The example after a day of writes (four events), printed by LibreOffice (built once a session)."""

    def build() -> None:
        _day_of_writes(run, event_id)
        _printed(example, tmp_path)
        shutil.rmtree(tmp_path / "lo-profile")  # LibreOffice's settings: not part of what later tests copy

    built_once("printed-day", build)
    return read_pdf(tmp_path / "pdf" / "events.pdf")


@pytest.mark.libreoffice
@needs_libreoffice
def test_four_events_print_on_one_landscape_page(printed_day: Pdf) -> None:
    """The four events print on one landscape page with the board's columns (ID to Impact: `x-print-through`) and
    every event on it, in no serif font, text at 6 points or more (all 31 columns on one page were 1.6 points);
    every other sheet of the example prints on one page too, as readable (48 pages, 3 columns a page, before)."""
    assert {name: len(pages) for name, pages in printed_day.sheets.items()} == {name: 1 for name in printed_day.sheets}
    assert len(printed_day.sheets) == 14  # (Tasks, Categories and Watch: tracker 0.4)
    smallest = {
        name: min(t.size for t in pages[0].texts if t.text.strip()) for name, pages in printed_day.sheets.items()
    }
    assert min(smallest.values()) >= 6, smallest
    [page] = printed_day.sheets["Events"]
    assert page.width > page.height
    fields = list(load_schema()["Events"].fields.values())
    board = fields[: [f.name for f in fields].index("impact") + 1]
    assert {word for spec in board for word in spec.title.split()} <= _header_words(page)
    assert "Bridge" not in _header_words(page)  # the columns after Impact are for the screen
    shown = " ".join(text.text for text in page.texts)
    assert all(suite_clock.event_id(n) in shown for n in range(1, 5))
    assert not [font for font in printed_day.fonts if "serif" in font.lower().replace("sans", "")]
    footer = page.line(min(text.y for text in page.texts))
    assert footer.startswith("Events") and "Page 1 of 14" in footer


@pytest.mark.libreoffice
@needs_libreoffice
def test_a_long_note_prints_whole_wrapped_in_its_column(printed_day: Pdf) -> None:
    """The long note `tracker update` wrote prints to its last word, over several lines inside the Note column,
    where it was cut off at the next column's edge."""
    page = next(p for p in printed_day.sheets["Updates"] if any(t.text.startswith(LONG_NOTE[:20]) for t in p.texts))
    column = next(text.x for text in page.texts if text.text.startswith(LONG_NOTE[:20]))
    pieces = [t for t in page.texts if abs(t.x - column) < 1 and t.text.strip() and t.text.strip() in LONG_NOTE]
    printed = " ".join(" ".join(piece.text.split()) for piece in sorted(pieces, key=lambda piece: -piece.y))
    assert printed == " ".join(LONG_NOTE.split())
    assert len({round(piece.y) for piece in pieces}) >= 3


@pytest.mark.libreoffice
@needs_libreoffice
def test_a_long_timeline_repeats_the_header_row_on_every_page(run: Run, example: Path, tmp_path: Path) -> None:
    """An Updates sheet of 150 rows, written to by tracker, prints on several pages, each one page wide with the
    header row at its top and a footer naming the sheet and the page."""
    schema = load_schema()
    rows = example_rows(schema, suite_clock.NOW)
    first = rows["Updates"][0]
    rows["Updates"] += [first | {"note": f"Checked the mail queues again, round {n}"} for n in range(150)]
    build_workbook(schema, rows, now=suite_clock.NOW).save(example)
    assert run("update", suite_clock.event_id(), "--note", "The queues are empty").exit_code == 0
    pages = _printed(example, tmp_path).sheets["Updates"]
    assert len(pages) >= 3
    fields = list(schema["Updates"].fields.values())
    through = [spec.name for spec in fields].index(schema["Updates"].schema["x-print-through"])
    titles = {word for spec in fields[: through + 1] for word in spec.title.split()}  # the columns it prints
    for number, page in enumerate(pages, start=1):
        assert page.width > page.height
        assert titles <= _header_words(page), f"page {number} of the Updates sheet"
        footer = page.line(min(text.y for text in page.texts))
        assert footer.startswith("Updates") and "Page " in footer, footer
    assert any("The queues are empty" in text.text for text in pages[-1].texts)


def test_a_print_through_naming_no_column_is_refused(tmp_path: Path) -> None:
    """A team's schema whose x-print-through names no column is refused when loaded, naming it (a typo would
    otherwise print the whole sheet at unreadable size, silently)."""
    from tracker.errors import SchemaError
    from tracker.resources import data_dir

    schema = tmp_path / "schema"
    shutil.copytree(data_dir("workbook_schema"), schema)
    events = schema / "events.json"
    events.write_text(events.read_text().replace('"x-print-through": "impact"', '"x-print-through": "impcat"'))
    with pytest.raises(SchemaError, match="x-print-through 'impcat' is not a property"):
        load_schema(schema)

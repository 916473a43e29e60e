"""The suite's PDF reader (tests/pdf_text.py) reads every stream LibreOffice writes, whatever bytes it ends with."""

from __future__ import annotations

import zlib
from pathlib import Path

from tests.pdf_text import read_pdf

CMAP = b"beginbfchar\n<01> <0048>\n<02> <0069>\nendbfchar\n"


def _ending_in_carriage_return() -> bytes:
    """A page stream placing "Hi", Flate-compressed so that its last byte is a carriage return (the last byte of a
    zlib stream is its checksum's: about one left margin in 256 gives it)."""
    for left in range(72, 1000):
        squeezed = zlib.compress(b"BT /F1 12 Tf %d 700 Td <0102> Tj ET\n" % left)
        if squeezed.endswith(b"\r"):
            return squeezed
    raise AssertionError("no left margin gives a final carriage return")


def _pdf(content: bytes) -> bytes:
    """A one-page PDF laid out as LibreOffice writes it: the page's stream compressed, its length an object of its
    own, the font's ToUnicode map a stream too."""
    objects = [
        b"<</Type/Pages/Kids[2 0 R]/Count 1>>",
        b"<</Type/Page/Parent 1 0 R/MediaBox[0 0 595 842]/Resources<</Font<</F1 4 0 R>>>>/Contents 3 0 R>>",
        b"<</Length 6 0 R/Filter/FlateDecode>>\nstream\n" + content + b"\nendstream",
        b"<</Type/Font/Subtype/TrueType/BaseFont/ABCDEF+DejaVuSans/ToUnicode 5 0 R>>",
        b"<</Length %d>>\nstream\n" % len(CMAP) + CMAP + b"\nendstream",
        b"%d" % len(content),
    ]
    body = b"".join(b"%d 0 obj\n" % number + item + b"\nendobj\n" for number, item in enumerate(objects, 1))
    return b"%PDF-1.6\n" + body + b"%%EOF\n"


def test_a_page_whose_compressed_stream_ends_with_a_carriage_return_reads_whole(tmp_path: Path) -> None:
    """CI failed once on a LibreOffice export (zlib: incomplete or truncated stream): the reader cut a page stream
    at its last carriage return, taking it for the line end before `endstream`. The stream's /Length says where
    its data ends."""
    content = _ending_in_carriage_return()
    path = tmp_path / "page.pdf"
    path.write_bytes(_pdf(content))
    pdf = read_pdf(path)
    assert [t.text for t in pdf.pages[0].texts] == ["Hi"]
    assert (pdf.pages[0].width, pdf.pages[0].height) == (595, 842)
    assert pdf.fonts == {"DejaVuSans"}

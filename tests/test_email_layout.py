"""The HTML emails as a phone and a desktop mail client show them: headless Chromium (the Debian package) lays
each audience's email out at 375 and 640 CSS pixels, and nothing may stick out to the right."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
PROBE = (
    "<script>const box = document.getElementById('tracker-viewport').getBoundingClientRect();"
    "document.title = JSON.stringify({view: box.width, widest: Math.max(...[...document.querySelectorAll("
    "'#tracker-viewport *')].map(e => e.getBoundingClientRect().right)) - box.left});</script>"
)


def layout(html: Path, width: int, profile: Path) -> dict[str, float]:
    """How wide the email's content is laid out in a screen `width` CSS pixels wide.

    Headless Chromium will not make a window narrower than 500 px, so the email's body is put in a
    box of the screen's width (what its 100% widths resolve against), and the right edge of every
    element is measured against it.
    """
    probe = html.with_name(f"{html.stem}-{width}.html")
    text = re.sub(r"<body([^>]*)>", rf'<body\1><div id="tracker-viewport" style="width:{width}px">', html.read_text())
    probe.write_text(text.replace("</body>", "</div>" + PROBE + "</body>"))
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--window-size=1200,900",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    title = re.search(r"<title>(.*?)</title>", result.stdout, re.S)
    assert title, result.stdout[:500]
    return json.loads(title[1].replace("&quot;", '"'))


@pytest.mark.parametrize("width", [375, 640])
def test_each_audience_email_fits_the_screen(
    run: Run, example: Path, event_id: str, tmp_path: Path, width: int
) -> None:
    """Leadership, technical and customer emails: no horizontal overflow at a phone's and a desktop's width."""
    assert (
        run(
            "update",
            event_id,
            "--note",
            "Vendor case 12345678 opened; see https://status.example.com/incidents/"
            "2026-11-21-mail-gateway-certificate-renewal for the vendor's own page",
        ).exit_code
        == 0
    )
    preview = run("notify", event_id, "--dry-run")
    assert preview.exit_code == 0, preview.stderr
    pages = sorted((tmp_path / "preview").glob("*.html"))
    assert len(pages) == 3
    for page in pages:
        measured = layout(page, width, tmp_path / f"chromium-{width}")
        assert measured["view"] == width
        assert measured["widest"] <= width + 0.5, (page.name, measured)

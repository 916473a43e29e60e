"""Headless Chromium for tests: load a page at a viewport width and report what a reader would notice.

Drives Debian's Chromium (``/usr/bin/chromium``) through Playwright's sync API; nothing downloads a browser.
Any request that is not ``file://``, ``data:`` or to 127.0.0.1 is blocked and recorded, so a page that
needs the internet shows it. Use::

    from tests.browser import open_page

    seen = open_page(path, width=375, screenshot=tmp_path / "375.png")
    assert seen.errors == [] and not seen.overflows and seen.blocked == []
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

WIDTHS = (1280, 375)

# Elements whose right edge lies beyond the viewport, unless an ancestor that clips or scrolls horizontally
# holds them inside the viewport (that ancestor scrolls on its own; the page does not).
_OVERFLOW_JS = """
() => {
  const vw = window.innerWidth;
  const found = [];
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox !== 'visible') return a.getBoundingClientRect().right <= vw + 0.5;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > vw + 0.5 && !clipped(el)) {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (el.classList.length ? '.' + [...el.classList].join('.') : '');
      found.push(name + ' right=' + Math.round(r.right) + ' ' + (el.textContent || '').trim().slice(0, 40));
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, elements: found.slice(0, 20)};
}
"""


def chromium_path() -> str | None:
    """Debian's Chromium binary, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Debian's Chromium and Playwright, or skip the calling test saying which is missing."""
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'); browser tests need it")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright is not installed (pip install playwright; no browser download needed)")
    return path


@dataclass
class Seen:
    """What one page load showed at one viewport width."""

    url: str
    width: int
    errors: list[str] = field(default_factory=list)  # console errors and uncaught page errors
    blocked: list[str] = field(default_factory=list)  # requests refused because they leave the machine
    scroll_width: int = 0
    overflowing: list[str] = field(default_factory=list)  # elements beyond the viewport's right edge
    text: str = ""  # the page's visible text (innerText of body)
    title: str = ""
    measured: Any = None  # what the `measure` script given to `open` returned

    @property
    def overflows(self) -> bool:
        """True when the page scrolls sideways or an element sticks out past the viewport's right edge."""
        return self.scroll_width > self.width or bool(self.overflowing)


def _allowed(url: str) -> bool:
    return url.startswith(("file://", "data:", "about:", "blob:", "http://127.0.0.1", "https://127.0.0.1"))


def _url(target: str | Path) -> str:
    if isinstance(target, Path) or "://" not in str(target):
        return Path(target).resolve().as_uri()
    return str(target)


class Browser:
    """One headless Chromium for several page loads: ``with Browser() as b: b.open(path, width=375)``."""

    def __init__(self) -> None:
        self._executable = require_chromium()
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=self._executable, headless=True)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()

    def open(
        self,
        target: str | Path,
        *,
        width: int = 1280,
        height: int = 800,
        screenshot: Path | None = None,
        measure: str | None = None,
        clock: datetime | None = None,
        then: timedelta | None = None,
    ) -> Seen:
        """Load a file path or URL at `width` px; return what it showed, saving a full-page PNG if asked.
        `measure`: a JavaScript function run in the loaded page, its result kept in `Seen.measured`. `clock`: the
        moment the browser's clock (Date, timers) reads as the page loads; `then`: how far to move that clock on
        after loading, firing the page's timers on the way, before looking (Playwright's clock: no real wait)."""
        url = _url(target)
        seen = Seen(url=url, width=width)
        context = self._browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
        try:
            page = context.new_page()

            def route(r: Any) -> None:
                if _allowed(r.request.url):
                    r.continue_()
                else:
                    seen.blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("console", lambda m: seen.errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(f"page error: {e}"))
            if clock is not None:
                page.clock.install(time=clock)
            page.goto(url, wait_until="load")
            if then is not None:
                page.clock.run_for(int(then.total_seconds() * 1000))
            measured = page.evaluate(_OVERFLOW_JS)
            seen.scroll_width = int(measured["scrollWidth"])
            seen.overflowing = list(measured["elements"])
            seen.text = page.inner_text("body")
            seen.title = page.title()
            if measure is not None:
                seen.measured = page.evaluate(measure)
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()
        return seen


def open_page(target: str | Path, *, width: int = 1280, height: int = 800, screenshot: Path | None = None) -> Seen:
    """Load one page in a fresh headless Chromium (skips the test when Chromium is absent)."""
    with Browser() as browser:
        return browser.open(target, width=width, height=height, screenshot=screenshot)

"""The status page made into what its readers get: the local HTML page (charts inline as SVG) and the SharePoint
site page's web parts (text parts, charts as PNG), from the page's content (tracker.window.publish.build_page)
through the team's or tracker's templates."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from tracker.config import Config
from tracker.errors import ConfigError
from tracker.microsoft365.sitepage import PageImage, PageSection
from tracker.sending.audience import when
from tracker.sending.mail import template_environment
from tracker.window.charts import pale, trend_png, trend_svg, weekly_png, weekly_svg
from tracker.window.status_page import StatusPage

_SECTION = re.compile(r"<!--\s*section\s*-->")
_IMAGE = re.compile(r"^\s*<!--\s*image:(\w+)\s*-->\s*$")
_PAGE = "status/page.html.j2"
_PREPARED: dict[str, tuple[Config, Any]] = {}  # template -> (the configuration, an environment it is compiled in)


def _new_environment(config: Config) -> Any:
    return template_environment(config.mail.templates, lambda v: when(config, v))


def _environment(config: Config, name: str) -> Any:
    """A jinja2 environment for the pages, new for each page made (a team's template added meanwhile, say while
    `watch --publish` runs, is the one used), but for one `prepare_page` compiled this template in, taken once."""
    prepared = _PREPARED.pop(name, None)
    return prepared[1] if prepared is not None and prepared[0] is config else _new_environment(config)


def prepare_page(config: Config) -> None:
    """Compile the local status page's template now (jinja2's import and compile: ~40 ms), while the command waits
    for Events to parse, for the page it makes next; a template that cannot be loaded or compiled is told as the page
    is made, as it would be without this (`_render`)."""
    if config.publish.to != "local":
        return
    environment = _new_environment(config)
    with contextlib.suppress(Exception):  # undecodable, unreadable, a syntax error: _render says what
        environment.get_template(_PAGE)
        _PREPARED[_PAGE] = (config, environment)


def _render(config: Config, name: str, context: dict[str, Any]) -> str:
    import jinja2

    try:
        return str(_environment(config, name).get_template(name).render(context))
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"no page template {exc.name}; add it to your [mail] templates folder (copy tracker's templates/{name})"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"page template {exc.filename or exc.name}, line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # noqa: BLE001 - a team's template may raise anything while rendering
        raise ConfigError(f"page template {name} failed: {type(exc).__name__}: {exc}") from None


def render_html(page: StatusPage, config: Config) -> str:
    """The self-contained local page: CSS and charts inline, nothing fetched from anywhere."""
    from markupsafe import Markup

    charts = {}
    if page.weekly is not None:
        charts["weekly"] = Markup(weekly_svg(page.weekly))
    if page.trend is not None:
        charts["trend"] = Markup(trend_svg(page.trend))
    return _render(config, _PAGE, {"page": page, "charts": charts, "pale": pale})


def sharepoint_sections(page: StatusPage, config: Config, *, prefix: str = "tracker-status") -> list[PageSection]:
    """The page as SharePoint web parts: text parts in the HTML the text web part keeps, charts as PNG images."""

    html = _render(config, "status/sharepoint.html.j2", {"page": page})
    images = {}
    if page.weekly is not None:
        images["weekly"] = PageImage(
            f"{prefix}-events-per-week.png", weekly_png(page.weekly), "image/png", _alt(page, "weekly")
        )
    if page.trend is not None:
        images["trend"] = PageImage(
            f"{prefix}-restoration-trend.png", trend_png(page.trend), "image/png", _alt(page, "trend")
        )
    sections: list[PageSection] = []
    for part in _SECTION.split(html):
        image = _IMAGE.match(part)
        if image:
            if image[1] in images:
                sections.append(PageSection(image=images[image[1]]))
        elif part.strip():
            sections.append(PageSection(html=part.strip()))
    return sections


def _alt(page: StatusPage, chart: str) -> str:
    import html

    svg = weekly_svg(page.weekly) if chart == "weekly" and page.weekly else trend_svg(page.trend) if page.trend else ""
    title = re.search(r"<title[^>]*>(.*?)</title>", svg)
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg)
    return html.unescape(f"{title[1] if title else ''}: {desc[1] if desc else ''}")

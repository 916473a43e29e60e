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


def _environment(config: Config) -> Any:
    """The pages' jinja2 environment, one per configuration: a template compiled once (`prepare_page`) is reused."""
    if _ENVIRONMENT.get(id(config), (None,))[0] is not config:
        _ENVIRONMENT[id(config)] = (config, template_environment(config.mail.templates, lambda v: when(config, v)))
    return _ENVIRONMENT[id(config)][1]


_ENVIRONMENT: dict[int, tuple[Config, Any]] = {}


def prepare_page(config: Config) -> None:
    """Compile the local status page's template now (jinja2's import and compile: ~40 ms), while the command waits
    for Events to parse; a template that cannot be loaded is told when the page is made."""
    import jinja2

    if config.publish.to == "local":
        with contextlib.suppress(jinja2.TemplateError, OSError):
            _environment(config).get_template("status/page.html.j2")


def _render(config: Config, name: str, context: dict[str, Any]) -> str:
    import jinja2

    try:
        return str(_environment(config).get_template(name).render(context))
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
    return _render(config, "status/page.html.j2", {"page": page, "charts": charts, "pale": pale})


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

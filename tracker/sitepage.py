"""The leadership status page as a modern SharePoint site page, through Microsoft Graph v1.0."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracker.config import Config


@dataclass(frozen=True)
class PageImage:
    """A picture for an image web part: uploaded to the site's assets library under `name`."""

    name: str
    data: bytes
    content_type: str
    alt: str


@dataclass(frozen=True)
class PageSection:
    """One web part of the page: a text web part (`html`) or an image web part (`image`)."""

    html: str = ""
    image: PageImage | None = None


def publish_site_page(
    config: Config, *, page_name: str, title: str, sections: Sequence[PageSection], verbose: bool = False
) -> str:
    """Create or update the site page `page_name` in [sharepoint] site_url, publish it; return its web URL."""
    raise NotImplementedError("the SharePoint site page is being built")

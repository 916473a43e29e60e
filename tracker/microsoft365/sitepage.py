"""The leadership status page as a modern SharePoint site page, through Microsoft Graph v1.0.

One page per name in the site of [sharepoint] site_url: the first publish creates it, later ones
find it (by the id remembered when it was made, else by name in the site's page list) and replace
its canvas in place (never a second page), then publish it so everyone sees the new version. Pictures (the charts) go to the site's Site Assets library, in
the folder SharePoint itself uses for a page's images (`SitePages/<page>/`), replaced under the
same names each time, and are shown with image web parts that point at those files.

Microsoft documents (learn.microsoft.com/graph/api/sitepage-create, sitepage-update,
sitepage-publish, sitepage-list): create `POST /sites/{site}/pages` (201), update
`PATCH /sites/{site}/pages/{page}/microsoft.graph.sitePage` with the whole canvas (200), publish
`POST .../microsoft.graph.sitePage/publish` (204); creating and updating need Sites.ReadWrite.All
(delegated or application). Requests, retries (429/503 Retry-After), token refresh and --verbose
logging are `tracker.microsoft365.remote`'s.

What real tenants do beyond those pages: the page list asked with `$filter` and `$select` together
answers 200 with an empty list (microsoft-graph-docs-contrib issue 8887), so a page is never looked
up that way; and the site's drive list hides drives with the `system` facet unless `$select` names
`system` (graph/api/drive-list, remarks), which Site Assets can carry.
"""

from __future__ import annotations

import json
import re
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from tracker import files
from tracker.config import Config
from tracker.errors import ConfigError, RemoteError, UsageError
from tracker.microsoft365.remote import Locked, Remote

PERMISSION = "Sites.ReadWrite.All"
IMAGE_WEB_PART = "d1d91016-032f-456d-98a4-721247c305e8"  # the Image web part (graph/api/sitepage-create)
IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG"}
ASSETS_URL_NAME = "SiteAssets"  # the library's URL name; its display name ("Site Assets") is translated
MAX_LIST_PAGES = 500  # of the site-page list, at Graph's page size: far more pages than any site has
MARKER = "Kept by tracker"  # starts the description of every page tracker publishes
DESCRIPTION = f"{MARKER}: the event status page. Edits made here are replaced at the next publish."
_BAD_NAME = re.compile(r'["*:<>?/\\|#%\x00-\x1f]')


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
    config: Config,
    *,
    page_name: str,
    title: str,
    sections: Sequence[PageSection],
    verbose: bool = False,
    memory: Path | None = None,
) -> str:
    """Create or update the site page `page_name` in [sharepoint] site_url, publish it; return its web URL.

    `memory` is a JSON file where the page's id is kept once it is known, so later publishes find it with one
    request; without it (or when the id is gone) the page is found by name in the site's page list.

    Raises ConfigError (no [sharepoint], site not found), AuthError (403: names Sites.ReadWrite.All
    and the site), UsageError (a bad page or image name, an image that is not PNG or JPEG), and
    RemoteError (SharePoint refused; someone holds the page for editing).
    """

    if config.sharepoint is None:
        raise ConfigError("the SharePoint status page needs a [sharepoint] section in tracker.toml (site_url, sign-in)")
    settings = config.sharepoint
    return SitePages(Remote(settings, verbose=verbose), memory).publish(page_name, title, sections)


def page_file_name(name: str) -> str:
    """`Event Status` → `Event Status.aspx`; a name SharePoint would refuse is a UsageError."""
    name = name.strip()
    if not name.lower().endswith(".aspx"):
        name += ".aspx"
    _check_file_name(name, "site page name")
    return name


def _check_file_name(name: str, what: str) -> None:
    stem = name.rsplit(".", 1)[0]
    if not stem.strip() or _BAD_NAME.search(name) or name != name.strip() or stem.endswith(".") or len(name) > 128:
        raise UsageError(
            f"{what} {name!r} cannot be a SharePoint file name: use letters, digits, spaces, '-' or '_' "
            '(not " * : < > ? / \\ | # %), at most 128 characters'
        )


def image_size(image: PageImage) -> tuple[int, int]:
    """(width, height) in pixels from the PNG or JPEG header; anything else is a UsageError."""
    data = image.data
    kind = IMAGE_TYPES.get(image.content_type.lower())
    if kind == "PNG" and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if kind == "JPEG" and data[:2] == b"\xff\xd8":
        at = 2
        while at + 9 < len(data) and data[at] == 0xFF:
            marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                return int(width), int(height)
            at += 2 + length
    raise UsageError(
        f"status page image {image.name!r} ({image.content_type}) is not a readable PNG or JPEG: "
        "SharePoint's image web part is given PNG (charts) or JPEG"
    )


def _image_sizes(images: list[PageImage]) -> dict[str, tuple[int, int]]:
    """Each picture's size in pixels, by name; a bad or repeated name is a UsageError."""
    seen: set[str] = set()
    for image in images:
        _check_file_name(image.name, "status page image name")
        if image.name.lower() in seen:
            raise UsageError(f"two status page images are both named {image.name!r}; each needs its own name")
        seen.add(image.name.lower())
    return {image.name: image_size(image) for image in images}


class SitePages:
    """Site pages and their pictures in the site of [sharepoint] site_url, through one `Remote`."""

    def __init__(self, remote: Any, memory: Path | None = None) -> None:
        self.remote = remote
        self.settings = remote.settings
        self.memory = memory
        self.where = f"the SharePoint site {self.settings.site_url}"
        self._site: dict[str, Any] | None = None

    def _graph(self, method: str, path: str, body: Any = None, *, what: str, idempotent: bool = True) -> Any:

        try:
            return self.remote.graph(method, path, body, idempotent=idempotent, what=what, permission="site-page")
        except Locked as exc:
            raise RemoteError(
                f"{what}: the page is locked in SharePoint by {exc.owner} (being edited); publish again when they are done"
            ) from None

    # -- the site and its assets library ---------------------------------------------------------

    def site(self) -> dict[str, Any]:
        """The site's Graph resource (id, webUrl), by host name and server-relative path."""
        if self._site is None:
            ref = self.remote.site_ref()
            self._site = (
                self._graph("GET", f"/sites/{ref}?$select=id,webUrl", what=f"finding {self.where} in Microsoft Graph")
                or {}
            )
            if not self._site.get("id"):
                raise RemoteError(f"finding {self.where} in Microsoft Graph: the answer has no site id")
        return self._site

    @property
    def site_id(self) -> str:
        return str(self.site()["id"])

    def assets_drive(self) -> str:
        """The drive id of the site's Site Assets library; SharePoint is asked to make one if the site has none.

        The drive list names `system` in `$select`: drives with that facet are hidden otherwise (graph/api/drive-list,
        remarks). Should Site Assets still not be listed, the list id EnsureSiteAssetsLibrary answers (the library
        it found or made) gives its drive (graph/api/resources/list, relationship `drive`)."""
        what = f"finding the Site Assets library of {self.where}"
        drives = self._graph("GET", f"/sites/{self.site_id}/drives?$select=id,name,webUrl,system", what=what)
        for drive in (drives or {}).get("value", []):
            if urlsplit(str(drive.get("webUrl", ""))).path.rstrip("/").lower().endswith("/" + ASSETS_URL_NAME.lower()):
                return str(drive["id"])
        # Graph cannot create it; SharePoint REST's EnsureSiteAssetsLibrary is the documented way.
        response = self.remote.request(
            "sharepoint",
            "POST",
            f"{self.settings.site_url}/_api/web/lists/EnsureSiteAssetsLibrary()",
            idempotent=True,
            what=f"creating the Site Assets library of {self.where}",
            permission="sharepoint",
        )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        list_id = str((answer.get("d", answer) if isinstance(answer, dict) else {}).get("Id") or "")
        drive = (
            self._graph("GET", f"/sites/{self.site_id}/lists/{list_id}/drive?$select=id", what=what)
            if list_id
            else None
        )
        if not isinstance(drive, dict) or not drive.get("id"):
            raise RemoteError(
                f"{self.where} has no Site Assets library and SharePoint did not make one; "
                "add a document library named Site Assets (URL SiteAssets), then publish again"
            )
        return str(drive["id"])

    def upload(self, drive: str, folder: str, image: PageImage) -> dict[str, Any]:
        """Put the picture in the library (a file of that name is replaced); return its driveItem with sharepointIds."""
        path = quote(f"{folder}/{image.name}")
        what = f"uploading {image.name} to the Site Assets library of {self.where}"

        try:
            response = self.remote.request(
                "graph",
                "PUT",
                f"{self.settings.graph_url}/drives/{drive}/root:/{path}:/content",
                data=image.data,
                headers={"Content-Type": image.content_type},
                idempotent=True,
                what=what,
                permission="site-page",
            )
        except Locked as exc:
            raise RemoteError(f"{what}: the file is locked by {exc.owner}; publish again when they are done") from None
        item_id = response.json()["id"]
        item = self._graph("GET", f"/drives/{drive}/items/{item_id}?$select=id,name,webUrl,sharepointIds", what=what)
        if not isinstance(item, dict) or not item.get("sharepointIds") or not item.get("webUrl"):
            raise RemoteError(f"{what}: the answer does not say where the file is (no webUrl or sharepointIds)")
        return item

    # -- the page ------------------------------------------------------------------------------

    def find(self, name: str) -> dict[str, Any] | None:
        """The site page named `name` (SharePoint compares names without case), or None.

        Every page of the site's page list is read (`@odata.nextLink`) and the name compared here: the list is asked
        with `$select` alone, since `$filter` with `$select` is reported to answer an empty list (docs-contrib issue
        8887) and `$filter` alone to be ignored on some tenants."""
        path: str | None = (
            f"/sites/{self.site_id}/pages/microsoft.graph.sitePage?$select=id,name,title,description,webUrl"
        )
        for _ in range(MAX_LIST_PAGES):
            assert path is not None
            found = self._graph("GET", path, what=f"looking for the page {name} in {self.where}") or {}
            pages = [p for p in found.get("value", []) if str(p.get("name", "")).lower() == name.lower()]
            if pages:
                return pages[0]
            path = self._next(found.get("@odata.nextLink"))
            if path is None:
                return None
        raise RemoteError(f"looking for the page {name} in {self.where}: over {MAX_LIST_PAGES} pages of results")

    def _key(self, name: str) -> str:
        return f"{self.settings.site_url.lower()} {name.lower()}"

    def _memory(self) -> dict[str, str]:
        if self.memory is None:
            return {}
        try:
            kept = json.loads(self.memory.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in kept.items()} if isinstance(kept, dict) else {}

    def remember(self, name: str, page_id: str | None) -> None:
        """Keep (or, with None, forget) the id of the page `name`; a folder that cannot be written only costs a
        look-up by name next time."""
        if self.memory is None:
            return
        kept = self._memory()
        if page_id is None:
            kept.pop(self._key(name), None)
        else:
            kept[self._key(name)] = page_id
        try:
            self.memory.parent.mkdir(parents=True, exist_ok=True)
            files.write_atomic(self.memory, json.dumps(kept, indent=1, sort_keys=True))
        except OSError:
            pass

    def remembered(self, name: str) -> dict[str, Any] | None:
        """The page by the id kept when it was made or last found (one request); None if none is kept, or the page
        is gone or renamed since (then it is forgotten)."""
        page_id = self._memory().get(self._key(name))
        if not page_id or not re.fullmatch(r"[0-9A-Fa-f-]{1,64}", page_id):
            return None
        try:
            page = self._graph(
                "GET",
                f"/sites/{self.site_id}/pages/{page_id}/microsoft.graph.sitePage?$select=id,name,title,description,webUrl",
                what=f"reading the page {name} in {self.where}",
            )
        except ConfigError:  # 404: deleted since
            page = None
        if not isinstance(page, dict) or str(page.get("name", "")).lower() != name.lower():
            self.remember(name, None)
            return None
        return page

    def _next(self, link: Any) -> str | None:
        """A nextLink as a path under graph_url; one pointing elsewhere is not followed (it would get the token)."""
        if not link:
            return None
        base = self.remote.settings.graph_url
        if not str(link).startswith(base + "/"):
            raise RemoteError(f"Microsoft Graph answered with a next page outside {base}: {str(link)[:200]}")
        return str(link)[len(base) :]

    def _create(self, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """A new page; or the one found made meanwhile (another publish, or this one before a lost answer), which
        is then updated: (the page, whether it was found)."""
        what = f"creating the page {name} in {self.where}"
        settings = {"name": name, "pageLayout": "article", "showComments": False, "showRecommendedPages": False}
        try:
            page = self._graph(
                "POST", f"/sites/{self.site_id}/pages", {**body, **settings}, what=what, idempotent=False
            )
            return page, False
        except RemoteError:
            page = self.find(name)
            if page is None or not str(page.get("description") or "").startswith(MARKER):
                raise
            return page, True

    def publish(self, page_name: str, title: str, sections: Sequence[PageSection]) -> str:
        """Create or update the page, upload its pictures, publish it; return its web URL."""
        name = page_file_name(page_name)
        if not title.strip():
            raise UsageError("the status page needs a title")
        images = [s.image for s in sections if s.image is not None]
        sizes = _image_sizes(images)

        existing = self.remembered(name) or self.find(name)
        if existing is not None and not str(existing.get("description") or "").startswith(MARKER):
            raise UsageError(
                f"{self.where} already has a page {name} that tracker did not publish; "
                "choose another page name for the status page (or delete that page) so it is not overwritten"
            )
        items: dict[str, dict[str, Any]] = {}
        if images:
            drive = self.assets_drive()
            folder = f"SitePages/{name[: -len('.aspx')]}"
            for image in images:
                items[image.name] = self.upload(drive, folder, image)
        body = {
            "@odata.type": "#microsoft.graph.sitePage",
            "title": title,
            "description": DESCRIPTION,
            "canvasLayout": canvas_layout(name, sections, items, sizes),
        }
        page = existing
        if page is None:
            page, made_elsewhere = self._create(name, body)
            existing = page if made_elsewhere else None
        if existing is not None:
            self._graph(
                "PATCH",
                f"/sites/{self.site_id}/pages/{existing['id']}/microsoft.graph.sitePage",
                body,
                what=f"updating the page {name} in {self.where}",
            )
        assert page is not None
        self.remember(name, str(page["id"]))
        self._graph(
            "POST",
            f"/sites/{self.site_id}/pages/{page['id']}/microsoft.graph.sitePage/publish",
            what=f"publishing the page {name} in {self.where}",
        )
        url = str(page.get("webUrl") or "")
        return url if urlsplit(url).scheme else urljoin(self.settings.site_url + "/", url or f"SitePages/{quote(name)}")


def canvas_layout(
    page_name: str,
    sections: Sequence[PageSection],
    items: dict[str, dict[str, Any]],
    sizes: dict[str, tuple[int, int]],
) -> dict[str, Any]:
    """One one-column section holding a web part per PageSection, in order (graph/api/resources/canvaslayout).

    Web part ids are derived from the page name and position, so an unchanged page gets the same canvas.
    """
    parts: list[dict[str, Any]] = []
    for index, section in enumerate(sections):
        part_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"tracker:{page_name.lower()}:{index}"))
        if section.image is None:
            parts.append({"@odata.type": "#microsoft.graph.textWebPart", "id": part_id, "innerHtml": section.html})
            continue
        image = section.image
        item = items[image.name]
        parts.append(image_web_part(part_id, image, item, sizes[image.name]))
    column = {"id": "1", "width": 12, "webparts": parts}
    return {"horizontalSections": [{"id": "1", "layout": "oneColumn", "emphasis": "none", "columns": [column]}]}


def image_web_part(part_id: str, image: PageImage, item: dict[str, Any], size: tuple[int, int]) -> dict[str, Any]:
    """The Image web part showing an uploaded file, in the shape of Microsoft's sitepage-create example."""
    ids = item["sharepointIds"]
    width, height = size
    where = {
        "siteid": str(ids.get("siteId", "")),
        "webid": str(ids.get("webId", "")),
        "listid": str(ids.get("listId", "")),
        "uniqueid": str(ids.get("listItemUniqueId", "")),
    }
    return {
        "@odata.type": "#microsoft.graph.standardWebPart",
        "id": part_id,
        "webPartType": IMAGE_WEB_PART,
        "data": {
            "dataVersion": "1.9",
            "description": "Show an image on your page",
            "title": "Image",
            "properties": {
                "imageSourceType": 2,
                "altText": image.alt,
                "overlayText": "",
                **where,
                "imgWidth": width,
                "imgHeight": height,
                "fixAspectRatio": False,
                "captionText": "",
                "alignment": "Center",
            },
            "serverProcessedContent": {
                "imageSources": [{"key": "imageSource", "value": unquote(urlsplit(str(item["webUrl"])).path)}],
                "customMetadata": [
                    {"key": "imageSource", "value": {**where, "width": str(width), "height": str(height)}}
                ],
            },
        },
    }

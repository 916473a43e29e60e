"""The status page as a SharePoint site page: the real office365 client over HTTP against the stand-in's
Graph site-page and Site Assets endpoints (tracker.microsoft365.sitepage)."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import suite_clock
from tests.sharepoint_standin import IMAGE_WEB_PART, StandIn
from tracker.config import load_config
from tracker.errors import AuthError, ConfigError, RemoteError, UsageError
from tracker.microsoft365.sitepage import PageImage, PageSection, publish_site_page
from tracker.sharepoint_config import CLOUDS, sharepoint_settings

PAGE = "Event Status"


@pytest.fixture
def mode() -> str:
    """The status page does not depend on the workbook's write mode."""
    return "workbook-api"


def png(width: int, height: int) -> bytes:
    """A real, tiny PNG (grey) of that size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def sections(headline: str, week: bytes | None = None) -> list[PageSection]:
    """A page like `tracker publish` makes: text, a chart, text, a chart."""
    return [
        PageSection(html=f"<h2>{headline}</h2><p>{suite_clock.event_id(1)} <strong>Sev 1</strong></p>"),
        PageSection(image=PageImage("events-per-week.png", week or png(64, 32), "image/png", "Events per week")),
        PageSection(html=f"<h3>Resolved in the last 7 days</h3><ul><li>{suite_clock.event_id(2)}</li></ul>"),
        PageSection(image=PageImage("restoration-trend.png", png(48, 24), "image/png", "Restoration time trend")),
    ]


def publish(tmp_path: Path, parts: list[PageSection] | None = None, **kwargs: Any) -> str:
    config = load_config(tmp_path / "tracker.toml")
    return publish_site_page(
        config, page_name=PAGE, title="Event status", sections=parts or sections("Broken now"), **kwargs
    )


def web_parts(canvas: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for s in canvas["horizontalSections"] for c in s["columns"] for p in c["webparts"]]


def calls(sp: StandIn) -> list[str]:
    """Method, path without the site id or query, status: what a reader of the request log would check."""
    out = []
    for r in sp.requests:
        path = r["path"].split("?", 1)[0].replace(sp.site_id, "{site}")
        out.append(f"{r['method']} {path} {r['status']}")
    return out


def test_first_publish_creates_and_publishes_one_page(sp: StandIn, tmp_path: Path) -> None:
    """The first publish makes one page, puts both charts in Site Assets, and publishes it; readers see the text
    and the charts."""
    url = publish(tmp_path)
    assert len(sp.pages) == 1
    page = next(iter(sp.pages.values()))
    assert url == page["webUrl"] == f"{sp.site_url}/SitePages/Event%20Status.aspx"
    assert page["name"] == "Event Status.aspx" and page["title"] == "Event status"
    assert page["publishingState"] == {"level": "published", "versionId": "1.0"}
    parts = web_parts(page["published"])
    assert [p.get("innerHtml", "").startswith("<h2>Broken now</h2>") for p in parts] == [True, False, False, False]
    assert "Resolved in the last 7 days" in parts[2]["innerHtml"]
    chart = parts[1]
    assert chart["webPartType"] == IMAGE_WEB_PART
    assert chart["data"]["properties"]["altText"] == "Events per week"
    assert (chart["data"]["properties"]["imgWidth"], chart["data"]["properties"]["imgHeight"]) == (64, 32)
    source = chart["data"]["serverProcessedContent"]["imageSources"][0]["value"]
    assert source == "/sites/ops/SiteAssets/SitePages/Event Status/events-per-week.png"
    assert sp.asset("SitePages/Event Status/events-per-week.png") == png(64, 32)
    assert sp.asset("SitePages/Event Status/restoration-trend.png") == png(48, 24)
    log = calls(sp)
    assert [c for c in log if " /graph/v1.0/sites/{site}/pages" in c and not c.startswith("GET")] == [
        "POST /graph/v1.0/sites/{site}/pages 201",
        "POST /graph/v1.0/sites/{site}/pages/" + page["id"] + "/microsoft.graph.sitePage/publish 204",
    ]
    assert sum(c.startswith("PUT ") and c.endswith(" 201") for c in log) == 2


def test_second_publish_updates_the_same_page(sp: StandIn, tmp_path: Path) -> None:
    """A later publish finds the page by name and replaces its content in place: still one page, new text, the
    charts replaced under the same names, published again."""
    first = publish(tmp_path)
    page_id = next(iter(sp.pages))
    sp.requests.clear()
    second = publish(tmp_path, sections("All clear", week=png(80, 40)))
    assert second == first and list(sp.pages) == [page_id]
    page = sp.pages[page_id]
    assert page["publishingState"]["level"] == "published" and page["publishingState"]["versionId"] == "2.0"
    parts = web_parts(page["published"])
    assert parts[0]["innerHtml"].startswith("<h2>All clear</h2>")
    assert parts[1]["data"]["properties"]["imgWidth"] == 80
    assert sp.asset("SitePages/Event Status/events-per-week.png") == png(80, 40)
    assert len(sp.assets) == 2
    log = calls(sp)
    assert not any(c.startswith("POST /graph/v1.0/sites/{site}/pages 2") for c in log)  # no second page
    assert f"PATCH /graph/v1.0/sites/{{site}}/pages/{page_id}/microsoft.graph.sitePage 200" in log
    assert sum(c.startswith("PUT ") and c.endswith(" 200") for c in log) == 2  # replaced, not added


def test_the_page_is_found_among_many_pages_of_results(sp: StandIn, tmp_path: Path) -> None:
    """A site with 60 other pages whose list comes 7 at a time: the second publish (no id kept) finds tracker's page
    by name on a later page of results and updates it; no second page, no $filter sent (with $select it is reported
    to answer an empty list, docs-contrib issue 8887)."""
    for n in range(30):
        sp.add_page(f"Zz news {n:02}.aspx", title=f"News {n}")  # sorted after "Event Status.aspx"
        sp.add_page(f"A news {n:02}.aspx", title=f"News {n}")  # and before it
    publish(tmp_path)
    sp.page_list_size = 7
    sp.requests.clear()
    publish(tmp_path, sections("All clear"))
    ours = [p for p in sp.pages.values() if p["name"] == "Event Status.aspx"]
    assert len(ours) == 1 and len(sp.pages) == 61
    assert web_parts(ours[0]["published"])[0]["innerHtml"].startswith("<h2>All clear</h2>")
    listed = [r for r in sp.requests if r["method"] == "GET" and "/pages/microsoft.graph.sitePage" in r["path"]]
    assert len(listed) > 1 and any("skiptoken" in r["path"] for r in listed)  # it read on through the next pages
    assert not any("filter" in r["path"].lower() for r in listed)


def test_the_page_is_found_by_the_id_kept_and_made_again_when_deleted(sp: StandIn, tmp_path: Path) -> None:
    """With a memory file, the second publish reads the page by the id kept at the first (one request, no list) and
    updates it; after someone deletes the page in the browser, the next publish makes a new one instead of failing,
    and keeps its id."""
    memory = tmp_path / "state" / "site-pages.json"
    publish(tmp_path, memory=memory)
    page_id = next(iter(sp.pages))
    sp.requests.clear()
    publish(tmp_path, sections("All clear"), memory=memory)
    assert list(sp.pages) == [page_id] and sp.pages[page_id]["publishingState"]["versionId"] == "2.0"
    pages = [c for c in calls(sp) if c.startswith("GET /graph/v1.0/sites/{site}/pages")]
    assert pages == [f"GET /graph/v1.0/sites/{{site}}/pages/{page_id}/microsoft.graph.sitePage 200"]
    del sp.pages[page_id]
    publish(tmp_path, sections("Again"), memory=memory)
    (new_id,) = sp.pages
    assert new_id != page_id and web_parts(sp.pages[new_id]["published"])[0]["innerHtml"].startswith("<h2>Again")
    assert page_id not in memory.read_text() and new_id in memory.read_text()


def test_site_assets_hidden_from_the_plain_drive_list_is_found(sp: StandIn, tmp_path: Path) -> None:
    """Site Assets with the `system` facet is left out of a plain drive list (drive-list remarks); tracker names
    `system` in $select, finds it and puts the charts there without asking SharePoint to make a library."""
    plain = _graph(sp, "GET", "drives?$select=id,name,webUrl", None).json()["value"]
    assert [d["name"] for d in plain] == ["Shared Documents"]  # the stand-in hides it, as Graph does
    publish(tmp_path)
    assert sp.asset("SitePages/Event Status/events-per-week.png") == png(64, 32)
    assert not any("EnsureSiteAssetsLibrary" in c for c in calls(sp))
    assert any(c.startswith("GET /graph/v1.0/sites/{site}/drives ") for c in calls(sp))


def test_forbidden_names_the_permission_and_the_site(sp: StandIn, tmp_path: Path) -> None:
    """A sign-in that may read the site but not write pages gets one line naming Sites.ReadWrite.All and the site."""
    sp.refuse_page_writes(1, status=403)
    with pytest.raises(AuthError) as caught:
        publish(tmp_path, [PageSection(html="<p>text only</p>")])
    message = str(caught.value)
    assert caught.value.exit_code == 2 and "\n" not in message
    assert "access denied (403" in message and "Sites.ReadWrite.All" in message and sp.site_url in message
    assert sp.pages == {}


def test_throttling_is_waited_out(sp: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """429 with Retry-After: tracker waits as long as it says (recorded here instead of slept), then publishes."""
    import tracker.retry

    real = tracker.retry.retry_after
    waits: list[float] = []

    def record(response: Any, attempt: int) -> float:
        waits.append(real(response, attempt))
        return 0.0

    monkeypatch.setattr(tracker.retry, "retry_after", record)
    sp.throttle(2, retry_after="7")
    publish(tmp_path)
    assert [r["status"] for r in sp.requests[:3]] == [429, 429, 200]
    assert len(waits) == 2 and all(7.0 <= w <= 8.0 for w in waits)
    assert len(sp.pages) == 1 and next(iter(sp.pages.values()))["publishingState"]["level"] == "published"


def test_someone_elses_page_of_that_name_is_left_alone(sp: StandIn, tmp_path: Path) -> None:
    """A page with the same name that tracker did not publish is not overwritten: a clear refusal, nothing uploaded."""
    other = sp.add_page("Event Status.aspx", "Team news")
    with pytest.raises(UsageError, match="already has a page Event Status.aspx that tracker did not publish"):
        publish(tmp_path)
    assert sp.pages[other]["title"] == "Team news" and sp.assets == {}
    assert not any(r["method"] in ("PATCH", "PUT", "POST") for r in sp.requests)


def test_a_page_made_meanwhile_is_updated_not_doubled(sp: StandIn, tmp_path: Path) -> None:
    """When another publish creates the page between the look-up and the create (409), this one updates that page."""

    def other_publish(standin: StandIn) -> None:
        standin.add_page("Event Status.aspx", "Event status", description="Kept by tracker: the event status page.")

    sp.before_next_page_write(other_publish)
    url = publish(tmp_path, [PageSection(html="<p>from this publish</p>")])
    assert len(sp.pages) == 1 and url.endswith("/SitePages/Event%20Status.aspx")
    page = next(iter(sp.pages.values()))
    assert web_parts(page["published"])[0]["innerHtml"] == "<p>from this publish</p>"
    assert "POST /graph/v1.0/sites/{site}/pages 409" in calls(sp)


def test_site_without_site_assets_gets_one(sp: StandIn, tmp_path: Path) -> None:
    """A site that has no Site Assets library yet gets one (SharePoint's EnsureSiteAssetsLibrary), then the charts."""
    sp.has_site_assets = False
    publish(tmp_path)
    assert "POST /sites/ops/_api/web/lists/EnsureSiteAssetsLibrary() 200" in calls(sp)
    # its drive comes from the list id EnsureSiteAssetsLibrary answers (graph/api/resources/list, `drive`)
    assert f"GET /graph/v1.0/sites/{{site}}/lists/{sp.assets_list_id}/drive 200" in calls(sp)
    assert sp.asset("SitePages/Event Status/restoration-trend.png") == png(48, 24)


def test_a_page_being_edited_is_reported(sp: StandIn, tmp_path: Path) -> None:
    """A page someone holds for editing (423) is one line naming them; publishing again later works."""
    publish(tmp_path)
    sp.refuse_page_writes(1, status=423)
    with pytest.raises(
        RemoteError, match="updating the page Event Status.aspx in .*: the page is locked in SharePoint by Jane Doe"
    ):
        publish(tmp_path, [PageSection(html="<p>text only</p>")])
    publish(tmp_path, sections("Later"))
    assert web_parts(next(iter(sp.pages.values()))["published"])[0]["innerHtml"].startswith("<h2>Later</h2>")


def test_verbose_logs_requests_never_tokens(
    sp: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """verbose=True logs one line per request to the `tracker.http` logger (the library writes nothing to the
    terminal itself; `--verbose` shows the log on stderr), and never a token."""
    import logging

    caplog.set_level(logging.INFO, logger="tracker")
    publish(tmp_path, verbose=True)
    captured = capsys.readouterr()
    lines = [r.getMessage() for r in caplog.records if r.name == "tracker.http"]
    assert any("/microsoft.graph.sitePage/publish -> 204" in line for line in lines)
    assert any(":/content -> 201" in line for line in lines)
    assert captured.err == "" and captured.out == ""
    assert not any(token in line for line in lines for token in ("graph-token", "sp-token"))


@pytest.mark.parametrize(
    ("parts", "name", "message"),
    [
        (
            [PageSection(image=PageImage("chart.svg", b"<svg/>", "image/svg+xml", "chart"))],
            PAGE,
            "'chart.svg' (image/svg+xml) is not a readable PNG or JPEG",
        ),
        ([PageSection(image=PageImage("c.png", b"not a png", "image/png", "c"))], PAGE, "'c.png' (image/png) is not"),
        ([PageSection(html="<p>x</p>")], "Status?", "site page name 'Status?.aspx' cannot be a SharePoint file name"),
        (
            [PageSection(image=PageImage("a:b.png", png(2, 2), "image/png", "c"))],
            PAGE,
            "image name 'a:b.png' cannot be",
        ),
    ],
)
def test_bad_names_and_images_are_refused_before_any_request(
    sp: StandIn, tmp_path: Path, parts: list[PageSection], name: str, message: str
) -> None:
    """A page or image name SharePoint would refuse, or a picture that is not PNG/JPEG, is one line; nothing is sent."""
    config = load_config(tmp_path / "tracker.toml")
    with pytest.raises(UsageError, match=re.escape(message)):
        publish_site_page(config, page_name=name, title="Event status", sections=parts)
    assert sp.requests == []


def test_unknown_site_says_so(sp: StandIn, tmp_path: Path) -> None:
    """A site_url Graph does not know is a configuration error naming the site."""
    toml = tmp_path / "tracker.toml"
    toml.write_text(toml.read_text().replace(sp.site_url, sp.url + "/sites/nosuch"))
    with pytest.raises(ConfigError, match=r"finding the SharePoint site .*/sites/nosuch in Microsoft Graph: not found"):
        publish(tmp_path)


def test_no_sharepoint_section(example: Path, tmp_path: Path) -> None:
    """Without [sharepoint] the site page cannot be published: a configuration error that says what is missing."""
    with pytest.raises(ConfigError, match=r"needs a \[sharepoint\] section"):
        publish(tmp_path)


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_every_cloud(sp: StandIn, tmp_path: Path, cloud: str) -> None:
    """The page is published the same way in each cloud; Graph's host is the cloud's unless graph_url overrides it."""
    toml = tmp_path / "tracker.toml"
    toml.write_text(toml.read_text().replace('cloud = "global"', f'cloud = "{cloud}"'))
    assert publish(tmp_path).startswith(sp.site_url)
    host = {"global": "contoso.sharepoint.com", "usgov-high": "contoso.sharepoint.us"}.get(
        cloud, "contoso.sharepoint-mil.us"
    )
    section = {
        "site_url": f"https://{host}/sites/ops",
        "path": "/sites/ops/D/T.xlsx",
        "cloud": cloud,
        "auth": "token-env",
    }
    assert sharepoint_settings(section, tmp_path).graph_url == CLOUDS[cloud].graph + "/v1.0"


def _graph(sp: StandIn, method: str, path: str, body: Any) -> requests.Response:
    return requests.request(
        method, f"{sp.graph_url}/sites/{sp.site_id}/{path}", json=body, headers={"Authorization": "Bearer graph-token"}
    )


def test_stand_in_checks_page_bodies_as_microsoft_documents(sp: StandIn) -> None:
    """The stand-in refuses what Graph refuses (so tracker cannot pass by accident): no @odata.type, no name, a web part
    of neither documented shape, an image web part pointing at no file (400), a second page of one name (409)."""
    good = {"@odata.type": "#microsoft.graph.sitePage", "name": "A.aspx", "title": "A"}
    text = {"horizontalSections": [{"id": "1", "layout": "oneColumn", "columns": [{"id": "1", "webparts": []}]}]}
    bad_bodies = [
        {k: v for k, v in good.items() if k != "@odata.type"},
        {k: v for k, v in good.items() if k != "name"},
        {**good, "canvasLayout": {"horizontalSections": [{"columns": [{"webparts": [{"html": "<p>x</p>"}]}]}]}},
        {**good, "canvasLayout": {"horizontalSections": [{"columns": [{"webparts": [{"webPartType": "nope"}]}]}]}},
        {
            **good,
            "canvasLayout": {
                "horizontalSections": [
                    {
                        "columns": [
                            {"webparts": [{"webPartType": IMAGE_WEB_PART, "data": {"properties": {"uniqueid": "x"}}}]}
                        ]
                    }
                ]
            },
        },
        {**good, "webParts": []},
    ]
    for body in bad_bodies:
        answer = _graph(sp, "POST", "pages", body)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["code"] == "invalidRequest"
    assert _graph(sp, "POST", "pages", {**good, "canvasLayout": text}).status_code == 201
    conflict = _graph(sp, "POST", "pages", {**good, "name": "a.aspx"})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "nameAlreadyExists"
    page_id = next(iter(sp.pages))
    assert _graph(sp, "PATCH", f"pages/{page_id}/microsoft.graph.sitePage", {"title": "B"}).status_code == 400
    assert _graph(sp, "POST", "pages/nosuch/microsoft.graph.sitePage/publish", None).status_code == 404
    shown = requests.get(
        f"{sp.graph_url}/sites/{sp.site_id}/pages/{page_id}/microsoft.graph.sitePage?$expand=canvasLayout",
        headers={"Authorization": "Bearer graph-token"},
    ).json()
    assert shown["canvasLayout"]["horizontalSections"][0]["layout"] == "oneColumn"


SAFE_TAGS = {
    "p",
    "h2",
    "h3",
    "h4",
    "strong",
    "em",
    "u",
    "s",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}


def test_tracker_publish_three_times_on_sharepoint(run: Any, sp: StandIn, event_id: str) -> None:
    """`tracker publish` with the workbook on SharePoint: the first run creates and publishes the page, the second
    (after a new event was opened) and the third update the same page (read by the id kept in the state folder: no
    409, no second page), which then shows both events; text web parts use only the HTML SharePoint's text web part
    keeps."""
    first = run("publish")
    assert first.exit_code == 0, first.stderr
    assert len(sp.pages) == 1
    page_id, page = next(iter(sp.pages.items()))
    assert page["webUrl"] in first.stdout and page["publishingState"]["level"] == "published"
    texts = " ".join(p.get("innerHtml", "") for p in web_parts(page["published"]))
    assert event_id in texts
    new_id = run("open", "--title", "Mail delayed", "--severity", "Sev 2", "--service", "Email", "--impact", "Slow")
    assert new_id.exit_code == 0, new_id.stderr
    second = run("publish")
    assert second.exit_code == 0, second.stderr
    assert list(sp.pages) == [page_id] and sp.pages[page_id]["publishingState"]["versionId"] == "2.0"
    parts = web_parts(sp.pages[page_id]["published"])
    texts = " ".join(p.get("innerHtml", "") for p in parts)
    assert event_id in texts and new_id.stdout.strip() in texts
    sp.requests.clear()
    third = run("publish")
    assert third.exit_code == 0, third.stderr
    assert list(sp.pages) == [page_id] and sp.pages[page_id]["publishingState"]["versionId"] == "3.0"
    assert not any(r["status"] == 409 or r["path"].endswith("/pages") for r in sp.requests)
    assert not any("microsoft.graph.sitePage?" in r["path"] and "filter" in r["path"] for r in sp.requests)
    tags = {t.lower() for t in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", texts)}
    assert tags <= SAFE_TAGS, tags - SAFE_TAGS
    assert not re.search(r"\s(style|class|on\w+)\s*=", texts)
    images = [p for p in parts if p.get("webPartType") == IMAGE_WEB_PART]
    for image in images:
        source = image["data"]["serverProcessedContent"]["imageSources"][0]["value"]
        assert source.startswith("/sites/ops/SiteAssets/SitePages/") and source.endswith(".png")


def test_tracker_publish_forbidden_is_one_line(run: Any, sp: StandIn) -> None:
    """`tracker publish` without the permission to write pages: exit 2, one line naming Sites.ReadWrite.All and the
    site, no traceback, no page."""
    sp.refuse_page_writes(5, status=403)
    result = run("publish")
    assert result.exit_code == 2
    assert "Sites.ReadWrite.All" in result.stderr and sp.site_url in result.stderr and "403" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sp.pages == {}

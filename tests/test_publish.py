"""`tracker publish`: the status page, from real workbooks made by the CLI, looked at in headless Chromium.

Set UPDATE_DOCS_IMAGES=1 to also save the screenshots the README shows (docs/images/status-1280.png and
status-375.png) from `test_the_page_reads_well_in_a_browser_at_1280_and_375_px`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests import suite_clock
from tests.conftest import BuiltOnce, Run

NOW = datetime(2026, 11, 21, 15, 54, tzinfo=UTC)  # a Saturday afternoon
DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
INTERNAL_NOTE = "Firewall admin account reset by the on-call engineer; do not share"
VENDOR_CASE = "VC-7788-5521"
BRIDGE = "teams.example.com/l/meetup-join/vpn-tech"

# (days before NOW, severity, service, title, hours to restore): what happened over the last 12 weeks.
HISTORY = [
    (120, "Sev 2", "Email", "Mail outage last summer", 2.0),  # before the charts' 12 weeks: on no chart
    (80, "Sev 3", "Wi-Fi", "Wi-Fi drops on floor 3", 9.0),
    (74, "Sev 2", "VPN", "VPN slow for remote users", 3.5),
    (66, "Sev 4", "ERP", "ERP report scheduler delayed", 20.0),
    (61, "Sev 3", "Email", "Shared mailbox sync delays", 6.0),
    (52, "Sev 2", "Active Directory", "Sign-in delays at Plant 2", 5.0),
    (47, "Sev 1", "ERP", "ERP down for all sites", 3.0),
    (40, "Sev 3", "Wi-Fi", "Guest Wi-Fi unavailable", 12.0),
    (33, "Sev 2", "Email", "Mail delivery delayed", 2.5),
    (30, "Sev 4", "VPN", "VPN client update failing", 30.0),
    (26, "Sev 3", "ERP", "ERP printing errors", 8.0),
    (19, "Sev 2", "VPN", "VPN drops every hour", 6.5),
    (15, "Sev 3", "Active Directory", "Password resets slow", 4.0),
    (12, "Sev 4", "Email", "Calendar invites late", 16.0),
    (9, "Sev 2", "Wi-Fi", "Wi-Fi outage in the warehouse", 9.5),
    (5, "Sev 1", "Active Directory", "Nobody can sign in at HQ", 5.5),  # breaches the 4 h target
    (2, "Sev 2", "ERP", "ERP slow at month end", 3.0),  # meets the 8 h target
]


def _ids(text: str) -> list[str]:
    return re.findall(r"EVT-\d{4}-\d{4}", text)


def _make_history(run: Run, at: Callable[[datetime], None]) -> dict[str, str]:
    """Events over the last 12 weeks (each opened and resolved at its own time), then three open ones:
    the example Sev 1 (with an internal update planted), a Sev 2 on VPN (a vendor case and a technical bridge
    planted) and a Sev 3 past its restoration target. Returns the IDs by role."""
    ids: dict[str, str] = {}
    at(NOW)
    assert run("init", "--example", "--name", "Pat Doe").exit_code == 0
    ids["email"] = json.loads(run("list", "--open", "--json").stdout)[0]["id"]
    for number, (days, severity, service, title, hours) in enumerate(HISTORY):
        detected = NOW - timedelta(days=days, hours=number % 5)
        at(detected + timedelta(minutes=4))
        opened = run("open", "--title", title, "--severity", severity, "--service", service, "--detected", "-4m")
        assert opened.exit_code == 0, opened.stderr
        event = opened.stdout.strip().split()[0]
        at(detected + timedelta(hours=hours))
        done = run("resolve", event, "--note", f"{service} restored.", "--public-cause", "A faulty component.")
        assert done.exit_code == 0, done.stderr
        ids[title] = event
    at(NOW - timedelta(hours=30))
    sev3 = run("open", "--title", "Printers offline at Plant 2", "--severity", "Sev 3", "--service", "ERP")
    ids["breached"] = sev3.stdout.strip().split()[0]
    at(NOW - timedelta(hours=2))
    sev2 = run(
        "open",
        "--title",
        "VPN unstable for remote users",
        "--severity",
        "Sev 2",
        "--service",
        "VPN",
        "--site",
        "Remote users",
        "--impact",
        "Remote staff are disconnected every few minutes.",
        "--technical-bridge",
        f"https://{BRIDGE}",
        "--set",
        f"vendor_case_number={VENDOR_CASE}",
    )
    assert sev2.exit_code == 0, sev2.stderr
    ids["vpn"] = sev2.stdout.strip().split()[0]
    at(NOW - timedelta(hours=1, minutes=50))
    assert run("ack", ids["vpn"]).exit_code == 0
    at(NOW - timedelta(minutes=20))
    identified = run(
        "update",
        ids["vpn"],
        "--note",
        "Concentrator failover tested; vendor engaged.",
        "--status",
        "Identified",
        "--public-note",
        "We found the cause and are fixing it.",
        "--eta",
        "+3h",
    )
    assert identified.exit_code == 0, identified.stderr
    at(NOW - timedelta(minutes=5))
    internal = run("update", ids["email"], "--note", INTERNAL_NOTE, "--internal")
    assert internal.exit_code == 0, internal.stderr
    at(NOW)
    return ids


@pytest.fixture
def history(run: Run, tmp_path: Path, at: Callable[[datetime], None], built_once: BuiltOnce) -> dict[str, str]:
    """A tracker folder with 12 weeks of events and three open ones (see `_make_history`, built once per session);
    the clock at NOW."""
    ids: dict[str, str] = built_once("publish-history", lambda: _make_history(run, at))
    at(NOW)
    return ids


INDEX = "status/index.html"


def _page(tmp_path: Path, name: str = INDEX) -> str:
    return (tmp_path / name).read_text(encoding="utf-8")


def test_publish_writes_the_page_and_says_where(run: Run, tmp_path: Path, history: dict[str, str]) -> None:
    """publish writes status/index.html beside tracker.toml and says where and how many events are open."""
    result = run("publish")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "published the status page for leadership to status/index.html: 3 open events, 1 past an SLA target\n"
    )
    page = _page(tmp_path)
    assert '<html lang="en">' in page
    open_ids = [history["email"], history["vpn"], history["breached"]]
    assert all(i in page for i in open_ids)
    # worst first: the Sev 1, then the Sev 2, then the Sev 3
    positions = [page.index(f'id="{i}"') for i in open_ids]
    assert positions == sorted(positions)
    assert "Published 21 Nov 2026 1554Z" in page
    assert list((tmp_path / "status").iterdir()) == [tmp_path / "status" / "index.html"]  # no temp file left


@pytest.mark.parametrize("audience", ["leadership", "customer"])
def test_internal_updates_vendor_cases_and_bridges_never_appear(
    run: Run, tmp_path: Path, history: dict[str, str], audience: str
) -> None:
    """Neither leadership nor the customer page carries an internal-only update, a vendor case number or the
    technical bridge, though the workbook holds all three."""
    assert run("publish", "--audience", audience, "--out", "page.html").exit_code == 0
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert history["vpn"] in page
    for secret in (INTERNAL_NOTE, VENDOR_CASE, "2611210040001234", BRIDGE, "ext 4411"):
        assert secret not in page, f"{secret!r} is on the {audience} page"
    assert "Concentrator failover tested" in page if audience == "leadership" else "Concentrator" not in page


def test_the_customer_page_uses_customer_words_and_no_internal_fields(
    run: Run, tmp_path: Path, history: dict[str, str]
) -> None:
    """--audience customer shows the customer wording of severities and the public notes; internal-only fields
    (the incident lead, SLA targets, the Note) stay out, and so does the open Sev 3, of which the customer is never
    told; it goes beside the leadership page, never over it."""
    result = run("publish", "--audience", "customer")
    assert result.exit_code == 0, result.stderr
    assert "to status/index-customer.html: 2 open events\n" in result.stdout
    page = _page(tmp_path, "status/index-customer.html")
    assert history["breached"] not in page and "Printers offline" not in page
    assert "Major outage" in page and "Service disruption" in page
    assert "We found the cause and are fixing it." in page
    assert "Dana Whitfield" not in page  # the example's Incident Lead: internal only
    assert "target" not in page.casefold().replace("target=", "")  # no SLA targets for external readers
    assert not (tmp_path / "status" / "index.html").exists()


def test_a_field_the_schema_keeps_from_leadership_stays_off_their_page(
    run: Run, tmp_path: Path, at: Callable[[datetime], None]
) -> None:
    """A team schema that gives Sites Affected to the technical audience only keeps the sites off the
    leadership page; the technical page shows them."""
    at(NOW)
    assert run("init", "--example").exit_code == 0
    schema = tmp_path / "my_schema"
    from tracker.resources import data_dir

    shutil.copytree(data_dir("workbook_schema"), schema)
    events = json.loads((schema / "events.json").read_text(encoding="utf-8"))
    events["properties"]["sites_affected"]["x-audiences"] = ["technical"]
    (schema / "events.json").write_text(json.dumps(events), encoding="utf-8")
    toml = (tmp_path / "tracker.toml").read_text(encoding="utf-8")
    (tmp_path / "tracker.toml").write_text(toml.replace("[workbook]\n", '[workbook]\nschema = "my_schema"\n'))
    assert run("publish", "--audience", "leadership", "--out", "lead.html").exit_code == 0
    assert run("publish", "--audience", "technical", "--out", "tech.html").exit_code == 0
    assert "All sites" not in (tmp_path / "lead.html").read_text(encoding="utf-8")
    assert "All sites" in (tmp_path / "tech.html").read_text(encoding="utf-8")


def test_resolved_in_the_last_7_days_with_restoration_against_target(
    run: Run, tmp_path: Path, history: dict[str, str]
) -> None:
    """The events restored in the last 7 days are listed, newest first, each with its time to restore, its
    target and met or breached; older ones are not."""
    assert run("publish").exit_code == 0
    page = _page(tmp_path)
    section = page[page.index("Resolved in the last 7 days") : page.index("The last 12 weeks")]
    erp, sign_in = history["ERP slow at month end"], history["Nobody can sign in at HQ"]
    assert _ids(section) == [erp, sign_in]
    rows = section.split("<tr")
    erp_row = next(r for r in rows if erp in r)
    sign_in_row = next(r for r in rows if sign_in in r)
    assert "3 h" in erp_row and "8 h" in erp_row and ">Met<" in erp_row
    assert "5 h 30 min" in sign_in_row and "4 h" in sign_in_row and ">Breached<" in sign_in_row


def test_the_two_charts_are_inline_svg_with_titles_and_counts(
    run: Run, tmp_path: Path, history: dict[str, str]
) -> None:
    """Both charts are inline SVG with a title and a text summary a screen reader reads: 16 events over 12
    weeks plus the 3 open ones, and the restoration trend."""
    assert run("publish").exit_code == 0
    page = _page(tmp_path)
    assert page.count("<svg") == 2
    assert '<title id="weekly-title">Events per week by severity</title>' in page
    assert "19 events in the 12 weeks from 31 Aug to 16 Nov: Sev 1 3, Sev 2 7, Sev 3 6, Sev 4 3" in page
    assert '<title id="trend-title">Restoration time per week (median)</title>' in page
    assert "16 events restored in 12 weeks" in page
    assert "<img" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_the_page_reads_well_in_a_browser_at_1280_and_375_px(run: Run, tmp_path: Path, history: dict[str, str]) -> None:
    """In headless Chromium the page loads with no console error and no request leaving the machine, shows the
    open events' IDs at both widths and does not scroll sideways at 375 px."""
    from tests.browser import WIDTHS, Browser

    assert run("publish").exit_code == 0
    save = os.environ.get("UPDATE_DOCS_IMAGES") == "1"
    with Browser() as browser:
        for width in WIDTHS:
            shot = (DOCS_IMAGES if save else tmp_path) / f"status-{width}.png"
            # read a few minutes after it was published (the browser's clock, not today's: see the staleness test)
            seen = browser.open(
                tmp_path / "status" / "index.html", width=width, screenshot=shot, clock=NOW + timedelta(minutes=3)
            )
            assert seen.errors == [] and seen.blocked == [] and _STALE not in seen.text
            assert not seen.overflows, (width, seen.scroll_width, seen.overflowing)
            for event in ("email", "vpn", "breached"):
                assert history[event] in seen.text
            assert "Right now" in seen.text and "3 open events" in seen.text
            assert INTERNAL_NOTE not in seen.text
            assert shot.stat().st_size > 10_000
            if save:  # the README's copy: 256 colours are plenty for a page of text and flat colours
                from PIL import Image

                with Image.open(shot) as image:
                    image.convert("RGB").quantize(colors=256).save(shot, optimize=True)


def test_no_open_events_says_so(run: Run, tmp_path: Path, example: Path, event_id: str) -> None:
    """With every event resolved the page says all services are running normally."""
    assert run("resolve", event_id, "--note", "Mail flowing again.").exit_code == 0
    result = run("publish")
    assert result.stdout.endswith(": 0 open events\n")
    assert "No open events: all services are running normally." in _page(tmp_path)


def test_publish_json(run: Run, tmp_path: Path, history: dict[str, str]) -> None:
    """--json says where the page went and what it counted."""
    result = run("publish", "--json")
    assert json.loads(result.stdout) == {
        "to": "local",
        "where": "status/index.html",
        "audience": "leadership",
        "open_events": 3,
        "sla_breached": 1,
        "resolved_last_7_days": 2,
        "published_at": "2026-11-21T15:54:00Z",
        "also": [],
    }


def test_publish_settings_from_tracker_toml(run: Run, tmp_path: Path, example: Path) -> None:
    """[publish] path, audience and title decide the file, who it is for and its heading."""
    with (tmp_path / "tracker.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[publish]\npath = "site/now.html"\naudience = "customer"\ntitle = "Contoso IT status"\n')
    result = run("publish")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("published the status page for customer to site/now.html: 1 open event")
    page = (tmp_path / "site" / "now.html").read_text(encoding="utf-8")
    assert "<h1>Contoso IT status</h1>" in page and "Major outage" in page


def test_times_show_in_the_display_timezone(run: Run, tmp_path: Path, example: Path) -> None:
    """With a display timezone every time on the page carries that zone's abbreviation."""
    toml = (tmp_path / "tracker.toml").read_text(encoding="utf-8")
    toml = toml.replace('timezone = "UTC"', 'timezone = "America/New_York"').replace(
        '# time_format = "%d %b %Y %H%MZ"', 'time_format = "%d %b %Y %H%M %Z"'
    )
    (tmp_path / "tracker.toml").write_text(toml, encoding="utf-8")
    assert run("publish").exit_code == 0
    page = _page(tmp_path)
    assert re.search(r"Published \d\d \w{3} \d{4} \d{4} E[SD]T", page)
    assert "Z<" not in page


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('to = "ftp"', '[publish] to must be "local" or "sharepoint", not \'ftp\''),
        ('to = "sharepoint"', '[publish] to = "sharepoint" needs a [sharepoint] section'),
        ('audience = "internal"', "[publish] audience must name one audience of the Distribution sheet"),
        ('page_name = "status.html"', "[publish] page_name must be a page file name ending in .aspx"),
        ('after_notify = "yes"', "[publish] after_notify must be true or false, not 'yes'"),
        ('paht = "x.html"', "[publish] has an unknown key 'paht'; did you mean 'path'?"),
        ('path = "status/"', "[publish] path must be a file name, e.g. \"status/index.html\", not 'status/'"),
        ("title = 42", "[publish] title must be a text, not 42"),
    ],
)
def test_bad_publish_settings_are_one_line_errors(
    run: Run, tmp_path: Path, example: Path, section: str, message: str
) -> None:
    """A wrong [publish] value stops publish with one line naming the key, the value and what is allowed."""
    with (tmp_path / "tracker.toml").open("a", encoding="utf-8") as toml:
        toml.write(f"\n[publish]\n{section}\n")
    result = run("publish")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_an_unknown_audience_is_refused_with_the_known_ones(run: Run, tmp_path: Path, example: Path) -> None:
    """--audience with a name that is neither internal nor on the Distribution sheet is refused, saying it came
    from --audience, suggesting the close one and listing them."""
    result = run("publish", "--audience", "custmer")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: audience 'custmer' (--audience) is not on the Distribution sheet nor in [mail] internal_audiences; "
        "did you mean 'customer'? Use one of: customer, leadership, security, technical\n"
    )
    assert not (tmp_path / "status").exists()


@pytest.mark.parametrize(
    ("name", "hint"), [("custmer", "did you mean 'customer'? Use one of"), ("board", "use one of")]
)
def test_an_unknown_audience_in_tracker_toml_says_it_comes_from_there(
    run: Run, tmp_path: Path, example: Path, name: str, hint: str
) -> None:
    """[publish] audience naming no audience is refused in one line that says it comes from tracker.toml [publish]
    audience, with a did-you-mean when a known audience is close (exit 2); --audience still publishes."""
    with (tmp_path / "tracker.toml").open("a", encoding="utf-8") as toml:
        toml.write(f'\n[publish]\naudience = "{name}"\n')
    result = run("publish")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: audience '{name}' (tracker.toml [publish] audience) is not on the Distribution sheet nor in "
        f"[mail] internal_audiences; {hint}: customer, leadership, security, technical\n"
    )
    assert run("publish", "--audience", "leadership").exit_code == 0


# The HTML SharePoint's text web part keeps (see templates/status/sharepoint.html.j2).
SHAREPOINT_TAGS = {"h2", "h3", "h4", "p", "strong", "em", "a", "ul", "ol", "li", "table", "tr", "td", "th"}
SHAREPOINT_TAGS |= {"blockquote", "span", "br"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _value in attrs}


def test_the_sharepoint_sections_use_only_html_the_text_web_part_keeps(
    run: Run, tmp_path: Path, history: dict[str, str]
) -> None:
    """The SharePoint rendering of the same page: text parts with only the tags SharePoint keeps and no style or
    class, the two charts as PNG image parts with alt text, and nothing internal."""
    from tracker.config import load_config
    from tracker.store.backends import open_store
    from tracker.times import utcnow
    from tracker.window.publish import build_page
    from tracker.window.status_render import sharepoint_sections

    config = load_config(tmp_path / "tracker.toml")
    page = build_page(open_store(config).read(), config, utcnow())
    sections = sharepoint_sections(page, config)
    texts = [s.html for s in sections if s.html]
    images = [s.image for s in sections if s.image is not None]
    assert [i.name for i in images] == ["tracker-status-events-per-week.png", "tracker-status-restoration-trend.png"]
    assert all(i.data.startswith(b"\x89PNG") and i.content_type == "image/png" and i.alt for i in images)
    parser = _Tags()
    parser.feed("".join(texts))
    assert parser.tags <= SHAREPOINT_TAGS and not parser.attributes
    joined = "".join(texts)
    assert all(history[e] in joined for e in ("email", "vpn", "breached"))
    assert INTERNAL_NOTE not in joined and VENDOR_CASE not in joined
    assert "<!--" not in joined


def test_markup_typed_into_the_workbook_is_shown_as_text(run: Run, tmp_path: Path, example: Path) -> None:
    """A title or impact holding HTML is shown as the characters typed, never run: the page stays free of
    script errors and requests."""
    from tests.browser import open_page

    opened = run(
        "open",
        "--title",
        '<script>console.error("ran")</script> Portal <b>down</b>',
        "--severity",
        "Sev 2",
        "--service",
        "ERP",
        "--impact",
        '<img src="https://example.com/x.png" onerror="console.error(1)">',
    )
    assert opened.exit_code == 0, opened.stderr
    assert run("publish").exit_code == 0
    page = _page(tmp_path)
    # the page's one script is its own staleness check; the typed one is text
    assert page.count("<script") == 1 and "&lt;script&gt;" in page and "<img" not in page
    seen = open_page(tmp_path / "status" / "index.html", width=375)
    assert seen.errors == [] and seen.blocked == []
    assert '<script>console.error("ran")</script> Portal <b>down</b>' in seen.text


def test_after_notify_republishes_the_page_once_something_was_sent(
    run: Run, tmp_path: Path, example: Path, event_id: str
) -> None:
    """[publish] after_notify = true: a notify that sent emails republishes the page (one line says where); a
    notify with nothing to send does not; a page that cannot be written is a warning, the emails stay sent."""
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + "\n[publish]\nafter_notify = true\n")
    page = tmp_path / "status" / "index.html"
    sent = run("notify", event_id)
    assert sent.exit_code == 0, sent.stderr
    assert "published the status page for leadership to status/index.html: 1 open event" in sent.stdout
    assert event_id in page.read_text()
    page.unlink()
    nothing = run("notify", event_id)
    assert "published" not in nothing.stdout and not page.exists()
    assert run("update", event_id, "--note", "Failover under way", "--public-note", "Working on it").exit_code == 0
    page.mkdir()  # the page's path is taken by a folder: it cannot be written
    blocked = run("notify", event_id)
    assert blocked.exit_code == 0, blocked.stderr
    assert blocked.stderr == (
        "warning: the status page was not republished: cannot write the status page to status/index.html "
        "(tracker.toml [publish] path): it is a folder (`tracker publish` again)\n"
    )
    assert "sent 3 of 3" in blocked.stdout


PHISH = "SECURITY-PHISH finance mailbox compromise"
PHISH_IMPACT = "Attacker read CFO mailbox"
STUFFING = "SECURITY-STUFF credential stuffing on the VPN portal"


@pytest.mark.parametrize("audience", ["customer", "leadership"])
def test_an_event_the_audience_is_never_told_about_is_nowhere_on_its_page(
    run: Run, tmp_path: Path, at: Callable[[datetime], None], audience: str
) -> None:
    """Sev 3 notifies the technical team only (Severities, Audiences Notified), so two Sev 3 security events, one
    open and one resolved this week, are nowhere on the customer's page: not in the counts, the open events, the
    resolved list or either chart. Leadership, an internal audience, sees both."""
    at(NOW - timedelta(days=2))
    assert run("init", "--example").exit_code == 0
    stuffing = run("open", "--title", STUFFING, "--severity", "Sev 3", "--category", "security", "--service", "VPN")
    assert stuffing.exit_code == 0, stuffing.stderr
    at(NOW - timedelta(days=1))
    assert run("resolve", stuffing.stdout.split()[0], "--note", "Portal locked down.").exit_code == 0
    at(NOW - timedelta(hours=1))
    phish = run(
        "open", "--title", PHISH, "--severity", "Sev 3", "--category", "security", "--service", "Email",
        "--impact", PHISH_IMPACT,
    )  # fmt: skip
    assert phish.exit_code == 0, phish.stderr
    at(NOW)
    result = run("publish", "--audience", audience, "--out", "page.html")
    assert result.exit_code == 0, result.stderr
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    planted = (PHISH, PHISH_IMPACT, STUFFING, phish.stdout.split()[0], stuffing.stdout.split()[0])
    if audience == "customer":
        assert "to page.html: 1 open event\n" in result.stdout
        assert [s for s in planted if s in page] == []
        assert "Sev 3" not in page
        assert "No events were resolved in the last 7 days." in page
        assert "3 events in the 12 weeks" not in page and "1 event in the 12 weeks" in page
        assert "No events were restored in the 12 weeks shown." in page
    else:
        assert "to page.html: 2 open events," in result.stdout
        assert all(s in page for s in planted)
        assert "3 events in the 12 weeks" in page and "Sev 3 2" in page
        assert "1 event restored in 12 weeks" in page


def test_a_page_path_that_is_a_folder_is_one_line_naming_the_setting(run: Run, tmp_path: Path, example: Path) -> None:
    """[publish] path naming a folder stops publish with one line naming the path as written in tracker.toml and
    the setting it came from (exit 2), never a temporary file; nothing is left behind."""
    with (tmp_path / "tracker.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[publish]\npath = "status"\n')
    (tmp_path / "status").mkdir()
    result = run("publish")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: cannot write the status page to status (tracker.toml [publish] path): it is a folder\n"
    )
    assert list(tmp_path.glob("*.tmp")) == [] and list((tmp_path / "status").iterdir()) == []


def test_an_out_path_below_a_file_is_one_line_naming_the_option(run: Run, tmp_path: Path, example: Path) -> None:
    """--out below something that is a file, not a folder, is one line naming the path as typed and --out (exit
    2), never a temporary file."""
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = run("publish", "--out", "notes.txt/page.html")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: cannot write the status page to notes.txt/page.html (--out): notes.txt is a file, not a folder\n"
    )
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


# Each label of the weekly chart's legend: its box and the chart's (the SVG's) box, in CSS px.
_LEGEND_JS = """
(names) => {
  const svg = document.querySelector('svg[aria-labelledby^="weekly"]');
  const chart = svg.getBoundingClientRect();
  const labels = [...svg.querySelectorAll('text')].filter((t) => names.includes(t.textContent.trim()));
  return {
    chart: [chart.left, chart.top, chart.right, chart.bottom],
    labels: labels.map((t) => {
      const r = t.getBoundingClientRect();
      return [t.textContent.trim(), r.left, r.top, r.right, r.bottom];
    }),
  };
}
"""


def _tell_the_customer_of_every_severity(workbook: Path, wording: dict[str, str]) -> None:
    """Edit the Severities sheet as a team would in Excel: every severity notifies the customer, in its words."""
    import openpyxl

    book = openpyxl.load_workbook(workbook)
    sheet = book["Severities"]
    headers = {str(c.value): c.column for c in sheet[1]}
    for row in range(2, sheet.max_row + 1):
        name = sheet.cell(row, headers["Name"]).value
        if name in wording:
            sheet.cell(row, headers["Audiences Notified"]).value = "leadership, technical, customer"
            sheet.cell(row, headers["Customer Wording"]).value = wording[name]
    book.save(workbook)


def test_every_legend_label_of_the_weekly_chart_is_inside_it_at_375_px(
    run: Run, tmp_path: Path, history: dict[str, str]
) -> None:
    """With all four severities told to the customer in its longer words, the weekly chart's legend wraps: on the
    customer page at 375 px (and at 1280 px) every label is drawn whole inside the chart, none cut off."""
    from tests.browser import WIDTHS, Browser

    wording = {
        "Sev 1": "Major outage",
        "Sev 2": "Service disruption",
        "Sev 3": "Minor disruption",
        "Sev 4": "Planned maintenance",
    }
    _tell_the_customer_of_every_severity(tmp_path / "events.xlsx", wording)
    assert run("publish", "--audience", "customer", "--out", "customer.html").exit_code == 0
    names = list(wording.values())
    with Browser() as browser:
        for width in WIDTHS:
            seen = browser.open(tmp_path / "customer.html", width=width, measure=f"() => ({_LEGEND_JS})({names})")
            assert seen.errors == [] and not seen.overflows
            left, top, right, bottom = seen.measured["chart"]
            assert sorted(label[0] for label in seen.measured["labels"]) == sorted(names)
            boxes = seen.measured["labels"]
            for name, x1, y1, x2, y2 in boxes:
                assert left <= x1 and x2 <= right and top <= y1 and y2 <= bottom, (width, name, x2, right)
            for i, (one, *a) in enumerate(boxes):  # and no two labels overlap
                for two, *b in boxes[i + 1 :]:
                    assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (width, one, two)


def test_no_users_affected_is_not_shown_as_about_0(run: Run, tmp_path: Path, example: Path, event_id: str) -> None:
    """Users Affected 0 (nobody counted) says nothing on the page rather than 'about 0'."""
    assert run("update", event_id, "--note", "recount", "--set", "users_affected=0").exit_code == 0
    assert run("publish").exit_code == 0
    assert "about 0" not in _page(tmp_path)


def test_an_event_the_customer_heard_of_stays_on_its_page_after_a_downgrade(
    run: Run, tmp_path: Path, example: Path, event_id: str
) -> None:
    """The customer had the Sev 1's email; lowered to Sev 3 (which notifies technical only) it stays on the
    customer's page and in its report while it lasts, as its emails do (sticky audiences)."""
    assert run("notify", event_id).exit_code == 0
    assert run("update", event_id, "--note", "Contained", "--severity", "Sev 3").exit_code == 0
    assert run("publish", "--audience", "customer").exit_code == 0
    assert event_id in _page(tmp_path, "status/index-customer.html")
    figures = json.loads(run("report", "--audience", "customer", "--json").stdout)
    assert event_id in json.dumps(figures)


def test_also_for_keeps_the_customer_page_beside_leadership(
    run: Run, tmp_path: Path, example: Path, event_id: str
) -> None:
    """[publish] also_for = ["customer"]: publish, and notify with after_notify, keep both pages current; --json
    lists the other page under "also"."""
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + '\n[publish]\nafter_notify = true\nalso_for = ["customer"]\n')
    published = run("publish")
    assert published.exit_code == 0, published.stderr
    assert "for leadership to status/index.html" in published.stdout
    assert "for customer to status/index-customer.html" in published.stdout
    data = json.loads(run("publish", "--json").stdout)
    assert data["audience"] == "leadership" and [p["audience"] for p in data["also"]] == ["customer"]
    customer = tmp_path / "status" / "index-customer.html"
    customer.unlink()
    assert run("notify", event_id).exit_code == 0
    assert event_id in customer.read_text(encoding="utf-8")
    bad = tmp_path / "tracker.toml"
    bad.write_text(bad.read_text().replace('also_for = ["customer"]', 'also_for = ["everyone"]'))
    refused = run("publish")
    assert refused.exit_code == 2 and "[publish] also_for must list audiences" in refused.stderr


def test_an_audience_emailed_while_the_workbook_was_busy_keeps_the_event_on_its_page(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """The customer was emailed about the Sev 1 while the workbook was open in Excel (the log waits in the journal),
    and whoever had it open lowered the event to Sev 3 (which tells technical only) before closing it: the customer's
    status page still shows the event, as the customer's emails go on doing (the page read the sheet alone and
    dropped it until a sync)."""
    import openpyxl

    lock = tmp_path / f"~${example.name}"
    lock.write_bytes(b"\x05Jamie" + b"\x00" * 50)
    assert run("notify", event_id).exit_code == 1  # sent; the log is kept in the journal
    lock.unlink()
    book = openpyxl.load_workbook(example)
    headers = {cell.value: cell.column for cell in book["Events"][1]}
    book["Events"].cell(2, headers["Severity"]).value = "Sev 3"
    book.save(example)
    assert run("publish", "--audience", "customer", "--out", "page.html").exit_code == 0
    assert "Email outage - all sites" in (tmp_path / "page.html").read_text(encoding="utf-8")


_STALE = "may be out of date"


def _set_cadence(workbook: Path, minutes: int) -> None:
    """Every severity's Update Every set to `minutes`, as a team would in Excel."""
    import openpyxl

    book = openpyxl.load_workbook(workbook)
    sheet = book["Severities"]
    column = next(c.column for c in sheet[1] if c.value == "Update Every (min)")
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row, column).value = minutes
    book.save(workbook)


@pytest.mark.parametrize(
    ("cadence", "fresh", "stale", "words"),
    [
        # the example: Sev 1 every 30 min, the quickest, so the page warns after an hour
        (
            None,
            timedelta(minutes=50),
            timedelta(hours=5),
            "This page was last updated 5 hours ago and may be out of date.",
        ),
        # every severity every 4 hours: after 8
        (
            240,
            timedelta(hours=7, minutes=50),
            timedelta(days=3, hours=1),
            "last updated 3 days ago and may be out of date.",
        ),
    ],
)
def test_an_old_page_tells_its_reader_from_the_readers_own_clock(
    run: Run,
    tmp_path: Path,
    example: Path,
    cadence: int | None,
    fresh: timedelta,
    stale: timedelta,
    words: str,
) -> None:
    """The page is a file: read long after it was published it says so itself, from the browser's clock (never the
    machine's that published it). It warns once it is older than twice the quickest update cadence of the severities
    its audience is told of: a page a little younger says nothing, and says it once the reader's clock passes that
    age while the page stays open (its check runs every minute); an older one says how old at once."""
    from tests.browser import Browser
    from tests.suite_clock import NOW as PUBLISHED

    if cadence is not None:
        _set_cadence(example, cadence)
    assert run("publish").exit_code == 0
    assert run("publish", "--audience", "customer").exit_code == 0
    with Browser() as browser:
        for page in ("index.html", "index-customer.html"):
            seen = browser.open(tmp_path / "status" / page, clock=PUBLISHED + fresh)
            assert seen.errors == [] and _STALE not in seen.text, (page, seen.text[:300])
            later = browser.open(tmp_path / "status" / page, clock=PUBLISHED + fresh, then=timedelta(minutes=11))
            assert later.errors == [] and _STALE in later.text, page
            seen = browser.open(tmp_path / "status" / page, clock=PUBLISHED + stale)
            assert seen.errors == [] and words in seen.text, (page, seen.text[:300])
            assert seen.text.index(words) < seen.text.index("Right now")  # at the top, before anything it may spoil


def test_the_customer_never_sees_that_an_update_is_overdue(
    run: Run, tmp_path: Path, example: Path, event_id: str, at: Callable[[datetime], None]
) -> None:
    """Near and past the example event's Next Update Due, the leadership page tags it 'Update due soon', then
    'Update overdue' with the time it was due; the customer's page shows neither tag (how late the team is stays
    internal) and, once past, not the missed time either; a next update still ahead is shown to the customer, as the
    promise its emails make."""
    due = json.loads(run("show", event_id, "--json").stdout)["event"]["next_update_due"]
    due_at = datetime.fromisoformat(due.replace("Z", "+00:00"))
    for moment, tag in (
        (due_at - timedelta(minutes=2), "Update due soon"),
        (due_at + timedelta(minutes=20), "Update overdue"),
    ):
        at(moment)
        assert run("publish").exit_code == 0 and run("publish", "--audience", "customer").exit_code == 0
        leadership, customer = (
            _page(tmp_path, p).split("</head>", 1)[1] for p in (INDEX, "status/index-customer.html")
        )
        assert tag in leadership and "Next update" in leadership
        assert event_id in customer and "Update due" not in customer and "overdue" not in customer.casefold()
        assert ("Next update" in customer) == (moment < due_at)


def test_the_footer_says_whose_page_it_is_in_plain_words(run: Run, tmp_path: Path, example: Path) -> None:
    """The footer names the page's audience in a sentence that reads ('This is the customer page: it shows only what
    that audience may see'), not 'what customer may read'."""
    assert run("publish", "--audience", "customer").exit_code == 0
    footer = _page(tmp_path, "status/index-customer.html").split("<footer>", 1)[1]
    words = " ".join(footer.split())
    assert "This is the customer page: it shows only what that audience may see" in words
    assert "what customer may read" not in words


def _rename_severity(workbook: Path, old: str, new: str) -> None:
    """Rename a severity on the Severities sheet only, as someone tidying it in Excel would (events keep the old)."""
    import openpyxl

    book = openpyxl.load_workbook(workbook)
    sheet = book["Severities"]
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row, 1).value == old:
            sheet.cell(row, 1).value = new
    book.save(workbook)


def test_a_severity_renamed_on_its_sheet_is_said_not_silently_dropped(
    run: Run, tmp_path: Path, example: Path, event_id: str
) -> None:
    """'Sev 1' renamed 'Severity 1' on the Severities sheet: no Audiences Notified says whether the customer is told
    of the example's Sev 1 events any more. The customer's page and report leave out the one the customer never had
    an email about and keep the one it had (sticky), and publish and report each say so on stderr, naming the event,
    its cell, the severity typed and the names the sheet has; the customer's JSON does not name the event left out;
    leadership (internal, shown every event) gets no such warning; validate names both cells."""
    opened = run("open", "--title", "VPN down at HQ", "--severity", "Sev 1", "--service", "VPN", "--impact", "No VPN")
    emailed = opened.stdout.strip().split()[0]
    assert run("notify", emailed).exit_code == 0
    _rename_severity(example, "Sev 1", "Severity 1")
    typed = "(Severity) 'Sev 1' is not on the Severities sheet (Severity 1, Sev 2, Sev 3, Sev 4): "
    for command, where in (
        (["publish", "--audience", "customer"], "status page"),
        (["report", "--audience", "customer", "--until", "+1h", "--json"], "report"),
    ):
        result = run(*command)
        assert result.exit_code == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
        assert warnings == [
            f"warning: {event_id}: Events!C2 {typed}no Audiences Notified says whether customer is told of it, so the "
            f"customer {where} leaves the event out; correct the event's severity, or the Severities sheet if it was "
            "renamed there (tracker validate lists every such cell)",
            f"warning: {emailed}: Events!C3 {typed}the customer {where} shows the event, since customer had an email "
            "about it, but names its severity as typed, without a Customer Wording; correct the event's severity, or "
            "the Severities sheet if it was renamed there (tracker validate lists every such cell)",
        ]
    page = _page(tmp_path, "status/index-customer.html")
    assert emailed in page and event_id not in page
    figures = run("report", "--audience", "customer", "--until", "+1h", "--json").stdout
    assert emailed in figures and event_id not in figures
    for command in (["publish"], ["report", "--audience", "leadership", "--until", "+1h"]):
        result = run(*command)
        assert result.exit_code == 0 and "warning" not in result.stderr, result.stderr
    checked = run("validate")
    assert "Events!C2 (Severity): 'Sev 1' is not listed on the Severities sheet" in checked.stdout
    assert "Events!C3 (Severity): 'Sev 1' is not listed on the Severities sheet" in checked.stdout


@pytest.mark.parametrize(
    ("template", "told"),
    [
        ("<h1>{{ page.title }</h1>", "page template {where}, line 1: unexpected '}'"),
        ("{% include 'status/none.html.j2' %}", "no page template status/none.html.j2"),
        ("{{ page.title.upper() }} {{ 1 / 0 }}", "page template status/page.html.j2 failed: ZeroDivisionError"),
        (
            "<p>Status \u2013 {{ page.title }}</p>".encode("cp1252"),
            "page template status/page.html.j2 failed: UnicodeDecodeError",
        ),
    ],
)
def test_a_team_page_template_that_cannot_be_made_is_one_line_naming_it(
    run: Run, tmp_path: Path, example: Path, template: str | bytes, told: str
) -> None:
    """The team's own status page template ([mail] templates) with a mistake in it: publish stops with one line
    naming the template (and the line) and writes no page, though the command compiles the template ahead, while the
    workbook parses."""
    folder = tmp_path / "templates" / "status"
    folder.mkdir(parents=True)
    (folder / "page.html.j2").write_bytes(template if isinstance(template, bytes) else template.encode())
    toml = tmp_path / "tracker.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[mail]\n", '[mail]\ntemplates = "templates"\n', 1))
    result = run("publish")
    assert result.exit_code == 2, result.stderr
    assert told.replace("{where}", str(folder / "page.html.j2")) in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "status" / "index.html").exists()


def test_a_team_page_template_is_the_page(run: Run, tmp_path: Path, example: Path, event_id: str) -> None:
    """A team's own status page template is the one the page is made from (compiled ahead, while the workbook
    parses), with the page's facts in it."""
    folder = tmp_path / "templates" / "status"
    folder.mkdir(parents=True)
    (folder / "page.html.j2").write_text(
        "<p>{{ page.title }}: {% for e in page.open_events %}{{ e.id }} {% endfor %}</p>\n", encoding="utf-8"
    )
    toml = tmp_path / "tracker.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[mail]\n", '[mail]\ntemplates = "templates"\n', 1))
    assert run("publish").exit_code == 0
    assert (tmp_path / "status" / "index.html").read_text(encoding="utf-8").endswith(f": {event_id} </p>\n")


def test_a_team_page_template_added_while_tracker_runs_is_used_for_the_next_page(
    tmp_path: Path, example: Path, event_id: str
) -> None:
    """One configuration for many pages (`watch --publish`, tracker.api): a team's own page template put in place
    after a page was made is the one the next page is made from, though the first was compiled ahead."""
    from tracker.config import load_config
    from tracker.window.publish import publish_status
    from tracker.window.status_render import prepare_page
    from tracker.workbook.opening import read_tracker
    from tracker.workbook.schema import load_schema

    toml = tmp_path / "tracker.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[mail]\n", '[mail]\ntemplates = "templates"\n', 1))
    config = load_config(toml)
    tracker = read_tracker(example, load_schema(config.schema_dir))
    now = suite_clock.NOW  # the moment the example was made at, on the clock this run is on
    prepare_page(config)
    publish_status(config, tracker, now)
    page = tmp_path / "status" / "index.html"
    assert event_id in page.read_text(encoding="utf-8") and "<!doctype" in page.read_text(encoding="utf-8").lower()
    folder = tmp_path / "templates" / "status"
    folder.mkdir(parents=True)
    (folder / "page.html.j2").write_text("<p>ours: {{ page.open_events[0].id }}</p>\n", encoding="utf-8")
    prepare_page(config)
    publish_status(config, tracker, now)
    publish_status(config, tracker, now)
    assert page.read_text(encoding="utf-8") == f"<p>ours: {event_id}</p>\n"

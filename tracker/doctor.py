"""`tracker doctor`: what an administrator runs first on a real tenant (or a new machine). Each step is one line:
ok, a problem (with the exact permission, consent, right or setting to change), or skipped (and why).

Nothing here changes the tracker: a write test (`write=True`) writes a scratch file beside the workbook and removes
it; a test email (`send_to`) and a test card (`teams`) go only when asked for.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from tracker.config import Config
from tracker.errors import TrackerError
from tracker.microsoft365.auth import app_only, token_identity, tokens_for
from tracker.microsoft365.remote import Remote
from tracker.microsoft365.sitepage import SitePages
from tracker.sending import teams
from tracker.sending.mail import Outgoing, Recipient, build_message, parse_sender
from tracker.sending.mailbox import GraphMailbox, IntakeMemory, open_source
from tracker.sending.transports import mail_permission, open_transport
from tracker.store.backends import journal_for
from tracker.store.read_cache import cache_dir
from tracker.times import format_time, utcnow

OK, PROBLEM, SKIPPED = "ok", "problem", "skipped"
APP_ONLY = ("certificate",)  # sign-in kinds that act as the app itself (application permissions)
# Microsoft documents the Excel workbook calls tracker makes in write_mode "workbook-api" (table rows add, range
# update, createSession) with "Application: Not supported" in their permissions tables, e.g.
# https://learn.microsoft.com/en-us/graph/api/tablerowcollection-add (Permissions).
UNDOCUMENTED_APP_EXCEL = (
    'write_mode "workbook-api" with app-only sign-in (auth = "certificate"): Microsoft documents the Excel '
    'workbook API as not supported with application permissions; set write_mode = "upload" for this sign-in, or '
    'sign in as a person (auth = "device-code") to keep workbook-api'
)


@dataclass(frozen=True)
class Step:
    """One line of the doctor's report."""

    name: str
    status: str  # ok | problem | skipped
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        """The stable JSON form (README, "tracker doctor")."""
        return asdict(self)


@dataclass(frozen=True)
class Options:
    """What the administrator asked for beyond the read-only checks."""

    write: bool = False  # a harmless write test (a scratch file beside the workbook, removed)
    send_to: str = ""  # a test email to this address through the configured transport
    teams: bool = False  # a test card to the [teams] channel


def examine(config: Config, options: Options, open_store: Callable[[Config], Any]) -> list[Step]:
    """Every step, in the order an administrator fixes things: settings, this machine, sign-in, the workbook,
    writing, the status page, mail, Teams. `open_store` opens the configured store (the CLI's, with its logging)."""
    steps = [_settings(config), _clock(config), *_folders(config)]
    if config.sharepoint is not None:
        steps += [_sign_in(config), _write_mode(config)]
    steps.append(_read(config, open_store))
    steps.append(_write_test(config) if options.write else Step("write test", SKIPPED, "ask for it with --write"))
    steps.append(_status_page(config))
    steps.append(_mail(config, options.send_to))
    steps.append(_teams(config, options.teams))
    if config.intake.folder is not None or config.intake.mailbox:
        steps.append(_intake(config))
    return steps


def shown(path: Path) -> str:
    """A path as the administrator typed or knows it: relative to the current folder when inside it, the state
    folder by its variable when TRACKER_STATE_DIR sets it, else with ~ for the home folder."""
    path = Path(os.path.abspath(path))
    for base, name in ((Path.cwd(), "this folder"), (os.environ.get("TRACKER_STATE_DIR"), "$TRACKER_STATE_DIR")):
        if base and path.is_relative_to(os.path.abspath(base)):
            relative = path.relative_to(os.path.abspath(base))
            if relative == Path("."):
                return name
            return str(relative) if name == "this folder" else f"{name}/{relative}"
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def _attempt(name: str, action: Callable[[], str], fix: str = "") -> Step:
    """Run one check: ok with what it found, or a problem with the error tracker would have shown (its own words
    name the permission or setting) and `fix`."""
    try:
        return Step(name, OK, action())
    except (TrackerError, OSError) as exc:
        return Step(name, PROBLEM, str(exc) or type(exc).__name__, fix)


def _settings(config: Config) -> Step:
    where = shown(config.path) if config.path else "defaults (no tracker.toml)"
    if config.sharepoint is None:
        kind = f"local workbook {shown(config.workbook_path)}"
    else:
        kind = f"SharePoint workbook {config.sharepoint.file_url} ({config.sharepoint.cloud.name} cloud)"
    return Step("settings", OK, f"{where}: {kind}; mail through {config.mail.transport}")


def _clock(config: Config) -> Step:
    now = utcnow()
    shown = format_time(now, tz=config.display.tz, fmt=config.display.time_format)
    rehearsal = os.environ.get("TRACKER_NOW")
    if rehearsal:
        return Step(
            "clock", PROBLEM, f"rehearsing at TRACKER_NOW={rehearsal} ({shown})", "unset TRACKER_NOW for real work"
        )
    return Step("clock", OK, f"now {shown} (display timezone {config.display.timezone})")


def _folders(config: Config) -> list[Step]:
    """The folders tracker writes on this machine: its state (journal, send ledger), the read cache, the outbox."""

    journal = journal_for(config).path.parent  # a local workbook's is beside it: writing there is writing it
    folders = [("state folder", journal if config.sharepoint is None else journal.parent.parent)]
    if config.sharepoint is not None:
        folders.append(("cache folder", cache_dir()))  # the last workbook read, kept until its ETag changes
    if config.mail.transport == "outbox":
        folders.append(("outbox folder", config.root / config.mail.outbox))
    return [_attempt(name, _writable_check(folder)) for name, folder in folders]


def _writable_check(folder: Path) -> Callable[[], str]:
    return lambda: _writable(folder)


def _writable(folder: Path) -> str:
    """Whether tracker may write in `folder` (or create it: the nearest folder that exists is tried, none made)."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    with tempfile.NamedTemporaryFile(dir=existing, prefix=".tracker-doctor-"):
        pass
    if existing == folder:
        return f"{shown(folder)} is writable"
    return f"{shown(folder)} can be created (in {shown(existing)})"


def _sign_in(config: Config) -> Step:

    settings = config.sharepoint
    assert settings is not None

    def sign_in() -> str:
        claims = token_identity(tokens_for(settings).sharepoint()["access_token"])
        who = claims.get("upn") or claims.get("preferred_username") or claims.get("app_displayname") or "the token"
        audience = str(claims.get("aud") or "")
        if audience.startswith("http") and urlsplit(audience).hostname != settings.host:  # e.g. a Graph token
            raise TrackerError(
                f"the SharePoint token is for {audience}, not {settings.origin}: check [sharepoint] cloud and site_url"
            )
        return f"{settings.auth} as {who}" + (f" for {audience}" if audience else "")

    return _attempt(
        "sign-in", sign_in, "run `tracker login` (device code) or check the certificate and app registration"
    )


def _write_mode(config: Config) -> Step:
    settings = config.sharepoint
    assert settings is not None
    undocumented = settings.undocumented(app_only(settings))  # the warning every command gives: one rule
    if undocumented:
        return Step("write mode", PROBLEM, undocumented, 'write_mode = "upload", or auth = "device-code"')
    kind = "a person (delegated)" if settings.auth == "device-code" else f"sign-in {settings.auth}"
    return Step("write mode", OK, f"{settings.write_mode} with {kind}: a configuration Microsoft documents")


def _read(config: Config, open_store: Callable[[Config], Any]) -> Step:
    def read() -> str:
        tracker = open_store(config).read()
        events = tracker.sheet("Events")
        count = len(events.rows) if events.present else 0
        if config.sharepoint is None:
            return f"{shown(config.workbook_path)}: read, {count} event{'s' * (count != 1)}"
        remote = Remote(config.sharepoint, tokens_for(config.sharepoint))
        props = remote.properties()
        found = ""
        if config.sharepoint.write_mode == "workbook-api":  # the Excel service needs its Graph drive item
            drive, item = remote.drive_item()
            found = f"; in Graph drive {drive}, item {item}"
        size = int(props.get("Length") or 0)
        return (
            f"{config.sharepoint.file_url}: read, {count} event{'s' * (count != 1)}, {size:,} bytes, "
            f"version {props.get('ETag', '?')}{found}"
        )

    return _attempt("workbook", read, "`tracker validate` says more about the workbook itself")


def _write_test(config: Config) -> Step:
    """A scratch copy beside the workbook, written and removed: never the tracker itself."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    if config.sharepoint is None:
        return _attempt("write test", lambda: _local_scratch(config.workbook_path, stamp))
    settings = config.sharepoint

    def remote_scratch() -> str:

        folder, _, name = settings.path.rpartition("/")
        scratch = f".tracker-doctor-{stamp}-{name}"
        remote = Remote(replace(settings, path=f"{folder}/{scratch}"), tokens_for(settings))
        web = f"{settings.site_url}/_api/web"
        add = f"{web}/getFolderByServerRelativePath(DecodedUrl='{quote(folder.replace(chr(39), chr(39) * 2))}')"
        remote.request(
            "sharepoint",
            "POST",
            f"{add}/Files/add(url='{quote(scratch)}',overwrite=true)",
            data=b"tracker doctor: a scratch file, removed at once",
            idempotent=True,
            what="writing a scratch file beside the workbook",
            permission="write access to the library (Sites.ReadWrite.All, or Sites.Selected with write)",
        )
        headers = {"X-HTTP-Method": "DELETE", "If-Match": "*"}  # REST delete: POST with X-HTTP-Method
        remote.request("sharepoint", "POST", remote.file_url(), headers=headers, what="removing the scratch file")
        return f"wrote and removed a scratch file beside {name} in {folder}"

    return _attempt("write test", remote_scratch, "the signed-in account or app needs write access to the library")


def _local_scratch(workbook: Path, stamp: str) -> str:
    scratch = workbook.with_name(f".tracker-doctor-{stamp}-{workbook.name}")
    scratch.write_bytes(b"tracker doctor: a scratch file, removed at once")
    scratch.unlink()
    return f"wrote and removed a scratch file beside {workbook.name}"


def _status_page(config: Config) -> Step:
    publish = config.publish
    if publish.to == "sharepoint":
        return _attempt("status page", lambda: _site_pages(config), "grant Sites.ReadWrite.All for Microsoft Graph")
    page = publish.path or config.root / "status" / "index.html"
    return _attempt("status page", _writable_check(page.parent))


def _site_pages(config: Config) -> str:
    """The status page as a site page: the site, its page list and its Site Assets read (nothing made), and the
    Graph token's permission: creating and updating pages documents Sites.ReadWrite.All and nothing less
    (graph/api/sitepage-create, Permissions)."""
    settings = config.sharepoint
    assert settings is not None
    tokens = tokens_for(settings)
    remote = Remote(settings, tokens)
    pages = SitePages(remote)
    site = pages.site_id
    what = "reading the site's pages"
    remote.graph("GET", f"/sites/{site}/pages/microsoft.graph.sitePage?$select=id,name&$top=1", what=what,
                 permission="site-page")  # fmt: skip
    drives = remote.graph("GET", f"/sites/{site}/drives?$select=id,webUrl,system", what="listing the site's libraries")
    assets = any(str(d.get("webUrl", "")).rstrip("/").lower().endswith("/siteassets") for d in drives.get("value", []))
    claims = token_identity(tokens.graph()["access_token"])
    granted = set(claims.get("roles") or ()) | set(str(claims.get("scp") or "").split())
    if granted and "Sites.ReadWrite.All" not in granted:
        raise TrackerError(
            f"the Graph token may read the site's pages but not make or update {config.publish.page_name}: it needs "
            "Sites.ReadWrite.All for Microsoft Graph (Microsoft documents nothing less for site pages)"
        )
    library = "Site Assets found" if assets else "no Site Assets library yet (the first publish makes one)"
    return f"{config.publish.page_name} in {settings.site_url}: the site's pages are readable; {library}"


def _mail(config: Config, send_to: str) -> Step:

    transport = config.mail.transport

    def check() -> str:
        if not config.mail.sender:
            raise TrackerError("[mail] sender is not set: the emails would have no From")
        granted = _graph_mail_permission(config) if transport == "graph" else ""
        with open_transport(config) as opened:  # SMTP: connects, STARTTLS and signs in; nothing sent
            if send_to:
                opened.send_messages([_test_message(config, send_to)])
                return f"sent a test email to {send_to} through {transport}"
        said = {"smtp": "connected and signed in", "graph": f"ready ({granted})", "outbox": "writes .eml files"}
        return f"{transport}: {said.get(transport, 'ready')} as {config.mail.sender}" + (
            "" if transport == "outbox" else "; --send-test ADDRESS sends one"
        )

    return _attempt("mail", check)


def _graph_mail_permission(config: Config) -> str:
    """What the Graph token may do with mail, from its claims (`mail_permission` words what each sign-in needs:
    https://learn.microsoft.com/en-us/graph/outlook-send-mail-from-other-user). Exchange rights on a shared
    mailbox are not in the token: they show when a message goes (`--send-test`)."""
    assert config.sharepoint is not None
    claims = token_identity(tokens_for(config.sharepoint).graph()["access_token"])
    mailbox = str(config.mail.graph.get("mailbox", "")) if isinstance(config.mail.graph, dict) else ""
    needs = mail_permission(config.sharepoint.auth, mailbox, claims)
    roles, scopes = set(claims.get("roles") or ()), set(str(claims.get("scp") or "").split())
    if not roles and not scopes:
        return f"the token does not say its permissions; it needs {needs}"
    granted = (
        "Mail.Send" in roles
        if "scp" not in claims
        else ("Mail.Send.Shared" if "Shared" in needs else "Mail.Send") in scopes
    )
    if not granted:
        raise TrackerError(f"the sign-in cannot send as {mailbox}: it needs {needs}")
    return f"the token has {'Mail.Send.Shared' if 'Shared' in needs else 'Mail.Send'}; it needs {needs}"


def _test_message(config: Config, address: str) -> Any:

    subject = "tracker doctor: test email"
    text = f"This is a test from `tracker doctor` at {utcnow():%Y-%m-%d %H:%MZ}. Nothing needs doing.\n"
    recipient = Recipient(address, "", "To", "")
    sender = parse_sender(config.mail.sender)
    message = build_message(sender, [recipient], (subject, text, None), about=("-", "doctor", "test"), sent_at=utcnow())
    return Outgoing("-", "doctor", "test", "doctor", subject, text, "", [recipient], message)


def _teams(config: Config, post: bool) -> Step:

    if config.teams is None:
        return Step("teams", SKIPPED, "no [teams] section")

    def check() -> str:
        channel = teams.teams_settings(config)
        assert channel is not None
        if not post:
            return f"webhook URL set ({config.teams.webhook_env if config.teams else ''}); --teams-test posts a card"
        problem = teams.post(
            channel, teams.card("tracker doctor: test card", teams.card_blocks("Nothing needs doing."))
        )
        if problem:
            raise TrackerError(problem)
        return "the flow took a test card (see the channel, or the flow's run history if it does not show)"

    return _attempt("teams", check, 'the flow\'s trigger must allow "Anyone" (README, Teams)')


def _intake(config: Config) -> Step:
    """[intake]: the .eml folder is there (and how many of its messages are new), or the team mailbox's folder
    answers the messages delta query this sign-in makes (one request from this moment: nothing is taken or kept)."""

    def check() -> str:
        source = open_source(config)
        if isinstance(source, GraphMailbox):
            return source.check(format_time(utcnow(), fmt="%Y-%m-%dT%H:%M:%SZ"))
        new = source.fetch(IntakeMemory(journal_for(config).companion("intake")))
        return f"{source.where}: {len(new)} message(s) not taken in yet"

    return _attempt("intake", check)

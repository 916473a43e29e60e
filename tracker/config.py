"""tracker.toml: finding it, reading it, and the defaults when a key is absent."""

from __future__ import annotations

import getpass
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracker.config_place import CONFIG_NAME, config_file
from tracker.errors import ConfigError
from tracker.sharepoint_config import SharePointSettings, sharepoint_settings

DEFAULT_TIME_FORMAT = "%d %b %Y %H%MZ"
LOCAL_TIME_FORMAT = "%d %b %Y %H%M %Z"  # the default when the display timezone is not UTC
DEFAULT_INTERNAL = ("leadership", "technical", "security")


DEFAULT_LOCK_TIMEOUT = 60.0  # [workbook] lock_timeout: how long a command waits for another's lock


@dataclass(frozen=True)
class Display:
    """How times are shown to people (storage is always UTC)."""

    timezone: str = "UTC"
    time_format: str = DEFAULT_TIME_FORMAT

    @property
    def tz(self) -> ZoneInfo:
        """The display timezone as a tzinfo."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class ClockSettings:
    """[clock]: when an SLA counts as at risk, how early reminders go, when the process is due for review."""

    at_risk: float = 0.75  # share of an SLA target after which it is "at risk"
    remind_before: int = 10  # minutes before an update is due that its reminder goes (a severity may say otherwise)
    process_reviewed: date | None = None  # when the event management process was last reviewed
    review_every_months: int = 12
    office_hours: str = ""  # "Mon-Fri 08:00-18:00": out of hours without Roster duty shifts (report_funding)


@dataclass(frozen=True)
class PublishSettings:
    """[publish]: where `tracker publish` puts the status page, for which audience, and when it runs by itself."""

    path: Path | None = None  # the local page (default: status/index.html beside tracker.toml)
    audience: str = "leadership"
    after_notify: bool = False  # republish after each successful notify
    to: str = "local"  # local | sharepoint (default: sharepoint when the workbook is on SharePoint)
    page_name: str = "tracker-status.aspx"
    title: str = "Service status"
    also_for: tuple[str, ...] = ()  # other audiences whose pages publish, after_notify and watch keep beside it

    @property
    def audiences(self) -> tuple[str, ...]:
        """Every audience whose page is kept: the main one first."""
        return (self.audience, *(a for a in self.also_for if a.casefold() != self.audience.casefold()))


DEFAULT_REVIEW_REQUIRED = ("Sev 1", "Sev 2")


@dataclass(frozen=True)
class MailSettings:
    """[mail]: how the emails go out and how they look; paths resolved against tracker.toml's folder."""

    transport: str = "outbox"  # outbox | smtp | graph
    sender: str | None = None  # "Name <address>" as written; tracker.sending.mail.parse_sender checks it
    allowed_domains: tuple[str, ...] = ()  # empty: any
    templates: Path | None = None  # the team's own templates folder, if any
    outbox: Path = Path("outbox")
    preview: Path = Path("preview")
    smtp: dict[str, Any] = field(default_factory=dict)  # [mail.smtp], read by the SMTP transport
    graph: dict[str, Any] = field(default_factory=dict)  # [mail.graph], read by the Graph transport


@dataclass(frozen=True)
class TeamsSettings:
    """[teams]: which messages also go to a Teams channel as cards. The channel's webhook URL is a secret, so it
    stays in the environment variable `webhook_env` names, read when a card is to be posted."""

    webhook_env: str = "TRACKER_TEAMS_WEBHOOK"
    reminders: bool = True
    escalations: bool = True
    audiences: tuple[str, ...] = ()  # casefolded: the outage emails' audiences whose messages are posted too


@dataclass(frozen=True)
class ReviewSettings:
    """[review]: which severities need a held post-incident review before Closed, and where drafts go."""

    required_for: tuple[str, ...] = DEFAULT_REVIEW_REQUIRED  # severity names, as on the Severities sheet
    folder: str = "reviews"  # relative to tracker.toml


@dataclass(frozen=True)
class IntakeSettings:
    """[intake]: how a reported event starts (an Events row typed without an ID, a message to the team mailbox)."""

    severity: str = ""  # the triage severity; empty: the last (least severe) row of the Severities sheet
    category: str = "outage"
    folder: Path | None = None  # a folder of .eml files standing in for the team mailbox (the embedded default)
    mailbox: str = ""  # the team mailbox read through Microsoft Graph (Mail.Read on it)
    mail_folder: str = "inbox"  # the mailbox folder whose new messages become events


@dataclass(frozen=True)
class Config:
    """Settings read from tracker.toml; paths are resolved against its folder."""

    path: Path | None
    root: Path
    workbook_path: Path
    backups: int = 5
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    schema_dir: Path | None = None
    sharepoint: SharePointSettings | None = None  # [sharepoint], checked and typed: the workbook is on SharePoint
    mail: MailSettings = field(default_factory=MailSettings)
    display: Display = field(default_factory=Display)
    user: str = ""
    user_is_login: bool = False  # `user` is the login name (not set, or set to it): emails would show it
    internal_audiences: tuple[str, ...] = DEFAULT_INTERNAL  # casefolded; every other audience is external
    max_recipients: int = 500  # per message; Exchange Online accepts at most 500
    clock: ClockSettings = field(default_factory=lambda: ClockSettings())
    publish: PublishSettings = field(default_factory=PublishSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    teams: TeamsSettings | None = None  # None: no [teams] section
    intake: IntakeSettings = field(default_factory=IntakeSettings)

    @property
    def excel_service_writes(self) -> bool:
        """Whether writes go through the Excel service (write_mode "workbook-api"), which adds rows above totals."""
        return self.sharepoint is not None and self.sharepoint.write_mode == "workbook-api"

    @property
    def store_name(self) -> str:
        """The store backend this configuration selects."""
        return "sharepoint" if self.sharepoint is not None else "local"


# Every key tracker.toml may hold, by section, with its type: anything else is a mistake worth saying so.
_TEXT, _NUMBER, _WHOLE, _NAMES = "text", "number", "whole number", "list of text"
KNOWN_KEYS: dict[str, dict[str, str]] = {
    "workbook": {"path": _TEXT, "backups": _WHOLE, "lock_timeout": _NUMBER, "schema": _TEXT},
    "sharepoint": {
        "site_url": _TEXT,
        "path": _TEXT,
        "cloud": _TEXT,
        "auth": _TEXT,
        "tenant": _TEXT,
        "client_id": _TEXT,
        "certificate_path": _TEXT,
        "certificate_thumbprint": _TEXT,
        "write_mode": _TEXT,
        "graph_url": _TEXT,
        "token_cache": _TEXT,
        "chunk_size": _WHOLE,
        "timeout": _NUMBER,
        "app_only_excel": "flag",
    },
    "mail": {
        "transport": _TEXT,
        "sender": _TEXT,
        "outbox": _TEXT,
        "preview": _TEXT,
        "allowed_domains": _NAMES,
        "templates": _TEXT,
        "internal_audiences": _NAMES,
        "max_recipients": _WHOLE,
        "smtp": "table",
        "graph": "table",
    },
    "mail.smtp": {
        "host": _TEXT,
        "port": _WHOLE,
        "security": _TEXT,
        "username": _TEXT,
        "password_env": _TEXT,
        "timeout": _NUMBER,
    },
    "mail.graph": {"mailbox": _TEXT},
    "display": {"timezone": _TEXT, "time_format": _TEXT},
    "teams": {"webhook_env": _TEXT, "reminders": "flag", "escalations": "flag", "audiences": _NAMES},
    "clock": {"at_risk": _NUMBER, "remind_before": _WHOLE, "process_reviewed": "date", "review_every_months": _WHOLE}
    | {"office_hours": _TEXT},
    "user": {"name": _TEXT},
    "review": {"required_for": _NAMES, "folder": _TEXT},
    "intake": {"severity": _TEXT, "category": _TEXT, "folder": _TEXT, "mailbox": _TEXT, "mail_folder": _TEXT},
    "publish": {
        "path": _TEXT,
        "audience": _TEXT,
        "after_notify": "flag",
        "to": _TEXT,
        "page_name": _TEXT,
        "also_for": _NAMES,
        "title": _TEXT,
    },
}
# Keys naming files or folders: no NUL or control characters.
_PATH_KEYS = {
    ("workbook", "path"),
    ("workbook", "schema"),
    ("mail", "outbox"),
    ("mail", "preview"),
    ("mail", "templates"),
    ("sharepoint", "certificate_path"),
    ("sharepoint", "token_cache"),
    ("sharepoint", "path"),
    ("review", "folder"),
    ("intake", "folder"),
    ("publish", "path"),
}
_SECRET = re.compile(r"pass(word|wd|phrase)?|secret|token|private[_-]?key|api[_-]?key|credential", re.I)


def check_shape(raw: dict[str, Any], where: str = CONFIG_NAME) -> None:
    """Refuse, with the key and a fix, anything tracker.toml should not hold: secrets (any section, any case),
    unknown sections and keys (with a "did you mean"), values of the wrong type, paths with control characters."""
    _refuse_secrets(raw, [], where)
    for name, value in raw.items():
        if name not in KNOWN_KEYS or "." in name:
            raise ConfigError(f"{where}: unknown section [{name}]{_did_you_mean(name, list(KNOWN_KEYS))}")
        if not isinstance(value, dict):
            raise ConfigError(
                f"{where}: [{name}] must be a table (a [{name}] header with keys under it), not {value!r}"
            )
        _check_section(name, value, where)


def _check_section(section: str, values: dict[str, Any], where: str) -> None:
    known = KNOWN_KEYS[section]
    for key, value in values.items():
        if key not in known:
            elsewhere = [f"[{s}]" for s, keys in KNOWN_KEYS.items() if key in keys]
            hint = f"; {key} belongs in {' or '.join(elsewhere)}" if elsewhere else _did_you_mean(key, list(known))
            raise ConfigError(f"{where}: [{section}] has an unknown key {key!r}{hint}")
        kind = known[key]
        if kind == "table":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{section}] {key} must be a table ([{section}.{key}]), not {value!r}")
            _check_section(f"{section}.{key}", value, where)
            continue
        if not _is(kind, value):
            raise ConfigError(f"{where}: [{section}] {key} must be {_article(kind)}, not {value!r}")
        if (section, key) in _PATH_KEYS and any(not ch.isprintable() for ch in value):
            raise ConfigError(
                f"{where}: [{section}] {key} {value!r} holds a control character; a path cannot contain one"
            )
        if (section, key) == ("user", "name") and any(not ch.isprintable() for ch in value):
            raise ConfigError(f"{where}: [user] name {value!r} holds a control character; write the name alone")
        texts = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        bad = next((ch for text in texts for ch in text if not ch.isprintable()), None)
        if bad is not None:  # a line break in sender makes a header of its own; an escape reaches every email
            raise ConfigError(
                f"{where}: [{section}] {key} {value!r} holds a control character ({bad!r}); "
                "tracker.toml values are one line of printable text"
            )
        if key.endswith("timeout") and not 0 < value <= 86400:
            raise ConfigError(f"{where}: [{section}] {key} must be seconds from 0 to 86400, not {value!r}")


def _is(kind: str, value: Any) -> bool:
    if kind == "date":
        return isinstance(value, str | date)
    if kind == "flag":
        return isinstance(value, bool)
    if kind == _TEXT:
        return isinstance(value, str)
    if kind == _WHOLE:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _article(kind: str) -> str:
    if kind == "flag":
        return "true or false"
    return 'a list of text values, e.g. ["a", "b"]' if kind == _NAMES else f"a {kind}"


def _did_you_mean(word: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word.casefold(), options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(options)})"


_SECRET_HINTS = {
    "mail.smtp": 'Put the password in an environment variable and name it: password_env = "TRACKER_SMTP_PASSWORD"',
    "mail": 'Put the SMTP password in an environment variable and name it under [mail.smtp]: password_env = "TRACKER_SMTP_PASSWORD"',
    "sharepoint": (
        'SharePoint signs in without a secret in the file: auth = "certificate" (certificate_path, '
        'certificate_thumbprint), "device-code", or "token-env" (TRACKER_SHAREPOINT_TOKEN and TRACKER_GRAPH_TOKEN)'
    ),
    "teams": 'Put the webhook URL in an environment variable and name it: webhook_env = "TRACKER_TEAMS_WEBHOOK"',
    "": "Put the secret in an environment variable and name the variable instead (a key ending in _env)",
}


def _refuse_secrets(table: dict[str, Any], path: list[str], where: str) -> None:
    for key, value in table.items():
        if isinstance(value, dict):
            _refuse_secrets(value, [*path, key], where)
            continue
        if _SECRET.search(key) and not key.casefold().endswith("_env") and key.casefold() != "token_cache":
            section = f"[{'.'.join(path)}] " if path else ""
            raise ConfigError(
                f"{where} must not hold secrets: remove {section}{key} (whoever can read the file could read it). "
                + _SECRET_HINTS.get(".".join(path), _SECRET_HINTS[""])
            )


def find_config(start: Path | None = None) -> Path | None:
    """Return tracker.toml in `start` (default: the current folder) or the nearest parent."""
    found = config_file(str(start) if start is not None else None)
    return Path(found) if found is not None else None


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"tracker.toml: [{name}] must be a table, not {value!r}")
    return value


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def load_config(path: str | Path | None = None) -> Config:
    """Read tracker.toml (given, or found from the current folder upwards)."""
    if path is None:
        found = find_config()
        if found is None:
            raise ConfigError(
                f"no {CONFIG_NAME} in {Path.cwd()} or any folder above it; "
                "run `tracker init` here, or pass --config PATH"
            )
        path = found
    path = Path(path)
    if path.is_dir() and (path / CONFIG_NAME).is_file():
        path = path / CONFIG_NAME  # --config FOLDER means the tracker.toml in it
    elif path.is_dir():
        raise ConfigError(
            f"--config {path} is a folder with no {CONFIG_NAME} in it; pass the file, or run `tracker init` there"
        )
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return config_from_dict(raw, path)


def config_from_dict(raw: dict[str, Any], path: Path | None = None) -> Config:
    """Build a Config from parsed TOML; `path` anchors relative paths."""
    check_shape(raw, str(path.name) if path else CONFIG_NAME)
    root = path.resolve().parent if path else Path.cwd()
    wb_path, backups, lock_timeout, schema_dir = _workbook(_section(raw, "workbook"))
    display = _display(_section(raw, "display"))
    user_raw = _section(raw, "user")
    named = user_raw.get("name") or os.environ.get("TRACKER_USER")
    login = _current_user()
    user = str(named or login)
    mail = _section(raw, "mail")
    internal = mail.get("internal_audiences", list(DEFAULT_INTERNAL))
    if not isinstance(internal, list) or not all(isinstance(a, str) and a.strip() for a in internal):
        raise ConfigError(
            f"tracker.toml: [mail] internal_audiences must be a list of audience names, not {internal!r}; "
            'e.g. internal_audiences = ["leadership", "technical"] (every other audience is external)'
        )
    max_recipients = mail.get("max_recipients", 500)
    if not isinstance(max_recipients, int) or isinstance(max_recipients, bool) or not 1 <= max_recipients <= 10000:
        raise ConfigError(
            f"tracker.toml: [mail] max_recipients must be a whole number from 1 to 10000, not {max_recipients!r} "
            "(Exchange Online takes at most 500 recipients per message)"
        )
    clock = _clock(_section(raw, "clock"))
    sharepoint = raw.get("sharepoint")
    if sharepoint is not None and not isinstance(sharepoint, dict):
        raise ConfigError("tracker.toml: [sharepoint] must be a table")
    return Config(
        path=path.resolve() if path else None,
        root=root,
        workbook_path=(root / wb_path).resolve(),
        backups=backups,
        lock_timeout=lock_timeout,
        schema_dir=(root / schema_dir).resolve() if schema_dir else None,
        sharepoint=sharepoint_settings(sharepoint, root) if sharepoint is not None else None,
        mail=_mail(mail, root),
        display=display,
        user=user,
        user_is_login=not named or user.strip().casefold() == login.casefold(),
        internal_audiences=tuple(a.strip().casefold() for a in internal),
        max_recipients=max_recipients,
        clock=clock,
        publish=_publish(_section(raw, "publish"), root, sharepoint is not None),
        review=_review(_section(raw, "review")),
        teams=_teams(raw.get("teams")),
        intake=_intake(_section(raw, "intake"), root),
    )


def _workbook(workbook: dict[str, Any]) -> tuple[str, int, float, str | None]:
    """[workbook]: the file's path, how many backups, how long to wait for a lock, the team's schema folder."""
    wb_path = workbook.get("path", "events.xlsx")
    if not isinstance(wb_path, str) or not wb_path.strip():
        raise ConfigError(f"tracker.toml: [workbook] path must be a file name, not {wb_path!r}")
    backups = workbook.get("backups", 5)
    if not isinstance(backups, int) or isinstance(backups, bool) or backups < 0:
        raise ConfigError(f"tracker.toml: [workbook] backups must be a whole number >= 0, not {backups!r}")
    lock_timeout = workbook.get("lock_timeout", DEFAULT_LOCK_TIMEOUT)
    if not isinstance(lock_timeout, int | float) or lock_timeout <= 0:
        raise ConfigError(f"tracker.toml: [workbook] lock_timeout must be seconds > 0, not {lock_timeout!r}")
    schema_dir = workbook.get("schema")
    return wb_path, backups, float(lock_timeout), schema_dir


def _display(display_raw: dict[str, Any]) -> Display:
    """[display]: the timezone times are shown in, and their format (which must say the zone)."""
    timezone = str(display_raw.get("timezone", "UTC"))
    try:
        utc = _is_utc(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"tracker.toml: [display] timezone {timezone!r} is not a known timezone; "
            "use a name such as UTC, America/New_York or Europe/London"
        ) from None
    # Every time shown says its zone: Z only for UTC, the zone's abbreviation (EST, EDT) otherwise.
    default_format = DEFAULT_TIME_FORMAT if utc else LOCAL_TIME_FORMAT
    display = Display(timezone=timezone, time_format=str(display_raw.get("time_format", default_format)))
    if not utc and "Z" in re.sub(r"%.", "", display.time_format):
        raise ConfigError(
            f"tracker.toml: [display] time_format {display.time_format!r} labels times Z (UTC), but timezone is "
            f"{timezone}: every time would say UTC and be off by the zone's offset. Use %Z for the zone, e.g. "
            f'time_format = "{LOCAL_TIME_FORMAT}" (21 Nov 2026 0932 EST), or leave time_format out'
        )
    sample = datetime(2026, 11, 21, 14, 32).strftime(display.time_format.replace("%%", ""))
    if "%" in sample or not display.time_format.strip():
        raise ConfigError(
            f"tracker.toml: [display] time_format {display.time_format!r} has an unknown % directive; "
            'use strftime codes, e.g. "%d %b %Y %H%MZ" (21 Nov 2026 1432Z) or "%H%MZ" (1432Z)'
        )
    return display


def _mail(section: dict[str, Any], root: Path) -> MailSettings:
    """[mail] as tracker uses it (check_shape has checked each key's type)."""
    templates = section.get("templates")
    sender = section.get("sender")
    return MailSettings(
        transport=str(section.get("transport", "outbox")),
        sender=None if sender is None else str(sender),
        allowed_domains=tuple(section.get("allowed_domains") or ()),
        templates=root / str(templates) if templates else None,
        outbox=root / str(section.get("outbox", "outbox")),
        preview=root / str(section.get("preview", "preview")),
        smtp=dict(section.get("smtp") or {}),
        graph=dict(section.get("graph") or {}),
    )


def _teams(section: Any) -> TeamsSettings | None:
    """[teams] as tracker uses it (check_shape has checked each key's type)."""
    if not isinstance(section, dict):
        return None
    return TeamsSettings(
        webhook_env=str(section.get("webhook_env", "TRACKER_TEAMS_WEBHOOK")),
        reminders=bool(section.get("reminders", True)),
        escalations=bool(section.get("escalations", True)),
        audiences=tuple(str(a).casefold() for a in section.get("audiences", [])),
    )


def _clock(section: dict[str, Any]) -> ClockSettings:
    at_risk = float(section.get("at_risk", 0.75))
    if not 0 < at_risk < 1:
        raise ConfigError(f"tracker.toml: [clock] at_risk must be a share between 0 and 1 (e.g. 0.75), not {at_risk!r}")
    remind = section.get("remind_before", 10)
    if not 0 <= remind <= 1440:
        raise ConfigError(f"tracker.toml: [clock] remind_before must be minutes from 0 to 1440, not {remind!r}")
    months = section.get("review_every_months", 12)
    if not 1 <= months <= 120:
        raise ConfigError(f"tracker.toml: [clock] review_every_months must be from 1 to 120, not {months!r}")
    reviewed = section.get("process_reviewed")
    day = None
    if reviewed is not None:
        try:
            day = date.fromisoformat(str(reviewed))
        except ValueError:
            raise ConfigError(
                f"tracker.toml: [clock] process_reviewed {reviewed!r} is not a date; e.g. process_reviewed = "
                '"2026-01-15"'
            ) from None
    return ClockSettings(at_risk, int(remind), day, int(months), str(section.get("office_hours", "")).strip())


PUBLISH_TARGETS = ("local", "sharepoint")


def _publish(section: dict[str, Any], root: Path, on_sharepoint: bool) -> PublishSettings:
    to = section.get("to", "sharepoint" if on_sharepoint else "local")
    if to not in PUBLISH_TARGETS:
        raise ConfigError(f'tracker.toml: [publish] to must be "local" or "sharepoint", not {to!r}')
    if to == "sharepoint" and not on_sharepoint:
        raise ConfigError(
            'tracker.toml: [publish] to = "sharepoint" needs a [sharepoint] section (the site the page goes to); '
            'add it, or use to = "local"'
        )
    path = section.get("path", "status/index.html")
    if not path.strip() or path.rstrip().endswith(("/", "\\")):
        raise ConfigError(f'tracker.toml: [publish] path must be a file name, e.g. "status/index.html", not {path!r}')
    audience = section.get("audience", "leadership").strip()
    if not audience or audience.casefold() in ("internal", "everyone") or not audience.isprintable():
        raise ConfigError(
            f"tracker.toml: [publish] audience must name one audience of the Distribution sheet, e.g. leadership "
            f"or customer, not {section.get('audience')!r}"
        )
    page_name = section.get("page_name", "tracker-status.aspx").strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,120}\.aspx", page_name):
        raise ConfigError(
            f"tracker.toml: [publish] page_name must be a page file name ending in .aspx (letters, digits, spaces, "
            f'. _ -), e.g. "tracker-status.aspx", not {page_name!r}'
        )
    title = section.get("title", "Service status").strip()
    if not title or not title.isprintable() or len(title) > 120:
        raise ConfigError(
            f"tracker.toml: [publish] title must be one line of up to 120 characters, not {section.get('title')!r}"
        )
    also_for = tuple(str(a).strip() for a in section.get("also_for", []))
    for name in also_for:
        if not name or name.casefold() in ("internal", "everyone") or not name.isprintable():
            raise ConfigError(
                f"tracker.toml: [publish] also_for must list audiences of the Distribution sheet, e.g. "
                f'["customer"], not {section.get("also_for")!r}'
            )
    return PublishSettings(
        path=(root / path).resolve(),
        audience=audience,
        also_for=also_for,
        after_notify=section.get("after_notify", False),
        to=to,
        page_name=page_name,
        title=title,
    )


def _review(section: dict[str, Any]) -> ReviewSettings:
    required = section.get("required_for", list(DEFAULT_REVIEW_REQUIRED))
    if any(not name.strip() for name in required):
        raise ConfigError(
            f"tracker.toml: [review] required_for {required!r} holds an empty name; list severity names as the "
            'Severities sheet has them, e.g. required_for = ["Sev 1", "Sev 2"] (or [] for none)'
        )
    folder = str(section.get("folder", "reviews"))
    if not folder.strip():
        raise ConfigError('tracker.toml: [review] folder must name a folder, e.g. folder = "reviews"')
    return ReviewSettings(tuple(name.strip() for name in required), folder)


def _is_utc(zone: ZoneInfo) -> bool:
    """Whether the zone is UTC all year (UTC, Etc/UTC, GMT...)."""
    return all(datetime(2026, month, 1, 12, tzinfo=zone).utcoffset() == timedelta(0) for month in (1, 4, 7, 10))


def _intake(section: dict[str, Any], root: Path) -> IntakeSettings:
    folder = section.get("folder")
    if folder is not None and not str(folder).strip():
        raise ConfigError('tracker.toml: [intake] folder must name a folder, e.g. folder = "intake"')
    mail_folder = str(section.get("mail_folder", "inbox")).strip()
    if not mail_folder:
        raise ConfigError('tracker.toml: [intake] mail_folder must name a mailbox folder, e.g. mail_folder = "inbox"')
    return IntakeSettings(
        severity=str(section.get("severity", "")).strip(),
        category=str(section.get("category", "outage")).strip() or "outage",
        folder=root / str(folder) if folder is not None else None,
        mailbox=str(section.get("mailbox", "")).strip(),
        mail_folder=mail_folder,
    )

"""[sharepoint] in tracker.toml, checked and typed once when tracker.toml is loaded: the site and workbook, the
Microsoft cloud (its sign-in and Graph endpoints), how tracker signs in and writes. Every mistake is a ConfigError
(exit 2) naming the key."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tracker import __version__
from tracker.errors import ConfigError

DEFAULT_WRITE_MODE = "workbook-api"  # [sharepoint] write_mode when not set

# Every Excel endpoint tracker calls lists Application permissions as "Not supported" (graph/api/table-post-rows,
# range-update, workbook-createsession: delegated Files.ReadWrite only); app-only use is reported to work
# (microsoft-graph-docs-contrib issue 8691), so it is named, not refused: refusing would stop services that work.
APP_ONLY_EXCEL = (
    'write_mode = "workbook-api" with an app-only sign-in ({how}) is undocumented: Microsoft documents the Excel '
    'API in Graph for delegated sign-in only. Set [sharepoint] write_mode = "upload" to keep app-only sign-in, '
    'or auth = "device-code" to keep the Excel service'
)
ACCEPT = "; or app_only_excel = true to accept it as it is"


@dataclass(frozen=True)
class Cloud:
    """Endpoints of one Microsoft cloud."""

    name: str
    authority: str
    graph: str
    sharepoint_suffixes: tuple[str, ...]


CLOUDS = {
    "global": Cloud("global", "https://login.microsoftonline.com", "https://graph.microsoft.com", (".sharepoint.com",)),
    "usgov-high": Cloud(
        "usgov-high", "https://login.microsoftonline.us", "https://graph.microsoft.us", (".sharepoint.us",)
    ),
    "usgov-dod": Cloud(
        "usgov-dod",
        "https://login.microsoftonline.us",
        "https://dod-graph.microsoft.us",
        (".sharepoint-mil.us", ".sharepoint.us"),
    ),
}


AUTH_MODES = ("certificate", "device-code", "token-env")


WRITE_MODES = ("workbook-api", "upload")


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class SharePointSettings:
    """The [sharepoint] section, checked before any request is made."""

    site_url: str
    path: str
    cloud: Cloud
    auth: str
    write_mode: str
    graph_url: str
    tenant: str = ""
    client_id: str = ""
    certificate_path: Path | None = None
    certificate_thumbprint: str = ""
    token_cache: Path | None = None
    timeout: float = 60.0
    chunk_size: int = 4 * 1024 * 1024
    app_only_excel: bool = False  # the administrator accepts workbook-api with app-only sign-in (undocumented)

    @property
    def host(self) -> str:
        """The SharePoint host name, e.g. contoso.sharepoint.com."""
        return urlsplit(self.site_url).hostname or ""

    @property
    def origin(self) -> str:
        """scheme://host[:port] of the site."""
        parts = urlsplit(self.site_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def file_url(self) -> str:
        """The workbook's absolute URL."""
        return self.origin + self.path

    def undocumented(self, app_only: bool | None, *, refused: bool = False) -> str | None:
        """The warning for a set-up Microsoft does not document (app-only sign-in with the Excel service), or None.
        `app_only`: whether the sign-in is app-only (None: not known, e.g. an opaque token in the environment);
        `refused`: the tenant refused it (403), so accepting it is no way out."""
        if not app_only or self.write_mode != "workbook-api" or (self.app_only_excel and not refused):
            return None
        how = "a certificate" if self.auth == "certificate" else "an application token"
        return APP_ONLY_EXCEL.format(how=how) + ("" if refused else ACCEPT)

    @property
    def sharepoint_scope(self) -> str:
        """OAuth scope for SharePoint REST."""
        return f"{self.origin}/.default"

    @property
    def graph_scope(self) -> str:
        """OAuth scope for Microsoft Graph."""
        return f"{self.cloud.graph}/.default"


def _require(section: dict[str, Any], key: str, why: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"tracker.toml: [sharepoint] {key} is required {why}")
    return value.strip()


def _site(section: dict[str, Any]) -> tuple[str, Cloud]:
    """[sharepoint] site_url and cloud: an https site address on that cloud's SharePoint hosts."""
    site_url = _require(section, "site_url", "(e.g. https://contoso.sharepoint.com/sites/ops)").rstrip("/")
    parts = urlsplit(site_url)
    local = parts.hostname in LOCAL_HOSTS
    if parts.scheme not in ("https", "http") or not parts.hostname or (parts.scheme == "http" and not local):
        raise ConfigError(
            f"tracker.toml: [sharepoint] site_url {site_url!r} is not an https:// site address "
            "such as https://contoso.sharepoint.com/sites/ops"
        )
    cloud_name = str(section.get("cloud", "global"))
    if cloud_name not in CLOUDS:
        raise ConfigError(
            f"tracker.toml: [sharepoint] cloud {cloud_name!r} is unknown; use one of: {', '.join(CLOUDS)}"
        )
    cloud = CLOUDS[cloud_name]
    if not local and not parts.hostname.endswith(cloud.sharepoint_suffixes):
        raise ConfigError(
            f"tracker.toml: [sharepoint] site_url host {parts.hostname!r} is not a {cloud_name} SharePoint host "
            f"(*{' or *'.join(cloud.sharepoint_suffixes)}); check site_url and cloud"
        )
    return site_url, cloud


def _sign_in(section: dict[str, Any], auth: str, root: Path) -> dict[str, Any]:
    """The settings the sign-in `auth` needs: tenant and app, and for a certificate its file and thumbprint."""
    settings: dict[str, Any] = {}
    if auth in ("certificate", "device-code"):
        settings["tenant"] = _require(section, "tenant", f"for auth = {auth!r} (e.g. contoso.onmicrosoft.com)")
        settings["client_id"] = _require(section, "client_id", f"for auth = {auth!r} (the app registration's ID)")
    if auth == "certificate":
        cert = root / _require(
            section, "certificate_path", "for auth = 'certificate' (a PEM file with the private key)"
        )
        if not cert.is_file():
            raise ConfigError(f"tracker.toml: [sharepoint] certificate_path {cert} does not exist")
        thumbprint = _require(section, "certificate_thumbprint", "for auth = 'certificate' (SHA-1, 40 hex digits)")
        thumbprint = thumbprint.replace(":", "").replace(" ", "")
        if not re.fullmatch(r"[0-9A-Fa-f]{40}", thumbprint):
            raise ConfigError(
                "tracker.toml: [sharepoint] certificate_thumbprint must be the certificate's SHA-1 thumbprint (40 hex digits)"
            )
        settings["certificate_path"] = cert
        settings["certificate_thumbprint"] = thumbprint.upper()
    return settings


def sharepoint_settings(section: dict[str, Any], root: Path) -> SharePointSettings:
    """Check [sharepoint] and return it typed; every mistake is a ConfigError (exit 2)."""
    site_url, cloud = _site(section)
    path = _require(
        section, "path", "(the workbook's server-relative path, e.g. /sites/ops/Shared Documents/Tracker.xlsx)"
    )
    if not path.startswith("/") or not path.lower().endswith((".xlsx", ".xlsm")):
        raise ConfigError(
            f"tracker.toml: [sharepoint] path {path!r} must be server-relative and name an .xlsx file, "
            "e.g. /sites/ops/Shared Documents/Event Tracker.xlsx"
        )
    auth = str(section.get("auth", "certificate"))
    if auth not in AUTH_MODES:
        raise ConfigError(f"tracker.toml: [sharepoint] auth {auth!r} is unknown; use one of: {', '.join(AUTH_MODES)}")
    write_mode = str(section.get("write_mode", DEFAULT_WRITE_MODE))
    if write_mode not in WRITE_MODES:
        raise ConfigError(
            f"tracker.toml: [sharepoint] write_mode {write_mode!r} is unknown; use one of: {', '.join(WRITE_MODES)}"
        )
    graph_url = str(section.get("graph_url", cloud.graph + "/v1.0")).rstrip("/")
    graph_parts = urlsplit(graph_url)
    if graph_parts.scheme not in ("https", "http") or not graph_parts.hostname:
        raise ConfigError(f"tracker.toml: [sharepoint] graph_url {graph_url!r} is not a URL")
    for secret in ("client_secret", "password", "token", "access_token", "private_key"):
        if secret in section:
            raise ConfigError(
                f"tracker.toml must not hold secrets: remove [sharepoint] {secret} (see README, SharePoint sign-in)"
            )
    settings = _sign_in(section, auth, root)
    cache = section.get("token_cache")
    if cache:
        settings["token_cache"] = root / Path(os.path.expanduser(str(cache)))
    chunk = section.get("chunk_size", 4 * 1024 * 1024)
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1024:
        raise ConfigError(f"tracker.toml: [sharepoint] chunk_size must be bytes >= 1024, not {chunk!r}")
    settings["chunk_size"] = chunk
    app_only_excel = section.get("app_only_excel", False)
    if not isinstance(app_only_excel, bool):
        raise ConfigError(f"tracker.toml: [sharepoint] app_only_excel must be true or false, not {app_only_excel!r}")
    settings["app_only_excel"] = app_only_excel
    timeout = section.get("timeout", 60)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"tracker.toml: [sharepoint] timeout must be seconds > 0, not {timeout!r}")
    return SharePointSettings(
        site_url=site_url,
        path=path,
        cloud=cloud,
        auth=auth,
        write_mode=write_mode,
        graph_url=graph_url,
        timeout=float(timeout),
        **settings,
    )


def user_agent(settings: SharePointSettings | None = None) -> str:
    """`NONISV|Org|tracker/version`, the decoration SharePoint's throttling guidance asks of every request ("Avoid
    getting throttled or blocked in SharePoint Online": traffic without it is throttled first). Org: the tenant's
    name ([sharepoint] tenant, else the SharePoint host's first label, e.g. contoso), else "Unknown" (also without
    [sharepoint]: a Teams webhook post)."""
    if settings is None:
        return f"NONISV|Unknown|tracker/{__version__}"
    tenant = settings.tenant.split(".")[0] if "." in settings.tenant else ""
    host = settings.host
    site = host.split(".")[0] if host.endswith(settings.cloud.sharepoint_suffixes) else ""
    org = "".join(c for c in (tenant or site) if c.isalnum() or c == "-") or "Unknown"
    return f"NONISV|{org}|tracker/{__version__}"

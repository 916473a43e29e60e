"""Signing in to SharePoint and Microsoft Graph, in the commercial and US government clouds.

Three ways, chosen by `[sharepoint] auth`:
- `certificate`: app-only with a client certificate (the only app-only route SharePoint REST
  accepts); the key is read from a PEM file, never from tracker.toml.
- `device-code`: a person signs in once with `tracker login`; the token cache is kept in
  the OS keyring when one is available, else in a file only the user can read (0600).
- `token-env`: access tokens from TRACKER_SHAREPOINT_TOKEN and TRACKER_GRAPH_TOKEN
  (automation and tests).
Tokens are never printed or logged.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Protocol

from tracker.errors import AuthError
from tracker.files import locked, write_atomic
from tracker.sharepoint_config import SharePointSettings, user_agent

SP_TOKEN_ENV = "TRACKER_SHAREPOINT_TOKEN"
GRAPH_TOKEN_ENV = "TRACKER_GRAPH_TOKEN"


class Tokens(Protocol):
    """Access tokens for SharePoint and Graph."""

    def sharepoint(self) -> dict[str, Any]:
        """A token response for SharePoint REST."""
        ...

    def graph(self) -> dict[str, Any]:
        """A token response for Microsoft Graph."""
        ...

    def refresh(self) -> None:
        """Forget cached tokens so the next call gets new ones."""
        ...


def _response(token: str, expires_in: int = 3600) -> dict[str, Any]:
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


class EnvTokens:
    """Tokens from environment variables (auth = "token-env")."""

    def sharepoint(self) -> dict[str, Any]:
        """TRACKER_SHAREPOINT_TOKEN."""
        return _response(self._read(SP_TOKEN_ENV))

    def graph(self) -> dict[str, Any]:
        """TRACKER_GRAPH_TOKEN."""
        return _response(self._read(GRAPH_TOKEN_ENV))

    def refresh(self) -> None:
        """Environment tokens are read fresh every time."""

    @staticmethod
    def _read(name: str) -> str:
        value = os.environ.get(name, "").strip()
        if not value:
            raise AuthError(f'auth = "token-env" needs an access token in the environment variable {name}')
        return value


class MsalTokens:
    """Tokens from MSAL: app-only with a certificate, or a person via device code."""

    def __init__(self, settings: SharePointSettings) -> None:
        self.settings = settings
        self._cache: dict[str, tuple[dict[str, Any], float]] = {}
        self._app: Any = None
        self._token_cache: Any = None

    @property
    def authority(self) -> str:
        """The sign-in authority for the tenant in this cloud."""
        return f"{self.settings.cloud.authority}/{self.settings.tenant}"

    def app(self) -> Any:
        """The MSAL application (built once)."""
        if self._app is None:
            import msal

            if self.settings.auth == "certificate":
                assert self.settings.certificate_path is not None
                key = self.settings.certificate_path.read_text(encoding="utf-8")
                self._app = msal.ConfidentialClientApplication(
                    self.settings.client_id,
                    authority=self.authority,
                    client_credential={"private_key": key, "thumbprint": self.settings.certificate_thumbprint},
                    http_client=self._http(),
                )
            else:
                self._token_cache = load_token_cache(self.settings)
                self._app = msal.PublicClientApplication(
                    self.settings.client_id,
                    authority=self.authority,
                    token_cache=self._token_cache,
                    http_client=self._http(),
                )
        return self._app

    def _http(self) -> Any:
        """MSAL's HTTP client: a requests session carrying tracker's User-Agent, as every request does."""
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = user_agent(self.settings)
        return session

    def _acquire(self, scope: str) -> dict[str, Any]:
        cached = self._cache.get(scope)
        if cached and cached[1] > time.time() + 60:
            return cached[0]
        app = self.app()
        if self.settings.auth == "certificate":
            result = app.acquire_token_for_client(scopes=[scope])
        else:
            accounts = app.get_accounts()
            result = app.acquire_token_silent([scope], account=accounts[0]) if accounts else None
            if not result:
                raise AuthError("not signed in to SharePoint (or the sign-in expired): run `tracker login`")
            save_token_cache(self.settings, self._token_cache)
        if "access_token" not in result:
            raise AuthError(
                f"sign-in to {self.settings.cloud.name} failed: {result.get('error')}: "
                f"{str(result.get('error_description', '')).splitlines()[0] if result.get('error_description') else ''}"
            )
        response = _response(result["access_token"], int(result.get("expires_in", 3600)))
        self._cache[scope] = (response, time.time() + response["expires_in"])
        return response

    def sharepoint(self) -> dict[str, Any]:
        """App or user token for SharePoint REST."""
        return self._acquire(self.settings.sharepoint_scope)

    def graph(self) -> dict[str, Any]:
        """App or user token for Microsoft Graph."""
        return self._acquire(self.settings.graph_scope)

    def refresh(self) -> None:
        """Drop in-memory tokens; MSAL refreshes from its cache or the identity provider."""
        self._cache.clear()


def tokens_for(settings: SharePointSettings) -> Tokens:
    """The token source [sharepoint] auth selects."""
    if settings.auth == "token-env":
        return EnvTokens()
    return MsalTokens(settings)


# --- the device-code token cache ----------------------------------------------------------

KEYRING_SERVICE = "tracker"


def default_cache_path() -> Path:
    """Where the token cache file goes when no keyring is available."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tracker" / "token-cache.json"


def _keyring() -> Any:
    try:
        import keyring
        from keyring.backends import fail

        if isinstance(keyring.get_keyring(), fail.Keyring):
            return None
        return keyring
    except Exception:  # noqa: BLE001 - no usable keyring: use the file
        return None


def _cache_key(settings: SharePointSettings) -> str:
    return f"{settings.cloud.name}:{settings.tenant}:{settings.client_id}"


def _cache_file(settings: SharePointSettings) -> dict[str, Any]:
    """The cache file's contents; a damaged file counts as empty (the person signs in again)."""
    path = settings.token_cache or default_cache_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_token_cache(settings: SharePointSettings) -> Any:
    """The MSAL token cache from the keyring, else from the 0600 cache file."""
    import msal

    cache = msal.SerializableTokenCache()
    ring = None if settings.token_cache else _keyring()
    data = None
    if ring is not None:
        data = ring.get_password(KEYRING_SERVICE, _cache_key(settings))
    else:
        data = _cache_file(settings).get(_cache_key(settings))
    if data:
        cache.deserialize(data)
    return cache


def save_token_cache(settings: SharePointSettings, cache: Any) -> str:
    """Persist the cache if it changed; return where it is kept."""
    ring = None if settings.token_cache else _keyring()
    if ring is not None:
        if cache is not None and cache.has_state_changed:
            ring.set_password(KEYRING_SERVICE, _cache_key(settings), cache.serialize())
        return "the OS keyring"
    path = settings.token_cache or default_cache_path()
    if cache is not None and cache.has_state_changed:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _change_cache_file(settings, lambda entries: entries.update({_cache_key(settings): cache.serialize()}))
    return str(path)


def _change_cache_file(settings: SharePointSettings, change: Any) -> None:
    """Read, change and write the cache file under its lock, replacing it whole (0600): a `watch` and a command
    refreshing the sign-in at once left it empty ("not signed in") when each truncated and rewrote it in place."""

    path = settings.token_cache or default_cache_path()

    def busy(lock_file: str) -> Exception:
        return AuthError(f"another tracker has held the sign-in cache's lock ({lock_file}) for 60 s; try again")

    with locked(path, 60.0, busy):
        entries = _cache_file(settings)
        change(entries)
        write_atomic(path, json.dumps(entries), mode=0o600)


def forget_token_cache(settings: SharePointSettings) -> str:
    """Remove this app's cached sign-in; return where it was kept."""
    ring = None if settings.token_cache else _keyring()
    if ring is not None:
        try:
            ring.delete_password(KEYRING_SERVICE, _cache_key(settings))
        except Exception:  # noqa: BLE001 - nothing stored is fine
            pass
        return "the OS keyring"
    path = settings.token_cache or default_cache_path()
    if path.exists():
        _change_cache_file(settings, lambda entries: entries.pop(_cache_key(settings), None))
    return str(path)


def device_code_login(settings: SharePointSettings, show: Any) -> str:
    """Sign a person in with the device-code flow; `show` prints the instructions. Returns the account name."""
    tokens = MsalTokens(settings)
    app = tokens.app()
    flow = app.initiate_device_flow(scopes=[settings.sharepoint_scope])
    if "user_code" not in flow:
        raise AuthError(f"could not start the device-code sign-in: {flow.get('error_description', flow.get('error'))}")
    show(flow["message"])
    result = app.acquire_token_by_device_flow(flow)
    if "access_token" not in result:
        raise AuthError(f"sign-in failed: {result.get('error')}: {result.get('error_description', '')}")
    save_token_cache(settings, tokens._token_cache)
    claims = result.get("id_token_claims") or {}
    return str(claims.get("preferred_username") or claims.get("name") or "signed in")


def token_identity(token: str) -> dict[str, Any]:
    """Who and what a JWT access token is for (unverified claims; never the token itself)."""
    import base64

    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, json.JSONDecodeError):
        return {}
    keep = (
        "upn", "preferred_username", "name", "app_displayname", "appid", "aud", "tid", "roles", "scp", "exp", "idtyp"
    )  # fmt: skip
    return {k: claims[k] for k in keep if k in claims}


def app_only(settings: SharePointSettings) -> bool | None:
    """Whether the sign-in is app-only: a certificate is, a device-code sign-in is not; an environment token is
    app-only when its claims say so (`idtyp` "app", or application `roles` without delegated `scp`: Microsoft
    identity platform access token claims). None: not known (no token, or not a JWT). No request is made."""
    if settings.auth != "token-env":
        return settings.auth == "certificate"
    claims = token_identity(os.environ.get(GRAPH_TOKEN_ENV, "").strip())
    if not claims:
        return None
    return claims.get("idtyp") == "app" or ("roles" in claims and "scp" not in claims)

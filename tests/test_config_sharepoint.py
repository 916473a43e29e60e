"""[sharepoint] settings are checked before any request: each mistake is one clear line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Run

GOOD = {
    "site_url": "https://contoso.sharepoint.com/sites/ops",
    "path": "/sites/ops/Shared Documents/Event Tracker.xlsx",
    "cloud": "global",
    "auth": "certificate",
    "tenant": "contoso.onmicrosoft.com",
    "client_id": "00000000-0000-0000-0000-000000000000",
    "certificate_path": "tracker-app.pem",
    "certificate_thumbprint": "A" * 40,
}


def _write(tmp_path: Path, **changes: str | None) -> None:
    settings = {**GOOD, **changes}
    lines = ["[sharepoint]"] + [f'{k} = "{v}"' for k, v in settings.items() if v is not None]
    (tmp_path / "tracker.toml").write_text("\n".join(lines) + "\n")
    (tmp_path / "tracker-app.pem").write_text("not a real key; never read before the settings are checked\n")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"site_url": "contoso.sharepoint.com/sites/ops"}, "is not an https:// site address"),
        ({"site_url": "http://contoso.sharepoint.com/sites/ops"}, "is not an https:// site address"),
        ({"cloud": "mars"}, "cloud 'mars' is unknown; use one of: global, usgov-high, usgov-dod"),
        ({"cloud": "usgov-high"}, "is not a usgov-high SharePoint host (*.sharepoint.us)"),
        ({"path": "Shared Documents/x.xlsx"}, "must be server-relative and name an .xlsx file"),
        ({"auth": "password"}, "auth 'password' is unknown; use one of: certificate, device-code, token-env"),
        ({"certificate_path": "missing.pem"}, "certificate_path"),
        ({"certificate_thumbprint": "1234"}, "SHA-1 thumbprint (40 hex digits)"),
        ({"tenant": None}, "[sharepoint] tenant is required for auth = 'certificate'"),
        ({"write_mode": "fax"}, "write_mode 'fax' is unknown; use one of: workbook-api, upload"),
        ({"client_secret": "s3cr3t"}, "must not hold secrets: remove [sharepoint] client_secret"),
        ({"app_only_excel": "yes"}, "app_only_excel must be true or false"),
    ],
)
def test_bad_sharepoint_settings(run: Run, tmp_path: Path, changes: dict, expected: str) -> None:
    """Each misconfiguration names the key and what is allowed, with exit code 2."""
    _write(tmp_path, **changes)
    result = run("list")
    assert result.exit_code == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert "s3cr3t" not in result.stderr


def test_government_clouds_accept_their_hosts(run: Run, tmp_path: Path) -> None:
    """GCC High and DoD sites on *.sharepoint.us / *.sharepoint-mil.us pass the settings check."""
    from tracker.sharepoint_config import sharepoint_settings

    _write(tmp_path)
    high = sharepoint_settings(
        {**GOOD, "cloud": "usgov-high", "site_url": "https://contoso.sharepoint.us/sites/ops"}, tmp_path
    )
    assert (
        high.graph_url == "https://graph.microsoft.us/v1.0"
        and high.cloud.authority == "https://login.microsoftonline.us"
    )
    dod = sharepoint_settings(
        {**GOOD, "cloud": "usgov-dod", "site_url": "https://contoso.sharepoint-mil.us/sites/ops"}, tmp_path
    )
    assert dod.graph_url == "https://dod-graph.microsoft.us/v1.0"
    assert dod.sharepoint_scope == "https://contoso.sharepoint-mil.us/.default"


def test_the_settings_are_typed_once_when_tracker_toml_is_loaded(tmp_path: Path) -> None:
    """[sharepoint] is checked and typed as tracker.toml loads (it was a dict each backend parsed again), and
    [mail] too: the backends receive the typed settings, each default stated once."""
    from tracker.config import MailSettings, load_config
    from tracker.errors import ConfigError
    from tracker.sharepoint_config import DEFAULT_WRITE_MODE, SharePointSettings

    _write(tmp_path)
    config = load_config(tmp_path / "tracker.toml")
    assert isinstance(config.sharepoint, SharePointSettings) and isinstance(config.mail, MailSettings)
    assert config.sharepoint.file_url == "https://contoso.sharepoint.com/sites/ops/Shared Documents/Event Tracker.xlsx"
    assert config.sharepoint.write_mode == DEFAULT_WRITE_MODE and config.excel_service_writes
    assert config.mail.transport == "outbox" and config.mail.outbox == tmp_path.resolve() / "outbox"
    _write(tmp_path, site_url="contoso.sharepoint.com/sites/ops")
    with pytest.raises(ConfigError, match=r"\[sharepoint\] site_url .* is not an https:// site address"):
        load_config(tmp_path / "tracker.toml")

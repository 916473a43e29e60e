"""Every time a person reads says its zone: Z only for UTC, the zone's abbreviation otherwise."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

from tests.conftest import Run


def with_display(tmp_path: Path, lines: str) -> None:
    """Replace the [display] section of tmp_path/tracker.toml."""
    config = tmp_path / "tracker.toml"
    text = re.sub(r"\[display\][^\[]*", "", config.read_text())
    config.write_text(text + f"\n[display]\n{lines}\n")


def test_a_z_format_with_another_timezone_is_refused(run: Run, example: Path, tmp_path: Path) -> None:
    """`timezone = "America/New_York"` with a format ending in Z (UTC): a configuration error naming the fix."""
    with_display(tmp_path, 'timezone = "America/New_York"\ntime_format = "%d %b %Y %H%MZ"')
    result = run("list")
    assert result.exit_code == 2
    assert "labels times Z (UTC), but timezone is America/New_York" in result.stderr and "%Z" in result.stderr


def test_local_times_carry_their_zone_in_email(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """With a non-UTC timezone and no time_format, emails show local times with EST/EDT, never Z."""
    with_display(tmp_path, 'timezone = "America/New_York"')
    result = run("notify", event_id)
    assert result.exit_code == 0, result.stderr
    assert re.search(r"next update due \d{2} \w{3} \d{4} \d{4} E[SD]T", result.stdout), result.stdout
    mail = next((tmp_path / "outbox").glob("*.eml"))
    parsed = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    body = parsed.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    times = re.findall(r"\d{4} (?:E[SD]T|Z)\b|\d{4}Z\b", body)
    assert times and all("Z" not in t for t in times), times

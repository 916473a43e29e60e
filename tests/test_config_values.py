"""Every tracker.toml value is checked once, when it is read: no control character anywhere (a line break in the
sender made a header of its own), `[mail] sender` checked by validate, and a secret's refusal names the way to do it
for its own section."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import suite_clock
from tests.conftest import Run


def _set(config: Path, section: str, line: str) -> None:
    """Put `line` under `[section]` of tracker.toml (replacing the key it sets), adding the section if missing."""
    key = line.split("=", 1)[0].strip()
    lines = [text for text in config.read_text().splitlines() if text.split("=", 1)[0].strip() != key]
    header = f"[{section}]"
    if header in lines:
        lines.insert(lines.index(header) + 1, line)
    else:
        lines += [header, line]
    config.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("section", "line", "shown"),
    [
        ("mail", r'sender = "Event\r\nBcc: spy@evil.test <event.management@example.com>"', "'\\r'"),
        ("display", r'time_format = "%d %b %Y \u001b[31m%H%MZ"', "'\\x1b'"),
        ("mail", r'allowed_domains = ["example.com\u0000evil.test"]', "'\\x00'"),
        ("publish", r'title = "Status\u0007"', "'\\x07'"),
    ],
)
def test_a_control_character_in_any_value_is_refused_naming_the_key(
    run: Run, example: Path, tmp_path: Path, section: str, line: str, shown: str
) -> None:
    """A control character in any tracker.toml value (sender, time_format, a list item, ...) stops every command with
    exit 2, naming the section, the key and the character escaped; no email is written and nothing raw is printed."""
    _set(tmp_path / "tracker.toml", section, line)
    key = line.split("=", 1)[0].strip()
    for command in (["validate"], ["notify", suite_clock.event_id()], ["publish"]):
        result = run(*command)
        assert result.exit_code == 2, (command, result.stderr)
        assert f"[{section}] {key} " in result.stderr and f"holds a control character ({shown})" in result.stderr
        assert all(ch.isprintable() or ch == "\n" for ch in result.stderr), result.stderr
    assert not (tmp_path / "outbox").exists()


def test_validate_checks_the_sender(run: Run, example: Path, tmp_path: Path) -> None:
    """`[mail] sender` that is no address is an error of validate (exit 1, naming the key), not a surprise at the
    first notify."""
    _set(tmp_path / "tracker.toml", "mail", 'sender = "Event Management"')
    checked = run("validate")
    assert checked.exit_code == 1
    assert "[mail] sender 'Event Management' is not an email address" in checked.stdout
    assert 'sender = "Event Management <event.management@example.com>"' in checked.stdout


@pytest.mark.parametrize(
    ("section", "line", "hint"),
    [
        ("sharepoint", 'client_secret = "s3cr3t"', 'auth = "certificate"'),
        ("mail.smtp", 'password = "hunter2"', 'password_env = "TRACKER_SMTP_PASSWORD"'),
        ("teams", 'webhook_token = "abc"', 'webhook_env = "TRACKER_TEAMS_WEBHOOK"'),
    ],
)
def test_a_secret_is_refused_with_the_way_for_its_section(
    run: Run, example: Path, tmp_path: Path, section: str, line: str, hint: str
) -> None:
    """A secret in tracker.toml is refused (exit 2) with the fix for its own section: SharePoint's sign-in choices,
    SMTP's password_env, Teams' webhook_env (a client_secret was told to set password_env)."""
    _set(tmp_path / "tracker.toml", section, line)
    result = run("validate")
    assert result.exit_code == 2 and "must not hold secrets" in result.stderr and hint in result.stderr
    if section == "sharepoint":
        assert "password_env" not in result.stderr

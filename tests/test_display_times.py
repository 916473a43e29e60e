"""Every time a person reads says its zone: Z only for UTC, the zone's abbreviation otherwise."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Run
from tracker.errors import UsageError
from tracker.times import parse_time

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


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


NEW_YORK = ZoneInfo("America/New_York")


def test_a_local_time_the_clocks_skip_is_refused_with_its_readings() -> None:
    """2026-03-08 02:30 does not exist in New York (spring forward): refused, both readings and a hint given."""
    with pytest.raises(UsageError, match=r"does not exist in America/New_York.*0730Z|does not exist.*0630Z"):
        parse_time("2026-03-08 02:30", tz=NEW_YORK, now=datetime(2026, 3, 9, tzinfo=UTC), what="--eta", force=True)


def test_a_local_time_the_clocks_show_twice_is_refused_with_both() -> None:
    """2026-11-01 01:30 happens twice in New York (fall back): refused naming 0530Z and 0630Z."""
    with pytest.raises(UsageError, match=r"happens twice.*01:30 EDT \(0530Z\) or 01:30 EST \(0630Z\)"):
        parse_time("2026-11-01 01:30", tz=NEW_YORK, now=datetime(2026, 11, 2, tzinfo=UTC), what="--at")


def test_a_bare_time_for_something_that_happened_is_its_latest_past_occurrence() -> None:
    """`--detected 23:50` typed at 01:35 means last night, not tonight."""
    now = datetime(2026, 11, 22, 1, 35, tzinfo=UTC)
    assert parse_time("23:50", now=now, what="--detected", when="past") == datetime(2026, 11, 21, 23, 50, tzinfo=UTC)
    assert parse_time("01:20", now=now, what="--detected", when="past") == datetime(2026, 11, 22, 1, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "when", "message"),
    [
        ("2026-11-23 10:00", "past", "is in the future"),
        ("2026-11-21 10:00", "future", "has already passed"),
        ("1899-12-30 00:00", "any", "before 1900"),
        ("+99999999h", "future", "too far away"),
    ],
)
def test_times_that_cannot_be_right_are_refused(text: str, when: str, message: str) -> None:
    """A detection in the future, an ETA already past, a date before 1900, an absurd offset: a clear error."""
    now = datetime(2026, 11, 22, 1, 35, tzinfo=UTC)
    with pytest.raises(UsageError, match=message):
        parse_time(text, now=now, what="--eta", when=when)


def test_force_accepts_an_eta_already_past(run: Run, example: Path, event_id: str) -> None:
    """On the command line an ETA in the past is refused (exit 2) unless --force."""
    refused = run("update", event_id, "--note", "x", "--eta", "-2h")
    assert refused.exit_code == 2 and "has already passed" in refused.stderr and "--force" in refused.stderr
    assert run("update", event_id, "--note", "x", "--eta", "-2h", "--force").exit_code == 0


def test_show_and_list_give_local_times_with_their_zone(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """With America/New_York, `show` and `list` print each stored UTC time converted, with EST/EDT, and no header
    still claims UTC."""
    stored = json.loads(run("show", event_id, "--json").stdout)["event"]
    with_display(tmp_path, 'timezone = "America/New_York"')
    shown = run("show", event_id)
    assert shown.exit_code == 0, shown.stderr
    assert "(UTC)" not in shown.stdout and not re.search(r"\d{4}Z\b", shown.stdout)
    detected = datetime.fromisoformat(stored["detected_at"].replace("Z", "+00:00")).astimezone(NEW_YORK)
    assert re.search(rf"Detected\s+{detected:%d %b %Y %H%M} {detected:%Z}\n", shown.stdout), shown.stdout
    listed = run("list")
    due = datetime.fromisoformat(stored["next_update_due"].replace("Z", "+00:00")).astimezone(NEW_YORK)
    assert f"{due:%d %b %Y %H%M %Z}" in listed.stdout, listed.stdout


def test_a_bare_time_still_to_come_is_its_next_occurrence() -> None:
    """An ETA or a watch's --until of 07:00 typed at 20:00 means tomorrow at 07:00, not a time already past."""
    now = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    assert parse_time("07:00", tz=UTC, what="--eta", when="future", now=now) == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert parse_time("21:30", tz=UTC, what="--eta", when="future", now=now) == datetime(
        2026, 11, 23, 21, 30, tzinfo=UTC
    )

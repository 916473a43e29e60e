"""`tracker doctor`: one line a step, ok / problem / skipped, the fix on each problem, exit 1 on any problem; the
write test leaves nothing behind; mail and Teams are tested only when asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Run
from tests.smtp_server import refusing_port, smtp_server
from tests.test_cli_notify import _use_smtp
from tests.test_teams import webhook


def _steps(result: Any) -> dict[str, dict[str, str]]:
    return {step["name"]: step for step in json.loads(result.stdout)}


def test_a_healthy_local_tracker_is_all_ok(run: Run, example: Path, tmp_path: Path) -> None:
    """The example tracker on this machine: every step ok or skipped (mail and Teams only when asked), exit 0;
    the write test writes beside the workbook and leaves nothing there."""
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run("doctor", "--write")
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines if line.split()[0] not in ("ok", "skipped")] == []
    assert any(line.startswith("ok") and "write test" in line for line in lines)
    assert any(line.startswith("skipped") and "teams" in line for line in lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no scratch file, no folder made
    steps = _steps(run("doctor", "--json"))
    assert steps["workbook"]["status"] == "ok" and "1 event" in steps["workbook"]["detail"]


def test_a_missing_workbook_is_a_problem_with_its_fix(run: Run, example: Path) -> None:
    """No workbook where tracker.toml says: the workbook line is a problem naming it, exit 1."""
    example.unlink()
    result = run("doctor")
    assert result.exit_code == 1
    [line] = [line for line in result.stdout.splitlines() if line.startswith("problem")]
    assert "workbook" in line and "events.xlsx" in line


def test_mail_is_signed_in_to_and_a_test_email_goes_only_when_asked(run: Run, example: Path, tmp_path: Path) -> None:
    """SMTP: doctor connects (nothing sent); --send-test sends one email to the address; a server that is down
    is the mail line's problem."""
    config = tmp_path / "tracker.toml"
    original = config.read_text()
    with smtp_server() as (server, port):
        _use_smtp(tmp_path, port)
        quiet = _steps(run("doctor", "--json"))
        assert quiet["mail"]["status"] == "ok" and "connected" in quiet["mail"]["detail"]
        assert server.received == []
        sent = run("doctor", "--send-test", "alex.morgan@example.com")
        assert sent.exit_code == 0, sent.stdout
        assert [str(m.message["To"]) for m in server.received] == ["alex.morgan@example.com"]
    config.write_text(original)
    with refusing_port() as port:
        _use_smtp(tmp_path, port)
        down = run("doctor", "--json")
    assert down.exit_code == 1 and _steps(down)["mail"]["status"] == "problem"
    assert "cannot connect to SMTP server" in _steps(down)["mail"]["detail"]


def test_teams_gets_a_card_only_with_teams_test(
    run: Run, example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[teams]: doctor checks the webhook variable; --teams-test posts one card."""
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\n')
    with webhook(throttle_first=0) as flow:
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", flow.url)
        assert _steps(run("doctor", "--json"))["teams"]["status"] == "ok" and flow.requests == 0
        posted = run("doctor", "--teams-test")
        assert posted.exit_code == 0, posted.stdout
    assert len(flow.cards) == 1 and "tracker doctor" in flow.cards[0]["body"][0]["text"] and not flow.failed_runs
    assert all(agent.startswith("NONISV|Unknown|tracker/") for agent in flow.agents), flow.agents  # as every request


@pytest.fixture(params=["upload", "workbook-api"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def healthy(sp: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The stand-in with a person's (delegated) tokens, as `tracker login` gets them: the permissions of the
    README's device-code row."""
    from tests.readme_console import _jwt

    person = {"upn": "alex.morgan@contoso.com", "name": "Alex Morgan"}
    tokens = {
        "TRACKER_SHAREPOINT_TOKEN": _jwt(person | {"aud": sp.site_url.rsplit("/sites", 1)[0], "scp": "AllSites.Write"}),
        "TRACKER_GRAPH_TOKEN": _jwt(
            person | {"aud": "https://graph.microsoft.com", "scp": "Files.ReadWrite.All Sites.ReadWrite.All Mail.Send"}
        ),
    }
    for name, token in tokens.items():
        sp.tokens.add(token)
        monkeypatch.setenv(name, token)
    yield sp


def test_a_healthy_sharepoint_tracker_is_all_ok(run: Run, healthy: Any, mode: str) -> None:
    """A delegated configuration on the stand-in, either write mode: sign-in (a person, for this site), write mode,
    workbook and the write test ok, exit 0; the scratch file is gone from the library afterwards."""
    result = run("doctor", "--write", "--json")
    assert result.exit_code == 0, result.stdout
    steps = _steps(result)
    assert {step["status"] for name, step in steps.items() if name not in ("teams", "status page")} == {"ok"}, steps
    assert (
        "Event Tracker.xlsx" in steps["workbook"]["detail"] and "alex.morgan@contoso.com" in steps["sign-in"]["detail"]
    )
    scratch = [r for r in healthy.requests if "tracker-doctor" in r["path"]]
    assert scratch and all(r["status"] < 300 for r in scratch)  # written, then removed
    assert not [name for name in healthy._files if "tracker-doctor" in name]


def test_a_denied_workbook_names_the_permission(run: Run, healthy: Any, mode: str) -> None:
    """The site refuses (403): the workbook line is the problem and says which permission to grant, exit 1."""
    healthy.fail(10, status=403)
    result = run("doctor", "--json")
    assert result.exit_code == 1
    workbook = _steps(result)["workbook"]
    assert workbook["status"] == "problem" and "Sites." in workbook["detail"], workbook


def test_app_only_with_workbook_api_is_named_undocumented(run: Run, healthy: Any, mode: str, tmp_path: Path) -> None:
    """auth = "certificate" with write_mode = "workbook-api": the write-mode line says Microsoft documents the
    Excel API as not supported with application permissions, and the change to make."""
    config = tmp_path / "tracker.toml"
    cert = tmp_path / "tracker.pem"
    cert.write_text("not a real certificate")
    text = config.read_text().replace('auth = "token-env"', 'auth = "certificate"')
    text = text.replace(
        "[sharepoint]\n",
        '[sharepoint]\ntenant = "contoso.onmicrosoft.com"\nclient_id = "00000000-0000-0000-0000-000000000000"\n'
        'certificate_path = "tracker.pem"\ncertificate_thumbprint = "' + "A" * 40 + '"\n',
    )
    config.write_text(text)
    result = run("doctor", "--json")
    assert result.exit_code == 1
    line = _steps(result)["write mode"]
    if mode == "workbook-api":
        assert (
            line["status"] == "problem"
            and "undocumented" in line["detail"]
            and "delegated sign-in only" in line["detail"]
        )
        assert 'write_mode = "upload"' in line["fix"]
    else:
        assert line["status"] == "ok"


@pytest.mark.parametrize(
    ("claims", "status", "said"),
    [
        ({"upn": "alex.morgan@contoso.com", "scp": "Mail.Send Files.ReadWrite.All"}, "problem", "Mail.Send.Shared"),
        ({"upn": "alex.morgan@contoso.com", "scp": "Mail.Send.Shared"}, "ok", "Send As"),
        ({"app_displayname": "tracker", "roles": ["Sites.Selected"]}, "problem", "application permission Mail.Send"),
        ({"app_displayname": "tracker", "roles": ["Mail.Send"]}, "ok", "the token has Mail.Send"),
    ],
    ids=["person without Send.Shared", "person with it", "app without Mail.Send", "app with it"],
)
def test_graph_mail_needs_the_permission_of_its_sign_in(
    run: Run,
    healthy: Any,
    mode: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    claims: dict,
    status: str,
    said: str,
) -> None:
    """transport "graph" sending as the team's shared mailbox: a person needs delegated Mail.Send.Shared (and Send
    As in Exchange), an app the application permission Mail.Send; doctor reads it from the token and says which."""
    from tests.readme_console import _jwt

    config = tmp_path / "tracker.toml"
    text = config.read_text().replace('transport = "outbox"', 'transport = "graph"')
    config.write_text(text + '\n[mail.graph]\nmailbox = "event.management@example.com"\n')
    token = _jwt(claims | {"aud": "https://graph.microsoft.com"})
    healthy.tokens.add(token)
    monkeypatch.setenv("TRACKER_GRAPH_TOKEN", token)
    mail = _steps(run("doctor", "--json"))["mail"]
    assert mail["status"] == status and said in mail["detail"], mail


@pytest.mark.parametrize(
    ("scopes", "status"),
    [("Sites.ReadWrite.All Files.ReadWrite.All", "ok"), ("Sites.Read.All Files.ReadWrite.All", "problem")],
    ids=["may write pages", "may only read them"],
)
def test_the_site_page_needs_sites_readwrite_all(
    run: Run, healthy: Any, mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scopes: str, status: str
) -> None:
    """[publish] to the site: doctor reads the site, its page list and its libraries (nothing made), and a Graph
    token without Sites.ReadWrite.All is the status page's problem naming it (nothing less is documented)."""
    from tests.readme_console import _jwt

    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + '\n[publish]\nto = "sharepoint"\n')
    token = _jwt({"upn": "alex.morgan@contoso.com", "aud": "https://graph.microsoft.com", "scp": scopes})
    healthy.tokens.add(token)
    monkeypatch.setenv("TRACKER_GRAPH_TOKEN", token)
    page = _steps(run("doctor", "--json"))["status page"]
    assert page["status"] == status, page
    assert ("Sites.ReadWrite.All" in page["detail"]) == (status == "problem")
    assert healthy.pages == {}  # nothing made


def test_a_flow_that_refuses_the_test_card_names_its_setting(
    run: Run, example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--teams-test to a flow not open to "Anyone" (it answers 401): the teams line is a problem naming the
    trigger's setting, exit 1."""
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text() + '\n[teams]\nwebhook_env = "TRACKER_TEAMS_WEBHOOK"\n')
    with webhook(throttle_first=0, anyone=False) as flow:
        monkeypatch.setenv("TRACKER_TEAMS_WEBHOOK", flow.url)
        result = run("doctor", "--teams-test", "--json")
    assert result.exit_code == 1
    line = _steps(result)["teams"]
    assert line["status"] == "problem" and "Anyone" in line["detail"] + line["fix"], line

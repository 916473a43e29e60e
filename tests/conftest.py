"""Shared fixtures: a clean environment, the real CLI, and example tracker folders."""

from __future__ import annotations

import contextlib
import os

# As tracker itself sets it (tracker/__init__.py), before openpyxl loads.
os.environ.setdefault("OPENPYXL_LXML", "False")

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from tests import suite_clock
from tracker.cli.commands import main

CREDENTIAL_VARS = ("AZURE_", "MSAL_", "O365_", "OFFICE365_", "SMTP_", "MAIL_")

# Every property test without settings of its own: no deadline (a first example that imports a module, on a busy CI
# machine, is not a failure) and no example database left in the checkout; 100 examples, Hypothesis's own number
settings.register_profile("suite", deadline=None, database=None)
settings.load_profile("suite")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock",
        metavar="ISO-TIME",
        help="the moment every test starts at (tracker's rehearsal clock), e.g. 2027-01-01T00:05Z; "
        f"default {suite_clock.PINNED:%Y-%m-%dT%H:%MZ}",
    )


def pytest_configure(config: pytest.Config) -> None:
    text = config.getoption("clock")
    try:
        suite_clock.NOW = suite_clock.parse(text) if text else suite_clock.PINNED
    except ValueError:
        raise pytest.UsageError(f"--clock {text!r} is not an ISO time, e.g. 2027-01-01T00:05Z") from None
    _hear_ctrl_c()


def _hear_ctrl_c() -> None:
    """Ctrl-C heard again when the suite was started with it ignored (a shell without job control ignores SIGINT
    in what it starts with `&`, and the processes the tests start inherit that): the tests that press Ctrl-C on a
    tracker process would see it carry on. Nothing changes when the suite runs in a terminal."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


SLOW_FIRST = ("slow", "libreoffice")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow or libreoffice (many processes, LibreOffice starts) first, so that with `-n auto` they run
    beside the quick ones instead of alone at the end; the order is otherwise kept."""
    items.sort(key=lambda item: not any(item.get_closest_marker(name) for name in SLOW_FIRST))


def pytest_report_header(config: pytest.Config) -> str:
    return f"tracker's clock starts every test at {suite_clock.NOW:%Y-%m-%dT%H:%M:%SZ} (--clock)"


def _scrub(monkeypatch: pytest.MonkeyPatch, state: Path) -> None:
    """The environment every test runs in: no TRACKER_* or credential variable from the developer's shell, the
    state folder `state`, the suite's clock, and instant waits (see `clean_environment`)."""
    for name in list(os.environ):
        if name.startswith("TRACKER_") or name.startswith(CREDENTIAL_VARS):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRACKER_USER", "Test Manager")
    monkeypatch.setenv("TRACKER_STATE_DIR", str(state))
    monkeypatch.setenv("TRACKER_REHEARSAL_SEND", "yes")  # the tests' mail servers and channels are their own
    # The temporary folder is the test's own too, for tracker in this process (tempfile.tempdir) and the processes it
    # starts (TMPDIR): what tracker keeps there per SharePoint workbook (locks, heartbeat) stays with the test, not
    # in the machine's /tmp, where a later run's stand-in on the same port would find it
    temp = Path(tempfile.mkdtemp(prefix="tmp-", dir=state.parent))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    from tracker.times import CLOCK

    CLOCK.pin(suite_clock.NOW)  # TRACKER_NOW, when a test sets it (then CLOCK.reset()), wins
    monkeypatch.setattr(CLOCK, "waiter", suite_clock.WAITS.append)


@contextlib.contextmanager
def suite_environment(state: Path) -> Iterator[None]:
    """What `clean_environment` gives a test, for a fixture that outlives one test (module or session)."""
    from tracker.times import CLOCK

    pinned = CLOCK.pinned
    with pytest.MonkeyPatch.context() as monkeypatch:
        _scrub(monkeypatch, state)
        try:
            yield
        finally:
            CLOCK.pin(pinned)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No TRACKER_* or credential variable from the developer's shell reaches a test; tracker's state folder
    (SharePoint workbooks' journals) is the test's own, never the home folder; tracker's clock is pinned at the
    suite's moment (`at` moves it), never the machine's, so no test depends on today's date; tracker's waits for
    others (Retry-After, backoff; `Clock.wait`) take no real time in the test's process (they are recorded in
    suite_clock.WAITS): the processes a test starts wait for real."""
    from tracker.times import CLOCK

    _scrub(monkeypatch, tmp_path_factory.mktemp("state"))
    suite_clock.WAITS.clear()
    yield
    CLOCK.pin(None)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """No proxy from the environment, and a connection to anything but 127.0.0.1 fails the test."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    elsewhere: list[Any] = []
    connect = socket.socket.connect

    def loopback_connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1"):
            elsewhere.append(address)
            raise OSError(f"test tried to reach {address}")
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_connect)
    yield elsewhere
    assert elsewhere == []


Run = Callable[..., Result]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """Run `tracker ARGS...` in-process in tmp_path; stdout and stderr kept apart."""
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tracker init --example` run once per test session, at the suite's moment: the folder holding its
    tracker.toml and events.xlsx, which `example` copies for each test (building it takes ~0.1 s, a copy ~1 ms)."""
    folder = tmp_path_factory.mktemp("example-template")
    with suite_environment(tmp_path_factory.mktemp("state")), contextlib.chdir(folder):
        result = CliRunner().invoke(main, ["init", "--example"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["events.xlsx", "tracker.toml"]
    return folder


def copy_example(template: Path, folder: Path) -> Path:
    """The example tracker (tracker.toml, events.xlsx) copied into `folder`; returns the workbook."""
    for name in ("tracker.toml", "events.xlsx"):
        shutil.copyfile(template / name, folder / name)
    return folder / "events.xlsx"


BuiltOnce = Callable[[str, Callable[[], Any]], Any]


@pytest.fixture(scope="session")
def _built_folders() -> dict[str, tuple[Path, Any]]:
    return {}


@pytest.fixture
def built_once(
    _built_folders: dict[str, tuple[Path, Any]], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> BuiltOnce:
    """built_once(key, build): the test's folder as `build()` leaves it, and what `build` returned. The first test
    of the session (of each xdist worker) that asks for `key` runs `build` in its own folder; the others get a copy
    of that folder and of the value (a workbook made by twenty commands costs ~0.6 s, a copy a few ms). `build`
    must depend on nothing but the suite's clock and the moments it sets itself; the caller sets the clock after."""

    def use(key: str, build: Callable[[], Any]) -> Any:
        import copy

        if key not in _built_folders:
            value = build()
            state = Path(os.environ["TRACKER_STATE_DIR"])
            if state.exists() and any(state.iterdir()):  # a SharePoint workbook's journal: not in the folder
                raise AssertionError(f"built_once({key!r}): the build left state in {state}, which a copy would lose")
            template = tmp_path_factory.mktemp(f"built-{key}") / "folder"
            shutil.copytree(tmp_path, template, symlinks=True)
            _built_folders[key] = (template, value)
            return copy.deepcopy(value)
        template, value = _built_folders[key]
        shutil.copytree(template, tmp_path, symlinks=True, dirs_exist_ok=True)
        return copy.deepcopy(value)

    return use


@pytest.fixture
def example(run: Run, tmp_path: Path, example_template: Path) -> Path:
    """A folder with tracker.toml and events.xlsx as `tracker init --example` makes them at the suite's moment
    (built once per session, copied); returns the workbook."""
    return copy_example(example_template, tmp_path)


@pytest.fixture
def event_id() -> str:
    """The ID of the open event `init --example` creates (its year is the suite clock's)."""
    return suite_clock.event_id(1)


def tracker_command() -> list[str]:
    """The installed console script, run as a separate process."""
    script = Path(sys.executable).parent / "tracker"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracker"]


def process_env(*, real_clock: bool = False, **extra: str) -> dict[str, str]:
    """This environment without the developer's TRACKER_* variables (the test's state folder kept), on the test's
    clock (TRACKER_NOW: this moment of the rehearsal clock the test runs on; `real_clock`: the machine's, for a
    process that must really wait), plus `extra`."""
    from tracker.times import CLOCK

    state = {"TRACKER_STATE_DIR": os.environ["TRACKER_STATE_DIR"]} if "TRACKER_STATE_DIR" in os.environ else {}
    clock = {}
    if CLOCK.simulated and not real_clock:
        clock = {"TRACKER_NOW": CLOCK.now().isoformat(), "TRACKER_REHEARSAL_SEND": "yes"}
    return (
        {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        | {"TRACKER_USER": "Test Manager"}
        | state
        | clock
        | extra
    )


REHEARSAL_NOTE = "note: rehearsing at TRACKER_NOW="


def error_lines(stderr: str) -> list[str]:
    """What a command run by `run_process` said on stderr, without the rehearsal clock's note (the tests' processes
    run on the suite's clock through TRACKER_NOW, and tracker says so first)."""
    return [line for line in stderr.strip().splitlines() if not line.startswith(REHEARSAL_NOTE)]


def run_process(*args: str, cwd: Path, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run tracker as its own process (for locks, crashes and concurrency)."""
    return subprocess.run(
        [*tracker_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        env=process_env(),
    )


def start_process(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start tracker as its own process, output captured, without waiting for it."""
    return subprocess.Popen(
        [*tracker_command(), *args],
        cwd=cwd,
        env=env or process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_at_once(
    commands: list[list[str]], cwd: Path, env: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Start every command before waiting for any (writers racing each other); return how each ended."""
    procs = [start_process(*command, cwd=cwd, env=env) for command in commands]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def soffice() -> str | None:
    """The LibreOffice binary, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture
def sp(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, example_template: Path) -> Iterator[Any]:
    """A SharePoint stand-in holding the example workbook; tracker.toml in tmp_path points at it in the write
    `mode` the test module's `mode` fixture gives; no local workbook."""
    from tests.sharepoint_standin import StandIn
    from tests.test_store_sharepoint import PATH, TOKENS, _config

    copy_example(example_template, tmp_path)
    with StandIn() as standin:
        standin.put_file(PATH, (tmp_path / "events.xlsx").read_bytes())
        (tmp_path / "events.xlsx").unlink()
        (tmp_path / "tracker.toml").write_text(_config(standin, mode))
        for name, value in TOKENS.items():
            monkeypatch.setenv(name, value)
        yield standin
    assert standin.errors == []


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set the rehearsal clock: at(when) makes that moment 'now' for the commands that follow (TRACKER_NOW)."""
    from tracker.times import CLOCK

    def move(when: datetime) -> None:
        monkeypatch.setenv("TRACKER_NOW", when.isoformat())
        monkeypatch.setenv("TRACKER_REHEARSAL_SEND", "yes")  # the tests' mail servers and channels are their own
        CLOCK.reset()

    return move


V0_1_MADE = datetime(2026, 11, 22, 7, 40, tzinfo=UTC)
"""tests/data/v0_1 was made by tracker 0.1 (`init --example`, then `notify` at 0734Z) just before this moment."""


V0_3_MADE = datetime(2026, 11, 23, 9, 35, tzinfo=UTC)
"""tests/data/v0_3 was made by tracker 0.3 (`init --example` at 0930Z, then `notify --open` at 0934Z) just before."""


@pytest.fixture
def v0_3(tmp_path: Path, at: Callable[[datetime], None]) -> Path:
    """tests/data/v0_3 (made and notified by tracker 0.3, the last release: one example event, its emails logged
    with 0.3's fingerprints) copied into tmp_path, the clock at the moment it was made; returns the workbook."""
    for name in ("events.xlsx", "tracker.toml"):
        shutil.copy(Path(__file__).parent / "data" / "v0_3" / name, tmp_path / name)
    at(V0_3_MADE)
    return tmp_path / "events.xlsx"


@pytest.fixture
def v0_1(tmp_path: Path, at: Callable[[datetime], None]) -> Path:
    """tests/data/v0_1 (a tracker made and notified by tracker 0.1: one example event) copied into tmp_path, the clock
    at the moment it was made (its event's times are that day's); returns the workbook."""
    for name in ("events.xlsx", "tracker.toml"):
        shutil.copy(Path(__file__).parent / "data" / "v0_1" / name, tmp_path / name)
    at(V0_1_MADE)
    return tmp_path / "events.xlsx"

"""The `tracker` command line: the group, which turns errors into one line and an exit code, and its commands.

Each command parses options, calls one library function and shows the result. The commands live in a module per
group (setup, events, sending, publish, report, review); this module lists them, and none imports it back."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracker import __version__
from tracker.cli import events, sending, setup
from tracker.cli.doctor import doctor
from tracker.cli.handover import handover_cmd
from tracker.cli.intake import intake_cmd
from tracker.cli.publish import publish_cmd
from tracker.cli.report import report
from tracker.cli.review import action_cmd, review_cmd
from tracker.cli.state import State
from tracker.cli.tasks import task_cmd
from tracker.errors import TrackerError
from tracker.text import printable as _printable

if TYPE_CHECKING:
    pass


class TrackerGroup(click.Group):
    """Turns tracker's own errors into one line on stderr and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        engine = sys.modules.get("tracker.store.engine")
        if engine is not None:  # a command run in the same process as an earlier one (tests, tools) starts afresh
            engine.WRITTEN.clear()
        try:
            try:
                return super().invoke(ctx)
            except BaseException:  # noqa: BLE001 - re-raised: only stderr is given back first
                if "tracker.workbook.opening" in sys.modules:  # parser threads may still hold stderr silenced
                    sys.modules["tracker.workbook.opening"].restore_native_stderr()
                raise
        except BrokenPipeError:  # `tracker show ... | head`: the reader has all it wanted
            _quiet_stdout()
            ctx.exit(0)
        except TrackerError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except PermissionError as exc:
            click.echo(f"error: permission denied: {_printable(exc.filename or exc)}", err=True)
            ctx.exit(1)
        except OSError as exc:  # a full disk, a vanished folder, an unplugged share: the workbook is replaced whole
            where = f" ({_printable(exc.filename)})" if exc.filename else ""
            click.echo(f"error: {exc.strerror or exc}{where}; nothing was written", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo(f"error: interrupted (Ctrl-C); {_what_was_written()}", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - the last resort: one line and a report, never a bare traceback
            report = write_crash_report(exc, ctx.invoked_subcommand or "")
            verbose = isinstance(ctx.obj, State) and ctx.obj.verbose
            if verbose:
                click.echo(report.read_text(encoding="utf-8") if report else "", err=True)
            where = f"the full report is in {report}" if report else "no report could be written"
            click.echo(
                f"error: `tracker {ctx.invoked_subcommand or ''}` failed unexpectedly "
                f"({type(exc).__name__}: {_printable(exc)}); {where}. Please report it (--verbose prints it)",
                err=True,
            )
            ctx.exit(INTERNAL_ERROR)
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.report_set_aside()
                ctx.obj.report_typed()


def _what_was_written() -> str:
    """After a Ctrl-C: whether the command's change is in the workbook already (then running it again would do it
    twice), or nothing was written."""
    engine = sys.modules.get("tracker.store.engine")
    written = list(getattr(engine, "WRITTEN", []))
    if not written:
        return "nothing was written"
    return (
        f"the workbook was written before it: it has this command's change ({engine.describe(written)}); "  # type: ignore[union-attr]
        "do not run the command again (`tracker show ID` shows it)"
    )


def _quiet_stdout() -> None:
    """Point stdout at nothing, so flushing it at exit does not fail again on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


INTERNAL_ERROR = 3  # exit code of an unexpected failure (a bug): see README, "What tracker refuses, and why"


def crash_folder() -> Path:
    """Where reports of unexpected failures go: the user's cache folder."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "tracker" / "crash-reports"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tracker" / "crash-reports"


def write_crash_report(exc: BaseException, command: str) -> Path | None:
    """Write the traceback and context of an unexpected failure to a private file; its path, or None."""
    import platform
    import traceback
    from datetime import UTC

    folder = crash_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = folder / f"tracker-{stamp}-{os.getpid()}.txt"
        text = (
            f"tracker {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
            f"command: tracker {command} (its arguments are left out: they may hold event details)\n"
            f"cwd: {Path.cwd()}\n\n" + "".join(traceback.format_exception(exc))
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        return path
    except OSError:
        return None


@click.group(cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config", "config_path", metavar="PATH", help="tracker.toml to use (default: found in this folder or above)."
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Log every SharePoint / Graph request (method, path, status, time) to stderr."
)
@click.version_option(__version__, prog_name="tracker")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Keep the event tracker workbook schema-checked and safe, and send its outage emails.

    \b
    Example:
      tracker init --example
      tracker open --title "VPN down at HQ" --severity "Sev 2" --service VPN
      tracker update EVT-2026-0002 --note "Firewall rebooted" --status Monitoring
      tracker notify EVT-2026-0002
    """
    ctx.obj = State(config_path, verbose)
    _log_to_stderr(verbose)
    rehearsal = os.environ.get("TRACKER_NOW", "").strip()
    if rehearsal and ctx.invoked_subcommand not in (None, "init"):
        click.echo(
            f"note: rehearsing at TRACKER_NOW={_printable(rehearsal)}: times written and sent are that moment's "
            "(unset TRACKER_NOW for real work)",
            err=True,
        )


def _log_to_stderr(verbose: bool) -> None:
    """--verbose: what the library logs (the `tracker` loggers: each SharePoint and Graph request) goes to stderr,
    one line each. The library itself never writes to the terminal."""
    import logging

    logger = logging.getLogger("tracker")
    for handler in [h for h in logger.handlers if getattr(h, "tracker_cli", False)]:
        logger.removeHandler(handler)  # an earlier command in this process (tests, tools) had its own stderr
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.tracker_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


for command in (
    setup.init,
    setup.validate,
    events.open_cmd,
    events.update,
    events.resolve,
    events.change,
    events.ack,
    sending.due,
    sending.roster,
    sending.watch_cmd,
    intake_cmd,
    handover_cmd,
    events.list_cmd,
    events.show,
    sending.notify,
    setup.sync,
    setup.login,
    setup.logout,
    setup.whoami,
    doctor,
    report,
    publish_cmd,
    review_cmd,
    action_cmd,
    task_cmd,
    events.approve,
):
    main.add_command(command)

"""The `tracker` command line: the group, which turns errors into one line and an exit code, and its commands.

Each command parses options, calls one library function and shows the result. The commands live in a module per
group (setup, events, sending, publish, report, review); this module lists them, and none imports it back."""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from tracker import __version__
from tracker.cli import help_text
from tracker.cli.help_text import MAX_CONTENT_WIDTH, help_width

if TYPE_CHECKING:  # what only a running command needs is imported in the functions: `tracker --help` needs none
    from pathlib import Path

    from click.shell_completion import CompletionItem

# Every command: name -> ("module:attribute" in tracker.cli, the first paragraph of its help). `tracker --help` lists
# the commands from here, so it imports none of their modules (their click decorators cost ~25 ms); a command's
# module is imported when it runs, shows its own help or completes its options. The help is the command's own
# docstring, copied: tests/test_startup.py fails, printing the right entry, when this table and the modules differ.
COMMANDS: dict[str, tuple[str, str]] = {
    "ack": (
        "events:ack",
        "Record that event management acknowledged the event: the first-response SLA stops.",
    ),
    "action": (
        "review:action_cmd",
        "Follow-up actions from post-incident reviews (the Actions sheet): add, list, set, done.",
    ),
    "approve": (
        "events:approve",
        "Release an audience the event's category holds (Categories sheet, Approval Before), e.g. a security "
        "event's customer: the event's Approved For names it, the timeline records who approved, and the next "
        "`notify` tells it.",
    ),
    "change": (
        "events:change",
        "Record a change made while troubleshooting (the Changes sheet).",
    ),
    "doctor": (
        "doctor:doctor",
        "Check, one line a step, what tracker needs: settings, this machine's folders, the sign-in, the workbook, "
        "writing, the status page, mail and Teams. A problem line says what to change (the permission, the "
        "consent, the setting). Nothing is changed: the write test uses a scratch file, and mail and Teams are "
        "only tested when asked.",
    ),
    "due": (
        "sending:due",
        "What the team owes now: each open event's next update, SLAs at risk or breached, the process review.",
    ),
    "handover": (
        "handover:handover_cmd",
        "The shift handover: open events with their status, latest update and what is due next, SLA timers at "
        "risk, events not acknowledged, open review actions and reports waiting to be taken in.",
    ),
    "init": (
        "setup:init",
        "Create tracker.toml and a new tracker workbook in the current folder.",
    ),
    "intake": (
        "intake:intake_cmd",
        "Take in new messages to the team mailbox: each becomes an event, once.",
    ),
    "list": (
        "events:list_cmd",
        "List events: ID, severity, status, when the next update is due, the SLA most at stake, title.",
    ),
    "login": (
        "setup:login",
        "Sign in to SharePoint (device code for people; checks the certificate or token otherwise).",
    ),
    "logout": (
        "setup:logout",
        "Forget the cached device-code sign-in.",
    ),
    "notify": (
        "sending:notify",
        "Send the outage emails for an event to every audience its severity lists.",
    ),
    "open": (
        "events:open_cmd",
        "Record a new event; prints its new ID.",
    ),
    "publish": (
        "publish:publish_cmd",
        "Publish the status page: open events worst first, SLAs missed, the last 7 days, two charts.",
    ),
    "report": (
        "report:report",
        "Figures of a period: events, time to acknowledge and to restore (mean, median), SLA attainment per "
        "severity, outage minutes and user-minutes per service, the worst events, the events still open, the "
        "share of updates sent on time (per severity and communication lead), events by hour, weekday and out of "
        "hours.",
    ),
    "resolve": (
        "events:resolve",
        "Mark an event Resolved: resolution time, root cause and the final update.",
    ),
    "review": (
        "review:review_cmd",
        "Write the post-incident review draft of an event, or record the review (--record).",
    ),
    "roster": (
        "sending:roster",
        "Who is on duty now (every role on the Roster sheet), and who comes next as duty event manager and stand-by.",
    ),
    "show": (
        "events:show",
        "Show one event and its timeline (updates and changes, oldest first).",
    ),
    "sync": (
        "setup:sync",
        "Write edits waiting in the local journal (e.g. the log of emails already sent) to the workbook, and "
        "apply the rows people typed in Excel (an Updates row, an Events row without an ID) as the commands "
        "would.",
    ),
    "task": (
        "tasks:task_cmd",
        "Who is doing what on an event (the Tasks sheet): add, claim, done, list.",
    ),
    "update": (
        "events:update",
        "Add a timestamped update to an event's timeline; the event row follows.",
    ),
    "validate": (
        "setup:validate",
        "Check every row of every sheet against the schema, cross-sheet references included.",
    ),
    "watch": (
        "sending:watch_cmd",
        "Keep time in a loop: reminders and escalations (and with --notify the outage emails) as they fall due.",
    ),
    "whoami": (
        "setup:whoami",
        "Show who tracker signs in as, in which cloud, and whether the workbook is reachable.",
    ),
}
HIDDEN: frozenset[str] = frozenset()
"""Commands left out of `tracker --help` (as click's `hidden=True`, which the test checks against)."""


class _HelpFormatter(click.HelpFormatter):
    """click's, measuring the terminal as its `shutil.get_terminal_size()` does, without importing shutil (which
    brings zlib, bz2 and lzma: 2 ms of `tracker --help`)."""

    def __init__(self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None) -> None:
        if width is None and click.formatting.FORCED_WIDTH is None:
            width = help_width(max_width)
        super().__init__(indent_increment, width, max_width)


class _Context(click.Context):
    formatter_class = _HelpFormatter


class TrackerGroup(click.Group):
    """Turns tracker's own errors into one line on stderr and an exit code, in one place; imports a command's module
    only when that command is used (COMMANDS)."""

    context_class = _Context

    listing = False  # True while the group lists its commands: the table's help stands in for each command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module, attribute = COMMANDS[cmd_name][0].split(":")
        if self.listing:
            return click.Command(cmd_name, help=COMMANDS[cmd_name][1], hidden=cmd_name in HIDDEN)
        command = getattr(importlib.import_module(f"tracker.cli.{module}"), attribute)
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self.listing = False

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        self.listing = True  # the names and short helps; completing a command's options imports its module
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self.listing = False

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:  # click suggests from the commands loaded (maybe none yet)
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def invoke(self, ctx: click.Context) -> Any:
        engine = sys.modules.get("tracker.store.engine")
        if engine is not None:  # a command run in the same process as an earlier one (tests, tools) starts afresh
            engine.WRITTEN.clear()
        try:
            from tracker.cli.state import State  # lazy: a command runs (`tracker --help` needs none of these)
            from tracker.errors import TrackerError  # lazy: a command runs
            from tracker.text import printable as _printable  # lazy: a command runs
        except KeyboardInterrupt:  # still starting, as in tracker.entry (click would say "Aborted!" and exit 1)
            click.echo("error: interrupted (Ctrl-C) while starting; nothing was done", err=True)
            ctx.exit(130)
        try:
            try:
                return super().invoke(ctx)
            except BaseException:  # noqa: BLE001 - re-raised: only stderr is given back first
                if "tracker.workbook.early" in sys.modules:  # parser threads may still hold stderr silenced
                    sys.modules["tracker.workbook.early"].restore_native_stderr()
                raise
        except BrokenPipeError:  # `tracker show ... | head`: the reader has all it wanted
            _quiet_stdout()
            ctx.exit(0)
        except TrackerError as exc:
            click.echo(f"error: {exc}{_written_after()}", err=True)
            ctx.exit(exc.exit_code)
        except PermissionError as exc:
            click.echo(f"error: permission denied: {_printable(exc.filename or exc)}{_written_after()}", err=True)
            ctx.exit(1)
        except OSError as exc:  # a full disk, a vanished folder, an unplugged share: the workbook is replaced whole
            where = f" ({_printable(exc.filename)})" if exc.filename else ""
            click.echo(
                f"error: {exc.strerror or exc}{where}; {_what_was_written()}", err=True
            )  # (printing may fail last)
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


def _written_after() -> str:
    """For an error that says what went wrong in its own words: "; " and that the change is in, when the workbook was
    written before it (else nothing: the error's words stand)."""
    return f"; {_what_was_written()}" if _written() else ""


def _what_was_written() -> str:
    """After a Ctrl-C or an error (a full disk, output that cannot be printed): whether the command's change is in
    the workbook already (then running it again would do it twice), or nothing was written."""
    written = _written()
    if not written:
        return "nothing was written"
    engine = sys.modules["tracker.store.engine"]
    return (
        f"the workbook was written before it: it has this command's change ({engine.describe(written)}); "
        "do not run the command again (`tracker show ID` shows it)"
    )


def _written() -> list[Any]:
    """The changes this command wrote to the workbook so far (tracker.store.engine notes them; none before a write
    loaded it)."""
    return list(getattr(sys.modules.get("tracker.store.engine"), "WRITTEN", []))


def _quiet_stdout() -> None:
    """Point stdout at nothing, so flushing it at exit does not fail again on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


INTERNAL_ERROR = 3  # exit code of an unexpected failure (a bug): see README, "What tracker refuses, and why"


def crash_folder() -> Path:
    """Where reports of unexpected failures go: the user's cache folder."""
    from pathlib import Path

    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "tracker" / "crash-reports"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tracker" / "crash-reports"


def write_crash_report(exc: BaseException, command: str) -> Path | None:
    """Write the traceback and context of an unexpected failure to a private file; its path, or None."""
    import platform
    import traceback
    from datetime import UTC, datetime
    from pathlib import Path

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


@click.group(
    cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": MAX_CONTENT_WIDTH}
)
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
    from tracker.cli.state import State  # lazy: a command runs
    from tracker.text import printable as _printable  # lazy: a command runs

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
    if not verbose and "logging" not in sys.modules:
        return  # nothing logs yet, and nothing is to be shown: logging need not even load
    import logging

    logger = logging.getLogger("tracker")
    for handler in [h for h in logger.handlers if getattr(h, "tracker_cli", False)]:
        logger.removeHandler(handler)  # an earlier command in this process (tests, tools) had its own stderr
        logger.setLevel(logging.NOTSET)  # (and its level, which this command's --verbose sets again if asked)
    if verbose:
        from tracker.workbook.early import own_stderr

        own_stderr()  # first: a parse silences descriptor 2, and a request logged meanwhile must not go with it
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.tracker_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def write_kept_help() -> None:
    """Write tracker/cli/help_text.py's TEXTS again: `tracker --help` as click writes it now at each kept width."""
    from pathlib import Path

    texts = {}
    for width in (78, 98):
        context = click.Context(main, info_name="tracker", terminal_width=width, **main.context_settings)
        texts[width] = main.get_help(context) + "\n"
    assert all('"""' not in text and "\\" not in text for text in texts.values())
    path = Path(help_text.__file__)
    source = path.read_text(encoding="utf-8").partition("\nTEXTS = ")[0]
    kept = "".join(f'    {width}: """\\\n{text}""",\n' for width, text in texts.items())
    path.write_text(f"{source}\nTEXTS = {{\n{kept}}}\n", encoding="utf-8")

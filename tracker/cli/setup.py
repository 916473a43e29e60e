"""Setting up: `tracker init`, `validate`, `sync`, `login`, `logout`, `whoami`.

The library is imported inside each command, deliberately: `tracker --help` and a mistyped option answer without
loading openpyxl, msal or the office365 client."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracker.cli.state import State, pass_state, typed_of
from tracker.errors import UsageError
from tracker.text import printable as _printable

if TYPE_CHECKING:
    pass


@click.command()
@click.option("--example", is_flag=True, help="Add sample severities, services, distribution lists and one open event.")
@click.option("--workbook", "workbook_name", help="File name of the new workbook (default: events.xlsx).")
@click.option("--name", help="Your name as emails (Contact) and the timeline show it; asked on a terminal.")
def init(example: bool, workbook_name: str | None, name: str | None) -> None:
    """Create tracker.toml and a new tracker workbook in the current folder.

    Each sheet is an Excel table with dropdowns, help text and formatting. An existing
    workbook is never overwritten; an existing tracker.toml is kept and used (--name sets
    its [user] name).

    \b
    Example:
      tracker init --example
    """
    from tracker.config import CONFIG_NAME
    from tracker.rules.init import init_tracker

    if name is None and sys.stdin.isatty() and not (Path.cwd() / CONFIG_NAME).exists():
        import getpass

        try:
            login = getpass.getuser()
        except (KeyError, OSError):  # no user name in the environment or the password database
            login = ""
        default = os.environ.get("TRACKER_USER") or login or None
        name = click.prompt("Your name, as emails and the timeline show it", default=default, show_default=True)
    created = init_tracker(Path.cwd(), example=example, workbook_name=workbook_name, name=name)
    if created.config_created:
        click.echo(f"created {created.config.name}")
    elif created.name_set:
        click.echo(f"set [user] name in {created.config.name}: {_printable(name)}")
    click.echo(f"created {created.workbook.name}" + (" with example data" if example else ""))
    if created.example_events:
        click.echo(f"example event: {', '.join(created.example_events)}")
    if example:
        click.echo("next: tracker validate, then tracker open --title ... --severity ... --service ...")
    else:
        click.echo(
            f"next: open {created.workbook.name} and fill the Severities, Services and Distribution sheets (each "
            "column's note says what goes in it), then tracker validate, then tracker open --title ... --severity "
            "... --service ..."
        )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list (see README).")
@click.option(
    "--fix",
    is_flag=True,
    help="First correct what has one reading only (a date or number typed as text, a dropdown value with stray "
    "spaces or another case) and list each cell corrected.",
)
@click.option(
    "--formulas",
    is_flag=True,
    help="Print the names the red overdue highlight needs for the display timezone, to paste in Excel's Name "
    "Manager (when validate says the highlight is off), and check nothing.",
)
@pass_state
def validate(state: State, as_json: bool, fix: bool, formulas: bool) -> None:
    """Check every row of every sheet against the schema, cross-sheet references included.

    Exit code 0 when there are no errors, 1 when there are. Columns you added
    yourself are reported as information, not errors.

    \b
    Example:
      tracker validate
      tracker validate --fix
      tracker validate --json | jq '.[] | select(.level == "error") | .cell'
      tracker validate --formulas
    """
    if formulas:
        if fix or as_json:
            raise UsageError("--formulas prints the Name Manager entries and checks nothing: run it alone")
        _print_formulas(state)
        return

    store = state.store(read_only=not fix)  # without --fix it only reads: no typed-rows plan (nor its imports)
    if fix:
        _fix(state, store)
    tracker = store.read()
    tracker.preload(*tracker.schema.sheets)  # the sheets parse in threads while the checks' modules load
    from tracker.checks import check

    problems = check(state.config, tracker)
    errors = [p for p in problems if p.level == "error"]
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in problems], indent=2, ensure_ascii=False))
    else:
        for problem in problems:
            click.echo(("error: " if problem.level == "error" else "note: ") + str(problem))
        infos = len(problems) - len(errors)
        summary = f"{len(errors)} error{'s' * (len(errors) != 1)}"
        if infos:
            summary += f", {infos} note{'s' * (infos != 1)}"
        click.echo(f"{Path(tracker.source).name}: {'ok' if not errors else 'problems found'} ({summary})")
    if errors:
        sys.exit(1)


@click.command()
@pass_state
def sync(state: State) -> None:
    """Write edits waiting in the local journal (e.g. the log of emails already sent) to the workbook, and apply the
    rows people typed in Excel (an Updates row, an Events row without an ID) as the commands would.

    \b
    Example:
      tracker sync
    """
    store = state.store()
    journal = store.journal
    pending = journal.pending() if journal else []
    for batch in pending:
        click.echo(f"pending since {batch.recorded_at}: {len(batch.edits)} edit(s) ({batch.reason})")
    if not state.apply_typed(store, always=True):  # the journal's edits, and the typed rows (a write per row maybe)
        store.commit(lambda _tracker: [])
    typed = typed_of(store)
    if typed is not None and (typed.applied or typed.refused):
        state.report_typed(err=False)
    elif not pending:
        click.echo("nothing pending")
    if not pending:
        return
    total = sum(len(batch.edits) for batch in pending)
    written = len(store.replayed)
    set_aside = sum(len(edits) for edits, _reason in store.set_aside)
    click.echo(f"wrote {written} pending edit(s) to {Path(store.location).name}")
    if total - written - set_aside > 0:
        click.echo(f"{total - written - set_aside} were already in the workbook or no longer apply")
    if set_aside:
        click.echo(f"{set_aside} could no longer be written and were set aside (see below)")


def _sharepoint_settings(state: State) -> Any:

    if state.config.sharepoint is None:
        raise UsageError(
            "this tracker.toml has no [sharepoint] section: the workbook is a local file, no sign-in needed"
        )
    return state.config.sharepoint


@click.command()
@pass_state
def login(state: State) -> None:
    """Sign in to SharePoint (device code for people; checks the certificate or token otherwise).

    With auth = "device-code" this prints a code to enter at the Microsoft sign-in page; the
    token is cached in the OS keyring (or a file only you can read), so later commands do not ask.

    \b
    Example:
      tracker login
    """
    from tracker.microsoft365.auth import device_code_login

    settings = _sharepoint_settings(state)
    if settings.auth == "device-code":
        who = device_code_login(settings, lambda text: click.echo(text, err=True))
        click.echo(f"signed in as {who}")
        return
    _whoami(state, settings)


@click.command()
@pass_state
def logout(state: State) -> None:
    """Forget the cached device-code sign-in.

    \b
    Example:
      tracker logout
    """
    from tracker.microsoft365.auth import forget_token_cache

    settings = _sharepoint_settings(state)
    if settings.auth != "device-code":
        click.echo(f'nothing cached: auth = "{settings.auth}" keeps no sign-in')
        return
    click.echo(f"signed out (removed the cached sign-in from {forget_token_cache(settings)})")


@click.command()
@pass_state
def whoami(state: State) -> None:
    """Show who tracker signs in as, in which cloud, and whether the workbook is reachable.

    \b
    Example:
      tracker whoami
    """
    if state.config.sharepoint is None:  # nothing to sign in to: say what there is, and that it is fine
        where = state.config.workbook_path
        found = "" if where.exists() else " (it does not exist yet: run `tracker init`)"
        click.echo(f"local workbook {where}{found}; no sign-in needed (you are {state.config.user})")
        return
    _whoami(state, _sharepoint_settings(state))


def _whoami(state: State, settings: Any) -> None:
    from tracker.microsoft365.auth import token_identity, tokens_for
    from tracker.microsoft365.remote import Remote

    tokens = tokens_for(settings)
    claims = token_identity(tokens.sharepoint()["access_token"])
    who = claims.get("upn") or claims.get("preferred_username") or claims.get("app_displayname") or claims.get("appid")
    click.echo(f"cloud:     {settings.cloud.name}")
    click.echo(f"site:      {settings.site_url}")
    click.echo(f"workbook:  {settings.path}")
    click.echo(f"sign-in:   {settings.auth}" + (f" as {who}" if who else ""))
    if "exp" in claims:
        from datetime import UTC

        click.echo(f"expires:   {state.show_time(datetime.fromtimestamp(int(claims['exp']), UTC))}")
    props = Remote(settings, tokens, verbose=state.verbose).properties()
    click.echo(f"reachable: yes ({int(props.get('Length') or 0):,} bytes, version {props.get('ETag', '?')})")


def _print_formulas(state: State) -> None:
    """validate --formulas: the Name Manager entries the overdue highlight needs, and where they go."""
    from tracker.times import utcnow
    from tracker.workbook.overdue_highlight import UTC_NOW_NAME, names_to_paste

    zone = state.config.display.timezone
    click.echo(
        f"For viewers in {zone}: in Excel, Formulas > Name Manager, add (or edit) each name below with its formula; "
        f"then in Home > Conditional Formatting > Manage Rules (Events sheet), put {UTC_NOW_NAME} in place of NOW() "
        "in the red overdue rule."
    )
    for name, formula in names_to_paste(zone, utcnow()):
        click.echo(f"{name}\t{formula}")


def _fix(state: State, store: Any) -> None:
    """validate --fix: correct each cell with one reading only, and list them."""
    from tracker.workbook.fixes import Fix, plan_fixes

    if state.config.excel_service_writes:
        raise UsageError(
            'validate --fix needs write_mode = "upload" (the Excel service addresses rows by their key, and '
            "several sheets have none); fix the cells validate names in Excel, or switch write_mode for the fix"
        )
    if store.journal is not None and store.journal.edits():
        raise UsageError(
            "edits wait in the journal; run `tracker sync` first, so --fix sees the workbook as it will be"
        )

    done: list[Fix] = []

    def plan(current: Any) -> list[Any]:
        edits, fixes = plan_fixes(current)
        done[:] = fixes
        return edits

    store.commit(plan)
    for item in done:
        after = state.show_time(item.after)
        click.echo(_printable(f"fixed {item.cell} ({item.column}): {item.before!r} -> {after} ({item.why})"))
    if not done:
        click.echo("nothing to fix: no cell has a single obvious correction")

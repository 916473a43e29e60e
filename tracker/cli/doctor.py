"""`tracker doctor`: check, step by step, that this machine and this configuration can do tracker's work."""

from __future__ import annotations

import json
import sys

import click

from tracker.cli.state import State, pass_state
from tracker.text import printable as _printable


@click.command()
@click.option(
    "--write", is_flag=True, help="Also write and remove a scratch file beside the workbook (never the tracker)."
)
@click.option("--send-test", "send_to", metavar="ADDRESS", help="Also send a test email to ADDRESS through [mail].")
@click.option("--teams-test", is_flag=True, help="Also post a test card to the [teams] channel.")
@click.option("--json", "as_json", is_flag=True, help="Print the steps as a JSON list (see README).")
@pass_state
def doctor(state: State, write: bool, send_to: str | None, teams_test: bool, as_json: bool) -> None:
    """Check, one line a step, what tracker needs: settings, this machine's folders, the
    sign-in, the workbook, writing, the status page, mail and Teams. A problem line says
    what to change (the permission, the consent, the setting). Nothing is changed: the
    write test uses a scratch file, and mail and Teams are only tested when asked.

    Exit code 0 when every step the configuration needs is ok, 1 otherwise.

    \b
    Example:
      tracker doctor
      tracker doctor --write --send-test alex.morgan@example.com --teams-test
      tracker doctor --json | jq '.[] | select(.status == "problem")'
    """
    from tracker.doctor import PROBLEM, Options, examine
    from tracker.store.backends import open_store

    options = Options(write=write, send_to=send_to or "", teams=teams_test)
    steps = examine(state.config, options, lambda config: open_store(config, verbose=state.verbose))
    if as_json:
        click.echo(json.dumps([step.to_json() for step in steps], indent=2, ensure_ascii=False))
    else:
        width = max(len(step.name) for step in steps)
        for step in steps:
            line = f"{step.status:<8} {step.name:<{width}}  {step.detail}"
            click.echo(_printable(line + (f"; to fix: {step.fix}" if step.fix and step.status == PROBLEM else "")))
    if any(step.status == PROBLEM for step in steps):
        sys.exit(1)

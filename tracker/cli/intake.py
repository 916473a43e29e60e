"""`tracker intake`: new messages to the team mailbox ([intake] folder of .eml files, or a mailbox read through
Microsoft Graph) become events, and replies naming an event add to it."""

from __future__ import annotations

import json
import sys

import click

from tracker.cli.state import State, pass_state
from tracker.text import printable as _printable


@click.command("intake")
@click.option("--json", "as_json", is_flag=True, help="Print what became of each message as JSON.")
@pass_state
def intake_cmd(state: State, as_json: bool) -> None:
    """Take in new messages to the team mailbox: each becomes an event, once.

    A new message opens an event (the sender reports it, the subject is its
    title, the text its first internal update) and its sender gets one reply
    with the event ID. A message whose subject names an event (a reply keeping
    EVT-<year>-<n> in it) adds its text to that event as an internal note.
    Set [intake] folder (a folder of .eml files) or [intake] mailbox (read
    through Microsoft Graph); `tracker watch` takes in mail on each tick too.
    Exit code 2 when [intake] names neither; 1 when a reply could not be
    sent (the next run tries it again).

    \b
    Example:
      tracker intake
      tracker intake --json
    """
    from tracker.sending.intake_mail import take_in_mail
    from tracker.times import utcnow

    store = state.store()
    done = take_in_mail(store, state.config, utcnow())
    if as_json:
        click.echo(json.dumps({"messages": [t.to_json() for t in done]}, indent=2, ensure_ascii=False))
    else:
        for taken in done:
            click.echo(_printable(taken.line()))
        if not done:
            click.echo("nothing new")
    if any(taken.owed for taken in done):
        sys.exit(1)

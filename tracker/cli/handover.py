"""`tracker handover`: the shift handover summary (also sent at each Roster shift change by `due --remind` and
`watch`)."""

from __future__ import annotations

import json

import click

from tracker.cli.state import State, pass_state
from tracker.text import printable as _printable


@click.command("handover")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (see README, Shift handover).")
@click.option(
    "--send", is_flag=True, help="Also send it now to whoever is on duty (event manager, communication lead)."
)
@pass_state
def handover_cmd(state: State, as_json: bool, send: bool) -> None:
    """The shift handover: open events with their status, latest update and what is due next, SLA timers at risk,
    events not acknowledged, open review actions and reports waiting to be taken in.

    At each Roster shift change `tracker due --remind` and `tracker watch` send it once to the outgoing and
    incoming people.

    \b
    Example:
      tracker handover
      tracker handover --json
      tracker handover --send
    """
    from tracker.sending.handover import handover_summary, handover_text, send_handover_now
    from tracker.times import utcnow

    store = state.store()  # rows typed in Excel are shown as they wait (pending intake), not applied
    now = utcnow()
    summary = handover_summary(store.read(), state.config, now)
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))
    else:
        for line in handover_text(summary, state.config).splitlines():
            click.echo(_printable(line))
    if not send:
        return
    for item in send_handover_now(store, state.config, now):
        if item.problem:
            click.echo(_printable(f"warning: handover not sent: {item.problem}"), err=True)
        else:
            click.echo(_printable(f"sent the handover to {item.person} <{item.address}>"), err=as_json)

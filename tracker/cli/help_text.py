"""`tracker --help` as click writes it, kept for the two widths most terminals give (80 columns, and 100 or more) so
that it prints without importing click: click alone is 25 ms, more than twice Python's own start (issue 23).
tests/test_startup.py compares what `tracker --help` prints with what click writes at every width; after changing a
command's help, write this file again with
`python -c "from tracker.cli.commands import write_kept_help; write_kept_help()"`."""

from __future__ import annotations

import os
import sys

MAX_CONTENT_WIDTH = 100
"""The group's `max_content_width`: help is wrapped at the terminal's width, up to this."""


def terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS when a positive number, else the terminal's width, else 80
    (without importing shutil, which brings zlib, bz2 and lzma)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def help_width(max_width: int | None = MAX_CONTENT_WIDTH) -> int:
    """The width click wraps help at in this terminal (its HelpFormatter's rule)."""
    return max(min(terminal_columns(), max_width or 80) - 2, 50)


def print_kept_help() -> bool:
    """Print `tracker --help` as kept for this terminal's width; False when none is kept for it (click writes it)."""
    text = TEXTS.get(help_width())
    if text is None:
        return False
    sys.stdout.write(text)
    sys.stdout.flush()
    return True


# What click writes, by width (tracker.cli.commands.write_kept_help writes it: keep it last in the file).
TEXTS = {
    78: """\
Usage: tracker [OPTIONS] COMMAND [ARGS]...

  Keep the event tracker workbook schema-checked and safe, and send its outage
  emails.

  Example:
    tracker init --example
    tracker open --title "VPN down at HQ" --severity "Sev 2" --service VPN
    tracker update EVT-2026-0002 --note "Firewall rebooted" --status Monitoring
    tracker notify EVT-2026-0002

Options:
  --config PATH  tracker.toml to use (default: found in this folder or above).
  -v, --verbose  Log every SharePoint / Graph request (method, path, status,
                 time) to stderr.
  --version      Show the version and exit.
  -h, --help     Show this message and exit.

Commands:
  ack       Record that event management acknowledged the event: the...
  action    Follow-up actions from post-incident reviews (the Actions...
  approve   Release an audience the event's category holds (Categories...
  change    Record a change made while troubleshooting (the Changes sheet).
  doctor    Check, one line a step, what tracker needs: settings, this...
  due       What the team owes now: each open event's next update, SLAs...
  handover  The shift handover: open events with their status, latest...
  init      Create tracker.toml and a new tracker workbook in the current...
  intake    Take in new messages to the team mailbox: each becomes an...
  list      List events: ID, severity, status, when the next update is...
  login     Sign in to SharePoint (device code for people; checks the...
  logout    Forget the cached device-code sign-in.
  notify    Send the outage emails for an event to every audience its...
  open      Record a new event; prints its new ID.
  publish   Publish the status page: open events worst first, SLAs...
  report    Figures of a period: events, time to acknowledge and to...
  resolve   Mark an event Resolved: resolution time, root cause and the...
  review    Write the post-incident review draft of an event, or record...
  roster    Who is on duty now (every role on the Roster sheet), and who...
  show      Show one event and its timeline (updates and changes, oldest...
  sync      Write edits waiting in the local journal (e.g. the log of...
  task      Who is doing what on an event (the Tasks sheet): add, claim,...
  update    Add a timestamped update to an event's timeline; the event...
  validate  Check every row of every sheet against the schema,...
  watch     Keep time in a loop: reminders and escalations (and with...
  whoami    Show who tracker signs in as, in which cloud, and whether the...
""",
    98: """\
Usage: tracker [OPTIONS] COMMAND [ARGS]...

  Keep the event tracker workbook schema-checked and safe, and send its outage emails.

  Example:
    tracker init --example
    tracker open --title "VPN down at HQ" --severity "Sev 2" --service VPN
    tracker update EVT-2026-0002 --note "Firewall rebooted" --status Monitoring
    tracker notify EVT-2026-0002

Options:
  --config PATH  tracker.toml to use (default: found in this folder or above).
  -v, --verbose  Log every SharePoint / Graph request (method, path, status, time) to stderr.
  --version      Show the version and exit.
  -h, --help     Show this message and exit.

Commands:
  ack       Record that event management acknowledged the event: the first-response SLA stops.
  action    Follow-up actions from post-incident reviews (the Actions sheet): add, list, set,...
  approve   Release an audience the event's category holds (Categories sheet, Approval...
  change    Record a change made while troubleshooting (the Changes sheet).
  doctor    Check, one line a step, what tracker needs: settings, this machine's folders, the...
  due       What the team owes now: each open event's next update, SLAs at risk or breached,...
  handover  The shift handover: open events with their status, latest update and what is due...
  init      Create tracker.toml and a new tracker workbook in the current folder.
  intake    Take in new messages to the team mailbox: each becomes an event, once.
  list      List events: ID, severity, status, when the next update is due, the SLA most at...
  login     Sign in to SharePoint (device code for people; checks the certificate or token...
  logout    Forget the cached device-code sign-in.
  notify    Send the outage emails for an event to every audience its severity lists.
  open      Record a new event; prints its new ID.
  publish   Publish the status page: open events worst first, SLAs missed, the last 7 days,...
  report    Figures of a period: events, time to acknowledge and to restore (mean, median),...
  resolve   Mark an event Resolved: resolution time, root cause and the final update.
  review    Write the post-incident review draft of an event, or record the review (--record).
  roster    Who is on duty now (every role on the Roster sheet), and who comes next as duty...
  show      Show one event and its timeline (updates and changes, oldest first).
  sync      Write edits waiting in the local journal (e.g. the log of emails already sent) to...
  task      Who is doing what on an event (the Tasks sheet): add, claim, done, list.
  update    Add a timestamped update to an event's timeline; the event row follows.
  validate  Check every row of every sheet against the schema, cross-sheet references included.
  watch     Keep time in a loop: reminders and escalations (and with --notify the outage...
  whoami    Show who tracker signs in as, in which cloud, and whether the workbook is reachable.
""",
}

"""What an event's category changes in what is sent: messages about a drill (category `exercise`) start with
[EXERCISE] and its outage emails go only to the Distribution rows marked Drill Yes; a category may hold an audience
until `tracker approve` (a security event's customer)."""

from __future__ import annotations

from collections.abc import Sequence

from tracker.errors import DataError, UsageError, ValidationFailed
from tracker.rules.categories import exercise_subject, held_audiences, is_drill
from tracker.sending.mail import Outgoing, Recipient, recipients_for
from tracker.workbook.reading import Row, Tracker


def marked(tracker: Tracker, message: Outgoing) -> Outgoing:
    """The message, its subject starting with [EXERCISE] when its event is a drill (the Teams card's title follows)."""
    event = tracker.sheet("Events").find(message.event_id) if message.event_id else None
    if event is None or not is_drill(tracker.schema, event):
        return message
    message.subject = exercise_subject(message.subject)
    message.message.replace_header("Subject", message.subject)
    return message


def drill_recipients(tracker: Tracker, audience: str, allowed: Sequence[str] | None) -> list[Recipient]:
    """The audience's active Distribution rows marked Drill Yes (a drill's only recipients); a workbook without the
    Drill column (added in tracker 0.4) is refused: a drill must never reach the real lists."""
    data = tracker.sheet("Distribution")
    if "drill" not in data.columns:
        raise DataError(
            "Distribution: this workbook has no 'Drill' column yet (added in tracker 0.4), so a drill would reach "
            "every recipient; nothing was sent. Type 'Drill' in the first empty header cell right of the "
            "DistributionTable table and mark Yes who takes part in exercises"
        )
    drilled = {
        str(row["email"] or "").strip().casefold()
        for row in data.rows
        if str(row["audience"] or "").casefold() == audience.casefold() and row["drill"] == "Yes"
    }
    return [r for r in recipients_for(tracker, audience, allowed) if r.email.casefold() in drilled]


def drill_rows(tracker: Tracker, audience: str) -> list[Recipient]:
    """A drill's recipients in `audience` for an escalation: those marked Drill Yes; nobody without the Drill column
    (the step then says it had nobody to tell, and the other events' steps still go)."""
    return drill_recipients(tracker, audience, None) if "drill" in tracker.sheet("Distribution").columns else []


def unmarked(tracker: Tracker, audience: str) -> list[str]:
    """The Drill cells of the audience's active rows (what to mark Yes for a drill to reach it)."""
    data = tracker.sheet("Distribution")
    return [
        data.cell("drill", row.number)
        for row in data.rows
        if str(row["audience"] or "").casefold() == audience.casefold() and row["active"] == "Yes"
    ]


def nobody_marked(tracker: Tracker, event: Row, audiences: list[str]) -> ValidationFailed:
    """The refusal when no audience of a drill has a recipient marked Drill Yes: which cells to mark."""
    cells = [cell for audience in audiences for cell in unmarked(tracker, audience)]
    return ValidationFailed(
        f"{event['id']} is an exercise: its emails go only to Distribution rows marked Drill Yes, and none of "
        f"{', '.join(audiences)} has one; nothing was sent. Mark Yes who takes part: "
        f"{', '.join(cells) or 'a Distribution row of one of these audiences'} (Drill)"
    )


def drill_audience(
    tracker: Tracker, event_id: str, audience: str, allowed: Sequence[str] | None, warnings: list[str]
) -> list[Recipient]:
    """A drill's recipients in `audience` (`drill_recipients`); none: a warning naming the cells to mark."""
    recipients = drill_recipients(tracker, audience, allowed)
    if not recipients:
        cells = ", ".join(unmarked(tracker, audience)) or "a Distribution row of it"
        cells += " (Drill)"
        warnings.append(
            f"{event_id} is an exercise and {audience} has nobody marked Drill Yes: nothing sent to it "
            f"(mark {cells} Yes for who takes part)"
        )
    return recipients


def hold(tracker: Tracker, event: Row, listed: list[str], asked: list[str] | None) -> tuple[list[str], list[str]]:
    """(the audiences to notify, a line for each held one): the event's category holds some audiences until
    `tracker approve` (Categories sheet, Approval Before); asking for a held one with --audience is refused."""
    held = {a.casefold() for a in held_audiences(tracker, event)}
    name = next((a for a in asked or () if a.casefold() in held), None)
    if name is not None:
        raise UsageError(
            f"--audience {name}: {name} is held for {event['id']} ({event['category']} event) until approved: "
            f"tracker approve {event['id']} --audience {name}"
        )
    key = event["id"]
    said = [
        f"{key} {a}: held until approved: tracker approve {key} --audience {a}" for a in listed if a.casefold() in held
    ]
    return [a for a in listed if a.casefold() not in held], said

"""The rules of post-incident reviews, below the commands that act on events: which severities need one, what
counts as held, and the gate that refuses to close an event whose review is not held. (tracker.window.review drafts and
records reviews.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracker.errors import LifecycleError
from tracker.rules.problem import Problem
from tracker.workbook.reading import Tracker

if TYPE_CHECKING:
    from tracker.rules.problem import Problem


SHEET = "Reviews"


def held_statuses(tracker: Tracker) -> tuple[str, ...]:
    """Review statuses that count as held (`x-review-held` in the schema: Held, Done)."""
    return tuple(tracker.schema[SHEET].schema.get("x-review-held", ("Held", "Done")))


def severity_key(name: str) -> str:
    """A severity name as [review] required_for matches it: case and spaces ignored ("sev2" is "Sev 2")."""
    return "".join(name.split()).casefold()


def needs_review(severity: str, required_for: Sequence[str]) -> bool:
    """Whether an event of this severity needs a held review before it is Closed ([review] required_for)."""
    return severity_key(severity) in {severity_key(name) for name in required_for}


def required_for_problems(tracker: Tracker, required_for: Sequence[str]) -> list[Problem]:
    """A name of [review] required_for that matches no row of the Severities sheet, as a `tracker validate` error:
    the gate would never apply to it. Nothing when the sheet is missing or empty (validate says so already)."""

    data = tracker.sheet("Severities")
    if not data.present:
        return []
    names = [str(row["name"]).strip() for row in data.rows if str(row["name"] or "").strip()]
    if not names:
        return []
    known = {severity_key(name) for name in names}
    return [
        Problem(
            "tracker.toml",
            None,
            None,
            name,
            f"[review] required_for names {name!r}, which is not on the Severities sheet, so no event needs a "
            "review for it",
            f"severity names from the Severities sheet: {', '.join(names)}",
        )
        for name in required_for
        if severity_key(name) not in known
    ]


def how_to_record(event_id: str) -> str:
    """The command that records a review, as the refusals say it."""
    return f'`tracker review {event_id} --record --facilitator "NAME" --date YYYY-MM-DD`'


def check_close(
    tracker: Tracker, event_id: str, severity: str, required_for: Sequence[str], *, new_severity: str | None = None
) -> None:
    """Refuse to close an event that needs a review not recorded as held (LifecycleError). It needs one when its
    severity, or the `new_severity` the same update gives it, is in `required_for`: lowering the severity while
    closing does not skip the review (the Updates sheet keeps no severity, so one lowered by an earlier update is
    not known here)."""
    new = new_severity if new_severity and severity_key(new_severity) != severity_key(severity) else None
    if needs_review(severity, required_for):
        which = severity
        now = f"was {severity} ({new} from this update)" if new else f"is {severity}"
    elif new and needs_review(new, required_for):
        which, now = new, f"is {new}"
    else:
        return
    why = f"{event_id} {now}, and {which} events need a post-incident review before Closed ([review] required_for)"
    if not tracker.layout(SHEET).present:
        raise LifecycleError(
            f"{why}, but this workbook has no Reviews sheet (added in tracker 0.3): add it (run `tracker init` in an "
            f"empty folder and copy its Reviews and Actions sheets into this workbook), then record the review with "
            f"{how_to_record(event_id)}"
        )
    row = tracker.sheet(SHEET).find(event_id)
    if row is None:
        raise LifecycleError(
            f"{why}; none is recorded: once it is held, {how_to_record(event_id)}, then close it "
            f"(`tracker review {event_id}` writes the draft document)"
        )
    held = held_statuses(tracker)
    if row["status"] not in held:
        raise LifecycleError(
            f"{why}; its review ({SHEET} row {row.number}) is {row['status'] or 'without a status'}: once it is held, "
            f"`tracker review {event_id} --record --status Held`"
        )

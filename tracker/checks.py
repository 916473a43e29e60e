"""`tracker.check`: everything `tracker validate` reports, for a program as for the command."""

from __future__ import annotations

from tracker.config import Config
from tracker.resources import has_templates
from tracker.rules.problem import Problem
from tracker.rules.review_rules import required_for_problems
from tracker.rules.validation import validate_tracker
from tracker.workbook.reading import Tracker


def check(config: Config, tracker: Tracker) -> list[Problem]:
    """Everything `tracker validate` reports, in its order: the workbook against the schema and its rules, with
    this configuration (the display timezone's overdue highlight, the Excel service's totals rows, the templates
    each audience needs, [review] required_for, [mail] sender, the login name shown as the sender's name)."""

    above_totals = config.excel_service_writes
    problems = validate_tracker(
        tracker,
        has_templates(config.mail.templates),
        rows_above_totals=above_totals,
        display_timezone=config.display.timezone,
    )
    if "Severities" in tracker.schema.sheets:
        problems.extend(required_for_problems(tracker, config.review.required_for))
    sender = config.mail.sender
    if sender is not None:
        from tracker.sending.mail import sender_problem  # lazy: the mail module (and email's) only for a sender set

        wrong = sender_problem(sender)
        if wrong:
            problems.append(Problem("tracker.toml", None, "[mail] sender", sender, wrong))
    if config.user_is_login:
        problems.append(
            Problem(
                "tracker.toml",
                None,
                None,
                config.user,
                f"emails (Contact) and the timeline show your login name {config.user!r}; "
                "set [user] name in tracker.toml to the name people know (or TRACKER_USER)",
                level="info",
            )
        )
    return problems

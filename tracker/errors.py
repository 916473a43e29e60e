"""Every error `tracker` raises on purpose.

`DataError` subclasses are problems with the data or its state (exit code 1);
`ConfigError` / `UsageError` subclasses are problems with how tracker was set up or
called (exit code 2). The CLI turns them into one line on stderr in one place.
"""

from __future__ import annotations


class TrackerError(Exception):
    """Base of all errors tracker reports to the user without a traceback."""

    exit_code = 1
    journaled = False  # True when the edits that failed were already kept in the local journal


class DataError(TrackerError):
    """The workbook's data or state stops the command (exit 1)."""

    exit_code = 1


class ConfigError(TrackerError):
    """tracker.toml or the environment is missing or wrong (exit 2)."""

    exit_code = 2


class UsageError(TrackerError):
    """A command-line value is not acceptable (exit 2)."""

    exit_code = 2


class WorkbookError(DataError):
    """The workbook is missing, unreadable or not a tracker workbook."""


class ValidationFailed(DataError):
    """Rows that a command would write, or rows it depends on, break the schema."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class UnknownEvent(DataError):
    """No event with that ID is on the Events sheet."""


class LifecycleError(DataError):
    """The status change is not allowed by the event lifecycle."""


class UnknownAction(DataError):
    """No action with that ID is on the Actions sheet."""


class WorkbookInUse(DataError):
    """Someone has the workbook open in Excel or LibreOffice, or holds tracker's lock."""


class ConflictError(DataError):
    """The workbook kept changing under us; the change was not written."""


class SchemaError(ConfigError):
    """The workbook schema files are invalid."""


class MailError(DataError):
    """The mail transport could not send (server unreachable, login refused, ...)."""


class AuthError(ConfigError):
    """Signing in to SharePoint or Graph failed, or no sign-in is available (exit 2)."""


class RemoteError(DataError):
    """SharePoint or Graph answered with an error tracker cannot work around (exit 1)."""

    unanswered = False  # a request that may have been applied: no answer came (a timeout, a 504)


class NotifyInterrupted(DataError):
    """notify stopped part way (Ctrl-C, a full disk); what went out is recorded, what did not is listed (exit 130)."""

    exit_code = 130


class UnknownTask(DataError):
    """No task with that ID is on the Tasks sheet."""

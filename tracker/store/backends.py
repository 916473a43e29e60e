"""Where the workbook lives, and the one way it is written.

`open_store(config)` gives the store tracker.toml selects (`local` or `sharepoint`). A store
reads the workbook for commands that look, and `commit(plan)` writes a command's row edits
through the commit engine (`tracker.store.engine`), which every store shares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tracker.errors import ConfigError
from tracker.store.journal import LEGACY_NAME, Journal, journal_path
from tracker.store.local import LocalStore
from tracker.workbook.schema import load_schema

if TYPE_CHECKING:
    from pathlib import Path

    from tracker.config import Config
    from tracker.store.journal import Journal
    from tracker.workbook.edits import Edit, Plan
    from tracker.workbook.reading import Tracker
    from tracker.workbook.schema import Schema


class Store(Protocol):
    """Reads the workbook and commits row edits to it."""

    location: str
    journal: Journal | None
    replayed: list[Edit]  # journal edits the last commit wrote
    set_aside: list[tuple[list[Edit], str]]  # journal entries it could no longer write, and why
    # Whether other machines write this workbook without taking this machine's locks (SharePoint): then the
    # senders claim each message on the Notifications sheet first (tracker.sending.claims).
    shared: bool
    last_read: Tracker | None  # the workbook as `read` last returned it (None before the first read)
    # Planned ahead of every commit's own edits, on the same workbook (rows people typed, applied): see
    # `tracker.store.engine.commit`; None: nothing.
    before: Plan | None

    def lock_path(self, purpose: str) -> Path:
        """A lock file of this workbook on this machine, one per `purpose` (e.g. "notify"), whatever the folder
        tracker runs from: what the commands that must take turns (tracker.sending.delivery) lock."""
        ...

    def read(self) -> Tracker:
        """The current workbook, for looking only."""
        ...

    def commit(self, plan: Plan, *, keep: bool = True) -> list[Edit]:
        """Plan on the newest version (journal fitted first), check, write; return the command's edits.

        `keep=False`: the command's edits never wait in the journal (they raise instead).
        """
        ...

    def rows_now(self, sheet: str) -> list[dict[str, Any]] | None:
        """The sheet's rows as the workbook holds them this moment, in table order, values as Excel shows them
        (None when this store's commits already arbitrate, as a local lock or If-Match does)."""
        ...


def journal_for(config: Config) -> Journal:
    """The journal of the workbook `config` names (one per workbook, whatever the folder), with any journal
    tracker 0.1 kept beside tracker.toml moved into it."""

    if config.sharepoint is None:
        journal = Journal(journal_path(config.workbook_path), config.lock_timeout)
        journal.adopt(config.root / LEGACY_NAME)
        return journal

    url = config.sharepoint.file_url
    journal = Journal(journal_path(url=url), config.lock_timeout)
    journal.path.parent.mkdir(parents=True, exist_ok=True)
    journal.describe(url)
    journal.adopt(config.root / LEGACY_NAME)
    return journal


def _local(config: Config, schema: Schema, verbose: bool) -> Store:

    return LocalStore(
        config.workbook_path,
        schema,
        backups=config.backups,
        lock_timeout=config.lock_timeout,
        journal=journal_for(config),
    )


def _sharepoint(config: Config, schema: Schema, verbose: bool) -> Store:

    assert config.sharepoint is not None  # STORES picks this store only when there is one
    from tracker.store.sharepoint import SharePointStore  # lazy: a local workbook needs none of Microsoft 365

    return SharePointStore(config.sharepoint, schema, journal=journal_for(config), verbose=verbose)


STORES: dict[str, Callable[[Config, Schema, bool], Store]] = {"local": _local, "sharepoint": _sharepoint}


def open_store(config: Config, schema: Schema | None = None, *, verbose: bool = False) -> Store:
    """The store `config` selects (a plain lookup; unknown names list the valid ones)."""

    schema = schema or load_schema(config.schema_dir)
    name = config.store_name
    if name not in STORES:
        raise ConfigError(
            f"tracker.toml selects the {name!r} store, which this version of tracker does not provide; "
            f"available: {', '.join(sorted(STORES))}"
        )
    return STORES[name](config, schema, verbose)

"""Where the workbook lives, and the one way it is written.

`open_store(config)` gives the store tracker.toml selects (`local` or `sharepoint`). A store
reads the workbook for commands that look, and `commit(plan)` writes a command's row edits
through the commit engine (`tracker.store.engine`), which every store shares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from tracker.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from tracker.config import Config
    from tracker.edits import Edit, Plan
    from tracker.schema import Schema
    from tracker.store.journal import Journal
    from tracker.workbook import Tracker


class Store(Protocol):
    """Reads the workbook and commits row edits to it."""

    location: str
    journal: Journal | None
    replayed: list[Edit]  # journal edits the last commit wrote
    set_aside: list[tuple[list[Edit], str]]  # journal entries it could no longer write, and why

    @property
    def notify_lock(self) -> Path:
        """The lock two `tracker notify` runs for this workbook take turns on, whatever their folder."""
        ...

    def read(self) -> Tracker:
        """The current workbook, for looking only."""
        ...

    def commit(self, plan: Plan) -> list[Edit]:
        """Plan on the newest version (journal fitted first), check, write; return the command's edits."""
        ...


def _local(config: Config, schema: Schema, verbose: bool) -> Store:
    from tracker.store.journal import Journal
    from tracker.store.local import LocalStore

    return LocalStore(
        config.workbook_path,
        schema,
        backups=config.backups,
        lock_timeout=config.lock_timeout,
        journal=Journal(config.journal_path, config.lock_timeout),
    )


def _sharepoint(config: Config, schema: Schema, verbose: bool) -> Store:
    from tracker.auth import sharepoint_settings
    from tracker.store.journal import Journal
    from tracker.store.sharepoint import SharePointStore

    settings = sharepoint_settings(config.sharepoint or {}, config.root)
    return SharePointStore(settings, schema, journal=Journal(config.journal_path, config.lock_timeout), verbose=verbose)


STORES: dict[str, Callable[[Config, Schema, bool], Store]] = {"local": _local, "sharepoint": _sharepoint}


def open_store(config: Config, schema: Schema | None = None, *, verbose: bool = False) -> Store:
    """The store `config` selects (a plain lookup; unknown names list the valid ones)."""
    from tracker.schema import load_schema

    schema = schema or load_schema(config.schema_dir)
    name = config.store_name
    if name not in STORES:
        raise ConfigError(
            f"tracker.toml selects the {name!r} store, which this version of tracker does not provide; "
            f"available: {', '.join(sorted(STORES))}"
        )
    return STORES[name](config, schema, verbose)

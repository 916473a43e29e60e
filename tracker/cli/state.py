"""What every command shares: the loaded configuration and stores (State, handed to commands by `pass_state`),
and how a command says which rows counted for nothing. The command modules import this, never `tracker.cli.commands`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from tracker.text import printable as _printable

if TYPE_CHECKING:
    from tracker.config import Config
    from tracker.rules.typed import TypedRows
    from tracker.store.backends import Store
    from tracker.workbook.reading import Tracker


class State:
    """Configuration and store, loaded only by the commands that need them."""

    def __init__(self, config_path: str | None, verbose: bool = False) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._config: Config | None = None
        self._stores: list[Store] = []

    @property
    def config(self) -> Config:
        if self._config is None:
            from tracker.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    def prefetch(self, *sheets: str) -> None:
        """The command reads some rows of these sheets (tracker.workbook.sieve): a local workbook starts inflating
        them now, in threads, while the command loads the rest."""
        if self.config.sharepoint is None:
            from tracker.workbook.sieve import prefetch_file  # lazy: only the commands that read some rows

            prefetch_file(self.config.workbook_path, sheets)

    def read_some(self, *sheets: str, store: Store | None = None) -> Tracker:
        """The workbook read by a command that needs only some rows of these sheets: started early (`prefetch`, a
        no-op when already asked), then read through `store` (else a new one) with the sheets declared."""
        self.prefetch(*sheets)
        tracker = (store or self.store(read_only=True)).read()
        tracker.prefetch(*sheets)
        return tracker

    def store(self, *, read_only: bool = False) -> Store:
        """A store of the workbook, its commits preceded by the rows people typed in Excel, applied
        (`read_only`: a store the command only reads from, which needs no such plan)."""
        from tracker.store.backends import open_store

        store = open_store(self.config, verbose=self.verbose)
        settings = self.config.sharepoint
        if settings is not None and not self._stores:  # once a command
            from tracker.microsoft365.auth import app_only

            undocumented = settings.undocumented(app_only(settings))
            if undocumented:
                click.echo(_printable(f"warning: {undocumented}"), err=True)
        if hasattr(store, "progress"):  # a workbook that travels over the network: show big transfers
            store.progress = progress_printer
        self._stores.append(store)
        if read_only:
            return store
        from tracker.rules.typed import TypedRows, TypedRules  # lazy: most commands never write

        one_batch = settings is not None and settings.write_mode == "workbook-api"  # see TypedRows.per_write
        store.before = TypedRows(TypedRules.of(self.config), per_write=1 if one_batch else None)
        return store

    def apply_typed(self, store: Store, *, always: bool = False, unless: bool = False) -> bool:
        """Apply the rows people typed in Excel now (before a command that reads the events to act on them, such as
        notify), when the workbook has any (`always`: write at least once, e.g. for the journal), `unless` the
        command only looks (--dry-run); said by `report_typed`. Whether it wrote."""
        return False if unless else apply_typed(store, always)

    def report_typed(self, err: bool = True) -> None:
        """Say which typed rows the commands' writes applied or left as they are, once (after withdrawing this
        tracker's lines about rows another tracker applied first)."""
        from tracker.errors import TrackerError

        for store in self._stores:
            typed = typed_of(store)
            if typed is None:
                continue
            try:
                settle_typed(store)
            except TrackerError as exc:
                click.echo(
                    _printable(f"warning: checking whether another tracker applied the typed rows first: {exc}"),
                    err=True,
                )
            for line in typed.gave_way:
                click.echo(_printable(f"note: {line}"), err=err)
            for done in typed.applied:
                click.echo(_printable(f"applied the row typed in {done.cell}: {done.what}"), err=err)
            for refused in typed.refused:
                click.echo(_printable(f"warning: {refused.cell}: {refused.why}"), err=err)
            typed.applied, typed.refused, typed.gave_way = [], [], []

    def report_set_aside(self) -> None:
        """Say which waiting journal entries a write set aside (they need a person), once."""
        for store in self._stores:
            where = str(store.journal.rejected_path) if store.journal else "the rejected journal"
            for _edits, reason in store.set_aside:
                click.echo(f"warning: a waiting journal entry was set aside in {where}: {reason}", err=True)
            store.set_aside = []

    def time(self, value: str | None, what: str, *, when: str = "any", force: bool | None = None) -> datetime | None:
        """A time the user typed for option `what`; `force` is the command's --force (None: it has none)."""
        if value is None:
            return None
        from tracker.times import parse_time

        tz = self.config.display.tz
        return parse_time(value, tz=tz, what=what, when=when, force=bool(force), forceable=force is not None)

    def show_time(self, value: Any) -> str:
        from tracker.times import format_time

        if not isinstance(value, datetime):
            return "" if value is None else _printable(value)  # a cell's ESC or CR never reaches the terminal
        display = self.config.display
        return format_time(value, tz=display.tz, fmt=display.time_format)


pass_state: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(State)
TYPED_WRITES = 200  # at most this many writes of typed rows per command or watch tick (the next one goes on)


def say_ignored(lines: Iterable[str]) -> None:
    """Rows a command counts for nothing (`tracker.workbook.roster.ignored_rows`, `tracker.rules.actions.ignored_rows`), one
    `warning:` line each on stderr, so nobody is surprised that a row did not apply."""
    for line in lines:
        click.echo(_printable(f"warning: {line}"), err=True)


def progress_printer(label: str, stream: Any = None, minimum: int = 1_000_000) -> Callable[[int, int], None] | None:
    """A progress line for transfers of at least `minimum` bytes, on a terminal only."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total < minimum:
            return
        percent = 100 * done // max(total, 1)
        end = "" if done < total else "\n"
        print(f"\r{label} {done / 1e6:.1f} / {total / 1e6:.1f} MB ({percent}%)", end=end, file=stream, flush=True)

    return show


def apply_typed(store: Store, always: bool = False) -> bool:
    """Apply the rows people typed in Excel, when the workbook (as read) has any (`always`: write at least once, e.g.
    for the journal): one write, or one per row through the Excel service. Whether it wrote."""
    from tracker.rules.typed import pending_rows  # lazy: only commands that act on events

    typed = typed_of(store)
    if typed is None:
        return False
    applied: list[Any] = []
    wrote = False
    for write in range(TYPED_WRITES):  # a write per row through the Excel service (`TypedRows.per_write`)
        if not (always and write == 0) and not pending_rows(store.read()):
            break
        store.commit(lambda _tracker: [])
        wrote, applied = True, applied + typed.applied
        if not typed.full():
            break  # what is still waiting was refused: said once, by this write
    typed.applied = applied
    settle_typed(store)
    return wrote


def settle_typed(store: Store) -> None:
    """Withdraw this tracker's timeline lines about typed rows another tracker applied first (two machines at
    once through the Excel service: `tracker.rules.typed_once`); said by `report_typed`."""
    typed = typed_of(store)
    if typed is not None and typed.lines:
        from tracker.rules.typed_once import settle  # lazy: only after writes that applied typed rows

        settle(store, typed)


def typed_of(store: Store) -> TypedRows | None:
    """The store's plan of typed rows (what its last commit applied and left), if it has one."""
    if store.before is None:
        return None  # a store a command only reads from
    from tracker.rules.typed import TypedRows  # lazy: only commands that write

    return store.before if isinstance(store.before, TypedRows) else None

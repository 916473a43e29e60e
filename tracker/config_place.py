"""Where tracker.toml is, and where a path it names is: with `os.path` alone, so that a command can start on its
workbook before tracker.config (~35 ms to import) has loaded (tracker.entry), by the same rule."""

from __future__ import annotations

import os

CONFIG_NAME = "tracker.toml"


def config_file(start: str | None = None) -> str | None:
    """tracker.toml in `start` (default: the current folder, resolved) or the nearest folder above; None: none."""
    folder = os.path.realpath(start or os.getcwd())
    while not os.path.isfile(os.path.join(folder, CONFIG_NAME)):
        if os.path.dirname(folder) == folder:
            return None
        folder = os.path.dirname(folder)
    return os.path.join(folder, CONFIG_NAME)


def named_path(config: str, given: str) -> str:
    """A path tracker.toml gives (`[workbook] path`), resolved from the folder the file really lies in."""
    return os.path.realpath(os.path.join(os.path.dirname(os.path.realpath(config)), given))

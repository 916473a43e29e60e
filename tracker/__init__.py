"""tracker: a schema-checked Excel event tracker and the outage emails built from it.

The command line (`tracker ...`) is a thin layer over this package. A program uses the names in `__all__`:

    from tracker import EventTracker

    tracker = EventTracker.open("tracker.toml")
    event_id = tracker.open_event(title="VPN down", severity="Sev 2", services=["VPN"])
    problems = tracker.validate()  # what `tracker validate` prints

Everything else is tracker's own and may change between versions.
"""

import os

# python-docx (the review document) brings lxml, and openpyxl switches to it when present: its lxml writer emits
# legacy comment drawings (VML) with unbound namespace prefixes, which no XML reader opens. tracker builds
# workbooks with openpyxl's own writer, as it was tested with (set OPENPYXL_LXML=True to choose otherwise).
os.environ.setdefault("OPENPYXL_LXML", "False")

__version__ = "0.3.0"

__all__ = ["AppendRow", "EventTracker", "Problem", "SetCells", "TrackerError", "__version__", "check"]

_PUBLIC = {
    "AppendRow": "tracker.workbook.edits",
    "EventTracker": "tracker.api",
    "SetCells": "tracker.workbook.edits",
    "Problem": "tracker.rules.problem",
    "TrackerError": "tracker.errors",
    "check": "tracker.checks",
}


def __getattr__(name: str) -> object:
    """The public names, imported when first used (so `tracker --help` stays quick)."""
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")

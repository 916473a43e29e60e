"""tracker: a schema-checked Excel event tracker and the outage emails built from it.

The command line (`tracker ...`) is a thin layer over this package; every command is a
function you can call:

    from tracker.config import load_config
    from tracker.store import open_store
    from tracker.events import open_event, update_event

    store = open_store(load_config("tracker.toml"))
    event_id = open_event(store, title="VPN down", severity="Sev 2", services=["VPN"])
"""

import os

# python-docx (the review document) brings lxml, and openpyxl switches to it when present: its lxml writer emits
# legacy comment drawings (VML) with unbound namespace prefixes, which no XML reader opens. tracker builds
# workbooks with openpyxl's own writer, as it was tested with (set OPENPYXL_LXML=True to choose otherwise).
os.environ.setdefault("OPENPYXL_LXML", "False")

__version__ = "0.3.0"

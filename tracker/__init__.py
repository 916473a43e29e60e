"""tracker: a schema-checked Excel event tracker and the outage emails built from it.

The command line (`tracker ...`) is a thin layer over this package; every command is a
function you can call:

    from tracker.config import load_config
    from tracker.store import open_store
    from tracker.events import open_event, update_event

    store = open_store(load_config("tracker.toml"))
    event_id = open_event(store, title="VPN down", severity="Sev 2", services=["VPN"])
"""

__version__ = "0.2.0"

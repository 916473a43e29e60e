"""Rust extensions imported with Ctrl-C held back: one interrupted while it starts (jsonschema_rs imports `decimal`
then) panics, printing a Rust message and a traceback; held back, the Ctrl-C arrives right after, as an ordinary one
(the command says it was interrupted, in one line). Imported when first needed: a command that only reads never
loads the schema validator."""

from __future__ import annotations

import importlib
import signal
import threading
from types import ModuleType


def held_import(name: str) -> ModuleType:
    """Import module `name` (a Rust extension) with SIGINT blocked meanwhile, in the main thread on POSIX."""
    hold = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    if hold:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        importlib.import_module("decimal")  # jsonschema_rs imports it as it starts
        return importlib.import_module(name)
    finally:
        if hold:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

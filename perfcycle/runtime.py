"""Process-wide settings: Prefect's defaults, which must be in place before Prefect is imported, and the
garbage collector's handling of long runs and large batches."""

from __future__ import annotations

import gc
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_DEFAULTS = {
    # No telemetry: the host is unreachable here and a bureau's data stays on its machines.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # Embedded default: an ephemeral Prefect server on the Prefect home's SQLite database.
    "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
}


def configure_prefect(*, quiet: bool = False) -> None:
    """Set Prefect's environment defaults without overriding anything the user set."""
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")


#: Full collections only after this many younger ones (Python's default is 10).
FULL_COLLECTION_EVERY = 100


def settle_heap() -> None:
    """Before a long run: the hundreds of thousands of objects already there (modules, Prefect, SQLAlchemy) will
    never be garbage, yet every full collection walks them all again, ≈ 0.2 s each, dozens of times in a cycle.
    Freeze them out of the collector's view and space out full collections."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


@contextmanager
def collection_paused() -> Iterator[None]:
    """Cyclic GC paused while a batch builds many objects that all live on: each full collection would walk
    them all again, for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def stop_process(process: subprocess.Popen[Any], grace: float) -> None:
    """Ask a server process to stop (SIGTERM), and kill it if it is still there after `grace` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

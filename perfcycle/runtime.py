"""Process-wide defaults that must be in place before Prefect is imported."""

from __future__ import annotations

import os

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

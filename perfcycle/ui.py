"""The Prefect UI as the bureau starts it: Prefect's server with telemetry off, and the generated documents
served read-only over HTTP so that the links in artifacts open in a browser on another machine."""

from __future__ import annotations

import os
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

#: Telemetry off for the server and every client: a bureau's data stays on its machines (see runtime.py).
NO_TELEMETRY = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def server_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]


def server_environment() -> dict[str, str]:
    """This process's environment with telemetry off, whatever the user's shell says, and without Prefect's question
    at a terminal about pointing the profile at this server: perfcycle's runs keep their own server unless told."""
    return {**os.environ, **NO_TELEMETRY, "PREFECT_CLI_PROMPT": "false"}


class _ReadOnlyFiles(SimpleHTTPRequestHandler):
    """GET and HEAD of the files under one folder; nothing else (the other methods answer 501)."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_folder(folder: Path, host: str, port: int) -> ThreadingHTTPServer:
    """Serve `folder` read-only on host:port in a background thread; `shutdown()` stops it."""
    handler = partial(_ReadOnlyFiles, directory=str(folder))
    httpd = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=httpd.serve_forever, name="perfcycle-documents", daemon=True).start()
    return httpd

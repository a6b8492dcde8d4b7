"""A real Prefect server on 127.0.0.1 with PostgreSQL as its database, and throw-away PostgreSQL databases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from perfcycle.runtime import stop_process

PG_HOST = os.environ.get("PERFCYCLE_BENCH_PG", "postgres@127.0.0.1:5432")


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """Create a database for the run and drop it afterwards; yields its SQLAlchemy URL (psycopg)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"postgresql+psycopg://{PG_HOST}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://{PG_HOST}/{name}"
    finally:
        from models.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def stop_worker(process: subprocess.Popen[bytes], grace: float = 60.0) -> int:
    """Stop a `prefect worker start` process: SIGTERM asks it to finish what it runs and exit; one that is
    still there after `grace` seconds (seen on a loaded machine, its shutdown never ending) is killed.
    Returns the peak resident memory of it and of every descendant it waited for, in KiB."""
    process.terminate()
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        pid, _, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = 0
            return int(usage.ru_maxrss)
        time.sleep(0.2)
    process.kill()
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = -9
    return int(usage.ru_maxrss)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrefectServer:
    """`prefect server start` on a free local port (database on PostgreSQL or SQLite), stopped on exit."""

    def __init__(self, startup_timeout: float = 120.0, *, postgres: bool = True) -> None:
        self.postgres = postgres
        self.port = free_port()
        self.home = tempfile.mkdtemp(prefix="perfcycle-prefect-server-")
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._database: contextmanager[str] | None = None  # type: ignore[valid-type]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def client_env(self) -> dict[str, str]:
        return {"PREFECT_API_URL": self.api_url, "PREFECT_HOME": self.home}

    def __enter__(self) -> PrefectServer:
        if self.postgres:
            self._database = postgres_database(f"prefect_server_{self.port}")
            url = self._database.__enter__().replace("postgresql+psycopg", "postgresql+asyncpg")
        else:
            url = f"sqlite+aiosqlite:///{self.home}/prefect.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            {
                "PREFECT_HOME": self.home,
                "PREFECT_API_DATABASE_CONNECTION_URL": url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                "PREFECT_UI_ENABLED": "false",
            }
        )
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"the Prefect server did not start on port {self.port}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None:
            stop_process(self.process, grace=20)
        if self._database is not None:
            self._database.__exit__(None, None, None)

"""A cycle killed with SIGKILL at any point is continued by the same command, and ends exactly as an
uninterrupted run: the same records and the same documents."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import models  # noqa: F401  (registers the tables)
from bench.server import PrefectServer, postgres_database
from perfcycle.demo import DemoFiles, generate_demo

pytestmark = pytest.mark.prefect

VOLATILE = {
    "created_at", "finished_at", "started_at", "reviewed_at", "received_at", "decided_at", "opened_at", "due_at",
    "at", "path", "hash", "prev_hash", "payload_json",
}  # fmt: skip


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[PrefectServer]:
    """One real Prefect server for every run of this module (saves the ephemeral start of each)."""
    with PrefectServer(postgres=False) as server:
        yield server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("demo"), 2024)


@contextmanager
def empty_database(backend: str, folder: Path, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / (name + '.db')}"
    else:
        with postgres_database(f"perfcycle_{name}_{uuid.uuid4().hex[:8]}") as url:
            yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def reference(
    backend: str, demo: DemoFiles, prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The digest of one uninterrupted run on this backend."""
    folder = tmp_path_factory.mktemp(f"reference-{backend}")
    with empty_database(backend, folder, "reference") as url:
        completed = run_cycle(demo, prefect_server, url, folder / "out")
        assert completed.returncode == 0, completed.stderr
        yield digest(url, folder / "out")


def run_cycle(
    demo: DemoFiles, server: PrefectServer, url: str, out: Path, fault: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))}
    env.update(server.client_env())
    if fault:
        env["PERFCYCLE_FAULT"] = fault
    command = [
        sys.executable, "-m", "perfcycle", "run", "--year", "2024", "--data", str(demo.base),
        "--submissions", str(demo.submissions), "--auto-approve", "--out", str(out), "--database-url", url,
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def digest(url: str, out: Path) -> dict[str, str]:
    """Every table's business content (no surrogate ids, no timestamps) and every document's bytes.

    The two runs write under different folders, so the folder itself is replaced by a placeholder."""
    engine = create_engine(url)
    result: dict[str, str] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            columns = [
                c.name
                for c in table.columns
                if c.name not in VOLATILE and c.name != "id" and not c.name.endswith("_id")
            ]
            rows = sorted(
                repr(tuple(str(v).replace(str(out), "<out>") for v in r))
                for r in conn.execute(text(f"SELECT {', '.join(columns)} FROM {table.name}"))
            )
            result[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
            result[f"{table.name}#rows"] = str(len(rows))
    engine.dispose()
    for path in sorted((out / "documents").rglob("*")):
        if path.is_file():
            result[f"file:{path.relative_to(out)}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


@pytest.mark.parametrize("fault", ["import-file:30", "document-written:12"])
def test_a_killed_cycle_resumes_to_the_same_end(
    backend: str,
    reference: dict[str, str],
    demo: DemoFiles,
    prefect_server: PrefectServer,
    tmp_path: Path,
    fault: str,
) -> None:
    with empty_database(backend, tmp_path, "crashed") as url:
        killed = run_cycle(demo, prefect_server, url, tmp_path / "out", fault=fault)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        resumed = run_cycle(demo, prefect_server, url, tmp_path / "out")
        assert resumed.returncode == 0, resumed.stderr
        assert "Traceback" not in resumed.stderr
        assert digest(url, tmp_path / "out") == reference

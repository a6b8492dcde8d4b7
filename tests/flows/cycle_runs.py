"""Whole demo cycles run as the bureau runs them (`perfcycle run` in a fresh process), and what they end as.

Shared by the tests that compare a cycle with an uninterrupted one (tests/test_crash_resume.py,
tests/flows/test_distributed_cycle.py); the uninterrupted run itself is made once per test run by the
`uninterrupted_digest` fixture (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import models  # noqa: F401  (registers the tables)
from bench.server import postgres_database
from perfcycle.demo import DemoFiles
from perfcycle.settings import DEMO_POLICY_DIR

YEAR = 2024

VOLATILE = {
    "created_at", "finished_at", "started_at", "reviewed_at", "received_at", "decided_at", "opened_at", "due_at",
    "at", "recorded_at", "path", "hash", "prev_hash", "payload_json",
}  # fmt: skip


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without its Prefect and perfcycle settings but the demo's policy, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))}
    env["PERFCYCLE_POLICY_DIR"] = str(DEMO_POLICY_DIR)
    env.update(extra)
    return env


@contextmanager
def empty_database(backend: str, folder: Path, name: str) -> Iterator[str]:
    """An empty domain database on the backend: a SQLite file in `folder`, or a throw-away PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / (name + '.db')}"
    else:
        with postgres_database(f"perfcycle_{name}_{uuid.uuid4().hex[:8]}") as url:
            yield url


def embedded_run(demo: DemoFiles, url: str, out: Path, home: Path) -> None:
    """`perfcycle run` as a bureau without a server runs it: Prefect's ephemeral mode."""
    env = clean_env(PREFECT_HOME=str(home), PERFCYCLE_DATABASE_URL=url, PERFCYCLE_OUTBOX_DIR=str(out / "outbox"))
    command = [
        sys.executable, "-m", "perfcycle", "run", "--year", str(YEAR), "--data", str(demo.base),
        "--submissions", str(demo.submissions), "--auto-approve", "--out", str(out),
    ]  # fmt: skip
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]


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


def reference_digest(demo: DemoFiles, backend: str, folder: Path) -> dict[str, str]:
    """The digest of one uninterrupted embedded run of the demo on an empty database of the backend."""
    with empty_database(backend, folder, "reference") as url:
        embedded_run(demo, url, folder / "out", folder / "prefect-home")
        result = digest(url, folder / "out")
    assert sum(1 for key in result if key.startswith("file:")) > 100, sorted(result)[:20]
    return result

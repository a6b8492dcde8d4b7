"""The demo cycle on Prefect's distributed setup ends exactly as the embedded run does.

A Prefect server on PostgreSQL, the domain database on PostgreSQL, two process workers sharing the
`perfcycle` pool on 127.0.0.1; the annual-cycle deployment runs with auto-approval, and its stages'
documents fan out as `render-documents` runs that either worker takes. The records (without surrogate ids
and timestamps) and every document's bytes must equal those of `perfcycle run` in embedded mode.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bench.server import PrefectServer, postgres_database, stop_worker
from perfcycle.demo import DemoFiles
from tests.flows.cycle_runs import clean_env, digest

ROOT = Path(__file__).parents[2]
YEAR = 2024
WAIT = 420.0
SHARES = 2

pytestmark = [pytest.mark.server, pytest.mark.postgres]


@pytest.fixture(scope="module")
def demo(demo_2024: DemoFiles) -> DemoFiles:
    return demo_2024


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[PrefectServer, str, list[Path]]]:
    """The server on PostgreSQL, the deployments, and two workers on the domain database (PostgreSQL)."""
    with (
        PrefectServer(postgres=True) as server,
        postgres_database(f"perfcycle_distributed_{uuid.uuid4().hex[:8]}") as url,
    ):
        env = clean_env(
            **server.client_env(),
            PERFCYCLE_DATABASE_URL=url,
            PERFCYCLE_OUTBOX_DIR=str(tmp_path / "distributed" / "outbox"),
            PERFCYCLE_DOCUMENT_SHARES=str(SHARES),
            PERFCYCLE_DOCUMENT_SHARES_FROM="1",
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        for command in (
            ["-m", "perfcycle", "db", "upgrade"],
            ["-m", "prefect", "work-pool", "create", "perfcycle", "--type", "process"],
            ["-m", "prefect", "--no-prompt", "deploy", "--all"],
        ):
            subprocess.run([sys.executable, *command], env=env, cwd=ROOT, check=True, capture_output=True, timeout=180)
        logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "perfcycle", "--name", f"worker-{n}"],
                env=env,
                cwd=ROOT,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            for n, log in zip((1, 2), logs, strict=True)
        ]
        try:
            yield server, url, logs
        finally:
            for process in processes:
                stop_worker(process)


def test_the_cycle_on_a_server_with_two_workers_equals_the_embedded_run(
    demo: DemoFiles,
    workers: tuple[PrefectServer, str, list[Path]],
    uninterrupted_digest: Callable[[str], dict[str, str]],
    tmp_path: Path,
) -> None:
    server, url, logs = workers
    api = server.api_url
    deployment = httpx.get(f"{api}/deployments/name/annual-cycle/annual-cycle").raise_for_status().json()
    out = tmp_path / "distributed"
    run = (
        httpx.post(
            f"{api}/deployments/{deployment['id']}/create_flow_run",
            json={
                "parameters": {
                    "year": YEAR,
                    "data": str(demo.base),
                    "submissions": str(demo.submissions),
                    "out_dir": str(out),
                    "auto_approve": True,
                }
            },
        )
        .raise_for_status()
        .json()
    )

    # `perfcycle run` in embedded mode on PostgreSQL, the same demo files (run once per test run).
    expected = uninterrupted_digest("postgresql")

    deadline = time.monotonic() + WAIT
    state = ""
    while time.monotonic() < deadline:
        state = httpx.get(f"{api}/flow_runs/{run['id']}").json()["state"]["type"]
        if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        time.sleep(2)
    worker_logs = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
    assert state == "COMPLETED", worker_logs

    assert digest(url, out) == expected
    assert sum(1 for key in expected if key.startswith("file:")) > 100

    # Each stage's documents were written by render-documents runs, in shares, which the workers took.
    shares = (
        httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": ["render-documents"]}}})
        .raise_for_status()
        .json()
    )
    stages = {r["parameters"]["stage"] for r in shares}
    assert len(shares) == SHARES * len(stages) and len(stages) >= 10, sorted(stages)
    assert all(r["state"]["type"] == "COMPLETED" for r in shares)
    assert {r["parameters"]["share"] for r in shares} == set(range(SHARES))

"""The demo cycle on Prefect's distributed setup ends exactly as the embedded run does.

A Prefect server on PostgreSQL, the domain database on PostgreSQL, two process workers sharing the
`perfcycle` pool on 127.0.0.1; the annual-cycle deployment runs with auto-approval, and its stages'
documents fan out as `render-documents` runs that either worker takes. The records (without surrogate ids
and timestamps) and every document's bytes must equal those of `perfcycle run` in embedded mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.server import PrefectServer, postgres_database
from perfcycle.demo import DemoFiles, generate_demo
from tests.test_crash_resume import digest

ROOT = Path(__file__).parents[2]
YEAR = 2024
WAIT = 420.0

pytestmark = [pytest.mark.server, pytest.mark.postgres]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("district"), YEAR)


def embedded_run(demo: DemoFiles, url: str, out: Path, home: Path) -> None:
    """`perfcycle run` as a bureau without a server runs it: Prefect's ephemeral mode."""
    env = clean_env(PREFECT_HOME=str(home), PERFCYCLE_DATABASE_URL=url, PERFCYCLE_OUTBOX_DIR=str(out / "outbox"))
    command = [
        sys.executable, "-m", "perfcycle", "run", "--year", str(YEAR), "--data", str(demo.base),
        "--submissions", str(demo.submissions), "--auto-approve", "--out", str(out),
    ]  # fmt: skip
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]


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
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


def test_the_cycle_on_a_server_with_two_workers_equals_the_embedded_run(
    demo: DemoFiles, workers: tuple[PrefectServer, str, list[Path]], tmp_path: Path
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

    with postgres_database(f"perfcycle_embedded_{uuid.uuid4().hex[:8]}") as embedded_url:
        embedded_run(demo, embedded_url, tmp_path / "embedded", tmp_path / "prefect-home")
        expected = digest(embedded_url, tmp_path / "embedded")

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

"""`--mode server`: the annual-cycle deployment run by process workers of a Prefect server on PostgreSQL.

This is the setup a prefecture or a province runs (README, "Several workers"): the run is created through the
server's API like a coordinator's click, a worker takes it, and each stage's documents fan out as
`render-documents` runs that any worker takes. `wall_s` runs from the creation of the flow run to its final
state; `peak_rss_mb` is the largest process under the workers (the worker itself, a flow run, a render process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.server import PrefectServer, stop_worker

ROOT = Path(__file__).resolve().parents[1]
POOL = "perfcycle"
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


@contextmanager
def workers(server: PrefectServer, env: dict[str, str], count: int, logs: Path) -> Iterator[list[float]]:
    """Deploy prefect.yaml and start `count` process workers; yields a list that receives each worker's peak RSS (MB)
    once it has stopped."""
    for command in (
        ["-m", "perfcycle", "db", "upgrade"],
        ["-m", "prefect", "work-pool", "create", POOL, "--type", "process"],
        ["-m", "prefect", "--no-prompt", "deploy", "--all"],
    ):
        done = subprocess.run([sys.executable, *command], env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    logs.mkdir(parents=True, exist_ok=True)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", f"bench-{n}"],
            env=env,
            cwd=ROOT,
            stdout=(logs / f"worker-{n}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for n in range(1, count + 1)
    ]
    peaks: list[float] = []
    try:
        yield peaks
    finally:
        for process in processes:
            peaks.append(stop_worker(process) / 1024)


def run_deployment(api: str, parameters: dict[str, Any], timeout: float) -> tuple[str, float]:
    """Create an annual-cycle run through the API and wait for its final state; returns the state and seconds."""
    with httpx.Client(base_url=api, timeout=30) as client:
        deployment = client.get("/deployments/name/annual-cycle/annual-cycle").raise_for_status().json()
        started = time.perf_counter()
        run = client.post(f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": parameters})
        run_id = run.raise_for_status().json()["id"]
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = client.get(f"/flow_runs/{run_id}").raise_for_status().json()["state"]["type"]
            if state in FINAL:
                break
            time.sleep(0.5)
        return state, time.perf_counter() - started


def task_seconds(api: str) -> dict[str, float]:
    """Time spent in import and document tasks, as the server recorded them (every worker's runs)."""
    totals = {"import": 0.0, "documents": 0.0}
    offset = 0
    with httpx.Client(base_url=api, timeout=60) as client:
        while True:
            runs = client.post("/task_runs/filter", json={"limit": 200, "offset": offset}).raise_for_status().json()
            for run in runs:
                if run["name"].startswith("import-"):
                    totals["import"] += run["total_run_time"]
                elif run["name"].startswith("render-"):
                    totals["documents"] += run["total_run_time"]
            if len(runs) < 200:
                return totals
            offset += 200


def run_on_workers(
    files: Any, workdir: Path, database_url: str, server: PrefectServer, env: dict[str, str], count: int, timeout: float
) -> tuple[dict[str, Any], float, float]:
    """The whole cycle on the server's workers; returns the same figures as a child run, its wall time and peak."""
    from bench.child import counts, district_size, stage_seconds

    env = {
        **env,
        **server.client_env(),
        "PERFCYCLE_DATABASE_URL": database_url,
        "PERFCYCLE_OUTBOX_DIR": str(workdir / "outbox"),
        "PERFCYCLE_DOCUMENT_SHARES": str(count),
        "PERFCYCLE_RENDER_WORKERS": str(max(1, (os.cpu_count() or 1) // count)),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    parameters = {
        "year": 2024,
        "data": str(files.base),
        "submissions": str(files.submissions),
        "out_dir": str(workdir / "out"),
        "auto_approve": True,
    }
    with workers(server, env, count, workdir / "worker-logs") as peaks:
        state, wall = run_deployment(server.api_url, parameters, timeout)
    if state != "COMPLETED":
        logs = "".join(p.read_text(errors="replace")[-3000:] for p in sorted((workdir / "worker-logs").glob("*.log")))
        raise SystemExit(f"the annual-cycle run ended {state or 'without a final state'}:\n{logs}")
    rows, documents = counts(database_url)
    departments, projects = district_size(database_url)
    timings = task_seconds(server.api_url)
    result = {
        "cycle_s": round(wall, 3),
        "stages": stage_seconds(database_url, 2024),
        "rows": rows,
        "import_s": round(timings["import"], 3),
        "documents": documents,
        "documents_s": round(timings["documents"], 3),
        "departments": departments,
        "projects": projects,
    }
    return result, wall, max(peaks)

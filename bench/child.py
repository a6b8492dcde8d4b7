"""One benchmark run in its own process, so its wall time and peak memory are the run's alone."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from perfcycle.runtime import configure_prefect


def stage_seconds(url: str, year: int) -> dict[str, float]:
    """Seconds per stage, from the stage states the run recorded."""
    from sqlmodel import select

    from models import Cycle, StageState, session_scope

    with session_scope(url) as session:
        cycle = session.exec(select(Cycle).where(Cycle.year == year)).one()
        states = session.exec(select(StageState).where(StageState.cycle_id == cycle.id)).all()
        return {
            s.stage: round((s.finished_at - s.started_at).total_seconds(), 3)
            for s in states
            if s.started_at and s.finished_at
        }


def counts(url: str) -> tuple[int, int]:
    """Rows imported (the base data's and every submission's) and documents written."""
    import json

    from sqlmodel import func, select

    from models import Document, Submission, session_scope
    from models.audit_log import AuditEntry
    from perfcycle.loaders import BASE_DATA_IMPORTED

    with session_scope(url) as session:
        rows = session.exec(select(func.coalesce(func.sum(Submission.rows), 0))).one()
        base = session.exec(select(AuditEntry.payload_json).where(AuditEntry.action == BASE_DATA_IMPORTED)).all()
        docs = session.exec(select(func.count()).select_from(Document)).one()
    return int(rows) + sum(json.loads(payload)["rows"] for payload in base), int(docs)


def district_size(url: str) -> tuple[int, int]:
    """Departments and projects of the district, as imported."""
    from sqlmodel import func, select

    from models import Department, Project, session_scope

    with session_scope(url) as session:
        departments = session.exec(select(func.count()).select_from(Department)).one()
        projects = session.exec(select(func.count()).select_from(Project)).one()
    return int(departments), int(projects)


def prefect_task_seconds(since: datetime) -> dict[str, float]:
    """Time spent in import and document tasks, as the Prefect server recorded them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterStartTime

    totals = {"import": 0.0, "documents": 0.0}
    with get_client(sync_client=True) as client:
        offset = 0
        while True:
            runs = client.read_task_runs(
                task_run_filter=TaskRunFilter(start_time=TaskRunFilterStartTime(after_=since)), limit=200, offset=offset
            )
            for run in runs:
                seconds = run.total_run_time.total_seconds()
                if run.name.startswith("import-"):
                    totals["import"] += seconds
                elif run.name.startswith("render-"):
                    totals["documents"] += seconds
            if len(runs) < 200:
                return totals
            offset += 200


def first_start() -> None:
    """Start the embedded Prefect server once and stop it: what a machine's first run leaves in the Prefect home
    (its database migrated, its block types registered)."""
    configure_prefect(quiet=True)
    from perfcycle.orchestration import start_ephemeral_server

    server = start_ephemeral_server()
    assert server is not None, "PREFECT_API_URL names a server: the prefect mode runs on the embedded one"
    server.wait(120)
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["bare", "prefect"], required=True)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--data", required=True)
    parser.add_argument("--submissions", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()

    os.environ["PERFCYCLE_DATABASE_URL"] = args.database_url
    configure_prefect(quiet=True)
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
    if args.mode == "prefect":
        from perfcycle.orchestration import start_ephemeral_server

        start_ephemeral_server()
    from models import upgrade

    upgrade(args.database_url)
    timings: dict[str, float] = {}
    since = datetime.now(UTC)
    started = time.perf_counter()
    if args.mode == "bare":
        from bench.bare import run_bare

        summary = run_bare(args.year, args.data, args.submissions, args.out, timings)
    else:
        if "PREFECT_HOME" not in os.environ:
            os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="perfcycle-bench-prefect-")
        from perfcycle.orchestration import run_annual_cycle

        summary = run_annual_cycle(
            year=args.year, data=args.data, submissions=args.submissions, out_dir=args.out, auto_approve=True
        )
        from perfcycle.orchestration import prefect_api

        with prefect_api():
            timings = prefect_task_seconds(since)
    cycle_s = time.perf_counter() - started
    rows, docs = counts(args.database_url)
    result: dict[str, Any] = {
        "cycle_s": round(cycle_s, 3),
        "stages": stage_seconds(args.database_url, args.year),
        "rows": rows,
        "import_s": round(timings.get("import", 0.0), 3),
        "documents": docs,
        "documents_s": round(timings.get("documents", 0.0), 3),
        "departments": summary["departments"],
        "projects": summary["projects"],
        "status": summary["status"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

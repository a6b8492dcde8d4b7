"""Without PREFECT_API_URL a run gets its own Prefect server: it records the run's history and stops with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.flows.cycle_runs import clean_env

SCRIPT = textwrap.dedent(
    """
    import json
    from perfcycle.runtime import configure_prefect

    configure_prefect(quiet=True)
    from perfcycle import orchestration

    server = orchestration.start_ephemeral_server()
    from prefect import flow, task
    from prefect.client.orchestration import get_client

    @task
    def double(n):
        return 2 * n

    @flow
    def stage(n):
        return double(n)

    @flow
    def cycle():
        return [stage(n) for n in range(3)]

    with orchestration.prefect_api():
        result = cycle()
        named = orchestration._api_url()
        with get_client(sync_client=True) as client:
            flows = client.read_flow_runs()
            tasks = client.read_task_runs()
    print(json.dumps({
        "result": result, "pid": server.process.pid, "url": server.url, "named": named,
        "flows": sorted(r.state_type.value for r in flows), "tasks": len(tasks),
    }))
    """
)


def test_a_run_without_a_server_records_its_history_on_its_own_and_stops_it(tmp_path: Path) -> None:
    env = clean_env(PREFECT_HOME=str(tmp_path / "prefect"), PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["result"] == [0, 2, 4]
    assert seen["url"].startswith("http://127.0.0.1:") and seen["named"] == ""  # treated as no server named
    assert seen["flows"] == ["COMPLETED"] * 4 and seen["tasks"] >= 3
    assert (tmp_path / "prefect" / "prefect.db").exists()  # the Prefect home's own database
    try:
        os.kill(seen["pid"], 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the embedded server (pid {seen['pid']}) outlived the run")

"""Running the cycle on Prefect from the command line, and making sure its history is complete."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def run_annual_cycle(**parameters: Any) -> dict[str, Any]:
    """Run the annual-cycle flow in this process (ephemeral Prefect unless PREFECT_API_URL is set).

    The year's cycle lock is taken first: a second run of the same year started meanwhile is refused with
    `perfcycle.locks.CycleLocked` (before Prefect even starts), and the lock is released however the run ends.
    """
    from flows.annual_cycle import annual_cycle
    from perfcycle.locks import cycle_lock, default_holder

    with cycle_lock(int(parameters["year"]), default_holder()):
        started = datetime.now(UTC) - timedelta(seconds=1)
        try:
            return annual_cycle(**parameters)
        finally:
            settle_run_history(started)


def settle_run_history(since: datetime, timeout: float = 20.0) -> None:
    """Flush queued events and logs, then wait until the server has recorded every run in a final state.

    The ephemeral server stops when this process exits; without this, task runs still queued as events
    would be missing from the UI afterwards.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterStartTime
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all(timeout=timeout)
    APILogWorker.drain_all(timeout=timeout)
    deadline = time.monotonic() + timeout
    previous: tuple[int, int] | None = None
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            flow_runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)), limit=200
            )
            ids = [r.id for r in flow_runs]
            task_runs = (
                client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=200)
                if ids
                else []
            )
            states = [r.state_type.value if r.state_type else "" for r in flow_runs]
            states += [r.state_type.value if r.state_type else "" for r in task_runs]
            current = (len(flow_runs), len(task_runs))
            if all(s in TERMINAL for s in states) and current == previous:
                return
            previous = current
            time.sleep(0.5)

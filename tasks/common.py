"""Helpers the tasks share: loading a cycle with its recorded policy, and stage bookkeeping."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, select

from models import Cycle, Project, StageState, now
from models.rows import ProjectRow, project_rows
from perfcycle.cycle_context import cycle_policy
from perfcycle.stages import StageError

__all__ = ["cycle_policy", "get_cycle", "projects_of", "run_logger", "set_stage"]


def get_cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise StageError(f"没有编号为 {cycle_id} 的周期")
    return cycle


def projects_of(session: Session, year: int) -> list[ProjectRow]:
    """The year's projects by code, read-only."""
    return project_rows(session, Project.year == year)


def current_flow_run() -> tuple[str, str]:
    """The id and name of the Prefect flow run this code runs in; empty outside a run."""
    from prefect.context import FlowRunContext
    from prefect.runtime import flow_run

    run_id = flow_run.id
    if not run_id:
        return "", ""
    context = FlowRunContext.get()  # the name without asking the server: the run's own context
    name = context.flow_run.name if context is not None and context.flow_run is not None else ""
    return str(run_id), str(name or "")


def set_stage(
    session: Session, cycle_id: int, stage: str, status: str, summary: Mapping[str, Any] | None = None
) -> None:
    """Record where a stage stands (and, as it starts, the flow run that runs it, which the timeline links to);
    the driver reads these rows to know what is due."""
    state = session.exec(select(StageState).where(StageState.cycle_id == cycle_id, StageState.stage == stage)).first()
    if state is None:
        state = StageState(cycle_id=cycle_id, stage=stage)
    if status == "running":
        run_id, run_name = current_flow_run()
        if run_id:
            state.flow_run_id, state.flow_run_name = run_id[:36], run_name[:200]
    if status == "running" and state.started_at is None:
        state.started_at = now()
    if status == "done":
        state.finished_at = now()
    state.status = status
    if summary is not None:
        state.summary_json = json.dumps(summary, ensure_ascii=False, sort_keys=True, default=str)
    session.add(state)


def run_logger() -> Any:
    """Prefect's run logger inside a run; a plain logger when tasks are called directly (benchmark floor)."""
    import logging

    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("perfcycle")

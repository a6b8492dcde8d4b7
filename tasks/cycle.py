"""Opening a cycle and keeping its stage states."""

from __future__ import annotations

import json
from typing import Any

from prefect import task
from sqlmodel import select

from models import Cycle, StageState, session_scope
from perfcycle import cycle_context
from perfcycle.policy import load_policy
from perfcycle.stages import STAGES, StageError
from tasks.common import run_logger, set_stage


@task(name="open-cycle")
def open_cycle(
    year: int,
    *,
    auto_approve: bool,
    data_source: str = "",
    submissions: str | None = None,
    out_dir: str | None = None,
) -> int:
    """Create the year's cycle with the policy it runs under, or reopen it as it was recorded.

    The data workbook and folders given to this run are recorded with it, for every later run to go on alike."""
    with session_scope() as session:
        cycle = session.exec(select(Cycle).where(Cycle.year == year)).first()
        if cycle is not None and cycle.status == "historical":
            raise StageError(f"{year} 年度是从基础数据导入的历史周期，不能再运行")
        if cycle is None:
            policy = load_policy(year)
            cycle = Cycle(
                year=year,
                budget_year=policy.budget_year,
                district=policy.district,
                status="open",
                policy_json=policy.as_json(),
                policy_digest=policy.digest(),
            )
        cycle.auto_approve = auto_approve
        cycle_context.record(cycle, data=data_source, submissions=submissions, out_dir=out_dir)
        session.add(cycle)
        session.flush()
        assert cycle.id is not None
        known = {s.stage for s in session.exec(select(StageState).where(StageState.cycle_id == cycle.id))}
        for stage, _ in STAGES:
            if stage not in known:
                session.add(StageState(cycle_id=cycle.id, stage=stage))
        return cycle.id


@task(name="read-cycle-context")
def read_cycle_context(cycle_id: int) -> dict[str, str | None]:
    """The data workbook and folders this run uses (as recorded, after `open_cycle` recorded what it was given)."""
    with session_scope() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        context = cycle_context.recorded(session, cycle)
    cycle_context.check(context)
    run_logger().info("%s 年度周期本次运行：%s", cycle.year, context.describe())
    return context.parameters()


@task(name="start-stage")
def start_stage(year: int, stage: str, cycle_id: int | None = None) -> int:
    """Mark the stage running; a stage started on its own (its own deployment) finds the year's open cycle."""
    with session_scope() as session:
        if cycle_id is None:
            cycle = session.exec(select(Cycle).where(Cycle.year == year)).first()
            if cycle is None or cycle.id is None:
                raise StageError(f"{year} 年度周期尚未开启：请先运行年度周期（annual-cycle）")
            if cycle.status == "historical":
                raise StageError(f"{year} 年度是从基础数据导入的历史周期，不能再运行")
            cycle_id = cycle.id
        set_stage(session, cycle_id, stage, "running")
        return cycle_id


@task(name="finish-stage")
def finish_stage(cycle_id: int, stage: str, summary: dict[str, Any], status: str = "done") -> None:
    """Mark the stage done (or waiting at a gate) and keep its summary for the report and the CLI."""
    with session_scope() as session:
        set_stage(session, cycle_id, stage, status, summary)


@task(name="read-stage-states")
def read_stage_states(cycle_id: int) -> dict[str, dict[str, Any]]:
    with session_scope() as session:
        rows = session.exec(select(StageState).where(StageState.cycle_id == cycle_id))
        return {r.stage: {"status": r.status, "summary": json.loads(r.summary_json or "{}")} for r in rows}


@task(name="close-cycle")
def close_cycle(cycle_id: int) -> None:
    from models import now

    with session_scope() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        cycle.status = "done"
        cycle.finished_at = cycle.finished_at or now()
        session.add(cycle)

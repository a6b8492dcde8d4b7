"""Helpers the tasks share: loading a cycle with its recorded policy, and stage bookkeeping."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlmodel import Session, SQLModel, select, update

from models import Cycle, Project, StageState, now
from perfcycle.policy import Policy, load_policy, policy_from_json
from perfcycle.stages import StageError


def get_cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise StageError(f"没有编号为 {cycle_id} 的周期")
    return cycle


def cycle_policy(cycle: Cycle) -> Policy:
    """The policy the cycle recorded when it opened (never the file as edited since)."""
    return policy_from_json(cycle.policy_json) if cycle.policy_json else load_policy(cycle.year)


class ProjectRow(NamedTuple):
    """A project's fields as read: the stages only read projects, and tens of thousands of ORM objects cost
    seconds to build."""

    id: int
    code: str
    department_id: int
    name: str
    type: str
    attribute: str
    budget_fen: int
    request_fen: int
    policy_related: bool
    high_attention: bool


def columns(model: type[SQLModel], *names: str) -> tuple[Any, ...]:
    """A model's columns by name, to select plain rows instead of ORM objects."""
    return tuple(getattr(model, name) for name in names)


_PROJECT_COLUMNS = columns(Project, *ProjectRow._fields)


def projects_of(session: Session, year: int) -> list[ProjectRow]:
    """The year's projects by code, read-only."""
    rows = session.exec(select(*_PROJECT_COLUMNS).where(Project.year == year).order_by(Project.code))
    return [ProjectRow(*row) for row in rows]


def update_by_id(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Many rows updated by primary key in one executemany, instead of an ORM object and its flush per row."""
    if rows:
        session.exec(update(model), params=rows)


def set_stage(
    session: Session, cycle_id: int, stage: str, status: str, summary: Mapping[str, Any] | None = None
) -> None:
    """Record where a stage stands; the driver reads these rows to know what is due."""
    state = session.exec(select(StageState).where(StageState.cycle_id == cycle_id, StageState.stage == stage)).first()
    if state is None:
        state = StageState(cycle_id=cycle_id, stage=stage)
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

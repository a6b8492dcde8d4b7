"""A stage remembers the Prefect flow run that runs it: the workbench's timeline links to it."""

from __future__ import annotations

import pytest
from prefect import flow
from prefect.runtime import flow_run
from sqlmodel import Session, select

from models import Cycle, StageState
from perfcycle.policy import load_policy
from tasks.cycle import start_stage


@pytest.mark.prefect
def test_a_stage_records_the_flow_run_that_runs_it(db_url: str, session: Session, prefect_harness: None) -> None:
    cycle = Cycle(year=2024, budget_year=2026, policy_json=load_policy(2024).as_json())
    session.add(cycle)
    session.commit()
    assert cycle.id is not None
    cycle_id = cycle.id

    @flow(name="stage-run-probe", flow_run_name="2024 probe")
    def probe() -> str:
        start_stage(2024, "target_setting", cycle_id)
        return str(flow_run.id)

    run_id = probe()
    session.expire_all()
    state = session.exec(select(StageState).where(StageState.cycle_id == cycle_id)).one()
    assert (state.status, state.flow_run_id, state.flow_run_name) == ("running", run_id, "2024 probe")

    start_stage.fn(2024, "target_setting", cycle_id)  # outside any run: the last run stays recorded
    session.expire_all()
    assert session.exec(select(StageState).where(StageState.cycle_id == cycle_id)).one().flow_run_id == run_id

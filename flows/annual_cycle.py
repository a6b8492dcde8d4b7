"""The annual cycle: runs every stage that is due, in order, and stops at the first gate still open."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.budget_linkage import budget_linkage
from flows.department_evaluation import department_evaluation
from flows.ex_ante_assessment import ex_ante_assessment
from flows.fiscal_evaluation import fiscal_evaluation
from flows.monitoring import quarterly_monitoring
from flows.reporting import reporting
from flows.sampling_review import sampling_review
from flows.self_evaluation import self_evaluation
from flows.target_setting import target_setting
from perfcycle.stages import QUARTERS
from tasks.cycle import close_cycle, open_cycle, read_stage_states
from tasks.imports import import_base_data
from tasks.summary import summarize_cycle


@flow(name="annual-cycle", flow_run_name="{year} annual cycle")
def annual_cycle(
    year: int,
    data: str | None = None,
    submissions: str | None = None,
    out_dir: str = "out",
    auto_approve: bool = False,
) -> dict[str, Any]:
    """Each (re)run reads the stage states, skips what is done and continues from where the cycle stands."""
    cycle_id = open_cycle(year, auto_approve=auto_approve, data_source=data or "")
    if data:
        import_base_data(data, year)
    done = {stage for stage, state in read_stage_states(cycle_id).items() if state["status"] == "done"}
    steps: list[tuple[str, Any]] = [
        ("target_setting", lambda: target_setting(year, cycle_id, submissions, out_dir)),
        ("ex_ante_assessment", lambda: ex_ante_assessment(year, cycle_id, submissions, out_dir)),
        *(
            (f"monitoring_{q}", lambda q=q: quarterly_monitoring(year, q, cycle_id, submissions, out_dir))
            for q in QUARTERS
        ),
        ("self_evaluation", lambda: self_evaluation(year, cycle_id, submissions, out_dir)),
        ("department_evaluation", lambda: department_evaluation(year, cycle_id)),
        ("sampling_review", lambda: sampling_review(year, cycle_id, submissions, out_dir)),
        ("fiscal_evaluation", lambda: fiscal_evaluation(year, cycle_id, submissions, out_dir)),
        ("budget_linkage", lambda: budget_linkage(year, cycle_id, out_dir)),
        ("reporting", lambda: reporting(year, cycle_id, out_dir)),
    ]
    for stage, run_stage in steps:
        if stage not in done and run_stage()["status"] != "done":
            return summarize_cycle(cycle_id)
    close_cycle(cycle_id)
    return summarize_cycle(cycle_id)

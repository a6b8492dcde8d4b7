"""Stage 7: scores feed the budget two years on; the coordinator, then the bureau leader, approve."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from tasks.budget import publish_budget_table, recommend_budgets
from tasks.cycle import finish_stage, start_stage
from tasks.documents import render_stage_documents
from tasks.gates import request_approval
from tasks.waiting import end_waiting

STAGE = "budget_linkage"


@flow(name="budget-linkage", flow_run_name="{year} budget linkage")
@holds_cycle
def budget_linkage(year: int, cycle_id: int | None = None, out_dir: str | None = None) -> dict[str, Any]:
    cycle_id = start_stage(year, STAGE, cycle_id)
    computed = recommend_budgets(cycle_id)
    coordinator = request_approval(cycle_id, "budget_table", level=1)
    leader = request_approval(cycle_id, "budget_table", level=2) if coordinator == "approved" else "open"
    table = {**computed, **publish_budget_table(cycle_id)}  # as it stands: the approvers' overrides included
    # The 预算安排建议表 is what the coordinator and the leader decide on (its codes are what an adjustment
    # names); a decision runs the stage again, so the table shows the adjustments once they are made.
    documents = render_stage_documents(cycle_id, STAGE, out_dir)
    summary = {**table, "documents": documents}
    if leader != "approved":
        finish_stage(cycle_id, STAGE, summary, "waiting")
        report(STAGE, "waiting", "预算安排建议表待审批")
        return end_waiting(cycle_id, STAGE, {"status": "waiting", "summary": summary})
    finish_stage(cycle_id, STAGE, summary)
    increase = (
        f"，调增 {table['increased_projects']} 个共 {table['increase_wan']:.2f} 万元"
        if table["increased_projects"]
        else ""
    )
    report(
        STAGE,
        "done",
        f"{table['projects']} 个项目，压减 {table['cut_projects']} 个共 {table['cut_wan']:.2f} 万元{increase}，"
        f"优先保障 {table['priority_projects']} 个",
    )
    return {"status": "done", "summary": summary}

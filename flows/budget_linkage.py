"""Stage 7: scores feed the budget two years on; the coordinator, then the bureau leader, approve."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from tasks.approvals import request_approval
from tasks.budget import recommend_budgets
from tasks.cycle import finish_stage, start_stage
from tasks.documents import render_stage_documents
from tasks.waiting import end_waiting

STAGE = "budget_linkage"


@flow(name="budget-linkage", flow_run_name="{year} budget linkage")
@holds_cycle
def budget_linkage(year: int, cycle_id: int | None = None, out_dir: str = "out") -> dict[str, Any]:
    cycle_id = start_stage(year, STAGE, cycle_id)
    table = recommend_budgets(cycle_id)
    coordinator = request_approval(cycle_id, "budget_table", level=1)
    leader = request_approval(cycle_id, "budget_table", level=2) if coordinator == "approved" else "open"
    if leader != "approved":
        finish_stage(cycle_id, STAGE, table, "waiting")
        report(STAGE, "waiting", "预算安排建议表待审批")
        return end_waiting(cycle_id, STAGE, {"status": "waiting", "summary": table})
    documents = render_stage_documents(cycle_id, STAGE, out_dir)
    summary = {**table, "documents": documents}
    finish_stage(cycle_id, STAGE, summary)
    report(
        STAGE,
        "done",
        f"{table['projects']} 个项目，压减 {table['cut_projects']} 个共 {table['cut_wan']} 万元，"
        f"优先保障 {table['priority_projects']} 个",
    )
    return {"status": "done", "summary": summary}

"""Stage 6: key fiscal evaluation of the largest, most sensitive projects, a policy and departments."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from tasks.cycle import finish_stage, start_stage
from tasks.documents import prepare_score_form, render_stage_documents
from tasks.fiscal import grade_key_evaluations, propose_key_evaluations
from tasks.gates import request_approval
from tasks.imports import import_submissions, wait_for_files
from tasks.rectification import register_findings
from tasks.waiting import end_waiting

STAGE = "fiscal_evaluation"


@flow(name="fiscal-evaluation", flow_run_name="{year} key fiscal evaluation")
@holds_cycle
def fiscal_evaluation(
    year: int, cycle_id: int | None = None, submissions: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    cycle_id = start_stage(year, STAGE, cycle_id)
    selection = propose_key_evaluations(cycle_id)
    form = prepare_score_form(cycle_id, STAGE, out_dir)  # the third party's 财政重点评价评分表
    if request_approval(cycle_id, "key_evaluation_selection") != "approved":
        finish_stage(cycle_id, STAGE, {"selection": selection, "form": form}, "waiting")
        report(STAGE, "waiting", "重点评价对象待确认")
        return end_waiting(cycle_id, STAGE, {"status": "waiting", "summary": {"selection": selection, "form": form}})
    received = import_submissions(year, "third_party_scores", submissions)
    if received["unplaced"]:
        return wait_for_files(cycle_id, STAGE, {"selection": selection, "form": form, "received": received})
    results = grade_key_evaluations(cycle_id)
    if request_approval(cycle_id, "key_evaluation_reports") != "approved":
        finish_stage(cycle_id, STAGE, {"selection": selection, "form": form, "results": results}, "waiting")
        report(STAGE, "waiting", "重点评价报告待审定")
        return end_waiting(
            cycle_id,
            STAGE,
            {"status": "waiting", "summary": {"selection": selection, "form": form, "results": results}},
        )
    register_findings(cycle_id, "key_evaluation")
    documents = render_stage_documents(cycle_id, STAGE, out_dir)
    summary = {**selection, "form": form, "received": received, "results": results, "documents": documents}
    finish_stage(cycle_id, STAGE, summary)
    report(
        STAGE,
        "done",
        f"{selection['projects']} 个项目、{selection['policies']} 项政策、{selection['departments']} 个部门，"
        f"涉及 {selection['amount_wan']} 万元",
    )
    return {"status": "done", "summary": summary}

"""Stage 1b: the panel assesses new and extended major projects before they get money."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from tasks.cycle import finish_stage, start_stage
from tasks.documents import render_stage_documents
from tasks.ex_ante import assess_ex_ante
from tasks.gates import request_approval
from tasks.imports import import_submissions, wait_for_files
from tasks.rectification import register_findings
from tasks.waiting import end_waiting

STAGE = "ex_ante_assessment"


@flow(name="ex-ante-assessment", flow_run_name="{year} ex-ante assessment")
@holds_cycle
def ex_ante_assessment(
    year: int, cycle_id: int | None = None, submissions: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    cycle_id = start_stage(year, STAGE, cycle_id)
    received = import_submissions(year, "panel_scores", submissions)
    if received["unplaced"]:
        return wait_for_files(cycle_id, STAGE, {"received": received})
    result = assess_ex_ante(cycle_id)
    decision = request_approval(cycle_id, "ex_ante_conclusions")
    if decision == "approved":
        register_findings(cycle_id, "ex_ante")
    documents = render_stage_documents(cycle_id, STAGE, out_dir) if decision == "approved" else []
    status = "done" if decision == "approved" else "waiting"
    summary = {"received": received, **result, "documents": documents}
    finish_stage(cycle_id, STAGE, summary, status)
    report(
        STAGE,
        status,
        f"{result['units']} 家单位 {result['projects']} 个项目，涉及 {result['amount_wan']} 万元，压减 {result['cut_wan']} 万元",
    )
    if status == "waiting":
        return end_waiting(cycle_id, STAGE, {"status": status, "summary": summary})
    return {"status": status, "summary": summary}

"""Stage 1: departments declare their performance targets; the coordinator checks and approves them."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.progress import report
from tasks.cycle import finish_stage, start_stage
from tasks.documents import render_stage_documents
from tasks.imports import import_submissions
from tasks.targets import approve_targets, review_targets

STAGE = "target_setting"


@flow(name="target-setting", flow_run_name="{year} target setting")
def target_setting(year: int, cycle_id: int, submissions: str | None, out_dir: str) -> dict[str, Any]:
    start_stage(cycle_id, STAGE)
    received = import_submissions(year, "targets", submissions)
    review = review_targets(cycle_id)
    approval = approve_targets(cycle_id)
    documents = render_stage_documents(cycle_id, STAGE, out_dir)
    status = "waiting" if approval["waiting_departments"] else "done"
    summary = {"received": received, "review": review, "approval": approval, "documents": documents}
    finish_stage(cycle_id, STAGE, summary, status)
    report(STAGE, status, f"{review['projects']} 个项目，退回修改 {review['returned']}，未填报 {review['missing']}")
    return {"status": status, "summary": summary}

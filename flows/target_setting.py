"""Stage 1: departments declare their performance targets; the coordinator checks and approves them."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from tasks.collection import check_collection_window, open_collection_window
from tasks.cycle import finish_stage, start_stage
from tasks.documents import render_stage_documents
from tasks.imports import import_submissions, wait_for_files
from tasks.targets import approve_targets, review_targets
from tasks.waiting import end_waiting

STAGE = "target_setting"


@flow(name="target-setting", flow_run_name="{year} target setting")
@holds_cycle
def target_setting(
    year: int, cycle_id: int | None = None, submissions: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    cycle_id = start_stage(year, STAGE, cycle_id)
    window = open_collection_window(cycle_id, STAGE, submissions)
    received = import_submissions(year, "targets", window["folder"])
    review = review_targets(cycle_id)
    approval = approve_targets(cycle_id)
    collection = check_collection_window(cycle_id, STAGE)
    documents = render_stage_documents(cycle_id, STAGE, out_dir)
    status = "waiting" if approval["waiting_departments"] or collection["waiting"] else "done"
    summary = {
        "received": received,
        "review": review,
        "approval": approval,
        "collection": collection,
        "documents": documents,
    }
    if received["unplaced"]:
        return wait_for_files(cycle_id, STAGE, summary)
    finish_stage(cycle_id, STAGE, summary, status)
    report(STAGE, status, f"{review['projects']} 个项目，退回修改 {review['returned']}，未填报 {review['missing']}")
    if status == "waiting":
        return end_waiting(cycle_id, STAGE, {"status": status, "summary": summary})
    return {"status": status, "summary": summary}

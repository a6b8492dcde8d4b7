"""Stage 8: disclosure status and the annual report to the People's Congress."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from tasks.cycle import finish_stage, start_stage
from tasks.documents import render_annual_report, render_stage_documents
from tasks.gates import request_approval
from tasks.integrity import verify_audit_chain
from tasks.waiting import end_waiting

STAGE = "reporting"


@flow(name="reporting", flow_run_name="{year} annual report")
@holds_cycle
def reporting(year: int, cycle_id: int | None = None, out_dir: str | None = None) -> dict[str, Any]:
    cycle_id = start_stage(year, STAGE, cycle_id)
    verify_audit_chain()
    documents = render_annual_report(cycle_id, out_dir) + render_stage_documents(cycle_id, STAGE, out_dir)
    decision = request_approval(cycle_id, "annual_report", level=2)
    status = "done" if decision == "approved" else "waiting"
    summary = {"documents": documents}
    finish_stage(cycle_id, STAGE, summary, status)
    report(STAGE, status, "工作开展情况说明已生成")
    if status == "waiting":
        return end_waiting(cycle_id, STAGE, {"status": status, "summary": summary})
    return {"status": status, "summary": summary}

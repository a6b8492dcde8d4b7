"""Stage 2: quarterly dual monitoring of spending and target progress, with red/yellow/green warnings."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from tasks.collection import check_collection_window, open_collection_window, wait_for_forms
from tasks.cycle import finish_stage, start_stage
from tasks.documents import render_stage_documents
from tasks.imports import import_submissions, wait_for_files
from tasks.monitoring import compute_lights, issue_warnings
from tasks.rectification import register_findings


@flow(name="quarterly-monitoring", flow_run_name="{year} {quarter} monitoring")
@holds_cycle
def quarterly_monitoring(
    year: int, quarter: str, cycle_id: int | None = None, submissions: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    stage = f"monitoring_{quarter}"
    cycle_id = start_stage(year, stage, cycle_id)
    window = open_collection_window(cycle_id, stage, submissions)
    received = import_submissions(year, "monitoring", window["folder"], quarter)
    collection = check_collection_window(cycle_id, stage)
    if received["unplaced"]:
        return wait_for_files(cycle_id, stage, {"received": received, "collection": collection})
    if collection["waiting"]:
        return wait_for_forms(cycle_id, stage, {"received": received, "collection": collection})
    lights = compute_lights(cycle_id, quarter)
    warnings = issue_warnings(cycle_id, quarter)
    register_findings(cycle_id, "red_light")
    documents = render_stage_documents(cycle_id, stage, out_dir)
    summary = {"received": received, **lights, **warnings, "collection": collection, "documents": documents}
    finish_stage(cycle_id, stage, summary)
    counts = lights["lights"]
    report(
        stage,
        "done",
        f"{lights['departments_covered']} 个部门：红 {counts['red']} 黄 {counts['yellow']} 绿 {counts['green']}",
    )
    return {"status": "done", "summary": summary}

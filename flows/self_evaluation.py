"""Stage 3: every project and every department evaluates itself; inflated claims are flagged."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from tasks.collection import check_collection_window, open_collection_window, wait_for_forms
from tasks.cycle import finish_stage, start_stage
from tasks.documents import render_stage_documents
from tasks.evaluation import score_self_evaluations
from tasks.imports import import_submissions, wait_for_files
from tasks.publication import track_publication
from tasks.rectification import register_findings

STAGE = "self_evaluation"


@flow(name="self-evaluation", flow_run_name="{year} self-evaluation")
@holds_cycle
def self_evaluation(
    year: int, cycle_id: int | None = None, submissions: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    cycle_id = start_stage(year, STAGE, cycle_id)
    window = open_collection_window(cycle_id, STAGE, submissions)
    received = import_submissions(year, "self_evaluation", window["folder"])
    collection = check_collection_window(cycle_id, STAGE)
    if received["unplaced"]:
        return wait_for_files(cycle_id, STAGE, {"received": received, "collection": collection})
    if collection["waiting"]:
        return wait_for_forms(cycle_id, STAGE, {"received": received, "collection": collection})
    scores = score_self_evaluations(cycle_id)
    register_findings(cycle_id, "inflated_claim")
    publication = track_publication(cycle_id)
    documents = render_stage_documents(cycle_id, STAGE, out_dir)
    summary = {
        "received": received,
        **scores,
        "publication": publication,
        "collection": collection,
        "documents": documents,
    }
    finish_stage(cycle_id, STAGE, summary)
    report(STAGE, "done", f"{scores['projects']} 个项目、{scores['departments']} 个部门，自评偏高 {scores['inflated']}")
    return {"status": "done", "summary": summary}

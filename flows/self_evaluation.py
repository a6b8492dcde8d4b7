"""Stage 3: every project and every department evaluates itself; inflated claims are flagged."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.progress import report
from tasks.cycle import finish_stage, start_stage
from tasks.disclosure import track_publication
from tasks.documents import render_stage_documents
from tasks.evaluation import score_self_evaluations
from tasks.imports import import_submissions

STAGE = "self_evaluation"


@flow(name="self-evaluation", flow_run_name="{year} self-evaluation")
def self_evaluation(year: int, cycle_id: int, submissions: str | None, out_dir: str) -> dict[str, Any]:
    start_stage(cycle_id, STAGE)
    received = import_submissions(year, "self_evaluation", submissions)
    scores = score_self_evaluations(cycle_id)
    publication = track_publication(cycle_id)
    documents = render_stage_documents(cycle_id, STAGE, out_dir)
    summary = {"received": received, **scores, "publication": publication, "documents": documents}
    finish_stage(cycle_id, STAGE, summary)
    report(STAGE, "done", f"{scores['projects']} 个项目、{scores['departments']} 个部门，自评偏高 {scores['inflated']}")
    return {"status": "done", "summary": summary}

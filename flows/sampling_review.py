"""Stage 5: a reproducible sample of departments is re-scored by the review team."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from perfcycle.rules.precision import percent_text
from tasks.cycle import finish_stage, start_stage
from tasks.documents import prepare_score_form, render_stage_documents
from tasks.gates import request_approval
from tasks.imports import import_submissions, wait_for_files
from tasks.rectification import register_findings
from tasks.sampling import draw_review_sample, flag_reviews
from tasks.waiting import end_waiting

STAGE = "sampling_review"


@flow(name="sampling-review", flow_run_name="{year} sampling review")
@holds_cycle
def sampling_review(
    year: int, cycle_id: int | None = None, submissions: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    cycle_id = start_stage(year, STAGE, cycle_id)
    sample = draw_review_sample(cycle_id)
    form = prepare_score_form(cycle_id, STAGE, out_dir)  # the review team's 抽查复核评分表
    if request_approval(cycle_id, "sample", data_digest=sample["population_hash"]) != "approved":
        finish_stage(cycle_id, STAGE, {"sample": sample, "form": form}, "waiting")
        report(STAGE, "waiting", "样本待确认")
        return end_waiting(cycle_id, STAGE, {"status": "waiting", "summary": {"sample": sample, "form": form}})
    received = import_submissions(year, "review_scores", submissions)
    if received["unplaced"]:
        return wait_for_files(cycle_id, STAGE, {"sample": sample, "form": form, "received": received})
    review = flag_reviews(cycle_id)
    register_findings(cycle_id, "review_flag")
    documents = render_stage_documents(cycle_id, STAGE, out_dir)
    summary = {"sample": sample, "form": form, "received": received, **review, "documents": documents}
    finish_stage(cycle_id, STAGE, summary)
    report(
        STAGE,
        "done",
        f"抽取 {sample['departments']} 个部门（{percent_text(Decimal(str(sample['ratio'])))}），"
        f"累计覆盖 {percent_text(Decimal(str(sample['cumulative_coverage'])))}，"
        f"需整改 {review['flagged']}",
    )
    return {"status": "done", "summary": summary}

"""The whole cycle with the same task code called directly, without Prefect: the floor for the overhead ratio.

The order mirrors flows/annual_cycle.py and the stage flows; it exists only to measure what Prefect adds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from perfcycle.runtime import settle_heap
from perfcycle.stages import QUARTERS
from tasks import (
    budget,
    collection,
    cycle,
    documents,
    evaluation,
    ex_ante,
    fiscal,
    gates,
    imports,
    integrity,
    monitoring,
    publication,
    rectification,
    sampling,
    summary,
    targets,
)


def run_bare(
    year: int,
    data: str,
    submissions: str,
    out_dir: str,
    timings: dict[str, float],
    before_reporting: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """Run every stage in order with auto-approval; `timings` collects import and document seconds.
    `before_reporting` runs once every stage before the annual report is done (as `annual_cycle(until=...)`)."""

    def timed(bucket: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timings[bucket] = timings.get(bucket, 0.0) + time.perf_counter() - started

    def stage(name: str, work: Any) -> None:
        cycle.start_stage.fn(year, name, cycle_id=cycle_id)
        result = work()
        cycle.finish_stage.fn(cycle_id, name, result)

    def gate(name: str, level: int = 1) -> None:
        gates.request_approval.fn(cycle_id, name, level=level)

    settle_heap()  # as `perfcycle.orchestration.run_annual_cycle` does before the flow
    cycle_id = cycle.open_cycle.fn(year, auto_approve=True, data_source=data)
    timed("import", imports.import_base_data.fn, data, year)

    def collected(stage_name: str, kind: str, quarter: str | None = None) -> None:
        folder = collection.open_collection_window.fn(cycle_id, stage_name, submissions)["folder"]
        timed("import", imports.import_submissions.fn, year, kind, folder, quarter)
        collection.check_collection_window.fn(cycle_id, stage_name)

    def target_setting() -> dict[str, Any]:
        folder = collection.open_collection_window.fn(cycle_id, "target_setting", submissions)["folder"]
        timed("import", imports.import_submissions.fn, year, "targets", folder)
        targets.review_targets.fn(cycle_id)
        result = targets.approve_targets.fn(cycle_id)
        collection.check_collection_window.fn(cycle_id, "target_setting")
        timed("documents", documents.render_stage_documents.fn, cycle_id, "target_setting", out_dir)
        return result

    def ex_ante_stage() -> dict[str, Any]:
        timed("import", imports.import_submissions.fn, year, "panel_scores", submissions)
        result = ex_ante.assess_ex_ante.fn(cycle_id)
        gate("ex_ante_conclusions")
        rectification.register_findings.fn(cycle_id, "ex_ante")
        timed("documents", documents.render_stage_documents.fn, cycle_id, "ex_ante_assessment", out_dir)
        return result

    def monitoring_stage(quarter: str) -> dict[str, Any]:
        collected(f"monitoring_{quarter}", "monitoring", quarter)
        result = monitoring.compute_lights.fn(cycle_id, quarter)
        monitoring.issue_warnings.fn(cycle_id, quarter)
        rectification.register_findings.fn(cycle_id, "red_light")
        timed("documents", documents.render_stage_documents.fn, cycle_id, f"monitoring_{quarter}", out_dir)
        return result

    def self_evaluation_stage() -> dict[str, Any]:
        collected("self_evaluation", "self_evaluation")
        result = evaluation.score_self_evaluations.fn(cycle_id)
        rectification.register_findings.fn(cycle_id, "inflated_claim")
        publication.track_publication.fn(cycle_id)
        timed("documents", documents.render_stage_documents.fn, cycle_id, "self_evaluation", out_dir)
        return result

    def sampling_stage() -> dict[str, Any]:
        sample = sampling.draw_review_sample.fn(cycle_id)
        timed("documents", documents.prepare_score_form.fn, cycle_id, "sampling_review", out_dir)
        gate("sample")
        timed("import", imports.import_submissions.fn, year, "review_scores", submissions)
        sampling.flag_reviews.fn(cycle_id)
        rectification.register_findings.fn(cycle_id, "review_flag")
        timed("documents", documents.render_stage_documents.fn, cycle_id, "sampling_review", out_dir)
        return {"sample": sample}

    def fiscal_stage() -> dict[str, Any]:
        selection = fiscal.propose_key_evaluations.fn(cycle_id)
        timed("documents", documents.prepare_score_form.fn, cycle_id, "fiscal_evaluation", out_dir)
        gate("key_evaluation_selection")
        timed("import", imports.import_submissions.fn, year, "third_party_scores", submissions)
        fiscal.grade_key_evaluations.fn(cycle_id)
        gate("key_evaluation_reports")
        rectification.register_findings.fn(cycle_id, "key_evaluation")
        timed("documents", documents.render_stage_documents.fn, cycle_id, "fiscal_evaluation", out_dir)
        return selection

    def budget_stage() -> dict[str, Any]:
        result = budget.recommend_budgets.fn(cycle_id)
        gate("budget_table", 1)
        gate("budget_table", 2)
        table = budget.publish_budget_table.fn(cycle_id)
        timed("documents", documents.render_stage_documents.fn, cycle_id, "budget_linkage", out_dir)
        return {**result, **table}

    def reporting_stage() -> dict[str, Any]:
        integrity.verify_audit_chain.fn()
        timed("documents", documents.render_annual_report.fn, cycle_id, out_dir)
        timed("documents", documents.render_stage_documents.fn, cycle_id, "reporting", out_dir)
        gate("annual_report", 2)
        return {}

    stage("target_setting", target_setting)
    stage("ex_ante_assessment", ex_ante_stage)
    for quarter in QUARTERS:
        stage(f"monitoring_{quarter}", lambda q=quarter: monitoring_stage(q))
    stage("self_evaluation", self_evaluation_stage)
    stage("department_evaluation", lambda: evaluation.grade_department_evaluations.fn(cycle_id))
    stage("sampling_review", sampling_stage)
    stage("fiscal_evaluation", fiscal_stage)
    stage("budget_linkage", budget_stage)
    if before_reporting is not None:
        before_reporting()
    stage("reporting", reporting_stage)
    cycle.close_cycle.fn(cycle_id)
    return summary.summarize_cycle.fn(cycle_id)

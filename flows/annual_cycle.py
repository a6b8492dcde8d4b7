"""The annual cycle: runs every stage that is due, in order, and waits at the first gate still open."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import deployment, flow_run

from flows.budget_linkage import budget_linkage
from flows.department_evaluation import department_evaluation
from flows.ex_ante_assessment import ex_ante_assessment
from flows.fiscal_evaluation import fiscal_evaluation
from flows.monitoring import quarterly_monitoring
from flows.reporting import reporting
from flows.sampling_review import sampling_review
from flows.self_evaluation import self_evaluation
from flows.target_setting import target_setting
from perfcycle.locks import holds_cycle
from perfcycle.stages import QUARTERS, stages_before
from tasks.cycle import close_cycle, open_cycle, read_cycle_context, read_stage_states
from tasks.gates import apply_group_decision, find_open_group, wait_for_decision
from tasks.imports import import_base_data
from tasks.summary import summarize_cycle
from tasks.waiting import end_waiting

DECISIONS_PER_RUN = 1000  # a guard against a loop, far above the gates of any district


def run_due_stages(year: int, cycle_id: int, submissions: str | None, out_dir: str, until: str | None = None) -> bool:
    """Run, in order, each stage not yet done (up to the stage `until`, not included); False as soon as one
    stops at a gate or a deadline."""
    done = {stage for stage, state in read_stage_states(cycle_id).items() if state["status"] == "done"}
    steps: list[tuple[str, Any]] = [
        ("target_setting", lambda: target_setting(year, cycle_id, submissions, out_dir)),
        ("ex_ante_assessment", lambda: ex_ante_assessment(year, cycle_id, submissions, out_dir)),
        *(
            (f"monitoring_{q}", lambda q=q: quarterly_monitoring(year, q, cycle_id, submissions, out_dir))
            for q in QUARTERS
        ),
        ("self_evaluation", lambda: self_evaluation(year, cycle_id, submissions, out_dir)),
        ("department_evaluation", lambda: department_evaluation(year, cycle_id)),
        ("sampling_review", lambda: sampling_review(year, cycle_id, submissions, out_dir)),
        ("fiscal_evaluation", lambda: fiscal_evaluation(year, cycle_id, submissions, out_dir)),
        ("budget_linkage", lambda: budget_linkage(year, cycle_id, out_dir)),
        ("reporting", lambda: reporting(year, cycle_id, out_dir)),
    ]
    due = steps[: stages_before(until)] if until else steps
    return all(stage in done or run_stage()["status"] == "done" for stage, run_stage in due)


@flow(name="annual-cycle", flow_run_name="{year} annual cycle")
@holds_cycle
def annual_cycle(
    year: int,
    data: str | None = None,
    submissions: str | None = None,
    out_dir: str | None = None,
    auto_approve: bool = False,
    until: str | None = None,
) -> dict[str, Any]:
    """Each (re)run reads the stage states, skips what is done and continues from where the cycle stands.

    The data workbook and folders not given are those the cycle recorded at its last run (the output folder
    defaults to PERFCYCLE_OUTPUT_DIR): continuing a cycle never loses the forms it was reading.
    Run from a deployment, the run suspends at the oldest open gate's group (e.g. every department's targets)
    with one approval form for all of them, and continues when the form is answered (or `perfcycle approve`
    resumes it), recording the answer before the stages import what came in meanwhile; run in-process, it
    ends and says what it waits for: a Completed state named 等待审批 or 等待报送, with a log line naming the
    gates or forms.
    With `until` (a stage), it runs the stages before that one and ends there, the cycle left open: what has to
    happen before that stage (e.g. the loops the annual report states) happens, and a run without it continues.
    """
    if until is not None:
        stages_before(until)  # a stage the cycle does not have is refused before anything runs
    cycle_id = open_cycle(
        year, auto_approve=auto_approve, data_source=data or "", submissions=submissions, out_dir=out_dir
    )
    context = read_cycle_context(cycle_id)
    if context["data"]:
        import_base_data(context["data"], year)
    # A run resumed from its form takes the answer first: the stages may meanwhile have new forms to import.
    group = find_open_group(cycle_id, waited_on_by=str(flow_run.id)) if deployment.id is not None else None
    reached = False
    for _ in range(DECISIONS_PER_RUN):
        if group is None:
            reached = run_due_stages(year, cycle_id, context["submissions"], str(context["out_dir"]), until)
            if reached:
                if until is None:
                    close_cycle(cycle_id)
                break
            group = find_open_group(cycle_id)
            if group is None or deployment.id is None:
                break
        answer = wait_for_decision(group)
        apply_group_decision(
            group, answer.model_dump(include={"approver", "decision", "comment", "subjects", "overrides"})
        )
        group = None
    summary = summarize_cycle(cycle_id)
    if summary["status"] != "done" and not reached:
        return end_waiting(cycle_id, None, summary)
    return summary

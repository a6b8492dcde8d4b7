"""Stage 4: each department evaluates at least one of its major development projects."""

from __future__ import annotations

from typing import Any

from prefect import flow

from perfcycle.locks import holds_cycle
from perfcycle.progress import report
from tasks.cycle import finish_stage, start_stage
from tasks.evaluation import grade_department_evaluations

STAGE = "department_evaluation"


@flow(name="department-evaluation", flow_run_name="{year} department evaluation")
@holds_cycle
def department_evaluation(year: int, cycle_id: int | None = None) -> dict[str, Any]:
    cycle_id = start_stage(year, STAGE, cycle_id)
    result = grade_department_evaluations(cycle_id)
    finish_stage(cycle_id, STAGE, result)
    report(STAGE, "done", f"{result['departments']} 个部门开展部门评价，{result['missing']} 个尚未开展")
    return {"status": "done", "summary": result}

"""The cycle's headline figures, read back from the records the stages wrote."""

from __future__ import annotations

import json
from typing import Any

from prefect import task
from sqlmodel import func, select

from models import Department, Document, StageState, session_scope
from perfcycle.stages import QUARTERS
from tasks.common import get_cycle, projects_of


def _stage_summaries(session: Any, cycle_id: int) -> dict[str, dict[str, Any]]:
    rows = session.exec(select(StageState).where(StageState.cycle_id == cycle_id))
    return {r.stage: {"status": r.status, **json.loads(r.summary_json or "{}")} for r in rows}


@task(name="summarize-cycle")
def summarize_cycle(cycle_id: int) -> dict[str, Any]:
    """The figures a coordinator quotes (and `--json` prints), each from the stage that produced it."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        stages = _stage_summaries(session, cycle_id)
        departments = session.exec(select(func.count()).select_from(Department)).one()
        projects = len(projects_of(session, cycle.year))
        ex_ante = stages.get("ex_ante_assessment", {})
        monitoring = {q: stages.get(f"monitoring_{q}", {}) for q in QUARTERS}
        self_eval = stages.get("self_evaluation", {})
        sampling = stages.get("sampling_review", {}).get("sample", {})
        fiscal = stages.get("fiscal_evaluation", {})
        budget = stages.get("budget_linkage", {})
        documents = session.exec(
            select(Document.path).where(Document.cycle_id == cycle_id).order_by(Document.path)
        ).all()
        waiting = [s for s, v in stages.items() if v.get("status") == "waiting"]
        return {
            "year": cycle.year,
            "budget_year": cycle.budget_year,
            "status": cycle.status,
            "waiting": waiting,
            "departments": departments,
            "projects": projects,
            "ex_ante": {
                "units": ex_ante.get("units", 0),
                "projects": ex_ante.get("projects", 0),
                "amount_wan": float(ex_ante.get("amount_wan", 0)),
                "cut_wan": float(ex_ante.get("cut_wan", 0)),
            },
            "monitoring": {
                "departments_covered": min((m.get("departments_covered", 0) for m in monitoring.values()), default=0),
                "lights": {q: m.get("lights", {"red": 0, "yellow": 0, "green": 0}) for q, m in monitoring.items()},
            },
            "self_evaluation": {
                "projects": self_eval.get("projects", 0),
                "departments": self_eval.get("departments", 0),
                "coverage": self_eval.get("coverage", 0.0),
            },
            "sampling": {
                "departments": sampling.get("departments", 0),
                "ratio": sampling.get("ratio", 0.0),
                "cumulative_coverage": sampling.get("cumulative_coverage", 0.0),
                "seed": sampling.get("seed", ""),
            },
            "fiscal_evaluation": {
                "projects": fiscal.get("projects", 0),
                "policies": fiscal.get("policies", 0),
                "departments": fiscal.get("departments", 0),
                "amount_wan": float(fiscal.get("amount_wan", 0)),
            },
            "budget": {
                "projects": budget.get("projects", 0),
                "cut_projects": budget.get("cut_projects", 0),
                "cut_wan": float(budget.get("cut_wan", 0)),
                "priority_projects": budget.get("priority_projects", 0),
                "recommended_wan": float(budget.get("recommended_wan", 0)),
            },
            "documents": list(documents),
        }

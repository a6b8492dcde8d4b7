"""The cycle's headline figures, read back from the records the stages wrote."""

from __future__ import annotations

from typing import Any

from prefect import task
from sqlmodel import func, select

from models import Department, DepartmentLight, Document, session_scope
from perfcycle.figures import budget_figures, budget_summary, monitoring_coverage, self_evaluation_coverage
from perfcycle.stages import QUARTERS, STAGES
from perfcycle.standing import stage_summaries
from tasks.common import get_cycle, projects_of


def _figures(stage: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any] | None:
    """The stage's recorded figures; None when it has recorded none yet (not run, or stopped before them)."""
    if not all(key in stage for key in keys):
        return None
    return {key: kind(stage[key]) for key, kind in keys.items()}


@task(name="summarize-cycle")
def summarize_cycle(cycle_id: int) -> dict[str, Any]:
    """The figures a coordinator quotes (and `--json` prints); budget and coverage as the documents state them.

    A stage that has not produced its figures yet gives null, never zeros that would read as results; a
    stage waiting at its gate gives the figures the gate decides on. `stages` says where each one stands.
    """
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        stages = stage_summaries(session, cycle_id)
        departments = session.exec(select(func.count()).select_from(Department)).one()
        projects = len(projects_of(session, cycle.year))
        monitoring = {q: stages.get(f"monitoring_{q}", {}) for q in QUARTERS}
        fiscal = stages.get("fiscal_evaluation", {})
        documents = session.exec(
            select(Document.path).where(Document.cycle_id == cycle_id).order_by(Document.path)
        ).all()
        waiting = [s for s, v in stages.items() if v.get("status") == "waiting"]
        # Figures come from the records (after every decision); a block with no record behind it yet is null.
        lit = session.exec(select(DepartmentLight.id).where(DepartmentLight.cycle_id == cycle_id).limit(1)).first()
        monitored = monitoring_coverage(session, cycle_id) if lit is not None else None
        evaluated = self_evaluation_coverage(session, cycle_id)
        self_evaluated = evaluated if evaluated.projects.covered or evaluated.departments.covered else None
        budget = budget_figures(session, cycle_id)
        return {
            "year": cycle.year,
            "budget_year": cycle.budget_year,
            "status": cycle.status,
            "waiting": waiting,
            "stages": {stage: stages.get(stage, {}).get("status", "pending") for stage, _ in STAGES},
            "departments": departments,
            "projects": projects,
            "ex_ante": _figures(
                stages.get("ex_ante_assessment", {}),
                {"units": int, "projects": int, "amount_wan": float, "cut_wan": float},
            ),
            "monitoring": {
                "departments_covered": monitored.covered if monitored else None,
                "coverage": float(monitored.ratio) if monitored else None,
                "lights": {q: m.get("lights") for q, m in monitoring.items()},
            },
            "self_evaluation": {
                "projects": self_evaluated.projects.covered,
                "departments": self_evaluated.departments.covered,
                "coverage": float(self_evaluated.projects.ratio),
            }
            if self_evaluated
            else None,
            "sampling": _figures(
                stages.get("sampling_review", {}).get("sample", {}),
                {"departments": int, "ratio": float, "cumulative_coverage": float, "seed": str},
            ),
            "fiscal_evaluation": _figures(
                fiscal.get("selection", fiscal),
                {"projects": int, "policies": int, "departments": int, "amount_wan": float},
            ),
            "budget": budget_summary(budget) if budget.projects else None,
            "documents": list(documents),
        }

"""The cycle's headline figures, read back from the records the stages wrote."""

from __future__ import annotations

import json
from typing import Any

from prefect import task
from sqlmodel import func, select

from models import Department, Document, StageState, session_scope
from perfcycle.figures import budget_figures, budget_summary, monitoring_coverage, self_evaluation_coverage
from perfcycle.stages import QUARTERS
from tasks.common import get_cycle, projects_of


def _stage_summaries(session: Any, cycle_id: int) -> dict[str, dict[str, Any]]:
    rows = session.exec(select(StageState).where(StageState.cycle_id == cycle_id))
    return {r.stage: {"status": r.status, **json.loads(r.summary_json or "{}")} for r in rows}


@task(name="summarize-cycle")
def summarize_cycle(cycle_id: int) -> dict[str, Any]:
    """The figures a coordinator quotes (and `--json` prints); budget and coverage as the documents state them."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        stages = _stage_summaries(session, cycle_id)
        departments = session.exec(select(func.count()).select_from(Department)).one()
        projects = len(projects_of(session, cycle.year))
        ex_ante = stages.get("ex_ante_assessment", {})
        monitoring = {q: stages.get(f"monitoring_{q}", {}) for q in QUARTERS}
        monitored = monitoring_coverage(session, cycle_id)
        self_evaluated = self_evaluation_coverage(session, cycle_id)
        sampling = stages.get("sampling_review", {}).get("sample", {})
        fiscal = stages.get("fiscal_evaluation", {})
        budget = budget_figures(session, cycle_id)
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
                "departments_covered": monitored.covered,
                "coverage": float(monitored.ratio),
                "lights": {q: m.get("lights", {"red": 0, "yellow": 0, "green": 0}) for q, m in monitoring.items()},
            },
            "self_evaluation": {
                "projects": self_evaluated.projects.covered,
                "departments": self_evaluated.departments.covered,
                "coverage": float(self_evaluated.projects.ratio),
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
            "budget": budget_summary(budget),
            "documents": list(documents),
        }

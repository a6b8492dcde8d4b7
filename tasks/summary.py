"""The cycle's headline figures, read from perfcycle.figures: the records as they stand after every decision."""

from __future__ import annotations

from typing import Any

from prefect import task
from sqlmodel import select

from models import Document, session_scope
from perfcycle.figures import CycleFigures, budget_summary, consequence_summary, cycle_figures
from perfcycle.money import fmt_wan
from perfcycle.stages import STAGES
from perfcycle.standing import stage_summaries
from tasks.common import get_cycle


def _ex_ante(figures: CycleFigures, done: bool) -> dict[str, Any] | None:
    ex_ante = figures.ex_ante
    if not ex_ante.projects and not done:
        return None
    return {
        "units": len(ex_ante.units),
        "projects": len(ex_ante.projects),
        "amount_wan": float(fmt_wan(ex_ante.amount_fen)),
        "cut_wan": float(fmt_wan(ex_ante.cut_fen)),
    }


def _monitoring(figures: CycleFigures) -> dict[str, Any]:
    monitored = figures.monitoring if figures.quarters else None
    lights: dict[str, dict[str, int] | None] = dict.fromkeys(("Q1", "Q2", "Q3", "Q4"))
    for quarter in figures.quarters:
        lights[quarter.quarter] = {light: len(quarter.light(light)) for light in ("red", "yellow", "green")}
    return {
        "departments_covered": monitored.covered if monitored else None,
        "coverage": float(monitored.ratio) if monitored else None,
        "lights": lights,
    }


def _self_evaluation(figures: CycleFigures) -> dict[str, Any] | None:
    evaluated = figures.self_evaluation
    if not (evaluated.projects.covered or evaluated.departments.covered):
        return None
    return {
        "projects": evaluated.projects.covered,
        "departments": evaluated.departments.covered,
        "coverage": float(evaluated.projects.ratio),
        "department_evaluations": len(figures.evaluations.department_evaluations),
    }


def _sampling(figures: CycleFigures) -> dict[str, Any] | None:
    sampling = figures.sampling
    if not sampling.drawn:
        return None
    return {
        "departments": sampling.size,
        "ratio": float(sampling.ratio),
        "cumulative_coverage": float(sampling.cumulative.ratio),
        "seed": sampling.seed,
    }


def _fiscal(figures: CycleFigures, done: bool) -> dict[str, Any] | None:
    selection = figures.selection
    if not selection.total and not done:
        return None
    return {
        "projects": len(selection.of("project")),
        "policies": len(selection.of("policy")),
        "departments": len(selection.of("department")),
        "amount_wan": float(fmt_wan(selection.amount_fen)),
    }


def _findings(figures: CycleFigures, done: bool) -> dict[str, Any] | None:
    """问题整改 as the annual report states it; null while nothing is registered in a cycle still under way."""
    if not figures.findings.registered and not done:
        return None
    return figures.findings.summary()


def _disclosure(figures: CycleFigures) -> dict[str, int] | None:
    """谁评价、谁公开: on time, late (or overdue), not yet due; null before any department owes a publication."""
    publications = figures.publications
    if not publications.by_status:
        return None
    return {
        "published": len(publications.on_time),
        "late": len(publications.not_on_time),
        "pending": len(publications.pending),
    }


@task(name="summarize-cycle")
def summarize_cycle(cycle_id: int) -> dict[str, Any]:
    """The figures a coordinator quotes (and `--json` prints), as every document states them.

    A stage that has not produced its figures yet gives null, never zeros that would read as results; a
    stage waiting at its gate gives the figures the gate decides on. `stages` says where each one stands.
    """
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        states = {stage: state.get("status", "pending") for stage, state in stage_summaries(session, cycle_id).items()}
        figures = cycle_figures(session, cycle_id)
        documents = session.exec(
            select(Document.path).where(Document.cycle_id == cycle_id).order_by(Document.path)
        ).all()
        return {
            "year": cycle.year,
            "budget_year": cycle.budget_year,
            "status": cycle.status,
            "waiting": [stage for stage, status in states.items() if status == "waiting"],
            "stages": {stage: states.get(stage, "pending") for stage, _ in STAGES},
            "departments": len(figures.departments),
            "projects": len(figures.targets.projects),
            "ex_ante": _ex_ante(figures, states.get("ex_ante_assessment") == "done"),
            "monitoring": _monitoring(figures),
            "self_evaluation": _self_evaluation(figures),
            "sampling": _sampling(figures),
            "fiscal_evaluation": _fiscal(figures, states.get("fiscal_evaluation") == "done"),
            "budget": (
                {**budget_summary(figures.budget), "consequences": consequence_summary(figures.consequences)}
                if figures.budget.projects
                else None
            ),
            "findings": _findings(figures, cycle.status == "done"),
            "disclosure": _disclosure(figures),
            "adoption": figures.adoption.summary.as_json() if figures.adoption is not None else None,
            "documents": list(documents),
        }

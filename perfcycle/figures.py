"""The cycle's figures, computed once from the records as they stand after every decision.

The `--json` summary, the documents, the spreadsheets and the stage artifacts read these figures here, so
no two of them can state a figure differently. The definitions are the rules' (perfcycle/rules/budget.py,
perfcycle/rules/coverage.py); this module only reads the records they count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from models.tables import (
    BudgetRecommendation,
    Cycle,
    Department,
    DepartmentLight,
    Evaluation,
    Project,
    StageState,
)
from perfcycle.money import fmt_wan
from perfcycle.policy import QUARTERS
from perfcycle.rules.budget import BudgetLine, BudgetTotals, budget_totals
from perfcycle.rules.coverage import Coverage, coverage, reported_every_period


def budget_line(rec: BudgetRecommendation) -> BudgetLine:
    """A recommendation as a line of the table, with the approver's override where there is one."""
    return BudgetLine(
        request_fen=rec.request_fen,
        recommended_fen=rec.recommended_fen,
        override_fen=rec.override_fen,
        reason_kind=rec.reason_kind,
        reason=rec.reason,
        ex_ante_cut_fen=rec.ex_ante_cut_fen,
    )


def budget_figures(session: Session, cycle_id: int) -> BudgetTotals:
    """Request, the amounts that stand, cuts, increases and the counts of the cycle's recommendation table."""
    recs = session.exec(select(BudgetRecommendation).where(BudgetRecommendation.cycle_id == cycle_id)).all()
    return budget_totals(budget_line(rec) for rec in recs)


def budget_summary(totals: BudgetTotals) -> dict[str, Any]:
    """The table's figures as the `--json` summary and the stage record state them (万元 as numbers)."""
    return {
        "projects": totals.projects,
        "request_wan": float(fmt_wan(totals.request_fen)),
        "ex_ante_cut_wan": float(fmt_wan(totals.ex_ante_cut_fen)),
        "base_wan": float(fmt_wan(totals.base_fen)),
        "recommended_wan": float(fmt_wan(totals.recommended_fen)),
        "cut_projects": totals.cut_projects,
        "cut_wan": float(fmt_wan(totals.cut_fen)),
        "increased_projects": totals.increased_projects,
        "increase_wan": float(fmt_wan(totals.increase_fen)),
        "overridden_projects": totals.overridden_projects,
        "priority_projects": totals.priority_projects,
        "cancelled_projects": totals.cancelled_projects,
        "low_execution_projects": totals.low_execution_projects,
        "reasons": dict(totals.reasons),
    }


def _department_codes(session: Session) -> list[str]:
    return list(session.exec(select(Department.code)).all())


def monitoring_coverage(session: Session, cycle_id: int) -> Coverage:
    """监控覆盖: departments with a record in every quarter monitored so far, of all departments."""
    rows = session.exec(
        select(DepartmentLight.quarter, Department.code)
        .join(Department, col(Department.id) == DepartmentLight.department_id)
        .where(DepartmentLight.cycle_id == cycle_id)
    ).all()
    done = session.exec(
        select(StageState.stage).where(
            StageState.cycle_id == cycle_id,
            StageState.status == "done",
            col(StageState.stage).in_([f"monitoring_{q}" for q in QUARTERS]),
        )
    ).all()
    periods: dict[str, set[str]] = {stage.removeprefix("monitoring_"): set() for stage in done}
    for quarter, code in rows:
        periods.setdefault(quarter, set()).add(code)
    return coverage(_department_codes(session), reported_every_period(periods))


@dataclass(frozen=True)
class SelfEvaluationCoverage:
    """自评覆盖: the year's projects and the departments that sent their self-evaluation (a claimed score)."""

    projects: Coverage
    departments: Coverage


def self_evaluation_coverage(session: Session, cycle_id: int) -> SelfEvaluationCoverage:
    """Projects self-evaluated of the year's projects; departments' overall self-evaluations of all departments."""
    cycle = session.get(Cycle, cycle_id)
    year = cycle.year if cycle is not None else None
    projects = session.exec(select(Project.code).where(Project.year == year)).all()
    sent = session.exec(
        select(Evaluation.object_type, Evaluation.object_code).where(
            Evaluation.cycle_id == cycle_id,
            Evaluation.kind == "self",
            col(Evaluation.claimed_score).is_not(None),
        )
    ).all()
    return SelfEvaluationCoverage(
        projects=coverage(projects, {code for kind, code in sent if kind == "project"}),
        departments=coverage(_department_codes(session), {code for kind, code in sent if kind == "department"}),
    )

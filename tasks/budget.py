"""Result application: every project's budget-year recommendation from its final score and execution."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prefect import task
from sqlmodel import select

from models import (
    BudgetRecommendation,
    Department,
    Evaluation,
    ExAnteAssessment,
    MonitoringRecord,
    TargetReview,
    session_scope,
)
from perfcycle.money import fmt_wan
from perfcycle.rules.budget import budget_decision, final_score
from perfcycle.rules.scoring import grade_for
from tasks.artifacts import publish_table
from tasks.common import cycle_policy, get_cycle, projects_of


@task(name="recommend-budgets")
def recommend_budgets(cycle_id: int) -> dict[str, Any]:
    """Final score → grade → cut ratio (grade or execution, whichever is larger) → recommended amount."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        projects = projects_of(session, cycle.year)
        scores: dict[str, dict[str, Any]] = {}
        for e in session.exec(
            select(Evaluation).where(Evaluation.cycle_id == cycle_id, Evaluation.object_type == "project")
        ):
            scores.setdefault(e.object_code, {})[e.kind] = e.score
        approved = {
            r.project_id
            for r in session.exec(
                select(TargetReview).where(TargetReview.cycle_id == cycle_id, TargetReview.status == "approved")
            )
        }
        year_end = {
            r.project_id: r.spent_fen
            for r in session.exec(
                select(MonitoringRecord).where(MonitoringRecord.cycle_id == cycle_id, MonitoringRecord.quarter == "Q4")
            )
        }
        ex_ante_cuts = {
            a.project_id: a.cut_fen
            for a in session.exec(select(ExAnteAssessment).where(ExAnteAssessment.cycle_id == cycle_id))
            if a.conclusion
        }
        existing = {
            r.project_id: r
            for r in session.exec(select(BudgetRecommendation).where(BudgetRecommendation.cycle_id == cycle_id))
        }
        departments = {d.id: d.name for d in session.exec(select(Department))}
        cut_rows: list[dict[str, Any]] = []
        totals = {"request": 0, "recommended": 0, "cut_projects": 0, "priority": 0}
        for project in projects:
            assert project.id is not None
            found = scores.get(project.code, {})
            score, source = final_score(found.get("fiscal"), found.get("review"), found.get("self"))
            grade = grade_for(score, policy.grades) if score is not None else None
            rate = (
                (Decimal(year_end[project.id]) / Decimal(project.budget_fen)).quantize(Decimal("0.0001"))
                if project.id in year_end and project.budget_fen
                else None
            )
            request = max(project.request_fen - ex_ante_cuts.get(project.id, 0), 0)
            decision = budget_decision(
                request, grade, rate, project.id in approved, policy.budget, policy.targets.no_targets_reason
            )
            row = existing.get(project.id) or BudgetRecommendation(
                cycle_id=cycle_id, project_id=project.id, budget_year=cycle.budget_year
            )
            row.budget_year = cycle.budget_year
            row.request_fen = request
            row.score = score
            row.score_source = source
            row.grade = grade or ""
            row.execution_rate = rate
            row.grade_cut_ratio = decision.grade_cut_ratio
            row.execution_cut_ratio = decision.execution_cut_ratio
            row.cut_ratio = decision.cut_ratio
            row.recommended_fen = decision.recommended_fen
            row.priority = decision.priority
            row.reason = decision.reason
            session.add(row)
            totals["request"] += request
            totals["recommended"] += decision.recommended_fen
            totals["priority"] += decision.priority
            if decision.recommended_fen < request:
                totals["cut_projects"] += 1
                cut_rows.append(
                    {
                        "部门": departments[project.department_id],
                        "项目": project.name,
                        "申请（万元）": fmt_wan(request),
                        "建议（万元）": fmt_wan(decision.recommended_fen),
                        "原因": decision.reason,
                    }
                )
        cut_wan = fmt_wan(totals["request"] - totals["recommended"])
        publish_table(
            f"{cycle.year}-budget-cuts",
            cut_rows,
            f"{cycle.budget_year} 年预算安排建议：{len(projects)} 个项目，压减 {totals['cut_projects']} 个共 {cut_wan} 万元，"
            f"优先保障 {totals['priority']} 个",
        )
        return {
            "projects": len(projects),
            "cut_projects": totals["cut_projects"],
            "cut_wan": cut_wan,
            "priority_projects": totals["priority"],
            "request_wan": fmt_wan(totals["request"]),
            "recommended_wan": fmt_wan(totals["recommended"]),
        }

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
from models.rows import insert_rows, update_by_id
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
        existing = dict(
            session.exec(
                select(BudgetRecommendation.project_id, BudgetRecommendation.id).where(
                    BudgetRecommendation.cycle_id == cycle_id
                )
            ).all()
        )
        inserted: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
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
            values = {
                "budget_year": cycle.budget_year,
                "request_fen": request,
                "score": score,
                "score_source": source,
                "grade": grade or "",
                "execution_rate": rate,
                "grade_cut_ratio": decision.grade_cut_ratio,
                "execution_cut_ratio": decision.execution_cut_ratio,
                "cut_ratio": decision.cut_ratio,
                "recommended_fen": decision.recommended_fen,
                "priority": decision.priority,
                "reason": decision.reason,
            }
            if project.id in existing:
                updated.append({"id": existing[project.id], **values})
            else:
                inserted.append({"cycle_id": cycle_id, "project_id": project.id, **values})
            totals["request"] += request
            totals["recommended"] += decision.recommended_fen
            totals["priority"] += decision.priority
            if decision.recommended_fen < request:
                totals["cut_projects"] += 1
                cut_rows.append(
                    {
                        "部门": departments[project.department_id],
                        "项目编码": project.code,
                        "项目名称": project.name,
                        "申请（万元）": fmt_wan(request),
                        "建议（万元）": fmt_wan(decision.recommended_fen),
                        "原因": decision.reason,
                    }
                )
        insert_rows(session, BudgetRecommendation, inserted)
        update_by_id(session, BudgetRecommendation, updated)
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

"""Result application: every project's budget-year recommendation from its final score and execution."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prefect import task
from sqlmodel import col, select

from models import (
    BudgetRecommendation,
    Department,
    Evaluation,
    ExAnteAssessment,
    MonitoringRecord,
    Project,
    TargetReview,
    session_scope,
)
from models.rows import insert_rows, update_by_id
from perfcycle.figures import budget_figures, budget_line, budget_summary
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
        insert_rows(session, BudgetRecommendation, inserted)
        update_by_id(session, BudgetRecommendation, updated)
        return {"projects": len(projects)}


@task(name="publish-budget-table")
def publish_budget_table(cycle_id: int) -> dict[str, Any]:
    """The table as it stands (the approvers' overrides included) as an artifact, and its figures."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        departments = {d.id: d.name for d in session.exec(select(Department))}
        rows: list[dict[str, Any]] = []
        for rec, project in session.exec(
            select(BudgetRecommendation, Project)
            .join(Project, col(Project.id) == BudgetRecommendation.project_id)
            .where(BudgetRecommendation.cycle_id == cycle_id)
            .order_by(col(Project.code))
        ):
            line = budget_line(rec)
            if line.cut_fen or line.increase_fen:
                rows.append(
                    {
                        "部门": departments.get(project.department_id, ""),
                        "项目编码": project.code,
                        "项目名称": project.name,
                        "申请（万元）": fmt_wan(line.request_fen),
                        "安排（万元）": fmt_wan(line.effective_fen),
                        "原因": rec.reason,
                        "调整理由": rec.override_reason,
                    }
                )
        totals = budget_figures(session, cycle_id)
        increase = (
            f"，调增 {totals.increased_projects} 个共 {fmt_wan(totals.increase_fen)} 万元"
            if totals.increased_projects
            else ""
        )
        publish_table(
            f"{cycle.year}-budget-cuts",
            rows,
            f"{cycle.budget_year} 年预算安排建议：{totals.projects} 个项目，压减 {totals.cut_projects} 个共 "
            f"{fmt_wan(totals.cut_fen)} 万元{increase}，优先保障 {totals.priority_projects} 个",
        )
        return budget_summary(totals)

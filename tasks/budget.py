"""Result application: every project's budget-year recommendation from its final score and execution."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prefect import task
from sqlmodel import col, select

from models import (
    BudgetRecommendation,
    Department,
    DepartmentRecommendation,
    Evaluation,
    ExAnteAssessment,
    FiscalPolicy,
    MonitoringRecord,
    PolicyRecommendation,
    Project,
    TargetReview,
    session_scope,
)
from models.rows import insert_rows, update_by_id
from perfcycle.figures import (
    ConsequenceFigures,
    budget_figures,
    budget_line,
    budget_summary,
    consequence_figures,
    consequence_summary,
)
from perfcycle.money import fmt_wan
from perfcycle.rules.budget import (
    BudgetDecision,
    BudgetLine,
    budget_decision,
    department_consequence,
    department_line,
    final_score,
    grade_cut_ratio,
    policy_decision,
)
from perfcycle.rules.precision import execution_rate
from perfcycle.rules.scoring import grade_for
from tasks.artifacts import publish_table
from tasks.common import cycle_policy, get_cycle, projects_of


def _scores(session: Any, cycle_id: int, object_type: str) -> dict[str, dict[str, Decimal]]:
    """Object code → evaluation kind → score, for one type of object of the cycle."""
    scores: dict[str, dict[str, Decimal]] = {}
    for e in session.exec(
        select(Evaluation).where(Evaluation.cycle_id == cycle_id, Evaluation.object_type == object_type)
    ):
        if e.score is not None:
            scores.setdefault(e.object_code, {})[e.kind] = e.score
    return scores


def _stated(decision: BudgetDecision) -> dict[str, Any]:
    """What every line records of its decision: the cut, the amount and its one reason."""
    return {
        "cut_ratio": decision.cut_ratio,
        "recommended_fen": decision.recommended_fen,
        "priority": decision.priority,
        "reason_kind": decision.reason_kind,
        "reason": decision.reason,
        "explanation": decision.explanation,
    }


def _upsert(session: Any, model: Any, key: str, cycle_id: int, rows: list[dict[str, Any]]) -> None:
    """Insert the rows the cycle does not have yet, update the others (found by `key`, e.g. the project id)."""
    existing = dict(session.exec(select(getattr(model, key), model.id).where(model.cycle_id == cycle_id)).all())
    insert_rows(session, model, [row for row in rows if row[key] not in existing])
    update_by_id(session, model, [{"id": existing[row[key]], **row} for row in rows if row[key] in existing])


@task(name="recommend-budgets")
def recommend_budgets(cycle_id: int) -> dict[str, Any]:
    """Base after the ex-ante conclusion → final score → grade → the largest of the grade's, the department's and
    the execution cut → recommended amount; and each key-evaluated policy's funds under its grade."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        projects = projects_of(session, cycle.year)
        scores = _scores(session, cycle_id, "project")
        department_scores = _scores(session, cycle_id, "department")
        department_codes = dict(session.exec(select(Department.id, Department.code)).all())
        approved = set(
            session.exec(
                select(TargetReview.project_id).where(
                    TargetReview.cycle_id == cycle_id, TargetReview.status == "approved"
                )
            ).all()
        )
        year_end = dict(
            session.exec(
                select(MonitoringRecord.project_id, MonitoringRecord.spent_fen).where(
                    MonitoringRecord.cycle_id == cycle_id, MonitoringRecord.quarter == "Q4"
                )
            ).all()
        )
        ex_ante = {
            a.project_id: (a.conclusion, a.cut_fen)
            for a in session.exec(select(ExAnteAssessment).where(ExAnteAssessment.cycle_id == cycle_id))
            if a.conclusion
        }
        rows: list[dict[str, Any]] = []
        for project in projects:
            found = scores.get(project.code, {})
            score, source = final_score(
                found.get("fiscal"), found.get("review"), found.get("department"), found.get("self")
            )
            grade = grade_for(score, policy.grades) if score is not None else None
            department_grade = None
            if project.type == policy.targets.development_type:
                department_score = department_scores.get(department_codes[project.department_id], {}).get("fiscal")
                department_grade = grade_for(department_score, policy.grades) if department_score is not None else None
            spent = year_end.get(project.id)
            rate = None if spent is None else execution_rate(spent, project.budget_fen)
            conclusion, ex_ante_cut = ex_ante.get(project.id, (None, 0))
            decision = budget_decision(
                project.request_fen,
                grade,
                rate,
                project.id in approved,
                policy.budget,
                policy.targets.no_targets_reason,
                ex_ante_conclusion=conclusion,
                ex_ante_cut_fen=ex_ante_cut,
                department_grade=department_grade,
            )
            rows.append(
                {
                    "cycle_id": cycle_id,
                    "project_id": project.id,
                    "budget_year": cycle.budget_year,
                    "request_fen": project.request_fen,
                    "ex_ante_cut_fen": project.request_fen - decision.base_fen,
                    "score": score,
                    "score_source": source,
                    "grade": grade or "",
                    "department_grade": department_grade or "",
                    "execution_rate": rate,
                    "grade_cut_ratio": decision.grade_cut_ratio,
                    "department_cut_ratio": decision.department_cut_ratio,
                    "execution_cut_ratio": decision.execution_cut_ratio,
                    **_stated(decision),
                }
            )
        _upsert(session, BudgetRecommendation, "project_id", cycle_id, rows)
        policies = _recommend_policies(session, cycle_id, cycle.year, cycle.budget_year, policy)
        departments = _recommend_departments(session, cycle_id, cycle.budget_year, department_scores, rows, policy)
        return {"projects": len(projects), "policies": policies, "departments": departments}


def _recommend_departments(
    session: Any,
    cycle_id: int,
    budget_year: int,
    scores: dict[str, dict[str, Decimal]],
    lines: list[dict[str, Any]],
    policy: Any,
) -> int:
    """Each key-evaluated department's 事业发展类 lines taken together under its overall grade (the line an
    approver may adjust as one); the number of departments recommended."""
    owner = dict(session.exec(select(Project.id, Project.department_id)).all())
    rows: list[dict[str, Any]] = []
    for department_id, code in session.exec(select(Department.id, Department.code).order_by(Department.code)):
        score = scores.get(code, {}).get("fiscal")
        if score is None:
            continue
        grade = grade_for(score, policy.grades)
        kind, reason = department_consequence(grade, policy.budget)
        own = department_line(
            (
                BudgetLine(row["request_fen"], row["recommended_fen"], ex_ante_cut_fen=row["ex_ante_cut_fen"])
                for row in lines
                if row["department_grade"] and owner.get(row["project_id"]) == department_id
            ),
            kind,
            reason,
        )
        rows.append(
            {
                "cycle_id": cycle_id,
                "department_id": department_id,
                "budget_year": budget_year,
                "request_fen": own.request_fen,
                "score": score,
                "grade": grade,
                "cut_ratio": grade_cut_ratio(grade, policy.budget),
                "recommended_fen": own.recommended_fen,
                "priority": False,
                "reason_kind": kind,
                "reason": reason,
                "explanation": "",
            }
        )
    _upsert(session, DepartmentRecommendation, "department_id", cycle_id, rows)
    return len(rows)


def _recommend_policies(session: Any, cycle_id: int, year: int, budget_year: int, policy: Any) -> int:
    """Each key-evaluated policy's funds with its grade's cut; the number of policies recommended."""
    scores = _scores(session, cycle_id, "policy")
    rows: list[dict[str, Any]] = []
    for fiscal_policy in session.exec(
        select(FiscalPolicy).where(FiscalPolicy.year == year).order_by(FiscalPolicy.code)
    ):
        score = scores.get(fiscal_policy.code, {}).get("fiscal")
        if score is None:
            continue
        grade = grade_for(score, policy.grades)
        decision = policy_decision(fiscal_policy.funds_fen, grade, policy.budget)
        rows.append(
            {
                "cycle_id": cycle_id,
                "policy_id": fiscal_policy.id,
                "budget_year": budget_year,
                "funds_fen": fiscal_policy.funds_fen,
                "score": score,
                "grade": grade,
                **_stated(decision),
            }
        )
    _upsert(session, PolicyRecommendation, "policy_id", cycle_id, rows)
    return len(rows)


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
                        "事前评估压减（万元）": fmt_wan(line.request_fen - line.base_fen),
                        "安排基数（万元）": fmt_wan(line.base_fen),
                        "安排（万元）": fmt_wan(line.effective_fen),
                        "理由": line.standing_reason,
                        "调整理由": rec.override_reason,
                    }
                )
        totals = budget_figures(session, cycle_id)
        increase = (
            f"，调增 {totals.increased_projects} 个共 {fmt_wan(totals.increase_fen)} 万元"
            if totals.increased_projects
            else ""
        )
        consequences = consequence_figures(session, cycle_id)
        publish_table(
            f"{cycle.year}-budget-cuts",
            rows,
            f"{cycle.budget_year} 年预算安排建议：{totals.projects} 个项目，申请 {fmt_wan(totals.request_fen)} 万元，"
            f"事前评估压减 {fmt_wan(totals.ex_ante_cut_fen)} 万元，安排基数 {fmt_wan(totals.base_fen)} 万元，"
            f"建议安排 {fmt_wan(totals.recommended_fen)} 万元；压减 {totals.cut_projects} 个共 "
            f"{fmt_wan(totals.cut_fen)} 万元{increase}，优先保障 {totals.priority_projects} 个"
            + _consequence_sentence(consequences),
        )
        return {**budget_summary(totals), "consequences": consequence_summary(consequences)}


def _consequence_sentence(consequences: ConsequenceFigures) -> str:
    """The key-evaluated policies' and departments' lines in one clause, over their amounts as they stand."""
    if not consequences.lines:
        return ""
    totals = consequences.totals
    adjusted = f"（审批调整 {len(consequences.overridden)} 项）" if consequences.overridden else ""
    increase = f"，增加 {fmt_wan(totals.increase_fen)} 万元" if totals.increase_fen else ""
    return (
        f"；重点评价政策 {len(consequences.codes('policy'))} 项、部门整体 {len(consequences.codes('department'))} 个，"
        f"涉及 {fmt_wan(totals.base_fen)} 万元，建议安排 {fmt_wan(totals.recommended_fen)} 万元，"
        f"压减 {fmt_wan(totals.cut_fen)} 万元{increase}{adjusted}"
    )

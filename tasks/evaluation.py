"""Self-evaluation (full coverage) and department evaluation: scores, grades and inflation flags."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from prefect import task
from sqlmodel import select

from models import Department, Evaluation, Indicator, MonitoringRecord, session_scope
from models.rows import ProjectRow, columns
from perfcycle.figures import SelfEvaluationCoverage, self_evaluation_coverage
from perfcycle.rules.precision import execution_rate
from perfcycle.rules.scoring import IndicatorInput, grade_for, is_inflated, project_score, weighted_score
from perfcycle.rules.selection import propose_department_evaluation
from tasks.artifacts import publish_table
from tasks.common import cycle_policy, get_cycle, projects_of


def _evaluations(session: Any, cycle_id: int, kind: str) -> dict[tuple[str, str], Evaluation]:
    rows = session.exec(select(Evaluation).where(Evaluation.cycle_id == cycle_id, Evaluation.kind == kind))
    return {(e.object_type, e.object_code): e for e in rows}


@task(name="score-self-evaluations")
def score_self_evaluations(cycle_id: int) -> dict[str, Any]:
    """Compute every project's and department's self-evaluation score from actuals and year-end spending."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        projects = projects_of(session, cycle.year)
        indicators: dict[int, list[IndicatorInput]] = defaultdict(list)
        for project_id, *fields in session.exec(
            select(
                *columns(
                    Indicator, "project_id", "level1", "operator", "target_value", "actual", "achievement", "weight"
                )
            ).where(Indicator.cycle_id == cycle_id)
        ):
            indicators[project_id].append(IndicatorInput(*fields))
        year_end = dict(
            session.exec(
                select(MonitoringRecord.project_id, MonitoringRecord.spent_fen).where(
                    MonitoringRecord.cycle_id == cycle_id, MonitoringRecord.quarter == "Q4"
                )
            ).all()
        )
        existing = _evaluations(session, cycle_id, "self")
        departments = {d.id: d for d in session.exec(select(Department))}
        threshold = policy.self_evaluation.inflation_flag_points
        per_department: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
        flagged: list[dict[str, Any]] = []
        for project in projects:
            assert project.id is not None
            spent = year_end.get(project.id)
            rate = None if spent is None else execution_rate(spent, project.budget_fen)
            breakdown = project_score(indicators[project.id], rate, policy.self_evaluation)
            evaluation = existing.get(("project", project.code)) or Evaluation(
                cycle_id=cycle_id, kind="self", object_type="project", object_code=project.code
            )
            _apply(evaluation, breakdown.total, policy, threshold)
            evaluation.department_id = project.department_id
            evaluation.amount_fen = project.budget_fen
            evaluation.execution_rate = breakdown.execution_rate
            session.add(evaluation)
            per_department[project.department_id].append((project.budget_fen, breakdown.total))
            if evaluation.flagged:
                flagged.append(_flag_row(departments[project.department_id].name, project.name, evaluation))
        for department_id, items in per_department.items():
            department = departments[department_id]
            score = weighted_score(items)
            assert score is not None
            evaluation = existing.get(("department", department.code)) or Evaluation(
                cycle_id=cycle_id, kind="self", object_type="department", object_code=department.code
            )
            _apply(evaluation, score, policy, threshold)
            evaluation.department_id = department_id
            evaluation.amount_fen = sum(b for b, _ in items)
            session.add(evaluation)
            if evaluation.flagged:
                flagged.append(_flag_row(department.name, "部门整体支出", evaluation))
        covered = self_evaluation_coverage(session, cycle_id)
        publish_table(
            f"{cycle.year}-self-evaluation-flags",
            flagged,
            f"{cycle.year} 年绩效自评：{_coverage_text(covered)}，自评分偏高 {len(flagged)} 个",
        )
        return {
            "projects": covered.projects.covered,
            "departments": covered.departments.covered,
            "coverage": float(covered.projects.ratio),
            "scored_projects": len(projects),
            "inflated": len(flagged),
        }


def _coverage_text(covered: SelfEvaluationCoverage) -> str:
    """全覆盖 only when every project and every department sent its self-evaluation."""
    projects, departments = covered.projects, covered.departments
    if projects.full and departments.full:
        return f"{projects.total} 个项目、{departments.total} 个部门全覆盖"
    return (
        f"{projects.covered}/{projects.total} 个项目（{projects.percent}）、"
        f"{departments.covered}/{departments.total} 个部门完成自评"
    )


def _apply(evaluation: Evaluation, score: Decimal, policy: Any, threshold: Decimal) -> None:
    evaluation.score = score
    evaluation.grade = grade_for(score, policy.grades)
    evaluation.flagged = is_inflated(evaluation.claimed_score, score, threshold)
    evaluation.flag_reason = (
        f"自评得分 {evaluation.claimed_score} 高于核算得分 {score} 达 {threshold} 分以上" if evaluation.flagged else ""
    )


def _flag_row(department: str, subject: str, evaluation: Evaluation) -> dict[str, Any]:
    return {
        "部门": department,
        "对象": subject,
        "自评得分": str(evaluation.claimed_score),
        "核算得分": str(evaluation.score),
        "说明": evaluation.flag_reason,
    }


@task(name="grade-department-evaluations")
def grade_department_evaluations(cycle_id: int) -> dict[str, Any]:
    """Grade each department's own evaluation; list departments that evaluated none, with a proposal."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        projects = projects_of(session, cycle.year)
        by_code = {p.code: p for p in projects}
        evaluations = _evaluations(session, cycle_id, "department")
        evaluated_departments: set[int] = set()
        for evaluation in evaluations.values():
            if evaluation.score is not None:
                evaluation.grade = grade_for(evaluation.score, policy.grades)
                session.add(evaluation)
            project = by_code.get(evaluation.object_code)
            if project is not None:
                evaluated_departments.add(project.department_id)
        per_department: dict[int, list[ProjectRow]] = defaultdict(list)
        for project in projects:
            per_department[project.department_id].append(project)
        departments = {d.id: d for d in session.exec(select(Department))}
        missing: list[dict[str, Any]] = []
        for department_id, items in sorted(per_department.items(), key=lambda kv: departments[kv[0]].code):
            if department_id in evaluated_departments:
                continue
            proposal = propose_department_evaluation(
                [(p.code, p.type, p.budget_fen) for p in items], policy.targets.development_type
            )
            if proposal is not None:
                missing.append({"部门": departments[department_id].name, "建议评价项目": by_code[proposal].name})
        publish_table(
            f"{cycle.year}-department-evaluation",
            missing,
            f"{cycle.year} 年部门评价：{len(evaluated_departments)} 个部门已开展，{len(missing)} 个部门尚未开展",
        )
        return {"evaluations": len(evaluations), "departments": len(evaluated_departments), "missing": len(missing)}

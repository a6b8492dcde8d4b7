"""Key fiscal evaluation: the default proposal of objects and the third party's graded results."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from prefect import task
from sqlmodel import select

from models import Cycle, Department, Evaluation, FiscalPolicy, Selection, session_scope
from perfcycle.documents.contexts import OBJECT_TYPE_ORDER
from perfcycle.figures import selection_figures
from perfcycle.money import fmt_wan
from perfcycle.rules.scoring import grade_for
from perfcycle.rules.selection import ProjectCandidate, SimpleCandidate, propose_selection
from perfcycle.workbooks.formats import OBJECT_TYPE_LABELS
from tasks.artifacts import publish_table
from tasks.common import cycle_policy, get_cycle, projects_of


@task(name="propose-key-evaluations")
def propose_key_evaluations(cycle_id: int) -> dict[str, Any]:
    """Propose the objects once; a selection already recorded (maybe edited by the coordinator) is kept."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        selection = list(session.exec(select(Selection).where(Selection.cycle_id == cycle_id)))
        if not selection:
            projects = projects_of(session, cycle.year)
            departments = {d.id: d for d in session.exec(select(Department))}
            overall: dict[int, int] = defaultdict(int)
            for p in projects:
                overall[p.department_id] += p.budget_fen
            lookback = policy.fiscal_evaluation.lookback_cycles
            recent = session.exec(
                select(Evaluation.object_type, Evaluation.object_code)
                .join(Cycle, Cycle.id == Evaluation.cycle_id)  # type: ignore[arg-type]
                .where(Evaluation.kind == "fiscal", Cycle.year < cycle.year, Cycle.year >= cycle.year - lookback)
            ).all()
            policies = session.exec(select(FiscalPolicy).where(FiscalPolicy.year == cycle.year)).all()
            proposal = propose_selection(
                [ProjectCandidate(p.code, p.name, p.budget_fen, p.policy_related, p.high_attention) for p in projects],
                [SimpleCandidate(p.code, p.name, p.funds_fen) for p in policies],
                [SimpleCandidate(departments[i].code, departments[i].name, amount) for i, amount in overall.items()],
                {(t, c) for t, c in recent},
                policy.fiscal_evaluation,
            )
            for item in proposal:
                row = Selection(
                    cycle_id=cycle_id,
                    object_type=item.object_type,
                    object_code=item.code,
                    name=item.name,
                    amount_fen=item.amount_fen,
                    rank=item.rank,
                    reason=item.reason,
                )
                session.add(row)
                selection.append(row)
        session.flush()
        figures = selection_figures(session, cycle_id)
        publish_table(
            f"{cycle.year}-key-evaluation-selection",
            [
                {
                    "对象类型": OBJECT_TYPE_LABELS[s.object_type],
                    "对象编码": s.object_code,
                    "对象名称": s.name,
                    "金额（万元）": fmt_wan(s.amount_fen),
                    "理由": s.reason,
                }
                for s in sorted(selection, key=lambda s: (OBJECT_TYPE_ORDER[s.object_type], s.rank))
            ],
            f"{cycle.year} 年财政重点评价：{len(figures.of('project'))} 个项目、{len(figures.of('policy'))} 项政策、"
            f"{len(figures.of('department'))} 个部门（整体支出），涉及资金 {fmt_wan(figures.amount_fen)} 万元",
        )
        return {
            "projects": len(figures.of("project")),
            "policies": len(figures.of("policy")),
            "departments": len(figures.of("department")),
            "amount_wan": fmt_wan(figures.amount_fen),
        }


@task(name="grade-key-evaluations")
def grade_key_evaluations(cycle_id: int) -> dict[str, Any]:
    """Grade the third party's scores; selected objects still without a score are listed."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        selection = session.exec(select(Selection).where(Selection.cycle_id == cycle_id)).all()
        results = {
            (e.object_type, e.object_code): e
            for e in session.exec(
                select(Evaluation).where(Evaluation.cycle_id == cycle_id, Evaluation.kind == "fiscal")
            )
        }
        grades: dict[str, int] = defaultdict(int)
        missing: list[str] = []
        for item in selection:
            evaluation = results.get((item.object_type, item.object_code))
            if evaluation is None or evaluation.score is None:
                missing.append(f"{item.object_type}:{item.object_code}")
                continue
            evaluation.grade = grade_for(evaluation.score, policy.grades)
            evaluation.amount_fen = item.amount_fen
            session.add(evaluation)
            grades[evaluation.grade] += 1
        return {"scored": sum(grades.values()), "grades": dict(grades), "missing": missing}

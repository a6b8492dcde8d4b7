"""Ex-ante assessment: the panel's scores become conclusions and cuts for new and extended major projects."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from prefect import task
from sqlmodel import select

from models import Department, ExAnteAssessment, session_scope
from perfcycle.figures import ex_ante_figures
from perfcycle.money import fmt_wan
from perfcycle.rules.ex_ante import ex_ante_conclusion, ex_ante_cut, ex_ante_total, needs_ex_ante
from tasks.artifacts import publish_table
from tasks.common import cycle_policy, get_cycle, projects_of


@task(name="assess-ex-ante")
def assess_ex_ante(cycle_id: int) -> dict[str, Any]:
    """Score, conclude and cut each assessed project; projects in scope without panel scores are listed."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        in_scope = [
            p for p in projects_of(session, cycle.year) if needs_ex_ante(p.attribute, p.request_fen, policy.ex_ante)
        ]
        assessments = {
            a.project_id: a for a in session.exec(select(ExAnteAssessment).where(ExAnteAssessment.cycle_id == cycle_id))
        }
        departments = {d.id: d for d in session.exec(select(Department))}
        rows: list[dict[str, Any]] = []
        unassessed: list[str] = []
        for project in in_scope:
            assessment = assessments.get(project.id)
            if assessment is None:
                unassessed.append(project.code)
                continue
            scores = {k: Decimal(v) for k, v in json.loads(assessment.scores_json).items()}
            total = ex_ante_total(scores, policy.ex_ante)
            conclusion = ex_ante_conclusion(total, policy.ex_ante)
            assessment.total = total
            assessment.conclusion = conclusion
            assessment.request_fen = project.request_fen
            assessment.cut_fen = ex_ante_cut(conclusion, project.request_fen, assessment.proposed_cut_fen)
            session.add(assessment)
            rows.append(
                {
                    "单位": departments[project.department_id].name,
                    "项目": project.name,
                    "申请（万元）": fmt_wan(project.request_fen),
                    "得分": str(total),
                    "结论": conclusion,
                    "压减（万元）": fmt_wan(assessment.cut_fen),
                }
            )
        session.flush()
        figures = ex_ante_figures(session, cycle_id)
        summary = {
            "units": len(figures.units),
            "projects": len(figures.projects),
            "amount_wan": fmt_wan(figures.amount_fen),
            "cut_wan": fmt_wan(figures.cut_fen),
            "unassessed": unassessed,
        }
        publish_table(
            f"{cycle.year}-ex-ante",
            rows,
            f"{cycle.year} 年事前绩效评估：{summary['units']} 家单位 {summary['projects']} 个项目，"
            f"涉及资金 {summary['amount_wan']} 万元，压减 {summary['cut_wan']} 万元",
        )
        return summary

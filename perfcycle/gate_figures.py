"""What a gate group decides on, as an approver reads it before deciding: headline figures, named lists and a table.

The one home of these figures: the approval form of a suspended run shows the lines and the table,
`perfcycle approvals`, `perfcycle status` and a run's stop show the lines and the lists. Read from the records
the stage wrote (never recomputed); the budget table's totals are `perfcycle.figures.budget_figures`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from models import (
    BudgetRecommendation,
    Cycle,
    Department,
    Document,
    Evaluation,
    ExAnteAssessment,
    Indicator,
    Project,
    Sample,
    SampleMember,
    Selection,
    StageState,
    TargetReview,
)
from models.rows import project_rows
from perfcycle.approvals import GateGroup
from perfcycle.documents.contexts import OBJECT_TYPE_LABELS
from perfcycle.figures import (
    budget_figures,
    budget_line,
    consequence_figures,
    ex_ante_figures,
    sampling_figures,
    selection_figures,
)
from perfcycle.money import fmt_wan
from perfcycle.rules.precision import percent_text

#: Rows shown at most; the rest are counted ("…另有 N 行").
MAX_ROWS = 60


@dataclass
class GateFigures:
    """Headline lines, named lists (departments, projects, objects) and one table (columns, rows); `more` rows
    were left out of the table."""

    lines: list[str] = field(default_factory=list)
    lists: list[tuple[str, list[str]]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    more: int = 0

    def limit(self) -> GateFigures:
        if len(self.rows) > MAX_ROWS:
            self.more, self.rows = len(self.rows) - MAX_ROWS, self.rows[:MAX_ROWS]
        return self


def _stage_summary(session: Session, cycle: Cycle, stage: str) -> dict[str, Any]:
    summary = session.exec(
        select(StageState.summary_json).where(StageState.cycle_id == cycle.id, StageState.stage == stage)
    ).first()
    return dict(json.loads(summary or "{}"))


def _targets(session: Session, cycle: Cycle, group: GateGroup) -> GateFigures:
    departments = {
        d.code: d
        for d in session.exec(select(Department).where(col(Department.code).in_([g.subject for g in group.gates])))
    }
    ids = {d.id: d.code for d in departments.values()}
    projects = [p for p in project_rows(session, Project.year == cycle.year) if p.department_id in ids]
    statuses = dict(
        session.exec(
            select(TargetReview.project_id, TargetReview.status).where(TargetReview.cycle_id == cycle.id)
        ).all()
    )
    indicators = dict(
        session.exec(
            select(Indicator.project_id, func.count())
            .where(Indicator.cycle_id == cycle.id)
            .group_by(col(Indicator.project_id))
        ).all()
    )
    per: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for project in projects:
        row = per[ids[project.department_id]]
        row["projects"] += 1
        row["complete"] += statuses.get(project.id) in ("submitted", "approved")
        row["budget"] += project.budget_fen
        row["indicators"] += indicators.get(project.id, 0)
    figures = GateFigures(columns=["审批编号", "部门编码", "部门", "项目", "目标完整", "预算（万元）", "绩效指标"])
    for gate in group.gates:
        counts = per[gate.subject]
        department = departments.get(gate.subject)
        figures.rows.append(
            [
                str(gate.id),
                gate.subject,
                department.name if department else "",
                str(counts["projects"]),
                str(counts["complete"]),
                fmt_wan(counts["budget"]),
                str(counts["indicators"]),
            ]
        )
    figures.lines.append(
        f"{len(group.gates)} 个部门，{len(projects)} 个项目（目标完整 {sum(c['complete'] for c in per.values())} 个），"
        f"预算 {fmt_wan(sum(p.budget_fen for p in projects))} 万元，绩效指标 {sum(c['indicators'] for c in per.values())} 条"
    )
    review = _stage_summary(session, cycle, "target_setting").get("review")
    if review:
        figures.lines.append(
            f"全部 {review['projects']} 个项目：目标齐全 {review['complete']}，退回修改 {review['returned']}，"
            f"未填报 {review['missing']}"
        )
    returned = Counter(
        session.exec(
            select(Department.code, Department.name)
            .join(Project, col(Project.department_id) == Department.id)
            .join(TargetReview, col(TargetReview.project_id) == Project.id)
            .where(TargetReview.cycle_id == cycle.id, TargetReview.status == "returned")
        )
    )
    if returned:
        figures.lists.append(("退回修改的项目", [f"{name} {n} 个" for (_, name), n in sorted(returned.items())]))
    return figures


def _ex_ante(session: Session, cycle: Cycle, group: GateGroup) -> GateFigures:
    rows = session.exec(
        select(ExAnteAssessment, Project, Department)
        .join(Project, col(Project.id) == ExAnteAssessment.project_id)
        .join(Department, col(Department.id) == Project.department_id)
        .where(ExAnteAssessment.cycle_id == cycle.id, ExAnteAssessment.conclusion != "")
        .order_by(col(Project.code))
    ).all()
    figures = GateFigures(columns=["单位", "项目编码", "项目", "申请（万元）", "得分", "结论", "压减（万元）"])
    for assessment, project, department in rows:
        figures.rows.append(
            [
                department.name,
                project.code,
                project.name,
                fmt_wan(assessment.request_fen),
                str(assessment.total),
                assessment.conclusion,
                fmt_wan(assessment.cut_fen),
            ]
        )
    assert cycle.id is not None
    assessed = ex_ante_figures(session, cycle.id)
    if assessed.projects:
        figures.lines.append(
            f"{len(assessed.units)} 家单位 {len(assessed.projects)} 个项目，申请 {fmt_wan(assessed.amount_fen)} 万元，"
            f"建议压减 {fmt_wan(assessed.cut_fen)} 万元"
        )
        if assessed.conclusions:
            figures.lines.append(
                "结论：" + "，".join(f"{k} {len(v)} 个" for k, v in sorted(assessed.conclusions.items()))
            )
    else:
        figures.lines.append("没有读到任何专家评分（事前评估评分表），请核对填报目录后再决定")
    unassessed = _stage_summary(session, cycle, "ex_ante_assessment").get("unassessed") or []
    if unassessed:
        figures.lists.append((f"没有专家评分的应评估项目（{len(unassessed)} 个）", list(unassessed)))
    return figures


def _sample(session: Session, cycle: Cycle, group: GateGroup) -> GateFigures:
    figures = GateFigures(columns=["部门编码", "部门", "此前被抽次数"])
    sample = session.exec(select(Sample).where(Sample.cycle_id == cycle.id)).first()
    if sample is None:
        return figures
    members = session.exec(
        select(SampleMember, Department)
        .join(Department, col(Department.id) == SampleMember.department_id)
        .where(SampleMember.sample_id == sample.id)
        .order_by(col(Department.code))
    ).all()
    figures.rows = [[d.code, d.name, str(m.tier)] for m, d in members]
    if members:
        figures.lists.append(("样本部门", [d.name for _, d in members]))
    assert cycle.id is not None
    drawn = sampling_figures(session, cycle.id)
    figures.lines.append(
        f"抽取 {drawn.size} 个部门（比例 {percent_text(drawn.ratio)}），累计覆盖率 {drawn.cumulative.percent}"
    )
    figures.lines.append(
        f"随机种子 {sample.seed}，总体哈希 {sample.population_hash[:16]}…，算法 {sample.algorithm}（可复现）"
    )
    if sample.open_findings:  # the departments put first, after the never-sampled, for findings still open
        figures.lines.append(
            f"仍有以前年度未整改问题的部门（在从未抽中的部门之后优先抽取）：{sample.open_findings.replace(',', '、')}"
        )
    return figures


def _selection_names(session: Session, cycle: Cycle) -> dict[tuple[str, str], Selection]:
    return {
        (s.object_type, s.object_code): s for s in session.exec(select(Selection).where(Selection.cycle_id == cycle.id))
    }


def _key_selection(session: Session, cycle: Cycle, group: GateGroup) -> GateFigures:
    order = list(OBJECT_TYPE_LABELS)
    selection = sorted(
        _selection_names(session, cycle).values(),
        key=lambda s: (order.index(s.object_type) if s.object_type in order else len(order), s.rank),
    )
    figures = GateFigures(columns=["类型", "编码", "名称", "金额（万元）", "理由"])
    figures.rows = [
        [OBJECT_TYPE_LABELS.get(s.object_type, s.object_type), s.object_code, s.name, fmt_wan(s.amount_fen), s.reason]
        for s in selection
    ]
    assert cycle.id is not None
    selected = selection_figures(session, cycle.id)
    figures.lines.append(
        "、".join(f"{OBJECT_TYPE_LABELS.get(t, t)} {len(selected.of(t))} 个" for t in order if selected.of(t))
        + f"，涉及资金 {fmt_wan(selected.amount_fen)} 万元"
    )
    if selection:
        figures.lists.append(
            (
                "评价对象",
                [f"{OBJECT_TYPE_LABELS.get(s.object_type, s.object_type)} {s.object_code} {s.name}" for s in selection],
            )
        )
    return figures


def _key_reports(session: Session, cycle: Cycle, group: GateGroup) -> GateFigures:
    names = _selection_names(session, cycle)
    evaluations = session.exec(
        select(Evaluation)
        .where(Evaluation.cycle_id == cycle.id, Evaluation.kind == "fiscal")
        .order_by(col(Evaluation.object_type), col(Evaluation.object_code))
    ).all()
    figures = GateFigures(columns=["类型", "编码", "名称", "金额（万元）", "得分", "等级", "评价机构"])
    for e in evaluations:
        selected = names.get((e.object_type, e.object_code))
        figures.rows.append(
            [
                OBJECT_TYPE_LABELS.get(e.object_type, e.object_type),
                e.object_code,
                selected.name if selected else "",
                fmt_wan(e.amount_fen),
                str(e.score) if e.score is not None else "—",
                e.grade or "—",
                e.evaluator,
            ]
        )
    grades = Counter(e.grade for e in evaluations if e.grade)
    figures.lines.append(
        f"评价对象 {len(evaluations)} 个（已选 {len(names)} 个）"
        + ("，等级：" + "，".join(f"{g} {n} 个" for g, n in sorted(grades.items())) if grades else "")
    )
    scored = {(e.object_type, e.object_code) for e in evaluations if e.score is not None}
    missing = [
        f"{OBJECT_TYPE_LABELS.get(kind, kind)} {code} {s.name}"
        for (kind, code), s in names.items()
        if (kind, code) not in scored
    ]
    if missing:
        figures.lists.append((f"尚无评分（{len(missing)} 个）", sorted(missing)))
    return figures


def _budget(session: Session, cycle: Cycle, group: GateGroup) -> GateFigures:
    assert cycle.id is not None
    rows = session.exec(
        select(BudgetRecommendation, Project, Department)
        .join(Project, col(Project.id) == BudgetRecommendation.project_id)
        .join(Department, col(Department.id) == Project.department_id)
        .where(BudgetRecommendation.cycle_id == cycle.id)
    ).all()
    lines = [(budget_line(r), r, p, d) for r, p, d in rows]
    if not lines:
        return GateFigures()
    shown = [item for item in lines if item[0].recommended_fen < item[0].base_fen or item[1].override_fen is not None]
    shown.sort(key=lambda t: (t[1].override_fen is None, -(t[0].base_fen - t[0].recommended_fen), t[2].code))
    figures = GateFigures(
        columns=[
            "项目编码",
            "项目",
            "部门",
            "申请（万元）",
            "安排基数（万元）",
            "建议（万元）",
            "调整为（万元）",
            "理由",
        ],
        rows=[
            [
                p.code,
                p.name,
                d.name,
                fmt_wan(line.request_fen),
                fmt_wan(line.base_fen),
                fmt_wan(line.recommended_fen),
                fmt_wan(r.override_fen) if r.override_fen is not None else "",
                r.override_reason or r.reason,
            ]
            for line, r, p, d in shown
        ],
    )
    totals = budget_figures(session, cycle.id)
    figures.lines.append(
        f"{cycle.budget_year} 年预算安排建议：{totals.projects} 个项目，申请 {fmt_wan(totals.request_fen)} 万元，"
        f"事前评估压减 {fmt_wan(totals.ex_ante_cut_fen)} 万元，建议安排 {fmt_wan(totals.computed_fen)} 万元"
    )
    computed = budget_figures(session, cycle.id, as_computed=True)
    figures.lines.append(
        f"压减 {computed.cut_projects} 个项目共 {fmt_wan(computed.cut_fen)} 万元，优先保障 {computed.priority_projects} 个"
        + (
            f"；已调整 {totals.overridden_projects} 个，调整后合计 {fmt_wan(totals.recommended_fen)} 万元"
            if totals.overridden_projects
            else ""
        )
    )
    consequences = consequence_figures(session, cycle.id)
    if consequences.lines:
        for code, c in zip(consequences.all, consequences.lines, strict=True):
            figures.rows.append(
                [
                    code,  # what an adjustment names: 政策:编码 / 部门:编码
                    c.name,
                    OBJECT_TYPE_LABELS.get(c.object_type, c.object_type),
                    fmt_wan(c.line.request_fen),
                    fmt_wan(c.line.base_fen),
                    fmt_wan(c.line.recommended_fen),
                    fmt_wan(c.line.override_fen) if c.line.override_fen is not None else "",
                    c.override_reason or c.consequence,
                ]
            )
        standing = consequences.totals
        figures.lines.append(
            f"重点评价政策 {len(consequences.codes('policy'))} 项、部门整体 {len(consequences.codes('department'))} 个"
            f"按评价等级安排：涉及 {fmt_wan(standing.base_fen)} 万元，建议安排 {fmt_wan(standing.recommended_fen)} 万元"
            + (f"（已调整 {len(consequences.overridden)} 项）" if consequences.overridden else "")
        )
    return figures


def _annual_report(session: Session, cycle: Cycle, group: GateGroup) -> GateFigures:
    documents = session.exec(
        select(Document.kind, Document.path)
        .where(Document.cycle_id == cycle.id, Document.stage == "reporting")
        .order_by(col(Document.path))
    ).all()
    figures = GateFigures(columns=["文件", "路径"], rows=[[kind, path] for kind, path in documents])
    decided = session.exec(
        select(func.count()).select_from(StageState).where(StageState.cycle_id == cycle.id, StageState.status == "done")
    ).one()
    figures.lines.append(f"已完成 {decided} 个阶段；待审定的文件：{'、'.join(Path(p).name for _, p in documents)}")
    return figures


FIGURES: dict[str, Callable[[Session, Cycle, GateGroup], GateFigures]] = {
    "targets": _targets,
    "ex_ante_conclusions": _ex_ante,
    "sample": _sample,
    "key_evaluation_selection": _key_selection,
    "key_evaluation_reports": _key_reports,
    "budget_table": _budget,
    "annual_report": _annual_report,
}


def gate_figures(session: Session, cycle: Cycle, group: GateGroup) -> GateFigures:
    """The figures the group's gates decide on (none for a gate this module does not know)."""
    make = FIGURES.get(group.gate)
    return make(session, cycle, group).limit() if make else GateFigures()

"""Context builders: every figure a document states, computed from the records of a cycle.

Each builder takes a Session and a cycle id, reads the records it needs with a handful of bulk
`session.exec(select(...))` queries (never one query per row) and returns a pydantic model whose fields
are exactly the variables of its template. Money leaves here as 万元 text with 2 decimals ("16904.55"),
percentages as text ("61.1%"), so templates only place values and never compute or format figures.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from models.rows import IndicatorRow, ProjectRow, indicator_rows, project_rows
from models.tables import (
    BudgetRecommendation,
    CollectionWindow,
    Cycle,
    Department,
    DepartmentLight,
    Evaluation,
    ExAnteAssessment,
    FiscalPolicy,
    Indicator,
    MonitoringRecord,
    Project,
    Publication,
    Sample,
    SampleMember,
    Selection,
    TargetReview,
    WarningNotice,
    WindowEntry,
)
from perfcycle.documents.charts import Chart, grade_chart, light_chart
from perfcycle.documents.frame import Frame, cn_date
from perfcycle.figures import budget_figures, monitoring_coverage, self_evaluation_coverage
from perfcycle.money import FEN_PER_WAN, fmt_wan, spoken_wan
from perfcycle.policy import QUARTERS, Policy, policy_from_json
from perfcycle.rules.windows import RETURNED
from perfcycle.stages import importing_stage

QUARTER_LABELS = {"Q1": "第一季度", "Q2": "第二季度", "Q3": "第三季度", "Q4": "第四季度"}
LIGHT_LABELS = {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}
OBJECT_TYPE_LABELS = {"project": "项目", "policy": "财政政策", "department": "部门整体支出"}
OBJECT_TYPE_ORDER = {"project": 0, "policy": 1, "department": 2}
CONCLUSIONS = ("予以支持", "调整后支持", "不予支持")
NAME_LIST_LIMIT = 10

_HUNDRED = Decimal(100)
_TENTH = Decimal("0.1")
_CENT = Decimal("0.01")


class ContextError(LookupError):
    """The records a document needs are not there (unknown cycle, unknown quarter…)."""


class _Context(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Issued(_Context):
    """A document the bureau issues as a 公文: its 主送机关, the date its records give it (None: the day it is first
    written), and the frame the catalogue gives it (number, date, 版记) before it is rendered."""

    addressee: str = ""
    dated: dt.date | None = None
    frame: Frame | None = None


# ---------------------------------------------------------------------------------------------- format


def pct(value: Decimal | int) -> str:
    """A percentage to one decimal, half up, without a trailing ".0": 61.11 → "61.1%", 60 → "60%"."""
    text = f"{Decimal(value).quantize(_TENTH, rounding=ROUND_HALF_UP):f}"
    if text.endswith(".0"):
        text = text[:-2]
    return f"{text}%"


def ratio_pct(numerator: int, denominator: int) -> str:
    """numerator / denominator as a percentage ("0%" when there is nothing to divide by)."""
    if denominator <= 0:
        return "0%"
    return pct(Decimal(numerator) * _HUNDRED / Decimal(denominator))


def policy_pct(ratio: Decimal) -> str:
    """A policy ratio (0.20) as a percentage ("20%")."""
    return pct(ratio * _HUNDRED)


def fmt_score(score: Decimal | None) -> str:
    """A score to 2 decimals; "" when there is none."""
    if score is None:
        return ""
    return f"{Decimal(score).quantize(_CENT, rounding=ROUND_HALF_UP):f}"


def fmt_number(value: Decimal | int) -> str:
    """A policy number without spurious zeros: 20 → "20", Decimal("500.00") → "500"."""
    text = f"{Decimal(value).normalize():f}"
    return text


def fmt_date(day: dt.date | None) -> str:
    """A date as 公文 write it: 2024年4月15日; "" when there is none."""
    return cn_date(day) if day is not None else ""


def join_names(names: Iterable[str], unit: str = "家部门", limit: int = NAME_LIST_LIMIT) -> str:
    """ "甲、乙、丙" — or "甲、乙…等12家部门" when the list is long."""
    items = list(names)
    if len(items) <= limit:
        return "、".join(items)
    return "、".join(items[:limit]) + f"等{len(items)}{unit}"


def _wan_text(fen: int) -> str:
    return fmt_wan(fen)


def count_phrase(counts: Iterable[tuple[str, int]], unit: str, joiner: str = "、") -> str:
    """ "予以支持7个、调整后支持2个": each label with its count, those that count nothing left out."""
    return joiner.join(f"{label}{count}{unit}" for label, count in counts if count)


# ---------------------------------------------------------------------------------------------- loading


def _cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise ContextError(f"没有编号为 {cycle_id} 的绩效管理周期")
    return cycle


def _policy(cycle: Cycle) -> Policy:
    if not cycle.policy_json:
        raise ContextError(f"{cycle.year} 年周期没有记录策略")
    return policy_from_json(cycle.policy_json)


def _district(cycle: Cycle, policy: Policy) -> str:
    return cycle.district or policy.district


def _departments(session: Session) -> dict[int, Department]:
    rows = session.exec(select(Department).order_by(col(Department.code))).all()
    return {d.id: d for d in rows if d.id is not None}


def _projects(session: Session, year: int, extra_ids: Iterable[int] = ()) -> dict[int, ProjectRow]:
    """The projects of the cycle year, plus any other project a record of the cycle points at.

    The year's projects are read once per session: a stage's documents are planned in one session, and
    several of them list the same projects."""
    cached = session.info.setdefault("perfcycle.projects", {})
    if year not in cached:
        cached[year] = {p.id: p for p in project_rows(session, Project.year == year)}
    projects: dict[int, ProjectRow] = cached[year]
    missing = sorted({i for i in extra_ids if i not in projects})
    if missing:
        projects = {**projects, **{p.id: p for p in project_rows(session, col(Project.id).in_(missing))}}
    return projects


def _dept_name(departments: dict[int, Department], department_id: int | None) -> str:
    if department_id is None or department_id not in departments:
        return ""
    return departments[department_id].name


def _sort_by_code(departments: dict[int, Department], ids: Iterable[int]) -> list[int]:
    return sorted(ids, key=lambda i: (departments[i].code if i in departments else "", i))


# ---------------------------------------------------------------------------------------------- shared figures


@dataclass(frozen=True)
class _ExAnteFigures:
    units: int
    projects: int
    amount_fen: int
    cut_fen: int
    conclusions: Counter[str]


def _ex_ante(assessments: Sequence[ExAnteAssessment], projects: dict[int, ProjectRow]) -> _ExAnteFigures:
    units = {projects[a.project_id].department_id for a in assessments if a.project_id in projects}
    return _ExAnteFigures(
        units=len(units),
        projects=len({a.project_id for a in assessments}),
        amount_fen=sum(a.request_fen for a in assessments),
        cut_fen=sum(a.cut_fen for a in assessments),
        conclusions=Counter(a.conclusion for a in assessments),
    )


@dataclass(frozen=True)
class _SamplingFigures:
    size: int
    members: list[int]
    ratio_pct: str
    covered: int
    cumulative_pct: str
    target_pct: str
    target_met: bool
    target_exceeded: bool


def _sampling(session: Session, cycle: Cycle, policy: Policy, departments_total: int) -> _SamplingFigures:
    """This cycle's draw and the rotation's cumulative coverage over all cycles up to this year."""
    rows = session.exec(
        select(Sample.cycle_id, SampleMember.department_id)
        .join(SampleMember, col(SampleMember.sample_id) == col(Sample.id))
        .join(Cycle, col(Cycle.id) == col(Sample.cycle_id))
        .where(Cycle.year <= cycle.year)
    ).all()
    members = sorted({dept for cycle_id, dept in rows if cycle_id == cycle.id})
    covered = len({dept for _cycle_id, dept in rows})
    own = session.exec(select(Sample).where(Sample.cycle_id == cycle.id)).first()
    size = len(members) if members else (own.size if own is not None else 0)
    cumulative = ratio_pct(covered, departments_total)
    # Compare the percentages as stated, so the sentence never contradicts its own figures.
    stated = Decimal(cumulative.rstrip("%"))
    target = policy.sampling.coverage_target * _HUNDRED
    return _SamplingFigures(
        size=size,
        members=members,
        ratio_pct=policy_pct(policy.sampling.ratio),
        covered=covered,
        cumulative_pct=cumulative,
        target_pct=policy_pct(policy.sampling.coverage_target),
        target_met=stated >= target,
        target_exceeded=stated > target,
    )


def _is_late(publication: Publication) -> bool:
    if publication.published_on is None:
        return True
    return publication.due_on is not None and publication.published_on > publication.due_on


def _next_quarter(quarter: str) -> str | None:
    index = QUARTERS.index(quarter) if quarter in QUARTERS else -1
    return QUARTERS[index + 1] if 0 <= index < len(QUARTERS) - 1 else None


def _improved(
    department_id: int,
    quarter: str,
    notices: dict[tuple[int, str], WarningNotice],
    lights: dict[tuple[int, str], str],
) -> bool | None:
    """Whether a red/yellow department was green the next quarter: the stage's verdict on the notice,
    else the next quarter's light; None while the next quarter is not known."""
    notice = notices.get((department_id, quarter))
    if notice is not None and notice.improved is not None:
        return notice.improved
    following = _next_quarter(quarter)
    if following is None or (department_id, following) not in lights:
        return None
    return lights[(department_id, following)] == "green"


# ---------------------------------------------------------------------------------------------- annual report


class QuarterLights(_Context):
    quarter: str
    label: str
    departments: int
    green: int
    yellow: int
    red: int


class RedDepartment(_Context):
    name: str
    quarters: str
    improved: bool | None


class CostPilot(_Context):
    project_code: str
    project_name: str
    department_name: str
    label: str
    budget_wan: str


class AnnualReportContext(Issued):
    """关于{区}{年}年区级预算绩效管理工作开展情况的说明 — every figure of the seed report, computed."""

    district: str
    issuer: str
    year: int
    budget_year: int
    # (一) ex-ante assessment and targets
    ex_ante_units: int
    ex_ante_projects: int
    ex_ante_amount_wan: str
    ex_ante_cut_wan: str
    ex_ante_supported: int
    ex_ante_adjusted: int
    ex_ante_rejected: int
    projects_total: int
    targets_approved: int
    targets_returned: int
    targets_missing: int
    # (二) monitoring
    departments_total: int
    monitoring_departments: int
    monitoring_full_coverage: bool
    monitoring_coverage_pct: str
    monitoring_missing_names: str
    quarters: list[QuarterLights]
    red_departments: list[RedDepartment]
    red_department_count: int
    red_improved_count: int
    red_notices: int
    yellow_notices: int
    # (三) evaluation
    self_eval_projects: int
    self_eval_departments: int
    self_eval_coverage_pct: str
    self_eval_full_coverage: bool
    self_eval_missing_projects: int
    self_eval_missing_departments: int
    department_evaluations: int
    sample_size: int
    sample_ratio_pct: str
    cumulative_covered: int
    cumulative_coverage_pct: str
    coverage_target_pct: str
    coverage_target_met: bool
    coverage_target_exceeded: bool
    review_count: int
    review_flags: int
    fiscal_projects: int
    fiscal_policies: int
    fiscal_departments: int
    fiscal_amount_wan: str
    # (四) budget linkage
    budget_projects: int
    budget_cut_projects: int
    budget_priority_projects: int
    budget_cancelled_projects: int
    budget_low_execution_projects: int
    budget_request_wan: str
    budget_recommended_wan: str
    budget_cut_wan: str
    budget_increased_projects: int
    budget_increase_wan: str
    # (五) cost pilot
    cost_pilot: CostPilot | None
    # 二、problems
    problems: list[str]
    late_publications: int
    inflated_self_evaluations: int
    # charts: the quarterly lights and the grade distribution (None when there is nothing to draw)
    light_chart: Chart | None
    grade_chart: Chart | None


def annual_report_context(session: Session, cycle_id: int) -> AnnualReportContext:
    """Every figure of the annual 工作开展情况说明, from the records of the cycle."""
    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)

    assessments = session.exec(select(ExAnteAssessment).where(ExAnteAssessment.cycle_id == cycle_id)).all()
    reviews = session.exec(select(TargetReview).where(TargetReview.cycle_id == cycle_id)).all()
    lights = session.exec(select(DepartmentLight).where(DepartmentLight.cycle_id == cycle_id)).all()
    notices = session.exec(select(WarningNotice).where(WarningNotice.cycle_id == cycle_id)).all()
    evaluations = session.exec(select(Evaluation).where(Evaluation.cycle_id == cycle_id)).all()
    selections = session.exec(select(Selection).where(Selection.cycle_id == cycle_id)).all()
    recommendations = session.exec(select(BudgetRecommendation).where(BudgetRecommendation.cycle_id == cycle_id)).all()
    publications = session.exec(select(Publication).where(Publication.cycle_id == cycle_id)).all()
    projects = _projects(session, cycle.year, (a.project_id for a in assessments))
    year_projects = [p for p in projects.values() if p.year == cycle.year]

    ex_ante = _ex_ante(assessments, projects)

    # Targets: a project of the year without an approved target review gets no budget.
    status = {r.project_id: r.status for r in reviews}
    year_status = Counter(status.get(p.id, "missing") for p in year_projects if p.id is not None)
    approved = year_status["approved"]
    returned = year_status["returned"]

    # Monitoring: department overall lights per quarter.
    light_of = {(row.department_id, row.quarter): row.light for row in lights}
    per_quarter: dict[str, Counter[str]] = defaultdict(Counter)
    for row in lights:
        per_quarter[row.quarter][row.light] += 1
    quarters = [
        QuarterLights(
            quarter=q,
            label=QUARTER_LABELS[q],
            departments=sum(per_quarter[q].values()),
            green=per_quarter[q]["green"],
            yellow=per_quarter[q]["yellow"],
            red=per_quarter[q]["red"],
        )
        for q in QUARTERS
        if q in per_quarter
    ]
    notice_of = {(n.department_id, n.quarter): n for n in notices}
    red_quarters: dict[int, list[str]] = defaultdict(list)
    for (dept, quarter), light in sorted(light_of.items(), key=lambda item: item[0][1]):
        if light == "red":
            red_quarters[dept].append(quarter)
    red_departments: list[RedDepartment] = []
    not_improved: list[str] = []
    for dept in _sort_by_code(departments, red_quarters):
        verdicts = [_improved(dept, q, notice_of, light_of) for q in red_quarters[dept]]
        if any(v is False for v in verdicts):
            overall: bool | None = False
        elif verdicts and all(v is True for v in verdicts):
            overall = True
        else:
            overall = None
        name = _dept_name(departments, dept)
        red_departments.append(
            RedDepartment(
                name=name,
                quarters="、".join(QUARTER_LABELS.get(q, q) for q in red_quarters[dept]),
                improved=overall,
            )
        )
        failed = [QUARTER_LABELS.get(q, q) for q, v in zip(red_quarters[dept], verdicts, strict=True) if v is False]
        if failed:
            not_improved.append(f"{name}（{'、'.join(failed)}）")

    monitored = monitoring_coverage(session, cycle_id)
    code_names = {d.code: d.name for d in departments.values()}

    # Evaluations.
    by_kind: dict[str, list[Evaluation]] = defaultdict(list)
    for ev in evaluations:
        by_kind[ev.kind].append(ev)
    self_evaluated = self_evaluation_coverage(session, cycle_id)
    inflated = [e for e in by_kind["self"] if e.flagged]
    review_flags = [e for e in by_kind["review"] if e.flagged]

    sampling = _sampling(session, cycle, policy, len(departments))

    fiscal_counts = Counter(s.object_type for s in selections)

    # Budget linkage: the table as it stands, the approvers' overrides included.
    budget = budget_figures(session, cycle_id)

    # Cost pilot.
    pilot: CostPilot | None = None
    code = policy.cost_pilot.project_code
    if code:
        project = next((p for p in year_projects if p.code == code), None)
        if project is not None:
            dept_name = _dept_name(departments, project.department_id)
            label = project.name if project.name.startswith(dept_name) else f"{dept_name}{project.name}"
            if not label.endswith("项目"):
                label += "项目"
            pilot = CostPilot(
                project_code=project.code,
                project_name=project.name,
                department_name=dept_name,
                label=label,
                budget_wan=_wan_text(project.budget_fen),
            )

    # 二、存在问题: sentences derived from the records.
    late = [p for p in publications if _is_late(p)]
    late_names = [_dept_name(departments, d) for d in _sort_by_code(departments, {p.department_id for p in late})]
    missing_targets = len(year_projects) - approved
    problems: list[str] = []
    if late_names:
        problems.append(
            f"绩效评价结果公开不够规范，{len(late_names)}家部门未按期公开绩效自评报告（{join_names(late_names)}）"
        )
    if not_improved:
        problems.append(
            f"部分部门预算执行和绩效目标实现进度偏慢，{join_names(not_improved)}"
            f"亮红灯后下一季度仍未改善，共涉及{len(not_improved)}家部门"
        )
    if inflated:
        problems.append(
            f"部分单位绩效自评不够客观，{len(inflated)}个自评对象自报得分高出核定得分"
            f"{fmt_number(policy.self_evaluation.inflation_flag_points)}分以上"
        )
    if review_flags:
        problems.append(f"抽查复核发现{len(review_flags)}个项目复核结果与自评结果差异较大，自评质量有待提高")
    if missing_targets:
        problems.append(f"{missing_targets}个项目绩效目标未设置或未通过审核，{cycle.budget_year}年预算未予安排")

    return AnnualReportContext(
        addressee=policy.documents.congress,
        district=_district(cycle, policy),
        issuer=policy.issuer,
        year=cycle.year,
        budget_year=cycle.budget_year,
        ex_ante_units=ex_ante.units,
        ex_ante_projects=ex_ante.projects,
        ex_ante_amount_wan=_wan_text(ex_ante.amount_fen),
        ex_ante_cut_wan=_wan_text(ex_ante.cut_fen),
        ex_ante_supported=ex_ante.conclusions["予以支持"],
        ex_ante_adjusted=ex_ante.conclusions["调整后支持"],
        ex_ante_rejected=ex_ante.conclusions["不予支持"],
        projects_total=len(year_projects),
        targets_approved=approved,
        targets_returned=returned,
        targets_missing=missing_targets,
        departments_total=len(departments),
        monitoring_departments=monitored.covered,
        monitoring_full_coverage=monitored.full,
        monitoring_coverage_pct=monitored.percent,
        monitoring_missing_names=join_names(code_names.get(code, code) for code in monitored.missing),
        quarters=quarters,
        red_departments=red_departments,
        red_department_count=len(red_departments),
        red_improved_count=sum(1 for r in red_departments if r.improved is True),
        red_notices=sum(1 for n in notices if n.level == "red"),
        yellow_notices=sum(1 for n in notices if n.level == "yellow"),
        self_eval_projects=self_evaluated.projects.covered,
        self_eval_departments=self_evaluated.departments.covered,
        self_eval_coverage_pct=self_evaluated.projects.percent,
        self_eval_full_coverage=self_evaluated.projects.full and self_evaluated.departments.full,
        self_eval_missing_projects=len(self_evaluated.projects.missing),
        self_eval_missing_departments=len(self_evaluated.departments.missing),
        department_evaluations=len(by_kind["department"]),
        sample_size=sampling.size,
        sample_ratio_pct=sampling.ratio_pct,
        cumulative_covered=sampling.covered,
        cumulative_coverage_pct=sampling.cumulative_pct,
        coverage_target_pct=sampling.target_pct,
        coverage_target_met=sampling.target_met,
        coverage_target_exceeded=sampling.target_exceeded,
        review_count=len(by_kind["review"]),
        review_flags=len(review_flags),
        fiscal_projects=fiscal_counts["project"],
        fiscal_policies=fiscal_counts["policy"],
        fiscal_departments=fiscal_counts["department"],
        fiscal_amount_wan=_wan_text(sum(s.amount_fen for s in selections)),
        budget_projects=budget.projects,
        budget_cut_projects=budget.cut_projects,
        budget_priority_projects=budget.priority_projects,
        budget_cancelled_projects=budget.cancelled_projects,
        budget_low_execution_projects=budget.low_execution_projects,
        budget_request_wan=_wan_text(budget.request_fen),
        budget_recommended_wan=_wan_text(budget.recommended_fen),
        budget_cut_wan=_wan_text(budget.cut_fen),
        budget_increased_projects=budget.increased_projects,
        budget_increase_wan=_wan_text(budget.increase_fen),
        cost_pilot=pilot,
        problems=problems,
        late_publications=len(late_names),
        inflated_self_evaluations=len(inflated),
        light_chart=quarter_light_chart(cycle.year, quarters),
        grade_chart=_grade_distribution_chart(
            cycle.year,
            policy,
            [
                ("项目自评等级", Counter(e.grade for e in by_kind["self"] if e.object_type == "project" and e.grade)),
                ("最终评价等级", Counter(r.grade for r in recommendations if r.grade)),
            ],
        ),
    )


def quarter_light_chart(year: int, quarters: Sequence[QuarterLights]) -> Chart | None:
    """Stacked bars of the departments' overall lights, quarter by quarter (None before any quarter)."""
    if not quarters:
        return None
    return light_chart(
        [(q.label, q.green, q.yellow, q.red) for q in quarters],
        title=f"{year}年各季度部门绩效监控亮灯情况",
        caption="各季度部门整体绩效监控亮灯分布（单位：家）",
        labels=LIGHT_LABELS,
    )


def _grade_distribution_chart(year: int, policy: Policy, series: list[tuple[str, Counter[str]]]) -> Chart | None:
    """Grouped bars of the grades (优/良/中/差 of the policy), one series per kind of score that has any."""
    grades = [band.grade for band in policy.grades]
    values = [(label, [counts[g] for g in grades]) for label, counts in series]
    present = [(label, counts) for label, counts in values if any(counts)]
    if not present:
        return None
    return grade_chart(
        grades,
        present,
        title=f"{year}年项目绩效评价等级分布",
        caption="项目绩效评价等级分布（单位：个）",
    )


# ---------------------------------------------------------------------------------------------- ex-ante report


class ExAnteRow(_Context):
    project_code: str
    project_name: str
    department_name: str
    attribute: str
    request_wan: str
    scores: list[str]  # one per dimension of the policy, in its order
    total: str
    conclusion: str
    cut_wan: str
    supported_wan: str
    comment: str


class ExAnteReportContext(Issued):
    """事前绩效评估报告."""

    district: str
    issuer: str
    year: int
    budget_year: int
    min_request_wan: str
    attributes: str
    dimensions: str
    dimension_max: str
    support_min: str
    adjust_min: str
    units: int
    projects: int
    amount_wan: str
    cut_wan: str
    supported_total_wan: str
    amount_text: str
    cut_text: str
    supported_total_text: str
    has_comments: bool
    supported: int
    adjusted: int
    rejected: int
    conclusion_counts: str
    dimension_names: list[str]
    rows: list[ExAnteRow]


def ex_ante_report_context(session: Session, cycle_id: int) -> ExAnteReportContext:
    """The panel's assessments of the cycle with their totals."""
    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)
    assessments = session.exec(select(ExAnteAssessment).where(ExAnteAssessment.cycle_id == cycle_id)).all()
    projects = _projects(session, cycle.year, (a.project_id for a in assessments))
    figures = _ex_ante(assessments, projects)

    def key(a: ExAnteAssessment) -> tuple[str, str]:
        project = projects.get(a.project_id)
        if project is None:
            return ("", str(a.project_id))
        dept = departments.get(project.department_id)
        return (dept.code if dept else "", project.code)

    rows = []
    for a in sorted(assessments, key=key):
        project = projects.get(a.project_id)
        scores = json.loads(a.scores_json or "{}")
        rows.append(
            ExAnteRow(
                project_code=project.code if project else "",
                project_name=project.name if project else "",
                department_name=_dept_name(departments, project.department_id if project else None),
                attribute=project.attribute if project else "",
                request_wan=_wan_text(a.request_fen),
                scores=[fmt_score(Decimal(scores[d])) if d in scores else "" for d in policy.ex_ante.dimensions],
                total=fmt_score(a.total),
                conclusion=a.conclusion,
                cut_wan=_wan_text(a.cut_fen),
                supported_wan=_wan_text(a.request_fen - a.cut_fen),
                comment=" ".join(a.comment.split()),
            )
        )
    return ExAnteReportContext(
        addressee=policy.documents.government,
        district=_district(cycle, policy),
        issuer=policy.issuer,
        year=cycle.year,
        budget_year=cycle.budget_year,
        min_request_wan=fmt_number(policy.ex_ante.min_request_wan),
        attributes="、".join(policy.ex_ante.attributes),
        dimensions="、".join(policy.ex_ante.dimensions),
        dimension_max=fmt_number(policy.ex_ante.dimension_max),
        support_min=fmt_number(policy.ex_ante.support_min),
        adjust_min=fmt_number(policy.ex_ante.adjust_min),
        units=figures.units,
        projects=figures.projects,
        amount_wan=_wan_text(figures.amount_fen),
        cut_wan=_wan_text(figures.cut_fen),
        supported_total_wan=_wan_text(figures.amount_fen - figures.cut_fen),
        amount_text=spoken_wan(figures.amount_fen),
        cut_text=spoken_wan(figures.cut_fen),
        supported_total_text=spoken_wan(figures.amount_fen - figures.cut_fen),
        has_comments=any(row.comment for row in rows),
        supported=figures.conclusions["予以支持"],
        adjusted=figures.conclusions["调整后支持"],
        rejected=figures.conclusions["不予支持"],
        conclusion_counts=count_phrase(((c, figures.conclusions[c]) for c in CONCLUSIONS), "个"),
        dimension_names=list(policy.ex_ante.dimensions),
        rows=rows,
    )


# ---------------------------------------------------------------------------------------------- warning notices


class WarningProject(_Context):
    project_code: str
    project_name: str
    execution_progress: str
    target_progress: str
    likelihood: str
    light_label: str
    reason: str


class WarningNoticeContext(Issued):
    """绩效监控预警通知书 (red) or 提醒函 (yellow) to one department for one quarter."""

    district: str
    issuer: str
    year: int
    quarter: str
    quarter_label: str
    department_code: str
    department_name: str
    light: str
    level: str
    light_label: str
    notice_kind: str
    time_progress: str
    execution_progress: str
    target_progress: str
    execution_gap: str
    target_gap: str
    execution_deviation: str
    target_deviation: str
    execution_light_label: str
    target_light_label: str
    response_required: bool
    response_days: int
    response_due: str
    issued_on: dt.date | None
    issued_on_text: str
    projects: list[WarningProject]


def _progress(value: Decimal | None) -> str:
    return pct(value) if value is not None else "—"


def _gap(time_progress: Decimal, value: Decimal | None) -> str:
    """Points behind 序时进度 ("5", "12.5"); negative when ahead; "—" when not reported."""
    if value is None:
        return "—"
    text = f"{(time_progress - Decimal(value)).quantize(_TENTH, rounding=ROUND_HALF_UP):f}"
    return text[:-2] if text.endswith(".0") else text


def _deviation(time_progress: Decimal, value: Decimal | None) -> str:
    """The gap as a phrase: "落后序时进度5个百分点", or "不低于序时进度" when not behind."""
    if value is None:
        return "未填报"
    gap = _gap(time_progress, value)
    if Decimal(gap) <= 0:
        return "不低于序时进度"
    return f"落后序时进度{gap}个百分点"


def warning_notice_contexts(session: Session, cycle_id: int, quarter: str) -> list[WarningNoticeContext]:
    """One notice per department whose overall light is red or yellow in the quarter."""
    if quarter not in QUARTERS:
        raise ContextError(f"未知季度: {quarter!r}")
    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)
    lights = session.exec(
        select(DepartmentLight).where(
            DepartmentLight.cycle_id == cycle_id,
            DepartmentLight.quarter == quarter,
            col(DepartmentLight.light).in_(("red", "yellow")),
        )
    ).all()
    notices = {
        n.department_id: n
        for n in session.exec(
            select(WarningNotice).where(WarningNotice.cycle_id == cycle_id, WarningNotice.quarter == quarter)
        ).all()
    }
    records = session.exec(
        select(MonitoringRecord).where(
            MonitoringRecord.cycle_id == cycle_id,
            MonitoringRecord.quarter == quarter,
            col(MonitoringRecord.light).in_(("red", "yellow")),
        )
    ).all()
    projects = _projects(session, cycle.year, (r.project_id for r in records))
    by_department: dict[int, list[MonitoringRecord]] = defaultdict(list)
    for record in records:
        project = projects.get(record.project_id)
        if project is not None:
            by_department[project.department_id].append(record)

    time_progress = policy.monitoring.time_progress[quarter]
    district = _district(cycle, policy)
    contexts = []
    for row in sorted(
        lights, key=lambda r: departments[r.department_id].code if r.department_id in departments else ""
    ):
        dept = departments.get(row.department_id)
        notice = notices.get(row.department_id)
        level = notice.level if notice is not None else row.light
        issued_on = notice.issued_on if notice is not None else None
        due = notice.response_due if notice is not None else None
        if due is None and issued_on is not None and level == "red":
            due = issued_on + dt.timedelta(days=policy.monitoring.red_response_days)
        dept_records = sorted(by_department.get(row.department_id, []), key=lambda r: projects[r.project_id].code)
        contexts.append(
            WarningNoticeContext(
                addressee=dept.name if dept else "",
                dated=issued_on,
                district=district,
                issuer=policy.issuer,
                year=cycle.year,
                quarter=quarter,
                quarter_label=QUARTER_LABELS[quarter],
                department_code=dept.code if dept else "",
                department_name=dept.name if dept else "",
                light=row.light,
                level=level,
                light_label=LIGHT_LABELS.get(level, level),
                notice_kind="预警通知书" if level == "red" else "提醒函",
                time_progress=pct(time_progress),
                execution_progress=_progress(row.execution_progress),
                target_progress=_progress(row.target_progress),
                execution_gap=_gap(time_progress, row.execution_progress),
                target_gap=_gap(time_progress, row.target_progress),
                execution_deviation=_deviation(time_progress, row.execution_progress),
                target_deviation=_deviation(time_progress, row.target_progress),
                execution_light_label=LIGHT_LABELS.get(row.execution_light, row.execution_light),
                target_light_label=LIGHT_LABELS.get(row.target_light, row.target_light),
                response_required=level == "red",
                response_days=policy.monitoring.red_response_days,
                response_due=fmt_date(due),
                issued_on=issued_on,
                issued_on_text=fmt_date(issued_on),
                projects=[
                    WarningProject(
                        project_code=projects[r.project_id].code,
                        project_name=projects[r.project_id].name,
                        execution_progress=_progress(r.execution_progress),
                        target_progress=_progress(r.target_progress),
                        likelihood=r.likelihood,
                        light_label=LIGHT_LABELS.get(r.light, r.light),
                        reason=" ".join(r.reason.split()),
                    )
                    for r in dept_records
                ],
            )
        )
    return contexts


# ---------------------------------------------------------------------------------------------- review result


class ReviewRow(_Context):
    department_name: str
    object_code: str
    object_name: str
    self_score: str
    self_grade: str
    review_score: str
    review_grade: str
    difference: str
    flagged: bool
    flag_reason: str


class ReviewedDepartment(_Context):
    department_name: str
    reviewed: int
    flagged: int


class ReviewResultContext(Issued):
    """抽查复核结果, a 通报 to every department: each sampled department's result, the objects to correct and by
    when; every re-scored object in its attachment."""

    district: str
    issuer: str
    year: int
    departments_total: int
    sample_size: int
    sample_ratio_pct: str
    sampled_departments: str
    cumulative_covered: int
    cumulative_coverage_pct: str
    coverage_target_pct: str
    gap_flag_points: str
    review_count: int
    flagged_count: int
    flagged_departments: int
    correction_days: int
    departments: list[ReviewedDepartment]
    flagged: list[ReviewRow]
    rows: list[ReviewRow]


def _object_names(
    session: Session, year: int, projects: dict[int, ProjectRow], departments: dict[int, Department]
) -> dict[tuple[str, str], tuple[str, int | None]]:
    """(object_type, object_code) → (name, department id) for projects, departments and policies."""
    names: dict[tuple[str, str], tuple[str, int | None]] = {}
    for p in projects.values():
        if p.year == year:
            names[("project", p.code)] = (p.name, p.department_id)
    for d in departments.values():
        names[("department", d.code)] = (d.name, d.id)
    for policy in session.exec(select(FiscalPolicy).where(FiscalPolicy.year == year)).all():
        names[("policy", policy.code)] = (policy.name, policy.department_id)
    return names


def review_result_context(session: Session, cycle_id: int) -> ReviewResultContext:
    """The sampled departments, each re-scored object against its self-evaluation, and the flags."""
    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)
    projects = _projects(session, cycle.year)
    names = _object_names(session, cycle.year, projects, departments)
    evaluations = session.exec(
        select(Evaluation).where(Evaluation.cycle_id == cycle_id, col(Evaluation.kind).in_(("self", "review")))
    ).all()
    self_of = {(e.object_type, e.object_code): e for e in evaluations if e.kind == "self"}
    reviews = [e for e in evaluations if e.kind == "review"]
    sampling = _sampling(session, cycle, policy, len(departments))

    def dept_of(e: Evaluation) -> int | None:
        return names.get((e.object_type, e.object_code), ("", e.department_id))[1] or e.department_id

    def key(e: Evaluation) -> tuple[str, int, str]:
        dept = dept_of(e)
        code = departments[dept].code if dept in departments else ""
        return (code, OBJECT_TYPE_ORDER.get(e.object_type, 9), e.object_code)

    rows = []
    for e in sorted(reviews, key=key):
        own = self_of.get((e.object_type, e.object_code))
        difference = ""
        if own is not None and own.score is not None and e.score is not None:
            difference = fmt_score(Decimal(e.score) - Decimal(own.score))
        rows.append(
            ReviewRow(
                department_name=_dept_name(departments, dept_of(e)),
                object_code=e.object_code,
                object_name=names.get((e.object_type, e.object_code), (e.object_code, None))[0],
                self_score=fmt_score(own.score) if own else "",
                self_grade=own.grade if own else "",
                review_score=fmt_score(e.score),
                review_grade=e.grade,
                difference=difference,
                flagged=e.flagged,
                flag_reason=" ".join(e.flag_reason.split()),
            )
        )
    return ReviewResultContext(
        addressee=policy.documents.departments,
        district=_district(cycle, policy),
        issuer=policy.issuer,
        year=cycle.year,
        departments_total=len(departments),
        sample_size=sampling.size,
        sample_ratio_pct=sampling.ratio_pct,
        sampled_departments="、".join(_dept_name(departments, d) for d in _sort_by_code(departments, sampling.members)),
        cumulative_covered=sampling.covered,
        cumulative_coverage_pct=sampling.cumulative_pct,
        coverage_target_pct=sampling.target_pct,
        gap_flag_points=fmt_number(policy.sampling.review_gap_flag),
        review_count=len(reviews),
        flagged_count=sum(1 for e in reviews if e.flagged),
        flagged_departments=len({row.department_name for row in rows if row.flagged}),
        correction_days=policy.sampling.correction_days,
        departments=[
            ReviewedDepartment(
                department_name=name,
                reviewed=sum(1 for row in rows if row.department_name == name),
                flagged=sum(1 for row in rows if row.department_name == name and row.flagged),
            )
            for name in dict.fromkeys(row.department_name for row in rows)
        ],
        flagged=[row for row in rows if row.flagged],
        rows=rows,
    )


# ---------------------------------------------------------------------------------------------- fiscal evaluation


class FiscalDimension(_Context):
    """One 一级指标 of the 指标体系: its points, its 二级指标 and the object's score on it ("" when not given)."""

    name: str
    points: str
    indicators: str
    score: str


class FiscalEvaluationReportContext(Issued):
    """重点绩效评价报告 of one selected object: the 指标体系 and the score on each of its dimensions."""

    district: str
    issuer: str
    year: int
    budget_year: int
    object_type: str
    object_type_label: str
    object_code: str
    object_name: str
    department_name: str
    amount_wan: str
    amount_text: str
    evaluated: bool
    score: str
    grade: str
    evaluator: str
    findings: list[str]
    budget_consequence: str
    dimensions: list[FiscalDimension]
    dimensions_scored: bool


def _grade_consequence(grade: str, policy: Policy) -> str:
    """What the grade means for the budget under the policy; the amounts follow in the budget stage."""
    if grade not in policy.budget.grade_cut:
        return ""
    ratio = policy.budget.grade_cut[grade]
    if ratio == 0:
        return "优先保障" if grade in policy.budget.priority_grades else "据实保障"
    if ratio >= 1:
        return "原则上取消"
    return f"压减{pct(ratio * _HUNDRED)}"


def fiscal_evaluation_report_contexts(session: Session, cycle_id: int) -> list[FiscalEvaluationReportContext]:
    """One report context per object selected for key fiscal evaluation (projects, policies, departments)."""
    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)
    projects = _projects(session, cycle.year)
    names = _object_names(session, cycle.year, projects, departments)
    selections = session.exec(select(Selection).where(Selection.cycle_id == cycle_id)).all()
    fiscal = {
        (e.object_type, e.object_code): e
        for e in session.exec(
            select(Evaluation).where(Evaluation.cycle_id == cycle_id, Evaluation.kind == "fiscal")
        ).all()
    }
    district = _district(cycle, policy)
    contexts = []
    ordered = sorted(selections, key=lambda s: (OBJECT_TYPE_ORDER.get(s.object_type, 9), s.rank, s.object_code))
    for s in ordered:
        name, dept = names.get((s.object_type, s.object_code), (s.object_code, None))
        evaluation = fiscal.get((s.object_type, s.object_code))
        breakdown = json.loads(evaluation.breakdown_json or "{}") if evaluation is not None else {}
        dimensions = [
            FiscalDimension(
                name=dimension,
                points=fmt_number(rule.points),
                indicators="、".join(rule.indicators),
                score=fmt_score(Decimal(breakdown[dimension])) if dimension in breakdown else "",
            )
            for dimension, rule in policy.fiscal_evaluation.dimensions.items()
        ]
        contexts.append(
            FiscalEvaluationReportContext(
                addressee=_dept_name(departments, dept) or policy.documents.government,
                district=district,
                issuer=policy.issuer,
                year=cycle.year,
                budget_year=cycle.budget_year,
                object_type=s.object_type,
                object_type_label=OBJECT_TYPE_LABELS.get(s.object_type, s.object_type),
                object_code=s.object_code,
                object_name=s.name or name,
                department_name=_dept_name(departments, dept),
                amount_wan=_wan_text(s.amount_fen),
                amount_text=spoken_wan(s.amount_fen),
                evaluated=evaluation is not None and evaluation.score is not None,
                score=fmt_score(evaluation.score) if evaluation else "",
                grade=evaluation.grade if evaluation else "",
                evaluator=evaluation.evaluator if evaluation else "",
                findings=[
                    line.strip() for line in (evaluation.findings if evaluation else "").splitlines() if line.strip()
                ],
                budget_consequence=_grade_consequence(evaluation.grade if evaluation else "", policy),
                dimensions=dimensions,
                dimensions_scored=all(d.score for d in dimensions),
            )
        )
    return contexts


# ---------------------------------------------------------------------------------------------- self-evaluation summary


class GradeCount(_Context):
    grade: str
    count: int


class DepartmentSelfRow(_Context):
    department_code: str
    department_name: str
    projects: int
    evaluated: int
    overall_score: str
    overall_grade: str
    flagged: int
    published_on: str


class InflatedRow(_Context):
    department_name: str
    object_name: str
    claimed_score: str
    score: str
    difference: str


class SelfEvaluationSummaryContext(Issued):
    """绩效自评汇总."""

    district: str
    issuer: str
    year: int
    projects_total: int
    self_eval_projects: int
    self_eval_coverage_pct: str
    departments_total: int
    self_eval_departments: int
    department_evaluations: int
    average_score: str
    grade_counts: list[GradeCount]
    grade_phrase: str
    inflation_flag_points: str
    inflated: list[InflatedRow]
    inflated_count: int
    missing_projects: int
    missing_project_names: str
    published: int
    late_publications: int
    departments: list[DepartmentSelfRow]
    grade_chart: Chart | None


def self_evaluation_summary_context(session: Session, cycle_id: int) -> SelfEvaluationSummaryContext:
    """Coverage, grade distribution, inflated claims and each department's overall self-evaluation."""
    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)
    projects = _projects(session, cycle.year)
    names = _object_names(session, cycle.year, projects, departments)
    evaluations = session.exec(
        select(Evaluation).where(Evaluation.cycle_id == cycle_id, col(Evaluation.kind).in_(("self", "department")))
    ).all()
    publications = {
        p.department_id: p for p in session.exec(select(Publication).where(Publication.cycle_id == cycle_id)).all()
    }
    year_projects = sorted((p for p in projects.values() if p.year == cycle.year), key=lambda p: p.code)
    selfs = [e for e in evaluations if e.kind == "self"]
    project_selfs = {e.object_code: e for e in selfs if e.object_type == "project"}
    dept_selfs = {e.object_code: e for e in selfs if e.object_type == "department"}
    covered = self_evaluation_coverage(session, cycle_id)
    not_sent = set(covered.projects.missing)
    evaluated_projects = [p for p in year_projects if p.code not in not_sent]
    missing = [p for p in year_projects if p.code in not_sent]
    scores = [Decimal(e.score) for e in (project_selfs[p.code] for p in evaluated_projects) if e.score is not None]
    grade_counter = Counter(project_selfs[p.code].grade for p in evaluated_projects)

    inflated = []
    for e in sorted((e for e in selfs if e.flagged), key=lambda e: (e.object_type, e.object_code)):
        name, owner = names.get((e.object_type, e.object_code), (e.object_code, e.department_id))
        difference = ""
        if e.claimed_score is not None and e.score is not None:
            difference = fmt_score(Decimal(e.claimed_score) - Decimal(e.score))
        inflated.append(
            InflatedRow(
                department_name=_dept_name(departments, owner or e.department_id),
                object_name=name,
                claimed_score=fmt_score(e.claimed_score),
                score=fmt_score(e.score),
                difference=difference,
            )
        )

    per_dept_projects: dict[int, list[ProjectRow]] = defaultdict(list)
    for p in year_projects:
        per_dept_projects[p.department_id].append(p)
    rows = []
    for dept_id, dept in departments.items():
        own = per_dept_projects.get(dept_id, [])
        overall = dept_selfs.get(dept.code)
        if not own and overall is None:
            continue
        flagged = sum(1 for p in own if project_selfs.get(p.code) is not None and project_selfs[p.code].flagged)
        if overall is not None and overall.flagged:
            flagged += 1
        publication = publications.get(dept_id)
        rows.append(
            DepartmentSelfRow(
                department_code=dept.code,
                department_name=dept.name,
                projects=len(own),
                evaluated=sum(1 for p in own if p.code not in not_sent),
                overall_score=fmt_score(overall.score) if overall else "",
                overall_grade=overall.grade if overall else "",
                flagged=flagged,
                published_on=fmt_date(publication.published_on) if publication else "",
            )
        )

    average = fmt_score(sum(scores, Decimal(0)) / len(scores)) if scores else ""
    return SelfEvaluationSummaryContext(
        addressee=policy.documents.departments,
        district=_district(cycle, policy),
        issuer=policy.issuer,
        year=cycle.year,
        projects_total=len(year_projects),
        self_eval_projects=covered.projects.covered,
        self_eval_coverage_pct=covered.projects.percent,
        departments_total=covered.departments.total,
        self_eval_departments=covered.departments.covered,
        department_evaluations=sum(1 for e in evaluations if e.kind == "department"),
        average_score=average,
        grade_counts=[GradeCount(grade=b.grade, count=grade_counter[b.grade]) for b in policy.grades],
        grade_phrase=count_phrase(((b.grade, grade_counter[b.grade]) for b in policy.grades), "个"),
        inflation_flag_points=fmt_number(policy.self_evaluation.inflation_flag_points),
        inflated=inflated,
        inflated_count=len(inflated),
        missing_projects=len(missing),
        missing_project_names=join_names((p.name for p in missing), unit="个项目"),
        published=sum(1 for p in publications.values() if p.published_on is not None),
        late_publications=sum(1 for p in publications.values() if _is_late(p)),
        departments=rows,
        grade_chart=_grade_distribution_chart(cycle.year, policy, [("项目自评等级", grade_counter)]),
    )


# ---------------------------------------------------------------------------------------------- target setting

# How the 审核意见 sums up each status, in its order.
REVIEW_PHRASES = (
    ("approved", "绩效目标审核通过"),
    ("submitted", "已报送待审批"),
    ("returned", "退回修改"),
    ("missing", "未报送绩效目标"),
)
TARGET_STATUS_LABELS = {
    "approved": "审核通过",
    "submitted": "待审批",
    "returned": "退回修改",
    "missing": "未报送",
}


def _required_levels(project_type: str, policy: Policy) -> list[str]:
    levels = list(policy.targets.required_levels)
    if project_type == policy.targets.development_type:
        levels += [level for level in policy.targets.development_extra_levels if level not in levels]
    return levels


class NoticeDepartment(_Context):
    department_code: str
    department_name: str
    projects: int
    budget_wan: str
    request_wan: str


class TargetNoticeContext(Issued):
    """绩效目标申报通知: what every department must declare, how, and the rules its targets are checked by."""

    district: str
    issuer: str
    year: int
    budget_year: int
    departments_total: int
    projects_total: int
    development_projects: int
    budget_total_wan: str
    request_total_wan: str
    form_title: str
    form_sheet: str
    required_levels: str
    development_type: str
    development_extra_levels: str
    level1_options: str
    level2_options: str
    operators: str
    qualitative_operator: str
    no_targets_reason: str
    ex_ante_attributes: str
    ex_ante_min_request_wan: str
    ex_ante_projects: int
    budget_total_text: str
    request_total_text: str
    due_on: str
    departments: list[NoticeDepartment]


def target_notice_context(session: Session, cycle_id: int) -> TargetNoticeContext:
    """The notice that opens target setting, with the scope of the year (departments, projects, amounts)."""
    from perfcycle.rules.ex_ante import needs_ex_ante
    from perfcycle.rules.targets import QUALITATIVE
    from perfcycle.workbooks.formats import LEVEL1, LEVEL2, OPERATORS, TARGETS

    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)
    projects = [p for p in _projects(session, cycle.year).values() if p.year == cycle.year]
    per_department: dict[int, list[ProjectRow]] = defaultdict(list)
    for project in projects:
        per_department[project.department_id].append(project)
    rows = [
        NoticeDepartment(
            department_code=departments[d].code,
            department_name=departments[d].name,
            projects=len(per_department[d]),
            budget_wan=_wan_text(sum(p.budget_fen for p in per_department[d])),
            request_wan=_wan_text(sum(p.request_fen for p in per_department[d])),
        )
        for d in _sort_by_code(departments, (d for d in per_department if d in departments))
    ]
    window = session.exec(
        select(CollectionWindow).where(
            CollectionWindow.cycle_id == cycle_id, CollectionWindow.stage == importing_stage("targets")
        )
    ).first()
    return TargetNoticeContext(
        addressee=policy.documents.departments,
        dated=window.opens_on if window is not None else None,
        district=_district(cycle, policy),
        issuer=policy.issuer,
        year=cycle.year,
        budget_year=cycle.budget_year,
        departments_total=len(rows),
        projects_total=len(projects),
        development_projects=sum(1 for p in projects if p.type == policy.targets.development_type),
        budget_total_wan=_wan_text(sum(p.budget_fen for p in projects)),
        request_total_wan=_wan_text(sum(p.request_fen for p in projects)),
        form_title=TARGETS.title,
        form_sheet=TARGETS.sheets[0].name,
        required_levels="、".join(policy.targets.required_levels),
        development_type=policy.targets.development_type,
        development_extra_levels="、".join(policy.targets.development_extra_levels),
        level1_options="、".join(LEVEL1),
        level2_options="、".join(LEVEL2),
        operators="、".join(OPERATORS),
        qualitative_operator=QUALITATIVE,
        no_targets_reason=policy.targets.no_targets_reason,
        ex_ante_attributes="、".join(policy.ex_ante.attributes),
        ex_ante_min_request_wan=fmt_number(policy.ex_ante.min_request_wan),
        ex_ante_projects=sum(1 for p in projects if needs_ex_ante(p.attribute, p.request_fen, policy.ex_ante)),
        budget_total_text=spoken_wan(sum(p.budget_fen for p in projects)),
        request_total_text=spoken_wan(sum(p.request_fen for p in projects)),
        due_on=fmt_date(window.due_on if window is not None else policy.calendar.deadline("targets", None, cycle.year)),
        departments=rows,
    )


class ReviewedProject(_Context):
    project_code: str
    project_name: str
    project_type: str
    budget_wan: str
    indicators: int
    status: str
    status_label: str
    reasons: list[str]


class TargetReviewContext(Issued):
    """绩效目标审核意见 to one department: its approved, pending, returned and missing projects."""

    district: str
    issuer: str
    year: int
    budget_year: int
    department_code: str
    department_name: str
    projects_total: int
    approved: int
    submitted: int
    returned: int
    missing: int
    summary: str
    resubmit_due: str
    resubmission_days: int
    no_targets_reason: str
    approved_projects: list[ReviewedProject]
    submitted_projects: list[ReviewedProject]
    returned_projects: list[ReviewedProject]
    missing_projects: list[ReviewedProject]


def target_review_contexts(session: Session, cycle_id: int) -> list[TargetReviewContext]:
    """One 审核意见 per department with projects in the cycle year, from the TargetReview records."""
    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)
    projects = sorted(
        (p for p in _projects(session, cycle.year).values() if p.year == cycle.year), key=lambda p: p.code
    )
    reviews = {
        r.project_id: r for r in session.exec(select(TargetReview).where(TargetReview.cycle_id == cycle_id)).all()
    }
    indicator_counts = Counter(session.exec(select(Indicator.project_id).where(Indicator.cycle_id == cycle_id)).all())
    per_department: dict[int, list[ReviewedProject]] = defaultdict(list)
    for p in projects:
        review = reviews.get(p.id) if p.id is not None else None
        status = review.status if review is not None and review.status in TARGET_STATUS_LABELS else "missing"
        reasons = [part.strip() for part in (review.reasons if review else "").split("；") if part.strip()]
        if status == "missing" and not reasons:
            reasons = [policy.targets.no_targets_reason]
        per_department[p.department_id].append(
            ReviewedProject(
                project_code=p.code,
                project_name=p.name,
                project_type=p.type,
                budget_wan=_wan_text(p.budget_fen),
                indicators=indicator_counts[p.id] if p.id is not None else 0,
                status=status,
                status_label=TARGET_STATUS_LABELS[status],
                reasons=reasons,
            )
        )
    district = _district(cycle, policy)
    returned_by = {
        entry.department_id: entry.due_on
        for entry, _window in session.exec(
            select(WindowEntry, CollectionWindow)
            .join(CollectionWindow, col(CollectionWindow.id) == col(WindowEntry.window_id))
            .where(
                CollectionWindow.cycle_id == cycle_id,
                CollectionWindow.stage == importing_stage("targets"),
                WindowEntry.status == RETURNED,
            )
        ).all()
    }
    contexts = []
    for dept_id in _sort_by_code(departments, (d for d in per_department if d in departments)):
        dept = departments[dept_id]
        rows = per_department[dept_id]
        by_status: dict[str, list[ReviewedProject]] = defaultdict(list)
        for row in rows:
            by_status[row.status].append(row)
        summary = "，".join(
            f"{len(by_status[status])}个项目{phrase}" for status, phrase in REVIEW_PHRASES if by_status[status]
        )
        contexts.append(
            TargetReviewContext(
                addressee=dept.name,
                district=district,
                issuer=policy.issuer,
                year=cycle.year,
                budget_year=cycle.budget_year,
                department_code=dept.code,
                department_name=dept.name,
                projects_total=len(rows),
                approved=len(by_status["approved"]),
                submitted=len(by_status["submitted"]),
                returned=len(by_status["returned"]),
                missing=len(by_status["missing"]),
                summary=summary,
                resubmit_due=fmt_date(returned_by.get(dept_id)),
                resubmission_days=policy.calendar.resubmission_days,
                no_targets_reason=policy.targets.no_targets_reason,
                approved_projects=by_status["approved"],
                submitted_projects=by_status["submitted"],
                returned_projects=by_status["returned"],
                missing_projects=by_status["missing"],
            )
        )
    return contexts


class FormProject(_Context):
    project_code: str
    project_name: str
    project_type: str
    attribute: str
    budget_wan: Decimal
    request_wan: Decimal
    required_levels: str
    status_label: str
    reasons: str


class FormIndicator(_Context):
    """One row of the 绩效指标 sheet, keyed by the field names of the TARGETS workbook spec."""

    department_code: str
    project_code: str
    level1: str
    level2: str
    name: str
    operator: str
    target: str
    unit: str
    weight: Decimal | None


class TargetFormContext(_Context):
    """The 绩效目标申报表 of one department: its projects, and the indicators declared so far."""

    district: str
    year: int
    budget_year: int
    department_code: str
    department_name: str
    projects: list[FormProject]
    indicators: list[FormIndicator]


def _target_text(indicator: IndicatorRow) -> str:
    if indicator.target_value is None:
        return indicator.target_text
    return fmt_number(indicator.target_value)


def target_form_contexts(session: Session, cycle_id: int) -> list[TargetFormContext]:
    """One 申报表 per department with projects in the cycle year (its current indicators pre-filled)."""
    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)
    projects = sorted(
        (p for p in _projects(session, cycle.year).values() if p.year == cycle.year), key=lambda p: p.code
    )
    reviews = {
        r.project_id: r for r in session.exec(select(TargetReview).where(TargetReview.cycle_id == cycle_id)).all()
    }
    indicators: dict[int, list[IndicatorRow]] = defaultdict(list)
    for ind in indicator_rows(session, Indicator.cycle_id == cycle_id):
        indicators[ind.project_id].append(ind)
    per_department: dict[int, list[ProjectRow]] = defaultdict(list)
    for p in projects:
        per_department[p.department_id].append(p)
    district = _district(cycle, policy)
    contexts = []
    for dept_id in _sort_by_code(departments, (d for d in per_department if d in departments)):
        dept = departments[dept_id]
        form_projects: list[FormProject] = []
        form_indicators: list[FormIndicator] = []
        for p in per_department[dept_id]:
            review = reviews.get(p.id) if p.id is not None else None
            status = review.status if review is not None and review.status in TARGET_STATUS_LABELS else "missing"
            form_projects.append(
                FormProject(
                    project_code=p.code,
                    project_name=p.name,
                    project_type=p.type,
                    attribute=p.attribute,
                    budget_wan=fen_to_wan_2(p.budget_fen),
                    request_wan=fen_to_wan_2(p.request_fen),
                    required_levels="、".join(_required_levels(p.type, policy)),
                    status_label=TARGET_STATUS_LABELS[status],
                    reasons=review.reasons if review is not None else "",
                )
            )
            form_indicators.extend(
                FormIndicator(
                    department_code=dept.code,
                    project_code=p.code,
                    level1=ind.level1,
                    level2=ind.level2,
                    name=ind.name,
                    operator=ind.operator,
                    target=_target_text(ind),
                    unit=ind.unit,
                    weight=ind.weight,
                )
                for ind in (indicators.get(p.id, []) if p.id is not None else [])
            )
        contexts.append(
            TargetFormContext(
                district=district,
                year=cycle.year,
                budget_year=cycle.budget_year,
                department_code=dept.code,
                department_name=dept.name,
                projects=form_projects,
                indicators=form_indicators,
            )
        )
    return contexts


def fen_to_wan_2(fen: int) -> Decimal:
    """分 → 万元 as an exact Decimal with 2 decimals (for spreadsheet cells)."""
    return (Decimal(fen) / FEN_PER_WAN).quantize(_CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------- disclosure


class PublishedEvaluation(_Context):
    object_type_label: str
    object_name: str
    department_name: str
    amount_wan: str
    score: str
    grade: str
    evaluator: str


class PublicationRow(_Context):
    department_code: str
    department_name: str
    due_on: str
    published_on: str
    status: str


class PublicationListContext(Issued):
    """绩效评价结果公开清单: the key fiscal evaluation results the bureau publishes, and each department's
    publication of its self-evaluation report (谁评价、谁公开)."""

    district: str
    issuer: str
    year: int
    fiscal_projects: int
    fiscal_policies: int
    fiscal_departments: int
    fiscal_amount_wan: str
    fiscal_amount_text: str
    fiscal_objects: str
    evaluations: list[PublishedEvaluation]
    departments_total: int
    due_on: str
    on_time: int
    late: int
    unpublished: int
    status_phrase: str
    publications: list[PublicationRow]


PUBLICATION_STATUSES = ("按期公开", "逾期公开", "未公开")


def object_phrase(counts: Counter[str]) -> str:
    """ "9个项目、1项财政政策以及2家部门的整体支出": the key evaluation's objects, kinds without any left out."""
    parts = [
        f"{counts[kind]}{unit}" for kind, unit in (("project", "个项目"), ("policy", "项财政政策")) if counts[kind]
    ]
    if counts["department"]:
        parts.append(f"{counts['department']}家部门的整体支出")
    return "以及".join(["、".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else "".join(parts)


def publication_status(publication: Publication) -> str:
    """按期公开 / 逾期公开 / 未公开."""
    if publication.published_on is None:
        return "未公开"
    if publication.due_on is not None and publication.published_on > publication.due_on:
        return "逾期公开"
    return "按期公开"


def publication_list_context(session: Session, cycle_id: int) -> PublicationListContext:
    """The evaluation results to publish, from the Selection/Evaluation and Publication records."""
    reports = fiscal_evaluation_report_contexts(session, cycle_id)
    cycle = _cycle(session, cycle_id)
    policy = _policy(cycle)
    departments = _departments(session)
    publications = session.exec(select(Publication).where(Publication.cycle_id == cycle_id)).all()
    rows = [
        PublicationRow(
            department_code=departments[p.department_id].code if p.department_id in departments else "",
            department_name=_dept_name(departments, p.department_id),
            due_on=fmt_date(p.due_on),
            published_on=fmt_date(p.published_on),
            status=publication_status(p),
        )
        for p in sorted(
            publications, key=lambda p: departments[p.department_id].code if p.department_id in departments else ""
        )
    ]
    statuses = Counter(row.status for row in rows)
    due_dates = sorted({p.due_on for p in publications if p.due_on is not None})
    selections = session.exec(select(Selection).where(Selection.cycle_id == cycle_id)).all()
    counts = Counter(s.object_type for s in selections)
    return PublicationListContext(
        district=_district(cycle, policy),
        issuer=policy.issuer,
        year=cycle.year,
        fiscal_projects=counts["project"],
        fiscal_policies=counts["policy"],
        fiscal_departments=counts["department"],
        fiscal_amount_wan=_wan_text(sum(s.amount_fen for s in selections)),
        fiscal_amount_text=spoken_wan(sum(s.amount_fen for s in selections)),
        fiscal_objects=object_phrase(counts),
        evaluations=[
            PublishedEvaluation(
                object_type_label=r.object_type_label,
                object_name=r.object_name,
                department_name=r.department_name,
                amount_wan=r.amount_wan,
                score=r.score,
                grade=r.grade,
                evaluator=r.evaluator,
            )
            for r in reports
        ],
        departments_total=len(rows),
        due_on="、".join(fmt_date(d) for d in due_dates),
        on_time=statuses["按期公开"],
        late=statuses["逾期公开"],
        unpublished=statuses["未公开"],
        status_phrase=count_phrase(((status, statuses[status]) for status in PUBLICATION_STATUSES), "家", "，"),
        publications=rows,
    )

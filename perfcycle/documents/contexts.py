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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

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
    ResultPublication,
    Selection,
    TargetReview,
    WarningNotice,
    WindowEntry,
)
from perfcycle.adoption import AdoptionSummary
from perfcycle.cycle_context import cycle_policy
from perfcycle.documents.charts import Chart, grade_chart, light_chart
from perfcycle.documents.frame import Frame, cn_date
from perfcycle.documents.numbers import document_day
from perfcycle.documents.renderer import cn_num
from perfcycle.figures import (
    CycleFigures,
    EventFigures,
    FindingFigures,
    cycle_figures,
    evaluation_figures,
    ex_ante_figures,
    publication_figures,
    sampling_figures,
    selection_figures,
    self_evaluation_coverage,
)
from perfcycle.figures import QuarterLights as QuarterLightFigures
from perfcycle.money import FEN_PER_WAN, fmt_wan, spoken_wan
from perfcycle.policy import QUARTERS, Policy
from perfcycle.rules.budget import grade_consequence
from perfcycle.rules.coverage import Coverage
from perfcycle.rules.deadlines import RETURNED
from perfcycle.rules.disclosure import (
    NOT_PUBLISHED,
    PUBLISHED_LATE,
    PUBLISHED_ON_TIME,
    publication_state,
)
from perfcycle.rules.disclosure import STATE_LABELS as PUBLICATION_STATES
from perfcycle.rules.findings import SOURCES as FINDING_SOURCES
from perfcycle.rules.lights import notice_date
from perfcycle.rules.precision import percent_text
from perfcycle.stages import importing_stage

ANNUAL_REPORT_KIND = "工作开展情况说明"  # the annual report's kind of document, dated by the calendar

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


#: The kinds dated by the register whose text states something as of their own date (the publications' states).
ANNUAL_REPORT_KIND = "工作开展情况说明"
SELF_EVALUATION_KIND = "绩效自评汇总"
PUBLICATION_LIST_KIND = "绩效评价结果公开清单"


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


def _district(cycle: Cycle, policy: Policy) -> str:
    return cycle.district or policy.district


def _departments(session: Session) -> dict[int, Department]:
    rows = session.exec(select(Department).order_by(col(Department.code))).all()
    return {d.id: d for d in rows if d.id is not None}


_PLANNING = "perfcycle.planning"
_T = TypeVar("_T")


@contextmanager
def planning(session: Session) -> Iterator[None]:
    """Within, what several of the documents planned read (the year's projects; the cycle's figures, which the
    annual report and its 数据核对表 both state) is read once. Planning writes no record these count."""
    session.info[_PLANNING] = {}
    try:
        yield
    finally:
        session.info.pop(_PLANNING, None)


def _planned_once(session: Session, key: tuple[Any, ...], read: Callable[[], _T]) -> _T:
    """`read()`, once for `key` while documents are planned; every time otherwise."""
    kept: dict[tuple[Any, ...], Any] | None = session.info.get(_PLANNING)
    if kept is None:
        return read()
    if key not in kept:
        kept[key] = read()
    result: _T = kept[key]
    return result


def _projects(session: Session, year: int, extra_ids: Iterable[int] = ()) -> dict[int, ProjectRow]:
    """The projects of the cycle year, plus any other project a record of the cycle points at.

    The year's projects are read once while documents are planned (`planning`): several of a stage's
    documents list the same projects."""
    projects: dict[int, ProjectRow] = _planned_once(
        session, ("projects", year), lambda: {p.id: p for p in project_rows(session, Project.year == year)}
    )
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
    budget_year: int  # the budget its analysis feeds: the one prepared in the cycle year


class Ranking(_Context):
    """考核: what the city assessed, among whom, and the district's place."""

    scope: str
    group: str
    rank: int


class Article(_Context):
    date: str
    title: str
    media: str


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
    red_green_count: int
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
    budget_ex_ante_cut_wan: str
    budget_base_wan: str
    budget_recommended_wan: str
    budget_cut_wan: str
    budget_increased_projects: int
    budget_increase_wan: str
    # the key-evaluated policies' and departments' lines, after the approvers
    consequence_policies: int
    consequence_departments: int
    consequence_funds_wan: str
    consequence_recommended_wan: str
    consequence_cut_wan: str  # "" when nothing is cut
    consequence_increase_wan: str  # "" when nothing is increased
    consequence_overridden: int
    adoption: AdoptionSummary | None = None  # 采纳情况 as perfcycle.adoption.stated_adoption gives it, once imported
    # 问题整改 and 谁评价、谁公开 (perfcycle.figures: finding_figures, publication_figures)
    findings_registered: int = 0
    findings_by_source: str = ""  # e.g. 监控红灯5项、抽查复核3项
    findings_responded: int = 0
    findings_closed: int = 0
    findings_overdue: int = 0
    publications_on_time: int = 0
    publications_pending: int = 0
    # (五) cost pilot
    cost_pilot: CostPilot | None
    # events the coordinator recorded (工作记事): the city's assessment, (六) trainings and articles
    rankings: list[Ranking]
    training_months: str
    training_several_months: bool
    training_titles: str
    articles: list[Article]
    # 二、problems
    problems: list[str]
    late_publications: int
    inflated_self_evaluations: int
    # charts: the quarterly lights and the grade distribution (None when there is nothing to draw)
    light_chart: Chart | None
    grade_chart: Chart | None


def quarter_light_rows(quarters: Iterable[QuarterLightFigures]) -> list[QuarterLights]:
    """Each quarter's light counts as the documents print them."""
    return [
        QuarterLights(
            quarter=q.quarter,
            label=QUARTER_LABELS[q.quarter],
            departments=q.departments,
            green=len(q.light("green")),
            yellow=len(q.light("yellow")),
            red=len(q.light("red")),
        )
        for q in quarters
    ]


def _quarters_text(quarters: Iterable[str]) -> str:
    return "、".join(QUARTER_LABELS.get(q, q) for q in quarters)


def _problems(figures: CycleFigures, policy: Policy) -> list[str]:
    """二、存在问题: one sentence per kind of problem the records show."""
    problems: list[str] = []
    late = figures.names(figures.publications.not_on_time)
    if late:
        problems.append(f"绩效评价结果公开不够规范，{len(late)}家部门未按期公开绩效自评报告（{join_names(late)}）")
    not_improved = [
        f"{figures.departments.get(d.code, d.code)}（{_quarters_text(d.not_improved)}）"
        for d in figures.warnings.not_improved
    ]
    if not_improved:
        problems.append(
            f"部分部门预算执行和绩效目标实现进度偏慢，{join_names(not_improved)}"
            f"亮红灯后下一季度仍未改善，共涉及{len(not_improved)}家部门"
        )
    inflated = figures.evaluations.inflated
    if inflated:
        problems.append(
            f"部分单位绩效自评不够客观，{len(inflated)}个自评对象自报得分高出核定得分"
            f"{fmt_number(policy.self_evaluation.inflation_flag_points)}分以上"
        )
    flags = figures.evaluations.review_flags
    if flags:
        problems.append(f"抽查复核发现{len(flags)}个项目复核结果与自评结果差异较大，自评质量有待提高")
    missing = figures.targets.not_approved
    if missing:
        problems.append(f"{len(missing)}个项目绩效目标未设置或未通过审核，{figures.budget_year}年预算未予安排")
    return problems


def _by_source(findings: FindingFigures) -> str:
    """The findings registered by source, in the register's order: 监控红灯5项、抽查复核3项."""
    return "、".join(
        f"{label}{len(findings.source(s))}项" for s, label in FINDING_SOURCES.items() if findings.source(s)
    )


def _cost_pilot(figures: CycleFigures, cycle: Cycle, policy: Policy) -> CostPilot | None:
    pilot = figures.cost_pilot
    if pilot is None:
        return None
    dept_name = figures.departments.get(pilot.department_code, "")
    label = pilot.project_name if pilot.project_name.startswith(dept_name) else f"{dept_name}{pilot.project_name}"
    if not label.endswith("项目"):
        label += "项目"
    return CostPilot(
        project_code=pilot.project_code,
        project_name=pilot.project_name,
        department_name=dept_name,
        label=label,
        budget_wan=_wan_text(pilot.budget_fen),
        budget_year=cycle.year + policy.cost_pilot.budget_year_offset,
    )


def _training_months(events: EventFigures) -> list[int]:
    return sorted({e.month for e in events.trainings if e.month is not None})


def annual_report_context(session: Session, cycle_id: int) -> AnnualReportContext:
    """Every figure of the annual 工作开展情况说明, from the cycle's figures (perfcycle.figures) as of its date."""
    cycle = _cycle(session, cycle_id)
    policy = cycle_policy(cycle)
    return _annual_report(session, cycle, policy, _report_figures(session, cycle, policy))


def _report_figures(session: Session, cycle: Cycle, policy: Policy) -> CycleFigures:
    """The cycle's figures as of the annual report's 成文日期: it states what had happened by the day it is dated."""
    assert cycle.id is not None
    cycle_id, day = cycle.id, document_day(session, cycle, policy, ANNUAL_REPORT_KIND)
    return _planned_once(session, ("figures", cycle_id, day), lambda: cycle_figures(session, cycle_id, on=day))


def _annual_report(session: Session, cycle: Cycle, policy: Policy, figures: CycleFigures) -> AnnualReportContext:
    assert cycle.id is not None
    cycle_id = cycle.id
    ex_ante, targets, warnings = figures.ex_ante, figures.targets, figures.warnings
    monitored, self_evaluated, evaluations = figures.monitoring, figures.self_evaluation, figures.evaluations
    sampling, selection, budget = figures.sampling, figures.selection, figures.budget
    consequences = figures.consequences.totals
    quarters = quarter_light_rows(figures.quarters)
    red_departments = [
        RedDepartment(
            name=figures.departments.get(d.code, d.code), quarters=_quarters_text(d.quarters), improved=d.improved
        )
        for d in warnings.red_departments
    ]
    self_grades = Counter(
        session.exec(
            select(Evaluation.grade).where(
                Evaluation.cycle_id == cycle_id,
                Evaluation.kind == "self",
                Evaluation.object_type == "project",
                Evaluation.grade != "",
            )
        ).all()
    )
    final_grades = Counter(
        session.exec(
            select(BudgetRecommendation.grade).where(
                BudgetRecommendation.cycle_id == cycle_id, BudgetRecommendation.grade != ""
            )
        ).all()
    )
    return AnnualReportContext(
        addressee=policy.documents.congress,
        district=_district(cycle, policy),
        issuer=policy.issuer,
        year=cycle.year,
        budget_year=cycle.budget_year,
        ex_ante_units=len(ex_ante.units),
        ex_ante_projects=len(ex_ante.projects),
        ex_ante_amount_wan=_wan_text(ex_ante.amount_fen),
        ex_ante_cut_wan=_wan_text(ex_ante.cut_fen),
        ex_ante_supported=len(ex_ante.concluded("予以支持")),
        ex_ante_adjusted=len(ex_ante.concluded("调整后支持")),
        ex_ante_rejected=len(ex_ante.concluded("不予支持")),
        projects_total=len(targets.projects),
        targets_approved=len(targets.status("approved")),
        targets_returned=len(targets.status("returned")),
        targets_missing=len(targets.not_approved),
        departments_total=monitored.total,
        monitoring_departments=monitored.covered,
        monitoring_full_coverage=monitored.full,
        monitoring_coverage_pct=monitored.percent,
        monitoring_missing_names=join_names(figures.names(monitored.missing)),
        quarters=quarters,
        red_departments=red_departments,
        red_department_count=len(red_departments),
        red_improved_count=len(warnings.improved),
        red_green_count=len(warnings.turned_green),
        red_notices=len(warnings.red_notices),
        yellow_notices=len(warnings.yellow_notices),
        self_eval_projects=self_evaluated.projects.covered,
        self_eval_departments=self_evaluated.departments.covered,
        self_eval_coverage_pct=self_evaluated.projects.percent,
        self_eval_full_coverage=self_evaluated.projects.full and self_evaluated.departments.full,
        self_eval_missing_projects=len(self_evaluated.projects.missing),
        self_eval_missing_departments=len(self_evaluated.departments.missing),
        department_evaluations=len(evaluations.department_evaluations),
        sample_size=sampling.size,
        sample_ratio_pct=percent_text(sampling.ratio),
        cumulative_covered=sampling.cumulative.covered,
        cumulative_coverage_pct=sampling.cumulative.percent,
        coverage_target_pct=percent_text(sampling.target),
        coverage_target_met=sampling.target_met,
        coverage_target_exceeded=sampling.target_exceeded,
        review_count=len(evaluations.reviews),
        review_flags=len(evaluations.review_flags),
        fiscal_projects=len(selection.of("project")),
        fiscal_policies=len(selection.of("policy")),
        fiscal_departments=len(selection.of("department")),
        fiscal_amount_wan=_wan_text(selection.amount_fen),
        budget_projects=budget.projects,
        budget_cut_projects=budget.cut_projects,
        budget_priority_projects=budget.priority_projects,
        budget_cancelled_projects=budget.cancelled_projects,
        budget_low_execution_projects=budget.low_execution_projects,
        budget_request_wan=_wan_text(budget.request_fen),
        budget_ex_ante_cut_wan=_wan_text(budget.ex_ante_cut_fen) if budget.ex_ante_cut_fen else "",
        budget_base_wan=_wan_text(budget.base_fen),
        budget_recommended_wan=_wan_text(budget.recommended_fen),
        budget_cut_wan=_wan_text(budget.cut_fen),
        budget_increased_projects=budget.increased_projects,
        budget_increase_wan=_wan_text(budget.increase_fen),
        consequence_policies=len(figures.consequences.codes("policy")),
        consequence_departments=len(figures.consequences.codes("department")),
        consequence_funds_wan=_wan_text(consequences.base_fen),
        consequence_recommended_wan=_wan_text(consequences.recommended_fen),
        consequence_cut_wan=_wan_text(consequences.cut_fen) if consequences.cut_fen else "",
        consequence_increase_wan=_wan_text(consequences.increase_fen) if consequences.increase_fen else "",
        consequence_overridden=len(figures.consequences.overridden),
        adoption=figures.adoption.summary if figures.adoption is not None else None,
        findings_registered=len(figures.findings.registered),
        findings_by_source=_by_source(figures.findings),
        findings_responded=len(figures.findings.responded),
        findings_closed=len(figures.findings.closed),
        findings_overdue=len(figures.findings.overdue),
        publications_on_time=len(figures.publications.on_time),
        publications_pending=len(figures.publications.pending),
        cost_pilot=_cost_pilot(figures, cycle, policy),
        rankings=[Ranking(scope=e.title, group=e.detail, rank=e.rank or 0) for e in figures.events.rankings],
        training_months="、".join(f"{m}月" for m in _training_months(figures.events)),
        training_several_months=len(_training_months(figures.events)) > 1,
        training_titles="及".join(dict.fromkeys(e.title for e in figures.events.trainings)),
        articles=[
            Article(date=f"{cycle.year}年{e.month}月{e.day}日", title=e.title, media=e.detail)
            for e in figures.events.articles
        ],
        problems=_problems(figures, policy),
        late_publications=len(figures.publications.not_on_time),
        inflated_self_evaluations=len(evaluations.inflated),
        light_chart=quarter_light_chart(cycle.year, quarters),
        grade_chart=_grade_distribution_chart(
            cycle.year, policy, [("项目自评等级", self_grades), ("最终评价等级", final_grades)]
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


# ---------------------------------------------------------------------------------------------- 数据核对表

#: Longest text of the records column (an xlsx cell holds 32767 characters).
RECORDS_LIMIT = 30000


class CheckedFigure(_Context):
    """One figure the annual report states: where, what it is called, its value as printed, what it counts."""

    section: str
    name: str
    value: str
    unit: str
    definition: str
    count: int | None  # how many records it counts (None: an amount, a ratio or a policy number)
    records: str  # their codes

    @property
    def stated(self) -> str:
        """The figure as the report prints it: "4家单位", "16904.55万元", "61.11%"."""
        return f"{self.value}{self.unit}"


class FigureCheckContext(_Context):
    """数据核对表: every figure of the annual report, so an auditor can check any sentence against the records."""

    district: str
    year: int
    title: str
    report: str  # the annual report's title
    figures: list[CheckedFigure]


def _records(codes: Sequence[str]) -> str:
    """The codes as one cell's text; a list too long for a cell ends with how many there are in all."""
    text = "、".join(codes)
    if len(text) <= RECORDS_LIMIT:
        return text
    return text[:RECORDS_LIMIT].rsplit("、", 1)[0] + f"…（共{len(codes)}条）"


class _Rows:
    """Collects the checklist's rows, section by section."""

    def __init__(self) -> None:
        self.rows: list[CheckedFigure] = []
        self.section = ""

    def add(self, name: str, value: object, unit: str, definition: str, codes: Sequence[str] | None = None) -> None:
        listed = tuple(codes) if codes is not None else ()
        self.rows.append(
            CheckedFigure(
                section=self.section,
                name=name,
                value=str(value),
                unit=unit,
                definition=definition,
                count=len(listed) if codes is not None else None,
                records=_records(listed),
            )
        )


def _figure_rows(ctx: AnnualReportContext, figures: CycleFigures, policy: Policy) -> list[CheckedFigure]:
    """The figures the report states, in its order: each with the same value and under the same condition as
    the template prints it, its definition in words and the codes it counts."""
    out = _Rows()
    events, ex_ante, targets = figures.events, figures.ex_ante, figures.targets
    out.section = "开篇"
    for event, ranking in zip(events.rankings, ctx.rankings, strict=True):
        out.add(
            "上级综合考核名次",
            f"第{cn_num(ranking.rank)}",
            "",
            f"工作记事记录的上级综合考核排名（{ranking.group}中）",
            [event.record],
        )
    out.section = "一（一）事前评估和目标管理"
    if ctx.ex_ante_projects:
        concluded = "事前绩效评估作出结论的项目"
        out.add("评估单位", ctx.ex_ante_units, "家单位", f"{concluded}所属的部门（按部门编码计）", ex_ante.units)
        out.add("评估项目", ctx.ex_ante_projects, "个项目", concluded, ex_ante.projects)
        out.add(
            "事前评估涉及资金", ctx.ex_ante_amount_wan, "万元", f"{concluded}的预算年度申请额合计", ex_ante.projects
        )
        out.add(
            "事前评估压减资金",
            ctx.ex_ante_cut_wan,
            "万元",
            f"{concluded}的压减额合计（不予支持压减全部申请额）",
            ex_ante.projects,
        )
        for conclusion, value in zip(
            CONCLUSIONS, (ctx.ex_ante_supported, ctx.ex_ante_adjusted, ctx.ex_ante_rejected), strict=True
        ):
            out.add(conclusion, value, "个", f"评估结论为{conclusion}的项目", ex_ante.concluded(conclusion))
    if ctx.projects_total:
        out.add("项目总数", ctx.projects_total, "个项目", f"{ctx.year}年度基础数据中的项目", targets.projects)
        out.add("目标审核通过", ctx.targets_approved, "个项目", "绩效目标审核通过的项目", targets.status("approved"))
        if ctx.targets_returned:
            out.add(
                "目标退回修改", ctx.targets_returned, "个项目", "绩效目标退回修改的项目", targets.status("returned")
            )
    out.section = "一（二）绩效运行监控"
    monitored = figures.monitoring
    every_quarter = "已完成监控的每个季度都有部门整体监控记录的部门"
    if ctx.monitoring_full_coverage:
        out.add("监控全覆盖部门", ctx.monitoring_departments, "家部门", every_quarter, sorted(figures.departments))
    else:
        out.add("部门总数", ctx.departments_total, "家部门", "基础数据中的全部部门", sorted(figures.departments))
        covered = sorted(set(figures.departments) - set(monitored.missing))
        out.add("纳入监控部门", ctx.monitoring_departments, "家部门", every_quarter, covered)
        out.add("监控覆盖率", ctx.monitoring_coverage_pct, "", "纳入监控部门数 ÷ 部门总数，四舍五入到0.01%", covered)
        if ctx.monitoring_missing_names:
            out.add(
                "有季度未报送的部门", ctx.monitoring_missing_names, "", "有季度没有监控记录的部门", monitored.missing
            )
    for q, lights in zip(ctx.quarters, figures.quarters, strict=True):
        codes = sorted(code for light in ("green", "yellow", "red") for code in lights.light(light))
        out.add(f"{q.label}监控部门", q.departments, "家部门", f"{q.label}有部门整体亮灯记录的部门", codes)
        for light, label in LIGHT_LABELS.items():
            count = {"green": q.green, "yellow": q.yellow, "red": q.red}[light]
            out.add(f"{q.label}{label}", count, "家", f"{q.label}部门整体亮{label}的部门", lights.light(light))
    warnings = figures.warnings
    if ctx.red_notices or ctx.yellow_notices:
        out.add("预警通知书", ctx.red_notices, "份", "向亮红灯部门发出的预警通知书（部门:季度）", warnings.red_notices)
        out.add("提醒函", ctx.yellow_notices, "份", "向亮黄灯部门发出的提醒函（部门:季度）", warnings.yellow_notices)
    if ctx.red_departments:
        red = [d.code for d in warnings.red_departments]
        out.add("亮红灯部门", ctx.red_department_count, "家", "任一季度部门整体亮红灯的部门", red)
        out.add(
            "下一季度亮灯好转",
            ctx.red_improved_count,
            "家部门",
            "每次亮红灯后，下一季度亮灯均好于红灯的部门（以预警通知书记录的下一季度结果为准）",
            warnings.improved,
        )
        if ctx.red_green_count:
            out.add(
                "其中转为绿灯", ctx.red_green_count, "家", "每次亮红灯后，下一季度均亮绿灯的部门", warnings.turned_green
            )
    out.section = "一（三）绩效评价"
    evaluated, evaluations = figures.self_evaluation, figures.evaluations
    sent = "报送了自评（自报得分）的"
    out.add(
        "完成自评项目",
        ctx.self_eval_projects,
        "个项目",
        f"{sent}{ctx.year}年度项目",
        _covered(targets.projects, evaluated.projects),
    )
    out.add(
        "完成自评部门",
        ctx.self_eval_departments,
        "家部门",
        f"{sent}部门整体支出",
        _covered(figures.departments, evaluated.departments),
    )
    out.add(
        "项目自评覆盖率",
        ctx.self_eval_coverage_pct,
        "",
        "完成自评项目数 ÷ 项目总数，四舍五入到0.01%",
        _covered(targets.projects, evaluated.projects),
    )
    if not ctx.self_eval_full_coverage:
        if ctx.self_eval_missing_projects:
            out.add(
                "未完成自评项目",
                ctx.self_eval_missing_projects,
                "个项目",
                "没有报送自评的项目",
                evaluated.projects.missing,
            )
        if ctx.self_eval_missing_departments:
            out.add(
                "未完成整体支出自评部门",
                ctx.self_eval_missing_departments,
                "家部门",
                "没有报送部门整体支出自评的部门",
                evaluated.departments.missing,
            )
    if ctx.department_evaluations:
        out.add(
            "部门评价", ctx.department_evaluations, "项", "部门评价有得分的项目", evaluations.department_evaluations
        )
    sampling = figures.sampling
    if ctx.sample_size:
        out.add("抽查部门", ctx.sample_size, "个部门", f"{ctx.year}年抽查复核抽中的部门", sampling.members)
        out.add("抽查比例", ctx.sample_ratio_pct, "", "抽样时记录的抽查比例（年度策略）")
    covered_codes = _covered(figures.departments, sampling.cumulative)
    out.add(
        "累计部门覆盖率",
        ctx.cumulative_coverage_pct,
        "",
        "历年（含本年）抽中过的现有部门数 ÷ 部门总数，四舍五入到0.01%",
        covered_codes,
    )
    out.add("覆盖率目标", ctx.coverage_target_pct, "", "年度策略规定的累计覆盖率目标")
    if ctx.review_flags:
        out.add("复核项目", ctx.review_count, "个项目", "复核组重新评分的对象", evaluations.reviews)
        out.add(
            "复核差异较大",
            ctx.review_flags,
            "个",
            "复核得分与自评相差达到策略规定分值或等级不同的对象",
            evaluations.review_flags,
        )
    selection = figures.selection
    if ctx.fiscal_projects or ctx.fiscal_policies or ctx.fiscal_departments:
        for label, value, object_type in (
            ("重点评价项目", ctx.fiscal_projects, "project"),
            ("重点评价财政政策", ctx.fiscal_policies, "policy"),
            ("重点评价部门整体支出", ctx.fiscal_departments, "department"),
        ):
            unit = {"project": "个项目", "policy": "项财政政策", "department": "家部门"}[object_type]
            out.add(
                label,
                value,
                unit,
                f"选定开展财政重点评价的{OBJECT_TYPE_LABELS[object_type]}",
                selection.of(object_type),
            )
        everything = [code for t in OBJECT_TYPE_ORDER for code in selection.of(t)]
        out.add(
            "重点评价涉及资金", ctx.fiscal_amount_wan, "万元", "项目预算、政策资金和部门整体支出预算之和", everything
        )
    out.section = "一（四）评价结果应用"
    lines = figures.budget_codes
    if ctx.budget_projects:
        out.add(
            "提出建议项目", ctx.budget_projects, "个项目", f"{ctx.budget_year}年预算安排建议表的项目", lines.projects
        )
        out.add("申请资金", ctx.budget_request_wan, "万元", "建议表各行的预算年度申请额（原申请）合计", lines.projects)
        if ctx.budget_ex_ante_cut_wan:
            out.add(
                "事前评估压减（建议表）",
                ctx.budget_ex_ante_cut_wan,
                "万元",
                "建议表各行按事前绩效评估结论压减的金额合计",
                lines.ex_ante_cut,
            )
            out.add("安排基数", ctx.budget_base_wan, "万元", "各行申请额减去事前评估压减额后的合计", lines.projects)
        out.add(
            "建议安排", ctx.budget_recommended_wan, "万元", "各行现行安排额合计（审批调整后的金额为准）", lines.projects
        )
        if ctx.budget_cut_projects:
            out.add("压减资金", ctx.budget_cut_wan, "万元", "各行安排基数高于现行安排额的差额合计", lines.cut)
        if ctx.budget_increased_projects:
            out.add(
                "经审批增加", ctx.budget_increase_wan, "万元", "各行现行安排额高于安排基数的差额合计", lines.increased
            )
            out.add(
                "增加项目", ctx.budget_increased_projects, "个项目", "现行安排额高于安排基数的项目", lines.increased
            )
    if ctx.budget_cut_projects:
        out.add("压减项目", ctx.budget_cut_projects, "个项目", "现行安排额低于安排基数的项目", lines.cut)
        if ctx.budget_cancelled_projects:
            out.add(
                "原则上取消",
                ctx.budget_cancelled_projects,
                "个项目",
                "理由为原则上取消的项目（评价等级为差）",
                lines.cancelled,
            )
    if ctx.budget_priority_projects:
        out.add(
            "优先保障",
            ctx.budget_priority_projects,
            "个",
            "理由为优先保障的项目（评价等级为优且未压减）",
            lines.priority,
        )
    if ctx.budget_low_execution_projects:
        out.add(
            "执行率低压减", ctx.budget_low_execution_projects, "个", "理由为按执行率压减的项目", lines.low_execution
        )
    consequences = figures.consequences
    if consequences.lines:
        if ctx.consequence_policies:
            out.add(
                "结果应用政策",
                ctx.consequence_policies,
                "项",
                "按评价等级应用结果的重点评价政策",
                consequences.codes("policy"),
            )
        if ctx.consequence_departments:
            out.add(
                "结果应用部门整体",
                ctx.consequence_departments,
                "家部门",
                "按部门整体评价等级应用结果的部门（其事业发展类项目合为一行）",
                consequences.codes("department"),
            )
        out.add(
            "结果应用涉及资金",
            ctx.consequence_funds_wan,
            "万元",
            "重点评价政策的资金与部门整体事业发展类项目安排基数之和",
            consequences.all,
        )
        out.add(
            "结果应用建议安排",
            ctx.consequence_recommended_wan,
            "万元",
            "政策和部门整体各行现行安排额合计（审批调整后的金额为准）",
            consequences.all,
        )
        if ctx.consequence_cut_wan:
            out.add(
                "结果应用压减",
                ctx.consequence_cut_wan,
                "万元",
                "各行涉及资金高于现行安排额的差额合计",
                consequences.cut,
            )
        if ctx.consequence_increase_wan:
            out.add(
                "结果应用经审批增加",
                ctx.consequence_increase_wan,
                "万元",
                "各行现行安排额高于涉及资金的差额合计",
                consequences.increased,
            )
        if ctx.consequence_overridden:
            out.add(
                "结果应用审批调整",
                ctx.consequence_overridden,
                "项",
                "审批人调整金额的政策和部门整体",
                consequences.overridden,
            )
    _loop_rows(out, ctx, figures)
    if ctx.cost_pilot is not None:
        out.section = "一（五）成本预算绩效管理试点"
        out.add(
            "试点项目资金",
            ctx.cost_pilot.budget_wan,
            "万元",
            "年度策略指定的试点项目的年度预算",
            [ctx.cost_pilot.project_code],
        )
    if ctx.training_titles or ctx.articles:
        out.section = "一（六）培训宣传"
        for event in events.trainings:
            out.add("培训", event.when, "", f"工作记事：{event.title}", [event.record])
        for event in events.articles:
            out.add("宣传报道", event.when, "", f"工作记事：《{event.title}》（{event.detail}）", [event.record])
    out.section = "二、存在问题"
    late = figures.publications.not_on_time
    if late:
        out.add("未按期公开", len(late), "家部门", "逾期公开，或截止日期已过仍未公开自评报告的部门", late)
    not_improved = [d.code for d in warnings.not_improved]
    if not_improved:
        out.add("亮红灯后仍未改善", len(not_improved), "家部门", "亮红灯后下一季度亮灯未好转的部门", not_improved)
    if evaluations.inflated:
        out.add(
            "自评不够客观",
            len(evaluations.inflated),
            "个自评对象",
            "自报得分高出核定得分达到策略规定分值的自评对象",
            evaluations.inflated,
        )
        points = fmt_number(policy.self_evaluation.inflation_flag_points)
        out.add("自评偏高认定分值", points, "分", "年度策略规定的自评偏高分值")
    if targets.not_approved:
        out.add(
            "目标未通过", len(targets.not_approved), "个项目", "绩效目标未设置或未审核通过的项目", targets.not_approved
        )
    return out.rows


def _loop_rows(out: _Rows, ctx: AnnualReportContext, figures: CycleFigures) -> None:
    """采纳情况, 问题整改 and 公开: the figures of （四） after the budget table, as the template states them."""
    adoption = ctx.adoption
    if adoption is not None and figures.adoption is not None:
        codes = figures.adoption
        of = f"{adoption.year}年度预算安排建议表的项目（{adoption.budget_year}年人大批准预算）"
        out.add("采纳情况比较项目", adoption.lines, "个项目", f"导入了人大批准金额的{of}", codes.lines)
        if adoption.adopted:
            out.add("采纳", adoption.adopted, "个", "批准金额等于建议安排的项目", codes.status("adopted"))
        if adoption.changed:
            out.add("调整", adoption.changed, "个", "批准金额不同于建议安排的其他项目", codes.status("changed"))
        if adoption.not_adopted:
            out.add(
                "未采纳",
                adoption.not_adopted,
                "个",
                "建议压减、批准金额不低于原申请额的项目",
                codes.status("not_adopted"),
            )
        out.add("采纳率", adoption.rate_pct, "", "采纳项目数 ÷ 比较项目数，四舍五入到0.01%", codes.status("adopted"))
        out.add("建议安排（采纳情况）", adoption.recommended_wan, "万元", "比较项目的建议安排合计", codes.lines)
        out.add("人大批准", adoption.adopted_wan, "万元", "比较项目的批准金额合计", codes.lines)
        if adoption.differs:
            out.add("批准与建议差额", adoption.difference_wan, "万元", "批准金额合计减建议安排合计", codes.lines)
    findings = figures.findings
    if ctx.findings_registered:
        out.add(
            "登记问题", ctx.findings_registered, "项", f"{ctx.year}年度周期登记的整改问题（编号）", findings.registered
        )
        for source, label in FINDING_SOURCES.items():
            if findings.source(source):
                out.add(
                    f"登记问题（{label}）",
                    len(findings.source(source)),
                    "项",
                    f"来源为{label}的整改问题",
                    findings.source(source),
                )
        if ctx.findings_responded:
            out.add(
                "已反馈整改措施", ctx.findings_responded, "项", "部门至少反馈过一次整改措施的问题", findings.responded
            )
        if ctx.findings_closed:
            out.add("已整改到位", ctx.findings_closed, "项", "绩效科验证为已整改的问题", findings.closed)
        if ctx.findings_overdue:
            out.add(
                "逾期未反馈",
                ctx.findings_overdue,
                "项",
                "整改期限已过、部门尚未反馈整改措施的问题（按生成之日计）",
                findings.overdue,
            )
    publications = figures.publications
    if ctx.publications_on_time:
        out.add(
            "按期公开",
            ctx.publications_on_time,
            "家部门",
            "截止日期前（含当日）公开自评报告的部门",
            publications.on_time,
        )
    if ctx.late_publications:
        out.add(
            "未按期公开（公开情况）",
            ctx.late_publications,
            "家部门",
            "逾期公开，或截止日期已过仍未公开自评报告的部门",
            publications.not_on_time,
        )
    if ctx.publications_pending:
        out.add(
            "尚未到公开截止日期",
            ctx.publications_pending,
            "家部门",
            "尚未公开、截止日期未过的部门（按生成之日计）",
            publications.pending,
        )


def _covered(population: Iterable[str], coverage: Coverage) -> list[str]:
    """The codes a coverage counts: its population without those missing."""
    return sorted(set(population) - set(coverage.missing))


def figure_check_context(session: Session, cycle_id: int) -> FigureCheckContext:
    """The 数据核对表 of the annual report: the same figures from the same module, with what they count."""
    cycle = _cycle(session, cycle_id)
    policy = cycle_policy(cycle)
    figures = _report_figures(session, cycle, policy)
    ctx = _annual_report(session, cycle, policy, figures)
    district = _district(cycle, policy)
    return FigureCheckContext(
        district=district,
        year=cycle.year,
        title=f"{district}{cycle.year}年区级预算绩效管理工作开展情况数据核对表",
        report=f"关于{district}{cycle.year}年区级预算绩效管理工作开展情况的说明",
        figures=_figure_rows(ctx, figures, policy),
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
    policy = cycle_policy(cycle)
    departments = _departments(session)
    assessments = session.exec(select(ExAnteAssessment).where(ExAnteAssessment.cycle_id == cycle_id)).all()
    projects = _projects(session, cycle.year, (a.project_id for a in assessments))
    figures = ex_ante_figures(session, cycle_id)

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
        units=len(figures.units),
        projects=len(figures.projects),
        amount_wan=_wan_text(figures.amount_fen),
        cut_wan=_wan_text(figures.cut_fen),
        supported_total_wan=_wan_text(figures.amount_fen - figures.cut_fen),
        amount_text=spoken_wan(figures.amount_fen),
        cut_text=spoken_wan(figures.cut_fen),
        supported_total_text=spoken_wan(figures.amount_fen - figures.cut_fen),
        has_comments=any(row.comment for row in rows),
        supported=len(figures.concluded("予以支持")),
        adjusted=len(figures.concluded("调整后支持")),
        rejected=len(figures.concluded("不予支持")),
        conclusion_counts=count_phrase(((c, len(figures.concluded(c))) for c in CONCLUSIONS), "个"),
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
    policy = cycle_policy(cycle)
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
        # A light without its notice's record is dated as the notice would be (the quarter's end + the policy's days).
        issued_on = notice.issued_on if notice is not None else notice_date(cycle.year, quarter, policy.monitoring)
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
    policy = cycle_policy(cycle)
    departments = _departments(session)
    projects = _projects(session, cycle.year)
    names = _object_names(session, cycle.year, projects, departments)
    evaluations = session.exec(
        select(Evaluation).where(Evaluation.cycle_id == cycle_id, col(Evaluation.kind).in_(("self", "review")))
    ).all()
    self_of = {(e.object_type, e.object_code): e for e in evaluations if e.kind == "self"}
    reviews = [e for e in evaluations if e.kind == "review"]
    sampling = sampling_figures(session, cycle_id)
    reviewed = evaluation_figures(session, cycle_id)
    codes = {d.code: d.id for d in departments.values()}

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
        sample_ratio_pct=percent_text(sampling.ratio),
        sampled_departments="、".join(_dept_name(departments, codes.get(code)) for code in sampling.members),
        cumulative_covered=sampling.cumulative.covered,
        cumulative_coverage_pct=sampling.cumulative.percent,
        coverage_target_pct=percent_text(sampling.target),
        gap_flag_points=fmt_number(policy.sampling.review_gap_flag),
        review_count=len(reviewed.reviews),
        flagged_count=len(reviewed.review_flags),
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
    """What the grade means for the budget under the policy (the rule's words); the amounts follow in the budget
    stage, which applies it to the object's line."""
    if grade not in policy.budget.grade_cut:
        return ""
    return grade_consequence(grade, policy.budget)


def fiscal_evaluation_report_contexts(session: Session, cycle_id: int) -> list[FiscalEvaluationReportContext]:
    """One report context per object selected for key fiscal evaluation (projects, policies, departments)."""
    cycle = _cycle(session, cycle_id)
    policy = cycle_policy(cycle)
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
    policy = cycle_policy(cycle)
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
    as_of = document_day(session, cycle, policy, SELF_EVALUATION_KIND)
    disclosed = publication_figures(session, cycle_id, as_of)
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
                published_on=fmt_date(_published_by(publication, as_of)),
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
        department_evaluations=len(evaluation_figures(session, cycle_id).department_evaluations),
        average_score=average,
        grade_counts=[GradeCount(grade=b.grade, count=grade_counter[b.grade]) for b in policy.grades],
        grade_phrase=count_phrase(((b.grade, grade_counter[b.grade]) for b in policy.grades), "个"),
        inflation_flag_points=fmt_number(policy.self_evaluation.inflation_flag_points),
        inflated=inflated,
        inflated_count=len(inflated),
        missing_projects=len(missing),
        missing_project_names=join_names((p.name for p in missing), unit="个项目"),
        published=len(disclosed.published),
        late_publications=len(disclosed.not_on_time),
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
    policy = cycle_policy(cycle)
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
    policy = cycle_policy(cycle)
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
    policy = cycle_policy(cycle)
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
    url: str = ""
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
    pending: int = 0
    status_phrase: str = ""
    publications: list[PublicationRow]
    bureau_published_on: str = ""  # the bureau's own publication of the key-evaluation results
    bureau_url: str = ""


def object_phrase(counts: Mapping[str, int]) -> str:
    """ "9个项目、1项财政政策以及2家部门的整体支出": the key evaluation's objects, kinds without any left out."""
    parts = [
        f"{counts[kind]}{unit}" for kind, unit in (("project", "个项目"), ("policy", "项财政政策")) if counts[kind]
    ]
    if counts["department"]:
        parts.append(f"{counts['department']}家部门的整体支出")
    return "以及".join(["、".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else "".join(parts)


def _publication_label(publication: Publication, as_of: dt.date) -> str:
    """按期公开 / 逾期公开 / 未公开 (its deadline passed) / 待公开 (not yet due), as of the document's date."""
    return PUBLICATION_STATES[publication_state(publication.due_on, publication.published_on, as_of)]


def _published_by(publication: Publication | None, as_of: dt.date) -> dt.date | None:
    """The day of a publication made by `as_of`; None for one not made yet then."""
    if publication is None or publication.published_on is None or publication.published_on > as_of:
        return None
    return publication.published_on


def publication_list_context(session: Session, cycle_id: int) -> PublicationListContext:
    """The evaluation results to publish, from the Selection/Evaluation and Publication records."""
    reports = fiscal_evaluation_report_contexts(session, cycle_id)
    cycle = _cycle(session, cycle_id)
    policy = cycle_policy(cycle)
    departments = _departments(session)
    as_of = document_day(session, cycle, policy, PUBLICATION_LIST_KIND)
    publications = session.exec(select(Publication).where(Publication.cycle_id == cycle_id)).all()
    rows = [
        PublicationRow(
            department_code=departments[p.department_id].code if p.department_id in departments else "",
            department_name=_dept_name(departments, p.department_id),
            due_on=fmt_date(p.due_on),
            published_on=fmt_date(_published_by(p, as_of)),
            url=p.url if _published_by(p, as_of) else "",
            status=_publication_label(p, as_of),
        )
        for p in sorted(
            publications, key=lambda p: departments[p.department_id].code if p.department_id in departments else ""
        )
    ]
    disclosed = publication_figures(session, cycle_id, as_of)
    selection = selection_figures(session, cycle_id)
    return PublicationListContext(
        district=_district(cycle, policy),
        issuer=policy.issuer,
        year=cycle.year,
        fiscal_projects=len(selection.of("project")),
        fiscal_policies=len(selection.of("policy")),
        fiscal_departments=len(selection.of("department")),
        fiscal_amount_wan=_wan_text(selection.amount_fen),
        fiscal_amount_text=spoken_wan(selection.amount_fen),
        fiscal_objects=object_phrase({kind: len(selection.of(kind)) for kind in ("project", "policy", "department")}),
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
        due_on="、".join(fmt_date(d) for d in disclosed.due_on),
        on_time=len(disclosed.status(PUBLISHED_ON_TIME)),
        late=len(disclosed.status(PUBLISHED_LATE)),
        unpublished=len(disclosed.overdue),
        pending=len(disclosed.status(NOT_PUBLISHED)) - len(disclosed.overdue),
        status_phrase=count_phrase(
            (
                ("按期公开", len(disclosed.status(PUBLISHED_ON_TIME))),
                ("逾期公开", len(disclosed.status(PUBLISHED_LATE))),
                ("未公开", len(disclosed.overdue)),
                ("尚未到公开截止日期", len(disclosed.status(NOT_PUBLISHED)) - len(disclosed.overdue)),
            ),
            "家",
            "，",
        ),
        publications=rows,
        **_bureau_publication(session, cycle_id, as_of),
    )


def _bureau_publication(session: Session, cycle_id: int, as_of: dt.date) -> dict[str, str]:
    """The bureau's own publication of the key-evaluation results, once it reported it (by `as_of`)."""
    row = session.exec(select(ResultPublication).where(ResultPublication.cycle_id == cycle_id)).first()
    if row is None or row.published_on is None or row.published_on > as_of:
        return {}
    return {"bureau_published_on": fmt_date(row.published_on), "bureau_url": row.url}


# ---------------------------------------------------------------------------------------------- findings


class NoticeRow(BaseModel):
    """One finding still open, as the 通报 lists it."""

    model_config = ConfigDict(frozen=True)

    id: int
    department_name: str
    source_label: str
    text: str
    due_on: str
    state_label: str


class FindingsNoticeContext(BaseModel):
    """问题整改情况通报 of a quarter: the register's figures and every finding not fixed yet, by department."""

    model_config = ConfigDict(frozen=True)

    district: str
    issuer: str
    year: int
    quarter_label: str
    as_of: str
    issued_on: str
    addressees: str
    registered: int
    responded: int
    fixed: int
    open: int
    overdue: int
    unfixed: int
    by_source: str
    rows: list[NoticeRow]
    frame: Frame | None = None  # the 公文 frame it is issued in: given by `write_findings_notice`

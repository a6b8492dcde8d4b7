"""The cycle's figures, computed once from the records as they stand after every decision.

The `--json` summary, the documents, the spreadsheets, the approval forms and the stage artifacts read these
figures here, so no two of them can state a figure differently. The definitions are the rules'
(perfcycle/rules/); this module only reads the records they count. Every count keeps the codes of the records
it counts, so the 数据核对表 beside the annual report can name them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from models.rows import columns
from models.tables import (
    BudgetRecommendation,
    Cycle,
    Department,
    DepartmentLight,
    DepartmentRecommendation,
    Evaluation,
    ExAnteAssessment,
    Finding,
    FiscalPolicy,
    PolicyRecommendation,
    Project,
    Publication,
    Sample,
    SampleMember,
    Selection,
    StageState,
    TargetReview,
    WarningNotice,
    now,
)
from perfcycle.cycle_context import cycle_policy
from perfcycle.events import PRESS, RANKING, TRAINING, events_of, when_text
from perfcycle.money import fmt_wan
from perfcycle.policy import QUARTERS
from perfcycle.rules.budget import BudgetLine, BudgetTotals, budget_totals, department_line, grade_consequence
from perfcycle.rules.coverage import Coverage, coverage, reported_every_period
from perfcycle.rules.disclosure import (
    LATE,
    NOT_PUBLISHED,
    ON_TIME,
    OVERDUE,
    PUBLISHED_LATE,
    PUBLISHED_ON_TIME,
    publication_state,
)
from perfcycle.rules.findings import SOURCES, count_findings
from perfcycle.rules.lights import improved_overall

if TYPE_CHECKING:
    from perfcycle.adoption import AdoptionSummary

Codes = tuple[str, ...]


# ---------------------------------------------------------------------------------------------- budget


def budget_line(rec: BudgetRecommendation) -> BudgetLine:
    """A recommendation as a line of the table, with the approver's override where there is one."""
    return BudgetLine(
        request_fen=rec.request_fen,
        recommended_fen=rec.recommended_fen,
        override_fen=rec.override_fen,
        reason_kind=rec.reason_kind,
        reason=rec.reason,
        ex_ante_cut_fen=rec.ex_ante_cut_fen,
    )


_LINE = columns(  # a line's fields in `BudgetLine`'s order
    BudgetRecommendation, "request_fen", "recommended_fen", "override_fen", "reason_kind", "reason", "ex_ante_cut_fen"
)


def _coded_lines(session: Session, cycle_id: int) -> list[tuple[str, BudgetLine]]:
    """Each project's code and line in the cycle's table, by code; read as plain columns (a district has
    thousands of lines, and the figures are asked for by several documents)."""
    rows = session.exec(
        select(Project.code, *_LINE)
        .join(BudgetRecommendation, col(BudgetRecommendation.project_id) == Project.id)
        .where(BudgetRecommendation.cycle_id == cycle_id)
        .order_by(col(Project.code))
    ).all()
    return [(code, BudgetLine(*line)) for code, *line in rows]


def budget_figures(session: Session, cycle_id: int, *, as_computed: bool = False) -> BudgetTotals:
    """Request, the amounts that stand, cuts, increases and the counts of the cycle's recommendation table;
    `as_computed`: as the rule computed it, before any approver's override (what the approvers decide on)."""
    lines = (line for _, line in _coded_lines(session, cycle_id))
    return budget_totals(replace(line, override_fen=None) if as_computed else line for line in lines)


@dataclass(frozen=True)
class BudgetCodes:
    """The projects behind each count of the table: those whose own line adds to it."""

    projects: Codes = ()
    ex_ante_cut: Codes = ()
    cut: Codes = ()
    increased: Codes = ()
    overridden: Codes = ()
    priority: Codes = ()
    cancelled: Codes = ()
    low_execution: Codes = ()


def budget_codes(session: Session, cycle_id: int) -> BudgetCodes:
    """Each count's projects, by asking the totals of each line alone (so a count and its codes cannot differ)."""
    return _budget_codes(_coded_lines(session, cycle_id))


def _budget_codes(lines: list[tuple[str, BudgetLine]]) -> BudgetCodes:
    alone = [(code, budget_totals([line])) for code, line in lines]

    def counted(count: str) -> Codes:
        return tuple(code for code, totals in alone if getattr(totals, count))

    return BudgetCodes(
        projects=tuple(code for code, _ in alone),
        ex_ante_cut=counted("ex_ante_cut_fen"),
        cut=counted("cut_projects"),
        increased=counted("increased_projects"),
        overridden=counted("overridden_projects"),
        priority=counted("priority_projects"),
        cancelled=counted("cancelled_projects"),
        low_execution=counted("low_execution_projects"),
    )


def budget_summary(totals: BudgetTotals) -> dict[str, Any]:
    """The table's figures as the `--json` summary and the stage record state them (万元 as numbers)."""
    return {
        "projects": totals.projects,
        "request_wan": float(fmt_wan(totals.request_fen)),
        "ex_ante_cut_wan": float(fmt_wan(totals.ex_ante_cut_fen)),
        "base_wan": float(fmt_wan(totals.base_fen)),
        "recommended_wan": float(fmt_wan(totals.recommended_fen)),
        "cut_projects": totals.cut_projects,
        "cut_wan": float(fmt_wan(totals.cut_fen)),
        "increased_projects": totals.increased_projects,
        "increase_wan": float(fmt_wan(totals.increase_fen)),
        "overridden_projects": totals.overridden_projects,
        "priority_projects": totals.priority_projects,
        "cancelled_projects": totals.cancelled_projects,
        "low_execution_projects": totals.low_execution_projects,
        "reasons": dict(totals.reasons),
    }


# ---------------------------------------------------------------------------------------------- consequences


@dataclass(frozen=True)
class ConsequenceLine:
    """A key-evaluated policy or department under its grade's consequence, as it stands after the approvers: a
    policy's funds; a department's 事业发展类 lines taken together (its own override sets their amount)."""

    object_type: str  # "policy" | "department"
    code: str
    name: str
    score: Decimal | None
    grade: str
    consequence: str  # the grade's consequence in the table's words: 压减10%, 优先保障 …
    cut_ratio: Decimal
    line: BudgetLine
    override_reason: str
    explanation: str


def consequence_lines(session: Session, cycle_id: int) -> tuple[ConsequenceLine, ...]:
    """The policies' lines by code, then the departments' by code."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        return ()
    policy = cycle_policy(cycle)
    out: list[ConsequenceLine] = []
    for rec, fiscal_policy in session.exec(
        select(PolicyRecommendation, FiscalPolicy)
        .join(FiscalPolicy, col(FiscalPolicy.id) == PolicyRecommendation.policy_id)
        .where(PolicyRecommendation.cycle_id == cycle_id)
        .order_by(col(FiscalPolicy.code))
    ):
        line = BudgetLine(rec.funds_fen, rec.recommended_fen, rec.override_fen, rec.reason_kind, rec.reason)
        out.append(
            ConsequenceLine(
                "policy",
                fiscal_policy.code,
                fiscal_policy.name,
                rec.score,
                rec.grade,
                rec.reason,
                rec.cut_ratio,
                line,
                rec.override_reason,
                rec.explanation,
            )
        )
    developed: dict[int, list[BudgetLine]] = defaultdict(list)
    for department_id, project_rec in session.exec(
        select(Project.department_id, BudgetRecommendation)
        .join(Project, col(Project.id) == BudgetRecommendation.project_id)
        .where(BudgetRecommendation.cycle_id == cycle_id, col(BudgetRecommendation.department_grade) != "")
    ):
        developed[department_id].append(budget_line(project_rec))
    kind = policy.targets.development_type
    for department_rec, department in session.exec(
        select(DepartmentRecommendation, Department)
        .join(Department, col(Department.id) == DepartmentRecommendation.department_id)
        .where(DepartmentRecommendation.cycle_id == cycle_id)
        .order_by(col(Department.code))
    ):
        lines = developed.get(department_rec.department_id, [])
        note = f"{len(lines)}个{kind}项目，各按自身与部门整体压减中较高者安排" if lines else f"无{kind}项目"
        out.append(
            ConsequenceLine(
                "department",
                department.code,
                department.name,
                department_rec.score,
                department_rec.grade,
                grade_consequence(department_rec.grade, policy.budget),
                department_rec.cut_ratio,
                department_line(lines, department_rec.reason_kind, department_rec.reason, department_rec.override_fen),
                department_rec.override_reason,
                note,
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class ConsequenceFigures:
    """The policies' and departments' lines, totalled as the project table is: over the amounts as they stand."""

    lines: tuple[ConsequenceLine, ...] = ()

    def codes(self, object_type: str) -> Codes:
        return tuple(c.code for c in self.lines if c.object_type == object_type)

    @property
    def totals(self) -> BudgetTotals:
        return budget_totals(c.line for c in self.lines)

    @property
    def overridden(self) -> Codes:
        """The lines an approver set at another amount, as 政策:ZC01 / 部门:131."""
        return tuple(_line_code(c) for c in self.lines if c.line.override_fen is not None)

    @property
    def cut(self) -> Codes:
        return tuple(_line_code(c) for c in self.lines if c.line.cut_fen)

    @property
    def increased(self) -> Codes:
        return tuple(_line_code(c) for c in self.lines if c.line.increase_fen)

    @property
    def all(self) -> Codes:
        return tuple(_line_code(c) for c in self.lines)


def _line_code(line: ConsequenceLine) -> str:
    return f"{'政策' if line.object_type == 'policy' else '部门'}:{line.code}"


def consequence_figures(session: Session, cycle_id: int) -> ConsequenceFigures:
    return ConsequenceFigures(consequence_lines(session, cycle_id))


def consequence_summary(figures: ConsequenceFigures) -> dict[str, Any]:
    """The consequence lines' figures as the `--json` summary states them."""
    totals = figures.totals
    return {
        "policies": len(figures.codes("policy")),
        "departments": len(figures.codes("department")),
        "funds_wan": float(fmt_wan(totals.base_fen)),
        "recommended_wan": float(fmt_wan(totals.recommended_fen)),
        "cut_wan": float(fmt_wan(totals.cut_fen)),
        "increase_wan": float(fmt_wan(totals.increase_fen)),
        "overridden": len(figures.overridden),
    }


# ---------------------------------------------------------------------------------------------- names


def _department_codes(session: Session) -> list[str]:
    return list(session.exec(select(Department.code)).all())


def department_names(session: Session) -> dict[str, str]:
    """Department code → name, in code order."""
    return dict(session.exec(select(Department.code, Department.name).order_by(col(Department.code))).all())


def _year(session: Session, cycle_id: int) -> int | None:
    cycle = session.get(Cycle, cycle_id)
    return cycle.year if cycle is not None else None


def _done(session: Session, cycle_id: int, stages: Iterable[str]) -> set[str]:
    return set(
        session.exec(
            select(StageState.stage).where(
                StageState.cycle_id == cycle_id, StageState.status == "done", col(StageState.stage).in_(list(stages))
            )
        ).all()
    )


# ---------------------------------------------------------------------------------------------- ex-ante


@dataclass(frozen=True)
class ExAnteFigures:
    """事前绩效评估: the projects the panel concluded on, their units, the amount assessed and the cut."""

    projects: Codes = ()
    units: Codes = ()
    amount_fen: int = 0
    cut_fen: int = 0
    conclusions: Mapping[str, Codes] = field(default_factory=dict)

    def concluded(self, conclusion: str) -> Codes:
        return self.conclusions.get(conclusion, ())


def ex_ante_figures(session: Session, cycle_id: int) -> ExAnteFigures:
    """The assessments with a conclusion (the panel's scores read and concluded by the stage)."""
    rows = session.exec(
        select(Project.code, Department.code, ExAnteAssessment)
        .join(Project, col(Project.id) == ExAnteAssessment.project_id)
        .join(Department, col(Department.id) == Project.department_id)
        .where(ExAnteAssessment.cycle_id == cycle_id, col(ExAnteAssessment.conclusion) != "")
        .order_by(col(Project.code))
    ).all()
    conclusions: dict[str, list[str]] = defaultdict(list)
    for project, _unit, assessment in rows:
        conclusions[assessment.conclusion].append(project)
    return ExAnteFigures(
        projects=tuple(project for project, _, _ in rows),
        units=tuple(sorted({unit for _, unit, _ in rows})),
        amount_fen=sum(a.request_fen for _, _, a in rows),
        cut_fen=sum(a.cut_fen for _, _, a in rows),
        conclusions={k: tuple(v) for k, v in conclusions.items()},
    )


# ---------------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class TargetFigures:
    """绩效目标: the year's projects by the state of their targets (a project never reviewed is missing)."""

    projects: Codes = ()
    by_status: Mapping[str, Codes] = field(default_factory=dict)

    def status(self, status: str) -> Codes:
        return self.by_status.get(status, ())

    @property
    def not_approved(self) -> Codes:
        """Without approved targets: these get no budget (未设置绩效目标)."""
        approved = set(self.status("approved"))
        return tuple(code for code in self.projects if code not in approved)


def target_figures(session: Session, cycle_id: int) -> TargetFigures:
    year = _year(session, cycle_id)
    projects = session.exec(
        select(Project.id, Project.code).where(Project.year == year).order_by(col(Project.code))
    ).all()
    status: dict[int | None, str] = dict(
        session.exec(
            select(TargetReview.project_id, TargetReview.status).where(TargetReview.cycle_id == cycle_id)
        ).all()
    )
    codes: list[str] = []
    by_status: dict[str, list[str]] = defaultdict(list)
    for project_id, code in projects:
        codes.append(code)
        by_status[status.get(project_id, "missing")].append(code)
    return TargetFigures(projects=tuple(codes), by_status={k: tuple(v) for k, v in by_status.items()})


# ---------------------------------------------------------------------------------------------- monitoring


def monitoring_coverage(session: Session, cycle_id: int) -> Coverage:
    """监控覆盖: departments with a record in every quarter monitored so far, of all departments."""
    rows = session.exec(
        select(DepartmentLight.quarter, Department.code)
        .join(Department, col(Department.id) == DepartmentLight.department_id)
        .where(DepartmentLight.cycle_id == cycle_id)
    ).all()
    done = _done(session, cycle_id, [f"monitoring_{q}" for q in QUARTERS])
    periods: dict[str, set[str]] = {stage.removeprefix("monitoring_"): set() for stage in done}
    for quarter, code in rows:
        periods.setdefault(quarter, set()).add(code)
    return coverage(_department_codes(session), reported_every_period(periods))


@dataclass(frozen=True)
class QuarterLights:
    """One quarter's departments by their overall light."""

    quarter: str
    lights: Mapping[str, Codes]

    def light(self, light: str) -> Codes:
        return self.lights.get(light, ())

    @property
    def departments(self) -> int:
        return sum(len(codes) for codes in self.lights.values())


def _lights(session: Session, cycle_id: int) -> list[tuple[str, str, str]]:
    """(department code, quarter, light) of every department light of the cycle."""
    return list(
        session.exec(
            select(Department.code, DepartmentLight.quarter, DepartmentLight.light)
            .join(Department, col(Department.id) == DepartmentLight.department_id)
            .where(DepartmentLight.cycle_id == cycle_id)
            .order_by(col(Department.code))
        ).all()
    )


def quarter_lights(session: Session, cycle_id: int) -> list[QuarterLights]:
    """The quarters with lights, in order, each with its departments by light."""
    per: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for code, quarter, light in _lights(session, cycle_id):
        per[quarter][light].append(code)
    return [QuarterLights(q, {k: tuple(v) for k, v in per[q].items()}) for q in QUARTERS if q in per]


@dataclass(frozen=True)
class RedDepartment:
    """A department whose overall light was red in some quarter, and how it stood the quarter after each.

    `improved`: better after every red quarter, by the monitoring stage's verdict on its 预警通知书;
    `turned_green`: green the quarter after every red one. Either is None while a following quarter is unknown."""

    code: str
    quarters: Codes
    improved: bool | None
    turned_green: bool | None
    not_improved: Codes  # the red quarters after which it did not improve


def _following(quarter: str) -> str | None:
    index = QUARTERS.index(quarter) if quarter in QUARTERS else -1
    return QUARTERS[index + 1] if 0 <= index < len(QUARTERS) - 1 else None


@dataclass(frozen=True)
class WarningFigures:
    """预警通知书 (red) and 提醒函 (yellow) sent, and what became of the red departments."""

    red_notices: Codes = ()  # "D02:Q1"
    yellow_notices: Codes = ()
    red_departments: tuple[RedDepartment, ...] = ()

    @property
    def improved(self) -> Codes:
        return tuple(d.code for d in self.red_departments if d.improved is True)

    @property
    def turned_green(self) -> Codes:
        return tuple(d.code for d in self.red_departments if d.turned_green is True)

    @property
    def not_improved(self) -> tuple[RedDepartment, ...]:
        return tuple(d for d in self.red_departments if d.not_improved)


def warning_figures(session: Session, cycle_id: int) -> WarningFigures:
    notices = session.exec(
        select(Department.code, WarningNotice.quarter, WarningNotice.level, WarningNotice.improved)
        .join(Department, col(Department.id) == WarningNotice.department_id)
        .where(WarningNotice.cycle_id == cycle_id)
        .order_by(col(Department.code), col(WarningNotice.quarter))
    ).all()
    verdict = {(code, quarter): improved for code, quarter, _level, improved in notices}
    light_of = {(code, quarter): light for code, quarter, light in _lights(session, cycle_id)}
    red: dict[str, list[str]] = defaultdict(list)
    for (code, quarter), light in sorted(light_of.items()):
        if light == "red":
            red[code].append(quarter)
    departments = []
    for code, quarters in sorted(red.items()):
        improved = [verdict.get((code, q)) for q in quarters]
        green = []
        for q in quarters:
            following = _following(q)
            after = light_of.get((code, following)) if following else None
            green.append(None if after is None else after == "green")
        departments.append(
            RedDepartment(
                code=code,
                quarters=tuple(quarters),
                improved=improved_overall(improved),
                turned_green=improved_overall(green),
                not_improved=tuple(q for q, v in zip(quarters, improved, strict=True) if v is False),
            )
        )
    return WarningFigures(
        red_notices=tuple(f"{code}:{quarter}" for code, quarter, level, _ in notices if level == "red"),
        yellow_notices=tuple(f"{code}:{quarter}" for code, quarter, level, _ in notices if level == "yellow"),
        red_departments=tuple(departments),
    )


# ---------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class SelfEvaluationCoverage:
    """自评覆盖: the year's projects and the departments that sent their self-evaluation (a claimed score)."""

    projects: Coverage
    departments: Coverage


def self_evaluation_coverage(session: Session, cycle_id: int) -> SelfEvaluationCoverage:
    """Projects self-evaluated of the year's projects; departments' overall self-evaluations of all departments."""
    year = _year(session, cycle_id)
    projects = session.exec(select(Project.code).where(Project.year == year)).all()
    sent = session.exec(
        select(Evaluation.object_type, Evaluation.object_code).where(
            Evaluation.cycle_id == cycle_id,
            Evaluation.kind == "self",
            col(Evaluation.claimed_score).is_not(None),
        )
    ).all()
    return SelfEvaluationCoverage(
        projects=coverage(projects, {code for kind, code in sent if kind == "project"}),
        departments=coverage(_department_codes(session), {code for kind, code in sent if kind == "department"}),
    )


@dataclass(frozen=True)
class EvaluationFigures:
    """The scores beyond the self-evaluation's coverage: inflated claims, 部门评价, 抽查复核 and its flags."""

    inflated: Codes = ()  # self-evaluated objects whose claim is inflated
    department_evaluations: Codes = ()  # projects a department evaluated (with a score)
    reviews: Codes = ()  # objects the review team re-scored
    review_flags: Codes = ()  # of those, the ones flagged against the self-evaluation


def evaluation_figures(session: Session, cycle_id: int) -> EvaluationFigures:
    rows = session.exec(
        select(Evaluation.kind, Evaluation.object_code, col(Evaluation.score), Evaluation.flagged)
        .where(Evaluation.cycle_id == cycle_id)
        .order_by(col(Evaluation.object_type).desc(), col(Evaluation.object_code))
    ).all()

    def codes(kind: str, *, flagged: bool = False, scored: bool = False) -> Codes:
        return tuple(
            code
            for k, code, score, is_flagged in rows
            if k == kind and (is_flagged or not flagged) and (score is not None or not scored)
        )

    return EvaluationFigures(
        inflated=codes("self", flagged=True),
        department_evaluations=codes("department", scored=True),
        reviews=codes("review"),
        review_flags=codes("review", flagged=True),
    )


# ---------------------------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class SamplingFigures:
    """抽查复核: this cycle's draw and the rotation's cumulative coverage of today's departments."""

    drawn: bool = False  # a draw is recorded for the cycle
    members: Codes = ()
    size: int = 0
    ratio: Decimal = Decimal(0)
    seed: str = ""
    cumulative: Coverage = field(default_factory=lambda: Coverage(0, 0, ()))
    target: Decimal = Decimal(0)

    @property
    def target_met(self) -> bool:
        return self.cumulative.ratio >= self.target

    @property
    def target_exceeded(self) -> bool:
        return self.cumulative.ratio > self.target


def sampling_figures(session: Session, cycle_id: int) -> SamplingFigures:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        return SamplingFigures()
    policy = cycle_policy(cycle)
    rows = session.exec(
        select(Sample.cycle_id, Department.code)
        .join(SampleMember, col(SampleMember.sample_id) == col(Sample.id))
        .join(Department, col(Department.id) == SampleMember.department_id)
        .join(Cycle, col(Cycle.id) == col(Sample.cycle_id))
        .where(Cycle.year <= cycle.year)
    ).all()
    members = tuple(sorted({code for sampled_in, code in rows if sampled_in == cycle_id}))
    own = session.exec(select(Sample).where(Sample.cycle_id == cycle_id)).first()
    return SamplingFigures(
        drawn=own is not None,
        members=members,
        size=len(members) if members else (own.size if own is not None else 0),
        ratio=own.ratio if own is not None and own.ratio is not None else policy.sampling.ratio,
        seed=own.seed if own is not None else "",
        cumulative=coverage(_department_codes(session), {code for _, code in rows}),
        target=policy.sampling.coverage_target,
    )


# ---------------------------------------------------------------------------------------------- key evaluation


@dataclass(frozen=True)
class SelectionFigures:
    """财政重点评价: the objects selected, by type, and the amount they bring in."""

    objects: Mapping[str, Codes] = field(default_factory=dict)
    amount_fen: int = 0

    def of(self, object_type: str) -> Codes:
        return self.objects.get(object_type, ())

    @property
    def total(self) -> int:
        return sum(len(codes) for codes in self.objects.values())


def selection_figures(session: Session, cycle_id: int) -> SelectionFigures:
    rows = session.exec(
        select(Selection.object_type, Selection.object_code, Selection.amount_fen)
        .where(Selection.cycle_id == cycle_id)
        .order_by(col(Selection.object_type), col(Selection.rank), col(Selection.object_code))
    ).all()
    objects: dict[str, list[str]] = defaultdict(list)
    for object_type, code, _ in rows:
        objects[object_type].append(code)
    return SelectionFigures(objects={k: tuple(v) for k, v in objects.items()}, amount_fen=sum(r[2] for r in rows))


# ---------------------------------------------------------------------------------------------- disclosure


@dataclass(frozen=True)
class PublicationFigures:
    """谁评价、谁公开: the departments by the state of their self-evaluation report's publication."""

    by_status: Mapping[str, Codes] = field(default_factory=dict)
    due_on: tuple[date, ...] = ()
    overdue: Codes = ()  # not published, and the deadline has passed

    def status(self, status: str) -> Codes:
        return self.by_status.get(status, ())

    @property
    def not_on_time(self) -> Codes:
        """未按期公开: published after the deadline, or not published once it has passed."""
        return tuple(sorted({*self.status(PUBLISHED_LATE), *self.overdue}))

    @property
    def published(self) -> Codes:
        return tuple(sorted({*self.status(PUBLISHED_ON_TIME), *self.status(PUBLISHED_LATE)}))

    @property
    def on_time(self) -> Codes:
        """按期公开: published on or before the deadline."""
        return self.status(PUBLISHED_ON_TIME)

    @property
    def pending(self) -> Codes:
        """尚未到期: not published, and the deadline has not passed yet."""
        counted = {*self.on_time, *self.not_on_time}
        return tuple(code for codes in self.by_status.values() for code in codes if code not in counted)


#: The states a publication is counted by: published on time, late, else not (yet) published.
PUBLICATION_LABELS = {ON_TIME: PUBLISHED_ON_TIME, LATE: PUBLISHED_LATE}


def publication_figures(session: Session, cycle_id: int, today: date | None = None) -> PublicationFigures:
    """As of `today` (the bureau's date by default; a document's own date for a document): a report published
    later is not yet published, and one not yet published is overdue only once its deadline has passed."""
    day = today or now().date()
    rows = session.exec(
        select(Department.code, col(Publication.published_on), col(Publication.due_on))
        .join(Department, col(Department.id) == Publication.department_id)
        .where(Publication.cycle_id == cycle_id)
        .order_by(col(Department.code))
    ).all()
    by_status: dict[str, list[str]] = defaultdict(list)
    overdue = []
    for code, published_on, due_on in rows:
        state = publication_state(due_on, published_on, day)
        by_status[PUBLICATION_LABELS.get(state, NOT_PUBLISHED)].append(code)
        if state == OVERDUE:
            overdue.append(code)
    return PublicationFigures(
        by_status={k: tuple(v) for k, v in by_status.items()},
        due_on=tuple(sorted({due for _, _, due in rows if due is not None})),
        overdue=tuple(overdue),
    )


# ---------------------------------------------------------------------------------------------- rectification


@dataclass(frozen=True)
class FindingFigures:
    """问题整改: the cycle's findings (as "#编号"), registered, answered at least once, verified fixed and overdue
    on the day, and registered by source."""

    registered: Codes = ()
    responded: Codes = ()
    closed: Codes = ()
    overdue: Codes = ()
    by_source: Mapping[str, Codes] = field(default_factory=dict)

    def source(self, source: str) -> Codes:
        return self.by_source.get(source, ())

    def summary(self) -> dict[str, Any]:
        """As `--json` states them: counts, and by source only the sources with findings."""
        return {
            "registered": len(self.registered),
            "responded": len(self.responded),
            "closed": len(self.closed),
            "overdue": len(self.overdue),
            "by_source": {s: len(self.source(s)) for s in SOURCES if self.source(s)},
        }


def finding_figures(session: Session, cycle_id: int, today: date | None = None) -> FindingFigures:
    """As of `today` (the bureau's date by default), by the register's rule (`count_findings`) applied to each
    finding alone, so a count and its codes cannot differ."""
    day = today or now().date()
    rows = session.exec(
        select(*columns(Finding, "id", "source", "status", "due_on", "answers"))
        .where(Finding.cycle_id == cycle_id)
        .order_by(col(Finding.id))
    ).all()
    alone = [
        (f"#{id_}", count_findings([(source, status, due, answers)], day)) for id_, source, status, due, answers in rows
    ]

    def counted(count: str) -> Codes:
        return tuple(code for code, counts in alone if getattr(counts, count))

    return FindingFigures(
        registered=tuple(code for code, _ in alone),
        responded=counted("responded"),
        closed=counted("closed"),
        overdue=counted("overdue"),
        by_source={s: tuple(code for code, counts in alone if counts.by_source[s]) for s in SOURCES},
    )


# ---------------------------------------------------------------------------------------------- adoption


@dataclass(frozen=True)
class AdoptionFigures:
    """采纳情况 as the annual report states it (`perfcycle.adoption.stated_adoption`), with each status's projects."""

    summary: AdoptionSummary
    codes: Mapping[str, Codes] = field(default_factory=dict)  # adopted / changed / not_adopted → project codes

    @property
    def lines(self) -> Codes:
        return tuple(sorted(code for codes in self.codes.values() for code in codes))

    def status(self, status: str) -> Codes:
        return self.codes.get(status, ())


def adoption_figures(session: Session, cycle_id: int, on: date | None = None) -> AdoptionFigures | None:
    """The adoption the cycle's report dated `on` states (any day: the latest imported), or None when no adopted
    budget is imported by then."""
    from perfcycle.adoption import adoption_lines, stated_adoption

    cycle = session.get(Cycle, cycle_id)
    stated = stated_adoption(session, cycle, on) if cycle is not None else None
    if stated is None:
        return None
    cycle_of, summary = stated
    codes: dict[str, list[str]] = defaultdict(list)
    for line in adoption_lines(session, cycle_of):
        codes[line.status].append(line.line.project_code)
    return AdoptionFigures(summary, {k: tuple(v) for k, v in codes.items()})


# ---------------------------------------------------------------------------------------------- cost pilot


@dataclass(frozen=True)
class CostPilotFigures:
    """成本预算绩效管理试点: the policy's project, as the year's base data hold it."""

    project_code: str
    project_name: str
    department_code: str
    budget_fen: int


def cost_pilot_figures(session: Session, cycle_id: int) -> CostPilotFigures | None:
    cycle = session.get(Cycle, cycle_id)
    code = cycle_policy(cycle).cost_pilot.project_code if cycle is not None else None
    if cycle is None or not code:
        return None
    found = session.exec(
        select(Project.name, Department.code, Project.budget_fen)
        .join(Department, col(Department.id) == Project.department_id)
        .where(Project.year == cycle.year, Project.code == code)
    ).first()
    if found is None:
        return None
    name, department, budget = found
    return CostPilotFigures(code, name, department, budget)


# ---------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Event:
    """One 工作记事 entry as the report states it."""

    id: int
    kind: str
    month: int | None
    day: int | None
    title: str
    detail: str
    rank: int | None

    @property
    def record(self) -> str:
        return f"工作记事#{self.id}"

    @property
    def when(self) -> str:
        return when_text(self.month, self.day)


@dataclass(frozen=True)
class EventFigures:
    """The year's recorded events by kind: trainings held, the rankings in the city's assessment, articles."""

    trainings: tuple[Event, ...] = ()
    rankings: tuple[Event, ...] = ()
    articles: tuple[Event, ...] = ()


def event_figures(session: Session, year: int) -> EventFigures:
    found = [Event(e.id or 0, e.kind, e.month, e.day, e.title, e.detail, e.rank) for e in events_of(session, year)]
    return EventFigures(
        trainings=tuple(e for e in found if e.kind == TRAINING),
        rankings=tuple(e for e in found if e.kind == RANKING),
        articles=tuple(e for e in found if e.kind == PRESS),
    )


# ---------------------------------------------------------------------------------------------- the cycle


@dataclass(frozen=True)
class CycleFigures:
    """Every figure of the cycle, as the documents, the summary and the 数据核对表 state it."""

    year: int
    budget_year: int
    departments: Mapping[str, str]  # code → name of every department
    targets: TargetFigures
    ex_ante: ExAnteFigures
    monitoring: Coverage
    quarters: tuple[QuarterLights, ...]
    warnings: WarningFigures
    self_evaluation: SelfEvaluationCoverage
    evaluations: EvaluationFigures
    sampling: SamplingFigures
    selection: SelectionFigures
    budget: BudgetTotals
    budget_codes: BudgetCodes
    publications: PublicationFigures
    cost_pilot: CostPilotFigures | None
    events: EventFigures
    consequences: ConsequenceFigures = field(default_factory=ConsequenceFigures)  # policies' and departments' lines
    findings: FindingFigures = FindingFigures()
    adoption: AdoptionFigures | None = None

    def names(self, codes: Iterable[str]) -> list[str]:
        """Department names for codes (a code without a department stays a code)."""
        return [self.departments.get(code, code) for code in codes]


def cycle_figures(session: Session, cycle_id: int, on: date | None = None) -> CycleFigures:
    """All of the cycle's figures from its records, as they stand now; the loops (findings, publications,
    adoption) as of `on` (the annual report's date), else today."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"没有编号为 {cycle_id} 的绩效管理周期")
    lines = _coded_lines(session, cycle_id)
    return CycleFigures(
        year=cycle.year,
        budget_year=cycle.budget_year,
        departments=department_names(session),
        targets=target_figures(session, cycle_id),
        ex_ante=ex_ante_figures(session, cycle_id),
        monitoring=monitoring_coverage(session, cycle_id),
        quarters=tuple(quarter_lights(session, cycle_id)),
        warnings=warning_figures(session, cycle_id),
        self_evaluation=self_evaluation_coverage(session, cycle_id),
        evaluations=evaluation_figures(session, cycle_id),
        sampling=sampling_figures(session, cycle_id),
        selection=selection_figures(session, cycle_id),
        budget=budget_totals(line for _, line in lines),
        budget_codes=_budget_codes(lines),
        publications=publication_figures(session, cycle_id, on),
        cost_pilot=cost_pilot_figures(session, cycle_id),
        events=event_figures(session, cycle.year),
        consequences=consequence_figures(session, cycle_id),
        findings=finding_figures(session, cycle_id, on),
        adoption=adoption_figures(session, cycle_id, on),
    )

"""The domain model: every object of the cycle, as SQLModel tables. Money is integer 分 (BigInteger)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, DateTime, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """Timestamps are Asia/Shanghai, the bureau's own clock; PERFCYCLE_TODAY sets its date for a rehearsal."""
    moment = datetime.now(SHANGHAI)
    from perfcycle.settings import get_settings

    day = get_settings().today
    return moment if day is None else datetime.combine(day, moment.timetz())


def _money() -> Any:
    return Field(default=0, sa_type=BigInteger)


def _score(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=Numeric(7, 2), nullable=nullable)


def _stamp(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=DateTime(timezone=True), nullable=True)
    return Field(default_factory=now, sa_type=DateTime(timezone=True))


class Department(SQLModel, table=True):
    """预算部门: submits targets, monitoring data and self-evaluations; escalation goes to its head."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=200)
    contact: str = Field(default="", max_length=100)
    email: str = Field(default="", max_length=200)
    webhook: str = Field(default="", max_length=500)
    head: str = Field(default="", max_length=100)
    head_email: str = Field(default="", max_length=200)


class Project(SQLModel, table=True):
    """A budget project of one year; budget and budget-year request in 分."""

    __table_args__ = (UniqueConstraint("year", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    code: str = Field(max_length=64)
    department_id: int = Field(foreign_key="department.id", index=True)
    name: str = Field(max_length=300)
    type: str = Field(max_length=20)
    attribute: str = Field(max_length=10)
    budget_fen: int = _money()
    request_fen: int = _money()
    policy_related: bool = False
    high_attention: bool = False


class FiscalPolicy(SQLModel, table=True):
    """财政政策 with its funds; a key-evaluation object."""

    __tablename__ = "fiscal_policy"
    __table_args__ = (UniqueConstraint("year", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=300)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    funds_fen: int = _money()


class Cycle(SQLModel, table=True):
    """One annual cycle; earlier years imported from base data are `historical`."""

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(unique=True, index=True)
    budget_year: int
    district: str = Field(default="", max_length=100)
    status: str = Field(default="open", max_length=20)
    policy_json: str = Field(default="", sa_type=Text)
    policy_digest: str = Field(default="", max_length=64)
    auto_approve: bool = False
    data_source: str = Field(default="", max_length=500)
    submissions_dir: str = Field(default="", max_length=1000)
    out_dir: str = Field(default="", max_length=1000)
    created_at: datetime = _stamp()
    finished_at: datetime | None = _stamp(nullable=True)


class StageState(SQLModel, table=True):
    """Where a stage of a cycle stands; the driver reads these to know what is due."""

    __tablename__ = "stage_state"
    __table_args__ = (UniqueConstraint("cycle_id", "stage"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    stage: str = Field(max_length=40)
    status: str = Field(default="pending", max_length=20)
    started_at: datetime | None = _stamp(nullable=True)
    finished_at: datetime | None = _stamp(nullable=True)
    summary_json: str = Field(default="{}", sa_type=Text)
    flow_run_id: str = Field(default="", max_length=36, description="The Prefect flow run that last ran the stage.")
    flow_run_name: str = Field(default="", max_length=200, description="…and its name, e.g. 2024 target setting.")


class Submission(SQLModel, table=True):
    """A workbook received for a stage; a resubmission supersedes the earlier one but keeps it."""

    __table_args__ = (UniqueConstraint("cycle_id", "kind", "scope", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    kind: str = Field(max_length=40)
    scope: str = Field(max_length=80, description="department code, quarter or '*' the file covers")
    source_name: str = Field(max_length=500)
    sha256: str = Field(max_length=64, description="digest of the submitted cell values, not of the file's bytes")
    rows: int = 0
    current: bool = True
    received_at: datetime = _stamp()


class Indicator(SQLModel, table=True):
    """三级指标 of a project's performance target for one cycle."""

    __table_args__ = (UniqueConstraint("cycle_id", "project_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id")  # the unique key's first column serves its lookups
    project_id: int = Field(foreign_key="project.id", index=True)
    level1: str = Field(max_length=10)
    level2: str = Field(max_length=20)
    name: str = Field(max_length=300)
    operator: str = Field(max_length=4)
    target_value: Decimal | None = Field(default=None, sa_type=Numeric(20, 4), nullable=True)
    target_text: str = Field(default="", max_length=300)
    unit: str = Field(default="", max_length=40)
    weight: Decimal | None = Field(default=None, sa_type=Numeric(7, 2), nullable=True)
    actual: Decimal | None = Field(default=None, sa_type=Numeric(20, 4), nullable=True)
    achievement: str = Field(default="", max_length=10)


class TargetReview(SQLModel, table=True):
    """The completeness check and approval state of one project's targets."""

    __tablename__ = "target_review"
    __table_args__ = (UniqueConstraint("cycle_id", "project_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    status: str = Field(max_length=20, description="missing | returned | submitted | approved")
    reasons: str = Field(default="", sa_type=Text)
    reviewed_at: datetime = _stamp()


class ExAnteAssessment(SQLModel, table=True):
    """The panel's five-dimension score of a new/extended major project and the cut it implies."""

    __tablename__ = "ex_ante_assessment"
    __table_args__ = (UniqueConstraint("cycle_id", "project_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    project_id: int = Field(foreign_key="project.id")
    scores_json: str = Field(default="{}", sa_type=Text)
    total: Decimal | None = _score()
    conclusion: str = Field(default="", max_length=20)
    request_fen: int = _money()
    proposed_cut_fen: int = _money()
    cut_fen: int = _money()
    comment: str = Field(default="", sa_type=Text)
    assessor: str = Field(default="", max_length=100)


class MonitoringRecord(SQLModel, table=True):
    """A project's quarter: cumulative spending, target progress and the resulting lights."""

    __tablename__ = "monitoring_record"
    __table_args__ = (UniqueConstraint("cycle_id", "project_id", "quarter"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id")  # the unique key's first column serves its lookups
    project_id: int = Field(foreign_key="project.id", index=True)
    quarter: str = Field(max_length=2)
    spent_fen: int = _money()
    target_progress: Decimal = Field(sa_type=Numeric(7, 2))
    likelihood: str = Field(max_length=10)
    reason: str = Field(default="", sa_type=Text)
    execution_progress: Decimal | None = _score()
    execution_light: str = Field(default="", max_length=6)
    target_light: str = Field(default="", max_length=6)
    light: str = Field(default="", max_length=6)


class DepartmentLight(SQLModel, table=True):
    """A department's overall light for a quarter, from its aggregates."""

    __tablename__ = "department_light"
    __table_args__ = (UniqueConstraint("cycle_id", "department_id", "quarter"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    quarter: str = Field(max_length=2)
    budget_fen: int = _money()
    spent_fen: int = _money()
    execution_progress: Decimal | None = _score()
    target_progress: Decimal | None = _score()
    execution_light: str = Field(max_length=6)
    target_light: str = Field(max_length=6)
    light: str = Field(max_length=6)


class WarningNotice(SQLModel, table=True):
    """预警通知书 (red) or 提醒 (yellow) to a department for a quarter, with its response deadline."""

    __tablename__ = "warning_notice"
    __table_args__ = (UniqueConstraint("cycle_id", "department_id", "quarter"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    quarter: str = Field(max_length=2)
    level: str = Field(max_length=6)
    issued_on: date
    response_due: date | None = None
    responded_on: date | None = None
    improved: bool | None = None


class Evaluation(SQLModel, table=True):
    """One score of an object: self-evaluation, department evaluation, review or key fiscal evaluation."""

    __table_args__ = (UniqueConstraint("cycle_id", "kind", "object_type", "object_code"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id")  # the unique key's first column serves its lookups
    kind: str = Field(max_length=20, description="self | department | review | fiscal")
    object_type: str = Field(max_length=12, description="project | department | policy")
    object_code: str = Field(max_length=64)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    amount_fen: int = _money()
    score: Decimal | None = _score()
    grade: str = Field(default="", max_length=4)
    execution_rate: Decimal | None = Field(default=None, sa_type=Numeric(9, 4), nullable=True)
    claimed_score: Decimal | None = _score()
    flagged: bool = False
    flag_reason: str = Field(default="", sa_type=Text)
    evaluator: str = Field(default="", max_length=100)
    findings: str = Field(default="", sa_type=Text)
    breakdown_json: str = Field(default="{}", sa_type=Text)


class Publication(SQLModel, table=True):
    """谁评价、谁公开: whether, when and where a department published its self-evaluation report.

    Its deadline goes with the department's 决算 publication when the day its 决算 was approved is known
    (`final_accounts_on`), else the policy's day; a report of publication is accepted after the cycle closed."""

    __table_args__ = (UniqueConstraint("cycle_id", "department_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    due_on: date | None = None
    published_on: date | None = None
    url: str = Field(default="", max_length=1000)
    final_accounts_on: date | None = None
    reported_by: str = Field(default="", max_length=100)
    reported_at: datetime | None = _stamp(nullable=True)


class ResultPublication(SQLModel, table=True):
    """The bureau's own publication of the cycle's key-evaluation results (the evaluator publishes)."""

    __tablename__ = "result_publication"
    __table_args__ = (UniqueConstraint("cycle_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id")
    due_on: date | None = None
    published_on: date | None = None
    url: str = Field(default="", max_length=1000)
    reported_by: str = Field(default="", max_length=100)
    reported_at: datetime | None = _stamp(nullable=True)


class Sample(SQLModel, table=True):
    """A sampling draw, reproducible from its seed, population hash, algorithm version and the departments it
    put first for their findings still open (`open_findings`, codes separated by commas)."""

    __table_args__ = (UniqueConstraint("cycle_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id")
    seed: str = Field(default="", max_length=64)
    population_hash: str = Field(default="", max_length=64)
    algorithm: str = Field(default="", max_length=40)
    open_findings: str = Field(default="", sa_type=Text)
    ratio: Decimal | None = Field(default=None, sa_type=Numeric(5, 4), nullable=True)
    size: int = 0
    imported: bool = False


class SampleMember(SQLModel, table=True):
    """A department drawn in a sample; tier 0 = never sampled before."""

    __tablename__ = "sample_member"
    __table_args__ = (UniqueConstraint("sample_id", "department_id"),)
    id: int | None = Field(default=None, primary_key=True)
    sample_id: int = Field(foreign_key="sample.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    tier: int = 0


class Selection(SQLModel, table=True):
    """An object selected for key fiscal evaluation, with the amount it brings in."""

    __table_args__ = (UniqueConstraint("cycle_id", "object_type", "object_code"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    object_type: str = Field(max_length=12)
    object_code: str = Field(max_length=64)
    name: str = Field(default="", max_length=300)
    amount_fen: int = _money()
    rank: int = 0
    reason: str = Field(default="", max_length=200)


class _Recommendation(SQLModel):
    """What every line of the recommendation table states: its score and grade, the cut, the amount and its one
    reason (kind and words) with the considerations behind it."""

    budget_year: int
    score: Decimal | None = _score()
    grade: str = Field(default="", max_length=4)
    cut_ratio: Decimal = Field(default=Decimal(0), sa_type=Numeric(9, 4))
    recommended_fen: int = _money()
    priority: bool = False
    reason_kind: str = Field(default="", max_length=20)
    reason: str = Field(default="", max_length=300)
    explanation: str = Field(default="", sa_type=Text)


class BudgetRecommendation(_Recommendation, table=True):
    """A project's budget-year recommendation: the original request and the ex-ante cut (base = request − cut),
    where the final score came from, the cuts considered and any approver's override."""

    __tablename__ = "budget_recommendation"
    __table_args__ = (UniqueConstraint("cycle_id", "project_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    project_id: int = Field(foreign_key="project.id")
    request_fen: int = _money()
    ex_ante_cut_fen: int = _money()
    score_source: str = Field(default="", max_length=20)
    department_grade: str = Field(default="", max_length=4)
    execution_rate: Decimal | None = Field(default=None, sa_type=Numeric(9, 4), nullable=True)
    grade_cut_ratio: Decimal = Field(default=Decimal(0), sa_type=Numeric(9, 4))
    department_cut_ratio: Decimal = Field(default=Decimal(0), sa_type=Numeric(9, 4))
    execution_cut_ratio: Decimal = Field(default=Decimal(0), sa_type=Numeric(9, 4))
    override_fen: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    override_reason: str = Field(default="", sa_type=Text)


class PolicyRecommendation(_Recommendation, table=True):
    """A key-evaluated policy's budget-year funds under its grade's consequence, and any approver's override."""

    __tablename__ = "policy_recommendation"
    __table_args__ = (UniqueConstraint("cycle_id", "policy_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    policy_id: int = Field(foreign_key="fiscal_policy.id")
    funds_fen: int = _money()
    override_fen: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    override_reason: str = Field(default="", sa_type=Text)


class DepartmentRecommendation(_Recommendation, table=True):
    """A key-evaluated department's 事业发展类 lines taken together under its overall grade's consequence: their
    original requests and, as recommended, their sum; an approver may set the department's amount instead."""

    __tablename__ = "department_recommendation"
    __table_args__ = (UniqueConstraint("cycle_id", "department_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    request_fen: int = _money()
    override_fen: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    override_reason: str = Field(default="", sa_type=Text)


class Approval(SQLModel, table=True):
    """A gate's decision: who decided what, when, on which data (its digest)."""

    __table_args__ = (UniqueConstraint("cycle_id", "gate", "subject", "level"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    gate: str = Field(max_length=40)
    subject: str = Field(default="*", max_length=80)
    level: int = 1
    status: str = Field(default="open", max_length=12, description="open | approved | rejected | returned")
    decided_by: str = Field(default="", max_length=100)
    entered_by: str = Field(
        default="",
        max_length=100,
        description="Who typed the decision in on behalf of `decided_by` (the administrator on the command line, "
        "the Prefect UI's shared account); empty when the person decided under their own sign-in.",
    )
    decided_at: datetime | None = _stamp(nullable=True)
    comment: str = Field(default="", sa_type=Text)
    data_digest: str = Field(default="", max_length=64)
    opened_at: datetime = _stamp()
    due_at: datetime | None = _stamp(nullable=True)
    flow_run_id: str = Field(
        default="", max_length=36, description="The suspended annual-cycle run waiting on this gate, if any."
    )


class Document(SQLModel, table=True):
    """A generated document: what it is, where, and the sha256 of its bytes."""

    __table_args__ = (UniqueConstraint("cycle_id", "kind", "subject"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    stage: str = Field(max_length=40)
    kind: str = Field(max_length=60)
    subject: str = Field(default="*", max_length=120)
    path: str = Field(max_length=1000)
    sha256: str = Field(max_length=64)
    created_at: datetime = _stamp()


class DocumentNumber(SQLModel, table=True):
    """A document's 发文字号 (机关代字〔年份〕序号) and 成文日期, given once, when the document is first written.

    One row per document (cycle, kind, subject); the serials of a 代字 and year run 1, 2, 3 … without gaps."""

    __tablename__ = "document_number"
    __table_args__ = (UniqueConstraint("cycle_id", "kind", "subject"), UniqueConstraint("code", "year", "serial"))
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id")  # the unique key's first column serves its lookups
    kind: str = Field(max_length=60)
    subject: str = Field(default="*", max_length=120)
    code: str = Field(max_length=20, description="机关代字, e.g. 烈财绩")
    year: int = Field(description="the year of the 成文日期, printed in 〔〕")
    serial: int
    issued_on: date
    created_at: datetime = _stamp()


class CycleLock(SQLModel, table=True):
    """Who is running a year's cycle right now: one row per year at most (the unique year is the lock).

    Keyed by year, not by cycle, because a run takes it before the cycle row exists. Written only by
    `perfcycle.locks`: inserted to acquire, its heartbeat renewed while the run lasts, deleted on release.
    """

    __tablename__ = "cycle_lock"
    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(unique=True, index=True)
    holder: str = Field(max_length=200, description="who runs it, e.g. user@host (pid 1234)")
    host: str = Field(default="", max_length=200)
    pid: int = 0
    token: str = Field(max_length=32, description="this acquisition's id: only its owner renews or releases it")
    acquired_at: datetime = _stamp()
    heartbeat_at: datetime = _stamp()


class CollectionWindow(SQLModel, table=True):
    """A stage's collection of one department form (targets, a quarter's monitoring, self-evaluation).

    Open until every department sent its form or the deadline passed (the stage closes it then), or until
    the coordinator closes it; `folder` is the submissions folder the stage imports from.
    """

    __tablename__ = "collection_window"
    __table_args__ = (UniqueConstraint("cycle_id", "stage"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    stage: str = Field(max_length=40)
    form: str = Field(max_length=40, description="targets | monitoring | self_evaluation")
    quarter: str = Field(default="", max_length=2)
    opens_on: date
    due_on: date
    status: str = Field(default="open", max_length=12, description="open | closed")
    closed_by: str = Field(default="", max_length=100)
    close_reason: str = Field(default="", max_length=20, description="all_received | deadline | coordinator")
    finished_at: datetime | None = _stamp(nullable=True)
    folder: str = Field(default="", max_length=1000)


class WindowEntry(SQLModel, table=True):
    """One department's place in a window: pending, received, late, missing or returned (退回修改)."""

    __tablename__ = "window_entry"
    __table_args__ = (UniqueConstraint("window_id", "department_id"),)
    id: int | None = Field(default=None, primary_key=True)
    window_id: int = Field(foreign_key="collection_window.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    status: str = Field(default="pending", max_length=12)
    due_on: date
    returned_on: date | None = None
    received_at: datetime | None = _stamp(nullable=True)
    versions: int = 0


class WindowReceipt(SQLModel, table=True):
    """Every version a department submitted to a window; the latest accepted is current, the rest stay as history.

    A form found in the folder that could not be imported is kept as a refused version with its problems."""

    __tablename__ = "window_receipt"
    __table_args__ = (UniqueConstraint("window_id", "department_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    window_id: int = Field(foreign_key="collection_window.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    version: int
    source_name: str = Field(max_length=500)
    path: str = Field(max_length=1000, description="where the file is kept now (the folder, or its history)")
    sha256: str = Field(max_length=64, description="digest of the file's bytes")
    rows: int = 0
    submitted_by: str = Field(default="", max_length=100)
    current: bool = True
    received_at: datetime = _stamp()
    status: str = Field(default="accepted", max_length=12, description="accepted | refused (not imported)")
    problems: str = Field(default="", sa_type=Text, description="why a refused version was not imported, one a line")
    replaces: int | None = Field(default=None, description="the version that was current when this one came in")


class WarningResponse(SQLModel, table=True):
    """A department's answer to its 预警通知书: the causes (原因分析) and what it does about them (整改措施)."""

    __tablename__ = "warning_response"
    __table_args__ = (UniqueConstraint("notice_id"),)
    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="warning_notice.id")
    cause: str = Field(sa_type=Text)
    measures: str = Field(sa_type=Text)
    responded_by: str = Field(default="", max_length=100)
    versions: int = 1
    received_at: datetime = _stamp()


class WorkEvent(SQLModel, table=True):
    """工作记事: an event of the year the coordinator records because no other record holds it (a training
    held, a ranking in the city's assessment, a press article), so the annual report can state it."""

    __tablename__ = "work_event"
    __table_args__ = (UniqueConstraint("year", "kind", "month", "day", "title"),)
    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    kind: str = Field(max_length=10, description="培训 | 考核 | 宣传")
    month: int | None = None
    day: int | None = None
    title: str = Field(max_length=300)
    detail: str = Field(default="", max_length=300, description="考核: the group ranked in; 宣传: the media")
    rank: int | None = None
    source: str = Field(default="", max_length=500, description="the workbook it came from, or the command")
    recorded_by: str = Field(default="", max_length=100)
    recorded_at: datetime = _stamp()


class Finding(SQLModel, table=True):
    """问题整改: something a department was asked to fix, from one source, followed until it is verified.

    `key` names the finding within its source (e.g. ``Q2:101`` for a red light, ``project:LS-01`` for a review
    flag, ``project:LS-01:2`` for a key evaluation's second finding line), so registering again changes nothing.
    `status` is open → answered (the department's measures) → fixed / unfixed (the coordinator's verification);
    an open finding past its deadline reads as overdue (`perfcycle.rules.findings.finding_state`)."""

    __table_args__ = (UniqueConstraint("cycle_id", "source", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id")  # the unique key's first column serves its lookups
    source: str = Field(
        max_length=20, description="red_light | review_flag | inflated_claim | key_evaluation | ex_ante"
    )
    key: str = Field(max_length=120)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    object_type: str = Field(default="", max_length=12, description="project | department | policy")
    object_code: str = Field(default="", max_length=64)
    object_name: str = Field(default="", max_length=300)
    text: str = Field(default="", sa_type=Text)
    registered_on: date
    due_on: date
    status: str = Field(default="open", max_length=12, description="open | answered | fixed | unfixed")
    measures: str = Field(default="", sa_type=Text)
    answers: int = 0
    answered_by: str = Field(default="", max_length=100)
    answered_at: datetime | None = _stamp(nullable=True)
    verified_by: str = Field(default="", max_length=100)
    verified_at: datetime | None = _stamp(nullable=True)
    comment: str = Field(default="", sa_type=Text)


class BudgetAdoption(SQLModel, table=True):
    """采纳情况: the amount the People's Congress adopted for one line of a cycle's recommendation table."""

    __tablename__ = "budget_adoption"
    __table_args__ = (UniqueConstraint("cycle_id", "project_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id")  # the unique key's first column serves its lookups
    project_id: int = Field(foreign_key="project.id")
    adopted_fen: int = _money()
    remark: str = Field(default="", sa_type=Text)
    imported_on: date | None = None  # the day the adopted budget was imported: a report dated before it cannot state it

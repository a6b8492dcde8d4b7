"""The year's policy: every number a rule needs, loaded from YAML and validated before any stage runs."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from perfcycle.dimensions import FISCAL_DIMENSIONS

Points = Annotated[Decimal, Field(ge=0, le=100)]
Ratio = Annotated[Decimal, Field(ge=0, le=1)]
QUARTERS = ("Q1", "Q2", "Q3", "Q4")
LEVELS = ("产出", "效益", "满意度")


class PolicyError(ValueError):
    """A policy file that cannot be used, with the file and the field at fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetsPolicy(_Strict):
    required_levels: list[str]
    development_extra_levels: list[str]
    development_type: str
    no_targets_reason: str


class ExAntePolicy(_Strict):
    min_request_wan: Annotated[Decimal, Field(ge=0)]
    attributes: list[str]
    dimensions: list[str] = Field(min_length=1)
    dimension_max: Annotated[Decimal, Field(gt=0)]
    support_min: Points
    adjust_min: Points

    @model_validator(mode="after")
    def _ordered(self) -> ExAntePolicy:
        if self.adjust_min > self.support_min:
            raise ValueError("adjust_min must not exceed support_min")
        return self


class MonitoringPolicy(_Strict):
    """`notice_after_days`: warnings (预警通知书 / 提醒) are dated this many days after the quarter closes."""

    time_progress: dict[str, Points]
    yellow_gap: Points
    red_gap: Points
    impossible_is_red: bool = True
    red_response_days: Annotated[int, Field(ge=1)]
    notice_after_days: Annotated[int, Field(ge=0, le=90)] = 10

    @field_validator("time_progress")
    @classmethod
    def _quarters(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if tuple(value) != QUARTERS:
            raise ValueError(f"time_progress needs exactly {', '.join(QUARTERS)} in order")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> MonitoringPolicy:
        if self.yellow_gap > self.red_gap:
            raise ValueError("yellow_gap must not exceed red_gap")
        return self


class SelfEvaluationPolicy(_Strict):
    weights: dict[str, Points]
    absent_level_goes_to: str
    qualitative: dict[str, Ratio]
    inflation_flag_points: Points

    @model_validator(mode="after")
    def _weights(self) -> SelfEvaluationPolicy:
        expected = {"预算执行", *LEVELS}
        if set(self.weights) != expected:
            raise ValueError(f"weights needs exactly {sorted(expected)}")
        if sum(self.weights.values()) != 100:
            raise ValueError("weights must add up to 100")
        if self.absent_level_goes_to not in LEVELS:
            raise ValueError(f"absent_level_goes_to must be one of {LEVELS}")
        return self


class GradeBand(_Strict):
    grade: str
    min: Points


class SamplingPolicy(_Strict):
    """`correction_days`: how long a department flagged by the review has, from the 通报, to explain and correct."""

    ratio: Annotated[Decimal, Field(gt=0, le=1)]
    coverage_target: Ratio
    algorithm: str
    review_gap_flag: Points
    correction_days: Annotated[int, Field(ge=1, le=180)] = 30


class EvaluationDimension(_Strict):
    """One 一级指标 of the key evaluation's 指标体系: its points and its 二级指标."""

    points: Annotated[Decimal, Field(gt=0, le=100)]
    indicators: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)


def _default_dimensions() -> dict[str, EvaluationDimension]:
    """The 指标体系 of 财预〔2020〕10号's framework (项目支出绩效评价指标体系框架), with our default points."""
    return {
        "决策": EvaluationDimension(points=Decimal(20), indicators=["项目立项", "绩效目标", "资金投入"]),
        "过程": EvaluationDimension(points=Decimal(20), indicators=["资金管理", "组织实施"]),
        "产出": EvaluationDimension(points=Decimal(30), indicators=["产出数量", "产出质量", "产出时效", "产出成本"]),
        "效益": EvaluationDimension(points=Decimal(30), indicators=["项目效益", "满意度"]),
    }


class FiscalEvaluationPolicy(_Strict):
    """`dimensions` is the 指标体系 the third party scores each object by: 决策, 过程, 产出 and 效益, 100 points."""

    projects: Annotated[int, Field(ge=0)]
    policies: Annotated[int, Field(ge=0)]
    departments: Annotated[int, Field(ge=0)]
    project_min_budget_wan: Annotated[Decimal, Field(ge=0)]
    lookback_cycles: Annotated[int, Field(ge=0)]
    dimensions: dict[str, EvaluationDimension] = Field(default_factory=_default_dimensions)

    @field_validator("dimensions")
    @classmethod
    def _four_dimensions(cls, value: dict[str, EvaluationDimension]) -> dict[str, EvaluationDimension]:
        if set(value) != set(FISCAL_DIMENSIONS) or len(value) != len(FISCAL_DIMENSIONS):
            raise ValueError(f"dimensions needs exactly {', '.join(FISCAL_DIMENSIONS)}")
        if sum(d.points for d in value.values()) != 100:
            raise ValueError("dimensions' points must add up to 100")
        return {name: value[name] for name in FISCAL_DIMENSIONS}  # in their order, however recorded


class BudgetPolicy(_Strict):
    """`overrides_may_exceed_request`: whether an approver may set a line above the original request."""

    grade_cut: dict[str, Ratio]
    priority_grades: list[str]
    execution_threshold: Ratio
    overrides_may_exceed_request: bool = False


class DisclosurePolicy(_Strict):
    """谁评价、谁公开: a department publishes its self-evaluation report with its 部门决算, `with_final_accounts_days`
    after its 决算 is approved when that day is known, else by `publish_by` ("MM-DD" of the year after the cycle
    year); the bureau publishes the key-evaluation results by `publish_by`."""

    publish_by: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")] = "06-30"
    with_final_accounts_days: Annotated[int, Field(ge=0, le=180)] = 20

    def due_date(self, cycle_year: int, final_accounts_on: date | None = None) -> date:
        """The day a cycle year's report is due: with the 决算 if its approval day is known, else `publish_by`."""
        if final_accounts_on is not None:
            return final_accounts_on + timedelta(days=self.with_final_accounts_days)
        month, day = (int(part) for part in self.publish_by.split("-"))
        return date(cycle_year + 1, month, day)


class RectificationPolicy(_Strict):
    """问题整改: the days a department has to answer each kind of finding with its measures, from the day the
    finding is registered (a red light's answer is its 预警整改 response, due `monitoring.red_response_days` after
    the notice), and the key-evaluation grades whose findings ask the department to act."""

    answer_days: dict[str, Annotated[int, Field(ge=1, le=365)]] = Field(
        default_factory=lambda: {"review_flag": 30, "inflated_claim": 30, "key_evaluation": 60, "ex_ante": 30}
    )
    key_evaluation_grades: list[str] = Field(default_factory=lambda: ["良", "中", "差"])

    @field_validator("answer_days")
    @classmethod
    def _sources(cls, value: dict[str, int]) -> dict[str, int]:
        from perfcycle.rules.findings import ANSWERED_BY_DAYS

        if set(value) != set(ANSWERED_BY_DAYS):
            raise ValueError(f"answer_days needs exactly {list(ANSWERED_BY_DAYS)}")
        return value


class CostPilotPolicy(_Strict):
    """`budget_year_offset`: the pilot's analysis feeds the budget prepared in the cycle year (cycle year + 1)."""

    project_code: str | None = None
    budget_year_offset: Annotated[int, Field(ge=0, le=5)] = 1

    @field_validator("project_code")
    @classmethod
    def _a_code(cls, value: str | None) -> str | None:
        from perfcycle.rules.identifiers import code_problem  # the rules read this module's policies

        reason = code_problem(value) if value is not None else None
        if reason is not None:
            raise ValueError(reason)
        return value


APPROVAL_GATES = (
    "targets",
    "ex_ante_conclusions",
    "sample",
    "key_evaluation_selection",
    "key_evaluation_reports",
    "budget_table",
    "annual_report",
)


class ApprovalLevelPolicy(_Strict):
    """Who may decide one level of a gate, and in how many days."""

    approvers: list[str] = Field(min_length=1)
    response_days: Annotated[int, Field(ge=1)] = 5


class ContactPolicy(_Strict):
    """Where an approver's reminders go (an e-mail address and/or a webhook URL)."""

    email: str = ""
    webhook: str = ""


class ApprovalsPolicy(_Strict):
    """Approver lists per gate and level; without them no one may decide a gate from the command line."""

    response_days: Annotated[int, Field(ge=1)] = 5
    gates: dict[str, dict[Annotated[int, Field(ge=1, le=9)], ApprovalLevelPolicy]] = Field(default_factory=dict)
    contacts: dict[str, ContactPolicy] = Field(default_factory=dict)

    @field_validator("gates")
    @classmethod
    def _known_gates(
        cls, value: dict[str, dict[int, ApprovalLevelPolicy]]
    ) -> dict[str, dict[int, ApprovalLevelPolicy]]:
        unknown = sorted(set(value) - set(APPROVAL_GATES))
        if unknown:
            raise ValueError(f"unknown gate(s) {unknown}; gates are {list(APPROVAL_GATES)}")
        return value

    def level(self, gate: str, level: int) -> ApprovalLevelPolicy | None:
        return self.gates.get(gate, {}).get(level)

    def levels(self, gate: str) -> list[int]:
        return sorted(self.gates.get(gate, {}))

    def response_days_for(self, gate: str, level: int) -> int:
        rule = self.level(gate, level)
        return rule.response_days if rule else self.response_days


class RemindersPolicy(_Strict):
    """When reminders go out: T-n before the deadline, on the day, daily when overdue, escalation from T+n."""

    before_days: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [3, 1])
    on_the_day: bool = True
    overdue_daily: bool = True
    escalate_after_days: Annotated[int, Field(ge=1)] = 3
    escalation_every_days: Annotated[int, Field(ge=1)] = 1


FORMS = ("targets", "monitoring", "self_evaluation")
QUARTER_ENDS = {"Q1": (3, 31), "Q2": (6, 30), "Q3": (9, 30), "Q4": (12, 31)}


class CalendarPolicy(_Strict):
    """When each department form is due: "MM-DD" is a day of the cycle year, "next MM-DD" of the year after.

    `resubmission_days` is how long a department has to send its targets again after 退回修改.
    """

    targets: str = "01-31"
    monitoring: dict[str, str] = Field(
        default_factory=lambda: {"Q1": "04-10", "Q2": "07-10", "Q3": "10-10", "Q4": "next 01-10"}
    )
    self_evaluation: str = "next 03-31"
    resubmission_days: Annotated[int, Field(ge=1, le=90)] = 5

    @field_validator("targets", "self_evaluation")
    @classmethod
    def _deadline(cls, value: str) -> str:
        from perfcycle.rules.deadlines import parse_deadline

        parse_deadline(value)
        return value

    @field_validator("monitoring")
    @classmethod
    def _quarters(cls, value: dict[str, str]) -> dict[str, str]:
        from perfcycle.rules.deadlines import deadline_on

        if tuple(value) != QUARTERS:
            raise ValueError(f"monitoring needs exactly {', '.join(QUARTERS)} in order")
        for quarter, text in value.items():
            due = deadline_on(text, 2000)  # raises ValueError naming the text at fault
            month, day = QUARTER_ENDS[quarter]
            if due <= date(2000, month, day):
                raise ValueError(f"{quarter} is due {text!r}, not after the quarter ends ({month:02d}-{day:02d})")
        return value

    @model_validator(mode="after")
    def _after_the_year(self) -> CalendarPolicy:
        from perfcycle.rules.deadlines import deadline_on

        if deadline_on(self.self_evaluation, 2000) <= date(2000, 12, 31):
            raise ValueError(f"self_evaluation is due {self.self_evaluation!r}: it must fall in the next year")
        return self

    def deadline(self, form: str, quarter: str | None, cycle_year: int) -> date:
        """The day a department's form of `cycle_year` is due."""
        from perfcycle.rules.deadlines import deadline_on

        if form == "monitoring":
            if quarter not in self.monitoring:
                raise PolicyError(f"季度应为 {'、'.join(QUARTERS)} 之一，不是 {quarter!r}")
            return deadline_on(self.monitoring[quarter], cycle_year)
        if form not in FORMS:
            raise PolicyError(f"未知的填报表 {form!r}（应为 {'、'.join(FORMS)}）")
        return deadline_on(self.targets if form == "targets" else self.self_evaluation, cycle_year)


#: The smallest file limit a policy may set: a file no larger is within every year's limit.
LEAST_FILE_MB = 1


class ImportsPolicy(_Strict):
    """Limits on a workbook before it is read: the guard against huge, inflated (zip bomb) or endless files.

    `max_rows` counts the data rows of all the workbook's sheets together; no sheet may hold content below row
    `max_rows + 1` or right of column `max_columns` (the cells' places bound the memory a sheet takes). An entry
    of the .xlsx archive that inflates more than `max_compression_ratio` times (and beyond 1 MB) is refused, as
    is an archive whose entries add up to more than `max_uncompressed_mb` once unpacked.
    """

    max_file_mb: Annotated[int, Field(ge=LEAST_FILE_MB, le=1024)] = 50
    max_rows: Annotated[int, Field(ge=1, le=10_000_000)] = 200_000
    max_columns: Annotated[int, Field(ge=10, le=16_384)] = 30
    max_uncompressed_mb: Annotated[int, Field(ge=1, le=16_384)] = 500
    max_compression_ratio: Annotated[int, Field(ge=10, le=10_000)] = 200

    def reader_limits(self) -> dict[str, int]:
        """The keyword arguments of `perfcycle.workbooks.reader.read_workbook` / `parse_workbook`."""
        mb = 1024 * 1024
        return {
            "max_bytes": self.max_file_mb * mb,
            "max_rows": self.max_rows,
            "max_columns": self.max_columns,
            "max_uncompressed_bytes": self.max_uncompressed_mb * mb,
            "max_compression_ratio": self.max_compression_ratio,
        }


ISSUED_KINDS = (
    "绩效目标申报通知",
    "绩效目标审核意见",
    "事前绩效评估报告",
    "绩效监控预警通知书",
    "绩效监控提醒函",
    "绩效自评汇总",
    "抽查复核结果",
    "重点绩效评价报告",
    "绩效评价结果公开清单",
    "工作开展情况说明",
    "问题整改情况通报",
)
"""The kinds of .docx the bureau issues as 公文, each numbered under its 机关代字 (`DocumentsPolicy.codes`)."""

#: Each kind's 成文日期 in the year's calendar, where the stage that issues it ends (our default; `DocumentsPolicy.dated`).
DOCUMENT_DAYS = {
    "绩效目标申报通知": "01-05",
    "绩效目标审核意见": "02-15",
    "事前绩效评估报告": "02-28",
    "绩效自评汇总": "next 04-20",
    "抽查复核结果": "next 05-31",
    "重点绩效评价报告": "next 06-30",
    "绩效评价结果公开清单": "next 07-15",
    "工作开展情况说明": "next 07-31",
}

ISSUER_CODE_SUFFIX = "财"
_CODE_CHAR = re.compile("[\u4e00-\u9fffA-Za-z]")


def code_prefix(district: str) -> str:
    """The district's short name in a 机关代字: its first Chinese character or letter (烈山区 → 烈), else ""."""
    match = _CODE_CHAR.search(district)
    return match.group(0) if match else ""


class DocumentsPolicy(_Strict):
    """The 公文 frame of every document the bureau issues (GB/T 9704-2012): 版头, 附注 and 版记.

    `codes` gives each kind its 机关代字; the documents of one 代字 are numbered per year, 1, 2, 3 … without
    gaps, so kinds sharing a 代字 share its numbers. A kind not listed is numbered under the district's
    short name + 财 (烈山区 → 烈财). `letters` are the kinds issued as a 函, whose 发文机关标志 is the issuer's name
    without 文件. `mark` and `printer` default to the issuer + 文件 and the issuer + 办公室. `dated` is each kind's
    成文日期 in the year's calendar ("MM-DD" of the cycle year, "next MM-DD" of the year after): a document is dated
    the day its records give it or it is first written, never later than that day (a year run after the fact is
    dated as its calendar has it). A warning's date is its record's (`monitoring.notice_after_days`)."""

    mark: Annotated[str, Field(max_length=40)] = ""
    codes: dict[str, Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[^\s〔〕\[\]0-9]+$")]] = Field(
        default_factory=dict
    )
    letters: list[str] = Field(default_factory=list)
    dated: dict[str, str] = Field(default_factory=lambda: dict(DOCUMENT_DAYS))
    contact: Annotated[str, Field(max_length=40)] = ""
    phone: Annotated[str, Field(max_length=40)] = ""
    copy_to: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(default_factory=list)
    printer: Annotated[str, Field(max_length=60)] = ""
    departments: Annotated[str, Field(min_length=1, max_length=60)] = "区直各预算部门"
    government: Annotated[str, Field(min_length=1, max_length=60)] = "区人民政府"
    congress: Annotated[str, Field(min_length=1, max_length=60)] = "区人大常委会"

    @field_validator("codes")
    @classmethod
    def _known_code_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(ISSUED_KINDS))
        if unknown:
            raise ValueError(f"unknown document kind(s) {unknown}; kinds are {list(ISSUED_KINDS)}")
        return value

    @field_validator("dated")
    @classmethod
    def _document_days(cls, value: dict[str, str]) -> dict[str, str]:
        from perfcycle.rules.deadlines import parse_deadline

        unknown = sorted(set(value) - set(ISSUED_KINDS))
        if unknown:
            raise ValueError(f"unknown document kind(s) {unknown}; kinds are {list(ISSUED_KINDS)}")
        for text in value.values():
            parse_deadline(text)  # raises ValueError naming the text at fault
        return {**DOCUMENT_DAYS, **value}

    @field_validator("letters")
    @classmethod
    def _known_letter_kinds(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ISSUED_KINDS))
        if unknown:
            raise ValueError(f"unknown document kind(s) {unknown}; kinds are {list(ISSUED_KINDS)}")
        return value


def default_issuer(district: str) -> str:
    """The 发文机关 of a district that names none: its 财政局."""
    return f"{district.strip()}财政局"


PLACEHOLDER = "待填写"
"""Marks a value `perfcycle init` could not know (e.g. an approver's name): the district fills it in."""


class Policy(_Strict):
    """One year's rules; a cycle stores the exact text it ran with (see `as_json`).

    `district` names the district in every document; `issuer` (发文机关) signs them, by default the district's
    财政局 (a policy recorded before it existed gets that default too)."""

    year: Annotated[int, Field(ge=2000, le=2100)]
    district: Annotated[str, Field(min_length=1, max_length=50)]
    issuer: Annotated[str, Field(min_length=1, max_length=100)]
    budget_year_offset: Annotated[int, Field(ge=1, le=5)]
    targets: TargetsPolicy
    ex_ante: ExAntePolicy
    monitoring: MonitoringPolicy
    self_evaluation: SelfEvaluationPolicy
    grades: list[GradeBand] = Field(min_length=1)
    sampling: SamplingPolicy
    fiscal_evaluation: FiscalEvaluationPolicy
    budget: BudgetPolicy
    disclosure: DisclosurePolicy = DisclosurePolicy()
    rectification: RectificationPolicy = RectificationPolicy()
    cost_pilot: CostPilotPolicy = CostPilotPolicy()
    approvals: ApprovalsPolicy = ApprovalsPolicy()
    reminders: RemindersPolicy = RemindersPolicy()
    imports: ImportsPolicy = ImportsPolicy()
    calendar: CalendarPolicy = CalendarPolicy()
    documents: DocumentsPolicy = DocumentsPolicy()

    @model_validator(mode="before")
    @classmethod
    def _default_issuer(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("issuer") and isinstance(data.get("district"), str):
            return {**data, "issuer": default_issuer(data["district"])}
        return data

    @field_validator("district", "issuer")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _grades(self) -> Policy:
        mins = [band.min for band in self.grades]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("grades must be listed highest first with distinct minimums")
        if mins[-1] != 0:
            raise ValueError("the lowest grade must start at 0")
        names = [band.grade for band in self.grades]
        missing = set(names) - set(self.budget.grade_cut)
        if missing:
            raise ValueError(f"budget.grade_cut has no ratio for grade(s) {sorted(missing)}")
        unknown = set(self.rectification.key_evaluation_grades) - set(names)
        if unknown:
            raise ValueError(f"rectification.key_evaluation_grades names unknown grade(s) {sorted(unknown)}")
        return self

    @property
    def budget_year(self) -> int:
        return self.year + self.budget_year_offset

    def document_code(self, kind: str) -> str:
        """The 机关代字 a kind of document is numbered under."""
        return self.documents.codes.get(kind) or f"{code_prefix(self.district)}{ISSUER_CODE_SUFFIX}"

    def document_day(self, kind: str) -> date | None:
        """The latest 成文日期 of a kind of document of this year in the calendar; None for a kind dated by its records."""
        from perfcycle.rules.deadlines import deadline_on

        text = self.documents.dated.get(kind)
        return deadline_on(text, self.year) if text else None

    def is_letter(self, kind: str) -> bool:
        """Whether a kind is issued as a 函 (信函格式)."""
        return kind in self.documents.letters

    def document_mark(self, kind: str) -> str:
        """The 发文机关标志 (红头) of a kind: the issuer's name alone for a 函, else the 文件 mark."""
        if self.is_letter(kind):
            return self.issuer
        return self.documents.mark or f"{self.issuer}文件"

    def printer(self) -> str:
        """The 印发机关 of the 版记."""
        return self.documents.printer or f"{self.issuer}办公室"

    def placeholders(self) -> list[str]:
        """The approver levels and the 附注 contact still marked 待填写 (what `perfcycle init` was not told), in words."""
        levels = sorted(
            {
                level
                for levels in self.approvals.gates.values()
                for level, rule in levels.items()
                if any(PLACEHOLDER in name for name in rule.approvers)
            }
        )
        named = [f"第{level}级审批人" for level in levels]
        return named + (["附注联系人"] if PLACEHOLDER in self.documents.contact else [])

    def as_json(self) -> str:
        """Canonical text of the policy, stored with the cycle so a run can be explained later."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)

    def digest(self) -> str:
        return hashlib.sha256(self.as_json().encode()).hexdigest()


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"策略文件 {path} 校验失败:"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(根)"
        lines.append(f"  - {where}: {item['msg']}")
    return "\n".join(lines)


def load_policy_file(path: Path) -> Policy:
    """Load and validate one policy file; every problem is reported with its field path.

    The stages and imports of a run ask for the year's rules again and again: a file whose bytes were already
    validated gives back the same (frozen) policy without being parsed again."""
    try:
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise PolicyError(f"找不到策略文件 {path}") from exc
    return _validate_policy_file(path, content)


def parse_policy(path: Path, content: bytes) -> Policy:
    """Validate a policy file's bytes before they are written to `path` (named in every message)."""
    return _validate_policy_file(path, content)


@functools.lru_cache(maxsize=32)
def _validate_policy_file(path: Path, content: bytes) -> Policy:
    try:
        raw = yaml.safe_load(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyError(f"策略文件 {path} 不是 UTF-8 文本: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"策略文件 {path} 不是有效的 YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"策略文件 {path} 的顶层必须是映射")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(_format_errors(path, exc)) from exc


def load_policy(year: int, policy_dir: Path | None = None) -> Policy:
    """The policy for a cycle year: <policy_dir>/<year>.yaml, else the newest earlier year's file."""
    from perfcycle.settings import get_settings

    folder = policy_dir or get_settings().policy_dir
    exact = folder / f"{year}.yaml"
    if exact.exists():
        policy = load_policy_file(exact)
    else:
        earlier = sorted((int(p.stem), p) for p in folder.glob("*.yaml") if p.stem.isdigit() and int(p.stem) < year)
        if not earlier:
            raise PolicyError(
                f"{folder} 中没有 {year} 年或更早年度的策略文件；新的区县请先运行 "
                f"perfcycle init --district 区县名称 --year {year}（或用 PERFCYCLE_POLICY_DIR 指向策略文件目录）"
            )
        policy = load_policy_file(earlier[-1][1]).model_copy(update={"year": year})
    if policy.year != year:
        raise PolicyError(f"策略文件 {exact} 写的年度是 {policy.year}，不是 {year}")
    return policy


def import_limits(year: int, policy_dir: Path | None = None) -> ImportsPolicy:
    """The limits a workbook for `year` is checked against: the year's policy (`imports:`).

    Base data may be imported for a year no policy file covers yet (e.g. earlier years' history): such a
    year gets the default limits. A policy file that exists but is broken is still an error.
    """
    from perfcycle.settings import get_settings

    folder = policy_dir or get_settings().policy_dir
    if not any(covered <= year for covered in _policy_years(folder)):
        return ImportsPolicy()
    return load_policy(year, folder).imports


def _policy_years(folder: Path) -> tuple[int, ...]:
    """The years the folder's policy files are named after. Every upload asks for its year's limits: the folder
    is listed again only when its time says a file was added, renamed or removed (or it changed in the last two
    seconds, finer than a file system's clock may tell two changes apart)."""
    try:
        stamp = folder.stat().st_mtime_ns
    except OSError:
        return ()
    if time.time_ns() - stamp < 2_000_000_000:
        return _listed_years(folder)
    return _listed_years_at(folder, stamp)


def _listed_years(folder: Path) -> tuple[int, ...]:
    return tuple(int(p.stem) for p in folder.glob("*.yaml") if p.stem.isdigit())


@functools.lru_cache(maxsize=8)
def _listed_years_at(folder: Path, stamp: int) -> tuple[int, ...]:
    return _listed_years(folder)


def policy_from_json(text: str) -> Policy:
    """Rebuild the policy a cycle recorded; one this version cannot read is a PolicyError, never a traceback."""
    try:
        return Policy.model_validate_json(text)
    except ValidationError as exc:
        fields = "、".join(".".join(str(part) for part in error["loc"]) or "（整体）" for error in exc.errors())
        raise PolicyError(
            f"周期记录的年度策略无法读取（字段 {fields}）：它可能由较新版本的 perfcycle 记录，请使用该版本"
        ) from None

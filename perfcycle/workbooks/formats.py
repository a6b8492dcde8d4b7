"""The workbook formats perfcycle reads: one spec per kind, shared by the importer, the template writer,
the demo generator and docs/workbooks.md, so the three can never disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from perfcycle.dimensions import FISCAL_DIMENSIONS

CellKind = Literal["text", "code", "money", "number", "percent", "int", "year", "bool", "choice", "date"]

PROJECT_TYPES = ("机构运行保障类", "事业发展类")
PROJECT_ATTRIBUTES = ("新增", "延续", "经常性")
LEVEL1 = ("产出", "效益", "满意度")
LEVEL2 = ("数量", "质量", "时效", "成本", "经济效益", "社会效益", "生态效益", "可持续影响", "服务对象满意度")
OPERATORS = ("≥", "≤", "=", "定性")
LIKELIHOOD = ("确定能", "有可能", "完全不可能")
ACHIEVEMENT = ("达成", "部分达成", "未达成")
QUARTERS = ("Q1", "Q2", "Q3", "Q4")
YES_NO = ("是", "否")
EVALUATION_KINDS = ("自评", "部门评价", "抽查复核", "财政重点评价")
EVENT_KINDS = ("培训", "考核", "宣传")
#: The workbooks' word for each kind of evaluated object, and the key it is recorded under.
OBJECT_TYPE_KEYS = {"项目": "project", "部门": "department", "政策": "policy"}
OBJECT_TYPE_LABELS = {key: label for label, key in OBJECT_TYPE_KEYS.items()}
OBJECT_TYPES = tuple(OBJECT_TYPE_KEYS)


@dataclass(frozen=True)
class Column:
    """One column of a sheet. A `reference` column is pre-filled for the reader's eyes (a name beside its
    code): it is never imported, and a sheet without it is read all the same."""

    header: str
    field: str
    kind: CellKind
    required: bool = True
    choices: tuple[str, ...] = ()
    note: str = ""
    reference: bool = False


@dataclass(frozen=True)
class SheetSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    required: bool = True
    note: str = ""

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


@dataclass(frozen=True)
class WorkbookSpec:
    kind: str
    title: str
    sheets: tuple[SheetSpec, ...]
    per_department: bool = True
    note: str = ""
    quarterly: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def sheet(self, name: str) -> SheetSpec:
        return next(s for s in self.sheets if s.name == name)


DEPT = Column("部门编码", "department_code", "code")
PROJ = Column("项目编码", "project_code", "code")
REFERENCE_NOTE = "预填，供核对；导入时以编码为准，不读取此列"

BASE = WorkbookSpec(
    kind="base",
    title="区级预算绩效管理基础数据",
    per_department=False,
    note="一个区一个年度一本：部门、项目、财政政策，以前年度的抽查和评价记录，以及本年度的工作记事。",
    sheets=(
        SheetSpec(
            "部门",
            (
                Column("部门编码", "code", "code"),
                Column("部门名称", "name", "text"),
                Column("联系人", "contact", "text"),
                Column("联系邮箱", "email", "text"),
                Column("通知地址", "webhook", "text", required=False, note="钉钉/企业微信机器人或 webhook URL"),
                Column("部门负责人", "head", "text"),
                Column("负责人邮箱", "head_email", "text", required=False),
            ),
            key=("code",),
        ),
        SheetSpec(
            "项目",
            (
                Column("项目编码", "code", "code"),
                Column("部门编码", "department_code", "code"),
                Column("项目名称", "name", "text"),
                Column("项目类型", "type", "choice", choices=PROJECT_TYPES),
                Column("项目属性", "attribute", "choice", choices=PROJECT_ATTRIBUTES),
                Column("年度预算（万元）", "budget_wan", "money"),
                Column("预算年度申请（万元）", "request_wan", "money", note="预算年度（本年+2）申请额"),
                Column("政策相关", "policy_related", "bool"),
                Column("社会关注度高", "high_attention", "bool"),
            ),
            key=("code",),
        ),
        SheetSpec(
            "财政政策",
            (
                Column("政策编码", "code", "code"),
                Column("政策名称", "name", "text"),
                Column("主管部门编码", "department_code", "code", required=False),
                Column("政策资金（万元）", "funds_wan", "money"),
            ),
            key=("code",),
            required=False,
        ),
        SheetSpec(
            "历年抽查",
            (Column("年度", "year", "year"), Column("部门编码", "department_code", "code")),
            key=("year", "department_code"),
            required=False,
            note="以前年度抽查复核过的部门，用于轮换抽样和累计覆盖率。",
        ),
        SheetSpec(
            "历年评价",
            (
                Column("年度", "year", "year"),
                Column("评价类型", "kind", "choice", choices=EVALUATION_KINDS),
                Column("对象类型", "object_type", "choice", choices=OBJECT_TYPES),
                Column("对象编码", "object_code", "code"),
                Column("得分", "score", "number"),
            ),
            key=("year", "kind", "object_type", "object_code"),
            required=False,
            note="以前年度的评价结果；近两个周期评价过的对象不再列入重点评价建议。",
        ),
        SheetSpec(
            "工作记事",
            (
                Column("类型", "kind", "choice", choices=EVENT_KINDS),
                Column(
                    "日期", "when", "text", required=False, note="培训写月份（2024-11）；报道写发表日期（2024-08-20）"
                ),
                Column("事项", "title", "text", required=False, note="培训名称；考核内容；报道标题"),
                Column(
                    "范围或媒体", "detail", "text", required=False, note="考核的排名范围（三区一县）；报道的发表媒体"
                ),
                Column("名次", "rank", "int", required=False, note="考核名次"),
            ),
            required=False,
            note="本年度的培训、上级综合考核排名和宣传报道：年度说明据此表述，没有记事的事项不写入说明。",
        ),
    ),
)

TARGETS = WorkbookSpec(
    kind="targets",
    title="项目绩效目标申报表",
    note="谁申请资金，谁设置目标：部门为每个项目填报三级指标。",
    sheets=(
        SheetSpec(
            "绩效指标",
            (
                DEPT,
                PROJ,
                Column("一级指标", "level1", "choice", choices=LEVEL1),
                Column("二级指标", "level2", "choice", choices=LEVEL2),
                Column("三级指标", "name", "text"),
                Column("运算符", "operator", "choice", choices=OPERATORS),
                Column("目标值", "target", "text", required=False, note="定量指标填数字；定性指标填文字"),
                Column("计量单位", "unit", "text", required=False),
                Column("权重", "weight", "number", required=False),
            ),
            key=("project_code", "name"),
        ),
    ),
)

MONITORING = WorkbookSpec(
    kind="monitoring",
    title="绩效运行监控表（季度）",
    quarterly=True,
    note="每季度末填报：累计支出和绩效目标完成进度（双监控）。",
    sheets=(
        SheetSpec(
            "项目监控",
            (
                DEPT,
                PROJ,
                Column("季度", "quarter", "choice", choices=QUARTERS),
                Column("累计支出（万元）", "spent_wan", "money"),
                Column("目标完成进度（%）", "target_progress", "percent"),
                Column("完成可能性", "likelihood", "choice", choices=LIKELIHOOD),
                Column("偏差原因", "reason", "text", required=False),
            ),
            key=("project_code", "quarter"),
        ),
    ),
)

SELF_EVALUATION = WorkbookSpec(
    kind="self_evaluation",
    title="绩效自评表",
    note="年度结束后填报：每个指标的实际完成值、自评得分、部门评价结果和自评报告公开日期。",
    sheets=(
        SheetSpec(
            "指标完成",
            (
                DEPT,
                PROJ,
                Column("三级指标", "name", "text"),
                Column("实际值", "actual", "number", required=False, note="定量指标必填"),
                Column("完成情况", "achievement", "choice", required=False, choices=ACHIEVEMENT, note="定性指标必填"),
            ),
            key=("project_code", "name"),
        ),
        SheetSpec(
            "项目自评",
            (
                DEPT,
                PROJ,
                Column("自评得分", "claimed_score", "number"),
                Column("自评说明", "remark", "text", required=False),
            ),
            key=("project_code",),
        ),
        SheetSpec(
            "部门自评",
            (
                DEPT,
                Column("部门整体自评得分", "claimed_score", "number"),
                Column("部门评价项目编码", "evaluated_project_code", "code"),
                Column("部门评价得分", "department_evaluation_score", "number"),
                Column("自评报告公开日期", "published_on", "date", required=False),
            ),
            key=("department_code",),
        ),
    ),
)

PANEL_SCORES = WorkbookSpec(
    kind="panel_scores",
    title="事前绩效评估评分表",
    per_department=False,
    note="事前评估专家组对每个评估项目五个维度打分（每项满分20分）并提出压减建议。",
    sheets=(
        SheetSpec(
            "评估评分",
            (
                Column("部门名称", "department_name", "text", required=False, note=REFERENCE_NOTE, reference=True),
                PROJ,
                Column("项目名称", "project_name", "text", required=False, note=REFERENCE_NOTE, reference=True),
                Column("立项必要性", "necessity", "number"),
                Column("投入经济性", "economy", "number"),
                Column("绩效目标合理性", "targets", "number"),
                Column("实施方案可行性", "feasibility", "number"),
                Column("筹资合规性", "compliance", "number"),
                Column("建议压减（万元）", "proposed_cut_wan", "money"),
                Column("评估意见", "comment", "text", required=False),
                Column("评估人", "assessor", "text"),
            ),
            key=("project_code",),
        ),
    ),
)

REVIEW_SCORES = WorkbookSpec(
    kind="review_scores",
    title="抽查复核评分表",
    per_department=False,
    note="复核组对抽中部门的项目重新打分。",
    sheets=(
        SheetSpec(
            "复核评分",
            (
                DEPT,
                Column("部门名称", "department_name", "text", required=False, note=REFERENCE_NOTE, reference=True),
                PROJ,
                Column("项目名称", "project_name", "text", required=False, note=REFERENCE_NOTE, reference=True),
                Column("复核得分", "score", "number"),
                Column("复核意见", "comment", "text", required=False),
                Column("复核人", "reviewer", "text"),
            ),
            key=("project_code",),
        ),
    ),
)

# The fields of the score columns of the key evaluation's 一级指标.
FISCAL_DIMENSION_FIELDS = dict(zip(FISCAL_DIMENSIONS, ("decision", "process", "output", "benefit"), strict=True))
DIMENSION_NOTE = "按策略的指标体系打分（不超过该项分值）；填写时四项都填，其和等于得分"

THIRD_PARTY_SCORES = WorkbookSpec(
    kind="third_party_scores",
    title="财政重点评价评分表",
    per_department=False,
    note="第三方机构对每个重点评价对象打分并写出主要发现。",
    sheets=(
        SheetSpec(
            "重点评价",
            (
                Column("对象类型", "object_type", "choice", choices=OBJECT_TYPES),
                Column("对象编码", "object_code", "code"),
                Column("对象名称", "object_name", "text", required=False, note=REFERENCE_NOTE, reference=True),
                Column("得分", "score", "number"),
                *(
                    Column(f"{name}得分", field, "number", required=False, note=DIMENSION_NOTE)
                    for name, field in FISCAL_DIMENSION_FIELDS.items()
                ),
                Column("主要发现", "findings", "text"),
                Column("评价机构", "evaluator", "text"),
            ),
            key=("object_type", "object_code"),
        ),
    ),
)

ADOPTED_BUDGET = WorkbookSpec(
    kind="adopted_budget",
    title="人大批准预算表",
    per_department=False,
    note="人民代表大会批准预算后，财政局按预算安排建议表逐个项目填写批准的金额（未安排的填 0），"
    "与建议比较得出采纳情况（采纳 / 调整 / 未采纳）。",
    sheets=(
        SheetSpec(
            "批准预算",
            (
                PROJ,
                Column("项目名称", "project_name", "text", required=False, note=REFERENCE_NOTE, reference=True),
                Column(
                    "建议安排（万元）",
                    "recommended_wan",
                    "money",
                    required=False,
                    note="预填审批通过的建议金额，供核对；导入时不读取此列",
                    reference=True,
                ),
                Column("批准金额（万元）", "adopted_wan", "money"),
                Column("说明", "remark", "text", required=False),
            ),
            key=("project_code",),
        ),
    ),
)

SPECS: dict[str, WorkbookSpec] = {
    spec.kind: spec
    for spec in (
        BASE,
        TARGETS,
        MONITORING,
        SELF_EVALUATION,
        PANEL_SCORES,
        REVIEW_SCORES,
        THIRD_PARTY_SCORES,
        ADOPTED_BUDGET,
    )
}
#: Workbooks imported by a command of their own, never from the submissions folder.
OWN_COMMAND = {
    "base": "`perfcycle import <文件> --year <年度>`，或 `perfcycle run --data <文件>`",
    "adopted_budget": "`perfcycle adoption import <文件> --year <年度>`（评价年度，不是预算年度）",
}


def spec_for(kind: str) -> WorkbookSpec:
    """The format of one workbook kind; unknown kinds list the known ones."""
    try:
        return SPECS[kind]
    except KeyError:
        raise KeyError(f"未知的表格类型 {kind!r}；可用: {', '.join(SPECS)}") from None


def header_mismatch(letter: str, found: str, expected: str) -> str:
    """Why column `letter`'s header `found` is not `expected`, naming any character a person cannot see
    (U+200B, a BOM …): two headers that look identical otherwise leave nothing to correct."""
    from perfcycle.rules.identifiers import invisible_chars, without_invisible  # the rules and the policy they
    # read are not imported by a reading process for a header that is right (its start is on a stage's clock)

    hidden = invisible_chars(found)
    if hidden:
        return (
            f"{letter} 列的列名「{without_invisible(found)}」含有不可见字符 {'、'.join(hidden)}，应为「{expected}」："
            "请删除该字符或重新输入列名"
        )
    return f"{letter} 列的列名「{found}」不符合格式，应为「{expected}」"


def detect_kind(sheet_names: list[str]) -> str | None:
    """Which kind a workbook is, from its sheet names (the first required sheet decides)."""
    names = set(sheet_names)
    for spec in SPECS.values():
        required = {s.name for s in spec.sheets if s.required}
        if required and required <= names:
            return spec.kind
    return None

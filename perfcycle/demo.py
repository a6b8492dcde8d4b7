"""The demo district 烈山区: its base data and every submission of one cycle, generated deterministically.

Size "S" is the seed district (54 departments, about 650 projects). Running the cycle's own rules on
its workbooks reproduces the figures of 烈山区's 2024 report (关于烈山区2024年区级预算绩效管理工作开展情况的说明):

- 事前绩效评估: 4 units, 10 projects, 16904.55 万元 assessed, 2090.55 万元 cut;
- 双监控: 54 departments monitored every quarter;
- 抽查复核: 11 departments (ratio 20 %), cumulative coverage 33/54 = 61.1 % (≥ 60 %);
- 财政重点评价: 9 projects + 1 policy + 2 departments, 160491.47 万元;
- 成本预算绩效管理试点: 区机关服务中心公车运行, 363 万元;
- 工作记事 (the base workbook's events): second of 三区一县 in the city's assessment, trainings in 11月 and
  12月, the 8月20日 articles in 安徽经济报 and 淮北日报.

The generator checks every one of these figures with the rule functions themselves and refuses to
write a district that does not reproduce them. Sizes "M" and "L" are the same generator with more
(synthetic) departments, for benchmarks; there the seed figures are not required.

Everything is drawn from `random.Random` instances seeded by fixed strings (one per department and
purpose, so a change in one place does not reshuffle the rest); the wall clock is never read.
Contacts, e-mail addresses (domain ``.invalid``), persons and evaluators are fictitious. The demo runs with
its own policy (`perfcycle.settings.DEMO_POLICY_DIR`): 烈山区's name, approvers and cost pilot are in no other
district's.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

from perfcycle.money import FEN_PER_WAN, wan_to_fen
from perfcycle.policy import Policy, load_policy
from perfcycle.rules.ex_ante import ex_ante_conclusion, ex_ante_cut, ex_ante_total, needs_ex_ante
from perfcycle.rules.lights import RED, ProjectQuarter, department_light
from perfcycle.rules.precision import execution_rate
from perfcycle.rules.sampling import cumulative_coverage, default_seed, draw_sample, population_hash
from perfcycle.rules.scoring import IndicatorInput, grade_for, project_score, weighted_score
from perfcycle.rules.selection import (
    DEPARTMENT,
    POLICY,
    PROJECT,
    ProjectCandidate,
    SelectedObject,
    SimpleCandidate,
    propose_department_evaluation,
    propose_selection,
    selection_total,
)
from perfcycle.rules.targets import TargetIndicator, check_targets
from perfcycle.settings import DEMO_POLICY_DIR
from perfcycle.workbooks.formats import (
    BASE,
    MONITORING,
    OBJECT_TYPE_KEYS,
    OBJECT_TYPE_LABELS,
    PANEL_SCORES,
    REVIEW_SCORES,
    SELF_EVALUATION,
    TARGETS,
    THIRD_PARTY_SCORES,
)
from perfcycle.workbooks.writer import write_workbook

DISTRICT = "烈山区"
SEED = "perfcycle-demo-烈山区-v1"
SIZES: dict[str, tuple[int, int | None]] = {"S": (54, None), "M": (500, 20), "L": (3000, 33)}

# The figures of the seed report that size "S" must reproduce.
SEED_EX_ANTE_UNITS = 4
SEED_EX_ANTE_PROJECTS = 10
SEED_EX_ANTE_REQUEST_WAN = Decimal("16904.55")
SEED_EX_ANTE_CUT_WAN = Decimal("2090.55")
SEED_SAMPLED = 11
SEED_SELECTION_WAN = Decimal("160491.47")
SEED_SELECTION_COUNTS = {PROJECT: 9, POLICY: 1, DEPARTMENT: 2}
COST_PILOT_BUDGET_WAN = Decimal("363.00")

JG = "机构运行保障类"
SY = "事业发展类"
NEW, CONTINUING, RECURRING = "新增", "延续", "经常性"
FISCAL = "财政重点评价"
QUARTERS = ("Q1", "Q2", "Q3", "Q4")
TIME_PROGRESS = {"Q1": 25, "Q2": 50, "Q3": 75, "Q4": 100}

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


# ----------------------------------------------------------------------------------------------------
# The in-memory district
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoDepartment:
    code: str
    name: str
    contact: str
    email: str
    webhook: str
    head: str
    head_email: str


@dataclass(frozen=True, slots=True)
class DemoProject:
    code: str
    department_code: str
    name: str
    type: str
    attribute: str
    budget_fen: int
    request_fen: int
    policy_related: bool
    high_attention: bool


@dataclass(frozen=True, slots=True)
class DemoPolicy:
    code: str
    name: str
    department_code: str
    funds_fen: int


@dataclass(frozen=True, slots=True)
class SampleRecord:
    year: int
    department_code: str


@dataclass(frozen=True, slots=True)
class EvaluationRecord:
    year: int
    kind: str
    object_type: str  # 项目 / 部门 / 政策, as in the workbook
    object_code: str
    score: Decimal


@dataclass(frozen=True, slots=True)
class Indicator:
    department_code: str
    project_code: str
    level1: str
    level2: str
    name: str
    operator: str
    target: str
    unit: str
    weight: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MonitoringRecord:
    department_code: str
    project_code: str
    quarter: str
    spent_fen: int
    target_progress: Decimal
    likelihood: str
    reason: str


@dataclass(frozen=True, slots=True)
class IndicatorActual:
    department_code: str
    project_code: str
    name: str
    actual: Decimal | None
    achievement: str


@dataclass(frozen=True, slots=True)
class ProjectSelfEvaluation:
    department_code: str
    project_code: str
    claimed_score: Decimal
    remark: str


@dataclass(frozen=True, slots=True)
class DepartmentSelfEvaluation:
    department_code: str
    claimed_score: Decimal
    evaluated_project_code: str
    department_evaluation_score: Decimal
    published_on: date | None


@dataclass(frozen=True, slots=True)
class PanelScore:
    project_code: str
    necessity: Decimal
    economy: Decimal
    targets: Decimal
    feasibility: Decimal
    compliance: Decimal
    proposed_cut_fen: int
    comment: str
    assessor: str


@dataclass(frozen=True, slots=True)
class ReviewScore:
    department_code: str
    department_name: str
    project_code: str
    project_name: str
    score: Decimal
    comment: str
    reviewer: str


@dataclass(frozen=True, slots=True)
class ThirdPartyScore:
    object_type: str  # 项目 / 部门 / 政策
    object_code: str
    object_name: str
    score: Decimal
    decision: Decimal  # the 指标体系's 决策 / 过程 / 产出 / 效益 scores, adding up to `score`
    process: Decimal
    output: Decimal
    benefit: Decimal
    findings: str
    evaluator: str


@dataclass(frozen=True)
class DemoFacts:
    """What the rules make of the district: the figures the report states and the notable objects."""

    ex_ante_project_codes: tuple[str, ...]
    ex_ante_department_codes: tuple[str, ...]
    ex_ante_request_fen: int
    ex_ante_cut_fen: int
    sampled_department_codes: tuple[str, ...]
    sample_seed: str
    cumulative_coverage: Decimal
    selected: tuple[tuple[str, str, int], ...]  # (object_type, code, amount_fen), rule order
    selection_total_fen: int
    cost_pilot_project_code: str
    incomplete_target_project_codes: tuple[str, ...]
    department_lights: tuple[tuple[str, str, str], ...]  # (department_code, quarter, light)
    red_not_improving_department_code: str
    low_execution_project_codes: tuple[str, ...]  # year-end execution below 80 %
    inflated_project_codes: tuple[str, ...]
    review_flagged_project_codes: tuple[str, ...]
    late_or_unpublished_department_codes: tuple[str, ...]
    computed_project_scores: tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True)
class DemoDistrict:
    year: int
    size: str
    district: str
    departments: tuple[DemoDepartment, ...]
    projects: tuple[DemoProject, ...]
    policies: tuple[DemoPolicy, ...]
    sample_history: tuple[SampleRecord, ...]
    evaluation_history: tuple[EvaluationRecord, ...]
    indicators: tuple[Indicator, ...]
    monitoring: tuple[MonitoringRecord, ...]
    indicator_actuals: tuple[IndicatorActual, ...]
    project_self_evaluations: tuple[ProjectSelfEvaluation, ...]
    department_self_evaluations: tuple[DepartmentSelfEvaluation, ...]
    panel_scores: tuple[PanelScore, ...]
    review_scores: tuple[ReviewScore, ...]
    third_party_scores: tuple[ThirdPartyScore, ...]
    facts: DemoFacts


@dataclass(frozen=True)
class DemoFiles:
    base: Path
    submissions: Path


class DemoError(RuntimeError):
    """The generated district does not reproduce a figure of the seed report."""


# ----------------------------------------------------------------------------------------------------
# The catalogue: departments of 烈山区 and their projects
# ----------------------------------------------------------------------------------------------------


class _Item(NamedTuple):
    """A project of the catalogue; a string amount is exact, a number is nominal (±10 %)."""

    name: str
    type: str
    amount: str | int
    flags: str = ""  # P 政策相关, A 社会关注度高
    qty: tuple[str, int, str] | None = None  # 产出-数量 indicator: name, target, unit
    effect: tuple[str, str, str, str, str] | None = None  # level2, name, operator, target, unit
    attribute: str | None = None
    request: str | None = None  # exact budget-year request; "rest" = what makes the seed total
    since: int | None = None  # years since the project entered the 项目库
    entered: int | None = None  # the year it entered the 项目库, whatever the cycle year
    history: tuple[tuple[int, str], ...] = ()  # (years back, score) of earlier 财政重点评价
    role: str = ""


class _Dept(NamedTuple):
    name: str
    kind: str  # unit / street / town
    items: tuple[_Item, ...]
    history: tuple[tuple[int, str], ...] = ()  # (years back, score) of 财政重点评价 of the department
    profile: str = ""  # monitoring profile; "" = drawn


def _p(name: str, kind: str, amount: str | int, flags: str = "", **kw: Any) -> _Item:
    return _Item(name, JG if kind == "J" else SY, amount, flags, **kw)


_DEPARTMENTS: tuple[_Dept, ...] = (
    _Dept("区委办公室", "unit", (_p("督查督办工作经费", "S", 40), _p("机要保密工作经费", "J", 60))),
    _Dept("区人大常委会办公室", "unit", (_p("人大代表活动经费", "S", 80), _p("人大代表履职培训经费", "S", 30))),
    _Dept("区人民政府办公室", "unit", (_p("政务值班及应急值守经费", "J", 40), _p("政府法律顾问经费", "S", 30))),
    _Dept("区政协办公室", "unit", (_p("政协委员履职经费", "S", 70), _p("文史资料编纂经费", "S", 25))),
    _Dept("区纪委监委机关", "unit", (_p("监督执纪办案经费", "S", 160), _p("廉政教育基地运行经费", "J", 60))),
    _Dept(
        "区委组织部",
        "unit",
        (_p("干部教育培训经费", "S", 150), _p("人才工作专项经费", "S", 320, "P"), _p("基层党建工作经费", "S", 380)),
    ),
    _Dept(
        "区委宣传部",
        "unit",
        (_p("精神文明建设经费", "S", 220), _p("新时代文明实践中心运行经费", "S", 160), _p("网络宣传工作经费", "S", 90)),
    ),
    _Dept("区委统战部", "unit", (_p("民族宗教工作经费", "S", 40), _p("统一战线专项工作经费", "S", 30))),
    _Dept(
        "区委政法委员会",
        "unit",
        (_p("平安建设经费", "S", 260), _p("综治中心运行经费", "J", 120), _p("网格化服务管理经费", "S", 380)),
    ),
    _Dept(
        "区发展和改革委员会",
        "unit",
        (
            _p("重点项目前期工作经费", "S", 800),
            _p("价格监测经费", "S", 40),
            _p("区级储备粮管理经费", "S", 650, "P", qty=("区级储备粮规模", 5000, "吨")),
            _p("社会信用体系建设经费", "S", 60),
        ),
    ),
    _Dept(
        "区教育局",
        "unit",
        (
            _p(
                "义务教育学校运转经费",
                "S",
                "14500.00",
                "PA",
                qty=("保障义务教育学校数", 46, "所"),
                effect=("社会效益", "义务教育巩固率", "≥", "99", "%"),
                history=((1, "88.50"),),
            ),
            _p(
                "教职工绩效奖励经费",
                "S",
                "8900.00",
                "P",
                qty=("保障教职工人数", 3200, "人"),
                history=((2, "86.00"),),
            ),
            _p(
                "学前教育普惠保障经费",
                "S",
                "6815.00",
                "PA",
                qty=("普惠性幼儿园数", 52, "所"),
                effect=("社会效益", "学前三年毛入园率", "≥", "92", "%"),
            ),
            _p("普通高中教育发展经费", "S", 3600, qty=("保障普通高中学校数", 4, "所")),
            _p("校舍维修改造工程", "S", 3500, qty=("维修改造校舍面积", 42000, "平方米")),
            _p("学生资助经费", "S", 3150, "P", qty=("资助学生人次", 16000, "人次")),
            _p("农村义务教育学生营养改善计划", "S", 2180, "PA", qty=("受益学生人数", 11000, "人")),
            _p("教育装备购置经费", "S", 2400),
            _p("职业教育发展经费", "S", 1800),
            _p("课后服务补助经费", "S", 1700, "A", qty=("开展课后服务学校数", 38, "所")),
            _p("乡村教师生活补助", "S", 1260, "P", qty=("补助乡村教师人数", 1100, "人")),
            _p("校园安全保障经费", "S", 1050, "A", qty=("配备校园保安人数", 260, "人")),
            _p("特殊教育发展经费", "S", 600),
            _p("教师培训经费", "S", 450, qty=("培训教师人次", 4200, "人次")),
            _p("教育信息化运维经费", "J", 250),
            _p("机关日常运转经费", "J", 150),
            _p(
                "义务教育学校扩容改造工程",
                "S",
                "3400.00",
                "A",
                attribute=NEW,
                request="2860.00",
                role="ex_ante",
                qty=("新增学位数", 2700, "个"),
            ),
            _p(
                "智慧校园建设",
                "S",
                "1200.00",
                attribute=NEW,
                request="1580.40",
                role="ex_ante",
                qty=("建成智慧校园数", 18, "所"),
            ),
            _p(
                "公办幼儿园建设工程",
                "S",
                "2300.00",
                "A",
                attribute=CONTINUING,
                request="1845.00",
                role="ex_ante",
                qty=("新建公办幼儿园数", 4, "所"),
            ),
        ),
        history=((1, "86.50"),),
    ),
    _Dept(
        "区科技和经济信息化局",
        "unit",
        (
            _p("工业企业技术改造奖补经费", "S", 1600, "P", qty=("奖补企业数", 45, "家")),
            _p("科技创新平台建设经费", "S", 480),
            _p("中小企业公共服务经费", "S", 120),
        ),
    ),
    _Dept(
        "区公安分局",
        "unit",
        (
            _p("辅警经费", "J", 2600, qty=("保障辅警人数", 420, "人")),
            _p("社会治安防控体系建设经费", "S", 1800, "A"),
            _p("执法办案经费", "S", 900),
            _p("天网工程运维经费", "S", 650, qty=("运维视频监控点位", 3200, "个")),
            _p("道路交通安全设施维护经费", "S", 480),
            _p("禁毒工作经费", "S", 120),
            _p("反电信网络诈骗宣传经费", "S", 60, "A"),
        ),
    ),
    _Dept(
        "区民政局",
        "unit",
        (
            _p(
                "城乡居民最低生活保障",
                "S",
                "9800.00",
                "PA",
                qty=("保障低保对象人数", 14500, "人"),
                effect=("社会效益", "低保金按时足额发放率", "=", "100", "%"),
                history=((1, "84.00"),),
            ),
            _p("特困人员救助供养", "S", 2350, "P", qty=("供养特困人员数", 1900, "人")),
            _p("养老服务体系建设", "S", 1300, "A", qty=("建成社区养老服务站", 24, "个")),
            _p("高龄津贴", "S", 1150, "P", qty=("发放高龄津贴人数", 9800, "人")),
            _p("困难残疾人生活补贴和重度残疾人护理补贴", "S", 860, "P"),
            _p("社区居家养老服务", "S", 650, "A"),
            _p("临时救助", "S", 420, "P"),
            _p("殡葬改革经费", "S", 260),
            _p("社区治理能力提升经费", "S", 220),
            _p("孤儿及事实无人抚养儿童基本生活保障", "S", 180, "P"),
        ),
    ),
    _Dept(
        "区司法局",
        "unit",
        (
            _p("公共法律服务体系建设经费", "S", 180),
            _p("法律援助经费", "S", 110, "P", qty=("办理法律援助案件", 650, "件")),
            _p("人民调解经费", "S", 85, qty=("调解矛盾纠纷", 2400, "件")),
            _p("社区矫正经费", "S", 70),
            _p("普法宣传经费", "S", 45),
        ),
    ),
    _Dept(
        "区财政局",
        "unit",
        (
            _p("财政信息化建设经费", "J", 260),
            _p("预算绩效管理第三方服务经费", "S", 120, qty=("委托第三方评价项目数", 12, "个")),
            _p("乡镇财政所运转经费", "J", 90),
            _p("国有资产管理经费", "S", 45),
            _p("政府采购监督管理经费", "S", 30),
            _p("会计管理经费", "S", 20),
        ),
    ),
    _Dept(
        "区人力资源和社会保障局",
        "unit",
        (
            _p(
                "城乡居民基本养老保险补助",
                "S",
                "6020.00",
                "P",
                qty=("参保缴费补助人数", 128000, "人"),
                effect=("社会效益", "城乡居民养老保险参保率", "≥", "95", "%"),
            ),
            _p("就业创业补贴", "S", 1450, "P", qty=("补贴人次", 5200, "人次")),
            _p("公益性岗位补贴", "S", 1180, "P", qty=("开发公益性岗位数", 900, "个")),
            _p("职业技能提升培训", "S", 780, "P", qty=("培训人次", 6000, "人次")),
            _p("创业担保贷款贴息", "S", 320, "P"),
            _p("人才引进专项经费", "S", 260),
            _p("劳动保障监察经费", "S", 90),
        ),
    ),
    _Dept(
        "区自然资源和规划分局",
        "unit",
        (
            _p("矿山地质环境治理", "S", 2400, "A", qty=("治理矿山地质环境面积", 120, "公顷")),
            _p("土地整治项目", "S", 900),
            _p("耕地保护经费", "S", 520, "P"),
            _p("国土空间规划编制经费", "S", 450),
            _p("不动产登记经费", "J", 160),
        ),
    ),
    _Dept(
        "区生态环境分局",
        "unit",
        (
            _p("采煤塌陷区生态修复", "S", 3400, "A", qty=("修复塌陷区面积", 260, "公顷")),
            _p("大气污染防治", "S", 1650, "A", effect=("生态效益", "空气质量优良天数比例", "≥", "80", "%")),
            _p("水污染防治", "S", 1200, effect=("生态效益", "地表水国控断面达标率", "=", "100", "%")),
            _p("土壤污染防治", "S", 380),
            _p("生态环境监测经费", "S", 260),
            _p("生态环境执法经费", "S", 120),
        ),
    ),
    _Dept(
        "区住房和城乡建设局",
        "unit",
        (
            _p(
                "老旧小区改造",
                "S",
                "9650.00",
                "PA",
                attribute=CONTINUING,
                request="2480.00",
                role="ex_ante",
                qty=("改造老旧小区数", 38, "个"),
                effect=("社会效益", "惠及居民户数", "≥", "8600", "户"),
            ),
            _p("市政基础设施维护", "S", "4880.00", "A", qty=("维护市政道路里程", 260, "公里")),
            _p("棚户区改造", "S", 3700, "PA", qty=("改造棚户区住房", 1200, "套")),
            _p("城市道路建设", "S", 3600),
            _p("采煤塌陷区居民搬迁安置", "S", 3500, "P", qty=("搬迁安置居民户数", 650, "户")),
            _p("燃气管网老化更新改造", "S", 3400, "A", qty=("更新改造燃气管网", 86, "公里")),
            _p("海绵城市建设", "S", 2900),
            _p("城市更新片区综合整治", "S", 2600),
            _p("农村危房改造", "S", 900, "P"),
            _p("物业管理提升经费", "S", 420),
            _p("建筑市场监管经费", "S", 160),
            _p("机关日常运转经费", "J", 150),
            _p("住房保障信息系统运维经费", "J", 100),
            _p(
                "城市排水防涝设施建设",
                "S",
                "2000.00",
                "A",
                attribute=NEW,
                request="2350.00",
                role="ex_ante",
                qty=("新建改造排水管网", 32, "公里"),
            ),
            _p(
                "保障性安居工程",
                "S",
                "3200.00",
                "P",
                attribute=CONTINUING,
                request="1624.35",
                role="ex_ante",
                qty=("筹集保障性租赁住房", 800, "套"),
            ),
        ),
    ),
    _Dept(
        "区交通运输局",
        "unit",
        (
            _p(
                "农村公路养护",
                "S",
                "4210.00",
                "A",
                qty=("养护农村公路里程", 620, "公里"),
                effect=("社会效益", "农村公路优良中等路率", "≥", "85", "%"),
                history=((3, "78.00"),),
            ),
            _p("交通设施维护经费", "S", 450),
            _p("道路运输安全监管经费", "S", 120),
            _p("机关日常运转经费", "J", 110),
            _p(
                "农村公路提质改造工程",
                "S",
                "2800.00",
                "A",
                attribute=CONTINUING,
                request="1236.80",
                role="ex_ante",
                qty=("提质改造农村公路", 45, "公里"),
            ),
            _p(
                "城乡公交一体化运营补贴",
                "S",
                "600.00",
                "A",
                attribute=NEW,
                request="760.00",
                role="ex_ante",
                qty=("开通城乡公交线路", 12, "条"),
            ),
        ),
    ),
    _Dept(
        "区农业农村水利局",
        "unit",
        (
            _p(
                "高标准农田建设",
                "S",
                "6540.00",
                "P",
                qty=("新建高标准农田面积", 32000, "亩"),
                effect=("经济效益", "项目区粮食亩产提高", "≥", "50", "公斤"),
            ),
            _p("乡村振兴衔接资金项目", "S", 3500, "P"),
            _p("采煤塌陷区综合治理", "S", 3200),
            _p("耕地地力保护补贴", "S", 2650, "P", qty=("补贴耕地面积", 310000, "亩")),
            _p("农村人居环境整治", "S", 2300, "A"),
            _p("农业保险保费补贴", "S", 1450, "P"),
            _p("小型水利工程维修养护", "S", 1200),
            _p("农村饮水安全工程维护", "S", 1100, "A"),
            _p("村级集体经济发展扶持", "S", 1000),
            _p("防汛抗旱经费", "S", 900),
            _p("农机购置补贴", "S", 650, "P"),
            _p("动物疫病防控经费", "S", 380),
            _p("农产品质量安全监管经费", "S", 150),
            _p("机关日常运转经费", "J", 140),
        ),
    ),
    _Dept(
        "区商务局",
        "unit",
        (
            _p("招商引资专项经费", "S", 600),
            _p("消费促进活动经费", "S", 350, "A"),
            _p("外贸发展扶持经费", "S", 280),
            _p("电子商务进农村经费", "S", 180),
        ),
        profile="red_q3",
    ),
    _Dept(
        "区文化旅游体育局",
        "unit",
        (
            _p("乡村旅游发展经费", "S", 420),
            _p("公共文化服务体系建设", "S", 380),
            _p("全民健身设施维护", "S", 260),
            _p("文物保护经费", "S", 180),
            _p("文化惠民演出", "S", 150, "A", qty=("送戏进万村场次", 120, "场")),
            _p("体育赛事活动经费", "S", 130),
            _p("图书馆文化馆免费开放", "S", 90, "P"),
        ),
        profile="red_q2",
    ),
    _Dept(
        "区卫生健康委员会",
        "unit",
        (
            _p(
                "基本公共卫生服务补助",
                "S",
                "8236.40",
                "PA",
                qty=("建立居民电子健康档案人数", 290000, "人"),
                effect=("社会效益", "高血压患者规范管理率", "≥", "65", "%"),
            ),
            _p("公立医院综合改革补助", "S", "4560.00", "P", qty=("补助公立医院数", 3, "家")),
            _p("乡镇卫生院运行补助", "S", 3600, qty=("补助乡镇卫生院数", 6, "家")),
            _p("医疗卫生机构基础设施建设", "S", 3500),
            _p("区中医院运行补助", "S", 3300),
            _p("计划生育家庭奖励扶助", "S", 2850, "P", qty=("奖励扶助对象人数", 12800, "人")),
            _p("疾病预防控制经费", "S", 2600),
            _p("家庭医生签约服务", "S", 1980, "PA", qty=("重点人群签约人数", 96000, "人")),
            _p("基本药物制度补助", "S", 1760, "P"),
            _p("妇幼健康服务", "S", 1350),
            _p("村医补助经费", "S", 1200, "P", qty=("补助村医人数", 310, "人")),
            _p("公共卫生应急物资储备", "S", 680),
            _p("医疗卫生人才引进经费", "S", 450),
            _p("卫生健康信息化运维经费", "J", 380),
            _p("爱国卫生运动经费", "S", 260),
            _p("卫生监督执法经费", "S", 180),
            _p("机关日常运转经费", "J", 160),
            _p(
                "基层医疗卫生机构能力建设",
                "S",
                "3200.00",
                "A",
                attribute=NEW,
                request="1420.00",
                role="ex_ante",
                qty=("提升改造村卫生室数", 60, "个"),
            ),
            _p(
                "公共卫生应急能力提升",
                "S",
                "2500.00",
                attribute=CONTINUING,
                request="rest",
                role="ex_ante",
                qty=("建设发热门诊数", 6, "个"),
            ),
        ),
    ),
    _Dept(
        "区退役军人事务局",
        "unit",
        (
            _p("优抚对象抚恤补助", "S", 1350, "P", qty=("抚恤补助优抚对象人数", 2100, "人")),
            _p("退役士兵安置经费", "S", 620, "P"),
            _p("烈士纪念设施维护经费", "S", 90),
            _p("退役军人服务站运行经费", "J", 80),
            _p("双拥工作经费", "S", 60),
        ),
    ),
    _Dept(
        "区应急管理局",
        "unit",
        (
            _p("应急救援队伍建设经费", "S", 340),
            _p("应急物资储备经费", "S", 260),
            _p("安全生产监管执法经费", "S", 180, "A", qty=("安全生产执法检查企业", 600, "家次")),
            _p("非煤矿山安全监管经费", "S", 90),
            _p("森林防火经费", "S", 75),
            _p("防灾减灾宣传经费", "S", 40),
        ),
    ),
    _Dept("区审计局", "unit", (_p("审计项目外聘经费", "S", 90), _p("审计信息化经费", "J", 45))),
    _Dept(
        "区市场监督管理局",
        "unit",
        (
            _p("食品安全抽检经费", "S", 260, "A", qty=("食品安全抽检批次", 2600, "批次")),
            _p("特种设备安全监管经费", "S", 80),
            _p("知识产权保护经费", "S", 70),
            _p("药品医疗器械监管经费", "S", 60),
            _p("计量检定经费", "S", 40),
            _p("12315投诉举报处置经费", "S", 35, "A"),
        ),
    ),
    _Dept("区统计局", "unit", (_p("全国经济普查经费", "S", 160), _p("统计调查经费", "S", 80))),
    _Dept(
        "区医疗保障局",
        "unit",
        (
            _p(
                "城乡居民医保财政补助",
                "S",
                "5630.00",
                "P",
                qty=("财政补助参保人数", 330000, "人"),
                effect=("社会效益", "城乡居民医保参保率", "≥", "95", "%"),
            ),
            _p("城乡居民医疗救助", "S", 1380, "PA", qty=("医疗救助人次", 23000, "人次")),
            _p("医保经办服务经费", "J", 160),
            _p("医保基金监管经费", "S", 120),
        ),
    ),
    _Dept(
        "区城市管理局",
        "unit",
        (
            _p("城区环境卫生保洁", "S", 3600, "A", qty=("保洁面积", 5200000, "平方米")),
            _p("生活垃圾清运处理", "S", 2800, "A", qty=("清运生活垃圾", 98000, "吨")),
            _p("园林绿化养护", "S", 2200, qty=("养护绿地面积", 4100000, "平方米")),
            _p("城市照明运行维护", "S", 900, qty=("维护路灯盏数", 16000, "盏")),
            _p("生活垃圾分类推进经费", "S", 600, "A"),
            _p("市容秩序管理经费", "S", 350),
            _p("公厕运行维护经费", "S", 280),
            _p("数字城管平台运维经费", "J", 150),
        ),
    ),
    _Dept(
        "区数据资源管理局",
        "unit",
        (
            _p("政务服务中心运行经费", "J", 420),
            _p("一网通办平台建设经费", "S", 380),
            _p("电子政务外网运维经费", "J", 180),
            _p("12345政务服务便民热线经费", "S", 160, "A", qty=("受理群众诉求", 68000, "件")),
        ),
    ),
    _Dept("区信访局", "unit", (_p("信访接待及积案化解经费", "S", 120, "A"), _p("网上信访平台运维经费", "J", 30))),
    _Dept(
        "区融媒体中心",
        "unit",
        (_p("新闻宣传经费", "S", 180), _p("融媒体平台运维经费", "J", 120), _p("广播电视设备运维经费", "J", 90)),
    ),
    _Dept(
        "区机关服务中心",
        "unit",
        (
            _p(
                "公车运行",
                "J",
                "363.00",
                qty=("保障公务用车数", 58, "辆"),
                effect=("经济效益", "单车年均运行成本", "≤", "6.26", "万元"),
                attribute=RECURRING,
                entered=2018,
                role="cost_pilot",
            ),
            _p("机关办公区物业管理", "J", 580),
            _p("办公用房维修经费", "J", 320),
            _p("机关食堂运行经费", "J", 240),
            _p("公共机构节能经费", "S", 80),
        ),
    ),
    _Dept("区档案馆", "unit", (_p("档案数字化加工经费", "S", 150), _p("档案安全保管经费", "J", 40))),
    _Dept("区委党校", "unit", (_p("干部培训教学经费", "S", 120), _p("教学设施维护经费", "J", 60))),
    _Dept("区总工会", "unit", (_p("困难职工帮扶经费", "S", 110), _p("职工服务阵地建设经费", "S", 80))),
    _Dept("共青团烈山区委员会", "unit", (_p("青少年活动经费", "S", 35), _p("青年志愿服务经费", "S", 20))),
    _Dept(
        "区妇女联合会",
        "unit",
        (_p("困难妇女两癌救助", "S", 30, "P"), _p("妇女儿童维权经费", "S", 25), _p("家庭教育指导经费", "S", 20)),
    ),
    _Dept(
        "区残疾人联合会",
        "unit",
        (
            _p("残疾人康复服务", "S", 260, "P", qty=("康复服务残疾人数", 1800, "人")),
            _p("残疾人就业培训", "S", 80),
            _p("残疾人辅助器具适配", "S", 60),
        ),
    ),
    _Dept(
        "区科学技术协会",
        "unit",
        (
            _p("科普活动经费", "S", 40),
            _p("青少年科技创新大赛经费", "S", "15.00", role="incomplete_no_satisfaction"),
            _p("科技工作者服务经费", "S", "12.00", role="incomplete_no_effect"),
        ),
    ),
    _Dept("区工商业联合会", "unit", (_p("民营企业服务经费", "S", 40),)),
    _Dept("区红十字会", "unit", (_p("人道救助经费", "S", 45), _p("应急救护培训经费", "S", 30))),
    _Dept(
        "区人民法院",
        "unit",
        (
            _p("审判业务经费", "S", 580),
            _p("执行业务经费", "S", 320),
            _p("智慧法院建设经费", "S", 260),
            _p("诉讼服务中心运行经费", "J", 150),
        ),
    ),
    _Dept(
        "区人民检察院",
        "unit",
        (_p("办案业务经费", "S", 380), _p("智慧检务建设经费", "S", 180), _p("公益诉讼工作经费", "S", 60)),
    ),
    _Dept(
        "烈山经济开发区管理委员会",
        "unit",
        (
            _p("园区基础设施维护", "S", 1800),
            _p("园区污水处理运营补助", "S", 980),
            _p("园区招商引资经费", "S", 650),
            _p("园区企业服务经费", "S", 120),
        ),
    ),
    _Dept("任楼街道办事处", "street", ()),
    _Dept("杨庄街道办事处", "street", (), profile="red_q2_slow"),
    _Dept("青龙山街道办事处", "street", ()),
    _Dept("烈山镇人民政府", "town", ()),
    _Dept("宋疃镇人民政府", "town", ()),
    _Dept("古饶镇人民政府", "town", (), profile="red_persistent"),
)

# Projects every 街道 and 镇 runs; towns add their rural ones.
_STREET_ITEMS: tuple[_Item, ...] = (
    _p("社区（村）干部报酬", "J", 1100, qty=("保障社区（村）干部人数", 180, "人")),
    _p("辖区环境卫生保洁", "S", 1400, "A", qty=("保洁面积", 1800000, "平方米")),
    _p("人居环境整治经费", "S", 900, "A"),
    _p("社区运转经费", "J", 600, qty=("保障社区数", 12, "个")),
    _p("公益性岗位补贴", "S", 420, "P"),
    _p("网格化服务管理经费", "S", 320, qty=("配备专职网格员", 90, "人")),
    _p("综治维稳工作经费", "S", 200),
    _p("社区居家养老服务站运营补助", "S", 180, "A"),
    _p("便民服务中心运行经费", "J", 150),
    _p("防汛排涝应急经费", "S", 120),
    _p("新时代文明实践站运行经费", "S", 50),
    _p("退役军人服务站运行经费", "J", 30),
)
_TOWN_ITEMS: tuple[_Item, ...] = (
    _p("村级组织运转经费", "J", 700, qty=("保障行政村数", 14, "个")),
    _p("农村道路维护", "S", 650, "A", qty=("维护农村道路", 85, "公里")),
    _p("采煤塌陷区群众生产生活保障", "S", 600, "P"),
    _p("农业生产服务经费", "S", 260),
)

# Projects any department may run, drawn to fill a department's project list.
_GENERIC_ITEMS: tuple[_Item, ...] = (
    _p("机关日常运转经费", "J", 160),
    _p("编外聘用人员经费", "J", 150),
    _p("办公楼物业管理费", "J", 90),
    _p("信息系统运行维护费", "J", 70),
    _p("办公用房维修经费", "J", 60),
    _p("机关食堂运行经费", "J", 45),
    _p("办公设备购置经费", "J", 35),
    _p("安全保卫及消防经费", "J", 30),
    _p("档案管理经费", "J", 20),
    _p("干部职工教育培训经费", "J", 18),
    _p("党建工作经费", "J", 15),
    _p("网络安全等级保护测评经费", "J", 15),
    _p("法律顾问服务费", "J", 10),
    _p("专项业务工作经费", "S", 220),
    _p("数字化平台建设经费", "S", 180),
    _p("第三方服务购买经费", "S", 90),
    _p("专项整治行动经费", "S", 80),
    _p("文明城市创建长效管理经费", "S", 90, "A"),
    _p("平安建设工作经费", "S", 45),
    _p("乡村振兴定点帮扶经费", "S", 40, "P"),
    _p("业务培训及宣传经费", "S", 40),
    _p("信息统计及数据治理经费", "S", 40),
    _p("专项调研及课题研究经费", "S", 25),
    _p("专项督查考核经费", "S", 20),
    _p("精神文明创建工作经费", "S", 20),
    _p("专家咨询评审经费", "S", 18),
    _p("志愿服务活动经费", "S", 15),
    _p("应急值守保障经费", "S", 15),
)

# 财政政策: code, name, department (catalogue name), funds 万元 ("residual" = the seed total's rest),
# earlier 财政重点评价 (years back, score).
_POLICIES: tuple[tuple[str, str, str, str, tuple[tuple[int, str], ...]], ...] = (
    ("ZC01", "免申即享惠企政策资金", "区发展和改革委员会", "residual", ()),
    ("ZC02", "巩固拓展脱贫攻坚成果同乡村振兴有效衔接政策", "区农业农村水利局", "21600.00", ((2, "84.50"),)),
    ("ZC03", "产业发展扶持政策资金", "区科技和经济信息化局", "9450.00", ()),
    ("ZC04", "城乡低保提标", "区民政局", "2635.00", ()),
    ("ZC05", "就业创业扶持政策", "区人力资源和社会保障局", "3180.00", ()),
    ("ZC06", "科技创新奖补政策", "区科技和经济信息化局", "2150.00", ((3, "81.00"),)),
    ("ZC07", "人才引进奖补政策", "区委组织部", "1260.00", ()),
    ("ZC08", "促进消费政策资金", "区商务局", "820.00", ()),
)
_RESIDUAL_POLICY = "ZC01"

# 事前评估专家组 scores (立项必要性, 投入经济性, 绩效目标合理性, 实施方案可行性, 筹资合规性), proposed cut
# ("rest" = what makes the seed's 2090.55 万元), comment.
_PANEL: dict[str, tuple[tuple[str, str, str, str, str], str, str]] = {
    "义务教育学校扩容改造工程": (
        ("19", "16", "17", "17", "18"),
        "260.00",
        "立项必要性充分，学位缺口测算依据充足；部分单价偏高，建议压减后予以支持。",
    ),
    "智慧校园建设": (
        ("15", "13", "14", "15", "16"),
        "380.40",
        "建设内容与已建平台存在重复，绩效目标偏笼统；建议整合现有系统、压减后支持。",
    ),
    "公办幼儿园建设工程": (
        ("18", "16", "16", "17", "17"),
        "145.00",
        "续建项目进度符合计划，建议按工程进度安排资金。",
    ),
    "老旧小区改造": (
        ("19", "17", "17", "16", "18"),
        "180.00",
        "居民改造意愿强烈，建议剔除已由中央资金覆盖的内容后予以支持。",
    ),
    "城市排水防涝设施建设": (
        ("18", "17", "16", "16", "17"),
        "0.00",
        "补齐城区易涝点短板，方案可行，予以支持。",
    ),
    "保障性安居工程": (
        ("16", "14", "15", "14", "15"),
        "224.35",
        "房源筹集计划与需求匹配度不足，建议调整建设规模后支持。",
    ),
    "农村公路提质改造工程": (
        ("17", "16", "16", "17", "16"),
        "36.80",
        "路线选择合理，个别路段标准偏高，建议微调后予以支持。",
    ),
    "城乡公交一体化运营补贴": (
        ("12", "10", "11", "11", "12"),
        "760.00",
        "客流测算依据不足，补贴标准和退出机制不明确，不予支持，建议重新论证。",
    ),
    "基层医疗卫生机构能力建设": (
        ("18", "16", "17", "16", "17"),
        "0.00",
        "补齐基层医疗短板，绩效目标清晰，予以支持。",
    ),
    "公共卫生应急能力提升": (
        ("17", "15", "16", "16", "17"),
        "rest",
        "与上级专项资金存在交叉，建议扣除上级补助部分后予以支持。",
    ),
}
_ASSESSORS = (
    "区人大常委会预算工委 周立平（示例）",
    "区发展和改革委员会 孙浩然（示例）",
    "区审计局 钱慧敏（示例）",
)
_REVIEWER = "区财政局抽查复核组 李文华（示例）"
_EVALUATOR = "淮北恒信绩效评价咨询有限公司（示例）"

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红梅文斌鹏辉宇浩凯颖倩婷雪琳晨阳峰"

# Monitoring profiles: execution gap and target gap (percentage points behind 序时进度) per quarter.
_PROFILES: dict[str, tuple[tuple[int, int, int, int], tuple[int, int, int, int]]] = {
    "green": ((3, 4, 4, 2), (1, 2, 2, 1)),
    "yellow_q1": ((16, 5, 4, 2), (6, 2, 2, 1)),
    "yellow_q2": ((6, 17, 5, 2), (3, 8, 2, 1)),
    "yellow_q3": ((4, 6, 17, 3), (2, 3, 8, 1)),
    "yellow_q4": ((4, 5, 6, 15), (2, 2, 3, 4)),
    "red_q2": ((17, 37, 6, 2), (8, 18, 3, 1)),  # red in Q2, green again in Q3
    "red_q2_slow": ((18, 38, 20, 4), (8, 20, 9, 2)),  # red in Q2, yellow in Q3, green in Q4
    "red_q3": ((6, 15, 38, 3), (3, 6, 16, 1)),  # red in Q3, green in Q4
    "red_persistent": ((18, 38, 40, 37), (10, 22, 30, 26)),  # red from Q2 to the end of the year
}
_LAG_REASONS = (
    "项目招标采购程序尚未完成，资金暂未支付",
    "工程按进度结算，部分款项待验收后支付",
    "上级资金下达较晚，配套资金拨付滞后",
    "项目前期手续办理周期较长",
    "受季节和天气影响，施工进度滞后",
    "补助对象审核认定尚未完成，资金暂未发放",
)


# ----------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join([SEED, *map(str, parts)]))


def _wan(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_WAN).quantize(_CENT)


def _fen_of_cents(cents: int) -> int:
    """0.01 万元 steps to 分."""
    return cents * (FEN_PER_WAN // 100)


def _q(value: float | Decimal, step: Decimal = _TENTH) -> Decimal:
    return Decimal(str(value)).quantize(step, rounding=ROUND_HALF_UP)


def _person(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _department_catalogue(size: str) -> list[_Dept]:
    count, _ = SIZES[size]
    departments = list(_DEPARTMENTS[:count])
    for index in range(len(departments), count):
        number = index - len(_DEPARTMENTS) + 1
        if number % 3 == 0:
            departments.append(_Dept(f"第{number}镇人民政府", "town", ()))
        else:
            departments.append(_Dept(f"第{number}街道办事处", "street", ()))
    return departments


def _code(index: int) -> str:
    return str(101 + index)


# Default 产出-数量 and 效益 indicators by what the project is about.
_QTY_RULES: tuple[tuple[tuple[str, ...], str, tuple[int, int], str], ...] = (
    (("补贴", "补助", "救助", "抚恤", "津贴", "保障", "帮扶", "奖补"), "受益对象人次", (200, 20000), "人次"),
    (("建设", "改造", "工程", "修复", "治理", "整治", "维修"), "完成建设（整治）任务数", (3, 40), "个"),
    (("培训", "教学"), "培训人次", (100, 3000), "人次"),
    (("宣传", "活动", "演出", "赛事", "普法", "志愿"), "开展活动场次", (6, 120), "场"),
    (("执法", "监管", "抽检", "督查", "检定", "审计", "办案", "监测"), "完成检查（办理）事项数", (20, 900), "件"),
    (("运维", "维护", "养护", "运行", "保洁", "清运"), "运行维护设施（系统）数", (2, 60), "个"),
)
_EFFECT_RULES: tuple[tuple[tuple[str, ...], tuple[str, str, str, str, str]], ...] = (
    (
        ("补贴", "补助", "救助", "抚恤", "津贴", "帮扶"),
        ("社会效益", "困难群众基本生活保障水平", "定性", "有效保障", ""),
    ),
    (
        ("污染", "生态", "环境", "绿化", "保洁", "垃圾", "节能"),
        ("生态效益", "区域生态环境质量", "定性", "持续改善", ""),
    ),
    (
        ("招商", "企业", "产业", "消费", "外贸", "电子商务", "园区"),
        ("经济效益", "带动社会投资和消费", "定性", "有效带动", ""),
    ),
    (("建设", "改造", "工程", "修复", "治理", "整治"), ("社会效益", "群众生产生活条件改善", "定性", "明显改善", "")),
)


def _default_qty(item: _Item, rng: random.Random) -> tuple[str, int, str]:
    if item.type == JG:
        if "运转" in item.name or "人员" in item.name or "报酬" in item.name:
            return ("保障在岗人员数", rng.randint(12, 160), "人")
        return ("保障服务事项数", rng.randint(3, 30), "项")
    for words, name, (lo, hi), unit in _QTY_RULES:
        if any(word in item.name for word in words):
            return (name, rng.randint(lo, hi), unit)
    return ("完成重点工作任务数", rng.randint(4, 24), "项")


def _default_effect(item: _Item) -> tuple[str, str, str, str, str]:
    if item.type == JG:
        return ("社会效益", "保障单位正常运转", "定性", "有效保障", "")
    for words, effect in _EFFECT_RULES:
        if any(word in item.name for word in words):
            return effect
    return ("社会效益", "年度工作目标实现程度", "定性", "明显提升", "")


# ----------------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------------


class _Builder:
    """Builds one district; each stage reads what the previous ones made."""

    def __init__(self, year: int, size: str, policy: Policy) -> None:
        if size not in SIZES:
            raise ValueError(f"未知的示范规模 {size!r}；可用: {', '.join(SIZES)}")
        self.year = year
        self.size = size
        self.policy = policy
        self.catalogue = _department_catalogue(size)
        self.departments: list[DemoDepartment] = []
        self.projects: list[DemoProject] = []
        self.roles: dict[str, str] = {}  # role → project code (first project with that role)
        self.items: dict[str, _Item] = {}  # project code → catalogue item
        self.by_department: defaultdict[str, list[DemoProject]] = defaultdict(list)
        self.evaluations: list[EvaluationRecord] = []

    # --- base data -----------------------------------------------------------------------------------

    def build_departments(self) -> None:
        for index, entry in enumerate(self.catalogue):
            code = _code(index)
            rng = _rng("department", code)
            contact, head = _person(rng), _person(rng)
            self.departments.append(
                DemoDepartment(
                    code=code,
                    name=entry.name,
                    contact=contact,
                    email=f"jxk{code}@lieshan.gov.cn.invalid",
                    webhook="",
                    head=head,
                    head_email=f"fzr{code}@lieshan.gov.cn.invalid",
                )
            )
            for back, score in entry.history:
                self.evaluations.append(EvaluationRecord(self.year - back, FISCAL, "部门", code, Decimal(score)))

    def _item_list(self, entry: _Dept, rng: random.Random) -> list[_Item]:
        _, per_department = SIZES[self.size]
        specific = list(entry.items)
        if entry.kind in ("street", "town"):
            specific = list(_STREET_ITEMS) + (list(_TOWN_ITEMS) if entry.kind == "town" else [])
            if per_department is None:
                specific = specific[: rng.randint(9, len(specific))]
        wanted = per_department if per_department is not None else rng.randint(10, 14)
        wanted = max(wanted, len(specific))
        names = {item.name for item in specific}
        pool = [item for item in _GENERIC_ITEMS if item.name not in names]
        rng.shuffle(pool)
        extra = pool[: wanted - len(specific)]
        items = specific + extra
        counter = 2
        while len(items) < wanted:  # large synthetic districts: numbered variants of the generic items
            for item in _GENERIC_ITEMS:
                if len(items) >= wanted:
                    break
                items.append(item._replace(name=f"{item.name}（{counter}）"))
            counter += 1
        return items

    def build_projects(self) -> None:
        ex_ante_min = wan_to_fen(self.policy.ex_ante.min_request_wan)
        for department, entry in zip(self.departments, self.catalogue, strict=True):
            rng = _rng("projects", department.code)
            for seq, item in enumerate(self._item_list(entry, rng), start=1):
                irng = _rng("project", department.code, item.name)  # stable whatever else the list holds
                if isinstance(item.amount, str):
                    budget = wan_to_fen(item.amount)
                else:
                    cents = item.amount * 100
                    budget = _fen_of_cents(irng.randint(cents * 9 // 10, cents * 11 // 10))
                if item.request is None:
                    request = _fen_of_cents(round(budget / 10_000 * irng.uniform(0.92, 1.12)))
                elif item.request == "rest":
                    request = 0  # set once the other assessed requests are known
                else:
                    request = wan_to_fen(item.request)
                attribute = item.attribute
                if attribute is None:
                    attribute = irng.choices((RECURRING, CONTINUING, NEW), (70, 18, 12))[0]
                    if attribute != RECURRING and request >= ex_ante_min:
                        attribute = RECURRING  # only the catalogue's assessed projects go to the panel
                if item.entered is not None:
                    since = self.year - item.entered
                elif item.since is not None:
                    since = item.since
                elif attribute == NEW:
                    since = 0
                elif attribute == CONTINUING:
                    since = irng.randint(1, 3)
                else:
                    since = irng.randint(2, 9)
                if item.history:  # an evaluated project was in the 项目库 before its evaluation year
                    since = max(since, *(back + 1 for back, _ in item.history))
                code = f"LS{self.year - since}-{department.code}-{seq:02d}"
                project = DemoProject(
                    code=code,
                    department_code=department.code,
                    name=item.name,
                    type=item.type,
                    attribute=attribute,
                    budget_fen=budget,
                    request_fen=request,
                    policy_related="P" in item.flags,
                    high_attention="A" in item.flags,
                )
                self.projects.append(project)
                self.items[code] = item
                if item.role:
                    self.roles.setdefault(item.role, code)
                for back, score in item.history:
                    self.evaluations.append(EvaluationRecord(self.year - back, FISCAL, "项目", code, Decimal(score)))
        self._settle_ex_ante_rest()
        for project in self.projects:
            self.by_department[project.department_code].append(project)

    def _settle_ex_ante_rest(self) -> None:
        """The one assessed request marked "rest" completes the seed's 16904.55 万元."""
        rest = [i for i, p in enumerate(self.projects) if self.items[p.code].request == "rest"]
        others = sum(p.request_fen for p in self.projects if self.items[p.code].role == "ex_ante") - sum(
            self.projects[i].request_fen for i in rest
        )
        for i in rest:
            amount = wan_to_fen(SEED_EX_ANTE_REQUEST_WAN) - others
            if amount < wan_to_fen(self.policy.ex_ante.min_request_wan):
                raise DemoError("事前评估项目的申请额之和超过了示范数 16904.55 万元")
            self.projects[i] = replace(self.projects[i], request_fen=amount)

    def build_policies(self) -> list[DemoPolicy]:
        code_of = {d.name: d.code for d in self.departments}
        policies = []
        for code, name, department, funds, history in _POLICIES:
            amount = 0 if funds == "residual" else wan_to_fen(funds)
            policies.append(DemoPolicy(code, name, code_of.get(department, ""), amount))
            for back, score in history:
                self.evaluations.append(EvaluationRecord(self.year - back, FISCAL, "政策", code, Decimal(score)))
        return policies

    def build_sample_history(self) -> list[SampleRecord]:
        """Two earlier cycles, each sampling ceil(ratio × n) departments never sampled before."""
        codes = [d.code for d in self.departments]
        n = math.ceil(self.policy.sampling.ratio * len(codes))
        rng = _rng("sample-history", self.size)
        chosen = rng.sample(codes, min(2 * n, len(codes)))
        history: list[SampleRecord] = []
        for offset, block in ((2, chosen[:n]), (1, chosen[n : 2 * n])):
            history.extend(SampleRecord(self.year - offset, code) for code in sorted(block))
        return history

    def build_other_history(self, sample_history: Sequence[SampleRecord]) -> None:
        """Earlier 抽查复核 and 自评 results of departments (the key evaluations come with the catalogue)."""
        rng = _rng("evaluation-history", self.size)
        for record in sample_history:
            score = _q(rng.uniform(78, 94))
            self.evaluations.append(EvaluationRecord(record.year, "抽查复核", "部门", record.department_code, score))
        for department in self.departments[: min(len(self.departments), 60)]:
            score = _q(rng.uniform(82, 96))
            self.evaluations.append(EvaluationRecord(self.year - 1, "自评", "部门", department.code, score))

    # --- ex-ante --------------------------------------------------------------------------------------

    def ex_ante_projects(self) -> list[DemoProject]:
        return [p for p in self.projects if needs_ex_ante(p.attribute, p.request_fen, self.policy.ex_ante)]

    def build_panel(self, assessed: Sequence[DemoProject]) -> list[PanelScore]:
        policy = self.policy.ex_ante
        rows: list[PanelScore] = []
        cut_so_far = 0
        rest_index: int | None = None
        for index, project in enumerate(assessed):
            scores, cut, comment = _PANEL.get(project.name, (("16", "16", "16", "16", "16"), "0.00", "予以支持。"))
            values = [Decimal(s) for s in scores]
            total = ex_ante_total(dict(zip(policy.dimensions, values, strict=True)), policy)
            conclusion = ex_ante_conclusion(total, policy)
            proposed = 0 if cut == "rest" else wan_to_fen(cut)
            if cut == "rest":
                rest_index = index
            else:
                cut_so_far += ex_ante_cut(conclusion, project.request_fen, proposed)
            rows.append(
                PanelScore(
                    project_code=project.code,
                    necessity=values[0],
                    economy=values[1],
                    targets=values[2],
                    feasibility=values[3],
                    compliance=values[4],
                    proposed_cut_fen=proposed,
                    comment=comment,
                    assessor=_ASSESSORS[index % len(_ASSESSORS)],
                )
            )
        if rest_index is not None:
            row = rows[rest_index]
            rest = wan_to_fen(SEED_EX_ANTE_CUT_WAN) - cut_so_far
            if not 0 <= rest <= assessed[rest_index].request_fen:
                raise DemoError(f"事前评估压减额无法凑成示范数 2090.55 万元（差 {_wan(rest)} 万元）")
            rows[rest_index] = replace(row, proposed_cut_fen=rest)
        return rows

    def panel_cut(self, panel: Sequence[PanelScore], assessed: Sequence[DemoProject]) -> int:
        policy = self.policy.ex_ante
        request = {p.code: p.request_fen for p in assessed}
        total = 0
        for row in panel:
            values = (row.necessity, row.economy, row.targets, row.feasibility, row.compliance)
            score = ex_ante_total(dict(zip(policy.dimensions, values, strict=True)), policy)
            total += ex_ante_cut(ex_ante_conclusion(score, policy), request[row.project_code], row.proposed_cut_fen)
        return total

    # --- key fiscal evaluation ------------------------------------------------------------------------

    def recently_evaluated(self) -> set[tuple[str, str]]:
        lookback = self.policy.fiscal_evaluation.lookback_cycles
        return {
            (OBJECT_TYPE_KEYS[e.object_type], e.object_code)
            for e in self.evaluations
            if e.kind == FISCAL and self.year - lookback <= e.year < self.year
        }

    def select(self, policies: Sequence[DemoPolicy]) -> list[SelectedObject]:
        projects = [
            ProjectCandidate(p.code, p.name, p.budget_fen, p.policy_related, p.high_attention) for p in self.projects
        ]
        overall = Counter[str]()
        for p in self.projects:
            overall[p.department_code] += p.budget_fen
        departments = [SimpleCandidate(d.code, d.name, overall[d.code]) for d in self.departments]
        fiscal_policies = [SimpleCandidate(p.code, p.name, p.funds_fen) for p in policies]
        return propose_selection(
            projects, fiscal_policies, departments, self.recently_evaluated(), self.policy.fiscal_evaluation
        )

    def settle_policy_funds(self, policies: list[DemoPolicy]) -> list[DemoPolicy]:
        """Give the residual policy the funds that make the seed total; it must still be the one selected."""
        index = next(i for i, p in enumerate(policies) if p.code == _RESIDUAL_POLICY)
        recent = self.recently_evaluated()
        others = [p.funds_fen for p in policies if p.code != _RESIDUAL_POLICY and (POLICY, p.code) not in recent]
        without = [o for o in self.select(policies) if o.object_type != POLICY]
        residual = wan_to_fen(SEED_SELECTION_WAN) - selection_total(without)
        valid = residual > max(others, default=0)
        if not valid:
            if self.size == "S":
                raise DemoError(f"重点评价政策资金余额 {_wan(residual)} 万元不是最大的政策，无法凑成示范数")
            residual = max(others, default=0) + wan_to_fen("1000")
        policies[index] = DemoPolicy(
            policies[index].code, policies[index].name, policies[index].department_code, residual
        )
        return policies


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoError(message)


def district_model(year: int = 2024, size: str = "S", policy: Policy | None = None) -> DemoDistrict:
    """The whole demo district in memory: base data, history, every submission and the expected facts."""
    policy = policy or load_policy(year, DEMO_POLICY_DIR)
    b = _Builder(year, size, policy)
    b.build_departments()
    b.build_projects()
    policies = b.settle_policy_funds(b.build_policies())
    sample_history = b.build_sample_history()
    b.build_other_history(sample_history)
    seed_size = size == "S"

    # 事前绩效评估
    assessed = b.ex_ante_projects()
    panel = b.build_panel(assessed)
    ex_ante_request = sum(p.request_fen for p in assessed)
    ex_ante_cut_total = b.panel_cut(panel, assessed)
    ex_ante_units = tuple(sorted({p.department_code for p in assessed}))
    if seed_size:
        _check(len(assessed) == SEED_EX_ANTE_PROJECTS, f"事前评估项目数为 {len(assessed)}，应为 10")
        _check(len(ex_ante_units) == SEED_EX_ANTE_UNITS, f"事前评估单位数为 {len(ex_ante_units)}，应为 4")
        _check(ex_ante_request == wan_to_fen(SEED_EX_ANTE_REQUEST_WAN), "事前评估金额不是 16904.55 万元")
        _check(ex_ante_cut_total == wan_to_fen(SEED_EX_ANTE_CUT_WAN), "事前评估压减额不是 2090.55 万元")

    # 财政重点评价
    selected = b.select(policies)
    total = selection_total(selected)
    if seed_size:
        counts = Counter(o.object_type for o in selected)
        _check(
            dict(counts) == SEED_SELECTION_COUNTS, f"重点评价对象为 {dict(counts)}，应为 9 个项目、1 项政策、2 个部门"
        )
        _check(total == wan_to_fen(SEED_SELECTION_WAN), f"重点评价金额为 {_wan(total)} 万元，应为 160491.47 万元")
        _check(
            any(o.object_type == POLICY and o.code == _RESIDUAL_POLICY for o in selected), "重点评价政策不是免申即享"
        )

    # 抽查复核
    codes = sorted(d.code for d in b.departments)
    counts_by_code = Counter(r.department_code for r in sample_history)
    seed = default_seed(year, population_hash(codes))
    draw = draw_sample(codes, counts_by_code, policy.sampling.ratio, seed)
    by_year: defaultdict[int, list[str]] = defaultdict(list)
    for record in sample_history:
        by_year[record.year].append(record.department_code)
    coverage = cumulative_coverage([*by_year.values(), draw.members], codes)
    if seed_size:
        _check(len(draw.members) == SEED_SAMPLED, f"抽查部门数为 {len(draw.members)}，应为 11")
        _check(coverage >= policy.sampling.coverage_target, f"累计覆盖率 {coverage} 低于目标")
        _check(not set(draw.members) & set(counts_by_code), "抽查未优先选择从未抽查过的部门")

    indicators = _build_indicators(b)
    monitoring = _build_monitoring(b)
    actuals, computed = _build_actuals(b, indicators, monitoring)
    project_evals, inflated = _build_project_self_evaluations(b, computed)
    department_evals, late = _build_department_self_evaluations(b, computed)
    reviews, flagged = _build_reviews(b, draw.members, computed)
    third_party = _build_third_party(b, selected, policies)
    lights = _department_lights(b, monitoring)
    persistent = _red_not_improving(lights)
    incomplete = _incomplete_targets(b, indicators)
    if seed_size:
        _check(len(incomplete) == 2, f"绩效目标不完整的项目为 {incomplete}，应为 2 个")
        _check(len({code.split("-")[1] for code in incomplete}) == 1, "绩效目标不完整的项目应属于同一部门")
        _check(persistent == b.departments[-1].code, f"持续红灯的部门应为古饶镇，实为 {persistent}")
        pilot = next(p for p in b.projects if p.code == b.roles["cost_pilot"])
        _check(pilot.budget_fen == wan_to_fen(COST_PILOT_BUDGET_WAN), "成本绩效试点项目预算不是 363 万元")
    q4 = {r.project_code: r.spent_fen for r in monitoring if r.quarter == "Q4"}
    low_execution = tuple(
        p.code
        for p in b.projects
        if p.budget_fen and execution_rate(q4[p.code], p.budget_fen) < policy.budget.execution_threshold
    )

    facts = DemoFacts(
        ex_ante_project_codes=tuple(p.code for p in assessed),
        ex_ante_department_codes=ex_ante_units,
        ex_ante_request_fen=ex_ante_request,
        ex_ante_cut_fen=ex_ante_cut_total,
        sampled_department_codes=draw.members,
        sample_seed=seed,
        cumulative_coverage=coverage,
        selected=tuple((o.object_type, o.code, o.amount_fen) for o in selected),
        selection_total_fen=total,
        cost_pilot_project_code=b.roles.get("cost_pilot", ""),
        incomplete_target_project_codes=incomplete,
        department_lights=lights,
        red_not_improving_department_code=persistent,
        low_execution_project_codes=low_execution,
        inflated_project_codes=inflated,
        review_flagged_project_codes=flagged,
        late_or_unpublished_department_codes=late,
        computed_project_scores=tuple(sorted(computed.items())),
    )
    return DemoDistrict(
        year=year,
        size=size,
        district=DISTRICT,
        departments=tuple(b.departments),
        projects=tuple(b.projects),
        policies=tuple(policies),
        sample_history=tuple(sample_history),
        evaluation_history=tuple(sorted(b.evaluations, key=lambda e: (e.year, e.kind, e.object_type, e.object_code))),
        indicators=indicators,
        monitoring=monitoring,
        indicator_actuals=actuals,
        project_self_evaluations=project_evals,
        department_self_evaluations=department_evals,
        panel_scores=tuple(panel),
        review_scores=reviews,
        third_party_scores=third_party,
        facts=facts,
    )


# ----------------------------------------------------------------------------------------------------
# Targets (绩效目标申报表)
# ----------------------------------------------------------------------------------------------------

_COST_INDICATOR = "项目支出控制数"
_QUALITY = (
    ("工作完成合格率", "≥", "95", "%"),
    ("验收合格率", "≥", "98", "%"),
    ("服务覆盖率", "≥", "95", "%"),
    ("资金使用合规率", "=", "100", "%"),
)
_TIMELINESS = (
    ("资金拨付及时率", "≥", "95", "%"),
    ("任务按期完成情况", "定性", "按期完成", ""),
    ("项目完成时限", "≤", "12", "月"),
)


def _build_indicators(b: _Builder) -> tuple[Indicator, ...]:
    out: list[Indicator] = []
    for project in b.projects:
        item = b.items[project.code]
        rng = _rng("targets", project.code)
        d, c = project.department_code, project.code
        rows: list[tuple[str, str, str, str, str, str]] = []
        qty = item.qty or _default_qty(item, rng)
        rows.append(("产出", "数量", qty[0], "≥", str(qty[1]), qty[2]))
        if project.type == JG:
            rows.append(("产出", "质量", "资金使用合规率", "=", "100", "%"))
        else:
            rows.append(("产出", "质量", *rng.choice(_QUALITY)))
        rows.append(("产出", "时效", *rng.choice(_TIMELINESS)))
        rows.append(("产出", "成本", _COST_INDICATOR, "≤", f"{_wan(project.budget_fen)}", "万元"))
        effect = item.effect or _default_effect(item)
        rows.append(("效益", effect[0], *effect[1:]))
        if project.type == SY and rng.random() < 0.45:
            rows.append(("效益", "可持续影响", "长效管理机制健全情况", "定性", "逐步健全", ""))
        if project.type == SY:
            rows.append(("满意度", "服务对象满意度", "服务对象满意度", "≥", rng.choice(("90", "90", "95")), "%"))
        elif rng.random() < 0.5:
            rows.append(("满意度", "服务对象满意度", "干部职工满意度", "≥", "90", "%"))
        if item.role == "incomplete_no_effect":
            rows = [r for r in rows if r[0] != "效益"]
        elif item.role == "incomplete_no_satisfaction":
            rows = [r for r in rows if r[0] != "满意度"]
            rows[0] = (*rows[0][:5], "")  # 数量 indicator without a unit
        out.extend(Indicator(d, c, *row) for row in rows)
    return tuple(out)


def _incomplete_targets(b: _Builder, indicators: Sequence[Indicator]) -> tuple[str, ...]:
    grouped: defaultdict[str, list[TargetIndicator]] = defaultdict(list)
    for ind in indicators:
        value = None if ind.operator == "定性" else Decimal(ind.target)
        grouped[ind.project_code].append(TargetIndicator(ind.level1, ind.operator, value, ind.unit, ind.name))
    return tuple(p.code for p in b.projects if check_targets(p.type, grouped.get(p.code, []), b.policy.targets))


# ----------------------------------------------------------------------------------------------------
# Quarterly monitoring (双监控)
# ----------------------------------------------------------------------------------------------------


def _profile(b: _Builder, index: int, entry: _Dept) -> str:
    if entry.profile:
        return entry.profile
    rng = _rng("profile", _code(index))
    return rng.choices(("green", "yellow_q1", "yellow_q2", "yellow_q3", "yellow_q4"), (66, 12, 9, 7, 6))[0]


def _build_monitoring(b: _Builder) -> tuple[MonitoringRecord, ...]:
    out: list[MonitoringRecord] = []
    for index, (department, entry) in enumerate(zip(b.departments, b.catalogue, strict=True)):
        profile = _profile(b, index, entry)
        exec_gaps, target_gaps = _PROFILES[profile]
        for project in b.by_department[department.code]:
            rng = _rng("monitoring", project.code)
            execution = [
                min(100.0, max(0.0, TIME_PROGRESS[q] - gap + rng.uniform(-4, 4)))
                for q, gap in zip(QUARTERS, exec_gaps, strict=True)
            ]
            if profile == "red_persistent":
                execution[3] = rng.uniform(55, 70)
            elif rng.random() < 0.07:
                execution[3] = rng.uniform(52, 79)  # a slow spender: the year-end execution cut applies
            else:
                execution[3] = min(100.0, max(execution[3], rng.uniform(90, 100)))
            for i in (2, 1, 0):  # cumulative spending never decreases
                execution[i] = min(execution[i], execution[i + 1])
            progress = [
                min(100.0, max(0.0, TIME_PROGRESS[q] - gap + rng.uniform(-3, 3)))
                for q, gap in zip(QUARTERS, target_gaps, strict=True)
            ]
            if profile != "red_persistent" and progress[3] > 96:
                progress[3] = 100.0
            for i in (2, 1, 0):
                progress[i] = min(progress[i], progress[i + 1])
            cents = project.budget_fen // 10_000
            impossible_from = 2 if profile == "red_persistent" and project is b.by_department[department.code][0] else 9
            for i, quarter in enumerate(QUARTERS):
                spent = _fen_of_cents(min(cents, round(cents * execution[i] / 100)))
                exec_gap = TIME_PROGRESS[quarter] - execution[i]
                target_gap = TIME_PROGRESS[quarter] - progress[i]
                if i >= impossible_from:
                    likelihood = "完全不可能"
                elif target_gap >= b.policy.monitoring.yellow_gap or exec_gap >= b.policy.monitoring.red_gap:
                    likelihood = "有可能"
                else:
                    likelihood = "确定能"
                lagging = max(exec_gap, target_gap) >= b.policy.monitoring.yellow_gap
                reason = rng.choice(_LAG_REASONS) if lagging or likelihood != "确定能" else ""
                out.append(
                    MonitoringRecord(department.code, project.code, quarter, spent, _q(progress[i]), likelihood, reason)
                )
    return tuple(out)


def _department_lights(b: _Builder, monitoring: Sequence[MonitoringRecord]) -> tuple[tuple[str, str, str], ...]:
    budget = {p.code: p.budget_fen for p in b.projects}
    grouped: defaultdict[tuple[str, str], list[ProjectQuarter]] = defaultdict(list)
    for r in monitoring:
        grouped[(r.department_code, r.quarter)].append(
            ProjectQuarter(budget[r.project_code], r.spent_fen, r.target_progress, r.likelihood)
        )
    return tuple(
        (d.code, q, department_light(grouped[(d.code, q)], q, b.policy.monitoring).light)
        for d in b.departments
        for q in QUARTERS
    )


def _red_not_improving(lights: Sequence[tuple[str, str, str]]) -> str:
    """The first department red in a quarter and still red in the next one."""
    by_department: defaultdict[str, list[str]] = defaultdict(list)
    for code, _, light in lights:
        by_department[code].append(light)
    for code, row in by_department.items():
        if any(a == RED and c == RED for a, c in pairwise(row)):
            return code
    return ""


# ----------------------------------------------------------------------------------------------------
# Self-evaluation (绩效自评), review (抽查复核) and key evaluation (财政重点评价)
# ----------------------------------------------------------------------------------------------------


def _actual_for(ind: Indicator, quality: float, rng: random.Random, spent_fen: int) -> tuple[Decimal | None, str]:
    """The year's actual for one indicator; `quality` below 1 means the project fell short."""
    if ind.operator == "定性":
        if quality >= 0.97:
            return None, "达成"
        return None, "部分达成" if quality >= 0.75 else "未达成"
    if ind.name == _COST_INDICATOR:
        return _wan(spent_fen), ""
    target = Decimal(ind.target)
    step = _TENTH if ind.unit in ("%", "万元", "公斤") or target != target.to_integral_value() else Decimal(1)
    if ind.operator == "≥":
        if ind.unit == "%":
            value = min(Decimal(100), target * _q(quality * rng.uniform(1.0, 1.05), _CENT))
        else:
            value = target * _q(quality * rng.uniform(1.0, 1.06), _CENT)
    elif ind.operator == "≤":
        value = target if quality >= 0.97 else target / _q(max(quality, 0.5), _CENT)
    else:
        value = target * _q(min(quality, 1.0), _CENT)
    return value.quantize(step, rounding=ROUND_HALF_UP), ""


def _build_actuals(
    b: _Builder, indicators: Sequence[Indicator], monitoring: Sequence[MonitoringRecord]
) -> tuple[tuple[IndicatorActual, ...], dict[str, Decimal]]:
    q4 = {r.project_code: r.spent_fen for r in monitoring if r.quarter == "Q4"}
    grouped: defaultdict[str, list[Indicator]] = defaultdict(list)
    for ind in indicators:
        grouped[ind.project_code].append(ind)
    weak = {b.departments[-1].code} if b.size == "S" else set()
    out: list[IndicatorActual] = []
    computed: dict[str, Decimal] = {}
    for project in b.projects:
        rng = _rng("actuals", project.code)
        shortfall = 0.4 if project.department_code in weak else rng.choice((0.05, 0.12, 0.2, 0.3))
        inputs = []
        for ind in grouped[project.code]:
            quality = rng.uniform(0.55, 0.95) if rng.random() < shortfall else 1.0
            actual, achievement = _actual_for(ind, quality, rng, q4[project.code])
            out.append(IndicatorActual(ind.department_code, ind.project_code, ind.name, actual, achievement))
            target = None if ind.operator == "定性" else Decimal(ind.target)
            inputs.append(IndicatorInput(ind.level1, ind.operator, target, actual, achievement, ind.weight))
        rate = execution_rate(q4[project.code], project.budget_fen)
        score = project_score(inputs, rate, b.policy.self_evaluation)
        computed[project.code] = score.total
    return tuple(out), computed


def _build_project_self_evaluations(
    b: _Builder, computed: Mapping[str, Decimal]
) -> tuple[tuple[ProjectSelfEvaluation, ...], tuple[str, ...]]:
    rng = _rng("claims", b.size)
    eligible = [p.code for p in b.projects if computed[p.code] <= 88]
    count = max(1, len(b.projects) // 80)
    inflated = set(rng.sample(eligible, min(count, len(eligible))))
    out = []
    for project in b.projects:
        score = computed[project.code]
        prng = _rng("claim", project.code)
        if project.code in inflated:
            claimed = min(Decimal(100), score + _q(prng.uniform(6, 11)))
            remark = "全面完成年度绩效目标"
        else:
            claimed = min(Decimal(100), max(Decimal(0), score + _q(prng.uniform(-1.5, 2.5))))
            remark = "全面完成年度绩效目标" if score >= 90 else "部分绩效指标未完全达成，已分析原因并制定整改措施"
        out.append(ProjectSelfEvaluation(project.department_code, project.code, claimed.quantize(_TENTH), remark))
    return tuple(out), tuple(sorted(inflated))


def _build_department_self_evaluations(
    b: _Builder, computed: Mapping[str, Decimal]
) -> tuple[tuple[DepartmentSelfEvaluation, ...], tuple[str, ...]]:
    year = b.year
    due = b.policy.disclosure.due_date(year)
    rng = _rng("publication", b.size)
    codes = [d.code for d in b.departments]
    late_count = max(2, len(codes) * 5 // 54)
    late = set(rng.sample(codes, late_count))
    unpublished = set(rng.sample(sorted(late), max(1, late_count // 3)))
    out = []
    for department in b.departments:
        prng = _rng("department-claim", department.code)
        projects = b.by_department[department.code]
        mean = weighted_score([(p.budget_fen, computed[p.code]) for p in projects]) or Decimal(0)
        claimed = min(Decimal(100), mean + _q(prng.uniform(-1, 2.5))).quantize(_TENTH)
        evaluated = (
            propose_department_evaluation(
                [(p.code, p.type, p.budget_fen) for p in projects], b.policy.targets.development_type
            )
            or max(projects, key=lambda p: (p.budget_fen, p.code)).code
        )
        evaluation = min(Decimal(100), computed[evaluated] + _q(prng.uniform(-3, 1.5))).quantize(_TENTH)
        if department.code in unpublished:
            published: date | None = None
        elif department.code in late:
            published = due + timedelta(days=prng.randint(12, 30))  # late, before the annual report's date
        else:
            published = due - timedelta(days=prng.randint(3, 50))
        out.append(DepartmentSelfEvaluation(department.code, claimed, evaluated, evaluation, published))
    return tuple(out), tuple(sorted(late))


_REVIEW_COMMENTS = (
    "自评资料完整，得分基本客观。",
    "绩效指标佐证材料基本齐全，个别指标完成值依据不足。",
    "自评结论与复核情况基本一致。",
)
_REVIEW_FLAG_COMMENTS = (
    "部分产出指标完成值缺少佐证材料，效益指标未量化，自评得分明显偏高。",
    "资金支出与项目实施进度不匹配，实际完成值与自评填报不符，需说明原因并整改。",
)


def _build_reviews(
    b: _Builder, sampled: Sequence[str], computed: Mapping[str, Decimal]
) -> tuple[tuple[ReviewScore, ...], tuple[str, ...]]:
    members = set(sampled)
    projects = [p for p in b.projects if p.department_code in members]
    names = {d.code: d.name for d in b.departments}
    rng = _rng("review", b.size)
    flagged = set(rng.sample([p.code for p in projects], min(len(projects), max(3, len(projects) // 30))))
    out = []
    for project in projects:
        prng = _rng("review", project.code)
        base = computed[project.code]
        if project.code in flagged:
            score = max(Decimal(0), base - _q(prng.uniform(10.5, 16)))
            comment = prng.choice(_REVIEW_FLAG_COMMENTS)
        else:
            score = min(Decimal(100), max(Decimal(0), base + _q(prng.uniform(-3, 1.5))))
            comment = prng.choice(_REVIEW_COMMENTS)
        department = names[project.department_code]
        out.append(
            ReviewScore(
                project.department_code,
                department,
                project.code,
                project.name,
                score.quantize(_TENTH),
                comment,
                _REVIEWER,
            )
        )
    return tuple(out), tuple(sorted(flagged))


# Scores of the key evaluation objects in the rule's order: 9 projects, the policy, 2 departments.
_THIRD_PARTY_SCORES = ("92.5", "88.0", "94.0", "85.5", "90.5", "81.5", "76.5", "83.0", "57.5", "79.5", "87.5", "91.0")
_FINDINGS = {
    "优": "{name}绩效目标明确，资金拨付及时，产出和效益指标全面完成，管理制度健全、档案资料规范。建议总结经验做法，继续优先保障。",
    "良": "{name}总体实施情况较好，主要产出指标基本完成；存在部分绩效指标细化量化不足、资金支付进度偏慢等问题。建议完善指标体系，加快支出进度。",
    "中": "{name}部分绩效目标未完成，预算执行率偏低，项目管理和档案资料不够规范。建议压减下年度预算并限期整改。",
    "差": "{name}资金使用效益不明显，多项绩效指标未达成，存在资金闲置和养护计划未落实等问题。建议原则上取消，重新论证后再行申报。",
}
_POLICY_FINDING = (
    "{name}政策目标与全区产业发展方向一致，但资金兑付率不高，部分符合条件的企业尚未兑付到位，"
    "政策宣传和企业知晓度不足。建议统筹财力及时兑付免申即享资金，提高兑付率。"
)


def _build_third_party(
    b: _Builder, selected: Sequence[SelectedObject], policies: Sequence[DemoPolicy]
) -> tuple[ThirdPartyScore, ...]:
    out = []
    for index, obj in enumerate(selected):
        score = Decimal(_THIRD_PARTY_SCORES[index % len(_THIRD_PARTY_SCORES)])
        grade = grade_for(score, b.policy.grades)
        template = _POLICY_FINDING if obj.object_type == POLICY else _FINDINGS.get(grade, _FINDINGS["良"])
        decision, process, output, benefit = _dimension_scores(
            score, [d.points for d in b.policy.fiscal_evaluation.dimensions.values()]
        )
        out.append(
            ThirdPartyScore(
                OBJECT_TYPE_LABELS[obj.object_type],
                obj.code,
                obj.name,
                score,
                decision,
                process,
                output,
                benefit,
                template.format(name=obj.name),
                _EVALUATOR,
            )
        )
    return tuple(out)


def _dimension_scores(score: Decimal, points: Sequence[Decimal]) -> list[Decimal]:
    """A total split over the 指标体系's dimensions in proportion to their points, to the half point, the last one
    taking what rounding leaves so that they add up to the total."""
    half = Decimal("0.5")
    parts = [(p * score / 100 / half).quantize(Decimal(1), rounding=ROUND_HALF_UP) * half for p in points[:-1]]
    return [*parts, score - sum(parts, Decimal(0))]


# ----------------------------------------------------------------------------------------------------
# Workbooks
# ----------------------------------------------------------------------------------------------------


def _fields(obj: Any, **money: int) -> dict[str, Any]:
    row = {name: getattr(obj, name) for name in obj.__slots__}
    row = {name: None if value == "" else value for name, value in row.items()}  # blank cell, not ""
    for name, fen in money.items():
        row[name] = _wan(fen)
    return row


def base_rows(model: DemoDistrict) -> dict[str, list[dict[str, Any]]]:
    """The base workbook's rows, per sheet."""
    return {
        "部门": [_fields(d) for d in model.departments],
        "项目": [_fields(p, budget_wan=p.budget_fen, request_wan=p.request_fen) for p in model.projects],
        "财政政策": [_fields(p, funds_wan=p.funds_fen) for p in model.policies],
        "历年抽查": [_fields(r) for r in model.sample_history],
        "历年评价": [_fields(e) for e in model.evaluation_history],
        "工作记事": seed_events(model.year),
    }


def seed_events(year: int) -> list[dict[str, Any]]:
    """The seed report's events of the year: its place in the city's assessment, two trainings, the articles."""
    return [
        {
            "kind": "考核",
            "when": None,
            "title": "绩效目标管理、绩效运行监控、绩效评价实施、绩效评价结果应用等",
            "detail": "三区一县",
            "rank": 2,
        },
        {"kind": "培训", "when": f"{year}-11", "title": "成本预算绩效管理业务培训", "detail": None, "rank": None},
        {"kind": "培训", "when": f"{year}-12", "title": "绩效管理工作业务全方位培训", "detail": None, "rank": None},
        {
            "kind": "宣传",
            "when": f"{year}-08-20",
            "title": "淮北市烈山区财政管理突出绩效导向",
            "detail": "安徽经济报和淮北日报",
            "rank": None,
        },
    ]


def _group(rows: Iterable[Any]) -> defaultdict[str, list[Any]]:
    grouped: defaultdict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.department_code].append(row)
    return grouped


def _prune(folder: Path, keep: set[str]) -> None:
    """Remove workbooks an earlier (larger) generation left behind, so the folder is exactly this district."""
    if folder.is_dir():
        for path in folder.glob("*.xlsx"):
            if path.name not in keep:
                path.unlink()


def generate_demo(
    out_dir: Path, year: int = 2024, policy: Policy | None = None, *, size: str = "S", forms: str = "submissions"
) -> DemoFiles:
    """Write the demo district's base workbook and its departments' forms (under `forms`); the same inputs, the
    same cells."""
    model = district_model(year, size, policy)
    fast = size != "S"
    stamp = datetime(year, 1, 1)  # the workbooks' creation time: a rerun finds the same bytes and keeps them
    out_dir = Path(out_dir)
    base = write_workbook(
        out_dir / "data" / f"{DISTRICT}{year}基础数据.xlsx",
        BASE,
        base_rows(model),
        fast=fast,
        stamp=stamp,
        district=DISTRICT,
        year=year,
    )
    root = out_dir / forms
    codes = [d.code for d in model.departments]
    names = {f"{code}.xlsx" for code in codes}

    indicators = _group(model.indicators)
    folder = root / "targets"
    _prune(folder, names)
    for code in codes:
        rows = [_fields(i) for i in indicators[code]]
        write_workbook(
            folder / f"{code}.xlsx", TARGETS, {"绩效指标": rows}, fast=fast, stamp=stamp, district=DISTRICT, year=year
        )

    write_workbook(
        root / "panel_scores" / "事前评估评分.xlsx",
        PANEL_SCORES,
        {"评估评分": [_fields(r, proposed_cut_wan=r.proposed_cut_fen) for r in model.panel_scores]},
        fast=fast,
        stamp=stamp,
        district=DISTRICT,
        year=year,
    )

    by_quarter: dict[str, defaultdict[str, list[MonitoringRecord]]] = {
        q: _group(r for r in model.monitoring if r.quarter == q) for q in QUARTERS
    }
    for quarter, grouped in by_quarter.items():
        folder = root / "monitoring" / quarter
        _prune(folder, names)
        for code in codes:
            rows = [_fields(r, spent_wan=r.spent_fen) for r in grouped[code]]
            write_workbook(
                folder / f"{code}.xlsx",
                MONITORING,
                {"项目监控": rows},
                fast=fast,
                stamp=stamp,
                district=DISTRICT,
                year=year,
            )

    actuals = _group(model.indicator_actuals)
    claims = _group(model.project_self_evaluations)
    departments = {r.department_code: r for r in model.department_self_evaluations}
    folder = root / "self_evaluation"
    _prune(folder, names)
    for code in codes:
        sheets = {
            "指标完成": [_fields(r) for r in actuals[code]],
            "项目自评": [_fields(r) for r in claims[code]],
            "部门自评": [_fields(departments[code])],
        }
        write_workbook(
            folder / f"{code}.xlsx", SELF_EVALUATION, sheets, fast=fast, stamp=stamp, district=DISTRICT, year=year
        )

    write_workbook(
        root / "review_scores" / "抽查复核评分.xlsx",
        REVIEW_SCORES,
        {"复核评分": [_fields(r) for r in model.review_scores]},
        fast=fast,
        stamp=stamp,
        district=DISTRICT,
        year=year,
    )
    write_workbook(
        root / "third_party_scores" / "重点评价评分.xlsx",
        THIRD_PARTY_SCORES,
        {"重点评价": [_fields(r) for r in model.third_party_scores]},
        fast=fast,
        stamp=stamp,
        district=DISTRICT,
        year=year,
    )
    return DemoFiles(base=base, submissions=root)

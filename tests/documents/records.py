"""Records of a small test district, arranged directly in the database (SQLite and PostgreSQL alike), and
helpers to read the official format back from .docx files. Tests compute every expected figure from these."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from docx.oxml.ns import qn
from sqlmodel import Session

from models.tables import (
    BudgetRecommendation,
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
)
from perfcycle.money import wan_to_fen
from perfcycle.policy import CostPilotPolicy, load_policy_file, policy_from_json
from perfcycle.rules.budget import budget_decision
from perfcycle.settings import DEMO_POLICY_DIR

YEAR = 2024
DISTRICT = "测试区"
PILOT = "P04"


@dataclass
class Arranged:
    cycle_id: int
    departments: list[Department]
    projects: list[Project]
    assessments: list[ExAnteAssessment]
    lights: list[DepartmentLight]
    selections: list[Selection]
    recommendations: list[BudgetRecommendation]
    sampled: dict[int, set[str]] = field(default_factory=dict)


def _id(row: object) -> int:
    """The primary key of a flushed row."""
    value = getattr(row, "id", None)
    assert isinstance(value, int)
    return value


def policy_json(pilot: str | None = PILOT) -> str:
    policy = load_policy_file(DEMO_POLICY_DIR / "2024.yaml")
    update = {"district": DISTRICT, "issuer": f"{DISTRICT}财政局", "cost_pilot": CostPilotPolicy(project_code=pilot)}
    return policy.model_copy(update=update).as_json()


# Projects of the year: (code, department, name, attribute, budget 万元); P01..P03 went through ex-ante.
PROJECTS = [
    ("P01", "D01", "测试项目01", "新增", "6200.45"),
    ("P02", "D01", "测试项目02", "延续", "3100.10"),
    ("P03", "D02", "测试项目03", "新增", "7604.00"),
    ("P04", "D03", "公车运行", "经常性", "363.00"),
    ("P05", "D04", "测试项目05", "经常性", "820.50"),
    ("P06", "D05", "测试项目06", "经常性", "1500.00"),
    ("P07", "D05", "测试项目07", "经常性", "260.00"),
    ("P08", "D06", "测试项目08", "经常性", "99.99"),
]
# Ex-ante: (project, total, conclusion, cut 万元, comment).
ASSESSMENTS = [
    ("P01", "85.00", "予以支持", "300.15", "立项必要。"),
    ("P02", "70.50", "调整后支持", "620.02", ""),
    ("P03", "55.00", "不予支持", "7604.00", ""),
]
# Target reviews; P08 has none at all.
TARGET_STATUS = {f"P0{i}": "approved" for i in range(1, 7)} | {"P07": "returned"}
RETURN_REASON = "缺少满意度指标"
# Declared indicators (三级指标): (project, level 1, level 2, name, operator, target, text, unit, weight).
INDICATORS = [
    ("P01", "产出", "数量", "新建校舍面积", "≥", "12000", "", "平方米", None),
    ("P01", "效益", "社会效益", "新增学位数", "≥", "1350.5", "", "个", "30"),
    ("P01", "满意度", "服务对象满意度", "家长满意度", "≥", "90", "", "%", None),
    ("P02", "产出", "质量", "工程验收合格率", "=", "100", "", "%", None),
    ("P02", "效益", "可持续影响", "长效管护机制", "定性", None, "建立并运行", "", None),
    ("P07", "产出", "时效", "按期完成率", "≥", "95", "", "%", None),
]
# Department overall lights that are not green: D02 red → green, D03 red → red, D04 yellow.
NOT_GREEN = {"Q1": {"D02": "red", "D03": "red", "D04": "yellow"}, "Q2": {"D03": "red"}}
# Sampling rotation: two imported historical draws, then this year's.
SAMPLED = {2022: {"D01", "D02"}, 2023: {"D03", "D04", "D02"}, YEAR: {"D05", "D06"}}
# Budget recommendations, as the rule gives them: (project, final grade, year-end execution rate). P01 and P02 come
# after an ex-ante cut, P03 was 不予支持, P07's targets were returned.
RECOMMENDATIONS = [
    ("P01", "良", "1"),
    ("P02", "中", "1"),
    ("P03", "优", "1"),
    ("P04", "差", "1"),
    ("P05", "中", "0.75"),
    ("P06", "优", "1"),
    ("P07", "良", "1"),
]


def arrange(session: Session, policy: str | None = None) -> Arranged:
    """The test district's records, its cycle under `policy` (the text a cycle records; the test district's
    variant of the demo's policy by default)."""
    policy = policy or policy_json()
    district = policy_from_json(policy).district
    departments = [Department(code=f"D{i:02d}", name=f"测试部门{i:02d}") for i in range(1, 11)]
    cycles = {
        year: Cycle(year=year, budget_year=year + 2, district=district, status="historical") for year in (2022, 2023)
    }
    cycles[YEAR] = Cycle(year=YEAR, budget_year=YEAR + 2, district=district, policy_json=policy)
    session.add_all([*departments, *cycles.values()])
    session.flush()
    dept = {d.code: _id(d) for d in departments}
    cid = _id(cycles[YEAR])

    projects = [
        Project(
            year=YEAR,
            code=code,
            department_id=dept[owner],
            name=name,
            type="事业发展类",
            attribute=attribute,
            budget_fen=wan_to_fen(budget),
            request_fen=wan_to_fen(budget),
        )
        for code, owner, name, attribute, budget in PROJECTS
    ]
    other_year = Project(
        year=2023, code="P01", department_id=dept["D01"], name="旧项目", type="事业发展类", attribute="延续"
    )
    fiscal_policy = FiscalPolicy(
        year=YEAR, code="ZC01", name="测试财政政策", department_id=dept["D02"], funds_fen=wan_to_fen("4321.09")
    )
    samples = {
        year: Sample(cycle_id=_id(cycles[year]), seed="s", size=len(c), imported=year != YEAR)
        for year, c in SAMPLED.items()
    }
    session.add_all([*projects, other_year, fiscal_policy, *samples.values()])
    session.flush()
    proj = {p.code: p for p in projects}
    pid = {p.code: _id(p) for p in projects}

    assessments = [
        ExAnteAssessment(
            cycle_id=cid,
            project_id=pid[code],
            total=Decimal(total),
            conclusion=conclusion,
            request_fen=proj[code].request_fen,
            cut_fen=wan_to_fen(cut),
            comment=comment,
        )
        for code, total, conclusion, cut, comment in ASSESSMENTS
    ]
    reviews = [
        TargetReview(cycle_id=cid, project_id=pid[c], status=s, reasons=RETURN_REASON if s == "returned" else "")
        for c, s in TARGET_STATUS.items()
    ]
    indicators = [
        Indicator(
            cycle_id=cid,
            project_id=pid[code],
            level1=level1,
            level2=level2,
            name=name,
            operator=operator,
            target_value=Decimal(value) if value is not None else None,
            target_text=text,
            unit=unit,
            weight=Decimal(weight) if weight is not None else None,
        )
        for code, level1, level2, name, operator, value, text, unit, weight in INDICATORS
    ]
    lights = [
        DepartmentLight(
            cycle_id=cid,
            department_id=dept[d.code],
            quarter=quarter,
            budget_fen=wan_to_fen("100"),
            spent_fen=wan_to_fen("20"),
            execution_progress=Decimal("20.00"),
            target_progress=Decimal("10.00"),
            execution_light=special.get(d.code, "green"),
            target_light=special.get(d.code, "green"),
            light=special.get(d.code, "green"),
        )
        for quarter, special in NOT_GREEN.items()
        for d in departments
    ]
    issued, due = dt.date(2024, 4, 10), dt.date(2024, 4, 20)
    notices = [
        WarningNotice(
            cycle_id=cid,
            department_id=dept["D02"],
            quarter="Q1",
            level="red",
            issued_on=issued,
            response_due=due,
            improved=True,
        ),
        WarningNotice(
            cycle_id=cid,
            department_id=dept["D03"],
            quarter="Q1",
            level="red",
            issued_on=issued,
            response_due=due,
            improved=False,
        ),
        WarningNotice(cycle_id=cid, department_id=dept["D04"], quarter="Q1", level="yellow", issued_on=issued),
    ]
    record = MonitoringRecord(
        cycle_id=cid,
        project_id=pid["P03"],
        quarter="Q1",
        spent_fen=0,
        target_progress=Decimal("0"),
        likelihood="有可能",
        reason="招标延迟",
        execution_progress=Decimal("0.00"),
        execution_light="red",
        target_light="red",
        light="red",
    )

    evaluations = [
        Evaluation(
            cycle_id=cid,
            kind="self",
            object_type="project",
            object_code=code,
            department_id=proj[code].department_id,
            score=Decimal("82.00"),
            grade="良",
            claimed_score=Decimal("95.00") if code == "P02" else Decimal("83.00"),
            flagged=code == "P02",
        )
        for code in ("P01", "P02", "P03", "P04", "P05", "P06", "P07")  # P08 not self-evaluated: 7 of 8
    ]
    evaluations += [
        Evaluation(
            cycle_id=cid,
            kind="self",
            object_type="department",
            object_code=code,
            department_id=dept[code],
            score=Decimal("81.00"),
            grade="良",
            claimed_score=Decimal("82.00"),
        )
        for code in ("D01", "D02", "D03", "D04", "D05")  # D06..D10 sent no overall self-evaluation: 5 of 10
    ]
    evaluations += [
        Evaluation(cycle_id=cid, kind="department", object_type="project", object_code="P01", score=Decimal("88")),
        Evaluation(cycle_id=cid, kind="department", object_type="project", object_code="P06", score=Decimal("90")),
        Evaluation(
            cycle_id=cid,
            kind="review",
            object_type="project",
            object_code="P06",
            score=Decimal("65.00"),
            grade="中",
            flagged=True,
            flag_reason="复核得分低于自评17分",
        ),
        Evaluation(
            cycle_id=cid, kind="review", object_type="project", object_code="P07", score=Decimal("80.00"), grade="良"
        ),
        Evaluation(
            cycle_id=cid,
            kind="fiscal",
            object_type="project",
            object_code="P01",
            score=Decimal("91.50"),
            grade="优",
            evaluator="某咨询公司",
            findings="项目按期完成。\n资金使用规范。",
        ),
    ]
    members = [
        SampleMember(sample_id=_id(samples[year]), department_id=dept[code])
        for year, codes in SAMPLED.items()
        for code in sorted(codes)
    ]
    selections = [
        Selection(
            cycle_id=cid,
            object_type="project",
            object_code="P01",
            name="测试项目01",
            amount_fen=proj["P01"].budget_fen,
            rank=1,
        ),
        Selection(
            cycle_id=cid,
            object_type="project",
            object_code="P03",
            name="测试项目03",
            amount_fen=proj["P03"].budget_fen,
            rank=2,
        ),
        Selection(
            cycle_id=cid,
            object_type="policy",
            object_code="ZC01",
            name="测试财政政策",
            amount_fen=fiscal_policy.funds_fen,
            rank=1,
        ),
        Selection(
            cycle_id=cid,
            object_type="department",
            object_code="D01",
            name="测试部门01",
            amount_fen=proj["P01"].budget_fen + proj["P02"].budget_fen,
            rank=1,
        ),
    ]
    budget_policy = policy_from_json(policy)
    ex_ante = {code: (conclusion, wan_to_fen(cut)) for code, _, conclusion, cut, _ in ASSESSMENTS}
    recommendations = []
    for code, grade, rate in RECOMMENDATIONS:
        conclusion, ex_ante_cut = ex_ante.get(code, (None, 0))
        decision = budget_decision(
            proj[code].request_fen,
            grade,
            Decimal(rate),
            TARGET_STATUS.get(code) == "approved",
            budget_policy.budget,
            budget_policy.targets.no_targets_reason,
            ex_ante_conclusion=conclusion,
            ex_ante_cut_fen=ex_ante_cut,
        )
        recommendations.append(
            BudgetRecommendation(
                cycle_id=cid,
                project_id=pid[code],
                budget_year=YEAR + 2,
                request_fen=proj[code].request_fen,
                ex_ante_cut_fen=proj[code].request_fen - decision.base_fen,
                score=Decimal("80.00"),
                score_source="self",
                grade=grade,
                execution_rate=Decimal(rate),
                cut_ratio=decision.cut_ratio,
                grade_cut_ratio=decision.grade_cut_ratio,
                execution_cut_ratio=decision.execution_cut_ratio,
                recommended_fen=decision.recommended_fen,
                priority=decision.priority,
                reason_kind=decision.reason_kind,
                reason=decision.reason,
                explanation=decision.explanation,
            )
        )
    due_on = dt.date(2025, 3, 1)
    publications = [
        Publication(cycle_id=cid, department_id=dept["D01"], due_on=due_on, published_on=dt.date(2025, 2, 20)),
        Publication(cycle_id=cid, department_id=dept["D02"], due_on=due_on, published_on=dt.date(2025, 3, 9)),
        Publication(cycle_id=cid, department_id=dept["D03"], due_on=due_on),
    ]
    session.add_all(
        [
            *assessments,
            *reviews,
            *indicators,
            *lights,
            *notices,
            record,
            *evaluations,
            *members,
            *selections,
            *recommendations,
            *publications,
        ]
    )
    session.commit()
    return Arranged(
        cycle_id=cid,
        departments=departments,
        projects=projects,
        assessments=assessments,
        lights=lights,
        selections=selections,
        recommendations=recommendations,
        sampled={_id(cycles[year]): codes for year, codes in SAMPLED.items()},
    )


def mm(length: object) -> float:
    """A docx length in millimetres (python-docx types it as Length | None)."""
    assert length is not None
    return float(length.mm)  # type: ignore[attr-defined]


def east_asia(run: object) -> str | None:
    """The w:eastAsia font a run declares."""
    rpr = run._element.rPr  # type: ignore[attr-defined]
    assert rpr is not None and rpr.rFonts is not None
    return rpr.rFonts.get(qn("w:eastAsia"))


def pct(numerator: int, denominator: int) -> str:
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.1"))
    text = f"{value:f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"

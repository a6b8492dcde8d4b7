"""The annual report and the other documents, rendered from records arranged directly in the database
(SQLite and PostgreSQL alike); every expected figure is computed here from the arranged records."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlmodel import Session

from models.tables import (
    BudgetRecommendation,
    Cycle,
    Department,
    DepartmentLight,
    Evaluation,
    ExAnteAssessment,
    FiscalPolicy,
    MonitoringRecord,
    Project,
    Publication,
    Sample,
    SampleMember,
    Selection,
    TargetReview,
    WarningNotice,
)
from perfcycle.documents import (
    annual_report_context,
    ex_ante_report_context,
    fiscal_evaluation_report_contexts,
    render_docx,
    review_result_context,
    self_evaluation_summary_context,
    warning_notice_contexts,
    write_budget_table,
    write_monitoring_summary,
)
from perfcycle.documents.contexts import ContextError
from perfcycle.documents.renderer import BODY_FONT, docx_text, render_text
from perfcycle.money import fmt_wan, wan_to_fen
from perfcycle.policy import CostPilotPolicy, load_policy_file
from perfcycle.settings import PROJECT_ROOT

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


def _policy_json(pilot: str | None = PILOT) -> str:
    policy = load_policy_file(PROJECT_ROOT / "perfcycle" / "policies" / "2024.yaml")
    return policy.model_copy(update={"district": DISTRICT, "cost_pilot": CostPilotPolicy(project_code=pilot)}).as_json()


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
# Department overall lights that are not green: D02 red → green, D03 red → red, D04 yellow.
NOT_GREEN = {"Q1": {"D02": "red", "D03": "red", "D04": "yellow"}, "Q2": {"D03": "red"}}
# Sampling rotation: two imported historical draws, then this year's.
SAMPLED = {2022: {"D01", "D02"}, 2023: {"D03", "D04", "D02"}, YEAR: {"D05", "D06"}}
# Budget recommendations: (project, grade, cut ratio, priority, execution cut ratio).
RECOMMENDATIONS = [
    ("P01", "优", "0", True, "0"),
    ("P02", "良", "0", False, "0"),
    ("P03", "中", "0.10", False, "0"),
    ("P04", "差", "1.00", False, "0"),
    ("P05", "良", "0.25", False, "0.25"),
    ("P06", "中", "0.10", False, "0"),
    ("P07", "良", "0", True, "0"),
]


def _arrange(session: Session) -> Arranged:
    departments = [Department(code=f"D{i:02d}", name=f"测试部门{i:02d}") for i in range(1, 11)]
    cycles = {
        year: Cycle(year=year, budget_year=year + 2, district=DISTRICT, status="historical") for year in (2022, 2023)
    }
    cycles[YEAR] = Cycle(year=YEAR, budget_year=YEAR + 2, district=DISTRICT, policy_json=_policy_json())
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
    reviews = [TargetReview(cycle_id=cid, project_id=pid[c], status=s) for c, s in TARGET_STATUS.items()]
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
        )
        for code in ("D01", "D02", "D03", "D04", "D05")
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
    recommendations = [
        BudgetRecommendation(
            cycle_id=cid,
            project_id=pid[code],
            budget_year=YEAR + 2,
            request_fen=proj[code].request_fen,
            score=Decimal("80.00"),
            score_source="self",
            grade=grade,
            cut_ratio=Decimal(cut),
            grade_cut_ratio=Decimal(cut),
            execution_cut_ratio=Decimal(execution_cut),
            recommended_fen=int(proj[code].request_fen * (1 - Decimal(cut))),
            priority=priority,
            reason=f"评价等级{grade}",
        )
        for code, grade, cut, priority, execution_cut in RECOMMENDATIONS
    ]
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


def _mm(length: object) -> float:
    """A docx length in millimetres (python-docx types it as Length | None)."""
    assert length is not None
    return float(length.mm)  # type: ignore[attr-defined]


def _east_asia(run: object) -> str | None:
    """The w:eastAsia font a run declares."""
    rpr = run._element.rPr  # type: ignore[attr-defined]
    assert rpr is not None and rpr.rFonts is not None
    return rpr.rFonts.get(qn("w:eastAsia"))


@pytest.fixture
def arranged(session: Session) -> Arranged:
    return _arrange(session)


def _pct(numerator: int, denominator: int) -> str:
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.1"))
    text = f"{value:f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


# ---------------------------------------------------------------------------------------------- context


def test_annual_context_figures(session: Session, arranged: Arranged) -> None:
    ctx = annual_report_context(session, arranged.cycle_id)
    assessed = {a.project_id for a in arranged.assessments}
    assert ctx.ex_ante_projects == len(assessed)
    assert ctx.ex_ante_units == len({p.department_id for p in arranged.projects if p.id in assessed})
    assert ctx.ex_ante_amount_wan == fmt_wan(sum(a.request_fen for a in arranged.assessments))
    assert ctx.ex_ante_cut_wan == fmt_wan(sum(a.cut_fen for a in arranged.assessments))
    assert (ctx.ex_ante_supported, ctx.ex_ante_adjusted, ctx.ex_ante_rejected) == (1, 1, 1)
    assert ctx.departments_total == len(arranged.departments)
    assert ctx.monitoring_departments == len({row.department_id for row in arranged.lights})
    assert ctx.monitoring_full_coverage
    assert [(q.quarter, q.green, q.yellow, q.red) for q in ctx.quarters] == [("Q1", 7, 1, 2), ("Q2", 9, 0, 1)]
    assert [(r.name, r.improved) for r in ctx.red_departments] == [("测试部门02", True), ("测试部门03", False)]
    assert ctx.red_improved_count == 1
    assert (ctx.red_notices, ctx.yellow_notices) == (2, 1)
    assert ctx.self_eval_projects == 7 and ctx.self_eval_departments == 5
    assert ctx.self_eval_coverage_pct == _pct(7, len(arranged.projects))
    assert ctx.department_evaluations == 2
    assert ctx.sample_size == len(arranged.sampled[arranged.cycle_id])
    assert ctx.sample_ratio_pct == "20%"
    covered = set().union(*arranged.sampled.values())
    assert ctx.cumulative_coverage_pct == _pct(len(covered), len(arranged.departments))
    assert ctx.coverage_target_pct == "60%"
    assert ctx.coverage_target_met and not ctx.coverage_target_exceeded  # 6 of 10 = 60%
    assert (ctx.fiscal_projects, ctx.fiscal_policies, ctx.fiscal_departments) == (2, 1, 1)
    assert ctx.fiscal_amount_wan == fmt_wan(sum(s.amount_fen for s in arranged.selections))
    recs = arranged.recommendations
    assert ctx.budget_projects == len(recs)
    assert ctx.budget_request_wan == fmt_wan(sum(r.request_fen for r in recs))
    assert ctx.budget_recommended_wan == fmt_wan(sum(r.recommended_fen for r in recs))
    assert ctx.budget_cut_wan == fmt_wan(sum(r.request_fen - r.recommended_fen for r in recs))
    assert ctx.budget_cut_projects == sum(1 for r in recs if r.recommended_fen < r.request_fen)
    assert ctx.budget_priority_projects == sum(1 for r in recs if r.priority)
    assert ctx.budget_cancelled_projects == 1 and ctx.budget_low_execution_projects == 1
    assert ctx.cost_pilot is not None
    pilot = next(p for p in arranged.projects if p.code == PILOT)
    assert ctx.cost_pilot.budget_wan == fmt_wan(pilot.budget_fen)
    assert ctx.cost_pilot.label == "测试部门03公车运行项目"
    assert ctx.targets_approved == 6 and ctx.targets_returned == 1 and ctx.targets_missing == 2
    assert ctx.late_publications == 2 and ctx.inflated_self_evaluations == 1 and ctx.review_flags == 1
    problems = "".join(ctx.problems)
    assert "2家部门未按期公开" in problems and "测试部门02、测试部门03" in problems
    assert "测试部门03（第一季度）" in problems
    assert "1个自评对象" in problems and "1个项目复核结果" in problems and "2个项目绩效目标" in problems


def test_unknown_cycle_raises(session: Session) -> None:
    with pytest.raises(ContextError):
        annual_report_context(session, 999)


# ---------------------------------------------------------------------------------------------- annual report docx


def test_annual_report_docx(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    ctx = annual_report_context(session, arranged.cycle_id)
    path = tmp_path / "annual.docx"
    sha = render_docx("annual_report.md.j2", ctx, path)
    assert len(sha) == 64
    doc = Document(str(path))
    paragraphs = [p.text for p in doc.paragraphs if p.text]
    text = "\n".join(paragraphs)
    assert paragraphs[0] == f"关于{DISTRICT}{YEAR}年区级预算绩效管理工作开展情况的说明"
    headings = [
        "一、实施全过程预算绩效管理的做法",
        "（一）严把政策项目准入关",
        "（二）严把绩效运行监控关",
        "（三）严把绩效评价质量关",
        "（四）严把评价结果应用关",
        "（五）全力推进成本预算绩效管理试点工作",
        "（六）加强绩效管理培训宣传力度",
        "二、存在问题",
        "三、下一步工作打算",
    ]
    positions = [paragraphs.index(h) for h in headings]
    assert positions == sorted(positions)
    for n in "一二三四":
        assert any(p.startswith(f"（{n}）") for p in paragraphs[paragraphs.index("三、下一步工作打算") :])

    assessed = {a.project_id for a in arranged.assessments}
    units = len({p.department_id for p in arranged.projects if p.id in assessed})
    amount = fmt_wan(sum(a.request_fen for a in arranged.assessments))
    cut = fmt_wan(sum(a.cut_fen for a in arranged.assessments))
    assert f"对{units}家单位{len(assessed)}个项目开展评估，涉及资金{amount}万元，压减资金{cut}万元" in text
    assert f"{YEAR}年区本级{len(arranged.departments)}家部门实现项目支出和整体支出监控全覆盖" in text
    covered = set().union(*arranged.sampled.values())
    size = len(arranged.sampled[arranged.cycle_id])
    coverage = _pct(len(covered), len(arranged.departments))
    assert f"选取{size}个部门开展抽查复核工作，抽查比例20%，累计部门覆盖率已达到{coverage}" in text
    assert "达到60%的目标要求" in text
    fiscal = fmt_wan(sum(s.amount_fen for s in arranged.selections))
    assert f"2个项目、1项财政政策以及1家部门的整体支出等进行重点绩效评价，涉及资金{fiscal}万元" in text
    recs = arranged.recommendations
    assert f"在编制{YEAR + 2}年部门预算时" in text
    assert f"申请资金{fmt_wan(sum(r.request_fen for r in recs))}万元" in text
    assert f"建议安排{fmt_wan(sum(r.recommended_fen for r in recs))}万元" in text
    pilot = next(p for p in arranged.projects if p.code == PILOT)
    assert f"公车运行项目，涉及资金{fmt_wan(pilot.budget_fen)}万元" in text
    assert "一是绩效评价结果公开不够规范" in text and "五是" in text
    assert "三区一县" not in text

    # Official format.
    section = doc.sections[0]
    assert abs(_mm(section.page_width) - 210) < 0.1 and abs(_mm(section.page_height) - 297) < 0.1
    assert abs(_mm(section.top_margin) - 37) < 0.1 and abs(_mm(section.bottom_margin) - 35) < 0.1
    assert abs(_mm(section.left_margin) - 28) < 0.1 and abs(_mm(section.right_margin) - 26) < 0.1
    body = next(p for p in doc.paragraphs if p.text.startswith(f"{YEAR}年，区财政局"))
    assert _east_asia(body.runs[0]) == BODY_FONT

    # Determinism: rendering again gives the same text and the same bytes.
    again = tmp_path / "again.docx"
    assert render_docx("annual_report.md.j2", annual_report_context(session, arranged.cycle_id), again) == sha
    assert docx_text(again) == docx_text(path)


def test_annual_report_without_records(session: Session) -> None:
    """An empty cycle still renders: sections say there is nothing rather than failing or printing 0.00."""
    cycle = Cycle(year=YEAR, budget_year=YEAR + 2, district=DISTRICT, policy_json=_policy_json(None))
    session.add(cycle)
    session.commit()
    assert cycle.id is not None
    text = render_text("annual_report.md.j2", annual_report_context(session, cycle.id))
    assert "本年度无达到评估标准的项目" in text
    assert "未确定成本预算绩效管理试点项目" in text
    assert "各环节未发现突出问题" in text


# ---------------------------------------------------------------------------------------------- other documents


def test_other_documents_render(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    ex_ante = ex_ante_report_context(session, arranged.cycle_id)
    assert ex_ante.amount_wan == fmt_wan(sum(a.request_fen for a in arranged.assessments))
    render_docx("ex_ante_report.md.j2", ex_ante, tmp_path / "ex_ante.docx")
    assert "立项必要。" in docx_text(tmp_path / "ex_ante.docx")

    notices = warning_notice_contexts(session, arranged.cycle_id, "Q1")
    assert [(n.department_code, n.light, n.notice_kind) for n in notices] == [
        ("D02", "red", "预警通知书"),
        ("D03", "red", "预警通知书"),
        ("D04", "yellow", "提醒函"),
    ]
    assert notices[0].response_due == "2024年4月20日"
    assert [p.project_code for p in notices[0].projects] == ["P03"]
    render_docx("warning_notice.md.j2", notices[0], tmp_path / "notice.docx")
    notice_text = docx_text(tmp_path / "notice.docx")
    assert "测试部门02：" in notice_text and "2024年4月20日前" in notice_text and "招标延迟" in notice_text
    with pytest.raises(ContextError):
        warning_notice_contexts(session, arranged.cycle_id, "Q5")

    review = review_result_context(session, arranged.cycle_id)
    assert review.sample_size == 2 and review.flagged_count == 1
    assert [r.difference for r in review.rows] == ["-17.00", "-2.00"]
    render_docx("review_result.md.j2", review, tmp_path / "review.docx")

    reports = fiscal_evaluation_report_contexts(session, arranged.cycle_id)
    assert [(r.object_type, r.object_code) for r in reports] == [
        ("project", "P01"),
        ("project", "P03"),
        ("policy", "ZC01"),
        ("department", "D01"),
    ]
    assert reports[0].grade == "优" and reports[0].findings == ["项目按期完成。", "资金使用规范。"]
    for report in reports:
        render_docx("fiscal_evaluation_report.md.j2", report, tmp_path / f"fiscal-{report.object_code}.docx")
    assert "综合得分91.50分" in docx_text(tmp_path / "fiscal-P01.docx")

    summary = self_evaluation_summary_context(session, arranged.cycle_id)
    assert summary.self_eval_projects == 7 and summary.missing_projects == 1 and summary.inflated_count == 1
    render_docx("self_evaluation_summary.md.j2", summary, tmp_path / "self.docx")
    assert "87.5%" in docx_text(tmp_path / "self.docx")


# ---------------------------------------------------------------------------------------------- spreadsheets


def test_monitoring_summary_colours(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    path = tmp_path / "monitoring.xlsx"
    sha = write_monitoring_summary(session, arranged.cycle_id, "Q1", path)
    assert write_monitoring_summary(session, arranged.cycle_id, "Q1", tmp_path / "again.xlsx") == sha
    ws = load_workbook(path).active
    assert ws is not None
    headers = [c.value for c in ws[2]]
    light_col = headers.index("综合灯") + 1
    fills = {}
    for row in range(3, 3 + len(arranged.departments)):
        code = ws.cell(row=row, column=2).value
        fills[code] = (ws.cell(row=row, column=light_col).value, ws.cell(row=row, column=light_col).fill.fgColor.rgb)
    assert fills["D02"][0] == "红灯" and fills["D02"][1].endswith("FFC7CE")
    assert fills["D04"][0] == "黄灯" and fills["D04"][1].endswith("FFEB9C")
    assert fills["D01"][0] == "绿灯" and fills["D01"][1].endswith("C6EFCE")


def test_budget_table_sum_formula(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    path = tmp_path / "budget.xlsx"
    sha = write_budget_table(session, arranged.cycle_id, path)
    assert write_budget_table(session, arranged.cycle_id, tmp_path / "again.xlsx") == sha
    ws = load_workbook(path).active
    assert ws is not None
    headers = [c.value for c in ws[2]]
    request_col = headers.index("预算年度申请（万元）") + 1
    recommended_col = headers.index("建议安排（万元）") + 1
    first, last = 3, 2 + len(arranged.recommendations)
    total = last + 1
    assert ws.cell(row=total, column=1).value == "合计"
    for column in (request_col, recommended_col):
        letter = get_column_letter(column)
        assert ws.cell(row=total, column=column).value == f"=SUM({letter}{first}:{letter}{last})"
    values = [Decimal(str(ws.cell(row=r, column=request_col).value)) for r in range(first, last + 1)]
    assert sum(values) == Decimal(fmt_wan(sum(r.request_fen for r in arranged.recommendations)))
    assert re.fullmatch(r"\d{4}年预算安排建议表", str(ws["A1"].value).removeprefix(DISTRICT))

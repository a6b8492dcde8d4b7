"""The annual report and the other documents, rendered from records arranged directly in the database
(SQLite and PostgreSQL alike); every expected figure is computed here from the arranged records."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from models.tables import Cycle, Department, DepartmentLight
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
from perfcycle.documents.catalog import GROUPS, write_documents
from perfcycle.documents.contexts import ContextError
from perfcycle.documents.renderer import BODY_FONT, docx_text, render_text
from perfcycle.events import record_event
from perfcycle.money import fmt_wan
from tests.documents.records import (
    DISTRICT,
    PILOT,
    YEAR,
    Arranged,
    east_asia,
    mm,
    pct,
    policy_json,
)

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
    assert ctx.self_eval_coverage_pct == pct(7, len(arranged.projects))
    assert ctx.department_evaluations == 2
    assert ctx.sample_size == len(arranged.sampled[arranged.cycle_id])
    assert ctx.sample_ratio_pct == "20%"
    covered = set().union(*arranged.sampled.values())
    assert ctx.cumulative_coverage_pct == pct(len(covered), len(arranged.departments))
    assert ctx.coverage_target_pct == "60%"
    assert ctx.coverage_target_met and not ctx.coverage_target_exceeded  # 6 of 10 = 60%
    assert (ctx.fiscal_projects, ctx.fiscal_policies, ctx.fiscal_departments) == (2, 1, 1)
    assert ctx.fiscal_amount_wan == fmt_wan(sum(s.amount_fen for s in arranged.selections))
    recs = arranged.recommendations
    assert ctx.budget_projects == len(recs)
    assert ctx.budget_request_wan == fmt_wan(sum(r.request_fen for r in recs))
    assert ctx.budget_recommended_wan == fmt_wan(sum(r.recommended_fen for r in recs))
    assert ctx.budget_ex_ante_cut_wan == fmt_wan(sum(r.ex_ante_cut_fen for r in recs))
    assert ctx.budget_base_wan == fmt_wan(sum(r.request_fen - r.ex_ante_cut_fen for r in recs))
    base = {r.project_id: r.request_fen - r.ex_ante_cut_fen for r in recs}
    assert ctx.budget_cut_wan == fmt_wan(sum(base[r.project_id] - r.recommended_fen for r in recs))
    assert ctx.budget_cut_projects == sum(1 for r in recs if r.recommended_fen < base[r.project_id])
    assert ctx.budget_priority_projects == sum(1 for r in recs if r.priority) == 1
    # 原则上取消 is grade 差 only: not the 不予支持 project nor the one without targets, though both stand at 0
    assert sum(1 for r in recs if r.recommended_fen == 0) == 3
    assert ctx.budget_cancelled_projects == 1 and ctx.budget_low_execution_projects == 1
    assert ctx.cost_pilot is not None
    pilot = next(p for p in arranged.projects if p.code == PILOT)
    assert ctx.cost_pilot.budget_wan == fmt_wan(pilot.budget_fen)
    assert ctx.cost_pilot.budget_year == YEAR + 1  # the budget prepared in the cycle year
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
    assert paragraphs[0] == f"关于{DISTRICT}{YEAR}年区级预算绩效管理\n工作开展情况的说明"  # broken by meaning
    headings = [
        "一、实施全过程预算绩效管理的做法",
        "（一）严把政策项目准入关",
        "（二）严把绩效运行监控关",
        "（三）严把绩效评价质量关",
        "（四）严把评价结果应用关",
        "（五）全力推进成本预算绩效管理试点工作",
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
    coverage = pct(len(covered), len(arranged.departments))
    assert f"选取{size}个部门开展抽查复核工作，抽查比例20%，累计部门覆盖率已达到{coverage}" in text
    assert "达到60%的目标要求" in text
    fiscal = fmt_wan(sum(s.amount_fen for s in arranged.selections))
    assert f"2个项目、1项财政政策以及1家部门的整体支出等进行重点绩效评价，涉及资金{fiscal}万元" in text
    recs = arranged.recommendations
    assert f"在编制{YEAR + 2}年部门预算时" in text
    assert f"申请资金{fmt_wan(sum(r.request_fen for r in recs))}万元" in text
    ex_ante = fmt_wan(sum(r.ex_ante_cut_fen for r in recs))
    base = fmt_wan(sum(r.request_fen - r.ex_ante_cut_fen for r in recs))
    assert f"经事前绩效评估压减{ex_ante}万元后安排基数为{base}万元" in text
    assert f"建议安排{fmt_wan(sum(r.recommended_fen for r in recs))}万元" in text
    pilot = next(p for p in arranged.projects if p.code == PILOT)
    assert f"公车运行项目，涉及资金{fmt_wan(pilot.budget_fen)}万元" in text
    assert f"将分析结果运用到{YEAR + 1}年的预算编制" in text
    assert "一是绩效评价结果公开不够规范" in text and "五是" in text
    # No event recorded (工作记事): no ranking, training or article is stated, and (六) is left out.
    assert "三区一县" not in text and "综合考核" not in text and "举办了" not in text and "发表于" not in text
    assert not any(p.startswith("（六）") for p in paragraphs)

    # Official format.
    section = doc.sections[0]
    assert abs(mm(section.page_width) - 210) < 0.1 and abs(mm(section.page_height) - 297) < 0.1
    assert abs(mm(section.top_margin) - 37) < 0.1 and abs(mm(section.bottom_margin) - 35) < 0.1
    assert abs(mm(section.left_margin) - 28) < 0.1 and abs(mm(section.right_margin) - 26) < 0.1
    body = next(p for p in doc.paragraphs if p.text.startswith(f"{YEAR}年，区财政局"))
    assert east_asia(body.runs[0]) == BODY_FONT

    # Determinism: rendering again gives the same text and the same bytes.
    again = tmp_path / "again.docx"
    assert render_docx("annual_report.md.j2", annual_report_context(session, arranged.cycle_id), again) == sha
    assert docx_text(again) == docx_text(path)


def test_recorded_events_are_stated_as_recorded(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    """The coordinator's 工作记事 become the report's sentences: the ranking after the opening, the trainings
    and the articles in (六)."""
    record_event(session, YEAR, "考核", title="绩效目标管理、绩效运行监控等", detail="三区一县", rank=2)
    record_event(session, YEAR, "training", when=f"{YEAR}-12", title="绩效管理工作业务全方位培训")
    record_event(session, YEAR, "培训", when=f"{YEAR}年11月", title="成本预算绩效管理业务培训")
    record_event(session, YEAR, "宣传", when=f"{YEAR}-08-20", title="测试区财政管理突出绩效导向", detail="某某日报")
    record_event(session, YEAR - 1, "培训", when=f"{YEAR - 1}-05", title="上一年度的培训")
    session.commit()

    render_docx("annual_report.md.j2", annual_report_context(session, arranged.cycle_id), tmp_path / "r.docx")
    paragraphs = [p.text for p in Document(str(tmp_path / "r.docx")).paragraphs if p.text]
    ranking = f"{YEAR}年上级对{DISTRICT}财政局从绩效目标管理、绩效运行监控等进行了综合考核，在三区一县中，位居第二。"
    assert paragraphs[2] == ranking  # after the title and the opening paragraph
    six = paragraphs.index("（六）加强绩效管理培训宣传力度")
    assert (
        "分别在11月、12月举办了成本预算绩效管理业务培训及绩效管理工作业务全方位培训。"
        f"{YEAR}年8月20日《测试区财政管理突出绩效导向》发表于某某日报。"
    ) in paragraphs[six + 1]
    assert "上一年度的培训" not in "\n".join(paragraphs)


def test_annual_report_without_records(session: Session) -> None:
    """An empty cycle still renders: sections say there is nothing rather than failing or printing 0.00."""
    cycle = Cycle(year=YEAR, budget_year=YEAR + 2, district=DISTRICT, policy_json=policy_json(None))
    session.add(cycle)
    session.commit()
    assert cycle.id is not None
    text = render_text("annual_report.md.j2", annual_report_context(session, cycle.id))
    assert "本年度无达到评估标准的项目" in text
    assert "未确定成本预算绩效管理试点项目" in text
    assert "各环节未发现突出问题" in text


def test_the_loops_leave_out_a_clause_whose_count_is_0(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    """问题整改, 公开 and 采纳情况 as a 绩效科 writes them: a count of 0 is not stated, the other clauses are."""
    from perfcycle.adoption import AdoptionSummary

    adoption = AdoptionSummary(
        year=YEAR,
        budget_year=YEAR + 2,
        lines=5,
        adopted=0,
        changed=4,
        not_adopted=1,
        rate_pct="0.00%",
        recommended_wan="100.00",
        adopted_wan="100.00",
        difference_wan="0.00",
        rows=[],
    )
    ctx = annual_report_context(session, arranged.cycle_id).model_copy(
        update={
            "adoption": adoption,
            "findings_registered": 3,
            "findings_by_source": "抽查复核3项",
            "findings_responded": 2,
            "findings_closed": 0,
            "findings_overdue": 1,
            "publications_on_time": 0,
            "late_publications": 2,
            "publications_pending": 4,
        }
    )
    render_docx("annual_report.md.j2", ctx, tmp_path / "说明.docx")
    text = docx_text(tmp_path / "说明.docx")
    assert "5个项目中调整4个、未采纳1个，采纳率0.00%；建议安排100.00万元，批准100.00万元。" in text
    assert "共登记问题3项（抽查复核3项），部门已反馈整改措施2项，1项逾期未反馈整改措施。" in text
    assert "督促部门向社会公开绩效自评报告，2家部门未按期公开，4家部门尚未到公开截止日期。" in text
    assert "采纳0个" not in text and "已整改到位" not in text and "家部门按期公开" not in text and "，差额" not in text


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
    assert (notices[0].addressee, notices[0].dated) == ("测试部门02", dt.date(2024, 4, 10))
    render_docx("warning_notice.md.j2", notices[0], tmp_path / "notice.docx")
    notice_text = docx_text(tmp_path / "notice.docx")
    assert "2024年4月20日前" in notice_text and "招标延迟" in notice_text
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
    stored = load_workbook(path, data_only=True).active  # what a reader that does not calculate sees
    assert ws is not None and stored is not None
    headers = [c.value for c in ws[2]]
    first, last = 3, 2 + len(arranged.recommendations)
    total = last + 1
    assert ws.cell(row=total, column=1).value == "合计"
    recs = arranged.recommendations
    expected = {
        "预算年度申请（万元）": sum(r.request_fen for r in recs),
        "事前评估压减（万元）": sum(r.ex_ante_cut_fen for r in recs),
        "安排基数（万元）": sum(r.request_fen - r.ex_ante_cut_fen for r in recs),
        "测算安排（万元）": sum(r.recommended_fen for r in recs),
        "调整后安排（万元）": sum(r.recommended_fen for r in recs),
        "压减金额（万元）": sum(r.request_fen - r.ex_ante_cut_fen - r.recommended_fen for r in recs),
        "增加金额（万元）": 0,
    }
    for header, fen in expected.items():
        column = headers.index(header) + 1
        letter = get_column_letter(column)
        assert ws.cell(row=total, column=column).value == f"=SUM({letter}{first}:{letter}{last})", header
        values = [Decimal(str(ws.cell(row=r, column=column).value)) for r in range(first, last + 1)]
        assert sum(values) == Decimal(fmt_wan(fen)), header
        assert Decimal(str(stored.cell(row=total, column=column).value)) == Decimal(fmt_wan(fen)), header
    assert re.fullmatch(r"\d{4}年预算安排建议表", str(ws["A1"].value).removeprefix(DISTRICT))


# ---------------------------------------------------------------------------------------------- 数据核对表

_NUMBER = re.compile(r"\d+(?:\.\d+)?%?")
_DATE_OR_YEAR = re.compile(r"\d+(?:年|月|日)")
# The 公文's frame: its 发文字号 and its 附注 (contact and telephone) are no figures of the report.
_FRAME = re.compile(r"^.*〔\d+〕\d+号.*$|^（联系人.*$", re.M)


def stated_numbers(text: str, names: list[str]) -> set[str]:
    """The numbers a report states as figures: not inside a name from the records, not a year or a date."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "")
    return set(_NUMBER.findall(_DATE_OR_YEAR.sub("", _FRAME.sub("", text))))


def checklist_rows(path: Path) -> list[dict[str, object]]:
    ws = load_workbook(path).active
    assert ws is not None
    headers = [c.value for c in ws[2]]
    return [dict(zip(headers, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=3)]


def write_both(session: Session, cycle_id: int, folder: Path) -> tuple[str, list[dict[str, object]]]:
    """The annual report and its 数据核对表, written as the reporting stage writes them, read back."""
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    written = write_documents(session, cycle, folder, GROUPS["annual_report"])
    assert [d.kind for d in written] == ["工作开展情况说明", "数据核对表"]
    report, checklist = (d.path for d in written)
    assert checklist.parent == report.parent and checklist.suffix == ".xlsx"
    return docx_text(report), checklist_rows(checklist)


def some_events(session: Session) -> None:
    record_event(session, YEAR, "考核", title="绩效目标管理等", detail="三区一县", rank=2)
    record_event(session, YEAR, "培训", when=f"{YEAR}-11", title="业务培训")
    record_event(session, YEAR, "宣传", when=f"{YEAR}-08-20", title="财政管理突出绩效导向", detail="某某日报")


def a_department_misses_a_quarter(session: Session) -> None:
    light = session.exec(
        select(DepartmentLight)
        .join(Department, col(Department.id) == DepartmentLight.department_id)
        .where(Department.code == "D07", DepartmentLight.quarter == "Q2")
    ).one()
    session.delete(light)


@pytest.mark.parametrize("change", [None, some_events, a_department_misses_a_quarter])
def test_the_figure_check_lists_every_figure_the_report_states(
    session: Session, arranged: Arranged, tmp_path: Path, change: Callable[[Session], None] | None
) -> None:
    if change is not None:
        change(session)
        session.commit()
    text, rows = write_both(session, arranged.cycle_id, tmp_path)
    assert rows and all(row["报告表述"] and row["口径"] for row in rows)
    for row in rows:  # every figure listed is stated so in the report, with as many records as it counts
        assert str(row["报告表述"]) in text, row
        records = str(row["所计记录（编码）"] or "")
        assert row["记录数"] in (None, len(records.split("、")) if records else 0), row
        number = str(row["报告表述"]).removesuffix(str(row["报告表述"]).lstrip("0123456789"))
        if number and row["记录数"] is not None and not str(row["报告表述"]).endswith(("万元", "%", "月", "日")):
            assert int(number) == row["记录数"], row  # a count is the number of records it names
    listed = {found[0] for row in rows if (found := _NUMBER.match(str(row["报告表述"]))) is not None}
    names = [d.name for d in arranged.departments] + [p.name for p in arranged.projects]
    assert stated_numbers(text, names) <= listed  # and every figure the report states is listed


def test_the_report_and_its_check_state_the_records_as_they_stand_at_each_writing(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    """The two read one working out of the figures while they are planned, and never keep it past that."""
    before, _ = write_both(session, arranged.cycle_id, tmp_path / "before")
    a_department_misses_a_quarter(session)
    session.flush()  # the same session, the change not yet committed
    after, rows = write_both(session, arranged.cycle_id, tmp_path / "after")
    stated = {row["数据项"]: row["报告表述"] for row in rows if str(row["章节"]).startswith("一（二）")}
    assert before != after
    assert all(str(text) in after for text in stated.values())
    coverage = annual_report_context(session, arranged.cycle_id)
    assert not coverage.monitoring_full_coverage


def test_the_figure_check_names_the_records_a_figure_counts(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    _, rows = write_both(session, arranged.cycle_id, tmp_path)
    by_name = {(row["章节"], row["数据项"]): row for row in rows}
    assessed = by_name[("一（一）事前评估和目标管理", "不予支持")]
    assert (assessed["报告表述"], assessed["记录数"], assessed["所计记录（编码）"]) == ("1个", 1, "P03")
    red = by_name[("一（二）绩效运行监控", "第一季度红灯")]
    assert (red["报告表述"], red["所计记录（编码）"]) == ("2家", "D02、D03")
    late = by_name[("二、存在问题", "未按期公开")]
    assert (late["报告表述"], late["所计记录（编码）"]) == ("2家部门", "D02、D03")
    target = by_name[("一（三）绩效评价", "覆盖率目标")]
    assert (target["报告表述"], target["记录数"]) == ("60%", None)

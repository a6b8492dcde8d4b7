"""One truth: after every decision (an approver's override included) the `--json` summary, the annual report,
the 预算安排建议表 and the stage artifacts state the same budget and coverage figures, read back from the files."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from models.tables import Approval, Cycle, DepartmentLight, Project, StageState, WarningNotice
from perfcycle.approvals import BudgetOverride, decide
from perfcycle.documents import annual_report_context, render_docx, self_evaluation_summary_context, write_budget_table
from perfcycle.documents.contexts import SelfEvaluationSummaryContext
from perfcycle.documents.renderer import docx_text
from perfcycle.figures import publication_figures
from perfcycle.money import fmt_wan
from perfcycle.policy import policy_from_json
from perfcycle.settings import get_settings
from tasks.gates import decide_gate
from tasks.summary import summarize_cycle
from tests.documents.records import Arranged, arrange

COORDINATOR, LEADER = "周晓梅", "刘建国"


@pytest.fixture
def arranged(session: Session) -> Arranged:
    """The small test district of the document tests."""
    return arrange(session)


def approve_budget_table(session: Session, cycle_id: int, overrides: list[BudgetOverride]) -> None:
    """The coordinator passes the table with the overrides, then the bureau leader."""
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    decide_gate(session, cycle, "budget_table", level=1)
    session.commit()
    decide(session, gate_id(session, cycle, 1), "approve", COORDINATOR, overrides=overrides)
    session.commit()
    decide(session, gate_id(session, cycle, 2), "approve", LEADER)
    session.commit()


def gate_id(session: Session, cycle: Cycle, level: int) -> int:
    approval = session.exec(
        select(Approval).where(Approval.cycle_id == cycle.id, Approval.gate == "budget_table", Approval.level == level)
    ).one()
    assert approval.id is not None
    return approval.id


def department_light(session: Session, arranged: Arranged, code: str, quarter: str) -> DepartmentLight:
    """A department's overall light of a quarter, as arranged."""
    department = next(d for d in arranged.departments if d.code == code)
    return session.exec(
        select(DepartmentLight).where(
            DepartmentLight.department_id == department.id, DepartmentLight.quarter == quarter
        )
    ).one()


def report_text(session: Session, cycle_id: int, path: Path) -> str:
    render_docx("annual_report.md.j2", annual_report_context(session, cycle_id), path)
    return docx_text(path)


def xlsx_totals(session: Session, cycle_id: int, path: Path) -> dict[str, Decimal]:
    """The 合计 row of the budget table as a reader that does not calculate sees it (the stored values)."""
    write_budget_table(session, cycle_id, path)
    ws = load_workbook(path, data_only=True).active
    assert ws is not None
    headers = [c.value for c in ws[2]]
    total = next(row for row in ws.iter_rows(min_row=3) if row[0].value == "合计")
    return {str(h): Decimal(str(c.value)) for h, c in zip(headers, total, strict=True) if str(h).endswith("（万元）")}


def stated(
    session: Session, cycle_id: int, tmp_path: Path, name: str
) -> tuple[dict[str, Any], str, dict[str, Decimal]]:
    summary = summarize_cycle.fn(cycle_id)
    return (
        summary,
        report_text(session, cycle_id, tmp_path / f"{name}.docx"),
        xlsx_totals(session, cycle_id, tmp_path / f"{name}.xlsx"),
    )


def test_an_override_changes_every_statement_of_the_cut_alike(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    recs = arranged.recommendations
    code = {p.id: p.code for p in arranged.projects}
    p02 = next(r for r in recs if code[r.project_id] == "P02")  # 中: 10 % off its base after the ex-ante cut
    base = {r.project_id: r.request_fen - r.ex_ante_cut_fen for r in recs}
    request = sum(r.request_fen for r in recs)
    ex_ante_cut = sum(r.ex_ante_cut_fen for r in recs)
    computed_cut = sum(base[r.project_id] - r.recommended_fen for r in recs)
    restored = base[p02.project_id] - p02.recommended_fen  # P02 restored to its base
    cut_after = computed_cut - restored
    recommended_after = sum(r.recommended_fen for r in recs) + restored

    before, text, totals = stated(session, arranged.cycle_id, tmp_path, "before")
    assert before["budget"]["cut_wan"] == float(fmt_wan(computed_cut))
    assert f"压减{fmt_wan(computed_cut)}万元" in text
    assert totals["压减金额（万元）"] == Decimal(fmt_wan(computed_cut))

    approve_budget_table(session, arranged.cycle_id, [BudgetOverride("P02", fmt_wan(base[p02.project_id]), "区委议定")])

    after, text, totals = stated(session, arranged.cycle_id, tmp_path, "after")
    budget = after["budget"]
    assert budget["cut_wan"] == float(fmt_wan(cut_after)) != before["budget"]["cut_wan"]
    assert budget["recommended_wan"] == float(fmt_wan(recommended_after))
    assert (budget["request_wan"], budget["ex_ante_cut_wan"], budget["cut_projects"]) == (
        float(fmt_wan(request)),
        float(fmt_wan(ex_ante_cut)),
        before["budget"]["cut_projects"] - 1,
    )
    assert (
        f"申请资金{fmt_wan(request)}万元，经事前绩效评估压减{fmt_wan(ex_ante_cut)}万元后安排基数为"
        f"{fmt_wan(request - ex_ante_cut)}万元，建议安排{fmt_wan(recommended_after)}万元，压减{fmt_wan(cut_after)}万元"
        in text
    )
    assert f"，{budget['cut_projects']}个项目压减资金" in text
    assert totals["预算年度申请（万元）"] == Decimal(fmt_wan(request))
    assert totals["事前评估压减（万元）"] == Decimal(fmt_wan(ex_ante_cut))
    assert totals["安排基数（万元）"] == Decimal(fmt_wan(request - ex_ante_cut))
    assert totals["调整后安排（万元）"] == Decimal(fmt_wan(recommended_after))
    assert totals["压减金额（万元）"] == Decimal(fmt_wan(cut_after))
    assert totals["增加金额（万元）"] == 0
    assert totals["测算安排（万元）"] == Decimal(fmt_wan(sum(r.recommended_fen for r in recs)))


def test_an_increase_the_policy_allows_is_stated_as_an_increase(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    policy = policy_from_json(cycle.policy_json)
    cycle.policy_json = policy.model_copy(
        update={"budget": policy.budget.model_copy(update={"overrides_may_exceed_request": True})}
    ).as_json()
    session.add(cycle)
    session.commit()
    pilot = session.exec(select(Project).where(Project.code == "P04", Project.year == 2024)).one()  # 差: cut to 0
    raised = pilot.request_fen + 23_589_610_000
    recs = arranged.recommendations
    cut_after = sum(r.request_fen - r.ex_ante_cut_fen - r.recommended_fen for r in recs if r.project_id != pilot.id)

    approve_budget_table(session, arranged.cycle_id, [BudgetOverride("P04", fmt_wan(raised), "区委常委会议定")])

    summary, text, totals = stated(session, arranged.cycle_id, tmp_path, "raised")
    budget = summary["budget"]
    assert (budget["increase_wan"], budget["increased_projects"]) == (23589.61, 1)
    assert budget["cut_wan"] == float(fmt_wan(cut_after)) > 0
    assert "压减-" not in text
    assert f"压减{fmt_wan(cut_after)}万元，经审批增加23589.61万元（1个项目）" in text
    assert "原则上取消" not in text  # P04 was the one project at 0
    assert totals["增加金额（万元）"] == Decimal("23589.61")
    assert totals["压减金额（万元）"] == Decimal(fmt_wan(cut_after))
    assert totals["调整后安排（万元）"] == Decimal(str(budget["recommended_wan"]))


def test_a_department_missing_a_quarter_is_not_covered_anywhere(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    session.delete(department_light(session, arranged, "D07", "Q2"))
    session.commit()

    summary = summarize_cycle.fn(arranged.cycle_id)
    assert (summary["monitoring"]["departments_covered"], summary["monitoring"]["coverage"]) == (9, 0.9)
    ctx = annual_report_context(session, arranged.cycle_id)
    assert (ctx.monitoring_departments, ctx.monitoring_full_coverage) == (9, False)
    text = report_text(session, arranged.cycle_id, tmp_path / "report.docx")
    assert "10家部门中9家部门各季度均纳入项目支出和整体支出监控，监控覆盖率90%，测试部门07有季度未报送监控情况" in text
    assert "监控全覆盖" not in text


def test_full_monitoring_coverage_is_stated_as_such(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    summary = summarize_cycle.fn(arranged.cycle_id)
    assert (summary["monitoring"]["departments_covered"], summary["monitoring"]["coverage"]) == (10, 1.0)
    assert "2024年区本级10家部门实现项目支出和整体支出监控全覆盖" in report_text(
        session, arranged.cycle_id, tmp_path / "report.docx"
    )


def test_self_evaluation_coverage_is_the_same_everywhere(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    """7 of the 8 projects and 5 of the 10 departments sent their self-evaluation."""
    summary = summarize_cycle.fn(arranged.cycle_id)
    assert summary["self_evaluation"] == {
        "projects": 7,
        "departments": 5,
        "coverage": 0.875,
        "department_evaluations": 2,
    }
    text = report_text(session, arranged.cycle_id, tmp_path / "report.docx")
    assert "7个项目、5家部门完成自评，项目自评覆盖率87.5%，1个项目未完成自评，5家部门未完成部门整体支出自评" in text
    assert "自评全覆盖" not in text
    own = self_evaluation_summary_context(session, arranged.cycle_id)
    assert (own.self_eval_projects, own.self_eval_departments, own.self_eval_coverage_pct) == (7, 5, "87.5%")
    assert own.missing_project_names == "测试项目08"


@pytest.mark.prefect
def test_the_stage_artifacts_state_the_same_figures(
    session: Session, arranged: Arranged, prefect_harness: None
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from tasks.budget import publish_budget_table
    from tasks.evaluation import score_self_evaluations

    p03 = session.exec(select(Project).where(Project.code == "P03", Project.year == 2024)).one()  # 不予支持: base 0
    approve_budget_table(session, arranged.cycle_id, [BudgetOverride("P03", fmt_wan(p03.request_fen), "区委议定")])

    @flow
    def stages(cycle_id: int) -> dict[str, Any]:
        score_self_evaluations(cycle_id)
        return publish_budget_table(cycle_id)

    state = stages(arranged.cycle_id, return_state=True)
    table = state.result()
    summary = summarize_cycle.fn(arranged.cycle_id)
    assert table == summary["budget"]

    def description(key: str) -> str:
        with get_client(sync_client=True) as client:
            (found,) = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[key]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
                )
            )
        return str(found.description)

    budget = summary["budget"]
    assert (
        f"压减 {budget['cut_projects']} 个共 {budget['cut_wan']:.2f} 万元，调增 {budget['increased_projects']} 个共 "
        f"{budget['increase_wan']:.2f} 万元，优先保障 {budget['priority_projects']} 个"
        in description("2024-budget-cuts")
    )
    assert budget["increase_wan"] == float(fmt_wan(p03.request_fen))  # restored from a base of 0: an increase
    flags = description("2024-self-evaluation-flags")
    assert "7/8 个项目（87.5%）、5/10 个部门完成自评" in flags and "全覆盖" not in flags


def test_a_red_light_that_turns_yellow_improved_but_did_not_turn_green(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    """D02 went red → green, D03 red → red; now D03 goes red → yellow, and its notice says it improved."""
    d03 = next(d for d in arranged.departments if d.code == "D03")
    light = department_light(session, arranged, "D03", "Q2")
    light.light = light.execution_light = light.target_light = "yellow"
    notice = session.exec(
        select(WarningNotice).where(WarningNotice.department_id == d03.id, WarningNotice.quarter == "Q1")
    ).one()
    notice.improved = True
    session.add_all([light, notice])
    session.commit()

    ctx = annual_report_context(session, arranged.cycle_id)
    assert (ctx.red_department_count, ctx.red_improved_count, ctx.red_green_count) == (2, 2, 1)
    text = report_text(session, arranged.cycle_id, tmp_path / "report.docx")
    assert "2家亮红灯部门中2家部门下一季度亮灯好转（其中1家转为绿灯）" in text
    assert "2家部门下一季度已整改转为绿灯" not in text
    assert "仍未改善" not in text


def test_the_summary_states_the_records_not_a_stage_summary(session: Session, arranged: Arranged) -> None:
    """A stage's summary records what the stage did; the figures come from the records as they stand, so a
    summary written before a later change (or none at all) is never quoted."""
    session.add_all(
        [
            StageState(
                cycle_id=arranged.cycle_id,
                stage=stage,
                status="done",
                summary_json=json.dumps(stale),
            )
            for stage, stale in (
                ("ex_ante_assessment", {"units": 9, "projects": 9, "amount_wan": "1.00", "cut_wan": "0.00"}),
                ("sampling_review", {"sample": {"departments": 1, "ratio": 0.5, "cumulative_coverage": 0.1}}),
                ("fiscal_evaluation", {"selection": {"projects": 0, "policies": 0, "departments": 0}}),
                ("monitoring_Q1", {"lights": {"red": 0, "yellow": 0, "green": 10}}),
            )
        ]
    )
    session.commit()
    summary = summarize_cycle.fn(arranged.cycle_id)
    ctx = annual_report_context(session, arranged.cycle_id)
    assert summary["ex_ante"] == {
        "units": ctx.ex_ante_units,
        "projects": ctx.ex_ante_projects,
        "amount_wan": float(ctx.ex_ante_amount_wan),
        "cut_wan": float(ctx.ex_ante_cut_wan),
    }
    assert (summary["ex_ante"]["units"], summary["ex_ante"]["projects"]) == (2, 3)
    sampling = summary["sampling"]
    assert (sampling["departments"], f"{sampling['ratio']:.0%}") == (ctx.sample_size, ctx.sample_ratio_pct)
    assert f"{sampling['cumulative_coverage']:.0%}" == ctx.cumulative_coverage_pct == "60%"
    assert summary["fiscal_evaluation"] == {
        "projects": ctx.fiscal_projects,
        "policies": ctx.fiscal_policies,
        "departments": ctx.fiscal_departments,
        "amount_wan": float(ctx.fiscal_amount_wan),
    }
    lights = summary["monitoring"]["lights"]
    assert [(q, lights[q]) for q in ("Q1", "Q2")] == [
        (q.quarter, {"red": q.red, "yellow": q.yellow, "green": q.green}) for q in ctx.quarters
    ]
    assert lights["Q1"] == {"red": 2, "yellow": 1, "green": 7}


def test_a_report_not_yet_due_is_not_late(
    session: Session, arranged: Arranged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D01 published on time, D02 after its deadline (2025-03-01, published 03-09), D03 not yet: late only once
    the deadline has passed, and D02's publication counts from its day on."""
    assert publication_figures(session, arranged.cycle_id, date(2025, 3, 1)).not_on_time == ()
    assert publication_figures(session, arranged.cycle_id, date(2025, 3, 2)).not_on_time == ("D02", "D03")
    later = publication_figures(session, arranged.cycle_id, date(2025, 3, 9))
    assert later.not_on_time == ("D02", "D03") and later.status("逾期公开") == ("D02",)

    def written_on(day: str) -> tuple[str, SelfEvaluationSummaryContext]:
        monkeypatch.setenv("PERFCYCLE_TODAY", day)
        get_settings.cache_clear()
        try:
            text = report_text(session, arranged.cycle_id, tmp_path / f"report-{day}.docx")
            listed = self_evaluation_summary_context(session, arranged.cycle_id)
        finally:
            monkeypatch.delenv("PERFCYCLE_TODAY")
            get_settings.cache_clear()
        return text, listed

    text, listed = written_on("2025-02-28")
    assert "未按期公开" not in text and listed.late_publications == 0
    dates = {row.department_name: row.published_on for row in listed.departments}
    assert (listed.published, dates["测试部门01"], dates["测试部门02"]) == (1, "2025年2月20日", "")  # D02: 03-09
    text, listed = written_on("2025-03-02")
    assert "2家部门未按期公开绩效自评报告（测试部门02、测试部门03）" in text
    assert "督促2家未按期公开的部门" in text
    assert listed.late_publications == 2


def test_the_loops_are_stated_alike_on_either_side_of_a_deadline(
    session: Session, arranged: Arranged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D02's and D03's reports and an unanswered finding, all due 2025-03-01 (D02 publishes on 03-09): pending
    the day before and on the day, late and overdue the day after; the summary and the report say the same on
    each day."""
    from models.tables import Finding

    cid = arranged.cycle_id
    session.add_all(
        [
            Finding(
                cycle_id=cid,
                source="review_flag",
                key="project:P01",
                registered_on=date(2025, 1, 30),
                due_on=date(2025, 3, 1),
            ),
            Finding(
                cycle_id=cid,
                source="review_flag",
                key="project:P02",
                registered_on=date(2025, 1, 30),
                due_on=date(2025, 3, 1),
                status="fixed",
                answers=1,
            ),
            Finding(
                cycle_id=cid,
                source="ex_ante",
                key="project:P03",
                registered_on=date(2025, 1, 30),
                due_on=date(2025, 2, 1),
                status="unfixed",
                answers=1,
            ),
        ]
    )
    session.commit()
    stated = {}
    for day in ("2025-02-28", "2025-03-01", "2025-03-02"):
        monkeypatch.setenv("PERFCYCLE_TODAY", day)
        get_settings.cache_clear()
        summary = summarize_cycle.fn(cid)
        stated[day] = (summary["findings"], summary["disclosure"], report_text(session, cid, tmp_path / f"{day}.docx"))
    monkeypatch.delenv("PERFCYCLE_TODAY")
    get_settings.cache_clear()

    for day in ("2025-02-28", "2025-03-01"):
        findings, disclosure, text = stated[day]
        assert findings == {
            "registered": 3,
            "responded": 2,
            "closed": 1,
            "overdue": 0,
            "by_source": {"review_flag": 2, "ex_ante": 1},
        }
        assert disclosure == {"published": 1, "late": 0, "pending": 2}  # D02 publishes on 03-09, after the day
        assert "共登记问题3项（抽查复核2项、事前评估1项），部门已反馈整改措施2项，经核实已整改到位1项。" in text
        assert "1家部门按期公开，2家部门尚未到公开截止日期。" in text
    findings, disclosure, text = stated["2025-03-02"]
    assert findings["overdue"] == 1 and disclosure == {"published": 1, "late": 2, "pending": 0}
    assert "经核实已整改到位1项，1项逾期未反馈整改措施。" in text
    assert "1家部门按期公开，2家部门未按期公开。" in text

"""The cross-check: on a district where the rules' edges meet — an override at level 2, a department missing from
one quarter, a red light that turns yellow, a department-evaluation score that decides a project's final score,
a 不予支持 project, a tie in the key-evaluation selection, a key-evaluated policy's and department's lines
adjusted at level 2 — the
`--json` summary, the stage artifacts, the annual report (docx), its 数据核对表 and the 预算安排建议表 (xlsx) state
the same value of every figure."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from models.tables import (
    Approval,
    BudgetRecommendation,
    Cycle,
    Department,
    Evaluation,
    ExAnteAssessment,
    MonitoringRecord,
    Project,
    Selection,
    WarningNotice,
)
from perfcycle.approvals import BudgetOverride, decide
from perfcycle.documents.catalog import GROUPS, write_documents
from perfcycle.documents.renderer import docx_text
from perfcycle.money import fmt_wan
from perfcycle.policy import policy_from_json
from tasks.gates import decide_gate
from tasks.summary import summarize_cycle
from tests.documents.records import Arranged, arrange
from tests.test_figures import department_light

COORDINATOR, LEADER = "周晓梅", "刘建国"


@pytest.fixture
def district(session: Session) -> Arranged:
    """The test district with the edges: D07 has no light in Q2, D03 goes red → yellow (its notice says it
    improved), P03 was not supported (不予支持), P02 and P06 tie for the last project of the selection, and P04's
    department evaluation (中) outranks its self-evaluation (良). The table is then recommended by the stage's
    own task, so every line is the rule's (P05 spent 75 % by the year's end)."""
    from tasks.budget import recommend_budgets

    arranged = arrange(session)
    cid = arranged.cycle_id
    dept = {d.code: d.id for d in arranged.departments}
    session.delete(department_light(session, arranged, "D07", "Q2"))
    turned = department_light(session, arranged, "D03", "Q2")
    turned.light = turned.execution_light = turned.target_light = "yellow"
    notice = session.exec(
        select(WarningNotice).where(WarningNotice.department_id == dept["D03"], WarningNotice.quarter == "Q1")
    ).one()
    notice.improved = True
    p06 = session.exec(select(Project).where(Project.code == "P06", Project.year == 2024)).one()
    p02 = session.exec(select(Project).where(Project.code == "P02", Project.year == 2024)).one()
    p06.budget_fen = p02.budget_fen
    for row in session.exec(select(Selection).where(Selection.cycle_id == cid)).all():
        session.delete(row)
    cycle = session.get(Cycle, cid)
    assert cycle is not None
    policy = policy_from_json(cycle.policy_json)
    cycle.policy_json = policy.model_copy(
        update={"fiscal_evaluation": policy.fiscal_evaluation.model_copy(update={"projects": 3})}
    ).as_json()
    p04 = session.exec(select(Project).where(Project.code == "P04", Project.year == 2024)).one()
    p05 = session.exec(select(Project).where(Project.code == "P05", Project.year == 2024)).one()
    department_evaluation = Evaluation(
        cycle_id=cid, kind="department", object_type="project", object_code="P04", score=Decimal("70.00")
    )
    key_evaluations = [  # D01 (P01, P02) and ZC01 graded 中: their lines are cut 10 %
        Evaluation(cycle_id=cid, kind="fiscal", object_type="department", object_code="D01", score=Decimal("70.00")),
        Evaluation(cycle_id=cid, kind="fiscal", object_type="policy", object_code="ZC01", score=Decimal("72.00")),
    ]
    year_end = MonitoringRecord(
        cycle_id=cid,
        project_id=p05.id,
        quarter="Q4",
        spent_fen=p05.budget_fen * 3 // 4,
        target_progress=Decimal("100"),
        execution_progress=Decimal("75.00"),
        likelihood="能够",
    )
    session.add_all([turned, notice, p06, cycle, department_evaluation, year_end, *key_evaluations])
    session.commit()
    recommend_budgets.fn(cid)
    session.expire_all()
    p04_line = session.exec(select(BudgetRecommendation).where(BudgetRecommendation.project_id == p04.id)).one()
    assert (p04_line.score, p04_line.score_source, p04_line.grade) == (Decimal("70.00"), "department", "中")
    rejected = session.exec(
        select(ExAnteAssessment).where(ExAnteAssessment.cycle_id == cid, ExAnteAssessment.conclusion == "不予支持")
    ).all()
    assert [a.project_id for a in rejected] == [next(p.id for p in arranged.projects if p.code == "P03")]
    return arranged


def approve_with_an_override_at_level_2(session: Session, cycle_id: int, code: str) -> None:
    """The coordinator passes the table as computed; the bureau leader restores one project's line to its request,
    the policy's to its funds, and sets D01's 事业发展类 lines together at 8000 万元."""
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    decide_gate(session, cycle, "budget_table", level=1)
    session.commit()
    decide(session, _gate(session, cycle_id, 1), "approve", COORDINATOR)
    session.commit()
    project = session.exec(select(Project).where(Project.code == code, Project.year == cycle.year)).one()
    decide(
        session,
        _gate(session, cycle_id, 2),
        "approve",
        LEADER,
        overrides=[
            BudgetOverride(code, fmt_wan(project.request_fen), "区政府常务会议定"),
            BudgetOverride("政策:ZC01", "4321.09", "区政府常务会议定"),
            BudgetOverride("部门:D01", "8000.00", "区政府常务会议定"),
        ],
    )
    session.commit()


def _gate(session: Session, cycle_id: int, level: int) -> int:
    approval = session.exec(
        select(Approval).where(Approval.cycle_id == cycle_id, Approval.gate == "budget_table", Approval.level == level)
    ).one()
    assert approval.id is not None
    return approval.id


def budget_totals_row(path: Path) -> dict[str, str]:
    """The 合计 row of the 预算安排建议表 as stored (what a reader that does not calculate sees)."""
    ws = load_workbook(path, data_only=True).active
    assert ws is not None
    headers = [str(c.value) for c in ws[2]]
    total = next(row for row in ws.iter_rows(min_row=3) if row[0].value == "合计")
    return {h: f"{Decimal(str(c.value)):.2f}" for h, c in zip(headers, total, strict=True) if h.endswith("（万元）")}


def budget_row(path: Path, code: str) -> dict[str, object]:
    """A project's row of the 预算安排建议表 as stored, by header."""
    ws = load_workbook(path, data_only=True).active
    assert ws is not None
    headers = [str(c.value) for c in ws[2]]
    row = next(row for row in ws.iter_rows(min_row=3, values_only=True) if row[2] == code)
    return dict(zip(headers, row, strict=True))


def consequence_totals_row(path: Path) -> dict[str, str]:
    """The 合计 row of the 政策和部门整体 sheet as stored."""
    ws = load_workbook(path, data_only=True)["政策和部门整体"]
    headers = [str(c.value) for c in ws[2]]
    total = next(row for row in ws.iter_rows(min_row=3) if row[0].value == "合计")
    return {h: f"{Decimal(str(c.value)):.2f}" for h, c in zip(headers, total, strict=True) if h.endswith("（万元）")}


def checklist(path: Path) -> dict[str, str]:
    """数据项 → 报告表述 of the 数据核对表 (the first row of each name)."""
    ws = load_workbook(path).active
    assert ws is not None
    headers = [c.value for c in ws[2]]
    rows = [dict(zip(headers, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=3)]
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(str(row["数据项"]), str(row["报告表述"]))
    return found


@pytest.mark.prefect
def test_every_statement_of_every_figure_agrees(
    session: Session, district: Arranged, tmp_path: Path, prefect_harness: None
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from tasks.budget import publish_budget_table
    from tasks.evaluation import score_self_evaluations
    from tasks.fiscal import propose_key_evaluations
    from tasks.sampling import draw_review_sample

    cid = district.cycle_id
    computed = summarize_cycle.fn(cid)["budget"]
    approve_with_an_override_at_level_2(session, cid, "P05")

    @flow
    def stages(cycle_id: int) -> None:
        propose_key_evaluations(cycle_id)
        draw_review_sample(cycle_id)
        score_self_evaluations(cycle_id)
        publish_budget_table(cycle_id)

    state = stages(cid, return_state=True)
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
    artifacts = {str(a.key).removeprefix("2024-"): str(a.description) for a in found}

    summary: dict[str, Any] = summarize_cycle.fn(cid)
    cycle = session.get(Cycle, cid)
    assert cycle is not None
    written = write_documents(
        session, cycle, tmp_path, [*GROUPS["budget_linkage"], *GROUPS["annual_report"]], workers=1
    )
    paths = {d.kind: d.path for d in written}
    report = " ".join(docx_text(paths["工作开展情况说明"]).split())
    stated = checklist(paths["数据核对表"])
    table = budget_totals_row(paths["预算安排建议表"])

    # The key-evaluation selection, its tie broken by code: P02 before P06.
    chosen = session.exec(
        select(Selection.object_code).where(Selection.cycle_id == cid, Selection.object_type == "project")
    ).all()
    assert sorted(chosen) == ["P01", "P02", "P03"]
    fiscal = summary["fiscal_evaluation"]
    amount = f"{fiscal['amount_wan']:.2f}"
    assert (fiscal["projects"], fiscal["policies"], fiscal["departments"]) == (3, 1, 2)
    assert (
        f"{fiscal['projects']}个项目、{fiscal['policies']}项财政政策以及{fiscal['departments']}家部门的整体支出"
        in report
    )
    assert f"涉及资金{amount}万元" in report and stated["重点评价涉及资金"] == f"{amount}万元"
    assert (
        f"{fiscal['projects']} 个项目、{fiscal['policies']} 项政策、{fiscal['departments']} 个部门（整体支出），"
        f"涉及资金 {amount} 万元" in artifacts["key-evaluation-selection"]
    )

    # Monitoring: D07 missed Q2, so 9 of 10 departments were monitored every quarter.
    monitoring = summary["monitoring"]
    assert (monitoring["departments_covered"], monitoring["coverage"]) == (9, 0.9)
    assert "10家部门中9家部门各季度均纳入项目支出和整体支出监控，监控覆盖率90%" in report
    assert "监控全覆盖" not in report
    assert (stated["纳入监控部门"], stated["监控覆盖率"]) == ("9家部门", "90%")
    q2 = monitoring["lights"]["Q2"]
    assert f"第二季度9家部门中绿灯{q2['green']}家、黄灯{q2['yellow']}家、红灯{q2['red']}家" in report
    assert (q2, stated["第二季度黄灯"]) == ({"red": 0, "yellow": 1, "green": 8}, "1家")

    # D03 went red → yellow: it improved, but it did not turn green.
    assert "2家亮红灯部门中2家部门下一季度亮灯好转（其中1家转为绿灯）" in report
    assert (stated["下一季度亮灯好转"], stated["其中转为绿灯"]) == ("2家部门", "1家")
    assert "仍未改善" not in report

    # Self-evaluation coverage.
    evaluated = summary["self_evaluation"]
    percent = stated["项目自评覆盖率"]
    assert float(percent.rstrip("%")) / 100 == evaluated["coverage"]
    assert f"{evaluated['projects']}个项目、{evaluated['departments']}家部门完成自评，项目自评覆盖率{percent}" in report
    assert (
        f"{evaluated['projects']}/8 个项目（{percent}）、{evaluated['departments']}/10 个部门完成自评"
        in (artifacts["self-evaluation-flags"])
    )

    # P04: its department evaluation (70, 中) decided its final score over its self-evaluation (82, 良), and so its
    # line: 压减10%（中）, as P06's review (65, 中) did for P06.
    assert evaluated["department_evaluations"] == 3  # P01 (fiscal wins), P04 (decides), P06 (review wins)
    assert f"共开展部门评价{evaluated['department_evaluations']}项" in report and stated["部门评价"] == "3项"
    p04 = session.exec(select(Project).where(Project.code == "P04", Project.year == cycle.year)).one()
    p04_line = session.exec(select(BudgetRecommendation).where(BudgetRecommendation.project_id == p04.id)).one()
    p04_amount = fmt_wan(p04.request_fen * 9 // 10)
    assert (fmt_wan(p04_line.recommended_fen), p04_line.reason) == (p04_amount, "压减10%（中）")
    row = budget_row(paths["预算安排建议表"], "P04")
    assert (Decimal(str(row["绩效得分"])), row["评价等级"], row["得分来源"], row["理由"]) == (
        Decimal("70.00"),
        "中",
        "部门评价",
        "压减10%（中）",
    )
    assert f"{Decimal(str(row['调整后安排（万元）'])):.2f}" == str(p04_amount)
    assert summary["budget"]["reasons"]["压减10%（中）"] == 2  # P04 and P06

    # Sampling.
    sampling = summary["sampling"]
    cumulative = stated["累计部门覆盖率"]
    assert float(cumulative.rstrip("%")) / 100 == sampling["cumulative_coverage"]
    assert f"选取{sampling['departments']}个部门开展抽查复核工作，抽查比例{stated['抽查比例']}" in report
    assert f"累计部门覆盖率已达到{cumulative}" in report
    assert f"{sampling['departments']} 个部门（比例 {stated['抽查比例']}）" in artifacts["sample"]
    assert f"累计覆盖率 {cumulative}" in artifacts["sample"]

    # Ex-ante: P03 not supported, its whole request cut.
    ex_ante = summary["ex_ante"]
    assert f"对{ex_ante['units']}家单位{ex_ante['projects']}个项目开展评估" in report
    assert f"压减资金{ex_ante['cut_wan']:.2f}万元" in report and stated["不予支持"] == "1个"

    # The budget table after the leader's override.
    budget = summary["budget"]
    assert budget["overridden_projects"] == 1
    request, recommended, cut = (f"{budget[k]:.2f}" for k in ("request_wan", "recommended_wan", "cut_wan"))
    assert f"申请资金{request}万元" in report and f"建议安排{recommended}万元" in report
    assert f"压减{cut}万元" in report and f"，{budget['cut_projects']}个项目压减资金" in report
    assert (stated["申请资金"], stated["建议安排"], stated["压减资金"]) == (
        f"{request}万元",
        f"{recommended}万元",
        f"{cut}万元",
    )
    assert stated["压减项目"] == f"{budget['cut_projects']}个项目"
    ex_ante_cut, base = f"{budget['ex_ante_cut_wan']:.2f}", f"{budget['base_wan']:.2f}"
    assert f"经事前绩效评估压减{ex_ante_cut}万元后安排基数为{base}万元" in report
    assert (stated["事前评估压减（建议表）"], stated["安排基数"]) == (f"{ex_ante_cut}万元", f"{base}万元")
    assert (table["事前评估压减（万元）"], table["安排基数（万元）"]) == (ex_ante_cut, base)
    assert (table["预算年度申请（万元）"], table["调整后安排（万元）"], table["压减金额（万元）"]) == (
        request,
        recommended,
        cut,
    )
    assert (
        f"压减 {budget['cut_projects']} 个共 {cut} 万元，优先保障 {budget['priority_projects']} 个"
        in (artifacts["budget-cuts"])
    )
    assert budget["cut_projects"] == computed["cut_projects"] - 1  # P05, cut for its execution, stands

    # The policy's and D01's lines as the leader adjusted them: ZC01 back to its funds, D01 at 8000 of its base.
    consequences = budget["consequences"]
    funds, standing, trimmed = (f"{consequences[k]:.2f}" for k in ("funds_wan", "recommended_wan", "cut_wan"))
    assert (consequences["policies"], consequences["departments"], consequences["overridden"]) == (1, 1, 2)
    assert Decimal(standing) == Decimal("4321.09") + Decimal("8000.00")
    assert Decimal(funds) - Decimal(trimmed) == Decimal(standing) and consequences["increase_wan"] == 0
    assert (
        f"对重点评价的1项财政政策和1家部门整体支出按评价等级应用评价结果，涉及资金{funds}万元，"
        f"建议安排{standing}万元，压减{trimmed}万元（其中2项经审批调整）" in report
    )
    assert (stated["结果应用涉及资金"], stated["结果应用建议安排"], stated["结果应用压减"]) == (
        f"{funds}万元",
        f"{standing}万元",
        f"{trimmed}万元",
    )
    assert stated["结果应用审批调整"] == "2项"
    sheet = consequence_totals_row(paths["预算安排建议表"])
    assert (sheet["涉及资金（万元）"], sheet["调整后安排（万元）"], sheet["压减金额（万元）"]) == (
        funds,
        standing,
        trimmed,
    )
    for code in ("P01", "P02"):  # D01's lines say what the leader set them at together
        assert "部门整体事业发展类项目经审批合计安排8000.00万元（区政府常务会议定）" in str(
            budget_row(paths["预算安排建议表"], code)["说明"]
        )
    assert (
        f"涉及 {funds} 万元，建议安排 {standing} 万元，压减 {trimmed} 万元（审批调整 2 项）" in artifacts["budget-cuts"]
    )

    # Every department named in the report's lists is a department of the records.
    names = set(session.exec(select(Department.name)).all())
    assert "测试部门07" in names and "测试部门07有季度未报送监控情况" in report

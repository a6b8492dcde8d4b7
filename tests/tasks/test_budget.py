"""The budget stage on the small test district: the final score with the department evaluation, the base after the
ex-ante conclusion, one reason per line, and the grade consequences of a key-evaluated department and policy —
in the records, in the 预算安排建议表 read back from the file, and in the annual report."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from models.tables import (
    BudgetRecommendation,
    Cycle,
    Department,
    Evaluation,
    MonitoringRecord,
    PolicyRecommendation,
    Project,
)
from perfcycle.documents import annual_report_context, write_budget_table
from perfcycle.money import fmt_wan, wan_to_fen
from tasks.budget import recommend_budgets
from tests.documents.records import Arranged, arrange


@pytest.fixture
def arranged(session: Session) -> Arranged:
    return arrange(session)


def evaluate(session: Session, cycle_id: int, kind: str, object_type: str, code: str, score: str) -> None:
    session.add(
        Evaluation(cycle_id=cycle_id, kind=kind, object_type=object_type, object_code=code, score=Decimal(score))
    )


def lines(session: Session, cycle_id: int) -> dict[str, BudgetRecommendation]:
    rows = session.exec(
        select(Project.code, BudgetRecommendation)
        .join(BudgetRecommendation, BudgetRecommendation.project_id == Project.id)  # type: ignore[arg-type]
        .where(BudgetRecommendation.cycle_id == cycle_id)
    ).all()
    for _, rec in rows:
        session.refresh(rec)
    return dict(rows)


def recompute(session: Session, cycle_id: int) -> dict[str, BudgetRecommendation]:
    session.commit()
    recommend_budgets.fn(cycle_id)
    session.expire_all()
    return lines(session, cycle_id)


def test_each_line_states_its_base_score_and_one_reason(session: Session, arranged: Arranged) -> None:
    cid = arranged.cycle_id
    evaluate(session, cid, "department", "project", "P04", "55.00")  # no fiscal or review score: it decides
    p05 = next(p for p in arranged.projects if p.code == "P05")
    session.add(
        MonitoringRecord(
            cycle_id=cid,
            project_id=p05.id,
            quarter="Q4",
            spent_fen=p05.budget_fen * 3 // 4,
            target_progress=Decimal(100),
            likelihood="确定能",
        )
    )
    recs = recompute(session, cid)
    request = {p.code: p.request_fen for p in arranged.projects}

    p01 = recs["P01"]  # fiscal 91.50 优 over the department's 88; 予以支持 with a cut of 300.15
    assert (p01.score, p01.score_source, p01.grade) == (Decimal("91.50"), "fiscal", "优")
    assert (p01.request_fen, p01.ex_ante_cut_fen) == (request["P01"], wan_to_fen("300.15"))
    assert p01.recommended_fen == request["P01"] - wan_to_fen("300.15")
    assert (p01.reason, p01.priority) == ("据实保障", False)  # cut by the panel: not 优先保障
    assert recs["P02"].recommended_fen == request["P02"] - wan_to_fen("620.02")  # 调整后支持, 良
    p03 = recs["P03"]  # 不予支持
    assert (p03.ex_ante_cut_fen, p03.recommended_fen, p03.reason) == (request["P03"], 0, "事前评估不予支持")
    p04 = recs["P04"]
    assert (p04.score_source, p04.grade, p04.reason, p04.recommended_fen) == ("department", "差", "原则上取消（差）", 0)
    p05 = recs["P05"]  # 75 % spent at year end: funded at the level spent
    assert (p05.execution_rate, p05.reason) == (Decimal("0.7500"), "按执行率压减")
    assert p05.recommended_fen == wan_to_fen("615.38")  # 820.50 × 0.75 = 615.375
    assert (recs["P06"].score_source, recs["P06"].reason) == ("review", "压减10%（中）")  # review 65 over dept 90
    assert recs["P07"].reason == recs["P08"].reason == "未设置绩效目标"
    assert all(r.execution_rate is None for code, r in recs.items() if code != "P05")  # no year-end record

    ctx = annual_report_context(session, cid)
    assert ctx.budget_cancelled_projects == 1  # P04 only: not P03, P07 or P08, though all stand at 0
    assert ctx.budget_priority_projects == 0


def test_a_key_evaluated_department_and_policy_get_their_grades_consequence(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    cid = arranged.cycle_id
    evaluate(session, cid, "fiscal", "department", "D01", "70.00")  # 中: its 事业发展类 requests lose 10 %
    evaluate(session, cid, "fiscal", "policy", "ZC01", "72.00")  # 中
    recs = recompute(session, cid)
    request = {p.code: p.request_fen for p in arranged.projects}

    base01 = request["P01"] - wan_to_fen("300.15")
    p01 = recs["P01"]  # 优 on its own, but its department's 中 cut is larger
    assert (p01.department_grade, p01.department_cut_ratio, p01.cut_ratio) == (
        "中",
        Decimal("0.1000"),
        Decimal("0.1000"),
    )
    assert (p01.recommended_fen, p01.reason) == (wan_to_fen("5310.27"), "压减10%（部门整体中）")  # 5900.30 × 0.9
    assert recs["P02"].recommended_fen == wan_to_fen("2232.07")  # 2480.08 × 0.9 = 2232.072
    assert recs["P04"].department_grade == "" and recs["P04"].recommended_fen == request["P04"]  # another department

    (policy,) = session.exec(select(PolicyRecommendation).where(PolicyRecommendation.cycle_id == cid)).all()
    assert (policy.grade, policy.reason, policy.funds_fen) == ("中", "压减10%（中）", wan_to_fen("4321.09"))
    assert policy.recommended_fen == wan_to_fen("3888.98")

    path = tmp_path / "budget.xlsx"
    write_budget_table(session, cid, path)
    book = load_workbook(path, data_only=True)
    table = book["预算安排建议"]
    headers = [c.value for c in table[2]]
    row = next(r for r in table.iter_rows(min_row=3, values_only=True) if r[2] == "P01")
    cell = dict(zip(headers, row, strict=True))
    assert (cell["部门整体评价等级"], cell["理由"]) == ("中", "压减10%（部门整体中）")
    assert Decimal(str(cell["安排基数（万元）"])) == Decimal(fmt_wan(base01))
    consequences = book["政策和部门整体"]
    headers = [c.value for c in consequences[2]]
    rows = [dict(zip(headers, r, strict=True)) for r in consequences.iter_rows(min_row=3, values_only=True)]
    assert [(r["序号"], r["对象类型"], r["编码"], r["结果应用"]) for r in rows] == [
        (1, "政策", "ZC01", "压减10%（中）"),
        (2, "部门", "D01", "压减10%"),
        ("合计", None, None, None),
    ]
    department = rows[1]
    assert Decimal(str(department["涉及资金（万元）"])) == Decimal(
        fmt_wan(base01 + recs["P02"].request_fen - recs["P02"].ex_ante_cut_fen)
    )
    assert Decimal(str(department["建议安排（万元）"])) == Decimal("7542.34")  # 5310.27 + 2232.07
    assert Decimal(str(rows[2]["建议安排（万元）"])) == Decimal("3888.98") + Decimal("7542.34")


def test_a_rerun_updates_the_lines_in_place(session: Session, arranged: Arranged) -> None:
    cid = arranged.cycle_id
    first = {code: r.id for code, r in recompute(session, cid).items()}
    evaluate(session, cid, "fiscal", "policy", "ZC01", "95.00")
    again = recompute(session, cid)
    assert {code: r.id for code, r in again.items()} == first
    assert len(session.exec(select(PolicyRecommendation)).all()) == 1
    cycle = session.get(Cycle, cid)
    assert cycle is not None and all(r.budget_year == cycle.budget_year for r in again.values())
    assert session.exec(select(Department)).first() is not None

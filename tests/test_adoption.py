"""Adoption (采纳情况): the adopted budget imported from its workbook, each recommendation line adopted, changed or
not adopted, and the next annual report's sentence and table — on the small test district's records."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select
from typer.testing import CliRunner

from models import Approval, BudgetAdoption, BudgetRecommendation, Cycle, Project
from models.audit_log import AuditEntry
from perfcycle.adoption import (
    adoption_lines,
    adoption_summary,
    import_adopted_budget,
    stated_adoption,
    write_adoption_form,
)
from perfcycle.cli import app
from perfcycle.collecting import WindowError
from perfcycle.documents.contexts import annual_report_context
from perfcycle.documents.renderer import docx_text, render_docx
from perfcycle.money import fmt_wan, wan_to_fen
from perfcycle.rules.adoption import adoption_rate, adoption_status
from perfcycle.workbooks.reader import ImportRejected
from tests.documents.records import YEAR, Arranged, arrange

runner = CliRunner()
# The adopted amounts (万元) against the arranged recommendations: P01, P04, P05 and P07 as recommended; P02 and P06
# another amount below their request; P03 (事前评估不予支持, recommended 0) at its whole request.
ADOPTED = {"P02": "3000.00", "P03": "7604.00", "P06": "1400.00"}


@pytest.fixture
def arranged(session: Session) -> Arranged:
    return arrange(session)


def approve_table(session: Session, cycle_id: int) -> None:
    for level, by in ((1, "周晓梅"), (2, "刘建国")):
        session.add(Approval(cycle_id=cycle_id, gate="budget_table", level=level, status="approved", decided_by=by))
    session.commit()


def filled_form(session: Session, path: Path, amounts: dict[str, str], drop: str = "", extra: str = "") -> Path:
    """The 人大批准预算表 as `template` writes it, with the adopted amounts entered (the recommended one unless given)."""
    write_adoption_form(session, YEAR, path)
    book = load_workbook(path)
    sheet = book["批准预算"]
    headers = [cell.value for cell in sheet[1]]
    code_at, recommended_at, adopted_at = (
        headers.index(h) + 1 for h in ("项目编码", "建议安排（万元）", "批准金额（万元）")
    )
    for row in range(2, sheet.max_row + 1):
        code = sheet.cell(row=row, column=code_at).value
        recommended = sheet.cell(row=row, column=recommended_at).value
        sheet.cell(row=row, column=adopted_at).value = float(amounts.get(str(code), recommended))
    if drop:
        rows = [r for r in range(2, sheet.max_row + 1) if sheet.cell(row=r, column=code_at).value == drop]
        sheet.delete_rows(rows[0])
    if extra:
        sheet.append([extra, "", None, 10])
    book.save(path)
    return path


def test_the_rule_at_its_boundaries() -> None:
    assert adoption_status(1000, 900, 900) == "adopted"
    assert adoption_status(1000, 900, 1000) == "not_adopted"  # the cut was not applied
    assert adoption_status(1000, 900, 1200) == "not_adopted"
    assert adoption_status(1000, 900, 999) == "changed"
    assert adoption_status(1000, 1000, 800) == "changed"  # no cut was recommended: any other amount is a change
    assert adoption_status(1000, 0, 0) == "adopted"
    assert adoption_rate(4, 7) == Decimal("57.14") and adoption_rate(0, 0) == Decimal("0.00")


def test_each_line_is_adopted_changed_or_not_adopted(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    with pytest.raises(WindowError, match="尚未审批通过"):
        write_adoption_form(session, YEAR, tmp_path / "early.xlsx")
    approve_table(session, arranged.cycle_id)
    result = import_adopted_budget(
        session, year=YEAR, path=filled_form(session, tmp_path / "a.xlsx", ADOPTED), by="周晓梅"
    )
    session.commit()
    assert (result.lines, result.budget_year, result.unchanged) == (7, YEAR + 2, False)

    lines = {a.line.project_code: a for a in adoption_lines(session, arranged.cycle_id)}
    assert {code: a.status for code, a in lines.items()} == {
        "P01": "adopted",
        "P02": "changed",
        "P03": "not_adopted",
        "P04": "adopted",
        "P05": "adopted",
        "P06": "changed",
        "P07": "adopted",
    }
    recommended = {r.project_id: r.recommended_fen for r in arranged.recommendations}
    p02 = next(p for p in arranged.projects if p.code == "P02")
    assert lines["P02"].difference_fen == wan_to_fen("3000.00") - recommended[p02.id or 0]
    summary = adoption_summary(session, arranged.cycle_id)
    assert summary is not None
    assert summary.as_json() == {"lines": 7, "adopted": 4, "changed": 2, "not_adopted": 1}
    assert summary.rate_pct == "57.14%"
    assert [(r.label, r.lines) for r in summary.rows] == [("采纳", 4), ("调整", 2), ("未采纳", 1), ("合计", 7)]
    adopted_total = sum(a.adopted_fen for a in lines.values())
    assert summary.rows[-1].adopted_wan == f"{Decimal(adopted_total) / 1_000_000:.2f}"
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "adoption.imported")).one()
    assert json.loads(entry.payload_json)["figures"] == summary.as_json()

    again = import_adopted_budget(session, year=YEAR, path=tmp_path / "a.xlsx", by="周晓梅")
    assert again.unchanged  # the same amounts: nothing written, nothing audited


def test_an_override_is_what_the_adopted_amount_is_compared_with(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    rec = session.exec(
        select(BudgetRecommendation).join(Project).where(Project.code == "P02", Project.year == YEAR)
    ).one()
    rec.override_fen, rec.override_reason = wan_to_fen("3000.00"), "压减办公经费"
    session.add(rec)
    approve_table(session, arranged.cycle_id)
    import_adopted_budget(session, year=YEAR, path=filled_form(session, tmp_path / "a.xlsx", ADOPTED))
    session.commit()
    assert {a.line.project_code: a.status for a in adoption_lines(session, arranged.cycle_id)}["P02"] == "adopted"


def test_a_workbook_with_a_line_missing_or_unknown_is_refused_whole(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    approve_table(session, arranged.cycle_id)
    with pytest.raises(ImportRejected) as missing:
        import_adopted_budget(session, year=YEAR, path=filled_form(session, tmp_path / "m.xlsx", {}, drop="P05"))
    assert "缺少建议表中的项目 P05" in str(missing.value)
    with pytest.raises(ImportRejected) as unknown:
        import_adopted_budget(session, year=YEAR, path=filled_form(session, tmp_path / "u.xlsx", {}, extra="P99"))
    assert "第 9 行" in str(unknown.value) and "项目 P99 不在 2024 年度的预算安排建议表中" in str(unknown.value)
    assert session.exec(select(BudgetAdoption)).all() == []


def test_the_next_annual_report_states_the_adoption(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    current = session.get(Cycle, arranged.cycle_id)
    assert current is not None
    policy = {**json.loads(current.policy_json), "year": YEAR + 1}  # the next year's (its calendar a year on)
    following = Cycle(year=YEAR + 1, budget_year=YEAR + 3, district=current.district, policy_json=json.dumps(policy))
    session.add(following)
    session.commit()
    assert annual_report_context(session, following.id or 0).adoption is None  # nothing imported yet
    approve_table(session, arranged.cycle_id)
    adopted_on = date(YEAR + 2, 1, 20)  # the budget year's budget, adopted after the cycle's own report
    form = filled_form(session, tmp_path / "a.xlsx", ADOPTED)
    import_adopted_budget(session, year=YEAR, path=form, on=adopted_on)
    session.commit()
    # Its own report, dated before the adoption (its calendar's day), does not state it, written again or not.
    assert annual_report_context(session, arranged.cycle_id).adoption is None
    own = stated_adoption(session, current)  # as the records stand now (--json)
    assert own is not None and own[0] == arranged.cycle_id and own[1].rate_pct == "57.14%"
    assert stated_adoption(session, current, adopted_on - timedelta(days=1)) is None
    assert stated_adoption(session, following, adopted_on - timedelta(days=1)) is None  # not imported yet that day
    assert stated_adoption(session, following, adopted_on) == own

    context = annual_report_context(session, following.id or 0)
    assert context.adoption is not None and context.adoption.rate_pct == "57.14%"
    path = tmp_path / "说明.docx"
    render_docx("annual_report.md.j2", context, path)
    text = docx_text(path)
    assert (
        f"{YEAR}年度提出的{YEAR + 2}年预算安排建议经区人大审议批准，7个项目中采纳4个、调整2个、未采纳1个，采纳率57.14%"
        in text
    )
    total = context.adoption.rows[-1]
    assert f"合计|7|{total.recommended_wan}|{total.adopted_wan}|{total.difference_wan}" in text


def test_the_command_line_writes_imports_and_shows(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    approve_table(session, arranged.cycle_id)
    form = tmp_path / "批准预算.xlsx"
    written = runner.invoke(app, ["adoption", "template", "--year", str(YEAR), "--out", str(form)])
    assert written.exit_code == 0 and "7 个项目" in written.output
    filled_form(session, form, ADOPTED)
    undated = runner.invoke(app, ["adoption", "import", str(form), "--year", str(YEAR), "--on", "1月20日"])
    assert undated.exit_code == 1 and "--on 应为日期 YYYY-MM-DD" in undated.output
    assert session.exec(select(BudgetAdoption)).all() == []
    imported = runner.invoke(
        app, ["adoption", "import", str(form), "--year", str(YEAR), "--by", "周晓梅", "--on", f"{YEAR + 2}-01-20"]
    )
    assert imported.exit_code == 0, imported.output
    assert "采纳 4，调整 2，未采纳 1，采纳率 57.14%" in imported.output
    session.expire_all()
    assert {a.imported_on for a in session.exec(select(BudgetAdoption))} == {date(YEAR + 2, 1, 20)}
    shown = runner.invoke(app, ["adoption", "--year", str(YEAR), "--json"])
    data = json.loads(shown.output)
    assert (data["lines"], data["adopted"], data["changed"], data["not_adopted"]) == (7, 4, 2, 1)
    p06 = next(p for p in arranged.projects if p.code == "P06")
    recommended = next(r.recommended_fen for r in arranged.recommendations if r.project_id == p06.id)
    expected = fmt_wan(wan_to_fen("1400.00") - recommended)
    assert {d["project_code"]: d["difference_wan"] for d in data["lines_detail"]}["P06"] == expected
    listed = runner.invoke(app, ["adoption", "--year", str(YEAR)])
    assert "P03" in listed.output and "未采纳" in listed.output and "P01" not in listed.output  # lines not adopted
    none = runner.invoke(app, ["adoption", "--year", str(YEAR + 1)])
    assert none.exit_code == 1

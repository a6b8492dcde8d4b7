"""The rectification register (问题整改): registering every source's findings, answers, verifications, the
register's listing, its reminders and what it hands the next cycle — on the small test district's records."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models import BudgetRecommendation, Cycle, Document, Evaluation, Finding, Project, WarningNotice
from models.audit_log import AuditEntry, Notification
from models.tables import WarningResponse
from perfcycle.accounts import admin_actor
from perfcycle.cli import app
from perfcycle.collecting import WindowError, respond_to_warning
from perfcycle.documents.renderer import docx_text
from perfcycle.documents.spreadsheets import write_budget_table
from perfcycle.findings import (
    FindingError,
    answer_finding,
    finding_figures,
    list_findings,
    open_findings_before,
    open_findings_note,
    register,
    verify_finding,
)
from perfcycle.notify import OutboxNotifier
from perfcycle.policy import policy_from_json
from perfcycle.reminding import open_findings, run_reminders
from perfcycle.rules.findings import SOURCES
from tests.documents.records import YEAR, Arranged
from tests.loops import COORDINATOR, OTHER_COORDINATOR, BureauDay, arrange_with_contacts, department_id

runner = CliRunner()
REGISTERED = date(2025, 3, 10)  # the bureau's date at registration


@pytest.fixture
def arranged(session: Session) -> Arranged:
    return arrange_with_contacts(session)


@pytest.fixture
def bureau_day(monkeypatch: pytest.MonkeyPatch) -> BureauDay:
    return BureauDay(monkeypatch, REGISTERED)


def cycle_of(session: Session, arranged: Arranged) -> Cycle:
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    return cycle


def register_all(session: Session, cycle: Cycle, on: date = REGISTERED) -> dict[str, dict[str, int]]:
    results = {source: register(session, cycle, source, on) for source in SOURCES}
    session.commit()
    return results


def finding(session: Session, source: str, key: str) -> Finding:
    return session.exec(select(Finding).where(Finding.source == source, Finding.key == key)).one()


def test_every_source_is_registered_once_with_its_deadline(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    days = policy_from_json(cycle.policy_json).rectification.answer_days
    first = register_all(session, cycle)
    # Red lights D02 and D03 (Q1); the inflated claim of P02; the review flag of P06; the ex-ante condition of
    # P02 (调整后支持). P01's key evaluation is 优: its findings ask nothing of the department.
    assert {s: r["registered"] for s, r in first.items()} == {
        "red_light": 2,
        "review_flag": 1,
        "inflated_claim": 1,
        "key_evaluation": 0,
        "ex_ante": 1,
    }
    red = finding(session, "red_light", "Q1:D03")
    assert (red.department_id, red.registered_on, red.due_on) == (
        department_id(session, "D03"),
        date(2024, 4, 10),
        date(2024, 4, 20),
    )
    assert "一季度" in red.text and "亮红灯" in red.text
    review = finding(session, "review_flag", "project:P06")
    assert (review.department_id, review.object_name) == (department_id(session, "D05"), "测试项目06")
    assert review.due_on == REGISTERED + timedelta(days=days["review_flag"]) and "复核得分低于自评17分" in review.text
    ex_ante = finding(session, "ex_ante", "project:P02")
    assert "调整后支持" in ex_ante.text and "620.02 万元" in ex_ante.text
    # Registered after the 事前绩效评估报告's day in the calendar (02-28): on that day, as the report found it.
    assert ex_ante.registered_on == date(2024, 2, 28) < REGISTERED
    assert ex_ante.due_on == ex_ante.registered_on + timedelta(days=days["ex_ante"])
    assert review.registered_on == REGISTERED  # before the 抽查复核结果's day: the bureau's date

    again = register_all(session, cycle, REGISTERED + timedelta(days=7))  # a rerun a week later
    assert all(r["registered"] == 0 and r["withdrawn"] == 0 for r in again.values())
    assert finding(session, "review_flag", "project:P06").due_on == review.due_on  # its deadline stays
    assert len(session.exec(select(Finding)).all()) == 5
    actions = [e.action for e in session.exec(select(AuditEntry))]
    assert actions.count("findings.registered") == 4  # once per source that changed, never on the rerun


def test_each_line_of_a_key_evaluation_that_asks_for_action_is_a_finding(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    evaluation = session.exec(select(Evaluation).where(Evaluation.kind == "fiscal")).one()
    evaluation.grade, evaluation.department_id = "中", department_id(session, "D01")
    evaluation.findings = "资金支付进度偏慢。\n\n  档案资料不够规范。  "
    session.add(evaluation)
    session.commit()
    assert register(session, cycle, "key_evaluation", REGISTERED)["registered"] == 2
    lines = session.exec(select(Finding).where(Finding.source == "key_evaluation").order_by(col(Finding.key))).all()
    assert [(f.key, f.text) for f in lines] == [
        ("project:P01:1", "财政重点评价（中）：资金支付进度偏慢。"),
        ("project:P01:2", "财政重点评价（中）：档案资料不够规范。"),
    ]
    assert {f.object_name for f in lines} == {"测试项目01"}


def test_a_finding_the_source_no_longer_finds_is_withdrawn_unless_answered(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    register_all(session, cycle)
    answer_finding(
        session, finding(session, "inflated_claim", "project:P02").id or 0, measures="已核实", by="联系人D01"
    )
    session.commit()
    for evaluation in session.exec(select(Evaluation).where(col(Evaluation.flagged).is_(True))):
        evaluation.flagged = False  # scores imported again: nothing is flagged any more
        session.add(evaluation)
    session.commit()
    assert register(session, cycle, "review_flag", REGISTERED)["withdrawn"] == 1
    assert register(session, cycle, "inflated_claim", REGISTERED)["withdrawn"] == 0  # answered: it stays
    session.commit()
    kept = session.exec(select(Finding.source).where(Finding.source != "red_light").order_by(col(Finding.id)))
    assert list(kept) == ["inflated_claim", "ex_ante"]


def test_a_department_answers_and_the_coordinator_verifies(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    register_all(session, cycle)
    review = finding(session, "review_flag", "project:P06")
    assert review.id is not None

    with pytest.raises(WindowError, match="联系人D01 不是测试部门05的填报联系人或负责人"):
        answer_finding(session, review.id, measures="补充佐证材料", by="联系人D01")  # another department's contact
    with pytest.raises(FindingError, match="部门尚未反馈整改措施"):
        verify_finding(session, review.id, fixed=True, comment="同意", by=COORDINATOR)
    with pytest.raises(FindingError, match="须写明整改措施"):
        answer_finding(session, review.id, measures="  ", by="联系人D05")

    bureau_day.move(review.due_on + timedelta(days=2))
    answer_finding(session, review.id, measures="补充佐证材料，重新核定自评得分", by="")  # the contact, by default
    session.commit()
    session.refresh(review)
    assert (review.status, review.answered_by, review.answers) == ("answered", "联系人D05", 1)
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "finding.answered")).one()
    assert json.loads(entry.payload_json)["late"] is True

    with pytest.raises(FindingError, match="联系人D05 不是财政局绩效科的审批人"):
        verify_finding(session, review.id, fixed=True, comment="同意", by="联系人D05")
    with pytest.raises(FindingError, match="须写明意见"):
        verify_finding(session, review.id, fixed=True, comment="", by=COORDINATOR)
    verify_finding(session, review.id, fixed=False, comment="佐证材料仍不完整", by=COORDINATOR)
    session.commit()
    assert (review.status, review.verified_by, review.comment) == ("unfixed", COORDINATOR, "佐证材料仍不完整")

    answer_finding(session, review.id, measures="补齐全部佐证材料", by="负责人D05")  # the head may answer too
    session.commit()
    assert (review.status, review.answers, review.verified_by) == ("answered", 2, "")
    verify_finding(session, review.id, fixed=True, comment="已补齐", by=OTHER_COORDINATOR)
    session.commit()
    assert review.status == "fixed"
    with pytest.raises(FindingError, match="已验证为已整改"):
        answer_finding(session, review.id, measures="再补充", by="联系人D05")

    refused = [e.action for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))) if "refused" in e.action]
    assert refused == [  # every refusal but the empty answer, which names no one
        "submission.refused",
        "finding.verify_refused",
        "finding.verify_refused",
        "finding.verify_refused",
        "finding.answer_refused",
    ]


def test_a_red_light_is_answered_by_its_warning_response(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    register_all(session, cycle)
    red = finding(session, "red_light", "Q1:D02")
    assert red.id is not None
    with pytest.raises(WindowError, match="原因分析"):
        answer_finding(session, red.id, measures="加快支出", by="联系人D02")  # a response needs its causes
    answer_finding(session, red.id, cause="项目招标延期", measures="倒排工期", by="联系人D02")
    session.commit()
    session.refresh(red)
    assert (red.status, red.answered_by) == ("answered", "联系人D02")
    assert red.measures == "原因分析：项目招标延期\n整改措施：倒排工期"
    assert session.exec(select(WarningResponse)).one().measures == "倒排工期"

    other = finding(session, "red_light", "Q1:D03")  # `perfcycle respond` answers it just the same
    respond_to_warning(session, year=YEAR, quarter="Q1", department_code="D03", cause="资金未到位", measures="协调拨付",
                       by="联系人D03")  # fmt: skip
    session.commit()
    session.refresh(other)
    assert (other.status, other.answers) == ("answered", 1)
    verify_finding(session, other.id or 0, fixed=True, comment="下一季度已转绿灯", by=COORDINATOR)
    session.commit()
    assert other.status == "fixed"


def test_an_answer_states_its_completion_and_a_red_light_verified_fixed_takes_no_new_response(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    register_all(session, cycle)
    review = finding(session, "review_flag", "project:P06")
    answer_finding(session, review.id or 0, measures="补充佐证材料", progress="已完成 80%", by="联系人D05")
    session.commit()
    assert review.measures == "补充佐证材料\n完成情况：已完成 80%"

    red = finding(session, "red_light", "Q1:D02")
    answer_finding(session, red.id or 0, cause="项目招标延期", measures="倒排工期", by="联系人D02")
    session.commit()
    verify_finding(session, red.id or 0, fixed=True, comment="已转绿灯", by=COORDINATOR)
    session.commit()
    with pytest.raises(FindingError, match="已验证为已整改"):
        answer_finding(session, red.id or 0, cause="再分析", measures="再整改", by="联系人D02")
    with pytest.raises(WindowError, match="已验证为已整改"):  # nor by `perfcycle respond` / the warnings form
        respond_to_warning(
            session, year=YEAR, quarter="Q1", department_code="D02", cause="再分析", measures="再整改", by="联系人D02"
        )
    session.rollback()
    session.refresh(red)
    assert (red.status, red.comment) == ("fixed", "已转绿灯")
    assert session.exec(select(WarningResponse)).one().versions == 1  # the response was not touched


def test_the_bureau_answers_a_finding_without_a_department_and_never_verifies_its_own_answer(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    evaluation = session.exec(select(Evaluation).where(Evaluation.kind == "fiscal")).one()
    evaluation.grade, evaluation.department_id, evaluation.findings = "差", None, "资金闲置。"
    session.add(evaluation)
    session.commit()
    register(session, cycle, "key_evaluation", REGISTERED)
    session.commit()
    lone = finding(session, "key_evaluation", "project:P01:1")
    assert lone.department_id is None and lone.id is not None
    with pytest.raises(FindingError, match="没有责任部门"):
        answer_finding(session, lone.id, measures="收回闲置资金", by="联系人D01")
    answer_finding(session, lone.id, measures="收回闲置资金", by=COORDINATOR)
    session.commit()
    with pytest.raises(FindingError, match=r"反馈了.*不能再验证（职责分离）"):
        verify_finding(session, lone.id, fixed=True, comment="同意", by=COORDINATOR)
    verify_finding(session, lone.id, fixed=True, comment="同意", by=OTHER_COORDINATOR)
    session.commit()
    assert lone.status == "fixed"
    assert open_findings_before(session, YEAR + 1) == {}  # nothing left open, and no department to put first


def test_a_response_before_registration_reads_as_an_answer(session: Session, arranged: Arranged) -> None:
    cycle = cycle_of(session, arranged)
    notice = session.exec(
        select(WarningNotice).where(WarningNotice.department_id == department_id(session, "D03"))
    ).one()
    session.add(WarningResponse(notice_id=notice.id or 0, cause="原因", measures="措施", responded_by="联系人D03"))
    session.commit()
    register(session, cycle, "red_light", REGISTERED)
    session.commit()
    assert finding(session, "red_light", "Q1:D03").status == "answered"
    assert finding(session, "red_light", "Q1:D02").status == "open"


def test_the_register_lists_by_department_and_state(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    register_all(session, cycle)
    review = finding(session, "review_flag", "project:P06")
    answer_finding(session, review.id or 0, measures="补充材料", by="联系人D05")
    session.commit()

    rows = list_findings(session, YEAR, on=REGISTERED)
    assert [(r.department_code, r.source) for r in rows] == [
        ("D01", "inflated_claim"),
        ("D01", "ex_ante"),
        ("D02", "red_light"),
        ("D03", "red_light"),
        ("D05", "review_flag"),
    ]
    # The red lights were due 2024-04-20 and the ex-ante condition (registered on its report's day, 2024-02-28)
    # 2024-03-29: overdue; the others are due later and still open, or answered.
    assert [r.state_label for r in rows] == ["待整改", "逾期", "逾期", "逾期", "已反馈"]
    assert [r.id for r in list_findings(session, YEAR, state="overdue", on=REGISTERED)] == [
        r.id for r in rows if r.source in ("red_light", "ex_ante")
    ]
    assert [r.subject for r in list_findings(session, YEAR, department_code="D05")] == ["项目 P06 测试项目06"]
    later = REGISTERED + timedelta(days=31)
    assert {r.state for r in list_findings(session, YEAR, department_code="D01", on=later)} == {"overdue"}
    counts = finding_figures(session, arranged.cycle_id, REGISTERED)
    assert counts.as_dict() == {
        "registered": 5,
        "responded": 1,
        "closed": 0,
        "overdue": 3,
        "by_source": {"red_light": 2, "review_flag": 1, "inflated_claim": 1, "ex_ante": 1},
    }
    with pytest.raises(FindingError, match="没有编码为 D99 的部门"):
        list_findings(session, YEAR, department_code="D99")


def test_open_findings_of_earlier_cycles_go_to_the_next_cycle(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    register_all(session, cycle)
    review = finding(session, "review_flag", "project:P06")
    answer_finding(session, review.id or 0, measures="补充材料", by="联系人D05")
    session.commit()
    verify_finding(session, review.id or 0, fixed=True, comment="已整改", by=COORDINATOR)
    session.commit()

    assert open_findings_before(session, YEAR) == {}  # the cycle's own findings are for the next one
    following = open_findings_before(session, YEAR + 1, REGISTERED)
    assert set(following) == {department_id(session, code) for code in ("D01", "D02", "D03")}  # D05's was fixed
    note = open_findings_note(following[department_id(session, "D01")])
    assert (
        note.startswith("2项：") and f"{YEAR}自评偏高（待整改）" in note and f"{YEAR}事前评估（逾期）" in note
    )  # due 30 days after 2024-02-28


def test_reminders_go_to_departments_that_have_not_answered(
    session: Session, arranged: Arranged, bureau_day: BureauDay, tmp_path: Path
) -> None:
    cycle = cycle_of(session, arranged)
    # D01's overall self-evaluation is claimed too high as well: two findings of D01 due the same day.
    overall = session.exec(select(Evaluation).where(Evaluation.kind == "self", Evaluation.object_code == "D01")).one()
    overall.claimed_score, overall.flagged, overall.flag_reason = Decimal("92.00"), True, "自评高于核定11分"
    session.add(overall)
    register_all(session, cycle)
    cycle.status = "done"  # findings are followed after the cycle closed
    session.add(cycle)
    session.commit()
    due = REGISTERED + timedelta(days=30)

    obligations = {o.item: o for o in open_findings(session, due)}
    # The ex-ante condition was found by the 事前绩效评估报告 of 2024-02-28: due 30 days after that day, overdue,
    # reminded on its own deadline. No red light: those are answered as 预警整改 responses.
    ex_ante = f"findings:{YEAR}:D01:2024-03-29"
    assert set(obligations) == {f"findings:{YEAR}:D01:{due}", f"findings:{YEAR}:D05:{due}", ex_ante}
    d01 = obligations[f"findings:{YEAR}:D01:{due}"]
    assert d01.deadline == due and "2项" in d01.title and "perfcycle findings answer" in d01.detail
    assert d01.escalate_to is not None and d01.escalate_to.name == "负责人D01"
    assert obligations[ex_ante].deadline == date(2024, 3, 29) and "1项" in obligations[ex_ante].title

    answer_finding(session, finding(session, "review_flag", "project:P06").id or 0, measures="整改", by="联系人D05")
    answer_finding(session, finding(session, "ex_ante", "project:P02").id or 0, measures="调整规模", by="联系人D01")
    session.commit()
    assert {o.item for o in open_findings(session, due)} == {f"findings:{YEAR}:D01:{due}"}

    notifier = OutboxNotifier(tmp_path / "outbox")
    assert run_reminders(due - timedelta(days=3), notifier, [open_findings])["sent"] == 1  # T-3
    assert run_reminders(due - timedelta(days=2), notifier, [open_findings])["sent"] == 0
    assert run_reminders(due + timedelta(days=3), notifier, [open_findings])["sent"] == 2  # overdue + the head
    subjects = [n.subject for n in session.exec(select(Notification).order_by(col(Notification.id)))]
    assert "问题整改情况" in subjects[0] and "逾期" in subjects[1] and "督办" in subjects[2]


def test_the_command_line_lists_answers_and_verifies(
    session: Session, arranged: Arranged, bureau_day: BureauDay
) -> None:
    cycle = cycle_of(session, arranged)
    register_all(session, cycle)
    review = finding(session, "review_flag", "project:P06")

    listed = runner.invoke(app, ["findings", "--year", str(YEAR), "--department", "D05"])
    assert listed.exit_code == 0, listed.output
    text = " ".join(listed.output.split())
    assert "登记 5 项" in text and "抽查复核" in text and "测试项目06" in text and "待整改" in text

    refused = runner.invoke(app, ["findings", "verify", str(review.id), "--fixed", "--comment", "好", "--by", "张三"])
    assert refused.exit_code == 1 and "张三 不是财政局绩效科的审批人" in refused.output
    both = runner.invoke(app, ["findings", "verify", str(review.id), "--by", COORDINATOR, "--comment", "好"])
    assert both.exit_code == 1 and "--fixed" in both.output

    answered = runner.invoke(app, ["findings", "answer", str(review.id), "--measures", "补充佐证材料"])
    assert answered.exit_code == 0, answered.output
    assert f"已记录整改事项 {review.id}（抽查复核）的整改措施" in answered.output
    verified = runner.invoke(
        app, ["findings", "verify", str(review.id), "--unfixed", "--comment", "材料不全", "--by", COORDINATOR]
    )
    assert verified.exit_code == 0 and "未整改" in verified.output
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "finding.verified")).one()
    assert (entry.actor, json.loads(entry.payload_json)["on_behalf_of"]) == (admin_actor(), COORDINATOR)

    as_json = runner.invoke(app, ["findings", "--year", str(YEAR), "--status", "未整改", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert (data["registered"], data["responded"]) == (5, 1)
    assert [(f["id"], f["status"], f["comment"]) for f in data["findings"]] == [(review.id, "unfixed", "材料不全")]
    unknown = runner.invoke(app, ["findings", "--year", str(YEAR), "--status", "完成"])
    assert unknown.exit_code == 1 and "整改状态应为" in unknown.output
    assert runner.invoke(app, ["findings"]).exit_code == 1  # a year is needed


def test_the_next_budget_table_states_open_findings_beside_the_lines(
    session: Session, arranged: Arranged, bureau_day: BureauDay, tmp_path: Path
) -> None:
    cycle = cycle_of(session, arranged)
    register_all(session, cycle)
    following = Cycle(year=YEAR + 1, budget_year=YEAR + 3, district=cycle.district, policy_json=cycle.policy_json)
    session.add(following)
    session.flush()
    for code, department in (("N01", "D01"), ("N02", "D05"), ("N03", "D07")):
        project = Project(year=YEAR + 1, code=code, department_id=department_id(session, department), name=f"新项目{code}",
                          type="事业发展类", attribute="延续", request_fen=1_000_000)  # fmt: skip
        session.add(project)
        session.flush()
        session.add(BudgetRecommendation(cycle_id=following.id or 0, project_id=project.id or 0,
                                         budget_year=YEAR + 3, request_fen=1_000_000, recommended_fen=1_000_000))  # fmt: skip
    session.commit()
    path = tmp_path / "budget.xlsx"
    write_budget_table(session, following.id or 0, path)
    sheet = load_workbook(path).active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]
    column = header.index("以前年度未整改问题") + 1
    beside = {sheet.cell(row=r, column=3).value: sheet.cell(row=r, column=column).value for r in (3, 4, 5)}
    inflated = finding(session, "inflated_claim", "project:P02").id
    condition = finding(session, "ex_ante", "project:P02").id
    review = finding(session, "review_flag", "project:P06").id
    assert beside == {
        # The ex-ante condition was found on 2024-02-28 and due 30 days later: overdue on the bureau's date.
        "N01": f"2项：#{inflated} {YEAR}自评偏高（待整改）、#{condition} {YEAR}事前评估（逾期）",
        "N02": f"1项：#{review} {YEAR}抽查复核（待整改）",
        "N03": None,  # D07 has no finding
    }


def test_the_quarterly_notice_lists_what_is_still_open(
    session: Session, arranged: Arranged, bureau_day: BureauDay, tmp_path: Path
) -> None:
    """The Q4 通报 is dated by its records (at the latest the day the quarter's warnings are) and states the register
    as it stood at the quarter's end: written again after later findings and answers, it has the same bytes."""
    cycle = cycle_of(session, arranged)
    in_year = date(YEAR, 12, 15)
    bureau_day.move(in_year)
    for source in SOURCES:
        if source != "inflated_claim":
            register(session, cycle, source, in_year)
    session.commit()
    review = finding(session, "review_flag", "project:P06")
    answer_finding(session, review.id or 0, measures="补充材料", by="联系人D05")
    session.commit()
    verify_finding(session, review.id or 0, fixed=True, comment="已整改", by=COORDINATOR)
    session.commit()

    def notice(day: date, out: Path) -> Path:
        bureau_day.move(day)
        written = runner.invoke(app, ["findings", "notice", "--year", str(YEAR), "--quarter", "Q4", "--out", str(out)])
        assert written.exit_code == 0, written.output
        return out / "documents" / str(YEAR) / "09-问题整改" / f"{YEAR}年Q4问题整改情况通报.docx"

    path = notice(date(YEAR + 1, 3, 10), tmp_path / "first")  # after the fact: dated 10 days after the quarter
    text = docx_text(path)
    assert f"关于{YEAR}年四季度预算绩效\n问题整改情况的通报" in text  # the title broken by meaning
    assert f"现将截至{YEAR}年12月31日预算绩效问题整改情况通报如下" in text and f"{YEAR + 1}年1月10日" in text
    assert "测试部门01、测试部门02、测试部门03：" in text  # the departments with findings still open
    assert "共登记问题4项（监控红灯2项、抽查复核1项、事前评估1项）" in text
    # The red lights, due 2024-04-20, and the ex-ante condition found on 2024-02-28, due 2024-03-29.
    assert "已整改1项，尚未整改到位3项，其中3项逾期未反馈" in text
    assert "测试项目06" not in text and "项目 P02 测试项目02：事前绩效评估结论为调整后支持" in text
    assert "请上述部门对照问题清单逐项落实整改" in text
    document = session.exec(select(Document).where(Document.kind == "问题整改情况通报")).one()
    assert (document.subject, Path(document.path)) == ("Q4", path)

    # Later: a new finding, an answer. The 通报 of the quarter still says what it said, byte for byte.
    later = date(YEAR + 1, 4, 2)
    bureau_day.move(later)
    register(session, cycle, "inflated_claim", later)
    ex_ante = finding(session, "ex_ante", "project:P02")
    answer_finding(session, ex_ante.id or 0, measures="调整绩效目标", by="联系人D01")
    session.commit()
    assert notice(later, tmp_path / "again").read_bytes() == path.read_bytes()

    bad = runner.invoke(app, ["findings", "notice", "--year", str(YEAR), "--quarter", "Q5", "--out", str(tmp_path)])
    assert bad.exit_code == 1 and "季度应为" in bad.output

"""Deciding gates: policy approver lists, separation of duties, levels, one decision per gate, all recorded."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models import (
    Approval,
    BudgetRecommendation,
    Cycle,
    Department,
    DepartmentRecommendation,
    FiscalPolicy,
    PolicyRecommendation,
    Project,
    StageState,
    TargetReview,
)
from models.audit_log import AuditEntry, DecisionRefusal
from models.tables import SHANGHAI
from perfcycle import audit
from perfcycle.approvals import BudgetOverride, DecisionRefused, decide, list_open
from perfcycle.commands.approvals import register
from perfcycle.demo import DemoFiles
from perfcycle.policy import ApprovalLevelPolicy, ApprovalsPolicy, Policy, load_policy
from tasks.gates import decide_gate

COORDINATOR, COORDINATOR_2, LEADER = "周晓梅", "陈立军", "刘建国"
runner = CliRunner()


def policy_with(**gates: dict[int, list[str]]) -> Policy:
    """The 2024 policy with some gates' approver lists replaced."""
    base = load_policy(2024)
    merged = dict(base.approvals.gates)
    for gate, levels in gates.items():
        merged[gate] = {level: ApprovalLevelPolicy(approvers=names) for level, names in levels.items()}
    approvals = ApprovalsPolicy(response_days=base.approvals.response_days, gates=merged)
    return base.model_copy(update={"approvals": approvals})


def arrange(session: Session, policy: Policy | None = None, auto_approve: bool = False) -> Cycle:
    """Two departments, three projects with submitted targets and budget recommendations, the gates open."""
    policy = policy or load_policy(2024)
    d1 = Department(code="101", name="区教育局", contact="张敏", head="王强", email="a@example.invalid")
    d2 = Department(code="102", name="区卫健委", contact="李娜", head="赵刚")
    cycle = Cycle(year=2024, budget_year=2026, policy_json=policy.as_json(), auto_approve=auto_approve)
    session.add_all([d1, d2, cycle])
    session.flush()
    assert d1.id and d2.id and cycle.id
    projects = [
        Project(
            year=2024,
            code=code,
            department_id=dept,
            name=code,
            type="事业发展类",
            attribute="经常性",
            request_fen=100_000_000,
        )
        for code, dept in (("P1", d1.id), ("P2", d1.id), ("P3", d2.id))
    ]
    session.add_all(projects)
    session.flush()
    for p in projects:
        assert p.id
        session.add(TargetReview(cycle_id=cycle.id, project_id=p.id, status="submitted"))
        session.add(
            BudgetRecommendation(
                cycle_id=cycle.id,
                project_id=p.id,
                budget_year=2026,
                request_fen=100_000_000,
                recommended_fen=90_000_000,
            )
        )
    decide_gate(session, cycle, "targets", subject="101")
    decide_gate(session, cycle, "targets", subject="102")
    decide_gate(session, cycle, "budget_table", level=1)
    session.commit()
    return cycle


def gate(session: Session, name: str, subject: str = "*", level: int = 1) -> Approval:
    row = session.exec(
        select(Approval).where(Approval.gate == name, Approval.subject == subject, Approval.level == level)
    ).one()
    session.refresh(row)
    return row


def refusals(session: Session) -> list[DecisionRefusal]:
    return list(session.exec(select(DecisionRefusal).order_by(col(DecisionRefusal.id))))


def audited(session: Session, action: str) -> list[dict[str, Any]]:
    import json

    rows = session.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id)))
    return [{**json.loads(r.payload_json), "actor": r.actor, "entry": r.subject} for r in rows]


def refused(session: Session, approval_id: int, decision: str, by: str, match: str, **kw: Any) -> None:
    before = len(refusals(session))
    with pytest.raises(DecisionRefused, match=match):
        decide(session, approval_id, decision, by, **kw)
    rows = refusals(session)
    assert len(rows) == before + 1, "every refusal is recorded"
    last = rows[-1]
    assert (last.approval_id, last.actor, last.decision) == (approval_id, by, decision)
    assert last.at is not None and last.reason
    entry = audited(session, "approval.refused")[-1]
    assert entry["actor"] == (by or "(未署名)") and entry["reason"] == last.reason
    approval = session.get(Approval, approval_id)
    assert entry["entry"] == (audit.approval_subject(approval) if approval else f"approval:{approval_id}")


# ---------------------------------------------------------------------------------------------- opening


def test_opening_sets_the_deadline_and_is_audited(session: Session) -> None:
    arrange(session)
    targets = gate(session, "targets", "101")
    assert targets.status == "open" and targets.due_at is not None
    assert targets.due_at - targets.opened_at == timedelta(days=5)
    opened = audited(session, "approval.opened")
    assert [(o["gate"], o["subject"], o["level"]) for o in opened] == [
        ("targets", "101", 1),
        ("targets", "102", 1),
        ("budget_table", "*", 1),
    ]
    assert audit.verify(session) == []


def test_auto_approval_is_recorded_as_auto_policy(session: Session) -> None:
    arrange(session, auto_approve=True)
    targets = gate(session, "targets", "101")
    assert (targets.status, targets.decided_by) == ("approved", "auto-policy")
    decided = audited(session, "approval.decided")
    assert {d["actor"] for d in decided} == {"auto-policy"} and len(decided) == 3
    cycle = session.exec(select(Cycle)).one()
    assert decide_gate(session, cycle, "targets", subject="101") == "approved"
    session.commit()
    assert len(audited(session, "approval.decided")) == 3  # a rerun adds nothing


def test_list_open_says_who_may_decide(session: Session) -> None:
    arrange(session)
    gates = list_open(session, 2024)
    assert [(g.gate, g.subject, g.level) for g in gates] == [
        ("targets", "101", 1),
        ("targets", "102", 1),
        ("budget_table", "*", 1),
    ]
    assert gates[0].approvers == (COORDINATOR, COORDINATOR_2)
    assert gates[0].due_at is not None and not gates[0].overdue()
    assert list_open(session, 2023) == []


# ---------------------------------------------------------------------------------------------- refusals


def test_an_unknown_approver_is_refused_and_recorded(session: Session) -> None:
    arrange(session)
    targets = gate(session, "targets", "101")
    assert targets.id
    refused(session, targets.id, "approve", "路人甲", "路人甲 不在")
    assert gate(session, "targets", "101").status == "open"


def test_self_approval_is_refused_and_recorded(session: Session) -> None:
    cycle = arrange(session)
    department = session.exec(select(Department).where(Department.code == "101")).one()
    department.contact = COORDINATOR  # the coordinator prepared her own department's targets
    session.add(department)
    session.commit()
    targets = gate(session, "targets", "101")
    assert targets.id
    refused(session, targets.id, "approve", COORDINATOR, "职责分离")
    assert COORDINATOR not in list_open(session, cycle.year)[0].approvers
    decide(session, targets.id, "approve", COORDINATOR_2)  # someone else may
    session.commit()
    assert gate(session, "targets", "101").status == "approved"


def test_the_level_one_approver_cannot_also_approve_level_two(session: Session) -> None:
    arrange(session, policy_with(budget_table={1: [COORDINATOR], 2: [LEADER, COORDINATOR]}))
    level1 = gate(session, "budget_table")
    assert level1.id
    decide(session, level1.id, "approve", COORDINATOR)
    session.commit()
    level2 = gate(session, "budget_table", level=2)  # opened by the level-1 approval
    assert level2.status == "open" and level2.id and level2.due_at
    refused(session, level2.id, "approve", COORDINATOR, "职责分离")
    decide(session, level2.id, "approve", LEADER, comment="同意")
    session.commit()
    assert gate(session, "budget_table", level=2).decided_by == LEADER


def test_a_second_decision_on_a_closed_gate_is_refused_and_recorded(session: Session) -> None:
    arrange(session)
    targets = gate(session, "targets", "102")
    assert targets.id
    decide(session, targets.id, "approve", COORDINATOR)
    session.commit()
    refused(session, targets.id, "reject", COORDINATOR_2, "不能再次决定", comment="晚了一步")
    closed = gate(session, "targets", "102")
    assert (closed.status, closed.decided_by) == ("approved", COORDINATOR)


def test_level_two_before_level_one_is_refused(session: Session) -> None:
    cycle = arrange(session)
    decide_gate(session, cycle, "budget_table", level=2)  # opened early, level 1 still open
    session.commit()
    level2 = gate(session, "budget_table", level=2)
    assert level2.id
    refused(session, level2.id, "approve", LEADER, "第1级审批待审批")
    assert gate(session, "budget_table", level=2).status == "open"


def test_a_coordinator_cannot_decide_the_leaders_level(session: Session) -> None:
    arrange(session)
    level1 = gate(session, "budget_table")
    assert level1.id
    decide(session, level1.id, "approve", COORDINATOR)
    session.commit()
    level2 = gate(session, "budget_table", level=2)
    assert level2.id
    refused(session, level2.id, "approve", COORDINATOR_2, "不在")


def test_reject_and_return_need_a_comment(session: Session) -> None:
    arrange(session)
    targets = gate(session, "targets", "101")
    assert targets.id
    refused(session, targets.id, "reject", COORDINATOR, "写明意见")
    refused(session, targets.id, "return", COORDINATOR, "写明意见", comment="   ")
    refused(session, targets.id, "approve", "", "决定人")


# ---------------------------------------------------------------------------------------------- decisions


def test_return_for_revision_sends_the_targets_back(session: Session) -> None:
    cycle = arrange(session)
    targets = gate(session, "targets", "101")
    assert targets.id
    decide(session, targets.id, "return", COORDINATOR, comment="满意度指标缺少目标值")
    session.commit()
    returned = gate(session, "targets", "101")
    assert (returned.status, returned.comment) == ("returned", "满意度指标缺少目标值")
    reviews = {
        p.code: r
        for r, p in session.exec(
            select(TargetReview, Project).join(Project, col(Project.id) == TargetReview.project_id)
        )
    }
    assert {code: r.status for code, r in reviews.items()} == {"P1": "returned", "P2": "returned", "P3": "submitted"}
    assert reviews["P1"].reasons == "满意度指标缺少目标值"
    decided = audited(session, "approval.decided")[-1]
    assert decided["decision"] == "return" and decided["returned_projects"] == ["P1", "P2"]
    # The resubmission (new data) opens the gate again; the same data leaves it returned.
    assert decide_gate(session, cycle, "targets", subject="101") == "returned"
    assert decide_gate(session, cycle, "targets", subject="101", data_digest="new-digest") == "open"
    session.commit()
    assert [e["entry"] for e in audited(session, "approval.reopened")] == [audit.approval_subject(targets)]


def test_a_budget_override_needs_a_reason(session: Session) -> None:
    arrange(session)
    level1 = gate(session, "budget_table")
    assert level1.id
    refused(session, level1.id, "approve", COORDINATOR, "理由", overrides=[BudgetOverride("P1", "95.50", "")])
    refused(session, level1.id, "approve", COORDINATOR, "没有项目", overrides=[BudgetOverride("P9", "1", "x")])
    refused(session, level1.id, "approve", COORDINATOR, "两位小数", overrides=[BudgetOverride("P1", "1.234", "x")])
    refused(
        session,
        level1.id,
        "reject",
        COORDINATOR,
        "只适用于通过",
        comment="否",
        overrides=[BudgetOverride("P1", "1", "x")],
    )
    decide(session, level1.id, "approve", COORDINATOR, overrides=[BudgetOverride("P1", "95.50", "区委常委会议定保障")])
    session.commit()
    p1 = session.exec(select(Project).where(Project.code == "P1")).one()
    rec = session.exec(select(BudgetRecommendation).where(BudgetRecommendation.project_id == p1.id)).one()
    assert (rec.override_fen, rec.override_reason) == (95_500_000, "区委常委会议定保障")
    assert audited(session, "approval.decided")[-1]["overrides"] == [
        {"project_id": p1.id, "amount_wan": "95.50", "reason": "区委常委会议定保障"}
    ]
    assert audit.verify(session) == []


def test_an_override_above_the_original_request_is_refused_by_default(session: Session) -> None:
    arrange(session)
    level1 = gate(session, "budget_table")
    assert level1.id
    too_much = [BudgetOverride("P1", "23689.61", "区委常委会议定保障")]
    refused(session, level1.id, "approve", COORDINATOR, "不能超过原申请额 100.00 万元", overrides=too_much)
    refused(
        session, level1.id, "approve", COORDINATOR, "不能超过原申请额", overrides=[BudgetOverride("P2", "100.01", "x")]
    )
    assert (
        session.exec(select(BudgetRecommendation).where(col(BudgetRecommendation.override_fen).is_not(None))).all()
        == []
    )
    assert gate(session, "budget_table").status == "open"
    decide(session, level1.id, "approve", COORDINATOR, overrides=[BudgetOverride("P1", "100.00", "恢复申请额")])
    session.commit()
    assert gate(session, "budget_table").status == "approved"


def test_an_override_above_the_request_stands_where_the_policy_allows_it(session: Session) -> None:
    base = load_policy(2024)
    allowing = base.model_copy(update={"budget": base.budget.model_copy(update={"overrides_may_exceed_request": True})})
    arrange(session, allowing)
    level1 = gate(session, "budget_table")
    assert level1.id
    decide(session, level1.id, "approve", COORDINATOR, overrides=[BudgetOverride("P1", "23689.61", "区委常委会议定")])
    session.commit()
    p1 = session.exec(select(Project).where(Project.code == "P1")).one()
    rec = session.exec(select(BudgetRecommendation).where(BudgetRecommendation.project_id == p1.id)).one()
    assert rec.override_fen == 23_689_610_000


# ---------------------------------------------------------------------------------------------- CLI


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def with_consequence_lines(session: Session, cycle: Cycle) -> tuple[PolicyRecommendation, DepartmentRecommendation]:
    """A key-evaluated policy (200 万元, 中: 180) and department 101 (P1 and P2 together, 200 万元: 180)."""
    d1 = session.exec(select(Department).where(Department.code == "101")).one()
    assert d1.id and cycle.id
    fiscal_policy = FiscalPolicy(year=2024, code="ZC01", name="测试政策", department_id=d1.id, funds_fen=200_000_000)
    session.add(fiscal_policy)
    session.flush()
    assert fiscal_policy.id
    policy_rec = PolicyRecommendation(
        cycle_id=cycle.id, policy_id=fiscal_policy.id, budget_year=2026, funds_fen=200_000_000, grade="中"
    )
    policy_rec.recommended_fen, policy_rec.reason_kind, policy_rec.reason = 180_000_000, "grade_cut", "压减10%（中）"
    department_rec = DepartmentRecommendation(
        cycle_id=cycle.id, department_id=d1.id, budget_year=2026, request_fen=200_000_000, grade="中"
    )
    department_rec.recommended_fen, department_rec.reason_kind = 180_000_000, "grade_cut"
    for rec in session.exec(select(BudgetRecommendation)).all():
        rec.department_grade = "中"
        session.add(rec)
    session.add_all([policy_rec, department_rec])
    session.commit()
    return policy_rec, department_rec


def test_cli_overrides_a_policys_and_a_departments_line(
    db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named 政策:编码 / 部门:编码 (or the bare code where no project has it), bounded by the line's original
    amount, with a reason, audited; the lines' totals are over the amounts as adjusted."""
    from perfcycle.figures import consequence_figures

    monkeypatch.setattr("perfcycle.commands.approvals.out", Console(width=200))
    cycle = arrange(session)
    policy_rec, department_rec = with_consequence_lines(session, cycle)
    level1 = gate(session, "budget_table")

    def approve(*overrides: str) -> Any:
        args = ["approve", str(level1.id), "--by", COORDINATOR]
        return runner.invoke(cli(), [*args, *(a for o in overrides for a in ("--override", o))])

    too_much = approve("政策:ZC01=200.01:区政府常务会议定")
    assert too_much.exit_code == 1 and "政策 ZC01 的调整金额不能超过原申请额 200.00 万元" in too_much.output
    no_reason = approve("部门:101=150:")
    assert no_reason.exit_code == 1 and "部门 101 的调整金额必须写明理由" in no_reason.output
    unknown = approve("政策:ZC09=1:x")
    assert unknown.exit_code == 1 and "没有政策 ZC09" in unknown.output
    twice = approve("101=150:x", "部门:101=160:y")
    assert twice.exit_code == 1 and "同一行只能调整一次" in twice.output
    assert gate(session, "budget_table").status == "open"

    ok = approve("政策:ZC01=200.00:区政府常务会议定", "101=150.00:压减低效支出", "P3=95:据实")
    assert ok.exit_code == 0, ok.output
    session.refresh(policy_rec)
    session.refresh(department_rec)
    assert (policy_rec.override_fen, policy_rec.override_reason) == (200_000_000, "区政府常务会议定")
    assert (department_rec.override_fen, department_rec.override_reason) == (150_000_000, "压减低效支出")
    entries = audited(session, "approval.decided")[-1]["overrides"]
    assert [e.get("policy_id") or e.get("department_id") or e.get("project_id") for e in entries] == [
        policy_rec.policy_id,
        department_rec.department_id,
        session.exec(select(Project.id).where(Project.code == "P3")).one(),
    ]
    assert audit.verify(session) == []

    figures = consequence_figures(session, cycle.id or 0)
    totals = figures.totals
    assert (totals.base_fen, totals.recommended_fen) == (400_000_000, 350_000_000)  # 200 + 150, not 180 + 180
    assert (totals.cut_fen, figures.overridden) == (50_000_000, ("政策:ZC01", "部门:101"))


def test_a_code_of_two_lines_must_be_named(session: Session) -> None:
    cycle = arrange(session)
    policy_rec, _ = with_consequence_lines(session, cycle)
    fiscal_policy = session.get(FiscalPolicy, policy_rec.policy_id)
    assert fiscal_policy is not None
    fiscal_policy.code = "P1"  # a policy with a project's code
    session.add(fiscal_policy)
    session.commit()
    level1 = gate(session, "budget_table")
    assert level1.id
    refused(session, level1.id, "approve", COORDINATOR, "编码 P1 不止一行", overrides=[BudgetOverride("P1", "1", "x")])
    decide(session, level1.id, "approve", COORDINATOR, overrides=[BudgetOverride("项目:P1", "1", "x")])
    session.commit()
    session.refresh(policy_rec)
    assert policy_rec.override_fen is None


def test_cli_lists_decides_and_refuses_in_one_line(
    db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("perfcycle.commands.approvals.out", Console(width=200))
    arrange(session)
    targets = gate(session, "targets", "101")
    listed = runner.invoke(cli(), ["approvals", "--year", "2024"])
    assert listed.exit_code == 0, listed.output
    assert "绩效目标" in listed.output and "101" in listed.output and COORDINATOR in listed.output

    unknown = runner.invoke(cli(), ["approve", str(targets.id), "--by", "路人甲"])
    assert unknown.exit_code == 1
    assert "Traceback" not in unknown.output and "路人甲 不在" in unknown.output
    assert len([line for line in unknown.output.splitlines() if line.strip()]) == 1

    no_comment = runner.invoke(cli(), ["reject", str(targets.id), "--by", COORDINATOR])
    assert no_comment.exit_code == 1 and "写明意见" in no_comment.output

    ok = runner.invoke(cli(), ["return", str(targets.id), "--by", COORDINATOR, "--comment", "请补充满意度指标"])
    assert ok.exit_code == 0, ok.output
    assert "退回修改" in ok.output

    again = runner.invoke(cli(), ["approve", str(targets.id), "--by", COORDINATOR_2])
    assert again.exit_code == 1 and "不能再次决定" in again.output

    level1 = gate(session, "budget_table")
    override = runner.invoke(
        cli(), ["approve", str(level1.id), "--by", COORDINATOR, "--override", "P2=80：保障重点民生支出"]
    )
    assert override.exit_code == 0, override.output
    assert "第2级审批已开启" in override.output
    bad = runner.invoke(cli(), ["approve", "99999", "--by", COORDINATOR])
    assert bad.exit_code == 1 and "没有编号为 99999" in bad.output
    assert len(refusals(session)) == 4


def test_a_decision_typed_on_the_command_line_is_the_administrators_on_behalf_of_the_named_person(
    db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfcycle.accounts import admin_actor

    monkeypatch.setattr("perfcycle.commands.approvals.out", Console(width=200))
    arrange(session)
    targets = gate(session, "targets", "101")
    ok = runner.invoke(cli(), ["approve", str(targets.id), "--by", COORDINATOR, "--comment", "同意"])
    assert ok.exit_code == 0, ok.output
    admin = admin_actor()
    assert f"{admin} 代 {COORDINATOR} 录入" in ok.output
    session.expire_all()
    decided = gate(session, "targets", "101")
    assert (decided.decided_by, decided.entered_by) == (COORDINATOR, admin)
    entry = audited(session, "approval.decided")[-1]
    assert (entry["actor"], entry["on_behalf_of"], entry["entered_by"]) == (admin, COORDINATOR, admin)

    refused = runner.invoke(cli(), ["approve", str(gate(session, "targets", "102").id), "--by", "路人甲"])
    assert refused.exit_code == 1
    assert refusals(session)[-1].actor == "路人甲"
    entry = audited(session, "approval.refused")[-1]
    assert (entry["actor"], entry["on_behalf_of"]) == (admin, "路人甲")

    history = runner.invoke(cli(), ["approvals", "--year", "2024", "--decided"])
    assert history.exit_code == 0, history.output
    assert "已决定的关口" in history.output and f"{admin} 代 {COORDINATOR} 录入" in history.output


def test_a_decision_under_ones_own_name_names_nobody_else(session: Session) -> None:
    """As the workbench decides: the signer alone, in the record and in the audit entry."""
    from perfcycle.approvals import decision_history

    arrange(session)
    decide(session, gate(session, "targets", "101").id or 0, "approve", COORDINATOR, "同意")
    decided = gate(session, "targets", "101")
    assert (decided.decided_by, decided.entered_by) == (COORDINATOR, "")
    entry = audited(session, "approval.decided")[-1]
    assert entry["actor"] == COORDINATOR and "on_behalf_of" not in entry
    (line,) = decision_history(session, 2024)
    assert line.signed == COORDINATOR and line.subject_name == "101 区教育局"


def test_approve_takes_numbers_as_the_list_shows_them(
    db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("perfcycle.commands.approvals.out", Console(width=200))
    arrange(session)
    first, second = gate(session, "targets", "101"), gate(session, "targets", "102")
    assert second.id == first.id + 1

    backwards = runner.invoke(cli(), ["approve", f"{second.id}-{first.id}", "--by", COORDINATOR])
    assert backwards.exit_code == 1 and "从小到大" in backwards.output
    words = runner.invoke(cli(), ["approve", "全部", "--by", COORDINATOR])
    assert words.exit_code == 1 and "数字或范围" in words.output and "全部" in words.output
    assert gate(session, "targets", "101").status == "open"

    both = runner.invoke(cli(), ["approve", f"{first.id}–{second.id}", "--by", COORDINATOR])
    assert both.exit_code == 0, both.output
    assert [gate(session, "targets", code).status for code in ("101", "102")] == ["approved", "approved"]


def test_the_list_shows_its_times_in_beijing_time_and_says_so(
    db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfcycle.approvals import in_shanghai

    monkeypatch.setattr("perfcycle.commands.approvals.out", Console(width=200))
    arrange(session)
    # 04:00 on 2 February in Beijing is still 1 February in UTC (PostgreSQL hands it back in UTC).
    for subject in ("101", "102"):
        targets = gate(session, "targets", subject)
        targets.due_at = datetime(2024, 2, 2, 4, 0, tzinfo=SHANGHAI)
        session.add(targets)
    session.commit()
    listed = runner.invoke(cli(), ["approvals", "--year", "2024"])
    assert listed.exit_code == 0, listed.output
    assert "时间均为北京时间（Asia/Shanghai）" in listed.output
    assert in_shanghai(targets.due_at).strftime("%Y-%m-%d") == "2024-02-02"
    assert "2024-02-02" in listed.output and "2024-02-01" not in listed.output


@pytest.mark.prefect
def test_approving_from_the_cli_resumes_the_cycle(
    db_url: str,
    session: Session,
    prefect_harness: None,
    demo_2024: DemoFiles,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.annual_cycle import annual_cycle

    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    monkeypatch.setattr("perfcycle.commands.approvals.out", Console(width=200))
    files = demo_2024
    first = annual_cycle(
        year=2024, data=str(files.base), submissions=str(files.submissions), out_dir=str(tmp_path), auto_approve=False
    )
    assert first["waiting"] == ["target_setting"]
    gates = list_open(session, 2024)
    assert gates and {g.gate for g in gates} == {"targets"}
    *others, last = gates
    for g in others:
        decide(session, g.id, "approve", COORDINATOR_2 if COORDINATOR not in g.approvers else COORDINATOR)
    session.commit()
    by = COORDINATOR if COORDINATOR in last.approvers else COORDINATOR_2
    result = runner.invoke(cli(), ["approve", str(last.id), "--by", by, "--resume"])
    assert result.exit_code == 0, result.output
    waiting = list_open(session, 2024)
    assert [(g.gate, g.level) for g in waiting] == [("ex_ante_conclusions", 1)]
    # The run it continued read the panel's score files from the cycle's folder, as the first run would have.
    ex_ante = session.exec(select(StageState).where(StageState.stage == "ex_ante_assessment")).one()
    session.refresh(ex_ante)
    summary = json.loads(ex_ante.summary_json)
    panel_files = list((files.submissions / "panel_scores").glob("*.xlsx"))
    assert panel_files and summary["received"]["files"] == len(panel_files)
    assert summary["projects"] == 10  # every project the panel scored
    used = " ".join(result.output.split())
    assert f"填报目录 {files.submissions.resolve()}" in used and f"输出目录 {Path(tmp_path).resolve()}" in used
    assert "周期停在：事前绩效评估（等待审批）" in result.output
    assert "事前评估结论第1级审批" in result.output and "ex_ante" not in result.output
    assert f"perfcycle approve {waiting[0].id} --by <审批人>" in result.output
    assert audit.verify(session) == []


def test_a_policy_without_approvers_still_loads_and_a_typo_is_named(tmp_path: Path) -> None:
    from perfcycle.policy import PolicyError, load_policy_file

    approvals = load_policy(2024).approvals
    assert approvals.levels("budget_table") == [1, 2] and approvals.level("annual_report", 1) is None
    text = (Path(__file__).parents[1] / "perfcycle" / "policies" / "2024.yaml").read_text(encoding="utf-8")
    head, _, rest = text.partition("\napprovals:")
    path = tmp_path / "2024.yaml"
    path.write_text(head + "\n" + rest[rest.index("\nreminders:") :], encoding="utf-8")
    assert load_policy_file(path).approvals == ApprovalsPolicy()
    path.write_text(text.replace("    sample:\n", "    sampel:\n"), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"approvals\.gates.*sampel"):
        load_policy_file(path)

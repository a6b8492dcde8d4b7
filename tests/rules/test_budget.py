"""Result application: final score source, base after the ex-ante conclusion, one reason per line, the grade
consequences of departments and policies, and the table as it stands after the approvers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfcycle.money import wan_to_fen
from perfcycle.policy import BudgetPolicy, Policy, load_policy
from perfcycle.rules.budget import (
    AS_NEEDED,
    CANCELLED,
    EX_ANTE_REJECTED,
    GRADE_CUT,
    LOW_EXECUTION,
    NO_TARGETS,
    OVERRIDDEN,
    PRIORITY,
    BudgetDecision,
    BudgetLine,
    budget_base,
    budget_decision,
    budget_totals,
    department_consequence,
    department_line,
    final_score,
    grade_consequence,
    override_problem,
    policy_decision,
)
from perfcycle.rules.ex_ante import CONCLUSION_ADJUST, CONCLUSION_REJECT, CONCLUSION_SUPPORT
from perfcycle.rules.scoring import grade_for

D = Decimal


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(2024)


@pytest.fixture(scope="module")
def bp(policy: Policy) -> BudgetPolicy:
    return policy.budget


def decide(
    bp: BudgetPolicy,
    request_wan: str,
    grade: str | None,
    rate: str | None,
    approved: bool = True,
    *,
    conclusion: str | None = None,
    ex_ante_cut_wan: str = "0",
    department_grade: str | None = None,
) -> BudgetDecision:
    return budget_decision(
        wan_to_fen(request_wan),
        grade,
        None if rate is None else D(rate),
        approved,
        bp,
        "未设置绩效目标",
        ex_ante_conclusion=conclusion,
        ex_ante_cut_fen=wan_to_fen(ex_ante_cut_wan),
        department_grade=department_grade,
    )


# ---------------------------------------------------------------------------------------------- final score


def test_final_score_precedence() -> None:
    assert final_score(D("70"), D("80"), D("85"), D("90")) == (D("70"), "fiscal")
    assert final_score(None, D("80"), D("85"), D("90")) == (D("80"), "review")
    assert final_score(None, None, D("85"), D("90")) == (D("85"), "department")
    assert final_score(None, None, None, D("90")) == (D("90"), "self")
    assert final_score(None, None, None, None) == (None, "none")
    assert final_score(D("0"), None, None, D("90")) == (D("0"), "fiscal")  # zero is a score


def test_the_department_evaluation_decides_over_the_self_evaluation(bp: BudgetPolicy, policy: Policy) -> None:
    score, source = final_score(None, None, D("72.50"), D("93.00"))
    grade = grade_for(score, policy.grades) if score is not None else None
    assert (source, grade) == ("department", "中")
    assert decide(bp, "100.00", grade, "1").recommended_fen == wan_to_fen("90.00")


# ---------------------------------------------------------------------------------------------- base


@pytest.mark.parametrize(
    ("conclusion", "cut", "base"),
    [
        (None, "0", "812.35"),  # not assessed: the request
        (None, "32.35", "812.35"),  # a cut without a conclusion is no cut
        (CONCLUSION_SUPPORT, "0", "812.35"),
        (CONCLUSION_SUPPORT, "12.35", "800.00"),
        (CONCLUSION_ADJUST, "32.35", "780.00"),
        (CONCLUSION_ADJUST, "900.00", "0.00"),  # never below 0
        (CONCLUSION_REJECT, "0", "0.00"),  # 不予支持: nothing, whatever the proposed cut
    ],
)
def test_budget_base(conclusion: str | None, cut: str, base: str) -> None:
    assert budget_base(wan_to_fen("812.35"), conclusion, wan_to_fen(cut)) == wan_to_fen(base)


def test_the_cut_applies_to_the_base(bp: BudgetPolicy) -> None:
    decision = decide(bp, "812.35", "中", "1", conclusion=CONCLUSION_ADJUST, ex_ante_cut_wan="32.35")
    assert decision.base_fen == wan_to_fen("780.00")
    assert decision.recommended_fen == wan_to_fen("702.00")
    assert (decision.reason_kind, decision.reason) == (GRADE_CUT, "压减10%（中）")


def test_a_rejected_project_gets_nothing_and_no_priority(bp: BudgetPolicy) -> None:
    decision = decide(bp, "812.35", "优", "1", conclusion=CONCLUSION_REJECT, ex_ante_cut_wan="812.35")
    assert (decision.base_fen, decision.recommended_fen) == (0, 0)
    assert decision.priority is False
    assert (decision.reason_kind, decision.reason) == (EX_ANTE_REJECTED, "事前评估不予支持")
    assert decision.explanation == "事前绩效评估结论为不予支持，安排基数为0"  # never "优先保障"


def test_priority_only_without_any_cut(bp: BudgetPolicy) -> None:
    whole = decide(bp, "500.00", "优", "1", conclusion=CONCLUSION_SUPPORT)
    assert (whole.priority, whole.reason) == (True, "优先保障")
    trimmed = decide(bp, "500.00", "优", "1", conclusion=CONCLUSION_ADJUST, ex_ante_cut_wan="50.00")
    assert (trimmed.priority, trimmed.reason_kind, trimmed.reason) == (False, AS_NEEDED, "据实保障")
    assert trimmed.recommended_fen == wan_to_fen("450.00")


# ---------------------------------------------------------------------------------------------- one reason per line


def test_no_targets_no_budget(bp: BudgetPolicy, policy: Policy) -> None:
    decision = budget_decision(wan_to_fen("800"), "优", D("1"), False, bp, policy.targets.no_targets_reason)
    assert decision.recommended_fen == 0
    assert decision.cut_ratio == 1
    assert decision.priority is False
    assert (decision.reason_kind, decision.reason) == (NO_TARGETS, "未设置绩效目标")


@pytest.mark.parametrize(
    ("grade", "cut", "recommended", "priority", "kind", "reason"),
    [
        ("优", "0", "1000.00", True, PRIORITY, "优先保障"),
        ("良", "0", "1000.00", False, AS_NEEDED, "据实保障"),
        ("中", "0.10", "900.00", False, GRADE_CUT, "压减10%（中）"),
        ("差", "1.00", "0.00", False, CANCELLED, "原则上取消（差）"),
        (None, "0", "1000.00", False, AS_NEEDED, "据实保障"),
    ],
)
def test_grade_cuts(
    grade: str | None, cut: str, recommended: str, priority: bool, kind: str, reason: str, bp: BudgetPolicy
) -> None:
    decision = decide(bp, "1000.00", grade, "0.95")
    assert decision.grade_cut_ratio == D(cut)
    assert decision.execution_cut_ratio == 0
    assert decision.cut_ratio == D(cut)
    assert decision.recommended_fen == wan_to_fen(recommended)
    assert decision.priority is priority
    assert (decision.reason_kind, decision.reason) == (kind, reason)


def test_execution_threshold_boundary(bp: BudgetPolicy) -> None:
    at = decide(bp, "1000.00", "良", "0.80")
    assert at.execution_cut_ratio == 0
    assert at.recommended_fen == wan_to_fen("1000.00")
    below = decide(bp, "1000.00", "良", "0.7999")
    assert below.execution_cut_ratio == D("0.2001")
    assert below.cut_ratio == D("0.2001")
    assert below.recommended_fen == wan_to_fen("799.90")
    assert (below.reason_kind, below.reason) == (LOW_EXECUTION, "按执行率压减")
    assert below.explanation == "评价等级良；执行率79.99%低于80%，按实际执行压减20.01%"


def test_the_rate_is_compared_at_its_published_precision(bp: BudgetPolicy) -> None:
    # 0.79995 is published as 80.00 %: at the threshold, no cut
    assert decide(bp, "1000.00", "良", "0.79995").execution_cut_ratio == 0
    # 0.79985 is published as 79.99 % (half up, not half-even's 79.98 %): cut 20.01 %
    decision = decide(bp, "1000.00", "良", "0.79985")
    assert decision.execution_cut_ratio == D("0.2001")
    assert decision.recommended_fen == wan_to_fen("799.90")


def test_execution_cut_removes_priority(bp: BudgetPolicy) -> None:
    decision = decide(bp, "400.00", "优", "0.5")
    assert decision.priority is False
    assert decision.cut_ratio == D("0.5")
    assert (decision.reason_kind, decision.reason) == (LOW_EXECUTION, "按执行率压减")


def test_both_cuts_take_the_larger_and_state_one_reason(bp: BudgetPolicy) -> None:
    execution_decides = decide(bp, "1000.00", "中", "0.70")
    assert execution_decides.grade_cut_ratio == D("0.10")
    assert execution_decides.execution_cut_ratio == D("0.30")
    assert execution_decides.cut_ratio == D("0.30")
    assert execution_decides.recommended_fen == wan_to_fen("700.00")
    assert execution_decides.reason == "按执行率压减"
    assert execution_decides.explanation == (
        "评价等级中，压减10%；执行率70.00%低于80%，按实际执行压减30.00%；按其中较高的30.00%压减"
    )
    grade_decides = decide(bp, "1000.00", "差", "0.70")
    assert grade_decides.cut_ratio == 1
    assert grade_decides.recommended_fen == 0
    assert grade_decides.reason == "原则上取消（差）"
    # equal cuts: the grade is the reason (差 at 100 % against an execution of 0)
    assert decide(bp, "1000.00", "差", "0").reason_kind == CANCELLED


def test_no_execution_rate_means_no_execution_cut(bp: BudgetPolicy) -> None:
    decision = decide(bp, "1000.00", "中", None)
    assert decision.execution_cut_ratio == 0
    assert decision.recommended_fen == wan_to_fen("900.00")


def test_zero_or_negative_execution(bp: BudgetPolicy) -> None:
    assert decide(bp, "100.00", "良", "0").recommended_fen == 0
    assert decide(bp, "100.00", "良", "-0.1").cut_ratio == 1


@pytest.mark.parametrize(
    ("request_wan", "rate", "expected_wan"),
    [
        ("123.45", "0.7777", "96.01"),  # 96.006... → 96.01
        ("100.01", "0.5", "50.01"),  # 50.005 → 50.01 (half up)
        ("100.03", "0.5", "50.02"),  # 50.015 → 50.02
        ("0.01", "0.5", "0.01"),  # 0.005 → 0.01
        ("33.33", "0.3333", "11.11"),  # 11.108889 → 11.11
    ],
)
def test_recommended_rounded_to_cent_wan(request_wan: str, rate: str, expected_wan: str, bp: BudgetPolicy) -> None:
    decision = decide(bp, request_wan, "良", rate)
    assert decision.recommended_fen == wan_to_fen(expected_wan)
    assert decision.recommended_fen % 10_000 == 0


def test_grade_cut_rounding(bp: BudgetPolicy) -> None:
    assert decide(bp, "0.05", "中", "1").recommended_fen == wan_to_fen("0.05")  # 0.045 → 0.05
    assert decide(bp, "123.45", "中", "1").recommended_fen == wan_to_fen("111.11")  # 111.105 → 111.11


def test_percent_figures_follow_policy(bp: BudgetPolicy) -> None:
    custom = bp.model_copy(update={"grade_cut": {**bp.grade_cut, "中": D("0.125")}, "execution_threshold": D("0.85")})
    assert budget_decision(100 * 1_000_000, "中", D("1"), True, custom, "").reason == "压减12.5%（中）"
    decision = budget_decision(100 * 1_000_000, "良", D("0.84"), True, custom, "")
    assert decision.explanation == "评价等级良；执行率84.00%低于85%，按实际执行压减16.00%"


def test_unknown_grade(bp: BudgetPolicy) -> None:
    with pytest.raises(ValueError, match="甲"):
        decide(bp, "100", "甲", "1")


@pytest.mark.parametrize(
    ("grade", "words"), [("优", "优先保障"), ("良", "据实保障"), ("中", "压减10%"), ("差", "原则上取消")]
)
def test_grade_consequence(grade: str, words: str, bp: BudgetPolicy) -> None:
    assert grade_consequence(grade, bp) == words


# ---------------------------------------------------------------------------------------------- consequences


def test_a_project_keeps_the_larger_of_its_own_and_its_departments_cut(bp: BudgetPolicy) -> None:
    department = decide(bp, "1000.00", "良", "1", department_grade="中")
    assert (department.department_cut_ratio, department.cut_ratio) == (D("0.10"), D("0.10"))
    assert department.recommended_fen == wan_to_fen("900.00")
    assert (department.reason_kind, department.reason) == (GRADE_CUT, "压减10%（部门整体中）")
    assert department.explanation == "评价等级良；部门整体评价等级中，压减10%"
    own = decide(bp, "1000.00", "中", "1", department_grade="中")
    assert own.reason == "压减10%（中）"  # equal: the project's own grade is the reason
    larger = decide(bp, "1000.00", "差", "1", department_grade="中")
    assert (larger.recommended_fen, larger.reason) == (0, "原则上取消（差）")
    cancelled = decide(bp, "1000.00", "优", "1", department_grade="差")
    assert (cancelled.recommended_fen, cancelled.reason_kind) == (0, CANCELLED)
    assert cancelled.reason == "原则上取消（部门整体差）"
    assert cancelled.priority is False
    kept = decide(bp, "1000.00", "优", "1", department_grade="良")
    assert (kept.reason, kept.priority) == ("优先保障", True)


@pytest.mark.parametrize(
    ("grade", "recommended", "kind", "reason"),
    [
        ("优", "4321.09", PRIORITY, "优先保障"),
        ("良", "4321.09", AS_NEEDED, "据实保障"),
        ("中", "3888.98", GRADE_CUT, "压减10%（中）"),  # 3888.981
        ("差", "0.00", CANCELLED, "原则上取消（差）"),
    ],
)
def test_a_policys_funds_get_its_grades_consequence(
    grade: str, recommended: str, kind: str, reason: str, bp: BudgetPolicy
) -> None:
    decision = policy_decision(wan_to_fen("4321.09"), grade, bp)
    assert decision.recommended_fen == wan_to_fen(recommended)
    assert (decision.reason_kind, decision.reason) == (kind, reason)


# ---------------------------------------------------------------------------------------------- the table as it stands


def line(
    request: str,
    recommended: str,
    override: str | None = None,
    kind: str = AS_NEEDED,
    reason: str = "据实保障",
    ex_ante_cut: str = "0",
) -> BudgetLine:
    return BudgetLine(
        wan_to_fen(request),
        wan_to_fen(recommended),
        None if override is None else wan_to_fen(override),
        kind,
        reason,
        wan_to_fen(ex_ante_cut),
    )


def test_an_override_is_the_amount_that_stands() -> None:
    computed = line("100.00", "90.00")
    assert (computed.effective_fen, computed.cut_fen) == (wan_to_fen("90.00"), wan_to_fen("10.00"))
    assert computed.increase_fen == 0
    restored = line("100.00", "90.00", "100.00")
    assert (restored.effective_fen, restored.cut_fen, restored.increase_fen) == (wan_to_fen("100.00"), 0, 0)
    raised = line("100.00", "90.00", "120.50")
    assert (raised.cut_fen, raised.increase_fen) == (0, wan_to_fen("20.50"))
    zeroed = line("100.00", "90.00", "0")
    assert (zeroed.effective_fen, zeroed.cut_fen) == (0, wan_to_fen("100.00"))


def test_an_increase_is_stated_as_one_never_as_a_negative_cut() -> None:
    # an approver puts a 不予支持 project back at 500 of its 812.35: nothing is cut, 500 is added to its base of 0
    restored = line("812.35", "0", "500.00", EX_ANTE_REJECTED, "事前评估不予支持", ex_ante_cut="812.35")
    assert (restored.base_fen, restored.cut_fen, restored.increase_fen) == (0, 0, wan_to_fen("500.00"))
    totals = budget_totals([restored, line("100.00", "90.00", "30000.00")])
    assert totals.cut_fen == 0 and totals.cut_projects == 0
    assert totals.increase_fen == wan_to_fen("30400.00") and totals.increased_projects == 2


def test_totals_count_the_amounts_and_the_reasons_as_they_stand() -> None:
    totals = budget_totals(
        [
            line("100.00", "100.00", kind=PRIORITY, reason="优先保障"),
            line("200.00", "180.00", kind=GRADE_CUT, reason="压减10%（中）"),
            line("50.00", "0", kind=CANCELLED, reason="原则上取消（差）"),
            line("80.00", "40.00", "80.00", LOW_EXECUTION, "按执行率压减"),  # restored by an approver
            line("60.00", "45.00", kind=LOW_EXECUTION, reason="按执行率压减"),
            line("30.00", "30.00", "35.00"),  # raised
            line("40.00", "40.00", "30.00", PRIORITY, "优先保障"),  # a cut stands: not 优先保障
            line("70.00", "0", kind=NO_TARGETS, reason="未设置绩效目标"),  # at 0, yet not 原则上取消
            line("812.35", "0", kind=EX_ANTE_REJECTED, reason="事前评估不予支持", ex_ante_cut="812.35"),
            line("812.35", "702.00", kind=GRADE_CUT, reason="压减10%（中）", ex_ante_cut="32.35"),
            line("20.00", "20.00", "20.00", PRIORITY, "优先保障"),  # confirmed at the computed amount
        ]
    )
    assert totals.projects == 11
    assert totals.request_fen == wan_to_fen("2274.70")
    assert totals.ex_ante_cut_fen == wan_to_fen("844.70")
    assert totals.base_fen == wan_to_fen("1430.00")
    assert totals.computed_fen == wan_to_fen("1157.00")
    assert totals.recommended_fen == wan_to_fen("1192.00")
    assert totals.cut_fen == wan_to_fen("243.00")  # 20 + 50 + 15 + 10 + 70 + 78
    assert totals.increase_fen == wan_to_fen("5.00")
    assert totals.request_fen - totals.ex_ante_cut_fen == totals.base_fen
    assert totals.base_fen - totals.cut_fen + totals.increase_fen == totals.recommended_fen
    assert (totals.cut_projects, totals.increased_projects, totals.overridden_projects) == (6, 1, 4)
    assert (totals.priority_projects, totals.cancelled_projects, totals.low_execution_projects) == (2, 1, 1)
    assert totals.reasons == {
        "事前评估不予支持": 1,
        "优先保障": 2,
        "原则上取消（差）": 1,
        "压减10%（中）": 2,
        "审批调整": 3,
        "按执行率压减": 1,
        "未设置绩效目标": 1,
    }
    assert sum(totals.reasons.values()) == totals.projects
    assert totals.kinds[OVERRIDDEN] == 3 and totals.kinds[CANCELLED] == totals.cancelled_projects


def test_an_empty_table_has_zero_totals() -> None:
    totals = budget_totals([])
    assert (totals.projects, totals.request_fen, totals.recommended_fen) == (0, 0, 0)
    assert (totals.cut_fen, totals.increase_fen, totals.reasons) == (0, 0, {})


def test_override_bounds(bp: BudgetPolicy) -> None:
    request = wan_to_fen("812.35")
    assert override_problem(0, request, bp) is None
    assert override_problem(request, request, bp) is None
    assert "超过原申请额 812.35 万元" in (override_problem(request + 10_000, request, bp) or "")
    assert "负数" in (override_problem(-10_000, request, bp) or "")
    allowing = bp.model_copy(update={"overrides_may_exceed_request": True})
    assert override_problem(request * 30, request, allowing) is None
    assert "负数" in (override_problem(-10_000, request, allowing) or "")
    assert bp.overrides_may_exceed_request is False  # the 2024 policy keeps overrides within the request


def test_a_departments_line_is_its_development_lines_taken_together() -> None:
    """Each project's own override counts in the department's amount; the department's override sets it."""
    lines = [
        line("812.35", "702.00", kind=GRADE_CUT, reason="压减10%（部门整体中）", ex_ante_cut="32.35"),
        line("100.00", "90.00", "100.00", GRADE_CUT, "压减10%（部门整体中）"),  # restored by an approver
    ]
    computed = department_line(lines, GRADE_CUT, "压减10%（部门整体中）")
    assert (computed.request_fen, computed.base_fen) == (wan_to_fen("912.35"), wan_to_fen("880.00"))
    assert (computed.recommended_fen, computed.effective_fen) == (wan_to_fen("802.00"), wan_to_fen("802.00"))
    assert not computed.overridden and computed.cut_fen == wan_to_fen("78.00")
    adjusted = department_line(lines, GRADE_CUT, "压减10%（部门整体中）", wan_to_fen("900.00"))
    assert adjusted.overridden and adjusted.standing_reason == "审批调整"
    assert (adjusted.cut_fen, adjusted.increase_fen) == (0, wan_to_fen("20.00"))  # above its base: an increase
    assert department_line([], AS_NEEDED, "据实保障").base_fen == 0


def test_the_consequence_lines_total_over_their_amounts_as_adjusted(bp: BudgetPolicy) -> None:
    """A policy's funds and a department's line, each overridable within its original amount like a project's."""
    funds = wan_to_fen("4321.09")
    decision = policy_decision(funds, "中", bp)
    policy_line = BudgetLine(funds, decision.recommended_fen, None, decision.reason_kind, decision.reason)
    kind, reason = department_consequence("中", bp)
    assert (kind, reason) == (GRADE_CUT, "压减10%（部门整体中）")
    assert department_consequence("优", bp) == (PRIORITY, "优先保障")
    department = department_line([line("1000.00", "900.00", kind=kind, reason=reason)], kind, reason)
    computed = budget_totals([policy_line, department])
    assert computed.recommended_fen == wan_to_fen("3888.98") + wan_to_fen("900.00")
    assert override_problem(funds, funds, bp) is None
    assert "超过原申请额 4321.09 万元" in (override_problem(funds + 1, funds, bp) or "")
    assert "超过原申请额 1000.00 万元" in (override_problem(wan_to_fen("1000.01"), department.request_fen, bp) or "")
    restored = BudgetLine(funds, decision.recommended_fen, funds, decision.reason_kind, decision.reason)
    adjusted = department_line([line("1000.00", "900.00", kind=kind, reason=reason)], kind, reason, 0)
    totals = budget_totals([restored, adjusted])
    assert (totals.recommended_fen, totals.cut_fen, totals.overridden_projects) == (funds, wan_to_fen("1000.00"), 2)
    assert totals.base_fen - totals.cut_fen + totals.increase_fen == totals.recommended_fen

"""Result application: final score source and budget-year recommendation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfcycle.money import wan_to_fen
from perfcycle.policy import BudgetPolicy, Policy, load_policy
from perfcycle.rules.budget import (
    BudgetDecision,
    BudgetLine,
    budget_decision,
    budget_totals,
    final_score,
    override_problem,
)

D = Decimal


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(2024)


@pytest.fixture(scope="module")
def bp(policy: Policy) -> BudgetPolicy:
    return policy.budget


def decide(
    bp: BudgetPolicy, request_wan: str, grade: str | None, rate: str | None, approved: bool = True
) -> BudgetDecision:
    return budget_decision(
        wan_to_fen(request_wan), grade, None if rate is None else D(rate), approved, bp, "未设置绩效目标"
    )


def test_final_score_precedence() -> None:
    assert final_score(D("70"), D("80"), D("90")) == (D("70"), "fiscal")
    assert final_score(None, D("80"), D("90")) == (D("80"), "review")
    assert final_score(None, None, D("90")) == (D("90"), "self")
    assert final_score(None, None, None) == (None, "none")
    assert final_score(D("0"), None, D("90")) == (D("0"), "fiscal")  # zero is a score


def test_no_targets_no_budget(bp: BudgetPolicy, policy: Policy) -> None:
    decision = budget_decision(wan_to_fen("800"), "优", D("1"), False, bp, policy.targets.no_targets_reason)
    assert decision.recommended_fen == 0
    assert decision.cut_ratio == 1
    assert decision.priority is False
    assert decision.reason == "未设置绩效目标"


@pytest.mark.parametrize(
    ("grade", "cut", "recommended", "priority", "reason"),
    [
        ("优", "0", "1000.00", True, "评价等级优，优先保障"),
        ("良", "0", "1000.00", False, "评价等级良，据实保障"),
        ("中", "0.10", "900.00", False, "评价等级中，压减10%"),
        ("差", "1.00", "0.00", False, "评价等级差，原则上取消"),
        (None, "0", "1000.00", False, "无评价等级，据实保障"),
    ],
)
def test_grade_cuts(
    grade: str | None, cut: str, recommended: str, priority: bool, reason: str, bp: BudgetPolicy
) -> None:
    decision = decide(bp, "1000.00", grade, "0.95")
    assert decision.grade_cut_ratio == D(cut)
    assert decision.execution_cut_ratio == 0
    assert decision.cut_ratio == D(cut)
    assert decision.recommended_fen == wan_to_fen(recommended)
    assert decision.priority is priority
    assert decision.reason == reason


def test_execution_threshold_boundary(bp: BudgetPolicy) -> None:
    at = decide(bp, "1000.00", "良", "0.80")
    assert at.execution_cut_ratio == 0
    assert at.recommended_fen == wan_to_fen("1000.00")
    below = decide(bp, "1000.00", "良", "0.7999")
    assert below.execution_cut_ratio == D("0.2001")
    assert below.cut_ratio == D("0.2001")
    assert below.recommended_fen == wan_to_fen("799.90")
    assert below.reason == "执行率79.99%低于80%，按实际执行压减20.01%"


def test_execution_cut_reason(bp: BudgetPolicy) -> None:
    decision = decide(bp, "400.00", None, "0.75")
    assert decision.reason == "执行率75.00%低于80%，按实际执行压减25.00%"
    assert decision.recommended_fen == wan_to_fen("300.00")


def test_execution_cut_removes_priority(bp: BudgetPolicy) -> None:
    decision = decide(bp, "400.00", "优", "0.5")
    assert decision.priority is False
    assert decision.cut_ratio == D("0.5")
    assert decision.reason == "执行率50.00%低于80%，按实际执行压减50.00%"


def test_both_cuts_take_the_larger(bp: BudgetPolicy) -> None:
    execution_decides = decide(bp, "1000.00", "中", "0.70")
    assert execution_decides.grade_cut_ratio == D("0.10")
    assert execution_decides.execution_cut_ratio == D("0.30")
    assert execution_decides.cut_ratio == D("0.30")
    assert execution_decides.recommended_fen == wan_to_fen("700.00")
    assert execution_decides.reason == (
        "评价等级中，压减10%；执行率70.00%低于80%，按实际执行压减30.00%；按两者中较高的30.00%压减"
    )
    grade_decides = decide(bp, "1000.00", "差", "0.70")
    assert grade_decides.cut_ratio == 1
    assert grade_decides.recommended_fen == 0


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
    assert budget_decision(100 * 1_000_000, "中", D("1"), True, custom, "").reason == "评价等级中，压减12.5%"
    decision = budget_decision(100 * 1_000_000, "良", D("0.84"), True, custom, "")
    assert decision.reason == "执行率84.00%低于85%，按实际执行压减16.00%"


def test_unknown_grade(bp: BudgetPolicy) -> None:
    with pytest.raises(ValueError, match="甲"):
        decide(bp, "100", "甲", "1")


# ---------------------------------------------------------------------------------------------- the table as it stands


def line(
    request: str,
    recommended: str,
    override: str | None = None,
    priority: bool = False,
    execution_cut_ratio: Decimal = D(0),
    reason: str = "",
) -> BudgetLine:
    return BudgetLine(
        wan_to_fen(request),
        wan_to_fen(recommended),
        None if override is None else wan_to_fen(override),
        priority,
        execution_cut_ratio,
        reason,
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


def test_totals_count_the_amounts_as_they_stand() -> None:
    totals = budget_totals(
        [
            line("100.00", "100.00", priority=True, reason="优先保障"),
            line("200.00", "180.00", reason="压减10%"),
            line("50.00", "0", reason="原则上取消"),
            line("80.00", "40.00", "80.00", execution_cut_ratio=D("0.5"), reason="按执行率压减"),  # restored
            line("60.00", "45.00", execution_cut_ratio=D("0.25"), reason="按执行率压减"),
            line("30.00", "30.00", "35.00", reason="据实保障"),  # raised
            line("40.00", "40.00", "30.00", priority=True, reason="优先保障"),  # a cut stands: not 优先保障
        ]
    )
    assert totals.projects == 7
    assert totals.request_fen == wan_to_fen("560.00")
    assert totals.computed_fen == wan_to_fen("435.00")
    assert totals.recommended_fen == wan_to_fen("470.00")
    assert totals.cut_fen == wan_to_fen("95.00")  # 20 + 50 + 15 + 10
    assert totals.increase_fen == wan_to_fen("5.00")
    assert totals.request_fen - totals.cut_fen + totals.increase_fen == totals.recommended_fen
    assert (totals.cut_projects, totals.increased_projects, totals.overridden_projects) == (4, 1, 3)
    assert (totals.priority_projects, totals.cancelled_projects, totals.low_execution_projects) == (1, 1, 1)
    assert totals.reasons == {"优先保障": 2, "压减10%": 1, "原则上取消": 1, "按执行率压减": 2, "据实保障": 1}


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

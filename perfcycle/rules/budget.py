"""Result application (结果应用): the final score of a project and its budget-year recommendation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from perfcycle.money import fen_round_to_wan_cent, fmt_wan
from perfcycle.policy import BudgetPolicy

_ZERO = Decimal(0)
_ONE = Decimal(1)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class BudgetDecision:
    grade_cut_ratio: Decimal
    execution_cut_ratio: Decimal
    cut_ratio: Decimal
    recommended_fen: int
    priority: bool
    reason: str


def final_score(
    fiscal: Decimal | None, review: Decimal | None, self_score: Decimal | None
) -> tuple[Decimal | None, str]:
    """The most independent score available wins: fiscal evaluation, then review, then self-evaluation."""
    for score, source in ((fiscal, "fiscal"), (review, "review"), (self_score, "self")):
        if score is not None:
            return score, source
    return None, "none"


def _pct(ratio: Decimal) -> str:
    """A policy ratio as a percent without spurious zeros: 0.10 → "10", 0.125 → "12.5"."""
    return f"{(ratio * 100).normalize():f}"


def _pct2(ratio: Decimal) -> str:
    return f"{(ratio * 100).quantize(_CENT, rounding=ROUND_HALF_UP)}"


def _grade_reason(grade: str | None, ratio: Decimal, policy: BudgetPolicy) -> str:
    if grade is None:
        return "无评价等级，据实保障"
    if ratio == 0:
        action = "优先保障" if grade in policy.priority_grades else "据实保障"
    elif ratio >= 1:
        action = "原则上取消"
    else:
        action = f"压减{_pct(ratio)}%"
    return f"评价等级{grade}，{action}"


def _execution_cut(execution_rate: Decimal | None, policy: BudgetPolicy) -> tuple[Decimal, str | None]:
    """Fund a slow spender at the level it actually spent (1 − e) when e is below the threshold."""
    if execution_rate is None or execution_rate >= policy.execution_threshold:
        return _ZERO, None
    cut = min(_ONE - max(execution_rate, _ZERO), _ONE)
    reason = f"执行率{_pct2(execution_rate)}%低于{_pct(policy.execution_threshold)}%，按实际执行压减{_pct2(cut)}%"
    return cut, reason


def budget_decision(
    request_fen: int,
    grade: str | None,
    execution_rate: Decimal | None,
    targets_approved: bool,
    policy: BudgetPolicy,
    no_targets_reason: str,
) -> BudgetDecision:
    """Budget-year recommendation: the larger of the grade cut and the execution cut, to 0.01 万元."""
    if not targets_approved:
        return BudgetDecision(_ZERO, _ZERO, _ONE, 0, False, no_targets_reason)
    if grade is None:
        grade_cut = _ZERO
    elif grade in policy.grade_cut:
        grade_cut = policy.grade_cut[grade]
    else:
        raise ValueError(f"策略中没有等级「{grade}」的压减比例")
    execution_cut, execution_reason = _execution_cut(execution_rate, policy)
    cut = max(grade_cut, execution_cut)
    recommended = fen_round_to_wan_cent(Decimal(request_fen) * (_ONE - cut))
    grade_reason = _grade_reason(grade, grade_cut, policy)
    if execution_reason is None:
        reason = grade_reason
    elif grade_cut == 0:
        reason = execution_reason
    else:
        reason = f"{grade_reason}；{execution_reason}；按两者中较高的{_pct2(cut)}%压减"
    return BudgetDecision(
        grade_cut_ratio=grade_cut,
        execution_cut_ratio=execution_cut,
        cut_ratio=cut,
        recommended_fen=recommended,
        priority=grade is not None and grade in policy.priority_grades and cut == 0,
        reason=reason,
    )


# ---------------------------------------------------------------------------------------------- the table as it stands


@dataclass(frozen=True)
class BudgetLine:
    """One line of the recommendation table after the approvers: the computed amount and any override."""

    request_fen: int
    recommended_fen: int
    override_fen: int | None = None
    priority: bool = False
    execution_cut_ratio: Decimal = _ZERO
    reason: str = ""

    @property
    def effective_fen(self) -> int:
        """The amount that stands: the approver's override where there is one."""
        return self.recommended_fen if self.override_fen is None else self.override_fen

    @property
    def cut_fen(self) -> int:
        return max(self.request_fen - self.effective_fen, 0)

    @property
    def increase_fen(self) -> int:
        return max(self.effective_fen - self.request_fen, 0)

    @property
    def prioritised(self) -> bool:
        """优先保障 holds only while no cut stands on the line."""
        return self.priority and self.cut_fen == 0


@dataclass(frozen=True)
class BudgetTotals:
    """The figures every document states about the table; cuts and increases are summed line by line, so
    request − cut + increase = recommended and neither is ever negative."""

    projects: int = 0
    request_fen: int = 0
    computed_fen: int = 0
    recommended_fen: int = 0
    cut_fen: int = 0
    increase_fen: int = 0
    cut_projects: int = 0
    increased_projects: int = 0
    overridden_projects: int = 0
    priority_projects: int = 0
    cancelled_projects: int = 0
    low_execution_projects: int = 0
    reasons: Mapping[str, int] = field(default_factory=dict)


def budget_totals(lines: Iterable[BudgetLine]) -> BudgetTotals:
    """Totals over the amounts as they stand (overrides included), and the counts of the lines behind them."""
    items = list(lines)
    cut = [line for line in items if line.cut_fen > 0]
    return BudgetTotals(
        projects=len(items),
        request_fen=sum(line.request_fen for line in items),
        computed_fen=sum(line.recommended_fen for line in items),
        recommended_fen=sum(line.effective_fen for line in items),
        cut_fen=sum(line.cut_fen for line in cut),
        increase_fen=sum(line.increase_fen for line in items),
        cut_projects=len(cut),
        increased_projects=sum(1 for line in items if line.increase_fen > 0),
        overridden_projects=sum(1 for line in items if line.override_fen is not None),
        priority_projects=sum(1 for line in items if line.prioritised),
        cancelled_projects=sum(1 for line in cut if line.effective_fen == 0),
        low_execution_projects=sum(1 for line in cut if line.execution_cut_ratio > 0),
        reasons=dict(sorted(Counter(line.reason for line in items if line.reason).items())),
    )


def override_problem(amount_fen: int, original_request_fen: int, policy: BudgetPolicy) -> str | None:
    """Why an approver's amount cannot stand, or None: 0 up to the original request unless the policy allows more."""
    if amount_fen < 0:
        return "调整金额不能为负数"
    if amount_fen > original_request_fen and not policy.overrides_may_exceed_request:
        return f"调整金额不能超过原申请额 {fmt_wan(original_request_fen)} 万元（策略不允许调增）"
    return None

"""Result application (结果应用): the final score of a project, its base and its budget-year recommendation.

Every line of the recommendation table states one reason (spec §7); every count of reasons any document
states is a count of these lines as they stand after the approvers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from perfcycle.money import fen_round_to_wan_cent, fmt_wan
from perfcycle.policy import BudgetPolicy
from perfcycle.rules.ex_ante import CONCLUSION_REJECT
from perfcycle.rules.precision import as_percent, round_rate

_ZERO = Decimal(0)
_ONE = Decimal(1)

# Where a final score comes from, the most independent first (spec §7).
SCORE_SOURCES = ("fiscal", "review", "department", "self")

# The one reason of a line: its kind (what it counts as) and the words the table prints.
PRIORITY = "priority"
AS_NEEDED = "as_needed"
GRADE_CUT = "grade_cut"
CANCELLED = "cancelled"
LOW_EXECUTION = "low_execution"
NO_TARGETS = "no_targets"
EX_ANTE_REJECTED = "ex_ante_rejected"
OVERRIDDEN = "overridden"
PRIORITY_LABEL = "优先保障"
AS_NEEDED_LABEL = "据实保障"
CANCELLED_LABEL = "原则上取消"
LOW_EXECUTION_LABEL = "按执行率压减"
EX_ANTE_REJECTED_LABEL = "事前评估不予支持"
OVERRIDDEN_LABEL = "审批调整"
DEPARTMENT = "部门整体"


def final_score(
    fiscal: Decimal | None,
    review: Decimal | None,
    department: Decimal | None,
    self_score: Decimal | None,
) -> tuple[Decimal | None, str]:
    """The most independent score available wins: key fiscal evaluation, sampling review, department
    evaluation (部门评价), then self-evaluation."""
    for score, source in zip((fiscal, review, department, self_score), SCORE_SOURCES, strict=True):
        if score is not None:
            return score, source
    return None, "none"


def budget_base(request_fen: int, ex_ante_conclusion: str | None, ex_ante_cut_fen: int) -> int:
    """The request after the ex-ante conclusion: 不予支持 → 0; 支持 / 调整后支持 → request − the panel's cut;
    not assessed → the request."""
    if ex_ante_conclusion is None:
        return request_fen
    if ex_ante_conclusion == CONCLUSION_REJECT:
        return 0
    return max(request_fen - max(ex_ante_cut_fen, 0), 0)


def _pct(ratio: Decimal) -> str:
    """A policy ratio as a percent without spurious zeros: 0.10 → "10", 0.125 → "12.5"."""
    return f"{(ratio * 100).normalize():f}"


def grade_cut_ratio(grade: str | None, policy: BudgetPolicy) -> Decimal:
    """The cut a grade carries under the policy; no grade carries none."""
    if grade is None or grade == "":
        return _ZERO
    if grade not in policy.grade_cut:
        raise ValueError(f"策略中没有等级「{grade}」的压减比例")
    return policy.grade_cut[grade]


def grade_consequence(grade: str, policy: BudgetPolicy) -> str:
    """What a grade means for the budget, in the words of the table: 优先保障, 据实保障, 压减10%, 原则上取消."""
    ratio = grade_cut_ratio(grade, policy)
    if ratio == 0:
        return PRIORITY_LABEL if grade in policy.priority_grades else AS_NEEDED_LABEL
    if ratio >= 1:
        return CANCELLED_LABEL
    return f"压减{_pct(ratio)}%"


def _grade_reason(grade: str, ratio: Decimal, whose: str = "") -> tuple[str, str]:
    """(kind, label) of a line decided by a grade's cut: 压减10%（中）, 原则上取消（部门整体差）."""
    if ratio >= 1:
        return CANCELLED, f"{CANCELLED_LABEL}（{whose}{grade}）"
    return GRADE_CUT, f"压减{_pct(ratio)}%（{whose}{grade}）"


@dataclass(frozen=True)
class BudgetDecision:
    """One line's recommendation: its base, the cuts considered, the amount, and its one reason."""

    base_fen: int
    grade_cut_ratio: Decimal
    department_cut_ratio: Decimal
    execution_cut_ratio: Decimal
    cut_ratio: Decimal
    recommended_fen: int
    priority: bool
    reason_kind: str
    reason: str
    explanation: str


def _execution_cut(execution_rate: Decimal | None, policy: BudgetPolicy) -> Decimal:
    """Fund a slow spender at the level it actually spent (1 − e) when e is below the threshold."""
    if execution_rate is None or execution_rate >= policy.execution_threshold:
        return _ZERO
    return min(_ONE - max(execution_rate, _ZERO), _ONE)


def _graded(whose: str, grade: str, ratio: Decimal) -> str:
    """A grade and the cut it carries, in words: 评价等级中，压减10% / 部门整体评价等级优."""
    if ratio >= 1:
        return f"{whose}评价等级{grade}，{CANCELLED_LABEL}"
    if ratio > 0:
        return f"{whose}评价等级{grade}，压减{_pct(ratio)}%"
    return f"{whose}评价等级{grade}"


def _explain(
    grade: str | None,
    department_grade: str | None,
    execution_rate: Decimal | None,
    cuts: tuple[Decimal, Decimal, Decimal],
    policy: BudgetPolicy,
) -> str:
    """The considerations behind a line in words, each with its figure at the published precision."""
    own, department, execution = cuts
    parts = [_graded("", grade, own) if grade else "无评价等级"]
    if department_grade:
        parts.append(_graded(DEPARTMENT, department_grade, department))
    if execution > 0 and execution_rate is not None:
        parts.append(
            f"执行率{as_percent(execution_rate)}%低于{_pct(policy.execution_threshold)}%，"
            f"按实际执行压减{as_percent(execution)}%"
        )
    if sum(1 for cut in cuts if cut > 0) > 1:
        parts.append(f"按其中较高的{as_percent(max(cuts))}%压减")
    return "；".join(parts)


def budget_decision(
    request_fen: int,
    grade: str | None,
    execution_rate: Decimal | None,
    targets_approved: bool,
    policy: BudgetPolicy,
    no_targets_reason: str,
    *,
    ex_ante_conclusion: str | None = None,
    ex_ante_cut_fen: int = 0,
    department_grade: str | None = None,
) -> BudgetDecision:
    """A project's budget-year recommendation.

    Base = the request after the ex-ante conclusion. Cut ratio = the largest of the grade's cut, the cut of
    its department's key-evaluated overall grade (事业发展类 projects; pass None otherwise) and the execution cut
    (1 − e below the threshold, e at 0.01 %). Recommended = base × (1 − cut ratio), rounded half up to 0.01 万元
    once. 优先保障 only for a priority grade with no cut at all (neither ex-ante nor here)."""
    base = budget_base(request_fen, ex_ante_conclusion, ex_ante_cut_fen)
    rate = None if execution_rate is None else round_rate(execution_rate)
    own = grade_cut_ratio(grade, policy)
    department = grade_cut_ratio(department_grade, policy)
    execution = _execution_cut(rate, policy)
    if not targets_approved:
        explanation = f"{no_targets_reason}（绩效目标未经审核通过），不安排预算"
        return BudgetDecision(
            base, own, department, execution, _ONE, 0, False, NO_TARGETS, no_targets_reason, explanation
        )
    if ex_ante_conclusion == CONCLUSION_REJECT:
        explanation = "事前绩效评估结论为不予支持，安排基数为0"
        return BudgetDecision(
            base, own, department, execution, _ONE, 0, False, EX_ANTE_REJECTED, EX_ANTE_REJECTED_LABEL, explanation
        )
    cut = max(own, department, execution)
    explanation = _explain(grade, department_grade, rate, (own, department, execution), policy)
    recommended = fen_round_to_wan_cent(Decimal(base) * (_ONE - cut))
    if cut == 0:
        priority = grade is not None and grade in policy.priority_grades and base == request_fen
        kind, label = (PRIORITY, PRIORITY_LABEL) if priority else (AS_NEEDED, AS_NEEDED_LABEL)
    elif cut == own:
        assert grade is not None
        kind, label = _grade_reason(grade, own)
    elif cut == department:
        assert department_grade is not None
        kind, label = _grade_reason(department_grade, department, DEPARTMENT)
    else:
        kind, label = LOW_EXECUTION, LOW_EXECUTION_LABEL
    return BudgetDecision(
        base_fen=base,
        grade_cut_ratio=own,
        department_cut_ratio=department,
        execution_cut_ratio=execution,
        cut_ratio=cut,
        recommended_fen=recommended,
        priority=kind == PRIORITY,
        reason_kind=kind,
        reason=label,
        explanation=explanation,
    )


def department_consequence(grade: str, policy: BudgetPolicy) -> tuple[str, str]:
    """(kind, words) of a key-evaluated department's line: its overall grade's consequence for its 事业发展类
    projects, e.g. (grade_cut, 压减10%（部门整体中）)."""
    ratio = grade_cut_ratio(grade, policy)
    if ratio == 0:
        return (PRIORITY, PRIORITY_LABEL) if grade in policy.priority_grades else (AS_NEEDED, AS_NEEDED_LABEL)
    return _grade_reason(grade, ratio, DEPARTMENT)


def policy_decision(funds_fen: int, grade: str, policy: BudgetPolicy) -> BudgetDecision:
    """A key-evaluated policy's funds under its grade's consequence, by the project rule without an ex-ante
    conclusion, a department or an execution rate: funds × (1 − the grade's cut), to 0.01 万元."""
    return budget_decision(funds_fen, grade, None, True, policy, "")


# ---------------------------------------------------------------------------------------------- the table as it stands


@dataclass(frozen=True)
class BudgetLine:
    """One line of the recommendation table after the approvers: the original request, the ex-ante cut, the
    computed amount with its reason, and any override."""

    request_fen: int
    recommended_fen: int
    override_fen: int | None = None
    reason_kind: str = ""
    reason: str = ""
    ex_ante_cut_fen: int = 0

    @property
    def base_fen(self) -> int:
        """安排基数: the request after the ex-ante conclusion."""
        return max(self.request_fen - self.ex_ante_cut_fen, 0)

    @property
    def overridden(self) -> bool:
        """An approver set another amount than the computed one."""
        return self.override_fen is not None and self.override_fen != self.recommended_fen

    @property
    def effective_fen(self) -> int:
        """The amount that stands: the approver's override where there is one."""
        return self.recommended_fen if self.override_fen is None else self.override_fen

    @property
    def cut_fen(self) -> int:
        """压减: how far the amount that stands lies below the base."""
        return max(self.base_fen - self.effective_fen, 0)

    @property
    def increase_fen(self) -> int:
        """增加: how far the amount that stands lies above the base (only an approver raises a line)."""
        return max(self.effective_fen - self.base_fen, 0)

    @property
    def standing_kind(self) -> str:
        """The reason that stands: the rule's, unless an approver changed the amount."""
        return OVERRIDDEN if self.overridden else self.reason_kind

    @property
    def standing_reason(self) -> str:
        return OVERRIDDEN_LABEL if self.overridden else self.reason

    @property
    def prioritised(self) -> bool:
        """优先保障 holds only while the rule's amount stands uncut."""
        return self.standing_kind == PRIORITY


@dataclass(frozen=True)
class BudgetTotals:
    """The figures every document states about the table; cuts and increases are summed line by line, so
    request − ex-ante cut = base and base − cut + increase = recommended, and none is ever negative."""

    projects: int = 0
    request_fen: int = 0
    ex_ante_cut_fen: int = 0
    base_fen: int = 0
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
    kinds: Mapping[str, int] = field(default_factory=dict)


def budget_totals(lines: Iterable[BudgetLine]) -> BudgetTotals:
    """Totals over the amounts as they stand (overrides included); every count of a reason is a count of lines."""
    items = list(lines)
    kinds = Counter(line.standing_kind for line in items if line.standing_kind)
    return BudgetTotals(
        projects=len(items),
        request_fen=sum(line.request_fen for line in items),
        ex_ante_cut_fen=sum(line.request_fen - line.base_fen for line in items),
        base_fen=sum(line.base_fen for line in items),
        computed_fen=sum(line.recommended_fen for line in items),
        recommended_fen=sum(line.effective_fen for line in items),
        cut_fen=sum(line.cut_fen for line in items),
        increase_fen=sum(line.increase_fen for line in items),
        cut_projects=sum(1 for line in items if line.cut_fen > 0),
        increased_projects=sum(1 for line in items if line.increase_fen > 0),
        overridden_projects=sum(1 for line in items if line.override_fen is not None),
        priority_projects=kinds[PRIORITY],
        cancelled_projects=kinds[CANCELLED],
        low_execution_projects=kinds[LOW_EXECUTION],
        reasons=dict(sorted(Counter(line.standing_reason for line in items if line.standing_reason).items())),
        kinds=dict(sorted(kinds.items())),
    )


def department_line(lines: Iterable[BudgetLine], kind: str, reason: str, override_fen: int | None = None) -> BudgetLine:
    """A key-evaluated department's 事业发展类 lines taken together: their requests, ex-ante cuts and amounts as they
    stand (each project's own override included); an override of the department sets the amount of them all."""
    items = list(lines)
    return BudgetLine(
        request_fen=sum(line.request_fen for line in items),
        recommended_fen=sum(line.effective_fen for line in items),
        override_fen=override_fen,
        reason_kind=kind,
        reason=reason,
        ex_ante_cut_fen=sum(line.request_fen - line.base_fen for line in items),
    )


def override_problem(amount_fen: int, original_request_fen: int, policy: BudgetPolicy) -> str | None:
    """Why an approver's amount cannot stand, or None: 0 up to the original request (a policy's funds, a
    department's requests) unless the policy allows more."""
    if amount_fen < 0:
        return "调整金额不能为负数"
    if amount_fen > original_request_fen and not policy.overrides_may_exceed_request:
        return f"调整金额不能超过原申请额 {fmt_wan(original_request_fen)} 万元（策略不允许调增）"
    return None

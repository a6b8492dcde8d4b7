"""Self-evaluation scoring (绩效自评): indicator ratios, level points, grades and department means."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from perfcycle.policy import GradeBand, SelfEvaluationPolicy
from perfcycle.rules.precision import round_score

EXECUTION_LEVEL = "预算执行"
QUALITATIVE = "定性"
OPERATORS = ("≥", "≤", "=", QUALITATIVE)

_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True)
class IndicatorInput:
    level1: str
    operator: str
    target: Decimal | None
    actual: Decimal | None
    achievement: str = ""
    weight: Decimal | None = None


@dataclass(frozen=True)
class ScoreBreakdown:
    total: Decimal
    execution: Decimal
    by_level: dict[str, Decimal]
    execution_rate: Decimal | None


def _clamp(value: Decimal) -> Decimal:
    return max(_ZERO, min(value, _ONE))


def indicator_ratio(ind: IndicatorInput, qualitative: Mapping[str, Decimal]) -> Decimal:
    """Share of an indicator's points earned, in [0, 1]; missing data earns nothing."""
    if ind.operator == QUALITATIVE:
        return _clamp(qualitative.get(ind.achievement, _ZERO))
    if ind.operator not in OPERATORS:
        raise ValueError(f"未知的指标运算符: {ind.operator!r}")
    if ind.actual is None or ind.target is None:
        return _ZERO
    actual, target = ind.actual, ind.target
    if ind.operator == "≥":
        if target <= 0:
            return _ONE if actual >= target else _ZERO
        return _clamp(actual / target)
    if ind.operator == "≤":
        if actual <= 0:
            return _ONE
        return _clamp(target / actual)
    if target == 0:
        return _ONE if actual == 0 else _ZERO
    return _clamp(_ONE - abs(actual - target) / abs(target))


def execution_score(execution_rate: Decimal | None, weight: Decimal) -> Decimal:
    """Budget-execution points = weight × min(e, 1), e the published execution rate (0.01 %); a year-end
    spending never reported earns nothing, as any missing figure does."""
    if execution_rate is None:
        return _ZERO
    return weight * _clamp(execution_rate)


def _level_points(by_level: Mapping[str, Sequence[IndicatorInput]], policy: SelfEvaluationPolicy) -> dict[str, Decimal]:
    points = {level: w for level, w in policy.weights.items() if level != EXECUTION_LEVEL}
    absent = [level for level in points if not by_level.get(level)]
    receiver = policy.absent_level_goes_to
    if absent and by_level.get(receiver):
        points[receiver] += sum((points[level] for level in absent), _ZERO)
    for level in absent:
        points[level] = _ZERO
    return points


def _level_score(indicators: Sequence[IndicatorInput], points: Decimal, policy: SelfEvaluationPolicy) -> Decimal:
    if not indicators:
        return _ZERO
    weights = [ind.weight for ind in indicators]
    if all(w is not None and w > 0 for w in weights):
        total_weight = sum((w for w in weights if w is not None), _ZERO)
        shares = [points * w / total_weight for w in weights if w is not None]
    else:
        shares = [points / len(indicators)] * len(indicators)
    return sum(
        (share * indicator_ratio(ind, policy.qualitative) for share, ind in zip(shares, indicators, strict=True)),
        _ZERO,
    )


def project_score(
    indicators: Sequence[IndicatorInput], execution_rate: Decimal | None, policy: SelfEvaluationPolicy
) -> ScoreBreakdown:
    """A project's computed self-evaluation score from its published year-end execution rate (None when not
    reported), exact until the total is rounded half up to 0.01."""
    levels = [level for level in policy.weights if level != EXECUTION_LEVEL]
    grouped: dict[str, list[IndicatorInput]] = {level: [] for level in levels}
    for ind in indicators:
        if ind.level1 not in grouped:
            raise ValueError(f"未知的一级指标: {ind.level1!r}")
        grouped[ind.level1].append(ind)
    points = _level_points(grouped, policy)
    level_scores = {level: _level_score(grouped[level], points[level], policy) for level in levels}
    execution = execution_score(execution_rate, policy.weights[EXECUTION_LEVEL])
    total = execution + sum(level_scores.values(), _ZERO)
    return ScoreBreakdown(
        total=round_score(total),
        execution=round_score(execution),
        by_level={level: round_score(s) for level, s in level_scores.items()},
        execution_rate=execution_rate,
    )


def grade_for(score: Decimal, grades: Sequence[GradeBand]) -> str:
    """Grade of a score at its published 0.01 (89.995 is 90.00, 优); bands are listed highest first, so the
    first band reached wins."""
    if not grades:
        raise ValueError("没有等级划分")
    published = round_score(score)
    for band in grades:
        if published >= band.min:
            return band.grade
    return grades[-1].grade


def is_inflated(claimed: Decimal | None, computed: Decimal, threshold: Decimal) -> bool:
    """A claimed score this far above the computed one is flagged (严禁刻意抬高分数)."""
    if claimed is None:
        return False
    return round_score(claimed) - round_score(computed) >= threshold


def weighted_score(items: Sequence[tuple[int, Decimal]]) -> Decimal | None:
    """Budget-weighted mean of (budget_fen, score), so larger projects count for more."""
    if not items:
        return None
    total_budget = sum(budget for budget, _ in items)
    if total_budget == 0:
        mean = sum((score for _, score in items), _ZERO) / len(items)
    else:
        mean = sum((Decimal(budget) * score for budget, score in items), _ZERO) / Decimal(total_budget)
    return round_score(mean)

"""Completeness check of a project's 绩效目标申报表, returning the reasons it goes back to the department."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from perfcycle.policy import TargetsPolicy

QUALITATIVE = "定性"
NO_INDICATORS = "未填报绩效指标"


@dataclass(frozen=True)
class TargetIndicator:
    level1: str
    operator: str
    target_value: Decimal | None
    unit: str
    name: str = ""


def _indicator_gaps(indicator: TargetIndicator, position: int) -> str | None:
    if indicator.operator == QUALITATIVE:
        return None
    missing = []
    if indicator.target_value is None or not indicator.target_value.is_finite():
        missing.append("目标值")
    if not indicator.unit.strip():
        missing.append("计量单位")
    if not missing:
        return None
    label = indicator.name.strip() or f"第{position}项"
    return f"指标「{label}」缺少{'和'.join(missing)}"


def check_targets(project_type: str, indicators: Sequence[TargetIndicator], policy: TargetsPolicy) -> list[str]:
    """Every reason a submission is incomplete (退回修改); an empty list means it can be reviewed."""
    if not indicators:
        return [NO_INDICATORS]
    present = {indicator.level1 for indicator in indicators}
    required = list(policy.required_levels)
    if project_type == policy.development_type:
        required += [level for level in policy.development_extra_levels if level not in required]
    reasons = [f"缺少{level}指标" for level in required if level not in present]
    for position, indicator in enumerate(indicators, start=1):
        gap = _indicator_gaps(indicator, position)
        if gap:
            reasons.append(gap)
    return reasons

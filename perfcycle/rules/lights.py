"""Quarterly dual monitoring (双监控): execution and target lights, for a project and a department."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from perfcycle.policy import QUARTER_ENDS, MonitoringPolicy
from perfcycle.rules.precision import as_percent, execution_rate, round_percent

GREEN = "green"
YELLOW = "yellow"
RED = "red"
LIGHT_LABELS = {GREEN: "绿灯", YELLOW: "黄灯", RED: "红灯"}
LIGHT_ORDER = {GREEN: 0, YELLOW: 1, RED: 2}
IMPOSSIBLE = "完全不可能"


def light_for_gap(gap: Decimal, yellow_gap: Decimal, red_gap: Decimal) -> str:
    """Lag behind time progress in points → light; being ahead (negative gap) is green."""
    if gap < yellow_gap:
        return GREEN
    if gap <= red_gap:
        return YELLOW
    return RED


def execution_progress(spent_fen: int, budget_fen: int) -> Decimal:
    """The execution rate as the percentage the monitoring table prints (79.99), the figure the light is given on."""
    return as_percent(execution_rate(spent_fen, budget_fen))


def _time_progress(quarter: str, policy: MonitoringPolicy) -> Decimal:
    try:
        return policy.time_progress[quarter]
    except KeyError:
        raise ValueError(f"未知季度: {quarter!r}") from None


def execution_light(spent_fen: int, budget_fen: int, quarter: str, policy: MonitoringPolicy) -> tuple[Decimal, str]:
    """Execution progress and its light against the quarter's 序时进度."""
    progress = execution_progress(spent_fen, budget_fen)
    gap = _time_progress(quarter, policy) - progress
    return progress, light_for_gap(gap, policy.yellow_gap, policy.red_gap)


def target_light(target_progress: Decimal, likelihood: str, quarter: str, policy: MonitoringPolicy) -> str:
    """Target light from the reported progress; a target that cannot be met is red regardless."""
    if likelihood == IMPOSSIBLE and policy.impossible_is_red:
        return RED
    gap = _time_progress(quarter, policy) - round_percent(target_progress)
    return light_for_gap(gap, policy.yellow_gap, policy.red_gap)


def worse(*lights: str) -> str:
    """The most severe of the lights, so one bad dimension is never hidden by a good one."""
    if not lights:
        raise ValueError("worse() needs at least one light")
    unknown = [light for light in lights if light not in LIGHT_ORDER]
    if unknown:
        raise ValueError(f"未知灯色: {unknown[0]!r}")
    return max(lights, key=LIGHT_ORDER.__getitem__)


@dataclass(frozen=True)
class ProjectQuarter:
    budget_fen: int
    spent_fen: int
    target_progress: Decimal
    likelihood: str


@dataclass(frozen=True)
class LightResult:
    execution_progress: Decimal
    target_progress: Decimal
    execution_light: str
    target_light: str
    light: str


@dataclass(frozen=True)
class DepartmentLightResult(LightResult):
    budget_fen: int
    spent_fen: int


def project_light(item: ProjectQuarter, quarter: str, policy: MonitoringPolicy) -> LightResult:
    """Project light = the worse of its execution and target lights."""
    progress, exec_light = execution_light(item.spent_fen, item.budget_fen, quarter, policy)
    tgt_light = target_light(item.target_progress, item.likelihood, quarter, policy)
    return LightResult(
        execution_progress=progress,
        target_progress=round_percent(item.target_progress),
        execution_light=exec_light,
        target_light=tgt_light,
        light=worse(exec_light, tgt_light),
    )


def _weighted_target_progress(items: Sequence[ProjectQuarter]) -> Decimal:
    total_budget = sum(item.budget_fen for item in items)
    if total_budget == 0:
        mean = sum((item.target_progress for item in items), Decimal(0)) / len(items)
    else:
        weighted = sum((Decimal(item.budget_fen) * item.target_progress for item in items), Decimal(0))
        mean = weighted / Decimal(total_budget)
    return round_percent(mean)


def department_light(items: Sequence[ProjectQuarter], quarter: str, policy: MonitoringPolicy) -> DepartmentLightResult:
    """Department overall light: the project rule applied to aggregates, big projects weighing more."""
    if not items:
        raise ValueError("部门没有项目，无法计算整体监控灯色")
    budget = sum(item.budget_fen for item in items)
    spent = sum(item.spent_fen for item in items)
    progress, exec_light = execution_light(spent, budget, quarter, policy)
    mean_target = _weighted_target_progress(items)
    gap = _time_progress(quarter, policy) - mean_target
    tgt_light = light_for_gap(gap, policy.yellow_gap, policy.red_gap)
    return DepartmentLightResult(
        execution_progress=progress,
        target_progress=mean_target,
        execution_light=exec_light,
        target_light=tgt_light,
        light=worse(exec_light, tgt_light),
        budget_fen=budget,
        spent_fen=spent,
    )


# ---------------------------------------------------------------------------------------------- after a warning


def notice_date(year: int, quarter: str, policy: MonitoringPolicy) -> date:
    """Warnings are dated the policy's number of days after the quarter closes, so reruns give the same dates."""
    if quarter not in QUARTER_ENDS:
        raise ValueError(f"未知季度: {quarter!r}")
    month, day = QUARTER_ENDS[quarter]
    return date(year, month, day) + timedelta(days=policy.notice_after_days)


def improved(warned: str, following: str | None) -> bool | None:
    """Whether a warned light improved: the next quarter's light is better than the one warned about (red → yellow
    counts, as does red → green); None while the next quarter's light is not known."""
    if following is None:
        return None
    return LIGHT_ORDER[following] < LIGHT_ORDER[worse(warned)]


def improved_overall(verdicts: Iterable[bool | None]) -> bool | None:
    """A department warned in several quarters improved only if it improved after every warning; one failure
    decides; otherwise unknown while any verdict is."""
    found = list(verdicts)
    if any(v is False for v in found):
        return False
    if found and all(v is True for v in found):
        return True
    return None

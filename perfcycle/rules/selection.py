"""Default proposal of the key fiscal evaluation objects (财政重点评价), which the coordinator then edits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from perfcycle.money import FEN_PER_WAN
from perfcycle.policy import FiscalEvaluationPolicy

PROJECT = "project"
POLICY = "policy"
DEPARTMENT = "department"


@dataclass(frozen=True)
class ProjectCandidate:
    code: str
    name: str
    budget_fen: int
    policy_related: bool
    high_attention: bool


@dataclass(frozen=True)
class SimpleCandidate:
    code: str
    name: str
    amount_fen: int


@dataclass(frozen=True)
class SelectedObject:
    object_type: str
    code: str
    name: str
    amount_fen: int
    rank: int
    reason: str


def _project_reason(project: ProjectCandidate, min_budget_fen: int) -> str:
    parts = []
    if project.policy_related:
        parts.append("政策相关")
    if project.high_attention:
        parts.append("社会关注度高")
    if project.budget_fen >= min_budget_fen:
        parts.append("金额较大")
    return "、".join(parts)


def _largest(candidates: Sequence[SimpleCandidate], count: int) -> list[SimpleCandidate]:
    return sorted(candidates, key=lambda c: (-c.amount_fen, c.code))[:count]


def propose_selection(
    projects: Sequence[ProjectCandidate],
    policies: Sequence[SimpleCandidate],
    departments: Sequence[SimpleCandidate],
    recently_evaluated: Collection[tuple[str, str]],
    policy: FiscalEvaluationPolicy,
) -> list[SelectedObject]:
    """The largest eligible projects, policies and departments not evaluated in the lookback cycles."""
    min_budget_fen = int(policy.project_min_budget_wan * FEN_PER_WAN)
    eligible = [
        p
        for p in projects
        if (p.policy_related or p.high_attention or p.budget_fen >= min_budget_fen)
        and (PROJECT, p.code) not in recently_evaluated
    ]
    eligible.sort(key=lambda p: (-p.budget_fen, p.code))
    selected = [
        SelectedObject(PROJECT, p.code, p.name, p.budget_fen, rank, _project_reason(p, min_budget_fen))
        for rank, p in enumerate(eligible[: policy.projects], start=1)
    ]
    fresh_policies = [c for c in policies if (POLICY, c.code) not in recently_evaluated]
    selected += [
        SelectedObject(POLICY, c.code, c.name, c.amount_fen, rank, "政策资金规模较大")
        for rank, c in enumerate(_largest(fresh_policies, policy.policies), start=1)
    ]
    fresh_departments = [c for c in departments if (DEPARTMENT, c.code) not in recently_evaluated]
    selected += [
        SelectedObject(DEPARTMENT, c.code, c.name, c.amount_fen, rank, "部门整体支出规模较大")
        for rank, c in enumerate(_largest(fresh_departments, policy.departments), start=1)
    ]
    return selected


def selection_total(selected: Sequence[SelectedObject]) -> int:
    """Total amount evaluated, as the report states it (projects + policy funds + department budgets)."""
    return sum(obj.amount_fen for obj in selected)


def propose_department_evaluation(projects: Sequence[tuple[str, str, int]], development_type: str) -> str | None:
    """A department evaluates its largest 事业发展类 project by default."""
    candidates = [(code, budget) for code, project_type, budget in projects if project_type == development_type]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (-c[1], c[0]))[0]

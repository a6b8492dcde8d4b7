"""Ex-ante assessment (事前绩效评估) of new and extended major projects."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from perfcycle.money import FEN_PER_WAN
from perfcycle.policy import ExAntePolicy
from perfcycle.rules.precision import round_score

CONCLUSION_SUPPORT = "予以支持"
CONCLUSION_ADJUST = "调整后支持"
CONCLUSION_REJECT = "不予支持"


def needs_ex_ante(attribute: str, request_fen: int, policy: ExAntePolicy) -> bool:
    """Only new or extended projects asking at least the threshold go to the panel (经常性 never do)."""
    return attribute in policy.attributes and request_fen >= policy.min_request_wan * FEN_PER_WAN


def ex_ante_total(scores: Mapping[str, Decimal], policy: ExAntePolicy) -> Decimal:
    """Panel total; refuses an incomplete or out-of-range score sheet rather than guessing."""
    for dimension in scores:
        if dimension not in policy.dimensions:
            raise ValueError(f"未知的评估维度「{dimension}」")
    total = Decimal(0)
    for dimension in policy.dimensions:
        if dimension not in scores:
            raise ValueError(f"缺少评估维度「{dimension}」的得分")
        score = scores[dimension]
        if not score.is_finite() or not 0 <= score <= policy.dimension_max:
            raise ValueError(f"评估维度「{dimension}」的得分{score}不在0至{policy.dimension_max}之间")
        total += score
    return total


def ex_ante_conclusion(total: Decimal, policy: ExAntePolicy) -> str:
    """Panel conclusion from the total at its published 0.01 against the policy's support and adjust minimums."""
    published = round_score(total)
    if published >= policy.support_min:
        return CONCLUSION_SUPPORT
    if published >= policy.adjust_min:
        return CONCLUSION_ADJUST
    return CONCLUSION_REJECT


def ex_ante_cut(conclusion: str, request_fen: int, proposed_cut_fen: int) -> int:
    """Amount cut from the request: all of it when rejected, else the panel's proposal within bounds."""
    if conclusion == CONCLUSION_REJECT:
        return request_fen
    if conclusion not in (CONCLUSION_SUPPORT, CONCLUSION_ADJUST):
        raise ValueError(f"未知的评估结论: {conclusion!r}")
    return max(0, min(proposed_cut_fen, request_fen))

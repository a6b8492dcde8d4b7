"""The stages of the annual cycle, in order, with the names staff use for them."""

from __future__ import annotations

QUARTERS = ("Q1", "Q2", "Q3", "Q4")
QUARTER_NAMES = {"Q1": "一季度", "Q2": "二季度", "Q3": "三季度", "Q4": "四季度"}

STAGES: tuple[tuple[str, str], ...] = (
    ("target_setting", "绩效目标管理"),
    ("ex_ante_assessment", "事前绩效评估"),
    *((f"monitoring_{q}", f"{QUARTER_NAMES[q]}绩效运行监控") for q in QUARTERS),
    ("self_evaluation", "绩效自评"),
    ("department_evaluation", "部门评价"),
    ("sampling_review", "抽查复核"),
    ("fiscal_evaluation", "财政重点评价"),
    ("budget_linkage", "评价结果应用"),
    ("reporting", "公开与报告"),
)
STAGE_NAMES = dict(STAGES)


def stages_before(stage: str) -> int:
    """How many stages come before `stage` in the cycle; a stage not in the cycle is refused by name."""
    order = [name for name, _ in STAGES]
    if stage not in order:
        raise StageError(f"没有名为 {stage} 的阶段（可选：{'、'.join(order)}）")
    return order.index(stage)


# Where each stage finds its submissions under the submissions folder (see docs/workbooks.md).
SUBMISSION_FOLDERS = {
    "targets": "targets",
    "panel_scores": "panel_scores",
    "monitoring": "monitoring",
    "self_evaluation": "self_evaluation",
    "review_scores": "review_scores",
    "third_party_scores": "third_party_scores",
}

_IMPORTED_BY = {
    "targets": "target_setting",
    "panel_scores": "ex_ante_assessment",
    "self_evaluation": "self_evaluation",
    "review_scores": "sampling_review",
    "third_party_scores": "fiscal_evaluation",
}


def importing_stage(kind: str, quarter: str | None = None) -> str:
    """The stage that imports a kind of submission (the monitoring forms: one stage per quarter)."""
    return f"monitoring_{quarter}" if kind == "monitoring" else _IMPORTED_BY[kind]


class StageError(RuntimeError):
    """A stage cannot go on; the message says why in the bureau's terms."""

"""What the approvers of the budget gate decide on: the 预算安排建议表 written for them and every project's row
by code, the code being what an adjustment names (`perfcycle approve ID --override 项目编码=金额:理由`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from models import Document
from perfcycle.documents.catalog import STAGE_DOCUMENTS
from perfcycle.documents.spreadsheets import BudgetEntry, budget_entries
from perfcycle.figures import budget_line

BUDGET_TABLE_KIND = STAGE_DOCUMENTS["budget_linkage"][0].kind


@dataclass(frozen=True)
class BudgetGateView:
    """The budget table of a cycle as its approvers see it."""

    table_path: str | None  # the 预算安排建议表 as last written; None before the stage wrote it
    entries: tuple[BudgetEntry, ...]  # every project, in the table's order, with its codes and names

    @property
    def cut(self) -> tuple[BudgetEntry, ...]:
        """The projects recommended below their base (the request after the ex-ante conclusion): the rows an
        adjustment usually concerns."""
        lines = [(e, budget_line(e.recommendation)) for e in self.entries]
        return tuple(e for e, line in lines if line.recommended_fen < line.base_fen)

    @property
    def adjusted(self) -> tuple[BudgetEntry, ...]:
        """The projects a decision already set at another amount."""
        return tuple(e for e in self.entries if e.recommendation.override_fen is not None)


def budget_gate_view(session: Session, cycle_id: int) -> BudgetGateView:
    """The budget table of the cycle and the file it was written to, read from the records."""
    path = session.exec(
        select(Document.path).where(Document.cycle_id == cycle_id, Document.kind == BUDGET_TABLE_KIND)
    ).first()
    return BudgetGateView(table_path=path, entries=tuple(budget_entries(session, cycle_id)))

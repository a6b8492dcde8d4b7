"""Approval gates: the database is the authority on every gate's state and decision."""

from __future__ import annotations

from prefect import task
from sqlmodel import Session, select

from models import Approval, Cycle, now, session_scope

AUTO_APPROVER = "auto-policy"


def decide_gate(
    session: Session, cycle: Cycle, gate: str, subject: str = "*", level: int = 1, data_digest: str = ""
) -> str:
    """Open the gate if it is new; in unattended mode pass it by policy. Returns the gate's status."""
    assert cycle.id is not None
    approval = session.exec(
        select(Approval).where(
            Approval.cycle_id == cycle.id,
            Approval.gate == gate,
            Approval.subject == subject,
            Approval.level == level,
        )
    ).first()
    if approval is None:
        approval = Approval(cycle_id=cycle.id, gate=gate, subject=subject, level=level, data_digest=data_digest)
    elif approval.status != "open":
        return approval.status
    if cycle.auto_approve:
        approval.status = "approved"
        approval.decided_by = AUTO_APPROVER
        approval.decided_at = now()
        approval.comment = "无人值守模式：按策略自动通过"
        approval.data_digest = data_digest or approval.data_digest
    session.add(approval)
    return approval.status


@task(name="request-approval")
def request_approval(cycle_id: int, gate: str, subject: str = "*", level: int = 1, data_digest: str = "") -> str:
    """One gate of a stage (the target gates per department are decided in their own task)."""
    with session_scope() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        return decide_gate(session, cycle, gate, subject, level, data_digest)

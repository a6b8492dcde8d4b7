"""Approval gates: the database is the authority on every gate's state and decision."""

from __future__ import annotations

from prefect import task
from sqlmodel import Session, select

from models import Approval, Cycle, now, session_scope
from perfcycle import audit
from perfcycle.approvals import AUTO_APPROVER, open_gate, reopen_gate

__all__ = ["AUTO_APPROVER", "decide_gate", "request_approval"]


def decide_gate(
    session: Session, cycle: Cycle, gate: str, subject: str = "*", level: int = 1, data_digest: str = ""
) -> str:
    """Open the gate if it is new; in unattended mode pass it by policy. Returns the gate's status.

    Opening sets the gate's deadline (`due_at`, from the policy's response days) and is audited; so is a
    pass by policy. A returned gate opens again when the data it decides on changed (a new `data_digest`).
    """
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
        approval = open_gate(session, cycle, gate, subject, level, data_digest)
    elif approval.status == "returned" and data_digest and data_digest != approval.data_digest:
        reopen_gate(session, cycle, approval, data_digest)
    elif approval.status != "open":
        return approval.status
    if cycle.auto_approve:
        approval.status = "approved"
        approval.decided_by = AUTO_APPROVER
        approval.decided_at = now()
        approval.comment = "无人值守模式：按策略自动通过"
        approval.data_digest = data_digest or approval.data_digest
        audit.append(
            session,
            AUTO_APPROVER,
            "approval.decided",
            audit.approval_subject(approval),
            {
                "year": cycle.year,
                "gate": gate,
                "subject": subject,
                "level": level,
                "status": approval.status,
                "decision": "approve",
                "comment": approval.comment,
                "data_digest": approval.data_digest,
            },
        )
    session.add(approval)
    return approval.status


@task(name="request-approval")
def request_approval(cycle_id: int, gate: str, subject: str = "*", level: int = 1, data_digest: str = "") -> str:
    """One gate of a stage (the target gates per department are decided in their own task)."""
    with session_scope() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        return decide_gate(session, cycle, gate, subject, level, data_digest)

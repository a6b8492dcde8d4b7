"""Approval gates: the database is the authority on every gate's state and decision."""

from __future__ import annotations

from typing import Any, Literal

from prefect import task
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlmodel import Session, select

from models import Approval, Cycle, now, session_scope
from models.audit import DecisionRefusal
from perfcycle import audit
from perfcycle.approvals import (
    AUTO_APPROVER,
    BudgetOverride,
    DecisionRefused,
    decide,
    gate_label,
    in_shanghai,
    list_open,
    open_gate,
    reopen_gate,
)
from perfcycle.documents.renderer import render_text
from tasks.common import run_logger

__all__ = [
    "AUTO_APPROVER",
    "GateDecision",
    "apply_gate_decision",
    "decide_gate",
    "find_open_gate",
    "request_approval",
    "wait_for_decision",
]


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


class OverrideInput(BaseModel):
    """One row of the budget table that stands at another amount than computed, and why."""

    project_code: str = PydanticField(title="项目编码")
    amount_wan: str = PydanticField(title="金额（万元）", pattern=r"^\d+(\.\d{1,2})?$")
    reason: str = PydanticField(title="理由", min_length=1)


class GateDecision(RunInput):
    """The form a suspended annual-cycle run shows in the Prefect UI for the gate it waits on."""

    decision: Literal["approve", "reject", "return"] = PydanticField(
        default="approve", title="决定", description="approve 通过 / reject 不予通过 / return 退回修改"
    )
    approver: str = PydanticField(title="审批人", description="本人姓名：按策略核对审批权限，并记入审计日志")
    comment: str = PydanticField(default="", title="审批意见", description="不予通过或退回修改时必填")
    overrides: list[OverrideInput] = PydanticField(
        default_factory=list, title="预算调整", description="仅用于预算安排建议表：项目编码、金额（万元）、理由"
    )


class GateFormText(BaseModel):
    """What the form's description tells the approver about the gate."""

    id: int
    label: str
    key: str
    due: str
    approvers: list[str]
    others: int


@task(name="find-open-gate")
def find_open_gate(cycle_id: int) -> dict[str, Any] | None:
    """The oldest gate of the cycle still waiting for a decision, with what its form and key need."""
    with session_scope() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        gates = list_open(session, cycle.year)
        if not gates:
            return None
        gate = gates[0]
        approval = session.get(Approval, gate.id)
        assert approval is not None
        attempts = len(session.exec(select(DecisionRefusal.id).where(DecisionRefusal.approval_id == gate.id)).all())
        return {
            "id": gate.id,
            "label": gate_label(approval, cycle.year),
            "key": f"gate-{gate.id}-{in_shanghai(approval.opened_at):%Y%m%d%H%M%S%f}-{attempts}",
            "due": f"{gate.due_at:%Y-%m-%d %H:%M}" if gate.due_at else "",
            "approvers": list(gate.approvers),
            "others": len(gates) - 1,
        }


@task(name="record-waiting-run")
def record_waiting_run(approval_id: int, flow_run_id: str) -> None:
    """Remember which suspended run waits on the gate, so a decision from the command line can resume it."""
    with session_scope() as session:
        approval = session.get(Approval, approval_id)
        assert approval is not None
        approval.flow_run_id = flow_run_id
        session.add(approval)


def wait_for_decision(gate: dict[str, Any]) -> GateDecision:
    """Suspend the run (no process is kept) until the gate's form is submitted in the UI or by `perfcycle approve`.

    The key is the gate with its opening and its refused attempts, so after a resume the rerun gets this
    form's answer back, and a gate that opens again or was refused asks anew.
    """
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None
    record_waiting_run(gate["id"], str(context.flow_run.id))
    text = render_text("gate_form.txt.j2", GateFormText(**gate))
    form = GateDecision.with_initial_data(description=text)
    return suspend_flow_run(wait_for_input=form, key=gate["key"])


@task(name="apply-gate-decision")
def apply_gate_decision(approval_id: int, answer: dict[str, Any]) -> dict[str, Any]:
    """Record the form's decision; one already taken on the command line stands, and a refusal is logged."""
    logger = run_logger()
    with session_scope() as session:
        approval = session.get(Approval, approval_id)
        assert approval is not None
        if approval.status != "open":
            logger.info("审批 %s 已由 %s 决定（%s），不再重复记录", approval_id, approval.decided_by, approval.status)
            return {"status": approval.status, "recorded": False}
    overrides = [BudgetOverride(o["project_code"], o["amount_wan"], o["reason"]) for o in answer.get("overrides", [])]
    try:
        with session_scope() as session:
            decided = decide(
                session,
                approval_id,
                answer["decision"],
                answer.get("approver", ""),
                answer.get("comment", ""),
                overrides,
            )
            status = decided.status
    except DecisionRefused as exc:
        logger.warning("审批 %s 的决定未被接受：%s", approval_id, exc)
        return {"status": "open", "recorded": False, "refused": str(exc)}
    return {"status": status, "recorded": True}

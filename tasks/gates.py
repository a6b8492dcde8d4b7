"""Approval gates: the database is the authority on every gate's state and decision."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from typing import Any, Literal, get_args

from prefect import task
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlmodel import Session, col, func, select

from models import Approval, Cycle, now, session_scope
from models.audit_log import DecisionRefusal
from perfcycle import audit
from perfcycle.approvals import (
    AUTO_APPROVER,
    DECISION_NAMES,
    BudgetOverride,
    DecisionRefused,
    approver_problem,
    decide,
    in_shanghai,
    latest_refusals,
    open_gate,
    open_groups,
    refuse,
    reopen_gate,
    signed_as,
)
from perfcycle.documents.renderer import render_text
from perfcycle.gate_figures import gate_figures
from perfcycle.standing import gate_group
from tasks.common import run_logger
from tasks.waiting import gate_group_line

__all__ = [
    "AUTO_APPROVER",
    "GateDecision",
    "apply_group_decision",
    "decide_gate",
    "find_open_group",
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
    """One line of the budget table (a project, or a key-evaluated policy or department) that stands at another
    amount than computed, and why."""

    project_code: str = PydanticField(title="项目编码", description="重点评价政策、部门整体写 政策:编码、部门:编码")
    amount_wan: str = PydanticField(title="金额（万元）", pattern=r"^\d+(\.\d{1,2})?$")
    reason: str = PydanticField(title="理由", min_length=1)


FormDecision = Literal["通过", "不予通过", "退回修改"]
#: The form's words for the decisions `perfcycle.approvals.decide` takes.
FORM_DECISIONS = {name: key for key, name in DECISION_NAMES.items()}
AS_A_WHOLE: Literal["按总体决定"] = "按总体决定"
#: How the reason of a refusal of a whole group ends (recorded once, on the group's first gate).
GROUP_REFUSED = "；本组对象均未决定"
assert set(get_args(FormDecision)) == set(FORM_DECISIONS)


class SubjectDecision(BaseModel):
    """One row of the form's table: a gate of the group, decided as a whole unless the row says otherwise."""

    gate_id: int = PydanticField(title="审批编号")
    subject: str = PydanticField(default="", title="对象")
    decision: Literal["按总体决定", "通过", "不予通过", "退回修改"] = PydanticField(default=AS_A_WHOLE, title="决定")
    comment: str = PydanticField(default="", title="意见", description="留空则用总体意见")


class GateDecision(RunInput):
    """The form a suspended annual-cycle run shows in the Prefect UI for the gate group it waits on."""

    approver: str = PydanticField(title="审批人", description="本人姓名：按策略核对审批权限，并记入审计日志")
    decision: FormDecision = PydanticField(
        title="总体决定",
        description="适用于下表中每个选择「按总体决定」的对象：通过 / 不予通过 / 退回修改（须写明意见）",
    )
    comment: str = PydanticField(default="", title="审批意见", description="不予通过或退回修改时必填")
    subjects: list[SubjectDecision] = PydanticField(
        default_factory=list,
        title="审批对象",
        description="本次决定的对象，可逐个改为其他决定并写明意见；删去的对象留待下次决定",
    )
    overrides: list[OverrideInput] = PydanticField(
        default_factory=list,
        title="预算调整",
        description="仅用于预算安排建议表：项目编码（或 政策:编码、部门:编码）、金额（万元）、理由",
    )


class FormFigures(BaseModel):
    lines: list[str]
    lists: list[tuple[str, list[str]]]
    columns: list[str]
    rows: list[list[str]]
    more: int


class FormRefusal(BaseModel):
    subject: str
    actor: str
    decision: str
    reason: str


class GateFormText(BaseModel):
    """What the form's description tells the approver about the gate group."""

    label: str
    gate: str
    due: str
    approvers: list[str]
    others: int
    command: str
    figures: FormFigures
    refusals: list[FormRefusal]


def _cell(value: str) -> str:
    return " ".join(str(value).split()).replace("|", "｜")


@task(name="find-open-group")
def find_open_group(cycle_id: int, waited_on_by: str | None = None) -> dict[str, Any] | None:
    """The group of the oldest gate still waiting for a decision (the same gate at the same level: e.g. every
    department's targets), with what its form shows and its key; with `waited_on_by`, only the gates that flow
    run was suspended at (the form a resumed run was answered on).

    The key names the group's gates with their openings and refused attempts, so after a resume the rerun gets
    this form's answer back, and a group that changed, opened again or was refused asks anew."""
    with session_scope() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        groups = open_groups(session, cycle.year)
        if waited_on_by is not None:  # its gates only, though others may have opened since
            waited = set(session.exec(select(Approval.id).where(Approval.flow_run_id == waited_on_by)))
            restricted = (replace(g, gates=tuple(m for m in g.gates if m.id in waited)) for g in groups)
            groups = [g for g in restricted if g.gates]
        if not groups:
            return None
        group = groups[0]
        ids = group.ids
        opened = [
            (a.id, in_shanghai(a.opened_at).isoformat())
            for a in session.exec(select(Approval).where(col(Approval.id).in_(ids)).order_by(col(Approval.id)))
        ]
        attempts = len(session.exec(select(DecisionRefusal.id).where(col(DecisionRefusal.approval_id).in_(ids))).all())
        digest = hashlib.sha256(json.dumps([opened, attempts]).encode()).hexdigest()[:16]
        figures = gate_figures(session, cycle, group)
        read = gate_group(session, cycle, group, now(), figures)
        by_id = {g.id: g for g in group.gates}
        refusals = [
            FormRefusal(
                subject="本组全部对象"
                if refusal.reason.endswith(GROUP_REFUSED)
                else group.subject_name(by_id[gate_id].subject),
                actor=refusal.actor,
                decision=DECISION_NAMES.get(refusal.decision, refusal.decision),
                reason=refusal.reason,
            )
            for gate_id, refusal in sorted(latest_refusals(session, ids).items())
        ]
        dues = [g.due_at for g in group.gates if g.due_at is not None]
        return {
            "key": f"{group.key_prefix}{digest}",
            "label": group.label,
            "gate": group.gate,
            "ids": ids,
            "rows": [{"gate_id": g.id, "subject": group.subject_name(g.subject)} for g in group.gates],
            "due": f"{min(dues):%Y-%m-%d %H:%M}" if dues else "",
            "approvers": list(read.approvers),
            "others": len(groups) - 1,
            "command": read.commands[0],
            "figures": FormFigures(
                lines=figures.lines,
                lists=[(label, [_cell(item) for item in items]) for label, items in figures.lists],
                columns=figures.columns,
                rows=[[_cell(c) for c in row] for row in figures.rows],
                more=figures.more,
            ).model_dump(),
            "refusals": [r.model_dump() for r in refusals],
            "waiting": gate_group_line(read, on_server=True),
        }


@task(name="record-waiting-run")
def record_waiting_run(approval_ids: list[int], flow_run_id: str) -> None:
    """Remember which suspended run waits on the gates, so a decision from the command line can resume it."""
    with session_scope() as session:
        for approval in session.exec(select(Approval).where(col(Approval.id).in_(approval_ids))):
            approval.flow_run_id = flow_run_id
            session.add(approval)


def approval_form(group: dict[str, Any]) -> type[GateDecision]:
    """The group's form: its description (the figures, earlier refusals) and one row per gate, to decide."""
    text = render_text("gate_form.markdown.j2", GateFormText(**group))
    return GateDecision.with_initial_data(description=text, subjects=[SubjectDecision(**row) for row in group["rows"]])


def wait_for_decision(group: dict[str, Any]) -> GateDecision:
    """Suspend the run (no process is kept) until the group's form is submitted in the UI or `perfcycle approve`
    resumes it; the form lists the group's gates, each decided as a whole unless its row says otherwise."""
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None
    record_waiting_run(group["ids"], str(context.flow_run.id))
    run_logger().warning(group["waiting"])
    return suspend_flow_run(wait_for_input=approval_form(group), key=group["key"])


@task(name="apply-group-decision")
def apply_group_decision(group: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """Record the form's decision on each gate it lists, through `decide` as the command line does.

    A gate already decided (on the command line) stands; a refused row is recorded with its reason, which the
    form shows when it asks again for the gates still open; the accepted rows stand. An approver who may decide
    none of them (no name, not on the policy's list) is refused once for the whole group. The UI is opened under
    one shared credential, so each decision is recorded as entered by that account on the named approver's
    behalf (`PERFCYCLE_PREFECT_UI_ACTOR`)."""
    from perfcycle.settings import get_settings

    logger = run_logger()
    approver = str(answer.get("approver", ""))
    entered_by = get_settings().prefect_ui_actor
    whole = FORM_DECISIONS[answer["decision"]]
    overrides = [BudgetOverride(o["project_code"], o["amount_wan"], o["reason"]) for o in answer.get("overrides", [])]
    members = set(group["ids"])
    with session_scope() as session:
        first = session.get(Approval, group["ids"][0])
        cycle = session.get(Cycle, first.cycle_id) if first is not None else None
        assert first is not None and cycle is not None
        problem = approver_problem(cycle, first.gate, first.level, approver, group["label"])
        if problem:  # one refusal for the group: nobody's decision, whatever its rows say
            reason = f"{problem}{GROUP_REFUSED}"
            refuse(session, first.id or 0, whole, approver, str(answer.get("comment", "")), reason, entered_by)
            logger.warning("%s的决定未被接受：%s", group["label"], reason)
            return {"recorded": 0, "refused": [reason], "kept": 0}
    recorded: Counter[str] = Counter()
    refused: list[str] = []
    kept = 0
    for row in answer.get("subjects", []):
        gate_id = int(row["gate_id"])
        decision = whole if row.get("decision", AS_A_WHOLE) == AS_A_WHOLE else FORM_DECISIONS[row["decision"]]
        comment = str(row.get("comment") or "").strip() or str(answer.get("comment", ""))
        with session_scope() as session:
            approval = session.get(Approval, gate_id)
            if approval is not None and approval.status != "open":
                kept += 1
                continue
        try:
            with session_scope() as session:
                if gate_id not in members:  # refused on the form's gates, so that the form asks again
                    reason = f"审批编号 {gate_id} 不在本次审批的关口中"
                    raise refuse(session, group["ids"][0], decision, approver, comment, reason, entered_by)
                decide(session, gate_id, decision, approver, comment, overrides, entered_by=entered_by)
            recorded[DECISION_NAMES[decision]] += 1
        except DecisionRefused as exc:
            refused.append(str(exc))
            logger.warning("审批编号 %s 的决定未被接受：%s", gate_id, exc)
    with session_scope() as session:
        still_open = session.exec(
            select(func.count()).select_from(Approval).where(col(Approval.id).in_(members), Approval.status == "open")
        ).one()
        if not recorded and not refused and still_open == len(members):
            reason = "答复没有列出本组任何待审批的对象，未作决定"
            refuse(session, group["ids"][0], whole, approver, str(answer.get("comment", "")), reason, entered_by)
            refused.append(reason)
            logger.warning(reason)
    if recorded:
        said = "、".join(f"{name} {count} 个" for name, count in recorded.items())
        logger.info("已记录 %s：%s（%s）", group["label"], said, signed_as(approver, entered_by))
    if kept:
        logger.info("%s 中 %d 个关口已另行决定（命令行），不再重复记录", group["label"], kept)
    return {"recorded": sum(recorded.values()), "refused": refused, "kept": kept}

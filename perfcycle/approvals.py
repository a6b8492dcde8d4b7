"""Approval gates as a service: opening a gate, listing what waits, and recording a person's decision.

The database is the authority on every gate (see `tasks.gates.decide_gate` for how the flows open
them). A decision is checked against the cycle's policy and the separation of duties before anything is
written:

- the decider must be on the policy's approver list for the gate and level;
- a preparer never approves its own submission: the department's contact and head for its targets, the
  panel's assessors for the ex-ante conclusions, the third-party evaluators for the key-evaluation
  reports, and whoever decided a lower level of the same gate (the coordinator who passed the budget
  table at level 1 cannot also pass it at level 2);
- a level is decided only after every lower level of the same gate passed;
- a gate is decided once: a second decision on a closed gate is refused;
- rejecting or returning needs a comment; budget-table overrides (of a project's line, or of a key-evaluated
  policy's or department's) need a reason each and lie between 0 and the line's original amount unless the
  cycle's policy allows more.

A refusal is recorded (a `DecisionRefusal` row and an audit entry) and committed on the session before
`DecisionRefused` is raised, so the caller's rollback never loses it: give `decide` a session of its own.
No Prefect here: the command line and a flow's resume handler call the same functions and end in the
same records. A decision typed in there (`entered_by`: the administrator, the Prefect UI's shared account)
is recorded as entered on behalf of the person it names; one from the workbench under its signer alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlmodel import Session, col, select

from models import (
    Approval,
    BudgetRecommendation,
    Cycle,
    Department,
    DepartmentRecommendation,
    Evaluation,
    ExAnteAssessment,
    FiscalPolicy,
    PolicyRecommendation,
    Project,
    TargetReview,
    now,
)
from models.audit_log import DecisionRefusal
from models.tables import SHANGHAI
from perfcycle import audit
from perfcycle.cycle_context import cycle_policy
from perfcycle.money import MoneyError, fmt_wan, wan_to_fen
from perfcycle.policy import ApprovalsPolicy, BudgetPolicy, load_policy
from perfcycle.rules.budget import override_problem

Decision = Literal["approve", "reject", "return"]
DECISIONS: dict[str, str] = {"approve": "approved", "reject": "rejected", "return": "returned"}
DECISION_NAMES = {"approve": "通过", "reject": "不予通过", "return": "退回修改"}
STATUS_NAMES = {"open": "待审批", "approved": "已通过", "rejected": "不予通过", "returned": "已退回修改"}
GATE_NAMES = {
    "targets": "绩效目标",
    "ex_ante_conclusions": "事前评估结论",
    "sample": "抽查复核样本",
    "key_evaluation_selection": "重点评价对象",
    "key_evaluation_reports": "重点评价报告",
    "budget_table": "预算安排建议表",
    "annual_report": "工作开展情况说明",
}
#: The stage whose flow opens each gate.
GATE_STAGES = {
    "targets": "target_setting",
    "ex_ante_conclusions": "ex_ante_assessment",
    "sample": "sampling_review",
    "key_evaluation_selection": "fiscal_evaluation",
    "key_evaluation_reports": "fiscal_evaluation",
    "budget_table": "budget_linkage",
    "annual_report": "reporting",
}
AUTO_APPROVER = "auto-policy"
NO_DECIDER = "必须写明决定人（--by 姓名）"


class DecisionRefused(Exception):
    """A decision that the rules do not allow; the message says why in the bureau's terms."""


@dataclass(frozen=True)
class BudgetOverride:
    """The amount (万元) that stands for one line of the budget table instead of the computed one, and why: a
    project's line by its code, a key-evaluated policy's or department's by its own (政策:编码 / 部门:编码 where
    a project has the same code)."""

    project_code: str
    amount_wan: Decimal | str
    reason: str


#: The lines an adjustment may name, by the prefix that names one explicitly.
LINE_PREFIXES = {"项目": "project", "政策": "policy", "部门": "department"}
LINE_NAMES = {kind: name for name, kind in LINE_PREFIXES.items()}
Overridable = BudgetRecommendation | PolicyRecommendation | DepartmentRecommendation


@dataclass(frozen=True)
class OpenGate:
    """A gate waiting for a decision, as `perfcycle approvals` shows it."""

    id: int
    year: int
    gate: str
    subject: str
    level: int
    opened_at: datetime
    due_at: datetime | None
    approvers: tuple[str, ...]

    @property
    def gate_name(self) -> str:
        return GATE_NAMES.get(self.gate, self.gate)

    def overdue(self, at: datetime | None = None) -> bool:
        return self.due_at is not None and in_shanghai(self.due_at) < (at or now())


@dataclass(frozen=True)
class GateGroup:
    """The open gates of a cycle decided together: one gate at one level, e.g. every department's targets."""

    year: int
    gate: str
    level: int
    gates: tuple[OpenGate, ...]
    names: dict[str, str]  # a subject's name (a department code's department); none for "*"

    @property
    def ids(self) -> list[int]:
        return [g.id for g in self.gates]

    @property
    def label(self) -> str:
        """E.g. 2024年度绩效目标第1级审批（54 个部门）; a single gate is named as `gate_label` names it."""
        if len(self.gates) == 1:
            only = self.gates[0]
            subject = "" if only.subject == "*" else f"（{self.subject_name(only.subject)}）"
            return f"{self.year}年度{GATE_NAMES.get(self.gate, self.gate)}{subject}第{self.level}级审批"
        return f"{self.year}年度{GATE_NAMES.get(self.gate, self.gate)}第{self.level}级审批（{len(self.gates)} 个部门）"

    @property
    def key_prefix(self) -> str:
        return group_key_prefix(self.year, self.gate, self.level)

    def subject_name(self, subject: str) -> str:
        name = self.names.get(subject, "")
        return f"{subject} {name}" if name else subject


def form_answer(
    decision: str, approver: str, comment: str, gate_ids: Sequence[int], overrides: Sequence[dict[str, str]] = ()
) -> dict[str, object]:
    """Decisions taken on the command line as an answer to a suspended run's approval form (the schema of
    `tasks.gates.GateDecision`): the rerun finds each of these gates decided and records nothing twice."""
    name = DECISION_NAMES[decision]
    return {
        "approver": approver,
        "decision": name,
        "comment": comment,
        "subjects": [{"gate_id": i, "subject": "", "decision": name, "comment": comment} for i in gate_ids],
        "overrides": list(overrides),
    }


def group_key_prefix(year: int, gate: str, level: int) -> str:
    """How a suspended run's form key starts for a gate group (Prefect keys: lowercase letters, digits, dashes)."""
    return f"gate-{year}-{gate.replace('_', '-')}-{level}-"


def signed_as(decided_by: str, entered_by: str = "") -> str:
    """Who decided, as records show it: the signer, or "管理员 root 代 周晓梅 录入" for a typed-in decision."""
    if not entered_by or entered_by == decided_by:
        return decided_by
    return f"{entered_by} 代 {decided_by} 录入"


def in_shanghai(value: datetime) -> datetime:
    """In Asia/Shanghai; SQLite returns the stored wall time without its zone, PostgreSQL in its own zone."""
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value.astimezone(SHANGHAI)


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def approvals_policy(cycle: Cycle) -> ApprovalsPolicy:
    """The approver lists the cycle recorded; a cycle recorded before policies had them uses the file's."""
    recorded = cycle_policy(cycle).approvals
    if recorded.gates or not cycle.policy_json:
        return recorded
    return load_policy(cycle.year).approvals


def gate_label(approval: Approval, year: int | None = None) -> str:
    subject = "" if approval.subject == "*" else f"（{approval.subject}）"
    prefix = f"{year}年度" if year else ""
    return f"{prefix}{GATE_NAMES.get(approval.gate, approval.gate)}{subject}第{approval.level}级审批"


def _audit_payload(approval: Approval, cycle: Cycle | None) -> dict[str, object]:
    return {
        "year": cycle.year if cycle else None,
        "gate": approval.gate,
        "subject": approval.subject,
        "level": approval.level,
        "status": approval.status,
        "data_digest": approval.data_digest,
        "due_at": approval.due_at,
    }


# ---------------------------------------------------------------------------------------------- opening


def open_gate(
    session: Session, cycle: Cycle, gate: str, subject: str = "*", level: int = 1, data_digest: str = ""
) -> Approval:
    """Create an open gate with its deadline from the policy, and record the opening in the audit log."""
    assert cycle.id is not None
    opened = now()
    days = approvals_policy(cycle).response_days_for(gate, level)
    approval = Approval(
        cycle_id=cycle.id,
        gate=gate,
        subject=subject,
        level=level,
        data_digest=data_digest,
        opened_at=opened,
        due_at=opened + timedelta(days=days),
    )
    session.add(approval)
    session.flush()
    audit.append(
        session, "perfcycle", "approval.opened", audit.approval_subject(approval), _audit_payload(approval, cycle)
    )
    return approval


def reopen_gate(session: Session, cycle: Cycle, approval: Approval, data_digest: str) -> None:
    """A returned gate opens again when the data it decides on changed (the resubmission arrived)."""
    previous = {
        "status": approval.status,
        "decided_by": approval.decided_by,
        "entered_by": approval.entered_by,
        "comment": approval.comment,
    }
    opened = now()
    approval.status = "open"
    approval.decided_by = ""
    approval.entered_by = ""
    approval.decided_at = None
    approval.comment = ""
    approval.data_digest = data_digest
    approval.opened_at = opened
    approval.due_at = opened + timedelta(days=approvals_policy(cycle).response_days_for(approval.gate, approval.level))
    session.add(approval)
    audit.append(
        session,
        "perfcycle",
        "approval.reopened",
        audit.approval_subject(approval),
        {**_audit_payload(approval, cycle), "previous": previous},
    )


# ---------------------------------------------------------------------------------------------- who


def preparers(session: Session, approval: Approval) -> set[str]:
    """The people who prepared what the gate decides on, and who decided its lower levels: never approvers."""
    names: set[str] = set()
    if approval.gate == "targets":
        department = session.exec(select(Department).where(Department.code == approval.subject)).first()
        if department is not None:
            names.update({department.contact, department.head})
    elif approval.gate == "ex_ante_conclusions":
        names.update(
            session.exec(select(ExAnteAssessment.assessor).where(ExAnteAssessment.cycle_id == approval.cycle_id))
        )
    elif approval.gate == "key_evaluation_reports":
        names.update(
            session.exec(
                select(Evaluation.evaluator).where(
                    Evaluation.cycle_id == approval.cycle_id, Evaluation.kind == "fiscal"
                )
            )
        )
    if approval.level > 1:
        names.update(
            session.exec(
                select(Approval.decided_by).where(
                    Approval.cycle_id == approval.cycle_id,
                    Approval.gate == approval.gate,
                    Approval.subject == approval.subject,
                    Approval.level < approval.level,
                )
            )
        )
    return {n for n in names if n and n.strip() and n != AUTO_APPROVER}


def approver_problem(cycle: Cycle, gate: str, level: int, by: str, label: str) -> str | None:
    """Why `by` may decide no gate of this kind and level (no name given, or not on the policy's list), or None.

    `label` names what was to be decided: one gate, or a whole group of them."""
    by = " ".join((by or "").split())
    if not by:
        return NO_DECIDER
    rule = approvals_policy(cycle).level(gate, level)
    if rule is None:
        return f"{cycle.year}年度策略没有规定{label}的审批人"
    if _norm(by) not in {_norm(n) for n in rule.approvers}:
        return f"{by} 不在{label}的审批人名单中（可审批：{'、'.join(rule.approvers)}）"
    return None


def may_decide(session: Session, approval: Approval, cycle: Cycle) -> tuple[str, ...]:
    """The policy's approvers for the gate's level, without its preparers."""
    rule = approvals_policy(cycle).level(approval.gate, approval.level)
    if rule is None:
        return ()
    excluded = {_norm(n) for n in preparers(session, approval)}
    return tuple(n for n in rule.approvers if _norm(n) not in excluded)


def list_open(session: Session, year: int | None = None) -> list[OpenGate]:
    """Every gate waiting for a decision (of one cycle year, or of all), oldest first."""
    query = (
        select(Approval, Cycle)
        .join(Cycle, col(Cycle.id) == Approval.cycle_id)
        .where(Approval.status == "open", Cycle.status != "historical")
        .order_by(col(Cycle.year), col(Approval.opened_at), col(Approval.id))
    )
    if year is not None:
        query = query.where(Cycle.year == year)
    gates = []
    for approval, cycle in session.exec(query):
        assert approval.id is not None
        gates.append(
            OpenGate(
                id=approval.id,
                year=cycle.year,
                gate=approval.gate,
                subject=approval.subject,
                level=approval.level,
                opened_at=in_shanghai(approval.opened_at),
                due_at=in_shanghai(approval.due_at) if approval.due_at else None,
                approvers=may_decide(session, approval, cycle),
            )
        )
    return gates


def open_groups(session: Session, year: int) -> list[GateGroup]:
    """The year's open gates by gate and level, the group of the oldest gate first."""
    gates = list_open(session, year)
    order: dict[tuple[str, int], list[OpenGate]] = {}
    for gate in gates:
        order.setdefault((gate.gate, gate.level), []).append(gate)
    codes = {g.subject for g in gates if g.subject != "*"}
    names = (
        {d.code: d.name for d in session.exec(select(Department).where(col(Department.code).in_(codes)))}
        if codes
        else {}
    )
    return [
        GateGroup(
            year, gate, level, tuple(members), {m.subject: names[m.subject] for m in members if m.subject in names}
        )
        for (gate, level), members in order.items()
    ]


@dataclass(frozen=True)
class DecidedGate:
    """A gate decided by a person (or by policy), as the decision history shows it."""

    id: int
    year: int
    gate: str
    subject: str
    subject_name: str
    level: int
    status: str
    decided_at: datetime | None
    decided_by: str
    entered_by: str
    comment: str

    @property
    def gate_name(self) -> str:
        return GATE_NAMES.get(self.gate, self.gate)

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, self.status)

    @property
    def signed(self) -> str:
        return signed_as(self.decided_by, self.entered_by)


def decision_history(session: Session, year: int | None = None) -> list[DecidedGate]:
    """Every decided gate (of one cycle year, or of all), in the order of the decisions."""
    query = (
        select(Approval, Cycle)
        .join(Cycle, col(Cycle.id) == Approval.cycle_id)
        .where(Approval.status != "open", Cycle.status != "historical")
        .order_by(col(Cycle.year), col(Approval.decided_at), col(Approval.id))
    )
    if year is not None:
        query = query.where(Cycle.year == year)
    rows = list(session.exec(query))
    codes = {a.subject for a, _ in rows if a.subject != "*"}
    names = (
        {d.code: d.name for d in session.exec(select(Department).where(col(Department.code).in_(codes)))}
        if codes
        else {}
    )
    return [
        DecidedGate(
            id=approval.id or 0,
            year=cycle.year,
            gate=approval.gate,
            subject=approval.subject,
            subject_name=""
            if approval.subject == "*"
            else f"{approval.subject} {names.get(approval.subject, '')}".strip(),
            level=approval.level,
            status=approval.status,
            decided_at=in_shanghai(approval.decided_at) if approval.decided_at else None,
            decided_by=approval.decided_by,
            entered_by=approval.entered_by,
            comment=approval.comment,
        )
        for approval, cycle in rows
    ]


# ---------------------------------------------------------------------------------------------- deciding


def _refuse(
    session: Session,
    approval_id: int,
    approval: Approval | None,
    decision: str,
    by: str,
    comment: str,
    reason: str,
    entered_by: str = "",
) -> DecisionRefused:
    """Record the refusal (who, when, what, why; who typed it in for whom) and commit it, then hand back the
    exception to raise."""
    refusal = DecisionRefusal(
        approval_id=approval_id, actor=by[:100], decision=decision[:12], comment=comment, reason=reason
    )
    session.add(refusal)
    subject = audit.approval_subject(approval) if approval is not None else f"approval:{approval_id}"
    payload: dict[str, object] = {"decision": decision, "comment": comment, "reason": reason}
    if approval is not None:
        payload.update(gate=approval.gate, subject=approval.subject, level=approval.level, status=approval.status)
    if entered_by:
        payload.update(entered_by=entered_by, on_behalf_of=by)
    audit.append(session, entered_by or by or "(未署名)", "approval.refused", subject, payload)
    session.commit()
    return DecisionRefused(reason)


def refuse(
    session: Session, approval_id: int, decision: str, by: str, comment: str, reason: str, entered_by: str = ""
) -> DecisionRefused:
    """Record a decision refused before `decide` is asked (by the approval form's own checks), as `decide`
    records its refusals, and hand back the exception to raise or report."""
    approval = session.get(Approval, approval_id)
    by = " ".join((by or "").split())
    return _refuse(session, approval_id, approval, decision, by, comment.strip(), reason, entered_by)


def latest_refusals(session: Session, approval_ids: Sequence[int]) -> dict[int, DecisionRefusal]:
    """Each gate's latest refused decision since the gate (re)opened: what its form shows when it asks again."""
    opened = {
        a.id: in_shanghai(a.opened_at) for a in session.exec(select(Approval).where(col(Approval.id).in_(approval_ids)))
    }
    latest: dict[int, DecisionRefusal] = {}
    for refusal in session.exec(
        select(DecisionRefusal)
        .where(col(DecisionRefusal.approval_id).in_(approval_ids))
        .order_by(col(DecisionRefusal.id))
    ):
        gate = refusal.approval_id
        if gate is not None and gate in opened and in_shanghai(refusal.at) >= opened[gate]:
            latest[gate] = refusal
    return latest


def _lower_levels(session: Session, approval: Approval, policy: ApprovalsPolicy) -> dict[int, Approval | None]:
    rows = {
        a.level: a
        for a in session.exec(
            select(Approval).where(
                Approval.cycle_id == approval.cycle_id,
                Approval.gate == approval.gate,
                Approval.subject == approval.subject,
                Approval.level < approval.level,
            )
        )
    }
    levels = {lv for lv in policy.levels(approval.gate) if lv < approval.level} | set(rows)
    return {lv: rows.get(lv) for lv in sorted(levels)}


def _budget_policy(cycle: Cycle) -> BudgetPolicy:
    """The result-application rules the cycle recorded; a cycle recorded without a policy uses the file's."""
    return cycle_policy(cycle).budget


def _named_line(code: str) -> tuple[str | None, str]:
    """(kind, code) of what an adjustment names: 政策:ZC01 → (policy, ZC01); a bare code → (None, code)."""
    for prefix, kind in LINE_PREFIXES.items():
        for separator in (":", "："):
            if code.startswith(prefix + separator):
                return kind, code[len(prefix) + 1 :].strip()
    return None, code


def _overridable(
    session: Session, cycle: Cycle, codes: Sequence[str]
) -> dict[tuple[str, str], tuple[Overridable, int]]:
    """(kind, code) → the line's record and its original amount: a project's request, a policy's funds, a
    department's 事业发展类 requests."""
    lines: dict[tuple[str, str], tuple[Overridable, int]] = {
        ("project", project.code): (rec, project.request_fen)
        for rec, project in session.exec(
            select(BudgetRecommendation, Project)
            .join(Project, col(Project.id) == BudgetRecommendation.project_id)
            .where(BudgetRecommendation.cycle_id == cycle.id, col(Project.code).in_(list(codes)))
        )
    }
    for policy_rec, fiscal_policy in session.exec(
        select(PolicyRecommendation, FiscalPolicy)
        .join(FiscalPolicy, col(FiscalPolicy.id) == PolicyRecommendation.policy_id)
        .where(PolicyRecommendation.cycle_id == cycle.id)
    ):
        lines[("policy", fiscal_policy.code)] = (policy_rec, policy_rec.funds_fen)
    for department_rec, department in session.exec(
        select(DepartmentRecommendation, Department)
        .join(Department, col(Department.id) == DepartmentRecommendation.department_id)
        .where(DepartmentRecommendation.cycle_id == cycle.id)
    ):
        lines[("department", department.code)] = (department_rec, department_rec.request_fen)
    return lines


def _check_overrides(
    session: Session, cycle: Cycle, overrides: Sequence[BudgetOverride]
) -> tuple[list[tuple[Overridable, int, str]], str | None]:
    """Each override names a line of the table (a project, or a key-evaluated policy or department), a reason,
    and an amount in 万元 within the policy's bounds."""
    planned: list[tuple[Overridable, int, str]] = []
    named = [_named_line(o.project_code.strip()) for o in overrides]
    lines = _overridable(session, cycle, [code for _, code in named])
    keys: list[tuple[str, str]] = []
    for kind, code in named:
        found = [key for key in lines if key[1] == code and kind in (None, key[0])]
        if not found:
            what = LINE_NAMES[kind] if kind else "项目"
            return [], f"预算安排建议表中没有{what} {code}"
        if len(found) > 1:
            names = "、".join(f"{LINE_NAMES[k]}:{c}" for k, c in found)
            return [], f"编码 {code} 不止一行（{names}），请写明是哪一行"
        keys.append(found[0])
    if len(set(keys)) != len(keys):
        return [], "同一行只能调整一次"
    policy = _budget_policy(cycle)
    for override, key in zip(overrides, keys, strict=True):
        label = f"{LINE_NAMES[key[0]]} {key[1]}"
        rec, original = lines[key]
        if not override.reason.strip():
            return [], f"{label} 的调整金额必须写明理由"
        try:
            fen = wan_to_fen(override.amount_wan)
        except MoneyError as exc:
            return [], f"{label} 的调整金额无效：{exc}"
        problem = override_problem(fen, original, policy)
        if problem:
            return [], f"{label} 的{problem}"
        planned.append((rec, fen, override.reason.strip()))
    return planned, None


def _override_entry(rec: Overridable, fen: int, reason: str) -> dict[str, object]:
    """An override as the audit log keeps it: the line's record, the amount and the reason."""
    if isinstance(rec, PolicyRecommendation):
        line: dict[str, object] = {"policy_id": rec.policy_id}
    elif isinstance(rec, DepartmentRecommendation):
        line = {"department_id": rec.department_id}
    else:
        line = {"project_id": rec.project_id}
    return {**line, "amount_wan": fmt_wan(fen), "reason": reason}


def decide(
    session: Session,
    approval_id: int,
    decision: Decision | str,
    by: str,
    comment: str = "",
    overrides: Iterable[BudgetOverride] = (),
    *,
    entered_by: str = "",
) -> Approval:
    """Record a person's decision on an open gate, or refuse it (recorded) with `DecisionRefused`.

    `by` is the person whose decision it is (checked against the policy and the separation of duties);
    `entered_by`, when given, who typed it in on their behalf (the administrator on the command line, the
    Prefect UI's shared account): the audit entry is theirs, naming `by` as the one on whose behalf.

    Approving a level opens the gate's next level when the policy has one. Returning a department's
    targets sets its projects' target reviews back to "returned" with the comment as the reason and reopens
    its collection entry with its resubmission deadline. The decision is flushed, not committed: the
    caller's transaction commits it.
    """
    by = " ".join((by or "").split())
    comment = (comment or "").strip()
    override_list = list(overrides)
    approval = session.get(Approval, approval_id)

    def refuse(reason: str) -> DecisionRefused:
        return _refuse(session, approval_id, approval, str(decision), by, comment, reason, entered_by)

    if decision not in DECISIONS:
        raise refuse(f"未知的决定 {decision!r}（应为 approve、reject 或 return）")
    if not by:
        raise refuse(NO_DECIDER)
    if approval is None:
        raise refuse(f"没有编号为 {approval_id} 的审批关口")
    cycle = session.get(Cycle, approval.cycle_id)
    assert cycle is not None
    label = gate_label(approval, cycle.year)
    if approval.status != "open":
        when = in_shanghai(approval.decided_at).strftime("%Y-%m-%d %H:%M") if approval.decided_at else "此前"
        raise refuse(
            f"{label}已于 {when} 由 {signed_as(approval.decided_by, approval.entered_by) or '?'} 决定"
            f"（{STATUS_NAMES.get(approval.status, approval.status)}），不能再次决定"
        )
    problem = approver_problem(cycle, approval.gate, approval.level, by, label)
    if problem:
        raise refuse(problem)
    policy = approvals_policy(cycle)
    for level, lower in _lower_levels(session, approval, policy).items():
        if lower is None or lower.status != "approved":
            state = "尚未开始" if lower is None else STATUS_NAMES.get(lower.status, lower.status)
            raise refuse(f"第{level}级审批{state}，{label}不能先行决定")
    if _norm(by) in {_norm(n) for n in preparers(session, approval)}:
        raise refuse(f"{by} 提交或已审批过{label}所依据的材料，不能再审批（职责分离：不得审批自己的提交）")
    if decision in ("reject", "return") and not comment:
        raise refuse(f"{DECISION_NAMES[decision]}必须写明意见（--comment）")
    planned: list[tuple[Overridable, int, str]] = []
    if override_list:
        if approval.gate != "budget_table" or decision != "approve":
            raise refuse("调整金额只适用于通过预算安排建议表的决定")
        planned, problem = _check_overrides(session, cycle, override_list)
        if problem:
            raise refuse(problem)

    approval.status = DECISIONS[decision]
    approval.decided_by = by[:100]
    approval.entered_by = entered_by[:100]
    approval.decided_at = now()
    approval.comment = comment
    session.add(approval)
    for rec, fen, reason in planned:
        rec.override_fen = fen
        rec.override_reason = reason
        session.add(rec)
    returned_projects = _return_targets(session, cycle, approval) if decision == "return" else []
    payload = {
        **_audit_payload(approval, cycle),
        "decision": decision,
        "comment": comment,
        "overrides": [_override_entry(rec, fen, reason) for rec, fen, reason in planned],
        "returned_projects": returned_projects,
    }
    if entered_by:
        payload.update(entered_by=entered_by, on_behalf_of=by)
    audit.append(session, entered_by or by, "approval.decided", audit.approval_subject(approval), payload)
    if decision == "return" and approval.gate == "targets":
        from perfcycle.collecting import reopen_returned_targets

        reopen_returned_targets(session, cycle)  # the department owes a new version now: its reminders start
    if decision == "approve" and policy.level(approval.gate, approval.level + 1) is not None:
        following = session.exec(
            select(Approval).where(
                Approval.cycle_id == approval.cycle_id,
                Approval.gate == approval.gate,
                Approval.subject == approval.subject,
                Approval.level == approval.level + 1,
            )
        ).first()
        if following is None:
            open_gate(session, cycle, approval.gate, approval.subject, approval.level + 1, approval.data_digest)
    session.flush()
    return approval


def _return_targets(session: Session, cycle: Cycle, approval: Approval) -> list[str]:
    """退回修改: the department's target reviews go back to "returned" with the coordinator's comment."""
    if approval.gate != "targets":
        return []
    department = session.exec(select(Department).where(Department.code == approval.subject)).first()
    if department is None:
        return []
    codes = []
    rows = session.exec(
        select(TargetReview, Project)
        .join(Project, col(Project.id) == TargetReview.project_id)
        .where(TargetReview.cycle_id == cycle.id, Project.department_id == department.id)
        .order_by(col(Project.code))
    )
    for review, project in rows:
        if review.status in ("submitted", "approved"):
            review.status = "returned"
            review.reasons = approval.comment
            review.reviewed_at = now()
            session.add(review)
            codes.append(project.code)
    return codes

"""Reminders: what each department and approver owes, sent once per step over each of their channels.

Everything owed is an `Obligation` (who owes what by when, and whether it arrived). Each source in
`OBLIGATION_SOURCES` reads some of them from the records: red-light warning notices waiting for their
response, gates waiting for their approvers, and the forms of open collection windows each department
still owes (`perfcycle.collecting`). Another source plugs in the same way: append a function
`(session, today) -> Iterable[Obligation]`.

For each obligation `perfcycle.rules.reminders.reminder_steps` says which steps fall on the day; each step
becomes a message from a template in report_templates/ (the first line is the subject), and
`perfcycle.notify.dispatch` sends it at most once, retries and records it.

"Remind now" on the workbench (`remind_now`) sends the same messages at once: a reminder sent now is the
day's own step (`perfcycle.rules.reminders.reminder_now`) and shares its dedup key with that day's scheduled
reminder, so nobody is reminded of the same thing twice in a day, however often the button is pressed. Only
the bureau's coordinators may send them; a refusal is audited. The flows' task (`tasks.reminders`) and a
plain scheduler both call `run_reminders`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from models import Approval, Cycle, Department, Publication, WarningNotice, session_scope
from perfcycle import audit
from perfcycle.approvals import GATE_NAMES, approvals_policy, gate_label, in_shanghai, may_decide
from perfcycle.collecting import STAGE_FORMS, WindowError, coordinators, find_window, get_cycle_for, window_title
from perfcycle.collecting import today as bureau_today
from perfcycle.cycle_context import cycle_policy
from perfcycle.documents.renderer import render_text
from perfcycle.notify import Delivery, Message, Notifier, Recipient, dispatch, make_notifier
from perfcycle.policy import RemindersPolicy, default_issuer
from perfcycle.rules.reminders import DUE, ESCALATION, OVERDUE, reminder_now, reminder_steps, step_kind, step_offset
from perfcycle.stages import QUARTER_NAMES

TEMPLATES = {OVERDUE: "reminder_overdue.txt.j2", ESCALATION: "escalation.txt.j2"}


@dataclass(frozen=True)
class Obligation:
    """Something owed by a deadline: who is reminded, who hears of it when it is late, and how it reads."""

    item: str  # stable key of what is owed, part of the dedup key, e.g. "warning:2024:Q1:101"
    title: str  # what is owed, in the bureau's words
    deadline: date
    submitted: bool
    recipients: tuple[Recipient, ...]
    rules: RemindersPolicy
    district: str = ""
    issuer: str = ""  # 发文机关 signing the message; the district's 财政局 when empty
    template: str = "reminder_due.txt.j2"  # the message before and on the deadline
    action: str = "报送"  # 报送 (a department submits) or 办理 (an approver decides)
    department: str = ""
    owner: str = ""  # who owes it, named in an escalation
    escalate_to: Recipient | None = None
    detail: str = ""
    opened_on: date | None = None  # owed since that day (targets sent back): announced that day too
    year: int | None = None  # the cycle year it belongs to, and the form's stage and the department's code
    stage: str = ""  # when it is a form of a collection window (what "remind now" picks it by)
    department_code: str = ""


ObligationSource = Callable[[Session, date], Iterable[Obligation]]


class ReminderContext(BaseModel):
    """What the reminder templates read."""

    district: str
    issuer: str
    recipient: str
    department: str
    owner: str
    title: str
    action: str
    deadline: str
    today: str
    days_left: int
    days_overdue: int
    escalates: bool
    escalate_after_days: int
    detail: str


def cn_date(day: date) -> str:
    """A date as messages write it: 2024年4月10日."""
    return f"{day.year}年{day.month}月{day.day}日"


def _rules(cycle: Cycle) -> RemindersPolicy:
    return cycle_policy(cycle).reminders


def issuer_of(cycle: Cycle) -> str:
    """The 发文机关 that signs the cycle's messages."""
    return cycle_policy(cycle).issuer


def _open_cycles(session: Session) -> list[Cycle]:
    return list(session.exec(select(Cycle).where(Cycle.status == "open").order_by(col(Cycle.year))))


def owed_by_department(cycle: Cycle, department: Department, rules: RemindersPolicy, **owed: Any) -> Obligation:
    """Something a department owes (`owed`: item, title, deadline …): its contact is reminded, its head hears of
    it once it is late."""
    head = department.head or f"{department.name}负责人"
    return Obligation(
        recipients=(Recipient(department.contact or department.name, department.email, department.webhook),),
        rules=rules,
        district=cycle.district,
        issuer=issuer_of(cycle),
        department=department.name,
        department_code=department.code,
        year=cycle.year,
        owner=department.contact,
        escalate_to=Recipient(head, department.head_email),
        **owed,
    )


def warning_responses(session: Session, today: date) -> Iterator[Obligation]:
    """预警通知书 (red): the department's written response (原因分析 + 整改措施) by its response date."""
    for cycle in _open_cycles(session):
        rules = _rules(cycle)
        notices = session.exec(
            select(WarningNotice, Department)
            .join(Department, col(Department.id) == WarningNotice.department_id)
            .where(
                WarningNotice.cycle_id == cycle.id,
                WarningNotice.level == "red",
                col(WarningNotice.response_due).is_not(None),
            )
            .order_by(col(WarningNotice.quarter), col(Department.code))
        )
        for notice, department in notices:
            assert notice.response_due is not None
            quarter = QUARTER_NAMES.get(notice.quarter, notice.quarter)
            yield owed_by_department(
                cycle,
                department,
                rules,
                item=f"warning:{cycle.year}:{notice.quarter}:{department.code}",
                title=f"{cycle.year}年{quarter}绩效监控预警整改情况",
                deadline=notice.response_due,
                submitted=notice.responded_on is not None,
                template="warning_response.txt.j2",
            )


def waiting_approvals(session: Session, today: date) -> Iterator[Obligation]:
    """Gates waiting for a decision, one reminder per approver for all gates of one kind, level and deadline.

    The 54 departments' target gates open together: a coordinator gets one message listing them, not 54.
    """
    for cycle in _open_cycles(session):
        contacts = approvals_policy(cycle).contacts
        gates = session.exec(
            select(Approval)
            .where(Approval.cycle_id == cycle.id, Approval.status == "open", col(Approval.due_at).is_not(None))
            .order_by(col(Approval.id))
        )
        waiting: dict[tuple[str, str, int, date], list[Approval]] = defaultdict(list)
        for approval in gates:
            assert approval.due_at is not None
            due = in_shanghai(approval.due_at).date()
            for name in may_decide(session, approval, cycle):
                waiting[(name, approval.gate, approval.level, due)].append(approval)
        for (name, gate, level, due), approvals in waiting.items():
            contact = contacts.get(name)
            first = approvals[0]
            ids = "、".join(str(a.id) for a in approvals)
            if len(approvals) == 1:
                title = gate_label(first, cycle.year)
            else:
                subjects = "、".join(a.subject for a in approvals)
                title = f"{cycle.year}年度{GATE_NAMES.get(gate, gate)}第{level}级审批（{len(approvals)}项：{subjects}）"
            yield Obligation(
                item=f"approvals:{cycle.year}:{gate}:{level}",
                title=title,
                deadline=due,
                submitted=False,
                recipients=(Recipient(name, contact.email if contact else "", contact.webhook if contact else ""),),
                rules=_rules(cycle),
                district=cycle.district,
                issuer=issuer_of(cycle),
                template="approval_waiting.txt.j2",
                action="办理",
                detail=(
                    f"审批编号 {ids}。可在命令行办理：perfcycle approve 编号 --by 姓名 [--comment 意见]；"
                    f"不予通过或退回修改用 perfcycle reject / perfcycle return 并写明意见；"
                    f"perfcycle approvals 列出全部待审批事项。"
                ),
            )


def open_windows(session: Session, today: date) -> Iterator[Obligation]:
    """Forms of an open collection window that a department still owes (never those already received)."""
    from perfcycle.collecting import pending_entries, window_title

    for cycle in _open_cycles(session):
        rules = _rules(cycle)
        for window, entry, department in pending_entries(session, cycle):
            title = window_title(cycle.year, window)
            stage = "monitoring" if window.quarter else window.stage
            quarter = f" --quarter {window.quarter}" if window.quarter else ""
            resubmit = entry.status == "returned"
            yield owed_by_department(
                cycle,
                department,
                rules,
                item=(
                    f"window:{cycle.year}:{window.stage}:{department.code}"
                    + (f":returned:{entry.returned_on}" if resubmit else "")
                ),
                title=f"{title}（退回修改后重新报送）" if resubmit else title,
                deadline=entry.due_on,
                submitted=False,
                template="submission_due.txt.j2",
                stage=window.stage,
                opened_on=entry.returned_on if resubmit else None,
                detail=(
                    f"报送方式：perfcycle submit --year {cycle.year} --stage {stage}{quarter} "
                    f"--department {department.code} 文件.xlsx（格式见 perfcycle template {window.form}）。"
                ),
            )


def _cycles_with_loops(session: Session) -> list[Cycle]:
    """Cycles whose findings and publications are still followed: open ones and those closed since."""
    return list(session.exec(select(Cycle).where(Cycle.status != "historical").order_by(col(Cycle.year))))


def open_findings(session: Session, today: date) -> Iterator[Obligation]:
    """Findings a department has not answered yet (问题整改), one reminder per department and deadline listing them;
    red lights are reminded as 预警整改 responses (`warning_responses`)."""
    from perfcycle.findings import list_findings
    from perfcycle.rules.findings import OPEN, OVERDUE

    for cycle in _cycles_with_loops(session):
        rules = _rules(cycle)
        departments = {d.code: d for d in session.exec(select(Department))}
        owed: dict[tuple[str, date], list[Any]] = defaultdict(list)
        for row in list_findings(session, cycle.year, on=today):
            if row.source != "red_light" and row.state in (OPEN, OVERDUE) and row.department_code in departments:
                owed[(row.department_code, row.due_on)].append(row)
        for (code, due), rows in owed.items():
            ids = "、".join(str(r.id) for r in rows)
            listed = "\n".join(f"{r.id}. {r.source_label}：{r.subject}——{r.text}" for r in rows)
            yield owed_by_department(
                cycle,
                departments[code],
                rules,
                item=f"findings:{cycle.year}:{code}:{due.isoformat()}",
                title=f"{cycle.year}年度问题整改情况（{len(rows)}项，编号 {ids}）",
                deadline=due,
                submitted=False,
                detail=(
                    f"须整改的问题：\n{listed}\n"
                    f"反馈整改措施：perfcycle findings answer 编号 --measures 整改措施 --by 姓名；"
                    f"perfcycle findings --year {cycle.year} --department {code} 列出本部门的整改事项。"
                ),
            )


def due_publications(session: Session, today: date) -> Iterator[Obligation]:
    """Self-evaluation reports not yet published (谁评价、谁公开), by each department's own deadline; a report is
    accepted after the cycle closed, so its reminders go on too."""
    for cycle in _cycles_with_loops(session):
        rules = _rules(cycle)
        publications = session.exec(
            select(Publication, Department)
            .join(Department, col(Department.id) == Publication.department_id)
            .where(
                Publication.cycle_id == cycle.id,
                col(Publication.due_on).is_not(None),
                col(Publication.published_on).is_(None),
            )
            .order_by(col(Department.code))
        )
        for publication, department in publications:
            assert publication.due_on is not None
            yield owed_by_department(
                cycle,
                department,
                rules,
                item=f"publication:{cycle.year}:{department.code}",
                title=f"{cycle.year}年度绩效自评报告公开情况",
                deadline=publication.due_on,
                submitted=False,
                detail=(
                    "请向社会公开本部门绩效自评报告，并报送公开日期和网址：perfcycle disclose "
                    f"--year {cycle.year} --department {department.code} --date YYYY-MM-DD --url 公开网址。"
                ),
            )


OBLIGATION_SOURCES: list[ObligationSource] = [
    warning_responses,
    waiting_approvals,
    open_windows,
    open_findings,
    due_publications,
]


def collect_obligations(
    session: Session, today: date, sources: Iterable[ObligationSource] | None = None
) -> list[Obligation]:
    return [o for source in (OBLIGATION_SOURCES if sources is None else sources) for o in source(session, today)]


def split_message(text: str) -> tuple[str, str]:
    """A rendered template: the first non-blank line is the subject, the rest the body."""
    lines = text.strip().splitlines()
    return lines[0].strip(), "\n".join(lines[1:]).strip() + "\n"


def compose(obligation: Obligation, step: str, today: date) -> list[tuple[Recipient, str, str]]:
    """The (recipient, subject, body) of one step: escalations go to the head, the rest to the recipients."""
    kind = step_kind(step)
    if kind == ESCALATION:
        if obligation.escalate_to is None:
            return []
        recipients: tuple[Recipient, ...] = (obligation.escalate_to,)
    else:
        recipients = obligation.recipients
    template = obligation.template if kind == DUE else TEMPLATES[kind]
    offset = step_offset(step)
    composed = []
    for recipient in recipients:
        context = ReminderContext(
            district=obligation.district,
            issuer=obligation.issuer or default_issuer(obligation.district),
            recipient=recipient.name,
            department=obligation.department,
            owner=obligation.owner,
            title=obligation.title,
            action=obligation.action,
            deadline=cn_date(obligation.deadline),
            today=cn_date(today),
            days_left=max(0, -offset),
            days_overdue=max(0, offset),
            escalates=obligation.escalate_to is not None,
            escalate_after_days=obligation.rules.escalate_after_days,
            detail=obligation.detail,
        )
        subject, body = split_message(render_text(template, context))
        composed.append((recipient, subject, body))
    return composed


def plan_messages(
    obligations: Iterable[Obligation], today: date, notifier: Notifier, *, now: bool = False
) -> list[Message]:
    """Every message the day implies, one per recipient and channel; `now`: the reminders the coordinator
    sends at once (`reminder_now`), one per obligation, under the dedup key of the day's own step."""
    messages = []
    for obligation in obligations:
        if now:
            step_now = reminder_now(today, obligation.deadline, obligation.submitted)
            steps = [step_now] if step_now else []
        else:
            steps = reminder_steps(
                today, obligation.deadline, obligation.submitted, obligation.rules, obligation.opened_on
            )
        for step in steps:
            for recipient, subject, body in compose(obligation, step, today):
                for channel, address in notifier.routes(recipient):
                    messages.append(
                        notifier.message(
                            recipient,
                            channel,
                            address,
                            subject,
                            body,
                            item=obligation.item,
                            step=step,
                            deadline=obligation.deadline,
                        )
                    )
    return messages


@dataclass
class ReminderRun:
    today: date
    destination: str = ""
    obligations: int = 0
    deliveries: list[Delivery] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        counts = Counter(d.status for d in self.deliveries)
        return {
            "today": self.today.isoformat(),
            "destination": self.destination,
            "obligations": self.obligations,
            "messages": len(self.deliveries),
            "sent": counts["sent"],
            "skipped": counts["skipped"],
            "failed": counts["failed"],
            "unknown": counts["unknown"],
            "failures": [
                {
                    "收件人": d.message.recipient,
                    "渠道": d.message.channel,
                    "地址": d.message.public_address,
                    "主题": d.message.subject,
                    "尝试次数": d.attempts,
                    "结果": "结果未知（不再重发）" if d.status == "unknown" else "未送达",
                    "错误": d.error,
                }
                for d in self.deliveries
                if d.status in ("failed", "unknown")
            ],
        }


def run_reminders(
    today: date, notifier: Notifier | None = None, sources: Iterable[ObligationSource] | None = None
) -> dict[str, Any]:
    """Send what `today` implies (no Prefect needed: the flow and a plain scheduler both call this)."""
    notifier = notifier or make_notifier()
    run = ReminderRun(today, notifier.destination())
    with session_scope() as session:
        obligations = collect_obligations(session, today, sources)
        run.obligations = len(obligations)
        for message in plan_messages(obligations, today, notifier):
            run.deliveries.append(dispatch(session, notifier, message))
    return run.summary()


@dataclass(frozen=True)
class RemindedNow:
    """What pressing "remind now" did: who was reminded of what, and what had gone out today already."""

    what: str
    departments: int
    sent: int
    already: int  # reminded of it today already: not sent again
    failed: int


def remind_now(
    session: Session,
    year: int,
    *,
    by: str,
    stage: str | None = None,
    department_code: str | None = None,
    notifier: Notifier | None = None,
    on: date | None = None,
) -> RemindedNow:
    """Remind now every department that still owes a form of the `stage` window (or everything the department
    of `department_code` owes in open windows); audited under `by`, who must be a coordinator."""
    by = " ".join((by or "").split())
    cycle = get_cycle_for(session, year)
    assert cycle.id is not None
    allowed = coordinators(cycle)
    subject = f"reminders:{year}:{stage or '*'}:{department_code or '*'}"
    window = find_window(session, cycle.id, stage) if stage in STAGE_FORMS else None
    department = (
        session.exec(select(Department).where(Department.code == department_code)).first() if department_code else None
    )
    reason = ""
    if not by:
        reason = "必须写明操作人"
    elif by.casefold() not in {n.casefold() for n in allowed}:
        reason = f"{by} 不是财政局绩效科的审批人，不能发送催报提醒（可操作：{'、'.join(allowed) or '策略未指定'}）"
    elif cycle.status != "open":
        reason = f"{year} 年度周期已结束，不再催报"
    elif stage is not None and (window is None or window.status != "open"):
        reason = "这项收集没有在进行中，无需催报"
    elif department_code is not None and department is None:
        reason = f"没有编码为 {department_code} 的部门"
    if reason:
        audit.append(session, by or "(未署名)", "reminders.refused", subject, {"year": year, "reason": reason})
        session.commit()
        raise WindowError(reason)

    day = on or bureau_today()
    owed = [
        o
        for o in open_windows(session, day)
        if o.year == year
        and (stage is None or o.stage == stage)
        and (department_code is None or o.department_code == department_code)
    ]
    notifier = notifier or make_notifier()
    deliveries = [dispatch(session, notifier, m) for m in plan_messages(owed, day, notifier, now=True)]
    counts = Counter(d.status for d in deliveries)
    if window is not None:
        what = window_title(year, window)
    elif department is not None:
        what = f"{department.name}（{department.code}）尚欠的填报表"
    else:
        what = f"{year} 年度尚欠的填报表"
    reminded = RemindedNow(
        what=what,
        departments=len({o.department_code for o in owed}),
        sent=counts["sent"],
        already=counts["skipped"] + counts["unknown"],
        failed=counts["failed"],
    )
    audit.append(
        session,
        by,
        "reminders.sent_now",
        subject,
        {
            "year": year,
            "stage": stage,
            "department": department_code,
            "on": day,
            "departments": reminded.departments,
            "sent": reminded.sent,
            "already": reminded.already,
            "failed": reminded.failed,
        },
    )
    session.flush()
    return reminded

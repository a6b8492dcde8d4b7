"""Reminders the coordinator sends at once ("remind now" on the workbench): the forms of an open collection
window that departments still owe, or everything one department still owes, through the same messages,
notifier and dedup keys as the daily reminders (`tasks.reminders`).

A reminder sent now is the day's own step (`perfcycle.rules.reminders.reminder_now`): it shares its dedup key
with that day's scheduled reminder, so nobody is reminded of the same thing twice in a day, however often
the button is pressed. Only the bureau's coordinators may send them; a refusal is audited.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from models import Department
from perfcycle import audit
from perfcycle.notify import Notifier, dispatch, make_notifier
from perfcycle.windows import (
    STAGE_FORMS,
    WindowError,
    coordinators,
    find_window,
    get_cycle_for,
    today,
    window_title,
)


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
    from tasks.reminders import open_windows, plan_messages

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

    day = on or today()
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

"""Which reminders a deadline implies on a given day: T−n before it, on the day, overdue daily, escalation.

A step is a text such as ``due:T-3``, ``due:T``, ``overdue:T+2`` or ``escalation:T+3``: its kind chooses the
message template and the recipient (escalations go to the department head), and the offset makes the
dedup key of each day's reminder distinct.
"""

from __future__ import annotations

from datetime import date

from perfcycle.policy import RemindersPolicy

DUE = "due"
OVERDUE = "overdue"
ESCALATION = "escalation"


def reminder_steps(
    today: date, deadline: date, submitted: bool, policy: RemindersPolicy, opened_on: date | None = None
) -> list[str]:
    """The steps due today for something owed by `deadline`; nothing once it has been submitted.

    Something owed from `opened_on` (targets sent back on that day) is announced that very day as well.
    """
    if submitted:
        return []
    offset = (today - deadline).days
    opens = opened_on is not None and today == opened_on
    if offset < 0:
        return [f"{DUE}:T{offset}"] if -offset in policy.before_days or opens else []
    if offset == 0:
        return [f"{DUE}:T"] if policy.on_the_day or opens else []
    steps = [f"{OVERDUE}:T+{offset}"] if policy.overdue_daily else []
    since = offset - policy.escalate_after_days
    if since >= 0 and since % policy.escalation_every_days == 0:
        steps.append(f"{ESCALATION}:T+{offset}")
    return steps


def reminder_now(today: date, deadline: date, submitted: bool) -> str | None:
    """The step a reminder sent at once by the coordinator is: the day's own step (``due:T-5``, ``due:T``,
    ``overdue:T+2``), so it shares its dedup key with that day's scheduled reminder and goes once a day at most;
    None once the thing has been submitted. It never escalates: escalation follows the policy's calendar."""
    if submitted:
        return None
    offset = (today - deadline).days
    if offset < 0:
        return f"{DUE}:T{offset}"
    if offset == 0:
        return f"{DUE}:T"
    return f"{OVERDUE}:T+{offset}"


def step_kind(step: str) -> str:
    """``overdue:T+2`` → ``overdue``."""
    return step.split(":", 1)[0]


def step_offset(step: str) -> int:
    """``due:T-3`` → −3, ``due:T`` → 0, ``overdue:T+2`` → 2."""
    mark = step.split(":", 1)[1] if ":" in step else step
    return int(mark[1:] or 0)

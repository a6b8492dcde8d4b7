"""Collection windows: when a department's form is due, whether it came in time, and when a window closes.

A window collects one form (绩效目标申报表, a quarter's 监控表, 绩效自评表) from every department that owes
it. Each department's entry is `pending` until something arrives, then `received` (on time) or `late`;
at closing, whatever is still pending is `missing`. A department whose targets the coordinator sent back
(退回修改) is `returned` and owes a new version by its own resubmission deadline. A form that came in but
could not be imported (refused, with its problems) leaves the department owing it, as if nothing had come.

Deadlines are whole days in Asia/Shanghai: something that arrives on the due day is on time, the next day
it is late. A window opened after its own deadline (a past year run after the fact) takes what arrives on
its opening day as on time: the records are being entered then, not sent late.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

PENDING = "pending"
RECEIVED = "received"
LATE = "late"
MISSING = "missing"
RETURNED = "returned"
OUTSTANDING = (PENDING, RETURNED)
ARRIVED = (RECEIVED, LATE)

CELL_LABELS = {RECEIVED: "已提交", LATE: "逾期提交", MISSING: "未提交", RETURNED: "退回修改"}
NOT_OPEN = "—"

_DEADLINE = re.compile(r"^(?:(?P<next>next) )?(?P<month>\d{2})-(?P<day>\d{2})$")


def parse_deadline(text: str) -> tuple[int, int, int]:
    """ "MM-DD" → (0, month, day) in the cycle year; "next MM-DD" → (1, month, day) in the year after.

    February 29 is refused: it would not exist in most cycle years.
    """
    match = _DEADLINE.match(str(text).strip())
    if match is None:
        raise ValueError(f"deadline {text!r} must be 'MM-DD' (cycle year) or 'next MM-DD' (the year after)")
    month, day = int(match["month"]), int(match["day"])
    if (month, day) == (2, 29):
        raise ValueError(f"deadline {text!r}: 02-29 does not exist every year; use 02-28 or 03-01")
    try:
        date(2001, month, day)
    except ValueError:
        raise ValueError(f"deadline {text!r} is not a day of the year") from None
    return (1 if match["next"] else 0), month, day


def deadline_on(text: str, cycle_year: int) -> date:
    """The calendar day a deadline of the policy falls on for `cycle_year`."""
    offset, month, day = parse_deadline(text)
    return date(cycle_year + offset, month, day)


def resubmission_due(returned_on: date, days: int) -> date:
    """退回修改 on day R gives the department until R + days (inclusive) to send its targets again."""
    if days < 1:
        raise ValueError("resubmission days must be at least 1")
    return returned_on + timedelta(days=days)


def arrival_status(received_on: date, due_on: date, opened_on: date) -> str:
    """On time up to and including the due day, or the window's opening day when it opened after that."""
    return RECEIVED if received_on <= max(due_on, opened_on) else LATE


def deadline_passed(today: date, due_on: date) -> bool:
    """The due day itself is still open; the day after it, the deadline has passed."""
    return today > due_on


def status_after_deadline(status: str, today: date, due_on: date) -> str:
    """An entry still owed once its deadline has passed becomes missing; anything else stays as it is."""
    if status in OUTSTANDING and deadline_passed(today, due_on):
        return MISSING
    return status


@dataclass(frozen=True)
class EntryState:
    """One department's place in a window, as the closing rule needs it."""

    department: str
    status: str
    due_on: date


def should_close(entries: Iterable[EntryState], today: date) -> bool:
    """A window closes when nobody owes anything any more: all arrived, or every deadline still owed passed."""
    return all(e.status not in OUTSTANDING or deadline_passed(today, e.due_on) for e in entries)


def cell_label(status: str | None, due_on: date | None, refused: bool = False) -> str:
    """The text of one department × form cell of the status matrix; `refused` when the form that last came in
    could not be imported."""
    if status is None:
        return NOT_OPEN
    if refused and status in OUTSTANDING:
        return f"被拒收，待重报（截止 {due_on:%m-%d}）" if due_on else "被拒收，待重报"
    if refused and status == MISSING:
        return "未提交（报送被拒收）"
    if status == PENDING:
        return f"待提交（截止 {due_on:%m-%d}）" if due_on else "待提交"
    if status == RETURNED and due_on is not None:
        return f"退回修改（截止 {due_on:%m-%d}）"
    return CELL_LABELS.get(status, status)


def response_status(due_on: date | None, responded_on: date | None, today: date) -> str | None:
    """A red-light notice's response: received on time, late, still pending, or missing once overdue.

    None when no response is owed (a yellow 提醒 has no response date).
    """
    if due_on is None:
        return None
    if responded_on is not None:
        return RECEIVED if responded_on <= due_on else LATE
    return MISSING if deadline_passed(today, due_on) else PENDING

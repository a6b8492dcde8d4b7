"""When a document the bureau issues is dated (成文日期): the day its records give it, else the day it is first
written, but never later than its day in the year's calendar.

A year run as it happens dates each document the day it is issued; a year run after the fact (the records of a
past year entered at once, the demo) dates it as its calendar has it, so the same records give the same dates
whatever day they are written on.
"""

from __future__ import annotations

from datetime import date


def issue_day(recorded: date | None, written_on: date, calendar_day: date | None) -> date:
    """The 成文日期: `recorded` (the event that issues it) or `written_on`, capped at `calendar_day` when there is one."""
    day = recorded or written_on
    return day if calendar_day is None else min(day, calendar_day)

"""Disclosure (谁评价、谁公开): whether a publication came in time, and what a year's publications come to.

A publication is due on its own deadline; published on or before it is on time, after it late. One not yet
published is pending until its deadline has passed, and overdue after: a department is never late before
its deadline. On a given day, a publication made after it is not made yet (a document states the states as of
its own date).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

ON_TIME, LATE, PENDING, OVERDUE = "on_time", "late", "pending", "overdue"
STATE_LABELS = {ON_TIME: "按期公开", LATE: "逾期公开", PENDING: "待公开", OVERDUE: "未公开"}


def publication_state(due_on: date | None, published_on: date | None, today: date) -> str:
    """On time, late, pending (not yet published, not yet due) or overdue (not published, deadline passed), on
    `today`: a publication after `today` is not yet made."""
    if published_on is not None and published_on <= today:
        return LATE if due_on is not None and published_on > due_on else ON_TIME
    return OVERDUE if due_on is not None and today > due_on else PENDING


def is_late(state: str) -> bool:
    """Published after the deadline, or still not published once it has passed."""
    return state in (LATE, OVERDUE)


def disclosure_counts(states: Iterable[str]) -> dict[str, int]:
    """published (on time), late (published late or overdue) and pending, as the summary states them."""
    counted = Counter(states)
    return {
        "published": counted[ON_TIME],
        "late": counted[LATE] + counted[OVERDUE],
        "pending": counted[PENDING],
    }


PUBLISHED_ON_TIME, PUBLISHED_LATE, NOT_PUBLISHED = STATE_LABELS[ON_TIME], STATE_LABELS[LATE], "未公开"

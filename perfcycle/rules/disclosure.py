"""Disclosure (谁评价、谁公开): how a department's publication of its self-evaluation report stands."""

from __future__ import annotations

from datetime import date

PUBLISHED_ON_TIME = "按期公开"
PUBLISHED_LATE = "逾期公开"
NOT_PUBLISHED = "未公开"


def publication_status(published_on: date | None, due_on: date | None) -> str:
    """按期公开 on or before the deadline (or with none), 逾期公开 after it, 未公开 while not published."""
    if published_on is None:
        return NOT_PUBLISHED
    if due_on is not None and published_on > due_on:
        return PUBLISHED_LATE
    return PUBLISHED_ON_TIME

"""Disclosure: a publication's state on each side of its deadline, and what a year's publications come to."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from perfcycle.policy import DisclosurePolicy, load_policy
from perfcycle.rules.disclosure import disclosure_counts, is_late, publication_state

DUE = date(2025, 6, 30)


@pytest.mark.parametrize(
    ("published", "today", "state"),
    [
        (DUE - timedelta(days=1), DUE, "on_time"),
        (DUE, DUE + timedelta(days=9), "on_time"),  # the due day itself is on time
        (DUE + timedelta(days=1), DUE + timedelta(days=1), "late"),
        (None, DUE - timedelta(days=40), "pending"),  # not yet published, not yet due: not late
        (None, DUE, "pending"),
        (None, DUE + timedelta(days=1), "overdue"),
        (DUE - timedelta(days=1), DUE - timedelta(days=2), "pending"),  # published after the day: not yet then
        (DUE + timedelta(days=5), DUE + timedelta(days=2), "overdue"),
    ],
)
def test_state_on_each_side_of_the_deadline(published: date | None, today: date, state: str) -> None:
    assert publication_state(DUE, published, today) == state
    assert is_late(state) == (state in ("late", "overdue"))


def test_without_a_deadline_nothing_is_late() -> None:
    assert publication_state(None, None, date(2030, 1, 1)) == "pending"
    assert publication_state(None, DUE, date(2030, 1, 1)) == "on_time"


def test_counts() -> None:
    states = ["on_time", "on_time", "late", "overdue", "pending"]
    assert disclosure_counts(states) == {"published": 2, "late": 2, "pending": 1}
    assert disclosure_counts([]) == {"published": 0, "late": 0, "pending": 0}


def test_the_deadline_goes_with_the_final_accounts_else_the_policy_day() -> None:
    policy = load_policy(2024).disclosure
    assert policy == DisclosurePolicy()  # the specification's defaults: 随同决算 20 days, else 06-30
    assert policy.due_date(2024) == date(2025, 6, 30)
    assert policy.due_date(2024, date(2025, 5, 12)) == date(2025, 6, 1)
    assert DisclosurePolicy(publish_by="05-31", with_final_accounts_days=0).due_date(2024, DUE) == DUE

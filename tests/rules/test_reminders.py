"""Which reminders a deadline implies on each day around it, at every boundary of the policy."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from perfcycle.policy import RemindersPolicy, load_policy
from perfcycle.rules.reminders import reminder_now, reminder_steps, step_kind, step_offset

DEADLINE = date(2024, 5, 10)


@pytest.fixture(scope="module")
def rules() -> RemindersPolicy:
    return load_policy(2024).reminders


def on(offset: int, rules: RemindersPolicy, submitted: bool = False) -> list[str]:
    return reminder_steps(DEADLINE + timedelta(days=offset), DEADLINE, submitted, rules)


def test_the_policy_holds_the_specification_defaults(rules: RemindersPolicy) -> None:
    assert rules.before_days == [3, 1]
    assert (rules.on_the_day, rules.overdue_daily, rules.escalate_after_days) == (True, True, 3)
    assert rules == RemindersPolicy()  # a policy without the section gets the same


@pytest.mark.parametrize(
    ("offset", "steps"),
    [
        (-10, []),
        (-4, []),
        (-3, ["due:T-3"]),
        (-2, []),
        (-1, ["due:T-1"]),
        (0, ["due:T"]),
        (1, ["overdue:T+1"]),
        (2, ["overdue:T+2"]),
        (3, ["overdue:T+3", "escalation:T+3"]),
        (4, ["overdue:T+4", "escalation:T+4"]),
        (30, ["overdue:T+30", "escalation:T+30"]),
    ],
)
def test_steps_around_the_deadline(rules: RemindersPolicy, offset: int, steps: list[str]) -> None:
    assert on(offset, rules) == steps


@pytest.mark.parametrize("offset", [-3, -1, 0, 1, 3, 10])
def test_nothing_once_submitted(rules: RemindersPolicy, offset: int) -> None:
    assert on(offset, rules, submitted=True) == []


def test_offsets_come_from_the_policy() -> None:
    rules = RemindersPolicy(
        before_days=[7, 2], on_the_day=False, overdue_daily=False, escalate_after_days=5, escalation_every_days=7
    )
    days = {offset: on(offset, rules) for offset in range(-8, 20)}
    assert {o: s for o, s in days.items() if s} == {
        -7: ["due:T-7"],
        -2: ["due:T-2"],
        5: ["escalation:T+5"],
        12: ["escalation:T+12"],
        19: ["escalation:T+19"],
    }


def test_escalation_starts_exactly_on_its_day() -> None:
    rules = RemindersPolicy(escalate_after_days=1)
    assert on(0, rules) == ["due:T"]
    assert on(1, rules) == ["overdue:T+1", "escalation:T+1"]


def test_step_parts() -> None:
    assert [step_kind(s) for s in ("due:T-3", "due:T", "overdue:T+2", "escalation:T+3")] == [
        "due",
        "due",
        "overdue",
        "escalation",
    ]
    assert [step_offset(s) for s in ("due:T-3", "due:T", "overdue:T+2", "escalation:T+3")] == [-3, 0, 2, 3]


def test_a_broken_reminders_section_is_refused() -> None:
    with pytest.raises(ValueError, match="before_days"):
        RemindersPolicy(before_days=[0])


@pytest.mark.parametrize(
    ("opened", "steps"),
    [
        (-5, ["due:T-5"]),  # sent back five days before its deadline: told that very day
        (-3, ["due:T-3"]),  # a day with its own step: that step, once
        (0, ["due:T"]),
    ],
)
def test_something_owed_from_a_day_is_announced_that_day(rules: RemindersPolicy, opened: int, steps: list[str]) -> None:
    day = DEADLINE + timedelta(days=opened)
    assert reminder_steps(day, DEADLINE, False, rules, opened_on=day) == steps
    assert reminder_steps(day + timedelta(days=1), DEADLINE, False, rules, opened_on=day) == on(opened + 1, rules)
    assert reminder_steps(day, DEADLINE, True, rules, opened_on=day) == []
    quiet = RemindersPolicy(before_days=[1], on_the_day=False)
    assert reminder_steps(day, DEADLINE, False, quiet, opened_on=day) == steps


@pytest.mark.parametrize(
    ("offset", "step"),
    [(-20, "due:T-20"), (-3, "due:T-3"), (-1, "due:T-1"), (0, "due:T"), (1, "overdue:T+1"), (9, "overdue:T+9")],
)
def test_a_reminder_sent_now_is_the_days_own_step(rules: RemindersPolicy, offset: int, step: str) -> None:
    """So it shares the dedup key of the day's scheduled reminder: once a day, whichever goes first."""
    deadline = date(2024, 1, 31)
    today = deadline + timedelta(days=offset)
    assert reminder_now(today, deadline, submitted=False) == step
    scheduled = reminder_steps(today, deadline, False, rules)
    assert not scheduled or scheduled[0] == step
    assert reminder_now(today, deadline, submitted=True) is None

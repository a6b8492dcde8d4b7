"""Deadlines of department forms and the state of a collection window, at every boundary."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from perfcycle.policy import CalendarPolicy, PolicyError, load_policy, load_policy_file
from perfcycle.rules.deadlines import (
    LATE,
    MISSING,
    PENDING,
    RECEIVED,
    RETURNED,
    EntryState,
    arrival_status,
    cell_label,
    deadline_on,
    deadline_passed,
    parse_deadline,
    response_status,
    resubmission_due,
    should_close,
    status_after_deadline,
)

POLICY_2024 = Path(__file__).parents[2] / "perfcycle" / "policies" / "2024.yaml"
DUE = date(2024, 1, 31)


def test_the_policy_calendar_of_2024() -> None:
    calendar = load_policy(2024).calendar
    assert calendar.deadline("targets", None, 2024) == date(2024, 1, 31)
    assert [calendar.deadline("monitoring", q, 2024) for q in ("Q1", "Q2", "Q3", "Q4")] == [
        date(2024, 4, 10),
        date(2024, 7, 10),
        date(2024, 10, 10),
        date(2025, 1, 10),
    ]
    assert calendar.deadline("self_evaluation", None, 2024) == date(2025, 3, 31)
    assert calendar.resubmission_days == 5
    assert load_policy(2024).monitoring.red_response_days == 10
    assert calendar == CalendarPolicy()  # a policy recorded before the calendar existed gets the same


def test_a_year_without_a_file_shifts_the_calendar() -> None:
    assert load_policy(2025).calendar.deadline("monitoring", "Q4", 2025) == date(2026, 1, 10)


@pytest.mark.parametrize(
    ("text", "parts"),
    [("01-31", (0, 1, 31)), ("next 03-31", (1, 3, 31)), ("12-31", (0, 12, 31)), (" 02-28 ", (0, 2, 28))],
)
def test_deadline_texts(text: str, parts: tuple[int, int, int]) -> None:
    assert parse_deadline(text) == parts


@pytest.mark.parametrize("text", ["1-31", "2024-01-31", "13-01", "04-31", "02-29", "next01-10", "later 01-10", ""])
def test_bad_deadline_texts_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="deadline"):
        parse_deadline(text)


def test_deadline_on_the_cycle_year_or_the_next() -> None:
    assert deadline_on("01-31", 2024) == date(2024, 1, 31)
    assert deadline_on("next 01-10", 2024) == date(2025, 1, 10)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('targets: "01-31"', 'targets: "31-01"', "calendar.targets"),
        ('Q1: "04-10"', 'Q1: "03-31"', "Q1 is due '03-31', not after the quarter ends"),
        ('Q4: "next 01-10"', 'Q4: "12-20"', "Q4"),
        ('self_evaluation: "next 03-31"', 'self_evaluation: "12-31"', "must fall in the next year"),
        ("resubmission_days: 5 ", "resubmission_days: 0 ", "calendar.resubmission_days"),
        ('Q1: "04-10", ', "", "exactly Q1, Q2, Q3, Q4"),
    ],
)
def test_a_broken_calendar_names_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = POLICY_2024.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "2024.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_policy_file(path)
    assert message in str(error.value)


def test_an_unknown_form_or_quarter_is_refused() -> None:
    with pytest.raises(PolicyError, match="Q5"):
        CalendarPolicy().deadline("monitoring", "Q5", 2024)
    with pytest.raises(PolicyError, match="未知的填报表"):
        CalendarPolicy().deadline("panel_scores", None, 2024)


@pytest.mark.parametrize(
    ("received", "status"),
    [(DUE - timedelta(days=10), RECEIVED), (DUE, RECEIVED), (DUE + timedelta(days=1), LATE)],
)
def test_arrival_on_the_due_day_is_on_time_the_day_after_is_late(received: date, status: str) -> None:
    assert arrival_status(received, DUE, opened_on=date(2024, 1, 2)) == status


def test_a_window_opened_after_its_deadline_takes_its_opening_day_as_on_time() -> None:
    opened = date(2026, 11, 27)
    assert arrival_status(opened, DUE, opened) == RECEIVED
    assert arrival_status(opened + timedelta(days=1), DUE, opened) == LATE


def test_the_deadline_passes_the_day_after_the_due_day() -> None:
    assert not deadline_passed(DUE - timedelta(days=1), DUE)
    assert not deadline_passed(DUE, DUE)
    assert deadline_passed(DUE + timedelta(days=1), DUE)


def test_resubmission_deadline_counts_from_the_return() -> None:
    assert resubmission_due(date(2024, 2, 27), 5) == date(2024, 3, 3)  # across a leap February
    assert resubmission_due(date(2024, 12, 30), 5) == date(2025, 1, 4)
    with pytest.raises(ValueError):
        resubmission_due(date(2024, 2, 1), 0)


@pytest.mark.parametrize(
    ("status", "day", "after"),
    [
        (PENDING, DUE, PENDING),
        (PENDING, DUE + timedelta(days=1), MISSING),
        (RETURNED, DUE, RETURNED),
        (RETURNED, DUE + timedelta(days=1), MISSING),
        (RECEIVED, DUE + timedelta(days=9), RECEIVED),
        (LATE, DUE + timedelta(days=9), LATE),
    ],
)
def test_what_is_still_owed_after_the_deadline_is_missing(status: str, day: date, after: str) -> None:
    assert status_after_deadline(status, day, DUE) == after


def test_a_window_closes_when_nothing_is_owed_any_more() -> None:
    later = DUE + timedelta(days=5)
    arrived = [EntryState("101", RECEIVED, DUE), EntryState("102", LATE, DUE)]
    assert should_close(arrived, DUE - timedelta(days=3))  # all in before the deadline
    waiting = [*arrived, EntryState("103", PENDING, DUE)]
    assert not should_close(waiting, DUE)
    assert should_close(waiting, DUE + timedelta(days=1))
    returned = [*arrived, EntryState("104", RETURNED, later)]
    assert not should_close(returned, DUE + timedelta(days=1))  # its own deadline is later
    assert not should_close(returned, later)
    assert should_close(returned, later + timedelta(days=1))
    assert should_close([], DUE)


def test_cell_labels() -> None:
    assert cell_label(None, None) == "—"
    assert cell_label(PENDING, date(2024, 4, 10)) == "待提交（截止 04-10）"
    assert cell_label(RECEIVED, DUE) == "已提交"
    assert cell_label(LATE, DUE) == "逾期提交"
    assert cell_label(MISSING, DUE) == "未提交"
    assert cell_label(RETURNED, date(2024, 3, 3)) == "退回修改（截止 03-03）"
    # the form that came in last was refused: still owed, or missing once the deadline passed
    assert cell_label(PENDING, date(2024, 4, 10), refused=True) == "被拒收，待重报（截止 04-10）"
    assert cell_label(RETURNED, date(2024, 3, 3), refused=True) == "被拒收，待重报（截止 03-03）"
    assert cell_label(MISSING, DUE, refused=True) == "未提交（报送被拒收）"
    assert cell_label(RECEIVED, DUE, refused=True) == "已提交"  # a later form came in and was imported


def test_red_light_response_status() -> None:
    due = date(2024, 4, 20)
    assert response_status(None, None, due) is None  # a yellow 提醒 owes nothing
    assert response_status(due, None, due) == PENDING
    assert response_status(due, None, due + timedelta(days=1)) == MISSING
    assert response_status(due, due, due + timedelta(days=30)) == RECEIVED
    assert response_status(due, due + timedelta(days=1), due + timedelta(days=30)) == LATE

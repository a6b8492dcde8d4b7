"""The 成文日期 of a document: its record's day or the day it is written, at the latest its calendar day."""

from datetime import date

from perfcycle.rules.issuing import issue_day

CALENDAR = date(2025, 7, 31)


def test_a_recorded_day_comes_first() -> None:
    assert issue_day(date(2025, 4, 1), date(2025, 5, 1), CALENDAR) == date(2025, 4, 1)


def test_without_a_record_the_day_it_is_written() -> None:
    assert issue_day(None, date(2025, 5, 1), CALENDAR) == date(2025, 5, 1)


def test_never_later_than_its_calendar_day() -> None:
    assert issue_day(None, date(2026, 12, 6), CALENDAR) == CALENDAR
    assert issue_day(date(2026, 12, 6), date(2026, 12, 6), CALENDAR) == CALENDAR
    assert issue_day(None, CALENDAR, CALENDAR) == CALENDAR


def test_a_kind_without_a_calendar_day_keeps_its_own() -> None:
    assert issue_day(None, date(2026, 12, 6), None) == date(2026, 12, 6)

"""问题整改: the status a finding had on a given day, from its status now and its last answer and verification."""

from __future__ import annotations

from datetime import date

import pytest

from perfcycle.rules.findings import ANSWERED, FIXED, OPEN, UNFIXED, status_on

ANSWERED_ON, VERIFIED_ON = date(2025, 4, 1), date(2025, 4, 10)


@pytest.mark.parametrize(
    ("status", "answered_on", "verified_on", "day", "expected"),
    [
        (OPEN, None, None, date(2025, 5, 1), OPEN),
        (ANSWERED, ANSWERED_ON, None, date(2025, 3, 31), OPEN),  # answered after the day
        (ANSWERED, ANSWERED_ON, None, ANSWERED_ON, ANSWERED),
        (FIXED, ANSWERED_ON, VERIFIED_ON, date(2025, 4, 9), ANSWERED),  # verified after the day
        (FIXED, ANSWERED_ON, VERIFIED_ON, date(2025, 3, 1), OPEN),
        (FIXED, ANSWERED_ON, VERIFIED_ON, VERIFIED_ON, FIXED),
        (UNFIXED, ANSWERED_ON, VERIFIED_ON, date(2025, 5, 1), UNFIXED),
        (ANSWERED, date(2025, 4, 20), VERIFIED_ON, date(2025, 4, 15), UNFIXED),  # answered again after 未整改
        (ANSWERED, date(2025, 4, 20), VERIFIED_ON, date(2025, 4, 20), ANSWERED),
    ],
)
def test_status_on_a_day(
    status: str, answered_on: date | None, verified_on: date | None, day: date, expected: str
) -> None:
    assert status_on(status, answered_on, verified_on, day) == expected

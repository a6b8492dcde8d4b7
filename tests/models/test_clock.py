"""The bureau's clock: Asia/Shanghai, with its date set by PERFCYCLE_TODAY for a rehearsal of a year."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models import now
from perfcycle.settings import get_settings


def test_the_clock_is_shanghai_time_and_today_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERFCYCLE_TODAY", raising=False)
    get_settings.cache_clear()
    moment = now()
    assert moment.utcoffset() == timedelta(hours=8)
    assert moment.tzinfo is not None and str(moment.tzinfo) == "Asia/Shanghai"


def test_perfcycle_today_moves_the_date_and_keeps_the_time_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFCYCLE_TODAY", "2024-01-31")
    get_settings.cache_clear()
    try:
        moment = now()
        assert moment.date() == date(2024, 1, 31)
        assert moment.utcoffset() == timedelta(hours=8)
    finally:
        get_settings.cache_clear()

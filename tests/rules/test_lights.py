"""Dual-monitoring lights at every threshold of the 2024 policy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from perfcycle.policy import MonitoringPolicy, load_policy
from perfcycle.rules.lights import (
    GREEN,
    LIGHT_LABELS,
    LIGHT_ORDER,
    RED,
    YELLOW,
    DepartmentLightResult,
    LightResult,
    ProjectQuarter,
    department_light,
    execution_light,
    execution_progress,
    improved,
    improved_overall,
    light_for_gap,
    notice_date,
    project_light,
    target_light,
    worse,
)

D = Decimal
WAN = 1_000_000


@pytest.fixture(scope="module")
def monitoring() -> MonitoringPolicy:
    return load_policy(2024).monitoring


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        ("-20", GREEN),
        ("0", GREEN),
        ("9.99", GREEN),
        ("10", YELLOW),
        ("10.00", YELLOW),
        ("20", YELLOW),
        ("30", YELLOW),
        ("30.00", YELLOW),
        ("30.01", RED),
        ("100", RED),
    ],
)
def test_light_for_gap_boundaries(gap: str, expected: str, monitoring: MonitoringPolicy) -> None:
    assert light_for_gap(D(gap), monitoring.yellow_gap, monitoring.red_gap) == expected


def test_light_for_gap_uses_given_thresholds() -> None:
    assert light_for_gap(D("5"), D("5"), D("6")) == YELLOW
    assert light_for_gap(D("6.01"), D("5"), D("6")) == RED


def test_labels_and_order() -> None:
    assert LIGHT_LABELS == {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}
    assert LIGHT_ORDER[GREEN] < LIGHT_ORDER[YELLOW] < LIGHT_ORDER[RED]
    assert list(LIGHT_ORDER) == [GREEN, YELLOW, RED]


def test_execution_progress_quantized_half_up() -> None:
    assert execution_progress(1 * WAN, 3 * WAN) == D("33.33")
    assert execution_progress(2 * WAN, 3 * WAN) == D("66.67")
    assert execution_progress(1, 8 * 10_000) == D("0.00")  # 0.00125 % rounds down
    assert execution_progress(5, 1000) == D("0.50")
    assert execution_progress(125, 1_000_000) == D("0.01")  # 0.0125 → 0.01
    assert execution_progress(5, 100_000) == D("0.01")  # 0.005 → 0.01 (half up)
    assert execution_progress(3 * WAN, 2 * WAN) == D("150.00")


def test_execution_progress_without_budget() -> None:
    assert execution_progress(0, 0) == D("100.00")
    assert execution_progress(10, 0) == D("100.00")


@pytest.mark.parametrize(
    ("spent_wan", "quarter", "progress", "light"),
    [
        (15, "Q1", "15.00", YELLOW),  # gap exactly 10
        ("15.01", "Q1", "15.01", GREEN),  # gap 9.99
        (20, "Q2", "20.00", YELLOW),  # gap exactly 30
        ("19.99", "Q2", "19.99", RED),  # gap 30.01
        (80, "Q3", "80.00", GREEN),  # ahead of schedule
        (100, "Q4", "100.00", GREEN),
        (69, "Q4", "69.00", RED),
    ],
)
def test_execution_light(
    spent_wan: object, quarter: str, progress: str, light: str, monitoring: MonitoringPolicy
) -> None:
    spent_fen = int(D(str(spent_wan)) * WAN)
    assert execution_light(spent_fen, 100 * WAN, quarter, monitoring) == (D(progress), light)


def test_execution_light_unknown_quarter(monitoring: MonitoringPolicy) -> None:
    with pytest.raises(ValueError, match="Q5"):
        execution_light(0, 100, "Q5", monitoring)


@pytest.mark.parametrize(
    ("t", "quarter", "expected"),
    [
        ("40", "Q2", YELLOW),  # gap exactly 10
        ("40.01", "Q2", GREEN),  # gap 9.99
        ("45", "Q3", YELLOW),  # gap exactly 30
        ("44.99", "Q3", RED),  # gap 30.01
        ("90", "Q1", GREEN),
    ],
)
def test_target_light_gap(t: str, quarter: str, expected: str, monitoring: MonitoringPolicy) -> None:
    assert target_light(D(t), "确定能", quarter, monitoring) == expected


def test_target_light_impossible_is_red(monitoring: MonitoringPolicy) -> None:
    assert target_light(D("100"), "完全不可能", "Q1", monitoring) == RED
    assert target_light(D("100"), "有可能", "Q1", monitoring) == GREEN


def test_target_light_impossible_not_red_when_policy_says_so(monitoring: MonitoringPolicy) -> None:
    lenient = monitoring.model_copy(update={"impossible_is_red": False})
    assert target_light(D("100"), "完全不可能", "Q1", lenient) == GREEN


def test_worse() -> None:
    assert worse(GREEN) == GREEN
    assert worse(GREEN, YELLOW) == YELLOW
    assert worse(YELLOW, GREEN) == YELLOW
    assert worse(RED, YELLOW, GREEN) == RED
    with pytest.raises(ValueError):
        worse()
    with pytest.raises(ValueError):
        worse(GREEN, "blue")


def test_project_light_is_worse_of_both(monitoring: MonitoringPolicy) -> None:
    item = ProjectQuarter(budget_fen=100 * WAN, spent_fen=50 * WAN, target_progress=D("10"), likelihood="有可能")
    result = project_light(item, "Q2", monitoring)
    assert result == LightResult(
        execution_progress=D("50.00"),
        target_progress=D("10"),
        execution_light=GREEN,
        target_light=RED,
        light=RED,
    )
    slow = ProjectQuarter(budget_fen=100 * WAN, spent_fen=35 * WAN, target_progress=D("50"), likelihood="确定能")
    assert project_light(slow, "Q2", monitoring).light == YELLOW


def test_department_light_aggregates(monitoring: MonitoringPolicy) -> None:
    items = [
        ProjectQuarter(budget_fen=300 * WAN, spent_fen=150 * WAN, target_progress=D("60"), likelihood="确定能"),
        ProjectQuarter(budget_fen=100 * WAN, spent_fen=0, target_progress=D("0"), likelihood="完全不可能"),
    ]
    result = department_light(items, "Q2", monitoring)
    assert isinstance(result, DepartmentLightResult)
    assert result.budget_fen == 400 * WAN
    assert result.spent_fen == 150 * WAN
    assert result.execution_progress == D("37.50")  # gap 12.5 → yellow
    assert result.execution_light == YELLOW
    assert result.target_progress == D("45.00")  # (300×60 + 100×0) / 400; gap 5
    assert result.target_light == GREEN  # the department's own likelihood is not considered
    assert result.light == YELLOW


def test_department_target_progress_quantized(monitoring: MonitoringPolicy) -> None:
    items = [
        ProjectQuarter(budget_fen=1 * WAN, spent_fen=1 * WAN, target_progress=D("10"), likelihood=""),
        ProjectQuarter(budget_fen=2 * WAN, spent_fen=2 * WAN, target_progress=D("20"), likelihood=""),
    ]
    assert department_light(items, "Q1", monitoring).target_progress == D("16.67")


def test_department_light_boundary_on_weighted_target(monitoring: MonitoringPolicy) -> None:
    items = [
        ProjectQuarter(budget_fen=1 * WAN, spent_fen=1 * WAN, target_progress=D("30"), likelihood=""),
        ProjectQuarter(budget_fen=1 * WAN, spent_fen=1 * WAN, target_progress=D("50"), likelihood=""),
    ]
    result = department_light(items, "Q3", monitoring)
    assert result.target_progress == D("40.00")  # gap 35 → red
    assert result.target_light == RED
    assert result.light == RED


def test_department_light_zero_budgets_use_plain_mean(monitoring: MonitoringPolicy) -> None:
    items = [
        ProjectQuarter(budget_fen=0, spent_fen=0, target_progress=D("20"), likelihood=""),
        ProjectQuarter(budget_fen=0, spent_fen=0, target_progress=D("40"), likelihood=""),
    ]
    result = department_light(items, "Q2", monitoring)
    assert result.target_progress == D("30.00")
    assert result.execution_progress == D("100.00")
    assert result.target_light == YELLOW  # gap exactly 20


def test_department_light_needs_items(monitoring: MonitoringPolicy) -> None:
    with pytest.raises(ValueError):
        department_light([], "Q1", monitoring)


def test_target_progress_is_compared_at_its_published_precision(monitoring: MonitoringPolicy) -> None:
    # 65.004 % is published as 65.00 %: 10.00 points behind 75 % is yellow (the unrounded 9.996 would be green)
    assert target_light(D("65.004"), "有可能", "Q3", monitoring) == YELLOW
    assert target_light(D("65.005"), "有可能", "Q3", monitoring) == GREEN  # 65.01 %: 9.99 points
    item = ProjectQuarter(100 * WAN, 75 * WAN, D("65.004"), "有可能")
    assert project_light(item, "Q3", monitoring).target_progress == D("65.00")


def test_execution_progress_is_the_published_rate() -> None:
    # 0.79985 → 79.99 % half up (half-even would give 79.98 %)
    assert execution_progress(79_985, 100_000) == D("79.99")


@pytest.mark.parametrize(
    ("warned", "following", "expected"),
    [
        (RED, GREEN, True),
        (RED, YELLOW, True),  # red → yellow improved, though not green
        (RED, RED, False),
        (YELLOW, GREEN, True),
        (YELLOW, YELLOW, False),
        (YELLOW, RED, False),
        (RED, None, None),  # the next quarter is not known yet
    ],
)
def test_improved_after_a_warning(warned: str, following: str | None, expected: bool | None) -> None:
    assert improved(warned, following) is expected


def test_improved_rejects_an_unknown_light() -> None:
    with pytest.raises(ValueError, match="blue"):
        improved("blue", GREEN)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([True, True], True),
        ([True, False], False),
        ([False, None], False),
        ([True, None], None),
        ([], None),
    ],
)
def test_improved_overall(verdicts: list[bool | None], expected: bool | None) -> None:
    assert improved_overall(verdicts) is expected


def test_notice_date_follows_the_policy(monitoring: MonitoringPolicy) -> None:
    assert monitoring.notice_after_days == 10
    assert notice_date(2024, "Q1", monitoring) == date(2024, 4, 10)
    assert notice_date(2024, "Q4", monitoring) == date(2025, 1, 10)
    later = monitoring.model_copy(update={"notice_after_days": 15})
    assert notice_date(2024, "Q2", later) == date(2024, 7, 15)
    with pytest.raises(ValueError, match="Q5"):
        notice_date(2024, "Q5", monitoring)

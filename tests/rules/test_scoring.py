"""Self-evaluation scoring: every operator, level redistribution, weights, grades and rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfcycle.policy import GradeBand, SelfEvaluationPolicy, load_policy
from perfcycle.rules.precision import execution_rate
from perfcycle.rules.scoring import (
    IndicatorInput,
    ScoreBreakdown,
    execution_score,
    grade_for,
    indicator_ratio,
    is_inflated,
    project_score,
    weighted_score,
)

D = Decimal
WAN = 1_000_000


@pytest.fixture(scope="module")
def se() -> SelfEvaluationPolicy:
    return load_policy(2024).self_evaluation


@pytest.fixture(scope="module")
def grades() -> list[GradeBand]:
    return load_policy(2024).grades


def q(
    op: str, target: str | None, actual: str | None, level: str = "产出", weight: str | None = None
) -> IndicatorInput:
    return IndicatorInput(
        level1=level,
        operator=op,
        target=None if target is None else D(target),
        actual=None if actual is None else D(actual),
        weight=None if weight is None else D(weight),
    )


def ql(achievement: str, level: str = "产出", weight: str | None = None) -> IndicatorInput:
    return IndicatorInput(
        level1=level,
        operator="定性",
        target=None,
        actual=None,
        achievement=achievement,
        weight=None if weight is None else D(weight),
    )


@pytest.mark.parametrize(
    ("target", "actual", "expected"),
    [
        ("100", "80", "0.8"),
        ("100", "100", "1"),
        ("100", "150", "1"),  # capped
        ("100", "0", "0"),
        ("100", "-5", "0"),  # never negative
        ("0", "0", "1"),  # target <= 0: met or not
        ("0", "3", "1"),
        ("0", "-1", "0"),
        ("-5", "-5", "1"),
        ("-5", "-6", "0"),
    ],
)
def test_ratio_at_least(target: str, actual: str, expected: str, se: SelfEvaluationPolicy) -> None:
    assert indicator_ratio(q("≥", target, actual), se.qualitative) == D(expected)


@pytest.mark.parametrize(
    ("target", "actual", "expected"),
    [
        ("10", "5", "1"),
        ("10", "10", "1"),
        ("10", "20", "0.5"),
        ("10", "0", "1"),  # actual <= 0 scores full
        ("10", "-3", "1"),
        ("0", "5", "0"),
        ("0", "0", "1"),
    ],
)
def test_ratio_at_most(target: str, actual: str, expected: str, se: SelfEvaluationPolicy) -> None:
    assert indicator_ratio(q("≤", target, actual), se.qualitative) == D(expected)


@pytest.mark.parametrize(
    ("target", "actual", "expected"),
    [
        ("100", "100", "1"),
        ("100", "90", "0.9"),
        ("100", "110", "0.9"),
        ("100", "200", "0"),
        ("100", "250", "0"),  # floored at 0
        ("-100", "-90", "0.9"),  # |target| in the denominator
        ("0", "0", "1"),  # target 0: exact or nothing
        ("0", "0.01", "0"),
    ],
)
def test_ratio_equal(target: str, actual: str, expected: str, se: SelfEvaluationPolicy) -> None:
    assert indicator_ratio(q("=", target, actual), se.qualitative) == D(expected)


@pytest.mark.parametrize("op", ["≥", "≤", "="])
def test_ratio_missing_actual_or_target(op: str, se: SelfEvaluationPolicy) -> None:
    assert indicator_ratio(q(op, "100", None), se.qualitative) == 0
    assert indicator_ratio(q(op, None, "100"), se.qualitative) == 0


@pytest.mark.parametrize(
    ("achievement", "expected"),
    [("达成", "1"), ("部分达成", "0.6"), ("未达成", "0"), ("", "0"), ("差不多", "0")],
)
def test_ratio_qualitative(achievement: str, expected: str, se: SelfEvaluationPolicy) -> None:
    assert indicator_ratio(ql(achievement), se.qualitative) == D(expected)


def test_ratio_unknown_operator(se: SelfEvaluationPolicy) -> None:
    with pytest.raises(ValueError):
        indicator_ratio(q(">", "1", "1"), se.qualitative)


def test_execution_score() -> None:
    assert execution_score(execution_rate(80 * WAN, 100 * WAN), D(10)) == D(8)
    assert execution_score(execution_rate(120 * WAN, 100 * WAN), D(10)) == D(10)
    assert execution_score(execution_rate(0, 100 * WAN), D(10)) == D(0)
    assert execution_score(execution_rate(0, 0), D(10)) == D(10)  # nothing to spend: fully executed
    assert execution_score(None, D(10)) == D(0)  # year-end spending never reported earns nothing


def test_execution_score_uses_the_published_rate() -> None:
    # 1/3 is published as 33.33 %: 10 × 0.3333 = 3.333 points, not 10/3
    assert execution_score(execution_rate(1 * WAN, 3 * WAN), D(10)) == D("3.3330")
    # 7 999.5 of 10 000 is published as 80.00 % (half up): 8 points, not 7.9995
    assert execution_score(execution_rate(79_995, 100_000), D(10)) == D("8.0000")
    # a half-even rounding would publish 0.79985 as 79.98 %; the rule publishes 79.99 %
    assert execution_score(execution_rate(79_985, 100_000), D(10)) == D("7.9990")


def test_the_score_is_graded_on_the_published_execution_rate(se: SelfEvaluationPolicy, grades: list[GradeBand]) -> None:
    # 产出 50 × 0.7999 = 39.995, 效益 30, 满意度 10; spending 99 995 of 100 000 is published as 100.00 %:
    # 10 points, 89.995 → 90.00, 优 — the exact 9.9995 points would give 89.9945 → 89.99, 良
    indicators = [q("≥", "10000", "7999"), q("≥", "1", "1", "效益"), ql("达成", "满意度")]
    result = project_score(indicators, execution_rate(99_995, 100_000), se)
    assert (result.execution_rate, result.execution, result.total) == (D("1.0000"), D("10.00"), D("90.00"))
    assert grade_for(result.total, grades) == "优"


def test_a_year_end_never_reported_scores_no_execution_points(se: SelfEvaluationPolicy) -> None:
    result = project_score([q("≥", "1", "1")], None, se)
    assert (result.execution_rate, result.execution, result.total) == (None, D("0.00"), D("90.00"))


def test_project_score_full_marks(se: SelfEvaluationPolicy) -> None:
    indicators = [q("≥", "10", "10"), q("≤", "5", "5", "效益"), ql("达成", "满意度")]
    result = project_score(indicators, execution_rate(100 * WAN, 100 * WAN), se)
    assert result == ScoreBreakdown(
        total=D("100.00"),
        execution=D("10.00"),
        by_level={"产出": D("50.00"), "效益": D("30.00"), "满意度": D("10.00")},
        execution_rate=D("1.0000"),
    )


def test_absent_levels_give_points_to_output(se: SelfEvaluationPolicy) -> None:
    result = project_score([q("≥", "10", "5")], execution_rate(100 * WAN, 100 * WAN), se)
    assert result.by_level == {"产出": D("45.00"), "效益": D("0.00"), "满意度": D("0.00")}
    assert result.total == D("55.00")  # 10 + 90 × 0.5


def test_absent_satisfaction_only(se: SelfEvaluationPolicy) -> None:
    indicators = [q("≥", "10", "10"), q("≥", "10", "5", "效益")]
    result = project_score(indicators, execution_rate(100 * WAN, 100 * WAN), se)
    assert result.by_level == {"产出": D("60.00"), "效益": D("15.00"), "满意度": D("0.00")}
    assert result.total == D("85.00")


def test_points_lost_when_output_is_absent_too(se: SelfEvaluationPolicy) -> None:
    result = project_score([ql("达成", "效益")], execution_rate(100 * WAN, 100 * WAN), se)
    assert result.by_level == {"产出": D("0.00"), "效益": D("30.00"), "满意度": D("0.00")}
    assert result.total == D("40.00")


def test_no_indicators_scores_execution_only(se: SelfEvaluationPolicy) -> None:
    assert project_score([], execution_rate(50 * WAN, 100 * WAN), se).total == D("5.00")


def test_equal_split_within_level(se: SelfEvaluationPolicy) -> None:
    indicators = [
        q("≥", "10", "10"),
        q("≥", "10", "0"),
        ql("部分达成"),
        ql("达成", "效益"),
        ql("达成", "满意度"),
    ]
    result = project_score(indicators, execution_rate(100 * WAN, 100 * WAN), se)
    # 产出 50 / 3 each: 1 + 0 + 0.6 → 26.666...
    assert result.by_level["产出"] == D("26.67")
    assert result.total == D("76.67")


def test_weights_within_level(se: SelfEvaluationPolicy) -> None:
    indicators = [
        q("≥", "10", "10", weight="3"),
        q("≥", "10", "0", weight="1"),
        ql("达成", "效益"),
        ql("达成", "满意度"),
    ]
    result = project_score(indicators, execution_rate(100 * WAN, 100 * WAN), se)
    assert result.by_level["产出"] == D("37.50")  # 50 × 3/4
    assert result.total == D("87.50")


def test_weights_ignored_unless_every_indicator_has_one(se: SelfEvaluationPolicy) -> None:
    for missing in (None, "0"):
        indicators = [
            q("≥", "10", "10", weight="3"),
            q("≥", "10", "0", weight=missing),
            ql("达成", "效益"),
            ql("达成", "满意度"),
        ]
        assert project_score(indicators, execution_rate(100 * WAN, 100 * WAN), se).by_level["产出"] == D("25.00")


def test_only_total_is_rounded(se: SelfEvaluationPolicy) -> None:
    # 产出 50/3 × 3 indicators fully met must give exactly 50, not 3 × 16.67 = 50.01
    indicators = [
        q("≥", "1", "1"),
        q("≥", "1", "1"),
        q("≥", "1", "1"),
        ql("达成", "效益"),
        ql("达成", "满意度"),
    ]
    assert project_score(indicators, execution_rate(100 * WAN, 100 * WAN), se).total == D("100.00")
    # execution 10/3 (3.333..) + 效益 30 × 2/3 (20) + 产出 50 × 0.12345 → 3.3333 + 20 + 6.1725 + 10 = 39.51
    indicators = [q("≥", "100000", "12345"), q("≥", "3", "2", "效益"), ql("达成", "满意度")]
    result = project_score(indicators, execution_rate(1 * WAN, 3 * WAN), se)
    assert result.execution == D("3.33")
    assert result.execution_rate == D("0.3333")
    assert result.total == D("39.51")


def test_execution_rate_is_not_capped(se: SelfEvaluationPolicy) -> None:
    result = project_score([], execution_rate(150 * WAN, 100 * WAN), se)
    assert result.execution_rate == D("1.5000")
    assert result.execution == D("10.00")
    assert project_score([], execution_rate(0, 0), se).execution_rate == D("1.0000")


def test_unknown_level_rejected(se: SelfEvaluationPolicy) -> None:
    with pytest.raises(ValueError, match="成本"):
        project_score([q("≥", "1", "1", "成本")], execution_rate(0, 0), se)


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        ("100", "优"),
        ("90", "优"),
        ("90.00", "优"),
        ("89.99", "良"),
        ("80", "良"),
        ("79.99", "中"),
        ("60", "中"),
        ("59.99", "差"),
        ("89.995", "优"),  # graded at the published 0.01: 90.00
        ("89.994", "良"),
        ("59.995", "中"),
        ("0", "差"),
        ("-1", "差"),
    ],
)
def test_grade_boundaries(score: str, grade: str, grades: list[GradeBand]) -> None:
    assert grade_for(D(score), grades) == grade


def test_is_inflated(se: SelfEvaluationPolicy) -> None:
    threshold = se.inflation_flag_points
    assert is_inflated(D("85"), D("80"), threshold) is True  # exactly +5
    assert is_inflated(D("84.99"), D("80"), threshold) is False  # +4.99
    assert is_inflated(D("95"), D("80"), threshold) is True
    assert is_inflated(D("70"), D("80"), threshold) is False  # claiming less is never inflation
    assert is_inflated(None, D("80"), threshold) is False
    assert is_inflated(D("85"), D("80.004"), threshold) is True  # compared at the published 0.01: 80.00


def test_weighted_score() -> None:
    assert weighted_score([]) is None
    assert weighted_score([(300 * WAN, D("90")), (100 * WAN, D("70"))]) == D("85.00")
    assert weighted_score([(1 * WAN, D("90")), (2 * WAN, D("80"))]) == D("83.33")
    assert weighted_score([(0, D("90")), (0, D("81"))]) == D("85.50")
    assert weighted_score([(0, D("90")), (5 * WAN, D("60"))]) == D("60.00")
    assert weighted_score([(1, D("80.005"))]) == D("80.01")  # half up

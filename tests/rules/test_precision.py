"""The rules against an exact reference (fractions.Fraction) at the published precision: rates and progress to
0.01 % half up before a comparison or a product, scores to 0.01 half up before a grade, money half up to
0.01 万元 once at the end. Hypothesis draws the figures, boundaries and ties included."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from perfcycle.money import FEN_PER_WAN
from perfcycle.policy import BudgetPolicy, Policy, load_policy
from perfcycle.rules.budget import (
    BudgetLine,
    budget_base,
    budget_decision,
    budget_totals,
    policy_decision,
)
from perfcycle.rules.coverage import coverage
from perfcycle.rules.ex_ante import CONCLUSION_ADJUST, CONCLUSION_REJECT, CONCLUSION_SUPPORT
from perfcycle.rules.lights import GREEN, RED, YELLOW, ProjectQuarter, department_light, project_light
from perfcycle.rules.precision import execution_rate, round_percent, round_rate, round_score
from perfcycle.rules.scoring import IndicatorInput, grade_for, project_score, weighted_score
from perfcycle.rules.selection import ProjectCandidate, SimpleCandidate, propose_selection

POLICY: Policy = load_policy(2024)
BUDGET: BudgetPolicy = POLICY.budget
CENT_WAN = FEN_PER_WAN // 100  # 0.01 万元 in 分
QUARTERS = st.sampled_from(["Q1", "Q2", "Q3", "Q4"])
GRADES = st.sampled_from(["优", "良", "中", "差"])
FEN = st.integers(min_value=0, max_value=10**12)
POSITIVE_FEN = st.integers(min_value=1, max_value=10**12)


def half_up(value: Fraction, places: int) -> Fraction:
    """value rounded half away from zero to `places` decimals, exactly."""
    scale = 10**places
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    return Fraction(magnitude if value >= 0 else -magnitude, scale)


def exact(value: Decimal) -> Fraction:
    return Fraction(value)


def reference_rate(spent: int, budget: int) -> Fraction:
    return Fraction(1) if budget == 0 else half_up(Fraction(spent, budget), 4)


def reference_light(gap: Fraction) -> str:
    policy = POLICY.monitoring
    if gap < exact(policy.yellow_gap):
        return GREEN
    if gap <= exact(policy.red_gap):
        return YELLOW
    return RED


def reference_grade(score: Fraction) -> str:
    published = half_up(score, 2)
    return next((band.grade for band in POLICY.grades if published >= exact(band.min)), POLICY.grades[-1].grade)


# ---------------------------------------------------------------------------------------------- rates and lights


@given(spent=FEN, budget=FEN)
@example(spent=79_985, budget=100_000)  # a half-even rounding would give 0.7998
@example(spent=79_995, budget=100_000)
@example(spent=1, budget=0)
def test_execution_rate(spent: int, budget: int) -> None:
    assert exact(execution_rate(spent, budget)) == reference_rate(spent, budget)


@given(value=st.fractions(min_value=-1000, max_value=1000, max_denominator=10**6))
def test_rounding_is_half_up(value: Fraction) -> None:
    decimal = Decimal(value.numerator) / Decimal(value.denominator)
    if exact(decimal) != value:  # only values Decimal holds exactly
        return
    assert exact(round_rate(decimal)) == half_up(value, 4)
    assert exact(round_percent(decimal)) == half_up(value, 2)
    assert exact(round_score(decimal)) == half_up(value, 2)


@given(
    spent=FEN,
    budget=POSITIVE_FEN,
    target=st.decimals(min_value=0, max_value=150, places=3),
    likelihood=st.sampled_from(["确定能", "有可能", "完全不可能"]),
    quarter=QUARTERS,
)
@example(spent=0, budget=1, target=Decimal("65.004"), likelihood="有可能", quarter="Q3")
@example(spent=7_999_500, budget=10_000_000, target=Decimal("100"), likelihood="有可能", quarter="Q4")
def test_project_light(spent: int, budget: int, target: Decimal, likelihood: str, quarter: str) -> None:
    time = exact(POLICY.monitoring.time_progress[quarter])
    progress = half_up(Fraction(spent, budget) * 100, 2)
    execution = reference_light(time - progress)
    target_light = RED if likelihood == "完全不可能" else reference_light(time - half_up(exact(target), 2))
    expected = max(execution, target_light, key=[GREEN, YELLOW, RED].index)
    result = project_light(ProjectQuarter(budget, spent, target, likelihood), quarter, POLICY.monitoring)
    assert (exact(result.execution_progress), result.execution_light) == (progress, execution)
    assert (result.target_light, result.light) == (target_light, expected)


@given(
    items=st.lists(
        st.tuples(POSITIVE_FEN, FEN, st.decimals(min_value=0, max_value=100, places=2)), min_size=1, max_size=8
    ),
    quarter=QUARTERS,
)
def test_department_light(items: list[tuple[int, int, Decimal]], quarter: str) -> None:
    budget = sum(b for b, _, _ in items)
    spent = sum(s for _, s, _ in items)
    mean = half_up(sum((b * exact(t) for b, _, t in items), Fraction(0)) / budget, 2)
    time = exact(POLICY.monitoring.time_progress[quarter])
    progress = half_up(Fraction(spent, budget) * 100, 2)
    result = department_light([ProjectQuarter(b, s, t, "有可能") for b, s, t in items], quarter, POLICY.monitoring)
    assert (exact(result.execution_progress), exact(result.target_progress)) == (progress, mean)
    assert result.execution_light == reference_light(time - progress)
    assert result.target_light == reference_light(time - mean)


# ---------------------------------------------------------------------------------------------- scores and grades


INDICATORS = st.lists(
    st.tuples(
        st.sampled_from(["产出", "效益", "满意度"]),
        st.sampled_from(["≥", "≤", "=", "定性"]),
        st.decimals(min_value=1, max_value=10_000, places=2),
        st.decimals(min_value=0, max_value=20_000, places=2),
        st.sampled_from(["达成", "部分达成", "未达成"]),
        st.one_of(st.none(), st.decimals(min_value=1, max_value=100, places=0)),
    ),
    max_size=7,
)


def reference_ratio(operator: str, target: Fraction, actual: Fraction, achievement: str) -> Fraction:
    if operator == "定性":
        return exact(POLICY.self_evaluation.qualitative[achievement])
    if operator == "≥":
        return min(actual / target, Fraction(1))
    if operator == "≤":
        return Fraction(1) if actual <= 0 else min(target / actual, Fraction(1))
    return max(Fraction(0), 1 - abs(actual - target) / abs(target))


def reference_score(
    indicators: list[tuple[str, str, Decimal, Decimal, str, Decimal | None]], rate: Fraction
) -> Fraction:
    weights = {level: exact(w) for level, w in POLICY.self_evaluation.weights.items()}
    execution = weights.pop("预算执行") * max(Fraction(0), min(rate, Fraction(1)))
    grouped = {level: [i for i in indicators if i[0] == level] for level in weights}
    absent = [level for level, items in grouped.items() if not items]
    receiver = POLICY.self_evaluation.absent_level_goes_to
    if absent and grouped[receiver]:
        weights[receiver] += sum(weights[level] for level in absent)
    total = execution
    for level, items in grouped.items():
        if not items:
            continue
        given_weights = [i[5] for i in items]
        if all(w is not None and w > 0 for w in given_weights):
            shares = [
                weights[level] * exact(w) / sum(exact(x) for x in given_weights if x is not None)
                for w in given_weights
                if w is not None
            ]
        else:
            shares = [weights[level] / len(items)] * len(items)
        total += sum(
            share * reference_ratio(op, exact(t), exact(a), ach)
            for share, (_, op, t, a, ach, _) in zip(shares, items, strict=True)
        )
    return total


@settings(max_examples=300)
@given(indicators=INDICATORS, spent=FEN, budget=FEN)
@example(
    indicators=[
        ("产出", "≥", Decimal("10000"), Decimal("7999"), "达成", None),
        ("效益", "≥", Decimal("1"), Decimal("1"), "达成", None),
        ("满意度", "定性", Decimal("1"), Decimal("0"), "达成", None),
    ],
    spent=99_995,
    budget=100_000,
)
def test_project_score_and_grade(
    indicators: list[tuple[str, str, Decimal, Decimal, str, Decimal | None]], spent: int, budget: int
) -> None:
    inputs = [IndicatorInput(level, op, t, a, ach, w) for level, op, t, a, ach, w in indicators]
    result = project_score(inputs, execution_rate(spent, budget), POLICY.self_evaluation)
    expected = reference_score(indicators, reference_rate(spent, budget))
    assert exact(result.total) == half_up(expected, 2)
    assert grade_for(result.total, POLICY.grades) == reference_grade(expected)


@given(score=st.decimals(min_value=-5, max_value=105, places=4))
@example(score=Decimal("89.995"))
@example(score=Decimal("59.9949"))
def test_grade(score: Decimal) -> None:
    assert grade_for(score, POLICY.grades) == reference_grade(exact(score))


@given(items=st.lists(st.tuples(FEN, st.decimals(min_value=0, max_value=100, places=2)), min_size=1, max_size=10))
def test_weighted_score(items: list[tuple[int, Decimal]]) -> None:
    budget = sum(b for b, _ in items)
    plain = sum(exact(s) for _, s in items) / len(items)
    mean = plain if budget == 0 else sum(b * exact(s) for b, s in items) / budget
    assert exact(weighted_score(items) or Decimal(0)) == half_up(mean, 2)


@given(total=st.integers(min_value=1, max_value=2000), data=st.data())
def test_coverage_ratio(total: int, data: st.DataObject) -> None:
    covered = data.draw(st.integers(min_value=0, max_value=total))
    population = [f"D{i:04d}" for i in range(total)]
    result = coverage(population, population[:covered])
    assert exact(result.ratio) == half_up(Fraction(covered, total), 4)


# ---------------------------------------------------------------------------------------------- money


@settings(max_examples=300)
@given(
    request=st.integers(min_value=0, max_value=10**10).map(lambda n: n * CENT_WAN),
    ex_ante_cut=st.integers(min_value=0, max_value=10**10).map(lambda n: n * CENT_WAN),
    conclusion=st.sampled_from([None, CONCLUSION_SUPPORT, CONCLUSION_ADJUST, CONCLUSION_REJECT]),
    grade=st.one_of(st.none(), GRADES),
    department_grade=st.one_of(st.none(), GRADES),
    spent=FEN,
    budget=POSITIVE_FEN,
)
def test_recommendation(
    request: int,
    ex_ante_cut: int,
    conclusion: str | None,
    grade: str | None,
    department_grade: str | None,
    spent: int,
    budget: int,
) -> None:
    rate = execution_rate(spent, budget)
    decision = budget_decision(
        request,
        grade,
        rate,
        True,
        BUDGET,
        "未设置绩效目标",
        ex_ante_conclusion=conclusion,
        ex_ante_cut_fen=ex_ante_cut,
        department_grade=department_grade,
    )
    base = {None: request, CONCLUSION_REJECT: 0}.get(conclusion, max(request - ex_ante_cut, 0))
    published = reference_rate(spent, budget)
    execution_cut = 1 - published if published < exact(BUDGET.execution_threshold) else Fraction(0)
    cuts = [exact(BUDGET.grade_cut[g]) if g else Fraction(0) for g in (grade, department_grade)]
    cut = max(*cuts, min(execution_cut, Fraction(1)))
    expected = 0 if conclusion == CONCLUSION_REJECT else half_up(base * (1 - cut) / FEN_PER_WAN, 2) * FEN_PER_WAN
    assert decision.base_fen == budget_base(request, conclusion, ex_ante_cut) == base
    assert decision.recommended_fen == expected
    assert 0 <= decision.recommended_fen <= base
    assert decision.priority == (conclusion != CONCLUSION_REJECT and grade == "优" and cut == 0 and base == request)


@given(funds=FEN, grade=GRADES)
def test_policy_recommendation(funds: int, grade: str) -> None:
    expected = half_up(funds * (1 - exact(BUDGET.grade_cut[grade])) / FEN_PER_WAN, 2) * FEN_PER_WAN
    assert policy_decision(funds, grade, BUDGET).recommended_fen == expected


LINES = st.lists(
    st.builds(
        BudgetLine,
        request_fen=st.integers(min_value=0, max_value=10**9).map(lambda n: n * CENT_WAN),
        recommended_fen=st.integers(min_value=0, max_value=10**9).map(lambda n: n * CENT_WAN),
        override_fen=st.one_of(st.none(), st.integers(min_value=0, max_value=10**9).map(lambda n: n * CENT_WAN)),
        reason_kind=st.sampled_from(["priority", "as_needed", "grade_cut", "cancelled", "low_execution"]),
        reason=st.sampled_from(["优先保障", "据实保障", "压减10%（中）", "原则上取消（差）", "按执行率压减"]),
        ex_ante_cut_fen=st.integers(min_value=0, max_value=10**9).map(lambda n: n * CENT_WAN),
    ),
    max_size=30,
)


@given(lines=LINES)
def test_totals_add_up_line_by_line(lines: list[BudgetLine]) -> None:
    totals = budget_totals(lines)
    assert totals.request_fen - totals.ex_ante_cut_fen == totals.base_fen
    assert totals.base_fen - totals.cut_fen + totals.increase_fen == totals.recommended_fen
    assert totals.recommended_fen == sum(line.effective_fen for line in lines)
    assert min(totals.cut_fen, totals.increase_fen, totals.ex_ante_cut_fen) >= 0
    assert sum(totals.reasons.values()) == totals.projects == len(lines)
    assert totals.priority_projects == sum(1 for line in lines if line.prioritised)


# ---------------------------------------------------------------------------------------------- ties


@given(
    budgets=st.lists(st.sampled_from([500, 1000, 1500]), min_size=1, max_size=20),
    order=st.randoms(use_true_random=False),
)
def test_selection_ties_break_by_code_whatever_the_order(budgets: list[int], order: object) -> None:
    projects = [
        ProjectCandidate(f"P{i:03d}", f"项目{i}", b * FEN_PER_WAN, i % 2 == 0, False) for i, b in enumerate(budgets)
    ]
    departments = [SimpleCandidate(f"D{i:03d}", f"部门{i}", b * FEN_PER_WAN) for i, b in enumerate(budgets)]
    shuffled_projects, shuffled_departments = list(projects), list(departments)
    order.shuffle(shuffled_projects)  # type: ignore[attr-defined]
    order.shuffle(shuffled_departments)  # type: ignore[attr-defined]
    fiscal = POLICY.fiscal_evaluation
    first = propose_selection(projects, [], departments, set(), fiscal)
    again = propose_selection(shuffled_projects, [], shuffled_departments, set(), fiscal)
    assert first == again
    for kind in ("project", "department"):
        chosen = [(-o.amount_fen, o.code) for o in first if o.object_type == kind]
        assert chosen == sorted(chosen)


def test_the_reference_rounds_half_up() -> None:
    assert half_up(Fraction(5, 1000), 2) == Fraction(1, 100)
    assert half_up(Fraction(-5, 1000), 2) == Fraction(-1, 100)
    assert half_up(Fraction(15, 1000), 2) == Fraction(2, 100)  # half-even would give 0.02 too; 0.025 → 0.03
    assert half_up(Fraction(25, 1000), 2) == Fraction(3, 100)

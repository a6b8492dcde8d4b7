"""Coverage: who of those who must report did, and when it is 全覆盖."""

from __future__ import annotations

from decimal import Decimal

from perfcycle.rules.coverage import coverage, reported_every_period


def test_coverage_counts_the_population_only() -> None:
    c = coverage(["A", "B", "C", "D"], {"A", "C", "X"})
    assert (c.covered, c.total, c.missing, c.full) == (2, 4, ("B", "D"), False)
    assert c.ratio == Decimal("0.5") and c.percent == "50%"


def test_full_coverage_only_when_everyone_reported() -> None:
    assert coverage(["A", "B"], ["B", "A"]).full
    assert coverage(["A", "B"], ["B", "A"]).percent == "100%"
    nobody = coverage([], [])
    assert not nobody.full and nobody.ratio == 0 and nobody.percent == "0%"


def test_ratio_is_rounded_half_up_to_a_hundredth_of_a_percent() -> None:
    assert coverage([f"P{i}" for i in range(660)], [f"P{i}" for i in range(647)]).ratio == Decimal("0.9803")
    assert coverage([f"P{i}" for i in range(660)], [f"P{i}" for i in range(647)]).percent == "98.03%"
    assert coverage([f"P{i}" for i in range(8)], [f"P{i}" for i in range(7)]).percent == "87.5%"
    # 1 of 80000 = 0.00125 % → 0.0013 % … 0.00005 → half up to 0.0001
    assert coverage([str(i) for i in range(20000)], ["1"]).ratio == Decimal("0.0001")


def test_a_department_missing_one_quarter_is_not_covered() -> None:
    quarters = {"Q1": {"A", "B", "C"}, "Q2": {"A", "C"}, "Q3": {"A", "B", "C"}}
    assert reported_every_period(quarters) == {"A", "C"}
    c = coverage(["A", "B", "C"], reported_every_period(quarters))
    assert (c.covered, c.missing, c.full) == (2, ("B",), False)


def test_nothing_is_covered_before_any_quarter() -> None:
    assert reported_every_period({}) == set()
    assert reported_every_period({"Q1": set()}) == set()

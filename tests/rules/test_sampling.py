"""Sampling review: sample size, rotation tiers, reproducibility, coverage and review flags."""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal

import pytest

from perfcycle.policy import GradeBand, SamplingPolicy, load_policy
from perfcycle.rules.sampling import (
    ALGORITHM,
    SampleDraw,
    cumulative_coverage,
    default_seed,
    draw_sample,
    population_hash,
    review_flag,
    sample_size,
)

D = Decimal
CODES = [f"D{i:03d}" for i in range(1, 55)]  # 54 departments, as in the seed


@pytest.fixture(scope="module")
def sp() -> SamplingPolicy:
    return load_policy(2024).sampling


@pytest.fixture(scope="module")
def grades() -> list[GradeBand]:
    return load_policy(2024).grades


def test_algorithm_matches_policy(sp: SamplingPolicy) -> None:
    assert sp.algorithm == ALGORITHM == "tiered-random-v2"


@pytest.mark.parametrize(
    ("population", "ratio", "expected"),
    [
        (54, "0.20", 11),  # 10.8 → 11
        (50, "0.20", 10),  # exactly 10, no float drift to 11
        (51, "0.20", 11),  # 10.2 → 11
        (5, "0.20", 1),
        (1, "0.20", 1),
        (0, "0.20", 0),
        (10, "1", 10),
        (3, "0.34", 2),  # 1.02 → 2
        (3, "0.333", 1),  # 0.999 → 1
    ],
)
def test_sample_size(population: int, ratio: str, expected: int) -> None:
    assert sample_size(population, D(ratio)) == expected


def test_sample_size_capped() -> None:
    assert sample_size(7, D("1")) == 7


def test_population_hash_is_order_independent() -> None:
    expected = hashlib.sha256(b"A01\nB02\nC03").hexdigest()
    assert population_hash(["C03", "A01", "B02"]) == expected
    assert population_hash(["A01", "B02", "C03"]) == expected
    assert population_hash(["A01", "B02"]) != expected


def test_default_seed() -> None:
    digest = population_hash(CODES)
    seed = default_seed(2024, digest)
    assert seed == hashlib.sha256(f"2024:{digest}".encode()).hexdigest()[:16]
    assert len(seed) == 16
    assert default_seed(2024, digest) == seed
    assert default_seed(2025, digest) != seed


def test_draw_size_and_metadata(sp: SamplingPolicy) -> None:
    draw = draw_sample(CODES, {}, sp.ratio, "abc")
    assert isinstance(draw, SampleDraw)
    assert draw.size == 11
    assert len(draw.members) == 11
    assert list(draw.members) == sorted(draw.members)
    assert set(draw.members) <= set(CODES)
    assert draw.tiers == dict.fromkeys(draw.members, 0)
    assert draw.population_hash == population_hash(CODES)
    assert draw.seed == "abc"
    assert draw.algorithm == ALGORITHM


def test_draw_is_reproducible(sp: SamplingPolicy) -> None:
    first = draw_sample(CODES, {}, sp.ratio, "seed-1")
    again = draw_sample(list(reversed(CODES)), {}, sp.ratio, "seed-1")  # input order does not matter
    assert first == again


def test_other_seed_draws_differently(sp: SamplingPolicy) -> None:
    first = draw_sample(CODES, {}, sp.ratio, "seed-1")
    other = draw_sample(CODES, {}, sp.ratio, "seed-2")
    assert first.members != other.members


def test_draw_matches_documented_algorithm(sp: SamplingPolicy) -> None:
    counts = dict.fromkeys(CODES[:50], 1)  # four never-sampled departments
    draw = draw_sample(CODES, counts, sp.ratio, "s")
    expected = sorted(CODES[50:] + random.Random("s").sample(sorted(CODES[:50]), 7))
    assert list(draw.members) == expected


def test_never_sampled_come_first(sp: SamplingPolicy) -> None:
    sampled_before = CODES[:44]  # 10 never sampled
    counts = dict.fromkeys(sampled_before, 1)
    draw = draw_sample(CODES, counts, sp.ratio, "x")
    assert set(CODES[44:]) <= set(draw.members)
    extra = set(draw.members) - set(CODES[44:])
    assert len(extra) == 1
    assert draw.tiers[extra.pop()] == 1


def test_open_findings_come_right_after_the_never_sampled(sp: SamplingPolicy) -> None:
    counts = {code: (2 if i < 40 else 1) for i, code in enumerate(CODES) if i < 50}
    # never sampled: D051..D054; open findings: two of tier 2, which tier 1 (D041..D050) would otherwise beat
    draw = draw_sample(CODES, counts, sp.ratio, "y", open_findings={"D001", "D002"})
    assert set(CODES[50:]) | {"D001", "D002"} <= set(draw.members)
    assert len(set(draw.members) & set(CODES[40:50])) == 5  # the remaining places go to tier 1
    assert draw.algorithm == ALGORITHM


def test_open_findings_never_pass_the_never_sampled(sp: SamplingPolicy) -> None:
    counts = dict.fromkeys(CODES[:40], 1)  # 14 never sampled: more than the 11 places
    draw = draw_sample(CODES, counts, sp.ratio, "z", open_findings=set(CODES[:5]))
    assert set(draw.members) <= set(CODES[40:])
    assert draw.members == draw_sample(CODES, counts, sp.ratio, "z").members


def test_too_many_open_findings_are_drawn_at_random(sp: SamplingPolicy) -> None:
    counts = dict.fromkeys(CODES[:50], 1)  # four never sampled, seven places for 20 with open findings
    first = set(CODES[:20])
    draw = draw_sample(CODES, counts, sp.ratio, "s", open_findings=first)
    expected = sorted(CODES[50:] + random.Random("s").sample(sorted(first), 7))
    assert list(draw.members) == expected


def test_a_never_sampled_department_with_open_findings_stays_in_the_first_tier(sp: SamplingPolicy) -> None:
    counts = dict.fromkeys(CODES[:43], 3)  # exactly 11 never sampled
    draw = draw_sample(CODES, counts, sp.ratio, "w", open_findings={CODES[50], CODES[0]})
    assert list(draw.members) == CODES[43:]


def test_tiers_are_taken_in_order(sp: SamplingPolicy) -> None:
    counts = {code: (2 if i < 40 else 1) for i, code in enumerate(CODES) if i < 50}
    # tier 0: 4 codes (D051..D054), tier 1: 10 codes (D041..D050), tier 2: 40 codes
    draw = draw_sample(CODES, counts, sp.ratio, "y")
    assert set(CODES[50:]) <= set(draw.members)
    assert sorted(draw.tiers.values()) == [0] * 4 + [1] * 7
    assert all(code in CODES[40:] for code in draw.members)


def test_whole_tier_fits_exactly(sp: SamplingPolicy) -> None:
    counts = dict.fromkeys(CODES[:43], 3)  # exactly 11 codes in tier 0
    draw = draw_sample(CODES, counts, sp.ratio, "whatever")
    assert list(draw.members) == CODES[43:]
    assert draw_sample(CODES, counts, sp.ratio, "other").members == draw.members


def test_rotation_reaches_full_coverage(sp: SamplingPolicy) -> None:
    counts: dict[str, int] = {}
    history: list[tuple[str, ...]] = []
    for year in range(2024, 2029):
        draw = draw_sample(CODES, counts, sp.ratio, default_seed(year, population_hash(CODES)))
        history.append(draw.members)
        for code in draw.members:
            counts[code] = counts.get(code, 0) + 1
        covered = len({code for members in history for code in members})
        assert covered == min(11 * len(history), 54)  # no repeat until everyone was drawn once
    assert cumulative_coverage(history, CODES) == D("1.0000")


def test_draw_rejects_duplicate_codes(sp: SamplingPolicy) -> None:
    with pytest.raises(ValueError):
        draw_sample(["A", "A", "B"], {}, sp.ratio, "s")


def test_coverage_33_of_54() -> None:
    cycles = [CODES[0:11], CODES[11:22], CODES[22:33]]
    assert cumulative_coverage(cycles, CODES) == D("0.6111")


def test_coverage_counts_distinct_and_current_population_only() -> None:
    cycles = [CODES[0:11], CODES[5:16], ["GONE1", "GONE2"]]
    assert cumulative_coverage(cycles, CODES) == D("0.2963")  # 16 / 54
    assert cumulative_coverage([], CODES) == D("0.0000")
    assert cumulative_coverage([["A"]], []) == D("0.0000")


def test_review_flag_gap_boundary(sp: SamplingPolicy, grades: list[GradeBand]) -> None:
    gap = sp.review_gap_flag
    assert review_flag(D("70"), D("60"), grades, gap) == "复核得分与自评得分相差10.00分"  # exactly 10, same grade
    assert review_flag(D("69.99"), D("60"), grades, gap) is None  # 9.99
    assert review_flag(D("60"), D("70.5"), grades, gap) == "复核得分与自评得分相差10.50分"


def test_review_flag_grade_change(sp: SamplingPolicy, grades: list[GradeBand]) -> None:
    gap = sp.review_gap_flag
    assert review_flag(D("90"), D("89.99"), grades, gap) == "等级由优变为良"
    assert review_flag(D("79"), D("80"), grades, gap) == "等级由中变为良"
    assert review_flag(D("95"), D("85"), grades, gap) == "复核得分与自评得分相差10.00分；等级由优变为良"
    assert review_flag(D("85"), D("85"), grades, gap) is None


def test_review_flag_without_self_score(sp: SamplingPolicy, grades: list[GradeBand]) -> None:
    assert review_flag(None, D("85"), grades, sp.review_gap_flag) == "无自评得分"

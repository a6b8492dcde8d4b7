"""Sampling review (抽查复核): a reproducible, rotation-first draw of departments and the review flags."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from perfcycle.policy import GradeBand
from perfcycle.rules.precision import round_rate, round_score
from perfcycle.rules.scoring import grade_for

ALGORITHM = "tiered-random-v2"


@dataclass(frozen=True)
class SampleDraw:
    members: tuple[str, ...]
    tiers: dict[str, int]
    population_hash: str
    seed: str
    algorithm: str
    size: int


def sample_size(population: int, ratio: Decimal) -> int:
    """n = ceil(ratio × population) in exact decimal arithmetic, never more than the population."""
    if population <= 0:
        return 0
    size = int((ratio * population).to_integral_value(rounding=ROUND_CEILING))
    return max(0, min(size, population))


def population_hash(codes: Iterable[str]) -> str:
    """Fingerprint of the population the draw ran on, independent of the order codes arrive in."""
    return hashlib.sha256("\n".join(sorted(codes)).encode("utf-8")).hexdigest()


def default_seed(year: int, population_hash: str) -> str:
    """Seed derived from the year and the population, so a rerun draws the same sample."""
    return hashlib.sha256(f"{year}:{population_hash}".encode()).hexdigest()[:16]


def draw_sample(
    codes: Sequence[str],
    sample_counts: Mapping[str, int],
    ratio: Decimal,
    seed: str,
    open_findings: Collection[str] = (),
) -> SampleDraw:
    """Draw n = ceil(ratio × len(codes)) departments, least-sampled first (algorithm tiered-random-v2).

    1. The tier of a department is how many times it was sampled in earlier cycles
       (``sample_counts``; a department not listed has tier 0).
    2. Groups are taken in order: the never-sampled (tier 0); then the departments with findings of
       earlier cycles still open (``open_findings``), whatever their tier; then the others tier by tier.
       Each group is taken whole while it fits in the remaining places.
    3. In the first group that does not fit, ``random.Random(seed).sample`` picks the remaining
       places from that group's codes in sorted order; it is the only random step.
    4. ``members`` is returned sorted, with each member's tier.

    Without open findings this is tiered-random-v1. The draw is a pure function of (codes, sample_counts,
    ratio, seed, open_findings), and the stored population hash, seed, algorithm name and open-findings
    departments let anyone repeat it.
    """
    if len(set(codes)) != len(codes):
        raise ValueError("部门代码重复，无法抽样")
    size = sample_size(len(codes), ratio)
    first = set(open_findings)
    groups: dict[tuple[int, int], list[str]] = {}
    for code in codes:
        tier = sample_counts.get(code, 0)
        group = (0, 0) if tier == 0 else (1, 0) if code in first else (2, tier)
        groups.setdefault(group, []).append(code)
    chosen: list[str] = []
    for group in sorted(groups):
        remaining = size - len(chosen)
        if remaining <= 0:
            break
        group_codes = sorted(groups[group])
        if len(group_codes) <= remaining:
            chosen.extend(group_codes)
        else:
            chosen.extend(random.Random(seed).sample(group_codes, remaining))
    members = tuple(sorted(chosen))
    return SampleDraw(
        members=members,
        tiers={code: sample_counts.get(code, 0) for code in members},
        population_hash=population_hash(codes),
        seed=seed,
        algorithm=ALGORITHM,
        size=size,
    )


def cumulative_coverage(sampled: Iterable[Iterable[str]], population: Collection[str]) -> Decimal:
    """Share of today's departments sampled at least once in any cycle so far."""
    if not population:
        return Decimal("0.0000")
    members = set(population)
    covered = {code for draw in sampled for code in draw if code in members}
    return round_rate(Decimal(len(covered)) / Decimal(len(members)))


def review_flag(
    self_score: Decimal | None, review_score: Decimal, grades: Sequence[GradeBand], gap: Decimal
) -> str | None:
    """Why a review score calls the self-evaluation into question, or None when it confirms it."""
    if self_score is None:
        return "无自评得分"
    reasons = []
    difference = abs(round_score(review_score) - round_score(self_score))
    if difference >= gap:
        reasons.append(f"复核得分与自评得分相差{difference}分")
    self_grade = grade_for(self_score, grades)
    review_grade = grade_for(review_score, grades)
    if self_grade != review_grade:
        reasons.append(f"等级由{self_grade}变为{review_grade}")
    return "；".join(reasons) or None

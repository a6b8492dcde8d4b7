"""Coverage (覆盖率): how many of those who must report did, the one definition every document states."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from perfcycle.rules.precision import percent_text, rate


@dataclass(frozen=True)
class Coverage:
    """`covered` of `total` reported; `missing` names (by code, sorted) those that did not."""

    covered: int
    total: int
    missing: tuple[str, ...]

    @property
    def full(self) -> bool:
        """全覆盖: every one of them, and there was someone to cover."""
        return self.total > 0 and self.covered == self.total

    @property
    def ratio(self) -> Decimal:
        """covered / total, half up to 0.01 % (0.9803); 0 when there is no one."""
        if self.total <= 0:
            return Decimal(0)
        return rate(self.covered, self.total)

    @property
    def percent(self) -> str:
        """The ratio as a percentage without trailing zeros: "98.03%", "87.5%", "100%"."""
        return percent_text(self.ratio)


def coverage(population: Iterable[str], reported: Collection[str]) -> Coverage:
    """Who of `population` (codes) is among `reported`; a code reported but not in the population does not count."""
    everyone = set(population)
    covered = everyone & set(reported)
    return Coverage(covered=len(covered), total=len(everyone), missing=tuple(sorted(everyone - covered)))


def reported_every_period(periods: Mapping[str, Collection[str]]) -> set[str]:
    """The codes with a record in every period (quarter) monitored; none while no period was."""
    sets = [set(codes) for codes in periods.values()]
    if not sets:
        return set()
    return set.intersection(*sets)

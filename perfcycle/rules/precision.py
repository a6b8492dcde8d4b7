"""Published precision: every rate and score is rounded half up to the precision it is printed at before a rule
compares it with a threshold or multiplies by it, so anyone can redo a decision from the printed figures.

Decimal's own default is half-even (banker's rounding): every rounding here names ROUND_HALF_UP.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

RATE = Decimal("0.0001")  # a rate as a ratio, to 0.01 %
PERCENT = Decimal("0.01")  # a percentage, to 0.01 %
SCORE = Decimal("0.01")  # a score, to 0.01 point

_ONE = Decimal(1)
_HUNDRED = Decimal(100)


def round_rate(ratio: Decimal) -> Decimal:
    """A ratio (0.79995) at the published 0.01 % (0.8000), half up."""
    return ratio.quantize(RATE, rounding=ROUND_HALF_UP)


def round_percent(percent: Decimal) -> Decimal:
    """A percentage (79.995) at the published 0.01 % (80.00), half up."""
    return percent.quantize(PERCENT, rounding=ROUND_HALF_UP)


def round_score(score: Decimal) -> Decimal:
    """A score at the published 0.01 point, half up: the figure a grade is given on."""
    return score.quantize(SCORE, rounding=ROUND_HALF_UP)


def rate(numerator: int | Decimal, denominator: int | Decimal) -> Decimal:
    """numerator / denominator at the published 0.01 %; the denominator must not be 0."""
    return round_rate(Decimal(numerator) / Decimal(denominator))


def as_percent(ratio: Decimal) -> Decimal:
    """A published rate (0.7999) as the percentage printed beside it (79.99)."""
    return round_percent(ratio * _HUNDRED)


def percent_text(ratio: Decimal) -> str:
    """A ratio as the documents print it, at 0.01 % without trailing zeros: 0.9803 → "98.03%", 0.2 → "20%"."""
    text = f"{as_percent(Decimal(ratio)):f}".rstrip("0").rstrip(".")
    return f"{text}%"


def execution_rate(spent_fen: int, budget_fen: int) -> Decimal:
    """执行率 e = spending / budget at 0.01 %, the one figure the lights, the self-evaluation and the budget use.

    A project without budget counts as fully executed (1); spending above the budget gives e > 1."""
    if budget_fen == 0:
        return _ONE.quantize(RATE)
    return rate(spent_fen, budget_fen)

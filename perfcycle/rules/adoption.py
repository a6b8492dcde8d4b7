"""Adoption (采纳情况): how the budget the People's Congress adopted compares with each recommendation line.

A line is adopted when the adopted amount is the recommended one (after the approvers' overrides); not
adopted when the recommendation cut the line and the adopted amount is the whole request or more (the cut
was not applied); otherwise changed, by the difference adopted − recommended.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ADOPTED, CHANGED, NOT_ADOPTED = "adopted", "changed", "not_adopted"
ADOPTION_LABELS = {ADOPTED: "采纳", CHANGED: "调整", NOT_ADOPTED: "未采纳"}
_CENT = Decimal("0.01")


def adoption_status(request_fen: int, recommended_fen: int, adopted_fen: int) -> str:
    """adopted, changed or not adopted, for one line (amounts in 分)."""
    if adopted_fen == recommended_fen:
        return ADOPTED
    if recommended_fen < request_fen <= adopted_fen:
        return NOT_ADOPTED
    return CHANGED


def adoption_rate(adopted: int, lines: int) -> Decimal:
    """采纳率: adopted lines of all lines, in percent, half-up to 0.01."""
    if lines <= 0:
        return Decimal("0.00")
    return (Decimal(100 * adopted) / Decimal(lines)).quantize(_CENT, rounding=ROUND_HALF_UP)

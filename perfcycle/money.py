"""Money in 万元 with 2 decimals, stored as integer 分 so no binary float ever touches it."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_WAN = 1_000_000  # 1 万元 = 10 000 元 = 1 000 000 分
CENT = Decimal("0.01")
THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")


class MoneyError(ValueError):
    """A value that cannot be an amount of money in 万元."""


def to_decimal(value: object) -> Decimal:
    """Read a number from a spreadsheet cell or text without going through float rounding."""
    if isinstance(value, bool):
        raise MoneyError(f"不是金额: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace("，", ",")
        if "," in text:
            if not THOUSANDS.fullmatch(text):
                raise MoneyError(f"不是数字: {value!r}（逗号只能作千位分隔，如 1,234.5；小数点请用“.”）")
            text = text.replace(",", "")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"不是数字: {value!r}") from exc
    else:
        raise MoneyError(f"不是数字: {value!r}")
    if not result.is_finite():
        raise MoneyError(f"不是有限数字: {value!r}")
    return result


def wan_to_fen(wan: object) -> int:
    """Convert an amount in 万元 (at most 2 decimals) to integer 分."""
    amount = to_decimal(wan)
    if amount != amount.quantize(CENT):
        raise MoneyError(f"金额最多两位小数（万元）: {wan!r}")
    return int(amount * FEN_PER_WAN)


def fen_to_wan(fen: int) -> Decimal:
    """Integer 分 back to 万元; exact because 分 → 万元 only shifts the decimal point."""
    return (Decimal(fen) / FEN_PER_WAN).quantize(Decimal("0.000001"))


def round_wan(amount: Decimal) -> Decimal:
    """Round 万元 to 0.01, half up, as a finance bureau rounds."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def fen_round_to_wan_cent(fen: Decimal | int) -> int:
    """Round an amount in 分 to a whole 0.01 万元 (10 000 分)."""
    wan = round_wan(Decimal(fen) / FEN_PER_WAN)
    return int(wan * FEN_PER_WAN)


def fmt_wan(fen: int) -> str:
    """Format 分 as 万元 with exactly 2 decimals, e.g. 16904.55."""
    return f"{round_wan(Decimal(fen) / FEN_PER_WAN):.2f}"


def spoken_wan(fen: int) -> str:
    """万元 as a sentence writes it: the same amount as `fmt_wan` without trailing zeros (363.00 → 363, 2090.50 →
    2090.5); a table keeps the two decimals."""
    text = fmt_wan(fen)
    return text.rstrip("0").rstrip(".") if "." in text else text

"""Money is exact: 万元 with 2 decimals, stored as integer 分."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfcycle.money import MoneyError, fen_to_wan, fmt_wan, round_wan, to_decimal, wan_to_fen


def test_spreadsheet_floats_keep_their_decimal_value() -> None:
    assert wan_to_fen(16904.55) == 16_904_550_000
    assert fmt_wan(wan_to_fen(0.1) + wan_to_fen(0.2)) == "0.30"
    assert fen_to_wan(2_090_550_000) == Decimal("2090.55")


@pytest.mark.parametrize("value", ["abc", float("nan"), float("inf"), True, None, "1.234"])
def test_what_is_not_money_is_refused(value: object) -> None:
    with pytest.raises(MoneyError):
        wan_to_fen(value)


def test_thousands_separators_and_rounding_half_up() -> None:
    assert to_decimal("1,234.50") == Decimal("1234.50")
    assert round_wan(Decimal("0.005")) == Decimal("0.01")
    assert round_wan(Decimal("0.004999")) == Decimal("0.00")


@pytest.mark.parametrize(
    ("text", "amount"),
    [("12,345", "12345"), ("1,234,567.8", "1234567.8"), ("-1,000", "-1000"), ("1，000", "1000"), ("999", "999")],
)
def test_commas_that_group_thousands_are_read(text: str, amount: str) -> None:
    assert to_decimal(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["1,5", "12,345,6", "1,23", "1234,567", ",123", "1,,234", "1,234.5,6"])
def test_a_comma_that_is_not_a_thousands_separator_is_refused(text: str) -> None:
    with pytest.raises(MoneyError, match="逗号只能作千位分隔"):
        to_decimal(text)

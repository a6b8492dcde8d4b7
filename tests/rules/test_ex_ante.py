"""Ex-ante assessment: scope threshold, score sheet validation, conclusions and cuts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfcycle.money import wan_to_fen
from perfcycle.policy import ExAntePolicy, load_policy
from perfcycle.rules.ex_ante import (
    CONCLUSION_ADJUST,
    CONCLUSION_REJECT,
    CONCLUSION_SUPPORT,
    ex_ante_conclusion,
    ex_ante_cut,
    ex_ante_total,
    needs_ex_ante,
)

D = Decimal


@pytest.fixture(scope="module")
def ea() -> ExAntePolicy:
    return load_policy(2024).ex_ante


def test_conclusion_labels() -> None:
    assert (CONCLUSION_SUPPORT, CONCLUSION_ADJUST, CONCLUSION_REJECT) == (
        "予以支持",
        "调整后支持",
        "不予支持",
    )


@pytest.mark.parametrize(
    ("attribute", "request_wan", "expected"),
    [
        ("新增", "500.00", True),
        ("新增", "499.99", False),
        ("延续", "500.00", True),
        ("延续", "12000", True),
        ("延续", "499.99", False),
        ("经常性", "500.00", False),
        ("经常性", "99999", False),
    ],
)
def test_needs_ex_ante(attribute: str, request_wan: str, expected: bool, ea: ExAntePolicy) -> None:
    assert needs_ex_ante(attribute, wan_to_fen(request_wan), ea) is expected


def test_needs_ex_ante_one_fen_below(ea: ExAntePolicy) -> None:
    assert needs_ex_ante("新增", wan_to_fen("500.00") - 1, ea) is False


def sheet(ea: ExAntePolicy, **overrides: str) -> dict[str, Decimal]:
    scores = {dimension: D("16") for dimension in ea.dimensions}
    scores.update({k: D(v) for k, v in overrides.items()})
    return scores


def test_total(ea: ExAntePolicy) -> None:
    assert ex_ante_total(sheet(ea), ea) == D("80")
    assert ex_ante_total(sheet(ea, 立项必要性="20", 筹资合规性="0"), ea) == D("68")
    assert ex_ante_total(sheet(ea, 立项必要性="20", 投入经济性="20", 筹资合规性="20"), ea) == D("92")
    assert ex_ante_total(sheet(ea, 投入经济性="15.5"), ea) == D("79.5")


def test_total_missing_dimension(ea: ExAntePolicy) -> None:
    scores = sheet(ea)
    del scores["筹资合规性"]
    with pytest.raises(ValueError, match="筹资合规性"):
        ex_ante_total(scores, ea)


@pytest.mark.parametrize("bad", ["20.01", "-0.01", "NaN"])
def test_total_out_of_range(bad: str, ea: ExAntePolicy) -> None:
    with pytest.raises(ValueError, match="实施方案可行性"):
        ex_ante_total(sheet(ea, 实施方案可行性=bad), ea)


def test_total_unknown_dimension(ea: ExAntePolicy) -> None:
    with pytest.raises(ValueError, match="创新性"):
        ex_ante_total({**sheet(ea), "创新性": D("5")}, ea)


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("100", CONCLUSION_SUPPORT),
        ("80", CONCLUSION_SUPPORT),
        ("79.99", CONCLUSION_ADJUST),
        ("60", CONCLUSION_ADJUST),
        ("59.99", CONCLUSION_REJECT),
        ("0", CONCLUSION_REJECT),
        ("79.995", CONCLUSION_SUPPORT),  # concluded on the published total, 80.00
        ("79.994", CONCLUSION_ADJUST),
        ("59.995", CONCLUSION_ADJUST),
    ],
)
def test_conclusion_boundaries(total: str, expected: str, ea: ExAntePolicy) -> None:
    assert ex_ante_conclusion(D(total), ea) == expected


def test_cut() -> None:
    request = wan_to_fen("1200.00")
    assert ex_ante_cut(CONCLUSION_REJECT, request, 0) == request
    assert ex_ante_cut(CONCLUSION_REJECT, request, wan_to_fen("100")) == request
    assert ex_ante_cut(CONCLUSION_ADJUST, request, wan_to_fen("300.55")) == wan_to_fen("300.55")
    assert ex_ante_cut(CONCLUSION_SUPPORT, request, 0) == 0
    assert ex_ante_cut(CONCLUSION_SUPPORT, request, -5) == 0
    assert ex_ante_cut(CONCLUSION_ADJUST, request, request + 1) == request


def test_cut_unknown_conclusion() -> None:
    with pytest.raises(ValueError):
        ex_ante_cut("随便", 100, 10)

"""Completeness check of submitted performance targets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfcycle.policy import TargetsPolicy, load_policy
from perfcycle.rules.targets import TargetIndicator, check_targets

D = Decimal
RUNNING = "机构运行保障类"
DEVELOPMENT = "事业发展类"


@pytest.fixture(scope="module")
def tp() -> TargetsPolicy:
    return load_policy(2024).targets


def ind(level: str, name: str = "", op: str = "≥", value: str | None = "1", unit: str = "个") -> TargetIndicator:
    return TargetIndicator(
        level1=level, operator=op, target_value=None if value is None else D(value), unit=unit, name=name
    )


COMPLETE = [ind("产出", "培训人次"), ind("效益", "群众受益", op="定性", value=None, unit="")]


def test_no_indicators(tp: TargetsPolicy) -> None:
    assert check_targets(RUNNING, [], tp) == ["未填报绩效指标"]


def test_complete_running_project(tp: TargetsPolicy) -> None:
    assert check_targets(RUNNING, COMPLETE, tp) == []


def test_development_project_needs_satisfaction(tp: TargetsPolicy) -> None:
    assert check_targets(DEVELOPMENT, COMPLETE, tp) == ["缺少满意度指标"]
    with_satisfaction = [*COMPLETE, ind("满意度", "服务对象满意度", value="90", unit="%")]
    assert check_targets(DEVELOPMENT, with_satisfaction, tp) == []


def test_missing_each_required_level(tp: TargetsPolicy) -> None:
    assert check_targets(RUNNING, [ind("产出", "a")], tp) == ["缺少效益指标"]
    assert check_targets(RUNNING, [ind("效益", "a")], tp) == ["缺少产出指标"]
    assert check_targets(DEVELOPMENT, [ind("满意度", "a")], tp) == ["缺少产出指标", "缺少效益指标"]


def test_quantitative_needs_target_and_unit(tp: TargetsPolicy) -> None:
    indicators = [
        ind("产出", "覆盖户数", value=None),
        ind("产出", "完成率", unit="  "),
        ind("效益", "节约资金", value=None, unit=""),
        ind("效益", "", op="=", value=None),
    ]
    assert check_targets(RUNNING, indicators, tp) == [
        "指标「覆盖户数」缺少目标值",
        "指标「完成率」缺少计量单位",
        "指标「节约资金」缺少目标值和计量单位",
        "指标「第4项」缺少目标值",
    ]


@pytest.mark.parametrize("op", ["≥", "≤", "="])
def test_every_quantitative_operator_checked(op: str, tp: TargetsPolicy) -> None:
    indicators = [ind("产出", "x", op=op, value=None), ind("效益", "y")]
    assert check_targets(RUNNING, indicators, tp) == ["指标「x」缺少目标值"]


def test_zero_target_is_a_target(tp: TargetsPolicy) -> None:
    indicators = [ind("产出", "事故数", op="≤", value="0", unit="起"), ind("效益", "y")]
    assert check_targets(RUNNING, indicators, tp) == []


def test_levels_come_from_policy(tp: TargetsPolicy) -> None:
    strict = tp.model_copy(update={"required_levels": ["产出", "效益", "满意度"]})
    assert check_targets(RUNNING, COMPLETE, strict) == ["缺少满意度指标"]
    assert check_targets(DEVELOPMENT, COMPLETE, strict) == ["缺少满意度指标"]  # not reported twice

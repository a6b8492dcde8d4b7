"""Default proposal of the key fiscal evaluation objects."""

from __future__ import annotations

import pytest

from perfcycle.money import wan_to_fen
from perfcycle.policy import FiscalEvaluationPolicy, load_policy
from perfcycle.rules.selection import (
    ProjectCandidate,
    SelectedObject,
    SimpleCandidate,
    propose_department_evaluation,
    propose_selection,
    selection_total,
)


@pytest.fixture(scope="module")
def fp() -> FiscalEvaluationPolicy:
    return load_policy(2024).fiscal_evaluation


def project(code: str, wan: str, policy_related: bool = False, high_attention: bool = False) -> ProjectCandidate:
    return ProjectCandidate(code, f"项目{code}", wan_to_fen(wan), policy_related, high_attention)


def simple(code: str, wan: str) -> SimpleCandidate:
    return SimpleCandidate(code, f"对象{code}", wan_to_fen(wan))


def projects_of(selected: list[SelectedObject]) -> list[str]:
    return [s.code for s in selected if s.object_type == "project"]


def test_budget_threshold_boundary(fp: FiscalEvaluationPolicy) -> None:
    selected = propose_selection([project("P1", "1000.00"), project("P2", "999.99")], [], [], set(), fp)
    assert selected == [SelectedObject("project", "P1", "项目P1", wan_to_fen("1000.00"), 1, "金额较大")]


def test_flags_make_small_projects_eligible(fp: FiscalEvaluationPolicy) -> None:
    selected = propose_selection(
        [
            project("P1", "10", policy_related=True),
            project("P2", "20", high_attention=True),
            project("P3", "30"),
        ],
        [],
        [],
        set(),
        fp,
    )
    assert [(s.code, s.rank, s.reason) for s in selected] == [
        ("P2", 1, "社会关注度高"),
        ("P1", 2, "政策相关"),
    ]


def test_reason_lists_every_ground(fp: FiscalEvaluationPolicy) -> None:
    selected = propose_selection([project("P1", "5000", True, True)], [], [], set(), fp)
    assert selected[0].reason == "政策相关、社会关注度高、金额较大"


def test_largest_projects_with_code_tiebreak(fp: FiscalEvaluationPolicy) -> None:
    candidates = [project(f"P{i:02d}", str(1000 + i)) for i in range(1, 13)]
    candidates += [project("A00", "1012"), project("Z00", "1012")]
    selected = propose_selection(candidates, [], [], set(), fp)
    assert projects_of(selected) == ["A00", "P12", "Z00", "P11", "P10", "P09", "P08", "P07", "P06"]
    assert [s.rank for s in selected] == list(range(1, 10))


def test_recently_evaluated_are_skipped(fp: FiscalEvaluationPolicy) -> None:
    selected = propose_selection(
        [project("P1", "3000"), project("P2", "2000"), project("D1", "4000")],
        [simple("Z1", "900"), simple("Z2", "800")],
        [simple("D1", "9000"), simple("D2", "7000"), simple("D3", "5000")],
        {("project", "P1"), ("policy", "Z1"), ("department", "D2")},
        fp,
    )
    assert [(s.object_type, s.code, s.rank) for s in selected] == [
        ("project", "D1", 1),  # a department code on the project list is a different object
        ("project", "P2", 2),
        ("policy", "Z2", 1),
        ("department", "D1", 1),
        ("department", "D3", 2),
    ]


def test_counts_come_from_policy(fp: FiscalEvaluationPolicy) -> None:
    policies = [simple("Z1", "100"), simple("Z2", "300"), simple("Z3", "200")]
    departments = [simple("D1", "100"), simple("D2", "300"), simple("D3", "200")]
    selected = propose_selection([], policies, departments, set(), fp)
    assert [(s.object_type, s.code) for s in selected] == [
        ("policy", "Z2"),
        ("department", "D2"),
        ("department", "D3"),
    ]
    wider = fp.model_copy(update={"policies": 2, "departments": 0})
    selected = propose_selection([], policies, departments, set(), wider)
    assert [(s.object_type, s.code, s.rank) for s in selected] == [("policy", "Z2", 1), ("policy", "Z3", 2)]


def test_fewer_eligible_than_asked(fp: FiscalEvaluationPolicy) -> None:
    selected = propose_selection([project("P1", "1500")], [], [simple("D1", "10")], set(), fp)
    assert [(s.object_type, s.code) for s in selected] == [("project", "P1"), ("department", "D1")]
    assert propose_selection([], [], [], set(), fp) == []


def test_selection_total(fp: FiscalEvaluationPolicy) -> None:
    selected = propose_selection(
        [project("P1", "1000.01"), project("P2", "2500.50")],
        [simple("Z1", "300.25")],
        [simple("D1", "12000.00")],
        set(),
        fp,
    )
    assert selection_total(selected) == wan_to_fen("15800.76")
    assert selection_total([]) == 0


def test_department_evaluation_proposal() -> None:
    projects = [
        ("P1", "机构运行保障类", wan_to_fen("9000")),
        ("P2", "事业发展类", wan_to_fen("300")),
        ("P4", "事业发展类", wan_to_fen("500")),
        ("P3", "事业发展类", wan_to_fen("500")),
    ]
    assert propose_department_evaluation(projects, "事业发展类") == "P3"
    assert propose_department_evaluation(projects[:1], "事业发展类") is None
    assert propose_department_evaluation([], "事业发展类") is None

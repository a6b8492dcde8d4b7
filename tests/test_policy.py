"""The year's policy file: every default present, validated on load, recorded by the cycle."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from perfcycle.policy import PolicyError, load_policy, load_policy_file, policy_from_json

POLICY_2024 = Path(__file__).parents[1] / "perfcycle" / "policies" / "2024.yaml"


def test_defaults_of_the_specification() -> None:
    policy = load_policy(2024)
    assert policy.budget_year == 2026
    assert policy.ex_ante.min_request_wan == Decimal("500.00")
    assert policy.monitoring.time_progress == {"Q1": 25, "Q2": 50, "Q3": 75, "Q4": 100}
    assert (policy.monitoring.yellow_gap, policy.monitoring.red_gap) == (10, 30)
    assert [(b.grade, b.min) for b in policy.grades] == [("优", 90), ("良", 80), ("中", 60), ("差", 0)]
    assert policy.sampling.ratio == Decimal("0.20")
    assert (policy.fiscal_evaluation.projects, policy.fiscal_evaluation.policies) == (9, 1)
    assert policy.budget.grade_cut["中"] == Decimal("0.10")


def test_documents_are_numbered_and_framed_from_the_policy() -> None:
    policy = load_policy(2024)
    assert policy.document_code("抽查复核结果") == "烈财绩复" and policy.document_code("工作开展情况说明") == "烈财"
    assert policy.document_mark("抽查复核结果") == "烈山区财政局文件"
    assert policy.document_mark("绩效监控提醒函") == "烈山区财政局"  # a 函
    assert (policy.documents.contact, policy.printer()) == ("周晓梅", "烈山区财政局办公室")
    # A policy recorded before the documents' section existed: one 代字 of the district for every kind.
    recorded = json.loads(policy.as_json())
    del recorded["documents"]
    older = policy_from_json(json.dumps(recorded, ensure_ascii=False))
    assert {older.document_code(kind) for kind in policy.documents.codes} == {"烈财"}
    assert older.document_mark("绩效监控提醒函") == "烈山区财政局文件" and older.printer() == "烈山区财政局办公室"


def test_a_year_without_a_file_uses_the_latest_earlier_one() -> None:
    policy = load_policy(2025)
    assert policy.year == 2025 and policy.budget_year == 2027


def test_a_year_before_any_file_is_refused() -> None:
    with pytest.raises(PolicyError, match="没有 2019 年或更早"):
        load_policy(2019)


def test_the_recorded_policy_round_trips() -> None:
    policy = load_policy(2024)
    assert policy_from_json(policy.as_json()) == policy
    assert policy_from_json(policy.as_json()).digest() == policy.digest()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("red_gap: 30", "red_gap: 5", "yellow_gap must not exceed red_gap"),
        ('ratio: "0.20"', 'ratio: "1.5"', "sampling.ratio"),
        ('{优: "0", 良: "0", 中: "0.10", 差: "1.00"}', '{优: "0", 良: "0", 中: "0.10"}', "差"),
        ("budget_year_offset: 2 ", "budget_year_offset: two ", "budget_year_offset"),
        ("  support_min: 80", "  support_min: 80\n  surprise: 1", "ex_ante.surprise"),
        ("{预算执行: 10, 产出: 50, 效益: 30, 满意度: 10}", "{预算执行: 10, 产出: 50, 效益: 30, 满意度: 20}", "100"),
        ("project_code: LS2018-136-01", 'project_code: "../LS2018"', "编码「../LS2018」含有路径分隔符「/」"),
        ("    抽查复核结果: 烈财绩复", "    抽查复核结论: 烈财绩复", "documents.codes"),
        ("    抽查复核结果: 烈财绩复", "    抽查复核结果: 烈财绩〔2024〕", "documents.codes.抽查复核结果"),
    ],
)
def test_a_broken_policy_names_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = POLICY_2024.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "2024.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_policy_file(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "2024.yaml"
    path.write_text("year: [2024", encoding="utf-8")
    with pytest.raises(PolicyError, match="不是有效的 YAML"):
        load_policy_file(path)


def test_a_file_is_parsed_again_only_when_its_bytes_change(tmp_path: Path) -> None:
    path = tmp_path / "2024.yaml"
    text = POLICY_2024.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = load_policy_file(path)
    assert load_policy_file(path) is first
    # same size, same moment: only the bytes tell the edit apart
    path.write_text(text.replace("yellow_gap: 10", "yellow_gap: 12"), encoding="utf-8")
    edited = load_policy_file(path)
    assert edited.monitoring.yellow_gap == 12 and first.monitoring.yellow_gap == 10
    path.write_bytes("year: 2024\n# 注释".encode("gbk"))
    with pytest.raises(PolicyError, match="不是 UTF-8 文本"):
        load_policy_file(path)


def test_a_recorded_policy_this_version_cannot_read_is_a_policy_error() -> None:
    recorded = json.loads(load_policy(2024).as_json())
    recorded["budget"]["grade_cut"] = "half"
    with pytest.raises(PolicyError, match=re.escape("周期记录的年度策略无法读取（字段 budget.grade_cut")):
        policy_from_json(json.dumps(recorded))


def test_a_policy_file_added_after_the_folder_was_listed_gives_its_limits(tmp_path: Path) -> None:
    """The year's limits are asked at every upload, so the folder's listing is kept while the folder is unchanged:
    a file added, renamed or removed since is seen at once."""
    import os
    import time

    from perfcycle.policy import ImportsPolicy, import_limits

    text = POLICY_2024.read_text(encoding="utf-8").replace("max_file_mb: 50 ", "max_file_mb: 3 ")
    (tmp_path / "2030.yaml").write_text(text.replace("year: 2024", "year: 2030"), encoding="utf-8")
    an_hour_ago = time.time() - 3600
    os.utime(tmp_path, (an_hour_ago, an_hour_ago))
    assert import_limits(2024, tmp_path) == ImportsPolicy()  # no file for 2024 or before: the defaults
    assert import_limits(2024, tmp_path) == ImportsPolicy()  # and again from the kept listing

    (tmp_path / "2023.yaml").write_text(text.replace("year: 2024", "year: 2023"), encoding="utf-8")
    assert import_limits(2024, tmp_path).max_file_mb == 3  # the folder changed: listed again
    os.utime(tmp_path, (an_hour_ago + 60, an_hour_ago + 60))  # as it looks once the change is old
    assert import_limits(2024, tmp_path).max_file_mb == 3

    (tmp_path / "2023.yaml").unlink()
    os.utime(tmp_path, (an_hour_ago + 120, an_hour_ago + 120))  # removed long ago, in the folder's own time
    assert import_limits(2024, tmp_path) == ImportsPolicy()

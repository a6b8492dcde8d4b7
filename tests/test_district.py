"""A new district sets itself up: `perfcycle init` writes its policy file (name, 发文机关, approvers, calendar),
validated like any other, in the folder every later command reads (policies/ of the working folder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perfcycle.cli import app
from perfcycle.district import COORDINATORS_PLACEHOLDER, LEADERS_PLACEHOLDER, split_names, write_policy
from perfcycle.policy import PolicyError, load_policy
from perfcycle.settings import DEMO_POLICY_DIR, get_settings
from perfcycle.workbooks.formats import BASE
from perfcycle.workbooks.writer import write_workbook

runner = CliRunner()
YEAR = 2025
DISTRICT_SPECIFIC = {"year", "district", "issuer", "approvals", "cost_pilot", "documents"}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A district's own working folder, with no PERFCYCLE_POLICY_DIR: the settings' default applies."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERFCYCLE_POLICY_DIR", raising=False)
    monkeypatch.setenv("PERFCYCLE_DATABASE_URL", f"sqlite:///{tmp_path / 'perfcycle.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _base_workbook(path: Path) -> Path:
    department = {"code": "101", "name": "区教育局", "contact": "张敏", "email": "a@example.invalid", "head": "李强"}
    project = {
        "code": "P1", "department_code": "101", "name": "义务教育保障", "type": "事业发展类", "attribute": "新增",
        "budget_wan": Decimal("600"), "request_wan": Decimal("600"), "policy_related": False, "high_attention": False,
    }  # fmt: skip
    return write_workbook(path, BASE, {"部门": [department], "项目": [project]})


def test_without_a_policy_file_a_district_is_told_to_run_init(workdir: Path) -> None:
    result = runner.invoke(app, ["policy", "show", "--year", str(YEAR)])
    assert result.exit_code == 1
    assert f"perfcycle init --district 区县名称 --year {YEAR}" in result.output
    assert "Traceback" not in result.output


def test_init_then_db_upgrade_template_import_as_the_readme_says(workdir: Path) -> None:
    result = runner.invoke(
        app,
        ["init", "--district", "青山区", "--year", str(YEAR), "--coordinators", "王芳、赵磊", "--leaders", "孙伟"],
    )
    assert result.exit_code == 0, result.output
    assert "已写出 policies/2025.yaml：青山区 2025 年度策略（发文机关 青山区财政局" in result.output
    assert "perfcycle db upgrade" in result.output and f"perfcycle import 基础数据.xlsx --year {YEAR}" in result.output

    policy = load_policy(YEAR)  # the default folder: policies/ of the working folder
    assert (policy.district, policy.issuer, policy.cost_pilot.project_code) == ("青山区", "青山区财政局", None)
    assert policy.approvals.level("targets", 1).approvers == ["王芳", "赵磊"]  # type: ignore[union-attr]
    assert policy.approvals.level("budget_table", 2).approvers == ["孙伟"]  # type: ignore[union-attr]
    assert policy.approvals.levels("annual_report") == [2] and policy.placeholders() == []
    assert policy.calendar.deadline("targets", None, YEAR).isoformat() == "2025-01-31"

    shown = runner.invoke(app, ["policy", "show", "--year", str(YEAR), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.output)["district"] == "青山区"

    upgraded = runner.invoke(app, ["db", "upgrade"])  # perfcycle.db of the working folder
    assert upgraded.exit_code == 0 and "已创建数据库" in upgraded.output, upgraded.output
    assert runner.invoke(app, ["template", "base", "--out", "基础数据.xlsx"]).exit_code == 0
    _base_workbook(workdir / "基础数据.xlsx")
    imported = runner.invoke(app, ["import", "基础数据.xlsx", "--year", str(YEAR)])
    assert imported.exit_code == 0, imported.output
    assert "已导入" in imported.output


def test_init_keeps_an_existing_file_unless_forced(workdir: Path) -> None:
    assert runner.invoke(app, ["init", "--district", "青山区", "--year", str(YEAR)]).exit_code == 0
    path = workdir / "policies" / f"{YEAR}.yaml"
    before = path.read_bytes()
    again = runner.invoke(app, ["init", "--district", "白山区", "--year", str(YEAR)])
    assert again.exit_code == 1 and "已存在" in again.output and "--force" in again.output
    assert path.read_bytes() == before
    forced = runner.invoke(app, ["init", "--district", "白山区", "--year", str(YEAR), "--force"])
    assert forced.exit_code == 0 and load_policy(YEAR).district == "白山区"


def test_approvers_not_given_are_placeholders_marked_to_fill_in(workdir: Path) -> None:
    result = runner.invoke(app, ["init", "--district", "青山区", "--year", str(YEAR)])
    assert result.exit_code == 0, result.output
    assert "第1级审批人、第2级审批人、附注联系人尚未给出" in result.output and "待填写" in result.output
    policy = load_policy(YEAR)
    assert policy.approvals.level("sample", 1).approvers == [COORDINATORS_PLACEHOLDER]  # type: ignore[union-attr]
    assert policy.approvals.level("annual_report", 2).approvers == [LEADERS_PLACEHOLDER]  # type: ignore[union-attr]
    shown = runner.invoke(app, ["policy", "show", "--year", str(YEAR)])
    assert shown.exit_code == 0 and "仍是「待填写」占位" in shown.output


def test_another_folder_is_named_with_the_setting_to_use(workdir: Path) -> None:
    result = runner.invoke(app, ["init", "--district", "青山区", "--year", str(YEAR), "--policy-dir", "rules"])
    assert result.exit_code == 0, result.output
    assert f"PERFCYCLE_POLICY_DIR={workdir / 'rules'}" in result.output
    assert load_policy(YEAR, workdir / "rules").district == "青山区"
    assert not (workdir / "policies").exists()


def test_a_new_district_starts_from_the_demos_rules_but_none_of_its_own(tmp_path: Path) -> None:
    new = write_policy(tmp_path, "青山区", 2024, cost_pilot="QS-01").policy
    demo = load_policy(2024, DEMO_POLICY_DIR)
    assert new.model_dump(exclude=DISTRICT_SPECIFIC) == demo.model_dump(exclude=DISTRICT_SPECIFIC)
    assert new.cost_pilot.project_code == "QS-01"
    assert new.approvals.contacts == {} and new.approvals.gates.keys() == demo.approvals.gates.keys()
    assert {g: sorted(levels) for g, levels in new.approvals.gates.items()} == {
        g: sorted(levels) for g, levels in demo.approvals.gates.items()
    }


def test_a_new_districts_documents_carry_its_own_name_and_numbers(tmp_path: Path) -> None:
    """The 公文 frame starts from the district: its 机关代字, 印发机关, and the first coordinator as the 附注 contact."""
    policy = write_policy(tmp_path, "青山区", YEAR, coordinators=["王芳", "赵磊"], leaders=["孙伟"]).policy
    demo = load_policy(2024, DEMO_POLICY_DIR)
    assert policy.document_code("抽查复核结果") == "青财绩复" and policy.document_code("工作开展情况说明") == "青财"
    assert set(policy.documents.codes) == set(demo.documents.codes)
    assert (policy.document_mark("抽查复核结果"), policy.document_mark("绩效监控提醒函")) == (
        "青山区财政局文件",
        "青山区财政局",
    )
    assert (policy.printer(), policy.documents.contact) == ("青山区财政局办公室", "王芳")
    assert policy.documents.copy_to and policy.placeholders() == []
    odd = write_policy(tmp_path / "odd", "#1 区", YEAR).policy
    assert odd.document_code("绩效自评汇总") == "区财绩自" and odd.placeholders() == [
        "第1级审批人",
        "第2级审批人",
        "附注联系人",
    ]


def test_any_name_is_written_as_given(tmp_path: Path) -> None:
    odd = 'A区: "#1" & {x}'
    policy = write_policy(
        tmp_path, odd, YEAR, issuer="  某市A区财政局 ", coordinators=["甲: 乙"], leaders=["#丙"]
    ).policy
    assert (policy.district, policy.issuer) == (odd, "某市A区财政局")
    assert policy.approvals.level("targets", 1).approvers == ["甲: 乙"]  # type: ignore[union-attr]
    assert policy.approvals.level("budget_table", 2).approvers == ["#丙"]  # type: ignore[union-attr]


def test_one_person_at_both_levels_or_no_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="王芳 不能既是第1级审批人又是第2级审批人"):
        write_policy(tmp_path, "青山区", YEAR, coordinators=["王芳"], leaders=["王芳"])
    with pytest.raises(PolicyError, match="区县名称"):
        write_policy(tmp_path, "  ", YEAR)
    assert not (tmp_path / f"{YEAR}.yaml").exists()


def test_names_split_on_commas_and_dunhao() -> None:
    assert split_names(["王芳、赵磊", "孙伟,王芳", " 李娜，周洋 "]) == ["王芳", "赵磊", "孙伟", "李娜", "周洋"]
    assert split_names(None) == []

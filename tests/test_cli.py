"""The `perfcycle` command as a person at a terminal uses it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from models import Cycle
from perfcycle.cli import app
from perfcycle.documents.renderer import docx_text
from perfcycle.workbooks.formats import BASE, REVIEW_SCORES
from tests.documents.records import arrange

runner = CliRunner()


def test_policy_show_prints_the_validated_policy() -> None:
    result = runner.invoke(app, ["policy", "show", "--year", "2024", "--json"])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.output)
    assert policy["year"] == 2024
    assert policy["budget_year_offset"] == 2
    assert policy["monitoring"]["red_gap"] == "30"


def test_policy_show_names_the_broken_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (Path(__file__).parents[1] / "perfcycle" / "policies" / "2024.yaml").read_text(encoding="utf-8")
    (tmp_path / "2024.yaml").write_text(text.replace("red_gap: 30", "red_gap: 5"), encoding="utf-8")
    monkeypatch.setenv("PERFCYCLE_POLICY_DIR", str(tmp_path))
    from perfcycle.settings import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["policy", "show", "--year", "2024"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "yellow_gap must not exceed red_gap" in result.output
    assert "Traceback" not in result.output


def test_template_writes_chinese_headers(tmp_path: Path) -> None:
    target = tmp_path / "base.xlsx"
    result = runner.invoke(app, ["template", "base", "--out", str(target)])
    assert result.exit_code == 0, result.output
    workbook = openpyxl.load_workbook(target)
    assert workbook.sheetnames == [s.name for s in BASE.sheets]
    assert [c.value for c in workbook["项目"][1]] == BASE.sheet("项目").headers


def test_template_refuses_an_unknown_kind() -> None:
    result = runner.invoke(app, ["template", "nonsense"])
    assert result.exit_code == 2
    assert "未知的表格类型" in result.output


def test_template_with_a_year_prefills_the_score_sheet_from_the_database(session: Session, tmp_path: Path) -> None:
    arrange(session)
    target = tmp_path / "复核评分表.xlsx"
    result = runner.invoke(app, ["template", "review_scores", "--year", "2024", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "抽中 2 个部门，共 3 个项目" in result.output
    sheet = openpyxl.load_workbook(target)["复核评分"]
    assert [row[:4] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        ("D05", "测试部门05", "P06", "测试项目06"),
        ("D05", "测试部门05", "P07", "测试项目07"),
        ("D06", "测试部门06", "P08", "测试项目08"),
    ]

    evaluation = tmp_path / "评价评分表.xlsx"
    result = runner.invoke(app, ["template", "third_party_scores", "--year", "2024", "--out", str(evaluation)])
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(evaluation)["重点评价"]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["项目", "项目", "政策", "部门"]

    result = runner.invoke(app, ["template", "review_scores", "--year", "2030", "--out", str(target)])
    assert result.exit_code == 1 and "数据库中没有 2030 年度的绩效管理周期" in result.output
    result = runner.invoke(app, ["template", "targets", "--year", "2024", "--out", str(tmp_path / "t.xlsx")])
    assert result.exit_code == 2 and "可以按年度预填" in result.output


def test_template_with_a_year_before_the_draw_writes_the_blank_sheet(session: Session, tmp_path: Path) -> None:
    session.add(Cycle(year=2025, budget_year=2027))
    session.commit()
    target = tmp_path / "复核评分表.xlsx"
    result = runner.invoke(app, ["template", "review_scores", "--year", "2025", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "2025 年度周期尚未抽样，已写出空白模板" in result.output
    sheet = openpyxl.load_workbook(target)["复核评分"]
    assert [row for row in sheet.iter_rows(values_only=True)] == [tuple(REVIEW_SCORES.sheets[0].headers)]


def test_import_of_a_bad_workbook_names_each_problem_and_writes_nothing(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "基础数据.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "部门"
    sheet.append(BASE.sheet("部门").headers)
    sheet.append(["101", "区教育局", "张三", "a@example.invalid", None, "李四", None])
    projects = workbook.create_sheet("项目")
    projects.append(BASE.sheet("项目").headers)
    projects.append(["P1", "101", "义务教育", "事业发展类", "经常性", "abc", "10", "否", "否"])
    projects.append(["P2", "999", "学前教育", "事业发展类", "经常性", "10", "10", "否", "否"])
    workbook.save(path)

    result = runner.invoke(app, ["import", str(path), "--year", "2024", "--database-url", db_url])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "第 2 行" in result.output and "年度预算（万元）" in result.output
    assert "999" in result.output
    from sqlmodel import Session, func, select

    from models import Department, get_engine

    with Session(get_engine(db_url)) as session:
        assert session.exec(select(func.count()).select_from(Department)).one() == 0


def _prefect_runs(home: Path) -> tuple[list[tuple[str, str]], list[str]]:
    with sqlite3.connect(home / "prefect.db") as db:
        flows = db.execute("SELECT name, state_type FROM flow_run ORDER BY start_time").fetchall()
        tasks = [row[0] for row in db.execute("SELECT state_type FROM task_run").fetchall()]
    return flows, tasks


def _table_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        tables = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite%'"  # not SQLite's own
        names = [r[0] for r in conn.execute(tables)]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}


@pytest.mark.prefect
def test_demo_command_end_to_end(tmp_path: Path) -> None:
    """`perfcycle demo --json` in a fresh process: seed figures, a clean terminal, complete run history."""
    out_dir = tmp_path / "demo"
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))}
    env["PREFECT_HOME"] = str(home)
    command = [sys.executable, "-m", "perfcycle", "demo", "--year", "2024", "--out", str(out_dir), "--json"]

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)

    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["ex_ante"] == {"units": 4, "projects": 10, "amount_wan": 16904.55, "cut_wan": 2090.55}
    assert summary["monitoring"]["departments_covered"] == 54
    assert summary["sampling"]["departments"] == 11 and summary["sampling"]["ratio"] == 0.2
    assert summary["sampling"]["cumulative_coverage"] >= 0.6
    assert summary["fiscal_evaluation"] == {"projects": 9, "policies": 1, "departments": 2, "amount_wan": 160491.47}
    assert set(summary) >= {"year", "budget_year", "departments", "projects", "self_evaluation", "budget", "documents"}
    report = out_dir / "documents" / "2024" / "关于烈山区2024年区级预算绩效管理工作开展情况的说明.docx"
    assert str(report) in summary["documents"] and report.exists()
    for noise in ("Traceback", "ERROR", "telemetry", "Failed to send"):
        assert noise not in first.stderr, first.stderr

    # The demo lives its loops before its report, which states them as `--json` does; the adoption is in --json.
    findings, disclosure, adoption = summary["findings"], summary["disclosure"], summary["adoption"]
    assert 0 < findings["closed"] < findings["responded"] < findings["registered"] and findings["overdue"] > 0
    assert disclosure["published"] > 0 and disclosure["late"] > 0
    assert adoption["changed"] > 0 and adoption["not_adopted"] > 0
    text = docx_text(report)
    assert f"共登记问题{findings['registered']}项" in text and f"经核实已整改到位{findings['closed']}项" in text
    assert f"{disclosure['late']}家部门未按期公开" in text
    assert "预算安排建议经区人大审议批准" not in text  # the 2026 budget: the next report states it
    assert f"问题整改 登记 {findings['registered']} 项" in first.stderr
    written = {p: p.read_bytes() for p in (out_dir / "documents").rglob("*") if p.is_file()}

    flows, tasks = _prefect_runs(home)
    assert ("2024 annual cycle", "COMPLETED") in flows
    assert ("2024 Q2 monitoring", "COMPLETED") in flows
    assert all(state == "COMPLETED" for _, state in flows)
    assert len(tasks) > 50 and all(state == "COMPLETED" for state in tasks)

    counts = _table_counts(out_dir / "perfcycle.db")
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.strip().splitlines()[-1]) == summary
    assert _table_counts(out_dir / "perfcycle.db") == counts
    assert {p: p.read_bytes() for p in (out_dir / "documents").rglob("*") if p.is_file()} == written


SCRIPT = """import sys
from perfcycle import cli
if __name__ == "__main__":
    if sys.argv[1:] == ["as-module"]:
        cli.spawn_as_module()
    import multiprocessing
    from tests.workbooks import probe
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print(pool.apply(probe.loaded, ("perfcycle.cli",)))
"""


def test_workers_spawned_by_the_perfcycle_script_do_not_import_the_cli_again(tmp_path: Path) -> None:
    script = tmp_path / "perfcycle"  # as the console script is named and begins
    script.write_text(SCRIPT, encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}

    def cli_in_worker(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert cli_in_worker() == "True"  # what a spawned worker does by default: run the script again
    assert cli_in_worker("as-module") == "False"


def test_db_upgrade_says_what_it_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.db import current_revision, upgrade

    url = f"sqlite:///{tmp_path / 'new.db'}"
    monkeypatch.setenv("PERFCYCLE_DATABASE_URL", url)  # the command sets it; put back afterwards
    created = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    head = current_revision(url)
    assert created.exit_code == 0 and head is not None
    assert f"已创建数据库（迁移版本 {head}）" in created.output, created.output
    again = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert f"数据库已是最新（迁移版本 {head}），未做改动" in again.output, again.output

    older = f"sqlite:///{tmp_path / 'older.db'}"
    upgrade(older, "0004")
    upgraded = runner.invoke(app, ["db", "upgrade", "--database-url", older])
    assert f"已将数据库从迁移版本 0004 升级到 {head}" in upgraded.output, upgraded.output

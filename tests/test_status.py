"""Where the cycle stands: `perfcycle status`, the stop of a run, `perfcycle approvals`, in a coordinator's words.

The cycle year is next year, so the calendar's deadlines are still ahead and departments can still owe
their forms; the stage's own tasks write the records and summaries that the standing reads back.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from sqlmodel import Session, select
from typer.testing import CliRunner

from models import Cycle, Department, DepartmentLight, WarningNotice, now
from perfcycle import collecting
from perfcycle.cli import _print_summary, app
from perfcycle.commands.status import command_lines, id_ranges, list_lines, print_stop
from perfcycle.demo import DemoFiles
from perfcycle.loaders import import_file
from perfcycle.standing import cycle_standing
from tasks.budget import publish_budget_table, recommend_budgets
from tasks.collection import check_collection_window, open_collection_window
from tasks.cycle import finish_stage, open_cycle, start_stage
from tasks.gates import request_approval
from tasks.imports import import_submissions
from tasks.summary import summarize_cycle
from tasks.targets import approve_targets, review_targets
from tests.conftest import once_per_run

YEAR = now().year + 1
STAGE = "target_setting"
OWING = ("103", "104")
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(run_shared: Path) -> DemoFiles:
    """The demo district's workbooks for next year, generated once per test run."""
    from perfcycle.demo import generate_demo

    def make(folder: Path) -> dict[str, str]:
        files = generate_demo(folder, YEAR)
        return {"base": str(files.base), "submissions": str(files.submissions)}

    paths = once_per_run(run_shared, f"demo-{YEAR}", make)
    return DemoFiles(base=Path(paths["base"]), submissions=Path(paths["submissions"]))


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[date]]:
    """The bureau's date as the window rules see it: set day[0] to move it."""
    day = [now().date()]
    monkeypatch.setattr(collecting, "today", lambda: day[0])
    yield day


@pytest.fixture
def waiting_at_targets(db_url: str, demo: DemoFiles, tmp_path: Path, on: list[date]) -> dict[str, Any]:
    """The target-setting stage run (its tasks, in order) with 103 and 104 still owing their forms."""
    import_file(demo.base, year=YEAR)
    cycle_id = int(open_cycle.fn(YEAR, auto_approve=False))
    start_stage.fn(YEAR, STAGE, cycle_id)
    root = tmp_path / "submissions"
    shutil.copytree(demo.submissions / "targets", root / "targets")
    for code in OWING:
        (root / "targets" / f"{code}.xlsx").unlink()
    window = open_collection_window.fn(cycle_id, STAGE, str(root))
    import_submissions.fn(YEAR, "targets", window["folder"])
    summary = {
        "review": review_targets.fn(cycle_id),
        "approval": approve_targets.fn(cycle_id),
        "collection": check_collection_window.fn(cycle_id, STAGE),
    }
    finish_stage.fn(cycle_id, STAGE, summary, "waiting")
    return {"cycle_id": cycle_id, **summary}


def names_of(session: Session, codes: tuple[str, ...]) -> list[str]:
    return [session.exec(select(Department).where(Department.code == c)).one().name for c in codes]


def wide_lines(text: str, width: int = 80) -> list[str]:
    return [line for line in text.splitlines() if cell_len(line) > width]


@pytest.fixture(autouse=True)
def terminal_of_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("perfcycle.commands.status", "perfcycle.commands.approvals"):
        monkeypatch.setattr(f"{module}.out", Console(width=80))


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def joined(text: str) -> str:
    """The text with each command cut over several lines (backslash, newline, indent) put back on one."""
    return re.sub(r" \\\n\s+", " ", text)


# ---------------------------------------------------------------------------------------------- the service


def test_the_standing_names_who_owes_what_until_when_and_the_gates_with_their_figures(
    session: Session, waiting_at_targets: dict[str, Any], on: list[date]
) -> None:
    standing = cycle_standing(session, YEAR)
    first, *rest = standing.stages
    assert (first.name, first.state) == ("绩效目标管理", "等待报送和审批")
    assert first.started_on == now().date() and first.finished_on is None
    assert {s.state for s in rest} == {"未开始"}
    assert next(s.due_on for s in rest if s.stage.startswith("monitoring_")) == date(YEAR, 4, 10)
    assert [s.stage for s in standing.stopped_at] == [STAGE]

    owing = names_of(session, OWING)
    assert [(o.code, o.name, o.due_on, o.overdue) for o in standing.owed] == [
        (code, name, date(YEAR, 1, 31), False) for code, name in zip(OWING, owing, strict=True)
    ]
    assert standing.owed[0].command.endswith(f"--year {YEAR} --stage targets --department 103")
    (form,) = standing.forms
    assert form.owing == tuple(owing) and form.open
    assert form.received == waiting_at_targets["collection"]["received"]

    (gate,) = standing.gates
    waiting = waiting_at_targets["approval"]["waiting_departments"]
    assert (gate.gate, gate.level, len(gate.ids)) == ("targets", 1, len(waiting))
    assert [s.code for s in gate.subjects] == waiting and not set(OWING) & set(waiting)
    review = waiting_at_targets["review"]
    assert gate.figures[0].startswith(f"{len(waiting)} 个部门，")  # the figures of the approval form
    assert (
        f"全部 {review['projects']} 个项目：目标齐全 {review['complete']}，退回修改 {review['returned']}，"
        f"未填报 {review['missing']}"
    ) in gate.figures
    assert list(gate.ids) == list(range(gate.ids[0], gate.ids[-1] + 1))
    assert gate.commands[0] == f"perfcycle approve {gate.ids[0]}-{gate.ids[-1]} --by <审批人>"
    assert set(gate.approvers) == {"周晓梅", "陈立军"}
    assert standing.next_steps()[:2] == [gate.commands[0], form.command]

    on[0] = date(YEAR, 2, 1)
    late = cycle_standing(session, YEAR)
    assert all(o.overdue for o in late.owed)


def test_red_and_yellow_departments_of_the_latest_quarter_with_their_responses(
    session: Session, waiting_at_targets: dict[str, Any], on: list[date]
) -> None:
    cycle = session.exec(select(Cycle).where(Cycle.year == YEAR)).one()
    departments = {d.code: d for d in session.exec(select(Department))}
    assert cycle_standing(session, YEAR).lights_quarter is None
    lights = {("Q1", "101"): "red", ("Q2", "101"): "green", ("Q2", "102"): "red", ("Q2", "105"): "yellow"}
    issued = {"Q1": date(YEAR, 4, 10), "Q2": date(YEAR, 7, 10)}
    for (quarter, code), light in lights.items():
        department_id = departments[code].id
        assert department_id is not None
        session.add(DepartmentLight(cycle_id=cycle.id, department_id=department_id, quarter=quarter,
                                    execution_progress=Decimal("31.50"), target_progress=Decimal("40.00"),
                                    execution_light=light, target_light=light, light=light))  # fmt: skip
        if light != "green":
            due = issued[quarter] + timedelta(days=10) if light == "red" else None
            session.add(WarningNotice(cycle_id=cycle.id, department_id=department_id, quarter=quarter, level=light,
                                      issued_on=issued[quarter], response_due=due))  # fmt: skip
    session.commit()

    on[0] = date(YEAR, 7, 15)
    standing = cycle_standing(session, YEAR)
    assert standing.lights_quarter == "Q2"
    assert [(line.code, line.light, line.response) for line in standing.lights] == [
        ("102", "红灯", "待提交（截止 07-20）"),
        ("105", "黄灯", None),
    ]
    assert standing.lights[0].command.startswith(f"perfcycle respond --year {YEAR} --quarter Q2 --department 102")
    assert standing.lights[0].command in standing.next_steps()

    output = invoke("status", "--year", str(YEAR))
    assert "二季度红灯 1 个、黄灯 1 个部门" in output
    assert departments["102"].name in output and departments["101"].name + " " not in output.split("红黄灯预警")[1]

    result = runner.invoke(app, ["respond", "--year", str(YEAR), "--quarter", "Q2", "--department", "102",
                                 "--cause", "项目招标延期", "--measures", "倒排工期"])  # fmt: skip
    assert result.exit_code == 0, result.output
    answered = cycle_standing(session, YEAR)
    assert answered.lights[0].response == "已提交" and answered.lights[0].command == ""


# ---------------------------------------------------------------------------------------------- perfcycle status


def test_status_prints_the_timeline_the_waits_the_forms_and_fits_80_columns(
    session: Session, waiting_at_targets: dict[str, Any]
) -> None:
    output = invoke("status", "--year", str(YEAR))
    assert not wide_lines(output), wide_lines(output)
    output = joined(output)
    for text in ("绩效目标管理", "等待报送和审批", "一季度绩效运行监控", "未开始", f"截止 {YEAR}-04-10",
                 "绩效目标第1级审批", "可审批人：周晓梅、陈立军", "等待报送", "perfcycle approve",
                 "--stage targets --department <部门编码>", "perfcycle close-window"):  # fmt: skip
        assert text in output, text
    owed = output.split("等待报送\n", 1)[1].split("各部门报送情况", 1)[0]
    for code, name in zip(OWING, names_of(session, OWING), strict=True):
        assert f"{name}（{code}）" in owed
    assert "target_setting" not in output

    matrix = invoke("status", "--year", str(YEAR), "--matrix")
    assert not wide_lines(matrix), wide_lines(matrix)
    rows = [line for line in matrix.splitlines() if re.match(r"^ 1\d\d ", line)]
    assert len(rows) == waiting_at_targets["collection"]["departments"]
    assert all(("待01-31" in line) == (line.split()[0] in OWING) for line in rows)

    data = json.loads(invoke("status", "--year", str(YEAR), "--json"))
    assert data["stopped_at"] == [STAGE]
    assert [o["code"] for o in data["owed"]] == list(OWING)
    assert data["stages"][1] == {
        "stage": "ex_ante_assessment",
        "name": "事前绩效评估",
        "state": "未开始",
        "started_on": None,
        "finished_on": None,
        "due_on": None,
        "note": "",
    }
    assert {row["部门编码"]: row["绩效目标"] for row in data["matrix"]}["103"] == "待提交（截止 01-31）"
    assert data["next_steps"][0].startswith("perfcycle approve ")


def test_a_year_without_a_cycle_is_one_line(db_url: str) -> None:
    result = runner.invoke(app, ["status", "--year", "2031"])
    assert result.exit_code == 1 and "没有 2031 年度的绩效管理周期" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------------------------------------- a run's stop


def test_a_stop_names_the_stage_the_gate_the_departments_and_the_commands_and_not_run_is_not_zero(
    session: Session, waiting_at_targets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = summarize_cycle.fn(waiting_at_targets["cycle_id"])
    assert summary["status"] == "open" and summary["stages"][STAGE] == "waiting"
    for block in ("ex_ante", "self_evaluation", "sampling", "fiscal_evaluation", "budget"):
        assert summary[block] is None, block
    assert summary["monitoring"] == {
        "departments_covered": None,
        "coverage": None,
        "lights": dict.fromkeys(("Q1", "Q2", "Q3", "Q4")),
    }

    console = Console(width=80, record=True)
    monkeypatch.setattr("perfcycle.cli.err", console)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    _print_summary(summary)
    text = console.export_text()
    assert not wide_lines(text), wide_lines(text)
    text = joined(text)
    assert "事前评估 未运行" in text and "预算建议 未运行" in text
    assert "0 家单位" not in text and "0.00 万元" not in text
    assert "target_setting" not in text and "等待审批或报送" not in text
    assert "周期停在：绩效目标管理（等待报送和审批）" in text
    for code, name in zip(OWING, names_of(session, OWING), strict=True):
        assert f"{name}（{code}）" in text
    assert f"{YEAR}年绩效目标申报表" in text and f"截止 {YEAR}-01-31" in text
    assert f"perfcycle submit <文件.xlsx> --year {YEAR} --stage targets --department <部门编码>" in text
    assert "perfcycle approve " in text and "--resume" in text


def test_a_stop_after_the_deadline_names_who_never_sent_beside_the_gate(
    session: Session, waiting_at_targets: dict[str, Any], on: list[date]
) -> None:
    on[0] = date(YEAR, 2, 2)
    check_collection_window.fn(waiting_at_targets["cycle_id"], STAGE)
    console = Console(width=80, record=True)
    print_stop(console, cycle_standing(session, YEAR))
    text = console.export_text()
    received = 54 - len(OWING)
    assert f"● {YEAR}年绩效目标申报表：已收到 {received}/54（截止 {YEAR}-01-31），2 个部门逾期未报送" in text
    for name in names_of(session, OWING):
        assert name in text
    assert "等待 " not in text  # nobody is awaited: the gate is what the cycle waits for


# ---------------------------------------------------------------------------------------------- perfcycle approvals


def test_approvals_fit_80_columns_group_the_targets_and_show_the_figures_of_a_stage_gate(
    session: Session, waiting_at_targets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle_id = waiting_at_targets["cycle_id"]
    computed = recommend_budgets.fn(cycle_id)
    assert request_approval.fn(cycle_id, "budget_table", level=1) == "open"
    table = {**computed, **publish_budget_table.fn(cycle_id)}
    finish_stage.fn(cycle_id, "budget_linkage", table, "waiting")

    text = invoke("approvals", "--year", str(YEAR))
    assert not wide_lines(text), wide_lines(text)
    text = joined(text)
    header = next(line for line in text.splitlines() if "编号" in line and "关口" in line)
    for column in ("编号", "关口", "审批内容", "期限", "可审批人"):
        assert column in header, column
    assert "周晓梅" in text and "陈立军" in text  # the approvers column did not collapse

    waiting = waiting_at_targets["approval"]["waiting_departments"]
    targets_row = next(line for line in text.splitlines() if "绩效目标" in line and "个部门" in line)
    assert f"{len(waiting)} 个部门" in targets_row
    assert " * " not in text
    assert f"建议安排 {table['recommended_wan']:.2f} 万元" in text.replace("\n", "")
    first = session.exec(select(Department).where(Department.code == waiting[0])).one()
    assert f"{first.name}（{first.code}）" in text


# ---------------------------------------------------------------------------------------------- words


def test_submit_and_close_window_say_targets_as_the_readme_does_and_accept_both() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "--stage targets" in readme
    for command in ("submit", "close-window"):
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        stage_help = next(line for line in result.output.splitlines() if "--stage" in line)
        assert "targets" in stage_help and "target_setting" not in stage_help
        assert "monitoring" in stage_help and "self_evaluation" in stage_help
    assert collecting.stage_for("targets") == collecting.stage_for("target_setting") == STAGE
    with pytest.raises(collecting.WindowError, match="可用：targets"):
        collecting.stage_for("budget")


def test_long_commands_and_lists_are_cut_to_the_width_without_losing_anything() -> None:
    command = "perfcycle approve " + " ".join(map(str, range(1, 120))) + " --by <审批人>"
    lines = command_lines(command, 80)
    assert len(lines) > 1 and all(cell_len(line) <= 80 for line in lines)
    assert all(line.endswith(" \\") for line in lines[:-1])
    assert " ".join(line.removesuffix(" \\").strip() for line in lines) == command

    names = [f"区第{i}号很长名字的单位（{100 + i}）" for i in range(40)]
    cut = list_lines("部门：", names, 80)
    assert all(cell_len(line) <= 80 for line in cut)
    assert "".join(line.strip() for line in cut) == "部门：" + "、".join(names)
    assert list_lines("部门：", names, 80, limit=3)[-1].endswith(" 等 40 个")
    assert id_ranges([5, 1, 2, 3, 9, 10]) == "1–3、5、9–10"

"""What a stopped stage says it waits for: the gates with who may decide them, or the form and who owes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from models import Approval, Department, now
from perfcycle.approvals import decide
from perfcycle.demo import DemoFiles, generate_demo
from perfcycle.loaders import import_file
from tasks.collection import check_collection_window, open_collection_window
from tasks.cycle import open_cycle
from tasks.imports import import_submissions
from tasks.targets import approve_targets, review_targets
from tasks.waiting import explain_waiting

YEAR = now().year + 1  # the calendar's deadlines are still ahead: windows stay open
STAGE = "target_setting"
FILED = ("101", "102")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("demo"), YEAR)


def run_targets_stage(cycle_id: int, root: Path) -> None:
    window = open_collection_window.fn(cycle_id, STAGE, str(root))
    import_submissions.fn(YEAR, "targets", window["folder"])
    review_targets.fn(cycle_id)
    approve_targets.fn(cycle_id)
    check_collection_window.fn(cycle_id, STAGE)


def test_a_stopped_stage_names_its_gates_then_the_departments_that_owe_the_form(
    session: Session, demo: DemoFiles, tmp_path: Path
) -> None:
    import_file(demo.base, year=YEAR)
    cycle_id = int(open_cycle.fn(YEAR, auto_approve=False))
    root = tmp_path / "填报"
    (root / "targets").mkdir(parents=True)
    for code in FILED:
        shutil.copy(demo.submissions / "targets" / f"{code}.xlsx", root / "targets" / f"{code}.xlsx")
    run_targets_stage(cycle_id, root)
    names = dict(session.exec(select(Department.code, Department.name)).all())
    gates = session.exec(select(Approval).order_by(col(Approval.id))).all()
    assert [g.subject for g in gates] == list(FILED)

    waiting = explain_waiting.fn(cycle_id, STAGE)
    assert waiting["name"] == "等待审批"
    decision, forms = waiting["message"].splitlines()
    assert decision.startswith(f"等待审批：{YEAR}年度绩效目标第1级审批（2 个部门）：{names['101']}、{names['102']}；")
    assert f"perfcycle approve {gates[0].id}-{gates[1].id} --by <审批人> --resume" in decision
    assert forms.startswith(f"等待报送：{YEAR}年绩效目标申报表，截止 {YEAR}-01-31，尚未报送 {len(names) - 2} 个部门：")
    assert names["103"] in forms and names["101"] not in forms
    assert "--stage targets --department <部门编码>" in forms and "perfcycle close-window" in forms

    on_server = explain_waiting.fn(cycle_id, STAGE, on_server=True)["message"]
    assert "审批表单（Resume）" in on_server and "--resume" not in on_server.splitlines()[0]

    # Both gates decided: what is left is the form, and the state says so.
    for gate in gates:
        assert gate.id is not None
        with Session(session.get_bind()) as own:
            decide(own, gate.id, "approve", "周晓梅", "同意")
            own.commit()
    run_targets_stage(cycle_id, root)
    waiting = explain_waiting.fn(cycle_id, STAGE)
    assert waiting["name"] == "等待报送"
    assert waiting["message"].startswith(f"等待报送：{YEAR}年绩效目标申报表")

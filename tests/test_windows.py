"""Department submissions with deadlines, on the demo district's real workbooks for a cycle still to come.

The cycle year is next year, so the calendar's deadlines (targets 01-31, Q1 monitoring 04-10 …) are still
ahead; moving `perfcycle.windows.today` past a deadline is how a test lets it pass.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models import Approval, Cycle, Department, Project, Submission, TargetReview, WarningNotice, now, session_scope
from models.audit import AuditEntry
from models.tables import CollectionWindow, WarningResponse, WindowEntry, WindowReceipt
from perfcycle import audit, windows
from perfcycle.approvals import decide
from perfcycle.cli import app
from perfcycle.demo import DemoFiles, generate_demo
from perfcycle.loaders import import_file
from tasks.cycle import open_cycle
from tasks.imports import import_submissions
from tasks.reminders import open_windows, warning_responses
from tasks.targets import approve_targets, review_targets
from tasks.windows import check_collection_window, open_collection_window

YEAR = now().year + 1
STAGE = "target_setting"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("demo"), YEAR)


@pytest.fixture
def cycle_id(db_url: str, demo: DemoFiles) -> int:
    import_file(demo.base, year=YEAR)
    return int(open_cycle.fn(YEAR, auto_approve=False))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "submissions"
    folder.mkdir()
    return folder


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[date]]:
    """The bureau's date as the window rules see it: set day[0] to move it."""
    day = [now().date()]
    monkeypatch.setattr(windows, "today", lambda: day[0])
    yield day


def targets_file(demo: DemoFiles, code: str) -> Path:
    return demo.submissions / "targets" / f"{code}.xlsx"


def edited(source: Path, folder: Path, name: str, row: int, column: int, value: str) -> Path:
    workbook = openpyxl.load_workbook(source)
    workbook.worksheets[0].cell(row=row, column=column, value=value)
    path = folder / name
    workbook.save(path)
    return path


def run_stage(cycle_id: int, root: Path | None) -> dict:
    """The target-setting stage's tasks in order, without Prefect (the flow test runs them on Prefect)."""
    window = open_collection_window.fn(cycle_id, STAGE, str(root) if root else None)
    import_submissions.fn(YEAR, "targets", window["folder"])
    review_targets.fn(cycle_id)
    approval = approve_targets.fn(cycle_id)
    return {"approval": approval, "collection": check_collection_window.fn(cycle_id, STAGE)}


def entry_status(session: Session, code: str) -> WindowEntry:
    session.expire_all()
    return session.exec(
        select(WindowEntry)
        .join(Department, col(Department.id) == WindowEntry.department_id)
        .where(Department.code == code)
    ).one()


def submit(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["submit", *args])
    return result.exit_code, result.output


def test_submit_files_the_form_keeps_history_and_refuses_another_departments_rows(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path, tmp_path: Path
) -> None:
    code, output = submit(str(targets_file(demo, "101")), "--stage", "targets", "--department", "101",
                          "--year", str(YEAR), "--submissions", str(root))  # fmt: skip
    assert code == 0, output
    assert "已收到" in output and "第 1 版" in output and "按时报送" in output and f"{YEAR}-01-31" in output
    stored = root / "targets" / "101.xlsx"
    assert stored.read_bytes() == targets_file(demo, "101").read_bytes()
    assert entry_status(session, "101").status == "received"

    second = edited(targets_file(demo, "101"), tmp_path, "目标-修改.xlsx", row=2, column=7, value="900")
    code, output = submit(str(second), "--stage", "target_setting", "--department", "101", "--year", str(YEAR))
    assert code == 0, output
    assert "第 2 版" in output and "旧版本已保留" in output
    assert stored.read_bytes() == second.read_bytes()
    (kept,) = (root / "history" / "targets" / "101").iterdir()
    assert kept.read_bytes() == targets_file(demo, "101").read_bytes()
    receipts = session.exec(select(WindowReceipt).order_by(col(WindowReceipt.version))).all()
    assert [(r.version, r.current, r.source_name) for r in receipts] == [
        (1, False, "101.xlsx"),
        (2, True, "目标-修改.xlsx"),
    ]
    assert receipts[0].path == str(kept.resolve()) and receipts[1].path == str(stored.resolve())

    code, output = submit(str(second), "--stage", "targets", "--department", "101", "--year", str(YEAR))
    assert code == 0 and "完全相同，未做改动" in output

    # 102's file sent as 101's: every row names its sheet, row and column.
    code, output = submit(str(targets_file(demo, "102")), "--stage", "targets", "--department", "101",
                          "--year", str(YEAR))  # fmt: skip
    assert code == 1 and "Traceback" not in output
    assert "工作表「绩效指标」" in output and "第 2 行" in output and "列「部门编码」" in output
    assert "列「项目编码」" in output and "属于部门 102" in output
    # A 101 row pointing at a 102 project.
    foreign = edited(
        targets_file(demo, "101"), tmp_path, "混入.xlsx", row=3, column=2, value=_a_project_of(demo, "102")
    )
    code, output = submit(str(foreign), "--stage", "targets", "--department", "101", "--year", str(YEAR))
    assert code == 1 and "第 3 行" in output and "属于部门 102，不是 101" in output
    session.expire_all()
    assert len(session.exec(select(WindowReceipt)).all()) == 2
    actions = [e.action for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))]
    assert actions.count("submission.received") == 2
    assert actions[:2] == ["base_data.imported", "window.opened"]
    assert audit.verify(session) == []

    code, output = submit(str(second), "--stage", "panel_scores", "--department", "101", "--year", str(YEAR))
    assert code == 1 and "没有部门填报" in output
    code, output = submit(str(second), "--stage", "monitoring", "--department", "101", "--year", str(YEAR))
    assert code == 1 and "--quarter" in output


def _a_project_of(demo: DemoFiles, code: str) -> str:
    sheet = openpyxl.load_workbook(targets_file(demo, code)).worksheets[0]
    return str(sheet.cell(row=2, column=2).value)


def test_the_stage_waits_for_missing_departments_then_the_deadline_closes_the_window(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path, on: list[date]
) -> None:
    shutil.copytree(demo.submissions / "targets", root / "targets")
    for code in ("103", "104"):
        (root / "targets" / f"{code}.xlsx").unlink()

    first = run_stage(cycle_id, root)
    collection = first["collection"]
    assert collection["waiting"] and collection["pending"] == ["103", "104"]
    assert collection["received"] == collection["departments"] - 2
    assert "103" not in first["approval"]["waiting_departments"]

    # Reminders go to the two that owe the form, not to those who sent it.
    due = date(YEAR, 1, 31)
    obligations = list(open_windows(session, due - timedelta(days=3)))
    assert sorted(o.item for o in obligations) == [f"window:{YEAR}:{STAGE}:103", f"window:{YEAR}:{STAGE}:104"]
    assert all(o.deadline == due and not o.submitted for o in obligations)
    assert "perfcycle submit" in obligations[0].detail

    matrix = {row["部门编码"]: row for row in windows.status_matrix(session, session.get(Cycle, cycle_id))}
    assert matrix["101"]["绩效目标"] == "已提交" and matrix["103"]["绩效目标"] == "待提交（截止 01-31）"
    assert matrix["101"]["一季度监控"] == "—"

    # 101's targets are under review (its gate is open): only a return lets them change.
    code, output = submit(str(targets_file(demo, "101")), "--stage", "targets", "--department", "101",
                          "--year", str(YEAR))  # fmt: skip
    assert code == 1 and "正在审核" in output

    # 103 sends its form through `submit` on the due day: on time. Nobody sends 104's.
    code, output = submit(str(targets_file(demo, "103")), "--stage", "targets", "--department", "103",
                          "--year", str(YEAR))  # fmt: skip
    assert code == 0, output
    on[0] = due
    second = run_stage(cycle_id, None)  # a resumed run without --submissions finds the recorded folder
    assert second["collection"]["waiting"] and second["collection"]["pending"] == ["104"]
    assert entry_status(session, "103").status == "received"
    assert len(list(open_windows(session, due))) == 1

    on[0] = due + timedelta(days=1)
    third = run_stage(cycle_id, None)
    assert not third["collection"]["waiting"]
    assert third["collection"]["missing"] == ["104"] and third["collection"]["close_reason"] == "deadline"
    assert list(open_windows(session, due + timedelta(days=1))) == []
    code, output = submit(str(targets_file(demo, "104")), "--stage", "targets", "--department", "104",
                          "--year", str(YEAR))  # fmt: skip
    assert code == 1 and "不再接收" in output

    # A rerun changes nothing and audits nothing more.
    entries = audit.count(session)
    assert run_stage(cycle_id, None)["collection"] == third["collection"]
    assert audit.count(session) == entries


def test_the_coordinator_closes_a_window_early_and_anyone_else_is_refused(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path
) -> None:
    shutil.copytree(demo.submissions / "targets", root / "targets")
    (root / "targets" / "105.xlsx").unlink()
    assert run_stage(cycle_id, root)["collection"]["waiting"]

    result = runner.invoke(app, ["close-window", "--year", str(YEAR), "--stage", "targets", "--by", "张敏"])
    assert result.exit_code == 1 and "不是财政局绩效科的审批人" in result.output
    session.expire_all()
    refusal = session.exec(select(AuditEntry).where(AuditEntry.action == "window.close_refused")).one()
    assert refusal.actor == "张敏"

    result = runner.invoke(app, ["close-window", "--year", str(YEAR), "--stage", "target_setting", "--by", "周晓梅"])
    assert result.exit_code == 0, result.output
    assert "未提交 1（105）" in result.output
    window = session.exec(select(CollectionWindow)).one()
    assert (window.status, window.closed_by, window.close_reason) == ("closed", "周晓梅", "coordinator")
    assert entry_status(session, "105").status == "missing"
    assert not run_stage(cycle_id, None)["collection"]["waiting"]

    result = runner.invoke(app, ["close-window", "--year", str(YEAR), "--stage", "targets", "--by", "周晓梅"])
    assert result.exit_code == 1 and "已经截止" in result.output
    result = runner.invoke(app, ["close-window", "--year", str(YEAR), "--stage", "monitoring", "--quarter", "Q1",
                                 "--by", "周晓梅"])  # fmt: skip
    assert result.exit_code == 1 and "尚未开始" in result.output


def _return(session: Session, code: str) -> None:
    gate = session.exec(select(Approval).where(Approval.gate == "targets", Approval.subject == code)).one()
    assert gate.id is not None
    with session_scope() as decision:
        decide(decision, gate.id, "return", "周晓梅", "缺少满意度指标")


def test_returned_targets_wait_for_the_resubmission_which_reopens_the_gate(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path, tmp_path: Path, on: list[date]
) -> None:
    shutil.copytree(demo.submissions / "targets", root / "targets")
    first = run_stage(cycle_id, root)
    assert not first["collection"]["waiting"] and first["collection"]["close_reason"] == "all_received"
    assert "101" in first["approval"]["waiting_departments"]

    code, output = submit(str(targets_file(demo, "101")), "--stage", "targets", "--department", "101",
                          "--year", str(YEAR))  # fmt: skip
    assert code == 1 and "全部报齐" in output and "不再接收" in output  # everyone is in: the window closed

    _return(session, "101")
    returned = run_stage(cycle_id, None)
    collection = returned["collection"]
    assert collection["waiting"] and collection["returned"] == ["101"] and collection["status"] == "open"
    assert "101" in returned["approval"]["returned_departments"]
    entry = entry_status(session, "101")
    assert entry.returned_on == on[0] and entry.due_on == on[0] + timedelta(days=5)
    (obligation,) = open_windows(session, entry.due_on)
    assert "退回修改后重新报送" in obligation.title and obligation.deadline == entry.due_on

    code, output = submit(str(targets_file(demo, "101")), "--stage", "targets", "--department", "101",
                          "--year", str(YEAR))  # fmt: skip
    assert code == 1 and "与退回修改的版本内容相同" in output
    fixed = edited(targets_file(demo, "101"), tmp_path, "101-修改.xlsx", row=2, column=7, value="900")
    code, output = submit(str(fixed), "--stage", "targets", "--department", "101", "--year", str(YEAR))
    assert code == 0, output

    again = run_stage(cycle_id, None)
    assert not again["collection"]["waiting"]
    assert "101" in again["approval"]["waiting_departments"]  # the gate is open again on the new data
    session.expire_all()
    gate = session.exec(select(Approval).where(Approval.gate == "targets", Approval.subject == "101")).one()
    assert gate.status == "open"
    reviews = session.exec(
        select(TargetReview)
        .join(Project, col(Project.id) == TargetReview.project_id)
        .join(Department, col(Department.id) == Project.department_id)
        .where(Department.code == "101")
    ).all()
    assert reviews and {r.status for r in reviews} == {"submitted"}
    assert (
        session.exec(select(Submission).where(Submission.scope == "101", col(Submission.current).is_(True)))
        .one()
        .source_name
        == "101.xlsx"
    )


def test_a_department_that_never_resubmits_is_missing_after_its_resubmission_deadline(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path, on: list[date]
) -> None:
    shutil.copytree(demo.submissions / "targets", root / "targets")
    run_stage(cycle_id, root)
    _return(session, "102")
    due = run_stage(cycle_id, None)["collection"]
    assert due["waiting"] and due["returned"] == ["102"]
    on[0] = on[0] + timedelta(days=5)
    assert run_stage(cycle_id, None)["collection"]["waiting"]  # the resubmission's due day is still open
    on[0] = on[0] + timedelta(days=1)
    closed = run_stage(cycle_id, None)
    assert not closed["collection"]["waiting"] and closed["collection"]["missing"] == ["102"]
    assert "102" in closed["approval"]["returned_departments"]
    assert "102" not in closed["approval"]["waiting_departments"]


def test_a_red_light_response_is_recorded_audited_and_stops_its_reminders(session: Session, cycle_id: int) -> None:
    department = session.exec(select(Department).where(Department.code == "101")).one()
    issued = date(YEAR, 4, 10)
    session.add(WarningNotice(cycle_id=cycle_id, department_id=department.id, quarter="Q1", level="red",
                              issued_on=issued, response_due=issued + timedelta(days=10)))  # fmt: skip
    session.add(WarningNotice(cycle_id=cycle_id, department_id=department.id, quarter="Q2", level="yellow",
                              issued_on=date(YEAR, 7, 10)))  # fmt: skip
    session.commit()
    assert [o.item for o in warning_responses(session, issued)] == [f"warning:{YEAR}:Q1:101"]

    base = ["respond", "--year", str(YEAR), "--quarter", "Q1", "--department", "101"]
    result = runner.invoke(app, [*base, "--cause", "项目招标延期"])
    assert result.exit_code == 1 and "整改措施" in result.output
    result = runner.invoke(app, [*base, "--cause", "项目招标延期", "--measures", "倒排工期，每周调度", "--by", "王五"])
    assert result.exit_code == 1 and "王五 不是" in result.output
    result = runner.invoke(
        app, [*base, "--cause", "项目招标延期", "--measures", "倒排工期，每周调度", "--by", department.contact]
    )
    assert result.exit_code == 0, result.output
    assert "已记录" in result.output
    result = runner.invoke(app, ["respond", "--year", str(YEAR), "--quarter", "Q2", "--department", "101",
                                 "--cause", "x", "--measures", "y"])  # fmt: skip
    assert result.exit_code == 1 and "黄灯提醒" in result.output

    session.expire_all()
    notice = session.exec(select(WarningNotice).where(WarningNotice.quarter == "Q1")).one()
    assert notice.responded_on == now().date()
    response = session.exec(select(WarningResponse)).one()
    assert (response.cause, response.measures, response.responded_by) == (
        "项目招标延期",
        "倒排工期，每周调度",
        department.contact,
    )
    assert all(o.submitted for o in warning_responses(session, issued) if o.item.endswith(":Q1:101"))
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "warning.responded")).one()
    assert entry.actor == department.contact and "倒排工期" in entry.payload_json
    matrix = {r["部门编码"]: r for r in windows.status_matrix(session, session.get(Cycle, cycle_id))}
    assert matrix["101"]["预警整改"].startswith("Q1 ")


@pytest.mark.prefect
def test_on_prefect_a_quarter_waits_for_its_forms_and_goes_on_after_the_deadline(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path, prefect_harness: None, on: list[date], tmp_path: Path
) -> None:
    from flows.monitoring import quarterly_monitoring

    shutil.copytree(demo.submissions / "monitoring" / "Q1", root / "monitoring" / "Q1")
    (root / "monitoring" / "Q1" / "101.xlsx").unlink()

    waiting = quarterly_monitoring(YEAR, "Q1", cycle_id, str(root), str(tmp_path / "out"))
    assert waiting["status"] == "waiting"
    assert waiting["summary"]["collection"]["pending"] == ["101"]
    assert "lights" not in waiting["summary"]  # nothing computed on part of the departments

    on[0] = date(YEAR, 4, 11)
    done = quarterly_monitoring(YEAR, "Q1", cycle_id, None, str(tmp_path / "out"))
    assert done["status"] == "done"
    assert done["summary"]["collection"]["missing"] == ["101"]
    assert done["summary"]["departments_covered"] == done["summary"]["collection"]["departments"] - 1
    assert done["summary"]["missing_departments"] == ["101"]


def test_only_the_departments_contact_or_head_may_submit_and_a_refusal_is_recorded(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path
) -> None:
    department = session.exec(select(Department).where(Department.code == "101")).one()
    args = ["--stage", "targets", "--department", "101", "--year", str(YEAR), "--submissions", str(root)]
    code, output = submit(str(targets_file(demo, "101")), *args, "--by", "王五")
    assert code == 1 and "Traceback" not in output
    assert "王五 不是" in output and department.contact in output
    assert not (root / "targets" / "101.xlsx").exists()
    session.expire_all()
    assert session.exec(select(WindowReceipt)).all() == []
    refused = session.exec(select(AuditEntry).where(AuditEntry.action == "submission.refused")).one()
    assert refused.actor == "王五" and "101" in refused.subject
    assert audit.verify(session) == []

    code, output = submit(str(targets_file(demo, "101")), *args, "--by", department.head)
    assert code == 0, output
    code, output = submit(str(targets_file(demo, "102")), *args[:2], "--department", "102", *args[4:])
    assert code == 0, output  # without --by: the department's contact


def test_right_after_a_return_the_department_resubmits_and_the_others_still_submit_at_once(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path, tmp_path: Path, on: list[date]
) -> None:
    """On the default SQLite file with nothing else running: a submission checks the form inside its own
    transaction, so reopening the returned entry first never makes it wait on itself."""
    shutil.copytree(demo.submissions / "targets", root / "targets")
    (root / "targets" / "102.xlsx").unlink()  # 102 has not sent its targets yet
    first = run_stage(cycle_id, root)
    assert first["collection"]["waiting"] and first["collection"]["pending"] == ["102"]
    gate = session.exec(select(Approval).where(Approval.gate == "targets", Approval.subject == "101")).one()
    returned = runner.invoke(app, ["return", str(gate.id), "--by", "周晓梅", "--comment", "缺少满意度指标"])
    assert returned.exit_code == 0, returned.output

    fixed = edited(targets_file(demo, "101"), tmp_path, "101-修改.xlsx", row=2, column=7, value="900")
    started = time.monotonic()
    code, output = submit(str(fixed), "--stage", "targets", "--department", "101", "--year", str(YEAR))
    assert code == 0, output
    assert "已收到" in output and "按时报送" in output
    code, output = submit(str(targets_file(demo, "102")), "--stage", "targets", "--department", "102",
                          "--year", str(YEAR))  # fmt: skip
    assert code == 0, output
    assert time.monotonic() - started < 15  # each once waited 30 s for itself, then failed
    assert entry_status(session, "101").status == "received" and entry_status(session, "102").status == "received"
    assert (root / "targets" / "101.xlsx").read_bytes() == fixed.read_bytes()
    assert audit.verify(session) == []

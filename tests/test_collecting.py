"""Department submissions with deadlines, on the demo district's real workbooks for a cycle still to come.

The cycle year is next year, so the calendar's deadlines (targets 01-31, Q1 monitoring 04-10 …) are still
ahead; moving `perfcycle.collecting.today` past a deadline is how a test lets it pass.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from models import (
    Approval,
    Cycle,
    Department,
    Project,
    StageState,
    Submission,
    TargetReview,
    WarningNotice,
    now,
    session_scope,
)
from models.audit_log import AuditEntry, Notification
from models.tables import SHANGHAI, CollectionWindow, WarningResponse, WindowEntry, WindowReceipt
from perfcycle import audit, collecting
from perfcycle.accounts import admin_actor
from perfcycle.approvals import decide
from perfcycle.cli import app
from perfcycle.demo import DemoFiles, generate_demo
from perfcycle.loaders import import_file
from perfcycle.reminding import open_windows, run_reminders, warning_responses
from perfcycle.settings import DEMO_POLICY_DIR, get_settings
from tasks.collection import check_collection_window, open_collection_window
from tasks.cycle import open_cycle
from tasks.imports import import_submissions
from tasks.targets import approve_targets, review_targets

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
    monkeypatch.setattr(collecting, "today", lambda: day[0])
    yield day


def targets_file(demo: DemoFiles, code: str) -> Path:
    return demo.submissions / "targets" / f"{code}.xlsx"


def edited(source: Path, folder: Path, name: str, row: int, column: int, value: str) -> Path:
    workbook = openpyxl.load_workbook(source)
    workbook.worksheets[0].cell(row=row, column=column, value=value)
    path = folder / name
    workbook.save(path)
    return path


def run_stage(cycle_id: int, root: Path | None, year: int = YEAR) -> dict:
    """The target-setting stage's tasks in order, without Prefect (the flow test runs them on Prefect)."""
    window = open_collection_window.fn(cycle_id, STAGE, str(root) if root else None)
    received = import_submissions.fn(year, "targets", window["folder"])
    review_targets.fn(cycle_id)
    approval = approve_targets.fn(cycle_id)
    collection = check_collection_window.fn(cycle_id, STAGE)
    return {"received": received, "approval": approval, "collection": collection}


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
    assert "第 2 版，替换第 1 版，旧版本已保留" in output
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

    # 102's file sent as 101's: said once, as the wrong file it is, not once per row.
    code, output = submit(str(targets_file(demo, "102")), "--stage", "targets", "--department", "101",
                          "--year", str(YEAR))  # fmt: skip
    assert code == 1 and "Traceback" not in output
    assert "发现 1 个问题" in output and "这是部门 102（" in output and "不能作为 101（" in output
    assert "请确认选择的是本部门的文件" in output
    # One row of another department's in 101's own file: that row, its sheet and column.
    mixed = edited(targets_file(demo, "101"), tmp_path, "混编码.xlsx", row=2, column=1, value="102")
    code, output = submit(str(mixed), "--stage", "targets", "--department", "101", "--year", str(YEAR))
    assert code == 1 and "工作表「绩效指标」· 第 2 行 · 列「部门编码」" in output and "不能报送部门 102" in output
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
    # The base data's own entries (its 工作记事 events, then the import) come before the window's.
    assert [a for a in actions if not a.startswith("work_event.")][:2] == ["base_data.imported", "window.opened"]
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

    matrix = {row["部门编码"]: row for row in collecting.status_matrix(session, session.get(Cycle, cycle_id))}
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


def test_a_stage_records_where_each_form_really_is_through_linked_folders_and_files(
    session: Session, cycle_id: int, demo: DemoFiles, tmp_path: Path
) -> None:
    """The receipts name each form's real place: the folder reached through a link, and a form that is itself a
    link to a file kept elsewhere."""
    real = tmp_path / "real"
    shutil.copytree(demo.submissions / "targets", real / "targets")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (real / "targets" / "101.xlsx").rename(elsewhere / "form-101.xlsx")
    (real / "targets" / "101.xlsx").symlink_to(elsewhere / "form-101.xlsx")
    linked = tmp_path / "linked"
    linked.symlink_to(real)
    run_stage(cycle_id, linked)
    paths = dict(
        session.exec(
            select(Department.code, WindowReceipt.path).join(
                Department, col(Department.id) == WindowReceipt.department_id
            )
        ).all()
    )
    assert paths["101"] == str((elsewhere / "form-101.xlsx").resolve())
    assert paths["102"] == str((real / "targets" / "102.xlsx").resolve())
    assert len(paths) == len(list((real / "targets").iterdir()))


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
    # Typed on the server's command line: the administrator's entry, on the named person's behalf.
    assert (refusal.actor, json.loads(refusal.payload_json)["on_behalf_of"]) == (admin_actor(), "张敏")

    result = runner.invoke(app, ["close-window", "--year", str(YEAR), "--stage", "target_setting", "--by", "周晓梅"])
    assert result.exit_code == 0, result.output
    assert "未提交 1（105）" in result.output
    window = session.exec(select(CollectionWindow)).one()
    assert (window.status, window.closed_by, window.close_reason) == ("closed", "周晓梅", "coordinator")
    closed = session.exec(select(AuditEntry).where(AuditEntry.action == "window.closed")).one()
    assert (closed.actor, json.loads(closed.payload_json)["on_behalf_of"]) == (admin_actor(), "周晓梅")
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
    assert "第 2 版，替换第 1 版（退回修改）" in output and "按时报送" in output  # v1: the form of the folder
    session.expire_all()
    receipts = session.exec(select(WindowReceipt).where(WindowReceipt.department_id == entry.department_id)).all()
    assert sorted((r.version, r.current, r.replaces, r.source_name) for r in receipts) == [
        (1, False, None, "101.xlsx"),
        (2, True, 1, "101-修改.xlsx"),
    ]
    received = session.exec(select(AuditEntry).where(AuditEntry.action == "submission.received")).all()
    assert json.loads(received[-1].payload_json)["replaces"] == 1

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
    assert f"已记录{department.name}（101） {YEAR}年一季度预警整改反馈" in " ".join(result.output.split())
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
    matrix = {r["部门编码"]: r for r in collecting.status_matrix(session, session.get(Cycle, cycle_id))}
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


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("bad", ["../../x", "a/b", "..\\x", "../x.xlsx", "101\u200b"])
def test_submit_refuses_a_department_code_that_is_no_code_and_writes_nothing(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path, tmp_path: Path, bad: str
) -> None:
    """A code names the form's file: one that would land outside the submissions folder (or in a folder no stage
    reads) is refused by what is wrong with it, before anything is looked up or written."""
    form = shutil.copy(targets_file(demo, "101"), tmp_path / "form.xlsx")
    before = _files(tmp_path)
    code, output = submit(str(form), "--stage", "targets", "--department", bad, "--year", str(YEAR),
                          "--submissions", str(root))  # fmt: skip
    assert code == 1 and "Traceback" not in output
    why = "含有不可见字符 U+200B" if "\u200b" in bad else "含有路径分隔符"
    assert why in output.replace("\n", "") and "部门编码「" in output
    assert _files(tmp_path) == before
    assert not (tmp_path.parent / "x").exists() and not (root.parent / "x.xlsx").exists()
    session.expire_all()
    assert session.exec(select(WindowReceipt)).all() == []


def test_a_form_for_no_cycle_an_ended_cycle_or_no_department_is_refused_by_what_is_missing(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path
) -> None:
    """The year's cycle is looked at first, then the department: each refusal names the first thing wrong."""
    form = targets_file(demo, "101")

    def sent(year: int, department: str) -> str:
        with pytest.raises(collecting.WindowError) as refused:
            collecting.submit_form(session, year=year, stage=STAGE, department_code=department, file=form, root=root)
        return str(refused.value)

    assert "没有 2099 年度的绩效管理周期" in sent(2099, "D99")
    assert "没有编码为 D99 的部门" in sent(YEAR, "D99")
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    cycle.status = "closed"
    session.add(cycle)
    session.commit()
    assert sent(YEAR, "D99") == f"{YEAR} 年度周期已结束，不再接收报送"
    assert sent(YEAR, "101") == f"{YEAR} 年度周期已结束，不再接收报送"
    assert session.exec(select(WindowReceipt)).all() == []


def test_submit_names_an_invisible_character_in_a_forms_department_code(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path, tmp_path: Path
) -> None:
    """ "101" followed by U+200B looks like 101: the refusal says so, not "cannot submit another department's data"."""
    form = edited(targets_file(demo, "101"), tmp_path, "不可见.xlsx", row=2, column=1, value="101\u200b")
    code, output = submit(str(form), "--stage", "targets", "--department", "101", "--year", str(YEAR),
                          "--submissions", str(root))  # fmt: skip
    assert code == 1 and "Traceback" not in output
    text = output.replace("\n", "")
    assert "第 2 行" in text and "列「部门编码」" in text
    assert "编码「101」含有不可见字符 U+200B" in text and "不能报送部门" not in text
    assert not (root / "targets" / "101.xlsx").exists()


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


# ---------------------------------------------------------------------------------------------- bad forms


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Notices go to this folder (the outbox notifier), not into the working directory."""
    folder = tmp_path / "outbox"
    monkeypatch.setenv("PERFCYCLE_OUTBOX_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    """Every log record of what runs, as Prefect (flow and task run loggers) and perfcycle emit them."""
    handler = _Records()
    hosts = [logging.getLogger(), logging.getLogger("prefect")]  # prefect's loggers do not propagate to root
    for host in hosts:
        host.addHandler(handler)
    yield handler.records
    for host in hosts:
        host.removeHandler(handler)


def receipts_of(session: Session, code: str) -> list[tuple[int, str, bool, int | None]]:
    session.expire_all()
    rows = session.exec(
        select(WindowReceipt)
        .join(Department, col(Department.id) == WindowReceipt.department_id)
        .where(Department.code == code)
        .order_by(col(WindowReceipt.window_id), col(WindowReceipt.version))
    ).all()
    return [(r.version, r.status, r.current, r.replaces) for r in rows]


@pytest.mark.prefect
def test_on_prefect_a_bad_form_is_refused_alone_told_and_waited_for(
    session: Session,
    cycle_id: int,
    demo: DemoFiles,
    root: Path,
    prefect_harness: None,
    outbox: Path,
    logged: list[logging.LogRecord],
    tmp_path: Path,
) -> None:
    from flows.monitoring import quarterly_monitoring
    from perfcycle import progress

    folder = root / "monitoring" / "Q1"
    shutil.copytree(demo.submissions / "monitoring" / "Q1", folder)
    sent = demo.submissions / "monitoring" / "Q1" / "102.xlsx"
    edited(sent, folder, "102.xlsx", row=2, column=4, value="很多")  # 累计支出（万元） is an amount
    said: list[tuple[str, str, str]] = []
    progress.listen(lambda *line: said.append(line))
    try:
        waiting = quarterly_monitoring(YEAR, "Q1", cycle_id, str(root), str(tmp_path / "out"))
    finally:
        progress.clear()

    # Refused with its precise reasons; the stage waits for that department only, everyone else is imported.
    assert waiting["status"] == "waiting"
    summary = waiting["summary"]
    (refused,) = summary["received"]["refused"]
    assert (refused["file"], refused["department"]) == ("102.xlsx", "102")
    (problem,) = refused["problems"]
    for where in ("102.xlsx", "工作表「项目监控」", "第 2 行", "列「累计支出（万元）」"):
        assert where in problem
    collection = summary["collection"]
    assert collection["pending"] == ["102"] and collection["refused"] == ["102"]
    assert collection["received"] == collection["departments"] - 1
    assert "lights" not in summary
    session.expire_all()
    state = session.exec(select(StageState).where(StageState.stage == "monitoring_Q1")).one()
    assert state.status == "waiting"  # never left running
    assert session.exec(select(func.count()).select_from(Submission)).one() == collection["departments"] - 1
    assert receipts_of(session, "102") == [(1, "refused", False, None)]
    assert receipts_of(session, "101") == [(1, "accepted", True, None)]
    (kept,) = session.exec(select(WindowReceipt).where(WindowReceipt.status == "refused")).all()
    assert kept.problems == problem and kept.source_name == "102.xlsx"
    matrix = {row["部门编码"]: row for row in collecting.status_matrix(session, session.get(Cycle, cycle_id))}
    assert matrix["102"]["一季度监控"] == "被拒收，待重报（截止 04-10）"
    assert matrix["101"]["一季度监控"] == "已提交"

    # Told: one notice to the department's contact, naming every problem and how to send the form again.
    department = session.exec(select(Department).where(Department.code == "102")).one()
    (notice,) = session.exec(select(Notification)).all()
    assert (notice.recipient, notice.outcome) == (department.contact, "sent")
    assert "报送未通过" in notice.subject and "102.xlsx" in notice.subject
    (message,) = outbox.rglob("*.txt")
    text = message.read_text(encoding="utf-8")
    assert problem in text and "perfcycle submit" in text and "--quarter Q1" in text

    # Said in one line, on the terminal and in the run's log; no traceback and no error anywhere.
    located = problem.removeprefix("102.xlsx · ")  # sheet, row, column and why
    assert any(stage == "monitoring_Q1" and "102.xlsx（102 " in line and located in line for stage, _, line in said)
    assert any(stage == "monitoring_Q1" and status == "waiting" and "102" in line for stage, status, line in said)
    assert any(r.levelno == logging.WARNING and located in r.getMessage() for r in logged)
    assert [r.getMessage() for r in logged if r.levelno >= logging.ERROR or r.exc_info] == []

    # The same file at the next run: nothing recorded again, nobody told twice.
    again = quarterly_monitoring(YEAR, "Q1", cycle_id, None, str(tmp_path / "out"))
    assert again["status"] == "waiting" and again["summary"]["received"]["refused"] == summary["received"]["refused"]
    session.expire_all()
    assert receipts_of(session, "102") == [(1, "refused", False, None)]
    assert len(session.exec(select(Notification)).all()) == 1
    assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "submission.refused")).all()) == 1

    # The department puts its form right: imported, the window complete, the quarter goes on.
    shutil.copyfile(sent, folder / "102.xlsx")
    done = quarterly_monitoring(YEAR, "Q1", cycle_id, None, str(tmp_path / "out"))
    assert done["status"] == "done" and done["summary"]["collection"]["close_reason"] == "all_received"
    assert done["summary"]["departments_covered"] == collection["departments"]
    assert receipts_of(session, "102") == [(1, "refused", False, None), (2, "accepted", True, None)]
    assert entry_status(session, "102").status == "received"


@pytest.mark.prefect
def test_on_prefect_a_shared_workbook_that_cannot_be_read_holds_its_stage_with_the_reason(
    session: Session, cycle_id: int, root: Path, prefect_harness: None, logged: list[logging.LogRecord], tmp_path: Path
) -> None:
    """The panel's score workbook is nobody's department form: the stage waits, naming it and what is wrong."""
    from flows.ex_ante_assessment import ex_ante_assessment
    from perfcycle import progress

    (root / "panel_scores").mkdir()
    (root / "panel_scores" / "评分.xlsx").write_bytes(b"not a workbook")
    said: list[tuple[str, str, str]] = []
    progress.listen(lambda *line: said.append(line))
    try:
        result = ex_ante_assessment(YEAR, cycle_id, str(root), str(tmp_path / "out"))
    finally:
        progress.clear()
    assert result["status"] == "waiting"
    (file,) = result["summary"]["received"]["unplaced"]
    assert file["file"] == "评分.xlsx" and file["problems"]
    session.expire_all()
    state = session.exec(select(StageState).where(StageState.stage == "ex_ante_assessment")).one()
    assert state.status == "waiting"
    assert session.exec(select(Approval)).all() == []  # nothing asked of anyone on a workbook not read
    ((stage, status, line),) = said
    assert (stage, status) == ("ex_ante_assessment", "waiting")
    assert line.startswith("评分.xlsx未导入：") and file["problems"][0].removeprefix("评分.xlsx: ") in line
    assert str(root / "panel_scores") in line
    assert [r.getMessage() for r in logged if r.levelno >= logging.ERROR or r.exc_info] == []


def test_perfcycle_run_with_a_bad_form_names_it_without_a_traceback(demo_2024: DemoFiles, tmp_path: Path) -> None:
    """What a coordinator sees of one department's bad form in `perfcycle run`: one line, then the run goes on."""
    folder = tmp_path / "填报"
    shutil.copytree(demo_2024.submissions / "targets", folder / "targets")
    edited(
        demo_2024.submissions / "targets" / "103.xlsx", folder / "targets", "103.xlsx", row=3, column=9, value="很重要"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PERFCYCLE_DATABASE_URL=f"sqlite:///{tmp_path / 'perfcycle.db'}",
        PERFCYCLE_OUTBOX_DIR=str(tmp_path / "outbox"),
        PERFCYCLE_POLICY_DIR=str(DEMO_POLICY_DIR),
        COLUMNS="300",  # one line per message, as a wide terminal shows it
    )
    command = [sys.executable, "-m", "perfcycle", "run", "--year", "2024", "--data", str(demo_2024.base),
               "--submissions", str(folder), "--out", str(tmp_path / "out")]  # fmt: skip
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-3000:]
    assert "Traceback" not in output and "ERROR" not in output
    (line,) = [line for line in output.splitlines() if "103.xlsx" in line]
    for where in ("未导入", "工作表「绩效指标」", "第 3 行", "列「权重」", "已通知"):
        assert where in line, line
    assert len(output.splitlines()) < 40  # a screenful saying where the cycle stands, not 443 lines of tracebacks
    with session_scope(env["PERFCYCLE_DATABASE_URL"]) as check:
        state = check.exec(select(StageState).where(StageState.stage == STAGE)).one()
        assert state.status == "waiting"
        assert len(check.exec(select(Submission)).all()) == 53  # every other department's targets


# ---------------------------------------------------------------------------------------------- records agree


@pytest.fixture
def past_cycle(db_url: str, demo_2024: DemoFiles) -> int:
    """The demo's 2024 cycle: by the real clock its deadlines have passed, so a form that comes in now is late."""
    import_file(demo_2024.base, year=2024)
    return int(open_cycle.fn(2024, auto_approve=False))


def past_folder(demo_2024: DemoFiles, root: Path, put_in: date, *held_back: str) -> list[Path]:
    """The 2024 targets, each put in the folder on `put_in`, but for the departments `held_back` (set aside)."""
    shutil.copytree(demo_2024.submissions / "targets", root / "targets")
    kept = [(root / "targets" / f"{code}.xlsx").rename(root / f"{code}.xlsx.kept") for code in held_back]
    for path in (root / "targets").iterdir():
        dated(path, put_in)
    for path in kept:
        os.utime(path)  # saved now
    return kept


def dated(path: Path, day: date) -> None:
    moment = datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI).timestamp()
    os.utime(path, (moment, moment))


def test_a_form_imported_after_its_window_closed_counts_as_late_not_missing(
    session: Session, past_cycle: int, demo_2024: DemoFiles, root: Path, on: list[date]
) -> None:
    (kept,) = past_folder(demo_2024, root, date(2024, 1, 15), "104")
    on[0] = date(2024, 1, 20)
    run_stage(past_cycle, root, 2024)
    on[0] = date(2024, 2, 1)
    closed = run_stage(past_cycle, None, 2024)["collection"]
    assert closed["missing"] == ["104"] and closed["status"] == "closed" and closed["late"] == []

    kept.rename(root / "targets" / "104.xlsx")  # put in the folder by hand, now: after the deadline
    after = run_stage(past_cycle, None, 2024)
    assert "104" in after["approval"]["waiting_departments"]  # imported: its gate is open
    collection = after["collection"]
    assert collection["late"] == ["104"] and collection["missing"] == []
    assert collection["received"] == collection["departments"]
    gate = session.exec(select(Approval).where(Approval.gate == "targets", Approval.subject == "104")).one()
    assert gate.id is not None
    with session_scope() as decision:
        decide(decision, gate.id, "approve", "周晓梅")
    run_stage(past_cycle, None, 2024)
    matrix = {row["部门编码"]: row for row in collecting.status_matrix(session, session.get(Cycle, past_cycle))}
    assert matrix["104"]["绩效目标"] == "逾期提交"


def test_forms_imported_after_the_coordinator_closed_the_window_are_counted(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path
) -> None:
    """The window closed before any form was in (everyone missing); the forms the next run imports are received,
    on time by their arrival, and the status table says so."""
    run_stage(cycle_id, root)
    shutil.copytree(demo.submissions / "targets", root / "targets")
    (root / "targets" / "105.xlsx").unlink()
    result = runner.invoke(app, ["close-window", "--year", str(YEAR), "--stage", "targets", "--by", "周晓梅"])
    assert result.exit_code == 0, result.output
    # Put in the folder before the close, not yet imported: the coordinator is told, not shown 54 missing only.
    output = " ".join(result.output.split())
    assert "填报目录中另有 53 份已送达、尚未导入的表（101.xlsx、102.xlsx" in output and "下次运行周期时导入" in output
    collection = run_stage(cycle_id, None)["collection"]
    assert collection["received"] == collection["departments"] - 1
    assert collection["missing"] == ["105"] and collection["late"] == []
    matrix = {
        row["部门编码"]: row["绩效目标"] for row in collecting.status_matrix(session, session.get(Cycle, cycle_id))
    }
    assert matrix["101"] == "已提交" and matrix["105"] == "未提交"


def test_a_late_submission_says_so_in_chinese(
    session: Session, past_cycle: int, demo_2024: DemoFiles, root: Path, on: list[date]
) -> None:
    """Past its own deadline, while the window stays open for a returned department, a form is late."""
    past_folder(demo_2024, root, date(2024, 1, 15), "104")
    on[0] = date(2024, 1, 20)
    run_stage(past_cycle, root, 2024)
    _return(session, "102")
    on[0] = date(2024, 2, 1)
    assert run_stage(past_cycle, None, 2024)["collection"]["missing"] == ["104"]  # 102 keeps the window open
    code, output = submit(str(demo_2024.submissions / "targets" / "104.xlsx"), "--stage", "targets",
                          "--department", "104", "--year", "2024")  # fmt: skip
    assert code == 0, output
    assert "逾期报送" in output and "missing" not in output
    assert entry_status(session, "104").status == "late"


def test_a_form_put_in_the_folder_on_time_stays_on_time_whenever_it_is_imported(
    session: Session, past_cycle: int, demo_2024: DemoFiles, root: Path, on: list[date]
) -> None:
    """Dated by its arrival in the folder (the file's time, as first imported), not by the run that imports it."""
    (kept,) = past_folder(demo_2024, root, date(2024, 1, 15), "101")
    on[0] = date(2024, 1, 20)
    assert run_stage(past_cycle, root, 2024)["collection"]["pending"] == ["101"]

    sent = kept.rename(root / "targets" / "101.xlsx")
    dated(sent, date(2024, 1, 29))  # put in the folder two days before the deadline
    on[0] = date(2024, 2, 3)  # the next run comes after it
    collection = run_stage(past_cycle, None, 2024)["collection"]
    assert collection["late"] == [] and collection["received"] == collection["departments"]
    assert entry_status(session, "101").status == "received"


def test_a_return_reopens_the_entry_and_its_reminders_at_once(
    session: Session, cycle_id: int, demo: DemoFiles, root: Path, outbox: Path
) -> None:
    shutil.copytree(demo.submissions / "targets", root / "targets")
    assert run_stage(cycle_id, root)["collection"]["close_reason"] == "all_received"
    gate = session.exec(select(Approval).where(Approval.gate == "targets", Approval.subject == "101")).one()
    department = session.exec(select(Department).where(Department.code == "101")).one()

    result = runner.invoke(app, ["return", str(gate.id), "--by", "周晓梅", "--comment", "缺少满意度指标"])
    assert result.exit_code == 0, result.output
    entry = entry_status(session, "101")  # no run in between
    returned = now().date()
    assert (entry.status, entry.returned_on, entry.due_on) == ("returned", returned, returned + timedelta(days=5))
    assert session.exec(select(CollectionWindow)).one().status == "open"
    matrix = {
        row["部门编码"]: row["绩效目标"] for row in collecting.status_matrix(session, session.get(Cycle, cycle_id))
    }
    assert matrix["101"] == f"退回修改（截止 {entry.due_on:%m-%d}）"

    run_reminders(returned)  # the day's reminders, that same day
    session.expire_all()
    (notice,) = session.exec(select(Notification).where(col(Notification.item).contains(":101:returned:"))).all()
    assert (notice.recipient, notice.outcome) == (department.contact, "sent")
    assert "退回修改后重新报送" in notice.subject
    assert run_reminders(returned)["sent"] == 0  # never twice

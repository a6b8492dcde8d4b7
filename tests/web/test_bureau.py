"""The coordinator's and the leader's worklist: the year's standing, the matrix, the gates decided under the
signed-in name through `perfcycle.approvals.decide`, closing a collection and letting the cycle go on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from models import Approval, BudgetRecommendation, Cycle, Department, Project
from models.audit_log import AuditEntry, DecisionRefusal
from models.tables import CollectionWindow
from perfcycle.demo import DemoFiles
from tests.web.conftest import COORDINATOR, LEADER, Browser, activate, put_targets, run_targets


def login_of(session: Session, name: str) -> str:
    from models.people import UserAccount

    return session.exec(select(UserAccount).where(UserAccount.name == name)).one().login


def signed_in(browser: Browser, session: Session, name: str) -> Browser:
    login = login_of(session, name)
    activate(login)
    assert browser.sign_in(login).status_code == 303  # type: ignore[attr-defined]
    return browser


def targets_gates(session: Session) -> dict[str, Approval]:
    session.expire_all()
    return {a.subject: a for a in session.exec(select(Approval).where(Approval.gate == "targets"))}


def test_the_coordinator_sees_the_year_the_matrix_and_a_departments_page(
    session: Session, cycle: int, submissions: Path, web_demo: DemoFiles, browser: Browser
) -> None:
    put_targets(web_demo, submissions, "101", "102")
    run_targets(cycle, submissions)
    signed_in(browser, session, COORDINATOR)
    page = browser.client.get("/").text
    assert "绩效目标管理" in page and "等待报送和审批" in page
    assert "/gates/targets/1" in page and "2 个部门" in page
    assert "提前截止" in page and "继续运行周期" in page
    matrix = browser.client.get("/matrix").text
    assert "<th>部门编码</th>" in matrix and "已提交" in matrix and "待提交（截止 01-31）" in matrix
    assert "区委办公室（101）" in browser.client.get("/departments/101").text


def test_the_targets_group_is_decided_with_one_return_and_the_department_resubmits(
    session: Session,
    cycle: int,
    submissions: Path,
    web_demo: DemoFiles,
    browser: Browser,
    other_browser: Browser,
    tmp_path: Path,
) -> None:
    put_targets(web_demo, submissions, "101", "102", "103")
    run_targets(cycle, submissions)
    gates = targets_gates(session)
    signed_in(browser, session, COORDINATOR)
    page = browser.client.get("/gates/targets/1")
    assert page.status_code == 200 and "102 区人大常委会办公室" in page.text and "目标完整" in page.text
    decided = browser.post(
        "/gates/targets/1",
        {
            "decision": "approve",
            "comment": "同意",
            f"decision_{gates['102'].id}": "return",
            f"comment_{gates['102'].id}": "缺少满意度指标",
        },
    )
    assert decided.status_code == 200  # type: ignore[attr-defined]
    gates = targets_gates(session)
    assert {code: (g.status, g.decided_by) for code, g in gates.items()} == {
        "101": ("approved", COORDINATOR),
        "102": ("returned", COORDINATOR),
        "103": ("approved", COORDINATOR),
    }
    actors = [e.actor for e in session.exec(select(AuditEntry).where(AuditEntry.action == "approval.decided"))]
    assert actors == [COORDINATOR] * 3
    assert {g.entered_by for g in gates.values()} == {""}  # signed in: nobody typed it in on another's behalf
    history = browser.client.get("/decisions").text
    assert history.count(f"<td>{COORDINATOR}</td>") == 3 and "录入</td>" not in history

    signed_in(other_browser, session, session.exec(select(Department).where(Department.code == "102")).one().contact)
    returned = other_browser.client.get("/").text
    assert "退回修改（截止" in returned and "缺少满意度指标" in returned and COORDINATOR in returned
    import openpyxl

    workbook = openpyxl.load_workbook(submissions / "targets" / "102.xlsx")
    sheet = workbook["绩效指标"]
    first = [c.value for c in sheet[2]]
    sheet.append([first[0], first[1], "满意度", "服务对象满意度", "群众满意度", "≥", "90", "%", None])
    revised = tmp_path / "修改后的102.xlsx"
    workbook.save(revised)
    again = other_browser.client.post(
        "/forms/target_setting",
        data={"csrf": other_browser.csrf},
        files={"file": (revised.name, revised.read_bytes(), "application/octet-stream")},
    )
    assert again.status_code == 200 and "第 2 版，替换第 1 版（退回修改）" in again.text


def test_a_leader_cannot_decide_the_coordinators_level_and_the_refusal_is_recorded(
    session: Session, cycle: int, submissions: Path, web_demo: DemoFiles, browser: Browser
) -> None:
    put_targets(web_demo, submissions, "101")
    run_targets(cycle, submissions)
    signed_in(browser, session, LEADER)
    answer = browser.post("/gates/targets/1", {"decision": "approve", "comment": "同意"})
    assert answer.status_code == 200 and "未记录" in answer.text  # type: ignore[attr-defined]
    assert targets_gates(session)["101"].status == "open"
    (refusal,) = session.exec(select(DecisionRefusal)).all()
    assert refusal.actor == LEADER and "不在" in refusal.reason


def test_the_preparer_of_a_departments_targets_cannot_approve_them(
    session: Session, cycle: int, submissions: Path, web_demo: DemoFiles, browser: Browser
) -> None:
    department = session.exec(select(Department).where(Department.code == "101")).one()
    department.contact = COORDINATOR  # the coordinator is also the department's contact
    session.add(department)
    session.commit()
    put_targets(web_demo, submissions, "101")
    run_targets(cycle, submissions)
    signed_in(browser, session, COORDINATOR)
    answer = browser.post("/gates/targets/1", {"decision": "approve"})
    assert "职责分离" in answer.text  # type: ignore[attr-defined]
    assert targets_gates(session)["101"].status == "open"


def test_the_budget_table_is_approved_with_an_override_and_its_reason(
    session: Session, cycle: int, browser: Browser
) -> None:
    from perfcycle.approvals import open_gate

    project = session.exec(select(Project).order_by(col(Project.code))).first()
    assert project is not None and project.id is not None
    session.add(
        BudgetRecommendation(
            cycle_id=cycle,
            project_id=project.id,
            budget_year=project.year + 2,
            request_fen=project.request_fen,
            recommended_fen=project.request_fen,
            reason="据实保障",
        )
    )
    cycle_row = session.get(Cycle, cycle)
    assert cycle_row is not None
    open_gate(session, cycle_row, "budget_table", "*", 1, "digest")
    session.commit()
    signed_in(browser, session, COORDINATOR)
    assert "预算安排建议" in browser.client.get("/gates/budget_table/1").text
    answer = browser.post(
        "/gates/budget_table/1",
        {"decision": "approve", "override_code_0": project.code, "override_amount_0": "1.00", "override_reason_0": ""},
    )
    assert "未记录" in answer.text and "理由" in answer.text  # type: ignore[attr-defined]
    answer = browser.post(
        "/gates/budget_table/1",
        {
            "decision": "approve",
            "override_code_0": project.code,
            "override_amount_0": "1.00",
            "override_reason_0": "据实调整",
        },
    )
    assert "已通过" in answer.text  # type: ignore[attr-defined]
    session.expire_all()
    recommendation = session.exec(select(BudgetRecommendation)).one()
    assert (recommendation.override_fen, recommendation.override_reason) == (1_000_000, "据实调整")  # 1.00 万元 in 分
    level2 = session.exec(select(Approval).where(Approval.gate == "budget_table", Approval.level == 2)).one()
    assert level2.status == "open"


def test_the_coordinator_closes_a_collection_and_a_leader_is_refused(
    session: Session, cycle: int, submissions: Path, browser: Browser, other_browser: Browser
) -> None:
    run_targets(cycle, submissions)
    signed_in(other_browser, session, LEADER)
    refused = other_browser.post("/windows/target_setting/close")
    assert refused.status_code == 422 and "不是财政局绩效科的审批人" in refused.text  # type: ignore[attr-defined]
    signed_in(browser, session, COORDINATOR)
    closed = browser.post("/windows/target_setting/close")
    assert closed.status_code == 200  # type: ignore[attr-defined]
    session.expire_all()
    window = session.exec(select(CollectionWindow)).one()
    assert (window.status, window.closed_by, window.close_reason) == ("closed", COORDINATOR, "coordinator")


def outbox_files(outbox: Path) -> list[Path]:
    return sorted(outbox.rglob("*.txt")) if outbox.exists() else []


def test_remind_now_sends_through_the_reminders_once_a_day_and_says_so(
    session: Session,
    cycle: int,
    submissions: Path,
    web_demo: DemoFiles,
    browser: Browser,
    other_browser: Browser,
    outbox: Path,
) -> None:
    put_targets(web_demo, submissions, "101")
    run_targets(cycle, submissions)
    signed_in(browser, session, COORDINATOR)
    assert "/windows/target_setting/remind" in browser.client.get("/").text
    assert "/departments/102/remind" in browser.client.get("/matrix").text
    assert outbox_files(outbox) == []

    one = browser.post("/departments/102/remind")
    assert one.status_code == 200 and "向 1 个部门发出提醒 1 条" in one.text  # type: ignore[attr-defined]
    (only,) = outbox_files(outbox)
    contact = session.exec(select(Department).where(Department.code == "102")).one().contact
    assert contact in only.read_text(encoding="utf-8")

    window = browser.post("/windows/target_setting/remind")
    assert window.status_code == 200  # type: ignore[attr-defined]
    owing = len(outbox_files(outbox))
    items = {
        line for f in outbox_files(outbox) for line in f.read_text(encoding="utf-8").splitlines() if "事项" in line
    }
    assert owing > 2 and len(items) == owing and not any(i.endswith(":101") for i in items)  # 101 sent its form
    assert f"发出提醒 {owing - 1} 条；另有 1 条今天已发送过，未重复发送" in window.text  # type: ignore[attr-defined]

    again = browser.post("/windows/target_setting/remind")
    assert "今天已提醒过这" in again.text and "未重复发送" in again.text  # type: ignore[attr-defined]
    assert len(outbox_files(outbox)) == owing
    sent_now = session.exec(select(AuditEntry).where(AuditEntry.action == "reminders.sent_now")).all()
    assert [(e.actor, json.loads(e.payload_json)["sent"]) for e in sent_now] == [
        (COORDINATOR, 1),
        (COORDINATOR, owing - 1),
        (COORDINATOR, 0),
    ]

    assert browser.client.post("/windows/target_setting/remind", data={}).status_code == 403  # no form token
    signed_in(other_browser, session, LEADER)
    refused = other_browser.post("/windows/target_setting/remind")
    assert refused.status_code == 422 and "不能发送催报提醒" in refused.text  # type: ignore[attr-defined]
    (entry,) = session.exec(select(AuditEntry).where(AuditEntry.action == "reminders.refused")).all()
    assert entry.actor == LEADER
    assert len(outbox_files(outbox)) == owing


def test_continuing_the_cycle_starts_a_run_in_the_background_under_the_signed_in_name(
    session: Session, cycle: int, browser: Browser, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[list[str]] = []

    class Process:
        pid = 4321

        def __init__(self, args: list[str], **kwargs: Any) -> None:
            started.append(args)
            assert kwargs["start_new_session"] is True

    monkeypatch.setattr("perfcycle.background.subprocess.Popen", Process)
    # The embedded default: no Prefect server (another test of this process may have started one).
    monkeypatch.setattr("perfcycle.orchestration._api_url", lambda: "")
    monkeypatch.chdir(tmp_path)
    signed_in(browser, session, COORDINATOR)
    answer = browser.post("/cycle/continue")
    assert "已在后台开始运行年度周期（进程 4321" in answer.text  # type: ignore[attr-defined]
    year = session.get(Cycle, cycle).year  # type: ignore[union-attr]
    assert started == [[started[0][0], "-m", "perfcycle", "run", "--year", str(year)]]
    (entry,) = session.exec(select(AuditEntry).where(AuditEntry.action == "cycle.continued")).all()
    assert entry.actor == COORDINATOR and json.loads(entry.payload_json)["how"] == "started-here"


RUN_ID = "0b8f3c1e-5a8b-4d7e-9c2f-1a2b3c4d5e6f"


def test_the_timeline_links_each_stages_run_to_the_prefect_ui_or_names_it(
    session: Session, cycle: int, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models import StageState
    from perfcycle.settings import get_settings

    year = session.get(Cycle, cycle).year  # type: ignore[union-attr]
    name = f"{year} target setting"
    state = session.exec(
        select(StageState).where(StageState.cycle_id == cycle, StageState.stage == "target_setting")
    ).one()
    state.flow_run_id, state.flow_run_name = RUN_ID, name  # as the stage's flow records it (tests/tasks/test_cycle.py)
    session.add(state)
    session.commit()
    monkeypatch.setattr("perfcycle.orchestration._prefect_ui_setting", lambda: "")  # no Prefect UI of this process
    monkeypatch.delenv("PERFCYCLE_PREFECT_UI_URL", raising=False)
    get_settings.cache_clear()
    signed_in(browser, session, COORDINATOR)
    page = browser.client.get("/").text
    assert f"{name}（{RUN_ID}）" in page and "/runs/flow-run/" not in page

    monkeypatch.setenv("PERFCYCLE_PREFECT_UI_URL", "http://10.0.0.5:4200")
    get_settings.cache_clear()
    page = browser.client.get("/").text
    assert f'href="http://10.0.0.5:4200/runs/flow-run/{RUN_ID}"' in page and f"{name}（在 Prefect 界面中查看）" in page
    get_settings.cache_clear()


def test_continuing_on_a_server_links_to_the_run_it_started(
    session: Session, cycle: int, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfcycle.orchestration import RunRef
    from perfcycle.settings import get_settings

    year = session.get(Cycle, cycle).year  # type: ignore[union-attr]
    # What the server answers (tests/flows/test_deployed_cycle.py starts the deployment on a real one).
    monkeypatch.setattr(
        "perfcycle.orchestration.continue_cycle_run", lambda y: ("started", RunRef(RUN_ID, f"{y} annual cycle"))
    )
    monkeypatch.setattr("perfcycle.orchestration._prefect_ui_setting", lambda: "")
    monkeypatch.setenv("PERFCYCLE_PREFECT_UI_URL", "http://10.0.0.5:4200")
    get_settings.cache_clear()
    signed_in(browser, session, COORDINATOR)
    answer = browser.post("/cycle/continue")
    get_settings.cache_clear()
    assert "已在 Prefect 中重新启动年度周期部署" in answer.text  # type: ignore[attr-defined]
    assert f'href="http://10.0.0.5:4200/runs/flow-run/{RUN_ID}"' in answer.text  # type: ignore[attr-defined]
    assert f"{year} annual cycle" in answer.text  # type: ignore[attr-defined]
    (entry,) = session.exec(select(AuditEntry).where(AuditEntry.action == "cycle.continued")).all()
    assert json.loads(entry.payload_json)["flow_run_id"] == RUN_ID

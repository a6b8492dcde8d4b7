"""The workbench in a real browser: Debian's chromium-headless-shell driven by Playwright, against the
application served by uvicorn on 127.0.0.1.

A department signs in, downloads its template, uploads a wrong form and reads its problems, uploads a
right one; the coordinator decides the targets group with one return; the department reads the return
and sends its form again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session, select

from models import Approval, Department
from models.tables import WindowReceipt
from perfcycle.collecting import file_sha256
from perfcycle.demo import DemoFiles
from tests.web.conftest import COORDINATOR, PASSWORD, activate, put_targets, run_targets, targets_file

BROWSERS = [
    os.environ.get("PERFCYCLE_CHROMIUM", ""),
    "/usr/bin/chromium-headless-shell",
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium",
]
CHROMIUM = next((path for path in BROWSERS if path and Path(path).is_file()), None)
SHOTS = Path(os.environ.get("PERFCYCLE_SCREENSHOTS", "")) if os.environ.get("PERFCYCLE_SCREENSHOTS") else None

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium from Debian's packages (apt-get install chromium-headless-shell)"
    ),
]


@pytest.fixture
def chromium() -> Iterator[object]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def sign_in(page: object, base: str, login: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("input[name=login]", login)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/")  # type: ignore[attr-defined]


def shot(page: object, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_department_and_the_coordinator_work_a_return_in_the_browser(
    session: Session,
    cycle: int,
    submissions: Path,
    web_demo: DemoFiles,
    server: str,
    chromium: object,
    tmp_path: Path,
) -> None:
    put_targets(web_demo, submissions, "102")
    run_targets(cycle, submissions)
    activate("101")
    activate("zhouxiaomei")
    context = chromium.new_context(accept_downloads=True, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    sign_in(page, server, "101")
    row = page.locator("#form-target_setting")
    assert "待提交（截止 01-31）" in row.inner_text()
    with page.expect_download() as download:
        row.get_by_text("下载空白模板").click()
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)
    assert openpyxl.load_workbook(template).sheetnames == ["绩效指标"]

    wrong = tmp_path / "目标-有误.xlsx"
    workbook = openpyxl.load_workbook(targets_file(web_demo, "101"))
    workbook["绩效指标"].cell(row=3, column=3, value="不存在的指标")
    workbook.save(wrong)
    row.locator("input[type=file]").set_input_files(str(wrong))
    row.get_by_role("button", name="上传报送").click()
    problems = page.locator(".problems")
    assert "目标-有误.xlsx 未能报送" in problems.inner_text()
    cells = [c.strip() for c in problems.locator("tbody tr").first.locator("td").all_inner_texts()]
    assert cells[:3] == ["绩效指标", "3", "一级指标"] and cells[3]
    shot(page, "1-department-problems")

    right = tmp_path / "101.xlsx"
    shutil.copyfile(targets_file(web_demo, "101"), right)
    page.locator("#form-target_setting input[type=file]").set_input_files(str(right))
    page.locator("#form-target_setting").get_by_role("button", name="上传报送").click()
    assert "第 1 版" in page.locator("p.ok").inner_text()
    receipt = page.locator("table.receipt").inner_text()
    assert "第 1 版" in receipt and "101.xlsx" in receipt and file_sha256(right) in receipt
    shot(page, "1-department-receipt")
    page.get_by_role("link", name="返回工作台").click()
    assert page.locator("#form-target_setting td.state").inner_text() == "已提交"
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(f"{server}/login?note=signed_out")

    run_targets(cycle, submissions)  # the cycle's next run: the targets of 101 and 102 wait for the coordinator
    sign_in(page, server, "zhouxiaomei")
    shot(page, "2-coordinator-worklist")
    page.get_by_role("link", name="2024年度绩效目标第1级审批").or_(
        page.locator("a[href^='/gates/targets/1']")
    ).first.click()
    page.get_by_label("101 区委办公室 的决定").select_option("return")
    page.get_by_label("101 区委办公室 的意见").fill("缺少满意度指标")
    page.get_by_label("整体决定").select_option("approve")
    page.get_by_role("button", name="记录决定").click()
    outcomes = page.locator(".outcomes").inner_text()
    assert "101 区委办公室 已退回修改" in outcomes and "102 区人大常委会办公室 已通过" in outcomes
    shot(page, "3-coordinator-decided")
    page.get_by_role("button", name="退出登录").click()

    sign_in(page, server, "101")
    assert "退回修改（截止" in page.locator("#form-target_setting td.state").inner_text()
    assert "缺少满意度指标" in page.locator("tr.comments").inner_text()
    revised = tmp_path / "修改后的101.xlsx"
    workbook = openpyxl.load_workbook(right)
    sheet = workbook["绩效指标"]
    first = [c.value for c in sheet[2]]
    sheet.append([first[0], first[1], "满意度", "服务对象满意度", "群众满意度", "≥", "90", "%", None])
    workbook.save(revised)
    page.locator("#form-target_setting input[type=file]").set_input_files(str(revised))
    page.locator("#form-target_setting").get_by_role("button", name="上传报送").click()
    assert "第 2 版，替换第 1 版（退回修改）" in page.locator("p.ok").inner_text()
    shot(page, "4-department-resubmitted")
    assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == []  # the CSP blocks nothing

    session.expire_all()
    department = session.exec(select(Department).where(Department.code == "101")).one()
    receipts = session.exec(select(WindowReceipt).where(WindowReceipt.department_id == department.id)).all()
    assert sorted((r.version, r.submitted_by) for r in receipts) == [(1, department.contact), (2, department.contact)]
    gate = session.exec(select(Approval).where(Approval.gate == "targets", Approval.subject == "101")).one()
    assert (gate.status, gate.decided_by, gate.comment) == ("returned", COORDINATOR, "缺少满意度指标")
    context.close()

"""A department's worklist: what it owes, its template, uploads checked as `perfcycle submit` checks them,
its receipts, its notices and responses, its documents — and nothing of another department's."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import openpyxl
from sqlmodel import Session, col, select

from models import Cycle, Department, Document, WarningNotice, now
from models.audit_log import AuditEntry
from models.tables import WarningResponse, WindowEntry, WindowReceipt
from perfcycle.demo import DemoFiles
from tests.web.conftest import Browser, activate, run_targets, targets_file

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(browser: Browser, path: Path, stage: str = "target_setting", name: str | None = None) -> object:
    return browser.client.post(
        f"/forms/{stage}",
        data={"csrf": browser.csrf},
        files={"file": (name or path.name, path.read_bytes(), XLSX)},
    )


def contact(session: Session, code: str) -> str:
    return session.exec(select(Department).where(Department.code == code)).one().contact


def signed_in(browser: Browser, login: str) -> Browser:
    activate(login)
    assert browser.sign_in(login).status_code == 303  # type: ignore[attr-defined]
    return browser


def test_the_worklist_says_what_is_owed_and_the_template_is_the_forms_workbook(
    session: Session, cycle: int, submissions: Path, browser: Browser
) -> None:
    run_targets(cycle, submissions)
    signed_in(browser, "101")
    page = browser.client.get("/").text
    assert "区委办公室（101）" in page and "绩效目标申报表" in page and "待提交（截止 01-31）" in page
    template = browser.client.get("/forms/target_setting/template")
    assert template.status_code == 200 and template.headers["content-type"] == XLSX
    assert "attachment" in template.headers["content-disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(template.content))
    assert workbook.sheetnames == ["绩效指标"]
    assert [c.value for c in workbook["绩效指标"][1]][:3] == ["部门编码", "项目编码", "一级指标"]
    assert workbook["绩效指标"].max_row == 1  # blank


def test_a_wrong_form_is_listed_by_sheet_row_column_and_reason_then_a_right_one_is_receipted(
    session: Session, cycle: int, submissions: Path, browser: Browser, web_demo: DemoFiles, tmp_path: Path
) -> None:
    run_targets(cycle, submissions)
    signed_in(browser, "101")

    another = upload(browser, targets_file(web_demo, "102"))
    assert another.status_code == 422 and "这是部门 102" in another.text  # type: ignore[attr-defined]

    workbook = openpyxl.load_workbook(targets_file(web_demo, "101"))
    workbook["绩效指标"].cell(row=3, column=3, value="不存在的指标")  # 一级指标 outside its list
    broken = tmp_path / "目标-有误.xlsx"
    workbook.save(broken)
    wrong = upload(browser, broken)
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    assert "<td>绩效指标</td><td>3</td><td>一级指标</td>" in wrong.text  # type: ignore[attr-defined]
    assert session.exec(select(WindowReceipt)).first() is None  # nothing filed

    right = upload(browser, targets_file(web_demo, "101"), name="../../101.xlsx")
    assert right.status_code == 200 and "第 1 版" in right.text  # type: ignore[attr-defined]
    receipt = session.exec(select(WindowReceipt)).one()
    shown = right.text  # type: ignore[attr-defined]
    assert "报送回执" in shown and receipt.sha256 in shown and "<td>101.xlsx</td>" in shown and "返回工作台" in shown
    assert receipt.submitted_by == contact(session, "101") and receipt.source_name == "101.xlsx"
    assert (submissions / "targets" / "101.xlsx").read_bytes() == targets_file(web_demo, "101").read_bytes()
    entry = session.exec(select(WindowEntry).where(WindowEntry.department_id == receipt.department_id)).one()
    assert entry.status == "received"
    (entry_audit,) = session.exec(select(AuditEntry).where(AuditEntry.action == "submission.received")).all()
    assert entry_audit.actor == contact(session, "101")
    page = browser.client.get("/").text
    assert "已提交" in page and "回执（1 个版本）" in page


def test_a_department_sees_only_its_own_documents_and_a_direct_url_to_anothers_is_refused_and_audited(
    session: Session, cycle: int, browser: Browser, tmp_path: Path
) -> None:
    files = {}
    for subject, kind in (("101", "绩效目标审核意见"), ("102", "绩效目标审核意见"), ("*", "绩效目标申报通知")):
        path = tmp_path / f"{kind}-{subject.strip('*') or 'all'}.docx"
        path.write_bytes(f"document of {subject}".encode())
        document = Document(
            cycle_id=cycle, stage="target_setting", kind=kind, subject=subject, path=str(path), sha256="0"
        )
        session.add(document)
        session.commit()
        files[subject] = document.id
    signed_in(browser, "101")
    page = browser.client.get("/").text
    assert "绩效目标审核意见-101.docx" in page and "绩效目标申报通知-all.docx" in page
    assert "绩效目标审核意见-102.docx" not in page
    own = browser.client.get(f"/documents/{files['101']}")
    assert own.status_code == 200 and own.content == b"document of 101"
    assert browser.client.get(f"/documents/{files['*']}").status_code == 200
    theirs = browser.client.get(f"/documents/{files['102']}")
    missing = browser.client.get("/documents/999999")
    assert theirs.status_code == missing.status_code == 404 and theirs.text == missing.text  # existence not told
    refused = session.exec(select(AuditEntry).where(AuditEntry.action == "access.refused")).all()
    assert [e.subject for e in refused] == [f"GET /documents/{files['102']}", "GET /documents/999999"]
    assert all(json.loads(e.payload_json)["login"] == "101" for e in refused)


def test_a_department_reaches_none_of_the_bureaus_pages(session: Session, cycle: int, browser: Browser) -> None:
    signed_in(browser, "101")
    for path in ("/matrix", "/gates/targets/1", "/departments/102"):
        assert browser.client.get(path).status_code == 403, path
    assert browser.post("/cycle/continue").status_code == 403  # type: ignore[attr-defined]
    assert browser.post("/windows/target_setting/close").status_code == 403  # type: ignore[attr-defined]
    assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "access.refused")).all()) == 5


def test_a_red_light_is_answered_in_the_form_under_the_signed_in_name(
    session: Session, cycle: int, browser: Browser
) -> None:
    department = session.exec(select(Department).where(Department.code == "101")).one()
    issued = now().date()
    session.add(
        WarningNotice(
            cycle_id=cycle,
            department_id=department.id or 0,
            quarter="Q1",
            level="red",
            issued_on=issued,
            response_due=issued + timedelta(days=10),
        )
    )
    session.commit()
    signed_in(browser, "101-head")
    page = browser.client.get("/").text
    assert "一季度 红灯" in page and 'action="/warnings/Q1' in page
    answered = browser.post("/warnings/Q1", {"cause": "项目招标推迟<b>", "measures": "加快支付进度"})
    assert answered.status_code == 200 and "已记录Q1预警整改反馈" in answered.text  # type: ignore[attr-defined]
    response = session.exec(select(WarningResponse)).one()
    assert response.responded_by == department.head and response.cause == "项目招标推迟<b>"
    assert "项目招标推迟&lt;b&gt;" in answered.text  # type: ignore[attr-defined]
    empty = browser.post("/warnings/Q1", {"cause": "", "measures": "x"})
    assert empty.status_code == 422 and "原因分析" in empty.text  # type: ignore[attr-defined]


def test_an_upload_larger_than_the_import_limit_is_refused_before_it_is_read(
    session: Session, cycle: int, browser: Browser
) -> None:
    cycle_row = session.get(Cycle, cycle)
    assert cycle_row is not None
    signed_in(browser, "101")
    from perfcycle.policy import import_limits

    limit = import_limits(cycle_row.year).max_file_mb * 1024 * 1024
    big = browser.client.post(
        "/forms/target_setting",
        data={"csrf": browser.csrf},
        files={"file": ("big.xlsx", b"\0" * (limit + 128 * 1024), XLSX)},
    )
    assert big.status_code == 413
    assert session.exec(select(WindowReceipt)).first() is None
    assert session.exec(select(AuditEntry).where(col(AuditEntry.action) == "submission.received")).first() is None


def test_departments_uploading_at_the_same_moment_are_all_receipted(
    session: Session, cycle: int, submissions: Path, web_demo: DemoFiles, server: str
) -> None:
    """Against uvicorn: concurrent uploads to one SQLite database wait for each other instead of failing."""
    import threading

    import httpx

    from tests.web.conftest import CSRF, PASSWORD

    run_targets(cycle, submissions)
    codes = ["101", "102", "103", "104", "105", "106"]
    clients = []
    for code in codes:
        activate(code)
        client = httpx.Client(base_url=server, timeout=120)
        token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        assert client.post("/login", data={"login": code, "password": PASSWORD, "csrf": token}).status_code == 303
        clients.append((code, client, CSRF.search(client.get("/").text).group(1)))  # type: ignore[union-attr]
    barrier = threading.Barrier(len(clients))
    answers: dict[str, int] = {}

    def send(code: str, client: httpx.Client, token: str) -> None:
        content = targets_file(web_demo, code).read_bytes()
        barrier.wait()
        answer = client.post(
            "/forms/target_setting", data={"csrf": token}, files={"file": (f"{code}.xlsx", content, XLSX)}
        )
        answers[code] = answer.status_code

    threads = [threading.Thread(target=send, args=args) for args in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == dict.fromkeys(codes, 200)
    session.expire_all()
    assert len(session.exec(select(WindowReceipt)).all()) == len(codes)
    for _, client, _ in clients:
        client.close()

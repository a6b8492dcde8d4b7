"""Findings (问题整改) in the workbench: a department answers its own through `answer_finding`, a coordinator
verifies through `verify_finding`, each under the signed-in name; nobody else does either."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, col, select

from models import Department, Finding, now
from models.audit_log import AuditEntry
from tests.web.conftest import COORDINATOR, LEADER, Browser, activate
from tests.web.test_bureau import login_of


def register(session: Session, cycle: int, code: str, key: str = "project:X-01") -> int:
    """A sampling-review finding of the department, as the register records one."""
    department = session.exec(select(Department).where(Department.code == code)).one()
    day = now().date()
    finding = Finding(
        cycle_id=cycle,
        source="review_flag",
        key=key,
        department_id=department.id,
        object_type="project",
        object_code="X-01",
        object_name="道路养护",
        text="抽查复核：复核得分低于自评 12 分",
        registered_on=day,
        due_on=day + timedelta(days=30),
    )
    session.add(finding)
    session.commit()
    assert finding.id is not None
    return finding.id


def person(session: Session, code: str) -> str:
    return session.exec(select(Department).where(Department.code == code)).one().contact


def sign_in(browser: Browser, login: str) -> Browser:
    activate(login)
    assert browser.sign_in(login).status_code == 303  # type: ignore[attr-defined]
    return browser


def fresh(session: Session, finding_id: int) -> Finding:
    session.expire_all()
    finding = session.get(Finding, finding_id)
    assert finding is not None
    return finding


def audits(session: Session, action: str) -> list[AuditEntry]:
    return list(session.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))))


def test_a_department_answers_its_finding_under_its_own_name(session: Session, cycle: int, browser: Browser) -> None:
    finding_id = register(session, cycle, "101")
    sign_in(browser, "101")
    page = browser.client.get("/").text
    assert "抽查复核（编号" in page and "复核得分低于自评 12 分" in page and "待整改" in page
    assert f'action="/findings/{finding_id}/answer' in page
    answered = browser.post(
        f"/findings/{finding_id}/answer", {"measures": "重新核定自评<b>", "progress": "已补齐佐证材料"}
    )
    assert answered.status_code == 200 and f"已记录整改事项 {finding_id} 的整改反馈" in answered.text  # type: ignore[attr-defined]
    assert "重新核定自评&lt;b&gt;" in answered.text and "已反馈" in answered.text  # type: ignore[attr-defined]
    row = fresh(session, finding_id)
    assert (row.status, row.answered_by, row.answers) == ("answered", person(session, "101"), 1)
    assert row.measures == "重新核定自评<b>\n完成情况：已补齐佐证材料"
    (entry,) = audits(session, "finding.answered")
    assert entry.actor == person(session, "101") and entry.subject == f"finding:{finding_id}"
    assert json.loads(entry.payload_json)["measures"] == row.measures


def test_another_departments_finding_is_refused_and_audited(session: Session, cycle: int, browser: Browser) -> None:
    theirs = register(session, cycle, "102")
    sign_in(browser, "101")
    assert f"/findings/{theirs}/answer" not in browser.client.get("/").text
    refused = browser.post(f"/findings/{theirs}/answer", {"measures": "代为整改"})
    missing = browser.post("/findings/999999/answer", {"measures": "代为整改"})
    assert refused.status_code == missing.status_code == 404  # type: ignore[attr-defined]
    assert refused.text == missing.text  # type: ignore[attr-defined]  # existence not told
    assert fresh(session, theirs).status == "open" and not audits(session, "finding.answered")
    entries = audits(session, "access.refused")
    assert [e.subject for e in entries] == [f"POST /findings/{theirs}/answer", "POST /findings/999999/answer"]
    assert all(json.loads(e.payload_json)["login"] == "101" for e in entries)


def test_an_answer_without_the_form_token_is_refused(session: Session, cycle: int, browser: Browser) -> None:
    finding_id = register(session, cycle, "101")
    sign_in(browser, "101")
    forged = browser.client.post(f"/findings/{finding_id}/answer", data={"measures": "x"})
    assert forged.status_code == 403
    assert fresh(session, finding_id).status == "open"
    (entry,) = audits(session, "access.refused")
    assert json.loads(entry.payload_json)["reason"] == "csrf"


def test_the_coordinator_verifies_and_the_department_reads_the_comment(
    session: Session, cycle: int, browser: Browser, other_browser: Browser
) -> None:
    finding_id = register(session, cycle, "101")
    other = register(session, cycle, "102", key="project:X-02")
    department = sign_in(browser, "101")
    assert department.post(f"/findings/{finding_id}/answer", {"measures": "补充佐证材料"}).status_code == 200  # type: ignore[attr-defined]

    coordinator = sign_in(other_browser, login_of(session, COORDINATOR))
    assert "/findings?year=" in coordinator.client.get("/").text
    listed = coordinator.client.get("/findings", params={"status": "已反馈"}).text
    assert f'id="finding-{finding_id}"' in listed and f'id="finding-{other}"' not in listed  # the filter
    assert f'action="/findings/{finding_id}/verify' in listed and "补充佐证材料" in listed
    assert f'id="finding-{other}"' in coordinator.client.get("/findings", params={"status": "待整改"}).text

    unfixed = coordinator.post(f"/findings/{finding_id}/verify", {"verdict": "unfixed", "comment": "佐证仍不完整"})
    assert unfixed.status_code == 200 and "未整改" in unfixed.text  # type: ignore[attr-defined]
    row = fresh(session, finding_id)
    assert (row.status, row.verified_by, row.comment) == ("unfixed", COORDINATOR, "佐证仍不完整")
    page = department.client.get("/").text
    assert "财政局验证意见（周晓梅）：佐证仍不完整" in page and "未整改" in page and "重新反馈" in page

    assert department.post(f"/findings/{finding_id}/answer", {"measures": "补齐全部佐证"}).status_code == 200  # type: ignore[attr-defined]
    fixed = coordinator.post(f"/findings/{finding_id}/verify", {"verdict": "fixed", "comment": "已补齐"})
    assert fixed.status_code == 200 and f"已记录整改事项 {finding_id} 的验证结论：已整改" in fixed.text  # type: ignore[attr-defined]
    assert fresh(session, finding_id).status == "fixed"
    verified = audits(session, "finding.verified")
    assert [(e.actor, json.loads(e.payload_json)["status"]) for e in verified] == [
        (COORDINATOR, "unfixed"),
        (COORDINATOR, "fixed"),
    ]
    page = department.client.get("/").text
    assert "财政局验证意见（周晓梅）：已补齐" in page and f"/findings/{finding_id}/answer" not in page

    again = department.post(f"/findings/{finding_id}/answer", {"measures": "再补充"})
    assert again.status_code == 422 and "已验证为已整改，无需再反馈" in again.text  # type: ignore[attr-defined]
    assert fresh(session, finding_id).answers == 2
    assert [e.actor for e in audits(session, "finding.answer_refused")] == [person(session, "101")]


def test_neither_the_leader_nor_a_department_verifies(
    session: Session, cycle: int, browser: Browser, other_browser: Browser
) -> None:
    finding_id = register(session, cycle, "101")
    department = sign_in(browser, "101")
    department.post(f"/findings/{finding_id}/answer", {"measures": "补充佐证材料"})

    leader = sign_in(other_browser, login_of(session, LEADER))
    assert f"/findings/{finding_id}/verify" not in leader.client.get("/findings").text
    refused = leader.post(f"/findings/{finding_id}/verify", {"verdict": "fixed", "comment": "同意"})
    assert refused.status_code == 422 and "不是财政局绩效科的审批人" in refused.text  # type: ignore[attr-defined]
    (entry,) = audits(session, "finding.verify_refused")
    assert entry.actor == LEADER and entry.subject == f"finding:{finding_id}"

    own = department.post(f"/findings/{finding_id}/verify", {"verdict": "fixed", "comment": "同意"})
    assert own.status_code == 403  # type: ignore[attr-defined]
    assert department.client.get("/findings").status_code == 403
    assert [json.loads(e.payload_json)["reason"] for e in audits(session, "access.refused")] == ["not_bureau"] * 2
    row = fresh(session, finding_id)
    assert (row.status, row.verified_by) == ("answered", "")
    assert not audits(session, "finding.verified")

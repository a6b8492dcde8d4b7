"""The reminders flow on given dates, against a real SMTP server and a real webhook receiver.

One red-light department owes its warning response by 2024-04-20 (contact by e-mail and webhook, head by
e-mail); one already responded; one is only yellow; two targets gates wait for the two coordinators until
2024-04-22. Each date sends exactly what the calendar implies, and a second run on the same day sends nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from flows.reminders import reminders
from models import Approval, Cycle, Department, WarningNotice
from models.audit_log import Notification
from models.tables import SHANGHAI
from perfcycle import audit
from perfcycle.settings import get_settings
from tests.servers import (  # noqa: F401
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    WebhookServer,
    all_logs,
    free_port,
    smtp_server,
    webhook_server,
)

pytestmark = [pytest.mark.prefect, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]

COORDINATORS = {"zhouxiaomei@lieshan-czj.gov.cn.invalid", "chenlijun@lieshan-czj.gov.cn.invalid"}
CONTACT, HEAD = "jxk101@lieshan.gov.cn.invalid", "fzr101@lieshan.gov.cn.invalid"


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> None:  # noqa: F811
    for key, value in {
        "NOTIFIER": "apprise",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURE": "none",
        "SMTP_USER": SMTP_USER,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "SMTP_FROM": "jxk@lieshan-czj.gov.cn.invalid",
        "NOTIFY_BACKOFF_SECONDS": "0.01",
    }.items():
        monkeypatch.setenv(f"PERFCYCLE_{key}", value)
    get_settings.cache_clear()


def arrange(session: Session, webhook: str, failing_webhook: str = "") -> None:
    from perfcycle.policy import load_policy

    cycle = Cycle(year=2024, budget_year=2026, district="烈山区", policy_json=load_policy(2024).as_json())
    red = Department(
        code="101", name="区教育局", contact="张敏", email=CONTACT, webhook=webhook, head="王强", head_email=HEAD
    )
    answered = Department(code="102", name="区卫健委", contact="李娜", email="jxk102@lieshan.gov.cn.invalid")
    yellow = Department(code="103", name="区民政局", contact="刘洋", email="jxk103@lieshan.gov.cn.invalid")
    session.add_all([cycle, red, answered, yellow])
    if failing_webhook:
        session.add(Department(code="104", name="区水利局", contact="孙杰", webhook=failing_webhook))
    session.flush()
    assert cycle.id
    departments = session.exec(select(Department)).all()
    for department in departments:
        assert department.id
        session.add(
            WarningNotice(
                cycle_id=cycle.id,
                department_id=department.id,
                quarter="Q1",
                level="yellow" if department.code == "103" else "red",
                issued_on=date(2024, 4, 10),
                response_due=None if department.code == "103" else date(2024, 4, 20),
                responded_on=date(2024, 4, 15) if department.code == "102" else None,
            )
        )
    for subject in ("102", "103"):  # two gates of one kind and deadline: one reminder per approver lists both
        session.add(
            Approval(
                cycle_id=cycle.id,
                gate="targets",
                subject=subject,
                opened_at=datetime(2024, 4, 17, 9, 0, tzinfo=SHANGHAI),
                due_at=datetime(2024, 4, 22, 17, 0, tzinfo=SHANGHAI),
            )
        )
    session.commit()


def run(day: str) -> dict[str, Any]:
    summary = reminders(today=day)
    assert summary["today"] == day
    return summary


def mails_by_kind(smtp: SmtpServer) -> Counter[tuple[str, str]]:
    """(recipient, subject prefix such as 【预警整改】) of each mail received since the last call."""
    return Counter((m.recipients[0], m.subject.split("】")[0] + "】") for m in smtp.take())


def test_reminders_follow_the_calendar_and_never_repeat(
    db_url: str,
    session: Session,
    prefect_harness: None,
    channels: None,
    smtp_server: SmtpServer,  # noqa: F811
    webhook_server: WebhookServer,  # noqa: F811
    all_logs: list[str],  # noqa: F811
) -> None:
    arrange(session, webhook_server.url("/robot/101?key=abc123"))

    assert run("2024-04-16")["messages"] == 0  # T-4 for the notice, T-6 for the gate
    assert smtp_server.take() == [] and webhook_server.take() == []

    summary = run("2024-04-17")  # notice T-3
    assert (summary["sent"], summary["failed"]) == (2, 0)
    assert mails_by_kind(smtp_server) == {(CONTACT, "【预警整改】"): 1}
    (hook,) = webhook_server.take()
    assert hook.path == "/robot/101" and hook.query == {"key": ["abc123"]}
    assert hook.payload["title"].startswith("【预警整改】") and "2024年4月20日" in hook.payload["message"]

    run("2024-04-19")  # notice T-1, gates T-3
    mails = smtp_server.take()
    assert Counter((m.recipients[0], m.subject.split("】")[0] + "】") for m in mails) == {
        (CONTACT, "【预警整改】"): 1,
        **{(c, "【待审批】"): 1 for c in COORDINATORS},
    }
    waiting = next(m for m in mails if m.subject.startswith("【待审批】"))
    assert "2项：102、103" in waiting.subject and "perfcycle approve" in waiting.text
    assert len(webhook_server.take()) == 1

    run("2024-04-20")  # notice on the day, gate T-2
    assert mails_by_kind(smtp_server) == {(CONTACT, "【预警整改】"): 1}
    assert len(webhook_server.take()) == 1

    run("2024-04-22")  # notice T+2 overdue, gate on the day
    assert mails_by_kind(smtp_server) == {
        (CONTACT, "【逾期催办】"): 1,
        **{(c, "【待审批】"): 1 for c in COORDINATORS},
    }
    assert len(webhook_server.take()) == 1

    summary = run("2024-04-23")  # notice T+3: overdue and escalation to the head; gate T+1 overdue
    assert (summary["sent"], summary["skipped"], summary["failed"]) == (5, 0, 0)
    mails = smtp_server.take()
    assert Counter((m.recipients[0], m.subject.split("】")[0] + "】") for m in mails) == {
        (CONTACT, "【逾期催办】"): 1,
        (HEAD, "【逾期督办】"): 1,
        **{(c, "【逾期催办】"): 1 for c in COORDINATORS},
    }
    escalation = next(m for m in mails if m.recipients == [HEAD])
    assert "王强" in escalation.text and "区教育局" in escalation.text and "逾期3天" in escalation.text
    assert len(webhook_server.take()) == 1

    again = run("2024-04-23")  # the same day again: nothing twice
    assert (again["sent"], again["skipped"], again["failed"]) == (0, 5, 0)
    assert smtp_server.take() == [] and webhook_server.take() == []

    rows = session.exec(select(Notification)).all()
    assert len(rows) == len({r.dedup_key for r in rows}) == 2 + 4 + 2 + 4 + 5
    assert all(r.outcome == "sent" and r.attempts == 1 for r in rows)
    assert not any(r.recipient in ("李娜", "刘洋") for r in rows)  # answered, and only yellow
    assert audit.verify(session) == []
    assert smtp_server.logins and SMTP_PASSWORD not in "\n".join(all_logs)
    assert "abc123" not in repr([r.model_dump() for r in rows])


def test_a_failing_channel_is_retried_recorded_and_reported(
    db_url: str,
    session: Session,
    prefect_harness: None,
    channels: None,
    smtp_server: SmtpServer,  # noqa: F811
    webhook_server: WebhookServer,  # noqa: F811
    all_logs: list[str],  # noqa: F811
) -> None:
    arrange(session, webhook_server.url("/robot/101"), failing_webhook=f"http://127.0.0.1:{free_port()}/robot/104")

    summary = run("2024-04-17")
    assert (summary["sent"], summary["failed"]) == (2, 1)
    (failure,) = summary["failures"]
    assert failure["收件人"] == "孙杰" and failure["尝试次数"] == 3 and failure["错误"]
    row = session.exec(select(Notification).where(Notification.outcome == "failed")).one()
    assert (row.recipient, row.channel, row.attempts) == ("孙杰", "webhook", 3)
    assert any("通知未送达" in line and "孙杰" in line for line in all_logs)
    everything = repr(summary) + "\n".join(all_logs) + repr(row.model_dump())
    assert SMTP_PASSWORD not in everything


def test_an_open_collection_window_reminds_only_the_departments_that_still_owe_the_form(
    db_url: str,
    session: Session,
    prefect_harness: None,
    channels: None,
    smtp_server: SmtpServer,  # noqa: F811
    webhook_server: WebhookServer,  # noqa: F811
) -> None:
    from models.tables import CollectionWindow, WindowEntry

    arrange(session, webhook_server.url("/robot/101"))
    cycle = session.exec(select(Cycle)).one()
    for notice in session.exec(select(WarningNotice)):
        notice.responded_on = date(2024, 4, 12)  # the warnings are answered: only the window's reminders remain
        session.add(notice)
    window = CollectionWindow(
        cycle_id=cycle.id, stage="monitoring_Q2", form="monitoring", quarter="Q2",
        opens_on=date(2024, 7, 1), due_on=date(2024, 7, 10),
    )  # fmt: skip
    session.add(window)
    session.flush()
    statuses = {"101": "pending", "102": "received", "103": "returned"}
    for department in session.exec(select(Department)):
        session.add(
            WindowEntry(window_id=window.id, department_id=department.id, status=statuses[department.code],
                        due_on=date(2024, 7, 10))
        )  # fmt: skip
    for approval in session.exec(select(Approval)):
        approval.status = "approved"
        session.add(approval)
    session.commit()

    run("2024-07-07")  # T-3
    mails = smtp_server.take()
    assert sorted((m.recipients[0], m.subject.split("】")[0] + "】") for m in mails) == [
        (CONTACT, "【催报提醒】"),
        ("jxk103@lieshan.gov.cn.invalid", "【催报提醒】"),
    ]
    mine = next(m for m in mails if m.recipients == [CONTACT])
    assert (
        "2024年二季度绩效运行监控表" in mine.subject and "perfcycle submit --year 2024 --stage monitoring" in mine.text
    )
    assert "--quarter Q2 --department 101" in mine.text
    assert len(webhook_server.take()) == 1

    summary = run("2024-07-13")  # T+3: overdue for both, escalation to the heads
    (failure,) = summary["failures"]  # 103's head has no address on record: reported, not silently dropped
    assert failure["收件人"] == "区民政局负责人"
    assert Counter((m.recipients[0], m.subject.split("】")[0] + "】") for m in smtp_server.take()) == {
        (CONTACT, "【逾期催办】"): 1,
        (HEAD, "【逾期督办】"): 1,
        ("jxk103@lieshan.gov.cn.invalid", "【逾期催办】"): 1,
    }
    rows = session.exec(select(Notification)).all()
    assert not any(r.recipient == "李娜" for r in rows)  # 102 sent its form

"""Notifiers and dispatch against real local channels: sent once, retried, recorded, secrets never shown."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from models import get_engine
from models.audit_log import AuditEntry, Notification
from perfcycle.notify import (
    AppriseNotifier,
    Message,
    Notifier,
    OutboxNotifier,
    Outcome,
    Recipient,
    dispatch,
    make_notifier,
    mask_url,
    webhook_url,
)
from perfcycle.settings import Settings
from tests.servers import (  # noqa: F401  (fixtures)
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    WebhookServer,
    all_logs,
    free_port,
    smtp_server,
    webhook_server,
)

DEADLINE = date(2024, 4, 20)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def apprise_settings(port: int, **kw: object) -> Settings:
    values: dict[str, object] = {
        "notifier": "apprise",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_secure": "none",
        "smtp_user": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "smtp_from": "jxk@lieshan-czj.gov.cn.invalid",
        "notify_attempts": 3,
        "notify_backoff_seconds": 0.01,
    }
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


def messages_for(notifier: Notifier, recipient: Recipient, step: str = "due:T-3") -> list[Message]:
    return [
        notifier.message(
            recipient,
            channel,
            address,
            "【催报提醒】测试",
            "正文\n",
            item="warning:2024:Q1:101",
            step=step,
            deadline=DEADLINE,
        )
        for channel, address in notifier.routes(recipient)
    ]


def dump(db_url: str) -> str:
    with get_engine(db_url).connect() as conn:
        rows = conn.execute(text("SELECT * FROM notification")).all()
        rows += conn.execute(text("SELECT * FROM audit_entry")).all()
    return repr(rows)


def test_the_outbox_is_the_default_and_writes_files(
    db_url: str, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = make_notifier(Settings(outbox_dir=tmp_path / "outbox"))
    assert isinstance(notifier, OutboxNotifier) and Settings().notifier == "outbox"
    recipient = Recipient("张敏", "a@example.invalid", "https://oapi.dingtalk.com/robot/send?access_token=SECRETTOKEN")
    (message,) = messages_for(notifier, recipient)
    first = dispatch(session, notifier, message, attempts=3, backoff=0)
    again = dispatch(session, notifier, message, attempts=3, backoff=0)
    assert (first.status, again.status) == ("sent", "skipped")
    files = list((tmp_path / "outbox").rglob("*.txt"))
    assert len(files) == 1
    content = files[0].read_text(encoding="utf-8")
    assert "张敏" in content and "【催报提醒】测试" in content and "正文" in content
    row = session.exec(select(Notification)).one()
    assert (row.channel, row.outcome, row.attempts, row.address) == ("outbox", "sent", 1, "a@example.invalid")
    assert [e.action for e in session.exec(select(AuditEntry))] == ["notification.sent"]


def test_a_line_break_in_a_name_never_forges_an_outbox_header(tmp_path: Path) -> None:
    notifier = OutboxNotifier(tmp_path / "outbox")
    (message,) = messages_for(notifier, Recipient("张敏\n主题: 伪造的主题\r\n地址: x", "a@example.invalid", ""))
    assert notifier.send(message).ok
    (file,) = (tmp_path / "outbox").rglob("*.txt")
    header = file.read_text(encoding="utf-8").split("\n\n", 1)[0].splitlines()
    assert [line.split(":", 1)[0] for line in header] == ["收件人", "地址", "事项", "步骤", "期限", "主题"]
    assert header[0] == "收件人: 张敏 主题: 伪造的主题 地址: x"


def test_email_and_webhook_go_out_once(
    db_url: str,
    session: Session,
    smtp_server: SmtpServer,  # noqa: F811
    webhook_server: WebhookServer,  # noqa: F811
    all_logs: list[str],  # noqa: F811
) -> None:
    notifier = AppriseNotifier(apprise_settings(smtp_server.port))
    recipient = Recipient("张敏", "zhangmin@example.invalid", webhook_server.url("/hook/101?token=abcdef123"))
    messages = messages_for(notifier, recipient)
    assert [m.channel for m in messages] == ["email", "webhook"]
    results = [dispatch(session, notifier, m) for m in messages]
    assert [r.status for r in results] == ["sent", "sent"]
    (mail,) = smtp_server.take()
    assert mail.recipients == ["zhangmin@example.invalid"] and mail.subject == "【催报提醒】测试"
    assert "正文" in mail.text and smtp_server.logins == [SMTP_USER]
    (hook,) = webhook_server.take()
    assert hook.path == "/hook/101" and hook.query == {"token": ["abcdef123"]}
    assert (hook.payload["title"], hook.payload["message"].strip()) == ("【催报提醒】测试", "正文")

    assert [dispatch(session, notifier, m).status for m in messages] == ["skipped", "skipped"]
    assert smtp_server.mails == [] and webhook_server.hooks == []
    rows = session.exec(select(Notification)).all()
    assert sorted((r.channel, r.outcome, r.attempts) for r in rows) == [("email", "sent", 1), ("webhook", "sent", 1)]
    webhook_row = next(r for r in rows if r.channel == "webhook")
    assert "abcdef123" not in webhook_row.address and webhook_row.address.startswith("json://127.0.0.1:")
    everything = dump(db_url) + "\n".join(all_logs)
    assert SMTP_PASSWORD not in everything and "abcdef123" not in dump(db_url)


def test_a_closed_port_is_retried_then_recorded_as_failed(
    db_url: str,
    session: Session,
    all_logs: list[str],  # noqa: F811
) -> None:
    notifier = AppriseNotifier(apprise_settings(free_port()))
    waits: list[float] = []
    recipient = Recipient("张敏", "zhangmin@example.invalid", f"http://127.0.0.1:{free_port()}/hook")
    results = [dispatch(session, notifier, m, sleep=waits.append) for m in messages_for(notifier, recipient)]
    assert [(r.status, r.attempts) for r in results] == [("failed", 3), ("failed", 3)]
    assert waits == [0.01, 0.02, 0.01, 0.02]  # backoff doubles between tries
    rows = session.exec(select(Notification)).all()
    assert all(r.outcome == "failed" and r.attempts == 3 and r.error for r in rows)
    assert any("失败" in line or "error" in line.lower() for line in all_logs)
    for result in results:
        assert SMTP_PASSWORD not in result.error
    assert SMTP_PASSWORD not in dump(db_url) + "\n".join(all_logs)
    audited = [e.action for e in session.exec(select(AuditEntry))]
    assert audited == ["notification.failed", "notification.failed"]

    # A later run tries a failed message again (it never arrived); attempts add up.
    again = dispatch(session, notifier, messages_for(notifier, recipient)[0], sleep=waits.append)
    assert (again.status, again.attempts) == ("failed", 3)
    row = session.exec(select(Notification).where(Notification.channel == "email")).one()
    assert row.attempts == 6


def test_a_recipient_without_any_address_is_recorded_not_dropped(db_url: str, session: Session) -> None:
    notifier = AppriseNotifier(apprise_settings(free_port()))
    (message,) = messages_for(notifier, Recipient("无联系方式的人"))
    result = dispatch(session, notifier, message, sleep=lambda _s: None)
    assert (result.status, result.attempts) == ("failed", 1)
    row = session.exec(select(Notification)).one()
    assert row.channel == "none" and "没有登记" in row.error


def test_an_exception_in_a_notifier_is_a_failure(db_url: str, session: Session) -> None:
    class Broken(OutboxNotifier):
        def send(self, message: Message) -> Outcome:
            raise OSError("disk full")

    notifier = Broken(Path("unused"))
    (message,) = messages_for(notifier, Recipient("张敏", "a@example.invalid"))
    result = dispatch(session, notifier, message, attempts=2, backoff=0, sleep=lambda _s: None)
    assert (result.status, result.attempts, result.error) == ("failed", 2, "OSError: disk full")


def test_urls_are_shown_without_their_secrets() -> None:
    assert (
        webhook_url("https://example.invalid/send?access_token=T0K3N")
        == "jsons://example.invalid/send?-access_token=T0K3N"
    )
    assert webhook_url("dingtalk://T0K3N") == "dingtalk://T0K3N"
    assert "T0K3N" not in mask_url("jsons://example.invalid/send?-access_token=T0K3N")
    assert "T0K3N" not in mask_url("dingtalk://T0K3N/?secret=S")
    assert "T0K3N" not in mask_url("wecombot://T0K3N")
    assert "pw" not in mask_url("json://user:pw@example.invalid/hook")
    assert mask_url("json://a.invalid/x") != mask_url("json://a.invalid/y")  # two webhooks stay apart


@pytest.mark.parametrize(
    "template",
    [
        "reminder_due.txt.j2",
        "reminder_overdue.txt.j2",
        "escalation.txt.j2",
        "warning_response.txt.j2",
        "approval_waiting.txt.j2",
    ],
)
def test_reminder_templates_read_only_their_context(template: str) -> None:
    from perfcycle.documents.renderer import template_variables
    from perfcycle.reminding import ReminderContext

    variables = template_variables(template)
    assert variables and variables <= set(ReminderContext.model_fields), variables - set(ReminderContext.model_fields)


def pending_claim(session: Session, message: Message, claimed_by: str, minutes_ago: int = 0) -> Notification:
    """A row as a run leaves it between claiming a message and recording what became of it."""
    from datetime import timedelta

    from models.tables import now
    from perfcycle.notify import CLAIMED

    row = Notification(
        recipient=message.recipient,
        channel=message.channel,
        address=message.public_address,
        subject=message.subject,
        item=message.item,
        step=message.step,
        deadline=message.deadline,
        dedup_key=message.dedup_key,
        outcome="pending",
        error=f"{CLAIMED}{claimed_by}",
        at=now() - timedelta(minutes=minutes_ago),
    )
    session.add(row)
    session.commit()
    return row


def test_a_claim_whose_process_died_is_recorded_unknown_and_never_sent(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from perfcycle.locks import this_host

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    notifier = OutboxNotifier(tmp_path / "outbox")
    (message,) = messages_for(notifier, Recipient("张敏", "a@example.invalid"))
    pending_claim(session, message, f"{this_host()} 进程 {dead.pid}")

    result = dispatch(session, notifier, message, attempts=3, backoff=0)
    assert result.status == "unknown" and "发送结果未知" in result.error
    assert not (tmp_path / "outbox").exists()  # not sent again
    session.expire_all()
    row = session.exec(select(Notification)).one()
    assert (row.outcome, row.attempts) == ("unknown", 1) and row.error == result.error
    assert [e.action for e in session.exec(select(AuditEntry))] == ["notification.unknown"]
    assert dispatch(session, notifier, message).status == "skipped"  # and never later either
    assert not (tmp_path / "outbox").exists()


def test_a_claim_of_a_run_that_may_still_be_sending_is_left_alone_until_stale(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    import os

    from perfcycle.locks import this_host

    notifier = OutboxNotifier(tmp_path / "outbox")
    (mine,) = messages_for(notifier, Recipient("张敏", "a@example.invalid"))
    (elsewhere,) = messages_for(notifier, Recipient("李娜", "b@example.invalid"))
    (old,) = messages_for(notifier, Recipient("刘洋", "c@example.invalid"))
    pending_claim(session, mine, f"{this_host()} 进程 {os.getpid()}")  # this very process, a moment ago
    pending_claim(session, elsewhere, "other-host pid:[1] 进程 4242")  # another machine: its pid means nothing here
    pending_claim(session, old, "other-host pid:[1] 进程 4242", minutes_ago=31)  # longer than any send takes

    statuses = [dispatch(session, notifier, m, attempts=1, backoff=0).status for m in (mine, elsewhere, old)]
    assert statuses == ["skipped", "skipped", "unknown"]
    session.expire_all()
    outcomes = {r.recipient: r.outcome for r in session.exec(select(Notification))}
    assert outcomes == {"张敏": "pending", "李娜": "pending", "刘洋": "unknown"}
    assert not (tmp_path / "outbox").exists()


def test_a_failed_message_is_claimed_again_by_one_run_only(db_url: str, session: Session, tmp_path: Path) -> None:
    from models import get_engine

    class Flaky(OutboxNotifier):
        ok = False

        def send(self, message: Message) -> Outcome:
            return super().send(message) if self.ok else Outcome(False, "暂时不可用")

    notifier = Flaky(tmp_path / "outbox")
    (message,) = messages_for(notifier, Recipient("张敏", "a@example.invalid"))
    assert dispatch(session, notifier, message, attempts=1, backoff=0).status == "failed"
    with Session(get_engine(db_url), expire_on_commit=False) as other:  # a second run saw the failure too
        stale = other.exec(select(Notification)).one()
        notifier.ok = True
        assert dispatch(session, notifier, message, attempts=1, backoff=0).status == "sent"
        assert dispatch(other, notifier, message, attempts=1, backoff=0).status == "skipped"
        assert stale.outcome == "failed"  # what it had read: its conditional claim found the row changed
    assert len(list((tmp_path / "outbox").rglob("*.txt"))) == 1

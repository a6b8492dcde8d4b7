"""A reminders run killed with SIGKILL after a notification is sent but before it is recorded is continued by
the same command: nothing goes out twice, and the message whose fate is unknown is recorded as such.

The command (`perfcycle serve --once reminders`) runs in a child process against the real SMTP server and
webhook receiver; PERFCYCLE_FAULT kills it at the `notification-sent` checkpoint of the third message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from models import Department
from models.audit_log import AuditEntry, Notification
from perfcycle import audit
from tests.notices import arrange_red_notices
from tests.servers import (  # noqa: F401  (fixtures)
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    WebhookServer,
    smtp_server,
    webhook_server,
)

pytestmark = [pytest.mark.prefect, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]

DAY = "2024-04-23"  # T+3 of the response deadline: an overdue reminder (e-mail and webhook) and an escalation


def arrange(session: Session, webhook: WebhookServer) -> None:
    arrange_red_notices(
        session,
        (
            Department(
                code=code,
                name=name,
                contact=contact,
                email=f"jxk{code}@lieshan.gov.cn.invalid",
                webhook=webhook.url(f"/robot/{code}?key=tok{code}abc"),
                head=f"{name}负责人",
                head_email=f"fzr{code}@lieshan.gov.cn.invalid",
            )
            for code, name, contact in (("101", "区教育局", "张敏"), ("105", "区交通运输局", "赵磊"))
        ),
    )


def run_reminders(
    db_url: str, smtp: SmtpServer, home: Path, fault: str | None = None
) -> subprocess.CompletedProcess[str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))}
    env.update(
        {
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_HOME": str(home),
            "PERFCYCLE_NOTIFIER": "apprise",
            "PERFCYCLE_SMTP_HOST": smtp.host,
            "PERFCYCLE_SMTP_PORT": str(smtp.port),
            "PERFCYCLE_SMTP_SECURE": "none",
            "PERFCYCLE_SMTP_USER": SMTP_USER,
            "PERFCYCLE_SMTP_PASSWORD": SMTP_PASSWORD,
            "PERFCYCLE_SMTP_FROM": "jxk@lieshan-czj.gov.cn.invalid",
            "PERFCYCLE_NOTIFY_BACKOFF_SECONDS": "0.01",
        }
    )
    if fault:
        env["PERFCYCLE_FAULT"] = fault
    command = [sys.executable, "-m", "perfcycle", "serve", "--once", "reminders", "--today", DAY]
    command += ["--database-url", db_url]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=home)


def test_a_run_killed_after_sending_resumes_without_sending_twice(
    db_url: str,
    session: Session,
    prefect_harness: None,
    smtp_server: SmtpServer,  # noqa: F811
    webhook_server: WebhookServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    arrange(session, webhook_server)

    killed = run_reminders(db_url, smtp_server, tmp_path, fault="notification-sent:3")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    session.expire_all()
    rows = session.exec(select(Notification)).all()
    assert sorted(r.outcome for r in rows) == ["pending", "sent", "sent"]  # the third went out, unrecorded
    arrived = len(smtp_server.mails) + len(webhook_server.hooks)
    assert arrived == 3

    resumed = run_reminders(db_url, smtp_server, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert "结果未知 1" in resumed.stdout and "发送结果未知" in resumed.stderr

    session.expire_all()
    rows = session.exec(select(Notification)).all()
    outcomes = Counter(r.outcome for r in rows)
    assert outcomes["unknown"] == 1 and outcomes["pending"] == outcomes["failed"] == 0
    assert outcomes["sent"] == len(rows) - 1 >= 5
    unknown = next(r for r in rows if r.outcome == "unknown")
    assert "发送结果未知" in unknown.error and "不再发送" in unknown.error and unknown.attempts == 1

    # Every message arrived exactly once: the unknown one from the killed run, the others from either run.
    mails = Counter((m.recipients[0], m.subject) for m in smtp_server.take())
    hooks = Counter((h.path, h.payload["title"]) for h in webhook_server.take())
    assert set(mails.values()) == {1} and set(hooks.values()) == {1}
    assert len(mails) == sum(1 for r in rows if r.channel == "email")
    assert len(hooks) == sum(1 for r in rows if r.channel == "webhook")
    expected = {f"jxk{c}@lieshan.gov.cn.invalid" for c in ("101", "105")} | {
        f"fzr{c}@lieshan.gov.cn.invalid" for c in ("101", "105")
    }
    assert expected <= {recipient for recipient, _ in mails}
    assert {"/robot/101", "/robot/105"} <= {path for path, _ in hooks}

    # The records are complete: one audit entry per notification, the chain intact.
    actions = Counter(e.action for e in session.exec(select(AuditEntry)))
    assert actions["notification.unknown"] == 1 and actions["notification.sent"] == len(rows) - 1
    assert audit.verify(session) == []

    again = run_reminders(db_url, smtp_server, tmp_path)  # a third run: nothing at all
    assert again.returncode == 0, again.stderr
    assert "发送 0" in again.stdout and "结果未知 0" in again.stdout
    assert smtp_server.take() == [] and webhook_server.take() == []

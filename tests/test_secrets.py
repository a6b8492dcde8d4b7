"""SMTP passwords and webhook tokens come from the settings or Prefect Secret blocks, and are never shown.

Against the Prefect test server, the real SMTP server (which accepts one password only) and webhook receivers:
a Secret block's password is the one the SMTP login uses, a `secret:<block>` webhook reaches its URL, and after a
reminders run with failures every place a secret could leak to is searched for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel, select

from flows.reminders import reminders  # imported before any test: Prefect sets up logging on its first import
from models import Department, get_engine
from models.audit_log import Notification
from perfcycle.notify import AppriseNotifier, OutboxNotifier, Recipient, SecretUnavailable, dispatch, load_secret
from perfcycle.reminding import run_reminders
from perfcycle.settings import Settings, get_settings
from tests.notices import arrange_red_notices
from tests.servers import (  # noqa: F401  (fixtures)
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    WebhookServer,
    all_logs,
    free_port,
    rejecting_webhook_server,
    smtp_server,
    webhook_server,
)

pytestmark = [pytest.mark.prefect, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]

TOKEN = "dT0k3n-6f1e2a9c4b7d"  # a DingTalk-style access token in the query
PATH_TOKEN = "8c1d5e7a-3b2f-4c6d-9e0a-1f2b3c4d5e6f"  # a Feishu-style token in the path
KEY = "wx-K3y/with+chars=="  # a WeCom-style key that needs quoting
GONE_TOKEN = "g0neT0ken-a1b2c3d4"
WRONG_PASSWORD = "Wr0ng:pa55/Word!"  # set, but the block wins


def save_secret(name: str, value: str) -> None:
    from prefect.blocks.system import Secret

    Secret(value=value).save(name, overwrite=True)


def settings_for(smtp: SmtpServer, **kw: Any) -> Settings:
    values: dict[str, Any] = {
        "notifier": "apprise",
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_secure": "none",
        "smtp_user": SMTP_USER,
        "smtp_from": "jxk@lieshan-czj.gov.cn.invalid",
        "notify_attempts": 2,
        "notify_backoff_seconds": 0.01,
    }
    values.update(kw)
    return Settings(**values)


def one_message(notifier: AppriseNotifier, recipient: Recipient, channel: str) -> Any:
    (address,) = [a for c, a in notifier.routes(recipient) if c == channel]
    return notifier.message(recipient, channel, address, "【测试】密钥", "正文\n", item="secret-test", step="due:T-3")


def test_the_smtp_password_comes_from_a_prefect_secret_block(
    db_url: str,
    session: Session,
    prefect_harness: None,
    smtp_server: SmtpServer,  # noqa: F811
    webhook_server: WebhookServer,  # noqa: F811
) -> None:
    save_secret("perfcycle-test-smtp", SMTP_PASSWORD)
    save_secret("perfcycle-test-hook", webhook_server.url(f"/robot/send?access_token={TOKEN}"))
    settings = settings_for(smtp_server, smtp_password_block="perfcycle-test-smtp", smtp_password=WRONG_PASSWORD)
    notifier = AppriseNotifier(settings)
    recipient = Recipient("张敏", "zhangmin@example.invalid", "secret:perfcycle-test-hook")

    mail = dispatch(session, notifier, one_message(notifier, recipient, "email"))
    assert mail.status == "sent", mail.error
    assert smtp_server.passwords == [SMTP_PASSWORD] and smtp_server.logins == [
        SMTP_USER
    ]  # the block's, not the setting's
    assert [m.recipients for m in smtp_server.take()] == [["zhangmin@example.invalid"]]

    hook = dispatch(session, notifier, one_message(notifier, recipient, "webhook"))
    assert hook.status == "sent", hook.error
    (received,) = webhook_server.take()
    assert received.path == "/robot/send" and received.query == {"access_token": [TOKEN]}
    row = session.exec(select(Notification).where(Notification.channel == "webhook")).one()
    assert row.address == "secret:perfcycle-test-hook"  # the block's name is stored, never its URL


def test_a_missing_block_is_a_failure_that_names_it(
    db_url: str,
    session: Session,
    prefect_harness: None,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    with pytest.raises(SecretUnavailable, match="perfcycle-no-such-block"):
        load_secret("perfcycle-no-such-block")
    notifier = AppriseNotifier(settings_for(smtp_server, smtp_password_block="perfcycle-no-such-block"))
    recipient = Recipient("张敏", "zhangmin@example.invalid", "secret:perfcycle-no-such-hook")
    mail = dispatch(session, notifier, one_message(notifier, recipient, "email"), sleep=lambda _s: None)
    hook = dispatch(session, notifier, one_message(notifier, recipient, "webhook"), sleep=lambda _s: None)
    assert (mail.status, hook.status) == ("failed", "failed")
    assert "无法读取 Prefect Secret 块「perfcycle-no-such-block」" in mail.error
    assert "perfcycle-no-such-hook" in hook.error
    assert smtp_server.passwords == []


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[None]:  # noqa: F811
    for key, value in {
        "NOTIFIER": "apprise",
        "SMTP_HOST": smtp_server.host,
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURE": "none",
        "SMTP_USER": SMTP_USER,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "SMTP_FROM": "jxk@lieshan-czj.gov.cn.invalid",
        "NOTIFY_BACKOFF_SECONDS": "0.01",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "OUTPUT_DIR": str(tmp_path / "out"),
    }.items():
        monkeypatch.setenv(f"PERFCYCLE_{key}", value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def arrange(session: Session) -> None:
    arrange_red_notices(
        session,
        [
            Department(
                code="101",
                name="区教育局",
                contact="张敏",
                email="jxk101@lieshan.gov.cn.invalid",
                webhook="secret:perfcycle-hook-101",
                head="王强",
                head_email="fzr101@lieshan.gov.cn.invalid",
            ),
            Department(code="104", name="区水利局", contact="孙杰", webhook="secret:perfcycle-hook-104"),
            Department(code="106", name="区林业局", contact="钱坤", webhook="secret:perfcycle-hook-106"),
        ],
    )


def prefect_records(flow_run_id: Any) -> list[str]:
    """Every log line, artifact, flow run and task run the Prefect server holds, as text."""
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=20)
    texts: list[str] = []
    with get_client(sync_client=True) as client:
        for read in (client.read_logs, client.read_artifacts, client.read_flow_runs, client.read_task_runs):
            offset = 0
            while page := read(limit=200, offset=offset):
                texts += [item.model_dump_json() for item in page]
                offset += len(page)
        mine = [t for t in texts if str(flow_run_id) in t]
    assert any("通知未送达" in t for t in mine), "the run's own logs were read back"
    assert any("reminders-failed-2024-04-23" in t for t in mine), "the run's failure artifact was read back"
    return texts


def database_rows(db_url: str) -> list[str]:
    with get_engine(db_url).connect() as conn:
        return [
            f"{table.name} {row!r}"
            for table in SQLModel.metadata.sorted_tables
            for row in conn.execute(text(f"SELECT * FROM {table.name}"))
        ]


def test_no_secret_reaches_a_log_an_artifact_a_record_a_file_or_an_error(
    db_url: str,
    session: Session,
    prefect_harness: None,
    channels: None,
    smtp_server: SmtpServer,  # noqa: F811
    webhook_server: WebhookServer,  # noqa: F811
    rejecting_webhook_server: WebhookServer,  # noqa: F811
    all_logs: list[str],  # noqa: F811
    tmp_path: Path,
) -> None:
    save_secret("perfcycle-hook-101", webhook_server.url(f"/robot/send?access_token={TOKEN}"))
    save_secret("perfcycle-hook-104", rejecting_webhook_server.url(f"/bot/v2/hook/{PATH_TOKEN}?key={quote(KEY)}"))
    save_secret("perfcycle-hook-106", f"http://127.0.0.1:{free_port()}/robot/send?access_token={GONE_TOKEN}")
    arrange(session)

    state = reminders(today="2024-04-23", return_state=True)  # the daily flow on T+3: overdue and escalation
    summary = state.result()
    assert (summary["sent"], summary["failed"]) == (3, 4), summary  # two webhooks fail, two heads have no address
    assert len(smtp_server.take()) == 2 and set(smtp_server.passwords) == {SMTP_PASSWORD}  # the secrets were used
    assert webhook_server.take()[0].query == {"access_token": [TOKEN]}
    assert rejecting_webhook_server.take()[0].path == f"/bot/v2/hook/{PATH_TOKEN}"

    errors = [str(f) for f in summary["failures"]]
    closed = AppriseNotifier(settings_for(smtp_server, smtp_port=free_port(), smtp_password=SMTP_PASSWORD))
    delivery = dispatch(session, closed, one_message(closed, Recipient("张敏", "zhangmin@example.invalid"), "email"))
    assert delivery.status == "failed" and delivery.error  # the mail server is down: the URL held the password
    errors.append(delivery.error)
    try:
        load_secret("perfcycle-hook-missing")
    except SecretUnavailable as exc:
        errors.append(str(exc))
    outbox = run_reminders(date(2024, 4, 24), OutboxNotifier(tmp_path / "outbox"))  # the same departments, offline
    assert outbox["sent"] >= 4
    errors += [str(f) for f in outbox["failures"]]

    places = {
        "logs": all_logs,
        "prefect": prefect_records(state.state_details.flow_run_id),
        "database": database_rows(db_url),
        "files": [
            p.read_text(encoding="utf-8") for d in ("outbox", "out") for p in (tmp_path / d).rglob("*") if p.is_file()
        ],
        "errors": errors,
    }
    assert places["files"] and places["database"] and places["logs"]
    secrets = [SMTP_PASSWORD, TOKEN, PATH_TOKEN, KEY, GONE_TOKEN]
    for where, texts in places.items():
        for secret in secrets:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                leaked = [t for t in texts if form in t]
                assert not leaked, f"{secret!r} in {where}: {leaked[0][:500]}"

"""Notifications: one small interface, an outbox for the embedded demo and apprise for real channels.

`Notifier.send(message) -> Outcome` delivers one message over one channel and nothing else. `dispatch`
does the bookkeeping around it, the same for every notifier:

- the dedup key (recipient, channel, address, item, deadline, step) is claimed first in the
  `Notification` table and the claim is committed before anything is sent, so the same reminder never goes
  twice, even from two runs at once; the claim names the claiming process and when it claimed;
- a failed send is tried again (`notify_attempts`, waiting `notify_backoff_seconds`, doubling), then
  recorded as failed with the error and reported; a later run tries a failed message again;
- the outcome is recorded (when, to whom, channel, address, attempts, error) and goes into the audit log;
- a claim whose run died before recording its outcome (killed after the send, say) is never sent again:
  the next run records it as `unknown` (it may have gone out), audits and reports it.

Secrets never reach a record, a log line or an error text. The SMTP password comes from the settings or a
Prefect Secret block (`PERFCYCLE_SMTP_PASSWORD_BLOCK`); a webhook address may be `secret:<block name>`, a
Prefect Secret block holding the URL, so that its token is kept out of the database altogether. Addresses
are stored as the e-mail address, the `secret:` reference, or the webhook URL as apprise prints it with
privacy on (credentials masked, query dropped), and every error text is scrubbed of the SMTP password and
of the webhook URLs' secret parts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.audit_log import Notification
from models.tables import SHANGHAI, now
from perfcycle import audit
from perfcycle.faults import checkpoint
from perfcycle.rules.text import one_line

if TYPE_CHECKING:
    from perfcycle.settings import Settings

log = logging.getLogger("perfcycle.notify")
MASK = "****"
ERROR_LIMIT = 2000
SECRET_PREFIX = "secret:"  # a webhook address kept in a Prefect Secret block: secret:<block name>
CLAIM_STALE_AFTER = timedelta(minutes=30)  # far longer than any send with its retries takes
CLAIMED = "发送中："


@dataclass(frozen=True)
class Recipient:
    """A person or a department's contact, with the addresses reminders go to."""

    name: str
    email: str = ""
    webhook: str = ""


@dataclass(frozen=True)
class Message:
    """One text to one recipient over one channel (`address` is the raw e-mail address or webhook URL)."""

    recipient: str
    channel: str
    address: str
    subject: str
    body: str
    item: str = ""
    step: str = ""
    deadline: date | None = None
    public_address: str = ""  # the address as it may be stored and shown

    @property
    def dedup_key(self) -> str:
        """Per recipient, channel, item, deadline and step: the same reminder never goes twice."""
        parts = [self.recipient, self.channel, self.public_address, self.item, str(self.deadline or ""), self.step]
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str = ""


class Notifier(ABC):
    """Delivers messages; knows which channels a recipient has and how to show an address safely."""

    name: str = "notifier"
    attempts: int = 3  # tries per message before it counts as failed
    backoff: float = 2.0  # seconds before the second try, doubling after

    @abstractmethod
    def send(self, message: Message) -> Outcome: ...

    @abstractmethod
    def routes(self, recipient: Recipient) -> list[tuple[str, str]]:
        """(channel, raw address) pairs for a recipient; a recipient with none gets ("none", "")."""

    def public(self, channel: str, address: str) -> str:
        """The address as it may be stored, logged and shown."""
        return address

    def secrets(self) -> list[str]:
        """Strings that must never appear in a record, a log line or an error text."""
        return []

    @abstractmethod
    def destination(self) -> str:
        """Where messages go, in words a coordinator can check (no secret in it)."""

    def message(
        self,
        recipient: Recipient,
        channel: str,
        address: str,
        subject: str,
        body: str,
        *,
        item: str = "",
        step: str = "",
        deadline: date | None = None,
    ) -> Message:
        return Message(
            recipient=recipient.name,
            channel=channel,
            address=address,
            subject=subject,
            body=body,
            item=item,
            step=step,
            deadline=deadline,
            public_address=self.public(channel, address),
        )


class OutboxNotifier(Notifier):
    """Writes each message as a text file under the outbox folder: nothing leaves the machine."""

    name = "outbox"

    def __init__(self, folder: Path, attempts: int = 3, backoff: float = 2.0) -> None:
        self.folder = folder
        self.attempts, self.backoff = attempts, backoff

    def routes(self, recipient: Recipient) -> list[tuple[str, str]]:
        return [("outbox", recipient.email or recipient.webhook)]

    def destination(self) -> str:
        return f"本地发件箱 {self.folder.resolve()}（每条通知一个文件，按日期分目录；不会发出本机）"

    def public(self, channel: str, address: str) -> str:
        return mask_url(address) if "://" in address else address

    def send(self, message: Message) -> Outcome:
        day = now().date().isoformat()
        path = self.folder / day / f"{message.dedup_key[:16]}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "收件人": message.recipient,
            "地址": message.public_address or "（无）",
            "事项": message.item,
            "步骤": message.step,
            "期限": message.deadline or "",
            "主题": message.subject,
        }
        # A header value is one line whatever a record holds: a line break in a name never forges a header.
        lines = [f"{name}: {one_line(value)}" for name, value in header.items()] + ["", message.body]
        path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
        return Outcome(True)


def mask_url(url: str) -> str:
    """A URL as it may be shown: scheme and host only (credentials, path and query may hold tokens), plus a
    short digest of the whole URL so that two webhooks on one host stay apart."""
    tag = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return f"{MASK}#{tag}"
    if parts.scheme not in ("http", "https", "json", "jsons"):
        return f"{parts.scheme}://{MASK}#{tag}"  # dingtalk://TOKEN, wecombot://KEY: the host is the secret
    userinfo = f"{MASK}@" if parts.username or parts.password else ""
    return f"{parts.scheme}://{userinfo}{host}/{MASK}#{tag}"


def webhook_url(address: str) -> str:
    """A department's webhook as an apprise URL: http(s) becomes json(s) with its query kept as GET params."""
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https"):
        return address  # already an apprise URL: dingtalk://, wecombot://, json://, …
    scheme = "jsons" if parts.scheme == "https" else "json"
    query = urlencode([(f"-{k}", v) for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return f"{scheme}://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")


class SecretUnavailable(Exception):
    """A Prefect Secret block named in the settings or an address could not be read."""


def load_secret(name: str) -> str:
    """The text of a Prefect Secret block: passwords and tokens live there, never in code or the database."""
    from prefect.blocks.system import Secret

    try:
        block: Any = Secret.load(name)  # called from sync code, so it returns the block
        value = block.value.get_secret_value()  # the text as stored: Secret.get() would turn "123456" into a number
    except Exception as exc:  # no such block, no Prefect API: named, never shown with a value
        raise SecretUnavailable(
            f"无法读取 Prefect Secret 块「{name}」（{type(exc).__name__}），请检查块名称和 Prefect 连接"
        ) from None
    if not isinstance(value, str) or not value:
        raise SecretUnavailable(f"Prefect Secret 块「{name}」的值应为非空文本")
    return value


class AppriseNotifier(Notifier):
    """E-mail over SMTP and webhooks (DingTalk, WeCom robots, generic JSON) through apprise."""

    name = "apprise"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.attempts, self.backoff = settings.notify_attempts, settings.notify_backoff_seconds
        self._password: str | None = None
        if not settings.smtp_password_block:
            self._password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        self._webhooks: dict[str, str] = {}  # secret:<block> -> URL, read once per notifier
        self._seen: list[str] = []  # secret parts of the webhook URLs read from blocks

    def password(self) -> str:
        """The SMTP password: from PERFCYCLE_SMTP_PASSWORD_BLOCK when set (read once), else the setting."""
        if self._password is None:
            self._password = load_secret(self.settings.smtp_password_block)
        return self._password

    def secrets(self) -> list[str]:
        return [s for s in (self._password or "", *self._seen) if s]

    def destination(self) -> str:
        mail = (
            f"邮件经 SMTP 服务器 {self.settings.smtp_host}"
            if self.settings.smtp_host
            else "未配置 SMTP 服务器（邮件无法发出）"
        )
        return f"{mail}；钉钉、企业微信和 webhook 通知发往各部门登记的通知地址"

    def resolve(self, address: str) -> str:
        """A webhook address as apprise takes it; `secret:<block>` is read from its Prefect Secret block."""
        if not address.startswith(SECRET_PREFIX):
            return webhook_url(address)
        if address not in self._webhooks:
            url = webhook_url(load_secret(address.removeprefix(SECRET_PREFIX).strip()))
            self._seen.extend(_url_secrets(url, whole=True))
            self._webhooks[address] = url
        return self._webhooks[address]

    def routes(self, recipient: Recipient) -> list[tuple[str, str]]:
        routes = []
        if recipient.email:
            routes.append(("email", recipient.email))
        if recipient.webhook:
            routes.append(("webhook", recipient.webhook))
        return routes or [("none", "")]

    def public(self, channel: str, address: str) -> str:
        if channel != "webhook" or address.startswith(SECRET_PREFIX):
            return address
        return mask_url(webhook_url(address))

    def _email_url(self, to: str) -> str:
        s = self.settings
        scheme = "mailto" if s.smtp_secure == "none" else "mailtos"
        credentials = ""
        if s.smtp_user:
            credentials = quote(s.smtp_user, safe="")
            if self.password():
                credentials += ":" + quote(self.password(), safe="")
            credentials += "@"
        port = f":{s.smtp_port}" if s.smtp_port else ""
        params = {"smtp": s.smtp_host, "from": s.smtp_from, "to": to}
        if s.smtp_secure != "none":
            params["mode"] = s.smtp_secure
        return f"{scheme}://{credentials}{s.smtp_host}{port}?{urlencode(params)}"

    def send(self, message: Message) -> Outcome:
        import apprise

        if message.channel == "none":
            return Outcome(False, f"{message.recipient} 没有登记电子邮箱或 webhook，无法发送")
        try:
            if message.channel == "email":
                if not self.settings.smtp_host or not self.settings.smtp_from:
                    return Outcome(False, "未配置 SMTP 服务器（PERFCYCLE_SMTP_HOST、PERFCYCLE_SMTP_FROM）")
                url = self._email_url(message.address)
            elif message.channel == "webhook":
                url = self.resolve(message.address)
            else:
                return Outcome(False, f"未知的渠道 {message.channel}")
        except SecretUnavailable as exc:
            return Outcome(False, str(exc))
        secrets = self.secrets() + _url_secrets(url)
        with _scrubbed_apprise_logs(secrets):
            sender = apprise.Apprise()
            if not sender.add(url):
                return Outcome(False, f"无法识别的地址 {message.public_address}")
            with apprise.LogCapture(level=logging.WARNING) as captured:
                result = sender.notify(title=message.subject, body=message.body, body_format=apprise.NotifyFormat.TEXT)
            if result:
                return Outcome(True)
            text = " ".join(line.split(" - ", 2)[-1] for line in captured.getvalue().splitlines() if line.strip())
        return Outcome(False, scrub(text or "发送失败", secrets))


def _url_secrets(url: str, *, whole: bool = False) -> list[str]:
    """The parts of an apprise URL that may be secret: credentials, tokens in the path, query values.

    `whole`: the URL came from a Secret block, so every part of it past the host counts as secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    segments = [p for p in parts.path.split("/") if p]
    values = [v for _, v in parse_qsl(parts.query)]
    found = [parts.password or ""]
    if parts.scheme not in ("http", "https", "json", "jsons", "mailto", "mailtos"):
        found += [parts.netloc, parts.path.strip("/")]
    if parts.scheme in ("json", "jsons"):
        found += [v for v in values if len(v) >= 6]
        found += [p for p in segments if len(p) >= 16 and any(c.isdigit() for c in p)]  # /hook/<uuid> style tokens
    if whole:
        found += [url, parts.path.strip("/"), parts.query] + [p for p in segments + values if len(p) >= 8]
    return [s for s in found if s and len(s) >= 4]


def scrub(text: str, secrets: list[str]) -> str:
    """The text with every secret, as written and URL-quoted, replaced by ****."""
    forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""), quote(secret))}
    for secret in sorted(forms, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text[:ERROR_LIMIT]


class _Scrubber(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            clean = scrub(text, self.secrets)
            if clean != text:
                record.msg, record.args = clean, None
        return True


@contextmanager
def _scrubbed_apprise_logs(secrets: list[str]) -> Iterator[None]:
    """apprise prints URLs with privacy on; this makes sure no secret of ours gets through anyway."""
    logger = logging.getLogger("apprise")
    scrubber = _Scrubber(secrets)
    logger.addFilter(scrubber)
    try:
        yield
    finally:
        logger.removeFilter(scrubber)


def make_notifier(settings: Settings | None = None) -> Notifier:
    """The notifier the settings choose (PERFCYCLE_NOTIFIER): the outbox unless apprise is asked for."""
    from perfcycle.settings import get_settings

    settings = settings or get_settings()
    if settings.notifier == "apprise":
        return AppriseNotifier(settings)
    return OutboxNotifier(settings.outbox_dir, settings.notify_attempts, settings.notify_backoff_seconds)


# ---------------------------------------------------------------------------------------------- dispatch


@dataclass(frozen=True)
class Delivery:
    """What `dispatch` did with one message: sent, failed, unknown (a run died between sending and recording
    it: it may have gone out, it is not sent again) or skipped (already sent, or being sent by another run)."""

    status: str
    message: Message
    attempts: int = 0
    error: str = ""
    notification_id: int | None = None


def _claim_text() -> str:
    """Who claims a message to send it: this host and process, kept in the row while it is pending."""
    from perfcycle.locks import this_host

    return f"{CLAIMED}{this_host()} 进程 {os.getpid()}"


def _as_local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment.astimezone(SHANGHAI)


def claim_abandoned(row: Notification, *, at: datetime | None = None) -> bool:
    """A pending claim whose run is gone: its process on this host has ended, or it is older than any send."""
    from perfcycle.locks import process_alive, this_host

    if (at or now()) - _as_local(row.at) > CLAIM_STALE_AFTER:
        return True
    host, _, pid = row.error.removeprefix(CLAIMED).rpartition(" 进程 ")
    if not row.error.startswith(CLAIMED) or not pid.isdigit() or host != this_host():
        return False  # claimed elsewhere and recently: that run may still be sending it
    return int(pid) != os.getpid() and not process_alive(int(pid))


def _audit(session: Session, notifier: Notifier, row: Notification, action: str) -> None:
    audit.append(
        session,
        notifier.name,
        action,
        f"notification:{row.id}",
        {
            "recipient": row.recipient,
            "channel": row.channel,
            "address": row.address,
            "subject": row.subject,
            "item": row.item,
            "step": row.step,
            "deadline": row.deadline,
            "attempts": row.attempts,
            "error": row.error,
        },
    )


def _claim(session: Session, message: Message, row: Notification | None) -> Notification | None:
    """Take the message for this run, committed before anything is sent; None if another run took it first."""
    claim = _claim_text()
    if row is None:
        row = Notification(
            recipient=message.recipient[:200],
            channel=message.channel[:20],
            address=message.public_address[:500],
            subject=message.subject[:300],
            item=message.item[:200],
            step=message.step[:40],
            deadline=message.deadline,
            dedup_key=message.dedup_key,
            outcome="pending",
            error=claim,
            at=now(),
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # another run claimed it a moment ago
            return None
        return row
    taken = session.exec(
        update(Notification)
        .where(col(Notification.id) == row.id, col(Notification.outcome) == row.outcome)
        .values(outcome="pending", error=claim, at=now())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if int(getattr(taken, "rowcount", 0) or 0) != 1:
        return None  # another run retried it first
    session.refresh(row)
    return row


def _record_unknown(session: Session, notifier: Notifier, row: Notification, message: Message) -> Delivery:
    """An abandoned claim: the run died after claiming, maybe after sending. Recorded as unknown, never resent."""
    claimed = row.error
    error = (
        f"发送结果未知：{_as_local(row.at).strftime('%Y-%m-%d %H:%M:%S')} 开始发送的运行在记录结果前中断"
        f"（{claimed.removeprefix(CLAIMED)}），消息可能已送达，为免重复不再发送；如确认未收到，请另行告知"
    )
    taken = session.exec(
        update(Notification)
        .where(
            col(Notification.id) == row.id, col(Notification.outcome) == "pending", col(Notification.error) == claimed
        )
        .values(outcome="unknown", error=error, attempts=row.attempts + 1, at=now())
        .execution_options(synchronize_session=False)
    )
    if int(getattr(taken, "rowcount", 0) or 0) != 1:
        session.commit()
        return Delivery("skipped", message, row.attempts, "", row.id)  # another run recorded it meanwhile
    session.refresh(row)
    _audit(session, notifier, row, "notification.unknown")
    session.commit()
    log.warning("通知发送结果未知（不再重发）: %s <%s> %s: %s", row.recipient, row.address, row.subject, error)
    return Delivery("unknown", message, row.attempts, error, row.id)


def dispatch(
    session: Session,
    notifier: Notifier,
    message: Message,
    *,
    attempts: int | None = None,
    backoff: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send one message unless its dedup key was already used; retry, record, audit. Commits the session.

    The claim is committed before sending, so two runs never both send it and a run killed after sending
    leaves a pending row: the next run records that as `unknown` instead of sending it again.
    """
    attempts = notifier.attempts if attempts is None else attempts
    backoff = notifier.backoff if backoff is None else backoff
    row = session.exec(select(Notification).where(Notification.dedup_key == message.dedup_key)).first()
    if row is not None and row.outcome == "pending":
        if claim_abandoned(row):
            return _record_unknown(session, notifier, row, message)
        return Delivery("skipped", message, row.attempts, "", row.id)  # another run is sending it right now
    if row is not None and row.outcome != "failed":
        return Delivery("skipped", message, row.attempts, row.error, row.id)  # sent, or unknown: never twice
    claimed = _claim(session, message, row)
    if claimed is None:
        return Delivery("skipped", message)
    row = claimed
    outcome = Outcome(False, "未发送")
    tries = 0
    for tries in range(1, max(1, attempts) + 1):
        try:
            outcome = notifier.send(message)
        except Exception as exc:  # a channel's failure must be recorded, never lost
            outcome = Outcome(False, f"{type(exc).__name__}: {exc}")
        if outcome.ok or message.channel == "none":
            break
        if tries < attempts:
            sleep(backoff * 2 ** (tries - 1))
    if outcome.ok:
        checkpoint("notification-sent")
    error = "" if outcome.ok else scrub(outcome.error, notifier.secrets())
    row.outcome = "sent" if outcome.ok else "failed"
    row.attempts += tries
    row.error = error
    row.at = now()
    session.add(row)
    _audit(session, notifier, row, "notification.sent" if outcome.ok else "notification.failed")
    session.commit()
    if not outcome.ok:
        log.warning("通知发送失败（%d 次尝试）: %s <%s> %s: %s", tries, row.recipient, row.address, row.subject, error)
    return Delivery(row.outcome, message, tries, error, row.id)

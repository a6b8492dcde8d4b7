"""Accounts of the people who act in the cycle, and signing them in: the service behind `perfcycle users` and
the workbench's sign-in.

Department contacts and heads come from the base data (login: the department's code, and `<code>-head`
for the head), coordinators and leaders from the policy's approvers (login: the local part of their
e-mail in the policy's `contacts`, else their name); panel and review members and third-party
evaluators are invited by name. Nobody gets a password by mail: a one-time link sent through the
notifier lets the person set it (first sign-in, or a reset). Passwords are kept as argon2 hashes, links
and session cookies as sha256 digests. Every sign-in, sign-out and refusal goes into the audit log.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam
from sqlmodel import Session, col, func, select

from models import Cycle, Department, Project, now
from models.people import AccountToken, SignInAttempt, UserAccount, WebSession
from models.tables import SHANGHAI
from perfcycle import audit
from perfcycle.cycle_context import cycle_policy
from perfcycle.notify import Delivery, Notifier, Recipient, dispatch, make_notifier
from perfcycle.policy import ApprovalsPolicy, load_policy
from perfcycle.rules.access import (
    BUREAU_ROLES,
    COORDINATOR,
    DEPARTMENT,
    EVALUATOR_ROLES,
    LEADER,
    ROLE_NAMES,
    after_failure,
    is_locked,
    login_problem,
    password_problem,
    too_many_from,
)
from perfcycle.settings import Settings, get_settings

INVITED, ACTIVE, DISABLED = "invited", "active", "disabled"
STATUS_NAMES = {INVITED: "待设置密码", ACTIVE: "已启用", DISABLED: "已停用"}
SIGN_IN_REFUSED = "账号或密码不正确；连续输错多次的账号会暂时锁定"
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("perfcycle-no-such-account")


class AccountError(Exception):
    """Something asked of an account that cannot be done; the message says why."""


def admin_actor() -> str:
    """Who acts from the server's command line: the administrator, by the machine's user name."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "?"
    return f"管理员 {user}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment.astimezone(SHANGHAI)


# ---------------------------------------------------------------------------------------------- accounts


def get_account(session: Session, login: str) -> UserAccount:
    account = session.exec(select(UserAccount).where(UserAccount.login == login.strip())).first()
    if account is None:
        raise AccountError(f"没有账号「{login.strip()}」（perfcycle users list 列出全部账号）")
    return account


def list_accounts(session: Session) -> list[UserAccount]:
    return list(session.exec(select(UserAccount).order_by(col(UserAccount.role), col(UserAccount.login))))


def _latest_approvals(session: Session, year: int | None) -> ApprovalsPolicy | None:
    """The approvers of the year's cycle as it recorded its policy, else of the year's policy file."""
    query = select(Cycle).where(Cycle.status != "historical")
    cycle = session.exec(
        query.where(Cycle.year == year) if year is not None else query.order_by(col(Cycle.year).desc())
    ).first()
    try:
        if cycle is not None:
            return cycle_policy(cycle).approvals
        return load_policy(year if year is not None else now().year).approvals
    except Exception:  # no policy file yet: only the departments' accounts
        return None


@dataclass(frozen=True)
class Wanted:
    """An account the base data or the policy calls for."""

    login: str
    name: str
    role: str
    duty: str
    department_id: int | None
    email: str
    source: str


def _wanted(session: Session, year: int | None) -> list[Wanted]:
    wanted: list[Wanted] = []
    with_projects = set(session.exec(select(Project.department_id).distinct()))
    for department in session.exec(select(Department).order_by(col(Department.code))):
        if department.id not in with_projects:
            continue
        contact, head = department.contact.strip(), department.head.strip()
        if contact:
            wanted.append(
                Wanted(department.code, contact, DEPARTMENT, "contact", department.id, department.email, "base_data")
            )
        if head and head != contact:
            wanted.append(
                Wanted(
                    f"{department.code}-head",
                    head,
                    DEPARTMENT,
                    "head",
                    department.id,
                    department.head_email,
                    "base_data",
                )
            )
    approvals = _latest_approvals(session, year)
    if approvals is None:
        return wanted
    first: set[str] = set()
    later: set[str] = set()
    for levels in approvals.gates.values():
        for level, rule in levels.items():
            (first if level == 1 else later).update(n.strip() for n in rule.approvers if n.strip())
    taken = {w.login for w in wanted}
    for name in sorted(first | later):
        if "待填写" in name:
            continue
        email = approvals.contacts[name].email if name in approvals.contacts else ""
        local = email.split("@", 1)[0] if "@" in email else ""
        login = local if local and login_problem(local) is None and local not in taken else name
        taken.add(login)
        wanted.append(Wanted(login, name, COORDINATOR if name in first else LEADER, "", None, email, "policy"))
    return wanted


def sync_accounts(session: Session, year: int | None = None, by: str = "") -> list[str]:
    """Create the accounts the base data and the policy call for; a department whose contact or head is now
    another person gets the account back without a password (the other person's sign-ins end). What changed,
    one line each; audited."""
    by = by or admin_actor()
    existing = {a.login: a for a in session.exec(select(UserAccount))}
    changes = []
    for want in _wanted(session, year):
        account = existing.get(want.login)
        if account is None:
            if login_problem(want.login) is not None:
                continue
            account = UserAccount(
                login=want.login,
                name=want.name[:100],
                role=want.role,
                duty=want.duty,
                department_id=want.department_id,
                email=want.email[:200],
                source=want.source,
            )
            session.add(account)
            changes.append(f"新建账号 {want.login}（{want.name}，{ROLE_NAMES[want.role]}）")
            continue
        if account.source != want.source:
            continue  # an invited account of the same login stays as the administrator made it
        if account.name != want.name:
            changes.append(f"账号 {want.login} 改属 {want.name}（原为 {account.name}），须重新设置密码")
            account.name = want.name[:100]
            account.password_hash, account.password_set_at = "", None
            if account.status == ACTIVE:
                account.status = INVITED
            _end_sessions(session, account)
        account.email, account.role, account.department_id = want.email[:200], want.role, want.department_id
        session.add(account)
    session.flush()
    if changes:
        audit.append(session, by, "account.synced", "accounts", {"changes": changes})
    return changes


def create_account(
    session: Session, login: str, *, name: str, role: str, email: str = "", department: str = "", by: str = ""
) -> UserAccount:
    """An account the administrator makes (an evaluator, or anyone the base data and policy do not name)."""
    login, name = login.strip(), " ".join(name.split())
    if (problem := login_problem(login)) is not None:
        raise AccountError(problem)
    if session.exec(select(UserAccount).where(UserAccount.login == login)).first() is not None:
        raise AccountError(f"账号「{login}」已存在")
    if role not in ROLE_NAMES:
        raise AccountError(f"角色应为 {'、'.join(ROLE_NAMES)} 之一，不是 {role!r}")
    if not name:
        raise AccountError("新账号须写明姓名（--name）")
    department_id = None
    if role == DEPARTMENT:
        found = session.exec(select(Department).where(Department.code == department.strip())).first()
        if found is None:
            raise AccountError("部门账号须写明本部门编码（--department）")
        department_id = found.id
    account = UserAccount(
        login=login, name=name[:100], role=role, department_id=department_id, email=email.strip()[:200]
    )
    session.add(account)
    session.flush()
    audit.append(session, by or admin_actor(), "account.created", f"account:{login}", _described(account))
    return account


def _described(account: UserAccount) -> dict[str, object]:
    return {"login": account.login, "name": account.name, "role": account.role, "department_id": account.department_id}


def _end_sessions(session: Session, account: UserAccount) -> None:
    for row in session.exec(
        select(WebSession).where(WebSession.account_id == account.id, col(WebSession.ended_at).is_(None))
    ):
        row.ended_at = now()
        session.add(row)


def disable(session: Session, login: str, by: str = "") -> UserAccount:
    """The account can no longer sign in; its sessions and links end at once."""
    account = get_account(session, login)
    account.status = DISABLED
    session.add(account)
    _end_sessions(session, account)
    for token in session.exec(
        select(AccountToken).where(AccountToken.account_id == account.id, col(AccountToken.used_at).is_(None))
    ):
        token.used_at = now()
        session.add(token)
    audit.append(session, by or admin_actor(), "account.disabled", f"account:{account.login}", _described(account))
    session.flush()
    return account


def _store_password(session: Session, account: UserAccount, password: str) -> None:
    if (problem := password_problem(password, account.login, account.name)) is not None:
        raise AccountError(problem)
    account.password_hash = _hasher.hash(password)
    account.password_set_at = now()
    account.status = ACTIVE
    account.failed_attempts, account.locked_until = 0, None
    session.add(account)
    _end_sessions(session, account)  # a new password signs out every browser signed in with the old one


def set_password(session: Session, login: str, password: str, by: str = "") -> UserAccount:
    """The administrator sets a password on the server (a disabled account is enabled again)."""
    account = get_account(session, login)
    _store_password(session, account, password)
    audit.append(session, by or admin_actor(), "account.password_set", f"account:{account.login}", _described(account))
    session.flush()
    return account


# ---------------------------------------------------------------------------------------------- one-time links


@dataclass(frozen=True)
class Invitation:
    account: UserAccount
    delivery: Delivery
    expires_at: datetime


def invite(
    session: Session,
    login: str,
    *,
    purpose: str = "invite",
    by: str = "",
    notifier: Notifier | None = None,
    settings: Settings | None = None,
) -> Invitation:
    """Send the person a one-time link to set a password; earlier links of the account stop working."""
    settings = settings or get_settings()
    account = get_account(session, login)
    if account.status == DISABLED:
        raise AccountError(f"账号 {account.login} 已停用；先用 perfcycle users set-password 重新启用")
    for old in session.exec(
        select(AccountToken).where(AccountToken.account_id == account.id, col(AccountToken.used_at).is_(None))
    ):
        old.used_at = now()
        session.add(old)
    token = secrets.token_urlsafe(32)
    expires = now() + timedelta(hours=settings.web_link_hours)
    row = AccountToken(account_id=account.id or 0, purpose=purpose, token_hash=digest(token), expires_at=expires)
    session.add(row)
    session.flush()
    audit.append(
        session,
        by or admin_actor(),
        "account.invited" if purpose == "invite" else "account.reset_sent",
        f"account:{account.login}",
        {**_described(account), "expires_at": expires},
    )
    session.commit()
    notifier = notifier or make_notifier(settings)
    link = f"{settings.web_url.rstrip('/')}/set-password?token={token}"
    action = "设置密码" if purpose == "invite" else "重新设置密码"
    body = (
        f"{account.name}：\n\n请在 {expires:%Y-%m-%d %H:%M}（北京时间）前打开下面的链接{action}，然后用账号 "
        f"{account.login} 登录预算绩效管理工作台。链接只能使用一次。\n\n{link}\n\n如非本人申请，请忽略本邮件并告知财政局绩效科。"
    )
    recipient = Recipient(account.name, email=account.email)
    channel, address = notifier.routes(recipient)[0]
    message = notifier.message(
        recipient,
        channel,
        address,
        f"预算绩效管理工作台：{action}（账号 {account.login}）",
        body,
        item=f"account:{account.login}",
        step=f"{purpose}:{row.id}",
    )
    return Invitation(account, dispatch(session, notifier, message), expires)


def redeem(session: Session, token: str, password: str, address: str = "") -> UserAccount:
    """Set the password through a one-time link; the link is used up either way once the password is set."""
    row = session.exec(select(AccountToken).where(AccountToken.token_hash == digest(token))).first()
    at = now()
    if row is None or row.used_at is not None or _local(row.expires_at) < at:
        audit.append(session, "(未登录)", "auth.link_refused", "link", {"address": address})
        session.commit()
        raise AccountError("链接无效、已使用或已过期：请联系财政局绩效科重新发送")
    account = session.get(UserAccount, row.account_id)
    if account is None or account.status == DISABLED:
        raise AccountError("账号已停用，不能设置密码")
    _store_password(session, account, password)
    row.used_at = at
    session.add(row)
    audit.append(
        session,
        account.name,
        "account.password_set",
        f"account:{account.login}",
        {**_described(account), "via": "link"},
    )
    session.flush()
    return account


def link_account(session: Session, token: str) -> UserAccount | None:
    """The account a one-time link is for, while the link can still be used."""
    row = session.exec(select(AccountToken).where(AccountToken.token_hash == digest(token))).first()
    if row is None or row.used_at is not None or _local(row.expires_at) < now():
        return None
    return session.get(UserAccount, row.account_id)


# ---------------------------------------------------------------------------------------------- signing in


class SignInRefused(Exception):
    """A sign-in that is refused; the message never says whether the account exists."""


def _address_failures(session: Session, address: str, since: datetime) -> int:
    return session.exec(
        select(func.count())
        .select_from(SignInAttempt)
        .where(SignInAttempt.address == address, col(SignInAttempt.ok).is_(False), col(SignInAttempt.at) >= since)
    ).one()


def authenticate(
    session: Session, login: str, password: str, address: str, settings: Settings | None = None
) -> UserAccount:
    """The account whose password this is, or `SignInRefused` (recorded, audited and committed)."""
    settings = settings or get_settings()
    login = login.strip()[:64]
    at = now()
    window = timedelta(minutes=settings.web_lockout_minutes)

    def refuse(reason: str, account: UserAccount | None = None, message: str = SIGN_IN_REFUSED) -> SignInRefused:
        session.add(SignInAttempt(login=login, address=address[:64], ok=False, at=at))
        actor = account.name if account is not None else "(未登录)"
        audit.append(session, actor, "auth.refused", f"account:{login}", {"reason": reason, "address": address})
        session.commit()
        return SignInRefused(message)

    if too_many_from(_address_failures(session, address[:64], at - window), settings.web_address_failures):
        raise refuse("address_throttled", message="登录尝试过于频繁，请稍后再试")
    account = session.exec(select(UserAccount).where(UserAccount.login == login)).first()
    if account is None or not account.password_hash:
        _spend_time(password)
        raise refuse("unknown_account" if account is None else "no_password", account)
    if account.status == DISABLED:
        _spend_time(password)
        raise refuse("disabled", account)
    if is_locked(_local(account.locked_until) if account.locked_until else None, at):
        _spend_time(password)
        raise refuse("locked", account)
    try:
        _hasher.verify(account.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        account.failed_attempts, lock = after_failure(account.failed_attempts, settings.web_lockout_failures)
        if lock:
            account.locked_until = at + window
        session.add(account)
        if lock:
            audit.append(session, account.name, "auth.locked", f"account:{login}", {"until": account.locked_until})
        raise refuse("wrong_password", account) from None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    account.failed_attempts, account.locked_until = 0, None
    session.add(account)
    session.add(SignInAttempt(login=login, address=address[:64], ok=True, at=at))
    return account


def _spend_time(password: str) -> None:
    """As long as checking a real password takes, so the answer's time does not tell whether an account exists."""
    with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
        _hasher.verify(_DUMMY_HASH, password)


@dataclass(frozen=True)
class SignedIn:
    """A browser's session: the cookie's token (never stored) and the form token of its requests."""

    token: str
    csrf: str
    expires_at: datetime


def start_session(session: Session, account: UserAccount, address: str, settings: Settings | None = None) -> SignedIn:
    settings = settings or get_settings()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now() + timedelta(hours=settings.web_session_hours)
    session.add(
        WebSession(
            token_hash=digest(token),
            account_id=account.id or 0,
            csrf_token=csrf,
            expires_at=expires,
            address=address[:64],
        )
    )
    audit.append(session, account.name, "auth.signed_in", f"account:{account.login}", {"address": address})
    session.flush()
    return SignedIn(token, csrf, expires)


@dataclass(frozen=True)
class Identity:
    """Who a request comes from, as the pages and the services need it."""

    account_id: int
    login: str
    name: str
    role: str
    duty: str
    department_id: int | None
    department_code: str | None
    department_name: str | None
    session_id: int
    csrf: str

    @property
    def bureau(self) -> bool:
        return self.role in BUREAU_ROLES

    @property
    def evaluator(self) -> bool:
        return self.role in EVALUATOR_ROLES

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)

    def csrf_ok(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), given.encode())


@cache
def _signed_in_query() -> Any:
    """The session of a cookie with its account and department, built once: every request of the workbench asks."""
    return (
        select(WebSession, UserAccount, Department)
        .join(UserAccount, col(UserAccount.id) == WebSession.account_id)
        .join(Department, col(Department.id) == UserAccount.department_id, isouter=True)
        .where(col(WebSession.token_hash) == bindparam("token_hash"))
    )


def identify(session: Session, token: str, settings: Settings | None = None) -> Identity | None:
    """The signed-in person of a session cookie, while the session lasts (it is kept alive by its use)."""
    settings = settings or get_settings()
    if not token or len(token) > 128:
        return None
    found = session.exec(_signed_in_query(), params={"token_hash": digest(token)}).first()
    at = now()
    if found is None:
        return None
    row, account, department = found
    if row.ended_at is not None or _local(row.expires_at) <= at:
        return None
    if at - _local(row.last_seen_at) > timedelta(minutes=settings.web_idle_minutes):
        row.ended_at = at
        session.add(row)
        return None
    if account.status != ACTIVE:
        return None
    if at - _local(row.last_seen_at) > timedelta(seconds=60):  # one write a minute at most per browser
        _touch(session, row.id, at)
    assert account.id is not None and row.id is not None
    return Identity(
        account.id,
        account.login,
        account.name,
        account.role,
        account.duty,
        account.department_id,
        department.code if department else None,
        department.name if department else None,
        row.id,
        row.csrf_token,
    )


def _touch(session: Session, session_id: int | None, at: datetime) -> None:
    """Keep a session alive; when another writer holds the database, the next request does it instead."""
    from sqlalchemy import update
    from sqlalchemy.exc import OperationalError

    try:
        with session.begin_nested():
            session.exec(update(WebSession).where(col(WebSession.id) == session_id).values(last_seen_at=at))
    except OperationalError:
        pass


def end_session(session: Session, identity: Identity, address: str) -> None:
    row = session.get(WebSession, identity.session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = now()
        session.add(row)
    audit.append(session, identity.name, "auth.signed_out", f"account:{identity.login}", {"address": address})


def refuse_access(session: Session, identity: Identity | None, what: str, reason: str, address: str) -> None:
    """Record (and commit) that someone asked for something that is not theirs."""
    actor = identity.name if identity else "(未登录)"
    login = identity.login if identity else ""
    audit.append(session, actor, "access.refused", what[:200], {"login": login, "reason": reason, "address": address})
    session.commit()


def account_rows(accounts: Sequence[UserAccount], session: Session) -> list[dict[str, object]]:
    """Accounts as `perfcycle users list` shows them (no hash, no token)."""
    codes = {d.id: d.code for d in session.exec(select(Department))}
    return [
        {
            "login": a.login,
            "name": a.name,
            "role": a.role,
            "role_name": ROLE_NAMES.get(a.role, a.role),
            "duty": a.duty,
            "department": codes.get(a.department_id) if a.department_id else None,
            "email": a.email,
            "status": a.status,
            "status_name": STATUS_NAMES.get(a.status, a.status),
            "locked_until": _local(a.locked_until).isoformat(timespec="minutes") if a.locked_until else None,
            "password_set_at": _local(a.password_set_at).isoformat(timespec="minutes") if a.password_set_at else None,
        }
        for a in accounts
    ]

"""Accounts and signing in, and each attack a careful reviewer would try, with the refusal it must meet."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models import Department, now, session_scope
from models.audit_log import AuditEntry
from models.people import AccountToken, SignInAttempt, UserAccount, WebSession
from perfcycle import audit
from perfcycle.accounts import invite
from perfcycle.cli import app
from perfcycle.web.app import create_app
from perfcycle.web.security import SESSION_COOKIE
from tests.web.conftest import PASSWORD, Browser, activate, csrf_of

runner = CliRunner()
LINK = re.compile(r"http://testserver/set-password\?token=([A-Za-z0-9_-]+)")


def audited(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))))


def account(session: Session, login: str) -> UserAccount:
    session.expire_all()
    return session.exec(select(UserAccount).where(UserAccount.login == login)).one()


def test_accounts_come_from_the_base_data_and_the_policy(session: Session, cycle: int) -> None:
    result = runner.invoke(app, ["users", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["login"]: row for row in json.loads(result.stdout.strip().splitlines()[-1])}
    department = session.exec(select(Department).where(Department.code == "101")).one()
    assert rows["101"]["name"] == department.contact and rows["101"]["role"] == "department"
    assert rows["101-head"]["name"] == department.head and rows["101-head"]["duty"] == "head"
    coordinators = {r["name"] for r in rows.values() if r["role"] == "coordinator"}
    assert coordinators == {"周晓梅", "陈立军"}
    assert [r["login"] for r in rows.values() if r["role"] == "leader"] == ["liujianguo"]  # the policy's e-mail
    assert all(r["status"] == "invited" for r in rows.values())  # nobody has a password yet
    assert "hash" not in result.stdout and "$argon2" not in result.stdout


def test_a_one_time_link_sets_the_password_once(session: Session, cycle: int, browser: Browser, outbox: Path) -> None:
    result = runner.invoke(app, ["users", "invite", "101"])
    assert result.exit_code == 0, result.output
    (message,) = outbox.rglob("*.txt")
    token = LINK.search(message.read_text(encoding="utf-8")).group(1)  # type: ignore[union-attr]
    assert session.exec(select(AccountToken)).one().token_hash != token  # only its digest is kept
    assert token not in json.dumps([e.payload_json for e in audited(session, "account.invited")])

    page = browser.client.get(f"/set-password?token={token}")
    assert page.status_code == 200 and "101" in page.text
    short = browser.client.post(
        "/set-password",
        data={"token": token, "password": "short", "password_again": "short", "csrf": csrf_of(page.text)},
    )
    assert short.status_code == 400 and "至少 10 个字符" in short.text
    done = browser.client.post(
        "/set-password",
        data={"token": token, "password": PASSWORD, "password_again": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert account(session, "101").status == "active"
    again = browser.client.post(
        "/set-password",
        data={"token": token, "password": PASSWORD + "x", "password_again": PASSWORD + "x", "csrf": csrf_of(page.text)},
    )
    assert again.status_code == 400 and "已使用或已过期" in again.text
    assert browser.sign_in("101").status_code == 303  # type: ignore[attr-defined]


def test_an_expired_link_is_refused(session: Session, cycle: int, browser: Browser, outbox: Path) -> None:
    with session_scope() as s:
        invite(s, "102")
    token = LINK.search(next(outbox.rglob("*.txt")).read_text(encoding="utf-8")).group(1)  # type: ignore[union-attr]
    row = session.exec(select(AccountToken)).one()
    row.expires_at = now() - timedelta(minutes=1)
    session.add(row)
    session.commit()
    page = browser.client.get(f"/set-password?token={token}")
    assert page.status_code == 400 and 'name="password"' not in page.text


def test_signing_in_sets_a_guarded_cookie_and_signing_out_ends_the_session(
    session: Session, cycle: int, browser: Browser
) -> None:
    activate("101")
    response = browser.sign_in("101")
    assert response.status_code == 303  # type: ignore[attr-defined]
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on 127.0.0.1
    stolen = browser.client.cookies.get(SESSION_COOKIE)
    assert browser.client.get("/").status_code == 200
    assert browser.post("/logout").status_code == 303  # type: ignore[attr-defined]
    assert [e.actor for e in audited(session, "auth.signed_in")] == [account(session, "101").name]
    assert len(audited(session, "auth.signed_out")) == 1
    replay = TestClient(create_app(), base_url="http://testserver", cookies={SESSION_COOKIE: stolen or ""})
    assert replay.get("/", follow_redirects=False).headers["location"] == "/login"


def test_cookies_are_secure_behind_https(session: Session, cycle: int) -> None:
    activate("101")
    browser = Browser(TestClient(create_app(), base_url="https://testserver"))
    response = browser.sign_in("101")
    assert "Secure" in response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert response.headers["strict-transport-security"].startswith("max-age=")  # type: ignore[attr-defined]


def test_repeated_wrong_passwords_lock_the_account_and_every_refusal_is_audited(
    session: Session, cycle: int, browser: Browser
) -> None:
    activate("101")
    for _ in range(5):
        refused = browser.sign_in("101", "not-the-password")
        assert refused.status_code == 401 and "账号或密码不正确" in refused.text  # type: ignore[attr-defined]
    assert account(session, "101").locked_until is not None
    locked = browser.sign_in("101")  # the right password, but locked
    assert locked.status_code == 401  # type: ignore[attr-defined]
    unknown = browser.sign_in("no-such-login")
    assert unknown.text.count("账号或密码不正确") == locked.text.count("账号或密码不正确")  # type: ignore[attr-defined]
    reasons = [json.loads(e.payload_json)["reason"] for e in audited(session, "auth.refused")]
    assert reasons == ["wrong_password"] * 5 + ["locked", "unknown_account"]
    assert len(audited(session, "auth.locked")) == 1

    row = account(session, "101")
    row.locked_until = now() - timedelta(seconds=1)  # the lockout is over
    session.add(row)
    session.commit()
    assert browser.sign_in("101").status_code == 303  # type: ignore[attr-defined]


def test_many_failures_from_one_address_slow_it_down(
    session: Session, cycle: int, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfcycle.settings import get_settings

    monkeypatch.setenv("PERFCYCLE_WEB_ADDRESS_FAILURES", "3")
    get_settings.cache_clear()
    activate("101")
    for login in ("a", "b", "c"):
        assert browser.sign_in(login, "guess-guess").status_code == 401  # type: ignore[attr-defined]
    throttled = browser.sign_in("101")  # even the right password waits
    assert throttled.status_code == 401 and "过于频繁" in throttled.text  # type: ignore[attr-defined]
    assert session.exec(select(SignInAttempt).where(col(SignInAttempt.ok).is_(True))).first() is None


def test_a_disabled_account_is_signed_out_and_cannot_sign_in(session: Session, cycle: int, browser: Browser) -> None:
    activate("101")
    browser.sign_in("101")
    assert runner.invoke(app, ["users", "disable", "101"]).exit_code == 0
    assert browser.client.get("/", follow_redirects=False).status_code == 303
    assert browser.sign_in("101").status_code == 401  # type: ignore[attr-defined]
    assert session.exec(select(WebSession).where(col(WebSession.ended_at).is_(None))).first() is None


def test_set_password_from_stdin_refuses_a_weak_one(session: Session, cycle: int) -> None:
    weak = runner.invoke(app, ["users", "set-password", "101", "--password-stdin"], input="abcd-101-wxyz\n")
    assert weak.exit_code == 1 and "不能包含账号" in weak.output
    good = runner.invoke(app, ["users", "set-password", "101", "--password-stdin"], input=PASSWORD + "\n")
    assert good.exit_code == 0, good.output
    assert account(session, "101").password_hash.startswith("$argon2")


def test_sessions_expire_when_idle_and_at_their_end(session: Session, cycle: int, browser: Browser) -> None:
    activate("101")
    browser.sign_in("101")
    row = session.exec(select(WebSession)).one()
    row.last_seen_at = now() - timedelta(minutes=31)
    session.add(row)
    session.commit()
    assert browser.client.get("/", follow_redirects=False).headers["location"] == "/login"
    browser.sign_in("101")
    session.expire_all()
    row = session.exec(select(WebSession).where(col(WebSession.ended_at).is_(None))).one()
    row.expires_at = now() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    assert browser.client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_every_page_needs_a_signed_in_person(client: TestClient, cycle: int) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    for path in ("/", "/matrix", "/gates/targets/1", "/documents/1", "/forms/target_setting/template"):
        assert client.get(path, follow_redirects=False).headers["location"] == "/login", path
    for path in ("/forms/target_setting", "/gates/targets/1", "/cycle/continue", "/logout", "/warnings/Q1"):
        assert client.post(path, data={"csrf": "x"}, follow_redirects=False).status_code == 401, path


def test_forms_without_the_sessions_token_or_from_another_site_are_refused(
    session: Session, cycle: int, browser: Browser
) -> None:
    activate("101")
    browser.sign_in("101")
    no_token = browser.client.post("/logout", data={}, follow_redirects=False)
    wrong = browser.client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    elsewhere = browser.client.post(
        "/logout", data={"csrf": browser.csrf}, headers={"origin": "http://evil.example"}, follow_redirects=False
    )
    assert [r.status_code for r in (no_token, wrong, elsewhere)] == [403, 403, 403]
    assert browser.client.get("/").status_code == 200  # still signed in: nothing was done
    reasons = [json.loads(e.payload_json)["reason"] for e in audited(session, "access.refused")]
    assert reasons == ["csrf", "csrf", "cross_origin"]

    login_page = TestClient(create_app(), base_url="http://testserver")
    forged = login_page.post("/login", data={"login": "101", "password": PASSWORD, "csrf": "made-up"})
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.headers.get("set-cookie", "")


def test_every_response_carries_the_security_headers(client: TestClient, cycle: int) -> None:
    for response in (client.get("/login"), client.get("/no-such-page"), client.get("/static/site.css")):
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert "<script" not in client.get("/login").text  # no script at all, inline or not
    assert client.get("/login").headers["cache-control"] == "no-store"


def test_failures_show_no_traceback_or_sql(
    session: Session, cycle: int, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    activate("101")
    browser.sign_in("101")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError('(sqlite3.OperationalError) no such table: SELECT "window_entry".id FROM window_entry')

    monkeypatch.setattr("perfcycle.web.routes_department.department_work", broken)
    response = browser.client.get("/")
    assert response.status_code == 500
    for leak in ("Traceback", "SELECT", "sqlite3", "window_entry", "RuntimeError"):
        assert leak not in response.text
    assert "出错了" in response.text


def test_a_body_larger_than_a_form_is_cut_off(session: Session, cycle: int, browser: Browser) -> None:
    activate("101")
    browser.sign_in("101")
    response = browser.post("/warnings/Q1", data={"cause": "x" * 300_000, "measures": "y"})
    assert response.status_code == 413  # type: ignore[attr-defined]


def test_record_text_is_escaped_in_every_page(session: Session, cycle: int, browser: Browser) -> None:
    department = session.exec(select(Department).where(Department.code == "101")).one()
    department.name = '<script>alert("x")</script>办公室'
    session.add(department)
    session.commit()
    activate("101")
    browser.sign_in("101")
    page = browser.client.get("/").text
    assert "<script>" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;办公室" in page


def test_the_audit_chain_holds_after_sign_ins_and_refusals(session: Session, cycle: int, browser: Browser) -> None:
    activate("101")
    browser.sign_in("101", "wrong-password!")
    browser.sign_in("101")
    browser.post("/logout")
    session.expire_all()
    assert audit.verify(session) == []

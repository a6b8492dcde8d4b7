"""Signing in and out, setting a password through a one-time link, and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text

from models import session_scope
from perfcycle.accounts import (
    AccountError,
    SignInRefused,
    authenticate,
    end_session,
    link_account,
    redeem,
    start_session,
)
from perfcycle.settings import get_settings
from perfcycle.web.app import render
from perfcycle.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_form,
    check_login_form,
    client_address,
    login_csrf,
    set_cookie,
    signed_in,
)

router = APIRouter()
NOTES = {"password": "密码已设置，请用新密码登录", "signed_out": "已退出登录"}


@router.get("/healthz")
def healthz() -> Response:
    """For a load balancer or a monitor: the application answers and its database does."""
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


def _login_page(request: Request, status: int = 200, error: str = "", login: str = "") -> Response:
    token = login_csrf(request)
    note = NOTES.get(request.query_params.get("note", ""), "")
    response = render(request, "login.html", status=status, csrf=token, error=error, login=login, note=note)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_login_form(request, form)
    login_name, password = str(form.get("login", "")), str(form.get("password", ""))
    address = client_address(request)
    try:
        with session_scope() as session:
            account = authenticate(session, login_name, password, address)
            signed = start_session(session, account, address)
    except SignInRefused as exc:
        return _login_page(request, 401, str(exc), login_name[:64])
    response = RedirectResponse("/", status_code=303)
    set_cookie(response, request, SESSION_COOKIE, signed.token, int(get_settings().web_session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    identity = signed_in(request)
    check_form(request, identity, await request.form())
    with session_scope() as session:
        end_session(session, identity, client_address(request))
    response = RedirectResponse("/login?note=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/set-password")
def set_password_page(request: Request, token: str = "") -> Response:
    with session_scope() as session:
        account = link_account(session, token) if token else None
    csrf = login_csrf(request)
    response = render(
        request,
        "set_password.html",
        status=200 if account else 400,
        csrf=csrf,
        token=token if account else "",
        account=account,
        error="" if account else "链接无效、已使用或已过期：请联系财政局绩效科重新发送",
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, csrf)
    return response


@router.post("/set-password")
async def set_password(request: Request) -> Response:
    form = await request.form()
    check_login_form(request, form)
    token, password, again = (str(form.get(k, "")) for k in ("token", "password", "password_again"))
    with session_scope() as session:
        account = link_account(session, token)
    error = ""
    if password != again:
        error = "两次输入的密码不一致"
    else:
        try:
            with session_scope() as session:
                redeem(session, token, password, client_address(request))
        except AccountError as exc:
            error = str(exc)
    if error:
        csrf = login_csrf(request)
        return render(
            request,
            "set_password.html",
            status=400,
            csrf=csrf,
            token=token if account else "",
            account=account,
            error=error,
        )
    return RedirectResponse("/login?note=password", status_code=303)

"""`perfcycle users …` and `perfcycle web`: the workbench's accounts and its server.

Each `users` command first creates the accounts the base data and the policy call for (department
contacts and heads, coordinators and leaders), so the list is complete before anyone is invited.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from perfcycle.commands.common import DatabaseUrl, err, fail, friendly, out, use_database

#: How long the workbench keeps an idle connection open: longer than browsers keep one (a few minutes).
KEEP_ALIVE_SECONDS = 330

users_app = typer.Typer(help="工作台账号", no_args_is_help=True)
Year = Annotated[int | None, typer.Option("--year", help="按该年度周期的策略确定审批人账号（默认最近的周期）")]


def _synced(database_url: str | None, year: int | None) -> None:
    """The database ready and its accounts up to date with the base data and the policy."""
    from models import session_scope
    from perfcycle.accounts import sync_accounts

    use_database(database_url)
    with session_scope() as session:
        for line in sync_accounts(session, year):
            err.print(line, highlight=False, soft_wrap=True)


@users_app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
    year: Year = None,
    database_url: DatabaseUrl = None,
) -> None:
    """列出全部账号：角色、部门、状态（不显示密码）。"""
    from models import session_scope
    from perfcycle.accounts import account_rows, list_accounts

    with friendly():
        _synced(database_url, year)
        with session_scope() as session:
            rows = account_rows(list_accounts(session), session)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        where = f" {row['department']}" if row["department"] else ""
        locked = f"，锁定至 {row['locked_until']}" if row["locked_until"] else ""
        out.print(
            f"{row['login']}\t{row['name']}\t{row['role_name']}{where}\t{row['status_name']}{locked}",
            highlight=False,
            soft_wrap=True,
        )


@users_app.command("invite")
def invite(
    login: Annotated[str | None, typer.Argument(help="账号（--all 时省略）")] = None,
    name: Annotated[str, typer.Option("--name", help="新账号的姓名（评审专家、复核组成员、第三方机构）")] = "",
    role: Annotated[str, typer.Option("--role", help="新账号的角色：panel | review | third_party | department …")] = "",
    email: Annotated[str, typer.Option("--email", help="新账号的电子邮箱（一次性链接发到这里）")] = "",
    department: Annotated[str, typer.Option("--department", help="部门账号的部门编码")] = "",
    reset: Annotated[bool, typer.Option("--reset", help="发送重设密码的链接")] = False,
    every: Annotated[bool, typer.Option("--all", help="邀请所有还没有密码的账号")] = False,
    year: Year = None,
    database_url: DatabaseUrl = None,
) -> None:
    """发送一次性链接，让本人设置密码（首次登录或重设）；账号不存在且给出 --name --role 时先建立。"""
    from sqlmodel import select

    from models import session_scope
    from models.people import UserAccount
    from perfcycle.accounts import INVITED, AccountError, create_account
    from perfcycle.accounts import invite as send_link

    if (login is None) == (not every):
        fail("请给出一个账号，或用 --all 邀请所有还没有密码的账号")
    with friendly():
        _synced(database_url, year)
        try:
            with session_scope() as session:
                if every:
                    logins = list(session.exec(select(UserAccount.login).where(UserAccount.status == INVITED)))
                else:
                    assert login is not None
                    found = session.exec(select(UserAccount).where(UserAccount.login == login.strip())).first()
                    if found is None and (name or role):
                        create_account(session, login, name=name, role=role, email=email, department=department)
                    logins = [login.strip()]
            for each in logins:
                with session_scope() as session:
                    sent = send_link(session, each, purpose="reset" if reset else "invite")
                state = {"sent": "已发送", "skipped": "已发送过"}.get(sent.delivery.status, "发送失败")
                out.print(
                    f"{each}（{sent.account.name}）：设置密码的链接{state}，"
                    f"{sent.expires_at:%Y-%m-%d %H:%M} 前有效；发往 {sent.delivery.message.public_address or '本地发件箱'}",
                    highlight=False,
                    soft_wrap=True,
                )
        except AccountError as exc:
            fail(str(exc))


@users_app.command("disable")
def disable(login: Annotated[str, typer.Argument(help="账号")], database_url: DatabaseUrl = None) -> None:
    """停用账号：立即退出所有登录，一次性链接失效。"""
    from models import session_scope
    from perfcycle.accounts import AccountError
    from perfcycle.accounts import disable as disable_account

    with friendly():
        use_database(database_url)
        try:
            with session_scope() as session:
                account = disable_account(session, login)
        except AccountError as exc:
            fail(str(exc))
    out.print(f"已停用账号 {account.login}（{account.name}）", highlight=False)


@users_app.command("set-password")
def set_password(
    login: Annotated[str, typer.Argument(help="账号")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码（一行）")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """在服务器上直接设置密码（停用的账号随之重新启用）。"""
    from models import session_scope
    from perfcycle.accounts import AccountError
    from perfcycle.accounts import set_password as store

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("新密码", hide_input=True, confirmation_prompt=True)
    with friendly():
        use_database(database_url)
        try:
            with session_scope() as session:
                account = store(session, login, password)
        except AccountError as exc:
            fail(str(exc))
    out.print(f"已为账号 {account.login}（{account.name}）设置密码", highlight=False)


def web(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    workers: Annotated[int, typer.Option(help="工作进程数")] = 1,
    year: Year = None,
    database_url: DatabaseUrl = None,
) -> None:
    """启动预算绩效管理工作台（网页）：各部门、绩效科和分管领导以本人账号登录。"""
    import uvicorn

    from perfcycle.settings import get_settings

    with friendly():
        _synced(database_url, year)
    settings = get_settings()
    out.print(
        f"工作台地址 http://{host}:{port}/（一次性链接指向 {settings.web_url}，由 PERFCYCLE_WEB_URL 设置）",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        "perfcycle.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # a one-time link's token is in its address: no line of any log keeps it
        proxy_headers=True,
        server_header=False,
        # A connection the workbench closes just as the browser sends an upload on it is reset: the upload
        # is lost to the person sending it. So the browser, not the workbench, is the one to close it.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def register(app: typer.Typer) -> None:
    """Add `users` and `web` to the `perfcycle` app."""
    app.add_typer(users_app, name="users")
    app.command("web")(web)

"""What the command modules share: the consoles, the database option, and problems shown as one message."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)

DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="覆盖 PERFCYCLE_DATABASE_URL")]
ZONE_NAMES = {"Asia/Shanghai": "北京时间"}
TIMES_NOTE = "时间均为北京时间（Asia/Shanghai）；Prefect 界面按浏览器所在时区显示"


def zone_name(zone: str) -> str:
    """A time zone as the bureau says it: Asia/Shanghai is 北京时间."""
    return f"{ZONE_NAMES[zone]}（{zone}）" if zone in ZONE_NAMES else zone


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]错误[/]: {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def friendly() -> Iterator[None]:
    """Known problems (refused decisions and submissions, bad files or policy, a database another process
    holds or that fails) become one line and exit code 1."""
    from perfcycle.approvals import DecisionRefused
    from perfcycle.collecting import WindowError
    from perfcycle.events import EventError
    from perfcycle.locks import database_problem
    from perfcycle.policy import PolicyError
    from perfcycle.stages import StageError
    from perfcycle.workbooks.reader import ImportRejected

    try:
        yield
    except (DecisionRefused, EventError, PolicyError, StageError, ImportRejected, WindowError) as exc:
        fail(escape(str(exc)))
    except Exception as exc:
        message = database_problem(exc)
        if message is None:
            raise
        fail(escape(message))


def use_database(url: str | None) -> None:
    """Point this process at the given domain database (if any) and bring its schema up to date."""
    if url:
        os.environ["PERFCYCLE_DATABASE_URL"] = url
    from perfcycle.settings import get_settings

    get_settings.cache_clear()
    from models import upgrade
    from models.db import wait_as_command

    wait_as_command(get_settings().database_wait_seconds)
    upgrade()


CONTINUED = {
    "resumed": "Prefect 中等待的年度周期运行已继续",
    "started": "已在 Prefect 中重新启动年度周期部署",
    "running": "年度周期正在 Prefect 中运行，将读取此决定",
    "waiting": "年度周期运行在 Prefect 中等待其他审批",
}


def continue_on_server(
    year: int, what: str, gates: list[tuple[int, str]] | None = None, answer: dict[str, Any] | None = None
) -> None:
    """With a Prefect server: resume the run suspended at one of these gates, or make the year's cycle go on.

    `what` (决定, 报送 …) was recorded already, so a server that cannot be reached only delays the cycle."""
    from perfcycle.orchestration import continue_cycle, resume_gate_run

    try:
        resumed = [gate for gate, run in gates or [] if resume_gate_run(gate, run, answer or {})]
        outcome = "resumed" if resumed else continue_cycle(year)
    except Exception as exc:  # the next run of the cycle reads what was recorded
        err.print(
            f"[yellow]{what}已记录，但无法通知 Prefect 服务器继续运行（{type(exc).__name__}），周期将在下次运行时继续[/]",
            highlight=False,
        )
        return
    if outcome in CONTINUED:
        out.print(CONTINUED[outcome], highlight=False, soft_wrap=True)
    if outcome in ("resumed", "started"):
        out.print(context_line(year), highlight=False, soft_wrap=True)


def context_line(year: int, data: str | None = None, submissions: str | None = None, out_dir: str | None = None) -> str:
    """Which data workbook and folders the year's run uses: those given, else those the cycle recorded."""
    from models import session_scope
    from perfcycle.cycle_context import for_year

    with session_scope() as session:
        context = for_year(session, year, data=data, submissions=submissions, out_dir=out_dir)
    return f"{year} 年度周期使用：{context.describe()}"

"""`perfcycle serve`: the reminders and the quarterly cycle run on schedule in one process, without a Prefect
server and worker (`perfcycle.serve`). `--list` shows the jobs and when they fire; `--once JOB` runs one now.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from perfcycle.commands.common import DatabaseUrl, context_line, err, fail, out, use_database, zone_name


def _print_reminders(summary: dict[str, Any]) -> None:
    out.print(
        f"{summary['today']} 催报提醒：{summary['obligations']} 项待办，{summary['messages']} 条通知："
        f"发送 {summary['sent']}，已发过 {summary['skipped']}，失败 {summary['failed']}，"
        f"结果未知 {summary.get('unknown', 0)}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"通知去向：{summary['destination']}", highlight=False, soft_wrap=True)
    for failure in summary.get("failures", []):
        err.print(
            f"未确认送达: {failure['收件人']} <{failure['地址']}> {failure['主题']}: {failure['错误']}",
            highlight=False,
            soft_wrap=True,
        )


def serve(
    once: Annotated[
        str | None, typer.Option("--once", metavar="JOB", help="立即运行一次 reminders 或 annual-cycle，然后退出")
    ] = None,
    today: Annotated[str | None, typer.Option(help="与 --once reminders 一起用：按该日期（YYYY-MM-DD）发送")] = None,
    list_jobs: Annotated[bool, typer.Option("--list", help="列出计划任务和接下来的运行时间，然后退出")] = False,
    submissions: Annotated[
        Path | None, typer.Option(help="季度运行读取的填报文件目录（默认：各周期记录的目录）")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="季度运行的文件输出目录（默认：各周期记录的目录，否则 PERFCYCLE_OUTPUT_DIR）"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """在本进程中按计划运行每日催报提醒（09:00）和季度年度周期（1、4、7、10 月 10 日 09:00），无需 Prefect 服务器。

    已有 Prefect 服务器并启用了部署的计划时不要再运行本命令：同一任务只能由一个调度器负责。
    """
    from models.db import wait_as_command
    from perfcycle import serve as service
    from perfcycle.runtime import configure_prefect
    from perfcycle.settings import get_settings

    configure_prefect(quiet=True)
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    use_database(database_url)
    wait_as_command(None)  # its scheduled runs wait for another writer as stage runs on a worker do
    settings = get_settings()
    submissions_text = str(submissions.resolve()) if submissions else None
    output = str(out_dir.resolve()) if out_dir else None

    if list_jobs:
        now = datetime.now(service.trigger(service.JOBS[0]).timezone)
        for spec in service.JOBS:
            times = "、".join(t.strftime("%Y-%m-%d %H:%M") for t in service.fire_times(service.trigger(spec), now, 3))
            out.print(
                f"{spec.id}（{spec.name}，{spec.cron}，{zone_name(settings.timezone)}）: {times}",
                highlight=False,
                soft_wrap=True,
            )
        return

    if once is not None:
        calls = service.job_functions(submissions_text, output)
        if once not in calls:
            fail(f"未知的任务 {once}，可选: {'、'.join(calls)}")
        func, kwargs = calls[once]
        if today is not None:
            if once != "reminders":
                fail("--today 只用于 --once reminders")
            kwargs = {**kwargs, "today": today}
        from perfcycle.orchestration import settle_run_history

        if once == "annual-cycle":
            for year in service.open_cycle_years():
                out.print(context_line(year, submissions_text, output), highlight=False, soft_wrap=True)

        started = datetime.now(UTC) - timedelta(seconds=1)
        try:
            result = func(**kwargs)
        finally:
            settle_run_history(started)
        if once == "reminders":
            _print_reminders(result)
        else:
            out.print(f"季度运行完成：{'、'.join(str(y) for y in result) or '没有进行中的年度周期'}", highlight=False)
        return

    elsewhere = service.scheduled_on_server()
    if elsewhere:
        fail(
            "Prefect 服务器上已有启用计划的部署（"
            + "、".join(elsewhere)
            + "），它们会按计划运行同样的任务；请不要同时运行 perfcycle serve，或先暂停这些部署的计划"
        )
    scheduler = service.build_scheduler(submissions_text, output)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    err.print(f"perfcycle serve 已启动（{zone_name(settings.timezone)}），Ctrl+C 停止", highlight=False)
    scheduler.start()


def register(app: typer.Typer) -> None:
    """Add `serve` to the `perfcycle` app."""
    app.command("serve")(serve)

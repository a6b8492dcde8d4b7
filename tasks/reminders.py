"""The day's reminders as a Prefect task: `perfcycle.reminding` decides and sends them; the task logs what
went out and publishes what did not."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import get_run_logger, task

from perfcycle.reminding import run_reminders
from tasks.artifacts import publish_table


@task(name="send-reminders")
def send_reminders(today_iso: str) -> dict[str, Any]:
    """The day's reminders, escalations and approver reminders; failures are logged and published."""
    summary = run_reminders(date.fromisoformat(today_iso))
    logger = get_run_logger()
    logger.info(
        "%s: %d 项待办，%d 条通知：发送 %d，已发过 %d，失败 %d，结果未知 %d；通知去向：%s",
        summary["today"],
        summary["obligations"],
        summary["messages"],
        summary["sent"],
        summary["skipped"],
        summary["failed"],
        summary["unknown"],
        summary["destination"],
    )
    if summary["failures"]:
        for failure in summary["failures"]:
            logger.error("通知%s: %s", failure["结果"], failure)
        publish_table(
            f"reminders-failed-{today_iso}",
            summary["failures"],
            f"{today_iso} 未送达或结果未知的通知 {len(summary['failures'])} 条（见 notification 表）",
        )
    return summary

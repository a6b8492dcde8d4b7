"""`perfcycle serve`: the two schedules of a bureau without a Prefect server and worker, in one process.

APScheduler fires the same flows the deployments run, in this process (ephemeral Prefect unless
PREFECT_API_URL is set): the daily reminders at 09:00 and, on the 10th of the month after each quarter
(prefect.yaml's annual-cycle schedule), the annual-cycle driver of every open cycle. Times are the bureau's
(Asia/Shanghai). One job runs at a time, the cycle first when both are due, so the reminders of that day
already see the quarter's new warnings.

With a Prefect server the deployments' schedules run these flows; `serve` must then not run as well, and
`scheduled_on_server` names the deployments that would make it a second scheduler for the same job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger("perfcycle.serve")

REMINDERS_CRON = "0 9 * * *"
CYCLE_CRON = "0 9 10 1,4,7,10 *"  # the quarter's run of prefect.yaml: 10th of the month after each quarter
MISFIRE_GRACE_SECONDS = 6 * 3600  # a job held up (the other job running, the machine asleep) still runs that day
SCHEDULED_FLOWS = ("reminders", "annual-cycle", "quarterly-monitoring")


@dataclass(frozen=True)
class JobSpec:
    id: str
    name: str
    cron: str


JOBS = (
    JobSpec("annual-cycle", "年度周期（季度运行）", CYCLE_CRON),
    JobSpec("reminders", "每日催报提醒", REMINDERS_CRON),
)


def reminders_job(today: str | None = None) -> dict[str, Any]:
    """The daily reminders: the `reminders` flow, as its deployment runs it (today in Asia/Shanghai)."""
    from flows.reminders import reminders

    summary = reminders(today=today)
    log.info(
        "%s 催报提醒：%d 条通知，发送 %d，已发过 %d，失败 %d，结果未知 %d",
        summary["today"],
        summary["messages"],
        summary["sent"],
        summary["skipped"],
        summary["failed"],
        summary.get("unknown", 0),
    )
    return summary


def open_cycle_years() -> list[int]:
    """Years whose cycle is open: the quarterly run continues those, it never starts a new year on its own."""
    from sqlmodel import col, select

    from models import Cycle, session_scope

    with session_scope() as session:
        return list(session.exec(select(Cycle.year).where(Cycle.status == "open").order_by(col(Cycle.year))))


def cycle_job(submissions: str | None, out_dir: str | None) -> dict[int, dict[str, Any]]:
    """The quarterly run: each open cycle's driver runs what is due and stops at its next open gate.

    Folders not given to `serve` are each cycle's own, as its last run recorded them."""
    from perfcycle.orchestration import run_annual_cycle
    from perfcycle.stages import StageError

    results: dict[int, dict[str, Any]] = {}
    years = open_cycle_years()
    if not years:
        log.info("没有进行中的年度周期，本次季度运行无事可做")
    for year in years:
        log.info("%s 年度周期本次运行：%s", year, _context(year, submissions, out_dir))
        try:
            results[year] = run_annual_cycle(year=year, submissions=submissions, out_dir=out_dir, auto_approve=False)
        except StageError as exc:  # locked by a run started by hand, a stage refused: said, and the next year runs
            log.warning("%s 年度周期本次未运行：%s", year, exc)
            continue
        waiting = results[year].get("waiting") or []
        log.info("%s 年度周期已运行%s", year, f"，等待审批：{'、'.join(waiting)}" if waiting else "")
    return results


def _context(year: int, submissions: str | None, out_dir: str | None) -> str:
    from models import session_scope
    from perfcycle.cycle_context import for_year

    with session_scope() as session:
        return for_year(session, year, submissions=submissions, out_dir=out_dir).describe()


def job_functions(submissions: str | None, out_dir: str | None) -> dict[str, tuple[Callable[..., Any], dict[str, Any]]]:
    """What each job calls, with its arguments: the schedule and `serve --once` share them."""
    return {
        "annual-cycle": (cycle_job, {"submissions": submissions, "out_dir": out_dir}),
        "reminders": (reminders_job, {}),
    }


def _zone() -> ZoneInfo:
    from perfcycle.settings import get_settings

    return ZoneInfo(get_settings().timezone)


def trigger(spec: JobSpec) -> CronTrigger:
    return CronTrigger.from_crontab(spec.cron, timezone=_zone())


def build_scheduler(
    submissions: str | None,
    out_dir: str | None,
    *,
    started: datetime | None = None,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    """The scheduler with its two jobs, not started. Started after 09:00, the day's reminders run at once
    (they are sent at most once, so a late start or a restart only catches up what the day owes)."""
    zone = _zone()
    started = (started or datetime.now(zone)).astimezone(zone)
    scheduler = scheduler_class(
        timezone=zone,
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
    )
    calls = job_functions(submissions, out_dir)
    for spec in JOBS:
        func, kwargs = calls[spec.id]
        extra: dict[str, Any] = {}
        cron = trigger(spec)
        if spec.id == "reminders":
            midnight = started.replace(hour=0, minute=0, second=0, microsecond=0)
            due_today = cron.get_next_fire_time(None, midnight)
            if due_today is not None and due_today.date() == started.date() and due_today <= started:
                extra["next_run_time"] = started
        scheduler.add_job(func, cron, id=spec.id, name=spec.name, kwargs=kwargs, **extra)
    return scheduler


def fire_times(cron: CronTrigger, after: datetime, count: int) -> list[datetime]:
    """The next `count` times a trigger fires strictly after `after`."""
    times: list[datetime] = []
    previous: datetime | None = None
    moment = after + timedelta(microseconds=1)
    while len(times) < count:
        fire = cron.get_next_fire_time(previous, moment)
        if fire is None:
            break
        times.append(fire)
        previous, moment = fire, fire + timedelta(microseconds=1)
    return times


def scheduled_on_server() -> list[str]:
    """Deployments of these flows with an active schedule on the Prefect server PREFECT_API_URL names.

    Empty without a server (the ephemeral one has no deployments)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return []
    found: list[str] = []
    with get_client(sync_client=True) as client:
        flows = {
            f.id: f.name
            for f in client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=list(SCHEDULED_FLOWS))))
        }
        if not flows:
            return []
        for deployment in client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=list(SCHEDULED_FLOWS)))
        ):
            if deployment.paused or not any(s.active for s in deployment.schedules or []):
                continue
            found.append(f"{flows.get(deployment.flow_id, '?')}/{deployment.name}")
    return sorted(found)

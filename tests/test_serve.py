"""`perfcycle serve`: the jobs, when they fire in Asia/Shanghai, what they run, and no second scheduler."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlmodel import Session, select
from typer.testing import CliRunner

from models import Cycle, Department, WarningNotice, now
from models.audit_log import Notification
from models.tables import SHANGHAI
from perfcycle import serve
from perfcycle.cli import app
from perfcycle.settings import get_settings
from tests.servers import (  # noqa: F401  (fixtures)
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    all_logs,
    smtp_server,
)

ROOT = Path(__file__).parents[1]
runner = CliRunner()


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def scheduler(started: datetime) -> BackgroundScheduler:
    built = serve.build_scheduler("submissions", "out", started=started, scheduler_class=BackgroundScheduler)
    assert isinstance(built, BackgroundScheduler)
    return built


def test_the_jobs_fire_at_nine_in_shanghai_daily_and_after_each_quarter() -> None:
    built = scheduler(at(2024, 4, 9, 8, 0))
    built.start(paused=True)  # the job defaults apply once the jobs are in the store; nothing runs while paused
    try:
        jobs = {job.id: job for job in built.get_jobs()}
        quarter_day = at(2024, 4, 10, 9, 0)
        for job in jobs.values():
            job.modify(next_run_time=quarter_day)
        due_in_order = [job.id for job in built.get_jobs()]
    finally:
        built.shutdown(wait=False)
    assert due_in_order == ["annual-cycle", "reminders"]  # both due: one worker runs the cycle first
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, serve.MISFIRE_GRACE_SECONDS)
        assert str(job.trigger.timezone) == "Asia/Shanghai"

    reminders = serve.fire_times(jobs["reminders"].trigger, at(2024, 4, 9, 8, 0), 3)
    assert reminders == [at(2024, 4, 9, 9, 0), at(2024, 4, 10, 9, 0), at(2024, 4, 11, 9, 0)]
    assert reminders[0].astimezone(UTC) == datetime(2024, 4, 9, 1, 0, tzinfo=UTC)
    assert serve.fire_times(jobs["reminders"].trigger, at(2024, 4, 9, 9, 0), 1) == [at(2024, 4, 10, 9, 0)]

    cycle = jobs["annual-cycle"].trigger
    assert serve.fire_times(cycle, at(2024, 3, 31, 23, 59), 1) == [at(2024, 4, 10, 9, 0)]  # Q1 just ended
    across_the_year = serve.fire_times(cycle, at(2024, 10, 10, 9, 0), 4)  # right at Q3's run: the next ones
    assert across_the_year == [
        at(2025, 1, 10, 9, 0),
        at(2025, 4, 10, 9, 0),
        at(2025, 7, 10, 9, 0),
        at(2025, 10, 10, 9, 0),
    ]
    assert kwargs_of(jobs["annual-cycle"]) == {"submissions": "submissions", "out_dir": "out"}


def kwargs_of(job: object) -> dict[str, object]:
    return dict(getattr(job, "kwargs", {}))


def in_2024(cron: CronTrigger) -> set[datetime]:
    return {t for t in serve.fire_times(cron, at(2023, 12, 31, 23, 59), 400) if t.year == 2024}


def test_serve_fires_when_the_deployments_schedules_do() -> None:
    """The same days and hours as prefect.yaml's schedules for the reminders and for the quarter's run."""
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))

    def deployed(*flows: str) -> set[datetime]:
        times: set[datetime] = set()
        for deployment in config["deployments"]:
            if deployment["entrypoint"].split(":")[1] in flows:
                for schedule in deployment.get("schedules", []):
                    times |= in_2024(CronTrigger.from_crontab(schedule["cron"], timezone=schedule["timezone"]))
        return times

    quarterly = in_2024(serve.trigger(serve.JOBS[0]))
    assert sorted(quarterly) == [at(2024, m, 10, 9, 0) for m in (1, 4, 7, 10)]
    assert deployed("annual_cycle", "quarterly_monitoring") == quarterly
    assert deployed("reminders") == in_2024(serve.trigger(serve.JOBS[1]))


def test_a_start_after_nine_catches_up_the_days_reminders_only() -> None:
    late = at(2024, 4, 17, 10, 30)
    jobs = {job.id: job for job in scheduler(late).get_jobs()}
    assert getattr(jobs["reminders"], "next_run_time", None) == late
    assert getattr(jobs["annual-cycle"], "next_run_time", None) is None  # waits for its own day
    early = {job.id: job for job in scheduler(at(2024, 4, 17, 8, 59)).get_jobs()}
    assert getattr(early["reminders"], "next_run_time", None) is None


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> Iterator[None]:  # noqa: F811
    for key, value in {
        "NOTIFIER": "apprise",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURE": "none",
        "SMTP_USER": SMTP_USER,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "SMTP_FROM": "jxk@lieshan-czj.gov.cn.invalid",
        "NOTIFY_BACKOFF_SECONDS": "0.01",
    }.items():
        monkeypatch.setenv(f"PERFCYCLE_{key}", value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.prefect
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_reminders_job_sends_what_today_owes_once(
    db_url: str,
    session: Session,
    prefect_harness: None,
    channels: None,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    from perfcycle.policy import load_policy

    today = now().date()
    cycle = Cycle(
        year=today.year, budget_year=today.year + 2, district="烈山区", policy_json=load_policy(2024).as_json()
    )
    department = Department(code="101", name="区教育局", contact="张敏", email="jxk101@lieshan.gov.cn.invalid")
    session.add_all([cycle, department])
    session.flush()
    assert cycle.id and department.id
    session.add(
        WarningNotice(
            cycle_id=cycle.id,
            department_id=department.id,
            quarter="Q1",
            level="red",
            issued_on=today - timedelta(days=7),
            response_due=today + timedelta(days=3),
        )
    )
    session.commit()

    job = scheduler(datetime.now(SHANGHAI)).get_job("reminders")
    assert job is not None
    summary = job.func(*job.args, **job.kwargs)  # what the scheduler calls at 09:00
    assert summary["today"] == today.isoformat() and summary["failed"] == 0
    mails = smtp_server.take()
    assert [m.subject.split("】")[0] + "】" for m in mails if m.recipients == [department.email]] == ["【预警整改】"]
    assert "T-3" in session.exec(select(Notification.step).where(Notification.recipient == "张敏")).one()

    again = job.func(*job.args, **job.kwargs)
    assert again["sent"] == 0 and smtp_server.take() == []


def test_the_quarterly_job_runs_only_open_cycles_and_a_locked_one_is_said(
    db_url: str,
    session: Session,
    all_logs: list[str],  # noqa: F811
) -> None:
    from perfcycle import locks

    assert serve.cycle_job(None, "out") == {}
    assert any("没有进行中的年度周期" in line for line in all_logs)

    session.add_all(
        [Cycle(year=2022, budget_year=2024, status="historical"), Cycle(year=2024, budget_year=2026, status="open")]
    )
    session.commit()
    assert serve.open_cycle_years() == [2024]
    held = locks.acquire(2024, "周晓梅@czj (pid 1)")  # a run started by hand holds the year
    try:
        assert serve.cycle_job(None, "out") == {}
    finally:
        locks.release(held)
    assert any("2024 年度周期本次未运行" in line and "周晓梅@czj" in line for line in all_logs)


def test_serve_lists_its_jobs_and_refuses_an_unknown_one(db_url: str) -> None:
    listed = runner.invoke(app, ["serve", "--list"])
    assert listed.exit_code == 0, listed.output
    assert "annual-cycle" in listed.output and "reminders" in listed.output and "09:00" in listed.output
    assert "北京时间（Asia/Shanghai）" in listed.output
    wrong = runner.invoke(app, ["serve", "--once", "nonsense"])
    assert wrong.exit_code == 1 and "未知的任务 nonsense" in wrong.output


@pytest.mark.prefect
def test_serve_refuses_to_start_beside_a_server_that_schedules_the_same_flow(
    db_url: str, prefect_harness: None, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.settings import PREFECT_API_URL

    assert serve.scheduled_on_server() == []
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("reminders")
        deployment_id = client.create_deployment(
            flow_id,
            "daily",
            schedules=[DeploymentScheduleCreate(schedule=CronSchedule(cron="0 9 * * *", timezone="Asia/Shanghai"))],
        )
    try:
        assert serve.scheduled_on_server() == ["reminders/daily"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))}
        env.update({"PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_HOME": str(tmp_path)})
        command = [sys.executable, "-m", "perfcycle", "serve", "--database-url", db_url]
        refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert refused.returncode == 1, refused.stderr
        assert "reminders/daily" in refused.stderr and "不要同时运行 perfcycle serve" in refused.stderr
        with get_client(sync_client=True) as client:
            client.pause_deployment(deployment_id)
        assert serve.scheduled_on_server() == []  # a paused deployment schedules nothing
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)


def test_dates_in_the_fire_times_are_the_bureaus() -> None:
    (first,) = serve.fire_times(serve.trigger(serve.JOBS[1]), datetime(2024, 4, 9, 23, 30, tzinfo=UTC), 1)
    assert first.date() == date(2024, 4, 10) and first.hour == 9  # 07:30 in Shanghai: 09:00 the same day


@pytest.mark.prefect
def test_reminders_run_once_say_where_the_messages_went(
    db_url: str, session: Session, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.notices import arrange_red_notices

    arrange_red_notices(session, [Department(code="101", name="区教育局", contact="张敏", email="a@example.invalid")])
    outbox = tmp_path / "发件箱"
    monkeypatch.setenv("PERFCYCLE_OUTBOX_DIR", str(outbox))
    get_settings.cache_clear()
    said = runner.invoke(app, ["serve", "--once", "reminders", "--today", "2024-04-19"])
    assert said.exit_code == 0, said.output
    assert "发送 1" in said.output
    assert f"通知去向：本地发件箱 {outbox.resolve()}" in said.output
    assert len(list(outbox.rglob("*.txt"))) == 1

"""One run of a year's cycle at a time: of two runs started together exactly one proceeds, on SQLite and
PostgreSQL alike; the other is refused with who holds the cycle; stale locks are taken over; a run that
fails still releases its lock."""

from __future__ import annotations

import logging
import multiprocessing
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from models import now, session_scope
from models.tables import CycleLock
from perfcycle.locks import (
    CycleLocked,
    acquire,
    cycle_lock,
    default_holder,
    heartbeat,
    is_stale,
    process_alive,
    release,
    this_host,
)

YEAR = 2024
REFUSAL = f"{YEAR} 年度周期正在由 "


def locks(url: str) -> list[CycleLock]:
    with session_scope(url) as session:
        return list(session.exec(select(CycleLock)))


def plant(url: str, **fields: Any) -> None:
    """A lock row left by some other run."""
    stamp = now()
    row: dict[str, Any] = {
        "year": YEAR,
        "holder": "someone@elsewhere (pid 4242)",
        "host": "elsewhere",
        "pid": 4242,
        "token": "0" * 32,
        "acquired_at": stamp,
        "heartbeat_at": stamp,
    } | fields
    with session_scope(url) as session:
        session.add(CycleLock(**row))


def contend(url: str, names: list[str]) -> tuple[list[str], list[str]]:
    """Start one thread per name at the same instant; each tries to run the cycle. (winners, refusals)"""
    start = threading.Barrier(len(names))
    tried = threading.Semaphore(0)
    winners: list[str] = []
    refusals: list[str] = []
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            start.wait(timeout=30)
            try:
                with cycle_lock(YEAR, name, url=url):
                    winners.append(name)
                    for _ in names[1:]:  # hold the cycle until every other run has tried
                        tried.acquire(timeout=30)
            except CycleLocked as exc:
                refusals.append(str(exc))
                tried.release()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return winners, refusals


def test_two_runs_started_together_one_proceeds_the_other_is_refused(db_url: str) -> None:
    for round_ in range(5):
        names = [f"甲{round_}", f"乙{round_}"]
        winners, refusals = contend(db_url, names)
        assert len(winners) == 1, (winners, refusals)
        (refusal,) = refusals
        assert refusal.startswith(f"{REFUSAL}{winners[0]} 运行（自 ")
        assert refusal.endswith("起），请稍后再试")
        assert locks(db_url) == []  # released by the winner


def _process_run(url: str, name: str, start: Any, tried: Any, results: Any) -> None:
    """One `perfcycle run` as far as the lock goes, in its own process."""
    from perfcycle.locks import CycleLocked, cycle_lock

    start.wait(timeout=60)
    try:
        with cycle_lock(YEAR, name, url=url):
            results.put(("won", name))
            tried.acquire(timeout=60)
    except CycleLocked as exc:
        results.put(("refused", str(exc)))
        tried.release()


def test_two_processes_started_together_one_proceeds_the_other_is_refused(db_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    start, tried, results = context.Barrier(2), context.Semaphore(0), context.Queue()
    processes = [
        context.Process(target=_process_run, args=(db_url, name, start, tried, results)) for name in ("甲", "乙")
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=90) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    won = [detail for outcome, detail in outcomes if outcome == "won"]
    refused = [detail for outcome, detail in outcomes if outcome == "refused"]
    assert len(won) == 1 and len(refused) == 1, outcomes
    assert refused[0].startswith(f"{REFUSAL}{won[0]} 运行（自 ")
    assert locks(db_url) == []


def test_a_lock_without_heartbeat_for_thirty_minutes_is_taken_over(db_url: str) -> None:
    plant(db_url, acquired_at=now() - timedelta(hours=3), heartbeat_at=now() - timedelta(minutes=31))
    with cycle_lock(YEAR, "接手的运行", url=db_url) as lock:
        assert lock.taken_over_from == "someone@elsewhere (pid 4242)"
        (row,) = locks(db_url)
        assert (row.holder, row.host, row.token) == ("接手的运行", this_host(), lock.token)
    assert locks(db_url) == []


def test_a_lock_whose_process_is_gone_on_this_host_is_taken_over(db_url: str) -> None:
    finished = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert finished.returncode == 0
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not process_alive(gone.pid)
    plant(db_url, host=this_host(), pid=gone.pid, holder=f"crashed@{this_host()} (pid {gone.pid})")
    with cycle_lock(YEAR, "重新运行", url=db_url) as lock:
        assert lock.taken_over_from == f"crashed@{this_host()} (pid {gone.pid})"


def test_a_fresh_lock_of_another_host_is_respected(db_url: str) -> None:
    plant(db_url, acquired_at=now() - timedelta(minutes=5), heartbeat_at=now() - timedelta(minutes=29))
    with pytest.raises(CycleLocked) as refused:
        acquire(YEAR, "第二个运行", url=db_url)
    assert str(refused.value).startswith(f"{REFUSAL}someone@elsewhere (pid 4242) 运行（自 ")
    assert [row.holder for row in locks(db_url)] == ["someone@elsewhere (pid 4242)"]


def test_two_runs_finding_the_same_stale_lock_only_one_takes_it_over(db_url: str) -> None:
    for round_ in range(3):
        plant(db_url, heartbeat_at=now() - timedelta(hours=1), token=f"{round_:032d}")
        winners, refusals = contend(db_url, [f"甲{round_}", f"乙{round_}"])
        assert len(winners) == 1 and len(refusals) == 1, (winners, refusals)
        assert refusals[0].startswith(f"{REFUSAL}{winners[0]} 运行")
        assert locks(db_url) == []


def test_the_lock_is_released_when_the_run_fails(db_url: str) -> None:
    with pytest.raises(RuntimeError, match="第三季度监控失败"), cycle_lock(YEAR, "会失败的运行", url=db_url):
        assert len(locks(db_url)) == 1
        raise RuntimeError("第三季度监控失败")
    assert locks(db_url) == []
    with cycle_lock(YEAR, "下一次运行", url=db_url):
        assert [row.holder for row in locks(db_url)] == ["下一次运行"]


def test_other_years_are_not_blocked(db_url: str) -> None:
    with cycle_lock(YEAR, "2024 的运行", url=db_url), cycle_lock(YEAR + 1, "2025 的运行", url=db_url):
        assert sorted(row.year for row in locks(db_url)) == [YEAR, YEAR + 1]


def test_a_run_whose_lock_was_taken_over_does_not_release_the_new_holder(db_url: str) -> None:
    old = acquire(YEAR, "卡住的运行", url=db_url)
    with session_scope(db_url) as session:  # it stopped beating long ago, on another machine
        row = session.exec(select(CycleLock)).one()
        row.host, row.heartbeat_at = "elsewhere", now() - timedelta(hours=1)
        session.add(row)
    with cycle_lock(YEAR, "新的运行", url=db_url) as new:
        assert new.taken_over_from == "卡住的运行"
        assert heartbeat(old, url=db_url) is False and old.lost.is_set()
        assert release(old, url=db_url) is False
        assert [row.holder for row in locks(db_url)] == ["新的运行"]
    assert locks(db_url) == []


def test_the_heartbeat_is_renewed_while_the_run_lasts(db_url: str) -> None:
    with cycle_lock(YEAR, "长的运行", url=db_url, heartbeat_every=timedelta(seconds=0.05)):
        (first,) = locks(db_url)
        time.sleep(0.5)
        (later,) = locks(db_url)
        assert later.heartbeat_at > first.heartbeat_at
        assert not is_stale(later, stale_after=timedelta(seconds=5))
        assert is_stale(later, at=now() + timedelta(seconds=6), stale_after=timedelta(seconds=5))


def test_a_heartbeat_held_up_by_a_long_transaction_is_tried_again_quietly(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A stage's long import holds the database; the run's own heartbeat then waits in vain, which is no warning."""
    from sqlalchemy import text

    from models.db import get_engine, wait_as_command

    wait_as_command(0.2)
    caplog.set_level(logging.INFO, logger="perfcycle.locks")
    try:
        with cycle_lock(YEAR, "长的运行", url=db_url, heartbeat_every=timedelta(seconds=0.05)):
            with get_engine(db_url).connect() as other:
                if db_url.startswith("sqlite"):
                    other.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    other.execute(text("SELECT * FROM cycle_lock FOR UPDATE"))
                time.sleep(1)
                other.rollback()
            (row,) = locks(db_url)
    finally:
        wait_as_command(None)
    held_up = [r for r in caplog.records if "心跳" in r.getMessage()]
    assert held_up and all(r.levelno == logging.INFO for r in held_up)
    assert not is_stale(row)


def test_run_annual_cycle_holds_the_lock_and_releases_it(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.annual_cycle
    from perfcycle import orchestration

    held: list[list[str]] = []

    def fake_cycle(**parameters: Any) -> dict[str, Any]:
        held.append([row.holder for row in locks(db_url)])
        if parameters.get("auto_approve"):
            raise RuntimeError("stage failed")
        return {"year": parameters["year"]}

    monkeypatch.setattr(flows.annual_cycle, "annual_cycle", fake_cycle)
    monkeypatch.setattr(orchestration, "settle_run_history", lambda started: None)
    assert orchestration.run_annual_cycle(year=YEAR) == {"year": YEAR}
    with pytest.raises(RuntimeError):
        orchestration.run_annual_cycle(year=YEAR, auto_approve=True)
    assert held == [[default_holder()], [default_holder()]]
    assert locks(db_url) == []

    with cycle_lock(YEAR, "另一位同事", url=db_url), pytest.raises(CycleLocked, match=f"^{REFUSAL}另一位同事 运行"):
        orchestration.run_annual_cycle(year=YEAR)
    assert len(held) == 2  # the refused run never started the flow


def test_perfcycle_run_is_refused_with_a_message_while_another_run_holds_the_cycle(db_url: str, tmp_path: Path) -> None:
    from perfcycle.cli import app

    with cycle_lock(YEAR, "zhouxm@czj-server (pid 31337)", url=db_url):
        result = CliRunner().invoke(
            app, ["run", "--year", str(YEAR), "--out", str(tmp_path / "out"), "--database-url", db_url]
        )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert f"{REFUSAL}zhouxm@czj-server (pid 31337) 运行（自 " in " ".join(result.output.split())
    assert locks(db_url) == []


@pytest.mark.prefect
def test_a_stage_run_on_its_own_finds_the_open_cycle_and_takes_its_lock(db_url: str, prefect_harness: None) -> None:
    from flows.department_evaluation import department_evaluation
    from models import StageState
    from perfcycle.stages import StageError
    from tasks.cycle import open_cycle

    with pytest.raises(StageError, match=f"{YEAR} 年度周期尚未开启"):
        department_evaluation(year=YEAR)
    cycle_id = open_cycle.fn(YEAR, auto_approve=True)
    holding, done = threading.Event(), threading.Event()

    def colleague() -> None:  # another run: its own thread, so not a caller of the stage
        with cycle_lock(YEAR, "另一位同事", url=db_url):
            holding.set()
            done.wait(60)

    other = threading.Thread(target=colleague)
    other.start()
    try:
        assert holding.wait(30)
        with pytest.raises(CycleLocked, match=f"^{REFUSAL}另一位同事 运行"):
            department_evaluation(year=YEAR)
    finally:
        done.set()
        other.join()
    with session_scope() as session:
        state = session.exec(
            select(StageState).where(StageState.cycle_id == cycle_id, StageState.stage == "department_evaluation")
        ).one()
        assert state.status == "pending"

    assert department_evaluation(year=YEAR)["status"] == "done"
    assert locks(db_url) == []


HOLDER = """
import sys
from models import session_scope
from perfcycle import audit
with session_scope(sys.argv[1]) as session:  # another perfcycle process in the middle of a write
    audit.append(session, "导入程序", "import.started", "test", {})
    print("holding", flush=True)
    sys.stdin.read()
"""


def test_a_command_waits_briefly_for_a_database_another_process_holds_then_says_who(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfcycle.cli import app

    plant(db_url, holder="周晓梅@czj-server (pid 4242)")
    monkeypatch.setenv("PERFCYCLE_DATABASE_WAIT_SECONDS", "2")
    root = Path(__file__).parents[1]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        result = CliRunner().invoke(app, ["approve", "1", "--by", "周晓梅"])  # a refusal is recorded: it writes
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert "数据库正被另一个程序占用，等待 2 秒后仍未释放" in output
    assert f"{REFUSAL}周晓梅@czj-server (pid 4242) 运行（自 " in output
    if db_url.startswith("sqlite"):
        assert f"进程 {holder.pid}（" in output  # the process with the file open
    else:
        assert f"连接 perfcycle {socket.gethostname()} pid {holder.pid}（" in output  # its session, by its name
    assert 1.5 <= waited < 12


def test_a_raw_driver_error_of_a_held_database_is_recognised_and_said_in_one_line(db_url: str, tmp_path: Path) -> None:
    """models.rows writes through the driver's own cursor: its `database is locked` is no SQLAlchemy error."""
    import sqlite3

    from perfcycle.locks import database_problem, lock_wait_ran_out

    path = tmp_path / "held.db"
    first, second = sqlite3.connect(path, isolation_level=None), sqlite3.connect(path, timeout=0)
    first.execute("CREATE TABLE t (x INTEGER)")
    first.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as raised:
        second.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    first.close()
    second.close()
    assert lock_wait_ran_out(raised.value)
    message = database_problem(raised.value)
    assert message is not None and message.startswith("数据库正被另一个程序占用") and "\n" not in message
    assert not lock_wait_ran_out(sqlite3.OperationalError("no such table: t"))
    assert (
        database_problem(sqlite3.OperationalError("no such table: t"))
        == "数据库出错: OperationalError: no such table: t"
    )
    assert database_problem(ValueError("not a database problem")) is None

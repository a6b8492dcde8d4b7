"""One run of a year's cycle at a time: a lock row in the domain database, on SQLite and PostgreSQL alike.

`cycle_lock(year, holder)` INSERTs the year's `CycleLock` row; the unique year makes the database itself
the referee, so of two runs started at the same moment exactly one insert succeeds and the other is refused
with who holds the cycle and since when (`CycleLocked`, a `StageError`: the CLI shows it as a message).

While the run lasts a background thread renews the row's heartbeat. A lock is stale, and the next run takes
it over, when its heartbeat is older than `STALE_AFTER` or when its holder ran on this host and that process
is gone (killed, crashed): a crash never blocks the rerun that continues the cycle. Taking over is one
conditional UPDATE on the stale holder's token, so two runs finding the same stale lock cannot both win.
The lock is released when the run ends, also when it fails; only its own token is deleted, never a lock that
another run took over meanwhile.

The lock is reentrant along one call chain: the annual-cycle flow holds it, and the stage flows it calls
(which hold it themselves when a deployment runs one on its own) find it already held by their caller.
"""

from __future__ import annotations

import functools
import getpass
import inspect
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from models import now, session_scope
from models.tables import SHANGHAI, CycleLock
from perfcycle.settings import get_settings
from perfcycle.stages import StageError

STALE_AFTER = timedelta(minutes=30)
HEARTBEAT_EVERY = timedelta(minutes=1)
ATTEMPTS = 5  # inserts and takeovers tried before giving up (each lost race means someone else holds it)

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
_HELD: ContextVar[dict[tuple[str, int], HeldLock] | None] = ContextVar("perfcycle_held_cycle_locks", default=None)


class CycleLocked(StageError):
    """Another run holds the year's cycle."""

    def __init__(self, year: int, holder: str, since: datetime | None) -> None:
        self.year, self.holder, self.since = year, holder, since
        shown = _local(since).strftime("%Y-%m-%d %H:%M:%S") if since else "刚才"
        super().__init__(f"{year} 年度周期正在由 {holder} 运行（自 {shown} 起），请稍后再试")


@dataclass
class HeldLock:
    """A lock this process holds; `lost` is set if another run took it over (its heartbeat had stopped)."""

    year: int
    holder: str
    token: str
    taken_over_from: str = ""
    lost: threading.Event = field(default_factory=threading.Event)


def this_host() -> str:
    """Where process ids mean the same thing: the host name, and the pid namespace when there is one.

    Two containers may share a host name but not their processes; a pid is only checked where it is valid.
    """
    try:
        namespace = " " + os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return (socket.gethostname() + namespace)[:200]


def default_holder() -> str:
    """Who runs this process, as shown to whoever is refused: user@host (pid n)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in a bare container: the host and pid still identify the run
        user = "?"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"[:200]


def _local(moment: datetime) -> datetime:
    """Stored times come back naive from SQLite: they were written in Asia/Shanghai."""
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment.astimezone(SHANGHAI)


def process_alive(pid: int) -> bool:
    """Whether a process of this host still runs (a zombie, killed but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): it answered the signal, so it exists
    return state not in ("Z", "X")


def is_stale(lock: CycleLock, *, at: datetime | None = None, stale_after: timedelta = STALE_AFTER) -> bool:
    """A lock whose holder stopped: no heartbeat for `stale_after`, or its process on this host is gone."""
    moment = at or now()
    if moment - _local(lock.heartbeat_at) > stale_after:
        return True
    return lock.host == this_host() and lock.pid != os.getpid() and not process_alive(lock.pid)


def _row_count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class _Seen:
    holder: str
    token: str
    acquired_at: datetime
    heartbeat_at: datetime


def acquire(year: int, holder: str, *, url: str | None = None, stale_after: timedelta = STALE_AFTER) -> HeldLock:
    """Take the year's lock, or raise `CycleLocked` naming who holds it."""
    token = uuid.uuid4().hex
    holder = holder[:200]
    seen: _Seen | None = None
    for _ in range(ATTEMPTS):
        stamp = now()
        try:
            with session_scope(url) as session:
                session.add(
                    CycleLock(
                        year=year,
                        holder=holder,
                        host=this_host(),
                        pid=os.getpid(),
                        token=token,
                        acquired_at=stamp,
                        heartbeat_at=stamp,
                    )
                )
            return HeldLock(year, holder, token)
        except IntegrityError:
            pass  # the year is taken: by a live run (refused) or by a stale one (taken over)
        with session_scope(url) as session:
            row = session.exec(select(CycleLock).where(CycleLock.year == year)).first()
            if row is None:
                continue  # released in the meantime: try again
            seen = _Seen(row.holder, row.token, row.acquired_at, row.heartbeat_at)
            if not is_stale(row, stale_after=stale_after):
                raise CycleLocked(year, seen.holder, seen.acquired_at)
            stamp = now()
            taken = session.exec(
                update(CycleLock)
                .where(col(CycleLock.year) == year, col(CycleLock.token) == seen.token)
                .values(
                    holder=holder, host=this_host(), pid=os.getpid(), token=token, acquired_at=stamp, heartbeat_at=stamp
                )
                .execution_options(synchronize_session=False)
            )
            if _row_count(taken) == 1:
                log.warning(
                    "%s 年度周期的运行锁已过期（%s，最后心跳 %s），由 %s 接管",
                    year,
                    seen.holder,
                    _local(seen.heartbeat_at).isoformat(timespec="seconds"),
                    holder,
                )
                return HeldLock(year, holder, token, taken_over_from=seen.holder)
    if seen is not None:
        raise CycleLocked(year, seen.holder, seen.acquired_at)
    raise CycleLocked(year, "另一个运行", None)


def release(lock: HeldLock, *, url: str | None = None) -> bool:
    """Drop the lock if it is still ours; True when it was."""
    with session_scope(url) as session:
        result = session.exec(
            delete(CycleLock).where(col(CycleLock.year) == lock.year, col(CycleLock.token) == lock.token)
        )
        return _row_count(result) == 1


def heartbeat(lock: HeldLock, *, url: str | None = None) -> bool:
    """Renew the lock's heartbeat; False (and `lock.lost` set) when another run took it over."""
    with session_scope(url) as session:
        result = session.exec(
            update(CycleLock)
            .where(col(CycleLock.year) == lock.year, col(CycleLock.token) == lock.token)
            .values(heartbeat_at=now())
        )
        if _row_count(result) == 1:
            return True
    lock.lost.set()
    return False


class _Heartbeat(threading.Thread):
    def __init__(self, lock: HeldLock, url: str | None, every: timedelta) -> None:
        super().__init__(name=f"cycle-lock-{lock.year}", daemon=True)
        self.lock, self.url, self.every = lock, url, every.total_seconds()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                if not heartbeat(self.lock, url=self.url):
                    log.error("%s 年度周期的运行锁已被另一个运行接管（本运行的心跳曾中断）", self.lock.year)
                    return
            except Exception as exc:  # a database hiccup: try again at the next beat, the lock is not stale yet
                # a lock wait is this run's own long transaction (a stage's import) more often than not
                level = logging.INFO if lock_wait_ran_out(exc) else logging.WARNING
                log.log(level, "无法更新 %s 年度周期运行锁的心跳（%s），稍后重试", self.lock.year, type(exc).__name__)


@contextmanager
def cycle_lock(
    year: int,
    holder: str | None = None,
    *,
    url: str | None = None,
    stale_after: timedelta = STALE_AFTER,
    heartbeat_every: timedelta = HEARTBEAT_EVERY,
    reentrant: bool = False,
) -> Iterator[HeldLock]:
    """Hold the year's cycle for the duration of the block; raise `CycleLocked` if another run holds it.

    `reentrant` (for flows) reuses a lock that an enclosing block of the same call chain already holds.
    """
    key = (url or get_settings().database_url, year)
    held = _HELD.get() or {}
    if reentrant and key in held:
        yield held[key]
        return
    lock = acquire(year, holder or default_holder(), url=url, stale_after=stale_after)
    token = _HELD.set({**held, key: lock})
    beat = _Heartbeat(lock, url, min(heartbeat_every, stale_after / 3))  # never let a live run look stale
    beat.start()
    try:
        yield lock
    finally:
        _HELD.reset(token)
        beat.stopped.set()
        beat.join(timeout=10)
        try:
            if not release(lock, url=url):
                log.warning("%s 年度周期的运行锁在结束时已不属于本运行", year)
        except Exception as exc:  # never hide the run's own outcome; a lock left behind goes stale on its own
            log.warning("无法释放 %s 年度周期的运行锁（%s），它将在进程结束或心跳过期后失效", year, type(exc).__name__)


def holds_cycle(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a flow holding its year's cycle lock, so a deployment's run of a stage is refused like `perfcycle run`."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        year = int(signature.bind(*args, **kwargs).arguments["year"])
        with cycle_lock(year, reentrant=True):
            return fn(*args, **kwargs)

    return locked


# ------------------------------------------------------------------------------------ a database held by another

_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
_PG_LOCK_NOT_AVAILABLE = "55P03"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the driver's error it wraps, and what it was raised from (a flow re-raises a task's)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]


def lock_wait_ran_out(exc: BaseException) -> bool:
    """Whether this is a database lock another connection held longer than this process waits."""
    import sqlite3

    for cause in _causes(exc):
        if isinstance(cause, sqlite3.OperationalError) and any(text in str(cause).lower() for text in _SQLITE_BUSY):
            return True
        if getattr(cause, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
            return True
    return False


def database_holders(url: str | None = None) -> list[str]:
    """Who holds the database, as far as can be known: runs holding a cycle, and other processes of this host
    with the SQLite file open (PostgreSQL: other sessions in a writing transaction)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    url = url or get_settings().database_url
    found: list[str] = []
    try:  # reading goes on while another connection writes (WAL, MVCC)
        with session_scope(url) as session:
            for row in session.exec(select(CycleLock).order_by(col(CycleLock.year))):
                if row.host == this_host() and row.pid == os.getpid():
                    continue
                since = _local(row.acquired_at).strftime("%Y-%m-%d %H:%M:%S")
                found.append(f"{row.year} 年度周期正在由 {row.holder} 运行（自 {since} 起）")
            if session.get_bind().dialect.name == "postgresql":
                found += [
                    f"连接 {name or '（未命名）'}（来自 {address or '本机'}，事务自 {_local(since):%H:%M:%S} 起，"
                    f"数据库服务器进程 {pid}）"
                    for pid, name, address, since in session.execute(text(_PG_WRITERS)).all()
                ]
    except Exception as exc:  # saying who holds it must never hide that it is held
        log.debug("无法读取数据库的占用者（%s）", type(exc).__name__)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        found += [f"进程 {pid}（{command}）打开着该数据库" for pid, command in _processes_with(Path(parsed.database))]
    return found


_PG_WRITERS = """
SELECT DISTINCT a.pid, a.application_name, host(a.client_addr), a.xact_start
FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND l.granted
WHERE a.pid <> pg_backend_pid() AND a.datname = current_database() AND a.xact_start IS NOT NULL
  AND l.locktype IN ('relation', 'tuple', 'transactionid', 'advisory') AND l.mode <> 'AccessShareLock'
ORDER BY a.xact_start LIMIT 5
"""


def _processes_with(database: Path, limit: int = 3) -> list[tuple[int, str]]:
    """Other processes of this host with the SQLite file (or its WAL) open, with their command line."""
    try:
        target = database.resolve()
    except OSError:
        return []
    names = {str(target), f"{target}-wal"}
    found: list[tuple[int, str]] = []
    for entry in sorted(Path("/proc").glob("[0-9]*"), key=lambda p: int(p.name)):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            opened = any(os.readlink(fd) in names for fd in (entry / "fd").iterdir())
            command = " ".join((entry / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ").split())
        except OSError:  # gone meanwhile, or another user's
            continue
        if opened:
            found.append((pid, command[:80] or "?"))
            if len(found) == limit:
                break
    return found


def busy_message(exc: BaseException) -> str | None:
    """A lock wait that ran out, as one line saying who holds the database; None for any other problem."""
    if not lock_wait_ran_out(exc):
        return None
    from models.db import lock_wait_seconds

    waited = lock_wait_seconds()
    how_long = f"等待 {waited:g} 秒后" if waited is not None else "等待后"
    holders = database_holders()
    who = (
        "占用者：" + "；".join(holders)
        if holders
        else "占用者未知：没有正在运行的年度周期，也没有找到本机打开该数据库的其他进程"
    )
    return (
        f"数据库正被另一个程序占用，{how_long}仍未释放。{who}。"
        "请等它结束后重试（等待时间可用 PERFCYCLE_DATABASE_WAIT_SECONDS 调整）"
    )


def database_problem(exc: BaseException) -> str | None:
    """A database error as one line for the user (who holds it, when it is held); None if it is not one."""
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    busy = busy_message(exc)
    if busy is not None:
        return busy
    if isinstance(exc, SQLAlchemyError | sqlite3.Error) or _is_psycopg(exc):
        return f"数据库出错: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
    return None


def _is_psycopg(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("psycopg")

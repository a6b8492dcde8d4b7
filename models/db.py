"""The one engine factory: every task opens its own session from here."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from models import audit_log, people, tables  # noqa: F401  (registers every table on SQLModel.metadata)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


RUN_WAIT_SECONDS = 30.0  # how long a stage run waits for another writer of SQLite (PostgreSQL: as long as it takes)
_command_wait: float | None = None


def wait_as_command(seconds: float | None) -> None:
    """This process is a command: a database another process holds is waited for `seconds`, then the command
    says who holds it. None: a run, which waits as long as another stage's transaction may take."""
    global _command_wait
    _command_wait = seconds


def lock_wait_seconds() -> float | None:
    """How long this process waits for a lock another connection holds; None: no limit (PostgreSQL runs)."""
    return _command_wait


def _wait_ms(dialect: str) -> int:
    if _command_wait is not None:
        return max(0, int(_command_wait * 1000))
    return int(RUN_WAIT_SECONDS * 1000) if dialect == "sqlite" else 0


#: Rows of each index SQLite's ANALYZE looks at (its documented advice is a few hundred to a thousand).
ANALYSIS_LIMIT = 1000


def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")  # see `refresh_statistics`
    cursor.close()
    _set_wait(dbapi_connection, record, "sqlite")


def _set_wait(dbapi_connection: Any, record: Any, dialect: str) -> None:
    """The connection's lock wait, set again when this process changed it since (pooled connections)."""
    wanted = _wait_ms(dialect)
    if record.info.get("lock_wait_ms") == wanted:
        return
    cursor = dbapi_connection.cursor()
    try:
        if dialect == "sqlite":
            cursor.execute(f"PRAGMA busy_timeout={wanted}")
        else:  # lock_timeout 0 is PostgreSQL's "wait as long as it takes"
            cursor.execute(f"SET lock_timeout = {wanted}")
    finally:
        cursor.close()
    if dialect != "sqlite":
        dbapi_connection.commit()  # SET outside a transaction: a rollback on return to the pool keeps it
    record.info["lock_wait_ms"] = wanted


_ENGINES: dict[str, Engine] = {}


def _engine_for(url: str) -> Engine:
    engine = _ENGINES.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": RUN_WAIT_SECONDS})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:  # the application name says which process holds what (perfcycle.locks.database_holders)
            name = f"perfcycle {socket.gethostname()} pid {os.getpid()}"[:63]
            engine = create_engine(url, pool_pre_ping=True, connect_args={"application_name": name})
        dialect = engine.dialect.name
        event.listen(engine, "checkout", lambda dbapi, record, _proxy: _set_wait(dbapi, record, dialect))
        _ENGINES[url] = engine
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url`, or for the configured PERFCYCLE_DATABASE_URL."""
    if url is None:
        from perfcycle.settings import get_settings

        url = get_settings().database_url
    return _engine_for(url)


def dispose_engines() -> None:
    """Forget cached engines (tests switch databases between cases)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


@contextmanager
def session_scope(url: str | None = None, *, writing: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error: all or nothing.

    `writing`: on SQLite, the transaction holds the write lock from its start (BEGIN IMMEDIATE), so that
    another process's write between this one's reads and writes cannot make it fail ("database is locked")."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            if writing and session.get_bind().dialect.name == "sqlite":
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def refresh_statistics(session: Session) -> None:
    """Let the query planner see the data after a bulk load: without statistics SQLite reads a year's
    10 000 projects to find one department's 20 (it cannot tell which index is the narrow one). On SQLite each
    index is sampled (`ANALYSIS_LIMIT`, set on every connection): its statistics need its shape, not a count of every
    row after every stage."""
    session.execute(text("ANALYZE"))


def create_all(url: str | None = None) -> None:
    """Create the schema straight from the models (tests); production uses `upgrade`."""
    SQLModel.metadata.create_all(get_engine(url))


def _alembic_config(url: str | None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = str(get_engine(url).url.render_as_string(hide_password=False))
    return config


def current_revision(url: str | None = None) -> str | None:
    """The Alembic revision the database is at; None for a database no migration has run on yet."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str | None = None, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the database to the latest Alembic migration; returns its revision before and after."""
    from alembic import command

    before = current_revision(url)
    command.upgrade(_alembic_config(url), revision)
    return before, current_revision(url)


def stamp(url: str | None = None, revision: str = "head") -> None:
    """Mark a schema built by `create_all` as being at `revision` (tests build schemas that way)."""
    from alembic import command

    command.stamp(_alembic_config(url), revision)

"""The one engine factory: every task opens its own session from here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from models import audit, tables  # noqa: F401  (registers every table on SQLModel.metadata)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_ENGINES: dict[str, Engine] = {}


def _engine_for(url: str) -> Engine:
    engine = _ENGINES.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
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
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error: all or nothing."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


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

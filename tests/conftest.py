"""Shared fixtures: a fresh domain database per test, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, SQLModel

from perfcycle.runtime import configure_prefect

configure_prefect()

from models import db as models_db  # noqa: E402
from perfcycle.settings import get_settings  # noqa: E402

PG_ADMIN_URL = os.environ.get("PERFCYCLE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]
if os.environ.get("PERFCYCLE_TEST_BACKENDS"):
    BACKENDS = os.environ["PERFCYCLE_TEST_BACKENDS"].split(",")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One throw-away Prefect server and home for the flow tests of this run."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One PostgreSQL database for this test run, dropped at the end; tests reset its tables."""
    name = f"perfcycle_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    models_db.dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty domain database, also set as PERFCYCLE_DATABASE_URL for code under test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'perfcycle.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    engine = models_db.get_engine(url)
    if request.param != "sqlite":
        SQLModel.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    SQLModel.metadata.create_all(engine)
    models_db.stamp(url)
    monkeypatch.setenv("PERFCYCLE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    if request.param == "sqlite":
        engine.dispose()
        models_db._ENGINES.pop(url, None)


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on the fresh database, for arranging records and asserting on them."""
    with Session(models_db.get_engine(db_url), expire_on_commit=False) as s:
        yield s

"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from models import db as models_db
from models import get_engine, upgrade


def _empty(db_url: str) -> None:
    engine = get_engine(db_url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_upgrade_builds_the_model_schema(db_url: str) -> None:
    engine = get_engine(db_url)
    _empty(db_url)

    upgrade(db_url)
    upgrade(db_url)  # a second upgrade is a no-op

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    script = ScriptDirectory.from_config(models_db._alembic_config(db_url))
    assert diff == []
    assert script.get_heads() == [version]  # one line of migrations, and the database is at its head
    chain = [revision.revision for revision in script.walk_revisions()]
    assert chain[-2:] == ["0002", "0001"]  # 0002 (the cycle lock) follows the initial model directly
    assert set(inspect(engine).get_table_names()) >= {t.name for t in SQLModel.metadata.sorted_tables}


def test_the_cycle_lock_migration_goes_down_and_up(db_url: str) -> None:
    engine = get_engine(db_url)
    _empty(db_url)
    config = models_db._alembic_config(db_url)

    upgrade(db_url, "0002")
    assert "cycle_lock" in inspect(engine).get_table_names()
    command.downgrade(config, "0001")
    assert "cycle_lock" not in inspect(engine).get_table_names()
    assert "cycle" in inspect(engine).get_table_names()
    upgrade(db_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []

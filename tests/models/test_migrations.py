"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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


def _insert(conn: Any, table: str, **values: Any) -> int:
    """A row of `table` as the schema stands: every required column not given gets a neutral value."""
    for column in inspect(conn).get_columns(table):
        if column["name"] in values or column["nullable"] or column.get("default") or column["name"] == "id":
            continue
        kind = str(column["type"]).upper()
        neutral: Any = ""
        if "INT" in kind or "NUMERIC" in kind:
            neutral = 0
        elif "BOOL" in kind:
            neutral = False
        elif "TIMESTAMP" in kind or "DATETIME" in kind:
            neutral = datetime(2024, 1, 1, tzinfo=UTC)
        values[column["name"]] = neutral
    names = ", ".join(values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"), values)
    return int(conn.execute(text(f"SELECT MAX(id) FROM {table}")).scalar_one())


def test_budget_lines_written_before_the_base_keep_their_figures(db_url: str) -> None:
    """Rows that held the base as `request_fen` get the project's request and the ex-ante cut apart, and a kind."""
    engine = get_engine(db_url)
    _empty(db_url)
    config = models_db._alembic_config(db_url)
    script = ScriptDirectory.from_config(config)
    (migration,) = [r for r in script.walk_revisions() if "budget base" in (r.doc or "")]
    before = migration.down_revision
    assert isinstance(before, str)
    upgrade(db_url, before)
    with engine.begin() as conn:
        cycle = _insert(conn, "cycle", year=2024, budget_year=2026)
        department = _insert(conn, "department", code="D01", name="部门")
        rows = {}
        for code, request, base, extra in [
            ("P01", 81_235_0000, 78_000_0000, {"grade_cut_ratio": 0.1, "cut_ratio": 0.1}),  # 调整后支持, 中
            ("P02", 50_000_0000, 0, {"priority": True}),  # 不予支持, recorded then as 优先保障
            ("P03", 20_000_0000, 20_000_0000, {"reason": "未设置绩效目标", "cut_ratio": 1}),
            ("P04", 10_000_0000, 10_000_0000, {"execution_cut_ratio": 0.3, "cut_ratio": 0.3}),
        ]:
            project = _insert(conn, "project", year=2024, code=code, department_id=department, request_fen=request)
            rows[code] = _insert(
                conn,
                "budget_recommendation",
                cycle_id=cycle,
                project_id=project,
                budget_year=2026,
                request_fen=base,
                **extra,
            )
    upgrade(db_url)
    with engine.connect() as conn:
        found = {
            row[0]: row[1:]
            for row in conn.execute(
                text("SELECT id, request_fen, ex_ante_cut_fen, reason_kind FROM budget_recommendation")
            )
        }
    assert found[rows["P01"]] == (81_235_0000, 3_235_0000, "grade_cut")
    assert found[rows["P02"]] == (50_000_0000, 50_000_0000, "ex_ante_rejected")
    assert found[rows["P03"]] == (20_000_0000, 0, "no_targets")
    assert found[rows["P04"]] == (10_000_0000, 0, "low_execution")
    command.downgrade(config, before)
    with engine.connect() as conn:
        back = dict(conn.execute(text("SELECT id, request_fen FROM budget_recommendation")).all())
    assert back == {rows["P01"]: 78_000_0000, rows["P02"]: 0, rows["P03"]: 20_000_0000, rows["P04"]: 10_000_0000}
    upgrade(db_url)

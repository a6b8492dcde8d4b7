"""Bulk inserts (COPY on PostgreSQL, plain executemany on SQLite) store exactly what the ORM stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select

from models import Cycle, Department, Indicator, Project, Submission, get_engine
from models.rows import (
    ProjectRef,
    insert_rows,
    insert_tuples,
    project_refs,
    project_rows,
    update_rows,
    update_tuples,
)

AWKWARD = "tab\there, line\nbreak, back\\slash, 'quote' \"double\", \\N, 中文"


def fields(row: Any) -> dict[str, Any]:
    return row.model_dump(exclude={"id"})


def a_cycle_and_projects(session: Session, *codes: str) -> tuple[int, list[int]]:
    """A cycle and one department's projects of 2024, stored: their ids."""
    cycle = Cycle(year=2024, budget_year=2026, status="open")
    department = Department(code="D01", name="区教育局")
    session.add_all([cycle, department])
    session.flush()
    assert cycle.id is not None and department.id is not None
    projects = [
        Project(year=2024, code=code, department_id=department.id, name=code, type="t", attribute="新增")
        for code in codes
    ]
    session.add_all(projects)
    session.flush()
    ids = [p.id for p in projects]
    assert None not in ids
    return cycle.id, ids  # type: ignore[return-value]


def test_bulk_rows_equal_orm_rows(db_url: str) -> None:
    with Session(get_engine(db_url)) as session:
        cycle_id, (project_id,) = a_cycle_and_projects(session, "P1")
        received = datetime(2025, 3, 31, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=8)))
        indicators: list[dict[str, Any]] = [
            {"cycle_id": cycle_id, "project_id": project_id, "level1": "产出", "level2": "数量", "name": AWKWARD,
             "operator": "≥", "target_value": Decimal("1234567.8912"), "unit": "个", "weight": Decimal("12.50")},
            {"cycle_id": cycle_id, "project_id": project_id, "level1": "效益", "level2": "满意度", "name": "空值",
             "operator": "定性", "target_value": None, "target_text": "好", "weight": None},
        ]  # fmt: skip
        submissions: list[dict[str, Any]] = [
            {"cycle_id": cycle_id, "kind": "targets", "scope": "D01", "source_name": AWKWARD, "sha256": "a" * 64,
             "rows": 2, "current": False, "received_at": received},
        ]  # fmt: skip
        insert_rows(session, Indicator, indicators)
        insert_rows(session, Submission, submissions)
        session.add_all([Indicator(**{**row, "name": f"orm {row['name']}"}) for row in indicators])
        session.add(Submission(**{**submissions[0], "sha256": "b" * 64}))
        session.commit()

    with Session(get_engine(db_url)) as session:
        stored = session.exec(select(Indicator).order_by(Indicator.id)).all()  # type: ignore[arg-type]
        bulk, orm = stored[:2], stored[2:]
        assert [fields(i) | {"name": ""} for i in bulk] == [fields(i) | {"name": ""} for i in orm]
        assert bulk[0].name == AWKWARD and bulk[0].target_value == Decimal("1234567.8912")
        assert bulk[1].target_value is None and bulk[1].target_text == "好" and bulk[1].unit == ""  # a default
        first, second = session.exec(select(Submission).order_by(Submission.id)).all()  # type: ignore[arg-type]
        assert fields(first) | {"sha256": ""} == fields(second) | {"sha256": ""}
        assert first.source_name == AWKWARD and first.current is False
        kept = first.received_at  # PostgreSQL keeps the instant, SQLite the wall-clock time as given
        assert kept == (received if kept.tzinfo else received.replace(tzinfo=None))


def test_a_row_without_a_required_value_or_with_an_unknown_one_is_refused(db_url: str) -> None:
    row = {"cycle_id": 1, "kind": "targets", "scope": "*", "source_name": "x", "sha256": "c" * 64}
    with Session(get_engine(db_url)) as session:
        without_kind = {k: v for k, v in row.items() if k != "kind"}
        for rows in ([row, without_kind], [without_kind, without_kind]):
            with pytest.raises(ValueError, match="submission: no value for kind"):
                insert_rows(session, Submission, rows)
        for rows in ([row | {"sha512": ""}], [row, row | {"sha512": ""}]):
            with pytest.raises(ValueError, match="Submission has no field sha512"):
                insert_rows(session, Submission, rows)
        assert session.exec(select(Submission)).all() == []


def test_bulk_updates_by_key_change_only_the_rows_and_fields_named(db_url: str) -> None:
    with Session(get_engine(db_url)) as session:
        cycle_id, (p1, p2) = a_cycle_and_projects(session, "P1", "P2")
        insert_rows(
            session,
            Indicator,
            [
                {
                    "cycle_id": cycle_id,
                    "project_id": project_id,
                    "level1": "产出",
                    "level2": "数量",
                    "name": name,
                    "operator": "≥",
                    "target_value": Decimal("10"),
                }
                for project_id in (p1, p2)
                for name in ("甲", "乙")
            ],
        )
        key = ("cycle_id", "project_id", "name")
        update_rows(
            session,
            Indicator,
            key,
            [
                {
                    "cycle_id": cycle_id,
                    "project_id": p1,
                    "name": "甲",
                    "actual": Decimal("9.1234"),
                    "achievement": "达成\t'\\N",
                },
                {"cycle_id": cycle_id, "project_id": p2, "name": "乙", "actual": None},
            ],
        )
        session.commit()
    with Session(get_engine(db_url)) as session:
        stored = {
            (i.project_id, i.name): (i.actual, i.achievement, i.target_value) for i in session.exec(select(Indicator))
        }
    assert stored == {
        (p1, "甲"): (Decimal("9.1234"), "达成\t'\\N", Decimal("10")),
        (p1, "乙"): (None, "", Decimal("10")),
        (p2, "甲"): (None, "", Decimal("10")),
        (p2, "乙"): (None, "", Decimal("10")),
    }


def test_rows_given_as_tuples_are_stored_as_the_same_rows_given_as_dicts(db_url: str) -> None:
    received = datetime(2025, 3, 31, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=8)))
    submission = {"cycle_id": 0, "kind": "targets", "scope": "D01", "source_name": AWKWARD, "rows": 2}
    with Session(get_engine(db_url)) as session:
        cycle_id, (p1, p2) = a_cycle_and_projects(session, "P1", "P2")
        names = ("cycle_id", "project_id", "level1", "level2", "name", "operator", "target_value", "weight")
        given = [
            (cycle_id, p1, "产出", "数量", AWKWARD, "≥", Decimal("1234567.8912"), Decimal("12.50")),
            (cycle_id, p2, "效益", "满意度", "空值", "定性", None, None),
        ]
        insert_tuples(session, Indicator, names, given)
        insert_rows(
            session, Indicator, [dict(zip(names, row, strict=True)) | {"name": f"dict {row[4]}"} for row in given]
        )
        update_tuples(session, Indicator, ("actual", "achievement"), ("cycle_id", "project_id", "name"),
                      [(Decimal("9.1234"), "达成\t'\\N", cycle_id, p1, AWKWARD)])  # fmt: skip
        update_rows(session, Indicator, ("cycle_id", "project_id", "name"),
                    [{"cycle_id": cycle_id, "project_id": p1, "name": f"dict {AWKWARD}", "actual": Decimal("9.1234"),
                      "achievement": "达成\t'\\N"}])  # fmt: skip
        keys = (*submission, "sha256", "received_at")  # `current` not given: its default, bound as Core binds it
        insert_tuples(session, Submission, keys, [(cycle_id, *list(submission.values())[1:], "a" * 64, received)])
        insert_rows(
            session, Submission, [{**submission, "cycle_id": cycle_id, "sha256": "b" * 64, "received_at": received}]
        )
        with pytest.raises(ValueError, match="submission: no value for kind"):
            insert_tuples(session, Submission, ("cycle_id", "scope"), [(cycle_id, "*")])
        with pytest.raises(ValueError, match="Submission has no field sha512"):
            insert_tuples(
                session, Submission, (*keys, "sha512"), [(cycle_id, "t", "*", "x", 1, "c" * 64, received, "")]
            )
        session.commit()
    with Session(get_engine(db_url)) as session:
        stored = session.exec(select(Indicator).order_by(Indicator.id)).all()  # type: ignore[arg-type]
        tuples, dicts = stored[:2], stored[2:]
        assert [fields(i) | {"name": ""} for i in tuples] == [fields(i) | {"name": ""} for i in dicts]
        assert tuples[0].actual == Decimal("9.1234") and tuples[1].unit == ""  # updated; a default
        first, second = session.exec(select(Submission).order_by(Submission.id)).all()  # type: ignore[arg-type]
        assert fields(first) | {"sha256": ""} == fields(second) | {"sha256": ""}
        assert first.current is True and first.source_name == AWKWARD


def test_project_refs_are_the_project_rows_fields_they_name(db_url: str) -> None:
    with Session(get_engine(db_url)) as session:
        a_cycle_and_projects(session, "P2", "P1", "P3")
        session.add(Project(year=2025, code="P0", department_id=1, name="P0", type="t", attribute="延续"))
        session.commit()
        rows = project_rows(session, Project.year == 2024)
        refs = project_refs(session, Project.year == 2024)
    assert [r.code for r in refs] == ["P1", "P2", "P3"]  # by code, of the year asked for
    assert refs == [ProjectRef(*(getattr(row, name) for name in ProjectRef._fields)) for row in rows]

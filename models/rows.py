"""Read-only rows for the stages and documents that only read: tens of thousands of ORM objects cost seconds
to build, plain tuples a fraction of it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from sqlmodel import Session, SQLModel, insert, select, update

from models.tables import Indicator, Project


def columns(model: type[SQLModel], *names: str) -> tuple[Any, ...]:
    """A model's columns by name, to select plain rows instead of ORM objects."""
    return tuple(getattr(model, name) for name in names)


class ProjectRow(NamedTuple):
    """A project's fields as read."""

    id: int
    year: int
    code: str
    department_id: int
    name: str
    type: str
    attribute: str
    budget_fen: int
    request_fen: int
    policy_related: bool
    high_attention: bool


_PROJECT_COLUMNS = columns(Project, *ProjectRow._fields)


def project_rows(session: Session, *where: Any) -> list[ProjectRow]:
    """The projects matching `where`, by code."""
    return [ProjectRow(*row) for row in session.exec(select(*_PROJECT_COLUMNS).where(*where).order_by(Project.code))]


class IndicatorRow(NamedTuple):
    """An indicator's fields as read."""

    id: int
    project_id: int
    level1: str
    level2: str
    name: str
    operator: str
    target_value: Decimal | None
    target_text: str
    unit: str
    weight: Decimal | None
    actual: Decimal | None
    achievement: str


_INDICATOR_COLUMNS = columns(Indicator, *IndicatorRow._fields)


def indicator_rows(session: Session, *where: Any) -> list[IndicatorRow]:
    """The indicators matching `where`, in the order they were recorded."""
    rows = session.exec(select(*_INDICATOR_COLUMNS).where(*where).order_by(Indicator.id))
    return [IndicatorRow(*row) for row in rows]


def _defaults(model: type[SQLModel]) -> dict[str, Any]:
    """The model's field defaults, for rows inserted without building model objects."""
    return {
        name: info.get_default(call_default_factory=True)
        for name, info in model.model_fields.items()
        if name != "id" and not info.is_required()
    }


def insert_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Many rows inserted in one executemany (a Core INSERT: no ORM bookkeeping per row), with the model's
    defaults for the fields not given."""
    if rows:
        defaults = _defaults(model)
        session.exec(insert(model.__table__), params=[{**defaults, **row} for row in rows])  # type: ignore[attr-defined]


def update_by_id(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Many rows updated by primary key in one executemany, instead of an ORM object and its flush per row."""
    if rows:
        session.exec(update(model), params=rows)

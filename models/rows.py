"""Read-only rows for the stages and documents that only read: tens of thousands of ORM objects cost seconds
to build, plain tuples a fraction of it."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

from sqlmodel import Session, SQLModel, insert, select

from models.tables import Indicator, Project

T = TypeVar("T")


def columns(model: type[SQLModel], *names: str) -> tuple[Any, ...]:
    """A model's columns by name, to select plain rows instead of ORM objects."""
    return tuple(getattr(model, name) for name in names)


def _plain(session: Session, query: Any, params: dict[str, Any] | None = None) -> Any:
    """A query's rows as tuples, through Core: no ORM result machinery per row (pending objects flushed first,
    as the ORM would)."""
    session.flush()
    return session.connection().execute(query, params)


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


class ProjectRef(NamedTuple):
    """What checking a submission reads of a project: half the columns, a third less time to read a year's."""

    id: int
    code: str
    department_id: int
    attribute: str
    budget_fen: int
    request_fen: int


def project_rows(session: Session, *where: Any) -> list[ProjectRow]:
    """The projects matching `where`, by code."""
    return _projects(ProjectRow._make, ProjectRow._fields, session, where)


def project_refs(session: Session, *where: Any) -> list[ProjectRef]:
    """`project_rows` with only what checking a submission reads."""
    return _projects(ProjectRef._make, ProjectRef._fields, session, where)


def project_refs_of(session: Session, query: Any, params: dict[str, Any]) -> list[ProjectRef]:
    """`project_refs` of a query built once (`PROJECT_REF_COLUMNS` with bound parameters) and its parameters."""
    return list(map(ProjectRef._make, _plain(session, query, params)))


PROJECT_REF_COLUMNS = columns(Project, *ProjectRef._fields)


def _projects(make: Callable[[Iterable[Any]], T], fields: Sequence[str], session: Session, where: Any) -> list[T]:
    query = select(*columns(Project, *fields)).where(*where).order_by(Project.code)
    return list(map(make, _plain(session, query)))


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
    return list(
        map(IndicatorRow._make, _plain(session, select(*_INDICATOR_COLUMNS).where(*where).order_by(Indicator.id)))
    )


def _defaults(model: type[SQLModel]) -> dict[str, Any]:
    """The model's field defaults, for rows inserted without building model objects."""
    return {
        name: info.get_default(call_default_factory=True)
        for name, info in model.model_fields.items()
        if name != "id" and not info.is_required()
    }


_MISSING = object()


class _Plan(NamedTuple):
    table: str
    names: list[str]
    defaults: list[Any]
    factories: list[tuple[int, Any]]
    processors: dict[str, Any]


@functools.cache
def _plan(model: type[SQLModel], dialect: Any, with_id: bool) -> _Plan:
    """How a model's rows become a dialect's parameters: worked out once, not on every batch."""
    names = [name for name in model.model_fields if with_id or name != "id"]
    table: Any = model.__table__  # type: ignore[attr-defined]
    defaults: list[Any] = []
    factories: list[tuple[int, Any]] = []
    for index, name in enumerate(names):
        info = model.model_fields[name]
        if info.default_factory is not None:
            factories.append((index, info.default_factory))
        defaults.append(_MISSING if info.is_required() or info.default_factory is not None else info.default)
    processors = {column.key: column.type.dialect_impl(dialect).bind_processor(dialect) for column in table.c}
    return _Plan(table.name, names, defaults, factories, {k: v for k, v in processors.items() if v is not None})


def _row_values(
    model: type[SQLModel], rows: list[dict[str, Any]], dialect: Any
) -> tuple[list[str], list[Sequence[Any]]]:
    """The columns to insert and each row's values in that order, as the dialect stores them: every column
    (the id only when the rows give it), a default where the rows give none, and the columns' own bind
    processing (dates, decimals, JSON) applied, as a Core INSERT would. Column by column, not cell by cell."""
    plan = _plan(model, dialect, "id" in rows[0])
    default = _fallback(plan)
    first = rows[0].keys()
    even = all(map(first.__eq__, map(dict.keys, rows)))
    present = set(first) if even else {name for row in rows for name in row}
    unknown = [name for name in present if name not in default]
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(unknown)}")
    absent = [name for name in plan.names if name not in present]
    unfilled = absent if even else absent + [n for n in present if any(n not in row for row in rows)]
    for name in unfilled:
        if default[name] is _MISSING:
            raise ValueError(f"{plan.table}: no value for {name}")
    if not even:  # rows naming different fields get the defaults of the others
        filler = {name: default[name] for name in plan.names if name in present}
        rows = [filler | row for row in rows]
    names = [name for name in plan.names if name in present]
    getter = itemgetter(*names)
    columns: list[Sequence[Any]] = (
        list(zip(*map(getter, rows), strict=True)) if len(names) > 1 else [[getter(row) for row in rows]]
    )
    names += absent
    columns += [[default[name]] * len(rows) for name in absent]
    for at, name in enumerate(names):
        process = plan.processors.get(name)
        if process is not None:
            columns[at] = [None if value is None else process(value) for value in columns[at]]
    return names, list(zip(*columns, strict=True))


def insert_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Many rows inserted at once, with the model's defaults for the fields not given: COPY on PostgreSQL, one
    executemany of plain tuples on SQLite (no per-row statement or ORM bookkeeping either way)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name not in ("postgresql", "sqlite"):
        table: Any = model.__table__  # type: ignore[attr-defined]
        defaults = _defaults(model)
        session.exec(insert(table), params=[{**defaults, **row} for row in rows])
        return
    session.flush()
    names, tuples = _row_values(model, rows, dialect)
    _insert(connection, model, names, tuples)


def insert_tuples(
    session: Session, model: type[SQLModel], names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """`insert_rows` of rows given as tuples of the fields `names`, in that order (every field without a default
    among them): no dict is made of a row, and the other fields take the model's defaults."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name not in ("postgresql", "sqlite"):
        insert_rows(session, model, [dict(zip(names, row, strict=True)) for row in rows])
        return
    session.flush()
    plan = _plan(model, dialect, "id" in names)
    default = _fallback(plan)
    unknown = [name for name in names if name not in default]
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(unknown)}")
    absent = [name for name in plan.names if name not in names]
    for name in absent:
        if default[name] is _MISSING:
            raise ValueError(f"{plan.table}: no value for {name}")
    processed = [at for at, name in enumerate(names) if name in plan.processors]
    if processed:
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for at in processed:
            process = plan.processors[names[at]]
            columns[at] = [None if value is None else process(value) for value in columns[at]]
        rows = list(zip(*columns, strict=True))
    if absent:  # the defaults, bound as a Core INSERT would bind them
        tail: tuple[Any, ...] = ()
        for name in absent:
            value, process = default[name], plan.processors.get(name)
            tail += (value if value is None or process is None else process(value),)
        rows = [row + tail for row in rows]
    _insert(connection, model, [*names, *absent], rows)


def _fallback(plan: _Plan) -> dict[str, Any]:
    """Each field's value when a row gives none (`_MISSING` for a required one)."""
    fallback = list(plan.defaults)
    for index, factory in plan.factories:
        fallback[index] = factory()
    return dict(zip(plan.names, fallback, strict=True))


def _insert(connection: Any, model: type[SQLModel], names: list[str], tuples: Sequence[Sequence[Any]]) -> None:
    """COPY on PostgreSQL, one executemany on SQLite, of rows already in the dialect's values."""
    dialect = connection.dialect
    table: Any = model.__table__  # type: ignore[attr-defined]
    quote = dialect.identifier_preparer
    target = f"{quote.format_table(table)} ({', '.join(quote.quote(name) for name in names)})"
    raw: Any = connection.connection.dbapi_connection
    if dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for values in tuples:
                copy.write_row(values)
    else:
        cursor = raw.cursor()
        try:
            cursor.executemany(f"INSERT INTO {target} VALUES ({', '.join('?' * len(names))})", tuples)
        finally:
            cursor.close()


def update_rows(session: Session, model: type[SQLModel], key: Sequence[str], rows: list[dict[str, Any]]) -> None:
    """UPDATE … SET <the row's other fields> WHERE <key fields> = … for many rows: one executemany of plain
    tuples per set of fields changed, with the columns' own bind processing (no per-row statement)."""
    if not rows:
        return
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(name for name in row if name not in key)].append(row)
    for changed, group in groups.items():
        getter = itemgetter(*changed, *key)
        values = list(map(getter, group)) if len(changed) + len(key) > 1 else [(getter(r),) for r in group]
        update_tuples(session, model, changed, key, values)


def update_tuples(
    session: Session, model: type[SQLModel], changed: Sequence[str], key: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """`update_rows` of rows given as tuples: the `changed` fields' new values, then the `key` fields' values."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    table: Any = model.__table__  # type: ignore[attr-defined]
    quote = dialect.identifier_preparer
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    raw: Any = connection.connection.dbapi_connection
    session.flush()
    processors = [_plan(model, dialect, True).processors.get(name) for name in (*changed, *key)]
    statement = (
        f"UPDATE {quote.format_table(table)} SET "
        + ", ".join(f"{quote.quote(name)} = {marker}" for name in changed)
        + " WHERE "
        + " AND ".join(f"{quote.quote(name)} = {marker}" for name in key)
    )
    if any(processors):  # column by column, as `_row_values` does
        columns = [list(column) for column in zip(*rows, strict=True)]
        for at, process in enumerate(processors):
            if process is not None:
                columns[at] = [None if value is None else process(value) for value in columns[at]]
        rows = list(zip(*columns, strict=True))
    cursor = raw.cursor()
    try:
        cursor.executemany(statement, rows)
    finally:
        cursor.close()


def update_by_id(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Many rows updated by primary key at once, instead of an ORM object and its flush per row."""
    update_rows(session, model, ("id",), rows)

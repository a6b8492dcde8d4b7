"""Load validated workbooks into the domain database, all or nothing.

`load` takes a parsed workbook (see `perfcycle.workbooks.reader`) and a session it never commits: the
caller's `session_scope` is the transaction. Every cross-reference (unknown department, a project of
another department, a cycle that is not open, …) is checked first and all problems are raised together
as `ImportRejected`, naming sheet, row and column, before anything is written.

Stage submissions are recorded as `Submission` rows: sending the same file again changes nothing, and a
resubmission supersedes the earlier one (kept, `current=False`) and replaces the data it carried. A
submission is dated by the file's arrival (its modification time, never later than the import), not by
the run that happens to import it. The files of one stage are each loaded or refused on their own.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import bindparam, delete
from sqlmodel import Session, SQLModel, col, select

from models import (
    Cycle,
    Department,
    Evaluation,
    ExAnteAssessment,
    FiscalPolicy,
    Indicator,
    MonitoringRecord,
    Project,
    Publication,
    Sample,
    SampleMember,
    Selection,
    Submission,
    TargetReview,
    now,
    session_scope,
)
from models.audit_log import AuditEntry
from models.db import refresh_statistics
from models.rows import ProjectRef, insert_rows, insert_tuples, project_refs, update_by_id, update_rows, update_tuples
from models.tables import SHANGHAI
from perfcycle import audit
from perfcycle.money import fmt_wan, wan_to_fen
from perfcycle.rules.identifiers import code_problem
from perfcycle.workbooks.formats import FISCAL_DIMENSION_FIELDS, OBJECT_TYPE_KEYS, QUARTERS, SPECS
from perfcycle.workbooks.reader import ImportProblem, ImportRejected, ParsedRow, ParsedWorkbook, parse_workbook

HISTORICAL = "historical"
QUALITATIVE = "定性"
EVALUATION_KIND = {"自评": "self", "部门评价": "department", "抽查复核": "review", "财政重点评价": "fiscal"}
PANEL_DIMENSIONS = ("necessity", "economy", "targets", "feasibility", "compliance")
SCORE_MAX = Decimal(100)
CHUNK = 500  # codes per IN (...) query: well below SQLite's and PostgreSQL's parameter limits
LOOKUP_CODES = 5 * CHUNK  # a file naming more projects than this reads the whole year's at once
TWO_PLACES = Decimal("0.01")
FOUR_PLACES = Decimal("0.0001")
MAX_INDICATOR_VALUE = Decimal(10) ** 15  # Indicator.target_value / actual are Numeric(20, 4)

M = TypeVar("M", bound=SQLModel)


@dataclass
class LoadResult:
    """What one workbook did to the database."""

    kind: str
    rows: int
    skipped: bool = False
    scope: str = "*"
    messages: list[str] = field(default_factory=list)
    arrived_at: datetime | None = None  # when the file came in, as its submission records it
    sha256: str = ""  # the digest of the file's bytes


@dataclass
class Refused:
    """A workbook of a stage that was not imported: every problem found in it, the digest of its bytes (when it
    could be read) and the department its rows name ("*": none, or several)."""

    problems: list[ImportProblem]
    sha256: str = ""
    scope: str = "*"


class _Problems:
    """Collects cross-reference problems, locating each by sheet, Excel row and the column's Chinese header."""

    def __init__(self, parsed: ParsedWorkbook, earlier: Sequence[ImportProblem] = ()) -> None:
        self.file = parsed.path.name
        self.spec = SPECS[parsed.kind]
        self.items: list[ImportProblem] = list(earlier)
        self._order = {sheet.name: index for index, sheet in enumerate(self.spec.sheets)}
        self._malformed: set[tuple[str, int, str]] = set()  # cells holding no code: nothing more is said of them

    def header(self, sheet: str, field_name: str) -> str:
        return next((c.header for c in self.spec.sheet(sheet).columns if c.field == field_name), field_name)

    def add(self, reason: str, sheet: str | None = None, row: ParsedRow | None = None, field_name: str = "") -> None:
        if sheet and row and (sheet, row.row, field_name) in self._malformed:
            return
        column = self.header(sheet, field_name) if sheet and field_name else None
        self.items.append(ImportProblem(self.file, sheet, row.row if row else None, column, reason))

    def rejected(self) -> ImportRejected:
        """Every problem, the file's own first, then sheet by sheet in row order."""
        ordered = sorted(
            self.items, key=lambda p: (-1 if p.sheet is None else self._order.get(p.sheet, 99), p.row or 0)
        )
        return ImportRejected(ordered)

    def fail(self, reason: str) -> ImportRejected:
        self.add(reason)
        return self.rejected()

    def raise_if_any(self) -> None:
        if self.items:
            raise self.rejected()

    def codes(self, parsed: ParsedWorkbook) -> None:
        """Refuse every code cell that is not a well-formed code (see `perfcycle.rules.identifiers`)."""
        for sheet, row, field_name, reason in malformed_codes(parsed):
            self.add(reason, sheet, row, field_name)
            self._malformed.add((sheet, row.row, field_name))

    def text_fits(self, sheet: str, row: ParsedRow, field_name: str, model: type[SQLModel], attr: str) -> None:
        """Refuse text longer than its database column (PostgreSQL would fail the whole load otherwise)."""
        value = row.values.get(field_name)
        limit = _max_length(model, attr)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            self.add(f"内容过长（{len(value)} 个字符，最多 {limit} 个）", sheet, row, field_name)

    def score(self, sheet: str, row: ParsedRow, field_name: str, maximum: Decimal = SCORE_MAX) -> Decimal | None:
        """A score in 0..maximum, rounded half up to 0.01 as it is stored; None (and a problem) otherwise."""
        value = row.values.get(field_name)
        if value is None:
            return None
        if not 0 <= value <= maximum:
            self.add(f"得分应在 0 到 {maximum} 之间: {value}", sheet, row, field_name)
            return None
        return Decimal(value).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def malformed_codes(parsed: ParsedWorkbook) -> Iterator[tuple[str, ParsedRow, str, str]]:
    """(sheet, row, field, reason) of each code cell of a workbook that is not a well-formed code."""
    spec = SPECS[parsed.kind]
    columns = parsed.as_columns
    for sheet_name in columns if columns is not None else parsed.sheets:
        for column in spec.sheet(sheet_name).columns:
            if column.kind != "code" or column.reference:
                continue
            values: Sequence[Any] | None
            if columns is not None:  # the column as read: no row is made for a sheet whose codes are all fine
                values = columns[sheet_name].column(column.field)
            else:
                values = [row.values.get(column.field) for row in parsed.sheets[sheet_name]]
            wrong = {
                value: reason for value in set(values or ()) if value is not None and (reason := _malformed(value))
            }
            if not wrong:
                continue
            rows = parsed.sheets[sheet_name]
            for row in rows:
                value = row.values.get(column.field)
                if value in wrong:
                    yield sheet_name, row, column.field, wrong[value]


@functools.lru_cache(maxsize=1 << 16)
def _malformed(code: str) -> str | None:
    """`code_problem`, worked out once for a code that the files of an import name again and again."""
    return code_problem(code)


def code_problems(parsed: ParsedWorkbook) -> list[ImportProblem]:
    """The problems of `malformed_codes`, located by sheet, row and column header."""
    problems = _Problems(parsed)
    problems.codes(parsed)
    return problems.items


@functools.cache
def _max_length(model: type[SQLModel], attr: str) -> int | None:
    column = model.__table__.c[attr]  # type: ignore[attr-defined]
    return getattr(column.type, "length", None)


def _chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class DepartmentRef(NamedTuple):
    """What the checks read of a department."""

    id: int
    code: str
    name: str


@dataclass(eq=False)
class _Received:
    """A `Submission` row as the loads of one session see it; `changes` are its columns still to be written
    (every column while it is not `stored`)."""

    cycle_id: int
    kind: str
    scope: str
    sha256: str
    current: bool
    stored: bool
    changes: dict[str, Any] = field(default_factory=dict)


_SUBMISSION_KEY = ("cycle_id", "kind", "scope", "sha256")


@dataclass
class LoadCache:
    """What the files of one import share, read once: departments, the year's projects, the cycle, earlier
    submissions and the keys of the per-project rows already stored. Each write keeps it up to date, so
    the files of a stage are checked exactly as if each were loaded on its own, one after the other.

    With `deferred`, the submission records and audit entries of the files wait in `unwritten` and
    `received` until `write_received` (see `load_stage`); otherwise each `load` writes its own.

    Only for one session's stage submissions: a base-data load changes departments and projects."""

    deferred: bool = False
    unwritten: list[_Received] = field(default_factory=list)
    received: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    departments: dict[str, DepartmentRef] | None = None
    department_codes: dict[int, str] | None = None
    projects: dict[int, dict[str, ProjectRef]] = field(default_factory=dict)
    projects_named: dict[int, dict[str, ProjectRef | None]] = field(default_factory=dict)
    cycles: dict[int, Cycle] = field(default_factory=dict)
    submissions: dict[tuple[int, str], dict[str, list[_Received]]] = field(default_factory=dict)
    monitoring: dict[int, dict[tuple[int, str], int]] = field(default_factory=dict)
    indicators: dict[int, dict[int, dict[str, str]]] = field(default_factory=dict)
    reviews: dict[int, set[int]] = field(default_factory=dict)
    evaluations: dict[int, dict[tuple[str, str, str], int | None]] = field(default_factory=dict)
    chosen: dict[int, dict[int | None, set[tuple[str, str, str]]]] = field(default_factory=dict)
    publications: dict[int, set[int]] = field(default_factory=dict)


def _departments(session: Session, cache: LoadCache) -> dict[str, DepartmentRef]:
    """code → department, read once."""
    if cache.departments is None:
        table: Any = Department
        query = select(table.id, table.code, table.name)
        cache.departments = {row[1]: DepartmentRef(*row) for row in session.execute(query)}
    return cache.departments


def _department_codes(cache: LoadCache) -> dict[int, str]:
    """department id → code, of the departments `_departments` read into the cache."""
    if cache.department_codes is None:
        departments = cache.departments or {}
        cache.department_codes = {d.id: code for code, d in departments.items()}
    return cache.department_codes


def _projects_by_code(
    session: Session, year: int, codes: Iterable[str], cache: LoadCache | None = None
) -> dict[str, ProjectRef]:
    """The projects of `year` with these codes: a few IN (...) queries rather than one query per row. With a
    cache, only the first file's codes are looked up this way and a second file reads the whole year once,
    so a stage of one workbook (the score sheets) never reads the thousands of projects it does not name."""
    wanted = {code for code in codes if code is not None}
    if cache is None:
        return _projects_named(session, year, wanted)
    known = cache.projects.get(year)
    if known is None:
        named = cache.projects_named.get(year)
        if named is None and len(wanted) <= LOOKUP_CODES:
            found = _projects_named(session, year, wanted)
            cache.projects_named[year] = {code: found.get(code) for code in wanted}
            return found
        if named is not None and wanted <= named.keys():
            return {code: project for code in wanted if (project := named[code]) is not None}
        known = cache.projects[year] = {p.code: p for p in project_refs(session, Project.year == year)}
    return {code: known[code] for code in wanted if code in known}


def _projects_named(session: Session, year: int, codes: set[str]) -> dict[str, ProjectRef]:
    found: dict[str, ProjectRef] = {}
    for batch in _chunks(sorted(codes)):
        found.update((p.code, p) for p in project_refs(session, Project.year == year, col(Project.code).in_(batch)))
    return found


def _cached_keys(session: Session, cache: dict[int, Any], cycle_id: int, load_keys: Callable[[], Any]) -> Any:
    if cycle_id not in cache:
        cache[cycle_id] = load_keys()
    return cache[cycle_id]


def _monitoring_keys(session: Session, cache: LoadCache, cycle_id: int) -> dict[tuple[int, str], int]:
    """(project_id, quarter) → cumulative spending of every monitoring record of the cycle."""
    table: Any = MonitoringRecord

    def load_keys() -> dict[tuple[int, str], int]:
        query = select(table.project_id, table.quarter, table.spent_fen).where(table.cycle_id == cycle_id)
        return {(p, q): spent for p, q, spent in session.exec(query)}

    return _cached_keys(session, cache.monitoring, cycle_id, load_keys)


def _indicator_keys(session: Session, cache: LoadCache, cycle_id: int) -> dict[int, dict[str, str]]:
    """project_id → indicator name → operator of every indicator of the cycle."""
    table: Any = Indicator

    def load_keys() -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = defaultdict(dict)
        query = select(table.project_id, table.name, table.operator).where(table.cycle_id == cycle_id)
        for project_id, name, operator in session.exec(query):
            found[project_id][name] = operator
        return dict(found)

    return _cached_keys(session, cache.indicators, cycle_id, load_keys)


def _evaluation_keys(session: Session, cache: LoadCache, cycle_id: int) -> dict[tuple[str, str, str], int | None]:
    """(kind, object_type, object_code) → department_id of every evaluation of the cycle."""
    table: Any = Evaluation

    def load_keys() -> dict[tuple[str, str, str], int | None]:
        columns = (table.kind, table.object_type, table.object_code, table.department_id)
        query = select(*columns).where(table.cycle_id == cycle_id)
        return {(k, t, c): d for k, t, c, d in session.exec(query)}

    return _cached_keys(session, cache.evaluations, cycle_id, load_keys)


def _chosen_projects(session: Session, cache: LoadCache, cycle_id: int) -> dict[int | None, set[tuple[str, str, str]]]:
    """department_id → keys of its departmental evaluations ("department" kind) of the cycle."""
    if cycle_id not in cache.chosen:
        chosen: dict[int | None, set[tuple[str, str, str]]] = defaultdict(set)
        for key, owner in _evaluation_keys(session, cache, cycle_id).items():
            if key[0] == "department":
                chosen[owner].add(key)
        cache.chosen[cycle_id] = chosen
    return cache.chosen[cycle_id]


def _evaluations(
    session: Session, cycle_id: int, kinds: Sequence[str], codes: Iterable[str]
) -> dict[tuple[str, str, str], Evaluation]:
    """Existing evaluations of the cycle keyed by (kind, object_type, object_code)."""
    found: dict[tuple[str, str, str], Evaluation] = {}
    for batch in _chunks(sorted({code for code in codes if code is not None})):
        query = select(Evaluation).where(
            Evaluation.cycle_id == cycle_id, col(Evaluation.kind).in_(kinds), col(Evaluation.object_code).in_(batch)
        )
        for evaluation in session.exec(query):
            found[(evaluation.kind, evaluation.object_type, evaluation.object_code)] = evaluation
    return found


def _by_project(session: Session, model: type[M], cycle_id: int, project_ids: Iterable[int | None]) -> list[M]:
    """Rows of a per-project table (Indicator, MonitoringRecord, …) of the cycle for these projects."""
    rows: list[M] = []
    for batch in _chunks(sorted({i for i in project_ids if i is not None})):
        table: Any = model
        rows.extend(session.exec(select(model).where(table.cycle_id == cycle_id, col(table.project_id).in_(batch))))
    return rows


def _project_check(
    problems: _Problems,
    sheet: str,
    row: ParsedRow,
    year: int,
    departments: dict[str, DepartmentRef],
    projects: dict[str, ProjectRef],
    department_codes: dict[int, str],
) -> tuple[DepartmentRef | None, ProjectRef | None]:
    """The row's department and project, with a problem for an unknown one or a project of another department."""
    code = row.values.get("department_code")
    department = departments.get(code) if code else None
    if code and department is None:
        problems.add(f"部门编码「{code}」不存在（请先在基础数据中登记该部门）", sheet, row, "department_code")
    project_code = row.values.get("project_code")
    project = projects.get(project_code) if project_code else None
    if project_code and project is None:
        problems.add(f"项目「{project_code}」不是 {year} 年度的项目（基础数据中没有）", sheet, row, "project_code")
    if department is not None and project is not None and project.department_id != department.id:
        owner = department_codes.get(project.department_id, "?")
        problems.add(f"项目 {project.code} 属于部门 {owner}，不属于 {department.code}", sheet, row, "project_code")
        return department, None
    return department, project


def _open_cycle(session: Session, year: int, problems: _Problems, cache: LoadCache) -> Cycle:
    cycle = cache.cycles.get(year) or session.exec(select(Cycle).where(Cycle.year == year)).first()
    if cycle is None or cycle.status == HISTORICAL:
        raise problems.fail(f"没有 {year} 年度的绩效管理周期，请先启动周期")
    cache.cycles[year] = cycle
    return cycle


def _all_rows(parsed: ParsedWorkbook) -> Iterator[tuple[str, ParsedRow]]:
    for sheet, rows in parsed.sheets.items():
        for row in rows:
            yield sheet, row


def department_scope(parsed: ParsedWorkbook) -> str:
    """The one department code every row of a workbook names, or "*" (none, or several)."""
    found: set[Any] = set()
    for rows in parsed.sheets.values():
        found.update(map(dict.get, [row.values for row in rows], itertools.repeat("department_code")))
    codes = {str(code) for code in found if code}
    return next(iter(codes)) if len(codes) == 1 else "*"


def arrival(path: Path, modified: float | None = None) -> datetime:
    """When a file came into the submissions folder: its modification time (`modified`, as it was when the file
    was read, else as it is now), never later than now.

    A form put in the folder on time stays on time however late the run that imports it."""
    moment = now()
    try:
        stamp = datetime.fromtimestamp(path.stat().st_mtime if modified is None else modified, SHANGHAI)
    except (OSError, ValueError, OverflowError):
        return moment
    return min(stamp, moment)


# ------------------------------------------------------------------------------------------------ load


Writer = Callable[[], list[str]]

#: The audit action of a base data import; its payload's `rows` counts the workbook's data rows.
BASE_DATA_IMPORTED = "base_data.imported"


def load(
    session: Session,
    parsed: ParsedWorkbook,
    *,
    year: int,
    quarter: str | None = None,
    reader_problems: Sequence[ImportProblem] = (),
    cache: LoadCache | None = None,
    check_only: bool = False,
) -> LoadResult:
    """Check every cross-reference of a parsed workbook, then write it (unless `check_only`); the caller commits.

    `reader_problems` are the cell and header problems `parse_workbook` found: the cross-references are
    still checked, and one `ImportRejected` lists them all. Nothing is written when there is any problem.
    The files of one stage share a `cache` (same session); a file loaded alone gets its own.
    """
    cache = cache if cache is not None else LoadCache()
    problems = _Problems(parsed, reader_problems)
    if parsed.rows == 0:
        if problems.items:
            raise problems.rejected()
        raise problems.fail("工作簿中没有数据行（只有表头）")
    problems.codes(parsed)
    if parsed.kind == "base":
        return _load_base(session, parsed, year, problems)
    if parsed.kind not in _CHECKERS:
        raise problems.fail(f"未知的表格类型 {parsed.kind!r}")
    cycle = _open_cycle(session, year, problems, cache)
    assert cycle.id is not None
    scope = department_scope(parsed) if SPECS[parsed.kind].per_department else "*"
    if parsed.kind == "monitoring":
        quarter = _monitoring_quarter(parsed, quarter, problems)
        scope = f"{quarter}:{scope}"
    received = _submissions(session, cache, cycle.id, parsed.kind)
    previous = list(received[scope])
    same = next((s for s in previous if s.sha256 == parsed.content_digest), None) if previous else None
    if same is not None and same.current and not problems.items:
        return LoadResult(
            parsed.kind,
            parsed.rows,
            skipped=True,
            scope=scope,
            messages=[f"{parsed.path.name} 与已导入的内容相同"],
            sha256=parsed.sha256,
        )
    arrived = arrival(parsed.path, parsed.modified)
    write = _CHECKERS[parsed.kind](session, parsed, cycle, year, quarter, problems, cache)
    problems.raise_if_any()
    if check_only:
        return LoadResult(parsed.kind, parsed.rows, skipped=True, scope=scope, sha256=parsed.sha256)
    digest = parsed.content_digest  # a dry run with nothing received before needs none
    for submission in previous:
        if submission.current and submission is not same:
            _change(cache, submission, current=False)
    if same is None:
        same = _Received(cycle.id, parsed.kind, scope, digest, current=False, stored=False)
        received[scope].append(same)
    record = {
        "cycle_id": cycle.id,
        "kind": parsed.kind,
        "scope": scope,
        "source_name": parsed.path.name[:500],
        "sha256": digest,
        "rows": parsed.rows,
        "current": True,
        "received_at": arrived,
    }
    _change(cache, same, **record)
    messages = write()
    cache.received.append(
        ("import", "submission.received", f"submission:{same.kind}:{same.scope}:{digest[:16]}", record)
    )
    if not cache.deferred:
        write_received(session, cache)
    superseded = sum(1 for s in previous if s is not same)
    if superseded:
        messages.append(f"替换了此前提交的版本（共 {superseded} 个历史版本保留）")
    return LoadResult(
        parsed.kind, parsed.rows, scope=scope, messages=messages, arrived_at=arrived, sha256=parsed.sha256
    )


def load_stage(
    session: Session,
    workbooks: Iterable[ParsedWorkbook | list[ImportProblem]],
    *,
    year: int,
    quarter: str | None = None,
    loaded: Callable[[LoadResult], object] | None = None,
    each: Callable[[LoadResult | Refused], object] | None = None,
) -> list[LoadResult | Refused]:
    """`load` of each workbook in order, as one after the other, with their submission records and audit entries
    written together after the last (fewer statements); `loaded` follows each file that loaded, `each` every file's
    outcome, in order, as soon as it is known (the files after it may still be being read). The caller commits.

    Each file is loaded or refused on its own, all or nothing: one department's bad form does not stop the
    others. `workbooks` may also hold the problems that refused a file as it was read (`read_outcomes`), so that
    files are loaded while later ones are still being read. The outcome of each file, in the files' order, is
    its `LoadResult` or, when it was refused, every problem found in it (`Refused`)."""
    cache = LoadCache(deferred=True)
    outcomes: list[LoadResult | Refused] = []
    for parsed in workbooks:
        if isinstance(parsed, list):
            outcomes.append(Refused(parsed))
        else:
            try:
                result = load(session, parsed, year=year, quarter=quarter, cache=cache)
            except ImportRejected as exc:  # checked before anything of it was written: the others go on
                spec = SPECS.get(parsed.kind)
                scope = department_scope(parsed) if spec is not None and spec.per_department else "*"
                outcomes.append(Refused(exc.problems, parsed.sha256, scope))
            else:
                outcomes.append(result)
                if loaded is not None:
                    loaded(result)
        if each is not None:
            each(outcomes[-1])
    write_received(session, cache)
    refresh_statistics(session)
    return outcomes


#: What `_submissions` reads, built once: every file of a stage, and every upload's checks, run it.
_RECEIVED = select(Submission.scope, Submission.sha256, Submission.current).where(
    col(Submission.cycle_id) == bindparam("cycle"), col(Submission.kind) == bindparam("kind")
)


def _submissions(session: Session, cache: LoadCache, cycle_id: int, kind: str) -> dict[str, list[_Received]]:
    """scope → the submissions of one kind received in the cycle, read once."""
    if (cycle_id, kind) not in cache.submissions:
        by_scope: dict[str, list[_Received]] = defaultdict(list)
        for scope, sha256, current in session.exec(_RECEIVED, params={"cycle": cycle_id, "kind": kind}):
            by_scope[scope].append(_Received(cycle_id, kind, scope, sha256, current, stored=True))
        cache.submissions[(cycle_id, kind)] = by_scope
    return cache.submissions[(cycle_id, kind)]


def _change(cache: LoadCache, submission: _Received, **changes: Any) -> None:
    if not submission.changes:
        cache.unwritten.append(submission)
    submission.changes.update(changes)
    submission.current = submission.changes.get("current", submission.current)


def write_received(session: Session, cache: LoadCache) -> None:
    """Write the submission records and audit entries the loads with this cache left waiting."""
    unwritten, cache.unwritten = cache.unwritten, []
    update_rows(
        session,
        Submission,
        _SUBMISSION_KEY,
        [{**{k: getattr(s, k) for k in _SUBMISSION_KEY}, **s.changes} for s in unwritten if s.stored],
    )
    insert_rows(session, Submission, [s.changes for s in unwritten if not s.stored])
    for submission in unwritten:
        submission.stored = True
        submission.changes = {}
    entries, cache.received = cache.received, []
    audit.append_many(session, entries)


def import_file(
    path: Path, *, year: int, kind: str | None = None, quarter: str | None = None, url: str | None = None
) -> LoadResult:
    """Read, validate and load one workbook in a single transaction: all of it, or nothing.

    The year's policy sets the limits the file is checked against before it is read (`imports:`).
    """
    from perfcycle.policy import import_limits

    limits = import_limits(year).reader_limits()
    parsed, reader_problems = parse_workbook(Path(path), kind, **limits)
    if parsed is None:
        raise ImportRejected(reader_problems)
    with session_scope(url) as session:
        return load(session, parsed, year=year, quarter=quarter, reader_problems=reader_problems)


# ------------------------------------------------------------------------------------------------ base


def _event_fields(row: ParsedRow) -> dict[str, Any]:
    v = row.values
    return {
        "when": v.get("when") or "",
        "title": v.get("title") or "",
        "detail": v.get("detail") or "",
        "rank": v.get("rank"),
    }


def _event_problems(row: ParsedRow, year: int) -> list[str]:
    """What a 工作记事 row lacks or gets wrong (checked before anything is written)."""
    from perfcycle.events import EventError, event_problems, normal_kind, parse_when

    fields = _event_fields(row)
    try:
        kind = normal_kind(row.values.get("kind") or "")
        when = parse_when(fields["when"], year) if fields["when"] else None
    except EventError as exc:
        return [str(exc)]
    return event_problems(kind, when, " ".join(fields["title"].split()), fields["detail"].strip(), fields["rank"])


def _record_event(session: Session, row: ParsedRow, year: int, source: str) -> None:
    from perfcycle.events import record_event

    record_event(session, year, row.values["kind"], source=source[:500], **_event_fields(row))


def _load_base(session: Session, parsed: ParsedWorkbook, year: int, problems: _Problems) -> LoadResult:
    sheets = parsed.sheets
    dept_rows, project_rows, policy_rows = sheets["部门"], sheets["项目"], sheets["财政政策"]
    sample_rows, evaluation_rows = sheets["历年抽查"], sheets["历年评价"]
    event_rows = sheets.get("工作记事", [])
    registered: dict[str, int] = dict(session.exec(select(Department.code, Department.id)).all())  # type: ignore[arg-type]
    known = set(registered) | {r.values["code"] for r in dept_rows if r.values["code"] is not None}
    for row in dept_rows:
        for name in ("code", "name", "contact", "email", "webhook", "head", "head_email"):
            problems.text_fits("部门", row, name, Department, name)
    for row in project_rows:
        if row.values["department_code"] is not None and row.values["department_code"] not in known:
            problems.add(
                f"部门编码「{row.values['department_code']}」不存在（既不在「部门」工作表中，也未登记）",
                "项目",
                row,
                "department_code",
            )
        problems.text_fits("项目", row, "code", Project, "code")
        problems.text_fits("项目", row, "name", Project, "name")
    for row in policy_rows:
        code = row.values.get("department_code")
        if code and code not in known:
            problems.add(f"主管部门编码「{code}」不存在", "财政政策", row, "department_code")
        problems.text_fits("财政政策", row, "code", FiscalPolicy, "code")
        problems.text_fits("财政政策", row, "name", FiscalPolicy, "name")

    cycles = {c.year: c for c in session.exec(select(Cycle).where(Cycle.year < year))}
    run_years: set[int] = set()
    history: list[tuple[str, ParsedRow]] = [("历年抽查", r) for r in sample_rows] + [
        ("历年评价", r) for r in evaluation_rows
    ]
    for sheet, row in history:
        history_year = row.values["year"]
        if history_year is None:
            continue
        if history_year >= year:
            problems.add(f"历年记录的年度必须早于 {year}（本次导入的年度）", sheet, row, "year")
        elif history_year in cycles and cycles[history_year].status != HISTORICAL:
            run_years.add(history_year)
    for row in sample_rows:
        if row.values["department_code"] is not None and row.values["department_code"] not in known:
            problems.add(f"部门编码「{row.values['department_code']}」不存在", "历年抽查", row, "department_code")
    for row in evaluation_rows:
        problems.score("历年评价", row, "score")
        problems.text_fits("历年评价", row, "object_code", Evaluation, "object_code")
    for row in event_rows:
        for problem in _event_problems(row, year):
            problems.add(problem, "工作记事", row, "kind")
    problems.raise_if_any()

    messages: list[str] = []
    departments = [
        {
            "code": r.values["code"],
            "name": r.values["name"],
            **{name: r.values[name] or "" for name in ("contact", "email", "webhook", "head", "head_email")},
        }
        for r in dept_rows
    ]
    update_rows(session, Department, ("code",), [d for d in departments if d["code"] in registered])
    insert_rows(session, Department, [d for d in departments if d["code"] not in registered])
    ids: dict[str, int | None] = dict(session.exec(select(Department.code, Department.id)).all())
    stored: dict[str, int] = dict(
        session.exec(select(Project.code, Project.id).where(Project.year == year)).all()  # type: ignore[arg-type]
    )
    projects = [
        {
            "year": year,
            "code": v["code"],
            "department_id": ids[v["department_code"]],
            "name": v["name"],
            "type": v["type"],
            "attribute": v["attribute"],
            "budget_fen": wan_to_fen(v["budget_wan"]),
            "request_fen": wan_to_fen(v["request_wan"]),
            "policy_related": v["policy_related"],
            "high_attention": v["high_attention"],
        }
        for v in (r.values for r in project_rows)
    ]
    update_rows(session, Project, ("year", "code"), [p for p in projects if p["code"] in stored])
    insert_rows(session, Project, [p for p in projects if p["code"] not in stored])
    untouched = len(set(stored) - {p["code"] for p in projects})
    if untouched:
        messages.append(f"数据库中另有 {untouched} 个 {year} 年度项目不在本文件中，保持不变")
    # fiscal policies
    policies = {p.code: p for p in session.exec(select(FiscalPolicy).where(FiscalPolicy.year == year))}
    for row in policy_rows:
        v = row.values
        policy = policies.get(v["code"]) or FiscalPolicy(year=year, code=v["code"], name=v["name"])
        policy.name = v["name"]
        policy.department_id = ids[v["department_code"]] if v["department_code"] else None
        policy.funds_fen = wan_to_fen(v["funds_wan"])
        session.add(policy)
    # history
    if run_years:
        messages.append(
            f"{'、'.join(map(str, sorted(run_years)))} 年度的周期由本系统运行，历年记录中这些年度的行已忽略"
        )
    sample_rows = [r for r in sample_rows if r.values["year"] not in run_years]
    evaluation_rows = [r for r in evaluation_rows if r.values["year"] not in run_years]
    history_years = {r.values["year"] for r in sample_rows} | {r.values["year"] for r in evaluation_rows}
    for history_year in sorted(history_years):
        if history_year not in cycles:
            cycles[history_year] = Cycle(
                year=history_year,
                budget_year=history_year + 2,
                status=HISTORICAL,
                data_source=parsed.path.name[:500],
            )
            session.add(cycles[history_year])
    session.flush()
    _load_history_samples(session, sample_rows, cycles, ids)
    _load_history_evaluations(session, evaluation_rows, cycles, ids)
    for row in event_rows:
        _record_event(session, row, year, parsed.path.name)
    session.flush()
    counted = {
        "departments": len(dept_rows),
        "projects": len(project_rows),
        "policies": len(policy_rows),
        "history_samples": len(sample_rows),
        "history_evaluations": len(evaluation_rows),
        "events": len(event_rows),
    }
    _record_base_data(session, parsed, year, counted)
    messages.insert(
        0,
        f"部门 {len(dept_rows)} 个、项目 {len(project_rows)} 个、财政政策 {len(policy_rows)} 项、"
        f"历年抽查 {len(sample_rows)} 行、历年评价 {len(evaluation_rows)} 行"
        + (f"、工作记事 {len(event_rows)} 条" if event_rows else ""),
    )
    refresh_statistics(session)
    return LoadResult("base", parsed.rows, messages=messages)


def _record_base_data(session: Session, parsed: ParsedWorkbook, year: int, counted: dict[str, int]) -> None:
    """Audit which base data a year was run on: once per distinct content, so a rerun of the cycle adds nothing."""
    subject = f"base_data:{year}:{parsed.content_digest[:16]}"
    entries: Any = AuditEntry
    if session.exec(select(entries.id).where(entries.action == BASE_DATA_IMPORTED, entries.subject == subject)).first():
        return
    payload = {"file": parsed.path.name, "sha256": parsed.sha256, "rows": parsed.rows, **counted}
    audit.append(session, "import", BASE_DATA_IMPORTED, subject, payload)


def _load_history_samples(
    session: Session, rows: list[ParsedRow], cycles: dict[int, Cycle], ids: dict[str, int | None]
) -> None:
    """The file is the record of each year it lists: members are made to match it exactly."""
    wanted: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        department_id = ids[row.values["department_code"]]
        assert department_id is not None
        wanted[row.values["year"]].add(department_id)
    for history_year, department_ids in wanted.items():
        cycle_id = cycles[history_year].id
        assert cycle_id is not None
        sample = session.exec(select(Sample).where(Sample.cycle_id == cycle_id)).first()
        if sample is None:
            sample = Sample(cycle_id=cycle_id, imported=True, algorithm="imported")
        sample.size = len(department_ids)
        session.add(sample)
        session.flush()
        members = {
            m.department_id: m for m in session.exec(select(SampleMember).where(SampleMember.sample_id == sample.id))
        }
        for department_id, member in members.items():
            if department_id not in department_ids:
                session.delete(member)
        for department_id in sorted(department_ids - set(members)):
            session.add(SampleMember(sample_id=sample.id, department_id=department_id))  # type: ignore[arg-type]


def _load_history_evaluations(
    session: Session, rows: list[ParsedRow], cycles: dict[int, Cycle], ids: dict[str, int | None]
) -> None:
    """Earlier years' evaluation results; for each year listed, the file replaces what was imported before."""
    by_year: dict[int, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        by_year[row.values["year"]].append(row)
    for history_year, year_rows in by_year.items():
        cycle_id = cycles[history_year].id
        assert cycle_id is not None
        table: Any = Evaluation
        query = select(table.kind, table.object_type, table.object_code, table.id).where(table.cycle_id == cycle_id)
        existing: dict[tuple[str, str, str], int] = {(k, t, c): i for k, t, c, i in session.exec(query)}
        project_codes = [r.values["object_code"] for r in year_rows if r.values["object_type"] == "项目"]
        owners = {code: p.department_id for code, p in _projects_by_code(session, history_year, project_codes).items()}
        seen: set[tuple[str, str, str]] = set()
        changed: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        for row in year_rows:
            v = row.values
            key = (EVALUATION_KIND[v["kind"]], OBJECT_TYPE_KEYS[v["object_type"]], v["object_code"])
            seen.add(key)
            values: dict[str, Any] = {
                "score": Decimal(v["score"]).quantize(TWO_PLACES, rounding=ROUND_HALF_UP),
                "grade": "",
            }
            if key[1] == "department":
                values["department_id"] = ids.get(key[2])
            elif key[1] == "project":
                values["department_id"] = owners.get(key[2])
            if key in existing:
                changed.append({"id": existing[key], **values})
            else:
                added.append(
                    {"cycle_id": cycle_id, "kind": key[0], "object_type": key[1], "object_code": key[2]} | values
                )
        update_by_id(session, Evaluation, changed)
        insert_rows(session, Evaluation, added)
        gone = sorted(i for key, i in existing.items() if key not in seen)
        for batch in _chunks(gone):
            session.execute(delete(table.__table__).where(table.__table__.c.id.in_(batch)))


# ------------------------------------------------------------------------------------------- submissions


def _monitoring_quarter(parsed: ParsedWorkbook, quarter: str | None, problems: _Problems) -> str:
    """The one quarter a monitoring workbook reports; a row that disagrees is a problem (checked later)."""
    sheet = "项目监控"
    rows = [row for row in parsed.sheets[sheet] if row.values["quarter"] is not None]
    if quarter is not None and quarter not in QUARTERS:
        raise problems.fail(f"季度应为 {'、'.join(QUARTERS)} 之一，不是 {quarter!r}")
    if quarter is None and not rows:
        raise problems.rejected()  # every 季度 cell was refused already
    expected = quarter or str(rows[0].values["quarter"])
    for row in rows:
        if row.values["quarter"] != expected:
            if quarter is not None:
                reason = f"季度应为 {expected}（本次导入的季度），不是 {row.values['quarter']}"
            else:
                reason = f"一个监控表只能填报一个季度：第 {rows[0].row} 行是 {expected}，本行是 {row.values['quarter']}"
            problems.add(reason, sheet, row, "quarter")
    return expected


def _check_targets(
    session: Session,
    parsed: ParsedWorkbook,
    cycle: Cycle,
    year: int,
    quarter: str | None,
    problems: _Problems,
    cache: LoadCache,
) -> Writer:
    sheet = "绩效指标"
    rows = parsed.sheets[sheet]
    assert cycle.id is not None
    cycle_id = cycle.id
    departments = _departments(session, cache)
    department_codes = _department_codes(cache)
    projects = _projects_by_code(session, year, (r.values["project_code"] for r in rows), cache)
    planned: list[tuple[Any, ...]] = []  # `_INDICATOR_FIELDS` of each indicator
    for row in rows:
        v = row.values
        _, project = _project_check(problems, sheet, row, year, departments, projects, department_codes)
        target_value, target_text, unit = _target(problems, sheet, row)
        weight = v["weight"]
        if weight is not None:
            if not 0 <= weight <= 100:
                problems.add(f"权重应在 0 到 100 之间: {weight}", sheet, row, "weight")
            weight = Decimal(weight).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
        for name, attr in (("name", "name"), ("unit", "unit")):
            problems.text_fits(sheet, row, name, Indicator, attr)
        if project is None:
            continue
        planned.append(
            (
                cycle_id,
                project.id,
                v["level1"],
                v["level2"],
                v["name"],
                v["operator"],
                target_value,
                target_text,
                unit,
                weight,
            )
        )

    def write() -> list[str]:
        project_ids = sorted({indicator[1] for indicator in planned})
        known = _indicator_keys(session, cache, cycle_id)
        table: Any = Indicator.__table__  # type: ignore[attr-defined]
        for batch in _chunks([i for i in project_ids if known.get(i)]):  # only projects with indicators to replace
            session.execute(delete(table).where(table.c.cycle_id == cycle_id, table.c.project_id.in_(batch)))
        insert_tuples(session, Indicator, _INDICATOR_FIELDS, planned)
        for project_id in project_ids:
            known[project_id] = {}
        for _, project_id, _, _, name, operator, *_ in planned:
            known[project_id][name] = operator
        if cycle_id not in cache.reviews:
            reviews: Any = TargetReview
            cache.reviews[cycle_id] = set(session.exec(select(reviews.project_id).where(reviews.cycle_id == cycle_id)))
        reviewed = cache.reviews[cycle_id]
        stamp = now()
        update_tuples(
            session,
            TargetReview,
            ("status", "reasons", "reviewed_at"),
            ("cycle_id", "project_id"),
            [("submitted", "", stamp, cycle_id, i) for i in project_ids if i in reviewed],
        )
        insert_tuples(
            session,
            TargetReview,
            ("cycle_id", "project_id", "status", "reasons", "reviewed_at"),
            [(cycle_id, i, "submitted", "", stamp) for i in project_ids if i not in reviewed],
        )
        reviewed.update(project_ids)
        return [f"{len(project_ids)} 个项目的绩效指标 {len(planned)} 条"]

    return write


_INDICATOR_FIELDS = (
    "cycle_id",
    "project_id",
    "level1",
    "level2",
    "name",
    "operator",
    "target_value",
    "target_text",
    "unit",
    "weight",
)
_INDICATOR_KEY = ("cycle_id", "project_id", "name")


def _target(problems: _Problems, sheet: str, row: ParsedRow) -> tuple[Decimal | None, str, str]:
    """(target_value, target_text, unit) of an indicator row: a number for quantitative indicators."""
    v = row.values
    text = (v["target"] or "").strip()
    unit = v["unit"] or ""
    if not text:
        return None, "", unit
    if v["operator"] is None:
        return None, text, unit  # the 运算符 cell was refused already; its target cannot be judged
    if v["operator"] == QUALITATIVE:
        if len(text) > (_max_length(Indicator, "target_text") or len(text)):
            problems.add("内容过长", sheet, row, "target")
        return None, text, unit
    number_text = text.replace(",", "").replace("，", "")
    percent = number_text.endswith(("%", "％"))
    if percent:
        number_text = number_text[:-1]
    try:
        value = Decimal(number_text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or abs(value) >= MAX_INDICATOR_VALUE:
        problems.add(f"定量指标（运算符 {v['operator']}）的目标值必须是数字: {text!r}", sheet, row, "target")
        return None, "", unit
    if percent and not unit:
        unit = "%"
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP), "", unit


def _check_monitoring(
    session: Session,
    parsed: ParsedWorkbook,
    cycle: Cycle,
    year: int,
    quarter: str | None,
    problems: _Problems,
    cache: LoadCache,
) -> Writer:
    sheet = "项目监控"
    rows = parsed.sheets[sheet]
    assert cycle.id is not None and quarter is not None
    cycle_id = cycle.id
    departments = _departments(session, cache)
    department_codes = _department_codes(cache)
    projects = _projects_by_code(session, year, (r.values["project_code"] for r in rows), cache)
    records = _monitoring_keys(session, cache, cycle_id)
    position = QUARTERS.index(quarter)
    planned: list[tuple[ProjectRef, ParsedRow, int]] = []
    for row in rows:
        v = row.values
        _, project = _project_check(problems, sheet, row, year, departments, projects, department_codes)
        if project is None or v["spent_wan"] is None:
            continue
        spent = wan_to_fen(v["spent_wan"])
        if spent > project.budget_fen:
            problems.add(
                f"累计支出超过年度预算（累计支出 {fmt_wan(spent)} 万元，年度预算 {fmt_wan(project.budget_fen)} 万元）",
                sheet,
                row,
                "spent_wan",
            )
        if v["quarter"] != quarter:
            continue  # reported as a wrong quarter already; comparing with other quarters would only add noise
        earlier = [(q, records[(project.id, q)]) for q in QUARTERS[:position] if (project.id, q) in records]
        later = [(q, records[(project.id, q)]) for q in QUARTERS[position + 1 :] if (project.id, q) in records]
        if earlier and spent < earlier[-1][1]:
            problems.add(
                f"累计支出 {fmt_wan(spent)} 万元少于 {earlier[-1][0]} 已报的 {fmt_wan(earlier[-1][1])} 万元；"
                "累计支出不能减少",
                sheet,
                row,
                "spent_wan",
            )
        if later and spent > later[0][1]:
            problems.add(
                f"累计支出 {fmt_wan(spent)} 万元多于 {later[0][0]} 已报的 {fmt_wan(later[0][1])} 万元；"
                "累计支出不能减少",
                sheet,
                row,
                "spent_wan",
            )
        planned.append((project, row, spent))

    def write() -> list[str]:
        figures: dict[int, tuple[Any, ...]] = {}  # project id → `_MONITORING_FIGURES`, the last row's
        for project, row, spent in planned:
            v = row.values
            progress = Decimal(v["target_progress"]).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
            # the lights are the monitoring stage's to compute from the new figures
            figures[project.id] = (spent, progress, v["likelihood"], v["reason"] or "", None, "", "", "")
        key = ("cycle_id", "project_id", "quarter")
        stored = [(*f, cycle_id, p, quarter) for p, f in figures.items() if (p, quarter) in records]
        update_tuples(session, MonitoringRecord, _MONITORING_FIGURES, key, stored)
        added = [(cycle_id, p, quarter, *f) for p, f in figures.items() if (p, quarter) not in records]
        insert_tuples(session, MonitoringRecord, (*key, *_MONITORING_FIGURES), added)
        records.update({(p, quarter): f[0] for p, f in figures.items()})
        return [f"{quarter} 监控数据 {len(planned)} 个项目"]

    return write


_MONITORING_FIGURES = (
    "spent_fen",
    "target_progress",
    "likelihood",
    "reason",
    "execution_progress",
    "execution_light",
    "target_light",
    "light",
)


def _check_self_evaluation(
    session: Session,
    parsed: ParsedWorkbook,
    cycle: Cycle,
    year: int,
    quarter: str | None,
    problems: _Problems,
    cache: LoadCache,
) -> Writer:
    assert cycle.id is not None
    cycle_id = cycle.id
    sheets = parsed.sheets
    departments = _departments(session, cache)
    department_codes = _department_codes(cache)
    codes = [r.values["project_code"] for r in sheets["指标完成"] + sheets["项目自评"]]
    codes += [r.values["evaluated_project_code"] for r in sheets["部门自评"]]
    projects = _projects_by_code(session, year, codes, cache)
    indicators = _indicator_keys(session, cache, cycle_id)

    actuals: list[tuple[tuple[int, str], ParsedRow]] = []
    sheet = "指标完成"
    for row in sheets[sheet]:
        v = row.values
        _, project = _project_check(problems, sheet, row, year, departments, projects, department_codes)
        if project is None or v["name"] is None:
            continue
        indicator = (project.id, v["name"])
        operator = indicators.get(project.id, {}).get(v["name"])
        if operator is None:
            problems.add(
                f"项目 {project.code} 没有名为「{v['name']}」的绩效指标（须与申报的绩效目标一致）", sheet, row, "name"
            )
            continue
        if operator == QUALITATIVE and v["achievement"] is None and "achievement" not in row.errors:
            problems.add("定性指标必须填写完成情况", sheet, row, "achievement")
        elif operator != QUALITATIVE and v["actual"] is None and "actual" not in row.errors:
            problems.add("定量指标必须填写实际值", sheet, row, "actual")
        if v["actual"] is not None and abs(v["actual"]) >= MAX_INDICATOR_VALUE:
            problems.add(f"实际值过大: {v['actual']}", sheet, row, "actual")
        actuals.append((indicator, row))

    claims: list[tuple[ProjectRef, Decimal | None, str]] = []
    sheet = "项目自评"
    for row in sheets[sheet]:
        _, project = _project_check(problems, sheet, row, year, departments, projects, department_codes)
        claimed = problems.score(sheet, row, "claimed_score")
        if project is not None:
            claims.append((project, claimed, row.values["remark"] or ""))

    overall: list[tuple[DepartmentRef, Decimal | None, ProjectRef | None, Decimal | None, Any]] = []
    sheet = "部门自评"
    for row in sheets[sheet]:
        v = row.values
        department = departments.get(v["department_code"])
        if department is None and v["department_code"] is not None:
            problems.add(f"部门编码「{v['department_code']}」不存在", sheet, row, "department_code")
        evaluated = projects.get(v["evaluated_project_code"])
        if evaluated is None and v["evaluated_project_code"] is not None:
            problems.add(
                f"项目「{v['evaluated_project_code']}」不是 {year} 年度的项目", sheet, row, "evaluated_project_code"
            )
        elif evaluated is not None and department is not None and evaluated.department_id != department.id:
            owner = department_codes.get(evaluated.department_id, "?")
            problems.add(
                f"项目 {evaluated.code} 属于部门 {owner}，不属于 {department.code}",
                sheet,
                row,
                "evaluated_project_code",
            )
        claimed = problems.score(sheet, row, "claimed_score")
        score = problems.score(sheet, row, "department_evaluation_score")
        if department is not None:
            overall.append((department, claimed, evaluated, score, v["published_on"]))

    def write() -> list[str]:
        filled: dict[tuple[int, str], tuple[Any, ...]] = {}  # (actual, achievement) then the indicator's key
        for (project_id, name), row in actuals:
            actual = row.values["actual"]
            if actual is not None:
                actual = Decimal(actual).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
            filled[(project_id, name)] = (actual, row.values["achievement"] or "", cycle_id, project_id, name)
        update_tuples(session, Indicator, ("actual", "achievement"), _INDICATOR_KEY, list(filled.values()))
        existing = _evaluation_keys(session, cache, cycle_id)
        chosen = _chosen_projects(session, cache, cycle_id)
        changes: dict[tuple[str, str, str], dict[str, Any]] = {}

        def upsert(kind: str, object_type: str, code: str, department_id: int | None, **values: Any) -> None:
            change = changes.setdefault(
                (kind, object_type, code),
                {"cycle_id": cycle_id, "kind": kind, "object_type": object_type, "object_code": code},
            )
            change.update(department_id=department_id, **values)

        cleared = {"score": None, "grade": "", "flagged": False, "flag_reason": ""}
        for project, claimed, remark in claims:
            upsert(
                "self",
                "project",
                project.code,
                project.department_id,
                claimed_score=claimed,
                findings=remark,
                **cleared,
            )
        stale: set[tuple[str, str, str]] = set()
        published: dict[int, Any] = {}
        for department, claimed, evaluated, score, published_on in overall:
            assert department.id is not None
            upsert("self", "department", department.code, department.id, claimed_score=claimed, **cleared)
            if evaluated is not None:
                upsert(
                    "department",
                    "project",
                    evaluated.code,
                    department.id,
                    score=score,
                    grade="",
                    evaluator=department.name[:100],
                )
            # the department chose another project: the workbook holds one per department
            kept = evaluated.code if evaluated else ""
            owned = chosen.get(department.id, set()) | {
                k for k, c in changes.items() if k[0] == "department" and c["department_id"] == department.id
            }
            stale.update(k for k in owned if k[2] != kept)
            if published_on is not None:
                published[department.id] = published_on
        key = ("cycle_id", "kind", "object_type", "object_code")
        rows = [change for k, change in changes.items() if k not in stale]
        update_rows(
            session, Evaluation, key, [r for r in rows if (r["kind"], r["object_type"], r["object_code"]) in existing]
        )
        insert_rows(
            session, Evaluation, [r for r in rows if (r["kind"], r["object_type"], r["object_code"]) not in existing]
        )
        for r in rows:
            changed = (r["kind"], r["object_type"], r["object_code"])
            if changed[0] == "department":
                chosen[existing.get(changed)].discard(changed)
                chosen[r["department_id"]].add(changed)
            existing[changed] = r["department_id"]
        table: Any = Evaluation.__table__  # type: ignore[attr-defined]
        for kind, object_type, code in sorted(stale):
            session.execute(
                delete(table).where(
                    table.c.cycle_id == cycle_id,
                    table.c.kind == kind,
                    table.c.object_type == object_type,
                    table.c.object_code == code,
                )
            )
            if (kind, object_type, code) in existing:
                chosen[existing.pop((kind, object_type, code))].discard((kind, object_type, code))
        if published:
            if cycle_id not in cache.publications:
                query = select(Publication.department_id).where(Publication.cycle_id == cycle_id)
                cache.publications[cycle_id] = set(session.exec(query))
            known = cache.publications[cycle_id]
            dates = [{"cycle_id": cycle_id, "department_id": d, "published_on": day} for d, day in published.items()]
            update_rows(
                session, Publication, ("cycle_id", "department_id"), [r for r in dates if r["department_id"] in known]
            )
            insert_rows(session, Publication, [r for r in dates if r["department_id"] not in known])
            known.update(published)
        return [f"指标完成 {len(actuals)} 条、项目自评 {len(claims)} 个、部门自评 {len(overall)} 个"]

    return write


def _clear_result(evaluation: Evaluation) -> None:
    """New self-evaluation figures invalidate an earlier computed score; the stage computes it again."""
    evaluation.score = None
    evaluation.grade = ""
    evaluation.flagged = False
    evaluation.flag_reason = ""


def _check_panel_scores(
    session: Session,
    parsed: ParsedWorkbook,
    cycle: Cycle,
    year: int,
    quarter: str | None,
    problems: _Problems,
    cache: LoadCache,
) -> Writer:
    from perfcycle.cycle_context import cycle_policy
    from perfcycle.rules.ex_ante import needs_ex_ante

    sheet = "评估评分"
    rows = parsed.sheets[sheet]
    assert cycle.id is not None
    cycle_id = cycle.id
    policy = cycle_policy(cycle).ex_ante
    dimensions = {name: problems.header(sheet, name) for name in PANEL_DIMENSIONS}
    if set(dimensions.values()) != set(policy.dimensions):
        raise problems.fail(
            f"本周期策略的评估维度（{'、'.join(policy.dimensions)}）与评分表的列（{'、'.join(dimensions.values())}）不一致"
        )
    projects = _projects_by_code(session, year, (r.values["project_code"] for r in rows), cache)
    planned: list[tuple[ProjectRef, dict[str, str], int, ParsedRow]] = []
    for row in rows:
        v = row.values
        project = projects.get(v["project_code"])
        if project is None and v["project_code"] is not None:
            problems.add(f"项目「{v['project_code']}」不是 {year} 年度的项目", sheet, row, "project_code")
        elif project is not None and not needs_ex_ante(project.attribute, project.request_fen, policy):
            problems.add(
                f"项目 {project.code}（{project.attribute}，申请 {fmt_wan(project.request_fen)} 万元）"
                f"不在事前评估范围（{'、'.join(policy.attributes)}且申请 ≥ {policy.min_request_wan} 万元）",
                sheet,
                row,
                "project_code",
            )
        scores: dict[str, str] = {}
        for name, header in dimensions.items():
            score = v[name]
            if score is not None and not 0 <= score <= policy.dimension_max:
                problems.add(f"得分应在 0 到 {policy.dimension_max} 之间: {score}", sheet, row, name)
            scores[header] = str(score)
        cut = wan_to_fen(v["proposed_cut_wan"]) if v["proposed_cut_wan"] is not None else 0
        if project is not None and cut > project.request_fen:
            problems.add(
                f"建议压减 {fmt_wan(cut)} 万元超过项目申请额 {fmt_wan(project.request_fen)} 万元",
                sheet,
                row,
                "proposed_cut_wan",
            )
        problems.text_fits(sheet, row, "assessor", ExAnteAssessment, "assessor")
        if project is not None:
            planned.append((project, {d: scores[d] for d in policy.dimensions}, cut, row))

    def write() -> list[str]:
        existing = {
            a.project_id: a for a in _by_project(session, ExAnteAssessment, cycle_id, (p.id for p, *_ in planned))
        }
        for project, scores, cut, row in planned:
            assessment = existing.get(project.id) or ExAnteAssessment(cycle_id=cycle_id, project_id=project.id)
            assessment.scores_json = json.dumps(scores, ensure_ascii=False)
            assessment.request_fen = project.request_fen
            assessment.proposed_cut_fen = cut
            assessment.comment = row.values["comment"] or ""
            assessment.assessor = row.values["assessor"]
            assessment.total = None  # conclusion, total and cut are the stage's to compute
            assessment.conclusion = ""
            assessment.cut_fen = 0
            session.add(assessment)
        return [f"事前评估评分 {len(planned)} 个项目"]

    return write


def _check_review_scores(
    session: Session,
    parsed: ParsedWorkbook,
    cycle: Cycle,
    year: int,
    quarter: str | None,
    problems: _Problems,
    cache: LoadCache,
) -> Writer:
    sheet = "复核评分"
    rows = parsed.sheets[sheet]
    assert cycle.id is not None
    cycle_id = cycle.id
    sample = session.exec(select(Sample).where(Sample.cycle_id == cycle_id)).first()
    if sample is None:
        raise problems.fail("本周期尚未抽样")
    members = {m.department_id for m in session.exec(select(SampleMember).where(SampleMember.sample_id == sample.id))}
    departments = _departments(session, cache)
    department_codes = _department_codes(cache)
    projects = _projects_by_code(session, year, (r.values["project_code"] for r in rows), cache)
    planned: list[tuple[ProjectRef, Decimal, ParsedRow]] = []
    for row in rows:
        department, project = _project_check(problems, sheet, row, year, departments, projects, department_codes)
        if department is not None and department.id not in members:
            problems.add(f"部门 {department.code} 不在本周期的抽查复核名单中", sheet, row, "department_code")
        score = problems.score(sheet, row, "score")
        problems.text_fits(sheet, row, "reviewer", Evaluation, "evaluator")
        if project is not None and score is not None:
            planned.append((project, score, row))

    def write() -> list[str]:
        existing = _evaluations(session, cycle_id, ("review",), (p.code for p, _, _ in planned))
        changed: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        for project, score, row in planned:
            values = {
                "department_id": project.department_id,
                "score": score,
                "grade": "",
                "evaluator": row.values["reviewer"],
                "findings": row.values["comment"] or "",
            }
            stored = existing.get(("review", "project", project.code))
            if stored is not None:
                changed.append({"id": stored.id, **values})
            else:
                key = {"cycle_id": cycle_id, "kind": "review", "object_type": "project", "object_code": project.code}
                added.append(key | values)
        update_by_id(session, Evaluation, changed)
        insert_rows(session, Evaluation, added)
        return [f"复核评分 {len(planned)} 个项目"]

    return write


def _dimension_scores(
    problems: _Problems,
    sheet: str,
    row: ParsedRow,
    score: Decimal | None,
    dimensions: Mapping[str, Any],
) -> dict[str, str]:
    """The scores of the 指标体系's 一级指标 on a row ({} when none is given): all of them, each within its points,
    adding up to the row's score."""
    given = {name: row.values.get(field) for name, field in FISCAL_DIMENSION_FIELDS.items()}
    if all(value is None for value in given.values()):
        return {}
    missing = [name for name, value in given.items() if value is None]
    if missing:
        problems.add(f"{'、'.join(missing)}得分未填写：四项得分须全部填写或全部不填", sheet, row, "score")
        return {}
    scores: dict[str, Decimal] = {}
    for name, column in FISCAL_DIMENSION_FIELDS.items():
        points = dimensions[name].points
        value = problems.score(sheet, row, column, points)
        if value is None:
            return {}
        scores[name] = value
    total = sum(scores.values(), Decimal(0))
    if score is not None and total != score:
        problems.add(f"四项得分之和 {total} 与得分 {score} 不一致", sheet, row, "score")
        return {}
    return {name: f"{value:f}" for name, value in scores.items()}


def _check_third_party_scores(
    session: Session,
    parsed: ParsedWorkbook,
    cycle: Cycle,
    year: int,
    quarter: str | None,
    problems: _Problems,
    cache: LoadCache,
) -> Writer:
    sheet = "重点评价"
    rows = parsed.sheets[sheet]
    assert cycle.id is not None
    cycle_id = cycle.id
    selections = {
        (s.object_type, s.object_code): s for s in session.exec(select(Selection).where(Selection.cycle_id == cycle_id))
    }
    departments = _departments(session, cache)
    project_codes = [r.values["object_code"] for r in rows if r.values["object_type"] == "项目"]
    projects = _projects_by_code(session, year, project_codes, cache)
    policies = {p.code: p for p in session.exec(select(FiscalPolicy).where(FiscalPolicy.year == year))}
    planned: list[tuple[Selection, Decimal, int | None, ParsedRow, dict[str, str]]] = []
    from perfcycle.cycle_context import cycle_policy

    dimensions = cycle_policy(cycle).fiscal_evaluation.dimensions
    for row in rows:
        v = row.values
        object_type = OBJECT_TYPE_KEYS.get(v["object_type"] or "")
        selection = selections.get((object_type or "", v["object_code"] or ""))
        if selection is None and object_type is not None and v["object_code"] is not None:
            problems.add(
                f"{v['object_type']}「{v['object_code']}」不在本周期确定的重点评价对象中", sheet, row, "object_code"
            )
        score = problems.score(sheet, row, "score")
        problems.text_fits(sheet, row, "evaluator", Evaluation, "evaluator")
        breakdown = _dimension_scores(problems, sheet, row, score, dimensions)
        if selection is None or score is None:
            continue
        department_id: int | None = None
        if object_type == "project" and v["object_code"] in projects:
            department_id = projects[v["object_code"]].department_id
        elif object_type == "department" and v["object_code"] in departments:
            department_id = departments[v["object_code"]].id
        elif object_type == "policy" and v["object_code"] in policies:
            department_id = policies[v["object_code"]].department_id
        planned.append((selection, score, department_id, row, breakdown))

    def write() -> list[str]:
        existing = _evaluations(session, cycle_id, ("fiscal",), (s.object_code for s, *_ in planned))
        for selection, score, department_id, row, breakdown in planned:
            key = ("fiscal", selection.object_type, selection.object_code)
            evaluation = existing.get(key) or Evaluation(
                cycle_id=cycle_id, kind="fiscal", object_type=selection.object_type, object_code=selection.object_code
            )
            evaluation.department_id = department_id
            evaluation.amount_fen = selection.amount_fen
            evaluation.score = score
            evaluation.grade = ""
            evaluation.findings = row.values["findings"]
            evaluation.evaluator = row.values["evaluator"]
            evaluation.breakdown_json = json.dumps(breakdown, ensure_ascii=False)
            session.add(evaluation)
        return [f"重点评价评分 {len(planned)} 个对象"]

    return write


_CHECKERS: dict[str, Callable[[Session, ParsedWorkbook, Cycle, int, str | None, _Problems, LoadCache], Writer]] = {
    "targets": _check_targets,
    "monitoring": _check_monitoring,
    "self_evaluation": _check_self_evaluation,
    "panel_scores": _check_panel_scores,
    "review_scores": _check_review_scores,
    "third_party_scores": _check_third_party_scores,
}

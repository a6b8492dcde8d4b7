"""Loading workbooks into the database: every cross-reference checked first, all or nothing, idempotent."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import event, func
from sqlalchemy import select as sql_select
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
    get_engine,
    now,
)
from models.audit_log import AuditEntry
from perfcycle import audit
from perfcycle.approvals import in_shanghai
from perfcycle.loaders import LoadCache, LoadResult, Refused, arrival, import_file, load, load_stage
from perfcycle.policy import load_policy
from perfcycle.workbooks.formats import SPECS
from perfcycle.workbooks.reader import ImportProblem, ImportRejected, read_workbook
from perfcycle.workbooks.writer import write_workbook

D = Decimal
YEAR = 2024
WAN = 1_000_000


def department(code: str, name: str) -> dict[str, Any]:
    return {"code": code, "name": name, "contact": "联系人", "email": f"{code.lower()}@example.cn", "head": "负责人"}


def project(code: str, dept: str, budget: str, request: str, **kw: Any) -> dict[str, Any]:
    row = {
        "code": code,
        "department_code": dept,
        "name": f"项目{code}",
        "type": "事业发展类",
        "attribute": "新增",
        "budget_wan": D(budget),
        "request_wan": D(request),
        "policy_related": False,
        "high_attention": False,
    }
    return row | kw


def base_data() -> dict[str, list[dict[str, Any]]]:
    return {
        "部门": [department("D01", "区教育局"), department("D02", "区卫健委"), department("D03", "区民政局")],
        "项目": [
            project("P101", "D01", "1000", "600"),
            project("P102", "D01", "200", "200", type="机构运行保障类", attribute="经常性"),
            project("P201", "D02", "3000", "1200", attribute="延续"),
            project("P301", "D03", "50.55", "0"),
        ],
        "财政政策": [{"code": "F01", "name": "学生资助政策", "department_code": "D01", "funds_wan": D("500")}],
        "历年抽查": [{"year": 2022, "department_code": "D01"}, {"year": 2023, "department_code": "D02"}],
        "历年评价": [
            {"year": 2023, "kind": "财政重点评价", "object_type": "项目", "object_code": "P201", "score": 88},
            {"year": 2023, "kind": "自评", "object_type": "部门", "object_code": "D02", "score": D("90.5")},
        ],
    }


def write(tmp_path: Path, kind: str, rows: dict[str, list[dict[str, Any]]], name: str | None = None) -> Path:
    return write_workbook(tmp_path / (name or f"{kind}.xlsx"), SPECS[kind], rows)


def import_base(tmp_path: Path, db_url: str) -> None:
    """The same base workbook (the same bytes) for every database of a test."""
    path = tmp_path / "base.xlsx"
    import_file(path if path.exists() else write(tmp_path, "base", base_data()), year=YEAR, url=db_url)


def open_cycle(db_url: str, status: str = "open") -> int:
    with Session(get_engine(db_url)) as s:
        cycle = Cycle(year=YEAR, budget_year=YEAR + 2, status=status, policy_json=load_policy(YEAR).as_json())
        s.add(cycle)
        s.commit()
        assert cycle.id is not None
        return cycle.id


def counts(db_url: str) -> dict[str, int]:
    with get_engine(db_url).connect() as conn:
        return {
            t.name: conn.execute(sql_select(func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }


def digest(db_url: str) -> str:
    """A hash of every row of every table: equal digests mean the database did not change."""
    h = hashlib.sha256()
    with get_engine(db_url).connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sql_select(table).order_by(*table.primary_key.columns)):
                h.update(repr((table.name, tuple(row))).encode())
    return h.hexdigest()


def rejected(path: Path, db_url: str, **kw: Any) -> list[ImportProblem]:
    kw.setdefault("year", YEAR)
    with pytest.raises(ImportRejected) as caught:
        import_file(path, url=db_url, **kw)
    return caught.value.problems


def where(problems: list[ImportProblem]) -> list[tuple[str | None, int | None, str | None]]:
    return [(p.sheet, p.row, p.column) for p in problems]


def fetch(db_url: str, model: Any, *conditions: Any) -> list[Any]:
    with Session(get_engine(db_url)) as s:
        return list(s.exec(select(model).where(*conditions)))


def indicator(dept: str, proj: str, name: str, **kw: Any) -> dict[str, Any]:
    row = {"department_code": dept, "project_code": proj, "level1": "产出", "level2": "数量", "name": name,
           "operator": "≥", "target": "10", "unit": "个"}  # fmt: skip
    return row | kw


def targets_file(tmp_path: Path, rows: list[dict[str, Any]], name: str = "targets.xlsx") -> Path:
    return write(tmp_path, "targets", {"绩效指标": rows}, name)


# ------------------------------------------------------------------------------------------------ base


def test_bad_base_workbook_is_refused_with_one_problem_each_and_nothing_written(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    before = digest(db_url)
    data = base_data()
    data["项目"] = [
        project("P101", "D01", "1000", "600"),  # row 2: fine
        project("P102", "D01", "200", "200") | {"budget_wan": "abc"},  # row 3: text in a money column
        project("P201", "D02", "3000", "-5"),  # row 4: negative amount
        project("P301", "D99", "50", "0"),  # row 5: unknown department
        project("P101", "D01", "1", "1"),  # row 6: duplicate project code
    ]
    path = write(tmp_path, "base", data, "bad-base.xlsx")
    workbook = openpyxl.load_workbook(path)
    workbook["部门"]["B1"] = "部门名"  # wrong header
    workbook.save(path)

    problems = rejected(path, db_url)

    assert where(problems) == [
        ("部门", 1, "部门名"),
        ("项目", 3, "年度预算（万元）"),
        ("项目", 4, "预算年度申请（万元）"),
        ("项目", 5, "部门编码"),
        ("项目", 6, "项目编码"),
    ]
    reasons = [p.reason for p in problems]
    assert "应为「部门名称」" in reasons[0]
    assert reasons[1] == "不是数字: 'abc'"
    assert reasons[2] == "金额不能为负数: -5"
    assert "D99" in reasons[3] and "不存在" in reasons[3]
    assert reasons[4].startswith("与第 2 行重复（P101）")
    assert all(p.file == "bad-base.xlsx" for p in problems)
    assert digest(db_url) == before


def test_good_base_import_then_reimport_changes_nothing(db_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "base", base_data())
    result = import_file(path, year=YEAR, url=db_url)
    assert (result.kind, result.rows, result.skipped) == ("base", 12, False)
    after_first = counts(db_url)
    assert after_first["department"] == 3 and after_first["project"] == 4 and after_first["fiscal_policy"] == 1
    assert after_first["submission"] == 0  # base data is not a stage submission
    (recorded,) = fetch(db_url, AuditEntry, AuditEntry.action == "base_data.imported")
    assert json.loads(recorded.payload_json) == {
        "file": "base.xlsx", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "rows": 12,
        "departments": 3, "projects": 4, "policies": 1, "history_samples": 2, "history_evaluations": 2,
        "events": 0,
    }  # fmt: skip
    (p101,) = fetch(db_url, Project, Project.code == "P101")
    assert (p101.year, p101.budget_fen, p101.request_fen) == (YEAR, 1000 * WAN, 600 * WAN)
    (p301,) = fetch(db_url, Project, Project.code == "P301")
    assert p301.budget_fen == 50_550_000
    history = fetch(db_url, Cycle)
    assert sorted((c.year, c.budget_year, c.status) for c in history) == [
        (2022, 2024, "historical"),
        (2023, 2025, "historical"),
    ]
    samples = fetch(db_url, Sample)
    assert len(samples) == 2 and all(s.imported and s.algorithm == "imported" and s.size == 1 for s in samples)
    evaluations = {(e.kind, e.object_type, e.object_code): e for e in fetch(db_url, Evaluation)}
    assert evaluations[("fiscal", "project", "P201")].score == D("88")
    assert evaluations[("self", "department", "D02")].score == D("90.5")
    assert evaluations[("self", "department", "D02")].grade == ""

    before = digest(db_url)
    again = import_file(path, year=YEAR, url=db_url)
    assert again.rows == 12
    assert counts(db_url) == after_first
    assert digest(db_url) == before


def test_base_update_changes_fields_in_place(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    data = base_data()
    data["部门"][0]["name"] = "区教育体育局"
    data["项目"][0]["budget_wan"] = D("1000.01")
    data["历年抽查"].append({"year": 2023, "department_code": "D03"})
    import_file(write(tmp_path, "base", data, "base2.xlsx"), year=YEAR, url=db_url)
    (d01,) = fetch(db_url, Department, Department.code == "D01")
    (p101,) = fetch(db_url, Project, Project.code == "P101")
    assert d01.name == "区教育体育局" and p101.budget_fen == 1_000_010_000
    assert counts(db_url)["project"] == 4 and counts(db_url)["sample_member"] == 3
    entries = fetch(db_url, AuditEntry, AuditEntry.action == "base_data.imported")
    assert [json.loads(e.payload_json)["file"] for e in entries] == ["base.xlsx", "base2.xlsx"]  # each content once
    assert [json.loads(e.payload_json)["rows"] for e in entries] == [12, 13]
    assert json.loads(entries[1].payload_json)["history_samples"] == 3


def test_base_history_evaluations_of_a_year_are_replaced_by_the_file(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    before = {(e.kind, e.object_code): e for e in fetch(db_url, Evaluation)}
    data = base_data()
    data["历年评价"] = [
        {"year": 2023, "kind": "财政重点评价", "object_type": "项目", "object_code": "P201", "score": D("91.255")},
        {"year": 2023, "kind": "自评", "object_type": "部门", "object_code": "D01", "score": 80},
    ]  # D02's 2023 self-evaluation is no longer in the file
    import_file(write(tmp_path, "base", data, "base2.xlsx"), year=YEAR, url=db_url)
    after = {(e.kind, e.object_code): e for e in fetch(db_url, Evaluation)}
    assert set(after) == {("fiscal", "P201"), ("self", "D01")}
    fiscal, added = after[("fiscal", "P201")], after[("self", "D01")]
    assert fiscal.id == before[("fiscal", "P201")].id and fiscal.score == D("91.26")  # updated in place, half up
    (d01,) = fetch(db_url, Department, Department.code == "D01")
    assert fiscal.department_id is None  # no 2023 project P201 on record to own it
    assert added.department_id == d01.id
    assert (added.score, added.object_type, added.grade) == (D("80"), "department", "")


def test_base_history_must_be_earlier_years(db_url: str, tmp_path: Path) -> None:
    data = base_data()
    data["历年抽查"].append({"year": YEAR, "department_code": "D77"})
    problems = rejected(write(tmp_path, "base", data), db_url)
    assert where(problems) == [("历年抽查", 4, "年度"), ("历年抽查", 4, "部门编码")]
    assert counts(db_url)["department"] == 0


def test_load_leaves_the_commit_to_the_caller(session: Session, tmp_path: Path) -> None:
    parsed = read_workbook(write(tmp_path, "base", base_data()))
    load(session, parsed, year=YEAR)
    assert len(session.exec(select(Project)).all()) == 4
    session.rollback()
    assert session.exec(select(Project)).all() == []


# ----------------------------------------------------------------------------------------- submissions


def test_submission_needs_an_open_cycle(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    path = targets_file(tmp_path, [indicator("D01", "P101", "学校数")])
    (problem,) = rejected(path, db_url)
    assert str(problem) == "targets.xlsx: 没有 2024 年度的绩效管理周期，请先启动周期"
    (historical,) = rejected(path, db_url, year=2023)  # 2023 exists, but only as imported history
    assert historical.reason == "没有 2023 年度的绩效管理周期，请先启动周期"
    assert counts(db_url)["submission"] == 0


def test_a_check_only_load_checks_as_the_import_does_and_writes_nothing(db_url: str, tmp_path: Path) -> None:
    """A department's form is checked at submission as the stage will import it, without a write to undo."""
    import_base(tmp_path, db_url)
    open_cycle(db_url)
    before = digest(db_url)
    good = read_workbook(targets_file(tmp_path, [indicator("D01", "P101", "学校数")], "good.xlsx"), "targets")
    bad = read_workbook(targets_file(tmp_path, [indicator("D01", "P999", "不存在的项目")], "bad.xlsx"), "targets")
    with Session(get_engine(db_url)) as session:
        result = load(session, good, year=YEAR, check_only=True)
        assert (result.kind, result.rows, result.scope) == ("targets", 1, "D01")
        assert not session.new and not session.dirty
        with pytest.raises(ImportRejected) as caught:
            load(session, bad, year=YEAR, check_only=True)
        assert [p.reason for p in caught.value.problems] == ["项目「P999」不是 2024 年度的项目（基础数据中没有）"]
        session.commit()
    assert digest(db_url) == before


def test_targets_for_another_departments_project_are_refused(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    open_cycle(db_url)
    before = digest(db_url)
    path = targets_file(
        tmp_path,
        [
            indicator("D01", "P101", "学校数"),
            indicator("D01", "P201", "门诊人次"),
            indicator("D99", "P102", "车辆数"),
            indicator("D01", "P999", "不存在的项目"),
            indicator("D01", "P102", "覆盖率", target="约九成"),
        ],
    )
    problems = rejected(path, db_url)
    assert [(p.row, p.column, p.reason) for p in problems] == [
        (3, "项目编码", "项目 P201 属于部门 D02，不属于 D01"),
        (4, "部门编码", "部门编码「D99」不存在（请先在基础数据中登记该部门）"),
        (5, "项目编码", "项目「P999」不是 2024 年度的项目（基础数据中没有）"),
        (6, "目标值", "定量指标（运算符 ≥）的目标值必须是数字: '约九成'"),
    ]
    assert digest(db_url) == before


def test_a_stage_of_one_workbook_reads_only_the_projects_it_names(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    open_cycle(db_url)
    one = targets_file(
        tmp_path, [indicator("D01", "P101", "学校数"), indicator("D01", "P999", "不存在的项目")], "a.xlsx"
    )
    two = targets_file(tmp_path, [indicator("D02", "P201", "门诊人次")], "b.xlsx")
    three = targets_file(tmp_path, [indicator("D01", "P102", "车辆数")], "c.xlsx")
    projects_read: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT project.id"):
            projects_read.append(statement)

    engine = get_engine(db_url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session:
            cache = LoadCache()
            with pytest.raises(ImportRejected) as caught:
                load(session, read_workbook(one), year=YEAR, cache=cache)
            assert [(p.row, p.reason) for p in caught.value.problems] == [
                (3, "项目「P999」不是 2024 年度的项目（基础数据中没有）")
            ]
            assert len(projects_read) == 1 and " IN " in projects_read[0]  # the file's codes only
            assert cache.projects == {} and set(cache.projects_named[YEAR]) == {"P101", "P999"}
            load(session, read_workbook(two), year=YEAR, cache=cache)  # a second file: the whole year, once
            load(session, read_workbook(three), year=YEAR, cache=cache)
            session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(projects_read) == 2 and " IN " not in projects_read[1]
    assert set(cache.projects[YEAR]) == {"P101", "P102", "P201", "P301"}
    assert sorted((i.project_id, i.name) for i in fetch(db_url, Indicator)) == [(2, "车辆数"), (3, "门诊人次")]


def test_targets_resubmission_replaces_indicators_and_keeps_history(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    cycle_id = open_cycle(db_url)
    first = targets_file(
        tmp_path,
        [
            indicator("D01", "P101", "学校数", target="12", unit="所"),
            indicator("D01", "P101", "入学率", level1="效益", level2="社会效益", target="95%", unit=None),
            indicator(
                "D01",
                "P101",
                "家长满意",
                level1="满意度",
                level2="服务对象满意度",
                operator="定性",
                target="明显提升",
                unit=None,
            ),
            indicator("D01", "P102", "车辆数", target="3", weight=D("40")),
        ],
        "D01-targets-v1.xlsx",
    )
    result = import_file(first, year=YEAR, url=db_url)
    assert (result.scope, result.rows, result.skipped) == ("D01", 4, False)
    indicators = {i.name: i for i in fetch(db_url, Indicator)}
    assert indicators["学校数"].target_value == D("12") and indicators["学校数"].unit == "所"
    assert indicators["入学率"].target_value == D("95") and indicators["入学率"].unit == "%"
    assert indicators["家长满意"].target_value is None and indicators["家长满意"].target_text == "明显提升"
    assert indicators["车辆数"].weight == D("40")
    reviews = fetch(db_url, TargetReview)
    assert len(reviews) == 2 and {r.status for r in reviews} == {"submitted"}
    with Session(get_engine(db_url)) as s:  # the coordinator approved P101 meanwhile
        review = s.exec(select(TargetReview)).first()
        assert review is not None
        review.status = "approved"
        s.add(review)
        s.commit()

    second = targets_file(
        tmp_path,
        [indicator("D01", "P101", "新建学校数", target="2"), indicator("D01", "P101", "受益学生", level1="效益")],
        "D01-targets-v2.xlsx",
    )
    result = import_file(second, year=YEAR, url=db_url)
    assert result.scope == "D01" and not result.skipped
    names = sorted(i.name for i in fetch(db_url, Indicator, Indicator.cycle_id == cycle_id))
    assert names == ["受益学生", "新建学校数", "车辆数"]  # P101 replaced, P102 (not in the file) kept
    assert {r.status for r in fetch(db_url, TargetReview)} == {"submitted"}
    submissions = sorted(fetch(db_url, Submission), key=lambda s: s.id)
    assert [(s.source_name, s.current, s.scope, s.kind) for s in submissions] == [
        ("D01-targets-v1.xlsx", False, "D01", "targets"),
        ("D01-targets-v2.xlsx", True, "D01", "targets"),
    ]

    before = digest(db_url)
    again = import_file(second, year=YEAR, url=db_url)
    assert again.skipped and again.scope == "D01"
    assert digest(db_url) == before

    import_file(first, year=YEAR, url=db_url)  # going back to v1 reactivates its record, no duplicate
    assert [(s.source_name, s.current) for s in sorted(fetch(db_url, Submission), key=lambda s: s.id)] == [
        ("D01-targets-v1.xlsx", True),
        ("D01-targets-v2.xlsx", False),
    ]
    assert len(fetch(db_url, Indicator)) == 4


def test_multi_department_file_has_scope_star(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    open_cycle(db_url)
    path = targets_file(tmp_path, [indicator("D01", "P101", "学校数"), indicator("D02", "P201", "门诊人次")])
    assert import_file(path, year=YEAR, url=db_url).scope == "*"


def monitoring_row(proj: str, quarter: str, spent: str, dept: str = "D01", **kw: Any) -> dict[str, Any]:
    row = {"department_code": dept, "project_code": proj, "quarter": quarter, "spent_wan": D(spent),
           "target_progress": D("30"), "likelihood": "确定能"}  # fmt: skip
    return row | kw


def monitoring_file(tmp_path: Path, rows: list[dict[str, Any]], name: str) -> Path:
    return write(tmp_path, "monitoring", {"项目监控": rows}, name)


def test_monitoring_spending_may_not_decrease_or_exceed_the_budget(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    open_cycle(db_url)
    q1 = monitoring_file(tmp_path, [monitoring_row("P101", "Q1", "100"), monitoring_row("P102", "Q1", "10")], "q1.xlsx")
    result = import_file(q1, year=YEAR, quarter="Q1", url=db_url)
    assert result.scope == "Q1:D01"
    (record,) = fetch(db_url, MonitoringRecord, MonitoringRecord.project_id == _project_id(db_url, "P101"))
    assert (record.spent_fen, record.target_progress, record.light) == (100 * WAN, D("30"), "")

    before = digest(db_url)
    q2 = monitoring_file(
        tmp_path, [monitoring_row("P101", "Q2", "50"), monitoring_row("P102", "Q2", "200.01")], "q2.xlsx"
    )
    problems = rejected(q2, db_url, quarter="Q2")
    assert where(problems) == [("项目监控", 2, "累计支出（万元）"), ("项目监控", 3, "累计支出（万元）")]
    assert "少于 Q1 已报的 100.00 万元" in problems[0].reason and "累计支出不能减少" in problems[0].reason
    assert problems[1].reason.startswith("累计支出超过年度预算")
    assert digest(db_url) == before

    wrong_quarter = rejected(q2, db_url, quarter="Q3")
    assert where(wrong_quarter) == [
        ("项目监控", 2, "季度"),
        ("项目监控", 3, "季度"),
        ("项目监控", 3, "累计支出（万元）"),
    ]
    assert wrong_quarter[0].reason == "季度应为 Q3（本次导入的季度），不是 Q2"

    import_file(monitoring_file(tmp_path, [monitoring_row("P101", "Q2", "150")], "q2-ok.xlsx"), year=YEAR, url=db_url)
    assert len(fetch(db_url, MonitoringRecord)) == 3


def _project_id(db_url: str, code: str) -> int:
    (p,) = fetch(db_url, Project, Project.code == code)
    return int(p.id)


def test_self_evaluation(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    open_cycle(db_url)
    import_file(
        targets_file(
            tmp_path,
            [indicator("D01", "P101", "学校数"), indicator("D01", "P101", "满意", level1="满意度", operator="定性")],
        ),
        year=YEAR,
        url=db_url,
    )
    rows: dict[str, list[dict[str, Any]]] = {
        "指标完成": [
            {"department_code": "D01", "project_code": "P101", "name": "学校数", "actual": D("11")},
            {"department_code": "D01", "project_code": "P101", "name": "满意", "achievement": "部分达成"},
        ],
        "项目自评": [{"department_code": "D01", "project_code": "P101", "claimed_score": D("95.5")}],
        "部门自评": [
            {"department_code": "D01", "claimed_score": 93, "evaluated_project_code": "P101",
             "department_evaluation_score": 90, "published_on": "2025-03-31"}
        ],
    }  # fmt: skip
    result = import_file(write(tmp_path, "self_evaluation", rows), year=YEAR, url=db_url)
    assert result.scope == "D01"
    indicators = {i.name: i for i in fetch(db_url, Indicator)}
    assert indicators["学校数"].actual == D("11") and indicators["满意"].achievement == "部分达成"
    evaluations = {(e.kind, e.object_type, e.object_code): e for e in fetch(db_url, Evaluation)}
    assert evaluations[("self", "project", "P101")].claimed_score == D("95.5")
    assert evaluations[("self", "project", "P101")].score is None
    assert evaluations[("self", "department", "D01")].claimed_score == D("93")
    assert evaluations[("department", "project", "P101")].score == D("90")
    assert evaluations[("department", "project", "P101")].evaluator == "区教育局"
    (publication,) = fetch(db_url, Publication)
    assert str(publication.published_on) == "2025-03-31"

    rows["指标完成"] = [
        {"department_code": "D01", "project_code": "P101", "name": "学校数"},
        {"department_code": "D01", "project_code": "P101", "name": "校舍面积", "actual": 1},
    ]
    rows["部门自评"][0]["evaluated_project_code"] = "P201"
    problems = rejected(write(tmp_path, "self_evaluation", rows, "self2.xlsx"), db_url)
    assert [(p.sheet, p.row, p.column) for p in problems] == [
        ("指标完成", 2, "实际值"),
        ("指标完成", 3, "三级指标"),
        ("部门自评", 2, "部门评价项目编码"),
    ]
    assert problems[0].reason == "定量指标必须填写实际值"


def panel_row(proj: str, **kw: Any) -> dict[str, Any]:
    row = {"project_code": proj, "necessity": 18, "economy": 16, "targets": D("15.5"), "feasibility": 17,
           "compliance": 14, "proposed_cut_wan": D("100"), "comment": "压减设备购置", "assessor": "专家组"}  # fmt: skip
    return row | kw


def test_panel_scores(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    open_cycle(db_url)
    bad = write(
        tmp_path,
        "panel_scores",
        {
            "评估评分": [
                panel_row("P102"),
                panel_row("P101", economy=21),
                panel_row("P201", proposed_cut_wan=D("1200.01")),
            ]
        },
        "bad-panel.xlsx",
    )
    problems = rejected(bad, db_url)
    assert where(problems) == [
        ("评估评分", 2, "项目编码"),
        ("评估评分", 3, "投入经济性"),
        ("评估评分", 4, "建议压减（万元）"),
    ]
    assert "不在事前评估范围" in problems[0].reason
    import_file(
        write(tmp_path, "panel_scores", {"评估评分": [panel_row("P101"), panel_row("P201")]}), year=YEAR, url=db_url
    )
    assessments = {a.project_id: a for a in fetch(db_url, ExAnteAssessment)}
    p101 = assessments[_project_id(db_url, "P101")]
    assert json.loads(p101.scores_json) == {
        "立项必要性": "18", "投入经济性": "16", "绩效目标合理性": "15.5", "实施方案可行性": "17", "筹资合规性": "14"
    }  # fmt: skip
    assert (p101.request_fen, p101.proposed_cut_fen, p101.total, p101.conclusion) == (600 * WAN, 100 * WAN, None, "")


def test_review_scores_need_a_sample_and_a_sampled_department(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    cycle_id = open_cycle(db_url)
    rows = [
        {
            "department_code": "D01",
            "project_code": "P101",
            "score": D("82.5"),
            "comment": "资料不全",
            "reviewer": "复核组",
        },
        {"department_code": "D02", "project_code": "P201", "score": 70, "reviewer": "复核组"},
    ]
    path = write(tmp_path, "review_scores", {"复核评分": rows})
    (problem,) = rejected(path, db_url)
    assert problem.reason == "本周期尚未抽样" and problem.sheet is None
    with Session(get_engine(db_url)) as s:
        sample = Sample(cycle_id=cycle_id, seed="1", algorithm="tiered-random-v1", size=1)
        s.add(sample)
        s.flush()
        d01 = s.exec(select(Department).where(Department.code == "D01")).one()
        s.add(SampleMember(sample_id=sample.id, department_id=d01.id))  # type: ignore[arg-type]
        s.commit()
    (problem,) = rejected(path, db_url)
    assert (problem.row, problem.column, problem.reason) == (3, "部门编码", "部门 D02 不在本周期的抽查复核名单中")
    import_file(write(tmp_path, "review_scores", {"复核评分": rows[:1]}, "ok.xlsx"), year=YEAR, url=db_url)
    (review,) = fetch(db_url, Evaluation, Evaluation.kind == "review")
    assert (review.object_code, review.score, review.findings, review.evaluator) == (
        "P101",
        D("82.5"),
        "资料不全",
        "复核组",
    )
    again = rows[:1]
    again[0] = again[0] | {"score": D("90"), "comment": None, "reviewer": "第二复核组"}
    import_file(write(tmp_path, "review_scores", {"复核评分": again}, "again.xlsx"), year=YEAR, url=db_url)
    (revised,) = fetch(db_url, Evaluation, Evaluation.kind == "review")  # the same record, its new scores
    assert (revised.id, revised.score, revised.findings, revised.evaluator) == (review.id, D("90"), "", "第二复核组")
    assert revised.department_id == review.department_id is not None


def test_third_party_scores_only_for_selected_objects(db_url: str, tmp_path: Path) -> None:
    import_base(tmp_path, db_url)
    cycle_id = open_cycle(db_url)
    with Session(get_engine(db_url)) as s:
        s.add(Selection(cycle_id=cycle_id, object_type="project", object_code="P201", amount_fen=3000 * WAN))
        s.add(Selection(cycle_id=cycle_id, object_type="policy", object_code="F01", amount_fen=500 * WAN))
        s.commit()
    rows = [
        {
            "object_type": "项目",
            "object_code": "P201",
            "score": 78,
            "findings": "绩效目标不够细化",
            "evaluator": "某评价公司",
        },
        {"object_type": "政策", "object_code": "F01", "score": 91, "findings": "效果良好", "evaluator": "某评价公司"},
        {"object_type": "部门", "object_code": "D03", "score": 101, "findings": "-", "evaluator": "某评价公司"},
    ]
    problems = rejected(write(tmp_path, "third_party_scores", {"重点评价": rows}), db_url)
    assert where(problems) == [("重点评价", 4, "对象编码"), ("重点评价", 4, "得分")]
    import_file(write(tmp_path, "third_party_scores", {"重点评价": rows[:2]}, "ok.xlsx"), year=YEAR, url=db_url)
    fiscal = {
        e.object_code: e
        for e in fetch(db_url, Evaluation, Evaluation.kind == "fiscal", Evaluation.cycle_id == cycle_id)
    }
    assert fiscal["P201"].amount_fen == 3000 * WAN and fiscal["P201"].score == D("78")
    (f01,) = fetch(db_url, FiscalPolicy)
    assert fiscal["F01"].department_id == f01.department_id is not None


def business_rows(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows without ids and timestamps, sorted: what two ways of loading must agree on."""
    result = {}
    with get_engine(db_url).connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name != "id" and not c.name.endswith("_at") and c.name != "at"]
            columns = [c for c in columns if c.name not in ("hash", "prev_hash", "payload_json")]
            result[table.name] = sorted(tuple(map(str, r)) for r in conn.execute(sql_select(*columns)))
    return result


def audit_payloads(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The audit trail in order, each payload without its timestamps."""
    with Session(get_engine(db_url)) as s:
        entries = s.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [
            (e.action, e.subject, {k: v for k, v in json.loads(e.payload_json).items() if not k.endswith("_at")})
            for e in entries
        ]


def test_each_file_of_a_stage_is_loaded_or_refused_on_its_own(tmp_path: Path) -> None:
    """One department's bad form refuses that file alone, with every problem named: the files before and after
    it load exactly as they load without it, a file refused as it was read included, and nothing of the bad
    file is written."""
    good = targets_file(tmp_path, [indicator("D01", "P101", "学校数")], "good.xlsx")
    unknown_path = targets_file(
        tmp_path, [indicator("D02", "P201", "床位数"), indicator("D02", "P999", "x")], "bad.xlsx"
    )
    other = targets_file(tmp_path, [indicator("D03", "P301", "对象数")], "other.xlsx")
    unreadable = [ImportProblem("later.xlsx", None, None, None, "不是 Excel 工作簿")]

    def database(name: str) -> str:
        url = f"sqlite:///{tmp_path / name}"
        SQLModel.metadata.create_all(get_engine(url))
        import_base(tmp_path, url)
        open_cycle(url)
        return url

    with_bad, without = database("with-bad.db"), database("without.db")
    problems = rejected(unknown_path, with_bad)
    assert where(problems) == [("绩效指标", 3, "项目编码")] and "P999" in problems[0].reason
    loaded: list[LoadResult] = []
    with Session(get_engine(with_bad)) as session:
        workbooks = [read_workbook(good), read_workbook(unknown_path), unreadable, read_workbook(other)]
        outcomes = load_stage(session, workbooks, year=YEAR, loaded=loaded.append)
        session.commit()
    assert [type(o).__name__ for o in outcomes] == ["LoadResult", "Refused", "Refused", "LoadResult"]
    assert loaded == [outcomes[0], outcomes[3]]
    refused, unread = outcomes[1], outcomes[2]
    assert isinstance(refused, Refused) and isinstance(unread, Refused)
    assert refused.problems == problems  # as the file alone is refused
    assert (refused.scope, refused.sha256) == ("D02", read_workbook(unknown_path).sha256)  # whose, which file
    assert unread.problems == unreadable and (unread.scope, unread.sha256) == ("*", "")
    with Session(get_engine(without)) as session:
        load_stage(session, [read_workbook(good), read_workbook(other)], year=YEAR)
        session.commit()
    assert business_rows(with_bad) == business_rows(without)
    assert {i.name for i in fetch(with_bad, Indicator)} == {"学校数", "对象数"}  # nothing of D02's file


def test_a_submission_is_dated_by_the_files_arrival_not_by_the_import(db_url: str, tmp_path: Path) -> None:
    """A form put in the folder three days before the run that imports it came in three days ago; a file dated
    in the future (a wrong clock) came in no later than its import."""
    import_base(tmp_path, db_url)
    open_cycle(db_url)
    path = targets_file(tmp_path, [indicator("D01", "P101", "学校数")])
    put_in = now() - timedelta(days=3)
    os.utime(path, (put_in.timestamp(), put_in.timestamp()))
    import_file(path, year=YEAR, url=db_url)
    (submission,) = fetch(db_url, Submission)
    assert abs(in_shanghai(submission.received_at) - put_in) < timedelta(seconds=1)

    ahead = now() + timedelta(days=2)
    os.utime(path, (ahead.timestamp(), ahead.timestamp()))
    before, arrived, after = now(), arrival(path), now()
    assert before <= arrived <= after


def test_a_batch_with_one_cache_loads_exactly_as_files_one_by_one(tmp_path: Path) -> None:
    """A stage's files share one cache in one session: later files see what earlier ones wrote (a quarter's
    spending, a resubmission, the project a department chose), as if each file were imported on its own."""
    targets = targets_file(
        tmp_path,
        [indicator("D01", "P101", "学校数"), indicator("D01", "P102", "满意", level1="满意度", operator="定性")],
        "targets-d01.xlsx",
    )
    targets_d02 = targets_file(tmp_path, [indicator("D02", "P201", "床位数")], "targets-d02.xlsx")
    targets_again = targets_file(tmp_path, [indicator("D01", "P101", "学校数", target="12")], "targets-d01b.xlsx")
    q1 = monitoring_file(tmp_path, [monitoring_row("P101", "Q1", "100"), monitoring_row("P102", "Q1", "10")], "q1.xlsx")
    q1_again = monitoring_file(tmp_path, [monitoring_row("P101", "Q1", "120")], "q1b.xlsx")
    q2 = monitoring_file(tmp_path, [monitoring_row("P101", "Q2", "130")], "q2.xlsx")
    q2_d02 = monitoring_file(tmp_path, [monitoring_row("P201", "Q2", "5", dept="D02")], "q2-d02.xlsx")

    def self_evaluation(name: str, chosen: str, published: str) -> Path:
        rows = {
            "指标完成": [{"department_code": "D01", "project_code": "P101", "name": "学校数", "actual": D("11")}],
            "项目自评": [{"department_code": "D01", "project_code": "P101", "claimed_score": D("95.5")}],
            "部门自评": [
                {"department_code": "D01", "claimed_score": 93, "evaluated_project_code": chosen,
                 "department_evaluation_score": 90, "published_on": published}
            ],
        }  # fmt: skip
        return write(tmp_path, "self_evaluation", rows, name)

    first_choice = self_evaluation("self-a.xlsx", "P101", "2025-03-31")
    second_choice = self_evaluation("self-b.xlsx", "P102", "2025-04-02")
    batches: list[tuple[list[Path], str | None]] = [
        ([targets, targets_d02, targets_again, targets], None),
        ([q1, q1_again, q1], "Q1"),
        ([q2, q2_d02], "Q2"),
        ([first_choice, second_choice, second_choice], None),
    ]

    def database(name: str) -> str:
        url = f"sqlite:///{tmp_path / name}"
        SQLModel.metadata.create_all(get_engine(url))
        import_base(tmp_path, url)
        open_cycle(url)
        return url

    one_by_one, batched, staged = database("one-by-one.db"), database("batched.db"), database("staged.db")
    for files, quarter in batches:
        for path in files:
            import_file(path, year=YEAR, quarter=quarter, url=one_by_one)
        with Session(get_engine(batched)) as session:
            cache = LoadCache()
            results = [load(session, read_workbook(p), year=YEAR, quarter=quarter, cache=cache) for p in files]
            session.commit()
        assert results[-1].skipped == (files[-1] == files[-2])  # the same content again changes nothing
        with Session(get_engine(staged)) as session:
            loaded: list[LoadResult] = []
            staged_results = load_stage(
                session, [read_workbook(p) for p in files], year=YEAR, quarter=quarter, loaded=loaded.append
            )
            session.commit()
        assert loaded == staged_results
        assert [(r.skipped, r.scope, r.messages) for r in staged_results] == [
            (r.skipped, r.scope, r.messages) for r in results
        ]
    assert business_rows(batched) == business_rows(one_by_one)
    assert business_rows(staged) == business_rows(one_by_one)
    assert audit_payloads(staged) == audit_payloads(one_by_one)
    with Session(get_engine(staged)) as session:
        assert audit.verify(session) == []
        received = {subject: payload for _action, subject, payload in audit_payloads(staged)}
        current = session.exec(select(Submission).where(col(Submission.current))).all()
        assert len(current) == 6  # targets of D01 and D02, Q1 of D01, Q2 of D01 and D02, self-evaluation of D01
        for submission in current:  # each entry records the submission as it was received
            payload = received[f"submission:{submission.kind}:{submission.scope}:{submission.sha256[:16]}"]
            assert payload == json.loads(audit.canonical_json(submission.model_dump(exclude={"id", "received_at"})))

    (record,) = fetch(batched, MonitoringRecord, MonitoringRecord.quarter == "Q1", MonitoringRecord.project_id == 1)
    assert record.spent_fen == 100 * WAN  # q1, q1b, then q1 again: the last one sent counts
    departmental = fetch(batched, Evaluation, Evaluation.kind == "department")
    assert [e.object_code for e in departmental] == ["P102"]
    (publication,) = fetch(batched, Publication)
    assert str(publication.published_on) == "2025-04-02"
    # the first version sent again after the second replaces it once more
    assert [i.target_value for i in fetch(batched, Indicator, Indicator.name == "学校数")] == [D("10")]

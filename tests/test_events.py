"""工作记事: the events the coordinator records (command line or the base workbook's sheet), checked for what
the report needs to state them, recorded once, and listed back."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models.audit_log import AuditEntry
from models.tables import WorkEvent
from perfcycle.cli import app
from perfcycle.events import EventError, When, events_of, parse_when, record_event, remove_event
from perfcycle.loaders import import_file
from perfcycle.workbooks.formats import BASE
from perfcycle.workbooks.reader import ImportRejected
from perfcycle.workbooks.writer import write_workbook

YEAR = 2024
runner = CliRunner()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2024-11", When(11)),
        ("2024-08-20", When(8, 20)),
        ("2024年8月20日", When(8, 20)),
        ("2024年12月", When(12)),
        ("11月", When(11)),
        ("8月20日", When(8, 20)),
        ("2024/1/31", When(1, 31)),
        (date(2024, 2, 29), When(2, 29)),
        (datetime(2024, 8, 20, 0, 0), When(8, 20)),
    ],
)
def test_a_month_or_a_day_of_the_year(given: object, expected: When) -> None:
    assert parse_when(given, YEAR) == expected


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("2023-12", "不在 2024 年度"),
        ("2025-01-01", "不在 2024 年度"),
        ("2024-13", "不是有效日期"),
        ("2024-02-30", "不是有效日期"),
        ("2024-00", "不是有效日期"),
        ("下个月", "无法识别"),
    ],
)
def test_a_date_outside_the_year_or_not_a_date_is_refused(given: str, problem: str) -> None:
    with pytest.raises(EventError, match=problem):
        parse_when(given, YEAR)


@pytest.mark.parametrize(
    ("kind", "fields", "problem"),
    [
        ("培训", {"title": "业务培训"}, "培训须写明日期"),
        ("培训", {"when": "2024-11"}, "培训须写明名称"),
        ("考核", {"rank": 2}, "排名范围"),
        ("考核", {"detail": "三区一县", "rank": 0}, "名次"),
        ("宣传", {"when": "2024-08", "title": "t", "detail": "某报"}, "发表日期（年月日）"),
        ("宣传", {"when": "2024-08-20", "title": "t"}, "发表媒体"),
        ("会议", {"when": "2024-08-20", "title": "t"}, "未知的记事类型"),
    ],
)
def test_an_event_lacking_what_its_sentence_needs_is_refused(
    session: Session, kind: str, fields: dict[str, Any], problem: str
) -> None:
    with pytest.raises(EventError, match=problem):
        record_event(session, YEAR, kind, **fields)
    assert session.exec(select(WorkEvent)).all() == []


def test_the_same_event_recorded_again_is_updated_and_every_change_is_audited(session: Session) -> None:
    first = record_event(session, YEAR, "press", when="2024-08-20", title="报道", detail="某报", by="周晓梅")
    again = record_event(session, YEAR, "宣传", when="2024年8月20日", title=" 报道 ", detail="某报和某日报")
    other = record_event(session, YEAR, "培训", when="2024-11", title="业务培训")
    session.commit()
    assert again.id == first.id and again.detail == "某报和某日报"
    assert [(e.kind, e.title) for e in events_of(session, YEAR)] == [("培训", "业务培训"), ("宣传", "报道")]
    assert events_of(session, YEAR + 1) == []

    assert other.id is not None
    remove_event(session, other.id, by="周晓梅")
    session.commit()
    assert [e.kind for e in events_of(session, YEAR)] == ["宣传"]
    actions = [(a.actor, a.action) for a in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()]
    assert actions == [
        ("周晓梅", "work_event.recorded"),
        ("管理员", "work_event.recorded"),
        ("管理员", "work_event.recorded"),
        ("周晓梅", "work_event.removed"),
    ]


def test_the_command_adds_lists_and_removes(db_url: str) -> None:
    def run(*args: str) -> str:
        result = runner.invoke(app, ["events", *args, "--database-url", db_url])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    assert "2024 年没有工作记事" in run("list", "--year", "2024")
    added = run(
        "add", "--year", "2024", "--kind", "考核", "--title", "绩效管理等", "--detail", "三区一县", "--rank", "2"
    )
    assert "#1 考核" in added and "三区一县 第2名" in added
    run("add", "--year", "2024", "--kind", "training", "--date", "2024-12", "--title", "全方位培训")
    listed = run("list", "--year", "2024")
    assert listed.index("#2 培训 12月 全方位培训") < listed.index("#1 考核")
    assert "已删除工作记事 #2" in run("remove", "2")
    assert "全方位培训" not in run("list", "--year", "2024")

    refused = runner.invoke(app, ["events", "add", "--year", "2024", "--kind", "宣传", "--database-url", db_url])
    assert refused.exit_code == 1
    assert "宣传报道须写明发表日期" in " ".join(refused.output.split()) and "Traceback" not in refused.output


def base_rows(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    department = {"code": "D01", "name": "区教育局", "contact": "联系人", "email": "d01@example.cn", "head": "负责人"}
    return {"部门": [department], "项目": [], "工作记事": events}


def event_row(kind: str, when: object = None, title: str = "", detail: str = "", rank: int | None = None) -> dict:
    return {"kind": kind, "when": when, "title": title or None, "detail": detail or None, "rank": rank}


def test_the_base_workbooks_sheet_records_the_years_events(db_url: str, session: Session, tmp_path: Path) -> None:
    rows = [
        event_row("考核", title="绩效目标管理等", detail="三区一县", rank=2),
        event_row("培训", "2024-11", "成本预算绩效管理业务培训"),
        event_row("宣传", datetime(2024, 8, 20), "某区财政管理突出绩效导向", "某日报"),
    ]
    path = write_workbook(tmp_path / "base.xlsx", BASE, base_rows(rows))
    result = import_file(path, year=YEAR, url=db_url)
    assert "工作记事 3 条" in " ".join(result.messages)
    with Session(session.get_bind()) as other:
        entries = len(other.exec(select(AuditEntry)).all())
    import_file(path, year=YEAR, url=db_url)  # imported again: the same events, not twice, nothing changed
    with Session(session.get_bind()) as other:
        assert len(other.exec(select(AuditEntry)).all()) == entries
    found = [(e.kind, e.month, e.day, e.title, e.detail, e.rank, e.source) for e in events_of(session, YEAR)]
    assert found == [
        ("培训", 11, None, "成本预算绩效管理业务培训", "", None, "base.xlsx"),
        ("考核", None, None, "绩效目标管理等", "三区一县", 2, "base.xlsx"),
        ("宣传", 8, 20, "某区财政管理突出绩效导向", "某日报", None, "base.xlsx"),
    ]


def test_a_bad_event_row_refuses_the_whole_workbook(db_url: str, session: Session, tmp_path: Path) -> None:
    rows = [
        event_row("培训", "2024-11", "业务培训"),
        event_row("培训", "2023-11", "上一年度的培训"),
        event_row("宣传", "2024-08-20", "没有媒体的报道"),
    ]
    path = write_workbook(tmp_path / "base.xlsx", BASE, base_rows(rows))
    with pytest.raises(ImportRejected) as caught:
        import_file(path, year=YEAR, url=db_url)
    problems = [(p.sheet, p.row, p.reason) for p in caught.value.problems]
    assert [(sheet, row) for sheet, row, _ in problems] == [("工作记事", 3), ("工作记事", 4)]
    assert "不在 2024 年度" in problems[0][2] and "发表媒体" in problems[1][2]
    assert events_of(session, YEAR) == []

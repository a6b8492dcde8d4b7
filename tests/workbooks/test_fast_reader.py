"""The direct XML reading of plain workbooks gives exactly what openpyxl's reading gives, and hands every
unusual or faulty workbook to openpyxl."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from perfcycle.demo import DemoFiles
from perfcycle.workbooks import reader
from perfcycle.workbooks.formats import BASE, MONITORING, SELF_EVALUATION
from perfcycle.workbooks.reader import ParsedWorkbook, parse_workbook
from perfcycle.workbooks.writer import write_workbook


def both_ways(path: Path, monkeypatch: pytest.MonkeyPatch, kind: str | None = None) -> tuple[Any, Any]:
    """(fast, openpyxl) results of parse_workbook for the same file."""
    fast = parse_workbook(path, kind)
    with monkeypatch.context() as patched:
        patched.setattr(reader, "_fast_read", lambda *args: None)
        slow = parse_workbook(path, kind)
    return fast, slow


def rows(parsed: ParsedWorkbook | None) -> Any:
    assert parsed is not None
    return (
        parsed.kind,
        parsed.sha256,
        parsed.content_digest,
        {name: [(r.row, r.values, r.errors) for r in sheet] for name, sheet in parsed.sheets.items()},
    )


def fast_read(path: Path, kind: str | None = None) -> Any:
    spec = reader.SPECS[kind] if kind else None
    return reader._fast_read(path.read_bytes(), spec, path.name, reader.MAX_ROWS)


@pytest.fixture(scope="module")
def demo_files(demo_2024: DemoFiles) -> list[Path]:
    demo = demo_2024
    return [demo.base, *sorted(Path(demo.submissions).rglob("*.xlsx"))]


def test_demo_workbooks_read_the_same_both_ways(demo_files: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(demo_files) > 20
    for path in demo_files:
        assert fast_read(path) is not None, path  # the fast path really reads them
        (fast, fast_problems), (slow, slow_problems) = both_ways(path, monkeypatch)
        assert fast_problems == slow_problems == []
        assert rows(fast) == rows(slow), path


def test_styled_workbook_with_shared_strings_dates_percent_and_gaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workbook saved the ordinary way (shared strings, styles), as Excel users send them."""
    workbook = openpyxl.Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = "项目监控"
    ws.append(["部门编码", "项目编码", "季度", "累计支出（万元）", "目标完成进度（%）", "完成可能性", "偏差原因"])
    ws.append(["D01", 101, "Q2", 12.5, 0.5, "有可能", None])
    ws["E2"].number_format = "0%"
    ws.append([])
    ws.append(["D01", "P2", "q2", 3, "85%", "确定能", "  进度慢 "])
    ws["G5"] = "x"
    ws["G5"] = None
    path = tmp_path / "monitoring.xlsx"
    workbook.save(path)
    assert fast_read(path) is not None
    (fast, fast_problems), (slow, slow_problems) = both_ways(path, monkeypatch)
    assert fast_problems == slow_problems == []
    assert rows(fast) == rows(slow)
    assert [r.row for r in fast.sheets["项目监控"]] == [2, 4]

    evaluation = write_workbook(
        tmp_path / "self.xlsx",
        SELF_EVALUATION,
        {
            "指标完成": [{"department_code": "D01", "project_code": 101.0, "name": "覆盖学校数", "actual": 12.5}],
            "项目自评": [{"department_code": "D01", "project_code": "P1", "claimed_score": 91}],
            "部门自评": [
                {
                    "department_code": "D01",
                    "claimed_score": "88.5",
                    "evaluated_project_code": "P1",
                    "department_evaluation_score": 90,
                    "published_on": datetime(2025, 3, 31),
                }
            ],
        },
    )
    assert fast_read(evaluation) is not None
    (fast, _), (slow, _) = both_ways(evaluation, monkeypatch)
    assert rows(fast) == rows(slow)
    assert fast.sheets["部门自评"][0].values["published_on"] == date(2025, 3, 31)


@pytest.mark.parametrize(
    "cells",
    [
        {"H2": "=1+1"},  # a formula
        {"H2": "#N/A"},  # text, but in a money column: a cell problem
        {"H2": -5},  # a refused value
    ],
)
def test_unusual_or_faulty_workbooks_go_to_openpyxl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cells: dict[str, Any]
) -> None:
    path = write_workbook(
        tmp_path / "base.xlsx",
        BASE,
        {
            "部门": [{"code": "D01", "name": "区教育局", "contact": "张三", "email": "a@b.cn", "head": "李四"}],
            "项目": [
                {
                    "code": "P1",
                    "department_code": "D01",
                    "name": "义务教育保障",
                    "type": "事业发展类",
                    "attribute": "新增",
                    "budget_wan": 1,
                    "request_wan": 1,
                    "policy_related": True,
                    "high_attention": False,
                }
            ],
        },
    )
    assert fast_read(path) is not None
    workbook = openpyxl.load_workbook(path)
    for ref, value in cells.items():
        workbook["项目"][ref] = value
    workbook.save(path)
    assert fast_read(path) is None
    (_, fast_problems), (_, slow_problems) = both_ways(path, monkeypatch)
    assert fast_problems == slow_problems != []
    column_h = BASE.sheet("项目").columns[7].header
    assert [(p.sheet, p.row, p.column) for p in fast_problems] == [("项目", 2, column_h)]


def test_a_chart_sheet_goes_to_openpyxl(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "monitoring.xlsx", MONITORING, {"项目监控": []})
    workbook = openpyxl.load_workbook(path)
    workbook.create_chartsheet("图表")
    workbook.save(path)
    assert fast_read(path) is None

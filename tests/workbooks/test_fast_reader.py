"""The direct XML reading of plain workbooks gives exactly what openpyxl's reading gives, and hands every
unusual or faulty workbook to openpyxl."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from perfcycle.demo import DemoFiles
from perfcycle.workbooks import reader
from perfcycle.workbooks.formats import BASE, MONITORING, REVIEW_SCORES, SELF_EVALUATION
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


MONITORING_HEADER = ["部门编码", "项目编码", "季度", "累计支出（万元）", "目标完成进度（%）", "完成可能性", "偏差原因"]


def monitoring_workbook(path: Path, rows: list[list[Any]], edit: Any = None) -> Path:
    workbook = openpyxl.Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = "项目监控"
    ws.append(MONITORING_HEADER)
    for row in rows:
        ws.append(row)
    if edit is not None:
        edit(ws)
    workbook.save(path)
    return path


def test_text_codes_and_choices_read_alike_however_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Padded text, numeric codes, choice aliases and a lower-case quarter; gaps and cells beyond the header."""

    def edit(ws: Any) -> None:
        ws["Z6"] = "备注"  # a row with nothing under the header
        ws["H2"] = "表外的说明"  # a cell beyond the header's last column
        ws["D3"].number_format = "0.00"

    path = monitoring_workbook(
        tmp_path / "monitoring.xlsx",
        [
            ["  D01 ", 101, " q2", 12.5, "50%", " 有可能  ", "  进度慢\n  "],
            [" D01", "P\u30002", "Q2", "3", 0.85, "确定能", None],
            [],
            [None, None, None, None, None, None, "   "],
        ],
        edit,
    )
    assert fast_read(path) is not None
    (fast, fast_problems), (slow, slow_problems) = both_ways(path, monkeypatch)
    assert fast_problems == slow_problems == []
    assert rows(fast) == rows(slow)
    first, second = (r.values for r in fast.sheets["项目监控"])
    assert (first["department_code"], first["project_code"], first["quarter"]) == ("D01", "101", "Q2")
    assert (first["likelihood"], first["reason"], second["project_code"]) == ("有可能", "进度慢", "P\u30002")


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("A2", "D0\t1"),  # a control character in a code
        ("C2", None),  # a required cell left empty
        ("D2", "=1+1"),  # a formula typed as text into a money column
        ("F2", "也许"),  # not one of the choices
        ("B3", "P1"),  # the same project twice
        ("H1", "备注"),  # a column that is not in the format
    ],
)
def test_any_problem_sends_the_workbook_to_openpyxl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cell: str, value: Any
) -> None:
    good = [["D01", "P1", "Q2", 1, 50, "有可能", None], ["D01", "P2", "Q2", 2, 60, "确定能", "慢"]]
    path = monitoring_workbook(tmp_path / "good.xlsx", good)
    assert fast_read(path) is not None

    def edit(ws: Any) -> None:
        ws[cell] = value

    path = monitoring_workbook(tmp_path / "bad.xlsx", good, edit)
    assert fast_read(path) is None
    (_, fast_problems), (_, slow_problems) = both_ways(path, monkeypatch)
    assert fast_problems == slow_problems != []


def test_a_time_of_day_goes_to_openpyxl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def edit(ws: Any) -> None:
        ws["D2"].number_format = "hh:mm"

    path = monitoring_workbook(tmp_path / "time.xlsx", [["D01", "P1", "Q2", 0.5, 50, "有可能", None]], edit)
    assert fast_read(path) is None
    (_, fast_problems), (_, slow_problems) = both_ways(path, monkeypatch)
    assert fast_problems == slow_problems != []


def test_rich_text_shared_strings_read_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    def edit(ws: Any) -> None:
        ws["G2"] = CellRichText(["进度", TextBlock(InlineFont(b=True), "偏慢"), "，已督促"])

    path = monitoring_workbook(tmp_path / "rich.xlsx", [["D01", "P1", "Q2", 1, 50, "有可能", None]], edit)
    assert fast_read(path) is not None
    (fast, _), (slow, _) = both_ways(path, monkeypatch)
    assert rows(fast) == rows(slow)
    assert fast.sheets["项目监控"][0].values["reason"] == "进度偏慢，已督促"


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def with_shared_strings(path: Path, extra: dict[int, str]) -> None:
    """Rewrite an openpyxl workbook the way Excel saves one: every text in xl/sharedStrings.xml, the cells
    pointing at it; `extra` replaces the XML inside chosen <si> (rich text runs, phonetic runs)."""
    import zipfile

    from lxml import etree

    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = etree.fromstring(parts["xl/worksheets/sheet1.xml"])
    table = etree.Element(f"{{{MAIN}}}sst", nsmap={None: MAIN})
    for cell in sheet.iter(f"{{{MAIN}}}c"):
        if cell.get("t") == "inlineStr":
            inline = cell.find(f"{{{MAIN}}}is")
            assert inline is not None
            item = etree.SubElement(table, f"{{{MAIN}}}si")
            item.extend(list(inline))
            cell.remove(inline)
            cell.set("t", "s")
            etree.SubElement(cell, f"{{{MAIN}}}v").text = str(len(table) - 1)
    for index, xml in extra.items():
        item = table[index]
        item.clear()
        item.extend(etree.fromstring(f'<si xmlns="{MAIN}">{xml}</si>'))
    parts["xl/worksheets/sheet1.xml"] = etree.tostring(sheet, xml_declaration=True, encoding="UTF-8")
    parts["xl/sharedStrings.xml"] = etree.tostring(table, xml_declaration=True, encoding="UTF-8")
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" '
        b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdStrings" Target="sharedStrings.xml" '
        b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>',
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_shared_strings_with_rich_and_phonetic_runs_read_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = monitoring_workbook(
        tmp_path / "excel.xlsx",
        [["D01", "P1", "Q2", 1, 50, "有可能", "慢"], ["D01", "P2", "Q2", 2, 60, "确定能", "原因"]],
    )
    texts = 7 + 5 + 5  # the texts of the header and of the two rows, in order
    with_shared_strings(
        path,
        {
            texts - 1: "<r><t>进度</t></r><r><rPr><b/></rPr><t>偏慢</t></r><rPh sb='0' eb='1'><t>ジン</t></rPh>",
            texts - 2: "<t>确定能</t><phoneticPr fontId='1'/>",
            6: "<t>偏差原因</t>",
        },
    )
    assert fast_read(path) is not None
    (fast, fast_problems), (slow, slow_problems) = both_ways(path, monkeypatch)
    assert fast_problems == slow_problems == []
    assert rows(fast) == rows(slow)
    assert [r.values["reason"] for r in fast.sheets["项目监控"]] == ["慢", "进度偏慢"]


def test_a_score_sheet_without_its_name_columns_reads_the_same_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The names beside the codes are pre-filled for the scorers' eyes: a sheet without them (deleted, or an
    older template) is read all the same, and with them their text is read but never required."""
    without = openpyxl.Workbook()
    ws = without.active
    assert ws is not None
    ws.title = "复核评分"
    ws.append(["部门编码", "项目编码", "复核得分", "复核意见", "复核人"])
    ws.append(["D01", "P101", 82.5, None, "复核组"])
    bare = tmp_path / "bare.xlsx"
    without.save(bare)
    named = write_workbook(
        tmp_path / "named.xlsx",
        REVIEW_SCORES,
        {"复核评分": [{"department_code": "D01", "project_code": "P101", "score": 82.5, "reviewer": "复核组"}]},
    )
    for path in (bare, named):
        assert fast_read(path, "review_scores") is not None, path
        (fast, fast_problems), (slow, slow_problems) = both_ways(path, monkeypatch, "review_scores")
        assert fast_problems == slow_problems == []
        assert rows(fast)[3] == rows(slow)[3]
        (row,) = fast.sheets["复核评分"]
        assert (row.values["department_code"], row.values["project_code"], row.values["score"]) == (
            "D01",
            "P101",
            Decimal("82.5"),
        )
    misspelt = tmp_path / "misspelt.xlsx"
    ws["F1"], ws["F2"] = "项目名", "义务教育保障"
    without.save(misspelt)
    (problem,) = parse_workbook(misspelt, "review_scores")[1]
    assert (problem.column, problem.reason) == ("项目名", "F 列的列名「项目名」不符合格式，应为「项目名称」")

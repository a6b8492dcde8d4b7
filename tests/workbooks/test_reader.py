"""The workbook reader: every format problem is found, located and explained; good cells convert exactly."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from perfcycle.workbooks.docs import DOCS_PATH, render_workbook_docs
from perfcycle.workbooks.formats import BASE, MONITORING, SELF_EVALUATION, TARGETS
from perfcycle.workbooks.reader import (
    ImportProblem,
    ImportRejected,
    ParsedRow,
    ParsedWorkbook,
    SheetColumns,
    parse_workbook,
    read_workbook,
)
from perfcycle.workbooks.writer import write_workbook

D = Decimal


def base_rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "部门": [
            {"code": "D01", "name": "区教育局", "contact": "张三", "email": "jy@example.cn", "head": "李四"},
            {"code": "D02", "name": "区卫健委", "contact": "王五", "email": "wj@example.cn", "head": "赵六"},
        ],
        "项目": [
            {
                "code": 101,
                "department_code": "D01",
                "name": "义务教育保障",
                "type": "事业发展类",
                "attribute": "新增",
                "budget_wan": D("1234.56"),
                "request_wan": D("600"),
                "policy_related": True,
                "high_attention": False,
            },
            {
                "code": "P102",
                "department_code": "D02",
                "name": "公共卫生服务",
                "type": "机构运行保障类",
                "attribute": "经常性",
                "budget_wan": D("0.01"),
                "request_wan": D("99999999.99"),
                "policy_related": False,
                "high_attention": True,
            },
        ],
    }


@pytest.fixture
def base_file(tmp_path: Path) -> Path:
    return write_workbook(tmp_path / "base.xlsx", BASE, base_rows())


def edit(path: Path, sheet: str, cells: dict[str, Any], out: str | None = None) -> Path:
    """Change cells of a workbook with plain openpyxl, as a user editing in Excel would."""
    workbook = openpyxl.load_workbook(path)
    for ref, value in cells.items():
        workbook[sheet][ref] = value
    target = path.with_name(out) if out else path
    workbook.save(target)
    return target


def problems_of(path: Path, kind: str | None = None, **kw: Any) -> list[ImportProblem]:
    with pytest.raises(ImportRejected) as caught:
        read_workbook(path, kind, **kw)
    return caught.value.problems


def located(problems: list[ImportProblem]) -> list[tuple[str | None, int | None, str | None]]:
    return [(p.sheet, p.row, p.column) for p in problems]


# ------------------------------------------------------------------------------------------ good input


def test_good_base_workbook_converts_exactly(base_file: Path) -> None:
    parsed = read_workbook(base_file)
    assert isinstance(parsed, ParsedWorkbook)
    assert parsed.kind == "base"
    assert parsed.sha256 == hashlib.sha256(base_file.read_bytes()).hexdigest()
    assert set(parsed.sheets) == {s.name for s in BASE.sheets}
    assert parsed.sheets["财政政策"] == [] and parsed.sheets["历年抽查"] == []
    first, second = parsed.sheets["项目"]
    assert first.row == 2 and second.row == 3
    assert first.values["code"] == "101"  # a number typed in a code column is still a code
    assert first.values["budget_wan"] == D("1234.56") and isinstance(first.values["budget_wan"], Decimal)
    assert first.values["request_wan"] == D("600")
    assert second.values["request_wan"] == D("99999999.99")
    assert first.values["policy_related"] is True and first.values["high_attention"] is False
    department = parsed.sheets["部门"][0].values
    assert department["webhook"] is None and department["name"] == "区教育局"
    assert parsed.rows == 4


def test_kind_can_be_given_and_extra_sheets_are_ignored(base_file: Path) -> None:
    workbook = openpyxl.load_workbook(base_file)
    workbook.create_sheet("填表说明")["A1"] = "请按说明填写"
    workbook.save(base_file)
    assert read_workbook(base_file, "base").kind == "base"


def test_blank_rows_are_skipped_and_row_numbers_kept(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "base.xlsx", BASE, base_rows())
    workbook = openpyxl.load_workbook(path)
    ws = workbook["部门"]
    ws.insert_rows(3)  # a blank row between the two departments
    ws["A3"] = "   "
    workbook.save(path)
    rows = read_workbook(path).sheets["部门"]
    assert [r.row for r in rows] == [2, 4]


def test_headers_in_any_order_with_spaces_and_ascii_brackets(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = "项目监控"
    ws.append(
        ["项目编码", " 部门编码 ", "季度", "累计支出(万元)", "目标完成进度(%)", "完成可能性", "偏差原因", None, None]
    )
    ws.append(["P1", "D01", "q2", 12.5, 0.5, "有可能", None])
    ws["E2"].number_format = "0%"  # shown as 50% in Excel
    ws.append(["P2", "D01", "Q2", 3, "85%", "确定能", "  进度慢 "])
    path = tmp_path / "monitoring.xlsx"
    workbook.save(path)
    parsed = read_workbook(path)
    assert parsed.kind == "monitoring"
    first, second = (r.values for r in parsed.sheets["项目监控"])
    assert first["quarter"] == "Q2" and first["target_progress"] == D("50.0")
    assert first["spent_wan"] == D("12.5") and first["reason"] is None
    assert second["target_progress"] == D("85") and second["reason"] == "进度慢"


def test_cell_kinds_convert(tmp_path: Path) -> None:
    path = write_workbook(
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
                    "published_on": datetime(2025, 3, 31, 0, 0),
                }
            ],
        },
    )
    parsed = read_workbook(path)
    indicator = parsed.sheets["指标完成"][0].values
    assert indicator["project_code"] == "101" and indicator["actual"] == D("12.5")
    assert indicator["achievement"] is None
    department = parsed.sheets["部门自评"][0].values
    assert department["claimed_score"] == D("88.5")
    assert department["published_on"] == date(2025, 3, 31)
    edit(path, "部门自评", {"E2": "2025-04-01"})
    assert read_workbook(path).sheets["部门自评"][0].values["published_on"] == date(2025, 4, 1)


def test_operator_aliases_and_text_targets(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"department_code": "D01", "project_code": "P1", "level1": "产出", "level2": "数量", "name": "学校数",
         "operator": "≥", "target": 12, "unit": "所"},
        {"department_code": "D01", "project_code": "P1", "level1": "效益", "level2": "社会效益", "name": "入学率",
         "operator": "≥", "target": "95%", "unit": None},
        {"department_code": "D01", "project_code": "P1", "level1": "满意度", "level2": "服务对象满意度",
         "name": "家长满意", "operator": "定性", "target": "明显提升"},
    ]  # fmt: skip
    path = write_workbook(tmp_path / "targets.xlsx", TARGETS, {"绩效指标": rows})
    edit(path, "绩效指标", {"F2": ">="})
    parsed = read_workbook(path)
    values = [r.values for r in parsed.sheets["绩效指标"]]
    assert values[0]["operator"] == "≥" and values[0]["target"] == "12"
    assert values[1]["target"] == "95%"
    assert values[2]["target"] == "明显提升" and values[2]["weight"] is None


# ------------------------------------------------------------------------------------------- messages


def test_problem_and_rejection_messages() -> None:
    problem = ImportProblem("base.xlsx", "项目", 7, "年度预算（万元）", "不是数字: 'abc'")
    assert str(problem) == "base.xlsx · 工作表「项目」· 第 7 行 · 列「年度预算（万元）」: 不是数字: 'abc'"
    assert str(ImportProblem("base.xlsx", None, None, None, "文件是空的")) == "base.xlsx: 文件是空的"
    assert str(ImportProblem("a.xlsx", "部门", 1, None, "x")) == "a.xlsx · 工作表「部门」· 第 1 行: x"
    rejected = ImportRejected([problem, ImportProblem("base.xlsx", "部门", None, None, "缺少")])
    lines = str(rejected).splitlines()
    assert lines[0] == "文件 base.xlsx 未导入：发现 2 个问题"
    assert lines[1].endswith(str(problem)) and len(lines) == 3


# ------------------------------------------------------------------------------------------ cell problems


@pytest.mark.parametrize(
    ("ref", "value", "column", "reason"),
    [
        ("F2", "abc", "年度预算（万元）", "不是数字: 'abc'"),
        ("F2", -1, "年度预算（万元）", "金额不能为负数: -1"),
        ("F2", 1.234, "年度预算（万元）", "金额最多两位小数（万元）: 1.234"),
        ("F2", "NaN", "年度预算（万元）", "不是有限数字: 'NaN'"),
        ("F2", "inf", "年度预算（万元）", "不是有限数字: 'inf'"),
        ("F2", 1e10, "年度预算（万元）", "金额过大（万元）: 10000000000"),
        ("F2", "=1+2", "年度预算（万元）", "不接受公式，请复制后“粘贴为数值”"),
        ("F2", datetime(2024, 1, 1), "年度预算（万元）", "不是数字（单元格是日期 2024-01-01）"),
        ("H2", "Y", "政策相关", "应填「是」或「否」，不是 'Y'"),
        ("D2", "其他类", "项目类型", "「其他类」不是可选值；可选: 机构运行保障类、事业发展类"),
        ("C2", "   ", "项目名称", "必填"),
        ("B2", None, "部门编码", "必填"),
    ],
)
def test_each_bad_cell_is_one_located_problem(base_file: Path, ref: str, value: Any, column: str, reason: str) -> None:
    edit(base_file, "项目", {ref: value})
    assert problems_of(base_file) == [ImportProblem("base.xlsx", "项目", 2, column, reason)]


def test_formula_in_a_text_column_is_refused_too(base_file: Path) -> None:
    edit(base_file, "部门", {"B2": '="区"&"教育局"'})
    (problem,) = problems_of(base_file)
    assert (problem.sheet, problem.row, problem.column) == ("部门", 2, "部门名称")
    assert "不接受公式" in problem.reason


def test_every_problem_is_listed_not_just_the_first(base_file: Path) -> None:
    edit(base_file, "项目", {"F2": "abc", "G3": -2, "I3": "不知道"})
    edit(base_file, "部门", {"B3": None})
    problems = problems_of(base_file)
    assert located(problems) == [
        ("部门", 3, "部门名称"),
        ("项目", 2, "年度预算（万元）"),
        ("项目", 3, "预算年度申请（万元）"),
        ("项目", 3, "社会关注度高"),
    ]
    assert "发现 4 个问题" in str(ImportRejected(problems))


def test_duplicate_key_names_the_first_row(base_file: Path) -> None:
    edit(base_file, "项目", {"A3": " 101 "})
    (problem,) = problems_of(base_file)
    assert (problem.sheet, problem.row, problem.column) == ("项目", 3, "项目编码")
    assert problem.reason.startswith("与第 2 行重复（101）")


def test_composite_key_duplicate(tmp_path: Path) -> None:
    row = {"department_code": "D01", "project_code": "P1", "quarter": "Q1", "spent_wan": 1,
           "target_progress": 20, "likelihood": "确定能"}  # fmt: skip
    path = write_workbook(tmp_path / "m.xlsx", MONITORING, {"项目监控": [row, row]})
    (problem,) = problems_of(path)
    assert (problem.row, problem.column) == (3, "项目编码、季度")
    assert "与第 2 行重复（P1 + Q1）" in problem.reason


def test_lenient_parse_keeps_the_rows_with_refused_cells_marked(base_file: Path) -> None:
    edit(base_file, "项目", {"F2": "abc"})
    parsed, problems = parse_workbook(base_file)
    assert parsed is not None and len(problems) == 1
    row = parsed.sheets["项目"][0]
    assert row.values["budget_wan"] is None and row.errors == {"budget_wan"}
    assert row.values["department_code"] == "D01"


# -------------------------------------------------------------------------------------------- headers


def test_wrong_header_is_one_problem(base_file: Path) -> None:
    edit(base_file, "部门", {"B1": "部门名"})
    (problem,) = problems_of(base_file)
    assert (problem.sheet, problem.row, problem.column) == ("部门", 1, "部门名")
    assert problem.reason == "B 列的列名「部门名」不符合格式，应为「部门名称」"


def test_extra_duplicate_and_missing_headers(base_file: Path) -> None:
    edit(base_file, "部门", {"H1": "备注", "H2": "x"})
    (extra,) = problems_of(base_file)
    assert extra.column == "备注" and "不是本工作表的列" in extra.reason
    edit(base_file, "部门", {"H1": "部门编码", "H2": None})
    (duplicate,) = problems_of(base_file)
    assert duplicate.column == "部门编码" and duplicate.reason == "表头重复：H 列与 A 列同名"
    edit(base_file, "部门", {"H1": None, "B1": None, "C1": None})
    problems = problems_of(base_file)
    assert [(p.column, p.reason) for p in problems] == [
        ("部门名称", "B 列的表头为空（合并单元格？），应为「部门名称」"),
        ("联系人", "C 列的表头为空（合并单元格？），应为「联系人」"),
    ]  # and the required cells under them are not blamed as well
    edit(base_file, "部门", {"B1": "部门名称", "C1": "联系人", "F1": None, "G1": None})
    problems = problems_of(base_file)  # blank at the right end: those columns are simply missing
    assert [(p.column, p.reason) for p in problems] == [("部门负责人", "缺少此列"), ("负责人邮箱", "缺少此列")]


def test_merged_header_cells(base_file: Path) -> None:
    workbook = openpyxl.load_workbook(base_file)
    workbook["部门"].merge_cells("A1:B1")
    workbook.save(base_file)
    (problem,) = problems_of(base_file)
    assert (problem.sheet, problem.row, problem.column) == ("部门", 1, "部门名称")
    assert "合并单元格" in problem.reason


def test_title_row_above_the_header(base_file: Path) -> None:
    workbook = openpyxl.load_workbook(base_file)
    workbook["部门"].insert_rows(1)
    workbook["部门"]["A1"] = "2024年部门基础信息表"
    workbook.save(base_file)
    (problem,) = problems_of(base_file)
    assert (problem.sheet, problem.row) == ("部门", 1)
    assert "表头必须在第 1 行" in problem.reason


def test_a_sheet_without_any_known_header(base_file: Path) -> None:
    workbook = openpyxl.load_workbook(base_file)
    ws = workbook["部门"]
    ws.delete_rows(1, ws.max_row)
    ws.append(["甲", "乙"])
    ws.append(["1", "2"])
    workbook.save(base_file)
    (problem,) = problems_of(base_file)
    assert problem.reason.startswith("第 1 行不是本工作表的表头；应包含列: 部门编码、部门名称")


# ---------------------------------------------------------------------------------------------- sheets


def test_missing_sheet(base_file: Path) -> None:
    workbook = openpyxl.load_workbook(base_file)
    del workbook["项目"]
    workbook.save(base_file)
    (problem,) = problems_of(base_file, "base")
    assert problem.sheet is None and problem.reason.startswith("缺少工作表「项目」")
    (unknown,) = problems_of(base_file)
    assert unknown.reason.startswith("无法识别表格类型") and "绩效指标" in unknown.reason


def test_optional_sheets_may_be_absent(base_file: Path) -> None:
    workbook = openpyxl.load_workbook(base_file)
    for name in ("财政政策", "历年抽查", "历年评价"):
        del workbook[name]
    workbook.save(base_file)
    parsed = read_workbook(base_file)
    assert parsed.sheets["财政政策"] == [] and len(parsed.sheets["项目"]) == 2


def test_empty_sheets(base_file: Path) -> None:
    workbook = openpyxl.load_workbook(base_file)
    for name in ("财政政策", "部门"):
        ws = workbook[name]
        ws.delete_rows(1, ws.max_row)
    workbook.save(base_file)
    (problem,) = problems_of(base_file)  # the optional 财政政策 may be empty, the required 部门 may not
    assert (problem.sheet, problem.row) == ("部门", 1) and problem.reason.startswith("工作表是空的")


def test_unknown_kind_argument(base_file: Path) -> None:
    (problem,) = problems_of(base_file, "budget")
    assert "未知的表格类型 'budget'" in problem.reason


def test_row_limit(base_file: Path) -> None:
    problems = problems_of(base_file, max_rows=3)
    assert [(p.sheet, p.row) for p in problems] == [("项目", 3)]
    assert problems[0].reason.startswith("数据行超过上限 3 行")


# ----------------------------------------------------------------------------------------------- files


def test_missing_file(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path / "nope.xlsx")
    assert problem == ImportProblem("nope.xlsx", None, None, None, "文件不存在")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    assert str(problems_of(path)[0]) == "empty.xlsx: 文件是空的（0 字节）"


def test_garbage_renamed_to_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    path.write_text("部门编码,部门名称\nD01,教育局\n", encoding="utf-8")
    (problem,) = problems_of(path)
    assert problem.reason.startswith("不是 Excel 工作簿（.xlsx）")


def test_old_xls_or_password_protected(tmp_path: Path) -> None:
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024)
    (problem,) = problems_of(path)
    assert "旧版 .xls" in problem.reason and "密码" in problem.reason


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    (problem,) = problems_of(path)
    assert "不是 Excel 工作簿" in problem.reason and "Word" in problem.reason


def test_truncated_zip(base_file: Path) -> None:
    base_file.write_bytes(base_file.read_bytes()[:200])
    (problem,) = problems_of(base_file)
    assert problem.file == "base.xlsx" and problem.sheet is None


def test_broken_workbook_part(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "not xml")
    (problem,) = problems_of(path)
    assert problem.reason.startswith("无法读取工作簿")


def test_size_limit(base_file: Path) -> None:
    (problem,) = problems_of(base_file, max_bytes=100)
    assert problem.reason.startswith("文件过大")


def test_any_extension_is_read_by_content(base_file: Path) -> None:
    renamed = base_file.rename(base_file.with_suffix(".XLSX.bak"))
    assert read_workbook(renamed).kind == "base"


# ------------------------------------------------------------------------------------------------ docs


def test_docs_are_generated_from_the_specs() -> None:
    text = render_workbook_docs()
    for header in ("年度预算（万元）", "目标完成进度（%）", "<dir>/monitoring/Q1/*.xlsx", "<dir>/targets/*.xlsx"):
        assert header in text or header.replace("<dir>/", "") in text
    assert DOCS_PATH.read_text(encoding="utf-8") == text, "run: python -m perfcycle.workbooks.docs"


# ------------------------------------------------------------------------------- as spreadsheets save them

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


def test_text_codes_and_choices_however_typed(tmp_path: Path) -> None:
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
    first, second = read_workbook(path).sheets["项目监控"]
    assert (first.row, second.row) == (2, 3)
    assert first.values == {
        "department_code": "D01",
        "project_code": "101",
        "quarter": "Q2",
        "spent_wan": D("12.5"),
        "target_progress": D("50"),
        "likelihood": "有可能",
        "reason": "进度慢",
    }
    assert (second.values["project_code"], second.values["spent_wan"], second.values["target_progress"]) == (
        "P\u30002",
        D("3"),
        D("0.85"),
    )


def test_rich_text_reads_as_its_text(tmp_path: Path) -> None:
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    def edit(ws: Any) -> None:
        ws["G2"] = CellRichText(["进度", TextBlock(InlineFont(b=True), "偏慢"), "，已督促"])

    path = monitoring_workbook(tmp_path / "rich.xlsx", [["D01", "P1", "Q2", 1, 50, "有可能", None]], edit)
    assert read_workbook(path).sheets["项目监控"][0].values["reason"] == "进度偏慢，已督促"


def test_coloured_rich_text_is_not_taken_for_a_cell(tmp_path: Path) -> None:
    """A run's <color> inside a cell's inline text starts like a cell (<c): the cells around it read in place."""
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    def edit(ws: Any) -> None:
        ws["G2"] = CellRichText(["进度", TextBlock(InlineFont(color="FFFF0000"), "偏慢")])

    rows = [["D01", "P1", "Q2", 1, 50, "有可能", None], ["D01", "P2", "Q2", 2, 60, "确定能", "按期"]]
    path = monitoring_workbook(tmp_path / "coloured.xlsx", rows, edit)
    with zipfile.ZipFile(path) as archive:
        assert b"<color" in archive.read("xl/worksheets/sheet1.xml")
    read = read_workbook(path).sheets["项目监控"]
    assert [(row.row, row.values["project_code"], row.values["reason"]) for row in read] == [
        (2, "P1", "进度偏慢"),
        (3, "P2", "按期"),
    ]


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def with_shared_strings(path: Path, extra: dict[int, str]) -> None:
    """Rewrite an openpyxl workbook the way Excel saves one: every text in xl/sharedStrings.xml, the cells
    pointing at it; `extra` replaces the XML inside chosen <si> (rich text runs, phonetic runs)."""
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


def test_shared_strings_with_rich_and_phonetic_runs(tmp_path: Path) -> None:
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
    rows = read_workbook(path).sheets["项目监控"]
    assert [(r.values["likelihood"], r.values["reason"]) for r in rows] == [("有可能", "慢"), ("确定能", "进度偏慢")]


def test_a_score_sheet_without_its_name_columns(tmp_path: Path) -> None:
    """The names beside the codes are pre-filled for the scorers' eyes: a sheet without them (deleted, or an
    older template) is read all the same, and with them their text is read but never required."""
    from perfcycle.workbooks.formats import REVIEW_SCORES

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
        (row,) = read_workbook(path, "review_scores").sheets["复核评分"]
        assert (row.values["department_code"], row.values["project_code"], row.values["score"]) == (
            "D01",
            "P101",
            D("82.5"),
        )
    misspelt = tmp_path / "misspelt.xlsx"
    ws["F1"], ws["F2"] = "项目名", "义务教育保障"
    without.save(misspelt)
    (problem,) = parse_workbook(misspelt, "review_scores")[1]
    assert (problem.column, problem.reason) == ("项目名", "F 列的列名「项目名」不符合格式，应为「项目名称」")


@pytest.mark.parametrize(
    ("value", "number_format", "reason"),
    [
        ("=1+1", None, "不接受公式，请复制后“粘贴为数值”"),
        ("#N/A", None, "单元格是错误值 #N/A"),
        (-5, None, "金额不能为负数: -5"),
        (0.5, "hh:mm", "不是数字（单元格是时间 12:00:00）"),
        (2, "0.00%", None),
    ],
)
def test_formulas_errors_and_formats_are_seen_in_each_cell(
    base_file: Path, value: Any, number_format: str | None, reason: str | None
) -> None:
    workbook = openpyxl.load_workbook(base_file)
    workbook["项目"]["G2"] = value
    if number_format:
        workbook["项目"]["G2"].number_format = number_format
    workbook.save(base_file)
    if reason is None:  # a money cell shown as a percentage keeps its value
        assert read_workbook(base_file).sheets["项目"][0].values["request_wan"] == D(value)
        return
    assert problems_of(base_file) == [ImportProblem("base.xlsx", "项目", 2, "预算年度申请（万元）", reason)]


# ------------------------------------------------------------------------------------------ the digest


def reference_json(kind: Any, sheets: dict[Any, list[Any]]) -> str:
    """The digest text as it has always been made (the stored digests were made of it)."""
    canonical = [
        [name, [[(key, str(row.values[key])) for key in sorted(row.values)] for row in rows]]
        for name, rows in sorted(sheets.items())
    ]
    return json.dumps([kind, canonical], ensure_ascii=False)


AWKWARD = ['a"b\\c', "100% %s %%d", "tab\tnew\nline\r", "\x00\x1f\x7f", "\u2028\U0001f600", "", " 部门 "]


@pytest.mark.parametrize(
    "sheets",
    [
        {},
        {"空": []},
        {"表": [ParsedRow(2, {"b": value, "a%": "x"}) for value in AWKWARD]},
        {"表": [ParsedRow(2, {"only": value}) for value in AWKWARD]},
        {"表": [ParsedRow(2, {}), ParsedRow(3, {})]},
        {
            "数": [ParsedRow(2, {"n": D("1.50"), "d": date(2025, 3, 31), "t": True, "i": 7, "none": None})],
            "另": [ParsedRow(2, {"when": datetime(2025, 1, 2, 3, 4), "f": 0.1})],
        },
        {"不齐": [ParsedRow(2, {"a": 1, "b": 2}), ParsedRow(3, {"a": 1, "c": 2}), ParsedRow(4, {"a": 1})]},
        {'%s"': [ParsedRow(2, {'k"%': "v", "k\\": "w"})]},
    ],
    ids=["none", "empty sheet", "awkward text", "one key", "no keys", "value types", "uneven keys", "awkward names"],
)
def test_the_digest_is_the_one_it_always_was(sheets: dict[str, list[ParsedRow]]) -> None:
    parsed = ParsedWorkbook(path=Path("x.xlsx"), kind="targets", sha256="", sheets=sheets)
    assert parsed.content_digest == hashlib.sha256(reference_json("targets", sheets).encode()).hexdigest()


@pytest.mark.parametrize(
    "columns",
    [
        {},
        {"空": SheetColumns([], [], [])},
        {"表": SheetColumns(list(range(2, 9)), ["b", "a%"], [AWKWARD, ["x"] * len(AWKWARD)])},
        {"表": SheetColumns([2, 3], [], [])},
        {
            "数": SheetColumns(
                [2, 3],
                ["n", "d", "t", "none"],
                [[D("1.50"), D("-0E+2")], [date(2025, 3, 31)] * 2, [True, 7], [None, "x"]],
            ),
            "另": SheetColumns([5], ["missing", "f"], [[None], [0.1]], {0: {"f"}}, frozenset({"missing"})),
        },
        {'%s"': SheetColumns([2], ['k"%', "k\\"], [["v"], ["w"]])},
    ],
    ids=["none", "empty sheet", "awkward text", "no keys", "value types", "awkward names"],
)
def test_the_digest_of_the_columns_as_read_is_that_of_their_rows(columns: dict[str, SheetColumns]) -> None:
    parsed = ParsedWorkbook(Path("x.xlsx"), "targets", "", columns=columns)
    rows = {name: sheet.rows() for name, sheet in columns.items()}
    assert parsed.content_digest == hashlib.sha256(reference_json("targets", rows).encode()).hexdigest()
    assert parsed.rows == sum(map(len, rows.values()))
    assert [(r.row, r.values, r.errors) for rows in parsed.sheets.values() for r in rows] == [
        (r.row, r.values, r.errors) for rows in rows.values() for r in rows
    ]

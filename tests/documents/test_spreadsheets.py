"""The generated spreadsheets read back with openpyxl as they were meant: values, fonts, fills, borders,
number formats, widths, frozen rows, drop-down lists and properties; the 申报表 imports back through both of
the reader's paths; the same data gives the same bytes."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from models.tables import Cycle, Department, Project, Selection
from perfcycle.documents import target_form_contexts, write_budget_table, write_monitoring_summary, write_target_form
from perfcycle.documents.catalog import GROUPS, write_documents
from perfcycle.documents.contexts import FormIndicator, FormProject, TargetFormContext
from perfcycle.documents.sheetml import png_size
from perfcycle.workbooks.formats import LEVEL1, LEVEL2, OPERATORS, TARGETS
from perfcycle.workbooks.reader import read_workbook
from perfcycle.workbooks.writer import MAX_VALIDATED_ROW, write_workbook
from tests.documents.records import INDICATORS, YEAR, Arranged

SHEET = TARGETS.sheets[0]
STAMP = dt.datetime(YEAR, 12, 31)


def look(cell: Any) -> tuple[object, ...]:
    """What a cell looks like: font, fill, borders, alignment, number format."""
    font, fill, border, align = cell.font, cell.fill, cell.border, cell.alignment
    return (
        (font.name, font.size, bool(font.b)),
        (fill.fill_type, fill.fgColor.rgb if fill.fill_type else None),
        tuple(side.style for side in (border.left, border.right, border.top, border.bottom)),
        (align.horizontal, align.vertical, bool(align.wrap_text)),
        cell.number_format,
    )


def read_back(value: object) -> object:
    """What openpyxl reads from a cell written with `value`."""
    if value == "":
        return None
    return float(value) if isinstance(value, Decimal) else value


THIN = ("thin",) * 4
NO_BORDER = (None,) * 4
HEADER = (("宋体", 11, True), ("solid", "00D9D9D9"), THIN, ("center", "center", True), "General")
BODY = (("宋体", 11, False), (None, None), THIN, (None, None, False), "General")


def form_with(**changes: Any) -> TargetFormContext:
    """A one-project, one-indicator form, its fields changed as given."""
    project = FormProject(
        project_code="P01",
        project_name="项目",
        project_type="事业发展类",
        attribute="新增",
        budget_wan=Decimal("12.50"),
        request_wan=Decimal("13.00"),
        required_levels="产出、效益、满意度",
        status_label="审核通过",
        reasons="",
    )
    indicator = FormIndicator(
        department_code="D01",
        project_code="P01",
        level1="产出",
        level2="数量",
        name="新建校舍面积",
        operator="≥",
        target="12000",
        unit="平方米",
        weight=Decimal("30"),
    )
    fields = {"indicator": {}, "project": {}} | changes
    return TargetFormContext(
        district="测试区",
        year=YEAR,
        budget_year=YEAR + 1,
        department_code="D01",
        department_name="测试部门01",
        projects=[project.model_copy(update=fields["project"])],
        indicators=[indicator.model_copy(update=fields["indicator"])],
    )


def test_target_form_reads_back_with_its_format(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    form = next(f for f in target_form_contexts(session, arranged.cycle_id) if f.department_code == "D01")
    path = tmp_path / "D01.xlsx"
    write_target_form(form, path)
    workbook = load_workbook(path)
    assert workbook.sheetnames == [SHEET.name, "项目清单", "填报说明"]
    props = workbook.properties
    assert (props.creator, props.lastModifiedBy) == ("perfcycle", "perfcycle")
    assert (props.created, props.modified) == (STAMP, STAMP)

    ws = workbook[SHEET.name]
    assert [c.value for c in ws[1]] == SHEET.headers
    assert {look(c) for c in ws[1]} == {HEADER}
    prefilled = [r for r in INDICATORS if r[0] in ("P01", "P02")]
    assert ws.max_row == 1 + len(prefilled) and ws.max_column == len(SHEET.columns)
    for row, indicator in zip(ws.iter_rows(min_row=2), form.indicators, strict=True):
        values = indicator.model_dump()
        assert [c.value for c in row] == [read_back(values[c.field]) for c in SHEET.columns]
        assert {look(c) for c in row} == {BODY}
    assert ws["I3"].value == 30 and ws["I2"].value is None  # a blank weight is still a bordered cell
    widths = {letter: d.width for letter, d in ws.column_dimensions.items()}
    assert widths == {chr(ord("A") + i): 30 if c.field == "name" else 14 for i, c in enumerate(SHEET.columns)}
    assert ws.freeze_panes == "A2"

    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    lists = {
        "A": "'填报说明'!$B$3",
        "B": "'项目清单'!$A$2:$A$3",
        "C": '"' + ",".join(LEVEL1) + '"',
        "D": '"' + ",".join(LEVEL2) + '"',
        "F": '"' + ",".join(OPERATORS) + '"',
    }
    assert set(validations) == {f"{letter}2:{letter}{MAX_VALIDATED_ROW}" for letter in lists}
    for letter, formula in lists.items():
        dv = validations[f"{letter}2:{letter}{MAX_VALIDATED_ROW}"]
        header = ws[f"{letter}1"].value
        assert (dv.type, dv.formula1, dv.allow_blank, dv.showErrorMessage) == ("list", formula, False, True)
        assert (dv.error, dv.errorTitle) == (f"请从下拉列表中选择{header}", header)

    projects = workbook["项目清单"]
    assert {look(c) for c in projects[1]} == {(*HEADER[:3], (None, None, False), "General")}
    assert [[c.value for c in row][:6] for row in projects.iter_rows(min_row=2)] == [
        [p.project_code, p.project_name, p.project_type, p.attribute, float(p.budget_wan), float(p.request_wan)]
        for p in form.projects
    ]
    assert [projects.cell(row=2, column=c).number_format for c in (4, 5, 6, 7)] == [
        "General",
        "#,##0.00",
        "#,##0.00",
        "General",
    ]
    assert look(projects["E2"])[:4] == BODY[:4]
    assert [projects.column_dimensions[c].width for c in "ABCDEFGHI"] == [16, 32, 14, 10, 14, 16, 18, 10, 40]
    assert projects.freeze_panes == "A2"

    guide = workbook["填报说明"]
    assert guide["B1"].value == f"测试区{YEAR}年度{TARGETS.title}" and guide["B3"].value == "D01"
    assert look(guide["B1"])[0] == ("宋体", 14, True)
    assert look(guide["A2"]) == (("宋体", 11, True), (None, None), NO_BORDER, (None, None, False), "General")
    assert look(guide["B2"])[3] == (None, "top", True)
    assert (guide.column_dimensions["A"].width, guide.column_dimensions["B"].width) == (16, 90)
    assert guide.freeze_panes is None and guide.max_row == 5 + len(SHEET.columns)


def test_target_form_imports_back(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    form = next(f for f in target_form_contexts(session, arranged.cycle_id) if f.department_code == "D01")
    path = tmp_path / "D01.xlsx"
    write_target_form(form, path)
    rows = [r.values for r in read_workbook(path, "targets").sheets[SHEET.name]]
    assert [(r["project_code"], r["name"], r["target"], r["weight"]) for r in rows] == [
        (i.project_code, i.name, i.target, i.weight) for i in form.indicators
    ]

    # Filled in and saved again by a spreadsheet program (openpyxl here), it still imports.
    book = load_workbook(path)
    sheet = book[SHEET.name]
    sheet.append(["D01", "P02", "满意度", "服务对象满意度", "群众满意度", "≥", 95, "%", None])
    book.save(tmp_path / "filled.xlsx")
    filled = read_workbook(tmp_path / "filled.xlsx", "targets").sheets[SHEET.name]
    assert [r.values for r in filled[:-1]] == rows
    assert (filled[-1].values["name"], filled[-1].values["target"]) == ("群众满意度", "95")


def test_text_stays_text_whatever_it_holds(tmp_path: Path) -> None:
    name = '=SUM(A1) & <b>"引号"</b>'
    form = form_with(
        indicator={"name": name, "unit": " 个 ", "target": "第一行\r\n第二行"}, project={"reasons": "a\tb"}
    )
    path = tmp_path / "form.xlsx"
    write_target_form(form, path)
    workbook = load_workbook(path)
    ws = workbook[SHEET.name]
    assert (ws["E2"].value, ws["E2"].data_type) == (name, "s")  # never a formula
    assert (ws["H2"].value, ws["G2"].value) == (" 个 ", "第一行\r\n第二行")
    assert workbook["项目清单"]["I2"].value == "a\tb"
    parsed = read_workbook(path, "targets").sheets[SHEET.name][0].values
    assert parsed["name"] == name and parsed["unit"] == "个"


def excel_shows(stored: str) -> str:
    """The text Excel shows for a cell's stored text: `_xHHHH_` is U+HHHH (ECMA-376 Part 1, 22.9.2.19)."""
    return re.sub(r"_x([0-9A-F]{4})_", lambda code: chr(int(code[1], 16)), stored, flags=re.IGNORECASE)


ESCAPE_LIKE = [
    "_x0041__x0001_",
    "_x005F_x0041_",
    "a_X00E9_b",
    "bell\x07 and\x1f",
    '=HYPERLINK("http://example.invalid","点我")',
    "_x004_ _x00411_ x0041_",
]


@pytest.mark.parametrize("text", ESCAPE_LIKE)
def test_record_text_is_shown_as_written_never_decoded_nor_a_formula(tmp_path: Path, text: str) -> None:
    path = tmp_path / "form.xlsx"
    write_target_form(form_with(indicator={"name": text}, project={"project_name": text}), path)
    workbook = load_workbook(path)
    for cell in (workbook[SHEET.name]["E2"], workbook["项目清单"]["B2"]):
        assert cell.data_type == "s"
        assert excel_shows(cell.value) == text
    with zipfile.ZipFile(path) as archive:
        assert not any(b"<f>" in archive.read(name) for name in archive.namelist() if "worksheets" in name)


@pytest.mark.parametrize("fast", [False, True])
def test_written_workbooks_show_record_text_as_written(tmp_path: Path, fast: bool) -> None:
    path = write_workbook(tmp_path / "form.xlsx", TARGETS, {SHEET.name: [{"name": t} for t in ESCAPE_LIKE]}, fast=fast)
    cells = [row[4] for row in load_workbook(path)[SHEET.name].iter_rows(min_row=2)]
    assert [(excel_shows(c.value), c.data_type) for c in cells] == [(t, "s") for t in ESCAPE_LIKE]


def test_generated_spreadsheets_hold_no_formula_or_escape_from_a_record(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    """Every spreadsheet of the cycle, from records whose names look like formulas and escapes."""
    hostile = '=HYPERLINK("http://example.invalid","点我")_x0041__x0001_'
    for row in [*session.exec(select(Department)), *session.exec(select(Project)), *session.exec(select(Selection))]:
        row.name = f"{row.name}{hostile}"
        session.add(row)
    session.commit()
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    kinds = [k for group in GROUPS.values() for k in group]
    sheets = [d.path for d in write_documents(session, cycle, tmp_path, kinds) if d.path.suffix == ".xlsx"]
    assert len(sheets) >= 5
    shown = 0
    for path in sheets:
        for ws in load_workbook(path).worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if cell.data_type == "f":
                        assert "HYPERLINK" not in str(cell.value) and "_x" not in str(cell.value), (path, cell)
                    elif isinstance(cell.value, str) and "HYPERLINK" in cell.value:
                        assert excel_shows(cell.value).endswith(hostile), (path.name, cell.coordinate, cell.value)
                        shown += 1
    assert shown >= len(sheets)


def test_numbers_are_written_exactly(tmp_path: Path) -> None:
    form = form_with(project={"budget_wan": Decimal("513.18"), "request_wan": Decimal("30.00")})
    path = tmp_path / "form.xlsx"
    write_target_form(form, path)
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet2.xml").decode()
    assert "<v>513.18</v>" in sheet and "<v>30</v>" in sheet
    row = next(load_workbook(path)["项目清单"].iter_rows(min_row=2, values_only=True))
    assert row[4:6] == (513.18, 30) and isinstance(row[5], int)


def test_same_data_same_bytes(tmp_path: Path) -> None:
    form = form_with()
    first = write_target_form(form, tmp_path / "a.xlsx")
    assert write_target_form(form, tmp_path / "b.xlsx") == first
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    assert write_target_form(form_with(indicator={"target": "12001"}), tmp_path / "c.xlsx") != first
    # The same amounts read back from the database with more decimal places are the same file.
    stored = form_with(project={"budget_wan": Decimal("12.5000"), "request_wan": Decimal("13.0000")})
    assert write_target_form(stored, tmp_path / "d.xlsx") == first
    with zipfile.ZipFile(tmp_path / "a.xlsx") as archive:
        infos = archive.infolist()
    assert infos[0].filename == "[Content_Types].xml"
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}


def test_monitoring_summary_layout(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    path = tmp_path / "Q2.xlsx"
    write_monitoring_summary(session, arranged.cycle_id, "Q2", path)
    workbook = load_workbook(path)
    assert workbook.properties.created == STAMP and workbook.properties.creator == "perfcycle"
    ws = workbook["监控汇总"]
    assert {r.coord for r in ws.merged_cells.ranges} == {"A1:K1"} and ws.row_dimensions[1].height == 28
    assert look(ws["A1"])[0] == ("宋体", 14, True) and ws.freeze_panes == "A3"
    assert {look(c) for c in ws[2]} == {HEADER}
    assert [ws.column_dimensions[c].width for c in "ABCDEFGHIJK"] == [6, 12, 28, 14, 14, 12, 12, 14, 8, 8, 8]
    last = 2 + sum(1 for light in arranged.lights if light.quarter == "Q2")
    assert ws.cell(row=last, column=1).value == last - 2 and ws.cell(row=last + 1, column=1).value is None
    assert [ws.cell(row=3, column=c).number_format for c in range(4, 9)] == ["#,##0.00"] * 2 + ["0.00"] * 3
    red = next(r for r in ws.iter_rows(min_row=3, max_row=last) if r[10].value == "红灯")[10]
    assert look(red) == (("宋体", 11, False), ("solid", "00FFC7CE"), THIN, ("center", None, False), "General")
    counts = [[c.value for c in row] for row in ws.iter_rows(min_row=last + 2, max_col=4)]
    assert counts == [
        [None, None, f"{label}部门数", f'=COUNTIF(K3:K{last},"{label}")'] for label in ("绿灯", "黄灯", "红灯")
    ]
    assert ws.cell(row=last + 4, column=3).fill.fgColor.rgb == "00FFC7CE"

    chart = workbook["亮灯分布"]
    assert chart.freeze_panes is None and {r.coord for r in chart.merged_cells.ranges} == {"A1:E1"}
    assert [c.fill.fgColor.rgb for c in chart[2]] == ["00D9D9D9", "00D9D9D9", "00C6EFCE", "00FFEB9C", "00FFC7CE"]
    (image,) = chart._images
    width, height = png_size(image._data())
    assert (image.anchor._from.row, image.anchor._from.col) == (chart.max_row + 1, 0)
    assert (image.anchor.ext.width, image.anchor.ext.height) == (int(width * 0.64) * 9525, int(height * 0.64) * 9525)


def test_budget_table_layout(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    path = tmp_path / "budget.xlsx"
    write_budget_table(session, arranged.cycle_id, path)
    ws = load_workbook(path).active
    assert ws is not None
    total = 3 + len(arranged.recommendations)
    assert {r.coord for r in ws.merged_cells.ranges} == {"A1:T1", f"A{total}:D{total}"}
    assert ws.freeze_panes == "A3" and ws.column_dimensions["O"].width == 40
    formats = [ws.cell(row=3, column=c).number_format for c in (1, 5, 6, 7, 8, 12, 13, 16, 18, 19)]
    assert formats == ["General", *["#,##0.00"] * 3, "0.00", "0.00%", *["#,##0.00"] * 4]
    assert look(ws["O3"])[3] == (None, "center", True)
    assert look(ws[f"A{total}"]) == (("宋体", 11, True), (None, None), THIN, ("center", None, False), "General")
    assert look(ws[f"E{total}"]) == (("宋体", 11, True), (None, None), THIN, (None, None, False), "#,##0.00")
    assert look(ws[f"F{total}"]) == look(ws[f"E{total}"])  # every money column is totalled
    assert look(ws[f"H{total}"]) == BODY

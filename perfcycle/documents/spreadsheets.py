"""Generated spreadsheets: the quarterly 监控汇总表 (with its light chart), the 预算安排建议表 and each
department's 绩效目标申报表 — deterministic xlsx files (same records → same bytes)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter
from sqlmodel import Session, col, select

from models.tables import BudgetRecommendation, Cycle, Department, DepartmentLight, Project
from perfcycle.documents.charts import chart_png
from perfcycle.documents.contexts import (
    LIGHT_LABELS,
    QUARTER_LABELS,
    ContextError,
    QuarterLights,
    TargetFormContext,
    quarter_light_chart,
)
from perfcycle.documents.renderer import atomic_write, normalize_zip
from perfcycle.money import FEN_PER_WAN
from perfcycle.policy import QUARTERS, policy_from_json
from perfcycle.workbooks.formats import TARGETS
from perfcycle.workbooks.writer import MAX_VALIDATED_ROW

LIGHT_FILLS = {"red": "FFC7CE", "yellow": "FFEB9C", "green": "C6EFCE"}
HEADER_FILL = "D9D9D9"
FONT_NAME = "宋体"
MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.00%"
_CENT = Decimal("0.01")
_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _wan(fen: int) -> Decimal:
    """分 → 万元 with 2 decimals, exact (written to the cell as a decimal number, never via float)."""
    return (Decimal(fen) / FEN_PER_WAN).quantize(_CENT, rounding=ROUND_HALF_UP)


def _cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise ContextError(f"没有编号为 {cycle_id} 的绩效管理周期")
    return cycle


def _district(cycle: Cycle) -> str:
    if cycle.district:
        return cycle.district
    return policy_from_json(cycle.policy_json).district if cycle.policy_json else ""


def _sheet_header(ws: Worksheet, title: str, headers: list[str], widths: list[int]) -> None:
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws.cell(row=1, column=1).font = Font(name=FONT_NAME, size=14, bold=True)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 28
    ws.append(headers)
    for index, width in enumerate(widths, start=1):
        cell = ws.cell(row=2, column=index)
        cell.font = Font(name=FONT_NAME, size=11, bold=True)
        cell.fill = PatternFill(fill_type="solid", start_color=HEADER_FILL, end_color=HEADER_FILL)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = _BORDER
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A3"


def _style_body(ws: Worksheet, first_row: int, last_row: int, columns: int) -> None:
    """Thin borders and the body font (keeping a cell's bold) on a block of cells.

    The style ids are looked up once and set on each cell's style array: assigning `cell.font = Font(...)`
    per cell hashes the whole font every time, which dominated the writing of a large table."""
    workbook = ws.parent
    fonts = workbook._fonts
    font_ids = {bold: fonts.add(Font(name=FONT_NAME, size=11, bold=bold)) for bold in (False, True)}
    border_id = workbook._borders.add(_BORDER)
    for row in ws.iter_rows(min_row=first_row, max_row=last_row, max_col=columns):
        for cell in row:
            style = cell._style
            if style is None:
                style = cell._style = StyleArray()
            style.fontId = font_ids[bool(fonts[style.fontId].b)]
            style.borderId = border_id


def _save(workbook: Workbook, path: Path, stamp: dt.datetime) -> str:
    """Save with fixed document properties and zip timestamps (same records → same bytes), atomically."""
    props = workbook.properties
    props.creator = "perfcycle"
    props.lastModifiedBy = "perfcycle"
    props.created = stamp
    props.modified = stamp
    buffer = io.BytesIO()
    # ExcelWriter directly: openpyxl's save_workbook() would overwrite `modified` with now().
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).save()
    return atomic_write(path, normalize_zip(buffer.getvalue()))


def _stamp(year: int) -> dt.datetime:
    return dt.datetime(year, 12, 31)


@dataclass(frozen=True)
class DepartmentLightRow:
    """The figures of one department's light (a `DepartmentLight` without its database identity)."""

    budget_fen: int
    spent_fen: int
    execution_progress: Decimal | None
    target_progress: Decimal | None
    execution_light: str
    target_light: str
    light: str


@dataclass(frozen=True)
class MonitoringSummary:
    """What a quarter's 监控汇总表 shows, read from the records: plain data, so another process can write it."""

    year: int
    quarter: str
    title: str
    time_progress: Decimal | None
    rows: tuple[tuple[str, str, DepartmentLightRow], ...]  # department code, name, lights
    so_far: tuple[str, ...]  # this quarter and the ones before it
    lights_so_far: tuple[tuple[str, str], ...]  # (quarter, 综合灯) of every department light so far


def monitoring_summary(session: Session, cycle_id: int, quarter: str) -> MonitoringSummary:
    """The records behind the 绩效运行监控汇总表 of a quarter."""
    if quarter not in QUARTERS:
        raise ContextError(f"未知季度: {quarter!r}")
    cycle = _cycle(session, cycle_id)
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    # This quarter and the ones before it (for the chart); never a later quarter, so the summary of a
    # quarter stays the same when it is regenerated later in the year.
    so_far = QUARTERS[: QUARTERS.index(quarter) + 1]
    lights = session.exec(
        select(DepartmentLight).where(DepartmentLight.cycle_id == cycle_id, col(DepartmentLight.quarter).in_(so_far))
    ).all()
    rows = [r for r in lights if r.quarter == quarter]
    ordered = sorted(rows, key=lambda r: departments[r.department_id].code if r.department_id in departments else "")
    policy = policy_from_json(cycle.policy_json) if cycle.policy_json else None
    title = f"{_district(cycle)}{cycle.year}年{QUARTER_LABELS[quarter]}预算绩效运行监控汇总表"

    def row(light: DepartmentLight) -> tuple[str, str, DepartmentLightRow]:
        dept = departments.get(light.department_id)
        figures = DepartmentLightRow(
            light.budget_fen,
            light.spent_fen,
            light.execution_progress,
            light.target_progress,
            light.execution_light,
            light.target_light,
            light.light,
        )
        return (dept.code if dept else "", dept.name if dept else "", figures)

    return MonitoringSummary(
        year=cycle.year,
        quarter=quarter,
        title=title,
        time_progress=policy.monitoring.time_progress[quarter] if policy is not None else None,
        rows=tuple(row(r) for r in ordered),
        so_far=tuple(so_far),
        lights_so_far=tuple((r.quarter, r.light) for r in lights),
    )


def write_monitoring_summary(session: Session, cycle_id: int, quarter: str, path: Path) -> str:
    """绩效运行监控汇总表 of a quarter: one row per department with its progress and coloured lights."""
    return write_monitoring_summary_file(monitoring_summary(session, cycle_id, quarter), path)


def write_monitoring_summary_file(summary: MonitoringSummary, path: Path) -> str:
    """Write a quarter's 监控汇总表 from its data; returns the sha256."""
    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = "监控汇总"
    headers = [
        "序号",
        "部门编码",
        "部门名称",
        "年度预算（万元）",
        "累计支出（万元）",
        "执行进度（%）",
        "序时进度（%）",
        "目标完成进度（%）",
        "执行灯",
        "目标灯",
        "综合灯",
    ]
    _sheet_header(ws, summary.title, headers, [6, 12, 28, 14, 14, 12, 12, 14, 8, 8, 8])
    for index, (code, name, row) in enumerate(summary.rows, start=1):
        r = index + 2  # below the title and header rows
        ws.append(
            [
                index,
                code,
                name,
                _wan(row.budget_fen),
                _wan(row.spent_fen),
                row.execution_progress,
                summary.time_progress,
                row.target_progress,
                LIGHT_LABELS.get(row.execution_light, row.execution_light),
                LIGHT_LABELS.get(row.target_light, row.target_light),
                LIGHT_LABELS.get(row.light, row.light),
            ]
        )
        for column in (4, 5):
            ws.cell(row=r, column=column).number_format = MONEY_FORMAT
        for column in (6, 7, 8):
            ws.cell(row=r, column=column).number_format = "0.00"
        for column, light in ((9, row.execution_light), (10, row.target_light), (11, row.light)):
            cell = ws.cell(row=r, column=column)
            cell.alignment = Alignment(horizontal="center")
            if light in LIGHT_FILLS:
                color = LIGHT_FILLS[light]
                cell.fill = PatternFill(fill_type="solid", start_color=color, end_color=color)
    last = ws.max_row
    _style_body(ws, 3, last, len(headers))
    # Light counts under the table, as formulas over the 综合灯 column.
    ws.append([])
    for light in ("green", "yellow", "red"):
        label = LIGHT_LABELS[light]
        ws.append(["", "", f"{label}部门数", f'=COUNTIF(K3:K{max(last, 3)},"{label}")'])
        ws.cell(row=ws.max_row, column=3).fill = PatternFill(
            fill_type="solid", start_color=LIGHT_FILLS[light], end_color=LIGHT_FILLS[light]
        )
    _light_chart_sheet(workbook, summary.year, summary.so_far, summary.lights_so_far)
    return _save(workbook, path, _stamp(summary.year))


def _light_chart_sheet(
    workbook: Workbook, year: int, quarters: Sequence[str], lights: Sequence[tuple[str, str]]
) -> None:
    """A second sheet: the light counts of each quarter so far, and the stacked-bar chart of them."""
    counts = {q: Counter(light for quarter, light in lights if quarter == q) for q in quarters}
    summary = [
        QuarterLights(
            quarter=q,
            label=QUARTER_LABELS[q],
            departments=sum(counts[q].values()),
            green=counts[q]["green"],
            yellow=counts[q]["yellow"],
            red=counts[q]["red"],
        )
        for q in quarters
        if counts[q]
    ]
    ws = workbook.create_sheet("亮灯分布")
    headers = ["季度", "部门数", LIGHT_LABELS["green"], LIGHT_LABELS["yellow"], LIGHT_LABELS["red"]]
    _sheet_header(ws, f"{year}年各季度部门绩效监控亮灯情况", headers, [12, 10, 10, 10, 10])
    ws.freeze_panes = None
    for q in summary:
        ws.append([q.label, q.departments, q.green, q.yellow, q.red])
    last = ws.max_row
    _style_body(ws, 3, last, len(headers))
    for column, light in ((3, "green"), (4, "yellow"), (5, "red")):
        ws.cell(row=2, column=column).fill = PatternFill(
            fill_type="solid", start_color=LIGHT_FILLS[light], end_color=LIGHT_FILLS[light]
        )
    chart = quarter_light_chart(year, summary)
    if chart is not None:
        image = Image(io.BytesIO(chart_png(chart)))
        # 150 dpi PNG shown at 96 dpi screen pixels: scale so it prints at the size it was drawn.
        image.width, image.height = int(image.width * 0.64), int(image.height * 0.64)
        ws.add_image(image, f"A{last + 2}")


BUDGET_HEADERS = [
    "序号",
    "部门",
    "项目编码",
    "项目名称",
    "预算年度申请（万元）",
    "绩效得分",
    "评价等级",
    "得分来源",
    "压减比例",
    "建议安排（万元）",
    "压减金额（万元）",
    "优先保障",
    "理由",
    "调整后安排（万元）",
    "调整理由",
]
SCORE_SOURCES = {"fiscal": "财政重点评价", "review": "抽查复核", "self": "绩效自评", "none": "无"}


@dataclass(frozen=True)
class BudgetTable:
    """What the 预算安排建议表 shows, read from the records: its title and the cells of each row."""

    year: int
    title: str
    rows: tuple[tuple[object, ...], ...]


def budget_table(session: Session, cycle_id: int) -> BudgetTable:
    """The records behind the 预算安排建议表: one row per project's recommendation."""
    cycle = _cycle(session, cycle_id)
    recommendations = session.exec(select(BudgetRecommendation).where(BudgetRecommendation.cycle_id == cycle_id)).all()
    ids = sorted({r.project_id for r in recommendations})
    projects = {p.id: p for p in session.exec(select(Project).where(col(Project.id).in_(ids))).all()} if ids else {}
    departments = {d.id: d for d in session.exec(select(Department)).all()}

    def key(rec: BudgetRecommendation) -> tuple[str, str]:
        project = projects.get(rec.project_id)
        if project is None:
            return ("", str(rec.project_id))
        dept = departments.get(project.department_id)
        return (dept.code if dept else "", project.code)

    rows = []
    for index, rec in enumerate(sorted(recommendations, key=key), start=1):
        project = projects.get(rec.project_id)
        dept = departments.get(project.department_id) if project else None
        rows.append(
            (
                index,
                dept.name if dept else "",
                project.code if project else "",
                project.name if project else "",
                _wan(rec.request_fen),
                rec.score,
                rec.grade,
                SCORE_SOURCES.get(rec.score_source, rec.score_source),
                rec.cut_ratio,
                _wan(rec.recommended_fen),
                _wan(rec.request_fen - rec.recommended_fen),
                "是" if rec.priority else "",
                rec.reason,
                _wan(rec.override_fen) if rec.override_fen is not None else None,
                rec.override_reason,
            )
        )
    budget_year = recommendations[0].budget_year if recommendations else cycle.budget_year
    return BudgetTable(year=cycle.year, title=f"{_district(cycle)}{budget_year}年预算安排建议表", rows=tuple(rows))


def write_budget_table(session: Session, cycle_id: int, path: Path) -> str:
    """预算安排建议表: one row per project's recommendation, with a 合计 row of SUM formulas."""
    return write_budget_table_file(budget_table(session, cycle_id), path)


def write_budget_table_file(table: BudgetTable, path: Path) -> str:
    """Write the 预算安排建议表 from its data; returns the sha256."""
    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = "预算安排建议"
    _sheet_header(ws, table.title, BUDGET_HEADERS, [6, 24, 14, 30, 14, 10, 8, 12, 10, 14, 14, 8, 36, 14, 24])
    first = 3
    for index, values in enumerate(table.rows, start=1):
        r = first + index - 1  # ws.max_row scans every cell: quadratic over a large table
        ws.append(list(values))
        for column in (5, 10, 11, 14):
            ws.cell(row=r, column=column).number_format = MONEY_FORMAT
        ws.cell(row=r, column=6).number_format = "0.00"
        ws.cell(row=r, column=9).number_format = PERCENT_FORMAT
        ws.cell(row=r, column=13).alignment = Alignment(wrap_text=True, vertical="center")
    last = first + len(table.rows) - 1
    total_row: list[object] = ["合计", *([""] * (len(BUDGET_HEADERS) - 1))]
    if last >= first:
        for column in (5, 10, 11):
            letter = get_column_letter(column)
            total_row[column - 1] = f"=SUM({letter}{first}:{letter}{last})"
    else:
        for column in (5, 10, 11):
            total_row[column - 1] = 0
    ws.append(total_row)
    total = last + 1
    ws.merge_cells(start_row=total, start_column=1, end_row=total, end_column=4)
    for column in (5, 10, 11):
        ws.cell(row=total, column=column).number_format = MONEY_FORMAT
        ws.cell(row=total, column=column).font = Font(name=FONT_NAME, bold=True)
    ws.cell(row=total, column=1).font = Font(name=FONT_NAME, bold=True)
    ws.cell(row=total, column=1).alignment = Alignment(horizontal="center")
    _style_body(ws, first, total, len(BUDGET_HEADERS))
    return _save(workbook, path, _stamp(table.year))


# ---------------------------------------------------------------------------------------------- target form

FORM_PROJECT_HEADERS = [
    "项目编码",
    "项目名称",
    "项目类型",
    "项目属性",
    "年度预算（万元）",
    "预算年度申请（万元）",
    "须设置的一级指标",
    "审核状态",
    "审核意见",
]
FORM_SHEET = TARGETS.sheets[0]
PROJECT_SHEET = "项目清单"
GUIDE_SHEET = "填报说明"


def _quoted(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def write_target_form(form: TargetFormContext, path: Path) -> str:
    """绩效目标申报表 of one department, in the TARGETS import format so it can be filled in and sent back.

    Sheet 绩效指标 has the importer's headers on row 1, the department's declared indicators pre-filled and
    drop-down lists (data validation) for 部门编码, 项目编码, 一级指标, 二级指标 and 运算符; sheet 项目清单 lists
    the department's projects with the levels each must cover and its review status; 填报说明 explains.
    """
    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = FORM_SHEET.name
    columns = list(FORM_SHEET.columns)
    ws.append([c.header for c in columns])
    for index, column in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=index)
        cell.font = Font(name=FONT_NAME, size=11, bold=True)
        cell.fill = PatternFill(fill_type="solid", start_color=HEADER_FILL, end_color=HEADER_FILL)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = _BORDER
        ws.column_dimensions[get_column_letter(index)].width = 30 if column.field == "name" else 14
    for indicator in form.indicators:
        values = indicator.model_dump()
        ws.append([values[c.field] for c in columns])
    _style_body(ws, 2, ws.max_row, len(columns))
    ws.freeze_panes = "A2"

    # Drop-down lists: the spec's choices inline; the department's own codes from the other sheets.
    project_rows = len(form.projects) + 1
    lists = {
        "department_code": f"{_quoted(GUIDE_SHEET)}!$B$3",
        "project_code": f"{_quoted(PROJECT_SHEET)}!$A$2:$A${max(project_rows, 2)}",
    }
    for index, column in enumerate(columns, start=1):
        if column.choices:
            formula = '"' + ",".join(column.choices) + '"'
        elif column.field in lists:
            formula = lists[column.field]
        else:
            continue
        letter = get_column_letter(index)
        validation = DataValidation(type="list", formula1=formula, allow_blank=not column.required)
        validation.error = f"请从下拉列表中选择{column.header}"
        validation.errorTitle = column.header
        validation.showErrorMessage = True
        validation.add(f"{letter}2:{letter}{MAX_VALIDATED_ROW}")
        ws.add_data_validation(validation)

    projects = workbook.create_sheet(PROJECT_SHEET)
    projects.append(FORM_PROJECT_HEADERS)
    for index, width in enumerate([16, 32, 14, 10, 14, 16, 18, 10, 40], start=1):
        header = projects.cell(row=1, column=index)
        header.font = Font(name=FONT_NAME, size=11, bold=True)
        header.fill = PatternFill(fill_type="solid", start_color=HEADER_FILL, end_color=HEADER_FILL)
        header.border = _BORDER
        projects.column_dimensions[get_column_letter(index)].width = width
    for p in form.projects:
        projects.append(
            [
                p.project_code,
                p.project_name,
                p.project_type,
                p.attribute,
                p.budget_wan,
                p.request_wan,
                p.required_levels,
                p.status_label,
                p.reasons,
            ]
        )
        r = projects.max_row
        projects.cell(row=r, column=5).number_format = MONEY_FORMAT
        projects.cell(row=r, column=6).number_format = MONEY_FORMAT
    _style_body(projects, 2, projects.max_row, len(FORM_PROJECT_HEADERS))
    projects.freeze_panes = "A2"

    guide = workbook.create_sheet(GUIDE_SHEET)
    guide.column_dimensions["A"].width = 16
    guide.column_dimensions["B"].width = 90
    lines: list[tuple[str, str]] = [
        ("", f"{form.district}{form.year}年度{TARGETS.title}"),
        ("部门名称", form.department_name),
        ("部门编码", form.department_code),
        ("说明", TARGETS.note),
        ("填报方法", f"在「{FORM_SHEET.name}」工作表中每行填写一个三级指标；项目见「{PROJECT_SHEET}」工作表。"),
    ]
    lines += [
        (c.header, c.note or ("可选：" + "、".join(c.choices) if c.choices else ("必填" if c.required else "选填")))
        for c in columns
    ]
    for label, text in lines:
        guide.append([label, text])
    guide.cell(row=1, column=2).font = Font(name=FONT_NAME, size=14, bold=True)
    for label, text in guide.iter_rows(min_row=2, max_row=guide.max_row, max_col=2):
        label.font = Font(name=FONT_NAME, size=11, bold=True)
        text.alignment = Alignment(wrap_text=True, vertical="top")
    return _save(workbook, path, _stamp(form.year))


#: The spreadsheet writers a rendering job names (perfcycle/documents/catalog.py): data in, sha256 out.
WRITERS: dict[str, Callable[[Any, Path], str]] = {
    "monitoring_summary.xlsx": write_monitoring_summary_file,
    "budget_table.xlsx": write_budget_table_file,
    "target_form.xlsx": write_target_form,
}

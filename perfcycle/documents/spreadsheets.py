"""Generated spreadsheets: the quarterly 监控汇总表 and the 预算安排建议表, deterministic xlsx files."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter
from sqlmodel import Session, col, select

from models.tables import BudgetRecommendation, Cycle, Department, DepartmentLight, Project
from perfcycle.documents.contexts import LIGHT_LABELS, QUARTER_LABELS, ContextError
from perfcycle.documents.renderer import atomic_write, normalize_zip
from perfcycle.money import FEN_PER_WAN
from perfcycle.policy import QUARTERS, policy_from_json

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
    for row in ws.iter_rows(min_row=first_row, max_row=last_row, max_col=columns):
        for cell in row:
            cell.border = _BORDER
            cell.font = Font(name=FONT_NAME, size=11, bold=cell.font.bold)


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


def write_monitoring_summary(session: Session, cycle_id: int, quarter: str, path: Path) -> str:
    """绩效运行监控汇总表 of a quarter: one row per department with its progress and coloured lights."""
    if quarter not in QUARTERS:
        raise ContextError(f"未知季度: {quarter!r}")
    cycle = _cycle(session, cycle_id)
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    rows = session.exec(
        select(DepartmentLight).where(DepartmentLight.cycle_id == cycle_id, DepartmentLight.quarter == quarter)
    ).all()
    ordered = sorted(rows, key=lambda r: departments[r.department_id].code if r.department_id in departments else "")
    policy = policy_from_json(cycle.policy_json) if cycle.policy_json else None
    time_progress = policy.monitoring.time_progress[quarter] if policy is not None else None

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
    title = f"{_district(cycle)}{cycle.year}年{QUARTER_LABELS[quarter]}预算绩效运行监控汇总表"
    _sheet_header(ws, title, headers, [6, 12, 28, 14, 14, 12, 12, 14, 8, 8, 8])
    for index, row in enumerate(ordered, start=1):
        dept = departments.get(row.department_id)
        ws.append(
            [
                index,
                dept.code if dept else "",
                dept.name if dept else "",
                _wan(row.budget_fen),
                _wan(row.spent_fen),
                row.execution_progress,
                time_progress,
                row.target_progress,
                LIGHT_LABELS.get(row.execution_light, row.execution_light),
                LIGHT_LABELS.get(row.target_light, row.target_light),
                LIGHT_LABELS.get(row.light, row.light),
            ]
        )
        r = ws.max_row
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
    return _save(workbook, path, _stamp(cycle.year))


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


def write_budget_table(session: Session, cycle_id: int, path: Path) -> str:
    """预算安排建议表: one row per project's recommendation, with a 合计 row of SUM formulas."""
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

    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = "预算安排建议"
    budget_year = recommendations[0].budget_year if recommendations else cycle.budget_year
    title = f"{_district(cycle)}{budget_year}年预算安排建议表"
    _sheet_header(ws, title, BUDGET_HEADERS, [6, 24, 14, 30, 14, 10, 8, 12, 10, 14, 14, 8, 36, 14, 24])
    first = 3
    for index, rec in enumerate(sorted(recommendations, key=key), start=1):
        project = projects.get(rec.project_id)
        dept = departments.get(project.department_id) if project else None
        ws.append(
            [
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
            ]
        )
        r = ws.max_row
        for column in (5, 10, 11, 14):
            ws.cell(row=r, column=column).number_format = MONEY_FORMAT
        ws.cell(row=r, column=6).number_format = "0.00"
        ws.cell(row=r, column=9).number_format = PERCENT_FORMAT
        ws.cell(row=r, column=13).alignment = Alignment(wrap_text=True, vertical="center")
    last = ws.max_row
    total_row: list[object] = ["合计", *([""] * (len(BUDGET_HEADERS) - 1))]
    if last >= first:
        for column in (5, 10, 11):
            letter = get_column_letter(column)
            total_row[column - 1] = f"=SUM({letter}{first}:{letter}{last})"
    else:
        for column in (5, 10, 11):
            total_row[column - 1] = 0
    ws.append(total_row)
    total = ws.max_row
    ws.merge_cells(start_row=total, start_column=1, end_row=total, end_column=4)
    for column in (5, 10, 11):
        ws.cell(row=total, column=column).number_format = MONEY_FORMAT
        ws.cell(row=total, column=column).font = Font(name=FONT_NAME, bold=True)
    ws.cell(row=total, column=1).font = Font(name=FONT_NAME, bold=True)
    ws.cell(row=total, column=1).alignment = Alignment(horizontal="center")
    _style_body(ws, first, total, len(BUDGET_HEADERS))
    return _save(workbook, path, _stamp(cycle.year))

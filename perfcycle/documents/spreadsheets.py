"""Generated spreadsheets: the quarterly 监控汇总表 (with its light chart), the 预算安排建议表, each
department's 绩效目标申报表 and the score sheets of the review team and the third party — deterministic xlsx
files (same records → same bytes)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from models.tables import (
    BudgetRecommendation,
    Cycle,
    Department,
    DepartmentLight,
    Project,
    Sample,
    SampleMember,
    Selection,
)
from perfcycle.cycle_context import cycle_policy
from perfcycle.documents.charts import chart_png
from perfcycle.documents.contexts import (
    LIGHT_LABELS,
    OBJECT_TYPE_ORDER,
    QUARTER_LABELS,
    ContextError,
    FigureCheckContext,
    QuarterLights,
    TargetFormContext,
    quarter_light_chart,
    quarter_light_rows,
)
from perfcycle.documents.renderer import atomic_write
from perfcycle.documents.sheetml import (
    Calculated,
    CellStyle,
    Formula,
    Picture,
    Sheet,
    Stylesheet,
    png_size,
    xlsx,
)
from perfcycle.figures import ConsequenceFigures, budget_figures, budget_line, consequence_figures, quarter_lights
from perfcycle.money import FEN_PER_WAN, fmt_wan
from perfcycle.policy import QUARTERS
from perfcycle.stages import SUBMISSION_FOLDERS
from perfcycle.workbooks.formats import (
    OBJECT_TYPE_LABELS,
    PANEL_SCORES,
    REVIEW_SCORES,
    SPECS,
    TARGETS,
    THIRD_PARTY_SCORES,
)
from perfcycle.workbooks.printing import PageSetup
from perfcycle.workbooks.writer import MAX_VALIDATED_ROW

LIGHT_FILLS = {"red": "FFC7CE", "yellow": "FFEB9C", "green": "C6EFCE"}
HEADER_FILL = "D9D9D9"
FONT_NAME = "宋体"
MONEY_FORMAT = "#,##0.00"
DECIMAL_FORMAT = "0.00"
PERCENT_FORMAT = "0.00%"
AUTHOR = "perfcycle"
CHART_SCALE = 0.64  # the chart PNG is drawn at 150 dpi; shown at 96 dpi screen pixels it prints at its size
_CENT = Decimal("0.01")
_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_BOLD = Font(name=FONT_NAME, size=11, bold=True)
_BODY_FONT = Font(name=FONT_NAME, size=11)
_TITLE_FONT = Font(name=FONT_NAME, size=14, bold=True)
_HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _solid(color: str) -> PatternFill:
    return PatternFill(fill_type="solid", start_color=color, end_color=color)


def _body(
    number_format: str = "General", alignment: Alignment | None = None, fill: PatternFill | None = None
) -> CellStyle:
    return CellStyle(_BODY_FONT, fill, _BORDER, alignment, number_format)


#: Every cell style of the generated spreadsheets, by name (one style sheet serves all three).
STYLES: dict[str, CellStyle] = {
    "title": CellStyle(_TITLE_FONT, alignment=Alignment(horizontal="center", vertical="center")),
    "header": CellStyle(_BOLD, _solid(HEADER_FILL), _BORDER, _HEADER_ALIGNMENT),
    **{
        f"header_{light}": CellStyle(_BOLD, _solid(color), _BORDER, _HEADER_ALIGNMENT)
        for light, color in LIGHT_FILLS.items()
    },
    "list_header": CellStyle(_BOLD, _solid(HEADER_FILL), _BORDER),
    "body": _body(),
    "money": _body(MONEY_FORMAT),
    "decimal": _body(DECIMAL_FORMAT),
    "percent": _body(PERCENT_FORMAT),
    "wrapped": _body(alignment=Alignment(wrap_text=True, vertical="center")),
    "light": _body(alignment=Alignment(horizontal="center")),
    **{
        f"light_{light}": _body(alignment=Alignment(horizontal="center"), fill=_solid(color))
        for light, color in LIGHT_FILLS.items()
    },
    **{f"count_{light}": CellStyle(fill=_solid(color)) for light, color in LIGHT_FILLS.items()},
    "total_label": CellStyle(_BOLD, border=_BORDER, alignment=Alignment(horizontal="center")),
    "total_money": CellStyle(_BOLD, border=_BORDER, number_format=MONEY_FORMAT),
    "guide_title": CellStyle(_TITLE_FONT),
    "guide_label": CellStyle(_BOLD),
    "guide_text": CellStyle(alignment=Alignment(wrap_text=True, vertical="top")),
}


@cache
def _styles() -> Stylesheet:
    """The style sheet of `STYLES`, built once per process."""
    return Stylesheet(STYLES)


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
    return cycle_policy(cycle).district


def _titled_sheet(
    name: str,
    title: str,
    headers: Sequence[str],
    widths: Sequence[int],
    *,
    frozen: bool = True,
    header_styles: Sequence[int] | None = None,
) -> Sheet:
    """A sheet with its title merged across row 1 and the column headers on row 2 (frozen above the body)."""
    styles = _styles()
    sheet = Sheet(name, widths, frozen_rows=2 if frozen else 0)
    sheet.append([title], styles["title"], height=28)
    sheet.merge(1, 1, len(headers))
    sheet.append(headers, styles["header"] if header_styles is None else header_styles)
    return sheet


def _save(sheets: Sequence[Sheet], path: Path, year: int, district: str, title: str) -> str:
    """Write the workbook of a cycle `year` atomically, set up to print with a header naming the district, the year
    and the workbook; returns its sha256."""
    page = PageSetup.of(district, year, title)
    return atomic_write(path, xlsx(sheets, _styles(), _stamp(year), AUTHOR, page))


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
    district: str
    time_progress: Decimal | None
    rows: tuple[tuple[str, str, DepartmentLightRow], ...]  # department code, name, lights
    so_far: tuple[QuarterLights, ...]  # the light counts of this quarter and the ones before it


def monitoring_summary(session: Session, cycle_id: int, quarter: str) -> MonitoringSummary:
    """The records behind the 绩效运行监控汇总表 of a quarter."""
    if quarter not in QUARTERS:
        raise ContextError(f"未知季度: {quarter!r}")
    cycle = _cycle(session, cycle_id)
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    # This quarter and the ones before it (for the chart); never a later quarter, so the summary of a
    # quarter stays the same when it is regenerated later in the year.
    so_far = QUARTERS[: QUARTERS.index(quarter) + 1]
    rows = session.exec(
        select(DepartmentLight).where(DepartmentLight.cycle_id == cycle_id, DepartmentLight.quarter == quarter)
    ).all()
    ordered = sorted(rows, key=lambda r: departments[r.department_id].code if r.department_id in departments else "")
    policy = cycle_policy(cycle)
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
        district=_district(cycle),
        time_progress=policy.monitoring.time_progress[quarter],
        rows=tuple(row(r) for r in ordered),
        so_far=tuple(quarter_light_rows(q for q in quarter_lights(session, cycle_id) if q.quarter in so_far)),
    )


def write_monitoring_summary(session: Session, cycle_id: int, quarter: str, path: Path) -> str:
    """绩效运行监控汇总表 of a quarter: one row per department with its progress and coloured lights."""
    return write_monitoring_summary_file(monitoring_summary(session, cycle_id, quarter), path)


MONITORING_HEADERS = [
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


def write_monitoring_summary_file(summary: MonitoringSummary, path: Path) -> str:
    """Write a quarter's 监控汇总表 from its data; returns the sha256."""
    styles = _styles()
    sheet = _titled_sheet("监控汇总", summary.title, MONITORING_HEADERS, [6, 12, 28, 14, 14, 12, 12, 14, 8, 8, 8])
    figures = [styles[name] for name in ("body", "body", "body", "money", "money", "decimal", "decimal", "decimal")]
    for index, (code, name, row) in enumerate(summary.rows, start=1):
        lights = (row.execution_light, row.target_light, row.light)
        sheet.append(
            [
                index,
                code,
                name,
                _wan(row.budget_fen),
                _wan(row.spent_fen),
                row.execution_progress,
                summary.time_progress,
                row.target_progress,
                *(LIGHT_LABELS.get(light, light) for light in lights),
            ],
            [*figures, *(styles[f"light_{light}" if light in LIGHT_FILLS else "light"] for light in lights)],
        )
    last = sheet.last_row
    # Light counts under the table, as formulas over the 综合灯 column.
    sheet.skip()
    for light in ("green", "yellow", "red"):
        label = LIGHT_LABELS[light]
        sheet.append(
            ["", "", f"{label}部门数", Formula(f'COUNTIF(K3:K{max(last, 3)},"{label}")')],
            [0, 0, styles[f"count_{light}"], 0],
        )
    chart = _light_chart_sheet(summary.year, summary.so_far)
    return _save([sheet, chart], path, summary.year, summary.district, summary.title)


def _light_chart_sheet(year: int, summary: Sequence[QuarterLights]) -> Sheet:
    """The second sheet: the light counts of each quarter so far, and the stacked-bar chart of them."""
    styles = _styles()
    headers = ["季度", "部门数", LIGHT_LABELS["green"], LIGHT_LABELS["yellow"], LIGHT_LABELS["red"]]
    sheet = _titled_sheet(
        "亮灯分布",
        f"{year}年各季度部门绩效监控亮灯情况",
        headers,
        [12, 10, 10, 10, 10],
        frozen=False,
        header_styles=[
            styles["header"],
            styles["header"],
            *(styles[f"header_{c}"] for c in ("green", "yellow", "red")),
        ],
    )
    for q in summary:
        sheet.append([q.label, q.departments, q.green, q.yellow, q.red], styles["body"])
    chart = quarter_light_chart(year, summary)
    if chart is not None:
        png = chart_png(chart)
        width, height = png_size(png)
        sheet.picture = Picture(png, sheet.last_row + 2, int(width * CHART_SCALE), int(height * CHART_SCALE))
    return sheet


BUDGET_HEADERS = [
    "序号",
    "部门",
    "项目编码",
    "项目名称",
    "预算年度申请（万元）",
    "事前评估压减（万元）",
    "安排基数（万元）",
    "绩效得分",
    "评价等级",
    "得分来源",
    "部门整体评价等级",
    "压减比例",
    "测算安排（万元）",
    "理由",
    "说明",
    "调整后安排（万元）",
    "调整理由",
    "压减金额（万元）",
    "增加金额（万元）",
    "以前年度未整改问题",
]
#: The styles of a recommendation's row by column number (the other columns are plain body cells).
BUDGET_COLUMN_STYLES = {
    5: "money",
    6: "money",
    7: "money",
    8: "decimal",
    12: "percent",
    13: "money",
    15: "wrapped",
    16: "money",
    17: "wrapped",
    18: "money",
    19: "money",
    20: "wrapped",
}
BUDGET_WIDTHS = [6, 24, 14, 30, 14, 14, 14, 10, 8, 12, 10, 10, 14, 18, 40, 14, 24, 14, 14, 36]
#: The money columns the 合计 row totals: every amount of the table as it stands.
BUDGET_TOTAL_COLUMNS = (5, 6, 7, 13, 16, 18, 19)
SCORE_SOURCES = {
    "fiscal": "财政重点评价",
    "review": "抽查复核",
    "department": "部门评价",
    "self": "绩效自评",
    "none": "无",
}
CONSEQUENCE_SHEET = "政策和部门整体"
CONSEQUENCE_HEADERS = [
    "序号",
    "对象类型",
    "编码",
    "名称",
    "评价得分",
    "评价等级",
    "结果应用",
    "压减比例",
    "涉及资金（万元）",
    "建议安排（万元）",
    "调整后安排（万元）",
    "调整理由",
    "压减金额（万元）",
    "增加金额（万元）",
    "说明",
]
CONSEQUENCE_COLUMN_STYLES = {
    5: "decimal",
    8: "percent",
    9: "money",
    10: "money",
    11: "money",
    12: "wrapped",
    13: "money",
    14: "money",
    15: "wrapped",
}
CONSEQUENCE_WIDTHS = [6, 14, 14, 30, 10, 8, 16, 10, 14, 14, 14, 24, 14, 14, 40]
#: The money columns of the consequences' 合计: every amount as it stands after the approvers.
CONSEQUENCE_TOTAL_COLUMNS = (9, 10, 11, 13, 14)


@dataclass(frozen=True)
class BudgetTable:
    """What the 预算安排建议表 shows, read from the records: its title, the cells of each row, and the
    合计 of each money column (column number, 万元) as the annual report states it; then the key-evaluated
    policies' and departments' grade consequences (政策和部门整体) with their own 合计."""

    year: int
    title: str
    district: str
    rows: tuple[tuple[object, ...], ...]
    totals: tuple[tuple[int, Decimal], ...] = ()
    consequences: tuple[tuple[object, ...], ...] = ()
    consequence_totals: tuple[tuple[int, Decimal], ...] = ()


@dataclass(frozen=True)
class BudgetEntry:
    """One project's recommendation with the codes and names the table shows it by (the project code is what
    an adjustment at the budget gate names)."""

    department_code: str
    department_name: str
    project_code: str
    project_name: str
    recommendation: BudgetRecommendation


def budget_entries(session: Session, cycle_id: int) -> list[BudgetEntry]:
    """Every project's recommendation of the cycle, in the order of the 预算安排建议表 (department, project)."""
    recommendations = session.exec(select(BudgetRecommendation).where(BudgetRecommendation.cycle_id == cycle_id)).all()
    # A join, not an IN list of every project: a province has more projects than a statement may have parameters.
    projects = {
        p.id: p
        for p in session.exec(
            select(Project)
            .join(BudgetRecommendation, col(BudgetRecommendation.project_id) == Project.id)
            .where(BudgetRecommendation.cycle_id == cycle_id)
        ).all()
    }
    departments = {d.id: d for d in session.exec(select(Department)).all()}

    def key(rec: BudgetRecommendation) -> tuple[str, str]:
        project = projects.get(rec.project_id)
        if project is None:
            return ("", str(rec.project_id))
        dept = departments.get(project.department_id)
        return (dept.code if dept else "", project.code)

    entries = []
    for rec in sorted(recommendations, key=key):
        project = projects.get(rec.project_id)
        dept = departments.get(project.department_id) if project else None
        entries.append(
            BudgetEntry(
                dept.code if dept else "",
                dept.name if dept else "",
                project.code if project else "",
                project.name if project else "",
                rec,
            )
        )
    return entries


def budget_table(session: Session, cycle_id: int) -> BudgetTable:
    """The records behind the 预算安排建议表: one row per project's recommendation, as it stands after the
    approvers — the original request, the ex-ante cut and the base apart; 理由 is the one reason that stands
    (审批调整 where an approver changed the amount); 压减/增加 are against the base."""
    from perfcycle.findings import open_findings_before, open_findings_note  # findings issue documents themselves

    cycle = _cycle(session, cycle_id)
    entries = budget_entries(session, cycle_id)
    open_findings = {  # beside each line, its department's findings of earlier cycles still open
        rows[0].department_code: open_findings_note(rows) for rows in open_findings_before(session, cycle.year).values()
    }
    consequences = consequence_figures(session, cycle_id)
    adjusted = {  # a department whose 事业发展类 lines an approver set together: said beside each of them
        c.code: f"部门整体事业发展类项目经审批合计安排{fmt_wan(c.line.effective_fen)}万元（{c.override_reason}）"
        for c in consequences.lines
        if c.object_type == "department" and c.line.overridden
    }
    rows = []
    for index, entry in enumerate(entries, start=1):
        rec = entry.recommendation
        line = budget_line(rec)
        explanation = rec.explanation
        if line.overridden:
            explanation = f"测算理由：{rec.reason}" + (f"；{explanation}" if explanation else "")
        if rec.department_grade and entry.department_code in adjusted:
            explanation = "；".join(part for part in (explanation, adjusted[entry.department_code]) if part)
        rows.append(
            (
                index,
                entry.department_name,
                entry.project_code,
                entry.project_name,
                _wan(line.request_fen),
                _wan(line.request_fen - line.base_fen),
                _wan(line.base_fen),
                rec.score,
                rec.grade,
                SCORE_SOURCES.get(rec.score_source, rec.score_source),
                rec.department_grade,
                rec.cut_ratio,
                _wan(line.recommended_fen),
                line.standing_reason,
                explanation,
                _wan(line.effective_fen),
                rec.override_reason,
                _wan(line.cut_fen),
                _wan(line.increase_fen),
                open_findings.get(entry.department_code, ""),
            )
        )
    totals = budget_figures(session, cycle_id)  # the 合计 the annual report and --json state
    amounts = {
        5: totals.request_fen,
        6: totals.ex_ante_cut_fen,
        7: totals.base_fen,
        13: totals.computed_fen,
        16: totals.recommended_fen,
        18: totals.cut_fen,
        19: totals.increase_fen,
    }
    consequence_rows, consequence_fen = _consequences(consequences)
    budget_year = entries[0].recommendation.budget_year if entries else cycle.budget_year
    return BudgetTable(
        year=cycle.year,
        title=f"{_district(cycle)}{budget_year}年预算安排建议表",
        district=_district(cycle),
        rows=tuple(rows),
        totals=tuple((column, _wan(amounts[column])) for column in BUDGET_TOTAL_COLUMNS),
        consequences=tuple(consequence_rows),
        consequence_totals=tuple(
            (column, _wan(sum(amounts[i] for amounts in consequence_fen)))
            for i, column in enumerate(CONSEQUENCE_TOTAL_COLUMNS)
        ),
    )


def _consequences(consequences: ConsequenceFigures) -> tuple[list[tuple[object, ...]], list[tuple[int, ...]]]:
    """The key-evaluated policies' funds and departments' 事业发展类 requests under their grades' consequence, as
    perfcycle.figures states them after the approvers; with each row its amounts in 分 (涉及, 建议安排, 调整后安排,
    压减, 增加), for the 合计."""
    out: list[tuple[object, ...]] = []
    amounts: list[tuple[int, ...]] = []
    for c in consequences.lines:
        line = c.line
        amounts.append((line.base_fen, line.recommended_fen, line.effective_fen, line.cut_fen, line.increase_fen))
        out.append(
            (
                len(out) + 1,
                OBJECT_TYPE_LABELS[c.object_type],
                c.code,
                c.name,
                c.score,
                c.grade,
                c.consequence,
                c.cut_ratio,
                _wan(line.base_fen),
                _wan(line.recommended_fen),
                _wan(line.effective_fen),
                c.override_reason,
                _wan(line.cut_fen),
                _wan(line.increase_fen),
                c.explanation,
            )
        )
    return out, amounts


def write_budget_table(session: Session, cycle_id: int, path: Path) -> str:
    """预算安排建议表: one row per project's recommendation, with a 合计 row of SUM formulas."""
    return write_budget_table_file(budget_table(session, cycle_id), path)


def _table_sheet(
    name: str,
    title: str,
    headers: Sequence[str],
    widths: Sequence[int],
    column_styles: Mapping[int, str],
    rows: Sequence[Sequence[object]],
    totals: Sequence[tuple[int, Decimal]],
) -> Sheet:
    """A titled sheet of rows and a 合计 row of SUM formulas that also store the totals they come to."""
    styles = _styles()
    sheet = _titled_sheet(name, title, headers, widths)
    row_styles = [styles[column_styles.get(c, "body")] for c in range(1, len(headers) + 1)]
    for values in rows:
        sheet.append(values, row_styles)
    first, last = 3, 2 + len(rows)
    total_row: list[object] = ["合计", *([""] * (len(headers) - 1))]
    total_styles = [styles["total_label"], *([styles["body"]] * (len(headers) - 1))]
    for column, amount in totals:
        letter = get_column_letter(column)
        total_row[column - 1] = Calculated(f"SUM({letter}{first}:{letter}{last})", amount) if last >= first else 0
        total_styles[column - 1] = styles["total_money"]
    total = sheet.append(total_row, total_styles)
    sheet.merge(total, 1, 4)
    return sheet


def write_budget_table_file(table: BudgetTable, path: Path) -> str:
    """Write the 预算安排建议表 from its data; returns the sha256.

    The 合计 rows are SUM formulas that also store the totals they come to, so a reader that does not
    calculate (a viewer, a script) sees the same totals as the annual report. The key-evaluated policies' and
    departments' consequences follow on their own sheet when there are any."""
    sheets = [
        _table_sheet(
            "预算安排建议", table.title, BUDGET_HEADERS, BUDGET_WIDTHS, BUDGET_COLUMN_STYLES, table.rows, table.totals
        )
    ]
    if table.consequences:
        sheets.append(
            _table_sheet(
                CONSEQUENCE_SHEET,
                f"{table.title}（重点评价政策和部门整体支出）",
                CONSEQUENCE_HEADERS,
                CONSEQUENCE_WIDTHS,
                CONSEQUENCE_COLUMN_STYLES,
                table.consequences,
                table.consequence_totals,
            )
        )
    return _save(sheets, path, table.year, table.district, table.title)


def _guide_sheet(title: str, lines: list[tuple[str, str]], columns: Sequence[Any], styles: Stylesheet) -> Sheet:
    """A form's 填报说明 sheet: its title, the form's own lines, then what each column takes."""
    guide = Sheet(GUIDE_SHEET, [16, 90])
    guide.append(["", title], [0, styles["guide_title"]])
    lines = lines + [
        (c.header, c.note or ("可选：" + "、".join(c.choices) if c.choices else ("必填" if c.required else "选填")))
        for c in columns
    ]
    guide_styles = [styles["guide_label"], styles["guide_text"]]
    for line in lines:
        guide.append(line, guide_styles)
    return guide


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
    styles = _styles()
    columns = FORM_SHEET.columns
    fields = [c.field for c in columns]
    indicators = Sheet(FORM_SHEET.name, [30 if f == "name" else 14 for f in fields], frozen_rows=1)
    indicators.append([c.header for c in columns], styles["header"])
    body = styles["body"]
    for indicator in form.indicators:
        values = indicator.model_dump()
        indicators.append([values[f] for f in fields], body)

    # Drop-down lists: the spec's choices inline; the department's own codes from the other sheets.
    lists = {
        "department_code": f"{_quoted(GUIDE_SHEET)}!$B$3",
        "project_code": f"{_quoted(PROJECT_SHEET)}!$A$2:$A${max(len(form.projects) + 1, 2)}",
    }
    for index, column in enumerate(columns, start=1):
        if column.choices:
            formula = '"' + ",".join(column.choices) + '"'
        elif column.field in lists:
            formula = lists[column.field]
        else:
            continue
        letter = get_column_letter(index)
        indicators.list_validation(
            f"{letter}2:{letter}{MAX_VALIDATED_ROW}",
            formula,
            allow_blank=not column.required,
            error=f"请从下拉列表中选择{column.header}",
            error_title=column.header,
        )

    projects = Sheet(PROJECT_SHEET, [16, 32, 14, 10, 14, 16, 18, 10, 40], frozen_rows=1)
    projects.append(FORM_PROJECT_HEADERS, styles["list_header"])
    money = styles["money"]
    project_styles = [body, body, body, body, money, money, body, body, body]
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
            ],
            project_styles,
        )

    guide = _guide_sheet(
        f"{form.district}{form.year}年度{TARGETS.title}",
        [
            ("部门名称", form.department_name),
            ("部门编码", form.department_code),
            ("说明", TARGETS.note),
            ("填报方法", f"在「{FORM_SHEET.name}」工作表中每行填写一个三级指标；项目见「{PROJECT_SHEET}」工作表。"),
        ],
        columns,
        styles,
    )
    return _save(
        [indicators, projects, guide], path, form.year, form.district, f"{form.department_name}{TARGETS.title}"
    )


# ---------------------------------------------------------------------------------------------- score forms


@dataclass(frozen=True)
class ScoreForm:
    """A score sheet pre-filled with exactly the objects assigned to the people who score them (事前评估专家组,
    复核组, 第三方机构), in the import format of `kind`: filled in with scores, it goes back through the stage's
    import."""

    kind: str
    district: str
    year: int
    assigned: str  # what is assigned, in words ("抽中 2 个部门，共 3 个项目")
    rows: tuple[tuple[object, ...], ...]  # cells in the order of the first sheet's columns


#: Who scores each kind of score sheet, and the stage that imports it.
SCORERS = {
    PANEL_SCORES.kind: ("事前评估专家组", "事前绩效评估"),
    REVIEW_SCORES.kind: ("复核组", "抽查复核"),
    THIRD_PARTY_SCORES.kind: ("第三方评价机构", "财政重点评价"),
}
#: The columns of each score sheet that name the objects: filled in here, the scorers fill in the others.
PREFILLED = {
    PANEL_SCORES.kind: ("department_name", "project_code", "project_name"),
    REVIEW_SCORES.kind: ("department_code", "department_name", "project_code", "project_name"),
    THIRD_PARTY_SCORES.kind: ("object_type", "object_code", "object_name"),
}


def _form_rows(kind: str, rows: Sequence[Mapping[str, object]]) -> tuple[tuple[object, ...], ...]:
    columns = SPECS[kind].sheets[0].columns
    return tuple(tuple(row.get(c.field) for c in columns) for row in rows)


def panel_form(session: Session, cycle_id: int) -> ScoreForm | None:
    """The 事前绩效评估评分表: every project of the year in the ex-ante scope of the cycle's policy (new or
    extended, asking at least its threshold); None when no project is in scope."""
    from perfcycle.rules.ex_ante import needs_ex_ante

    cycle = _cycle(session, cycle_id)
    scope = cycle_policy(cycle).ex_ante
    rows = [
        {"department_name": department.name, "project_code": project.code, "project_name": project.name}
        for project, department in session.exec(
            select(Project, Department)
            .join(Department, col(Department.id) == Project.department_id)
            .where(Project.year == cycle.year)
            .order_by(col(Project.code))
        )
        if needs_ex_ante(project.attribute, project.request_fen, scope)
    ]
    if not rows:
        return None
    units = len({row["department_name"] for row in rows})
    return ScoreForm(
        kind=PANEL_SCORES.kind,
        district=_district(cycle),
        year=cycle.year,
        assigned=f"{units} 家单位 {len(rows)} 个项目（{'、'.join(scope.attributes)}且申请 ≥ {scope.min_request_wan} 万元）",
        rows=_form_rows(PANEL_SCORES.kind, rows),
    )


def review_form(session: Session, cycle_id: int) -> ScoreForm | None:
    """The 抽查复核评分表: every project of the year of each sampled department; None before the draw."""
    cycle = _cycle(session, cycle_id)
    sample = session.exec(select(Sample).where(Sample.cycle_id == cycle_id)).first()
    if sample is None:
        return None
    sampled = session.exec(
        select(Department)
        .join(SampleMember, col(SampleMember.department_id) == Department.id)
        .where(SampleMember.sample_id == sample.id)
        .order_by(col(Department.code))
    ).all()
    projects = session.exec(
        select(Project.department_id, Project.code, Project.name)
        .join(SampleMember, col(SampleMember.department_id) == Project.department_id)
        .where(SampleMember.sample_id == sample.id, Project.year == cycle.year)
        .order_by(col(Project.code))
    ).all()
    rows = [
        {"department_code": d.code, "department_name": d.name, "project_code": code, "project_name": name}
        for d in sampled
        for department_id, code, name in projects
        if department_id == d.id
    ]
    return ScoreForm(
        kind=REVIEW_SCORES.kind,
        district=_district(cycle),
        year=cycle.year,
        assigned=f"抽中 {len(sampled)} 个部门，共 {len(rows)} 个项目",
        rows=_form_rows(REVIEW_SCORES.kind, rows),
    )


def evaluation_form(session: Session, cycle_id: int) -> ScoreForm | None:
    """The 财政重点评价评分表: every object of the cycle's key evaluation; None before they are proposed."""
    cycle = _cycle(session, cycle_id)
    selections = session.exec(select(Selection).where(Selection.cycle_id == cycle_id)).all()
    if not selections:
        return None
    ordered = sorted(selections, key=lambda s: (OBJECT_TYPE_ORDER.get(s.object_type, 9), s.rank, s.object_code))
    counts = Counter(s.object_type for s in selections)
    rows = [
        {
            "object_type": OBJECT_TYPE_LABELS.get(s.object_type, s.object_type),
            "object_code": s.object_code,
            "object_name": s.name,
        }
        for s in ordered
    ]
    return ScoreForm(
        kind=THIRD_PARTY_SCORES.kind,
        district=_district(cycle),
        year=cycle.year,
        assigned=f"{counts['project']} 个项目、{counts['policy']} 项政策、{counts['department']} 个部门",
        rows=_form_rows(THIRD_PARTY_SCORES.kind, rows),
    )


#: Each kind of score sheet and what builds it from the records.
SCORE_FORM_BUILDERS: dict[str, Callable[[Session, int], ScoreForm | None]] = {
    PANEL_SCORES.kind: panel_form,
    REVIEW_SCORES.kind: review_form,
    THIRD_PARTY_SCORES.kind: evaluation_form,
}
#: Why a cycle has no score sheet of a kind yet.
UNASSIGNED = {
    PANEL_SCORES.kind: "没有需要事前评估的项目",
    REVIEW_SCORES.kind: "尚未抽样",
    THIRD_PARTY_SCORES.kind: "尚未提出重点评价对象",
}


def score_form_of_year(session: Session, kind: str, year: int) -> ScoreForm | None:
    """The score sheet of the `year` cycle as its stage writes it; None while its objects are not known."""
    cycle = session.exec(select(Cycle).where(Cycle.year == year, Cycle.status != "historical")).first()
    if cycle is None or cycle.id is None:
        raise ContextError(f"数据库中没有 {year} 年度的绩效管理周期")
    return SCORE_FORM_BUILDERS[kind](session, cycle.id)


def score_form_instructions(kind: str, year: int) -> str:
    """What the scorers do with their sheet, in one sentence (on the sheet and where the stage names it)."""
    spec = SPECS[kind]
    sheet = spec.sheets[0]
    to_fill = [c.header for c in sheet.columns if c.required and c.field not in PREFILLED[kind]]
    who, stage = SCORERS[kind]
    return (
        f"{who}在「{sheet.name}」工作表中逐行填写{''.join(f'「{h}」' for h in to_fill)}（编码和名称已预填，请勿改动编码），"
        f"填好后放入填报目录的 {SUBMISSION_FOLDERS[kind]} 文件夹，由{stage}阶段导入；"
        f"也可用 perfcycle import <文件> --year {year} 直接导入。"
    )


def write_score_form(form: ScoreForm, path: Path) -> str:
    """A score sheet in its import format: sheet one has the importer's headers on row 1 and the assigned
    objects pre-filled (the columns still to fill have yellow headers), 填报说明 explains; returns the sha256."""
    styles = _styles()
    spec = SPECS[form.kind]
    sheet_spec = spec.sheets[0]
    columns = sheet_spec.columns
    wide = {"department_name", "project_name", "object_name", "comment", "findings"}
    scores = Sheet(sheet_spec.name, [30 if c.field in wide else 14 for c in columns], frozen_rows=1)
    scores.append(
        [c.header for c in columns],
        [styles["header" if c.field in PREFILLED[form.kind] else "header_yellow"] for c in columns],
    )
    body = styles["body"]
    for row in form.rows:
        scores.append(row, body)
    for index, column in enumerate(columns, start=1):
        if column.choices:
            letter = get_column_letter(index)
            scores.list_validation(
                f"{letter}2:{letter}{MAX_VALIDATED_ROW}",
                '"' + ",".join(column.choices) + '"',
                allow_blank=not column.required,
                error=f"请从下拉列表中选择{column.header}",
                error_title=column.header,
            )

    guide = _guide_sheet(
        f"{form.district}{form.year}年度{spec.title}",
        [
            ("评分对象", form.assigned),
            ("说明", spec.note),
            ("填报方法", score_form_instructions(form.kind, form.year)),
            ("未评分的行", "每一行都要评分；暂时不评分的行请整行删除，之后另交一份。"),
        ],
        columns,
        styles,
    )
    return _save([scores, guide], path, form.year, form.district, spec.title)


#: The spreadsheet writers a rendering job names (perfcycle/documents/catalog.py): data in, sha256 out.
# ---------------------------------------------------------------------------------------------- 数据核对表

FIGURE_CHECK_HEADERS = ["序号", "章节", "数据项", "报告表述", "口径", "记录数", "所计记录（编码）"]
FIGURE_CHECK_WIDTHS = [6, 22, 22, 22, 60, 8, 80]


def write_figure_check(check: FigureCheckContext, path: Path) -> str:
    """数据核对表 beside the annual report: each figure as the report states it, its definition and the codes of
    the records it counts; returns the sha256."""
    styles = _styles()
    sheet = _titled_sheet("数据核对表", check.title, FIGURE_CHECK_HEADERS, FIGURE_CHECK_WIDTHS)
    row_styles = [styles[name] for name in ("body", "wrapped", "wrapped", "body", "wrapped", "body", "wrapped")]
    for number, figure in enumerate(check.figures, start=1):
        count = "" if figure.count is None else figure.count
        sheet.append(
            [number, figure.section, figure.name, figure.stated, figure.definition, count, figure.records], row_styles
        )
    return _save([sheet], path, check.year, check.district, check.title)


WRITERS: dict[str, Callable[[Any, Path], str]] = {
    "monitoring_summary.xlsx": write_monitoring_summary_file,
    "budget_table.xlsx": write_budget_table_file,
    "target_form.xlsx": write_target_form,
    "score_form.xlsx": write_score_form,
    "figure_check.xlsx": write_figure_check,
}

"""Render docs/workbooks.md from the workbook specs, so the documentation can never disagree with the importer.

Run `python -m perfcycle.workbooks.docs` to rewrite docs/workbooks.md; a test checks it is up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from perfcycle.rules.identifiers import CODE_MAX_LENGTH, CODE_RULE
from perfcycle.stages import QUARTERS, SUBMISSION_FOLDERS
from perfcycle.workbooks.formats import OWN_COMMAND, SPECS, Column, SheetSpec, WorkbookSpec
from perfcycle.workbooks.package import column_letters
from perfcycle.workbooks.reader import MAX_BYTES, MAX_COLUMNS, MAX_ROWS

DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "workbooks.md"

KIND_LABELS = {
    "text": "文本",
    "code": "编码",
    "money": "金额（万元）",
    "number": "数字",
    "percent": "百分比",
    "int": "整数",
    "year": "年度",
    "bool": "是/否",
    "choice": "选项",
    "date": "日期",
}

KIND_RULES = {
    "text": "按文本读取，去掉首尾空格；数字单元格按原样转为文字（百分比格式的 0.95 读作 95%）。",
    "code": (
        "按文本读取，去掉首尾空格；数字单元格 101 或 101.0 读作「101」。以 0 开头的编码请设为文本格式。"
        f"{CODE_RULE}，不以「.」结尾、不含「..」，最多 {CODE_MAX_LENGTH} 个字符；"
        "不能有空格、全角字符、路径分隔符（/ \\）或不可见字符（如 U+200B）。"
    ),
    "money": "单位万元，不能为负数，最多两位小数，小于 100 亿万元；精确读取（不经过二进制浮点）。",
    "number": "有限的数字（逗号只能作千位分隔，如 1,234.5；`1,5` 这样的小数逗号被拒绝）。",
    "percent": "0 到 100 之间；可填 85、85% 或百分比格式的单元格（显示为 85%）。",
    "int": "整数。",
    "year": "2000 到 2100 之间的整数。",
    "bool": "填「是」或「否」（TRUE/FALSE 单元格也接受）。",
    "choice": "必须是「可选值」中的一个（模板中有下拉列表）；≥、≤ 也可写作 >=、<=。",
    "date": "日期单元格，或文字 YYYY-MM-DD（也接受 YYYY/MM/DD）。",
}

IMPORT_RULES = {
    "base": [
        "部门按部门编码、项目和财政政策按（年度，编码）新增或更新；重复导入同一文件不会产生重复记录。",
        "项目的部门编码必须是本文件「部门」工作表中或数据库中已登记的部门。",
        "「历年抽查」「历年评价」的年度必须早于导入年度；每个年度建立一个历史周期（status = historical），"
        "文件中列出的年度以文件为准（抽查名单和评价结果按文件替换）。由本系统运行过的年度的历年行被忽略并给出提示。",
        "历年评价的评价类型：自评 → self，部门评价 → department，抽查复核 → review，财政重点评价 → fiscal；"
        "对象类型：项目 → project，部门 → department，政策 → policy。得分 0–100。",
        "「工作记事」的每行是导入年度的一件事：培训须有日期（月份即可）和名称；考核须有排名范围和名次；"
        "报道须有发表日期（年月日）、标题和媒体。日期须在导入年度内。同一事项再次导入会更新而不重复；"
        "也可以用 `perfcycle events add | list | remove` 记录。",
        "基础数据不登记为填报（Submission）。",
    ],
    "targets": [
        "每行的项目必须是导入年度的项目，并且属于该行的部门编码，否则报「项目 X 属于部门 Y，不属于 Z」。",
        "运算符不是「定性」时，目标值必须是数字（可带 %，此时计量单位默认为 %）；定性指标的目标值按文字保存。",
        "文件中每个项目的本周期绩效指标整体替换为文件中的指标；目标审核状态重置为「已提交」（submitted），"
        "完整性检查由目标管理环节进行。",
        "权重（可选）在 0 到 100 之间。",
    ],
    "monitoring": [
        "一个文件只填报一个季度；导入时指定了季度（--quarter）则每行的季度必须与之相同。",
        "项目必须属于该行的部门；累计支出不能超过项目年度预算，也不能少于上一季度已报的累计支出（累计支出不能减少）。",
        "按（周期，项目，季度）新增或更新；红黄绿灯由监控环节计算。",
    ],
    "self_evaluation": [
        "「指标完成」的三级指标必须与该项目已申报的绩效指标同名；定量指标必须填实际值，定性指标必须填完成情况。",
        "「项目自评」登记自评得分（0–100）；核算得分由自评环节计算，自评得分高出核算得分过多会被标记。",
        "「部门自评」登记部门整体自评得分、部门评价的项目（必须是本部门的项目）及其得分，以及自评报告公开日期。",
    ],
    "panel_scores": [
        "项目必须在事前评估范围内（属性为新增或延续，且预算年度申请额不低于本年度策略的门槛）。",
        "五个维度各 0 到满分（策略中的 dimension_max，默认 20 分）；建议压减不能超过项目申请额。",
        "总分、结论和压减额由事前评估环节按策略计算。",
    ],
    "review_scores": [
        "本周期必须已经抽样；部门必须在本周期的抽查名单中，项目必须属于该部门；复核得分 0–100。",
    ],
    "third_party_scores": [
        "对象（对象类型 + 对象编码）必须是本周期确定的重点评价对象；得分 0–100；金额取自重点评价对象清单。",
    ],
    "adopted_budget": [
        "周期的预算安排建议表须已审批通过；每个项目必须是建议表中的项目，建议表的每个项目都必须有一行（未安排的填 0）。",
        "批准金额与建议金额（审批调整后的金额）相同为「采纳」；建议压减而批准金额不低于申请额为「未采纳」；"
        "其余为「调整」，并计算差额（批准 − 建议）。",
        "再次导入替换此前导入的批准金额；内容相同的文件不做任何改动。周期结束后仍可导入。",
    ],
}


# How a district that is not the demo begins: its name, 发文机关 and approvers come from its policy file.
NEW_DISTRICT = [
    "## 新区县如何开始",
    "",
    "工作簿里没有区县名称：区县名称、发文机关和审批人写在本区的年度策略文件中。在本区的工作目录中依次运行：",
    "",
    "```bash",
    "perfcycle init --district 青山区 --year 2024 --coordinators 王芳,赵磊 --leaders 孙伟   # 写出 policies/2024.yaml",
    "perfcycle db upgrade                          # 创建（或升级）数据库，并说明做了什么",
    "perfcycle template base --out 基础数据.xlsx     # 空白基础数据工作簿，按下文格式填写",
    "perfcycle import 基础数据.xlsx --year 2024     # 校验并导入",
    "perfcycle run --year 2024 --data 基础数据.xlsx --submissions 填报/",
    "```",
    "",
    "- `perfcycle init` 写入区县名称（文件标题、表格和文件名都用它）、发文机关（`--issuer`，默认「区县名称财政局」，"
    "用于文件落款和通知署名）、第 1 级审批人（`--coordinators`，财政局绩效科）、第 2 级审批人（`--leaders`，"
    "财政局分管领导）和各表的报送日历；不给 `--cost-pilot 项目编码` 则本年度没有成本预算绩效管理试点。"
    "写出前按策略规则校验；未给出的审批人写为「待填写」占位，须在文件中填写。",
    "- 策略文件默认在工作目录的 `policies/` 中（`PERFCYCLE_POLICY_DIR` 可指向别处）；其中的数字（门槛、权重、"
    "等级、抽查比例……）可按本区实际修改，用 `perfcycle policy show --year 2024` 查看校验后的结果。",
    "- 示范区（烈山区）的数据和策略只供 `perfcycle demo` 使用，不会出现在其他区县的文件中。",
    "",
]

PREFILLED = {
    "adopted_budget": "；`perfcycle adoption template --year <年度>` 写出预填了建议表全部项目（编码、名称和建议金额）的表",
    "review_scores": "；抽样后，抽查复核阶段在输出目录的 `documents/<年度>/05-抽查复核/` 下写出预填了"
    "抽中部门全部项目（编码和名称）的评分表，`perfcycle template review_scores --year <年度>` 可重新写出",
    "third_party_scores": "；重点评价对象确定后，财政重点评价阶段在输出目录的 `documents/<年度>/06-财政重点评价/` 下"
    "写出预填了全部评价对象（对象类型、编码和名称）的评分表，`perfcycle template third_party_scores --year <年度>` "
    "可重新写出",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _column_row(column: Column, key: tuple[str, ...]) -> str:
    notes = [column.note] if column.note else []
    if column.field in key:
        notes.append("唯一键")
    cells = [
        column.header,
        f"`{column.field}`",
        KIND_LABELS[column.kind],
        "是" if column.required else "否",
        "、".join(column.choices),
        "；".join(notes),
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _sheet_section(sheet: SheetSpec) -> list[str]:
    lines = [f"### 工作表「{sheet.name}」（{'必需' if sheet.required else '可选'}）", ""]
    if sheet.note:
        lines += [sheet.note, ""]
    lines += ["| 列名 | 字段 | 类型 | 必填 | 可选值 | 说明 |", "|---|---|---|---|---|---|"]
    lines += [_column_row(column, sheet.key) for column in sheet.columns]
    lines.append("")
    if sheet.key:
        headers = [c.header for c in sheet.columns if c.field in sheet.key]
        lines += [f"唯一键：{' + '.join(headers)}（同一工作表内不能重复）。", ""]
    return lines


def _location(spec: WorkbookSpec) -> str:
    if spec.kind in OWN_COMMAND:
        return OWN_COMMAND[spec.kind]
    folder = SUBMISSION_FOLDERS.get(spec.kind, spec.kind)
    if spec.quarterly:
        return f"`<dir>/{folder}/Q1/*.xlsx` … `<dir>/{folder}/Q4/*.xlsx`"
    return f"`<dir>/{folder}/*.xlsx`"


def _spec_section(spec: WorkbookSpec) -> list[str]:
    lines = [f"## {spec.title}（`{spec.kind}`）", ""]
    if spec.note:
        lines += [spec.note, ""]
    if spec.kind == "base":
        how = "每个区每个年度一本"
    elif spec.per_department:
        how = "每个部门一个文件（一个文件也可以包含多个部门）"
    else:
        how = "一个或多个文件，不按部门拆分"
    lines += [
        f"- 提交方式：{how}" + ("；每季度填报一次" if spec.quarterly else ""),
        f"- 文件位置：{_location(spec)}",
        f"- 模板：`perfcycle template {spec.kind}`" + PREFILLED.get(spec.kind, ""),
        "",
    ]
    for sheet in spec.sheets:
        lines += _sheet_section(sheet)
    rules = IMPORT_RULES.get(spec.kind, [])
    if rules:
        lines += ["导入规则：", ""]
        lines += [f"- {rule}" for rule in rules]
        lines.append("")
    return lines


def render_workbook_docs() -> str:
    """The Markdown of docs/workbooks.md: every workbook format, its folder and its validation rules."""
    lines = [
        "# 工作簿格式（Workbook formats）",
        "",
        "This file is generated from `perfcycle/workbooks/formats.py` by `perfcycle/workbooks/docs.py` "
        "(`python -m perfcycle.workbooks.docs`); do not edit it by hand. It documents every Excel workbook "
        "perfcycle reads: sheets, Chinese column headers, field names, cell types, keys, where the files go "
        "and how they are validated.",
        "",
        "部门和财政局都用 Excel 工作。下面列出系统读取的每一种工作簿：工作表、列名、类型、唯一键、存放位置和校验规则。"
        "`perfcycle template <类型>` 生成带表头和下拉列表的空白模板。",
        "",
        "## 目录",
        "",
    ]
    lines += [f"- {spec.title}（`{spec.kind}`）" for spec in SPECS.values()]
    lines += ["", *NEW_DISTRICT]
    lines += [
        "## 填报文件目录",
        "",
        "`perfcycle run --submissions <dir>` 从以下目录读取各环节的填报文件（只读 `.xlsx`，"
        "跳过以 `~$` 或 `.` 开头的临时文件）：",
        "",
        "```text",
        "<dir>/",
    ]
    for spec in SPECS.values():
        if spec.kind in OWN_COMMAND:
            continue
        folder = SUBMISSION_FOLDERS.get(spec.kind, spec.kind)
        paths = [f"{folder}/{q}/*.xlsx" for q in QUARTERS] if spec.quarterly else [f"{folder}/*.xlsx"]
        lines += [f"  {path.ljust(32)}  {spec.title}" for path in paths]
    lines += [
        "```",
        "",
        "基础数据（`base`）不在该目录中，用 `--data <文件>` 或 `perfcycle import` 导入；"
        "人大批准预算表（`adopted_budget`）用 `perfcycle adoption import` 导入。",
        "",
        "## 通用规则",
        "",
        "- 文件必须是 `.xlsx`（Office Open XML）。旧版 `.xls`、设置了打开密码的文件、改了扩展名的其他文件都会被拒绝，"
        "并说明原因；请在 Excel 或 WPS 中“另存为” `.xlsx`。",
        f"- 文件不能为空，不能超过 {MAX_BYTES // (1024 * 1024)} MB；数据行合计不超过 {MAX_ROWS:,} 行，"
        f"有内容的单元格不超过第 {MAX_COLUMNS} 列（{column_letters(MAX_COLUMNS)} 列）。",
        "- 不指定类型时，按工作表名识别工作簿类型；多余的工作表（如填表说明）被忽略。"
        "两个工作表的名称只差空格或不可见字符时，无法确定读哪一个，文件被拒绝。",
        "- 读到的就是 Excel 显示的：文件的结构有歧义（同一单元格写了两次、行或列的顺序颠倒、压缩包中有同名部件、"
        "含有 DTD 等）时，整个文件被拒绝并说明原因，请用 Excel 或 WPS 打开后重新保存。",
        "- 表头在第 1 行，列的顺序不限；每个规定的列都必须有（预填的名称列可以删除），不能有多余的列或重复的列，"
        "表头不能为空或合并单元格。"
        "表头比较时忽略空格，半角括号等同全角括号。表头右侧的空白列被忽略。",
        "- 完全空白的行被跳过。必填列为空报「必填」。",
        "- 单元格不接受公式（金额、数字列尤其如此）：请复制后“粘贴为数值”。错误值（如 `#DIV/0!`）也不接受。",
        "- 可选的工作表可以删除或留空；必需的工作表必须有表头。",
        "- 金额一律以万元填写，最多两位小数，系统以整数「分」精确保存。得分、百分比、权重按四舍五入保存两位小数。",
        "- 唯一键在同一工作表内不能重复；重复时在后出现的行报错，并指出首次出现的行。",
        "",
        "单元格类型：",
        "",
        "| 类型 | 规则 |",
        "|---|---|",
    ]
    lines += [f"| {KIND_LABELS[kind]} | {rule} |" for kind, rule in KIND_RULES.items()]
    lines += [
        "",
        "## 导入：全部或全不",
        "",
        "- 先检查格式和每个单元格，再检查与数据库的对应关系（部门、项目、周期、抽样名单、重点评价对象……）。"
        "发现任何问题，整个文件都不导入，并一次列出全部问题；数据库保持不变。",
        "- 除基础数据外，每种填报都需要导入年度已启动的绩效管理周期，否则报「没有 Y 年度的绩效管理周期，请先启动周期」。",
        "- 每个填报文件登记为一次提交（Submission），范围为文件中唯一的部门编码（多个部门时为 `*`；"
        "季度监控表加季度前缀，如 `Q2:D01`）。再次导入内容完全相同的文件不做任何改动；"
        "同一范围的新文件替换原来的数据，原来的提交记录保留为历史版本。",
        "",
        "## 错误信息格式",
        "",
        "每个问题一行：文件 · 工作表 · 行号 · 列名: 原因（没有的部分省略）。例如：",
        "",
        "```text",
        "文件 base.xlsx 未导入：发现 2 个问题",
        "  - base.xlsx · 工作表「项目」· 第 7 行 · 列「年度预算（万元）」: 不是数字: 'abc'",
        "  - base.xlsx · 工作表「项目」· 第 9 行 · 列「项目编码」: 与第 4 行重复（P101）；项目编码在本工作表中不能重复",
        "```",
        "",
    ]
    for spec in SPECS.values():
        lines += _spec_section(spec)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_workbook_docs(path: Path = DOCS_PATH) -> Path:
    """Write docs/workbooks.md."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_workbook_docs(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_workbook_docs(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS_PATH))

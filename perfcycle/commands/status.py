"""`perfcycle status`: where a year's cycle stands, and what a run says when it stops.

Both read `perfcycle.standing.cycle_standing`, so a stop of `perfcycle run` or `approve --resume` and
`perfcycle status` name the same stage, gates, departments, deadlines and commands. Everything printed fits
an 80-column terminal: long lists wrap, long commands continue on the next line with a backslash.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from perfcycle.collecting import COLUMN_NAMES
from perfcycle.commands.common import DatabaseUrl, friendly, out, use_database

if TYPE_CHECKING:
    from perfcycle.standing import FormCount, GateGroup, OwedForm, Standing

#: In the stop message, the departments named before "等 N 个部门" (the full list is in `perfcycle status`).
NAMED_AT_A_STOP = 20
_SHORT = {"已提交": "已交", "逾期提交": "逾期", "未提交": "未交", "—": "—"}
_MATRIX_HEADERS = {
    "绩效目标": "目标",
    "一季度监控": "一季",
    "二季度监控": "二季",
    "三季度监控": "三季",
    "四季度监控": "四季",
    "绩效自评": "自评",
    "预警整改": "整改",
}


def _day(value: date | datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value is not None else ""


def command_lines(command: str, width: int, indent: str = "    ") -> list[str]:
    """A shell command cut into lines of at most `width` cells, each but the last ending in a backslash."""
    lines: list[str] = []
    current = indent
    for word in command.split(" "):
        candidate = f"{current}{word}" if current.strip() == "" else f"{current} {word}"
        if current.strip() and cell_len(candidate) + 2 > width:
            lines.append(current + " \\")
            current = f"{indent}  {word}"
        else:
            current = candidate
    lines.append(current)
    return lines


def _say(console: Console, text: str, style: str = "") -> None:
    console.print(text, style=style or None, markup=False, highlight=False)


def _command(console: Console, command: str, note: str = "") -> None:
    width = min(console.width, 200)
    if note:
        _say(console, f"  {note}")
    for line in command_lines(command, width):
        _say(console, line, "cyan")


def list_lines(label: str, items: Sequence[str], width: int, limit: int | None = None) -> list[str]:
    """`label` then the items joined by 、, cut between items into lines of at most `width` cells."""
    shown = list(items if limit is None or len(items) <= limit else items[:limit])
    tail = f" 等 {len(items)} 个" if len(shown) < len(items) else ""
    indent = "    "
    lines: list[str] = []
    current = f"  {label}"
    for index, item in enumerate(shown):
        piece = item + ("、" if index < len(shown) - 1 else tail)
        if cell_len(current) + cell_len(piece) > width and current.strip() and current != f"  {label}":
            lines.append(current)
            current = indent
        current += piece
    lines.append(current)
    return lines


def _list(console: Console, label: str, items: Sequence[str], limit: int | None = None) -> None:
    for line in list_lines(label, items, min(console.width, 200), limit):
        _say(console, line)


def id_ranges(ids: Sequence[int]) -> str:
    """Approval numbers as ranges: 1–54, or 3、7–9."""
    parts: list[str] = []
    ordered = sorted(ids)
    start = previous = ordered[0]
    for number in [*ordered[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}–{previous}")
        if number is not None:
            start = previous = number
    return "、".join(parts)


def print_commands(console: Console, commands: Sequence[tuple[str, str]]) -> None:
    """Each labelled command, cut to the console's width."""
    for label, command in commands:
        _command(console, command, f"{label}：")


def _on_server() -> bool:
    return bool(os.environ.get("PREFECT_API_URL"))


# ---------------------------------------------------------------------------------------------- pieces


def _gate(console: Console, group: GateGroup, year: int, limit: int | None) -> None:
    due = _day(group.due_at) or "未规定"
    overdue = f"，{group.overdue} 项已逾期" if group.overdue else ""
    count = f"{len(group.ids)} 个部门，" if group.subjects else f"编号 {group.ids[0]}，"
    _say(console, f"● {group.label}：{count}期限 {due}{overdue}", "bold")
    _say(console, f"  可审批人：{'、'.join(group.approvers) or '（策略未指定）'}")
    for line in group.figures:
        _say(console, f"  {line}")
    for label, items in group.lists:
        _list(console, f"{label}：", items, limit)
    if group.subjects:
        _list(console, "编号 部门（编码）：", [f"{s.id} {s.name}（{s.code}）" for s in group.subjects], limit)
        if limit is not None and len(group.subjects) > limit:
            _say(console, f"  全部编号：perfcycle approvals --year {year}")
    _command(console, group.commands[0], "全部通过：" if len(group.ids) > 1 else "通过：")
    for extra in group.commands[1:]:
        _command(console, extra, "或：")


def _owed_by_form(owed: Iterable[OwedForm]) -> dict[str, list[OwedForm]]:
    forms: dict[str, list[OwedForm]] = {}
    for item in owed:
        forms.setdefault(item.stage, []).append(item)
    return forms


def _owed_form(console: Console, items: list[OwedForm], form: FormCount | None, limit: int | None) -> None:
    due = form.due_on if form is not None else items[0].due_on
    received = f"已收到 {form.received}/{form.departments}，" if form is not None else ""
    _say(console, f"● {items[0].title}：{received}等待 {len(items)} 个部门报送（截止 {_day(due)}）", "bold")
    named = []
    for item in items:
        marks = ["退回修改"] if item.returned else []
        if item.due_on != due:
            marks.append(f"截止 {item.due_on:%m-%d}")
        if item.overdue:
            marks.append("已逾期")
        named.append(f"{item.name}（{'，'.join([item.code, *marks])}）")
    _list(console, "", named, limit)
    if form is not None and form.missing:
        _list(console, f"另有 {len(form.missing)} 个部门逾期未报送（收到后仍导入）：", list(form.missing), limit)
    if form is not None:
        _command(console, form.command, "报送：")
        _command(console, form.close_command, "提前截止收集：")


# ---------------------------------------------------------------------------------------------- status


def _timeline(console: Console, standing: Standing) -> None:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False, title=None)
    table.add_column("阶段", no_wrap=True)
    table.add_column("状态", no_wrap=True)
    table.add_column("日期", no_wrap=True)
    table.add_column("说明", overflow="fold", ratio=1)
    for line in standing.stages:
        if line.finished_on:
            when = f"{_day(line.finished_on)} 完成"
        elif line.started_on:
            when = f"{_day(line.started_on)} 起"
        elif line.due_on:
            when = f"截止 {_day(line.due_on)}"
        else:
            when = ""
        style = {"已完成": "green", "未开始": "dim"}.get(line.state, "yellow")
        table.add_row(line.name, f"[{style}]{line.state}[/]", when, line.note)
    console.print(table)


def _forms_table(console: Console, standing: Standing) -> None:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    for header in ("填报表", "截止", "收集", "已收", "逾期", "未提交", "待报"):
        table.add_column(header, no_wrap=True, justify="left" if header in ("填报表", "截止", "收集") else "right")
    for form in standing.forms:
        table.add_row(
            COLUMN_NAMES[form.stage],
            _day(form.due_on),
            "收集中" if form.open else form.close_reason or "已截止",
            f"{form.received}/{form.departments}",
            str(len(form.late)),
            str(len(form.missing)),
            str(len(form.owing)),
        )
    console.print(table)
    for form in standing.forms:
        for label, names in (("逾期提交", form.late), ("未提交", form.missing)):
            if names:
                _list(console, f"{COLUMN_NAMES[form.stage]}{label}：", names)


def _short(label: str) -> str:
    """A matrix cell in a few characters: 待MM-DD, 退MM-DD, 已交, 逾期, 未交."""
    if label in _SHORT:
        return _SHORT[label]
    for prefix, mark in (("待提交（截止 ", "待"), ("退回修改（截止 ", "退")):
        if label.startswith(prefix):
            return mark + label.removeprefix(prefix).rstrip("）")
    if " " in label:  # 预警整改: "Q2 待提交（截止 07-25）；…", the latest quarter
        return _short(label.split("；")[-1].split(" ", 1)[1])
    return label


def _matrix(console: Console, standing: Standing) -> None:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    table.add_column("部门", overflow="fold", ratio=1)
    for header in _MATRIX_HEADERS.values():
        table.add_column(header, no_wrap=True)
    for row in standing.matrix:
        table.add_row(f"{row['部门编码']} {row['部门']}", *(_short(row[h]) for h in _MATRIX_HEADERS))
    console.print(table)
    _say(console, "已交 按时提交  逾期 逾期提交  未交 截止时未提交  待MM-DD 待提交及截止日  退MM-DD 退回修改", "dim")


def _lights(console: Console, standing: Standing) -> None:
    if standing.lights_quarter is None:
        return
    from perfcycle.stages import QUARTER_NAMES

    quarter = QUARTER_NAMES.get(standing.lights_quarter, standing.lights_quarter)
    if not standing.lights:
        _say(console, f"{quarter}没有红灯、黄灯部门")
        return
    reds = [line for line in standing.lights if line.light == "红灯"]
    _say(console, f"{quarter}红灯 {len(reds)} 个、黄灯 {len(standing.lights) - len(reds)} 个部门", "bold")
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    table.add_column("部门", overflow="fold", ratio=1)
    for header in ("预警", "执行进度", "目标进度", "整改反馈"):
        table.add_column(header, no_wrap=True)
    for line in standing.lights:
        table.add_row(
            f"{line.code} {line.name}",
            f"[{'red' if line.light == '红灯' else 'yellow'}]{line.light}[/]",
            f"{line.execution_progress}%" if line.execution_progress is not None else "—",
            f"{line.target_progress}%" if line.target_progress is not None else "—",
            line.response or "无需反馈",
        )
    console.print(table)
    owing = [line for line in standing.lights if line.command]
    if owing:
        _command(
            console, owing[0].command.replace(f"--department {owing[0].code}", "--department <部门编码>"), "反馈："
        )


def print_standing(console: Console, standing: Standing, matrix: bool = False) -> None:
    """`perfcycle status`: the timeline, what waits (gates with figures, forms owed), the forms, the lights."""
    state = "已完成" if standing.done else "进行中"
    _say(
        console,
        f"{standing.year} 年度预算绩效管理周期（预算年度 {standing.budget_year}）：{state}，截至 {_day(standing.on)}",
        "bold",
    )
    _timeline(console, standing)
    if standing.gates:
        _say(console, "等待审批", "bold underline")
        for group in standing.gates:
            _gate(console, group, standing.year, None)
    owed = _owed_by_form(standing.owed)
    if owed:
        _say(console, "等待报送", "bold underline")
        forms = {f.stage: f for f in standing.forms}
        for stage, items in owed.items():
            _owed_form(console, items, forms.get(stage), None)
    if standing.forms:
        _say(console, "各部门报送情况", "bold underline")
        if matrix:
            _matrix(console, standing)
        else:
            _forms_table(console, standing)
            _say(console, f"  逐部门明细：perfcycle status --year {standing.year} --matrix", "dim")
    if standing.lights_quarter is not None:
        _say(console, "红黄灯预警", "bold underline")
        _lights(console, standing)
    if not standing.done and not standing.gates and not standing.owed:
        _command(console, f"perfcycle run --year {standing.year}", "继续运行周期：")


def print_stop(console: Console, standing: Standing) -> None:
    """What a run says when it stops: which stage, which gate or form, who owes what by when, what to type."""
    if standing.done:
        _say(console, f"{standing.year} 年度周期已运行完毕")
        return
    stopped = standing.stopped_at
    where = "、".join(f"{s.name}（{s.state}）" for s in stopped) or "尚未开始的阶段"
    _say(console, f"周期停在：{where}", "bold yellow")
    for group in standing.gates:
        _gate(console, group, standing.year, NAMED_AT_A_STOP)
    forms = {f.stage: f for f in standing.forms}
    owed = _owed_by_form(standing.owed)
    for stage, items in owed.items():
        _owed_form(console, items, forms.get(stage), NAMED_AT_A_STOP)
    for form in (forms[s.stage] for s in stopped if s.stage in forms and s.stage not in owed):
        if form.missing:
            received = f"已收到 {form.received}/{form.departments}（截止 {_day(form.due_on)}）"
            _say(console, f"● {form.title}：{received}，{len(form.missing)} 个部门逾期未报送", "bold")
            _list(console, "", list(form.missing), NAMED_AT_A_STOP)
            _say(console, "  逾期报送的表收到后仍导入")
    if standing.gates and not _on_server():
        _say(console, f"  决定时加 --resume 即继续运行周期（或之后运行 perfcycle run --year {standing.year}）")
    if not standing.gates and not standing.owed:
        _command(console, f"perfcycle run --year {standing.year}", "继续运行周期：")
    _say(console, f"  全年进度与各部门报送情况：perfcycle status --year {standing.year}", "dim")


def say_where_it_stops(console: Console, year: int) -> None:
    """Read where the year's cycle stands and say it as a stop (after `run` or `approve --resume`)."""
    from models import session_scope
    from perfcycle.standing import cycle_standing

    with friendly(), session_scope() as session:
        standing = cycle_standing(session, year, matrix=False)
    print_stop(console, standing)


def status(
    year: Annotated[int, typer.Option("--year", help="周期年度")],
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
    matrix: Annotated[bool, typer.Option("--matrix", help="列出每个部门每张填报表的报送情况")] = False,
    on: Annotated[
        datetime | None, typer.Option("--on", formats=["%Y-%m-%d"], help="按某一天计算逾期（默认今天）")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """周期进行到哪里：各阶段进度、待审批的关口及其数据、未报送的部门、红黄灯部门，以及下一步的命令。"""
    from models import session_scope
    from perfcycle.standing import cycle_standing

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            standing = cycle_standing(session, year, on.date() if on else None)
    if as_json:
        print(json.dumps(standing.as_json(), ensure_ascii=False))
        return
    print_standing(out, standing, matrix)


def register(app: typer.Typer) -> None:
    """Add `perfcycle status` to the `perfcycle` app."""
    app.command("status")(status)

"""`perfcycle submit | close-window | respond`: departments send their forms, the coordinator ends a collection.

A form is checked exactly as the stage's import will check it, filed where the stage reads it (the
earlier version moves to the history folder) and recorded with its receipt; then the cycle is asked to go
on, as after a closed window or a red-light response. Every problem is one message and exit code 1, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfcycle.commands.common import DatabaseUrl, continue_on_server, friendly, out, use_database

Year = Annotated[int, typer.Option("--year", help="周期年度")]
Stage = Annotated[
    str,
    typer.Option(
        "--stage",
        help="targets 绩效目标 | monitoring 季度监控（加 --quarter Q1..Q4）| self_evaluation 绩效自评",
    ),
]
Quarter = Annotated[str | None, typer.Option("--quarter", help="季度监控的季度 Q1..Q4")]
STATUS_TEXT = {
    "received": "按时报送",
    "late": "逾期报送",
    "missing": "未提交",
    "pending": "待提交",
    "returned": "退回修改",
}


def status_text(status: str) -> str:
    """A window entry's status in the bureau's words (never the English key)."""
    return STATUS_TEXT.get(status, "状态未知")


def submit(
    file: Annotated[Path, typer.Argument(help="填报的 .xlsx 文件")],
    stage: Stage,
    department: Annotated[str, typer.Option("--department", help="报送部门的编码")],
    quarter: Quarter = None,
    year: Annotated[int | None, typer.Option("--year", help="周期年度，默认最近的周期")] = None,
    by: Annotated[str, typer.Option("--by", help="报送人姓名（默认部门联系人）")] = "",
    submissions: Annotated[
        Path | None,
        typer.Option("--submissions", help="填报文件目录（默认用周期记录的目录或 PERFCYCLE_SUBMISSIONS_DIR）"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """报送本部门的填报表：校验后存入填报目录，重新报送会替换此前的版本（旧版本保留）。"""
    from models import session_scope
    from perfcycle.collecting import stage_for, submit_form

    with friendly():
        use_database(database_url)
        stage_name = stage_for(stage, quarter)
        if year is None:
            from perfcycle.cli import _default_year

            year = _default_year()
        with session_scope() as session:
            receipt = submit_form(
                session,
                year=year,
                stage=stage_name,
                department_code=department,
                file=file,
                by=by,
                root=submissions.resolve() if submissions else None,
            )
    if receipt.unchanged:
        out.print(
            f"{receipt.department}的{receipt.title}与已报送的第 {receipt.version} 版完全相同，未做改动",
            highlight=False,
            soft_wrap=True,
        )
        return
    version = f"第 {receipt.version} 版"
    if receipt.replaces is not None:
        why = f"（{status_text(receipt.replaced_status)}）" if receipt.replaced_status else ""
        version += f"，替换第 {receipt.replaces} 版{why}，旧版本已保留"
    state = status_text(receipt.status)
    out.print(
        f"已收到{receipt.department}的{receipt.title}：{version}，共 {receipt.rows} 行；"
        f"截止日期 {receipt.due_on:%Y-%m-%d}，{state}。文件已保存到 {receipt.path}",
        highlight=False,
        soft_wrap=True,
    )
    continue_on_server(year, "报送")


def close_window(
    year: Year,
    stage: Stage,
    by: Annotated[str, typer.Option("--by", help="操作人姓名（须为财政局绩效科的审批人）")],
    quarter: Quarter = None,
    database_url: DatabaseUrl = None,
) -> None:
    """提前截止一个阶段的收集：未报送的部门记为未提交，阶段随即继续。"""
    from models import session_scope
    from perfcycle.accounts import admin_actor
    from perfcycle.collecting import close_by_coordinator, stage_for, unread_files, window_summary, window_title

    with friendly():
        use_database(database_url)
        stage_name = stage_for(stage, quarter)
        with session_scope() as session:
            window = close_by_coordinator(session, year, stage_name, by, entered_by=admin_actor())
            summary = window_summary(session, window)
            title = window_title(year, window)
            unread = unread_files(session, window)
    out.print(
        f"已截止{title}的收集（{by.strip()}）：收到 {summary['received']}/{summary['departments']}，"
        f"逾期 {len(summary['late'])}{'（' + '、'.join(summary['late']) + '）' if summary['late'] else ''}，"
        f"未提交 {len(summary['missing'])}{'（' + '、'.join(summary['missing']) + '）' if summary['missing'] else ''}",
        highlight=False,
        soft_wrap=True,
    )
    if unread:
        names = "、".join(p.name for p in unread[:10]) + (f" 等 {len(unread)} 份" if len(unread) > 10 else "")
        out.print(
            f"填报目录中另有 {len(unread)} 份已送达、尚未导入的表（{names}）：下次运行周期时导入，"
            "截止前送达的按时计，其部门不再记为未提交",
            highlight=False,
            soft_wrap=True,
        )
    continue_on_server(year, "报送")


def respond(
    year: Year,
    quarter: Annotated[str, typer.Option("--quarter", help="预警通知书的季度 Q1..Q4")],
    department: Annotated[str, typer.Option("--department", help="部门编码")],
    cause: Annotated[str, typer.Option("--cause", help="原因分析")] = "",
    measures: Annotated[str, typer.Option("--measures", help="整改措施")] = "",
    by: Annotated[str, typer.Option("--by", help="填报人姓名（默认部门联系人）")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """反馈绩效监控预警通知书：原因分析和整改措施；反馈后不再催办，周期随即继续。"""
    from models import Department, session_scope
    from perfcycle.collecting import respond_to_warning
    from perfcycle.stages import QUARTER_NAMES

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            notice, response = respond_to_warning(
                session, year=year, quarter=quarter, department_code=department, cause=cause, measures=measures, by=by
            )
            due, answered, versions = notice.response_due, notice.responded_on, response.versions
            owner = session.get(Department, notice.department_id)
            who = f"{owner.name}（{owner.code}）" if owner is not None else department.strip()
    assert due is not None and answered is not None
    late = "，已逾期" if answered > due else ""
    again = f"（第 {versions} 次修改）" if versions > 1 else ""
    out.print(
        f"已记录{who} {year}年{QUARTER_NAMES.get(quarter.strip().upper(), quarter)}预警整改反馈{again}："
        f"反馈日期 {answered:%Y-%m-%d}，要求 {due:%Y-%m-%d} 前{late}",
        highlight=False,
        soft_wrap=True,
    )
    continue_on_server(year, "反馈")


def register(app: typer.Typer) -> None:
    """Add the submission commands to the `perfcycle` app."""
    app.command("submit")(submit)
    app.command("close-window")(close_window)
    app.command("respond")(respond)

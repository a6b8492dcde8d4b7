"""`perfcycle approvals | approve | reject | return | audit verify`: the gates from the command line.

Every decision goes through `perfcycle.approvals.decide`, so a refusal (unknown approver, self-approval,
wrong level, a gate already closed, a missing comment or reason) is recorded and shown as one line, with
exit code 1. `--resume` runs the annual-cycle driver for the gate's year in this process afterwards, so
the cycle goes on to its next gate.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from perfcycle.commands.common import (
    TIMES_NOTE,
    DatabaseUrl,
    context_line,
    continue_on_server,
    err,
    fail,
    friendly,
    out,
    use_database,
)

if TYPE_CHECKING:
    from perfcycle.approvals import BudgetOverride


By = Annotated[str, typer.Option("--by", help="决定人姓名（须在策略的审批人名单中）")]
Resume = Annotated[bool, typer.Option("--resume", help="记录决定后在本进程中继续运行该年度周期")]
OutDir = Annotated[
    Path | None, typer.Option("--out", help="继续运行时的文件输出目录（默认：周期记录的目录，否则 out）")
]
_OVERRIDE = re.compile(r"^\s*(?P<code>[^=]+?)\s*=\s*(?P<amount>[^:：]+?)\s*[:：](?P<reason>.*)$")
_ID_PART = re.compile(r"^(?P<start>\d+)(?:\s*[-–~～]\s*(?P<end>\d+))?$")


def parse_ids(values: list[str]) -> list[int]:
    """Approval numbers as typed or as `perfcycle approvals` shows them: `3 7-9`, `1–32`, `3、7–9`, `1,2`."""
    ids: list[int] = []
    for value in values:
        for part in re.split(r"[,，、\s]+", value.strip()):
            if not part:
                continue
            match = _ID_PART.match(part)
            if match is None:
                fail(f"审批编号应为数字或范围（如 3、7-9），收到: {part}")
            start = int(match["start"])
            end = int(match["end"]) if match["end"] else start
            if end < start:
                fail(f"审批编号范围应从小到大，收到: {part}")
            ids.extend(number for number in range(start, end + 1) if number not in ids)
    if not ids:
        fail("请给出审批编号（见 perfcycle approvals）")
    return ids


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def list_decided(year: int | None, database_url: str | None) -> None:
    """The decided gates: who decided (a decision typed in here or in the Prefect UI says on whose behalf)."""
    from models import session_scope
    from perfcycle.approvals import decision_history

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            decided = decision_history(session, year)
    if not decided:
        out.print("还没有已决定的关口" + (f"（{year} 年度）" if year else ""))
        return
    table = Table(title="已决定的关口", caption=TIMES_NOTE, box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    for header in ("编号", "关口", "对象", "决定", "时间", "决定人", "意见"):
        table.add_column(header, overflow="fold")
    for d in decided:
        table.add_row(
            str(d.id),
            f"{d.year}年{d.gate_name}第{d.level}级",
            escape(d.subject_name or "—"),
            d.status_name,
            _when(d.decided_at),
            escape(d.signed),
            escape(d.comment or ""),
        )
    out.print(table)


def list_approvals(
    year: Annotated[int | None, typer.Option(help="只列出该年度周期的关口")] = None,
    decided: Annotated[
        bool, typer.Option("--decided", help="列出已决定的关口及决定人（代为录入的注明由谁代谁录入）")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """列出等待审批的关口：编号、关口、审批内容（数据）、期限、可审批人；各部门的绩效目标合为一组。"""
    from models import session_scope
    from perfcycle.commands.status import id_ranges, list_lines, print_commands
    from perfcycle.standing import gate_groups

    if decided:
        list_decided(year, database_url)
        return
    with friendly():
        use_database(database_url)
        with session_scope() as session:
            groups = gate_groups(session, year)
    if not groups:
        out.print("没有等待审批的关口" + (f"（{year} 年度）" if year else ""))
        return
    years = sorted({g.year for g in groups})
    table = Table(title="等待审批的关口", caption=TIMES_NOTE, box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    table.add_column("编号", no_wrap=True)
    table.add_column("关口", no_wrap=True)
    table.add_column("审批内容", overflow="fold", ratio=1)
    table.add_column("期限", no_wrap=True)
    table.add_column("可审批人", no_wrap=True)
    for group in groups:
        due = _when(group.due_at).split(" ")[0]
        if group.overdue:
            due += f"\n[red]已逾期{f' {group.overdue} 项' if len(group.ids) > 1 else ''}[/]"
        what = [f"{len(group.subjects)} 个部门"] if group.subjects else []
        table.add_row(
            id_ranges(group.ids),
            (f"{group.year}年\n" if len(years) > 1 else "") + f"{group.name}\n第{group.level}级",
            escape("\n".join(what + list(group.figures)) or "—"),
            due,
            "\n".join(group.approvers) or "（策略未指定）",
        )
    out.print(table)
    for group in groups:
        lists = list(group.lists)
        if group.subjects:
            lists.insert(0, ("编号 部门（编码）", tuple(f"{s.id} {s.name}（{s.code}）" for s in group.subjects)))
        for label, items in lists:
            for line in list_lines(f"{group.name}第{group.level}级 · {label}：", items, out.width):
                out.print(line, markup=False, highlight=False)
    print_commands(out, [(f"{g.name}第{g.level}级", g.commands[0]) for g in groups])


def _parse_overrides(values: list[str]) -> list[BudgetOverride]:
    from perfcycle.approvals import BudgetOverride

    overrides: list[BudgetOverride] = []
    for value in values:
        match = _OVERRIDE.match(value)
        if match is None:
            fail(f"调整格式应为 项目编码=金额(万元):理由（或 政策:编码=…、部门:编码=…），收到: {value}")
        overrides.append(BudgetOverride(match["code"], match["amount"], match["reason"].strip()))
    return overrides


def _decide(
    approval_ids: list[int],
    decision: str,
    by: str,
    comment: str,
    overrides: list[str],
    resume: bool,
    out_dir: Path | None,
    database_url: str | None,
) -> None:
    """Record the decision on each gate in turn; a refused one stops the rest, the recorded ones stand."""
    parsed = _parse_overrides(overrides)
    if parsed and len(approval_ids) > 1:
        fail("调整金额只能随一个预算安排建议表的决定提交")
    override_rows = [
        {"project_code": o.project_code, "amount_wan": str(o.amount_wan), "reason": o.reason} for o in parsed
    ]
    decided: list[tuple[int, str, int]] = []
    try:
        with friendly():
            use_database(database_url)
            for approval_id in approval_ids:
                decided.append(_record(approval_id, decision, by, comment, parsed))
    finally:
        if decided:
            from perfcycle.approvals import form_answer

            answer = form_answer(decision, by.strip(), comment, [gate for gate, _, _ in decided], override_rows)
            continue_on_server(decided[-1][2], "决定", [(gate, run) for gate, run, _ in decided], answer)
    if resume and decided:
        _resume(decided[-1][2], out_dir)


def _record(
    approval_id: int, decision: str, by: str, comment: str, parsed: list[BudgetOverride]
) -> tuple[int, str, int]:
    """One gate's decision, committed, and said; returns the gate, the run waiting on it, and its year."""
    from sqlmodel import select

    from models import Approval, Cycle, session_scope
    from perfcycle.accounts import admin_actor
    from perfcycle.approvals import DECISION_NAMES, decide, gate_label, signed_as

    with session_scope() as session:
        approval = decide(session, approval_id, decision, by, comment, parsed, entered_by=admin_actor())
        signed = signed_as(approval.decided_by, approval.entered_by)
        cycle = session.get(Cycle, approval.cycle_id)
        assert cycle is not None
        label = gate_label(approval, cycle.year)
        following = session.exec(
            select(Approval).where(
                Approval.cycle_id == approval.cycle_id,
                Approval.gate == approval.gate,
                Approval.subject == approval.subject,
                Approval.level == approval.level + 1,
                Approval.status == "open",
            )
        ).first()
        next_line = (
            f"第{following.level}级审批已开启，编号 {following.id}，期限 {_when(following.due_at)}"
            if following is not None and decision == "approve"
            else ""
        )
        if decision == "return" and approval.gate == "targets":
            from perfcycle.collecting import returned_due

            due = returned_due(session, cycle, approval.subject)
            if due is not None:
                next_line = f"该部门须于 {due:%Y-%m-%d} 前按审核意见重新报送绩效目标申报表；催办即日开始"
        result = (approval_id, approval.flow_run_id, cycle.year)
    out.print(f"已记录：{label} —— {DECISION_NAMES[decision]}（{signed}）", highlight=False, soft_wrap=True)
    if parsed:
        out.print(f"预算调整 {len(parsed)} 项已记录", highlight=False, soft_wrap=True)
    if next_line:
        out.print(next_line, highlight=False, soft_wrap=True)
    return result


def _resume(year: int, out_dir: Path | None) -> None:
    """Run the annual-cycle driver for the year in this process (embedded mode) and say where it stands.

    It reads the data and forms and writes where the cycle's last run did (another `--out` is recorded)."""
    from perfcycle.runtime import configure_prefect

    configure_prefect(quiet=True)
    # As `perfcycle run`: the stop is said below, so Prefect's own lines (its waiting warnings) stay in its UI.
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
    from perfcycle.commands.status import say_where_it_stops
    from perfcycle.orchestration import run_annual_cycle

    folder = str(out_dir.resolve()) if out_dir else None
    err.print(f"正在继续运行 {year} 年度周期…", highlight=False, soft_wrap=True)
    with friendly():
        out.print(context_line(year, out_dir=folder), highlight=False, soft_wrap=True)
        summary = run_annual_cycle(year=year, auto_approve=False, out_dir=folder)
    if summary.get("status") == "done":
        out.print(f"{year} 年度周期已运行完毕", highlight=False, soft_wrap=True)
    else:
        say_where_it_stops(out, year)


def approve(
    approval_ids: Annotated[
        list[str],
        typer.Argument(metavar="ID...", help="审批编号（见 perfcycle approvals），可多个，也可写范围如 1-32"),
    ],
    by: By = "",
    comment: Annotated[str, typer.Option("--comment", help="审批意见")] = "",
    override: Annotated[
        list[str] | None,
        typer.Option(
            "--override",
            help="预算安排建议表的调整：项目编码=金额(万元):理由（重点评价政策、部门整体写 政策:编码、部门:编码），可重复",
        ),
    ] = None,
    resume: Resume = False,
    out_dir: OutDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """通过一个或多个关口（如各部门的绩效目标）。"""
    _decide(parse_ids(approval_ids), "approve", by, comment, override or [], resume, out_dir, database_url)


def reject(
    approval_id: Annotated[int, typer.Argument(metavar="ID", help="审批编号（见 perfcycle approvals）")],
    by: By = "",
    comment: Annotated[str, typer.Option("--comment", help="不予通过的理由（必填）")] = "",
    resume: Resume = False,
    out_dir: OutDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """不予通过一个关口（须写明理由）。"""
    _decide([approval_id], "reject", by, comment, [], resume, out_dir, database_url)


def return_(
    approval_id: Annotated[int, typer.Argument(metavar="ID", help="审批编号（见 perfcycle approvals）")],
    by: By = "",
    comment: Annotated[str, typer.Option("--comment", help="退回修改的意见（必填）")] = "",
    resume: Resume = False,
    out_dir: OutDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """退回修改（如部门的绩效目标），须写明意见。"""
    _decide([approval_id], "return", by, comment, [], resume, out_dir, database_url)


def audit_verify(database_url: DatabaseUrl = None) -> None:
    """校验审计日志的哈希链：任何被修改或删除的记录都会被指出。"""
    from models import session_scope
    from perfcycle import audit

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            problems = audit.verify(session)
            total = audit.count(session)
    if problems:
        for problem in problems:
            err.print(f"[bold red]错误[/]: {problem}", highlight=False, soft_wrap=True)
        err.print(
            f"审计日志校验未通过：共 {total} 条记录，发现 {len(problems)} 处问题", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1)
    out.print(f"审计日志完整：共 {total} 条记录，哈希链校验通过", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the approval and audit commands to the `perfcycle` app."""
    app.command("approvals")(list_approvals)
    app.command("approve")(approve)
    app.command("reject")(reject)
    app.command("return")(return_)
    audit_app = typer.Typer(help="审计日志", no_args_is_help=True)
    audit_app.command("verify")(audit_verify)
    app.add_typer(audit_app, name="audit")

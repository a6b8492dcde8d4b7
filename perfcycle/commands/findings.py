"""The loops that follow a cycle's results to their end, from the command line.

- `perfcycle findings [answer | verify]`: the rectification register (问题整改). `perfcycle findings --year Y`
  lists the year's findings; a department answers one with its measures (`answer`), a coordinator verifies the
  answer with a comment (`verify`).
- `perfcycle disclose` and `perfcycle publications`: a department reports when and where it published its
  self-evaluation report (also after the cycle closed), the bureau its key-evaluation results; a coordinator
  records the day a department's 决算 was approved (its report is due with it).
- `perfcycle adoption [template | import]`: the budget the People's Congress adopted, compared with each line
  of a cycle's approved recommendation table (采纳 / 调整 / 未采纳).

Every refusal is one message and exit code 1, and is audited.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from perfcycle.commands.common import DatabaseUrl, fail, friendly, out, use_database

findings_app = typer.Typer(
    help="问题整改：列出整改事项（--year），部门反馈整改措施（answer），绩效科验证（verify），季度通报（notice）",
    no_args_is_help=False,
    invoke_without_command=True,
)
FindingId = Annotated[int, typer.Argument(help="整改事项编号（见 perfcycle findings --year 年度）")]


@findings_app.callback()
def list_findings(
    ctx: typer.Context,
    year: Annotated[int | None, typer.Option("--year", help="周期年度")] = None,
    department: Annotated[str | None, typer.Option("--department", help="只列出该部门（编码）的整改事项")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="只列出该状态：待整改 | 已反馈 | 已整改 | 未整改 | 逾期")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """列出一个年度的整改事项：来源、部门、问题、整改期限和状态。"""
    if ctx.invoked_subcommand is not None:
        return
    if year is None:
        fail("请用 --year 指明年度（如 perfcycle findings --year 2024）")
    from models import session_scope
    from perfcycle.collecting import get_cycle_for
    from perfcycle.findings import finding_figures
    from perfcycle.findings import list_findings as findings_of
    from perfcycle.rules.findings import SOURCES, state_for

    with friendly():
        try:
            state = state_for(status) if status else None
        except ValueError as exc:
            fail(str(exc))
        use_database(database_url)
        with session_scope() as session:
            cycle = get_cycle_for(session, year)
            assert cycle.id is not None
            rows = findings_of(session, year, department, state)
            counts = finding_figures(session, cycle.id)
    if as_json:
        print(
            json.dumps({"year": year, **counts.as_dict(), "findings": [r.as_json() for r in rows]}, ensure_ascii=False)
        )
        return
    by_source = "、".join(f"{SOURCES[s]} {counts.by_source[s]}" for s in SOURCES if counts.by_source[s])
    out.print(
        f"{year} 年度问题整改：登记 {counts.registered} 项{f'（{by_source}）' if by_source else ''}，"
        f"已反馈 {counts.responded}，已整改 {counts.closed}，逾期 {counts.overdue}",
        highlight=False,
        soft_wrap=True,
    )
    if not rows:
        out.print("没有符合条件的整改事项", highlight=False)
        return
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    table.add_column("编号", no_wrap=True)
    table.add_column("来源", no_wrap=True)
    table.add_column("部门", overflow="fold")
    table.add_column("问题", overflow="fold", ratio=1)
    table.add_column("期限", no_wrap=True)
    table.add_column("状态", no_wrap=True)
    for row in rows:
        what = f"{row.subject}\n{row.text}"
        if row.measures:
            what += f"\n整改措施（{row.answered_by}）：{row.measures}"
        if row.comment:
            what += f"\n验证意见（{row.verified_by}）：{row.comment}"
        state = f"[red]{row.state_label}[/]" if row.state == "overdue" else row.state_label
        table.add_row(
            str(row.id), row.source_label, escape(row.department_name or "—"), escape(what), f"{row.due_on}", state
        )
    out.print(table)


@findings_app.command("answer")
def answer(
    finding: FindingId,
    measures: Annotated[str, typer.Option("--measures", help="整改措施")] = "",
    cause: Annotated[str, typer.Option("--cause", help="原因分析（监控红灯的预警整改反馈必填）")] = "",
    progress: Annotated[str, typer.Option("--progress", help="完成情况（可选，记在整改措施之后）")] = "",
    by: Annotated[str, typer.Option("--by", help="反馈人姓名（默认部门联系人）")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """部门反馈一项整改事项的整改措施；被验证为未整改的可再次反馈。"""
    from models import session_scope
    from perfcycle.findings import answer_finding
    from perfcycle.rules.findings import SOURCES

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            row = answer_finding(session, finding, measures=measures, cause=cause, progress=progress, by=by)
            due, answered, answers, source = row.due_on, row.answered_at, row.answers, row.source
    late = "，已逾期" if answered is not None and answered.date() > due else ""
    again = f"（第 {answers} 次反馈）" if answers > 1 else ""
    out.print(
        f"已记录整改事项 {finding}（{SOURCES[source]}）的整改措施{again}：整改期限 {due:%Y-%m-%d}{late}；"
        "待财政局绩效科验证",
        highlight=False,
        soft_wrap=True,
    )


@findings_app.command("verify")
def verify(
    finding: FindingId,
    by: Annotated[str, typer.Option("--by", help="验证人姓名（须为财政局绩效科的审批人）")],
    comment: Annotated[str, typer.Option("--comment", help="验证意见（必填）")] = "",
    fixed: Annotated[bool, typer.Option("--fixed", help="已整改：整改事项关闭")] = False,
    unfixed: Annotated[bool, typer.Option("--unfixed", help="未整改：部门须再次反馈")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """绩效科验证部门反馈的整改措施：--fixed 已整改，--unfixed 未整改，并写明意见。"""
    from models import session_scope
    from perfcycle.accounts import admin_actor
    from perfcycle.findings import verify_finding

    if fixed == unfixed:
        fail("请指明验证结论：--fixed（已整改）或 --unfixed（未整改），二者选一")
    with friendly():
        use_database(database_url)
        with session_scope() as session:
            verify_finding(session, finding, fixed=fixed, comment=comment, by=by, entered_by=admin_actor())
    verdict = "已整改，整改事项关闭" if fixed else "未整改，部门须再次反馈整改措施"
    out.print(f"已记录整改事项 {finding} 的验证结论：{verdict}", highlight=False, soft_wrap=True)


@findings_app.command("notice")
def notice(
    year: Annotated[int, typer.Option("--year", help="年度")],
    quarter: Annotated[str, typer.Option("--quarter", help="季度 Q1..Q4")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="文件输出目录（默认：周期记录的目录，否则 PERFCYCLE_OUTPUT_DIR）")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """印发一个季度的问题整改情况通报：截至季度末尚未整改到位的问题，按部门列出。"""
    from models import session_scope
    from perfcycle.collecting import get_cycle_for
    from perfcycle.findings import write_findings_notice
    from perfcycle.settings import get_settings

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            recorded = get_cycle_for(session, year).out_dir
            folder = out_dir or Path(recorded or get_settings().output_dir)
            path = write_findings_notice(session, year, quarter.strip().upper(), folder)
    out.print(f"已写出 {path}", highlight=False, soft_wrap=True)


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        fail(f"{option} 应为日期 YYYY-MM-DD，不是 {text!r}")


def disclose(
    year: Annotated[int, typer.Option("--year", help="周期年度（公开的是该年度的评价结果）")],
    department: Annotated[str | None, typer.Option("--department", help="部门编码")] = None,
    bureau: Annotated[bool, typer.Option("--bureau", help="财政局公开财政重点评价结果（绩效科报送）")] = False,
    published: Annotated[str | None, typer.Option("--date", help="公开日期 YYYY-MM-DD")] = None,
    url: Annotated[str, typer.Option("--url", help="公开网址")] = "",
    final_accounts: Annotated[
        str | None, typer.Option("--final-accounts", help="部门决算批复日期 YYYY-MM-DD（绩效科登记，公开随同决算）")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="报送人姓名（部门默认联系人；财政局须为绩效科审批人）")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """报送绩效评价结果的公开情况（日期和网址），周期结束后也可报送；或登记部门决算批复日期。"""
    from models import session_scope
    from perfcycle.collecting import today
    from perfcycle.disclosure import record_final_accounts, report_bureau_publication, report_publication
    from perfcycle.rules.disclosure import STATE_LABELS, publication_state

    if bureau == (department is not None):
        fail("请指明报送方：--department 部门编码，或 --bureau（财政局），二者选一")
    approved_on, published_on = _day(final_accounts, "--final-accounts"), _day(published, "--date")
    if approved_on is not None:
        if bureau or published_on is not None:
            fail("--final-accounts 只登记部门的决算批复日期，不与 --bureau 或 --date 同用")
    elif published_on is None or not url.strip():
        fail("请写明公开日期（--date）和公开网址（--url）")
    with friendly():
        use_database(database_url)
        with session_scope() as session:
            if approved_on is not None:
                assert department is not None
                row = record_final_accounts(
                    session, year=year, department_code=department, approved_on=approved_on, by=by
                )
                message = (
                    f"已登记部门 {department.strip()} 的决算批复日期 {approved_on:%Y-%m-%d}："
                    f"{year} 年度绩效自评报告应于 {row.due_on:%Y-%m-%d} 前随同决算公开"
                )
            elif bureau:
                assert published_on is not None
                result = report_bureau_publication(session, year=year, published_on=published_on, url=url, by=by)
                message = f"已记录财政局 {year} 年度财政重点评价结果公开情况：{published_on:%Y-%m-%d}，{result.url}"
            else:
                assert published_on is not None and department is not None
                row = report_publication(
                    session, year=year, department_code=department, published_on=published_on, url=url, by=by
                )
                state = STATE_LABELS[publication_state(row.due_on, row.published_on, today())]
                due = f"（截止 {row.due_on:%Y-%m-%d}）" if row.due_on else ""
                message = (
                    f"已记录部门 {department.strip()} {year} 年度绩效自评报告公开情况：{published_on:%Y-%m-%d}，"
                    f"{row.url}；{state}{due}"
                )
    out.print(message, highlight=False, soft_wrap=True)


def publications(
    year: Annotated[int, typer.Option("--year", help="周期年度")],
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """列出一个年度各部门绩效自评报告和财政局重点评价结果的公开情况。"""
    from models import session_scope
    from perfcycle.collecting import get_cycle_for
    from perfcycle.disclosure import bureau_publication, disclosure_figures, publication_lines

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            cycle = get_cycle_for(session, year)
            assert cycle.id is not None
            lines = publication_lines(session, cycle.id)
            figures = disclosure_figures(session, cycle.id)
            bureau_row = bureau_publication(session, cycle.id)
            bureau = (bureau_row.published_on, bureau_row.url) if bureau_row else (None, "")
    if as_json:
        print(
            json.dumps(
                {
                    "year": year,
                    **figures,
                    "bureau": {"published_on": bureau[0].isoformat() if bureau[0] else None, "url": bureau[1]},
                    "departments": [line.as_json() for line in lines],
                },
                ensure_ascii=False,
            )
        )
        return
    out.print(
        f"{year} 年度绩效自评报告公开：{len(lines)} 个部门，按期公开 {figures['published']}，"
        f"逾期 {figures['late']}，尚未到期 {figures['pending']}；财政重点评价结果"
        + (f"已于 {bureau[0]:%Y-%m-%d} 公开（{bureau[1]}）" if bureau[0] else "尚未公开"),
        highlight=False,
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    for header in ("部门", "截止日期", "公开日期", "状态"):
        table.add_column(header, no_wrap=header != "部门", overflow="fold")
    table.add_column("公开网址", overflow="fold", ratio=1)
    for line in lines:
        state = f"[red]{line.state_label}[/]" if line.state in ("late", "overdue") else line.state_label
        table.add_row(
            escape(f"{line.department_name}（{line.department_code}）"),
            f"{line.due_on or '—'}",
            f"{line.published_on or '—'}",
            state,
            escape(line.url or "—"),
        )
    out.print(table)


adoption_app = typer.Typer(
    help="采纳情况：写出人大批准预算表（template），导入（import），查看每行采纳 / 调整 / 未采纳（--year）",
    invoke_without_command=True,
)
AdoptionYear = Annotated[int, typer.Option("--year", help="提出建议的评价年度（如 2024，对应 2026 年预算）")]


@adoption_app.callback()
def show_adoption(
    ctx: typer.Context,
    year: Annotated[int | None, typer.Option("--year", help="提出建议的评价年度")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """列出一个年度预算安排建议的采纳情况：采纳、调整（差额）、未采纳。"""
    if ctx.invoked_subcommand is not None:
        return
    if year is None:
        fail("请用 --year 指明提出建议的年度（如 perfcycle adoption --year 2024）")
    from models import session_scope
    from perfcycle.adoption import adoption_lines, adoption_summary
    from perfcycle.collecting import get_cycle_for
    from perfcycle.money import fmt_wan

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            cycle = get_cycle_for(session, year)
            assert cycle.id is not None
            lines = adoption_lines(session, cycle.id)
            summary = adoption_summary(session, cycle.id)
    if summary is None:
        fail(f"{year} 年度尚未导入人大批准的预算：perfcycle adoption import 文件.xlsx --year {year}")
    if as_json:
        rows = [
            {
                "project_code": a.line.project_code,
                "department_code": a.line.department_code,
                "recommended_wan": fmt_wan(a.line.recommended_fen),
                "adopted_wan": fmt_wan(a.adopted_fen),
                "difference_wan": fmt_wan(a.difference_fen),
                "status": a.status,
            }
            for a in lines
        ]
        print(json.dumps({"year": year, **summary.as_json(), "rate_pct": summary.rate_pct, "lines_detail": rows},
                         ensure_ascii=False))  # fmt: skip
        return
    out.print(
        f"{year} 年度提出的 {summary.budget_year} 年预算安排建议：{summary.lines} 个项目，采纳 {summary.adopted}，"
        f"调整 {summary.changed}，未采纳 {summary.not_adopted}，采纳率 {summary.rate_pct}；"
        f"建议 {summary.recommended_wan} 万元，批准 {summary.adopted_wan} 万元，差额 {summary.difference_wan} 万元",
        highlight=False,
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    for header in ("部门", "项目", "建议（万元）", "批准（万元）", "差额（万元）", "采纳情况"):
        table.add_column(header, overflow="fold", justify="right" if "万元" in header else "left")
    for a in lines:
        if a.status != "adopted":
            table.add_row(
                escape(a.line.department_name),
                escape(f"{a.line.project_code} {a.line.project_name}"),
                fmt_wan(a.line.recommended_fen),
                fmt_wan(a.adopted_fen),
                fmt_wan(a.difference_fen),
                a.status_label,
            )
    if table.row_count:
        out.print(table)


@adoption_app.command("template")
def adoption_template(
    year: AdoptionYear,
    output: Annotated[Path, typer.Option("--out", help="输出文件")] = Path("人大批准预算表.xlsx"),
    database_url: DatabaseUrl = None,
) -> None:
    """写出人大批准预算表：预填审批通过的建议表全部项目，逐行填写批准金额。"""
    from models import session_scope
    from perfcycle.adoption import write_adoption_form

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            lines = write_adoption_form(session, year, output)
    out.print(f"已写出 {output}：{year} 年度建议表 {lines} 个项目，请逐行填写批准金额（未安排的填 0）", highlight=False)


@adoption_app.command("import")
def adoption_import(
    file: Annotated[Path, typer.Argument(help="填好的人大批准预算表 .xlsx")],
    year: AdoptionYear,
    by: Annotated[str, typer.Option("--by", help="导入人姓名")] = "",
    on: Annotated[
        str | None, typer.Option("--on", help="导入日期 YYYY-MM-DD（默认为财政局当日）：此前成文的报告不陈述")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """导入人大批准的预算，逐行与预算安排建议比较：全部通过才写入，任何问题都逐条指出。"""
    from models import session_scope
    from perfcycle.adoption import adoption_summary, import_adopted_budget
    from perfcycle.collecting import get_cycle_for

    if not file.is_file():
        fail(f"找不到文件 {file}")
    imported_on = _day(on, "--on")
    with friendly():
        use_database(database_url)
        with session_scope() as session:
            result = import_adopted_budget(session, year=year, path=file, by=" ".join(by.split()), on=imported_on)
            cycle = get_cycle_for(session, year)
            summary = adoption_summary(session, cycle.id or 0)
    if result.unchanged:
        out.print(f"{file.name} 与已导入的批准金额相同，未做改动", highlight=False)
        return
    assert summary is not None
    out.print(
        f"已导入 {result.budget_year} 年人大批准的预算（{result.lines} 个项目）：采纳 {summary.adopted}，"
        f"调整 {summary.changed}，未采纳 {summary.not_adopted}，采纳率 {summary.rate_pct}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add `perfcycle findings`, `disclose`, `publications` and `adoption` to the `perfcycle` app."""
    app.add_typer(findings_app, name="findings")
    app.command("disclose")(disclose)
    app.command("publications")(publications)
    app.add_typer(adoption_app, name="adoption")

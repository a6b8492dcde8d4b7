"""`perfcycle events add | list | remove`: the coordinator records the year's events (工作记事) the annual
report states — trainings held, the district's place in the city's assessment, press articles."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from perfcycle.commands.common import DatabaseUrl, friendly, out, use_database

events_app = typer.Typer(help="工作记事：培训、考核排名、宣传报道（年度说明据此表述）", no_args_is_help=True)
Year = Annotated[int, typer.Option("--year", help="记事所属年度（周期年度）")]


def _line(event_id: int | None, described: dict[str, object]) -> str:
    parts = [f"#{event_id}", str(described["kind"]), str(described["when"] or "—"), str(described["title"] or "—")]
    if described["detail"]:
        parts.append(str(described["detail"]))
    if described["rank"]:
        parts.append(f"第{described['rank']}名")
    if described["source"]:
        parts.append(f"（来源 {described['source']}）")
    return " ".join(parts)


@events_app.command("add")
def add(
    year: Year,
    kind: Annotated[str, typer.Option("--kind", help="培训 | 考核 | 宣传（或 training | ranking | press）")],
    title: Annotated[
        str, typer.Option("--title", help="培训名称；考核内容（如 绩效目标管理、绩效运行监控等）；报道标题")
    ] = "",
    date: Annotated[str, typer.Option("--date", help="培训的月份或日期（2024-11）；报道的发表日期（2024-08-20）")] = "",
    detail: Annotated[str, typer.Option("--detail", help="考核的排名范围（三区一县）；报道的发表媒体")] = "",
    rank: Annotated[int | None, typer.Option("--rank", help="考核名次（正整数）")] = None,
    by: Annotated[str, typer.Option("--by", help="记录人姓名（默认记为管理员）")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """记录一条工作记事；同一事项再次记录会更新而不重复。"""
    from models import session_scope
    from perfcycle.events import describe, record_event

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            event = record_event(
                session, year, kind, when=date, title=title, detail=detail, rank=rank, source="命令行", by=by
            )
            line = _line(event.id, describe(event))
    out.print(escape(f"已记录 {year} 年工作记事 {line}"), highlight=False, soft_wrap=True)


@events_app.command("list")
def list_events(year: Year, database_url: DatabaseUrl = None) -> None:
    """列出某年度的工作记事（年度说明据此表述；没有记事的事项不写入说明）。"""
    from models import session_scope
    from perfcycle.events import describe, events_of

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            lines = [_line(e.id, describe(e)) for e in events_of(session, year)]
    if not lines:
        out.print(f"{year} 年没有工作记事：年度说明不表述培训、考核排名和宣传报道", highlight=False)
        return
    for line in lines:
        out.print(escape(line), highlight=False, soft_wrap=True)


@events_app.command("remove")
def remove(
    event_id: Annotated[int, typer.Argument(help="记事编号（events list 中的 #编号）")],
    by: Annotated[str, typer.Option("--by", help="操作人姓名（默认记为管理员）")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """删除一条记错的工作记事。"""
    from models import session_scope
    from perfcycle.events import describe, remove_event

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            event = remove_event(session, event_id, by)
            line = _line(event_id, describe(event))
    out.print(escape(f"已删除工作记事 {line}"), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `perfcycle events` to the `perfcycle` app."""
    app.add_typer(events_app, name="events")

"""`perfcycle docs --year Y [--kind K] --out DIR`: regenerate a cycle's documents from the database.

No Prefect run is needed: the documents are written through the same catalogue the stage tasks use
(perfcycle/documents/catalog.py), so unchanged records give the same files, byte for byte. The database is
only read (but for the 发文字号 of a document never written before, given once as a stage would); each
regenerated file is compared with the sha256 recorded when its stage produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from perfcycle.documents.catalog import GROUPS, DocumentKind, GeneratedDocument, all_kinds, write_documents


class DocsError(ValueError):
    """A request `perfcycle docs` cannot carry out; the message says why and what is possible."""


@dataclass(frozen=True)
class RegeneratedDocument:
    """A regenerated file and the sha256 recorded for it by its stage ("" when none was recorded)."""

    document: GeneratedDocument
    recorded_sha256: str

    @property
    def matches_record(self) -> bool:
        return self.document.sha256 == self.recorded_sha256


def _unknown_kind(kind: str) -> DocsError:
    return DocsError(f"未知的文件类型「{kind}」；可用: {'、'.join(all_kinds())}")


def regenerate(
    year: int, kind: str | None, out_dir: Path | None, database_url: str | None
) -> list[RegeneratedDocument]:
    """Write the documents of the `year` cycle under out_dir/documents/<year>/…, as the stages did (out_dir None:
    the cycle's recorded output folder, else PERFCYCLE_OUTPUT_DIR).

    A group of documents is written when its stage is done or it was recorded before (target setting and
    the annual report are written while their approval is still open). `kind` keeps one kind only.
    """
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import select

    from models import Cycle, Document, StageState, session_scope
    from perfcycle.cycle_context import output_folder
    from perfcycle.documents.contexts import ContextError

    if kind is not None and kind not in all_kinds():
        raise _unknown_kind(kind)
    with session_scope(database_url) as session:
        try:
            cycle = session.exec(select(Cycle).where(Cycle.year == year)).first()
        except SQLAlchemyError as exc:
            raise DocsError(
                f"无法读取数据库（{type(exc).__name__}）；请确认数据库地址并先执行 perfcycle db upgrade"
            ) from None
        if cycle is None or cycle.id is None or cycle.status == "historical":
            raise DocsError(f"数据库中没有 {year} 年度的绩效管理周期")
        done = {
            s.stage
            for s in session.exec(select(StageState).where(StageState.cycle_id == cycle.id)).all()
            if s.status == "done"
        }
        recorded = {
            (d.kind, d.subject): d.sha256
            for d in session.exec(select(Document).where(Document.cycle_id == cycle.id)).all()
        }
        recorded_kinds = {k for k, _subject in recorded}

        def due(group: tuple[DocumentKind, ...]) -> bool:
            return any(k.stage in done or k.kind in recorded_kinds for k in group)

        selected = [k for group in GROUPS.values() if due(group) for k in group if kind is None or k.kind == kind]
        if kind is not None and not selected:
            raise DocsError(f"{year} 年度周期还没有生成过「{kind}」：它所属的阶段尚未完成")
        try:
            generated = write_documents(session, cycle, out_dir or Path(output_folder(cycle)), selected)
        except ContextError as exc:
            raise DocsError(str(exc)) from None
    return [RegeneratedDocument(doc, recorded.get((doc.kind, doc.subject), "")) for doc in generated]


def docs_command(year: int, kind: str | None, out_dir: Path | None, database_url: str | None) -> list[Path]:
    """Regenerate the documents of the `year` cycle (optionally one kind) under out_dir; their paths."""
    return [r.document.path for r in regenerate(year, kind, out_dir, database_url)]


def register(app: typer.Typer) -> None:
    """Add the `docs` command to the perfcycle CLI."""

    @app.command("docs")
    def docs(
        year: Annotated[int, typer.Option(help="周期年度")],
        kind: Annotated[
            str | None, typer.Option(help="只生成一类文件，如 绩效监控预警通知书、预算安排建议表、工作开展情况说明")
        ] = None,
        out_dir: Annotated[
            Path | None,
            typer.Option("--out", help="输出目录，文件写到 DIR/documents/<年度>/ 下（默认：周期记录的目录，否则 out）"),
        ] = None,
        database_url: Annotated[str | None, typer.Option(help="覆盖 PERFCYCLE_DATABASE_URL")] = None,
    ) -> None:
        """从数据库重新生成某年度周期的文件（与各阶段生成的完全相同）。"""
        from rich.console import Console

        out, err = Console(highlight=False), Console(stderr=True, highlight=False)
        try:
            results = regenerate(year, kind, out_dir, database_url)
        except DocsError as exc:
            err.print(f"[bold red]错误[/]: {exc}", soft_wrap=True)
            raise typer.Exit(1) from None
        for result in results:
            doc = result.document
            if not result.recorded_sha256:
                mark = "[yellow]（未曾记录）[/]"
            elif result.matches_record:
                mark = "[green]与记录一致[/]"
            else:
                mark = "[red]与记录不同[/]"
            out.print(f"{doc.kind}  {doc.path}  {mark}", soft_wrap=True)
        same = sum(1 for r in results if r.matches_record)
        out.print(f"共生成 {len(results)} 份文件，其中 {same} 份与记录的 sha256 一致", soft_wrap=True)

"""Documents of each stage, rendered from the records and registered with their sha256.

What each stage produces, and how, is the catalogue in perfcycle/documents/catalog.py; `perfcycle docs`
writes through the same catalogue, so regenerating gives the same files.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from sqlmodel import Session, select

from models import Document, session_scope
from perfcycle import audit
from perfcycle.documents.catalog import ANNUAL_REPORT, STAGE_DOCUMENTS, DocumentKind, GeneratedDocument, write_documents
from perfcycle.settings import get_settings
from perfcycle.stages import STAGE_NAMES
from tasks.artifacts import publish_markdown
from tasks.common import get_cycle

__all__ = ["STAGE_DOCUMENTS", "render_annual_report", "render_stage_documents", "write_and_record"]


def write_and_record(
    session: Session, cycle_id: int, out_dir: str | None, kinds: tuple[DocumentKind, ...]
) -> list[GeneratedDocument]:
    """Write the given kinds of document of a cycle and record each one (kind, subject, path, sha256)."""
    cycle = get_cycle(session, cycle_id)
    generated = write_documents(session, cycle, Path(out_dir or get_settings().output_dir), kinds)
    existing = {
        (d.kind, d.subject): d for d in session.exec(select(Document).where(Document.cycle_id == cycle_id)).all()
    }
    for doc in generated:
        row = existing.get((doc.kind, doc.subject)) or Document(
            cycle_id=cycle_id, stage=doc.stage, kind=doc.kind, subject=doc.subject, path="", sha256=""
        )
        if (row.stage, row.path, row.sha256) != (doc.stage, str(doc.path), doc.sha256):
            audit.record_document(session, row, doc.path, doc.sha256)
            row.stage, row.path, row.sha256 = doc.stage, str(doc.path), doc.sha256
            session.add(row)
    return generated


@task(name="render-stage-documents")
def render_stage_documents(cycle_id: int, stage: str, out_dir: str | None = None) -> list[str]:
    """All of one stage's documents in one task (a department's notice is a file, not a task run).

    `out_dir` None means the configured PERFCYCLE_OUTPUT_DIR."""
    with session_scope() as session:
        year = get_cycle(session, cycle_id).year
        generated = write_and_record(session, cycle_id, out_dir, STAGE_DOCUMENTS[stage])
    paths = [str(doc.path) for doc in generated]
    _link_documents(year, stage, paths)
    return paths


@task(name="render-annual-report")
def render_annual_report(cycle_id: int, out_dir: str) -> list[str]:
    """关于{区}{年}年区级预算绩效管理工作开展情况的说明, every figure computed from the cycle's records."""
    with session_scope() as session:
        year = get_cycle(session, cycle_id).year
        generated = write_and_record(session, cycle_id, out_dir, (ANNUAL_REPORT,))
    paths = [str(doc.path) for doc in generated]
    _link_documents(year, "annual_report", paths)
    return paths


def _link_documents(year: int, stage: str, paths: list[str]) -> None:
    if not paths:
        return
    lines = [f"- [{Path(p).name}](file://{Path(p).as_posix()})" for p in paths[:200]]
    if len(paths) > 200:
        lines.append(f"- …共 {len(paths)} 份")
    publish_markdown(
        f"{year}-{stage.replace('_', '-').lower()}-documents",
        "\n".join(lines),
        f"{year} 年{STAGE_NAMES.get(stage, '工作开展情况说明')}生成的文件（{len(paths)} 份）",
    )

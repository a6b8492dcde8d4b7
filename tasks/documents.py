"""Documents of each stage, rendered from the records and registered with their sha256.

What each stage produces, and how, is the catalogue in perfcycle/documents/catalog.py; `perfcycle docs`
writes through the same catalogue, so regenerating gives the same files.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prefect import task
from prefect.runtime import deployment
from sqlmodel import Session, select

from models import Cycle, Document, session_scope
from perfcycle import audit
from perfcycle.cycle_context import output_folder
from perfcycle.documents.catalog import (
    GROUPS,
    SCORE_FORM_KINDS,
    SCORE_FORMS,
    STAGE_DOCUMENTS,
    DocumentKind,
    GeneratedDocument,
    RenderJob,
    fans_out,
    plan_documents,
    render_jobs,
    write_planned,
)
from perfcycle.documents.links import document_line
from perfcycle.documents.spreadsheets import score_form_instructions
from perfcycle.faults import checkpoint
from perfcycle.settings import get_settings
from perfcycle.stages import STAGE_NAMES, StageError
from tasks.artifacts import publish_markdown
from tasks.common import get_cycle

__all__ = [
    "STAGE_DOCUMENTS",
    "prepare_score_form",
    "render_annual_report",
    "render_document_share",
    "render_stage_documents",
    "write_and_record",
]

RENDER_DEPLOYMENT = "render-documents/render-documents"


def write_and_record(
    session: Session, cycle_id: int, out_dir: str | None, kinds: tuple[DocumentKind, ...], *, workers: int | None = None
) -> list[GeneratedDocument]:
    """Write the given kinds of document of a cycle and record each one (kind, subject, path, sha256).

    New or changed documents are audited in one batch, in the order they were written."""
    cycle = get_cycle(session, cycle_id)
    settings = get_settings()
    folder = Path(out_dir or output_folder(cycle))
    planned = plan_documents(session, cycle, folder, kinds)
    whole_stage = bool(kinds) and kinds == STAGE_DOCUMENTS.get(kinds[0].stage)
    # deployment.id is an API read of the flow run: ask only when the stage would fan out at all.
    fan_out = whole_stage and fans_out(len(planned), settings.document_shares, settings.document_shares_from)
    if fan_out and deployment.id is not None:
        session.commit()  # the shares plan the same documents: they read the numbers given them above
        generated = render_on_workers(cycle, folder, planned, settings.document_shares)
    else:
        generated = write_planned(planned, workers=workers)
    existing = {
        (d.kind, d.subject): d for d in session.exec(select(Document).where(Document.cycle_id == cycle_id)).all()
    }
    changed: list[tuple[Document, GeneratedDocument]] = []
    for doc in generated:
        row = existing.get((doc.kind, doc.subject)) or Document(
            cycle_id=cycle_id, stage=doc.stage, kind=doc.kind, subject=doc.subject, path="", sha256=""
        )
        if (row.stage, row.path, row.sha256) != (doc.stage, str(doc.path), doc.sha256):
            changed.append((row, doc))
    audit.record_documents(session, [(row, doc.path, doc.sha256) for row, doc in changed])
    for row, doc in changed:
        row.stage, row.path, row.sha256 = doc.stage, str(doc.path), doc.sha256
        session.add(row)
    return generated


def render_on_workers(
    cycle: Cycle, folder: Path, planned: list[tuple[DocumentKind, RenderJob]], shares: int
) -> list[GeneratedDocument]:
    """Split the stage's planned documents in `shares` render-documents runs that any worker of the pool takes.

    Each run plans the same documents from the records and writes every `shares`-th one; the files are then
    read back here, so the recorded sha256 is that of the bytes on the shared folder."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    stage = planned[0][0].stage
    assert cycle.id is not None
    parameters = [
        {"cycle_id": cycle.id, "stage": stage, "out_dir": str(folder), "share": share, "shares": shares}
        for share in range(shares)
    ]

    def run_share(share_parameters: dict[str, object]) -> FlowRun:
        run = run_deployment(RENDER_DEPLOYMENT, parameters=share_parameters, timeout=None, poll_interval=2)
        assert isinstance(run, FlowRun)
        return run

    with ThreadPoolExecutor(shares) as pool:
        runs = list(pool.map(run_share, parameters))
    failed = [run.name for run in runs if run.state is None or not run.state.is_completed()]
    if failed:
        raise StageError(
            f"{STAGE_NAMES.get(stage, stage)}的文件未能全部生成（{'、'.join(failed)}），请查看这些运行的日志后重新运行"
        )
    return [
        GeneratedDocument(
            kind.kind, kind.stage, job.subject, job.path, hashlib.sha256(job.path.read_bytes()).hexdigest()
        )
        for kind, job in planned
    ]


@task(name="render-document-share")
def render_document_share(cycle_id: int, stage: str, out_dir: str, share: int, shares: int) -> int:
    """The stage's documents whose place in the plan is `share` modulo `shares`, written here; returns how many."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        planned = plan_documents(session, cycle, Path(out_dir), STAGE_DOCUMENTS[stage])
    jobs = [job for index, (_kind, job) in enumerate(planned) if index % shares == share]
    for _sha in render_jobs(jobs):
        checkpoint("document-written")
    return len(jobs)


@task(name="render-stage-documents")
def render_stage_documents(cycle_id: int, stage: str, out_dir: str | None = None) -> list[str]:
    """All of one stage's documents in one task (a department's notice is a file, not a task run).

    `out_dir` None means the cycle's recorded output folder (a stage deployment run on its own)."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        year, folder = cycle.year, out_dir or output_folder(cycle)
        generated = write_and_record(session, cycle_id, folder, STAGE_DOCUMENTS[stage])
    paths = [str(doc.path) for doc in generated]
    _link_documents(year, stage, paths, folder)
    return paths


@task(name="prepare-score-form")
def prepare_score_form(cycle_id: int, stage: str, out_dir: str | None = None) -> str | None:
    """The score sheet of the stage's scorers, pre-filled with exactly the objects assigned to them, written
    beside the stage's documents and recorded; its path, None while nothing is assigned yet."""
    with session_scope() as session:
        year = get_cycle(session, cycle_id).year
        generated = write_and_record(session, cycle_id, out_dir, (SCORE_FORMS[stage],))
    if not generated:
        return None
    path = generated[0].path
    publish_markdown(
        f"{year}-{stage.replace('_', '-')}-form",
        f"**{path.name}**\n\n文件位置：`{path}`\n\n{score_form_instructions(SCORE_FORM_KINDS[stage], year)}",
        f"{year} 年{SCORE_FORMS[stage].kind}（已预填评分对象）：{path.name}",
    )
    return str(path)


@task(name="render-annual-report")
def render_annual_report(cycle_id: int, out_dir: str | None = None) -> list[str]:
    """关于{区}{年}年区级预算绩效管理工作开展情况的说明, every figure computed from the cycle's records, and
    the 数据核对表 beside it."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        year, folder = cycle.year, out_dir or output_folder(cycle)
        generated = write_and_record(session, cycle_id, folder, GROUPS["annual_report"])
    paths = [str(doc.path) for doc in generated]
    _link_documents(year, "annual_report", paths, folder)
    return paths


def _link_documents(year: int, stage: str, paths: list[str], folder: str) -> None:
    """The stage's documents as an artifact: links where the output folder is served (PERFCYCLE_DOCUMENTS_URL),
    else each path as text (a file:// link opens nothing in a browser on another machine)."""
    if not paths:
        return
    settings = get_settings()
    lines = [document_line(p, folder, settings.documents_url) for p in paths[:200]]
    if len(paths) > 200:
        lines.append(f"- …共 {len(paths)} 份，见 {Path(folder).as_posix()}")
    publish_markdown(
        f"{year}-{stage.replace('_', '-').lower()}-documents",
        "\n".join(lines),
        f"{year} 年{STAGE_NAMES.get(stage, '工作开展情况说明')}生成的文件（{len(paths)} 份）",
    )

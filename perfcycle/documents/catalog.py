"""The catalogue of the cycle's documents: which kinds each stage produces, where they go and how they are
written from the records. The Prefect tasks (tasks/documents.py) and `perfcycle docs` both write through
`write_documents`, so a regenerated document is byte for byte the one the stage produced.

Every kind's planner takes a session, the cycle and the stage's folder, reads the records with a few bulk
queries, and returns one `RenderJob` per file: the template (or spreadsheet writer), its context and its
path, as plain picklable data. `render_jobs` then writes them, in this process when there are few and on
every core (a process pool, no database access there) when there are many; either way the results come
back in the jobs' order, so the files, their sha256 and what is recorded are the same. Per-department
documents stay inside the one task of their stage, never one task each.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from models.tables import Cycle
from perfcycle import pools
from perfcycle.cycle_context import cycle_policy
from perfcycle.documents import contexts, spreadsheets
from perfcycle.documents.naming import is_whole, safe_filename, safe_path
from perfcycle.documents.numbers import Numbering
from perfcycle.documents.renderer import render_docx
from perfcycle.faults import checkpoint
from perfcycle.settings import get_settings
from perfcycle.stages import QUARTERS
from perfcycle.workbooks.formats import SPECS

YEAR_FOLDER = ""  # the annual report sits in the year's folder itself

#: Jobs worth starting the worker processes for: a document takes 1–3 ms, and each worker's start (importing
#: the renderers, a second or more) plus sending it the contexts costs more than a thousand of them. Once
#: the workers run, POOL_MIN_JOBS are enough to hand them a batch. Fewer are written here.
POOL_START_JOBS = 2000
POOL_MIN_JOBS = 8


@dataclass(frozen=True)
class RenderJob:
    """One file to write: a .md.j2 template (→ .docx) or a name in `spreadsheets.WRITERS`, its context, its path."""

    subject: str
    template: str
    context: Any
    path: Path


Plan = Callable[[Session, Cycle, Path], list[RenderJob]]


@dataclass(frozen=True)
class DocumentKind:
    """One kind of document: its name (the `Document.kind` recorded), stage, folder and planner."""

    kind: str
    stage: str
    folder: str
    plan: Plan


@dataclass(frozen=True)
class GeneratedDocument:
    kind: str
    stage: str
    subject: str
    path: Path
    sha256: str


def _cycle_id(cycle: Cycle) -> int:
    assert cycle.id is not None
    return cycle.id


def subject_file(folder: Path, prefix: str, name: str, code: str, suffix: str) -> Path:
    """A file for one department or object: "<prefix><name><suffix>", made safe (a name from the records
    never leaves the folder nor creates sub-folders); when the name is too long to keep whole, the code
    goes first so that two long names cut to the same text still get different files."""
    filename = safe_filename(f"{prefix}{name}", suffix)
    if not is_whole(f"{prefix}{name}", suffix):
        filename = safe_filename(f"{prefix}{code}-{name}", suffix)
    return safe_path(folder, filename)


# ---------------------------------------------------------------------------------------------- planners


def _target_notice(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    context = contexts.target_notice_context(session, _cycle_id(cycle))
    return [RenderJob("*", "target_notice.md.j2", context, folder / "绩效目标申报通知.docx")]


def _target_forms(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    return [
        RenderJob(
            form.department_code,
            "target_form.xlsx",
            form,
            subject_file(folder / "绩效目标申报表", "", form.department_name, form.department_code, ".xlsx"),
        )
        for form in contexts.target_form_contexts(session, _cycle_id(cycle))
    ]


def _target_reviews(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    return [
        RenderJob(
            review.department_code,
            "target_review.md.j2",
            review,
            subject_file(folder / "绩效目标审核意见", "", review.department_name, review.department_code, ".docx"),
        )
        for review in contexts.target_review_contexts(session, _cycle_id(cycle))
    ]


def _ex_ante(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    context = contexts.ex_ante_report_context(session, _cycle_id(cycle))
    return [RenderJob("*", "ex_ante_report.md.j2", context, folder / "事前绩效评估报告.docx")]


def _monitoring_summary(quarter: str) -> Plan:
    def plan(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
        summary = spreadsheets.monitoring_summary(session, _cycle_id(cycle), quarter)
        return [RenderJob(quarter, "monitoring_summary.xlsx", summary, folder / f"{quarter}绩效监控汇总表.xlsx")]

    return plan


def _warning_notices(quarter: str, level: str) -> Plan:
    title = "绩效监控预警通知书" if level == "red" else "绩效监控提醒函"

    def plan(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
        return [
            RenderJob(
                f"{quarter}:{notice.department_code}",
                "warning_notice.md.j2",
                notice,
                subject_file(folder, f"{quarter}{title}-", notice.department_name, notice.department_code, ".docx"),
            )
            for notice in contexts.warning_notice_contexts(session, _cycle_id(cycle), quarter)
            if notice.level == level
        ]

    return plan


def _self_evaluation(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    context = contexts.self_evaluation_summary_context(session, _cycle_id(cycle))
    return [RenderJob("*", "self_evaluation_summary.md.j2", context, folder / "绩效自评汇总.docx")]


def _review(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    context = contexts.review_result_context(session, _cycle_id(cycle))
    return [RenderJob("*", "review_result.md.j2", context, folder / "抽查复核结果.docx")]


def _fiscal(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    return [
        RenderJob(
            f"{report.object_type}:{report.object_code}",
            "fiscal_evaluation_report.md.j2",
            report,
            subject_file(folder, "重点绩效评价报告-", report.object_name, report.object_code, ".docx"),
        )
        for report in contexts.fiscal_evaluation_report_contexts(session, _cycle_id(cycle))
    ]


def _score_form(kind: str) -> Plan:
    def plan(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
        form = spreadsheets.SCORE_FORM_BUILDERS[kind](session, _cycle_id(cycle))
        if form is None:
            return []
        return [RenderJob("*", "score_form.xlsx", form, folder / f"{SPECS[kind].title}.xlsx")]

    return plan


def _budget(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    table = spreadsheets.budget_table(session, _cycle_id(cycle))
    return [RenderJob("*", "budget_table.xlsx", table, folder / f"{cycle.budget_year}年预算安排建议表.xlsx")]


def _publication_list(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    context = contexts.publication_list_context(session, _cycle_id(cycle))
    return [RenderJob("*", "publication_list.md.j2", context, folder / "绩效评价结果公开清单.docx")]


def _annual_report(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    context = contexts.annual_report_context(session, _cycle_id(cycle))
    path = safe_path(folder, f"关于{context.district}{cycle.year}年区级预算绩效管理工作开展情况的说明.docx")
    return [RenderJob("*", "annual_report.md.j2", context, path)]


def _figure_check(session: Session, cycle: Cycle, folder: Path) -> list[RenderJob]:
    check = contexts.figure_check_context(session, _cycle_id(cycle))
    path = safe_path(folder, f"{check.title}.xlsx")
    return [RenderJob("*", "figure_check.xlsx", check, path)]


# ---------------------------------------------------------------------------------------------- rendering


def render_job(job: RenderJob, templates_dir: Path) -> str:
    """Write one job's file and return its sha256; runs in a worker process as well as in this one."""
    if job.template.endswith(".md.j2"):
        return render_docx(job.template, job.context, job.path, templates_dir=templates_dir)
    return spreadsheets.WRITERS[job.template](job.context, job.path)


def _render_in_worker(job: RenderJob, templates_dir: Path) -> str:
    """`render_job` in a worker process: a job once begun is finished (its file renamed into place) even when
    the parent dies meanwhile; none is begun after."""
    if pools.parent_gone.is_set():
        os._exit(1)
    with pools.busy:
        return render_job(job, templates_dir)


_pool = pools.SharedPool()


def _shared_pool(workers: int, jobs: int) -> ProcessPoolExecutor | None:
    """The process's render pool of `workers` processes; None when `jobs` are too few to be worth it."""
    return _pool.get(workers, jobs, start_at=POOL_START_JOBS, keep_from=POOL_MIN_JOBS)


def shutdown_pool() -> None:
    """Stop the render processes (they also stop with this process)."""
    _pool.shutdown()


def fans_out(documents: int, shares: int, shares_from: int) -> bool:
    """Whether a stage's documents go to the workers in shares: only when there are several shares and enough
    documents (`shares_from`) to pay for starting a run on a worker for each."""
    return shares > 1 and documents >= shares_from


def render_workers() -> int:
    """How many processes render documents: PERFCYCLE_RENDER_WORKERS, else one per core."""
    return pools.worker_count()


def render_jobs(jobs: Sequence[RenderJob], workers: int | None = None) -> Iterator[str]:
    """Write the jobs' files and yield each sha256 as it is known, in the order of the jobs.

    `workers` None means `render_workers()`; with 1, or too few jobs for the pool, they are written here."""
    settings = get_settings()
    templates_dir = Path(settings.templates_dir).resolve()
    count = render_workers() if workers is None else workers
    pool = _shared_pool(count, len(jobs)) if count > 1 else None
    if pool is None:
        for job in jobs:
            yield render_job(job, templates_dir)
        return
    chunk = max(1, len(jobs) // (count * 8))
    try:
        yield from pool.map(_render_in_worker, jobs, [templates_dir] * len(jobs), chunksize=chunk)
    except BrokenProcessPool:
        shutdown_pool()
        raise


# ---------------------------------------------------------------------------------------------- catalogue

ANNUAL_REPORT_KIND = contexts.ANNUAL_REPORT_KIND

#: Each stage's documents, in the order they are written (the annual report is its own group, below).
STAGE_DOCUMENTS: dict[str, tuple[DocumentKind, ...]] = {
    "target_setting": (
        DocumentKind("绩效目标申报通知", "target_setting", "00-绩效目标管理", _target_notice),
        DocumentKind("绩效目标申报表", "target_setting", "00-绩效目标管理", _target_forms),
        DocumentKind("绩效目标审核意见", "target_setting", "00-绩效目标管理", _target_reviews),
    ),
    "ex_ante_assessment": (DocumentKind("事前绩效评估报告", "ex_ante_assessment", "01-事前绩效评估", _ex_ante),),
    **{
        f"monitoring_{q}": (
            DocumentKind("绩效监控汇总表", f"monitoring_{q}", f"02-绩效运行监控/{q}", _monitoring_summary(q)),
            DocumentKind("绩效监控预警通知书", f"monitoring_{q}", f"02-绩效运行监控/{q}", _warning_notices(q, "red")),
            DocumentKind("绩效监控提醒函", f"monitoring_{q}", f"02-绩效运行监控/{q}", _warning_notices(q, "yellow")),
        )
        for q in QUARTERS
    },
    "self_evaluation": (
        DocumentKind(contexts.SELF_EVALUATION_KIND, "self_evaluation", "03-绩效自评", _self_evaluation),
    ),
    "sampling_review": (DocumentKind("抽查复核结果", "sampling_review", "05-抽查复核", _review),),
    "fiscal_evaluation": (DocumentKind("重点绩效评价报告", "fiscal_evaluation", "06-财政重点评价", _fiscal),),
    "budget_linkage": (DocumentKind("预算安排建议表", "budget_linkage", "07-评价结果应用", _budget),),
    "reporting": (DocumentKind(contexts.PUBLICATION_LIST_KIND, "reporting", "08-公开与报告", _publication_list),),
}

#: The annual 工作开展情况说明: stage "reporting", rendered by its own task before the leader's approval.
ANNUAL_REPORT = DocumentKind(ANNUAL_REPORT_KIND, "reporting", YEAR_FOLDER, _annual_report)
#: Beside it, the 数据核对表: every figure the report states, what it means and the records it counts.
FIGURE_CHECK = DocumentKind("数据核对表", "reporting", YEAR_FOLDER, _figure_check)

#: The score sheet each scoring stage hands out as soon as its objects are known (the sample, the selection),
#: pre-filled with them and written beside the stage's documents; its kind is the workbook's title.
SCORE_FORM_KINDS = {"sampling_review": "review_scores", "fiscal_evaluation": "third_party_scores"}
SCORE_FORMS: dict[str, DocumentKind] = {
    stage: DocumentKind(SPECS[kind].title, stage, STAGE_DOCUMENTS[stage][0].folder, _score_form(kind))
    for stage, kind in SCORE_FORM_KINDS.items()
}


def _groups() -> dict[str, tuple[DocumentKind, ...]]:
    groups: dict[str, tuple[DocumentKind, ...]] = {}
    for stage, documents in STAGE_DOCUMENTS.items():
        if stage in SCORE_FORMS:
            groups[f"{stage}_form"] = (SCORE_FORMS[stage],)
        groups[stage] = documents
    groups["annual_report"] = (ANNUAL_REPORT, FIGURE_CHECK)
    return groups


#: Every document group by name, in the order of the cycle: the stages (a stage's score sheet, group
#: "<stage>_form", just before it), then "annual_report".
GROUPS: dict[str, tuple[DocumentKind, ...]] = _groups()


def all_kinds() -> list[str]:
    """Every document kind, each once, in the order of the cycle."""
    return list(dict.fromkeys(k.kind for group in GROUPS.values() for k in group))


def year_folder(out_dir: Path, year: int) -> Path:
    """out_dir/documents/<year>: where a cycle's documents go."""
    return safe_path(out_dir, "documents", str(year))


def plan_documents(
    session: Session, cycle: Cycle, out_dir: Path, kinds: Iterable[DocumentKind]
) -> list[tuple[DocumentKind, RenderJob]]:
    """The files the given kinds of document of a cycle make, each with its context read from the records.

    A document the bureau issues gets its 公文 frame here: its number and date from the register (given now if it has
    none, in the order of the plan), the issuer, contact and 版记 from the cycle's policy."""
    base = year_folder(out_dir, cycle.year)
    planned: list[tuple[DocumentKind, RenderJob]] = []
    numbering: Numbering | None = None
    with contexts.planning(session):
        for kind in kinds:
            folder = safe_path(base, kind.folder) if kind.folder else base
            folder.mkdir(parents=True, exist_ok=True)
            for job in kind.plan(session, cycle, folder):
                context = job.context
                if isinstance(context, contexts.Issued):
                    numbering = numbering or Numbering(session, cycle, cycle_policy(cycle))
                    frame = numbering.frame(kind.kind, job.subject, context.addressee, context.dated)
                    job = dataclasses.replace(job, context=context.model_copy(update={"frame": frame}))
                planned.append((kind, job))
    return planned


def write_documents(
    session: Session, cycle: Cycle, out_dir: Path, kinds: Iterable[DocumentKind], *, workers: int | None = None
) -> list[GeneratedDocument]:
    """Write the given kinds of document of a cycle under out_dir/documents/<year>/<stage folder>.

    The contexts are read here, in order; the files are written by `render_jobs` (`workers` as there)."""
    return write_planned(plan_documents(session, cycle, out_dir, kinds), workers=workers)


def write_planned(
    planned: Sequence[tuple[DocumentKind, RenderJob]], *, workers: int | None = None
) -> list[GeneratedDocument]:
    """Write planned documents in order, each checkpointed once its file is in place."""
    generated: list[GeneratedDocument] = []
    digests = render_jobs([job for _kind, job in planned], workers)
    for (kind, job), sha in zip(planned, digests, strict=True):
        generated.append(GeneratedDocument(kind.kind, kind.stage, job.subject, job.path, sha))
        checkpoint("document-written")
    return generated

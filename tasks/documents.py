"""Documents of each stage, rendered from the records and registered with their sha256."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import task
from sqlmodel import Session, select

from models import Document, session_scope
from perfcycle.documents import contexts, spreadsheets
from perfcycle.documents.naming import safe_path
from perfcycle.documents.renderer import render_docx
from tasks.artifacts import publish_markdown
from tasks.common import get_cycle

Writer = Callable[[Session, int, Path], list[tuple[str, str, Path, str]]]


def _record(session: Session, cycle_id: int, stage: str, kind: str, subject: str, path: Path, sha: str) -> str:
    """Upsert the document's record: same (cycle, kind, subject) → same row, new hash if it changed."""
    row = session.exec(
        select(Document).where(Document.cycle_id == cycle_id, Document.kind == kind, Document.subject == subject)
    ).first() or Document(cycle_id=cycle_id, stage=stage, kind=kind, subject=subject, path="", sha256="")
    row.stage = stage
    row.path = str(path)
    row.sha256 = sha
    session.add(row)
    return str(path)


def _folder(out_dir: str, year: int, stage_folder: str) -> Path:
    folder = safe_path(Path(out_dir), "documents", str(year), stage_folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _ex_ante(session: Session, cycle_id: int, folder: Path) -> list[tuple[str, str, Path, str]]:
    context = contexts.ex_ante_report_context(session, cycle_id)
    path = folder / "事前绩效评估报告.docx"
    return [("事前绩效评估报告", "*", path, render_docx("ex_ante_report.md.j2", context, path))]


def _monitoring(quarter: str) -> Writer:
    def write(session: Session, cycle_id: int, folder: Path) -> list[tuple[str, str, Path, str]]:
        written = []
        path = folder / f"{quarter}绩效监控汇总表.xlsx"
        written.append(
            ("绩效监控汇总表", quarter, path, spreadsheets.write_monitoring_summary(session, cycle_id, quarter, path))
        )
        for notice in contexts.warning_notice_contexts(session, cycle_id, quarter):
            title = "绩效监控预警通知书" if notice.level == "red" else "绩效监控提醒函"
            path = safe_path(folder, f"{quarter}{title}-{notice.department_name}.docx")
            sha = render_docx("warning_notice.md.j2", notice, path)
            written.append((title, f"{quarter}:{notice.department_code}", path, sha))
        return written

    return write


def _self_evaluation(session: Session, cycle_id: int, folder: Path) -> list[tuple[str, str, Path, str]]:
    path = folder / "绩效自评汇总.docx"
    context = contexts.self_evaluation_summary_context(session, cycle_id)
    return [("绩效自评汇总", "*", path, render_docx("self_evaluation_summary.md.j2", context, path))]


def _review(session: Session, cycle_id: int, folder: Path) -> list[tuple[str, str, Path, str]]:
    path = folder / "抽查复核结果.docx"
    context = contexts.review_result_context(session, cycle_id)
    return [("抽查复核结果", "*", path, render_docx("review_result.md.j2", context, path))]


def _fiscal(session: Session, cycle_id: int, folder: Path) -> list[tuple[str, str, Path, str]]:
    written = []
    for report in contexts.fiscal_evaluation_report_contexts(session, cycle_id):
        path = safe_path(folder, f"重点绩效评价报告-{report.object_name}.docx")
        sha = render_docx("fiscal_evaluation_report.md.j2", report, path)
        written.append(("重点绩效评价报告", f"{report.object_type}:{report.object_code}", path, sha))
    return written


def _budget(session: Session, cycle_id: int, folder: Path) -> list[tuple[str, str, Path, str]]:
    cycle = get_cycle(session, cycle_id)
    path = folder / f"{cycle.budget_year}年预算安排建议表.xlsx"
    return [("预算安排建议表", "*", path, spreadsheets.write_budget_table(session, cycle_id, path))]


STAGE_DOCUMENTS: dict[str, tuple[str, Writer]] = {
    "ex_ante_assessment": ("01-事前绩效评估", _ex_ante),
    **{f"monitoring_{q}": (f"02-绩效运行监控/{q}", _monitoring(q)) for q in ("Q1", "Q2", "Q3", "Q4")},
    "self_evaluation": ("03-绩效自评", _self_evaluation),
    "sampling_review": ("05-抽查复核", _review),
    "fiscal_evaluation": ("06-财政重点评价", _fiscal),
    "budget_linkage": ("07-评价结果应用", _budget),
}


@task(name="render-stage-documents")
def render_stage_documents(cycle_id: int, stage: str, out_dir: str) -> list[str]:
    """All of one stage's documents in one task (a department's notice is a file, not a task run)."""
    folder_name, writer = STAGE_DOCUMENTS[stage]
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        folder = _folder(out_dir, cycle.year, folder_name)
        paths = [
            _record(session, cycle_id, stage, kind, subject, path, sha)
            for kind, subject, path, sha in writer(session, cycle_id, folder)
        ]
    _link_documents(cycle.year, stage, paths)
    return paths


@task(name="render-annual-report")
def render_annual_report(cycle_id: int, out_dir: str) -> list[str]:
    """关于{区}{年}年区级预算绩效管理工作开展情况的说明, every figure computed from the cycle's records."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        context = contexts.annual_report_context(session, cycle_id)
        folder = _folder(out_dir, cycle.year, "")
        path = folder / f"关于{cycle.district}{cycle.year}年区级预算绩效管理工作开展情况的说明.docx"
        sha = render_docx("annual_report.md.j2", context, path)
        paths = [_record(session, cycle_id, "reporting", "工作开展情况说明", "*", path, sha)]
    _link_documents(cycle.year, "reporting", paths)
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
        f"{year} 年{stage}生成的文件",
    )


def document_rows(cycle_id: int) -> list[dict[str, Any]]:
    with session_scope() as session:
        return [d.model_dump() for d in session.exec(select(Document).where(Document.cycle_id == cycle_id))]

"""The catalogue of the cycle's documents: which kinds each stage produces, where they go and how they are
written from the records. The Prefect tasks (tasks/documents.py) and `perfcycle docs` both write through
`write_documents`, so a regenerated document is byte for byte the one the stage produced.

Every writer takes a session, the cycle and the stage's folder, reads the records with a few bulk queries,
and returns `(subject, path, sha256)` for each file it wrote. Per-department documents are written in a
loop inside one writer, never one task each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from models.tables import Cycle
from perfcycle.documents import contexts, spreadsheets
from perfcycle.documents.naming import is_whole, safe_filename, safe_path
from perfcycle.documents.renderer import render_docx
from perfcycle.faults import checkpoint
from perfcycle.stages import QUARTERS

Written = tuple[str, Path, str]  # subject, path, sha256
Write = Callable[[Session, Cycle, Path], list[Written]]

YEAR_FOLDER = ""  # the annual report sits in the year's folder itself


@dataclass(frozen=True)
class DocumentKind:
    """One kind of document: its name (the `Document.kind` recorded), stage, folder and writer."""

    kind: str
    stage: str
    folder: str
    write: Write


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


# ---------------------------------------------------------------------------------------------- writers


def _target_notice(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    context = contexts.target_notice_context(session, _cycle_id(cycle))
    path = folder / "绩效目标申报通知.docx"
    return [("*", path, render_docx("target_notice.md.j2", context, path))]


def _target_forms(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    written = []
    for form in contexts.target_form_contexts(session, _cycle_id(cycle)):
        path = subject_file(folder / "绩效目标申报表", "", form.department_name, form.department_code, ".xlsx")
        written.append((form.department_code, path, spreadsheets.write_target_form(form, path)))
    return written


def _target_reviews(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    written = []
    for review in contexts.target_review_contexts(session, _cycle_id(cycle)):
        path = subject_file(folder / "绩效目标审核意见", "", review.department_name, review.department_code, ".docx")
        written.append((review.department_code, path, render_docx("target_review.md.j2", review, path)))
    return written


def _ex_ante(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    context = contexts.ex_ante_report_context(session, _cycle_id(cycle))
    path = folder / "事前绩效评估报告.docx"
    return [("*", path, render_docx("ex_ante_report.md.j2", context, path))]


def _monitoring_summary(quarter: str) -> Write:
    def write(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
        path = folder / f"{quarter}绩效监控汇总表.xlsx"
        return [(quarter, path, spreadsheets.write_monitoring_summary(session, _cycle_id(cycle), quarter, path))]

    return write


def _warning_notices(quarter: str, level: str) -> Write:
    title = "绩效监控预警通知书" if level == "red" else "绩效监控提醒函"

    def write(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
        written = []
        for notice in contexts.warning_notice_contexts(session, _cycle_id(cycle), quarter):
            if notice.level != level:
                continue
            path = subject_file(folder, f"{quarter}{title}-", notice.department_name, notice.department_code, ".docx")
            sha = render_docx("warning_notice.md.j2", notice, path)
            written.append((f"{quarter}:{notice.department_code}", path, sha))
        return written

    return write


def _self_evaluation(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    path = folder / "绩效自评汇总.docx"
    context = contexts.self_evaluation_summary_context(session, _cycle_id(cycle))
    return [("*", path, render_docx("self_evaluation_summary.md.j2", context, path))]


def _review(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    path = folder / "抽查复核结果.docx"
    context = contexts.review_result_context(session, _cycle_id(cycle))
    return [("*", path, render_docx("review_result.md.j2", context, path))]


def _fiscal(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    written = []
    for report in contexts.fiscal_evaluation_report_contexts(session, _cycle_id(cycle)):
        path = subject_file(folder, "重点绩效评价报告-", report.object_name, report.object_code, ".docx")
        sha = render_docx("fiscal_evaluation_report.md.j2", report, path)
        written.append((f"{report.object_type}:{report.object_code}", path, sha))
    return written


def _budget(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    path = folder / f"{cycle.budget_year}年预算安排建议表.xlsx"
    return [("*", path, spreadsheets.write_budget_table(session, _cycle_id(cycle), path))]


def _publication_list(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    context = contexts.publication_list_context(session, _cycle_id(cycle))
    path = folder / "绩效评价结果公开清单.docx"
    return [("*", path, render_docx("publication_list.md.j2", context, path))]


def _annual_report(session: Session, cycle: Cycle, folder: Path) -> list[Written]:
    context = contexts.annual_report_context(session, _cycle_id(cycle))
    path = safe_path(folder, f"关于{context.district}{cycle.year}年区级预算绩效管理工作开展情况的说明.docx")
    return [("*", path, render_docx("annual_report.md.j2", context, path))]


# ---------------------------------------------------------------------------------------------- catalogue

ANNUAL_REPORT_KIND = "工作开展情况说明"

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
    "self_evaluation": (DocumentKind("绩效自评汇总", "self_evaluation", "03-绩效自评", _self_evaluation),),
    "sampling_review": (DocumentKind("抽查复核结果", "sampling_review", "05-抽查复核", _review),),
    "fiscal_evaluation": (DocumentKind("重点绩效评价报告", "fiscal_evaluation", "06-财政重点评价", _fiscal),),
    "budget_linkage": (DocumentKind("预算安排建议表", "budget_linkage", "07-评价结果应用", _budget),),
    "reporting": (DocumentKind("绩效评价结果公开清单", "reporting", "08-公开与报告", _publication_list),),
}

#: The annual 工作开展情况说明: stage "reporting", rendered by its own task before the leader's approval.
ANNUAL_REPORT = DocumentKind(ANNUAL_REPORT_KIND, "reporting", YEAR_FOLDER, _annual_report)

#: Every document group by name: the stages, then "annual_report".
GROUPS: dict[str, tuple[DocumentKind, ...]] = {**STAGE_DOCUMENTS, "annual_report": (ANNUAL_REPORT,)}


def all_kinds() -> list[str]:
    """Every document kind, each once, in the order of the cycle."""
    return list(dict.fromkeys(k.kind for group in GROUPS.values() for k in group))


def year_folder(out_dir: Path, year: int) -> Path:
    """out_dir/documents/<year>: where a cycle's documents go."""
    return safe_path(out_dir, "documents", str(year))


def write_documents(
    session: Session, cycle: Cycle, out_dir: Path, kinds: Iterable[DocumentKind]
) -> list[GeneratedDocument]:
    """Write the given kinds of document of a cycle under out_dir/documents/<year>/<stage folder>."""
    base = year_folder(out_dir, cycle.year)
    generated: list[GeneratedDocument] = []
    for kind in kinds:
        folder = safe_path(base, kind.folder) if kind.folder else base
        folder.mkdir(parents=True, exist_ok=True)
        for subject, path, sha in kind.write(session, cycle, folder):
            generated.append(GeneratedDocument(kind.kind, kind.stage, subject, path, sha))
            checkpoint("document-written")
    return generated

"""Documents of the cycle: one renderer (official GB/T 9704 format), Jinja2 templates by name, and
context builders that compute every figure from the records.

    ctx = annual_report_context(session, cycle_id)
    sha = render_docx("annual_report.md.j2", ctx, safe_path(out_dir, safe_filename(title, ".docx")))
"""

from pydantic import BaseModel

from perfcycle.documents.contexts import (
    AnnualReportContext,
    ContextError,
    ExAnteReportContext,
    FiscalEvaluationReportContext,
    ReviewResultContext,
    SelfEvaluationSummaryContext,
    WarningNoticeContext,
    annual_report_context,
    ex_ante_report_context,
    fiscal_evaluation_report_contexts,
    review_result_context,
    self_evaluation_summary_context,
    warning_notice_contexts,
)
from perfcycle.documents.naming import safe_filename, safe_path
from perfcycle.documents.renderer import docx_text, render_docx, render_text, template_variables
from perfcycle.documents.spreadsheets import write_budget_table, write_monitoring_summary

#: Each template and the context model whose fields are its variables.
TEMPLATES: dict[str, type[BaseModel]] = {
    "annual_report.md.j2": AnnualReportContext,
    "ex_ante_report.md.j2": ExAnteReportContext,
    "warning_notice.md.j2": WarningNoticeContext,
    "review_result.md.j2": ReviewResultContext,
    "fiscal_evaluation_report.md.j2": FiscalEvaluationReportContext,
    "self_evaluation_summary.md.j2": SelfEvaluationSummaryContext,
}

__all__ = [
    "TEMPLATES",
    "AnnualReportContext",
    "ContextError",
    "ExAnteReportContext",
    "FiscalEvaluationReportContext",
    "ReviewResultContext",
    "SelfEvaluationSummaryContext",
    "WarningNoticeContext",
    "annual_report_context",
    "docx_text",
    "ex_ante_report_context",
    "fiscal_evaluation_report_contexts",
    "render_docx",
    "render_text",
    "review_result_context",
    "safe_filename",
    "safe_path",
    "self_evaluation_summary_context",
    "template_variables",
    "warning_notice_contexts",
    "write_budget_table",
    "write_monitoring_summary",
]

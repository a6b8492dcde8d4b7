"""Documents of the cycle: one renderer (official GB/T 9704 format), Jinja2 templates by name, and
context builders that compute every figure from the records.

    ctx = annual_report_context(session, cycle_id)
    sha = render_docx("annual_report.md.j2", ctx, safe_path(out_dir, safe_filename(title, ".docx")))

Which documents each stage produces, and where, is the catalogue in `perfcycle.documents.catalog`.
"""

from pydantic import BaseModel

from perfcycle.documents.charts import Chart, ChartSeries, chart_png
from perfcycle.documents.contexts import (
    AnnualReportContext,
    ContextError,
    ExAnteReportContext,
    FindingsNoticeContext,
    FiscalEvaluationReportContext,
    PublicationListContext,
    ReviewResultContext,
    SelfEvaluationSummaryContext,
    TargetFormContext,
    TargetNoticeContext,
    TargetReviewContext,
    WarningNoticeContext,
    annual_report_context,
    ex_ante_report_context,
    fiscal_evaluation_report_contexts,
    publication_list_context,
    review_result_context,
    self_evaluation_summary_context,
    target_form_contexts,
    target_notice_context,
    target_review_contexts,
    warning_notice_contexts,
)
from perfcycle.documents.naming import safe_filename, safe_path
from perfcycle.documents.renderer import docx_text, render_docx, render_text, template_variables
from perfcycle.documents.spreadsheets import write_budget_table, write_monitoring_summary, write_target_form

#: Each template and the context model whose fields are its variables.
TEMPLATES: dict[str, type[BaseModel]] = {
    "target_notice.md.j2": TargetNoticeContext,
    "target_review.md.j2": TargetReviewContext,
    "annual_report.md.j2": AnnualReportContext,
    "ex_ante_report.md.j2": ExAnteReportContext,
    "warning_notice.md.j2": WarningNoticeContext,
    "review_result.md.j2": ReviewResultContext,
    "fiscal_evaluation_report.md.j2": FiscalEvaluationReportContext,
    "self_evaluation_summary.md.j2": SelfEvaluationSummaryContext,
    "publication_list.md.j2": PublicationListContext,
    "findings_notice.md.j2": FindingsNoticeContext,
}

__all__ = [
    "TEMPLATES",
    "AnnualReportContext",
    "Chart",
    "ChartSeries",
    "ContextError",
    "ExAnteReportContext",
    "FiscalEvaluationReportContext",
    "PublicationListContext",
    "ReviewResultContext",
    "SelfEvaluationSummaryContext",
    "TargetFormContext",
    "TargetNoticeContext",
    "TargetReviewContext",
    "WarningNoticeContext",
    "annual_report_context",
    "chart_png",
    "docx_text",
    "ex_ante_report_context",
    "fiscal_evaluation_report_contexts",
    "publication_list_context",
    "render_docx",
    "render_text",
    "review_result_context",
    "safe_filename",
    "safe_path",
    "self_evaluation_summary_context",
    "target_form_contexts",
    "target_notice_context",
    "target_review_contexts",
    "template_variables",
    "warning_notice_contexts",
    "write_budget_table",
    "write_monitoring_summary",
    "write_target_form",
]

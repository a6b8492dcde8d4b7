"""问题整改: the stages that produce findings register them, and the register is published as it stands."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import task

from models import session_scope
from perfcycle.findings import finding_figures, list_findings, register
from perfcycle.rules.findings import SOURCES, STATE_LABELS
from tasks.artifacts import publish_table
from tasks.common import get_cycle


@task(name="register-findings")
def register_findings(cycle_id: int, source: str) -> dict[str, Any]:
    """Register what `source` found (idempotent on a rerun) and publish the cycle's whole register."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        result = register(session, cycle, source)
        rows = list_findings(session, cycle.year)
        counts = finding_figures(session, cycle_id)
        publish_table(
            f"{cycle.year}-findings",
            [
                {
                    "编号": row.id,
                    "来源": row.source_label,
                    "部门": row.department_name,
                    "对象": row.subject,
                    "问题": row.text,
                    "整改期限": row.due_on.isoformat(),
                    "状态": row.state_label,
                }
                for row in rows
            ],
            f"{cycle.year} 年问题整改：登记 {counts.registered} 项{_by_source(counts.by_source)}，"
            f"已反馈 {counts.responded}，{STATE_LABELS['fixed']} {counts.closed}，逾期 {counts.overdue}",
        )
        return {"source": source, **result}


def _by_source(counts: Counter[str]) -> str:
    parts = [f"{SOURCES[source]} {counts[source]}" for source in SOURCES if counts[source]]
    return f"（{'、'.join(parts)}）" if parts else ""

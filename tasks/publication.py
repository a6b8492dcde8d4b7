"""Disclosure (谁评价、谁公开): every department's publication record with its deadline, and where they stand."""

from __future__ import annotations

from typing import Any

from prefect import task

from models import session_scope
from perfcycle.disclosure import disclosure_figures, ensure_publications, publication_lines
from perfcycle.rules.disclosure import PENDING, STATE_LABELS, is_late
from tasks.artifacts import publish_table
from tasks.common import get_cycle


@task(name="track-publication")
def track_publication(cycle_id: int) -> dict[str, Any]:
    """Give every department a publication record due on its own deadline; late only once that has passed."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        ensure_publications(session, cycle)
        lines = publication_lines(session, cycle_id)
        figures = disclosure_figures(session, cycle_id)
        late = [
            {
                "部门": line.department_name,
                "公开截止日期": str(line.due_on or "—"),
                "公开日期": str(line.published_on or "未公开"),
                "状态": line.state_label,
            }
            for line in lines
            if is_late(line.state)
        ]
        publish_table(
            f"{cycle.year}-publication",
            late,
            f"{cycle.year} 年自评报告公开：应公开 {len(lines)} 个部门，按期公开 {figures['published']}，"
            f"逾期 {figures['late']}，未到期{STATE_LABELS[PENDING]} {figures['pending']}",
        )
        due = sorted({str(line.due_on) for line in lines if line.due_on})
        return {"departments": len(lines), "late": figures["late"], "due_on": "、".join(due)}

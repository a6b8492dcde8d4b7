"""Disclosure (谁评价、谁公开): which departments published their self-evaluation reports on time."""

from __future__ import annotations

from typing import Any

from prefect import task
from sqlmodel import select

from models import Department, Publication, session_scope
from tasks.artifacts import publish_table
from tasks.common import cycle_policy, get_cycle, projects_of


@task(name="track-publication")
def track_publication(cycle_id: int) -> dict[str, Any]:
    """Give every department a publication record with its due date, so a missing one counts as late."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        due = cycle_policy(cycle).disclosure.due_date(cycle.year)
        departments = {p.department_id for p in projects_of(session, cycle.year)}
        rows = {p.department_id: p for p in session.exec(select(Publication).where(Publication.cycle_id == cycle_id))}
        names = {d.id: d.name for d in session.exec(select(Department))}
        late: list[dict[str, Any]] = []
        for department_id in sorted(departments):
            row = rows.get(department_id) or Publication(cycle_id=cycle_id, department_id=department_id)
            row.due_on = due
            session.add(row)
            if row.published_on is None or row.published_on > due:
                late.append({"部门": names[department_id], "公开日期": str(row.published_on or "未公开")})
        publish_table(
            f"{cycle.year}-publication",
            late,
            f"{cycle.year} 年自评报告公开：应公开 {len(departments)} 个部门，逾期或未公开 {len(late)} 个（截止 {due}）",
        )
        return {"departments": len(departments), "late": len(late), "due_on": str(due)}

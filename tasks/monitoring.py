"""Quarterly dual monitoring: lights per project and department, and the warnings they trigger."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from prefect import task
from sqlmodel import select

from models import Department, DepartmentLight, MonitoringRecord, WarningNotice, session_scope
from models.rows import columns, update_by_id
from perfcycle.figures import QuarterLights, quarter_lights
from perfcycle.rules.lights import (
    LIGHT_LABELS,
    LIGHT_ORDER,
    ProjectQuarter,
    department_light,
    improved,
    notice_date,
    project_light,
)
from perfcycle.stages import QUARTERS
from tasks.artifacts import publish_table
from tasks.common import cycle_policy, get_cycle, projects_of

LIGHT_FIELDS = ("execution_progress", "execution_light", "target_light", "light")
RECORD_COLUMNS = columns(
    MonitoringRecord, "id", "project_id", "spent_fen", "target_progress", "likelihood", *LIGHT_FIELDS
)


@task(name="compute-lights")
def compute_lights(cycle_id: int, quarter: str) -> dict[str, Any]:
    """Every project's and department's light for the quarter, from the submitted records."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle).monitoring
        projects = {p.id: p for p in projects_of(session, cycle.year)}
        records = session.exec(
            select(*RECORD_COLUMNS).where(MonitoringRecord.cycle_id == cycle_id, MonitoringRecord.quarter == quarter)
        )
        by_department: dict[int, list[ProjectQuarter]] = defaultdict(list)
        changed: list[dict[str, Any]] = []
        for record_id, project_id, spent_fen, target_progress, likelihood, *current in records:
            project = projects.get(project_id)
            if project is None:
                continue
            item = ProjectQuarter(project.budget_fen, spent_fen, target_progress, likelihood)
            result = project_light(item, quarter, policy)
            lights = (result.execution_progress, result.execution_light, result.target_light, result.light)
            if tuple(current) != lights:
                changed.append({"id": record_id, **dict(zip(LIGHT_FIELDS, lights, strict=True))})
            by_department[project.department_id].append(item)
        update_by_id(session, MonitoringRecord, changed)
        existing = {
            d.department_id: d
            for d in session.exec(
                select(DepartmentLight).where(DepartmentLight.cycle_id == cycle_id, DepartmentLight.quarter == quarter)
            )
        }
        departments = {d.id: d for d in session.exec(select(Department).order_by(Department.code))}
        with_projects = {p.department_id for p in projects.values()}
        table: list[dict[str, Any]] = []
        for department_id, items in by_department.items():
            agg = department_light(items, quarter, policy)
            row = existing.get(department_id) or DepartmentLight(
                cycle_id=cycle_id,
                department_id=department_id,
                quarter=quarter,
                execution_light="",
                target_light="",
                light="",
            )
            row.budget_fen = agg.budget_fen
            row.spent_fen = agg.spent_fen
            row.execution_progress = agg.execution_progress
            row.target_progress = agg.target_progress
            row.execution_light = agg.execution_light
            row.target_light = agg.target_light
            row.light = agg.light
            session.add(row)
            table.append(
                {
                    "部门": departments[department_id].name,
                    "执行进度%": str(agg.execution_progress),
                    "目标进度%": str(agg.target_progress),
                    "亮灯": LIGHT_LABELS[agg.light],
                }
            )
        missing = sorted(departments[d].code for d in with_projects - set(by_department))
        table.sort(key=lambda r: (-LIGHT_ORDER[_key(r["亮灯"])], r["部门"]))
        session.flush()
        lit = next((q for q in quarter_lights(session, cycle_id) if q.quarter == quarter), QuarterLights(quarter, {}))
        counts = {light: len(lit.light(light)) for light in ("red", "yellow", "green")}
        publish_table(
            f"{cycle.year}-monitoring-{quarter.lower()}-lights",
            table,
            f"{cycle.year} 年{quarter}绩效监控：红灯 {counts['red']}，黄灯 {counts['yellow']}，绿灯 {counts['green']}",
        )
        return {
            "quarter": quarter,
            "departments_covered": lit.departments,
            "lights": counts,
            "missing_departments": missing,
        }


def _key(label: str) -> str:
    return next(k for k, v in LIGHT_LABELS.items() if v == label)


@task(name="issue-warnings")
def issue_warnings(cycle_id: int, quarter: str) -> dict[str, Any]:
    """预警通知书 for red departments (with a response deadline), 提醒 for yellow ones; track improvement."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle).monitoring
        lights = {
            d.department_id: d
            for d in session.exec(
                select(DepartmentLight).where(DepartmentLight.cycle_id == cycle_id, DepartmentLight.quarter == quarter)
            )
        }
        notices = {
            (n.department_id, n.quarter): n
            for n in session.exec(select(WarningNotice).where(WarningNotice.cycle_id == cycle_id))
        }
        issued_on = notice_date(cycle.year, quarter, policy)
        index = QUARTERS.index(quarter)
        if index > 0:
            previous = QUARTERS[index - 1]
            for (department_id, q), notice in notices.items():
                if q == previous and department_id in lights:
                    notice.improved = improved(notice.level, lights[department_id].light)
                    session.add(notice)
        red = yellow = 0
        for department_id, light in lights.items():
            if light.light not in ("red", "yellow"):
                continue
            notice = notices.get((department_id, quarter)) or WarningNotice(
                cycle_id=cycle_id, department_id=department_id, quarter=quarter, level=light.light, issued_on=issued_on
            )
            notice.level = light.light
            notice.issued_on = issued_on
            notice.response_due = issued_on + timedelta(days=policy.red_response_days) if light.light == "red" else None
            session.add(notice)
            red += light.light == "red"
            yellow += light.light == "yellow"
        return {"red_notices": red, "yellow_notices": yellow}

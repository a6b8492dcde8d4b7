"""Target setting: completeness check of each project's 绩效目标 and the coordinator's approval."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from prefect import task
from sqlmodel import select

from models import Department, Indicator, TargetReview, now, session_scope
from models.rows import ProjectRow, columns
from perfcycle.rules.targets import TargetIndicator, check_targets
from tasks.artifacts import publish_table
from tasks.common import cycle_policy, get_cycle, projects_of
from tasks.gates import decide_gate

#: What a department's targets gate decides on, per indicator.
DIGEST_COLUMNS = columns(
    Indicator, "project_id", "level1", "level2", "name", "operator", "target_value", "target_text", "unit", "weight"
)


@task(name="review-targets")
def review_targets(cycle_id: int) -> dict[str, Any]:
    """Check every project's targets; incomplete ones go back to the department with the reasons."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        projects = projects_of(session, cycle.year)
        indicators: dict[int, list[TargetIndicator]] = defaultdict(list)
        for project_id, *fields in session.exec(
            select(*columns(Indicator, "project_id", "level1", "operator", "target_value", "unit", "name")).where(
                Indicator.cycle_id == cycle_id
            )
        ):
            indicators[project_id].append(TargetIndicator(*fields))
        reviews = {r.project_id: r for r in session.exec(select(TargetReview).where(TargetReview.cycle_id == cycle_id))}
        departments = {d.id: d for d in session.exec(select(Department))}
        returned: list[dict[str, Any]] = []
        counts = {"approved": 0, "submitted": 0, "returned": 0, "missing": 0}
        for project in projects:
            assert project.id is not None
            review = reviews.get(project.id) or TargetReview(cycle_id=cycle_id, project_id=project.id, status="missing")
            items = indicators[project.id]
            reasons = check_targets(project.type, items, policy.targets)
            if review.status == "returned" and not reasons:
                # Returned by the coordinator: it stays returned until the department resubmits
                # (the import sets it back to submitted).
                counts["returned"] += 1
                continue
            if not items:
                status = "missing"
            elif reasons:
                status = "returned"
            else:
                status = "approved" if review.status == "approved" else "submitted"
            if status != review.status or "；".join(reasons) != review.reasons:
                review.status = status
                review.reasons = "；".join(reasons)
                review.reviewed_at = now()
                session.add(review)
            counts[status] += 1
            if reasons:
                dept = departments[project.department_id]
                returned.append(
                    {
                        "部门": dept.name,
                        "项目编码": project.code,
                        "项目名称": project.name,
                        "退回原因": "；".join(reasons),
                    }
                )
        publish_table(
            f"{cycle.year}-target-review",
            returned,
            f"{cycle.year} 年绩效目标审核：{len(projects)} 个项目，退回修改 {counts['returned']} 个，未填报 {counts['missing']} 个",
        )
        return {
            "projects": len(projects),
            "complete": counts["approved"] + counts["submitted"],
            "returned": counts["returned"],
            "missing": counts["missing"],
        }


@task(name="approve-targets")
def approve_targets(cycle_id: int) -> dict[str, Any]:
    """The coordinator's gate per department; approval covers that department's complete targets."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        projects = {p.id: p for p in projects_of(session, cycle.year)}
        by_department: dict[int, list[TargetReview]] = defaultdict(list)
        for review in session.exec(select(TargetReview).where(TargetReview.cycle_id == cycle_id)):
            project = projects.get(review.project_id)
            if project is not None:
                by_department[project.department_id].append(review)
        departments = {d.id: d for d in session.exec(select(Department))}
        indicators: dict[int, list[tuple[str, ...]]] = defaultdict(list)
        for project_id, *fields in session.exec(select(*DIGEST_COLUMNS).where(Indicator.cycle_id == cycle_id)):
            indicators[project_id].append(tuple(str(f) for f in fields))
        waiting: list[str] = []
        returned: list[str] = []
        approved_projects = 0
        for department_id in sorted(by_department, key=lambda i: departments[i].code):
            reviews = by_department[department_id]
            code = departments[department_id].code
            if not any(r.status in ("submitted", "approved") for r in reviews):
                if any(r.status == "returned" for r in reviews):
                    returned.append(code)
                continue
            # The gate decides on this data: a returned gate opens again once the resubmission changed it.
            digest = targets_digest(projects, reviews, indicators)
            status = decide_gate(session, cycle, "targets", subject=code, data_digest=digest)
            if status == "approved":
                for review in reviews:
                    if review.status == "submitted":
                        review.status = "approved"
                        session.add(review)
                approved_projects += sum(1 for r in reviews if r.status == "approved")
            elif status == "open":
                waiting.append(code)
            elif status == "returned":
                returned.append(code)
        return {
            "approved_projects": approved_projects,
            "waiting_departments": waiting,
            "returned_departments": returned,
        }


def targets_digest(
    projects: Mapping[int, ProjectRow], reviews: list[TargetReview], indicators: dict[int, list[tuple[str, ...]]]
) -> str:
    """sha256 of a department's indicators as submitted (DIGEST_COLUMNS as text): what its targets gate decides on."""
    rows = sorted((projects[r.project_id].code, *fields) for r in reviews for fields in indicators[r.project_id])
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()

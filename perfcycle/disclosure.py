"""Disclosure as its own submission (谁评价、谁公开): each department reports when and where it published its
self-evaluation report, the bureau when and where it published the key-evaluation results.

A department's deadline goes with its 部门决算 (the policy's days after its 决算 is approved, once a coordinator
records that day), else the policy's day of the next year. Reports are accepted whenever they come, also
after the rest of the cycle has closed; a department is late only once its deadline has passed.

No Prefect here: the command line, the reminders and the stage tasks call the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse

from sqlmodel import Session, select

from models import Cycle, Department, Publication, ResultPublication, now
from perfcycle import audit
from perfcycle.approvals import in_shanghai
from perfcycle.collecting import (
    WindowError,
    check_submitter,
    coordinators,
    cycle_policy,
    get_cycle_for,
    get_department,
    owing_departments,
    today,
)
from perfcycle.rules.disclosure import STATE_LABELS, disclosure_counts, publication_state


def due_on(cycle: Cycle, final_accounts_on: date | None = None) -> date:
    """A department's deadline: with its 决算 when the day that was approved is known, else the policy's day."""
    return cycle_policy(cycle).disclosure.due_date(cycle.year, final_accounts_on)


def ensure_publications(session: Session, cycle: Cycle) -> dict[int, Publication]:
    """Every department that owes a self-evaluation report has its publication record, due on its deadline."""
    assert cycle.id is not None
    rows = {p.department_id: p for p in session.exec(select(Publication).where(Publication.cycle_id == cycle.id))}
    for department in owing_departments(session, cycle.year):
        assert department.id is not None
        row = rows.get(department.id) or Publication(cycle_id=cycle.id, department_id=department.id)
        due = due_on(cycle, row.final_accounts_on)
        if row.id is None or row.due_on != due:
            row.due_on = due
            session.add(row)
        rows[department.id] = row
    session.flush()
    return rows


def _checked_url(url: str) -> str:
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise WindowError(f"公开网址应为 http:// 或 https:// 开头的完整地址，不是 {url!r}")
    return url


def _checked_day(day: date, year: int) -> date:
    if day > today():
        raise WindowError(f"公开日期 {day:%Y-%m-%d} 尚未到来：请在公开后报送")
    if day.year <= year:
        raise WindowError(f"{year} 年度的评价结果在 {year + 1} 年公开，公开日期不能是 {day:%Y-%m-%d}")
    return day


def _refuse(session: Session, by: str, subject: str, year: int, reason: str) -> WindowError:
    audit.append(session, by or "(未署名)", "publication.refused", subject, {"year": year, "reason": reason})
    session.commit()
    return WindowError(reason)


def _coordinator(session: Session, cycle: Cycle, by: str, subject: str, what: str) -> None:
    allowed = coordinators(cycle)
    if not by:
        raise _refuse(session, by, subject, cycle.year, "必须写明操作人（--by 姓名）")
    if by.casefold() not in {n.casefold() for n in allowed}:
        reason = f"{by} 不是财政局绩效科的审批人，不能{what}（可操作：{'、'.join(allowed) or '策略未指定'}）"
        raise _refuse(session, by, subject, cycle.year, reason)


def _publication_of(session: Session, cycle: Cycle, department: Department) -> Publication:
    row = ensure_publications(session, cycle).get(department.id or 0)
    if row is None:
        raise WindowError(f"{department.name}在 {cycle.year} 年度没有项目，无需公开绩效自评报告")
    return row


def report_publication(
    session: Session,
    *,
    year: int,
    department_code: str,
    published_on: date,
    url: str,
    by: str = "",
    at: datetime | None = None,
) -> Publication:
    """A department's report of its self-evaluation report's publication: the day and the address. Accepted
    after the cycle closed; a later report replaces the earlier one (the audit log keeps both)."""
    by = " ".join(by.split())
    cycle = get_cycle_for(session, year)
    department = get_department(session, department_code)
    assert department.id is not None and cycle.id is not None
    by = by or department.contact
    check_submitter(session, cycle, department, "publication", by, "", "公开情况")
    row = _publication_of(session, cycle, department)
    url, published_on = _checked_url(url), _checked_day(published_on, year)
    previous = {"published_on": row.published_on, "url": row.url}
    row.published_on, row.url = published_on, url[:1000]
    row.reported_by, row.reported_at = by[:100], in_shanghai(at) if at else now()
    session.add(row)
    audit.append(
        session,
        by,
        "publication.reported",
        f"publication:{year}:{department.code}",
        {
            "year": year,
            "department": department.code,
            "published_on": published_on,
            "url": url,
            "due_on": row.due_on,
            "state": publication_state(row.due_on, published_on, today()),
            "previous": previous,
        },
    )
    session.flush()
    return row


def record_final_accounts(
    session: Session, *, year: int, department_code: str, approved_on: date, by: str
) -> Publication:
    """The day a department's 决算 was approved (a coordinator records it): its report is due with the 决算."""
    by = " ".join(by.split())
    cycle = get_cycle_for(session, year)
    department = get_department(session, department_code)
    assert department.id is not None
    _coordinator(session, cycle, by, f"publication:{year}:{department.code}", "登记决算批复日期")
    row = _publication_of(session, cycle, department)
    row.final_accounts_on = approved_on
    row.due_on = due_on(cycle, approved_on)
    session.add(row)
    audit.append(
        session,
        by,
        "publication.final_accounts",
        f"publication:{year}:{department.code}",
        {"year": year, "department": department.code, "final_accounts_on": approved_on, "due_on": row.due_on},
    )
    session.flush()
    return row


def report_bureau_publication(
    session: Session, *, year: int, published_on: date, url: str, by: str, at: datetime | None = None
) -> ResultPublication:
    """The bureau's publication of the cycle's key-evaluation results (谁评价、谁公开), reported by a coordinator."""
    by = " ".join(by.split())
    cycle = get_cycle_for(session, year)
    assert cycle.id is not None
    _coordinator(session, cycle, by, f"publication:{year}:bureau", "报送财政重点评价结果公开情况")
    url, published_on = _checked_url(url), _checked_day(published_on, year)
    row = session.exec(select(ResultPublication).where(ResultPublication.cycle_id == cycle.id)).first()
    row = row or ResultPublication(cycle_id=cycle.id)
    row.due_on = due_on(cycle)
    row.published_on, row.url = published_on, url[:1000]
    row.reported_by, row.reported_at = by[:100], in_shanghai(at) if at else now()
    session.add(row)
    audit.append(
        session,
        by,
        "publication.reported",
        f"publication:{year}:bureau",
        {"year": year, "published_on": published_on, "url": url, "due_on": row.due_on},
    )
    session.flush()
    return row


@dataclass(frozen=True)
class PublicationLine:
    """One department's publication as the list states it."""

    department_code: str
    department_name: str
    due_on: date | None
    published_on: date | None
    url: str
    state: str

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    def as_json(self) -> dict[str, Any]:
        return {
            "department_code": self.department_code,
            "department": self.department_name,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "published_on": self.published_on.isoformat() if self.published_on else None,
            "url": self.url,
            "status": self.state,
            "status_label": self.state_label,
        }


def publication_lines(session: Session, cycle_id: int, on: date | None = None) -> list[PublicationLine]:
    """The cycle's department publications by department code, each in its state on the day."""
    day = on or today()
    departments = {d.id: d for d in session.exec(select(Department))}
    lines = []
    for row in session.exec(select(Publication).where(Publication.cycle_id == cycle_id)):
        department = departments.get(row.department_id)
        lines.append(
            PublicationLine(
                department.code if department else "",
                department.name if department else "",
                row.due_on,
                row.published_on,
                row.url,
                publication_state(row.due_on, row.published_on, day),
            )
        )
    return sorted(lines, key=lambda line: line.department_code)


def bureau_publication(session: Session, cycle_id: int) -> ResultPublication | None:
    return session.exec(select(ResultPublication).where(ResultPublication.cycle_id == cycle_id)).first()


def disclosure_figures(session: Session, cycle_id: int, on: date | None = None) -> dict[str, int]:
    """Departments that published on time, late (or not yet, past their deadline), and not yet due."""
    return disclosure_counts(line.state for line in publication_lines(session, cycle_id, on))

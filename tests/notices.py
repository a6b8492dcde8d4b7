"""A 2024 cycle whose departments each hold a Q1 red warning notice, its response due on 2024-04-20: where the
reminder tests start (an overdue response, e-mail and webhook, and an escalation)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlmodel import Session

from models import Cycle, Department, WarningNotice


def arrange_red_notices(session: Session, departments: Iterable[Department]) -> None:
    """Add the cycle and the departments, a red Q1 notice for each, and commit."""
    from perfcycle.policy import load_policy

    cycle = Cycle(year=2024, budget_year=2026, district="烈山区", policy_json=load_policy(2024).as_json())
    session.add(cycle)
    departments = list(departments)
    session.add_all(departments)
    session.flush()
    assert cycle.id
    for department in departments:
        assert department.id
        session.add(
            WarningNotice(
                cycle_id=cycle.id,
                department_id=department.id,
                quarter="Q1",
                level="red",
                issued_on=date(2024, 4, 10),
                response_due=date(2024, 4, 20),
            )
        )
    session.commit()

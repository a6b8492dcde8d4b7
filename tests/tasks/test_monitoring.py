"""Warnings after a quarter on the small test district: dated as the policy says, and a department that went from
red to yellow counted as improved (any better light), as the rule defines it."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from models.tables import Cycle, Department, DepartmentLight, WarningNotice
from perfcycle.policy import policy_from_json
from tasks.monitoring import issue_warnings
from tests.documents.records import arrange


def test_warnings_follow_the_policy_and_the_improvement_rule(session: Session) -> None:
    arranged = arrange(session)
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    policy = policy_from_json(cycle.policy_json)
    cycle.policy_json = policy.model_copy(
        update={"monitoring": policy.monitoring.model_copy(update={"notice_after_days": 15})}
    ).as_json()
    ids = {d.code: d.id for d in session.exec(select(Department))}
    q2 = {
        light.department_id: light
        for light in session.exec(select(DepartmentLight).where(DepartmentLight.quarter == "Q2"))
    }
    q2[ids["D03"]].light = "yellow"  # red in Q1, yellow in Q2
    session.add_all([cycle, q2[ids["D03"]]])
    session.commit()

    assert issue_warnings.fn(arranged.cycle_id, "Q2") == {"red_notices": 0, "yellow_notices": 1}

    session.expire_all()
    notices = {(n.department_id, n.quarter): n for n in session.exec(select(WarningNotice))}
    assert notices[(ids["D03"], "Q2")].issued_on == dt.date(2024, 7, 15)  # 06-30 + 15 days
    assert notices[(ids["D03"], "Q1")].improved is True  # red → yellow
    assert notices[(ids["D02"], "Q1")].improved is True  # red → green
    assert notices[(ids["D04"], "Q1")].improved is True  # yellow → green

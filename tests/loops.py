"""What the tests of the loops after the cycle share (findings, disclosure, adoption): the small test district
with contacts who answer for their departments, and the bureau's date moved by the test."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from models import Department
from perfcycle.settings import get_settings
from tests.documents.records import Arranged, arrange

COORDINATOR, OTHER_COORDINATOR = "周晓梅", "陈立军"


def arrange_with_contacts(session: Session) -> Arranged:
    """The test district, each department with a contact (联系人Dnn) who answers for it and a head (负责人Dnn)."""
    records = arrange(session)
    for department in session.exec(select(Department)):
        department.contact, department.head = f"联系人{department.code}", f"负责人{department.code}"
        department.email = f"{department.code.lower()}@example.invalid"
        session.add(department)
    session.commit()
    return records


class BureauDay:
    """PERFCYCLE_TODAY: the bureau's date, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, day: date) -> None:
        self.monkeypatch = monkeypatch
        self.move(day)

    def move(self, day: date) -> None:
        self.monkeypatch.setenv("PERFCYCLE_TODAY", day.isoformat())
        get_settings.cache_clear()


def department_id(session: Session, code: str) -> int:
    department = session.exec(select(Department).where(Department.code == code)).one()
    assert department.id is not None
    return department.id

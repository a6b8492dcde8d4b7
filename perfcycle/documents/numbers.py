"""The numbers register: a document the bureau issues gets its 发文字号 and 成文日期 once, when it is first written.

A document is known by its cycle, kind and subject (as `Document` records it). Its number is the next serial of its
机关代字 in the year of its date — 1, 2, 3 … without gaps, in the order the documents are first written — and its
date is the one its records give it (a warning notice's issue day, the day the targets window opened), else the
bureau's date that day. Both are kept: a document written again, by a rerun or by `perfcycle docs`, carries the
same number and date, so its bytes are the same.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, func, select

from models.tables import Cycle, DocumentNumber, now
from perfcycle.documents.frame import Frame
from perfcycle.policy import Policy
from perfcycle.rules.issuing import issue_day


class Numbering:
    """The numbers of one cycle's documents, read once; a document without one gets the next of its 代字 and year."""

    def __init__(self, session: Session, cycle: Cycle, policy: Policy) -> None:
        assert cycle.id is not None
        self._session = session
        self._cycle_id = cycle.id
        self._policy = policy
        rows = session.exec(select(DocumentNumber).where(DocumentNumber.cycle_id == cycle.id)).all()
        self._numbers = {(row.kind, row.subject): row for row in rows}
        self._last: dict[tuple[str, int], int] = {}

    def _next_serial(self, code: str, year: int) -> int:
        if (code, year) not in self._last:
            last = self._session.exec(
                select(func.max(DocumentNumber.serial)).where(
                    col(DocumentNumber.code) == code, col(DocumentNumber.year) == year
                )
            ).one()
            self._last[(code, year)] = int(last or 0)
        self._last[(code, year)] += 1
        return self._last[(code, year)]

    def number(self, kind: str, subject: str, dated: dt.date | None) -> DocumentNumber:
        """The document's number, given now if it has none: dated `dated`, else the bureau's date today, at the latest
        the kind's day in the calendar."""
        row = self._numbers.get((kind, subject))
        if row is None:
            day = issue_day(dated, now().date(), self._policy.document_day(kind))
            code = self._policy.document_code(kind)
            row = DocumentNumber(
                cycle_id=self._cycle_id,
                kind=kind,
                subject=subject,
                code=code,
                year=day.year,
                serial=self._next_serial(code, day.year),
                issued_on=day,
            )
            self._session.add(row)
            self._session.flush()
            self._numbers[(kind, subject)] = row
        return row

    def frame(self, kind: str, subject: str, addressee: str, dated: dt.date | None) -> Frame:
        """The 公文 frame of one document: the policy's issuer, contact and 版记, the document's number and date."""
        row = self.number(kind, subject, dated)
        documents = self._policy.documents
        return Frame(
            mark=self._policy.document_mark(kind),
            number=f"{row.code}〔{row.year}〕{row.serial}号",
            addressee=addressee,
            signature=self._policy.issuer,
            dated=row.issued_on,
            contact=documents.contact,
            phone=documents.phone,
            copy_to=list(documents.copy_to),
            printer=self._policy.printer(),
            letter=self._policy.is_letter(kind),
        )


def issued_on(session: Session, cycle: Cycle, policy: Policy, kind: str, subject: str = "*") -> dt.date:
    """A document's 成文日期: the one it was given when first written, else the one it gets if written today (a
    document the records do not date), so what it states can be read as of that day before it is written."""
    row = session.exec(
        select(DocumentNumber).where(
            DocumentNumber.cycle_id == cycle.id, DocumentNumber.kind == kind, DocumentNumber.subject == subject
        )
    ).first()
    return row.issued_on if row is not None else issue_day(None, now().date(), policy.document_day(kind))

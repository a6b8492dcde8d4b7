"""What one department owes and has received in a year's cycle: its forms with their state and every version
sent, its warning notices and their responses, its findings (问题整改), and the documents addressed to it.

A read of the records for the workbench's department page; the states are those of the status matrix
(`perfcycle.rules.deadlines.cell_label`), the deadlines those of the windows or the calendar, and what may
be seen is `perfcycle.rules.access`. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from models import Approval, Cycle, Department, Document, Project, TargetReview, WarningNotice
from models.tables import CollectionWindow, WarningResponse, WindowEntry, WindowReceipt
from perfcycle.approvals import in_shanghai, signed_as
from perfcycle.collecting import FORM_NAMES, REFUSED, STAGE_FORMS, get_cycle_for, today
from perfcycle.cycle_context import cycle_policy
from perfcycle.findings import FindingRow, list_findings
from perfcycle.rules.access import document_visible
from perfcycle.rules.deadlines import cell_label, response_status
from perfcycle.rules.lights import LIGHT_LABELS
from perfcycle.stages import QUARTER_NAMES
from perfcycle.workbooks.formats import SPECS

#: The score sheet each evaluator role is handed (a document of the stage that drew its objects).
EVALUATOR_DOCUMENTS = {
    "panel": (SPECS["panel_scores"].title,),
    "review": (SPECS["review_scores"].title,),
    "third_party": (SPECS["third_party_scores"].title,),
}


@dataclass(frozen=True)
class ReceiptLine:
    version: int
    received_at: datetime
    source_name: str
    rows: int
    submitted_by: str
    accepted: bool
    current: bool
    replaces: int | None
    problems: tuple[str, ...]


@dataclass(frozen=True)
class FormLine:
    """One form the department owes in the year: its state, deadline, the reviewer's comments, its versions."""

    stage: str
    form: str
    quarter: str
    title: str
    due_on: date
    state: str
    open: bool
    comments: tuple[str, ...]
    receipts: tuple[ReceiptLine, ...]


@dataclass(frozen=True)
class NoticeLine:
    """A 预警通知书 or 提醒函 of a quarter and, for a red one, the response it asks for."""

    quarter: str
    quarter_name: str
    light: str
    issued_on: date
    response_due: date | None
    response_state: str | None
    cause: str
    measures: str
    responded_by: str
    may_respond: bool


@dataclass(frozen=True)
class DocumentLine:
    id: int
    kind: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class DepartmentWork:
    year: int
    code: str
    name: str
    cycle_open: bool
    forms: tuple[FormLine, ...]
    notices: tuple[NoticeLine, ...]
    documents: tuple[DocumentLine, ...]
    projects: tuple[tuple[str, str], ...]
    findings: tuple[FindingRow, ...] = ()


def latest_year(session: Session) -> int | None:
    """The year of the newest cycle that is not a past year's imported record."""
    return session.exec(select(Cycle.year).where(Cycle.status != "historical").order_by(col(Cycle.year).desc())).first()


def _comments(session: Session, cycle: Cycle, department: Department, returned: bool) -> tuple[str, ...]:
    """Why the targets went back: the coordinator's comment and each project's review reasons."""
    if not returned:
        return ()
    lines = []
    gate = session.exec(
        select(Approval).where(
            Approval.cycle_id == cycle.id,
            Approval.gate == "targets",
            Approval.subject == department.code,
            Approval.level == 1,
            Approval.status == "returned",
        )
    ).first()
    if gate is not None:
        when = f"{in_shanghai(gate.decided_at):%Y-%m-%d}" if gate.decided_at else ""
        lines.append(f"审核意见（{signed_as(gate.decided_by, gate.entered_by)} {when}）：{gate.comment}")
    for project, review in session.exec(
        select(Project, TargetReview)
        .join(TargetReview, col(TargetReview.project_id) == Project.id)
        .where(
            TargetReview.cycle_id == cycle.id,
            Project.department_id == department.id,
            TargetReview.status == "returned",
            TargetReview.reasons != "",
        )
        .order_by(col(Project.code))
    ):
        if gate is None or review.reasons != gate.comment:
            lines.append(f"{project.code} {project.name}：{review.reasons}")
    return tuple(lines)


def _forms(session: Session, cycle: Cycle, department: Department, day: date) -> list[FormLine]:
    """Each form of the year with its state and receipts: the cycle's windows, the department's entries and
    receipts each read in one query (the page is what a department waits for after every upload)."""
    assert cycle.id is not None
    policy = cycle_policy(cycle)
    windows = {w.stage: w for w in session.exec(select(CollectionWindow).where(CollectionWindow.cycle_id == cycle.id))}
    ids = [w.id for w in windows.values()]
    entries = {
        e.window_id: e
        for e in session.exec(
            select(WindowEntry).where(col(WindowEntry.window_id).in_(ids), WindowEntry.department_id == department.id)
        )
    }
    by_window: dict[int, list[WindowReceipt]] = {}
    for receipt in session.exec(
        select(WindowReceipt)
        .where(col(WindowReceipt.window_id).in_(ids), WindowReceipt.department_id == department.id)
        .order_by(col(WindowReceipt.version).desc())
    ):
        by_window.setdefault(receipt.window_id, []).append(receipt)
    lines = []
    for stage, (form, quarter) in STAGE_FORMS.items():
        window = windows.get(stage)
        title = f"{cycle.year}年{QUARTER_NAMES.get(quarter, '')}{FORM_NAMES[form]}"
        if window is None:
            due = policy.calendar.deadline(form, quarter or None, cycle.year)
            state = cell_label(None, None)
            entry, receipts = None, []
        else:
            entry = entries.get(window.id or 0)
            receipts = by_window.get(window.id or 0, [])
            refused = bool(receipts) and receipts[0].status == REFUSED
            due = entry.due_on if entry is not None else window.due_on
            state = cell_label(entry.status, entry.due_on, refused) if entry is not None else cell_label(None, None)
        returned = entry is not None and entry.status == "returned"
        lines.append(
            FormLine(
                stage=stage,
                form=form,
                quarter=quarter,
                title=title,
                due_on=due,
                state=state,
                open=cycle.status == "open" and window is not None and window.status == "open",
                comments=_comments(session, cycle, department, returned),
                receipts=tuple(
                    ReceiptLine(
                        r.version,
                        in_shanghai(r.received_at),
                        r.source_name,
                        r.rows,
                        r.submitted_by,
                        r.status != REFUSED,
                        r.current,
                        r.replaces,
                        tuple(p for p in r.problems.splitlines() if p.strip()),
                    )
                    for r in receipts
                ),
            )
        )
    return lines


def _notices(session: Session, cycle: Cycle, department: Department, day: date) -> list[NoticeLine]:
    lines = []
    for notice, response in session.exec(
        select(WarningNotice, WarningResponse)
        .join(WarningResponse, col(WarningResponse.notice_id) == WarningNotice.id, isouter=True)
        .where(WarningNotice.cycle_id == cycle.id, WarningNotice.department_id == department.id)
        .order_by(col(WarningNotice.quarter))
    ):
        status = response_status(notice.response_due, notice.responded_on, day)
        lines.append(
            NoticeLine(
                quarter=notice.quarter,
                quarter_name=QUARTER_NAMES.get(notice.quarter, notice.quarter),
                light=LIGHT_LABELS.get(notice.level, notice.level),
                issued_on=notice.issued_on,
                response_due=notice.response_due,
                response_state=cell_label(status, notice.response_due) if status is not None else None,
                cause=response.cause if response else "",
                measures=response.measures if response else "",
                responded_by=response.responded_by if response else "",
                may_respond=notice.level == "red" and notice.response_due is not None and cycle.status == "open",
            )
        )
    return lines


def visible_documents(session: Session, cycle: Cycle, role: str, department_code: str | None) -> list[DocumentLine]:
    """The cycle's documents this person may open, in the order they were written."""
    return [
        DocumentLine(d.id, d.kind, Path(d.path).name, in_shanghai(d.created_at))
        for d in session.exec(select(Document).where(Document.cycle_id == cycle.id).order_by(col(Document.id)))
        if d.id is not None
        and document_visible(role, department_code, d.kind, d.subject, EVALUATOR_DOCUMENTS.get(role, ()))
    ]


def document_for(session: Session, document_id: int, role: str, department_code: str | None) -> Document | None:
    """The document if this person may open it; None when it does not exist or is not theirs."""
    document = session.get(Document, document_id)
    if document is None:
        return None
    visible = document_visible(
        role, department_code, document.kind, document.subject, EVALUATOR_DOCUMENTS.get(role, ())
    )
    return document if visible else None


def department_work(session: Session, year: int, department_id: int, on: date | None = None) -> DepartmentWork:
    """Everything the department's page shows for the year."""
    cycle = get_cycle_for(session, year)
    department = session.get(Department, department_id)
    assert department is not None
    day = on or today()
    projects = session.exec(
        select(Project.code, Project.name)
        .where(Project.year == year, Project.department_id == department_id)
        .order_by(col(Project.code))
    ).all()
    return DepartmentWork(
        year=year,
        code=department.code,
        name=department.name,
        cycle_open=cycle.status == "open",
        forms=tuple(_forms(session, cycle, department, day)),
        notices=tuple(_notices(session, cycle, department, day)),
        documents=tuple(visible_documents(session, cycle, "department", department.code)),
        projects=tuple((code, name) for code, name in projects),
        findings=tuple(list_findings(session, year, department.code, on=day)),
    )

"""The rectification register (问题整改): every finding of the cycle, followed until it is verified.

The stages that produce findings register them (`register`): red lights (the 预警通知书), sampling-review
flags, inflated self-evaluation claims, each finding line of a key evaluation whose grade asks for action,
and the ex-ante 调整后支持 conditions. Registering again changes nothing but what the source now says of a
finding no one has answered yet. The department answers with its measures (`answer_finding`; a red light's
answer is its 预警整改 response, `perfcycle respond`), the coordinator verifies the answer with a comment
(`verify_finding`). Findings still open put their department first in the next cycle's sample and stand beside
its lines in the next budget table (`open_findings_before`).

No Prefect here: the command line and the stage tasks call the same functions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from models import (
    Cycle,
    Department,
    DepartmentLight,
    Document,
    Evaluation,
    ExAnteAssessment,
    Finding,
    Project,
    Selection,
    WarningNotice,
    now,
)
from models.rows import columns
from models.tables import WarningResponse
from perfcycle import audit
from perfcycle.approvals import in_shanghai
from perfcycle.collecting import (
    SYSTEM,
    WindowError,
    check_submitter,
    coordinators,
    cycle_policy,
    get_cycle_for,
    today,
)
from perfcycle.documents.contexts import FindingsNoticeContext, NoticeRow
from perfcycle.money import fmt_wan
from perfcycle.policy import Policy
from perfcycle.rules.findings import (
    ANSWERED,
    FIXED,
    FOUND_IN,
    OPEN,
    OVERDUE,
    SOURCES,
    STATE_LABELS,
    UNFIXED,
    FindingCounts,
    answer_due,
    awaits_verification,
    count_findings,
    finding_lines,
    finding_state,
    is_open,
    status_on,
)
from perfcycle.rules.issuing import issue_day
from perfcycle.rules.lights import notice_date
from perfcycle.stages import QUARTER_NAMES

OBJECT_LABELS = {"project": "项目", "department": "部门整体支出", "policy": "财政政策"}
ADJUSTED = "调整后支持"  # the ex-ante conclusion that comes with conditions (perfcycle.rules.ex_ante)


class FindingError(WindowError):
    """A finding cannot be answered or verified as asked; the message says why."""


@dataclass(frozen=True)
class Found:
    """A finding as its source states it now (before it is registered)."""

    key: str
    department_id: int | None
    object_type: str
    object_code: str
    object_name: str
    text: str
    registered_on: date | None = None  # None: the day it is registered
    due_on: date | None = None  # None: the policy's days for the source after registration


# ---------------------------------------------------------------------------------------------- sources


def _projects(session: Session, year: int) -> dict[str, Project]:
    return {p.code: p for p in session.exec(select(Project).where(Project.year == year))}


def _department_names(session: Session, ids: Iterable[int | None] | None = None) -> dict[int, Department]:
    """The departments by id: all of them, or only those of `ids` (a department's page reads its own)."""
    query = select(Department)
    if ids is not None:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        query = query.where(col(Department.id).in_(wanted))
    return {d.id: d for d in session.exec(query) if d.id is not None}


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value}%"


def red_lights(session: Session, cycle: Cycle, policy: Policy) -> list[Found]:
    """Each red 预警通知书: the department analyses the causes and states its measures by the notice's date."""
    lights = {
        (row.department_id, row.quarter): row
        for row in session.exec(select(DepartmentLight).where(DepartmentLight.cycle_id == cycle.id))
    }
    departments = _department_names(session)
    found = []
    for notice in session.exec(
        select(WarningNotice)
        .where(WarningNotice.cycle_id == cycle.id, WarningNotice.level == "red")
        .order_by(col(WarningNotice.quarter), col(WarningNotice.department_id))
    ):
        department = departments[notice.department_id]
        light = lights.get((notice.department_id, notice.quarter))
        progress = (
            f"（执行进度 {_pct(light.execution_progress)}，目标完成进度 {_pct(light.target_progress)}）"
            if light is not None
            else ""
        )
        found.append(
            Found(
                key=f"{notice.quarter}:{department.code}",
                department_id=notice.department_id,
                object_type="department",
                object_code=department.code,
                object_name=department.name,
                text=f"{cycle.year}年{QUARTER_NAMES[notice.quarter]}部门整体支出绩效监控亮红灯{progress}，"
                "须分析原因并提出整改措施",
                registered_on=notice.issued_on,
                due_on=notice.response_due or notice.issued_on,
            )
        )
    return found


def review_flags(session: Session, cycle: Cycle, policy: Policy) -> list[Found]:
    """A review score a grade or many points away from the self-evaluation: the department explains and fixes it."""
    projects = _projects(session, cycle.year)
    found = []
    for review in session.exec(
        select(Evaluation)
        .where(Evaluation.cycle_id == cycle.id, Evaluation.kind == "review", col(Evaluation.flagged).is_(True))
        .order_by(col(Evaluation.object_code))
    ):
        project = projects.get(review.object_code)
        opinion = f"。复核意见：{review.findings.strip()}" if review.findings.strip() else ""
        found.append(
            Found(
                key=f"project:{review.object_code}",
                department_id=project.department_id if project else review.department_id,
                object_type="project",
                object_code=review.object_code,
                object_name=project.name if project else "",
                text=f"抽查复核：{review.flag_reason}{opinion}",
            )
        )
    return found


def inflated_claims(session: Session, cycle: Cycle, policy: Policy) -> list[Found]:
    """A claimed self-evaluation score above the computed one by the policy's points (严禁刻意抬高分数)."""
    projects = _projects(session, cycle.year)
    departments = _department_names(session)
    found = []
    for evaluation in session.exec(
        select(Evaluation)
        .where(Evaluation.cycle_id == cycle.id, Evaluation.kind == "self", col(Evaluation.flagged).is_(True))
        .order_by(col(Evaluation.object_type).desc(), col(Evaluation.object_code))
    ):
        if evaluation.object_type == "project":
            project = projects.get(evaluation.object_code)
            name = project.name if project else ""
        else:
            department = departments.get(evaluation.department_id or 0)
            name = department.name if department else ""
        found.append(
            Found(
                key=f"{evaluation.object_type}:{evaluation.object_code}",
                department_id=evaluation.department_id,
                object_type=evaluation.object_type,
                object_code=evaluation.object_code,
                object_name=name,
                text=f"绩效自评得分偏高：{evaluation.flag_reason}，须核实自评结果并整改",
            )
        )
    return found


def key_evaluations(session: Session, cycle: Cycle, policy: Policy) -> list[Found]:
    """Each line of the third party's findings on an object whose grade asks for action (the policy's grades)."""
    names = {
        (s.object_type, s.object_code): s.name
        for s in session.exec(select(Selection).where(Selection.cycle_id == cycle.id))
    }
    grades = set(policy.rectification.key_evaluation_grades)
    found = []
    for evaluation in session.exec(
        select(Evaluation)
        .where(Evaluation.cycle_id == cycle.id, Evaluation.kind == "fiscal")
        .order_by(col(Evaluation.object_type), col(Evaluation.object_code))
    ):
        if evaluation.grade not in grades:
            continue
        for number, line in enumerate(finding_lines(evaluation.findings), start=1):
            found.append(
                Found(
                    key=f"{evaluation.object_type}:{evaluation.object_code}:{number}",
                    department_id=evaluation.department_id,
                    object_type=evaluation.object_type,
                    object_code=evaluation.object_code,
                    object_name=names.get((evaluation.object_type, evaluation.object_code), ""),
                    text=f"财政重点评价（{evaluation.grade}）：{line}",
                )
            )
    return found


def ex_ante_conditions(session: Session, cycle: Cycle, policy: Policy) -> list[Found]:
    """调整后支持: the project is funded on the panel's conditions, which the department must meet."""
    found = []
    for assessment, project in session.exec(
        select(ExAnteAssessment, Project)
        .join(Project, col(Project.id) == ExAnteAssessment.project_id)
        .where(ExAnteAssessment.cycle_id == cycle.id, ExAnteAssessment.conclusion == ADJUSTED)
        .order_by(col(Project.code))
    ):
        comment = f"：{assessment.comment.strip()}" if assessment.comment.strip() else ""
        found.append(
            Found(
                key=f"project:{project.code}",
                department_id=project.department_id,
                object_type="project",
                object_code=project.code,
                object_name=project.name,
                text=f"事前绩效评估结论为调整后支持，压减 {fmt_wan(assessment.cut_fen)} 万元{comment}",
            )
        )
    return found


COLLECTORS: dict[str, Callable[[Session, Cycle, Policy], list[Found]]] = {
    "red_light": red_lights,
    "review_flag": review_flags,
    "inflated_claim": inflated_claims,
    "key_evaluation": key_evaluations,
    "ex_ante": ex_ante_conditions,
}


# ---------------------------------------------------------------------------------------------- registering


def _of_source(session: Session, cycle_id: int, source: str) -> dict[str, Finding]:
    return {
        f.key: f for f in session.exec(select(Finding).where(Finding.cycle_id == cycle_id, Finding.source == source))
    }


def register(session: Session, cycle: Cycle, source: str, on: date | None = None) -> dict[str, int]:
    """Bring the register in line with what `source` finds now: new findings are registered (on the day, at the
    latest on the 成文日期 of the document that finds them, and due the policy's days later), those no one has
    answered yet take the source's current text, and those the source no longer finds are withdrawn unless the
    department already answered them. Audited once per change."""
    assert cycle.id is not None
    policy = cycle_policy(cycle)
    day = on or today()
    existing = _of_source(session, cycle.id, source)
    found = {item.key: item for item in COLLECTORS[source](session, cycle, policy)}
    added: list[str] = []
    for key, item in found.items():
        finding = existing.get(key)
        if finding is None:
            registered = issue_day(item.registered_on, day, policy.document_day(FOUND_IN.get(source, "")))
            finding = Finding(
                cycle_id=cycle.id,
                source=source,
                key=key,
                registered_on=registered,
                due_on=item.due_on or answer_due(registered, policy.rectification.answer_days[source]),
            )
            added.append(key)
        elif finding.answers or finding.status != OPEN:
            continue
        elif item.due_on is not None:
            finding.due_on = item.due_on
        finding.department_id = item.department_id
        finding.object_type, finding.object_code = item.object_type, item.object_code
        finding.object_name = item.object_name[:300]
        finding.text = item.text
        session.add(finding)
    withdrawn = [key for key, f in existing.items() if key not in found and f.status == OPEN and not f.answers]
    for key in withdrawn:
        session.delete(existing[key])
    session.flush()
    if source == "red_light":
        _sync_warning_answers(session, cycle)
    if added or withdrawn:
        audit.append(
            session,
            SYSTEM,
            "findings.registered",
            f"findings:{cycle.year}:{source}",
            {"year": cycle.year, "source": source, "registered": sorted(added), "withdrawn": sorted(withdrawn)},
        )
    return {"registered": len(added), "withdrawn": len(withdrawn), "findings": len(found)}


def _sync_warning_answers(session: Session, cycle: Cycle) -> None:
    """Red lights already answered with a 预警整改 response read as answered."""
    departments = _department_names(session)
    for notice, response in session.exec(
        select(WarningNotice, WarningResponse)
        .join(WarningResponse, col(WarningResponse.notice_id) == WarningNotice.id)
        .where(WarningNotice.cycle_id == cycle.id)
    ):
        record_warning_answer(session, cycle, departments[notice.department_id], notice, response)


def _red_light_finding(session: Session, cycle: Cycle, department: Department, quarter: str) -> Finding | None:
    return session.exec(
        select(Finding).where(
            Finding.cycle_id == cycle.id,
            Finding.source == "red_light",
            Finding.key == f"{quarter}:{department.code}",
        )
    ).first()


def red_light_fixed(session: Session, cycle: Cycle, department: Department, quarter: str) -> bool:
    """Whether the coordinator verified the red light's finding as 已整改 (no new 预警整改 response then)."""
    finding = _red_light_finding(session, cycle, department, quarter)
    return finding is not None and finding.status == FIXED


def record_warning_answer(
    session: Session, cycle: Cycle, department: Department, notice: WarningNotice, response: WarningResponse
) -> None:
    """A 预警整改 response answers the red light's finding (once registered): its causes and measures."""
    finding = _red_light_finding(session, cycle, department, notice.quarter)
    if finding is None or finding.answers >= response.versions:
        return
    finding.measures = f"原因分析：{response.cause}\n整改措施：{response.measures}"
    finding.answers = response.versions
    finding.answered_by = response.responded_by
    finding.answered_at = response.received_at
    finding.status = ANSWERED
    finding.verified_by, finding.verified_at = "", None
    session.add(finding)
    session.flush()


# ---------------------------------------------------------------------------------------------- answering


def get_finding(session: Session, finding_id: int) -> tuple[Finding, Cycle]:
    finding = session.get(Finding, finding_id)
    if finding is None:
        raise FindingError(f"没有编号为 {finding_id} 的整改事项（见 perfcycle findings --year 年度）")
    cycle = session.get(Cycle, finding.cycle_id)
    assert cycle is not None
    return finding, cycle


def _refuse(session: Session, by: str, action: str, finding_id: int, reason: str, entered_by: str = "") -> FindingError:
    """Record a refused answer or verification (who, what, why; who typed it in for whom) and commit it, then
    hand back the exception."""
    payload: dict[str, object] = {"finding": finding_id, "reason": reason}
    if entered_by:
        payload.update(entered_by=entered_by, on_behalf_of=by)
    audit.append(session, entered_by or by or "(未署名)", action, f"finding:{finding_id}", payload)
    session.commit()
    return FindingError(reason)


def _label(finding: Finding, year: int) -> str:
    return f"{year}年{SOURCES[finding.source]}问题（编号 {finding.id}）"


def answer_finding(
    session: Session,
    finding_id: int,
    *,
    measures: str,
    cause: str = "",
    progress: str = "",
    by: str = "",
    at: datetime | None = None,
) -> Finding:
    """The department's answer: what it did about the finding (its measures and, if given, how far they went:
    完成情况). A red light is answered by its 预警整改 response (causes and measures). Only the department's
    contact or head answers (a finding without a department: a coordinator); a new answer after 未整改 replaces
    the earlier one (the audit log keeps every answer); a finding verified as fixed takes no answer."""
    measures, cause, progress, by = measures.strip(), cause.strip(), progress.strip(), " ".join(by.split())
    if measures and progress:
        measures = f"{measures}\n完成情况：{progress}"
    finding, cycle = get_finding(session, finding_id)
    label = _label(finding, cycle.year)
    department = session.get(Department, finding.department_id) if finding.department_id is not None else None
    if finding.status == FIXED:
        if department is not None:
            check_submitter(
                session, cycle, department, f"finding_{finding_id}", by or department.contact, "", "整改反馈"
            )
        raise _refuse(session, by, "finding.answer_refused", finding_id, f"{label}已验证为已整改，无需再反馈")
    if finding.source == "red_light":
        from perfcycle.collecting import respond_to_warning

        quarter, _, code = finding.key.partition(":")
        respond_to_warning(
            session,
            year=cycle.year,
            quarter=quarter,
            department_code=code,
            cause=cause,
            measures=measures,
            by=by,
            at=at,
        )
        session.refresh(finding)
        return finding
    if not measures:
        raise FindingError("整改反馈须写明整改措施（--measures）")
    if department is not None:
        by = by or department.contact
        check_submitter(session, cycle, department, f"finding_{finding_id}", by, "", "整改反馈")
    elif by.casefold() not in {n.casefold() for n in coordinators(cycle)}:
        raise _refuse(session, by, "finding.answer_refused", finding_id, f"{label}没有责任部门，由财政局绩效科反馈")
    previous = {"status": finding.status, "measures": finding.measures, "comment": finding.comment}
    received = in_shanghai(at) if at else now()
    finding.measures = measures
    finding.answers += 1
    finding.answered_by = by[:100]
    finding.answered_at = received
    finding.status = ANSWERED
    finding.verified_by, finding.verified_at = "", None
    session.add(finding)
    audit.append(
        session,
        by,
        "finding.answered",
        f"finding:{finding_id}",
        {
            "year": cycle.year,
            "source": finding.source,
            "key": finding.key,
            "measures": measures,
            "due_on": finding.due_on,
            "late": received.date() > finding.due_on,
            "previous": previous,
        },
    )
    session.flush()
    return finding


def verify_finding(
    session: Session,
    finding_id: int,
    *,
    fixed: bool,
    comment: str,
    by: str,
    at: datetime | None = None,
    entered_by: str = "",
) -> Finding:
    """The coordinator's verification of an answer: 已整改 closes the finding, 未整改 leaves it open for a new
    answer. Anyone else, a verification without a comment or before an answer, or of one's own answer, is
    refused; the refusal is audited and committed. `entered_by`: who typed it in on `by`'s behalf (the
    administrator on the command line), whose audit entry it then is."""
    comment, by = comment.strip(), " ".join(by.split())
    finding = session.get(Finding, finding_id)
    reason = ""
    if not by:
        reason = "必须写明验证人（--by 姓名）"
    elif finding is None:
        reason = f"没有编号为 {finding_id} 的整改事项（见 perfcycle findings --year 年度）"
    if finding is None or reason:
        raise _refuse(session, by, "finding.verify_refused", finding_id, reason, entered_by)
    cycle = session.get(Cycle, finding.cycle_id)
    assert cycle is not None
    label = _label(finding, cycle.year)
    allowed = coordinators(cycle)
    if by.casefold() not in {n.casefold() for n in allowed}:
        reason = f"{by} 不是财政局绩效科的审批人，不能验证整改情况（可验证：{'、'.join(allowed) or '策略未指定'}）"
    elif not comment:
        reason = "验证整改情况须写明意见（--comment）"
    elif finding.status != ANSWERED:
        state = STATE_LABELS[finding_state(finding.status, finding.due_on, today())]
        reason = f"{label}{state}，" + (
            "部门尚未反馈整改措施，不能验证" if finding.status in (OPEN, UNFIXED) else "已验证"
        )
    elif by.casefold() == finding.answered_by.casefold():
        reason = f"{by} 反馈了{label}的整改措施，不能再验证（职责分离）"
    if reason:
        raise _refuse(session, by, "finding.verify_refused", finding_id, reason, entered_by)
    finding.status = FIXED if fixed else UNFIXED
    finding.verified_by = by[:100]
    finding.verified_at = in_shanghai(at) if at else now()
    finding.comment = comment
    session.add(finding)
    payload: dict[str, object] = {
        "year": cycle.year,
        "source": finding.source,
        "key": finding.key,
        "status": finding.status,
        "comment": comment,
    }
    if entered_by:
        payload.update(entered_by=entered_by, on_behalf_of=by)
    audit.append(session, entered_by or by, "finding.verified", f"finding:{finding_id}", payload)
    session.flush()
    return finding


# ---------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class FindingRow:
    """One finding as the register lists it."""

    id: int
    year: int
    source: str
    department_code: str
    department_name: str
    object_type: str
    object_code: str
    object_name: str
    text: str
    registered_on: date
    due_on: date
    state: str
    measures: str
    answered_by: str
    answered_at: datetime | None
    verified_by: str
    comment: str
    verified_at: datetime | None = None

    def on(self, day: date) -> FindingRow | None:
        """The finding as it stood at the end of `day`; None if it was registered later."""
        if self.registered_on > day:
            return None
        status = status_on(
            OPEN if self.state == OVERDUE else self.state, _day_of(self.answered_at), _day_of(self.verified_at), day
        )
        return replace(self, state=finding_state(status, self.due_on, day))

    @property
    def source_label(self) -> str:
        return SOURCES[self.source]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def asks_cause(self) -> bool:
        """A red light is answered with its causes as well (the 预警整改 response)."""
        return self.source == "red_light"

    @property
    def answerable(self) -> bool:
        """The department may answer it (again): anything not verified as fixed."""
        return is_open(self.state)

    @property
    def verifiable(self) -> bool:
        """A coordinator may verify it: answered, not verified since."""
        return awaits_verification(self.state)

    @property
    def subject(self) -> str:
        """What the finding is about, e.g. 项目 LS-01 道路养护 or 部门整体支出."""
        label = OBJECT_LABELS.get(self.object_type, "")
        if self.object_type == "department":
            return label
        return " ".join(part for part in (label, self.object_code, self.object_name) if part)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "year": self.year,
            "source": self.source,
            "source_label": self.source_label,
            "department_code": self.department_code,
            "department": self.department_name,
            "object_type": self.object_type,
            "object_code": self.object_code,
            "object_name": self.object_name,
            "text": self.text,
            "registered_on": self.registered_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "status": self.state,
            "status_label": self.state_label,
            "measures": self.measures,
            "answered_by": self.answered_by,
            "answered_at": in_shanghai(self.answered_at).isoformat() if self.answered_at else None,
            "verified_by": self.verified_by,
            "comment": self.comment,
        }


def _rows(session: Session, pairs: Sequence[tuple[Finding, Cycle]], day: date) -> list[FindingRow]:
    departments = _department_names(session, (finding.department_id for finding, _ in pairs))
    rows = []
    for finding, cycle in pairs:
        assert finding.id is not None
        department = departments.get(finding.department_id or 0)
        rows.append(
            FindingRow(
                id=finding.id,
                year=cycle.year,
                source=finding.source,
                department_code=department.code if department else "",
                department_name=department.name if department else "",
                object_type=finding.object_type,
                object_code=finding.object_code,
                object_name=finding.object_name,
                text=finding.text,
                registered_on=finding.registered_on,
                due_on=finding.due_on,
                state=finding_state(finding.status, finding.due_on, day),
                measures=finding.measures,
                answered_by=finding.answered_by,
                answered_at=finding.answered_at,
                verified_by=finding.verified_by,
                comment=finding.comment,
                verified_at=finding.verified_at,
            )
        )
    return rows


def list_findings(
    session: Session,
    year: int,
    department_code: str | None = None,
    state: str | None = None,
    on: date | None = None,
) -> list[FindingRow]:
    """The year's register, by department, source and number; `state` as `finding_state` reads it on the day."""
    day = on or today()
    query = (
        select(Finding, Cycle)
        .join(Cycle, col(Cycle.id) == Finding.cycle_id)
        .where(Cycle.year == year)
        .order_by(col(Finding.id))
    )
    if department_code is not None:
        department = session.exec(select(Department).where(Department.code == department_code.strip())).first()
        if department is None:
            raise FindingError(f"没有编码为 {department_code} 的部门")
        query = query.where(Finding.department_id == department.id)
    rows = _rows(session, session.exec(query).all(), day)
    if state is not None:
        rows = [row for row in rows if row.state == state]
    order = list(SOURCES)
    return sorted(rows, key=lambda r: (r.department_code, order.index(r.source), r.id))


def of_department(session: Session, finding_id: int, department_id: int) -> bool:
    """Whether the finding exists and is the department's own (a department answers nothing else)."""
    finding = session.get(Finding, finding_id)
    return finding is not None and finding.department_id == department_id


def open_findings_before(session: Session, year: int, on: date | None = None) -> dict[int, list[FindingRow]]:
    """Each department's findings of earlier cycles still open (not verified as fixed): what the next cycle's
    sample and budget table read."""
    query = (
        select(Finding, Cycle)
        .join(Cycle, col(Cycle.id) == Finding.cycle_id)
        .where(Cycle.year < year, col(Finding.department_id).is_not(None), Finding.status != FIXED)
        .order_by(col(Cycle.year), col(Finding.id))
    )
    by_department: dict[int, list[FindingRow]] = defaultdict(list)
    pairs = session.exec(query).all()
    for (finding, _), row in zip(pairs, _rows(session, pairs, on or today()), strict=True):
        if finding.department_id is not None and is_open(finding.status):
            by_department[finding.department_id].append(row)
    return dict(by_department)


def open_findings_note(rows: Iterable[FindingRow]) -> str:
    """The open findings beside a department's line: e.g. 2项：#3 2024抽查复核（逾期）、#7 2024重点评价（未整改）."""
    items = [f"#{r.id} {r.year}{r.source_label}（{r.state_label}）" for r in rows]
    return f"{len(items)}项：{'、'.join(items)}" if items else ""


def finding_figures(session: Session, cycle_id: int, on: date | None = None) -> FindingCounts:
    """Registered, answered, verified fixed and overdue findings of a cycle, by source."""
    findings = session.exec(
        select(*columns(Finding, "source", "status", "due_on", "answers")).where(Finding.cycle_id == cycle_id)
    ).all()
    return count_findings(findings, on or today())


# ---------------------------------------------------------------------------------------------- the 通报

NOTICE_KIND = "问题整改情况通报"
NOTICE_FOLDER = "09-问题整改"
QUARTER_ENDS = {"Q1": (3, 31), "Q2": (6, 30), "Q3": (9, 30), "Q4": (12, 31)}


def _day_of(moment: datetime | None) -> date | None:
    """The day (北京时间) of a recorded moment."""
    return in_shanghai(moment).date() if moment is not None else None


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def notice_latest_day(policy: Policy, year: int, quarter: str) -> date:
    """The latest 成文日期 of a quarter's 通报: the day the quarter's warnings are dated (its records' day)."""
    return notice_date(year, quarter, policy.monitoring)


def findings_notice_context(session: Session, year: int, quarter: str, on: date | None = None) -> FindingsNoticeContext:
    """The 通报 of `quarter` of `year`, dated `on` (today by default): the findings of that year's cycle and the
    earlier ones as they stood at the quarter's end (or on `on`, for a quarter not over then)."""
    if quarter not in QUARTER_ENDS:
        raise FindingError(f"季度应为 {'、'.join(QUARTER_ENDS)} 之一，不是 {quarter!r}")
    cycle = get_cycle_for(session, year)
    policy = cycle_policy(cycle)
    day = min(date(year, *QUARTER_ENDS[quarter]), on or today())
    years = session.exec(
        select(Cycle.year).where(Cycle.year <= year, Cycle.status != "historical").order_by(col(Cycle.year))
    ).all()
    listed = (row.on(day) for cycle_year in years for row in list_findings(session, cycle_year, on=day))
    rows = [row for row in listed if row is not None]
    still = [row for row in rows if is_open(row.state)]
    counts = count_findings(((r.source, r.state, r.due_on, int(r.state not in (OPEN, OVERDUE))) for r in rows), day)
    departments = list(dict.fromkeys(row.department_name for row in still if row.department_name))
    return FindingsNoticeContext(
        district=policy.district,
        issuer=policy.issuer,
        year=year,
        quarter_label=QUARTER_NAMES[quarter],
        as_of=_cn_date(day),
        issued_on=_cn_date(on or today()),
        addressees="、".join(departments) or "各预算部门",
        registered=counts.registered,
        responded=counts.responded,
        fixed=counts.closed,
        open=len(still),
        overdue=counts.overdue,
        unfixed=sum(1 for row in still if row.state == UNFIXED),
        by_source="、".join(f"{SOURCES[s]}{counts.by_source[s]}项" for s in SOURCES if counts.by_source[s]),
        rows=[
            NoticeRow(
                id=row.id,
                department_name=row.department_name or "财政局",
                source_label=row.source_label,
                text=f"{row.subject}：{row.text}" if row.object_type != "department" else row.text,
                due_on=_cn_date(row.due_on),
                state_label=row.state_label,
            )
            for row in sorted(still, key=lambda r: (r.department_code, r.year, r.id))
        ],
    )


def write_findings_notice(session: Session, year: int, quarter: str, out_dir: Path) -> Path:
    """Render the quarter's 通报 under out_dir/documents/<year>/09-问题整改 and record it (kind, subject, sha256)."""
    from perfcycle.documents.catalog import year_folder
    from perfcycle.documents.naming import safe_path
    from perfcycle.documents.numbers import Numbering
    from perfcycle.documents.renderer import render_docx

    cycle = get_cycle_for(session, year)
    assert cycle.id is not None
    policy = cycle_policy(cycle)
    numbering = Numbering(session, cycle, policy)
    if quarter not in QUARTER_ENDS:
        raise FindingError(f"季度应为 {'、'.join(QUARTER_ENDS)} 之一，不是 {quarter!r}")
    latest = notice_latest_day(policy, year, quarter)
    dated = numbering.day(NOTICE_KIND, quarter, None, latest)
    context = findings_notice_context(session, year, quarter, dated)
    frame = numbering.frame(NOTICE_KIND, quarter, context.addressees, None, latest)
    context = context.model_copy(update={"frame": frame})
    path = safe_path(year_folder(out_dir, year), NOTICE_FOLDER, f"{year}年{quarter}{NOTICE_KIND}.docx")
    path.parent.mkdir(parents=True, exist_ok=True)
    sha = render_docx("findings_notice.md.j2", context, path)
    document = session.exec(
        select(Document).where(Document.cycle_id == cycle.id, Document.kind == NOTICE_KIND, Document.subject == quarter)
    ).first() or Document(
        cycle_id=cycle.id, stage="rectification", kind=NOTICE_KIND, subject=quarter, path="", sha256=""
    )
    audit.record_documents(session, [(document, path, sha)])
    document.path, document.sha256 = str(path), sha
    session.add(document)
    session.flush()
    return path

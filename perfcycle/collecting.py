"""Department submissions with deadlines: collection windows, receipts, closing, and red-light responses.

A stage that collects a department form (target setting, each quarter's monitoring, self-evaluation)
opens a `CollectionWindow` with the deadline of the policy's calendar and one `WindowEntry` per department
that owes the form. Forms arrive two ways: `perfcycle submit` (checked, filed in the submissions folder,
recorded as a `WindowReceipt`), or a file put in the folder by hand and imported by the stage (its
`Submission` row, dated by the file's arrival, and a receipt). A form of the folder that cannot be imported
is a refused receipt with its problems; the department still owes the form and is told why. After
importing, the stage records the arrivals and closes the window once nothing is owed any more: everyone
arrived, or the deadline passed (those still owed are missing). The coordinator may close it earlier
(`perfcycle close-window`); a form imported after its entry was closed as missing counts, as late (or on
time, by its arrival). Targets sent back (退回修改) reopen the department's entry at once, with its own
resubmission deadline.

No Prefect here: the command line and the stage tasks call the same functions.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, or_
from sqlmodel import Session, col, select

from models import Approval, Cycle, Department, Project, Submission, WarningNotice, now
from models.rows import PROJECT_REF_COLUMNS, ProjectRef, insert_rows, insert_tuples, project_refs_of
from models.tables import CollectionWindow, WarningResponse, WindowEntry, WindowReceipt
from perfcycle import audit
from perfcycle.approvals import approvals_policy, in_shanghai
from perfcycle.cycle_context import cycle_policy
from perfcycle.rules.deadlines import (
    ARRIVED,
    MISSING,
    OUTSTANDING,
    PENDING,
    RETURNED,
    EntryState,
    arrival_status,
    cell_label,
    deadline_passed,
    response_status,
    resubmission_due,
    should_close,
    status_after_deadline,
)
from perfcycle.rules.identifiers import code_problem
from perfcycle.stages import QUARTER_NAMES, QUARTERS, SUBMISSION_FOLDERS

if TYPE_CHECKING:
    from perfcycle.loaders import LoadCache

SYSTEM = "perfcycle"
STAGE_FORMS: dict[str, tuple[str, str]] = {
    "target_setting": ("targets", ""),
    **{f"monitoring_{q}": ("monitoring", q) for q in QUARTERS},
    "self_evaluation": ("self_evaluation", ""),
}
FORM_NAMES = {"targets": "绩效目标申报表", "monitoring": "绩效运行监控表", "self_evaluation": "绩效自评表"}
COLUMN_NAMES = {
    "target_setting": "绩效目标",
    **{f"monitoring_{q}": f"{QUARTER_NAMES[q]}监控" for q in QUARTERS},
    "self_evaluation": "绩效自评",
}
RESPONSE_COLUMN = "预警整改"
ACCEPTED, REFUSED = "accepted", "refused"  # a receipt's status: imported, or not (its problems say why)
CLOSE_REASONS = {"all_received": "全部报齐", "deadline": "截止日已过", "coordinator": "绩效科提前截止"}


class WindowError(Exception):
    """Something a department or the coordinator asked for that cannot be done; the message says why."""


def today() -> date:
    """The bureau's date (Asia/Shanghai); the tests move it to either side of a deadline."""
    return now().date()


def stage_for(stage: str, quarter: str | None = None) -> str:
    """The stage a person names: targets (or target_setting), monitoring with --quarter, self_evaluation."""
    name = stage.strip().lower().replace("-", "_")
    if name in ("targets", "target"):
        name = "target_setting"
    if name == "monitoring":
        if not quarter:
            raise WindowError("季度监控须指明季度（--quarter Q1..Q4）")
        name = f"monitoring_{quarter.strip().upper()}"
    elif quarter and not name.startswith("monitoring_"):
        raise WindowError(f"只有季度监控有季度，{stage} 不用 --quarter")
    if name not in STAGE_FORMS:
        known = "targets、monitoring --quarter Q1..Q4、self_evaluation"
        raise WindowError(f"阶段 {stage!r} 没有部门填报（可用：{known}）")
    return name


def window_title(year: int, window: CollectionWindow) -> str:
    quarter = QUARTER_NAMES.get(window.quarter, "")
    return f"{year}年{quarter}{FORM_NAMES[window.form]}"


def get_cycle_for(session: Session, year: int) -> Cycle:
    cycle = session.exec(select(Cycle).where(Cycle.year == year)).first()
    if cycle is None or cycle.status == "historical":
        raise WindowError(f"没有 {year} 年度的绩效管理周期，请先运行 perfcycle run --year {year}")
    return cycle


def get_department(session: Session, code: str) -> Department:
    """The department of a code typed by a person; a text that is no code is refused with the reason."""
    reason = code_problem(code.strip())
    if reason is not None:
        raise WindowError(f"部门{reason}")
    department = session.exec(select(Department).where(Department.code == code.strip())).first()
    if department is None:
        raise WindowError(f"没有编码为 {code} 的部门（请先在基础数据中登记）")
    return department


def owing_departments(session: Session, year: int) -> list[Department]:
    """Every department with a project in the cycle year owes each form of the year."""
    ids = set(session.exec(select(Project.department_id).where(Project.year == year)))
    return [d for d in session.exec(select(Department).order_by(col(Department.code))) if d.id in ids]


def find_window(session: Session, cycle_id: int, stage: str) -> CollectionWindow | None:
    return session.exec(
        select(CollectionWindow).where(CollectionWindow.cycle_id == cycle_id, CollectionWindow.stage == stage)
    ).first()


def _entries(session: Session, window: CollectionWindow) -> dict[int, WindowEntry]:
    return {e.department_id: e for e in session.exec(select(WindowEntry).where(WindowEntry.window_id == window.id))}


def _entry(session: Session, window: CollectionWindow, department_id: int) -> WindowEntry | None:
    return session.exec(
        select(WindowEntry).where(WindowEntry.window_id == window.id, WindowEntry.department_id == department_id)
    ).first()


def _window_subject(cycle: Cycle, window: CollectionWindow) -> str:
    return f"window:{cycle.year}:{window.stage}"


def ensure_window(
    session: Session, cycle: Cycle, stage: str, folder: str = "", on: date | None = None
) -> CollectionWindow:
    """The stage's window, opened now with the calendar's deadline if it is new; departments added since get an entry."""
    assert cycle.id is not None
    form, quarter = STAGE_FORMS[stage]
    window = find_window(session, cycle.id, stage)
    if window is None:
        opened = on or today()
        window = CollectionWindow(
            cycle_id=cycle.id,
            stage=stage,
            form=form,
            quarter=quarter,
            opens_on=opened,
            due_on=cycle_policy(cycle).calendar.deadline(form, quarter or None, cycle.year),
            folder=folder,
        )
        session.add(window)
        session.flush()
        audit.append(
            session,
            SYSTEM,
            "window.opened",
            _window_subject(cycle, window),
            {"year": cycle.year, "stage": stage, "form": form, "quarter": quarter, "due_on": window.due_on},
        )
    elif folder and window.folder != folder:
        window.folder = folder
        session.add(window)
    if window.status == "open":
        has_entry = select(WindowEntry.department_id).where(WindowEntry.window_id == window.id)
        added = session.exec(
            select(Project.department_id)
            .distinct()
            .where(Project.year == cycle.year, col(Project.department_id).not_in(has_entry))
            .order_by(col(Project.department_id))
        ).all()
        for department_id in added:
            assert window.id is not None
            session.add(WindowEntry(window_id=window.id, department_id=department_id, due_on=window.due_on))
        session.flush()
    return window


#: Queries every upload runs, built once with their parameters bound at each run.
_RECORDED_FOLDER = (
    select(CollectionWindow.folder)
    .where(col(CollectionWindow.cycle_id) == bindparam("cycle"), CollectionWindow.folder != "")
    .order_by(col(CollectionWindow.id).desc())
)
_RECEIPTS = (
    select(WindowReceipt)
    .where(
        col(WindowReceipt.window_id) == bindparam("window"), col(WindowReceipt.department_id) == bindparam("department")
    )
    .order_by(col(WindowReceipt.version))
)
_RECEIPT_FIELDS = (
    "window_id", "department_id", "version", "source_name", "path", "sha256", "rows", "submitted_by", "received_at",
    "replaces",
)  # fmt: skip
_SOURCE_NAMES = select(Submission.source_name).where(
    col(Submission.cycle_id) == bindparam("cycle"),
    col(Submission.kind) == bindparam("kind"),
    col(Submission.scope) == bindparam("scope"),
)


def submissions_root(session: Session, cycle_id: int, given: str | None) -> str | None:
    """Where the stage's forms are: the run's folder, else the cycle's, else the one an earlier stage recorded,
    else the setting."""
    if given:
        return given
    cycle = session.get(Cycle, cycle_id)
    if cycle is not None and cycle.submissions_dir:
        return cycle.submissions_dir
    recorded = session.exec(_RECORDED_FOLDER, params={"cycle": cycle_id}).first()
    if recorded:
        return recorded
    from perfcycle.settings import get_settings

    configured = get_settings().submissions_dir
    return str(configured.resolve()) if configured else None


# ---------------------------------------------------------------------------------------------- arrivals


def _scope(window: CollectionWindow, code: str) -> str:
    return f"{window.quarter}:{code}" if window.form == "monitoring" else code


def _latest_arrivals(session: Session, cycle: Cycle, window: CollectionWindow) -> dict[int, datetime]:
    """When each department's current version came in: its own receipt, or the import of a file left in the folder."""
    latest: dict[int, datetime] = {}
    for receipt in session.exec(
        select(WindowReceipt).where(
            WindowReceipt.window_id == window.id,
            col(WindowReceipt.current).is_(True),
            WindowReceipt.status == ACCEPTED,
        )
    ):
        latest[receipt.department_id] = in_shanghai(receipt.received_at)
    codes = {d.code: d.id for d in session.exec(select(Department)) if d.id is not None}
    by_scope = {_scope(window, code): department_id for code, department_id in codes.items()}
    for submission in session.exec(
        select(Submission).where(
            Submission.cycle_id == cycle.id, Submission.kind == window.form, col(Submission.current).is_(True)
        )
    ):
        department_id = by_scope.get(submission.scope)
        if department_id is None:
            continue
        at = in_shanghai(submission.received_at)
        if department_id not in latest or at > latest[department_id]:
            latest[department_id] = at
    return latest


def _arrive(entry: WindowEntry, window: CollectionWindow, at: datetime) -> None:
    opened = entry.returned_on if entry.status == RETURNED and entry.returned_on else window.opens_on
    entry.status = arrival_status(at.date(), entry.due_on, opened)
    entry.received_at = at


def record_arrivals(session: Session, cycle: Cycle, window: CollectionWindow) -> None:
    """Entries still owed whose department's form has come in (after the version sent back, if any).

    A form imported after its entry was closed as missing (the window closed first) is recorded too: the
    records say what was imported, late or, by its arrival, on time."""
    latest = _latest_arrivals(session, cycle, window)
    for department_id, entry in _entries(session, window).items():
        at = latest.get(department_id)
        if at is None:
            continue
        before = in_shanghai(entry.received_at) if entry.received_at else None
        if before is not None and at <= before:
            continue
        if (entry.status in OUTSTANDING and window.status == "open") or entry.status == MISSING:
            _arrive(entry, window, at)
        elif entry.status in ARRIVED:
            entry.received_at = at  # a voluntary new version: the status it earned stays
        else:
            continue
        session.add(entry)


def sync_returns(session: Session, cycle: Cycle, window: CollectionWindow) -> list[str]:
    """Targets sent back (退回修改) since they arrived: the department owes a new version by its own deadline.

    A window that had closed opens again for those departments only.
    """
    if window.form != "targets":
        return []
    returned = session.exec(
        select(Approval, Department)
        .join(Department, col(Department.code) == Approval.subject)
        .where(
            Approval.cycle_id == cycle.id,
            Approval.gate == "targets",
            Approval.level == 1,
            Approval.status == "returned",
        )
        .order_by(col(Department.code))
    ).all()
    if not returned:
        return []
    entries = _entries(session, window)
    days = cycle_policy(cycle).calendar.resubmission_days
    codes = []
    for approval, department in returned:
        entry = entries.get(department.id or 0)
        if entry is None or entry.status not in ARRIVED or approval.decided_at is None or entry.received_at is None:
            continue
        decided = in_shanghai(approval.decided_at)
        if in_shanghai(entry.received_at) > decided:
            continue  # the new version arrived after the return already
        entry.status = RETURNED
        entry.returned_on = decided.date()
        entry.due_on = resubmission_due(decided.date(), days)
        session.add(entry)
        codes.append(department.code)
        if window.status != "open":
            window.status = "open"
            window.closed_by = ""
            window.close_reason = ""
            window.finished_at = None
            session.add(window)
        audit.append(
            session,
            SYSTEM,
            "window.returned",
            _window_subject(cycle, window),
            {
                "year": cycle.year,
                "department": department.code,
                "returned_by": approval.decided_by,
                "comment": approval.comment,
                "resubmit_by": entry.due_on,
            },
        )
    session.flush()
    return codes


def reopen_returned_targets(session: Session, cycle: Cycle) -> list[str]:
    """Targets just sent back: the department owes a new version from now on (its reminders start at once)."""
    assert cycle.id is not None
    window = find_window(session, cycle.id, "target_setting")
    if window is None:
        return []
    session.flush()
    return sync_returns(session, cycle, window)


def returned_due(session: Session, cycle: Cycle, department_code: str) -> date | None:
    """The day a department whose targets were sent back must send them again (None: nothing owed)."""
    assert cycle.id is not None
    window = find_window(session, cycle.id, "target_setting")
    if window is None:
        return None
    entry = session.exec(
        select(WindowEntry)
        .join(Department, col(Department.id) == WindowEntry.department_id)
        .where(WindowEntry.window_id == window.id, Department.code == department_code)
    ).first()
    return entry.due_on if entry is not None and entry.status == RETURNED else None


# ---------------------------------------------------------------------------------------------- the folder


@dataclass(frozen=True)
class Refusal:
    """A department's form found in the folder and refused: what the department is told."""

    year: int
    stage: str
    title: str
    department: str
    name: str
    file: str
    path: str
    sha256: str
    version: int
    problems: tuple[str, ...]
    due_on: date
    new: bool = True  # first refused now (False: the same file, refused at an earlier run)
    window_open: bool = True  # a form may still be sent (the collection has not ended)


class _Taken:
    """A receipt of a form taken in, as the row `FolderIntake.write` inserts."""

    __slots__ = ("row",)
    status = ACCEPTED

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    @property
    def version(self) -> int:
        return int(self.row["version"])

    @property
    def sha256(self) -> str:
        return str(self.row["sha256"])

    @property
    def current(self) -> bool:
        return bool(self.row["current"])

    @current.setter
    def current(self, value: bool) -> None:
        self.row["current"] = value


class FolderIntake:
    """The forms a stage found in its folder, as receipts of its window: each imported one is a version of its
    department's receipts (unless `submit` filed it, which recorded it already), each refused one a refused
    version with its problems. What it reads is read once for all the stage's files; the caller writes the
    receipts taken in (`write`) and commits."""

    def __init__(self, session: Session, cycle: Cycle, window: CollectionWindow) -> None:
        self.session, self.cycle, self.window = session, cycle, window
        self.entries = _entries(session, window)
        self.departments = {d.code: d for d in session.exec(select(Department))}
        self.receipts: dict[int, list[WindowReceipt | _Taken]] = defaultdict(list)
        self.taken: list[_Taken] = []  # written by `write`
        self.folders: dict[str, str] = {}  # resolved, with a trailing separator, by `_resolved`
        for receipt in session.exec(
            select(WindowReceipt).where(WindowReceipt.window_id == window.id).order_by(col(WindowReceipt.version))
        ):
            self.receipts[receipt.department_id].append(receipt)

    def department(self, name: str, scope: str = "*") -> Department | None:
        """Whose form a file is: the department its rows name (`scope`), else the one it is named after
        (`<部门编码>.xlsx`, as `submit` files it); None when neither is a department that owes the form."""
        code = scope.rpartition(":")[2]  # a quarter's scope is "Q1:<code>"
        department = self.departments.get(code)
        if department is None or department.id not in self.entries:
            department = self.departments.get(Path(name).stem)
        return department if department is not None and department.id in self.entries else None

    def _add(self, department: Department, receipt: WindowReceipt | _Taken) -> None:
        assert department.id is not None
        self.receipts[department.id].append(receipt)
        if isinstance(receipt, _Taken):
            self.taken.append(receipt)  # written, with its entry's count of versions, by `write`
            return
        entry = self.entries[department.id]
        entry.versions = receipt.version
        self.session.add_all([receipt, entry])

    def _next(self, department: Department) -> tuple[int, WindowReceipt | _Taken | None]:
        """The next version's number, and the version current now."""
        receipts = self.receipts[department.id or 0]
        return (receipts[-1].version if receipts else 0) + 1, next((r for r in receipts if r.current), None)

    def take_in(self, department: Department, path: Path, *, sha256: str, rows: int, at: datetime) -> None:
        """An imported form: the department's current version from now on."""
        assert self.window.id is not None and department.id is not None
        version, current = self._next(department)
        if current is not None and current.sha256 == sha256:
            return
        if current is not None:
            current.current = False
            if isinstance(current, WindowReceipt):
                self.session.add(current)
        receipt = {
            "window_id": self.window.id,
            "department_id": department.id,
            "version": version,
            "source_name": path.name[:500],
            "path": self._resolved(path)[:1000],
            "sha256": sha256,
            "rows": rows,
            "current": True,
            "received_at": at,
            "replaces": current.version if current is not None else None,
        }
        self._add(department, _Taken(receipt))

    def _resolved(self, path: Path) -> str:
        """`str(path.resolve())`, with the stage's folder resolved once for all its files, not component by component
        for each (a file that is itself a link is resolved on its own)."""
        text = os.fspath(path)
        if os.path.islink(text):
            return str(path.resolve())
        parent, name = os.path.split(text)
        folder = self.folders.get(parent)
        if folder is None:
            folder = self.folders[parent] = os.path.join(str(Path(parent or ".").resolve()), "")
        return folder + name

    def write(self) -> None:
        """Write the receipts of the forms taken in (one statement for all of them, not an object each), and their
        entries' count of versions (taken in while a stage's files load, they leave nothing to flush meanwhile)."""
        taken, self.taken = self.taken, []
        for department_id in dict.fromkeys(receipt.row["department_id"] for receipt in taken):
            entry = self.entries[department_id]
            entry.versions = self.receipts[department_id][-1].version
            self.session.add(entry)
        insert_rows(self.session, WindowReceipt, [receipt.row for receipt in taken])

    def refuse(
        self, department: Department, path: Path, *, sha256: str, problems: Sequence[str], at: datetime
    ) -> Refusal:
        """A form that could not be imported: a refused version with its problems, audited, once per file (a file
        refused before is not recorded again). The department keeps owing the form: its entry's state stays."""
        cycle, window = self.cycle, self.window
        assert window.id is not None and department.id is not None
        earlier = next((r for r in self.receipts[department.id] if r.status == REFUSED and r.sha256 == sha256), None)
        version = earlier.version if earlier is not None else self._next(department)[0]
        if earlier is None:
            current = self._next(department)[1]
            receipt = WindowReceipt(
                window_id=window.id,
                department_id=department.id,
                version=version,
                source_name=path.name[:500],
                path=str(path.resolve())[:1000],
                sha256=sha256,
                rows=0,
                current=False,
                received_at=at,
                status=REFUSED,
                problems="\n".join(problems),
                replaces=current.version if current is not None else None,
            )
            self._add(department, receipt)
            audit.append(
                self.session,
                SYSTEM,
                "submission.refused",
                f"{_window_subject(cycle, window)}:{department.code}",
                {
                    "year": cycle.year,
                    "stage": window.stage,
                    "department": department.code,
                    "file": path.name,
                    "sha256": sha256,
                    "version": version,
                    "problems": list(problems),
                },
            )
        return Refusal(
            cycle.year,
            window.stage,
            window_title(cycle.year, window),
            department.code,
            department.name,
            path.name,
            str(path.resolve()),
            sha256,
            version,
            tuple(problems),
            self.entries[department.id].due_on,
            earlier is None,
            window.status == "open",
        )


def _close(
    session: Session,
    cycle: Cycle,
    window: CollectionWindow,
    by: str,
    reason: str,
    entries: Iterable[WindowEntry],
    entered_by: str = "",
) -> None:
    for entry in entries:
        if entry.status in OUTSTANDING:
            entry.status = MISSING
            session.add(entry)
    window.status = "closed"
    window.closed_by = by[:100]
    window.close_reason = reason
    window.finished_at = now()
    session.add(window)
    session.flush()
    summary = window_summary(session, window)
    payload: dict[str, object] = {
        "year": cycle.year,
        "reason": reason,
        "late": summary["late"],
        "missing": summary["missing"],
    }
    if entered_by:
        payload.update(entered_by=entered_by, on_behalf_of=by)
    audit.append(session, entered_by or by, "window.closed", _window_subject(cycle, window), payload)


def close_if_due(session: Session, cycle: Cycle, window: CollectionWindow, on: date | None = None) -> bool:
    """At a stage run: entries whose deadline passed are missing; the window closes when nothing is owed."""
    if window.status != "open":
        return False
    day = on or today()
    entries = list(_entries(session, window).values())
    if not should_close((EntryState(str(e.department_id), e.status, e.due_on) for e in entries), day):
        for entry in entries:
            status = status_after_deadline(entry.status, day, entry.due_on)
            if status != entry.status:
                entry.status = status
                session.add(entry)
        return False
    passed = any(e.status in OUTSTANDING for e in entries) or any(e.status == MISSING for e in entries)
    _close(session, cycle, window, SYSTEM, "deadline" if passed else "all_received", entries)
    return True


def coordinators(cycle: Cycle) -> tuple[str, ...]:
    """财政局绩效科: whoever may decide the first level of a gate in the cycle's policy."""
    policy = approvals_policy(cycle)
    names: dict[str, None] = {}
    for gate in policy.gates:
        rule = policy.level(gate, 1)
        if rule is not None:
            names.update(dict.fromkeys(rule.approvers))
    return tuple(names)


def close_by_coordinator(session: Session, year: int, stage: str, by: str, entered_by: str = "") -> CollectionWindow:
    """The coordinator ends a collection early; anyone else is refused, and the refusal is audited (committed).
    `entered_by`: who typed it in on `by`'s behalf (the administrator on the command line)."""
    by = " ".join((by or "").split())
    cycle = get_cycle_for(session, year)
    assert cycle.id is not None
    window = find_window(session, cycle.id, stage)
    allowed = coordinators(cycle)
    subject = f"window:{year}:{stage}"
    reason = ""
    if not by:
        reason = "必须写明操作人（--by 姓名）"
    elif by.casefold() not in {n.casefold() for n in allowed}:
        reason = f"{by} 不是财政局绩效科的审批人，不能截止收集（可操作：{'、'.join(allowed) or '策略未指定'}）"
    elif window is None:
        reason = f"{year}年度{COLUMN_NAMES[stage]}的收集尚未开始（该阶段还没有运行）"
    elif window.status != "open":
        reason = f"{window_title(year, window)}的收集已经截止，不能再次截止"
    if reason:
        payload: dict[str, object] = {"year": year, "reason": reason}
        if entered_by:
            payload.update(entered_by=entered_by, on_behalf_of=by)
        audit.append(session, entered_by or by or "(未署名)", "window.close_refused", subject, payload)
        session.commit()
        raise WindowError(reason)
    assert window is not None
    _close(session, cycle, window, by, "coordinator", _entries(session, window).values(), entered_by)
    return window


def _refused_last(session: Session, window_ids: Sequence[int | None]) -> set[tuple[int, int]]:
    """(window, department) pairs whose latest version came in but was refused."""
    latest: dict[tuple[int, int], WindowReceipt] = {}
    for receipt in session.exec(select(WindowReceipt).where(col(WindowReceipt.window_id).in_(list(window_ids)))):
        key = (receipt.window_id, receipt.department_id)
        if key not in latest or receipt.version > latest[key].version:
            latest[key] = receipt
    return {key for key, receipt in latest.items() if receipt.status == REFUSED}


def window_summary(session: Session, window: CollectionWindow) -> dict[str, Any]:
    """Who came in, who was late, who is missing or still owes the form: codes, in code order. `refused` are
    those of them still owing it whose last form could not be imported."""
    refused = _refused_last(session, [window.id])
    rows = session.exec(
        select(WindowEntry, Department)
        .join(Department, col(Department.id) == WindowEntry.department_id)
        .where(WindowEntry.window_id == window.id)
        .order_by(col(Department.code))
    ).all()
    by_status: dict[str, list[str]] = defaultdict(list)
    for entry, department in rows:
        by_status[entry.status].append(department.code)
    return {
        "form": window.form,
        "quarter": window.quarter,
        "due_on": window.due_on.isoformat(),
        "status": window.status,
        "close_reason": window.close_reason,
        "departments": len(rows),
        "received": len(by_status["received"]) + len(by_status["late"]),
        "late": by_status["late"],
        "missing": by_status["missing"],
        "pending": by_status[PENDING],
        "returned": by_status[RETURNED],
        "refused": [
            department.code
            for entry, department in rows
            if entry.status not in ARRIVED and (entry.window_id, entry.department_id) in refused
        ],
    }


# ---------------------------------------------------------------------------------------------- the matrix


def status_matrix(session: Session, cycle: Cycle, on: date | None = None) -> list[dict[str, str]]:
    """Departments × forms: 已提交 / 逾期提交 / 未提交 / 退回修改 / 待提交（截止 MM-DD）, — where nothing is owed yet."""
    day = on or today()
    windows = {w.id: w for w in session.exec(select(CollectionWindow).where(CollectionWindow.cycle_id == cycle.id))}
    cells: dict[tuple[int, str], str] = {}
    refused = _refused_last(session, list(windows))
    for entry in session.exec(select(WindowEntry).where(col(WindowEntry.window_id).in_(list(windows)))):
        window = windows[entry.window_id]
        was_refused = (entry.window_id, entry.department_id) in refused
        cells[(entry.department_id, window.stage)] = cell_label(entry.status, entry.due_on, was_refused)
    responses: dict[int, list[str]] = defaultdict(list)
    notices = session.exec(
        select(WarningNotice)
        .where(WarningNotice.cycle_id == cycle.id, WarningNotice.level == "red")
        .order_by(col(WarningNotice.quarter))
    )
    for notice in notices:
        status = response_status(notice.response_due, notice.responded_on, day)
        if status is not None:
            responses[notice.department_id].append(f"{notice.quarter} {cell_label(status, notice.response_due)}")
    matrix = []
    for department in owing_departments(session, cycle.year):
        assert department.id is not None
        row = {"部门编码": department.code, "部门": department.name}
        for stage, column in COLUMN_NAMES.items():
            row[column] = cells.get((department.id, stage), cell_label(None, None))
        row[RESPONSE_COLUMN] = "；".join(responses.get(department.id, [])) or cell_label(None, None)
        matrix.append(row)
    return matrix


# ---------------------------------------------------------------------------------------------- submit


@dataclass(frozen=True)
class Receipt:
    """What `perfcycle submit` tells the department."""

    title: str
    department: str
    version: int
    status: str
    due_on: date
    path: Path
    rows: int
    unchanged: bool = False
    replaces: int | None = None  # the version this one replaces
    replaced_status: str = ""  # what had become of it (returned: 退回修改)
    received_at: datetime | None = None  # when the version was received (Asia/Shanghai)
    source_name: str = ""  # the file's name as the department sent it
    sha256: str = ""  # the digest of the file's bytes: what a receipt proves was received
    submitted_by: str = ""


def file_sha256(path: Path) -> str:
    """The digest of a file's bytes (a receipt's, unlike a submission's digest of the cell values)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def submission_files(folder: Path) -> list[Path]:
    """The workbooks of a submissions folder, in a stable order (Office lock files skipped)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.xlsx") if not p.name.startswith(("~$", ".")))


def unread_files(session: Session, window: CollectionWindow) -> list[Path]:
    """Forms put in the window's folder that no run has imported or refused yet (no receipt has their bytes)."""
    if not window.folder:
        return []
    seen = set(session.exec(select(WindowReceipt.sha256).where(WindowReceipt.window_id == window.id)))
    return [p for p in submission_files(_form_folder(Path(window.folder), window)) if file_sha256(p) not in seen]


def _form_folders(window: CollectionWindow) -> tuple[str, ...]:
    folder = SUBMISSION_FOLDERS[window.form]
    return (folder, window.quarter) if window.quarter else (folder,)


def _form_folder(root: Path, window: CollectionWindow) -> Path:
    return root.joinpath(*_form_folders(window))


def _form_file(root: Path, window: CollectionWindow, code: str) -> Path:
    """Where a department's form is filed: `<root>/<form>[/<quarter>]/<code>.xlsx`, and never anywhere else."""
    return _inside(root, *_form_folders(window), f"{code}.xlsx")


def _history_folder(root: Path, window: CollectionWindow, code: str) -> Path:
    return _inside(root, "history", *_form_folders(window), code)


def _inside(folder: Path, *names: str) -> Path:
    from perfcycle.documents.naming import inside

    try:
        return inside(folder, *names)
    except ValueError as exc:
        raise WindowError(f"拒绝写入填报目录以外的位置：{exc}") from None


def _check_department(
    parsed: Any, department: Department, projects: dict[str, ProjectRef], others: dict[int, Department]
) -> list[Any]:
    """Every row is the department's own: its code, and projects of its own (a form for another's is refused).

    A file that is wholly another department's (a wrong file picked) is said once, not once per row."""
    from perfcycle.workbooks.formats import SPECS
    from perfcycle.workbooks.reader import ImportProblem

    spec = SPECS[parsed.kind]
    by_code = {d.code: d for d in others.values()}
    stated = _named(parsed, ("department_code",))
    if len(stated) == 1 and (code := stated.pop()) != department.code and code_problem(code) is None:
        owner = f"{code}（{by_code[code].name}）" if code in by_code else f"{code} "
        rows = sum(len(rows) for rows in parsed.sheets.values())
        return [
            ImportProblem(
                parsed.path.name,
                None,
                None,
                None,
                f"这是部门 {owner}的填报表（全部 {rows} 行的部门编码都是 {code}），"
                f"不能作为 {department.code}（{department.name}）的报送：请确认选择的是本部门的文件",
            )
        ]
    problems: list[Any] = []
    for sheet_name, rows in parsed.sheets.items():
        headers = {c.field: c.header for c in spec.sheet(sheet_name).columns}
        for row in rows:
            code = row.values.get("department_code")
            if code is not None and str(code) != department.code and code_problem(str(code)) is None:
                problems.append(
                    ImportProblem(
                        parsed.path.name,
                        sheet_name,
                        row.row,
                        headers.get("department_code"),
                        f"部门编码应为 {department.code}（{department.name}），不能报送部门 {code} 的数据",
                    )
                )
            for field_name in ("project_code", "evaluated_project_code"):
                project_code = row.values.get(field_name)
                project = projects.get(str(project_code)) if project_code is not None else None
                if project is not None and project.department_id != department.id:
                    owner = others[project.department_id].code if project.department_id in others else "?"
                    problems.append(
                        ImportProblem(
                            parsed.path.name,
                            sheet_name,
                            row.row,
                            headers.get(field_name),
                            f"项目 {project.code} 属于部门 {owner}，不是 {department.code}（{department.name}）的项目",
                        )
                    )
    return problems


def _named(parsed: Any, fields: tuple[str, ...]) -> set[str]:
    """Every value the form gives in `fields` (the codes it names)."""
    return {
        str(value)
        for rows in parsed.sheets.values()
        for row in rows
        for field_name in fields
        if (value := row.values.get(field_name)) is not None
    }


def _projects_named(session: Session, named: set[str], year: int, department: Department) -> dict[str, ProjectRef]:
    """The department's projects of the year and any other of the `named` codes (the checks need no more)."""
    params: dict[str, Any] = {"year": year, "department": department.id}
    if named:
        params["named"] = sorted(named)
    return {p.code: p for p in project_refs_of(session, _projects_named_query(bool(named)), params)}


@cache
def _projects_named_query(naming: bool) -> Any:
    """The query of `_projects_named`, built once (every upload runs it)."""
    mine = col(Project.department_id) == bindparam("department")
    wanted = or_(mine, col(Project.code).in_(bindparam("named", expanding=True))) if naming else mine
    return select(*PROJECT_REF_COLUMNS).where(col(Project.year) == bindparam("year"), wanted).order_by(Project.code)


#: The departments owning the projects a form names, or named in it (every upload reads them).
_DEPARTMENTS_NAMED = select(Department).where(
    or_(
        col(Department.id).in_(bindparam("ids", expanding=True)),
        col(Department.code).in_(bindparam("codes", expanding=True)),
    )
)


def _dry_run(session: Session, parsed: Any, year: int, quarter: str | None, read: LoadCache) -> None:
    """Every cross-reference the stage's import will check, as it checks them, with nothing written; `read` is
    what `_check_rows` read already."""
    from perfcycle.loaders import load

    load(session, parsed, year=year, quarter=quarter, check_only=True, cache=read)


def check_submitter(
    session: Session, cycle: Cycle, department: Department, stage: str, by: str, name: str, what: str = "填报表"
) -> None:
    """Only the department's contact or head submits its forms (or `what` it owes); a refusal is audited and
    committed first."""
    allowed = [n for n in (department.contact, department.head) if n and n.strip()]
    if by.casefold() in {n.strip().casefold() for n in allowed}:
        return
    reason = (
        f"{by or '（未署名）'} 不是{department.name}的填报联系人或负责人（{'、'.join(allowed) or '未登记'}），"
        f"不能报送该部门的{what}"
    )
    audit.append(
        session,
        by or "(未署名)",
        "submission.refused",
        f"submission:{cycle.year}:{stage}:{department.code}",
        {"year": cycle.year, "stage": stage, "department": department.code, "file": name, "reason": reason},
    )
    session.commit()
    raise WindowError(reason)


def read_form(year: int, stage: str, file: Path) -> Any:
    """A department's workbook read as the stage's form, within the year's limits (`ImportRejected` if it is
    not one); no record is read, so it needs no turn of the database."""
    from perfcycle.policy import import_limits
    from perfcycle.workbooks.reader import read_workbook

    return read_workbook(Path(file), STAGE_FORMS[stage][0], **import_limits(year).reader_limits())


@dataclass(frozen=True)
class _Sending:
    """Where a department's form of a stage would go: the year's cycle, still taking forms, the department,
    the stage's window and the department's entry in it (None before the window opens), and the department's
    targets gate of level 1 (a targets form's; None before the review)."""

    cycle: Cycle
    department: Department
    window: CollectionWindow | None
    entry: WindowEntry | None
    gate: Approval | None


@cache
def _sending_query(targets: bool) -> Any:
    """The query of `_sending`, built once: it is run twice an upload, and building it cost more than running it."""
    window_of = and_(col(CollectionWindow.cycle_id) == Cycle.id, col(CollectionWindow.stage) == bindparam("stage"))
    entry_of = and_(col(WindowEntry.window_id) == CollectionWindow.id, col(WindowEntry.department_id) == Department.id)
    query: Any = (
        select(Cycle, Department, CollectionWindow, WindowEntry)
        .select_from(Cycle)
        .join(Department, col(Department.code) == bindparam("code"))
        .outerjoin(CollectionWindow, window_of)
        .outerjoin(WindowEntry, entry_of)
    )
    if targets:
        gate_of = and_(
            col(Approval.cycle_id) == Cycle.id,
            col(Approval.gate) == "targets",
            col(Approval.subject) == Department.code,
            col(Approval.level) == 1,
        )
        query = query.add_columns(Approval).outerjoin(Approval, gate_of)
    return query.where(col(Cycle.year) == bindparam("year"))


def _sending(session: Session, year: int, department_code: str, stage: str) -> _Sending:
    """`_Sending`, read in one query: every upload of the deadline hour reads it twice (checks, then write)."""
    code = department_code.strip()
    targets = STAGE_FORMS[stage][0] == "targets"
    row = (
        session.exec(_sending_query(targets), params={"year": year, "code": code, "stage": stage}).first()
        if code_problem(code) is None
        else None
    )
    cycle = row[0] if row is not None and row[0].status != "historical" else get_cycle_for(session, year)
    if cycle.status != "open":
        raise WindowError(f"{year} 年度周期已结束，不再接收报送")
    if row is None:  # the cycle is there: the department is not, and the lookup says why
        get_department(session, code)
        raise WindowError(f"没有编码为 {code} 的部门（请先在基础数据中登记）")  # not reached
    department, window, entry = row[1:4]
    return _Sending(cycle, department, window, entry, row[4] if targets else None)


def check_submission(session: Session, *, year: int, stage: str, department_code: str, parsed: Any) -> None:
    """Everything `submit_form` checks that only reads: the form's rows and every cross-reference of the
    stage's import, and whether the department may still send it. The workbench runs it before taking the
    writers' turn, so that the turn is spent on writing alone (`submit_form(checked=True)`)."""
    sending = _sending(session, year, department_code, stage)
    read = _check_rows(session, parsed, sending.cycle, sending.department)
    if sending.window is None or not _returned(sending.gate):  # the write itself takes a return in
        _still_open(session, sending, stage, parsed)
    _dry_run(session, parsed, year, STAGE_FORMS[stage][1] or None, read)


def _check_rows(session: Session, parsed: Any, cycle: Cycle, department: Department) -> LoadCache:
    """Every row is the department's own and names codes that exist (`ImportRejected` lists every problem).

    Returns what was read for it, for the dry run of the stage's import to check against without reading it
    again."""
    from perfcycle.loaders import DepartmentRef, LoadCache, code_problems
    from perfcycle.workbooks.reader import ImportRejected

    year = cycle.year
    named = _named(parsed, ("project_code", "evaluated_project_code"))
    projects = _projects_named(session, named, year, department)
    if not any(p.department_id == department.id for p in projects.values()):
        raise WindowError(f"部门 {department.code}（{department.name}）在 {year} 年度没有项目，无需报送")
    owners = {p.department_id for p in projects.values()} | {department.id}
    stated = sorted(_named(parsed, ("department_code", "object_code")))
    departments = {
        d.id: d
        for d in session.exec(_DEPARTMENTS_NAMED, params={"ids": [i for i in owners if i is not None], "codes": stated})
        if d.id is not None
    }
    problems = code_problems(parsed) + _check_department(parsed, department, projects, departments)
    if problems:
        raise ImportRejected(problems)
    read = LoadCache(departments={d.code: DepartmentRef(i, d.code, d.name) for i, d in departments.items()})
    read.cycles[year] = cycle
    read.projects_named[year] = {code: projects.get(code) for code in named | projects.keys()}
    return read


def _returned(gate: Approval | None) -> bool:
    return gate is not None and gate.status == "returned"


def _still_open(session: Session, sending: _Sending, stage: str, parsed: Any) -> str:
    """The form's title, once it is certain the department may still send it: the window is open, its targets
    are not under review or approved, and a version sent back is not sent again unchanged."""
    cycle, department, window, entry, gate = (
        sending.cycle,
        sending.department,
        sending.window,
        sending.entry,
        sending.gate,
    )
    form, quarter = STAGE_FORMS[stage]
    title = f"{cycle.year}年{QUARTER_NAMES.get(quarter, '')}{FORM_NAMES[form]}"
    returned = entry is not None and entry.status == RETURNED
    if window is not None and window.status != "open":
        raise WindowError(
            f"{title}的收集已于 {in_shanghai(window.finished_at).date() if window.finished_at else window.due_on}"
            f" 截止（{CLOSE_REASONS.get(window.close_reason, window.close_reason)}），不再接收；如有特殊情况请联系财政局绩效科"
        )
    if gate is not None and gate.status in ("open", "approved") and not returned:
        state = "已审核通过" if gate.status == "approved" else f"正在审核（审批编号 {gate.id}）"
        raise WindowError(f"{department.name}的{title}{state}，不能再修改；如需修改请联系财政局绩效科退回")
    if returned:
        previous = session.exec(
            select(Submission).where(
                Submission.cycle_id == cycle.id,
                Submission.kind == form,
                Submission.scope == department.code,
                col(Submission.current).is_(True),
            )
        ).first()
        if previous is not None and previous.sha256 == parsed.content_digest:
            raise WindowError(f"{parsed.path.name} 与退回修改的版本内容相同：请按审核意见修改后再报送")
    return title


def submit_form(
    session: Session,
    *,
    year: int,
    stage: str,
    department_code: str,
    file: Path,
    by: str = "",
    root: Path | None = None,
    at: datetime | None = None,
    parsed: Any = None,
    checked: bool = False,
) -> Receipt:
    """Check a department's workbook, file it where the stage imports from, and record its receipt.

    A new version replaces the department's file; the earlier one moves to the history folder and stays
    recorded. Nothing is written when anything is wrong (`ImportRejected` or `WindowError`). `parsed` is the
    file as `read_form` read it, when the caller read it already; `checked` says `check_submission` passed
    on it, so only what another submission or decision can have changed since is checked again.
    """
    file = Path(file)
    if not file.is_file():
        raise WindowError(f"找不到文件 {file}")
    sending = _sending(session, year, department_code, stage)
    cycle, department, window, entry = sending.cycle, sending.department, sending.window, sending.entry
    assert cycle.id is not None and department.id is not None
    by = " ".join(by.split()) or department.contact
    check_submitter(session, cycle, department, stage, by, file.name)
    form, quarter = STAGE_FORMS[stage]
    parsed = parsed if parsed is not None else read_form(year, stage, file)
    read = _check_rows(session, parsed, cycle, department) if not checked else None
    if window is not None and _returned(sending.gate):  # sent back since it arrived: owed again from now on
        sync_returns(session, cycle, window)
    title = _still_open(session, sending, stage, parsed)
    if read is not None:
        _dry_run(session, parsed, year, quarter or None, read)

    if root is not None:  # a folder the department names becomes the one the cycle's runs read
        cycle.submissions_dir = str(root.resolve())
        session.add(cycle)
    root = root or (Path(r) if (r := submissions_root(session, cycle.id, None)) else None)
    if root is None:
        raise WindowError("不知道填报文件目录：请设置 PERFCYCLE_SUBMISSIONS_DIR，或用 --submissions 指定")
    folder = str(root.resolve())
    if window is None or entry is None:
        window = ensure_window(session, cycle, stage, folder=folder, on=(at or now()).date())
        sync_returns(session, cycle, window)
        entry = _entry(session, window, department.id)
    elif window.folder != folder:
        window.folder = folder
        session.add(window)
    assert window.id is not None and entry is not None
    received = in_shanghai(at) if at else now()
    sha = parsed.sha256 if parsed.path == file else file_sha256(file)
    receipts = list(session.exec(_RECEIPTS, params={"window": window.id, "department": department.id}))
    current = next((r for r in receipts if r.current), None)
    target = _form_file(root, window, department.code)
    if current is not None and current.sha256 == sha and entry.status != RETURNED and target.exists():
        return Receipt(
            title,
            department.name,
            current.version,
            entry.status,
            entry.due_on,
            target,
            parsed.rows,
            True,
            received_at=in_shanghai(current.received_at),
            source_name=current.source_name,
            sha256=current.sha256,
            submitted_by=current.submitted_by,
        )

    # File the new version: earlier files of the department go to its history folder first.
    stamp = received.strftime("%Y%m%d-%H%M%S")
    earlier_names = {target.name}
    earlier_names.update(
        Path(r.path).name for r in receipts if r.status == REFUSED and Path(r.path).parent == target.parent
    )
    earlier_names.update(
        session.exec(_SOURCE_NAMES, params={"cycle": cycle.id, "kind": form, "scope": _scope(window, department.code)})
    )
    moved: dict[str, Path] = {}
    for name in sorted(earlier_names):
        path = _inside(target.parent, name)
        if path.is_file() and path.suffix == ".xlsx":
            history = _history_folder(root, window, department.code)
            history.mkdir(parents=True, exist_ok=True)
            kept = _inside(history, f"{stamp}-{name}")
            os.replace(path, kept)
            moved[str(path.resolve())] = kept.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    shutil.copyfile(file, partial)
    os.utime(partial, (received.timestamp(), received.timestamp()))  # the file's time is its receipt's
    os.replace(partial, target)

    for receipt in receipts:
        if receipt.current or receipt.path in moved:
            receipt.current = False
            receipt.path = str(moved.get(receipt.path, receipt.path))
            session.add(receipt)
    version = (receipts[-1].version if receipts else 0) + 1
    source_name, submitted_by = file.name[:500], by[:100]
    replaces = current.version if current is not None else None
    insert_tuples(  # a row, not an object: the unit of work's bookkeeping cost more than the insert
        session,
        WindowReceipt,
        _RECEIPT_FIELDS,
        [(window.id, department.id, version, source_name, str(target.resolve()), sha, parsed.rows, submitted_by,
          received, replaces)],
    )  # fmt: skip
    replaced_status = RETURNED if entry.status == RETURNED else ""
    if entry.status in OUTSTANDING or entry.status == MISSING:
        _arrive(entry, window, received)
    else:
        entry.received_at = received
    entry.versions = version
    session.add(entry)
    audit.append(
        session,
        by or department.contact or department.code,
        "submission.received",
        f"{_window_subject(cycle, window)}:{department.code}",
        {
            "year": year,
            "stage": stage,
            "department": department.code,
            "file": file.name,
            "sha256": sha,
            "rows": parsed.rows,
            "version": version,
            "replaces": replaces,
            "status": entry.status,
            "due_on": entry.due_on,
            "replaced": sorted(str(p) for p in moved.values()),
        },
    )
    session.flush()
    return Receipt(
        title,
        department.name,
        version,
        entry.status,
        entry.due_on,
        target,
        parsed.rows,
        replaces=replaces,
        replaced_status=replaced_status,
        received_at=received,
        source_name=source_name,
        sha256=sha,
        submitted_by=submitted_by,
    )


# ---------------------------------------------------------------------------------------------- responses


def respond_to_warning(
    session: Session,
    *,
    year: int,
    quarter: str,
    department_code: str,
    cause: str,
    measures: str,
    by: str = "",
    at: datetime | None = None,
) -> tuple[WarningNotice, WarningResponse]:
    """A department's answer to its 预警通知书 (原因分析 + 整改措施); its reminders stop from then on."""
    cause, measures, by = cause.strip(), measures.strip(), " ".join(by.split())
    quarter = quarter.strip().upper()
    if quarter not in QUARTERS:
        raise WindowError(f"季度应为 {'、'.join(QUARTERS)} 之一，不是 {quarter!r}")
    if not cause or not measures:
        raise WindowError("预警整改反馈须同时写明原因分析（--cause）和整改措施（--measures）")
    cycle = get_cycle_for(session, year)
    department = get_department(session, department_code)
    by = by or department.contact
    check_submitter(session, cycle, department, f"warning_response_{quarter}", by, "", "预警整改反馈")
    notice = session.exec(
        select(WarningNotice).where(
            WarningNotice.cycle_id == cycle.id,
            WarningNotice.department_id == department.id,
            WarningNotice.quarter == quarter,
        )
    ).first()
    label = f"{year}年{QUARTER_NAMES[quarter]}"
    if notice is None:
        raise WindowError(f"{department.name}在{label}没有收到绩效监控预警通知书，无需反馈")
    if notice.level != "red" or notice.response_due is None:
        raise WindowError(f"{department.name}{label}收到的是黄灯提醒，不需要书面反馈整改情况")
    from perfcycle.findings import record_warning_answer, red_light_fixed

    if red_light_fixed(session, cycle, department, quarter):
        raise WindowError(f"{department.name}{label}红灯预警的整改已验证为已整改，无需再反馈")
    assert notice.id is not None
    received = in_shanghai(at) if at else now()
    response = session.exec(select(WarningResponse).where(WarningResponse.notice_id == notice.id)).first()
    previous = None
    if response is None:
        response = WarningResponse(notice_id=notice.id, cause=cause, measures=measures, responded_by=by[:100])
        response.received_at = received
    else:
        previous = {"cause": response.cause, "measures": response.measures, "responded_by": response.responded_by}
        response.cause, response.measures, response.responded_by = cause, measures, by[:100]
        response.versions += 1
        response.received_at = received
    if notice.responded_on is None:
        notice.responded_on = received.date()
    session.add_all([response, notice])
    audit.append(
        session,
        by or department.contact or department.code,
        "warning.responded",
        f"warning:{year}:{quarter}:{department.code}",
        {
            "year": year,
            "quarter": quarter,
            "department": department.code,
            "cause": cause,
            "measures": measures,
            "response_due": notice.response_due,
            "responded_on": notice.responded_on,
            "late": deadline_passed(notice.responded_on, notice.response_due),
            "previous": previous,
        },
    )
    session.flush()
    record_warning_answer(session, cycle, department, notice, response)
    return notice, response


def pending_entries(session: Session, cycle: Cycle) -> Sequence[tuple[CollectionWindow, WindowEntry, Department]]:
    """Every department that still owes a form of an open window (reminders read these)."""
    return session.exec(
        select(CollectionWindow, WindowEntry, Department)
        .join(WindowEntry, col(WindowEntry.window_id) == CollectionWindow.id)
        .join(Department, col(Department.id) == WindowEntry.department_id)
        .where(
            CollectionWindow.cycle_id == cycle.id,
            CollectionWindow.status == "open",
            col(WindowEntry.status).in_(OUTSTANDING),
        )
        .order_by(col(CollectionWindow.id), col(Department.code))
    ).all()

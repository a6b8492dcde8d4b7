"""Where a year's cycle stands, in the words a coordinator uses: a read of the records, nothing recomputed.

`cycle_standing` gathers, for `perfcycle status` and for every stop of a run, what a coordinator asks:
each stage's state and dates, the gates waiting for a decision with the figures they decide on, the
departments (by name) that still owe a form and until when, the red and yellow departments of the latest
quarter with their responses, and the command that moves each of these on. Every figure is read from the
record or the stage summary that holds it (the stages wrote them); nothing here writes to the database.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from models import (
    Cycle,
    Department,
    DepartmentLight,
    StageState,
    WarningNotice,
    now,
)
from models.tables import SHANGHAI
from perfcycle import approvals, collecting
from perfcycle.approvals import GATE_NAMES, GATE_STAGES, in_shanghai, list_open
from perfcycle.collecting import (
    CLOSE_REASONS,
    STAGE_FORMS,
    find_window,
    get_cycle_for,
    pending_entries,
    status_matrix,
    window_summary,
    window_title,
)
from perfcycle.gate_figures import GateFigures, gate_figures
from perfcycle.rules.deadlines import RETURNED, cell_label, deadline_passed, response_status
from perfcycle.rules.lights import LIGHT_LABELS
from perfcycle.stages import QUARTERS, STAGES

NOT_STARTED, RUNNING, DONE = "未开始", "进行中", "已完成"
AWAITING_DECISION, AWAITING_FORMS, AWAITING_BOTH = "等待审批", "等待报送", "等待报送和审批"
READY = "待继续运行"  # its decisions and forms are in: the next run goes on
WAITING_STATES = (AWAITING_DECISION, AWAITING_FORMS, AWAITING_BOTH, READY)

#: How `perfcycle submit` and `close-window` name each collecting stage (as the README does).
STAGE_OPTIONS = {
    "target_setting": "--stage targets",
    **{f"monitoring_{q}": f"--stage monitoring --quarter {q}" for q in QUARTERS},
    "self_evaluation": "--stage self_evaluation",
}


@dataclass(frozen=True)
class StageLine:
    """One stage of the timeline: its state, when it started and finished, and what it waits for."""

    stage: str
    name: str
    state: str
    started_on: date | None
    finished_on: date | None
    due_on: date | None  # the department form's deadline, for a stage that collects one
    note: str = ""


@dataclass(frozen=True)
class GateSubject:
    """One gate of a group decided per department (the targets): its number and the department."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class GateGroup:
    """The open gates of one kind and level (every department's targets form one group)."""

    year: int
    gate: str
    name: str
    level: int
    stage: str
    title: str  # the year, the gate, its level and how many departments: 2024年度绩效目标第1级审批（53 个部门）
    ids: tuple[int, ...]
    subjects: tuple[GateSubject, ...]
    opened_at: datetime
    due_at: datetime | None
    overdue: int
    approvers: tuple[str, ...]
    figures: tuple[str, ...]
    lists: tuple[tuple[str, tuple[str, ...]], ...]
    commands: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.name}第{self.level}级审批"


@dataclass(frozen=True)
class OwedForm:
    """A department that still owes a form of an open window."""

    stage: str
    title: str
    code: str
    name: str
    due_on: date
    returned: bool
    overdue: bool
    command: str


@dataclass(frozen=True)
class FormCount:
    """One form across the departments: how many are in, late, missing, and who still owes it."""

    stage: str
    title: str
    due_on: date
    open: bool
    close_reason: str
    departments: int
    received: int
    late: tuple[str, ...]
    missing: tuple[str, ...]
    owing: tuple[str, ...]
    command: str
    close_command: str


@dataclass(frozen=True)
class LightLine:
    """A red or yellow department of the latest quarter, and its 预警整改 response when one is owed."""

    quarter: str
    code: str
    name: str
    light: str
    execution_progress: Decimal | None
    target_progress: Decimal | None
    response_due: date | None
    response: str | None
    command: str


@dataclass(frozen=True)
class Standing:
    """Where the year's cycle stands (see the module's docstring)."""

    year: int
    budget_year: int
    status: str
    on: date
    stages: tuple[StageLine, ...]
    gates: tuple[GateGroup, ...]
    owed: tuple[OwedForm, ...]
    forms: tuple[FormCount, ...]
    lights_quarter: str | None
    lights: tuple[LightLine, ...]
    matrix: list[dict[str, str]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def stopped_at(self) -> tuple[StageLine, ...]:
        """The stages that wait: for a decision, for forms, or only for the next run."""
        return tuple(s for s in self.stages if s.state in WAITING_STATES)

    def next_steps(self) -> list[str]:
        """The commands that move the cycle on, most urgent first."""
        steps = [c for g in self.gates for c in g.commands[:1]]
        steps += [f.command for f in self.forms if f.open and f.owing]
        steps += sorted({line.command for line in self.lights if line.command})
        if not self.done and not steps:
            steps.append(run_command(self.year))
        return steps

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stopped_at"] = [s.stage for s in self.stopped_at]
        data["next_steps"] = self.next_steps()
        return json.loads(json.dumps(data, ensure_ascii=False, default=_plain))


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return str(value)


def run_command(year: int) -> str:
    return f"perfcycle run --year {year}"


def id_args(ids: Sequence[int]) -> str:
    """Approval numbers as `perfcycle approve` takes them, runs written as ranges: `1 3-32`."""
    runs: list[list[int]] = []
    for number in sorted(ids):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return " ".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def approve_command(ids: Sequence[int], approvers: Sequence[str]) -> str:
    by = approvers[0] if len(approvers) == 1 else "<审批人>"
    return f"perfcycle approve {id_args(ids)} --by {by}"


# ---------------------------------------------------------------------------------------------- gates


def stage_summaries(session: Session, cycle_id: int) -> dict[str, dict[str, Any]]:
    """Each stage's recorded state and summary, as the stage wrote them."""
    rows = session.exec(select(StageState).where(StageState.cycle_id == cycle_id))
    return {r.stage: {"status": r.status, **json.loads(r.summary_json or "{}")} for r in rows}


def _names(session: Session) -> dict[str, str]:
    return {d.code: d.name for d in session.exec(select(Department))}


def gate_group(
    session: Session, cycle: Cycle, group: approvals.GateGroup, on: datetime, figures: GateFigures | None = None
) -> GateGroup:
    """An open gate group as the coordinator reads it, with the figures it decides on (`perfcycle.gate_figures`,
    or those already read for it)."""
    members = group.gates
    ids = tuple(group.ids)
    approvers = tuple(dict.fromkeys(a for g in members for a in g.approvers))
    dues = [g.due_at for g in members if g.due_at is not None]
    subjects = tuple(
        GateSubject(g.id, g.subject, group.names.get(g.subject, g.subject)) for g in members if g.subject != "*"
    )
    figures = figures or gate_figures(session, cycle, group)
    commands = [approve_command(ids, approvers)]
    by = approvers[0] if len(approvers) == 1 else "<审批人>"
    if group.gate == "targets":
        commands.append(f'perfcycle return <编号> --by {by} --comment "退回意见"')
    elif group.gate == "budget_table":
        commands.append(f'perfcycle approve {ids[0]} --by {by} --override 项目编码=金额(万元):"理由"')
    return GateGroup(
        year=cycle.year,
        gate=group.gate,
        name=GATE_NAMES.get(group.gate, group.gate),
        level=group.level,
        stage=GATE_STAGES.get(group.gate, ""),
        title=group.label,
        ids=ids,
        subjects=subjects,
        opened_at=min(g.opened_at for g in members),
        due_at=min(dues) if dues else None,
        overdue=sum(1 for g in members if g.overdue(on)),
        approvers=approvers,
        figures=tuple(figures.lines),
        lists=tuple((label, tuple(items)) for label, items in figures.lists),
        commands=tuple(commands),
    )


def gate_groups(session: Session, year: int | None = None, at: datetime | None = None) -> list[GateGroup]:
    """The gates waiting for a decision (of one cycle year, or of all), by kind and level, oldest first."""
    years = [year] if year is not None else sorted({gate.year for gate in list_open(session)})
    groups = []
    for cycle_year in years:
        cycle = get_cycle_for(session, cycle_year)
        groups += [gate_group(session, cycle, g, at or now()) for g in approvals.open_groups(session, cycle_year)]
    return groups


# ---------------------------------------------------------------------------------------------- forms


def submit_command(year: int, stage: str, code: str = "<部门编码>") -> str:
    return f"perfcycle submit <文件.xlsx> --year {year} {STAGE_OPTIONS[stage]} --department {code}"


def close_command(year: int, stage: str) -> str:
    return f"perfcycle close-window --year {year} {STAGE_OPTIONS[stage]} --by <绩效科经办人>"


def _owed(session: Session, cycle: Cycle, day: date) -> list[OwedForm]:
    owed = []
    for window, entry, department in pending_entries(session, cycle):
        owed.append(
            OwedForm(
                stage=window.stage,
                title=window_title(cycle.year, window),
                code=department.code,
                name=department.name,
                due_on=entry.due_on,
                returned=entry.status == RETURNED,
                overdue=deadline_passed(day, entry.due_on),
                command=submit_command(cycle.year, window.stage, department.code),
            )
        )
    return owed


def _forms(session: Session, cycle: Cycle) -> list[FormCount]:
    assert cycle.id is not None
    names = _names(session)
    counts = []
    for stage in STAGE_FORMS:
        window = find_window(session, cycle.id, stage)
        if window is None:
            continue
        summary = window_summary(session, window)
        counts.append(
            FormCount(
                stage=stage,
                title=window_title(cycle.year, window),
                due_on=window.due_on,
                open=window.status == "open",
                close_reason=CLOSE_REASONS.get(window.close_reason, window.close_reason),
                departments=summary["departments"],
                received=summary["received"],
                late=tuple(names.get(c, c) for c in summary["late"]),
                missing=tuple(names.get(c, c) for c in summary["missing"]),
                owing=tuple(names.get(c, c) for c in summary["pending"] + summary["returned"]),
                command=submit_command(cycle.year, stage),
                close_command=close_command(cycle.year, stage),
            )
        )
    return counts


# ---------------------------------------------------------------------------------------------- lights


def _lights(session: Session, cycle: Cycle, day: date) -> tuple[str | None, list[LightLine]]:
    """The red and yellow departments of the latest quarter whose lights were computed."""
    quarters = set(session.exec(select(DepartmentLight.quarter).where(DepartmentLight.cycle_id == cycle.id)))
    if not quarters:
        return None, []
    quarter = max(quarters, key=QUARTERS.index)
    notices = {
        n.department_id: n
        for n in session.exec(
            select(WarningNotice).where(WarningNotice.cycle_id == cycle.id, WarningNotice.quarter == quarter)
        )
    }
    rows = session.exec(
        select(DepartmentLight, Department)
        .join(Department, col(Department.id) == DepartmentLight.department_id)
        .where(
            DepartmentLight.cycle_id == cycle.id,
            DepartmentLight.quarter == quarter,
            col(DepartmentLight.light).in_(("red", "yellow")),
        )
        .order_by(col(DepartmentLight.light), col(Department.code))
    ).all()
    lines = []
    for light, department in rows:
        notice = notices.get(department.id or 0)
        due = notice.response_due if notice is not None else None
        status = response_status(due, notice.responded_on, day) if notice is not None else None
        owes = status in ("pending", "missing")
        lines.append(
            LightLine(
                quarter=quarter,
                code=department.code,
                name=department.name,
                light=LIGHT_LABELS.get(light.light, light.light),
                execution_progress=light.execution_progress,
                target_progress=light.target_progress,
                response_due=due,
                response=cell_label(status, due) if status is not None else None,
                command=(
                    f"perfcycle respond --year {cycle.year} --quarter {quarter} --department {department.code} "
                    '--cause "原因分析" --measures "整改措施"'
                )
                if owes
                else "",
            )
        )
    return quarter, lines


# ---------------------------------------------------------------------------------------------- stages


def _stage_lines(
    cycle: Cycle,
    states: dict[str, StageState],
    gates: list[GateGroup],
    forms: list[FormCount],
    due_dates: dict[str, date],
) -> list[StageLine]:
    gate_names = defaultdict(list)
    for group in gates:
        gate_names[group.stage].append(f"{group.label}（{len(group.ids)} 项）" if len(group.ids) > 1 else group.label)
    owing = {f.stage: f for f in forms if f.open and f.owing}
    lines = []
    for stage, name in STAGES:
        row = states.get(stage)
        status = row.status if row is not None else "pending"
        notes: list[str] = []
        if stage in owing:
            form = owing[stage]
            notes.append(f"等待 {len(form.owing)} 个部门报送（截止 {form.due_on:%Y-%m-%d}）")
        if gate_names.get(stage):
            notes.append("、".join(gate_names[stage]))
        if status == "done" or cycle.status == "done":
            state = DONE
        elif stage in owing and gate_names.get(stage):
            state = AWAITING_BOTH
        elif stage in owing:
            state = AWAITING_FORMS
        elif gate_names.get(stage):
            state = AWAITING_DECISION
        elif status == "waiting":
            state = READY
            notes.append(f"决定或报送已齐，{run_command(cycle.year)} 继续")
        elif status == "running":
            state = RUNNING
        else:
            state = NOT_STARTED
        started = in_shanghai(row.started_at).date() if row is not None and row.started_at else None
        finished = (
            in_shanghai(row.finished_at).date() if row is not None and row.finished_at and state == DONE else None
        )
        lines.append(StageLine(stage, name, state, started, finished, due_dates.get(stage), "；".join(notes)))
    return lines


def stage_runs(session: Session, year: int) -> dict[str, tuple[str, str]]:
    """The Prefect flow run (id, name) that last ran each stage of the year's cycle (the timeline links to it)."""
    cycle = session.exec(select(Cycle).where(Cycle.year == year, Cycle.status != "historical")).first()
    if cycle is None:
        return {}
    return {
        row.stage: (row.flow_run_id, row.flow_run_name)
        for row in session.exec(select(StageState).where(StageState.cycle_id == cycle.id))
        if row.flow_run_id
    }


def _due_dates(session: Session, cycle: Cycle) -> dict[str, date]:
    """Each collecting stage's form deadline: the window's once open, else the calendar's."""
    from perfcycle.cycle_context import cycle_policy

    assert cycle.id is not None
    policy = cycle_policy(cycle)
    dates = {}
    for stage, (form, quarter) in STAGE_FORMS.items():
        window = find_window(session, cycle.id, stage)
        dates[stage] = (
            window.due_on if window is not None else policy.calendar.deadline(form, quarter or None, cycle.year)
        )
    return dates


def cycle_standing(session: Session, year: int, on: date | None = None, *, matrix: bool = True) -> Standing:
    """Where the year's cycle stands on the day `on` (today in Asia/Shanghai by default)."""
    cycle = get_cycle_for(session, year)
    assert cycle.id is not None
    day = on or collecting.today()
    moment = now() if on is None else datetime.combine(on, time.max, tzinfo=SHANGHAI)
    gates = gate_groups(session, year, moment)
    forms = _forms(session, cycle)
    states = {s.stage: s for s in session.exec(select(StageState).where(StageState.cycle_id == cycle.id))}
    quarter, lights = _lights(session, cycle, day)
    return Standing(
        year=cycle.year,
        budget_year=cycle.budget_year,
        status=cycle.status,
        on=day,
        stages=tuple(_stage_lines(cycle, states, gates, forms, _due_dates(session, cycle))),
        gates=tuple(gates),
        owed=tuple(_owed(session, cycle, day)),
        forms=tuple(forms),
        lights_quarter=quarter,
        lights=tuple(lights),
        matrix=status_matrix(session, cycle, day) if matrix else [],
    )

"""What a run that stops waits for: one line in its log, and the name of the state it ends in."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.runtime import deployment
from prefect.states import Completed
from sqlmodel import Session, col, select

from models import Department, StageState, session_scope
from models.tables import WindowEntry
from perfcycle.approvals import GATE_STAGES, GateGroup, open_groups
from perfcycle.rules.windows import OUTSTANDING, RETURNED
from perfcycle.stages import STAGE_NAMES
from perfcycle.standing import approve_command
from perfcycle.windows import FORM_NAMES, find_window, window_title
from tasks.common import get_cycle, run_logger

WAITING_FOR_DECISION = "等待审批"
WAITING_FOR_FORMS = "等待报送"
#: A stage's command-line name for `perfcycle submit` / `close-window`.
SUBMIT_STAGES = {"target_setting": "targets", "self_evaluation": "self_evaluation"}


def gate_group_line(group: GateGroup, on_server: bool) -> str:
    """等待审批：the group, its departments, who may decide it and the command (or, on a server, the form)."""
    subjects = [g.subject for g in group.gates if g.subject != "*"]
    owners = f"：{'、'.join(group.names.get(s, s) for s in subjects)}" if len(subjects) > 1 else ""
    approvers = "、".join(group.gates[0].approvers) or "（策略未指定）"
    command = approve_command(group.ids, ())
    how = (
        f"在 Prefect 界面中答复该运行的审批表单（Resume），或运行 {command}"
        if on_server
        else f"运行 {command} --resume 记录决定并继续周期"
    )
    return (
        f"{WAITING_FOR_DECISION}：{group.label}{owners}；可审批人：{approvers}；{how}"
        f"（退回修改用 perfcycle return，编号见 perfcycle approvals --year {group.year}）"
    )


def _forms_line(session: Session, year: int, cycle_id: int, stage: str) -> str | None:
    window = find_window(session, cycle_id, stage)
    if window is None or window.status != "open":
        return None
    owed = session.exec(
        select(WindowEntry, Department)
        .join(Department, col(Department.id) == WindowEntry.department_id)
        .where(WindowEntry.window_id == window.id, col(WindowEntry.status).in_(OUTSTANDING))
        .order_by(col(Department.code))
    ).all()
    if not owed:
        return None
    names = [f"{d.name}（退回修改，{e.due_on:%Y-%m-%d} 前重报）" if e.status == RETURNED else d.name for e, d in owed]
    pending = [e for e, _ in owed if e.status != RETURNED]
    due = f"，截止 {window.due_on:%Y-%m-%d}" if pending else ""
    stage_option = SUBMIT_STAGES.get(stage) or f"monitoring --quarter {window.quarter}"
    return (
        f"{WAITING_FOR_FORMS}：{window_title(year, window)}{due}，尚未报送 {len(owed)} 个部门：{'、'.join(names)}；"
        f"部门报送 perfcycle submit 文件 --year {year} --stage {stage_option} --department 编码"
        f"（或把{FORM_NAMES[window.form]}放入填报目录）后，再运行 perfcycle run --year {year} 继续；"
        f"绩效科可提前截止：perfcycle close-window --year {year} --stage {stage_option} --by 姓名"
    )


@task(name="explain-waiting")
def explain_waiting(cycle_id: int, stage: str | None = None, on_server: bool = False) -> dict[str, str]:
    """What the stage (or, without one, every waiting stage of the cycle) waits for: the name of the state
    (等待审批 when a gate is open, else 等待报送) and a line naming the gates or forms, who owes them and
    what moves the cycle on."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        assert cycle.id is not None
        stages = (
            [stage]
            if stage
            else list(
                session.exec(
                    select(StageState.stage).where(StageState.cycle_id == cycle_id, StageState.status == "waiting")
                )
            )
        )
        groups = [g for g in open_groups(session, cycle.year) if GATE_STAGES.get(g.gate) in stages]
        gate_lines = [gate_group_line(g, on_server) for g in groups]
        form_lines = [line for s in stages if (line := _forms_line(session, cycle.year, cycle.id, s))]
    if gate_lines or form_lines:
        name = WAITING_FOR_DECISION if gate_lines else WAITING_FOR_FORMS
        return {"name": name, "message": "\n".join(gate_lines + form_lines)}
    where = "、".join(STAGE_NAMES.get(s, s) for s in stages) or "年度周期"
    return {"name": "等待", "message": f"{where}尚未完成：再次运行 perfcycle run --year {cycle.year} 继续"}


def end_waiting(cycle_id: int, stage: str | None, result: dict[str, Any]) -> Any:
    """End the run Completed under a name that says what it waits for, and say it once in its log.

    The caller of the flow still gets `result`: Prefect hands it the state's data."""
    wait = explain_waiting(cycle_id, stage, on_server=deployment.id is not None)
    logger = run_logger()
    for line in wait["message"].splitlines():
        logger.warning(line)  # a stop that needs a person: shown even where runs log warnings only
    return Completed(data=result, name=wait["name"], message=wait["message"])

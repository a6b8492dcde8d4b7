"""What a run that stops waits for: one line in its log, and the name of the state it ends in.

Where the cycle stands is `perfcycle.standing.cycle_standing`, which `perfcycle status` and a command's stop
read too; here it is said the way a run's log and its state say it, one line per gate group or form.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.runtime import deployment
from prefect.states import Completed

from models import session_scope
from perfcycle.collecting import FORM_NAMES, STAGE_FORMS
from perfcycle.stages import STAGE_NAMES
from perfcycle.standing import FormCount, GateGroup, OwedForm, cycle_standing, run_command
from tasks.common import get_cycle, run_logger

WAITING_FOR_DECISION = "等待审批"
WAITING_FOR_FORMS = "等待报送"


def gate_group_line(group: GateGroup, on_server: bool) -> str:
    """等待审批：the group, its departments, who may decide it and the command (or, on a server, the form)."""
    owners = f"：{'、'.join(s.name for s in group.subjects)}" if len(group.subjects) > 1 else ""
    approvers = "、".join(group.approvers) or "（策略未指定）"
    command = group.commands[0]
    how = (
        f"在 Prefect 界面中答复该运行的审批表单（Resume），或运行 {command}"
        if on_server
        else f"运行 {command} --resume 记录决定并继续周期"
    )
    return (
        f"{WAITING_FOR_DECISION}：{group.title}{owners}；可审批人：{approvers}；{how}"
        f"（退回修改用 perfcycle return，编号见 perfcycle approvals --year {group.year}）"
    )


def forms_line(year: int, form: FormCount, owed: list[OwedForm]) -> str:
    """等待报送：the form, its deadline, the departments that owe it (by name) and the commands that move it on."""
    names = [f"{o.name}（退回修改，{o.due_on:%Y-%m-%d} 前重报）" if o.returned else o.name for o in owed]
    due = f"，截止 {form.due_on:%Y-%m-%d}" if any(not o.returned for o in owed) else ""
    return (
        f"{WAITING_FOR_FORMS}：{form.title}{due}，尚未报送 {len(owed)} 个部门：{'、'.join(names)}；"
        f"部门报送 {form.command}（或把{FORM_NAMES[STAGE_FORMS[form.stage][0]]}放入填报目录）后，"
        f"再运行 {run_command(year)} 继续；绩效科可提前截止：{form.close_command}"
    )


@task(name="explain-waiting")
def explain_waiting(cycle_id: int, stage: str | None = None, on_server: bool = False) -> dict[str, str]:
    """What the stage (or, without one, every waiting stage of the cycle) waits for: the name of the state
    (等待审批 when a gate is open, else 等待报送) and a line naming the gates or forms, who owes them and
    what moves the cycle on."""
    with session_scope() as session:
        year = get_cycle(session, cycle_id).year
        standing = cycle_standing(session, year, matrix=False)
    stages = [stage] if stage else [s.stage for s in standing.stopped_at]
    gate_lines = [gate_group_line(g, on_server) for g in standing.gates if g.stage in stages]
    forms = {f.stage: f for f in standing.forms}
    form_lines = [
        forms_line(year, forms[s], owed)
        for s in stages
        if s in forms and (owed := [o for o in standing.owed if o.stage == s])
    ]
    if gate_lines or form_lines:
        name = WAITING_FOR_DECISION if gate_lines else WAITING_FOR_FORMS
        return {"name": name, "message": "\n".join(gate_lines + form_lines)}
    where = "、".join(STAGE_NAMES.get(s, s) for s in stages) or "年度周期"
    return {"name": "等待", "message": f"{where}尚未完成：再次运行 {run_command(year)} 继续"}


def end_waiting(cycle_id: int, stage: str | None, result: dict[str, Any]) -> Any:
    """End the run Completed under a name that says what it waits for, and say it once in its log.

    The caller of the flow still gets `result`: Prefect hands it the state's data."""
    wait = explain_waiting(cycle_id, stage, on_server=deployment.id is not None)
    logger = run_logger()
    for line in wait["message"].splitlines():
        logger.warning(line)  # a stop that needs a person: shown even where runs log warnings only
    return Completed(data=result, name=wait["name"], message=wait["message"])

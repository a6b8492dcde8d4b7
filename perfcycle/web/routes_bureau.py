"""The coordinator's and the leader's worklist: where the year stands, who owes which form, the open gates as
a person decides them, closing a collection and letting the cycle go on.

Decisions go through `perfcycle.approvals.decide` under the signed-in person's name, one gate per
transaction (as the command line does), so a refused row never undoes the accepted ones; verifications of
findings through `perfcycle.findings.verify_finding`, as `perfcycle findings verify` does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from models import session_scope
from perfcycle.accounts import Identity
from perfcycle.approvals import DECISION_NAMES, BudgetOverride, DecisionRefused, decide, open_groups
from perfcycle.collecting import STAGE_FORMS, WindowError, get_cycle_for
from perfcycle.web.app import render
from perfcycle.web.routes_department import year_of
from perfcycle.web.security import Refused, check_form, refuse, signed_in

router = APIRouter()
OVERRIDE_ROWS = 5


def bureau_only(request: Request) -> Identity:
    identity = signed_in(request)
    if not identity.bureau:
        raise refuse(request, identity, "not_bureau", "只有财政局绩效科和分管领导可以查看")
    return identity


def bureau_page(request: Request, identity: Identity, status: int = 200, **result: Any) -> Response:
    from perfcycle.background import running
    from perfcycle.orchestration import RunRef
    from perfcycle.standing import cycle_standing, stage_runs

    year = year_of(request)
    if year is None:
        return render(request, "bureau.html", identity, status, standing=None, result=result, running=None, runs={})
    with session_scope() as session:
        standing = cycle_standing(session, year, matrix=False)
        holder = running(session, year)
        runs = {stage: RunRef(*run) for stage, run in stage_runs(session, year).items()}
    return render(request, "bureau.html", identity, status, standing=standing, result=result, running=holder, runs=runs)


@router.get("/matrix")
def matrix(request: Request) -> Response:
    """Every department × form, as `perfcycle status --matrix` shows it."""
    return matrix_page(request, bureau_only(request))


def matrix_page(request: Request, identity: Identity, status: int = 200, **result: Any) -> Response:
    from perfcycle.collecting import status_matrix

    year = year_of(request)
    rows: list[dict[str, str]] = []
    if year is not None:
        with session_scope() as session:
            rows = status_matrix(session, get_cycle_for(session, year))
    columns = list(rows[0]) if rows else []
    return render(request, "matrix.html", identity, status, year=year, rows=rows, columns=columns, result=result)


@router.get("/departments/{code}")
def department(request: Request, code: str) -> Response:
    """A department's worklist as the bureau sees it (read only)."""
    from sqlmodel import select

    from models import Department
    from perfcycle.worklist import department_work

    identity = bureau_only(request)
    year = year_of(request)
    with session_scope() as session:
        found = session.exec(select(Department).where(Department.code == code)).first()
        work = department_work(session, year, found.id) if found is not None and found.id and year else None
    if work is None:
        raise Refused("没有这个部门", 404)
    return render(request, "department.html", identity, work=work, result={}, read_only=True)


@router.get("/decisions")
def decisions(request: Request) -> Response:
    """The year's decided gates: who decided, and who typed a decision in on whose behalf."""
    from perfcycle.approvals import decision_history

    identity = bureau_only(request)
    year = year_of(request)
    with session_scope() as session:
        decided = decision_history(session, year) if year is not None else []
    return render(request, "decisions.html", identity, year=year, decided=decided)


def _group(year: int, gate: str, level: int) -> Any:
    with session_scope() as session:
        for group in open_groups(session, year):
            if group.gate == gate and group.level == level:
                cycle = get_cycle_for(session, year)
                from perfcycle.gate_figures import gate_figures

                return group, gate_figures(session, cycle, group)
    return None, None


@router.get("/gates/{gate}/{level}")
def gate_view(request: Request, gate: str, level: int) -> Response:
    return gate_page(request, bureau_only(request), gate, level)


def gate_page(
    request: Request, identity: Identity, gate: str, level: int, status: int = 200, outcomes: Any = None
) -> Response:
    year = year_of(request)
    group, figures = _group(year, gate, level) if year is not None else (None, None)
    return render(
        request,
        "gate.html",
        identity,
        status,
        year=year,
        gate=gate,
        level=level,
        group=group,
        figures=figures,
        outcomes=outcomes or [],
        decisions=DECISION_NAMES,
        override_rows=OVERRIDE_ROWS,
    )


def _overrides(form: FormData) -> list[BudgetOverride]:
    overrides = []
    for row in range(OVERRIDE_ROWS):
        code, amount, reason = (str(form.get(f"override_{k}_{row}", "")).strip() for k in ("code", "amount", "reason"))
        if code or amount or reason:
            overrides.append(BudgetOverride(code, amount, reason))
    return overrides


@router.post("/gates/{gate}/{level}")
async def decide_gate(request: Request, gate: str, level: int) -> Response:
    """Each gate of the group decided as its row says (or as the whole group's decision), one at a time."""
    identity = bureau_only(request)
    form = await request.form(max_files=0, max_fields=400)
    check_form(request, identity, form)
    year = year_of(request)
    group, _ = _group(year, gate, level) if year is not None else (None, None)
    if group is None:
        return gate_page(request, identity, gate, level, 409, [("", "这一组审批已没有待决定的事项")])
    overall, comment = str(form.get("decision", "")), str(form.get("comment", ""))
    overrides = _overrides(form) if gate == "budget_table" else []
    outcomes: list[tuple[str, str]] = []
    for open_gate in group.gates:
        own = str(form.get(f"decision_{open_gate.id}", ""))
        if own == "skip" or (not own and not overall):
            continue
        decision = own or overall
        remark = str(form.get(f"comment_{open_gate.id}", "")).strip() or comment
        label = group.subject_name(open_gate.subject) if open_gate.subject != "*" else group.label
        try:
            with session_scope() as session:
                decide(session, open_gate.id, decision, identity.name, remark, overrides)
            outcomes.append((label, f"已{DECISION_NAMES.get(decision, decision)}"))
        except DecisionRefused as exc:
            outcomes.append((label, f"未记录：{exc}"))
    if not outcomes:
        outcomes.append(("", "没有选择任何决定"))
    from perfcycle.web.routes_department import continue_on_server

    assert year is not None
    continue_on_server(year)
    return gate_page(request, identity, gate, level, 200, outcomes)


def findings_page(request: Request, identity: Identity, status: int = 200, **result: Any) -> Response:
    """The year's findings, filtered by the state asked for (?status=待整改 | 已反馈 | …), with their figures."""
    from perfcycle.findings import finding_figures, list_findings
    from perfcycle.rules.findings import STATE_LABELS, state_for

    year = year_of(request)
    asked = request.query_params.get("status", "").strip()
    try:
        state = state_for(asked) if asked else None
    except ValueError as exc:
        state, result = None, {"error": str(exc), **result}
    rows, counts = [], None
    if year is not None:
        try:
            with session_scope() as session:
                cycle = get_cycle_for(session, year)
                rows = list_findings(session, year, state=state)
                counts = finding_figures(session, cycle.id or 0)
        except WindowError as exc:
            result = {"error": str(exc), **result}
    return render(
        request,
        "findings.html",
        identity,
        status,
        year=year,
        rows=rows,
        counts=counts,
        state=state,
        states=STATE_LABELS,
        result=result,
    )


@router.get("/findings")
def findings(request: Request) -> Response:
    """The rectification register as `perfcycle findings --year Y [--status S]` lists it."""
    return findings_page(request, bureau_only(request))


@router.post("/findings/{finding_id}/verify")
async def verify(request: Request, finding_id: int) -> Response:
    """A coordinator's verification (已整改 / 未整改 with a comment) through the same service as `perfcycle
    findings verify`, under the signed-in name: the service decides who may verify, and audits a refusal."""
    from perfcycle.findings import verify_finding
    from perfcycle.rules.findings import FIXED, VERIFICATIONS

    identity = bureau_only(request)
    form = await request.form(max_files=0, max_fields=8)
    check_form(request, identity, form)
    verdict = str(form.get("verdict", ""))
    if verdict not in VERIFICATIONS:
        return findings_page(request, identity, 422, error="请选择验证结论：已整改或未整改")
    try:
        with session_scope() as session:
            verify_finding(
                session, finding_id, fixed=verdict == FIXED, comment=str(form.get("comment", "")), by=identity.name
            )
    except WindowError as exc:
        return findings_page(request, identity, 422, error=str(exc))
    return findings_page(request, identity, verified=(finding_id, VERIFICATIONS[verdict]))


@router.post("/windows/{stage}/close")
async def close_window(request: Request, stage: str) -> Response:
    """The coordinator ends a collection early (`perfcycle close-window`)."""
    from perfcycle.collecting import close_by_coordinator

    identity = bureau_only(request)
    check_form(request, identity, await request.form(max_files=0, max_fields=4))
    year = year_of(request)
    if stage not in STAGE_FORMS or year is None:
        raise Refused("没有这种收集", 404)
    try:
        with session_scope() as session:
            close_by_coordinator(session, year, stage, identity.name)
    except WindowError as exc:
        return bureau_page(request, identity, 422, error=str(exc))
    return bureau_page(request, identity, closed=stage)


@router.post("/windows/{stage}/remind")
async def remind_window(request: Request, stage: str) -> Response:
    """The coordinator reminds now every department still owing the window's form (once a day at most)."""
    from perfcycle.reminding import remind_now

    identity = bureau_only(request)
    check_form(request, identity, await request.form(max_files=0, max_fields=4))
    year = year_of(request)
    if stage not in STAGE_FORMS or year is None:
        raise Refused("没有这种收集", 404)
    try:
        with session_scope() as session:
            reminded = remind_now(session, year, by=identity.name, stage=stage)
    except WindowError as exc:
        return bureau_page(request, identity, 422, error=str(exc))
    return bureau_page(request, identity, reminded=reminded)


@router.post("/departments/{code}/remind")
async def remind_department(request: Request, code: str) -> Response:
    """The coordinator reminds now one department of every form it still owes (a row of the matrix)."""
    from perfcycle.reminding import remind_now

    identity = bureau_only(request)
    check_form(request, identity, await request.form(max_files=0, max_fields=4))
    year = year_of(request)
    if year is None:
        return matrix_page(request, identity, 400, error="还没有绩效管理周期")
    try:
        with session_scope() as session:
            reminded = remind_now(session, year, by=identity.name, department_code=code)
    except WindowError as exc:
        return matrix_page(request, identity, 422, error=str(exc))
    return matrix_page(request, identity, reminded=reminded)


@router.post("/cycle/continue")
async def continue_cycle(request: Request) -> Response:
    """Let the year's cycle go on: the deployment on a Prefect server, else a run in the background here."""
    from perfcycle.background import continue_cycle as go_on
    from perfcycle.background import running

    identity = bureau_only(request)
    check_form(request, identity, await request.form(max_files=0, max_fields=4))
    year = year_of(request)
    if year is None:
        return bureau_page(request, identity, 400, error="还没有绩效管理周期")
    with session_scope() as session:
        holder = running(session, year)
        if holder:
            return bureau_page(request, identity, 409, error=f"{year} 年度周期正在运行（{holder}），请稍后刷新")
        continued = go_on(session, year, identity.name)
    return bureau_page(request, identity, continued=continued)

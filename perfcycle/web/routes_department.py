"""A department's worklist: its forms with their templates and uploads, its notices and responses, its documents.

A department acts only on its own: the department is the signed-in account's, never a value of the
request. Uploads go through `perfcycle.collecting.submit_form`, as `perfcycle submit` does; answers to findings
through `perfcycle.findings.answer_finding`, as `perfcycle findings answer` does.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from starlette.datastructures import UploadFile

from models import session_scope
from perfcycle.accounts import Identity
from perfcycle.collecting import STAGE_FORMS, Receipt, WindowError, read_form
from perfcycle.rules.access import DEPARTMENT
from perfcycle.rules.deadlines import cell_label
from perfcycle.web.app import render
from perfcycle.web.security import Refused, check_form, of_this_loop, refuse, signed_in, writer_turn_held
from perfcycle.worklist import department_work, document_for, latest_year

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def year_of(request: Request) -> int | None:
    """The year asked for (?year=), else the newest cycle's."""
    asked = request.query_params.get("year", "")
    if asked.isdigit() and len(asked) == 4:
        return int(asked)
    with session_scope() as session:
        return latest_year(session)


def attachment(name: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def department_only(request: Request) -> Identity:
    identity = signed_in(request)
    if identity.role != DEPARTMENT or identity.department_id is None:
        raise refuse(request, identity, "not_a_department", "只有预算部门的账号可以这样做")
    return identity


def department_page(
    request: Request, identity: Identity, status: int = 200, year: int | None = None, **result: Any
) -> Response:
    year = year if year is not None else year_of(request)
    if year is None:
        return render(request, "department.html", identity, status, work=None, result=result)
    assert identity.department_id is not None
    try:
        with session_scope() as session:
            work = department_work(session, year, identity.department_id)
    except WindowError as exc:
        return render(request, "department.html", identity, status, work=None, result={"error": str(exc)})
    return render(request, "department.html", identity, status, work=work, result=result)


@router.get("/")
def home(request: Request) -> Response:
    identity = signed_in(request)
    if identity.bureau:
        from perfcycle.web.routes_bureau import bureau_page

        return bureau_page(request, identity)
    if identity.evaluator:
        from perfcycle.web.routes_evaluator import evaluator_page

        return evaluator_page(request, identity)
    return department_page(request, identity)


@router.get("/forms/{stage}/template")
def template(request: Request, stage: str) -> Response:
    """The form's empty workbook, with its headers and choice lists."""
    identity = department_only(request)
    if stage not in STAGE_FORMS:
        raise Refused("没有这种填报表", 404)
    from perfcycle.workbooks.formats import spec_for
    from perfcycle.workbooks.writer import write_template

    spec = spec_for(STAGE_FORMS[stage][0])
    with tempfile.TemporaryDirectory() as folder:
        path = write_template(Path(folder) / "template.xlsx", spec)
        content = path.read_bytes()
    name = f"{identity.department_code}-{spec.title}.xlsx"
    return Response(content, media_type=XLSX, headers={"content-disposition": attachment(name)})


_FOLDER_SEPARATOR = re.compile(r"[\\/]")


def upload_name(upload: UploadFile) -> str:
    """The file's own name, without any folder a browser may send, as the receipt records it."""
    name = _FOLDER_SEPARATOR.split(upload.filename or "")[-1].strip()
    name = "".join(c for c in name if c.isprintable())[:200]
    return name if name not in ("", ".", "..") else "upload.xlsx"


def _check(identity: Identity, year: int, stage: str, path: Path) -> Any:
    """The upload read and checked as `perfcycle submit` checks it, reading records only (no turn needed)."""
    from perfcycle.collecting import check_submission

    assert identity.department_code is not None
    parsed = read_form(year, stage, path)
    with session_scope() as session:
        check_submission(session, year=year, stage=stage, department_code=identity.department_code, parsed=parsed)
    return parsed


def _submit(identity: Identity, year: int, stage: str, path: Path, parsed: Any) -> Any:
    from perfcycle.collecting import submit_form

    assert identity.department_code is not None
    with session_scope(writing=True) as session:
        return submit_form(
            session,
            year=year,
            stage=stage,
            department_code=identity.department_code,
            file=path,
            by=identity.name,
            parsed=parsed,
            checked=True,
        )


async def take_upload(
    request: Request,
    identity: Identity,
    submit: Callable[[Path, Any], Any],
    check: Callable[[Path], Any] = lambda path: None,
    then: Callable[[Any], Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """An uploaded workbook read and checked by `check`, then handed to `submit` (service calls, in worker
    threads): the page's status and what it shows — the service's answer as `done`, or the problems (sheet ·
    row · column · reason), or the refusal. Only `submit` takes the writers' turn: `check` reads records only,
    so the turns are spent on writing alone."""
    from perfcycle.workbooks.reader import ImportRejected

    if request.headers.get("content-length") is None:
        return 411, {"error": "上传须注明长度（Content-Length）"}
    form = await request.form(max_files=1, max_fields=8)
    check_form(request, identity, form)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return 400, {"error": "请选择要上传的 .xlsx 文件"}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / upload_name(upload)
        checking, writing = _upload_slots()
        try:
            async with checking:
                parsed = await run_in_threadpool(_saved_and_checked, upload, path, check)
            async with writing:
                done, page = await run_in_threadpool(_in_turn, submit, path, parsed, then)
                return 200, {"done": done, "page": page}
        except ImportRejected as exc:
            return 422, {"problems": exc.problems, "file": path.name}
        except WindowError as exc:
            return 422, {"error": str(exc)}


def _saved_and_checked(upload: UploadFile, path: Path, check: Callable[[Path], Any]) -> Any:
    """The upload written to `path` (it may have been spooled to disk), then `check` of it."""
    with path.open("wb") as handle:
        shutil.copyfileobj(upload.file, handle, 1 << 20)
    return check(path)


#: Uploads a worker checks at once. Checking is Python work under one interpreter lock: more threads at once
#: finish no sooner, they only make every upload of the deadline hour wait for all the others.
CHECKING_AT_ONCE = 2


def _upload_slots() -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
    """The worker's (checking, writing) slots: uploads checked at once, and the one thread that waits for the
    writers' turn (the others wait without a thread)."""
    return of_this_loop("uploads", lambda: (asyncio.Semaphore(CHECKING_AT_ONCE), asyncio.Semaphore(1)))


def _in_turn(
    submit: Callable[[Path, Any], Any], path: Path, parsed: Any, then: Callable[[Any], Any] | None
) -> tuple[Any, Any]:
    """`submit` in the writers' turn, taken and given back by the thread that writes: the turn lasts as long
    as the write, not until the event loop, busy with other uploads, comes back to it. Then `then` of its
    answer (the page), in the same thread once the turn is given back: one hand-over to a thread fewer."""
    with writer_turn_held():
        done = submit(path, parsed)
    return done, then(done) if then is not None else None


@router.post("/forms/{stage}")
async def upload(request: Request, stage: str) -> Response:
    """A form sent from the page: checked as `perfcycle submit` checks it, filed and receipted, or every
    problem listed (sheet · row · column · reason)."""
    identity, year = await run_in_threadpool(lambda: (department_only(request), year_of(request)))
    if stage not in STAGE_FORMS:
        raise Refused("没有这种填报表", 404)
    if year is None:
        return await run_in_threadpool(department_page, request, identity, 400, error="还没有绩效管理周期")
    status, shown = await take_upload(
        request,
        identity,
        lambda path, parsed: _submit(identity, year, stage, path, parsed),
        lambda path: _check(identity, year, stage, path),
        lambda receipt: _receipted(request, identity, year, receipt),
    )
    if status != 200:
        return await run_in_threadpool(department_page, request, identity, status, year, stage=stage, **shown)
    page: Response = shown["page"]
    return page


def _receipted(request: Request, identity: Identity, year: int, receipt: Receipt) -> Response:
    """The receipt of a form just filed, a page to print and keep, once the cycle was told to go on; the
    worklist is a link away (at the deadline hour every department waits for this page, not the whole list)."""
    continue_on_server(year)
    state = cell_label(receipt.status, receipt.due_on)
    return render(request, "receipt.html", identity, result={"receipt": receipt}, state=state, year=year)


def continue_on_server(year: int) -> None:
    """With a Prefect server: let the year's cycle go on (a submission or decision is recorded already)."""
    from perfcycle.orchestration import continue_cycle

    try:
        continue_cycle(year)
    except Exception:  # the next run of the cycle reads what was recorded
        return


@router.post("/warnings/{quarter}")
async def respond(request: Request, quarter: str) -> Response:
    """The department's 预警整改反馈: causes and measures, through the same service as `perfcycle respond`."""
    from perfcycle.collecting import respond_to_warning

    identity = department_only(request)
    form = await request.form(max_files=0, max_fields=8)
    check_form(request, identity, form)
    year = year_of(request)
    assert identity.department_code is not None
    if year is None:
        return department_page(request, identity, 400, error="还没有绩效管理周期")
    try:
        with session_scope() as session:
            respond_to_warning(
                session,
                year=year,
                quarter=quarter,
                department_code=identity.department_code,
                cause=str(form.get("cause", "")),
                measures=str(form.get("measures", "")),
                by=identity.name,
            )
    except WindowError as exc:
        return department_page(request, identity, 422, error=str(exc))
    return department_page(request, identity, responded=quarter)


@router.post("/findings/{finding_id}/answer")
async def answer(request: Request, finding_id: int) -> Response:
    """The department's answer to one of its findings (整改措施, 完成情况; a red light's causes too), through the
    same service as `perfcycle findings answer`. Another department's finding is refused as if it did not exist."""
    from perfcycle.findings import answer_finding, of_department

    identity = department_only(request)
    form = await request.form(max_files=0, max_fields=8)
    check_form(request, identity, form)
    assert identity.department_id is not None
    with session_scope() as session:
        own = of_department(session, finding_id, identity.department_id)
    if not own:
        raise refuse(request, identity, "finding_not_visible", "没有这个整改事项，或无权反馈", 404)
    try:
        with session_scope() as session:
            answer_finding(
                session,
                finding_id,
                measures=str(form.get("measures", "")),
                cause=str(form.get("cause", "")),
                progress=str(form.get("progress", "")),
                by=identity.name,
            )
    except WindowError as exc:  # the service's refusal (audited there), or what the answer lacks
        return department_page(request, identity, 422, error=str(exc))
    return department_page(request, identity, answered=finding_id)


@router.get("/documents/{document_id}")
def document(request: Request, document_id: int) -> Response:
    """A document the person may open; another's is refused (and audited) as if it did not exist."""
    identity = signed_in(request)
    with session_scope() as session:
        found = document_for(session, document_id, identity.role, identity.department_code)
    if found is None:
        raise refuse(request, identity, "document_not_visible", "没有这个文件，或无权查看", 404)
    if not Path(found.path).is_file():
        raise Refused("这份文件已不在服务器上，请联系财政局绩效科", 404)
    path = Path(found.path)
    return FileResponse(path, headers={"content-disposition": attachment(path.name)})

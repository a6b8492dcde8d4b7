"""The workbench's application: pages rendered on the server in Chinese, served with their own style sheet.

`create_app` builds it; `perfcycle web` serves it with uvicorn. The routes (perfcycle/web/routes_*.py) only
read the request, ask the services (the same as the command line's) and render the answer; every rule
lives in the services and perfcycle/rules/.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from perfcycle.accounts import Identity
from perfcycle.web.security import Guard, NotSignedIn, OneWriterAtATime, Refused

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
UPLOAD_PATHS = ("/forms/", "/scores")
log = logging.getLogger("perfcycle.web")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True
)


def render(
    request: Request, template: str, identity: Identity | None = None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page of perfcycle/web/templates/, autoescaped, for the signed-in person (or nobody)."""
    page = _env.get_template(template).render(request=request, me=identity, **context)
    return HTMLResponse(page, status_code=status)


def _upload_limit(declared: int | None = None) -> int:
    """The largest upload body: the import limit of the latest cycle's policy, plus room for the form's fields.
    A body that declares no more than any policy allows needs no lookup (at the deadline hour, none does)."""
    from models import session_scope
    from perfcycle.policy import LEAST_FILE_MB, import_limits
    from perfcycle.worklist import latest_year

    if declared is not None and declared <= _body_limit(LEAST_FILE_MB):
        return _body_limit(LEAST_FILE_MB)
    try:
        with session_scope() as session:
            year = latest_year(session)
        mb = import_limits(year).max_file_mb if year is not None else 50
    except Exception:  # no database or policy yet: the default limit of the policy
        mb = 50
    return _body_limit(mb)


def _body_limit(mb: int) -> int:
    return mb * 1024 * 1024 + 64 * 1024


def _load_upload_path() -> None:
    """Import and compile what an upload runs, as the worker starts: at the deadline hour every worker's first
    uploads would otherwise wait together for these imports (about a second)."""
    import codecs
    import importlib

    from prefect.settings import PREFECT_API_URL

    from perfcycle.workbooks.reader import import_dependencies

    import_dependencies()
    for module in ("perfcycle.loaders", "perfcycle.orchestration"):  # the checks' dry run; the cycle's state
        importlib.import_module(module)
    codecs.lookup("cp437")  # zip member names not marked UTF-8 are decoded with it
    for page in ("department.html", "receipt.html"):
        _env.get_template(page)
    PREFECT_API_URL.value()  # read after each upload (is a Prefect server running the cycle?); 0.9 s the first time
    _rehearse_reading()


def _rehearse_reading() -> None:
    """Validate the policy files and read a blank targets form once, as the first uploads would: the reader's
    patterns and the year's limits are then ready before the deadline hour's first upload, not during it."""
    import contextlib
    import tempfile

    from perfcycle.policy import PolicyError, load_policy_file
    from perfcycle.settings import get_settings
    from perfcycle.workbooks.formats import spec_for
    from perfcycle.workbooks.reader import ImportRejected, read_workbook
    from perfcycle.workbooks.writer import write_template

    for policy in sorted(get_settings().policy_dir.glob("*.yaml")):
        with contextlib.suppress(PolicyError):  # a broken file is reported where it is used
            load_policy_file(policy)
    with tempfile.TemporaryDirectory() as folder, contextlib.suppress(ImportRejected):
        read_workbook(write_template(Path(folder) / "form.xlsx", spec_for("targets")), "targets")


#: Threads a worker runs the pages' and services' Python in: a few keep both cores busy; more only queue for
#: the interpreter lock, and every page waits for all the others.
WORKER_THREADS = 4


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    from perfcycle.runtime import settle_heap

    anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
    settle_heap()  # the worker's modules and compiled templates live as long as it does
    yield


def create_app() -> ASGIApp:
    """The workbench, with no interactive API docs (every path is a page of its own), inside its guard."""
    app = FastAPI(title="预算绩效管理工作台", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    from perfcycle.web import routes_auth, routes_bureau, routes_department, routes_evaluator

    _load_upload_path()

    app.include_router(routes_auth.router)
    app.include_router(routes_department.router)
    app.include_router(routes_bureau.router)
    app.include_router(routes_evaluator.router)

    @app.exception_handler(NotSignedIn)
    async def _to_login(request: Request, exc: NotSignedIn) -> Response:
        if request.method == "GET":
            return RedirectResponse("/login", status_code=303)
        return render(request, "error.html", status=401, title="未登录", message="请先登录")

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return render(request, "error.html", status=exc.status, title="已拒绝", message=str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "没有这个页面", 405: "不支持这种请求"}.get(exc.status_code, "请求无法处理")
        return render(request, "error.html", status=exc.status_code, title=message, message=message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "error.html", status=400, title="请求无效", message="请求的内容不完整或格式不对")

    @app.exception_handler(Exception)
    async def _failed(request: Request, exc: Exception) -> Response:
        log.exception("工作台处理 %s %s 时出错", request.method, request.url.path)
        return render(
            request,
            "error.html",
            status=500,
            title="出错了",
            message="服务器处理请求时出错，已记录；请稍后再试或联系财政局绩效科",
        )

    return Guard(OneWriterAtATime(app, UPLOAD_PATHS), UPLOAD_PATHS, _upload_limit)

"""The workbench's guards: who is signed in, whether a form really comes from its own page, what a response
may do in a browser, and how much a request may send.

Every page asks `signed_in` for the person (no session: back to /login); every state-changing request
passes `check_form` (the session's CSRF token, and an Origin of this site when the browser sends one).
A refusal is audited and answered with a page that says no more than it must.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import secrets
import tempfile
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from fastapi import Request
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models import session_scope
from perfcycle.accounts import Identity, identify, refuse_access
from perfcycle.settings import get_settings

SESSION_COOKIE = "perfcycle_session"
LOGIN_CSRF_COOKIE = "perfcycle_login_csrf"  # the form token of the pages used before signing in

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",  # no-referrer would make a browser send Origin: null
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
FORM_BODY_LIMIT = 256 * 1024  # any request but an upload: a form of a few fields and comments


class NotSignedIn(Exception):
    """The request needs a signed-in person; the page sends the browser to /login."""


class Refused(Exception):
    """Signed in, but this is not theirs (or the form is forged); already audited."""

    def __init__(self, message: str = "无权访问", status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().web_secure_cookies


def set_cookie(response: Any, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=is_https(request), path="/")


def signed_in(request: Request) -> Identity:
    """The person of the request's session cookie, or `NotSignedIn`."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise NotSignedIn
    with session_scope() as session:
        identity = identify(session, token)
    if identity is None:
        raise NotSignedIn
    return identity


def refuse(
    request: Request, identity: Identity | None, reason: str, message: str = "无权访问", status: int = 403
) -> Refused:
    """Audit that `identity` asked for what is not theirs; the exception to raise.

    A refusal takes no writers' turn: when another writer got in between (SQLite), it is written again."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(5):
        try:
            with session_scope() as session:
                refuse_access(
                    session, identity, f"{request.method} {request.url.path}", reason, client_address(request)
                )
            break
        except OperationalError:
            if attempt == 4:
                raise
    return Refused(message, status)


def same_origin(request: Request) -> bool:
    """A browser's Origin (when it sends one) names this site: a form posted from elsewhere is refused."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def check_form(request: Request, identity: Identity, form: FormData) -> None:
    """A state-changing request carries the session's CSRF token and comes from this site."""
    given = form.get("csrf")
    if not same_origin(request):
        raise refuse(request, identity, "cross_origin", "请求来源不是本站，已拒绝")
    if not isinstance(given, str) or not identity.csrf_ok(given):
        raise refuse(request, identity, "csrf", "表单已失效或不是本站的表单，请刷新页面后重试")


def check_login_form(request: Request, form: FormData) -> None:
    """The forms used before signing in carry the token of their own cookie, and come from this site."""
    given, cookie = form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_origin(request):
        raise refuse(request, None, "cross_origin", "请求来源不是本站，已拒绝")
    if not isinstance(given, str) or not cookie or not secrets.compare_digest(given.encode(), cookie.encode()):
        raise refuse(request, None, "csrf", "表单已失效，请刷新页面后重试")


def login_csrf(request: Request) -> str:
    """The pre-sign-in form token: the cookie's, or a new one that the page sets."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


class Guard:
    """ASGI middleware: security headers on every response, and no request body larger than it may be.

    An upload may send what its path allows (`upload_limit` of its declared length), anything else `FORM_BODY_LIMIT`; a body
    longer than its Content-Length, or one without a length where a limit applies, is cut off with 413."""

    def __init__(self, app: ASGIApp, upload_paths: tuple[str, ...], upload_limit: Callable[[int | None], int]) -> None:
        self.app, self.upload_paths, self.upload_limit = app, upload_paths, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        declared = _content_length(scope)
        limit = self.upload_limit(declared) if path.startswith(self.upload_paths) else FORM_BODY_LIMIT
        https = scope.get("scheme") == "https"
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                if not path.startswith("/static/"):
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        if declared is not None and declared > limit:
            await _too_large(send_with_headers)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit or (declared is not None and seen > declared):
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send_with_headers)
        except BodyTooLarge:
            if not started:
                await _too_large(send_with_headers)


class OneWriterAtATime:
    """ASGI middleware for a SQLite database: one state-changing request at a time across every worker.

    SQLite refuses a transaction that read before another process wrote ("database is locked") instead of
    waiting for it; taking turns (`writer_turn`) makes those requests wait instead. A request takes its turn
    only once its whole body has arrived (kept in a temporary file past 1 MB), so a slow sender never holds
    the others up. Uploads (`own_turn` paths) take their turn themselves, for their write alone: reading the
    upload and showing the page after it need none. A PostgreSQL database needs no such turn."""

    def __init__(self, app: ASGIApp, own_turn: tuple[str, ...] = ()) -> None:
        self.app, self.own_turn = app, own_turn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or str(scope.get("path", "")).startswith(self.own_turn)
            or sqlite_lock_path() is None
        ):
            await self.app(scope, receive, send)
            return
        with tempfile.SpooledTemporaryFile(max_size=1 << 20) as body:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body.write(message.get("body", b""))
                more = bool(message.get("more_body", False))
            size, _ = body.tell(), body.seek(0)

            handed = False

            async def replay() -> Message:
                nonlocal handed
                if handed:
                    return await receive()  # the body was handed over: only a disconnect is left to hear
                chunk = body.read(1 << 16)
                handed = body.tell() >= size
                return {"type": "http.request", "body": chunk, "more_body": not handed}

            async with writer_turn():
                await self.app(scope, replay, send)


@asynccontextmanager
async def writer_turn() -> AsyncIterator[None]:
    """One writer of the workbench at a time on a SQLite file (across its workers); waits without a thread."""
    path = sqlite_lock_path()
    if path is None:
        yield
        return
    async with _worker_turn():  # the worker's own requests queue in order; one of them asks the other workers
        with path.open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.002)
            yield  # closing the file releases the turn


T = TypeVar("T")
_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()


def of_this_loop(name: str, make: Callable[[], T]) -> T:
    """The worker's `name` (a lock, semaphores), made once for the running event loop: an asyncio lock or
    semaphore belongs to one loop, and the tests run the workbench on many (a closed loop's go with it)."""
    made = _per_loop.setdefault(asyncio.get_running_loop(), {})
    if name not in made:
        made[name] = make()
    return cast(T, made[name])


def _worker_turn() -> asyncio.Lock:
    """The worker's queue for the writers' turn."""
    return of_this_loop("turn", asyncio.Lock)


@contextmanager
def writer_turn_held() -> Iterator[None]:
    """`writer_turn` for the thread that writes: it waits for the turn blocked on the lock, and gives the turn
    back as soon as its write is done."""
    path = sqlite_lock_path()
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the turn


def sqlite_lock_path() -> Path | None:
    """The turn-taking lock file of the configured database, when it is a SQLite file."""
    return _lock_path_of(get_settings().database_url)


@functools.lru_cache(maxsize=8)
def _lock_path_of(database_url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).with_name(Path(url.database).name + ".web-writer")


class BodyTooLarge(Exception):
    """The request sent more than it may."""


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
    body = "请求过大，已拒绝（上传文件不得超过导入限制）".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})

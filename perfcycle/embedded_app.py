"""The embedded Prefect server's app: Prefect's own, with the requests SQLite refused retried inside the server.

On SQLite, a Prefect transaction that reads before it writes fails at once ("database is locked") when another
of the server's connections commits in between, typically the task-run recorder writing the events of the
previous stage while the engine creates the next subflow's task run. The server answers 503 and Prefect's
client tries again after 2, 4, 8 … seconds. Retried here after a few milliseconds instead, the run does not
stall; every other answer passes through unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Attempts after the first, and the pause before the n-th of them (n × PAUSE seconds): ≈ 1 s in all.
RETRIES = 9
PAUSE = 0.02
RETRYABLE = 503


class RetryRefusedRequests:
    """An ASGI wrapper replaying an HTTP request whose answer is 503, up to RETRIES times."""

    def __init__(self, app: ASGIApp, retries: int = RETRIES, pause: float = PAUSE) -> None:
        self.app = app
        self.retries = retries
        self.pause = pause

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, disconnected = await _read_body(receive)
        if disconnected:
            return
        for attempt in range(self.retries + 1):
            refused = await self._attempt(dict(scope), _replay(body, receive), send, last=attempt == self.retries)
            if not refused:
                return
            await asyncio.sleep(self.pause * (attempt + 1))

    async def _attempt(self, scope: Scope, receive: Receive, send: Send, last: bool) -> bool:
        """One pass through the app; True when its answer was a 503 that was held back to try again."""
        held = False

        async def hold_refusal(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] == RETRYABLE and not last:
                held = True
            if not held:
                await send(message)

        try:
            await self.app(scope, receive, hold_refusal)
        except Exception:
            if not held:
                raise
            # Starlette re-raises the error it answered with 503, for the server's log: this one is retried.
        return held


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body (Prefect's API requests are small JSON), and whether the client went away."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, then the client's own messages (a disconnect, if it comes)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def create_app() -> ASGIApp:
    """Uvicorn's factory for the embedded server (Prefect reads its ephemeral flags from the environment)."""
    from prefect.server.api.server import create_app as create_prefect_app

    return RetryRefusedRequests(create_prefect_app())

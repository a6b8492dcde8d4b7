"""The embedded server's app retries a refused (503) request itself, with the same body, and gives up in time."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from perfcycle.embedded_app import RetryRefusedRequests


def _app(refusals: int, seen: list[tuple[str, bytes]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        seen.append((scope["path"], message["body"]))
        scope["path"] = "/mutated"  # routers rewrite the scope: each attempt must start from the original
        status = 503 if len(seen) <= refusals else 201
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"refused" if status == 503 else b"made"})
        if status == 503:
            raise RuntimeError("database is locked")  # as Starlette re-raises after answering

    return app


def _post(app: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
            return await client.post("/api/task_runs/", content=b'{"name": "x"}')

    return asyncio.run(go())


def test_a_refused_request_is_replayed_until_it_succeeds() -> None:
    seen: list[tuple[str, bytes]] = []
    response = _post(RetryRefusedRequests(_app(2, seen), pause=0))
    assert (response.status_code, response.content) == (201, b"made")
    assert seen == [("/api/task_runs/", b'{"name": "x"}')] * 3


def test_after_the_last_retry_the_refusal_reaches_the_client() -> None:
    seen: list[tuple[str, bytes]] = []
    app = RetryRefusedRequests(_app(100, seen), retries=3, pause=0)
    try:
        response = _post(app)
    except RuntimeError:
        pass  # the transport re-raises the app's error once the 503 was sent
    else:
        assert response.status_code == 503
    assert len(seen) == 4

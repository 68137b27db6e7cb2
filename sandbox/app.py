"""The sandbox as one ASGI app: every route of docs/sandbox-api.md over one state."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.routes.common import Answer
from sandbox.routes.control import control_router
from sandbox.routes.exposition import exposition_router
from sandbox.routes.gateway import gateway_router
from sandbox.routes.mistral import mistral_router
from sandbox.routes.prometheus import prometheus_router
from sandbox.routes.serving import serving_router
from sandbox.state import Reply, SandboxState

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Calls that change nothing although they are POSTs: never cached, never serialised.
_READ_POSTS = ("/invocations", "/chat", "/chat/completions", "/api/v1/query")


async def _delayed(state: SandboxState) -> None:
    """Hold a mutation for ``state.mutation_delay_s`` before it is handled (counted as in flight).
    The request is handled afterwards even if its client has gone, as a real platform would."""
    state.mutations_in_flight += 1
    try:
        await asyncio.sleep(state.mutation_delay_s)
    finally:
        state.mutations_in_flight -= 1


def _is_mutation(method: str, path: str) -> bool:
    return method in MUTATING and not path.endswith(_READ_POSTS) and not path.startswith("/sandbox")


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now (once the client has gone it can no longer be received)
    and hand it to the app when it asks."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


async def _captured(app: ASGIApp, scope: Scope, receive: Receive) -> Reply:
    """Run ``app`` on the request and keep its whole answer instead of sending it."""
    status, content_type, chunks = 500, None, []

    async def keep(message: Message) -> None:
        nonlocal status, content_type
        if message["type"] == "http.response.start":
            status = message["status"]
            content_type = Headers(raw=message.get("headers", [])).get("content-type")
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    return Reply(status, b"".join(chunks), content_type)


class Idempotency:
    """Mutations with an ``Idempotency-Key`` run once: a repeat gets the stored answer (marked
    ``Idempotent-Replayed``); mutations are held ``state.mutation_delay_s`` first.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs every request, reads
    included, through a task group and a streamed body, which cost more than the sandbox's own
    handling of most calls.
    """

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if _is_mutation(method, path) and self.state.mutation_delay_s > 0:
            receive = await _buffered(receive)
            await _delayed(self.state)
        key = Headers(scope=scope).get("idempotency-key")
        if method not in MUTATING or not key or path.endswith(_READ_POSTS):
            await self.app(scope, receive, send)
            return
        cache_key = (method, path, key)
        async with self.state.idempotency_lock:
            reply = self.state.replies.get(cache_key)
            if reply is None:
                reply = await _captured(self.app, scope, receive)
                # A server error may be transient: the same key may try again.
                if reply.status_code < 500:
                    self.state.replies[cache_key] = reply
                content_type = reply.media_type or "application/json"
                fresh = Response(
                    reply.body, reply.status_code, headers={"content-type": content_type}
                )
                await fresh(scope, receive, send)
                return
        replayed = Response(
            reply.body,
            reply.status_code,
            media_type=reply.media_type or "application/json",
            headers={"Idempotent-Replayed": "true"},
        )
        await replayed(scope, receive, send)


def create_app(state: SandboxState) -> FastAPI:
    """The sandbox app. Mutations update ``state.world`` (and MLflow) at once."""
    app = FastAPI(title="model-incident sandbox", docs_url="/sandbox/docs", redoc_url=None)
    app.state.sandbox = state

    @app.exception_handler(Answer)
    async def answer(_request: Request, exc: Answer) -> Response:
        return exc.response

    @app.get("/")
    async def root() -> dict[str, Any]:
        return {
            "service": "model-incident sandbox",
            "databricks": "/api/2.0",
            "gateway": "/gateway",
            "prometheus": "/prometheus",
            "mistral": "/mistral",
            "metrics": "/metrics",
            "control": "/sandbox",
            "mlflow_tracking_uri": state.tracking_uri,
        }

    # Routes are matched in order, one regex each: Prometheus first, since an incident sends it
    # more queries than every other call together (the prefixes do not overlap).
    app.include_router(prometheus_router(state), prefix="/prometheus")
    app.include_router(serving_router(state))
    app.include_router(gateway_router(state), prefix="/gateway")
    app.include_router(mistral_router(state), prefix="/mistral")
    app.include_router(exposition_router(state))
    app.include_router(control_router(state), prefix="/sandbox")
    app.add_middleware(Idempotency, state=state)
    return app

"""The sandbox as one ASGI app: every route of docs/sandbox-api.md over one state."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response

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


def create_app(state: SandboxState) -> FastAPI:
    """The sandbox app. Mutations update ``state.world`` (and MLflow) at once."""
    app = FastAPI(title="model-incident sandbox", docs_url="/sandbox/docs", redoc_url=None)
    app.state.sandbox = state

    @app.exception_handler(Answer)
    async def answer(_request: Request, exc: Answer) -> Response:
        return exc.response

    @app.middleware("http")
    async def idempotency(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        key = request.headers.get("idempotency-key")
        path = request.url.path
        mutation = (
            request.method in MUTATING
            and not path.endswith(_READ_POSTS)
            and not path.startswith("/sandbox")
        )
        if mutation and state.mutation_delay_s > 0:
            # Read the body first: once the client has gone it can no longer be received.
            await request.body()
            await _delayed(state)
        if request.method not in MUTATING or not key or path.endswith(_READ_POSTS):
            return await call_next(request)
        cache_key = (request.method, path, key)
        async with state.idempotency_lock:
            reply = state.replies.get(cache_key)
            if reply is None:
                response = await call_next(request)
                body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
                reply = Reply(response.status_code, body, response.media_type)
                # A server error may be transient: the same key may try again.
                if response.status_code < 500:
                    state.replies[cache_key] = reply
                headers = {"content-type": response.headers.get("content-type", "application/json")}
                return Response(reply.body, reply.status_code, headers=headers)
        return Response(
            reply.body,
            reply.status_code,
            media_type=reply.media_type or "application/json",
            headers={"Idempotent-Replayed": "true"},
        )

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

    app.include_router(serving_router(state))
    app.include_router(gateway_router(state), prefix="/gateway")
    app.include_router(prometheus_router(state), prefix="/prometheus")
    app.include_router(mistral_router(state), prefix="/mistral")
    app.include_router(exposition_router(state))
    app.include_router(control_router(state), prefix="/sandbox")
    return app

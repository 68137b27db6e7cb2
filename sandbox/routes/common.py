"""What every route module shares: error answers in each system's format and service outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from sandbox.state import SandboxState
from sandbox.transport import DEADLINE_HEADER, SLOW_HEADER


class Answer(Exception):
    """Raised by a route or a dependency to answer with ``response`` at once (outages, errors)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def now_ms() -> int:
    return int(time.time() * 1000)


def minutes_ago_ms(minutes: float) -> int:
    """Epoch milliseconds of a moment ``minutes`` before now."""
    return int((time.time() - minutes * 60) * 1000)


def databricks_error(status: int, code: str, message: str) -> Answer:
    """A Databricks REST error: ``{"error_code", "message"}``."""
    return Answer(JSONResponse({"error_code": code, "message": message}, status_code=status))


GARBAGE = "<html><body><h1>502 Bad Gateway</h1><p>upstream proxy error</p></body></html>"


def outage_guard(
    state: SandboxState, service: str, down: Callable[[], Response]
) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that makes every route of ``service`` fail the way
    ``world.outages.<service>`` says: ``down`` answers with ``down()`` (an ASGI app cannot refuse
    a connection), ``slow`` sleeps past the client's timeout first, ``error_500`` / ``error``
    answer an error, ``garbage`` answers 200 with a body that is not the wire format."""

    async def guard(request: Request) -> None:
        mode: Any = getattr(state.world.outages, service)
        if mode == "up":
            return
        if mode == "slow":
            deadline = _client_deadline(request)
            if deadline is not None and deadline < state.slow_seconds:
                # In-process: answer "too late" at once instead of sleeping past the deadline.
                raise Answer(
                    Response(status_code=504, headers={SLOW_HEADER: f"{state.slow_seconds:g}"})
                )
            await asyncio.sleep(state.slow_seconds)
            return
        if mode == "down":
            raise Answer(down())
        if mode == "garbage":
            raise Answer(PlainTextResponse(GARBAGE, status_code=200, media_type="text/html"))
        if mode == "error_500":
            raise Answer(
                JSONResponse(
                    {"error_code": "INTERNAL_ERROR", "message": "Internal server error"},
                    status_code=500,
                )
            )
        if mode == "error":
            raise Answer(
                JSONResponse(
                    {
                        "status": "error",
                        "errorType": "execution",
                        "error": "query processing would load too many samples into memory",
                    },
                    status_code=422,
                )
            )

    return guard


def _client_deadline(request: Request) -> float | None:
    """How long an in-process client waits (``sandbox/transport.py``); ``None`` over a socket."""
    raw = request.headers.get(DEADLINE_HEADER)
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def unavailable() -> Response:
    return JSONResponse(
        {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "Service unavailable"},
        status_code=503,
    )

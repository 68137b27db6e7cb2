"""An in-process transport that honours client timeouts.

``httpx.ASGITransport`` ignores timeouts, so a "slow" outage would hang an in-process client for
as long as the app sleeps. This wrapper applies the request's read timeout the way a socket would.
"""

from __future__ import annotations

import asyncio

import httpx


class DeadlineASGITransport(httpx.AsyncBaseTransport):
    """:class:`httpx.ASGITransport` plus the request's timeout (raises ``httpx.ReadTimeout``)."""

    def __init__(self, app: object) -> None:
        self._inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        limit = timeout.get("read") if isinstance(timeout, dict) else None
        if limit is None:
            return await self._inner.handle_async_request(request)
        try:
            return await asyncio.wait_for(self._inner.handle_async_request(request), limit)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {limit:g} s", request=request) from None

    async def aclose(self) -> None:
        await self._inner.aclose()

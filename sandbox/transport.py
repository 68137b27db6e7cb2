"""An in-process transport that honours client timeouts.

``httpx.ASGITransport`` ignores timeouts, so a "slow" outage would hang an in-process client for
as long as the app sleeps. This wrapper applies the request's read timeout the way a socket would.
"""

from __future__ import annotations

import asyncio

import httpx

# In-process, a "slow" service does not sleep: the transport tells the app how long the client
# will wait (DEADLINE_HEADER) and the app answers at once with SLOW_HEADER when it would take
# longer, which the transport turns into the timeout the client would have seen. A slow outage
# then times out deterministically and at no cost, whatever the machine's load, and a client's
# deadline can be generous enough never to trip on a healthy in-process call.
DEADLINE_HEADER = "x-sandbox-client-deadline-s"
SLOW_HEADER = "x-sandbox-slow-seconds"


class DeadlineASGITransport(httpx.AsyncBaseTransport):
    """:class:`httpx.ASGITransport` plus the request's timeout (raises ``httpx.ReadTimeout``)."""

    def __init__(self, app: object) -> None:
        self._inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        limit = timeout.get("read") if isinstance(timeout, dict) else None
        if limit is None:
            return await self._inner.handle_async_request(request)
        request.headers[DEADLINE_HEADER] = f"{limit:g}"
        try:
            async with asyncio.timeout(limit):  # no task per request, unlike wait_for
                response = await self._inner.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {limit:g} s", request=request) from None
        if SLOW_HEADER in response.headers:
            await response.aclose()
            raise httpx.ReadTimeout(f"no answer within {limit:g} s", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

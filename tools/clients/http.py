"""One way to make an upstream HTTP call: deadline, bounded retries, recorded request, typed
errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx

from tools.clients.errors import (
    BadResponse,
    Conflict,
    NotFound,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tools.result import RequestRecord

_recorded: ContextVar[list[RequestRecord] | None] = ContextVar("recorded_requests", default=None)

# Statuses worth one more try: the upstream may answer the same request differently a moment later.
_RETRYABLE = frozenset({502, 503, 504})


@contextmanager
def recording() -> Iterator[list[RequestRecord]]:
    """Collect every request made inside the block (tools attach them to their result)."""
    records: list[RequestRecord] = []
    token = _recorded.set(records)
    try:
        yield records
    finally:
        _recorded.reset(token)


def record(request: RequestRecord) -> None:
    """Add a request to the current recording, if any (used by non-HTTP adapters too)."""
    records = _recorded.get()
    if records is not None:
        records.append(request)


def recorded() -> list[RequestRecord]:
    """The requests recorded so far in the current recording (empty outside one)."""
    return list(_recorded.get() or [])


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, Mapping):
        code = body.get("error_code") or body.get("errorType") or body.get("type")
        message = body.get("message") or body.get("error") or body.get("detail")
        return (str(code) if code else None, str(message) if message else None)
    return None, None


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    json: Any = None,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float,
    retries: int,
    allow_status: frozenset[int] = frozenset(),
) -> tuple[int, Any]:
    """Send one request and return ``(status_code, parsed JSON body)``.

    ``form`` is sent as an ``application/x-www-form-urlencoded`` body. Retries at most
    ``retries`` times on connection errors and 502/503/504, within one overall
    deadline of ``timeout_s``. Statuses in ``allow_status`` are returned instead of raised.
    Raises a subclass of :class:`UpstreamError` otherwise.
    """
    rec = RequestRecord(
        method=method, url=url, params=dict(params or {}), body=json, form=dict(form or {})
    )
    record(rec)
    started = time.perf_counter()
    deadline = started + timeout_s
    attempt = 0
    while True:
        remaining = deadline - time.perf_counter()
        try:
            if remaining <= 0:
                raise httpx.TimeoutException("deadline exceeded")
            response = await client.request(
                method,
                url,
                params=params,
                json=json,
                data=form,
                headers=headers,
                timeout=remaining,
            )
        except httpx.TimeoutException:
            rec.duration_ms = (time.perf_counter() - started) * 1000
            rec.error = f"no answer within {timeout_s:g} s"
            raise UpstreamTimeout(f"{method} {url}: {rec.error}", rec) from None
        except httpx.TransportError as exc:
            if attempt < retries and time.perf_counter() < deadline:
                attempt += 1
                await asyncio.sleep(
                    min(0.05 * 2**attempt, max(0.0, deadline - time.perf_counter()))
                )
                continue
            rec.duration_ms = (time.perf_counter() - started) * 1000
            rec.error = f"connection failed: {type(exc).__name__}: {exc}"
            raise UpstreamUnavailable(f"{method} {url}: {rec.error}", rec) from None
        if response.status_code in _RETRYABLE and attempt < retries:
            attempt += 1
            await asyncio.sleep(min(0.05 * 2**attempt, max(0.0, deadline - time.perf_counter())))
            continue
        break

    rec.status_code = response.status_code
    rec.duration_ms = (time.perf_counter() - started) * 1000
    return _answer(response, rec, allow_status)


def _answer(
    response: httpx.Response, rec: RequestRecord, allow_status: frozenset[int]
) -> tuple[int, Any]:
    """``(status, parsed JSON body)`` of an answer, or the typed error it stands for."""
    method, url = rec.method, rec.url
    if response.headers.get("idempotent-replayed", "").lower() == "true":
        rec.replayed = True
    body: Any
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
        if response.is_success:
            rec.error = "answer is not JSON"
            snippet = response.text[:200]
            raise BadResponse(f"{method} {url}: answer is not JSON: {snippet!r}", rec) from None
    if response.is_success or response.status_code in allow_status:
        return response.status_code, body

    code, message = _error_fields(body)
    text = message or (response.text[:200] if response.content else response.reason_phrase)
    rec.error = f"HTTP {response.status_code}" + (f" {code}" if code else "") + f": {text}"
    reason = f"{method} {url}: {rec.error}"
    kwargs: dict[str, Any] = {"status_code": response.status_code, "error_code": code, "body": body}
    if response.status_code == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        raise NotFound(reason, rec, **kwargs)
    if response.status_code == 409:
        raise Conflict(reason, rec, **kwargs)
    raise UpstreamHTTPError(reason, rec, **kwargs)


__all__ = ["UpstreamError", "record", "recorded", "recording", "request_json"]

"""Parsing answers into pydantic models, with the failure written on the request that carried it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from tools.clients.errors import BadResponse
from tools.clients.http import record, recording, request_json
from tools.result import RequestRecord

M = TypeVar("M", bound=BaseModel)


async def request_recorded(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    **kwargs: Any,
) -> tuple[int, Any, RequestRecord]:
    """:func:`request_json`, also returning the request's record (still added to the caller's
    recording) so a problem found later in the body can be written on it."""
    mine: list[RequestRecord] = []
    try:
        with recording() as mine:
            status, body = await request_json(client, method, url, **kwargs)
    finally:
        for rec in mine:
            record(rec)
    return status, body, mine[-1]


def bad_response(rec: RequestRecord, problem: str) -> BadResponse:
    """A :class:`BadResponse` for ``rec``, with the problem written on the record too."""
    rec.error = problem
    return BadResponse(f"{rec.method} {rec.url}: {problem}", rec)


def parse_model(model: type[M], body: Any, rec: RequestRecord, what: str) -> M:
    """Validate ``body`` as ``model`` or raise :class:`BadResponse` naming the first problem."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise bad_response(rec, f"answer is not {what}: {where}: {err['msg']}") from None


def field_list(body: Any, key: str, rec: RequestRecord, what: str) -> list[Any]:
    """``body[key]`` when it is a list, else :class:`BadResponse`."""
    value = body.get(key) if isinstance(body, Mapping) else None
    if not isinstance(value, list):
        raise bad_response(rec, f"answer is not {what}: no list {key!r}")
    return value

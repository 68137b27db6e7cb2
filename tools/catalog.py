"""The catalogue of tools: each tool is an async function registered with its parameter and
evidence models, so runbooks can name tools, lint can check predicates against evidence fields,
and every call goes through one runner that records requests, times it and turns failures into data.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from tools.clients.errors import UpstreamError
from tools.clients.http import recording
from tools.platform import Platform
from tools.result import ToolResult, ToolStatus

ToolKind = Literal["read", "mutate"]
P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Finding:
    """What a tool body returns; the runner wraps it into a :class:`ToolResult`."""

    status: ToolStatus
    summary: str
    evidence: BaseModel | None = None
    error: str | None = None


ToolBody = Callable[[Platform, Any], Awaitable[Finding]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    kind: ToolKind
    description: str
    params: type[BaseModel]
    evidence: type[BaseModel]
    body: ToolBody


_CATALOGUE: dict[str, ToolSpec] = {}


def tool(
    name: str, *, kind: ToolKind, params: type[P], evidence: type[BaseModel]
) -> Callable[
    [Callable[[Platform, P], Awaitable[Finding]]], Callable[[Platform, P], Awaitable[Finding]]
]:
    """Register a tool body under ``name``. The docstring's first line is its description."""

    def register(
        fn: Callable[[Platform, P], Awaitable[Finding]],
    ) -> Callable[[Platform, P], Awaitable[Finding]]:
        if name in _CATALOGUE:
            raise ValueError(f"tool {name!r} registered twice")
        doc = (fn.__doc__ or name).strip().splitlines()[0]
        _CATALOGUE[name] = ToolSpec(name, kind, doc, params, evidence, fn)
        return fn

    return register


def catalogue() -> dict[str, ToolSpec]:
    """All registered tools by name (importing the tool packages registers them)."""
    import tools.mutating
    import tools.readonly  # noqa: F401

    return dict(_CATALOGUE)


def get_tool(name: str) -> ToolSpec:
    tools = catalogue()
    if name not in tools:
        raise KeyError(f"unknown tool {name!r}; known tools: {', '.join(sorted(tools))}")
    return tools[name]


async def run_tool(platform: Platform, name: str, params: dict[str, Any]) -> ToolResult:
    """Run one tool. Never raises for upstream trouble: that becomes an ``error`` result naming the
    request and the reason. Bad parameters become an ``error`` result that says what was wrong."""
    spec = get_tool(name)
    started = time.perf_counter()
    try:
        parsed = spec.params.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}"
            for err in exc.errors()
        )
        return ToolResult(
            tool=name,
            params=params,
            status=ToolStatus.ERROR,
            summary=f"refused: bad parameters ({problems})",
            error=f"bad parameters: {problems}",
        )
    with recording() as requests:
        try:
            finding = await spec.body(platform, parsed)
        except UpstreamError as exc:
            finding = Finding(
                ToolStatus.ERROR, f"could not get an answer: {exc.reason}", None, exc.reason
            )
    return ToolResult(
        tool=name,
        params=parsed.model_dump(mode="json"),
        status=finding.status,
        summary=finding.summary,
        evidence=finding.evidence.model_dump(mode="json") if finding.evidence is not None else {},
        requests=list(requests),
        error=finding.error,
        duration_ms=(time.perf_counter() - started) * 1000,
    )

"""The catalogue of tools, listed explicitly, and the one runner every call goes through.

Runbooks name tools from this list, lint checks predicates against their evidence models, and
``run_tool`` records the requests, times the call and turns failures into data. A tool exists for
the bot only when it is listed here: importing a module registers nothing.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError

from tools.clients.errors import UpstreamError
from tools.clients.http import recording
from tools.mutating import gateway as gateway_changes
from tools.mutating import rollback
from tools.mutating import serving as serving_changes
from tools.platform import Platform
from tools.readonly import events, gateway, logs, pipelines, provider, registry, serving, slis
from tools.redact import redact_result
from tools.result import ToolResult, ToolStatus
from tools.spec import Finding, ToolSpec

TOOLS: tuple[ToolSpec, ...] = (
    # read-only
    serving.endpoint_status,
    serving.list_endpoints,
    serving.sample_invocation,
    serving.signature_check,
    pipelines.pipeline_usage,
    events.platform_events,
    registry.registry_versions,
    slis.slis,
    gateway.agent_health,
    gateway.fallback_probe,
    logs.gateway_logs,
    provider.provider_check,
    # mutating
    serving_changes.set_traffic_split,
    serving_changes.scale_endpoint,
    serving_changes.disable_scale_to_zero,
    serving_changes.restart_endpoint,
    serving_changes.recreate_endpoint,
    rollback.rollback_to_previous_champion,
    gateway_changes.set_rollout_percentage,
    gateway_changes.enable_fallback,
    gateway_changes.switch_agent_to_baseline,
    gateway_changes.restart_gateway,
)


def _index(specs: tuple[ToolSpec, ...]) -> dict[str, ToolSpec]:
    by_name: dict[str, ToolSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            raise ValueError(f"tool {spec.name!r} listed twice")
        by_name[spec.name] = spec
    return by_name


_BY_NAME = _index(TOOLS)


def catalogue() -> dict[str, ToolSpec]:
    """Every tool by name (a copy: callers may filter it)."""
    return dict(_BY_NAME)


def get_tool(name: str) -> ToolSpec:
    """The tool called ``name``; a KeyError lists the known names."""
    if name not in _BY_NAME:
        raise KeyError(f"unknown tool {name!r}; known tools: {', '.join(sorted(_BY_NAME))}")
    return _BY_NAME[name]


def _bad_params(name: str, params: dict[str, Any], exc: ValidationError) -> ToolResult:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}" for err in exc.errors()
    )
    return ToolResult(
        tool=name,
        params=params,
        status=ToolStatus.ERROR,
        summary=f"refused: bad parameters ({problems})",
        error=f"bad parameters: {problems}",
    )


async def run_tool(platform: Platform, name: str, params: dict[str, Any]) -> ToolResult:
    """Run one tool. Never raises for upstream trouble: that becomes an ``error`` result naming the
    request and the reason. Bad parameters become an ``error`` result that says what was wrong.

    Every request is bounded by ``platform.policy`` (the deadline and retries the platform's
    clients were built with), so the caller chooses the bound, never this module.
    """
    spec = get_tool(name)
    started = time.perf_counter()
    try:
        parsed = spec.params.model_validate(params)
    except ValidationError as exc:
        return redact_result(_bad_params(name, params, exc))
    with recording() as requests:
        try:
            finding = await spec.body(platform, parsed)
        except UpstreamError as exc:
            finding = Finding(
                ToolStatus.ERROR, f"could not get an answer: {exc.reason}", None, exc.reason
            )
    result = ToolResult(
        tool=name,
        params=parsed.model_dump(mode="json"),
        status=finding.status,
        summary=finding.summary,
        evidence=finding.evidence.model_dump(mode="json") if finding.evidence is not None else {},
        requests=list(requests),
        error=finding.error,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    return redact_result(result)  # before anything keeps it: agent state, checkpoints, audit

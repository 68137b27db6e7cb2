"""`model-incident check TARGET`: every read-only finding about one target, in one table.

The target's kind is asked of the platform (an agent of the gateway, a registered model, otherwise
a serving endpoint, which may well be missing), then every relevant read-only tool runs at once.
The tools, the platform and rich are imported inside the functions, not at start-up of the CLI.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from bot.domain import TargetKind
    from bot.settings import Settings
    from tools.platform import Platform
    from tools.result import ToolResult


_STATUS_STYLE = {"ok": "green", "no_data": "yellow", "error": "red"}  # by ToolStatus value


@dataclass(frozen=True)
class CheckReport:
    target: str
    kind: TargetKind
    reason: str
    results: list[ToolResult]
    skipped: list[str]


async def _gateway_knows(platform: Platform, target: str) -> tuple[bool | None, str]:
    """Whether the agent gateway has an agent ``target``; ``None`` (and why) when it did not
    answer, which is not the same as "no"."""
    from tools.clients.errors import UpstreamError

    try:
        return target in {a.agent for a in await platform.gateway.list_agents()}, ""
    except UpstreamError as exc:
        return None, exc.reason


async def _is_model(platform: Platform, target: str) -> bool:
    from tools.clients.errors import UpstreamError

    try:
        await platform.registry.get_model(target)
    except UpstreamError:
        return False
    return True


async def classify(platform: Platform, target: str) -> tuple[TargetKind, str]:
    """Whether ``target`` is an agent, a registered model or a serving endpoint. It is checked
    as a missing endpoint only when the gateway answered that it has no such agent; while the
    gateway does not answer, the kind is ``unknown`` and both kinds of checks run."""
    from tools.clients.errors import NotFound, UpstreamError

    (agent, gateway_error), model = await asyncio.gather(
        _gateway_knows(platform, target), _is_model(platform, target)
    )
    if agent:
        return "agent", "the agent gateway knows it"
    if model:
        return "model", "the model registry knows it"
    try:
        await platform.serving.get_endpoint(target)
    except NotFound:
        if agent is None:
            return "unknown", (
                f"the agent gateway is unreachable ({gateway_error}) and the serving API has no "
                "such endpoint: checking it as an agent and as an endpoint"
            )
        return "endpoint", "neither an agent nor a model: checking it as a (missing) endpoint"
    except UpstreamError as exc:
        if agent is None:
            return "unknown", (
                f"neither the agent gateway ({gateway_error}) nor the serving API ({exc.reason}) "
                "answered: checking it as an agent and as an endpoint"
            )
        return "endpoint", "neither an agent nor a model; the serving API did not answer"
    return "endpoint", "the serving API knows it"


async def _served_model(platform: Platform, endpoint: str) -> str | None:
    from tools.clients.errors import UpstreamError

    try:
        served = (await platform.serving.get_endpoint(endpoint)).config.served_entities
    except UpstreamError:
        return None
    return served[0].entity_name if served else None


async def plan(
    platform: Platform, target: str, kind: TargetKind
) -> list[tuple[str, dict[str, Any]]]:
    """The read-only tool calls that say something about a target of this kind (both the agent's
    and the endpoint's when the kind is unknown)."""
    agent: list[tuple[str, dict[str, Any]]] = [
        ("agent_health", {"agent": target}),
        ("fallback_probe", {"agent": target}),
        ("provider_check", {}),
        ("slis", {"target": target}),
        ("gateway_logs", {"source": target}),
        ("platform_events", {"resource": target}),
    ]
    if kind == "agent":
        return agent
    if kind == "model":
        return [
            ("registry_versions", {"model": target}),
            ("platform_events", {"resource": target}),
        ]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("endpoint_status", {"endpoint": target}),
        ("list_endpoints", {"name": target}),
        ("sample_invocation", {"endpoint": target}),
        ("signature_check", {"endpoint": target}),
        ("pipeline_usage", {"endpoint": target}),
        ("platform_events", {"resource": target}),
        ("slis", {"target": target}),
        ("gateway_logs", {"source": target}),
    ]
    if kind == "unknown":
        calls += [c for c in agent if c not in calls]
    model = await _served_model(platform, target)
    if model:
        calls.append(("registry_versions", {"model": model}))
    return calls


async def check_target(platform: Platform, target: str) -> CheckReport:
    """Classify ``target`` and run every relevant read-only tool concurrently."""
    from tools.catalog import catalogue, run_tool

    kind, reason = await classify(platform, target)
    known = catalogue()
    planned = await plan(platform, target, kind)
    calls = [(n, p) for n, p in planned if n in known and known[n].kind == "read"]
    skipped = [n for n, _ in planned if n not in known]
    results = await asyncio.gather(*(run_tool(platform, name, params) for name, params in calls))
    return CheckReport(target, kind, reason, list(results), skipped)


def render(console: Console, report: CheckReport) -> None:
    """The report as a table: tool, status, summary and the requests to re-run it."""
    from rich.table import Table

    table = Table(title=f"{report.target} ({report.kind}: {report.reason})", show_lines=True)
    table.add_column("tool", style="bold")
    table.add_column("status")
    table.add_column("summary", overflow="fold")
    table.add_column("request", overflow="fold", style="dim")
    for result in report.results:
        style = _STATUS_STYLE.get(result.status.value, "white")
        summary = result.summary if result.error is None else f"{result.summary}\n{result.error}"
        # The first request re-runs the finding; a tool that fans out (slis) says how many more.
        requests = result.requests[0].as_curl() if result.requests else ""
        if len(result.requests) > 1:
            requests += f"\n(+{len(result.requests) - 1} more requests)"
        table.add_row(result.tool, f"[{style}]{result.status.value}[/]", summary, requests)
    console.print(table)
    if report.skipped:
        console.print(f"[yellow]not in this build's catalogue: {', '.join(report.skipped)}[/]")


async def _check(settings: Settings, target: str, faults: list[str]) -> CheckReport:
    from bot.compose import open_platform

    if faults and settings.platform != "sandbox":
        raise typer.BadParameter("--fault needs the embedded sandbox (PLATFORM=sandbox)")
    async with open_platform(settings, faults=faults) as (platform, _sandbox):
        return await check_target(platform, target)


def check(
    target: str = typer.Argument(..., help="endpoint, agent or registered model"),
    fault: list[str] = typer.Option([], help="sandbox fault to inject first: ID[:TARGET]"),
) -> None:
    """Print every read-only tool's finding for one target."""
    from rich.console import Console

    from bot.settings import Settings

    report = asyncio.run(_check(Settings(), target, fault))
    render(Console(), report)

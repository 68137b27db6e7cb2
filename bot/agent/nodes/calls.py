"""Tool calls from the graph's nodes: run, optionally cached for the walk, always audited."""

from __future__ import annotations

from typing import Any

from bot.agent import walk
from bot.agent.deps import AgentDeps
from tools.catalog import run_tool
from tools.result import ToolResult

BOT = "model-incident-bot"


async def call_tool(
    deps: AgentDeps,
    incident_id: str,
    tool: str,
    params: dict[str, Any],
    cache: dict[str, dict[str, Any]] | None = None,
) -> ToolResult:
    """Run ``tool`` and audit the call with its requests.

    With a ``cache`` (the walk's readings of the world as it stands), a reading already taken is
    reused instead of asked again, and is not audited twice. Proposals and verification pass no
    cache: they must see the world as it is now.
    """
    key = walk.cache_key(tool, params)
    if cache is not None and key in cache:
        return ToolResult.model_validate(cache[key])
    result = await run_tool(deps.platform, tool, params)
    if cache is not None:
        cache[key] = result.model_dump(mode="json")
    await deps.records.audit(
        incident_id,
        "tool_call",
        BOT,
        {
            "tool": tool,
            "params": params,
            "status": result.status.value,
            "summary": result.summary,
            "requests": [r.as_curl() for r in result.requests],
            "error": result.error,
        },
    )
    return result

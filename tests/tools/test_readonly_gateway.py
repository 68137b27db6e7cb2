"""`agent_health` and `fallback_probe` against the sandbox's gateway."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sandbox.runtime import Sandbox
from tools.catalog import run_tool
from tools.policy import CallPolicy


async def test_healthy_fleet_and_one_agent(platform: Any) -> None:
    result = await run_tool(platform, "agent_health", {"agent": "qa_agent"})
    ev = result.evidence
    assert result.status == "ok"
    assert ev["gateway_status"] == "ok" and ev["agents_total"] == 5 and ev["agents_down"] == 0
    assert not ev["all_down"] and not ev["all_failing"] and ev["agents_failing"] == 0
    assert ev["agent"]["finetuned_model"].startswith("ft:") and ev["agent"]["use_fallback"]


async def test_all_agents_down(sandbox: Sandbox, platform: Any) -> None:
    await sandbox.inject("agent.all_down")
    ev = (await run_tool(platform, "agent_health", {})).evidence
    assert ev["all_down"] and ev["agents_down"] == ev["agents_total"] == 5
    assert ev["all_failing"] and ev["agents_failing"] == 5
    assert ev["agent"] is None


async def test_unknown_agent_names_the_known_ones(platform: Any) -> None:
    result = await run_tool(platform, "agent_health", {"agent": "qa_agnet"})
    assert result.status == "error"
    assert "qa_agent" in (result.error or "") and "404" in (result.error or "")


async def test_probe_falls_back_when_the_finetuned_model_is_gone(
    sandbox: Sandbox, platform: Any
) -> None:
    await sandbox.inject("provider.finetuned_model_gone", "qa_agent")
    ev = (await run_tool(platform, "fallback_probe", {"agent": "qa_agent"})).evidence
    assert ev["answered"] and ev["fell_back"]
    assert ev["model_used"] == "open-mistral-7b" and ev["error"]


async def test_probe_with_no_model_answering(sandbox: Sandbox, platform: Any) -> None:
    await sandbox.inject("provider.invalid_key")
    result = await run_tool(platform, "fallback_probe", {"agent": "qa_agent"})
    assert result.status == "ok"
    assert result.evidence["answered"] is False and result.evidence["error"]


async def test_slow_gateway_is_an_error_within_the_deadline(
    outage: Callable[..., Awaitable[None]], platform: Any, policy: CallPolicy
) -> None:
    await outage(gateway="slow")
    started = time.perf_counter()
    result = await run_tool(platform, "agent_health", {})
    assert time.perf_counter() - started < policy.timeout_s + 1
    assert result.status == "error" and result.evidence == {}
    assert "GET http://sandbox/gateway/health" in (result.error or "")


async def test_an_agent_served_from_an_endpoint_says_which(sandbox: Sandbox, platform: Any) -> None:
    def serve_from_endpoint(world: Any) -> Any:
        copy = world.model_copy(deep=True)
        agent = copy.agent("qa_agent")
        agent.endpoint = "qa-ft"
        return copy

    await sandbox.state.mutate(serve_from_endpoint)
    result = await run_tool(platform, "agent_health", {"agent": "qa_agent"})
    assert result.evidence["agent"]["endpoint"] == "qa-ft"
    assert "served by endpoint qa-ft" in result.summary
    assert result.evidence["agent"]["status"] == "degraded"  # qa-ft does not exist: fallbacks
    other = await run_tool(platform, "agent_health", {"agent": "support_agent"})
    assert other.evidence["agent"]["endpoint"] is None

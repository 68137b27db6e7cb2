"""Gateway mutations against the sandbox: one agent or the whole fleet, applied once."""

from __future__ import annotations

from tools.catalog import run_tool
from tools.platform import Platform
from tools.result import ToolStatus


async def agent(platform: Platform, name: str = "qa_agent") -> object:
    return await platform.gateway.agent_health(name)


async def test_rollout_percentage_for_one_agent(platform: Platform) -> None:
    params = {"agent": "qa_agent", "percentage": 25, "idempotency_key": "ro"}
    dry = await run_tool(platform, "set_rollout_percentage", params)
    assert dry.evidence["diff"] == [
        {"path": "qa_agent.rollout_percentage", "before": 100, "after": 25}
    ]
    assert (await platform.gateway.agent_health("qa_agent")).rollout_percentage == 100

    applied = await run_tool(platform, "set_rollout_percentage", {**params, "dry_run": False})
    assert applied.evidence["applied"] is True
    assert (await platform.gateway.agent_health("qa_agent")).rollout_percentage == 25
    assert (await platform.gateway.agent_health("support_agent")).rollout_percentage == 100
    again = await run_tool(platform, "set_rollout_percentage", {**params, "dry_run": False})
    assert again.evidence["already_applied"] is True


async def test_rollout_refuses_out_of_range_and_unknown_agents(platform: Platform) -> None:
    too_much = await run_tool(
        platform,
        "set_rollout_percentage",
        {"agent": "qa_agent", "percentage": 120, "idempotency_key": "k", "dry_run": False},
    )
    assert too_much.status is ToolStatus.ERROR and "percentage" in (too_much.error or "")
    unknown = await run_tool(
        platform,
        "set_rollout_percentage",
        {"agent": "qa_agnet", "percentage": 10, "idempotency_key": "k", "dry_run": False},
    )
    assert unknown.status is ToolStatus.ERROR and "agent" in (unknown.error or "")


async def test_switch_whole_fleet_to_baseline(platform: Platform) -> None:
    params = {"agent": "*", "idempotency_key": "fleet", "dry_run": False}
    applied = await run_tool(platform, "switch_agent_to_baseline", params)
    assert applied.status is ToolStatus.OK, applied.error
    agents = await platform.gateway.list_agents()
    assert agents and all(a.use_finetuned is False for a in agents)
    assert len(applied.evidence["diff"]) == len(agents)
    again = await run_tool(platform, "switch_agent_to_baseline", params)
    assert again.evidence["already_applied"] is True


async def test_enable_fallback(platform: Platform, sandbox: object) -> None:
    await sandbox.inject("agent.fallback_disabled", "qa_agent")  # type: ignore[attr-defined]
    assert (await platform.gateway.agent_health("qa_agent")).use_fallback is False
    params = {"agent": "qa_agent", "idempotency_key": "fb", "dry_run": False}
    applied = await run_tool(platform, "enable_fallback", params)
    assert applied.evidence["applied"] is True
    assert (await platform.gateway.agent_health("qa_agent")).use_fallback is True
    assert (await run_tool(platform, "enable_fallback", params)).evidence["already_applied"] is True


async def test_restart_gateway_once_per_key(platform: Platform) -> None:
    dry = await run_tool(platform, "restart_gateway", {"idempotency_key": "gw"})
    assert dry.evidence["dry_run"] is True and not any(r.method == "POST" for r in dry.requests)
    applied = await run_tool(
        platform, "restart_gateway", {"idempotency_key": "gw", "dry_run": False}
    )
    assert applied.status is ToolStatus.OK, applied.error
    assert applied.evidence["applied"] is True
    again = await run_tool(platform, "restart_gateway", {"idempotency_key": "gw", "dry_run": False})
    assert again.evidence["already_applied"] is True

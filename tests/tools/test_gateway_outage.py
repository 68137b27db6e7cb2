"""A gateway outage is reported as one, to the gateway's owner, never as a missing endpoint.

The attack (issue 8, item 7): with the agent gateway down, ``qa_agent`` was taken for a serving
endpoint that does not exist and escalated to the platform admin as "Endpoint qa_agent does not
exist". A target is called unknown only when every source that could know it answered. The
outage is switched on through the sandbox's own control API; the bot runs as the CLI builds it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.agent.types import FinalState, Trigger
from bot.commands.check import check_target
from bot.compose import App, open_app
from bot.service.models import OpenRequest
from bot.settings import Settings
from sandbox.runtime import Sandbox
from tools.platform import Platform

GatewayMode = Callable[[str], Awaitable[None]]


@pytest.fixture
def gateway(sandbox: Sandbox) -> GatewayMode:
    """``await gateway("down")``: the gateway's outage, set over ``/sandbox/world``."""

    async def set_mode(mode: str) -> None:
        async with sandbox.http_client() as http:
            world = (await http.get("/sandbox/world")).json()
            world["outages"]["gateway"] = mode
            answer = await http.put("/sandbox/world", json=world)
            assert answer.status_code == 200, answer.text

    return set_mode


@pytest.fixture
async def app(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[App]:
    settings = Settings(
        _env_file=None,
        state_dir=tmp_path / "state",
        approvers=["alice"],
        tool_timeout_s=1.0,
        tool_retries=0,
        max_verify_wait_s=0.0,
    )
    async with open_app(settings, sandbox=sandbox) as opened:
        yield opened


async def incident(app: App, trigger: Trigger) -> tuple[str, object]:
    view = await app.service.open(OpenRequest(trigger=trigger, requester="oncall-user"))
    assert view.outcome is not None, view
    return view.incident_id, view.outcome


@pytest.mark.parametrize(
    ("mode", "failure"), [("down", "HTTP 503"), ("slow", "no answer within 1 s")]
)
async def test_an_agent_behind_a_dead_gateway_goes_to_the_gateway_owner(
    app: App, gateway: GatewayMode, mode: str, failure: str
) -> None:
    await gateway(mode)
    incident_id, outcome = await incident(app, Trigger(target="qa_agent"))
    assert outcome.final_state is FinalState.ESCALATED  # type: ignore[attr-defined]
    escalation = outcome.escalation  # type: ignore[attr-defined]
    assert escalation["to"] == "devops-lead"
    reason = escalation["reason"]
    assert "gateway is unreachable" in reason
    assert f"GET http://sandbox/gateway/health: {failure}" in reason, reason
    assert "does not exist" not in reason and "platform-admin" not in reason
    assert outcome.target_kind == "unknown"  # type: ignore[attr-defined]
    # The request that failed is in the audit trail too, re-runnable.
    audit = await app.store.list_audit(incident_id=incident_id)
    calls = [e.payload for e in audit if e.kind == "tool_call"]
    health = next(c for c in calls if c["tool"] == "agent_health")
    assert health["status"] == "error"
    assert any("http://sandbox/gateway/health" in r for r in health["requests"])


async def test_an_endpoint_the_serving_api_knows_is_still_diagnosed_with_the_gateway_down(
    app: App, sandbox: Sandbox, gateway: GatewayMode
) -> None:
    await sandbox.inject("performance.new_version_regression", "sentiment-endpoint")
    await gateway("down")
    view = await app.service.open(
        OpenRequest(trigger=Trigger(target="sentiment-endpoint"), requester="oncall-user")
    )
    assert view.pending is not None, view
    assert view.pending.tool == "rollback_to_previous_champion"


async def test_a_name_no_source_knows_is_unknown_only_when_every_source_answered(
    app: App,
) -> None:
    _, outcome = await incident(app, Trigger(target="qa_agnet"))
    assert outcome.final_state is FinalState.ESCALATED  # type: ignore[attr-defined]
    assert outcome.target_kind == "endpoint"  # type: ignore[attr-defined]
    assert outcome.escalation["to"] == "platform-admin"  # type: ignore[attr-defined]
    assert "gateway" not in outcome.escalation["reason"]  # type: ignore[attr-defined]


async def test_check_runs_agent_and_endpoint_checks_while_the_gateway_is_down(
    platform: Platform, gateway: GatewayMode
) -> None:
    await gateway("down")
    report = await check_target(platform, "qa_agent")
    assert report.kind == "unknown"
    assert "gateway is unreachable" in report.reason and "HTTP 503" in report.reason
    by_tool = {r.tool: r for r in report.results}
    assert by_tool["agent_health"].status == "error"
    assert by_tool["endpoint_status"].evidence["exists"] is False

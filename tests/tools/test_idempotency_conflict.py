"""A replayed idempotency key whose read-back is not the desired state is a conflict, never ok.

The attack (issue 8, item 8): a key is retried after someone changed the state, or with other
parameters; the platform replays its stored answer and changes nothing. Before, the tool
reported the change as applied and a rollback left the champion alias at the old champion's
successor while the endpoint still served the reverted version. Everything here goes through
the sandbox's HTTP app (in-process ASGI), with its own idempotency replay.
"""

from __future__ import annotations

from typing import Any

from sandbox.runtime import Sandbox
from tools.catalog import run_tool
from tools.platform import Platform
from tools.result import ToolStatus

ENDPOINT = "sentiment-endpoint"
MODEL = "main.ml.sentiment_classifier"


async def served_versions(platform: Platform) -> list[str]:
    endpoint = await platform.serving.get_endpoint(ENDPOINT)
    return [e.entity_version for e in endpoint.config.served_entities]


async def champion(platform: Platform) -> str:
    return (await platform.registry.version_by_alias(MODEL, "champion")).version


async def test_rollback_retried_after_a_revert_is_a_conflict_and_keeps_alias_and_route_together(
    sandbox: Sandbox, platform: Platform
) -> None:
    params: dict[str, Any] = {
        "model": MODEL,
        "endpoint": ENDPOINT,
        "idempotency_key": "rollback-1",
        "dry_run": False,
    }
    first = await run_tool(platform, "rollback_to_previous_champion", params)
    assert first.status is ToolStatus.OK, first.error
    assert (await champion(platform), await served_versions(platform)) == ("3", ["3"])

    # Someone reverts both halves by hand (their own request, no key of ours).
    async with sandbox.http_client() as http:
        reverted = await http.put(
            f"/api/2.0/serving-endpoints/{ENDPOINT}/config",
            json=first.evidence["before"]["endpoint"],
        )
        assert reverted.status_code == 200, reverted.text
    await platform.registry.set_alias(MODEL, "champion", "4")
    assert (await champion(platform), await served_versions(platform)) == ("4", ["4"])

    again = await run_tool(platform, "rollback_to_previous_champion", params)
    assert again.status is ToolStatus.CONFLICT, again.summary
    assert not again.ok
    assert "replayed" in again.summary and "rollback-1" in again.summary
    assert again.error and "conflict" in again.error
    ev = again.evidence
    assert ev["applied"] is False and ev["replayed"] is True
    assert any(c["path"].startswith("endpoint.") for c in ev["mismatch"])
    assert [r.replayed for r in again.requests if r.method == "PUT"] == [True]
    # The alias the tool moved is put back: the registry names what the endpoint serves.
    assert (await champion(platform), await served_versions(platform)) == ("4", ["4"])
    assert ev["after"]["champion"] == "4"


async def test_traffic_split_key_reused_with_other_routes_is_a_conflict(
    platform: Platform,
) -> None:
    key = {"endpoint": ENDPOINT, "idempotency_key": "split-1", "dry_run": False}
    first = await run_tool(platform, "set_traffic_split", {**key, "routes": {"4": 90, "3": 10}})
    assert first.status is ToolStatus.OK, first.error

    other = await run_tool(platform, "set_traffic_split", {**key, "routes": {"4": 50, "3": 50}})
    assert other.status is ToolStatus.CONFLICT, other.summary
    assert other.evidence["replayed"] is True and other.evidence["applied"] is False
    endpoint = await platform.serving.get_endpoint(ENDPOINT)
    shares = sorted(r.traffic_percentage for r in endpoint.config.traffic_config.routes)
    assert shares == [10, 90], "the replayed key changed nothing"


async def test_rollout_key_reused_with_another_percentage_is_a_conflict(
    platform: Platform,
) -> None:
    key = {"agent": "qa_agent", "idempotency_key": "rollout-1", "dry_run": False}
    first = await run_tool(platform, "set_rollout_percentage", {**key, "percentage": 25})
    assert first.status is ToolStatus.OK, first.error

    other = await run_tool(platform, "set_rollout_percentage", {**key, "percentage": 0})
    assert other.status is ToolStatus.CONFLICT, other.summary
    assert other.evidence["mismatch"] == [
        {"path": "qa_agent.rollout_percentage", "before": 0, "after": 25}
    ]
    assert (await platform.gateway.agent_health("qa_agent")).rollout_percentage == 25


async def test_a_fresh_key_after_the_revert_applies_normally(
    sandbox: Sandbox, platform: Platform
) -> None:
    """The conflict is about the key, not the change: a new key (a new proposal) applies."""
    key = {"agent": "qa_agent", "dry_run": False}
    await run_tool(
        platform, "set_rollout_percentage", {**key, "percentage": 25, "idempotency_key": "a"}
    )
    fresh = await run_tool(
        platform, "set_rollout_percentage", {**key, "percentage": 0, "idempotency_key": "b"}
    )
    assert fresh.status is ToolStatus.OK and fresh.evidence["applied"] is True
    assert fresh.evidence["replayed"] is False and fresh.evidence["mismatch"] == []
    assert (await platform.gateway.agent_health("qa_agent")).rollout_percentage == 0

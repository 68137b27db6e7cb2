"""Rollback to the previous champion: the MLflow alias and the serving route move together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sandbox.default_world import default_world
from sandbox.platform import platform_for_sandbox
from sandbox.world import World
from tools.catalog import run_tool
from tools.platform import Platform
from tools.policy import CallPolicy
from tools.result import ToolStatus

ENDPOINT = "sentiment-endpoint"
MODEL = "main.ml.sentiment_classifier"


async def served_versions(platform: Platform) -> list[str]:
    endpoint = await platform.serving.get_endpoint(ENDPOINT)
    return [e.entity_version for e in endpoint.config.served_entities]


async def champion(platform: Platform) -> str:
    return (await platform.registry.version_by_alias(MODEL, "champion")).version


async def test_rollback_dry_run_names_the_previous_champion(platform: Platform) -> None:
    result = await run_tool(
        platform,
        "rollback_to_previous_champion",
        {"model": MODEL, "endpoint": ENDPOINT, "idempotency_key": "rb"},
    )
    assert result.status is ToolStatus.OK, result.error
    assert result.evidence["before"]["champion"] == "4"
    assert result.evidence["after"]["champion"] == "3"
    assert await champion(platform) == "4"
    assert await served_versions(platform) == ["4"]


async def test_rollback_moves_alias_and_route_once(platform: Platform) -> None:
    params: dict[str, Any] = {
        "model": MODEL,
        "endpoint": ENDPOINT,
        "idempotency_key": "rb-1",
        "dry_run": False,
    }
    applied = await run_tool(platform, "rollback_to_previous_champion", params)
    assert applied.status is ToolStatus.OK, applied.error
    assert applied.evidence["applied"] is True
    assert await champion(platform) == "3"
    assert await served_versions(platform) == ["3"]

    # The previous champion is now 4; the same key must not roll back any further (or forward).
    again = await run_tool(platform, "rollback_to_previous_champion", params)
    assert again.evidence["already_applied"] is True
    assert await champion(platform) == "3"
    assert await served_versions(platform) == ["3"]


async def test_rollback_refuses_unknown_versions_and_models(platform: Platform) -> None:
    unknown = await run_tool(
        platform,
        "rollback_to_previous_champion",
        {
            "model": MODEL,
            "endpoint": ENDPOINT,
            "to_version": "42",
            "idempotency_key": "k",
            "dry_run": False,
        },
    )
    assert unknown.status is ToolStatus.ERROR and "to_version" in (unknown.error or "")
    no_model = await run_tool(
        platform,
        "rollback_to_previous_champion",
        {"model": "main.ml.nope", "endpoint": ENDPOINT, "idempotency_key": "k", "dry_run": False},
    )
    assert no_model.status is ToolStatus.ERROR and "model" in (no_model.error or "")
    assert await champion(platform) == "4"


async def test_rollback_refuses_when_there_is_no_previous_champion(
    sandbox_factory: Callable[[World], Awaitable[Any]], policy: CallPolicy
) -> None:
    # churn_model with one version only: nothing was ever champion before it.
    raw = default_world().model_dump()
    churn = next(m for m in raw["models"] if m["name"] == "main.ml.churn_model")
    churn["versions"] = churn["versions"][:1]
    churn["aliases"] = {"champion": "1"}
    scorer = next(e for e in raw["endpoints"] if e["name"] == "churn-scorer")
    scorer["config"] = {
        "served_entities": [{"entity_name": "main.ml.churn_model", "entity_version": "1"}]
    }
    raw["events"] = [e for e in raw["events"] if e["resource"] != "main.ml.churn_model"]
    platform = platform_for_sandbox(await sandbox_factory(World.model_validate(raw)), policy)
    result = await run_tool(
        platform,
        "rollback_to_previous_champion",
        {
            "model": "main.ml.churn_model",
            "endpoint": "churn-scorer",
            "idempotency_key": "a",
            "dry_run": False,
        },
    )
    assert result.status is ToolStatus.ERROR and "to_version" in (result.error or "")
    assert (
        await platform.registry.version_by_alias("main.ml.churn_model", "champion")
    ).version == "1"


async def test_failed_serving_update_restores_the_alias(platform: Platform, sandbox: Any) -> None:
    # An update in progress (not yet stuck) makes the serving API refuse the new config.
    await sandbox.inject("endpoint.stuck_updating", ENDPOINT)
    world = sandbox.world.model_copy(deep=True)
    ep = world.endpoint(ENDPOINT)
    ep.updated_minutes_ago = 2
    await sandbox.set_world(world)
    result = await run_tool(
        platform,
        "rollback_to_previous_champion",
        {"model": MODEL, "endpoint": ENDPOINT, "idempotency_key": "f", "dry_run": False},
    )
    assert result.status is ToolStatus.ERROR
    assert "restored" in (result.error or "")
    assert await champion(platform) == "4"

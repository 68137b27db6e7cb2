"""`registry_versions` against the sandbox's real MLflow registry."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sandbox.default_world import default_world
from sandbox.platform import platform_for_sandbox
from sandbox.runtime import Sandbox
from sandbox.world import Outages
from tools.catalog import run_tool
from tools.policy import CallPolicy

MODEL = "main.ml.sentiment_classifier"


async def test_champion_and_previous_champion(platform: Any) -> None:
    result = await run_tool(platform, "registry_versions", {"model": MODEL})
    ev = result.evidence
    assert result.status == "ok" and ev["model_exists"]
    assert ev["champion"] == "4" and ev["champion_accuracy"] == 0.92
    assert ev["previous_champion"] == "3" and ev["previous_champion_accuracy"] == 0.90
    assert [v["version"] for v in ev["versions"]] == ["1", "2", "3", "4"]
    assert ev["aliases"] == {"champion": "4"}


async def test_unknown_model_suggests_the_closest(platform: Any) -> None:
    result = await run_tool(platform, "registry_versions", {"model": "main.ml.sentiment_clasifier"})
    assert result.status == "ok"
    assert result.evidence["model_exists"] is False
    assert result.evidence["suggestions"][0] == MODEL


async def test_new_version_regression(sandbox: Sandbox, platform: Any) -> None:
    await sandbox.inject("performance.new_version_regression", "sentiment-endpoint")
    ev = (await run_tool(platform, "registry_versions", {"model": MODEL})).evidence
    assert ev["champion"] == "5" and ev["previous_champion"] == "4"


async def test_tags_name_the_history_when_present(
    sandbox_factory: Callable[[Any], Awaitable[Sandbox]], policy: CallPolicy
) -> None:
    world = default_world()
    model = world.model(MODEL)
    assert model is not None
    hours_ago_ms = int((time.time() - 2 * 3600) * 1000)
    champion = model.version("4")
    assert champion is not None
    champion.tags |= {"previous_champion": "1", "champion_since": str(hours_ago_ms)}
    sandbox = await sandbox_factory(world)
    ev = (
        await run_tool(platform_for_sandbox(sandbox, policy), "registry_versions", {"model": MODEL})
    ).evidence
    assert ev["previous_champion"] == "1" and ev["previous_champion_accuracy"] == 0.84
    assert 119 <= ev["champion_changed_minutes_ago"] <= 121


async def test_registry_outage_is_an_error_within_the_deadline(
    sandbox: Sandbox,
) -> None:
    world = sandbox.world.model_copy(update={"outages": Outages(registry="down")})
    await sandbox.set_world(world)
    platform = platform_for_sandbox(sandbox, CallPolicy(timeout_s=1.0, retries=1))
    started = time.perf_counter()
    result = await run_tool(platform, "registry_versions", {"model": MODEL})
    assert time.perf_counter() - started < 3
    assert result.status == "error"
    assert "get_registered_model" in (result.error or "")
    assert result.requests[0].method == "MLFLOW"

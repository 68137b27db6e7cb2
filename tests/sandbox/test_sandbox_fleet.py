"""The fleet's physics: provider behaviour per key, model and agent; metrics over a window that
forget what ended before it; metrics that respond to a fix; invalid fleet worlds refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import ValidationError

from sandbox.runtime import Sandbox
from sandbox.simulation import slis
from sandbox.world import World
from tools.sli_queries import load_queries, render

FT = "ft:open-mistral-7b:{}:20260301"
BASE = ["open-mistral-7b", "mistral-small-latest"]


def fleet(**provider: Any) -> dict[str, Any]:
    names = ["alpha_agent", "beta_agent"]
    return {
        "agents": [{"name": n, "finetuned_model": FT.format(n)} for n in names],
        "provider": {"available_models": [*BASE, *(FT.format(n) for n in names)], **provider},
    }


def test_one_agents_own_key_is_rate_limited_the_others_are_not() -> None:
    spec = fleet(keys={"beta-key": {"rate_limited": True}})
    spec["agents"][1]["api_key"] = "beta-key"
    world = World.model_validate(spec)
    assert slis(world, "beta_agent")["rate_429"] == 1.0
    assert slis(world, "alpha_agent")["error_rate"] == 0.0


def test_a_model_limit_sheds_the_excess_to_the_fallback_and_a_smaller_rollout_fits() -> None:
    spec = fleet(models={FT.format("alpha_agent"): {"rate_limit_per_min": 30.0}})
    spec["agents"][0]["request_rate_per_min"] = 120.0
    world = World.model_validate(spec)
    values = slis(world, "alpha_agent")
    assert values["fallback_rate"] == pytest.approx(0.75)  # 90 of 120 req/min over the limit
    assert values["error_rate"] == 0.0  # the baseline answered them
    world.agents[0].rollout_percentage = 5  # 6 req/min to the fine-tuned model
    assert slis(world, "alpha_agent")["fallback_rate"] == 0.0


def test_intermittent_5xx_of_one_model_behind_a_working_fallback() -> None:
    world = World.model_validate(
        fleet(models={FT.format("beta_agent"): {"error_code": 503, "error_share": 0.2}})
    )
    values = slis(world, "beta_agent")
    assert values["fallback_rate"] == pytest.approx(0.2) and values["error_rate"] == 0.0
    world.agents[1].use_fallback = False
    assert slis(world, "beta_agent")["rate_5xx"] == pytest.approx(0.2)


def test_a_past_episode_counts_only_for_the_part_inside_the_window() -> None:
    spec = fleet()
    spec["metrics"] = {
        "alpha_agent": {
            "history": [{"from_minutes_ago": 50, "to_minutes_ago": 20, "error_rate": 0.6}]
        }
    }
    world = World.model_validate(spec)
    assert slis(world, "alpha_agent", 15)["error_rate"] == 0.0  # ended before the window
    assert slis(world, "alpha_agent", 30)["error_rate"] == pytest.approx(0.6 * 10 / 30)
    assert slis(world, "alpha_agent", 60)["error_rate"] == pytest.approx(0.6 * 30 / 60)


def test_the_gateway_target_is_the_request_weighted_fleet() -> None:
    spec = fleet(models={FT.format("alpha_agent"): {"error_code": 500, "error_share": 1.0}})
    spec["agents"][0].update(use_fallback=False, request_rate_per_min=100.0)
    spec["agents"][1]["request_rate_per_min"] = 300.0
    values = slis(World.model_validate(spec), "gateway")
    assert values["error_rate"] == pytest.approx(0.25)
    assert values["request_rate_per_min"] == 400.0


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"agents": [{"name": "a", "finetuned_model": "m", "api_key": "nope"}]}, "api_key"),
        ({"provider": {"models": {"m": {"error_code": 503, "error_share": 0}}}}, "error_share"),
        (
            {"metrics": {"a": {"history": [{"from_minutes_ago": 5, "to_minutes_ago": 9}]}}},
            "history",
        ),
    ],
)
def test_an_invalid_fleet_world_is_an_error_with_a_path(patch: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as err:
        World.model_validate(patch)
    assert where in str(err.value)


async def test_pinned_symptoms_give_way_to_the_physics_after_a_change(
    sandbox_factory: Callable[[World], Awaitable[Sandbox]],
) -> None:
    spec = fleet()
    spec["metrics"] = {"alpha_agent": {"fallback_rate": 0.4}}
    sandbox = await sandbox_factory(World.model_validate(spec))
    query = render(load_queries()["fallback_rate"], "alpha_agent", 30)
    async with sandbox.http_client() as http:
        before = (await http.get("/gateway/health")).json()
        await http.patch("/gateway/agents/alpha_agent/config", json={"rollout_percentage": 0})
        after = (await http.get("/gateway/health")).json()
        events = (
            await http.get("/api/2.0/audit/serving-events", params={"resource": "alpha_agent"})
        ).json()["events"]
    assert before["agents"]["alpha_agent"] == "degraded"
    assert after["agents"]["alpha_agent"] == "ok"
    assert slis(sandbox.world, "alpha_agent", 30)["fallback_rate"] == 0.0, query
    assert events[0]["details"]["previous_rollout_percentage"] == "100"


async def test_the_gateway_says_when_a_new_key_waits_and_a_restart_picks_it_up(
    sandbox_factory: Callable[[World], Awaitable[Sandbox]],
) -> None:
    world = World.model_validate(fleet(auth="invalid_key", key_rotation_pending=True))
    sandbox = await sandbox_factory(world)
    async with sandbox.http_client() as http:
        health = (await http.get("/gateway/health")).json()
        await http.post("/gateway/restart", headers={"Idempotency-Key": "k1"})
        again = (await http.get("/gateway/health")).json()
    assert health["key_rotation_pending"] is True and health["status"] == "down"
    assert again["key_rotation_pending"] is False and again["status"] == "ok"


async def test_a_range_query_shows_an_episode_where_it_happened(
    sandbox_factory: Callable[[World], Awaitable[Sandbox]],
) -> None:
    import time

    spec = fleet()
    episode = {"from_minutes_ago": 80, "to_minutes_ago": 58, "error_rate": 0.35, "rate_429": 0.35}
    spec["metrics"] = {"alpha_agent": {"history": [episode]}}
    sandbox = await sandbox_factory(World.model_validate(spec))
    now = time.time()
    query = render(load_queries()["rate_429"], "alpha_agent", 5)
    params = {"query": query, "start": now - 90 * 60, "end": now, "step": 300}
    async with sandbox.http_client() as http:
        body = (await http.get("/prometheus/api/v1/query_range", params=params)).json()
    (series,) = body["data"]["result"]
    values = [float(v) for _, v in series["values"]]
    assert len(values) == 19
    assert values[0] == 0.0 and values[-1] == 0.0  # before it began, and now that it ended
    assert max(values) == pytest.approx(0.35)  # 70 min ago: the whole 5-min window inside it
    assert values[4] == pytest.approx(0.35)

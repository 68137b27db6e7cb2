"""Serving physics the seed makes claims about: capacity per workload size and sticky failures."""

from __future__ import annotations

import pytest

from sandbox.default_world import SENTIMENT_ENDPOINT, default_world
from sandbox.runtime import Sandbox
from sandbox.simulation import slis
from sandbox.world import World

EP = SENTIMENT_ENDPOINT


def _sized(size: str, rate: float) -> World:
    world = default_world()
    ep = world.endpoint(EP)
    assert ep is not None
    ep.config.served_entities[0].workload_size = size  # type: ignore[assignment]
    ep.request_rate_per_min = rate
    for pipeline in world.pipelines:
        pipeline.concurrency = 1  # the sentiment pipeline adds 60 req/min
    return World.model_validate(world.model_dump())


@pytest.mark.parametrize(
    ("size", "rate", "healthy"),
    [
        ("Small", 35.0, True),  # 95 req/min in all
        ("Small", 80.0, False),  # 140 req/min: Medium territory
        ("Medium", 880.0, True),  # 940 in all
        ("Medium", 1500.0, False),  # the seed's table: above 1,000 is Large
        ("Large", 1500.0, True),
        ("Large", 9000.0, True),
    ],
)
def test_each_workload_size_serves_the_rate_of_the_seed_table(
    size: str, rate: float, healthy: bool
) -> None:
    values = slis(_sized(size, rate), EP)
    ok = values["latency_p95_ms"] <= 1000 and values["error_rate"] <= 0.001
    assert ok is healthy, values


async def test_reapplying_a_failed_config_fails_again_with_the_same_message() -> None:
    world = default_world()
    ep = world.endpoint(EP)
    assert ep is not None
    message = "Container build failed: could not install package 'torch==9.9'"
    ep.config_update = "UPDATE_FAILED"
    ep.ready = "NOT_READY"
    for entity in ep.config.served_entities:
        entity.deployment = "DEPLOYMENT_FAILED"
        entity.deployment_state_message = message
    sandbox = await Sandbox.start(world=World.model_validate(world.model_dump()))
    try:
        async with sandbox.http_client() as http:
            current = (await http.get(f"/api/2.0/serving-endpoints/{EP}")).json()
            body = {
                "served_entities": [
                    {k: e[k] for k in ("name", "entity_name", "entity_version", "workload_size")}
                    for e in current["config"]["served_entities"]
                ]
            }
            again = await http.put(f"/api/2.0/serving-endpoints/{EP}/config", json=body)
            other = dict(body["served_entities"][0], entity_version="3", name="")
            fixed = await http.put(
                f"/api/2.0/serving-endpoints/{EP}/config", json={"served_entities": [other]}
            )
        assert again.status_code == 200
        state = again.json()
        assert state["state"]["config_update"] == "UPDATE_FAILED"
        messages = [
            e["state"]["deployment_state_message"] for e in state["config"]["served_entities"]
        ]
        assert messages == [message]
        assert fixed.json()["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    finally:
        await sandbox.close()

"""The sandbox's registry is a real MLflow store that mirrors the world, and back."""

from __future__ import annotations

import yaml
from mlflow import MlflowClient

from sandbox.default_world import SENTIMENT_MODEL
from sandbox.runtime import UNREACHABLE_REGISTRY, Sandbox


def _client(sandbox: Sandbox) -> MlflowClient:
    return MlflowClient(tracking_uri=sandbox.tracking_uri, registry_uri=sandbox.tracking_uri)


async def test_registry_is_seeded_from_the_world(sandbox: Sandbox) -> None:
    client = _client(sandbox)
    model = client.get_registered_model(SENTIMENT_MODEL)
    versions = client.search_model_versions(f"name='{SENTIMENT_MODEL}'")
    champion = client.get_model_version_by_alias(SENTIMENT_MODEL, "champion")
    assert model.description.startswith("Classifies")
    assert model.tags["owner"] == "ml-reviews"
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    assert str(champion.version) == "4" and champion.tags["accuracy"] == "0.92"
    mlmodel = yaml.safe_load(
        (sandbox.state.registry_dir.parent / champion.source / "MLmodel").read_text()
    )
    assert '"name": "text"' in mlmodel["signature"]["inputs"]
    assert '"name": "score"' in mlmodel["signature"]["outputs"]


async def test_alias_changes_in_mlflow_reach_the_world_and_the_audit(sandbox: Sandbox) -> None:
    _client(sandbox).set_registered_model_alias(SENTIMENT_MODEL, "champion", "3")
    async with sandbox.http_client() as http:
        world = (await http.get("/sandbox/world")).json()
        events = (
            await http.get(
                "/api/2.0/audit/serving-events",
                params={"resource": SENTIMENT_MODEL, "since_minutes": 5},
            )
        ).json()["events"]
    model = next(m for m in world["models"] if m["name"] == SENTIMENT_MODEL)
    assert model["aliases"]["champion"] == "3"
    assert events[-1]["type"] == "alias_set"
    assert events[-1]["details"] == {"alias": "champion", "version": "3", "previous_version": "4"}


async def test_injected_versions_are_registered(sandbox: Sandbox) -> None:
    await sandbox.inject("performance.new_version_regression")
    champion = _client(sandbox).get_model_version_by_alias(SENTIMENT_MODEL, "champion")
    assert str(champion.version) == "5"


async def test_registry_outage_points_clients_nowhere(sandbox: Sandbox) -> None:
    world = sandbox.world.model_copy(deep=True)
    world.outages.registry = "down"
    await sandbox.set_world(world)
    assert sandbox.tracking_uri == UNREACHABLE_REGISTRY


async def test_close_removes_only_a_temporary_workdir(sandbox: Sandbox) -> None:
    temporary = await Sandbox.start()
    await temporary.close()
    await sandbox.close()
    assert not temporary.workdir.exists()
    assert sandbox.workdir.exists()

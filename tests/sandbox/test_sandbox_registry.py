"""The sandbox's registry is a real MLflow store that mirrors the world, and back."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import yaml
from mlflow import MlflowClient

from sandbox.default_world import SENTIMENT_MODEL, default_world
from sandbox.registry import seed_registry
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


# --------------------------------------------------------------------------- the seeded-rows cache

DAY_MS = 86_400_000
TIME_TAGS = ("created_at", "champion_since")


def _snapshot(uri: str, directory: Path) -> dict[str, Any]:
    """What the bot can read of a store through MlflowClient, paths relative to ``directory``."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    out: dict[str, Any] = {}
    for model in client.search_registered_models():
        versions = sorted(
            client.search_model_versions(f"name='{model.name}'"), key=lambda v: int(v.version)
        )
        out[model.name] = {
            "description": model.description,
            "tags": dict(model.tags),
            "aliases": dict(model.aliases),
            "created": model.creation_timestamp,
            "versions": {
                str(v.version): {
                    "description": v.description,
                    "status": v.status,
                    "source": str(Path(v.source).relative_to(directory)),
                    "tags": dict(v.tags),
                    "created": v.creation_timestamp,
                    "signature": yaml.safe_load((Path(v.source) / "MLmodel").read_text())[
                        "signature"
                    ],
                }
                for v in versions
            },
        }
    return out


def _age(seed_file: Path, ms: int) -> None:
    """Make a cache entry look as if it had been built ``ms`` earlier (its clock and every time
    it holds), as a build that long ago would have written it."""
    seed = json.loads(seed_file.read_text())
    seed["built_ms"] -= ms
    for table in seed["tables"].values():
        for i, column in enumerate(table["columns"]):
            if column in ("creation_time", "last_updated_time"):
                for row in table["rows"]:
                    row[i] -= ms
        if "key" in table["columns"] and "value" in table["columns"]:
            key, value = table["columns"].index("key"), table["columns"].index("value")
            for row in table["rows"]:
                if row[key] in TIME_TAGS:
                    row[value] = str(int(row[value]) - ms)
    seed_file.write_text(json.dumps(seed))


def _close_in_time(fresh: dict[str, Any], replayed: dict[str, Any], slack_ms: int) -> None:
    """The two snapshots are equal, except that times may differ by ``slack_ms``."""
    for name, model in fresh.items():
        other = replayed[name]
        assert abs(model.pop("created") - other.pop("created")) <= slack_ms
        for number, version in model["versions"].items():
            twin = other["versions"][number]
            assert abs(version.pop("created") - twin.pop("created")) <= slack_ms
            for key in TIME_TAGS:
                if key in version["tags"]:
                    mine, theirs = int(version["tags"].pop(key)), int(twin["tags"].pop(key))
                    assert abs(mine - theirs) <= slack_ms, (name, number, key)
    assert fresh == replayed


async def test_a_replayed_store_reads_like_a_store_seeded_now(tmp_path: Path) -> None:
    """A day-old cache entry gives the store a fresh seeding gives today: same models, versions,
    tags, aliases and signatures, sources in its own directory, times of today."""
    world = default_world()
    seeds = tmp_path / "seeds"
    started = time.time()
    seed_registry(world, tmp_path / "first", seeds)
    [seed_file] = seeds.glob("*.json")
    _age(seed_file, DAY_MS)
    replayed_uri = seed_registry(world, tmp_path / "replayed", seeds)
    fresh_uri = seed_registry(world, tmp_path / "fresh", tmp_path / "other-seeds")
    slack_ms = int((time.time() - started) * 1000) + 1000

    replayed = _snapshot(replayed_uri, tmp_path / "replayed")
    fresh = _snapshot(fresh_uri, tmp_path / "fresh")
    champion = replayed[SENTIMENT_MODEL]["versions"]["4"]
    assert "champion_since" in champion["tags"] and "previous_champion" in champion["tags"]
    assert champion["source"].startswith("artifacts")
    _close_in_time(fresh, replayed, slack_ms)


async def test_other_world_content_is_seeded_again_not_served_stale(tmp_path: Path) -> None:
    world = default_world()
    changed = world.model_copy(deep=True)
    model = next(m for m in changed.models if m.name == SENTIMENT_MODEL)
    model.versions[-1].inputs[0].name = "body"
    seeds = tmp_path / "seeds"
    seed_registry(world, tmp_path / "a", seeds)
    uri = seed_registry(changed, tmp_path / "b", seeds)
    signature = _snapshot(uri, tmp_path / "b")[SENTIMENT_MODEL]["versions"]["4"]["signature"]
    assert '"name": "body"' in signature["inputs"]
    assert len(list(seeds.glob("*.json"))) == 2


async def test_an_unusable_cache_entry_falls_back_to_seeding_through_mlflow(
    tmp_path: Path,
) -> None:
    world = default_world()
    seeds = tmp_path / "seeds"
    seed_registry(world, tmp_path / "a", seeds)
    [seed_file] = seeds.glob("*.json")
    seed = json.loads(seed_file.read_text())
    seed["tables"]["no_such_table"] = {"columns": ["x"], "rows": [[1]]}
    seed_file.write_text(json.dumps(seed))
    uri = seed_registry(world, tmp_path / "b", seeds)
    versions = _snapshot(uri, tmp_path / "b")[SENTIMENT_MODEL]["versions"]
    assert sorted(versions, key=int) == ["1", "2", "3", "4"]


def test_a_warm_cache_starts_the_sandbox_without_importing_mlflow(tmp_path: Path) -> None:
    """Start-up seeds by replay; MLflow loads only when something calls it, and then reads the
    store like any other."""
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from pathlib import Path
        from sandbox.runtime import Sandbox

        async def main():
            sandbox = await Sandbox.start(workdir=Path({str(tmp_path)!r}) / sys.argv[1])
            async with sandbox.http_client() as http:
                world = (await http.get("/sandbox/world")).json()
            loaded = "mlflow" in sys.modules
            from mlflow import MlflowClient
            client = MlflowClient(sandbox.tracking_uri, registry_uri=sandbox.tracking_uri)
            champion = client.get_model_version_by_alias({SENTIMENT_MODEL!r}, "champion")
            print(json.dumps({{"mlflow_loaded": loaded, "champion": str(champion.version),
                              "models": len(world["models"])}}))

        asyncio.run(main())
        """
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, name], capture_output=True, text=True, check=True
        )
        for name in ("warm-up", "measured")
    ]
    measured = json.loads(runs[1].stdout.strip().splitlines()[-1])
    assert measured == {"mlflow_loaded": False, "champion": "4", "models": 2}


async def test_every_alias_move_is_read_back_even_in_quick_succession(sandbox: Sandbox) -> None:
    """Reading aliases back is skipped only while the store is unchanged."""
    client = _client(sandbox)
    async with sandbox.http_client() as http:
        for version in ("3", "2", "4"):
            client.set_registered_model_alias(SENTIMENT_MODEL, "champion", version)
            world = (await http.get("/sandbox/world")).json()
            model = next(m for m in world["models"] if m["name"] == SENTIMENT_MODEL)
            assert model["aliases"]["champion"] == version
    moves = [e for e in sandbox.world.events if e.type == "alias_set" and e.actor == "mlflow"]
    assert [e.details["version"] for e in moves] == ["3", "2", "4"]

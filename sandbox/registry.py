"""The sandbox's model registry: a real MLflow store (SQLite + a local artifact directory) seeded
from ``world.models``, so the bot's registry adapter runs the real ``MlflowClient`` against it.

A fresh SQLite store runs MLflow's migrations (seconds), so one migrated empty store is built per
MLflow version and copied for every sandbox. Every write goes through ``MlflowClient``; the only
file we write ourselves is each version's ``MLmodel`` (mlflow's signature classes need numpy).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from sandbox.world import Field_, ModelVersion, RegisteredModel, World

DB_NAME = "mlflow.db"


def tracking_uri_for(directory: Path) -> str:
    """The SQLite tracking/registry URI of the store in ``directory``."""
    return f"sqlite:///{(directory / DB_NAME).resolve()}"


def _client(tracking_uri: str):  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def template_db() -> Path:
    """A migrated, empty MLflow SQLite file, built once per MLflow version and machine.

    Safe under parallel test workers: each builds in its own directory and renames atomically.
    """
    import mlflow

    cache = Path(tempfile.gettempdir()) / f"model-incident-mlflow-{mlflow.__version__}"
    target = cache / DB_NAME
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix="build-", dir=cache))
    _client(tracking_uri_for(build)).search_registered_models()
    os.replace(build / DB_NAME, target)
    shutil.rmtree(build, ignore_errors=True)
    return target


def _colspec(fields: list[Field_]) -> str:
    return json.dumps([{"type": f.type, "name": f.name, "required": f.required} for f in fields])


def write_mlmodel(directory: Path, version: ModelVersion) -> None:
    """Write the ``MLmodel`` file of one version: the signature lives there, not in the registry."""
    directory.mkdir(parents=True, exist_ok=True)
    mlmodel = {
        "artifact_path": "model",
        "flavors": {
            "python_function": {"loader_module": "sandbox.model", "python_version": "3.11"}
        },
        "model_uuid": f"sandbox-{version.version}",
        "signature": {
            "inputs": _colspec(version.inputs),
            "outputs": _colspec(version.outputs),
            "params": None,
        },
    }
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False), encoding="utf-8")


def _artifact_dir(artifacts: Path, model: str, version: str) -> Path:
    return artifacts / model.replace("/", "_") / version


def sync_registry(world: World, tracking_uri: str, artifacts: Path) -> None:
    """Make the registry hold what ``world.models`` says: models, versions (with their ``MLmodel``),
    tags, descriptions and aliases. Idempotent; never deletes models or versions."""
    from mlflow.exceptions import MlflowException

    client = _client(tracking_uri)
    now_ms = int(time.time() * 1000)
    for model in world.models:
        try:
            client.get_registered_model(model.name)
        except MlflowException:
            client.create_registered_model(
                model.name, tags=model.tags, description=model.description
            )
        existing = {str(mv.version) for mv in client.search_model_versions(f"name='{model.name}'")}
        lineage = _lineage_tags(world, model, now_ms)
        for version in sorted(model.versions, key=lambda v: int(v.version)):
            path = _artifact_dir(artifacts, model.name, version.version)
            write_mlmodel(path, version)
            tags = {**lineage.get(version.version, {}), **version.tags}
            if version.version not in existing:
                created = client.create_model_version(
                    model.name, source=str(path), tags=tags, description=version.description
                )
                if str(created.version) != version.version:
                    raise ValueError(
                        f"{model.name}: versions must be numbered 1, 2, ... in order; "
                        f"registry assigned {created.version} for world version {version.version}"
                    )
            else:
                for key, value in tags.items():
                    client.set_model_version_tag(model.name, version.version, key, value)
        _sync_model_aliases(client, model)


def _lineage_tags(world: World, model: RegisteredModel, now_ms: int) -> dict[str, dict[str, str]]:
    """Tags a real deploy pipeline writes and the registry tool reads: when each version was
    created (MLflow would stamp "now" when the sandbox seeds it) and when the champion alias last
    moved, with the version it replaced (from the world's ``alias_set`` events)."""
    tags: dict[str, dict[str, str]] = {
        v.version: {"created_at": str(now_ms - int(v.created_minutes_ago * 60_000))}
        for v in model.versions
    }
    champion = model.aliases.get("champion")
    moves = sorted(
        (
            e
            for e in world.events
            if e.type == "alias_set"
            and e.resource == model.name
            and e.details.get("alias", "champion") == "champion"
            and e.details.get("version") == champion
        ),
        key=lambda e: e.minutes_ago,
    )
    if champion in tags and moves:
        latest = moves[0]
        tags[champion]["champion_since"] = str(now_ms - int(latest.minutes_ago * 60_000))
        previous = latest.details.get("previous_version")
        if previous and model.version(previous) is not None:
            tags[champion]["previous_champion"] = previous
    return tags


def _sync_model_aliases(client, model: RegisteredModel) -> None:  # type: ignore[no-untyped-def]
    current = dict(client.get_registered_model(model.name).aliases or {})
    for alias, version in model.aliases.items():
        if current.get(alias) != version:
            client.set_registered_model_alias(model.name, alias, version)
    for alias in set(current) - set(model.aliases):
        client.delete_registered_model_alias(model.name, alias)


def seed_registry(world: World, directory: Path) -> str:
    """Create the store in ``directory`` from the template and seed it. Returns its tracking URI."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template_db(), directory / DB_NAME)
    uri = tracking_uri_for(directory)
    sync_registry(world, uri, directory / "artifacts")
    return uri


def read_aliases(world: World, tracking_uri: str) -> dict[str, dict[str, str]]:
    """The aliases the registry holds for each model of the world."""
    client = _client(tracking_uri)
    out: dict[str, dict[str, str]] = {}
    for model in world.models:
        out[model.name] = {
            k: str(v) for k, v in (client.get_registered_model(model.name).aliases or {}).items()
        }
    return out


def sync_aliases(
    world: World, tracking_uri: str
) -> tuple[World, list[tuple[str, str, str | None, str | None]]]:
    """The world with its aliases read back from the registry (after someone changed them through
    MLflow), and the changes as ``(model, alias, before, after)``."""
    registry = read_aliases(world, tracking_uri)
    changes: list[tuple[str, str, str | None, str | None]] = []
    copy = world.model_copy(deep=True)
    for model in copy.models:
        after = registry.get(model.name, {})
        for alias in sorted(set(after) | set(model.aliases)):
            if model.aliases.get(alias) != after.get(alias):
                changes.append((model.name, alias, model.aliases.get(alias), after.get(alias)))
        # Only versions the world knows: a version registered outside the sandbox has no behaviour.
        model.aliases = {a: v for a, v in after.items() if model.version(v) is not None}
    return (World.model_validate(copy.model_dump()) if changes else world), changes

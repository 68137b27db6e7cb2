"""The sandbox's model registry: a real MLflow store (SQLite + a local artifact directory) seeded
from ``world.models``, so the bot's registry adapter runs the real ``MlflowClient`` against it.

A fresh SQLite store runs MLflow's migrations (seconds), so one migrated empty store is built per
MLflow version and copied for every sandbox. Seeding it through ``MlflowClient`` costs the MLflow
import and a few hundred milliseconds of writes, so the rows those writes leave behind are kept
too, once per seeding input (a digest of the world's models and champion moves, this module and
the MLflow version): a later sandbox of the same world copies the template and replays them
with the standard library's ``sqlite3``, and MLflow is first imported by whoever first calls it.
Only what depends on the sandbox is fixed on replay: artifact paths (into its own directory) and
times (MLflow's timestamps shifted, the lineage tags recomputed for "now"), so a replayed store
reads exactly like a freshly seeded one. Every other write goes through ``MlflowClient``; the
only file we write ourselves is each version's ``MLmodel`` (mlflow's signature classes need
numpy).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from sandbox.sqltypes import colspec, parse_type
from sandbox.world import Field_, ModelVersion, RegisteredModel, World

DB_NAME = "mlflow.db"
# Stands for the sandbox's artifact directory in cached rows (a source path points into it).
_ARTIFACTS = "<sandbox-artifacts>"
# MLflow's own timestamp columns (epoch ms), shifted on replay to the time of the replay.
_TIME_COLUMNS = frozenset({"creation_time", "last_updated_time"})
# The lineage tags that carry a time; recomputed on replay (see ``_lineage_tags``).
_TIME_TAGS = ("created_at", "champion_since")


def tracking_uri_for(directory: Path) -> str:
    """The SQLite tracking/registry URI of the store in ``directory``."""
    return f"sqlite:///{(directory / DB_NAME).resolve()}"


def _client(tracking_uri: str):  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def mlflow_version() -> str:
    """The installed MLflow's version, read from its metadata: importing mlflow takes seconds."""
    for distribution in ("mlflow-skinny", "mlflow"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(distribution)
    raise RuntimeError("mlflow is not installed")


def cache_dir() -> Path:
    """Where the template and the seeded rows live: per MLflow version, shared by every process
    of the machine (each file is written whole and renamed into place)."""
    return Path(tempfile.gettempdir()) / f"model-incident-mlflow-{mlflow_version()}"


def template_db() -> Path:
    """A migrated, empty MLflow SQLite file, built once per MLflow version and machine.

    Safe under parallel test workers: each builds in its own directory and renames atomically.
    """
    cache = cache_dir()
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
    # MLflow's column spec: arrays carry `items`, structs are objects with `properties`.
    return json.dumps(
        [{**colspec(parse_type(f.type)), "name": f.name, "required": f.required} for f in fields]
    )


def write_mlmodel(directory: Path, version: ModelVersion | None, number: str = "") -> None:
    """Write the ``MLmodel`` file of one version: the signature lives there, not in the registry.
    A deleted version (``None``) had one too, but nothing reads it once it is gone."""
    directory.mkdir(parents=True, exist_ok=True)
    mlmodel: dict[str, Any] = {
        "artifact_path": "model",
        "flavors": {
            "python_function": {"loader_module": "sandbox.model", "python_version": "3.11"}
        },
        "model_uuid": f"sandbox-{version.version if version else number}",
    }
    if version is not None:
        mlmodel["signature"] = {
            "inputs": _colspec(version.inputs),
            "outputs": _colspec(version.outputs),
            "params": None,
        }
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False), encoding="utf-8")


def _artifact_dir(artifacts: Path, model: str, version: str) -> Path:
    return artifacts / model.replace("/", "_") / version


def sync_registry(
    world: World, tracking_uri: str, artifacts: Path, now_ms: int | None = None
) -> None:
    """Make the registry hold what ``world.models`` says: models, versions (with their ``MLmodel``),
    tags, descriptions and aliases. Idempotent. A deleted version (``deleted_versions``, or a gap
    in the numbers) is registered and deleted as it happened, so the numbers match the world's;
    nothing else is ever deleted."""
    from mlflow.exceptions import MlflowException

    client = _client(tracking_uri)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    for model in world.models:
        try:
            client.get_registered_model(model.name)
        except MlflowException:
            client.create_registered_model(
                model.name, tags=model.tags, description=model.description
            )
            fresh = True
        else:
            fresh = False
        existing = {str(mv.version) for mv in client.search_model_versions(f"name='{model.name}'")}
        lineage = _lineage_tags(world, model, now_ms)
        for number, version in model.numbers():
            if version is None and not fresh:
                continue  # deleted before: the registry never hands its number out again
            _sync_version(client, model, str(number), version, artifacts, lineage, existing)
        _sync_model_aliases(client, model)


def _sync_version(  # type: ignore[no-untyped-def]
    client,
    model: RegisteredModel,
    number: str,
    version: ModelVersion | None,
    artifacts: Path,
    lineage: dict[str, dict[str, str]],
    existing: set[str],
) -> None:
    """Register version ``number`` (a deleted one is registered, then deleted, as it happened)."""
    path = _artifact_dir(artifacts, model.name, number)
    write_mlmodel(path, version, number)
    tags = {**lineage.get(number, {}), **(version.tags if version else {})}
    if number in existing:
        for key, value in tags.items():
            client.set_model_version_tag(model.name, number, key, value)
        return
    created = client.create_model_version(
        model.name, source=str(path), tags=tags, description=version.description if version else ""
    )
    if str(created.version) != number:
        raise ValueError(
            f"{model.name}: the registry assigned version {created.version} where the world "
            f"has {number}; versions and deleted_versions must leave no number unaccounted for"
        )
    if version is None:
        client.delete_model_version(model.name, number)


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


def seed_registry(world: World, directory: Path, seeds: Path | None = None) -> str:
    """Create the store in ``directory`` from the template and seed it: by replaying the rows a
    seeding of the same input left in ``seeds`` (default: next to the template), or through
    ``MlflowClient``, keeping its rows there for next time. Returns its tracking URI."""
    directory.mkdir(parents=True, exist_ok=True)
    db, artifacts = directory / DB_NAME, directory / "artifacts"
    template = template_db()
    shutil.copyfile(template, db)
    uri = tracking_uri_for(directory)
    cached = (seeds or cache_dir() / "seeds") / f"{seed_digest(world)}.json"
    seed = _read_seed(cached)
    if seed is not None:
        try:
            _replay(seed, world, db, artifacts)
            return uri
        except (sqlite3.Error, KeyError, TypeError, ValueError):
            shutil.copyfile(template, db)  # an unusable cache entry: seed the slow way
    now_ms = int(time.time() * 1000)
    sync_registry(world, uri, artifacts, now_ms=now_ms)
    with contextlib.suppress(ValueError):  # rows that cannot be kept as JSON: seed slowly again
        _write_seed(cached, {"built_ms": now_ms, "tables": _seeded_rows(template, db, artifacts)})
    return uri


def seed_digest(world: World) -> str:
    """What a seeded store depends on: the world's models and champion moves, the code that
    seeds them (this module) and the MLflow version whose schema holds them."""
    moves = [e.model_dump(mode="json") for e in world.events if e.type == "alias_set"]
    payload = {
        "models": [m.model_dump(mode="json") for m in world.models],
        "moves": moves,
        "mlflow": mlflow_version(),
        "code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


Rows = dict[str, dict[str, list[Any]]]  # table -> {"columns": [...], "rows": [[...], ...]}


def _table_rows(
    conn: sqlite3.Connection, table: str, schema: str = "main"
) -> tuple[list[str], list[tuple[Any, ...]]]:
    cursor = conn.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY rowid')
    return [d[0] for d in cursor.description], cursor.fetchall()


def _seeded_rows(template: Path, db: Path, artifacts: Path) -> Rows:
    """Every row seeding added to the template, in table creation order (parents first), with
    the artifact directory written as a placeholder."""
    prefix = str(artifacts)
    out: Rows = {}
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("ATTACH DATABASE ? AS template", (str(template),))
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        ]
        for table in tables:
            columns, rows = _table_rows(conn, table)
            before = set(_table_rows(conn, table, "template")[1])
            added = [[_to_placeholder(v, prefix) for v in row] for row in rows if row not in before]
            if added:
                out[table] = {"columns": columns, "rows": added}
    return out


def _to_placeholder(value: Any, prefix: str) -> Any:
    if isinstance(value, bytes):
        raise ValueError("binary column in a seeded row: not cached")
    if isinstance(value, str) and value.startswith(prefix):
        return _ARTIFACTS + value[len(prefix) :]
    return value


def _replay(seed: dict[str, Any], world: World, db: Path, artifacts: Path) -> None:
    """Insert the cached rows into ``db`` (a copy of the template) as of now, and write the
    ``MLmodel`` files the sources point to."""
    now_ms = int(time.time() * 1000)
    shift = now_ms - int(seed["built_ms"])
    tables: Rows = seed["tables"]
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for table, data in tables.items():
            columns = data["columns"]
            times = [i for i, c in enumerate(columns) if c in _TIME_COLUMNS]
            rows = [_fresh_row(row, times, shift, str(artifacts)) for row in data["rows"]]
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
        for model in world.models:
            for number, tags in _lineage_tags(world, model, now_ms).items():
                own = model.version(number)
                for key in _TIME_TAGS:
                    if key in tags and (own is None or key not in own.tags):
                        conn.execute(
                            "UPDATE model_version_tags SET value = ? "
                            "WHERE name = ? AND version = ? AND key = ?",
                            (tags[key], model.name, int(number), key),
                        )
    for model in world.models:
        for version in model.versions:
            write_mlmodel(_artifact_dir(artifacts, model.name, version.version), version)


def _fresh_row(row: list[Any], times: list[int], shift: int, artifacts: str) -> list[Any]:
    out = [
        artifacts + v[len(_ARTIFACTS) :] if isinstance(v, str) and v.startswith(_ARTIFACTS) else v
        for v in row
    ]
    for i in times:
        value = out[i]
        if isinstance(value, int):
            out[i] = value + shift
    return out


def _read_seed(path: Path) -> dict[str, Any] | None:
    try:
        seed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return seed if isinstance(seed, dict) and "tables" in seed and "built_ms" in seed else None


def _write_seed(path: Path, seed: dict[str, Any]) -> None:
    """Keep the rows for the next sandbox of this world; a failure only costs that speed-up."""
    try:
        text = json.dumps(seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".seed-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError):
        return


def store_fingerprint(directory: Path) -> tuple[int, ...] | None:
    """Changes whenever anyone commits to the store in ``directory`` (this process or another):
    SQLite's file change counter (header bytes 24-27, bumped by every commit in rollback-journal
    mode), the file's size and mtime, and a write-ahead log's if there is one. Reading it costs a
    ``stat``; reading the aliases costs the MLflow import when nothing has imported it yet."""
    db = directory / DB_NAME
    try:
        with db.open("rb") as handle:
            header = handle.read(28)
        stat = db.stat()
    except OSError:
        return None
    mark = [int.from_bytes(header[24:28], "big"), stat.st_size, stat.st_mtime_ns]
    with contextlib.suppress(OSError):
        wal = Path(f"{db}-wal").stat()
        mark += [wal.st_size, wal.st_mtime_ns]
    return tuple(mark)


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

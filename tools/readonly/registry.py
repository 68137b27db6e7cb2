"""`registry_versions`: a registered model's versions, aliases, champion and previous champion.

Rules (the registry keeps no alias history, so it is read from version tags where present):
- ``previous_champion``: the version named by the champion's ``previous_champion`` tag; else the
  version with the latest ``champion_until`` tag; else the most accurate version older than the
  champion whose validation passed (``validation_status`` tag approved/passed/ok; when no earlier
  version carries that tag, every earlier version counts), the newer one on ties.
- A version's creation time: its ``created_at`` tag (epoch ms or ISO 8601) if present, else MLflow's
  creation timestamp. ``champion_changed_minutes_ago``: the champion's ``champion_since`` tag, else
  its creation time.
- Accuracy: the ``accuracy`` tag (a float), or ``None``.
"""

from __future__ import annotations

import difflib
import time
from datetime import datetime

from pydantic import BaseModel, Field

from tools.clients.errors import NotFound, UpstreamError
from tools.clients.registry import ModelVersionInfo
from tools.platform import Platform
from tools.result import ToolStatus
from tools.spec import Finding, tool

CHAMPION = "champion"
PASSED = frozenset({"approved", "passed", "pass", "ok", "success", "succeeded", "valid", "true"})


class RegistryVersionsParams(BaseModel):
    model: str = Field(min_length=1, description="registered model name, e.g. main.ml.sentiment")


class VersionSummary(BaseModel):
    version: str
    created_minutes_ago: float | None
    tags: dict[str, str]
    status: str


class RegistryVersionsEvidence(BaseModel):
    model_exists: bool
    versions: list[VersionSummary] = Field(default_factory=list)
    aliases: dict[str, str] = Field(default_factory=dict)
    champion: str | None = None
    previous_champion: str | None = None
    previous_champion_accuracy: float | None = None
    champion_accuracy: float | None = None
    champion_changed_minutes_ago: float | None = None
    suggestions: list[str] = Field(default_factory=list)


def _epoch_ms(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


def _minutes_since(ms: float | None, now_ms: float) -> float | None:
    return None if ms is None else round(max(0.0, now_ms - ms) / 60000, 1)


def created_ms(v: ModelVersionInfo) -> float | None:
    """When the version was created (its ``created_at`` tag wins over MLflow's timestamp)."""
    tagged = _epoch_ms(v.tags.get("created_at"))
    if tagged is not None:
        return tagged
    return float(v.creation_timestamp) if v.creation_timestamp is not None else None


def accuracy(v: ModelVersionInfo | None) -> float | None:
    """The version's ``accuracy`` tag as a float, or ``None``."""
    if v is None:
        return None
    try:
        return float(v.tags["accuracy"])
    except (KeyError, ValueError):
        return None


def _order(v: ModelVersionInfo) -> tuple[int, str]:
    return (int(v.version) if v.version.isdigit() else -1, v.version)


def previous_champion(
    versions: list[ModelVersionInfo], champion: str | None
) -> ModelVersionInfo | None:
    """The version that held ``champion`` before the current one (rule in the module docstring)."""
    by_version = {v.version: v for v in versions}
    current = by_version.get(champion or "")
    if current is None:
        return None
    named = current.tags.get("previous_champion")
    if named and named in by_version and named != current.version:
        return by_version[named]
    ended = [
        (ms, v)
        for v in versions
        if v.version != current.version and (ms := _epoch_ms(v.tags.get("champion_until")))
    ]
    if ended:
        return max(ended, key=lambda pair: pair[0])[1]
    earlier = [v for v in versions if _order(v) < _order(current)]
    if any("validation_status" in v.tags for v in earlier):
        earlier = [v for v in earlier if v.tags.get("validation_status", "").lower() in PASSED]
    if not earlier:
        return None
    return max(earlier, key=lambda v: (accuracy(v) or 0.0, _order(v)))


@tool(
    "registry_versions",
    kind="read",
    params=RegistryVersionsParams,
    evidence=RegistryVersionsEvidence,
)
async def registry_versions(platform: Platform, params: RegistryVersionsParams) -> Finding:
    """Versions, aliases, champion and previous champion of a registered model."""
    try:
        model = await platform.registry.get_model(params.model)
    except NotFound:
        try:
            names = await platform.registry.list_models()
        except UpstreamError:
            names = []  # suggestions are a courtesy: the finding stands without them
        suggestions = difflib.get_close_matches(params.model, names, n=5, cutoff=0.5)
        hint = f"; did you mean {suggestions[0]!r}?" if suggestions else ""
        return Finding(
            ToolStatus.OK,
            f"model {params.model!r} is not in the registry{hint}",
            RegistryVersionsEvidence(model_exists=False, suggestions=suggestions),
        )
    versions = await platform.registry.search_versions(params.model)
    now_ms = time.time() * 1000
    champion = model.aliases.get(CHAMPION)
    by_version = {v.version: v for v in versions}
    current = by_version.get(champion or "")
    previous = previous_champion(versions, champion)
    changed_ms = _epoch_ms(current.tags.get("champion_since")) if current else None
    if current is not None and changed_ms is None:
        changed_ms = created_ms(current)
    evidence = RegistryVersionsEvidence(
        model_exists=True,
        versions=[
            VersionSummary(
                version=v.version,
                created_minutes_ago=_minutes_since(created_ms(v), now_ms),
                tags=v.tags,
                status=v.status,
            )
            for v in versions
        ],
        aliases=model.aliases,
        champion=champion,
        previous_champion=previous.version if previous else None,
        previous_champion_accuracy=accuracy(previous),
        champion_accuracy=accuracy(current),
        champion_changed_minutes_ago=_minutes_since(changed_ms, now_ms),
    )
    if champion is None:
        summary = f"{params.model}: {len(versions)} versions, no champion alias"
    else:
        summary = (
            f"{params.model}: champion v{champion} (accuracy {_fmt(evidence.champion_accuracy)}), "
            f"previous champion "
            + (
                f"v{previous.version} ({_fmt(evidence.previous_champion_accuracy)})"
                if previous
                else "none"
            )
        )
    return Finding(ToolStatus.OK, summary, evidence)


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"

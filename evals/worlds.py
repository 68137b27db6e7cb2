"""Turn a scenario's ``world`` block into a ``sandbox.world.World``, or say exactly why it cannot.

Order: ``base`` (empty or the sandbox's default world), then the explicit World fields merged in,
then ``faults`` from the sandbox's catalogue in order, then ``patch``. Merging is by name so that a
scenario can add or change one endpoint without restating the others: named lists (endpoints,
models, agents by ``name``; pipelines by ``id``) replace the item of the same name and append new
ones; other lists (events, logs) are appended; mappings (metrics, provider,
outages) are merged key by key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from evals.scenario import Scenario, ScenarioError, _loc
from sandbox.world import World

_KEYS = {"endpoints": "name", "models": "name", "agents": "name", "pipelines": "id"}


def build_world(scenario: Scenario, path: Path | str = "<scenario>") -> World:
    """The world a scenario describes. Raises :class:`ScenarioError` naming the field at fault."""
    spec: BaseModel = scenario.world
    base = _base_world(spec.base)  # type: ignore[attr-defined]
    doc = base.model_dump(mode="json") if base is not None else {}
    explicit = spec.model_dump(
        mode="json", exclude_none=True, exclude_unset=True, exclude={"base", "faults", "patch"}
    )
    doc = merge_world(doc, explicit)
    world = _validate(doc, path, "world")
    faults = _catalogue()
    for index, ref in enumerate(spec.faults):  # type: ignore[attr-defined]
        field = f"world.faults[{index}]"
        fault = faults.get(ref.id)
        if fault is None:
            known = ", ".join(sorted(faults)) or "(the sandbox has no fault catalogue)"
            raise ScenarioError(path, f"{field}.id", f"unknown fault {ref.id!r}; known: {known}")
        try:
            world = fault(world, ref.target)
        except (KeyError, ValueError, LookupError, AssertionError) as exc:
            raise ScenarioError(
                path, f"{field}.target", f"fault {ref.id} cannot apply to {ref.target!r}: {exc}"
            ) from None
        world = _validate(world.model_dump(mode="json"), path, field)
    patch = spec.patch  # type: ignore[attr-defined]
    if patch:
        world = _validate(merge_world(world.model_dump(mode="json"), patch), path, "world.patch")
    return world


def merge_world(doc: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge World document ``extra`` into ``doc`` (see the module docstring) into a new dict."""
    out = dict(doc)
    for field, value in extra.items():
        current = out.get(field)
        if field in _KEYS and isinstance(value, list) and isinstance(current, list):
            out[field] = _merge_named(current, value, _KEYS[field])
        elif isinstance(value, list) and isinstance(current, list):
            out[field] = [*current, *value]
        elif isinstance(value, dict) and isinstance(current, dict):
            out[field] = {**current, **value}
        else:
            out[field] = value
    return out


def _merge_named(current: list[Any], extra: list[Any], key: str) -> list[Any]:
    merged = list(current)
    for item in extra:
        name = item.get(key) if isinstance(item, dict) else None
        at = next(
            (i for i, old in enumerate(merged) if isinstance(old, dict) and old.get(key) == name),
            None,
        )
        if at is None:
            merged.append(item)
        else:
            merged[at] = item
    return merged


def _validate(doc: dict[str, Any], path: Path | str, where: str) -> World:
    try:
        return World.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _loc(err["loc"])
        field = f"{where}.{loc}" if loc != "(document)" else where
        raise ScenarioError(
            path, field, f"the sandbox cannot represent this world: {err['msg']}"
        ) from None


def _base_world(base: str) -> World | None:
    if base == "empty":
        return None
    from sandbox import default_world as module

    for name in ("default_world", "build_default_world", "make_default_world"):
        factory = getattr(module, name, None)
        if callable(factory):
            world = factory()
            if isinstance(world, World):
                return world
    world = getattr(module, "DEFAULT_WORLD", None)
    if isinstance(world, World):
        return world
    raise RuntimeError("sandbox.default_world exposes no default world")


def _catalogue() -> dict[str, Callable[[World, str], World]]:
    """Fault id -> ``apply(world, target)`` from ``sandbox.faults``, whatever its container."""
    try:
        from sandbox import faults as module
    except ImportError:
        return {}
    found: Any = None
    for name in ("catalogue", "fault_catalogue", "all_faults"):
        getter = getattr(module, name, None)
        if callable(getter):
            found = getter()
            break
    if found is None:
        found = getattr(module, "FAULTS", None) or getattr(module, "CATALOGUE", None) or {}
    items = found.values() if isinstance(found, dict) else found
    return {fault.id: fault.apply for fault in items}

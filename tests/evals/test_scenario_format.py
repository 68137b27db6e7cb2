"""The scenario format: errors name the file and the field; impossible worlds are errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from evals.runner import PUBLIC_SCENARIOS, load_all
from evals.scenario import CATEGORIES
from evals.schema import SCHEMA_FILE, render
from evals.worlds import build_world

MODEL = {
    "name": "main.x.scorer",
    "versions": [{"version": "1"}, {"version": "2"}],
    "aliases": {"champion": "2"},
}
ENDPOINT = {
    "name": "alpha-scorer",
    "config": {"served_entities": [{"entity_name": "main.x.scorer", "entity_version": "2"}]},
}


def _doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "s-1",
        "category": "leaf",
        "trigger": {"command": "/model-incident alpha-scorer"},
        "world": {"models": [MODEL], "endpoints": [ENDPOINT]},
        "expected": {"root_causes": ["latency.cold_start"]},
    }
    doc.update(over)
    return doc


def _write(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _errors(tmp_path: Path) -> list[str]:
    _loaded, errors = load_all([tmp_path])
    return [str(e) for e in errors]


def test_a_valid_scenario_loads_with_its_world(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "ok.yaml",
        _doc(
            world={
                "models": [MODEL],
                "endpoints": [ENDPOINT],
                "faults": [{"id": "latency.cold_start", "target": "alpha-scorer"}],
            }
        ),
    )
    loaded, errors = load_all([tmp_path])
    assert errors == []
    world = build_world(loaded[0].scenario)
    assert world.endpoints[0].config.served_entities[0].scale_to_zero_enabled is True


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"category": "nonsense"}, "category"),
        ({"trigger": {"command": "/model-incident"}}, "trigger.command"),
        ({"expected": {"root_causes": "x", "escalate": False}}, "expected.root_causes"),
        ({"expected": {"surprise": 1}}, "expected.surprise"),
        ({"approval": "sometimes"}, "approval"),
        ({"world": {"endpoint": []}}, "world.endpoint"),
    ],
)
def test_an_invalid_field_is_named_with_the_path(
    tmp_path: Path, over: dict[str, Any], field: str
) -> None:
    path = _write(tmp_path, "bad.yaml", _doc(**over))
    errors = _errors(tmp_path)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}: {field}")


@pytest.mark.parametrize(
    ("world", "field", "message"),
    [
        ({"models": [MODEL], "endpoints": [ENDPOINT], "faults": [{"id": "no.such", "target": "x"}]},
         "world.faults[0].id", "unknown fault"),
        ({"models": [MODEL], "endpoints": [ENDPOINT],
          "faults": [{"id": "latency.cold_start", "target": "ghost"}]},
         "world.faults[0].target", "ghost"),
        ({"endpoints": [ENDPOINT]}, "world", "not in models"),
        ({"models": [MODEL], "endpoints": [ENDPOINT],
          "patch": {"outages": {"registry": "on fire"}}},
         "world.patch.outages.registry", "cannot represent"),
    ],
)  # fmt: skip
def test_a_world_the_sandbox_cannot_represent_is_an_error(
    tmp_path: Path, world: dict[str, Any], field: str, message: str
) -> None:
    path = _write(tmp_path, "bad.yaml", _doc(world=world))
    errors = _errors(tmp_path)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}: {field}")
    assert message in errors[0]


def test_all_errors_are_listed_not_just_the_first(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", _doc(category="nope"))
    _write(tmp_path, "b.yaml", "just a string")
    (tmp_path / "c.yaml").write_text("id: [unclosed", encoding="utf-8")
    _write(tmp_path, "d.yaml", _doc())
    _write(tmp_path, "e.yaml", _doc())  # duplicate id of d
    errors = _errors(tmp_path)
    assert len(errors) == 4
    assert any("e.yaml: id: duplicate" in e for e in errors)
    assert any("c.yaml: (yaml)" in e for e in errors)


def test_a_resolved_only_payload_loads_and_an_empty_one_is_an_error(tmp_path: Path) -> None:
    # A resolved-only delivery opens nothing, and that is scored: the agent must do nothing.
    alert = {"status": "resolved", "labels": {"endpoint": "alpha-scorer"}}
    payload = {"version": "4", "groupKey": "g", "status": "resolved", "alerts": [alert]}
    _write(tmp_path, "r.yaml", _doc(trigger={"alertmanager": payload}))
    assert _errors(tmp_path) == []
    empty = {"version": "4", "groupKey": "g", "status": "firing", "alerts": []}
    path = _write(tmp_path, "r.yaml", _doc(trigger={"alertmanager": empty}))
    assert _errors(tmp_path) == [f"{path}: trigger.alertmanager.alerts: the delivery has no alert"]


def test_explicit_fields_merge_into_the_default_base_by_name() -> None:
    from evals.scenario import Scenario

    scenario = Scenario.model_validate(
        _doc(world={"base": "default", "models": [MODEL], "endpoints": [ENDPOINT]})
    )
    world = build_world(scenario)
    names = [e.name for e in world.endpoints]
    assert "alpha-scorer" in names and len(names) >= 2


def test_schema_json_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), "run: python -m evals.schema"


def test_public_scenarios_are_valid_against_the_json_schema_and_load() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for path in PUBLIC_SCENARIOS.rglob("*.yaml"):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
        assert not errors, f"{path}: {errors[0].message}"
    loaded, errors = load_all([PUBLIC_SCENARIOS])
    assert errors == []
    assert len(loaded) >= 150


def test_public_set_meets_the_required_counts() -> None:
    loaded, _ = load_all([PUBLIC_SCENARIOS])
    counts = {c: 0 for c in CATEGORIES}
    for item in loaded:
        counts[item.scenario.category] += 1
    minimum = {"distractor": 20, "multi_fault": 12, "no_fault": 12, "escalation": 12,
               "injection": 12, "tool_failure": 12, "approval": 8}  # fmt: skip
    for category, least in minimum.items():
        assert counts[category] >= least, (category, counts[category])
    modes = {item.scenario.plan.default for item in loaded if item.scenario.category == "approval"}
    assert modes == {"reject", "expire", "unauthorised", "crash_resume"}


def test_every_leaf_has_two_scenarios_with_different_worlds() -> None:
    loaded, _ = load_all([PUBLIC_SCENARIOS])
    worlds: dict[str, list[str]] = {}
    for item in loaded:
        s = item.scenario
        if s.category == "leaf":
            for leaf in s.expected.root_causes:
                worlds.setdefault(leaf, []).append(build_world(s).model_dump_json())
    assert worlds
    for leaf, docs in worlds.items():
        assert len(docs) >= 2, leaf
        assert len(set(docs)) == len(docs), f"{leaf}: identical worlds"


def test_world_names_do_not_give_the_answer_away() -> None:
    loaded, _ = load_all([PUBLIC_SCENARIOS])
    for item in loaded:
        world = item.scenario.world.model_dump_json(exclude={"faults"})
        for leaf in item.scenario.expected.root_causes:
            assert leaf not in world, (item.path, leaf)

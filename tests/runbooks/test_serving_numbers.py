"""Every number the serving tree decides by is a `${name}` of runbooks/thresholds.yaml (the seed's
own with its section, the chosen ones with their reason); only the staged rollout's percentages
(Issue 5 / Step 3: 10 -> 25 -> 50 -> 100 %) and ordinals are written as numbers."""

from __future__ import annotations

import ast
import re
from typing import Any

import yaml

from bot.runbooks.loader import default_runbook_dir
from bot.runbooks.thresholds import load_thresholds

SERVING = default_runbook_dir() / "serving-endpoint.yaml"
# 0 / 1 / 2: comparisons with zero, list indexes and the size ordinals (Small < Medium < Large);
# 400: the HTTP status from which an answer is a refusal.
STRUCTURAL = {0, 1, 2, 400}
# The seed's stage percentages and what is left for the champion at each stage.
ROUTE_SHARES = {10, 25, 50, 75, 90, 100}


def _numbers(expression: str) -> set[float]:
    text = re.sub(r"\$\{[a-z0-9_]+\}", "T", expression.lstrip("="))
    tree = ast.parse(text, mode="eval")
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    }


def _decisions(node: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [(f"branches[{i}].when", b["when"]) for i, b in
                                  enumerate(node.get("branches") or [])]  # fmt: skip
    out += [(f"record.{k}", v) for k, v in (node.get("record") or {}).items()]
    out += [(f"params.{k}", v) for k, v in (node.get("params") or {}).items()]
    if "wait_seconds" in node:
        out.append(("wait_seconds", node["wait_seconds"]))
    return out


def test_the_serving_tree_decides_only_by_named_thresholds() -> None:
    tree = yaml.safe_load(SERVING.read_text(encoding="utf-8"))
    shipped = load_thresholds(default_runbook_dir())
    assert shipped is not None
    bare: list[str] = []
    for name, node in tree["nodes"].items():
        for field, value in _decisions(node):
            if isinstance(value, int | float) and not isinstance(value, bool):
                bare.append(f"{name}.{field}: {value}")
                continue
            if not isinstance(value, str):
                continue
            for ref in re.findall(r"\$\{([a-z0-9_]+)\}", value):
                assert ref in shipped.thresholds, f"{name}.{field}: unknown threshold {ref}"
            if not (value.startswith("=") or field.startswith(("branches", "record"))):
                continue
            stages = field == "params.routes" or name.startswith(("rollout", "canary"))
            allowed = STRUCTURAL | (ROUTE_SHARES if stages else set())
            bare += [f"{name}.{field}: {n}" for n in _numbers(value) - allowed]
    assert bare == [], bare


def test_the_seed_numbers_of_the_serving_runbook_are_the_seeds() -> None:
    shipped = load_thresholds(default_runbook_dir())
    assert shipped is not None
    seed = {
        "size_small_max_rate_per_min": 100,  # Best Practices 1: Small < 100 req/min
        "size_medium_max_rate_per_min": 1000,  # Medium 100-1000, Large > 1000
        "update_stuck_minutes": 15,  # Issue 2 / Step 1.4: stuck in UPDATING > 15 minutes
        "rollout_stage_minutes": 24 * 60,  # Issue 5 / Step 3.2: monitor for 24 hours
    }
    for name, value in seed.items():
        assert shipped.thresholds[name].source == "seed", name
        assert shipped.value(name) == value, name

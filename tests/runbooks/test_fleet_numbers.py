"""Every number the failure runbook's tree decides by is a `${name}` of runbooks/thresholds.yaml
or written in the seed itself: the HTTP codes of Diagnostic Step 1 (401, 403, 404, 429, and 400
for "an error answer"), Scenario 2's and Option 2's rollout percentages (5 and 0) and the 5-minute
rate of Diagnostic Step 2's query."""

from __future__ import annotations

import re

import yaml

from bot.runbooks.loader import default_runbook_dir
from bot.runbooks.thresholds import load_thresholds
from tests.runbooks.test_serving_numbers import _decisions, _numbers

FLEET = default_runbook_dir() / "agent-fleet.yaml"
SEED_NUMBERS = {0, 5, 400, 401, 403, 404, 429}
# How long a verify check lets a change settle: timing of the bot, not a decision.
WAITS = {"wait_seconds"}


def test_the_fleet_tree_decides_only_by_named_thresholds_and_the_seeds_numbers() -> None:
    tree = yaml.safe_load(FLEET.read_text(encoding="utf-8"))
    shipped = load_thresholds(default_runbook_dir())
    assert shipped is not None
    bare: list[str] = []
    for name, node in tree["nodes"].items():
        for field, value in _decisions(node):
            if field in WAITS:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                if value not in SEED_NUMBERS:
                    bare.append(f"{name}.{field}: {value}")
                continue
            if not isinstance(value, str):
                continue
            for ref in re.findall(r"\$\{([a-z0-9_]+)\}", value):
                assert ref in shipped.thresholds, f"{name}.{field}: unknown threshold {ref}"
            if value.startswith("=") or field.startswith(("branches", "record")):
                bare += [f"{name}.{field}: {n}" for n in _numbers(value) - SEED_NUMBERS]
    assert bare == [], bare


def test_the_failure_runbooks_own_numbers_are_the_seeds() -> None:
    shipped = load_thresholds(default_runbook_dir())
    assert shipped is not None
    for name, value in {"error_rate": 0.05, "fallback_rate": 0.10}.items():  # Symptoms
        assert shipped.thresholds[name].source == "seed", name
        assert shipped.value(name) == value, name

"""The thresholds of ``evals/gates.yaml`` and the check of a run's metrics against them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from evals.metrics import METRIC_NAMES

GATES_FILE = Path(__file__).with_name("gates.yaml")


class Gate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Gate:
        if self.min is None and self.max is None:
            raise ValueError("a gate needs min or max")
        return self


def load_gates(path: Path = GATES_FILE) -> dict[str, Gate]:
    """Read the gates; an unknown metric name is an error, not a gate that never fires."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    gates = {name: Gate.model_validate(bound) for name, bound in doc.items()}
    unknown = sorted(set(gates) - set(METRIC_NAMES))
    if unknown:
        raise ValueError(f"{path}: unknown metrics {unknown}; known: {list(METRIC_NAMES)}")
    return gates


def failed_gates(metrics: dict[str, Any], gates: dict[str, Gate]) -> list[str]:
    """One line per gate the metrics do not meet, naming the gate, the value and the bound."""
    failures = []
    for name, gate in gates.items():
        value = metrics.get(name)
        if value is None:
            failures.append(f"{name}: no value")
        elif gate.min is not None and value < gate.min:
            failures.append(f"{name} = {value} is under the gate {gate.min}")
        elif gate.max is not None and value > gate.max:
            failures.append(f"{name} = {value} is above the gate {gate.max}")
    return failures

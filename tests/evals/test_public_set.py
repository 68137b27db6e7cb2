"""The gate of the issue: the public scenarios, in deterministic mode, meet evals/gates.yaml."""

from __future__ import annotations

import os

import pytest

from evals.gates import failed_gates, load_gates
from evals.metrics import aggregate
from evals.runner import PUBLIC_SCENARIOS, load_all, run_all


@pytest.mark.xdist_group("evals")
def test_public_set_meets_the_gates() -> None:
    loaded, errors = load_all([PUBLIC_SCENARIOS])
    assert errors == []
    results = run_all(loaded, llm="off", workers=os.cpu_count() or 1)
    metrics = aggregate(results)
    failures = failed_gates(metrics, load_gates())
    failed = [f"{r.id}: " + "; ".join(
        f"{c.name} {c.detail}" for c in r.criteria if c.verdict == "fail") for r in results
        if not r.passed]  # fmt: skip
    assert not failures, "\n".join([*failures, "failed scenarios:", *failed[:40]])

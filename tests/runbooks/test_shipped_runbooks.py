"""The shipped runbooks: they load, lint clean against the tool catalogue, name only documented
tools, and have a diagnosis for every fault the sandbox can inject."""

from __future__ import annotations

import re
from pathlib import Path

from bot.runbooks.lint import lint_dir, tool_catalogue
from bot.runbooks.loader import default_runbook_dir, load_runbooks
from bot.runbooks.model import ActionNode, CheckNode
from sandbox.faults import FAULTS

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_runbooks_lint_clean() -> None:
    registered = tool_catalogue()
    findings = lint_dir(default_runbook_dir())
    # A tool that is documented but not registered yet is the only acceptable finding; once every
    # tool is registered this is "no findings at all".
    pending = [
        f for f in findings if f.field == "tool" and re.fullmatch(r"unknown tool '\w+'", f.message)
    ]
    assert [f for f in findings if f not in pending] == []
    assert all(f.message.split("'")[1] not in registered for f in pending)


def test_every_tool_a_runbook_names_is_documented() -> None:
    documented = set(re.findall(r"^\| `(\w+)` \|", (ROOT / "docs" / "tools.md").read_text(), re.M))
    used = {
        node.tool
        for runbook in load_runbooks(default_runbook_dir())
        for node in runbook.nodes.values()
        if isinstance(node, CheckNode | ActionNode)
    }
    assert used - documented == set()


def test_every_sandbox_fault_has_a_diagnosis() -> None:
    runbooks = load_runbooks(default_runbook_dir())
    ids = set(runbooks.diagnosis_ids())
    assert set(FAULTS) - ids == set()
    for fault_id, fault in FAULTS.items():
        ref = runbooks.leaf_ref(fault_id)
        expected = "agent" if fault.target_kind in ("agent", "provider", "fleet") else "endpoint"
        assert ref.runbook.applies_to == expected, fault_id
        assert ref.node.role == "cause"


def test_alerts_pick_the_right_runbook() -> None:
    runbooks = load_runbooks(default_runbook_dir())
    assert runbooks.for_alert("ModelNullPredictions") is runbooks.get("serving-endpoint")
    assert runbooks.for_alert("ProviderRateLimited") is runbooks.get("agent-fleet")
    assert [r.id for r in runbooks.for_kind("agent")] == ["agent-fleet"]


def test_the_staged_rollout_is_one_approval_per_step_with_slis_between() -> None:
    runbook = load_runbooks(default_runbook_dir()).get("serving-endpoint")
    steps, name = [], "canary_10"
    while name is not None:
        node = runbook.node(name)
        assert isinstance(node, ActionNode)
        gate = runbook.node(node.verify or "")
        assert isinstance(gate, CheckNode) and gate.tool == "slis"
        steps.append(node)
        name = node.then
    percentages = [str(s.params.get("routes", "")) for s in steps]
    assert [p.split(": ")[1].split(",")[0] for p in percentages[:3]] == ["10", "25", "50"]
    assert steps[-1].params["to_version"] == "=facts.challenger"  # 100% and the champion alias

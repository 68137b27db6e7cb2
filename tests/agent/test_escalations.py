"""Every escalation rule of the runbooks is reached.

Escalations that are a leaf's last remedy are reached by injecting the leaf's fault and rejecting
every proposed change; those reached by a branch are reached by the world that takes the branch
(the tool-failure eval scenarios reach the no-data ones as well).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.agent.types import FinalState
from bot.domain import DecisionKind
from bot.runbooks.loader import default_runbook_dir, load_runbooks
from bot.runbooks.model import DiagnosisNode, EscalateNode
from bot.settings import Settings
from sandbox.faults import FAULTS
from sandbox.runtime import Sandbox
from tests.agent.conftest import APPROVER, answer, incident_app, run_incident

RUNBOOKS = load_runbooks(default_runbook_dir())


def remedy_escalations() -> list[tuple[str, str, str]]:
    """(runbook, escalate node, a fault whose leaf lists it as a remedy)."""
    found = []
    for runbook in RUNBOOKS:
        for name, node in runbook.nodes.items():
            if not isinstance(node, EscalateNode):
                continue
            leaves = [
                n.id
                for n in runbook.nodes.values()
                if isinstance(n, DiagnosisNode) and name in n.remedies and n.id in FAULTS
            ]
            if leaves:
                found.append((runbook.id, name, leaves[0]))
    return found


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path / "state", approvers=[APPROVER], tool_timeout_s=5.0, tool_retries=0
    )


def escalated_at(outcome: Any) -> list[str]:
    return [s.node for s in outcome.steps if s.kind == "escalate"]


@pytest.mark.parametrize(("runbook", "node", "fault_id"), remedy_escalations())
async def test_rejected_remedies_end_in_the_leafs_escalation(
    runbook: str, node: str, fault_id: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    fault = FAULTS[fault_id]
    await sandbox.inject(fault_id)
    target = "qa_agent" if fault.default_target == "*" else fault.default_target
    async with incident_app(settings_for(tmp_path), sandbox) as app:
        outcome = await run_incident(app, target, answer(DecisionKind.REJECT))
    assert outcome.final_state is FinalState.ESCALATED
    assert node in escalated_at(outcome), [s.node for s in outcome.steps]
    escalation = RUNBOOKS.get(runbook).node(node)
    assert isinstance(escalation, EscalateNode)
    assert outcome.escalation is not None and outcome.escalation["to"] == escalation.to
    assert all(not a.executed for a in outcome.actions)


async def test_unreachable_provider_escalates(sandbox: Sandbox, tmp_path: Path) -> None:
    world = sandbox.world.model_copy(deep=True)
    world.provider.reachable = False
    await sandbox.set_world(world)
    async with incident_app(settings_for(tmp_path), sandbox) as app:
        outcome = await run_incident(app, "qa_agent", answer(DecisionKind.REJECT))
    assert outcome.final_state is FinalState.ESCALATED
    assert "escalate_provider_unreachable" in escalated_at(outcome), [s.node for s in outcome.steps]
    assert outcome.actions == []


async def test_missing_metrics_escalate_to_on_call_without_guessing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    world = sandbox.world.model_copy(deep=True)
    world.outages.prometheus = "down"
    await sandbox.set_world(world)
    async with incident_app(settings_for(tmp_path), sandbox) as app:
        outcome = await run_incident(app, "qa_agent", answer(DecisionKind.APPROVE))
    assert outcome.final_state is FinalState.ESCALATED
    assert "escalate_on_call" in escalated_at(outcome)
    assert [d for d in outcome.diagnoses if d.role == "cause"] == []
    assert outcome.actions == []

"""Every sandbox fault leads the agent to its runbook leaf and to that leaf's first remedy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.agent.types import FinalState
from bot.domain import DecisionKind
from bot.runbooks.loader import default_runbook_dir, load_runbooks
from bot.runbooks.model import ActionNode, AdviceNode, EscalateNode
from bot.settings import Settings
from sandbox.faults import FAULTS
from sandbox.runtime import Sandbox
from tests.agent.conftest import APPROVER, answer, incident_app, run_incident

RUNBOOKS = load_runbooks(default_runbook_dir())


@pytest.fixture
async def sqlite_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    yield Settings(
        state_dir=tmp_path / "state",
        approvers=[APPROVER],
        tool_timeout_s=5.0,
        tool_retries=0,
    )


@pytest.mark.parametrize("fault_id", sorted(FAULTS))
async def test_fault_reaches_its_leaf_and_first_remedy(
    fault_id: str, sandbox: Sandbox, sqlite_settings: Settings
) -> None:
    fault = FAULTS[fault_id]
    await sandbox.inject(fault_id)
    ref = RUNBOOKS.leaf_ref(fault_id)
    # A fleet-wide fault is reported by whoever sees one agent fail.
    target = "qa_agent" if fault.default_target == "*" else fault.default_target
    async with incident_app(sqlite_settings, sandbox) as app:
        outcome = await run_incident(app, target, answer(DecisionKind.APPROVE))
    causes = [d.id for d in outcome.diagnoses if d.role == "cause"]
    assert fault_id in causes, [s.node for s in outcome.steps]
    assert outcome.runbook == ref.runbook.id

    # A remedy whose dry run the platform refuses (a guarded rollback when no earlier version
    # works, an A/B test without a challenger) hands over to the next one.
    refused = {
        s.node for s in outcome.steps if s.kind == "action" and s.summary.startswith("cannot")
    }
    name = next(r for r in ref.node.remedies if r not in refused)
    first = ref.runbook.node(name)
    if isinstance(first, ActionNode):
        assert first.tool in [a.tool for a in outcome.actions], outcome.actions
        executed = [a for a in outcome.actions if a.executed]
        assert all(a.decided_by == APPROVER for a in executed)
    elif isinstance(first, AdviceNode):
        assert any(line.startswith(first.title) for line in outcome.advice)
    elif isinstance(first, EscalateNode):
        assert outcome.final_state is FinalState.ESCALATED
        assert outcome.escalation is not None

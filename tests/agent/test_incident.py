"""The incident graph end to end against the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from bot.agent.types import Decision, DecisionKind, FinalState, IncidentOutcome, Proposal, Trigger
from bot.audit import verify
from sandbox.runtime import Sandbox
from tests.agent.conftest import APPROVER, answer

REGRESSION = "performance.new_version_regression"
MODEL = "main.ml.sentiment_classifier"
ENDPOINT = "sentiment-endpoint"


async def champion(platform: Any) -> str:
    """The champion as the real MLflow registry has it."""
    version = await platform.registry.version_by_alias(MODEL, "champion")
    return str(version.version)


def served_versions(sandbox: Sandbox) -> list[str]:
    endpoint = sandbox.world.endpoint(ENDPOINT)
    assert endpoint is not None
    return [e.entity_version for e in endpoint.config.served_entities]


async def test_regression_is_rolled_back_once_after_approval(
    sandbox: Sandbox, platform: Any, open_incident_agent: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    bad = await champion(platform)
    async with open_incident_agent(platform) as agent:
        first = await agent.start(Trigger(target=ENDPOINT))
        assert isinstance(first, Proposal)
        assert first.tool == "rollback_to_previous_champion"
        assert first.dry_run["diff"], "the proposal carries the dry-run diff"
        assert await champion(platform) == bad, "nothing changes before the approval"

        outcome = await agent.resume(
            first.incident_id,
            Decision(proposal_id=first.proposal_id, decision=DecisionKind.APPROVE, actor=APPROVER),
        )
        assert isinstance(outcome, IncidentOutcome)
        assert outcome.final_state is FinalState.RESOLVED
        assert next(d.id for d in outcome.diagnoses if d.role == "cause") == REGRESSION
        assert [a.verified for a in outcome.actions] == ["recovered"]
        assert await champion(platform) != bad
        assert served_versions(sandbox) == [await champion(platform)]

        store = agent.deps.records.store
        ledger = await store.list_ledger()
        assert [(e.tool, e.state) for e in ledger] == [
            ("rollback_to_previous_champion", "succeeded")
        ]
        report = await verify(store)
        assert report.ok, report
        kinds = [e.kind for e in await store.list_audit(incident_id=first.incident_id)]
        for kind in ("tool_call", "diagnosis", "proposal", "approval", "verification"):
            assert kind in kinds
        assert kinds.index("approval") < kinds.index("execution_started")


async def test_rejection_changes_nothing_and_moves_on(
    sandbox: Sandbox, platform: Any, open_incident_agent: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    bad = await champion(platform)
    async with open_incident_agent(platform) as agent:
        outcome = await agent.run(Trigger(target=ENDPOINT), answer(DecisionKind.REJECT))
    assert await champion(platform) == bad
    assert outcome.actions and all(not a.executed for a in outcome.actions)
    assert outcome.final_state in (FinalState.ESCALATED, FinalState.ADVICE_GIVEN)
    assert await agent.deps.records.store.list_ledger() == []


async def test_unauthorised_or_forged_answers_are_refused_and_the_proposal_waits(
    sandbox: Sandbox, platform: Any, open_incident_agent: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    bad = await champion(platform)
    async with open_incident_agent(platform) as agent:
        first = await agent.start(Trigger(target=ENDPOINT))
        assert isinstance(first, Proposal)
        mallory = Decision(
            proposal_id=first.proposal_id, decision=DecisionKind.APPROVE, actor="mallory"
        )
        again = await agent.resume(first.incident_id, mallory)
        assert isinstance(again, Proposal) and again.proposal_id == first.proposal_id
        forged = Decision(proposal_id="prop-forged", decision=DecisionKind.APPROVE, actor=APPROVER)
        again = await agent.resume(first.incident_id, forged)
        assert isinstance(again, Proposal) and again.proposal_id == first.proposal_id
        assert await champion(platform) == bad
        assert await agent.deps.records.store.list_ledger() == []

        # The waiting incident is found again from the checkpoint alone.
        pending = await agent.pending(first.incident_id)
        assert pending is not None and pending.proposal_id == first.proposal_id

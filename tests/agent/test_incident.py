"""The incident service end to end against the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from bot.agent.types import FinalState
from bot.audit import verify
from bot.domain import DecisionKind
from bot.service.models import Answer
from sandbox.runtime import Sandbox
from tests.agent.conftest import APPROVER, answer, request_for, run_incident

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
    sandbox: Sandbox, platform: Any, open_incident_app: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    bad = await champion(platform)
    async with open_incident_app() as app:
        view = await app.service.open(request_for(ENDPOINT))
        first = view.pending
        assert view.phase == "waiting" and first is not None
        assert first.tool == "rollback_to_previous_champion"
        assert first.dry_run["diff"], "the proposal carries the dry-run diff"
        assert await champion(platform) == bad, "nothing changes before the approval"

        view = await app.service.answer(
            Answer(proposal_id=first.proposal_id, decision=DecisionKind.APPROVE, actor=APPROVER)
        )
        outcome = view.outcome
        assert outcome is not None
        assert outcome.final_state is FinalState.RESOLVED
        assert next(d.id for d in outcome.diagnoses if d.role == "cause") == REGRESSION
        assert [a.verified for a in outcome.actions] == ["recovered"]
        assert await champion(platform) != bad
        assert served_versions(sandbox) == [await champion(platform)]

        ledger = await app.store.list_ledger()
        assert [(e.tool, e.state) for e in ledger] == [
            ("rollback_to_previous_champion", "succeeded")
        ]
        report = await verify(app.store)
        assert report.ok, report
        kinds = [e.kind for e in await app.store.list_audit(incident_id=first.incident_id)]
        for kind in ("tool_call", "diagnosis", "proposal", "approval", "verification"):
            assert kind in kinds
        assert kinds.index("approval") < kinds.index("execution_started")


async def test_rejection_changes_nothing_and_moves_on(
    sandbox: Sandbox, platform: Any, open_incident_app: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    bad = await champion(platform)
    async with open_incident_app() as app:
        outcome = await run_incident(app, ENDPOINT, answer(DecisionKind.REJECT))
        assert await app.store.list_ledger() == []
    assert await champion(platform) == bad
    assert outcome.actions and all(not a.executed for a in outcome.actions)
    assert outcome.final_state in (FinalState.ESCALATED, FinalState.ADVICE_GIVEN)


async def test_unauthorised_or_forged_answers_are_refused_once_and_the_proposal_waits(
    sandbox: Sandbox, platform: Any, open_incident_app: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    bad = await champion(platform)
    async with open_incident_app() as app:
        first = (await app.service.open(request_for(ENDPOINT))).pending
        assert first is not None
        mallory = Answer(
            proposal_id=first.proposal_id, decision=DecisionKind.APPROVE, actor="mallory"
        )
        view = await app.service.answer(mallory)
        assert view.refusal is not None and view.refusal.code == "unauthorised"
        assert view.pending is not None and view.pending.proposal_id == first.proposal_id
        forged = Answer(proposal_id="prop-forged", decision=DecisionKind.APPROVE, actor=APPROVER)
        assert (await app.service.answer(forged)).refusal is not None
        assert await champion(platform) == bad
        assert await app.store.list_ledger() == []

        # The refused answer, given again and again by a driver, is recorded once and not looped.
        view = await app.service.drive_from(view, answer(DecisionKind.APPROVE, actor="mallory"))
        assert view.pending is not None and view.pending.proposal_id == first.proposal_id
        audit = await app.store.list_audit(incident_id=first.incident_id)
        refusals = [e for e in audit if e.kind == "rejection" and e.actor == "mallory"]
        assert len(refusals) == 2, [e.payload for e in refusals]  # the call above, and one loop

        # The waiting incident is found again from the checkpoint alone.
        status = await app.service.status(first.incident_id)
        assert status.pending is not None and status.pending.proposal_id == first.proposal_id

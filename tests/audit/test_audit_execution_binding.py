"""An edited ``proposals.params`` never runs: the executor reads the proposal through the chain.

The whole bot, built by the composition root as the CLI builds it, runs against the sandbox on
SQLite and PostgreSQL; the attacker edits the proposal row with SQL, either before the approval or
between the approval and the execution.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.types import Command
from sqlalchemy import update

from bot.agent.types import FinalState, Trigger
from bot.audit import verify
from bot.compose import App, open_app
from bot.domain import DecisionKind, Proposal
from bot.service.models import Answer, IncidentView, OpenRequest
from bot.settings import Settings
from bot.store import tables as t
from sandbox.runtime import Sandbox

REGRESSION = "performance.new_version_regression"
MODEL = "main.ml.sentiment_classifier"
ENDPOINT = "sentiment-endpoint"
APPROVER = "alice"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        state_dir=tmp_path / "state",
        database_url=database_url,
        approvers=[APPROVER],
        # generous: a slow answer under load must not turn the diagnosis into "no data"
        tool_timeout_s=15.0,
        tool_retries=0,
        max_verify_wait_s=0.0,
    )


async def _champion(app: App) -> str:
    return str((await app.platform.registry.version_by_alias(MODEL, "champion")).version)


async def _open(app: App) -> Proposal:
    request = OpenRequest(trigger=Trigger(target=ENDPOINT), requester="oncall-user")
    view = await app.service.open(request)
    assert view.pending is not None and view.pending.tool == "rollback_to_previous_champion"
    return view.pending


async def _tamper(app: App, proposal: Proposal) -> None:
    """Point the rollback at another version, behind the bot's back."""
    forged = {**proposal.params, "to_version": "1"}
    async with app.store.engine.begin() as conn:
        await conn.execute(
            update(t.proposals)
            .where(t.proposals.c.id == proposal.proposal_id)
            .values(params=forged)
        )


def _approve(proposal: Proposal) -> Answer:
    return Answer(proposal_id=proposal.proposal_id, decision=DecisionKind.APPROVE, actor=APPROVER)


async def _assert_refused_and_escalated(app: App, proposal: Proposal, view: IncidentView) -> None:
    assert view.outcome is not None, view
    assert view.outcome.final_state is FinalState.ESCALATED
    assert view.outcome.escalation is not None and view.outcome.escalation["to"] == "security"
    assert [(a.executed, a.execution_status) for a in view.outcome.actions] == [(False, "refused")]
    assert await app.store.list_ledger() == [], "nothing was claimed, nothing ran"
    entries = await app.store.list_audit(incident_id=proposal.incident_id)
    kinds = [e.kind for e in entries]
    assert "tamper_detected" in kinds and "execution_started" not in kinds
    tamper = next(e for e in entries if e.kind == "tamper_detected")
    assert tamper.payload["proposal_id"] == proposal.proposal_id
    assert any("params" in problem for problem in tamper.payload["problems"])
    after = kinds[kinds.index("tamper_detected") :]
    assert "escalation" in after
    incident = await app.store.get_incident(proposal.incident_id)
    assert incident is not None and incident.status == "escalated"
    report = await verify(app.store)
    assert report.problem == "records_differ", "verify names the edited row too"
    assert [(p.table, p.fields) for p in report.record_problems] == [("proposals", ["params"])]


async def test_params_edited_before_the_approval_are_refused(
    sandbox: Sandbox, settings: Settings
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    async with open_app(settings, sandbox=sandbox) as app:
        bad = await _champion(app)
        proposal = await _open(app)
        await _tamper(app, proposal)
        view = await app.service.answer(_approve(proposal))
        await _assert_refused_and_escalated(app, proposal, view)
        assert await _champion(app) == bad, "the sandbox registry is unchanged"


async def test_params_edited_between_approval_and_execution_are_refused(
    sandbox: Sandbox, settings: Settings
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    async with open_app(settings, sandbox=sandbox) as app:
        bad = await _champion(app)
        proposal = await _open(app)
        config = {"configurable": {"thread_id": proposal.incident_id}, "recursion_limit": 1000}
        answer = Command(resume=_approve(proposal).model_dump())
        await app.service.graph.ainvoke(answer, config, interrupt_before=["execute"])
        approved = await app.store.get_proposal(proposal.proposal_id)
        assert approved is not None and approved.status == "approved"
        await _tamper(app, proposal)
        view = await app.service.resume(proposal.incident_id)
        await _assert_refused_and_escalated(app, proposal, view)
        again = await app.service.resume(proposal.incident_id)  # a restart: it stays ended
        assert again.phase == "finished" and await app.store.list_ledger() == []
        assert await _champion(app) == bad, "the sandbox registry is unchanged"


async def test_an_untouched_proposal_still_executes_and_verifies(
    sandbox: Sandbox, settings: Settings
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    async with open_app(settings, sandbox=sandbox) as app:
        bad = await _champion(app)
        proposal = await _open(app)
        view = await app.service.answer(_approve(proposal))
        assert view.outcome is not None, view
        assert [a.executed for a in view.outcome.actions] == [True]
        assert await _champion(app) != bad
        report = await verify(app.store)
        assert report.ok and report.signed and report.anchor_seq == report.head_seq, report

"""Through the agent: an approved change that meets a conflicting replay is failed and audited.

An earlier request under the change's own key (a previous attempt, when the state was another)
has reached the sandbox; the approved rollback then gets that stored answer back. The incident
must not call it recovered: the ledger row is failed, the audit records the conflict, the alias
and the route stay together, and the agent moves on to the next option.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.agent.types import FinalState, Trigger
from bot.compose import App, open_app
from bot.domain import DecisionKind
from bot.service.models import Answer, OpenRequest
from bot.settings import Settings
from sandbox.runtime import Sandbox
from tools.mutating.base import step_key

ENDPOINT = "sentiment-endpoint"
MODEL = "main.ml.sentiment_classifier"
APPROVER = "alice"


@pytest.fixture
async def app(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[App]:
    settings = Settings(
        _env_file=None,
        state_dir=tmp_path / "state",
        approvers=[APPROVER],
        tool_timeout_s=2.0,
        tool_retries=0,
        max_verify_wait_s=0.0,
    )
    async with open_app(settings, sandbox=sandbox) as opened:
        yield opened


def served(sandbox: Sandbox) -> list[str]:
    endpoint = sandbox.world.endpoint(ENDPOINT)
    assert endpoint is not None
    return [e.entity_version for e in endpoint.config.served_entities]


async def test_a_replayed_key_fails_the_execution_and_is_audited(
    app: App, sandbox: Sandbox
) -> None:
    await sandbox.inject("performance.new_version_regression", ENDPOINT)
    view = await app.service.open(
        OpenRequest(trigger=Trigger(target=ENDPOINT), requester="oncall-user")
    )
    proposal = view.pending
    assert proposal is not None and proposal.tool == "rollback_to_previous_champion"
    bad = served(sandbox)

    # A request under the rollback's serving key reached the platform earlier, for the state as
    # it was then (the regressed config): the platform stored that answer for the key.
    async with sandbox.http_client() as http:
        current = (await http.get(f"/api/2.0/serving-endpoints/{ENDPOINT}")).json()["config"]
        body = {
            "served_entities": current["served_entities"],
            "traffic_config": {"routes": current["traffic_config"]["routes"]},
        }
        earlier = await http.put(
            f"/api/2.0/serving-endpoints/{ENDPOINT}/config",
            json=body,
            headers={"Idempotency-Key": step_key(proposal.idempotency_key, "serving")},
        )
        assert earlier.status_code == 200, earlier.text

    view = await app.service.answer(
        Answer(proposal_id=proposal.proposal_id, decision=DecisionKind.APPROVE, actor=APPROVER)
    )
    while view.pending is not None:  # later options: rejected, the conflict is what is tested
        view = await app.service.answer(
            Answer(
                proposal_id=view.pending.proposal_id, decision=DecisionKind.REJECT, actor=APPROVER
            )
        )
    outcome = view.outcome
    assert outcome is not None
    assert outcome.final_state is not FinalState.RESOLVED
    first = outcome.actions[0]
    assert first.tool == "rollback_to_previous_champion"
    assert first.executed is False and first.execution_status == "conflict"

    ledger = await app.store.list_ledger()
    assert [(e.tool, e.state) for e in ledger] == [("rollback_to_previous_champion", "failed")]
    audit = await app.store.list_audit(incident_id=proposal.incident_id)
    finished = [e.payload for e in audit if e.kind == "execution_finished"]
    assert finished and "conflict" in str(finished[0]), finished

    # Nothing was left half-done: the endpoint still serves the regressed version and the
    # champion alias names it.
    assert served(sandbox) == bad
    champion = await app.platform.registry.version_by_alias(MODEL, "champion")
    assert [str(champion.version)] == bad

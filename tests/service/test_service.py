"""The incident service as every surface uses it: events per incident, the approval policy, the
optional LLM assistant, listing and status."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.agent.events import StepEvent
from bot.agent.policy import ApprovalPolicy
from bot.agent.types import FinalState
from bot.domain import DecisionKind
from bot.service.models import Answer
from sandbox.runtime import Sandbox
from tests.agent.conftest import APPROVER, answer, request_for

REGRESSION = "performance.new_version_regression"
ENDPOINT = "sentiment-endpoint"


async def collect(queue: asyncio.Queue[StepEvent], until_kind: str) -> list[StepEvent]:
    """Events from a subscription up to and including the first of kind ``until_kind``."""
    events: list[StepEvent] = []
    while not events or events[-1].kind != until_kind:
        events.append(await asyncio.wait_for(queue.get(), timeout=60))
    return events


async def test_two_concurrent_incidents_each_reach_only_their_own_subscriber(
    sandbox: Sandbox, open_incident_app: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    async with open_incident_app() as app:
        first, second = request_for(ENDPOINT), request_for("qa_agent")
        first.incident_id, second.incident_id = "inc-first", "inc-second"
        seen: dict[str, list[StepEvent]] = {"inc-first": [], "inc-second": []}

        async def sink_for(incident_id: str) -> Any:
            async def sink(event: StepEvent) -> None:
                seen[incident_id].append(event)

            return sink

        async with (
            app.service.hub.subscribe("inc-first") as one,
            app.service.hub.subscribe("inc-second") as two,
        ):
            views = await asyncio.gather(
                app.service.open(first, on_event=await sink_for("inc-first")),
                app.service.open(second, on_event=await sink_for("inc-second")),
            )
            got_one = await collect(one, "proposal")
            got_two = [two.get_nowait() for _ in range(two.qsize())]
    assert views[0].phase == "waiting" and views[1].phase == "finished"
    assert {e.incident_id for e in got_one} == {"inc-first"}
    assert {e.incident_id for e in got_two} == {"inc-second"}
    assert got_two and got_two[-1].seq == len(got_two)
    for incident_id, events in seen.items():
        assert events and {e.incident_id for e in events} == {incident_id}
    assert [e.seq for e in got_one] == list(range(1, len(got_one) + 1))


async def test_high_risk_change_needs_an_approver_other_than_the_requester(
    sandbox: Sandbox, open_incident_app: Any
) -> None:
    """The attack: the requester rejects the first proposal, then approves the next one, a
    high-risk fleet-wide baseline switch. It must be refused until someone else approves."""
    await sandbox.inject("agent.all_down")
    async with open_incident_app(approvers=[APPROVER, "bob"]) as app:
        view = await app.service.open(request_for("qa_agent", requester=APPROVER))
        while view.pending is not None and view.pending.risk.value != "high":
            reject = Answer(
                proposal_id=view.pending.proposal_id, decision=DecisionKind.REJECT, actor=APPROVER
            )
            view = await app.service.answer(reject)
        high = view.pending
        assert high is not None and high.tool == "switch_agent_to_baseline", view
        own = Answer(proposal_id=high.proposal_id, decision=DecisionKind.APPROVE, actor=APPROVER)
        refused = await app.service.answer(own)
        assert refused.refusal is not None and refused.refusal.code == "requester"
        assert refused.pending is not None and refused.pending.proposal_id == high.proposal_id
        assert await app.store.list_ledger() == []
        assert not [e for e in sandbox.world.events if e.type.startswith("agent")]

        other = Answer(proposal_id=high.proposal_id, decision=DecisionKind.APPROVE, actor="bob")
        done = await app.service.answer(other)
        ledger = await app.store.list_ledger()
        assert [(e.tool, e.state) for e in ledger] == [("switch_agent_to_baseline", "succeeded")]
        # Whatever the runbook proposes next (the seed's fixes after the switch) is declined.
        done = await app.service.drive_from(done, answer(DecisionKind.REJECT))
        assert done.outcome is not None, done
        executed = [a for a in done.outcome.actions if a.executed]
        assert [(a.tool, a.decided_by) for a in executed] == [("switch_agent_to_baseline", "bob")]
        rejections = [
            e
            for e in await app.store.list_audit(incident_id=high.incident_id)
            if e.kind == "rejection" and e.payload.get("refusal") == "requester"
        ]
        assert len(rejections) == 1


async def test_llm_mode_mistral_with_the_sandbox_stand_in_keeps_the_deterministic_summary(
    sandbox: Sandbox, open_incident_app: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    async with open_incident_app(llm_mode="mistral") as app:
        assert app.assistant is not None
        view = await app.service.drive(request_for(ENDPOINT), answer(DecisionKind.APPROVE))
        assert view.outcome is not None and view.outcome.final_state is FinalState.RESOLVED
        # The sandbox's Mistral stand-in answers "{}" to a json_schema request: no summary
        # schema matches it, so the deterministic summary stands (tests/llm has the scripted
        # answers that are used).
        assert view.outcome.summary.startswith(f"{ENDPOINT}: resolved."), view.outcome.summary
        calls = [
            e
            for e in await app.store.list_audit(incident_id=view.incident_id)
            if e.kind == "llm_call"
        ]
    assert [c.payload["prompt"] for c in calls] == ["triage", "summarise"]
    call = calls[-1].payload
    assert call["model"] == app.settings.mistral_model and call["provider"] == "mistral"
    assert call["outcome"] == "invalid" and call["fallback"] is True and call["attempts"] == 2
    assert call["completion_tokens"] > 0


async def test_status_and_list_open_follow_the_incident(
    sandbox: Sandbox, open_incident_app: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    async with open_incident_app() as app:
        view = await app.service.open(request_for(ENDPOINT, requester="carol"))
        listed = await app.service.list_open()
        assert [(i.incident_id, i.status, i.requested_by) for i in listed] == [
            (view.incident_id, "awaiting_approval", "carol")
        ]
        assert view.pending is not None
        reject = Answer(
            proposal_id=view.pending.proposal_id, decision=DecisionKind.REJECT, actor=APPROVER
        )
        view = await app.service.drive_from(
            await app.service.answer(reject), answer(DecisionKind.REJECT)
        )
        assert view.phase == "finished"
        assert (await app.service.status(view.incident_id)).outcome == view.outcome
        assert await app.service.list_open() == []


async def test_a_policy_can_require_two_distinct_approvers(
    sandbox: Sandbox, open_incident_app: Any
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    two = {"approvers": [APPROVER, "bob"], "required": 2}
    policy = ApprovalPolicy.model_validate({"low": two, "medium": two, "high": two})
    async with open_incident_app(approval_policy=policy) as app:
        view = await app.service.open(request_for(ENDPOINT))
        pending = view.pending
        assert pending is not None
        vote = Answer(
            proposal_id=pending.proposal_id, decision=DecisionKind.APPROVE, actor=APPROVER
        )
        view = await app.service.answer(vote)
        assert view.refusal is None and view.pending is not None, view
        assert await app.store.list_ledger() == [], "one approval of two changes nothing"
        again = await app.service.answer(vote)
        assert again.refusal is not None, "the same approver does not count twice"
        assert await app.store.list_ledger() == []
        second = vote.model_copy(update={"actor": "bob"})
        done = await app.service.answer(second)
    assert done.outcome is not None and done.outcome.final_state is FinalState.RESOLVED
    assert [a.executed for a in done.outcome.actions] == [True]

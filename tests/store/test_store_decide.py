"""A proposal gets at most one decision, from an allowed approver, before it expires."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from bot.domain import DecisionKind
from bot.store import Proposal, Store, open_store
from bot.store import tables as t
from bot.store.testing import ManualClock

APPROVERS = ["U-alice", "U-bob"]


async def _proposal(store: Store, ttl_s: float = 600) -> Proposal:
    incident = await store.create_incident("fraud", {"alertname": "Endpoint5xx"})
    return await store.create_proposal(
        incident.id,
        action="Restart endpoint fraud",
        tool="restart_endpoint",
        params={"endpoint": "fraud"},
        dry_run={"diff": []},
        risk="medium",
        ttl_s=ttl_s,
    )


def test_an_answer_records_its_vote_and_an_expiry_is_no_vote() -> None:
    assert [DecisionKind.APPROVE.vote, DecisionKind.REJECT.vote] == ["approved", "rejected"]
    with pytest.raises(ValueError, match="expiry"):
        _ = DecisionKind.EXPIRE.vote


async def test_an_actor_outside_the_allow_list_is_refused(store: Store) -> None:
    proposal = await _proposal(store)
    result = await store.decide(
        proposal.proposal_id, "approved", "U-mallory", "slack", approvers=APPROVERS
    )
    assert (result.accepted, result.refusal) == (False, "unauthorised")
    still = await store.get_proposal(proposal.proposal_id)
    assert still is not None and still.status == "pending"
    assert await store.get_approval(proposal.proposal_id) is None


async def test_approval_is_recorded_with_its_source_and_audited(store: Store) -> None:
    proposal = await _proposal(store)
    result = await store.decide(
        proposal.proposal_id,
        "approved",
        "U-alice",
        "slack",
        approvers=APPROVERS,
        channel="C-incidents",
    )
    assert result.accepted
    approval = await store.get_approval(proposal.proposal_id)
    assert approval is not None
    assert (approval.decision, approval.actor, approval.source, approval.channel) == (
        "approved",
        "U-alice",
        "slack",
        "C-incidents",
    )
    decided = await store.get_proposal(proposal.proposal_id)
    assert decided is not None and decided.status == "approved"
    audit = await store.list_audit(incident_id=proposal.incident_id)
    assert audit[-1].kind == "approval"
    assert audit[-1].actor == "U-alice"
    assert audit[-1].payload["proposal_id"] == proposal.proposal_id


async def test_a_second_decision_is_refused(store: Store) -> None:
    proposal = await _proposal(store)
    rejected = await store.decide(
        proposal.proposal_id, "rejected", "U-bob", "cli", approvers=APPROVERS, reason="not now"
    )
    assert rejected.accepted
    again = await store.decide(
        proposal.proposal_id, "approved", "U-alice", "slack", approvers=APPROVERS
    )
    assert (again.accepted, again.refusal) == (False, "already_decided")
    final = await store.get_proposal(proposal.proposal_id)
    assert final is not None and final.status == "rejected"
    kinds = [a.kind for a in await store.list_audit(incident_id=proposal.incident_id)]
    assert kinds.count("rejection") == 1 and "approval" not in kinds


async def test_concurrent_clicks_on_two_replicas_give_one_decision(
    store: Store, database_url: str, clock: ManualClock
) -> None:
    proposal = await _proposal(store)
    replica = await open_store(database_url, clock=clock)
    try:
        results = await asyncio.gather(
            *[
                (store if i % 2 else replica).decide(
                    proposal.proposal_id,
                    "approved" if i % 3 else "rejected",
                    APPROVERS[i % 2],
                    "slack",
                    approvers=APPROVERS,
                )
                for i in range(10)
            ]
        )
    finally:
        await replica.close()
    assert sum(r.accepted for r in results) == 1
    assert {r.refusal for r in results if not r.accepted} == {"already_decided"}


async def test_the_database_itself_refuses_a_second_approval_row(store: Store) -> None:
    proposal = await _proposal(store)
    await store.decide(proposal.proposal_id, "approved", "U-alice", "cli", approvers=APPROVERS)
    with pytest.raises(IntegrityError):
        async with store.engine.begin() as conn:
            await conn.execute(
                insert(t.approvals).values(
                    proposal_id=proposal.proposal_id,
                    decision="rejected",
                    actor="U-bob",
                    at=store.now(),
                    source="cli",
                )
            )


async def test_an_expired_proposal_is_marked_expired_and_refused(
    store: Store, clock: ManualClock
) -> None:
    proposal = await _proposal(store, ttl_s=60)
    clock.advance(61)
    result = await store.decide(
        proposal.proposal_id, "approved", "U-alice", "slack", approvers=APPROVERS
    )
    assert (result.accepted, result.refusal) == (False, "expired")
    expired = await store.get_proposal(proposal.proposal_id)
    assert expired is not None and expired.status == "expired"
    assert await store.get_approval(proposal.proposal_id) is None
    kinds = [a.kind for a in await store.list_audit(incident_id=proposal.incident_id)]
    assert kinds[-1] == "expiry"

    later = await store.decide(
        proposal.proposal_id, "rejected", "U-bob", "cli", approvers=APPROVERS
    )
    assert later.refusal == "expired"


async def test_expiry_sweep_marks_only_due_proposals(store: Store, clock: ManualClock) -> None:
    short = await _proposal(store, ttl_s=30)
    long = await _proposal(store, ttl_s=3600)
    clock.advance(31)
    swept = await store.expire_due_proposals()
    assert [p.proposal_id for p in swept] == [short.proposal_id]
    remaining = await store.list_proposals(status="pending")
    assert [p.proposal_id for p in remaining] == [long.proposal_id]


async def test_unknown_proposal_is_refused(store: Store) -> None:
    result = await store.decide("prop-missing", "approved", "U-alice", "cli", approvers=APPROVERS)
    assert result.refusal == "not_found"


async def test_proposing_the_same_change_twice_returns_the_first_proposal(store: Store) -> None:
    first = await _proposal(store)
    again = await store.create_proposal(
        first.incident_id,
        action="Restart endpoint fraud",
        tool="restart_endpoint",
        params={"endpoint": "fraud"},
        dry_run={"diff": []},
        risk="medium",
        ttl_s=600,
    )
    assert again.proposal_id == first.proposal_id
    assert len(await store.list_proposals(incident_id=first.incident_id)) == 1


async def test_expire_acts_only_on_a_due_pending_proposal(store: Store, clock: ManualClock) -> None:
    proposal = await _proposal(store, ttl_s=60)
    early = await store.expire(proposal.proposal_id)
    assert early.status == "pending"
    clock.advance(60)
    due = await store.expire(proposal.proposal_id)
    assert due.status == "expired"
    kinds = [a.kind for a in await store.list_audit(incident_id=proposal.incident_id)]
    assert kinds.count("expiry") == 1
    assert (await store.expire(proposal.proposal_id)).status == "expired"
    assert [a.kind for a in await store.list_audit()].count("expiry") == 1


async def test_two_required_approvers_wait_for_a_second_distinct_approver(store: Store) -> None:
    proposal = await _proposal(store)
    first = await store.decide(
        proposal.proposal_id, "approved", "U-alice", "slack", approvers=APPROVERS, required=2
    )
    assert (first.outcome, first.approvals, first.required) == ("waiting", 1, 2)
    assert not first.accepted
    pending = await store.get_proposal(proposal.proposal_id)
    assert pending is not None and pending.status == "pending"
    assert await store.get_approval(proposal.proposal_id) is None

    again = await store.decide(
        proposal.proposal_id, "approved", "U-alice", "cli", approvers=APPROVERS, required=2
    )
    assert (again.outcome, again.refusal) == ("refused", "already_voted")

    second = await store.decide(
        proposal.proposal_id, "approved", "U-bob", "slack", approvers=APPROVERS, required=2
    )
    assert (second.outcome, second.approvals) == ("accepted", 2)
    approved = await store.get_proposal(proposal.proposal_id)
    assert approved is not None and approved.status == "approved"
    assert [v.actor for v in await store.list_votes(proposal.proposal_id)] == ["U-alice", "U-bob"]
    audit = [e for e in await store.list_audit(incident_id=proposal.incident_id)]
    votes = [e.payload for e in audit if e.kind == "approval"]
    assert [(v["status"], v["approvers"]) for v in votes] == [
        ("pending", ["U-alice"]),
        ("approved", ["U-alice", "U-bob"]),
    ]


async def test_the_requester_may_not_approve_and_nothing_is_recorded(store: Store) -> None:
    incident = await store.create_incident("fleet", {"alertname": "QualityDrop"}, actor="U-alice")
    assert incident.requested_by == "U-alice"
    stored = await store.get_incident(incident.id)
    assert stored is not None and stored.requested_by == "U-alice"
    proposal = await store.create_proposal(
        incident.id,
        action="Switch the fleet's baseline",
        tool="set_baseline",
        params={"fleet": "all"},
        dry_run={},
        risk="high",
        ttl_s=600,
    )
    own = await store.decide(
        proposal.proposal_id,
        "approved",
        "U-alice",
        "cli",
        approvers=APPROVERS,
        excluded=["U-alice"],
    )
    assert (own.outcome, own.refusal) == ("refused", "excluded")
    assert await store.list_votes(proposal.proposal_id) == []
    other = await store.decide(
        proposal.proposal_id, "approved", "U-bob", "cli", approvers=APPROVERS, excluded=["U-alice"]
    )
    assert other.accepted and other.approval is not None and other.approval.actor == "U-bob"


async def test_one_reject_rejects_a_proposal_waiting_for_its_second_approval(
    store: Store,
) -> None:
    proposal = await _proposal(store)
    await store.decide(
        proposal.proposal_id, "approved", "U-alice", "slack", approvers=APPROVERS, required=2
    )
    rejected = await store.decide(
        proposal.proposal_id,
        "rejected",
        "U-bob",
        "slack",
        approvers=APPROVERS,
        required=2,
        reason="no",
    )
    assert rejected.accepted
    final = await store.get_proposal(proposal.proposal_id)
    assert final is not None and final.status == "rejected"
    approval = await store.get_approval(proposal.proposal_id)
    assert approval is not None and (approval.decision, approval.actor) == ("rejected", "U-bob")


async def test_concurrent_votes_of_two_required_approvers_settle_once(
    store: Store, database_url: str, clock: ManualClock
) -> None:
    proposal = await _proposal(store)
    approvers = [*APPROVERS, "U-carol"]
    replica = await open_store(database_url, clock=clock)
    try:
        results = await asyncio.gather(
            *[
                (store if i % 2 else replica).decide(
                    proposal.proposal_id,
                    "approved",
                    approvers[i % 3],
                    "slack",
                    approvers=approvers,
                    required=2,
                )
                for i in range(12)
            ]
        )
    finally:
        await replica.close()
    outcomes = [r.outcome for r in results]
    assert (outcomes.count("accepted"), outcomes.count("waiting")) == (1, 1)
    assert {r.refusal for r in results if r.outcome == "refused"} <= {
        "already_voted",
        "already_decided",
    }
    final = await store.get_proposal(proposal.proposal_id)
    assert final is not None and final.status == "approved"
    assert len(await store.list_votes(proposal.proposal_id)) == 2
    kinds = [
        e.payload.get("status")
        for e in await store.list_audit(incident_id=proposal.incident_id)
        if e.kind == "approval"
    ]
    assert kinds == ["pending", "approved"]

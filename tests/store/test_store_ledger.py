"""The execution ledger runs each side effect at most once, across tasks and replicas."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import NotFoundError, Store, StoreError, open_store
from bot.store.testing import ManualClock


async def _approved_proposal(store: Store) -> str:
    incident = await store.create_incident("fraud-model", {"alertname": "AccuracyDrop"})
    proposal = await store.create_proposal(
        incident.id,
        action="Roll back fraud-model to v3",
        tool="rollback_to_previous_champion",
        params={"model": "fraud-model", "endpoint": "fraud"},
        dry_run={"diff": [{"path": "aliases.champion", "before": "4", "after": "3"}]},
        risk="high",
        ttl_s=600,
    )
    result = await store.decide(
        proposal.proposal_id, "approved", "alice", "cli", approvers=["alice"]
    )
    assert result.accepted
    return proposal.proposal_id


async def test_begin_claims_once_then_reports_the_outcome(store: Store) -> None:
    first = await store.ledger_begin("k1", tool="scale_endpoint", params={"workload_size": "Large"})
    again = await store.ledger_begin("k1", tool="scale_endpoint", params={"workload_size": "Large"})
    assert (first.claimed, first.state) == (True, "started")
    assert (again.claimed, again.state) == (False, "started")

    finished = await store.ledger_finish("k1", "succeeded", {"applied": True})
    assert finished.state == "succeeded"
    assert finished.finished_at is not None

    after = await store.ledger_begin("k1", tool="scale_endpoint", params={"workload_size": "Large"})
    assert (after.claimed, after.state, after.result) == (False, "succeeded", {"applied": True})


async def test_concurrent_begin_on_one_key_has_exactly_one_winner(
    store: Store, database_url: str, clock: ManualClock
) -> None:
    # A second Store on the same database stands in for a second replica.
    replica = await open_store(database_url, clock=clock)
    try:
        attempts = [
            (store if i % 2 else replica).ledger_begin(
                "restart-fraud", tool="restart_endpoint", params={"endpoint": "fraud"}
            )
            for i in range(16)
        ]
        entries = await asyncio.gather(*attempts)
    finally:
        await replica.close()
    assert sum(e.claimed for e in entries) == 1
    assert len(await store.list_ledger()) == 1
    started = [a for a in await store.list_audit() if a.kind == "execution_started"]
    assert len(started) == 1


async def test_failed_entry_is_retried_only_when_asked_and_only_once(store: Store) -> None:
    await store.ledger_begin("k2", tool="restart_gateway", params={})
    await store.ledger_finish("k2", "failed", {"error": "503 from gateway"})

    plain = await store.ledger_begin("k2", tool="restart_gateway", params={})
    assert (plain.claimed, plain.state) == (False, "failed")

    retries = await asyncio.gather(
        *[
            store.ledger_begin("k2", tool="restart_gateway", params={}, retry_failed=True)
            for _ in range(6)
        ]
    )
    assert sum(r.claimed for r in retries) == 1
    entry = await store.get_ledger("k2")
    assert entry is not None
    assert (entry.state, entry.result) == ("started", None)


async def test_a_started_entry_is_taken_over_only_once_stale(
    store: Store, clock: ManualClock
) -> None:
    await store.ledger_begin("k3", tool="restart_endpoint", params={"endpoint": "fraud"})
    fresh = await store.ledger_begin(
        "k3", tool="restart_endpoint", params={"endpoint": "fraud"}, stale_after_s=300
    )
    assert not fresh.claimed

    clock.advance(301)
    stale = await store.ledger_begin(
        "k3", tool="restart_endpoint", params={"endpoint": "fraud"}, stale_after_s=300
    )
    assert stale.claimed
    assert stale.started_at == clock.now


async def test_finish_updates_the_proposal_and_refuses_a_second_finish(store: Store) -> None:
    proposal_id = await _approved_proposal(store)
    proposal = await store.get_proposal(proposal_id)
    assert proposal is not None
    entry = await store.ledger_begin(
        proposal.idempotency_key,
        tool=proposal.tool,
        params=proposal.params,
        proposal_id=proposal_id,
    )
    assert entry.claimed
    await store.ledger_finish(proposal.idempotency_key, "succeeded", {"applied": True})

    executed = await store.get_proposal(proposal_id)
    assert executed is not None and executed.status == "executed"
    kinds = [a.kind for a in await store.list_audit(incident_id=proposal.incident_id)]
    assert kinds[-2:] == ["execution_started", "execution_finished"]

    with pytest.raises(StoreError, match="already succeeded"):
        await store.ledger_finish(proposal.idempotency_key, "failed", {})
    with pytest.raises(NotFoundError):
        await store.ledger_finish("no-such-key", "succeeded", {})


async def test_failed_execution_marks_the_proposal_failed(store: Store) -> None:
    proposal_id = await _approved_proposal(store)
    proposal = await store.get_proposal(proposal_id)
    assert proposal is not None
    await store.ledger_begin(
        proposal.idempotency_key,
        tool=proposal.tool,
        params=proposal.params,
        proposal_id=proposal_id,
    )
    await store.ledger_finish(proposal.idempotency_key, "failed", {"error": "UPDATE_FAILED"})
    failed = await store.get_proposal(proposal_id)
    assert failed is not None and failed.status == "failed"

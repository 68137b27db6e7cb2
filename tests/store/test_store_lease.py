"""A started ledger row is taken over only when its owner's lease ran out, never while it renews."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.store import Store, StoreError, open_store
from bot.store.lease import LedgerLeases
from bot.store.testing import ManualClock

ROLLBACK = {"tool": "rollback_to_previous_champion", "params": {"model": "fraud-model"}}


async def test_a_leased_row_is_kept_past_the_old_deadline_bound_until_its_lease_runs_out(
    store: Store, clock: ManualClock
) -> None:
    first = await store.ledger_begin("k", **ROLLBACK, owner="A", lease_s=30, stale_after_s=5)
    assert first.claimed and first.lease_expires_at is not None
    clock.advance(20)  # far past one request's deadline (stale_after_s), inside the lease
    assert not (await store.ledger_begin("k", **ROLLBACK, owner="B", lease_s=30)).claimed
    assert await store.ledger_renew("k", "A", 30)
    clock.advance(25)  # past the first lease, inside the renewed one
    assert not (await store.ledger_begin("k", **ROLLBACK, owner="B", lease_s=30)).claimed
    clock.advance(6)
    taken = await store.ledger_begin("k", **ROLLBACK, owner="B", lease_s=30)
    assert (taken.claimed, taken.owner) == (True, "B")
    started = [e.payload for e in await store.list_audit() if e.kind == "execution_started"]
    assert [(p["owner"], p["retry"]) for p in started] == [("A", False), ("B", True)]


async def test_the_old_owner_can_neither_renew_nor_finish_a_row_taken_over(
    store: Store, clock: ManualClock
) -> None:
    await store.ledger_begin("k", **ROLLBACK, owner="A", lease_s=10)
    clock.advance(10)
    assert (await store.ledger_begin("k", **ROLLBACK, owner="B", lease_s=10)).claimed
    assert not await store.ledger_renew("k", "A", 10)
    with pytest.raises(StoreError, match="taken over"):
        await store.ledger_finish("k", "succeeded", {"by": "A"}, owner="A")
    done = await store.ledger_finish("k", "succeeded", {"by": "B"}, owner="B")
    assert (done.state, done.result, done.lease_expires_at) == ("succeeded", {"by": "B"}, None)
    assert not await store.ledger_renew("k", "B", 10)  # finished rows are no one's to renew


@pytest.fixture
async def live_store(database_url: str) -> AsyncIterator[Store]:
    """A store on the wall clock: the lease renewal task runs in real time."""
    opened = await open_store(database_url)
    yield opened
    await opened.close()


async def test_a_slow_live_executor_keeps_its_row_and_the_second_one_waits(
    live_store: Store, database_url: str
) -> None:
    executor = LedgerLeases(live_store, lease_s=1.2, poll_s=0.1)
    claimed = await executor.claim("k", **ROLLBACK)
    assert claimed.claimed and executor.holds("k")
    replica = await open_store(database_url)
    try:
        second = asyncio.create_task(
            LedgerLeases(replica, lease_s=1.2, poll_s=0.1).claim("k", **ROLLBACK)
        )
        await asyncio.sleep(3.0)  # the effect runs for 2.5 leases
        assert not second.done()
        began = time.monotonic()
        await executor.finish("k", "succeeded", {"applied": True})
        waited = await asyncio.wait_for(second, 5)
        assert time.monotonic() - began < 1.0
    finally:
        await replica.close()
    assert (waited.claimed, waited.state, waited.result) == (False, "succeeded", {"applied": True})
    started = [e for e in await live_store.list_audit() if e.kind == "execution_started"]
    assert len(started) == 1


async def test_a_claim_whose_task_ended_unfinished_is_taken_over_after_its_lease(
    live_store: Store, database_url: str
) -> None:
    dead = LedgerLeases(live_store, lease_s=1.2, poll_s=0.1)
    await asyncio.create_task(dead.claim("k", **ROLLBACK))  # the claiming task ends right away
    replica = await open_store(database_url)
    try:
        began = time.monotonic()
        taken = await asyncio.wait_for(
            LedgerLeases(replica, lease_s=1.2, poll_s=0.1).claim("k", **ROLLBACK), 10
        )
        assert taken.claimed
        assert 0.8 < time.monotonic() - began < 4.0
    finally:
        await replica.close()
    assert not dead.holds("k")

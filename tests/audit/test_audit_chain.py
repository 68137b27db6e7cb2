"""The audit chain verifies after real appends and names each kind of tampering."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select, update

from bot import audit
from bot.audit.hashing import entry_hash
from bot.store import Store, open_store
from bot.store import tables as t
from bot.store.testing import ManualClock


async def _five_entries(store: Store) -> str:
    incident = await store.create_incident("fraud", {"alertname": "Endpoint5xx"})  # seq 1
    await audit.append(store, incident.id, "tool_call", "bot", {"tool": "endpoint_status"})
    await audit.append(store, incident.id, "tool_call", "bot", {"tool": "slis", "n": 3})
    await audit.append(store, incident.id, "diagnosis", "bot", {"branch": "scale"})
    await audit.append(store, incident.id, "escalation", "bot", {"to": "on-call"})
    return incident.id


async def _set(store: Store, at_seq: int, **values: object) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(update(t.audit).where(t.audit.c.seq == at_seq).values(**values))


async def test_real_appends_verify(store: Store) -> None:
    await _five_entries(store)
    report = await audit.verify(store)
    assert report.ok, report
    assert (report.rows_checked, report.head_seq) == (5, 5)


async def test_an_edited_payload_is_found(store: Store) -> None:
    await _five_entries(store)
    await _set(store, 3, payload={"tool": "slis", "n": 4})
    report = await audit.verify(store)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 3, "edited")


async def test_an_edited_hash_is_found(store: Store) -> None:
    await _five_entries(store)
    await _set(store, 2, hash="f" * 64)
    report = await audit.verify(store)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 2, "edited")


async def test_a_rewritten_row_with_a_fresh_hash_breaks_the_next_link(store: Store) -> None:
    await _five_entries(store)
    async with store.engine.begin() as conn:
        row = (await conn.execute(select(t.audit).where(t.audit.c.seq == 3))).one()
    forged = {"tool": "slis", "n": 0}
    new_hash = entry_hash(row.prev_hash, 3, row.incident_id, row.at, row.kind, row.actor, forged)
    await _set(store, 3, payload=forged, hash=new_hash)
    report = await audit.verify(store)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 4, "broken_link")


async def test_a_deleted_row_is_found(store: Store) -> None:
    await _five_entries(store)
    async with store.engine.begin() as conn:
        await conn.execute(delete(t.audit).where(t.audit.c.seq == 3))
    report = await audit.verify(store)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 3, "deleted")


async def test_deleting_the_newest_rows_is_found(store: Store) -> None:
    await _five_entries(store)
    async with store.engine.begin() as conn:
        await conn.execute(delete(t.audit).where(t.audit.c.seq >= 4))
    report = await audit.verify(store)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 4, "truncated")


async def test_swapped_rows_are_found(store: Store) -> None:
    await _five_entries(store)
    await _set(store, 3, seq=-1)
    await _set(store, 4, seq=3)
    await _set(store, -1, seq=4)
    report = await audit.verify(store)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 3, "reordered")


async def test_concurrent_appenders_on_several_replicas_keep_one_chain(
    store: Store, database_url: str, clock: ManualClock
) -> None:
    replicas = [store] + [await open_store(database_url, clock=clock) for _ in range(2)]
    try:
        await asyncio.gather(
            *[
                audit.append(replicas[i % 3], "inc-1", "tool_call", f"worker-{i}", {"i": i})
                for i in range(45)
            ]
        )
    finally:
        for replica in replicas[1:]:
            await replica.close()
    report = await audit.verify(store)
    assert report.ok, report
    entries = await store.list_audit()
    assert [e.seq for e in entries] == list(range(1, 46))
    assert sorted(e.payload["i"] for e in entries) == list(range(45))

"""The audit chain verifies after real appends and names each kind of tampering."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select, update

from bot import audit
from bot.audit.hashing import entry_hash
from bot.audit.seal import attach_seal, seal_from_settings
from bot.settings import Settings
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


async def test_sealed_replicas_anchor_every_head_in_order_while_verify_runs(
    sealed_store: Store, database_url: str, clock: ManualClock, sealed_settings: Settings
) -> None:
    """Three replicas (each with its own seal, as separate processes have) append at once, and
    a verify running meanwhile never mistakes an append in flight for a truncation."""
    replicas = [sealed_store] + [await open_store(database_url, clock=clock) for _ in range(2)]
    for replica in replicas[1:]:
        attach_seal(replica.engine, seal_from_settings(sealed_settings))
    reports: list[audit.VerifyReport] = []
    appending = True

    async def keep_verifying() -> None:
        while appending:
            reports.append(await audit.verify(sealed_store))

    checker = asyncio.create_task(keep_verifying())
    try:
        await asyncio.gather(
            *[
                audit.append(replicas[i % 3], "inc-1", "tool_call", f"worker-{i}", {"i": i})
                for i in range(60)
            ]
        )
    finally:
        appending = False
        await checker
        for replica in replicas[1:]:
            await replica.close()
    assert reports and all(r.ok for r in reports), [r for r in reports if not r.ok][:1]
    final = await audit.verify(sealed_store)
    assert final.ok and final.head_seq == 60 and final.anchor_seq == 60
    seal = seal_from_settings(sealed_settings)
    anchors = seal.anchors.read(seal.chain_of(sealed_store.engine.sync_engine)).anchors
    assert [a.seq for a in anchors] == list(range(1, 61)), "one anchor per commit, in seq order"

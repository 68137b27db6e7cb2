"""Attacks by someone with write access to the database, on a signed and anchored chain.

Each test first shows that the attack defeats the hash links alone (``verify_rows`` without a key
or anchors passes), then that the signatures, the anchor file or the row checks find it.
"""

from __future__ import annotations

import pytest

from bot import audit
from bot.audit.anchor import Anchor, now_utc
from bot.audit.binding import ProposalTampered, load_bound_proposal
from bot.audit.seal import ChainSeal
from bot.audit.snapshot import read_snapshot
from bot.audit.verify import ChainRow, verify_rows
from bot.store import Store, open_store
from bot.store import tables as t
from bot.store.testing import ManualClock
from tests.audit.attacks import (
    APPROVER,
    INTRUDER,
    audit_rows,
    edit_row,
    rewrite_consistently,
    seed_incident,
    truncate_with_head_moved_back,
    wipe_with_head_reset,
)


async def _hash_links_only(store: Store) -> bool:
    rows, head = await store.read_audit_chain()
    return verify_rows(rows, head).ok


async def test_a_sealed_chain_verifies_and_vouches_for_its_head(sealed_store: Store) -> None:
    await seed_incident(sealed_store)
    report = await audit.verify(sealed_store)
    assert report.ok, report
    rows = await audit_rows(sealed_store)
    assert (report.head_seq, report.head_hash) == (rows[-1].seq, rows[-1].hash)
    assert report.signed and report.anchor_seq == rows[-1].seq
    assert all(row.signature for row in rows)
    # the proposal, its approval (and its one vote, where votes are kept), the ledger row
    votes = 1 if "approval_votes" in t.metadata.tables else 0
    assert report.records_checked == 3 + votes and report.record_problems == []


async def test_a_consistent_rewrite_of_the_approver_is_found_by_its_signature(
    sealed_store: Store, seal: ChainSeal
) -> None:
    await seed_incident(sealed_store)
    seq = await rewrite_consistently(sealed_store, "approval", actor=INTRUDER)
    await edit_row(sealed_store, "approvals", {"actor": APPROVER}, actor=INTRUDER)
    assert await _hash_links_only(sealed_store), "the hashes alone no longer show anything"

    _, head = await sealed_store.read_audit_chain()
    signed_only = verify_rows(await _chain_rows(sealed_store), head, key=seal.key)
    assert (signed_only.ok, signed_only.problem, signed_only.first_bad_seq) == (
        False,
        "bad_signature",
        seq,
    )
    report = await audit.verify(sealed_store)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "bad_signature", seq)
    assert report.bad_row is not None and report.bad_row.actor == INTRUDER


async def test_a_truncation_with_the_head_moved_back_is_found_by_the_anchor(
    sealed_store: Store,
) -> None:
    await seed_incident(sealed_store)
    rows = await audit_rows(sealed_store)
    approval = next(row.seq for row in rows if row.kind == "approval")
    await truncate_with_head_moved_back(sealed_store, keep=approval - 1)
    assert await _hash_links_only(sealed_store)

    report = await audit.verify(sealed_store)
    assert (report.ok, report.problem) == (False, "truncated")
    assert report.first_bad_seq == approval
    assert f"head seq {rows[-1].seq}" in report.detail


async def test_a_wipe_with_the_head_reset_is_found_by_the_anchor(sealed_store: Store) -> None:
    await seed_incident(sealed_store)
    await wipe_with_head_reset(sealed_store)
    assert await _hash_links_only(sealed_store)

    report = await audit.verify(sealed_store)
    assert (report.ok, report.problem, report.rows_checked) == (False, "wiped", 0)


async def test_edited_proposal_approval_and_ledger_rows_are_reported(sealed_store: Store) -> None:
    seeded = await seed_incident(sealed_store)
    proposal = seeded["proposal"]
    params = {**proposal.params, "endpoint": "payments"}
    await edit_row(sealed_store, "proposals", {"id": proposal.proposal_id}, params=params)
    await edit_row(sealed_store, "approvals", {"proposal_id": proposal.proposal_id}, actor=INTRUDER)
    await edit_row(
        sealed_store,
        "ledger",
        {"idempotency_key": proposal.idempotency_key},
        result={"status": "ok", "v": "4"},
    )
    assert await _hash_links_only(sealed_store), "the chain itself is untouched"

    report = await audit.verify(sealed_store)
    assert (report.ok, report.problem) == (False, "records_differ")
    found = {(p.table, p.problem, tuple(p.fields)) for p in report.record_problems}
    assert ("proposals", "differs", ("params",)) in found
    assert ("approvals", "differs", ("actor",)) in found
    assert ("ledger", "differs", ("result",)) in found
    assert ("approvals", "missing", ()) in found, "alice's recorded approval has no row any more"


async def test_a_ledger_row_marked_succeeded_after_a_failure_is_reported(
    sealed_store: Store,
) -> None:
    seeded = await seed_incident(sealed_store)
    key = seeded["proposal"].idempotency_key
    await edit_row(sealed_store, "ledger", {"idempotency_key": key}, state="failed")
    report = await audit.verify(sealed_store)
    problems = [(p.table, p.fields) for p in report.record_problems]
    assert (report.ok, problems) == (False, [("ledger", ["state"])])


async def test_an_unsigned_chain_fails_a_sealed_verify(store: Store, seal: ChainSeal) -> None:
    await seed_incident(store)
    rows = await _chain_rows(store)
    _, head = await store.read_audit_chain()
    report = verify_rows(rows, head, key=seal.key)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "unsigned", 1)


async def _chain_rows(store: Store) -> list[ChainRow]:
    return (await read_snapshot(store)).rows


async def test_a_deleted_anchor_file_fails_closed(sealed_store: Store, seal: ChainSeal) -> None:
    await seed_incident(sealed_store)
    seal.anchors.path.unlink()
    report = await audit.verify(sealed_store)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "unanchored", 1)


async def test_a_forged_anchor_line_is_refused(sealed_store: Store, seal: ChainSeal) -> None:
    await seed_incident(sealed_store)
    rows = await audit_rows(sealed_store)
    chain = seal.chain_of(sealed_store.engine.sync_engine)
    forged = Anchor(
        chain=chain, seq=rows[-1].seq, hash=rows[-1].hash, signature="0" * 64, at=now_utc()
    )
    seal.anchors.append(forged)
    report = await audit.verify(sealed_store)
    assert (report.ok, report.problem) == (False, "bad_anchor")


async def test_an_approval_written_without_the_key_does_not_let_a_change_run(
    sealed_store: Store, database_url: str, clock: ManualClock
) -> None:
    """The attacker runs the bot's own code against the database, without the audit key, and
    approves the change themselves: a well-formed, hash-linked approval entry, but unsigned."""
    incident = await sealed_store.create_incident("fraud", {"actor": "bob"})
    proposal = await sealed_store.create_proposal(
        incident.id,
        action="Scale fraud up",
        tool="scale_endpoint",
        params={"endpoint": "fraud", "min_replicas": 4},
        dry_run={},
        risk="medium",
        ttl_s=600,
    )
    async with await open_store(database_url, clock=clock) as keyless:
        decided = await keyless.decide(
            proposal.proposal_id, "approved", APPROVER, "cli", approvers=[APPROVER]
        )
        assert decided.accepted
    with pytest.raises(ProposalTampered, match="no signed approval"):
        await load_bound_proposal(sealed_store, proposal.proposal_id)
    kinds = [e.kind for e in await sealed_store.list_audit(incident_id=incident.id)]
    assert kinds[-1] == "tamper_detected"
    report = await audit.verify(sealed_store)
    assert (report.ok, report.problem) == (False, "unsigned")

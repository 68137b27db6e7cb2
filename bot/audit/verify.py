"""Checking the audit chain: every link recomputed and signed, every anchored head still there.

Three layers, each catching what the one before cannot:

- the hash links find an edited, deleted or reordered row, but not a *consistent* rewrite (edit a
  row and recompute every later hash with the same public function);
- the signatures (HMAC over each hash, with a key the database does not hold) find the rewrite,
  but not a truncation (drop the newest rows, move the head back) or a wipe;
- the anchor file outside the database (every committed head) finds those: the chain must still
  hold every head it once had.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from bot.audit.anchor import Anchor
from bot.audit.hashing import GENESIS_HASH, entry_hash
from bot.audit.signing import SigningKey
from bot.store.models import AuditHead, AuditRow

Problem = Literal[
    "edited",
    "deleted",
    "reordered",
    "broken_link",
    "truncated",
    "unsigned",
    "bad_signature",
    "rewritten",
    "wiped",
    "unanchored",
    "bad_anchor",
    "records_differ",
]


class ChainRow(AuditRow):
    """An audit row as stored, with the signature the appender gave it (None: unsigned)."""

    signature: str | None = None


class RecordProblem(BaseModel):
    """A proposal, approval or ledger row that does not agree with what the chain recorded."""

    table: Literal["proposals", "approvals", "approval_votes", "ledger"]
    key: str = Field(description="the row's id: proposal id, proposal id + actor, ledger key")
    problem: Literal["unrecorded", "differs", "missing"]
    fields: list[str] = Field(default_factory=list)
    detail: str = ""


class VerifyReport(BaseModel):
    """The outcome of ``verify``: ok with the head it vouches for, or the first thing wrong."""

    ok: bool
    rows_checked: int
    head_seq: int
    head_hash: str = GENESIS_HASH
    first_bad_seq: int | None = None
    problem: Problem | None = None
    detail: str = ""
    bad_row: AuditRow | None = None
    signed: bool = Field(False, description="every row's signature was checked against the key")
    key_id: str | None = None
    anchors_checked: int = 0
    anchor_seq: int | None = Field(None, description="the newest head the anchor file holds")
    records_checked: int = 0
    record_problems: list[RecordProblem] = Field(default_factory=list)


def row_hash(row: AuditRow) -> str:
    """The hash ``row``'s content gives (equal to ``row.hash`` unless it was edited)."""
    payload = row.payload if isinstance(row.payload, dict) else {"<not an object>": row.payload}
    return entry_hash(row.prev_hash, row.seq, row.incident_id, row.at, row.kind, row.actor, payload)


def verify_rows(
    rows: Sequence[AuditRow],
    head: AuditHead,
    *,
    key: SigningKey | None = None,
    anchors: Sequence[Anchor] | None = None,
) -> VerifyReport:
    """Walk ``rows`` (in seq order) against the chain rules, the head, the key and the anchors.

    Problems, in the order they are checked for each row: ``deleted`` (a seq is missing),
    ``reordered`` (the row links to a hash that belongs elsewhere in the chain), ``broken_link``
    (it links to a hash that exists nowhere), ``edited`` (its content does not give its hash),
    ``unsigned`` / ``bad_signature`` (with a ``key``: the hash is not signed by it). After the
    walk: ``truncated`` or ``edited`` against the head row; then, with ``anchors`` (None: not
    checked), ``bad_anchor``, ``wiped`` / ``truncated`` (an anchored head is beyond the chain's
    end), ``rewritten`` (the chain has another hash at an anchored seq) or ``unanchored`` (rows,
    but no anchor vouches for them).
    """
    base = VerifyReport(
        ok=True,
        rows_checked=len(rows),
        head_seq=head.seq,
        head_hash=head.hash,
        signed=key is not None,
        key_id=key.key_id if key is not None else None,
    )
    broken = _walk(rows, head, key, base)
    if broken is not None:
        return broken
    if anchors is None:
        return base
    return _check_anchors(rows, list(anchors), key, base)


def _walk(
    rows: Sequence[AuditRow], head: AuditHead, key: SigningKey | None, base: VerifyReport
) -> VerifyReport | None:
    all_hashes = {row.hash for row in rows}
    prev_hash = GENESIS_HASH
    expected_seq = 1

    def bad(row: AuditRow, problem: Problem, detail: str, checked: int) -> VerifyReport:
        update: dict[str, object] = {"ok": False, "rows_checked": checked}
        update |= {"first_bad_seq": row.seq, "problem": problem, "detail": detail, "bad_row": row}
        return base.model_copy(update=update)

    for checked, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            gap = bad(row, "deleted", f"seq {expected_seq} is missing (next: {row.seq})", checked)
            return gap.model_copy(update={"first_bad_seq": expected_seq})
        if row.prev_hash != prev_hash:
            if row.prev_hash in all_hashes or row.prev_hash == GENESIS_HASH:
                return bad(row, "reordered", "links to a row that is not its predecessor", checked)
            return bad(row, "broken_link", "links to a hash no row has", checked)
        if row_hash(row) != row.hash:
            return bad(row, "edited", "its content does not hash to its stored hash", checked)
        if key is not None:
            signature = row.signature if isinstance(row, ChainRow) else None
            if signature is None:
                return bad(row, "unsigned", "the row carries no signature", checked)
            if not key.is_valid(row.hash, signature):
                detail = f"its hash is not signed by the audit key {key.key_id}: rewritten"
                return bad(row, "bad_signature", detail, checked)
        prev_hash = row.hash
        expected_seq += 1

    last_seq = expected_seq - 1
    if head.seq > last_seq:
        detail = f"the chain ends at seq {last_seq} but the head records seq {head.seq}"
        update = {"ok": False, "first_bad_seq": last_seq + 1, "problem": "truncated"}
        return base.model_copy(update=update | {"detail": detail})
    if head.seq < last_seq or head.hash != prev_hash:
        detail = "the chain head does not match the last row"
        update = {"ok": False, "first_bad_seq": head.seq, "problem": "edited"}
        return base.model_copy(update=update | {"detail": detail})
    return None


def _check_anchors(
    rows: Sequence[AuditRow], anchors: list[Anchor], key: SigningKey | None, base: VerifyReport
) -> VerifyReport:
    """The database chain must hold every anchored head: same hash at the same seq."""
    report = base.model_copy(
        update={
            "anchors_checked": len(anchors),
            "anchor_seq": max((a.seq for a in anchors), default=None),
        }
    )

    def bad(problem: Problem, seq: int, detail: str) -> VerifyReport:
        update = {"ok": False, "first_bad_seq": seq, "problem": problem, "detail": detail}
        return report.model_copy(update=update)

    if key is not None:
        for anchor in anchors:
            if not key.is_valid(anchor.hash, anchor.signature):
                detail = f"the anchor of seq {anchor.seq} is not signed by key {key.key_id}"
                return bad("bad_anchor", anchor.seq, detail)
    last_seq = rows[-1].seq if rows else 0
    newest = max(anchors, key=lambda a: a.seq, default=None)
    if newest is not None and newest.seq > last_seq:
        problem: Problem = "wiped" if last_seq == 0 else "truncated"
        detail = (
            f"the anchor file recorded head seq {newest.seq} (hash {newest.hash[:16]}) at "
            f"{newest.at.isoformat()}, but the database chain ends at seq {last_seq}"
        )
        return bad(problem, last_seq + 1, detail)
    by_seq = {row.seq: row for row in rows}
    for anchor in sorted(anchors, key=lambda a: a.seq):
        row = by_seq.get(anchor.seq)
        if row is None or row.hash != anchor.hash:
            have = row.hash[:16] if row is not None else "nothing"
            detail = (
                f"seq {anchor.seq} was anchored with hash {anchor.hash[:16]} at "
                f"{anchor.at.isoformat()}; the database now has {have}: rewritten"
            )
            return bad("rewritten", anchor.seq, detail)
    if rows and not anchors:
        detail = "no anchor outside the database vouches for this chain (anchor file missing?)"
        return bad("unanchored", rows[0].seq, detail)
    return report

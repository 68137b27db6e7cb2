"""Checking the audit chain: every link recomputed, every gap and reordering named."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from bot.audit.hashing import GENESIS_HASH, entry_hash
from bot.store.models import AuditHead, AuditRow

Problem = Literal["edited", "deleted", "reordered", "broken_link", "truncated"]


class VerifyReport(BaseModel):
    """The outcome of ``verify``: ok, or the first bad row and what is wrong with it."""

    ok: bool
    rows_checked: int
    head_seq: int
    first_bad_seq: int | None = None
    problem: Problem | None = None
    detail: str = ""
    bad_row: AuditRow | None = None


def verify_rows(rows: list[AuditRow], head: AuditHead) -> VerifyReport:
    """Walk ``rows`` (in seq order) against the chain rules and the recorded head.

    Problems, in the order they are checked for each row: ``deleted`` (a seq is missing),
    ``reordered`` (the row links to a hash that belongs elsewhere in the chain), ``broken_link``
    (it links to a hash that exists nowhere), ``edited`` (its content does not give its hash).
    After the walk: ``truncated`` (the newest rows are gone; the head row remembers them) or
    ``edited`` (the head does not match the last row).
    """
    all_hashes = {row.hash for row in rows}
    prev_hash = GENESIS_HASH
    expected_seq = 1

    def bad(row: AuditRow, problem: Problem, detail: str, checked: int) -> VerifyReport:
        return VerifyReport(
            ok=False,
            rows_checked=checked,
            head_seq=head.seq,
            first_bad_seq=row.seq,
            problem=problem,
            detail=detail,
            bad_row=row,
        )

    for checked, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            gap = bad(row, "deleted", f"seq {expected_seq} is missing (next: {row.seq})", checked)
            return gap.model_copy(update={"first_bad_seq": expected_seq})
        if row.prev_hash != prev_hash:
            if row.prev_hash in all_hashes or row.prev_hash == GENESIS_HASH:
                return bad(row, "reordered", "links to a row that is not its predecessor", checked)
            return bad(row, "broken_link", "links to a hash no row has", checked)
        computed = entry_hash(
            row.prev_hash,
            row.seq,
            row.incident_id,
            row.at,
            row.kind,
            row.actor,
            row.payload if isinstance(row.payload, dict) else {"<not an object>": row.payload},
        )
        if computed != row.hash:
            return bad(row, "edited", "its content does not hash to its stored hash", checked)
        prev_hash = row.hash
        expected_seq += 1

    last_seq = expected_seq - 1
    report = VerifyReport(ok=True, rows_checked=len(rows), head_seq=head.seq)
    if head.seq > last_seq:
        return report.model_copy(
            update={
                "ok": False,
                "first_bad_seq": last_seq + 1,
                "problem": "truncated",
                "detail": f"the chain ends at seq {last_seq} but the head records seq {head.seq}",
            }
        )
    if head.seq < last_seq or head.hash != prev_hash:
        return report.model_copy(
            update={
                "ok": False,
                "first_bad_seq": head.seq,
                "problem": "edited",
                "detail": "the chain head does not match the last row",
            }
        )
    return report

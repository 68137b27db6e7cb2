"""What executes is what the chain recorded when it was proposed and approved.

The ``proposals`` row is ordinary, unsigned data: someone with write access to the database could
change its ``params`` after the approval and the executor would run the change nobody approved.
So the executor reads the proposal through ``load_bound_proposal``: its tool, parameters and
idempotency key must equal those of the chain's signed ``proposal`` entry, and the chain must hold
a signed ``approval`` of exactly that change. Anything else refuses to execute, is audited as
``tamper_detected`` and escalates the incident.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from bot.audit.hashing import canonical_json
from bot.audit.records import is_accepted_decision, recorded_form, settles
from bot.audit.seal import seal_of
from bot.audit.signing import SigningKey
from bot.audit.verify import ChainRow, row_hash
from bot.store import tables as t
from bot.store.db import Store
from bot.store.models import Proposal
from tools.redact import REDACTION_MARK

BOUND_FIELDS = ("tool", "params", "idempotency_key")
ESCALATE_TO = "security"
BOT = "model-incident-bot"


class ProposalTampered(Exception):
    """The proposal row does not match the chain: it must not run."""

    def __init__(self, proposal_id: str, incident_id: str | None, reasons: list[str]) -> None:
        self.proposal_id = proposal_id
        self.incident_id = incident_id
        self.reasons = reasons
        super().__init__(
            f"refusing to execute proposal {proposal_id}: {'; '.join(reasons)} "
            "(the database was changed outside the bot)"
        )


def _intact(entry: ChainRow, key: SigningKey | None) -> bool:
    if row_hash(entry) != entry.hash:
        return False
    return key is None or key.is_valid(entry.hash, entry.signature)


async def _read(store: Store, proposal_id: str) -> tuple[dict[str, Any] | None, list[ChainRow]]:
    async with store.engine.connect() as conn:
        query = select(t.proposals).where(t.proposals.c.id == proposal_id)
        row = (await conn.execute(query)).first()
        if row is None:
            return None, []
        entries = (
            await conn.execute(
                select(t.audit)
                .where(
                    t.audit.c.incident_id == row.incident_id,
                    t.audit.c.kind.in_(["proposal", "approval"]),
                )
                .order_by(t.audit.c.seq)
            )
        ).all()
    return dict(row._mapping), [ChainRow.model_validate(dict(e._mapping)) for e in entries]


def binding_problems(
    row: dict[str, Any], entries: list[ChainRow], key: SigningKey | None
) -> list[str]:
    """Why ``row`` may not run: empty when the chain's signed entries vouch for it."""
    proposal_id = row["id"]
    recorded = [e for e in entries if e.kind == "proposal" and _field(e, "id") == proposal_id]
    if not recorded:
        return ["the chain has no proposal entry for it"]
    proposed = recorded[0]
    if not _intact(proposed, key):
        return [f"its proposal entry (seq {proposed.seq}) is not signed by the audit key"]
    problems = []
    changed = [f for f in BOUND_FIELDS if recorded_form(row.get(f)) != _field(proposed, f)]
    if changed:
        problems.append(f"its {', '.join(changed)} differ from chain seq {proposed.seq}")
    if REDACTION_MARK in canonical_json(_field(proposed, "params")):
        problems.append("its parameters were redacted in the chain, so they cannot be bound")
    approvals = [
        e
        for e in entries
        if e.kind == "approval"
        and is_accepted_decision(e)
        and settles(e)
        and _field(e, "proposal_id") == proposal_id
        and e.seq > proposed.seq
        and _intact(e, key)
    ]
    if not approvals:
        problems.append("the chain holds no signed approval of it")
    elif all(any(_field(a, f) != _field(proposed, f) for f in BOUND_FIELDS) for a in approvals):
        problems.append("what was approved is not what was proposed")
    return problems


def _field(entry: ChainRow, name: str) -> Any:
    return entry.payload.get(name) if isinstance(entry.payload, dict) else None


async def load_bound_proposal(store: Store, proposal_id: str) -> Proposal:
    """The proposal, if the chain vouches for it as proposed and approved; else refuse.

    Raises ``LookupError`` for an unknown proposal and ``ProposalTampered`` (after auditing
    ``tamper_detected`` and escalating the incident) when the row is not what was approved.
    """
    seal = seal_of(store.engine)
    row, entries = await _read(store, proposal_id)
    if row is None:
        raise LookupError(f"proposal {proposal_id} does not exist")
    problems = binding_problems(row, entries, seal.key if seal is not None else None)
    if not problems:
        try:
            return Proposal.model_validate(row)
        except ValidationError as exc:
            problems = [f"its row is malformed ({exc.error_count()} errors)"]
    refusal = ProposalTampered(proposal_id, row.get("incident_id"), problems)
    await refuse(store, refusal)
    raise refusal


async def refuse(store: Store, refusal: ProposalTampered) -> None:
    """Audit the refusal and mark the incident escalated: someone changed the database.

    The graph's execute node then ends the incident with an escalation to ``ESCALATE_TO``; the
    status is set here too, so that any other caller of ``load_bound_proposal`` fails closed.
    """
    details = {
        "proposal_id": refusal.proposal_id,
        "problems": refusal.reasons,
        "refused": "execution",
        "escalate_to": ESCALATE_TO,
    }
    await store.append_audit(refusal.incident_id, "tamper_detected", BOT, details)
    if refusal.incident_id is None:
        return
    # If the incident row itself is gone, the audit entry above still says what happened.
    with contextlib.suppress(LookupError):
        await store.update_incident(refusal.incident_id, status="escalated")

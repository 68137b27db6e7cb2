"""Ledger claims under a lease this process renews while the side effect runs.

A ``started`` ledger row must be taken over when its executor died, and never while it is alive
but slow: a rollback of several requests, each with its deadline and retries, can run far longer
than any one request. So the claimer leases the row and renews the lease in the background every
third of its length; a killed process stops renewing and its row is free ``lease_s`` later.
Renewal stops when the claim is finished, when the task that claimed it ends (an effect that
raised must not keep its row forever), or when the row turns out to be someone else's.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.store.ledger import Ledger
from bot.store.models import LedgerEntry, LedgerState

log = logging.getLogger(__name__)


@dataclass
class _Held:
    owner: str
    renewal: asyncio.Task[None]


class LedgerLeases:
    """The ledger claims this process holds, each kept alive by a renewal task."""

    def __init__(self, ledger: Ledger, *, lease_s: float, poll_s: float = 0.5) -> None:
        self._ledger = ledger
        self.lease_s = lease_s
        self._poll_s = poll_s
        self._held: dict[str, _Held] = {}

    async def claim(
        self,
        idempotency_key: str,
        *,
        tool: str,
        params: Mapping[str, Any],
        proposal_id: str | None = None,
        stale_after_s: float | None = None,
    ) -> LedgerEntry:
        """Claim the key and keep its lease, or wait while a live owner runs it.

        Returns a claimed entry (run the effect, then ``finish``), or a finished one (``state``
        succeeded or failed: the effect ran already). ``stale_after_s`` only matters for a row
        written without a lease.
        """
        owner = uuid.uuid4().hex
        while True:
            entry = await self._ledger.ledger_begin(
                idempotency_key,
                tool=tool,
                params=params,
                proposal_id=proposal_id,
                stale_after_s=stale_after_s,
                owner=owner,
                lease_s=self.lease_s,
            )
            if entry.claimed:
                claimer = asyncio.current_task()
                renewal = asyncio.create_task(self._renew(idempotency_key, owner, claimer))
                self._held[idempotency_key] = _Held(owner, renewal)
                return entry
            if entry.state != "started":
                return entry
            await asyncio.sleep(self._poll_s)

    async def finish(
        self, idempotency_key: str, state: LedgerState, result: Mapping[str, Any] | None
    ) -> LedgerEntry:
        """Stop renewing and record the outcome (refused if the row was taken over meanwhile)."""
        held = self._held.pop(idempotency_key, None)
        if held is not None:
            await _stop(held.renewal)
        return await self._ledger.ledger_finish(
            idempotency_key, state, result, owner=held.owner if held else None
        )

    def holds(self, idempotency_key: str) -> bool:
        """Whether this process holds and renews the claim on the key."""
        held = self._held.get(idempotency_key)
        return held is not None and not held.renewal.done()

    async def release_all(self) -> None:
        """Stop every renewal (at shutdown): the rows become free once their leases run out."""
        held, self._held = list(self._held.values()), {}
        for claim in held:
            await _stop(claim.renewal)

    async def _renew(self, key: str, owner: str, claimer: asyncio.Task[Any] | None) -> None:
        every_s = self.lease_s / 3
        while True:
            await asyncio.sleep(every_s)
            if claimer is not None and claimer.done():
                log.warning(
                    "ledger %s: the claiming task ended unfinished; lease left to expire", key
                )
                return
            try:
                if not await self._ledger.ledger_renew(key, owner, self.lease_s):
                    log.error("ledger %s: lease lost, the row is no longer ours", key)
                    return
            except (SQLAlchemyError, OSError) as exc:
                # Two more tries before the lease runs out; a database that stays away that
                # long lets another replica take over, which is the point of the lease.
                log.warning("ledger %s: lease renewal failed (%s); retrying", key, exc)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait({task})  # without re-raising the task's cancellation as our own

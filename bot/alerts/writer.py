"""Group commit for the intake: every delivery is stored before its 2xx, but not one transaction
each. A writer task takes every delivery waiting when it is free and writes them all in one
transaction; each caller's answer waits for the commit that holds its delivery. Under a storm
one commit (its fsync and its round trips) serves many deliveries, so the intake keeps up with
Alertmanager while no answer ever runs ahead of the data it acknowledges.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from bot.store.deliveries import AlertDeliveries, Delivery, DeliveryReceipt

MAX_BATCH = 256  # deliveries per transaction


@dataclass
class _Pending:
    delivery: Delivery
    done: asyncio.Future[DeliveryReceipt]


class DeliveryWriter:
    """``await writer.write(delivery)`` returns once the delivery is committed (or raises)."""

    def __init__(self, deliveries: AlertDeliveries, max_batch: int = MAX_BATCH) -> None:
        self.deliveries = deliveries
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def write(self, delivery: Delivery) -> DeliveryReceipt:
        """Store ``delivery`` with whatever else is waiting; its receipt once committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="alert-delivery-writer")
        done: asyncio.Future[DeliveryReceipt] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(delivery, done))
        return await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        """One transaction for the batch. When it fails, each delivery is tried alone, so that
        one delivery the database refuses answers 5xx without taking its batch-mates along."""
        try:
            receipts = await self.deliveries.record_deliveries([p.delivery for p in batch])
        except Exception as exc:
            if len(batch) > 1:
                for pending in batch:
                    await self._commit([pending])
                return
            if not batch[0].done.done():
                batch[0].done.set_exception(exc)
            return
        for pending, receipt in zip(batch, receipts, strict=True):
            if not pending.done.done():
                pending.done.set_result(receipt)

    async def close(self) -> None:
        """Stop the writer task (deliveries not yet written were not acknowledged)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

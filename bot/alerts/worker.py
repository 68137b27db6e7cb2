"""The worker that acts on stored alert events, apart from the webhook that stored them.

It reads the events not processed yet in arrival order (so after a restart it starts with what
was accepted and never acted on), hands each group's events of the round to
:class:`~bot.alerts.threads.AlertThreads` together, and marks them processed once handled. A
group whose handling failed (Slack down) stays unprocessed and is retried after a pause; after
``max_attempts`` it is marked processed and logged, so one poisoned group cannot stall the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from bot.metrics import ALERT_WORKER_FAILURES
from bot.store.deliveries import AlertDeliveries, StoredAlert

log = logging.getLogger(__name__)


class GroupHandler(Protocol):
    async def handle(self, group_key: str, events: Sequence[StoredAlert]) -> None: ...


class AlertWorker:
    """``asyncio.create_task(worker.run())``; ``notify()`` after each stored delivery."""

    def __init__(
        self,
        deliveries: AlertDeliveries,
        handler: GroupHandler,
        *,
        batch: int = 1000,
        idle_s: float = 1.0,
        retry_s: float = 1.0,
        max_attempts: int = 5,
    ) -> None:
        self.deliveries = deliveries
        self.handler = handler
        self.batch = batch
        self.idle_s = idle_s
        self.retry_s = retry_s
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()
        self._attempts: dict[str, int] = defaultdict(int)
        self._busy = False

    def notify(self) -> None:
        """A delivery was stored: look now rather than at the next idle tick."""
        self._wake.set()

    async def run(self) -> None:
        """Process rounds until cancelled."""
        while True:
            self._wake.clear()
            try:
                handled, failed = await self.round()
            except Exception:  # the store itself failed: wait, then try again
                log.exception("alert worker round failed")
                handled, failed = 0, True
            if failed:
                await asyncio.sleep(self.retry_s)
            elif not handled:
                await self._sleep()

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.idle_s)

    async def round(self) -> tuple[int, bool]:
        """One pass over the unprocessed events: (events handled, whether a group failed)."""
        events = await self.deliveries.unprocessed(self.batch)
        if not events:
            return 0, False
        self._busy = True
        groups: dict[str, list[StoredAlert]] = defaultdict(list)
        for event in events:
            groups[event.group_key].append(event)
        keys = list(groups)
        results = await asyncio.gather(
            *(self.handler.handle(key, groups[key]) for key in keys), return_exceptions=True
        )
        done: list[int] = []
        failed = False
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, BaseException):
                ALERT_WORKER_FAILURES.inc()
                self._attempts[key] += 1
                if self._attempts[key] < self.max_attempts:
                    log.warning("alert group %r failed, will retry: %r", key[:80], result)
                    failed = True
                    continue
                log.error("alert group %r failed %d times, giving up", key[:80], self.max_attempts)
            self._attempts.pop(key, None)
            done.extend(e.id for e in groups[key])
        await self.deliveries.mark_processed(done)
        self._busy = False
        return len(done), failed

    async def idle(self, timeout_s: float = 60.0) -> None:
        """Wait until every stored event is processed (tests, benchmarks)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (await self.deliveries.counts())["pending"] or self._busy:
            if loop.time() > deadline:
                raise TimeoutError("alert events still unprocessed")
            self.notify()
            await asyncio.sleep(0.05)

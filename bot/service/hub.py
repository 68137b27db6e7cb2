"""Progress events by incident: each subscriber gets the events of the one incident it asked for.

The graph writes step events to LangGraph's stream writer; the service hands each one to the caller
that started the run and publishes it here. Nothing is process-wide: two incidents in one process
(a Slack bot) never see each other's steps.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.agent.events import StepEvent

# A slow subscriber must not hold up the incident: past this many unread events the oldest go.
QUEUE_LIMIT = 1000


class EventHub:
    """Per-incident fan-out of step events to in-process subscribers."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[StepEvent]]] = defaultdict(set)

    @asynccontextmanager
    async def subscribe(self, incident_id: str) -> AsyncIterator[asyncio.Queue[StepEvent]]:
        """``async with hub.subscribe(id) as queue``: the incident's events from now on."""
        queue: asyncio.Queue[StepEvent] = asyncio.Queue(QUEUE_LIMIT)
        self._queues[incident_id].add(queue)
        try:
            yield queue
        finally:
            self._queues[incident_id].discard(queue)
            if not self._queues[incident_id]:
                del self._queues[incident_id]

    def publish(self, event: StepEvent) -> None:
        """Deliver ``event`` to the subscribers of its incident (and no one else)."""
        for queue in self._queues.get(event.incident_id, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

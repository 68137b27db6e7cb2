"""One incident thread: the runbook walk as it happens, proposals, decisions and the outcome.

The walk is shown with Slack's agent streaming (one task card per runbook step) and, where the
workspace does not offer streaming, as one message edited in place. Never one message per step:
updates are coalesced so that a channel gets about one Web API write per second however fast the
agent walks, and a storm of incidents cannot outrun Slack's rate limits.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.agent.events import StepEvent
from bot.agent.types import IncidentOutcome
from bot.domain import Proposal
from bot.slack import blocks

# Slack allows about one message per second per channel, with short bursts.
CHANNEL_INTERVAL_S = 1.0
CHANNEL_BURST = 4
# Progress writes leave this many for the proposal and the outcome (the stream's stop and the
# message with the buttons), so that those go out the moment the walk ends.
PROGRESS_RESERVE = 2


class ChannelPacer:
    """Spaces Web API writes per channel across every thread of the process: a token bucket of
    ``burst`` writes refilled at one per ``interval_s``, so an incident's first step and its
    proposal go out at once while a storm settles at one write per second."""

    def __init__(self, interval_s: float = CHANNEL_INTERVAL_S, burst: int = CHANNEL_BURST) -> None:
        self.interval_s = interval_s
        self.burst = burst
        self._tokens: dict[str, float] = defaultdict(lambda: float(burst))
        self._stamp: dict[str, float] = defaultdict(time.monotonic)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def wait(self, channel: str, *, reserve: int = 0) -> None:
        """Return when ``channel`` may take one more write (taking it). A write that can wait
        (a progress update, which coalesces) leaves ``reserve`` writes for the ones that matter
        (the proposal with its buttons, the outcome)."""
        async with self._locks[channel]:
            now = time.monotonic()
            earned = (now - self._stamp[channel]) / self.interval_s if self.interval_s else 1e9
            tokens = min(float(self.burst), self._tokens[channel] + earned)
            need = 1.0 + min(reserve, self.burst - 1)
            if tokens < need:
                await asyncio.sleep((need - tokens) * self.interval_s)
                tokens = need
            self._tokens[channel], self._stamp[channel] = tokens - 1.0, time.monotonic()


class IncidentThread:
    """Writes one incident's thread; ``on_event`` is the service's event sink for it."""

    def __init__(
        self,
        client: AsyncWebClient,
        pacer: ChannelPacer,
        *,
        channel: str,
        thread_ts: str,
        team_id: str | None = None,
        user_id: str | None = None,
        streaming: bool = True,
    ) -> None:
        self.client = client
        self.pacer = pacer
        self.channel = channel
        self.thread_ts = thread_ts
        self.team_id = team_id
        self.user_id = user_id
        self.streaming = streaming
        self.events: list[StepEvent] = []
        self._sent = 0  # events already on Slack
        self._message_ts: str | None = None  # the progress message (or stream)
        self._streaming_now = False
        self._flush: asyncio.Task[None] | None = None

    async def on_event(self, event: StepEvent) -> None:
        """Take a step; Slack sees it with the next coalesced write."""
        if any(e.seq == event.seq for e in self.events[-5:]):
            return  # a re-run node numbers its steps the same way again
        self.events.append(event)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._write())

    async def drain(self) -> None:
        """Wait until every step taken so far is on Slack."""
        while self._flush is not None and not self._flush.done():
            await self._flush
        if self._sent < len(self.events):
            await self._write()

    async def _write(self) -> None:
        await self.pacer.wait(self.channel, reserve=PROGRESS_RESERVE)
        pending, self._sent = self.events[self._sent :], len(self.events)
        if not pending:
            return
        if self.streaming and await self._stream(pending):
            return
        self.streaming = False
        message = blocks.progress_message(self.events, finished=False)
        if self._message_ts is None:
            answer = await self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, **message
            )
            self._message_ts = str(answer["ts"])
        else:
            await self.client.chat_update(channel=self.channel, ts=self._message_ts, **message)

    async def _stream(self, pending: list[StepEvent]) -> bool:
        """Send steps as task cards; False when this workspace cannot stream (fall back)."""
        chunks = [blocks.stream_chunk(e) for e in pending]
        try:
            if not self._streaming_now:
                answer = await self.client.chat_startStream(
                    channel=self.channel,
                    thread_ts=self.thread_ts,
                    recipient_team_id=self.team_id,
                    recipient_user_id=self.user_id,
                    task_display_mode="plan",
                    chunks=chunks,
                )
                self._message_ts, self._streaming_now = str(answer["ts"]), True
            else:
                await self.client.chat_appendStream(
                    channel=self.channel, ts=str(self._message_ts), chunks=chunks
                )
            return True
        except SlackApiError:
            if self._streaming_now:
                raise
            return False

    async def close_walk(self) -> None:
        """Every step on Slack, and the walk marked done (the stream stopped)."""
        await self.drain()
        if self._message_ts is None:
            return
        await self.pacer.wait(self.channel)
        if self._streaming_now:
            await self.client.chat_stopStream(channel=self.channel, ts=self._message_ts)
            self._streaming_now = False
        else:
            message = blocks.progress_message(self.events, finished=True)
            await self.client.chat_update(channel=self.channel, ts=self._message_ts, **message)
        # The next run of this incident (after an answer) streams into a new message.
        self._message_ts = None

    async def post(self, message: dict[str, Any]) -> str:
        await self.pacer.wait(self.channel)
        answer = await self.client.chat_postMessage(
            channel=self.channel, thread_ts=self.thread_ts, **message
        )
        return str(answer["ts"])

    async def post_proposal(self, proposal: Proposal) -> str:
        await self.close_walk()
        return await self.post(blocks.proposal_message(proposal, steps=self.events))

    async def post_outcome(self, outcome: IncidentOutcome) -> str:
        await self.close_walk()
        return await self.post(blocks.outcome_message(outcome))

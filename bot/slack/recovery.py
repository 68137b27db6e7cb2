"""What the Slack surface does on its own, without a request: expire proposals nobody answered,
and carry on, after a restart, the incidents a previous process left in their threads.

Nothing here is kept in memory between processes: the store says which incidents are open and
where they are discussed, and the thread itself (``conversations.replies``) says whether a
proposal's message with its buttons is there.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError

from bot.domain import Proposal
from bot.slack import blocks
from bot.slack.surface import SlackSurface
from bot.slack.thread import IncidentThread

log = logging.getLogger(__name__)
EXPIRY_SWEEP_S = 15.0


async def find_proposal_message(
    surface: SlackSurface, thread: IncidentThread, proposal_id: str
) -> str | None:
    """The ts of the message in ``thread`` that carries ``proposal_id``'s buttons, or None."""
    known = surface.proposal_messages.get(proposal_id)
    if known is not None:
        return known[1]
    try:
        answer = await surface.client.conversations_replies(
            channel=thread.channel, ts=thread.thread_ts, limit=200
        )
    except SlackApiError as exc:
        log.warning("thread %s unreadable: %s", thread.thread_ts, exc.response.get("error"))
        return None
    for message in answer.get("messages") or []:
        for block in message.get("blocks") or []:
            values = [e.get("value") for e in block.get("elements") or [] if isinstance(e, dict)]
            if block.get("type") == "actions" and proposal_id in values:
                return str(message["ts"])
    return None


async def sweep_expired(surface: SlackSurface) -> int:
    """Expire every proposal past its time: its message loses its buttons and the incident goes
    on in its thread (the next remedy, or the outcome). Returns how many expired."""
    views = await surface.service.expire_due(on_event=surface.route_event)
    for view in views:
        thread = await surface.thread_of(view.incident_id)
        if thread is None:
            continue
        await settle_buttons(surface, thread, view.incident_id)
        await surface.report(view, surface.routes.pop(view.incident_id, thread))
    return len(views)


async def expiry_loop(surface: SlackSurface, every_s: float = EXPIRY_SWEEP_S) -> None:
    """Sweep for expired proposals every ``every_s`` until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await sweep_expired(surface)
        except Exception:  # one bad sweep must not end the loop; the next one tries again
            log.exception("expiry sweep failed")


async def recover(surface: SlackSurface) -> list[str]:
    """After a restart: every open Slack incident goes on in its thread. One stopped mid-step
    runs that step again (side effects are keyed, so nothing happens twice); one waiting at a
    proposal gets its message again if the previous process died before posting it."""
    resumed = []
    for summary in await surface.service.list_open():
        thread = await surface.thread_of(summary.incident_id)
        if thread is None:
            continue
        view = await surface.service.status(summary.incident_id)
        await settle_buttons(surface, thread, summary.incident_id)
        if view.phase == "running":
            surface.spawn(_resume(surface, summary.incident_id, thread))
            resumed.append(summary.incident_id)
        elif view.pending is not None:
            await _repost_if_missing(surface, thread, view.pending)
    return resumed


async def settle_buttons(surface: SlackSurface, thread: IncidentThread, incident_id: str) -> None:
    """Take the buttons off the messages of proposals that are no longer pending (decided by a
    process that died before it could update the message, or expired meanwhile)."""
    store = surface.service.records.store
    for proposal in await store.list_proposals(incident_id=incident_id):
        if proposal.status == "pending":
            continue
        ts = await find_proposal_message(surface, thread, proposal.proposal_id)
        if ts is None:
            continue
        approval = await store.get_approval(proposal.proposal_id)
        message = (
            blocks.decided_message(
                proposal.title, proposal.proposal_id, approval.decision, approval.actor
            )
            if approval is not None
            else blocks.expired_message(proposal.title, proposal.proposal_id)
        )
        await surface.pacer.wait(thread.channel)
        await surface.client.chat_update(channel=thread.channel, ts=ts, **message)
        surface.proposal_messages.pop(proposal.proposal_id, None)


async def _resume(surface: SlackSurface, incident_id: str, thread: IncidentThread) -> None:
    view = await surface.service.resume(incident_id, on_event=thread.on_event)
    await surface.report(view, thread)


async def _repost_if_missing(
    surface: SlackSurface, thread: IncidentThread, pending: Proposal
) -> None:
    ts = await find_proposal_message(surface, thread, pending.proposal_id)
    if ts is None:
        ts = await thread.post_proposal(pending)
    surface.proposal_messages[pending.proposal_id] = (thread.channel, ts)

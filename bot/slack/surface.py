"""Slack as a surface of the incident service: commands open incidents in threads, button clicks
answer proposals. Everything about a proposal is read from the store; a button's value is only an
opaque proposal id, and a click counts only from the incident's own team, channel and thread.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.agent.events import StepEvent
from bot.agent.types import Trigger
from bot.domain import DecisionKind, Proposal
from bot.service.incidents import IncidentService, new_incident_id
from bot.service.models import Answer, IncidentView, OpenRequest, ReportTo
from bot.slack import blocks
from bot.slack.commands import HELP, SlashRequest
from bot.slack.thread import ChannelPacer, IncidentThread

log = logging.getLogger(__name__)
DECISIONS = {blocks.APPROVE: DecisionKind.APPROVE, blocks.REJECT: DecisionKind.REJECT}
# The names of the endpoints and agents the platform knows (for "did you mean").
TargetLister = Callable[[], Awaitable[list[str]]]
MAX_PARALLEL_INCIDENTS = 8


class Click:
    """The fields of a ``block_actions`` payload the bot reads (all untrusted)."""

    def __init__(self, body: dict[str, Any]) -> None:
        action = (body.get("actions") or [{}])[0]
        self.action_id = str(action.get("action_id") or "")
        self.proposal_id = str(action.get("value") or "")[:100]
        self.user = str((body.get("user") or {}).get("id") or "")[:40]
        self.team = str((body.get("team") or {}).get("id") or "")
        self.channel = str((body.get("channel") or {}).get("id") or "")
        container = body.get("container") or {}
        message = body.get("message") or {}
        self.message_ts = str(container.get("message_ts") or message.get("ts") or "")
        self.thread_ts = str(container.get("thread_ts") or message.get("thread_ts") or "")


class SlackSurface:
    """Runs incidents for Slack and keeps their background tasks alive."""

    def __init__(
        self,
        service: IncidentService,
        client: AsyncWebClient,
        *,
        team_id: str,
        streaming: bool,
        targets: TargetLister | None = None,
        pacer: ChannelPacer | None = None,
    ) -> None:
        self.service = service
        self.client = client
        self.team_id = team_id
        self.streaming = streaming
        self.targets = targets
        self.pacer = pacer or ChannelPacer()
        # A storm of commands queues its incidents here rather than starving the event loop
        # that must acknowledge the next command within Slack's 3 s.
        self.running = asyncio.Semaphore(MAX_PARALLEL_INCIDENTS)
        # proposal id → (channel, ts) of its message, to take its buttons away later; after a
        # restart the message is found again in its thread (``bot/slack/recovery.py``).
        self.proposal_messages: dict[str, tuple[str, str]] = {}
        # incident id → its thread, for the events of runs that no click or command started
        self.routes: dict[str, IncidentThread] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the request was acknowledged; failures are logged, never lost."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack task failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait for every background task (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def abort(self) -> None:
        """Stop every background task where it is, as a crash would (the incidents' checkpoints
        and the ledger carry them on in the next process)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def thread(self, channel: str, thread_ts: str, user: str | None = None) -> IncidentThread:
        return IncidentThread(
            self.client,
            self.pacer,
            channel=channel,
            thread_ts=thread_ts,
            team_id=self.team_id,
            user_id=user,
            streaming=self.streaming,
        )

    async def thread_of(self, incident_id: str) -> IncidentThread | None:
        """The thread an incident reports to, from its store record (None: not a Slack one)."""
        incident = await self.service.records.store.get_incident(incident_id)
        if incident is None or not incident.thread_ref or ":" not in incident.thread_ref:
            return None
        channel, thread_ts = incident.thread_ref.split(":", 1)
        return self.thread(channel, thread_ts, incident.requested_by)

    # ------------------------------------------------------------------ commands

    async def open_incident(self, request: SlashRequest, user: str, channel: str) -> None:
        """Post the incident message, then run the incident in its thread."""
        async with self.running:
            await self._open_incident(request, user, channel)

    async def _open_incident(self, request: SlashRequest, user: str, channel: str) -> None:
        assert request.target is not None
        unknown = await self.unknown_target(request.target)
        if unknown is not None:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=unknown)
            return
        incident_id = new_incident_id()
        head = blocks.incident_message(incident_id, request.target, user, dry_run=request.dry_run)
        await self.pacer.wait(channel)
        posted = await self.client.chat_postMessage(channel=channel, **head)
        thread = self.thread(channel, str(posted["ts"]), user)
        open_request = OpenRequest(
            trigger=Trigger(source="command", target=request.target, actor=user),
            requester=user,
            report_to=ReportTo(
                surface="slack", team=self.team_id, channel=channel, thread_ts=thread.thread_ts
            ),
            incident_id=incident_id,
        )
        view = await self.service.open(open_request, on_event=thread.on_event)
        if request.dry_run:
            view = await self._decline_all(view, thread)
        await self.report(view, thread)

    async def unknown_target(self, target: str) -> str | None:
        """Help with suggestions when ``target`` is close to a known name but not one; None to
        go on (a name like no other may be an endpoint that was deleted: the runbook says so)."""
        if self.targets is None:
            return None
        try:
            known = await self.targets()
        except Exception:  # a platform that does not answer must not stop the incident
            log.warning("could not list the platform's targets", exc_info=True)
            return None
        if target in known:
            return None
        close = difflib.get_close_matches(target, known, n=3, cutoff=0.6)
        if not close:
            return None
        names = ", ".join(f"`{blocks.escape(c, 100)}`" for c in close)
        return help_text(
            f"No endpoint or agent `{blocks.escape(target, 100)}`. Did you mean {names}?"
        )

    async def _decline_all(self, view: IncidentView, thread: IncidentThread) -> IncidentView:
        """A dry run shows each proposal and declines it as the bot: nothing changes."""
        while view.pending is not None:
            await thread.post_proposal(view.pending)
            answer = Answer(
                proposal_id=view.pending.proposal_id,
                decision=DecisionKind.REJECT,
                actor="dry-run",
                source="dry-run",
                reason="dry run",
            )
            view = await self.service.answer(answer, on_event=thread.on_event)
            if view.refusal is not None:
                break
        return view

    async def report(self, view: IncidentView, thread: IncidentThread) -> None:
        """Where the run stopped: a proposal with buttons, or the outcome."""
        if view.pending is not None:
            ts = await thread.post_proposal(view.pending)
            self.proposal_messages[view.pending.proposal_id] = (thread.channel, ts)
        elif view.outcome is not None:
            await thread.post_outcome(view.outcome)
        else:
            await thread.close_walk()

    async def status_text(self, incident_id: str | None) -> str:
        if incident_id is None:
            open_ones = await self.service.list_open()
            if not open_ones:
                return "No open incidents."
            return "\n".join(
                f"• `{i.incident_id}` {blocks.escape(i.target, 100)}: {i.status}"
                for i in open_ones[:20]
            )
        view = await self.service.status(incident_id)
        if view.phase == "unknown":
            return f"No incident `{blocks.escape(incident_id, 60)}`."
        waiting = f", waiting on `{view.pending.proposal_id}`" if view.pending else ""
        final = f", {view.outcome.final_state.value}" if view.outcome else ""
        return (
            f"`{incident_id}` on {blocks.escape(view.target, 100)}: {view.status}{waiting}{final}"
        )

    async def audit_text(self, incident_id: str) -> str:
        entries = await self.service.records.store.list_audit(incident_id=incident_id)
        if not entries:
            return f"No audit entries for `{blocks.escape(incident_id, 60)}`."
        lines = [
            f"`{e.seq}` {e.at:%H:%M:%S} *{e.kind}* {blocks.escape(e.actor, 60)}"
            for e in entries[-40:]
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------ clicks

    async def click(self, body: dict[str, Any]) -> None:
        """Answer a proposal from a button click, after checking where the click came from."""
        click = Click(body)
        checked = await self._checked(click)
        if isinstance(checked, str):
            await self._refuse(click, checked)
            return
        thread = self.thread(click.channel, click.thread_ts, click.user)
        answer = Answer(
            proposal_id=click.proposal_id,
            decision=DECISIONS[click.action_id],
            actor=click.user,
            source="slack",
            channel=click.channel,
        )
        before = await self.service.status(checked.incident_id)
        view = await self.service.answer(answer, on_event=thread.on_event)
        if view.refusal is not None:  # audited by the service already
            await self._refuse(click, view.refusal.message, audit=False)
            return
        if view.pending is not None and view.pending.proposal_id == click.proposal_id:
            await self._tell(click, "Your approval is counted; another approver is needed.")
            return
        if before.pending is not None:
            verdict = answer.decision.vote
            pending = before.pending
            decided = blocks.decided_message(
                pending.title, pending.proposal_id, verdict, click.user
            )
            await self.client.chat_update(channel=click.channel, ts=click.message_ts, **decided)
            self.proposal_messages.pop(click.proposal_id, None)
        await self.report(view, thread)

    async def _proposal(self, click: Click) -> Proposal | None:
        return await self.service.records.store.get_proposal(click.proposal_id)

    async def _checked(self, click: Click) -> Proposal | str:
        """The clicked proposal, or why the click does not count (unknown button, other team,
        channel or thread, an expired proposal). Pending and the policy are the service's."""
        if click.action_id not in DECISIONS:
            return "unknown button"
        if click.team != self.team_id:
            return "this proposal belongs to another workspace"
        if not click.user:
            return "no user in the click"
        proposal = await self._proposal(click)
        if proposal is None:
            return f"no proposal {blocks.escape(click.proposal_id, 60)}"
        incident = await self.service.records.store.get_incident(proposal.incident_id)
        expected = incident.thread_ref if incident is not None else None
        if expected != f"{click.channel}:{click.thread_ts}":
            return "this button does not belong to this incident's thread"
        if proposal.status == "pending" and proposal.expires_at <= datetime.now(UTC):
            return f"proposal {proposal.proposal_id} has expired; nothing was changed"
        return proposal

    async def _refuse(self, click: Click, reason: str, *, audit: bool = True) -> None:
        """An ephemeral explanation to the person who clicked; the refusal is audited."""
        if audit:
            proposal = await self._proposal(click) if click.proposal_id else None
            await self.service.records.audit(
                proposal.incident_id if proposal is not None else None,
                "rejection",
                click.user or "unknown",
                {
                    "proposal_id": click.proposal_id,
                    "refused": reason,
                    "source": "slack",
                    "channel": click.channel,
                    "team": click.team,
                },
            )
        await self._tell(click, f"Not taken: {blocks.escape(reason, 500)}")

    async def _tell(self, click: Click, text: str) -> None:
        if click.channel and click.user:
            await self.client.chat_postEphemeral(
                channel=click.channel, user=click.user, thread_ts=click.thread_ts or None, text=text
            )

    async def route_event(self, event: StepEvent) -> None:
        """An event of a run no click or command started (expiry, recovery): to its thread."""
        thread = self.routes.get(event.incident_id)
        if thread is None:
            thread = await self.thread_of(event.incident_id)
            if thread is None:
                return
            self.routes[event.incident_id] = thread
        await thread.on_event(event)


def help_text(error: str | None) -> str:
    """The help, after what was wrong (``error`` is mrkdwn whose untrusted parts are escaped)."""
    return f"{error}\n\n{HELP}" if error else HELP

"""Slack's side of the assistant's two incident features, both read from the audit trail:

- a mention of the bot in an incident's thread is a question, answered in that thread from the
  incident's own audit entries (``bot/llm/answer.py``); a mention anywhere else gets a short help;
- ``/model-incident postmortem INCIDENT`` posts the postmortem draft (``bot/llm/postmortem.py``)
  in the incident's thread, or in the channel when the incident has no thread.

With no assistant (``LLM_MODE=off``) both are written deterministically from the trail. The
question, the trail and anything the LLM wrote are untrusted: every part is escaped.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

from pydantic import BaseModel

from bot.llm.answer import ThreadAnswer, answer_question
from bot.llm.assistant import Assistant
from bot.llm.postmortem import Postmortem, draft_postmortem
from bot.slack.blocks import escape
from bot.slack.surface import SlackSurface

_MAX_SECTION = 2900  # a section's text may hold 3,000 characters
_MAX_BLOCKS = 48  # a message may hold 50 blocks
_SEEN_EVENTS = 500  # event ids remembered, so that Slack's redeliveries answer once
MENTION_HELP = (
    'Mention me in an incident\'s thread with a question ("who approved the rollback?") and I '
    "answer from that incident's audit trail. `/model-incident help` lists the commands."
)


class Mention(BaseModel):
    """The fields of an ``app_mention`` event the bot reads (all untrusted)."""

    event_id: str = ""
    channel: str
    ts: str
    thread_ts: str | None = None
    user: str = ""
    question: str = ""


def mention_of(body: dict[str, Any], bot_user_id: str | None) -> Mention:
    """An ``event_callback`` body's mention; the bot's own ``<@U…>`` taken out of the question."""
    event = body.get("event") or {}
    text = str(event.get("text") or "")
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return Mention(
        event_id=str(body.get("event_id") or "")[:100],
        channel=str(event.get("channel") or "")[:40],
        ts=str(event.get("ts") or "")[:40],
        thread_ts=str(event["thread_ts"])[:40] if event.get("thread_ts") else None,
        user=str(event.get("user") or "")[:40],
        question=" ".join(text.split())[:1000],
    )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_MAX_SECTION]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:_MAX_SECTION]}]}


def answer_message(incident_id: str, mention: Mention, answer: ThreadAnswer) -> dict[str, Any]:
    """The reply to a question: the answer, the entries it cites, who asked what."""
    source = "the assistant, from the audit trail" if answer.source == "llm" else "the audit trail"
    cites = ", ".join(f"#{c}" for c in answer.cites) or "no entries"
    who = f"<@{escape(mention.user, 40)}>" if mention.user else "someone"
    return {
        "text": f"Answer from the audit trail of {escape(incident_id, 60)}",
        "blocks": [
            _section(escape(answer.text)),
            _context(
                f"`{escape(incident_id, 60)}` · cites {cites} · written by {source} · asked by "
                f"{who}: {escape(mention.question, 300)}"
            ),
        ],
    }


def _chunks(lines: list[str], limit: int = _MAX_SECTION) -> list[str]:
    """``lines`` joined into texts of at most ``limit`` characters each."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= limit:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line[:limit])
    return chunks


def postmortem_message(draft: Postmortem) -> dict[str, Any]:
    """The draft in the guide's sections, then its timeline (newest kept when it is long)."""
    follow = [
        f"• {escape(f.action, 500)} (owner: {escape(f.owner, 100)})" for f in draft.follow_ups
    ]
    title = f"Postmortem draft: {escape(draft.target, 200)} ({escape(draft.incident_id, 60)})"
    head = [
        _section(f"*{title}*"),
        _context(
            f"Final state: {escape(draft.final_state, 100)} · written from: {draft.source} · "
            "a draft for people to review"
        ),
        _section(f"*Root cause with data and timeline*\n{escape(draft.root_cause)}"),
        _section(f"*SLI and SLO impact and error budget usage*\n{escape(draft.impact)}"),
        _section(
            f"*What checks or automation would have prevented it*\n{escape(draft.prevention)}"
        ),
        _section("*Actionable follow-ups and owners*\n" + ("\n".join(follow) or "• none recorded")),
    ]
    lines = [f"• {escape(line, 500)}" for line in draft.timeline]
    timeline = _chunks(lines)
    room = _MAX_BLOCKS - len(head) - 1
    dropped = timeline[:-room] if len(timeline) > room else []
    note = f" (earlier entries: `/model-incident audit {escape(draft.incident_id, 60)}`)"
    heading = "*Timeline (audit trail)*" + (note if dropped else "")
    blocks = [*head, _section(heading), *(_section(t) for t in timeline[len(dropped) :])]
    return {"text": title, "blocks": blocks}


class IncidentAssistant:
    """The two features over the surface's store and Slack client, and the optional LLM."""

    def __init__(self, surface: SlackSurface, assistant: Assistant | None) -> None:
        self.surface = surface
        self.assistant = assistant
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_delivery(self, event_id: str) -> bool:
        """False for an event id already taken (Slack redelivers events it thinks were lost)."""
        if not event_id:
            return True
        if event_id in self._seen:
            return False
        self._seen[event_id] = None
        while len(self._seen) > _SEEN_EVENTS:
            self._seen.popitem(last=False)
        return True

    async def postmortem(self, incident_id: str, user: str, channel: str) -> None:
        """Draft the postmortem and post it in the incident's thread (else in ``channel``)."""
        store = self.surface.service.records.store
        incident = await store.get_incident(incident_id)
        if incident is None:
            text = f"No incident `{escape(incident_id, 60)}`."
            await self.surface.client.chat_postEphemeral(channel=channel, user=user, text=text)
            return
        entries = await store.list_audit(incident_id=incident_id)
        draft = await draft_postmortem(self.assistant, incident, entries)
        message = postmortem_message(draft)
        thread = await self.surface.thread_of(incident_id)
        if thread is not None:
            await thread.post(message)
        else:
            await self.surface.pacer.wait(channel)
            await self.surface.client.chat_postMessage(channel=channel, **message)

    async def answer(self, mention: Mention) -> None:
        """Answer a mention in an incident's thread; elsewhere, say how to ask."""
        if not mention.channel or not mention.ts:
            return
        reply_to = self.surface.thread(mention.channel, mention.thread_ts or mention.ts)
        store = self.surface.service.records.store
        incident = None
        if mention.thread_ts:  # the newest incident of this thread, open or closed
            ref = f"{mention.channel}:{mention.thread_ts}"
            incident = await store.find_incident(thread_ref=ref, active=False)
        if incident is None:
            await reply_to.post({"text": MENTION_HELP})
            return
        if not mention.question:
            ask = f"Ask me about `{escape(incident.id, 60)}`. {MENTION_HELP}"
            await reply_to.post({"text": ask})
            return
        entries = await store.list_audit(incident_id=incident.id)
        reply = await answer_question(self.assistant, incident.id, mention.question, entries)
        await reply_to.post(answer_message(incident.id, mention, reply))

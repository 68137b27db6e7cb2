"""The Bolt app: listeners only translate between Slack and :class:`SlackSurface` (and, for a
mention of the bot or ``postmortem``, :class:`IncidentAssistant`).

Bolt's middleware verifies every request's signature and timestamp (a bad or stale signature is
answered 401 and reaches no listener) and checks the bot token with ``auth.test``.

Listeners acknowledge and hand longer work to :meth:`SlackSurface.spawn`, so Bolt runs them
inline (``process_before_response=True``): the HTTP answer leaves as soon as the listener
returns. Bolt's other mode runs the listener in a task and polls for its ``ack()`` every 10 ms,
which puts a 10 ms floor under every acknowledgement.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.llm.assistant import Assistant
from bot.slack import blocks
from bot.slack.commands import parse_slash
from bot.slack.llm import IncidentAssistant, mention_of
from bot.slack.surface import SlackSurface, help_text

COMMAND = "/model-incident"


def create_bolt_app(
    signing_secret: str,
    client: AsyncWebClient,
    surface: SlackSurface,
    assistant: Assistant | None = None,
) -> AsyncApp:
    """Bolt over ``client`` (its base URL is ``SLACK_API_URL``) with the bot's listeners;
    ``assistant`` (None: ``LLM_MODE=off``) writes thread answers and postmortem drafts."""
    app = AsyncApp(signing_secret=signing_secret, client=client, process_before_response=True)
    helper = IncidentAssistant(surface, assistant)

    @app.command(COMMAND)
    async def command(ack: AsyncAck, body: dict[str, Any]) -> None:
        await on_command(surface, ack, body, helper)

    @app.event("app_mention")
    async def mention(body: dict[str, Any], context: AsyncBoltContext) -> None:
        # Bolt acknowledges events itself; the answer is written in the background.
        question = mention_of(body, context.bot_user_id)
        if helper.first_delivery(question.event_id):
            surface.spawn(helper.answer(question))

    async def click(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()  # at once; the answer runs the incident on, which takes longer than 3 s
        surface.spawn(surface.click(body))

    app.action(blocks.APPROVE)(click)
    app.action(blocks.REJECT)(click)
    return app


async def on_command(
    surface: SlackSurface,
    ack: AsyncAck,
    body: dict[str, Any],
    helper: IncidentAssistant | None = None,
) -> None:
    """Acknowledge within Slack's 3 s, then do the work in the background."""
    request = parse_slash(str(body.get("text") or ""))
    user = str(body.get("user_id") or "")
    channel = str(body.get("channel_id") or "")
    if request.kind == "help":
        await ack(text=help_text(request.error))
        return
    if request.kind == "status":
        await ack(text=await surface.status_text(request.incident_id))
        return
    if request.kind == "audit":
        assert request.incident_id is not None
        await ack(text=await surface.audit_text(request.incident_id))
        return
    if request.kind == "postmortem":
        assert request.incident_id is not None
        helper = helper or IncidentAssistant(surface, None)
        await ack(text=f"Drafting the postmortem of `{blocks.escape(request.incident_id, 60)}`…")
        surface.spawn(helper.postmortem(request.incident_id, user, channel))
        return
    mode = " (dry run)" if request.dry_run else ""
    await ack(text=f"Opening an incident for `{blocks.escape(request.target, 200)}`{mode}…")
    surface.spawn(surface.open_incident(request, user, channel))

"""The Slack surface end to end: signed requests to the real Bolt app, assertions on what a local
Slack (a real HTTP server speaking the Web API) received."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bot.slack import blocks
from tests.slack.helpers import (
    CHANNEL,
    ENDPOINT,
    button_value,
    click,
    click_body,
    has_buttons,
    proposal_messages,
    signed,
    slash,
    texts,
    thread_of,
)


async def test_a_bad_or_stale_signature_gets_401_and_does_nothing(bot: Any) -> None:
    server, http, state = bot
    assert (await slash(http, ENDPOINT, secret="wrong")).status_code == 401
    assert (await slash(http, ENDPOINT, at=time.time() - 600)).status_code == 401
    await server.surface.idle()
    assert [m for m in state.messages if m.channel == CHANNEL] == []


async def test_unknown_input_gets_help_not_a_trace(bot: Any) -> None:
    server, http, state = bot
    answer = await slash(http, "statsu inc-1 extra")
    assert answer.status_code == 200
    assert "/model-incident TARGET" in answer.text and "Did you mean `status`" in answer.text
    assert "Traceback" not in answer.text
    # A target close to a known endpoint gets suggestions, and no incident is opened.
    assert (await slash(http, "sentiment-endpiont")).status_code == 200
    await server.surface.idle()
    (hint,) = state.ephemerals
    assert hint.user == "U0CAROL" and "`sentiment-endpoint`" in hint.text
    assert [m for m in state.messages if m.channel == CHANNEL] == []
    assert await server.app.store.list_incidents() == []
    # Mentions typed into the command come back inert.
    answer = await slash(http, "<!channel> <@U0ALICE> --now")
    assert "<!channel>" not in answer.text and "&lt;!channel&gt;" in answer.text
    assert "<@U0ALICE>" not in answer.text


async def test_status_help_and_audit_commands_answer(bot: Any) -> None:
    server, http, _ = bot
    assert "/model-incident status" in (await slash(http, "help")).text
    assert (await slash(http, "status")).text == "No open incidents."
    assert "No incident" in (await slash(http, "status inc-doesnotexist")).text
    await slash(http, ENDPOINT)
    await server.surface.idle()
    (incident,) = await server.app.store.list_incidents()
    status = (await slash(http, f"status {incident.id}")).text
    assert incident.id in status and "waiting on" in status
    audit = (await slash(http, f"audit {incident.id}")).text
    assert "*proposal*" in audit and "*tool_call*" in audit


def test_untrusted_text_cannot_mention_or_break_mrkdwn() -> None:
    hostile = "<!channel> <@U0ALICE> <https://evil|click> ```fence & *bold"
    escaped = blocks.escape(hostile)
    assert "<" not in escaped and ">" not in escaped and "`" not in escaped
    assert escaped.startswith("&lt;!channel&gt; &lt;@U0ALICE&gt;") and "&amp;" in escaped
    assert "\x07" not in blocks.escape("bell\x07")
    assert len(blocks.escape("x" * 5000, 100)) == 100


async def test_slash_command_opens_a_thread_and_ten_clicks_execute_once(bot: Any) -> None:
    server, http, state = bot
    started = time.perf_counter()
    answer = await slash(http, ENDPOINT)
    assert answer.status_code == 200 and time.perf_counter() - started < 3
    await server.surface.idle()
    root, thread = thread_of(state)
    # The walk is one streamed message of task cards (plan mode), one card per runbook step.
    (walk,) = [m for m in thread if m.chunks]
    start = next(c for c in state.calls if c["method"] == "chat.startStream")
    assert start["args"]["task_display_mode"] == "plan"
    assert start["args"]["recipient_user_id"] == "U0CAROL"
    assert len(walk.chunks) >= 3 and {c["type"] for c in walk.chunks} == {"task_update"}
    assert all(len(c.get("output", "")) <= 256 for c in walk.chunks)
    assert not walk.streaming, "the stream was stopped when the proposal came"
    (proposal,) = proposal_messages(state)
    assert proposal.thread_ts == root.ts
    shown = json.dumps(proposal.blocks)
    for part in ("Why:", "Evidence:", "Dry run", "risk", "key", "Approve", "Reject", '"confirm"'):
        assert part in shown
    actions = next(b for b in proposal.blocks if b["type"] == "actions")
    assert [e["style"] for e in actions["elements"]] == ["primary", "danger"]
    assert {e["value"] for e in actions["elements"]} == {button_value(proposal)}

    # A click from another channel changes nothing and is explained to the clicker.
    foreign = click_body(button_value(proposal), proposal, "U0BOB", channel="C0OTHER")
    assert (
        await http.post("/slack/events", content=foreign, headers=signed(foreign))
    ).status_code == 200
    await server.surface.idle()
    assert await server.app.store.list_ledger() == []
    assert any("thread" in e.text for e in state.ephemerals)

    clicks = await asyncio.gather(*(click(http, proposal, "U0BOB") for _ in range(10)))
    assert {c.status_code for c in clicks} == {200}
    await server.surface.idle()
    ledger = await server.app.store.list_ledger()
    assert [(e.tool, e.state) for e in ledger] == [("rollback_to_previous_champion", "succeeded")]
    updated = state.message(proposal.channel, proposal.ts)
    assert updated is not None and not has_buttons(updated)
    assert "U0BOB" in json.dumps(updated.blocks)
    assert "Final state" in texts(thread_of(state)[1])


async def test_without_streaming_the_walk_is_one_message_edited_in_place(bot_factory: Any) -> None:
    async with bot_factory(slack_streaming=False) as (server, http, state):
        await slash(http, ENDPOINT)
        await server.surface.idle()
        _, thread = thread_of(state)
        walks = [m for m in thread if "Runbook walk" in m.text]
        assert len(walks) == 1 and walks[0].edits >= 1 and not walks[0].chunks
        assert "(done)" in walks[0].text
        assert not [c for c in state.calls if "Stream" in c["method"]]
        assert len(proposal_messages(state)) == 1

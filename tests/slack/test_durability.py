"""Restarts and Slack's rate limits: a new process over the same database picks up where the
last one stopped, in the same threads; a 429 storm delays messages but loses none."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from sandbox.runtime import Sandbox
from tests.slack.helpers import (
    CHANNEL,
    ENDPOINT,
    click,
    has_buttons,
    proposal_messages,
    slash,
    texts,
    thread_of,
    wait_for,
)


def bot_events(sandbox: Sandbox) -> list[Any]:
    return [e for e in sandbox.world.events if e.actor == "model-incident-bot"]


WRITES = ("chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream")


async def test_after_restarts_buttons_work_and_a_stopped_incident_goes_on_in_its_thread(
    bot_factory: Any, sandbox: Sandbox
) -> None:
    async with bot_factory() as (server, http, state):
        await slash(http, ENDPOINT)
        await server.surface.idle()
        (proposal,) = proposal_messages(state)
        proposal = proposal.model_copy(deep=True)
        (incident,) = await server.app.store.list_incidents()

    # A new process: the button posted by the old one still works. The change is held in
    # flight by the platform and the process dies while it waits.
    async with bot_factory(ledger_lease_s=1) as (server, http, state):
        assert server.resumed == []
        sandbox.state.mutation_delay_s = 2.0
        await click(http, proposal, "U0BOB")
        await wait_for(lambda: sandbox.state.mutations_in_flight > 0)
        await server.surface.abort()
        assert [e.state for e in await server.app.store.list_ledger()] == ["started"]
    sandbox.state.mutation_delay_s = 0.0

    # The next process carries the running incident on, in the same thread, to its outcome.
    async with bot_factory(ledger_lease_s=1) as (server, http, state):
        assert server.resumed == [incident.id]
        await server.surface.idle()
        ledger = await server.app.store.list_ledger()
        assert [(e.tool, e.state) for e in ledger] == [
            ("rollback_to_previous_champion", "succeeded")
        ]
        root, thread = thread_of(state)
        assert f"{root.channel}:{root.ts}" == incident.thread_ref
        assert "Final state" in texts(thread)
        assert len([m for m in state.messages if m.thread_ts is None]) == 1
        shown = state.message(proposal.channel, proposal.ts)
        assert shown is not None and not has_buttons(shown)
        moves = [e for e in bot_events(sandbox) if e.type in ("endpoint_updated", "alias_set")]
        assert len(moves) == 1, "the change reached the platform once"


async def test_under_429s_every_message_arrives_at_about_one_write_per_second(
    bot_factory: Any,
) -> None:
    async with bot_factory() as (server, http, state):
        await slash(http, "help")  # Bolt's own first auth.test
        state.rate_limited_calls, state.retry_after_s = 2, 1
        started = time.time()
        await slash(http, ENDPOINT)
        await server.surface.idle()
        assert len(proposal_messages(state)) == 1, "nothing was lost to the 429s"
        # Each refused call was tried again after its Retry-After, not at once.
        refused = [i for i, c in enumerate(state.calls) if c["status"] == 429]
        assert len(refused) == 2 and {state.calls[i]["method"] for i in refused} <= set(WRITES)
        for i in refused:
            again = next(c for c in state.calls[i + 1 :] if c["method"] == state.calls[i]["method"])
            assert again["at"] - state.calls[i]["at"] >= 1.0
        # Coalesced: far fewer writes than steps, and no faster than the pacer allows.
        _, thread = thread_of(state, CHANNEL)
        (walk,) = [m for m in thread if m.chunks]
        writes = [c for c in state.calls if c["method"] in WRITES and c["at"] > started]
        assert len(writes) < len(walk.chunks)
        span = writes[-1]["at"] - writes[0]["at"]
        assert len(writes) <= 3 + 2 + span / 1.0 + 1


async def test_with_an_app_token_commands_arrive_over_socket_mode(
    bot_factory: Any, local_slack: tuple[Any, str]
) -> None:
    slack, api_url = local_slack
    slack.app_token = "xapp-local"
    async with bot_factory(slack_app_token="xapp-local") as (server, _http, state):
        base = api_url.removesuffix("api/")
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            await wait_for(lambda: any(c["method"] == "apps.connections.open" for c in state.calls))
            answer = (await http.post("/_local/socket/slash", json={"text": ENDPOINT})).json()
            assert answer["ok"] and "Opening an incident" in json.dumps(answer["payload"])
        await server.surface.idle()
        assert len(proposal_messages(state)) == 1

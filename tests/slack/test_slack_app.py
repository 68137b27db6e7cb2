"""The Slack surface end to end: signed requests to the real Bolt app, assertions on what a local
Slack (a real HTTP server speaking the Web API) received."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn

from bot.server import Server, open_server
from bot.settings import Settings
from localslack.server import TEAM_ID, SlackState, create_app
from sandbox.runtime import Sandbox

SECRET = "local-signing-secret"
TOKEN = "xoxb-local-token"
CHANNEL = "C0INCIDENTS"
ENDPOINT = "sentiment-endpoint"
REGRESSION = "performance.new_version_regression"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def local_slack() -> AsyncIterator[tuple[SlackState, str]]:
    state = SlackState(token=TOKEN)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.05)
    yield state, f"http://127.0.0.1:{port}/api/"
    server.should_exit = True
    await task


@pytest.fixture
async def bot(
    local_slack: tuple[SlackState, str], sandbox: Sandbox, tmp_path: Path
) -> AsyncIterator[tuple[Server, httpx.AsyncClient, SlackState]]:
    state, url = local_slack
    settings = Settings(
        _env_file=None,
        state_dir=tmp_path / "state",
        approvers=["U0ALICE", "U0BOB"],
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=url,
        max_verify_wait_s=0.0,
    )
    await sandbox.inject(REGRESSION, ENDPOINT)
    async with open_server(settings, sandbox=sandbox) as server:
        transport = httpx.ASGITransport(app=server.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
            yield server, http, state


def signed(body: str, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    ts = str(int(at if at is not None else time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def slash(http: httpx.AsyncClient, text: str, user: str = "U0CAROL", **kw: Any) -> Any:
    body = urlencode(
        {
            "command": "/model-incident",
            "text": text,
            "user_id": user,
            "channel_id": CHANNEL,
            "team_id": TEAM_ID,
            "response_url": "http://localslack/response",
            "trigger_id": "1.2.3",
        }
    )
    return await http.post("/slack/events", content=body, headers=signed(body, **kw))


def click_body(proposal_id: str, message: Any, user: str, channel: str = CHANNEL) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": user},
        "channel": {"id": channel},
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "thread_ts": message.thread_ts,
            "channel_id": channel,
        },
        "message": {"ts": message.ts, "thread_ts": message.thread_ts},
        "trigger_id": "1.2.3",
        "actions": [{"action_id": "proposal_approve", "value": proposal_id, "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def proposal_messages(state: SlackState) -> list[Any]:
    return [
        m
        for m in state.messages
        if any(b.get("type") == "actions" for b in m.blocks) and m.thread_ts
    ]


async def test_a_bad_or_stale_signature_gets_401_and_does_nothing(bot: Any) -> None:
    server, http, state = bot
    assert (await slash(http, ENDPOINT, secret="wrong")).status_code == 401
    assert (await slash(http, ENDPOINT, at=time.time() - 600)).status_code == 401
    await server.surface.idle()
    assert [m for m in state.messages if m.channel == CHANNEL] == []


async def test_unknown_input_gets_help_not_a_trace(bot: Any) -> None:
    _, http, _ = bot
    answer = await slash(http, "statsu inc-1 extra")
    assert answer.status_code == 200
    assert "/model-incident TARGET" in answer.text and "Did you mean `status`" in answer.text
    assert "Traceback" not in answer.text


async def test_slash_command_opens_a_thread_and_ten_clicks_execute_once(bot: Any) -> None:
    server, http, state = bot
    started = time.perf_counter()
    answer = await slash(http, ENDPOINT)
    assert answer.status_code == 200 and time.perf_counter() - started < 3
    await server.surface.idle()
    root = next(m for m in state.messages if m.channel == CHANNEL and m.thread_ts is None)
    thread = [m for m in state.messages if m.thread_ts == root.ts]
    walk = next(m for m in thread if m.chunks or "Runbook walk" in m.text)
    assert len(walk.chunks) >= 3 or walk.edits >= 1, "the walk is one message, streamed or edited"
    (proposal,) = proposal_messages(state)
    proposal_id = next(
        b["elements"][0]["value"] for b in proposal.blocks if b.get("type") == "actions"
    )
    # A click from another channel changes nothing and is explained to the clicker.
    foreign = click_body(proposal_id, proposal, "U0BOB", channel="C0OTHER")
    assert (
        await http.post("/slack/events", content=foreign, headers=signed(foreign))
    ).status_code == 200
    await server.surface.idle()
    assert await server.app.store.list_ledger() == []
    assert any("thread" in e.text for e in state.ephemerals)

    body = click_body(proposal_id, proposal, "U0BOB")
    clicks = await asyncio.gather(
        *(http.post("/slack/events", content=body, headers=signed(body)) for _ in range(10))
    )
    assert {c.status_code for c in clicks} == {200}
    await server.surface.idle()
    ledger = await server.app.store.list_ledger()
    assert [(e.tool, e.state) for e in ledger] == [("rollback_to_previous_champion", "succeeded")]
    updated = state.message(proposal.channel, proposal.ts)
    assert updated is not None and not any(b.get("type") == "actions" for b in updated.blocks)
    assert "U0BOB" in json.dumps(updated.blocks)
    assert any("Final state" in json.dumps(m.blocks) for m in state.messages if m.thread_ts)

"""Requests as Slack sends them (signed exactly like Slack signs them) and readers of what the
local Slack received."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from localslack.server import TEAM_ID, Message, SlackState

SECRET = "local-signing-secret"
TOKEN = "xoxb-local-token"
CHANNEL = "C0INCIDENTS"
ENDPOINT = "sentiment-endpoint"
REGRESSION = "performance.new_version_regression"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed(body: str, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    ts = str(int(at if at is not None else time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_body(text: str, user: str = "U0CAROL", channel: str = CHANNEL) -> str:
    return urlencode(
        {
            "command": "/model-incident",
            "text": text,
            "user_id": user,
            "channel_id": channel,
            "team_id": TEAM_ID,
            "response_url": "http://localslack/response",
            "trigger_id": "1.2.3",
        }
    )


async def slash(
    http: httpx.AsyncClient, text: str, user: str = "U0CAROL", channel: str = CHANNEL, **kw: Any
) -> httpx.Response:
    body = slash_body(text, user, channel)
    return await http.post("/slack/events", content=body, headers=signed(body, **kw))


def click_body(
    proposal_id: str,
    message: Any,
    user: str,
    channel: str = CHANNEL,
    team: str = TEAM_ID,
    action: str = "proposal_approve",
) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": team},
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
        "actions": [{"action_id": action, "value": proposal_id, "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)})


async def click(http: httpx.AsyncClient, proposal: Message, user: str, **kw: Any) -> httpx.Response:
    """A signed click on ``proposal``'s button (Approve unless ``action`` says otherwise)."""
    body = click_body(button_value(proposal), proposal, user, **kw)
    return await http.post("/slack/events", content=body, headers=signed(body))


def has_buttons(message: Message) -> bool:
    return any(b.get("type") == "actions" for b in message.blocks)


def proposal_messages(state: SlackState) -> list[Message]:
    return [m for m in state.messages if has_buttons(m) and m.thread_ts]


def button_value(message: Message) -> str:
    return str(next(b["elements"][0]["value"] for b in message.blocks if b["type"] == "actions"))


def thread_of(state: SlackState, channel: str = CHANNEL) -> tuple[Message, list[Message]]:
    """The channel's (first) incident message and its replies."""
    root = next(m for m in state.messages if m.channel == channel and m.thread_ts is None)
    return root, [m for m in state.messages if m.thread_ts == root.ts]


def texts(messages: list[Message]) -> str:
    return json.dumps([[m.text, m.blocks, m.chunks] for m in messages])


async def wait_for(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Wait until ``check()`` holds (the bot works in the background after acknowledging)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)

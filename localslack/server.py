"""A local Slack: the Web API methods the bot calls, in Slack's JSON shapes, over real HTTP.

The bot reaches it only through ``SLACK_API_URL``, so its production client code (slack_sdk's
``AsyncWebClient`` inside Bolt) runs unchanged. Everything received is kept in memory and can be
read back at ``GET /_local/state`` (tests assert on what Slack received, never on internals).
``POST /_local/rate_limit`` makes the next N calls answer 429 with ``Retry-After``.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

TEAM_ID = "T0LOCAL"
BOT_USER_ID = "U0BOT"


class Message(BaseModel):
    channel: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] = Field(default_factory=list)
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    edits: int = 0
    chunks: list[dict[str, Any]] = Field(default_factory=list, description="streamed chunks")
    streaming: bool = False


class Ephemeral(BaseModel):
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = Field(default_factory=list)
    thread_ts: str | None = None


class SlackState(BaseModel):
    """What the local Slack holds: messages, ephemerals, every call, and the workspace."""

    token: str
    messages: list[Message] = Field(default_factory=list)
    ephemerals: list[Ephemeral] = Field(default_factory=list)
    calls: list[dict[str, Any]] = Field(default_factory=list)
    usergroups: dict[str, list[str]] = Field(default_factory=dict)
    users: dict[str, str] = Field(default_factory=dict, description="user id → name")
    rate_limited_calls: int = 0
    retry_after_s: int = 1
    # Where the page's signed requests go (the bot's /slack/events) and the secret they are
    # signed with: kept on the server, never sent to the browser.
    bot_events_url: str | None = Field(None, exclude=True)
    signing_secret: str = Field("", exclude=True)
    # The app-level token (``xapp-``) that opens Socket Mode connections (localslack/socket.py).
    app_token: str = Field("", exclude=True)

    def message(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)


_counter = itertools.count(1)


def _new_ts() -> str:
    return f"{int(time.time())}.{next(_counter):06d}"


def _ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def _error(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


async def _arguments(request: Request) -> dict[str, Any]:
    """A Web API call's arguments: JSON body, form body or query string; JSON-in-form decoded."""
    args: dict[str, Any] = dict(request.query_params)
    if "json" in request.headers.get("content-type", ""):
        body = await request.json()
        args.update(body if isinstance(body, dict) else {})
    else:
        args.update(dict(parse_qsl((await request.body()).decode("utf-8", "replace"))))
    for key in ("blocks", "chunks", "attachments"):
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except json.JSONDecodeError:
                args[key] = []
    return args


def _post_message(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    if not args.get("channel"):
        return _error("channel_not_found")
    message = Message(
        channel=str(args["channel"]),
        ts=_new_ts(),
        text=str(args.get("text") or ""),
        blocks=list(args.get("blocks") or []),
        thread_ts=args.get("thread_ts") or None,
    )
    state.messages.append(message)
    return _ok(channel=message.channel, ts=message.ts, message=message.model_dump())


def _update(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    message = state.message(str(args.get("channel")), str(args.get("ts")))
    if message is None:
        return _error("message_not_found")
    message.text = str(args.get("text") or message.text)
    if "blocks" in args:
        message.blocks = list(args.get("blocks") or [])
    message.edits += 1
    return _ok(channel=message.channel, ts=message.ts, text=message.text)


def _ephemeral(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    state.ephemerals.append(
        Ephemeral(
            channel=str(args.get("channel")),
            user=str(args.get("user")),
            text=str(args.get("text") or ""),
            blocks=list(args.get("blocks") or []),
            thread_ts=args.get("thread_ts") or None,
        )
    )
    return _ok(message_ts=_new_ts())


def _start_stream(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    if not args.get("thread_ts"):
        return _error("invalid_arguments")
    result = _post_message(state, {**args, "text": args.get("markdown_text") or ""})
    message = state.messages[-1]
    message.streaming = True
    message.chunks = list(args.get("chunks") or [])
    return result


def _append_stream(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    message = state.message(str(args.get("channel")), str(args.get("ts")))
    if message is None or not message.streaming:
        return _error("message_not_in_streaming_state")
    message.chunks.extend(args.get("chunks") or [])
    message.text += str(args.get("markdown_text") or "")
    message.edits += 1
    return _ok(channel=message.channel, ts=message.ts)


def _stop_stream(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    result = _append_stream(state, args)
    message = state.message(str(args.get("channel")), str(args.get("ts")))
    if message is not None and result["ok"]:
        message.streaming = False
        message.blocks = list(args.get("blocks") or message.blocks)
    return result


def _replies(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    """``conversations.replies``: a thread's parent and its replies, oldest first."""
    channel, ts = str(args.get("channel")), str(args.get("ts"))
    if state.message(channel, ts) is None:
        return _error("thread_not_found")
    thread = [
        m.model_dump(exclude={"edits", "chunks", "streaming"})
        for m in state.messages
        if m.channel == channel and (m.ts == ts or m.thread_ts == ts)
    ]
    return _ok(messages=thread, has_more=False)


def _handlers(state: SlackState) -> dict[str, Any]:
    return {
        "auth.test": lambda a: _ok(
            url="http://localslack/",
            team="Local",
            team_id=TEAM_ID,
            user_id=BOT_USER_ID,
            bot_id="B0BOT",
            user="model-incident-bot",
        ),
        "chat.postMessage": lambda a: _post_message(state, a),
        "chat.update": lambda a: _update(state, a),
        "chat.postEphemeral": lambda a: _ephemeral(state, a),
        "chat.startStream": lambda a: _start_stream(state, a),
        "chat.appendStream": lambda a: _append_stream(state, a),
        "chat.stopStream": lambda a: _stop_stream(state, a),
        "conversations.replies": lambda a: _replies(state, a),
        "usergroups.users.list": lambda a: (
            _ok(users=state.usergroups[str(a.get("usergroup"))])
            if str(a.get("usergroup")) in state.usergroups
            else _error("no_such_subteam")
        ),
        "users.info": lambda a: _ok(
            user={"id": a.get("user"), "name": state.users.get(str(a.get("user")), a.get("user"))}
        ),
    }


def create_app(state: SlackState) -> FastAPI:
    """The local Slack's HTTP app: ``/api/<method>``, the ``/_local`` controls and the page
    (``GET /``, ``localslack/page.py``)."""
    from localslack.page import add_page
    from localslack.socket import add_socket_mode, connections_open

    app = FastAPI(title="local Slack", docs_url=None, redoc_url=None)
    add_page(app, state)
    add_socket_mode(app, state)
    handlers = _handlers(state)
    app.state.slack = state

    @app.api_route("/api/{method}", methods=["GET", "POST"])
    async def web_api(method: str, request: Request) -> JSONResponse:
        args = await _arguments(request)
        call = {"method": method, "args": args, "at": time.time(), "status": 200}
        state.calls.append(call)
        if state.rate_limited_calls > 0:
            state.rate_limited_calls -= 1
            call["status"] = 429
            return JSONResponse(
                _error("ratelimited"),
                status_code=429,
                headers={"Retry-After": str(state.retry_after_s)},
            )
        if method == "apps.connections.open":
            return JSONResponse(connections_open(state, request))
        if request.headers.get("authorization") != f"Bearer {state.token}":
            return JSONResponse(_error("invalid_auth"))
        handler = handlers.get(method)
        if handler is None:
            return JSONResponse(_error("unknown_method"))
        return JSONResponse(handler(args))

    @app.get("/_local/state")
    async def read_state() -> dict[str, Any]:
        return state.model_dump(mode="json")

    @app.post("/_local/rate_limit")
    async def rate_limit(request: Request) -> dict[str, Any]:
        body = await request.json()
        state.rate_limited_calls = int(body.get("calls", 1))
        state.retry_after_s = int(body.get("retry_after_s", 1))
        return _ok()

    return app

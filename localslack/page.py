"""The local Slack's web page: a channel and its threads, a box for the slash command, buttons.

The browser never sees the signing secret. It posts what a person did (a command typed, a
button clicked) to this server, which builds the request Slack would send (the same form
fields, the same ``block_actions`` payload), signs it exactly as Slack signs it and forwards it
to the bot's ``/slack/events``. The bot's answer to a command (its acknowledgement) is shown as
an ephemeral message, as Slack shows it.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from slack_sdk.signature import SignatureVerifier

from localslack.server import TEAM_ID, Ephemeral, SlackState

PAGE = Path(__file__).with_name("page.html")
COMMAND = "/model-incident"


class SlashTyped(BaseModel):
    text: str = Field(max_length=4000)
    user: str = Field("U0ONCALL", min_length=1, max_length=40)
    channel: str = Field("C0INCIDENTS", min_length=1, max_length=40)


class ButtonClicked(BaseModel):
    channel: str = Field(max_length=40)
    ts: str = Field(max_length=40)
    action_id: str = Field(max_length=255)
    value: str = Field("", max_length=2000)
    user: str = Field("U0ONCALL", min_length=1, max_length=40)


def signed_headers(secret: str, body: str, at: float | None = None) -> dict[str, str]:
    """The headers Slack puts on a request: ``v0=HMAC_SHA256(secret, "v0:{ts}:{body}")``."""
    timestamp = str(int(at if at is not None else time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_form(typed: SlashTyped) -> str:
    """The form body of a slash command, with the fields Slack sends."""
    return urlencode(
        {
            "token": "unused",
            "team_id": TEAM_ID,
            "team_domain": "local",
            "channel_id": typed.channel,
            "channel_name": "incidents",
            "user_id": typed.user,
            "user_name": typed.user.lower(),
            "command": COMMAND,
            "text": typed.text,
            "api_app_id": "A0LOCAL",
            "response_url": "http://localslack/response",
            "trigger_id": uuid.uuid4().hex,
        }
    )


def action_form(state: SlackState, clicked: ButtonClicked) -> str:
    """The form body of a ``block_actions`` interaction on one of the page's messages."""
    message = state.message(clicked.channel, clicked.ts)
    thread_ts = message.thread_ts if message is not None else None
    payload = {
        "type": "block_actions",
        "api_app_id": "A0LOCAL",
        "team": {"id": TEAM_ID, "domain": "local"},
        "user": {"id": clicked.user, "team_id": TEAM_ID},
        "channel": {"id": clicked.channel},
        "container": {
            "type": "message",
            "message_ts": clicked.ts,
            "channel_id": clicked.channel,
            "thread_ts": thread_ts,
        },
        "message": {"ts": clicked.ts, "thread_ts": thread_ts},
        "response_url": "http://localslack/response",
        "trigger_id": uuid.uuid4().hex,
        "actions": [
            {
                "type": "button",
                "action_id": clicked.action_id,
                "block_id": "proposal",
                "value": clicked.value,
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


async def forward(state: SlackState, body: str) -> httpx.Response:
    """Sign ``body`` with the app's secret and deliver it to the bot, as Slack would."""
    if not state.bot_events_url:
        raise LookupError("no bot to forward to (bot_events_url is not set)")
    headers = signed_headers(state.signing_secret, body)
    async with httpx.AsyncClient(timeout=10.0) as http:
        return await http.post(state.bot_events_url, content=body, headers=headers)


def add_page(app: FastAPI, state: SlackState) -> None:
    """The page (``GET /``) and the two things a person does on it."""

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE.read_text()

    @app.post("/_local/slash")
    async def slash(typed: SlashTyped) -> JSONResponse:
        try:
            answer = await forward(state, slash_form(typed))
        except (httpx.HTTPError, LookupError) as exc:
            return JSONResponse({"status": 502, "text": f"the bot is unreachable: {exc}"}, 502)
        text = answer.text if answer.status_code == 200 else f"error {answer.status_code}"
        if text:
            state.ephemerals.append(Ephemeral(channel=typed.channel, user=typed.user, text=text))
        return JSONResponse({"status": answer.status_code, "text": text})

    @app.post("/_local/click")
    async def click(clicked: ButtonClicked) -> JSONResponse:
        try:
            answer = await forward(state, action_form(state, clicked))
        except (httpx.HTTPError, LookupError) as exc:
            return JSONResponse({"status": 502, "text": f"the bot is unreachable: {exc}"}, 502)
        return JSONResponse({"status": answer.status_code})

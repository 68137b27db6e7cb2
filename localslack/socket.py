"""Socket Mode in the local Slack: ``apps.connections.open`` (with the app-level token) hands out
a WebSocket URL; the bot connects out to it and receives its slash commands as envelopes, which
it acknowledges with their ``envelope_id``, as with Slack's own Socket Mode.

``POST /_local/socket/slash`` delivers a slash command over the open connection and answers with
the bot's acknowledgement.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from localslack.server import TEAM_ID, SlackState

ACK_TIMEOUT_S = 3.0  # Slack's own deadline


class Sockets:
    """The bot's open connections and the envelopes waiting for their acknowledgement."""

    def __init__(self) -> None:
        self.open: list[WebSocket] = []
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}


def connections_open(state: SlackState, request: Request) -> dict[str, Any]:
    """``apps.connections.open``: only the app-level token opens a connection."""
    if not state.app_token or request.headers.get("authorization") != f"Bearer {state.app_token}":
        return {"ok": False, "error": "invalid_auth"}
    url = str(request.base_url).replace("http", "ws", 1).rstrip("/") + "/_local/socket"
    return {"ok": True, "url": url}


def add_socket_mode(app: FastAPI, state: SlackState) -> Sockets:
    sockets = Sockets()

    @app.websocket("/_local/socket")
    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        sockets.open.append(ws)
        await ws.send_text(json.dumps({"type": "hello", "num_connections": len(sockets.open)}))
        try:
            while True:
                answer = json.loads(await ws.receive_text())
                waiting = sockets.waiting.pop(str(answer.get("envelope_id")), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(answer)
        except WebSocketDisconnect:
            pass
        finally:
            sockets.open.remove(ws)

    @app.post("/_local/socket/slash")
    async def slash(request: Request) -> JSONResponse:
        typed = await request.json()
        if not sockets.open:
            return JSONResponse({"ok": False, "error": "no_socket_connection"}, 409)
        envelope_id = uuid.uuid4().hex
        payload = {
            "team_id": TEAM_ID,
            "channel_id": str(typed.get("channel") or "C0INCIDENTS"),
            "user_id": str(typed.get("user") or "U0ONCALL"),
            "command": "/model-incident",
            "text": str(typed.get("text") or ""),
            "api_app_id": "A0LOCAL",
            "response_url": "http://localslack/response",
            "trigger_id": uuid.uuid4().hex,
        }
        envelope = {
            "envelope_id": envelope_id,
            "type": "slash_commands",
            "payload": payload,
            "accepts_response_payload": True,
        }
        acked: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        sockets.waiting[envelope_id] = acked
        await sockets.open[-1].send_text(json.dumps(envelope))
        try:
            answer = await asyncio.wait_for(acked, ACK_TIMEOUT_S)
        except TimeoutError:
            return JSONResponse({"ok": False, "error": "not_acknowledged"}, 504)
        return JSONResponse({"ok": True, "payload": answer.get("payload") or {}})

    return sockets

"""The alert intake over real parts: the bot's app on the sandbox, a local Slack (a real HTTP
server speaking the Web API) and the intake's route on a FastAPI app driven over ASGI."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.runtime import AlertRuntime, open_alerts
from bot.compose import App, open_app
from bot.settings import Settings
from bot.slack.surface import SlackSurface
from localslack.server import SlackState, create_app
from sandbox.runtime import Sandbox

TOKEN = "xoxb-local-token"
ALERT_TOKEN = "alertmanager-secret"
CHANNEL = "C0ALERTS"
AUTH = {"Authorization": f"Bearer {ALERT_TOKEN}"}


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


@dataclass
class AlertBot:
    app: App
    runtime: AlertRuntime
    http: httpx.AsyncClient
    slack: SlackState
    surface: SlackSurface

    async def deliver(self, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(
            "/alerts/alertmanager", json=payload, headers=AUTH if headers is None else headers
        )

    async def settle(self) -> None:
        await self.runtime.idle()
        await self.surface.idle()

    def channel_roots(self) -> list[Any]:
        return [m for m in self.slack.messages if m.channel == CHANNEL and m.thread_ts is None]

    def thread(self, ts: str) -> list[Any]:
        return [m for m in self.slack.messages if m.thread_ts == ts]


BotFactory = Callable[..., AbstractAsyncContextManager[AlertBot]]


@pytest.fixture
def alert_bot(local_slack: tuple[SlackState, str], sandbox: Sandbox, tmp_path: Path) -> BotFactory:
    """``async with alert_bot(channel=...) as bot:`` (an empty channel: no worker runs)."""
    state, url = local_slack

    @asynccontextmanager
    async def start(channel: str = CHANNEL, **options: Any) -> AsyncIterator[AlertBot]:
        settings = Settings(
            _env_file=None,
            state_dir=tmp_path / "state",
            approvers=["U0ALICE"],
            slack_bot_token=TOKEN,
            slack_api_url=url,
            max_verify_wait_s=0.0,
            alertmanager_token=ALERT_TOKEN,
            alert_channel=channel,
            **options,
        )
        async with open_app(settings, sandbox=sandbox) as app:
            client = AsyncWebClient(token=TOKEN, base_url=url)
            client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=5))
            surface = SlackSurface(app.service, client, team_id="T0LOCAL", streaming=True)
            web = FastAPI()
            async with open_alerts(app, surface, web) as runtime:
                transport = httpx.ASGITransport(app=web)
                async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
                    yield AlertBot(app, runtime, http, state, surface)
                await surface.idle()

    return start


def alert(
    alertname: str = "ModelErrorRateHigh",
    *,
    status: str = "firing",
    fingerprint: str = "a1b2c3d4e5f60718",
    starts_at: str = "2026-12-02T10:00:00Z",
    **labels: str,
) -> dict[str, Any]:
    """One alert as Alertmanager sends it (version 4)."""
    if not labels:
        labels = {"endpoint": "sentiment-endpoint", "target": "sentiment-endpoint"}
    return {
        "status": status,
        "labels": {"alertname": alertname, "severity": "page", **labels},
        "annotations": {"summary": f"{alertname} fired"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-02T10:30:00Z",
        "generatorURL": "http://prometheus.local:9090/graph?g0.expr=up&g0.tab=1",
        "fingerprint": fingerprint,
    }


def delivery(*alerts: dict[str, Any], group_key: str = '{}:{alertname="X"}') -> dict[str, Any]:
    """A webhook body carrying ``alerts``; its status is firing when any alert fires."""
    firing = any(a.get("status") == "firing" for a in alerts if isinstance(a, dict))
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "model-incident-bot",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local:9093",
        "alerts": list(alerts),
    }

"""``model-incident serve``: one FastAPI process for every HTTP surface of the bot.

POST /slack/events   Slack's slash commands, interactions and app_mention events (Bolt, signed)
GET  /healthz        the process answers
GET  /readyz         database, Slack ``auth.test`` and the platform reachable
GET  /metrics        Prometheus exposition of the bot's own metrics

With ``SLACK_APP_TOKEN`` set, Slack's events arrive over Socket Mode instead (no public URL);
the HTTP routes stay for health and metrics. On start the process carries on the open incidents
of its threads (``bot/slack/recovery.py``) and sweeps for expired proposals while it runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.runtime import open_alerts
from bot.compose import App, open_app
from bot.settings import Settings
from bot.slack.app import create_bolt_app
from bot.slack.groups import UserGroups
from bot.slack.recovery import EXPIRY_SWEEP_S, expiry_loop, recover
from bot.slack.surface import SlackSurface

log = logging.getLogger(__name__)
# On shutdown, running incidents get this long to reach a resting point; the rest are stopped
# where they are and carried on by the next process from their checkpoints.
DRAIN_S = 10.0


@dataclass
class Server:
    app: App
    surface: SlackSurface
    http: FastAPI
    resumed: list[str]


def slack_client(settings: Settings) -> AsyncWebClient:
    """The Web API client of ``SLACK_API_URL``, retrying 429s after their ``Retry-After``."""
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    return client


async def readiness(app: App, client: AsyncWebClient) -> dict[str, str]:
    """What ``/readyz`` checks; an empty dict of problems means ready."""
    problems: dict[str, str] = {}
    try:
        await app.store.list_incidents(limit=1)
    except Exception as exc:  # any failure here means not ready, and says why
        problems["database"] = type(exc).__name__
    try:
        await client.auth_test()
    except Exception as exc:
        problems["slack"] = type(exc).__name__
    try:
        await app.platform.serving.list_endpoints()
    except Exception as exc:
        problems["platform"] = type(exc).__name__
    return problems


def create_http(app: App, client: AsyncWebClient, surface: SlackSurface) -> FastAPI:
    secret = app.settings.slack_signing_secret.get_secret_value()
    bolt = create_bolt_app(secret, client, surface, app.assistant)
    handler = AsyncSlackRequestHandler(bolt)
    http = FastAPI(title="model-incident-bot", docs_url=None, redoc_url=None)
    http.state.bolt = bolt

    @http.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    @http.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True}

    @http.get("/readyz")
    async def readyz() -> JSONResponse:
        problems = await readiness(app, client)
        return JSONResponse(
            {"ok": not problems, "problems": problems}, 200 if not problems else 503
        )

    @http.get("/metrics")
    async def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return http


def target_lister(app: App) -> Any:
    """The names of the endpoints and agents the platform knows (for "did you mean")."""

    async def names() -> list[str]:
        endpoints, agents = await asyncio.gather(
            app.platform.serving.list_endpoints(), app.platform.gateway.list_agents()
        )
        return [e.name for e in endpoints] + [a.agent for a in agents]

    return names


@asynccontextmanager
async def socket_mode(settings: Settings, http: FastAPI) -> AsyncIterator[None]:
    """Slack's events over Socket Mode while ``SLACK_APP_TOKEN`` is set; nothing otherwise."""
    token = settings.slack_app_token.get_secret_value()
    if not token:
        yield
        return
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(http.state.bolt, token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


async def _drain(surface: SlackSurface, within_s: float) -> None:
    try:
        await asyncio.wait_for(surface.idle(), within_s)
    except TimeoutError:
        log.warning("stopping incidents still running after %.0f s", within_s)
        await surface.abort()


@asynccontextmanager
async def open_server(
    settings: Settings, *, sweep_s: float = EXPIRY_SWEEP_S, **app_options: Any
) -> AsyncIterator[Server]:
    """The bot behind HTTP: the composition root's app plus the Slack surface, its open
    incidents carried on and its proposals swept for expiry every ``sweep_s``."""
    async with AsyncExitStack() as stack:
        app = await stack.enter_async_context(open_app(settings, **app_options))
        client = slack_client(settings)
        auth = await client.auth_test()
        surface = SlackSurface(
            app.service,
            client,
            team_id=str(auth["team_id"]),
            streaming=settings.slack_streaming,
            targets=target_lister(app),
        )
        app.service.records.groups_of = UserGroups(client).members
        http = create_http(app, client, surface)
        await stack.enter_async_context(open_alerts(app, surface, http))  # /alerts/...
        stack.push_async_callback(_drain, surface, DRAIN_S)
        sweeper = asyncio.create_task(expiry_loop(surface, sweep_s))
        stack.callback(sweeper.cancel)
        await stack.enter_async_context(socket_mode(settings, http))
        yield Server(app, surface, http, await recover(surface))

"""``model-incident serve``: one FastAPI process for every HTTP surface of the bot.

POST /slack/events   Slack's slash commands and interactions (Bolt, signature-checked)
GET  /healthz        the process answers
GET  /readyz         database, Slack ``auth.test`` and the platform reachable
GET  /metrics        Prometheus exposition of the bot's own metrics
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.compose import App, open_app
from bot.settings import Settings
from bot.slack.app import create_bolt_app
from bot.slack.surface import SlackSurface


@dataclass
class Server:
    app: App
    surface: SlackSurface
    http: FastAPI


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
    handler = AsyncSlackRequestHandler(create_bolt_app(secret, client, surface))
    http = FastAPI(title="model-incident-bot", docs_url=None, redoc_url=None)

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


@asynccontextmanager
async def open_server(settings: Settings, **app_options: Any) -> AsyncIterator[Server]:
    """The bot behind HTTP: the composition root's app plus the Slack surface."""
    async with open_app(settings, **app_options) as app:
        client = slack_client(settings)
        auth = await client.auth_test()
        surface = SlackSurface(
            app.service, client, team_id=str(auth["team_id"]), streaming=settings.slack_streaming
        )
        try:
            yield Server(app, surface, create_http(app, client, surface))
        finally:
            await surface.idle()

"""Fixtures of the Slack tests: a local Slack (a real HTTP server speaking the Web API) and the
real bot (Bolt behind FastAPI) over the sandbox, reached with signed requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.server import Server, open_server
from bot.settings import Settings
from localslack.server import SlackState, create_app
from sandbox.runtime import Sandbox
from tests.slack.helpers import ENDPOINT, REGRESSION, SECRET, TOKEN, free_port

Bot = tuple[Server, httpx.AsyncClient, SlackState]
BotFactory = Callable[..., AbstractAsyncContextManager[Bot]]


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """``app`` on a free local port, for as long as the block runs; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def local_slack() -> AsyncIterator[tuple[SlackState, str]]:
    state = SlackState(token=TOKEN)
    async with serve(create_app(state)) as url:
        yield state, f"{url}/api/"


def bot_settings(url: str, state_dir: Path, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "state_dir": state_dir,
        "approvers": ["U0ALICE", "U0BOB"],
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SECRET,
        "slack_api_url": url,
        "max_verify_wait_s": 0.0,
        **overrides,
    }
    return Settings(_env_file=None, **options)


@pytest.fixture
async def bot_factory(
    local_slack: tuple[SlackState, str], sandbox: Sandbox, tmp_path: Path
) -> AsyncIterator[BotFactory]:
    """``async with bot_factory(**settings) as (server, http, slack)``: a bot process over the
    same database, sandbox and local Slack each time (a restart is a second block)."""
    state, url = local_slack
    await sandbox.inject(REGRESSION, ENDPOINT)

    @asynccontextmanager
    async def start(sweep_s: float = 3600.0, **overrides: Any) -> AsyncIterator[Bot]:
        settings = bot_settings(url, tmp_path / "state", **overrides)
        async with open_server(settings, sandbox=sandbox, sweep_s=sweep_s) as server:
            transport = httpx.ASGITransport(app=server.http)
            async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
                yield server, http, state

    yield start


@pytest.fixture
async def bot(bot_factory: BotFactory) -> AsyncIterator[Bot]:
    async with bot_factory() as running:
        yield running

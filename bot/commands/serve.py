"""``model-incident serve``: the bot's HTTP process (Slack events, health, readiness, metrics).

``--local-slack`` runs it with no workspace at all: the local Slack (``localslack/``) on its own
port with its web page, the embedded sandbox, and the bot wired to both with a fresh token and
signing secret that only these two processes know.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import typer


async def _serve(host: str, port: int) -> None:
    import uvicorn

    from bot.server import open_server
    from bot.settings import Settings

    async with open_server(Settings()) as server:
        config = uvicorn.Config(server.http, host=host, port=port, log_level="info")
        await uvicorn.Server(config).serve()


async def _started(server: Any) -> None:
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.05)


async def _serve_local(host: str, port: int, slack_port: int, faults: list[str]) -> None:
    import uvicorn

    from bot.server import open_server
    from bot.settings import Settings
    from localslack.server import SlackState, create_app

    token, secret = f"xoxb-local-{secrets.token_hex(8)}", secrets.token_hex(16)
    state = SlackState(token=token, signing_secret=secret)
    state.bot_events_url = f"http://{host}:{port}/slack/events"
    slack = uvicorn.Server(
        uvicorn.Config(create_app(state), host=host, port=slack_port, log_level="warning")
    )
    slack_task = asyncio.create_task(slack.serve())
    await _started(slack)
    settings = Settings(
        platform="sandbox",
        slack_bot_token=token,
        slack_signing_secret=secret,
        slack_app_token="",
        slack_api_url=f"http://{host}:{slack_port}/api/",
    )
    try:
        async with open_server(settings, faults=faults) as server:
            bot = uvicorn.Server(
                uvicorn.Config(server.http, host=host, port=port, log_level="warning")
            )
            bot_task = asyncio.create_task(bot.serve())
            await _started(bot)
            typer.echo(f"Local Slack: http://{host}:{slack_port}/  (the bot on port {port})")
            await bot_task
    finally:
        slack.should_exit = True
        await slack_task


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8080, min=1, max=65535, help="port to listen on"),
    local_slack: bool = typer.Option(
        False, "--local-slack", help="also run a local Slack with its web page, and the sandbox"
    ),
    slack_port: int = typer.Option(8090, min=1, max=65535, help="the local Slack's port"),
    fault: list[str] = typer.Option(
        [], "--fault", help="with --local-slack: inject a sandbox fault ID[:TARGET] first"
    ),
) -> None:
    """Serve POST /slack/events, GET /healthz, /readyz and /metrics (needs SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET; SLACK_API_URL points at Slack or a local stand-in). With
    --local-slack, everything runs locally and the page's URL is printed."""
    if local_slack:
        asyncio.run(_serve_local(host, port, slack_port, list(fault)))
    else:
        asyncio.run(_serve(host, port))

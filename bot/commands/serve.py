"""``model-incident serve``: the bot's HTTP process (Slack events, health, readiness, metrics)."""

from __future__ import annotations

import asyncio

import typer


async def _serve(host: str, port: int) -> None:
    import uvicorn

    from bot.server import open_server
    from bot.settings import Settings

    async with open_server(Settings()) as server:
        config = uvicorn.Config(server.http, host=host, port=port, log_level="info")
        await uvicorn.Server(config).serve()


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8080, min=1, max=65535, help="port to listen on"),
) -> None:
    """Serve POST /slack/events, GET /healthz, /readyz and /metrics (needs SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET; SLACK_API_URL points at Slack or a local stand-in)."""
    asyncio.run(_serve(host, port))

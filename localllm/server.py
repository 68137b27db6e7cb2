"""Run the local chat server on a free port (tests, evals) or from the command line:
``python -m localllm.server --script FILE [--port P]``."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from localllm.app import create_app
from localllm.script import Script, load_script


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """``app`` on a local port for as long as the block runs; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def serve_script(script: Script) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """The server for ``script``: its base URL and the list of requests it received."""
    app = create_app(script)
    async with serve(app) as url:
        yield url, app.state.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--script", type=Path, help="the YAML script (default: plain answers)")
    parser.add_argument("--port", type=int, default=8720)
    args = parser.parse_args()
    script = load_script(args.script) if args.script else Script()
    uvicorn.run(create_app(script), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()

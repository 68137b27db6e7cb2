"""``model-incident serve --local-slack`` as a person runs it: one process with the bot, the
sandbox and the local Slack page, whose URL it prints."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx

from tests.slack.helpers import free_port


async def test_serve_local_slack_prints_the_page_and_answers_from_it(tmp_path: Path) -> None:
    port, slack_port = free_port(), free_port()
    cli = Path(sys.executable).with_name("model-incident")
    env = {**os.environ, "STATE_DIR": str(tmp_path / "state")}
    pipe = asyncio.subprocess
    process = await asyncio.create_subprocess_exec(
        str(cli), "serve", "--local-slack", "--port", str(port), "--slack-port", str(slack_port),
        stdout=pipe.PIPE, stderr=pipe.DEVNULL, stdin=pipe.DEVNULL, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=180)
        assert line.decode().startswith(f"Local Slack: http://127.0.0.1:{slack_port}/")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{slack_port}") as http:
            assert "/model-incident" in (await http.get("/")).text
            answer = await http.post("/_local/slash", json={"text": "help", "user": "U0ME"})
            assert answer.json()["status"] == 200 and "/model-incident status" in answer.text
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 200, ready.text
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=60)

"""The Slack surface's latency, as a person in a channel feels it: ``python -m bench.bench_slack``.

Everything runs for real over local HTTP: the local Slack (``localslack/``) on a port, the bot
(``bot.server.open_server``: FastAPI, Bolt, the incident service) on another, over an embedded
sandbox with ``performance.new_version_regression`` injected into ``sentiment-endpoint``.
Requests are signed exactly as Slack signs them.

- ``ack``: 50 concurrent signed ``/model-incident sentiment-endpoint`` commands, from sending to
  the HTTP answer (Slack needs it within 3 s), per round; against the bot, and in the same run
  against a bare Bolt app (a listener that only acknowledges, behind the same FastAPI adapter).
  Target: p99 ≤ 50 ms and ≤ 1.5 × the bare app's p99. The commands are sent by a child
  process (Slack is another machine); the incidents they open run to their proposals before
  the next round starts.
- ``first step`` and ``proposal``: one command at a time, each in a channel of its own (as the
  first incident of a channel): from sending the command to the local Slack receiving the first
  runbook step in the thread (the stream's start, or the walk message) and the proposal with its
  buttons. The times are the local Slack's own receive times of those Web API calls.
  Targets: first step p95 ≤ 1 s, proposal p95 ≤ 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.rawhttp import Connection
from bench.stats import percentile
from localslack.page import SlashTyped, signed_headers, slash_form
from localslack.server import SlackState, create_app

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
FAULT, TARGET = "performance.new_version_regression", "sentiment-endpoint"
ACK_P99_MS, ACK_RATIO, FIRST_STEP_P95_S, PROPOSAL_P95_S = 50.0, 1.5, 1.0, 3.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    port = _free_port()
    # Keep-alive longer than a loaded round: a connection closed while a command is on its
    # way would fail that command.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", timeout_keep_alive=120
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def bare_bolt(api_url: str) -> FastAPI:
    """The floor: Bolt with one listener that acknowledges, behind the same adapter."""
    bolt = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=TOKEN, base_url=api_url),
        process_before_response=True,  # as the bot's
    )

    @bolt.command("/model-incident")
    async def command(ack: AsyncAck) -> None:
        await ack(text="ok")

    handler = AsyncSlackRequestHandler(bolt)
    http = FastAPI()

    @http.post("/slack/events")
    async def events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    return http


async def command(http: httpx.AsyncClient, url: str, channel: str) -> float:
    """Send one signed slash command; seconds until its HTTP answer."""
    body = slash_form(SlashTyped(text=TARGET, user="U0BENCH", channel=channel))
    started = time.perf_counter()
    answer = await http.post(
        f"{url}/slack/events", content=body, headers=signed_headers(SECRET, body)
    )
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"command answered {answer.status_code}: {answer.text[:200]}")
    return elapsed


async def ack_round(_http: httpx.AsyncClient, url: str, n: int, tag: str) -> list[float]:
    """``n`` concurrent commands sent by another process (as Slack is another machine), so
    that the sender's own work does not count against the server it measures."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_slack",
        "--load",
        url,
        str(n),
        tag,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"load generator exited {child.returncode}")
    return [float(x) for x in json.loads(out.decode().strip().splitlines()[-1])]


async def load(url: str, n: int, tag: str) -> list[float]:
    """The load generator's side: ``n`` connections opened and ``n`` requests signed first, then
    every request written at once; each one timed from its write to the end of its answer."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    connections = [await Connection.open(parts.hostname, parts.port) for _ in range(n)]
    bodies = [
        slash_form(SlashTyped(text=TARGET, user="U0BENCH", channel=f"C{tag}{i}")).encode()
        for i in range(n)
    ]
    headers = [signed_headers(SECRET, body.decode()) for body in bodies]

    async def one(i: int) -> float:
        started = time.perf_counter()
        status, _ = await connections[i].post("/slack/events", bodies[i], headers[i])
        elapsed = time.perf_counter() - started
        if status != 200:
            raise SystemExit(f"command answered {status}")
        return elapsed

    try:
        return list(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        for connection in connections:
            connection.close()


def _received(state: SlackState, channel: str) -> tuple[float | None, float | None]:
    """When the local Slack got the channel's first thread write and its proposal."""
    first = proposal = None
    for call in state.calls:
        args = call["args"]
        if args.get("channel") != channel or not args.get("thread_ts"):
            continue
        if first is None and call["method"] in ("chat.startStream", "chat.postMessage"):
            first = float(call["at"])
        blocks = args.get("blocks") or []
        if proposal is None and any(b.get("type") == "actions" for b in blocks):
            proposal = float(call["at"])
    return first, proposal


async def thread_latency(
    http: httpx.AsyncClient, url: str, state: SlackState, server: Any, runs: int
) -> tuple[list[float], list[float]]:
    firsts, proposals = [], []
    for i in range(runs):
        channel = f"CTHREAD{i}"
        sent = time.time()
        await command(http, url, channel)
        await server.surface.idle()
        first, proposal = _received(state, channel)
        if first is None or proposal is None:
            raise SystemExit(f"run {i}: no first step or no proposal in the thread")
        firsts.append(first - sent)
        proposals.append(proposal - sent)
    return firsts, proposals


async def measure(rounds: int, concurrency: int, runs: int) -> dict[str, Any]:
    from bot.server import open_server
    from bot.settings import Settings
    from sandbox.runtime import Sandbox

    root = Path(tempfile.mkdtemp(prefix="bench-slack-"))
    state = SlackState(token=TOKEN)
    sandbox = await Sandbox.start(workdir=root / "sandbox")
    await sandbox.inject(FAULT, TARGET)
    try:
        async with served(create_app(state)) as slack_url:
            api = f"{slack_url}/api/"
            settings = Settings(
                _env_file=None,
                state_dir=root / "state",
                approvers=["U0APPROVER"],
                slack_bot_token=TOKEN,
                slack_signing_secret=SECRET,
                slack_api_url=api,
                max_verify_wait_s=0.0,
            )
            async with (
                open_server(settings, sandbox=sandbox) as server,
                served(server.http) as bot_url,
                served(bare_bolt(api)) as bare_url,
                httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_connections=200)) as http,
            ):
                await ack_round(http, bare_url, 2, "WARMB")  # Bolt's first auth.test
                await ack_round(http, bot_url, 2, "WARM")
                await server.surface.idle()
                bot_acks: list[float] = []
                bare_acks: list[float] = []
                for r in range(rounds):
                    bare_acks += await ack_round(http, bare_url, concurrency, f"B{r}x")
                    bot_acks += await ack_round(http, bot_url, concurrency, f"A{r}x")
                    await server.surface.idle()  # the incidents run to their proposals
                firsts, proposals = await thread_latency(http, bot_url, state, server, runs)
    finally:
        await sandbox.close()
    return figures(bot_acks, bare_acks, firsts, proposals, concurrency)


def figures(
    bot: list[float], bare: list[float], firsts: list[float], proposals: list[float], n: int
) -> dict[str, Any]:
    def ms(values: list[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 1)

    result = {
        "concurrency": n,
        "ack_samples": len(bot),
        "ack_p50_ms": ms(bot, 50),
        "ack_p99_ms": ms(bot, 99),
        "bare_ack_p50_ms": ms(bare, 50),
        "bare_ack_p99_ms": ms(bare, 99),
        "thread_runs": len(firsts),
        "first_step_p50_ms": ms(firsts, 50),
        "first_step_p95_ms": ms(firsts, 95),
        "proposal_p50_ms": ms(proposals, 50),
        "proposal_p95_ms": ms(proposals, 95),
        "load_average": round(os.getloadavg()[0], 2),
    }
    result["ack_ratio_p99"] = round(result["ack_p99_ms"] / max(result["bare_ack_p99_ms"], 0.1), 2)
    result["met"] = {
        "ack_p99": result["ack_p99_ms"] <= ACK_P99_MS,
        "ack_ratio": result["ack_ratio_p99"] <= ACK_RATIO,
        "first_step_p95": result["first_step_p95_ms"] <= FIRST_STEP_P95_S * 1000,
        "proposal_p95": result["proposal_p95_ms"] <= PROPOSAL_P95_S * 1000,
    }
    return result


def print_table(r: dict[str, Any]) -> None:
    met = {k: "met" if v else "MISSED" for k, v in r["met"].items()}
    print(f"load average {r['load_average']}")
    print("| measure | p50 | p99 / p95 | target |")
    print("|---|---:|---:|---|")
    print(
        f"| ack, {r['concurrency']} concurrent commands, bot ({r['ack_samples']} samples) | "
        f"{r['ack_p50_ms']} ms | {r['ack_p99_ms']} ms (p99) | ≤ {ACK_P99_MS:.0f} ms: "
        f"{met['ack_p99']}; {r['ack_ratio_p99']}× bare: {met['ack_ratio']} |"
    )
    print(f"| ack, bare Bolt app | {r['bare_ack_p50_ms']} ms | {r['bare_ack_p99_ms']} ms (p99) | |")
    print(
        f"| command → first step in the thread ({r['thread_runs']} runs) | "
        f"{r['first_step_p50_ms']} ms | {r['first_step_p95_ms']} ms (p95) | "
        f"≤ {FIRST_STEP_P95_S * 1000:.0f} ms: {met['first_step_p95']} |"
    )
    print(
        f"| command → proposal with buttons | {r['proposal_p50_ms']} ms | "
        f"{r['proposal_p95_ms']} ms (p95) | ≤ {PROPOSAL_P95_S * 1000:.0f} ms: "
        f"{met['proposal_p95']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of concurrent commands")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("-n", "--runs", type=int, default=10, help="incidents timed one by one")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    parser.add_argument("--load", nargs=3, metavar=("URL", "N", "TAG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        url, n, tag = args.load
        print(json.dumps(asyncio.run(load(url, int(n), tag))))
        return
    result = asyncio.run(measure(args.rounds, args.concurrency, args.runs))
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)


if __name__ == "__main__":
    main()

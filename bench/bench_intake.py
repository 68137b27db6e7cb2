"""Alert intake: ``python -m bench.bench_intake`` (``--seconds 5`` for a short run).

Part 1, throughput. A server process serves two routes on one uvicorn: the bot's real
``POST /alerts/alertmanager`` (bearer check, parse, classify, one SQLite transaction per delivery
before the 2xx; no worker, so only the intake is measured) and a bare FastAPI handler that reads
the body and answers ``{}``. This process offers deliveries open-loop at a fixed rate (each request
is sent at its scheduled time whether or not earlier ones have answered, so a slow server shows as
latency, not as a lower offered rate) for ``--seconds`` against each route in turn, and records
every response time. Afterwards every accepted alert must be in the store: ``lost`` counts the
accepted alert events missing from ``alert_events``.

Part 2, from a delivery's 2xx to the diagnosis in its thread. In-process: the bot's app on the
sandbox (one fault injected, so each alert's incident ends in a proposal), a local Slack over HTTP
and the worker running; one alert group at a time, timed from the webhook's 2xx to the moment the
local Slack holds the thread's proposal or outcome message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request

from bench.rawhttp import Connection
from bench.stats import percentile

TOKEN = "bench-token"
HOST = "127.0.0.1"
TARGET_RATE = 1000.0  # alerts per second
TARGET_P99_MS = 100.0
TARGET_DIAGNOSIS_P95_S = 3.0
ENDPOINT = "sentiment-endpoint"
GAP_S = 3.0
CONNECTIONS = 32  # Alertmanager keeps a few; a storm across many groups opens more
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- server process


def serve(port: int, database_url: str, sync: str) -> None:
    """The server of part 1 (run as ``--serve PORT URL`` in its own process)."""
    import uvicorn

    from bot.alerts.classify import TargetMapping
    from bot.alerts.intake import AlertIntake, alert_router
    from bot.alerts.runtime import intake_engine
    from bot.store.db import open_store
    from bot.store.deliveries import AlertDeliveries
    from bot.triggers.alertmanager import TARGET_LABELS

    async def main() -> None:
        store = await open_store(database_url)
        intake = AlertIntake(
            AlertDeliveries(intake_engine(store.engine, sync)),
            TargetMapping(labels=TARGET_LABELS, runbook_alerts={"ModelErrorRateHigh": "endpoint"}),
            TOKEN,
        )
        app = FastAPI()
        app.include_router(alert_router(intake))

        @app.post("/bare")
        async def bare(request: Request) -> dict[str, Any]:
            await request.body()
            return {}

        config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", access_log=False)
        await uvicorn.Server(config).serve()

    asyncio.run(main())


# --------------------------------------------------------------------------- load


def delivery(n: int, per: int) -> bytes:
    """Delivery ``n`` carrying ``per`` distinct alerts (one group per delivery, ten targets)."""
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "ModelErrorRateHigh",
                "endpoint": f"ep-{n % 10}",
                "severity": "page",
                "replica": str(i),
            },
            "annotations": {"summary": "errors above 5 %"},
            "startsAt": "2026-12-02T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
            "fingerprint": f"{n:010x}{i:06x}",
        }
        for i in range(per)
    ]
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="ModelErrorRateHigh", endpoint="ep-{n % 10}"}}',
        "status": "firing",
        "receiver": "model-incident-bot",
        "truncatedAlerts": 0,
        "alerts": alerts,
    }
    return json.dumps(body).encode()


async def offer(
    port: int, path: str, rate: float, seconds: float, per: int, first: int = 0
) -> dict[str, Any]:
    """Open-loop load: ``rate`` alerts/s in deliveries of ``per`` for ``seconds``, over a pool of
    keep-alive connections. A delivery's time runs from when it was due, so waiting for a free
    connection counts against the server (no coordinated omission)."""
    interval = per / rate
    count = int(seconds / interval)
    bodies = [delivery(first + n, per) for n in range(count)]
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(await Connection.open(HOST, port))
    latencies: list[float] = []
    codes: dict[int, int] = {}
    accepted = 0

    async def one(body: bytes, due: float) -> None:
        nonlocal accepted
        connection = await pool.get()
        try:
            status, answer = await connection.post(path, body, HEADERS)
        finally:
            pool.put_nowait(connection)
        latencies.append(time.perf_counter() - due)
        codes[status] = codes.get(status, 0) + 1
        if status == 200 and b"accepted" in answer:
            accepted += int(json.loads(answer)["accepted"])

    tasks = []
    start = time.perf_counter()
    for n, body in enumerate(bodies):
        due = start + n * interval
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        tasks.append(asyncio.create_task(one(body, due)))
    offered_s = time.perf_counter() - start
    await asyncio.gather(*tasks)
    total_s = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return {
        "deliveries": count,
        "alerts_offered": count * per,
        "alerts_per_s_offered": round(count * per / offered_s, 1),
        "alerts_per_s_done": round(count * per / total_s, 1),
        "codes": codes,
        "accepted_alerts": accepted,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
    }


def stored_events(database: Path) -> int:
    import sqlite3

    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM alert_events").fetchone()[0])


async def throughput(seconds: float, rate: float, per: int, sync: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    database = workdir / "bot.db"
    port = free_port()
    command = [sys.executable, "-m", "bench.bench_intake", "--serve", str(port)]
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any timing
        [*command, f"sqlite:///{database}", "--sync", sync]
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(1200):  # a loaded machine takes a while to import the bot
                if server.poll() is not None:
                    raise RuntimeError(f"the intake server exited with {server.returncode}")
                try:
                    await http.post(f"http://{HOST}:{port}/bare", content=b"{}")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        await offer(port, "/bare", rate, 1.0, per, first=10**6)  # warm-up, untimed
        warm = await offer(port, "/alerts/alertmanager", rate, 1.0, per, first=10**6)
        bare = await offer(port, "/bare", rate, seconds, per)
        intake = await offer(port, "/alerts/alertmanager", rate, seconds, per)
    finally:
        server.terminate()
        server.wait(timeout=10)
    intake["stored_alerts"] = stored_events(database) - warm["accepted_alerts"]
    intake["lost"] = intake["accepted_alerts"] - intake["stored_alerts"]
    return {
        "seconds": seconds,
        "alerts_per_delivery": per,
        "intake_sync": sync,
        "bare": bare,
        "intake": intake,
    }


# --------------------------------------------------------------------------- part 2


@asynccontextmanager
async def _platform(workdir: Path, real_prometheus: bool) -> AsyncIterator[dict[str, Any]]:
    """The sandbox (one fault injected) and how the bot reaches it: in process, or over HTTP
    with a real Prometheus (31 minutes of backfilled history) as the metrics source."""
    from sandbox.faults import inject
    from sandbox.runtime import Sandbox

    world = None
    if real_prometheus:
        from sandbox.default_world import default_world

        world = inject(default_world(), ("performance.new_version_regression", ENDPOINT))
    sandbox = await Sandbox.start(world, workdir=workdir / "sandbox")
    if not real_prometheus:
        await sandbox.inject("performance.new_version_regression", ENDPOINT)
        try:
            yield {"sandbox": sandbox}
        finally:
            await sandbox.close()
        return
    from tests.integration import servers

    server = servers.SandboxServer(sandbox)
    server.start()
    prometheus = None
    try:
        tsdb = workdir / "tsdb"
        servers.backfill(server, tsdb, workdir, minutes=31)
        prometheus = servers.prometheus(workdir, scrape=server.address, tsdb=tsdb)
        prometheus.start()
        await asyncio.sleep(5)  # its first live scrapes: rates need a fresh sample
        async with httpx.AsyncClient(timeout=5) as http:
            root = (await http.get(server.url + "/")).json()
        yield {
            "platform": "remote",
            "databricks_host": server.url,
            "gateway_url": f"{server.url}/gateway",
            "mistral_server_url": f"{server.url}/mistral",
            "mistral_api_key": "sandbox",
            "mlflow_tracking_uri": root["mlflow_tracking_uri"],
            "prometheus_url": prometheus.url,
        }
    finally:
        if prometheus is not None:
            prometheus.stop()
        server.stop()
        await sandbox.close()


async def to_diagnosis(runs: int, real_prometheus: bool = False) -> dict[str, Any]:
    """Seconds from a delivery's 2xx to its thread's proposal or outcome, one group at a time."""
    import uvicorn
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.alerts.runtime import open_alerts
    from bot.compose import open_app
    from bot.settings import Settings
    from bot.slack.surface import SlackSurface
    from localslack.server import SlackState, create_app
    from sandbox.registry import template_db

    template_db()
    workdir = Path(tempfile.mkdtemp(prefix="bench-intake-diag-"))
    state = SlackState(token="xoxb-bench")
    port = free_port()
    slack = uvicorn.Server(
        uvicorn.Config(create_app(state), host=HOST, port=port, log_level="error")
    )
    slack_task = asyncio.create_task(slack.serve())
    while not slack.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.05)
    url = f"http://{HOST}:{port}/api/"
    spans: list[float] = []
    try:
        async with _platform(workdir, real_prometheus) as where:
            sandbox = where.pop("sandbox", None)
            settings = Settings(
                _env_file=None,
                state_dir=workdir / "state",
                slack_bot_token="xoxb-bench",
                slack_api_url=url,
                max_verify_wait_s=0.0,
                alertmanager_token=TOKEN,
                alert_channel="C0BENCH",
                **where,
            )
            async with open_app(settings, sandbox=sandbox) as app:
                client = AsyncWebClient(token="xoxb-bench", base_url=url)
                surface = SlackSurface(app.service, client, team_id="T0LOCAL", streaming=True)
                web = FastAPI()
                async with open_alerts(app, surface, web) as runtime:
                    transport = httpx.ASGITransport(app=web)
                    async with httpx.AsyncClient(
                        transport=transport, base_url="http://bot"
                    ) as http:
                        for n in range(runs + 1):  # the first is an untimed warm-up
                            span = await _one_diagnosis(http, state, n)
                            if n:
                                spans.append(span)
                            await runtime.idle()
                            await surface.idle()
                            # Independent groups, not a storm: the channel's write budget
                            # (one a second, bursts of a few) is back before the next.
                            await asyncio.sleep(GAP_S)
    finally:
        slack.should_exit = True
        await slack_task
    return {
        "runs": len(spans),
        "metrics_source": "real Prometheus" if real_prometheus else "sandbox",
        "p50_s": round(percentile(spans, 50), 3),
        "p95_s": round(percentile(spans, 95), 3),
        "max_s": round(max(spans), 3),
    }


async def _one_diagnosis(http: httpx.AsyncClient, state: Any, n: int) -> float:
    body = json.loads(delivery(10_000 + n, 1))
    body["groupKey"] = f'{{}}:{{alertname="ModelErrorRateHigh", run="{n}"}}'
    body["alerts"][0]["labels"]["endpoint"] = ENDPOINT
    before = len(state.messages)
    answer = await http.post(
        "/alerts/alertmanager", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    answered = time.perf_counter()
    assert answer.status_code == 200, answer.text
    while True:
        for message in state.messages[before:]:
            diagnosis = message.text.startswith("Incident ") or any(
                b.get("type") == "actions" for b in message.blocks
            )
            if message.thread_ts and diagnosis:
                return time.perf_counter() - answered
        if time.perf_counter() - answered > 60:
            raise TimeoutError("no diagnosis in the thread after 60 s")
        await asyncio.sleep(0.005)


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each load run")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="alerts per second")
    parser.add_argument("--per", type=int, default=10, help="alerts per delivery")
    parser.add_argument("--runs", type=int, default=20, help="alert groups timed in part 2")
    parser.add_argument(
        "--no-prometheus", action="store_true", help="skip part 2 with the real Prometheus"
    )
    parser.add_argument(
        "--sync", choices=("normal", "full"), default="normal", help="ALERT_INTAKE_SYNC"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    parser.add_argument(
        "--serve", nargs=2, metavar=("PORT", "DATABASE_URL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.sync)
        return
    figures = asyncio.run(throughput(args.seconds, args.rate, args.per, args.sync))
    figures["diagnosis"] = asyncio.run(to_diagnosis(args.runs))
    if not args.no_prometheus:
        figures["diagnosis_prometheus"] = asyncio.run(to_diagnosis(args.runs, True))
    intake, diagnosis = figures["intake"], figures["diagnosis"]
    worst = max(diagnosis["p95_s"], figures.get("diagnosis_prometheus", diagnosis)["p95_s"])
    figures["within_target"] = (
        intake["alerts_per_s_done"] >= TARGET_RATE * 0.99
        and intake["p99_ms"] <= TARGET_P99_MS
        and intake["lost"] == 0
        and worst <= TARGET_DIAGNOSIS_P95_S
    )
    figures["load_average"] = os.getloadavg()
    if args.json:
        print(json.dumps(figures))
        return
    for name in ("bare", "intake"):
        row = figures[name]
        print(
            f"{name:7} {row['alerts_per_s_done']:8.1f} alerts/s  p50 {row['p50_ms']:7.2f} ms  "
            f"p99 {row['p99_ms']:7.2f} ms  max {row['max_ms']:8.2f} ms  codes {row['codes']}"
        )
    stored, accepted = intake["stored_alerts"], intake["accepted_alerts"]
    print(f"stored {stored} of {accepted} accepted; lost {intake['lost']}")
    for key in ("diagnosis", "diagnosis_prometheus"):
        if key in figures:
            d = figures[key]
            print(
                f"2xx → diagnosis in thread ({d['metrics_source']}): p50 {d['p50_s']} s  "
                f"p95 {d['p95_s']} s  max {d['max_s']} s over {d['runs']} groups"
            )
    print(f"within target: {figures['within_target']}")


if __name__ == "__main__":
    main()

"""Alerts end to end with the real binaries: a fault in the sandbox makes a shipped rule fire in a
real Prometheus, a real Alertmanager (configured from ``deploy/prometheus/alertmanager.yml``, bearer
token and all) delivers it to the bot's ``serve`` app, and the bot opens a thread in the local Slack
and diagnoses the cause, reading SLIs from that Prometheus. Resolving the fault resolves the
thread. A Prometheus outage during a diagnosis is a no-data step and an escalation.

The rules are the shipped ones with every ``for:`` cut to 1 s, Alertmanager's timers to 1 s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from bot.server import Server, open_server
from bot.settings import Settings
from localslack.server import SlackState, create_app
from sandbox.runtime import Sandbox
from tests.integration import servers

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
TOKEN = "xoxb-local-token"
ALERT_TOKEN = "e2e-alertmanager-token"
CHANNEL = "C0ALERTS"
DELETED = "sentiment-endpoint"
HEALTHY = "churn-scorer"
TIMEOUT_S = 90.0


@dataclass
class Stack:
    sandbox: servers.SandboxServer
    prometheus: servers.Binary
    alertmanager: servers.Binary
    bot_port: int
    workdir: Path
    mlflow_uri: str


def _fast_rules(workdir: Path) -> list[Path]:
    copies = []
    for source in sorted((DEPLOY / "rules").glob("*.yml")):
        rules = yaml.safe_load(source.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = "1s"
        copy = workdir / source.name
        copy.write_text(yaml.safe_dump(rules, sort_keys=False))
        copies.append(copy)
    return copies


def _alertmanager_config(bot_url: str, token_file: Path) -> dict[str, Any]:
    """The shipped config: its receiver pointed at the bot, the token read from a file."""
    config = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    (webhook,) = config["receivers"][0]["webhook_configs"]
    webhook["url"] = bot_url
    webhook["http_config"]["authorization"] = {
        "type": "Bearer",
        "credentials_file": str(token_file),
    }
    return dict(config)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("alerts-e2e")
    sandbox = asyncio.run(Sandbox.start(workdir=workdir / "sandbox"))
    started: list[Any] = []
    try:
        server = servers.SandboxServer(sandbox)
        server.start()
        started.append(server)
        token_file = workdir / "alertmanager.token"
        token_file.write_text(ALERT_TOKEN)
        bot_port = servers.free_port()
        bot_url = f"http://{servers.HOST}:{bot_port}/alerts/alertmanager"
        alertmanager = servers.alertmanager(workdir, _alertmanager_config(bot_url, token_file))
        alertmanager.start()
        started.append(alertmanager)
        prometheus = servers.prometheus(
            workdir,
            scrape=server.address,
            rule_files=_fast_rules(workdir),
            alertmanager=alertmanager.url.removeprefix("http://"),
        )
        prometheus.start()
        started.append(prometheus)
        root = httpx.get(server.url + "/", timeout=5).json()
        yield Stack(
            server, prometheus, alertmanager, bot_port, workdir, root["mlflow_tracking_uri"]
        )
    finally:
        for running in reversed(started):
            running.stop()
        asyncio.run(sandbox.close())


@dataclass
class Bot:
    server: Server
    slack: SlackState
    http: httpx.AsyncClient  # to the sandbox

    def roots(self, alertname: str) -> list[Any]:
        return [
            m
            for m in self.slack.messages
            if m.channel == CHANNEL and m.thread_ts is None and alertname in m.text
        ]

    def thread_text(self, ts: str) -> str:
        parts = []
        for m in self.slack.messages:
            if m.thread_ts == ts:
                parts += [m.text, str(m.blocks), str(m.chunks)]
        return "\n".join(parts)


async def _serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(app, host=servers.HOST, port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.05)
    return server, task


@pytest.fixture
async def bot(stack: Stack, tmp_path: Path) -> AsyncIterator[Bot]:
    slack = SlackState(token=TOKEN)
    slack_port = servers.free_port()
    slack_server, slack_task = await _serve(create_app(slack), slack_port)
    base = stack.sandbox.url
    settings = Settings(
        _env_file=None,
        platform="remote",
        databricks_host=base,
        gateway_url=f"{base}/gateway",
        prometheus_url=stack.prometheus.url,
        mistral_server_url=f"{base}/mistral",
        mistral_api_key="sandbox",
        mlflow_tracking_uri=stack.mlflow_uri,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        state_dir=tmp_path / "state",
        approvers=["U0ALICE"],
        slack_bot_token=TOKEN,
        slack_signing_secret="local-signing-secret",
        slack_api_url=f"http://{servers.HOST}:{slack_port}/api/",
        alertmanager_token=ALERT_TOKEN,
        alert_channel=CHANNEL,
        tool_timeout_s=3.0,
        tool_retries=0,
        max_verify_wait_s=0.0,
    )
    try:
        async with (
            open_server(settings) as server,
            httpx.AsyncClient(base_url=base, timeout=10) as http,
        ):
            bot_server, bot_task = await _serve(server.http, stack.bot_port)
            try:
                yield Bot(server, slack, http)
            finally:
                bot_server.should_exit = True
                await bot_task
    finally:
        slack_server.should_exit = True
        await slack_task


async def _until(probe: Any, what: str, timeout_s: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


async def test_a_deleted_endpoint_alerts_diagnoses_and_resolves_in_one_thread(
    stack: Stack, bot: Bot
) -> None:
    world = (await bot.http.get("/sandbox/world")).json()
    await asyncio.sleep(3)  # a few healthy scrapes first: its series exist before they vanish
    injected = await bot.http.post("/sandbox/faults/endpoint.deleted", json={"target": DELETED})
    assert injected.status_code == 200

    (root,) = await _until(lambda: bot.roots("ModelEndpointNotFound"), "the alert's thread")
    assert DELETED in root.text
    assert f"<{stack.prometheus.url}/graph?g0.expr=" in str(root.blocks), "generatorURL linked"
    runtime = bot.server.http.state.alerts
    stored = await runtime.deliveries.alerts()
    assert "ModelEndpointNotFound" in {e.alertname for e in stored}
    assert {e.target for e in stored if e.status == "firing"} == {DELETED}, "only it alerts"
    incident = None
    deadline = time.monotonic() + TIMEOUT_S
    while incident is None and time.monotonic() < deadline:  # opened by the diagnosis task
        incident = await bot.server.app.store.find_incident(
            thread_ref=f"{CHANNEL}:{root.ts}", active=False
        )
        await asyncio.sleep(0.1)
    assert incident is not None and incident.target == DELETED

    async def diagnosed() -> Any:
        view = await bot.server.app.service.status(incident.id)
        return view if view.phase in ("waiting", "finished") else None

    view = None
    deadline = time.monotonic() + TIMEOUT_S
    while view is None and time.monotonic() < deadline:
        view = await diagnosed()
        await asyncio.sleep(0.2)
    assert view is not None, "the diagnosis did not end"
    causes = (
        [d.id for d in view.outcome.diagnoses]
        if view.outcome is not None
        else [view.pending.diagnosis or ""]
    )
    assert any("endpoint.deleted" in c for c in causes), causes
    await _until(lambda: "endpoint.deleted" in bot.thread_text(root.ts), "the cause in Slack")

    restored = await bot.http.put("/sandbox/world", json=world)
    assert restored.status_code == 200

    def resolved() -> bool:
        head = bot.slack.message(CHANNEL, root.ts)
        return head is not None and head.text.startswith("✅ resolved")

    await _until(resolved, "the thread's head marked resolved")
    assert "Every alert of this group has resolved" in bot.thread_text(root.ts)
    assert len(bot.roots("ModelEndpointNotFound")) == 1


async def test_a_prometheus_outage_is_a_no_data_step_and_an_escalation(
    stack: Stack, bot: Bot
) -> None:
    stack.prometheus.stop()
    alert = {
        "status": "firing",
        "labels": {"alertname": "ModelHighLatency", "endpoint": HEALTHY, "severity": "page"},
        "annotations": {"summary": f"{HEALTHY}: p95 latency 2s"},
        "startsAt": "2026-12-02T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": f"{stack.prometheus.url}/graph?g0.expr=x",
        "fingerprint": "00000000000000aa",
    }
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="ModelHighLatency"}',
        "status": "firing",
        "receiver": "model-incident-bot",
        "alerts": [alert],
    }
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            f"http://{servers.HOST}:{stack.bot_port}/alerts/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {ALERT_TOKEN}"},
        )
    assert answer.status_code == 200
    (root,) = await _until(lambda: bot.roots("ModelHighLatency"), "the alert's thread")
    text = await _until(
        lambda: (t := bot.thread_text(root.ts)) and "Incident escalated" in t and t,
        "the escalation in the thread",
    )
    assert "no_data" in text

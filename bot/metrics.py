"""The bot's own metrics on ``/metrics`` (the default Prometheus registry, Prometheus naming:
``model_incident_`` prefix, counters end in ``_total``, durations in seconds).

Counters move where the thing happens (an alert received, a Slack call made). The numbers that
live in the database (incidents by state, proposals by outcome, actions executed and failed) are
gauges refreshed from the store by :func:`refresh_from_store`, so they are right across restarts
and replicas rather than counting only what this process saw. The assistant counts its LLM calls
and tokens itself (``bot/llm/metrics.py``, the same registry).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

ALERTS_RECEIVED = Counter(
    "model_incident_alerts_received",
    "Alerts received from Alertmanager, by status (firing, resolved, rejected) and kind",
    ["status", "kind"],
)
ALERTS_DEDUPLICATED = Counter(
    "model_incident_alerts_deduplicated",
    "Alert events received again (groupKey + fingerprint + status already stored)",
)
ALERTS_REJECTED = Counter(
    "model_incident_alerts_rejected", "Alerts of a delivery the parser refused (kept, with reason)"
)
ALERT_DELIVERIES = Counter(
    "model_incident_alert_deliveries",
    "Alertmanager deliveries by HTTP status code answered",
    ["code"],
)
ALERT_INTAKE_SECONDS = Histogram(
    "model_incident_alert_intake_duration_seconds",
    "Time from a delivery's arrival to its answer (persisted before 2xx)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
ALERT_QUEUE = Gauge(
    "model_incident_alert_queue_depth", "Stored alert events the worker has not processed yet"
)
ALERT_THREADS = Counter(
    "model_incident_alert_threads_opened", "Slack threads opened for alert groups"
)
ALERT_WORKER_FAILURES = Counter(
    "model_incident_alert_worker_failures", "Alert groups whose processing failed and is retried"
)
INCIDENTS = Gauge("model_incident_incidents", "Incidents in the store by state", ["state"])
DIAGNOSIS_SECONDS = Histogram(
    "model_incident_diagnosis_duration_seconds",
    "Time an incident's graph run took from open to a proposal or an outcome",
    ["source"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120),
)
PROPOSALS = Gauge("model_incident_proposals", "Proposals in the store by outcome", ["outcome"])
ACTIONS = Gauge(
    "model_incident_actions",
    "Approved changes by ledger state (succeeded = executed, failed, started = running)",
    ["state"],
)
SLACK_CALLS = Counter("model_incident_slack_api_calls", "Slack Web API calls", ["method"])
SLACK_ERRORS = Counter(
    "model_incident_slack_api_errors", "Slack Web API calls that failed", ["method", "error"]
)
SLACK_RETRIES = Counter(
    "model_incident_slack_api_retries", "Slack Web API calls retried (429, 5xx, network)"
)

_INCIDENT_STATES = (
    "open",
    "diagnosing",
    "awaiting_approval",
    "executing",
    "verifying",
    "resolved",
    "escalated",
    "closed",
)
_PROPOSAL_OUTCOMES = ("pending", "approved", "rejected", "expired", "executed", "failed")
_LEDGER_STATES = ("started", "succeeded", "failed")


async def refresh_from_store(engine: AsyncEngine) -> None:
    """Set the store-backed gauges (one grouped count per table)."""
    from bot.store import tables as t

    async with engine.connect() as conn:
        incidents = await _grouped(conn, t.incidents.c.status)
        proposals = await _grouped(conn, t.proposals.c.status)
        ledger = await _grouped(conn, t.ledger.c.state)
        pending = select(func.count()).where(t.alert_events.c.processed_at.is_(None))
        queue = int((await conn.execute(pending)).scalar_one())
    for state in _INCIDENT_STATES:
        INCIDENTS.labels(state).set(incidents.get(state, 0))
    for outcome in _PROPOSAL_OUTCOMES:
        PROPOSALS.labels(outcome).set(proposals.get(outcome, 0))
    for state in _LEDGER_STATES:
        ACTIONS.labels(state).set(ledger.get(state, 0))
    ALERT_QUEUE.set(queue)


async def _grouped(conn: Any, column: Any) -> dict[str, int]:
    rows = (await conn.execute(select(column, func.count()).group_by(column))).all()
    return {str(key): int(count) for key, count in rows}


# --------------------------------------------------------------------------- Slack


def instrument_slack(client: Any) -> None:
    """Count every Web API call of ``client`` (an ``AsyncWebClient``), its errors and retries.

    Every method of the client goes through its ``api_call``, so wrapping that one method on the
    instance counts them all; each retry handler is wrapped to count the retries it grants.
    Calling it twice on one client counts once.
    """
    if getattr(client, "_model_incident_metrics", False):
        return
    call: Callable[..., Awaitable[Any]] = client.api_call

    async def counted(api_method: str, *args: Any, **kwargs: Any) -> Any:
        SLACK_CALLS.labels(api_method).inc()
        try:
            return await call(api_method, *args, **kwargs)
        except Exception as exc:
            response = getattr(exc, "response", None)
            error = response.get("error") if response is not None else type(exc).__name__
            SLACK_ERRORS.labels(api_method, str(error or "unknown")[:40]).inc()
            raise

    client.api_call = counted
    client.retry_handlers = [_CountingRetry(h) for h in client.retry_handlers]
    client._model_incident_metrics = True


class _CountingRetry:
    """A retry handler that counts the retries of the handler it wraps."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def can_retry_async(self, **kwargs: Any) -> bool:
        allowed = bool(await self._inner.can_retry_async(**kwargs))
        if allowed:
            SLACK_RETRIES.inc()
        return allowed

    async def prepare_for_next_attempt_async(self, **kwargs: Any) -> None:
        await self._inner.prepare_for_next_attempt_async(**kwargs)


class Stopwatch:
    """``with Stopwatch() as watch: ...; watch.seconds``: a monotonic duration."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self._start

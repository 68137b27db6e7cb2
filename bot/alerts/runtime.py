"""The alert side of ``serve``: the intake's route on the HTTP app and its worker task.

``async with open_alerts(app, surface, http):`` adds ``POST /alerts/alertmanager`` to ``http``,
starts the worker (which first picks up events stored before a restart and not processed yet)
and stops it on exit. Without ``ALERT_CHANNEL`` deliveries are still accepted and stored, but no
thread is opened until a channel is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.alerts.classify import TargetMapping
from bot.alerts.intake import AlertIntake, alert_router
from bot.alerts.threads import AlertThreads
from bot.alerts.worker import AlertWorker
from bot.compose import App
from bot.metrics import instrument_slack, refresh_from_store
from bot.runbooks.loader import RunbookSet
from bot.slack.surface import SlackSurface
from bot.store.deliveries import AlertDeliveries

log = logging.getLogger(__name__)
GAUGE_REFRESH_S = 5.0


@dataclass
class AlertRuntime:
    """What ``open_alerts`` runs (tests and benchmarks read it)."""

    deliveries: AlertDeliveries
    intake: AlertIntake
    threads: AlertThreads
    worker: AlertWorker

    async def idle(self, timeout_s: float = 60.0) -> None:
        """Every stored event processed and every diagnosis it started finished."""
        await self.worker.idle(timeout_s)
        await self.threads.idle()


def intake_engine(engine: AsyncEngine, sync: str) -> AsyncEngine:
    """The engine the intake commits deliveries with. On SQLite with ``sync="normal"`` its own
    connections to the same file skip the fsync of each commit (WAL mode: a committed delivery
    survives a crash or kill of the bot, not a power loss), which the rest of the store keeps;
    otherwise the store's own engine."""
    if engine.dialect.name != "sqlite" or sync == "full":
        return engine
    from bot.store.engine import make_engine

    own = make_engine(engine.url.render_as_string(hide_password=False))

    @event.listens_for(own.sync_engine, "connect")
    def _normal(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return own


async def refresh_loop(app: App, every_s: float = GAUGE_REFRESH_S) -> None:
    """Keep the store-backed gauges of ``/metrics`` fresh (incidents, proposals, actions, the
    alert queue), whether or not alerts open threads."""
    while True:
        try:
            await refresh_from_store(app.store.engine)
        except Exception:  # a database hiccup leaves the gauges as they were
            log.warning("metrics refresh failed", exc_info=True)
        await asyncio.sleep(every_s)


def runbook_alerts(runbooks: RunbookSet) -> dict[str, str]:
    """Alert name → the kind of target its runbook is for (``endpoint``, ``agent``)."""
    return {name: str(rb.applies_to) for rb in runbooks for name in rb.alerts}


def target_mapping(app: App) -> TargetMapping:
    """The label mapping of the settings, with the alert names the runbooks know."""
    settings = app.settings
    return TargetMapping(
        labels=tuple(settings.alert_target_labels),
        fleet_services=frozenset(settings.alert_fleet_services),
        runbook_alerts=runbook_alerts(app.runbooks),
    )


@asynccontextmanager
async def open_alerts(
    app: App, surface: SlackSurface, http: FastAPI
) -> AsyncIterator[AlertRuntime]:
    """The intake on ``http`` and the worker, for the life of the ``serve`` process."""
    settings = app.settings
    deliveries = AlertDeliveries(app.store.engine)
    writes = intake_engine(app.store.engine, settings.alert_intake_sync)
    threads = AlertThreads(
        app.service,
        surface,
        deliveries,
        channel=settings.alert_channel,
        max_diagnoses=settings.alert_max_diagnoses,
    )
    worker = AlertWorker(deliveries, threads)
    intake = AlertIntake(
        AlertDeliveries(writes),
        target_mapping(app),
        settings.alertmanager_token.get_secret_value(),
        notify=worker.notify,
    )
    http.include_router(alert_router(intake))
    instrument_slack(surface.client)
    gauges = asyncio.create_task(refresh_loop(app), name="store-gauges")
    task: asyncio.Task[None] | None = None
    if settings.alert_channel:
        task = asyncio.create_task(worker.run(), name="alert-worker")
    else:
        log.warning("ALERT_CHANNEL is empty: alerts are stored but open no thread")
    runtime = AlertRuntime(deliveries, intake, threads, worker)
    http.state.alerts = runtime
    try:
        yield runtime
    finally:
        gauges.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gauges
        await intake.writer.close()
        if writes is not app.store.engine:
            await writes.dispose()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

"""Alertmanager deliveries, their alert events and the alert groups' threads.

A delivery is written in one transaction before the webhook answers 2xx: its row, and one
``alert_events`` row per alert event it carries that the store has not seen (groupKey +
fingerprint + status, the parser's dedupe key). A redelivery finds its keys taken and adds only
its delivery row, so nothing is processed twice; an alert refused by the parser is kept with its
reason. The worker reads the events not yet processed in arrival order and marks them when done,
so a restart picks up exactly what was accepted and not yet acted on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import tables as t
from bot.store.engine import StoreBase, new_id
from bot.store.rows import fetch_all, fetch_one

AlertStatus = Literal["firing", "resolved", "rejected"]
# model: names a model target; fleet: the whole agent fleet; infrastructure: not a model target
# (recorded, left alone); rejected: the parser refused it.
AlertKind = Literal["model", "fleet", "infrastructure", "rejected"]
ThreadState = Literal["firing", "resolved"]


def thread_key(group_key: str) -> str:
    """An alert group's key as the threads table keeps it: itself, or a digest when the group
    labels make it longer than the column (the same key always gives the same digest)."""
    if len(group_key) <= 1024:
        return group_key
    return "sha256:" + hashlib.sha256(group_key.encode("utf-8", "replace")).hexdigest()


class NewAlert(BaseModel):
    """One alert event of a delivery, as the intake classified it."""

    dedupe_key: str = Field(max_length=512)
    group_key: str
    status: AlertStatus
    kind: AlertKind
    alertname: str | None = None
    target: str | None = None
    fingerprint: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generator_url: str = ""
    starts_at: str = ""
    reason: str | None = None


class Delivery(BaseModel):
    """One delivery to store: its envelope and its classified alert events."""

    alerts: list[NewAlert]
    group_key: str
    status: str
    receiver: str = ""
    truncated_alerts: int = 0


class StoredAlert(NewAlert):
    """An alert event as the store keeps it."""

    id: int
    delivery_id: str
    received_at: datetime
    processed_at: datetime | None = None


class DeliveryReceipt(BaseModel):
    """What one delivery added: its id, new valid events, redelivered ones, refused ones (which
    are stored too, with their reasons)."""

    delivery_id: str
    new: int
    duplicate: int
    rejected: int


class AlertThread(BaseModel):
    """The incident and Slack thread of one alert group."""

    group_key: str
    incident_id: str
    channel: str
    thread_ts: str
    target: str
    state: ThreadState = "firing"
    created_at: datetime
    updated_at: datetime


class AlertDeliveries(StoreBase):
    """The intake's tables over the store's engine (``AlertDeliveries(store.engine)``)."""

    async def record_delivery(
        self,
        alerts: Sequence[NewAlert],
        *,
        group_key: str,
        status: str,
        receiver: str = "",
        truncated_alerts: int = 0,
    ) -> DeliveryReceipt:
        """Write the delivery and its unseen alert events in one transaction."""
        delivery = Delivery(
            alerts=list(alerts),
            group_key=group_key,
            status=status,
            receiver=receiver,
            truncated_alerts=truncated_alerts,
        )
        (receipt,) = await self.record_deliveries([delivery])
        return receipt

    async def record_deliveries(self, deliveries: Sequence[Delivery]) -> list[DeliveryReceipt]:
        """Write several deliveries in one transaction (the intake's group commit): one commit
        for every delivery that arrived while the previous one was being written. A key taken by
        an earlier delivery of the same batch counts as a duplicate, as across batches."""
        now = self._clock()
        receipts: list[DeliveryReceipt] = []
        async with self.engine.begin() as conn:
            keys = list({a.dedupe_key for d in deliveries for a in d.alerts})
            seen = await self._taken(conn, keys)
            delivery_rows: list[dict[str, Any]] = []
            event_rows: list[dict[str, Any]] = []
            for delivery in deliveries:
                delivery_id = new_id("dlv")
                fresh: list[NewAlert] = []
                for alert in delivery.alerts:
                    if alert.dedupe_key not in seen:
                        seen.add(alert.dedupe_key)
                        fresh.append(alert)
                rejected = sum(1 for a in delivery.alerts if a.kind == "rejected")
                duplicate = len(delivery.alerts) - len(fresh)
                delivery_rows.append(
                    {
                        "id": delivery_id,
                        "received_at": now,
                        "group_key": delivery.group_key,
                        "status": delivery.status[:16],
                        "receiver": delivery.receiver[:256],
                        "truncated_alerts": delivery.truncated_alerts,
                        "alerts_new": len(fresh),
                        "alerts_duplicate": duplicate,
                        "alerts_rejected": rejected,
                    }
                )
                event_rows += [
                    {**a.model_dump(), "delivery_id": delivery_id, "received_at": now}
                    for a in fresh
                ]
                receipts.append(
                    DeliveryReceipt(
                        delivery_id=delivery_id,
                        new=len(fresh) - rejected,
                        duplicate=duplicate,
                        rejected=rejected,
                    )
                )
            await conn.execute(t.alert_deliveries.insert(), delivery_rows)
            if event_rows:
                await conn.execute(self._insert_new(), event_rows)
        return receipts

    async def _taken(self, conn: AsyncConnection, keys: list[str]) -> set[str]:
        taken: set[str] = set()
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            query = select(t.alert_events.c.dedupe_key).where(
                t.alert_events.c.dedupe_key.in_(chunk)
            )
            taken.update(str(row[0]) for row in (await conn.execute(query)).all())
        return taken

    def _insert_new(self) -> Any:
        """INSERT that skips a key another replica took since we looked."""
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(t.alert_events).on_conflict_do_nothing(index_elements=["dedupe_key"])

    async def unprocessed(self, limit: int = 500) -> list[StoredAlert]:
        """Events not acted on yet, oldest first."""
        query = (
            select(t.alert_events)
            .where(t.alert_events.c.processed_at.is_(None))
            .order_by(t.alert_events.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return await fetch_all(conn, query, StoredAlert)

    async def mark_processed(self, ids: Sequence[int]) -> None:
        """Record that the worker acted on these events."""
        if not ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.alert_events)
                .where(t.alert_events.c.id.in_(list(ids)))
                .values(processed_at=self._clock())
            )

    async def alerts(self, *, group_key: str | None = None) -> list[StoredAlert]:
        """Every stored event (of one group), oldest first."""
        query = select(t.alert_events).order_by(t.alert_events.c.id)
        if group_key is not None:
            query = query.where(t.alert_events.c.group_key == group_key)
        async with self.engine.connect() as conn:
            return await fetch_all(conn, query, StoredAlert)

    async def counts(self) -> dict[str, int]:
        """Events by kind, plus ``pending`` (not processed yet) and ``deliveries``."""
        kinds = select(t.alert_events.c.kind, func.count()).group_by(t.alert_events.c.kind)
        pending = select(func.count()).where(t.alert_events.c.processed_at.is_(None))
        deliveries = select(func.count()).select_from(t.alert_deliveries)
        async with self.engine.connect() as conn:
            result = {str(k): int(n) for k, n in (await conn.execute(kinds)).all()}
            result["pending"] = int((await conn.execute(pending)).scalar_one())
            result["deliveries"] = int((await conn.execute(deliveries)).scalar_one())
        return result

    # ------------------------------------------------------------------ threads

    async def get_thread(self, group_key: str) -> AlertThread | None:
        """The thread of an alert group, or None."""
        key = thread_key(group_key)
        query = select(t.alert_threads).where(t.alert_threads.c.group_key == key)
        async with self.engine.connect() as conn:
            thread = await fetch_one(conn, query, AlertThread)
        return thread.model_copy(update={"group_key": group_key}) if thread else None

    async def save_thread(
        self, group_key: str, *, incident_id: str, channel: str, thread_ts: str, target: str
    ) -> AlertThread:
        """Record the thread a group's first alert opened."""
        now = self._clock()
        thread = AlertThread(
            group_key=group_key,
            incident_id=incident_id,
            channel=channel,
            thread_ts=thread_ts,
            target=target,
            created_at=now,
            updated_at=now,
        )
        row = {**thread.model_dump(), "group_key": thread_key(group_key)}
        async with self.engine.begin() as conn:
            await conn.execute(t.alert_threads.insert().values(**row))
        return thread

    async def update_thread(
        self, group_key: str, *, state: ThreadState, incident_id: str | None = None
    ) -> None:
        """A group resolved, or fired again (with the new incident it opened)."""
        values: dict[str, Any] = {"state": state, "updated_at": self._clock()}
        if incident_id is not None:
            values["incident_id"] = incident_id
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.alert_threads)
                .where(t.alert_threads.c.group_key == thread_key(group_key))
                .values(**values)
            )

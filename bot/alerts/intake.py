"""``POST /alerts/alertmanager``: authenticate, parse, persist, answer; the worker does the rest.

Status codes follow what Alertmanager does with them: any 2xx is delivered, 5xx is retried, any
other 4xx is dropped for good. So:

- 401 without the bearer token (``ALERTMANAGER_TOKEN``, compared in constant time);
- 400 with the reason when the body is not JSON or not a webhook at all (retrying cannot help);
- 200 when the delivery is stored, even when some of its alerts were refused: the valid ones are
  kept, the refused ones recorded with their reasons and counted in the answer;
- 5xx when anything fails before the delivery is stored, so that Alertmanager delivers it again
  (a redelivery of what was stored adds nothing: events are keyed by groupKey + fingerprint +
  status + startsAt).
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot import metrics
from bot.alerts.classify import TargetMapping, classify, rejected_events
from bot.alerts.writer import DeliveryWriter
from bot.store.deliveries import AlertDeliveries, Delivery
from bot.triggers.alertmanager import WebhookError, parse_webhook

log = logging.getLogger(__name__)
PATH = "/alerts/alertmanager"
_MAX_REASONS = 20


class IntakeAnswer(BaseModel):
    """The HTTP answer to one delivery."""

    status_code: int
    body: dict[str, object] = Field(default_factory=dict)


def authorised(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time; no token configured refuses
    everything rather than accepting anyone."""
    if not token or not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class AlertIntake:
    """Turns a delivery's bytes into stored events, and says so in HTTP terms."""

    def __init__(
        self,
        deliveries: AlertDeliveries,
        mapping: TargetMapping,
        token: str,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self.deliveries = deliveries
        self.writer = DeliveryWriter(deliveries)
        self.mapping = mapping
        self.token = token
        self.notify = notify

    async def accept(self, body: bytes) -> IntakeAnswer:
        """Parse and store one delivery."""
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return IntakeAnswer(status_code=400, body={"error": f"body: not JSON ({exc})"[:300]})
        try:
            batch = parse_webhook(payload, target_labels=self.mapping.labels, keep_untargeted=True)
        except WebhookError as exc:
            return IntakeAnswer(status_code=400, body={"error": str(exc)})
        except Exception:
            log.exception("webhook parser failed")
            return IntakeAnswer(status_code=500, body={"error": "internal error; not stored"})
        try:
            events = classify(batch, self.mapping) + rejected_events(batch, uuid.uuid4().hex)
            delivery = Delivery(
                alerts=events,
                group_key=batch.group_key,
                status=batch.status,
                receiver=batch.receiver,
                truncated_alerts=batch.truncated_alerts,
            )
            receipt = await self.writer.write(delivery)
        except Exception:
            log.exception("alert delivery not stored")
            return IntakeAnswer(status_code=503, body={"error": "not stored; deliver again"})
        self.notify()
        for event in events:
            metrics.ALERTS_RECEIVED.labels(event.status, event.kind).inc()
        metrics.ALERTS_DEDUPLICATED.inc(receipt.duplicate)
        metrics.ALERTS_REJECTED.inc(receipt.rejected)
        return IntakeAnswer(
            status_code=200,
            body={
                "delivery": receipt.delivery_id,
                "accepted": receipt.new,
                "duplicate": receipt.duplicate,
                "rejected": receipt.rejected,
                "reasons": [r.reason for r in batch.rejected[:_MAX_REASONS]],
            },
        )


def alert_router(intake: AlertIntake) -> APIRouter:
    """The route, thin: authenticate, hand the bytes to the intake, render its answer."""
    router = APIRouter()

    @router.post(PATH)
    async def alertmanager_webhook(request: Request) -> JSONResponse:
        with metrics.Stopwatch() as watch:
            if not authorised(request.headers.get("authorization"), intake.token):
                answer = IntakeAnswer(status_code=401, body={"error": "bearer token required"})
            else:
                answer = await intake.accept(await request.body())
        metrics.ALERT_INTAKE_SECONDS.observe(watch.seconds)
        metrics.ALERT_DELIVERIES.labels(str(answer.status_code)).inc()
        headers = {"WWW-Authenticate": "Bearer"} if answer.status_code == 401 else None
        return JSONResponse(answer.body, answer.status_code, headers=headers)

    return router

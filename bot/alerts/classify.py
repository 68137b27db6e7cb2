"""What each alert of a delivery is about: a model target, the whole agent fleet, or something
that is not a model target at all (a node, a database: recorded and left alone).

The target comes from the configured labels (``ALERT_TARGET_LABELS``), most specific first. Two
labels are generic, ``service`` and ``target``: an alert that only carries one of them opens an
incident only when a runbook lists its name, so ``PostgresDown{service="postgres"}`` is not
escalated as a missing model. ``service`` values of ``ALERT_FLEET_SERVICES`` (``gateway``) and
agent-fleet alerts that name no agent are about the whole fleet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.store.deliveries import AlertKind, NewAlert
from bot.triggers.alertmanager import WebhookBatch

GENERIC_LABELS = frozenset({"service", "target"})
# The name the agent runbook reads as "every agent of the gateway" (bot.agent.targets).
FLEET_TARGET = "gateway"


@dataclass(frozen=True)
class TargetMapping:
    """The labels that name a target, and which alert names the runbooks know (name → kind)."""

    labels: tuple[str, ...]
    fleet_services: frozenset[str] = frozenset({FLEET_TARGET})
    runbook_alerts: Mapping[str, str] = field(default_factory=dict)


def _kind(
    mapping: TargetMapping, alertname: str | None, target: str | None, label: str
) -> AlertKind:
    known = mapping.runbook_alerts.get(alertname or "")
    if target is None:
        return "fleet" if known == "agent" else "infrastructure"
    if label == "service" and target in mapping.fleet_services:
        return "fleet"
    if label in GENERIC_LABELS and known is None:
        return "infrastructure"
    return "model"


def storable_key(key: str) -> str:
    """The dedupe key as stored: itself, or its digest when a long group key makes it too long
    for the column (the same key always gives the same digest)."""
    if len(key) <= 512:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def event_key(dedupe_key: str, starts_at: str) -> str:
    """The stored key of an alert event: the parser's (groupKey + fingerprint + status) and its
    ``startsAt``, which a redelivery repeats but an alert firing again after it resolved does
    not, so the second firing is a new event rather than a duplicate of the first."""
    return storable_key(f"{dedupe_key}|{starts_at}" if starts_at else dedupe_key)


def _short(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None


def classify(batch: WebhookBatch, mapping: TargetMapping) -> list[NewAlert]:
    """Every alert of the batch as a storable event, with its kind; rejected ones keep the
    reason (their key is their place in this delivery, so they are never taken for a dupe).

    Built with ``model_construct``: every value was validated (and cut to its column) by the
    parser or here, and validating it again is most of the intake's CPU under a storm."""
    group = batch.group_key
    events: list[NewAlert] = []
    for alert in batch.triggers:
        trigger = alert.trigger
        kind = _kind(mapping, trigger.alertname, trigger.target, alert.target_label)
        events.append(
            NewAlert.model_construct(
                dedupe_key=event_key(alert.dedupe_key, alert.starts_at),
                group_key=group,
                status="firing",
                kind=kind,
                alertname=_short(trigger.alertname, 256),
                target=FLEET_TARGET if kind == "fleet" else trigger.target,
                fingerprint=_short(trigger.fingerprint, 64),
                labels=trigger.labels,
                annotations=trigger.annotations,
                generator_url=alert.generator_url,
                starts_at=alert.starts_at,
            )
        )
    for loose in batch.untargeted:
        kind = _kind(mapping, loose.alertname, None, "")
        events.append(
            NewAlert.model_construct(
                dedupe_key=event_key(loose.dedupe_key, loose.starts_at),
                group_key=group,
                status="firing",
                kind=kind,
                alertname=_short(loose.alertname, 256),
                target=FLEET_TARGET if kind == "fleet" else None,
                fingerprint=_short(loose.fingerprint, 64),
                labels=loose.labels,
                annotations=loose.annotations,
                generator_url=loose.generator_url,
                starts_at=loose.starts_at,
            )
        )
    for done in batch.resolved:
        events.append(
            NewAlert.model_construct(
                dedupe_key=event_key(done.dedupe_key, done.starts_at),
                group_key=group,
                status="resolved",
                kind="model" if done.target else "infrastructure",
                alertname=_short(done.alertname, 256),
                target=done.target,
                fingerprint=_short(done.fingerprint, 64),
            )
        )
    return events


def rejected_events(batch: WebhookBatch, delivery_tag: str) -> list[NewAlert]:
    """The batch's refused alerts, keyed by ``delivery_tag`` and their index."""
    return [
        NewAlert.model_construct(
            dedupe_key=f"rejected|{delivery_tag}|{r.index}",
            group_key=batch.group_key,
            status="rejected",
            kind="rejected",
            fingerprint=(r.fingerprint or "")[:64] or None,
            reason=r.reason,
        )
        for r in batch.rejected
    ]

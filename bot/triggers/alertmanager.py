"""Alertmanager webhooks (payload version "4") and slash-command text, turned into ``Trigger``s.

Alertmanager does not retry a 4xx, so one malformed alert must never cost the valid ones of
its batch: each alert is parsed on its own and a bad one is returned as a :class:`RejectedAlert`
with the field at fault. Alertmanager does redeliver on 5xx and after restarts, so every trigger
carries a dedupe key (groupKey + fingerprint + status). Labels and annotations were written by
whoever wrote the alert rule: they are kept verbatim as untrusted text, never interpreted here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from bot.agent.types import Trigger

# Labels that name the thing an alert is about, most specific first.
TARGET_LABELS: tuple[str, ...] = ("endpoint", "agent", "model", "target", "service")
# Endpoint, agent and registered-model names: letters, digits and a few separators, no spaces.
_TARGET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,199}$")
_COMMAND = "/model-incident"
_MAX_TEXT = 4000  # longer label/annotation values are cut: they are evidence, not documents


class WebhookError(ValueError):
    """The payload as a whole is unusable (not a JSON object, no alert list)."""


class CommandError(ValueError):
    """The slash-command text does not name a valid target."""


class AlertTrigger(BaseModel):
    """A firing alert that may open an incident."""

    trigger: Trigger
    dedupe_key: str
    starts_at: str = ""
    generator_url: str = ""


class ResolvedAlert(BaseModel):
    """A resolved alert: never opens an incident, but may close the note on an open one."""

    target: str | None
    alertname: str | None
    fingerprint: str | None
    dedupe_key: str


class RejectedAlert(BaseModel):
    """An alert of the batch that could not be parsed, with the field at fault."""

    index: int
    fingerprint: str | None = None
    reason: str


class WebhookBatch(BaseModel):
    """One webhook delivery, split into what to act on, what resolved and what was refused."""

    version: str
    group_key: str
    status: str
    receiver: str = ""
    truncated_alerts: int = 0
    triggers: list[AlertTrigger] = Field(default_factory=list)
    resolved: list[ResolvedAlert] = Field(default_factory=list)
    rejected: list[RejectedAlert] = Field(default_factory=list)


def validate_target(name: str, *, field: str) -> str:
    """Return ``name`` stripped, or raise ``ValueError`` naming ``field`` when it is not a name."""
    value = name.strip()
    if not value:
        raise ValueError(f"{field}: empty")
    if not _TARGET_RE.match(value):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise ValueError(
            f"{field}: {shown!r} is not a valid target name "
            "(letters, digits and _ . : @ / -, at most 200 characters, no spaces)"
        )
    return value


def parse_command_text(text: str, *, actor: str | None = None) -> Trigger:
    """Parse the text of ``/model-incident <target>`` (with or without the command word)."""
    words = (text or "").split()
    if words and words[0] == _COMMAND:
        words = words[1:]
    if not words:
        raise CommandError(f"usage: {_COMMAND} <endpoint, agent or model name>")
    if len(words) > 1:
        raise CommandError(
            f"expected one target name, got {len(words)} words; usage: {_COMMAND} <target>"
        )
    try:
        target = validate_target(words[0], field="target")
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return Trigger(source="command", target=target, actor=actor)


def parse_webhook(payload: Any) -> WebhookBatch:
    """Split an Alertmanager webhook payload into triggers (firing), resolved and rejected alerts.

    Raises :class:`WebhookError` only when the payload itself is unusable; a bad alert is rejected
    alone. Unknown keys are ignored and unknown status values are kept as text.
    """
    if not isinstance(payload, Mapping):
        raise WebhookError(f"payload: expected a JSON object, got {type(payload).__name__}")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise WebhookError("alerts: missing or not a list")
    common_labels = _string_map(payload.get("commonLabels"))
    common_annotations = _string_map(payload.get("commonAnnotations"))
    group_key = _text(payload.get("groupKey"))
    batch = WebhookBatch(
        version=_text(payload.get("version")),
        group_key=group_key,
        status=_text(payload.get("status")),
        receiver=_text(payload.get("receiver")),
        truncated_alerts=_int(payload.get("truncatedAlerts")),
    )
    for index, alert in enumerate(alerts):
        _parse_alert(batch, index, alert, group_key, common_labels, common_annotations)
    return batch


def _parse_alert(
    batch: WebhookBatch,
    index: int,
    alert: Any,
    group_key: str,
    common_labels: dict[str, str],
    common_annotations: dict[str, str],
) -> None:
    where = f"alerts[{index}]"
    if not isinstance(alert, Mapping):
        batch.rejected.append(
            RejectedAlert(
                index=index, reason=f"{where}: expected an object, got {type(alert).__name__}"
            )
        )
        return
    fingerprint = _text(alert.get("fingerprint")) or None
    labels_raw = alert.get("labels")
    if labels_raw is not None and not isinstance(labels_raw, Mapping):
        batch.rejected.append(
            RejectedAlert(
                index=index, fingerprint=fingerprint, reason=f"{where}.labels: expected an object"
            )
        )
        return
    labels = {**common_labels, **_string_map(labels_raw)}
    annotations = {**common_annotations, **_string_map(alert.get("annotations"))}
    status = _text(alert.get("status")) or batch.status or "firing"
    # Without a fingerprint, a stable digest of the labels identifies the alert (Alertmanager's own
    # fingerprint is a hash of the label set too), so redeliveries still dedupe.
    identity = fingerprint or _labels_digest(labels)
    dedupe_key = f"{group_key}|{identity}|{status}"
    alertname = labels.get("alertname") or None
    target, problem = _target(labels, where)
    if status == "resolved":
        batch.resolved.append(
            ResolvedAlert(
                target=target, alertname=alertname, fingerprint=fingerprint, dedupe_key=dedupe_key
            )
        )
        return
    if target is None:
        batch.rejected.append(RejectedAlert(index=index, fingerprint=fingerprint, reason=problem))
        return
    trigger = Trigger(
        source="alert",
        target=target,
        alertname=alertname,
        labels=labels,
        annotations=annotations,
        fingerprint=identity,
    )
    batch.triggers.append(
        AlertTrigger(
            trigger=trigger,
            dedupe_key=dedupe_key,
            starts_at=_text(alert.get("startsAt")),
            generator_url=_text(alert.get("generatorURL")),
        )
    )


def _target(labels: dict[str, str], where: str) -> tuple[str | None, str]:
    for name in TARGET_LABELS:
        value = labels.get(name, "").strip()
        if value:
            try:
                return validate_target(value, field=f"{where}.labels.{name}"), ""
            except ValueError as exc:
                return None, str(exc)
    return None, f"{where}.labels: none of {', '.join(TARGET_LABELS)} names the target"


def _string_map(value: Any) -> dict[str, str]:
    """Alertmanager sends string maps; anything else is coerced to text rather than refused."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): _text(v) for k, v in value.items() if v is not None}


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:_MAX_TEXT]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _labels_digest(labels: dict[str, str]) -> str:
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]

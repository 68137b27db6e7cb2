"""Alertmanager webhooks (payload version "4") and slash-command text, turned into ``Trigger``s.

Alertmanager does not retry a 4xx, so one malformed alert must never cost the valid ones of
its batch: each alert is parsed on its own and a bad one is returned as a :class:`RejectedAlert`
with the field at fault. No JSON value in any field raises: the wire models below coerce what they
can (numbers to text, overflowing counts to 0) and refuse, per alert, what they cannot.
Alertmanager does redeliver on 5xx and after restarts, so every trigger carries a dedupe key
(groupKey + fingerprint + status). Labels and annotations were written by whoever wrote the alert
rule: they are kept as untrusted text (made storable: no NUL, no lone surrogate), never
interpreted here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from bot.agent.types import Trigger

# Labels that name the thing an alert is about, most specific first (``ALERT_TARGET_LABELS``
# configures the bot's own list; this is its default).
TARGET_LABELS: tuple[str, ...] = (
    "endpoint",
    "endpoint_name",
    "agent",
    "model",
    "target",
    "service",
)
# The two alert states of the wire format. Anything else is refused rather than guessed: a
# misspelt "resolved" must never open an incident.
FIRING = "firing"
RESOLVED = "resolved"
# Endpoint, agent and registered-model names: letters, digits and a few separators, no spaces.
_TARGET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,199}$")
_COMMAND = "/model-incident"
_MAX_TEXT = 4000  # longer label/annotation values are cut: they are evidence, not documents


class WebhookError(ValueError):
    """The payload as a whole is unusable (not a JSON object, no alert list)."""


class CommandError(ValueError):
    """The slash-command text does not name a valid target."""


# --------------------------------------------------------------------------- coercion


def _text(value: Any) -> str:
    """Any JSON value as storable text: strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError, RecursionError):  # huge ints, mixed keys, cycles
            text = f"<unreadable {type(value).__name__}>"
    return _storable(text[:_MAX_TEXT])


def _storable(text: str) -> str:
    """``text`` without NUL and with lone surrogates replaced: PostgreSQL refuses NUL in text
    columns and UTF-8 cannot encode a lone surrogate, either of which would break a later write."""
    if text.isascii():
        return text.replace("\x00", "")
    fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return fixed.replace("\x00", "")


def _status(value: Any) -> str:
    """``"Resolved"``, ``" resolved\\n"`` and ``"RESOLVED"`` are all ``"resolved"``."""
    return _text(value).strip().casefold()


def _count(value: Any) -> int:
    """A non-negative count; what is not a finite number (``1e999``, ``NaN``, ``"x"``) is 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, str):
        try:
            value = float(value.strip()) if value.strip() else 0
        except ValueError:
            return 0
    if isinstance(value, float):
        if not math.isfinite(value):
            return 0
        value = int(value)
    return max(value, 0) if isinstance(value, int) else 0


def _string_map(value: Any) -> dict[str, str]:
    """Alertmanager sends string maps; anything else is coerced to text rather than refused."""
    if not isinstance(value, Mapping):
        return {}
    return {_text(k): _text(v) for k, v in value.items() if v is not None}


Text = Annotated[str, BeforeValidator(_text)]
Status = Annotated[str, BeforeValidator(_status)]
Count = Annotated[int, BeforeValidator(_count)]
StringMap = Annotated[dict[str, str], BeforeValidator(_string_map)]


class _Envelope(BaseModel):
    """The delivery's own fields (wire format version 4); unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    version: Text = ""
    group_key: Text = Field("", alias="groupKey")
    status: Status = ""
    receiver: Text = ""
    truncated_alerts: Count = Field(0, alias="truncatedAlerts")
    common_labels: StringMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: StringMap = Field(default_factory=dict, alias="commonAnnotations")


class _Alert(BaseModel):
    """One alert of the delivery. ``labels`` stays raw: a non-object there refuses the alert."""

    model_config = ConfigDict(extra="ignore")

    status: Status = ""
    labels: Any = None
    annotations: StringMap = Field(default_factory=dict)
    starts_at: Text = Field("", alias="startsAt")
    generator_url: Text = Field("", alias="generatorURL")
    fingerprint: Text = ""


# --------------------------------------------------------------------------- results


class AlertTrigger(BaseModel):
    """A firing alert that may open an incident."""

    trigger: Trigger
    dedupe_key: str
    starts_at: str = ""
    generator_url: str = ""
    target_label: str = Field("", description="the label that named the target")


class UntargetedAlert(BaseModel):
    """A firing alert that names no target at all (when the caller asked to keep them): a node, a
    database, the whole fleet. Its caller decides what it is about."""

    alertname: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    fingerprint: str
    dedupe_key: str
    starts_at: str = ""
    generator_url: str = ""


class ResolvedAlert(BaseModel):
    """A resolved alert: never opens an incident, but may close the note on an open one."""

    target: str | None
    alertname: str | None
    fingerprint: str | None
    dedupe_key: str
    starts_at: str = ""


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
    untargeted: list[UntargetedAlert] = Field(default_factory=list)


# --------------------------------------------------------------------------- parsing


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


def parse_webhook(
    payload: Any,
    *,
    target_labels: Sequence[str] = TARGET_LABELS,
    keep_untargeted: bool = False,
) -> WebhookBatch:
    """Split an Alertmanager webhook payload into triggers (firing), resolved and rejected alerts.

    ``target_labels`` are the labels that may name the target, most specific first. A firing alert
    with none of them is rejected, or with ``keep_untargeted`` kept in ``untargeted`` for the
    caller to classify (infrastructure, fleet-wide). Raises :class:`WebhookError` only when the
    payload itself is unusable (not an object, no alert list); any value in any other field is
    coerced or rejects its own alert alone.
    """
    if not isinstance(payload, Mapping):
        raise WebhookError(f"payload: expected a JSON object, got {type(payload).__name__}")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise WebhookError("alerts: missing or not a list")
    envelope = _Envelope.model_validate(dict(payload))
    batch = WebhookBatch(
        version=envelope.version,
        group_key=envelope.group_key,
        status=envelope.status,
        receiver=envelope.receiver,
        truncated_alerts=envelope.truncated_alerts,
    )
    options = _Options(tuple(target_labels), keep_untargeted)
    for index, alert in enumerate(alerts):
        try:
            _parse_alert(batch, envelope, index, alert, options)
        except ValidationError as exc:  # a value no coercion could save: this alert only
            batch.rejected.append(RejectedAlert(index=index, reason=_first_error(index, exc)))
    return batch


@dataclass(frozen=True)
class _Options:
    target_labels: tuple[str, ...]
    keep_untargeted: bool


# The result models below are built with ``model_construct``: every value was coerced by the wire
# models or validated here already, and a storm pays for each validation once per alert.
def _parse_alert(
    batch: WebhookBatch, envelope: _Envelope, index: int, raw: Any, options: _Options
) -> None:
    where = f"alerts[{index}]"

    def reject(reason: str, fingerprint: str | None = None) -> None:
        batch.rejected.append(RejectedAlert(index=index, fingerprint=fingerprint, reason=reason))

    if not isinstance(raw, Mapping):
        reject(f"{where}: expected an object, got {type(raw).__name__}")
        return
    alert = _Alert.model_validate(dict(raw))
    fingerprint = alert.fingerprint or None
    if alert.labels is not None and not isinstance(alert.labels, Mapping):
        reject(f"{where}.labels: expected an object", fingerprint)
        return
    labels = {**envelope.common_labels, **_string_map(alert.labels)}
    annotations = {**envelope.common_annotations, **alert.annotations}
    status = alert.status or envelope.status or FIRING
    if status not in (FIRING, RESOLVED):
        shown = status if len(status) <= 40 else status[:37] + "..."
        reject(f"{where}.status: {shown!r} is neither {FIRING!r} nor {RESOLVED!r}", fingerprint)
        return
    # Without a fingerprint, a stable digest of the labels identifies the alert (Alertmanager's own
    # fingerprint is a hash of the label set too), so redeliveries still dedupe.
    identity = fingerprint or _labels_digest(labels)
    dedupe_key = f"{envelope.group_key}|{identity}|{status}"
    alertname = labels.get("alertname") or None
    target, label, problem = _target(labels, where, options.target_labels)
    if status == RESOLVED:
        batch.resolved.append(
            ResolvedAlert.model_construct(
                target=target,
                alertname=alertname,
                fingerprint=fingerprint,
                dedupe_key=dedupe_key,
                starts_at=alert.starts_at,
            )
        )
        return
    if target is None and not problem and options.keep_untargeted:
        batch.untargeted.append(
            UntargetedAlert.model_construct(
                alertname=alertname,
                labels=labels,
                annotations=annotations,
                fingerprint=identity,
                dedupe_key=dedupe_key,
                starts_at=alert.starts_at,
                generator_url=alert.generator_url,
            )
        )
        return
    if target is None:
        reject(problem or _no_target(where, options.target_labels), fingerprint)
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
        AlertTrigger.model_construct(
            trigger=trigger,
            dedupe_key=dedupe_key,
            starts_at=alert.starts_at,
            generator_url=alert.generator_url,
            target_label=label,
        )
    )


def _target(
    labels: dict[str, str], where: str, names: Sequence[str]
) -> tuple[str | None, str, str]:
    """The first target label holding a valid name, and that label. A malformed one never hides a
    valid one further down the list; when none is valid, every problem is named (an empty problem:
    no target label at all)."""
    problems: list[str] = []
    for name in names:
        value = labels.get(name, "").strip()
        if not value:
            continue
        try:
            return validate_target(value, field=f"{where}.labels.{name}"), name, ""
        except ValueError as exc:
            problems.append(str(exc))
    return None, "", "; ".join(problems)


def _no_target(where: str, names: Sequence[str]) -> str:
    return f"{where}.labels: none of {', '.join(names)} names the target"


def _first_error(index: int, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"alerts[{index}]{'.' + loc if loc else ''}: {err['msg']}"


def _labels_digest(labels: dict[str, str]) -> str:
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]

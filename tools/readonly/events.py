"""`platform_events`: the audit trail of one resource (deleted? by whom? what changed recently?)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from tools.clients.databricks import AuditEvent
from tools.platform import Platform
from tools.result import ToolStatus
from tools.spec import Finding, tool

# Event types that change what a resource serves: the "was there a recent deploy?" question.
DEPLOY_TYPES = frozenset({"deploy", "endpoint_updated", "endpoint_created", "agent_config_changed"})


class PlatformEventsParams(BaseModel):
    resource: str = Field(min_length=1)
    since_minutes: float = Field(1440, gt=0)


class EventInfo(BaseModel):
    minutes_ago: float
    type: str
    resource: str
    actor: str
    details: dict[str, Any]


class PlatformEventsEvidence(BaseModel):
    events: list[EventInfo]
    deleted: bool
    deleted_minutes_ago: float | None
    deleted_by: str | None
    last_config: dict[str, Any] | None = Field(
        description="the last known serving config, in the shape of the config update request"
    )
    recent_deploy: bool
    recent_deploy_minutes_ago: float | None
    recent_alias_change: bool
    created_ever: bool


def _minutes_ago(event: AuditEvent, now_ms: float) -> float:
    return round(max(0.0, now_ms - event.timestamp) / 60000, 1)


def summarise_events(events: list[AuditEvent], now_ms: float) -> PlatformEventsEvidence:
    """Answer the runbook's questions from a resource's audit events (any order)."""
    ordered = sorted(events, key=lambda e: e.timestamp, reverse=True)  # newest first
    lifecycle = next(
        (e for e in ordered if e.type in {"endpoint_deleted", "endpoint_created"}), None
    )
    deleted = lifecycle is not None and lifecycle.type == "endpoint_deleted"
    with_config = next((e for e in ordered if e.config is not None), None)
    deploy = next((e for e in ordered if e.type in DEPLOY_TYPES), None)
    return PlatformEventsEvidence(
        events=[
            EventInfo(
                minutes_ago=_minutes_ago(e, now_ms),
                type=e.type,
                resource=e.resource,
                actor=e.actor,
                details=e.details,
            )
            for e in ordered
        ],
        deleted=deleted,
        deleted_minutes_ago=_minutes_ago(lifecycle, now_ms) if deleted and lifecycle else None,
        deleted_by=lifecycle.actor if deleted and lifecycle else None,
        last_config=with_config.config.to_request() if with_config and with_config.config else None,
        recent_deploy=deploy is not None,
        recent_deploy_minutes_ago=_minutes_ago(deploy, now_ms) if deploy else None,
        recent_alias_change=any(e.type == "alias_set" for e in ordered),
        # Any lifecycle event proves the endpoint existed, even with its creation out of the window.
        created_ever=any(e.type.startswith("endpoint_") for e in ordered),
    )


@tool("platform_events", kind="read", params=PlatformEventsParams, evidence=PlatformEventsEvidence)
async def platform_events(platform: Platform, params: PlatformEventsParams) -> Finding:
    """Read the audit events of a resource: deletions, deploys, alias and config changes."""
    events = await platform.serving.serving_events(params.resource, params.since_minutes)
    evidence = summarise_events(events, time.time() * 1000)
    window = f"in the last {params.since_minutes:g} min"
    if not evidence.events:
        return Finding(ToolStatus.OK, f"no audit events for {params.resource} {window}", evidence)
    if evidence.deleted:
        summary = (
            f"{params.resource} was deleted by {evidence.deleted_by} "
            f"{evidence.deleted_minutes_ago:g} min ago"
        )
    else:
        summary = f"{len(evidence.events)} event(s) for {params.resource} {window}"
        if evidence.recent_deploy_minutes_ago is not None:
            summary += f"; last deploy {evidence.recent_deploy_minutes_ago:g} min ago"
    return Finding(ToolStatus.OK, summary, evidence)

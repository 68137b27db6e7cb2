"""Read-only tools: each answers one question of a runbook with typed evidence."""

from tools.readonly import events, gateway, logs, pipelines, provider, registry, serving, slis

__all__ = ["events", "gateway", "logs", "pipelines", "provider", "registry", "serving", "slis"]

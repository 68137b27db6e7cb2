"""Read-only tools: each answers one question of a runbook with typed evidence."""

from tools.readonly import events, pipelines, serving

__all__ = ["events", "pipelines", "serving"]

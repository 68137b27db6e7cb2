"""What the graph's nodes need from the outside world, injected as one value."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.agent.records import IncidentRecords
from bot.llm.assistant import Assistant
from bot.runbooks.loader import RunbookSet
from bot.settings import Settings
from tools.platform import Platform

StepSink = Callable[[dict[str, Any]], Awaitable[None]]


async def _ignore_step(step: dict[str, Any]) -> None:
    return None


@dataclass
class AgentDeps:
    platform: Platform
    records: IncidentRecords
    runbooks: RunbookSet
    settings: Settings
    emit_step: StepSink = field(default=_ignore_step)
    # Verify steps may ask to wait for a change to settle; tests and evals cap that wait.
    max_verify_wait_s: float = 30.0
    # Optional LLM: summaries only; the incident runs the same without it.
    assistant: Assistant | None = None

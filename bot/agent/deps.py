"""What the graph's nodes need from the outside world, injected as one value.

Progress does not go through here: nodes write step events to LangGraph's stream writer, and the
incident service hands them to whoever runs that incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.agent.records import IncidentRecords
from bot.runbooks.loader import RunbookSet
from bot.settings import Settings
from tools.platform import Platform

if TYPE_CHECKING:
    from bot.llm.assistant import Assistant


@dataclass
class AgentDeps:
    platform: Platform
    records: IncidentRecords
    runbooks: RunbookSet
    settings: Settings
    # Verify steps may ask to wait for a change to settle; the composition root sets the cap
    # (``MAX_VERIFY_WAIT_S``; none on the embedded sandbox, which applies changes at once).
    max_verify_wait_s: float = float("inf")
    # Optional LLM: summaries only; the incident runs the same without it.
    assistant: Assistant | None = None

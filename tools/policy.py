"""How every upstream call of a tool is bounded: one deadline and one retry budget, as a value.

The values come from the bot's settings (their defaults live there, once); tools only receive them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CallPolicy(BaseModel):
    """Deadline and retries of each upstream request a tool makes.

    ``timeout_s`` bounds one request including its retries (``tools/clients/http.py``), so a dead
    dependency becomes a no-data finding within it instead of a stalled incident.
    """

    model_config = ConfigDict(frozen=True)

    timeout_s: float = Field(gt=0, le=120)
    retries: int = Field(ge=0, le=5)

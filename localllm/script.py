"""The script of the local chat server: rules matched against each request, in order, and a
plain default answer per prompt when none matches.

```yaml
api_key: local-key            # optional: requests without this bearer key get 401
rules:
  - prompt: interpret         # the request's response_format json_schema name (optional)
    contains: access denied   # a substring of the user message (optional, case-insensitive)
    times: 1                  # how many requests this rule answers (optional: every one)
    reply:
      json: {choice: escalate_update_permission, reason: "access denied"}  # content as JSON
      # content: "not json"   # raw content instead
      # tool_call: {name: interpret, arguments: '{"choice": ...}'}  # a string or an object
      # status: 429           # an error status, with body {"message": ...}
      # delay_s: 2            # wait before answering
      # dribble_s: 0.5        # send the body one slice at a time, this far apart (slow stream)
```
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: int = 200
    message: str = ""
    json_: dict[str, Any] | None = Field(None, alias="json")
    content: str | None = None
    tool_call: dict[str, Any] | None = None
    delay_s: float = Field(0, ge=0)
    dribble_s: float = Field(0, ge=0)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str | None = None
    contains: str | None = None
    times: int | None = Field(None, ge=1)
    reply: Reply
    used: int = 0

    def matches(self, prompt: str | None, user: str) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.prompt is not None and self.prompt != prompt:
            return False
        return self.contains is None or self.contains.lower() in user.lower()


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str | None = None
    rules: list[Rule] = Field(default_factory=list)

    def reply_for(self, prompt: str | None, user: str) -> Reply:
        for rule in self.rules:
            if rule.matches(prompt, user):
                rule.used += 1
                return rule.reply
        return Reply.model_validate({"json": default_answer(prompt, user)})


def load_script(path: Path) -> Script:
    return Script.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def _target(user: str) -> str:
    found = re.search(r"Incident on ([^;]+);", user) or re.search(r"Target: ([^;]+);", user)
    return found.group(1).strip() if found else "the service"


def default_answer(prompt: str | None, user: str) -> dict[str, Any] | None:
    """A plain valid answer for each prompt of the bot when no rule matches; for ``interpret``
    none (the model declines: a refusal in words, not JSON), so the tree's own branch stands."""
    if prompt == "summarise":
        final = re.search(r"final state: ([a-z_]+)", user)
        state = final.group(1).replace("_", " ") if final else "finished"
        return {"summary": f"{_target(user)}: {state} (scripted summary).", "why": []}
    if prompt == "triage":
        return {"ranked": [], "reason": "no ranking from the scripted model"}
    if prompt == "question":
        return {"answer": "The audit trail does not say.", "cites": []}
    if prompt == "postmortem":
        return {
            "root_cause": f"{_target(user)}: see the timeline",
            "impact": "not recorded",
            "prevention": "not recorded",
            "follow_ups": [],
        }
    return None


def content_of(reply: Reply) -> str | None:
    if reply.json_ is not None:
        return json.dumps(reply.json_)
    return reply.content

"""The assistant: optional LLM text around a deterministic incident. Failures never matter: every
caller has a deterministic fallback, and nothing the model says reaches a decision."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.llm.prompts import Prompt, default_prompt_dir, load_prompts, untrusted_rule
from tools.clients.errors import UpstreamError
from tools.clients.mistral import ProviderAPI


@dataclass
class Assistant:
    provider: ProviderAPI
    model: str
    prompts: dict[str, Prompt]
    rule: str

    @classmethod
    def create(cls, provider: ProviderAPI, model: str) -> Assistant:
        folder = default_prompt_dir()
        return cls(provider, model, load_prompts(folder), untrusted_rule(folder))

    async def complete(self, prompt_id: str, **values: str) -> tuple[str | None, dict[str, Any]]:
        """(text or None, an audit record of the call)."""
        prompt = self.prompts[prompt_id]
        system, user = prompt.render(self.rule, **values)
        record: dict[str, Any] = {
            "prompt": prompt.id,
            "version": prompt.version,
            "model": self.model,
        }
        try:
            response = await self.provider.chat(
                self.model,
                [{"role": "system", "content": system}, {"role": "user", "content": user}],
                temperature=prompt.temperature,
                max_tokens=prompt.max_tokens,
            )
        except UpstreamError as exc:
            record["error"] = exc.reason
            return None, record
        choice = response.choices[0] if response.choices else None
        content = choice.message.content if choice and choice.message else None
        text = content if isinstance(content, str) else None
        if response.usage is not None:
            record["usage"] = {
                "prompt_tokens": response.usage.prompt_tokens,
                "completion_tokens": response.usage.completion_tokens,
            }
        record["answered"] = text is not None
        return text, record

    async def summarise(self, state: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        trigger = state.get("trigger", {})
        return await self.complete(
            "summarise",
            target=str(state.get("target", "")),
            final_state=str(state.get("final_state", "")),
            diagnoses=json.dumps(
                [{"id": d["id"], "role": d["role"]} for d in state.get("diagnoses", [])]
            ),
            actions=json.dumps(
                [
                    {k: a.get(k) for k in ("tool", "params", "decision", "executed", "verified")}
                    for a in state.get("actions", [])
                ],
                default=str,
            ),
            advice=json.dumps(state.get("advice", [])),
            escalation=json.dumps(state.get("escalation")),
            untrusted=json.dumps(trigger.get("annotations", {})),
        )

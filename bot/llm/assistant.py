"""The assistant: optional LLM text around a deterministic incident.

One guarded path for every call (:meth:`Assistant.ask`): the prompt is a validated file; every
value is redacted (``tools/redact.py``) before it is sent; untrusted text sits inside
``<untrusted>`` fences; the answer must match the prompt's JSON schema (sent as
``response_format``) and the caller's check, is asked again once when it does not, and is
otherwise dropped so that the caller's deterministic answer stands. Each call has a deadline and a
retry budget, each incident a budget of calls and tokens, and every call is audited and counted.
Nothing the model says can run anything: callers only read a choice among the options they
offered, or text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.llm import metrics
from bot.llm.guard import InvalidAnswer, estimate_tokens, validated
from bot.llm.journal import Journal, Spent
from bot.llm.prompts import Prompt, default_prompt_dir, load_prompts, untrusted_rule
from bot.llm.wire import ChatProvider, ChatReply, ChatRequest, LLMFailure
from tools.redact import redact_text

Scope = Literal["incident", "request"]
Check = Callable[[dict[str, Any]], None]  # raises InvalidAnswer
Narrow = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Limits:
    """Explicit budgets: the deadline and transport retries of one call, the calls and tokens of
    one incident (``LLM_TIMEOUT_S``, ``LLM_MAX_RETRIES``, ``LLM_MAX_*_PER_INCIDENT``)."""

    timeout_s: float = 10.0
    max_retries: int = 1
    max_calls: int = 3
    max_tokens: int = 4000


@dataclass
class _Run:
    """What one ask cost and how it ended, for the audit row and the counters."""

    prompt: Prompt
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    outcome: str = "not_called"
    errors: list[str] = field(default_factory=list)
    reserve: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, reply: ChatReply, request: ChatRequest) -> None:
        estimate = estimate_tokens(request.system, request.user)
        self.prompt_tokens += reply.prompt_tokens or estimate
        self.completion_tokens += reply.completion_tokens
        self.latency_ms += reply.latency_ms


@dataclass
class Assistant:
    provider: ChatProvider
    model: str
    prompts: dict[str, Prompt]
    rule: str
    journal: Journal
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def create(
        cls, provider: ChatProvider, model: str, journal: Journal, limits: Limits | None = None
    ) -> Assistant:
        folder = default_prompt_dir()
        return cls(
            provider,
            model,
            load_prompts(folder),
            untrusted_rule(folder),
            journal,
            limits or Limits(),
        )

    async def ask(
        self,
        incident_id: str,
        prompt_id: str,
        values: dict[str, str],
        *,
        narrow: Narrow | None = None,
        check: Check | None = None,
        scope: Scope = "incident",
        context: dict[str, Any] | None = None,
        retry: bool = True,
        reserve: int = 0,
    ) -> dict[str, Any] | None:
        """The validated answer of ``prompt_id``, or None (the caller's deterministic answer
        stands). ``narrow`` tightens the prompt's schema for this call (the options offered);
        ``check`` refuses what the schema cannot express; ``context`` goes into the audit row.
        ``retry=False`` asks once even when the answer is invalid; ``reserve`` calls of the
        incident's budget are left for the asks that come later in the incident."""
        prompt = self.prompts[prompt_id]
        system, user = prompt.render(self.rule, **{k: redact_text(v) for k, v in values.items()})
        schema = narrow(prompt.answer_schema) if narrow else prompt.answer_schema
        request = ChatRequest(
            model=self.model,
            system=system,
            user=user,
            schema_name=prompt.id,
            json_schema=schema,
            temperature=prompt.temperature,
            max_tokens=prompt.max_tokens,
            incident_id=incident_id,
        )
        spent = await self.journal.spent(incident_id) if scope == "incident" else Spent()
        run = _Run(prompt, reserve=reserve)
        answer = await self._attempts(request, spent, run, check, invalid_retries=int(retry))
        await self.journal.record(incident_id, self._row(run, scope, answer, context))
        metrics.count_call(prompt.id, run.outcome, run.prompt_tokens, run.completion_tokens)
        if run.outcome == "budget_exhausted":
            metrics.count_skipped(prompt.id)
        if run.attempts:
            metrics.observe_latency(prompt.id, run.latency_ms / 1000)
        return answer

    def _affordable(self, spent: Spent, run: _Run, request: ChatRequest) -> bool:
        calls = spent.calls + run.attempts + run.reserve
        upcoming = estimate_tokens(request.system, request.user) + request.max_tokens
        tokens = spent.tokens + run.tokens + upcoming
        return calls < self.limits.max_calls and tokens <= self.limits.max_tokens

    async def _attempts(
        self,
        request: ChatRequest,
        spent: Spent,
        run: _Run,
        check: Check | None,
        invalid_retries: int,
    ) -> dict[str, Any] | None:
        """Ask until a valid answer, at most ``invalid_retries`` more after an invalid one and
        ``max_retries`` more after a retryable failure, within the incident's budget."""
        invalid_left, transport_left = invalid_retries, self.limits.max_retries
        while True:
            if not self._affordable(spent, run, request):
                # A retry the budget cannot pay for keeps the outcome of the last attempt.
                run.errors.append("the incident's LLM budget is spent")
                run.outcome = run.outcome if run.attempts else "budget_exhausted"
                return None
            run.attempts += 1
            started = time.perf_counter()
            try:
                reply = await self.provider.complete(request, self.limits.timeout_s)
            except LLMFailure as exc:
                run.latency_ms += (time.perf_counter() - started) * 1000
                run.outcome = exc.kind
                run.errors.append(str(exc)[:200])
                if exc.retryable and transport_left > 0:
                    transport_left -= 1
                    await asyncio.sleep(0.2 if exc.kind == "rate_limited" else 0)
                    continue
                return None
            run.add(reply, request)
            try:
                answer = validated(reply, request.schema_name, request.json_schema)
                if check is not None:
                    check(answer)
            except InvalidAnswer as exc:
                run.outcome = "invalid"
                run.errors.append(str(exc)[:200])
                if invalid_left > 0:
                    invalid_left -= 1
                    continue
                return None
            run.outcome = "ok"
            return answer

    def _row(
        self,
        run: _Run,
        scope: Scope,
        answer: dict[str, Any] | None,
        context: dict[str, Any] | None,
    ) -> dict[str, Any]:
        return {
            "prompt": run.prompt.id,
            "version": run.prompt.version,
            "model": self.model,
            "provider": self.provider.name,
            "scope": scope,
            "attempts": run.attempts,
            "prompt_tokens": run.prompt_tokens,
            "completion_tokens": run.completion_tokens,
            "latency_ms": round(run.latency_ms, 1),
            "outcome": run.outcome,
            "fallback": answer is None,
            "errors": run.errors,
            "answer": answer,
            **(context or {}),
        }

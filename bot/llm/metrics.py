"""The assistant's counters on ``/metrics`` (the default Prometheus registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LLM_CALLS = Counter(
    "model_incident_llm_calls",
    "LLM calls by prompt and outcome (ok, invalid, fallback, timeout, rate_limited, ...)",
    ["prompt", "outcome"],
)
LLM_TOKENS = Counter(
    "model_incident_llm_tokens",
    "LLM tokens by prompt and kind (prompt, completion)",
    ["prompt", "kind"],
)
LLM_SKIPPED = Counter(
    "model_incident_llm_skipped",
    "LLM calls not made because the incident's budget (calls or tokens) was spent",
    ["prompt"],
)
LLM_LATENCY = Histogram(
    "model_incident_llm_latency_seconds",
    "Latency of LLM calls",
    ["prompt"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


def count_call(prompt: str, outcome: str, prompt_tokens: int, completion_tokens: int) -> None:
    LLM_CALLS.labels(prompt, outcome).inc()
    LLM_TOKENS.labels(prompt, "prompt").inc(prompt_tokens)
    LLM_TOKENS.labels(prompt, "completion").inc(completion_tokens)


def observe_latency(prompt: str, seconds: float) -> None:
    LLM_LATENCY.labels(prompt).observe(seconds)


def count_skipped(prompt: str) -> None:
    LLM_SKIPPED.labels(prompt).inc()

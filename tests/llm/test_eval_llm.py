"""``model-incident eval --llm``: the free-text scenarios pass only with the (scripted) LLM, every
incident stays within 3 calls and 4,000 tokens, and with the LLM unreachable the public scenarios
still pass through the deterministic fallback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evals.llm import LLM_SCENARIOS, llm_environment, usage
from evals.runner import PUBLIC_SCENARIOS, load_all, run_all

PUBLIC_SAMPLE = [
    PUBLIC_SCENARIOS / "leaf" / "leaf-endpoint-update_failed-1.yaml",
    PUBLIC_SCENARIOS / "injection",
]


def run(paths: list[Path], llm: str, *, unreachable: bool = False) -> tuple[list, dict | None]:
    loaded, errors = load_all(paths)
    assert not errors and loaded
    with llm_environment(llm, unreachable=unreachable) as stand_in:
        results = run_all(loaded, llm=llm, workers=1)
    incidents = sum(len(r.final_states) for r in results)
    return results, usage(stand_in, incidents) if stand_in else None


@pytest.mark.parametrize("llm", ["mistral", "openai-compatible"])
async def test_free_text_scenarios_need_the_llm_and_stay_in_budget(llm: str) -> None:
    off, _ = await asyncio.to_thread(run, [LLM_SCENARIOS], "off")
    on, spent = await asyncio.to_thread(run, [LLM_SCENARIOS], llm)
    assert sum(r.passed for r in off) < len(off)  # no rule reads these messages
    assert all(r.passed for r in on), [(r.id, r.criteria) for r in on if not r.passed]
    assert spent is not None and spent["failed_calls"] == 0
    assert spent["calls_per_incident"]["max"] <= 3
    assert spent["tokens_per_incident"]["max"] <= 4000


async def test_with_the_llm_unreachable_the_public_scenarios_still_pass() -> None:
    results, spent = await asyncio.to_thread(run, PUBLIC_SAMPLE, "mistral", unreachable=True)
    assert all(r.passed for r in results), [r.id for r in results if not r.passed]
    assert spent is not None and not spent["reachable"]

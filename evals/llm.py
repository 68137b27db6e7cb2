"""The eval suite with the LLM on: ``model-incident eval --llm mistral|openai-compatible``.

The provider is the scripted model (``evals/llm-script.yaml``) served by ``localllm/`` on a local
port, in this process, while the scenario workers (forked processes) reach it over HTTP through
``LLM_BASE_URL``; both providers run unchanged against it. Every request carries its incident's
id, so the stand-in's log gives the calls, tokens and cost of each incident. With
``--llm-unreachable`` the base URL is a port where nothing listens: every call fails and the
suite must still pass through the deterministic fallback. ``evals/scenarios-llm/`` (free text no
rule reads decides them) joins the default sets when the LLM is on and reachable.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("llm-script.yaml")
LLM_SCENARIOS = Path(__file__).with_name("scenarios-llm")
MODES = ("off", "mistral", "openai-compatible")
KEY = "eval-stand-in-key"
# Assumed list prices in USD per million tokens (mistral-small-latest): input 0.10, output 0.30.
PRICE_IN_PER_M = 0.10
PRICE_OUT_PER_M = 0.30


@dataclass
class StandIn:
    """Where the LLM answers during the run, and every request it received."""

    url: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    reachable: bool = True


def scenario_dirs(
    llm: str, unreachable: bool, given: Sequence[Path], defaults: Sequence[Path]
) -> list[Path]:
    """The scenario sets to run: the given ones, else the defaults plus the LLM set when the
    LLM is on and reachable."""
    if given:
        return list(given)
    extra = [LLM_SCENARIOS] if llm != "off" and not unreachable else []
    return [*defaults, *extra]


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _serve_in_thread(script_path: Path) -> Iterator[StandIn]:
    import uvicorn

    from localllm.app import create_app
    from localllm.script import load_script
    from localllm.server import free_port

    script = load_script(script_path)
    script.api_key = KEY
    app = create_app(script)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield StandIn(url=f"http://127.0.0.1:{port}", calls=app.state.calls)
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@contextmanager
def llm_environment(llm: str, *, unreachable: bool = False) -> Iterator[StandIn | None]:
    """The LLM of an eval run: nothing when off, else the stand-in (or a dead port), with the
    settings every scenario worker reads (``LLM_BASE_URL`` and the keys)."""
    if llm == "off":
        yield None
        return
    if unreachable:
        from localllm.server import free_port

        dead = StandIn(url=f"http://127.0.0.1:{free_port()}", reachable=False)
        with _environment(_settings(dead.url)):
            yield dead
        return
    with _serve_in_thread(SCRIPT) as stand_in, _environment(_settings(stand_in.url)):
        yield stand_in


def _settings(url: str) -> dict[str, str]:
    return {"LLM_BASE_URL": url, "MISTRAL_API_KEY": KEY, "LLM_API_KEY": KEY}


def _stats(values: list[float], incidents: int, digits: int = 2) -> dict[str, float]:
    return {
        "mean": round(sum(values) / incidents, digits) if incidents else 0.0,
        "max": round(max(values), digits) if values else 0.0,
    }


def usage(stand_in: StandIn, incidents: int) -> dict[str, Any]:
    """Calls, tokens and cost per incident from the stand-in's log (means over every incident
    of the run, maxima over the incidents that called the LLM)."""
    per: dict[str, dict[str, float]] = {}
    for call in stand_in.calls:
        row = per.setdefault(str(call.get("incident")), {"calls": 0, "in": 0, "out": 0})
        row["calls"] += 1
        row["in"] += call.get("usage", {}).get("prompt_tokens", 0)
        row["out"] += call.get("usage", {}).get("completion_tokens", 0)
    cost = [(r["in"] * PRICE_IN_PER_M + r["out"] * PRICE_OUT_PER_M) / 1e6 for r in per.values()]
    return {
        "reachable": stand_in.reachable,
        "incidents": incidents,
        "calls": len(stand_in.calls),
        "failed_calls": sum(1 for c in stand_in.calls if c.get("status") != 200),
        "by_prompt": dict(Counter(str(c.get("prompt")) for c in stand_in.calls)),
        "calls_per_incident": _stats([r["calls"] for r in per.values()], incidents),
        "tokens_per_incident": _stats([r["in"] + r["out"] for r in per.values()], incidents),
        "cost_usd_per_incident": _stats(cost, incidents, digits=6),
        "price_usd_per_million_tokens": {"input": PRICE_IN_PER_M, "output": PRICE_OUT_PER_M},
    }


def print_usage(console: Any, report: dict[str, Any]) -> None:
    """One line per figure, next to the accuracy tables."""
    u = report["llm_usage"]
    console.print(
        f"LLM ({report['llm']}, {'scripted stand-in' if u['reachable'] else 'unreachable'}): "
        f"{u['calls']} calls ({u['failed_calls']} failed) over {u['incidents']} incidents; per "
        f"incident: calls mean {u['calls_per_incident']['mean']} max "
        f"{u['calls_per_incident']['max']}, tokens mean {u['tokens_per_incident']['mean']} max "
        f"{u['tokens_per_incident']['max']}, cost mean ${u['cost_usd_per_incident']['mean']:.6f} "
        f"max ${u['cost_usd_per_incident']['max']:.6f}; by prompt {u['by_prompt']}"
    )

"""The eval runner: load and validate every scenario first, then run them in a process pool.

Each worker runs scenarios one at a time, each with its own in-process sandbox and a fresh SQLite
store under a temp dir, so scenarios cannot see each other's state.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.metrics import aggregate, per_category, score
from evals.results import Observation, ScenarioResult
from evals.scenario import Scenario, ScenarioError, parse_scenario
from evals.worlds import build_world

PUBLIC_SCENARIOS = Path(__file__).with_name("scenarios")
# The second public set: worlds written field by field from the seed documents (no `faults:`),
# fresh names, values on both sides of every seed threshold. The gates hold on each set.
SEED_SCENARIOS = Path(__file__).with_name("scenarios-seed")
DEFAULT_SCENARIOS: tuple[Path, ...] = (PUBLIC_SCENARIOS, SEED_SCENARIOS)


@dataclass(frozen=True)
class LoadedScenario:
    path: Path
    scenario: Scenario


def scenario_files(dirs: Iterable[Path]) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` under the given directories (or the files themselves)."""
    files: list[Path] = []
    for d in dirs:
        if d.is_file():
            files.append(d)
        else:
            files += sorted(p for p in d.rglob("*") if p.suffix in (".yaml", ".yml"))
    return files


def load_all(
    dirs: Iterable[Path], category: str | None = None
) -> tuple[list[LoadedScenario], list[ScenarioError]]:
    """Parse every scenario and build its world; collect every error rather than stopping."""
    loaded: list[LoadedScenario] = []
    errors: list[ScenarioError] = []
    seen: dict[str, Path] = {}
    dirs = list(dirs)
    for d in dirs:
        if not d.exists():
            errors.append(ScenarioError(d, "(path)", "does not exist"))
    for path in scenario_files(d for d in dirs if d.exists()):
        try:
            scenario = parse_scenario(path)
            build_world(scenario, path)
            _check_trigger(scenario, path)
        except ScenarioError as exc:
            errors.append(exc)
            continue
        if scenario.id in seen:
            errors.append(ScenarioError(path, "id", f"duplicate of {seen[scenario.id]}"))
            continue
        seen[scenario.id] = path
        if category is None or scenario.category == category:
            loaded.append(LoadedScenario(path, scenario))
    return loaded, errors


def _check_trigger(scenario: Scenario, path: Path) -> None:
    from evals.drive import scenario_triggers

    try:
        triggers, skipped = scenario_triggers(scenario)
    except ValueError as exc:
        raise ScenarioError(path, "trigger", str(exc)) from None
    if not triggers and not skipped:
        raise ScenarioError(path, "trigger.alertmanager.alerts", "the delivery has no alert")


# Scenarios a worker runs at once. With scenario files in RAM a run is CPU-bound, so concurrency
# inside a worker only helps to overlap the waits of simulated outages (deadlines, sleeps).
PER_WORKER = 2


async def _run_and_score(path: str, llm: str) -> dict[str, Any]:
    from evals.drive import run_scenario

    scenario = parse_scenario(Path(path))
    world = build_world(scenario, path)
    obs: Observation = await run_scenario(scenario, world, llm=llm)
    return score(scenario, obs, path).model_dump(mode="json")


_LOOP: asyncio.AbstractEventLoop | None = None


def _worker_loop() -> asyncio.AbstractEventLoop:
    """One event loop per worker process, kept across batches. ``asyncio.run`` would wait at
    its end for every executor thread, including calls a tool already gave up on (an MLflow
    client retrying a dead registry keeps its thread for many seconds): the agent has moved on,
    so the runner must too."""
    global _LOOP
    if _LOOP is None:
        _LOOP = asyncio.new_event_loop()
        _LOOP.set_default_executor(ThreadPoolExecutor(max_workers=32))
    return _LOOP


def run_batch(paths: list[str], llm: str) -> list[dict[str, Any]]:
    """Worker entry point: run and score some scenario files concurrently, as JSON data."""

    async def batch() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(_run_and_score(p, llm) for p in paths)))

    return _worker_loop().run_until_complete(batch())


def run_all(
    scenarios: list[LoadedScenario],
    *,
    llm: str = "off",
    workers: int | None = None,
    on_done: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:
    """Run scenarios in a pool of ``workers`` processes (default: one per CPU)."""
    workers = max(1, workers or os.cpu_count() or 1)
    paths = [str(item.path) for item in scenarios]
    batches = [paths[i : i + PER_WORKER] for i in range(0, len(paths), PER_WORKER)]
    results: list[ScenarioResult] = []

    def collect(docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            result = ScenarioResult.model_validate(doc)
            results.append(result)
            if on_done:
                on_done(result)

    from evals.drive import preload

    # A registry outage points MLflow at a port where nothing listens: without retries the
    # refused connection is an immediate, load-independent error instead of minutes of back-off
    # cut short by whatever deadline the run uses.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    preload()  # before the pool: forked workers inherit the imports
    if workers == 1:
        for paths_ in batches:
            collect(run_batch(paths_, llm))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_batch, b, llm) for b in batches]
            for future in as_completed(futures):
                collect(future.result())
    order = {str(item.path): i for i, item in enumerate(scenarios)}
    return sorted(results, key=lambda r: order.get(r.path, 0))


def build_report(results: list[ScenarioResult], *, llm: str, seconds: float) -> dict[str, Any]:
    """The JSON report: metrics, per-category table and every scenario's result."""
    return {
        "llm": llm,
        "seconds": round(seconds, 2),
        "metrics": aggregate(results),
        "categories": per_category(results),
        "scenarios": [r.model_dump(mode="json") for r in results],
    }

"""Idle memory of the bot process: ``python -m bench.bench_memory``.

A child process imports what a running bot keeps loaded (agent, tools, store, runbooks, the
Alertmanager trigger), opens an agent on the default SQLite store with the runbooks, and idles;
the parent reads its RSS with psutil once it has settled. Two platforms are measured:
``remote`` (production: the adapters over HTTP) and ``sandbox`` (the default: the embedded local
platform, which adds FastAPI and the MLflow registry to the process).

Which imports dominate is reported twice: the child's RSS after each import stage, and
``python -X importtime`` self-times summed per top-level package.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil

TARGET_MB = 200.0
MB = 1024 * 1024
# Import stages in dependency order, so each stage's RSS growth is what it adds on top.
STAGES: list[tuple[str, list[str]]] = [
    ("pydantic + settings", ["pydantic", "pydantic_settings", "bot.settings"]),
    ("httpx", ["httpx"]),
    ("sqlalchemy + aiosqlite (store)", ["sqlalchemy", "aiosqlite", "bot.store.db"]),
    ("langgraph + checkpointers", ["langgraph.graph", "bot.store.checkpoint"]),
    ("mistralai (assistant, provider)", ["mistralai.client", "bot.llm.assistant"]),
    ("tools + platform", ["tools.platform", "tools.catalog"]),
    ("runbooks", ["bot.runbooks.loader"]),
    ("agent + incident service", ["bot.agent.graph", "bot.service.incidents", "bot.compose"]),
    ("alertmanager trigger", ["bot.triggers.alertmanager"]),
]
BOT_MODULES = [m for _, modules in STAGES for m in modules]


def rss_mb(pid: int | None = None) -> float:
    return psutil.Process(pid).memory_info().rss / MB


# --------------------------------------------------------------------------- the child (the bot)


async def _idle_bot(platform_kind: str, state_dir: Path, stages: list[dict[str, object]]) -> None:
    from bot.compose import open_app
    from bot.runbooks.loader import default_runbook_dir, load_runbooks
    from bot.settings import Settings

    settings = Settings(platform=platform_kind, state_dir=state_dir)
    runbooks = load_runbooks(default_runbook_dir())
    stages.append({"stage": "runbooks parsed", "rss_mb": round(rss_mb(), 1)})
    async with open_app(settings, runbooks=runbooks) as app:
        assert app.runbooks is runbooks
        stages.append({"stage": f"agent open ({platform_kind})", "rss_mb": round(rss_mb(), 1)})
        # The registry adapter imports MLflow on its first call; a bot that has handled one
        # incident has it loaded, so the idle figure includes it.
        from mlflow import MlflowClient

        del MlflowClient
        stages.append({"stage": "mlflow (first registry call)", "rss_mb": round(rss_mb(), 1)})
        print(json.dumps({"ready": True, "stages": stages}), flush=True)
        # Idle until the parent has read the RSS and ends this process.
        await asyncio.sleep(3600)


def child(platform_kind: str) -> None:
    """Stage the imports, open the agent, report, idle."""
    import importlib

    stages: list[dict[str, object]] = [{"stage": "interpreter", "rss_mb": round(rss_mb(), 1)}]
    for name, modules in STAGES:
        for module in modules:
            importlib.import_module(module)
        stages.append({"stage": name, "rss_mb": round(rss_mb(), 1)})
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        asyncio.run(_idle_bot(platform_kind, Path(tmp), stages))


# --------------------------------------------------------------------------- the parent


def measure(platform_kind: str, settle_s: float) -> dict[str, object]:
    """Start the bot in a child process, let it settle, read its RSS, end it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_memory", "--child", platform_kind],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"the bot process exited with {proc.wait()} before it was ready")
        ready = json.loads(line)
        time.sleep(settle_s)
        info = psutil.Process(proc.pid).memory_full_info()
        return {
            "platform": platform_kind,
            "rss_mb": round(info.rss / MB, 1),
            "uss_mb": round(info.uss / MB, 1),
            "stages": ready["stages"],
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def import_times(top: int) -> list[tuple[str, float]]:
    """``-X importtime`` self-time (ms) summed per top-level package for the bot's imports."""
    code = "; ".join(f"import {m}" for m in BOT_MODULES)
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    per_package: dict[str, float] = defaultdict(float)
    for match in re.finditer(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", out):
        per_package[match.group(2).split(".")[0]] += int(match.group(1)) / 1000
    ranked = sorted(per_package.items(), key=lambda kv: kv[1], reverse=True)
    return [(name, round(ms, 1)) for name, ms in ranked[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", choices=["remote", "sandbox"], help=argparse.SUPPRESS)
    parser.add_argument("--platform", choices=["remote", "sandbox", "both"], default="both")
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds before reading")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    kinds = ["remote", "sandbox"] if args.platform == "both" else [args.platform]
    runs = [measure(kind, args.settle) for kind in kinds]
    imports = import_times(top=12)
    row = {
        "bench": "idle_memory",
        "cpus": os.cpu_count(),
        "target_mb": TARGET_MB,
        "runs": runs,
        "within_target": all(float(r["rss_mb"]) <= TARGET_MB for r in runs),  # type: ignore[arg-type]
        "import_ms_by_package": imports,
    }
    if args.json:
        print(json.dumps(row))
        return
    for r in runs:
        verdict = "within" if float(r["rss_mb"]) <= TARGET_MB else "OVER"  # type: ignore[arg-type]
        print(
            f"platform={r['platform']}: idle RSS {r['rss_mb']} MB (USS {r['uss_mb']} MB); "
            f"{verdict} the {TARGET_MB:.0f} MB target"
        )
        previous = 0.0
        for stage in r["stages"]:  # type: ignore[attr-defined]
            rss = float(stage["rss_mb"])
            print(f"  {stage['stage']:34} {rss:7.1f} MB  (+{rss - previous:.1f})")
            previous = rss
    print("import self-time by package (python -X importtime, one cold-ish run):")
    for name, ms in imports:
        print(f"  {name:24} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
